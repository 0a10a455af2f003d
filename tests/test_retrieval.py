"""Retrieval text-to-audio on a bank built by the real ``avshooter annotate`` of the demo clip.

Every layer comes from the stems of its own kind, and a prompt with no good match gets no clip. These tests
check the shot-level match (``events=False``, and the fallback); sound events: tests/test_sound_events.py.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from avshooter.backends.text_to_audio.retrieval import RetrievalTTA, entry_text, read_bank
from avshooter.errors import InputError, StoryError

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bank(demo, demo_out, tmp_path_factory) -> Path:
    """The demo's annotate output with each shot's "type" set to the demo's truth: these tests check
    retrieval, not how well annotate types shots (test_annotate does)."""
    copy = tmp_path_factory.mktemp("bank") / "ds"
    shutil.copytree(demo_out, copy)
    story_path = copy / "demo" / "story.json"
    story = json.loads(story_path.read_text())
    for shot, truth in zip(story["shots"], demo["truth_data"]["shots"]):
        shot["audio annotation"]["type"] = truth["type"]
    story_path.write_text(json.dumps(story))
    return copy


@pytest.fixture(scope="module")
def tta(bank) -> RetrievalTTA:
    return RetrievalTTA(events=False, bank=str(bank))


def test_each_layer_from_its_own_stems(bank):
    entries = read_bank(bank)
    by_layer = {layer: [e for e in entries if e["layer"] == layer] for layer in ("effects", "music", "ambience")}
    assert all(e["path"].name == "effects.flac" for e in by_layer["effects"])
    assert all(e["path"].name == "music.flac" for e in by_layer["music"])
    story = json.loads((bank / "demo" / "story.json").read_text())
    types = {f"demo/{i:04d}": s["audio annotation"]["type"] for i, s in enumerate(story["shots"])}
    assert by_layer["ambience"] and all(types[e["id"]] == "ambience" for e in by_layer["ambience"])
    # a stem is a source when the separator put at least min_stem_share of its shot's energy in it
    for layer in ("effects", "music"):
        shares = {f"demo/{i:04d}": s["avshooter"]["stems"][layer]["energy_share"] for i, s in enumerate(story["shots"])}
        assert {e["id"] for e in by_layer[layer]} == {k for k, v in shares.items() if v >= 0.1}
    assert "demo/0001" in {e["id"] for e in by_layer["music"]}  # the music shot
    assert "demo/0000" not in {e["id"] for e in by_layer["music"]}  # speech only: its music stem is ~0


def test_ball_prompt_finds_the_ball_shot(tta, bank):
    assert tta.sample_rate == 44100 and tta.max_duration_s == float("inf")
    ball, wind = tta.generate(["a ball bouncing and hitting the floor", "soft wind blowing at night"], [4.5, 4.0],
                              seeds=[1, 2], num_candidates=3)
    assert ball["source"]["id"] == "demo/0002" and ball["matched"] and ball["score"] >= tta.min_score
    assert ball["source"]["stem"] == "effects" and ball["source"]["offset_s"] == 0.0
    assert wind["source"]["id"] == "demo/0003"
    # candidates = the bank's effects stems (at most 3); the speech-only shot's effects stem is no longer one
    # (the separator used to leave ~21 % of that shot's voice in it, issue 18)
    n_effects = sum(e["layer"] == "effects" for e in read_bank(bank))
    assert ball["candidates"][0]["id"] == "demo/0002" and len(ball["candidates"]) == min(3, n_effects)
    assert "demo/0000" not in {c["id"] for c in ball["candidates"]}
    stem, sr = sf.read(bank / "demo" / "audio" / "0002" / "effects.flac", dtype="float32", always_2d=True)
    assert Path(ball["source"]["file"]) == bank / "demo" / "audio" / "0002" / "effects.flac"
    assert sr == 44100 and ball["wav"].dtype == np.float32 and np.array_equal(ball["wav"], stem.T)
    assert ball["seed"] == 1 and tta.info()["bank_entries"]["effects"] >= 2


def test_music_prompt_gets_a_music_stem(tta, bank):
    """The demo's music shot: a music prompt is answered from a music stem, never an effects stem."""
    music = tta.generate(["cheerful music with a steady beat"], [4.5], seeds=[0], layer="music")[0]
    assert music["matched"] and music["source"]["id"] == "demo/0001"
    assert music["source"]["stem"] == "music" and Path(music["source"]["file"]).name == "music.flac"
    stem, _ = sf.read(bank / "demo" / "audio" / "0001" / "music.flac", dtype="float32", always_2d=True)
    assert np.array_equal(music["wav"], stem.T)
    ambience = tta.generate(["a soft night wind"], [4.0], seeds=[0], layer="ambience")[0]
    assert ambience["source"]["id"] == "demo/0003"


