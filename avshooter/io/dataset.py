"""The one reader of what ``avshooter annotate`` wrote; batch, retrieval, export and report use it.

An annotate output folder (the dataset root) holds ``manifest.jsonl`` (one line per shot, the order in
which videos finished) and, per video, ``<video_id>/story.json`` (the story in the paper's keys with an
``"avshooter"`` object per shot: the source of truth) and its audio files. Everything here is lazy: one
story file is read at a time.

>>> for shot in iter_shots("ds"):
...     wav_path = shot.audio_path("ds", "effects")
"""
from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

from ..errors import InputError
from .paths import check_folder_name
from .records import ShotRecord

__all__ = ["iter_shots", "read_story", "shot_records", "video_ids"]

MANIFEST = "manifest.jsonl"
STORY_FILE = "story.json"


def _root(root: str | os.PathLike) -> Path:
    path = Path(root)
    if not path.is_dir():
        raise InputError(f"{path}: annotate output folder not found (give the --out folder of 'avshooter annotate')")
    return path


def _check_id(root: Path, video_id: str, where: str) -> str:
    return check_folder_name(video_id, where=where, root=root)


def video_ids(root: str | os.PathLike) -> list[str]:
    """The finished videos under ``root``: in manifest order, then any other ``*/story.json``."""
    root = _root(root)
    ids: list[str] = []
    known: set[str] = set()
    manifest = root / MANIFEST
    if manifest.exists():
        from .output import read_manifest

        for n, record in enumerate(read_manifest(manifest), 1):
            vid = record.get("video_id") if isinstance(record, dict) else None
            if vid is None:
                raise InputError(f"{manifest}: record {n} is not a manifest record with 'video_id'")
            if vid not in known:
                known.add(_check_id(root, vid, f"{manifest}: record {n}"))
                ids.append(vid)
    ids += sorted(p.parent.name for p in root.glob(f"*/{STORY_FILE}") if p.parent.name not in known)
    return ids


def read_story(root: str | os.PathLike, video_id: str) -> dict:
    """The annotated story dict of ``video_id`` (``<root>/<video_id>/story.json``)."""
    root = _root(root)
    path = root / _check_id(root, video_id, str(root)) / STORY_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: not found (video {video_id!r} is not finished in {root})") from None
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot read the annotated story ({type(exc).__name__})") from None
    if not isinstance(data, dict) or not isinstance(data.get("shots"), list) or "avshooter" not in data:
        raise InputError(f"{path}: not an annotated story (no 'shots' list or 'avshooter' object)")
    return data


def shot_records(root: str | os.PathLike, video_id: str, *, story: dict | None = None) -> list[ShotRecord]:
    """The :class:`ShotRecord` of every shot of one finished video."""
    story = read_story(root, video_id) if story is None else story
    video = str(story["avshooter"].get("video", ""))
    out = []
    for i, shot in enumerate(story["shots"]):
        try:
            out.append(ShotRecord.from_story_shot(shot, video_id=video_id, video=video,
                                                  story_relpath=f"{video_id}/{STORY_FILE}"))
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"{Path(root) / video_id / STORY_FILE}: shots[{i}] is not an annotated shot "
                             f"({type(exc).__name__}: {exc})") from None
    return out


def iter_shots(root: str | os.PathLike, *, videos: list[str] | None = None) -> Iterator[ShotRecord]:
    """Lazily yield every annotated shot under ``root`` (or of ``videos`` only), video by video."""
    for vid in (video_ids(root) if videos is None else videos):
        yield from shot_records(root, vid)
