"""Shot detection when no story is given: video cuts, audio change points, and merging them into shots.

This module owns the detector that the annotate pipeline falls back on when a video comes without a
story JSON. It is split so that the media module can decode a file ONCE and feed both halves:

- :class:`CutDetector` takes small grayscale frames one at a time (``update``) and finds hard cuts;
- :func:`audio_change_points` finds large changes in a 16 kHz mono downmix of the soundtrack;
- :func:`merge_shots` turns both lists into shots that tile ``[0, duration_s)``, each >= 3 s like the
  paper (AnimeShooter merged its shots to at least 3 s).

:func:`detect_shots_from_file` runs all three with its own PyAV decode (tests and simple API use).

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
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InputError, MediaError
from ..units import to_samples

__all__ = [
    "CutParams",
    "AudioChangeParams",
    "ShotParams",
    "CutDetector",
    "audio_change_points",
    "merge_shots",
    "detect_shots_from_file",
]


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


@dataclass(frozen=True)
class AudioChangeParams:
    """Options of :func:`audio_change_points`.

    Attributes
    ----------
    sample_rate : int
        Rate the audio is analysed at (mono downmix, resampled with soxr if needed).
    hop_s : float
        Feature frame hop; frames are ``2 * hop_s`` long (Hann window).
    n_bands : int
        Mel-spaced bands between 60 Hz and 7.6 kHz; features are band levels in dB.
    context_s : float
        Each change point compares the mean features of ``context_s`` before and after it
        (a box checkerboard kernel on the diagonal of the self-similarity matrix, computed in O(n)).
    min_change_db : float
        Smallest mean band-level change (dB, RMS over bands) reported.
    floor_db : float
        Band levels are clipped at this level below full scale, so silence does not dominate.
    """

    sample_rate: int = 16000
    hop_s: float = 0.05
    n_bands: int = 24
    context_s: float = 1.5
    min_change_db: float = 8.0
    floor_db: float = -90.0

    def __post_init__(self) -> None:
        if int(self.sample_rate) < 8000:
            raise InputError(f"AudioChangeParams.sample_rate = {self.sample_rate!r} must be >= 8000")
        for name in ("hop_s", "context_s", "min_change_db"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise InputError(f"AudioChangeParams.{name} = {value!r} must be a finite number > 0")
        if not (4 <= int(self.n_bands) <= 128):
            raise InputError(f"AudioChangeParams.n_bands = {self.n_bands!r} must be between 4 and 128")


@dataclass(frozen=True)
class ShotParams:
    """Options of the whole detector (:func:`merge_shots`, :func:`detect_shots_from_file`).

    Attributes
    ----------
    cut, audio : CutParams, AudioChangeParams
        Options of the two detectors.
    min_shot_s : float
        Shots shorter than this are merged into a neighbour (the paper merged shots to >= 3 s).
    max_shot_s : float
        A stretch without a video cut longer than this may be split at audio change points (each piece
        still >= ``min_shot_s``). 12 s is about three times the paper's mean shot (3.85 s): long takes
        stay whole unless the soundtrack clearly changes inside them.
    snap_s : float
        An audio change point within this distance of a video cut is taken to be that cut.
    use_audio : bool
        Whether :func:`detect_shots_from_file` computes audio change points at all.
    """

    cut: CutParams = field(default_factory=CutParams)
    audio: AudioChangeParams = field(default_factory=AudioChangeParams)
    min_shot_s: float = 3.0
    max_shot_s: float = 12.0
    snap_s: float = 0.5
    use_audio: bool = True


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


def _mel(hz):
    return 2595.0 * np.log10(1.0 + np.asarray(hz, dtype=np.float64) / 700.0)


def _band_matrix(n_fft: int, sr: int, n_bands: int) -> np.ndarray:
    """Triangular mel filterbank ``(n_bands, n_fft // 2 + 1)``."""
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sr)
    edges_mel = np.linspace(_mel(60.0), _mel(min(7600.0, sr / 2 * 0.95)), n_bands + 2)
    edges = 700.0 * (10 ** (edges_mel / 2595.0) - 1.0)
    bank = np.zeros((n_bands, freqs.size), dtype=np.float32)
    for b in range(n_bands):
        lo, mid, hi = edges[b], edges[b + 1], edges[b + 2]
        up = (freqs - lo) / max(mid - lo, 1e-9)
        down = (hi - freqs) / max(hi - mid, 1e-9)
        bank[b] = np.clip(np.minimum(up, down), 0.0, None)
        if not bank[b].any():  # band narrower than one FFT bin: take the nearest bin
            bank[b, int(np.argmin(np.abs(freqs - mid)))] = 1.0
    return bank


