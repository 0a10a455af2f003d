"""Model backends of ``annotate``: a registry of names -> ``"module:Class"``, loaded only when used.

One backend = one file holding all knowledge of its model (loading from a hub id or a local folder,
device, dtype, batching, its sample rate, its quirks). Heavy libraries are imported inside the backend.
A missing extra raises :class:`~avshooter.errors.BackendError` naming the ``pip install`` that fixes it.

Interfaces (duck-typed; every backend class takes ``(*, device: str = "cpu", **options)`` and rejects
unknown options with a BackendError, and has ``info() -> dict`` for provenance: name, model, version,
device, dtype and the options it ran with):

separation
    ``separate(wav, sample_rate, *, speech) -> {"dialogue", "music", "effects"}``: float32 arrays of the
    input's shape ``(channels, samples)`` that sum back to ``wav``; ``speech`` is the list of speech ranges
    ``(start_s, end_s)`` from the clip start (VAD), which a backend may use or ignore.
asr
    ``transcribe(wav, sample_rate, *, speech) -> dict`` with ``text``, ``language``, ``language_prob``,
    ``words`` (``[{"word", "start_s", "end_s", "prob"}]``, seconds from the clip start) and ``segments``
    (``[{"start_s", "end_s", "text"}]``). Only the speech ranges are transcribed (Whisper hallucinates on
    music and silence); no speech -> empty text, no model call.
tagger
    ``tag(wav, sample_rate) -> dict`` (and ``tag_many(clips, sample_rate) -> [dict]``, batched) with ``type`` (speech/music/effects/ambience/silence), ``type_scores``
    and ``tags`` (``[{"label", "score"}]``, best first).
captioner
    ``caption(wav, sample_rate, *, frames, context) -> dict`` with the paper's ``type``,
    ``sound description`` and ``visual context`` (validated against our schema), where ``frames`` is a
    list of uint8 ``(H, W, 3)`` pictures from the shot and ``context`` the story/shot text plus our measured
    features.
"""
from __future__ import annotations

from ..errors import BackendError
from ..registry import instantiate

__all__ = ["REGISTRY", "load_backend"]

REGISTRY: dict[str, dict[str, str]] = {
    "separation": {
        "dsp": "avshooter.backends.dsp_separation:DSPSeparator",
        "demucs": "avshooter.backends.demucs_separation:DemucsSeparator",
    },
    "asr": {
        "faster-whisper": "avshooter.backends.faster_whisper_asr:FasterWhisperASR",
        "whisper": "avshooter.backends.transformers_whisper_asr:TransformersWhisperASR",
    },
    "tagger": {
        "clap": "avshooter.backends.clap_tagger:ClapTagger",
        "yamnet": "avshooter.backends.yamnet_tagger:YamnetTagger",
    },
    "captioner": {
        "openai": "avshooter.backends.openai_captioner:OpenAICaptioner",
        "gemini": "avshooter.backends.gemini_captioner:GeminiCaptioner",
    },
}

def load_backend(step: str, name: str, *, device: str = "cpu", options: dict | None = None, cache: bool = True):
    """The backend instance for ``step``/``name``.

    ``cache=True`` (the pipelines' way): one instance per process and settings, so models load once;
    :func:`avshooter.registry.free_backends` drops them. ``cache=False``: a new object only the caller
    holds, to pass to :func:`avshooter.annotate_shot` (``backends={step: obj}``) and free by dropping it.
    """
    if step not in REGISTRY:
        raise BackendError(f"unknown step {step!r} (known: {', '.join(REGISTRY)})")
    return instantiate(REGISTRY[step], name, what=step, device=device, options=options, cache=cache)
