"""Audio-visual offset: how far a soundtrack is out of sync with its picture, from the whole window.

This module owns the estimator (the picture side is :func:`avshooter.media.visual_events.change_signal`,
the sound side :func:`avshooter.generation.sync.onset_strength`):

1. The audio onset-strength envelope is smoothed over one frame and read at every frame time moved by
   each candidate shift ``s`` (a grid of ``step_s`` within ``[-max_shift_s, max_shift_s]``):
   ``r(s) = mean_i v[i] * a(t_i - s)`` with both signals standardised over the window, i.e. the
   cross-correlation of the visual change signal with the audio shifted by ``s``.
2. The best shift ``s*`` maximises ``r``; its ``score`` is ``r(s*)``, ``margin`` is ``r(s*)`` minus the
   runner-up peak (outside two frames of ``s*``), ``margin_zero`` is ``r(s*) - r(0)``.
3. The decision is a test, not a fitted threshold. It shifts only when both hold at level ``alpha``:
   - the picture and the sound are related at all: the peak beats the null distribution of peaks of
     the same search run on circularly shifted audio (shifts farther than ``max_shift_s`` plus two
     frames, so none of them can be the true alignment): ``p_peak = (1 + #{null >= score}) / (1 + N)``;
   - ``s*`` beats no shift: over ``n_boot`` block-bootstrap resamplings of the frames (blocks of half a
     second keep the signals' own correlation), the fraction where ``r(s*) <= r(0)`` is ``p_zero``.
   A best shift within one frame of 0 is no shift. Otherwise it ABSTAINS: ``shift_s`` is 0.

The convention of :func:`avshooter.generation.sync.estimate_offset`: ``shift_s`` is the shift to ADD to
the audio (a soundtrack 0.2 s late gives -0.2).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from scipy import ndimage

from ..errors import InputError
from ..units import check_audio

__all__ = ["OffsetEstimate", "check_sync", "estimate_av_offset"]

ESTIMATOR = "xcorr-local-change-v1"
"""Name and version of the estimator: recorded with every result."""


@dataclass(frozen=True)
class OffsetEstimate:
    """What the estimator found and whether it trusts it (see the module docstring).

    ``shift_s``: the shift to add to the audio (0.0 when it abstains); ``best_shift_s``: the best shift
    whether trusted or not; ``score``, ``margin``, ``margin_zero``: correlations (-1..1 scale);
    ``p_peak``, ``p_zero``: the two tests' p-values; ``abstained`` and ``reason``.
    """

    shift_s: float
    best_shift_s: float
    score: float
    margin: float
    margin_zero: float
    p_peak: float
    p_zero: float
    abstained: bool
    reason: str | None
    frames: int
    estimator: str = ESTIMATOR

    def to_dict(self) -> dict:
        out = asdict(self)
        for k, v in out.items():
            if isinstance(v, float):
                out[k] = round(v, 6)
        return out


def _abstain(reason: str, frames: int) -> OffsetEstimate:
    return OffsetEstimate(0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, True, reason, frames)


def _sharp(x: np.ndarray, size: int) -> np.ndarray:
    """What rises above the signal's running median over ``size`` values: sharp events, not slow trends."""
    return np.maximum(x - ndimage.median_filter(x, size=max(3, size | 1), mode="nearest"), 0.0)


def _margins(rows: np.ndarray, guard: int) -> np.ndarray:
    """Per row: its maximum minus the largest value farther than ``guard`` places from that maximum."""
    if rows.size == 0:
        return np.zeros(0)
    best = np.argmax(rows, axis=1)
    far = np.abs(np.arange(rows.shape[1])[None, :] - best[:, None]) > guard
    return rows.max(axis=1) - np.where(far, rows, -np.inf).max(axis=1)


def _standard(x: np.ndarray) -> np.ndarray | None:
    sd = float(x.std())
    return None if not math.isfinite(sd) or sd <= 1e-12 else (x - x.mean()) / sd


