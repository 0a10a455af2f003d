"""The generate pipeline: story + shot videos -> prompts -> audio per layer -> fit -> sync -> mix -> mp4s.

The one module that knows the order of the steps of ``avshooter generate``:

1. read the story (strict IDs) and the shot videos: a folder with one video per shot, in shot order =
   names with numbers as numbers (each shot's length comes from its video; times in the story are
   optional and, when given, only checked against the videos), or one video cut by the story's shot
   times (required then) (:mod:`avshooter.generation.timeline`);
2. the timeline: with a folder, the shots end to end from 0 (the story mp4 joins the videos); with one
   video, the video's own timeline: every shot sits at its own times, and time before the first shot,
   between shots and after the last one stays silent;
3. prompts: ``prompts.json`` given by the user, else built from the story (and saved for editing);
4. per shot: effects from the text-to-audio backend (in crossfaded chunks past the model's maximum),
   fitted to the shot to the sample, then synced to the shot's visual events; music where the prompts
   carry one; dialogue lines from a TTS voice placed inside the shot; one ambience bed per scene carried
   across its consecutive shots (:mod:`avshooter.generation.layers`);
5. mix at the loudness target with ducking and a true-peak limit; write the soundtrack and stems;
6. mux the story mp4 and one mp4 per shot (video stream copied when possible) and ``generate.json``
   (per shot: the name of its video file; per shot and layer: prompt, backend, seed, source, score, or
   why the layer is silent; paths relative to the output folder).

Every step below is a function on arrays or records that can be called on its own.
"""
from __future__ import annotations

import logging
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np

from .. import __version__
from ..config import GenerateConfig, config_hash
from ..errors import BackendError, InputError
from ..io.output import atomic_write_json, ensure_dir, staging_dir, write_audio
from .layers import to_channels
from .timeline import input_fingerprint, resolve_shot_videos, timeline

log = logging.getLogger("avshooter")

__all__ = ["generate"]

def generate(
    story: str | os.PathLike | dict,
    videos: str | os.PathLike,
    *,
    out_dir: str | os.PathLike,
    config: GenerateConfig | None = None,
    prompts: str | os.PathLike | dict | None = None,
    lock=None,
) -> dict:
    """Generate, sync, mix and mux the soundtrack of a story; return the report written to ``generate.json``.

    Writes into ``out_dir``: ``prompts.json``, ``soundtrack.flac`` (the mix, exactly as long as the video),
    ``stems/{effects,ambience,music,dialogue}.flac``, ``story.mp4``, ``shots/shot_NNN.mp4`` and, last,
    ``generate.json`` (per shot and layer: prompt, backend, seed, source, score or why it is silent; sync
    offsets before/after, loudness, mux checks; paths relative to ``out_dir``).
    Everything is made in a hidden staging folder inside ``out_dir`` and moved into place only when the
    whole run succeeded: a failed run leaves no partial set of files behind. ``lock``: the
    :class:`~avshooter.io.locks.VideoLock` held on the story (the batch's); a run whose lock was taken over
    stops with :class:`~avshooter.errors.OutputError` before it moves anything into place.
    """
    config = config or GenerateConfig()
    final = ensure_dir(out_dir)
    stage = staging_dir(final, ".avshooter-generate-")  # removes the stages of killed runs first
    try:
        report = _json_safe(_generate(story, videos, stage, config, prompts, final))
        if lock is not None:
            lock.check()  # another run took the story over while this one worked: it writes, not us
        for path in sorted(p for p in stage.rglob("*") if p.is_file()):
            target = final / path.relative_to(stage)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, target)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    atomic_write_json(final / "generate.json", report)
    return report


