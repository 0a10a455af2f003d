"""The layers of a generated soundtrack: each one track on the story's timeline plus one record per shot.

A layer's clips come from the text-to-audio backend (:func:`generate_layer`), are fitted to their span
to the sample and placed on the timeline (``spans``: each shot's ``(first, stop)`` sample; ``total``:
the timeline's length, which may hold gaps and time before the first shot when the shots are cut from
one longer video). Every layer of every shot gets a record::

    {"prompt", "backend", "seed", "source", "score", "status": "filled" | "silent" | "none", "reason"}

Every clip's seed is :func:`layer_seed` of the run's ``seed`` (``--seed``), the layer and a stable key: the
shot (its index and the ``seed`` of its prompt, which an edited ``prompts.json`` may change to re-roll one
shot) for effects and music, the scene ID for ambience. So ``--seed`` changes every generated layer, with
or without ``--prompts``, and adding a scene re-seeds no other scene (shots are keyed by index: inserting
one renumbers, and so re-seeds, the shots after it).

``source`` is where a clip came from (retrieval: ``{"id", "file", "offset_s", "stem"}``, ``file`` relative
to the output folder; a generative model: None, the model is in ``backend`` and the provenance).
"silent" means the backend found nothing good enough (a silent layer is better than a wrong one);
"none" means nothing was asked for (no music prompt, ambience turned off).

The order of the steps is the pipeline's (:mod:`avshooter.generation.pipeline`); these functions only
build tracks.
"""
from __future__ import annotations

import hashlib
import os

import numpy as np

from ..errors import BackendError, InputError, ShotError
from ..units import to_samples

__all__ = ["SILENT_PEAK", "ambience_layer", "clip_seeds", "dialogue_layer", "effects_clips", "generate_layer",
           "layer_seed", "music_layer", "scene_runs", "to_channels"]

# A generated clip whose peak stays below -70 dBFS is silence, not a quiet sound: an error, not a layer.
SILENT_PEAK = 10 ** (-70 / 20)


def to_channels(wav: np.ndarray, channels: int) -> np.ndarray:
    """``wav`` with ``channels`` channels (a mono mean spread, or as is when it already has them)."""
    if wav.shape[0] == channels:
        return wav
    mono = wav.mean(axis=0, keepdims=True)
    return np.repeat(mono, channels, axis=0).astype(np.float32)


