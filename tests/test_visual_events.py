"""Visual events: impacts of the demo's bouncing ball, cuts in a window, raw frames, bad input."""
from __future__ import annotations

import numpy as np
import pytest

from avshooter.errors import InputError, MediaError
from avshooter.media.visual_events import VisualEvent, anchor_times, visual_events


def test_impacts_of_the_bouncing_ball_within_one_frame(demo):
    truth = demo["truth_data"]
    shot, fps = truth["shots"][2], truth["fps"]
    impacts_true = [t - shot["start_s"] for t in shot["impact_times_s"]]
    events = visual_events(demo["video"], start_s=shot["start_s"], end_s=shot["end_s"])
    impacts = [e.time_s for e in events if e.kind == "impact"]
    assert len(impacts) == len(impacts_true)
    assert np.max(np.abs(np.array(impacts) - impacts_true)) <= 1 / fps
    assert anchor_times(events) == impacts  # no cut in this shot: the impacts are the anchors


def test_cut_inside_the_window_is_an_event(demo):
    truth = demo["truth_data"]
    cut = truth["cuts_s"][1]  # 9.5 s
    events = visual_events(demo["video"], start_s=cut - 1.5, end_s=cut + 1.0)
    cuts = [e.time_s for e in events if e.kind == "cut"]
    assert cuts == [pytest.approx(1.5, abs=1 / truth["fps"])]


def test_anchor_times_prefer_impacts_and_cuts():
    events = [VisualEvent(0.2, "motion", 9.0), VisualEvent(0.5, "impact", 2.0), VisualEvent(0.9, "cut", 30.0)]
    assert anchor_times(events) == [0.5, 0.9]
    assert anchor_times(events[:1]) == [0.2]  # only motion: every event is an anchor
    assert anchor_times([]) == []

def _bouncing_frames(n=72, period=18, first=7, h=90, w=160):
    frames = np.full((n, h, w), 200, np.uint8)
    yy, xx = np.mgrid[0:h, 0:w]
    floor = 80
    for f in range(n):
        phase = ((f - first) % period) / period
        cy = floor - 6 - 50 * 4 * phase * (1 - phase)
        frames[f][(xx - 20 - f) ** 2 + (yy - cy) ** 2 <= 36] = 30
    return frames, [f for f in range(first, n, period)]


def test_raw_frames_with_fps():
    frames, landings = _bouncing_frames()
    fps = 25.0
    impacts = [e.time_s for e in visual_events(frames, fps=fps) if e.kind == "impact"]
    assert impacts == pytest.approx([f / fps for f in landings], abs=1e-9)
    rgb = np.repeat(frames[..., None], 3, axis=-1)
    assert [e.time_s for e in visual_events(rgb, fps=fps) if e.kind == "impact"] == pytest.approx(impacts)


def test_bad_input():
    with pytest.raises(InputError, match="fps"):
        visual_events(np.zeros((5, 8, 8), np.uint8))
    with pytest.raises(InputError, match="frames"):
        visual_events(np.zeros((8, 8), np.uint8), fps=24)
    with pytest.raises(MediaError, match="not found"):
        visual_events("/nonexistent/shot.mp4")
    with pytest.raises(InputError, match="end_s"):
        visual_events(__file__, start_s=2.0, end_s=1.0)
