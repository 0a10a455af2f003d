"""Text-to-audio backends of ``generate``: a registry of names -> ``"module:Class"``, loaded only when used.

One backend = one file holding all knowledge of its model (loading from a hub id or a local folder,
device, dtype, batching, seeds, its sample rate, its length granularity, its quirks). Heavy libraries are
imported inside the backend; a missing extra raises :class:`~avshooter.errors.BackendError` naming the
``pip install`` that fixes it.

Interface (duck-typed)
----------------------
``Backend(*, device: str = "cpu", **options)``
    Rejects unknown options with a BackendError. Asking for ``cuda`` where
    ``torch.cuda.is_available()`` is False is a BackendError, not a silent fall back to the CPU.
``sample_rate: int``
    Rate of every waveform it returns.
``max_duration_s: float``
    Longest clip one call can make. Longer shots are cut into chunks by the caller.
``info() -> dict``
    Provenance for the outputs: ``name``, ``model``, ``version``, ``device``, ``dtype``, ``scheduler``,
    ``steps``, ``guidance``, ``sample_rate`` and the other options it runs with.
``generate(prompts, durations_s, *, seeds, negative_prompt=None, num_candidates=1) -> list[dict]``
    One dict per prompt, in order:

    - ``"wav"``: float32 ``(channels, to_samples(duration_s, sample_rate))`` at ``sample_rate``. The
      backend asks the model for a little more (rounded up to the model's latent/vocoder granularity)
      and trims to exactly that many samples itself.
    - ``"seed"``: the seed of the returned candidate; calling again with this seed and
      ``num_candidates=1`` gives the same audio.
    - ``"score"``: CLAP text-audio similarity of the returned candidate (the best of
      ``num_candidates``), or None where nothing was ranked.
    - ``"candidates"``: how many candidates were generated for it.
    - ``"silent"``: True when the output is all silence (kept, reported; the caller decides).

    An empty prompt, a duration <= 0 or above ``max_duration_s``, or mismatched list lengths raise
    :class:`~avshooter.errors.InputError`; NaN/inf in a model output raises BackendError
    (``"... returned NaN ..."``). Every backend batches prompts into as few model calls as it can; the
    result for a prompt depends only on (prompt, duration, seed, options), not on what it was batched with
    (up to float rounding).

Backends: ``audioldm2`` (diffusers AudioLDM2, 16 kHz mono), ``stable-audio`` (diffusers Stable Audio
Open, 44.1 kHz stereo), ``stable-audio-3`` (diffusers Stable Audio 3, 44.1 kHz stereo, 8 steps; also
continues audio by inpainting), ``tangoflux`` (the TangoFlux checkpoint on diffusers Flux + Oobleck,
44.1 kHz stereo), ``retrieval`` (offline default: clips from an annotated bank, time-fitted).

Optional: ``continue_bed(prompt, prev_tail, duration_s, *, seed) -> dict`` and ``max_continue_s``
(``stable-audio-3``): audio that continues ``prev_tail``; ``generate`` then builds ambience and music beds
across a scene's shots by continuation (:mod:`.continuation`) instead of crossfaded chunks.

GPU: every diffusers backend takes ``dtype`` (float16 / bfloat16 / float32), ``compile`` (torch.compile
of its denoiser) and hands cached accelerator memory back after each batch.
"""
from __future__ import annotations

from ...registry import instantiate

__all__ = ["REGISTRY", "load_tta"]

REGISTRY: dict[str, str] = {
    "audioldm2": "avshooter.backends.text_to_audio.audioldm2:AudioLDM2",
    "stable-audio": "avshooter.backends.text_to_audio.stable_audio:StableAudioOpen",
    "stable-audio-3": "avshooter.backends.text_to_audio.stable_audio3:StableAudio3",
    "tangoflux": "avshooter.backends.text_to_audio.tangoflux:TangoFlux",
    "retrieval": "avshooter.backends.text_to_audio.retrieval:RetrievalTTA",
}

def load_tta(name: str, *, device: str = "cpu", options: dict | None = None):
    """The text-to-audio backend ``name`` (one instance per process and settings: models load once).

    Parameters
    ----------
    name : str
        A key of :data:`REGISTRY`.
    device : str
        ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ...
    options : dict, optional
        Keyword options of the backend class (unknown ones raise BackendError).
    """
    return instantiate(REGISTRY, name, what="text-to-audio", device=device, options=options)
