"""Cutting bank events out of their stems and building a layer's clip from them.

What this module owns, for the retrieval backend's event mode:

- :func:`cut_event`: the event's span of its stem, widened by ``pre_roll_s`` before and ``post_roll_s``
  after (the tagger's spans are 0.96 s patches on a 0.48 s hop: an onset may sit just before the span),
  clamped to the file, with half-cosine fades in and out of ``fade_s``;
- :func:`compose`: one clip of the wanted length from the cut events of one prompt. A sound of the
  ambience layer (rain, a crowd, wind: :func:`avshooter.vocabulary.layer_of`) becomes a bed over the whole
  clip, its span looped with equal-power crossfades (:func:`avshooter.audio.fit.fit_to_duration`); a sound
  of the effects layer is placed once, the k-th of n named effects at ``k / n`` of the clip. The
  pipeline's sync then shifts the effects clip so its onsets sit on the shot's visual events
  (:mod:`avshooter.generation.sync`): "placement" in the record says which. Several sounds add up, each
  bed at ``1 / sqrt(beds)`` so that two uncorrelated beds keep one bed's loudness; the layer's loudness
  is set by the mix.
"""
from __future__ import annotations

import functools
import math

import numpy as np

__all__ = ["compose", "cut_event"]


@functools.lru_cache(maxsize=64)
def _stem(path: str, sample_rate: int) -> np.ndarray:
    import soundfile as sf

    from ...audio.resample import resample
    from ...errors import MediaError

    try:
        wav, sr = sf.read(path, dtype="float32", always_2d=True)
    except (RuntimeError, OSError) as exc:
        raise MediaError(f"{path}: cannot read bank stem ({exc})") from None
    out = resample(np.ascontiguousarray(wav.T), int(sr), sample_rate)
    out.setflags(write=False)
    return out


def _fade(x: np.ndarray, n_in: int, n_out: int) -> None:
    for n, sl, rev in ((n_in, slice(0, n_in), False), (n_out, slice(x.shape[1] - n_out, x.shape[1]), True)):
        n = min(n, x.shape[1] // 2)
        if n <= 0:
            continue
        ramp = (0.5 - 0.5 * np.cos(np.linspace(0.0, math.pi, n, dtype=np.float32))).astype(np.float32)
        if rev:
            x[:, x.shape[1] - n:] *= ramp[::-1]
        else:
            x[:, :n] *= ramp


def cut_event(row: dict, sample_rate: int, *, pre_roll_s: float, post_roll_s: float,
              fade_s: float) -> tuple[np.ndarray, float, float]:
    """``(clip (channels, n) float32, start_s, end_s)``: the event's span of its stem with rolls and fades."""
    from ...units import to_samples

    stem = _stem(row["file"], sample_rate)
    length_s = stem.shape[1] / sample_rate
    start = max(0.0, float(row["start_s"]) - pre_roll_s)
    end = min(length_s, float(row["end_s"]) + post_roll_s)
    clip = stem[:, to_samples(start, sample_rate):to_samples(end, sample_rate)].astype(np.float32, copy=True)
    fade = to_samples(fade_s, sample_rate)
    _fade(clip, fade if start > 0 else 0, fade)
    return clip, round(start, 4), round(end, 4)


def compose(events: list[dict], duration_s: float, sample_rate: int, *, fade_s: float,
            crossfade_s: float) -> tuple[np.ndarray, list[dict]]:
    """One clip of ``duration_s`` from ``events`` (each ``{"wav", "layer", ...}``); returns ``(clip, placed)``
    where ``placed`` are the events' records with ``placed_s`` / ``placed_end_s`` / ``placement`` added."""
    from ...audio.fit import fit_to_duration
    from ...units import to_samples

    total = to_samples(duration_s, sample_rate)
    channels = max(e["wav"].shape[0] for e in events)
    out = np.zeros((channels, total), np.float32)
    beds = [e for e in events if e["layer"] == "ambience"]
    hits = [e for e in events if e["layer"] != "ambience"]
    placed = []
    for e in beds:
        bed = fit_to_duration(e["wav"], sample_rate, num_samples=total, fade_s=crossfade_s, mode="loop")
        out += np.broadcast_to(bed, (channels, total)) / math.sqrt(len(beds))
        loops = max(1, math.ceil(total / max(1, e["wav"].shape[1])))
        placed.append({**_record(e), "placed_s": 0.0, "placed_end_s": round(total / sample_rate, 4),
                       "placement": "whole shot" + (f" (looped x{loops}, crossfaded)" if loops > 1 else "")})
    for k, e in enumerate(hits):
        at = to_samples(k * duration_s / len(hits), sample_rate)
        piece = e["wav"][:, : max(0, total - at)].copy()
        if piece.shape[1] < e["wav"].shape[1]:
            _fade(piece, 0, to_samples(fade_s, sample_rate))
        out[:, at:at + piece.shape[1]] += np.broadcast_to(piece, (channels, piece.shape[1]))
        placed.append({**_record(e), "placed_s": round(at / sample_rate, 4),
                       "placed_end_s": round((at + piece.shape[1]) / sample_rate, 4),
                       "placement": "visual event (the effects clip is synced to the shot's visual events)"})
    return out, placed


def _record(e: dict) -> dict:
    return {k: v for k, v in e.items() if k != "wav" and not k.startswith("_") or k == "_abs"}
