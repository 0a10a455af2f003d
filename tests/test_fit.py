"""Fitting clips to shots, to the sample: trim/pad/loop, crossfades, chunk plans, drift-free shot spans."""
from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from avshooter.errors import InputError, ShotError
from avshooter.audio.fit import (
    chunk_plan,
    crossfade_concat,
    fit_to_duration,
    shot_sample_spans,
)
from avshooter.units import to_samples

SR = 44100


def _noise(n, channels=2, seed=0):
    return np.random.default_rng(seed).standard_normal((channels, n)).astype(np.float32) * 0.1


@pytest.mark.parametrize("mode", ["trim", "pad", "loop"])
@pytest.mark.parametrize("n_in,n_out", [(1000, 1000), (50000, 44100), (20000, 44101), (1, 5), (0, 7), (30, 0)])
def test_fit_gives_exact_length_float32(mode, n_in, n_out):
    out = fit_to_duration(_noise(n_in), SR, num_samples=n_out, mode=mode)
    assert out.shape == (2, n_out) and out.dtype == np.float32


def test_trim_fades_out_and_keeps_the_head():
    x = np.ones((1, 10000), np.float32)
    out = fit_to_duration(x, SR, num_samples=5000, fade_s=0.01)
    fade = to_samples(0.01, SR)
    np.testing.assert_array_equal(out[:, : 5000 - fade], 1.0)
    assert out[0, -1] == pytest.approx(0.0, abs=1e-6)
    assert np.all(np.diff(out[0, -fade:]) <= 0)


def test_pad_is_silence_after_a_fade():
    x = np.ones((2, 1000), np.float32)
    out = fit_to_duration(x, SR, num_samples=3000, fade_s=0.005, mode="pad")
    assert np.all(out[:, 1000:] == 0)
    assert out[0, 999] == pytest.approx(0.0, abs=1e-6) and out[0, 0] == 1.0


