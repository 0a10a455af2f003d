"""Story records: reading both shot forms, every time form, clear errors, lossless round trip, schemas."""
from __future__ import annotations

import copy
import json
import logging
import os

import pytest

from avshooter.errors import OutputError, ShotError, StoryError
from avshooter.io.schema import load_schema, validate_input, validate_record
from avshooter.io.paths import resolve_relpath
from avshooter.io.story import (
    AudioAnnotation,
    Shot,
    check_story,
    load_story,
    save_story,
    story_from_shots,
)


def audio_form() -> dict:
    """A story in the AnimeShooter-audio form (plot/caption under "visual annotation")."""
    return {
        "storyline": "Two friends race to the station.",
        "main characters": [
            {"ID": "Aki", "appearance": "short red hair"},
            {"ID": "Ren", "appearance": "tall, glasses", "voice": "calm"},
        ],
        "main scenes": [{"ID": "S1", "environment": "a rainy street"}, {"ID": "S2", "environment": "a platform"}],
        "shots": [
            {
                "start time": "00:00",
                "end time": "00:04",
                "is_prologue_or_epilogue": "prologue",
                "main characters": ["Aki"],
                "scene": "S1",
                "visual annotation": {"plot": "Aki runs.", "caption": "Wide shot of a street.", "mood": "tense"},
                "audio annotation": {
                    "type": "sound effects",
                    "sound description": "fast footsteps on wet asphalt",
                    "visual context": "Aki's shoes",
                },
                "extra 4-second segment": "00:00-00:04",
            },
            {
                "start time": "00:04",
                "end time": "00:09",
                "main characters": ["Aki", "Ren"],
                "scene": "S2",
                "visual annotation": {"plot": "They meet.", "caption": "Close-up."},
                "avshooter": {"start_s": 4.2, "end_s": 8.75, "note": "kept"},
            },
        ],
        "source video": "ep01.mp4",
    }


def main_form() -> dict:
    """A story in the main-set form (plot/caption on the shot itself), without optional keys."""
    return {
        "storyline": "A cat waits.",
        "main characters": [{"ID": "Cat", "appearance": "grey"}],
        "main scenes": [{"ID": "Room", "environment": "a kitchen"}],
        "shots": [
            {"start time": "00:01", "end time": "00:05", "main characters": ["Cat"], "scene": "Room",
             "plot": "The cat sits.", "caption": "Static shot."},
            {"start time": "00:05", "end time": "00:08", "main characters": [], "scene": "Room",
             "plot": "Rain.", "caption": "Window."},
        ],
    }


def record() -> dict:
    """A valid output record."""
    story = audio_form()
    story["avshooter"] = {
        "video": "ep01.mp4", "video_id": "ep01", "duration_s": 57.3, "sample_rate": 48000,
        "provenance": {"avshooter": "0.1.0"},
    }
    for i, shot in enumerate(story["shots"]):
        shot.setdefault("audio annotation", {"type": "speech", "sound description": "talk", "visual context": "Ren"})
        shot["avshooter"] = {
            "start_s": float(i * 4), "end_s": float(i * 4 + 4), "start_sample": i * 192000,
            "end_sample": (i + 1) * 192000, "sample_rate": 48000,
            "audio": {"mix": f"shots/{i:03d}/mix.flac", "dialogue": f"shots/{i:03d}/dialogue.flac",
                      "music": None, "effects": f"shots/{i:03d}/effects.flac"},
            "speech": [{"start_s": 0.5, "end_s": 1.25}],
            "features": {"lufs": -23.0}, "type_scores": {"speech": 0.9, "music": 0.1},
            "provenance": {"backends": {"vad": "silero"}, "versions": {"silero-vad": "6.2.3"},
                           "params": {}, "config_hash": "abc123"},
            "transcript": "行こう!", "words": [{"word": "行こう", "start_s": 0.5, "end_s": 1.0}],
            "events": [{"label": "footsteps", "start_s": 0.0, "end_s": 2.0, "score": 0.7}], "flags": [],
        }
    return story


def write(tmp_path, data, name="story.json") -> str:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return str(path)


# ------------------------------------------------------------------------------------------ reading


def test_audio_form_fields():
    story = load_story(audio_form())
    first, second = story.shots
    assert (first.index, first.start_s, first.end_s) == (0, 0.0, 4.0)
    assert first.plot == "Aki runs." and first.caption == "Wide shot of a street."
    assert first.characters == ["Aki"] and first.scene == "S1" and first.prologue_or_epilogue == "prologue"
    assert first.audio == AudioAnnotation("sound effects", "fast footsteps on wet asphalt", "Aki's shoes")
    assert first.extra == {"extra 4-second segment": "00:00-00:04"}
    assert (second.start_s, second.end_s) == (4.2, 8.75)  # exact seconds win over "MM:SS"
    assert second.duration_s == pytest.approx(4.55)
    assert story.character_ids == ["Aki", "Ren"] and story.scene_ids == ["S1", "S2"]
    assert story.characters[1].extra == {"voice": "calm"}
    assert story.extra == {"source video": "ep01.mp4"}


