"""Output files: atomic writes, audio files, and the resumable JSONL manifest.

Nothing is ever half-written: every file goes to a temporary name in its own folder and is renamed into
place. The manifest is appended one record at a time and skips ids it already holds, so a crashed run
resumes with nothing lost or duplicated (the lhotse ``SequentialJsonlWriter`` idea).
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Iterator

import numpy as np

from ..errors import OutputError

__all__ = ["atomic_write_bytes", "atomic_write_text", "atomic_write_json", "write_audio", "ManifestWriter", "read_manifest", "ensure_dir"]


def ensure_dir(path: str | os.PathLike) -> Path:
    """Create ``path`` (and parents) or raise :class:`OutputError` with the reason."""
    p = Path(path)
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{p}: cannot create output folder ({exc.strerror or exc})") from None
    if not os.access(p, os.W_OK):
        raise OutputError(f"{p}: output folder is not writable")
    return p


def _read_umask() -> int:
    mask = os.umask(0o022)  # the only way to read it; done once, at import, before any threads
    os.umask(mask)
    return mask


_UMASK = _read_umask()


def _atomic(path: Path, write, *, fsync: bool = True) -> None:
    path = Path(path)
    ensure_dir(path.parent)
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            if fsync:
                os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the file the mode open() would
        os.replace(tmp, path)
        tmp = None
    except OSError as exc:
        raise OutputError(f"{path}: cannot write ({exc.strerror or exc})") from None
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename."""
    _atomic(Path(path), lambda f: f.write(data))


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` as UTF-8 atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj) -> None:
    """Write ``obj`` as UTF-8 JSON (indent 2, non-ASCII kept) atomically."""
    text = json.dumps(obj, ensure_ascii=False, indent=2, allow_nan=False)
    atomic_write_bytes(path, (text + "\n").encode("utf-8"))


def write_audio(path: str | os.PathLike, wav: np.ndarray, sample_rate: int) -> None:
    """Write float32 ``(channels, samples)`` as FLAC (24-bit) or WAV (float) by the suffix, atomically."""
    import soundfile as sf

    path = Path(path)
    fmt = {".flac": ("FLAC", "PCM_24"), ".wav": ("WAV", "FLOAT")}.get(path.suffix.lower())
    if fmt is None:
        raise OutputError(f"{path}: audio must be written as .flac or .wav")
    data = np.clip(np.asarray(wav, dtype=np.float32).T, -1.0, 1.0) if fmt[0] == "FLAC" else np.asarray(wav).T
    # No fsync: the rename makes the file whole or absent after a killed process; the per-shot marker,
    # written (and synced) after the stems, is what says a shot is done.
    _atomic(path, lambda f: sf.write(f, data, sample_rate, format=fmt[0], subtype=fmt[1]), fsync=False)


class ManifestWriter:
    """Append-only JSONL writer that skips records whose ``id`` is already in the file.

    A torn last line (a crash in the middle of a write) is dropped when the writer opens the file.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        ensure_dir(self.path.parent)
        self.ids: set[str] = set()
        if self.path.exists():
            good = []
            with open(self.path, "rb") as f:
                for line in f:
                    try:
                        rec = json.loads(line)
                    except (json.JSONDecodeError, UnicodeDecodeError):
                        continue
                    if isinstance(rec, dict) and "id" in rec and rec["id"] not in self.ids:
                        self.ids.add(rec["id"])
                        good.append(line if line.endswith(b"\n") else line + b"\n")
            atomic_write_bytes(self.path, b"".join(good))

    def __contains__(self, record_id: str) -> bool:
        return record_id in self.ids

    def write(self, record: dict) -> bool:
        """Append ``record`` (must have an ``id``); return False if that id was already written."""
        rid = record["id"]
        if rid in self.ids:
            return False
        line = json.dumps(record, ensure_ascii=False, allow_nan=False) + "\n"
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())
        self.ids.add(rid)
        return True


def read_manifest(path: str | os.PathLike) -> Iterator[dict]:
    """Lazily yield the records of a JSONL manifest."""
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line:
                yield json.loads(line)
