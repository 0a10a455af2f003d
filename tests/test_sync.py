"""Sync: audio onsets, offset estimation, the shift decision, and syncing thuds to the demo clip's bounces."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from avshooter.errors import InputError
from avshooter.generation.sync import apply_shift, audio_onsets, estimate_offset, sync_effects
from avshooter.media.decode import load_audio
from avshooter.media.visual_events import sharp_events
from avshooter.units import to_samples

SR = 44100


@pytest.fixture(scope="module")
def ball_shot(demo):
    """Shot 3 (the bouncing ball): window, true impact times (shot-local) and the true thud audio."""
    truth = demo["truth_data"]
    shot = truth["shots"][2]
    wav, sr = load_audio(demo["video"])
    clip = wav[:, to_samples(shot["start_s"], sr): to_samples(shot["end_s"], sr)]
    impacts = [t - shot["start_s"] for t in shot["impact_times_s"]]
    return {"shot": shot, "impacts": impacts, "wav": clip, "sr": sr, "fps": truth["fps"]}


def test_audio_onsets_of_the_true_thuds_within_a_millisecond(ball_shot):
    onsets = audio_onsets(ball_shot["wav"], ball_shot["sr"])
    assert len(onsets) == len(ball_shot["impacts"])
    assert np.max(np.abs(np.array(onsets) - ball_shot["impacts"])) <= 0.002


@pytest.mark.parametrize("offset_s", [0.3, -0.2])
def test_sync_moves_shifted_thuds_onto_the_impacts(demo, ball_shot, offset_s):
    shot, sr = ball_shot["shot"], ball_shot["sr"]
    events, times = sharp_events(demo["video"], start_s=shot["start_s"], end_s=shot["end_s"])
    late = apply_shift(ball_shot["wav"], sr, offset_s)
    synced, report = sync_effects(late, sr, [e.time_s for e in events], times, max_shift_s=0.5)
    assert synced.shape == late.shape and synced.dtype == np.float32
    frame = 1 / ball_shot["fps"]
    assert report["offset_before_s"] >= abs(offset_s) - frame  # it was badly off
    assert report["offset_after_s"] <= frame                   # and is within one frame now
    assert report["shift_s"] == pytest.approx(-offset_s, abs=frame)
    assert report["matched"] >= len(ball_shot["impacts"]) - 1 and report["note"] is None
    assert report["rejected_shift_s"] is None
    assert report["evidence"]["abstained"] is False and report["evidence"]["p_peak"] <= 0.01
    # measured against the truth too, not only against our own events
    after = audio_onsets(synced, sr)
    residual = [min(abs(o - t) for t in ball_shot["impacts"]) for o in after]
    assert np.median(residual) <= frame


def test_nothing_to_align_gives_zero_shift():
    wav = np.random.default_rng(0).standard_normal((1, SR)).astype(np.float32) * 0.1
    frames = np.arange(24) / 24
    out, report = sync_effects(wav, SR, [], frames)
    assert report["shift_s"] == 0.0 and report["events"] == 0 and "no visual events" in report["note"]
    np.testing.assert_array_equal(out, wav)
    out, report = sync_effects(np.zeros((2, SR), np.float32), SR, [0.2, 0.5], frames)
    assert report["shift_s"] == 0.0 and report["onsets"] == 0 and "no audio onsets" in report["note"]
    assert report["offset_before_s"] is None
    assert estimate_offset([], [1.0]) == 0.0 and estimate_offset([1.0], []) == 0.0


def test_estimate_offset_is_bounded_and_ignores_outliers():
    events = np.array([0.5, 1.3, 2.0, 2.9, 3.4])
    onsets = events - 0.12
    assert estimate_offset(events, np.append(onsets, [0.05, 3.9])) == pytest.approx(0.12, abs=1e-9)
    # the true offset lies outside the window: no shift is invented
    assert abs(estimate_offset(events, events - 0.8, max_shift_s=0.5)) <= 0.5
    assert estimate_offset([1.0], [0.1], max_shift_s=0.5) == 0.0
    with pytest.raises(InputError, match="max_shift_s"):
        estimate_offset(events, onsets, max_shift_s=-1)


def test_apply_shift_keeps_length():
    wav = np.arange(10, dtype=np.float32)[None, :]
    sr = 10
    np.testing.assert_array_equal(apply_shift(wav, sr, 0.3), [[0, 0, 0, 0, 1, 2, 3, 4, 5, 6]])
    np.testing.assert_array_equal(apply_shift(wav, sr, -0.2), [[2, 3, 4, 5, 6, 7, 8, 9, 0, 0]])
    np.testing.assert_array_equal(apply_shift(wav, sr, 5.0), np.zeros((1, 10)))
    np.testing.assert_array_equal(apply_shift(wav, sr, 0.0), wav)


def test_onsets_of_clicks_to_the_millisecond():
    rng = np.random.default_rng(1)
    wav = (rng.standard_normal((2, 3 * SR)) * 1e-4).astype(np.float32)
    truth = [0.25, 0.8123, 1.5, 2.2222]
    t = np.arange(to_samples(0.2, SR)) / SR
    for k, at in enumerate(truth):
        i = to_samples(at, SR)
        burst = rng.standard_normal(t.size) * np.exp(-t / 0.02) * (0.3 + 0.2 * k)
        wav[:, i: i + t.size] += burst.astype(np.float32)
    onsets = audio_onsets(wav, SR)
    assert len(onsets) == len(truth)
    assert np.max(np.abs(np.array(onsets) - truth)) <= 0.001


def test_sync_pulls_shifted_effects_back(demo, demo_out):
    """generate's sync step (visual events of the shot video -> anchor times -> sync_effects) on the ball's
    own separated thuds, delayed 0.3 s: undone within a frame. Moved from test_generate, which called the
    pipeline's private helper; the pipeline now only records what these public calls return."""
    import soundfile as sf

    stem, sr = sf.read(demo_out / "demo" / "audio" / "0002" / "effects.flac", always_2d=True)
    late = apply_shift(stem.T.astype(np.float32), sr, 0.3)
    events, times = sharp_events(demo["shots"] / "shot_002.mp4", start_s=0.0, end_s=4.5)
    _, report = sync_effects(late, sr, [e.time_s for e in events], times, max_shift_s=0.5)
    assert report["offset_before_s"] > 0.25 and report["offset_after_s"] <= 1 / demo["truth_data"]["fps"]