def test_main_form_fields():
    story = load_story(main_form())
    shot = story.shots[0]
    assert shot.visual_form == "flat" and shot.plot == "The cat sits." and shot.caption == "Static shot."
    assert shot.audio is None and story.spans == [(1.0, 5.0), (5.0, 8.0)]


def test_narrative_caption_aliases():
    data = main_form()
    for shot in data["shots"]:
        shot["visual annotation"] = {"narrative caption": shot.pop("plot"), "descriptive caption": shot.pop("caption")}
    story = load_story(data)
    assert story.shots[0].plot == "The cat sits." and story.shots[0].caption == "Static shot."
    story.shots[0].plot = "Changed."
    assert story.to_dict()["shots"][0]["visual annotation"]["narrative caption"] == "Changed."


@pytest.mark.parametrize("form", [audio_form, main_form])
def test_round_trip_file(tmp_path, form):
    data = form()
    out = tmp_path / "out.json"
    save_story(load_story(write(tmp_path, data)), out)
    assert json.loads(out.read_text(encoding="utf-8")) == data
    assert list(json.loads(out.read_text(encoding="utf-8"))) == list(data)  # key order kept too


@pytest.mark.parametrize("form", [audio_form, main_form, record])
def test_round_trip_dict(form):
    data = form()
    assert load_story(copy.deepcopy(data)).to_dict() == data


def test_round_trip_keeps_absent_and_null_keys():
    data = {"shots": [{"start time": "00:00", "end time": "00:03", "scene": None, "avshooter": {}}]}
    assert load_story(data).to_dict() == data


@pytest.mark.parametrize(
    ("start", "end", "fps", "expected"),
    [
        ("00:01", "00:03", None, (1.0, 3.0)),
        ("00:00:01.250", "01:00:00.5", None, (1.25, 3600.5)),
        (1.5, "2.75", None, (1.5, 2.75)),
        (3, 7, None, (3.0, 7.0)),
        ({"frame": 24}, {"frame": 60}, 24.0, (1.0, 2.5)),
        ("frame:48", "frame:96", 24.0, (2.0, 4.0)),
    ],
)
def test_time_forms(start, end, fps, expected):
    data = {"shots": [{"start time": start, "end time": end}]}
    story = load_story(copy.deepcopy(data), fps=fps)
    assert story.shots[0].span == pytest.approx(expected)
    assert story.to_dict() == data  # written back exactly as given


def test_fps_from_story_extension():
    data = {"shots": [{"start time": {"frame": 30}, "end time": {"frame": 90}}], "avshooter": {"fps": 30}}
    assert load_story(data).shots[0].span == (1.0, 3.0)


def test_prologue_boolean_accepted():
    data = {"shots": [{"start time": "00:00", "end time": "00:03", "is_prologue_or_epilogue": False}]}
    assert load_story(data).to_dict() == data


# ------------------------------------------------------------------------------------------ errors


