"""Text-to-audio backends on a GPU: full-size architectures with random weights, timed in one run.

For each diffusers backend (``audioldm2``, ``stable-audio``, ``stable-audio-3``, ``tangoflux``) this builds
the model's FULL-SIZE architecture from its published configuration (values written below; random
weights, nothing downloaded), directly on the device, hands the built pipeline to our backend class (the
``model`` option takes a built pipeline, or TangoFlux's modules), and times a story of ``--shots`` shots of
``--shot-s`` seconds:

- per shot: one ``generate`` call per shot (what a loop over shots does);
- batched: one ``generate`` call for the whole story (the backend groups and batches it);
- reported as seconds of audio per wall second (higher is better), and peak memory: CUDA
  ``max_memory_allocated`` on a GPU; on the CPU the process's peak RSS so far (``ru_maxrss``, which only
  grows: read it as an upper bound per row).

A first call (one short clip) is made before timing: it pays the lazy work (``torch.compile`` with
``--compile``, cuDNN/cuBLAS autotuning, allocator growth). Random weights time the same as real ones
(same shapes, same steps); they do not sound like anything.

Then a seam table with ``stable-audio-3``: one ambience bed of ``--bed-s`` seconds (40) longer than one
generation (limited to ``--seam-window-s``, 10 s, for this table), made (a) by continuation (inpainting after the audio so far,
:func:`avshooter.backends.text_to_audio.continuation.continue_run`) and (b) as ``generate`` does without
it: independent chunks (``chunk_plan``) joined by equal-power crossfades. Level jump (dB) and spectral-flux
ratio at the joins (:func:`~avshooter.backends.text_to_audio.continuation.seam_levels`); for (b) the join
is the crossfade's centre. With random weights these figures measure the joining, not the model.

``--tiny`` runs every backend at TINY size on the CPU (the test suite's random models,
``tests/tiny_diffusers.py``), which is what ``tests/test_tta_2026.py`` runs; those times are not GPU
figures and the table says "tiny".

Usage::

    python benchmarks/bench_tta_gpu.py                          # cuda when present: full size, fp16
    python benchmarks/bench_tta_gpu.py --dtype bfloat16 --compile --shots 8 --shot-s 3.85
    python benchmarks/bench_tta_gpu.py --backends stable-audio-3,tangoflux --json out.json
    python benchmarks/bench_tta_gpu.py --tiny                   # CPU, tiny models (a smoke run)
"""
from __future__ import annotations

import argparse
import gc
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # tiny builders and in-memory tokenizers (no hub)

BACKENDS = ("audioldm2", "stable-audio", "stable-audio-3", "tangoflux")
PROMPTS = ["rain on a tin roof", "footsteps on wooden floor", "a door slams shut", "wind through trees",
           "a crowd murmurs in a hall", "a dog barks twice", "glass shatters", "a car passes by"]
# full-size steps as each model is normally run; tiny: 2
FULL_STEPS = {"audioldm2": 20, "stable-audio": 100, "stable-audio-3": 8, "tangoflux": 25}


# -- full-size builders (published configurations, random weights) -------------------------------------
def _on_cpu(cls, **kwargs):
    """Schedulers keep their tables on the CPU: build them outside the caller's ``torch.device`` context."""
    import torch

    with torch.device("cpu"):
        return cls(**kwargs)


