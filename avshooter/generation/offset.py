"""Audio-visual offset: how far a soundtrack is out of sync with its picture, from the whole window.

This module owns the estimator (the picture side is :func:`avshooter.media.visual_events.change_signal`
built from :func:`avshooter.media.visual_events.sharp_events`; the sound side
:func:`avshooter.audio.onsets.onset_strength`):

1. The audio onset-strength envelope is spread over one frame (a centred running max), what rises above
   its running median over half a second is kept (sharp onsets, not a swell), and it is read at every frame time moved by
   each candidate shift ``s`` (the envelope's 5 ms grid, within ``[-max_shift_s, max_shift_s]``):
   ``r(s) = mean_i v[i] * a(t_i - s)`` with both signals standardised over the window, i.e. the
   cross-correlation of the visual change signal with the audio shifted by ``s``.
2. The top peak of ``r`` is tested against a null distribution: the same search with the picture's
   frames randomly permuted (its events at random frames), ``p_peak = (1 + #{null >= top}) / (1 + N)``.
   This asks whether the picture and the sound are related at all.
3. Periodic events (steps, bounces) give equal peaks one period apart: every other peak that is itself
   an alignment (at least the ``1 - alpha`` quantile of the null's peaks) and that a block bootstrap of
   the frames (blocks of half a second, ``n_boot`` resamplings) cannot tell from the top one at level
   ``alpha`` is a tie, and the smallest shift among the ties is taken: ``s*``. (Until v2 any local
   peak could tie: with two to four events in a window the bootstrap tells almost nothing apart, and a
   chance ripple next to zero won over the true shift; issue 19, round three.)
   ``score = r(s*)``, ``margin`` = ``r(s*)`` minus the largest ``r`` farther than two frames from it,
   ``margin_zero = r(s*) - r(0)``.
4. ``s*`` must beat no shift: where the best ``r`` within one frame of zero is itself an alignment
   (against the same permutations, read at those lags only: zero is named in advance, no search), the
   bootstrap fraction where ``r(s*)`` is not above it is ``p_zero``; where zero is no alignment at
   all, ``p_zero = 0`` (nothing at zero to keep). (Until v2 the bootstrap test was asked always: with
   a few events it could tell a clear shift from no shift in too few windows.)
5. ``p_peak > alpha``: it ABSTAINS (``shift_s`` 0). Else ``s*`` within one frame of 0: in sync
   (``shift_s`` 0, not an abstention). Else it shifts by ``s*`` when ``p_zero <= alpha`` and ``s*`` is
   within ``max_shift_s`` (with half a frame of slack, then clipped to it: the peak's place is known to
   about a frame; the search reaches two frames past it, so that a peak at the edge is seen as one);
   otherwise it abstains. The levels are the tests', not constants fitted to any clip.

The convention of :func:`avshooter.generation.sync.estimate_offset`: ``shift_s`` is the shift to ADD to
the audio (a soundtrack 0.2 s late gives -0.2).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from scipy import ndimage, signal

from ..errors import InputError
from ..units import check_audio

__all__ = ["OffsetEstimate", "check_sync", "estimate_av_offset"]

ESTIMATOR = "xcorr-sharp-events-v2"
"""Name and version of the estimator: recorded with every result."""

SOUNDS = ("flux", "energy")
"""The sound envelopes :func:`estimate_av_offset` can read (``sound=``)."""


@dataclass(frozen=True)
class OffsetEstimate:
    """What the estimator found and whether it trusts it (see the module docstring).

    ``shift_s``: the shift to add to the audio (0.0 when it abstains or finds the audio in sync);
    ``best_shift_s``: the best shift whether trusted or not; ``score``, ``margin``, ``margin_zero``:
    cross-correlations of standardised signals (``margin`` is negative where a tie between periodic
    peaks went to the smaller shift); ``p_peak``, ``p_zero``: the two tests' p-values; ``abstained``:
    True when the evidence is not clear (no shift is then a default, not a finding); ``reason``: why
    no shift (None when shifted).
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
    return OffsetEstimate(0.0, best_shift_s=0.0, score=0.0, margin=0.0, margin_zero=0.0, p_peak=1.0, p_zero=1.0,
                          abstained=True, reason=reason, frames=frames)


def _sharp(x: np.ndarray, size: int) -> np.ndarray:
    """What rises above the signal's running median over ``size`` values: sharp events, not slow trends."""
    return np.maximum(x - ndimage.median_filter(x, size=max(3, size | 1), mode="nearest"), 0.0)


def _standard(x: np.ndarray) -> np.ndarray | None:
    sd = float(x.std())
    return None if not math.isfinite(sd) or sd <= 1e-12 else (x - x.mean()) / sd


