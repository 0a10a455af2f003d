"""WebDataset export: tar shards of ``shard_size`` shots, one sample per shot.

Each sample holds ``<key>.mix.flac``, ``<key>.dialogue.flac``, ``<key>.music.flac``, ``<key>.effects.flac``
(the annotate files, byte for byte) and ``<key>.json`` (the full record: the manifest line plus the
shot's ``"avshooter"`` extension under ``"custom"``). The key is the shot id with dots replaced, since
WebDataset splits a member name at its first dot; the real id is in the JSON.

>>> import webdataset as wds
>>> for sample in wds.WebDataset("dest/shard-{000000..000003}.tar"):
...     sample["json"], sample["mix.flac"]
"""
from __future__ import annotations

import io
import json
import os
import tarfile
from pathlib import Path

from ..io.records import ShotRecord
from .shards import DEFAULT_SHARD_SIZE, audio_files, run_shards

__all__ = ["export_webdataset", "sample_key"]


def sample_key(record: ShotRecord) -> str:
    """The WebDataset key of a shot: its id (``video_id/NNNN``) with ``.`` made ``_``."""
    return record.id.replace(".", "_")


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o644, 0  # fixed metadata: equal inputs give equal shards
    tar.addfile(info, io.BytesIO(data))


def _write_shard(root: Path, records: list[ShotRecord], path: Path) -> None:
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        for record in records:
            key = sample_key(record)
            files = audio_files(record, root)
            meta = record.to_dict()
            meta["audio"] = {name: f"{key}.{name}{file.suffix.lower()}" for name, file in files.items()}  # members of this sample
            meta["source_audio"] = dict(record.audio)  # paths in the annotate output, relative to its root
            for name, file in files.items():
                _add(tar, f"{key}.{name}{file.suffix.lower()}", file.read_bytes())
            _add(tar, f"{key}.json", json.dumps(meta, ensure_ascii=False, allow_nan=False).encode("utf-8"))


def export_webdataset(root: str | os.PathLike, dest: str | os.PathLike, *, shard_size: int = DEFAULT_SHARD_SIZE,
                      progress: bool = True) -> dict:
    """Write ``dest/shard-NNNNNN.tar`` (``shard_size`` shots each) from the annotate output ``root``."""
    root = Path(root)
    summary = run_shards(root, dest, fmt="webdataset", shard_size=shard_size,
                         shard_name=lambda i: f"shard-{i:06d}.tar",
                         write=lambda records, tmp: _write_shard(root, records, tmp), progress=progress)
    n = len(summary["shards"])
    summary["pattern"] = f"shard-{{000000..{n - 1:06d}}}.tar"
    return summary
