"""Matching the sounds a prompt names to the events of a bank, by AudioSet class.

What this module owns:

1. :func:`prompt_classes`: a layer prompt ("thunder, heavy rain; background ambience of a street") ->
   the sounds it names, each with its AudioSet class. The part before the first ";" is a list of sounds
   (the prompt writer writes them so, and a user editing ``prompts.json`` keeps it); each item is looked up
   exactly in the vocabulary (:func:`avshooter.vocabulary.find`: class names, their comma-separated
   names, the phrases and the package's sound words), then with its trailing words dropped one at a time
   down to two words ("footsteps on a wooden floor" -> "footsteps on a" ...), then by MiniLM similarity
   to the class names and phrases when it reaches :data:`MIN_CLASS_SIMILARITY` (items of two words or more:
   one word the vocabulary does not know is an adjective, "loud"), then by its first word. Bracketed
   parts and a "Label:" head are dropped first; a head that is the writer's place ("background ambience
   of a classroom", :data:`PLACE_HEAD`) names no sound.
   Items of more than :data:`MAX_ITEM_WORDS` words, or with digits or brackets, are descriptions, not
   sound names (an annotation's "Sound effects (0.5-2.4 s, loud): ..."): they name no class. Classes that
   describe a recording rather than a source ("Sound effect", "Echo") are never named.
2. :func:`candidates`: the bank events for one class, best first: the class itself or one of its
   descendants, then the ontology's parent, then its siblings (:func:`avshooter.vocabulary.related`), then
   the bank class whose name is most similar by MiniLM (at least :data:`MIN_CLASS_SIMILARITY`). Within a
   relation, events heard in the layer's own stem come before the mix and the other stems, then higher
   tagger score, then longer spans. :func:`own_stem_row`: an event labelled on the mix is cut from the
   shot's own stem of the layer when that stem was labelled (with any class) over the same span: the
   separator put the sound there, without the dialogue and music the mix carries.

Why :data:`MIN_CLASS_SIMILARITY` = 0.44: the MiniLM cosine of two class names depends on the words, so
its null distribution is measured: YAMNet class names (said as :data:`avshooter.vocabulary.PHRASES` where
it has them) against the names under a DIFFERENT top-level branch of the ontology (human sounds vs. animals
vs. music vs. things vs. nature ...; 211,816 pairs): median 0.19, 95th percentile 0.35, 99th percentile
0.44 (``python benchmarks/bench_sound_events.py --class-null``). A name no closer than one unrelated pair in a
hundred is no evidence of the same sound.
"""
from __future__ import annotations

import re

import numpy as np

__all__ = ["ACOUSTIC_ENVIRONMENTS", "MAX_ITEM_WORDS", "MIN_CLASS_SIMILARITY", "PLACE_HEAD", "candidates",
           "class_null_scores", "own_stem_row", "place_class", "prompt_classes"]

MIN_CLASS_SIMILARITY = 0.44
PLACE_HEAD = "background ambience of"
"""How the prompt writer says a scene's place (after its sounds and a ";"): a place, not a sound."""
MAX_ITEM_WORDS = 6
ACOUSTIC_ENVIRONMENTS = ("Inside, small room", "Inside, large room or hall", "Inside, public space",
                         "Outside, urban or manmade", "Outside, rural or natural")
"""The ontology's "Acoustic environment" classes (YAMNet tags them): where a recording was made."""

_STEM_RANK = {"effects": {"effects": 0, "mix": 1, "music": 2}, "ambience": {"effects": 0, "mix": 1, "music": 2},
              "music": {"music": 0, "mix": 1}}
_RELATION_RANK = {"exact": 0, "child": 0, "parent": 1, "sibling": 2, "similar": 3}
_DESCRIPTION = re.compile(r"[0-9():]")
_BRACKETS = re.compile(r"\([^()]*\)")
_LAYERS_OF = {"effects": ("effects", "ambience"), "ambience": ("ambience", "effects"), "music": ("music",)}


def _similar_classes(texts: list[str], names: list[str], device: str) -> np.ndarray:
    from ...embedding import embed_texts

    if not texts or not names:
        return np.zeros((len(texts), len(names)), np.float32)
    return embed_texts(list(texts), device=device) @ embed_texts(list(names), device=device).T


def _class_words(name: str) -> str:
    from ...vocabulary import PHRASES

    return PHRASES.get(name) or name


