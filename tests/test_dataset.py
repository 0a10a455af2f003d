"""The one reader of annotate output (avshooter.io.dataset) and the shot record (avshooter.io.records)."""
from __future__ import annotations

import json

import pytest
import soundfile as sf

from avshooter.errors import InputError
from avshooter.io.dataset import iter_shots, read_story, shot_records, video_ids
from avshooter.io.records import STEMS, ShotRecord


def test_iter_shots_reads_every_shot_with_exact_audio(demo_out):
    records = list(iter_shots(demo_out))
    story = read_story(demo_out, records[0].video_id)
    assert len(records) == len(story["shots"]) == 4
    for rec in records:
        assert rec.id == f"{rec.video_id}/{rec.index:04d}"
        assert set(rec.audio) == {"mix", *STEMS}
        for stem in rec.audio:
            info = sf.info(str(rec.audio_path(demo_out, stem)))
            assert info.frames == rec.num_samples and info.samplerate == rec.sample_rate
        assert rec.annotation["type"] and rec.annotation["sound description"]
        assert rec.caption  # the picture side comes along
        assert "features" in rec.custom and "provenance" in rec.custom


def test_record_round_trips_and_manifest_matches(demo_out):
    records = list(iter_shots(demo_out))
    for rec in records:
        assert ShotRecord.from_dict(json.loads(json.dumps(rec.to_dict()))) == rec
    lines = [json.loads(x) for x in (demo_out / "manifest.jsonl").read_text().splitlines()]
    assert [line["id"] for line in lines] == [r.id for r in records]
    for line, rec in zip(lines, records):
        back = ShotRecord.from_dict(line)  # the manifest is the record without "custom"
        assert back.custom == {} and back.audio == rec.audio and back.start_sample == rec.start_sample


def test_unknown_fields_are_kept_in_custom():
    rec = ShotRecord(id="v/0000", video_id="v", index=0, start_s=0.0, end_s=1.0, start_sample=0,
                     end_sample=44100, sample_rate=44100, audio={"mix": "v/a.flac"},
                     annotation={"type": "music"}, story="v/story.json")
    d = rec.to_dict()
    d["from_a_newer_writer"] = 1
    assert ShotRecord.from_dict(d).custom == {"from_a_newer_writer": 1}
    assert rec.duration_s == 1.0
    with pytest.raises(KeyError, match="no 'effects'"):
        rec.audio_path("/x", "effects")


def test_reader_errors_are_one_line(tmp_path):
    with pytest.raises(InputError, match="not found"):
        video_ids(tmp_path / "nope")
    (tmp_path / "manifest.jsonl").write_text('{"video_id": "../escape"}\n')
    with pytest.raises(InputError, match="not a folder name"):
        video_ids(tmp_path)
    (tmp_path / "manifest.jsonl").write_text("")
    (tmp_path / "v").mkdir()
    (tmp_path / "v" / "story.json").write_text("{not json")
    assert video_ids(tmp_path) == ["v"]
    with pytest.raises(InputError, match="cannot read"):
        shot_records(tmp_path, "v")
    (tmp_path / "v" / "story.json").write_text('{"shots": [{"avshooter": {}}], "avshooter": {}}')
    with pytest.raises(InputError, match=r"shots\[0\] is not an annotated shot"):
        list(iter_shots(tmp_path))


def test_write_audio_clip_policy_is_explicit(tmp_path):
    import numpy as np

    from avshooter.errors import OutputError
    from avshooter.io.output import write_audio

    loud = np.array([[0.5, 1.5, -2.0, 0.1]], np.float32)
    with pytest.raises(OutputError, match="2 samples beyond"):
        write_audio(tmp_path / "a.flac", loud, 16000)
    assert not (tmp_path / "a.flac").exists()
    assert write_audio(tmp_path / "a.flac", loud, 16000, on_clip="clip") == 2
    assert write_audio(tmp_path / "a.wav", loud, 16000) == 0  # float WAV holds it
    back, _ = sf.read(str(tmp_path / "a.wav"), dtype="float32")
    assert back[1] == 1.5
    with pytest.raises(OutputError, match="NaN"):
        write_audio(tmp_path / "b.flac", np.array([[np.nan]], np.float32), 16000)


def test_missing_stem_and_offset_are_not_paths():
    shot = {"audio annotation": {"type": "music"},
            "avshooter": {"index": 2, "start_s": 0.0, "end_s": 1.0, "start_sample": 0, "end_sample": 16000,
                          "sample_rate": 16000, "speech": [],
                          "audio": {"mix": "audio/0002/mix.flac", "dialogue": None, "offset_s": 1.5}}}
    rec = ShotRecord.from_story_shot(shot, video_id="v", video="v.mp4", story_relpath="v/story.json")
    assert rec.audio == {"mix": "v/audio/0002/mix.flac"} and rec.custom["audio_offset_s"] == 1.5