def bad_shot(**changes) -> dict:
    data = audio_form()
    data["shots"][1].update(changes)
    return data


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ([1, 2], "story: expected an object, got a list"),
        ({"storyline": "x"}, "missing key 'shots'"),
        ({"shots": {}}, "shots: expected a list, got an object"),
        ({"shots": []}, "shots: empty list"),
        ({"shots": ["00:00"]}, "shots[0]: expected an object, got a string"),
        ({"storyline": 3, "shots": [{"start time": 0, "end time": 1}]}, "storyline: expected a string, got a number"),
        ({"main characters": {}, "shots": [{"start time": 0, "end time": 1}]}, "main characters: expected a list"),
        ({"main characters": [{"appearance": "x"}], "shots": [{"start time": 0, "end time": 1}]},
         "main characters[0]: missing key 'ID'"),
        ({"main scenes": [{"ID": "S1"}, {"ID": "S1"}], "shots": [{"start time": 0, "end time": 1}]},
         "main scenes[1].ID: duplicate ID 'S1'"),
        (bad_shot(**{"end time": None}), "shots[1].end time: None breaks the rule: A time"),
        (bad_shot(**{"start time": "4 seconds"}), "shots[1].start time: '4 seconds' is not a time"),
        (bad_shot(**{"start time": "00:75"}), "shots[1].start time: '00:75' has minutes or seconds >= 60"),
        (bad_shot(**{"start time": {"frame": 10}}), "shots[1].start time: a frame index needs the video's fps"),
        (bad_shot(**{"main characters": "Aki"}), "shots[1].main characters: expected a list, got a string"),
        (bad_shot(**{"main characters": ["Aki", 2]}), "shots[1].main characters[1]: expected a string, got a number"),
        (bad_shot(scene=["S1"]), "shots[1].scene: expected a string or null, got a list"),
        (bad_shot(plot="x"), "shots[1]: breaks the rule: One form per shot"),
        (bad_shot(**{"visual annotation": "x"}), "shots[1].visual annotation: expected an object, got a string"),
        (bad_shot(**{"visual annotation": {"plot": 1}}), "shots[1].visual annotation.plot: expected a string"),
        (bad_shot(**{"audio annotation": {"type": None}}),
         "shots[1].audio annotation.type: expected a string, got null"),
        (bad_shot(is_prologue_or_epilogue="intro"), "shots[1].is_prologue_or_epilogue: 'intro' is not allowed"),
        (bad_shot(avshooter=[]), "shots[1].avshooter: expected an object, got a list"),
        (bad_shot(avshooter={"start_s": "4.2"}), "shots[1].avshooter.start_s: expected a number, got a string"),
        (bad_shot(avshooter={"end_s": float("nan")}), "shots[1].avshooter.end_s: nan must be a finite number"),
    ],
)
def test_story_errors(data, expected):
    with pytest.raises(StoryError) as info:
        load_story(data)
    assert expected in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_end_time_names_file(tmp_path):
    data = audio_form()
    del data["shots"][1]["end time"]
    with pytest.raises(StoryError, match=r"story\.json: shots\[1\]: missing key 'end time'$"):
        load_story(write(tmp_path, data))


def test_invalid_json_line_and_column(tmp_path):
    path = write(tmp_path, '{\n  "shots": [\n    {"start time": "00:00",, }\n  ]\n}')
    with pytest.raises(StoryError, match=r"story\.json: invalid JSON at line 3, column 28"):
        load_story(path)


def test_duplicate_key_and_unreadable_files(tmp_path):
    with pytest.raises(StoryError, match="key 'shots' appears twice"):
        load_story(write(tmp_path, '{"shots": [], "shots": []}'))
    with pytest.raises(StoryError, match="cannot read story"):
        load_story(tmp_path / "missing.json")
    (tmp_path / "latin1.json").write_bytes('{"storyline": "caf\xe9"}'.encode("latin-1"))
    with pytest.raises(StoryError, match="not UTF-8"):
        load_story(tmp_path / "latin1.json")


@pytest.mark.parametrize(
    ("shots", "expected"),
    [
        ([("00:03", "00:03")], "shots[0]: end 3.000 s is not after start 3.000 s"),
        ([("00:05", "00:02")], "shots[0]: end 2.000 s is not after start 5.000 s"),
        ([("00:04", "00:08"), ("00:00", "00:03")], "shots[1] starts at 0.000 s, before shots[0] starts at 4.000 s"),
        ([("00:00", "00:05"), ("00:04", "00:08")], "shots[1] starts at 4.000 s, before shots[0] ends at 5.000 s"),
    ],
)
def test_shot_errors(shots, expected):
    data = {"shots": [{"start time": a, "end time": b} for a, b in shots]}
    with pytest.raises(ShotError) as info:
        load_story(data)
    assert expected in str(info.value)


def test_shot_past_duration(tmp_path):
    data = {"shots": [{"start time": "00:00", "end time": "00:20"}, {"start time": "00:30", "end time": "01:01"}]}
    with pytest.raises(ShotError, match=r"story\.json: shots\[1\] ends at 61\.000 s but the video lasts 57\.300 s"):
        load_story(write(tmp_path, data), duration_s=57.3)
    with pytest.raises(ShotError, match=r"shots\[1\] starts at 30\.000 s but the video lasts 25\.000 s"):
        load_story(data, duration_s=25.0)


def test_whole_second_end_clamped_with_warning(caplog):
    data = {"shots": [{"start time": "00:50", "end time": "00:58"}]}
    with caplog.at_level(logging.WARNING, logger="avshooter.io.story"):
        story = load_story(copy.deepcopy(data), duration_s=57.3)
    assert story.shots[0].end_s == 57.3 and "clamped" in caplog.text
    assert story.to_dict() == data  # the paper's string is kept
    exact = {"shots": [{"start time": "00:50", "end time": "00:58", "avshooter": {"end_s": 57.9}}]}
    with pytest.raises(ShotError, match="ends at 57.900 s"):
        load_story(exact, duration_s=57.3)


