"""Stable Audio 3 text-to-audio and inpainting through ``diffusers.StableAudio3Pipeline`` (44.1 kHz stereo).

Everything about this model lives here: loading (hub id ``stabilityai/stable-audio-3-medium`` or a local
pipeline folder), device and dtype, steps, batching, seeds, candidate ranking, continuation by inpainting
(``StableAudio3InpaintPipeline`` built from the same components, no second copy of the weights) and its
quirks:

- Length: the SAME autoencoder makes one latent frame per ``vae.downsampling_ratio`` samples and the
  pipeline trims the decoded audio to ``int(duration * sr)``. ``duration`` is also conditioning (a
  duration token and the AdaLN input), so we ask for the clip rounded up to ``bucket_s`` (0.5 s by default:
  prompts of close lengths share one call, the pipeline takes one ``duration`` per call), as
  ``(samples + 0.5) / sr`` seconds so the ``int()`` lands exactly, and trim to ``to_samples(duration_s,
  sr)`` ourselves. The DiT has rotary positions (no fixed window); ``max_duration_s`` (default 120 s, at
  most the duration embedder's ``max_val``) bounds one call.
- Sampling: the checkpoint's ``FlowMatchEulerDiscreteScheduler``; with ``stochastic_sampling`` (the
  distilled model) 8 ping-pong steps, re-noising from the generators at each step; the base model 100
  Euler steps. ``steps`` None leaves that choice to the pipeline. ``guidance_scale`` 1.0 (off) fits the
  distilled model, whose guidance is baked in.
- Seeds: candidate ``k`` of a prompt with seed ``s`` uses ``(s + k * 1_000_003) % 2**63`` through its own
  CPU ``torch.Generator`` (start noise and every re-noise), and prompts are padded to a fixed token length,
  so a clip does not depend on its batch neighbours (up to float rounding).
- Candidates: no CLAP of its own. ``num_candidates > 1`` needs the ``clap_model`` option (hub id or a
  folder with ``ClapModel``, tokenizer and ``ClapFeatureExtractor``); without it nothing ranks, and asking
  for candidates is an InputError rather than a silent "first one wins".
- Continuation (:meth:`continue_bed`): the previous audio's tail (``context_s``, rounded down to whole
  latent frames so the mask edge falls on a frame edge) is the preserved region of an inpainting window,
  the new audio the masked rest. The model re-synthesises the preserved region as well; its level there
  against the real tail calibrates the continuation's gain (bounded to +-12 dB), and the last ``join_s``
  of the real tail is crossfaded into the model's version, so the join lies inside audio the model made
  continuous.
"""
from __future__ import annotations

import math

import numpy as np

from ...errors import BackendError, InputError
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

__all__ = ["StableAudio3"]

_DEFAULTS = {
    "model": "stabilityai/stable-audio-3-medium",
    "dtype": None,  # float16 on cuda, float32 on cpu; "bfloat16"/"float32" allowed
    "steps": None,  # the pipeline's: 8 for the distilled (stochastic) scheduler, 100 otherwise
    "guidance_scale": 1.0,  # the distilled model has guidance baked in; > 1 for the base model
    "negative_prompt": None,  # used only with guidance_scale > 1
    "batch_size": 4,  # waveforms (prompts x candidates) per pipeline call
    "bucket_s": 0.5,  # lengths rounded up to a multiple of this so prompts share a call; 0 = one latent frame
    "max_duration_s": 120.0,
    "context_s": 5.0,  # audio before a continuation shown to the inpainting model
    "join_s": 0.05,  # crossfade from the real tail into the model's version of it
    "clap_model": None,  # CLAP for ranking candidates (hub id or folder)
    "compile": False,  # torch.compile the DiT (GPU, long runs)
    "local_files_only": False,
}
MAX_GAIN_DB = 12.0


