"""Exports of the demo's annotate output, read back with the library each format's users use.

Each export is compared with the records of :func:`avshooter.io.dataset.iter_shots`: shot counts,
lengths to the sample (decoded from the exported audio), the paper's fields and the extension.
"""
from __future__ import annotations

import builtins
import io
import json
import shutil
import tarfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from avshooter.cli import main
from avshooter.errors import BackendError, InputError
from avshooter.export import export
from avshooter.export.huggingface import EXTENSION
from avshooter.io.dataset import iter_shots

STEM_NAMES = ("mix", "dialogue", "music", "effects")


@pytest.fixture(scope="module")
def ds(demo_out, tmp_path_factory) -> Path:
    """A copy of the demo's annotate output; shot 0 gets an ASR transcript, words and one speaker."""
    root = tmp_path_factory.mktemp("export_src") / "ds"
    shutil.copytree(demo_out, root)
    story_path = root / "demo" / "story.json"
    story = json.loads(story_path.read_text())
    ext = story["shots"][0]["avshooter"]
    a, b = ext["speech"][0]["start_s"], ext["speech"][-1]["end_s"]
    ext.update(transcript="Hi, I'm Hana. Watch my ball.", language="en", speakers=["Hana"],
               words=[{"word": " Hi,", "start_s": a, "end_s": a + 0.3, "probability": 0.9},
                      {"word": " Hana.", "start_s": b - 0.5, "end_s": b - 0.1, "probability": 0.8}],
               events=[{"label": "Speech", "start_s": a, "end_s": b, "score": 0.7}],
               future_field={"x": 1})
    story_path.write_text(json.dumps(story))
    return root


def _records(root):
    return list(iter_shots(root))


def _decode(data: bytes):
    wav, sr = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    return wav, sr


def test_webdataset_round_trip(ds, tmp_path):
    import webdataset as wds

    records = _records(ds)
    dest = tmp_path / "wds"
    assert main(["export", str(ds), "--format", "webdataset", "--out", str(dest), "--shard-size", "3",
                 "--no-progress"]) == 0
    shards = sorted(dest.glob("shard-*.tar"))
    assert len(shards) == 2  # 4 shots, 3 per shard
    with tarfile.open(shards[0]) as tar:
        assert len(tar.getnames()) == 3 * 5  # 4 audio files + 1 json per shot
    samples = list(wds.WebDataset([str(s) for s in shards], shardshuffle=False))
    assert len(samples) == len(records) == 4
    for rec, sample in zip(records, samples):
        meta = json.loads(sample["json"])
        assert meta["id"] == rec.id and sample["__key__"] == rec.id
        assert meta["audio annotation"] == rec.annotation
        assert meta["custom"]["features"] == rec.custom["features"]
        for name in STEM_NAMES:
            wav, sr = _decode(sample[f"{name}.flac"])
            assert sr == rec.sample_rate
            assert wav.shape[0] == rec.end_sample - rec.start_sample
            ref, _ = sf.read(rec.audio_path(ds, name), dtype="float32", always_2d=True)
            np.testing.assert_array_equal(wav, ref)


def test_hf_round_trip(ds, tmp_path):
    from datasets import Audio, List, load_dataset

    records = _records(ds)
    dest = tmp_path / "hf"
    summary = export(ds, "hf", dest, shard_size=2, progress=False)
    assert summary["shots"] == 4 and len(list((dest / "data").glob("train-*.parquet"))) == 2
    loaded = load_dataset("parquet", data_dir=str(dest / "data"), split="train", cache_dir=str(tmp_path / "cache"))
    assert isinstance(loaded.features["mix"], Audio) and isinstance(loaded.features["effects"], Audio)
    assert isinstance(loaded.features["avshooter"]["speech"], List)  # nested, not a JSON string
    assert loaded.features["avshooter"]["features"]["mix"]["integrated_lufs"].dtype == "float64"
    assert len(loaded) == len(records)
    for name in STEM_NAMES:  # decoding needs torchcodec in datasets >= 4: read the FLAC bytes instead
        loaded = loaded.cast_column(name, Audio(decode=False))
    for rec, row in zip(records, loaded):
        assert row["id"] == rec.id
        assert {k: row[k] for k in ("type", "sound description", "visual context")} == rec.annotation
        assert row["caption"] == rec.caption and row["main characters"] == rec.characters
        assert row["num_samples"] == rec.end_sample - rec.start_sample
        ext = row["avshooter"]
        assert ext["speech"] == rec.speech
        assert ext["features"]["mix"] == rec.custom["features"]["mix"]
        assert {t["label"]: t["score"] for t in ext["type_scores"]} == rec.custom["type_scores"]
        for name in STEM_NAMES:
            wav, sr = _decode(row[name]["bytes"])
            assert (sr, wav.shape[0]) == (rec.sample_rate, rec.num_samples)
    first = loaded[0]["avshooter"]
    assert first["transcript"] == "Hi, I'm Hana. Watch my ball." and first["speakers"] == ["Hana"]
    assert [w["word"] for w in first["words"]] == [" Hi,", " Hana."]
    assert {"label": "Speech", "stem": None, "layer": None, "score": 0.7, "start_s": records[0].speech[0]["start_s"],
            "end_s": records[0].speech[-1]["end_s"]} in first["labels"]
    extra = json.loads(first["extra"])
    assert extra["future_field"] == {"x": 1}
    lost = [k for k in records[0].custom if k not in EXTENSION and k not in extra and k not in ("events", "labels")]
    assert not lost  # every extension key is a column or kept in "extra"
    assert json.loads(first["provenance"]) == records[0].custom["provenance"]
    # the dataset card lets load_dataset find the shards by the folder alone
    again = load_dataset(str(dest), split="train", cache_dir=str(tmp_path / "cache2"))
    assert again["id"] == [r.id for r in records]


