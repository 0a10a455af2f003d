"""Shards of an export: the shot groups, which of them are finished, and the audio files of a shot.

Every exporter writes the shots of an annotate output (read through :func:`avshooter.io.dataset.iter_shots`,
lazily) in groups of ``shard_size`` shots, one file per group, each written to a temporary name and
renamed into place. ``DEST/export.json`` records, per shard, a key over the records it holds; a re-run
skips a shard whose file exists with the same key and redoes only the rest (a crashed export resumes; an
annotate output that grew or changed redoes only the shards that changed).
"""
from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterator
from itertools import islice
from pathlib import Path

from .. import __version__
from ..errors import InputError, OutputError
from ..io.dataset import iter_shots
from ..io.output import atomic_write_json, ensure_dir
from ..io.records import STEMS, ShotRecord

__all__ = ["AUDIO_NAMES", "DEFAULT_SHARD_SIZE", "audio_files", "record_key", "run_shards"]

AUDIO_NAMES = ("mix", *STEMS)
"""The audio of a shot, in the order exports write it: the mix, then the stems."""

DEFAULT_SHARD_SIZE = 200
STATE_FILE = "export.json"


def audio_files(record: ShotRecord, root: str | os.PathLike) -> dict[str, Path]:
    """``{name: absolute path}`` of the shot's mix and stems, each checked against the record.

    A file that is missing, or whose rate or length differs from the record (to the sample), is an
    :class:`InputError` naming it: an export never carries audio that disagrees with its labels.
    """
    import soundfile as sf

    out = {}
    for name in AUDIO_NAMES:
        rel = record.audio.get(name)
        if rel is None:
            continue
        path = Path(root) / rel
        try:
            info = sf.info(str(path))
        except (OSError, RuntimeError) as exc:
            raise InputError(f"{path}: {name} audio of shot {record.id} cannot be read ({exc})") from None
        if info.samplerate != record.sample_rate or info.frames != record.num_samples:
            raise InputError(f"{path}: {info.frames} samples at {info.samplerate} Hz, but shot {record.id} has "
                             f"{record.num_samples} at {record.sample_rate} Hz")
        out[name] = path
    if "mix" not in out:
        raise InputError(f"shot {record.id} has no mix audio")
    return out


def record_key(records: list[ShotRecord], *extra) -> str:
    """A short hash of the records (all their fields) and of ``extra`` (format options)."""
    h = hashlib.sha256(json.dumps([__version__, *extra], sort_keys=True, default=str).encode())
    for r in records:  # vars(), not to_dict(): the fields are JSON values already, and asdict deep-copies them
        h.update(json.dumps(vars(r), sort_keys=True, ensure_ascii=False, default=str).encode())
    return h.hexdigest()[:16]


def _groups(root, shard_size: int) -> Iterator[list[ShotRecord]]:
    shots = iter_shots(root)
    while True:
        group = list(islice(shots, shard_size))
        if not group:
            return
        yield group


def run_shards(root: str | os.PathLike, dest: str | os.PathLike, *, fmt: str, shard_size: int,
               shard_name: Callable[[int], str], write: Callable[[list[ShotRecord], Path], None],
               options: dict | None = None, progress: bool = True) -> dict:
    """Write every shard that is not finished; return the export summary (also saved as ``export.json``).

    Parameters
    ----------
    shard_name : shard index -> file name relative to ``dest`` (may hold a folder)
    write : ``write(records, tmp_path)`` writes one shard to ``tmp_path`` (renamed into place here)
    options : format options that change the files (part of each shard's key)
    """
    if not isinstance(shard_size, int) or isinstance(shard_size, bool) or shard_size < 1:
        raise InputError(f"shard size {shard_size!r} must be a whole number of shots >= 1")
    root, dest = Path(root), Path(dest)
    total = sum(1 for _ in iter_shots(root))  # cheap: story files only, no audio
    if total == 0:
        raise InputError(f"{root}: no annotated shots to export")
    ensure_dir(dest)
    state_path = dest / STATE_FILE
    state = _read_state(state_path, fmt)
    done = dict(state.get("shards", {}))
    summary_shards, written, skipped = {}, 0, 0
    from tqdm import tqdm

    with tqdm(total=total, unit="shot", desc=f"export {fmt}", disable=not progress) as bar:
        for i, records in enumerate(_groups(root, shard_size)):
            name = shard_name(i)
            key = record_key(records, fmt, options or {})
            entry = {"key": key, "shots": len(records), "first": records[0].id, "last": records[-1].id}
            target = dest / name
            if done.get(name, {}).get("key") == key and target.exists():
                skipped += 1
            else:
                ensure_dir(target.parent)
                tmp = target.with_name(f".{target.name}.tmp")
                try:
                    write(records, tmp)
                    os.replace(tmp, target)
                except OSError as exc:
                    raise OutputError(f"{target}: cannot write ({exc.strerror or exc})") from None
                finally:  # also what a killed run left of this shard (writers may add a suffix to tmp)
                    for leftover in target.parent.glob(f".{target.name}.tmp*"):
                        leftover.unlink(missing_ok=True)
                written += 1
                done[name] = entry
                atomic_write_json(state_path, {**state, "format": fmt, "complete": False, "shards": done})
            summary_shards[name] = entry
            bar.update(len(records))
    for stale in set(done) - set(summary_shards):  # shards of an earlier, larger export
        (dest / stale).unlink(missing_ok=True)
    summary = {"format": fmt, "avshooter": __version__, "source": str(root.resolve()), "shots": total,
               "shard_size": shard_size, "options": options or {}, "complete": True,
               "shards": summary_shards, "written": written, "skipped": skipped}
    atomic_write_json(state_path, summary)
    return summary


def _read_state(path: Path, fmt: str) -> dict:
    if not path.exists():
        return {}
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # unreadable: every shard is redone
    if not isinstance(state, dict):
        return {}
    if state.get("format") not in (None, fmt):
        raise OutputError(f"{path.parent}: holds a {state['format']!r} export; export {fmt!r} to another folder")
    return state
