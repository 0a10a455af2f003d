"""Shot detection without a story: audio change points, the merge rules, and the file path annotate takes."""
from __future__ import annotations

import numpy as np
import pytest

from avshooter.errors import InputError, MediaError
from avshooter.annotation.shots import (
    AudioChangeParams,
    ShotParams,
    audio_change_points,
    detect_shots,
    detect_shots_from_file,
    merge_shots,
)


def _assert_tiles(shots, duration_s, min_shot_s=3.0):
    assert shots[0][0] == 0.0
    assert shots[-1][1] == pytest.approx(duration_s)
    for (a, b), (c, _) in zip(shots[:-1], shots[1:]):
        assert b == c
    assert all(b - a >= min_shot_s for a, b in shots) or len(shots) == 1


def test_caminandes_without_audio_is_one_shot(media):
    found = detect_shots_from_file(media / "video" / "caminandes1_10s_zwm.mp4")  # no audio stream: cuts only
    assert found.spans == [(0.0, pytest.approx(10.0, abs=0.05))]
    assert found.cuts_s == [] and found.audio_points_s == []


def test_bbb_shots_from_file_tile_and_keep_the_cuts(media):
    shots = detect_shots_from_file(media / "video" / "bbb_0-30s_moviepy.webm").spans
    _assert_tiles(shots, shots[-1][1])
    assert shots[-1][1] == pytest.approx(30.0, abs=0.05)
    starts = [a for a, _ in shots[1:]]
    for expected in (11.79, 15.67, 22.96):
        assert min(abs(s - expected) for s in starts) <= 0.25


def test_short_media_is_one_shot(media):
    shots = detect_shots_from_file(media / "video" / "bbb_432-433s_moviepy.webm").spans
    assert len(shots) == 1 and shots[0][0] == 0.0 and shots[0][1] == pytest.approx(1.0, abs=0.05)


def test_missing_file_is_a_media_error(tmp_path):
    with pytest.raises(MediaError):
        detect_shots_from_file(tmp_path / "nope.mp4")
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video")
    with pytest.raises(MediaError):
        detect_shots_from_file(bad)


def test_the_file_path_is_the_one_annotate_takes(media, tmp_path, monkeypatch):
    """`avshooter annotate` without a story calls media.cuts.video_cuts (its picture pass, beside the ASR)
    and shots.detect_shots; stop it right after detection and compare what it found with
    detect_shots_from_file (the one-pass decode_with_cuts) on the same file: the same cuts and shots."""
    import avshooter.annotation.shots as shots_module
    import avshooter.media.cuts as cuts_module
    from avshooter.cli import main

    calls = {}

    class Stop(BaseException):  # not an Exception: passes through the CLI's error handling
        pass

    real_cuts, real_detect = cuts_module.video_cuts, shots_module.detect_shots

    def spy_cuts(*args, **kwargs):
        cuts, last = real_cuts(*args, **kwargs)
        calls["cuts"] = (kwargs.get("threads"), cuts)
        return cuts, last

    def spy_detect(*args, **kwargs):
        calls["detect"] = real_detect(*args, **kwargs)
        raise Stop

    monkeypatch.setattr(cuts_module, "video_cuts", spy_cuts)
    monkeypatch.setattr(shots_module, "detect_shots", spy_detect)
    video = media / "video" / "bbb_0-30s_moviepy.webm"
    with pytest.raises(Stop):
        main(["annotate", str(video), "--out", str(tmp_path), "--no-progress", "--no-context"])
    # the cuts of the one-pass decode; this clip has no speech, so no ASR thread runs beside the picture
    # pass and its decoder takes every CPU (the one-thread case: tests/test_threads.py)
    assert calls["cuts"] == (0, [11.795, 15.67, 22.961])
    monkeypatch.undo()
    assert detect_shots_from_file(video) == calls["detect"]


# ---------------------------------------------------------------- audio change points
def test_audio_change_points_finds_a_switch_and_nothing_in_steady_sound():
    sr = 16000
    rng = np.random.default_rng(0)
    noise = 0.05 * rng.standard_normal(sr * 6)
    tone = 0.3 * np.sin(2 * np.pi * 440 * np.arange(sr * 6) / sr)
    wav = np.concatenate([noise, tone]).astype(np.float32)[None]
    points = audio_change_points(wav, sr)
    assert len(points) == 1 and abs(points[0] - 6.0) <= 0.1
    assert audio_change_points(noise.astype(np.float32)[None], sr) == []
    assert audio_change_points(np.zeros((2, 100), np.float32), sr) == []


