"""Annotate throughput on a long input built from ``../shared/media`` (run by hand; prints a table).

In ONE run, on the same ~10-minute input (``make_long_input.py``: 44.1 kHz stereo AAC + a 160x90 12 fps
H.264 picture, ~4.5 s shots), this measures:

a. the floor: PyAV decoding the file's audio once (every frame, to float32 arrays);
b. our per-shot extraction: ``avshooter.media.decode.decode`` to the disk cache, then ``read_span`` for every shot
   (and the same plus writing each shot to a WAV file, to compare with (c), which writes files);
c. the peer a user would write by hand: moviepy ``AudioFileClip(path).subclipped(a, b).write_audiofile``
   per shot (slow: timed on the first ``--moviepy-shots`` shots and extrapolated, marked in the table);
d. the whole offline annotate with the story (``annotate``, default config, then ``context="none"``
   to separate the MiniLM cost), with a per-stage breakdown from light timing wrappers;
e. annotate with shot detection (no story).

Times are ``time.perf_counter`` wall seconds; "x RT" is input seconds per wall second. Each annotate runs
in a fresh output folder, in this process, so the first one also pays the one-time model loads (listed
in the stage table). Scratch files go under ``--workdir`` (default ``/tmp/avshooter-bench``).

Usage::

    python benchmarks/bench_annotate.py [--minutes 10] [--workdir DIR] [--skip-moviepy]
                                        [--moviepy-shots 12] [--skip-detect] [--profile]
"""
from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import platform
import shutil
import sys
import time
from collections import defaultdict
from pathlib import Path

# 2 threads, as on the target machine (2 cores); set before numpy/onnxruntime/torch load
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ.setdefault(_var, "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from make_long_input import build_long_input

DEFAULT_WORKDIR = Path("/tmp/avshooter-bench")


# ------------------------------------------------------------------------------------------ machine
def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"{os.cpu_count()} CPU(s) (nproc {len(os.sched_getaffinity(0))}), {model}, "
            f"Python {platform.python_version()}, load avg {load:.2f} at start")


def cpu_seconds() -> float:
    """CPU seconds of this process (all threads) plus its finished children (ffmpeg run by moviepy)."""
    import resource

    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + c.ru_utime + c.ru_stime


@contextlib.contextmanager
def measured(result: dict):
    """Put ``wall`` and ``cpu`` seconds of the block into ``result``."""
    w0, c0 = time.perf_counter(), cpu_seconds()
    yield result
    result["wall"], result["cpu"] = time.perf_counter() - w0, cpu_seconds() - c0


# ------------------------------------------------------------------------------------- stage timer
class StageTimer:
    """Wraps functions by module attribute; accumulates inclusive wall time and call counts per stage."""

    def __init__(self):
        self.seconds = defaultdict(float)
        self.cpu = defaultdict(float)
        self.calls = defaultdict(int)
        self._saved = []
        self._depth = 0

    def wrap(self, owner, attr: str, stage: str) -> None:
        original = getattr(owner, attr)
        timer = self

        @functools.wraps(original)
        def timed(*args, **kwargs):
            if timer._depth:  # nested in another timed stage: counted there
                return original(*args, **kwargs)
            timer._depth += 1
            t0, c0 = time.perf_counter(), time.process_time()
            try:
                return original(*args, **kwargs)
            finally:
                timer.seconds[stage] += time.perf_counter() - t0
                timer.cpu[stage] += time.process_time() - c0
                timer.calls[stage] += 1
                timer._depth -= 1

        self._saved.append((owner, attr, original))
        setattr(owner, attr, timed)

    def restore(self) -> None:
        for owner, attr, original in reversed(self._saved):
            setattr(owner, attr, original)
        self._saved.clear()

    def reset(self) -> None:
        self.seconds.clear()
        self.cpu.clear()
        self.calls.clear()


def install_stage_timer() -> StageTimer:
    """Time the pipeline's steps where ``annotate.py`` / ``shot_audio.py`` look them up at call time."""
    from avshooter.annotation import context, describe, shots
    from avshooter.annotation import pipeline as pipe
    from avshooter.audio import features, vad
    from avshooter.backends import dsp_separation
    from avshooter.io import schema
    from avshooter.media import decode, probe

    t = StageTimer()
    t.wrap(probe, "probe", "probe + fingerprint")
    t.wrap(pipe, "fingerprint", "probe + fingerprint")
    t.wrap(decode, "decode", "decode (PyAV -> raw f32 file; + video frames/cut detector when detecting)")
    t.wrap(decode.DecodedAudio, "mono", "whole-file 16 kHz mono (soxr)")
    t.wrap(vad, "speech_ranges", "VAD, whole file (silero onnx)")
    t.wrap(shots, "audio_change_points", "audio change points (detect only)")
    t.wrap(shots, "merge_shots", "merge cuts -> shots (detect only)")
    t.wrap(decode.DecodedAudio, "read", "read shot from raw file")
    t.wrap(dsp_separation.DSPSeparator, "separate", "separation (dsp masks)")
    t.wrap(features, "measure", "measure features (mix + 3 stems)")
    t.wrap(describe, "classify_type", "type + description")
    t.wrap(describe, "describe_sound", "type + description")
    t.wrap(context, "visual_context", "visual context (MiniLM; 1st call loads it)")
    t.wrap(pipe, "write_audio", "write 4 FLACs per shot")
    t.wrap(pipe, "atomic_write_json", "write JSON (shot markers, story)")
    t.wrap(pipe._VideoRun, "_provenance", "provenance (per shot)")
    t.wrap(schema, "validate_record", "validate story (JSON Schema)")
    return t


