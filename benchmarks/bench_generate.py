"""Generate cost on the 4-shot demo story, and mux against ffmpeg and moviepy (run by hand; prints tables).

In ONE run this measures:

1. ``avshooter.generate`` end to end on the demo story (``examples/make_demo.py``: 4 shots, 18 s,
   320x180 24 fps, one silent H.264 video per shot), twice per backend in this process:

   - the tiny random-weight AudioLDM2 (``tests/tiny_diffusers.py``, saved to a folder once;
     ``tta_options={"model": folder, "steps": 2}``);
   - the offline default, retrieval from a bank that ``avshooter annotate demo.mp4 --story demo.json``
     wrote (built once, in a child process).

   The text-to-audio model's own time is the backend instance's ``generate`` calls: the instance is
   loaded first with ``avshooter.backends.text_to_audio.load_tta`` (which caches one instance per settings, so the pipeline
   gets the same one) and its ``generate`` is replaced by a timing wrapper; the model load is timed on
   its own and is not part of a story's seconds. Everything else (prompts, fitting, sync, mix, writes,
   mux) is reported in seconds per story and as a share of the total, with a per-stage breakdown from
   thin wrappers around the functions ``pipeline/generate.py`` looks up at call time (exclusive times:
   a stage nested in another is subtracted from the outer one).

2. Mux: ``avshooter.media.mux.mux`` (shot videos + the soundtrack array -> AAC in an mp4, video copied)
   against the floor, the ffmpeg binary of ``imageio_ffmpeg`` (concat demuxer of the shot videos + the
   soundtrack WAV, ``-c:v copy -c:a aac``), and against the moviepy 2.x script a user would write
   (``concatenate_videoclips([VideoFileClip(p) ...]).with_audio(AudioFileClip(wav))
   .write_videofile(out, codec="libx264", audio_codec="aac")``, which re-encodes the picture), on the
   demo shots and on 4 shots of 5 s rendered with PyAV at 640x360 and at 1280x720 (24 fps, H.264
   crf 20 veryfast, cached).

3. GPU figures (full-size AudioLDM2, fp32/200 steps vs fp16/DPMSolver 20 steps): not measured by this
   script; the table says so. ``--device cuda`` only moves the tiny model.

Times are ``time.perf_counter`` wall seconds and CPU seconds (this process, all threads, plus finished
children: ffmpeg, moviepy's ffmpeg). Scratch files go under ``--workdir`` (default
``/tmp/avshooter-bench/generate``).

Usage::

    python benchmarks/bench_generate.py [--workdir DIR] [--repeat 3] [--sizes 640x360,1280x720]
                                        [--skip-moviepy] [--threads N] [--profile]

Threads: ``OMP_NUM_THREADS`` etc. default to 1 here (as in ``tests/conftest.py``); ``--threads 2`` sets
torch's intra-op threads (on 2 shared cores that made the tiny model ~15x slower and erratic).
"""
from __future__ import annotations

import argparse
import contextlib
import functools
import importlib.util
import os
import platform
import shutil
import subprocess
import sys
import time
from collections import defaultdict
from fractions import Fraction
from pathlib import Path

