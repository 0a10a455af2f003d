"""tts: espeak-ng speech that the VAD hears, kokoro-ja at 24 kHz, the registry, and line placement to the sample."""
from __future__ import annotations

import numpy as np
import pytest

from avshooter.errors import BackendError, InputError
from avshooter.backends.speech import BACKENDS, load_tts, place_lines
from avshooter.units import to_samples
from avshooter.audio.vad import speech_ranges


def test_espeak_speaks():
    tts = load_tts("espeak", speed_wpm=170)
    wav, sr = tts.synthesize("Hello, my name is Hana. Watch my red ball bounce!")
    assert wav.dtype == np.float32 and wav.ndim == 2 and wav.shape[0] == 1 and sr == 22050
    ranges = speech_ranges(wav, sr)
    assert ranges and sum(e - s for s, e in ranges) > 1.0
    wav2, _ = tts.synthesize("-v starts with a dash")  # spoken, not parsed as an option
    assert wav2.shape[1] > sr // 2
    with pytest.raises(InputError, match="empty"):
        tts.synthesize("  ")


def test_espeak_missing_binary(monkeypatch):
    import shutil

    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(BackendError, match="apt-get install espeak-ng"):
        load_tts("espeak")


def test_kokoro_japanese():
    tts = load_tts("kokoro-ja")
    wav, sr = tts.synthesize("こんにちは。", voice="jm_kumo")
    assert sr == 24000 == tts.sample_rate and wav.dtype == np.float32 and wav.shape[0] == 1
    assert 0.3 * sr < wav.shape[1] < 3 * sr and np.abs(wav).max() > 0.05
    with pytest.raises(InputError, match="unknown kokoro-ja voice"):
        tts.synthesize("はい", voice="nobody")
    with pytest.raises(InputError, match="Japanese only"):
        tts.synthesize("hello", language="en")


def test_registry():
    assert set(BACKENDS) == {"espeak", "kokoro-ja"}
    with pytest.raises(InputError, match="unknown TTS backend 'x'"):
        load_tts("x")


def _line(seconds: float, sr: int, text: str, **kw) -> dict:
    return {"wav": np.ones((1, to_samples(seconds, sr)), np.float32), "sample_rate": sr, "text": text, **kw}


def test_place_lines_to_the_sample():
    sr = 48000
    track, placed = place_lines([_line(1.0, sr, "a"), _line(0.5, sr, "b")], 3.0, sr)
    assert track.shape == (1, 3 * sr)
    pause = (3 * sr - 72000) // 3
    assert [p["start_sample"] for p in placed] == [pause, pause + 48000 + pause]
    assert [p["end_sample"] - p["start_sample"] for p in placed] == [48000, 24000]
    assert track.sum() == 72000 and placed[0]["text"] == "a" and not placed[0]["trimmed"]
    # explicit start, next line after a gap; resampled from 24 kHz
    track, placed = place_lines([_line(0.5, 24000, "x", start_s=0.25), _line(0.5, sr, "y")], 2.0, sr, gap_s=0.1)
    assert placed[0]["start_sample"] == 12000 and placed[0]["end_sample"] == 36000
    assert placed[1]["start_sample"] == 36000 + 4800
    # too long: an error naming the line, or trimmed with a fade and flagged
    with pytest.raises(InputError, match="'long line'.*past the shot end"):
        place_lines([_line(1.0, sr, "long line", start_s=1.5)], 2.0, sr)
    with pytest.raises(InputError, match="dialogue lasts"):
        place_lines([_line(3.0, sr, "way too long")], 2.0, sr)
    track, placed = place_lines([_line(1.0, sr, "long line", start_s=1.5)], 2.0, sr, overflow="trim")
    assert placed[0]["trimmed"] and placed[0]["end_sample"] == 2 * sr == track.shape[1]
    assert track[0, -1] == 0.0 and track[0, 72000] == 1.0
    with pytest.raises(InputError, match="outside the shot"):
        place_lines([_line(0.1, sr, "late", start_s=5.0)], 2.0, sr)
