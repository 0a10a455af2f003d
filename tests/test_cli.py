"""The CLI as one tool: the same option names on every command, on/off pairs, --debug anywhere and
with the cause, a distinct exit status for a locked video; the package's API and version."""
from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

import pytest

import avshooter
from avshooter.cli import EXIT_LOCKED, build_parser, main
from avshooter.errors import AvshooterError, InputError

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def captured_annotate(monkeypatch):
    """Replace the batch behind `annotate VIDEO` by one that records the config it was given."""
    from avshooter.annotation import batch

    seen = {}

    def fake_annotate_many(items, **kwargs):
        seen.update(kwargs, items=items)
        summary = batch.Summary()
        summary.done.append(items[0].video_id)
        return summary

    monkeypatch.setattr(batch, "annotate_many", fake_annotate_many)
    return seen


@pytest.mark.parametrize("argv", [
    ["--debug", "-v", "annotate", "x.mp4", "--out", "o"],
    ["annotate", "x.mp4", "--out", "o", "--debug", "-v"],
    ["-v", "annotate", "x.mp4", "--debug", "--out", "o"],
])
def test_debug_and_verbose_before_or_after_the_command(argv):
    args = build_parser().parse_args(argv)
    assert args.debug is True and args.verbose is True


def test_debug_and_verbose_are_off_by_default():
    args = build_parser().parse_args(["report", "somewhere"])
    assert args.debug is False and args.verbose is False


def test_debug_shows_the_cause_and_the_plain_run_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("sample_rate: [44100\n")  # not YAML: InputError raised `from None` over yaml's own error
    argv = ["annotate", str(tmp_path / "x.mp4"), "--out", str(tmp_path / "o"), "--config", str(bad)]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not valid YAML" in err and "Traceback" not in err
    assert main(argv + ["--debug"]) == 1  # told, not raised: main(argv) -> int either way
    err = capsys.readouterr().err
    assert "Traceback" in err and "yaml" in err and "Error" in err
    # the cause (yaml's ParserError) comes first, then our error, then the one line
    assert "During handling of the above exception, another exception occurred" in err
    assert err.index("yaml.") < err.index("During handling") < err.rindex("avshooter.errors.InputError"), err
    assert err.rstrip().splitlines()[-1].startswith("avshooter: error:") and "not valid YAML" in err.splitlines()[-1]
    assert main(["--debug"] + argv) == 1 and "During handling" in capsys.readouterr().err


def test_out_on_every_command_and_to_kept_as_a_deprecated_alias(tmp_path, capsys):
    parser = build_parser()
    for argv in (["export", "ds", "--format", "hf", "--out", "x"], ["report", "ds", "--out", "x"]):
        assert parser.parse_args(argv).dest == "x"
    # export: --out reaches the command (a missing root is the command's one-line error, not a usage error)
    missing = tmp_path / "missing"
    assert main(["export", str(missing), "--format", "hf", "--out", str(tmp_path / "e")]) == 1
    err = capsys.readouterr().err
    assert "avshooter: error:" in err and "warning" not in err
    assert main(["export", str(missing), "--format", "hf", "--to", str(tmp_path / "e")]) == 1
    err = capsys.readouterr().err
    assert "--to is deprecated, use --out" in err and "avshooter: error:" in err
    with pytest.raises(SystemExit) as exc:  # export still needs a destination
        main(["export", str(missing), "--format", "hf"])
    assert exc.value.code == 2 and "--out" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # two different destinations
        main(["export", str(missing), "--format", "hf", "--out", "a", "--to", "b"])
    assert main(["report", str(missing), "--out", str(tmp_path / "r")]) == 1
    assert "avshooter: error:" in capsys.readouterr().err


def test_every_on_off_option_has_its_opposite():
    parser = build_parser()
    pairs = {"annotate": ["paper-filter", "context", "progress"],
             "generate": ["sync", "ambience", "music", "progress"],
             "export": ["progress"], "report": ["progress"]}
    base = {"annotate": ["v.mp4", "--out", "o"], "generate": ["--out", "o"],
            "export": ["ds", "--format", "hf", "--out", "o"], "report": ["ds"]}
    for command, names in pairs.items():
        for name in names:
            dest = name.replace("-", "_")
            on = parser.parse_args([command, *base[command], f"--{name}"])
            off = parser.parse_args([command, *base[command], f"--no-{name}"])
            assert getattr(on, dest) is True and getattr(off, dest) is False, (command, name)


