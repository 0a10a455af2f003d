"""The words for AudioSet classes: how a description says a class, and the package's sound words per class.

What this module owns:

- :data:`PHRASES` names the common classes the way a person would ("a crowd cheering", "typing on a
  keyboard"); :func:`phrase` says any other class as its first comma-separated name in lower case, as a
  sound of that thing (``"Clip-clop"`` -> ``"clip-clop sounds"``), and music classes as the music's style
  or instrument (``"Electric guitar"`` -> ``"electric guitar"``);
- :func:`label_classes`: the package's sound words (the labels of ``sound_vocabulary.txt`` and
  ``sound_phrases.txt``: "a sword clash", "heavy rain") mapped onto AudioSet classes
  (``avshooter/data/sound_classes.tsv``).
"""
from __future__ import annotations

import functools
import re
from importlib import resources

__all__ = ["PHRASES", "find", "label_classes", "phrase"]

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


def phrase(label: str, layer: str | None = None) -> str:
    """Readable words for an AudioSet label (see the module docstring)."""
    if label in PHRASES:
        return PHRASES[label]
    first = label.split(",")[0].strip()
    word = first[:1].lower() + first[1:] if not first[:2].isupper() else first
    if layer == "music" or "music" in word.lower():
        return word
    return f"{word} sounds"



@functools.lru_cache(maxsize=1)
def label_classes() -> dict[str, str]:
    """``{sound word: AudioSet class name}`` from ``avshooter/data/sound_classes.tsv`` (checked: every class
    exists in the ontology)."""
    from ..errors import BackendError
    from .ontology import by_name

    where = "avshooter/data/sound_classes.tsv"
    text = resources.files("avshooter").joinpath("data/sound_classes.tsv").read_text(encoding="utf-8")
    out = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != 2 or by_name(parts[1]) is None:
            raise BackendError(f"{where} line {number}: {line!r} is not 'label<TAB>AudioSet class name'")
        out[parts[0].strip()] = by_name(parts[1]).name
    return out


@functools.lru_cache(maxsize=1)
def _word_index() -> dict[str, str]:
    from .ontology import classes, words

    index: dict[str, str] = {}
    for c in classes():
        index.setdefault(c.name.lower(), c.name)
    for c in classes():
        for w in words(c.name):
            index.setdefault(w.lower(), c.name)
            index.setdefault(re.sub(r"\s*\(.*", "", w).lower(), c.name)  # "Frying (food)" -> "frying"
    for label, name in label_classes().items():
        index.setdefault(label.lower(), name)
    for label, phrase in PHRASES.items():
        index.setdefault(phrase.lower(), label)
    return index


def find(text: str) -> str | None:
    """The class ``text`` names exactly: a class name, one of its comma-separated names, its phrase
    ("a crowd cheering") or a label of the package's sound words ("a sword clash"); None otherwise
    (case-insensitive, surrounding spaces and an article ignored)."""
    key = " ".join(str(text).lower().split()).strip(" .;,")
    index = _word_index()
    if key in index:
        return index[key]
    for article in ("a ", "an ", "the ", "some "):
        if key.startswith(article) and key[len(article):] in index:
            return index[key[len(article):]]
        if article + key in index:
            return index[article + key]
    return None