# ------------------------------------------------------------------------------------- measurements
def floor_decode(video: Path) -> dict:
    """Decode every audio frame of ``video`` once with PyAV to float arrays (the floor)."""
    import av

    r: dict = {"samples": 0}
    with measured(r), av.open(str(video)) as container:
        for frame in container.decode(audio=0):
            r["samples"] += frame.to_ndarray().shape[-1]
    return r


def ours_extract(video: Path, spans, workdir: Path, *, write_wav: bool = False) -> dict:
    """``decode`` once to the disk cache, then ``read_span`` every shot (optionally write each to WAV)."""
    import soundfile as sf

    from avshooter.media.decode import decode

    out = workdir / "ours_wav"
    if write_wav:
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
    r: dict = {"samples": 0}
    with measured(r):
        t0 = time.perf_counter()
        with decode(video, sample_rate=44100, workdir=workdir) as decoded:
            t1 = time.perf_counter()
            for k, (a, b) in enumerate(spans):
                wav = decoded.read_span(a, b)
                r["samples"] += wav.shape[1]
                if write_wav:
                    sf.write(out / f"{k:04d}.wav", wav.T, decoded.sample_rate, subtype="PCM_16")
            t2 = time.perf_counter()
    r["decode"], r["read"] = t1 - t0, t2 - t1
    return r


def moviepy_extract(video: Path, spans, workdir: Path, max_shots: int) -> dict:
    """moviepy 2.x per shot: ``AudioFileClip(path).subclipped(a, b).write_audiofile(wav)``."""
    from moviepy import AudioFileClip

    out = workdir / "moviepy_wav"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    todo = spans[:max_shots] if max_shots > 0 else spans
    r: dict = {"shots_timed": len(todo), "extrapolated": len(todo) < len(spans)}
    with measured(r):
        for k, (a, b) in enumerate(todo):
            clip = AudioFileClip(str(video))
            try:
                clip.subclipped(a, b).write_audiofile(str(out / f"{k:04d}.wav"), fps=44100, logger=None)
            finally:
                clip.close()
    scale = len(spans) / len(todo)
    r["timed_wall"] = r["wall"]
    r["wall"], r["cpu"] = r["wall"] * scale, r["cpu"] * scale
    return r


def run_annotate(video: Path, story: Path | None, workdir: Path, name: str, timer: StageTimer | None,
                 profile: bool = False, **config) -> dict:
    from avshooter.config import AnnotateConfig
    from avshooter.annotation.pipeline import annotate

    out = workdir / f"ann_{name}"
    shutil.rmtree(out, ignore_errors=True)
    if timer is not None:
        timer.reset()
    prof = None
    if profile:
        import cProfile

        prof = cProfile.Profile()
        prof.enable()
    r: dict = {}
    with measured(r):
        result = annotate(video, out_dir=out, story=story, config=AnnotateConfig(**config))
    if prof is not None:
        prof.disable()
        import pstats

        print(f"\n--- cProfile, annotate {name} (top 30 by cumulative time) ---")
        pstats.Stats(prof).sort_stats("cumulative").print_stats(30)
    shutil.rmtree(out, ignore_errors=True)
    r["shots"] = len(result["shots"])
    r["stages"] = dict(timer.seconds) if timer is not None else {}
    r["stages_cpu"] = dict(timer.cpu) if timer is not None else {}
    r["calls"] = dict(timer.calls) if timer is not None else {}
    return r


