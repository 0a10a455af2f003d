"""Retrieval of sound events: one layer clip from the bank events that sound as the prompt's named sounds.

What this module owns: for one prompt of the effects or ambience layer, the sounds it names
(:func:`.event_match.prompt_classes`), the best bank event for each (:func:`.event_match.candidates`), the
clip built from them (:mod:`.event_clips`), and the record of where every piece came from::

    source = {"id", "file", "offset_s", "stem",            # the first event, as the shot-level match names it
              "events": [{"words", "class", "match", "bank_class", "shot", "file" (relative to the bank),
                          "stem" (cut from), "labelled_on" (the stem the tagger heard it in), "start_s",
                          "end_s", "score", "lufs", "layer", "placed_s", "placed_end_s", "placement"}],
              "missing": ["sword clang", ...]}              # named sounds the bank has no event for

A prompt naming sounds none of which the bank holds gives no clip: ``"wav": None`` with the reason
"missing in the bank: thunder, heavy rain" (the caller keeps the layer silent and says so). With ``top_k >
1`` the seed picks among the ``top_k`` best events of the best relation and stem.
"""
from __future__ import annotations

import numpy as np

from .event_clips import compose, cut_event
from .event_match import candidates, own_stem_row, prompt_classes

__all__ = ["MISSING", "event_clip", "missing_sounds", "named_sounds"]

MISSING = "missing in the bank: "
"""How a silent layer's reason starts when the bank lacked the named sounds (read by :func:`missing_sounds`)."""

_SILENT_PEAK = 1e-4


def named_sounds(prompt: str, *, device: str = "cpu") -> list[dict]:
    """The sounds ``prompt`` names that have an AudioSet class (see :func:`.event_match.prompt_classes`)."""
    return [s for s in prompt_classes(prompt, device=device) if s["class"]]


