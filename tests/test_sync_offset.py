"""The whole-window offset estimator (issue 19), local impacts only, `avshooter sync`, and fades after a shift."""
from __future__ import annotations

import json

import numpy as np
import pytest

from avshooter.audio.fit import fit_to_duration
from avshooter.cli import main
from avshooter.errors import InputError
from avshooter.generation.offset import check_sync, estimate_av_offset
from avshooter.generation.sync import apply_shift, sync_effects
from avshooter.media.decode import load_audio
from avshooter.media.visual_events import visual_events
from avshooter.units import to_samples

SR = 16000
FPS = 24.0
FRAME = 1 / FPS


# ------------------------------------------------------------------------------- synthetic material
def _clicks(times_s, length_s, *, seed=0, noise=1e-3) -> np.ndarray:
    """Decaying noise bursts at ``times_s`` over a little background noise: (1, samples) float32."""
    rng = np.random.default_rng(seed)
    wav = rng.standard_normal((1, to_samples(length_s, SR))) * noise
    t = np.arange(to_samples(0.08, SR)) / SR
    for at in times_s:
        i = to_samples(at, SR)
        if 0 <= i < wav.shape[1]:
            burst = rng.standard_normal(t.size) * np.exp(-t / 0.015) * 0.5
            wav[0, i: i + t.size] += burst[: wav.shape[1] - i]
    return wav.astype(np.float32)


def _spikes(times_s, n_frames) -> tuple[np.ndarray, np.ndarray]:
    frames = np.arange(n_frames) / FPS
    v = np.zeros(n_frames)
    v[np.round(np.asarray(times_s) * FPS).astype(int)] = 1.0
    return v, frames


@pytest.fixture(scope="module")
def irregular():
    """Events at irregular frame times in a 6 s window (no period to alias with)."""
    rng = np.random.default_rng(7)
    frames = np.sort(rng.choice(np.arange(12, 132), size=8, replace=False))
    return frames / FPS


@pytest.mark.parametrize("delay_s", [0.37, -0.23, 2 * FRAME, -0.5])
def test_recovers_a_known_offset_within_a_frame(irregular, delay_s):
    v, frames = _spikes(irregular, 144)
    est = estimate_av_offset(v, frames, _clicks(irregular + delay_s, 6.0), SR)
    assert not est.abstained and est.reason is None
    assert est.shift_s == pytest.approx(-delay_s, abs=FRAME)
    assert est.p_peak <= 0.01 and est.p_zero <= 0.01 and est.margin > 0


def test_in_sync_is_left_alone_and_says_so(irregular):
    v, frames = _spikes(irregular, 144)
    est = estimate_av_offset(v, frames, _clicks(irregular, 6.0), SR)
    assert est.shift_s == 0.0 and not est.abstained and "in sync" in est.reason
    assert abs(est.best_shift_s) <= FRAME


def test_unrelated_sound_is_not_moved_more_often_than_chance(irregular):
    """20 unrelated soundtracks (clicks at other random times): at alpha = 0.01 none is expected to move."""
    v, frames = _spikes(irregular, 144)
    rng = np.random.default_rng(11)
    moved = 0
    for k in range(20):
        other = np.sort(rng.uniform(0.2, 5.8, size=8))
        est = estimate_av_offset(v, frames, _clicks(other, 6.0, seed=k), SR)
        moved += est.shift_s != 0.0
    assert moved <= 1


def test_periodic_events_take_the_smaller_of_two_equal_shifts():
    """Bounces every 0.75 s, thuds 0.3 s late: +0.45 s fits as well as -0.3 s; the smaller one is taken."""
    times = np.arange(0.5, 5.5, 0.75)
    v, frames = _spikes(times, 144)
    est = estimate_av_offset(v, frames, _clicks(times + 0.3, 6.0), SR)
    assert est.shift_s == pytest.approx(-0.3, abs=FRAME) and not est.abstained


def test_a_peak_just_past_the_limit_is_clipped_and_one_far_past_it_abstains(irregular):
    """The peak's place is known to about a frame: 10 ms past max_shift_s is the limit (v1 abstained),
    0.1 s past it is not a shift this search may make."""
    v, frames = _spikes(irregular, 144)
    est = estimate_av_offset(v, frames, _clicks(irregular + 0.51, 6.0), SR, max_shift_s=0.5)
    assert est.shift_s == -0.5 and not est.abstained and est.best_shift_s == pytest.approx(-0.51, abs=0.006)
    est = estimate_av_offset(v, frames, _clicks(irregular + 0.4, 6.0), SR, max_shift_s=0.3)
    assert est.shift_s == 0.0 and est.abstained and "outside" in est.reason


