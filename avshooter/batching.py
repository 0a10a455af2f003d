"""What the two batches (``annotate --manifest``, ``generate --manifest``) share: the list reader, the id
rule, one item's run under its lock, and the summary.

Only the item type, the per-item work and the order of steps stay in
:mod:`avshooter.annotation.batch` and :mod:`avshooter.generation.batch`.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .errors import AvshooterError, InputError, format_chain, system_error
from .io.locks import DEFAULT_MAX_AGE_S, VideoLock
from .io.paths import check_folder_name

log = logging.getLogger("avshooter")

__all__ = ["Summary", "read_list", "unique_id", "run_locked", "dead_worker"]


@dataclass
class Summary:
    """What a batch did: ids done, skipped (already finished), failed, locked by a live run, missing."""

    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    locked: list[tuple[str, str]] = field(default_factory=list)
    """Items another live run was working on: ``(id, "locked by pid N on HOST since ...")``."""
    missing: list[tuple[str, str]] = field(default_factory=list)
    """``annotate --dataset``: annotation files whose video was not found: ``(video ID, reason)``."""
    shots: int | None = None
    """``annotate``: lines in the manifest at the end (None: the batch writes no manifest)."""

    def record(self, item_id: str, status: str, reason: str | None = None) -> None:
        """Count one result (``status``: ``done``, ``skipped``, ``failed`` or ``locked``)."""
        if status == "failed":
            self.failed.append((item_id, reason or "unknown"))
            log.info("%s failed: %s", item_id, reason)  # the CLI prints failures once, in its summary
        elif status == "locked":
            self.locked.append((item_id, reason or "locked"))
        else:
            (self.done if status == "done" else self.skipped).append(item_id)

    def lines(self) -> list[str]:
        extra = "".join(f", {what} {len(items)}" for what, items in
                        (("skipped (locked by another run)", self.locked), ("missing videos", self.missing)) if items)
        shots = f"; {self.shots} shots in the manifest" if self.shots is not None else ""
        out = [f"done {len(self.done)}, skipped (already finished) {len(self.skipped)}, "
               f"failed {len(self.failed)}{extra}{shots}"]
        out += [f"skipped {item}: {reason}" for item, reason in self.locked]
        out += [f"MISSING {item}: {reason}" for item, reason in self.missing]
        out += [f"FAILED {item}: {reason}" for item, reason in self.failed]
        return out


def read_list(path: str | os.PathLike, parse: Callable[[dict | list[str], Path, str], object], *,
              what: str) -> list:
    """The items of a batch manifest: ``parse(fields, base, where)`` for every line that is not blank or a
    ``#`` comment, where ``fields`` is the parsed JSON object of a line starting with ``{``, else the
    tab-separated fields; ``base`` is the manifest's folder (relative paths are relative to it).
    Raises InputError (the file cannot be read, a line is bad, or nothing is listed: ``what``)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{p}: manifest not found") from None
    except UnicodeDecodeError:
        raise InputError(f"{p}: manifest is not UTF-8 text") from None
    except OSError as exc:
        raise InputError(f"{p}: cannot read the manifest ({exc.strerror or exc})") from None
    items = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        where = f"{p}:{number}"
        if line.startswith("{"):
            try:
                fields = json.loads(line)
            except json.JSONDecodeError:
                fields = None
            if not isinstance(fields, dict):
                raise InputError(f"{where}: not a JSON object")
        else:
            fields = line.split("\t")
        items.append(parse(fields, p.parent, where))
    if not items:
        raise InputError(f"{p}: manifest lists no {what}")
    return items


def unique_id(given: str | None, default: str, source: str, seen: set[str], *, where: str = "manifest") -> str:
    """The folder name of one item: ``given`` (checked: one folder inside OUT, never a path out of it) or
    ``default``, with a hash of ``source``'s path appended when an earlier item took it. Adds it to ``seen``."""
    name = check_folder_name(given if given is not None else default, where=where)
    if name in seen:
        name = f"{name}-{hashlib.sha1(os.path.abspath(source).encode()).hexdigest()[:6]}"
    seen.add(name)
    return name


def run_locked(item_id: str, out_dir: str, work: Callable[[VideoLock], str | None], *, debug: bool,
               lock_max_age_s: float = DEFAULT_MAX_AGE_S) -> tuple[str, str, str | None]:
    """Run ``work(lock)`` for one item under ``OUT/.locks/<item_id>.lock``; never raises.

    ``work`` returns ``"done"`` or ``"skipped"`` (found finished once the lock was ours). Returns
    ``(item_id, status, reason)``: ``locked`` when a live run holds the lock, ``failed`` with one line.
    """
    try:
        lock = VideoLock(out_dir, item_id, max_age_s=lock_max_age_s)
        try:
            acquired = lock.acquire()
        except OSError as exc:
            return item_id, "failed", f"{out_dir}: cannot lock {item_id} ({system_error(exc)})"
        if not acquired:
            return item_id, "locked", lock.describe()
        with lock:
            status = work(lock) or "done"
        return item_id, status, None
    except OSError as exc:  # the system's fault (disk full, ...): told as such
        return item_id, "failed", system_error(exc)
    except AvshooterError as exc:  # one line; with --debug the chain that led to it (errors.format_chain)
        return item_id, "failed", str(exc) + ("\n" + format_chain(exc) if debug else "")
    except Exception as exc:  # a bug, not bad input: keep the batch going, say what happened
        reason = f"internal error {type(exc).__name__}: {exc}"
        if debug:
            reason += "\n" + format_chain(exc)
        return item_id, "failed", reason


def dead_worker(item_id: str) -> tuple[str, str, str]:
    """The result of an item whose worker process died under it (killed, out of memory)."""
    return item_id, "failed", ("its worker process died (killed, or out of memory?); the other items went on, "
                               "and this one is retried on the next run")
