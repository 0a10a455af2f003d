"""Visual events: when something happens on screen (impacts, cuts, bursts of motion), from pictures.

:func:`visual_events` reads grey frames of a time window (:func:`avshooter.media.frames.grey_frames`) or
takes raw frames, and returns :class:`VisualEvent` s; :func:`anchor_times` picks the times that sounds are
synced to (:func:`avshooter.generation.sync.sync_effects`).

Visual events
-------------
Per frame ``i`` the *motion energy* ``m[i]`` is the mean absolute difference (0..255) to frame ``i-1``.
Three kinds of events are reported, strongest kind first when two fall within ``merge_frames``:

1. ``impact``: motion that abruptly stops or reverses. We track the vertical centre of what moves (the
   centroid of pixels that differ from the window's median frame, i.e. from the static background) and
   take peaks of its *upward* acceleration ``-(y[i+1] - 2 y[i] + y[i-1])`` (image ``y`` grows down).
   Under gravity that acceleration is small and constant; at a landing the fall turns into a rise within
   one frame, so the peak sits exactly on the frame where the object touches the floor. A bouncing ball,
   a foot set down, an object dropped onto a table all look like this.
2. ``cut``: a hard cut inside the window (:class:`avshooter.media.cuts.CutDetector`).
3. ``motion``: prominent peaks of the motion energy (a burst of movement: a door slams, a hit, a flash).

Times are in seconds relative to the start of the analysed window (``start_s``), i.e. shot-local when
the window is the shot, which is the time base of the shot's effects clip.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np
from scipy import signal

from ..errors import InputError
from .cuts import CutDetector
from .frames import grey_frames

__all__ = ["VisualEvent", "anchor_times", "change_signal", "visual_events"]

_KIND_RANK = {"impact": 0, "cut": 1, "motion": 2}


@dataclass(frozen=True)
class VisualEvent:
    """One visual event: time (s, window-local), kind (impact, cut, motion) and strength (kind's units)."""

    time_s: float
    kind: str
    strength: float

    def to_dict(self) -> dict:
        return {"time_s": self.time_s, "kind": self.kind, "strength": self.strength}


def _frames_input(frames, fps) -> tuple[np.ndarray, np.ndarray]:
    arr = np.asarray(frames)
    if arr.ndim == 4 and arr.shape[-1] == 3:  # RGB -> grey (BT.601)
        arr = arr.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    if arr.ndim != 3 or arr.shape[0] < 1:
        raise InputError(f"frames has shape {arr.shape}: give (n, height, width) grey or (n, h, w, 3) RGB frames")
    if fps is None or isinstance(fps, bool) or not isinstance(fps, (int, float, np.number)) or not fps > 0:
        raise InputError(f"fps={fps!r} is not allowed with raw frames (a positive number of frames per second)")
    return arr.astype(np.float32), np.arange(arr.shape[0]) / float(fps)


# ------------------------------------------------------------------------------------------- visual
def visual_events(path_or_frames, *, fps: float | None = None, start_s: float = 0.0, end_s: float | None = None,
                  max_side: int = 160, impact_threshold: float = 1.0, motion_prominence: float = 4.0,
                  merge_frames: float = 2.5, cuts: bool = True) -> list[VisualEvent]:
    """Visual events of a shot, with their kind and strength (see the module docstring).

    Parameters
    ----------
    path_or_frames : str, Path, or np.ndarray
        A video file (decoded with PyAV, grey, longer side scaled to ``max_side``), or frames
        ``(n, height, width)`` grey / ``(n, height, width, 3)`` RGB with ``fps``.
    fps : float, optional
        Frame rate of raw frames (ignored for a file: its timestamps are used).
    start_s, end_s : float
        Window of the file to analyse (frames whose time is in ``[start_s, end_s)``); e.g. one shot
        of a story video. Returned times are relative to ``start_s``.
    impact_threshold : float
        Smallest upward acceleration (pixels per frame squared, at the analysed size) of the moving
        region's centre that counts as an impact; also at least 4x the median of its absolute value.
    motion_prominence : float
        A motion-energy peak must stand out from its surroundings by this many robust deviations (MAD).
    merge_frames : float
        Events closer than this many frames are one event (the higher ranked kind is kept).
    cuts : bool
        Report hard cuts inside the window.

    Returns
    -------
    list of VisualEvent, by time
    """
    frames, times = _load(path_or_frames, fps, start_s, end_s, max_side)
    n = frames.shape[0]
    if n < 2:
        return []
    frame_dt = float(np.median(np.diff(times)))
    events: list[VisualEvent] = []
    energy = np.abs(np.diff(frames, axis=0)).mean(axis=(1, 2))  # energy[i-1] = change into frame i
    det = CutDetector()
    for t, f in zip(times, frames):
        det.update(float(t), np.clip(f, 0, 255).astype(np.uint8))
    cut_idx = sorted({int(np.searchsorted(times, t - 1e-6)) for t in det.cuts()} - {0})
    if cuts:
        events += [VisualEvent(float(times[i]), "cut", float(energy[i - 1])) for i in cut_idx]
    # impacts within each picture segment (own static background; no centre jumps across a cut)
    for a, b in zip([0] + cut_idx, cut_idx + [n]):
        events += _impacts(frames[a:b], times[a:b], impact_threshold)
    events += _motion_peaks(energy, times, motion_prominence)
    return _merge(events, merge_frames * frame_dt)


def _load(path_or_frames, fps, start_s, end_s, max_side) -> tuple[np.ndarray, np.ndarray]:
    """Grey float32 frames ``(n, h, w)`` and their window-local times, from a file window or raw frames."""
    if isinstance(path_or_frames, (str, os.PathLike)):
        start = float(start_s)
        if not math.isfinite(start) or start < 0:
            raise InputError(f"start_s={start_s!r} is not allowed (a finite number of seconds >= 0)")
        if end_s is not None and not (math.isfinite(float(end_s)) and float(end_s) > start):
            raise InputError(f"end_s={end_s!r} is not allowed (a time after start_s={start_s!r})")
        frames, times = grey_frames(path_or_frames, start_s=start, end_s=None if end_s is None else float(end_s),
                                    max_side=max_side)
        return frames.astype(np.float32), times
    return _frames_input(path_or_frames, fps)


def change_signal(path_or_frames, *, fps: float | None = None, start_s: float = 0.0, end_s: float | None = None,
                  max_side: int = 160, grid: tuple[int, int] = (6, 8)) -> tuple[np.ndarray, np.ndarray]:
    """How suddenly something LOCAL changes on screen, per frame: the picture side of offset estimation.

    Per frame ``i`` (change from frame ``i-1``):

    1. Global motion is removed: the translation between the two frames is found by phase correlation
       and frame ``i-1`` moved by it; the residual ``|f[i] - moved f[i-1]|`` is what the camera (a pan, a
       tilt) does not explain.
    2. Spatial concentration: the residual's mean in each cell of a ``grid`` (rows, columns); the local
       change ``c[i]`` is the mean of the top 10 % of cells minus the median cell. A change spread
       evenly over the picture (a fade, a zoom's slow drift, grain) scores ~0; an object that lands, is
       hit or flashes in one place scores high.
    3. Suddenness: ``|c[i] - c[i-1]|``: a local change that starts or stops from one frame to the next.
    4. Hard cuts (:class:`avshooter.media.cuts.CutDetector`) and impacts (see the module docstring) are
       sudden by definition: their frames get at least the signal's largest value.

    Parameters
    ----------
    path_or_frames, fps, start_s, end_s, max_side
        As :func:`visual_events`.
    grid : (int, int)
        Cells (rows, columns) of the spatial concentration.

    Returns
    -------
    (np.ndarray, np.ndarray), shapes (n,)
        The signal (>= 0; 0 at the first frame) and the frame times (s, window-local).
    """
    frames, times = _load(path_or_frames, fps, start_s, end_s, max_side)
    n = frames.shape[0]
    out = np.zeros(n)
    if n < 3:
        return out, times
    local = np.zeros(n)
    for i in range(1, n):
        local[i] = _local_change(frames[i - 1], frames[i], grid)
    out[2:] = np.abs(np.diff(local[1:]))
    top = float(out.max())
    det = CutDetector()
    for t, f in zip(times, frames):
        det.update(float(t), np.clip(f, 0, 255).astype(np.uint8))
    cut_idx = sorted({int(np.searchsorted(times, t - 1e-6)) for t in det.cuts()} - {0})
    sharp = [int(np.searchsorted(times, e.time_s - 1e-6)) for a, b in zip([0] + cut_idx, cut_idx + [n])
             for e in _impacts(frames[a:b], times[a:b], 1.0)] + cut_idx
    for i in sharp:
        out[i] = max(out[i], top)
    return out, times


def _global_shift(a: np.ndarray, b: np.ndarray) -> tuple[int, int]:
    """Integer translation (dy, dx) that moves picture ``a`` onto ``b``: peak of the phase correlation."""
    win = np.outer(np.hanning(a.shape[0]), np.hanning(a.shape[1]))
    fa, fb = np.fft.rfft2((a - a.mean()) * win), np.fft.rfft2((b - b.mean()) * win)
    cross = fb * np.conj(fa)
    corr = np.fft.irfft2(cross / np.maximum(np.abs(cross), 1e-9), s=a.shape)
    dy, dx = np.unravel_index(int(np.argmax(corr)), corr.shape)
    h, w = a.shape
    return (dy - h if dy > h // 2 else dy), (dx - w if dx > w // 2 else dx)


def _local_change(prev: np.ndarray, cur: np.ndarray, grid: tuple[int, int]) -> float:
    dy, dx = _global_shift(prev, cur)
    h, w = cur.shape
    if abs(dy) > h // 4 or abs(dx) > w // 4:  # no plausible camera move: compare as is
        dy = dx = 0
    moved = np.roll(prev, (dy, dx), axis=(0, 1))
    m = max(abs(dy), abs(dx))
    res = np.abs(cur - moved)[m: h - m or None, m: w - m or None]
    rows, cols = grid
    hh, ww = res.shape[0] // rows * rows, res.shape[1] // cols * cols
    if hh == 0 or ww == 0:
        return float(res.mean())
    cells = res[:hh, :ww].reshape(rows, hh // rows, cols, ww // cols).mean(axis=(1, 3)).ravel()
    k = max(1, int(round(0.1 * cells.size)))
    return float(np.sort(cells)[-k:].mean() - np.median(cells))


def _impacts(frames: np.ndarray, times: np.ndarray, threshold: float) -> list[VisualEvent]:
    """Frames where the moving region's vertical centre turns from falling to rising abruptly."""
    if frames.shape[0] < 3:
        return []
    background = np.median(frames, axis=0)
    fg = np.abs(frames - background)
    fg = np.where(fg > 25.0, fg, 0.0)
    weight = fg.sum(axis=2)                        # (n, h): foreground mass per row
    mass = weight.sum(axis=1)
    rows = np.arange(frames.shape[1], dtype=np.float64)
    valid = mass > 0.0005 * 255 * frames.shape[1] * frames.shape[2]
    y = np.where(valid, (weight * rows).sum(axis=1) / np.maximum(mass, 1e-9), np.nan)
    up = -(y[2:] - 2 * y[1:-1] + y[:-2])             # upward acceleration at frame i = 1..n-2
    ok = np.isfinite(up)
    if ok.sum() < 3:
        return []
    up = np.where(ok, up, 0.0)
    floor = 4.0 * float(np.median(np.abs(up[ok])))
    peaks, props = signal.find_peaks(up, height=max(threshold, floor))
    return [VisualEvent(float(times[p + 1]), "impact", float(props["peak_heights"][k])) for k, p in enumerate(peaks)]


def _motion_peaks(energy: np.ndarray, times: np.ndarray, prominence: float) -> list[VisualEvent]:
    if energy.size < 3:
        return []
    med = float(np.median(energy))
    mad = float(np.median(np.abs(energy - med))) * 1.4826
    peaks, _ = signal.find_peaks(energy, prominence=max(prominence * mad, 1.0), height=med + prominence * mad)
    return [VisualEvent(float(times[p + 1]), "motion", float(energy[p])) for p in peaks]


def _merge(events: list[VisualEvent], gap_s: float) -> list[VisualEvent]:
    kept: list[VisualEvent] = []
    for ev in sorted(events, key=lambda e: (_KIND_RANK[e.kind], -e.strength)):
        if all(abs(ev.time_s - k.time_s) >= gap_s for k in kept):
            kept.append(ev)
    return sorted(kept, key=lambda e: e.time_s)


def anchor_times(events: list[VisualEvent], kinds: tuple[str, ...] = ("impact", "cut")) -> list[float]:
    """Times that sounds are synced to: the events of ``kinds`` (impacts and cuts: sharp, one-frame
    moments), or every event's time when there is none of those kinds."""
    return [e.time_s for e in events if e.kind in kinds] or [e.time_s for e in events]
