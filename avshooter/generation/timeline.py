"""Where each shot's picture is and where it sits on the soundtrack: the shot videos, the timeline, the fingerprint.

Shared by the generate pipeline, the prompt writer (which checks videos against a story) and the batch
(which skips a story whose inputs did not change); it imports none of them.

- :func:`shot_video_files`: the videos of a folder in shot order (names sorted with numbers as numbers:
  ``shot_2`` before ``shot_10``);
- :func:`resolve_shot_videos`: each shot's video, span in it and place on the output timeline;
- :func:`timeline`: each shot's ``(first, stop)`` sample on the output timeline;
- :func:`input_fingerprint`: the hash of what a story's outputs are made from.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

from ..errors import InputError, ShotError, StoryError
from ..units import to_samples

__all__ = ["GENERATE_RULES", "TIME_TOLERANCE_S", "VIDEO_SUFFIXES", "input_fingerprint", "natural_key",
           "resolve_shot_videos", "shot_video_files", "timeline"]

VIDEO_SUFFIXES = (".mp4", ".mkv", ".webm", ".mov", ".avi", ".m4v")
TIME_TOLERANCE_S = 1.0
"""How far a shot's length in the story may be from its video's (the paper's "MM:SS" has 1 s steps)."""
GENERATE_RULES = "avshooter.generate/2"
"""Version of the rules that turn the same inputs and config into other audio (2: natural order of shot
videos, seeds from ``--seed`` and stable keys). Part of :func:`input_fingerprint`, so a batch re-run after
a rule change redoes its stories instead of skipping them as finished."""


def natural_key(name: str) -> tuple:
    """Sort key of a file name with its numbers as numbers: ``shot_2.mp4`` < ``shot_10.mp4``.

    Text parts compare case-folded, number parts as integers; ties (``shot_01`` vs ``shot_1``) fall back
    to the name itself, so the order is total and does not depend on the file system.
    """
    parts = re.split(r"(\d+)", name)
    return tuple(int(p) if i % 2 else p.casefold() for i, p in enumerate(parts)), name


def shot_video_files(folder: str | os.PathLike) -> list[Path]:
    """The video files of ``folder`` (:data:`VIDEO_SUFFIXES`) in shot order (:func:`natural_key` of their names)."""
    path = Path(folder)
    return sorted((p for p in path.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file()),
                  key=lambda p: natural_key(p.name))


def resolve_shot_videos(videos: str | os.PathLike, story) -> list[dict]:
    """Where each shot's picture is and where it sits on the output timeline.

    Returns ``[{"video", "start_s", "end_s", "duration_s", "at_s", "whole_file", "info"}]``: the shot is
    ``[start_s, end_s)`` of ``video`` and starts at ``at_s`` on the output timeline.

    ``videos`` is a folder with one video per shot (in :func:`shot_video_files` order = shot order;
    durations from the videos, laid end to end; a shot with times in the story must last as long as its
    video within :data:`TIME_TOLERANCE_S` plus a frame), or one video that the story's shot times cut (the
    output timeline is the video's own).
    """
    from ..media.mux import probe_videos

    path = Path(videos)
    if path.is_dir():
        files = shot_video_files(path)
        if len(files) != len(story.shots):
            raise InputError(
                f"{path}: the story has {len(story.shots)} shots but the folder holds {len(files)} videos "
                f"({', '.join(VIDEO_SUFFIXES)}); give one video per shot, named in shot order (shot_1, shot_2, ...)"
            )
        infos = probe_videos(files)
        out, at = [], 0.0
        for shot, info in zip(story.shots, infos):
            if info.video_duration_s <= 0:
                raise ShotError(f"{info.path}: video of shots[{shot.index}] has zero length")
            if shot.timed and abs(shot.duration_s - info.video_duration_s) > TIME_TOLERANCE_S + info.frame_s:
                raise ShotError(
                    f"shots[{shot.index}]: the story gives {shot.duration_s:.3f} s ({shot.start_s:.3f}-"
                    f"{shot.end_s:.3f} s) but its video {Path(info.path).name} lasts {info.video_duration_s:.3f} s "
                    f"(more than {TIME_TOLERANCE_S:g} s apart); fix the times or leave them out")
            out.append({"video": info.path, "start_s": 0.0, "end_s": info.video_duration_s, "at_s": at,
                        "duration_s": info.video_duration_s, "whole_file": True, "info": info})
            at += info.video_duration_s
        return out
    info = probe_videos([path])[0]
    untimed = [shot.index for shot in story.shots if not shot.timed]
    if untimed:
        raise StoryError(f"{path} is one video: every shot needs \"start time\"/\"end time\" to cut it "
                         f"(shots {', '.join(map(str, untimed[:5]))}{'...' if len(untimed) > 5 else ''} have none); "
                         "or give a folder of one video per shot")
    out = []
    for shot in story.shots:
        if shot.end_s > info.video_duration_s + info.frame_s / 2:
            raise ShotError(f"{path}: shots[{shot.index}] ends at {shot.end_s:.3f} s but the video lasts "
                            f"{info.video_duration_s:.3f} s")
        if shot.end_s - shot.start_s <= 0:
            raise ShotError(f"shots[{shot.index}] has zero length")
        end = min(shot.end_s, info.video_duration_s)
        out.append({"video": info.path, "start_s": shot.start_s, "end_s": end, "at_s": shot.start_s,
                    "duration_s": end - shot.start_s, "whole_file": False, "info": info})
    return out


def timeline(shots: list[dict], sample_rate: int) -> tuple[list[tuple[int, int]], int]:
    """``(spans, total)``: each shot's ``(first, stop)`` sample on the output timeline, and its length.

    Shot videos: end to end from 0, total = their sum. One video: each shot at its own times (gaps stay
    gaps), total = the video's length, so the soundtrack sits on the video's own timeline.
    """
    from ..audio.fit import shot_sample_spans

    if all(s["whole_file"] for s in shots):
        spans = shot_sample_spans([s["duration_s"] for s in shots], sample_rate)
        return spans, spans[-1][1]
    spans = shot_sample_spans([(s["start_s"], s["end_s"]) for s in shots], sample_rate)
    return spans, max(spans[-1][1], to_samples(shots[0]["info"].video_duration_s, sample_rate))


def input_fingerprint(story, videos, prompts=None) -> str:
    """SHA-256 (16 hex digits) of what a story's outputs are made from: the story, the video files (names
    and bytes, in shot order), the edited prompts, if any, and :data:`GENERATE_RULES`. A re-run with the
    same one (and the same config hash) can be skipped.
    """
    import hashlib

    digest = hashlib.sha256(GENERATE_RULES.encode() + b"\0")

    def add_file(path: Path) -> None:
        try:
            with open(path, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    digest.update(block)
        except OSError as exc:
            raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None

    for part in (story, prompts):
        if isinstance(part, dict):
            digest.update(json.dumps(part, sort_keys=True).encode())
        elif part is not None:
            add_file(Path(part))
        digest.update(b"\0")
    path = Path(videos)
    for file in shot_video_files(path) if path.is_dir() else [path]:
        digest.update(file.name.encode() + b"\0")
        add_file(file)
    return digest.hexdigest()[:16]
