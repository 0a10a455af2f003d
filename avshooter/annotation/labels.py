"""AudioSet labels -> layers (speech / music / effects / ambience / silence) and readable phrases.

This module owns what avshooter makes of a sound label: which layer of a soundtrack it belongs to, the
words used for it in a description, and how per-patch probabilities become timed labels and layer scores.

Layers follow the AudioSet ontology (the order of YAMNet's class map is the ontology's):

- speech: "Speech" and its children, shouting, yelling, screaming, whispering (indices 0-12);
- music: "Music" and its whole subtree (132-276, instruments and genres) and sung voice (24-32), except
  bells and chimes (195-198, 200-202), which in a soundtrack are effects;
- ambience: sustained natural sounds (wind, rustling leaves, rain, water, stream, waterfall, ocean,
  waves, fire), crowds and chatter (63-66), insects, traffic noise, fans and air conditioning, hum, and the
  "Channel, environment and background" classes that name a place or a noise floor (500-504, 507-510,
  513-515, 520);
- silence: "Silence" (494);
- effects: everything else (human non-speech sounds, animals, things, source-ambiguous sounds);
- none: classes that describe the recording rather than a source (reverberation, echo, distortion,
  sidetone, television, radio, sine wave, harmonic, chirp tone, "Sound effect", pulse): they never vote
  for a layer.

Layer evidence: a layer's probability in a 0.96 s patch is the noisy-OR of its classes,
``1 - prod(1 - p_c)``, over its :data:`LAYER_TOP_K` most probable classes in that patch (:func:`layer_evidence`).
A source spreads its probability over several classes of one layer (a wind bed: Wind 0.2, Ocean 0.15,
Outside 0.14, Rustling leaves 0.08; no class reaches 0.5), so the best class alone misses it; the top few
only, because the classes of one layer are correlated (Music, Musical instrument and a genre fire together
on one piece: the noisy-OR of all 140 music classes would saturate on the faint tail of any tonal sound).

Events: :data:`EVENT_LABELS` are the labels that name one short event (a bang, a knock); the describer
does not say them of a sound whose measured pattern has no impulsive energy (a tagger's guess on a steady
noise bed).

Phrases: :data:`PHRASES` names the common labels the way a person would ("a crowd cheering", "typing on a
keyboard"); any other label becomes its first comma-separated name in lower case, as a sound of that
thing (``"Clip-clop"`` -> ``"clip-clop sounds"``), and music labels become the music's style or
instrument (``"Electric guitar"`` -> ``"electric guitar"``).
"""
from __future__ import annotations

import numpy as np

__all__ = ["LAYERS", "EVENT_LABELS", "LAYER_TOP_K", "TYPING_VERSION", "class_layer", "class_layers", "phrase",
           "layer_evidence", "summarise", "spans"]

LAYERS = ("speech", "music", "effects", "ambience", "silence")
LAYER_TOP_K = 3
"""Classes per layer and patch that the noisy-OR combines (see the module docstring)."""
TYPING_VERSION = "2"
"""Version of the typing rules (layer evidence here, layer presence in :mod:`avshooter.annotation.describe`);
the config hash covers it, so a change that types shots differently redoes finished datasets."""

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
EVENT_LABELS = frozenset({
    "Slam", "Knock", "Tap", "Explosion", "Gunshot, gunfire", "Machine gun", "Fusillade", "Artillery fire",
    "Cap gun", "Fireworks", "Firecracker", "Burst, pop", "Eruption", "Boom", "Chop", "Splinter", "Crack",
    "Chink, clink", "Shatter", "Thump, thud", "Thunk", "Basketball bounce", "Bang", "Slap, smack",
    "Whack, thwack", "Smash, crash", "Breaking", "Bouncing", "Whip",
})