def test_audio_change_points_resamples_stereo():
    sr = 44100
    rng = np.random.default_rng(1)
    wav = (0.05 * rng.standard_normal((2, sr * 120))).astype(np.float32)
    wav[:, sr * 60:] *= 0.01  # 40 dB drop at 60 s
    points = audio_change_points(wav, sr)
    assert len(points) == 1 and abs(points[0] - 60.0) <= 0.1


def test_audio_change_points_rejects_bad_input():
    with pytest.raises(InputError):
        audio_change_points(np.zeros((1, 100), np.int16), 16000)
    with pytest.raises(InputError):
        audio_change_points(np.full((1, 100), np.nan, np.float32), 16000)
    with pytest.raises(InputError):
        AudioChangeParams(hop_s=0)


# ---------------------------------------------------------------- merge rules
def test_merge_tiles_and_merges_short_shots():
    shots = merge_shots([1.0, 5.0, 6.0, 12.0], [], 20.0)
    _assert_tiles(shots, 20.0)
    # 0-1 joins 1-5; then 5-6 joins its shorter neighbour 0-5
    assert shots == [(0.0, 6.0), (6.0, 12.0), (12.0, 20.0)]


def test_merge_short_input_is_one_shot():
    assert merge_shots([0.5, 1.0], [0.7], 2.0) == [(0.0, 2.0)]
    assert merge_shots([], [], 2.0) == [(0.0, 2.0)]


def test_merge_audio_points_only_split_long_stretches_and_snap():
    # 0-8 is short: the audio point at 4 is ignored; 8-40 is long: 20 splits it, 8.3 snaps to the cut
    shots = merge_shots([8.0], [4.0, 8.3, 20.0, 38.5], 40.0, max_shot_s=12.0)
    assert shots == [(0.0, 8.0), (8.0, 20.0), (20.0, 40.0)]


def test_merge_prefers_dropping_audio_boundaries():
    # a 2 s piece between a video cut (10) and an audio point (12): the audio boundary goes
    shots = merge_shots([10.0], [12.0, 26.0], 40.0, max_shot_s=12.0)
    _assert_tiles(shots, 40.0)
    assert 10.0 in [a for a, _ in shots] and 12.0 not in [a for a, _ in shots]


def test_merge_drops_cuts_outside_and_rejects_bad_values():
    assert merge_shots([-1.0, 0.0, 10.0, 12.0], [], 10.0) == [(0.0, 10.0)]
    for kwargs in ({"duration_s": 0.0}, {"duration_s": float("nan")}):
        with pytest.raises(InputError):
            merge_shots([], [], **kwargs)
    with pytest.raises(InputError):
        merge_shots([], [], 10.0, min_shot_s=5.0, max_shot_s=4.0)
    with pytest.raises(InputError):
        merge_shots(["x"], [], 10.0)


def test_shot_params_switch_audio_off(media):
    found = detect_shots_from_file(
        media / "video" / "bbb_0-30s_moviepy.webm", params=ShotParams(use_audio=False, max_shot_s=5.0)
    )
    _assert_tiles(found.spans, found.spans[-1][1])
    assert len(found.spans) == 4 and found.audio_points_s == []


def test_detect_shots_on_arrays():
    sr = 16000
    rng = np.random.default_rng(0)
    noise = 0.05 * rng.standard_normal(sr * 20)
    tone = 0.3 * np.sin(2 * np.pi * 440 * np.arange(sr * 20) / sr)
    mono = np.concatenate([noise, tone]).astype(np.float32)  # the sound changes at 20 s
    found = detect_shots([5.0, 6.0], mono, sr, 40.0)
    assert found.cuts_s == [5.0, 6.0] and len(found.audio_points_s) == 1
    assert found.spans == [(0.0, 6.0), (6.0, pytest.approx(20.0, abs=0.1)), (pytest.approx(20.0, abs=0.1), 40.0)]
    assert detect_shots([], np.zeros(0, np.float32), sr, 2.0).spans == [(0.0, 2.0)]
