"""The STFT the offline separator works on: sqrt-Hann window, 50 % overlap, exact reconstruction.

One analysis for every mask method of :mod:`avshooter.audio.separation` (and for the oracle masks of
``benchmarks/bench_separation.py``, so a mask method and its limit are measured on the same grid).
Frame ``k`` is centred on sample ``k * hop``; analysis + synthesis of an unmodified spectrum gives the
input back to float32 rounding.
"""
from __future__ import annotations

import math

import numpy as np
from scipy import fft as sfft

__all__ = ["fft_size", "stft", "istft"]


def fft_size(sample_rate: int, window_s: float) -> int:
    """The power of two nearest ``window_s * sample_rate`` (at least 16)."""
    return max(16, 2 ** int(round(math.log2(max(window_s * sample_rate, 16.0)))))


def _window(n_fft: int) -> np.ndarray:
    # periodic sqrt-Hann: w^2 sums to exactly 1 at 50 % overlap
    return np.sqrt(0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n_fft) / n_fft)).astype(np.float32)


def stft(x: np.ndarray, n_fft: int) -> np.ndarray:
    """(channels, samples) float32 -> (channels, bins, frames) complex64, hop ``n_fft // 2``."""
    hop = n_fft // 2
    n = x.shape[1]
    n_frames = n // hop + 2  # last frame centre at >= n, so every sample has full window weight
    padded = np.zeros((x.shape[0], (n_frames + 1) * hop), dtype=np.float32)
    padded[:, hop: hop + n] = x  # pad hop = n_fft / 2 in front: frame 0 centred on sample 0
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft, axis=1)[:, ::hop][:, :n_frames]
    spec = sfft.rfft(frames * _window(n_fft), axis=-1)
    return np.ascontiguousarray(spec.transpose(0, 2, 1))


def istft(spec: np.ndarray, n_fft: int, n: int) -> np.ndarray:
    """Inverse of :func:`stft` (overlap-add of two half-frames; exact for unmodified spectra)."""
    hop = n_fft // 2
    frames = sfft.irfft(spec.transpose(0, 2, 1), n=n_fft, axis=-1).astype(np.float32)
    frames *= _window(n_fft)
    c, t = frames.shape[0], frames.shape[1]
    out = np.zeros((c, (t + 1) * hop), dtype=np.float32)
    halves = frames.reshape(c, t, 2, hop)
    out[:, : t * hop] += halves[:, :, 0].reshape(c, t * hop)
    out[:, hop: (t + 1) * hop] += halves[:, :, 1].reshape(c, t * hop)
    return out[:, hop: hop + n]
