"""What trustworthy re-runs cost: the resume check of a finished video, synced stems, the manifest rewrite.

Prints CPU seconds (process time, this process only) per operation, each beside its peer measured in the
same run:

- ``is_finished`` of a finished video (fingerprint + story hash + the backends that would run, from
  metadata only) vs the fingerprint alone (the floor: what the old check read);
- ``write_audio`` of one shot's four stems (5 s, 44.1 kHz stereo FLAC) synced to disk vs not synced
  (also wall seconds: a sync waits for the disk, not the CPU);
- ``ManifestWriter.write_video`` of an unchanged video (compare, write nothing) and of a redone one (the
  whole file rewritten) on a manifest of ``--videos`` videos x 10 shots, vs appending 10 new lines.

    python benchmarks/bench_resume.py --videos 2000
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _timed(fn, repeat: int) -> tuple[float, float]:
    """(CPU seconds, wall seconds) per call, the median of ``repeat`` calls."""
    cpu, wall = [], []
    for _ in range(repeat):
        c, w = time.process_time(), time.perf_counter()
        fn()
        cpu.append(time.process_time() - c)
        wall.append(time.perf_counter() - w)
    return float(np.median(cpu)), float(np.median(wall))


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--videos", type=int, default=2000, help="videos in the manifest (10 shots each)")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)

    from avshooter.annotation.resume import fingerprint, is_finished
    from avshooter.cli import main as cli
    from avshooter.config import AnnotateConfig
    from avshooter.io.output import ManifestWriter, write_audio

    media = ROOT.parent / "shared" / "media"
    video = media / "video" / "bbb_432-433s_moviepy.webm"
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        cfg = tmp / "light.yaml"
        cfg.write_text("sample_rate: 16000\nasr: none\ntagger: features\ncontext: none\n")
        assert cli(["annotate", str(video), "--out", str(tmp / "ds"), "--no-progress", "--config", str(cfg)]) == 0
        config = AnnotateConfig(sample_rate=16000, asr="none", tagger="features", context="none")
        assert is_finished(video, out_dir=tmp / "ds", config=config)
        rows = [("is_finished (finished video)", _timed(lambda: is_finished(video, out_dir=tmp / "ds", config=config),
                                                         args.repeat)),
                ("  peer: fingerprint alone", _timed(lambda: fingerprint(video), args.repeat))]
        default = AnnotateConfig()
        rows.append(("is_finished, default config (faster-whisper, yamnet)",
                     _timed(lambda: is_finished(video, out_dir=tmp / "ds", config=default), args.repeat)))

        stems = np.random.default_rng(0).uniform(-0.5, 0.5, (2, 5 * 44100)).astype(np.float32)
        for sync in (True, False):
            rows.append((f"4 stems, fsync={sync}", _timed(
                lambda: [write_audio(tmp / "stems" / f"{k}.flac", stems, 44100, fsync=sync) for k in range(4)],
                args.repeat)))

        path = tmp / "manifest.jsonl"
        lines = [json.dumps({"id": f"v{v:05d}/{i:04d}", "video_id": f"v{v:05d}", "end_s": i + 1.0, "pad": "x" * 400})
                 for v in range(args.videos) for i in range(10)]
        path.write_text("\n".join(lines) + "\n")
        writer = ManifestWriter(path)
        same = [json.loads(line) for line in lines[:10]]
        rows.append(("write_video, unchanged video", _timed(lambda: writer.write_video("v00000", same), args.repeat)))
        flip = [0]

        def redo():
            flip[0] += 1
            writer.write_video("v00001", [{**json.loads(line), "end_s": float(flip[0])} for line in lines[10:20]])

        rows.append(("write_video, redone video (file rewritten)", _timed(redo, args.repeat)))
        count = [0]

        def new():
            count[0] += 1
            vid = f"n{count[0]:05d}"
            writer.write_video(vid, [{"id": f"{vid}/{i:04d}", "video_id": vid, "pad": "x" * 400} for i in range(10)])

        rows.append(("  peer: write_video, new video (10 lines appended)", _timed(new, args.repeat)))
        size = path.stat().st_size
    print(f"{'operation':58s} {'cpu s':>9s} {'wall s':>9s}")
    for name, (cpu, wall) in rows:
        print(f"{name:58s} {cpu:9.4f} {wall:9.4f}")
    print(f"(manifest: {args.videos} videos x 10 shots, {size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
