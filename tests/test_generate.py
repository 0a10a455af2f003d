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
from avshooter.errors import InputError
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
    stems = set(report["outputs"]["stems"])
    assert {"effects", "dialogue"} <= stems
    for name in ({"ambience", "music"} - stems):  # a layer left out entirely says why in every shot
        assert all(s["layers"][name]["status"] != "filled" and s["layers"][name]["reason"] for s in report["shots"])


def test_the_balls_own_thuds_stay_on_the_impacts(gen_out):
    """The bank's thuds come from the same demo, so they start aligned: the estimator must find them in
    sync (a significant peak at 0, not an abstention) and leave them within a millisecond. That generate
    FINDS an offset is the next test."""
    report = json.loads((gen_out / "generate.json").read_text())
    ball = report["shots"][2]
    assert ball["layers"]["effects"]["source"]["id"] == "demo/0002"
    assert ball["sync"]["matched"] >= 5 and ball["sync"]["offset_after_s"] <= 0.001
    evidence = ball["sync"]["evidence"]
    assert evidence["abstained"] is False and "in sync" in evidence["reason"] and abs(ball["sync"]["shift_s"]) < 0.001
    for shot in report["shots"]:  # a shift is only kept when it brings the onsets closer
        sync = shot["sync"]
        if sync is None:  # no effects clip in this shot: nothing to sync
            assert shot["layers"]["effects"]["status"] != "filled"
            continue
        if sync["offset_before_s"] is not None and sync["offset_after_s"] is not None:
            assert sync["offset_after_s"] <= sync["offset_before_s"] + 1e-9


def test_generate_pulls_late_thuds_onto_the_landings(demo, demo_out, tmp_path, monkeypatch):
    """The ball's thuds handed to generate 0.2 s late (the bank clip, delayed): generate's sync must move
    them back onto the true landings to the millisecond, and say with what evidence. Fails if sync does
    nothing (the residual would be 0.2 s)."""
    from avshooter.generation import layers
    from avshooter.generation.sync import apply_shift, audio_onsets

    real = layers.effects_clips

    def late_ball(tta, prompt_set, spans, config, relative_to=None):
        clips = real(tta, prompt_set, spans, config, relative_to=relative_to)
        wav, meta = clips[2]
        clips[2] = (apply_shift(wav, config.sample_rate, 0.2), meta)
        return clips

    monkeypatch.setattr(layers, "effects_clips", late_ball)
    out = tmp_path / "gen"
    assert main(["generate", "--story", str(demo["story"]), "--videos", str(demo["shots"]),
                 "--bank", str(demo_out), "--out", str(out)]) == 0
    report = json.loads((out / "generate.json").read_text())
    sync = report["shots"][2]["sync"]
    assert sync["shift_s"] == pytest.approx(-0.2, abs=0.002) and sync["evidence"]["abstained"] is False
    assert sync["evidence"]["p_peak"] <= 0.01 and sync["evidence"]["p_zero"] <= 0.01
    assert sync["offset_before_s"] > 0.15 and sync["offset_after_s"] <= 0.001
    # measured on the written effects stem against the demo's true landing times
    stem, sr = sf.read(out / "stems" / "effects.flac", always_2d=True)
    shot = report["shots"][2]
    onsets = audio_onsets(stem[shot["start_sample"]: shot["end_sample"]].T, sr)
    truth = np.array(demo["truth_data"]["shots"][2]["impact_times_s"]) - demo["truth_data"]["shots"][2]["start_s"]
    assert len(onsets) >= 5
    assert np.median([np.min(np.abs(truth - t)) for t in onsets]) <= 0.001
    # the report's sync table says the evidence
    from avshooter.report import report as render

    page = next(p for p in render(out, progress=False) if p.name == "generate.html").read_text()
    assert "p (vs no shift)" in page and "decided" in page


