"""`avshooter generate --manifest`: many stories, a bad one in the middle, resume, local pool and Ray."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from avshooter.cli import main
from avshooter.errors import InputError
from avshooter.generation.batch import read_story_list


@pytest.fixture(scope="module")
def stories(demo, tmp_path_factory) -> Path:
    """A folder with two good 2-shot stories (no times: AnimeShooterGen style) and a bad one between them."""
    root = tmp_path_factory.mktemp("stories")
    full = json.loads(demo["story"].read_text())
    for name, picks in (("ball", (2, 3)), ("hello", (0, 2))):
        story = json.loads(json.dumps(full))
        story["shots"] = [story["shots"][k] for k in picks]
        for shot in story["shots"]:
            shot.pop("start time"), shot.pop("end time"), shot.pop("avshooter", None)
        (root / f"{name}.json").write_text(json.dumps(story))
        (root / name).mkdir()
        for j, k in enumerate(picks):
            shutil.copy(demo["shots"] / f"shot_{k:03d}.mp4", root / name / f"shot_{j:03d}.mp4")
    (root / "broken.json").write_text('{"shots": [')  # invalid JSON
    (root / "broken").mkdir()
    shutil.copy(demo["shots"] / "shot_000.mp4", root / "broken" / "shot_000.mp4")
    return root


def _summary(capsys) -> tuple[str, str]:
    captured = capsys.readouterr()
    return captured.out, captured.err


def _check_outputs(out: Path, names) -> None:
    for name in names:
        report = json.loads((out / name / "generate.json").read_text())
        assert (out / name / "story.mp4").is_file() and len(report["shots"]) == 2
        assert report["input_fingerprint"] and report["provenance"]["config_hash"]
    assert not (out / "broken" / "generate.json").exists()
    assert not [p for p in (out / "broken").rglob("*") if p.is_file()] if (out / "broken").exists() else True


def test_manifest_local_pool_bad_story_and_resume(stories, demo_out, tmp_path, capsys):
    stories = Path(shutil.copytree(stories, tmp_path / "stories"))
    manifest = stories / "stories.txt"
    manifest.write_text("ball.json\tball\n# a comment\nbroken.json\tbroken\n\nhello.json\thello\n")
    out = tmp_path / "out"
    args = ["generate", "--manifest", str(manifest), "--out", str(out), "--bank", str(demo_out), "--workers", "2",
            "--no-progress", "--no-sync"]
    assert main(args) == 1
    stdout, stderr = _summary(capsys)
    assert "done 2, skipped (already finished) 0, failed 1" in stdout
    assert "FAILED broken:" in stderr and "invalid JSON" in stderr
    _check_outputs(out, ("ball", "hello"))
    # a re-run redoes nothing that finished
    assert main(args) == 1
    assert "done 0, skipped (already finished) 2, failed 1" in _summary(capsys)[0]
    # a run that died before generate.json (written last) is redone; so is a story that changed
    (out / "hello" / "generate.json").unlink()
    story = json.loads((stories / "ball.json").read_text())
    story["storyline"] = "changed"
    (stories / "ball.json").write_text(json.dumps(story))
    assert main(args) == 1
    assert "done 2, skipped (already finished) 0, failed 1" in _summary(capsys)[0]
    assert json.loads((out / "ball" / "prompts.json").read_text())["shots"][0]["seed"] >= 0
    assert not [p for p in out.rglob(".avshooter-generate-*")]  # no staging folder left behind


def test_manifest_on_ray(stories, demo_out, tmp_path, capsys):
    ray = pytest.importorskip("ray", reason="the ray extra is not installed (pip install 'avshooter[ray]')")
    manifest = stories / "stories.jsonl"
    manifest.write_text("\n".join(json.dumps(row) for row in (
        {"story": "ball.json", "videos": "ball"}, {"story": "broken.json", "videos": "broken"},
        {"story": "hello.json", "videos": "hello", "id": "hi"})) + "\n")
    out = tmp_path / "out"
    args = ["generate", "--manifest", str(manifest), "--out", str(out), "--bank", str(demo_out), "--engine", "ray",
            "--workers", "2", "--no-progress", "--no-sync"]
    try:
        assert main(args) == 1
        stdout, stderr = _summary(capsys)
        assert "done 2, skipped (already finished) 0, failed 1" in stdout and "FAILED broken:" in stderr
        _check_outputs(out, ("ball", "hi"))
        assert main(args) == 1
        assert "done 0, skipped (already finished) 2, failed 1" in _summary(capsys)[0]
    finally:
        ray.shutdown()


def test_bad_manifests(tmp_path, capsys):
    bad = tmp_path / "m.txt"
    bad.write_text("only-a-story.json\n")
    with pytest.raises(InputError, match="STORY<TAB>VIDEOS"):
        read_story_list(bad)
    bad.write_text('{"story": "a.json"}\n')
    with pytest.raises(InputError, match=r"m.txt:1: a JSON line needs"):
        read_story_list(bad)
    bad.write_text("# nothing\n")
    with pytest.raises(InputError, match="lists no stories"):
        read_story_list(bad)
    bad.write_text("a/s.json\tv\nb/s.json\tw\n")  # same name twice: ids made unique
    items = read_story_list(bad)
    assert items[0].story_id == "s" and items[1].story_id.startswith("s-") and items[0].videos == str(tmp_path / "v")
    assert main(["generate", "--manifest", str(bad), "--story", "x.json", "--out", str(tmp_path / "o")]) == 1
    assert "either --story" in capsys.readouterr().err
    assert main(["generate", "--manifest", str(tmp_path / "none.txt"), "--out", str(tmp_path / "o")]) == 1
    assert "manifest not found" in capsys.readouterr().err
