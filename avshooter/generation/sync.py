"""Sync: find what happens on screen and when sounds start, and shift effects so the two meet.

This module owns audio-visual alignment of a generated effects clip with its shot:

- :func:`motion_events` finds visual event times in a shot video (small grey frames via PyAV);
- :func:`audio_onsets` finds sound onsets (spectral flux peaks, refined on the waveform to ~1 ms);
- :func:`estimate_offset` finds the one shift, within a bounded window, that best aligns onsets to events;
- :func:`apply_shift` and :func:`sync_effects` apply it and measure the offset before and after.

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
2. ``cut``: a hard cut inside the window (:class:`avshooter.annotation.shots.CutDetector`).
3. ``motion``: prominent peaks of the motion energy (a burst of movement: a door slams, a hit, a flash).

Times are in seconds relative to the start of the analysed window (``start_s``), i.e. shot-local when
the window is the shot, which is the time base of the shot's effects clip.
"""
from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage, signal

from ..errors import InputError, MediaError
from ..units import check_audio, to_samples

__all__ = [
    "VisualEvent",
    "apply_shift",
    "audio_onsets",
    "estimate_offset",
    "motion_events",
    "sync_effects",
    "visual_events",
]

_KIND_RANK = {"impact": 0, "cut": 1, "motion": 2}


@dataclass(frozen=True)
class VisualEvent:
    """One visual event: time (s, window-local), kind (impact, cut, motion) and strength (kind's units)."""

    time_s: float
    kind: str
    strength: float

    def to_dict(self) -> dict:
        return {"time_s": self.time_s, "kind": self.kind, "strength": self.strength}


# ------------------------------------------------------------------------------------------- decoding
def _decode_grey(path, start_s: float, end_s: float | None, max_side: int) -> tuple[np.ndarray, np.ndarray]:
    """Grey uint8 frames ``(n, h, w)`` whose time is in ``[start_s, end_s)`` and their window-local times."""
    import av

    from ..media.audio import _container_start, _open, _video_stream

    container = _open(path)
    frames, times = [], []
    half_frame = 0.0
    with container:
        stream = _video_stream(container)
        if stream is None:
            raise MediaError(f"{path}: no video stream")
        stream.thread_type = "AUTO"
        rate = stream.average_rate or stream.guessed_rate
        half_frame = 0.5 / float(rate) if rate else 1e-3
        t0 = _container_start(container)
        w, h = stream.codec_context.width, stream.codec_context.height
        scale = min(1.0, max_side / max(w, h))
        size = (max(2, int(round(w * scale))), max(2, int(round(h * scale))))
        try:
            if start_s > 1.0:
                container.seek(int((start_s - 1.0) / stream.time_base), stream=stream)
            for frame in container.decode(stream):
                if frame.time is None:
                    continue
                t = float(frame.time) - t0
                if t < start_s - half_frame:
                    continue
                if end_s is not None and t >= end_s - half_frame:
                    break
                frames.append(frame.reformat(width=size[0], height=size[1], format="gray").to_ndarray())
                times.append(t - start_s)
        except av.error.FFmpegError as exc:
            raise MediaError(f"{path}: cannot read video frames ({exc})") from None
    if not frames:
        raise MediaError(f"{path}: no video frames in [{start_s:g}, {end_s if end_s is not None else 'end'}) s")
    return np.stack(frames), np.asarray(times)


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
    if isinstance(path_or_frames, (str, os.PathLike)):
        start = float(start_s)
        if not math.isfinite(start) or start < 0:
            raise InputError(f"start_s={start_s!r} is not allowed (a finite number of seconds >= 0)")
        if end_s is not None and not (math.isfinite(float(end_s)) and float(end_s) > start):
            raise InputError(f"end_s={end_s!r} is not allowed (a time after start_s={start_s!r})")
        frames, times = _decode_grey(path_or_frames, start, None if end_s is None else float(end_s), max_side)
        frames = frames.astype(np.float32)
    else:
        frames, times = _frames_input(path_or_frames, fps)
    n = frames.shape[0]
    if n < 2:
        return []
    frame_dt = float(np.median(np.diff(times)))
    events: list[VisualEvent] = []
    energy = np.abs(np.diff(frames, axis=0)).mean(axis=(1, 2))  # energy[i-1] = change into frame i
    from ..annotation.shots import CutDetector

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


