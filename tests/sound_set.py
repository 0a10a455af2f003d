"""Recall of the named sounds, by AudioSet class: the prompt writer as retrieval will read its prompts.

Four labelled sets, scored the same way:

- ``dev``: ``tests/data/captions.json`` (96 captions; gold effects and ambience as the package's sound words,
  mapped onto AudioSet classes with :func:`avshooter.vocabulary.label_classes`), tuned on;
- ``old``: ``tests/data/captions_sounds.json`` (24 captions, gold as AudioSet classes), the first held-out split
  of issue 17; scored several times while the writer was tuned, so it is DEV material now;
- ``dev2``: ``tests/data/captions_sounds_dev2.json`` (32 captions), tuned on;
- ``test2``: ``tests/data/captions_sounds_test2.json`` (32 captions): the TEST split, never tuned on. dev2 and
  test2 were written together before any tuning on them and split by caption with a seeded shuffle.

Per caption the writer's prompts (effects of the shot, ambience of its scene) are read the way the
retrieval backend reads them (:func:`avshooter.backends.text_to_audio.event_match.prompt_classes`). A
predicted class finds a gold class when it is the same class or its direct parent or child in the ontology
(a rule fixed before scoring). Recall: gold sounds found / gold sounds; false sounds: predicted classes
that find no gold one. Music and dialogue are scored as in ``tests/caption_set.py``::

    .venv/bin/python tests/sound_set.py --sets dev,old,dev2     # the table (default: the dev sets)
    .venv/bin/python tests/sound_set.py --sets test2            # the test split: once, at the end of tuning
    .venv/bin/python tests/sound_set.py --sets dev2 --errors dev2
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from caption_set import load_set, predict

DATA = Path(__file__).resolve().parent / "data"
FILES = {"old": "captions_sounds.json", "dev2": "captions_sounds_dev2.json", "test2": "captions_sounds_test2.json"}
DEV_SETS = ("dev", "old", "dev2")


def load_items(name: str) -> list[dict]:
    if name == "dev":
        return load_set()["captions"]
    return json.loads((DATA / FILES[name]).read_text(encoding="utf-8"))["captions"]


def load_test() -> list[dict]:
    return load_items("test2")


def gold_classes(item: dict) -> list[str]:
    from avshooter.vocabulary import label_classes

    gold = item["gold"]
    if "sounds" in gold:
        return list(dict.fromkeys(s["class"] for s in gold["sounds"]))
    mapped = label_classes()
    return list(dict.fromkeys(mapped[w] for w in gold["effects"] + gold.get("ambience", [])))


def predicted_classes(pred: dict) -> list[str]:
    from avshooter.backends.text_to_audio.event_match import prompt_classes

    texts = [pred["prompt"]["effects"] or ""] + list(pred["ambience"].values())
    return list(dict.fromkeys(s["class"] for t in texts if t for s in prompt_classes(t) if s["class"]))


def same(a: str, b: str) -> bool:
    from avshooter.vocabulary import children, parents

    return a == b or a in parents(b) or a in children(b)


def score(items: list[dict], predictions: dict[int, dict]) -> dict:
    c = dict.fromkeys(("found", "gold", "false", "pred", "mus_ok", "dlg_ok", "n"), 0)
    for item in items:
        gold, pred = gold_classes(item), predicted_classes(predictions[item["id"]])
        c["n"] += 1
        c["gold"] += len(gold)
        c["pred"] += len(pred)
        c["found"] += sum(any(same(p, g) for p in pred) for g in gold)
        c["false"] += sum(not any(same(p, g) for g in gold) for p in pred)
        c["mus_ok"] += (predictions[item["id"]]["music"] is None) == (item["gold"]["music"] is None)
        lines = {(d["character"], d["text"], d["language"]) for d in item["gold"]["dialogue"]}
        c["dlg_ok"] += lines == set(predictions[item["id"]]["dialogue"])
    return dict(c, recall=c["found"] / max(1, c["gold"]))


def evaluate(writer=None, names=DEV_SETS) -> tuple[dict, dict]:
    sets = {name: load_items(name) for name in names}
    results, preds = {}, {}
    for name, items in sets.items():
        preds[name] = {item["id"]: predict(item, writer) for item in items}
        results[name] = score(items, preds[name])
    return results, preds


def table(results: dict) -> str:
    out = ["| set | captions | sounds found (recall) | false sounds | music right | dialogue right |",
           "|---|---|---|---|---|---|"]
    for name, r in results.items():
        out.append(f"| {name} | {r['n']} | {r['recall']:.2f} ({r['found']}/{r['gold']}) | {r['false']} "
                   f"| {r['mus_ok']}/{r['n']} | {r['dlg_ok']}/{r['n']} |")
    return "\n".join(out)


def errors(preds: dict, which: str) -> str:
    items = load_items(which)
    out = []
    for item in items:
        gold, pred = gold_classes(item), predicted_classes(preds[which][item["id"]])
        missed = [g for g in gold if not any(same(p, g) for p in pred)]
        false = [p for p in pred if not any(same(p, g) for g in gold)]
        if missed or false:
            out.append(f"[{item['id']}] {item['caption']} || {item['scene']['environment']}\n"
                       f"    missed {missed}  false {false}  effects {preds[which][item['id']]['prompt']['effects']!r}"
                       f"  ambience {list(preds[which][item['id']]['ambience'].values())}")
    return "\n".join(out)


if __name__ == "__main__":
    from caption_set import score as old_score

    names = sys.argv[sys.argv.index("--sets") + 1].split(",") if "--sets" in sys.argv else DEV_SETS
    results, preds = evaluate(names=names)
    print(table(results))
    if "dev" in preds:  # the old effects-label scoring of tests/caption_set.py on the same predictions
        data = load_set()
        old = old_score(data["captions"], preds["dev"], data["synonyms"])
        print(f"old scoring on the dev set: effects labels precision {old['effects_p']:.2f} "
              f"({old['eff_tp_p']}/{old['eff_pred']}), recall {old['effects_r']:.2f} ({old['eff_tp_r']}/{old['eff_gold']}), "
              f"music p/r {old['music_p']:.2f}/{old['music_r']:.2f}, dialogue p/r {old['dialogue_p']:.2f}/"
              f"{old['dialogue_r']:.2f}, place {old['place_acc']:.2f}")
    if "--errors" in sys.argv:
        print(errors(preds, sys.argv[sys.argv.index("--errors") + 1]))
