"""Retrieval of sound events (issue 17) against today's shot-level retrieval, and the bank index build.

In ONE run, on the same bank and stories:

1. A bank: the real ``avshooter annotate`` (offline defaults) of five shared recordings (applause, train,
   typing, robin, car engine; whole files, audio-only inputs), built once under ``--workdir``.
2. The event index build (``bank_index.build_index``), ``--repeat`` times: wall and CPU seconds, and
   seconds per hour of bank audio.
3. ``avshooter.generate`` on a 5-shot story whose captions name those sounds (3 s shot videos, 96x64),
   ``--repeat`` times each with ``retrieval_events`` on (sound events by AudioSet class) and off (whole
   shots by MiniLM text similarity, as before issue 17): wall and CPU seconds per story, the ratio, and
   how many layers each filled from the recording the caption names.
4. ``--class-null``: the null distribution behind ``event_match.MIN_CLASS_SIMILARITY`` (MiniLM cosines of
   YAMNet class names against the names under another top-level branch of the ontology).

Usage::

    python benchmarks/bench_sound_events.py [--workdir DIR] [--repeat 3] [--class-null]

Times: ``time.perf_counter`` wall seconds and ``time.process_time`` CPU seconds of this process; the
first generate of each mode also loads MiniLM and is left out (warm-up).
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
MEDIA = ROOT.parent / "shared" / "media"


def build_bank(workdir: Path) -> Path:
    import soundfile as sf

    from avshooter.cli import main
    from avshooter.media.decode import load_audio
    from test_sound_events import RECORDINGS

    bank = workdir / "bank"
    if (bank / "manifest.jsonl").is_file():
        return bank
    src = workdir / "recordings"
    src.mkdir(parents=True, exist_ok=True)
    lines = []
    for name, file in RECORDINGS.items():
        wav, sr = load_audio(MEDIA / "audio" / file)
        sf.write(src / f"{name}.wav", wav.T, sr)
        lines.append(str(src / f"{name}.wav"))
    (src / "list.txt").write_text("\n".join(lines) + "\n")
    assert main(["annotate", "--manifest", str(src / "list.txt"), "--out", str(bank), "--no-progress"]) == 0
    return bank


def build_story(workdir: Path) -> tuple[Path, Path]:
    from test_sound_events import build_story as build

    return build(workdir)


def own_recording(report: dict) -> int:
    """Shots whose effects or ambience layer came from the recording its caption names."""
    from test_sound_events import SHOTS

    n = 0
    for shot, (_, _, recording) in zip(report["shots"], SHOTS):
        ids = set()
        for name in ("effects", "ambience"):
            source = shot["layers"][name].get("source") or {}
            ids |= {e["shot"].split("/")[0] for e in source.get("events") or []}
            if source.get("id") and not source.get("events"):
                ids.add(source["id"].split("/")[0])
        n += recording in ids
    return n


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", default="/tmp/avshooter-bench/sound-events")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--class-null", action="store_true", help="print the class-name null distribution")
    args = parser.parse_args(argv)
    if args.class_null:
        import numpy as np

        from avshooter.backends.text_to_audio.event_match import class_null_scores

        s = class_null_scores()
        print(f"{len(s)} pairs: mean {s.mean():.3f}, median {np.median(s):.3f}, 95th {np.percentile(s, 95):.3f}, "
              f"99th {np.percentile(s, 99):.3f}")
        return 0
    from avshooter.backends.text_to_audio.bank_index import build_index
    from avshooter.config import GenerateConfig
    from avshooter.generation.pipeline import generate

    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    bank = build_bank(workdir)
    story, videos = build_story(workdir)
    builds = []
    for _ in range(args.repeat):
        w, c = time.perf_counter(), time.process_time()
        index = build_index(bank)
        builds.append((time.perf_counter() - w, time.process_time() - c))
    hours = index.audio_s / 3600
    w, c = min(builds)
    print(f"index build: {len(index)} events, {index.shots} shots, {index.audio_s:.1f} s of bank audio; best of "
          f"{args.repeat}: {w:.3f} s wall / {c:.3f} s CPU = {w / hours:.0f} s wall / {c / hours:.0f} s CPU per bank hour")
    rows = {}
    for events in (True, False):
        config = GenerateConfig(bank=str(bank), retrieval_events=events)
        times, filled = [], 0
        for k in range(args.repeat + 1):
            out = workdir / f"out_{events}_{k}"
            shutil.rmtree(out, ignore_errors=True)
            w, c = time.perf_counter(), time.process_time()
            report = generate(str(story), str(videos), out_dir=str(out), config=config)
            if k:  # the first run loads MiniLM and the bank: warm-up
                times.append((time.perf_counter() - w, time.process_time() - c))
            filled = own_recording(report)
        rows[events] = (min(times), filled)
    print("| retrieval | wall s / story (best) | CPU s / story (best) | shots filled from the named recording |")
    print("|---|---|---|---|")
    for events, ((w, c), filled) in rows.items():
        name = "sound events by AudioSet class (issue 17)" if events else "whole shots by text (before)"
        print(f"| {name} | {w:.3f} | {c:.3f} | {filled}/5 |")
    print(f"ratio events / shots: {rows[True][0][0] / rows[False][0][0]:.2f} wall, "
          f"{rows[True][0][1] / rows[False][0][1]:.2f} CPU")
    return 0


if __name__ == "__main__":
    sys.exit(main())