def full_audioldm2():
    """cvssp/audioldm2: UNet (128, 256, 384, 640) with GPT-2 (768) and flan-t5-large (1024) cross-attention,
    8-channel VAE, CLAP (roberta-base + HTSAT), GPT-2 base, HiFi-GAN 16 kHz (hop 160)."""
    from diffusers import (AudioLDM2Pipeline, AudioLDM2ProjectionModel, AudioLDM2UNet2DConditionModel,
                           AutoencoderKL, DDIMScheduler)
    from tiny_diffusers import _roberta_tokenizer, _t5_tokenizer
    from transformers import (ClapAudioConfig, ClapConfig, ClapFeatureExtractor, ClapModel, ClapTextConfig,
                              GPT2Config, GPT2LMHeadModel, SpeechT5HifiGan, SpeechT5HifiGanConfig, T5Config,
                              T5EncoderModel)

    unet = AudioLDM2UNet2DConditionModel(
        sample_size=256, in_channels=8, out_channels=8, block_out_channels=(128, 256, 384, 640), layers_per_block=2,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=([None, 768, 1024],) * 4, attention_head_dim=8, norm_num_groups=32)
    vae = AutoencoderKL(in_channels=1, out_channels=1, latent_channels=8, block_out_channels=(128, 256, 512),
                        down_block_types=("DownEncoderBlock2D",) * 3, up_block_types=("UpDecoderBlock2D",) * 3,
                        layers_per_block=2)
    clap = ClapModel(ClapConfig(text_config=ClapTextConfig(vocab_size=50265).to_dict(),
                                audio_config=ClapAudioConfig().to_dict(), projection_dim=512))
    t5 = T5EncoderModel(T5Config(vocab_size=32128, d_model=1024, d_kv=64, d_ff=2816, num_layers=24, num_heads=16,
                                 feed_forward_proj="gated-gelu"))
    gpt2 = GPT2LMHeadModel(GPT2Config())
    gpt2.config.max_new_tokens = 8
    projection = AudioLDM2ProjectionModel(text_encoder_dim=512, text_encoder_1_dim=1024, langauge_model_dim=768)
    vocoder = SpeechT5HifiGan(SpeechT5HifiGanConfig(
        model_in_dim=64, sampling_rate=16000, upsample_initial_channel=1024, upsample_rates=[5, 4, 2, 2, 2],
        upsample_kernel_sizes=[16, 16, 8, 4, 4], resblock_kernel_sizes=[3, 7, 11],
        resblock_dilation_sizes=[[1, 3, 5]] * 3, normalize_before=False))
    return AudioLDM2Pipeline(
        vae=vae, text_encoder=clap, text_encoder_2=t5, projection_model=projection, language_model=gpt2,
        tokenizer=_roberta_tokenizer(), tokenizer_2=_t5_tokenizer(), feature_extractor=ClapFeatureExtractor(),
        unet=unet, scheduler=_on_cpu(DDIMScheduler, beta_schedule="scaled_linear", beta_start=0.0015, beta_end=0.0195),
        vocoder=vocoder)


def full_stable_audio():
    """stabilityai/stable-audio-open-1.0: the DiT and Oobleck VAE at their class defaults (the release), T5-base."""
    from diffusers import (AutoencoderOobleck, CosineDPMSolverMultistepScheduler, StableAudioDiTModel,
                           StableAudioPipeline, StableAudioProjectionModel)
    from tiny_diffusers import _t5_tokenizer
    from transformers import T5Config, T5EncoderModel

    return StableAudioPipeline(
        transformer=StableAudioDiTModel(), vae=AutoencoderOobleck(),
        text_encoder=T5EncoderModel(T5Config(vocab_size=32128, d_model=768, d_kv=64, d_ff=3072, num_layers=12,
                                             num_heads=12)),
        tokenizer=_t5_tokenizer(),
        projection_model=StableAudioProjectionModel(text_encoder_dim=768, conditioning_dim=768, min_value=0,
                                                    max_value=512),
        scheduler=_on_cpu(CosineDPMSolverMultistepScheduler, solver_order=2, prediction_type="v_prediction",
                          sigma_data=1.0, sigma_schedule="exponential"))


