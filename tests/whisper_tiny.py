"""Tiny Whisper models with random weights, built offline for the ASR backend tests.

The tokenizer has Whisper's real layout (large-v3: 50257 byte-level BPE tokens, ``<|endoftext|>`` = 50257,
``<|startoftranscript|>``, 100 language tokens, task tokens, ``<|notimestamps|>`` and the 1501 timestamp
tokens ``<|0.00|>`` .. ``<|30.00|>``: 51866 in all), because CTranslate2 calls a Whisper model multilingual
only from 51865 tokens up, and transformers needs the timestamp tokens to return times. The BPE part is
the 256 byte symbols plus letter fillers (no merges are needed for a random model to emit them) and the
empty token at 50256 that the real multilingual vocabulary has (CTranslate2 checks it).
"""
from __future__ import annotations

import itertools
import json
import shutil
import string
from pathlib import Path

N_TEXT_TOKENS = 50257
N_MELS = 80
# Alignment heads for word times: (layer, head) pairs over the tiny decoder.
ALIGNMENT_HEADS = [[0, 0], [1, 1]]


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's byte -> printable character map (byte-level BPE symbols)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, (chr(c) for c in cs)))


def special_tokens() -> list[str]:
    """Whisper's special tokens after ``<|endoftext|>``, in id order (large-v3 layout)."""
    from transformers.models.whisper.tokenization_whisper import LANGUAGES

    langs = [f"<|{code}|>" for code in LANGUAGES]  # 100 codes, "yue" last
    stamps = [f"<|{i * 0.02:.2f}|>" for i in range(1501)]
    return (["<|startoftranscript|>", *langs, "<|translate|>", "<|transcribe|>", "<|startoflm|>",
             "<|startofprev|>", "<|nospeech|>", "<|notimestamps|>", *stamps])


def build_tokenizer():
    """A WhisperTokenizer with Whisper's id layout (51866 tokens), built in memory."""
    from transformers import AddedToken, WhisperTokenizer

    symbols = list(_bytes_to_unicode().values())
    vocab = {s: i for i, s in enumerate(symbols)}
    letters = string.ascii_lowercase
    fillers = itertools.chain(
        ("\u0120" + a + b for a, b in itertools.product(letters, repeat=2)),
        ("".join(t) for t in itertools.product(letters, repeat=3)),
        ("\u0120" + "".join(t) for t in itertools.product(letters, repeat=4)),
    )
    for tok in fillers:
        if len(vocab) >= N_TEXT_TOKENS - 1:
            break
        vocab.setdefault(tok, len(vocab))
    # Whisper's multilingual vocabulary holds an empty token at 50256: CTranslate2 (4.8) tells a
    # multilingual model by it (``is_multilingual``), which language detection needs.
    vocab[""] = N_TEXT_TOKENS - 1
    vocab["<|endoftext|>"] = N_TEXT_TOKENS
    tok = WhisperTokenizer(vocab=vocab, merges=[])
    tok.add_tokens([AddedToken(t, special=True, normalized=False) for t in special_tokens()], special_tokens=True)
    assert len(tok) == 51866, len(tok)
    return tok


def build_feature_extractor():
    from transformers import WhisperFeatureExtractor

    return WhisperFeatureExtractor(feature_size=N_MELS, sampling_rate=16000, hop_length=160, chunk_length=30, n_fft=400)


def build_generation_config(tok):
    from transformers import GenerationConfig
    from transformers.models.whisper.tokenization_whisper import LANGUAGES

    ids = tok.convert_tokens_to_ids
    eot = ids("<|endoftext|>")
    return GenerationConfig(
        decoder_start_token_id=ids("<|startoftranscript|>"),
        bos_token_id=eot, eos_token_id=eot, pad_token_id=eot,
        max_length=448,
        is_multilingual=True,
        lang_to_id={f"<|{c}|>": ids(f"<|{c}|>") for c in LANGUAGES},
        task_to_id={"transcribe": ids("<|transcribe|>"), "translate": ids("<|translate|>")},
        no_timestamps_token_id=ids("<|notimestamps|>"),
        prev_sot_token_id=ids("<|startofprev|>"),
        max_initial_timestamp_index=50,
        suppress_tokens=[],
        begin_suppress_tokens=[ids("\u0120"), eot],
        alignment_heads=ALIGNMENT_HEADS,
        return_timestamps=False,
    )


def build_hf_folder(folder: Path, *, seed: int = 0) -> Path:
    """Save a tiny random WhisperForConditionalGeneration + WhisperProcessor to ``folder``."""
    import torch
    from transformers import (
        WhisperConfig,
        WhisperForConditionalGeneration,
        WhisperProcessor,
    )

    tok = build_tokenizer()
    eot = tok.convert_tokens_to_ids("<|endoftext|>")
    config = WhisperConfig(
        vocab_size=len(tok), num_mel_bins=N_MELS, d_model=64,
        encoder_layers=2, encoder_attention_heads=2, encoder_ffn_dim=128,
        decoder_layers=2, decoder_attention_heads=2, decoder_ffn_dim=128,
        max_source_positions=1500, max_target_positions=448,
        decoder_start_token_id=tok.convert_tokens_to_ids("<|startoftranscript|>"),
        bos_token_id=eot, eos_token_id=eot, pad_token_id=eot,
        suppress_tokens=[], begin_suppress_tokens=[eot],
    )
    torch.manual_seed(seed)
    model = WhisperForConditionalGeneration(config).eval()
    model.generation_config = build_generation_config(tok)
    folder = Path(folder)
    model.save_pretrained(folder)
    fe = build_feature_extractor()
    WhisperProcessor(feature_extractor=fe, tokenizer=tok).save_pretrained(folder)
    fe.save_pretrained(folder)  # preprocessor_config.json, as hub checkpoints have it (faster-whisper reads it)
    return folder


def convert_ct2(hf_folder: Path, out_folder: Path, *, quantization: str = "float32") -> Path:
    """Convert a transformers Whisper folder to CTranslate2, with the files faster-whisper reads beside it."""
    from ctranslate2.converters import TransformersConverter

    hf_folder, out_folder = Path(hf_folder), Path(out_folder)
    TransformersConverter(str(hf_folder)).convert(str(out_folder), quantization=quantization, force=True)
    for name in ("tokenizer.json", "preprocessor_config.json"):
        shutil.copy(hf_folder / name, out_folder / name)
    return out_folder


if __name__ == "__main__":  # quick manual check: python tests/whisper_tiny.py /tmp/tiny
    import sys
    import time

    t = time.perf_counter()
    base = Path(sys.argv[1])
    hf = build_hf_folder(base / "hf")
    convert_ct2(hf, base / "ct2")
    print(json.dumps(sorted(p.name for p in base.rglob("*") if p.is_file())), f"{time.perf_counter() - t:.1f}s")
