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
    vad: str = "silero"
    vad_threshold: float = 0.5
    asr: str = "faster-whisper"
    """Speech recognition: ``faster-whisper`` (offline default: Whisper base from its PyPI wheels, model
    ``packaged:base``), ``whisper`` (transformers) or ``none``."""
    asr_options: dict = field(default_factory=dict)
    """Backend options; faster-whisper's defaults are the offline ones: ``packaged:base``, int8 on CPU, 2 threads, beam 5."""
    asr_input: str = "mix"
    """What the ASR hears in the VAD-gated windows: ``mix`` (measured better with the offline ``dsp``
    separation: benchmarks/bench_asr.py) or ``dialogue`` (the dialogue stem)."""
    tagger: str = "features"
    """"type" and tags: ``features`` (measured, offline) or ``clap`` (zero-shot over our sound vocabulary)."""
    tagger_options: dict = field(default_factory=dict)
    captioner: str = "features"
    """"sound description"/"visual context": ``features`` (measured + MiniLM), ``openai`` or ``gemini``."""
    captioner_options: dict = field(default_factory=dict)
    context: str = "minilm"
    """Visual-context backend of the ``features`` captioner: ``minilm`` (ships weights) or ``none``."""
    paper_filter: bool = False
    """Drop shots with prolonged speech or music, as the paper did (off: we separate and keep them)."""
    paper_filter_fraction: float = 0.5
    """With ``paper_filter``: drop when speech, or the music stem's energy, covers this share of the shot."""
    stem_format: str = "flac"
    seed: int = 0
    extra: dict = field(default_factory=dict)
    """Open field for backend parameters (recorded in provenance)."""

    def __post_init__(self):
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
        for name in ("separation_options", "asr_options", "tagger_options", "captioner_options", "extra"):
            if not isinstance(getattr(self, name), dict):
                raise InputError(f"{name} must be a mapping, got {type(getattr(self, name)).__name__}")
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
    """Text-to-audio backend: ``retrieval`` (offline, needs ``bank``), ``audioldm2``, ``stable-audio``."""
    tta_options: dict = field(default_factory=dict)
    bank: str | None = None
    """An ``avshooter annotate`` output folder: the sound bank of the ``retrieval`` backend."""
    device: str = "cpu"
    sample_rate: int = 48000
    """Rate of the mixed soundtrack and of the AAC in the mp4s (Hz)."""
    target_lufs: float = -23.0
    """Integrated loudness of the final mix (EBU R128: -23; web: -16)."""
    max_true_peak_dbtp: float = -1.0
    sync: bool = True
    """Shift each shot's effects so their onsets meet the visual events of its video."""
    max_shift_s: float = 0.5
    ambience: bool = True
    """One ambience bed per scene, carried across its shots, crossfaded at scene changes."""
    scene_crossfade_s: float = 1.0
    chunk_crossfade_s: float = 0.5
    """Crossfade between chunks of a clip longer than the model's maximum."""
    fade_s: float = 0.05
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
        if not 0.0 <= self.max_shift_s <= 2.0:
            raise InputError(f"max_shift_s must be within [0, 2] s, got {self.max_shift_s}")
        if self.num_candidates < 1:
            raise InputError(f"num_candidates must be >= 1, got {self.num_candidates}")
        if self.prompt_writer not in ("rules", "llm"):
            raise InputError(f"prompt_writer must be 'rules' or 'llm', got {self.prompt_writer!r}")

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


def config_hash(config) -> str:
    """Short stable hash of the settings (first 12 hex digits of SHA-256 of the sorted JSON)."""
    blob = json.dumps(config.to_dict(), sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:12]