def test_dialogue_is_placed_in_its_shot(gen_out):
    from avshooter.audio.vad import speech_ranges

    report = json.loads((gen_out / "generate.json").read_text())
    placed = report["shots"][0]["layers"]["dialogue"]["lines"][0]
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
    assert report["shots"][3]["layers"]["effects"]["prompt"] == "a ball bouncing on the floor"
    assert report["shots"][3]["layers"]["effects"]["source"]["id"] == "demo/0002"
    wav, sr = sf.read(out / "soundtrack.flac", always_2d=True)
    assert abs(integrated_loudness(wav.T, sr) + 16.0) <= 0.5 and true_peak_dbtp(wav.T, sr) <= -0.95


def test_one_video_cut_by_story_times(demo, demo_out, tmp_path):
    from avshooter.io.output import _host_tag

    # a staging folder that a killed run (a pid that no longer exists) left behind: the next run removes it
    stale = tmp_path / f".avshooter-generate-999999999.0.{_host_tag()}.x"
    (stale / "stems").mkdir(parents=True)
    assert main(["generate", "--story", str(demo["story"]), "--videos", str(demo["video"]), "--bank",
                 str(demo_out), "--out", str(tmp_path), "--no-sync"]) == 0
    report = json.loads((tmp_path / "generate.json").read_text())
    assert report["mux"]["story"]["video"] == "copied"
    assert all(s["video"] == "re-encoded" for s in report["mux"]["shots"])
    assert abs(_streams(tmp_path / "shots" / "shot_001.mp4")["video"]["duration_s"] - 4.5) < FRAME_S
    assert not stale.exists() and not list(tmp_path.glob(".avshooter-generate-*"))


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
    filled = [s["layers"]["effects"] for s in report["shots"] if s["layers"]["effects"]["status"] == "filled"]
    assert filled and all(layer["chunks"] >= 2 for layer in filled)  # every shot is longer than 2 s
    wav, sr = sf.read(tmp_path / "soundtrack.flac", always_2d=True)
    assert wav.shape[0] == to_samples(18.0, sr)
    seeds = [s["layers"]["effects"]["seed"] for s in report["shots"]]
    assert [s["layers"]["effects"]["seed"] for s in again["shots"]] == seeds
    assert all(layer["backend"] == "audioldm2" and layer["source"] is None for layer in filled)
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
    for k in (1, 2, 3, 4, 5, 6, 8):  # nothing at all is left of a failed run
        folder = tmp_path / f"o{k}"
        assert not folder.exists() or not list(folder.rglob("*")), k


def test_nan_or_silence_from_the_model_is_an_error(demo, story_with_lines, tmp_path):
    from avshooter.errors import BackendError
    from avshooter.generation.layers import generate_layer

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
    assert prompts["shots"][1]["music"]
    report = json.loads((tmp_path / "generate.json").read_text())
    assert "music" in report["outputs"]["stems"]
    music, sr = sf.read(tmp_path / "stems" / "music.flac", always_2d=True)
    for shot in report["shots"]:  # music exactly where a music clip was placed, silence elsewhere
        heard = np.abs(music[shot["start_sample"]:shot["end_sample"]]).max() > 0
        assert heard == (shot["layers"]["music"]["status"] == "filled"), shot["index"]
    assert report["shots"][1]["layers"]["music"]["status"] == "filled"
    assert np.abs(music[: report["shots"][0]["end_sample"]]).max() == 0  # the speech shot: no music
    layer = report["shots"][1]["layers"]["music"]
    assert layer["status"] == "filled" and layer["source"]["stem"] == "music"
    assert Path(layer["source"]["file"]).name == "music.flac"  # from a music stem, never effects.flac
    assert (tmp_path / layer["source"]["file"]).resolve() == (demo_out / "demo" / "audio" / "0001" / "music.flac").resolve()


