"""The one resampling helper: layout kept, float32 out, lengths as soxr gives them."""
from __future__ import annotations

import numpy as np
import pytest

from avshooter.audio.resample import resample


@pytest.mark.parametrize("shape", [(44100,), (1, 44100), (2, 44100)])
def test_layout_and_length(shape):
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32) * 0.1
    y = resample(x, 44100, 16000)
    assert y.dtype == np.float32 and y.flags.c_contiguous
    assert y.shape[:-1] == x.shape[:-1] and y.shape[-1] == 16000


def test_tone_survives_and_channels_stay_apart():
    sr = 48000
    t = np.arange(sr) / sr
    x = np.stack([np.sin(2 * np.pi * 440 * t), np.zeros_like(t)]).astype(np.float32)
    y = resample(x, sr, 22050)
    spectrum = np.abs(np.fft.rfft(y[0]))
    assert abs(np.argmax(spectrum) * 22050 / y.shape[1] - 440) < 2
    assert np.abs(y[1]).max() == 0.0


def test_equal_rates_and_empty():
    x = np.ones((2, 10), np.float32)
    assert resample(x, 16000, 16000) is x or np.array_equal(resample(x, 16000, 16000), x)
    assert resample(np.zeros((2, 0), np.float32), 44100, 16000).shape == (2, 0)
