"""Voiced speech is harmonic on one f0: a pitch track and the comb mask that keeps only its partials.

Pitch by subharmonic-penalised harmonic summation (Hermes 1988; the "harmonic sum minus the
inter-harmonic sum" salience of Klapuri's multipitch estimators) on the compressed magnitude spectrum:
for every candidate f0 (``f0_min_hz``..``f0_max_hz``, 1/24 octave apart) the summed magnitude at its
harmonics ``k f0`` minus the summed magnitude half-way between them (``(k - 1/2) f0``), up to
``max_hz``. The half-way term rejects f0/2 (its half-way points fall between the true partials, its
extra harmonics on them) and 2 f0 (its half-way points ARE the odd partials). Salience is normalised by
the magnitude in the band, so 1 = all energy on the partials, 0 = none more on them than between them.
The track is median-smoothed over a few frames; voicing is a smooth step of the salience.

The comb: a Gaussian of width ``max(bin_width, width * f0)`` around each harmonic, up to ``max_hz``;
``1`` above it and in unvoiced frames (consonants keep what the Wiener filter gave them).
One matrix product and a few array operations per clip (no per-frame Python loop).
"""
from __future__ import annotations

import functools

import numpy as np
from scipy import ndimage, sparse

__all__ = ["pitch_track", "comb_mask"]


@functools.lru_cache(maxsize=8)
def _salience_matrix(n_bins: int, sample_rate: int, n_fft: int, f0_min_hz: float, f0_max_hz: float,
                     max_hz: float) -> tuple[np.ndarray, sparse.csr_matrix, int]:
    """Candidate f0s, the (candidates x bins) harmonic-minus-half-way matrix, and the bins it reads."""
    df = sample_rate / n_fft
    top = min(n_bins - 2, int(max_hz / df) + 1)
    f0s = f0_min_hz * 2.0 ** (np.arange(int(np.log2(f0_max_hz / f0_min_hz) * 24) + 1) / 24.0)
    rows, cols, vals = [], [], []
    for i, f0 in enumerate(f0s):
        harmonics = np.arange(1, int(max_hz / f0) + 1)
        for positions, sign in ((harmonics * f0, 1.0), ((harmonics - 0.5) * f0, -1.0)):
            pos = positions / df
            lo = np.floor(pos).astype(int)
            frac = pos - lo
            keep = lo + 1 <= top
            for col, w in ((lo[keep], 1.0 - frac[keep]), (lo[keep] + 1, frac[keep])):
                rows.append(np.full(col.size, i))
                cols.append(col)
                vals.append(sign * w / max(1, harmonics.size))
    matrix = sparse.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                               shape=(f0s.size, top + 1), dtype=np.float32)
    return f0s, matrix, top + 1


def pitch_track(magnitude: np.ndarray, sample_rate: int, n_fft: int, *, f0_min_hz: float = 70.0,
                f0_max_hz: float = 400.0, max_hz: float = 3000.0, smooth_frames: int = 5
                ) -> tuple[np.ndarray, np.ndarray]:
    """f0 (Hz) and salience in [-1, 1] per frame of a magnitude spectrogram ``(bins, frames)``."""
    f0s, matrix, used = _salience_matrix(magnitude.shape[0], sample_rate, n_fft, f0_min_hz, f0_max_hz, max_hz)
    comp = np.sqrt(magnitude[:used].astype(np.float32))
    scores = matrix @ comp                                          # (candidates, frames)
    band = comp.mean(axis=0) + 1e-12
    best = np.argmax(scores, axis=0)
    # mean magnitude on the partials minus half-way between them, over the band's mean magnitude
    salience = scores[best, np.arange(scores.shape[1])] / band
    if smooth_frames > 1:
        best = ndimage.median_filter(best, size=smooth_frames, mode="nearest")
    return f0s[best].astype(np.float32), salience.astype(np.float32)


def comb_mask(f0: np.ndarray, voicing: np.ndarray, freqs: np.ndarray, *, width: float, floor: float,
              max_hz: float) -> np.ndarray:
    """Mask ``(bins, frames)``: Gaussians on ``k f0`` below ``max_hz`` in voiced frames, 1 elsewhere."""
    f = freqs[:, None].astype(np.float32)
    k = np.maximum(np.round(f / f0[None, :]), 1.0)
    dist = f - k * f0[None, :]
    bin_width = float(freqs[1] - freqs[0]) if freqs.size > 1 else 1.0
    sigma = np.maximum(bin_width, width * f0[None, :])
    comb = floor + (1.0 - floor) * np.exp(-0.5 * (dist / sigma) ** 2)
    comb = np.where(f <= max_hz, comb, 1.0)
    return (1.0 - voicing[None, :] * (1.0 - comb)).astype(np.float32)
