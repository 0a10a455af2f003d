"""Shared test fixtures: the real media in ../shared/media (never copied into the repository)."""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path

# Tiny models on a 2-core machine: one intra-op thread is many times faster than contended threads.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest

ROOT = Path(__file__).resolve().parents[1]
MEDIA = ROOT.parent / "shared" / "media"


@pytest.fixture(scope="session")
def media() -> Path:
    """Folder of the shared test media (audio/, video/); CI puts ../shared beside the clone."""
    if not MEDIA.is_dir():
        raise RuntimeError(f"test media not found at {MEDIA}: ../shared/media must sit beside the repository")
    return MEDIA


def load_script(path: str):
    """A script of the repository (``path`` relative to its root, e.g. ``benchmarks/bench_sync.py``) as a
    module: the examples and benchmarks folders are not packages."""
    spec = importlib.util.spec_from_file_location(Path(path).stem, ROOT / path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_make_demo():
    """examples/make_demo.py as a module."""
    return load_script("examples/make_demo.py")


@pytest.fixture(scope="session")
def demo(tmp_path_factory) -> dict:
    """The project's own demo clip: {"video", "story", "truth"} paths and "truth_data"."""
    paths = load_make_demo().make_demo(tmp_path_factory.mktemp("demo"))
    return {k: Path(v) if isinstance(v, (str, Path)) else v for k, v in paths.items()}


@pytest.fixture(scope="session")
def demo_out(demo, tmp_path_factory) -> Path:
    """`avshooter annotate` run once on the demo with its story (offline defaults). Read-only for tests."""
    from avshooter.cli import main

    out = tmp_path_factory.mktemp("ds")
    rc = main(["annotate", str(demo["video"]), "--story", str(demo["story"]), "--out", str(out), "--no-progress"])
    assert rc == 0
    return out