def layer_seed(seed: int, layer: str, key: str) -> int:
    """Seed of one generated clip: 31 bits of SHA-256 of the run's ``seed``, the ``layer`` and a stable ``key``.

    A hash, not ``seed + position``: the seed of a clip depends on nothing but its own key, so adding a
    scene elsewhere in the story leaves it as it was.
    """
    digest = hashlib.sha256(f"{int(seed)}\0{layer}\0{key}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def clip_seeds(prompt_set, seed: int) -> dict:
    """The seeds of every clip of a story: ``{"effects": [per shot], "music": [per shot], "ambience": {scene: seed}}``.

    Shots are keyed by their index and their prompt's ``seed``, scenes by their ID (:func:`layer_seed`).
    """
    shot_keys = [f"shot {p.shot} seed {p.seed}" for p in prompt_set.shots]
    scenes = dict.fromkeys([*prompt_set.ambience, *(getattr(p, "ambience_scene", None) for p in prompt_set.shots)])
    return {"effects": [layer_seed(seed, "effects", k) for k in shot_keys],
            "music": [layer_seed(seed, "music", k) for k in shot_keys],
            "ambience": {s: layer_seed(seed, "ambience", f"scene {s}") for s in scenes if s}}


def _none(reason: str) -> dict:
    return {"prompt": None, "backend": None, "seed": None, "source": None, "score": None, "status": "none",
            "reason": reason}


def generate_layer(tta, prompts: list[str], durations_s: list[float], seeds: list[int], *, sample_rate: int,
                   layer: str = "effects", crossfade_s: float = 0.5, fade_s: float = 0.05, negative_prompt=None,
                   num_candidates=1, loop: bool = False,
                   relative_to: str | os.PathLike | None = None) -> list[tuple[np.ndarray | None, dict]]:
    """One clip per prompt, exactly ``to_samples(duration, sample_rate)`` long at ``sample_rate``, and its record.

    Durations past the backend's ``max_duration_s`` are made in chunks (seeds ``seed + k``) joined with
    equal-power crossfades. A backend that fills layers from their own sources (``layer in tta.layers``,
    e.g. retrieval) is told the layer; when it finds nothing good enough it returns ``"wav": None`` with a
    reason, and the clip here is None with ``status = "silent"``. NaN or all-silent model output is an
    error (one line, names the prompt). ``relative_to``: the folder a source file is named relative to.
    """
    from ..audio.fit import chunk_plan, crossfade_concat, fit_to_duration
    from ..audio.resample import resample

    layer_aware = layer in getattr(tta, "layers", ())
    requests = []  # (prompt index, chunk index, prompt, length_s, seed)
    plans = []
    for i, (prompt, duration, seed) in enumerate(zip(prompts, durations_s, seeds)):
        if not prompt or not prompt.strip():
            raise InputError(f"{layer} prompt {i} is empty")
        if duration <= 0:
            raise ShotError(f"{layer} prompt {i}: duration {duration} s must be > 0")
        if duration <= tta.max_duration_s:
            plan = [(0.0, duration)]
        else:
            plan = chunk_plan(duration, max_chunk_s=tta.max_duration_s, crossfade_s=crossfade_s,
                              sample_rate=tta.sample_rate)
        plans.append(plan)
        requests += [(i, k, prompt, length, seed + k) for k, (_, length) in enumerate(plan)]
    extra = {"layer": layer} if layer_aware else {}
    results = tta.generate([r[2] for r in requests], [r[3] for r in requests], seeds=[r[4] for r in requests],
                           negative_prompt=negative_prompt, num_candidates=num_candidates, **extra)
    chunks: dict[int, list] = {}
    for (i, _, prompt, _, _), res in zip(requests, results):
        if res.get("wav") is None and layer_aware:
            chunks.setdefault(i, []).append((None, res))
            continue
        wav = np.asarray(res["wav"], dtype=np.float32)
        if not np.all(np.isfinite(wav)):
            raise BackendError(f"text-to-audio backend returned NaN for {layer} prompt {i} ({prompt[:60]!r})")
        if wav.size == 0 or res.get("silent") or float(np.max(np.abs(wav))) < SILENT_PEAK:
            raise BackendError(f"text-to-audio backend returned silence for {layer} prompt {i} ({prompt[:60]!r})")
        chunks.setdefault(i, []).append((wav, res))
    out = []
    for i, plan in enumerate(plans):
        parts = chunks[i]
        first = parts[0][1]
        source = first.get("source")
        if isinstance(source, dict) and source.get("file") and relative_to is not None:
            source = {**source, "file": os.path.relpath(source["file"], relative_to)}
        meta = {"prompt": prompts[i], "backend": getattr(tta, "name", type(tta).__name__), "seed": seeds[i],
                "source": source, "score": first.get("score"), "chunks": len(plan), "status": "filled",
                "reason": None}
        if any(w is None for w, _ in parts):
            reason = next(r.get("reason") for w, r in parts if w is None) or "no clip"
            out.append((None, {**meta, "source": None, "status": "silent", "reason": reason}))
            continue
        wav = parts[0][0] if len(parts) == 1 else crossfade_concat([w for w, _ in parts], tta.sample_rate,
                                                                    crossfade_s=crossfade_s)
        wav = resample(wav, tta.sample_rate, sample_rate)
        wav = fit_to_duration(wav, sample_rate, num_samples=to_samples(durations_s[i], sample_rate),
                              fade_s=fade_s, mode="loop" if loop else "trim")
        out.append((wav, meta))
    return out


def effects_clips(tta, prompt_set, spans, config, relative_to=None) -> list[tuple[np.ndarray | None, dict]]:
    """The effects clip of every shot (None where its prompt is empty or nothing fits) and its record."""
    sr = config.sample_rate
    wanted = [i for i, p in enumerate(prompt_set.shots) if p.effects and p.effects.strip()]
    out: list[tuple[np.ndarray | None, dict]] = [(None, _none("no effects prompt: nothing in the shot makes a sound"))
                                                 for _ in spans]
    if not wanted:
        return out
    seeds = clip_seeds(prompt_set, config.seed)["effects"]
    clips = generate_layer(
        tta, [prompt_set.shots[i].effects for i in wanted], [(spans[i][1] - spans[i][0]) / sr for i in wanted],
        [seeds[i] for i in wanted], sample_rate=sr, layer="effects",
        crossfade_s=config.chunk_crossfade_s, fade_s=config.fade_s, negative_prompt=config.negative_prompt,
        num_candidates=config.num_candidates, relative_to=relative_to)
    for i, clip in zip(wanted, clips):
        out[i] = clip
    return out


def _scenes(story, prompt_set) -> list[str]:
    """The ambience scene of each shot ("" for none): the prompts' ``ambience_scene``, else the story's."""
    return [(getattr(p, "ambience_scene", shot.scene) or "") for shot, p in zip(story.shots, prompt_set.shots)]


def scene_runs(story, prompt_set=None) -> list[tuple[str, int, int]]:
    """Consecutive runs of shots in one scene: ``[(scene, first_shot, stop_shot)]``."""
    runs = []
    scenes = _scenes(story, prompt_set) if prompt_set is not None else [shot.scene or "" for shot in story.shots]
    for i, scene in enumerate(scenes):
        if runs and runs[-1][0] == scene:
            runs[-1] = (scene, runs[-1][1], i + 1)
        else:
            runs.append((scene, i, i + 1))
    return runs


def ambience_layer(tta, story, prompt_set, spans, total: int, config,
                   relative_to=None) -> tuple[np.ndarray | None, list[dict]]:
    """One bed per scene carried across its consecutive shots, crossfaded at scene changes.

    The beds cover the shots, from the first shot's start to the last shot's end; before, after and in a
    gap between shots (one video whose story leaves parts out), silence, faded. Returns
    ``(track or None, record per shot)``.
    """
    from ..audio.mix import crossfade_beds

    if not config.ambience:
        return None, [_none("ambience is turned off") for _ in spans]
    sr = config.sample_rate
    longest: dict[str, int] = {}
    for scene, a, b in scene_runs(story, prompt_set):
        longest[scene] = max(longest.get(scene, 0), spans[b - 1][1] - spans[a][0])
    scenes = [s for s in longest if s and prompt_set.ambience.get(s)]
    beds: dict[str, np.ndarray | None] = {s: None for s in longest}
    metas = {s: _none(f"no ambience prompt for scene {s!r}" if s else "no ambience scene") for s in longest}
    if scenes:
        seeds = clip_seeds(prompt_set, config.seed)["ambience"]
        clips = generate_layer(
            tta, [prompt_set.ambience[s] for s in scenes],
            [(longest[s] + to_samples(config.scene_crossfade_s, sr)) / sr for s in scenes],
            [seeds[s] for s in scenes], sample_rate=sr, layer="ambience",
            crossfade_s=config.chunk_crossfade_s, fade_s=config.fade_s, loop=True, relative_to=relative_to)
        for s, (wav, meta) in zip(scenes, clips):
            beds[s] = None if wav is None else to_channels(wav, 2)
            metas[s] = meta
    shot_scenes = _scenes(story, prompt_set)
    per_shot = [{**metas[scene], "scene": scene or None} for scene in shot_scenes]
    if all(bed is None for bed in beds.values()):
        return None, per_shot
    origin = spans[0][0]
    local = [(a - origin, b - origin) for a, b in spans]
    beds_track = crossfade_beds(beds, local, shot_scenes, sr,
                                crossfade_s=config.scene_crossfade_s, fade_s=config.fade_s)
    track = np.zeros((beds_track.shape[0], total), np.float32)
    track[:, origin:origin + beds_track.shape[1]] = beds_track
    _silence_gaps(track, spans, to_samples(config.fade_s, sr))
    return track, per_shot


def _silence_gaps(track: np.ndarray, spans, fade: int) -> None:
    """In place: silence between shots that do not meet (one video with a story that leaves parts out: the
    README's promise), with a half-cosine fade of ``fade`` samples out before and in after each gap."""
    from ..audio.fit import fade_in, fade_out

    for (_, b), (a, _) in zip(spans, spans[1:]):
        if a <= b:
            continue
        fade_out(track[:, max(0, b - fade):b], fade)
        track[:, b:a] = 0.0
        fade_in(track[:, a:a + fade], fade)


def music_layer(tta, prompt_set, spans, total: int, config, relative_to=None) -> tuple[np.ndarray | None, list[dict]]:
    """Music in the shots whose prompts carry one (looped to the shot). ``(track or None, record per shot)``."""
    if not config.music:
        return None, [_none("music is turned off") for _ in spans]
    metas = [_none("no music prompt") for _ in spans]
    wanted = [(i, p) for i, p in enumerate(prompt_set.shots) if p.music]
    if not wanted:
        return None, metas
    sr = config.sample_rate
    seeds = clip_seeds(prompt_set, config.seed)["music"]
    clips = generate_layer(tta, [p.music for _, p in wanted], [(spans[i][1] - spans[i][0]) / sr for i, _ in wanted],
                           [seeds[i] for i, _ in wanted], sample_rate=sr, layer="music",
                           crossfade_s=config.chunk_crossfade_s, fade_s=config.fade_s, loop=True,
                           relative_to=relative_to)
    music = np.zeros((2, total), np.float32)
    for (i, _), (wav, meta) in zip(wanted, clips):
        metas[i] = meta
        if wav is not None:
            music[:, spans[i][0]:spans[i][1]] = to_channels(wav, 2)
    if all(wav is None for wav, _ in clips):
        return None, metas
    return music, metas


def dialogue_layer(prompt_set, spans, total: int, config) -> tuple[np.ndarray | None, list[dict]]:
    """The dialogue lines of every shot, spoken by a TTS voice and placed inside their shot."""
    metas = [_none("no dialogue line") for _ in spans]
    if not any(p.dialogue for p in prompt_set.shots):
        return None, metas
    from ..backends.speech import load_tts, place_lines

    sr = config.sample_rate
    track = np.zeros((1, total), np.float32)
    for k, (p, (a, b)) in enumerate(zip(prompt_set.shots, spans)):
        lines = []
        for line in p.dialogue:
            name = config.tts_ja if line.get("language") == "ja" else config.tts
            options = {"voice": line["voice"]} if line.get("voice") else {}
            wav, line_sr = load_tts(name, **options).synthesize(line["text"], language=line.get("language"))
            lines.append({**line, "wav": wav, "sample_rate": line_sr, "tts": name})
        if not lines:
            continue
        placed_track, placed = place_lines(lines, (b - a) / sr, sr, fade_s=config.fade_s)
        track[:, a:b] = placed_track[:, : b - a]
        metas[k] = {"prompt": [line["text"] for line in lines],
                    "backend": sorted({line["tts"] for line in lines}), "seed": None, "source": None,
                    "score": None, "status": "filled", "reason": None, "lines": placed}
    return track, metas
