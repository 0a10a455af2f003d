"""The sound events of a prompt: what ``prompts.json`` shows under each layer prompt (issue 17).

What this module owns: turning a layer prompt ("a sword clash, footsteps on a wooden floor") into the list
of sound events it names, and checking the events of an edited ``prompts.json``. One event::

    {"words": "a sword clash", "class": "Clang", "layer": "effects", "placement": "visual event"}

- ``class``: the AudioSet class the words name (read the way the retrieval backend reads a prompt:
  :func:`avshooter.backends.text_to_audio.event_match.prompt_classes`);
- ``layer``: ``effects`` or ``ambience`` (the class's layer, :func:`avshooter.vocabulary.layer_of`; a scene
  ambience prompt's sounds are all ambience);
- ``placement``: ``visual event`` (an effect, synced to what happens on screen), ``whole shot`` (a steady
  sound named in a shot's effects prompt: rain, a crowd) or ``whole scene`` (the scene's ambience bed).

The prompt text is what generates (every backend reads text); the events are how the package reads it.
Edit the text: on reading, events that no longer match their text are read again from it (logged); an
event with an unknown class, layer or placement is an error.
"""
from __future__ import annotations

import logging

from ..errors import InputError

__all__ = ["PLACEMENTS", "check_events", "sound_events"]

log = logging.getLogger(__name__)

PLACEMENTS = ("visual event", "whole shot", "whole scene")
_KEYS = {"words", "class", "layer", "placement"}


def sound_events(text: str | None, *, scene: bool = False, device: str = "cpu") -> list[dict]:
    """The sound events ``text`` names (``scene``: it is a scene's ambience prompt)."""
    if not text or not text.strip():
        return []
    from ..backends.text_to_audio.event_match import prompt_classes
    from ..vocabulary import layer_of

    out = []
    for sound in prompt_classes(text, device=device):
        if not sound["class"]:
            continue
        layer = "ambience" if scene or layer_of(sound["class"]) == "ambience" else "effects"
        placement = "whole scene" if scene else ("whole shot" if layer == "ambience" else "visual event")
        out.append({"words": sound["words"], "class": sound["class"], "layer": layer, "placement": placement})
    return out


def check_events(events, text: str | None, *, scene: bool = False, where: str) -> list[dict]:
    """The events of an edited file, checked; read again from ``text`` when they no longer match it."""
    from ..vocabulary import by_name

    if not isinstance(events, list):
        raise InputError(f"{where}: must be a list of sound events")
    for k, event in enumerate(events):
        at = f"{where}[{k}]"
        if not isinstance(event, dict) or set(event) != _KEYS:
            raise InputError(f"{at}: must be an object with exactly the keys {sorted(_KEYS)}")
        if not isinstance(event["class"], str) or by_name(event["class"]) is None:
            raise InputError(f"{at}.class: {event['class']!r} is not an AudioSet class (see "
                             "avshooter/data/audioset_ontology.jsonl)")
        if event["layer"] not in ("effects", "ambience"):
            raise InputError(f"{at}.layer: {event['layer']!r} is not allowed (effects or ambience)")
        if event["placement"] not in PLACEMENTS:
            raise InputError(f"{at}.placement: {event['placement']!r} is not allowed (one of {', '.join(PLACEMENTS)})")
    derived = sound_events(text, scene=scene)
    if [dict(e) for e in events] != derived:
        log.warning("%s: the events do not match the edited prompt text: read again from it", where)
    return derived