PHRASES = {
    "Speech": "speech", "Child speech, kid speaking": "a child speaking", "Conversation": "people talking",
    "Narration, monologue": "a narrator", "Babbling": "babbling", "Speech synthesizer": "a synthetic voice",
    "Shout": "someone shouting", "Bellow": "someone bellowing", "Yell": "someone yelling",
    "Children shouting": "children shouting", "Screaming": "someone screaming",
    "Whispering": "someone whispering", "Laughter": "laughter", "Giggle": "giggling",
    "Crying, sobbing": "someone crying", "Baby cry, infant cry": "a baby crying", "Sigh": "a sigh",
    "Singing": "singing", "Choir": "a choir", "Humming": "humming", "Whistling": "whistling",
    "Breathing": "breathing", "Gasp": "a gasp", "Cough": "coughing", "Sneeze": "a sneeze",
    "Run": "running footsteps", "Walk, footsteps": "footsteps", "Clapping": "clapping",
    "Finger snapping": "finger snapping", "Heart sounds, heartbeat": "a heartbeat",
    "Cheering": "a crowd cheering", "Applause": "applause", "Chatter": "chatter", "Crowd": "a crowd",
    "Hubbub, speech noise, speech babble": "a murmuring crowd", "Children playing": "children playing",
    "Animal": "an animal", "Dog": "a dog", "Bark": "a dog barking", "Howl": "howling", "Growling": "growling",
    "Cat": "a cat", "Purr": "a cat purring", "Meow": "a cat meowing", "Horse": "a horse",
    "Clip-clop": "hooves clip-clopping", "Neigh, whinny": "a horse neighing", "Moo": "a cow mooing",
    "Chicken, rooster": "a chicken", "Crowing, cock-a-doodle-doo": "a rooster crowing", "Duck": "a duck",
    "Quack": "a duck quacking", "Roar": "a roar", "Bird": "a bird",
    "Bird vocalization, bird call, bird song": "a bird chirping", "Chirp, tweet": "a bird chirping",
    "Pigeon, dove": "a dove cooing", "Crow": "a crow", "Caw": "a crow cawing", "Owl": "an owl",
    "Bird flight, flapping wings": "wings flapping", "Insect": "insects", "Cricket": "crickets chirping",
    "Fly, housefly": "a buzzing fly", "Bee, wasp, etc.": "a buzzing bee", "Frog": "frogs croaking",
    "Music": "music", "Musical instrument": "an instrument", "Orchestra": "an orchestra",
    "Pop music": "pop music", "Classical music": "classical music", "Jazz": "jazz",
    "Electronic music": "electronic music", "Rock music": "rock music", "Soundtrack music": "a film score",
    "Background music": "background music", "Theme music": "theme music", "Video game music": "video game music",
    "Ambient music": "ambient music", "Song": "a song", "Wind": "wind", "Rustling leaves": "rustling leaves",
    "Wind noise (microphone)": "wind noise", "Thunderstorm": "a thunderstorm", "Thunder": "thunder",
    "Water": "water", "Rain": "rain", "Raindrop": "raindrops", "Rain on surface": "rain on a surface",
    "Stream": "a stream", "Waterfall": "a waterfall", "Ocean": "the ocean", "Waves, surf": "waves",
    "Fire": "a fire", "Crackle": "crackling", "Vehicle": "a vehicle", "Car": "a car",
    "Vehicle horn, car horn, honking": "a car horn", "Car passing by": "a car passing by",
    "Skidding": "tyres skidding", "Tire squeal": "tyres squealing", "Truck": "a truck", "Bus": "a bus",
    "Siren": "a siren", "Police car (siren)": "a police siren", "Motorcycle": "a motorcycle",
    "Traffic noise, roadway noise": "traffic", "Rail transport": "a train", "Train": "a train",
    "Train whistle": "a train whistle", "Train horn": "a train horn", "Railroad car, train wagon": "train cars",
    "Train wheels squealing": "train wheels squealing", "Subway, metro, underground": "a subway train",
    "Aircraft": "an aircraft", "Helicopter": "a helicopter", "Fixed-wing aircraft, airplane": "an airplane",
    "Engine": "an engine", "Idling": "an engine idling", "Accelerating, revving, vroom": "an engine revving",
    "Medium engine (mid frequency)": "an engine running", "Heavy engine (low frequency)": "a heavy engine",
    "Light engine (high frequency)": "a small engine", "Engine starting": "an engine starting",
    "Door": "a door", "Doorbell": "a doorbell", "Slam": "a door slamming", "Knock": "knocking",
    "Tap": "tapping", "Squeak": "a squeak", "Dishes, pots, and pans": "dishes clattering",
    "Cutlery, silverware": "cutlery clinking", "Typing": "typing on a keyboard",
    "Typewriter": "a typewriter", "Computer keyboard": "typing on a keyboard", "Writing": "writing",
    "Telephone": "a telephone", "Telephone bell ringing": "a phone ringing", "Ringtone": "a ringtone",
    "Alarm": "an alarm", "Alarm clock": "an alarm clock", "Clock": "a clock", "Tick": "ticking",
    "Tick-tock": "a clock ticking", "Mechanisms": "machinery", "Mechanical fan": "a fan",
    "Air conditioning": "air conditioning", "Hammer": "hammering", "Explosion": "an explosion",
    "Gunshot, gunfire": "gunshots", "Machine gun": "machine-gun fire", "Fireworks": "fireworks",
    "Burst, pop": "a pop", "Boom": "a boom", "Glass": "glass", "Shatter": "glass shattering",
    "Splash, splatter": "a splash", "Whoosh, swoosh, swish": "a whoosh", "Thump, thud": "a thud",
    "Bang": "a bang", "Slap, smack": "a slap", "Smash, crash": "a crash", "Breaking": "something breaking",
    "Beep, bleep": "a beep", "Ding": "a ding", "Clang": "a clang", "Creak": "a creak", "Rustle": "rustling",
    "Whir": "a whir", "Clatter": "clattering", "Clicking": "clicking", "Rumble": "a rumble", "Hum": "a hum",
    "Bell": "a bell", "Church bell": "a church bell", "Jingle bell": "jingle bells", "Chime": "a chime",
    "Wind chime": "wind chimes", "Inside, small room": "a small room", "Inside, large room or hall": "a large hall",
    "Inside, public space": "a public space", "Outside, urban or manmade": "an urban outdoor space",
    "Outside, rural or natural": "the countryside", "Noise": "noise", "Environmental noise": "background noise",
    "Static": "static", "White noise": "white noise", "Pink noise": "noise", "Silence": "silence",
    "Male speech, man speaking": "a man speaking", "Female speech, woman speaking": "a woman speaking",
}


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