def full_stable_audio3():
    """stabilityai/stable-audio-3-medium: the DiT at its class defaults (the release), SAME-L autoencoder,
    T5Gemma b-b encoder (768 wide, 12 layers), distilled ping-pong scheduler."""
    from diffusers import AutoencoderSAME, FlowMatchEulerDiscreteScheduler, StableAudio3DiTModel, StableAudio3Pipeline
    from diffusers.pipelines.stable_audio_3.modeling_stable_audio_3 import StableAudio3DurationEmbedder
    from tiny_diffusers import _gemma_tokenizer
    from transformers import T5GemmaConfig, T5GemmaEncoderModel
    from transformers.models.t5gemma.configuration_t5gemma import T5GemmaModuleConfig

    module = T5GemmaModuleConfig(vocab_size=256000, hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
                                 num_attention_heads=12, num_key_value_heads=12, head_dim=64)
    return StableAudio3Pipeline(
        transformer=StableAudio3DiTModel(),
        vae=AutoencoderSAME(encoder_channels=256, encoder_transformer_depths=(12,), decoder_sinusoidal_blocks=(8,)),
        text_encoder=T5GemmaEncoderModel(T5GemmaConfig(encoder=module.to_dict(), decoder=module.to_dict(),
                                                       is_encoder_decoder=False)),
        tokenizer=_gemma_tokenizer(), duration_embedder=StableAudio3DurationEmbedder(),
        scheduler=_on_cpu(FlowMatchEulerDiscreteScheduler, stochastic_sampling=True))


def full_tangoflux():
    """declare-lab/TangoFlux: its config.json values, flan-t5-large, Oobleck defaults (in memory, no file)."""
    from avshooter.backends.text_to_audio.tangoflux_weights import build_modules
    from tiny_diffusers import _t5_tokenizer
    from transformers import T5Config

    config = {"num_layers": 6, "num_single_layers": 18, "in_channels": 64, "attention_head_dim": 128,
              "joint_attention_dim": 1024, "num_attention_heads": 8, "audio_seq_len": 645, "max_duration": 30,
              "uncondition": False, "text_encoder_name": "google/flan-t5-large"}
    text = T5Config(vocab_size=32128, d_model=1024, d_kv=64, d_ff=2816, num_layers=24, num_heads=16,
                    feed_forward_proj="gated-gelu")
    return {"config": config, "tokenizer": _t5_tokenizer(), "modules": build_modules(config, text, None)}


FULL = {"audioldm2": full_audioldm2, "stable-audio": full_stable_audio, "stable-audio-3": full_stable_audio3,
        "tangoflux": full_tangoflux}


def tiny(name: str, scratch: Path):
    import tiny_diffusers as t

    if name == "audioldm2":
        return t.tiny_audioldm2()
    if name == "stable-audio":
        return t.tiny_stable_audio()
    if name == "stable-audio-3":
        return t.tiny_stable_audio3()
    return str(t.save_tiny_tangoflux(scratch / "tangoflux"))  # through the real checkpoint loader


# -- measuring -----------------------------------------------------------------------------------------
def backend_for(name: str, model, *, device: str, dtype, steps: int, batch: int, compile_: bool, tiny_size: bool):
    from avshooter.backends.text_to_audio.audioldm2 import AudioLDM2
    from avshooter.backends.text_to_audio.stable_audio import StableAudioOpen
    from avshooter.backends.text_to_audio.stable_audio3 import StableAudio3
    from avshooter.backends.text_to_audio.tangoflux import TangoFlux

    common = {"model": model, "dtype": dtype, "steps": steps, "batch_size": batch, "compile": compile_}
    if name == "audioldm2":
        return AudioLDM2(device=device, scheduler="dpmsolver", **common)
    if name == "stable-audio":
        return StableAudioOpen(device=device, **common)
    if name == "stable-audio-3":
        return StableAudio3(device=device, **common, **({"max_duration_s": 1.0, "context_s": 0.25} if tiny_size else {}))
    return TangoFlux(device=device, **common)


def peak_reset(torch, device):
    gc.collect()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def peak_mb(torch, device) -> float:
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(torch, device, fn):
    peak_reset(torch, device)
    start = time.perf_counter()
    out = fn()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return time.perf_counter() - start, peak_mb(torch, device), out