def motion_events(path_or_frames, *, fps: float | None = None, start_s: float = 0.0, end_s: float | None = None,
                  **options) -> list[float]:
    """Visual event times (seconds, relative to ``start_s``) of a shot: impacts, cuts and motion peaks.

    Same parameters as :func:`visual_events` (which also returns each event's kind and strength).

    Returns
    -------
    list of float, increasing
    """
    return [e.time_s for e in visual_events(path_or_frames, fps=fps, start_s=start_s, end_s=end_s, **options)]


# -------------------------------------------------------------------------------------------- audio
def audio_onsets(wav: np.ndarray, sample_rate: int, *, hop_s: float = 0.005, win_s: float = 0.023,
                 delta: float = 0.1, min_gap_s: float = 0.05, floor_db: float = -60.0) -> list[float]:
    """Sound onset times in seconds: spectral-flux peaks, each refined on the waveform envelope.

    1. Mono downmix; magnitude STFT (Hann ``win_s``, hop ``hop_s``), log-compressed; spectral flux =
       sum over bins of the positive change from the previous frame.
    2. Peaks of the flux above ``median (0.5 s window) + delta * max(flux)``, at least ``min_gap_s``
       apart, in frames whose level is above ``floor_db`` dBFS.
    3. Refinement: on the 1 ms peak envelope of the waveform around the peak, the onset is the last
       point before the local maximum where the envelope is below 10 % of the way from the pre-onset
       floor to that maximum (precise to about a millisecond; the STFT frame alone is +-``win_s/2``).

    Parameters
    ----------
    wav : np.ndarray, shape (channels, samples), float
    sample_rate : int

    Returns
    -------
    list of float, increasing
    """
    wav = check_audio(wav, sample_rate)
    sr = int(sample_rate)
    mono = wav.astype(np.float64).mean(axis=0)
    hop, win = max(1, to_samples(hop_s, sr)), max(16, to_samples(win_s, sr))
    if mono.size < win or not np.any(mono):
        return []
    _, _, spec = signal.stft(mono, fs=sr, window="hann", nperseg=win, noverlap=win - hop, boundary=None,
                             padded=False)
    mag = np.abs(spec)
    logmag = np.log1p(100.0 * mag / max(float(mag.max()), 1e-12))
    flux = np.concatenate([[0.0], np.maximum(np.diff(logmag, axis=1), 0.0).sum(axis=0)])
    if flux.max() <= 0:
        return []
    med = ndimage.median_filter(flux, size=max(3, int(round(0.5 / hop_s)) | 1), mode="nearest")
    csum = np.concatenate([[0.0], np.cumsum(mono * mono)])
    starts = np.arange(mag.shape[1]) * hop
    level = 10 * np.log10((csum[np.minimum(starts + win, mono.size)] - csum[starts]) / win + 1e-20)
    peaks, _ = signal.find_peaks(flux, height=med + delta * flux.max(), distance=max(1, int(round(min_gap_s / hop_s))))
    env = ndimage.maximum_filter1d(np.abs(mono), size=max(1, to_samples(0.001, sr)))
    onsets = []
    for p in peaks:
        lvl = level[min(p + 1, len(level) - 1)]
        if lvl < floor_db:
            continue
        centre = p * hop + win // 2  # sample at the centre of the peak frame
        onsets.append(_refine(env, centre, win, sr))
    onsets = sorted(onsets)
    out: list[float] = []
    for t in onsets:
        if not out or t - out[-1] >= min_gap_s * 0.5:
            out.append(t)
    return out


