"""Stable Audio Open text-to-audio through ``diffusers.StableAudioPipeline`` (44.1 kHz stereo).

Everything about this model lives here: loading (hub id ``stabilityai/stable-audio-open-1.0``, gated:
accept its licence and log in, or give a local pipeline folder), device and dtype, steps, batching, seeds,
candidate ranking and its quirks:

- Length: the DiT always denoises its whole window (``transformer.sample_size`` latent frames of
  ``vae.hop_length`` samples: 1024 x 2048 = 47.55 s at 44.1 kHz) and the pipeline cuts the waveform at
  ``int(audio_end_in_s * sr)``. ``audio_end_in_s`` is also a conditioning input (the model learns to
  end the sound there), so we ask for the clip length rounded up to ``bucket_s`` (0.5 s by default:
  prompts of close lengths share one call, since the pipeline takes one ``audio_end_in_s`` per call),
  as ``(samples + 0.5) / sr`` seconds so the ``int()`` lands exactly, and trim to
  ``to_samples(duration_s, sr)`` ourselves. ``max_duration_s`` is the window (and at most the
  duration conditioning's ``max_value``).
- Scheduler: the checkpoint's ``CosineDPMSolverMultistepScheduler`` (SDE DPM-Solver++), which draws
  its step noise from a Brownian tree: it needs ``torchsde`` (``pip install torchsde``) and seeds it per
  waveform from each generator's seed.
- Seeds: candidate ``k`` of a prompt with seed ``s`` uses ``(s + k * 1_000_003) % 2**63`` through its
  own CPU ``torch.Generator``; the returned ``seed`` regenerates the returned candidate with
  ``num_candidates=1``, whatever it was batched with (up to float rounding).
- Candidates: Stable Audio has no CLAP of its own. ``num_candidates > 1`` needs the ``clap_model``
  option (hub id such as ``laion/larger_clap_general`` or a folder with a ``ClapModel``, its tokenizer
  and its ``ClapFeatureExtractor``); each prompt's candidates are ranked by cosine similarity.
- dtype: float16 on cuda by default (as the model card); the VAE output is cast to float32.
"""
from __future__ import annotations

import math

import numpy as np

from ...errors import BackendError
from ...units import to_samples
from .common import (
    CANDIDATE_SEED_STRIDE,
    check_device,
    check_request,
    clap_scores,
    first_line,
    free_memory,
    generate_in_groups,
    import_torch,
    load_clap,
    maybe_compile,
    model_name,
    model_source,
    pick_dtype,
    require_ranker,
)

__all__ = ["StableAudioOpen"]

_DEFAULTS = {
    "model": "stabilityai/stable-audio-open-1.0",
    "dtype": None,  # float16 on cuda, float32 on cpu; "bfloat16"/"float32" allowed
    "steps": 100,
    "guidance_scale": 7.0,
    "negative_prompt": "Low quality.",
    "batch_size": 4,  # waveforms (prompts x candidates) per pipeline call
    "bucket_s": 0.5,  # lengths rounded up to a multiple of this so prompts share a call; 0 = exact
    "clap_model": None,  # CLAP for ranking candidates (hub id or folder)
    "compile": False,  # torch.compile the DiT (GPU, long runs)
    "local_files_only": False,
}