def prompt_classes(prompt: str, *, device: str = "cpu") -> list[dict]:
    """The sounds ``prompt`` names: ``[{"words", "class" (or None), "how": "exact" | "similar" | None}]``."""
    from ...vocabulary import by_name, find, layer_of, yamnet_names

    head = (prompt or "").split(";")[0]
    while _BRACKETS.search(head):  # "(0.5-2.4 s, loud (-17 LUFS))": measurements, not sounds
        head = _BRACKETS.sub("", head)
    head = head.split(":")[-1]  # "Sound effects: an explosion and thunder"
    if head.strip().lower().startswith(PLACE_HEAD):  # the prompt writer's scene without a named sound
        head = ""
    items = [re.sub(r"\s+", " ", p).strip(" .") for p in re.split(r",|\band\b", head)]
    items = [p for p in items if p]
    out, unresolved = [], []
    for item in items:
        words = item.split(" ")
        found = None
        named = len(words) <= MAX_ITEM_WORDS and not _DESCRIPTION.search(item)
        if named:
            for k in range(len(words), min(2, len(words)) - 1, -1):
                found = _source_class(find(" ".join(words[:k])))
                if found:
                    break
        out.append({"words": item, "class": found, "how": "exact" if found else None})
        if found is None and named and len(words) >= 2:  # one word the vocabulary does not know: an adjective
            unresolved.append(len(out) - 1)
    if unresolved:
        names = [n for n in yamnet_names() if layer_of(n) is not None]
        texts = [out[k]["words"] for k in unresolved]
        sims = np.maximum(_similar_classes(texts, names, device),
                          _similar_classes(texts, [_class_words(n) for n in names], device))
        for k, row in zip(unresolved, sims):
            j = int(np.argmax(row))
            if float(row[j]) >= MIN_CLASS_SIMILARITY:
                out[k].update({"class": by_name(names[j]).name, "how": "similar", "similarity": round(float(row[j]), 3)})
            else:
                first = _source_class(find(out[k]["words"].split(" ")[0]))
                if first:
                    out[k].update({"class": first, "how": "exact"})
    return out


def place_class(prompt: str, *, device: str = "cpu") -> dict | None:
    """The acoustic environment of the place a prompt says after :data:`PLACE_HEAD` (the prompt writer's
    scene), or None without one: ``{"words", "class", "how": "place", "similarity"}``.

    A place that names no sound still has an acoustic environment ("a green lawn under a pale blue sky":
    outdoors, rural or natural), and a bank that holds a recording tagged with it holds that place's bed.
    The class is the one of :data:`ACOUSTIC_ENVIRONMENTS` whose name is most similar to the place by
    MiniLM: every place is one of them, so the nearest is taken, no threshold. (On 16 places written to
    check it, e.g. "a beach by the sea", "a gymnasium", "a parking lot": names alone 13 right, names with
    the ontology's descriptions 10, descriptions alone 8.)
    """
    low = (prompt or "").lower()
    at = low.find(PLACE_HEAD)
    place = prompt[at + len(PLACE_HEAD):].strip(" .;") if at >= 0 else ""
    if not place:
        return None
    sims = _similar_classes([place], list(ACOUSTIC_ENVIRONMENTS), device)[0]
    j = int(np.argmax(sims))
    return {"words": ACOUSTIC_ENVIRONMENTS[j].lower(), "class": ACOUSTIC_ENVIRONMENTS[j], "how": "place",
            "similarity": round(float(sims[j]), 3)}


def _source_class(name: str | None) -> str | None:
    from ...vocabulary import layer_of

    return name if name is not None and layer_of(name) is not None else None


def candidates(index, name: str, layer: str, *, device: str = "cpu") -> list[tuple[int, str]]:
    """Rows of ``index`` that can sound as class ``name`` in ``layer``, best first: ``[(row, relation)]``."""
    from ...vocabulary import related

    cols = index.columns
    ranks = _STEM_RANK[layer]
    usable = np.isin(cols["layer"], _LAYERS_OF[layer]) & np.isin(cols["stem"], list(ranks))
    if not usable.any():
        return []
    relation = dict(related(name))
    rows = [k for k in np.flatnonzero(usable) if str(cols["class"][k]) in relation]
    how = {k: relation[str(cols["class"][k])] for k in rows}
    if not rows:
        present = sorted({str(c) for c in cols["class"][usable]})
        sims = _similar_classes([_class_words(name)], [_class_words(c) for c in present], device)[0]
        close = {c for c, s in zip(present, sims) if float(s) >= MIN_CLASS_SIMILARITY}
        if close:
            best = max(close, key=lambda c: float(sims[present.index(c)]))
            rows = [k for k in np.flatnonzero(usable) if str(cols["class"][k]) == best]
            how = {k: "similar" for k in rows}

    def key(k):
        return (_RELATION_RANK[how[k]], ranks[str(cols["stem"][k])], -float(cols["score"][k]),
                -(float(cols["end_s"][k]) - float(cols["start_s"][k])), int(k))

    return [(int(k), how[k]) for k in sorted(rows, key=key)]


def own_stem_row(index, k: int, layer: str) -> int | None:
    """A row of the same shot, in ``layer``'s own stem, whose span overlaps row ``k`` (an event labelled
    on the mix), else None."""
    cols = index.columns
    if str(cols["stem"][k]) != "mix":
        return None
    own = "music" if layer == "music" else "effects"
    a, b = float(cols["start_s"][k]), float(cols["end_s"][k])
    rows = np.flatnonzero((cols["shot"] == cols["shot"][k]) & (cols["stem"] == own)
                          & (cols["start_s"] < b) & (cols["end_s"] > a))
    return int(rows[0]) if rows.size else None


def class_null_scores(device: str = "cpu") -> np.ndarray:
    """MiniLM cosines of YAMNet class names against those under another top-level branch (the null)."""
    from ...vocabulary import by_id, classes, descendants, yamnet_names

    tops = [c for c in classes() if not any(c.id in p.children for p in classes())]
    branch = {}
    for top in tops:
        for n in [top.name] + descendants(top.name):
            branch.setdefault(n, top.name)
    names = [n for n in yamnet_names() if n in branch]
    sims = _similar_classes([_class_words(n) for n in names], [_class_words(n) for n in names], device)
    tops_of = np.array([branch[n] for n in names])
    other = tops_of[:, None] != tops_of[None, :]
    del by_id
    return sims[other]