def estimate_av_offset(visual: np.ndarray, frame_times_s: np.ndarray, wav: np.ndarray, sample_rate: int, *,
                       max_shift_s: float = 0.5, alpha: float = 0.01, n_boot: int = 400,
                       seed: int = 0) -> OffsetEstimate:
    """The shift that brings ``wav`` into sync with the picture whose change signal is ``visual``.

    Parameters
    ----------
    visual : np.ndarray, shape (frames,)
        Per-frame visual change (e.g. :func:`avshooter.media.visual_events.change_signal`).
    frame_times_s : np.ndarray, shape (frames,)
        Frame times in the time base of ``wav`` (sample 0 = time 0).
    wav : np.ndarray, shape (channels, samples)
    sample_rate : int
    max_shift_s : float
        Largest shift either way (s, > 0).
    alpha : float
        Level of both tests (0 < alpha < 1): the chance of moving a soundtrack that is unrelated to the
        picture, or in sync with it, is about ``alpha`` per test.
    n_boot : int
        Bootstrap resamplings of the zero-shift test.
    seed : int
        Seed of the bootstrap (the result is deterministic).

    Returns
    -------
    OffsetEstimate
    """
    from .sync import onset_strength

    if not (isinstance(max_shift_s, (int, float)) and math.isfinite(max_shift_s) and max_shift_s > 0):
        raise InputError(f"max_shift_s={max_shift_s!r} is not allowed (a finite number of seconds > 0)")
    if not (isinstance(alpha, (int, float)) and 0 < alpha < 1):
        raise InputError(f"alpha={alpha!r} is not allowed (a level between 0 and 1)")
    wav = check_audio(wav, sample_rate)
    visual = np.asarray(visual, np.float64).ravel()
    times = np.asarray(frame_times_s, np.float64).ravel()
    if visual.shape != times.shape:
        raise InputError(f"visual has {visual.size} values but frame_times_s has {times.size}")
    n = visual.size
    if n < 8:
        return _abstain("too few frames to compare", n)
    frame_s = float(np.median(np.diff(times)))
    env, env_t = onset_strength(wav, sample_rate)
    if env.size < 2 or not env.any():
        return _abstain("no sound onsets", n)
    hop = float(env_t[1] - env_t[0])
    width = max(1, int(round(frame_s / hop)))  # one frame of envelope per frame: max over the frame
    env = _sharp(np.convolve(env, np.ones(width) / width, mode="same"), int(round(0.5 / hop)))
    v = _standard(_sharp(visual, int(round(0.5 / frame_s))))
    if v is None:
        return _abstain("no change in the picture", n)
    a = _standard(env)
    if a is None:
        return _abstain("no sound onsets", n)
    # circular cross-correlation on the envelope's grid, for the null: R[u] = mean_i v[i] * a[(k_i - u) mod M],
    # where k_i is frame i's place on that grid; R[u] is the audio shifted by u hops
    m = a.size
    k = np.clip(np.round((times - env_t[0]) / hop).astype(int), 0, m - 1)
    impulses = np.zeros(m)
    np.add.at(impulses, k, v)
    big = np.fft.irfft(np.fft.rfft(impulses) * np.conj(np.fft.rfft(a)), n=m) / n  # big[u] = sum_j imp[j] a[j-u]
    guard = max(1, int(round(2 * frame_s / hop)))
    half = int(round(max_shift_s / hop)) + guard  # searched a little past max_shift_s: a peak AT the edge is seen
    if 2 * half + 1 > m:
        return _abstain("window shorter than the shifts searched", n)
    lags = np.arange(-half, half + 1)
    at = k[:, None] - lags[None, :]  # the observed search is not circular: frames whose audio is outside count 0
    inside = (at >= 0) & (at < m)
    prod = np.where(inside, a[np.clip(at, 0, m - 1)], 0.0) * v[:, None]
    r = prod.sum(axis=0) / np.maximum(inside.sum(axis=0), 1)
    best = int(np.argmax(r))
    zero = half
    far = np.abs(lags - lags[best]) > guard
    runner = float(r[far].max()) if far.any() else float(r.min())
    score, best_s = float(r[best]), float(lags[best] * hop)
    # null: the margin of the same search around every circular shift farther than max_shift_s + 2 frames
    dist = np.minimum(np.arange(m), m - np.arange(m))
    centres = np.flatnonzero(dist > 2 * half + guard)
    null = _margins(big[(centres[:, None] + lags[None, :]) % m], guard)
    margin = score - runner
    p_peak = (1 + int((null >= margin).sum())) / (1 + null.size)
    # zero-shift test: block bootstrap over frames of v[i] * (a(t_i - s*) - a(t_i))
    diff = prod[:, best] - prod[:, zero]
    block = max(1, int(round(0.5 / frame_s)))
    rng = np.random.default_rng(seed)
    starts = rng.integers(0, max(1, n - block + 1), size=(n_boot, math.ceil(n / block)))
    idx = (starts[:, :, None] + np.arange(block)[None, None, :]).reshape(n_boot, -1)[:, :n]
    boot = diff[np.minimum(idx, n - 1)].mean(axis=1)
    p_zero = float((1 + int((boot <= 0).sum())) / (1 + n_boot)) if best != zero else 1.0
    margin_zero = score - float(r[zero])
    if abs(best_s) <= frame_s + 1e-9:
        reason = "best shift within one frame of 0: in sync"
        return OffsetEstimate(0.0, best_s, score, margin, margin_zero, p_peak, p_zero, True, reason, n)
    if abs(best_s) > max_shift_s + 1e-9:
        reason = f"best shift {best_s:+.3f} s is outside +-{max_shift_s} s"
    elif null.size == 0:
        reason = "window too short for the null distribution"
    elif p_peak > alpha:
        reason = f"peak not significant (p={p_peak:.3f} > {alpha})"
    elif p_zero > alpha:
        reason = f"shift does not beat no shift (p={p_zero:.3f} > {alpha})"
    else:
        return OffsetEstimate(best_s, best_s, score, margin, margin_zero, p_peak, p_zero, False, None, n)
    return OffsetEstimate(0.0, best_s, score, margin, margin_zero, p_peak, p_zero, True, reason, n)


