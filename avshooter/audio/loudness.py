"""Loudness: ITU-R BS.1770-4 / EBU R128 measurement (integrated loudness, loudness range, peaks).

This module owns every loudness *number* the package reports or targets: integrated loudness in LUFS
(K-weighting, 400 ms blocks with 75 % overlap, absolute gate -70 LUFS, relative gate -10 LU), loudness
range in LU (EBU Tech 3342), sample peak in dBFS, true peak in dBTP (BS.1770-4 annex 2: 4x oversampling
below 96 kHz) and the gain that brings a clip to a loudness target. Applying gains and mixing live
elsewhere.

Audio is float ``(channels, samples)`` with an explicit ``sample_rate``. Channel weights follow
BS.1770: 1.0 for mono, L, R and C; with 6 channels the order L, R, C, LFE, Ls, Rs is assumed (LFE
weight 0, surrounds 1.41); any other channel count weights every channel 1.0.

Silence (no block above the absolute gate) has no loudness: the functions return ``float('-inf')``,
and callers store ``None`` in JSON.
"""
from __future__ import annotations

import math

import numpy as np
from scipy import signal

from ..errors import InputError
from ..units import check_audio, to_samples
from .subnormal import flush_subnormals

__all__ = [
    "k_weighting_sos",
    "integrated_loudness",
    "loudness_range",
    "sample_peak_dbfs",
    "true_peak_dbtp",
    "gain_to_lufs",
]

_BLOCK_S = 0.4          # gating block (BS.1770-4)
_STEP_S = 0.1           # 75 % overlap
_ABS_GATE_LUFS = -70.0
_REL_GATE_LU = -10.0
_LRA_BLOCK_S = 3.0      # EBU Tech 3342 short-term window
_LRA_REL_GATE_LU = -20.0


def k_weighting_sos(sample_rate: int) -> np.ndarray:
    """K-weighting filter of BS.1770 (high shelf + RLB high pass) for any sample rate.

    The two biquads are derived from their analog prototypes (shelf: +4.0 dB, f0 1681.97 Hz;
    high pass: f0 38.135 Hz) by the bilinear transform, so at 48 kHz they equal the coefficients
    printed in BS.1770-4 to 1e-8.

    Returns
    -------
    np.ndarray, shape (2, 6)
        Second-order sections for :func:`scipy.signal.sosfilt`.
    """
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)) or sample_rate <= 0:
        raise InputError(f"sample_rate={sample_rate!r} is not allowed (a positive integer in Hz)")
    fs = float(sample_rate)
    # stage 1: high shelf
    gain_db, f0, q = 3.999843853973347, 1681.974450955533, 0.7071752369554196
    k = math.tan(math.pi * min(f0, 0.49 * fs) / fs)
    vh = 10.0 ** (gain_db / 20.0)
    vb = vh ** 0.4996667741545416
    a0 = 1.0 + k / q + k * k
    shelf = [(vh + vb * k / q + k * k) / a0, 2.0 * (k * k - vh) / a0, (vh - vb * k / q + k * k) / a0,
             1.0, 2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0]
    # stage 2: RLB high pass (numerator 1, -2, 1 as in the standard)
    f0, q = 38.13547087602444, 0.5003270373238773
    k = math.tan(math.pi * f0 / fs)
    a0 = 1.0 + k / q + k * k
    highpass = [1.0, -2.0, 1.0, 1.0, 2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0]
    return np.array([shelf, highpass], dtype=np.float64)


def _channel_weights(n_channels: int) -> np.ndarray:
    if n_channels == 6:
        return np.array([1.0, 1.0, 1.0, 0.0, 1.41, 1.41])
    return np.ones(n_channels)


def _block_powers(x: np.ndarray, sample_rate: int, block_s: float, step_s: float) -> np.ndarray:
    """Weighted mean-square power of each gating block of K-weighted audio ``x`` (channels, samples).

    Blocks start every ``step_s``; only whole blocks count. A signal shorter than one block is measured
    as one block of its own length (BS.1770 leaves this case open; it keeps short shots measurable).
    """
    n = x.shape[1]
    block = to_samples(block_s, sample_rate)
    weights = _channel_weights(x.shape[0])
    power = np.einsum("c,cn->n", weights, x * x)  # weighted sum over channels of z_i per sample
    if n == 0:
        return np.zeros(0)
    if n < block:
        return np.array([power.mean()])
    csum = np.concatenate([[0.0], np.cumsum(power)])
    n_blocks = int(math.floor((n - block) / (step_s * sample_rate) + 1e-9)) + 1
    starts = np.array([to_samples(j * step_s, sample_rate) for j in range(n_blocks)])
    starts = starts[starts + block <= n]
    return (csum[starts + block] - csum[starts]) / block