def _generate(story, videos, out: Path, config: GenerateConfig, prompts, root: Path) -> dict:
    """The steps, writing into ``out`` (the staging folder); paths in the report relative to ``root``."""
    from ..audio.mix import Layer, mix_layers
    from ..io.story import load_story
    from ..backends.text_to_audio.continuation import continued_layers, supports_continuation
    from .layers import ambience_layer, clip_seeds, dialogue_layer, effects_clips, music_layer
    from .prompts import save_prompts

    def rel(path) -> str:
        return os.path.relpath(os.path.abspath(path), os.path.abspath(root))

    t_start = time.perf_counter()
    one_video = not Path(videos).is_dir()
    story = load_story(story, strict=True, require_times=one_video)
    shots = resolve_shot_videos(videos, story)
    sr = config.sample_rate
    spans, total = timeline(shots, sr)

    prompt_set = _prompts(story, prompts, config)
    save_prompts(prompt_set, out / "prompts.json")
    tta = _load_tta(config)

    # effects, one clip per shot, fitted to the sample, then synced to the picture
    effects = np.zeros((2, total), np.float32)
    shot_reports = []
    clips = effects_clips(tta, prompt_set, spans, config, relative_to=root)
    for shot, where, (a, b), (wav, meta) in zip(story.shots, shots, spans, clips):
        sync_report = None
        if wav is not None:
            wav = to_channels(wav, 2)
            synced = _sync(wav, sr, where, config)
            if synced is not None:
                wav, sync_report = synced
            effects[:, a:b] = wav
        shot_reports.append({
            # the file that went to this shot, by name (never a path outside the output)
            "index": shot.index, "video": Path(where["video"]).name, "video_start_s": where["start_s"],
            "video_end_s": where["end_s"], "start_sample": a, "end_sample": b, "sample_rate": sr,
            "start_s": a / sr, "end_s": b / sr, "layers": {"effects": meta}, "sync": sync_report,
        })

    layers = [Layer("effects", effects, "effects", lufs=config.layer_lufs["effects"])]
    # a backend that continues audio (inpainting) carries ambience and music across a scene's shots (issue 11)
    beds = (continued_layers(tta, story, prompt_set, spans, total, config, seeds=clip_seeds(prompt_set, config.seed))
            if supports_continuation(tta) else {})
    for name, (track, metas) in (
        ("ambience", beds.get("ambience") or ambience_layer(tta, story, prompt_set, spans, total, config, relative_to=root)),
        ("music", beds.get("music") or music_layer(tta, prompt_set, spans, total, config, relative_to=root)),
        ("dialogue", dialogue_layer(prompt_set, spans, total, config)),
    ):
        if track is not None:
            layers.append(Layer(name, track, name, lufs=config.layer_lufs[name]))
        for shot_report, meta in zip(shot_reports, metas):
            shot_report["layers"][name] = meta
    mix, mix_report = mix_layers(layers, sr, target_lufs=config.target_lufs,
                                 max_true_peak_dbtp=config.max_true_peak_dbtp, duck=config.ducking_params())
    if mix.shape[1] != total:
        raise BackendError(f"mix has {mix.shape[1]} samples, expected {total}")

    write_audio(out / "soundtrack.flac", mix, sr)  # limited to max_true_peak_dbtp: never clips
    stems_clipped = {}
    for layer in layers:  # the layers before the mix's gains: may exceed full scale
        n_clipped = write_audio(out / "stems" / f"{layer.name}.flac", to_channels(layer.wav, 2), sr, on_clip="clip")
        if n_clipped:
            stems_clipped[layer.name] = n_clipped
    mux_reports = _mux_all(shots, spans, mix, sr, out)

    silent = [{"shot": s["index"], "layer": name, "reason": m["reason"]}
              for s in shot_reports for name, m in s["layers"].items() if m["status"] == "silent"]
    report = {
        "avshooter": __version__,
        "input_fingerprint": input_fingerprint(story.source or story.to_dict(), videos, prompts),
        "story": rel(story.source) if story.source else None,
        "videos": rel(videos),
        "timeline": "shot videos end to end" if all(s["whole_file"] for s in shots) else "the video's own",
        "duration_s": total / sr,
        "num_samples": total,
        "sample_rate": sr,
        "shots": shot_reports,
        "silent_layers": silent,
        "prompts": "prompts.json",
        "mix": mix_report,
        "stems_clipped_samples": stems_clipped,  # stems/*.flac are the layers before the mix's gains
        "mux": mux_reports,
        "outputs": {"soundtrack": "soundtrack.flac", "story_mp4": "story.mp4",
                    # each layer as generated, fitted and synced, before the mix's gains and ducking
                    "stems": {layer.name: f"stems/{layer.name}.flac" for layer in layers},
                    "shots": [f"shots/shot_{s['index']:03d}.mp4" for s in shot_reports]},
        "provenance": {
            "tta": _info_relative(tta.info(), rel),
            "config": config.to_dict(),
            "config_hash": config_hash(config),
            "python": sys.version.split()[0],
            "seed": config.seed,
        },
        "elapsed_s": round(time.perf_counter() - t_start, 3),
    }
    return report


