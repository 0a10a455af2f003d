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

# The class -> layer mapping, the event labels and the phrases live in the leaf vocabulary package
# (issue 17); they are re-exported here for the describer and the tagger.
from ..vocabulary.layers import EVENT_LABELS, LAYERS, class_layer, class_layers  # noqa: F401
from ..vocabulary.phrases import PHRASES, phrase  # noqa: F401

__all__ = ["LAYERS", "EVENT_LABELS", "class_layer", "class_layers", "phrase", "summarise", "spans"]


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


def summarise(times: np.ndarray, probs: np.ndarray, names: list[str], layers, *, top_k: int = 10,
              presence: float = 0.5, max_labels: int = 12) -> dict:
    """Per-clip summary of per-patch class probabilities ``probs (patches, classes)`` at ``times (patches, 2)``.

    Returns ``{"type", "type_scores", "tags", "labels", "layers"}`` as documented in
    :meth:`avshooter.backends.yamnet_tagger.YamnetTagger.tag_many`.
    """
    layers = np.asarray(layers, dtype=object)
    per_layer = {}
    for layer in LAYERS:
        cols = np.flatnonzero(layers == layer)
        per_layer[layer] = probs[:, cols].max(axis=1) if len(cols) and len(probs) else np.zeros(len(probs))
    scores = {k: round(float(v.mean()) if v.size else 0.0, 4) for k, v in per_layer.items()}
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
