"""BS.1770-4 / EBU R128 loudness, true peak and gain, checked against known values."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import signal

from avshooter.errors import InputError
from avshooter.audio.loudness import (
    gain_to_lufs,
    integrated_loudness,
    k_weighting_sos,
    loudness_range,
    sample_peak_dbfs,
    true_peak_dbtp,
)


def _sine(freq_hz, amp_dbfs, seconds, sr, channels=2, phase=0.0):
    t = np.arange(int(seconds * sr)) / sr
    x = 10 ** (amp_dbfs / 20) * np.sin(2 * np.pi * freq_hz * t + phase)
    return np.tile(x, (channels, 1)).astype(np.float32)


def test_k_weighting_matches_bs1770_table_at_48k():
    sos = k_weighting_sos(48000)
    np.testing.assert_allclose(sos[0, :3], [1.53512485958697, -2.69169618940638, 1.19839281085285], atol=1e-8)
    np.testing.assert_allclose(sos[0, 4:], [-1.69065929318241, 0.73248077421585], atol=1e-8)
    np.testing.assert_allclose(sos[1, 4:], [-1.99004745483398, 0.99007225036621], atol=1e-8)


@pytest.mark.parametrize("sr", [48000, 44100, 32000, 22050, 16000])
def test_ebu_stereo_1k_sine_at_minus_23(sr):
    # EBU Tech 3341 test 1: stereo 1 kHz sine, -23 dBFS per channel -> -23.0 LUFS +- 0.1
    x = _sine(1000, -23.0, 20, sr)
    assert integrated_loudness(x, sr) == pytest.approx(-23.0, abs=0.1)


def test_mono_is_3db_below_stereo_and_gating_ignores_silence():
    sr = 48000
    stereo = _sine(1000, -23.0, 10, sr)
    mono = stereo[:1]
    assert integrated_loudness(mono, sr) == pytest.approx(integrated_loudness(stereo, sr) - 3.01, abs=0.02)
    # EBU test 3-style: tone, then a long quiet part below the relative gate -> still the tone's level
    quiet = _sine(1000, -60.0, 20, sr)
    both = np.concatenate([stereo, quiet], axis=1)
    assert integrated_loudness(both, sr) == pytest.approx(-23.0, abs=0.1)


def test_silence_and_tiny_inputs():
    sr = 44100
    zeros = np.zeros((2, sr), np.float32)
    assert integrated_loudness(zeros, sr) == -math.inf
    assert sample_peak_dbfs(zeros) == -math.inf
    assert true_peak_dbtp(zeros, sr) == -math.inf
    assert gain_to_lufs(zeros, sr, -23.0) == 0.0
    noise = (np.random.default_rng(0).standard_normal((2, sr)) * 1e-4).astype(np.float32)  # -80 dBFS
    assert integrated_loudness(noise, sr) == -math.inf  # below the -70 LUFS absolute gate
    short = _sine(1000, -23.0, 0.2, sr)  # shorter than one 400 ms block: measured as one block
    assert integrated_loudness(short, sr) == pytest.approx(-23.0, abs=0.3)
    assert integrated_loudness(np.zeros((1, 0), np.float32), sr) == -math.inf


def test_gain_to_lufs_reaches_target():
    sr = 44100
    x = (np.random.default_rng(1).standard_normal((2, sr * 5)) * 0.05).astype(np.float32)
    gain_db = gain_to_lufs(x, sr, -16.0)
    y = x * np.float32(10 ** (gain_db / 20))
    assert integrated_loudness(y, sr) == pytest.approx(-16.0, abs=0.01)


def test_peaks():
    sr = 44100
    # a sine at fs/4 sampled at 45 degrees: samples at 0.707 A, true peak A (+3.01 dB)
    x = _sine(sr / 4, -6.0, 1, sr, channels=1, phase=np.pi / 4)
    assert sample_peak_dbfs(x) == pytest.approx(-9.01, abs=0.02)
    assert true_peak_dbtp(x, sr) == pytest.approx(-6.0, abs=0.15)
    y = _sine(997, -20.0, 1, sr)
    assert true_peak_dbtp(y, sr) == pytest.approx(-20.0, abs=0.05)


@pytest.mark.parametrize("n", [1, 7, 1023, 1024, 1025, 30000])
def test_true_peak_pruning_equals_full_oversampling(n):
    rng = np.random.default_rng(n)
    x = (rng.standard_normal((2, n)) * rng.random((2, n)) ** 4).astype(np.float32)
    taps = (signal.firwin(64, 0.25, window=("kaiser", 6.0)) * 4).astype(np.float32)
    full = max(np.abs(signal.upfirdn(taps, x, up=4, axis=1)).max(), np.abs(x).max())
    assert true_peak_dbtp(x, 44100) == pytest.approx(20 * np.log10(full), abs=1e-4)


def test_loudness_range_of_two_levels():
    sr = 16000
    x = np.concatenate([_sine(1000, -20.0, 20, sr), _sine(1000, -30.0, 20, sr)], axis=1)
    assert loudness_range(x, sr) == pytest.approx(10.0, abs=0.2)  # EBU Tech 3342 test 1: 10 LU +- 1
    assert loudness_range(_sine(1000, -20.0, 10, sr), sr) == pytest.approx(0.0, abs=0.1)


@pytest.mark.parametrize(
    "wav, sr",
    [
        (np.zeros(100, np.float32), 16000),                 # 1-D
        (np.zeros((1, 100), np.int16), 16000),              # not float
        (np.full((1, 100), np.nan, np.float32), 16000),     # NaN
        (np.zeros((1, 100), np.float32), 0),                # bad rate
        (np.zeros((1, 100), np.float32), 44100.0),          # float rate
        ([[0.0, 0.0]], 16000),                              # not an array
    ],
)
def test_bad_input_raises_input_error(wav, sr):
    with pytest.raises(InputError):
        integrated_loudness(wav, sr)


def test_bad_target():
    x = np.zeros((1, 100), np.float32)
    for bad in (float("nan"), 5.0, -100.0, "loud"):
        with pytest.raises(InputError):
            gain_to_lufs(x, 16000, bad)
