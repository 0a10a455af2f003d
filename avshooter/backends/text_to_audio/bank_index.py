"""The index of a bank's sound events: every timed AudioSet label annotate wrote, one row each (and the
labels of each layer it found, over the layer's spans: see :func:`_timed_labels`).

What this module owns: building, storing and reading the event index of a bank (a folder that
``avshooter annotate`` wrote). One row per timed label of each stem of each shot::

    class      AudioSet class name (YAMNet's), e.g. "Thunder"
    layer      its layer (avshooter.vocabulary.layer_of): effects / ambience / music / speech / silence
    shot       the shot's id ("thunder/0000")
    stem       the stem the label was heard in: effects / music / dialogue / mix
    file       the stem's audio file, relative to the bank
    start_s    span in seconds from the start of that file (annotate writes video seconds: the shot's
    end_s      start is taken off)
    score      the tagger's peak probability over the span
    lufs       integrated loudness (BS.1770) of the span in that file; NaN when too short to gate

The bank is read only through :func:`avshooter.io.dataset.iter_shots` (the one reader). The index is a
columnar ``.npz`` (no pickles) beside the shots, ``BANK/sound_events.npz``, keyed by a fingerprint of the
records it was built from (ids, audio paths, spans, labels, stem shares) and :data:`INDEX_VERSION`: a bank
that changes gets a new fingerprint and its index is rebuilt on the next use. A bank folder that cannot
be written keeps its index in memory (logged).
"""
from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...errors import InputError, MediaError

__all__ = ["INDEX_FILE", "INDEX_VERSION", "EventIndex", "bank_fingerprint", "build_index", "load_index"]

log = logging.getLogger(__name__)

INDEX_FILE = "sound_events.npz"
INDEX_VERSION = "2"  # 2: layer labels indexed, one-event labels of steady shots left out
_COLUMNS = ("class", "layer", "shot", "stem", "file", "start_s", "end_s", "score", "lufs")


@dataclass
class EventIndex:
    """The events of one bank as columns (numpy arrays of one length)."""

    columns: dict[str, np.ndarray]
    fingerprint: str
    bank: Path
    shots: int
    audio_s: float
    """Seconds of shot audio in the bank (the mix of every shot)."""
    build_s: float | None = None
    """Seconds the build took (None when read from disk)."""

    def __len__(self) -> int:
        return len(self.columns["class"])

    def row(self, k: int) -> dict:
        out = {}
        for name in _COLUMNS:
            value = self.columns[name][k]
            out[name] = value.item() if hasattr(value, "item") else value
        out["file"] = str(self.bank / out["file"])
        return out

    def summary(self) -> dict:
        """Counts for ``avshooter bank``: events, shots, audio seconds, and events per class and layer."""
        classes, counts = np.unique(self.columns["class"], return_counts=True)
        order = np.argsort(-counts, kind="stable")
        layers, lcounts = np.unique(self.columns["layer"], return_counts=True)
        return {"bank": str(self.bank), "fingerprint": self.fingerprint, "index_version": INDEX_VERSION,
                "shots": self.shots, "audio_s": round(self.audio_s, 3), "events": len(self),
                "layers": {str(a): int(b) for a, b in zip(layers, lcounts)},
                "classes": {str(classes[k]): int(counts[k]) for k in order}}


def _records(bank: Path) -> list:
    from ...io.dataset import iter_shots

    return list(iter_shots(bank))


def bank_fingerprint(records) -> str:
    """SHA-256 (16 hex digits) of what the index is built from, plus :data:`INDEX_VERSION`."""
    h = hashlib.sha256(f"avshooter sound events {INDEX_VERSION}\n".encode())
    for r in records:
        stems = {k: (v or {}).get("energy_share") for k, v in (r.custom.get("stems") or {}).items()}
        blob = [r.id, r.audio, r.start_s, r.end_s, r.sample_rate, _timed_labels(r), stems]
        h.update(json.dumps(blob, sort_keys=True, default=str).encode())
        h.update(b"\n")
    return h.hexdigest()[:16]


def _read(path: Path) -> tuple[np.ndarray, int]:
    import soundfile as sf

    try:
        wav, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except (RuntimeError, OSError) as exc:
        raise MediaError(f"{path}: cannot read bank stem ({exc})") from None
    return np.ascontiguousarray(wav.T), int(sr)


