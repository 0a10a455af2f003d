"""Classes a caption names in the ontology's words (avshooter.generation.caption_classes), and the scene
environment without invented room tone (issue 17). MiniLM is the packaged real model."""
from __future__ import annotations

from avshooter.generation.caption_classes import (class_names, class_words, drop_looks, sound_quality,
                                                  spot_classes, stem)
from avshooter.generation.caption_reader import ReaderOptions, read_environment, read_shot_text
from avshooter.vocabulary import find


def test_stems_join_the_forms_of_a_word():
    assert stem("snores") == stem("snoring") == stem("snore")
    assert stem("rainy") == stem("rain")
    assert stem("busy") != stem("bus")
    assert stem("clapping") == stem("clap")


def test_every_spottable_class_has_words_that_map_back_onto_it_or_a_parent():
    for name, stems, text in class_names():
        assert stems and text
        words = class_words(name)
        if words is not None:
            assert "," not in words and "(" not in words
            found = find(words)
            assert found == name or found is not None, (name, words)
    assert class_words("Howl (wind)") == "wind"  # "howl" alone is the dog's
    assert class_words("Chopping (food)") == "chopping"


def test_sound_quality_is_the_source_ambiguous_branch():
    assert sound_quality("Rumble") and sound_quality("Screech")
    assert not sound_quality("Crack")  # also under "Wood"
    assert not sound_quality("Crowd") and not sound_quality("Thunder")


def test_named_sounds_are_spotted_and_checked_by_meaning():
    hits = spot_classes(["frogs croak in the rice fields", "the kettle whistles on the stove",
                         "a boy waits at the bus stop", "the old floorboards creak"])
    assert [h.name for h in hits[0]] == ["Croak"]
    assert [h.name for h in hits[1]] == ["Kettle whistle"]  # the longer name wins over "Whistle"
    assert hits[2] == []  # a bus stop is a place, not a bus
    assert [h.name for h in hits[3]] == ["Creak"]


def test_a_quality_word_gives_way_to_the_source_it_describes():
    reading = read_shot_text([("caption", "Thunder rumbles in the distance.")], characters=[], shot_characters=[])
    labels = [find(m.label) for m in reading.effects + reading.ambience]
    assert "Thunder" in labels and "Rumble" not in labels


def test_looks_are_dropped_before_matching():
    text = "A girl in a sailor uniform walks quickly down the corridor."
    assert drop_looks(text, ["A girl with short black hair in a sailor uniform."]) == \
        "walks quickly down the corridor."
    assert drop_looks(text, ["A tall man."]) == text
    assert drop_looks("Rain falls in the street.", ["A man in the rain coat."]) == "Rain falls in the street."


def test_a_place_without_a_named_sound_gets_no_room_tone():
    for env in ("A small bedroom at dawn, curtains half open.", "A quiet hospital room at night."):
        is_place, found = read_environment(env)
        assert is_place and found == []
    is_place, found = read_environment("A rainy bus stop on a suburban road.")
    assert [find(m.label) for m in found] == ["Rain"]
    assert ReaderOptions().env_min > ReaderOptions().ambience_min
