"""Held notes (avshooter.audio.held_notes): a sung note holds its pitch, speech glides through it."""
from __future__ import annotations

import numpy as np

from avshooter.audio.held_notes import held_note_frames
from avshooter.audio.stft import stft

SR = 44100
N_FFT = 2048
HOP_S = N_FFT / 2 / SR


def _voice(f0: np.ndarray) -> np.ndarray:
    """A harmonic voice (12 partials, 1/k amplitudes) on the per-sample f0 contour ``f0`` (Hz)."""
    phase = 2 * np.pi * np.cumsum(f0) / SR
    return sum(np.sin(k * phase) / k for k in range(1, 13)).astype(np.float32) * 0.05


def _held(wav: np.ndarray, **kw) -> np.ndarray:
    magnitude = np.abs(stft(wav[None], N_FFT)[0])
    return held_note_frames(magnitude, SR, N_FFT, **{"min_s": 0.3, "semitones": 1.5, "voicing": 0.3, **kw})


def test_a_sung_note_with_vibrato_is_held_and_a_gliding_syllable_is_not():
    t = np.arange(int(1.2 * SR)) / SR
    note = 220.0 * 2 ** (0.5 * np.sin(2 * np.pi * 5.5 * t) / 12)        # +-0.5 semitone vibrato
    held = _held(_voice(note))
    inside = slice(int(0.2 / HOP_S), int(1.0 / HOP_S))
    assert held[inside].all()
    # speech intonation: the pitch moves 4 semitones a syllable (0.25 s), up and down
    glide = 180.0 * 2 ** (4 * np.abs(((t / 0.25) % 2) - 1) / 12)
    assert not _held(_voice(glide)).any()
    # too short to be a note, and silence
    short = np.concatenate([_voice(note[: int(0.2 * SR)]), np.zeros(int(1.0 * SR), np.float32)])
    assert not _held(short).any()
    assert not _held(np.zeros(SR, np.float32)).any()
    # a longer minimum: the 1.2 s note still qualifies, a 2 s minimum does not
    assert _held(_voice(note), min_s=1.0).any() and not _held(_voice(note), min_s=2.0).any()


def test_noise_is_not_a_note():
    rng = np.random.default_rng(0)
    assert not _held(rng.standard_normal(SR).astype(np.float32) * 0.05).any()
