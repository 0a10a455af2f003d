"""Locks between runs that share an output folder: a per-video lock file and a short exclusive section.

Two ``annotate`` runs may write the same folder (a re-run started twice, workers on a cluster sharing a
file system). :class:`VideoLock` is a file ``OUT/.locks/<video_id>.lock`` holding who works on the video::

    {"pid": 4242, "host": "node-3", "pid_start": "123456", "time": 1764500000.0, "started": ..., "token": "..."}

A lock is taken over when it is stale: its process is gone (same host: no such pid, or the pid now
belongs to a process that started later), or it was not refreshed for ``max_age_s`` (any host; the
holder refreshes it every ``heartbeat_s`` from a background thread). Reading and replacing the file
happens inside :func:`exclusive` (``fcntl.flock`` on the lock file itself), so two runs cannot both take the
same stale lock. A released lock file is removed (with ``OUT/.locks`` once empty): nothing stays behind.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from ..errors import OutputError

log = logging.getLogger("avshooter")

__all__ = ["exclusive", "VideoLock", "LockLost", "LOCK_DIR", "DEFAULT_MAX_AGE_S"]

LOCK_DIR = ".locks"
DEFAULT_MAX_AGE_S = 3600.0
_warned = False


class LockLost(OutputError):
    """Our lock was taken over (we were thought dead or stuck): stop before writing anything more."""


@contextlib.contextmanager
def exclusive(path: str | os.PathLike, *, remove: bool = False) -> Iterator[int]:
    """Open (create) ``path`` and hold an exclusive ``flock`` on it; yield the file descriptor.

    The file may be unlinked inside the block (``remove=True`` does it on exit): whoever waited on the
    unlinked file sees that the path no longer names the file it locked and starts again. Where the file
    system has no locks (``ENOLCK``), a warning is logged once and the section runs unguarded.
    """
    global _warned
    path = Path(path)
    for _ in range(1000):
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        except FileNotFoundError:  # the folder was removed between mkdir and open
            continue
        try:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_EX)
        except (ImportError, OSError) as exc:
            if not _warned:
                log.warning("%s: file locks are not available here (%s); concurrent runs are not guarded", path, exc)
                _warned = True
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)  # we waited on a file its holder has since removed: lock the current one
    else:
        raise OSError(f"{path}: the lock file keeps changing")
    try:
        yield fd
    finally:
        if remove:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        os.close(fd)  # closing releases the flock


def _read_fd(fd: int) -> dict | None:
    os.lseek(fd, 0, os.SEEK_SET)
    chunks = []
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    try:
        data = json.loads(b"".join(chunks) or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None  # a holder killed while writing: nobody holds it
    return data if isinstance(data, dict) else None


def _write_fd(fd: int, data: dict | None) -> None:
    blob = b"" if data is None else (json.dumps(data) + "\n").encode()
    os.ftruncate(fd, 0)
    if blob:
        os.pwrite(fd, blob, 0)
    os.fsync(fd)


def _pid_start(pid: int) -> str | None:
    """Start time of ``pid`` in clock ticks since boot (Linux ``/proc``); None where unknown."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read().decode(errors="replace")
        return stat.rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _alive(holder: dict) -> bool:
    """Whether the holder's process still runs (only knowable on this host)."""
    pid = holder.get("pid")
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's process: it exists
    started = holder.get("pid_start")
    return started is None or _pid_start(pid) in (None, started)


