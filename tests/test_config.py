"""Configs: every backend name and option checked when the config is built, a hash of what shapes output."""
from __future__ import annotations

import dataclasses

import pytest

from avshooter.config import AnnotateConfig, GenerateConfig, config_hash, load_config
from avshooter.errors import AvshooterError, InputError


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"separation": "nope"}, "separation: unknown backend 'nope' (known: demucs, dsp)"),
        ({"separation_options": {"window": 1}}, "separation backend 'dsp': unknown option(s) window"),
        ({"asr": "nope"}, "asr: unknown backend 'nope'"),
        ({"tagger": "features", "tagger_options": {"top_k": 3}}, "tagger 'features' takes no options"),
        ({"captioner": "openai", "captioner_options": {"modle": "x"}}, "unknown option(s) modle"),
        ({"context": "clip"}, "context must be 'minilm' or 'none'"),
    ],
)
def test_annotate_config_checks_backends_early(change, message):
    with pytest.raises(AvshooterError) as info:
        AnnotateConfig(**change)
    assert message in str(info.value)


def test_bad_backend_fails_before_decoding(tmp_path, capsys, demo):
    from avshooter.cli import main

    cfg = tmp_path / "c.yaml"
    cfg.write_text("separation: nope\n")
    out = tmp_path / "out"
    rc = main(["annotate", str(demo["video"]), "--config", str(cfg), "--out", str(out), "--no-progress"])
    assert rc == 1 and "unknown backend 'nope'" in capsys.readouterr().err
    assert not out.exists()  # nothing decoded, nothing written


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"tta": "tangoflux2"}, "tta: unknown backend 'tangoflux2'"),
        ({"tts": "nope"}, "tts: unknown backend 'nope'"),
        ({"fade_s": -0.1}, "fade_s must be a number of seconds within [0, 10]"),
        ({"scene_crossfade_s": -1}, "scene_crossfade_s must be"),
        ({"layer_lufs": {"music": -20.0}}, "layer_lufs must give each of dialogue, effects, ambience, music"),
        ({"ducking": {"depth_db": 6}}, "ducking depth_db=6 is not allowed"),
        ({"ducking": {"roles": ["dialogue"]}}, "ducking roles=['dialogue'] is not allowed"),
        ({"ducking": {"knee": 1}}, "ducking:"),
    ],
)
def test_generate_config_checks(change, message):
    with pytest.raises(AvshooterError) as info:
        GenerateConfig(**change)
    assert message in str(info.value)


def test_ducking_and_layer_balance_are_config():
    assert GenerateConfig(ducking=None).ducking_params() is None
    duck = GenerateConfig(ducking={"depth_db": -6.0, "roles": ["music"]}).ducking_params()
    assert duck.depth_db == -6.0 and duck.roles == ("music",)


def test_hash_covers_only_what_shapes_output():
    base = AnnotateConfig()
    same = [dataclasses.replace(base, device="cuda"), dataclasses.replace(base, shot_threads=3),
            dataclasses.replace(base, asr_options={**base.asr_options, "cpu_threads": 8})]
    assert all(config_hash(c) == config_hash(base) for c in same)
    other = [dataclasses.replace(base, sample_rate=48000),
             dataclasses.replace(base, asr_options={**base.asr_options, "beam_size": 1})]
    assert all(config_hash(c) != config_hash(base) for c in other)
    gen = GenerateConfig()
    assert config_hash(dataclasses.replace(gen, device="cuda")) == config_hash(gen)


def test_config_files_mirror_the_defaults():
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "configs"
    assert load_config(root / "annotate" / "offline.yaml") == AnnotateConfig()
    assert load_config(root / "generate" / "offline.yaml", cls=GenerateConfig) == GenerateConfig()
    with pytest.raises(InputError, match="unknown config key"):
        load_config(None, vad="silero")  # an option that had no effect is gone
    # the Japanese config (issue 20) is the default with the ASR told the language, at a wider beam
    ja = load_config(root / "annotate" / "ja.yaml")
    assert dataclasses.replace(ja, asr_options={}) == AnnotateConfig()
    assert ja.asr_options == {"model": "packaged:base", "language": "ja", "beam_size_by_language": {"ja": 10}}
    assert config_hash(ja) != config_hash(AnnotateConfig())


@pytest.mark.parametrize("tta", ["audioldm2", "stable-audio", "stable-audio-3", "tangoflux", "retrieval"])
def test_every_tta_backend_checks_option_names_without_loading(tta):
    import subprocess
    import sys

    code = (f"import sys; from avshooter.config import GenerateConfig\n"
            f"try:\n    GenerateConfig(tta={tta!r}, tta_options={{'stepz': 3}})\nexcept Exception as e:\n"
            f"    print(type(e).__name__, e)\nprint('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "unknown option(s) stepz" in out and out.strip().endswith("False")  # checked, nothing heavy loaded


@pytest.mark.parametrize("value", [-1, 1.5, True, "2"])
def test_shot_threads_must_be_a_count(value):
    with pytest.raises(InputError, match="shot_threads"):
        AnnotateConfig(shot_threads=value)
