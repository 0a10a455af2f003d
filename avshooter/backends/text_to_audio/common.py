"""Checks shared by the diffusers text-to-audio backends: torch import, device, dtype, model path, request,
and their GPU habits (optional ``torch.compile``, memory handed back between batches).

Each backend file keeps all knowledge of its own model; what is here is model-agnostic and was the same,
line for line, in each of them.
"""
from __future__ import annotations

import math
import os

import numpy as np

from ...errors import BackendError, InputError
from ...units import to_samples

__all__ = ["import_torch", "check_device", "pick_dtype", "looks_like_path", "check_request", "maybe_compile",
           "free_memory", "candidate_seed", "model_name", "CANDIDATE_SEED_STRIDE"]

CANDIDATE_SEED_STRIDE = 1_000_003

_DTYPES = {"float16": "float16", "fp16": "float16", "bfloat16": "bfloat16", "bf16": "bfloat16",
           "float32": "float32", "fp32": "float32"}


def import_torch():
    try:
        import torch
    except ImportError:
        raise BackendError("this text-to-audio backend needs torch: pip install torch diffusers transformers") from None
    return torch


def check_device(torch, device: str) -> str:
    device = str(device)
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise BackendError(f"device {device!r} is not available (torch.cuda.is_available() is False)")
    elif device == "mps":
        if not torch.backends.mps.is_available():
            raise BackendError("device 'mps' is not available (torch.backends.mps.is_available() is False)")
    elif device != "cpu":
        raise BackendError(f"device {device!r} is not one of cpu, cuda, cuda:N, mps")
    return device


def pick_dtype(dtype, device: str) -> str:
    if dtype is None:
        return "float16" if device.startswith("cuda") else "float32"
    name = _DTYPES.get(str(dtype).replace("torch.", ""))
    if name is None:
        raise BackendError(f"dtype {dtype!r} is not one of float32, float16, bfloat16")
    if name == "float16" and device == "cpu":
        raise BackendError("dtype 'float16' needs a GPU; use float32 or bfloat16 on cpu")
    return name


def model_name(model) -> str:
    """The ``model`` option as provenance: a hub id or folder as given, ``<in-memory Class>`` for a built
    pipeline (the diffusers backends accept one: benchmarks build full-size architectures without a disk copy)."""
    if isinstance(model, (str, os.PathLike)):
        return str(model)
    return f"<in-memory {type(model).__name__}>"


def looks_like_path(model: str) -> bool:
    return model.startswith(("/", "./", "../", "~")) or "\\" in model or model.count("/") > 1


def check_request(prompts, durations_s, seeds, num_candidates, max_duration_s, sample_rate) -> list[int]:
    """Validate a generate() request; returns the exact sample count of each clip."""
    if not isinstance(prompts, (list, tuple)) or not prompts:
        raise InputError("prompts must be a non-empty list of strings")
    if len(durations_s) != len(prompts) or len(seeds) != len(prompts):
        raise InputError(
            f"{len(prompts)} prompts need as many durations_s and seeds (got {len(durations_s)} and {len(seeds)})"
        )
    if not isinstance(num_candidates, int) or isinstance(num_candidates, bool) or num_candidates < 1:
        raise InputError(f"num_candidates {num_candidates!r} must be an integer >= 1")
    need = []
    for i, (prompt, duration, seed) in enumerate(zip(prompts, durations_s, seeds)):
        if not isinstance(prompt, str) or not prompt.strip():
            raise InputError(f"prompt {i} is empty ({prompt!r}): every clip needs a description")
        if not isinstance(duration, (int, float)) or not math.isfinite(duration) or duration <= 0:
            raise InputError(f"prompt {i}: duration_s {duration!r} must be a finite number of seconds > 0")
        if duration > max_duration_s:
            raise InputError(
                f"prompt {i}: duration_s {duration} is above this backend's max_duration_s {max_duration_s} "
                "(cut the shot into chunks)"
            )
        if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or not 0 <= seed < 2**63:
            raise InputError(f"prompt {i}: seed {seed!r} must be an integer in [0, 2**63)")
        n = to_samples(duration, sample_rate)
        if n < 1:
            raise InputError(f"prompt {i}: duration_s {duration} is shorter than one sample at {sample_rate} Hz")
        need.append(n)
    return need


def candidate_seed(seed: int, k: int) -> int:
    """Seed of candidate ``k`` of a prompt whose seed is ``seed`` (candidate 0 is the seed itself)."""
    return (int(seed) + k * CANDIDATE_SEED_STRIDE) % 2**63


def maybe_compile(torch, module, enabled: bool, *, what: str):
    """``torch.compile(module)`` when ``enabled`` (the denoiser: it runs ``steps`` times per call), else ``module``.

    Compilation happens lazily at the first call; on a GPU it pays off after a few calls of the same shape,
    so keep ``bucket_s`` > 0 (few distinct lengths) when compiling.
    """
    if not enabled:
        return module
    if not hasattr(torch, "compile"):
        raise BackendError(f"{what}: compile=true needs torch >= 2.0 (found {torch.__version__})")
    return torch.compile(module)


def free_memory(torch, device: str) -> None:
    """Hand cached accelerator memory back after a batch (``torch.cuda.empty_cache`` on cuda, ``mps`` likewise)."""
    if device.startswith("cuda"):
        torch.cuda.empty_cache()
    elif device == "mps":
        torch.mps.empty_cache()
