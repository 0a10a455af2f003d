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

from ..errors import OutputError, system_error
from .locks import exclusive

__all__ = ["atomic_write_bytes", "atomic_write_text", "atomic_write_json", "write_audio", "ManifestWriter", "read_manifest", "ensure_dir"]


def ensure_dir(path: str | os.PathLike) -> Path:
    """Create ``path`` (and parents) or raise :class:`OutputError` with the reason."""
    p = Path(path)
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{p}: cannot create output folder ({exc.strerror or exc})") from None
    if not os.access(p, os.W_OK, effective_ids=os.access in os.supports_effective_ids):
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
        raise OutputError(system_error(exc, doing=f"writing {path}")) from None
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


def write_audio(path: str | os.PathLike, wav: np.ndarray, sample_rate: int, *, on_clip: str = "error") -> int:
    """Write float32 ``(channels, samples)`` as FLAC (24-bit) or WAV (float) by the suffix, atomically.

    FLAC holds samples in [-1, 1] only. ``on_clip`` says what happens to samples beyond: ``"error"``
    (default) raises OutputError, ``"clip"`` clips them and returns how many there were, for the caller to
    record (a clipped stem no longer sums exactly to the mix). WAV is float and never clips.

    Returns
    -------
    int
        Samples clipped (always 0 for WAV and for ``"error"``).
    """
    import soundfile as sf

    path = Path(path)
    fmt = {".flac": ("FLAC", "PCM_24"), ".wav": ("WAV", "FLOAT")}.get(path.suffix.lower())
    if fmt is None:
        raise OutputError(f"{path}: audio must be written as .flac or .wav")
    if on_clip not in ("error", "clip"):
        raise OutputError(f"on_clip={on_clip!r} is not allowed ('error' or 'clip')")
    data = np.asarray(wav, dtype=np.float32).T
    if not np.isfinite(data).all():
        raise OutputError(f"{path}: audio holds NaN or infinite samples; not written")
    clipped = 0
    if fmt[0] == "FLAC":
        clipped = int(np.count_nonzero(np.abs(data) > 1.0))
        if clipped and on_clip == "error":
            raise OutputError(f"{path}: {clipped} samples beyond [-1, 1] (peak {float(np.abs(data).max()):.3f}); "
                              "FLAC cannot hold them (write .wav, lower the gain, or pass on_clip='clip')")
        if clipped:
            data = np.clip(data, -1.0, 1.0)
    # No fsync: the rename makes the file whole or absent after a killed process; the per-shot marker,
    # written (and synced) after the stems, is what says a shot is done.
    _atomic(path, lambda f: sf.write(f, data, sample_rate, format=fmt[0], subtype=fmt[1]), fsync=False)
    return clipped


class ManifestWriter:
    """Append-only JSONL writer that skips records whose ``id`` is already in the file.

    Safe for several processes on one file (two runs on one output folder, cluster workers on a shared
    file system): every write happens under an exclusive ``flock`` of ``<manifest>.lock`` (removed
    after), re-reads what others appended since, and skips ids already there, so no id is ever written
    twice. A torn last line (a writer killed mid-line) is dropped under the same lock.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        ensure_dir(self.path.parent)
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self.ids: set[str] = set()
        self._pos = 0  # bytes of the file already read (always at a line end)
        self._inode: int | None = None
        with exclusive(self.lock_path, remove=True):
            self._repair()

    def _repair(self) -> None:
        """Drop torn and duplicate lines (rewriting the file only when it has any)."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return
        good, self.ids = [], set()
        for line in raw.splitlines(keepends=True):
            rid = _record_id(line)
            if rid is not None and rid not in self.ids:
                self.ids.add(rid)
                good.append(line if line.endswith(b"\n") else line + b"\n")
        if b"".join(good) != raw:
            atomic_write_bytes(self.path, b"".join(good))
        st = self.path.stat()
        self._pos, self._inode = st.st_size, st.st_ino

    def _catch_up(self) -> None:
        """Read the lines others appended since we last looked (call under the lock)."""
        try:
            st = self.path.stat()
        except FileNotFoundError:
            self.ids, self._pos, self._inode = set(), 0, None
            return
        if st.st_ino != self._inode or st.st_size < self._pos:
            self.ids, self._pos, self._inode = set(), 0, st.st_ino
        if st.st_size == self._pos:
            return
        with open(self.path, "rb") as f:
            f.seek(self._pos)
            tail = f.read()
        for line in tail.splitlines(keepends=True):
            if not line.endswith(b"\n"):
                break  # a torn line: dropped by write()
            rid = _record_id(line)
            if rid is not None:
                self.ids.add(rid)
            self._pos += len(line)

    def __contains__(self, record_id: str) -> bool:
        return record_id in self.ids

    def refresh(self) -> set[str]:
        """Read what other processes appended since; return all ids in the file."""
        with exclusive(self.lock_path, remove=True):
            self._catch_up()
        return self.ids

    def write(self, record: dict) -> bool:
        """Append ``record`` (must have an ``id``); return False if that id was already written (by anyone)."""
        rid = record["id"]
        if rid in self.ids:
            return False
        line = (json.dumps(record, ensure_ascii=False, allow_nan=False) + "\n").encode("utf-8")
        try:
            with exclusive(self.lock_path, remove=True):
                self._catch_up()
                if rid in self.ids:
                    return False
                with open(self.path, "ab") as f:
                    if f.tell() > self._pos:  # a torn line of a killed writer
                        f.truncate(self._pos)
                    f.write(line)
                    f.flush()
                    os.fsync(f.fileno())
                    self._inode = os.fstat(f.fileno()).st_ino
                self._pos += len(line)
        except OSError as exc:
            raise OutputError(f"{self.path}: cannot append to the manifest ({exc.strerror or exc})") from None
        self.ids.add(rid)
        return True


def _record_id(line: bytes) -> str | None:
    try:
        rec = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    rid = rec.get("id") if isinstance(rec, dict) else None
    return rid if isinstance(rid, str) else None


def read_manifest(path: str | os.PathLike) -> Iterator[dict]:
    """Lazily yield the records of a JSONL manifest."""
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line:
                yield json.loads(line)
