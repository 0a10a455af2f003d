"""The typing rules, one by one, on hand-made tagger answers (no model): noisy-OR layer evidence, speech
that needs more than the VAD (crowds), layers heard in their own stem, one-event classes that need
impulsive energy, and the config hash that covers the rules' version."""
from __future__ import annotations

import dataclasses

import numpy as np

from avshooter.annotation.labels import layer_evidence, summarise
from avshooter.annotation.layers import (CROWD_LABEL, LAYER_PRESENCE, TALKER_MIN_DB, confident_transcript,
                                         layers_from_tags)
from avshooter.audio.features import Features

TIMES = np.array([[0.0, 0.96], [0.48, 1.44], [0.96, 1.92], [1.44, 2.4], [1.92, 2.88], [2.4, 3.36]])
NAMES = ["Speech", "Music", "Jazz", "Explosion", "Typing", "Wind", "Ocean", "Outside, rural or natural",
         "Rustling leaves", *[f"Genre {k}" for k in range(30)]]
LAYERS = ["speech", "music", "music", "effects", "effects", "ambience", "ambience", "ambience", "ambience",
          *["music"] * 30]


def _probs(**by_name) -> np.ndarray:
    p = np.zeros((len(TIMES), len(NAMES)))
    for name, value in by_name.items():
        p[:, NAMES.index(name.replace("_", " ").replace(" rural", ", rural"))] = value
    return p


def _tagged(**layers) -> dict:
    per = {k: list(layers.get(k, [0.0] * len(TIMES))) for k in ("speech", "music", "effects", "ambience", "silence")}
    if "effects_steady" in layers:
        per["effects_steady"] = list(layers["effects_steady"])
    return {"type_scores": {k: float(np.mean(v)) for k, v in per.items()}, "layers": {"times": TIMES.tolist(), **per},
            "labels": [], "tags": [{"label": "Speech", "score": 0.9, "layer": "speech"}]}


def _features(**kw) -> Features:
    base = dict(duration_s=3.5, integrated_lufs=-23.0, sample_peak_dbfs=-6.0, true_peak_dbtp=None, rms_dbfs=-23.0,
                silent_fraction=0.0, energy_std_db=9.0, spectral_centroid_hz=900.0, impulsiveness=0.0)
    return Features(**{**base, **kw})


def test_a_bed_spread_over_its_classes_is_present():
    """A wind bed: Wind 0.2, Ocean 0.15, Outside 0.14, Rustling 0.08 in every patch (measured on the demo's
    wind: no class reaches 0.5). The noisy-OR of the top 3 is 0.41; the best class alone was 0.2."""
    probs = _probs(Wind=0.2, Ocean=0.15, Outside_rural_or_natural=0.14, Rustling_leaves=0.08)
    out = summarise(TIMES, probs, NAMES, LAYERS)
    assert np.allclose(out["layers"]["ambience"], 1 - 0.8 * 0.85 * 0.86, atol=1e-3)
    layers = layers_from_tags(out, speech=[], duration_s=3.5)
    assert [layer.type for layer in layers] == ["ambience"] and layers[0].spans == [(0.0, 3.36)]
    assert out["labels"] == []                      # no class on its own is present


def test_many_weak_correlated_classes_do_not_saturate():
    """30 music genres at 0.05 each: all 30 would give 0.79; the top 3 give 0.14 (under presence)."""
    probs = _probs(**{f"Genre {k}": 0.05 for k in range(30)})
    ev = layer_evidence(probs, LAYERS)
    assert np.allclose(ev["music"], 1 - 0.95 ** 3) and ev["music"][0] < LAYER_PRESENCE["music"]
    assert layers_from_tags(summarise(TIMES, probs, NAMES, LAYERS), speech=[], duration_s=3.5) == []


def test_the_vad_alone_does_not_make_speech():
    vad = [(0.1, 3.3)]
    assert layers_from_tags(_tagged(speech=[0.05] * 6, music=[0.9] * 6), speech=vad, duration_s=3.5)[0].type == "music"
    assert [x.type for x in layers_from_tags(_tagged(speech=[0.05] * 6), speech=vad, duration_s=3.5)] == []


