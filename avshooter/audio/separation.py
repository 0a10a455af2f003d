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

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ..errors import InputError
from ..io.records import STEMS
from ..units import check_audio, to_samples, true_runs
from .dialogue_filter import dialogue_estimate, enhancer_gain, presence_gate, presence_share
from .word_evidence import confirmed_activity, head_bound, line_reach, word_spans
from .stft import fft_size, istft, stft

__all__ = ["ENHANCERS", "SeparationParams", "STEMS", "separate", "separation_masks"]

ENHANCERS = ("gtcrn", "deepfilternet", "none")  # SeparationParams.enhancer: the dsp backend loads that model


@dataclass(frozen=True)
class SeparationParams:
    """Options of the DSP separator (change with :func:`dataclasses.replace`).

    Attributes
    ----------
    window_s : float
        STFT window length; the FFT size is the power of two nearest ``window_s * sample_rate``
        (2048 at 44.1/48 kHz, 1024 at 16/22.05 kHz). The hop is half the window.
    harmonic_kernel_s : float
        Length of the time-direction median filter (harmonic enhancement).
    percussive_kernel_bands : int
        Length (odd, in analysis bands) of the frequency-direction median filter.
    bands_per_octave : int
        Resolution of the semi-log analysis grid above the frequency where FFT bins get finer.
    margin : float
        Separation margin ``b >= 1``: larger values move more energy to the residual.
    speech_low_hz, speech_high_hz : float
        Speech band edges (full weight between them).
    speech_edge_octaves : float
        Width of the raised-cosine roll-off outside each speech band edge.
    vad_smooth_s : float
        Voice-activity weights are smoothed with a moving average this long (no clicks at edges).
    wiener : bool
        The dialogue estimate of :mod:`.dialogue_filter` (False: the older speech-band x harmonic+residual
        mask, kept for comparison).
    centre : bool
        Stereo: MVDR beam toward the centre before the Wiener post-filter.
    speech_band : bool
        Band-limit the DSP-only dialogue (not the enhancer's estimate) to ``speech_low_hz..speech_high_hz``.
    noise_context_s, noise_min_s, noise_quantile
        Background model: average over the pause frames within ``noise_context_s``; trusted with at least
        ``noise_min_s`` of pause nearby; ``noise_quantile`` of each bin when the clip has no pause.
    over_subtraction, gain_floor, gain_smooth_bins, gain_smooth_frames
        Wiener gain: noise scale, lower bound, and the (bins, frames) box the powers are averaged over.
    enhancer : str
        The learned speech enhancer, when its wheel is installed: ``gtcrn`` (GTCRN, 16 kHz),
        ``deepfilternet`` (DeepFilterNet3, 48 kHz; the default since dsp output version 5: issue 18, measured in
        ``benchmarks/README.md``), or ``none``.
    enhancer_pad_s : float
        Context the enhancer gets before and after each speech range.
    enhancer_with_pauses : bool
        Multiply the enhancer's gain by the pause-learned Wiener gain (measured: no gain).
    enhance_stereo : bool
        Run the enhancer on multichannel input too (on the centre beam, or on the downmix of a dual-mono
        clip; default since version 5); false: on mono input only, where no spatial cue exists.
    dual_mono_db : float
        A stereo clip whose side (L - R) is this far under its mid has no spatial cue: no beam.
    presence_low, presence_high : float
        The dialogue fades out in frames where the estimate keeps less than ``presence_high`` (0 at
        ``presence_low``) of the frame's power (0: no gate).
    word_gate : bool
        When the caller passes the transcript's words (:func:`separate`'s ``words``), a speech range holding
        words ends ``word_pad_s`` after its last word (the VAD runs on into music and applause after a line;
        the ASR heard the line). Ranges without any word are kept (see :func:`word_activity`). False: the
        words are not used at all (no ``confirm_prob`` evidence either).
    word_pauses : bool
        Also learn the background in the frames the word gate removed from the VAD's ranges.
    word_pad_s : float
        Margin around each word: Whisper's word times come from cross-attention alignment on a 20 ms grid
        and are off by ~0.1-0.2 s at the edges of a line.
    word_min_prob : float
        Words the ASR gives a lower probability (``prob``) count as no word.
    confirm_prob, confirm_gap_s
        Words of the transcript with ``prob >= confirm_prob`` (0: no word confirms anything), merged when less
        than ``confirm_gap_s`` apart, *confirm* speech (:func:`~.word_evidence.confirmed_activity`); the rest
        of a speech range is unconfirmed (silero-vad fires on sung vocals and applause next to a line).
    enhance_unconfirmed : bool
        Multichannel input without ``enhance_stereo``: run the enhancer on the unconfirmed frames only, and
        take its estimate there (the beam passes centred vocals and applause; the model does not).
    tail_presence_low, tail_presence_high
        After a range's last confirmed words (and in ranges without any), the presence gate wants this
        share of the frame instead (0: no stricter gate); not at a range's start (Whisper's first word).
    line_gap_s : float
        A speech range holding confirmed words keeps the dialogue only out to the first pause of at least
        this long (the estimate holds < ``presence_low`` of the frame) before its first / after its last
        confirmed frame (:func:`~.word_evidence.line_reach`: the VAD runs on into a sung note or the music
        next to a line), with the ordinary presence gate up to there; 0 (default): the stricter tail gate
        instead. Measured (``benchmarks/README.md``): 0.11 s silences mono dev but not test, and cuts real
        words where a line's tail is long and unsure (stereo test -1.7 dB): off.
    head_reach_s : float
        Mono: in a speech range holding confirmed words, no dialogue more than this long before its first
        confirmed frame (:func:`~.word_evidence.head_bound`; that frame is the END of the range's first
        confident word): the VAD opens a range early where a crowd, chatter or music precedes the line
        (issue 18; stereo has the enhancer on unconfirmed frames, and there it cut a line whose first word
        Whisper placed early: dev -0.7 dB). Measured in ``benchmarks/README.md``. 0: off.
    harmonic, f0_min_hz, f0_max_hz, comb_max_hz, comb_width, comb_floor, voicing_low, voicing_high
        The pitch-tracked harmonic comb of :mod:`.harmonic` on the dialogue (measured worse: off).
    """

    window_s: float = 0.046
    harmonic_kernel_s: float = 0.2
    percussive_kernel_bands: int = 9
    bands_per_octave: int = 36
    margin: float = 2.0
    speech_low_hz: float = 100.0
    speech_high_hz: float = 4000.0
    speech_edge_octaves: float = 0.5
    vad_smooth_s: float = 0.05
    wiener: bool = True
    centre: bool = True
    speech_band: bool = True
    noise_context_s: float = 3.0
    noise_min_s: float = 0.3
    noise_quantile: float = 0.2
    over_subtraction: float = 1.0
    gain_floor: float = 0.0
    gain_smooth_bins: int = 3
    gain_smooth_frames: int = 3
    enhancer: str = "deepfilternet"
    enhancer_pad_s: float = 0.2
    enhancer_with_pauses: bool = False
    enhance_stereo: bool = True
    dual_mono_db: float = -30.0
    presence_low: float = 0.02
    presence_high: float = 0.1
    word_gate: bool = True
    word_pauses: bool = False
    word_pad_s: float = 0.2
    word_min_prob: float = 0.0
    confirm_prob: float = 0.5
    confirm_gap_s: float = 1.0
    enhance_unconfirmed: bool = True
    tail_presence_low: float = 0.3
    tail_presence_high: float = 0.6
    line_gap_s: float = 0.0
    head_reach_s: float = 0.0
    harmonic: bool = False
    f0_min_hz: float = 70.0
    f0_max_hz: float = 400.0
    comb_max_hz: float = 3000.0
    comb_width: float = 0.08
    comb_floor: float = 0.1
    voicing_low: float = 0.3
    voicing_high: float = 0.6

    def __post_init__(self):
        positive = ("window_s", "harmonic_kernel_s", "speech_low_hz", "speech_high_hz", "vad_smooth_s",
                    "noise_context_s", "noise_min_s", "over_subtraction", "f0_min_hz", "f0_max_hz", "comb_max_hz",
                    "comb_width")
        for name in ("wiener", "centre", "speech_band", "enhancer_with_pauses", "enhance_stereo", "harmonic",
                     "word_gate", "word_pauses", "enhance_unconfirmed"):
            if not isinstance(getattr(self, name), bool):
                raise InputError(f"SeparationParams.{name}={getattr(self, name)!r} is not allowed (true or false)")
        unit = ("noise_quantile", "gain_floor", "comb_floor", "presence_low", "presence_high", "voicing_low",
                "voicing_high", "word_min_prob", "confirm_prob", "tail_presence_low", "tail_presence_high")
        for name in unit:
            value = getattr(self, name)
            if isinstance(value, bool) or not (isinstance(value, (int, float)) and 0 <= value <= 1):
                raise InputError(f"SeparationParams.{name}={value!r} is not allowed (a number in [0, 1])")
        for name, value in (("enhancer_pad_s", self.enhancer_pad_s), ("dual_mono_db", -self.dual_mono_db),
                            ("word_pad_s", self.word_pad_s), ("confirm_gap_s", self.confirm_gap_s),
                            ("line_gap_s", self.line_gap_s), ("head_reach_s", self.head_reach_s)):
            if isinstance(value, bool) or not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise InputError(f"SeparationParams.{name}={getattr(self, name)!r} is not allowed "
                                 f"({'<= 0 dB' if name == 'dual_mono_db' else '>= 0'})")
        if self.presence_high and self.presence_high <= self.presence_low:
            raise InputError("SeparationParams.presence_high must exceed presence_low (or be 0: no presence gate)")
        if self.tail_presence_high and self.tail_presence_high <= self.tail_presence_low:
            raise InputError("SeparationParams.tail_presence_high must exceed tail_presence_low (or be 0)")
        if self.voicing_high <= self.voicing_low:
            raise InputError("SeparationParams.voicing_high must exceed voicing_low")
        for name in positive:
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise InputError(f"SeparationParams.{name}={value!r} is not allowed (a finite number > 0)")
        if not (isinstance(self.margin, (int, float)) and math.isfinite(self.margin) and self.margin >= 1):
            raise InputError(f"SeparationParams.margin={self.margin!r} is not allowed (a number >= 1)")
        for name in ("percussive_kernel_bands", "bands_per_octave", "gain_smooth_bins", "gain_smooth_frames"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InputError(f"SeparationParams.{name}={value!r} is not allowed (an integer >= 1)")
        if self.enhancer not in ENHANCERS:
            raise InputError(f"SeparationParams.enhancer={self.enhancer!r} is not allowed ({', '.join(ENHANCERS)})")
        if self.speech_high_hz <= self.speech_low_hz:
            raise InputError(
                f"SeparationParams.speech_high_hz={self.speech_high_hz!r} is not allowed "
                f"(must exceed speech_low_hz={self.speech_low_hz!r})"
            )
        if not (isinstance(self.speech_edge_octaves, (int, float)) and 0 <= self.speech_edge_octaves <= 4):
            raise InputError(
                f"SeparationParams.speech_edge_octaves={self.speech_edge_octaves!r} is not allowed (0..4)"
            )

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


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
    no word), and so is a run cut by the clip's end (its last word may belong to the next shot's slice of
    the transcript).

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
        if last == n_frames - 1:
            continue  # cut by the clip's end
        t0, t1 = (first - 0.5) * centre, (last + 0.5) * centre
        inside = (spans_arr[:, 0] < t1) & (spans_arr[:, 1] > t0)
        if not inside.any():
            continue  # no word in this range: kept as the VAD says
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