def test_every_layer_has_its_provenance_and_relative_paths(gen_out, demo_out):
    report = json.loads((gen_out / "generate.json").read_text())
    for shot in report["shots"]:
        assert set(shot["layers"]) == {"effects", "ambience", "music", "dialogue"}
        for name, layer in shot["layers"].items():
            assert {"prompt", "backend", "seed", "source", "score", "status", "reason"} <= set(layer), name
            assert layer["status"] in ("filled", "silent", "none")
            if layer["status"] != "filled":
                assert layer["reason"]
            if name != "dialogue" and layer["status"] == "filled":
                assert layer["backend"] == "retrieval" and isinstance(layer["seed"], int)
                source = layer["source"]
                if not source.get("events"):  # min_score is the shot-level text match's floor
                    assert layer["score"] >= report["provenance"]["tta"]["min_score"]
                assert not Path(source["file"]).is_absolute() and (gen_out / source["file"]).is_file()
                if source.get("events"):  # sound events (issue 17): each names its bank file, stem and span
                    for event in source["events"]:
                        assert (demo_out / event["file"]).is_file() and event["stem"] in ("effects", "music", "mix")
                        assert 0.0 <= event["start_s"] < event["end_s"] and event["class"] and event["placement"]
                else:
                    assert source["offset_s"] == 0.0 and source["stem"] in ("effects", "music")
        # the shot's file by name, in the --videos folder (named relative to the output)
        assert shot["video"] == Path(shot["video"]).name and (gen_out / report["videos"] / shot["video"]).is_file()
    assert (gen_out / report["story"]).is_file() and (gen_out / report["provenance"]["tta"]["bank"]).resolve() == demo_out.resolve()
    assert report["mux"]["story"]["path"] == "story.mp4"
    assert str(gen_out) not in (gen_out / "generate.json").read_text()  # nothing absolute, nothing staged


def test_no_good_match_leaves_a_silent_layer_with_a_reason(demo, demo_out, story_with_lines, tmp_path):
    from avshooter.generation.prompts import build_prompts, save_prompts
    from avshooter.io.story import load_story

    p = build_prompts(load_story(story_with_lines))
    p.shots[1].effects = "a dragon roaring over a burning castle"
    p.shots[3].effects = ""  # nothing in the shot makes a sound: no effects layer there
    edited = tmp_path / "prompts.json"
    save_prompts(p, edited)
    out = tmp_path / "out"
    assert main(["generate", "--story", str(story_with_lines), "--videos", str(demo["shots"]), "--bank",
                 str(demo_out), "--prompts", str(edited), "--out", str(out), "--no-sync"]) == 0
    report = json.loads((out / "generate.json").read_text())
    layer = report["shots"][1]["layers"]["effects"]
    assert layer["status"] == "silent" and layer["source"] is None and "< min_score" in layer["reason"]
    assert {"shot": 1, "layer": "effects", "reason": layer["reason"]} in report["silent_layers"]
    none = report["shots"][3]["layers"]["effects"]
    assert none["status"] == "none" and none["prompt"] is None and none["reason"]
    effects, sr = sf.read(out / "stems" / "effects.flac", always_2d=True)
    spans = [(s["start_sample"], s["end_sample"]) for s in report["shots"]]
    assert np.abs(effects[slice(*spans[1])]).max() == 0 and np.abs(effects[slice(*spans[3])]).max() == 0
    assert report["shots"][2]["layers"]["effects"]["status"] == "filled" and np.abs(effects[slice(*spans[2])]).max() > 0


def _timeless(story: dict) -> dict:
    story = json.loads(json.dumps(story))
    for shot in story["shots"]:
        shot.pop("start time"), shot.pop("end time")
        shot.get("avshooter", {}).pop("start_s", None), shot.get("avshooter", {}).pop("end_s", None)
    return story