def bench_backend(name, args, torch, device, scratch) -> dict:
    build_start = time.perf_counter()
    if args.tiny:
        model = tiny(name, scratch)
    else:
        with torch.device(device):
            model = FULL[name]()
    steps = 2 if args.tiny else (args.steps or FULL_STEPS[name])
    backend = backend_for(name, model, device=device, dtype=args.dtype, steps=steps, batch=args.shots,
                          compile_=args.compile, tiny_size=args.tiny)
    build_s = time.perf_counter() - build_start
    shot_s = min(args.shot_s, backend.max_duration_s)
    prompts = [PROMPTS[i % len(PROMPTS)] for i in range(args.shots)]
    seeds = list(range(args.shots))
    # warm-up at the timed shapes: lazy compile (one per shape), autotuning, allocator growth
    backend.generate(prompts[:1], [shot_s], seeds=[0])
    if args.compile:
        backend.generate(prompts, [shot_s] * args.shots, seeds=seeds)
    per_shot_s, per_shot_mb, _ = timed(torch, device, lambda: [backend.generate([p], [shot_s], seeds=[s])
                                                               for p, s in zip(prompts, seeds)])
    batched_s, batched_mb, out = timed(torch, device, lambda: backend.generate(prompts, [shot_s] * args.shots,
                                                                               seeds=seeds))
    assert all(o["wav"].shape[-1] == round(shot_s * backend.sample_rate) for o in out)
    audio = args.shots * shot_s
    params = sum(p.numel() for p in _modules(backend))
    row = {"backend": name, "size": "tiny" if args.tiny else "full", "device": device, "dtype": backend.dtype,
           "compile": bool(args.compile), "steps": steps, "params_m": round(params / 1e6, 1),
           "shots": args.shots, "shot_s": round(shot_s, 3), "build_s": round(build_s, 2),
           "per_shot_s": round(per_shot_s, 3), "batched_s": round(batched_s, 3),
           "audio_s_per_s_per_shot": round(audio / per_shot_s, 3), "audio_s_per_s_batched": round(audio / batched_s, 3),
           "peak_mb_per_shot": round(per_shot_mb, 1), "peak_mb_batched": round(batched_mb, 1),
           "peak_kind": "cuda max_memory_allocated" if device.startswith("cuda") else "process peak RSS (upper bound)"}
    seams = bench_seams(backend, args, device) if name == "stable-audio-3" else []
    del backend, model
    peak_reset(torch, device)
    return row, seams


def _modules(backend):
    if hasattr(backend, "pipe"):
        for comp in backend.pipe.components.values():
            if hasattr(comp, "parameters"):
                yield from comp.parameters()
    else:
        for m in (backend.transformer, backend.text_encoder, backend.fc, backend.duration_embedder, backend.vae):
            yield from m.parameters()


