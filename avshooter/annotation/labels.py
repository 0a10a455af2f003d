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

# The class -> layer mapping, the event labels and the phrases live in the leaf vocabulary package
# (issue 17); they are re-exported here for the describer and the tagger.
from ..vocabulary.layers import EVENT_LABELS, LAYERS, class_layer, class_layers  # noqa: F401
from ..vocabulary.phrases import PHRASES, phrase  # noqa: F401  (re-exported)

__all__ = ["LAYERS", "EVENT_LABELS", "LAYER_TOP_K", "TYPING_VERSION", "class_layer", "class_layers", "phrase",
           "layer_evidence", "summarise", "spans"]

LAYER_TOP_K = 3
"""Classes per layer and patch that the noisy-OR combines (see the module docstring)."""
# 3: room tone around speech is not an effects layer (issue 20); 4: nor a song's voice speech; 5: a line whose
# dialogue stem is the loudest stem is the main layer; 6: the mix less the dialogue speaks for the other layers
TYPING_VERSION = "6"
"""Version of the typing rules (layer evidence here, layer presence in :mod:`avshooter.annotation.describe`);
the config hash covers it, so a change that types shots differently redoes finished datasets."""


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
