"""Sound onsets: when sounds start (:func:`audio_onsets`) and their envelope (:func:`onset_strength`).

The sound side of audio-visual sync (:mod:`avshooter.generation.sync` aligns onsets to visual events,
:mod:`avshooter.generation.offset` cross-correlates the envelope with the picture's change signal) and of
the report's onset marks.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage, signal

from ..units import check_audio, to_samples

__all__ = ["audio_onsets", "energy_rise", "onset_strength"]


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
    flux = _flux(mono, hop, win, sr)
    if flux.max() <= 0:
        return []
    med = ndimage.median_filter(flux, size=max(3, int(round(0.5 / hop_s)) | 1), mode="nearest")
    csum = np.concatenate([[0.0], np.cumsum(mono * mono)])
    starts = np.arange(flux.size) * hop
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


def _flux(mono: np.ndarray, hop: int, win: int, sr: int) -> np.ndarray:
    """Spectral flux of a mono signal, one value per STFT frame (frame ``j`` starts at sample ``j * hop``)."""
    _, _, spec = signal.stft(mono, fs=sr, window="hann", nperseg=win, noverlap=win - hop, boundary=None,
                             padded=False)
    mag = np.abs(spec)
    logmag = np.log1p(100.0 * mag / max(float(mag.max()), 1e-12))
    return np.concatenate([[0.0], np.maximum(np.diff(logmag, axis=1), 0.0).sum(axis=0)])


def onset_strength(wav: np.ndarray, sample_rate: int, *, hop_s: float = 0.005,
                   win_s: float = 0.023) -> tuple[np.ndarray, np.ndarray]:
    """The onset-strength envelope of :func:`audio_onsets` (spectral flux) and its times.

    Parameters
    ----------
    wav : np.ndarray, shape (channels, samples), float
    sample_rate : int

    Returns
    -------
    (np.ndarray, np.ndarray), shapes (frames,)
        Flux (>= 0, in units of the log-magnitude change) and the time (s) of each value: the centre of
        its STFT frame. Empty arrays for a clip shorter than one window.
    """
    mono, sr, hop, win = _mono_grid(wav, sample_rate, hop_s, win_s)
    if mono.size < win:
        return np.zeros(0), np.zeros(0)
    flux = _flux(mono, hop, win, sr) if np.any(mono) else np.zeros(1 + (mono.size - win) // hop)
    return flux, (np.arange(flux.size) * hop + win / 2) / sr


def energy_rise(wav: np.ndarray, sample_rate: int, *, hop_s: float = 0.005, win_s: float = 0.023,
                floor: float = 1e-4) -> tuple[np.ndarray, np.ndarray]:
    """Where the sound gets louder: the positive change of its log RMS level, on the grid of
    :func:`onset_strength` (same hop, window and times).

    A broadband level rise (a hit, a door, a voice starting, a cut in the soundtrack), where the spectral
    flux also fires on every note of a score. The sound side of the ``energy`` option of
    :func:`avshooter.generation.offset.estimate_av_offset`.

    ``floor`` (RMS, full scale 1) is added to the level before the log: a rise out of sound below it
    (-80 dBFS, inaudible) does not count.

    Returns
    -------
    (np.ndarray, np.ndarray), shapes (frames,)
        The rise (>= 0, natural log of the RMS ratio per hop) and each value's time (s): the centre of its
        window. Empty arrays for a clip shorter than one window.
    """
    mono, sr, hop, win = _mono_grid(wav, sample_rate, hop_s, win_s)
    if mono.size < win:
        return np.zeros(0), np.zeros(0)
    n = 1 + (mono.size - win) // hop
    power = np.convolve(mono ** 2, np.ones(win) / win, mode="valid")[::hop][:n]  # mean square per window
    level = np.log(np.sqrt(np.maximum(power, 0.0)) + floor)
    return np.maximum(np.diff(level, prepend=level[0]), 0.0), (np.arange(n) * hop + win / 2) / sr


def _mono_grid(wav: np.ndarray, sample_rate: int, hop_s: float, win_s: float) -> tuple[np.ndarray, int, int, int]:
    """The checked clip as float64 mono, its rate, and the hop and window in samples of an onset grid."""
    wav = check_audio(wav, sample_rate)
    sr = int(sample_rate)
    return wav.astype(np.float64).mean(axis=0), sr, max(1, to_samples(hop_s, sr)), max(16, to_samples(win_s, sr))


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
