"""Cuts: the hard-cut detector on small grey frames, and the passes that feed it.

- :class:`CutDetector` takes grey frames one at a time (``update``) and finds hard cuts;
- :func:`video_cuts` runs it over a file's pictures in a pass of their own: annotate does this while its
  ASR transcribes the audio already decoded, with a one-thread decoder (the ASR has the other cores);
- :func:`decode_with_cuts` decodes a file's audio ONCE (:func:`avshooter.media.decode.decode`) and
  feeds the detector the video frames of the same pass (the same cuts, one read of the file);
- :func:`cuts_in_file` is :func:`video_cuts` plus the end of the last frame (a video without audio).

How a hard cut is told from motion
----------------------------------
For each frame we take the mean absolute difference (MAD, 0..255) to the previous frame. A hard cut is a
*one-frame* spike: the frame before and the frame after the cut each look like their neighbours. So a cut
at frame ``i`` needs all of

1. ``d[i] >= min_diff`` (or a large grey-level histogram change with at least ``min_diff / 4``, so that
   cuts between two dark scenes are found too);
2. ``d[i] >= median_factor * median(d over the last median_window_s)``, leaving held frames out of the
   median: adaptive to how busy the shot is;
3. ``d[i] >= isolation * max(d[i-3 .. i+3] without d[i])``: the spike stands alone. Motion (a bird
   flapping its wings), a car crossing the lens, whip pans and fades all change the picture over several
   frames in a row, so their differences come in runs and fail this test. Looking 3 frames (not 1) to
   each side matters for anime, animated on twos or threes: held frames put near-zero differences
   between the moves, which would make every move look isolated. So a cut is decided 3 frames after it
   arrives (or, tentatively, in :meth:`CutDetector.cuts`).

Consequences, by design: dissolves and fades are not reported as cuts (the audio change points or the
story may still split there), and a single-frame flash is not a cut (both its differences are large).
"""
from __future__ import annotations

import math
import os
from collections import deque
from dataclasses import dataclass

import numpy as np

from ..errors import InputError

__all__ = ["CutParams", "CutDetector", "cuts_in_file", "decode_with_cuts", "video_cuts"]


