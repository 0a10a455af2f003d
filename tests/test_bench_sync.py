"""benchmarks/bench_sync.py's handling of clips given by path (no media decoded here)."""
from pathlib import Path

import pytest
from conftest import load_script


@pytest.fixture(scope="module")
def bench():
    return load_script("benchmarks/bench_sync.py")


def test_clip_argument_takes_an_optional_start(bench, tmp_path):
    assert bench._clip_arg("a/clip.mp4") == (Path("a/clip.mp4"), 0.0)
    assert bench._clip_arg("a/clip.mp4@30") == (Path("a/clip.mp4"), 30.0)
    odd = tmp_path / "x@y.mp4"
    odd.write_bytes(b"")
    assert bench._clip_arg(str(odd)) == (odd, 0.0)  # an existing file whose name holds '@' is taken whole
    with pytest.raises(Exception, match="PATH@SECONDS"):
        bench._clip_arg("clip.mp4@soon")


def test_a_long_clip_gives_windows_with_an_unrelated_soundtrack_of_its_own(bench):
    wins = bench._extra_windows(Path("t.mp4"), 30.0, 60.0, "test", 4.0, 2.0, Path("bbb.webm"))
    assert [w["start"] for w in wins] == [30.0 + 2 * k for k in range(14)]
    for w in wins:
        assert w["split"] == "test" and "unrelated_video" not in w
        assert abs(w["unrelated"] - w["start"]) >= 8.0
        assert 30.0 <= w["unrelated"] <= 56.0  # inside the clip's span, a whole window


def test_a_short_clip_gives_one_window_unrelated_from_the_fallback(bench):
    wins = bench._extra_windows(Path("s.mp4"), 0.0, 5.3, "dev", 4.0, 2.0, Path("bbb.webm"))
    assert len(wins) == 1
    assert wins[0]["length"] == 4.0 and wins[0]["unrelated_video"] == Path("bbb.webm") and wins[0]["split"] == "dev"


def test_a_missing_clip_is_one_clear_error(bench, capsys):
    with pytest.raises(SystemExit) as exc:
        bench.main(["--extra-dev", "/nonexistent/clip.mp4"])
    assert exc.value.code != 0
    assert "no such file" in capsys.readouterr().err
