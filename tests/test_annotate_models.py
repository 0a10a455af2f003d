"""`avshooter annotate --config configs/annotate/gpu.yaml` through every real backend, on tiny models.

The shipped GPU config is read as it is; only the model locations (tiny random-weight folders built here),
the device (cpu) and the GPU dtypes are changed, so the YAML keys and our loading code are what run.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml

from avshooter.cli import main
from avshooter.io.schema import validate_record

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tiny_config(tmp_path_factory):
    from demucs.states import get_state
    from test_backend_captioner import FakeAPI
    from test_backend_clap import _save_tiny_clap
    from test_backend_demucs import _tiny
    from whisper_tiny import build_hf_folder, convert_ct2

    root = tmp_path_factory.mktemp("tiny-models")
    demucs = _tiny(samplerate=44100)
    args, kwargs = demucs._init_args_kwargs
    (root / "demucs").mkdir()
    torch.save({"klass": type(demucs), "args": args, "kwargs": kwargs, "state": get_state(demucs, None)},
               root / "demucs" / "tinysig.th")
    whisper = convert_ct2(build_hf_folder(root / "whisper-hf"), root / "whisper-ct2")
    clap = _save_tiny_clap(root / "clap")
    api = FakeAPI()

    config = yaml.safe_load((ROOT / "configs" / "annotate" / "gpu.yaml").read_text())
    config["device"] = "cpu"
    config["separation_options"].update(model="tinysig", repo=str(root / "demucs"), dtype="float32")
    config["asr_options"].update(model=str(whisper), compute_type="float32", batch_size=1, beam_size=1,
                                 max_new_tokens=8)
    config["tagger_options"].update(model=str(clap), dtype="float32")
    config["captioner_options"].update(base_url=api.url + "/v1", timeout_s=5, max_retries=1, backoff_s=0.01)
    path = root / "gpu-tiny.yaml"
    path.write_text(yaml.safe_dump(config))
    config.update(asr="whisper", asr_options={"model": str(root / "whisper-hf"), "max_new_tokens": 8,
                                              "languages": ["ja", "en"]})
    (root / "gpu-tiny-hf.yaml").write_text(yaml.safe_dump(config))
    yield path, api
    api.server.shutdown()
    api.server.server_close()


def test_gpu_config_runs_every_backend(tiny_config, media, tmp_path, monkeypatch):
    config, api = tiny_config
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-value-123")
    video = media / "audio" / "libri2_3436-172162-0000.hq.ogg"
    assert main(["annotate", str(video), "--config", str(config), "--out", str(tmp_path), "--no-progress"]) == 0
    story = json.loads((tmp_path / video.stem / "story.json").read_text())
    validate_record(story)
    backends = story["shots"][0]["avshooter"]["provenance"]["backends"]
    assert backends["separation"]["name"] == "demucs" and backends["separation"]["model"] == "tinysig"
    assert backends["asr"]["name"] == "faster-whisper" and backends["tagger"]["name"] == "clap"
    assert backends["captioner"]["name"] == "openai"
    assert api.requests[-1]["headers"]["authorization"] == "Bearer sk-secret-value-123"
    written = "".join(p.read_text(errors="replace") for p in tmp_path.rglob("*.json*"))
    assert "sk-secret-value-123" not in written
    for shot in story["shots"]:
        ext = shot["avshooter"]
        assert ext["speech"] and isinstance(ext["transcript"], str) and ext["language"]
        assert all(ext["start_s"] - 1e-3 <= w["start_s"] <= w["end_s"] <= ext["end_s"] + 1e-3 for w in ext["words"])
        assert ext["tags"] and {"label", "score"} <= set(ext["tags"][0])
        assert shot["audio annotation"]["type"] in ("speech", "music", "effects", "ambience", "silence")
        assert ext["visual_context"]["captioner"] == "openai"
    # audio-only input: the captioner got no frames, but the audio and the measured numbers
    assert api.requests and all("input_audio" in json.dumps(r["body"]) for r in api.requests)


def test_failing_captioner_marks_the_shot_when_asked_to(tiny_config, media, tmp_path):
    config, api = tiny_config
    api.script = [(500, "overloaded", {}, 0)] * 50
    video = media / "audio" / "robin_bird_inspectorj.hq.ogg"
    fallback = tmp_path / "fallback.yaml"  # without it the video fails (tests/test_resume.py)
    fallback.write_text(config.read_text() + "\ncaptioner_fallback: true\n")
    try:
        assert main(["annotate", str(video), "--config", str(fallback), "--out", str(tmp_path),
                     "--no-progress"]) == 0
    finally:
        api.script = []
    shot = json.loads((tmp_path / video.stem / "story.json").read_text())["shots"][0]
    assert "captioner_failed" in shot["avshooter"]["flags"]
    assert "500" in shot["avshooter"]["visual_context"]["captioner_error"]
    assert shot["audio annotation"]["sound description"]  # the measured description is kept


def test_missing_model_folder_is_one_clear_line(tiny_config, media, tmp_path, capsys):
    config, _ = tiny_config
    data = yaml.safe_load(config.read_text())
    data["separation_options"]["repo"] = str(tmp_path / "nowhere")
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(data))
    rc = main(["annotate", str(media / "audio" / "robin_bird_inspectorj.hq.ogg"), "--config", str(bad),
               "--out", str(tmp_path / "out"), "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert rc == 1 and "demucs" in err and len(err.splitlines()) == 1


def test_transformers_whisper_through_annotate(tiny_config, media, tmp_path):
    config, _ = tiny_config
    video = media / "audio" / "libri1_5703-47212-0000.hq.ogg"
    assert main(["annotate", str(video), "--config", str(config.parent / "gpu-tiny-hf.yaml"), "--out",
                 str(tmp_path), "--no-progress"]) == 0
    story = json.loads((tmp_path / video.stem / "story.json").read_text())
    shot = story["shots"][0]["avshooter"]
    assert shot["provenance"]["backends"]["asr"]["name"] == "whisper"
    assert shot["language"] in ("ja", "en") and isinstance(shot["transcript"], str)