def check_sync(video, audio=None, *, start_s: float = 0.0, end_s: float | None = None, max_shift_s: float = 0.5,
               alpha: float = 0.01, visual: tuple[np.ndarray, np.ndarray] | None = None) -> OffsetEstimate:
    """How far ``audio`` is out of sync with the picture of ``video`` in the window ``[start_s, end_s)``.

    Parameters
    ----------
    video : str or Path
        The picture (decoded grey at 160 px, see :func:`avshooter.media.visual_events.change_signal`).
    audio : None, str, Path, or (np.ndarray, int)
        ``None``: the video's own sound track; a file: its same window ``[start_s, end_s)``; a pair
        ``(wav (channels, samples), sample_rate)``: audio that already starts at ``start_s``.
    start_s, end_s : float
        The window (``end_s=None``: to the end of the video).
    max_shift_s, alpha
        See :func:`estimate_av_offset`.
    visual : (np.ndarray, np.ndarray), optional
        The window's change signal and frame times when already computed (it is then not decoded again).

    Returns
    -------
    OffsetEstimate
    """
    from ..media.decode import load_audio
    from ..media.visual_events import change_signal
    from ..units import to_samples

    if visual is None:
        visual = change_signal(video, start_s=start_s, end_s=end_s)
    signal_, times = visual
    if isinstance(audio, tuple):
        wav, sr = audio
    else:
        wav, sr = load_audio(video if audio is None else audio)
        a = to_samples(float(start_s), sr)
        b = wav.shape[1] if end_s is None else to_samples(float(end_s), sr)
        if a >= wav.shape[1]:
            raise InputError(f"start_s={start_s} is past the end of the audio ({wav.shape[1] / sr:.3f} s)")
        wav = wav[:, a:b]
    return estimate_av_offset(signal_, times, wav, sr, max_shift_s=max_shift_s, alpha=alpha)
