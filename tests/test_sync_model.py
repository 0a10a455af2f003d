"""The optional learned sync backend (Synchformer-class), built tiny from a config with random weights."""
from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("safetensors")

from avshooter.backends.synchformer_sync import SynchformerConfig, SynchformerSync  # noqa: E402
from avshooter.cli import main  # noqa: E402
from avshooter.errors import BackendError  # noqa: E402
from avshooter.generation.offset import check_sync  # noqa: E402

TINY = dict(segments=3, segment_s=0.32, frames_per_segment=4, image_size=32, patch=8, tubelet=2, width=16,
            heads=2, layers_visual=1, layers_audio=1, layers_sync=1, offsets_s=[-0.4, -0.2, 0.0, 0.2, 0.4])
SR = 16000


def _window(seed=0, n=48):
    rng = np.random.default_rng(seed)
    frames = rng.integers(0, 256, size=(n, 32, 32, 3), dtype=np.uint8)
    return frames, np.arange(n) / 24, (rng.standard_normal((1, 2 * SR)) * 0.1).astype(np.float32)


def test_inputs_and_logits_have_the_configured_shapes():
    model = SynchformerSync(TINY)
    frames, times, wav = _window()
    video, mel = model.inputs(frames, times, wav, SR)
    assert tuple(video.shape) == (1, 3, 3, 4, 32, 32) and tuple(mel.shape) == (1, 3, 1, 24, 64)
    assert tuple(model.model(video, mel).shape) == (1, 5)


def test_estimate_is_an_offset_estimate_and_deterministic_by_seed():
    frames, times, wav = _window()
    a = SynchformerSync(TINY, seed=3).estimate(frames, times, wav, SR)
    b = SynchformerSync(TINY, seed=3).estimate(frames, times, wav, SR)
    assert a == b and a.estimator == "synchformer" and a.frames == 48
    assert a.best_shift_s in [-o for o in TINY["offsets_s"]] and 0.0 < a.score <= 1.0
    # random weights: no class is anywhere near 99 % likely, so it abstains
    assert a.abstained and a.shift_s == 0.0 and "alpha" in a.reason


def test_save_and_load_give_the_same_model(tmp_path):
    frames, times, wav = _window(1)
    model = SynchformerSync(TINY, seed=5)
    model.save_pretrained(tmp_path / "m")
    assert json.loads((tmp_path / "m" / "config.json").read_text())["offsets_s"] == TINY["offsets_s"]
    loaded = SynchformerSync.from_pretrained(str(tmp_path / "m"))
    assert loaded.config == SynchformerConfig.from_dict(TINY)
    assert loaded.estimate(frames, times, wav, SR) == model.estimate(frames, times, wav, SR)


def test_bad_settings_are_one_clear_error(tmp_path):
    with pytest.raises(BackendError, match="unknown keys"):
        SynchformerSync({**TINY, "depth": 3})
    with pytest.raises(BackendError, match="needs a cuda device"):
        SynchformerSync(TINY, dtype="float16")
    with pytest.raises(BackendError, match="device"):
        SynchformerSync(TINY, device="tpu")
    (tmp_path / "empty").mkdir()
    with pytest.raises(BackendError, match="config.json"):
        SynchformerSync.from_pretrained(str(tmp_path / "empty"))


def test_through_check_sync_and_the_cli(demo, tmp_path, capsys):
    SynchformerSync(TINY).save_pretrained(tmp_path / "m")
    est = check_sync(demo["video"], start_s=9.5, end_s=14.0, model=SynchformerSync.from_pretrained(str(tmp_path / "m")))
    assert est.estimator == "synchformer" and est.frames == 108
    assert main(["sync", str(demo["video"]), "--start", "9.5", "--end", "14", "--model", str(tmp_path / "m"),
                 "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["estimator"] == "synchformer" and out == est.to_dict()