def test_unknown_ids_strict_and_lenient(caplog):
    data = bad_shot(scene="S9", **{"main characters": ["Aki", "Zed"]})
    unknown = r"shots\[1\]\.main characters\[1\]: unknown character ID 'Zed' \(known: Aki, Ren\)"
    with pytest.raises(StoryError, match=unknown):
        load_story(copy.deepcopy(data), strict=True)
    data["shots"][1]["main characters"] = ["Aki"]
    with pytest.raises(StoryError, match=r"shots\[1\]\.scene: unknown scene ID 'S9' \(known: S1, S2\)"):
        load_story(copy.deepcopy(data), strict=True)
    with caplog.at_level(logging.WARNING, logger="avshooter.io.story"):
        story = load_story(data)
    assert story.shots[1].scene == "S9" and "unknown scene ID 'S9'" in caplog.text


def test_check_story_again_with_duration():
    story = load_story(main_form())
    check_story(story, duration_s=9.0)
    with pytest.raises(ShotError, match=r"shots\[1\] ends at 8.000 s but the video lasts 6.500 s"):
        check_story(story, duration_s=6.5, strict=True)


# ------------------------------------------------------------------------------------------ writing


def test_story_from_shots_exact_seconds(tmp_path):
    story = story_from_shots([(0.0, 3.5), (3.5, 7.0), (7.0, 10.0)], storyline="detected")
    out = story.to_dict()
    assert out["shots"][0] == {"start time": "00:00", "end time": "00:03", "main characters": [],
                               "avshooter": {"start_s": 0.0, "end_s": 3.5}}
    assert out["shots"][2] == {"start time": "00:07", "end time": "00:10", "main characters": []}
    path = save_story(story, tmp_path / "detected.json")
    again = load_story(path)
    assert again.spans == [(0.0, 3.5), (3.5, 7.0), (7.0, 10.0)] and again.storyline == "detected"
    assert again.to_dict() == out
    with pytest.raises(ShotError, match=r"shots\[1\] starts at 2.000 s, before shots\[0\] ends at 3.000 s"):
        story_from_shots([(0, 3), (2, 4)])
    with pytest.raises(ShotError, match="no shot spans"):
        story_from_shots([])


def test_retime_rewrites_strings_and_exact_seconds():
    story = load_story(audio_form())
    story.shots[1].retime(4.5, 8.0)
    shot = story.to_dict()["shots"][1]
    assert (shot["start time"], shot["end time"]) == ("00:04", "00:08")
    assert shot["avshooter"] == {"start_s": 4.5, "end_s": 8.0, "note": "kept"}


def test_new_shot_audio_form():
    shot = Shot(index=0, start_s=1.0, end_s=4.0, scene="S1")
    shot.plot, shot.caption = "p", "c"
    shot.audio = AudioAnnotation("music", "soft piano", "none on screen")
    assert shot.to_dict() == {
        "start time": "00:01", "end time": "00:04", "main characters": [], "scene": "S1",
        "visual annotation": {"plot": "p", "caption": "c"},
        "audio annotation": {"type": "music", "sound description": "soft piano", "visual context": "none on screen"},
    }


def test_flat_form_converted_to_audio_form():
    story = load_story(main_form())
    for shot in story.shots:
        shot.visual_form = "nested"
    shot = story.to_dict()["shots"][0]
    assert "plot" not in shot and shot["visual annotation"] == {"plot": "The cat sits.", "caption": "Static shot."}


