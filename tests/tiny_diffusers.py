"""Tiny random-weight diffusers text-to-audio pipelines, built offline from config for the tests.

The diffusers test recipe downloads its tokenizers and CLAP feature extractor from the hub; here every
part is built in memory (byte-level BPE vocabulary for RoBERTa, a unigram vocabulary for T5), so the
tests need no network. ``save_*`` writes a pipeline folder that our backends load by path, the same code
path as a real checkpoint.
"""
from __future__ import annotations

import string
from pathlib import Path


def _roberta_tokenizer():
    from tokenizers import pre_tokenizers
    from transformers import RobertaTokenizer

    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3, "<mask>": 4}
    for ch in sorted(pre_tokenizers.ByteLevel.alphabet()):
        vocab.setdefault(ch, len(vocab))
    return RobertaTokenizer(vocab=vocab, merges=[], model_max_length=77)


def _t5_tokenizer():
    from transformers import T5Tokenizer

    pieces = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("\u2581", -2.0)]
    pieces += [(ch, -3.0) for ch in string.ascii_letters + string.digits + string.punctuation]
    return T5Tokenizer(vocab=pieces, extra_ids=0, model_max_length=77)


def tiny_clap():
    """``(ClapModel, RobertaTokenizer, ClapFeatureExtractor)`` with random weights (projection dim 16)."""
    import torch
    from transformers import (
        ClapAudioConfig,
        ClapConfig,
        ClapFeatureExtractor,
        ClapModel,
        ClapTextConfig,
    )

    torch.manual_seed(0)
    text_config = ClapTextConfig(
        bos_token_id=0, eos_token_id=2, pad_token_id=1, hidden_size=16, intermediate_size=37,
        layer_norm_eps=1e-05, num_attention_heads=2, num_hidden_layers=2, vocab_size=300, projection_dim=16,
    )
    audio_config = ClapAudioConfig(
        spec_size=64, window_size=4, num_mel_bins=64, intermediate_size=37, layer_norm_eps=1e-05,
        depths=[2, 2], num_attention_heads=[2, 2], num_hidden_layers=2, hidden_size=192, projection_dim=16,
        patch_size=2, patch_stride=2, patch_embed_input_channels=4,
    )
    model = ClapModel(ClapConfig(text_config=text_config, audio_config=audio_config, projection_dim=16)).eval()
    feature_extractor = ClapFeatureExtractor(feature_size=64, sampling_rate=48000, hop_length=7900, max_length_s=10)
    return model, _roberta_tokenizer(), feature_extractor