def test_story_without_times_takes_durations_from_the_shot_videos(demo, demo_out, tmp_path, capsys):
    """AnimeShooterGen stories have captions and no times: each shot video gives its shot's length."""
    path = tmp_path / "story.json"
    path.write_text(json.dumps(_timeless(json.loads(demo["story"].read_text()))))
    out = tmp_path / "out"
    assert main(["generate", "--story", str(path), "--videos", str(demo["shots"]), "--bank", str(demo_out),
                 "--out", str(out), "--no-sync"]) == 0
    report = json.loads((out / "generate.json").read_text())
    assert [round(s["end_s"] - s["start_s"], 6) for s in report["shots"]] == [5.0, 4.5, 4.5, 4.0]
    assert report["num_samples"] == to_samples(18.0, 48000)
    # with one long video the times are required
    rc, err = _err(capsys, "--story", path, "--videos", demo["video"], "--bank", demo_out, "--out", tmp_path / "o")
    assert rc == 1 and "start time" in err and len(err.splitlines()) == 1


def test_story_times_are_checked_against_the_shot_videos(demo, demo_out, tmp_path, capsys):
    story = json.loads(demo["story"].read_text())
    story["shots"][1]["end time"] = "00:08"  # 1 s coarse steps: 5.0 .. 9.5 s read as 5 .. 8 (3.0 s vs 4.5 s)
    story["shots"][1].get("avshooter", {}).pop("end_s", None)
    path = tmp_path / "story.json"
    path.write_text(json.dumps(story))
    rc, err = _err(capsys, "--story", path, "--videos", demo["shots"], "--bank", demo_out, "--out", tmp_path / "o")
    assert rc == 1 and "shots[1]" in err and "shot_001.mp4 lasts 4.500 s" in err and len(err.splitlines()) == 1
    story["shots"][1]["end time"] = "00:09"  # 4.0 s for a 4.5 s video: within MM:SS resolution
    path.write_text(json.dumps(story))
    assert main(["generate", "--story", str(path), "--videos", str(demo["shots"]), "--bank", str(demo_out),
                 "--out", str(tmp_path / "ok"), "--no-sync"]) == 0
    report = json.loads((tmp_path / "ok" / "generate.json").read_text())
    assert report["shots"][1]["end_s"] - report["shots"][1]["start_s"] == pytest.approx(4.5)  # the video wins


def test_one_video_keeps_the_videos_own_timeline(demo, demo_out, tmp_path, capsys):
    """A story that starts late (and has a gap) on one 18 s video: audio sits at the shots' own times."""
    story = json.loads(demo["story"].read_text())
    story["shots"] = [story["shots"][0], story["shots"][2]]  # 0-5 s and the ball at 9.5-14 s: a gap, then the end
    path = tmp_path / "story.json"
    path.write_text(json.dumps(story))
    late = json.loads(json.dumps(story))
    late["shots"] = late["shots"][1:]  # only the ball: starts at 9.5 s
    late_path = tmp_path / "late.json"
    late_path.write_text(json.dumps(late))
    out = tmp_path / "out"
    assert main(["generate", "--story", str(late_path), "--videos", str(demo["video"]), "--bank", str(demo_out),
                 "--out", str(out)]) == 0
    assert "(18.000 s, 1 shots" in capsys.readouterr().out
    report = json.loads((out / "generate.json").read_text())
    sr = report["sample_rate"]
    ball = report["shots"][0]
    assert (ball["start_sample"], ball["end_sample"]) == (to_samples(9.5, sr), to_samples(14.0, sr))
    assert report["num_samples"] == to_samples(18.0, sr) and report["duration_s"] == pytest.approx(18.0)
    effects, _ = sf.read(out / "stems" / "effects.flac", always_2d=True)
    soundtrack, _ = sf.read(out / "soundtrack.flac", always_2d=True)
    assert effects.shape[0] == soundtrack.shape[0] == to_samples(18.0, sr)
    a, b = ball["start_sample"], ball["end_sample"]
    assert np.abs(soundtrack[:a]).max() == 0 and np.abs(soundtrack[b:]).max() == 0
    assert np.abs(effects[a:b]).max() > 0.01, json.dumps(ball["layers"]["effects"])
    # the thuds land on the ball's impacts in the video's own time (the demo's truth), within a frame
    from avshooter.generation.sync import audio_onsets

    onsets = np.array(audio_onsets(effects.T.astype(np.float32), sr))
    impacts = demo["truth_data"]["shots"][2]["impact_times_s"]
    assert all(np.min(np.abs(onsets - t)) <= FRAME_S for t in impacts)
    assert abs(_streams(out / "story.mp4")["audio"]["duration_s"] - 18.0) <= 1024 / 48000 + 1e-3
    assert abs(_streams(out / "shots" / "shot_000.mp4")["video"]["duration_s"] - 4.5) < FRAME_S
    # a gap between two shots stays silent
    gap = tmp_path / "gap"
    assert main(["generate", "--story", str(path), "--videos", str(demo["video"]), "--bank", str(demo_out),
                 "--out", str(gap), "--no-sync"]) == 0
    report = json.loads((gap / "generate.json").read_text())
    soundtrack, _ = sf.read(gap / "soundtrack.flac", always_2d=True)
    spans = [(s["start_sample"], s["end_sample"]) for s in report["shots"]]
    assert spans == [(0, to_samples(5.0, sr)), (to_samples(9.5, sr), to_samples(14.0, sr))]
    assert np.abs(soundtrack[spans[0][1]:spans[1][0]]).max() == 0 and np.abs(soundtrack[spans[1][1]:]).max() == 0