def test_annotate_options_reach_the_config(tmp_path, captured_annotate, capsys):
    config = tmp_path / "c.yaml"
    config.write_text("paper_filter: true\ncontext: none\n")
    video = str(tmp_path / "v.mp4")
    assert main(["annotate", video, "--out", str(tmp_path / "o"), "--config", str(config), "--no-paper-filter",
                 "--context", "--device", "cuda:1", "--asr", "none", "--no-progress"]) == 0
    got = captured_annotate["config"]
    assert (got.paper_filter, got.context, got.device, got.asr) == (False, "minilm", "cuda:1", "none")
    assert captured_annotate["progress"] is False
    assert main(["annotate", video, "--out", str(tmp_path / "o"), "--config", str(config)]) == 0
    got = captured_annotate["config"]  # neither flag given: the config file's values stand
    assert (got.paper_filter, got.context, got.device, got.asr) == (True, "none", "cpu", "faster-whisper")
    assert main(["annotate", video, "--out", str(tmp_path / "o"), "--asr", "nope"]) == 1
    assert "nope" in capsys.readouterr().err


def test_generate_options_reach_the_config(tmp_path, monkeypatch):
    from avshooter.generation import pipeline

    seen = {}

    def fake_generate(story, videos, *, out_dir, config, prompts):
        seen["config"] = config
        raise InputError("stop here")

    monkeypatch.setattr(pipeline, "generate", fake_generate)
    argv = ["generate", "--story", "s.json", "--videos", "v", "--out", str(tmp_path / "o")]
    assert main(argv + ["--no-sync", "--no-ambience", "--no-music", "--seed", "5"]) == 1
    assert (seen["config"].sync, seen["config"].ambience, seen["config"].music, seen["config"].seed) == (
        False, False, False, 5)
    assert main(argv) == 1
    assert (seen["config"].sync, seen["config"].ambience, seen["config"].music) == (True, True, True)


def test_one_locked_video_is_not_a_silent_success(tmp_path, capsys):
    from avshooter.io.locks import VideoLock

    video = tmp_path / "clip.mp4"
    video.write_bytes(b"never read: the lock is checked first")
    out = tmp_path / "out"
    lock = VideoLock(out, "clip")
    assert lock.acquire()  # a live run (this process) holds it
    try:
        rc = main(["annotate", str(video), "--out", str(out), "--no-progress"])
    finally:
        lock.release()
    captured = capsys.readouterr()
    assert rc == EXIT_LOCKED == 3
    assert "skipped clip" in captured.err and "locked by pid" in captured.err and "nothing was done" in captured.err
    assert not (out / "clip").exists()


def test_a_batch_with_a_locked_video_stays_0_and_says_so(tmp_path, capsys):
    from avshooter.io.locks import VideoLock

    (tmp_path / "clip.mp4").write_bytes(b"never read")
    manifest = tmp_path / "videos.txt"
    manifest.write_text("clip.mp4\n")
    out = tmp_path / "out"
    lock = VideoLock(out, "clip")
    assert lock.acquire()
    try:
        assert main(["annotate", "--manifest", str(manifest), "--out", str(out), "--no-progress"]) == 0
    finally:
        lock.release()
    assert "skipped (locked by another run) 1" in capsys.readouterr().out


def test_dir_lists_the_lazy_api():
    names = dir(avshooter)
    assert set(avshooter.__all__) <= set(names)
    assert {"annotate", "generate", "write_prompts", "load_backend", "AnnotateConfig"} <= set(names)
    assert names == sorted(names)


def test_input_error_is_a_value_error():
    assert issubclass(InputError, ValueError) and issubclass(InputError, AvshooterError)
    with pytest.raises(ValueError, match="sample_rate"):
        dataclasses.replace(avshooter.AnnotateConfig(), sample_rate=1234)


def test_version_is_bumped_and_the_same_everywhere(capsys):
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert avshooter.__version__ == project
    assert tuple(int(x) for x in project.split(".")[:2]) >= (0, 2)
    with pytest.raises(SystemExit):
        main(["--version"])
    assert capsys.readouterr().out.strip() == f"avshooter {project}"



def test_debug_shows_the_cause_of_a_failed_video(tmp_path, capsys):
    """A video's error travels through the batch worker (batching.run_locked) as text: --debug keeps its chain."""
    story = tmp_path / "s.json"
    story.write_text('{"shots": [')  # malformed JSON: InputError raised `from None` over json's own error
    video = tmp_path / "v.wav"
    import numpy as np
    import soundfile as sf

    sf.write(video, np.zeros(8000, dtype=np.float32), 8000)
    argv = ["annotate", str(video), "--story", str(story), "--out", str(tmp_path / "o"), "--no-progress"]
    assert main(argv) == 1
    assert "JSONDecodeError" not in capsys.readouterr().err
    assert main(argv + ["--debug"]) == 1
    err = capsys.readouterr().err
    assert "JSONDecodeError" in err and "During handling" in err, err