def test_lhotse_round_trip(ds, tmp_path):
    from lhotse import CutSet, RecordingSet, SupervisionSet

    records = _records(ds)
    dest = tmp_path / "lhotse"
    export(ds, "lhotse", dest, shard_size=3, progress=False)
    cuts = CutSet.from_file(dest / "cuts.jsonl.gz").to_eager()
    recordings = RecordingSet.from_file(dest / "recordings.jsonl.gz")
    sups = SupervisionSet.from_file(dest / "supervisions.jsonl.gz")
    assert len(cuts) == len(recordings) == len(records)
    assert len(sups) == sum(len(r.speech) for r in records)
    for rec, cut in zip(records, cuts):
        assert cut.id == rec.id and cut.recording.num_samples == rec.num_samples
        assert cut.num_samples == rec.end_sample - rec.start_sample and cut.sampling_rate == rec.sample_rate
        audio = cut.load_audio()
        assert audio.shape[-1] == rec.num_samples
        assert cut.load_effects().shape[-1] == rec.num_samples  # stems as custom recordings
        assert cut.custom["audio annotation"] == rec.annotation
        assert [(round(s.start + rec.start_s, 3), round(s.end + rec.start_s, 3)) for s in cut.supervisions] == \
               [(round(s["start_s"], 3), round(s["end_s"], 3)) for s in rec.speech]
    first = cuts[records[0].id]
    texts = [s.text for s in first.supervisions]
    assert texts[0] == "Hi," and texts[-1] == "Hana." and all(t is None for t in texts[1:-1])
    assert {s.speaker for s in first.supervisions} == {"Hana"} and {s.language for s in first.supervisions} == {"en"}
    assert first.supervisions[0].alignment["word"][0].symbol == "Hi,"
    assert all(s.speaker is None for c in cuts if c.id != first.id for s in c.supervisions)


def test_resume_skips_finished_shards(ds, tmp_path):
    dest = tmp_path / "wds"
    first = export(ds, "webdataset", dest, shard_size=1, progress=False)
    assert (first["written"], first["skipped"]) == (4, 0)
    before = {p.name: p.stat().st_mtime_ns for p in dest.glob("*.tar")}
    again = export(ds, "webdataset", dest, shard_size=1, progress=False)
    assert (again["written"], again["skipped"]) == (0, 4)
    assert {p.name: p.stat().st_mtime_ns for p in dest.glob("*.tar")} == before
    (dest / "shard-000002.tar").unlink()  # a crash before this shard was renamed into place
    (dest / ".shard-000002.tar.tmp").write_bytes(b"half a tar")  # ... leaving its temporary file
    third = export(ds, "webdataset", dest, shard_size=1, progress=False)
    assert (third["written"], third["skipped"]) == (1, 3)
    fewer = export(ds, "webdataset", dest, shard_size=2, progress=False)  # other grouping: redone, old ones removed
    assert fewer["written"] == 2 and sorted(p.name for p in dest.glob("*.tar")) == ["shard-000000.tar", "shard-000001.tar"]
    assert not list(dest.glob(".*.tmp"))


def test_audio_that_disagrees_with_the_record_is_refused(ds, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(ds, bad)
    rec = _records(bad)[1]
    path = rec.audio_path(bad, "music")
    wav, sr = sf.read(path, always_2d=True)
    sf.write(path, wav[:-1], sr)  # one sample short
    with pytest.raises(InputError, match="220499|198449|samples"):
        export(bad, "webdataset", tmp_path / "out", progress=False)
    assert not list((tmp_path / "out").glob("*.tar"))


def test_bad_input_is_one_line(ds, tmp_path, capsys):
    assert main(["export", str(tmp_path / "missing"), "--format", "hf", "--out", str(tmp_path / "o")]) == 1
    assert "annotate output folder not found" in capsys.readouterr().err
    assert main(["export", str(ds), "--format", "webdataset", "--out", str(tmp_path / "o"), "--shard-size", "0"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "shard size" in err
    with pytest.raises(InputError, match="unknown export format"):
        export(ds, "tfrecord", tmp_path / "o")


@pytest.mark.parametrize("fmt,module", [("hf", "datasets"), ("lhotse", "lhotse")])
def test_missing_extra_names_the_install(ds, tmp_path, monkeypatch, fmt, module):
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == module or name.startswith(module + "."):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(BackendError, match=r"pip install 'avshooter\[export\]'"):
        export(ds, fmt, tmp_path / "o", progress=False)