def test_the_demo_gets_the_right_layers(demo, demo_out, tmp_path):
    """README's main command on the demo: the line is spoken in shot 0, music plays in the music shot (from a
    music stem), and the ball's thuds land on its impacts."""
    from avshooter.audio.vad import speech_ranges
    from avshooter.generation.sync import audio_onsets

    out = tmp_path / "gen"
    assert main(["generate", "--story", str(demo["story"]), "--videos", str(demo["shots"]), "--bank", str(demo_out),
                 "--out", str(out)]) == 0
    report = json.loads((out / "generate.json").read_text())
    shots = report["shots"]
    sr = report["sample_rate"]
    spoken = shots[0]["layers"]["dialogue"]
    assert spoken["status"] == "filled" and any("Watch my red ball bounce" in text for text in spoken["prompt"])
    dialogue, _ = sf.read(out / "stems" / "dialogue.flac", always_2d=True)
    ranges = speech_ranges(dialogue.T, sr)
    assert ranges and ranges[0][0] >= 0.0 and ranges[-1][1] <= shots[0]["end_s"]
    music = shots[1]["layers"]["music"]
    assert music["status"] == "filled" and music["source"]["id"] == "demo/0001" and music["source"]["stem"] == "music"
    assert all(s["layers"]["music"]["status"] != "filled" for s in (shots[0], shots[2]))
    ball = shots[2]["layers"]["effects"]
    assert ball["status"] == "filled" and ball["source"]["id"] == "demo/0002" and ball["source"]["stem"] == "effects"
    assert shots[0]["layers"]["effects"]["source"] is None or shots[0]["layers"]["effects"]["source"]["id"] != "demo/0002"
    effects, _ = sf.read(out / "stems" / "effects.flac", always_2d=True)
    a, b = shots[2]["start_sample"], shots[2]["end_sample"]
    onsets = np.array(audio_onsets(effects[a:b].T.astype(np.float32), sr))
    impacts = [t - demo["truth_data"]["shots"][2]["start_s"] for t in demo["truth_data"]["shots"][2]["impact_times_s"]]
    assert onsets.size and all(np.min(np.abs(onsets - t)) <= FRAME_S for t in impacts)
    # the garden names no sound: its bed is the bank's outdoor recording (the night shot), by its environment
    garden = shots[2]["layers"]["ambience"]
    assert garden["status"] == "filled", garden
    assert [e["bank_class"] for e in garden["source"]["events"]] == ["Outside, rural or natural"]