class VideoLock:
    """The lock of one video in an output folder. Use :meth:`acquire` / :meth:`release`, or ``with``.

    Parameters
    ----------
    out_dir : path
        The output folder (the lock file is ``out_dir/.locks/<video_id>.lock``).
    video_id : str
    max_age_s : float
        A lock not refreshed for this long is stale, whoever holds it.
    heartbeat_s : float, optional
        How often the holder refreshes its lock (default ``min(60, max_age_s / 4)``).
    """

    def __init__(self, out_dir: str | os.PathLike, video_id: str, *, max_age_s: float = DEFAULT_MAX_AGE_S,
                 heartbeat_s: float | None = None):
        if not max_age_s > 0:
            raise ValueError(f"max_age_s must be > 0, got {max_age_s!r}")
        self.path = Path(out_dir) / LOCK_DIR / f"{video_id}.lock"
        self.max_age_s = float(max_age_s)
        self.heartbeat_s = heartbeat_s if heartbeat_s is not None else min(60.0, self.max_age_s / 4)
        self.token: str | None = None
        self.holder: dict | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.lost: str | None = None  # why the lock is no longer ours (seen by the heartbeat or check())

    def _stale(self, holder: dict) -> str | None:
        """Why ``holder`` no longer holds the lock, or None while it does."""
        age = time.time() - float(holder.get("time", 0) or 0)
        if age > self.max_age_s:
            return f"not refreshed for {age:.0f} s (> {self.max_age_s:.0f} s)"
        if holder.get("host") == socket.gethostname() and not _alive(holder):
            return f"pid {holder.get('pid')} is gone"
        return None

    def acquire(self) -> bool:
        """Take the lock (taking over a stale one); False when another live run holds it (see :attr:`holder`)."""
        with exclusive(self.path) as fd:
            holder = _read_fd(fd)
            if holder:
                why = self._stale(holder)
                if why is None:
                    self.holder = holder
                    return False
                log.warning("%s: taking over a stale lock of pid %s on %s (%s)", self.path, holder.get("pid"),
                            holder.get("host"), why)
            now = time.time()
            self.token = uuid.uuid4().hex
            pid = os.getpid()
            _write_fd(fd, {"pid": pid, "host": socket.gethostname(), "pid_start": _pid_start(pid),
                           "time": now, "started": now, "token": self.token})
        self.holder = None
        self.lost = None
        self._stop.clear()
        self._thread = threading.Thread(target=self._beat, name=f"lock-{self.path.stem}", daemon=True)
        self._thread.start()
        return True

    def _beat(self) -> None:
        while not self._stop.wait(self.heartbeat_s):
            try:
                with exclusive(self.path) as fd:
                    data = _read_fd(fd)
                    if not data or data.get("token") != self.token:
                        self.lost = f"taken over by pid {(data or {}).get('pid')} on {(data or {}).get('host')}"
                        log.warning("%s: our lock was %s", self.path, self.lost)
                        if not data:
                            os.unlink(self.path)  # we just created it by opening: leave nothing
                        return
                    data["time"] = time.time()
                    _write_fd(fd, data)
            except OSError as exc:
                log.warning("%s: cannot refresh the lock (%s)", self.path, exc)

    def check(self) -> None:
        """Raise :class:`LockLost` unless the lock file still holds our token (call before each commit)."""
        if self.token is None:
            raise LockLost(f"{self.path}: the lock is not held")
        if self.lost is None:
            try:
                with exclusive(self.path) as fd:
                    data = _read_fd(fd)
                    if not data:
                        os.unlink(self.path)  # we just created it by opening: leave nothing
                    if not data or data.get("token") != self.token:
                        self.lost = f"taken over by pid {(data or {}).get('pid')} on {(data or {}).get('host')}"
            except OSError as exc:
                raise LockLost(f"{self.path}: cannot check the lock ({exc})") from exc
        if self.lost is not None:
            raise LockLost(f"{self.path}: our lock was {self.lost}; stopped without writing more "
                           "(the other run finishes the video)")

    def release(self) -> None:
        """Free the lock if we still hold it (its file is removed, and ``.locks`` when empty)."""
        if self.token is None:
            return
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        try:
            with exclusive(self.path) as fd:
                data = _read_fd(fd)
                if not data or data.get("token") == self.token:
                    os.unlink(self.path)
        except OSError as exc:
            log.warning("%s: cannot release the lock (%s)", self.path, exc)
        self.token = None
        with contextlib.suppress(OSError):
            self.path.parent.rmdir()  # only when no other lock is in it

    def describe(self) -> str:
        """``"locked by pid N on HOST since HH:MM:SS"`` for the current holder."""
        h = self.holder or {}
        since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(h.get("started", 0) or 0)))
        return f"locked by pid {h.get('pid')} on {h.get('host')} since {since}"

    def __enter__(self) -> VideoLock:
        """Acquire (unless already held): raise :class:`~avshooter.errors.OutputError` naming the holder when
        another live run holds the lock."""
        if self.token is None and not self.acquire():
            raise OutputError(f"{self.path.stem}: {self.describe()}")
        return self

    def __exit__(self, *exc) -> None:
        self.release()