def test_a_crowd_is_not_speech_without_one_talker_or_confident_words():
    vad = [(0.1, 3.3)]
    tagged = _tagged(speech=[0.8] * 6)
    crowd = layers_from_tags(tagged, speech=vad, duration_s=3.5, features=_features(energy_std_db=TALKER_MIN_DB - 0.6))
    assert [x.type for x in crowd] == ["ambience"] and crowd[0].labels[0] == CROWD_LABEL
    talker = layers_from_tags(tagged, speech=vad, duration_s=3.5, features=_features(energy_std_db=8.0))
    assert [x.type for x in talker] == ["speech"] and talker[0].spans == vad
    sure = {"words": [{"word": "wait", "prob": 0.9}, {"word": "for", "prob": 0.8}, {"word": "me", "prob": 0.3}]}
    unsure = {"words": [{"word": "wait", "prob": 0.2}, {"word": "for", "prob": 0.3}, {"word": "me", "prob": 0.9}]}
    assert confident_transcript(sure) and not confident_transcript(unsure) and not confident_transcript(None)
    assert not confident_transcript({"words": [{"word": "hey", "prob": 0.99}]})   # one word is not enough
    low = _features(energy_std_db=2.0)
    for words, kind in ((sure, "speech"), (unsure, "ambience")):
        got = layers_from_tags(tagged, speech=vad, duration_s=3.5, features=low, transcript=words)
        assert [x.type for x in got] == [kind]


def test_a_quieter_layer_is_heard_in_its_own_stem():
    mix = _tagged(speech=[0.95] * 6, effects=[0.1] * 6)
    effects_stem = _tagged(speech=[0.9] * 6, effects=[0.1, 0.7, 0.8, 0.6, 0.1, 0.1])
    got = layers_from_tags(mix, speech=[(0.0, 3.4)], duration_s=3.5, stems={"effects": effects_stem})
    assert [x.type for x in got] == ["speech", "effects"] and got[1].spans == [(0.48, 2.4)]
    assert [x.type for x in layers_from_tags(mix, speech=[(0.0, 3.4)], duration_s=3.5)] == ["speech"]
    # a stem speaks only for its own layers: speech leaking into the effects stem adds no speech
    quiet = _tagged(speech=[0.05] * 6, ambience=[0.5] * 6)
    got = layers_from_tags(quiet, speech=[], duration_s=3.5, stems={"effects": effects_stem})
    assert "speech" not in [x.type for x in got]


def test_one_event_classes_are_no_effects_evidence_without_impulsive_energy():
    """The demo's night wind: "Explosion"/"Eruption" carry the effects evidence, its own classes the ambience."""
    tagged = _tagged(effects=[0.5] * 6, effects_steady=[0.1] * 6, ambience=[0.38] * 6)
    steady = layers_from_tags(tagged, speech=[], duration_s=3.5, features=_features(energy_std_db=1.5))
    assert [x.type for x in steady] == ["ambience"]
    hits = layers_from_tags(tagged, speech=[], duration_s=3.5, features=_features(energy_std_db=9, impulsiveness=0.6))
    assert [x.type for x in hits] == ["effects", "ambience"]
    probs = _probs(Explosion=0.45, Typing=0.1, Wind=0.3)
    ev = summarise(TIMES, probs, NAMES, LAYERS)["layers"]
    assert np.allclose(ev["effects"], 1 - 0.55 * 0.9) and np.allclose(ev["effects_steady"], 0.1)


def test_the_config_hash_covers_the_typing_rules(monkeypatch):
    from avshooter.annotation import labels
    from avshooter.config import AnnotateConfig, GenerateConfig, config_hash

    before, gen = config_hash(AnnotateConfig()), config_hash(GenerateConfig())
    monkeypatch.setattr(labels, "TYPING_VERSION", labels.TYPING_VERSION + "-next")
    assert config_hash(AnnotateConfig()) != before and config_hash(GenerateConfig()) == gen
    assert config_hash(dataclasses.replace(AnnotateConfig(), device="cuda")) == config_hash(AnnotateConfig())


def test_the_config_hash_covers_how_the_analysis_track_is_made(monkeypatch):
    """The VAD's ranges move with the 16 kHz track even with ``asr: none``: its version is in the hash."""
    from avshooter import config as config_module
    from avshooter.config import AnnotateConfig, config_hash

    config = dataclasses.replace(AnnotateConfig(), asr="none")
    before = config_hash(config)
    monkeypatch.setattr(config_module, "ANALYSIS_TRACK_VERSION", config_module.ANALYSIS_TRACK_VERSION + "-next")
    assert config_hash(config) != before


def test_a_stem_that_is_mostly_another_layer_adds_nothing():
    """The dsp effects stem of a song holds its drums: the tagger hears music there, and a few effects-ish
    patches in it are not an effects layer (measured on vibeace: "music, effects" with effects at 0.008)."""
    mix = _tagged(music=[0.95] * 6)
    drums = _tagged(music=[0.8] * 6, effects=[0.1, 0.5, 0.1, 0.1, 0.1, 0.1])
    assert [x.type for x in layers_from_tags(mix, speech=[], duration_s=3.5, stems={"effects": drums})] == ["music"]
    hits = _tagged(music=[0.1] * 6, effects=[0.1, 0.5, 0.6, 0.1, 0.1, 0.1])
    got = layers_from_tags(mix, speech=[], duration_s=3.5, stems={"effects": hits})
    assert [x.type for x in got] == ["music", "effects"]


