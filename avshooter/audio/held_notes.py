"""Held notes: the frames where a voice (or an instrument) holds one pitch like a sung note.

Speech does not hold a pitch: its f0 moves through every syllable (a syllable's voiced nucleus lasts
~0.1-0.25 s and glides), while a sung note stays on one pitch for 0.3 s and more, give or take its
vibrato (+-0.5 semitone at ~5.5 Hz; Sundberg, *The Science of the Singing Voice*, 1987). Pitch
stability and note duration are the classic cues of speech / singing discrimination (e.g. Gerhard 2003,
"Pitch-based acoustic feature analysis for the discrimination of speech and monophonic singing").

:func:`held_note_frames` tracks the pitch of a magnitude spectrogram (:func:`.harmonic.pitch_track`) and
marks every frame inside a window of at least ``min_s`` whose frames are all voiced and stay within
``semitones`` of each other. The separator asks it about the dialogue estimate where no confident word
of the transcript confirms speech (silero-vad fires on sung vocals; the enhancer keeps them as voice).
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .harmonic import pitch_track

__all__ = ["held_note_frames"]


def held_note_frames(magnitude: np.ndarray, sample_rate: int, n_fft: int, *, min_s: float, semitones: float,
                     voicing: float, f0_min_hz: float = 70.0, f0_max_hz: float = 1000.0,
                     max_hz: float = 4000.0) -> np.ndarray:
    """Boolean per frame of ``magnitude`` ``(bins, frames)`` (hop ``n_fft // 2``): inside a held note.

    A frame is voiced when the pitch salience (harmonic sum minus half-way sum over the band's mean
    magnitude, :func:`.harmonic.pitch_track`) reaches ``voicing``; a held note is a run of at least
    ``min_s`` of voiced frames whose f0 spans at most ``semitones`` (max - min).
    """
    n_frames = magnitude.shape[1]
    hop_s = (n_fft // 2) / sample_rate
    length = max(2, int(round(min_s / hop_s)))
    if n_frames < length or not np.any(magnitude):
        return np.zeros(n_frames, bool)
    f0, salience = pitch_track(magnitude, sample_rate, n_fft, f0_min_hz=f0_min_hz, f0_max_hz=f0_max_hz,
                               max_hz=max_hz, smooth_frames=3)
    voiced = salience >= voicing
    note = 12.0 * np.log2(f0 / 440.0)
    windows = sliding_window_view(note, length)
    ok = sliding_window_view(voiced, length).all(axis=1) & (np.ptp(windows, axis=1) <= semitones)
    # a frame is held when some qualifying window covers it
    starts = np.zeros(n_frames, np.int32)
    starts[: ok.size] = ok
    return np.convolve(starts, np.ones(length, np.int32))[:n_frames] > 0
