"""Where the transcript confirms speech: the frames of a speech range that confident words cover.

silero-vad fires on sung vocals in music, on applause and on crowds next to a line, and the dialogue
estimate passes there. The ASR that heard the line gives a second opinion: a run of confident words
(``prob >= min_prob``) says someone speaks; the rest of a speech range (its start before the first
confident words, its end after them, a range with no confident word at all) is *unconfirmed*: the
separator asks the learned enhancer there and wants more of the frame to be speech
(:func:`avshooter.audio.separation.separate`).

The first word of every speech range confirms only its end: Whisper places a transcribed piece's first
word's start at the piece's start (the VAD's start minus its context), wherever the voice starts.
"""
from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

from ..errors import InputError
from ..units import true_runs

__all__ = ["word_spans", "confirmed_activity", "line_reach", "head_bound"]


def word_spans(words) -> np.ndarray:
    """``(n, 3)`` float array of ``start_s, end_s, prob`` (``prob`` 1 when the ASR gave none), checked."""
    rows = []
    for i, w in enumerate(words):
        try:
            a, b = float(w["start_s"]), float(w["end_s"])
            p = float(w.get("prob", 1.0))
        except (TypeError, KeyError, ValueError, AttributeError):
            raise InputError(f"word #{i} {w!r} is not a mapping with numeric start_s and end_s") from None
        if not (math.isfinite(a) and math.isfinite(b)) or b < a:
            raise InputError(f"word #{i} ({a}, {b}) must be finite with end_s >= start_s")
        rows.append((a, b, p))
    return np.array(rows, np.float64).reshape(-1, 3)


def confirmed_activity(gate: np.ndarray, words, sample_rate: int, hop: int, *, min_prob: float, gap_s: float,
                       smooth_frames: int, head: bool = True) -> np.ndarray:
    """Per-frame weight in [0, 1]: 1 where a run of confident words covers the frame, inside ``gate > 0``.

    In every run of gated frames, the words with ``prob >= min_prob`` (the run's first word counted from
    its end only), merged when less than ``gap_s`` apart, cover ``[first start, last end]``; frame ``k``
    (centred on sample ``k * hop``) is covered when its centre is; a ``smooth_frames`` moving average
    softens the edges. ``head=False``: the first covered stretch reaches back to the run's start (only
    what follows the confirmed words, and runs without any, stay unconfirmed).
    """
    n_frames = gate.shape[0]
    spans = word_spans(words)
    out = np.zeros(n_frames, np.float32)
    if not np.any(gate > 0) or spans.shape[0] == 0:
        return out
    frame_s = hop / sample_rate
    times = np.arange(n_frames) * frame_s
    for first, last in true_runs(gate):
        t0, t1 = (first - 0.5) * frame_s, (last + 0.5) * frame_s
        inside = spans[(spans[:, 0] < t1) & (spans[:, 1] > t0)]
        inside = inside[np.argsort(inside[:, 0])]
        if inside.shape[0] == 0:
            continue
        inside[0, 0] = inside[0, 1]          # the range's first word: only its end is where Whisper heard it
        inside = inside[inside[:, 2] >= min_prob]
        if inside.shape[0] == 0:
            continue
        group_start, group_end = inside[0, 0], inside[0, 1]
        groups = []
        for a, b, _ in inside[1:]:
            if a - group_end < gap_s:
                group_end = max(group_end, b)
            else:
                groups.append((group_start, group_end))
                group_start, group_end = a, b
        groups.append((group_start, group_end))
        if not head:
            groups[0] = (t0, groups[0][1])
        for a, b in groups:
            out[first: last + 1][(times[first: last + 1] >= a) & (times[first: last + 1] <= b)] = 1.0
    if smooth_frames > 1:
        out = ndimage.uniform_filter1d(out, smooth_frames, mode="nearest")
    return np.minimum(out, (gate > 0).astype(np.float32))


def line_reach(gate: np.ndarray, confirmed: np.ndarray, quiet: np.ndarray, min_gap: int) -> tuple[np.ndarray, np.ndarray]:
    """Where a confirmed line reaches: it ends at its first pause after its last confirmed frame (and
    starts after its last pause before its first one).

    In every run of gated frames (``gate > 0``) holding confirmed frames (``confirmed >= 0.5``), walking
    out from the first / last confirmed frame, the first stretch of at least ``min_gap`` ``quiet`` frames
    (the estimate holds ~no speech there) bounds the line; what lies beyond it in the run is not this line
    (the VAD runs on into a sung note, applause, the music before it; measured on the dev mixtures).

    Returns ``(inside, anchored)``: float32 1 inside a confirmed line's reach, 0 beyond it; and bool, True
    on every frame of a run that holds confirmed frames (elsewhere ``inside`` says nothing).
    """
    n = gate.shape[0]
    inside = np.zeros(n, np.float32)
    anchored = np.zeros(n, bool)
    min_gap = max(1, int(min_gap))
    for first, last in true_runs(gate):
        sure = np.flatnonzero(confirmed[first: last + 1] >= 0.5)
        if sure.size == 0:
            continue
        anchored[first: last + 1] = True
        start, end = first + sure[0], first + sure[-1]
        run = 0
        while start > first:            # back from the first confirmed frame to the first long enough pause
            run = run + 1 if quiet[start - 1] else 0
            start -= 1
            if run >= min_gap:
                start += run
                break
        run = 0
        while end < last:
            run = run + 1 if quiet[end + 1] else 0
            end += 1
            if run >= min_gap:
                end -= run
                break
        inside[start: end + 1] = 1.0
    return inside, anchored


def head_bound(gate: np.ndarray, confirmed: np.ndarray, reach: int) -> np.ndarray:
    """Float32 0 on the frames of a gated run that lie more than ``reach`` frames before the run's first
    confirmed frame (``confirmed >= 0.5``), 1 elsewhere: a line does not start long before the end of its
    first confident word; the VAD's range does, where it fires on a crowd or music before the line."""
    n = gate.shape[0]
    out = np.ones(n, np.float32)
    for first, last in true_runs(gate):
        sure = np.flatnonzero(confirmed[first: last + 1] >= 0.5)
        if sure.size:
            out[first: max(first, first + sure[0] - int(reach))] = 0.0
    return out
