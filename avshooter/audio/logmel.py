"""YAMNet's log-mel front end in numpy: waveform -> 0.96 s log-mel patches ``(patches, 96, 64)``.

This module owns the exact input YAMNet (Google's AudioSet classifier, 521 classes) was trained on, as
its reference code computes it (``yamnet/features.py`` and ``params.py`` in tensorflow/models):

- mono, 16 kHz;
- STFT magnitude (not power) with a 25 ms periodic Hann window (400 samples), 10 ms hop (160 samples),
  FFT length 512, no centring, no padding of the frames (``tf.signal.stft`` defaults);
- 64 mel bands from 125 to 7500 Hz, HTK mel scale ``1127 ln(1 + f / 700)``, triangles in mel space,
  the DC bin given no weight (``tf.signal.linear_to_mel_weight_matrix``);
- ``log(mel + 0.001)`` (YAMNet's ``log_offset``);
- patches of 96 frames (0.96 s); YAMNet's own hop is 48 frames (0.48 s), which is the default here.

A clip shorter than one patch is padded with zeros to one patch (as YAMNet's ``_pad_waveform`` does), so
every non-empty clip gives at least one patch. Patch ``k`` covers ``[k * hop_s, k * hop_s + 0.96 + 0.015)``
seconds of the input (see :func:`patch_times`).
"""
from __future__ import annotations

import functools

import numpy as np

from ..errors import InputError
from .resample import resample

__all__ = ["SAMPLE_RATE", "WINDOW", "HOP", "N_FFT", "N_MELS", "PATCH_FRAMES", "LOG_OFFSET",
           "mel_matrix", "log_mel", "patches", "patch_times", "to_16k_mono"]

SAMPLE_RATE = 16000
WINDOW = 400            # 25 ms
HOP = 160               # 10 ms
N_FFT = 512
N_MELS = 64
MEL_MIN_HZ = 125.0
MEL_MAX_HZ = 7500.0
LOG_OFFSET = 0.001
PATCH_FRAMES = 96       # 0.96 s
PATCH_HOP_FRAMES = 48   # 0.48 s (YAMNet's patch_hop_seconds)


def _hz_to_mel(hz):
    return 1127.0 * np.log1p(np.asarray(hz, dtype=np.float64) / 700.0)


@functools.lru_cache(maxsize=1)
def mel_matrix() -> np.ndarray:
    """The ``(257, 64)`` float32 weights from STFT bins to mel bands (``tf.signal.linear_to_mel_weight_matrix``)."""
    n_bins = N_FFT // 2 + 1
    freqs = np.linspace(0.0, SAMPLE_RATE / 2, n_bins)[1:]            # the DC bin gets no weight
    bins_mel = _hz_to_mel(freqs)[:, None]
    edges = np.linspace(_hz_to_mel(MEL_MIN_HZ), _hz_to_mel(MEL_MAX_HZ), N_MELS + 2)
    lower, center, upper = edges[:-2], edges[1:-1], edges[2:]
    lower_slopes = (bins_mel - lower) / (center - lower)
    upper_slopes = (upper - bins_mel) / (upper - center)
    weights = np.maximum(0.0, np.minimum(lower_slopes, upper_slopes))
    return np.vstack([np.zeros((1, N_MELS)), weights]).astype(np.float32)


@functools.lru_cache(maxsize=1)
def _hann() -> np.ndarray:
    n = np.arange(WINDOW)
    return (0.5 - 0.5 * np.cos(2.0 * np.pi * n / WINDOW)).astype(np.float32)   # periodic