def test_a_few_events_under_weaker_sounds_are_found():
    """Issue 19, round three: three events in 4 s, each with its click, 20 weaker clicks elsewhere (a score
    under the effects). Until v2 any ripple of the cross-correlation could tie with the top peak (with three
    events the bootstrap tells almost nothing apart) and the one next to zero won: v1 found 5 of these 40
    shifts within a frame (13 %), v2 finds 37; an in-sync or unrelated soundtrack is still not moved."""
    found = kept = moved = 0
    for seed in range(10):
        events = np.sort(np.random.default_rng(seed).choice(np.arange(10, 86), size=3, replace=False)) / FPS
        v, frames = _spikes(events, 96)
        score = 0.1 * _clicks(np.sort(np.random.default_rng(seed + 50).uniform(0.05, 3.9, 20)), 4.0, seed=seed + 100)
        for delay in (0.3, -0.2, 0.45, -0.5):
            est = estimate_av_offset(v, frames, _clicks(events + delay, 4.0, seed=seed) + score, SR)
            found += abs(est.shift_s + delay) <= FRAME
        kept += estimate_av_offset(v, frames, _clicks(events, 4.0, seed=seed) + score, SR).shift_s == 0.0
        other = np.sort(np.random.default_rng(seed + 200).uniform(0.2, 3.8, 3))
        moved += estimate_av_offset(v, frames, _clicks(other, 4.0, seed=seed) + score, SR).shift_s != 0.0
    assert found >= 34 and kept == 10 and moved <= 1


def test_nothing_to_go_on_abstains():
    frames = np.arange(96) / FPS
    est = estimate_av_offset(np.zeros(96), frames, _clicks([1.0, 2.0], 4.0), SR)
    assert est.abstained and est.shift_s == 0.0 and "picture" in est.reason
    v, _ = _spikes([1.0, 2.0], 96)
    est = estimate_av_offset(v, frames, np.zeros((1, to_samples(4.0, SR)), np.float32), SR)
    assert est.abstained and est.shift_s == 0.0 and "onsets" in est.reason
    with pytest.raises(InputError, match="alpha"):
        estimate_av_offset(v, frames, _clicks([1.0], 4.0), SR, alpha=1.5)
    with pytest.raises(InputError, match="frame_times_s"):
        estimate_av_offset(v, frames[:-1], _clicks([1.0], 4.0), SR)


