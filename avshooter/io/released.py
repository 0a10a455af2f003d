"""The layout AnimeShooter is released in: one JSON per video, read, planned into shots, written back.

A released file::

    {"video ID": str, "url": str, "fps": number,
     "segments": [{"start frame index": int, "end frame index": int,
                   "story script": {"storyline": ..., "main characters": [...], "main scenes": [...],
                                    "shots": [{"start time": "MM:SS", "end time": "MM:SS",
                                               "visual annotation": {"narrative caption": str,
                                                                     "descriptive caption": str}, ...}]}}]}

Decisions (documented in the README; every one is recorded in the output):

- **Time convention, per segment.** A segment's shot times may be relative to the segment's clip or
  absolute in the video. The frame range over ``fps`` gives the segment's span; the reading that puts
  every shot inside that span (1 s for the "MM:SS" resolution + one frame of tolerance) and inside the
  video wins. When both fit and the segment starts within that tolerance of 0 they agree ("both", read
  as relative). When both fit otherwise, the reading that puts more of the segment's two edges on a
  shot boundary wins (a tie is read as relative, with a warning). When neither fits: :class:`ShotError`. Recorded as the segment's ``"avshooter"`` object.
- **Rounding.** "MM:SS" strings are whole seconds. A shot that sticks out of its segment, or past the
  end of the video, by up to the tolerance is clamped to it; a zero-length "MM:SS" shot covers its
  second; neighbouring shots that overlap by up to 1 s, or (within one segment) leave a gap of up to
  1 s, meet at the midpoint. A longer overlap is a :class:`ShotError`; a longer gap is kept. Per shot
  ``avshooter.released`` keeps the original strings, the seconds they were read as, and every
  adjustment; ``avshooter.start_s/end_s`` are the exact seconds used.
- **Duplicates.** A shot listed in two segments (same absolute times and same visual annotation, e.g.
  overlapping segments) is annotated once, as its first listing among the annotated segments; every
  listing in the output carries the same "audio annotation" and audio paths, and later listings name
  the first one in ``avshooter.released.same_as``.
- **Shot ids.** A shot's index is its position in the file, counted over all segments in file order, so
  it does not change with ``--segments``.
- **Output.** ``<out>/<video_id>/released.json`` (:data:`RELEASED_FILE`): the input's layout with only
  the annotated segments, each shot with its "audio annotation" and "avshooter" object, each segment
  with its "avshooter" object, next to ``story.json`` (whose relative audio paths it shares).
"""
from __future__ import annotations

import copy
import functools
import hashlib
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError, StoryError
from .output import atomic_write_json
from .schema import validate_input
from .story import EXT

__all__ = ["RELEASED_FILE", "ReleasedVideo", "Segment", "is_released", "load_released", "save_released",
           "parse_segments", "released_key", "validate_released", "ROUNDING_S"]  # planning: avshooter.io.released_plan

RELEASED_FILE = "released.json"
ROUNDING_S = 1.0
"""Resolution of "MM:SS" times: the most a neighbouring pair may overlap, or a gap be closed."""


