"""Features: the measured acoustic numbers of one clip, the only facts the offline describer uses.

This module owns :func:`measure`, which turns ``(channels, samples)`` audio into a :class:`Features`
record of plain floats (or ``None`` where a number does not exist, e.g. the pitch of noise). Loudness
and peaks come from :mod:`avshooter.audio.loudness` at the clip's own rate; every other feature is computed
on a 16 kHz mono downmix (soxr), so spectral numbers describe 0-8 kHz:

- level: ``rms_dbfs``, ``silent_fraction`` (32 ms frames below ``-60 dBFS`` RMS), ``energy_std_db``
  (spread of frame level over non-silent frames: pauses and syllables make speech large).
- spectrum (mean over non-silent frames): ``spectral_centroid_hz``, ``spectral_flatness``
  (geometric / arithmetic mean of power, 0 = tonal, 1 = white noise), ``spectral_flux`` (mean positive
  change of the log spectrum per frame), band energy shares ``low_share`` (< 250 Hz), ``mid_share``
  (250 Hz - 4 kHz), ``high_share`` (4 - 8 kHz), ``zero_crossing_rate`` (per sample).
- tonality: ``harmonicity`` (energy share of the harmonic mask of :func:`separation.separation_masks`),
  ``tonal_stability`` (mean correlation of the spectral fine structure 48 ms apart: sustained partials
  ~1, noise ~0), ``pitch_hz`` (median YIN f0, 60-1000 Hz, over voiced frames) and ``voiced_fraction``
  (voiced share of non-silent frames), ``pitch_spread_st`` (inter-quartile range of f0 in semitones).
- time pattern: ``onset_rate_hz`` (spectral-flux peaks per second: local maxima within +-48 ms,
  above the 0.5 s running median + 3 MAD and above 0.02), ``onset_regularity``
  (1 - coefficient of variation of inter-onset intervals, in [0, 1], ``None`` below 3 onsets),
  ``impulsiveness`` (energy share of 8 ms frames more than 10 dB above their 250 ms median), and
  ``crest_factor_db`` (sample peak over RMS).
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
from scipy import fft as sfft
from scipy import ndimage

from ..errors import InputError
from .loudness import integrated_loudness, sample_peak_dbfs, true_peak_dbtp
from ..units import check_audio
from .resample import resample

__all__ = ["Features", "measure", "ANALYSIS_RATE", "SILENCE_DBFS"]

ANALYSIS_RATE = 16000
SILENCE_DBFS = -60.0
_N_FFT = 512          # 32 ms at 16 kHz
_HOP = 256            # 16 ms
_EPS = 1e-12


@dataclass(frozen=True)
class Features:
    """Measured features of a clip (see the module docstring for each definition). ``None`` = undefined."""

    duration_s: float
    integrated_lufs: float | None
    sample_peak_dbfs: float | None
    true_peak_dbtp: float | None
    rms_dbfs: float | None
    silent_fraction: float
    energy_std_db: float | None = None
    spectral_centroid_hz: float | None = None
    spectral_flatness: float | None = None
    spectral_flux: float | None = None
    low_share: float | None = None
    mid_share: float | None = None
    high_share: float | None = None
    zero_crossing_rate: float | None = None
    harmonicity: float | None = None
    tonal_stability: float | None = None
    pitch_hz: float | None = None
    pitch_spread_st: float | None = None
    voiced_fraction: float | None = None
    onset_rate_hz: float | None = None
    onset_regularity: float | None = None
    impulsiveness: float | None = None
    crest_factor_db: float | None = None

    def to_dict(self) -> dict:
        """Plain JSON-safe dict: floats rounded to 4 decimals, ``None`` where undefined (never NaN/inf)."""
        return {k: _clean(v) for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict) -> "Features":
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise InputError(f"unknown feature keys {sorted(unknown)} (allowed: {sorted(names)})")
        return cls(**{k: (None if v is None else float(v)) for k, v in data.items()})


def _clean(value):
    if value is None:
        return None
    value = float(value)
    return round(value, 4) if math.isfinite(value) else None


def _finite(value):
    return float(value) if value is not None and math.isfinite(value) else None


# ------------------------------------------------------------------------------------------ helpers
def _frames(x: np.ndarray, size: int, hop: int) -> np.ndarray:
    n_frames = 1 + max(0, (len(x) - size)) // hop if len(x) >= size else 1
    if len(x) < size + (n_frames - 1) * hop:
        x = np.pad(x, (0, size + (n_frames - 1) * hop - len(x)))
    return np.lib.stride_tricks.sliding_window_view(x, size)[::hop][:n_frames]


def _yin(x: np.ndarray, wanted: np.ndarray | None = None, *, fmin: float = 60.0,
         fmax: float = 1000.0, threshold: float = 0.2) -> np.ndarray:
    """f0 per 40 ms frame (hop 16 ms) by YIN on 16 kHz audio; NaN where unvoiced.

    ``wanted`` (bool per frame; frames past its end are not wanted) limits the work to those frames, the
    others are NaN: every step is per frame, so a wanted frame's f0 is the same as without it.
    """
    size, hop = 640, _HOP
    all_frames = _frames(x, size, hop)
    rows = np.arange(len(all_frames))
    if wanted is not None:
        rows = np.flatnonzero(np.asarray(wanted[: len(all_frames)], dtype=bool))
    f0_all = np.full(len(all_frames), np.nan)
    if rows.size == 0:
        return f0_all
    frames = all_frames[rows].astype(np.float32)
    tau_min, tau_max = int(ANALYSIS_RATE / fmax), int(ANALYSIS_RATE / fmin)
    n_fft = 1024  # >= size + tau_max + 2: the circular autocorrelation equals the linear one up to tau_max + 1
    spec = sfft.rfft(frames, n=n_fft, axis=1)
    acf = sfft.irfft(spec.real ** 2 + spec.imag ** 2, n=n_fft, axis=1)[:, : tau_max + 2]
    # YIN difference d(tau) = e(0..W-tau) + e(tau..W) - 2 r(tau), energies from a cumulative sum
    sq = np.concatenate([np.zeros((len(frames), 1), np.float32), np.cumsum(frames ** 2, axis=1)], axis=1)
    taus = np.arange(tau_max + 2)
    e_head = sq[:, size - taus]            # sum of x[0 : W - tau]
    e_tail = sq[:, size:size + 1] - sq[:, taus]  # sum of x[tau : W]
    d = np.maximum(e_head + e_tail - 2.0 * acf, 0.0)
    d[:, 0] = 0.0
    cum = np.cumsum(d[:, 1:], axis=1)
    cmnd = np.ones_like(d)
    cmnd[:, 1:] = d[:, 1:] * np.arange(1, d.shape[1]) / np.maximum(cum, _EPS)
    search = cmnd[:, tau_min: tau_max + 1]
    below = search < threshold
    has = below.any(axis=1)
    first = np.argmax(below, axis=1)
    # walk to the local minimum after the first dip under the threshold (within one octave)
    idx = first[:, None] + np.arange(0, max(2, tau_min))[None, :]
    idx = np.minimum(idx, search.shape[1] - 1)
    local = np.take_along_axis(search, idx, axis=1)
    best = first + np.argmin(local, axis=1)
    tau = best + tau_min
    # parabolic interpolation
    left = cmnd[np.arange(len(tau)), np.maximum(tau - 1, 1)]
    mid = cmnd[np.arange(len(tau)), tau]
    right = cmnd[np.arange(len(tau)), np.minimum(tau + 1, cmnd.shape[1] - 1)]
    denom = left - 2 * mid + right
    shift = np.where(np.abs(denom) > _EPS, 0.5 * (left - right) / np.where(denom == 0, 1, denom), 0.0)
    f0 = ANALYSIS_RATE / (tau + np.clip(shift, -0.5, 0.5))
    f0[~has] = np.nan
    f0_all[rows] = f0
    return f0_all


def _onsets(log_spec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Onset frames from spectral-flux peaks (adaptive threshold), and the flux curve."""
    flux = np.maximum(np.diff(log_spec, axis=1), 0.0).mean(axis=0)
    flux = np.concatenate([[0.0], flux])
    if len(flux) < 3:
        return np.zeros(0, dtype=np.int64), flux
    frame_rate = ANALYSIS_RATE / _HOP
    baseline = ndimage.median_filter(flux, size=max(3, int(0.5 * frame_rate) | 1), mode="nearest")
    spread = np.median(np.abs(flux - np.median(flux))) + _EPS
    local_max = flux == ndimage.maximum_filter1d(flux, size=max(3, int(0.1 * frame_rate) | 1), mode="nearest")
    peaks = np.flatnonzero(local_max & (flux > baseline + 3.0 * spread) & (flux > 0.02))
    return peaks, flux


