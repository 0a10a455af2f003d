"""TangoFlux checkpoints into current diffusers / transformers classes, with a strict weight mapping.

TangoFlux (declare-lab/TangoFlux, arXiv 2412.21037) publishes a folder with ``config.json`` (its model
keys: ``num_layers``, ``num_single_layers``, ``in_channels``, ``attention_head_dim``,
``joint_attention_dim``, ``num_attention_heads``, ``audio_seq_len``, ``max_duration``, ``uncondition``,
``text_encoder_name``), ``tangoflux.safetensors`` (the state dict of its ``TangoFlux`` module) and
``vae.safetensors`` (Stable Audio Open's ``AutoencoderOobleck`` with default arguments). Its own package
pins torch 2.4 / diffusers 0.30; we read those files with today's classes:

============================================  ====================================================
checkpoint key prefix                          module here
============================================  ====================================================
``transformer.``                               ``diffusers.FluxTransformer2DModel`` (same key names;
                                               ``pooled_projection_dim`` = T5 width, no guidance embed)
``text_encoder.``                              ``transformers.T5EncoderModel`` (config and tokenizer from
                                               ``text_encoder_name``; ``encoder.embed_tokens`` is tied
                                               to ``shared`` and absent from the file)
``fc.0.``                                      ``torch.nn.Linear`` (T5 width -> joint dim, then ReLU):
                                               pooled text -> Flux ``pooled_projections``
``duration_emebdder.`` (sic)                   ``diffusers...StableAudioNumberConditioner(T5 width, 0,
                                               max_duration, internal_dim=256)``: the same Fourier +
                                               Linear layers under the same sub-key names
``vae.safetensors``                            ``diffusers.AutoencoderOobleck`` (defaults, or the
                                               arguments in an optional ``vae_config.json``)
============================================  ====================================================

Any key outside those prefixes, any key a module does not have, any weight a module expects that the file
lacks, and any shape mismatch is a :class:`~avshooter.errors.BackendError` naming the keys: nothing is
loaded half.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

from ...errors import BackendError

log = logging.getLogger("avshooter")

__all__ = ["CONFIG_KEYS", "read_config", "build_modules", "load_checkpoint", "strict_load"]

CONFIG_KEYS = {"num_layers", "num_single_layers", "in_channels", "attention_head_dim", "joint_attention_dim",
               "num_attention_heads", "audio_seq_len", "max_duration", "uncondition", "text_encoder_name"}
# ours, optional: Flux's rotary split (TangoFlux uses diffusers' default (16, 56, 56), which sums to 128)
EXTRA_KEYS = {"axes_dims_rope"}
DURATION_INTERNAL_DIM = 256  # TangoFlux's DurationEmbedder(internal_dim=256)
TIED = {"text_encoder": {"encoder.embed_tokens.weight"}}  # tied to shared.weight, not in the file
PREFIXES = (("transformer.", "transformer"), ("text_encoder.", "text_encoder"), ("fc.0.", "fc"),
            ("duration_emebdder.", "duration"))


def read_config(folder: Path) -> dict:
    """``config.json`` of a TangoFlux folder, with every architecture key present."""
    path = Path(folder) / "config.json"
    try:
        config = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise BackendError(f"tangoflux: cannot read {path}: {exc}") from None
    missing = sorted(CONFIG_KEYS - {"uncondition"} - set(config))
    if missing:
        raise BackendError(f"tangoflux: {path} lacks {', '.join(missing)} (a TangoFlux config.json has them)")
    unknown = sorted(set(config) - CONFIG_KEYS - EXTRA_KEYS)
    if unknown:
        log.warning("tangoflux: %s: ignoring keys %s (not part of the model's architecture)", path, unknown)
    return config


def build_modules(config: dict, text_config, vae_args: dict | None):
    """Empty (random) modules of the checkpoint's architecture: ``{name: module}``."""
    from diffusers import AutoencoderOobleck, FluxTransformer2DModel
    from diffusers.pipelines.stable_audio.modeling_stable_audio import (
        StableAudioNumberConditioner,
    )
    from torch import nn
    from transformers import T5EncoderModel

    width = int(text_config.d_model)
    if int(config["joint_attention_dim"]) != width:
        # the duration token (T5 width) joins the text states that Flux projects from joint_attention_dim
        raise BackendError(f"tangoflux: joint_attention_dim {config['joint_attention_dim']} must equal the T5 width "
                           f"d_model {width} (flan-t5-large: 1024)")
    flux = {"in_channels": int(config["in_channels"]), "num_layers": int(config["num_layers"]),
            "num_single_layers": int(config["num_single_layers"]),
            "attention_head_dim": int(config["attention_head_dim"]),
            "num_attention_heads": int(config["num_attention_heads"]),
            "joint_attention_dim": int(config["joint_attention_dim"]), "pooled_projection_dim": width,
            "guidance_embeds": False}
    if "axes_dims_rope" in config:
        flux["axes_dims_rope"] = tuple(int(a) for a in config["axes_dims_rope"])
    try:
        return {
            "transformer": FluxTransformer2DModel(**flux),
            "text_encoder": T5EncoderModel(text_config),
            "fc": nn.Linear(width, int(config["joint_attention_dim"])),
            "duration": StableAudioNumberConditioner(width, 0, float(config["max_duration"]),
                                                     internal_dim=DURATION_INTERNAL_DIM),
            "vae": AutoencoderOobleck(**(vae_args or {})),
        }
    except (TypeError, ValueError, AssertionError) as exc:
        raise BackendError(f"tangoflux: config does not describe a buildable model: {exc}") from None