def test_layer_balance_and_ducking_come_from_the_config(demo, demo_out, story_with_lines, gen_out, tmp_path):
    """layer_lufs and ducking in a config file change the mix (and are reported); defaults otherwise."""
    default = json.loads((gen_out / "generate.json").read_text())["mix"]
    assert default["layers"]["dialogue"]["lufs_before"] is not None
    cfg = tmp_path / "gen.yaml"
    cfg.write_text("layer_lufs: {dialogue: -20.0, effects: -35.0, ambience: -32.0, music: -30.0}\nducking: null\n")
    out = tmp_path / "out"
    assert main(["generate", "--story", str(story_with_lines), "--videos", str(demo["shots"]), "--bank",
                 str(demo_out), "--config", str(cfg), "--out", str(out), "--no-sync"]) == 0
    mix = json.loads((out / "generate.json").read_text())["mix"]
    assert mix["ducked_s"] == 0.0  # ducking off
    # each layer is gained to its own target: the gap between two layers' gains follows the configured
    # balance (-20 vs -35 is 15 LU apart, the default -23 vs -26 is 3 LU apart: 12 dB more)
    gap = mix["layers"]["dialogue"]["gain_db"] - mix["layers"]["effects"]["gain_db"]
    gap_default = default["layers"]["dialogue"]["gain_db"] - default["layers"]["effects"]["gain_db"]
    assert gap - gap_default == pytest.approx(12.0, abs=0.5)


# -- shot videos in natural order, and which file went to which shot (issue 16) ------------------------------
def _tiny_video(path: Path, frames: int) -> None:
    with av.open(str(path), "w", format="mp4") as out:
        vs = out.add_stream("libx264", rate=24)
        vs.width, vs.height, vs.pix_fmt = 32, 32, "yuv420p"
        for f in range(frames):
            frame = av.VideoFrame.from_ndarray(np.full((32, 32, 3), 10 * f, np.uint8), format="rgb24")
            frame.pts = f
            out.mux(vs.encode(frame))
        out.mux(vs.encode(None))


def _untimed_story(n: int) -> dict:
    return {"storyline": "s", "main characters": [], "main scenes": [{"ID": "a", "environment": "a room"}],
            "shots": [{"main characters": [], "scene": "a",
                       "visual annotation": {"plot": f"shot {k}", "caption": f"shot {k}"}} for k in range(n)]}


def test_shot_videos_are_taken_in_natural_order(tmp_path):
    """shot_1 ... shot_11: numbers as numbers (shot_2 before shot_10), not 1, 10, 11, 2, ..."""
    from avshooter.generation.timeline import resolve_shot_videos
    from avshooter.io.story import load_story

    folder = tmp_path / "shots"
    folder.mkdir()
    for k in range(1, 12):
        _tiny_video(folder / f"shot_{k}.mp4", frames=2 * k)  # shot k lasts 2k frames
    story = load_story(_untimed_story(11), strict=True, require_times=False)
    shots = resolve_shot_videos(folder, story)
    assert [Path(s["video"]).name for s in shots] == [f"shot_{k}.mp4" for k in range(1, 12)]
    assert [round(s["duration_s"] * 24) for s in shots] == [2 * k for k in range(1, 12)]
    with pytest.raises(InputError, match="the story has 10 shots but the folder holds 11 videos"):
        resolve_shot_videos(folder, load_story(_untimed_story(10), strict=True, require_times=False))


def test_generate_json_names_the_file_of_each_shot(gen_out, demo):
    report = json.loads((gen_out / "generate.json").read_text())
    assert [s["video"] for s in report["shots"]] == sorted(p.name for p in demo["shots"].iterdir())
    assert all("/" not in s["video"] for s in report["shots"])