def _timed_labels(record) -> dict[str, list[dict]]:
    """``{stem: [{"label", "start_s", "end_s", "score"}]}`` of a bank shot: the tagger's timed labels per
    stem, and the labels of each layer annotate found, over that layer's spans, in the layer's own stem
    (a wind bed spreads its probability over Wind, Outside...: no class reaches the label line, yet the
    ambience layer is there and named). Labels that name one short event (an explosion, a knock) are left
    out of a shot whose mix has no impulsive energy (the tagger's guess on a steady bed, which annotate does
    not say either: :data:`avshooter.vocabulary.IMPULSIVE_SHARE`)."""
    from ...vocabulary.layers import EVENT_LABELS, IMPULSIVE_SHARE, LAYER_STEM

    mix = ((record.custom.get("features") or {}).get("mix") or {})
    steady = (mix.get("impulsiveness") or 0.0) <= IMPULSIVE_SHARE
    out: dict[str, list[dict]] = {}
    for stem, labels in (record.custom.get("labels") or {}).items():
        out[stem] = [lab for lab in labels or [] if not (steady and lab.get("label") in EVENT_LABELS)]
    for layer in record.custom.get("layers") or []:
        stem = LAYER_STEM.get(layer.get("type"))
        if stem is None:
            continue
        have = {(lab.get("label"), lab.get("start_s")) for lab in out.get(stem, [])}
        for name in layer.get("labels") or []:
            if steady and name in EVENT_LABELS:
                continue
            for a, b in layer.get("spans") or []:
                if (name, a) not in have:
                    out.setdefault(stem, []).append({"label": name, "start_s": a, "end_s": b,
                                                     "score": layer.get("score")})
    return out


def build_index(bank: str | os.PathLike, records=None) -> EventIndex:
    """Build the index of ``bank`` from its records (reads each labelled stem once for loudness)."""
    from ...audio.loudness import integrated_loudness
    from ...io.paths import resolve_relpath
    from ...units import to_samples
    from ...vocabulary import by_name, layer_of

    t0 = time.perf_counter()
    bank = Path(bank)
    records = _records(bank) if records is None else records
    rows: dict[str, list] = {name: [] for name in _COLUMNS}
    audio_s = 0.0
    for r in records:
        audio_s += max(0.0, float(r.end_s) - float(r.start_s))
        for stem, labels in _timed_labels(r).items():
            if not labels or stem not in r.audio:
                continue
            path = resolve_relpath(bank, r.audio[stem], where=f"{bank}: shot {r.id} audio {stem}")
            if not path.is_file():
                raise InputError(f"{path}: {stem} stem of bank shot {r.id} is missing")
            wav, sr = _read(path)
            for lab in labels:
                name = str(lab.get("label", ""))
                if by_name(name) is None:
                    continue  # not an AudioSet class (a tagger of another vocabulary)
                start = max(0.0, float(lab["start_s"]) - float(r.start_s))
                end = min(wav.shape[1] / sr, float(lab["end_s"]) - float(r.start_s))
                if end <= start:
                    continue
                piece = wav[:, to_samples(start, sr):to_samples(end, sr)]
                lufs = integrated_loudness(piece, sr) if piece.shape[1] >= int(0.4 * sr) else float("nan")
                layer = layer_of(name)
                for key, value in (("class", by_name(name).name), ("layer", layer or "none"), ("shot", r.id),
                                   ("stem", stem), ("file", os.path.relpath(path, bank)), ("start_s", start),
                                   ("end_s", end), ("score", float(lab.get("score") or 0.0)),
                                   ("lufs", lufs if math.isfinite(lufs) else float("nan"))):
                    rows[key].append(value)
    columns = {name: np.asarray(values, dtype=np.float64 if name in ("start_s", "end_s", "score", "lufs") else str)
               for name, values in rows.items()}
    for name in ("class", "layer", "shot", "stem", "file"):
        if columns[name].size == 0:
            columns[name] = np.zeros(0, dtype="<U1")
    return EventIndex(columns, bank_fingerprint(records), bank, len(records), audio_s,
                      build_s=time.perf_counter() - t0)


def _save(index: EventIndex, path: Path) -> None:
    import tempfile

    meta = json.dumps({"fingerprint": index.fingerprint, "version": INDEX_VERSION, "shots": index.shots,
                       "audio_s": index.audio_s})
    fd, tmp = tempfile.mkstemp(prefix=".sound_events.", suffix=".npz", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, meta=np.asarray(meta), **{f"col_{k}": v for k, v in index.columns.items()})
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read_saved(path: Path, bank: Path) -> EventIndex | None:
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            columns = {k: data[f"col_{k}"] for k in _COLUMNS}
    except (OSError, ValueError, KeyError) as exc:
        log.warning("%s: unreadable event index (%s): rebuilding it", path, exc)
        return None
    return EventIndex(columns, meta["fingerprint"], bank, int(meta["shots"]), float(meta["audio_s"]))


def load_index(bank: str | os.PathLike, *, rebuild: bool = False) -> EventIndex:
    """The event index of ``bank``: read from ``BANK/sound_events.npz`` when its fingerprint is the bank's,
    else built and written there (in memory only when the folder is read-only)."""
    bank = Path(bank)
    if not bank.is_dir():
        raise InputError(f"bank {bank}: folder not found (give the --out folder of 'avshooter annotate')")
    records = _records(bank)
    if not records:
        raise InputError(f"bank {bank}: no annotated shots (run 'avshooter annotate VIDEO --out BANK' first)")
    path = bank / INDEX_FILE
    if path.is_file() and not rebuild:
        saved = _read_saved(path, bank)
        if saved is not None and saved.fingerprint == bank_fingerprint(records):
            return saved
    index = build_index(bank, records)
    try:
        _save(index, path)
    except OSError as exc:
        log.warning("%s: cannot write the event index (%s): kept in memory for this run", path, exc)
    return index
