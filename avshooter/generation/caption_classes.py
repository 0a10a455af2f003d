"""Sounds a caption names in the ontology's own words: "the kettle whistles", "frogs croak", "he snores".

What this module owns: spotting AudioSet classes by name in caption clauses (issue 17), beside the phrase
matching of :mod:`.caption_reader`, which hears one sound per clause from how captions describe sounds.

1. **Names**: every class of the effects or ambience layer that is one sound (not abstract, not a family of
   more than :data:`MAX_DESCENDANTS` classes such as "Vehicle" or "Door", not a recording's channel or
   place, no sound equipment or sourceless tone) is known by its comma-separated names ("Crowing,
   cock-a-doodle-doo" -> "crowing" and "cock-a-doodle-doo"), each reduced to word stems (:func:`stem`:
   "snores", "snoring" -> "snor"; "rainy" -> "rain"). A clause word matches a name word when their stems
   agree, or when the shorter stem (five letters or more) and the longer one share all but the shorter's
   last letter and the longer's last three ("laugh" / "laughter", "applaud" / "applause"; not "cheerful" /
   "cheer"). A clause names a class when it holds every word of one of its names in order.
2. **Check by meaning**: a named word is not always a sound ("a bus stop", "water runs" vs "running").
   The clause (or its part around the word, :func:`_window`) is embedded with MiniLM and compared with the
   class's words and first description sentence; the class counts when that cosine reaches ``floor``
   (:data:`FLOOR`, chosen on the dev sets only, see tests/sound_set.py).
3. **One class per span**: where several classes name the same words ("bell": "Bell", "Church bell"), the
   longer name wins, then the higher cosine.

Nothing here is fitted to caption words: the names are the ontology's, the floor is one number.

Before any matching, :func:`drop_looks` takes out of a clause the words it shares with a character's
appearance ("a girl in a sailor uniform walks" -> "walks"): what a character looks like is seen, not heard,
and it drowns the sounding verb in the embedding.
"""
from __future__ import annotations

import functools
import os
import re
from typing import NamedTuple

__all__ = ["FLOOR", "MAX_DESCENDANTS", "ClassHit", "class_names", "class_words", "drop_looks", "sound_quality",
           "spot_classes", "stem"]

FLOOR = 0.35
"""Minimum MiniLM cosine of a clause and a class it names (its words and description)."""
MAX_DESCENDANTS = 5
"""Classes with more descendants are families ("Vehicle", "Door", "Water"), not one sound (dev sets: 4, 5
or 7; "Laughter" has 5)."""
WINDOW = 5
"""Words either side of a named word that the meaning check reads (the part of the clause about it)."""
_SKIP_WORDS = {"etc"}
_DERIVED = ("ful", "ly", "less", "ous", "ish")
"""Endings that make another word of a stem ("cheerful" is not a cheer)."""
_WORD = re.compile(r"[a-z]+(?:-[a-z]+)*")


