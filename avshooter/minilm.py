"""all-MiniLM-L6-v2 in numpy: the sentence encoder of :mod:`avshooter.embedding` on the CPU, without torch.

The model is a 6-layer BERT (hidden 384, 12 heads, GELU feed-forward of 1536, post-layer-norm, eps
1e-12) whose token states are mean-pooled over the real tokens and scaled to unit length, as its
sentence-transformers configuration says (``1_Pooling``: mean tokens; ``2_Normalize``). This module runs
that forward pass from the released ``model.safetensors`` and ``tokenizer.json`` with numpy float32 BLAS
and the ``tokenizers`` library, so annotate never imports torch, transformers or sentence-transformers
(~4 s of imports and loads, ~400 MiB per process, measured here).
``tests/test_embedding.py`` checks it against sentence-transformers on the same weights (within 1e-5 per value).

Usage: ``enc = MiniLM.from_folder(path); vecs = enc.encode(["a ball bounces"])`` -> ``(1, 384)``.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from scipy import special

__all__ = ["MiniLM"]

_MAX_TOKENS = 256   # sentence_bert_config.json: max_seq_length
_LN_EPS = 1e-12     # config.json: layer_norm_eps


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    var = np.square(x - mean).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + _LN_EPS) * weight + bias


class MiniLM:
    """BERT encoder + mean pooling + L2 normalisation, from a sentence-transformers model folder."""

    def __init__(self, weights: dict[str, np.ndarray], tokenizer, *, heads: int = 12, layers: int = 6):
        self.tokenizer = tokenizer
        self.heads = heads
        w = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in weights.items() if k != "embeddings.position_ids"}
        self.word = w["embeddings.word_embeddings.weight"]
        self.position = w["embeddings.position_embeddings.weight"]
        self.token_type = w["embeddings.token_type_embeddings.weight"][0]
        self.embed_norm = (w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        self.layers = []
        for i in range(layers):
            p = f"encoder.layer.{i}."
            # query, key and value as one (hidden, 3 * hidden) matrix: one product per layer
            qkv = np.concatenate([w[p + f"attention.self.{n}.weight"].T for n in ("query", "key", "value")], axis=1)
            qkv_bias = np.concatenate([w[p + f"attention.self.{n}.bias"] for n in ("query", "key", "value")])
            self.layers.append(dict(
                qkv=np.ascontiguousarray(qkv), qkv_bias=qkv_bias,
                out=np.ascontiguousarray(w[p + "attention.output.dense.weight"].T),
                out_bias=w[p + "attention.output.dense.bias"],
                norm1=(w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"]),
                up=np.ascontiguousarray(w[p + "intermediate.dense.weight"].T), up_bias=w[p + "intermediate.dense.bias"],
                down=np.ascontiguousarray(w[p + "output.dense.weight"].T), down_bias=w[p + "output.dense.bias"],
                norm2=(w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"]),
            ))
        self.dim = self.word.shape[1]

    @classmethod
    def from_folder(cls, folder: str | Path) -> "MiniLM":
        """Load ``model.safetensors`` and ``tokenizer.json`` of a sentence-transformers BERT folder."""
        import json

        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        folder = Path(folder)
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        tokenizer.no_padding()  # batches are padded here, to their longest text
        tokenizer.enable_truncation(max_length=_MAX_TOKENS)
        return cls(load_file(str(folder / "model.safetensors")), tokenizer,
                   heads=int(config["num_attention_heads"]), layers=int(config["num_hidden_layers"]))

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        """Unit-length ``(len(texts), dim)`` float32 sentence embeddings."""
        # one text at a time: encode_batch would start the tokenizers' thread pool, which a process forked
        # later (batch workers) must not inherit; short texts tokenize in microseconds anyway
        ids = [self.tokenizer.encode(t).ids for t in texts]
        out = np.zeros((len(ids), self.dim), np.float32)
        order = np.argsort([len(t) for t in ids], kind="stable")  # similar lengths share a batch: less padding
        for start in range(0, len(order), batch_size):
            rows = order[start: start + batch_size]
            out[rows] = self._encode_batch([ids[r] for r in rows])
        return out

    def _encode_batch(self, ids: list[list[int]]) -> np.ndarray:
        n, length = len(ids), max(len(t) for t in ids)
        tokens = np.zeros((n, length), np.int64)
        mask = np.zeros((n, length), np.float32)
        for i, t in enumerate(ids):
            tokens[i, : len(t)] = t
            mask[i, : len(t)] = 1.0
        h = self.word[tokens] + self.position[:length] + self.token_type
        h = _layer_norm(h, *self.embed_norm)
        # padded keys get a large negative score (as BERT's extended attention mask): zero weight
        key_bias = ((1.0 - mask) * np.finfo(np.float32).min)[:, None, None, :]
        head = self.dim // self.heads
        scale = np.float32(1.0 / math.sqrt(head))
        for layer in self.layers:
            qkv = h @ layer["qkv"] + layer["qkv_bias"]                        # (n, L, 3 * dim)
            q, k, v = (qkv[..., i * self.dim:(i + 1) * self.dim].reshape(n, length, self.heads, head)
                       .transpose(0, 2, 1, 3) for i in range(3))             # (n, heads, L, head)
            scores = (q @ k.transpose(0, 1, 3, 2)) * scale + key_bias
            scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
            attn = scores / scores.sum(axis=-1, keepdims=True)
            context = (attn @ v).transpose(0, 2, 1, 3).reshape(n, length, self.dim)
            h = _layer_norm(h + context @ layer["out"] + layer["out_bias"], *layer["norm1"])
            up = h @ layer["up"] + layer["up_bias"]
            up = 0.5 * up * (1.0 + special.erf(up * np.float32(1.0 / math.sqrt(2.0))))   # exact GELU ("gelu")
            h = _layer_norm(h + up @ layer["down"] + layer["down_bias"], *layer["norm2"])
        pooled = (h * mask[..., None]).sum(axis=1) / np.maximum(mask.sum(axis=1, keepdims=True), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)