# ----------------------------------------------------------------------- picture: landings only
def _flicker(n=48, h=90, w=160):
    """A character drifting slowly sideways and a one-frame sparkle low in the picture at frames 10, 25, 37:
    the moving region's centre jumps down for one frame and back, which is not a landing."""
    yy, xx = np.mgrid[0:h, 0:w]
    frames = np.full((n, h, w), 200, np.uint8)
    for f in range(n):
        frames[f][(xx - 50 - f // 4) ** 2 + (yy - 40) ** 2 <= 12 ** 2] = 40
        if f in (10, 25, 37):
            frames[f][(xx - 120) ** 2 + (yy - 75) ** 2 <= 16] = 255
    return frames


def test_a_one_frame_jump_is_not_an_impact_but_a_landing_ball_is():
    """Before issue 19 each sparkle was an "impact" (and a sync anchor); on Big Buck Bunny's first 30 s
    the impacts went from 15 to 4."""
    assert [e for e in visual_events(_flicker(), fps=FPS) if e.kind == "impact"] == []
    n, period, first = 72, 18, 7  # the bouncing ball of tests/test_visual_events.py is still found
    ball = np.full((n, 90, 160), 200, np.uint8)
    yy, xx = np.mgrid[0:90, 0:160]
    for f in range(n):
        phase = ((f - first) % period) / period
        cy = 74 - 50 * 4 * phase * (1 - phase)
        ball[f][(xx - 20 - f) ** 2 + (yy - cy) ** 2 <= 36] = 30
    impacts = [e.time_s for e in visual_events(ball, fps=FPS) if e.kind == "impact"]
    assert impacts == pytest.approx([f / FPS for f in range(first, n, period)], abs=1e-9)


# -------------------------------------------------------------------------- the demo, API and CLI
@pytest.fixture(scope="module")
def ball(demo):
    shot = demo["truth_data"]["shots"][2]
    wav, sr = load_audio(demo["video"])
    return {"video": demo["video"], "start": shot["start_s"], "end": shot["end_s"], "wav": wav, "sr": sr}


def _window(ball, delay_s):
    a = to_samples(ball["start"] - delay_s, ball["sr"])
    return ball["wav"][:, a: a + to_samples(ball["end"] - ball["start"], ball["sr"])]


@pytest.mark.parametrize("delay_s", [0.0, 0.2, -0.1, FRAME])
def test_check_sync_on_the_demo_ball(ball, delay_s):
    est = check_sync(ball["video"], (_window(ball, delay_s), ball["sr"]), start_s=ball["start"], end_s=ball["end"])
    assert est.shift_s == pytest.approx(-delay_s, abs=FRAME) and not est.abstained


def test_check_sync_unrelated_sound_is_not_moved(ball, demo):
    """The music shot's soundtrack against the ball's picture."""
    music = demo["truth_data"]["shots"][1]
    a = to_samples(music["start_s"], ball["sr"])
    other = ball["wav"][:, a: a + to_samples(ball["end"] - ball["start"], ball["sr"])]
    est = check_sync(ball["video"], (other, ball["sr"]), start_s=ball["start"], end_s=ball["end"])
    assert est.shift_s == 0.0


def test_sync_command(ball, demo, tmp_path, capsys):
    import soundfile as sf

    late = tmp_path / "late.wav"
    sf.write(late, apply_shift(ball["wav"], ball["sr"], 0.2).T, ball["sr"])
    assert main(["sync", str(demo["video"]), "--audio", str(late), "--start", str(ball["start"]),
                 "--end", str(ball["end"]), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["shift_s"] == pytest.approx(-0.2, abs=FRAME) and out["abstained"] is False
    assert {"score", "margin", "p_peak", "p_zero", "reason", "estimator"} <= set(out)
    assert main(["sync", str(demo["video"]), "--start", str(ball["start"]), "--end", str(ball["end"])]) == 0
    assert "in sync" in capsys.readouterr().out
    assert main(["sync", str(demo["video"]), "--start", "5", "--end", "2"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("avshooter: error:") and "end_s" in err and len(err.strip().splitlines()) == 1


# --------------------------------------------------------------------- issue 16: fades after a shift
def test_a_shifted_clip_keeps_its_fades():
    """fit_to_duration fades the clip's end; a delay used to cut that fade off (a click at the shot
    boundary), an advance cut into a sound at the shot start. Fades now come after the shift."""
    rng = np.random.default_rng(0)
    loud = (rng.standard_normal((2, to_samples(3.0, SR))) * 0.3).astype(np.float32)
    clip = fit_to_duration(loud, SR, num_samples=to_samples(2.0, SR), fade_s=0.05)
    assert np.abs(clip[:, -1]).max() < 1e-3  # the fit's fade-out
    fade = to_samples(0.05, SR)
    late = apply_shift(clip, SR, 0.1, fade_s=0.05)
    assert np.abs(late[:, -1]).max() < 1e-3  # ends with its fade, no step at the boundary
    np.testing.assert_allclose(late[:, -fade:], clip[:, -fade - to_samples(0.1, SR): -to_samples(0.1, SR)]
                               * (0.5 + 0.5 * np.cos(np.pi * (np.arange(fade) + 1) / fade)), atol=1e-6)
    early = apply_shift(clip, SR, -0.1, fade_s=0.05)
    assert np.abs(early[:, 0]).max() == 0.0  # starts with a fade-in, no click at the shot start
    n = to_samples(0.1, SR)
    np.testing.assert_allclose(early[:, :fade], clip[:, n: n + fade]
                               * (0.5 - 0.5 * np.cos(np.pi * np.arange(fade) / fade)), atol=1e-6)
    np.testing.assert_array_equal(early[:, fade: -n], clip[:, n + fade:])


def test_sync_effects_fades_the_edge_it_cuts(ball):
    """The generate path: the ball's thuds 0.2 s early, the clip loud up to its end: after the shift
    (a delay of 0.2 s) the clip ends with a fade, not a cut."""
    clip = _window(ball, -0.2).copy()
    clip += 0.2 * np.random.default_rng(1).standard_normal(clip.shape).astype(np.float32)
    from avshooter.media.visual_events import sharp_events

    events, times = sharp_events(ball["video"], start_s=ball["start"], end_s=ball["end"])
    out, report = sync_effects(clip, ball["sr"], [e.time_s for e in events], times, fade_s=0.05)
    assert report["shift_s"] == pytest.approx(0.2, abs=0.002)
    assert np.abs(out[:, -1]).max() < 1e-3 < np.abs(clip[:, -1]).max()


def test_sync_alpha_is_in_the_config_and_its_hash():
    from avshooter.config import GenerateConfig, config_hash

    assert GenerateConfig().sync_alpha == 0.01
    assert config_hash(GenerateConfig(sync_alpha=0.05)) != config_hash(GenerateConfig())
    with pytest.raises(InputError, match="sync_alpha"):
        GenerateConfig(sync_alpha=0.0)


def test_the_sync_estimator_version_is_in_the_generate_hash(monkeypatch):
    """A changed estimator moves placed sounds differently: finished generate outputs must be redone."""
    from avshooter.config import GenerateConfig, config_hash
    from avshooter.generation import offset

    before, off = config_hash(GenerateConfig()), config_hash(GenerateConfig(sync=False))
    monkeypatch.setattr(offset, "ESTIMATOR", offset.ESTIMATOR + "-changed")
    assert config_hash(GenerateConfig()) != before
    assert config_hash(GenerateConfig(sync=False)) == off  # no sync: the estimator shapes nothing
