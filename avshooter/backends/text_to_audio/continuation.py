"""Beds continued by inpainting: a scene's ambience and music carried across its shots without crossfades.

For a text-to-audio backend that can continue audio (``continue_bed(prompt, prev_tail, duration_s, *,
seed)``, e.g. ``stable-audio-3``), instead of generating each bed or chunk on its own and crossfading them:

- :func:`continue_run` makes consecutive segments (shots, or pieces of a segment longer than one call)
  back to back, each inpainted after the audio before it;
- :func:`scene_beds` builds the ambience layer (one continuous bed per run of shots in one scene; a scene
  the story returns to continues from where its bed stopped; scene changes are still crossfaded) and the
  music layer (the music of consecutive shots in one scene continued across their cuts);
- :func:`seam_levels` measures joins: the level jump (dB, RMS just before vs just after) and the spectral
  flux at the join relative to the clip's own median flux (1.0 = as smooth as anywhere else in it).

Lengths are exact to the sample at every step; only ``avshooter.generation.pipeline`` decides to call this.
"""
from __future__ import annotations

import math

import numpy as np

from ...errors import BackendError, InputError
from ...units import to_samples

__all__ = ["supports_continuation", "continue_run", "scene_beds", "continued_layers", "seam_levels"]

SILENT_PEAK = 10 ** (-70 / 20)


def supports_continuation(tta) -> bool:
    """True when ``tta`` can continue audio by inpainting (has ``continue_bed`` and ``max_continue_s``)."""
    return callable(getattr(tta, "continue_bed", None)) and getattr(tta, "max_continue_s", 0) > 0


def continue_run(tta, prompts: list[str], lengths: list[int], seeds: list[int], *,
                 context: np.ndarray | None = None) -> tuple[np.ndarray, list[int]]:
    """Segments back to back at ``tta.sample_rate``, each continuing the audio before it.

    Parameters
    ----------
    tta : backend with ``generate``, ``continue_bed``, ``max_duration_s``, ``max_continue_s``, ``sample_rate``
    prompts : list of str
        One per segment.
    lengths : list of int
        Samples of each segment at ``tta.sample_rate`` (> 0).
    seeds : list of int
        One per segment; extension piece ``k`` of a segment uses ``seed + k``.
    context : np.ndarray (channels, n), optional
        Earlier audio to continue from (e.g. where this scene's bed stopped); it is not changed.

    Returns
    -------
    (np.ndarray (channels, sum(lengths)) float32, list of int)
        The run and its joins (sample positions where a continuation starts).
    """
    if not (len(prompts) == len(lengths) == len(seeds)) or not prompts:
        raise InputError("continue_run: give one prompt, length and seed per segment (at least one)")
    if any(int(n) <= 0 for n in lengths):
        raise InputError(f"continue_run: segment lengths must be > 0 samples, got {list(lengths)}")
    sr = tta.sample_rate
    room = math.floor(tta.max_continue_s * sr)  # floor: n / sr never exceeds the backend's limit
    first = math.floor(tta.max_duration_s * sr)
    buf: np.ndarray | None = None
    joins: list[int] = []
    for prompt, length, seed in zip(prompts, lengths, seeds):
        done, k = 0, 0
        while done < length:
            if buf is None and context is None:
                n = min(length - done, first)
                piece = tta.generate([prompt], [n / sr], seeds=[seed + k])[0]["wav"]
                buf = np.asarray(piece, np.float32)
            else:
                n = min(length - done, room)
                tail = buf if buf is not None else np.asarray(context, np.float32)
                res = tta.continue_bed(prompt, tail, n / sr, seed=seed + k)
                if buf is None:  # continuing earlier, non-adjacent audio: its tail stays as it was
                    buf = res["wav"]
                else:
                    j = res["lead"].shape[1]
                    if j:
                        buf[:, buf.shape[1] - j:] = res["lead"]
                    joins.append(buf.shape[1])
                    buf = np.concatenate([buf, res["wav"]], axis=1)
            done += n
            k += 1
    if buf.shape[1] != sum(int(n) for n in lengths):
        raise BackendError(f"continue_run made {buf.shape[1]} samples, expected {sum(lengths)}")
    return buf, joins