# One intra-op thread by default, as the tests run (tests/conftest.py): on the 2 shared cores, torch
# with 2 OpenMP threads made the same tiny-AudioLDM2 call take anywhere from 0.4 s to 6 s (--threads 2
# to see it); set before numpy/torch load
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_WORKDIR = Path("/tmp/avshooter-bench/generate")
SHOT_S = 5.0
FPS = 24


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
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    return (f"{os.cpu_count()} CPU(s) (nproc {len(os.sched_getaffinity(0))}), {model}, "
            f"Python {platform.python_version()}, load avg {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


def cpu_seconds() -> float:
    """CPU seconds of this process (all threads) plus its finished children (ffmpeg)."""
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
    """Wraps callables; accumulates EXCLUSIVE wall/CPU seconds per stage (nested stages subtracted)."""

    def __init__(self):
        self.seconds = defaultdict(float)
        self.cpu = defaultdict(float)
        self.calls = defaultdict(int)
        self._saved = []
        self._stack = []  # [wall of children, cpu of children]

    def timed(self, original, stage: str):
        timer = self

        @functools.wraps(original)
        def wrapper(*args, **kwargs):
            timer._stack.append([0.0, 0.0])
            t0, c0 = time.perf_counter(), time.process_time()
            try:
                return original(*args, **kwargs)
            finally:
                wall, cpu = time.perf_counter() - t0, time.process_time() - c0
                child_wall, child_cpu = timer._stack.pop()
                timer.seconds[stage] += wall - child_wall
                timer.cpu[stage] += cpu - child_cpu
                timer.calls[stage] += 1
                if timer._stack:
                    timer._stack[-1][0] += wall
                    timer._stack[-1][1] += cpu

        return wrapper

    def wrap(self, owner, attr: str, stage: str) -> None:
        original = getattr(owner, attr)
        self._saved.append((owner, attr, original, attr in vars(owner)))
        setattr(owner, attr, self.timed(original, stage))

    def restore(self) -> None:
        for owner, attr, original, own in reversed(self._saved):
            if own:
                setattr(owner, attr, original)
            else:  # an instance attribute shadowing a method: drop it
                delattr(owner, attr)
        self._saved.clear()

    def reset(self) -> None:
        self.seconds.clear()
        self.cpu.clear()
        self.calls.clear()


# (group, stage label); the order of the per-stage table
STAGES = [
    ("other", "load story + probe shot videos"),
    ("prompts", "prompts: build (rules) + check"),
    ("tta", "text-to-audio model: backend.generate"),
    ("fit", "fit: generate_layer minus the model (checks, chunks, soxr, fit_to_duration)"),
    ("sync", "sync: sharp_events (decode video, cuts, local impacts)"),
    ("sync", "sync: sync_effects (onsets, offset, shift)"),
    ("sync", "sync: glue (_sync)"),
    ("mix", "mix: crossfade_beds (ambience)"),
    ("mix", "mix: mix_layers (loudness, ducking, limiter)"),
    ("other", "dialogue (TTS; none in the demo story)"),
    ("writes", "writes: FLACs (soundtrack + stems)"),
    ("writes", "writes: prompts.json + generate.json"),
    ("mux", "mux: story.mp4 + 4 shot mp4s (_mux_all)"),
]


def install_stage_timer(tta) -> StageTimer:
    """Time the steps where ``pipeline/generate.py`` looks them up at call time, and the model's calls."""
    from avshooter.audio import mix
    from avshooter.generation import layers, prompts, sync
    from avshooter.generation import pipeline as pipe
    from avshooter.io import story
    from avshooter.media import visual_events

    t = StageTimer()
    t.wrap(story, "load_story", "load story + probe shot videos")
    t.wrap(pipe, "resolve_shot_videos", "load story + probe shot videos")
    t.wrap(pipe, "_prompts", "prompts: build (rules) + check")
    t.wrap(tta, "generate", "text-to-audio model: backend.generate")  # instance attribute
    t.wrap(layers, "generate_layer", "fit: generate_layer minus the model (checks, chunks, soxr, fit_to_duration)")
    t.wrap(visual_events, "sharp_events", "sync: sharp_events (decode video, cuts, local impacts)")
    t.wrap(sync, "sync_effects", "sync: sync_effects (onsets, offset, shift)")
    t.wrap(pipe, "_sync", "sync: glue (_sync)")
    t.wrap(mix, "crossfade_beds", "mix: crossfade_beds (ambience)")
    t.wrap(mix, "mix_layers", "mix: mix_layers (loudness, ducking, limiter)")
    t.wrap(layers, "dialogue_layer", "dialogue (TTS; none in the demo story)")
    t.wrap(pipe, "write_audio", "writes: FLACs (soundtrack + stems)")
    t.wrap(prompts, "save_prompts", "writes: prompts.json + generate.json")
    t.wrap(pipe, "atomic_write_json", "writes: prompts.json + generate.json")
    t.wrap(pipe, "_mux_all", "mux: story.mp4 + 4 shot mp4s (_mux_all)")
    return t


# ------------------------------------------------------------------------------------------ inputs
def build_demo(workdir: Path) -> dict:
    """The demo (cached): demo.mp4, demo.json, shots/shot_NNN.mp4."""
    out = workdir / "demo"
    if not (out / "shots" / "shot_003.mp4").exists():
        spec = importlib.util.spec_from_file_location("make_demo", ROOT / "examples" / "make_demo.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        module.make_demo(out)
    return {"video": out / "demo.mp4", "story": out / "demo.json", "shots": out / "shots"}


def build_bank(demo: dict, workdir: Path) -> Path:
    """``avshooter annotate demo.mp4 --story demo.json --out BANK`` in a child process (cached)."""
    bank = workdir / "bank"
    if not (bank / ".done").exists():
        shutil.rmtree(bank, ignore_errors=True)
        code = "import sys; from avshooter.cli import main; sys.exit(main(sys.argv[1:]))"
        subprocess.run([sys.executable, "-c", code, "annotate", str(demo["video"]), "--story", str(demo["story"]),
                        "--out", str(bank), "--no-progress"], check=True)
        (bank / ".done").write_text("ok\n")
    return bank


def build_tiny_audioldm2(workdir: Path) -> Path:
    """The tests' tiny random-weight AudioLDM2Pipeline, saved to a folder (cached)."""
    folder = workdir / "tiny-audioldm2"
    if not (folder / "model_index.json").exists():
        sys.path.insert(0, str(ROOT / "tests"))
        from tiny_diffusers import tiny_audioldm2

        tiny_audioldm2().save_pretrained(folder)
    return folder


def _frame(k: int, shot: int, w: int, h: int, grid):
    """A moving gradient, a moving disc and some texture: a picture H.264 has to work on."""
    import numpy as np

    yy, xx = grid
    t = k / FPS
    base = np.array([[60, 90, 160], [160, 70, 60], [60, 140, 80], [120, 110, 40]][shot % 4], np.float32)
    grad = (xx / w + 0.3 * np.sin(2 * np.pi * (yy / h + 0.2 * t)))[..., None]
    img = base * (0.6 + 0.4 * grad)
    cx, cy = w * (0.2 + 0.6 * ((t * 0.37) % 1.0)), h * (0.5 + 0.3 * np.sin(3 * t))
    disc = ((xx - cx) ** 2 + (yy - cy) ** 2) < (0.08 * h) ** 2
    img[disc] = (240, 230, 200)
    img += 12 * np.sin(xx * 0.21 + yy * 0.17 + 5 * t)[..., None]
    return np.clip(img, 0, 255).astype(np.uint8)


def build_shots(workdir: Path, width: int, height: int, n: int = 4) -> Path:
    """``n`` silent 5 s H.264 shot videos at ``width`` x ``height``, 24 fps, rendered with PyAV (cached)."""
    import av
    import numpy as np

    folder = workdir / f"shots_{width}x{height}"
    if (folder / ".done").exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    grid = np.mgrid[0:height, 0:width].astype(np.float32)
    for shot in range(n):
        with av.open(str(folder / f"shot_{shot:03d}.mp4"), "w", format="mp4") as out:
            vs = out.add_stream("libx264", rate=FPS)
            vs.width, vs.height, vs.pix_fmt = width, height, "yuv420p"
            vs.codec_context.time_base = Fraction(1, FPS)
            vs.options = {"crf": "20", "preset": "veryfast"}
            for k in range(int(SHOT_S * FPS)):
                frame = av.VideoFrame.from_ndarray(_frame(k, shot, width, height, grid), format="rgb24")
                frame.pts = k
                out.mux(vs.encode(frame))
            out.mux(vs.encode(None))
    (folder / ".done").write_text("ok\n")
    return folder


# ------------------------------------------------------------------------------------- measurements
def run_generate(demo: dict, out: Path, config, timer: StageTimer, profile: bool) -> dict:
    from avshooter.generation.pipeline import generate

    shutil.rmtree(out, ignore_errors=True)
    timer.reset()
    calls0 = timer.calls.get("text-to-audio model: backend.generate", 0)
    prof = None
    if profile:
        import cProfile

        prof = cProfile.Profile()
        prof.enable()
    r: dict = {}
    with measured(r):
        report = generate(demo["story"], demo["shots"], out_dir=out, config=config)
    if prof is not None:
        prof.disable()
        import pstats

        print(f"\n--- cProfile, generate tta={config.tta} (top 35 by cumulative time) ---")
        pstats.Stats(prof).sort_stats("cumulative").print_stats(35)
    if timer.calls.get("text-to-audio model: backend.generate", 0) == calls0:
        raise RuntimeError("the pipeline did not call the wrapped backend instance (load_tta cache missed)")
    r["stages"], r["stages_cpu"], r["calls"] = dict(timer.seconds), dict(timer.cpu), dict(timer.calls)
    r["duration_s"] = report["duration_s"]
    r["mux"] = report["mux"]["story"]["video"]
    lufs = report["mix"].get("integrated_lufs")
    r["lufs"] = f"{lufs:.1f} LUFS" if lufs is not None else "silent (all layers left out)"
    r["soundtrack"] = out / "soundtrack.flac"
    return r


class ScaledOutput:
    """Optionally scales the backend's clips to -20 dBFS RMS (the tiny random-weight AudioLDM2 returns
    ~-98 dBFS, which the mix leaves out as silent, so mix and mux would work on silence)."""

    def __init__(self, tta):
        self.original, self.on = tta.generate, False
        tta.generate = self

    def __call__(self, *args, **kwargs):
        import numpy as np

        results = self.original(*args, **kwargs)
        if self.on:
            for res in results:
                wav = np.asarray(res["wav"], dtype=np.float32)
                rms = float(np.sqrt(np.mean(np.square(wav, dtype=np.float64))))
                if rms > 0:
                    res["wav"] = (wav * (0.1 / rms)).clip(-1, 1).astype(np.float32)
        return results


def load_backend(config):
    """Load the backend the way the pipeline does (same cache key); time it."""
    from avshooter.generation.pipeline import _load_tta

    r: dict = {}
    with measured(r):
        tta = _load_tta(config)
    return tta, r


def best_of(n: int, fn) -> dict:
    return min((fn() for _ in range(n)), key=lambda r: r["wall"])


def ours_mux(paths, wav, sr, out: Path) -> dict:
    from avshooter.media.mux import mux

    r: dict = {}
    with measured(r):
        report = mux(paths, wav, sr, out)
    r["video"], r["size"] = report["video"], out.stat().st_size
    return r


def ffmpeg_mux(paths, wav_path: Path, out: Path) -> dict:
    import imageio_ffmpeg

    listing = out.with_suffix(".txt")
    listing.write_text("".join(f"file '{p}'\n" for p in paths))
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
           "-f", "concat", "-safe", "0", "-i", str(listing), "-i", str(wav_path),
           "-map", "0:v:0", "-map", "1:a:0", "-c:v", "copy", "-c:a", "aac", "-b:a", "192k", str(out)]
    r: dict = {}
    with measured(r):
        subprocess.run(cmd, check=True)
    r["video"], r["size"] = "copied", out.stat().st_size
    return r


def moviepy_mux(paths, wav_path: Path, out: Path) -> dict:
    from moviepy import AudioFileClip, VideoFileClip, concatenate_videoclips

    r: dict = {}
    with measured(r):
        clips = [VideoFileClip(str(p)) for p in paths]
        audio = AudioFileClip(str(wav_path))
        try:
            joined = concatenate_videoclips(clips).with_audio(audio)
            joined.write_videofile(str(out), codec="libx264", audio_codec="aac", logger=None)
        finally:
            audio.close()
            for c in clips:
                c.close()
    r["video"], r["size"] = "re-encoded (libx264 medium)", out.stat().st_size
    return r


def soundtrack_for(paths, source, sr: int):
    """The generated demo soundtrack, looped/trimmed to the joined videos' exact length."""
    import numpy as np

    from avshooter.media.mux import probe_videos
    from avshooter.units import to_samples

    total_s = sum(i.video_duration_s for i in probe_videos(paths))
    n = to_samples(total_s, sr)
    reps = -(-n // source.shape[1])
    return np.ascontiguousarray(np.tile(source, (1, reps))[:, :n]), total_s


# ------------------------------------------------------------------------------------------ output
def table(rows, headers) -> str:
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    line = lambda r: "| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths)) + " |"
    return "\n".join([line(headers), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, rows)])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", default=str(DEFAULT_WORKDIR), help=f"scratch folder (default {DEFAULT_WORKDIR})")
    parser.add_argument("--repeat", type=int, default=3, help="best of N for ours and ffmpeg in the mux table")
    parser.add_argument("--sizes", default="640x360,1280x720", help="rendered shot sizes for the mux table ('' = none)")
    parser.add_argument("--skip-moviepy", action="store_true", help="skip the moviepy peer")
    parser.add_argument("--device", default="cpu", help="device of the tiny AudioLDM2 (default cpu)")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch intra-op threads (default: OMP_NUM_THREADS, which this script sets to 1)")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of each warm generate run")
    parser.add_argument("--stories", type=int, default=0,
                        help="instead: N synthetic 4-shot 720p stories on the offline default (generate_stories.py)")
    parser.add_argument("--bank", help="--stories: an annotate output folder to retrieve from (default: the demo's)")
    parser.add_argument("--null-scores", action="store_true",
                        help="instead: the MiniLM null distribution behind retrieval's min_score")
    args = parser.parse_args(argv)
    if args.stories or args.null_scores:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import generate_stories

        if args.null_scores:
            generate_stories.null_scores()
        if args.stories:
            generate_stories.run_stories(args, sys.modules[__name__])
        return 0

    import numpy as np
    import soundfile as sf

    from avshooter.config import GenerateConfig

    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"machine: {machine()}")
    print(f"threads: OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}, torch intra-op "
          f"{args.threads or os.environ.get('OMP_NUM_THREADS')}")
    t0 = time.perf_counter()
    demo = build_demo(workdir)
    bank = build_bank(demo, workdir)
    tiny = build_tiny_audioldm2(workdir)
    sizes = [tuple(int(v) for v in s.split("x")) for s in args.sizes.split(",") if s.strip()]
    rendered = {size: build_shots(workdir, *size) for size in sizes}
    print(f"inputs built or cached in {time.perf_counter() - t0:.1f} s under {workdir}")

    # ---- 1. generate, 4-shot demo story
    configs = {
        "audioldm2 (tiny, 2 steps)": GenerateConfig(tta="audioldm2", device=args.device,
                                                    tta_options={"model": str(tiny), "steps": 2}),
        "retrieval (offline default)": GenerateConfig(tta="retrieval", bank=str(bank)),
    }
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    runs, loads = {}, {}
    for name, config in configs.items():
        tta, loads[name] = load_backend(config)
        scaler = ScaledOutput(tta) if config.tta == "audioldm2" else None
        timer = install_stage_timer(tta)
        try:
            if scaler is not None:  # random weights give ~-98 dBFS, which generate refuses as silence
                scaler.on = True
            for k in (1, 2):
                runs[(name, k)] = run_generate(demo, workdir / f"gen_{config.tta}_{k}", config, timer,
                                               args.profile and k == 2)
        finally:
            timer.restore()
            if scaler is not None:
                del tta.generate

    tta_stage = "text-to-audio model: backend.generate"
    rows = []
    for (name, k), r in runs.items():
        model = r["stages"].get(tta_stage, 0.0)
        model_cpu = r["stages_cpu"].get(tta_stage, 0.0)
        rest, rest_cpu = r["wall"] - model, r["cpu"] - model_cpu
        run = {1: "1st (pays lazy imports)", 2: "2nd (warm)"}[k]
        if name.startswith("audioldm2"):
            run += "; clips scaled to -20 dBFS"
        rows.append([name, run, f"{loads[name]['wall']:.2f}",
                     f"{r['wall']:.2f} / {r['cpu']:.2f}", f"{model:.2f} / {model_cpu:.2f}",
                     f"{rest:.2f} / {rest_cpu:.2f}", f"{100 * rest / r['wall']:.0f}% / {100 * rest_cpu / r['cpu']:.0f}%",
                     f"{r['duration_s'] / r['wall']:.1f}x", r["lufs"], r["mux"]])
    print()
    print("1. generate, demo story (4 shots, 18.0 s, 320x180 24 fps), seconds per story, wall / CPU")
    print(table(rows, ["backend", "run", "model load s (once)", "story s", "tta model s", "everything else s",
                       "everything else share", "x RT (wall)", "mix", "story.mp4 video"]))
    print("model load = load_tta before the runs (not in 'story s'); everything else = prompts, fitting, sync, "
          "mix, writes, mux, story/probe.")

    srows = []
    keys = list(runs)
    groups = defaultdict(lambda: defaultdict(float))
    for group, stage in STAGES:
        calls = max(runs[key]["calls"].get(stage, 0) for key in keys)
        srows.append([group, stage, calls, *(f"{runs[key]['stages'].get(stage, 0.0):.3f} / "
                                              f"{runs[key]['stages_cpu'].get(stage, 0.0):.3f}" for key in keys)])
        for key in keys:
            groups[key][group] += runs[key]["stages"].get(stage, 0.0)
    srows.append(["other", "rest (imports, loops, report, _ambience/_load_tta glue)", "",
                  *(f"{runs[key]['wall'] - sum(runs[key]['stages'].values()):.3f} / "
                    f"{runs[key]['cpu'] - sum(runs[key]['stages_cpu'].values()):.3f}" for key in keys)])
    srows.append(["", "total", "", *(f"{runs[key]['wall']:.3f} / {runs[key]['cpu']:.3f}" for key in keys)])
    for key in keys:
        groups[key]["other"] += runs[key]["wall"] - sum(runs[key]["stages"].values())
    cols = [f"{'aldm2' if n.startswith('audioldm2') else 'retrieval'} #{k}" for n, k in keys]
    print()
    print("per-stage seconds, wall / CPU (exclusive: a stage nested in another timed stage is subtracted "
          "from it); calls = most calls in any run")
    print(table(srows, ["group", "stage", "calls", *cols]))
    grows = [[g, *(f"{groups[key][g]:.3f} ({100 * groups[key][g] / runs[key]['wall']:.0f}%)" for key in keys)]
             for g in ("prompts", "tta", "fit", "sync", "mix", "writes", "mux", "other")]
    print()
    print("per group, wall seconds (share of the story)")
    print(table(grows, ["group", *cols]))

    # ---- 2. mux
    wav48, sr = sf.read(runs[keys[-1]]["soundtrack"], dtype="float32", always_2d=True)
    wav48 = np.ascontiguousarray(wav48.T)
    inputs = [("demo shots 320x180, 4 shots, 18.0 s", sorted(demo["shots"].glob("shot_*.mp4")))]
    inputs += [(f"rendered {w}x{h}, 4 shots x {SHOT_S:.0f} s", sorted(rendered[(w, h)].glob("shot_*.mp4")))
               for (w, h) in sizes]
    mux_dir = workdir / "mux"
    shutil.rmtree(mux_dir, ignore_errors=True)
    mux_dir.mkdir(parents=True)
    mrows = []
    for label, paths in inputs:
        wav, total_s = soundtrack_for(paths, wav48, sr)
        wav_path = mux_dir / "soundtrack.wav"
        sf.write(wav_path, wav.T, sr, subtype="FLOAT")
        mb = sum(p.stat().st_size for p in paths) / 1e6
        ours = best_of(args.repeat, functools.partial(ours_mux, paths, wav, sr, mux_dir / "ours.mp4"))
        floor = best_of(args.repeat, functools.partial(ffmpeg_mux, paths, wav_path, mux_dir / "ffmpeg.mp4"))
        results = [("floor: ffmpeg concat -c:v copy -c:a aac", floor, f"best of {args.repeat}"),
                   ("ours: avshooter.media.mux.mux (array in)", ours, f"best of {args.repeat}")]
        if not args.skip_moviepy:
            peer = moviepy_mux(paths, wav_path, mux_dir / "moviepy.mp4")
            results.append(("peer: moviepy concat + with_audio + write_videofile", peer, "1 run"))
        for what, r, note in results:
            mrows.append([label if what.startswith("floor") else "", f"{mb:.1f}", what, f"{r['wall']:.3f}",
                          f"{r['cpu']:.3f}", f"{r['wall'] / floor['wall']:.2f}x", f"{r['wall'] / ours['wall']:.2f}x",
                          f"{total_s / r['wall']:.0f}x", r["video"], f"{r['size'] / 1e6:.2f}", note])
    print()
    print("2. mux: the shot videos + a 48 kHz stereo soundtrack -> one mp4 with AAC 192 kb/s")
    print(table(mrows, ["input", "input MB", "what", "wall s", "CPU s", "vs floor", "vs ours", "x RT", "video",
                        "out MB", "notes"]))
    print("ffmpeg and moviepy read the soundtrack from a float WAV written beforehand (not timed); ours takes the "
          "array, as in the pipeline. CPU s includes child processes (ffmpeg).")

    print()
    if args.device == "cpu":
        print("3. GPU: none measured (no GPU on this machine/session); AudioLDM2 full-size fp32/200 steps vs "
              "fp16/DPMSolver 20 steps, batched vs per shot, need a GPU and are not measured by this script.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