class StableAudioOpen:
    """Stable Audio Open backend (see the module docstring for its rules).

    Parameters
    ----------
    device : str
        ``"cpu"``, ``"cuda"``, ``"cuda:N"``.
    **options
        ``model`` (hub id or folder), ``dtype``, ``steps``, ``guidance_scale``, ``negative_prompt``
        (default for :meth:`generate`; None or "" for none), ``batch_size``, ``bucket_s``,
        ``clap_model``, ``compile``, ``local_files_only``.
    """

    name = "stable-audio"
    OPTIONS = _DEFAULTS  # what **options may hold (checked when a config is built)

    def __init__(self, *, device: str = "cpu", **options):
        unknown = sorted(set(options) - set(_DEFAULTS))
        if unknown:
            raise BackendError(
                f"stable-audio: unknown option(s) {', '.join(unknown)} (allowed: {', '.join(_DEFAULTS)})"
            )
        opts = {**_DEFAULTS, **options}
        steps = opts["steps"]
        if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
            raise BackendError(f"stable-audio: steps {steps!r} must be an integer >= 1")
        if not isinstance(opts["batch_size"], int) or opts["batch_size"] < 1:
            raise BackendError(f"stable-audio: batch_size {opts['batch_size']!r} must be an integer >= 1")
        if not (isinstance(opts["bucket_s"], (int, float)) and opts["bucket_s"] >= 0):
            raise BackendError(f"stable-audio: bucket_s {opts['bucket_s']!r} must be a number of seconds >= 0")
        self.options = opts
        torch = import_torch()
        self.device = check_device(torch, device)
        self.dtype = pick_dtype(opts["dtype"], self.device)
        self.pipe = self._load(torch)
        vae = self.pipe.vae
        self.sample_rate = int(vae.config.sampling_rate)
        self.channels = int(vae.config.audio_channels)
        self._window = int(self.pipe.transformer.config.sample_size) * int(vae.hop_length)  # samples
        window_s = self._window / self.sample_rate
        self.max_duration_s = float(min(window_s, self.pipe.projection_model.config.max_value))
        self._bucket = max(1, to_samples(opts["bucket_s"], self.sample_rate))
        self._clap = load_clap(self.name, opts["clap_model"], self.device, opts["local_files_only"]) if opts["clap_model"] else None

    # -- loading -------------------------------------------------------------------------------------
    def _load(self, torch):
        try:
            import diffusers
        except ImportError:
            raise BackendError("stable-audio needs diffusers and transformers: pip install diffusers transformers") from None
        try:
            import torchsde  # noqa: F401 - the checkpoint's scheduler draws its noise with it
        except ImportError:
            raise BackendError("stable-audio's scheduler needs torchsde: pip install torchsde") from None
        if isinstance(self.options["model"], diffusers.StableAudioPipeline):  # built by the caller (benchmarks)
            pipe = self.options["model"]
            if pipe.dtype != getattr(torch, self.dtype):
                pipe = pipe.to(dtype=getattr(torch, self.dtype))
        else:
            pipe = self._from_pretrained(torch, diffusers)
        pipe = pipe.to(self.device)
        pipe.set_progress_bar_config(disable=True)
        pipe.transformer = maybe_compile(torch, pipe.transformer, self.options["compile"], what=self.name)
        return pipe

    def _from_pretrained(self, torch, diffusers):
        source = model_source(self.options["model"], "model", self.name)
        try:
            pipe = diffusers.StableAudioPipeline.from_pretrained(
                source, torch_dtype=getattr(torch, self.dtype), local_files_only=self.options["local_files_only"]
            )
        except Exception as exc:  # noqa: BLE001 - hub, disk and config errors all become one line
            raise BackendError(f"stable-audio: cannot load model {self.options['model']!r}: {first_line(exc)}") from None
        return pipe

    def info(self) -> dict:
        """Provenance: name, model, versions, device, dtype, scheduler, steps, guidance and options."""
        import diffusers
        import torch

        return {
            "name": self.name,
            "model": model_name(self.options["model"]),
            "version": f"diffusers {diffusers.__version__}",
            "torch": torch.__version__,
            "device": self.device,
            "dtype": self.dtype,
            "scheduler": type(self.pipe.scheduler).__name__,
            "steps": self.options["steps"],
            "guidance": self.options["guidance_scale"],
            "negative_prompt": self.options["negative_prompt"],
            "sample_rate": self.sample_rate,
            "channels": self.channels,
            "max_duration_s": self.max_duration_s,
            "batch_size": self.options["batch_size"],
            "bucket_s": self.options["bucket_s"],
            "clap_model": self.options["clap_model"],
            "compile": bool(self.options["compile"]),
            "candidate_seed_stride": CANDIDATE_SEED_STRIDE,
        }

    # -- generation ----------------------------------------------------------------------------------
    def generate(
        self,
        prompts: list[str],
        durations_s: list[float],
        *,
        seeds: list[int],
        negative_prompt: str | None = None,
        num_candidates: int = 1,
    ) -> list[dict]:
        """One clip per prompt, each exactly ``to_samples(duration_s, 44100)`` samples long (stereo).

        Parameters
        ----------
        prompts : list of str
            Audio descriptions, one per clip.
        durations_s : list of float
            Clip lengths in seconds, each in ``(0, max_duration_s]``.
        seeds : list of int
            One seed >= 0 per prompt.
        negative_prompt : str, optional
            Overrides the ``negative_prompt`` option for this call ("" for none).
        num_candidates : int
            Waveforms generated per prompt; > 1 needs the ``clap_model`` option to rank them.

        Returns
        -------
        list of dict
            ``{"wav": float32 (2, n), "seed", "score", "candidates", "silent"}`` per prompt.
        """
        need = check_request(prompts, durations_s, seeds, num_candidates, self.max_duration_s, self.sample_rate)
        require_ranker(self.name, num_candidates, self._clap)
        import torch

        negative = self.options["negative_prompt"] if negative_prompt is None else negative_prompt
        lengths = [min(math.ceil(n / self._bucket) * self._bucket, self._window) for n in need]
        return generate_in_groups(
            self, prompts, seeds, need, lengths, num_candidates,
            call=lambda idx, sds, length: self._call(torch, [prompts[i] for i in idx], sds, length, negative),
            rank=lambda prompt, cands: clap_scores(self._clap, self.device, self.sample_rate, prompt, cands),
        )

    # Adapted from avshooter.backends.text_to_audio.audioldm2.AudioLDM2._call (audio_end_in_s, 3-d output)
    def _call(self, torch, prompts: list[str], seeds: list[int], length: int, negative: str | None) -> np.ndarray:
        """Run the pipeline once: ``(len(prompts), channels, >= length)`` float32 waveforms."""
        generators = [torch.Generator("cpu").manual_seed(s) for s in seeds]
        end_s = min((length + 0.5) / self.sample_rate, self.max_duration_s)
        try:
            out = self.pipe(
                prompt=list(prompts),
                audio_end_in_s=end_s,
                num_inference_steps=self.options["steps"],
                guidance_scale=self.options["guidance_scale"],
                negative_prompt=[negative] * len(prompts) if negative else None,
                num_waveforms_per_prompt=1,
                generator=generators,
                output_type="np",
            )
            audio = np.asarray(out.audios, dtype=np.float32)
        except (RuntimeError, ValueError) as exc:
            raise BackendError(f"stable-audio pipeline failed: {first_line(exc)}") from None
        finally:
            free_memory(torch, self.device)  # the pipeline's activations go back to the device between batches
        if audio.ndim != 3 or audio.shape[0] != len(prompts) or audio.shape[2] < length:
            raise BackendError(f"stable-audio returned shape {audio.shape}, expected ({len(prompts)}, channels, >= {length})")
        return audio