def scene_beds(tta, spans: list[tuple[int, int]], sample_rate: int, *, scene_ids: list[str],
               ambience: dict[str, str] | None, music: list[str | None] | None, seed: int,
               music_seeds: list[int] | None = None, ambience_seeds: dict[str, int] | None = None,
               crossfade_s: float = 1.0, fade_s: float = 0.05) -> dict:
    """The ambience and music layers of a story made by continuation, exactly ``spans[-1][1]`` samples long.

    Parameters
    ----------
    tta : a backend for which :func:`supports_continuation` holds
    spans : list of (int, int)
        Shot sample spans at ``sample_rate``.
    sample_rate : int
        Rate of the returned layers.
    scene_ids : list of str
        Scene of each shot.
    ambience : dict scene id -> prompt, or None
        Scenes without a prompt get no ambience; None = no ambience layer.
    music : list of (str or None), or None
        Music prompt per shot; None = no music layer.
    seed : int
        Ambience run ``r`` uses ``seed + 10_000 + r`` (without ``ambience_seeds``).
    music_seeds : list of int, optional
        One per shot (default ``seed + 7 + shot index``).
    ambience_seeds : dict scene id -> int, optional
        A stable seed per scene: the ``v``-th run of a scene (0 for its first) uses ``ambience_seeds[scene] + v``.
    crossfade_s, fade_s : float
        Crossfade at scene changes and end fades of the ambience (as :func:`avshooter.audio.mix.crossfade_beds`).

    Returns
    -------
    dict
        ``{"ambience": (2, total) | None, "music": (2, total) | None, "joins": {"ambience": [s], "music": [s]},
        "seams": {"ambience": [...], "music": [...]}, "runs": [(scene, first, stop)]}`` (joins in seconds,
        seams by :func:`seam_levels`, runs of shots in one scene; ``"ambience_seeds"``: the seed of each run).
    """
    from ...audio.mix import crossfade_beds
    from ...audio.resample import resample

    if not supports_continuation(tta):
        raise BackendError(f"text-to-audio backend {getattr(tta, 'name', tta)!r} cannot continue audio by inpainting")
    if len(scene_ids) != len(spans) or not spans:
        raise InputError(f"scene_beds: {len(spans)} spans and {len(scene_ids)} scene ids (one per shot, >= 1)")
    sr_in, total = tta.sample_rate, int(spans[-1][1])

    def at_rate(wav, n_out):
        wav = resample(wav, sr_in, sample_rate)
        if wav.shape[0] == 1:
            wav = np.repeat(wav, 2, axis=0)
        out = np.zeros((2, n_out), np.float32)
        m = min(n_out, wav.shape[1])  # resampling rounds: at most a sample or two to pad or cut
        out[:, :m] = wav[:2, :m]
        if not np.isfinite(out).all() or float(np.max(np.abs(out))) < SILENT_PEAK:
            raise BackendError(f"text-to-audio backend returned silence or NaN for a bed ({n_out} samples)")
        return out

    def in_rate(n_out):
        return math.ceil(n_out * sr_in / sample_rate)

    runs: list[list] = []  # [scene, first shot, stop shot]
    for i, sid in enumerate(scene_ids):
        if runs and runs[-1][0] == sid:
            runs[-1][2] = i + 1
        else:
            runs.append([sid, i, i + 1])
    visits: dict[str, int] = {}
    run_seeds = []
    for r, (sid, _, _) in enumerate(runs):
        run_seeds.append(seed + 10_000 + r if ambience_seeds is None or sid not in ambience_seeds
                         else ambience_seeds[sid] + visits.get(sid, 0))
        visits[sid] = visits.get(sid, 0) + 1
    result = {"ambience": None, "music": None, "joins": {"ambience": [], "music": []},
              "seams": {"ambience": [], "music": []}, "runs": [tuple(r) for r in runs], "ambience_seeds": run_seeds}

    if ambience is not None and any(ambience.get(s) for s, _, _ in runs):
        xfade = to_samples(crossfade_s, sample_rate)
        beds, run_ids, tails = {}, [], {}
        for r, (sid, a, b) in enumerate(runs):
            run_ids += [str(r)] * (b - a)
            prompt = ambience.get(sid)
            if not prompt:
                beds[str(r)] = None
                continue
            stop = total if r == len(runs) - 1 else spans[runs[r + 1][1]][0]
            n_out = stop - spans[a][0] + xfade  # covers half a crossfade on each inner side
            wav, joins = continue_run(tta, [prompt], [in_rate(n_out)], [run_seeds[r]], context=tails.get(sid))
            tails[sid] = wav
            beds[str(r)] = at_rate(wav, n_out)
            result["seams"]["ambience"] += _shifted(seam_levels(wav, sr_in, joins), spans[a][0] / sample_rate)
            result["joins"]["ambience"] += [spans[a][0] / sample_rate + j / sr_in for j in joins]
        result["ambience"] = crossfade_beds(beds, spans, run_ids, sample_rate, crossfade_s=crossfade_s, fade_s=fade_s)

    if music is not None and any(music):
        if len(music) != len(spans):
            raise InputError(f"scene_beds: {len(music)} music prompts for {len(spans)} shots")
        seeds = list(music_seeds) if music_seeds is not None else [seed + 7 + i for i in range(len(spans))]
        layer = np.zeros((2, total), np.float32)
        i = 0
        while i < len(spans):
            if not music[i]:
                i += 1
                continue
            stop = i + 1
            while stop < len(spans) and music[stop] and scene_ids[stop] == scene_ids[i]:
                stop += 1
            a, b = spans[i][0], spans[stop - 1][1]
            edges = [in_rate(spans[k][1] - a) for k in range(i, stop)]
            lengths = [e - p for e, p in zip(edges, [0] + edges[:-1])]
            wav, joins = continue_run(tta, list(music[i:stop]), lengths, seeds[i:stop])
            layer[:, a:b] = at_rate(wav, b - a)
            result["seams"]["music"] += _shifted(seam_levels(wav, sr_in, joins), a / sample_rate)
            result["joins"]["music"] += [a / sample_rate + j / sr_in for j in joins]
            i = stop
        result["music"] = layer
    return result


