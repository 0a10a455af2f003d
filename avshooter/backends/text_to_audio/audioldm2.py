"""AudioLDM2 text-to-audio through ``diffusers.AudioLDM2Pipeline`` (16 kHz mono).

Everything about this model lives here: loading (hub id such as ``cvssp/audioldm2`` or a local pipeline
folder), device and dtype, scheduler and steps, batching, seeds, its length granularity, candidate ranking
with its own CLAP text encoder, and its quirks:

- Length: the pipeline works on mel frames of ``hop = prod(vocoder upsample_rates)`` samples (160 at
  16 kHz) and a VAE that divides the frame count by ``vae_scale_factor`` (4), so a clip is a multiple of
  ``hop * vae_scale_factor`` samples (0.04 s). We round each request up to that unit (and further up to
  ``bucket_s`` so that prompts of close lengths share one pipeline call), ask for
  ``(samples + 0.5) / sr`` seconds so that the pipeline's ``int()`` truncations land exactly on the
  unit, and trim to ``to_samples(duration_s, sr)`` ourselves. The model was trained on 10.24 s clips;
  ``max_duration_s`` (default 30 s) bounds one call, the caller chunks longer shots.
- Candidates: the pipeline's own ranking (``num_waveforms_per_prompt > 1``) needs librosa and, with
  several prompts in one call, ranks each prompt against every waveform of the batch (diffusers 0.42
  ``score_waveforms`` argsorts over the whole batch). So we ask for one waveform per (prompt, candidate)
  and rank the candidates of each prompt ourselves with the pipeline's CLAP (``text_encoder`` +
  ``feature_extractor``), which also gives us the score.
- Seeds: candidate ``k`` of a prompt with seed ``s`` uses ``(s + k * 1_000_003) % 2**63`` through its
  own CPU ``torch.Generator``, so the noise of a prompt does not depend on its batch neighbours or on the
  device, and the returned ``seed`` regenerates the returned candidate with ``num_candidates=1``.
  Batching changes the result only by float rounding, plus the effect of padding when prompts of
  different token lengths share a call (the T5/GPT-2 conditioning sees the padded sequence).
- Schedulers: ``"ddim"`` (the checkpoint's own, 200 steps by default, as in the paper) or
  ``"dpmsolver"`` (``DPMSolverMultistepScheduler``, 20 steps by default: ~10x faster, close quality).
"""
from __future__ import annotations

import math
import os

import numpy as np

from ...errors import BackendError
from .common import (
    CANDIDATE_SEED_STRIDE,
    check_device,
    check_request,
    clap_scores,
    free_memory,
    generate_in_groups,
    import_torch,
    looks_like_path,
    maybe_compile,
    model_name,
    pick_dtype,
)

__all__ = ["AudioLDM2"]

_DEFAULTS = {
    "model": "cvssp/audioldm2",
    "dtype": None,  # float16 on cuda, float32 on cpu; "bfloat16"/"float32" allowed
    "scheduler": "ddim",
    "steps": None,  # 200 for ddim, 20 for dpmsolver
    "guidance_scale": 3.5,
    "negative_prompt": "low quality, noise",
    "batch_size": 8,  # waveforms (prompts x candidates) per pipeline call
    "bucket_s": 1.0,  # lengths rounded up to a multiple of this so prompts share a call; 0 = model unit only
    "max_duration_s": 30.0,
    "compile": False,  # torch.compile the UNet (GPU, long runs)
    "local_files_only": False,
}
_SCHEDULERS = {"ddim": ("DDIMScheduler", 200), "dpmsolver": ("DPMSolverMultistepScheduler", 20)}


