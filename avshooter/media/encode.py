"""Arrays to transport bytes: a shot's audio as WAV, a picture as JPEG or hand-written PNG.

Used by the remote backends that send media in a request (MLLM captioners).
"""
from __future__ import annotations

import io
import logging
import math
import struct
import wave
import zlib

import numpy as np

from ..audio.resample import resample
from ..errors import InputError
from ..units import to_samples

__all__ = ["AUDIO_SAMPLE_RATE", "encode_frame", "encode_wav", "png_bytes"]

log = logging.getLogger(__name__)

AUDIO_SAMPLE_RATE = 16000
"""Rate of the WAV that :func:`encode_wav` writes (what the speech/audio LLMs expect)."""


def encode_wav(wav: np.ndarray, sample_rate: int, *, max_audio_s: float | None = None) -> bytes:
    """WAV bytes (16 kHz, mono, 16-bit PCM) of ``wav``.

    Parameters
    ----------
    wav : float32 (channels, samples)
    sample_rate : Hz
    max_audio_s : keep at most this many seconds (logged when the shot is cut)

    Returns
    -------
    bytes of a RIFF/WAVE file holding exactly ``to_samples(duration, 16000)`` samples.
    """
    mono = np.asarray(wav, dtype=np.float32).mean(axis=0)
    duration = mono.shape[0] / sample_rate
    if max_audio_s is not None and duration > max_audio_s:
        log.warning("captioner: shot audio is %.1f s; only the first %.1f s are sent", duration, max_audio_s)
        mono, duration = mono[: to_samples(max_audio_s, sample_rate)], max_audio_s
    mono = resample(mono, sample_rate, AUDIO_SAMPLE_RATE)
    n = to_samples(duration, AUDIO_SAMPLE_RATE)
    mono = np.pad(mono[:n], (0, max(0, n - mono.shape[0])))
    pcm = np.round(np.clip(mono, -1.0, 1.0) * 32767.0).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(AUDIO_SAMPLE_RATE)
        w.writeframes(pcm.tobytes())
    return buf.getvalue()


def png_bytes(frame: np.ndarray) -> bytes:
    """PNG bytes of a uint8 ``(H, W, 3)`` picture, written with zlib only (no Pillow)."""
    h, w = frame.shape[:2]
    rows = np.concatenate([np.zeros((h, 1), np.uint8), np.ascontiguousarray(frame).reshape(h, w * 3)], axis=1)

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)  # 8-bit RGB, no interlace
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows.tobytes(), 6))
            + chunk(b"IEND", b""))


def encode_frame(frame: np.ndarray, *, max_side: int = 512, use_pillow: bool | None = None) -> tuple[str, bytes]:
    """``(mime type, bytes)`` of one picture scaled so its longer side is at most ``max_side``.

    JPEG (quality 85) with Pillow; PNG written by hand when Pillow is not installed (``use_pillow=False``
    forces that path).
    """
    if not (isinstance(frame, np.ndarray) and frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] == 3
            and frame.shape[0] > 0 and frame.shape[1] > 0):
        desc = f"{frame.dtype} {frame.shape}" if isinstance(frame, np.ndarray) else type(frame).__name__
        raise InputError(f"captioner: a frame is {desc}; frames must be uint8 arrays shaped (H, W, 3)")
    if use_pillow is None:
        try:
            import PIL  # noqa: F401

            use_pillow = True
        except ImportError:
            use_pillow = False
    h, w = frame.shape[:2]
    scale = max_side / max(h, w)
    if use_pillow:
        from PIL import Image

        img = Image.fromarray(np.ascontiguousarray(frame))
        if scale < 1:
            img = img.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.LANCZOS)
        buf = io.BytesIO()
        img.save(buf, format="JPEG", quality=85)
        return "image/jpeg", buf.getvalue()
    if scale < 1:
        step = math.ceil(1 / scale)
        frame = frame[::step, ::step]
    return "image/png", png_bytes(frame)
