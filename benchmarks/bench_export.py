"""Export and report speed on a larger annotate output, against the I/O floor each one cannot avoid.

The input is an annotate output (default: the demo, annotated once into the work folder) replicated
``--copies`` times under new video ids (audio hard-linked, story.json copied), so the exports see many shots.

Floors, in the same run:
- read every audio file's bytes (what the Parquet and tar exports must at least do);
- ``tarfile`` writing the same files into tars of the same shard size (WebDataset without our checks/JSON);
- ``soundfile.info`` of every audio file (the lhotse export reads headers only).
Then each ``avshooter.export`` format from scratch (ratio to its floor in CPU seconds: the machine the
numbers below came from was shared, and both sides are single-threaded), the same again with every shard finished (resume),
and ``avshooter.report`` on the replicated folder (per video).

    python benchmarks/bench_export.py                 # demo x 50 = 200 shots
    python benchmarks/bench_export.py --root ds --copies 10 --workdir /tmp/avshooter-bench
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _timed(fn):
    t0, c0 = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - t0, time.process_time() - c0


def _demo(work: Path) -> Path:
    ds = work / "demo_ds"
    if (ds / "manifest.jsonl").exists():
        return ds
    subprocess.run([sys.executable, str(ROOT / "examples" / "make_demo.py"), str(work / "demo")], check=True)
    subprocess.run([sys.executable, "-m", "avshooter.cli", "annotate", str(work / "demo" / "demo.mp4"), "--story",
                    str(work / "demo" / "demo.json"), "--out", str(ds), "--no-progress"], check=True)
    return ds


def _replicate(src: Path, dest: Path, copies: int) -> Path:
    from avshooter.io.dataset import video_ids

    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    manifest = []
    for vid in video_ids(src):
        for k in range(copies):
            new = f"{vid}_{k:04d}"
            for path in (src / vid).rglob("*"):
                target = dest / new / path.relative_to(src / vid)
                if path.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                if path.suffix in (".flac", ".wav"):
                    os.link(path, target)
                else:
                    shutil.copy2(path, target)
            manifest.append(json.dumps({"id": f"{new}/0000", "video_id": new}))
    (dest / "manifest.jsonl").write_text("\n".join(manifest) + "\n")
    return dest


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", help="an annotate output (default: the demo, annotated once)")
    ap.add_argument("--copies", type=int, default=50)
    ap.add_argument("--shard-size", type=int, default=50)
    ap.add_argument("--workdir", default="/tmp/avshooter-bench/export")
    args = ap.parse_args(argv)

    import soundfile as sf

    from avshooter.export import export
    from avshooter.export.shards import audio_files
    from avshooter.io.dataset import iter_shots
    from avshooter.report import report

    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    src = Path(args.root) if args.root else _demo(work)
    data = _replicate(src, work / "replicated", args.copies)
    records = list(iter_shots(data))
    files = [p for r in records for p in audio_files(r, data).values()]
    audio_s = sum(r.duration_s for r in records)
    size_mb = sum(p.stat().st_size for p in files) / 1e6
    print(f"input: {len(records)} shots ({audio_s:.0f} s of audio), {len(files)} audio files, {size_mb:.1f} MB")

    def read_all():
        for p in files:
            p.read_bytes()

    def tar_floor():
        out = work / "tar_floor"
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir()
        per = 4 * args.shard_size
        for i in range(0, len(files), per):
            with tarfile.open(out / f"{i // per:06d}.tar", "w") as tar:
                for p in files[i:i + per]:
                    tar.add(p, arcname=str(p.relative_to(data)))

    def infos():
        for p in files:
            sf.info(str(p))

    import datasets  # noqa: F401  -- one-time imports (datasets ~0.7 s, lhotse ~1.6 s CPU) are not timed
    import lhotse  # noqa: F401
    import matplotlib.pyplot  # noqa: F401

    rows = []
    floors = {"read bytes": _timed(read_all), "tarfile": _timed(tar_floor), "soundfile.info": _timed(infos)}
    for name, (wall, cpu) in floors.items():
        rows.append((f"floor: {name}", wall, cpu, ""))
    for fmt, floor in (("hf", "read bytes"), ("webdataset", "tarfile"), ("lhotse", "soundfile.info")):
        dest = work / f"out_{fmt}"
        shutil.rmtree(dest, ignore_errors=True)
        wall, cpu = _timed(lambda: export(data, fmt, dest, shard_size=args.shard_size, progress=False))
        rows.append((f"export {fmt}", wall, cpu, f"{cpu / max(floors[floor][1], 1e-3):.0f}x {floor} (CPU)"))
        wall, cpu = _timed(lambda: export(data, fmt, dest, shard_size=args.shard_size, progress=False))
        rows.append((f"export {fmt} (re-run, all finished)", wall, cpu, ""))
    dest = work / "report"
    shutil.rmtree(dest, ignore_errors=True)
    wall, cpu = _timed(lambda: report(data, dest=dest, progress=False))
    videos = len({r.video_id for r in records})
    rows.append((f"report ({videos} videos)", wall, cpu, f"{cpu / videos:.2f} CPU s per video"))

    print(f"\n| step | wall s | CPU s | shots/s | note |\n|---|---:|---:|---:|---|")
    for name, wall, cpu, note in rows:
        print(f"| {name} | {wall:.2f} | {cpu:.2f} | {len(records) / wall:.0f} | {note} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