def _refine(env: np.ndarray, centre: int, win: int, sr: int) -> float:
    lo = max(0, centre - win)
    hi = min(env.size, centre + win)
    if hi - lo < 2:
        return centre / sr
    peak = lo + int(np.argmax(env[lo:hi]))
    pre_lo = max(0, peak - win - to_samples(0.03, sr))
    before = env[pre_lo: max(pre_lo + 1, peak - win // 2)]
    floor = float(np.percentile(before, 20)) if before.size else 0.0
    thresh = floor + 0.1 * (float(env[peak]) - floor)
    below = np.flatnonzero(env[lo: peak + 1] < thresh)
    onset = lo + int(below[-1]) + 1 if below.size else lo
    return onset / sr


# ------------------------------------------------------------------------------------------ aligning
def _nearest_residuals(events: np.ndarray, onsets: np.ndarray) -> np.ndarray:
    """``event - onset`` to the nearest event for each onset."""
    idx = np.clip(np.searchsorted(events, onsets), 1, len(events) - 1) if len(events) > 1 else np.zeros(len(onsets), int)
    if len(events) == 1:
        return events[0] - onsets
    left, right = events[idx - 1] - onsets, events[idx] - onsets
    return np.where(np.abs(left) <= np.abs(right), left, right)


def estimate_offset(events_s: Sequence[float], onsets_s: Sequence[float], *, max_shift_s: float = 0.5,
                    tolerance_s: float = 0.042) -> float:
    """The shift (s) to add to the audio so its onsets best meet the visual events.

    Candidates are every ``event - onset`` difference within ``[-max_shift_s, max_shift_s]`` (and 0).
    Each is scored by the number of onsets that land within ``tolerance_s`` of an event, then (ties) by
    the smaller median residual, then by the smaller shift. The winner is refined by the median residual
    of its matched pairs. No events or no onsets: 0.0.

    Parameters
    ----------
    events_s, onsets_s : sequence of float
        Visual event times and audio onset times in the same time base (seconds).
    max_shift_s : float
        Largest shift allowed either way (>= 0).
    tolerance_s : float
        An onset within this distance of an event counts as matched (default: one frame at 24 fps).

    Returns
    -------
    float
        Shift in seconds: positive delays the audio.
    """
    if not (isinstance(max_shift_s, (int, float)) and math.isfinite(max_shift_s) and max_shift_s >= 0):
        raise InputError(f"max_shift_s={max_shift_s!r} is not allowed (a finite number of seconds >= 0)")
    if not (isinstance(tolerance_s, (int, float)) and math.isfinite(tolerance_s) and tolerance_s > 0):
        raise InputError(f"tolerance_s={tolerance_s!r} is not allowed (a finite number of seconds > 0)")
    events = np.sort(np.asarray(events_s, dtype=np.float64).ravel())
    onsets = np.sort(np.asarray(onsets_s, dtype=np.float64).ravel())
    if events.size == 0 or onsets.size == 0:
        return 0.0
    if not (np.isfinite(events).all() and np.isfinite(onsets).all()):
        raise InputError("estimate_offset: event and onset times must be finite numbers of seconds")
    diffs = (events[:, None] - onsets[None, :]).ravel()
    candidates = np.unique(np.concatenate([[0.0], diffs[np.abs(diffs) <= max_shift_s + 1e-12]]))
    scored = []
    for shift in candidates:
        res = _nearest_residuals(events, onsets + shift)
        matched = np.abs(res) <= tolerance_s
        count = int(matched.sum())
        if count:
            scored.append((float(shift), count, float(np.median(np.abs(res[matched])))))
    if not scored:
        return 0.0
    most = max(c for _, c, _ in scored)
    scored = [s for s in scored if s[1] == most]
    closest = min(m for _, _, m in scored)
    # among equally good fits (median residual within 5 ms of the best), the smallest shift wins:
    # periodic events (footsteps, bounces) otherwise alias by one period
    best = min((s for s in scored if s[2] <= closest + 0.005), key=lambda s: abs(s[0]))[0]
    res = _nearest_residuals(events, onsets + best)
    refined = best + float(np.median(res[np.abs(res) <= tolerance_s]))
    return float(np.clip(refined, -max_shift_s, max_shift_s))


def apply_shift(wav: np.ndarray, sample_rate: int, shift_s: float) -> np.ndarray:
    """Shift audio in time, keeping its length: positive delays (zeros in front, the tail is cut),
    negative advances (the head is cut, zeros at the end).

    Parameters
    ----------
    wav : np.ndarray, shape (channels, samples), float
    sample_rate : int
    shift_s : float

    Returns
    -------
    np.ndarray, shape (channels, samples), float32
    """
    wav = check_audio(wav, sample_rate)
    if not (isinstance(shift_s, (int, float, np.floating)) and math.isfinite(shift_s)):
        raise InputError(f"shift_s={shift_s!r} is not allowed (a finite number of seconds)")
    n = to_samples(abs(float(shift_s)), int(sample_rate))
    out = np.zeros(wav.shape, np.float32)
    length = wav.shape[1]
    if n >= length:
        return out
    if shift_s > 0:
        out[:, n:] = wav[:, : length - n]
    elif n:
        out[:, : length - n] = wav[:, n:]
    else:
        out[:] = wav
    return out


def _median_offset(events: np.ndarray, onsets: list[float]) -> float | None:
    if events.size == 0 or not onsets:
        return None
    return float(np.median(np.abs(_nearest_residuals(np.sort(events), np.asarray(onsets)))))


def sync_effects(wav: np.ndarray, sample_rate: int, events_s: Sequence[float], *, max_shift_s: float = 0.5,
                 tolerance_s: float = 0.042) -> tuple[np.ndarray, dict]:
    """Shift an effects clip so its onsets meet the shot's visual events, and measure the result.

    Parameters
    ----------
    wav : np.ndarray, shape (channels, samples), float
        The shot's effects, shot-local (sample 0 = shot start).
    sample_rate : int
    events_s : sequence of float
        Shot-local visual event times (:func:`motion_events`).
    max_shift_s : float
        Largest shift either way (default 0.5 s).
    tolerance_s : float
        Matching tolerance, see :func:`estimate_offset`.

    Returns
    -------
    (np.ndarray, dict)
        The shifted clip (same shape, float32) and a report ``{"shift_s", "offset_before_s",
        "offset_after_s", "matched", "events", "onsets", "note"}``: offsets are the median
        ``|onset - nearest event|`` measured on the clip before and after (None when there is nothing
        to measure); ``matched`` counts onsets within ``tolerance_s`` after the shift; ``note`` says
        why nothing was shifted when that is the case.
    """
    wav = check_audio(wav, sample_rate)
    events = np.sort(np.asarray(list(events_s), dtype=np.float64))
    onsets = audio_onsets(wav, sample_rate)
    report = {"shift_s": 0.0, "offset_before_s": _median_offset(events, onsets), "offset_after_s": None,
              "matched": 0, "events": int(events.size), "onsets": len(onsets), "note": None}
    if events.size == 0 or not onsets:
        report["note"] = "no visual events: not shifted" if events.size == 0 else "no audio onsets: not shifted"
        report["offset_after_s"] = report["offset_before_s"]
        return wav.astype(np.float32, copy=True), report
    shift = estimate_offset(events, onsets, max_shift_s=max_shift_s, tolerance_s=tolerance_s)
    shifted = apply_shift(wav, sample_rate, shift)
    after = audio_onsets(shifted, sample_rate)
    report["shift_s"] = round(shift, 6)
    report["offset_after_s"] = _median_offset(events, after)
    report["matched"] = int((np.abs(_nearest_residuals(events, np.asarray(after))) <= tolerance_s).sum()) if after else 0
    if shift == 0.0:
        report["note"] = "no shift within the window matched an onset to an event"
    return shifted, report
