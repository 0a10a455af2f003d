"""The dialogue estimate of the offline separator: a Wiener filter whose noise is learned where nobody speaks.

The voice-activity detector says when someone speaks; the frames where nobody does hold the background
(music, effects, beds) alone. Its power spectrum (mono) or its spatial covariance (stereo) measured there,
averaged over the neighbouring non-speech frames, is the noise model during speech (Ephraim & Malah 1984:
the Wiener gain from the a priori SNR; noise from the speech pauses a VAD marks, as in every telephone
noise suppressor). Where a clip has no pause to learn from, a low quantile of each bin's power over time
stands in (minimum statistics, Martin 2001).

Stereo (the film mix convention: dialogue in the centre, L = R): the multichannel Wiener filter for a
centred source, written as its two factors (Souden, Benesty & Affes 2010): the MVDR beamformer toward the
centre ``h = [1, 1]`` under the measured background covariance ``Phi`` (it cancels a panned effect and most
of a wide music bed), then a single-channel Wiener post-filter on the beamformer's output. The background
left after the beamformer has power ``1 / (h^H Phi^-1 h)``. Diagonal loading keeps ``Phi`` invertible; a
dual-mono clip (everything centred) falls back to the mono filter of the downmix by itself.

Everything is one pass of array arithmetic on the STFT (no per-frame Python loop).
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage

from ..units import true_runs

__all__ = ["noise_statistics", "dialogue_estimate", "enhancer_gain", "presence_share", "presence_gate"]

# frames with activity under this are background-only
_PAUSE = 0.05


def _local_mean(values: np.ndarray, weights: np.ndarray, frames: int) -> tuple[np.ndarray, np.ndarray]:
    """Weighted moving average along the last axis (``frames`` long); also the weight mass per frame."""
    num = ndimage.uniform_filter1d(values * weights, frames, axis=-1, mode="constant")
    den = ndimage.uniform_filter1d(weights.astype(np.float32), frames, axis=-1, mode="constant")
    return num, den * frames


def noise_statistics(spec: np.ndarray, activity: np.ndarray, *, context_frames: int, min_frames: float,
                     quantile: float) -> np.ndarray:
    """Background (co)variance per bin and frame, from the frames the activity marks as pauses.

    Parameters
    ----------
    spec : complex (channels, bins, frames), channels 1 or 2
    activity : float (frames,) in [0, 1], 1 = speech
    context_frames : length of the moving average over pause frames
    min_frames : pause frames needed nearby to trust the local average (else blended toward the clip's
        pause average, or, with no pause at all, a low quantile of each bin over time)
    quantile : the minimum-statistics quantile used when the clip has no pause

    Returns
    -------
    np.ndarray, float32 (bins, frames) for one channel; for two, complex64 (3, bins, frames) holding
    ``Phi_LL, Phi_RR, Phi_LR``.
    """
    c, n_bins, n_frames = spec.shape
    pause = (activity < _PAUSE).astype(np.float32)
    if c == 1:
        products = [np.abs(spec[0]) ** 2]
    else:
        products = [np.abs(spec[0]) ** 2, np.abs(spec[1]) ** 2, spec[0] * np.conj(spec[1])]
    total_pause = float(pause.sum())
    out = []
    for prod in products:
        if total_pause >= 1:
            local, mass = _local_mean(prod, pause[None, :], context_frames)
            clip_mean = (prod * pause[None, :]).sum(axis=-1, keepdims=True) / total_pause
            trust = np.clip(mass / min_frames, 0.0, 1.0)
            est = trust * (local / np.maximum(mass, 1e-6)) + (1.0 - trust) * clip_mean
        elif np.iscomplexobj(prod):
            est = np.zeros_like(prod)  # no pause: no measured correlation, the beamformer sums L and R
        else:
            est = np.broadcast_to(np.quantile(prod, quantile, axis=-1, keepdims=True), prod.shape)
        out.append(est)
    return out[0].astype(np.float32) if c == 1 else np.stack(out).astype(np.complex64)


def dialogue_estimate(spec: np.ndarray, activity: np.ndarray, *, context_frames: int, min_frames: float,
                      quantile: float, over_subtraction: float, gain_floor: float, smooth: tuple[int, int],
                      centre: bool) -> tuple[np.ndarray, np.ndarray, bool]:
    """The dialogue as ``(gain, reference, centred)``: dialogue STFT = ``gain * reference``.

    ``reference`` (complex ``(1, bins, frames)``) is the signal the gain applies to: for stereo with
    ``centre``, the MVDR beam toward the centre (then the dialogue is that in both channels:
    ``centred=True``); otherwise the downmix (and the same gain applies to every channel of ``spec``).
    ``gain`` (float32 ``(bins, frames)``) is the Wiener post-filter against the background measured in the
    pauses. ``over_subtraction`` scales the noise power in the gain, ``gain_floor`` is its lower bound,
    ``smooth`` the (bins, frames) box over which the noisy power is averaged first (less musical noise).
    """
    c = spec.shape[0]
    if c == 2 and centre:
        phi = noise_statistics(spec, activity, context_frames=context_frames, min_frames=min_frames,
                               quantile=quantile)
        a, b, x = phi[0].real, phi[1].real, phi[2]
        load = 1e-3 * (a + b) + 1e-10
        a, b = a + load, b + load
        det = a * b - np.abs(x) ** 2                    # > 0 thanks to the loading
        denom = a + b - 2.0 * x.real                    # h^H adj(Phi) h
        y = ((b - np.conj(x)) * spec[0] + (a - x) * spec[1]) / denom
        residual = det / denom                          # background power left after the beamformer
        gain = _wiener_gain(np.abs(y) ** 2, residual, over_subtraction, gain_floor, smooth)
        return gain, y[None].astype(np.complex64), True
    mono = spec.mean(axis=0, keepdims=True) if c > 1 else spec
    noise = noise_statistics(mono, activity, context_frames=context_frames, min_frames=min_frames,
                             quantile=quantile)
    gain = _wiener_gain(np.abs(mono[0]) ** 2, noise, over_subtraction, gain_floor, smooth)
    return gain, mono.astype(np.complex64, copy=False), False


def enhancer_gain(reference: np.ndarray, activity: np.ndarray, enhancer, sample_rate: int, n_fft: int, n: int,
                  *, pad_s: float, smooth: tuple[int, int]) -> np.ndarray:
    """Wiener gain ``(bins, frames)`` from a learned speech enhancer run where the activity is non-zero.

    The reference signal (see :func:`dialogue_estimate`) is resynthesised, and every run of active frames
    (``pad_s`` more on each side, so the recurrent model has settled when speech starts) is resampled to
    the enhancer's rate, enhanced, and resampled back. The enhancer's output ``E`` is the speech
    estimate, ``reference - E`` the background: gain = ``|E|^2 / (|E|^2 + |R - E|^2)`` after a
    ``smooth`` box average of both powers. No enhancer call, and gain 0, where nobody speaks.
    """
    from .resample import resample
    from .stft import istft, stft

    hop = n_fft // 2
    runs = [(i * hop - hop, j * hop + hop) for i, j in true_runs(activity)]
    if not runs:
        return np.zeros(reference.shape[1:], np.float32)
    pad = int(round(pad_s * sample_rate))
    merged: list[list[int]] = []
    for a, b in runs:
        a, b = max(0, a - pad), min(n, b + pad)
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    wav = istft(reference, n_fft, n)
    speech = np.zeros_like(wav)
    rate = enhancer.sample_rate
    for a, b in merged:
        piece = wav[:, a:b] if sample_rate == rate else resample(wav[:, a:b], sample_rate, rate)
        out = enhancer.enhance(piece[0])[None]
        if sample_rate != rate:
            out = resample(out, rate, sample_rate)
        length = min(b - a, out.shape[1])
        speech[:, a: a + length] = out[:, :length]
    est = stft(speech, n_fft)[0]
    p_speech = ndimage.uniform_filter(np.abs(est) ** 2, size=smooth, mode="nearest")
    p_rest = ndimage.uniform_filter(np.abs(reference[0] - est) ** 2, size=smooth, mode="nearest")
    gain = p_speech / (p_speech + p_rest + 1e-12)
    return gain.astype(np.float32)


def presence_share(gain: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Per frame, the share of the reference's power that the gain keeps as speech (float, in [0, 1])."""
    power = np.abs(reference[0]) ** 2
    return (gain ** 2 * power).sum(axis=0) / (power.sum(axis=0) + 1e-12)


def presence_gate(gain: np.ndarray, reference: np.ndarray, *, low: float, high: float, frames: int) -> np.ndarray:
    """Per-frame weight in [0, 1]: the share of a frame's power the gain keeps as speech (averaged over
    ``frames``) is the estimate's own voice activity; the weight fades to 0 as it falls from ``high`` to
    ``low`` (a VAD that fires on music or a crowd gives no dialogue where the estimate holds little)."""
    share = ndimage.uniform_filter1d(presence_share(gain, reference), max(1, frames), mode="nearest")
    return np.clip((share - low) / max(high - low, 1e-6), 0.0, 1.0).astype(np.float32)


def _wiener_gain(power: np.ndarray, noise: np.ndarray, over_subtraction: float, gain_floor: float,
                 smooth: tuple[int, int]) -> np.ndarray:
    """``G = xi / (1 + xi)`` with ``xi = max(P_smoothed / (alpha N) - 1, 0)``, floored (float32)."""
    smoothed = ndimage.uniform_filter(power.astype(np.float32), size=smooth, mode="nearest")
    xi = np.maximum(smoothed / (over_subtraction * noise + 1e-12) - 1.0, 0.0)
    return np.maximum(xi / (1.0 + xi), gain_floor).astype(np.float32)
