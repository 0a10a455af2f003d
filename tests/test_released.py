"""The released AnimeShooter layout: one JSON per video, segments, both time conventions, in and out.

Fixtures are written here (tmp_path) for the shared Big Buck Bunny clips; the media are only linked.
bbb_0-30s: 30.0 s at 24 fps, hard cuts near 11.8, 15.7 and 23.0 s.
"""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from avshooter.cli import main
from avshooter.errors import InputError, ShotError, StoryError
from avshooter.io.released import (
    RELEASED_FILE,
    load_released,
    parse_segments,
    save_released,
    validate_released,
)
from avshooter.io.released_plan import plan_released
from avshooter.io.schema import load_schema, validate_record

CAPTIONS = [
    ("Dawn over the meadow.", "Birds sing over a green meadow at dawn."),
    ("The music rises.", "A wide view of the hills and a large tree."),
    ("The burrow.", "A rabbit hole under the tree."),
    ("The rabbit wakes.", "The big rabbit stretches outside his burrow."),
    ("A quiet morning.", "The meadow, calm, a butterfly."),
]


def _shot(start: str, end: str, i: int) -> dict:
    return {"start time": start, "end time": end, "main characters": ["Bunny"] if i >= 3 else [],
            "scene": "meadow", "visual annotation": {"narrative caption": CAPTIONS[i][0],
                                                     "descriptive caption": CAPTIONS[i][1]}}


def released(convention: str) -> dict:
    """Two overlapping segments of bbb_0-30s (frames 0-360 and 264-720, i.e. 0-15 s and 11-30 s); the
    shot 11-15 s is listed in both. Segment 1's times relative to its clip, or absolute in the video."""
    seg1 = [("00:00", "00:04", 2), ("00:04", "00:12", 3), ("00:12", "00:19", 4)]
    if convention == "absolute":
        seg1 = [("00:11", "00:15", 2), ("00:15", "00:23", 3), ("00:23", "00:30", 4)]
    script = {"storyline": "Morning in the meadow.",
              "main characters": [{"ID": "Bunny", "appearance": "a big grey rabbit"}],
              "main scenes": [{"ID": "meadow", "environment": "green hills, a tree"}]}
    return {"video ID": "bbb", "url": "https://peach.blender.org/", "fps": 24,
            "segments": [
                {"start frame index": 0, "end frame index": 360, "story script": {
                    **copy.deepcopy(script),
                    "shots": [_shot("00:00", "00:06", 0), _shot("00:06", "00:11", 1), _shot("00:11", "00:15", 2)]}},
                {"start frame index": 264, "end frame index": 720, "story script": {
                    **copy.deepcopy(script), "shots": [_shot(a, b, i) for a, b, i in seg1]}}]}


def _write(path: Path, data: dict) -> Path:
    path.write_text(json.dumps(data, indent=1), encoding="utf-8")
    return path


def test_both_conventions_give_the_same_seconds_and_say_which():
    rel = plan_released(released("relative"), duration_s=30.0)
    absolute = plan_released(released("absolute"), duration_s=30.0)
    assert [s.times for s in rel.segments] == ["both", "relative"]
    assert [s.times for s in absolute.segments] == ["both", "absolute"]
    assert "agree" in rel.segments[0].reason
    spans = [(e.start_s, e.end_s) for e in rel.entries]
    assert spans == [(e.start_s, e.end_s) for e in absolute.entries]
    assert spans == [(0, 6), (6, 11), (11, 15), (15, 23), (23, 30)]
    # the shot listed in both segments is planned once, at its first listing; ids are file positions
    assert rel.entries[2].listed_in == [(0, 2), (1, 0)]
    assert [e.position for e in rel.entries] == [0, 1, 2, 4, 5]
    story = rel.story()
    assert [s.index for s in story.shots] == [0, 1, 2, 4, 5]
    assert story.shots[3].caption == CAPTIONS[3][1] and story.shots[3].characters == ["Bunny"]


def test_neither_convention_fits_is_one_clear_error():
    data = released("relative")
    data["segments"][1]["story script"]["shots"][2]["end time"] = "00:45"  # past the clip and the video
    with pytest.raises(ShotError) as err:
        plan_released(data, duration_s=30.0)
    msg = str(err.value)
    assert "\n" not in msg and "segments[1]" in msg and "neither relative" in msg and "video lasts 30.000 s" in msg
    # the video length is evidence too: a segment past the end of the video
    with pytest.raises(ShotError, match="starts at frame 264"):
        plan_released(released("relative"), duration_s=10.0, segments=[1])