def _k_weighted(wav: np.ndarray, sample_rate: int) -> np.ndarray:
    if wav.shape[1] == 0:
        return np.zeros(wav.shape)
    # float32 filtering: ~20 % faster than float64, and its error (~1e-5 relative here) is far below
    # the 0.1 LU that loudness is reported to. Subnormals flushed: after a stem's gated silence the filter
    # rings down into them at ~40x the cost per sample; the block powers stay the same (subnormal.py says why)
    sos, x = k_weighting_sos(sample_rate).astype(np.float32), wav.astype(np.float32)
    with flush_subnormals():
        return signal.sosfilt(sos, x, axis=1)


def _to_lufs(power):
    with np.errstate(divide="ignore"):
        return -0.691 + 10.0 * np.log10(power)


def integrated_loudness(wav: np.ndarray, sample_rate: int) -> float:
    """Integrated (gated) loudness of a clip, BS.1770-4.

    Parameters
    ----------
    wav : np.ndarray, shape (channels, samples), float
    sample_rate : int

    Returns
    -------
    float
        Loudness in LUFS; ``float('-inf')`` when no block passes the -70 LUFS absolute gate
        (silence or an empty clip).
    """
    wav = check_audio(wav, sample_rate)
    powers = _block_powers(_k_weighted(wav, sample_rate), sample_rate, _BLOCK_S, _STEP_S)
    loud = _to_lufs(powers)
    kept = powers[loud > _ABS_GATE_LUFS]
    if kept.size == 0:
        return float("-inf")
    rel_gate = _to_lufs(kept.mean()) + _REL_GATE_LU
    kept = powers[(loud > _ABS_GATE_LUFS) & (loud > rel_gate)]
    return float(_to_lufs(kept.mean()))


def loudness_range(wav: np.ndarray, sample_rate: int) -> float:
    """Loudness range (LRA) in LU, EBU Tech 3342: 3 s blocks every 0.1 s, gates -70 LUFS and -20 LU,
    spread between the 10th and 95th percentile of the kept short-term loudness.

    Parameters
    ----------
    wav : np.ndarray, shape (channels, samples), float
    sample_rate : int

    Returns
    -------
    float
        LRA in LU; 0.0 for silence or a clip with fewer than two blocks.
    """
    wav = check_audio(wav, sample_rate)
    powers = _block_powers(_k_weighted(wav, sample_rate), sample_rate, _LRA_BLOCK_S, _STEP_S)
    loud = _to_lufs(powers)
    kept = powers[loud > _ABS_GATE_LUFS]
    if kept.size < 2:
        return 0.0
    rel_gate = _to_lufs(kept.mean()) + _LRA_REL_GATE_LU
    kept_lufs = loud[(loud > _ABS_GATE_LUFS) & (loud > rel_gate)]
    if kept_lufs.size < 2:
        return 0.0
    lo, hi = np.percentile(kept_lufs, [10.0, 95.0])
    return float(hi - lo)


def sample_peak_dbfs(wav: np.ndarray) -> float:
    """Largest absolute sample value in dBFS (1.0 = 0 dBFS).

    Parameters
    ----------
    wav : np.ndarray, shape (channels, samples), float

    Returns
    -------
    float
        Peak in dBFS; ``float('-inf')`` for all-zero or empty audio.
    """
    wav = check_audio(wav)
    if wav.size == 0:
        return float("-inf")
    peak = float(np.max(np.abs(wav)))
    return 20.0 * math.log10(peak) if peak > 0 else float("-inf")


