"""The generate pipeline: story + shot videos -> prompts -> audio per layer -> fit -> sync -> mix -> mp4s.

The one module that knows the order of the steps of ``avshooter generate``:

1. read the story (strict IDs) and the shot videos (a folder with one video per shot, in shot order, or
   one video cut by the story's shot times); every shot's length comes from its video;
2. prompts: ``prompts.json`` given by the user, else built from the story (and saved for editing);
3. per shot: effects from the text-to-audio backend (in crossfaded chunks past the model's maximum),
   fitted to the shot to the sample, then synced to the shot's visual events; music where the prompts
   carry one; dialogue lines from a TTS voice placed inside the shot;
4. one ambience bed per scene carried across its consecutive shots, crossfaded at scene changes;
5. mix at the loudness target with ducking and a true-peak limit; write the soundtrack and stems;
6. mux the story mp4 and one mp4 per shot (video stream copied when possible) and ``generate.json``.

Every step below is a function on arrays or records that can be called on its own.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from .. import __version__
from ..config import GenerateConfig, config_hash
from ..errors import BackendError, InputError, ShotError
from ..io.output import atomic_write_json, ensure_dir, write_audio
from ..units import to_samples

log = logging.getLogger("avshooter")

__all__ = ["generate", "resolve_shot_videos", "generate_layer", "VIDEO_SUFFIXES"]

VIDEO_SUFFIXES = (".mp4", ".mkv", ".webm", ".mov", ".avi", ".m4v")
# A generated clip whose peak stays below -70 dBFS is silence, not a quiet sound: an error, not a layer.
SILENT_PEAK = 10 ** (-70 / 20)


def resolve_shot_videos(videos: str | os.PathLike, story) -> list[dict]:
    """Where each shot's picture is: ``[{"video", "start_s", "end_s", "duration_s", "whole_file"}]``.

    ``videos`` is a folder with one video per shot (sorted by name = shot order) or one video that the
    story's shot times cut.
    """
    from ..media.mux import probe_videos

    path = Path(videos)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file())
        if len(files) != len(story.shots):
            raise InputError(
                f"{path}: the story has {len(story.shots)} shots but the folder holds {len(files)} videos "
                f"({', '.join(VIDEO_SUFFIXES)}); give one video per shot, in shot order"
            )
        infos = probe_videos(files)
        out = []
        for shot, info in zip(story.shots, infos):
            if info.duration_s <= 0:
                raise ShotError(f"{info.path}: video of shots[{shot.index}] has zero length")
            out.append({"video": info.path, "start_s": 0.0, "end_s": info.duration_s,
                        "duration_s": info.duration_s, "whole_file": True, "info": info})
        return out
    info = probe_videos([path])[0]
    out = []
    for shot in story.shots:
        if shot.end_s > info.duration_s + info.frame_s / 2:
            raise ShotError(f"{path}: shots[{shot.index}] ends at {shot.end_s:.3f} s but the video lasts "
                            f"{info.duration_s:.3f} s")
        if shot.end_s - shot.start_s <= 0:
            raise ShotError(f"shots[{shot.index}] has zero length")
        out.append({"video": info.path, "start_s": shot.start_s, "end_s": min(shot.end_s, info.duration_s),
                    "duration_s": min(shot.end_s, info.duration_s) - shot.start_s, "whole_file": False,
                    "info": info})
    return out


def generate_layer(tta, prompts: list[str], durations_s: list[float], seeds: list[int], *, sample_rate: int,
                   crossfade_s: float = 0.5, fade_s: float = 0.05, negative_prompt=None, num_candidates=1,
                   loop: bool = False) -> list[tuple[np.ndarray, dict]]:
    """One clip per prompt, exactly ``to_samples(duration, sample_rate)`` long at ``sample_rate``.

    Durations past the backend's ``max_duration_s`` are made in chunks (seeds ``seed + k``) joined with
    equal-power crossfades. NaN or all-silent model output is an error (one line, names the prompt).
    """
    import soxr

    from ..audio.fit import chunk_plan, crossfade_concat, fit_to_duration

    requests = []  # (prompt index, chunk index, prompt, length_s, seed)
    plans = []
    for i, (prompt, duration, seed) in enumerate(zip(prompts, durations_s, seeds)):
        if not prompt or not prompt.strip():
            raise InputError(f"prompt {i} is empty")
        if duration <= 0:
            raise ShotError(f"prompt {i}: duration {duration} s must be > 0")
        if duration <= tta.max_duration_s:
            plan = [(0.0, duration)]
        else:
            plan = chunk_plan(duration, max_chunk_s=tta.max_duration_s, crossfade_s=crossfade_s,
                              sample_rate=tta.sample_rate)
        plans.append(plan)
        requests += [(i, k, prompt, length, seed + k) for k, (_, length) in enumerate(plan)]
    finite = [r for r in requests if np.isfinite(r[3])]
    results = tta.generate([r[2] for r in finite], [r[3] for r in finite], seeds=[r[4] for r in finite],
                           negative_prompt=negative_prompt, num_candidates=num_candidates)
    chunks: dict[int, list] = {}
    for (i, _, prompt, _, _), res in zip(finite, results):
        wav = np.asarray(res["wav"], dtype=np.float32)
        if not np.all(np.isfinite(wav)):
            raise BackendError(f"text-to-audio backend returned NaN for prompt {i} ({prompt[:60]!r})")
        if wav.size == 0 or res.get("silent") or float(np.max(np.abs(wav))) < SILENT_PEAK:
            raise BackendError(f"text-to-audio backend returned silence for prompt {i} ({prompt[:60]!r})")
        chunks.setdefault(i, []).append((wav, res))
    out = []
    for i, plan in enumerate(plans):
        parts = chunks[i]
        wav = parts[0][0] if len(parts) == 1 else crossfade_concat([w for w, _ in parts], tta.sample_rate,
                                                                    crossfade_s=crossfade_s)
        if tta.sample_rate != sample_rate:
            wav = np.ascontiguousarray(soxr.resample(wav.T, tta.sample_rate, sample_rate).T, dtype=np.float32)
        wav = fit_to_duration(wav, sample_rate, num_samples=to_samples(durations_s[i], sample_rate),
                              fade_s=fade_s, mode="loop" if loop else "trim")
        first = parts[0][1]
        meta = {"prompt": prompts[i], "seed": seeds[i], "chunks": len(plan),
                "score": first.get("score"), "source": first.get("source"), "matched": first.get("matched")}
        out.append((wav, {k: v for k, v in meta.items() if v is not None}))
    return out


def _to_channels(wav: np.ndarray, channels: int) -> np.ndarray:
    if wav.shape[0] == channels:
        return wav
    mono = wav.mean(axis=0, keepdims=True)
    return np.repeat(mono, channels, axis=0).astype(np.float32)


def generate(
    story: str | os.PathLike | dict,
    videos: str | os.PathLike,
    *,
    out_dir: str | os.PathLike,
    config: GenerateConfig | None = None,
    prompts: str | os.PathLike | dict | None = None,
) -> dict:
    """Generate, sync, mix and mux the soundtrack of a story; return the report written to ``generate.json``.

    Writes into ``out_dir``: ``prompts.json``, ``soundtrack.flac`` (the mix, exactly as long as the video),
    ``stems/{effects,ambience,music,dialogue}.flac``, ``story.mp4``, ``shots/shot_NNN.mp4`` and, last,
    ``generate.json`` (prompts, backends, seeds, sync offsets before/after, loudness, mux checks).
    Everything is made in a hidden staging folder inside ``out_dir`` and moved into place only when the
    whole run succeeded: a failed run leaves no partial set of files behind.
    """
    config = config or GenerateConfig()
    final = ensure_dir(out_dir)
    stage = Path(tempfile.mkdtemp(prefix=".avshooter-generate-", dir=final))
    try:
        report = _generate(story, videos, stage, config, prompts)
        for path in sorted(p for p in stage.rglob("*") if p.is_file()):
            target = final / path.relative_to(stage)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, target)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    text = json.dumps(_json_safe(report), ensure_ascii=False)
    report = json.loads(text.replace(json.dumps(str(stage))[1:-1], json.dumps(str(final))[1:-1]))
    atomic_write_json(final / "generate.json", report)
    return report


def _generate(story, videos, out: Path, config: GenerateConfig, prompts) -> dict:
    from ..audio.fit import shot_sample_spans
    from ..audio.mix import Layer, mix_layers
    from .prompts import save_prompts
    from ..io.story import load_story

    t_start = time.perf_counter()
    story = load_story(story, strict=True)
    shots = resolve_shot_videos(videos, story)
    sr = config.sample_rate
    durations = [s["duration_s"] for s in shots]
    spans = shot_sample_spans(durations, sr)
    total = spans[-1][1]

    prompt_set = _prompts(story, prompts, config)
    save_prompts(prompt_set, out / "prompts.json")
    tta = _load_tta(config)

    # effects, one clip per shot, fitted to the sample, then synced to the picture
    effects_clips = generate_layer(
        tta, [p.effects for p in prompt_set.shots], [(b - a) / sr for a, b in spans],
        [p.seed for p in prompt_set.shots], sample_rate=sr, crossfade_s=config.chunk_crossfade_s,
        fade_s=config.fade_s, negative_prompt=config.negative_prompt, num_candidates=config.num_candidates)
    effects = np.zeros((2, total), np.float32)
    shot_reports = []
    for shot, where, (a, b), (wav, meta) in zip(story.shots, shots, spans, effects_clips):
        wav = _to_channels(wav, 2)
        sync_report = _sync(wav, sr, where, config)
        if sync_report is not None:
            wav, sync_report = sync_report
        effects[:, a:b] = wav
        shot_reports.append({
            "index": shot.index, "video": where["video"], "video_start_s": where["start_s"],
            "video_end_s": where["end_s"], "start_sample": a, "end_sample": b, "sample_rate": sr,
            "start_s": a / sr, "end_s": b / sr, "effects": meta, "sync": sync_report,
        })

    layers = [Layer("effects", effects, "effects")]
    if config.ambience and prompt_set.ambience:
        layers.append(Layer("ambience", _ambience(tta, story, prompt_set, spans, config), "ambience"))
    music = _music(tta, prompt_set, spans, config)
    if music is not None:
        layers.append(Layer("music", music, "music"))
    dialogue, placements = _dialogue(prompt_set, spans, config)
    if dialogue is not None:
        layers.append(Layer("dialogue", dialogue, "dialogue"))
        for report, placed in zip(shot_reports, placements):
            report["dialogue"] = placed
    mix, mix_report = mix_layers(layers, sr, target_lufs=config.target_lufs,
                                 max_true_peak_dbtp=config.max_true_peak_dbtp)
    if mix.shape[1] != total:
        raise BackendError(f"mix has {mix.shape[1]} samples, expected {total}")

    write_audio(out / "soundtrack.flac", mix, sr)
    for layer in layers:
        write_audio(out / "stems" / f"{layer.name}.flac", _to_channels(layer.wav, 2), sr)
    mux_reports = _mux_all(shots, spans, mix, sr, out)

    report = {
        "avshooter": __version__,
        "story": str(story.source) if story.source else None,
        "videos": str(videos),
        "duration_s": total / sr,
        "num_samples": total,
        "sample_rate": sr,
        "shots": shot_reports,
        "prompts": "prompts.json",
        "mix": mix_report,
        "mux": mux_reports,
        "outputs": {"soundtrack": "soundtrack.flac", "story_mp4": "story.mp4",
                    # each layer as generated, fitted and synced, before the mix's gains and ducking
                    "stems": {layer.name: f"stems/{layer.name}.flac" for layer in layers},
                    "shots": [f"shots/shot_{s['index']:03d}.mp4" for s in shot_reports]},
        "provenance": {
            "tta": tta.info(),
            "config": config.to_dict(),
            "config_hash": config_hash(config),
            "python": sys.version.split()[0],
            "seed": config.seed,
        },
        "elapsed_s": round(time.perf_counter() - t_start, 3),
    }
    return report


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
    return load_tta(config.tta, device=config.device, options=options)


def _sync(wav, sr, where, config):
    if not config.sync:
        return None
    from .sync import sync_effects, visual_events

    events = visual_events(where["video"], start_s=where["start_s"], end_s=where["end_s"])
    times = [e.time_s for e in events if e.kind in ("impact", "cut")] or [e.time_s for e in events]
    synced, report = sync_effects(wav, sr, times, max_shift_s=config.max_shift_s)
    before, after = report.get("offset_before_s"), report.get("offset_after_s")
    if report["shift_s"] and (before is None or after is None or after >= before):
        # a shift that does not bring onsets closer to the picture is not applied
        synced = wav
        report.update(shift_s=0.0, offset_after_s=before, rejected_shift_s=report["shift_s"],
                      note="shift rejected: it did not reduce the offset to the visual events")
    report["visual_events"] = [{"time_s": round(e.time_s, 4), "kind": e.kind} for e in events]
    return synced, report


def _scene_runs(story) -> list[tuple[str, int, int]]:
    """Consecutive runs of shots in one scene: ``[(scene, first_shot, stop_shot)]``."""
    runs = []
    for i, shot in enumerate(story.shots):
        scene = shot.scene or ""
        if runs and runs[-1][0] == scene:
            runs[-1] = (scene, runs[-1][1], i + 1)
        else:
            runs.append((scene, i, i + 1))
    return runs


def _ambience(tta, story, prompt_set, spans, config) -> np.ndarray:
    from ..audio.mix import crossfade_beds
    from .prompts import shot_seed

    sr = config.sample_rate
    runs = _scene_runs(story)
    longest: dict[str, int] = {}
    for scene, a, b in runs:
        longest[scene] = max(longest.get(scene, 0), spans[b - 1][1] - spans[a][0])
    scenes = [s for s in longest if prompt_set.ambience.get(s)]
    beds: dict[str, np.ndarray | None] = {s: None for s in longest}
    if scenes:
        clips = generate_layer(
            tta, [prompt_set.ambience[s] for s in scenes],
            [(longest[s] + to_samples(config.scene_crossfade_s, sr)) / sr for s in scenes],
            [shot_seed(config.seed, 10_000 + k) for k in range(len(scenes))], sample_rate=sr,
            crossfade_s=config.chunk_crossfade_s, fade_s=config.fade_s, loop=True)
        beds.update({s: _to_channels(w, 2) for s, (w, _) in zip(scenes, clips)})
    return crossfade_beds(beds, spans, [shot.scene or "" for shot in story.shots], sr,
                          crossfade_s=config.scene_crossfade_s, fade_s=config.fade_s)


def _music(tta, prompt_set, spans, config) -> np.ndarray | None:
    if not config.music:
        return None
    wanted = [(i, p) for i, p in enumerate(prompt_set.shots) if p.music]
    if not wanted:
        return None
    sr = config.sample_rate
    clips = generate_layer(tta, [p.music for _, p in wanted], [(spans[i][1] - spans[i][0]) / sr for i, _ in wanted],
                           [p.seed + 7 for _, p in wanted], sample_rate=sr, crossfade_s=config.chunk_crossfade_s,
                           fade_s=config.fade_s, loop=True)
    music = np.zeros((2, spans[-1][1]), np.float32)
    for (i, _), (wav, _) in zip(wanted, clips):
        music[:, spans[i][0]:spans[i][1]] = _to_channels(wav, 2)
    return music


def _dialogue(prompt_set, spans, config):
    if not any(p.dialogue for p in prompt_set.shots):
        return None, []
    from ..backends.speech import load_tts, place_lines

    sr = config.sample_rate
    track = np.zeros((1, spans[-1][1]), np.float32)
    placements = []
    for p, (a, b) in zip(prompt_set.shots, spans):
        lines = []
        for line in p.dialogue:
            name = config.tts_ja if line.get("language") == "ja" else config.tts
            options = {"voice": line["voice"]} if line.get("voice") else {}
            wav, line_sr = load_tts(name, **options).synthesize(line["text"], language=line.get("language"))
            lines.append({**line, "wav": wav, "sample_rate": line_sr, "tts": name})
        if not lines:
            placements.append([])
            continue
        placed_track, placed = place_lines(lines, (b - a) / sr, sr, fade_s=config.fade_s)
        track[:, a:b] = placed_track[:, : b - a]
        placements.append(placed)
    return track, placements


def _mux_all(shots, spans, mix, sr, out: Path) -> dict:
    from ..media.mux import cut_video, mux, mux_shot

    reports = {}
    whole = [s for s in shots if s["whole_file"]]
    if len(whole) == len(shots):
        reports["story"] = mux([s["video"] for s in shots], mix, sr, out / "story.mp4")
    else:
        reports["story"] = mux([shots[0]["video"]], _pad_to_video(mix, sr, shots[0]["info"]), sr, out / "story.mp4")
    reports["shots"] = []
    for k, (where, (a, b)) in enumerate(zip(shots, spans)):
        target = out / "shots" / f"shot_{k:03d}.mp4"
        if where["whole_file"]:
            reports["shots"].append(mux_shot(where["video"], mix[:, a:b], sr, target))
        else:
            reports["shots"].append(cut_video(where["video"], where["start_s"], where["end_s"], mix[:, a:b], sr, target))
    return reports


def _pad_to_video(mix: np.ndarray, sr: int, info) -> np.ndarray:
    """With one input video, the story's shots may not cover all of it: silence after the last shot."""
    need = to_samples(info.duration_s, sr)
    if mix.shape[1] >= need:
        return mix[:, :need]
    return np.concatenate([mix, np.zeros((mix.shape[0], need - mix.shape[1]), np.float32)], axis=1)


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
