"""generate end to end on the demo: durations to the sample, loudness, sync, mux, prompts, bad input."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile as sf

from avshooter.cli import main
from avshooter.config import GenerateConfig
from avshooter.audio.loudness import integrated_loudness, true_peak_dbtp
from avshooter.units import to_samples

FRAME_S = 1 / 24


def _streams(path: Path) -> dict:
    with av.open(str(path)) as c:
        out = {}
        for s in c.streams:
            last = max((p.pts + (p.duration or 0)) for p in c.demux(s) if p.pts is not None)
            c.seek(0)
            out[s.type] = {"codec": s.codec_context.name, "duration_s": float(last * s.time_base)}
        return out


@pytest.fixture(scope="session")
def story_with_lines(demo, tmp_path_factory) -> Path:
    """The demo story plus one dialogue line (an extension field of ours) in shot 0."""
    story = json.loads(demo["story"].read_text())
    story["shots"][0].setdefault("avshooter", {})["dialogue"] = [
        {"character": story["shots"][0]["main characters"][0], "text": "Hello there!", "start_s": 0.5,
         "language": "en"}]
    path = tmp_path_factory.mktemp("story") / "story.json"
    path.write_text(json.dumps(story))
    return path


@pytest.fixture(scope="session")
def gen_out(demo, demo_out, story_with_lines, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("gen")
    rc = main(["generate", "--story", str(story_with_lines), "--videos", str(demo["shots"]),
               "--bank", str(demo_out), "--out", str(out)])
    assert rc == 0
    return out


def test_lengths_to_the_sample_and_mux(demo, gen_out):
    report = json.loads((gen_out / "generate.json").read_text())
    wav, sr = sf.read(gen_out / "soundtrack.flac", always_2d=True)
    assert sr == 48000 and wav.shape[0] == to_samples(18.0, sr) == report["num_samples"]
    spans = [(s["start_sample"], s["end_sample"]) for s in report["shots"]]
    assert spans[0][0] == 0 and spans[-1][1] == wav.shape[0]
    assert all(a[1] == b[0] for a, b in zip(spans, spans[1:]))
    streams = _streams(gen_out / "story.mp4")
    assert streams["audio"]["codec"] == "aac" and abs(streams["video"]["duration_s"] - 18.0) < FRAME_S
    assert report["mux"]["story"]["video"] == "copied"
    for k, (a, b) in enumerate(spans):
        shot = _streams(gen_out / "shots" / f"shot_{k:03d}.mp4")
        assert abs(shot["video"]["duration_s"] - (b - a) / sr) < FRAME_S
        assert abs(shot["audio"]["duration_s"] - shot["video"]["duration_s"]) <= 1024 / 48000 + 1e-3


def test_loudness_target_and_true_peak(gen_out):
    wav, sr = sf.read(gen_out / "soundtrack.flac", always_2d=True)
    assert abs(integrated_loudness(wav.T, sr) - (-23.0)) <= 0.5
    assert true_peak_dbtp(wav.T, sr) <= -1.0 + 0.05  # 24-bit FLAC rounding
    report = json.loads((gen_out / "generate.json").read_text())
    assert set(report["outputs"]["stems"]) >= {"effects", "ambience", "dialogue"}


def test_effects_synced_to_the_ball(gen_out):
    report = json.loads((gen_out / "generate.json").read_text())
    ball = report["shots"][2]
    assert ball["effects"]["source"] == "demo/0002"
    assert ball["sync"]["matched"] >= 5 and ball["sync"]["offset_after_s"] <= FRAME_S
    for shot in report["shots"]:  # a shift is only kept when it brings the onsets closer
        sync = shot["sync"]
        if sync["offset_before_s"] is not None and sync["offset_after_s"] is not None:
            assert sync["offset_after_s"] <= sync["offset_before_s"] + 1e-9


def test_dialogue_is_placed_in_its_shot(gen_out):
    from avshooter.audio.vad import speech_ranges

    report = json.loads((gen_out / "generate.json").read_text())
    placed = report["shots"][0]["dialogue"][0]
    assert placed["start_s"] == pytest.approx(0.5, abs=1e-3) and placed["end_s"] <= 5.0
    dialogue, sr = sf.read(gen_out / "stems" / "dialogue.flac", always_2d=True)
    ranges = speech_ranges(dialogue.T, sr)
    assert ranges and ranges[0][0] >= 0.4 and ranges[-1][1] <= 5.0


def test_edited_prompts_are_used(demo, demo_out, gen_out, story_with_lines, tmp_path):
    prompts = json.loads((gen_out / "prompts.json").read_text())
    prompts["shots"][3]["effects"] = "a ball bouncing on the floor"
    edited = tmp_path / "prompts.json"
    edited.write_text(json.dumps(prompts))
    out = tmp_path / "out"
    assert main(["generate", "--story", str(story_with_lines), "--videos", str(demo["shots"]), "--bank",
                 str(demo_out), "--prompts", str(edited), "--out", str(out), "--no-sync",
                 "--target-lufs", "-16"]) == 0
    report = json.loads((out / "generate.json").read_text())
    assert report["shots"][3]["effects"]["prompt"] == "a ball bouncing on the floor"
    assert report["shots"][3]["effects"]["source"] == "demo/0002"
    wav, sr = sf.read(out / "soundtrack.flac", always_2d=True)
    assert abs(integrated_loudness(wav.T, sr) + 16.0) <= 0.5 and true_peak_dbtp(wav.T, sr) <= -0.95


def test_one_video_cut_by_story_times(demo, demo_out, tmp_path):
    assert main(["generate", "--story", str(demo["story"]), "--videos", str(demo["video"]), "--bank",
                 str(demo_out), "--out", str(tmp_path), "--no-sync"]) == 0
    report = json.loads((tmp_path / "generate.json").read_text())
    assert report["mux"]["story"]["video"] == "copied"
    assert all(s["video"] == "re-encoded" for s in report["mux"]["shots"])
    assert abs(_streams(tmp_path / "shots" / "shot_001.mp4")["video"]["duration_s"] - 4.5) < FRAME_S


@pytest.fixture(scope="module")
def tiny_ldm(tmp_path_factory):
    from tiny_diffusers import tiny_audioldm2

    folder = tmp_path_factory.mktemp("tiny-audioldm2")
    tiny_audioldm2().save_pretrained(folder)
    return folder


def test_tiny_audioldm2_end_to_end_with_chunks(demo, story_with_lines, tiny_ldm, tmp_path):
    """The real AudioLDM2 code path (random weights); shots past the model's maximum come in chunks."""
    from avshooter.errors import BackendError
    from avshooter.generation.pipeline import generate
    from avshooter.backends.text_to_audio import load_tta

    options = {"model": str(tiny_ldm), "steps": 2, "max_duration_s": 2.0}
    config = GenerateConfig(tta="audioldm2", tta_options=options, ambience=False, sync=False, seed=3)
    # random weights make near-silence (about -98 dBFS): the pipeline must refuse it, not mix silence
    with pytest.raises(BackendError, match="silence"):
        generate(story_with_lines, demo["shots"], out_dir=tmp_path / "silent", config=config)
    assert not (tmp_path / "silent" / "story.mp4").exists()
    # then the same real model, its output brought to -20 dBFS peak (the one fake: a gain)
    backend = load_tta("audioldm2", options=options)
    real_generate = backend.generate

    def louder(*args, **kwargs):
        out = real_generate(*args, **kwargs)
        for res in out:
            res["wav"] = res["wav"] * (0.1 / max(float(np.max(np.abs(res["wav"]))), 1e-12))
            res["silent"] = False
        return out

    backend.generate = louder
    try:
        report = generate(story_with_lines, demo["shots"], out_dir=tmp_path, config=config)
        again = generate(story_with_lines, demo["shots"], out_dir=tmp_path / "again", config=config)
    finally:
        del backend.generate
    assert report["provenance"]["tta"]["name"] == "audioldm2"
    assert all(s["effects"]["chunks"] >= 2 for s in report["shots"])  # every shot is longer than 2 s
    wav, sr = sf.read(tmp_path / "soundtrack.flac", always_2d=True)
    assert wav.shape[0] == to_samples(18.0, sr)
    seeds = [s["effects"]["seed"] for s in report["shots"]]
    assert [s["effects"]["seed"] for s in again["shots"]] == seeds
    effects_a = sf.read(tmp_path / "stems" / "effects.flac")[0]
    effects_b = sf.read(tmp_path / "again" / "stems" / "effects.flac")[0]
    assert np.array_equal(effects_a, effects_b)  # deterministic by seed
    assert np.max(np.abs(effects_a)) > 0.01 and abs(integrated_loudness(wav.T, sr) + 23.0) <= 0.5


