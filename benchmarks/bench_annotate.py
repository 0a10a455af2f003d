"""Annotate speed on a long, realistic input built from ``../shared/media`` (run by hand; prints tables).

The input (``make_long_input.py``, cached): 10 minutes of 1280x720 24 fps H.264 (panned animation clips,
~1.9 Mbit/s) with 44.1 kHz stereo AAC that is ~40 % speech (LibriSpeech readings over music / effects;
the VAD-measured share is printed). ``--cheap`` uses the 160x90 12 fps flat-colour picture instead.

Annotate runs (the DEFAULT ``AnnotateConfig``: faster-whisper packaged base ASR, YAMNet tagger, DSP
separation, MiniLM context), each ``--repeat`` times (default 2), in this process:

- ``story``: with the story JSON (the picture is demuxed but never decoded);
- ``detect``: no story, shots detected (this DECODES THE PICTURE for the cut detector, in a pass of its
  own beside the ASR thread; the table shows that pass's wall and CPU seconds and its share of the run);
- ``noasr``: with the story, ``asr="none"``;
- ``noctx`` (only when asked with ``--runs``): with the story, ``context="none"``.

Bars (issue 8, 2-core machine): default >= 10x real time (``story`` and ``detect``), ``noasr`` >= 25x.
Each row gives wall seconds, x real time (input s / wall s), CPU seconds (this process, all threads, +
finished children), CPU seconds per minute of input (steadier than wall time on a shared machine), and
the 1-minute load average before and after the run. The first run of the process also pays the one-time
model loads (visible in the stage table). ``--extraction`` adds the old audio-extraction comparisons
(PyAV floor, ``media.decode`` + ``read_span``, moviepy peer).

Usage::

    python benchmarks/bench_annotate.py [--minutes 10] [--repeat 2] [--runs story,detect,noasr]
                                        [--cheap] [--workdir DIR] [--extraction] [--profile RUN]
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
import threading
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
    """Wraps functions by module attribute; accumulates inclusive wall time and call counts per stage.

    Thread-aware (one video's shots run on several threads): the nesting depth is per thread, a stage's
    seconds are summed over the threads that ran it (busy thread-seconds, which can exceed the run's wall
    time), and its CPU is the calling thread's own (``time.thread_time``: the threads a library starts
    inside, e.g. BLAS or onnxruntime pools, are not in it).
    """

    def __init__(self):
        self.seconds = defaultdict(float)
        self.cpu = defaultdict(float)
        self.calls = defaultdict(int)
        self._saved = []
        self._local = threading.local()
        self._lock = threading.Lock()

    def wrap(self, owner, attr: str, stage: str) -> None:
        original = getattr(owner, attr)
        timer = self

        @functools.wraps(original)
        def timed(*args, **kwargs):
            local = timer._local
            if getattr(local, "depth", 0):  # nested in another timed stage of this thread: counted there
                return original(*args, **kwargs)
            local.depth = 1
            t0, c0 = time.perf_counter(), time.thread_time()
            try:
                return original(*args, **kwargs)
            finally:
                wall, cpu = time.perf_counter() - t0, time.thread_time() - c0
                with timer._lock:
                    timer.seconds[stage] += wall
                    timer.cpu[stage] += cpu
                    timer.calls[stage] += 1
                local.depth = 0

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
    from avshooter import backends
    from avshooter.backends import dsp_separation, faster_whisper_asr, yamnet_tagger
    from avshooter.io import schema
    from avshooter.media import cuts, decode, probe

    t = StageTimer()
    t.wrap(probe, "probe", "probe + fingerprint")
    t.wrap(pipe, "fingerprint", "probe + fingerprint")
    t.wrap(decode, "decode", DECODE_STAGE)
    t.wrap(cuts, "video_cuts", PICTURE_STAGE)
    t.wrap(decode.DecodedAudio, "mono", "whole-file 16 kHz mono (soxr)")
    t.wrap(vad, "speech_ranges", "VAD, whole file (silero onnx)")
    t.wrap(pipe._VideoRun, "_transcript", "ASR load + start (1st run loads it)")
    t.wrap(faster_whisper_asr.FasterWhisperASR, "_run_window",
           "ASR windows of <= 30 s of speech (faster-whisper; a side thread beside the shots)")
    t.wrap(pipe._VideoRun, "_prepare", "shot models loaded + all captions embedded (MiniLM) at once")
    t.wrap(backends, "load_backend", "backend loads (not ASR's)")
    t.wrap(yamnet_tagger.YamnetTagger, "tag_many", "tagger (YAMNet, mix + audible stems)")
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


def reference_seconds() -> float:
    """CPU seconds of a fixed single-threaded workload (10 FLAC encodes + 5 ``features.measure`` of 4.7 s
    of seeded stereo noise at 44.1 kHz): how fast this shared machine is right now. Runs are comparable
    only at a similar figure."""
    import io

    import numpy as np
    import soundfile as sf

    from avshooter.audio.features import measure

    wav = (0.1 * np.random.default_rng(0).standard_normal((2, int(4.7 * 44100)))).astype(np.float32)
    c0 = time.thread_time()
    for _ in range(10):
        sf.write(io.BytesIO(), wav.T, 44100, format="FLAC", subtype="PCM_24")
    for _ in range(5):
        measure(wav, 44100, true_peak=False)
    return time.thread_time() - c0


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


def load1() -> float:
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")


def run_annotate(video: Path, story: Path | None, workdir: Path, name: str, timer: StageTimer | None,
                 profile: bool = False, **config) -> dict:
    from avshooter.config import AnnotateConfig
    from avshooter.annotation.pipeline import annotate

    from avshooter import embedding

    out = workdir / f"ann_{name}"
    shutil.rmtree(out, ignore_errors=True)
    # the text-embedding cache would make every run after the first skip MiniLM on the same captions; a
    # new video brings new captions, so each run starts with it empty (the loaded model stays, as in a batch)
    embedding._CACHE.clear()
    if timer is not None:
        timer.reset()
    prof = None
    if profile:
        import cProfile

        prof = cProfile.Profile()
        prof.enable()
    r: dict = {"load_before": load1()}
    with measured(r):
        result = annotate(video, out_dir=out, story=story, config=AnnotateConfig(**config))
    r["load_after"] = load1()
    if prof is not None:
        prof.disable()
        import pstats

        print(f"\n--- cProfile, annotate {name} (top 40 by cumulative time) ---")
        pstats.Stats(prof).sort_stats("cumulative").print_stats(40)
        print(f"--- cProfile, annotate {name} (top 25 by own time) ---")
        pstats.Stats(prof).sort_stats("tottime").print_stats(25)
    shutil.rmtree(out, ignore_errors=True)
    r["shots"] = len(result["shots"])
    from avshooter.engine import default_threads

    r["threads"] = AnnotateConfig(**config).shot_threads or default_threads()
    r["stages"] = dict(timer.seconds) if timer is not None else {}
    r["stages_cpu"] = dict(timer.cpu) if timer is not None else {}
    r["calls"] = dict(timer.calls) if timer is not None else {}
    return r


# ------------------------------------------------------------------------------------------ output
def table(rows, headers) -> str:
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    line = lambda r: "| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths)) + " |"
    return "\n".join([line(headers), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, rows)])


RUNS = {  # name: (label, story?, config overrides, bar x RT)
    "story": ("annotate, story, DEFAULT config (ASR + YAMNet on)", True, {}, 10),
    "detect": ("annotate, shots DETECTED (decodes the picture), DEFAULT config", False, {}, 10),
    "noasr": ("annotate, story, asr='none' (YAMNet on)", True, {"asr": "none"}, 25),
    "noctx": ("annotate, story, context='none'", True, {"context": "none"}, 10),
}
DECODE_STAGE = "decode the audio (PyAV -> raw f32 file)"
PICTURE_STAGE = "picture pass: decode + cut detector (detect only; beside the ASR thread)"


def extraction_rows(video: Path, spans, workdir: Path, args, row) -> dict:
    """The audio-extraction comparisons (a)-(c); returns the floor result."""
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
    return floor


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="input length in minutes (default 10)")
    parser.add_argument("--workdir", default=str(DEFAULT_WORKDIR), help=f"scratch folder (default {DEFAULT_WORKDIR})")
    parser.add_argument("--cheap", action="store_true", help="CHEAP 160x90 12 fps flat-colour picture (not realistic)")
    parser.add_argument("--speech-share", type=float, default=0.4, help="input's target speech share (default 0.4)")
    parser.add_argument("--runs", default="story,detect,noasr",
                        help=f"comma-separated, from {','.join(RUNS)} (default story,detect,noasr)")
    parser.add_argument("--repeat", type=int, default=2, help="rounds over --runs (default 2)")
    parser.add_argument("--extraction", action="store_true", help="also the audio-extraction comparisons (a)-(c)")
    parser.add_argument("--skip-moviepy", action="store_true", help="with --extraction: skip the moviepy peer")
    parser.add_argument("--moviepy-shots", type=int, default=12,
                        help="time moviepy on this many shots and extrapolate (0 = all; default 12)")
    parser.add_argument("--profile", choices=list(RUNS), help="also print a cProfile of one more run of this kind")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.runs.split(",") if n.strip()]
    if not names or any(n not in RUNS for n in names):
        parser.error(f"--runs: choose from {', '.join(RUNS)}")

    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    video, story_path = build_long_input(args.minutes, workdir / "inputs", cheap=args.cheap,
                                         speech_share=args.speech_share)
    info = json.loads(video.with_name(video.name[:-4] + ".info.json").read_text(encoding="utf-8"))
    story = json.loads(story_path.read_text(encoding="utf-8"))
    spans = [(s["avshooter"]["start_s"], s["avshooter"]["end_s"]) for s in story["shots"]]
    from avshooter.config import AnnotateConfig
    from avshooter.media.probe import probe

    duration = probe(video).duration_s
    default = AnnotateConfig()
    print(f"machine: {machine()}")
    print(f"speed:   reference workload {reference_seconds():.2f} CPU s (reference_seconds: this shared machine's "
          "speed now; compare runs only at similar values)")
    print(f"input:   {video} ({duration:.1f} s, {info['picture']}, {len(spans)} story shots, "
          f"{video.stat().st_size / 1e6:.0f} MB, speech share {info['speech_share_vad']:.2f} by silero VAD)")
    print(f"config:  default AnnotateConfig: asr={default.asr} {default.asr_options or ''}, tagger={default.tagger}, "
          f"separation={default.separation}, context={default.context}; "
          f"OMP/MKL threads {os.environ.get('OMP_NUM_THREADS')}")
    rt = lambda s: f"{duration / s:.1f}x" if s > 0 else "-"

    if args.extraction:
        erows = []
        floor = None

        def erow(label, r, note=""):
            ratio = r["wall"] / floor["wall"] if floor else 1.0
            erows.append([label, f"{r['wall']:.2f}", f"{r['cpu']:.2f}", rt(r["wall"]), rt(r["cpu"]),
                          f"{ratio:.2f}x" if ratio < 10 else f"{ratio:.0f}x", note])

        floor = extraction_rows(video, spans, workdir, args, erow)
        print()
        print(table(erows, ["what", "wall s", "CPU s", "x RT (wall)", "x RT (CPU)", "vs floor (wall)", "notes"]))

    timer = install_stage_timer()
    runs = {}
    try:
        for rnd in range(1, args.repeat + 1):
            for name in names:
                _, with_story, overrides, _ = RUNS[name]
                key = f"{name}#{rnd}"
                runs[key] = run_annotate(video, story_path if with_story else None, workdir, key.replace("#", "_"),
                                         timer, **overrides)
                r = runs[key]
                print(f"  {key}: {r['wall']:.1f} s wall, {r['cpu']:.1f} CPU s, {rt(r['wall'])} RT, "
                      f"load {r['load_before']:.2f} -> {r['load_after']:.2f}", flush=True)
    finally:
        timer.restore()

    rows = []
    for key, r in runs.items():
        name = key.split("#")[0]
        label, with_story, _, bar = RUNS[name]
        x = duration / r["wall"]
        cpu_x = duration / r["cpu"]
        if x >= bar:
            verdict = "MET"
        elif duration / (r["cpu"] / 2) < bar:
            verdict = "NOT met: its CPU s do not fit even on 2 idle cores"
        elif cpu_x >= bar:
            verdict = "not met on wall; its CPU s fit on 1 idle core (load decides)"
        else:
            verdict = "not met on wall; would need both cores idle and busy (load decides)"
        note = f"{r['shots']} shots"
        if name == "detect":
            pic, pic_cpu = r["stages"].get(PICTURE_STAGE, 0.0), r["stages_cpu"].get(PICTURE_STAGE, 0.0)
            note += (f"; picture pass {pic:.1f} s wall / {pic_cpu:.1f} CPU s (its thread; all its CPU when the "
                     f"decoder ran on one thread) = {pic / r['wall']:.0%} of the wall, {pic_cpu / r['cpu']:.0%} of CPU")
        rows.append([f"{label} [run {key.split('#')[1]}]", f"{r['wall']:.1f}", rt(r["wall"]), f"{r['cpu']:.1f}",
                     f"{r['cpu'] / (duration / 60):.2f}", f"{r['load_before']:.2f} / {r['load_after']:.2f}",
                     f">= {bar}x: {verdict}", note])
    print()
    print(f"reference workload after the runs: {reference_seconds():.2f} s")
    print(table(rows, ["run", "wall s", "x RT (wall)", "CPU s", "CPU s / min input", "load 1-min before / after",
                       "bar", "notes"]))
    print("x RT = input seconds / wall seconds. CPU s = this process (all threads) + finished children.\n"
          "Run 1 of the first run kind also pays the one-time model loads (see the stage table).")

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
    srows.append(["sum of the stages", "", *(f"{sum(runs[k]['stages'].values()):.2f} / "
                                             f"{sum(runs[k]['stages_cpu'].values()):.2f}" for k in runs)])
    srows.append(["run: wall / CPU of the process (all threads)", "",
                  *(f"{runs[k]['wall']:.2f} / {runs[k]['cpu']:.2f}" for k in runs)])
    print()
    print("per-stage busy seconds / CPU seconds of the calling thread, summed over the threads that ran the\n"
          f"stage (shots run on {runs and next(iter(runs.values())).get('threads', '?')} threads, so the stages "
          "can add up to more than the run's wall time;\nlibrary-internal threads (BLAS, onnxruntime) are in "
          "the process CPU only); a stage nested in another timed stage\nis counted in the outer one only; "
          "calls = most calls in any run")
    print(table(srows, ["stage", "calls", *runs]))

    if args.profile:
        _, with_story, overrides, _ = RUNS[args.profile]
        run_annotate(video, story_path if with_story else None, workdir, "profile", None, profile=True, **overrides)
    return 0


if __name__ == "__main__":
    sys.exit(main())