def _info_relative(info: dict, rel) -> dict:
    """The backend's provenance, its bank folder (retrieval) named relative to the output."""
    if isinstance(info.get("bank"), str):
        info = {**info, "bank": rel(info["bank"])}
    return info


# -- steps -------------------------------------------------------------------------------------------------
def _prompts(story, prompts, config):
    from .prompts import build_prompts, load_prompts

    if prompts is not None:
        return load_prompts(prompts, story)
    writer = None
    if config.prompt_writer == "llm":
        from .prompts import LLMPromptWriter

        writer = LLMPromptWriter(**config.prompt_writer_options)
    return build_prompts(story, seed=config.seed, writer=writer)


def _load_tta(config):
    from ..backends.text_to_audio import load_tta

    options = dict(config.tta_options)
    if config.tta == "retrieval":
        if not config.bank and "bank" not in options:
            raise InputError("the offline 'retrieval' text-to-audio backend needs --bank: a folder that "
                             "`avshooter annotate` wrote (or choose --tta audioldm2 / stable-audio)")
        options.setdefault("bank", config.bank)
        options.setdefault("events", config.retrieval_events)
    return load_tta(config.tta, device=config.device, options=options)


def _sync(wav, sr, where, config):
    if not config.sync:
        return None
    from ..media.visual_events import sharp_events
    from .sync import sync_effects

    events, times = sharp_events(where["video"], start_s=where["start_s"], end_s=where["end_s"])
    synced, report = sync_effects(wav, sr, [e.time_s for e in events], times, max_shift_s=config.max_shift_s,
                                  fade_s=config.fade_s, alpha=config.sync_alpha)
    report["visual_events"] = [{"time_s": round(e.time_s, 4), "kind": e.kind} for e in events]
    return synced, report


def _mux_all(shots, spans, mix, sr, out: Path) -> dict:
    from ..media.mux import cut_video, mux, mux_shot

    reports = {}
    whole = [s for s in shots if s["whole_file"]]
    if len(whole) == len(shots):
        reports["story"] = mux([s["video"] for s in shots], mix, sr, out / "story.mp4")
    else:  # the mix is on the video's own timeline, as long as the video
        reports["story"] = mux([shots[0]["video"]], mix, sr, out / "story.mp4")
    reports["story"]["path"] = "story.mp4"
    reports["shots"] = []
    for k, (where, (a, b)) in enumerate(zip(shots, spans)):
        name = f"shots/shot_{k:03d}.mp4"
        if where["whole_file"]:
            shot_report = mux_shot(where["video"], mix[:, a:b], sr, out / name)
        else:
            shot_report = cut_video(where["video"], where["start_s"], where["end_s"], mix[:, a:b], sr, out / name)
        reports["shots"].append({**shot_report, "path": name})
    return reports


def _json_safe(obj):
    if isinstance(obj, dict):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, (np.floating, float)):
        value = float(obj)
        return value if np.isfinite(value) else None
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, (str, int, bool)) or obj is None:
        return obj
    return str(obj)
