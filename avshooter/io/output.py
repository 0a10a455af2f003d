"""Output files: atomic writes, audio files, and the resumable JSONL manifest.

Nothing is ever half-written: every file goes to a temporary name in its own folder and is renamed into
place. The manifest is appended one record at a time and skips ids it already holds, so a crashed run
resumes with nothing lost or duplicated (the lhotse ``SequentialJsonlWriter`` idea); a re-annotated
video's lines are replaced from its records, never left to drift.
"""
from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Iterator

import numpy as np

from ..errors import InputError, OutputError, system_error
from .locks import exclusive

log = logging.getLogger("avshooter")

__all__ = ["atomic_write_bytes", "atomic_write_text", "atomic_write_json", "write_audio", "ManifestWriter",
           "read_manifest", "ensure_dir", "staging_dir", "clean_stages"]


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


def staging_dir(folder: str | os.PathLike, prefix: str) -> Path:
    """A new hidden staging folder ``<prefix><pid>.<pid start>.<host>.<random>`` in ``folder``, after
    removing the stale ones a killed run left there (:func:`clean_stages`)."""
    from .locks import _pid_start

    folder = ensure_dir(folder)
    clean_stages(folder, prefix)
    pid = os.getpid()
    owner = f"{prefix}{pid}.{_pid_start(pid) or 0}.{_host_tag()}."
    return Path(tempfile.mkdtemp(prefix=owner, dir=folder))


def clean_stages(folder: str | os.PathLike, prefix: str, *, held: bool = False,
                 max_age_s: float = 24 * 3600.0) -> list[Path]:
    """Remove the staging folders ``<prefix>*`` in ``folder`` left by runs that are gone; return them.

    A folder made by :func:`staging_dir` on this host is stale when its process is gone; one of another
    host, or of an older name, when untouched for ``max_age_s`` or, with ``held=True`` (the caller holds the
    lock of ``folder``'s item, so no other locked run can be staging there), at once.
    """
    import shutil
    import time

    from .locks import _alive

    removed = []
    for stage in sorted(Path(folder).glob(prefix + "*")):
        if not stage.is_dir():
            continue
        parts = stage.name[len(prefix):].split(".")
        if len(parts) == 4 and parts[0].isdigit() and parts[2] == _host_tag():  # ours: its process tells
            stale = not _alive({"pid": int(parts[0]), "pid_start": None if parts[1] == "0" else parts[1]})
        else:
            try:
                stale = held or time.time() - stage.stat().st_mtime > max_age_s
            except OSError:
                continue
        if stale:
            shutil.rmtree(stage, ignore_errors=True)
            removed.append(stage)
            log.info("%s: removed the staging folder of a run that is gone", stage)
    return removed


def _host_tag() -> str:
    import hashlib
    import socket

    return hashlib.sha1(socket.gethostname().encode()).hexdigest()[:8]


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


# libFLAC preset 4 (soundfile's 0..1 scale times 8), not libsndfile's default 5: the same samples (lossless),
# files 0.6 % larger and ~15 % less CPU to encode (benchmarks/README.md, bench_annotate, "subnormals")
FLAC_COMPRESSION = 0.5


