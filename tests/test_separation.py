"""DSP separation: stems add back to the input, masks behave, speech gating, speed sanity."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from avshooter.errors import InputError
from avshooter.audio.separation import STEMS, SeparationParams, separate, separation_masks


def _mix(sr, seconds=3.0, channels=2, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    tone = 0.3 * np.sin(2 * np.pi * 220 * t) + 0.2 * np.sin(2 * np.pi * 660 * t)   # sustained, tonal
    clicks = np.zeros_like(t)
    clicks[:: sr // 4] = 0.9                                                    # 4 clicks per second
    noise = 0.01 * rng.standard_normal(t.shape)
    x = tone + clicks + noise
    return np.stack([x * (1.0 - 0.1 * c) for c in range(channels)]).astype(np.float32)


@pytest.mark.parametrize("channels", [1, 2, 6])
@pytest.mark.parametrize("n", [0, 1, 5, 511, 1024, 1025, 22051])
def test_stems_sum_to_input(channels, n):
    sr = 22050
    rng = np.random.default_rng(n + channels)
    x = (0.5 * rng.standard_normal((channels, n))).astype(np.float32)
    stems = separate(x, sr, speech_mask=[(0.0, 0.5)])
    assert set(stems) == set(STEMS)
    for stem in stems.values():
        assert stem.shape == x.shape and stem.dtype == np.float32
        assert np.isfinite(stem).all()
    assert np.abs(sum(stems.values()) - x).max(initial=0.0) <= 1e-4


def test_silence_gives_silent_stems():
    x = np.zeros((2, 44100), np.float32)
    stems = separate(x, 44100)
    for stem in stems.values():
        assert np.abs(stem).max() == 0.0


def test_masks_sum_to_one():
    rng = np.random.default_rng(3)
    power = rng.random((513, 200)).astype(np.float32) ** 4
    power[:, :5] = 0.0
    mh, mp, mr = separation_masks(power, 22050, 1024, SeparationParams())
    assert mh.shape == mp.shape == mr.shape == power.shape
    for m in (mh, mp, mr):
        assert m.min() >= 0.0 and m.max() <= 1.0
    np.testing.assert_allclose(mh + mp + mr, 1.0, atol=1e-6)


def test_tone_goes_to_music_and_clicks_to_effects_without_speech():
    sr = 22050
    x = _mix(sr)
    stems = separate(x, sr, speech_mask=[])
    assert np.abs(stems["dialogue"]).max() < 1e-6  # no speech anywhere: no dialogue
    energy = {k: float((v ** 2).sum()) for k, v in stems.items()}
    total = float((x ** 2).sum())
    # the tone carries most of the energy and is sustained: it lands in music
    t = np.arange(x.shape[1]) / sr
    tone = (0.3 * np.sin(2 * np.pi * 220 * t) + 0.2 * np.sin(2 * np.pi * 660 * t)).astype(np.float32)
    corr = np.dot(stems["music"][0], tone) / (np.linalg.norm(stems["music"][0]) * np.linalg.norm(tone))
    assert corr > 0.9
    assert energy["music"] > 0.5 * total
    # clicks: the effects stem peaks at the click times
    peaks = np.argsort(np.abs(stems["effects"][0]))[-4:]
    assert all(min(abs(p - k * (sr // 4)) for k in range(13)) < 64 for p in peaks)


def test_speech_mask_gates_dialogue_in_time():
    sr = 16000
    x = _mix(sr, seconds=4.0, channels=1)
    stems = separate(x, sr, speech_mask=[(1.0, 2.0)])
    d = stems["dialogue"][0]
    inside = float((d[int(1.1 * sr): int(1.9 * sr)] ** 2).mean())
    outside = float((d[int(2.5 * sr): int(3.9 * sr)] ** 2).mean())
    assert inside > 1000 * max(outside, 1e-20)
    # per-sample weights mean the same thing as ranges
    weights = np.zeros(x.shape[1], np.float32)
    weights[sr: 2 * sr] = 1.0
    same = separate(x, sr, speech_mask=weights)
    np.testing.assert_allclose(same["dialogue"], stems["dialogue"], atol=1e-6)
    # unknown (None): speech-band energy may be dialogue everywhere
    assert float((separate(x, sr)["dialogue"][0, int(2.5 * sr):] ** 2).mean()) > outside


def test_params_and_bad_input():
    p = dataclasses.replace(SeparationParams(), harmonic_kernel_s=0.3, margin=1.0)
    x = _mix(22050, seconds=1.0)
    out = separate(x, 22050, params=p)
    assert np.abs(sum(out.values()) - x).max() <= 1e-4
    with pytest.raises(InputError):
        SeparationParams(margin=0.5)
    with pytest.raises(InputError):
        SeparationParams(speech_low_hz=5000.0, speech_high_hz=4000.0)
    with pytest.raises(InputError):
        separate(x[0], 22050)                                  # 1-D
    with pytest.raises(InputError):
        separate(x, 22050, speech_mask=[(2.0, 1.0)])           # end before start
    with pytest.raises(InputError):
        separate(x, 22050, speech_mask=np.full(x.shape[1], 2.0))  # weight outside [0, 1]
    with pytest.raises(InputError):
        separate(x, 22050, speech_mask="speech")
