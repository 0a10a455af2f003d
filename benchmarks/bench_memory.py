"""Peak memory of ``avshooter annotate`` on long inputs (run by hand; prints a table).

Each run is the real CLI, ``avshooter annotate VIDEO --story STORY --out OUT`` (or without ``--story``:
shots detected), in a child process. Its peak RSS is read three ways:

- ``os.wait4`` on the child: ``ru_maxrss`` of that child alone (what ``RUSAGE_CHILDREN`` gives for a
  single child; ``RUSAGE_CHILDREN`` itself is the max over ALL children so far, so it is shown as a
  running max);
- ``/usr/bin/time -v`` "Maximum resident set size", when that program exists (the child runs under it);
- ``/proc/<pid>/status`` VmRSS sampled every 0.2 s, which also tells WHEN the peak happens (a peak that
  grows with the input's length shows up as a later, higher peak on a longer input).

Target: under 2 GB for a 60-minute input. Inputs come from ``make_long_input.py`` (cached): by default the
realistic 1280x720 24 fps picture with ~40 % speech; ``--cheap`` uses the 160x90 12 fps flat-colour picture
(same soundtrack), which is what a 60-minute run can afford to BUILD here (a 60-minute 720p input takes ~45+
minutes to encode on 2 cores). With a story the picture is never decoded (``pipeline._VideoRun._run`` calls
``media.decode.decode`` without a frame callback, which demuxes the audio stream only; detected shots add
a picture pass, ``media.cuts.video_cuts``), so peak memory with a story does not depend on the picture:
compare a 10-minute run of each. Scratch files go
under ``--workdir`` (default ``/tmp/avshooter-bench``); each run's output folder is deleted afterwards.

Usage::

    python benchmarks/bench_memory.py [--minutes 60] [--minutes 20 --minutes 40 ...] [--detect]
                                      [--no-context] [--cheap] [--speech-share 0.4] [--workdir DIR]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_annotate import machine, table
from make_long_input import build_long_input

DEFAULT_WORKDIR = Path("/tmp/avshooter-bench")
TARGET_MB = 2048
TIME = "/usr/bin/time"


def _cli() -> list[str]:
    exe = Path(sys.executable).with_name("avshooter")
    return [str(exe)] if exe.exists() else [sys.executable, "-c", "import sys; from avshooter.cli import main; sys.exit(main())"]


def _children_map() -> dict[int, list[int]]:
    """``{ppid: [pid, ...]}`` of every process (from ``/proc/*/stat``)."""
    kids: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        kids.setdefault(ppid, []).append(int(entry.name))
    return kids


def _tree_rss_kb(pid: int) -> int:
    """VmRSS of ``pid`` and its descendants, in KiB (0 if gone)."""
    kids = _children_map()
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        todo.extend(kids.get(p, []))
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
                    break
        except (OSError, ValueError):
            continue
    return total


def _rss_at(samples: list[tuple[float, int]], t: float) -> int:
    """Largest sampled RSS (KiB) within 1 s of time ``t``."""
    near = [kb for s, kb in samples if abs(s - t) <= 1.0]
    return max(near) if near else 0


def run_once(video: Path, story: Path | None, out: Path, *, no_context: bool) -> dict:
    """Run the CLI once; return wall seconds, exit code and the peak RSS readings (MiB)."""
    shutil.rmtree(out, ignore_errors=True)
    cmd = [*_cli(), "annotate", str(video), "--out", str(out), "--no-progress"]
    if story is not None:
        cmd += ["--story", str(story)]
    if no_context:
        cmd.append("--no-context")
    use_time = os.access(TIME, os.X_OK)
    if use_time:
        cmd = [TIME, "-v", *cmd]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    samples: list[tuple[float, int]] = []
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            samples.append((time.perf_counter() - t0, _tree_rss_kb(proc.pid)))
            stop.wait(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stderr_chunks = []
    reader = threading.Thread(target=lambda: stderr_chunks.append(proc.stderr.read()), daemon=True)
    reader.start()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    stop.set()
    sampler.join()
    reader.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    stderr = "".join(stderr_chunks)
    time_kb = None
    for line in stderr.splitlines():
        if "Maximum resident set size" in line:
            time_kb = int(line.rsplit(":", 1)[1])
    peak_t, peak_kb = max(samples, key=lambda s: s[1]) if samples else (0.0, 0)
    profile = "/".join(f"{_rss_at(samples, q * wall) / 1024:.0f}" for q in (0.1, 0.25, 0.5, 0.75, 0.9))
    shutil.rmtree(out, ignore_errors=True)
    if proc.returncode != 0:
        tail = "\n".join(line for line in stderr.splitlines() if not line.startswith("\t"))[-2000:]
        print(f"annotate failed (exit {proc.returncode}):\n{tail}", file=sys.stderr)
    return {
        "rc": proc.returncode,
        "wall": wall,
        "cpu": usage.ru_utime + usage.ru_stime,
        "wait4_mb": usage.ru_maxrss / 1024,
        "children_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        "time_mb": time_kb / 1024 if time_kb is not None else None,
        "sampled_mb": peak_kb / 1024,
        "peak_at": peak_t,
        "profile": profile,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, action="append",
                        help="input length in minutes; repeat for several (default 60)")
    parser.add_argument("--detect", action="store_true", help="also run the detected-shots path (no story)")
    parser.add_argument("--no-context", action="store_true", help="pass --no-context (skip MiniLM)")
    parser.add_argument("--cheap", action="store_true", help="CHEAP 160x90 12 fps flat-colour picture")
    parser.add_argument("--speech-share", type=float, default=0.4, help="input's target speech share (default 0.4)")
    parser.add_argument("--workdir", default=str(DEFAULT_WORKDIR), help=f"scratch folder (default {DEFAULT_WORKDIR})")
    args = parser.parse_args(argv)
    lengths = args.minutes or [60.0]
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"machine: {machine()}")
    rows = []
    for minutes in lengths:
        t0 = time.perf_counter()
        video, story = build_long_input(minutes, workdir / "inputs", cheap=args.cheap, speech_share=args.speech_share)
        info = json.loads(video.with_name(video.name[:-4] + ".info.json").read_text(encoding="utf-8"))
        print(f"input {video} ready ({time.perf_counter() - t0:.0f} s): {info['picture']}, "
              f"speech share {info['speech_share_vad']:.2f} (silero VAD)", flush=True)
        paths = [("story", story)] + ([("detected", None)] if args.detect else [])
        for name, s in paths:
            load0 = os.getloadavg()[0]
            r = run_once(video, s, workdir / f"mem_{minutes:g}_{name}", no_context=args.no_context)
            load1 = os.getloadavg()[0]
            peak = max(v for v in (r["wait4_mb"], r["time_mb"], r["sampled_mb"]) if v is not None)
            rows.append([
                f"{minutes:g}", info["picture"].split(" fps")[0] + " fps", f"{info['speech_share_vad']:.2f}", name,
                "ok" if r["rc"] == 0 else f"FAILED ({r['rc']})", f"{r['wall']:.0f}",
                f"{minutes * 60 / r['wall']:.1f}x", f"{r['cpu']:.0f}", f"{load0:.2f} / {load1:.2f}",
                f"{r['wait4_mb']:.0f}",
                f"{r['time_mb']:.0f}" if r["time_mb"] is not None else "-",
                f"{r['sampled_mb']:.0f} at {r['peak_at']:.0f} s", r["profile"], f"{r['children_mb']:.0f}",
                "yes" if peak < TARGET_MB else "NO",
            ])
            print(table(rows[-1:], HEADERS), flush=True)
    print()
    print(table(rows, HEADERS))
    print(f"MiB; target peak < {TARGET_MB} MiB. RUSAGE_CHILDREN is a running max over every child so far.")
    return 0


HEADERS = ["minutes", "picture", "speech", "shots from", "status", "wall s", "x RT", "CPU s", "load before / after",
           "peak RSS wait4", "peak RSS /usr/bin/time",
           "peak VmRSS sampled", "VmRSS at 10/25/50/75/90% of run", "RUSAGE_CHILDREN", "< 2 GB"]

if __name__ == "__main__":
    sys.exit(main())
