"""Shot detection: video cuts on real clips, audio change points, and the merge rules."""
from __future__ import annotations

import time

import av
import numpy as np
import pytest

from avshooter.errors import InputError, MediaError
from avshooter.annotation.shots import (
    AudioChangeParams,
    CutDetector,
    CutParams,
    ShotParams,
    audio_change_points,
    detect_shots_from_file,
    merge_shots,
)


def _cuts(path) -> list[float]:
    det = CutDetector()
    w, h = det.params.frame_size
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for frame in container.decode(stream):
            det.update(frame.time, frame.reformat(width=w, height=h, format="gray").to_ndarray())
    return det.cuts()


def _assert_tiles(shots, duration_s, min_shot_s=3.0):
    assert shots[0][0] == 0.0
    assert shots[-1][1] == pytest.approx(duration_s)
    for (a, b), (c, _) in zip(shots[:-1], shots[1:]):
        assert b == c
    assert all(b - a >= min_shot_s for a, b in shots) or len(shots) == 1


@pytest.fixture(scope="module")
def bbb_cuts(media):
    return _cuts(media / "video" / "bbb_0-30s_moviepy.webm")


def test_bbb_hard_cuts_found(bbb_cuts):
    for expected in (11.79, 15.67, 22.96):
        assert min(abs(c - expected) for c in bbb_cuts) <= 0.25, (expected, bbb_cuts)
    assert len(bbb_cuts) == 3, bbb_cuts  # nothing in the fade-in (0-2 s) either


def test_bbb_bird_flapping_is_not_a_cut(bbb_cuts):
    assert not [c for c in bbb_cuts if 16.5 <= c <= 19.5], bbb_cuts


def test_caminandes_car_and_camera_moves_are_not_cuts(media):
    path = media / "video" / "caminandes1_10s_zwm.mp4"
    assert _cuts(path) == []
    shots = detect_shots_from_file(path)  # no audio stream: video cuts only
    assert shots == [(0.0, pytest.approx(10.0, abs=0.05))]


def test_bbb_shots_from_file_tile_and_keep_the_cuts(media):
    shots = detect_shots_from_file(media / "video" / "bbb_0-30s_moviepy.webm")
    _assert_tiles(shots, shots[-1][1])
    assert shots[-1][1] == pytest.approx(30.0, abs=0.05)
    starts = [a for a, _ in shots[1:]]
    for expected in (11.79, 15.67, 22.96):
        assert min(abs(s - expected) for s in starts) <= 0.25


def test_short_media_is_one_shot(media):
    shots = detect_shots_from_file(media / "video" / "bbb_432-433s_moviepy.webm")
    assert len(shots) == 1 and shots[0][0] == 0.0 and shots[0][1] == pytest.approx(1.0, abs=0.05)


def test_missing_file_is_a_media_error(tmp_path):
    with pytest.raises(MediaError):
        detect_shots_from_file(tmp_path / "nope.mp4")
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video")
    with pytest.raises(MediaError):
        detect_shots_from_file(bad)


# ---------------------------------------------------------------- synthetic frames
def _texture(seed, shape=(36, 64)):
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def test_cut_detector_synthetic_cut_motion_and_fade():
    det = CutDetector()
    a, b = _texture(1), _texture(2)
    t = 0.0
    for i in range(48):  # fade in from black over 2 s
        det.update(t, (a * (i / 47)).astype(np.uint8))
        t += 1 / 24
    for i in range(48):  # a bright square moving fast over the texture
        f = a.copy()
        f[10:20, i % 50: i % 50 + 12] = 255
        det.update(t, f)
        t += 1 / 24
    cut_time = t
    for _ in range(24):
        det.update(t, b)
        t += 1 / 24
    assert det.cuts() == [pytest.approx(cut_time)]


def test_cut_detector_handles_animation_on_threes():
    """Held frames (animation on threes) put zero differences between big moves: still not cuts."""
    det = CutDetector()
    a, b = _texture(4), _texture(5)
    t, moves = 0.0, []
    for i in range(96):
        f = (a if i < 48 else b).copy()
        x = (i % 48 // 3) * 3  # a 16x30 block moves 3 px every third frame (differences ~10, then 0, 0)
        f[3:33, x: x + 16] = 255 if i < 48 else 0
        det.update(t, f)
        moves.append(t)
        t += 1 / 24
    assert det.cuts() == [pytest.approx(moves[48])]


def test_cut_detector_ignores_a_single_flash():
    det = CutDetector()
    a = _texture(3)
    for i in range(30):
        det.update(i / 24, np.full_like(a, 255) if i == 15 else a)
    assert det.cuts() == []


def test_cut_detector_rejects_bad_frames():
    det = CutDetector()
    with pytest.raises(InputError):
        det.update(0.0, np.zeros((36, 64, 3), np.uint8))
    with pytest.raises(InputError):
        det.update(0.0, np.zeros((36, 64), np.float32))
    det.update(0.0, np.zeros((36, 64), np.uint8))
    with pytest.raises(InputError):
        det.update(0.1, np.zeros((18, 32), np.uint8))
    with pytest.raises(InputError):
        CutParams(frame_size=(2, 2))


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


def test_audio_change_points_resamples_stereo_and_is_fast():
    sr = 44100
    rng = np.random.default_rng(1)
    wav = (0.05 * rng.standard_normal((2, sr * 120))).astype(np.float32)
    wav[:, sr * 60:] *= 0.01  # 40 dB drop at 60 s
    start = time.perf_counter()
    points = audio_change_points(wav, sr)
    assert time.perf_counter() - start < 5.0  # 2 min of 44.1 kHz stereo; a 60 min file takes seconds
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
    shots = detect_shots_from_file(
        media / "video" / "bbb_0-30s_moviepy.webm", params=ShotParams(use_audio=False, max_shot_s=5.0)
    )
    _assert_tiles(shots, shots[-1][1])
    assert len(shots) == 4
