"""Which layer of a soundtrack each AudioSet class belongs to, and the types a sound may have.

What this module owns (moved here from ``annotation/labels.py`` and ``annotation/describe.py`` so that the
tagger, the captioners, the describer, the prompt writer and retrieval share one mapping):

- :data:`TYPES`: the audio annotation's "type" words (speech, music, effects, ambience, silence);
- :func:`class_layer` / :func:`class_layers`: YAMNet index -> layer. Layers follow the AudioSet ontology
  (the order of YAMNet's class map is the ontology's):

  - speech: "Speech" and its children, shouting, yelling, screaming, whispering (indices 0-12);
  - music: "Music" and its whole subtree (132-276, instruments and genres) and sung voice (24-32), except
    bells and chimes (195-198, 200-202), which in a soundtrack are effects;
  - ambience: sustained natural sounds (wind, rustling leaves, rain, water, stream, waterfall, ocean,
    waves, fire), crowds and chatter (63-66), insects, traffic noise, fans and air conditioning, hum, and
    the "Channel, environment and background" classes that name a place or a noise floor (500-504,
    507-510, 513-515, 520);
  - silence: "Silence" (494);
  - effects: everything else (human non-speech sounds, animals, things, source-ambiguous sounds);
  - none: classes that describe the recording rather than a source (reverberation, echo, distortion,
    sidetone, television, radio, sine wave, harmonic, chirp tone, "Sound effect", pulse): they never
    vote for a layer.

- :func:`layer_of`: the same by class name, for any of the 632 classes (a class YAMNet does not output
  takes the layer of its nearest tagged ancestor);
- :data:`EVENT_LABELS`: the labels that name one short event (a bang, a knock); the describer does not say
  them of a sound whose measured pattern has no impulsive energy.
"""
from __future__ import annotations

import functools

__all__ = ["LAYERS", "TYPES", "EVENT_LABELS", "IMPULSIVE_SHARE", "LAYER_STEM", "class_layer", "class_layers", "layer_of"]

TYPES = ("speech", "music", "effects", "ambience", "silence")
"""The words of an audio annotation's "type" (one of them dominates a shot)."""

LAYERS = TYPES
"""Layers a class can belong to (the types)."""

_SPEECH = set(range(13))
_MUSIC = (set(range(24, 33)) | set(range(132, 277))) - {195, 196, 197, 198, 200, 201, 202}
_AMBIENCE = {63, 64, 65, 66, 121, 122, 277, 278, 279, 280, 282, 283, 285, 286, 287, 288, 289, 292, 321,
             406, 407, 490, 500, 501, 502, 503, 504, 507, 508, 509, 510, 513, 514, 515, 520}
_NONE = {133, 495, 496, 497, 498, 499, 505, 506, 511, 512, 518, 519}
_SILENCE = {494}

# Labels that name one short event (AudioSet: slam, knock, tap; the "Explosion" subtree: explosion,
# gunshot, machine gun, fusillade, artillery fire, cap gun, fireworks, firecracker, burst, eruption, boom;
# chop, splinter, crack, chink, shatter; thump, thunk; basketball bounce, bang, slap, whack, smash,
# breaking, bouncing, whip). A sound measured with no impulsive energy is not described with them.
# The separated stem that holds each layer (the offline and Demucs separations give dialogue / music /
# effects: ambience beds go with the effects).
LAYER_STEM = {"speech": "dialogue", "music": "music", "effects": "effects", "ambience": "effects"}

IMPULSIVE_SHARE = 0.2
"""``Features.impulsiveness`` above which a sound has impulsive energy: below it, labels that name one short
event (:data:`EVENT_LABELS`) are not evidence of the effects layer, nor words about it, nor a bank's events."""

EVENT_LABELS = frozenset({
    "Slam", "Knock", "Tap", "Explosion", "Gunshot, gunfire", "Machine gun", "Fusillade", "Artillery fire",
    "Cap gun", "Fireworks", "Firecracker", "Burst, pop", "Eruption", "Boom", "Chop", "Splinter", "Crack",
    "Chink, clink", "Shatter", "Thump, thud", "Thunk", "Basketball bounce", "Bang", "Slap, smack",
    "Whack, thwack", "Smash, crash", "Breaking", "Bouncing", "Whip",
})



def class_layer(index: int) -> str | None:
    """Layer of YAMNet class ``index`` (0-520): one of :data:`LAYERS`, or None for recording-describing classes."""
    if index in _NONE:
        return None
    if index in _SILENCE:
        return "silence"
    if index in _SPEECH:
        return "speech"
    if index in _MUSIC:
        return "music"
    if index in _AMBIENCE:
        return "ambience"
    return "effects"


def class_layers(names: list[str]) -> list[str | None]:
    """:func:`class_layer` of every class, checked against YAMNet's names at the boundaries we rely on."""
    expected = {0: "Speech", 12: "Whispering", 24: "Singing", 132: "Music", 276: "Scary music", 277: "Wind",
                494: "Silence", 500: "Inside, small room", 520: "Field recording"}
    for i, name in expected.items():
        if i >= len(names) or names[i] != name:
            raise ValueError(f"class map is not YAMNet's: class {i} is not {name!r}")
    return [class_layer(i) for i in range(len(names))]



@functools.lru_cache(maxsize=None)
def layer_of(name: str) -> str | None:
    """Layer of the AudioSet class ``name`` (see :func:`class_layer`); a class YAMNet does not tag takes
    its nearest tagged ancestor's layer (effects when it has none). KeyError for an unknown name."""
    from .ontology import by_name, parents

    found = by_name(name)
    if found is None:
        raise KeyError(f"{name!r} is not an AudioSet class")
    if found.yamnet is not None:
        return class_layer(found.yamnet)
    for parent in parents(found.name):
        layer = layer_of(parent)
        if layer != "effects":
            return layer
    return "effects"
