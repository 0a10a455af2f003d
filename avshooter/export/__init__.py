"""Exports of an annotate output to the formats training code reads: one module per format.

``export(root, fmt, dest)`` reads the shots through :mod:`avshooter.io.dataset` (lazily) and writes
shards that a re-run skips when they are finished (:mod:`avshooter.export.shards`).

=============  =====================================================  =========================
format         writes                                                 read back with
=============  =====================================================  =========================
``hf``         ``data/train-NNNNN.parquet`` + dataset card            ``datasets.load_dataset``
``webdataset`` ``shard-NNNNNN.tar``: per shot ``.{stem}.flac`` +      ``webdataset.WebDataset``
               ``.json``
``lhotse``     ``cuts/recordings/supervisions.jsonl.gz``              ``lhotse.CutSet.from_file``
=============  =====================================================  =========================
"""
from __future__ import annotations

import importlib
import os

from ..errors import InputError

__all__ = ["FORMATS", "export"]

FORMATS = {
    "hf": "avshooter.export.huggingface:export_hf",
    "webdataset": "avshooter.export.webdataset:export_webdataset",
    "lhotse": "avshooter.export.lhotse:export_lhotse",
}


def export(root: str | os.PathLike, fmt: str, dest: str | os.PathLike, *, shard_size: int | None = None,
           progress: bool = True) -> dict:
    """Export the annotate output ``root`` as ``fmt`` into ``dest``; returns the summary (``dest/export.json``).

    Parameters
    ----------
    root : the ``--out`` folder of ``avshooter annotate``
    fmt : one of :data:`FORMATS` (``hf``, ``webdataset``, ``lhotse``)
    dest : output folder (created; a re-run skips finished shards)
    shard_size : shots per shard (default :data:`avshooter.export.shards.DEFAULT_SHARD_SIZE`)
    """
    if fmt not in FORMATS:
        raise InputError(f"unknown export format {fmt!r} (known: {', '.join(FORMATS)})")
    if os.path.realpath(dest) == os.path.realpath(root):
        raise InputError(f"{dest}: export into a folder other than the annotate output")
    module, func = FORMATS[fmt].split(":")
    kwargs = {"progress": progress}
    if shard_size is not None:
        kwargs["shard_size"] = shard_size
    return getattr(importlib.import_module(module), func)(root, dest, **kwargs)