def estimate_av_offset(visual: np.ndarray, frame_times_s: np.ndarray, wav: np.ndarray, sample_rate: int, *,
                       max_shift_s: float = 0.5, alpha: float = 0.01, n_boot: int = 400,
                       n_null: int = 400, seed: int = 0, sound: str = "flux") -> OffsetEstimate:
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
        Bootstrap resamplings of the paired tests (a shift against no shift, or against another peak).
    n_null : int
        Permutations of the picture's frames in the null distribution of the peak.
    seed : int
        Seed of the bootstrap (the result is deterministic).
    sound : str
        The sound side: ``"flux"`` (the default: :func:`avshooter.audio.onsets.onset_strength`, spectral
        flux) or ``"energy"`` (:func:`avshooter.audio.onsets.energy_rise`, the rise of the broadband
        level; issue 19, round five: a bench option, not the default).

    Returns
    -------
    OffsetEstimate
    """
    from ..audio.onsets import energy_rise, onset_strength

    if sound not in SOUNDS:
        raise InputError(f"sound={sound!r} is not allowed (one of {', '.join(SOUNDS)})")
    if not (isinstance(max_shift_s, (int, float)) and math.isfinite(max_shift_s) and max_shift_s > 0):
        raise InputError(f"max_shift_s={max_shift_s!r} is not allowed (a finite number of seconds > 0)")
    if not (isinstance(alpha, (int, float)) and 0 < alpha < 1):
        raise InputError(f"alpha={alpha!r} is not allowed (a level between 0 and 1)")
    for name, value in (("n_boot", n_boot), ("n_null", n_null)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InputError(f"{name}={value!r} is not allowed (a whole number >= 1)")
    wav = check_audio(wav, sample_rate)
    visual = np.asarray(visual, np.float64).ravel()
    times = np.asarray(frame_times_s, np.float64).ravel()
    if visual.shape != times.shape:
        raise InputError(f"visual has {visual.size} values but frame_times_s has {times.size}")
    n = visual.size
    if n < 8:
        return _abstain("too few frames to compare", n)
    frame_s = float(np.median(np.diff(times)))
    env, env_t = (onset_strength if sound == "flux" else energy_rise)(wav, sample_rate)
    if env.size < 2 or not env.any():
        return _abstain("no sound onsets", n)
    hop = float(env_t[1] - env_t[0])
    # a sound within half a frame of a frame's time belongs to that frame: a centred running max over one
    # frame (a mean would move a sharp attack's peak late, toward its decay)
    width = max(1, int(round(frame_s / hop))) | 1
    env = _sharp(ndimage.maximum_filter1d(env, size=width, mode="nearest"), int(round(0.5 / hop)))
    v = _standard(_sharp(visual, int(round(0.5 / frame_s))))
    if v is None:
        return _abstain("no change in the picture", n)
    a = _standard(env)
    if a is None:
        return _abstain("no sound onsets", n)
    m = a.size
    k = np.clip(np.round((times - env_t[0]) / hop).astype(int), 0, m - 1)  # each frame's place on a's grid
    guard = max(1, int(round(2 * frame_s / hop)))
    half = int(round(max_shift_s / hop)) + guard  # searched a little past max_shift_s: a peak AT the edge is seen
    lags = np.arange(-half, half + 1)
    at = k[:, None] - lags[None, :]  # frames whose shifted audio falls outside the clip count 0
    inside = (at >= 0) & (at < m)
    table = np.where(inside, a[np.clip(at, 0, m - 1)], 0.0)  # (frames, lags): a(t_i - s)
    count = np.maximum(inside.sum(axis=0), 1)
    prod = table * v[:, None]
    r = prod.sum(axis=0) / count
    top = int(np.argmax(r))
    rng = np.random.default_rng(seed)
    # null of the peak: the same search with the picture's frames permuted (events at random frames)
    perms = np.argsort(rng.random((n_null, n)), axis=1)
    null = ((v[perms] @ table) / count).max(axis=1)
    p_peak = (1 + int((null >= r[top]).sum())) / (1 + n_null)
    # block bootstrap of frames (blocks of half a second): paired comparisons between shifts
    block = max(1, int(round(0.5 / frame_s)))
    starts = rng.integers(0, max(1, n - block + 1), size=(n_boot, math.ceil(n / block)))
    idx = np.minimum((starts[:, :, None] + np.arange(block)[None, None, :]).reshape(n_boot, -1)[:, :n], n - 1)

    def p_not_above(i: int, j: int) -> float:
        """Bootstrap p-value of 'shift i is no better than shift j'."""
        boot = (prod[:, i] - prod[:, j])[idx].mean(axis=1)
        return (1 + int((boot <= 0).sum())) / (1 + n_boot)

    # periodic events (steps, bounces) give equal peaks one period apart: among the peaks that are
    # alignments themselves and that the data cannot tell from the top one, the smallest shift is taken
    q = float(np.quantile(null, 1 - alpha))  # what a peak must reach to be an alignment at all
    peaks = [int(j) for j in signal.find_peaks(np.concatenate([[-np.inf], r, [-np.inf]]))[0] - 1
             if j - 1 != top and abs(j - 1 - top) > guard and r[j - 1] >= q]
    ties = [j for j in peaks if p_not_above(top, j) > alpha]
    best = min([top] + ties, key=lambda j: (abs(lags[j]), -r[j]))
    zero = half
    near0 = np.flatnonzero(np.abs(lags) <= frame_s / hop + 1e-9)
    z = int(near0[np.argmax(r[near0])])
    far = np.abs(lags - lags[best]) > guard
    runner = float(r[far].max()) if far.any() else float(r.min())
    score, best_s = float(r[best]), float(lags[best] * hop)
    margin = score - runner
    # is there an alignment at zero shift at all (zero is named in advance: its own null, no search)
    null0 = ((v[perms] @ table[:, near0]) / count[near0]).max(axis=1)
    zero_aligned = (1 + int((null0 >= r[z]).sum())) / (1 + n_null) <= alpha
    p_zero = (p_not_above(best, z) if zero_aligned else 0.0) if abs(best_s) > frame_s + 1e-9 else 1.0
    est = dict(best_shift_s=best_s, score=score, margin=margin, margin_zero=score - float(r[zero]),
               p_peak=p_peak, p_zero=p_zero, frames=n,
               estimator=ESTIMATOR if sound == "flux" else f"{ESTIMATOR}+{sound}")
    if p_peak > alpha:
        return OffsetEstimate(0.0, abstained=True, reason=f"peak not significant (p={p_peak:.3f} > {alpha})", **est)
    if abs(best_s) <= frame_s + 1e-9:
        return OffsetEstimate(0.0, abstained=False, reason="in sync: the best shift is within one frame of 0", **est)
    if abs(best_s) > max_shift_s + frame_s / 2 + 1e-9:
        return OffsetEstimate(0.0, abstained=True, reason=f"best shift {best_s:+.3f} s is outside +-{max_shift_s} s",
                              **est)
    if p_zero > alpha:
        return OffsetEstimate(0.0, abstained=True, reason=f"shift does not beat no shift (p={p_zero:.3f} > {alpha})",
                              **est)
    return OffsetEstimate(float(np.clip(best_s, -max_shift_s, max_shift_s)), abstained=False, reason=None, **est)


def check_sync(video, audio=None, *, start_s: float = 0.0, end_s: float | None = None, max_shift_s: float = 0.5,
               alpha: float = 0.01, visual: tuple[np.ndarray, np.ndarray] | None = None,
               model=None, sound: str = "flux") -> OffsetEstimate:
    """How far ``audio`` is out of sync with the picture of ``video`` in the window ``[start_s, end_s)``.

    Parameters
    ----------
    video : str or Path
        The picture (decoded grey at 160 px; its cuts and local impacts, see
        :func:`avshooter.media.visual_events.sharp_events`).
    audio : None, str, Path, or (np.ndarray, int)
        ``None``: the video's own sound track; a file: its same window ``[start_s, end_s)``; a pair
        ``(wav (channels, samples), sample_rate)``: audio that already starts at ``start_s``.
    start_s, end_s : float
        The window (``end_s=None``: to the end of the video).
    max_shift_s, alpha, sound
        See :func:`estimate_av_offset`.
    visual : (np.ndarray, np.ndarray), optional
        The window's change signal and frame times when already computed (it is then not decoded again).
    model : optional
        A learned estimator used instead of the cross-correlation, e.g. a loaded
        :class:`avshooter.backends.synchformer_sync.SynchformerSync` (anything with its
        ``estimate_window(video, wav, sample_rate, start_s=, end_s=, max_shift_s=, alpha=)``).

    Returns
    -------
    OffsetEstimate
    """
    from ..media.decode import load_audio
    from ..media.visual_events import change_signal, sharp_events
    from ..units import to_samples

    if isinstance(audio, tuple):
        wav, sr = audio
    else:
        wav, sr = load_audio(video if audio is None else audio)
        a = to_samples(float(start_s), sr)
        b = wav.shape[1] if end_s is None else to_samples(float(end_s), sr)
        if a >= wav.shape[1]:
            raise InputError(f"start_s={start_s} is past the end of the audio ({wav.shape[1] / sr:.3f} s)")
        wav = wav[:, a:b]
    if model is not None:
        return model.estimate_window(video, wav, sr, start_s=start_s, end_s=end_s, max_shift_s=max_shift_s,
                                     alpha=alpha)
    if visual is None:
        events, times = sharp_events(video, start_s=start_s, end_s=end_s)
        visual = change_signal(events, times), times
    signal_, times = visual
    return estimate_av_offset(signal_, times, wav, sr, max_shift_s=max_shift_s, alpha=alpha, sound=sound)
