"""Do a window's whole picture and sound hold its offset at all? (issue 19, round five; run by hand)

``bench_sync.py`` measures estimators, which may abstain; this asks the question before any estimator:
for signals from the audio-visual synchrony literature, computed over a whole window, does the best lag
of their cross-correlation (trusted or not, no test, no abstention) land on the true offset more often
than chance? If it does not, no abstain rule or null built on that curve can recover shifted soundtracks.

Signals (the picture decoded once per clip, grey at 160 px, and cached under ``--cache``):

- picture, summed over the frame: ``energy`` (mean absolute frame difference), ``rise`` (its positive
  change), ``flow`` (the optical flow's magnitude, :func:`avshooter.media.visual_events.directogram`),
  ``decel`` (Davis & Agrawala 2018 "visual rhythm": the drop of the flow direction by direction,
  :func:`~avshooter.media.visual_events.deceleration_signal`), ``cuts`` (the hard cuts of
  :func:`~avshooter.media.visual_events.sharp_events` alone: a window without one is skipped);
  per cell of a 6 x 8 grid (:func:`~avshooter.media.visual_events.cell_motion`) for the Hershey & Movellan
  / Slaney & Covell statistic: ``cells`` (motion) and ``cell-decel`` (its drop, direction-blind);
- sound, on a 5 ms grid: ``flux`` (the onset strength, a centred running max over a frame: what
  ``estimate_av_offset`` reads), ``energy`` (:func:`avshooter.audio.onsets.energy_rise`, the same running
  max: ``sound="energy"``), ``level`` (the log RMS over one frame) and ``level-rise`` (its rise over a frame);
- statistics at each lag ``u`` (the audio read at frame time minus ``u``): ``xcorr``, the correlation of
  the summed picture signal with the sound over the window's frames; ``mi``, the sum over cells of the
  Gaussian mutual information ``-0.5 log(1 - r_c(u)^2)`` (Hershey & Movellan 2000).

Protocol (that of ``bench_sync.py``): windows of ``--window`` s every ``--hop`` s; for each of its
``OFFSETS`` ``d`` the search is the estimator's (``|x| <= 0.5 s`` + two frames, ``x = u - d``), and a hit
is a best lag within two frames of the truth (``u = 0``) that is not at the search's edge (the truth lies
two frames inside it: a maximum at the edge is a slope); in sync: the best lag within one frame of 0.
Chance = the share of searched lags within two frames (about 15 %). Beside each row, the average curve
over the windows: where it peaks and its value at 0 (a signal tied to the picture peaks at 0 there).
The sound is read from the whole clip's envelope (the window's sound moved by ``d``, without the
window-edge silence of ``bench_sync.py``), so one curve per window serves every offset.

Material and split (by source file; the same as ``bench_sync.py`` round four): DEV = the Sintel rooftop
scene (``--rooftop``), Big Buck Bunny 0.5-15 s (``../shared/media``), the made landings of seeds 0-7
(a positive control: thuds on a ball's landings under music); TEST = the Sintel trailer (``--trailer``),
Big Buck Bunny 30-60 s (``--bbb60``), landings seeds 1000-1007. Round five ran DEV only: no signal there
beat chance on the real clips, so nothing was chosen and TEST was not looked at.

Usage::

    python benchmarks/bench_sync_signals.py --rooftop /work/sync_media/sintel_rooftop_26s.mp4 [--window 8]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from scipy import ndimage

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from bench_sync import FPS, FRAME, LANDINGS_SR, MEDIA, OFFSETS, _landings  # noqa: E402

from avshooter.audio.onsets import energy_rise, onset_strength  # noqa: E402
from avshooter.media.decode import load_audio  # noqa: E402
from avshooter.media.frames import grey_frames  # noqa: E402
from avshooter.media.visual_events import (cell_motion, change_signal, deceleration_signal, directogram,  # noqa: E402
                                           sharp_events)

SR = LANDINGS_SR  # the made landings' rate; the clips are decoded at it
HOP_S = 0.005
SEARCH_S = 0.5 + 2 * FRAME  # the estimator's search: max_shift_s plus its two-frame guard
LAGS = np.round(np.arange(-1.1, 1.1 + 1e-9, HOP_S), 4)
PAIRS = [("energy", "flux", "xcorr"), ("rise", "flux", "xcorr"), ("flow", "flux", "xcorr"), ("decel", "flux", "xcorr"),
         ("decel", "energy", "xcorr"), ("decel", "level-rise", "xcorr"), ("energy", "level", "xcorr"),
         ("cuts", "flux", "xcorr"), ("cuts", "level-rise", "xcorr"), ("cells", "level", "mi"),
         ("cells", "flux", "mi"), ("cell-decel", "level-rise", "mi"), ("cell-decel", "flux", "mi")]


def _decoded(path: Path, cache: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Grey frames (160 px), their times and the mono sound at ``SR`` of a whole clip, decoded once."""
    stat = path.stat()
    out = cache / f"{path.stem}-{stat.st_size}.npz"
    if not out.exists():
        frames, times = grey_frames(path, max_side=160)
        wav = load_audio(path, sample_rate=SR)[0].mean(axis=0).astype(np.float32)
        np.savez(out, frames=frames, times=times, wav=wav)
    z = np.load(out)
    return z["frames"], z["times"], z["wav"]


