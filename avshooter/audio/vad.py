"""Voice activity: silero-vad (its package ships real weights), run through onnxruntime.

The model is silero's "sequence" export, which gives the streaming model's per-32-ms probabilities with one
ONNX call per block of 512 frames instead of one Python call per frame (the same numbers: checked in
tests/test_vad.py), then silero's own rule turns them into speech spans; torch is not needed.

``speech_ranges(wav, sr)`` returns the speech spans of a clip in seconds. The model runs at 16 kHz mono;
the resampling to that rate happens here, so callers pass audio at any rate.
"""
from __future__ import annotations

import functools

import numpy as np

from ..errors import BackendError

__all__ = ["VAD_RATE", "speech_ranges", "speech_fraction"]

VAD_RATE = 16000


@functools.lru_cache(maxsize=1)
def _model():
    """silero-vad's "sequence" ONNX export: the same network as the streaming model, one call per 16 s."""
    try:
        from silero_vad import load_silero_vad
    except ImportError as exc:
        raise BackendError(f"voice activity needs silero-vad >= 6.2 and onnxruntime: pip install silero-vad ({exc})") from None
    try:
        return load_silero_vad(onnx=True, sequence=True)
    except TypeError:  # silero-vad < 6.2 has no sequence model
        raise BackendError("voice activity needs silero-vad >= 6.2 (its sequence ONNX model): "
                           "pip install -U silero-vad") from None


def to_vad_rate(wav: np.ndarray, sample_rate: int) -> np.ndarray:
    """Mono 16 kHz float32 1-D array from ``(channels, samples)`` audio at ``sample_rate``."""
    from .resample import resample

    mono = np.asarray(wav, dtype=np.float32)
    if mono.ndim == 2:
        mono = mono.mean(axis=0)
    return resample(mono, sample_rate, VAD_RATE)


def speech_ranges(
    wav: np.ndarray,
    sample_rate: int,
    *,
    threshold: float = 0.5,
    min_speech_s: float = 0.25,
    min_silence_s: float = 0.1,
    pad_s: float = 0.03,
) -> list[tuple[float, float]]:
    """Speech spans ``[(start_s, end_s), ...]`` of ``wav`` ``(channels, samples)``, sorted.

    Parameters are silero-vad's (``threshold`` on the speech probability, minimum speech and silence
    lengths, padding). Silence and clips shorter than one 32 ms window give ``[]``.
    """
    from silero_vad.sequence_vad import get_speech_timestamps_sequence

    mono = to_vad_rate(wav, sample_rate)
    if mono.size < 512 or not np.any(mono):
        return []
    model = _model()
    stamps = get_speech_timestamps_sequence(
        mono,
        model,
        threshold=threshold,
        sampling_rate=VAD_RATE,
        min_speech_duration_ms=int(min_speech_s * 1000),
        min_silence_duration_ms=int(min_silence_s * 1000),
        speech_pad_ms=int(pad_s * 1000),
    )
    return [(s["start"] / VAD_RATE, s["end"] / VAD_RATE) for s in stamps]


def speech_fraction(ranges: list[tuple[float, float]], duration_s: float) -> float:
    """Share of ``[0, duration_s)`` covered by ``ranges`` (assumed sorted and disjoint)."""
    if duration_s <= 0:
        return 0.0
    covered = sum(max(0.0, min(e, duration_s) - max(s, 0.0)) for s, e in ranges)
    return float(min(1.0, covered / duration_s))