def test_when_both_fit_the_segment_edges_decide():
    data = {"video ID": "x", "fps": 10, "segments": [{"start frame index": 200, "end frame index": 400,
            "story script": {"shots": [_shot("00:00", "00:10", 0), _shot("00:10", "00:20", 1)]}}]}
    plan = plan_released(data, duration_s=60.0)  # 0-20 s lies outside the segment (20-40 s): relative only
    assert plan.segments[0].times == "relative" and plan.entries[0].start_s == 20.0
    data["segments"][0]["story script"]["shots"] = [_shot("00:20", "00:30", 0), _shot("00:30", "00:35", 1)]
    plan = plan_released(data, duration_s=60.0)  # relative would end at 55 s, past the segment: absolute only
    assert plan.segments[0].times == "absolute" and plan.entries[1].end_s == 35.0
    data["segments"][0]["end frame index"] = 600  # 20-60 s: both fit; absolute starts on the segment's start
    plan = plan_released(data, duration_s=60.0)
    assert plan.segments[0].times == "absolute" and "both readings fit" in plan.segments[0].reason
    data["segments"][0]["story script"]["shots"] = [_shot("00:25", "00:30", 0), _shot("00:30", "00:40", 1)]
    plan = plan_released(data, duration_s=60.0)  # relative ends on the clip's end (40 s): relative
    assert plan.segments[0].times == "relative" and plan.entries[1].end_s == 60.0


def test_rounding_policy_meets_at_midpoint_and_records_it():
    data = released("relative")
    shots = data["segments"][0]["story script"]["shots"]
    shots[0]["end time"] = "00:07"  # overlaps the next shot (00:06) by 1 s: MM:SS rounding
    shots[1]["end time"] = "00:10"  # leaves a 1 s gap before 00:11
    plan = plan_released(data, duration_s=30.0)
    e0, e1, e2 = plan.entries[:3]
    assert (e0.end_s, e1.start_s) == (6.5, 6.5) and (e1.end_s, e2.start_s) == (10.5, 10.5)
    info = plan.story().shots[1].avshooter["released"]
    assert info["start time"] == "00:06" and info["end time"] == "00:10" and info["parsed_s"] == [6.0, 10.0]
    assert [a["edge"] for a in info["adjustments"]] == ["start", "end"]
    assert "overlap of 1.000 s" in info["adjustments"][0]["why"] and info["adjustments"][1]["by_s"] == 0.5
    # a real overlap (beyond the rounding) is still an error
    shots[0]["end time"] = "00:09"
    with pytest.raises(ShotError, match="overlap beyond the 1 s rounding"):
        plan_released(data, duration_s=30.0)


def test_zero_length_and_clamping():
    data = {"video ID": "x", "fps": 24, "segments": [{"start frame index": 0, "end frame index": 240,
            "story script": {"shots": [_shot("00:00", "00:05", 0), _shot("00:05", "00:05", 1),
                                       _shot("00:06", "00:11", 2)]}}]}
    plan = plan_released(data, duration_s=10.5)
    spans = [(e.start_s, e.end_s) for e in plan.entries]
    assert spans == [(0, 5), (5, 6), (6, 10)]  # 00:05-00:05 covers its second; 00:11 clamped to the segment
    assert plan.entries[2].adjustments[0]["why"] == "clamped to the segment's last frame"


def test_bad_files_and_selection():
    with pytest.raises(StoryError, match="missing key 'fps'"):
        load_released({"video ID": "x", "segments": []})
    with pytest.raises(StoryError, match=r"segments\[0\]: frame range 10\.\.5"):
        load_released({"video ID": "x", "fps": 24, "segments": [
            {"start frame index": 10, "end frame index": 5, "story script": {"shots": [_shot("00:00", "00:01", 0)]}}]})
    with pytest.raises(StoryError, match=r"shots\[0\]: missing key 'end time'"):
        plan_released({"video ID": "x", "fps": 24, "segments": [
            {"start frame index": 0, "end frame index": 48, "story script": {"shots": [{"start time": "00:00"}]}}]})
    assert parse_segments("0,2") == [0, 2] and parse_segments("1-3,5") == [1, 2, 3, 5]
    for bad in ("a", "3-1", "-1", ""):
        with pytest.raises(InputError):
            parse_segments(bad)
    with pytest.raises(InputError, match="--segments 2 does not exist"):
        plan_released(released("relative"), segments=[2])


