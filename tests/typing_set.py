"""The labelled typing set ``tests/data/typing_set.json``: 3.5 s clips with their true layers, built from
``../shared/media`` (never copied into the repo) and a few seeded synthetic beds.

Each item of the JSON names its parts (a source, a start in seconds, a gain in dB relative to the first
part), its level (dBFS RMS of the sum), its true main layer and every layer present. Sources are the shared
files (speech: LibriSpeech and VCTK readers, FLEURS Japanese; music: the Kevin MacLeod pieces, jazz guitar,
trumpet; effects: typing, car engine, train, applause, robin) and generated beds, each made from one split's
files or its own seed:

- ``babble_dev`` / ``babble_test``: a crowd, eight overlapping voices (readers of that split's speech files at
  seeded offsets, equal level): true layer ambience, not speech;
- ``wind_dev`` / ``wind_test``: filtered noise with slow gusts (different bands and gust rates; neither is
  the demo's): ambience;
- ``rain_dev`` / ``rain_test``: dense random drops (decaying noise bursts, different rates) on a hiss: ambience.

The split is BY SOURCE: every source (file or generated bed) belongs to ``dev`` or ``test``, and an item's
parts are all from one split. Thresholds are fitted on ``dev`` only (``benchmarks/bench_typing.py --fit``).

    .venv/bin/python tests/typing_set.py --write   # rebuild the JSON from the rule below (deterministic)
"""
from __future__ import annotations

import functools
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MEDIA = ROOT.parent / "shared" / "media"
DATA = Path(__file__).resolve().parent / "data" / "typing_set.json"
SR = 44100
WINDOW_S = 3.5
MAX_WINDOWS = 4

# source -> (path under ../shared/media, or None for a generated bed; split; true layer alone)
SOURCES = {
    "libri1": ("audio/libri1_5703-47212-0000.hq.ogg", "dev", "speech"),
    "ls1320": ("speech/librispeech_1320_00000_rtvc.mp3", "dev", "speech"),
    "ls3575": ("speech/librispeech_3575_00000_rtvc.mp3", "dev", "speech"),
    "libri2": ("audio/libri2_3436-172162-0000.hq.ogg", "test", "speech"),
    "ls6829": ("speech/librispeech_6829_00000_rtvc.mp3", "test", "speech"),
    "ls8230": ("speech/librispeech_8230_00000_rtvc.mp3", "test", "speech"),
    "vctk240": ("speech/vctk_p240_00000_rtvc.mp3", "test", "speech"),
    "fleurs_ja": ("speech/fleurs_ja_1837.wav", "test", "speech"),
    "vibeace": ("audio/vibeace_kevin_macleod.ogg", "dev", "music"),
    "jazz_guitar": ("audio/jazz_guitar_freesound_ibmmax.wav", "dev", "music"),
    "nutcracker": ("audio/nutcracker_kevin_macleod.ogg", "test", "music"),
    "galway": ("audio/galway_kevin_macleod_excerpt_audiofile.m4a", "test", "music"),
    "trumpet": ("audio/trumpet_sorohanro.ogg", "test", "music"),
    "typing": ("audio/typing_freesound_ibmmax.wav", "dev", "effects"),
    "car_engine": ("audio/car_engine_freesound_ibmmax.wav", "dev", "effects"),
    "train": ("audio/train_freesound_ibmmax.wav", "test", "effects"),
    "applause": ("audio/applause_freesound_ibmmax.wav", "test", "effects"),
    "robin_bird": ("audio/robin_bird_inspectorj.hq.ogg", "test", "effects"),
    "babble_dev": (None, "dev", "ambience"),
    "babble_test": (None, "test", "ambience"),
    "wind_dev": (None, "dev", "ambience"),
    "wind_test": (None, "test", "ambience"),
    "rain_dev": (None, "dev", "ambience"),
    "rain_test": (None, "test", "ambience"),
}
BED_S = 14.0   # length of a generated bed
# (foreground speech, second layer) pairs per split, the second layer 6 and 12 dB under the speech
UNDER_SPEECH = {"dev": [("libri1", "vibeace"), ("libri1", "jazz_guitar"), ("libri1", "typing"),
                        ("libri1", "car_engine"), ("libri1", "wind_dev"), ("libri1", "rain_dev")],
                "test": [("libri2", "nutcracker"), ("libri2", "galway"), ("libri2", "train"),
                         ("libri2", "applause"), ("libri2", "wind_test"), ("libri2", "rain_test")]}
LEVEL_DBFS = {"wind": -40.0, "rain": -35.0}   # beds are quiet; everything else at -23 dBFS


def _rms(x) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)) + 1e-20))


def _read(rel: str) -> np.ndarray:
    """Mono float32 at 44.1 kHz of a shared file."""
    import soxr

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from test_describe import load_audio

    wav, sr = load_audio(MEDIA / rel)
    x = wav.mean(axis=0)
    return (soxr.resample(x, sr, SR) if sr != SR else x).astype(np.float32)


