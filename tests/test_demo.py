"""The self-made demo clip (examples/make_demo.py): streams, ground truth, story, and our cut detector."""
from __future__ import annotations

import json
import shutil

import av
import numpy as np
import pytest
from conftest import load_make_demo

from avshooter.annotation.shots import detect_shots_from_file
from avshooter.media.cuts import CutDetector
from avshooter.units import parse_time, to_samples


@pytest.fixture(scope="module")
def make_demo_module():
    return load_make_demo()


def test_files_exist_and_nothing_temporary_is_left(demo):
    folder = demo["video"].parent
    assert sorted(p.name for p in folder.iterdir()) == ["demo.json", "demo.mp4", "shots", "truth.json"]
    assert sorted(p.name for p in (folder / "shots").iterdir()) == [f"shot_{k:03d}.mp4" for k in range(4)]


def test_streams_match_in_length_and_format(demo):
    truth = demo["truth_data"]
    frame_s = 1 / truth["fps"]
    with av.open(str(demo["video"])) as c:
        v, a = c.streams.video[0], c.streams.audio[0]
        assert v.codec_context.name == "h264" and v.codec_context.pix_fmt == "yuv420p"
        assert (v.codec_context.width, v.codec_context.height) == (320, 180)
        assert a.codec_context.name == "aac" and a.rate == 44100 and a.channels == 2
        assert abs(float(v.duration * v.time_base) - float(a.duration * a.time_base)) <= frame_s
        n_video = sum(1 for _ in c.decode(v))
    with av.open(str(demo["video"])) as c:
        n_audio = sum(f.samples for f in c.decode(c.streams.audio[0]))
    assert n_video == truth["n_frames"]
    assert abs(n_audio / 44100 - n_video / truth["fps"]) <= frame_s


def test_truth_is_consistent(demo):
    truth = demo["truth_data"]
    assert json.loads(demo["truth"].read_text()) == truth
    fps, shots = truth["fps"], truth["shots"]
    assert [s["type"] for s in shots] == ["speech", "music", "effects", "ambience"]
    assert shots[0]["start_frame"] == 0 and shots[-1]["end_frame"] == truth["n_frames"]
    for s, nxt in zip(shots[:-1], shots[1:]):
        assert s["end_frame"] == nxt["start_frame"]
    for s in shots:
        assert s["start_s"] == s["start_frame"] / fps and s["end_s"] == s["end_frame"] / fps
        assert s["end_s"] - s["start_s"] >= 3.0
    assert truth["cut_frames"] == [s["start_frame"] for s in shots[1:]]
    assert truth["cuts_s"] == [f / fps for f in truth["cut_frames"]]
    assert 16.0 <= truth["duration_s"] <= 20.0
    (a, b), = shots[0]["speech_spans_s"]
    assert shots[0]["start_s"] <= a < b <= shots[0]["end_s"] and b - a > 1.0
    fx = shots[2]
    assert len(fx["impact_frames"]) >= 3
    assert all(fx["start_frame"] <= f < fx["end_frame"] for f in fx["impact_frames"])
    assert fx["impact_times_s"] == [f / fps for f in fx["impact_frames"]]
    assert fx["impact_samples"] == [to_samples(t, 44100) for t in fx["impact_times_s"]]
    assert truth["speech_source"] in ("espeak-ng", "librispeech:libri1_5703-47212-0000.hq.ogg")


def test_story_json_matches_truth(demo):
    story = json.loads(demo["story"].read_text())
    truth = demo["truth_data"]
    assert set(story) >= {"storyline", "main characters", "main scenes", "shots"}
    chars = {c["ID"] for c in story["main characters"]}
    scenes = {s["ID"] for s in story["main scenes"]}
    for shot, t in zip(story["shots"], truth["shots"], strict=True):
        assert shot["avshooter"] == {"start_s": t["start_s"], "end_s": t["end_s"]}
        assert parse_time(shot["start time"]) == int(t["start_s"])
        assert parse_time(shot["end time"]) == int(t["end_s"])
        assert set(shot["main characters"]) <= chars and shot["scene"] in scenes
        assert shot["visual annotation"]["plot"] and shot["visual annotation"]["caption"]
    captions = [s["visual annotation"]["caption"] for s in story["shots"]]
    assert "speaks" in captions[0] and "music" in captions[1] and "hits the floor" in captions[2]


def test_impacts_are_heard_and_seen_at_their_frames(demo):
    truth = demo["truth_data"]
    fx = truth["shots"][2]
    with av.open(str(demo["video"])) as c:
        audio = np.concatenate([f.to_ndarray() for f in c.decode(c.streams.audio[0])], axis=1)
    level = np.abs(audio).mean(axis=0)
    for sample in fx["impact_samples"]:
        before = level[sample - 400: sample - 20].max()
        after = level[sample: sample + 200].max()
        assert after > 10 * before + 0.05  # onset within a few ms after the exact sample
    # in the picture the red ball touches the floor (y = 150) exactly on those frames
    lowest = {}
    with av.open(str(demo["video"])) as c:
        for i, frame in enumerate(c.decode(c.streams.video[0])):
            if fx["start_frame"] <= i < fx["end_frame"]:
                rgb = frame.to_ndarray(format="rgb24").astype(int)
                red = (rgb[..., 0] > 150) & (rgb[..., 1] < 90) & (rgb[..., 2] < 90)
                lowest[i] = int(np.flatnonzero(red.any(axis=1)).max())
    inner = range(fx["start_frame"] + 1, fx["end_frame"] - 1)
    landings = [i for i in inner if lowest[i] > lowest[i - 1] and lowest[i] > lowest[i + 1] and lowest[i] >= 147]
    assert landings == fx["impact_frames"]


def test_cut_detector_finds_the_demo_cuts(demo):
    truth = demo["truth_data"]
    det = CutDetector()
    w, h = det.params.frame_size
    with av.open(str(demo["video"])) as c:
        for frame in c.decode(c.streams.video[0]):
            det.update(frame.time, frame.reformat(width=w, height=h, format="gray").to_ndarray())
    cuts = det.cuts()
    assert len(cuts) == len(truth["cuts_s"])
    for found, expected in zip(cuts, truth["cuts_s"]):
        assert abs(found - expected) <= 1 / truth["fps"] + 1e-6
    shots = detect_shots_from_file(demo["video"]).spans
    assert [a for a, _ in shots[1:]] == pytest.approx(truth["cuts_s"], abs=1 / truth["fps"])


def test_audio_is_deterministic_by_seed(make_demo_module):
    a, facts_a, _ = make_demo_module._soundtrack(3, "auto")
    b, facts_b, _ = make_demo_module._soundtrack(3, "auto")
    c, _, _ = make_demo_module._soundtrack(4, "auto")
    assert np.array_equal(a, b) and facts_a == facts_b
    assert not np.array_equal(a, c)
    assert a.dtype == np.float32 and a.shape[0] == 2 and np.abs(a).max() <= 0.95 + 1e-6


def test_librispeech_fallback(make_demo_module):
    wav, source = make_demo_module._speech("librispeech")
    assert source.startswith("librispeech:") and wav.dtype == np.float32
    assert wav.size == pytest.approx(3.1 * 44100, abs=2)


def test_espeak_when_available(make_demo_module):
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng not installed (apt-get install espeak-ng)")
    wav, source = make_demo_module._speech("espeak")
    assert source == "espeak-ng" and wav.size > 44100


def test_cli_rejects_bad_speech_option(make_demo_module, tmp_path, capsys):
    with pytest.raises(SystemExit):
        make_demo_module.main([str(tmp_path), "--speech", "nope"])