def test_load_save_round_trip(tmp_path):
    src = _write(tmp_path / "in.json", released("relative"))
    video = load_released(src)
    assert video.video_id == "bbb" and video.fps == 24.0 and len(video.segments) == 2
    save_released(video, tmp_path / "out.json")
    assert json.loads((tmp_path / "out.json").read_text()) == json.loads(src.read_text())
    save_released(load_released(tmp_path / "out.json"), tmp_path / "again.json")
    assert (tmp_path / "again.json").read_bytes() == (tmp_path / "out.json").read_bytes()


@pytest.fixture(scope="module")
def annotated(media, tmp_path_factory):
    """bbb_0-30s annotated from the relative-time file (all segments), through the CLI."""
    tmp = tmp_path_factory.mktemp("released")
    story = _write(tmp / "bbb.json", released("relative"))
    out = tmp / "ds"
    video = media / "video" / "bbb_0-30s_moviepy.webm"
    rc = main(["annotate", str(video), "--story", str(story), "--out", str(out), "--no-progress", "--no-context"])
    assert rc == 0
    return {"out": out, "video": video, "tmp": tmp, "folder": out / "bbb_0-30s_moviepy"}


def test_annotate_writes_the_released_layout(annotated):
    folder = annotated["folder"]
    story = json.loads((folder / "story.json").read_text())
    validate_record(story)
    assert [s["avshooter"]["index"] for s in story["shots"]] == [0, 1, 2, 4, 5]
    out = json.loads((folder / RELEASED_FILE).read_text())
    assert list(out)[:4] == ["video ID", "url", "fps", "segments"] and out["video ID"] == "bbb"
    seg0, seg1 = out["segments"]
    assert seg0["avshooter"]["times"] == "both" and seg1["avshooter"]["times"] == "relative"
    assert seg1["avshooter"]["offset_s"] == 11.0
    for seg in out["segments"]:
        for shot in seg["story script"]["shots"]:
            ann, ext = shot["audio annotation"], shot["avshooter"]
            assert ann["type"] and ann["sound description"] and ann["visual context"]
            assert (folder / ext["audio"]["mix"]).exists()
            assert set(shot["visual annotation"]) == {"narrative caption", "descriptive caption"}
    # segment 1 keeps its own (relative) strings; exact seconds are in the video
    s = seg1["story script"]["shots"][1]
    assert (s["start time"], s["end time"]) == ("00:04", "00:12")
    assert (s["avshooter"]["start_s"], s["avshooter"]["end_s"]) == (15.0, 23.0)
    # the shot listed twice was annotated once: both listings point at the same audio
    first, again = seg0["story script"]["shots"][2], seg1["story script"]["shots"][0]
    assert first["avshooter"]["audio"] == again["avshooter"]["audio"]
    assert first["audio annotation"] == again["audio annotation"]
    assert again["avshooter"]["released"]["same_as"] == {"segment": 0, "shot": 2}
    manifest = [json.loads(x) for x in (annotated["out"] / "manifest.jsonl").read_text().splitlines()]
    assert len(manifest) == 5 == len({m["id"] for m in manifest})
    # the shipped schema of the layout, and every annotated shot is a record shot too
    validate_released(out)
    record = load_schema("record")
    shot_validator = Draft202012Validator({"$defs": record["$defs"], "$ref": "#/$defs/shot"})
    for seg in out["segments"]:
        for shot in seg["story script"]["shots"]:
            shot_validator.validate(shot)
    broken = copy.deepcopy(out)
    broken["segments"][1]["avshooter"]["times"] = "sideways"
    with pytest.raises(StoryError, match=r"segments\[1\]\.avshooter\.times"):
        validate_released(broken)


def test_output_round_trips_byte_for_byte(annotated, tmp_path):
    path = annotated["folder"] / RELEASED_FILE
    save_released(load_released(path), tmp_path / "again.json")
    assert (tmp_path / "again.json").read_bytes() == path.read_bytes()


