"""Sample-rate conversion: the one place that calls soxr (float32 in, float32 out, our array layout)."""
from __future__ import annotations

import numpy as np

__all__ = ["resample"]


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