@dataclass(frozen=True)
class CutParams:
    """Options of :class:`CutDetector` (change with ``dataclasses.replace``).

    Attributes
    ----------
    frame_size : (int, int)
        ``(width, height)`` the decoder should scale frames to, in grayscale. Any size from about
        64x36 to 160x90 works; 64x36 is enough for cuts and cheapest to produce.
    min_diff : float
        Smallest mean absolute frame difference (grey levels, 0..255) that can be a cut.
    min_hist : float
        A histogram distance (total variation, 0..1, 32 bins) at least this large also counts as strong
        enough, provided the frame difference is at least ``min_diff / 4`` (dark-to-dark cuts).
    median_window_s : float
        Length of the recent history whose median difference sets the adaptive threshold.
    median_factor : float
        A cut's difference must be at least this many times that median.
    isolation : float
        A cut's difference must be at least this many times the largest difference among the
        ``isolation_frames`` frames on either side.
    isolation_frames : int
        How many frames on each side a cut must stand out from (also the detector's look-ahead). 3
        covers animation on twos and threes, where held frames put zero differences between moves.
    still_diff : float
        Differences below this (held or duplicated frames) are left out of the recent median.
    min_gap_s : float
        Two cuts closer than this keep only the stronger one.
    """

    frame_size: tuple[int, int] = (64, 36)
    min_diff: float = 8.0
    min_hist: float = 0.3
    median_window_s: float = 1.0
    median_factor: float = 3.0
    isolation: float = 2.5
    isolation_frames: int = 3
    still_diff: float = 0.5
    min_gap_s: float = 0.25

    def __post_init__(self) -> None:
        w, h = self.frame_size
        if not (8 <= int(w) <= 1920 and 8 <= int(h) <= 1080):
            raise InputError(f"CutParams.frame_size {self.frame_size!r} must be (width, height) between 8 and 1920x1080")
        for name in ("min_diff", "median_window_s", "median_factor", "isolation"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise InputError(f"CutParams.{name} = {value!r} must be a finite number > 0")
        if not (0 < self.min_hist <= 1):
            raise InputError(f"CutParams.min_hist = {self.min_hist!r} must be in (0, 1]")
        if not (isinstance(self.isolation_frames, int) and 1 <= self.isolation_frames <= 12):
            raise InputError(f"CutParams.isolation_frames = {self.isolation_frames!r} must be an integer from 1 to 12")
        if not (math.isfinite(self.still_diff) and self.still_diff >= 0):
            raise InputError(f"CutParams.still_diff = {self.still_diff!r} must be >= 0")
        if not (math.isfinite(self.min_gap_s) and self.min_gap_s >= 0):
            raise InputError(f"CutParams.min_gap_s = {self.min_gap_s!r} must be >= 0")


class CutDetector:
    """Streaming hard-cut detector over small grayscale frames.

    Feed frames in presentation order with :meth:`update`; read the cut times with :meth:`cuts`, which
    may be called at any time (the last ``isolation_frames`` frames are then judged with the future
    they have so far, without committing). The cut time is the time of the first frame of the new shot.

    Parameters
    ----------
    params : CutParams
        Thresholds and the frame size to ask the decoder for (``params.frame_size``).

    Examples
    --------
    >>> det = CutDetector()
    >>> w, h = det.params.frame_size
    >>> for frame in container.decode(video=0):                                    # doctest: +SKIP
    ...     det.update(frame.time, frame.reformat(width=w, height=h, format="gray").to_ndarray())
    >>> det.cuts()                                                                 # doctest: +SKIP
    [11.795, 15.67, 22.961]
    """

    def __init__(self, params: CutParams = CutParams()) -> None:
        if not isinstance(params, CutParams):
            raise InputError(f"CutDetector params must be a CutParams, got {type(params).__name__}")
        self.params = params
        self._prev: np.ndarray | None = None
        self._prev_hist: np.ndarray | None = None
        self._last_time: float | None = None
        self._buf: deque[tuple[float, float, float]] = deque()  # (time, diff, hist distance), recent frames
        self._cuts: list[tuple[float, float]] = []  # committed (time, diff)
        self.n_frames = 0

    def update(self, time_s: float, frame: np.ndarray) -> None:
        """Add the next frame.

        Parameters
        ----------
        time_s : float
            Presentation time of the frame in seconds. A frame whose time is not after the previous one
            (duplicate or broken timestamps) is skipped.
        frame : np.ndarray
            ``uint8`` array ``(height, width)``, grayscale; all frames must share one size.
        """
        time_s = float(time_s)
        frame = np.asarray(frame)
        if frame.ndim != 2 or frame.dtype != np.uint8:
            raise InputError(
                f"CutDetector.update: frame must be a uint8 (height, width) gray image, got {frame.dtype} {frame.shape}"
            )
        if not math.isfinite(time_s):
            raise InputError(f"CutDetector.update: time {time_s!r} is not finite")
        if self._prev is not None and frame.shape != self._prev.shape:
            raise InputError(f"CutDetector.update: frame size changed from {self._prev.shape} to {frame.shape}")
        if self._last_time is not None and time_s <= self._last_time:
            return
        hist = np.bincount((frame >> 3).ravel(), minlength=32).astype(np.float64) / frame.size
        self.n_frames += 1
        if self._prev is not None:
            diff = float(np.abs(frame.astype(np.int16) - self._prev).mean())
            hist_dist = 0.5 * float(np.abs(hist - self._prev_hist).sum())
            self._buf.append((time_s, diff, hist_dist))
            k = self.params.isolation_frames
            if len(self._buf) > k:
                j = len(self._buf) - 1 - k
                if self._is_cut(self._buf, j):
                    _add_cut(self._cuts, self._buf[j][0], self._buf[j][1], self.params.min_gap_s)
                self._trim(j)
        self._prev, self._prev_hist, self._last_time = frame, hist, time_s

    def _trim(self, j: int) -> None:
        """Drop history that the next decisions no longer need (keeps memory bounded)."""
        k, window = self.params.isolation_frames, self.params.median_window_s
        t_next = self._buf[j + 1][0] if j + 1 < len(self._buf) else self._buf[j][0]
        while len(self._buf) > 2 * k + 1 and self._buf[0][0] < t_next - window and j >= k:
            self._buf.popleft()
            j -= 1

    def _is_cut(self, buf, j: int) -> bool:
        p = self.params
        time_s, diff, hist_dist = buf[j]
        if not (diff >= p.min_diff or (hist_dist >= p.min_hist and diff >= p.min_diff / 4)):
            return False
        k = p.isolation_frames
        neighbours = [buf[i][1] for i in range(max(0, j - k), min(len(buf), j + k + 1)) if i != j]
        if neighbours and diff < p.isolation * max(neighbours):
            return False
        # adaptive part: the median of recent *changing* frames (held frames of animation on twos or
        # threes have a difference near 0 and would otherwise pull the median down)
        recent = [d for t, d, _ in buf if time_s - p.median_window_s <= t < time_s and d > p.still_diff]
        return not recent or diff >= p.median_factor * float(np.median(recent))

    def cuts(self) -> list[float]:
        """Cut times in seconds (first frame of each new shot), increasing."""
        found = list(self._cuts)
        k = self.params.isolation_frames
        for j in range(max(0, len(self._buf) - k), len(self._buf)):
            if self._is_cut(self._buf, j):
                _add_cut(found, self._buf[j][0], self._buf[j][1], self.params.min_gap_s)
        return [t for t, _ in found]


def _add_cut(cuts: list[tuple[float, float]], time_s: float, diff: float, min_gap_s: float) -> None:
    """Append a cut, or keep only the stronger of two cuts closer than ``min_gap_s``."""
    if cuts and time_s - cuts[-1][0] < min_gap_s:
        if diff > cuts[-1][1]:
            cuts[-1] = (time_s, diff)
        return
    cuts.append((time_s, diff))


def decode_with_cuts(path: str | os.PathLike, *, cut_params: CutParams | None = CutParams(), sample_rate: int,
                     channels: int | None = None, workdir: str | os.PathLike | None = None,
                     mono_rate: int | None = None):
    """Decode the audio of ``path`` once and, in the same pass, find the hard cuts of its video.

    Parameters
    ----------
    path : media file with an audio stream
    cut_params : detector options, or None to decode the audio only
    sample_rate, channels, workdir, mono_rate : see :func:`avshooter.media.decode.decode`

    Returns
    -------
    (DecodedAudio, list of float or None)
        The decoded audio (close it, or use it as a context manager) and the cut times in file-local
        seconds; None when ``cut_params`` is None or the file has no video stream (cover art is not one).
    """
    from . import decode as _decode

    detector = CutDetector(cut_params) if cut_params is not None else None
    decoded = _decode.decode(path, sample_rate=sample_rate, channels=channels, workdir=workdir,
                             mono_rate=mono_rate, on_video_frame=detector.update if detector is not None else None,
                             frame_size=cut_params.frame_size if cut_params is not None else (64, 36))
    return decoded, (detector.cuts() if detector is not None and detector.n_frames else None)


def video_cuts(path: str | os.PathLike, *, params: CutParams = CutParams(),
               threads: int = 0) -> tuple[list[float], float | None]:
    """Hard cuts of a file's video (:func:`avshooter.media.frames.iter_grey`), without touching its audio.

    ``threads`` is the decoder's (:func:`avshooter.media.frames.set_up_decoder`: 0 = every CPU, 1 = this
    thread only); it skips the deblocking filter, which the 64x36 grey frames do not see. Returns the
    cut times in file-local seconds and the time of the last frame (None when the stream decodes to no
    frames). MediaError when the file has no video stream or it cannot be read.
    """
    from .frames import iter_grey

    detector = CutDetector(params)
    last = None
    for time_s, frame in iter_grey(path, size=params.frame_size, threads=threads, deblock=False):
        detector.update(time_s, frame)
        last = time_s
    return (detector.cuts() if last is not None else []), last


def cuts_in_file(path: str | os.PathLike, *, params: CutParams = CutParams()) -> tuple[list[float], float]:
    """Hard cuts of a file's video (:func:`video_cuts`) and the end of its last frame.

    Returns
    -------
    (list of float, float)
        Cut times in file-local seconds, and the end of the last frame (its time + one frame at the
        stream's rate; MediaError when that rate is unknown).
    """
    from ..errors import MediaError
    from .probe import probe

    rate = probe(path).require_frame_rate()
    cuts, last = video_cuts(path, params=params)
    if last is None:
        raise MediaError(f"{path}: the video stream decodes to no frames")
    return cuts, last + float(1 / rate)
