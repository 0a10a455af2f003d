"""`avshooter annotate --manifest ... --engine ray`: the batch on Ray Data (a local Ray with 2 CPUs)."""
from __future__ import annotations

import json
import shutil

import pytest

from avshooter.cli import main

ray = pytest.importorskip("ray", reason="the ray extra is not installed (pip install 'avshooter[ray]')")


def test_ray_engine_runs_skips_and_resumes(tmp_path, capsys, media):
    shutil.copy(media / "audio" / "robin_bird_inspectorj.hq.ogg", tmp_path / "bird.ogg")
    shutil.copy(media / "audio" / "trumpet_sorohanro.ogg", tmp_path / "trumpet.ogg")
    (tmp_path / "bad.mp4").write_bytes(b"not a video")
    manifest = tmp_path / "videos.txt"
    manifest.write_text("bird.ogg\ntrumpet.ogg\nbad.mp4\n")
    out = tmp_path / "out"
    args = ["annotate", "--manifest", str(manifest), "--out", str(out), "--engine", "ray", "--workers", "2",
            "--no-progress", "--no-context"]
    try:
        assert main(args) == 1
        captured = capsys.readouterr()
        assert "done 2, skipped (already finished) 0, failed 1" in captured.out
        assert "FAILED bad" in captured.err
        ids = [json.loads(line)["id"] for line in (out / "manifest.jsonl").read_text().splitlines()]
        assert {i.split("/")[0] for i in ids} == {"bird", "trumpet"} and len(ids) == len(set(ids))
        assert json.loads((out / "trumpet" / "story.json").read_text())["shots"]
        assert main(args) == 1
        assert "done 0, skipped (already finished) 2, failed 1" in capsys.readouterr().out
    finally:
        ray.shutdown()