# -- seeds: from --seed and a stable key, every layer (issue 16) ---------------------------------------------
class _SeedRecorder:
    """A text-to-audio backend that makes noise and records the seed of each request, by layer."""

    name, sample_rate, max_duration_s = "recorder", 16000, 30.0

    def __init__(self):
        self.seeds: dict[str, dict[str, int]] = {}
        self.layer = "effects"

    def generate(self, prompts, durations, *, seeds, negative_prompt=None, num_candidates=1):
        out = []
        for prompt, duration, seed in zip(prompts, durations, seeds):
            self.seeds.setdefault(self.layer, {})[prompt] = seed
            rng = np.random.default_rng(seed)
            out.append({"wav": rng.uniform(-0.5, 0.5, (1, int(duration * self.sample_rate) + 1)).astype(np.float32)})
        return out


def _prompt_set(scenes: list[str], seed_of_prompts: int = 0):
    from avshooter.generation.prompt_records import Prompts, ShotPrompt, shot_seed

    shots = [ShotPrompt(shot=k, effects=f"effect {scene}", ambience_scene=scene, dialogue=[],
                        music=f"music {scene}", seed=shot_seed(seed_of_prompts, k)) for k, scene in enumerate(scenes)]
    return Prompts(shots=shots, ambience={s: f"ambience {s}" for s in scenes}, seed=seed_of_prompts)


def _seeds_of(scenes: list[str], config_seed: int, prompts=None) -> dict:
    from avshooter.generation.layers import ambience_layer, effects_clips, music_layer
    from avshooter.io.story import load_story

    story = _untimed_story(len(scenes))
    for shot, scene in zip(story["shots"], scenes):
        shot["scene"] = scene
    story["main scenes"] = [{"ID": s, "environment": s} for s in dict.fromkeys(scenes)]
    story = load_story(story, require_times=False)
    prompts = prompts or _prompt_set(scenes)
    config = GenerateConfig(seed=config_seed, sample_rate=16000)
    spans = [(k * 16000, (k + 1) * 16000) for k in range(len(scenes))]
    tta = _SeedRecorder()
    effects = effects_clips(tta, prompts, spans, config)
    tta.layer = "music"
    _, music = music_layer(tta, prompts, spans, spans[-1][1], config)
    tta.layer = "ambience"
    _, ambience = ambience_layer(tta, story, prompts, spans, spans[-1][1], config)
    # what each layer's record says is what the backend got
    assert [meta["seed"] for _, meta in effects] == [tta.seeds["effects"][p.effects] for p in prompts.shots]
    assert [meta["seed"] for meta in music] == [tta.seeds["music"][p.music] for p in prompts.shots]
    assert [meta["seed"] for meta in ambience] == [tta.seeds["ambience"][f"ambience {s}"] for s in scenes]
    return tta.seeds


def test_seed_changes_every_layer_even_with_edited_prompts():
    """--seed with --prompts (the prompts' own seeds fixed): effects, music and ambience all change."""
    prompts = _prompt_set(["room", "street"], seed_of_prompts=0)  # as loaded from an earlier prompts.json
    a = _seeds_of(["room", "street"], 0, prompts)
    b = _seeds_of(["room", "street"], 1, prompts)
    for layer in ("effects", "music", "ambience"):
        assert set(a[layer]) == set(b[layer]) and all(a[layer][k] != b[layer][k] for k in a[layer]), layer
    assert _seeds_of(["room", "street"], 1, prompts) == b  # and the same seed gives the same seeds


def test_adding_a_scene_does_not_reseed_the_others():
    before = _seeds_of(["room", "street"], 0)["ambience"]
    after = _seeds_of(["forest", "room", "street"], 0)["ambience"]
    assert after["ambience room"] == before["ambience room"] and after["ambience street"] == before["ambience street"]
    assert len(set(after.values())) == 3  # every scene its own seed


def test_the_fingerprint_changes_with_the_generation_rules(tmp_path, monkeypatch):
    """A batch re-run after a change of the rules (seeds, shot order) redoes its stories: the rules' version is
    part of the input fingerprint that generate.json carries and the batch compares."""
    from avshooter.generation import timeline

    video = tmp_path / "v.mp4"
    video.write_bytes(b"bytes")
    story = _untimed_story(1)
    before = timeline.input_fingerprint(story, video)
    assert timeline.input_fingerprint(story, video) == before
    monkeypatch.setattr(timeline, "GENERATE_RULES", "avshooter.generate/next")
    assert timeline.input_fingerprint(story, video) != before