def _babble(split: str) -> np.ndarray:
    voices = [_read(SOURCES[k][0]) for k, (p, s, layer) in SOURCES.items() if p and s == split and layer == "speech"]
    rng = np.random.default_rng(1 if split == "dev" else 2)
    n, out = int(BED_S * SR), np.zeros(int(BED_S * SR))
    for k in range(8):
        v = voices[k % len(voices)]
        seg = np.resize(np.roll(v, -int(rng.integers(0, v.size))), n)
        out += seg / _rms(seg)
    return out.astype(np.float32)


def _wind(split: str) -> np.ndarray:
    from scipy.signal import butter, sosfilt

    rng = np.random.default_rng(3 if split == "dev" else 4)
    band, rate, depth = ([80, 500], 0.15, 0.5) if split == "dev" else ([250, 1800], 0.45, 0.4)
    n = int(BED_S * SR)
    x = sosfilt(butter(2, band, btype="bandpass", fs=SR, output="sos"), rng.standard_normal(n + SR))[SR:]
    t = np.arange(n) / SR
    return (x * (1 - depth + depth * np.sin(2 * np.pi * rate * t + rng.uniform(0, 6.28)) ** 2)).astype(np.float32)


def _rain(split: str) -> np.ndarray:
    from scipy.signal import butter, sosfilt

    rng = np.random.default_rng(5 if split == "dev" else 6)
    rate, band = (150.0, [1000, 6000]) if split == "dev" else (400.0, [600, 9000])
    n = int(BED_S * SR)
    drops = np.zeros(n)
    where = rng.integers(0, n - 400, int(rate * BED_S))
    burst = rng.standard_normal(400) * np.exp(-np.arange(400) / 60.0)
    for w, g in zip(where, rng.uniform(0.2, 1.0, where.size)):
        drops[w: w + 400] += g * burst
    hiss = 0.05 * rng.standard_normal(n)
    return sosfilt(butter(2, band, btype="bandpass", fs=SR, output="sos"), drops + hiss).astype(np.float32)


@functools.lru_cache(maxsize=None)
def source(name: str) -> np.ndarray:
    """The whole audio of a source (mono float32, 44.1 kHz)."""
    path, split, _ = SOURCES[name]
    if path:
        return _read(path)
    kind = name.split("_")[0]
    return {"babble": _babble, "wind": _wind, "rain": _rain}[kind](split)


def _starts(name: str) -> list[float]:
    n = source(name).size / SR
    k = max(1, min(MAX_WINDOWS, int(n // WINDOW_S)))
    return [round(i * WINDOW_S, 3) for i in range(k)]


def build_spec() -> dict:
    """The set's items by the rule of the module docstring (what ``--write`` stores)."""
    items = []
    for name, (path, split, layer) in SOURCES.items():
        level = LEVEL_DBFS.get(name.split("_")[0], -23.0)
        for s in _starts(name):
            items.append({"id": f"{name}@{s}", "split": split, "parts": [[name, s, 0.0]], "level_dbfs": level,
                          "main": layer, "layers": [layer]})
    for split, pairs in UNDER_SPEECH.items():
        for fg, bg in pairs:
            for gain in (-6.0, -12.0):
                for s in _starts(fg):
                    second = SOURCES[bg][2]
                    items.append({"id": f"{fg}@{s}+{bg}{gain:+.0f}dB", "split": split,
                                  "parts": [[fg, s, 0.0], [bg, s % (BED_S - WINDOW_S), gain]], "level_dbfs": -23.0,
                                  "main": "speech", "layers": ["speech", second]})
    return {"about": __doc__.split("\n\n")[0], "rate": SR, "window_s": WINDOW_S,
            "sources": {k: {"path": p, "split": s, "layer": lay} for k, (p, s, lay) in SOURCES.items()},
            "items": items}


def load_spec() -> dict:
    return json.loads(DATA.read_text(encoding="utf-8"))


def render(item: dict) -> np.ndarray:
    """Mono float32 audio of one item (44.1 kHz, ``window_s`` long)."""
    n = int(WINDOW_S * SR)
    out = np.zeros(n)
    ref = None
    for name, start, gain in item["parts"]:
        x = source(name)
        seg = np.resize(np.roll(x, -int(round(start * SR))), n) if x.size < int(start * SR) + n else \
            x[int(round(start * SR)): int(round(start * SR)) + n]
        ref = _rms(seg) if ref is None else ref
        out += seg * (ref / _rms(seg)) * 10 ** (gain / 20)
    return (out * (10 ** (item["level_dbfs"] / 20) / _rms(out))).astype(np.float32)


def items(split: str) -> list[dict]:
    """The items of ``split`` (``dev``, ``test`` or ``all``) with their audio under ``"wav"``."""
    return [{**it, "wav": render(it)} for it in load_spec()["items"] if split in ("all", it["split"])]


if __name__ == "__main__":
    if "--write" in sys.argv:
        spec = build_spec()
        DATA.write_text(json.dumps(spec, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {DATA} ({len(spec['items'])} items)")
    else:
        for split in ("dev", "test"):
            sel = [it for it in load_spec()["items"] if it["split"] == split]
            print(split, len(sel), "items")