def test_the_voice_of_a_song_is_not_speech():
    tagged = _tagged(speech=[0.9] * 6, music=[0.9] * 6)  # YAMNet hears speech in a sung voice
    assert "speech" in [x.type for x in layers_from_tags(tagged, speech=[], duration_s=3.5)]
    sung = layers_from_tags(tagged, speech=[], duration_s=3.5, sung=[(0.0, 3.5)])
    assert [x.type for x in sung] == ["music"]
    half = layers_from_tags(tagged, speech=[], duration_s=3.5, sung=[(0.0, 1.2)])  # the rest still speaks
    assert "speech" in [x.type for x in half]


def test_a_line_in_front_of_its_music_is_the_main_layer():
    """A line over half the shot, the music all through it: the tagger's music (0.85) outscores the VAD share
    (0.5), but the dialogue stem holds most of the energy, so speech comes first; a quiet line under loud
    music stays second, and the rule needs confirmed speech (a crowd bed is not promoted)."""
    vad = [(1.75, 3.5)]
    tagged = _tagged(speech=[0.0, 0.0, 0.0, 0.9, 0.9, 0.9], music=[0.85] * 6)
    assert [x.type for x in layers_from_tags(tagged, speech=vad, duration_s=3.5)] == ["music", "speech"]
    loud_line = {"dialogue": 0.9, "music": 0.08, "effects": 0.02}
    got = layers_from_tags(tagged, speech=vad, duration_s=3.5, shares=loud_line)
    assert [x.type for x in got] == ["speech", "music"]
    assert got[0].score == 0.5                       # the scores are the tagger's and the VAD's, as before
    quiet_line = {"dialogue": 0.2, "music": 0.7, "effects": 0.1}
    assert [x.type for x in layers_from_tags(tagged, speech=vad, duration_s=3.5, shares=quiet_line)] == \
        ["music", "speech"]
    crowd = _tagged(speech=[0.8] * 6, music=[0.85] * 6)
    low = _features(energy_std_db=TALKER_MIN_DB - 0.6)
    got = layers_from_tags(crowd, speech=[(0.1, 3.3)], duration_s=3.5, features=low, shares=loud_line)
    assert "speech" not in [x.type for x in got]


def test_the_background_under_a_voice_speaks_for_its_layers_not_for_speech():
    """Thunder 12 dB under a line: the mix's effects evidence stays under presence, and the stems' shares fall
    under the tagging threshold; the tagger on the mix less the dialogue hears it. The dialogue's leak into
    that background (its speech) never makes speech."""
    vad = [(0.0, 3.4)]
    mix = _tagged(speech=[0.95] * 6, effects=[0.1] * 6)
    assert [x.type for x in layers_from_tags(mix, speech=vad, duration_s=3.5)] == ["speech"]
    rest = _tagged(speech=[0.6] * 6, effects=[0.0, 0.7, 0.8, 0.7, 0.0, 0.0])
    rest["labels"] = [{"label": "Thunder", "score": 0.8, "layer": "effects", "start_s": 0.48, "end_s": 2.88}]
    got = layers_from_tags(mix, speech=vad, duration_s=3.5, rest=rest)
    assert [x.type for x in got] == ["speech", "effects"]
    assert got[1].spans == [(0.48, 2.4)] and got[1].labels == ["Thunder"]  # patches 1-3
    no_speech = _tagged(effects=[0.9] * 6)
    alone = layers_from_tags(no_speech, speech=[], duration_s=3.5, rest=_tagged(speech=[0.9] * 6))
    assert [x.type for x in alone] == ["effects"]


def test_a_cheering_crowd_without_vad_speech_is_not_speech():
    """A cheering crowd: the tagger hears Speech in its shouts and its level swings like one talker's, but the
    VAD finds no speech and the tagger hears Cheering: a crowd, not speech. The same speech with the VAD's
    ranges (a line over the crowd) stays speech."""
    tagged = _tagged(speech=[0.7] * 6, effects=[0.8] * 6)
    tagged["labels"] = [{"label": "Cheering", "score": 0.8, "layer": "effects", "start_s": 0.0, "end_s": 3.36}]
    talker = _features(energy_std_db=9.0)
    layers = layers_from_tags(tagged, speech=[], duration_s=3.5, features=talker)
    assert "speech" not in [x.type for x in layers] and "effects" in [x.type for x in layers]
    assert [x.labels[0] for x in layers if x.type == "ambience"] == ["Cheering"]  # named as what it is
    tagged["labels"] = []
    assert "speech" in [x.type for x in layers_from_tags(tagged, speech=[], duration_s=3.5, features=talker)]
    tagged["labels"] = [{"label": "Cheering", "score": 0.8, "layer": "effects", "start_s": 0.0, "end_s": 3.36}]
    assert "speech" in [x.type for x in layers_from_tags(tagged, speech=[(0.2, 3.0)], duration_s=3.5, features=talker)]