def write_audio(path: str | os.PathLike, wav: np.ndarray, sample_rate: int, *, on_clip: str = "error",
                fsync: bool = True) -> int:
    """Write float32 ``(channels, samples)`` as FLAC (24-bit) or WAV (float) by the suffix, atomically.

    FLAC holds samples in [-1, 1] only. ``on_clip`` says what happens to samples beyond: ``"error"``
    (default) raises OutputError, ``"clip"`` clips them and returns how many there were, for the caller to
    record (a clipped stem no longer sums exactly to the mix). WAV is float and never clips. The file is
    synced to disk before it is renamed into place (``fsync=True``), so a marker written after it never
    names audio a power cut lost.

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
    level = {"compression_level": FLAC_COMPRESSION} if fmt[0] == "FLAC" else {}
    _atomic(path, lambda f: sf.write(f, data, sample_rate, format=fmt[0], subtype=fmt[1], **level), fsync=fsync)
    return clipped


class ManifestWriter:
    """JSONL writer of the manifest: one line per record ``id``, never twice, rewritten from the records.

    Safe for several processes on one file (two runs on one output folder, cluster workers on a shared
    file system): every write happens under an exclusive ``flock`` of ``<manifest>.lock`` (removed
    after), re-reads what others appended since, and skips ids already there, so no id is ever written
    twice. A torn last line (a writer killed mid-line) is dropped under the same lock, never appended to.
    :meth:`write_video` makes the file hold exactly a video's current records (a re-annotated video's
    lines are REPLACED; an unchanged video rewrites nothing).
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        ensure_dir(self.path.parent)
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self.ids: set[str] = set()
        self._digest: dict[str, bytes] = {}  # id -> hash of its line (to tell a changed record)
        self._by_video: dict[str, set[str]] = {}  # video_id -> its ids
        self._pos = 0  # bytes of the file already read (always at a line end)
        self._inode: int | None = None
        with exclusive(self.lock_path, remove=True):
            self._repair()

    def _forget(self) -> None:
        self.ids, self._digest, self._by_video, self._pos, self._inode = set(), {}, {}, 0, None

    def _learn(self, line: bytes) -> str | None:
        rec = _record(line)
        rid = rec.get("id") if rec is not None else None
        if not isinstance(rid, str) or rid in self.ids:
            return None
        self.ids.add(rid)
        self._digest[rid] = _line_digest(line)
        self._by_video.setdefault(_video_of(rec), set()).add(rid)
        return rid

    def _repair(self) -> None:
        """Drop torn and duplicate lines (rewriting the file only when it has any)."""
        self._forget()
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return
        good = []
        for line in raw.splitlines(keepends=True):
            if self._learn(line) is not None:
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
            self._forget()
            return
        if st.st_ino != self._inode or st.st_size < self._pos:
            self._forget()
            self._inode = st.st_ino
        if st.st_size == self._pos:
            return
        with open(self.path, "rb") as f:
            f.seek(self._pos)
            tail = f.read()
        for line in tail.splitlines(keepends=True):
            if not line.endswith(b"\n"):
                break  # a torn line: dropped by the next write
            self._learn(line)
            self._pos += len(line)

    def __contains__(self, record_id: str) -> bool:
        return record_id in self.ids

    def refresh(self) -> set[str]:
        """Read what other processes appended since; return all ids in the file."""
        with exclusive(self.lock_path, remove=True):
            self._catch_up()
        return self.ids

    def _append(self, lines: list[bytes]) -> None:
        """Append ``lines`` after the last whole line (a torn tail is cut first); under the lock."""
        with open(self.path, "ab") as f:
            if f.tell() > self._pos:  # a torn line of a killed writer
                f.truncate(self._pos)
            f.write(b"".join(lines))
            f.flush()
            os.fsync(f.fileno())
            self._inode = os.fstat(f.fileno()).st_ino
        for line in lines:
            self._learn(line)
            self._pos += len(line)

    def write(self, record: dict) -> bool:
        """Append ``record`` (must have an ``id``); return False if that id was already written (by anyone)."""
        rid = record["id"]
        if rid in self.ids:
            return False
        line = _line(record)
        try:
            with exclusive(self.lock_path, remove=True):
                self._catch_up()
                if rid in self.ids:
                    return False
                self._append([line])
        except OSError as exc:
            raise OutputError(f"{self.path}: cannot append to the manifest ({exc.strerror or exc})") from None
        return True

    def write_video(self, video_id: str, records: list[dict]) -> bool:
        """Make the manifest hold exactly ``records`` for ``video_id`` (each with an ``id``).

        New ids are appended; when the video had lines that differ (a re-annotated video: other times,
        another annotation, other shots), the file is rewritten from them atomically with the video's old
        lines replaced. Returns False when the file already held exactly these lines (nothing written).
        """
        lines = [_line(r) for r in records]
        new = {r["id"]: _line_digest(line) for r, line in zip(records, lines)}
        try:
            with exclusive(self.lock_path, remove=True):
                self._catch_up()
                old = self._by_video.get(video_id, set())
                if old == set(new) and all(self._digest.get(rid) == d for rid, d in new.items()):
                    return False
                if not old and not (set(new) & self.ids):
                    self._append(lines)
                    return True
                self._rewrite(old | set(new), lines)
        except OSError as exc:
            raise OutputError(f"{self.path}: cannot write the manifest ({exc.strerror or exc})") from None
        return True

    def _rewrite(self, drop: set[str], lines: list[bytes]) -> None:
        """The file without the lines of ids in ``drop``, then ``lines``: written atomically; under the lock
        (after :meth:`_catch_up`, so every whole line of the file is known by its digest)."""
        gone = {self._digest[rid] for rid in drop if rid in self._digest}
        with open(self.path, "rb") as f:
            raw = f.read(self._pos)  # whole lines only: a torn tail is dropped
        kept = [line for line in raw.splitlines(keepends=True) if _line_digest(line) not in gone]
        atomic_write_bytes(self.path, b"".join(kept + lines))
        for rid in drop & self.ids:
            self.ids.discard(rid)
            del self._digest[rid]
        for video in {_video_of(_record(line) or {}) for line in lines} | set(self._by_video):
            ids = self._by_video.get(video)
            if ids is not None:
                ids -= drop
                if not ids:
                    del self._by_video[video]
        self._pos = sum(map(len, kept))
        for line in lines:
            self._learn(line)
            self._pos += len(line)
        st = self.path.stat()
        self._pos, self._inode = st.st_size, st.st_ino


def _line(record: dict) -> bytes:
    return (json.dumps(record, ensure_ascii=False, allow_nan=False) + "\n").encode("utf-8")


def _line_digest(line: bytes) -> bytes:
    import hashlib

    return hashlib.blake2b(line.rstrip(b"\n"), digest_size=16).digest()


def _video_of(record: dict) -> str:
    vid = record.get("video_id")
    return vid if isinstance(vid, str) else str(record.get("id", "")).rpartition("/")[0]


def _record(line: bytes) -> dict | None:
    try:
        rec = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    return rec if isinstance(rec, dict) else None


def read_manifest(path: str | os.PathLike) -> Iterator[dict]:
    """Lazily yield the records of a JSONL manifest.

    A torn last line (a writer killed mid-line: no newline, not JSON) is skipped with a warning; a bad
    line elsewhere raises :class:`~avshooter.errors.InputError` naming it.
    """
    with open(path, "rb") as f:
        for n, raw in enumerate(f, 1):
            if not raw.strip():
                continue
            try:
                yield json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError):
                if not raw.endswith(b"\n"):
                    log.warning("%s: line %d is torn (a writer was killed mid-line); skipped", path, n)
                    return
                raise InputError(f"{path}: line {n} is not JSON") from None
