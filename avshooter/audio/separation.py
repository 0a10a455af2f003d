"""Separation (offline DSP default): split a clip into "dialogue", "music" and "effects" stems.

This module owns the separator that runs on a fresh machine with no torch; it measures each step
(``benchmarks/bench_separation.py``: SI-SDR against known stems, with the mixture and the oracle mask):

1. One STFT (:mod:`.stft`: sqrt-Hann, 50 % overlap, exact reconstruction) of every channel.
2. Dialogue (:mod:`.dialogue_filter`): the voice-activity ranges from the caller mark the pauses; the
   background's power (mono) or spatial covariance (stereo) measured there is the noise of a Wiener filter.
   Stereo with a spatial cue (the film convention: dialogue in the centre) first steers an MVDR beam to
   the centre. A learned speech enhancer (DeepFilterNet3 by default, or GTCRN: passed in by the backend)
   then gives the speech estimate inside the speech ranges, on the centre beam in stereo
   (``enhance_stereo: false``: on mono input only, where no spatial cue exists).
   Nothing outside the speech ranges; a range that holds words of the transcript (the caller's ASR on the
   mix) ends just after its last word (:func:`word_activity`: the VAD runs on into music and applause after
   a line); frames where the estimate holds almost nothing fade out. Where no confident word confirms the
   range (:mod:`.word_evidence`: its start, its end, a range without words), multichannel input without
   ``enhance_stereo`` takes the enhancer's estimate there, and after a range's confirmed words the estimate must hold more of the frame
   (``line_gap_s``, measured and off: the dialogue ends at the estimate's first pause instead).
3. Music and effects: the harmonic / percussive / residual split of the mix (Fitzgerald 2010, with
   Driedger's residual, median filters on a semi-log grid: :func:`separation_masks`) applied to what the
   dialogue leaves: ``music = Mh (X - D)``; ``effects = wav - dialogue - music``, so the stems add back
   to the input to float32 rounding.

``wiener=False`` keeps the earlier masks for comparison: ``dialogue = V B (Mh + Mr)``,
``music = Mh (1 - V B)`` (speech band ``B`` times voice activity ``V``). The pitch-tracked harmonic comb
(:mod:`.harmonic`) is measured and off by default. demucs lives in its own backend file.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage

from ..errors import InputError
from ..io.records import STEMS
from ..units import check_audio, to_samples, true_runs
from .dialogue_filter import dialogue_estimate, enhancer_gain, presence_gate, presence_share
from .separation_params import ENHANCERS, SeparationParams
from .stft import fft_size, istft, stft
from .word_evidence import confirmed_activity, head_bound, line_reach, word_spans

__all__ = ["ENHANCERS", "SeparationParams", "STEMS", "separate", "separation_masks"]


# ---------------------------------------------------------------------------------------------- masks
def _band_starts(n_bins: int, n_fft: int, sample_rate: int, bands_per_octave: int) -> np.ndarray:
    """First FFT bin of each analysis band: single bins while they are finer than the log grid."""
    df = sample_rate / n_fft
    ratio = 2.0 ** (1.0 / bands_per_octave) - 1.0
    starts = [0]
    edge = 1.0
    while True:
        f = edge * df
        width_bins = max(1.0, f * ratio / df)
        edge = edge + width_bins
        nxt = int(round(edge))
        if nxt >= n_bins:
            break
        if nxt > starts[-1]:
            starts.append(nxt)
    return np.array(starts, dtype=np.int64)


def _speech_band_weight(freqs: np.ndarray, params: SeparationParams) -> np.ndarray:
    f = np.maximum(freqs, 1e-3)
    width = params.speech_edge_octaves
    below = np.log2(params.speech_low_hz / f)   # octaves under the low edge (>0 below)
    above = np.log2(f / params.speech_high_hz)  # octaves over the high edge
    dist = np.maximum(np.maximum(below, above), 0.0)
    if width <= 0:
        return (dist <= 0).astype(np.float32)
    w = 0.5 + 0.5 * np.cos(np.pi * np.clip(dist / width, 0.0, 1.0))
    return w.astype(np.float32)


def _frame_activity(speech_mask, n: int, sample_rate: int, hop: int, n_frames: int,
                    params: SeparationParams) -> np.ndarray:
    """Per-frame voice activity in [0, 1] from the caller's ``speech_mask`` (see :func:`separate`)."""
    if speech_mask is None:
        return np.ones(n_frames, dtype=np.float32)
    if isinstance(speech_mask, np.ndarray) and speech_mask.ndim == 1 and speech_mask.shape[0] == n and n > 0:
        act = speech_mask.astype(np.float64)
        if not np.isfinite(act).all() or act.min() < 0 or act.max() > 1:
            raise InputError("speech_mask per-sample weights must be finite and within [0, 1]")
    else:
        try:
            ranges = np.asarray(speech_mask, dtype=np.float64).reshape(-1, 2) if len(speech_mask) else np.zeros((0, 2))
        except (TypeError, ValueError):
            raise InputError(
                f"speech_mask of type {type(speech_mask).__name__} is not allowed (a list of (start_s, end_s) "
                f"ranges, or a 1-D array of {n} per-sample weights in [0, 1])"
            ) from None
        if not np.isfinite(ranges).all() or (ranges[:, 1] < ranges[:, 0]).any() or (ranges < 0).any():
            raise InputError("speech_mask ranges must be finite (start_s, end_s) pairs with 0 <= start_s <= end_s")
        act = np.zeros(n, dtype=np.float64)
        for start_s, end_s in ranges:
            a, b = min(to_samples(start_s, sample_rate), n), min(to_samples(end_s, sample_rate), n)
            act[a:b] = 1.0
    # average over each frame's hop-long neighbourhood, then a short moving average
    padded = np.zeros((n_frames + 1) * hop)
    padded[hop // 2: hop // 2 + n] = act
    per_frame = padded[: n_frames * hop].reshape(n_frames, hop).mean(axis=1)
    smooth = max(1, int(round(params.vad_smooth_s * sample_rate / hop)))
    if smooth > 1:
        per_frame = ndimage.uniform_filter1d(per_frame, smooth, mode="nearest")
    return np.clip(per_frame, 0.0, 1.0).astype(np.float32)


def word_activity(activity: np.ndarray, words, n: int, sample_rate: int, hop: int,
                  params: SeparationParams) -> np.ndarray:
    """Per-frame weight in [0, 1] that ends each speech range where the transcript's words end.

    silero-vad starts a range sharply but ends it late (its end threshold is 0.15 under its start
    threshold): it runs on into music, applause or a crowd after a line, and the ASR, which heard the line,
    puts no word there. So every run of frames the VAD marks (``activity > 0``) that holds a word ends
    ``word_pad_s`` after its last word. Only the end moves (measured on the dev mixtures: Whisper drops or
    misplaces a piece's first word, and its times inside a line are not worth holes); a run without any word
    is kept whole (Whisper base misses whole lines in a clip's second language, and cries and laughs carry
    no word). A run cut by the clip's end is ended the same way with ``word_gate_clip_end`` (a shot's words
    are those that start in it), else kept whole.

    ``words``: ``[{"start_s", "end_s", "prob"?}]`` in seconds from the clip start (an ASR answer's
    ``words``); words with ``prob`` under ``word_min_prob`` count as none.
    """
    n_frames = activity.shape[0]
    parsed = word_spans(words)
    spans = [(a, b) for a, b, p in parsed if not (params.word_min_prob and p < params.word_min_prob)]
    weight = np.ones(n_frames, np.float32)
    if not np.any(activity > 0) or not spans:
        return weight
    spans_arr = np.array(spans)
    centre = hop / sample_rate  # frame k is centred on sample k * hop
    for first, last in true_runs(activity):
        t0, t1 = (first - 0.5) * centre, (last + 0.5) * centre
        inside = (spans_arr[:, 0] < t1) & (spans_arr[:, 1] > t0)
        if not inside.any():
            continue  # no word in this range: kept as the VAD says
        if last == n_frames - 1 and not params.word_gate_clip_end:
            continue  # cut by the clip's end
        end_s = float(spans_arr[inside, 1].max()) + params.word_pad_s
        if end_s < t1:
            keep = _frame_activity([(0.0, end_s)], n, sample_rate, hop, n_frames, params)
            weight[first: last + 1] = keep[first: last + 1]
    return weight


def separation_masks(mono_power: np.ndarray, sample_rate: int, n_fft: int,
                     params: SeparationParams) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Harmonic, percussive and residual masks of a power spectrogram.

    Parameters
    ----------
    mono_power : np.ndarray, shape (bins, frames)
        ``|STFT|^2`` of the mono downmix (``bins = n_fft // 2 + 1``).
    sample_rate, n_fft : int
    params : SeparationParams

    Returns
    -------
    (Mh, Mp, Mr) : three np.ndarray, shape (bins, frames), float32, summing to 1 in every bin.
    """
    n_bins, n_frames = mono_power.shape
    starts = _band_starts(n_bins, n_fft, sample_rate, params.bands_per_octave)
    counts = np.diff(np.append(starts, n_bins))
    band_power = np.add.reduceat(mono_power, starts, axis=0) / counts[:, None]
    mag = np.sqrt(band_power, dtype=np.float32)
    hop_s = (n_fft // 2) / sample_rate
    k_time = max(1, int(round(params.harmonic_kernel_s / hop_s)) | 1)
    k_freq = params.percussive_kernel_bands | 1
    harm = ndimage.median_filter(mag, size=(1, k_time), mode="nearest") ** 2
    perc = ndimage.median_filter(mag, size=(k_freq, 1), mode="nearest") ** 2
    eps = np.float32(1e-12)
    b = np.float32(params.margin)
    mh = harm / (harm + b * perc + eps)
    mp = perc / (perc + b * harm + eps)
    silent = (harm + perc) <= eps  # no energy: call it residual
    mh[silent] = 0.0
    mp[silent] = 0.0
    band_of_bin = np.repeat(np.arange(len(starts)), counts)
    mh, mp = mh[band_of_bin], mp[band_of_bin]
    mr = np.clip(1.0 - mh - mp, 0.0, 1.0)
    return mh, mp, mr


def _dual_mono(x: np.ndarray, threshold_db: float) -> bool:
    """True when a 2-channel clip has no spatial cue: its side (L - R) is ``threshold_db`` under its mid."""
    if x.shape[0] != 2:
        return False
    side = float(np.sum(np.square(x[0] - x[1], dtype=np.float64)))
    mid = float(np.sum(np.square(x[0] + x[1], dtype=np.float64)))
    return side <= mid * 10 ** (threshold_db / 10)


def _harmonic_comb(d_spec: np.ndarray, sample_rate: int, n_fft: int, freqs: np.ndarray,
                   params: SeparationParams) -> np.ndarray:
    """Comb mask ``(bins, frames)`` on the f0 tracked in the dialogue estimate (see :mod:`.harmonic`)."""
    from .harmonic import comb_mask, pitch_track  # off by default: scipy.sparse only when asked

    magnitude = np.abs(d_spec).mean(axis=0)
    f0, salience = pitch_track(magnitude, sample_rate, n_fft, f0_min_hz=params.f0_min_hz,
                               f0_max_hz=params.f0_max_hz, max_hz=params.comb_max_hz)
    voicing = np.clip((salience - params.voicing_low) / (params.voicing_high - params.voicing_low), 0.0, 1.0)
    return comb_mask(f0, voicing, freqs, width=params.comb_width, floor=params.comb_floor,
                     max_hz=params.comb_max_hz)


def _held_notes(gain: np.ndarray, spec: np.ndarray, sample_rate: int, n_fft: int,
                params: SeparationParams) -> np.ndarray:
    """Per frame in [0, 1]: 1 in (and ``held_note_pad_s`` around) the held notes of the dialogue estimate
    ``gain * |spec|`` (``spec``: ``(bins, frames)`` or ``(channels, bins, frames)``; :mod:`.held_notes`)."""
    from .held_notes import held_note_frames

    magnitude = gain * (np.abs(spec).mean(axis=0) if spec.ndim == 3 else np.abs(spec))
    held = held_note_frames(magnitude, sample_rate, n_fft, min_s=params.held_note_s,
                            semitones=params.held_note_semitones, voicing=params.held_note_voicing)
    hop = n_fft // 2
    pad = int(round(params.held_note_pad_s * sample_rate / hop))
    weight = ndimage.maximum_filter1d(held.astype(np.float32), 2 * pad + 1) if pad else held.astype(np.float32)
    smooth = max(1, int(round(params.vad_smooth_s * sample_rate / hop)))
    return np.clip(ndimage.uniform_filter1d(weight, smooth, mode="nearest"), 0.0, 1.0) if smooth > 1 else weight


# ----------------------------------------------------------------------------------------------- API
def separate(wav: np.ndarray, sample_rate: int, *, speech_mask=None,
             params: SeparationParams = SeparationParams(), enhancer=None, words=None) -> dict[str, np.ndarray]:
    """Split a clip into dialogue, music and effects stems with soft time-frequency masks.

    Parameters
    ----------
    wav : np.ndarray, shape (channels, samples), float
    sample_rate : int
    speech_mask : None, sequence of (start_s, end_s), or np.ndarray of shape (samples,)
        Where speech is (from a VAD). Either speech ranges in seconds from the clip start (the form
        silero-vad gives with ``return_seconds=True``; ``[]`` = no speech), or per-sample weights in
        [0, 1] (a 1-D array exactly as long as the clip). Frames outside speech get no dialogue.
        ``None`` means "unknown": every frame may hold speech (dialogue = the speech-band harmonic +
        residual everywhere).
    params : SeparationParams
    enhancer : a learned speech enhancer (``.sample_rate``, ``.enhance(mono)``), or None
    words : None (no transcript), or the transcript's words ``[{"start_s", "end_s", ...}]`` (seconds from
        the clip start; ``[]``: the ASR heard no word): with ``params.word_gate`` a speech range that holds
        words ends ``word_pad_s`` after its last one (:func:`word_activity`).

    Returns
    -------
    dict[str, np.ndarray]
        ``{"dialogue", "music", "effects"}``, each float32 of the input's shape ``(channels, samples)``;
        ``dialogue + music + effects == wav`` to float32 rounding.
    """
    wav = check_audio(wav, sample_rate)
    if not isinstance(params, SeparationParams):
        raise InputError(f"params of type {type(params).__name__} is not allowed (a SeparationParams)")
    x = wav.astype(np.float32, copy=False)
    c, n = x.shape
    if n == 0:
        return {name: np.zeros_like(x) for name in STEMS}
    n_fft = fft_size(sample_rate, params.window_s)
    hop = n_fft // 2
    spec = stft(x, n_fft)                     # (c, bins, frames) complex64
    mono = spec.mean(axis=0) if c > 1 else spec[0]
    power = mono.real ** 2 + mono.imag ** 2
    mh, mp, mr = separation_masks(power, sample_rate, n_fft, params)
    freqs = np.arange(spec.shape[1]) * (sample_rate / n_fft)
    activity = _frame_activity(speech_mask, n, sample_rate, hop, spec.shape[2], params)
    gate = activity  # where the dialogue may be; the pauses the background is learned in stay the VAD's
    if words is not None and params.word_gate and speech_mask is not None:
        gate = activity * word_activity(activity, words, n, sample_rate, hop, params)
    band = _speech_band_weight(freqs, params) if params.speech_band else np.ones_like(freqs, dtype=np.float32)
    vb = band[:, None] * gate[None, :]
    confirmed = tail = None  # where the transcript's confident words confirm speech (to a range's end / start)
    if words is not None and params.word_gate and params.confirm_prob > 0 and speech_mask is not None:
        evidence = dict(min_prob=params.confirm_prob, gap_s=params.confirm_gap_s,
                        smooth_frames=max(1, int(round(params.vad_smooth_s * sample_rate / hop))))
        confirmed = confirmed_activity(gate, words, sample_rate, hop, **evidence)
        if params.tail_presence_high > 0:
            tail = confirmed_activity(gate, words, sample_rate, hop, head=False, **evidence)
    if params.wiener:
        hop_s = hop / sample_rate
        smooth = (params.gain_smooth_bins, params.gain_smooth_frames)
        gain, reference, centred = dialogue_estimate(
            spec, gate if params.word_pauses else activity,
            context_frames=max(1, int(round(params.noise_context_s / hop_s))),
            min_frames=max(1.0, params.noise_min_s / hop_s), quantile=params.noise_quantile,
            over_subtraction=params.over_subtraction, gain_floor=params.gain_floor,
            smooth=smooth, centre=params.centre and c == 2 and not _dual_mono(x, params.dual_mono_db))
        if enhancer is not None and (c == 1 or params.enhance_stereo):
            learned = enhancer_gain(reference, gate, enhancer, sample_rate, n_fft, n,
                                    pad_s=params.enhancer_pad_s, smooth=smooth)
            gain = learned * gain if params.enhancer_with_pauses else learned
            gain = gain * gate[None, :]  # the model's estimate covers the whole band: no band mask
        elif enhancer is not None and confirmed is not None and params.enhance_unconfirmed:
            unsure = gate * (1.0 - confirmed)
            learned = enhancer_gain(reference, unsure, enhancer, sample_rate, n_fft, n,
                                    pad_s=params.enhancer_pad_s, smooth=smooth)
            gain = confirmed[None, :] * gain * vb + unsure[None, :] * learned
        else:
            gain = gain * vb
        if params.presence_high > 0:
            weight = presence_gate(gain, reference, low=params.presence_low, high=params.presence_high,
                                   frames=params.gain_smooth_frames)
            if tail is not None:
                strict = presence_gate(gain, reference, low=params.tail_presence_low,
                                       high=params.tail_presence_high, frames=params.gain_smooth_frames)
                if params.line_gap_s > 0:
                    quiet = presence_share(gain, reference) < params.presence_low
                    inside, anchored = line_reach(gate, confirmed, quiet,
                                                  max(1, int(round(params.line_gap_s * sample_rate / hop))))
                    weight = np.where(anchored, weight * inside, tail * weight + (1.0 - tail) * strict)
                else:
                    weight = tail * weight + (1.0 - tail) * strict
            gain = gain * weight[None, :]
        if params.head_reach_s > 0 and confirmed is not None and c == 1:
            gain = gain * head_bound(gate, confirmed, int(round(params.head_reach_s * sample_rate / hop)))[None, :]
        if params.held_note_s > 0 and confirmed is not None:
            after = tail if tail is not None else confirmed  # not before a range's first confirmed words
            gain = gain * (1.0 - (1.0 - after) * _held_notes(gain, reference[0] if centred else spec,
                                                                 sample_rate, n_fft, params))[None, :]
        d_spec = np.broadcast_to(gain * reference[0], spec.shape) if centred else spec * gain[None]
        d_spec = np.ascontiguousarray(d_spec, dtype=np.complex64)
        if params.harmonic:
            d_spec *= _harmonic_comb(d_spec, sample_rate, n_fft, freqs, params)[None]
        dialogue = istft(d_spec, n_fft, n)
        music = istft(mh[None] * (spec - d_spec), n_fft, n)
    else:
        dialogue = istft(spec * (vb * (mh + mr)), n_fft, n)
        music = istft(spec * (mh * (1.0 - vb)), n_fft, n)
    effects = x - dialogue - music
    return {"dialogue": dialogue, "music": music, "effects": effects}