def test_no_good_match_is_no_clip_with_a_reason(tta):
    out = tta.generate(["a dragon roaring over a burning castle", "busy city street traffic"], [2.0, 2.0],
                       seeds=[0, 1], num_candidates=2, layer="effects")
    for res in out:
        assert res["wav"] is None and not res["matched"] and res["source"] is None
        assert res["score"] < tta.min_score and "< min_score" in res["reason"]
        assert len(res["candidates"]) == 2  # what was considered is still reported
    # with the bound turned off the best clip comes back
    anything = RetrievalTTA(events=False, bank=str(tta.bank), min_score=-1.0)
    assert anything.generate(["a dragon roaring"], [2.0], seeds=[0])[0]["wav"] is not None
    with pytest.raises(InputError, match="layer must be one of"):
        tta.generate(["x"], [1.0], seeds=[0], layer="dialogue")


def test_a_layer_the_bank_lacks_is_silent(bank, tmp_path):
    copy = tmp_path / "bank"
    shutil.copytree(bank, copy)
    story_path = copy / "demo" / "story.json"
    story = json.loads(story_path.read_text())
    for shot in story["shots"]:
        shot["avshooter"]["stems"]["music"]["energy_share"] = 0.0
    story_path.write_text(json.dumps(story))
    res = RetrievalTTA(events=False, bank=str(copy)).generate(["a piano melody"], [2.0], seeds=[0], layer="music")[0]
    assert res["wav"] is None and res["reason"] == "the bank has no music entries"


def test_entry_text_takes_the_stems_own_description():
    ann = {"type": "music", "sound description": "Music: loud, tonal; rhythmic. Effects: quiet thuds.",
           "visual context": "on screen: notes dance"}
    assert entry_text("music", ann, "Notes bob.", []) == "loud, tonal; rhythmic. notes dance. Notes bob."
    assert entry_text("effects", ann, "", [{"label": "thump", "score": 0.9}]) == "quiet thuds. thump. notes dance."
    assert entry_text("effects", ann, "", [], "Sound effects: soft taps.") == "soft taps. notes dance."
    plain = {"type": "effects", "sound description": "a door slams", "visual context": ""}
    assert entry_text("effects", plain, "", []) == "a door slams."
    assert entry_text("music", plain, "A door.", []) == "A door."  # nothing said about its music stem
    timed = {"type": "effects, speech", "sound description": 'Sound effects (0.0-5.0 s): hits. Speech (0.5-1.0 s): '
             'someone says: "Hi."', "visual context": ""}
    assert entry_text("effects", timed, "", []) == "hits."
    assert entry_text("music", timed, "", []) == ""


def test_determinism_and_seeded_top_k(tta, bank):
    a = tta.generate(["a ball bouncing"], [2.0], seeds=[7])[0]
    b = tta.generate(["a ball bouncing"], [2.0], seeds=[8])[0]
    assert a["source"] == b["source"] and np.array_equal(a["wav"], b["wav"])  # top_k=1: seed-independent
    many = RetrievalTTA(events=False, bank=str(bank), top_k=4, min_score=-1.0)
    picks = [many.generate(["a ball bouncing"], [2.0], seeds=[s])[0]["source"]["id"] for s in range(12)]
    assert picks == [many.generate(["a ball bouncing"], [2.0], seeds=[s])[0]["source"]["id"] for s in range(12)]
    assert len(set(picks)) > 1


def test_bad_banks(tmp_path, bank, tta):
    with pytest.raises(InputError, match="folder not found"):
        RetrievalTTA(events=False, bank=str(tmp_path / "nope"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no annotated shots"):
        RetrievalTTA(events=False, bank=str(tmp_path / "empty"))
    evil = tmp_path / "evil"
    shutil.copytree(bank, evil)
    story_path = evil / "demo" / "story.json"
    story = json.loads(story_path.read_text(encoding="utf-8"))
    story["shots"][1]["avshooter"]["audio"]["effects"] = "../../secret.flac"
    story_path.write_text(json.dumps(story), encoding="utf-8")
    with pytest.raises(StoryError, match="leaves its base folder"):
        RetrievalTTA(events=False, bank=str(evil))
    with pytest.raises(InputError, match="2 prompts, 1 durations"):
        tta.generate(["a", "b"], [1.0], seeds=[0, 1])
    with pytest.raises(InputError, match=r"prompts\[0\] is empty"):
        tta.generate([" "], [1.0], seeds=[0])