class AudioLDM2:
    """AudioLDM2 backend (see the module docstring for its rules).

    Parameters
    ----------
    device : str
        ``"cpu"``, ``"cuda"``, ``"cuda:N"``.
    **options
        ``model`` (hub id or folder), ``dtype``, ``scheduler`` (``"ddim"`` | ``"dpmsolver"``), ``steps``,
        ``guidance_scale``, ``negative_prompt`` (default for :meth:`generate`; None or "" for none),
        ``batch_size``, ``bucket_s``, ``max_duration_s``, ``compile``, ``local_files_only``.
    """

    name = "audioldm2"
    OPTIONS = _DEFAULTS  # what **options may hold (checked when a config is built)

    def __init__(self, *, device: str = "cpu", **options):
        unknown = sorted(set(options) - set(_DEFAULTS))
        if unknown:
            raise BackendError(f"audioldm2: unknown option(s) {', '.join(unknown)} (allowed: {', '.join(_DEFAULTS)})")
        opts = {**_DEFAULTS, **options}
        if opts["scheduler"] not in _SCHEDULERS:
            raise BackendError(f"audioldm2: scheduler {opts['scheduler']!r} is not one of {', '.join(_SCHEDULERS)}")
        steps = opts["steps"] if opts["steps"] is not None else _SCHEDULERS[opts["scheduler"]][1]
        if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
            raise BackendError(f"audioldm2: steps {steps!r} must be an integer >= 1")
        if not isinstance(opts["batch_size"], int) or opts["batch_size"] < 1:
            raise BackendError(f"audioldm2: batch_size {opts['batch_size']!r} must be an integer >= 1")
        if not (isinstance(opts["bucket_s"], (int, float)) and opts["bucket_s"] >= 0):
            raise BackendError(f"audioldm2: bucket_s {opts['bucket_s']!r} must be a number of seconds >= 0")
        if not (isinstance(opts["max_duration_s"], (int, float)) and opts["max_duration_s"] > 0):
            raise BackendError(f"audioldm2: max_duration_s {opts['max_duration_s']!r} must be > 0")
        opts["steps"] = steps
        self.options = opts
        torch = import_torch()
        self.device = check_device(torch, device)
        self.dtype = pick_dtype(opts["dtype"], self.device)
        self.pipe = self._load(torch)
        vocoder = self.pipe.vocoder.config
        self.sample_rate = int(vocoder.sampling_rate)
        self.max_duration_s = float(opts["max_duration_s"])
        hop = int(np.prod(vocoder.upsample_rates))
        self._unit = hop * int(self.pipe.vae_scale_factor)  # samples per latent frame
        self._bucket = self._unit * max(1, round(opts["bucket_s"] * self.sample_rate / self._unit))

    # -- loading -------------------------------------------------------------------------------------
    def _load(self, torch):
        try:
            import diffusers
        except ImportError:
            raise BackendError("audioldm2 needs diffusers and transformers: pip install diffusers transformers") from None
        if isinstance(self.options["model"], diffusers.AudioLDM2Pipeline):  # built by the caller (benchmarks)
            pipe = self.options["model"]
            if pipe.dtype != getattr(torch, self.dtype):
                pipe = pipe.to(dtype=getattr(torch, self.dtype))
            return self._finish(torch, diffusers, pipe)
        model = str(self.options["model"])
        if looks_like_path(model) and not os.path.isdir(os.path.expanduser(model)):
            raise BackendError(f"audioldm2: model folder {model!r} does not exist (give a folder or a hub id)")
        source = os.path.expanduser(model) if os.path.isdir(os.path.expanduser(model)) else model
        try:
            pipe = diffusers.AudioLDM2Pipeline.from_pretrained(
                source, torch_dtype=getattr(torch, self.dtype), local_files_only=self.options["local_files_only"]
            )
        except Exception as exc:  # noqa: BLE001 - hub, disk and config errors all become one line
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise BackendError(f"audioldm2: cannot load model {model!r}: {first}") from None
        return self._finish(torch, diffusers, pipe)

    def _finish(self, torch, diffusers, pipe):
        cls_name = _SCHEDULERS[self.options["scheduler"]][0]
        pipe.scheduler = getattr(diffusers, cls_name).from_config(pipe.scheduler.config)
        pipe = pipe.to(self.device)
        pipe.set_progress_bar_config(disable=True)
        pipe.unet = maybe_compile(torch, pipe.unet, self.options["compile"], what=self.name)
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
            "scheduler": self.options["scheduler"],
            "steps": self.options["steps"],
            "guidance": self.options["guidance_scale"],
            "negative_prompt": self.options["negative_prompt"],
            "sample_rate": self.sample_rate,
            "max_duration_s": self.max_duration_s,
            "batch_size": self.options["batch_size"],
            "bucket_s": self.options["bucket_s"],
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
        """One clip per prompt, each exactly ``to_samples(duration_s, 16000)`` samples long.

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
            Waveforms generated per prompt; the best by CLAP similarity is returned.

        Returns
        -------
        list of dict
            ``{"wav": float32 (1, n), "seed", "score", "candidates", "silent"}`` per prompt.
        """
        need = check_request(prompts, durations_s, seeds, num_candidates, self.max_duration_s, self.sample_rate)
        import torch

        negative = self.options["negative_prompt"] if negative_prompt is None else negative_prompt
        lengths = [math.ceil(n / self._bucket) * self._bucket for n in need]
        clap = (self.pipe.text_encoder, self.pipe.tokenizer, self.pipe.feature_extractor)  # the pipeline's own CLAP
        return generate_in_groups(
            self, prompts, seeds, need, lengths, num_candidates,
            call=lambda idx, sds, length: self._call(torch, [prompts[i] for i in idx], sds, length, negative),
            rank=lambda prompt, cands: clap_scores(clap, self.device, self.sample_rate, prompt, cands),
        )

    def _call(self, torch, prompts: list[str], seeds: list[int], length: int, negative: str | None) -> np.ndarray:
        """Run the pipeline once: ``(len(prompts), >= length)`` float32 waveforms."""
        generators = [torch.Generator("cpu").manual_seed(s) for s in seeds]
        try:
            out = self.pipe(
                prompt=list(prompts),
                audio_length_in_s=(length + 0.5) / self.sample_rate,
                num_inference_steps=self.options["steps"],
                guidance_scale=self.options["guidance_scale"],
                negative_prompt=[negative] * len(prompts) if negative else None,
                num_waveforms_per_prompt=1,
                generator=generators,
                output_type="np",
            )
            audio = np.asarray(out.audios, dtype=np.float32)
        except (RuntimeError, ValueError) as exc:
            raise BackendError(f"audioldm2 pipeline failed: {str(exc).strip().splitlines()[0]}") from None
        finally:
            free_memory(torch, self.device)  # the pipeline's activations go back to the device between batches
        audio = audio.reshape(len(prompts), -1)
        if audio.shape[1] < length:
            raise BackendError(f"audioldm2 returned {audio.shape[1]} samples, fewer than the {length} asked for")
        return audio
