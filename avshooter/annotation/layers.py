"""Layers of a shot: which of speech / music / effects / ambience are present, when, and how prominent.

This module owns the typing rules that turn a tagger's per-patch layer evidence (the noisy-OR of each
layer's AudioSet classes, :func:`avshooter.annotation.labels.layer_evidence`), the same evidence on the
stems, the VAD's speech ranges, the mix's measured level variation and an ASR transcript into a list of
:class:`Layer`. The sentences about the layers are :mod:`avshooter.annotation.describe`'s.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from ..vocabulary.layers import IMPULSIVE_SHARE, LAYER_STEM  # re-exported: the leaf vocabulary's

__all__ = ["LAYER_ORDER", "LAYER_STEM", "LAYER_PRESENCE", "TALKER_MIN_DB", "CONFIDENT_WORD_PROB", "SPEECH_CONFIRM",
           "CROWD_CLASSES", "REST_UNDER_DB", "audible_rest",
           "SPEECH_SHARE_LO", "FLOOR_DB", "background_patches",
           "IMPULSIVE_SHARE",
           "Layer", "mixture_type", "type_layers", "confident_transcript", "shot_layer_evidence", "layers_from_tags"]

SPEECH_SHARE_LO = 0.3
"""VAD share of a shot from which confirmed speech takes the VAD's spans (and the features fallback's
speech ramp starts: ``DescribeThresholds.speech_fraction_lo``)."""

# A shot's "type" names every layer present, most prominent first, joined by ", " (e.g. "speech, music");
# one layer alone keeps the single word the paper-style output always had. Vocabulary: speech (the dialogue
# layer: talking, shouting, whispering), music (incl. singing), effects (discrete sounds: hits, steps,
# animals, machines), ambience (sustained beds: wind, rain, crowd, room tone), silence (nothing else).
LAYER_ORDER = ("speech", "music", "effects", "ambience")
# Labels too general to name a source in words (AudioSet parents); used only when nothing finer is heard.
GENERIC_LABELS = frozenset({
    "Speech", "Music", "Musical instrument", "Animal", "Wild animals", "Domestic animals, pets",
    "Livestock, farm animals, working animals", "Vehicle", "Motor vehicle (road)", "Mechanisms", "Tools",
    "Liquid", "Wood", "Glass", "Plucked string instrument", "Keyboard (musical)", "Percussion",
    "Brass instrument", "Bowed string instrument", "Wind instrument, woodwind instrument", "Mallet percussion",
    "Fowl", "Bird", "Rail transport", "Aircraft", "Engine", "Door", "Water", "Domestic sounds, home sounds",
})
LAYER_PRESENCE = {"speech": 0.5, "music": 0.5, "effects": 0.4, "ambience": 0.3}
"""Per-patch layer evidence (:func:`~avshooter.annotation.labels.layer_evidence`, a noisy-OR) at which a
tagger's layer counts as present, per layer: fitted on the DEV split of tests/data/typing_set.json only
(``benchmarks/bench_typing.py --fit``; the test split's figures are in benchmarks/README.md)."""
TALKER_MIN_DB = 2.93
"""Speech is one voice in front (dialogue) only when the mix's level varies like one talker's syllables:
``energy_std_db`` (spread of 32 ms frame levels) at or above this. Voices of a crowd fill each other's
gaps (measured: one reader 11 dB, two 8 dB, three or more 2-4.5 dB), and the tagger's Speech class fires on
them all. Fitted on the dev split: midway between its crowds (<= 2.39 dB) and its speech, alone or over
music, effects and beds 6-12 dB under (>= 3.46 dB)."""
SPEECH_CONFIRM = 0.2
"""The tagger confirms the VAD's speech where its speech evidence reaches the speech presence in some patch,
or averages at least this over the patches the VAD marks (speech under music of its own level: the VAD is
sure, the tagger half-sure; on music alone the VAD's blips get ~0). Fitted on the dev split."""
CONFIDENT_WORD_PROB = 0.5
"""An ASR transcript confirms speech when it holds at least two words and its median word probability
reaches this (Whisper's words on babble or noise come with low probabilities)."""
REST_UNDER_DB = 20.0
"""The mix less the dialogue speaks for a shot's layers in a patch where it is at most this far under the mix
(:func:`audible_rest`): a sound 20 dB under a voice is masked by it (the softest bed of the labelled set is
12 dB under its line)."""
CROWD_LABEL = "Hubbub, speech noise, speech babble"
CROWD_CLASSES = frozenset({"Cheering", "Applause", "Crowd", "Chatter", CROWD_LABEL, "Children shouting"})
"""AudioSet classes of a crowd. Where the VAD hears no speech in a shot, the tagger's speech beside one of them
is the crowd's shouting (a cheering crowd's level swings like one talker's, so the spread test passes it)."""
FLOOR_DB = 3.0
"""Room tone around speech is not an effects layer. In a shot with speech, a patch is the recording's
background where most of it lies outside the VAD's speech and that part sits within this many dB of the
shot's noise floor (the 10th percentile of its 32 ms frame levels): nothing there rises above the floor.
Effects are discrete sounds, which do; a steady floor heard only in such patches (a reader's room tone that
the tagger takes for a distant vehicle) is not one. Set a priori (a factor of 2 in power), not fitted; the
typing set's dev split is unchanged by it (benchmarks/bench_typing.py --set)."""


@dataclass
class Layer:
    """One layer of a shot's soundtrack (times in seconds from the shot start)."""

    type: str
    score: float
    spans: list
    labels: list = dataclasses.field(default_factory=list)

    def to_dict(self) -> dict:
        return {"type": self.type, "score": round(float(self.score), 4),
                "spans": [[round(a, 3), round(b, 3)] for a, b in self.spans], "labels": list(self.labels)}


def mixture_type(layers: list[Layer]) -> str:
    """The paper's "type" of a shot from its layers: ``"speech, music"``; ``"silence"`` when none."""
    return ", ".join(layer.type for layer in layers) if layers else "silence"


def type_layers(kind: str) -> list[str]:
    """The layer words of a "type" string (``"speech, music"`` -> ``["speech", "music"]``)."""
    return [w.strip() for w in str(kind).split(",") if w.strip()]


def _span_cover(spans) -> float:
    return sum(b - a for a, b in spans)


def confident_transcript(transcript: dict | None, *, min_prob: float = CONFIDENT_WORD_PROB) -> bool:
    """True when ``transcript`` has >= 2 words whose median probability reaches ``min_prob``."""
    probs = [w.get("prob") for w in (transcript or {}).get("words") or [] if w.get("prob") is not None]
    return len(probs) >= 2 and float(np.median(probs)) >= min_prob


def background_patches(wav: np.ndarray, sample_rate: int, times, speech, *, floor_db: float = FLOOR_DB
                       ) -> np.ndarray:
    """Which tagger patches of a shot are its background (:data:`FLOOR_DB`): one bool per row of ``times``.

    Parameters
    ----------
    wav : float32 ``(channels, samples)``, the shot's mix
    sample_rate : Hz
    times : ``(patches, 2)`` start and end of each patch in seconds from the shot start
    speech : the VAD's ``[(start_s, end_s)]``; without speech no patch is background (a bed alone is the shot)
    """
    times = np.asarray(times, dtype=float).reshape(-1, 2)
    out = np.zeros(len(times), dtype=bool)
    size = max(1, round(0.032 * sample_rate))
    mono = np.asarray(wav, dtype=np.float64).mean(axis=0)
    if not speech or mono.size < size or not len(times):
        return out
    frames = np.lib.stride_tricks.sliding_window_view(mono, size)[::size // 2 or 1]
    power = np.mean(np.square(frames), axis=1)
    floor = float(np.percentile(10 * np.log10(power + 1e-12), 10))
    centre = (np.arange(len(power)) * (size // 2 or 1) + size / 2) / sample_rate
    in_speech = np.zeros(len(power), dtype=bool)
    for a, b in speech:
        in_speech |= (centre >= a) & (centre < b)
    for k, (a, b) in enumerate(times):
        inside = (centre >= a) & (centre < b)
        quiet = inside & ~in_speech
        if inside.any() and quiet.sum() * 2 >= inside.sum():
            out[k] = 10 * np.log10(float(power[quiet].mean()) + 1e-12) - floor <= floor_db
    return out


def audible_rest(rest: dict, wav: np.ndarray, dialogue: np.ndarray, sample_rate: int, *,
                 under_db: float = REST_UNDER_DB) -> dict:
    """The tagger's answer on the mix less the dialogue, its layer evidence kept only in the patches where that
    background is audible: no more than ``under_db`` under the mix there (a voice's clipped onset or breath,
    26 dB under the line, is not a layer of the shot). ``wav`` and ``dialogue``: ``(channels, samples)``."""
    lay = rest.get("layers") or {}
    times = np.asarray(lay.get("times") or np.zeros((0, 2)), dtype=float).reshape(-1, 2)
    mix = np.asarray(wav, dtype=np.float64)
    back = mix - np.asarray(dialogue, dtype=np.float64)
    keep = np.zeros(len(times), dtype=bool)
    for k, (a, b) in enumerate(times):
        i, j = int(round(a * sample_rate)), int(round(b * sample_rate))
        total = float(np.sum(np.square(mix[:, i:j])))
        keep[k] = total > 0 and float(np.sum(np.square(back[:, i:j]))) >= total * 10 ** (-under_db / 10)
    layers = {key: (np.where(keep, np.asarray(v, dtype=float), 0.0).tolist() if key != "times" and len(v) == len(keep)
                    else v) for key, v in lay.items()}
    return {**rest, "layers": layers}


def shot_layer_evidence(tagged: dict, stems: dict | None = None, *, impulsive: bool = True, rest: dict | None = None
                        ) -> tuple[np.ndarray, dict]:
    """Patch times and per-patch evidence of every layer: the mix's, raised by the stem that carries the
    layer (``stems`` maps ``"dialogue"``/``"music"``/``"effects"`` to that stem's tagger answer) where the
    stem was tagged on the same patches. A stem only speaks for its own layers (speech leaking into the
    effects stem never adds speech), so a layer under a louder one is heard where its own stem says so,
    when that stem is mostly that layer (:func:`_stem_holds`). ``rest`` (the tagger's answer on the mix less
    the dialogue) raises every layer but speech, in the patches where it is that layer at least as much as
    speech (elsewhere it is the voice the dialogue left behind, a breath, a clipped onset): the music /
    effects split of a bed is the separator's least sure one, and a quiet bed's share falls under both
    stems' (measured in benchmarks/README.md).
    Not ``impulsive`` (the measured mix): the effects evidence leaves out the one-event classes
    (``"effects_steady"``, when the tagger gives it)."""
    lay = tagged.get("layers") or {}
    times = np.asarray(lay.get("times") or np.zeros((0, 2)), dtype=float).reshape(-1, 2)
    out = {}
    for kind in LAYER_ORDER:
        key = "effects_steady" if kind == "effects" and not impulsive and "effects_steady" in lay else kind
        p = np.asarray(lay.get(key, np.zeros(len(times))), dtype=float)
        stem = (stems or {}).get(LAYER_STEM[kind]) or {}
        q = np.asarray((stem.get("layers") or {}).get(key, []), dtype=float)
        if q.shape == p.shape and p.size and _stem_holds(stem, kind):
            p = np.maximum(p, q)
        r = np.asarray(((rest or {}).get("layers") or {}).get(key, []), dtype=float)
        voice = np.asarray(((rest or {}).get("layers") or {}).get("speech", []), dtype=float)
        if kind != "speech" and r.shape == p.shape == voice.shape and p.size:
            p = np.maximum(p, np.where(r >= voice, r, 0.0))  # where the background is the bed, not the voice's leak
        out[kind] = p
    return times, out


def _stem_holds(stem: dict, kind: str) -> bool:
    """Whether a stem's tagger answer is mostly its own ``kind`` of sound, not a rival layer that leaked in
    (the drums of a song in the effects stem, a bed in the music stem): ``kind``'s prominence in the stem
    at least that of every layer which belongs to another stem, speech aside (speech leaks everywhere and
    never counts from a stem other than the dialogue)."""
    scores = stem.get("type_scores") or {}
    own = {k for k, name in LAYER_STEM.items() if name == LAYER_STEM[kind]}
    rivals = [k for k in LAYER_ORDER if k not in own and k != "speech"]
    return all(float(scores.get(kind, 0.0)) >= float(scores.get(r, 0.0)) for r in rivals)


def layers_from_tags(tagged: dict, *, speech: list, duration_s: float, presence=None, stems: dict | None = None,
                     features=None, transcript: dict | None = None, background=None, sung=(),
                     shares: dict | None = None, rest: dict | None = None) -> list[Layer]:
    """Layers of a shot from a tagger's per-patch layer evidence (``tagged["layers"]``, YAMNet), its stems'
    and the VAD.

    A layer is present in the patches where its evidence (:func:`shot_layer_evidence`: the noisy-OR of its
    classes, from the mix or from its own stem) reaches ``presence`` (:data:`LAYER_PRESENCE` per layer, or
    one float for all). Speech needs more than the VAD, which fires on crowds: it is present when an ASR
    transcript with confident words says so (:func:`confident_transcript`), or when the tagger hears speech
    (present in a patch, or :data:`SPEECH_CONFIRM` on average over the VAD's patches) AND the voice is one
    talker in front (the mix's measured ``features.energy_std_db`` at or above
    :data:`TALKER_MIN_DB`; no ``features`` skips that check and the next) and not a crowd's shouting (no VAD
    speech in the shot, and a class of :data:`CROWD_CLASSES` heard). Where the mix has no impulsive
    energy (``features.impulsiveness`` at or under :data:`IMPULSIVE_SHARE`), one-event classes are not
    evidence of effects. The tagger's speech without a talker in front is a
    crowd: it joins the ambience layer, named as babble. Confirmed speech takes the VAD's spans when the VAD
    covers at least ``SPEECH_SHARE_LO`` of the shot (finer than 0.96 s patches). ``background`` (one bool per
    patch, :func:`background_patches`): effects are not heard in the shot's background patches (room tone
    around speech, :data:`FLOOR_DB`). ``sung``: ``(start_s, end_s)`` stretches where the voice sings
    (:mod:`avshooter.audio.singing`): the tagger's speech in a patch mostly inside them is the song's voice.
    Layers are ordered by their score (the tagger's type score: mean best-class probability; speech at
    least its VAD share), most prominent first; ``shares`` (each stem's share of the shot's energy): speech
    comes first wherever its dialogue stem is the loudest stem (a line in front of its music or bed, which the
    tagger hears all through the shot and the line only while it lasts). ``rest``: the tagger's answer on the
    mix less the dialogue stem, which speaks for every layer but speech (the bed under a voice, heard
    without the voice; its speech is the dialogue's leak). Words: the
    layer's timed labels (finest first), else its best tags: the mix's, else the background's (a layer heard
    only under a louder voice is named by what heard it).
    """
    from .labels import spans as patch_spans

    if presence is None:
        presence = LAYER_PRESENCE
    if not isinstance(presence, dict):
        presence = {kind: float(presence) for kind in LAYER_ORDER}
    talker_db = getattr(features, "energy_std_db", None)
    impulsive = features is None or (getattr(features, "impulsiveness", None) or 0.0) > IMPULSIVE_SHARE
    times, ev = shot_layer_evidence(tagged, stems, impulsive=impulsive, rest=rest)
    vad_share = min(1.0, _span_cover(speech) / duration_s) if duration_s > 0 else 0.0
    heard = {kind: (ev[kind] >= presence[kind]) if ev[kind].size else np.zeros(0, bool) for kind in LAYER_ORDER}
    if background is not None and len(background) == heard["effects"].size:
        heard["effects"] = heard["effects"] & ~np.asarray(background, dtype=bool)
    if len(sung) and heard["speech"].size:
        in_song = np.array([sum(max(0.0, min(b, e) - max(a, s)) for s, e in sung) >= 0.5 * (b - a)
                            for a, b in times], dtype=bool)
        heard["speech"] = heard["speech"] & ~in_song
    # prominence: the mean best-class probability (the tagger's type scores); the noisy-OR of a layer of
    # correlated classes (Music + Musical instrument + a genre) says THAT it is there, not how far in front
    prominence = {kind: float((tagged.get("type_scores") or {}).get(kind, 0.0)) for kind in LAYER_ORDER}
    if not impulsive and ev["effects"].size:
        prominence["effects"] = min(prominence["effects"], float(ev["effects"].mean()))
    in_vad = np.array([any(a < e and s < b for s, e in speech) for a, b in times], dtype=bool)
    tagger_speech = bool(heard["speech"].any()) or bool(
        in_vad.any() and ev["speech"][in_vad].mean() >= SPEECH_CONFIRM)
    confirmed = confident_transcript(transcript)
    shouting = [t["label"] for t in sorted(tagged.get("labels", []), key=lambda t: -t.get("score", 0.0))
                if t.get("label") in CROWD_CLASSES] if not speech else []
    crowd_heard = bool(shouting)
    crowd = tagger_speech and not confirmed and (crowd_heard or (talker_db is not None and talker_db < TALKER_MIN_DB))
    if crowd:   # voices, none in front: a crowd bed
        heard["ambience"] = heard["ambience"] | heard["speech"] | in_vad
        prominence["ambience"] = max(prominence["ambience"], prominence["speech"])
    out = []
    for kind in LAYER_ORDER:
        found = patch_spans(times, heard[kind]) if heard[kind].size else []
        score = prominence[kind]
        if kind == "speech":
            found = []
            if (tagger_speech and not crowd) or confirmed:
                found = (patch_spans(times, heard[kind]) if vad_share < SPEECH_SHARE_LO and heard[kind].any()
                         else [tuple(s) for s in speech])
                score = max(score, vad_share)
        if found:
            words = _layer_words(tagged, kind) or (_layer_words(rest, kind, tags=False) if rest else [])
            if kind == "ambience" and crowd:
                name = shouting[0] if shouting else CROWD_LABEL  # a cheering crowd is not a murmur
                words = [name] + [w for w in words if w != name][:1]
            out.append(Layer(kind, score, found, words))
    dialogue = float((shares or {}).get("dialogue", 0.0))
    front = dialogue > 0 and all(dialogue >= float(v) for k, v in shares.items() if k != "dialogue")
    out.sort(key=lambda layer: (not (front and layer.type == "speech"), -layer.score, LAYER_ORDER.index(layer.type)))
    return out


def _layer_words(tagged: dict, kind: str, limit: int = 2, tags: bool = True) -> list[str]:
    labels = [t["label"] for t in sorted(tagged.get("labels", []), key=lambda t: -t["score"])
              if t.get("layer") == kind]
    if tags:
        labels += [t["label"] for t in tagged.get("tags", []) if t.get("layer") == kind and t["score"] >= 0.1]
    seen: list[str] = []
    for label in labels:
        if label not in seen:
            seen.append(label)
    fine = [label for label in seen if label not in GENERIC_LABELS]
    return (fine or seen)[:limit]
