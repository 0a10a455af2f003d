"""Sync: when sounds start, and the one shift that moves an effects clip onto the shot's visual events.

This module owns audio-visual alignment of a generated effects clip with its shot (the visual events
themselves come from :mod:`avshooter.media.visual_events`):

- :func:`audio_onsets` finds sound onsets (spectral flux peaks, refined to ~1 ms; in :mod:`avshooter.audio.onsets`);
- :func:`onset_strength` is their envelope, the sound side of
  :func:`avshooter.generation.offset.estimate_av_offset` (the whole-shot estimator that may abstain);
- :func:`estimate_offset` finds the one shift, within a bounded window, that best aligns onsets to
  events (used to refine a kept shift to the millisecond);
- :func:`apply_shift` shifts a clip, keeping its length, and fades the edge it cuts;
- :func:`sync_effects` estimates, applies and measures the shift, and rejects a shift that does not bring
  the onsets closer to the events (the decision and the estimator's evidence are in its report).

Times are shot-local seconds: sample 0 of the clip is the start of the shot's window.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ..audio.fit import fade_in, fade_out
from ..errors import InputError
from ..audio.onsets import audio_onsets, onset_strength  # noqa: F401  (part of this module's API)
from ..units import check_audio, to_samples

__all__ = ["apply_shift", "audio_onsets", "estimate_offset", "onset_strength", "sync_effects"]


# ------------------------------------------------------------------------------------------ aligning
def _nearest_residuals(events: np.ndarray, onsets: np.ndarray) -> np.ndarray:
    """``event - onset`` to the nearest event for each onset."""
    idx = np.clip(np.searchsorted(events, onsets), 1, len(events) - 1) if len(events) > 1 else np.zeros(len(onsets), int)
    if len(events) == 1:
        return events[0] - onsets
    left, right = events[idx - 1] - onsets, events[idx] - onsets
    return np.where(np.abs(left) <= np.abs(right), left, right)


def estimate_offset(events_s: Sequence[float], onsets_s: Sequence[float], *, max_shift_s: float = 0.5,
                    tolerance_s: float = 0.042) -> float:
    """The shift (s) to add to the audio so its onsets best meet the visual events.

    Candidates are every ``event - onset`` difference within ``[-max_shift_s, max_shift_s]`` (and 0).
    Each is scored by the number of onsets that land within ``tolerance_s`` of an event, then (ties) by
    the smaller median residual, then by the smaller shift. The winner is refined by the median residual
    of its matched pairs. No events or no onsets: 0.0.

    Parameters
    ----------
    events_s, onsets_s : sequence of float
        Visual event times and audio onset times in the same time base (seconds).
    max_shift_s : float
        Largest shift allowed either way (>= 0).
    tolerance_s : float
        An onset within this distance of an event counts as matched (default: one frame at 24 fps).

    Returns
    -------
    float
        Shift in seconds: positive delays the audio.
    """
    if not (isinstance(max_shift_s, (int, float)) and math.isfinite(max_shift_s) and max_shift_s >= 0):
        raise InputError(f"max_shift_s={max_shift_s!r} is not allowed (a finite number of seconds >= 0)")
    if not (isinstance(tolerance_s, (int, float)) and math.isfinite(tolerance_s) and tolerance_s > 0):
        raise InputError(f"tolerance_s={tolerance_s!r} is not allowed (a finite number of seconds > 0)")
    events = np.sort(np.asarray(events_s, dtype=np.float64).ravel())
    onsets = np.sort(np.asarray(onsets_s, dtype=np.float64).ravel())
    if events.size == 0 or onsets.size == 0:
        return 0.0
    if not (np.isfinite(events).all() and np.isfinite(onsets).all()):
        raise InputError("estimate_offset: event and onset times must be finite numbers of seconds")
    diffs = (events[:, None] - onsets[None, :]).ravel()
    candidates = np.unique(np.concatenate([[0.0], diffs[np.abs(diffs) <= max_shift_s + 1e-12]]))
    scored = []
    for shift in candidates:
        res = _nearest_residuals(events, onsets + shift)
        matched = np.abs(res) <= tolerance_s
        count = int(matched.sum())
        if count:
            scored.append((float(shift), count, float(np.median(np.abs(res[matched])))))
    if not scored:
        return 0.0
    most = max(c for _, c, _ in scored)
    scored = [s for s in scored if s[1] == most]
    closest = min(m for _, _, m in scored)
    # among equally good fits (median residual within 5 ms of the best), the smallest shift wins:
    # periodic events (footsteps, bounces) otherwise alias by one period
    best = min((s for s in scored if s[2] <= closest + 0.005), key=lambda s: abs(s[0]))[0]
    res = _nearest_residuals(events, onsets + best)
    refined = best + float(np.median(res[np.abs(res) <= tolerance_s]))
    return float(np.clip(refined, -max_shift_s, max_shift_s))


def apply_shift(wav: np.ndarray, sample_rate: int, shift_s: float, *, fade_s: float = 0.0) -> np.ndarray:
    """Shift audio in time, keeping its length: positive delays (zeros in front, the tail is cut),
    negative advances (the head is cut, zeros at the end).

    A shift cuts the clip at one edge: the fade-out that :func:`avshooter.audio.fit.fit_to_duration` put
    at its end (a delay), or the start of a sound (an advance). With ``fade_s > 0`` the cut edge is faded
    AFTER the shift (half-cosine, the fit's own fade): a delayed clip ends with a fade-out, an advanced one
    starts with a fade-in, so the shot boundary does not click.

    Parameters
    ----------
    wav : np.ndarray, shape (channels, samples), float
    sample_rate : int
    shift_s : float
    fade_s : float
        Fade over the cut edge (s, >= 0; 0: none, the plain shift).

    Returns
    -------
    np.ndarray, shape (channels, samples), float32
    """
    wav = check_audio(wav, sample_rate)
    if not (isinstance(shift_s, (int, float, np.floating)) and math.isfinite(shift_s)):
        raise InputError(f"shift_s={shift_s!r} is not allowed (a finite number of seconds)")
    if not (isinstance(fade_s, (int, float, np.floating)) and math.isfinite(fade_s) and fade_s >= 0):
        raise InputError(f"fade_s={fade_s!r} is not allowed (a finite number of seconds >= 0)")
    n = to_samples(abs(float(shift_s)), int(sample_rate))
    out = np.zeros(wav.shape, np.float32)
    length = wav.shape[1]
    if n >= length:
        return out
    fade = min(to_samples(float(fade_s), int(sample_rate)), length - n)
    if shift_s > 0:
        out[:, n:] = wav[:, : length - n]
        fade_out(out, fade)
    elif n:
        out[:, : length - n] = wav[:, n:]
        fade_in(out, fade)  # the head was cut
    else:
        out[:] = wav
    return out


def _median_offset(events: np.ndarray, onsets: list[float]) -> float | None:
    if events.size == 0 or not onsets:
        return None
    return float(np.median(np.abs(_nearest_residuals(np.sort(events), np.asarray(onsets)))))


def sync_effects(wav: np.ndarray, sample_rate: int, events_s: Sequence[float], frame_times_s: Sequence[float], *,
                 max_shift_s: float = 0.5, tolerance_s: float = 0.042, fade_s: float = 0.0,
                 alpha: float = 0.01) -> tuple[np.ndarray, dict]:
    """Shift an effects clip onto the shot's sharp visual events when the evidence is clear; measure it.

    1. :func:`avshooter.generation.offset.estimate_av_offset` cross-correlates the clip's onset strength
       with the events (as a per-frame signal on ``frame_times_s``) over the whole shot and tests the
       peak; it ABSTAINS (no shift) unless the shift is significant at ``alpha``.
    2. A kept shift is refined to the millisecond: :func:`estimate_offset` of the shifted onsets against
       the events, within one frame.
    3. A shift that does not lower the median onset-to-event distance is still rejected.
    4. :func:`apply_shift` with ``fade_s``: the edge the shift cuts is faded after the shift.

    Parameters
    ----------
    wav : np.ndarray, shape (channels, samples), float
        The shot's effects, shot-local (sample 0 = shot start).
    sample_rate : int
    events_s : sequence of float
        Shot-local sharp visual event times (:func:`avshooter.media.visual_events.sharp_events`).
    frame_times_s : sequence of float
        Shot-local times of the shot's frames.
    max_shift_s, alpha
        See :func:`avshooter.generation.offset.estimate_av_offset`.
    tolerance_s : float
        Matching tolerance of the refinement and of ``matched``, see :func:`estimate_offset`.
    fade_s : float
        Fade over the edge a shift cuts (the fit's own fade length).

    Returns
    -------
    (np.ndarray, dict)
        The clip (same shape, float32; shifted when a shift was kept) and a report ``{"shift_s",
        "offset_before_s", "offset_after_s", "matched", "events", "onsets", "rejected_shift_s", "note",
        "evidence"}``: ``shift_s`` is the shift applied (0.0 when none); offsets are the median
        ``|onset - nearest event|`` before and after (None when there is nothing to measure); ``matched``
        counts onsets of the returned clip within ``tolerance_s`` of an event; ``rejected_shift_s`` is a
        shift found but not applied (else None); ``note`` says why nothing was shifted; ``evidence`` is
        the estimator's :class:`~avshooter.generation.offset.OffsetEstimate` as a dict (score, margin,
        p-values, abstained, reason).
    """
    from .offset import estimate_av_offset

    wav = check_audio(wav, sample_rate)
    events = np.sort(np.asarray(list(events_s), dtype=np.float64))
    times = np.asarray(list(frame_times_s), dtype=np.float64)
    onsets = audio_onsets(wav, sample_rate)
    before = _median_offset(events, onsets)
    report = {"shift_s": 0.0, "offset_before_s": before, "offset_after_s": before,
              "matched": _matched(events, onsets, tolerance_s) if events.size else 0, "events": int(events.size),
              "onsets": len(onsets), "rejected_shift_s": None, "note": None, "evidence": None}
    if events.size == 0 or not onsets or max_shift_s == 0:
        report["note"] = ("no visual events: not shifted" if events.size == 0 else
                          "no audio onsets: not shifted" if not onsets else "max_shift_s is 0: not shifted")
        return wav.astype(np.float32, copy=True), report
    signal_ = np.zeros(times.size)
    signal_[np.clip(np.searchsorted(times, events - 1e-6), 0, times.size - 1)] = 1.0
    est = estimate_av_offset(signal_, times, wav, sample_rate, max_shift_s=max_shift_s, alpha=alpha)
    report["evidence"] = est.to_dict()
    if est.abstained:
        report["note"] = f"abstained: {est.reason}"
        return wav.astype(np.float32, copy=True), report
    fine = estimate_offset(events, np.asarray(onsets) + est.shift_s, max_shift_s=tolerance_s, tolerance_s=tolerance_s)
    shift = float(np.clip(est.shift_s + fine, -max_shift_s, max_shift_s))
    shifted = apply_shift(wav, sample_rate, shift, fade_s=fade_s)
    after = audio_onsets(shifted, sample_rate)
    offset_after = _median_offset(events, after)
    if before is None or offset_after is None or offset_after >= before:
        report.update(rejected_shift_s=round(shift, 6),
                      note="shift rejected: it did not reduce the offset to the visual events")
        return wav.astype(np.float32, copy=True), report
    report.update(shift_s=round(shift, 6), offset_after_s=offset_after, matched=_matched(events, after, tolerance_s),
                  note=est.reason)
    return shifted, report


def _matched(events: np.ndarray, onsets: list[float], tolerance_s: float) -> int:
    """How many onsets lie within ``tolerance_s`` of an event."""
    if not onsets:
        return 0
    return int((np.abs(_nearest_residuals(events, np.asarray(onsets))) <= tolerance_s).sum())
