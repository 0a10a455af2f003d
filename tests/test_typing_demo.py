"""The demo's night wind (examples/make_demo.py shot 4: band-passed noise with slow gusts, about -45 dBFS)
through ``avshooter annotate`` with the default config: a bed, typed ambience, and described without a
one-event word (issue 18: it was typed effects and once described as "an explosion and fireworks")."""
from __future__ import annotations

import json

from avshooter.annotation.labels import EVENT_LABELS, phrase


def test_the_demo_wind_is_ambience_without_an_impulsive_word(demo_out):
    story = json.loads((demo_out / "demo" / "story.json").read_text(encoding="utf-8"))
    wind = story["shots"][3]
    ann = wind["audio annotation"]
    assert ann["type"] == "ambience", ann
    event_words = {phrase(label).lower() for label in EVENT_LABELS} | {"explosion", "firework", "gunshot", "eruption"}
    for text in (ann["sound description"], ann["visual context"]):
        assert not any(w in text.lower() for w in event_words), text
    layers = wind["avshooter"]["layers"]
    assert [x["type"] for x in layers] == ["ambience"]
    assert not set(layers[0]["labels"]) & EVENT_LABELS
