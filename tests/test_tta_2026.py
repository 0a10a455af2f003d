"""Stable Audio 3 (generation + inpainting continuation) and TangoFlux on tiny random-weight models.

Both are built from config (tests/tiny_diffusers.py), written to a folder and loaded by our backends from
that folder: SA3 as a diffusers pipeline folder, TangoFlux as a checkpoint in its PUBLISHED layout and key
names (config.json, tangoflux.safetensors, vae.safetensors) through our strict mapping. We assert lengths
to the sample, rates, determinism by seed, batching, the mapping's loud failures, seam levels of beds
continued by inpainting, and both backends through `avshooter generate --tta NAME`; not audio quality
(random weights have none).
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from avshooter.errors import BackendError, InputError
from avshooter.units import to_samples

pytest.importorskip("diffusers")
torch = pytest.importorskip("torch")

from tiny_diffusers import save_tiny_clap, save_tiny_tangoflux, tiny_stable_audio3

ROOT = Path(__file__).resolve().parents[1]
SR = 44100


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def sa3_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny-sa3")
    tiny_stable_audio3().save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def clap_folder(tmp_path_factory):
    return save_tiny_clap(tmp_path_factory.mktemp("tiny-clap"))


@pytest.fixture(scope="session")
def sa3(sa3_folder):
    from avshooter.backends.text_to_audio.stable_audio3 import StableAudio3

    return StableAudio3(model=str(sa3_folder), steps=2, max_duration_s=1.0, context_s=0.25)


@pytest.fixture(scope="session")
def tf_folder(tmp_path_factory):
    return save_tiny_tangoflux(tmp_path_factory.mktemp("tiny-tangoflux"))


@pytest.fixture(scope="session")
def tangoflux(tf_folder):
    from avshooter.backends.text_to_audio.tangoflux import TangoFlux

    return TangoFlux(model=str(tf_folder), steps=2)


def _close(a, b):
    return np.allclose(a, b, rtol=0, atol=1e-3 * max(np.abs(a).max(), np.abs(b).max(), 1e-12))


def _db(x):
    return 20 * np.log10(np.sqrt(np.mean(np.square(x, dtype=np.float64))) + 1e-12)


def test_registry_names():
    from avshooter.backends.text_to_audio import REGISTRY

    assert REGISTRY["stable-audio-3"] == "avshooter.backends.text_to_audio.stable_audio3:StableAudio3"
    assert REGISTRY["tangoflux"] == "avshooter.backends.text_to_audio.tangoflux:TangoFlux"


# -- Stable Audio 3 ----------------------------------------------------------------------------------
def test_sa3_lengths_rate_info_and_batching(sa3):
    durations = [0.2345, 0.61, 1.0]  # buckets 0.5 s, 1.0 s, 1.0 s: two calls
    out = sa3.generate(["a dog barks", "rain", "thunder"], durations, seeds=[0, 1, 2])
    for item, duration, seed in zip(out, durations, [0, 1, 2]):
        assert item["wav"].dtype == np.float32 and item["wav"].shape == (2, to_samples(duration, SR))
        assert item["seed"] == seed and item["score"] is None and item["candidates"] == 1
        assert np.isfinite(item["wav"]).all() and not item["silent"]
    info = sa3.info()
    assert info["name"] == "stable-audio-3" and info["steps"] == 2 and info["sample_rate"] == SR
    assert info["scheduler"] == "FlowMatchEulerDiscreteScheduler (stochastic)" and info["ranker"] is None
    assert sa3.max_duration_s == 1.0 and sa3.max_continue_s == 0.75
    single = [sa3.generate([p], [d], seeds=[s])[0]["wav"] for p, d, s in zip(["rain", "thunder"], durations[1:], [1, 2])]
    assert _close(out[1]["wav"], single[0]) and _close(out[2]["wav"], single[1])  # batch == alone


def test_sa3_determinism_candidates_and_errors(sa3, sa3_folder, clap_folder):
    from avshooter.backends.text_to_audio.stable_audio3 import StableAudio3

    a = sa3.generate(["wind"], [0.3], seeds=[7])[0]["wav"]
    assert np.array_equal(a, sa3.generate(["wind"], [0.3], seeds=[7])[0]["wav"])
    assert not np.allclose(a, sa3.generate(["wind"], [0.3], seeds=[8])[0]["wav"])
    with pytest.raises(InputError, match="needs a CLAP ranker"):
        sa3.generate(["x"], [0.2], seeds=[0], num_candidates=2)
    with pytest.raises(InputError, match="max_duration_s"):
        sa3.generate(["long"], [1.5], seeds=[0])
    ranked = StableAudio3(model=str(sa3_folder), steps=2, clap_model=str(clap_folder))
    out = ranked.generate(["footsteps"], [0.3], seeds=[4], num_candidates=2)[0]
    assert out["candidates"] == 2 and isinstance(out["score"], float) and out["seed"] in (4, 4 + 1_000_003)
    assert out["wav"].shape == (2, to_samples(0.3, SR)) and ranked.info()["ranker"].startswith("clap:")
    with pytest.raises(BackendError, match="unknown option"):
        StableAudio3(model=str(sa3_folder), sampler="x")
    with pytest.raises(BackendError, match="does not exist"):
        StableAudio3(model="./no/such/folder")
    with pytest.raises(BackendError, match="dtype 'float16' needs a GPU"):
        StableAudio3(model=str(sa3_folder), dtype="float16")


def test_sa3_bfloat16_and_compile_option(sa3_folder):
    from avshooter.backends.text_to_audio.stable_audio3 import StableAudio3

    bf16 = StableAudio3(model=str(sa3_folder), steps=2, dtype="bf16")
    assert bf16.pipe.transformer.dtype == torch.bfloat16 and bf16.info()["dtype"] == "bfloat16"
    wav = bf16.generate(["rain"], [0.3], seeds=[0])[0]["wav"]
    assert wav.dtype == np.float32 and wav.shape == (2, to_samples(0.3, SR)) and np.isfinite(wav).all()
    compiled = StableAudio3(model=str(sa3_folder), steps=2, compile=True)  # wrapped lazily: not run here
    assert type(compiled.pipe.transformer).__name__ == "OptimizedModule" and compiled.info()["compile"] is True


# -- continuation by inpainting ------------------------------------------------------------------------
def test_continue_bed_exact_length_and_level_follows_context(sa3):
    tail = sa3.generate(["rain"], [0.6], seeds=[1])[0]["wav"]
    quiet = tail * np.float32(0.1)  # a context 20 dB down: the continuation must follow it, not jump back
    res = sa3.continue_bed("rain", quiet, 0.4567, seed=3)
    n = to_samples(0.4567, SR)
    assert res["wav"].shape == (2, n) and res["lead"].shape == (2, to_samples(0.05, SR))
    assert res["context_samples"] % sa3._unit == 0 and res["context_samples"] <= to_samples(0.25, SR)
    assert res["gain_db"] < -10  # calibrated by the model's own version of the (quiet) context
    joined = np.concatenate([quiet[:, : quiet.shape[1] - res["lead"].shape[1]], res["lead"], res["wav"]], axis=1)
    w = to_samples(0.05, SR)
    j = quiet.shape[1]
    # random weights: the model's own level differs a few dB between the kept and the new region; without
    # the calibration the join would jump by the context's 20 dB
    assert abs(_db(joined[:, j - w:j]) - _db(joined[:, j:j + w])) <= 6.0
    with pytest.raises(InputError, match="max_duration_s"):
        sa3.continue_bed("rain", quiet, 0.9, seed=0)  # 0.25 s context + 0.9 s > the 1 s window
    with pytest.raises(InputError, match="prev_tail"):
        sa3.continue_bed("rain", np.zeros((2, 0), np.float32), 0.3, seed=0)


def test_extension_and_scene_beds_exact_lengths_and_seam_bound(sa3):
    from avshooter.backends.text_to_audio.continuation import continue_run, scene_beds, seam_levels

    n = to_samples(2.7, SR)  # one 1 s generation + three continuations of <= 0.75 s
    wav, joins = continue_run(sa3, ["rain"], [n], [3])
    assert wav.shape == (2, n) and joins == [44100, 44100 + 33075, 44100 + 2 * 33075]
    seams = seam_levels(wav, SR, joins)
    assert len(seams) == 3 and all(s["level_jump_db"] <= 3.0 for s in seams)
    again, _ = continue_run(sa3, ["rain"], [n], [3])
    assert np.array_equal(wav, again)  # deterministic by seed
    from avshooter.backends.text_to_audio.stable_audio3 import StableAudio3

    odd = StableAudio3(model=sa3.options["model"], steps=1, max_duration_s=0.9973, context_s=0.2513)
    m = to_samples(2.5, SR)  # limits that are no whole number of samples: pieces still fit, length exact
    assert continue_run(odd, ["rain"], [m], [0])[0].shape == (2, m)
    spans = [(0, 48000), (48000, 120000), (120000, 150000), (150000, 200000)]
    beds = scene_beds(sa3, spans, 48000, scene_ids=["a", "a", "b", "a"], ambience={"a": "wind", "b": "city"},
                      music=["piano", "piano", None, "drums"], seed=0)
    assert beds["ambience"].shape == beds["music"].shape == (2, 200000)
    assert np.all(beds["music"][:, 120000:150000] == 0) and np.abs(beds["music"][:, :120000]).max() > 0
    assert beds["joins"]["music"][0] == pytest.approx(1.0)  # music of shot 0 continued into shot 1's time
    assert all(s["level_jump_db"] <= 3.0 for layer in beds["seams"].values() for s in layer)
    assert [r[0] for r in beds["runs"]] == ["a", "b", "a"]


def test_seam_levels_measure_a_step_and_a_smooth_tone():
    from avshooter.backends.text_to_audio.continuation import seam_levels

    t = np.arange(SR) / SR
    tone = np.sin(2 * np.pi * 440 * t).astype(np.float32)[None]
    stepped = tone.copy()
    stepped[:, SR // 2:] *= 0.5  # -6.02 dB from the middle on
    smooth = seam_levels(tone, SR, [SR // 2])[0]
    step = seam_levels(stepped, SR, [SR // 2])[0]
    assert smooth["level_jump_db"] < 0.1 and step["level_jump_db"] == pytest.approx(6.02, abs=0.1)
    noise = np.random.default_rng(0).standard_normal((1, SR)).astype(np.float32)
    cut = np.concatenate([noise[:, : SR // 2], tone[:, SR // 2:]], axis=1)  # noise then a tone: a seam
    assert seam_levels(cut, SR, [SR // 2])[0]["flux_ratio"] > 3 * seam_levels(noise, SR, [SR // 2])[0]["flux_ratio"]


# -- TangoFlux -----------------------------------------------------------------------------------------
def test_tangoflux_lengths_batching_determinism_and_provenance(tangoflux):
    durations = [0.5, 1.9]
    out = tangoflux.generate(["a dog barks", "a cat meows"], durations, seeds=[0, 1])  # one call, any lengths
    for item, duration in zip(out, durations):
        assert item["wav"].dtype == np.float32 and item["wav"].shape == (2, to_samples(duration, SR))
        assert np.isfinite(item["wav"]).all() and not item["silent"]
    single = tangoflux.generate(["a dog barks"], [0.5], seeds=[0])[0]["wav"]
    assert _close(out[0]["wav"], single)  # same token count: batched == alone
    assert not np.allclose(single, tangoflux.generate(["a dog barks"], [0.5], seeds=[2])[0]["wav"])
    info = tangoflux.info()
    assert info["name"] == "tangoflux" and "TangoFlux checkpoint" in info["weights"]
    assert info["steps"] == 2 and info["guidance"] == 4.5 and tangoflux.max_duration_s == pytest.approx(43 * 2048 / SR)
    with pytest.raises(InputError, match="no negative prompt"):
        tangoflux.generate(["x"], [0.2], seeds=[0], negative_prompt="noise")
    with pytest.raises(InputError, match="needs a CLAP ranker"):
        tangoflux.generate(["x"], [0.2], seeds=[0], num_candidates=2)


def test_tangoflux_mapping_fails_loudly(tmp_path):
    from avshooter.backends.text_to_audio.tangoflux import TangoFlux

    extra = save_tiny_tangoflux(tmp_path / "extra", extra_key="transformer.not_a_weight")
    with pytest.raises(BackendError, match=r"transformer: 1 unexpected: not_a_weight"):
        TangoFlux(model=str(extra), steps=1)
    stray = save_tiny_tangoflux(tmp_path / "stray", extra_key="ref_transformer.x")
    with pytest.raises(BackendError, match=r"unexpected key\(s\) in tangoflux.safetensors: ref_transformer.x"):
        TangoFlux(model=str(stray), steps=1)
    dropped = save_tiny_tangoflux(tmp_path / "dropped", drop_key="fc.0.bias")
    with pytest.raises(BackendError, match=r"does not match fc: 1 missing: bias"):
        TangoFlux(model=str(dropped), steps=1)
    short = save_tiny_tangoflux(tmp_path / "short", drop_key="text_encoder.shared.weight")
    with pytest.raises(BackendError, match=r"text_encoder: 1 missing: shared.weight"):
        TangoFlux(model=str(short), steps=1)
    shape = save_tiny_tangoflux(tmp_path / "shape")
    config = json.loads((shape / "config.json").read_text())
    (shape / "config.json").write_text(json.dumps({**config, "num_attention_heads": 1, "attention_head_dim": 16,
                                                   "axes_dims_rope": [4, 4, 8]}))
    with pytest.raises(BackendError, match="wrong shape"):
        TangoFlux(model=str(shape), steps=1)
    (tmp_path / "short" / "vae.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(BackendError, match="cannot read the checkpoint"):
        TangoFlux(model=str(tmp_path / "short"), steps=1)


# -- through `avshooter generate --tta NAME` ----------------------------------------------------------
@pytest.mark.parametrize("name", ["stable-audio-3", "tangoflux"])
def test_generate_cli_with_each_backend(name, demo, sa3_folder, tf_folder, tmp_path):
    import soundfile as sf

    from avshooter.cli import main

    options = ({"model": str(sa3_folder), "steps": 2, "max_duration_s": 2.0, "context_s": 0.5}
               if name == "stable-audio-3" else {"model": str(tf_folder), "steps": 2})
    config = tmp_path / "tta.yaml"
    config.write_text(json.dumps({"tta_options": options}))  # JSON is YAML
    out = tmp_path / "out"
    rc = main(["generate", "--story", str(demo["story"]), "--videos", str(demo["shots"]), "--out", str(out),
               "--tta", name, "--config", str(config), "--no-sync", "--seed", "5"])
    assert rc == 0
    report = json.loads((out / "generate.json").read_text())
    assert report["provenance"]["tta"]["name"] == name
    wav, sr = sf.read(out / "soundtrack.flac", always_2d=True)
    assert wav.shape[0] == report["num_samples"] and np.abs(wav).max() > 0.01
    layers = [s["layers"] for s in report["shots"]]
    assert any(l["effects"]["status"] == "filled" for l in layers)  # shots without an effects prompt: "none"
    assert all(l["effects"]["backend"] == name for l in layers if l["effects"]["status"] == "filled")
    if name == "stable-audio-3":  # beds continued by inpainting, with their seams measured
        ambience = [l["ambience"] for l in layers if l["ambience"]["status"] == "filled"]
        assert ambience and all(m.get("continued") for m in ambience)
        assert any(m["seams"] for m in ambience)  # shots of ~4.5 s: every bed is extended past 2 s


def test_bench_tta_gpu_tiny_runs_on_cpu(tmp_path):
    """benchmarks/bench_tta_gpu.py --tiny: every backend timed at tiny size on the CPU, one table."""
    out = tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_tta_gpu.py"), "--tiny", "--json", str(out)],
                          capture_output=True, text=True, timeout=600, cwd=ROOT / "tests")
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = json.loads(out.read_text())["rows"]
    assert {r["backend"] for r in rows} == {"audioldm2", "stable-audio", "stable-audio-3", "tangoflux"}
    for r in rows:
        assert r["device"] == "cpu" and r["size"] == "tiny"
        assert r["audio_s_per_s_batched"] > 0 and r["audio_s_per_s_per_shot"] > 0
    seams = json.loads(out.read_text())["seams"]
    assert {s["method"] for s in seams} == {"inpainting", "crossfaded chunks"}
    assert "| backend |" in proc.stdout
