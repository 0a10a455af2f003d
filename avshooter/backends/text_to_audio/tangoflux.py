"""TangoFlux text-to-audio (the model AnimeShooterGen used) on current diffusers classes (44.1 kHz stereo).

TangoFlux's own package pins torch 2.4 / diffusers 0.30; here its published checkpoint (hub id
``declare-lab/TangoFlux`` or a local folder with ``config.json``, ``tangoflux.safetensors``,
``vae.safetensors``) is loaded by :mod:`.tangoflux_weights` into ``FluxTransformer2DModel``,
``T5EncoderModel`` and ``AutoencoderOobleck`` with a strict mapping, and sampled here as its reference
``inference_flow`` does:

- Conditioning: T5 (``text_encoder_name``, flan-t5-large; its config and tokenizer come from that hub id
  or folder, its weights from the checkpoint), prompts cut at the tokenizer's limit (512) with guidance and
  at 64 tokens without (as the reference's two paths), padded to the longest prompt of the call;
  the mean of the valid token states through ``fc`` + ReLU is Flux's pooled projection; the duration in
  seconds (0 .. ``max_duration``) is one more token after the text. Guidance (default 4.5) runs the
  empty prompt as the unconditional half.
- Sampling: Euler flow matching (``FlowMatchEulerDiscreteScheduler``, 1000 training steps, sigmas
  ``linspace(1, 1/steps, steps)``, the timestep given to Flux divided by 1000), 25 steps by default as
  the reference's ``generate``; text ids zero, audio ids ``arange`` on all three rotary axes.
- Length: the DiT always denoises its whole window (``audio_seq_len`` latent frames of ``vae.hop_length``
  samples: 645 x 2048 = 29.95 s) and the duration token tells it where to end; we trim to
  ``to_samples(duration_s, sr)``. Prompts of any lengths share a call (``batch_size`` per call); the
  window bounds ``max_duration_s``.
- Seeds: candidate ``k`` of seed ``s`` uses ``(s + k * 1_000_003) % 2**63`` through its own CPU
  generator (the reference seeds torch's global generator instead, so the same seed does not give the
  reference's audio). Flux has no text mask: a prompt batched with longer prompts sees their padding, so
  a clip equals its single-prompt version only when the prompts of its call have the same token count.
- Candidates: ``num_candidates > 1`` needs ``clap_model`` (nothing else ranks).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from ...errors import BackendError, InputError
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
    looks_like_path,
    maybe_compile,
    model_name,
    model_source,
    pick_dtype,
    require_ranker,
)

__all__ = ["TangoFlux"]

_DEFAULTS = {
    "model": "declare-lab/TangoFlux",
    "text_encoder": None,  # config + tokenizer of T5: default the checkpoint's text_encoder_name
    "dtype": None,  # float16 on cuda, float32 on cpu; "bfloat16"/"float32" allowed
    "steps": 25,
    "guidance_scale": 4.5,
    "batch_size": 4,  # waveforms (prompts x candidates) per call
    "clap_model": None,
    "compile": False,  # torch.compile the Flux transformer
    "local_files_only": False,
}
MAX_TEXT_TOKENS = 64


class TangoFlux:
    """TangoFlux backend (see the module docstring for its rules).

    Parameters
    ----------
    device : str
    **options
        ``model`` (hub id or folder), ``text_encoder``, ``dtype``, ``steps``, ``guidance_scale``,
        ``batch_size``, ``clap_model``, ``compile``, ``local_files_only``.
    """

    name = "tangoflux"
    OPTIONS = _DEFAULTS  # what **options may hold (checked when a config is built)

    def __init__(self, *, device: str = "cpu", **options):
        unknown = sorted(set(options) - set(_DEFAULTS))
        if unknown:
            raise BackendError(f"tangoflux: unknown option(s) {', '.join(unknown)} (allowed: {', '.join(_DEFAULTS)})")
        opts = {**_DEFAULTS, **options}
        if not isinstance(opts["steps"], int) or isinstance(opts["steps"], bool) or opts["steps"] < 1:
            raise BackendError(f"tangoflux: steps {opts['steps']!r} must be an integer >= 1")
        if not isinstance(opts["batch_size"], int) or opts["batch_size"] < 1:
            raise BackendError(f"tangoflux: batch_size {opts['batch_size']!r} must be an integer >= 1")
        self.options = opts
        torch = import_torch()
        self.device = check_device(torch, device)
        self.dtype = pick_dtype(opts["dtype"], self.device)
        self._load(torch)
        self.sample_rate = int(self.vae.config.sampling_rate)
        self.channels = int(self.vae.config.audio_channels)
        self._seq_len = int(self.config["audio_seq_len"])
        window_s = self._seq_len * int(self.vae.hop_length) / self.sample_rate
        self.max_duration_s = float(min(window_s, float(self.config["max_duration"])))
        self._clap = load_clap(self.name, opts["clap_model"], self.device, opts["local_files_only"]) if opts["clap_model"] else None

    # -- loading -------------------------------------------------------------------------------------
    def _load(self, torch):
        try:
            import diffusers  # noqa: F401
            from transformers import AutoTokenizer, T5Config
        except ImportError:
            raise BackendError("tangoflux needs diffusers and transformers: pip install diffusers transformers") from None
        from .tangoflux_weights import build_modules, load_checkpoint, read_config

        if isinstance(self.options["model"], dict):  # built in memory (benchmarks): config, tokenizer, modules
            built = self.options["model"]
            self.config, self.tokenizer, self.folder = built["config"], built["tokenizer"], None
            return self._adopt(torch, built["modules"])
        folder = self._folder()
        self.config = read_config(folder)
        text_source = model_source(self.options["text_encoder"] or self.config["text_encoder_name"], "text_encoder", self.name)
        local = self.options["local_files_only"]
        try:
            text_config = T5Config.from_pretrained(text_source, local_files_only=local)
            self.tokenizer = AutoTokenizer.from_pretrained(text_source, local_files_only=local)
        except Exception as exc:  # noqa: BLE001
            raise BackendError(f"tangoflux: cannot load the T5 config/tokenizer {text_source!r}: {first_line(exc)}") from None
        vae_args = None
        if (folder / "vae_config.json").is_file():
            vae_args = json.loads((folder / "vae_config.json").read_text())
        modules = build_modules(self.config, text_config, vae_args)
        load_checkpoint(folder, modules)
        self.folder = folder
        self._adopt(torch, modules)

    def _adopt(self, torch, modules: dict) -> None:
        dtype = getattr(torch, self.dtype)
        for module in modules.values():
            # plain nn.Module.to: diffusers' override warns about fp32-kept modules, of which these have none
            torch.nn.Module.to(module, device=self.device, dtype=dtype).eval()
        self.transformer = maybe_compile(torch, modules["transformer"], self.options["compile"], what=self.name)
        self.text_encoder, self.fc = modules["text_encoder"], modules["fc"]
        self.duration_embedder, self.vae = modules["duration"], modules["vae"]

    def _folder(self) -> Path:
        model = str(self.options["model"])
        path = Path(os.path.expanduser(model))
        if path.is_dir():
            return path
        if looks_like_path(model):
            raise BackendError(f"tangoflux: model folder {model!r} does not exist (give a folder or a hub id)")
        try:
            from huggingface_hub import snapshot_download

            return Path(snapshot_download(model, allow_patterns=["config.json", "*.safetensors"],
                                          local_files_only=self.options["local_files_only"]))
        except Exception as exc:  # noqa: BLE001
            raise BackendError(f"tangoflux: cannot get model {model!r}: {first_line(exc)}") from None

    def info(self) -> dict:
        """Provenance: names TangoFlux, its checkpoint and the classes it was mapped into."""
        import diffusers
        import torch

        return {
            "name": self.name,
            "model": model_name(self.options["model"]),
            "weights": "TangoFlux checkpoint (declare-lab/TangoFlux layout: tangoflux.safetensors + vae.safetensors), "
                       "strict mapping into diffusers FluxTransformer2DModel + AutoencoderOobleck, transformers T5EncoderModel",
            "checkpoint_bytes": None if self.folder is None else {
                f: (self.folder / f).stat().st_size for f in ("tangoflux.safetensors", "vae.safetensors")},
            "text_encoder": str(self.options["text_encoder"] or self.config.get("text_encoder_name")),
            "version": f"diffusers {diffusers.__version__}",
            "torch": torch.__version__,
            "device": self.device,
            "dtype": self.dtype,
            "scheduler": "FlowMatchEulerDiscreteScheduler",
            "steps": self.options["steps"],
            "guidance": self.options["guidance_scale"],
            "sample_rate": self.sample_rate,
            "channels": self.channels,
            "max_duration_s": self.max_duration_s,
            "batch_size": self.options["batch_size"],
            "ranker": f"clap:{self.options['clap_model']}" if self._clap else None,
            "compile": bool(self.options["compile"]),
            "candidate_seed_stride": CANDIDATE_SEED_STRIDE,
        }

    # -- generation ----------------------------------------------------------------------------------
    def generate(self, prompts: list[str], durations_s: list[float], *, seeds: list[int],
                 negative_prompt: str | None = None, num_candidates: int = 1) -> list[dict]:
        """One clip per prompt, each exactly ``to_samples(duration_s, 44100)`` samples long (stereo).

        ``negative_prompt`` is accepted for the common interface and must be empty: TangoFlux's
        unconditional half is the empty prompt. Returns ``{"wav", "seed", "score", "candidates",
        "silent"}`` per prompt, as every backend.
        """
        need = check_request(prompts, durations_s, seeds, num_candidates, self.max_duration_s, self.sample_rate)
        if negative_prompt:
            raise InputError("tangoflux has no negative prompt (its guidance contrasts with the empty prompt)")
        require_ranker(self.name, num_candidates, self._clap)
        import torch

        return generate_in_groups(  # the DiT denoises its whole window: every prompt shares one length
            self, prompts, seeds, need, [self._seq_len] * len(prompts), num_candidates,
            call=lambda idx, sds, _: self._call(torch, [prompts[i] for i in idx], [float(durations_s[i]) for i in idx], sds),
            rank=lambda prompt, cands: clap_scores(self._clap, self.device, self.sample_rate, prompt, cands),
        )

    def _encode(self, torch, prompts: list[str], max_length: int | None = None, limit: int = MAX_TEXT_TOKENS):
        """T5 states ``(B, T, D)`` and the pooled projection ``(B, joint)`` (mean over valid tokens, fc, ReLU).

        Prompts are cut at ``limit`` tokens and padded to the longest (or to ``max_length``), as the reference.
        """
        kwargs = ({"padding": "max_length", "max_length": max_length} if max_length
                  else {"padding": True, "max_length": limit})
        batch = self.tokenizer(prompts, truncation=True, return_tensors="pt", **kwargs)
        ids, mask = batch.input_ids.to(self.device), batch.attention_mask.to(self.device)
        states = self.text_encoder(input_ids=ids, attention_mask=mask)[0]
        valid = mask.unsqueeze(-1).to(states.dtype)
        pooled = (states * valid).sum(1) / valid.sum(1).clamp(min=1)
        return states, torch.relu(self.fc(pooled))

    def _call(self, torch, prompts: list[str], durations: list[float], seeds: list[int]) -> np.ndarray:
        """Sample once: ``(len(prompts), channels, window)`` float32."""
        from diffusers import FlowMatchEulerDiscreteScheduler

        dtype = getattr(torch, self.dtype)
        guided = self.options["guidance_scale"] > 1.0
        try:
            with torch.no_grad():
                # the reference cuts at 64 tokens without guidance, at the tokenizer's limit with it
                limit = int(getattr(self.tokenizer, "model_max_length", MAX_TEXT_TOKENS)) if guided else MAX_TEXT_TOKENS
                states, pooled = self._encode(torch, prompts, limit=min(limit, 512))
                dur = self.duration_embedder(torch.tensor(durations, device=self.device)).to(dtype)
                if guided:
                    un_states, un_pooled = self._encode(torch, [""] * len(prompts), max_length=states.shape[1])
                    states, pooled = torch.cat([un_states, states]), torch.cat([un_pooled, pooled])
                    dur = torch.cat([dur, dur])
                context = torch.cat([states, dur], dim=1)
                width = int(self.config["in_channels"])
                latents = torch.stack([torch.randn(self._seq_len, width, generator=torch.Generator("cpu").manual_seed(s))
                                       for s in seeds]).to(self.device, dtype)
                txt_ids = torch.zeros(context.shape[1], 3, device=self.device)
                audio_ids = torch.arange(self._seq_len, device=self.device).unsqueeze(-1).repeat(1, 3).float()
                steps = self.options["steps"]
                scheduler = FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000)
                scheduler.set_timesteps(sigmas=np.linspace(1.0, 1 / steps, steps), device=self.device)
                for t in scheduler.timesteps:
                    x = torch.cat([latents, latents]) if guided else latents
                    pred = self.transformer(hidden_states=x, timestep=(t / 1000).expand(x.shape[0]).to(dtype),
                                            pooled_projections=pooled, encoder_hidden_states=context,
                                            txt_ids=txt_ids, img_ids=audio_ids, guidance=None, return_dict=False)[0]
                    if guided:
                        uncond, cond = pred.chunk(2)
                        pred = uncond + self.options["guidance_scale"] * (cond - uncond)
                    latents = scheduler.step(pred, t, latents).prev_sample
                audio = self.vae.decode(latents.transpose(2, 1)).sample.float().cpu().numpy()
        except (RuntimeError, ValueError) as exc:
            raise BackendError(f"tangoflux sampling failed: {first_line(exc)}") from None
        finally:
            free_memory(torch, self.device)
        if audio.ndim != 3 or audio.shape[0] != len(prompts):
            raise BackendError(f"tangoflux returned shape {audio.shape}, expected ({len(prompts)}, channels, samples)")
        return audio
