"""Visual events: when something happens on screen (impacts, cuts, bursts of motion), from pictures.

:func:`visual_events` reads grey frames of a time window (:func:`avshooter.media.frames.grey_frames`) or
takes raw frames, and returns :class:`VisualEvent` s. :func:`sharp_events` returns only the moments a sound
is synced to (cuts and landings) with every frame's time, and :func:`change_signal` turns them into the
per-frame signal of the offset estimator (:mod:`avshooter.generation.offset`, used by
:func:`avshooter.generation.sync.sync_effects`); :func:`anchor_times` picks impacts and cuts from a list.

Visual events
-------------
Per frame ``i`` the *motion energy* ``m[i]`` is the mean absolute difference (0..255) to frame ``i-1``.
Three kinds of events are reported, strongest kind first when two fall within ``merge_frames``:

1. ``impact``: LOCAL motion that abruptly stops or reverses, not a camera move. We track the vertical centre of what moves (the
   centroid of pixels that differ from the window's median frame, i.e. from the static background) and
   take peaks of its *upward* acceleration ``-(y[i+1] - 2 y[i] + y[i-1])`` (image ``y`` grows down).
   Under gravity that acceleration is small and constant; at a landing the fall turns into a rise within
   one frame, so the peak sits exactly on the frame where the object touches the floor. A peak counts
   only where the centre fell over the two frames before (the last by at least ``impact_threshold``
   pixels) and does not keep falling after it: a one-frame jump of the centre is not a landing. A bouncing ball,
   a foot set down, an object dropped onto a table all look like this. A peak counts only where the
   change is concentrated in a few places of the picture (:func:`_local_impacts`): camera
   moves and slow character motion made most "impacts" of real film before that rule (issue 19).
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
from scipy import ndimage, signal

from ..errors import InputError
from .cuts import CutDetector
from .frames import grey_frames

__all__ = ["VisualEvent", "anchor_times", "cell_motion", "change_signal", "deceleration_signal", "directogram",
           "sharp_events", "visual_events"]

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
    energy = np.abs(np.diff(frames, axis=0)).mean(axis=(1, 2))  # energy[i-1] = change into frame i
    events = [e for e in _sharp_events(frames, times, impact_threshold) if cuts or e.kind != "cut"]
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


def sharp_events(path_or_frames, *, fps: float | None = None, start_s: float = 0.0, end_s: float | None = None,
                 max_side: int = 160) -> tuple[list[VisualEvent], np.ndarray]:
    """The moments a sound can be synced to: hard cuts and LOCAL impacts (:func:`_local_impacts`).

    Parameters
    ----------
    path_or_frames, fps, start_s, end_s, max_side
        As :func:`visual_events`.

    Returns
    -------
    (list of VisualEvent, np.ndarray)
        The events by time (kinds ``cut`` and ``impact``) and every frame's time (s, window-local).
    """
    frames, times = _load(path_or_frames, fps, start_s, end_s, max_side)
    return sorted(_sharp_events(frames, times), key=lambda e: e.time_s), times


def change_signal(events: list[VisualEvent], frame_times_s: np.ndarray) -> np.ndarray:
    """The picture side of offset estimation: 1.0 at the frames of ``events`` (e.g. :func:`sharp_events`),
    0 elsewhere; shape ``(frames,)``. A window without events gives all zeros: nothing to sync to."""
    times = np.asarray(frame_times_s, np.float64)
    out = np.zeros(times.size)
    for e in events:
        out[min(times.size - 1, int(np.searchsorted(times, e.time_s - 1e-6)))] = 1.0
    return out


def cell_motion(frames: np.ndarray, grid: tuple[int, int] = (6, 8)) -> np.ndarray:
    """The motion of each cell of a ``grid``: its mean absolute frame difference into each frame.

    Parameters
    ----------
    frames : np.ndarray, shape (frames, height, width)
        Grey frames.

    Returns
    -------
    np.ndarray, shape (frames, rows * cols)
        Row ``i`` is the change from frame ``i - 1`` into frame ``i`` (row 0 is 0).
    """
    frames = np.asarray(frames, np.float32)
    rows, cols = grid
    n, h, w = frames.shape
    hh, ww = h // rows * rows, w // cols * cols
    out = np.zeros((n, rows * cols))
    if n < 2 or hh == 0 or ww == 0:
        return out
    diff = np.abs(np.diff(frames[:, :hh, :ww], axis=0))
    out[1:] = diff.reshape(n - 1, rows, hh // rows, cols, ww // cols).mean(axis=(2, 4)).reshape(n - 1, -1)
    return out


def deceleration_signal(frames: np.ndarray) -> np.ndarray:
    """Visual impulses (Davis & Agrawala 2018, "visual rhythm"): where motion in some direction stops.
    The signal at frame ``i`` is the sum over the angle bins of :func:`directogram` of the drop from the
    flow into frame ``i`` to the flow out of it (0 where it grows): it fires on the last frame of a motion,
    the contact frame of a landing ball (its downward flow stops there), a hit, a foot set down, a turn,
    and at a cut (the flow into the new picture is large, the flow out of it is not); steady motion does not.

    Parameters
    ----------
    frames : np.ndarray, shape (frames, height, width)
        Grey frames (e.g. of :func:`sharp_events`'s window).

    Returns
    -------
    np.ndarray, shape (frames,)
        >= 0; the first and the last frame are 0 (no drop is defined there).
    """
    flow = directogram(frames)
    out = np.zeros(flow.shape[0])
    out[1:-1] = np.maximum(flow[1:-1] - flow[2:], 0.0).sum(axis=1)
    return out


def directogram(frames: np.ndarray, bins: int = 8, width: int = 80) -> np.ndarray:
    """Motion by direction (Davis & Agrawala 2018): per frame, the optical-flow magnitude summed over the
    picture in ``bins`` angle bins. The flow is Lucas-Kanade, per pixel, on frames scaled to ``width``
    pixels (a Gaussian-weighted 2 x 2 system at each pixel, sigma 2 px; untextured pixels give no flow).

    Parameters
    ----------
    frames : np.ndarray, shape (frames, height, width)
        Grey frames.

    Returns
    -------
    np.ndarray, shape (frames, bins)
        Row ``i``: the flow from frame ``i - 1`` into frame ``i`` (row 0 is 0), in pixels per frame at
        the scaled size. Bin 0 is rightward, bin ``bins // 4`` down the picture (rows grow downward).
    """
    frames = np.asarray(frames, np.float32)
    n = frames.shape[0]
    out = np.zeros((n, bins))
    if n < 2 or min(frames.shape[1:]) < 8:
        return out
    zoom = min(1.0, width / frames.shape[2])
    small = ndimage.zoom(ndimage.gaussian_filter(frames, (0, 1 / zoom, 1 / zoom)), (1, zoom, zoom), order=1)
    smooth = ndimage.gaussian_filter(small, (0, 1.0, 1.0))
    gy, gx = np.gradient(smooth, axis=(1, 2))
    for i in range(1, n):
        ix, iy = 0.5 * (gx[i] + gx[i - 1]), 0.5 * (gy[i] + gy[i - 1])
        it = smooth[i] - smooth[i - 1]
        w = [ndimage.gaussian_filter(x, 2.0) for x in (ix * ix, ix * iy, iy * iy, ix * it, iy * it)]
        det = w[0] * w[2] - w[1] ** 2
        ok = det > 1e-2 * max(float(np.percentile(det, 90)), 1e-6)
        safe = np.where(ok, det, 1.0)
        u = np.where(ok, (-w[2] * w[3] + w[1] * w[4]) / safe, 0.0)
        v = np.where(ok, (w[1] * w[3] - w[0] * w[4]) / safe, 0.0)
        angle = np.floor((np.arctan2(v, u) / (2 * np.pi) + 0.5 / bins) * bins).astype(int) % bins  # bin 0: right
        out[i] = np.bincount(angle.ravel(), weights=np.hypot(u, v).ravel(), minlength=bins)
    return out


def _sharp_events(frames: np.ndarray, times: np.ndarray, impact_threshold: float = 1.0) -> list[VisualEvent]:
    """Cuts and local impacts (the kinds :func:`visual_events` reports as ``cut`` and ``impact``)."""
    n = frames.shape[0]
    if n < 2:
        return []
    det = CutDetector()
    for t, f in zip(times, frames):
        det.update(float(t), np.clip(f, 0, 255).astype(np.uint8))
    cut_idx = sorted({int(np.searchsorted(times, t - 1e-6)) for t in det.cuts()} - {0})
    energy = np.abs(np.diff(frames, axis=0)).mean(axis=(1, 2))
    events = [VisualEvent(float(times[i]), "cut", float(energy[i - 1])) for i in cut_idx]
    # impacts within each picture segment (own static background; no centre jumps across a cut)
    for a, b in zip([0] + cut_idx, cut_idx + [n]):
        events += _local_impacts(frames[a:b], times[a:b], impact_threshold)
    return events


def _local_impacts(frames: np.ndarray, times: np.ndarray, threshold: float = 1.0) -> list[VisualEvent]:
    """The impacts of :func:`_impacts` that the picture shows as a LOCAL, sudden change.

    Kept only where the change into or out of the frame is concentrated: the 10 % of cells (a 6 x 8
    grid) that change most hold at least 3 times the mean change of all cells. A landing ball, a foot, a
    hit fill a few cells; a camera move over a drawn background, a zoom, a fade, a character turning
    fill many. (A global-translation test was tried first: on a flat background the moving object IS
    the dominant translation, so it rejected the demo's ball.)
    """
    kept = []
    for ev in _impacts(frames, times, threshold):
        i = int(np.searchsorted(times, ev.time_s - 1e-6))
        if i < 1 or i + 1 >= frames.shape[0]:
            continue
        if max(_concentration(frames[j - 1], frames[j]) for j in (i, i + 1)) >= 3.0:
            kept.append(ev)
    return kept


def _concentration(prev: np.ndarray, cur: np.ndarray, grid: tuple[int, int] = (6, 8)) -> float:
    """Mean change of the top 10 % of grid cells over the mean change of all cells (1: spread evenly)."""
    res = np.abs(cur - prev)
    rows, cols = grid
    hh, ww = res.shape[0] // rows * rows, res.shape[1] // cols * cols
    if hh == 0 or ww == 0:
        return 1.0
    cells = res[:hh, :ww].reshape(rows, hh // rows, cols, ww // cols).mean(axis=(1, 3)).ravel()
    k = max(1, int(round(0.1 * cells.size)))
    return float(np.sort(cells)[-k:].mean() / max(float(cells.mean()), 1e-9))


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
    # a landing: falling for two frames into the frame (the last at >= ``threshold`` px per frame), and
    # not falling out of it; a one-frame jump of the centre (a blink, a flicker, coding noise) is not one
    fall = np.diff(y)  # fall[j] = y[j+1] - y[j]
    return [VisualEvent(float(times[p + 1]), "impact", float(props["peak_heights"][k])) for k, p in enumerate(peaks)
            if p >= 1 and fall[p] >= threshold and fall[p - 1] > 0 and not fall[p + 1] > 0]


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