def tiny_audioldm2():
    """A tiny ``AudioLDM2Pipeline`` (16 kHz, vocoder hop 160 like the real one, VAE factor 2)."""
    import torch
    from diffusers import (
        AudioLDM2Pipeline,
        AudioLDM2ProjectionModel,
        AudioLDM2UNet2DConditionModel,
        AutoencoderKL,
        DDIMScheduler,
    )
    from transformers import (
        GPT2Config,
        GPT2LMHeadModel,
        SpeechT5HifiGan,
        SpeechT5HifiGanConfig,
        T5Config,
        T5EncoderModel,
    )

    torch.manual_seed(0)
    unet = AudioLDM2UNet2DConditionModel(
        block_out_channels=(8, 16), layers_per_block=1, sample_size=32, in_channels=4, out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=([None, 16, 32], [None, 16, 32]), norm_num_groups=4, attention_head_dim=4,
    )
    scheduler = DDIMScheduler(
        beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False, set_alpha_to_one=False
    )
    torch.manual_seed(0)
    vae = AutoencoderKL(
        block_out_channels=[8, 16], in_channels=1, out_channels=1, norm_num_groups=4,
        down_block_types=["DownEncoderBlock2D", "DownEncoderBlock2D"],
        up_block_types=["UpDecoderBlock2D", "UpDecoderBlock2D"], latent_channels=4,
    )
    text_encoder, tokenizer, feature_extractor = tiny_clap()
    torch.manual_seed(0)
    text_encoder_2 = T5EncoderModel(T5Config(vocab_size=120, d_model=32, d_ff=37, d_kv=8, num_heads=2, num_layers=2))
    tokenizer_2 = _t5_tokenizer()
    torch.manual_seed(0)
    language_model = GPT2LMHeadModel(GPT2Config(n_embd=16, n_head=2, n_layer=2, vocab_size=300, n_ctx=99, n_positions=99, bos_token_id=0, eos_token_id=2))
    language_model.config.max_new_tokens = 8
    torch.manual_seed(0)
    projection_model = AudioLDM2ProjectionModel(text_encoder_dim=16, text_encoder_1_dim=32, langauge_model_dim=16)
    vocoder = SpeechT5HifiGan(
        SpeechT5HifiGanConfig(
            model_in_dim=8, sampling_rate=16000, upsample_initial_channel=16, upsample_rates=[8, 20],
            upsample_kernel_sizes=[16, 40], resblock_kernel_sizes=[3], resblock_dilation_sizes=[[1, 3]],
            normalize_before=False,
        )
    )
    return AudioLDM2Pipeline(
        unet=unet, scheduler=scheduler, vae=vae, text_encoder=text_encoder, text_encoder_2=text_encoder_2,
        tokenizer=tokenizer, tokenizer_2=tokenizer_2, feature_extractor=feature_extractor,
        language_model=language_model, projection_model=projection_model, vocoder=vocoder,
    )


def tiny_stable_audio(sample_size: int = 128):
    """A tiny ``StableAudioPipeline``: 44.1 kHz stereo, VAE hop 256, ``sample_size`` latent frames (~0.74 s)."""
    import torch
    from diffusers import (
        AutoencoderOobleck,
        CosineDPMSolverMultistepScheduler,
        StableAudioDiTModel,
        StableAudioPipeline,
        StableAudioProjectionModel,
    )
    from transformers import T5Config, T5EncoderModel

    torch.manual_seed(0)
    transformer = StableAudioDiTModel(
        sample_size=sample_size, in_channels=3, num_layers=2, attention_head_dim=4, num_key_value_attention_heads=2,
        out_channels=3, cross_attention_dim=4, time_proj_dim=8, global_states_input_dim=8, cross_attention_input_dim=4,
    )
    scheduler = CosineDPMSolverMultistepScheduler(
        solver_order=2, prediction_type="v_prediction", sigma_data=1.0, sigma_schedule="exponential"
    )
    torch.manual_seed(0)
    vae = AutoencoderOobleck(
        encoder_hidden_size=6, downsampling_ratios=[4, 8, 8], decoder_channels=3, decoder_input_channels=3,
        audio_channels=2, channel_multiples=[1, 2, 2], sampling_rate=44100,
    )
    torch.manual_seed(0)
    text_encoder = T5EncoderModel(T5Config(vocab_size=120, d_model=32, d_ff=37, d_kv=8, num_heads=2, num_layers=2))
    torch.manual_seed(0)
    projection_model = StableAudioProjectionModel(text_encoder_dim=32, conditioning_dim=4, min_value=0, max_value=32)
    return StableAudioPipeline(
        transformer=transformer, scheduler=scheduler, vae=vae, text_encoder=text_encoder,
        tokenizer=_t5_tokenizer(), projection_model=projection_model,
    )


def save_tiny_clap(folder: Path) -> Path:
    """Write the tiny CLAP (model, tokenizer, feature extractor) to ``folder``, loadable by path."""
    model, tokenizer, feature_extractor = tiny_clap()
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    feature_extractor.save_pretrained(folder)
    return Path(folder)


