"""Retrieval text-to-audio on a bank built by the real ``avshooter annotate`` of the demo clip."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from avshooter.errors import InputError, StoryError
from avshooter.backends.text_to_audio.retrieval import RetrievalTTA

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bank(demo_out) -> Path:
    return demo_out


@pytest.fixture(scope="module")
def tta(bank) -> RetrievalTTA:
    return RetrievalTTA(bank=str(bank))


def test_ball_prompt_finds_the_ball_shot(tta, bank):
    assert tta.sample_rate == 44100 and tta.max_duration_s == float("inf") and len(tta.entries) == 4
    out = tta.generate(["a ball bouncing and hitting the floor", "soft wind blowing at night"], [4.5, 4.0],
                       seeds=[1, 2], num_candidates=3)
    ball, wind = out
    assert ball["source"] == "demo/0002" and ball["matched"] and ball["score"] > 0.3
    assert wind["source"] == "demo/0003"
    assert ball["candidates"][0]["source"] == "demo/0002" and len(ball["candidates"]) == 3
    stem, sr = sf.read(bank / "demo" / "audio" / "0002" / "effects.flac", dtype="float32", always_2d=True)
    assert sr == 44100 and ball["wav"].dtype == np.float32 and np.array_equal(ball["wav"], stem.T)
    assert ball["seed"] == 1 and "bank_shots" in tta.info()


def test_determinism_and_seeded_top_k(tta, bank):
    a = tta.generate(["a ball bouncing"], [2.0], seeds=[7])[0]
    b = tta.generate(["a ball bouncing"], [2.0], seeds=[8])[0]
    assert a["source"] == b["source"] and np.array_equal(a["wav"], b["wav"])  # top_k=1: seed-independent
    many = RetrievalTTA(bank=str(bank), top_k=4)
    picks = [many.generate(["a ball bouncing"], [2.0], seeds=[s])[0]["source"] for s in range(12)]
    assert picks == [many.generate(["a ball bouncing"], [2.0], seeds=[s])[0]["source"] for s in range(12)]
    assert len(set(picks)) > 1
    low = RetrievalTTA(bank=str(bank), min_score=0.99).generate(["a ball bouncing"], [2.0], seeds=[0])[0]
    assert not low["matched"] and low["source"] == "demo/0002"


def test_bad_banks(tmp_path, bank, tta):
    with pytest.raises(InputError, match="folder not found"):
        RetrievalTTA(bank=str(tmp_path / "nope"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no annotated shots"):
        RetrievalTTA(bank=str(tmp_path / "empty"))
    evil = tmp_path / "evil"
    shutil.copytree(bank, evil)
    story_path = evil / "demo" / "story.json"
    story = json.loads(story_path.read_text(encoding="utf-8"))
    story["shots"][1]["avshooter"]["audio"]["effects"] = "../../secret.flac"
    story_path.write_text(json.dumps(story), encoding="utf-8")
    with pytest.raises(StoryError, match="leaves its base folder"):
        RetrievalTTA(bank=str(evil))
    with pytest.raises(InputError, match="2 prompts, 1 durations"):
        tta.generate(["a", "b"], [1.0], seeds=[0, 1])
    with pytest.raises(InputError, match=r"prompts\[0\] is empty"):
        tta.generate([" "], [1.0], seeds=[0])