def phrase(label: str, layer: str | None = None) -> str:
    """Readable words for an AudioSet label (see the module docstring)."""
    if label in PHRASES:
        return PHRASES[label]
    first = label.split(",")[0].strip()
    word = first[:1].lower() + first[1:] if not first[:2].isupper() else first
    if layer == "music" or "music" in word.lower():
        return word
    return f"{word} sounds"


def spans(times: np.ndarray, present: np.ndarray, *, gap_s: float = 0.0) -> list[tuple[float, float]]:
    """Merged ``[(start_s, end_s)]`` of the patches where ``present`` is true (overlapping patches join)."""
    out: list[list[float]] = []
    for (a, b), on in zip(np.asarray(times, dtype=float), present):
        if not on:
            continue
        if out and a <= out[-1][1] + gap_s:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [(round(float(a), 3), round(float(b), 3)) for a, b in out]


def layer_evidence(probs: np.ndarray, layers, *, top_k: int = LAYER_TOP_K, names: list[str] | None = None
                   ) -> dict[str, np.ndarray]:
    """Per-patch probability of each layer: the noisy-OR ``1 - prod(1 - p)`` of its ``top_k`` best classes.

    ``probs`` is ``(patches, classes)``, ``layers`` the layer of every class (:func:`class_layers`).
    Returns ``{layer: (patches,)}`` for every layer of :data:`LAYERS` (zeros where a layer has no class);
    with the class ``names``, also ``"effects_steady"``: the effects evidence without the
    :data:`EVENT_LABELS` classes (what the effects layer is where the measured sound has no impulsive energy:
    a steady bed that the model half-hears as "Explosion" or "Eruption" is not an effect for that).
    """
    probs = np.asarray(probs, dtype=np.float64).reshape(len(probs), -1)
    layers = np.asarray(layers, dtype=object)
    groups = {layer: layers == layer for layer in LAYERS}
    if names is not None:
        groups["effects_steady"] = groups["effects"] & ~np.isin(np.asarray(names, dtype=object), list(EVENT_LABELS))
    out = {}
    for layer, mask in groups.items():
        cols = np.flatnonzero(mask)
        if not len(cols) or not len(probs):
            out[layer] = np.zeros(len(probs))
            continue
        p = probs[:, cols]
        k = min(top_k, p.shape[1])
        best = -np.partition(-p, k - 1, axis=1)[:, :k] if k < p.shape[1] else p
        out[layer] = 1.0 - np.prod(1.0 - np.clip(best, 0.0, 1.0), axis=1)
    return out


def summarise(times: np.ndarray, probs: np.ndarray, names: list[str], layers, *, top_k: int = 10,
              presence: float = 0.5, max_labels: int = 12, layer_top_k: int = LAYER_TOP_K) -> dict:
    """Per-clip summary of per-patch class probabilities ``probs (patches, classes)`` at ``times (patches, 2)``.

    Returns ``{"type", "type_scores", "tags", "labels", "layers"}`` as documented in
    :meth:`avshooter.backends.yamnet_tagger.YamnetTagger.tag_many`: ``layers`` holds :func:`layer_evidence`
    per patch (whether a layer is there), ``type_scores`` the mean over patches of each layer's best class
    (how prominent it is); ``labels`` are the classes whose own probability reaches ``presence`` in some patch.
    """
    layers = np.asarray(layers, dtype=object)
    per_layer = layer_evidence(probs, layers, top_k=layer_top_k, names=names)
    best = {k: (probs[:, layers == k].max(axis=1) if (layers == k).any() and len(probs) else np.zeros(len(probs)))
            for k in LAYERS}
    scores = {k: round(float(v.mean()) if v.size else 0.0, 4) for k, v in best.items()}
    if not len(probs):
        scores["silence"] = 1.0
    kind = max(LAYERS, key=lambda k: (scores[k], -LAYERS.index(k)))
    mean = probs.mean(axis=0) if len(probs) else np.zeros(len(names))
    order = np.argsort(-mean, kind="stable")
    tags = [{"label": names[j], "score": round(float(mean[j]), 4), "layer": layers[j]} for j in order[:top_k]]
    peak = probs.max(axis=0) if len(probs) else np.zeros(len(names))
    labels = []
    for j in np.argsort(-peak, kind="stable")[:max_labels]:
        if peak[j] < presence:
            break
        on = probs[:, j] >= presence
        for a, b in spans(times, on):
            sel = on & (times[:, 0] >= a - 1e-3) & (times[:, 1] <= b + 1e-3)
            labels.append({"label": names[j], "layer": layers[j], "start_s": a, "end_s": b,
                           "score": round(float(probs[sel, j].max()), 4)})
    return {"type": kind, "type_scores": scores, "tags": tags, "labels": labels,
            "layers": {"times": np.round(times, 3).tolist(),
                       **{k: np.round(v, 4).tolist() for k, v in per_layer.items()}}}