def test_loop_repeats_with_crossfade_and_no_gap():
    x = _noise(4410, channels=1)
    out = fit_to_duration(x, SR, num_samples=SR, fade_s=0.02, mode="loop")
    np.testing.assert_array_equal(out[:, :3000], x[:, :3000])
    # no silent gap anywhere except the final fade
    frame = 441
    body = out[:, : SR - to_samples(0.02, SR)]
    rms = np.sqrt((body[:, : body.shape[1] // frame * frame].reshape(-1, frame) ** 2).mean(axis=1))
    assert rms.min() > 0.03


def test_fit_rejects_bad_input():
    with pytest.raises(InputError, match="NaN"):
        fit_to_duration(np.full((1, 10), np.nan, np.float32), SR, num_samples=5)
    with pytest.raises(InputError, match="mode"):
        fit_to_duration(_noise(10), SR, num_samples=5, mode="stretch")
    with pytest.raises(InputError, match="num_samples"):
        fit_to_duration(_noise(10), SR, num_samples=-1)
    with pytest.raises(InputError, match="shape"):
        fit_to_duration(np.zeros(10, np.float32), SR, num_samples=5)


def test_crossfade_concat_length_and_equal_power():
    x = to_samples(0.1, SR)
    chunks = [_noise(SR, seed=k) for k in range(3)]
    out = crossfade_concat(chunks, SR, crossfade_s=0.1)
    assert out.shape == (2, 3 * SR - 2 * x)
    # uncorrelated noise keeps its power through the join (equal-power fades)
    join = out[:, SR - x: SR]
    outside = out[:, : SR - x]
    assert np.mean(join**2) == pytest.approx(np.mean(outside**2), rel=0.15)
    # a constant stays within +3 dB at the join (sin + cos <= sqrt 2)
    ones = crossfade_concat([np.ones((1, 1000), np.float32)] * 2, SR, crossfade_samples=100)
    assert ones.max() <= np.sqrt(2) + 1e-5 and ones.shape == (1, 1900)


def test_crossfade_concat_rejects_mismatch():
    with pytest.raises(InputError, match="channels"):
        crossfade_concat([_noise(1000, 1), _noise(1000, 2)], SR, crossfade_s=0.001)
    with pytest.raises(InputError, match="shorter"):
        crossfade_concat([_noise(10), _noise(1000)], SR, crossfade_s=0.01)
    with pytest.raises(InputError, match="empty"):
        crossfade_concat([], SR, crossfade_s=0.01)


@pytest.mark.parametrize("duration_s", [3.0, 10.0, 10.01, 23.7, 47.123456])
@pytest.mark.parametrize("sr", [16000, 44100, 48000])
def test_chunk_plan_to_the_sample(duration_s, sr):
    max_chunk, xfade = 10.0, 0.5
    plan = chunk_plan(duration_s, max_chunk_s=max_chunk, crossfade_s=xfade, sample_rate=sr)
    assert all(length <= max_chunk + 1e-9 for _, length in plan)
    assert plan[0][0] == 0.0
    for (a, la), (b, _) in zip(plan, plan[1:]):
        assert a + la - b == pytest.approx(xfade, abs=1.5 / sr)  # consecutive chunks overlap by the crossfade
    chunks = [_noise(to_samples(length, sr), 1, seed=k) for k, (_, length) in enumerate(plan)]
    joined = crossfade_concat(chunks, sr, crossfade_s=xfade)
    assert joined.shape[1] == to_samples(duration_s, sr)
    # without a sample rate: the same number of chunks, then fit absorbs the rounding
    loose = chunk_plan(duration_s, max_chunk_s=max_chunk, crossfade_s=xfade)
    assert len(loose) == len(plan)
    chunks = [_noise(to_samples(length, sr), 1) for _, length in loose]
    fitted = fit_to_duration(crossfade_concat(chunks, sr, crossfade_s=xfade), sr,
                             num_samples=to_samples(duration_s, sr))
    assert fitted.shape[1] == to_samples(duration_s, sr)


def test_chunk_plan_rejects_bad_values():
    with pytest.raises(InputError, match="max_chunk_s"):
        chunk_plan(20.0, max_chunk_s=0.5, crossfade_s=0.5)
    with pytest.raises(InputError, match="duration_s"):
        chunk_plan(0.0, max_chunk_s=10, crossfade_s=0.5)


@pytest.mark.parametrize("fps", [Fraction(24000, 1001), Fraction(30000, 1001), 24, 25, 30, Fraction(60000, 1001)])
@pytest.mark.parametrize("sr", [16000, 22050, 44100, 48000])
def test_shot_spans_do_not_drift(fps, sr):
    frames = np.random.default_rng(3).integers(40, 200, size=30)
    fps_f = float(fps)
    for durations in ([int(f) / fps_f for f in frames], [Fraction(int(f)) / fps for f in frames]):
        spans = shot_sample_spans(durations, sr)
        total_s = sum(durations)
        assert sum(b - a for a, b in spans) == to_samples(total_s, sr)
        assert spans[0][0] == 0 and all(spans[i][1] == spans[i + 1][0] for i in range(len(spans) - 1))
        # each shot within one sample of its own rounded duration
        assert all(abs((b - a) - to_samples(d, sr)) <= 1 for (a, b), d in zip(spans, durations))
    # the same from (start, end) frame boundaries: the video's total, to the sample
    edges = np.concatenate([[0], np.cumsum(frames)])
    pairs = [(int(a) / fps_f, int(b) / fps_f) for a, b in zip(edges[:-1], edges[1:])]
    spans = shot_sample_spans(pairs, sr)
    assert spans[-1][1] == to_samples(int(edges[-1]) / fps_f, sr)
    assert sum(b - a for a, b in spans) == to_samples(int(edges[-1]) / fps_f, sr)


def test_shot_spans_reject_bad_shots():
    with pytest.raises(ShotError, match="shot 1"):
        shot_sample_spans([1.0, 0.0, 2.0], SR)
    with pytest.raises(ShotError, match="overlap"):
        shot_sample_spans([(0.0, 2.0), (1.5, 3.0)], SR)
    with pytest.raises(ShotError, match="no shots"):
        shot_sample_spans([], SR)
    with pytest.raises(ShotError, match="shot 0"):
        shot_sample_spans([("a", "b")], SR)