def event_clip(index, sounds: list[dict], duration_s: float, *, seed: int, layer: str, sample_rate: int,
               top_k: int = 1, pre_roll_s: float = 0.1, post_roll_s: float = 0.25, fade_s: float = 0.02,
               crossfade_s: float = 0.5, device: str = "cpu") -> dict:
    """One clip of ``duration_s`` at ``sample_rate`` from the bank events that sound as ``sounds``.

    Returns the backend's per-prompt result: ``{"wav" or None, "seed", "score", "matched", "source",
    "reason" (without a clip), "candidates"}`` (see the module docstring for ``source``).
    """
    from ...vocabulary import layer_of

    rng = np.random.default_rng(seed)
    events, missing, offered = [], [], []
    for sound in sounds:
        found = candidates(index, sound["class"], layer, device=device)
        if sound.get("how") == "place":  # a place's bed is that environment's recording, not a look-alike's
            found = [c for c in found if c[1] in ("exact", "child")]
        if not found:
            missing.append(sound["words"])
            continue
        best = found[0]
        group = [c for c in found if (c[1], index.columns["stem"][c[0]]) == (best[1], index.columns["stem"][best[0]])]
        pick = group[int(rng.integers(min(top_k, len(group))))] if top_k > 1 else best
        row = index.row(pick[0])
        labelled_on = row["stem"]
        own = own_stem_row(index, pick[0], layer)
        if own is not None:  # the same span, from the separated stem of the layer
            row = {**row, "file": index.row(own)["file"], "stem": index.columns["stem"][own].item()}
        row = {**row, **_recurrence(index, pick[0])}
        own_layer = layer_of(sound["class"])
        host = next((e for e in events if e["_abs"] == row["file"] and e["layer"] == "effects"
                     and e["_span"][0] <= row["start_s"] and row["end_s"] <= e["_span"][1]), None)
        if host is not None and own_layer != "ambience" and layer != "ambience":
            # heard inside the clip already cut for another named sound (the same recording, the same time)
            events.append({"wav": None, "words": sound["words"], "class": sound["class"], "match": pick[1],
                           "bank_class": row["class"], "shot": row["shot"], "file": host["file"], "stem": host["stem"],
                           "labelled_on": labelled_on, "start_s": round(row["start_s"], 4),
                           "end_s": round(row["end_s"], 4), "score": round(float(row["score"]), 4),
                           "lufs": None if not np.isfinite(row["lufs"]) else round(float(row["lufs"]), 2),
                           "layer": "effects", "_abs": row["file"], "_host": host, "_span": (row["start_s"], row["end_s"])})
            offered += [{"class": sound["class"], "shot": index.columns["shot"][k].item(),
                         "bank_class": index.columns["class"][k].item(), "match": how,
                         "score": round(float(index.columns["score"][k]), 4)} for k, how in found[:3]]
            continue
        wav, start, end = cut_event(row, sample_rate, pre_roll_s=pre_roll_s, post_roll_s=post_roll_s, fade_s=fade_s)
        events.append({"wav": wav, "words": sound["words"], "class": sound["class"], "match": pick[1],
                       "bank_class": row["class"], "shot": row["shot"],
                       "file": index.columns["file"][own if own is not None else pick[0]].item(),
                       "stem": row["stem"], "labelled_on": labelled_on, "start_s": start, "end_s": end, "score": round(float(row["score"]), 4),
                       "lufs": None if not np.isfinite(row["lufs"]) else round(float(row["lufs"]), 2),
                       "layer": "ambience" if layer == "ambience" or own_layer == "ambience" else "effects",
                       "_abs": row["file"], "_span": (start, end)})
        offered += [{"class": sound["class"], "shot": index.columns["shot"][k].item(),
                     "bank_class": index.columns["class"][k].item(), "match": how,
                     "score": round(float(index.columns["score"][k]), 4)} for k, how in found[:3]]
    if not events:
        reason = MISSING + ", ".join(missing)
        return {"wav": None, "seed": seed, "score": None, "matched": False, "source": None, "reason": reason,
                "candidates": [], "missing": missing}
    inside = [e for e in events if e["wav"] is None]
    events = [e for e in events if e["wav"] is not None]
    wav, placed = compose(events, duration_s, sample_rate, fade_s=fade_s, crossfade_s=crossfade_s)
    for e in inside:  # placed where its host went, at its own offset in the host's span
        host = next(p for p in placed if p["words"] == e["_host"]["words"] and p["file"] == e["_host"]["file"])
        at = host["placed_s"] + e["_span"][0] - e["_host"]["_span"][0]
        placed.append({**{k: v for k, v in e.items() if not k.startswith("_") and k != "wav"},
                       "placed_s": round(at, 4), "placed_end_s": round(at + e["_span"][1] - e["_span"][0], 4),
                       "placement": f"inside the clip of {e['_host']['words']!r} (the same recording)"})
    if float(np.max(np.abs(wav))) < _SILENT_PEAK:
        return {"wav": None, "seed": seed, "score": None, "matched": False, "source": None,
                "reason": f"the bank events for {', '.join(e['words'] for e in events)} are silent",
                "candidates": offered, "missing": missing}
    first = events[0]
    for p in placed:
        for key in [k for k in p if k.startswith("_")]:
            p.pop(key)
    source = {"id": first["shot"], "file": first["_abs"], "offset_s": first["start_s"], "stem": first["stem"],
              "events": placed, "missing": missing}
    score = float(np.mean([e["score"] for e in events]))
    return {"wav": wav, "seed": seed, "score": score, "matched": True, "source": source, "candidates": offered}


def _recurrence(index, k: int) -> dict:
    """Row ``k``'s span widened to every event of its class in the same shot and stem: a sound that recurs
    (a ball's bounces, footsteps) is cut once with its own rhythm."""
    cols = index.columns
    same = np.flatnonzero((cols["shot"] == cols["shot"][k]) & (cols["stem"] == cols["stem"][k])
                          & (cols["class"] == cols["class"][k]))
    return {"start_s": float(cols["start_s"][same].min()), "end_s": float(cols["end_s"][same].max())}


def missing_sounds(report: dict) -> list[str]:
    """The named sounds a generate report's layers found missing in the bank (each once, in order)."""
    out: list[str] = []
    for shot in report.get("shots") or []:
        for meta in (shot.get("layers") or {}).values():
            reason = (meta or {}).get("reason") or ""
            words = reason[len(MISSING):].split(", ") if reason.startswith(MISSING) else []
            words += ((meta or {}).get("source") or {}).get("missing") or []
            out += [w for w in words if w and w not in out]
    return out