def continued_layers(tta, story, prompt_set, spans, total: int, config, *, seeds: dict | None = None) -> dict:
    """``generate``'s ambience and music layers by continuation: ``{"ambience": (track | None, metas),
    "music": (track | None, metas)}`` in the form of :mod:`avshooter.generation.layers` (one record per
    shot), each record with ``"continued": True`` and the ``"seams"`` (:func:`seam_levels`) in its shot.

    Reads ``config.ambience``, ``config.music``, ``config.sample_rate``, ``config.seed``,
    ``config.scene_crossfade_s``, ``config.fade_s``; ``prompt_set.ambience`` (scene -> prompt) and each
    shot prompt's ``music`` and ``seed``. The beds cover the shots (first start to last stop); before and
    after, silence, as the crossfaded beds do. ``seeds``: ``{"music": [per shot], "ambience": {scene: seed}}``
    (the pipeline's stable seeds, :func:`avshooter.generation.layers.clip_seeds`); without it, the
    positional rule of :func:`scene_beds`.
    """
    sr = config.sample_rate
    origin = spans[0][0]
    local = [(a - origin, b - origin) for a, b in spans]
    scene_ids = [shot.scene or "" for shot in story.shots]
    shots = prompt_set.shots
    music = [p.music or None for p in shots] if config.music else None
    music_seeds = list(seeds["music"]) if seeds else [p.seed + 7 for p in shots]
    beds = scene_beds(tta, local, sr, scene_ids=scene_ids,
                      ambience=dict(prompt_set.ambience) if config.ambience else None, music=music,
                      seed=config.seed, music_seeds=music_seeds, ambience_seeds=(seeds or {}).get("ambience"),
                      crossfade_s=config.scene_crossfade_s, fade_s=config.fade_s)
    name = getattr(tta, "name", type(tta).__name__)

    def record(prompt, seed, reason, layer, i):
        if not prompt:
            return {"prompt": None, "backend": None, "seed": None, "source": None, "score": None,
                    "status": "none", "reason": reason}
        a, b = local[i][0] / sr, local[i][1] / sr
        seams = [x for x in beds["seams"][layer] if a <= x["at_s"] < b]
        return {"prompt": prompt, "backend": name, "seed": seed, "source": None, "score": None,
                "status": "filled", "reason": None, "continued": True,
                "seams": [{**x, "at_s": round(x["at_s"] + origin / sr, 6)} for x in seams]}

    out = {}
    run_seed = {}
    for r, (sid, a, b) in enumerate(beds["runs"]):
        run_seed.update({i: beds["ambience_seeds"][r] for i in range(a, b)})
    amb = [{**record((prompt_set.ambience.get(scene_ids[i]) if config.ambience else None), run_seed[i],
                     "ambience is turned off" if not config.ambience else f"no ambience prompt for scene {scene_ids[i]!r}",
                     "ambience", i), "scene": story.shots[i].scene} for i in range(len(spans))]
    mus = [record(music[i] if music else None, music_seeds[i],
                  "music is turned off" if music is None else "no music prompt", "music", i) for i in range(len(spans))]
    for layer, metas in (("ambience", amb), ("music", mus)):
        track = None
        if beds[layer] is not None:
            track = np.zeros((2, total), np.float32)
            track[:, origin:origin + beds[layer].shape[1]] = beds[layer]
        out[layer] = (track, metas)
    return out