def test_absolute_file_and_segment_selection_match(annotated, tmp_path):
    """The absolute-time file, only segment 1: the same shots, to the sample, as the relative file."""
    story = _write(tmp_path / "bbb_abs.json", released("absolute"))
    out = tmp_path / "ds"
    rc = main(["annotate", str(annotated["video"]), "--story", str(story), "--out", str(out), "--no-progress",
               "--no-context", "--segments", "1"])
    assert rc == 0
    got = json.loads((out / "bbb_0-30s_moviepy" / RELEASED_FILE).read_text())
    ref = json.loads((annotated["folder"] / RELEASED_FILE).read_text())
    assert len(got["segments"]) == 1 and got["avshooter"]["segments"] == [1]
    assert got["segments"][0]["avshooter"]["times"] == "absolute"
    pick = ("start_s", "end_s", "start_sample", "end_sample")
    shots = got["segments"][0]["story script"]["shots"]
    assert ([{k: s["avshooter"][k] for k in pick} for s in shots]
            == [{k: s["avshooter"][k] for k in pick} for s in ref["segments"][1]["story script"]["shots"]])
    # ids are positions in the file; the shared shot takes its first listing among the annotated segments
    assert [s["avshooter"]["index"] for s in shots] == [3, 4, 5]
    assert got["segments"][0]["story script"]["shots"][0]["start time"] == "00:11"


def test_cli_errors_are_one_line(annotated, tmp_path, capsys):
    bad = released("relative")
    bad["segments"][1]["story script"]["shots"][2]["end time"] = "00:45"
    story = _write(tmp_path / "bad.json", bad)
    rc = main(["annotate", str(annotated["video"]), "--story", str(story), "--out", str(tmp_path / "o"),
               "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert rc == 1 and "\n" not in err and "neither relative" in err
    assert not (tmp_path / "o" / "bbb_0-30s_moviepy").exists()
    rc = main(["annotate", str(annotated["video"]), "--story", str(story), "--out", str(tmp_path / "o"),
               "--segments", "7", "--no-progress"])
    assert rc == 1 and "--segments 7 does not exist" in capsys.readouterr().err
    rc = main(["annotate", str(annotated["video"]), "--out", str(tmp_path / "o"), "--segments", "0"])
    assert rc == 1 and "needs a released per-video story" in capsys.readouterr().err


def test_dataset_mode_matches_videos_by_id(media, tmp_path, capsys):
    ann, vids = tmp_path / "annotations", tmp_path / "videos"
    ann.mkdir()
    vids.mkdir()
    (vids / "clipA.WEBM").symlink_to(media / "video" / "bbb_432-433s_moviepy.webm")  # linked, never copied
    one = {"video ID": "clipA", "url": "", "fps": 24, "segments": [{"start frame index": 0, "end frame index": 24,
           "story script": {"shots": [_shot("00:00", "00:01", 0)]}}]}
    _write(ann / "clipA.json", one)
    _write(ann / "clipB.json", {**one, "video ID": "clipB"})
    (ann / "broken.json").write_text("{", encoding="utf-8")
    out = tmp_path / "ds"
    rc = main(["annotate", "--dataset", str(ann), "--videos", str(vids), "--out", str(out), "--no-progress",
               "--no-context"])
    captured = capsys.readouterr()
    assert "done 1" in captured.out and "missing videos 1" in captured.out
    assert "MISSING clipB: no clipB." in captured.out
    assert "FAILED" in captured.err and "broken.json" in captured.err and "invalid JSON" in captured.err
    assert rc == 1  # the broken annotation file; the missing video alone is not an error
    got = json.loads((out / "clipA" / RELEASED_FILE).read_text())
    assert got["video ID"] == "clipA" and got["segments"][0]["story script"]["shots"][0]["audio annotation"]
    (ann / "broken.json").unlink()
    rc = main(["annotate", "--dataset", str(ann), "--videos", str(vids), "--out", str(out), "--no-progress",
               "--no-context"])
    assert rc == 0 and "skipped (already finished) 1" in capsys.readouterr().out


def test_dropped_shots_stay_listed_with_the_reason():
    plan = plan_released(released("relative"), duration_s=30.0)
    ann = {"type": "music", "sound description": "d", "visual context": "v"}
    records = [{"audio annotation": ann, "avshooter": {"index": e.position, "start_s": e.start_s, "end_s": e.end_s,
                                                        "audio": {"mix": f"audio/{e.position:04d}/mix.flac"}}}
               for e in plan.entries if e.position != 2]
    result = {"shots": records, "avshooter": {"video": "v.webm", "video_id": "v", "duration_s": 30.0,
                                              "dropped_shots": [{"index": 2, "reason": "prolonged music (90%)"}]}}
    out = plan.to_released(result)
    validate_released(out)
    first, again = out["segments"][0]["story script"]["shots"][2], out["segments"][1]["story script"]["shots"][0]
    for shot in (first, again):  # both listings of the dropped shot
        assert "audio annotation" not in shot and shot["avshooter"]["dropped"] == "prolonged music (90%)"
    assert out["segments"][1]["story script"]["shots"][1]["audio annotation"] == ann