def to_16k_mono(wav: np.ndarray, sample_rate: int) -> np.ndarray:
    """Downmix ``(channels, samples)`` (or ``(samples,)``) to mono and resample to 16 kHz with soxr."""
    x = np.asarray(wav, dtype=np.float32)
    if x.ndim == 2:
        x = x.mean(axis=0)
    elif x.ndim != 1:
        raise InputError(f"audio of shape {x.shape} is not allowed ((channels, samples) or (samples,))")
    if not isinstance(sample_rate, (int, np.integer)) or isinstance(sample_rate, bool) or sample_rate <= 0:
        raise InputError(f"sample_rate={sample_rate!r} is not allowed (a positive integer, Hz)")
    return resample(x, int(sample_rate), SAMPLE_RATE)


def log_mel(x16: np.ndarray) -> np.ndarray:
    """Log-mel spectrogram ``(frames, 64)`` float32 of 16 kHz mono samples (``frames = 1 + (n - 400) // 160``).

    A clip shorter than one patch (0.975 s) is zero-padded to one patch first, so ``frames >= 96``.
    """
    x = np.asarray(x16, dtype=np.float32).ravel()
    if not np.all(np.isfinite(x)):
        raise InputError("audio holds NaN or infinite samples")
    min_len = WINDOW + (PATCH_FRAMES - 1) * HOP
    if x.size < min_len:
        x = np.concatenate([x, np.zeros(min_len - x.size, np.float32)])
    n_frames = 1 + (x.size - WINDOW) // HOP
    frames = np.lib.stride_tricks.as_strided(
        x, shape=(n_frames, WINDOW), strides=(x.strides[0] * HOP, x.strides[0]), writeable=False)
    import scipy.fft  # float32 transforms (numpy's rfft here takes twice as long)

    spec = np.abs(scipy.fft.rfft(frames * _hann(), n=N_FFT, axis=1)).astype(np.float32, copy=False)
    return np.log(spec @ mel_matrix() + LOG_OFFSET).astype(np.float32)


def patches(x16: np.ndarray, *, hop_frames: int = PATCH_HOP_FRAMES) -> np.ndarray:
    """0.96 s log-mel patches ``(patches, 96, 64)`` float32 of 16 kHz mono samples.

    ``hop_frames`` (10 ms each) is the step between patches: 48 (YAMNet's 0.48 s) by default, 96 for
    non-overlapping patches. Frames left after the last whole step start one more patch, aligned to
    the end, when they are more than a quarter of a hop (so at most 0.12 s at the end goes unseen).
    """
    if isinstance(hop_frames, bool) or not isinstance(hop_frames, (int, np.integer)) or not 1 <= hop_frames <= PATCH_FRAMES:
        raise InputError(f"hop_frames={hop_frames!r} is not allowed (an integer in [1, {PATCH_FRAMES}])")
    spec = log_mel(x16)
    starts = _starts(spec.shape[0], hop_frames)
    return np.stack([spec[s: s + PATCH_FRAMES] for s in starts])


def _starts(n_frames: int, hop_frames: int) -> list[int]:
    last = n_frames - PATCH_FRAMES
    starts = list(range(0, last + 1, hop_frames))
    if starts[-1] != last and last - starts[-1] > hop_frames // 4:   # a tail worth a patch of its own
        starts.append(last)
    return starts


def patch_times(num_samples_16k: int, *, hop_frames: int = PATCH_HOP_FRAMES) -> np.ndarray:
    """``(patches, 2)`` start and end seconds of each patch :func:`patches` gives for that many samples.

    Ends are clipped to the clip's duration (a padded short clip gives one patch ``[0, duration]``).
    """
    n = max(int(num_samples_16k), WINDOW + (PATCH_FRAMES - 1) * HOP)
    n_frames = 1 + (n - WINDOW) // HOP
    starts = np.array(_starts(n_frames, hop_frames), dtype=np.float64) * HOP / SAMPLE_RATE
    ends = starts + (WINDOW + (PATCH_FRAMES - 1) * HOP) / SAMPLE_RATE
    duration = num_samples_16k / SAMPLE_RATE
    return np.stack([np.minimum(starts, duration), np.minimum(ends, duration)], axis=1)
