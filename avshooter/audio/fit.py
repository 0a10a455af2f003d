"""Fit: make every clip exactly as long as its shot, to the sample.

This module owns the duration rules of generated audio:

- :func:`fit_to_duration` trims (with a fade-out), pads with silence, or loops (crossfaded) a clip so
  that it has exactly ``num_samples`` samples;
- :func:`crossfade_concat` joins chunks with equal-power crossfades;
- :func:`chunk_plan` splits a shot longer than a model's maximum into overlapping chunks;
- :func:`shot_sample_spans` turns shot times into sample spans from *cumulative* boundaries, so the
  story's audio is exactly as long as its video at any frame rate (no drift across shots).

Audio is float32 ``(channels, samples)`` with an explicit ``sample_rate``; seconds become samples only
through :func:`avshooter.units.to_samples`.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from numbers import Real

import numpy as np

from ..errors import InputError, ShotError
from ..units import check_audio, check_rate, to_samples

__all__ = ["FIT_MODES", "chunk_plan", "crossfade_concat", "fade_in", "fade_out", "fit_to_duration",
           "shot_sample_spans"]

FIT_MODES = ("trim", "pad", "loop")


def _seconds(name: str, value, *, minimum: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(float(value)) or value < minimum:
        raise InputError(f"{name}={value!r} is not allowed (a finite number of seconds >= {minimum:g})")
    return float(value)


def fade_out(wav: np.ndarray, n: int) -> None:
    """In place: a half-cosine fade to zero over the last ``n`` samples of ``wav (channels, samples)``."""
    n = min(n, wav.shape[1])
    if n > 0:
        wav[:, -n:] *= (0.5 + 0.5 * np.cos(np.pi * (np.arange(n) + 1) / n)).astype(wav.dtype)


def fade_in(wav: np.ndarray, n: int) -> None:
    """In place: a half-cosine fade from zero over the first ``n`` samples (:func:`fade_out` mirrored)."""
    fade_out(wav[:, ::-1], n)


def fit_to_duration(wav: np.ndarray, sample_rate: int, *, num_samples: int, fade_s: float = 0.05,
                    mode: str = "trim") -> np.ndarray:
    """Make a clip exactly ``num_samples`` long.

    - Longer than ``num_samples`` (every mode): cut, with a half-cosine fade-out over the last
      ``fade_s`` so the cut does not click.
    - Shorter, ``mode="trim"`` (default) or ``"pad"``: the clip's last ``fade_s`` fades out (only when
      the clip ends loud, i.e. does not already end in silence) and silence follows. ``"trim"`` and
      ``"pad"`` differ in name only: a generator is asked for a little more than needed, so ``"trim"``
      is the usual case and the pad is a safety net.
    - Shorter, ``mode="loop"``: the clip is repeated with equal-power crossfades of ``fade_s`` (at most
      half the clip) until it is long enough, then cut with a fade-out. For beds (ambience, music).
    - Equal length: returned unchanged (a copy).

    Parameters
    ----------
    wav : np.ndarray, shape (channels, samples), float
    sample_rate : int
    num_samples : int
        Wanted length, >= 0.
    fade_s : float
        Fade-out (and loop crossfade) length in seconds, >= 0.
    mode : {"trim", "pad", "loop"}

    Returns
    -------
    np.ndarray, shape (channels, num_samples), float32
    """
    wav = check_audio(wav)
    sample_rate = check_rate(sample_rate)
    if isinstance(num_samples, bool) or not isinstance(num_samples, (int, np.integer)) or num_samples < 0:
        raise InputError(f"num_samples={num_samples!r} is not allowed (an integer >= 0)")
    if mode not in FIT_MODES:
        raise InputError(f"mode={mode!r} is not allowed (one of {', '.join(FIT_MODES)})")
    fade = to_samples(_seconds("fade_s", fade_s), sample_rate)
    num_samples = int(num_samples)
    x = wav.astype(np.float32, copy=True)
    n = x.shape[1]
    if n == num_samples:
        return x
    if n > num_samples:
        out = x[:, :num_samples].copy()
        fade_out(out, fade)
        return out
    if mode == "loop" and n > 0:
        xfade = min(fade, n // 2)
        step = n - xfade
        repeats = 1 + max(0, -(-(num_samples - n) // max(step, 1)))
        looped = crossfade_concat([x] * repeats, sample_rate, crossfade_samples=xfade)
        out = looped[:, :num_samples].copy()
        if looped.shape[1] > num_samples:
            fade_out(out, fade)
        return out
    out = np.zeros((x.shape[0], num_samples), np.float32)
    if n:
        if np.abs(x[:, -1]).max() > 1e-4:  # ends loud: fade out before the silence
            fade_out(x, fade)
        out[:, :n] = x
    return out


def crossfade_concat(chunks: Sequence[np.ndarray], sample_rate: int, *, crossfade_s: float | None = None,
                     crossfade_samples: int | None = None) -> np.ndarray:
    """Join chunks end to start with equal-power (sine/cosine) crossfades.

    Each join overlaps ``X = to_samples(crossfade_s, sample_rate)`` samples (or ``crossfade_samples``):
    the end of one chunk is faded out with ``cos`` while the start of the next fades in with ``sin``, so
    uncorrelated material keeps its power through the join.

    Parameters
    ----------
    chunks : sequence of np.ndarray, each shape (channels, samples_i)
        Same channel count; every chunk at least ``X`` samples long (inner chunks overlap on both sides,
        so at least ``X`` as well: the two fades may overlap inside a chunk of exactly ``X``).
    sample_rate : int
    crossfade_s : float
        Overlap in seconds (give this or ``crossfade_samples``).

    Returns
    -------
    np.ndarray, shape (channels, sum(samples_i) - (len(chunks) - 1) * X), float32
    """
    sample_rate = check_rate(sample_rate)
    if (crossfade_s is None) == (crossfade_samples is None):
        raise InputError("crossfade_concat: give exactly one of crossfade_s and crossfade_samples")
    if crossfade_samples is None:
        xfade = to_samples(_seconds("crossfade_s", crossfade_s), sample_rate)
    else:
        if isinstance(crossfade_samples, bool) or not isinstance(crossfade_samples, (int, np.integer)) \
                or crossfade_samples < 0:
            raise InputError(f"crossfade_samples={crossfade_samples!r} is not allowed (an integer >= 0)")
        xfade = int(crossfade_samples)
    if len(chunks) == 0:
        raise InputError("crossfade_concat: chunks is empty (at least one chunk is needed)")
    chunks = [check_audio(c, name=f"chunks[{i}]") for i, c in enumerate(chunks)]
    channels = chunks[0].shape[0]
    for i, c in enumerate(chunks):
        if c.shape[0] != channels:
            raise InputError(f"chunks[{i}] has {c.shape[0]} channels, chunks[0] has {channels}: they must match")
        if len(chunks) > 1 and c.shape[1] < xfade:
            raise InputError(f"chunks[{i}] has {c.shape[1]} samples, shorter than the {xfade}-sample crossfade")
    total = sum(c.shape[1] for c in chunks) - (len(chunks) - 1) * xfade
    out = np.zeros((channels, total), np.float32)
    ramp = (np.arange(xfade) + 0.5) / max(xfade, 1) * (np.pi / 2)
    fade_in, fade_out = np.sin(ramp).astype(np.float32), np.cos(ramp).astype(np.float32)
    pos = 0
    for i, c in enumerate(chunks):
        c = c.astype(np.float32, copy=True)
        if xfade and i > 0:
            c[:, :xfade] *= fade_in
        if xfade and i < len(chunks) - 1:
            c[:, -xfade:] *= fade_out
        out[:, pos: pos + c.shape[1]] += c
        pos += c.shape[1] - xfade
    return out


def chunk_plan(duration_s: float, *, max_chunk_s: float, crossfade_s: float,
               sample_rate: int | None = None) -> list[tuple[float, float]]:
    """Split a shot longer than a model's maximum into overlapping chunks of equal length.

    Consecutive chunks overlap by ``crossfade_s``; joined with :func:`crossfade_concat` (same
    ``crossfade_s``) they span ``duration_s``. With ``sample_rate`` the plan is made in samples: a chunk
    of ``length_s`` then has exactly ``to_samples(length_s, sample_rate)`` samples and the joined
    result has exactly ``to_samples(duration_s, sample_rate)`` samples. Without it, lengths are in
    seconds and the usual :func:`fit_to_duration` afterwards absorbs the rounding (a sample or two).

    Parameters
    ----------
    duration_s : float
        Shot length, > 0.
    max_chunk_s : float
        Longest clip the model makes, > ``crossfade_s``.
    crossfade_s : float
        Overlap of consecutive chunks, >= 0.
    sample_rate : int, optional

    Returns
    -------
    list of (start_s, length_s)
        One ``(0.0, duration_s)`` when the shot fits in one chunk.
    """
    duration = _seconds("duration_s", duration_s)
    max_chunk = _seconds("max_chunk_s", max_chunk_s)
    xfade = _seconds("crossfade_s", crossfade_s)
    if duration <= 0:
        raise InputError(f"duration_s={duration_s!r} is not allowed (a shot needs a length > 0 s)")
    if max_chunk <= xfade:
        raise InputError(f"max_chunk_s={max_chunk_s!r} must be longer than crossfade_s={crossfade_s!r}")
    if duration <= max_chunk:
        return [(0.0, duration)]
    count = math.ceil((duration - xfade) / (max_chunk - xfade) - 1e-9)
    if sample_rate is None:
        step = (duration - xfade) / count
        return [(k * step, step + xfade) for k in range(count)]
    sr = check_rate(sample_rate)
    total, x = to_samples(duration, sr), to_samples(xfade, sr)
    # sum(lengths) - (count - 1) * x == total; spread the remainder over the first chunks
    body = total + (count - 1) * x
    lengths = [body // count + (1 if k < body % count else 0) for k in range(count)]
    plan, start = [], 0
    for n in lengths:
        plan.append((start / sr, n / sr))
        start += n - x
    return plan


def shot_sample_spans(shots: Sequence, sample_rate: int) -> list[tuple[int, int]]:
    """Sample spans of shots, from cumulative time boundaries: no drift at any frame rate.

    Every boundary is converted once with :func:`avshooter.units.to_samples`, and a shot's span runs
    from its start boundary to its end boundary, so the lengths add up to exactly
    ``to_samples(end of last shot) - to_samples(start of first)`` whatever the fps (23.976, 29.97, ...).
    Rounding each shot's *duration* instead would drift by up to half a sample per shot.

    Parameters
    ----------
    shots : sequence of float, or sequence of (start_s, end_s)
        Either shot durations in seconds (shots laid end to end from 0), or each shot's start and end
        time (increasing, not overlapping; gaps are allowed and stay gaps). Pass durations as exact
        values where you have them (``frames / fps`` or :class:`fractions.Fraction`).
    sample_rate : int

    Returns
    -------
    list of (int, int)
        ``(first, stop)`` sample index of each shot; the shot has ``stop - first`` samples.

    Raises
    ------
    ShotError
        A shot with zero (or negative) samples, or shots that overlap or go backwards.
    """
    sr = check_rate(sample_rate)
    if len(shots) == 0:
        raise ShotError("no shots given (at least one shot is needed)")
    bounds: list[tuple[float, float]] = []
    if all(isinstance(s, Real) and not isinstance(s, bool) for s in shots):
        acc = 0
        for i, d in enumerate(shots):
            if not math.isfinite(float(d)) or d < 0:
                raise ShotError(f"shot {i}: duration {d!r} s is not allowed (a finite number > 0)")
            bounds.append((acc, acc + d))  # exact when durations are Fractions
            acc = acc + d
    else:
        for i, s in enumerate(shots):
            try:
                a, b = s
                a, b = float(a), float(b)
            except (TypeError, ValueError):
                raise ShotError(f"shot {i}: {s!r} is not a duration or a (start_s, end_s) pair") from None
            if not (math.isfinite(a) and math.isfinite(b)) or a < 0:
                raise ShotError(f"shot {i}: times ({a!r}, {b!r}) must be finite and >= 0")
            bounds.append((s[0], s[1]))
    spans = []
    prev_stop = 0
    for i, (a, b) in enumerate(bounds):
        first, stop = to_samples(a, sr), to_samples(b, sr)
        if stop <= first:
            raise ShotError(f"shot {i}: [{float(a):g}, {float(b):g}) s has {stop - first} samples at {sr} Hz "
                            "(a shot must be longer than zero)")
        if first < prev_stop:
            raise ShotError(f"shot {i}: starts at {float(a):g} s, before the previous shot ends (shots must not overlap)")
        spans.append((first, stop))
        prev_stop = stop
    return spans
