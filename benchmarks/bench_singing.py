"""Singing is not dialogue, measured: shots that hold only a song, and shots of a line spoken over music.

Each clip (8 s) goes through annotate's per-shot code (:func:`avshooter.annotation.shot_audio.annotate_shot_audio`:
VAD, ASR on the mix, dsp separation, the singing step, YAMNet typing) with ``singing: fireredvad`` (the default)
and ``singing: none`` (before it). Per clip: the main type, whether a speech layer is named, the dialogue stem's
share of the energy and the transcript's word count. A song's vocals are music: on a song-only shot the right
answers are type music, no speech layer, an empty dialogue stem and no words; on a line over music, speech stays
with its words.

Sets, split BY SOURCE (the sources of ``bench_separation.py``'s dev-sung / test-sung splits):

- dev: songs = spleeter_slow_motion_dream (a real song), sung:dev, sung:dev2 (read speech sung by WORLD, over
  vibeace / ibmmax_cinematic); lines = the dev speech over vibeace and ibmmax_cinematic (-6 dB).
- test: songs = fishin_karissa_hobbs (a real song), sung:test (a real a-cappella singer over piano), sung:test2;
  lines = the test2 speech over ibmmax_piano and nutcracker (-6 dB).

Run:  .venv/bin/python benchmarks/bench_singing.py [--split dev|test|dev,test] [--extra-beds DIR] [--ja-dir DIR]
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import bench_separation as bs  # noqa: E402  (sources and their loaders)

CLIP_S = 8.0
SONGS = {"dev": [bs.EXTRA + "spleeter_slow_motion_dream.mp3", "sung:dev", "sung:dev2"],
         "test": [bs.EXTRA + "fishin_karissa_hobbs.hq.ogg", "sung:test", "sung:test2"]}
BACKINGS = {"dev": ["audio/vibeace_kevin_macleod.ogg", bs.EXTRA + "ibmmax_cinematic.wav"],
            "test": [bs.EXTRA + "ibmmax_piano.wav", "audio/nutcracker_kevin_macleod.ogg"]}
LINES = {"dev": bs.SPEECH["dev"], "test": bs.SPEECH["test2"]}


def clips(split: str, workdir: Path) -> list[dict]:
    """Song-only clips (up to 4 windows of each song) and line-over-music clips, mono at bs.SR."""
    n = int(CLIP_S * bs.SR)
    out = []
    for rel in SONGS[split]:
        song = bs._load(rel, workdir).mean(axis=0)
        for k in range(min(4, song.size // n)):
            out.append({"name": f"{Path(rel).name}@{k * CLIP_S:.0f}s", "kind": "song", "wav": song[k * n: (k + 1) * n]})
    for i, rel in enumerate(LINES[split]):
        line = bs._active_chunks(bs._load(rel, workdir).mean(axis=0), CLIP_S - 1.0)[0]
        speech = np.zeros(n, np.float32)
        speech[int(0.5 * bs.SR): int(0.5 * bs.SR) + line.size] = line
        backing = bs._loop(bs._load(BACKINGS[split][i % 2], workdir), n, offset_s=5.0 + 3.0 * i).mean(axis=0)
        backing *= bs._rms(line) * 10 ** (-6 / 20) / bs._rms(backing)
        out.append({"name": f"{Path(rel).name} over {Path(BACKINGS[split][i % 2]).name}", "kind": "line",
                    "wav": (speech + backing).astype(np.float32)})
    return out


def run(items: list[dict], singing: str) -> list[dict]:
    from avshooter.annotation.shot_audio import annotate_shot_audio
    from avshooter.config import AnnotateConfig

    config = dataclasses.replace(AnnotateConfig(), singing=singing, context="none")
    rows = []
    for item in items:
        r = annotate_shot_audio(item["wav"][None], bs.SR, has_video=False, config=config)
        energy = {k: float(np.sum(np.square(v, dtype=np.float64))) for k, v in r.stems.items()}
        rows.append({"main": r.type.split(",")[0].strip(), "speech": any(layer["type"] == "speech" for layer in r.layers),
                     "dialogue": energy["dialogue"] / max(1e-20, sum(energy.values())),
                     "words": len((r.transcript or {}).get("words") or [])})
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--split", default="dev", help="dev, test or dev,test")
    ap.add_argument("--extra-beds", default=str(bs.EXTRA_BEDS))
    ap.add_argument("--ja-dir", default=str(bs.JA_DIR))
    ap.add_argument("--workdir", default="/tmp/avshooter-bench")
    ap.add_argument("--per-clip", action="store_true")
    args = ap.parse_args(argv)
    bs.EXTRA_BEDS, bs.JA_DIR = Path(args.extra_beds), Path(args.ja_dir)
    for split in args.split.split(","):
        items = clips(split, Path(args.workdir))
        results = {s: run(items, s) for s in ("none", "fireredvad")}
        print(f"\n## split {split}: {sum(i['kind'] == 'song' for i in items)} song-only clips, "
              f"{sum(i['kind'] == 'line' for i in items)} lines over music, {CLIP_S:.0f} s each")
        print("| singing | clips | main type music / speech | a speech layer named | dialogue share (mean) | words (mean) |")
        print("|---|---|---|---|---|---|")
        for singing, rows in results.items():
            for kind in ("song", "line"):
                sel = [r for r, i in zip(rows, items) if i["kind"] == kind]
                print(f"| {singing} | {kind} ({len(sel)}) | {sum(r['main'] == 'music' for r in sel)} / "
                      f"{sum(r['main'] == 'speech' for r in sel)} | {sum(r['speech'] for r in sel)} | "
                      f"{100 * np.mean([r['dialogue'] for r in sel]):.1f} % | {np.mean([r['words'] for r in sel]):.1f} |")
        if args.per_clip:
            for k, item in enumerate(items):
                a, b = results["none"][k], results["fireredvad"][k]
                print(f"|   | {item['name']} | {a['main']} -> {b['main']} | {a['speech']} -> {b['speech']} | "
                      f"{100 * a['dialogue']:.1f} -> {100 * b['dialogue']:.1f} % | {a['words']} -> {b['words']} |")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