def test_save_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "story.json"
    save_story(load_story(audio_form()), path)
    before = path.read_bytes()

    def broken(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(OutputError, match=r"system error: no space left on device while writing .*story\.json"):
        save_story(load_story(main_form()), path)
    assert path.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["story.json"]


def test_save_rejects_nan(tmp_path):
    story = story_from_shots([(0.0, 2.0)])
    story.avshooter["loudness"] = float("nan")
    with pytest.raises(StoryError, match="cannot write story as JSON"):
        save_story(story, tmp_path / "nan.json")
    assert list(tmp_path.iterdir()) == []


def test_non_ascii_name_and_content(tmp_path):
    data = {
        "storyline": "少女が駅へ走る。",
        "main characters": [{"ID": "アキ", "appearance": "赤い髪"}],
        "main scenes": [{"ID": "駅", "environment": "雨のホーム"}],
        "shots": [{"start time": "00:00", "end time": "00:04", "main characters": ["アキ"], "scene": "駅",
                   "plot": "アキが走る。", "caption": "雨の中の全景。"}],
    }
    folder = tmp_path / "物語"
    folder.mkdir()
    path = write(folder, data, name="第一話.json")
    story = load_story(path, strict=True)
    assert story.shots[0].plot == "アキが走る。"
    out = save_story(story, folder / "出力" / "第一話.json")
    text = out.read_text(encoding="utf-8")
    assert "少女が駅へ走る。" in text and "\\u" not in text and text.endswith("}\n")
    assert json.loads(text) == data
    bad = dict(data, shots=[{"start time": "00:00"}])
    with pytest.raises(StoryError, match=r"第一話\.json: shots\[0\]: missing key 'end time'"):
        load_story(write(folder, bad, name="第一話.json"))


def test_resolve_relpath(tmp_path):
    assert resolve_relpath(tmp_path, "shots/000/mix.flac") == (tmp_path / "shots/000/mix.flac").resolve()
    for bad in ("../x.flac", "/etc/passwd", "a/../../x", ""):
        with pytest.raises(StoryError, match="shots\\[0\\].avshooter.audio.mix"):
            resolve_relpath(tmp_path, bad, where="shots[0].avshooter.audio.mix")


# ------------------------------------------------------------------------------------------ schemas


@pytest.mark.parametrize("form", [audio_form, main_form])
def test_input_schema_accepts_both_forms(form):
    validate_input(form())


def test_input_schema_time_forms_and_errors():
    validate_input({"shots": [{"start time": {"frame": 3}, "end time": "frame:9"},
                              {"start time": 1.5, "end time": "00:00:04.5"}]})
    with pytest.raises(StoryError, match=r"story\.json: shots\[0\]\.start time: 'soon' is not a time"):
        validate_input({"shots": [{"start time": "soon", "end time": "00:03"}]}, source="story.json")
    with pytest.raises(StoryError, match=r"shots\[1\]: breaks the rule: One form per shot"):
        validate_input(bad_shot(plot="x"))


def test_record_schema_valid_and_round_trip():
    data = record()
    validate_record(data)
    validate_input(data)  # a record is also a valid input story
    validate_record(load_story(copy.deepcopy(data)).to_dict())


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda r: r["shots"][1]["avshooter"].pop("start_sample"),
         r"shots\[1\]\.avshooter: missing key 'start_sample'"),
        (lambda r: r["shots"][0].pop("audio annotation"), r"shots\[0\]: missing key 'audio annotation'"),
        (lambda r: r["shots"][0]["audio annotation"].pop("visual context"),
         r"shots\[0\]\.audio annotation: missing key 'visual context'"),
        (lambda r: r["shots"][0]["avshooter"]["audio"].update(mix="../../etc/x.flac"),
         r"shots\[0\]\.avshooter\.audio\.mix"),
        (lambda r: r["shots"][0]["avshooter"]["provenance"].pop("config_hash"), r"provenance: missing key 'config_hash'"),
        (lambda r: r["shots"][0]["avshooter"]["speech"].append({"start_s": 1.0}),
         r"speech\[1\]: missing key 'end_s'"),
        (lambda r: r["avshooter"].pop("video_id"), r"^avshooter: missing key 'video_id'"),
        (lambda r: r.pop("avshooter"), r"^record: missing key 'avshooter'"),
    ],
)
def test_record_schema_errors(change, expected):
    data = record()
    change(data)
    with pytest.raises(StoryError, match=expected):
        validate_record(data)


def test_flat_form_is_not_a_record():
    data = record()
    visual = data["shots"][1].pop("visual annotation")
    data["shots"][1].update(visual)
    with pytest.raises(StoryError, match=r"shots\[1\]"):
        validate_record(data)


def test_schemas_are_valid_draft_2020_12():
    from jsonschema import Draft202012Validator

    for name in ("story", "record"):
        schema = load_schema(name)
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        Draft202012Validator.check_schema(schema)


def test_import_stays_light():
    import subprocess
    import sys

    code = "import sys, avshooter.io.story, avshooter.io.schema; print('jsonschema' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_untimed_story_needs_both_times_or_none():
    story = load_story({"shots": [{"caption": "Aki waves."}, {"caption": "Rain."}]}, require_times=False)
    assert [s.timed for s in story.shots] == [False, False]
    assert "start time" not in story.to_dict()["shots"][0]
    with pytest.raises(StoryError, match=r"shots\[0\]: missing key 'start time'"):
        load_story({"shots": [{"caption": "Aki waves."}]})
    with pytest.raises(StoryError, match=r"shots\[0\]: 'end time' is needed with 'start time'"):
        load_story({"shots": [{"start time": "00:01", "caption": "x"}]}, require_times=False)
