"""The prompts of a story as records, and ``prompts.json``: written, read back (checked against the story).

What this module owns: :class:`ShotPrompt` and :class:`Prompts`, their file (:func:`save_prompts`,
:func:`load_prompts`), the dialogue-line check (:func:`check_dialogue`) and the per-shot seed rule
(:func:`shot_seed`). Nothing here reads captions or generates audio.

``prompts.json`` (``FORMAT``)::

    {"format": "avshooter.generation.prompts/1", "writer": "captions:minilm", "seed": 0,
     "ambience": {"room": "a quiet room; background ambience of a pink bedroom ..."},
     "ambience_events": {"room": [{"words": "a quiet room", "class": "Inside, small room", "layer": "ambience",
                                   "placement": "whole scene"}]},
     "ambience_sources": {"room": "scene environment"},
     "shots": [{"shot": 0, "effects": "a ball bouncing, a thud", "music": null, "ambience_scene": "room",
                "events": [{"words": "a ball bouncing", "class": "Bouncing", "layer": "effects",
                            "placement": "visual event"}, ...],
                "dialogue": [{"character": "Hana", "text": "...", "language": "en"}], "seed": 123,
                "source": "captions",
                "sources": {"effects": [{"label": "a thud", "from": "caption clause 3", "text": "...", "score": 0.61}],
                            "music": null, "dialogue": ["caption quote 1"], "ambience": "scene environment"}}]}

``effects`` may be ``""``: nothing in the shot makes a sound effect (a silent effects layer for that shot
is better than a wrong one). ``sources`` says where every item came from; it is informative (a user who
edits a prompt may leave it as it was) and is never used to generate. ``events`` and ``ambience_events``
show the sound events each prompt names, in the AudioSet vocabulary (:mod:`.prompt_events`); they are
checked on reading and read again from an edited text.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..io.output import atomic_write_json
from .prompt_events import check_events, sound_events

__all__ = ["FORMAT", "LANGUAGES", "Prompts", "ShotDraft", "ShotPrompt", "check_dialogue", "load_prompts", "save_prompts",
           "shot_seed"]

FORMAT = "avshooter.generation.prompts/1"
LANGUAGES = ("ja", "en")
_SHOT_KEYS = {"shot", "effects", "ambience_scene", "dialogue", "music", "seed", "source", "sources", "events"}
_TOP_KEYS = {"format", "writer", "seed", "ambience", "ambience_sources", "ambience_events", "shots"}
_LINE_KEYS = {"character", "text", "start_s", "language", "voice"}


def shot_seed(seed: int, index: int) -> int:
    """Seed of shot ``index`` from the story ``seed`` (stable: SHA-256 of both, 31 bits)."""
    digest = hashlib.sha256(f"{int(seed)}:{int(index)}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


@dataclass
class ShotPrompt:
    """Prompts of one shot.

    Attributes
    ----------
    shot : int
        Index of the shot in the story.
    effects : str
        The effects prompt ("" when nothing in the shot makes a sound effect).
    ambience_scene : str or None
        Scene whose ambience bed plays under the shot (None: no ambience).
    dialogue : list of dict
        ``[{"character", "text", "language"?, "start_s"?, "voice"?}]``.
    music : str or None
        The music prompt, or None for no music.
    seed : int
        Seed of the shot's generation (:func:`shot_seed`).
    source : str
        What wrote ``effects``: "captions", "audio annotation", "llm:<model>", "edited", ...
    sources : dict
        Where each item came from: ``{"effects": [match, ...], "music": match or None,
        "dialogue": ["caption quote 1" | "story dialogue", ...], "ambience": str or None, ...}``.
    """

    shot: int
    effects: str
    ambience_scene: str | None = None
    dialogue: list[dict[str, Any]] = field(default_factory=list)
    music: str | None = None
    seed: int = 0
    source: str = ""
    sources: dict[str, Any] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    """The sound events the effects prompt names (:mod:`.prompt_events`: class, words, layer, placement)."""

    def to_dict(self) -> dict[str, Any]:
        return {"shot": self.shot, "effects": self.effects, "events": [dict(e) for e in self.events],
                "ambience_scene": self.ambience_scene,
                "dialogue": [dict(line) for line in self.dialogue], "music": self.music, "seed": self.seed,
                "source": self.source, "sources": json.loads(json.dumps(self.sources))}

    @property
    def effect_labels(self) -> list[str]:
        """The vocabulary labels the effects prompt was built from (empty when it was not built from labels)."""
        return [m["label"] for m in self.sources.get("effects") or [] if isinstance(m, dict) and "label" in m]


@dataclass
class Prompts:
    """All prompts of a story: one :class:`ShotPrompt` per shot and one ambience prompt per scene."""

    shots: list[ShotPrompt]
    ambience: dict[str, str] = field(default_factory=dict)
    seed: int = 0
    writer: str = "captions"
    ambience_sources: dict[str, Any] = field(default_factory=dict)
    ambience_events: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """Per scene, the sound events its ambience prompt names (:mod:`.prompt_events`)."""

    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "writer": self.writer, "seed": self.seed, "ambience": dict(self.ambience),
                "ambience_events": {k: [dict(e) for e in v] for k, v in self.ambience_events.items()},
                "ambience_sources": json.loads(json.dumps(self.ambience_sources)),
                "shots": [s.to_dict() for s in self.shots]}


@dataclass
class ShotDraft:
    """What a writer proposes for one shot (:func:`build_prompts` checks it and adds seed and scene)."""

    effects: str
    source: str
    music: str | None = None
    dialogue: list[dict[str, Any]] = field(default_factory=list)
    sources: dict[str, Any] = field(default_factory=dict)
    ambience_labels: list[str] = field(default_factory=list)
    """Steady background sounds the shot's captions name (wind, rain); they join the scene's ambience."""


def check_dialogue(lines: Any, *, where: str, characters: list[str] | None = None) -> list[dict[str, Any]]:
    """Checked copy of a dialogue list (``shot["avshooter"]["dialogue"]`` form).

    Raises InputError naming ``where`` and the line on a wrong type, an empty text, an unknown key,
    a negative or non-finite ``start_s``, a language other than "ja"/"en", or a character ID that the
    story does not list (when ``characters`` is given and not empty).
    """
    if lines is None:
        return []
    if not isinstance(lines, list):
        raise InputError(f"{where}: dialogue must be a list of lines, got {type(lines).__name__}")
    out = []
    for i, line in enumerate(lines):
        at = f"{where}[{i}]"
        if not isinstance(line, dict):
            raise InputError(f"{at}: a dialogue line must be an object with 'character' and 'text'")
        unknown = sorted(set(line) - _LINE_KEYS)
        if unknown:
            raise InputError(f"{at}: unknown key(s) {unknown} (allowed: {sorted(_LINE_KEYS)})")
        text = line.get("text")
        if not isinstance(text, str) or not text.strip():
            raise InputError(f"{at}.text: empty or missing (a dialogue line needs text)")
        who = line.get("character")
        if not isinstance(who, str) or not who:
            raise InputError(f"{at}.character: missing character ID")
        if characters and who not in characters:
            raise InputError(f"{at}.character: unknown character ID {who!r} (known: {', '.join(characters)})")
        if "start_s" in line:
            s = line["start_s"]
            if isinstance(s, bool) or not isinstance(s, (int, float)) or not math.isfinite(s) or s < 0:
                raise InputError(f"{at}.start_s: {s!r} must be a number of seconds >= 0")
        if "language" in line and line["language"] not in LANGUAGES:
            raise InputError(f"{at}.language: {line['language']!r} is not allowed (use one of {LANGUAGES})")
        if "voice" in line and not isinstance(line["voice"], str):
            raise InputError(f"{at}.voice: must be a string")
        out.append(dict(line))
    return out


def save_prompts(prompts: Prompts, path: str | os.PathLike) -> Path:
    """Write ``prompts`` as UTF-8 JSON (indent 2, non-ASCII kept), atomically; return ``path``."""
    atomic_write_json(path, prompts.to_dict())
    return Path(path)


def load_prompts(path: str | os.PathLike | dict, story) -> Prompts:
    """Read a (possibly edited) ``prompts.json`` and check it against ``story``.

    Raises
    ------
    InputError
        Unreadable file or invalid JSON; unknown keys; shot count or indices that do not match the story;
        an effects prompt that is not a string; an unknown ambience scene; malformed dialogue.
    """
    where = "prompts" if isinstance(path, dict) else os.fspath(path)
    data = path if isinstance(path, dict) else _read(where)
    if not isinstance(data, dict):
        raise InputError(f"{where}: top level must be a JSON object")
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise InputError(f"{where}: unknown key(s) {unknown} (allowed: {sorted(_TOP_KEYS)})")
    if data.get("format", FORMAT) != FORMAT:
        raise InputError(f"{where}: format {data.get('format')!r} is not {FORMAT!r}")
    ambience = data.get("ambience", {})
    if not isinstance(ambience, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in ambience.items()):
        raise InputError(f"{where}: 'ambience' must map scene IDs to prompt strings")
    for sid, text in ambience.items():
        if not text.strip():
            raise InputError(f"{where}: ambience[{sid!r}] is empty (write a prompt or remove the scene)")
    ambience_sources = data.get("ambience_sources", {})
    if not isinstance(ambience_sources, dict):
        raise InputError(f"{where}: 'ambience_sources' must be an object")
    items = data.get("shots")
    n = len(story.shots)
    if not isinstance(items, list) or len(items) != n:
        got = len(items) if isinstance(items, list) else type(items).__name__
        raise InputError(f"{where}: 'shots' must list {n} shots (the story has {n}), got {got}")
    shots = [_shot(item, i, data, ambience, story, f"{where}: shots[{i}]") for i, item in enumerate(items)]
    given = data.get("ambience_events", {})
    if not isinstance(given, dict) or set(given) - set(ambience):
        raise InputError(f"{where}: 'ambience_events' must map scene IDs of 'ambience' to lists of sound events")
    ambience_events = {sid: (check_events(given[sid], text, scene=True, where=f"{where}: ambience_events[{sid!r}]")
                             if sid in given else sound_events(text, scene=True)) for sid, text in ambience.items()}
    return Prompts(shots=shots, ambience={k: v.strip() for k, v in ambience.items()}, seed=int(data.get("seed", 0)),
                   writer=str(data.get("writer", "edited")), ambience_sources=dict(ambience_sources),
                   ambience_events=ambience_events)


def _shot(item: Any, i: int, data: dict, ambience: dict, story, at: str) -> ShotPrompt:
    if not isinstance(item, dict):
        raise InputError(f"{at}: must be an object")
    bad = sorted(set(item) - _SHOT_KEYS)
    if bad:
        raise InputError(f"{at}: unknown key(s) {bad} (allowed: {sorted(_SHOT_KEYS)})")
    if item.get("shot") != i:
        raise InputError(f"{at}.shot: {item.get('shot')!r} does not match its position {i} (shots in story order)")
    if "effects" not in item:
        raise InputError(f'{at}.effects: missing (write "" for a shot without sound effects)')
    effects = item["effects"]
    if effects is None:
        effects = ""
    if not isinstance(effects, str):
        raise InputError(f"{at}.effects: must be a string (\"\" for no sound effects), got {type(effects).__name__}")
    scene = item.get("ambience_scene")
    if scene is not None and (not isinstance(scene, str) or scene not in ambience):
        raise InputError(f"{at}.ambience_scene: {scene!r} has no ambience prompt (known: {sorted(ambience)})")
    music = item.get("music")
    if music is not None and (not isinstance(music, str) or not music.strip()):
        raise InputError(f"{at}.music: must be a non-empty string or null")
    seed = item.get("seed", shot_seed(data.get("seed", 0), i))
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InputError(f"{at}.seed: {seed!r} must be an integer >= 0")
    sources = item.get("sources", {})
    if not isinstance(sources, dict):
        raise InputError(f"{at}.sources: must be an object")
    dialogue = check_dialogue(item.get("dialogue", []), where=f"{at}.dialogue", characters=story.character_ids)
    events = (check_events(item["events"], effects, where=f"{at}.events") if "events" in item
              else sound_events(effects))
    return ShotPrompt(shot=i, effects=effects.strip(), ambience_scene=scene, dialogue=dialogue,
                      music=music.strip() if music else None, seed=seed, source=str(item.get("source", "edited")),
                      sources=dict(sources), events=events)


def _read(path: str) -> Any:
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise InputError(f"{path}: cannot read prompts ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: prompts file is not UTF-8 text") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
