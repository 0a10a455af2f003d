"""annotate end to end on real media: the demo clip (known soundtrack), detected shots, speech, resume."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from avshooter.cli import main
from avshooter.config import AnnotateConfig
from avshooter.io.schema import validate_record


def _story(out: Path, video_id: str = "demo") -> dict:
    return json.loads((out / video_id / "story.json").read_text(encoding="utf-8"))


def _manifest(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]


def test_demo_records_match_ground_truth(demo, demo_out):
    story = _story(demo_out)
    validate_record(story)
    truth = json.loads(demo["truth"].read_text())
    shots = story["shots"]
    assert len(shots) == 4
    expected = [s["type"] for s in truth["shots"]]
    got = [s["audio annotation"]["type"] for s in shots]
    assert got[:3] == expected[:3]
    assert got[3] in ("ambience", "effects", "silence")
    for shot in shots:
        ann = shot["audio annotation"]
        assert ann["sound description"] and ann["visual context"]
        ext = shot["avshooter"]
        sr = ext["sample_rate"]
        mix, mix_sr = sf.read(demo_out / "demo" / ext["audio"]["mix"], always_2d=True)
        assert mix_sr == sr and mix.shape[0] == ext["end_sample"] - ext["start_sample"]
        stems = sum(sf.read(demo_out / "demo" / ext["audio"][k], always_2d=True)[0]
                    for k in ("dialogue", "music", "effects"))
        assert np.max(np.abs(stems - mix)) < 1e-4  # masks: stems sum back to the mix (24-bit FLAC)
        assert ext["provenance"]["config_hash"] and ext["provenance"]["backends"]["vad"]["name"] == "silero"
    # the spoken line is found where it is, and nowhere else
    speech_truth = truth["shots"][0]["speech_spans_s"][0]
    found = shots[0]["avshooter"]["speech"]
    assert found and found[0]["start_s"] < speech_truth[0] + 0.3 and found[-1]["end_s"] > speech_truth[1] - 0.3
    assert all(not s["avshooter"]["speech"] or s["audio annotation"]["type"] == "speech" for s in shots[1:])
    # the ball's impacts are linked to the caption
    assert shots[2]["avshooter"]["visual_context"]["on_screen"] is True
    manifest = _manifest(demo_out)
    assert [r["id"] for r in manifest] == [f"demo/{i:04d}" for i in range(4)]
    assert all((demo_out / r["audio"]["effects"]).exists() for r in manifest)


def test_rerun_skips_finished_video(demo, demo_out, capsys):
    before = (demo_out / "demo" / "story.json").stat().st_mtime_ns
    rc = main(["annotate", str(demo["video"]), "--story", str(demo["story"]), "--out", str(demo_out),
               "--no-progress"])
    assert rc == 0
    assert "skipped (already finished) 1" in capsys.readouterr().out
    assert (demo_out / "demo" / "story.json").stat().st_mtime_ns == before
    assert len(_manifest(demo_out)) == 4


def test_killed_run_resumes_without_redoing_shots(demo, demo_out, tmp_path):
    out = tmp_path / "ds"
    shutil.copytree(demo_out, out)
    # simulate a crash after two shots: no story.json, markers of shots 2 and 3 gone, a torn manifest line
    (out / "demo" / "story.json").unlink()
    for i in (2, 3):
        (out / "demo" / "audio" / f"{i:04d}" / "shot.json").unlink()
    lines = (out / "manifest.jsonl").read_text().splitlines()
    (out / "manifest.jsonl").write_text("\n".join(lines[:2]) + "\n" + lines[2][:40])
    (out / "demo" / "avshooter-killed.f32").write_bytes(b"\0" * 64)  # the decode cache of the killed run
    kept = out / "demo" / "audio" / "0000" / "music.flac"
    kept_mtime = kept.stat().st_mtime_ns
    redone = out / "demo" / "audio" / "0003" / "mix.flac"
    redone_mtime = redone.stat().st_mtime_ns
    assert main(["annotate", str(demo["video"]), "--story", str(demo["story"]), "--out", str(out),
                 "--no-progress"]) == 0
    assert kept.stat().st_mtime_ns == kept_mtime  # finished shot not redone
    assert redone.stat().st_mtime_ns != redone_mtime
    assert [r["id"] for r in _manifest(out)] == [f"demo/{i:04d}" for i in range(4)]
    assert _story(out)["shots"] == _story(demo_out)["shots"]
    assert not list((out / "demo").glob("*.f32"))


def test_python_api_runs_to_the_end_and_yields_records(demo, tmp_path):
    import avshooter

    config = AnnotateConfig(sample_rate=16000, context="none", asr="none")
    result = avshooter.annotate(demo["video"], story=demo["story"], out_dir=tmp_path / "a", config=config)
    assert len(result["shots"]) == 4 and (tmp_path / "a" / "demo" / "story.json").is_file()  # ran, not deferred
    lazy = avshooter.iter_annotate(demo["video"], story=demo["story"], out_dir=tmp_path / "b", config=config)
    assert not (tmp_path / "b").exists()  # a generator: nothing happens until it is iterated
    records = list(lazy)
    assert len(records) == 4 and records[1]["avshooter"]["sample_rate"] == 16000
    assert records[0]["audio annotation"]["visual context"].startswith("unknown")
    assert [r["audio annotation"] for r in records] == [s["audio annotation"] for s in result["shots"]]


def test_annotate_shot_on_an_array_with_a_held_backend(demo):
    import avshooter
    from avshooter.media.decode import load_audio

    wav, sr = load_audio(demo["video"], sample_rate=16000)
    separator = avshooter.load_backend("separation", "dsp", cache=False)  # built once, held by the caller
    assert separator is not avshooter.load_backend("separation", "dsp")  # not the pipelines' cached one
    calls = []

    class Held:  # the held separator, seen: every call must reach it
        def separate(self, wav, sample_rate, *, speech):
            calls.append(wav.shape)
            return separator.separate(wav, sample_rate, speech=speech)

    config = AnnotateConfig(sample_rate=16000, context="none", asr="none", separation="dsp")
    shot = wav[:, : 5 * sr]
    held = avshooter.annotate_shot(shot, sr, config=config, backends={"separation": Held()})
    assert calls == [shot.shape]  # the held backend is the one used
    by_name = avshooter.annotate_shot(shot, sr, config=config)
    assert calls == [shot.shape]  # ...and only when held
    assert held.type == by_name.type and held.description == by_name.description
    assert sum(held.stems.values()).shape == shot.shape


def test_paper_filter_drops_speech_and_music(demo, tmp_path):
    assert main(["annotate", str(demo["video"]), "--story", str(demo["story"]), "--out", str(tmp_path),
                 "--paper-filter", "--no-progress", "--no-context"]) == 0
    story = _story(tmp_path)
    kept = [s["avshooter"]["index"] for s in story["shots"]]
    dropped = [d["index"] for d in story["avshooter"]["dropped_shots"]]
    assert 0 in dropped and 1 in dropped and 2 in kept
    assert len(_manifest(tmp_path)) == len(kept)


def test_detected_shots_on_real_video(media, tmp_path):
    assert main(["annotate", str(media / "video" / "bbb_0-30s_moviepy.webm"), "--out", str(tmp_path),
                 "--no-progress", "--no-context"]) == 0
    story = _story(tmp_path, "bbb_0-30s_moviepy")
    starts = [s["avshooter"]["start_s"] for s in story["shots"]]
    for cut in (11.79, 15.67, 22.96):
        assert min(abs(s - cut) for s in starts) < 0.25
    assert not any(16.5 < s < 19.5 for s in starts)
    assert all(s["avshooter"]["end_s"] - s["avshooter"]["start_s"] >= 3.0 for s in story["shots"])
    assert story["avshooter"]["shots_from"] == "detected"
    assert all(not s["avshooter"]["speech"] or
               max(r["end_s"] - r["start_s"] for r in s["avshooter"]["speech"]) < 1.0 for s in story["shots"])


def _covered(ranges, grid):
    mask = np.zeros(grid.size, bool)
    for a, b in ranges:
        mask |= (grid >= a) & (grid < b)
    return mask


@pytest.mark.parametrize("name", ["libri1_5703-47212-0000.hq.ogg", "libri2_3436-172162-0000.hq.ogg"])
def test_speech_survives_the_pipeline(media, tmp_path, name):
    from avshooter.media.decode import load_audio
    from avshooter.audio.vad import speech_ranges

    path = media / "audio" / name
    raw, sr = load_audio(path)  # the file's own rate, no pipeline
    reference = speech_ranges(raw, sr)
    assert main(["annotate", str(path), "--out", str(tmp_path), "--no-progress", "--no-context"]) == 0
    story = _story(tmp_path, Path(name).stem)
    found = [(r["start_s"], r["end_s"]) for s in story["shots"] for r in s["avshooter"]["speech"]]
    grid = np.arange(0, raw.shape[1] / sr, 0.01)
    ref_mask = _covered(reference, grid)
    kept = (_covered(found, grid) & ref_mask).sum() / ref_mask.sum()
    assert kept >= 0.9
    assert all(s["audio annotation"]["type"] == "speech" for s in story["shots"])
    assert all("audio-only" in s["audio annotation"]["visual context"] for s in story["shots"])


def test_music_has_no_long_speech(media, tmp_path):
    path = media / "audio" / "vibeace_kevin_macleod.ogg"
    assert main(["annotate", str(path), "--out", str(tmp_path), "--no-progress", "--no-context"]) == 0
    story = _story(tmp_path, path.stem)
    ranges = [r for s in story["shots"] for r in s["avshooter"]["speech"]]
    assert all(r["end_s"] - r["start_s"] <= 1.0 for r in ranges)
    assert all(s["audio annotation"]["type"] == "music" for s in story["shots"])


def test_import_is_light():
    code = "import sys, avshooter; bad = [m for m in ('torch', 'av', 'onnxruntime', 'transformers', 'scipy') " \
           "if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_default_annotate_never_imports_torch(demo, tmp_path):
    """The offline default (faster-whisper, YAMNet, silero, numpy MiniLM) runs without torch in the process."""
    code = ("import sys; from avshooter.cli import main; "
            f"rc = main(['annotate', {str(demo['video'])!r}, '--story', {str(demo['story'])!r}, "
            f"'--out', {str(tmp_path / 'ds')!r}, '--no-progress']); "
            "print(rc, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip().splitlines()[-1] == "0 False", out.stderr[-800:]