def _harmonicity(power: np.ndarray, loud: np.ndarray) -> float:
    """Energy share of the harmonic mask over the loud frames of a ``(bins, frames)`` power spectrogram."""
    from .separation import SeparationParams, separation_masks

    # every other frame (32 ms hop) halves the median-filter cost; 0.1 s -> a 7-frame (0.22 s) kernel
    coarse = power[:, ::2]
    mh, _, _ = separation_masks(coarse, ANALYSIS_RATE, _N_FFT, SeparationParams(harmonic_kernel_s=0.1))
    loud_c = loud[::2]
    return float((mh[:, loud_c] * coarse[:, loud_c]).sum() / (coarse[:, loud_c].sum() + _EPS))


# ---------------------------------------------------------------------------------------------- API
def measure(wav: np.ndarray, sample_rate: int, *, true_peak: bool = True, detail: bool = True,
            harmonicity: bool = True) -> Features:
    """Measure the features of one clip.

    Parameters
    ----------
    wav : np.ndarray, shape (channels, samples), float
    sample_rate : int
    true_peak : bool
        Measure the 4x-oversampled true peak (the costliest number); False leaves it None (stems, whose
        peak no delivery spec constrains, skip it).
    harmonicity : bool
        False leaves ``harmonicity`` None (a median-filtered harmonic/percussive split of its own): the
        pipeline measures it on the mix only, since the DSP stems are themselves cut by such masks and
        their harmonicity would restate how they were made.
    detail : bool
        False measures the level only (loudness, peaks, RMS, and ``silent_fraction`` over 32 ms frames at
        the clip's own rate) and leaves every spectral, tonal and rhythmic feature None: for stems too
        quiet to be described.

    Returns
    -------
    Features
        Plain-float record; ``to_dict()`` is JSON-safe. A silent clip (no frame above -60 dBFS) has
        ``silent_fraction == 1`` and ``None`` for every spectral, tonal and rhythmic feature.
    """
    wav = check_audio(wav, sample_rate)
    n = wav.shape[1]
    duration_s = n / sample_rate
    lufs = _finite(integrated_loudness(wav, sample_rate))
    peak = _finite(sample_peak_dbfs(wav))
    tpeak = _finite(true_peak_dbtp(wav, sample_rate)) if true_peak else None
    mono = wav.mean(axis=0, dtype=np.float64) if wav.shape[0] > 1 else wav[0].astype(np.float64)
    rms = float(np.sqrt(np.mean(np.square(wav, dtype=np.float64)))) if n else 0.0
    rms_dbfs = 20 * math.log10(rms) if rms > 0 else None
    base = dict(duration_s=duration_s, integrated_lufs=lufs, sample_peak_dbfs=peak, true_peak_dbtp=tpeak,
                rms_dbfs=rms_dbfs)
    if not detail:
        size = max(1, round(sample_rate * _N_FFT / ANALYSIS_RATE))  # 32 ms
        if peak is None or n < size // 4:
            return Features(**base, silent_fraction=1.0)
        level = 10 * np.log10(np.mean(np.square(_frames(mono, size, size // 2)), axis=1) + _EPS)
        return Features(**base, silent_fraction=float(np.mean(level <= SILENCE_DBFS)))
    x = resample(mono, sample_rate, ANALYSIS_RATE, quality="MQ")
    if len(x) < _N_FFT // 4 or peak is None:
        return Features(**base, silent_fraction=1.0)

    frames = _frames(x, _N_FFT, _HOP)
    window = np.hanning(_N_FFT + 1)[:-1].astype(np.float32)
    spec = sfft.rfft(frames * window, axis=1).T        # (bins, frames)
    power = (spec.real ** 2 + spec.imag ** 2).astype(np.float32)
    frame_db = 10 * np.log10(np.mean(frames.astype(np.float64) ** 2, axis=1) + _EPS)
    loud = frame_db > SILENCE_DBFS
    silent_fraction = float(1.0 - loud.mean())
    if not loud.any():
        return Features(**base, silent_fraction=1.0)
    p = power[:, loud]
    freqs = np.arange(power.shape[0]) * ANALYSIS_RATE / _N_FFT
    total = p.sum(axis=0) + _EPS
    centroid = float(np.mean((freqs[:, None] * p).sum(axis=0) / total))
    flatness = float(np.mean(np.exp(np.mean(np.log(p + 1e-10), axis=0)) / (p.mean(axis=0) + 1e-10)))
    band_energy = p.sum(axis=1)
    all_energy = band_energy.sum() + _EPS
    low = float(band_energy[freqs < 250].sum() / all_energy)
    high = float(band_energy[freqs >= 4000].sum() / all_energy)
    mid = max(0.0, 1.0 - low - high)

    # level-independent log spectrum for flux / onsets / fine structure
    log_spec = np.log10(1.0 + 1000.0 * power / (power.max() + _EPS))
    peaks, flux = _onsets(log_spec)
    spectral_flux = float(flux[loud].mean())
    analysed_s = len(x) / ANALYSIS_RATE
    onset_rate = len(peaks) / analysed_s if analysed_s > 0 else 0.0
    regularity = None
    if len(peaks) >= 3:
        ioi = np.diff(peaks).astype(np.float64)
        regularity = float(np.clip(1.0 - ioi.std() / ioi.mean(), 0.0, 1.0))

    # fine structure: log spectrum minus its smoothed envelope, correlated 3 frames (48 ms) apart
    fine = log_spec - ndimage.uniform_filter1d(log_spec, 9, axis=0, mode="nearest")
    lag = 3
    stability = None
    if fine.shape[1] > lag:
        a, b = fine[:, :-lag], fine[:, lag:]
        num = (a * b).sum(axis=0)
        den = np.sqrt((a * a).sum(axis=0) * (b * b).sum(axis=0)) + _EPS
        both = loud[:-lag] & loud[lag:]
        if both.any():
            stability = float(np.mean((num / den)[both]))

    harmonic_share = _harmonicity(power, loud) if harmonicity else None

    f0 = _yin(x, loud)  # the quiet frames' f0 is dropped below: not computed
    nf = min(len(f0), len(loud))
    f0 = f0[:nf]
    f0[~loud[:nf]] = np.nan
    voiced = np.isfinite(f0)
    voiced_fraction = float(voiced.sum() / max(1, loud[:nf].sum()))
    pitch = float(np.median(f0[voiced])) if voiced.sum() >= 3 else None
    spread = None
    if pitch is not None:
        q1, q3 = np.percentile(12 * np.log2(f0[voiced] / pitch), [25, 75])
        spread = float(q3 - q1)

    # impulsiveness: energy share of 8 ms frames > 10 dB above their 250 ms running median
    short = x[: len(x) // 128 * 128].reshape(-1, 128).astype(np.float64)
    e = (short ** 2).mean(axis=1)
    if len(e) >= 3:
        med = ndimage.median_filter(e, size=31, mode="nearest")
        impulsive = float(e[e > 10.0 * (med + 1e-10)].sum() / (e.sum() + _EPS))
    else:
        impulsive = 0.0
    zcr = float(np.mean(np.abs(np.diff(np.signbit(x).astype(np.int8))))) if len(x) > 1 else 0.0
    crest = (peak - rms_dbfs) if rms_dbfs is not None else None
    return Features(
        **base, silent_fraction=silent_fraction, energy_std_db=float(np.std(frame_db[loud])),
        spectral_centroid_hz=centroid, spectral_flatness=flatness, spectral_flux=spectral_flux,
        low_share=low, mid_share=mid, high_share=high, zero_crossing_rate=zcr, harmonicity=harmonic_share,
        tonal_stability=stability, pitch_hz=pitch, pitch_spread_st=spread, voiced_fraction=voiced_fraction,
        onset_rate_hz=onset_rate, onset_regularity=regularity, impulsiveness=impulsive, crest_factor_db=crest,
    )
