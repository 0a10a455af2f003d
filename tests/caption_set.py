"""Scoring of the offline prompt writer on the labelled caption set ``tests/data/captions.json``.

Used by ``tests/test_caption_set.py``; run it by hand to print the precision/recall table::

    .venv/bin/python tests/caption_set.py              # table: tuning half / held-out half / all
    .venv/bin/python tests/caption_set.py --errors tune  # what went wrong, tuning half only

The split is fixed by a rule decided before tuning: odd ids tune, even ids are held out.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data" / "captions.json"
HALVES = ("tune", "held-out A", "held-out B", "held-out C", "held-out D", "all")


def load_set() -> dict:
    return json.loads(DATA.read_text(encoding="utf-8"))


def half(item: dict) -> str:
    """ids 1-48: odd tune, even held-out A; 49-64 held-out B; 65-80 held-out C; 81-96 held-out D (see the set's "split_rule")."""
    if item["id"] >= 81:
        return "held-out D"
    if item["id"] >= 65:
        return "held-out C"
    if item["id"] >= 49:
        return "held-out B"
    return "tune" if item["id"] % 2 == 1 else "held-out A"


def story_of(item: dict) -> dict:
    """A one-shot story in the released form (narrative/descriptive captions), without times."""
    return {
        "storyline": item["plot"],
        "main characters": item["characters"],
        "main scenes": [item["scene"]],
        "shots": [{"main characters": item["shot_characters"], "scene": item["scene"]["ID"],
                   "visual annotation": {"narrative caption": item["plot"], "descriptive caption": item["caption"]}}],
    }


def predict(item: dict, writer=None) -> dict:
    from avshooter.generation.prompts import build_prompts
    from avshooter.io.story import load_story

    story = load_story(story_of(item), require_times=False)
    prompts = build_prompts(story, writer=writer)
    shot = prompts.shots[0]
    return {"effects": shot.effect_labels, "music": shot.music, "place": shot.ambience_scene is not None,
            "dialogue": [(d["character"], d["text"], d.get("language")) for d in shot.dialogue],
            "prompt": shot.to_dict(), "ambience": prompts.ambience}


def _same(a: str, b: str, groups: list[set]) -> bool:
    return a == b or any(a in g and b in g for g in groups)


def score(items: list[dict], predictions: dict[int, dict], synonyms: list[list[str]]) -> dict:
    """Counts and precision/recall of effects labels, music and dialogue lines, and place accuracy."""
    groups = [set(g) for g in synonyms]
    c = dict.fromkeys(("eff_tp_p", "eff_pred", "eff_tp_r", "eff_gold", "mus_tp", "mus_pred", "mus_gold",
                       "dlg_tp", "dlg_pred", "dlg_gold", "place_ok", "n"), 0)
    for item in items:
        gold, pred = item["gold"], predictions[item["id"]]
        c["n"] += 1
        c["eff_pred"] += len(pred["effects"])
        c["eff_gold"] += len(gold["effects"])
        c["eff_tp_p"] += sum(any(_same(p, g, groups) for g in gold["effects"]) for p in pred["effects"])
        c["eff_tp_r"] += sum(any(_same(p, g, groups) for p in pred["effects"]) for g in gold["effects"])
        c["mus_pred"] += pred["music"] is not None
        c["mus_gold"] += gold["music"] is not None
        c["mus_tp"] += pred["music"] is not None and gold["music"] is not None
        lines = {(d["character"], d["text"].strip(), d["language"]) for d in gold["dialogue"]}
        c["dlg_pred"] += len(pred["dialogue"])
        c["dlg_gold"] += len(lines)
        c["dlg_tp"] += len(lines & {(w, t.strip(), lang) for w, t, lang in pred["dialogue"]})
        c["place_ok"] += pred["place"] == gold["place"]

    def ratio(a, b):
        return a / b if b else 1.0

    return dict(c, effects_p=ratio(c["eff_tp_p"], c["eff_pred"]), effects_r=ratio(c["eff_tp_r"], c["eff_gold"]),
                music_p=ratio(c["mus_tp"], c["mus_pred"]), music_r=ratio(c["mus_tp"], c["mus_gold"]),
                dialogue_p=ratio(c["dlg_tp"], c["dlg_pred"]), dialogue_r=ratio(c["dlg_tp"], c["dlg_gold"]),
                place_acc=ratio(c["place_ok"], c["n"]))


def evaluate(writer=None) -> tuple[dict[str, dict], dict[int, dict], dict]:
    data = load_set()
    predictions = {item["id"]: predict(item, writer) for item in data["captions"]}
    results = {}
    for name in HALVES:
        items = [i for i in data["captions"] if name == "all" or half(i) == name]
        results[name] = score(items, predictions, data["synonyms"])
    return results, predictions, data


def table(results: dict[str, dict]) -> str:
    rows = [("effects labels precision", "effects_p", "eff_tp_p", "eff_pred"),
            ("effects labels recall", "effects_r", "eff_tp_r", "eff_gold"),
            ("music precision", "music_p", "mus_tp", "mus_pred"), ("music recall", "music_r", "mus_tp", "mus_gold"),
            ("dialogue lines precision", "dialogue_p", "dlg_tp", "dlg_pred"),
            ("dialogue lines recall", "dialogue_r", "dlg_tp", "dlg_gold"),
            ("ambience place/picture accuracy", "place_acc", "place_ok", "n")]
    out = [f"| {'metric':34s} | " + " | ".join(f"{h:>14s}" for h in HALVES) + " |",
           "|" + "-" * 36 + "|" + "|".join("-" * 16 for _ in HALVES) + "|"]
    for title, key, num, den in rows:
        cells = [f"{results[h][key]:.2f} ({results[h][num]}/{results[h][den]})" for h in HALVES]
        out.append(f"| {title:34s} | " + " | ".join(f"{x:>14s}" for x in cells) + " |")
    n = {h: results[h]["n"] for h in HALVES}
    out.append("captions: " + ", ".join(f"{h} {n[h]}" for h in HALVES))
    return "\n".join(out)


def errors(predictions: dict[int, dict], data: dict, which: str) -> str:
    groups = [set(g) for g in data["synonyms"]]
    out = []
    for item in data["captions"]:
        if which != "all" and half(item) != which:
            continue
        gold, pred = item["gold"], predictions[item["id"]]
        wrong = [p for p in pred["effects"] if not any(_same(p, g, groups) for g in gold["effects"])]
        missed = [g for g in gold["effects"] if not any(_same(p, g, groups) for p in pred["effects"])]
        bad_music = (pred["music"] is None) != (gold["music"] is None)
        gold_lines = {(d["character"], d["text"], d["language"]) for d in gold["dialogue"]}
        bad_lines = gold_lines != set(pred["dialogue"])
        if wrong or missed or bad_music or bad_lines or pred["place"] != gold["place"]:
            out.append(f"[{item['id']}] {item['caption']}\n    effects +{wrong} -{missed}  music {pred['music']!r} "
                       f"(gold {gold['music']!r})  place {pred['place']} (gold {gold['place']})"
                       + (f"\n    dialogue {pred['dialogue']} (gold {sorted(gold_lines)})" if bad_lines else "")
                       + f"\n    sources {json.dumps(pred['prompt']['sources']['effects'])}")
    return "\n".join(out)


if __name__ == "__main__":
    results, predictions, data = evaluate()
    print(table(results))
    if "--errors" in sys.argv:
        print(errors(predictions, data, sys.argv[sys.argv.index("--errors") + 1]))