def _err(capsys, *argv):
    rc = main(["generate", *map(str, argv)])
    err = capsys.readouterr().err.strip()
    return rc, err


def test_bad_inputs(demo, demo_out, story_with_lines, tmp_path, capsys, media):
    base = ["--story", story_with_lines, "--bank", demo_out]
    three = tmp_path / "three"
    shutil.copytree(demo["shots"], three)
    (three / "shot_003.mp4").unlink()
    rc, err = _err(capsys, *base, "--videos", three, "--out", tmp_path / "o1")
    assert rc == 1 and "4 shots but the folder holds 3 videos" in err and len(err.splitlines()) == 1
    rc, err = _err(capsys, *base, "--videos", tmp_path / "nope.mp4", "--out", tmp_path / "o2")
    assert rc == 1 and len(err.splitlines()) == 1
    novideo = tmp_path / "novideo"
    shutil.copytree(demo["shots"], novideo)
    shutil.copy(media / "audio" / "libri1_5703-47212-0000.hq.ogg", novideo / "shot_003.mp4")
    rc, err = _err(capsys, *base, "--videos", novideo, "--out", tmp_path / "o3")
    assert rc == 1 and "no video stream" in err
    rc, err = _err(capsys, "--story", story_with_lines, "--videos", demo["shots"], "--out", tmp_path / "o4")
    assert rc == 1 and "--bank" in err
    rc, err = _err(capsys, *base, "--videos", demo["shots"], "--out", tmp_path / "o5", "--tta", "audioldm2",
                   "--device", "cuda")
    assert rc == 1 and "cuda" in err and len(err.splitlines()) == 1
    story = json.loads(story_with_lines.read_text())
    story["shots"][1]["scene"] = "nowhere"
    bad_story = tmp_path / "bad.json"
    bad_story.write_text(json.dumps(story))
    rc, err = _err(capsys, "--story", bad_story, "--bank", demo_out, "--videos", demo["shots"], "--out",
                   tmp_path / "o6")
    assert rc == 1 and "nowhere" in err
    story = json.loads(story_with_lines.read_text())
    story["shots"][2]["avshooter"] = {"start_s": 9.5, "end_s": 9.5}
    story["shots"][2]["end time"] = story["shots"][2]["start time"]
    zero = tmp_path / "zero.json"
    zero.write_text(json.dumps(story))
    rc, err = _err(capsys, "--story", zero, "--bank", demo_out, "--videos", demo["video"], "--out",
                   tmp_path / "o8")
    assert rc == 1 and "shots[2]" in err and len(err.splitlines()) == 1
    prompts = tmp_path / "prompts.json"
    from avshooter.generation.prompts import build_prompts, save_prompts
    from avshooter.io.story import load_story

    p = build_prompts(load_story(story_with_lines))
    p.shots[2].effects = "  "
    save_prompts(p, prompts)
    rc, err = _err(capsys, *base, "--videos", demo["shots"], "--out", tmp_path / "o7", "--prompts", prompts)
    assert rc == 1 and "shot" in err and "empty" in err
    for k in range(1, 9):  # nothing at all is left of a failed run
        folder = tmp_path / f"o{k}"
        assert not folder.exists() or not list(folder.rglob("*")), k


