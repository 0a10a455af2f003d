"""Voice activity: silero-vad's shipped weights, run through onnxruntime, without torch.

The model is silero's "sequence" ONNX export (``silero_vad/data/silero_vad_16k_sequence.onnx`` in the
``silero-vad`` wheel, checked against :data:`MODEL_SHA256`): the streaming model's per-32-ms speech
probabilities with one ONNX call per block of 512 frames instead of one call per frame. The spans come
from silero's rule (a span starts at a frame >= ``threshold``, ends after ``min_silence_s`` below
``threshold - 0.15``, is kept when longer than ``min_speech_s``, then padded by ``pad_s``), written here
for the unlimited span length we use. ``tests/test_vad.py`` checks probabilities and spans against
silero's own streaming code. The silero package itself is never imported: it imports torch (~1.2 s and
~180 MiB per process).

``speech_ranges(wav, sr)`` returns the speech spans of a clip in seconds. The model runs at 16 kHz mono;
the resampling to that rate happens here, so callers pass audio at any rate.
"""
from __future__ import annotations

import functools
import hashlib
import importlib.util
from pathlib import Path

import numpy as np

from ..errors import BackendError

__all__ = ["VAD_RATE", "MODEL_SHA256", "speech_ranges", "speech_fraction", "speech_probabilities"]

VAD_RATE = 16000
MODEL_FILE = "silero_vad_16k_sequence.onnx"
MODEL_SHA256 = "9ccdacc4719d8aa7e45a77536bfabec45a03ba1f2fad5e241ab4060b24238a85"
"""SHA-256 of ``silero_vad_16k_sequence.onnx`` in ``silero-vad==6.2.3`` (measured here)."""
_FRAME, _CONTEXT, _BLOCK = 512, 64, 512   # 32 ms frames, each with the previous 4 ms; frames per ONNX call
_INSTALL = "pip install 'silero-vad>=6.2.3' onnxruntime"


def _model_path() -> Path:
    spec = importlib.util.find_spec("silero_vad")  # finds the package without running it (it imports torch)
    if spec is None or not spec.submodule_search_locations:
        raise BackendError(f"voice activity needs the silero-vad weights: {_INSTALL}")
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / MODEL_FILE
    if not path.is_file():
        raise BackendError(f"voice activity needs silero-vad >= 6.2.3 (its sequence model {MODEL_FILE}): {_INSTALL}")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != MODEL_SHA256:
        raise BackendError(f"silero VAD model at {path} does not match the expected SHA-256 {MODEL_SHA256[:12]}... "
                           f"(got {digest[:12]}...): pip install --force-reinstall silero-vad==6.2.3")
    return path


@functools.lru_cache(maxsize=1)
def _model():
    """One onnxruntime session (one thread: the calls are short and the shots run on threads of their own)."""
    try:
        import onnxruntime as ort
    except ImportError:
        raise BackendError(f"voice activity needs onnxruntime: {_INSTALL}") from None
    options = ort.SessionOptions()
    options.inter_op_num_threads = 1
    options.intra_op_num_threads = 1
    return ort.InferenceSession(str(_model_path()), sess_options=options, providers=["CPUExecutionProvider"])


def speech_probabilities(mono: np.ndarray) -> np.ndarray:
    """Speech probability of every 32 ms frame of 16 kHz mono ``mono`` (the last frame zero-padded).

    Each frame goes in with the last 64 samples of the one before (zeros before the first), as the
    streaming model keeps them; the LSTM state runs on from block to block. Blocks are built one at a
    time: the extra memory is one block (~1 MB), not a copy of the track.
    """
    mono = np.asarray(mono, dtype=np.float32).reshape(-1)
    n_frames = -(-mono.size // _FRAME)
    probs = np.zeros(n_frames, np.float32)
    session = _model() if n_frames else None
    h = np.zeros((1, 1, 128), np.float32)
    c = np.zeros((1, 1, 128), np.float32)
    for first in range(0, n_frames, _BLOCK):
        count = min(_BLOCK, n_frames - first)
        # the block's samples with the 64 before them, zero-padded at the file's start and end
        span = np.zeros(_CONTEXT + count * _FRAME, np.float32)
        lo = first * _FRAME - _CONTEXT
        piece = mono[max(0, lo): (first + count) * _FRAME]
        span[max(0, -lo): max(0, -lo) + piece.size] = piece
        inputs = np.lib.stride_tricks.sliding_window_view(span, _CONTEXT + _FRAME)[::_FRAME]
        p, h, c = session.run(["speech_probs", "hn", "cn"], {"input": np.ascontiguousarray(inputs), "h": h, "c": c})
        probs[first: first + count] = np.asarray(p, np.float32).reshape(-1)
    return probs


def _spans(probs: np.ndarray, n_samples: int, *, threshold: float, min_speech: float, min_silence: float,
           pad: float) -> list[tuple[int, int]]:
    """Silero's span rule (no maximum span length) on frame probabilities; sample positions out."""
    off = max(threshold - 0.15, 0.01)
    spans: list[list[int]] = []
    start, silence_from = None, 0
    for i, p in enumerate(probs):
        now = _FRAME * i
        if p >= threshold:
            silence_from = 0
            if start is None:
                start = now
            continue
        if start is not None and p < off:
            silence_from = silence_from or now
            if now - silence_from >= min_silence:
                if silence_from - start > min_speech:
                    spans.append([start, silence_from])
                start, silence_from = None, 0
    if start is not None and n_samples - start > min_speech:
        spans.append([start, n_samples])
    # pad: by ``pad`` on each side, or halfway into a gap shorter than two pads
    for i, span in enumerate(spans):
        if i == 0:
            span[0] = int(max(0, span[0] - pad))
        if i + 1 < len(spans):
            gap = spans[i + 1][0] - span[1]
            if gap < 2 * pad:
                span[1] += int(gap // 2)
                spans[i + 1][0] = int(max(0, spans[i + 1][0] - gap // 2))
            else:
                span[1] = int(min(n_samples, span[1] + pad))
                spans[i + 1][0] = int(max(0, spans[i + 1][0] - pad))
        else:
            span[1] = int(min(n_samples, span[1] + pad))
    return [(a, b) for a, b in spans]


def to_vad_rate(wav: np.ndarray, sample_rate: int) -> np.ndarray:
    """Mono 16 kHz float32 1-D array from ``(channels, samples)`` audio at ``sample_rate``."""
    from .resample import mono_at

    return mono_at(wav, sample_rate, VAD_RATE)


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
    mono = to_vad_rate(wav, sample_rate)
    if mono.size < _FRAME or not np.any(mono):
        return []
    ms = lambda seconds: VAD_RATE * round(seconds * 1000) / 1000  # whole milliseconds, as silero takes them
    spans = _spans(speech_probabilities(mono), mono.size, threshold=threshold,
                   min_speech=ms(min_speech_s), min_silence=ms(min_silence_s), pad=ms(pad_s))
    return [(a / VAD_RATE, b / VAD_RATE) for a, b in spans]


def speech_fraction(ranges: list[tuple[float, float]], duration_s: float) -> float:
    """Share of ``[0, duration_s)`` covered by ``ranges`` (assumed sorted and disjoint)."""
    if duration_s <= 0:
        return 0.0
    covered = sum(max(0.0, min(e, duration_s) - max(s, 0.0)) for s, e in ranges)
    return float(min(1.0, covered / duration_s))
