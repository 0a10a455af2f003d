"""Hugging Face ``datasets`` export: Parquet shards with an ``Audio`` feature per stem.

``DEST/data/train-NNNNN.parquet`` (``shard_size`` shots each) plus a dataset card ``DEST/README.md``.
Columns: the shot's identity and exact timing (``id``, ``video_id``, ``shot``, ``start_s`` ...
``num_samples``), one ``Audio`` column per file (``mix``, ``dialogue``, ``music``, ``effects``: the FLAC
bytes, embedded unchanged, at the annotate sample rate), the paper's fields under the paper's names
(``type``, ``sound description``, ``visual context``, ``plot``, ``caption``, ``main characters``,
``scene``), and the ``avshooter`` extension as one nested column (speech ranges, transcript, words,
measured features per stem, type scores, tags, timed labels, visual-context match, flags). Parts of the
extension without a fixed shape are JSON strings: ``provenance`` (backend parameters differ per
backend) and ``extra`` (keys this version does not know, so nothing is lost).

>>> from datasets import load_dataset
>>> ds = load_dataset("parquet", data_dir="dest/data", split="train")   # or load_dataset("dest")

The ``Audio`` columns decode through ``torchcodec`` in ``datasets`` >= 4; without it, read the bytes with
``ds.cast_column("mix", Audio(decode=False))`` and ``soundfile``.
"""
from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

from ..audio.features import Features
from ..errors import BackendError
from ..io.output import atomic_write_text
from ..io.records import ShotRecord
from .shards import AUDIO_NAMES, DEFAULT_SHARD_SIZE, audio_files, run_shards

__all__ = ["EXTENSION", "export_hf", "features"]

_FEATURE_NAMES = tuple(f.name for f in dataclasses.fields(Features))  # the measured features, one column each
# The shape of the "avshooter" column: dict = struct, [x] = list of x, a type = a value (None allowed).
_SPAN = {"start_s": float, "end_s": float}
_LABEL = {"stem": str, "label": str, "layer": str, "start_s": float, "end_s": float, "score": float}
_TAG = {"label": str, "score": float, "layer": str}
EXTENSION = {
    "channels": int,
    "speech": [_SPAN],
    "speech_fraction": float,
    "transcript": str,
    "language": str,
    "language_prob": float,
    "words": [{"word": str, "start_s": float, "end_s": float, "probability": float}],
    "speakers": [str],
    "features": {name: {f: float for f in _FEATURE_NAMES} for name in AUDIO_NAMES},
    "type_scores": [{"label": str, "score": float}],  # a list: the label set depends on the tagger
    "tags": [_TAG],
    "labels": [_LABEL],  # labels with times, video seconds: the tagger's per-stem "labels" and any "events"
    "layers": [{"type": str, "score": float, "spans": [[float]], "labels": [str]}],
    "stems": {name: {"energy_share": float, "description": str, "tags": [_TAG]} for name in AUDIO_NAMES[1:]},
    "visual_context": {"backend": str, "on_screen": bool, "matched_clause": str, "score": float, "characters": [str]},
    "flags": [str],
    "clipped_samples": "json",  # an object whose keys are stem names (empty when nothing clipped)
    "provenance": "json",
    "extra": "json",
}


def _feature(spec):
    from datasets import List, Value

    if isinstance(spec, dict):
        return {k: _feature(v) for k, v in spec.items()}
    if isinstance(spec, list):
        return List(_feature(spec[0]))
    return Value({float: "float64", int: "int64", str: "string", bool: "bool", "json": "string"}[spec])


def features():
    """The ``datasets.Features`` of the export."""
    from datasets import Audio, Features, List, Value

    cols = {"id": Value("string"), "video_id": Value("string"), "shot": Value("int32"),
            "start_s": Value("float64"), "end_s": Value("float64"), "start_sample": Value("int64"),
            "end_sample": Value("int64"), "sample_rate": Value("int32"), "num_samples": Value("int64"),
            "duration_s": Value("float64")}
    cols.update({name: Audio() for name in AUDIO_NAMES})
    cols.update({"type": Value("string"), "sound description": Value("string"), "visual context": Value("string"),
                 "plot": Value("string"), "caption": Value("string"), "main characters": List(Value("string")),
                 "scene": Value("string"), "story": Value("string"), "video": Value("string")})
    cols["avshooter"] = _feature(EXTENSION)
    return Features(cols)


def _fit(value, spec, where: str, rest: dict):
    """``value`` shaped to ``spec``; what does not fit goes to ``rest`` under its dotted path."""
    if value is None:
        return None
    if spec == "json":
        return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    if isinstance(spec, dict):
        if not isinstance(value, dict):
            rest[where] = value
            return None
        for k in set(value) - set(spec):
            rest[f"{where}.{k}"] = value[k]
        return {k: _fit(value.get(k), s, f"{where}.{k}", rest) for k, s in spec.items()}
    if isinstance(spec, list):
        if not isinstance(value, list):
            rest[where] = value
            return None
        return [_fit(v, spec[0], f"{where}[{i}]", rest) for i, v in enumerate(value)]
    if spec is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if spec is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if spec is bool and isinstance(value, bool) or spec is str and isinstance(value, str):
        return value
    rest[where] = value
    return None


