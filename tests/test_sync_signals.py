"""Whole-window sync signals of issue 19, round five: the level's rise, the directogram and its visual
impulses, the estimator reading the level's rise, and benchmarks/bench_sync_signals.py's scoring."""
from __future__ import annotations

import numpy as np
import pytest
from conftest import load_script

from avshooter.audio.onsets import energy_rise, onset_strength
from avshooter.errors import InputError
from avshooter.generation.offset import ESTIMATOR, estimate_av_offset
from avshooter.media.visual_events import cell_motion, deceleration_signal, directogram
from avshooter.units import to_samples

SR = 16000
FPS = 24.0


def _square_path(positions, h=90, w=160, size=16) -> np.ndarray:
    """Grey frames of a bright square whose top-left corner is at ``positions[i] = (y, x)`` in frame ``i``."""
    frames = np.full((len(positions), h, w), 30, np.uint8)
    for i, (y, x) in enumerate(positions):
        frames[i, y: y + size, x: x + size] = 220
    return frames


def test_energy_rise_fires_where_the_level_rises_on_the_onset_grid():
    wav = np.zeros((1, to_samples(2.0, SR)), np.float32)
    t = np.arange(to_samples(0.3, SR)) / SR
    wav[0, to_samples(1.0, SR): to_samples(1.3, SR)] = 0.3 * np.sin(2 * np.pi * 440 * t)
    rise, times = energy_rise(wav, SR)
    assert np.array_equal(times, onset_strength(wav, SR)[1])  # one grid for both envelopes
    assert rise.min() >= 0.0
    assert abs(times[int(np.argmax(rise))] - 1.0) <= 0.015
    assert rise[times > 1.35].max() == 0.0  # the fall at 1.3 s is no rise
    quiet = energy_rise(wav * 1e-6, SR)[0]  # the same burst far under -80 dBFS: next to nothing
    assert quiet.max() < 0.01 * rise.max()
    assert energy_rise(np.zeros((1, 100), np.float32), SR)[0].size == 0


def test_directogram_bins_the_flow_by_direction():
    right = [(30, 40 + 3 * i) for i in range(4)]
    down = [(30 + 3 * i, 49) for i in range(1, 4)]
    d = directogram(_square_path(right + down))
    assert d.shape == (7, 8) and not d[0].any()
    assert set(np.argmax(d[1:4], axis=1)) == {0}  # moving right: bin 0
    assert set(np.argmax(d[4:], axis=1)) == {2}  # moving down the picture (rows grow): bin 2
    assert not directogram(_square_path([(30, 40)] * 5)).any()  # nothing moves


def test_deceleration_fires_on_the_frame_where_motion_stops():
    falling = [(10 + 4 * i, 70) for i in range(8)]  # lands at frame 7 and rests there
    frames = _square_path(falling + [falling[-1]] * 6)
    v = deceleration_signal(frames)
    assert v.shape == (14,) and v.min() >= 0.0 and v[0] == 0.0 and v[-1] == 0.0
    assert int(np.argmax(v)) == 7
    assert v[2:6].max() < 0.1 * v[7]  # steady motion: no impulse
    m = cell_motion(frames)
    assert m.shape == (14, 48) and not m[0].any() and not m[9:].any()


def test_the_estimator_reads_the_level_rise_when_asked():
    rng = np.random.default_rng(3)
    events = np.sort(rng.choice(np.arange(12, 132), size=8, replace=False)) / FPS
    frames = np.arange(144) / FPS
    v = np.zeros(144)
    v[np.round(events * FPS).astype(int)] = 1.0
    wav = rng.standard_normal((1, to_samples(6.0, SR))).astype(np.float32) * 1e-3
    burst = rng.standard_normal(to_samples(0.08, SR)) * np.exp(-np.arange(to_samples(0.08, SR)) / SR / 0.015) * 0.5
    for at in events + 0.25:
        i = to_samples(at, SR)
        wav[0, i: i + burst.size] += burst[: wav.shape[1] - i]
    est = estimate_av_offset(v, frames, wav, SR, sound="energy")
    assert est.shift_s == pytest.approx(-0.25, abs=1 / FPS) and not est.abstained
    assert est.estimator == f"{ESTIMATOR}+energy"
    assert estimate_av_offset(v, frames, wav, SR).estimator == ESTIMATOR
    with pytest.raises(InputError, match="sound"):
        estimate_av_offset(v, frames, wav, SR, sound="loudness")


@pytest.fixture(scope="module")
def signals_bench():
    return load_script("benchmarks/bench_sync_signals.py")


def test_the_information_score_counts_peaks_at_the_truth_not_slopes(signals_bench):
    lags = signals_bench.LAGS
    peak = np.exp(-(lags / 0.01) ** 2)
    s = signals_bench._score([peak])
    assert s["within 2 frames %"] == 100 and s["in sync within 1 frame %"] == 100
    assert s["mean curve peaks at s"] == 0.0
    slope = lags.copy()  # its maximum over every search is at the search's edge: never a hit
    s = signals_bench._score([slope])
    assert s["within 2 frames %"] == 0 and s["in sync within 1 frame %"] == 0
