"""The AudioSet ontology: the package's one sound vocabulary (classes, descriptions, the class tree).

What this module owns: reading ``avshooter/data/audioset_ontology.jsonl`` (632 classes derived from
https://github.com/audioset/ontology, CC BY-SA 4.0; 521 of them are YAMNet's, with their YAMNet index) and
the questions asked of the tree: a class by name or id, its parents, children, siblings and descendants,
and the words a class is said with. The tagger, the describer, the prompt writer and retrieval all speak
these class names, so a caption's "thunder" and a bank's timed "Thunder" label meet by class.

Leaf module: imports nothing from the rest of the package but :mod:`avshooter.errors`.
"""
from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from importlib import resources

__all__ = ["AudioClass", "by_id", "by_name", "children", "classes", "descendants", "parents",
           "related", "siblings", "words", "yamnet_names"]

_WHERE = "avshooter/data/audioset_ontology.jsonl"


@dataclass(frozen=True)
class AudioClass:
    """One class of the ontology."""

    id: str
    name: str
    description: str
    children: tuple[str, ...]
    yamnet: int | None
    """YAMNet's output index of this class, None for the 111 classes YAMNet does not output."""
    abstract: bool = False
    """The ontology marks the class abstract: a grouping ("Onomatopoeia", "Human group actions"), not a sound."""


@functools.lru_cache(maxsize=1)
def _load() -> tuple[tuple[AudioClass, ...], dict[str, AudioClass], dict[str, AudioClass], dict[str, tuple[str, ...]]]:
    from ..errors import BackendError

    text = resources.files("avshooter").joinpath("data/audioset_ontology.jsonl").read_text(encoding="utf-8")
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        try:
            row = json.loads(line)
            out.append(AudioClass(row["id"], row["name"], row["description"], tuple(row["children"]), row["yamnet"],
                                  bool(row.get("abstract", False))))
        except (ValueError, KeyError, TypeError) as exc:
            raise BackendError(f"{_WHERE} line {number}: not an ontology class ({exc})") from None
    ids = {c.id: c for c in out}
    names = {c.name.lower(): c for c in out}
    up: dict[str, list[str]] = {}
    for c in out:
        for child in c.children:
            up.setdefault(child, []).append(c.id)
    return tuple(out), ids, names, {k: tuple(v) for k, v in up.items()}


def classes() -> tuple[AudioClass, ...]:
    """Every class, in the ontology file's order."""
    return _load()[0]


def by_id(class_id: str) -> AudioClass:
    """The class with AudioSet id ``class_id`` ("/m/0ngt1"); KeyError when unknown."""
    return _load()[1][class_id]


def by_name(name: str) -> AudioClass | None:
    """The class named ``name`` (case-insensitive, exactly as AudioSet spells it), else None."""
    return _load()[2].get(str(name).strip().lower())


def _need(name: str) -> AudioClass:
    found = by_name(name)
    if found is None:
        raise KeyError(f"{name!r} is not an AudioSet class")
    return found


def parents(name: str) -> list[str]:
    """Names of the classes ``name`` is a child of (a class may have several; the top classes have none)."""
    return [by_id(p).name for p in _load()[3].get(_need(name).id, ())]


def children(name: str) -> list[str]:
    """Names of the direct children of ``name``."""
    return [by_id(c).name for c in _need(name).children if c in _load()[1]]


def siblings(name: str) -> list[str]:
    """Names of the other children of ``name``'s parents that are sounds (not abstract groupings such as
    "Onomatopoeia", whose children share a word form, not a source), in order, without ``name``."""
    own = _need(name).name
    out = [c for p in parents(own) if not by_name(p).abstract for c in children(p) if c != own]
    return list(dict.fromkeys(out))


def descendants(name: str) -> list[str]:
    """Names of every class below ``name`` (depth first, each once)."""
    out: list[str] = []
    stack = list(reversed(children(name)))
    while stack:
        c = stack.pop()
        if c not in out:
            out.append(c)
            stack.extend(reversed(children(c)))
    return out


def related(name: str) -> list[tuple[str, str]]:
    """Classes to try for ``name`` in order, each with how it relates: ``[(class, "exact" | "child" |
    "parent" | "sibling")]``. Children are as good as the class (a "Rain on surface" is rain); the parent
    and the siblings are the ontology's next best (a "Motor vehicle (road)" for a "Car"). Top classes
    ("Sounds of things") and the classes the ontology marks abstract ("Onomatopoeia") are groupings, not
    sounds: they are not offered as parents, and children of an abstract class are not siblings."""
    own = _need(name).name
    out = [(own, "exact")] + [(c, "child") for c in descendants(own)]
    for p in parents(own):
        if parents(p) and not by_name(p).abstract:
            out.append((p, "parent"))
    out += [(s, "sibling") for s in siblings(own)]
    seen: dict[str, str] = {}
    for c, how in out:
        seen.setdefault(c, how)
    return list(seen.items())


def words(name: str) -> list[str]:
    """The words a class is said with: its comma-separated names, lower case ("Walk, footsteps" ->
    ["walk", "footsteps"]); acronyms keep their case."""
    out = []
    for part in _need(name).name.split(","):
        part = part.strip()
        if part:
            out.append(part if part[:2].isupper() else part[:1].lower() + part[1:])
    return out


@functools.lru_cache(maxsize=1)
def yamnet_names() -> tuple[str, ...]:
    """YAMNet's 521 class names in its output order."""
    tagged = sorted((c.yamnet, c.name) for c in classes() if c.yamnet is not None)
    return tuple(name for _, name in tagged)