def test_nan_or_silence_from_the_model_is_an_error(demo, story_with_lines, tmp_path):
    from avshooter.errors import BackendError
    from avshooter.generation.pipeline import generate_layer

    class Broken:
        sample_rate, max_duration_s = 16000, 10.0

        def __init__(self, value):
            self.value = value

        def generate(self, prompts, durations, *, seeds, negative_prompt=None, num_candidates=1):
            return [{"wav": np.full((1, to_samples(d, 16000)), self.value, np.float32), "seed": s}
                    for d, s in zip(durations, seeds)]

    with pytest.raises(BackendError, match="NaN"):
        generate_layer(Broken(np.nan), ["rain"], [1.0], [0], sample_rate=48000)
    with pytest.raises(BackendError, match="silence"):
        generate_layer(Broken(0.0), ["rain"], [1.0], [0], sample_rate=48000)


def test_annotated_story_drives_music_and_effects(demo, demo_out, tmp_path):
    """A story that `annotate` wrote carries audio annotations: its music shot gets a music layer."""
    story = demo_out / "demo" / "story.json"
    assert main(["generate", "--story", str(story), "--videos", str(demo["shots"]), "--bank", str(demo_out),
                 "--out", str(tmp_path)]) == 0
    prompts = json.loads((tmp_path / "prompts.json").read_text())
    assert prompts["shots"][1]["music"] and prompts["shots"][2]["source"] == "audio annotation"
    report = json.loads((tmp_path / "generate.json").read_text())
    assert "music" in report["outputs"]["stems"]
    music, sr = sf.read(tmp_path / "stems" / "music.flac", always_2d=True)
    a, b = report["shots"][1]["start_sample"], report["shots"][1]["end_sample"]
    assert np.abs(music[a:b]).max() > 0 and np.abs(music[:a]).max() == 0 and np.abs(music[b:]).max() == 0