def bench_seams(timed_backend, args, device) -> list[dict]:
    """One bed longer than a generation: continuation by inpainting vs crossfaded independent chunks.

    The same pipeline with one generation limited to ``--seam-window-s`` (full size; tiny: 1 s), so that a
    bed of ``--bed-s`` needs several generations either way.
    """
    from avshooter.audio.fit import chunk_plan, crossfade_concat
    from avshooter.backends.text_to_audio.continuation import continue_run, seam_levels
    from avshooter.backends.text_to_audio.stable_audio3 import StableAudio3
    from avshooter.units import to_samples

    window_s, context_s = (1.0, 0.25) if args.tiny else (args.seam_window_s, min(5.0, args.seam_window_s / 3))
    backend = StableAudio3(model=timed_backend.pipe, device=device, dtype=timed_backend.dtype,
                           steps=timed_backend.options["steps"], max_duration_s=window_s, context_s=context_s)
    sr = backend.sample_rate
    bed_s = args.bed_s if not args.tiny else 2.7
    xfade_s = 0.5 if not args.tiny else 0.25
    n = to_samples(bed_s, sr)
    wav, joins = continue_run(backend, ["rain and wind, steady ambience"], [n], [11])
    rows = [("inpainting", seam_levels(wav, sr, joins), wav.shape[1])]
    plan = chunk_plan(bed_s, max_chunk_s=backend.max_duration_s, crossfade_s=xfade_s, sample_rate=sr)
    chunks = [backend.generate(["rain and wind, steady ambience"], [length], seeds=[11 + k])[0]["wav"]
              for k, (_, length) in enumerate(plan)]
    joined = crossfade_concat(chunks, sr, crossfade_s=xfade_s)
    x = to_samples(xfade_s, sr)
    centres, pos = [], 0
    for c in chunks[:-1]:
        pos += c.shape[1] - x
        centres.append(pos + x // 2)
    rows.append(("crossfaded chunks", seam_levels(joined, sr, centres), joined.shape[1]))
    out = []
    for method, seams, length in rows:
        out.append({"method": method, "bed_s": bed_s, "samples": length, "exact": length == n, "joins": len(seams),
                    "level_jump_db_mean": round(float(np.mean([s["level_jump_db"] for s in seams])), 3),
                    "level_jump_db_max": round(float(np.max([s["level_jump_db"] for s in seams])), 3),
                    "flux_ratio_mean": round(float(np.mean([s["flux_ratio"] for s in seams])), 3),
                    "typical_jump_db": seams[0]["typical_jump_db"]})
    return out


def table(rows: list[dict], keys: list[str]) -> str:
    lines = ["| " + " | ".join(keys) + " |", "|" + "|".join("---" for _ in keys) + "|"]
    lines += ["| " + " | ".join(str(r[k]) for k in keys) + " |" for r in rows]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="tiny random models on the CPU (smoke run, not GPU figures)")
    parser.add_argument("--device", help="default: cuda when available, else cpu")
    parser.add_argument("--dtype", help="float16 / bfloat16 / float32 (default: float16 on cuda, float32 on cpu)")
    parser.add_argument("--compile", action="store_true", help="torch.compile each denoiser")
    parser.add_argument("--steps", type=int, help="override every backend's steps")
    parser.add_argument("--shots", type=int, default=8)
    parser.add_argument("--shot-s", type=float, default=3.85, help="seconds per shot (AnimeShooter's mean 3.85)")
    parser.add_argument("--bed-s", type=float, default=40.0, help="length of the seam-test bed (full size)")
    parser.add_argument("--seam-window-s", type=float, default=10.0,
                        help="one generation's limit in the seam test (full size), so the bed needs several")
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--json", help="also write the rows here")
    args = parser.parse_args(argv)

    import torch

    if args.tiny:
        device, args.shots, args.shot_s = "cpu", min(args.shots, 4), min(args.shot_s, 0.5)
        torch.set_num_threads(1)
    else:
        device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    names = [n for n in args.backends.split(",") if n]
    unknown = sorted(set(names) - set(BACKENDS))
    if unknown:
        parser.error(f"unknown backend(s) {unknown}; choose from {', '.join(BACKENDS)}")
    gpu = torch.cuda.get_device_name(0) if device.startswith("cuda") else "none"
    print(f"device {device} ({gpu}); torch {torch.__version__}; size {'tiny (CPU smoke run)' if args.tiny else 'full'}")
    rows, seams = [], []
    with tempfile.TemporaryDirectory(prefix="avshooter-bench-tta-") as scratch:
        for name in names:
            row, seam = bench_backend(name, args, torch, device, Path(scratch))
            rows.append(row)
            seams += seam
            print(f"  {name}: {row['audio_s_per_s_batched']} s audio/s batched, {row['audio_s_per_s_per_shot']} per shot",
                  flush=True)
    print()
    print(table(rows, ["backend", "size", "device", "dtype", "compile", "steps", "params_m", "shots", "shot_s",
                       "per_shot_s", "batched_s", "audio_s_per_s_per_shot", "audio_s_per_s_batched",
                       "peak_mb_per_shot", "peak_mb_batched"]))
    if seams:
        print()
        print(table(seams, ["method", "bed_s", "samples", "exact", "joins", "level_jump_db_mean",
                            "level_jump_db_max", "flux_ratio_mean", "typical_jump_db"]))
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "seams": seams}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
