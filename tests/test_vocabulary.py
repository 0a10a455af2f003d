"""The one sound vocabulary (issue 17): the AudioSet ontology as a leaf package."""
from __future__ import annotations

import ast
import csv
from pathlib import Path

import pytest

from avshooter import vocabulary as v

ROOT = Path(__file__).resolve().parents[1]


def test_the_ontology_file_is_audiosets_with_yamnets_indices():
    assert len(v.classes()) == 632
    names = v.yamnet_names()
    assert len(names) == 521 and names[0] == "Speech" and names[494] == "Silence" and names[520] == "Field recording"
    header = (ROOT / "avshooter" / "data" / "audioset_ontology.jsonl").read_text(encoding="utf-8").splitlines()[0]
    assert "CC BY-SA 4.0" in header and "github.com/audioset/ontology" in header


def test_yamnet_names_are_the_taggers_class_map():
    from avshooter.backends import yamnet_tagger

    _, class_map = yamnet_tagger._wheel_files()  # the offline default's tagger: missing is a failure, not a skip
    with open(class_map, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [r["display_name"] for r in rows] == list(v.yamnet_names())
    assert [r["mid"] for r in rows] == [c.id for c in sorted((c for c in v.classes() if c.yamnet is not None),
                                                               key=lambda c: c.yamnet)]


def test_the_tree():
    assert v.parents("Thunder") == ["Thunderstorm"]
    assert "Rain on surface" in v.children("Rain") and "Raindrop" in v.descendants("Rain")
    assert "Bark" in v.siblings("Howl") and "Howl" not in v.siblings("Howl")
    related = dict(v.related("Car"))
    assert related["Car"] == "exact" and related["Skidding"] == "child" and related["Motor vehicle (road)"] == "parent"
    assert related["Truck"] == "sibling"
    assert "Sounds of things" not in related  # abstract top classes are never a match
    with pytest.raises(KeyError):
        v.parents("Not a sound")


def test_words_and_exact_names():
    assert v.words("Walk, footsteps") == ["walk", "footsteps"]
    assert v.find("footsteps") == "Walk, footsteps" and v.find("Thunder") == "Thunder"
    assert v.find("a crowd cheering") == "Cheering" and v.find("a sword clash") == "Clang"
    assert v.find("heavy rain") == "Rain" and v.find("a purple elephant") is None


def test_every_sound_word_of_the_package_has_a_class():
    """The phrase list of the prompt writer and the CLAP vocabulary are mapped onto the ontology."""
    mapped = v.label_classes()
    data = ROOT / "avshooter" / "data"
    labels = {line.split("\t")[1].strip() for line in (data / "sound_phrases.txt").read_text(encoding="utf-8").splitlines()
              if line.strip() and not line.startswith("#") and line.split("\t")[0] not in ("none", "picture")}
    labels |= {line.split("\t")[0] for line in (data / "sound_vocabulary.txt").read_text(encoding="utf-8").splitlines()
               if line.strip() and not line.startswith("#")}
    assert labels <= set(mapped), sorted(labels - set(mapped))
    assert all(v.by_name(c) is not None for c in mapped.values())


def test_layers():
    assert v.layer_of("Rain") == "ambience" and v.layer_of("Thunder") == "effects" and v.layer_of("Piano") == "music"
    assert v.layer_of("Battle cry") == "speech"  # not tagged by YAMNet: its tagged parent's layer
    assert v.class_layers(list(v.yamnet_names()))[494] == "silence"


def test_labels_and_describe_reexport_the_leaf():
    from avshooter.annotation import describe, labels

    assert labels.PHRASES is v.PHRASES and labels.class_layers is v.class_layers and describe.TYPES is v.TYPES


def test_vocabulary_is_a_leaf():
    for path in (ROOT / "avshooter" / "vocabulary").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level >= 2:
                assert (node.module or "").split(".")[0] in ("errors",), f"{path.name} imports ..{node.module}"


def test_backends_take_types_and_layers_from_the_leaf():
    for name in ("captioner_common.py", "gemini_captioner.py", "yamnet_tagger.py"):
        text = (ROOT / "avshooter" / "backends" / name).read_text(encoding="utf-8")
        assert "annotation.describe import" not in text and "annotation.labels import class_layers" not in text
