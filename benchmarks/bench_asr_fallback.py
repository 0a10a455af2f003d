"""ASR temperature fallback: accuracy and CPU of cheaper schedules than faster-whisper's default (run by hand).

Each VARIANT (``asr_options`` over the default config's, e.g. ``temperature: [0, 0.2, 0.4]``, ``best_of: 2``)
runs in its OWN fresh process (the fallback's sampling is seeded once per CTranslate2 worker thread, so the
first pass of a process is the one annotate gets) through :class:`FasterWhisperASR` with the default options:

DEV (choose here): 16 English windows = the two LibriSpeech clips (references in ``avshooter.evaluation.asr``)
over "Vibe Ace" and the Nutcracker at 0 / -6 / -12 / -18 dB speech-to-music, 44.1 kHz stereo, the VAD on the
mix, the mix transcribed (annotate's default ``asr_input``), as bench_asr.py (c); plus the real Japanese dev
clips of ``--ja-dir`` (CER; read as annotate reads them, bench_asr.py (d)). Printed: WER / CER overall and per
window, ASR CPU s, and how many decoded windows fell back (a temperature above 0 kept).

HELD-OUT (``--test``, once, after choosing): the FLEURS ja sentence (bench_asr.py (d)'s TEST), and with
``--file-npz`` the ASR alone on bench_annotate's 10-minute input (its 16 kHz track and VAD ranges, cached as
``mono16`` + ``speech`` arrays; ``--make-npz VIDEO X.npz`` writes them as annotate makes them): CPU s and
fallen-back windows of the first pass.

Usage::

    python benchmarks/bench_asr_fallback.py --ja-dir /work/ja_speech [--test] [--file-npz X.npz]
        [--variant NAME=JSON ...]   # e.g. t024='{"temperature": [0.0, 0.2, 0.4]}'
    python benchmarks/bench_asr_fallback.py --seeds 5   # the rescued window per seed (the fallback's draw)
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from avshooter.evaluation import asr as asr_eval  # noqa: E402

HERE = Path(__file__).resolve().parent
SNRS = (0.0, -6.0, -12.0, -18.0)
LIBRARY_DEFAULT = {"temperature": [0.0, 0.2, 0.4, 0.6, 0.8, 1.0], "best_of": 5}
VARIANTS = {
    "library (0..1.0, best_of 5)": LIBRARY_DEFAULT,
    "temperature 0 (no fallback)": {"temperature": 0.0},
    "(0, 0.2, 0.4), best_of 5": {"temperature": [0.0, 0.2, 0.4]},
    "(0, 0.4, 0.8), best_of 5": {"temperature": [0.0, 0.4, 0.8]},
    "(0..1.0), best_of 2": {"best_of": 2},
    "(0, 0.2, 0.4), best_of 2": {"temperature": [0.0, 0.2, 0.4], "best_of": 2},
}


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _windows(ja_dir: Path | None, test: bool, only: str | None = None):
    """``(name, wav, sr, speech ranges, reference, kind)`` of every DEV (and with ``test``, TEST) window."""
    import bench_asr

    from avshooter.audio.vad import speech_ranges
    from avshooter.media.decode import load_audio

    out = []
    speech = {n: load_audio(bench_asr.MEDIA / n, sample_rate=bench_asr.SR, channels=2)[0] for n in asr_eval.LIBRI}
    for m, file in bench_asr.MUSIC.items():
        bed = load_audio(bench_asr.MEDIA / file, sample_rate=bench_asr.SR, channels=2)[0]
        for snr in SNRS:
            for i, (name, wav) in enumerate(speech.items()):
                mix = asr_eval.mix_at_snr(wav, bed, snr)
                out.append((f"{m} {snr:+.0f} dB libri{i + 1}", mix, bench_asr.SR, speech_ranges(mix, bench_asr.SR),
                            asr_eval.LIBRI[name], "en"))
    clips = bench_asr._ja_folder(ja_dir) if ja_dir else []
    if test:
        clips += bench_asr._ja_folder(bench_asr.JA_TEST.parent, bench_asr.JA_TEST.name)
    for name, wav, sr, ref in clips:
        out.append((name, wav, sr, speech_ranges(wav, sr), ref, "fleurs" if name.startswith("fleurs") else "ja"))
    return [w for w in out if only is None or w[0] == only]


def one(options: dict, ja_dir: Path | None, test: bool, npz: Path | None, only: str | None = None) -> dict:
    """One variant in this (fresh) process: per window text, CPU s, fallen-back decodes."""
    import numpy as np

    from avshooter.backends import load_backend
    from avshooter.config import AnnotateConfig

    cfg = AnnotateConfig()
    asr = load_backend("asr", cfg.asr, device="cpu", options={**(cfg.asr_options or {}), **options})
    log = []
    generate = asr._model.generate_with_fallback

    def counted(*args, **kw):
        res = generate(*args, **kw)
        log.append(res[2])  # the temperature whose decode was kept
        return res

    asr._model.generate_with_fallback = counted
    rows = {}
    if npz is not None:  # first: the first pass of a fresh process is the one that counts
        z = np.load(npz)
        log.clear()
        c = _cpu()
        out = asr.transcribe(z["mono16"][None], 16000, speech=[tuple(x) for x in z["speech"]])
        rows["10-minute input"] = {"cpu": _cpu() - c, "decodes": len(log), "fell_back": sum(t > 0 for t in log),
                                   "words": len(out["words"]), "kind": "file"}
    for name, wav, sr, speech, ref, kind in _windows(ja_dir, test, only):
        log.clear()
        c = _cpu()
        text = asr.transcribe(wav, sr, speech=speech)["text"]
        rows[name] = {"cpu": _cpu() - c, "decodes": len(log), "fell_back": sum(t > 0 for t in log), "text": text,
                      "ref": ref, "kind": kind}
    return rows


def _score(rows, kind):
    sel = [r for r in rows.values() if r["kind"] == kind]
    if not sel:
        return None
    fn = asr_eval.wer if kind == "en" else asr_eval.cer
    return (100 * fn([r["ref"] for r in sel], [r["text"] for r in sel]), sum(r["cpu"] for r in sel),
            sum(r["fell_back"] for r in sel), sum(r["decodes"] for r in sel))


def _make_npz(video: Path, npz: Path) -> None:
    """The ASR's input for ``--file-npz``: annotate's 16 kHz mono track of ``video`` and its VAD ranges."""
    import tempfile

    import numpy as np

    from avshooter.audio.vad import speech_ranges
    from avshooter.config import AnnotateConfig
    from avshooter.media.decode import decode

    config = AnnotateConfig()
    with tempfile.TemporaryDirectory() as tmp, decode(video, sample_rate=config.sample_rate, channels=config.channels,
                                                      workdir=tmp, mono_rate=16000) as decoded:
        mono16 = decoded.mono(16000)
    speech = speech_ranges(mono16[None], 16000, threshold=config.vad_threshold)
    np.savez(npz, mono16=mono16, speech=np.array(speech))
    print(f"wrote {npz}: {len(mono16) / 16000:.1f} s, {len(speech)} speech ranges")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ja-dir", type=Path, default=None)
    ap.add_argument("--test", action="store_true", help="also the held-out FLEURS ja sentence (never tuned on)")
    ap.add_argument("--file-npz", type=Path, default=None, help="held-out: the 10-minute input's 16 kHz track + VAD")
    ap.add_argument("--variant", nargs="+", default=None, metavar="NAME=JSON", help="instead of the built-in list")
    ap.add_argument("--seeds", type=int, default=0, help="instead: the window --only (default: the rescued one) "
                    "per variant with seeds 0..N-1, a fresh process each (the fallback's draw)")
    ap.add_argument("--only", default=None, help="one window by name, e.g. 'nutcracker -6 dB libri1'")
    ap.add_argument("--make-npz", nargs=2, type=Path, default=None, metavar=("VIDEO", "NPZ"),
                    help="write VIDEO's 16 kHz analysis track and VAD ranges (as annotate makes them) to NPZ, then stop")
    ap.add_argument("--one", default=None, help=argparse.SUPPRESS)  # child: JSON options of one variant
    a = ap.parse_args(argv)
    if a.make_npz is not None:
        _make_npz(*a.make_npz)
        return 0
    if a.one is not None:
        print("ROWS " + json.dumps(one(json.loads(a.one), a.ja_dir, a.test, a.file_npz, a.only)))
        return 0
    variants = dict(v.split("=", 1) for v in a.variant) if a.variant else {k: json.dumps(v) for k, v in VARIANTS.items()}
    if a.seeds:
        only = a.only or "nutcracker -6 dB libri1"
        print(f"{only}: WER % per seed 0..{a.seeds - 1} (a fresh process each)")
        for label, options in variants.items():
            wers = []
            for seed in range(a.seeds):
                p = subprocess.run([sys.executable, __file__, "--one", json.dumps({**json.loads(options), "seed": seed}),
                                    "--only", only], capture_output=True, text=True, cwd=HERE, check=True)
                r = json.loads(next(ln for ln in p.stdout.splitlines() if ln.startswith("ROWS "))[5:])[only]
                wers.append(100 * asr_eval.wer([r["ref"]], [r["text"]]))
            print(f"{label:30s} " + " ".join(f"{w:5.1f}" for w in wers) + f"  mean {sum(wers) / len(wers):5.1f}", flush=True)
        return 0
    results = {}
    for label, options in variants.items():
        cmd = [sys.executable, __file__, "--one", options] + (["--ja-dir", str(a.ja_dir)] if a.ja_dir else []) + (
            ["--test"] if a.test else []) + (["--file-npz", str(a.file_npz)] if a.file_npz else [])
        p = subprocess.run(cmd, capture_output=True, text=True, cwd=HERE)
        if p.returncode != 0:
            raise SystemExit(f"variant {label}: {p.stderr.strip().splitlines()[-1] if p.stderr.strip() else p.returncode}")
        results[label] = json.loads(next(ln for ln in p.stdout.splitlines() if ln.startswith("ROWS "))[5:])
        rows = results[label]
        cells = []
        for kind, unit in (("en", "WER"), ("ja", "CER"), ("fleurs", "TEST CER")):
            s = _score(rows, kind)
            if s:
                cells.append(f"{unit} {s[0]:5.1f} % cpu {s[1]:6.1f} s fell back {s[2]}/{s[3]}")
        if "10-minute input" in rows:
            f = rows["10-minute input"]
            cells.append(f"10-min cpu {f['cpu']:6.1f} s fell back {f['fell_back']}/{f['decodes']} words {f['words']}")
        print(f"{label:30s} " + " | ".join(cells), flush=True)
    print("\nper window (WER/CER %, * = a decode fell back):")
    names = [n for n, r in next(iter(results.values())).items() if "ref" in r]
    print(f"{'window':28s} " + " ".join(f"{k[:14]:>15s}" for k in results))
    for n in names:
        cells = []
        for rows in results.values():
            r = rows[n]
            fn = asr_eval.wer if r["kind"] == "en" else asr_eval.cer
            cells.append(f"{100 * fn([r['ref']], [r['text']]):14.1f}{'*' if r['fell_back'] else ' '}")
        print(f"{n[-28:]:28s} " + " ".join(cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