def _band_levels(mono: np.ndarray, sr: int, params: AudioChangeParams) -> np.ndarray:
    """Band levels in dB, ``(frames, n_bands)``, one frame per ``hop_s``, computed in chunks."""
    hop = max(1, to_samples(params.hop_s, sr))
    n_fft = 1 << int(math.ceil(math.log2(2 * hop)))
    n_frames = 1 + max(0, mono.size - 1) // hop
    padded = np.concatenate([np.zeros(n_fft // 2, np.float32), mono, np.zeros(n_fft, np.float32)])
    window = np.hanning(n_fft).astype(np.float32)
    bank = _band_matrix(n_fft, sr, params.n_bands)
    norm = float((window**2).sum()) * n_fft / 4  # full-scale sine in one band ~ 0 dB
    out = np.empty((n_frames, params.n_bands), dtype=np.float32)
    chunk = 4096
    for start in range(0, n_frames, chunk):
        idx = np.arange(start, min(n_frames, start + chunk))
        frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[idx * hop] * window
        power = np.abs(np.fft.rfft(frames, axis=1)).astype(np.float32) ** 2
        out[idx] = power @ bank.T
    np.maximum(out / norm, 10 ** (params.floor_db / 10), out=out)
    return 10.0 * np.log10(out)


def audio_change_points(wav: np.ndarray, sr: int, *, params: AudioChangeParams = AudioChangeParams()) -> list[float]:
    """Times where the soundtrack changes a lot (music starts, a scene's ambience changes, ...).

    The audio is downmixed to mono and resampled to ``params.sample_rate``; features are mel band levels
    in dB every ``hop_s``. The novelty at time ``t`` is the RMS over bands of the difference between the
    mean levels in ``[t - context_s, t)`` and ``[t, t + context_s)`` (a box checkerboard kernel, O(n)
    with cumulative sums). Peaks of the novelty that reach ``min_change_db`` and are the largest within
    ``context_s`` on either side are returned. A 60 min file takes a few seconds.

    Parameters
    ----------
    wav : np.ndarray
        Audio ``(channels, samples)`` float (a 1-D array is taken as mono).
    sr : int
        Its sample rate.
    params : AudioChangeParams
        Analysis options.

    Returns
    -------
    list of float
        Change times in seconds, increasing; never closer than ``context_s`` to the start or the end.
    """
    wav = np.asarray(wav)
    if wav.ndim == 1:
        wav = wav[None, :]
    if wav.ndim != 2 or not np.issubdtype(wav.dtype, np.floating):
        raise InputError(f"audio_change_points: wav must be float (channels, samples), got {wav.dtype} {wav.shape}")
    if not (isinstance(sr, (int, np.integer)) and sr > 0):
        raise InputError(f"audio_change_points: sample rate {sr!r} must be a positive integer")
    mono = wav.astype(np.float32).mean(axis=0)
    if not np.isfinite(mono).all():
        raise InputError("audio_change_points: wav contains NaN or infinite samples")
    rate = int(params.sample_rate)
    if sr != rate and mono.size:
        import soxr

        mono = soxr.resample(mono, sr, rate, quality="MQ").astype(np.float32)
    feats = _band_levels(mono, rate, params)
    hop = to_samples(params.hop_s, rate) / rate
    k = max(1, int(round(params.context_s / hop)))
    n = feats.shape[0]
    if n < 2 * k + 1:
        return []
    csum = np.vstack([np.zeros((1, feats.shape[1])), np.cumsum(feats, axis=0, dtype=np.float64)])
    centers = np.arange(k, n - k + 1)  # boundary between frame c-1 and c
    left = (csum[centers] - csum[centers - k]) / k
    right = (csum[centers + k] - csum[centers]) / k
    novelty = np.sqrt(((right - left) ** 2).mean(axis=1))
    points = []
    for j in np.flatnonzero(novelty >= params.min_change_db):
        lo, hi = max(0, j - k), min(novelty.size, j + k + 1)
        if novelty[j] >= novelty[lo:hi].max() and (not points or centers[j] - points[-1] > k):
            points.append(int(centers[j]))
    # frame c is centred on c * hop; the boundary between frames c-1 and c sits half a hop earlier
    return [round((c - 0.5) * hop, 4) for c in points]


def merge_shots(
    cuts,
    audio_points,
    duration_s: float,
    *,
    min_shot_s: float = 3.0,
    max_shot_s: float = 12.0,
    snap_s: float = 0.5,
) -> list[tuple[float, float]]:
    """Shots ``[(start_s, end_s), ...]`` from video cuts and audio change points.

    Rules, in order:

    1. Video cuts are the primary boundaries (those outside ``(0, duration_s)`` are dropped).
    2. An audio point within ``snap_s`` of a video cut is that cut (it adds nothing).
    3. Other audio points add a boundary only inside a stretch between video boundaries longer than
       ``max_shot_s``, and only if the new pieces are each >= ``min_shot_s`` (points are taken in time
       order; a point that would make a piece too short is skipped).
    4. While a shot is shorter than ``min_shot_s`` and there is more than one shot, the shortest shot is
       merged into a neighbour: the boundary removed is an audio one if the shot has one, else the one
       shared with the shorter neighbour (ties: the later neighbour). The paper merged shots to >= 3 s.

    The result tiles ``[0, duration_s)``: the first shot starts at 0, the last ends at ``duration_s``
    and consecutive shots share their boundary. Every shot is >= ``min_shot_s`` unless the whole input
    is shorter, in which case it is one shot.

    Parameters
    ----------
    cuts, audio_points : sequence of float
        Video cut times and audio change points in seconds (any order).
    duration_s : float
        Length of the media in seconds (> 0).
    min_shot_s, max_shot_s, snap_s : float
        See above; ``max_shot_s`` must be >= ``min_shot_s``.

    Returns
    -------
    list of (float, float)
        ``(start_s, end_s)`` of each shot.
    """
    duration_s = _finite("duration_s", duration_s)
    if duration_s <= 0:
        raise InputError(f"merge_shots: duration_s = {duration_s!r} must be > 0")
    min_shot_s = _finite("min_shot_s", min_shot_s)
    max_shot_s = _finite("max_shot_s", max_shot_s)
    snap_s = _finite("snap_s", snap_s)
    if min_shot_s < 0 or snap_s < 0 or max_shot_s < min_shot_s:
        raise InputError(
            f"merge_shots: need 0 <= min_shot_s <= max_shot_s and snap_s >= 0 "
            f"(got min_shot_s={min_shot_s}, max_shot_s={max_shot_s}, snap_s={snap_s})"
        )
    video = sorted({t for t in (_finite("cut", x) for x in cuts) if 0 < t < duration_s})
    marks: dict[float, bool] = {t: True for t in video}  # time -> is a video cut
    edges = [0.0, *video, duration_s]
    for a, b in zip(edges[:-1], edges[1:]):
        if b - a <= max_shot_s:
            continue
        last = a
        for t in sorted(_finite("audio point", x) for x in audio_points):
            if not a < t < b or any(abs(t - v) <= snap_s for v in video):
                continue
            if t - last >= min_shot_s and b - t >= min_shot_s:
                marks[t] = False
                last = t
    bounds = [0.0, *sorted(marks), duration_s]
    is_video = [True, *(marks[t] for t in sorted(marks)), True]
    while len(bounds) > 2:
        lengths = np.diff(bounds)
        i = int(np.argmin(lengths))
        if lengths[i] >= min_shot_s:
            break
        # shot i spans bounds[i]..bounds[i+1]; removable inner boundaries: i (if > 0) and i+1 (if < last)
        options = [j for j in (i, i + 1) if 0 < j < len(bounds) - 1]
        audio_opts = [j for j in options if not is_video[j]]
        if audio_opts:
            j = audio_opts[0] if len(audio_opts) == 1 else min(audio_opts, key=lambda j: lengths[j - 1] + lengths[j])
        elif len(options) == 1:
            j = options[0]
        else:  # merge into the shorter neighbour; on a tie, the later one
            j = i if lengths[i - 1] < lengths[i + 1] else i + 1
        del bounds[j], is_video[j]
    return [(float(a), float(b)) for a, b in zip(bounds[:-1], bounds[1:])]


def _finite(name: str, value) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise InputError(f"merge_shots: {name} {value!r} is not a number") from None
    if not math.isfinite(value):
        raise InputError(f"merge_shots: {name} {value!r} must be finite")
    return value


def detect_shots_from_file(path, *, params: ShotParams = ShotParams()) -> list[tuple[float, float]]:
    """Detect shots in a media file with its own PyAV decode (video cuts + audio change points).

    The annotate pipeline uses the one-pass decoder of the media module instead; this helper is for
    tests and simple API use. A file without a video stream gets audio change points only; one without
    an audio stream gets video cuts only.

    Parameters
    ----------
    path : str or Path
        Media file.
    params : ShotParams
        Detector and merge options.

    Returns
    -------
    list of (float, float)
        Shots tiling ``[0, duration)``, see :func:`merge_shots`.
    """
    import av

    path = Path(path)
    if not path.is_file():
        raise MediaError(f"{path}: no such media file")
    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError) as exc:
        raise MediaError(f"{path}: cannot open media ({exc})") from None
    with container:
        has_video, has_audio = bool(container.streams.video), bool(container.streams.audio)
        if not has_video and not has_audio:
            raise MediaError(f"{path}: has no video or audio stream")
        duration_s, cuts = 0.0, []
        if has_video:
            cuts, duration_s = _decode_cuts(container, path, params.cut)
        points: list[float] = []
        if has_audio:
            wav, audio_dur = _decode_audio_16k(path, params.audio.sample_rate)
            duration_s = max(duration_s, audio_dur)
            if params.use_audio and wav.size:
                points = audio_change_points(wav, params.audio.sample_rate, params=params.audio)
    if duration_s <= 0:
        raise MediaError(f"{path}: decoded no frames or samples (empty or corrupt file)")
    return merge_shots(
        cuts, points, duration_s, min_shot_s=params.min_shot_s, max_shot_s=params.max_shot_s, snap_s=params.snap_s
    )


def _decode_cuts(container, path: Path, params: CutParams) -> tuple[list[float], float]:
    import av

    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    det = CutDetector(params)
    w, h = params.frame_size
    end = 0.0
    try:
        for frame in container.decode(stream):
            if frame.time is None:
                continue
            det.update(frame.time, frame.reformat(width=w, height=h, format="gray").to_ndarray())
            step = float(frame.duration * frame.time_base) if frame.duration and frame.time_base else 0.0
            if not step and stream.average_rate:
                step = 1.0 / float(stream.average_rate)
            end = max(end, float(frame.time) + step)
    except av.FFmpegError as exc:
        raise MediaError(f"{path}: video decode failed ({exc})") from None
    return det.cuts(), end


def _decode_audio_16k(path: Path, rate: int) -> tuple[np.ndarray, float]:
    """Mono float32 ``(1, samples)`` at ``rate`` and the stream's duration in seconds."""
    import av

    parts = []
    try:
        with av.open(str(path)) as container:
            stream = container.streams.audio[0]
            resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    parts.append(out.to_ndarray().reshape(-1))
            for out in resampler.resample(None):
                parts.append(out.to_ndarray().reshape(-1))
    except av.FFmpegError as exc:
        raise MediaError(f"{path}: audio decode failed ({exc})") from None
    mono = np.concatenate(parts).astype(np.float32) if parts else np.zeros(0, np.float32)
    return mono[None, :], mono.size / rate
