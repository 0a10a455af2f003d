"""Shots without a story: audio change points, and merging them with video cuts into shots (arrays in, spans out).

This module owns what the annotate pipeline does when a video comes without a story JSON, after the
media layer has decoded its audio and found its video cuts (annotate: :func:`avshooter.media.cuts.video_cuts`,
a picture pass beside its ASR; :func:`detect_shots_from_file`: :func:`avshooter.media.cuts.decode_with_cuts`,
both in one pass; the same cuts):

- :func:`audio_change_points` finds large changes in the soundtrack (mono samples in);
- :func:`merge_shots` turns video cuts and audio points into shots that tile ``[0, duration_s)``, each
  >= 3 s like the paper (AnimeShooter merged its shots to at least 3 s);
- :func:`detect_shots` is both, as annotate calls them; :func:`detect_shots_from_file` is the same path
  for one file (the same detector and merge that annotate uses, the cuts found while the audio decodes),
  for tests and the Python API.

The cut detector itself is :mod:`avshooter.media.cuts`.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

import numpy as np

from ..audio.resample import resample
from ..errors import InputError
from ..media.cuts import CutParams
from ..units import to_samples

__all__ = [
    "AudioChangeParams",
    "ShotDetection",
    "ShotParams",
    "audio_change_points",
    "detect_shots",
    "detect_shots_from_file",
    "merge_shots",
]


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
    """Options of the whole detector (:func:`detect_shots`; change with ``dataclasses.replace``).

    Attributes
    ----------
    cut, audio : CutParams, AudioChangeParams
        Options of the two detectors (``cut`` goes to the cut detector, :class:`avshooter.media.cuts.CutParams`).
    min_shot_s : float
        Shots shorter than this are merged into a neighbour (the paper merged shots to >= 3 s).
    max_shot_s : float
        A stretch without a video cut longer than this may be split at audio change points (each piece
        still >= ``min_shot_s``). 12 s is about three times the paper's mean shot (3.85 s): long takes
        stay whole unless the soundtrack clearly changes inside them.
    snap_s : float
        An audio change point within this distance of a video cut is taken to be that cut.
    use_audio : bool
        Whether :func:`detect_shots` computes audio change points at all.
    """

    cut: CutParams = field(default_factory=CutParams)
    audio: AudioChangeParams = field(default_factory=AudioChangeParams)
    min_shot_s: float = 3.0
    max_shot_s: float = 12.0
    snap_s: float = 0.5
    use_audio: bool = True


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
    mono = resample(mono, sr, rate, quality="MQ")
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


@dataclass(frozen=True)
class ShotDetection:
    """Detected shots and what they came from (times in seconds)."""

    spans: list[tuple[float, float]]
    """``(start_s, end_s)`` of each shot, tiling ``[0, duration_s)`` (:func:`merge_shots`)."""
    cuts_s: list[float]
    """Video cuts given to the merge."""
    audio_points_s: list[float]
    """Audio change points found (empty when ``use_audio`` is off or there is no audio)."""


def detect_shots(cuts_s, mono: np.ndarray, sample_rate: int, duration_s: float, *,
                 params: ShotParams = ShotParams()) -> ShotDetection:
    """Shots from video cuts and the soundtrack: :func:`audio_change_points` then :func:`merge_shots`.

    Parameters
    ----------
    cuts_s : sequence of float
        Video cut times (:func:`avshooter.media.cuts.video_cuts`); empty for no picture.
    mono : np.ndarray
        The soundtrack, mono ``(samples,)`` or ``(channels, samples)`` float; may be empty.
    sample_rate : int
        Its rate.
    duration_s : float
        Length of the media (> 0).
    params : ShotParams
        Detector and merge options (``params.cut`` is for the decoder that found ``cuts_s``).
    """
    cuts = [float(c) for c in cuts_s]
    points: list[float] = []
    if params.use_audio and np.asarray(mono).size:
        points = audio_change_points(mono, sample_rate, params=params.audio)
    spans = merge_shots(cuts, points, duration_s, min_shot_s=params.min_shot_s, max_shot_s=params.max_shot_s,
                        snap_s=params.snap_s)
    return ShotDetection(spans=spans, cuts_s=cuts, audio_points_s=points)


ANALYSIS_RATE = 16000
"""Rate of the mono soundtrack that annotate analyses (VAD and audio change points)."""


def detect_shots_from_file(path: str | os.PathLike, *, params: ShotParams = ShotParams(),
                           sample_rate: int | None = None, channels: int | None = None) -> ShotDetection:
    """Shots of one media file, found the way annotate finds them when a video has no story.

    The audio is decoded once at ``sample_rate`` (default: annotate's ``AnnotateConfig().sample_rate``) with
    the video cuts found in the same pass (:func:`avshooter.media.cuts.decode_with_cuts`) and, as annotate
    does, a 16 kHz mono track resampled once from the source (``mono_rate``), given to :func:`detect_shots`. A file
    without an audio stream gets video cuts only (:func:`avshooter.media.cuts.cuts_in_file`).

    Raises
    ------
    MediaError
        Missing or unreadable file, or one with neither audio nor video.
    """
    from ..config import AnnotateConfig
    from ..errors import MediaError
    from ..media.cuts import cuts_in_file, decode_with_cuts
    from ..media.probe import probe

    if sample_rate is None:
        sample_rate = AnnotateConfig().sample_rate
    info = probe(path)
    if not info.has_audio:
        if not info.has_video:
            raise MediaError(f"{path}: has no video or audio stream")
        cuts, end_s = cuts_in_file(path, params=params.cut)
        return detect_shots(cuts, np.zeros(0, np.float32), ANALYSIS_RATE, end_s, params=params)
    decoded, cuts = decode_with_cuts(path, cut_params=params.cut if info.has_video else None,
                                     sample_rate=sample_rate, channels=channels, mono_rate=ANALYSIS_RATE)
    with decoded:
        return detect_shots(cuts or [], decoded.mono(ANALYSIS_RATE), ANALYSIS_RATE, decoded.duration_s,
                            params=params)