def strict_load(module, state: dict, *, name: str, tied: set[str] = frozenset()) -> None:
    """Load ``state`` into ``module``; any missing, unexpected or mis-shaped weight is a BackendError."""
    own = module.state_dict()
    missing = sorted(set(own) - set(state) - set(tied))
    unexpected = sorted(set(state) - set(own))
    shapes = sorted(k for k in set(own) & set(state) if tuple(own[k].shape) != tuple(state[k].shape))
    problems = []
    for label, keys in (("missing", missing), ("unexpected", unexpected), ("wrong shape", shapes)):
        if keys:
            shown = ", ".join(keys[:4]) + (f" (+{len(keys) - 4} more)" if len(keys) > 4 else "")
            problems.append(f"{len(keys)} {label}: {shown}")
    if problems:
        raise BackendError(f"tangoflux: checkpoint does not match {name}: " + "; ".join(problems))
    module.load_state_dict(state, strict=not tied)


def load_checkpoint(folder: Path, modules: dict) -> None:
    """Fill ``modules`` (from :func:`build_modules`) from ``tangoflux.safetensors`` and ``vae.safetensors``."""
    from safetensors.torch import load_file

    folder = Path(folder)
    try:
        weights = load_file(str(folder / "tangoflux.safetensors"))
        vae = load_file(str(folder / "vae.safetensors"))
    except Exception as exc:  # noqa: BLE001 - missing file, truncated file, not safetensors
        raise BackendError(f"tangoflux: cannot read the checkpoint in {folder}: {str(exc).splitlines()[0]}") from None
    parts: dict[str, dict] = {name: {} for _, name in PREFIXES}
    stray = []
    for key, tensor in weights.items():
        for prefix, name in PREFIXES:
            if key.startswith(prefix):
                parts[name][key[len(prefix):]] = tensor
                break
        else:
            stray.append(key)
    if stray:
        shown = ", ".join(sorted(stray)[:4]) + (f" (+{len(stray) - 4} more)" if len(stray) > 4 else "")
        raise BackendError(f"tangoflux: {len(stray)} unexpected key(s) in tangoflux.safetensors: {shown}")
    for name in ("transformer", "text_encoder", "fc", "duration"):
        strict_load(modules[name], parts[name], name=name, tied=TIED.get(name, frozenset()))
    strict_load(modules["vae"], vae, name="vae (vae.safetensors)")
    if "text_encoder" in TIED:  # the tied embedding follows shared.weight
        modules["text_encoder"].tie_weights()