# ------------------------------------------------------------------------------------------ output
def table(rows, headers) -> str:
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    line = lambda r: "| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths)) + " |"
    return "\n".join([line(headers), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, rows)])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="input length in minutes (default 10)")
    parser.add_argument("--workdir", default=str(DEFAULT_WORKDIR), help=f"scratch folder (default {DEFAULT_WORKDIR})")
    parser.add_argument("--skip-moviepy", action="store_true", help="skip the moviepy peer")
    parser.add_argument("--moviepy-shots", type=int, default=12,
                        help="time moviepy on this many shots and extrapolate (0 = all; default 12)")
    parser.add_argument("--skip-detect", action="store_true", help="skip (e), annotate with shot detection")
    parser.add_argument("--profile", action="store_true", help="also print a cProfile of the default annotate")
    args = parser.parse_args(argv)

    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    video, story_path = build_long_input(args.minutes, workdir / "inputs")
    story = json.loads(story_path.read_text(encoding="utf-8"))
    spans = [(s["avshooter"]["start_s"], s["avshooter"]["end_s"]) for s in story["shots"]]
    from avshooter.media.probe import probe

    duration = probe(video).duration_s
    print(f"machine: {machine()}")
    print(f"input:   {video} ({duration:.1f} s, {len(spans)} story shots, {video.stat().st_size / 1e6:.1f} MB)")
    rt = lambda s: f"{duration / s:.0f}x" if s > 0 else "-"

    rows = []

    def row(label, r, note=""):
        ratio = r["wall"] / floor["wall"]
        rows.append([label, f"{r['wall']:.2f}", f"{r['cpu']:.2f}", rt(r["wall"]), rt(r["cpu"]),
                     f"{ratio:.2f}x" if ratio < 10 else f"{ratio:.0f}x", note])

    floor = min((floor_decode(video) for _ in range(3)), key=lambda r: r["wall"])
    row("(a) floor: PyAV decode audio once, to float", floor, "best of 3")
    ours = min((ours_extract(video, spans, workdir) for _ in range(3)), key=lambda r: r["wall"])
    row("(b) ours: media.decode -> raw file, read_span x shots", ours,
        f"best of 3; decode {ours['decode']:.2f} s + {len(spans)} reads {ours['read']:.2f} s; target <= 2x floor")
    ours_w = ours_extract(video, spans, workdir, write_wav=True)
    row("(b') ours + write each shot to a 16-bit WAV", ours_w, "same output as the moviepy peer")
    if not args.skip_moviepy:
        mp = moviepy_extract(video, spans, workdir, args.moviepy_shots)
        note = (f"EXTRAPOLATED: timed {mp['shots_timed']} of {len(spans)} shots ({mp['timed_wall']:.1f} s)"
                if mp["extrapolated"] else "all shots timed")
        row("(c) peer: moviepy subclipped().write_audiofile per shot", mp,
            f"{note}; {mp['wall'] / ours_w['wall']:.0f}x the wall time of (b')")
    shutil.rmtree(workdir / "ours_wav", ignore_errors=True)
    shutil.rmtree(workdir / "moviepy_wav", ignore_errors=True)

    timer = install_stage_timer()
    runs = {}
    try:
        runs["story"] = run_annotate(video, story_path, workdir, "story", timer)
        runs["story_noctx"] = run_annotate(video, story_path, workdir, "story_noctx", timer, context="none")
        runs["story_warm"] = run_annotate(video, story_path, workdir, "story_warm", timer)
        if not args.skip_detect:
            runs["detect"] = run_annotate(video, None, workdir, "detect", timer)
    finally:
        timer.restore()
    labels = {
        "story": "(d) annotate, story, default config (1st run: loads models)",
        "story_noctx": "(d) annotate, story, context='none' (no MiniLM)",
        "story_warm": "(d) annotate, story, default config (2nd run: models loaded)",
        "detect": "(e) annotate, shots detected (no story)",
    }
    for key, r in runs.items():
        row(labels[key], r, f"{r['shots']} shots, {r['wall'] / max(1, r['shots']) * 1000:.0f} ms/shot; target >= 20x RT")
    print()
    print(table(rows, ["what", "wall s", "CPU s", "x RT (wall)", "x RT (CPU)", "vs floor (wall)", "notes"]))
    print("CPU s = this process (all threads) + finished child processes; x RT = input seconds / seconds.\n"
          "On a machine shared with other jobs, wall time is inflated; CPU seconds are the steadier figure.")

    stage_names = []
    for r in runs.values():
        for s in r["stages"]:
            if s not in stage_names:
                stage_names.append(s)
    srows = []
    for s in stage_names:
        calls = max(runs[k]["calls"].get(s, 0) for k in runs)
        srows.append([s, calls, *(f"{runs[k]['stages'].get(s, 0.0):.2f} / {runs[k]['stages_cpu'].get(s, 0.0):.2f}"
                                  for k in runs)])
    srows.append(["other (loop, annotate_shot_audio glue, imports...)", "",
                  *(f"{runs[k]['wall'] - sum(runs[k]['stages'].values()):.2f} / "
                    f"{runs[k]['cpu'] - sum(runs[k]['stages_cpu'].values()):.2f}" for k in runs)])
    srows.append(["total", "", *(f"{runs[k]['wall']:.2f} / {runs[k]['cpu']:.2f}" for k in runs)])
    print()
    print("per-stage seconds, wall / CPU (CPU = this process, all threads); a stage nested in another timed\n"
          "stage is counted in the outer one only; calls = most calls in any run")
    print(table(srows, ["stage", "calls", *runs]))

    if args.profile:
        run_annotate(video, story_path, workdir, "profile", None, profile=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