def true_peak_dbtp(wav: np.ndarray, sample_rate: int) -> float:
    """True peak in dBTP, BS.1770-4 annex 2: oversample (4x below 96 kHz, 2x below 192 kHz, else 1x)
    with a polyphase low-pass (64-tap Kaiser FIR, flat to 0.8 x Nyquist within 0.11 dB, the filter of
    ``resample_poly``, applied phase by phase as one matrix product) and take the largest absolute value.

    Only blocks that can hold the maximum are oversampled: a block whose sample peak (with its
    neighbours) times the filter's largest phase gain is below the best value found so far cannot
    win. The result equals oversampling the whole clip, at a fraction of the cost.

    Parameters
    ----------
    wav : np.ndarray, shape (channels, samples), float
    sample_rate : int

    Returns
    -------
    float
        True peak in dBTP (never below the sample peak); ``float('-inf')`` for silence.
    """
    wav = check_audio(wav, sample_rate)
    if wav.size == 0:
        return float("-inf")
    factor = 4 if sample_rate < 96000 else (2 if sample_rate < 192000 else 1)
    x = np.abs(wav.astype(np.float32)) if factor == 1 else wav.astype(np.float32)
    best = float(np.max(np.abs(x)))
    if factor > 1 and best > 0:
        best = _oversampled_peak(x, factor, best)
    return 20.0 * math.log10(best) if best > 0 else float("-inf")


def _oversampled_peak(x: np.ndarray, factor: int, best: float) -> float:
    taps = (signal.firwin(16 * factor, 1.0 / factor, window=("kaiser", 6.0)) * factor).astype(np.float32)
    width = len(taps) // factor
    # polyphase: output 4j + p = x[j - width + 1 .. j] . (phase p's taps, reversed); one matrix for all phases
    phases = np.stack([taps[p::factor][::-1] for p in range(factor)], axis=1)   # (width, factor)
    gain = float(np.abs(phases).sum(axis=0).max())  # bound on |y| / max|x| over the window
    c, n = x.shape
    block, margin = 1024, width + 4
    n_blocks = -(-n // block)
    # zero padding on both sides = what oversampling the whole clip sees at its edges
    padded = np.zeros((c, n_blocks * block + 2 * margin), dtype=np.float32)
    padded[:, margin: margin + n] = x
    peaks = np.abs(padded[:, margin: margin + n_blocks * block]).reshape(c, n_blocks, block).max(axis=2)
    reach = peaks.copy()  # a block's outputs also depend on its neighbours' edge samples
    reach[:, 1:] = np.maximum(reach[:, 1:], peaks[:, :-1])
    reach[:, :-1] = np.maximum(reach[:, :-1], peaks[:, 1:])
    order = np.argsort(reach, axis=None)[::-1]
    segments = np.lib.stride_tricks.sliding_window_view(padded, block + 2 * margin, axis=1)[:, ::block]
    k, batch = 0, 16
    while k < len(order):
        chunk = order[k: k + batch]
        k += batch
        batch = min(batch * 2, 64)  # <= 64 segments: a ~5 MB window matrix per call
        ch, j = np.divmod(chunk, n_blocks)
        if reach[ch[0], j[0]] * gain <= best:
            break
        # every output whose window lies inside a segment, as one matrix product (BLAS): ~3x faster
        # than scipy.signal.upfirdn, the same values to float32 rounding
        windows = np.lib.stride_tricks.sliding_window_view(segments[ch, j], width, axis=1).reshape(-1, width)
        best = max(best, float(np.abs(windows @ phases).max()))
    return best


def gain_to_lufs(wav: np.ndarray, sample_rate: int, target_lufs: float) -> float:
    """Gain in dB that brings the clip's integrated loudness to ``target_lufs``.

    Parameters
    ----------
    wav : np.ndarray, shape (channels, samples), float
    sample_rate : int
    target_lufs : float
        Target integrated loudness, a finite number in [-70, 0] LUFS.

    Returns
    -------
    float
        ``target_lufs - integrated_loudness(wav)``; 0.0 for silence (no gain can give it a loudness).
        Multiply the audio by ``10 ** (gain_db / 20)``. Peaks are not limited here.
    """
    try:
        target = float(target_lufs)
    except (TypeError, ValueError):
        raise InputError(f"target_lufs={target_lufs!r} is not allowed (a number in [-70, 0] LUFS)") from None
    if not math.isfinite(target) or not -70.0 <= target <= 0.0:
        raise InputError(f"target_lufs={target_lufs!r} is not allowed (a number in [-70, 0] LUFS)")
    current = integrated_loudness(wav, sample_rate)
    if not math.isfinite(current):
        return 0.0
    return target - current