def test_rejection_rule_on_a_clip_whose_shift_makes_it_worse(monkeypatch):
    """sync_effects itself holds the rule: a shift that does not lower the median offset is not applied."""
    import avshooter.generation.offset as offset
    import avshooter.generation.sync as sync

    wav = np.zeros((1, 3 * SR), np.float32)
    for at in (0.5, 1.5, 2.5):
        wav[0, to_samples(at, SR): to_samples(at, SR) + 200] = 0.8
    events, frames = [0.5, 1.5, 2.5], np.arange(72) / 24
    real = offset.estimate_av_offset

    def forced(shift):  # a confident estimate of ``shift``, whatever the data say
        def estimate(*a, **k):
            return replace(real(*a, **k), shift_s=shift, abstained=False, reason=None)
        return estimate

    monkeypatch.setattr(offset, "estimate_av_offset", forced(0.2))  # a bad estimate, forced
    out, report = sync.sync_effects(wav, SR, events, frames)
    np.testing.assert_array_equal(out, wav)
    assert report["shift_s"] == 0.0 and report["rejected_shift_s"] == pytest.approx(0.2)
    assert report["offset_after_s"] == report["offset_before_s"] <= 0.002
    assert report["matched"] == 3 and "rejected" in report["note"]
    monkeypatch.setattr(offset, "estimate_av_offset", forced(-0.1))  # a good one is kept
    late = apply_shift(wav, SR, 0.1)
    out, report = sync.sync_effects(late, SR, events, frames)
    assert report["shift_s"] == pytest.approx(-0.1, abs=0.002) and report["rejected_shift_s"] is None
    assert report["offset_after_s"] < report["offset_before_s"]
