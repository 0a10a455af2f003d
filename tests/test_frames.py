"""Frames: the one frame reader (file-local times, window edges), RGB pictures at times, grey frames."""
from __future__ import annotations

import numpy as np
import pytest

from avshooter.media.frames import frames_at, grey_frames, iter_frames, iter_grey

CAM = ("video", "caminandes1_10s_zwm.mp4")  # 640x360, 24 fps, 240 frames, no audio


def test_iter_frames_window_and_clock(media):
    path = media.joinpath(*CAM)
    times = [t for t, _ in iter_frames(path, start_s=2.0, end_s=3.0)]
    assert len(times) == 24 and times[0] == pytest.approx(2.0) and times[-1] == pytest.approx(3.0 - 1 / 24)
    assert all(b > a for a, b in zip(times, times[1:]))
    # a window edge half a frame off still takes the frame at 2.0 s (half-frame tolerance) ...
    assert [t for t, _ in iter_frames(path, start_s=2.0 + 0.4 / 24, end_s=2.1)][0] == pytest.approx(2.0)
    # ... and with a tight edge it does not
    assert [t for t, _ in iter_frames(path, start_s=2.0 + 0.4 / 24, end_s=2.1, edge_s=1e-6)][0] == pytest.approx(
        2.0 + 1 / 24)
    assert len(list(iter_frames(path))) == 240


def test_frames_at_and_grey_frames_agree(media):
    path = media.joinpath(*CAM)
    pictures = frames_at(path, [7.0, 1.0, 4.5])  # sorted on the way in
    assert len(pictures) == 3 and all(p.shape == (288, 512, 3) and p.dtype == np.uint8 for p in pictures)
    assert not np.array_equal(pictures[0], pictures[2])
    assert frames_at(path, [20.0]) == []  # past the end: no picture
    grey, times = grey_frames(path, start_s=4.5, end_s=5.0)
    assert grey.shape == (12, 90, 160) and times[0] == pytest.approx(0.0)  # times relative to start_s
    first = next(iter_grey(path, start_s=4.5, size=(160, 90)))[1]
    np.testing.assert_array_equal(first, grey[0])
    # the RGB picture at 4.5 s and the grey frame at 4.5 s are the same frame
    rgb = frames_at(path, [4.5], max_side=160)[0].astype(np.float32)
    luma = rgb @ np.array([0.299, 0.587, 0.114], np.float32)
    assert np.abs(luma - grey[0]).mean() < 3.0


def test_grey_reuses_one_scaler_with_the_same_pictures(media):
    """One Grey serves frames of two sizes (the scaler re-inits) and gives frame.reformat's exact pictures."""
    import av

    from avshooter.media.frames import Grey

    to_grey = Grey((64, 36))
    checked = 0
    for name in (CAM[1], "bbb_432-433s_moviepy.webm"):
        with av.open(str(media / "video" / name)) as container:
            for i, frame in enumerate(container.decode(video=0)):
                if i % 5 == 0:
                    expected = frame.reformat(width=64, height=36, format="gray").to_ndarray()
                    assert np.array_equal(to_grey(frame), expected)
                    checked += 1
    assert checked > 50
