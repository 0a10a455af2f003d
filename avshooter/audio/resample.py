"""Sample-rate conversion: the one place that calls soxr (float32 in, float32 out, our array layout)."""
from __future__ import annotations

import numpy as np

__all__ = ["mono_at", "resample"]


def resample(wav: np.ndarray, sample_rate: int, target_rate: int, *, quality: str = "HQ") -> np.ndarray:
    """``wav`` at ``target_rate``: float32 ``(channels, samples)`` or mono ``(samples,)``, same layout back.

    soxr works on ``(samples, channels)``; this does the transposes once, here. Equal rates return the
    input as contiguous float32 (no copy when it already is). ``quality``: soxr's "HQ" (default), "MQ",
    "VHQ".
    """
    x = np.asarray(wav, dtype=np.float32)
    if int(sample_rate) == int(target_rate) or x.shape[-1] == 0:
        return np.ascontiguousarray(x)
    import soxr

    if x.ndim == 1:
        return np.ascontiguousarray(soxr.resample(x, int(sample_rate), int(target_rate), quality=quality),
                                    dtype=np.float32)
    out = soxr.resample(np.ascontiguousarray(x.T), int(sample_rate), int(target_rate), quality=quality)
    return np.ascontiguousarray(np.asarray(out).reshape(-1, x.shape[0]).T, dtype=np.float32)


def mono_at(wav: np.ndarray, sample_rate: int, target_rate: int) -> np.ndarray:
    """1-D float32 mono at ``target_rate`` from ``(channels, samples)`` or ``(samples,)`` audio.

    One channel at the target rate comes back as it is (no copy: a whole file's 16 kHz track stays one
    array); more channels are averaged.
    """
    mono = np.asarray(wav, dtype=np.float32)
    if mono.ndim == 2:
        mono = mono[0] if mono.shape[0] == 1 else mono.mean(axis=0)
    return resample(mono, sample_rate, target_rate)