def extension(record: ShotRecord) -> dict:
    """The ``avshooter`` column of one shot: its extension fitted to :data:`EXTENSION`."""
    ext = {**record.custom, "speech": record.speech}
    ext["type_scores"] = [{"label": k, "score": v} for k, v in (ext.get("type_scores") or {}).items()]
    labels = ext.pop("labels", None) or []
    if isinstance(labels, dict):  # {stem: [label, ...]}
        labels = [{**lab, "stem": stem} for stem, labs in labels.items() for lab in labs or [] if isinstance(lab, dict)]
    ext["labels"] = [*labels, *(ext.pop("events", None) or [])]
    ext["words"] = [{"probability": w["prob"], **{k: v for k, v in w.items() if k != "prob"}}
                    if isinstance(w, dict) and "prob" in w else w for w in ext.get("words") or []]
    ext["tags"] = [t if isinstance(t, dict) else {"label": t} for t in ext.get("tags") or []]
    rest: dict = {}
    out = {}
    for k in set(ext) - set(EXTENSION):
        rest[k] = ext[k]
    for k, spec in EXTENSION.items():
        if k != "extra":
            out[k] = _fit(ext.get(k), spec, k, rest)
    out["extra"] = json.dumps(rest, ensure_ascii=False, sort_keys=True, default=str) if rest else None
    return out


def row(record: ShotRecord, root: str | os.PathLike) -> dict:
    """One row of the table (audio bytes read from ``root``)."""
    files = audio_files(record, root)
    d = {"id": record.id, "video_id": record.video_id, "shot": record.index, "start_s": record.start_s,
         "end_s": record.end_s, "start_sample": record.start_sample, "end_sample": record.end_sample,
         "sample_rate": record.sample_rate, "num_samples": record.num_samples, "duration_s": record.duration_s}
    for name in AUDIO_NAMES:
        d[name] = ({"bytes": files[name].read_bytes(), "path": record.audio[name]} if name in files else None)
    d.update({"type": record.annotation.get("type"), "sound description": record.annotation.get("sound description"),
              "visual context": record.annotation.get("visual context"), "plot": record.plot,
              "caption": record.caption, "main characters": list(record.characters), "scene": record.scene,
              "story": record.story, "video": record.video, "avshooter": extension(record)})
    return d


def _leaf_paths(schema) -> list[str]:
    """Dotted paths of the Parquet leaf columns of an Arrow schema (lists add ``list.element``)."""
    import pyarrow as pa

    def walk(t, prefix):
        if pa.types.is_struct(t):
            return [p for f in t for p in walk(f.type, f"{prefix}.{f.name}")]
        if pa.types.is_list(t) or pa.types.is_large_list(t):
            return walk(t.value_type, f"{prefix}.list.element")
        return [prefix]

    return [p for f in schema for p in walk(f.type, f.name)]


def _write_shard(root: Path, records: list[ShotRecord], path: Path, feats) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    # Written with pyarrow and the Features' schema (which carries the "huggingface" metadata): the FLAC
    # bytes go in unchanged, where datasets' own writer would need torchcodec to re-encode them.
    table = pa.Table.from_pylist([row(r, root) for r in records], schema=feats.arrow_schema)
    # FLAC is already compressed: its bytes are stored as they are, every other column with zstd
    compression = {f"{name}.bytes": "none" for name in AUDIO_NAMES}
    pq.write_table(table, path, compression={**{c: "zstd" for c in _leaf_paths(table.schema)}, **compression})


def _card(summary: dict, feats) -> str:
    names = ", ".join(f"`{k}`" for k in feats)
    return (
        "---\nconfigs:\n- config_name: default\n  data_files:\n  - split: train\n    path: data/train-*.parquet\n---\n"
        "# AnimeShooter-audio shots (exported by avshooter)\n\n"
        f"{summary['shots']} shots in {len(summary['shards'])} Parquet shards, from `{summary['source']}`.\n\n"
        f"Columns: {names}.\n\n"
        "```python\nfrom datasets import load_dataset\nds = load_dataset(\"parquet\", data_dir=\"data\", split=\"train\")\n```\n"
    )


def export_hf(root: str | os.PathLike, dest: str | os.PathLike, *, shard_size: int = DEFAULT_SHARD_SIZE,
              progress: bool = True) -> dict:
    """Write ``dest/data/train-NNNNN.parquet`` and ``dest/README.md`` from the annotate output ``root``."""
    try:
        import datasets  # noqa: F401
        import pyarrow  # noqa: F401
    except ImportError:
        raise BackendError("export --format hf needs the 'datasets' package: pip install 'avshooter[export]'") from None
    root = Path(root)
    feats = features()
    summary = run_shards(root, dest, fmt="hf", shard_size=shard_size, shard_name=lambda i: f"data/train-{i:05d}.parquet",
                         write=lambda records, tmp: _write_shard(root, records, tmp, feats), progress=progress)
    atomic_write_text(Path(dest) / "README.md", _card(summary, feats))
    return summary