def _gemma_tokenizer():
    """A byte-fallback BPE ``GemmaTokenizer`` (SA3's tokenizer class) built in memory: letters, digits, bytes."""
    from transformers import GemmaTokenizer

    vocab = {"<pad>": 0, "<eos>": 1, "<bos>": 2, "<unk>": 3, "<mask>": 4}
    for ch in "\u2581" + string.ascii_letters + string.digits + string.punctuation:
        vocab.setdefault(ch, len(vocab))
    for b in range(256):
        vocab.setdefault(f"<0x{b:02X}>", len(vocab))
    return GemmaTokenizer(vocab=vocab, merges=[], model_max_length=64)


def _unzero(module, seed: int, std: float = 0.05):
    """Give zero-initialised weights small random values (SAME and the SA3 DiT zero-init their residual
    branches: untouched, the tiny VAE decodes every latent to the same constant and seeds would not matter)."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            if p.numel() and not p.any():
                p.copy_(torch.randn(p.shape, generator=gen) * std)
    return module


def tiny_stable_audio3(*, patch_size: int = 64, stride: int = 4):
    """A tiny ``StableAudio3Pipeline``: 44.1 kHz stereo, SAME latent hop ``patch_size * stride`` (256) samples,
    T5Gemma text encoder, distilled ping-pong scheduler (``stochastic_sampling=True``), inpainting path
    (``local_add_cond_dim = 1 + latent_dim``)."""
    import torch
    from diffusers import AutoencoderSAME, FlowMatchEulerDiscreteScheduler, StableAudio3DiTModel, StableAudio3Pipeline
    from diffusers.pipelines.stable_audio_3.modeling_stable_audio_3 import StableAudio3DurationEmbedder
    from transformers import T5GemmaConfig, T5GemmaEncoderModel
    from transformers.models.t5gemma.configuration_t5gemma import T5GemmaModuleConfig

    cond, latent = 16, 8
    tokenizer = _gemma_tokenizer()
    torch.manual_seed(0)
    transformer = _unzero(StableAudio3DiTModel(
        io_channels=latent, patch_size=1, embed_dim=32, depth=2, num_heads=4, cond_token_dim=cond,
        global_cond_dim=cond, local_add_cond_dim=1 + latent, timestep_features_dim=16, ff_mult=2,
        num_memory_tokens=3, use_differential_attention=False,
    ), seed=1)
    torch.manual_seed(0)
    vae = _unzero(AutoencoderSAME(
        audio_channels=2, patch_size=patch_size, encoder_channels=8, encoder_c_mults=(2,), encoder_strides=(stride,),
        encoder_transformer_depths=(1,), latent_dim=latent, use_differential_attention=False, dim_heads=4, ff_mult=2,
        sampling_rate=44100,
    ), seed=2)
    module = T5GemmaModuleConfig(
        vocab_size=len(tokenizer), hidden_size=cond, intermediate_size=32, num_hidden_layers=2, num_attention_heads=2,
        num_key_value_heads=1, head_dim=8, max_position_embeddings=64, sliding_window=64,
        layer_types=["full_attention", "full_attention"],
    )
    torch.manual_seed(0)
    text_encoder = T5GemmaEncoderModel(
        T5GemmaConfig(encoder=module.to_dict(), decoder=module.to_dict(), is_encoder_decoder=False)
    )
    torch.manual_seed(0)
    duration_embedder = StableAudio3DurationEmbedder(output_dim=cond, fourier_dim=16)
    scheduler = FlowMatchEulerDiscreteScheduler(stochastic_sampling=True)
    return StableAudio3Pipeline(
        vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, duration_embedder=duration_embedder,
        transformer=transformer, scheduler=scheduler,
    )


def save_tiny_tangoflux(folder: Path, *, max_duration: int = 2, extra_key: str | None = None,
                        drop_key: str | None = None) -> Path:
    """Write a tiny TangoFlux checkpoint folder in the PUBLISHED layout and key names (declare-lab/TangoFlux):
    ``config.json`` (its model keys), ``tangoflux.safetensors`` (the state dict of its ``TangoFlux`` module:
    ``text_encoder.*`` without the tied ``encoder.embed_tokens``, ``fc.0.*``, ``duration_emebdder.*`` (sic),
    ``transformer.*``) and ``vae.safetensors`` (an ``AutoencoderOobleck`` state dict). Its text encoder
    config and tokenizer go in ``folder/t5`` (the real config names ``google/flan-t5-large`` there), and
    ``vae_config.json`` holds the tiny VAE's constructor arguments (the real one uses the defaults).

    The module below mirrors TangoFlux's attribute names from its source (``fc = Sequential(Linear, ReLU)``,
    ``duration_emebdder.time_positional_embedding = Sequential(<fourier with .weights>, Linear)``), so the
    key names come from the structure, not from our loader's mapping.
    """
    import json

    import torch
    from diffusers import AutoencoderOobleck, FluxTransformer2DModel
    from safetensors.torch import save_file
    from torch import nn
    from transformers import T5Config, T5EncoderModel

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    text_dim, joint, heads, head_dim, latent = 32, 32, 2, 8, 64  # TangoFlux needs joint == T5 width
    seq_len = int(max_duration * 44100 // 2048)
    config = {"num_layers": 1, "num_single_layers": 1, "in_channels": latent, "attention_head_dim": head_dim,
              "joint_attention_dim": joint, "num_attention_heads": heads, "audio_seq_len": seq_len,
              "max_duration": max_duration, "uncondition": False, "text_encoder_name": str(folder / "t5"),
              "axes_dims_rope": [2, 2, 4]}

    class _Fourier(nn.Module):
        def __init__(self, dim):
            super().__init__()
            self.weights = nn.Parameter(torch.randn(dim // 2))  # TangoFlux: StableAudioPositionalEmbedding(256)

    class _Duration(nn.Module):
        def __init__(self):
            super().__init__()
            self.time_positional_embedding = nn.Sequential(_Fourier(256), nn.Linear(257, text_dim))

    class _TangoFluxLike(nn.Module):
        def __init__(self):
            super().__init__()
            self.text_encoder = T5EncoderModel(T5Config(vocab_size=120, d_model=text_dim, d_ff=37, d_kv=8,
                                                        num_heads=2, num_layers=2))
            self.fc = nn.Sequential(nn.Linear(text_dim, joint), nn.ReLU())
            self.duration_emebdder = _Duration()
            self.transformer = FluxTransformer2DModel(
                in_channels=latent, num_layers=1, num_single_layers=1, attention_head_dim=head_dim,
                num_attention_heads=heads, joint_attention_dim=joint, pooled_projection_dim=text_dim,
                guidance_embeds=False, axes_dims_rope=(2, 2, 4))

    torch.manual_seed(0)
    model = _TangoFluxLike()
    state = {k: v.contiguous() for k, v in model.state_dict().items() if k != "text_encoder.encoder.embed_tokens.weight"}
    if extra_key:
        state[extra_key] = torch.zeros(1)
    if drop_key:
        del state[drop_key]
    save_file(state, str(folder / "tangoflux.safetensors"))
    model.text_encoder.config.save_pretrained(folder / "t5")
    _t5_tokenizer().save_pretrained(folder / "t5")
    vae_args = {"encoder_hidden_size": 8, "downsampling_ratios": [2, 4, 4, 8, 8], "channel_multiples": [1, 2, 2, 2, 2],
                "decoder_channels": 8, "decoder_input_channels": latent, "audio_channels": 2, "sampling_rate": 44100}
    torch.manual_seed(0)
    vae = AutoencoderOobleck(**vae_args)
    save_file({k: v.contiguous() for k, v in vae.state_dict().items()}, str(folder / "vae.safetensors"))
    (folder / "vae_config.json").write_text(json.dumps(vae_args))
    (folder / "config.json").write_text(json.dumps(config))
    return folder
