"""The hard-cut detector (media.cuts): real clips through the media layer's frames, synthetic frames."""
from __future__ import annotations

import numpy as np
import pytest

from avshooter.errors import InputError
from avshooter.media.cuts import CutDetector, CutParams, cuts_in_file, decode_with_cuts


def _cuts(path) -> list[float]:
    """Cuts as annotate finds them: in the pass that decodes the audio (a file with audio)."""
    decoded, cuts = decode_with_cuts(path, sample_rate=16000, channels=1)
    decoded.close()
    return cuts


@pytest.fixture(scope="module")
def bbb_cuts(media):
    return _cuts(media / "video" / "bbb_0-30s_moviepy.webm")


def test_bbb_hard_cuts_found(bbb_cuts):
    for expected in (11.79, 15.67, 22.96):
        assert min(abs(c - expected) for c in bbb_cuts) <= 0.25, (expected, bbb_cuts)
    assert len(bbb_cuts) == 3, bbb_cuts  # nothing in the fade-in (0-2 s) either


def test_bbb_bird_flapping_is_not_a_cut(bbb_cuts):
    assert not [c for c in bbb_cuts if 16.5 <= c <= 19.5], bbb_cuts


def test_pictures_alone_give_the_same_cuts(media, bbb_cuts):
    """media.frames (no audio pass) and the one-pass decode hand the detector the same frames."""
    cuts, end_s = cuts_in_file(media / "video" / "bbb_0-30s_moviepy.webm")
    assert cuts == bbb_cuts and end_s == pytest.approx(30.0, abs=0.05)


def test_caminandes_car_and_camera_moves_are_not_cuts(media):
    cuts, end_s = cuts_in_file(media / "video" / "caminandes1_10s_zwm.mp4")  # no audio stream
    assert cuts == [] and end_s == pytest.approx(10.0, abs=0.05)


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