def _sound(wav: np.ndarray) -> tuple[dict[str, np.ndarray], float]:
    """The sound signals on one grid (the onset envelope's), and the grid's first time."""
    width = int(round(FRAME / HOP_S)) | 1
    flux, t = onset_strength(wav[None], SR, hop_s=HOP_S)
    rise = energy_rise(wav[None], SR, hop_s=HOP_S)[0]
    power = np.convolve(wav.astype(np.float64) ** 2, np.ones(width * int(SR * HOP_S)) / (width * int(SR * HOP_S)),
                        mode="same")[int(t[0] * SR)::int(round(SR * HOP_S))][: flux.size]
    level = np.log(np.sqrt(power) + 1e-4)  # over one frame, centred; -80 dBFS floor as energy_rise
    lift = np.zeros_like(level)  # the level half a frame on against half a frame before: a rise, centred
    half = width // 2
    lift[half: level.size - half] = np.maximum(level[2 * half:] - level[: level.size - 2 * half], 0.0)
    return {"flux": ndimage.maximum_filter1d(flux, width, mode="nearest"),
            "energy": ndimage.maximum_filter1d(rise, width, mode="nearest"),
            "level": level, "level-rise": lift}, float(t[0])


def _picture(frames: np.ndarray) -> dict[str, np.ndarray]:
    cells = cell_motion(frames)
    energy = cells.mean(axis=1)
    events, times = sharp_events(frames.astype(np.float32), fps=FPS)
    flow = directogram(frames)
    return {"energy": energy, "rise": np.maximum(np.diff(energy, prepend=energy[0]), 0.0),
            "decel": deceleration_signal(frames), "flow": flow.sum(axis=1), "cells": cells,
            "cell-decel": np.maximum(-np.diff(cells, axis=0, prepend=cells[:1]), 0.0),
            "cuts": change_signal([e for e in events if e.kind == "cut"], times)}


def _curve(v: np.ndarray, times: np.ndarray, a: np.ndarray, t0: float, stat: str) -> np.ndarray | None:
    """The statistic at every lag of ``LAGS`` over one window's frames (``v``: (frames,) or (frames, cells))."""
    x = v.reshape(v.shape[0], -1) - v.reshape(v.shape[0], -1).mean(axis=0)
    sd = x.std(axis=0)
    if not (sd > 1e-9).any():
        return None
    x = x[:, sd > 1e-9] / sd[sd > 1e-9]
    k = np.clip(np.round((times[:, None] - LAGS[None, :] - t0) / HOP_S).astype(int), 0, a.size - 1)
    aa = a[k]
    aa = (aa - aa.mean(axis=0)) / np.maximum(aa.std(axis=0), 1e-12)
    r = x.T @ aa / times.size  # (cells, lags)
    return r[0] if stat == "xcorr" else (-0.5 * np.log(1 - np.clip(r ** 2, 0, 0.999))).sum(axis=0)


