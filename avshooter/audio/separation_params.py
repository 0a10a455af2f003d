"""The options of the offline DSP separator (:func:`avshooter.audio.separation.separate`), checked."""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from ..errors import InputError

__all__ = ["ENHANCERS", "SeparationParams"]

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
    word_gate_clip_end : bool
        The word gate also ends a range cut by the clip's end after its last word (a shot's words are the
        transcript's words that START in it, so speech up to the shot's end has its words there; the
        ``word_pad_s`` margin covers Whisper's late word starts). False (default): such a range is kept
        whole. Measured with ``held_note_s`` (``benchmarks/README.md``, sung pieces): no gain held out, off.
    held_note_s, held_note_semitones, held_note_voicing, held_note_pad_s
        After a range's last confirmed words and in ranges without any (``confirm_prob``; not before the
        first: a line's first vowel may be long), no dialogue in the frames where the estimate holds one
        pitch for at least ``held_note_s`` (its f0 within ``held_note_semitones``, pitch salience at least
        ``held_note_voicing``), widened by ``held_note_pad_s`` each side: a sung note (:mod:`.held_notes`;
        silero-vad fires on sung vocals, the enhancer keeps them as voice, and the ASR hears no confident
        word there). 0 (default): off. Measured: 0.5 s silences some sung notes on the dev sung pieces, but
        held out it cut unconfirmed speech whose pitch track followed the music under it (test2 stereo
        -0.7 dB, one mixture -6.5 dB): off.
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
    word_gate_clip_end: bool = False
    word_pad_s: float = 0.2
    word_min_prob: float = 0.0
    confirm_prob: float = 0.5
    confirm_gap_s: float = 1.0
    enhance_unconfirmed: bool = True
    tail_presence_low: float = 0.3
    tail_presence_high: float = 0.6
    line_gap_s: float = 0.0
    head_reach_s: float = 0.0
    held_note_s: float = 0.0
    held_note_semitones: float = 1.5
    held_note_voicing: float = 0.3
    held_note_pad_s: float = 0.1
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
                     "word_gate", "word_pauses", "enhance_unconfirmed", "word_gate_clip_end"):
            if not isinstance(getattr(self, name), bool):
                raise InputError(f"SeparationParams.{name}={getattr(self, name)!r} is not allowed (true or false)")
        unit = ("noise_quantile", "gain_floor", "comb_floor", "presence_low", "presence_high", "voicing_low",
                "voicing_high", "word_min_prob", "confirm_prob", "tail_presence_low", "tail_presence_high",
                "held_note_voicing")
        for name in unit:
            value = getattr(self, name)
            if isinstance(value, bool) or not (isinstance(value, (int, float)) and 0 <= value <= 1):
                raise InputError(f"SeparationParams.{name}={value!r} is not allowed (a number in [0, 1])")
        for name, value in (("enhancer_pad_s", self.enhancer_pad_s), ("dual_mono_db", -self.dual_mono_db),
                            ("word_pad_s", self.word_pad_s), ("confirm_gap_s", self.confirm_gap_s),
                            ("line_gap_s", self.line_gap_s), ("head_reach_s", self.head_reach_s),
                            ("held_note_s", self.held_note_s), ("held_note_semitones", self.held_note_semitones),
                            ("held_note_pad_s", self.held_note_pad_s)):
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