class _ContinuingRecorder(_SeedRecorder):
    """The same, able to continue audio (as stable-audio-3 does): the continuation path of ambience and music."""

    max_continue_s = 30.0

    def generate(self, prompts, durations, *, seeds, negative_prompt=None, num_candidates=1):
        for prompt, seed in zip(prompts, seeds):
            self.seeds.setdefault(prompt.split()[0], {})[prompt] = seed
        return [{"wav": np.random.default_rng(s).uniform(-0.5, 0.5, (2, round(d * self.sample_rate))).astype(np.float32)}
                for d, s in zip(durations, seeds)]

    def continue_bed(self, prompt, tail, duration_s, *, seed):
        self.seeds.setdefault(prompt.split()[0], {}).setdefault(prompt, seed)
        wav = np.random.default_rng(seed).uniform(-0.5, 0.5, (2, round(duration_s * self.sample_rate)))
        return {"wav": wav.astype(np.float32), "lead": np.zeros((2, 0), np.float32)}


def test_continued_beds_take_the_same_stable_seeds():
    from avshooter.backends.text_to_audio.continuation import continued_layers
    from avshooter.generation.layers import clip_seeds
    from avshooter.io.story import load_story

    def run(scenes, config_seed):
        story = _untimed_story(len(scenes))
        for shot, scene in zip(story["shots"], scenes):
            shot["scene"] = scene
        story["main scenes"] = [{"ID": s, "environment": s} for s in dict.fromkeys(scenes)]
        story = load_story(story, require_times=False)
        prompts = _prompt_set(scenes)
        config = GenerateConfig(seed=config_seed, sample_rate=16000)
        spans = [(k * 16000, (k + 1) * 16000) for k in range(len(scenes))]
        seeds = clip_seeds(prompts, config_seed)
        tta = _ContinuingRecorder()
        out = continued_layers(tta, story, prompts, spans, spans[-1][1], config, seeds=seeds)
        assert [m["seed"] for m in out["music"][1]] == seeds["music"]
        assert [m["seed"] for m in out["ambience"][1]] == [seeds["ambience"][s] for s in scenes]
        assert tta.seeds["ambience"] == {f"ambience {s}": seeds["ambience"][s] for s in scenes}
        return seeds

    before, after = run(["room", "street"], 0), run(["forest", "room", "street"], 0)
    assert {s: after["ambience"][s] for s in ("room", "street")} == before["ambience"]
    other = run(["room", "street"], 1)
    assert all(other["ambience"][s] != before["ambience"][s] for s in before["ambience"])
    assert all(a != b for a, b in zip(other["music"], before["music"]))


def test_a_taken_over_generate_moves_nothing_into_place(demo, demo_out, tmp_path):
    """The story's lock is taken over while generate works: it stops before its files leave the stage."""
    import os
    import time

    from avshooter.errors import OutputError
    from avshooter.generation.pipeline import generate
    from avshooter.io.locks import LOCK_DIR, VideoLock, exclusive

    lock = VideoLock(tmp_path, "demo", max_age_s=3600)
    assert lock.acquire()
    with exclusive(tmp_path / LOCK_DIR / "demo.lock") as fd:  # another run takes it over
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps({"pid": 1, "host": "elsewhere", "time": time.time(), "started": time.time(),
                                  "token": "theirs"}).encode(), 0)
    out = tmp_path / "demo"
    with pytest.raises(OutputError, match="taken over"):
        generate(demo["story"], demo["shots"], out_dir=out, lock=lock,
                 config=GenerateConfig(sync=False, tta_options={"bank": str(demo_out)}))
    assert sorted(p.name for p in out.iterdir()) == []  # no file, no stage left behind
    lock.release()