class StableAudio3:
    """Stable Audio 3 backend (see the module docstring for its rules).

    Parameters
    ----------
    device : str
        ``"cpu"``, ``"cuda"``, ``"cuda:N"``, ``"mps"``.
    **options
        ``model`` (hub id or folder), ``dtype``, ``steps``, ``guidance_scale``, ``negative_prompt``,
        ``batch_size``, ``bucket_s``, ``max_duration_s``, ``context_s``, ``join_s``, ``clap_model``,
        ``compile``, ``local_files_only``.
    """

    name = "stable-audio-3"
    OPTIONS = _DEFAULTS  # what **options may hold (checked when a config is built)

    def __init__(self, *, device: str = "cpu", **options):
        unknown = sorted(set(options) - set(_DEFAULTS))
        if unknown:
            raise BackendError(
                f"stable-audio-3: unknown option(s) {', '.join(unknown)} (allowed: {', '.join(_DEFAULTS)})"
            )
        opts = {**_DEFAULTS, **options}
        steps = opts["steps"]
        if steps is not None and (not isinstance(steps, int) or isinstance(steps, bool) or steps < 1):
            raise BackendError(f"stable-audio-3: steps {steps!r} must be an integer >= 1 (or null)")
        if not isinstance(opts["batch_size"], int) or opts["batch_size"] < 1:
            raise BackendError(f"stable-audio-3: batch_size {opts['batch_size']!r} must be an integer >= 1")
        for key in ("bucket_s", "context_s", "join_s"):
            if not (isinstance(opts[key], (int, float)) and opts[key] >= 0):
                raise BackendError(f"stable-audio-3: {key} {opts[key]!r} must be a number of seconds >= 0")
        if not (isinstance(opts["max_duration_s"], (int, float)) and opts["max_duration_s"] > 0):
            raise BackendError(f"stable-audio-3: max_duration_s {opts['max_duration_s']!r} must be > 0")
        self.options = opts
        torch = import_torch()
        self.device = check_device(torch, device)
        self.dtype = pick_dtype(opts["dtype"], self.device)
        self.pipe = self._load(torch)
        self.sample_rate = int(self.pipe.vae.config.sampling_rate)
        self.channels = int(self.pipe.vae.config.audio_channels)
        self._unit = int(self.pipe.vae.downsampling_ratio)  # samples per latent frame
        self.max_duration_s = float(min(opts["max_duration_s"], self.pipe.duration_embedder.config.max_val))
        self._bucket = self._unit * max(1, round(opts["bucket_s"] * self.sample_rate / self._unit))
        self.context_s = float(opts["context_s"])
        # longest continuation one inpainting call makes after a full context (the window holds both)
        self.max_continue_s = self.max_duration_s - self.context_s
        if self.max_continue_s <= 0:
            raise BackendError(f"stable-audio-3: context_s {self.context_s} must be below max_duration_s {self.max_duration_s}")
        self._inpaint = None
        self._clap = load_clap(self.name, opts["clap_model"], self.device, opts["local_files_only"]) if opts["clap_model"] else None

    # -- loading -------------------------------------------------------------------------------------
    def _load(self, torch):
        try:
            import diffusers
        except ImportError:
            raise BackendError("stable-audio-3 needs diffusers >= 0.42 and transformers: "
                               "pip install 'diffusers>=0.42' transformers") from None
        if not hasattr(diffusers, "StableAudio3Pipeline"):
            raise BackendError(f"stable-audio-3 needs diffusers >= 0.42 (found {diffusers.__version__}): "
                               "pip install -U diffusers")
        if isinstance(self.options["model"], diffusers.StableAudio3Pipeline):  # built by the caller (benchmarks)
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
            pipe = diffusers.StableAudio3Pipeline.from_pretrained(
                source, torch_dtype=getattr(torch, self.dtype), local_files_only=self.options["local_files_only"]
            )
        except Exception as exc:  # noqa: BLE001 - hub, disk and config errors all become one line
            raise BackendError(f"stable-audio-3: cannot load model {self.options['model']!r}: {first_line(exc)}") from None
        return pipe

    def _inpaint_pipe(self):
        if self._inpaint is None:
            from diffusers import StableAudio3InpaintPipeline

            if int(self.pipe.transformer.config.local_add_cond_dim) != 1 + int(self.pipe.vae.config.latent_dim):
                raise BackendError("stable-audio-3: this checkpoint's DiT has no inpainting input "
                                   "(local_add_cond_dim != 1 + latent_dim); continuation needs one that has")
            self._inpaint = StableAudio3InpaintPipeline(**self.pipe.components)
            self._inpaint.set_progress_bar_config(disable=True)
        return self._inpaint

    def info(self) -> dict:
        """Provenance: name, model, versions, device, dtype, scheduler, steps, guidance and options."""
        import diffusers
        import torch

        scheduler = self.pipe.scheduler
        steps = self.options["steps"] or (8 if scheduler.config.get("stochastic_sampling") else 100)
        return {
            "name": self.name,
            "model": model_name(self.options["model"]),
            "version": f"diffusers {diffusers.__version__}",
            "torch": torch.__version__,
            "device": self.device,
            "dtype": self.dtype,
            "scheduler": type(scheduler).__name__ + (" (stochastic)" if scheduler.config.get("stochastic_sampling") else ""),
            "steps": steps,
            "guidance": self.options["guidance_scale"],
            "negative_prompt": self.options["negative_prompt"],
            "sample_rate": self.sample_rate,
            "channels": self.channels,
            "max_duration_s": self.max_duration_s,
            "batch_size": self.options["batch_size"],
            "bucket_s": self.options["bucket_s"],
            "context_s": self.options["context_s"],
            "join_s": self.options["join_s"],
            "ranker": f"clap:{self.options['clap_model']}" if self._clap else None,
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
        """One clip per prompt, each exactly ``to_samples(duration_s, sample_rate)`` samples long (stereo).

        Parameters
        ----------
        prompts : list of str
        durations_s : list of float
            Each in ``(0, max_duration_s]``.
        seeds : list of int
        negative_prompt : str, optional
            Overrides the ``negative_prompt`` option (used only when ``guidance_scale > 1``).
        num_candidates : int
            > 1 needs the ``clap_model`` option.

        Returns
        -------
        list of dict
            ``{"wav": float32 (channels, n), "seed", "score", "candidates", "silent"}`` per prompt.
        """
        need = check_request(prompts, durations_s, seeds, num_candidates, self.max_duration_s, self.sample_rate)
        require_ranker(self.name, num_candidates, self._clap)
        import torch

        negative = self.options["negative_prompt"] if negative_prompt is None else negative_prompt
        lengths = [math.ceil(n / self._bucket) * self._bucket for n in need]
        return generate_in_groups(
            self, prompts, seeds, need, lengths, num_candidates,
            call=lambda idx, sds, length: self._call(torch, [prompts[i] for i in idx], sds, length, negative),
            rank=lambda prompt, cands: clap_scores(self._clap, self.device, self.sample_rate, prompt, cands),
        )

    def _call(self, torch, prompts, seeds, length, negative) -> np.ndarray:
        """Run the text-to-audio pipeline once: ``(len(prompts), channels, >= length)`` float32."""
        generators = [torch.Generator("cpu").manual_seed(s) for s in seeds]
        guided = self.options["guidance_scale"] > 1.0
        try:
            out = self.pipe(
                prompt=list(prompts), duration=(length + 0.5) / self.sample_rate,
                num_inference_steps=self.options["steps"], guidance_scale=self.options["guidance_scale"],
                negative_prompt=[negative] * len(prompts) if guided and negative else None,
                generator=generators, output_type="np",
            )
            audio = np.asarray(out.audios, dtype=np.float32)
        except (RuntimeError, ValueError) as exc:
            raise BackendError(f"stable-audio-3 pipeline failed: {first_line(exc)}") from None
        finally:
            free_memory(torch, self.device)
        if audio.ndim != 3 or audio.shape[0] != len(prompts) or audio.shape[2] < length:
            raise BackendError(f"stable-audio-3 returned shape {audio.shape}, expected ({len(prompts)}, channels, >= {length})")
        return audio

    # -- continuation by inpainting ------------------------------------------------------------------
    def continue_bed(self, prompt: str, prev_tail: np.ndarray, duration_s: float, *, seed: int) -> dict:
        """Audio that continues ``prev_tail`` for ``duration_s`` seconds, by inpainting after it.

        Parameters
        ----------
        prompt : str
            What the continuation sounds like (the previous prompt for an extension, the next shot's for a
            bed carried into the next shot).
        prev_tail : np.ndarray, shape (channels, n)
            The audio so far at ``sample_rate`` (its last ``context_s`` are used; mono is spread).
        duration_s : float
            Length of the new audio, in ``(0, max_duration_s - context_s]``.
        seed : int

        Returns
        -------
        dict
            ``{"wav": float32 (channels, to_samples(duration_s, sr)), "lead": float32 (channels, j),
            "gain_db", "context_samples", "seed"}``: ``lead`` replaces the last ``j`` samples of
            ``prev_tail`` (the real tail crossfaded into the model's version of it, ``j`` = ``join_s``),
            then ``wav`` follows. ``gain_db`` is the calibration applied (model's context level vs the real).
        """
        import torch

        tail = np.asarray(prev_tail, dtype=np.float32)
        if tail.ndim != 2 or tail.shape[1] == 0 or not np.isfinite(tail).all():
            raise InputError("continue_bed: prev_tail must be finite (channels, samples) audio with samples > 0")
        if tail.shape[0] == 1 and self.channels > 1:
            tail = np.repeat(tail, self.channels, axis=0)
        if tail.shape[0] != self.channels:
            raise InputError(f"continue_bed: prev_tail has {tail.shape[0]} channels, the model makes {self.channels}")
        ctx = min(tail.shape[1], math.floor(self.context_s * self.sample_rate)) // self._unit * self._unit
        if ctx == 0:
            raise InputError(f"continue_bed: prev_tail is shorter than one latent frame ({self._unit} samples)")
        room = self.max_duration_s - ctx / self.sample_rate
        need = check_request([prompt], [duration_s], [seed], 1, room, self.sample_rate)[0]
        length = ctx + math.ceil(need / self._unit) * self._unit
        ref = np.zeros((1, self.channels, length), np.float32)
        ref[0, :, :ctx] = tail[:, -ctx:]
        mask = torch.ones(1, 1, length // self._unit)
        mask[:, :, ctx // self._unit:] = 0.0
        pipe = self._inpaint_pipe()
        try:
            out = pipe(
                prompt=[prompt], duration=(length + 0.5) / self.sample_rate,
                audio=torch.from_numpy(ref).to(self.device), mask=mask,
                num_inference_steps=self.options["steps"],
                generator=[torch.Generator("cpu").manual_seed(int(seed))], output_type="np",
            )
            audio = np.asarray(out.audios, dtype=np.float32)[0]
        except (RuntimeError, ValueError) as exc:
            raise BackendError(f"stable-audio-3 inpainting failed: {first_line(exc)}") from None
        finally:
            free_memory(torch, self.device)
        _check_finite(audio[None], self, prompt, seed)
        if audio.shape[1] < ctx + need:
            raise BackendError(f"stable-audio-3 inpainting returned {audio.shape[1]} samples, fewer than {ctx + need}")
        real, model = tail[:, -ctx:], audio[:, :ctx]
        gain_db = 20 * math.log10(max(_rms(real), 1e-9) / max(_rms(model), 1e-9))
        gain_db = float(np.clip(gain_db, -MAX_GAIN_DB, MAX_GAIN_DB))
        gain = np.float32(10 ** (gain_db / 20))
        j = min(ctx, to_samples(self.options["join_s"], self.sample_rate))
        ramp = ((np.arange(j) + 0.5) / max(j, 1)).astype(np.float32)
        lead = real[:, ctx - j:] * (1 - ramp) + model[:, ctx - j:] * gain * ramp
        return {"wav": np.ascontiguousarray(audio[:, ctx:ctx + need] * gain, dtype=np.float32),
                "lead": lead.astype(np.float32), "gain_db": gain_db, "context_samples": ctx, "seed": int(seed)}


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


def _check_finite(cands: np.ndarray, backend, prompt: str, seed) -> None:
    if not np.isfinite(cands).all():
        raise BackendError(f"{backend.name} returned NaN/inf for prompt {prompt!r} (seed {seed}, dtype "
                           f"{backend.dtype}); try dtype='float32' or 'bfloat16'")