def _shifted(seams: list[dict], offset_s: float) -> list[dict]:
    return [{**s, "at_s": round(s["at_s"] + offset_s, 6)} for s in seams]


def seam_levels(wav: np.ndarray, sample_rate: int, joins: list[int], *, window_s: float = 0.05) -> list[dict]:
    """How audible each join is: level jump and relative spectral flux.

    Parameters
    ----------
    wav : np.ndarray, shape (channels, n)
    sample_rate : int
    joins : list of int
        Sample positions of the joins (a crossfade's centre for crossfaded chunks).
    window_s : float
        Length of the windows compared on each side of a join.

    Returns
    -------
    list of dict
        ``{"at_s", "level_jump_db", "flux_ratio", "typical_jump_db"}`` per join that has a full window on
        both sides: ``level_jump_db`` = |RMS dB of the window before - RMS dB of the window after|;
        ``typical_jump_db`` = the median of that between adjacent windows anywhere in the clip;
        ``flux_ratio`` = spectral flux (L2 distance of the windows' normalised log-magnitude spectra)
        across the join divided by the median flux between adjacent windows in the clip (1.0 = typical,
        >> 1 = a seam).
    """
    x = np.asarray(wav, np.float64)
    x = x.mean(axis=0) if x.ndim == 2 else x
    w = max(16, to_samples(window_s, sample_rate))
    hann = np.hanning(w)

    def spec(seg):
        mag = np.log(np.abs(np.fft.rfft(seg * hann)) + 1e-6)
        return mag / (np.linalg.norm(mag) + 1e-12)

    def db(seg):
        return 20 * math.log10(max(float(np.sqrt(np.mean(seg ** 2))), 1e-9))

    starts = np.arange(0, len(x) - 2 * w + 1, w)
    base = [np.linalg.norm(spec(x[s:s + w]) - spec(x[s + w:s + 2 * w])) for s in starts]
    median = float(np.median(base)) if base else 0.0
    typical = float(np.median([abs(db(x[s:s + w]) - db(x[s + w:s + 2 * w])) for s in starts])) if len(starts) else None
    out = []
    for j in joins:
        if j - w < 0 or j + w > len(x):
            continue
        before, after = x[j - w:j], x[j:j + w]
        flux = float(np.linalg.norm(spec(before) - spec(after)))
        out.append({"at_s": round(j / sample_rate, 6), "level_jump_db": round(abs(db(before) - db(after)), 3),
                    "flux_ratio": round(flux / median, 3) if median > 0 else None,
                    "typical_jump_db": None if typical is None else round(typical, 3)})
    return out