def _score(curves: list[np.ndarray]) -> dict:
    hits, kept = [], []
    for r in curves:
        for d in OFFSETS:
            m = np.abs(LAGS - d) <= SEARCH_S + 1e-9
            j = int(np.argmax(r[m]))
            # the truth is >= two frames inside the search: a maximum at its edge is a slope, not a peak
            inside = 0 < j < int(m.sum()) - 1
            (kept if d == 0.0 else hits).append(inside and abs(LAGS[m][j]) <= (1 if d == 0.0 else 2) * FRAME + 1e-6)
    mean = np.mean(curves, axis=0)
    return {"windows": len(curves), "within 2 frames %": 100 * np.mean(hits), "in sync within 1 frame %":
            100 * np.mean(kept), "mean curve peaks at s": float(LAGS[np.argmax(mean)]),
            "mean curve at 0": float(mean[np.argmin(np.abs(LAGS))]), "mean curve max": float(mean.max())}


def sources(args) -> list[tuple[str, dict, np.ndarray, dict, float, list[float], float]]:
    """(group, picture signals, frame times, sound signals, sound grid start, window starts, length)."""
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    clips = {"dev": [(MEDIA / "bbb_0-30s_moviepy.webm", 0.5, 15.0), (args.rooftop, 0.0, None)],
             "test": [(args.trailer, 0.0, None), (args.bbb60, 30.0, None)]}[args.split]
    out = []
    for path, first, last in clips:
        if path is None:
            continue
        frames, times, wav = _decoded(Path(path), cache)
        last = float(times[-1]) if last is None else last
        starts = list(np.arange(first, last - args.window + 1e-9, args.hop))
        out.append((f"{args.split}: {Path(path).name}", _picture(frames), times, *_sound(wav), starts, args.window))
    for w in _landings(args.split, range(0, 8) if args.split == "dev" else range(1000, 1008)):
        frames, _ = w["frames"]
        wav = w["sound"][0]
        out.append((f"{args.split}: landings under music", _picture(frames), w["start"] + np.arange(len(frames)) / FPS,
                    *_sound(wav[0]), [w["start"]], w["length"]))
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rooftop", type=Path, help="sintel_rooftop_26s.mp4 (DEV)")
    parser.add_argument("--trailer", type=Path, help="sintel_trailer_52s.mp4 (TEST)")
    parser.add_argument("--bbb60", type=Path, help="bbb_0-60s.mp4 (TEST, from 30 s)")
    parser.add_argument("--split", choices=("dev", "test"), default="dev")
    parser.add_argument("--window", type=float, default=4.0)
    parser.add_argument("--hop", type=float, default=2.0)
    parser.add_argument("--cache", default="/tmp/avshooter-bench/sync_signals")
    args = parser.parse_args(argv)
    for path in (args.rooftop, args.trailer, args.bbb60):
        if path is not None and not path.is_file():
            parser.error(f"{path}: no such file")
    t0 = time.process_time()
    groups: dict[str, dict] = {}
    for group, picture, times, sound, grid0, starts, length in sources(args):
        for vis, snd, stat in PAIRS:
            for s in starts:
                sel = (times >= s - 1e-9) & (times < s + length - 1e-9)
                c = _curve(picture[vis][sel], times[sel], sound[snd], grid0, stat)
                if c is not None:
                    for g in (group, f"{args.split}: real clips" if "landings" not in group else None):
                        if g:
                            groups.setdefault(g, {}).setdefault((vis, snd, stat), []).append(c)
    chance = 100 * np.mean(np.abs(LAGS[np.abs(LAGS) <= SEARCH_S + 1e-9]) <= 2 * FRAME + 1e-6)
    keys = None
    for group, pairs in groups.items():
        for (vis, snd, stat), curves in pairs.items():
            s = _score(curves)
            if keys is None:
                keys = list(s)
                print("| clips | picture x sound, statistic | " + " | ".join(keys) + " |")
                print("|---|---|" + "---|" * len(keys))
            print(f"| {group} | {vis} x {snd}, {stat} | " + " | ".join(
                f"{v:+.3f}" if isinstance(v, float) and "curve" in k else f"{v:.0f}" if isinstance(v, float) else str(v)
                for k, v in s.items()) + " |")
    print(f"\nchance (a random lag of the search within 2 frames): {chance:.0f} %; window {args.window:g} s, "
          f"hop {args.hop:g} s; {time.process_time() - t0:.1f} CPU s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
