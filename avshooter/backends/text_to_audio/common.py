"""What the diffusers text-to-audio backends share: torch import, device, dtype, model path, request checks,
the batching loop (prompts grouped by length, candidates seeded and ranked by CLAP), and their GPU habits
(optional ``torch.compile``, memory handed back between batches).

Each backend file keeps all knowledge of its own model; what is here is model-agnostic and was the same,
line for line, in each of them.
"""
from __future__ import annotations

import math
import os

import numpy as np

from ...errors import BackendError, InputError
from ...units import to_samples

__all__ = ["import_torch", "check_device", "pick_dtype", "looks_like_path", "model_source", "first_line",
           "check_request", "require_ranker", "maybe_compile", "free_memory", "candidate_seed", "model_name",
           "load_clap", "clap_scores", "generate_in_groups", "CANDIDATE_SEED_STRIDE"]

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


def first_line(exc: Exception) -> str:
    """The first line of an exception's message (its class name when empty): errors stay one line."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def model_source(model, what: str, backend: str) -> str:
    """A local folder (expanded) or a hub id; a path-like name that is no folder is a BackendError."""
    model = str(model)
    path = os.path.expanduser(model)
    if os.path.isdir(path):
        return path
    if looks_like_path(model):
        raise BackendError(f"{backend}: {what} folder {model!r} does not exist (give a folder or a hub id)")
    return model


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


def require_ranker(backend: str, num_candidates: int, ranker) -> None:
    """Candidates without a ranker would be "the first one wins": an InputError instead."""
    if num_candidates > 1 and ranker is None:
        raise InputError(
            f"num_candidates={num_candidates} needs a CLAP ranker: set the {backend} option clap_model "
            "(e.g. 'laion/larger_clap_general' or a local folder); without it nothing ranks candidates"
        )


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


def load_clap(backend: str, clap_model, device: str, local_files_only: bool):
    """``(ClapModel, tokenizer, ClapFeatureExtractor)`` from a hub id or a folder, on ``device``, in eval mode."""
    from transformers import AutoTokenizer, ClapFeatureExtractor, ClapModel

    source = model_source(clap_model, "clap_model", backend)
    try:
        model = ClapModel.from_pretrained(source, local_files_only=local_files_only).to(device).eval()
        tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=local_files_only)
        fe = ClapFeatureExtractor.from_pretrained(source, local_files_only=local_files_only)
    except Exception as exc:  # noqa: BLE001 - hub, disk and config errors all become one line
        raise BackendError(f"{backend}: cannot load clap_model {clap_model!r}: {first_line(exc)}") from None
    return model, tokenizer, fe


def clap_scores(clap, device: str, sample_rate: int, prompt: str, wavs: np.ndarray) -> np.ndarray:
    """Cosine similarity of ``prompt`` with each waveform of ``wavs`` ``(k, n)`` or ``(k, channels, n)``
    (mono mix) by a CLAP ``(model, tokenizer, feature_extractor)``."""
    import torch

    from ...audio.resample import resample

    model, tokenizer, fe = clap
    wavs = np.asarray(wavs, dtype=np.float32)
    mono = wavs.mean(axis=1) if wavs.ndim == 3 else wavs
    resampled = [resample(m, sample_rate, fe.sampling_rate) for m in mono]
    feats = fe(resampled, return_tensors="pt", sampling_rate=fe.sampling_rate)
    text = tokenizer([prompt], return_tensors="pt", padding=True)
    kwargs = {"input_features": feats["input_features"].to(device, model.dtype)}
    if "is_longer" in feats:
        kwargs["is_longer"] = feats["is_longer"].to(device)
    with torch.no_grad():
        out = model(input_ids=text["input_ids"].to(device), attention_mask=text["attention_mask"].to(device), **kwargs)
    text_emb = torch.nn.functional.normalize(out.text_embeds.float(), dim=-1)
    audio_emb = torch.nn.functional.normalize(out.audio_embeds.float(), dim=-1)
    return (audio_emb @ text_emb[0]).cpu().numpy()


def generate_in_groups(backend, prompts, seeds, need, lengths, num_candidates, call, rank) -> list[dict]:
    """The batching loop of every diffusers backend: one clip per prompt, ``need[i]`` samples long.

    Prompts of the same call ``length`` share calls of at most ``backend.options["batch_size"]`` waveforms
    (prompts x candidates); candidate ``k`` of prompt ``i`` is seeded ``candidate_seed(seeds[i], k)``.
    ``call(indices, seeds, length)`` runs the model on the prompts ``indices`` (one entry per waveform) and
    returns ``(len(indices), n)`` or ``(len(indices), channels, n)`` float32 with ``n >= length``;
    ``rank(prompt, candidates)`` scores the candidates when there are several. NaN/inf from the model is a
    BackendError naming the prompt and the dtype. Returns ``{"wav" (channels, need[i]), "seed", "score",
    "candidates", "silent"}`` per prompt, ``seed`` regenerating the chosen candidate alone.
    """
    groups: dict[int, list[int]] = {}
    for i, length in enumerate(lengths):
        groups.setdefault(length, []).append(i)
    per_call = max(1, backend.options["batch_size"] // num_candidates)
    results: list[dict | None] = [None] * len(prompts)
    for length, members in groups.items():
        for start in range(0, len(members), per_call):
            chunk = members[start:start + per_call]
            flat_seeds = [candidate_seed(seeds[i], k) for i in chunk for k in range(num_candidates)]
            audio = call([i for i in chunk for _ in range(num_candidates)], flat_seeds, length)
            for j, i in enumerate(chunk):
                cands = audio[j * num_candidates:(j + 1) * num_candidates]
                if not np.isfinite(cands).all():
                    raise BackendError(
                        f"{backend.name} returned NaN/inf for prompt {i} {prompts[i]!r} (seed {seeds[i]}, "
                        f"dtype {backend.dtype}); try dtype='float32' or 'bfloat16'"
                    )
                best, score = 0, None
                if num_candidates > 1:
                    scores = rank(prompts[i], cands)
                    best = int(np.argmax(scores))
                    score = float(scores[best])
                wav = np.ascontiguousarray(cands[best][..., : need[i]], dtype=np.float32)
                wav = wav[None, :] if wav.ndim == 1 else wav
                results[i] = {"wav": wav, "seed": flat_seeds[j * num_candidates + best], "score": score,
                              "candidates": num_candidates, "silent": bool(np.max(np.abs(wav)) < 1e-6)}
    return results  # type: ignore[return-value]
