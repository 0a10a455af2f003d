"""espeak-ng text-to-speech: the ``espeak-ng`` program run as a subprocess (22.05 kHz mono, robotic, instant).

Needs the system package (Debian/Ubuntu: ``apt-get install espeak-ng``). Voices are espeak-ng voice
names ("en", "en-us", "ja", ...); ``language`` maps to a voice when ``voice`` is not given.
"""
from __future__ import annotations

import io
import shutil
import subprocess

import numpy as np

from ...errors import BackendError, InputError

__all__ = ["EspeakTTS"]

_LANGUAGE_VOICES = {"en": "en", "ja": "ja"}


class EspeakTTS:
    """espeak-ng backend.

    Parameters
    ----------
    voice : str
        Default espeak-ng voice.
    speed_wpm : int
        Speaking rate in words per minute (espeak-ng ``-s``; 80 .. 450).
    """

    name = "espeak"

    def __init__(self, *, voice: str = "en", speed_wpm: int = 160):
        if not isinstance(speed_wpm, int) or not 80 <= speed_wpm <= 450:
            raise InputError(f"speed_wpm must be an integer in 80 .. 450, got {speed_wpm!r}")
        self.binary = shutil.which("espeak-ng")
        if self.binary is None:
            raise BackendError("espeak-ng not found: apt-get install espeak-ng")
        self.voice = voice
        self.speed_wpm = speed_wpm
        self.sample_rate = 22050

    def info(self) -> dict:
        version = subprocess.run([self.binary, "--version"], capture_output=True, text=True, check=False).stdout.strip()
        return {"name": self.name, "voice": self.voice, "speed_wpm": self.speed_wpm, "version": version,
                "sample_rate": self.sample_rate}

    def synthesize(self, text: str, *, voice: str | None = None, language: str | None = None):
        """Speak ``text``; return ``(wav, sample_rate)``, ``wav`` float32 shaped ``(1, n)``."""
        import soundfile as sf

        if not isinstance(text, str) or not text.strip():
            raise InputError("TTS text is empty")
        voice = voice or _LANGUAGE_VOICES.get(language or "", self.voice)
        # "--" ends the options, so a line starting with "-" is spoken, not parsed
        cmd = [self.binary, "--stdout", "-v", voice, "-s", str(self.speed_wpm), "--", text]
        try:
            done = subprocess.run(cmd, capture_output=True, timeout=120, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise BackendError(f"espeak-ng failed to run ({type(exc).__name__}: {exc})") from None
        if done.returncode != 0 or not done.stdout:
            msg = done.stderr.decode("utf-8", "replace").strip().splitlines()
            raise BackendError(f"espeak-ng failed for voice {voice!r}: {msg[0] if msg else 'no audio produced'}")
        wav, sr = sf.read(io.BytesIO(done.stdout), dtype="float32", always_2d=True)
        self.sample_rate = int(sr)
        return np.ascontiguousarray(wav.T[:1]), int(sr)
