"""Bad input to `avshooter annotate`: one clear line on stderr, exit 1, nothing half-written; batches go on."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from avshooter.cli import main


def _run(capsys, *argv) -> tuple[int, str]:
    rc = main(["annotate", *map(str, argv), "--no-progress", "--no-context"])
    err = capsys.readouterr().err.strip()
    return rc, err


def _no_partial_output(out: Path) -> None:
    leftovers = [p for p in out.rglob("*") if p.name != "manifest.jsonl"]
    assert not leftovers, leftovers


def _tone_wav(path: Path, seconds=8.0, sr=16000):
    t = np.arange(int(seconds * sr)) / sr
    sf.write(path, (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), sr)
    return path


def _story(shots) -> dict:
    return {"storyline": "x", "main characters": [], "main scenes": [],
            "shots": [{"start time": a, "end time": b, "main characters": [], "scene": "",
                       "visual annotation": {"plot": "", "caption": ""}} for a, b in shots]}


@pytest.mark.parametrize("case", ["empty", "junk", "truncated", "missing"])
def test_bad_media(case, tmp_path, capsys, media):
    video = tmp_path / f"bad_{case}.webm"
    if case == "empty":
        video.write_bytes(b"")
    elif case == "junk":
        video.write_bytes(os.urandom(4096))
    elif case == "truncated":
        video.write_bytes((media / "video" / "bbb_0-30s_moviepy.webm").read_bytes()[:2000])
    out = tmp_path / "out"
    rc, err = _run(capsys, video, "--out", out)
    assert rc == 1 and err.startswith("avshooter: error:") and len(err.splitlines()) == 1
    assert str(video.name) in err
    _no_partial_output(out)


def test_no_audio_stream(tmp_path, capsys, media):
    rc, err = _run(capsys, media / "video" / "caminandes1_10s_zwm.mp4", "--out", tmp_path)
    assert rc == 1 and "no audio stream" in err and len(err.splitlines()) == 1
    _no_partial_output(tmp_path)


@pytest.mark.parametrize("shots,message", [
    ([("00:00", "00:04"), ("00:04", "00:12")], "lasts"),            # past the end of the audio
    ([("00:00", "00:05"), ("00:03", "00:08")], "overlap"),           # overlapping
    ([("00:04", "00:08"), ("00:00", "00:04")], "order"),             # unsorted
    ([("00:00", "00:00")], "end"),                                   # zero length
    ([("00:00", "1 minute")], "is not a time"),                   # unknown time string
])
def test_bad_shots(shots, message, tmp_path, capsys):
    wav = _tone_wav(tmp_path / "a.wav")
    story = tmp_path / "a.json"
    story.write_text(json.dumps(_story(shots)))
    rc, err = _run(capsys, wav, "--story", story, "--out", tmp_path / "out")
    assert rc == 1 and len(err.splitlines()) == 1
    assert message in err.lower() or message in err
    _no_partial_output(tmp_path / "out")


@pytest.mark.parametrize("text,message", [
    ('{"storyline": "x", "shots": [', "line 1"),
    ('[1, 2]', "object"),
    ('{"storyline": "x", "shots": [{"start time": "00:00"}]}', "end time"),
])
def test_malformed_story(text, message, tmp_path, capsys):
    wav = _tone_wav(tmp_path / "a.wav")
    story = tmp_path / "a.json"
    story.write_text(text)
    rc, err = _run(capsys, wav, "--story", story, "--out", tmp_path / "out")
    assert rc == 1 and message in err and len(err.splitlines()) == 1


def test_non_ascii_paths(tmp_path, capsys):
    folder = tmp_path / "アニメ 第1話"
    folder.mkdir()
    wav = _tone_wav(folder / "音声.wav")
    out = tmp_path / "出力"
    rc, _ = _run(capsys, wav, "--out", out)
    assert rc == 0
    story = json.loads((out / "音声" / "story.json").read_text(encoding="utf-8"))
    assert story["shots"] and (out / "音声" / story["shots"][0]["avshooter"]["audio"]["mix"]).exists()


def test_read_only_output(tmp_path, capsys):
    """A folder we may not write: as root (CI), the check runs with the effective uid of 'nobody'."""
    import contextlib
    import tempfile

    base = Path(tempfile.mkdtemp(prefix="avshooter-ro-"))  # traversable by everyone, unlike tmp_path
    base.chmod(0o755)
    wav = _tone_wav(base / "a.wav")
    wav.chmod(0o644)
    out = base / "ro"
    out.mkdir()
    out.chmod(0o555)
    as_nobody = contextlib.nullcontext()
    if os.geteuid() == 0:  # 'nobody' cannot read root's Python: import what the run needs first
        assert _run(capsys, wav, "--out", tmp_path / "warm")[0] == 0

        @contextlib.contextmanager
        def as_nobody():
            os.seteuid(65534)
            try:
                yield
            finally:
                os.seteuid(0)
        as_nobody = as_nobody()
    try:
        with as_nobody:
            rc, err = _run(capsys, wav, "--out", out)
    finally:
        out.chmod(0o700)
        shutil.rmtree(base, ignore_errors=True)
    assert rc == 1 and len(err.splitlines()) == 1 and ("not writable" in err or "permission denied" in err), err


def test_output_is_a_file(tmp_path, capsys):
    wav = _tone_wav(tmp_path / "a.wav")
    out = tmp_path / "file"
    out.write_text("x")
    rc, err = _run(capsys, wav, "--out", out)
    assert rc == 1 and "cannot create output folder" in err


def test_read_only_output_as_root(tmp_path, capsys):
    """As root, permissions do not stop writes: use a path under /proc, which nobody can create."""
    wav = _tone_wav(tmp_path / "a.wav")
    rc, err = _run(capsys, wav, "--out", "/proc/avshooter-out")
    assert rc == 1 and err.startswith("avshooter: error:") and len(err.splitlines()) == 1


def test_silence_and_odd_rates(tmp_path, capsys):
    sf.write(tmp_path / "silence.wav", np.zeros((7 * 11025, 3), np.float32), 11025)  # 3 channels, 11.025 kHz
    rc, _ = _run(capsys, tmp_path / "silence.wav", "--out", tmp_path / "out")
    assert rc == 0
    story = json.loads((tmp_path / "out" / "silence" / "story.json").read_text())
    assert {s["audio annotation"]["type"] for s in story["shots"]} == {"silence"}
    assert all("silent" in s["avshooter"]["flags"] for s in story["shots"])


def test_batch_skips_bad_items_and_resumes(tmp_path, capsys, media):
    good1 = _tone_wav(tmp_path / "good1.wav")
    good2 = shutil.copy(media / "audio" / "robin_bird_inspectorj.hq.ogg", tmp_path / "bird.ogg")
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video")
    manifest = tmp_path / "videos.txt"
    manifest.write_text(f"# videos\n{good1.name}\n{bad.name}\n\n{Path(good2).name}\nmissing.wav\n")
    out = tmp_path / "out"
    rc = main(["annotate", "--manifest", str(manifest), "--out", str(out), "--workers", "2", "--no-progress",
               "--no-context"])
    captured = capsys.readouterr()
    assert rc == 1
    assert "done 2, skipped (already finished) 0, failed 2" in captured.out
    assert "FAILED bad" in captured.err and "FAILED missing" in captured.err
    ids = [json.loads(line)["id"] for line in (out / "manifest.jsonl").read_text().splitlines()]
    assert len(ids) == len(set(ids)) and {i.split("/")[0] for i in ids} == {"good1", "bird"}
    # the re-run redoes nothing that finished
    rc = main(["annotate", "--manifest", str(manifest), "--out", str(out), "--no-progress", "--no-context"])
    assert "done 0, skipped (already finished) 2, failed 2" in capsys.readouterr().out
    assert [json.loads(line)["id"] for line in (out / "manifest.jsonl").read_text().splitlines()] == ids


def test_cli_usage_errors(tmp_path, capsys):
    rc, err = _run(capsys, "--out", tmp_path)
    assert rc == 1 and "either one VIDEO or --manifest" in err
    rc, err = _run(capsys, tmp_path / "x.wav", "--out", tmp_path, "--config", tmp_path / "nope.yaml")
    assert rc == 1 and "config file not found" in err
    bad = tmp_path / "bad.yaml"
    bad.write_text("sample_rate: 44100\nbogus: 1\n")
    rc, err = _run(capsys, tmp_path / "x.wav", "--out", tmp_path, "--config", bad)
    assert rc == 1 and "unknown config key(s) bogus" in err


def test_full_disk_is_told_as_a_system_error(demo, tmp_path, capsys, monkeypatch):
    """ENOSPC while writing: one line naming the system's error and the file, nothing half-written."""
    import errno

    import soundfile

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(soundfile, "write", full)
    out = tmp_path / "out"
    rc = main(["annotate", str(demo["video"]), "--story", str(demo["story"]), "--out", str(out), "--no-progress",
               "--no-context"])
    err = capsys.readouterr().err.strip()
    assert rc == 1 and len(err.splitlines()) == 1
    assert "system error: no space left on device while writing" in err and "mix.flac" in err
    assert "internal error" not in err
    assert not [p for p in out.rglob("*") if p.is_file() and p.suffix in (".flac", ".tmp")]


def test_nan_in_a_float_file_is_zeroed_and_recorded(tmp_path, capsys):
    """A float WAV holding NaN/inf: explicit policy. Default: zeroed, counted in the output; or an error."""
    from avshooter.errors import MediaError
    from avshooter.media.decode import decode

    sr = 16000
    t = np.arange(4 * sr) / sr
    x = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    x[100:110] = np.nan
    x[5000] = np.inf
    path = tmp_path / "nan.wav"
    sf.write(path, x, sr, subtype="FLOAT")
    with decode(path, sample_rate=sr) as decoded:
        assert decoded.nonfinite_samples == 11 and np.isfinite(decoded.read(0, decoded.num_samples)).all()
    with pytest.raises(MediaError, match=r"holds \d+ NaN/infinite samples"):
        decode(path, sample_rate=sr, nonfinite="error")
    rc, _ = _run(capsys, path, "--out", tmp_path / "out")
    story = json.loads((tmp_path / "out" / "nan" / "story.json").read_text())
    assert rc == 0 and story["avshooter"]["nonfinite_samples_zeroed"] == 11