def stem(word: str) -> str:
    """A crude English stem: plural, -ing, -ed and final -e dropped, a doubled final consonant undone,
    -y after four letters dropped ("rainy" -> "rain"; "busy" stays)."""
    w = word.lower().strip("'")
    if w.endswith("'s"):
        w = w[:-2]
    for suffix, repl in (("ies", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", "")):
        if w.endswith(suffix) and len(w) - len(suffix) >= 3 and not w.endswith("ss"):
            w = w[: len(w) - len(suffix)] + repl
            break
    if w.endswith("y") and len(w) >= 5:
        w = w[:-1]
    if w.endswith("e") and len(w) >= 4:
        w = w[:-1]
    if len(w) >= 4 and w[-1] == w[-2] and w[-1] not in "aeiouls":
        w = w[:-1]
    return w


def _same_stem(a: str, b: str) -> bool:
    if a == b:
        return True
    if a[:1] != b[:1]:  # no common prefix: the common case of the scan, decided without commonprefix
        return False
    short, long_ = sorted((a, b), key=len)
    common = len(os.path.commonprefix([a, b]))
    return (common >= 5 and len(short) - common <= 1 and len(long_) - common <= 3
            and not long_.endswith(_DERIVED))


@functools.lru_cache(maxsize=1)
def class_names() -> tuple[tuple[str, tuple[str, ...], str], ...]:
    """``(class, name stems, text)`` per name of every spottable class; ``text`` is what the meaning check
    compares with (the class's words and its description's first sentence)."""
    from ..vocabulary import classes, descendants, layer_of, words

    skip = {n for top in ("Channel, environment and background", "Other sourceless", "Sound equipment")
            for n in descendants(top)}
    out = []
    for c in classes():
        if c.abstract or c.name in skip or len(descendants(c.name)) > MAX_DESCENDANTS:
            continue
        if layer_of(c.name) not in ("effects", "ambience"):
            continue
        text = f"{'; '.join(words(c.name))}: {c.description.split('. ')[0].rstrip('.')}"
        for name in words(c.name):
            name = re.sub(r"\s*\([^)]*\)?", "", name).lower()
            stems = tuple(stem(w) for w in _WORD.findall(name) if w not in _SKIP_WORDS)
            if stems:
                out.append((c.name, stems, text))
    return tuple(out)


class ClassHit(NamedTuple):
    """A class a clause names."""

    name: str
    score: float
    """MiniLM cosine of the clause part and the class's words and description."""
    text: str
    """The clause part around the named words."""


def _window(tokens: list[str], start: int, end: int) -> str:
    return " ".join(tokens[max(0, start - WINDOW): end + WINDOW])


def spot_classes(clauses: list[str], *, floor: float = FLOOR, device: str = "cpu",
                 examples: dict[str, list[str]] | None = None) -> list[list[ClassHit]]:
    """Per clause, the classes it names that pass the meaning check, in the order they are said.

    ``examples``: more texts per class the check compares with (how captions say that class: "a
    character runs quickly" for "Run"); the best cosine counts."""
    from ..embedding import embed_texts
    from ..vocabulary import parents

    names = class_names()
    found: list[list[tuple[int, int, str, str, str]]] = []  # per clause: (start, end, class, part, class text)
    for clause in clauses:
        tokens = _WORD.findall(clause.lower())
        stems = [stem(t) for t in tokens]
        hits = []
        for name, name_stems, text in names:
            n = len(name_stems)
            for i in range(len(stems) - n + 1):
                if all(_same_stem(stems[i + j], name_stems[j]) for j in range(n)):
                    hits.append((i, i + n, name, _window(tokens, i, i + n), text))
                    break
        found.append(hits)
    examples = examples or {}
    parts = sorted({h[3] for hits in found for h in hits})
    texts = sorted({t for hits in found for h in hits for t in [h[4]] + list(examples.get(h[2], ()))})
    if not parts:
        return [[] for _ in clauses]
    sims = embed_texts(parts, device=device) @ embed_texts(texts, device=device).T
    row, col = {p: k for k, p in enumerate(parts)}, {t: k for k, t in enumerate(texts)}
    out = []
    for hits in found:
        scored = [(start, end, name, max(float(sims[row[part], col[t]]) for t in [text] + list(examples.get(name, ()))),
                   part) for start, end, name, part, text in hits]
        scored = [h for h in scored if h[3] >= floor]
        # one class per span of words: the longer name, then the closer meaning
        scored.sort(key=lambda h: (-(h[1] - h[0]), -h[3]))
        kept: list[tuple[int, int, str, float, str]] = []
        for h in scored:
            if not any(h[0] < k[1] and k[0] < h[1] for k in kept) and h[2] not in {k[2] for k in kept}:
                kept.append(h)
        # "an owl hoots": the owl's hoot, once (a class and its own child: the child)
        kept = [h for h in kept if not any(h[2] in parents(k[2]) for k in kept)]
        kept.sort(key=lambda h: h[0])
        out.append([ClassHit(name, score, part) for _, _, name, score, part in kept])
    return out


def class_words(name: str) -> str | None:
    """Words for class ``name`` that the prompt reader maps back onto it (no comma, "and" or bracket), else
    those of its nearest parent that has some ("Howl (wind)" -> "wind"); None when none has."""
    from ..vocabulary import PHRASES, by_name, descendants, find, parents, words

    for text in [PHRASES.get(name)] + [re.sub(r"\s*\([^)]*\)?", "", w).strip() for w in words(name)]:
        if text and not re.search(r"[,()]|\band\b", text) and find(text) == name:
            return text
    for parent in parents(name):
        if not by_name(parent).abstract and len(descendants(parent)) <= MAX_DESCENDANTS:
            found = class_words(parent)
            if found:
                return found
    return None


def sound_quality(name: str) -> bool:
    """True for a class that says how something sounds, not what sounds: every parent lies in the
    ontology's "Source-ambiguous sounds" branch ("Rumble", "Screech"; not "Crack", also under "Wood")."""
    from ..vocabulary import parents

    ambiguous = _ambiguous()
    ups = parents(name)
    return bool(ups) and all(p in ambiguous for p in ups)


@functools.lru_cache(maxsize=1)
def _ambiguous() -> frozenset[str]:
    from ..vocabulary import descendants

    return frozenset(descendants("Source-ambiguous sounds")) | {"Source-ambiguous sounds"}


_FUNCTION_WORDS = {"the", "and", "with", "his", "her", "their", "its", "from", "into", "onto", "over", "under", "for",
                   "who", "that", "this", "has", "have", "are", "was", "one", "two"}


def drop_looks(text: str, appearances: list[str]) -> str:
    """``text`` without the runs of two or more words it shares with a character's appearance ("a girl in
    a sailor uniform walks" -> "walks" for "A girl with short black hair in a sailor uniform."): what a
    character looks like is seen, not heard."""
    words = text.split()
    low = [re.sub(r"\W", "", w.lower()) for w in words]
    drop = [False] * len(words)
    for look in appearances:
        seen = [re.sub(r"\W", "", w.lower()) for w in (look or "").split()]
        for i in range(len(low)):
            for j in range(len(seen)):
                n = 0
                while i + n < len(low) and j + n < len(seen) and low[i + n] and low[i + n] == seen[j + n]:
                    n += 1
                if n >= 2 and any(len(w) >= 3 and w not in _FUNCTION_WORDS for w in low[i: i + n]):
                    drop[i: i + n] = [True] * n
    if not any(drop):
        return text
    kept = [w if not d else ("," if w.endswith(",") else "") for w, d in zip(words, drop)]
    return re.sub(r"\s+", " ", " ".join(k for k in kept if k)).strip(" ,")