def _type_name(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number" if isinstance(value, (int, float)) else type(value).__name__)


def _need(data: dict, key: str, kind, what: str, where: str):
    if key not in data:
        raise StoryError(f"{where}: missing key {key!r}")
    value = data[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise StoryError(f"{where}.{key}: expected {what}, got {_type_name(value)}")
    return value


@dataclass
class Segment:
    """One story clip of a released file; ``data`` is the segment object as read (kept for writing back)."""

    index: int
    start_frame: int
    end_frame: int
    data: dict[str, Any]

    @property
    def script(self) -> dict[str, Any]:
        return self.data["story script"]

    @property
    def shots(self) -> list:
        return self.script["shots"]


@dataclass
class ReleasedVideo:
    """A released per-video file. ``data`` is the whole object as read; :meth:`to_dict` gives it back."""

    video_id: str
    fps: float
    url: str | None
    segments: list[Segment]
    data: dict[str, Any] = field(repr=False)
    source: str | None = field(default=None, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return copy.deepcopy(self.data)

    @classmethod
    def from_dict(cls, data: Any, *, source: str | None = None) -> ReleasedVideo:
        where = source or "released file"
        if not is_released(data):
            raise StoryError(f"{where}: not a released per-video file (needs 'video ID', 'fps' and 'segments')")
        video_id = _need(data, "video ID", str, "a string", where)
        if not video_id.strip():
            raise StoryError(f"{where}.video ID: must not be empty")
        fps = float(_need(data, "fps", (int, float), "a number", where))
        if not math.isfinite(fps) or fps <= 0:
            raise StoryError(f"{where}.fps: {data['fps']!r} must be a positive number of frames per second")
        url = data.get("url")
        if url is not None and not isinstance(url, str):
            raise StoryError(f"{where}.url: expected a string, got {_type_name(url)}")
        items = _need(data, "segments", list, "a list of segments", where)
        if not items:
            raise StoryError(f"{where}.segments: empty list (a released file needs at least one segment)")
        segments = []
        for k, item in enumerate(items):
            at = f"{where}: segments[{k}]"
            if not isinstance(item, dict):
                raise StoryError(f"{at}: expected an object, got {_type_name(item)}")
            first = _need(item, "start frame index", int, "an integer frame index", at)
            last = _need(item, "end frame index", int, "an integer frame index", at)
            if first < 0 or last <= first:
                raise StoryError(f"{at}: frame range {first}..{last} is empty or negative")
            script = _need(item, "story script", dict, "a story object", at)
            validate_input(_without_ext(script), source=f"{at}.story script")  # the story schema, our messages
            segments.append(Segment(k, first, last, item))
        return cls(video_id, fps, url, segments, data, source)


def _without_ext(script: dict) -> dict:
    """The story script without avshooter's objects (an earlier output read back as input)."""
    out = {k: v for k, v in script.items() if k != EXT}
    if isinstance(out.get("shots"), list):
        out["shots"] = [{k: v for k, v in s.items() if k != EXT} if isinstance(s, dict) else s for s in out["shots"]]
    return out


def is_released(data: Any) -> bool:
    """True for a released per-video object (``"segments"`` at the top, no top-level ``"shots"``)."""
    return isinstance(data, dict) and "segments" in data and "shots" not in data


def _read(source: str | os.PathLike | dict) -> tuple[Any, str | None]:
    if isinstance(source, dict):
        return source, None
    from .jsonfile import (
        read_json,  # the one JSON reader of our files: same messages everywhere
    )

    return read_json(source), os.fspath(source)


def load_released(source: str | os.PathLike | dict) -> ReleasedVideo:
    """Read and check a released per-video file (or its parsed object). Raises StoryError naming the key."""
    data, path = _read(source)
    return ReleasedVideo.from_dict(data, source=path)


def save_released(video: ReleasedVideo | dict, path: str | os.PathLike) -> Path:
    """Write a released file as UTF-8 JSON (indent 2, non-ASCII kept), atomically; ``load`` + ``save`` is exact."""
    data = video.to_dict() if isinstance(video, ReleasedVideo) else video
    atomic_write_json(path, data)
    return Path(path)


@functools.lru_cache(maxsize=1)
def _validator():
    from importlib import resources

    from jsonschema import Draft202012Validator

    text = resources.files(__package__).joinpath("schemas", "released.schema.json").read_text(encoding="utf-8")
    return Draft202012Validator(json.loads(text))


def validate_released(data: Any, *, source: str | None = None) -> None:
    """Check an annotated released file against ``schemas/released.schema.json``; StoryError names the path."""
    from jsonschema.exceptions import best_match

    error = best_match(_validator().iter_errors(data))
    if error is not None:
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path).lstrip(".")
        raise StoryError(f"{source or 'released file'}: {where or 'top level'}: {error.message[:200]}")


def released_key(story: str | os.PathLike | dict | None, segments: list[int] | None) -> str | None:
    """Content key of a released story source and a segment selection; None for any other story."""
    if story is None:
        return None
    data, _ = _read(story)
    if not is_released(data):
        return None
    blob = json.dumps([data, sorted(set(segments)) if segments else None], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def parse_segments(text: str) -> list[int]:
    """``"0,2"`` or ``"1-3,5"`` -> sorted unique segment indices. Raises InputError."""
    out: set[int] = set()
    for part in str(text).split(","):
        part = part.strip()
        try:
            if "-" in part:
                a, b = (int(x) for x in part.split("-", 1))
                if b < a:
                    raise ValueError
                out.update(range(a, b + 1))
            else:
                out.add(int(part))
        except ValueError:
            raise InputError(f"--segments {text!r}: use indices and ranges like '0,2' or '1-3' (from 0)") from None
    if not out or min(out) < 0:
        raise InputError(f"--segments {text!r}: use indices and ranges like '0,2' or '1-3' (from 0)")
    return sorted(out)
