"""prompts.json shows the sound events of each prompt in the AudioSet vocabulary, and an edited file is
checked (issue 17)."""
from __future__ import annotations

import json
import logging

import pytest

from avshooter.errors import InputError
from avshooter.generation.prompts import build_prompts, load_prompts, save_prompts
from avshooter.io.story import load_story

STORY = {"storyline": "A storm at the dojo.", "main characters": [{"ID": "Ken", "appearance": "A boy in a white gi."}],
         "main scenes": [{"ID": "street", "environment": "A narrow city street at night during heavy rain."}],
         "shots": [{"main characters": ["Ken"], "scene": "street",
                    "visual annotation": {"narrative caption": "Ken runs home.",
                                          "descriptive caption": "A boy in a white gi knocks on the wooden door."}}]}


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    story = load_story(STORY, require_times=False)
    path = tmp_path_factory.mktemp("p") / "prompts.json"
    save_prompts(build_prompts(story), path)
    return story, path


def test_events_are_shown_and_read_back(written):
    story, path = written
    data = json.loads(path.read_text())
    events = data["shots"][0]["events"]
    assert {"words": "a knock on the door", "class": "Knock", "layer": "effects", "placement": "visual event"} in events
    assert all(e["placement"] == "whole scene" and e["layer"] == "ambience" for e in data["ambience_events"]["street"])
    assert "Rain" in {e["class"] for e in data["ambience_events"]["street"]}
    back = load_prompts(path, story)
    assert back.shots[0].events == events and back.ambience_events == data["ambience_events"]


def test_an_edited_text_gives_its_events_and_bad_events_are_refused(written, tmp_path, caplog):
    story, path = written
    data = json.loads(path.read_text())
    data["shots"][0]["effects"] = "thunder, footsteps on a wooden floor"
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps(data))
    with caplog.at_level(logging.WARNING):
        back = load_prompts(edited, story)
    assert [e["class"] for e in back.shots[0].events] == ["Thunder", "Walk, footsteps"]
    assert "read again" in caplog.text
    for key, value, message in (("class", "Sword clang", "not an AudioSet class"), ("layer", "music", "layer"),
                                ("placement", "somewhere", "placement")):
        bad = json.loads(path.read_text())
        bad["shots"][0]["events"][0][key] = value
        edited.write_text(json.dumps(bad))
        with pytest.raises(InputError, match=message):
            load_prompts(edited, story)
