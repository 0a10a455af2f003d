"""Tagger backend ``clap``: zero-shot CLAP over a sound vocabulary -> type, type scores and tags.

This file holds everything about CLAP that avshooter needs: loading a transformers ``ClapModel`` and
``ClapProcessor`` from a hub id or a local folder, device and dtype (fp16/bf16 on CUDA), the
model's sample rate (the feature extractor's, 48 kHz for the LAION checkpoints: audio is downmixed to
mono and resampled with soxr) and its window (``max_length_s`` of the feature extractor, 10 s: longer
clips are cut into windows, batched, and their embeddings averaged by duration, so the extractor never
crops at random).

The vocabulary (``avshooter/data/sound_vocabulary.txt``, one ``label<TAB>type`` a line) is turned into the
prompts ``"the sound of {label}"``; their text embeddings are computed once per tagger. Scores are the
softmax of CLAP's scaled cosine similarities over the whole vocabulary; ``type_scores`` is the softmax
mass of each type's labels (it sums to 1, so a type with more labels gets a head start: compare
scores between clips, not between types). Silence (below -60 dBFS RMS) is answered without the model.
"""
from __future__ import annotations

import math
from importlib import resources
from pathlib import Path

import numpy as np

from ..errors import BackendError, InputError
from .torch_device import check_torch_device

__all__ = ["TYPES", "ClapTagger", "load_vocabulary"]

TYPES = ("speech", "music", "effects", "ambience", "silence")
PROMPT = "the sound of {label}"
SILENCE_DBFS = -60.0


def load_vocabulary(source=None) -> list[tuple[str, str]]:
    """``[(label, type)]`` from the shipped vocabulary, a file path, a ``{label: type}`` dict or pairs.

    Files hold one ``label<TAB>type`` a line; blank lines and lines starting with ``#`` are skipped.
    """
    where = "avshooter/data/sound_vocabulary.txt"
    if source is None:
        text = resources.files("avshooter").joinpath("data/sound_vocabulary.txt").read_text(encoding="utf-8")
        pairs = _parse_vocabulary(text, where)
    elif isinstance(source, (str, Path)):
        path = Path(source).expanduser()
        if not path.is_file():
            raise BackendError(f"clap vocabulary file {str(path)!r} does not exist (a 'label<TAB>type' text file)")
        where = str(path)
        pairs = _parse_vocabulary(path.read_text(encoding="utf-8"), where)
    elif isinstance(source, dict):
        pairs = list(source.items())
    else:
        try:
            pairs = [(label, kind) for label, kind in source]
        except (TypeError, ValueError):
            raise BackendError(f"clap vocabulary of type {type(source).__name__} is not allowed "
                               "(a file path, a {label: type} dict or (label, type) pairs)") from None
    seen = set()
    for label, kind in pairs:
        if not isinstance(label, str) or not label.strip():
            raise BackendError(f"clap vocabulary ({where}): label {label!r} is not allowed (a non-empty string)")
        if kind not in TYPES:
            raise BackendError(f"clap vocabulary ({where}): type {kind!r} of {label!r} is not allowed "
                               f"({', '.join(TYPES)})")
        if label in seen:
            raise BackendError(f"clap vocabulary ({where}): label {label!r} appears twice")
        seen.add(label)
    if not pairs:
        raise BackendError(f"clap vocabulary ({where}) is empty")
    return [(label.strip(), kind) for label, kind in pairs]


def _parse_vocabulary(text: str, where: str) -> list[tuple[str, str]]:
    pairs = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = line.rstrip("\n").split("\t")
        if len(parts) != 2:
            raise BackendError(f"clap vocabulary {where} line {number}: {line!r} is not 'label<TAB>type'")
        pairs.append((parts[0].strip(), parts[1].strip()))
    return pairs


def _version() -> str:
    from importlib.metadata import version

    return version("transformers")


class ClapTagger:
    """Zero-shot audio tagging with CLAP.

    Parameters
    ----------
    device : str
        ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"mps"``.
    model : str
        Hub id (``"laion/clap-htsat-unfused"``, ``"laion/larger_clap_general"``, ...) or a local folder
        holding the model and its processor (as ``save_pretrained`` writes them).
    dtype : str
        ``"float32"``; ``"float16"`` / ``"bfloat16"`` on CUDA only.
    batch_size : int
        Audio windows per forward pass.
    top_k : int
        Number of tags returned.
    vocabulary : None, path, dict or pairs
        See :func:`load_vocabulary`; ``None`` = the shipped vocabulary.
    local_files_only : bool, optional
        Passed to ``from_pretrained``; default: True for a local folder, else False.
    """

    def __init__(self, *, device: str = "cpu", model: str = "laion/clap-htsat-unfused", dtype: str = "float32",
                 batch_size: int = 16, top_k: int = 10, vocabulary=None, local_files_only: bool | None = None):
        try:
            import torch
            from transformers import ClapModel, ClapProcessor
        except ImportError as exc:
            raise BackendError(f"the clap tagger needs transformers and torch ({exc}): "
                               "pip install 'transformers>=4.40,<5.40' (after a torch build for your machine)") from None
        check_torch_device(torch, "clap", device, dtype)
        for key, value in (("batch_size", batch_size), ("top_k", top_k)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise BackendError(f"clap {key}={value!r} is not allowed (an integer >= 1)")
        if not isinstance(model, (str, Path)) or not str(model):
            raise BackendError(f"clap model={model!r} is not allowed (a hub id or a local folder)")
        self.vocabulary = load_vocabulary(vocabulary)
        self.device, self.dtype, self.batch_size, self.top_k = device, dtype, batch_size, top_k
        self.model_name = str(model)
        local = Path(self.model_name).expanduser().is_dir()
        if local_files_only is None:
            local_files_only = local
        try:
            self.processor = ClapProcessor.from_pretrained(self.model_name, local_files_only=local_files_only)
            self.model = ClapModel.from_pretrained(self.model_name, local_files_only=local_files_only)
        except (OSError, ValueError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise BackendError(f"clap model {self.model_name!r} cannot be loaded ({first}); pass a hub id or a "
                               "local folder with config.json, the weights and the processor files") from None
        self.model.to(device=device, dtype=getattr(torch, dtype)).eval()
        fe = self.processor.feature_extractor
        self.sample_rate = int(fe.sampling_rate)
        self.window = int(getattr(fe, "nb_max_samples", 0) or fe.max_length_s * self.sample_rate)
        self._text = None  # (labels, types, unit text embeddings (labels, dim))

    @classmethod
    def from_pretrained(cls, model: str, **options) -> ClapTagger:
        """Same as ``ClapTagger(model=model, **options)``."""
        return cls(model=model, **options)

    def info(self) -> dict:
        return {"name": "clap", "model": self.model_name, "version": _version(), "device": self.device,
                "dtype": self.dtype, "sample_rate": self.sample_rate,
                "options": {"batch_size": self.batch_size, "top_k": self.top_k, "prompt": PROMPT,
                            "vocabulary_size": len(self.vocabulary), "window_s": self.window / self.sample_rate}}

    # ------------------------------------------------------------------------------------------ API
    def tag(self, wav: np.ndarray, sample_rate: int) -> dict:
        """Type, type scores and tags of one clip.

        Parameters
        ----------
        wav : np.ndarray, shape (channels, samples), float
        sample_rate : int

        Returns
        -------
        dict
            ``{"type": str, "type_scores": {type: float, ...} (sum 1), "tags": [{"label", "score"}]}``
            with ``type`` one of :data:`TYPES` and ``tags`` best first (``top_k`` of them).
        """
        return self.tag_many([wav], sample_rate)[0]

    def tag_many(self, clips, sample_rate: int) -> list[dict]:
        """:meth:`tag` for several clips at one rate, their windows batched together."""
        mono = [self._mono(wav, sample_rate) for wav in clips]
        results: list[dict | None] = [None] * len(mono)
        windows, owner, weight = [], [], []
        for i, (x, level_dbfs) in enumerate(mono):
            if x.size == 0 or level_dbfs < SILENCE_DBFS:
                results[i] = _silence()
                continue
            for start in range(0, x.size, self.window):
                piece = x[start: start + self.window]
                windows.append(piece)
                owner.append(i)
                weight.append(piece.size)
        if windows:
            emb = self._audio_embeddings(windows)                     # (windows, dim), unit norm
            labels, types, text = self._text_embeddings()
            owner_a, weight_a = np.array(owner), np.array(weight, dtype=np.float64)
            scale = float(self.model.logit_scale_a.detach().float().exp().cpu())
            for i in sorted(set(owner)):
                sel = owner_a == i
                e = (emb[sel] * weight_a[sel, None]).sum(axis=0)
                e /= max(np.linalg.norm(e), 1e-12)
                results[i] = self._scores(scale * (text @ e), labels, types)
        return results

    # ---------------------------------------------------------------------------------- internals
    def _mono(self, wav, sample_rate) -> tuple[np.ndarray, float]:
        """Mono at the model's rate, and the RMS level (dBFS) of the input over all its channels."""
        from ..audio.resample import resample
        from ..units import check_audio

        try:
            x = check_audio(wav, sample_rate)
        except InputError as exc:
            raise BackendError(f"clap tagger: {exc}") from None
        level = _rms_dbfs(x)
        x = x.astype(np.float32, copy=False).mean(axis=0)
        return resample(x, sample_rate, self.sample_rate), level

    def _features(self, out):
        return (out.pooler_output if hasattr(out, "pooler_output") else out).float().cpu().numpy()

    def _audio_embeddings(self, windows: list[np.ndarray]) -> np.ndarray:
        import torch

        fe = self.processor.feature_extractor
        out = []
        for first in range(0, len(windows), self.batch_size):
            batch = windows[first: first + self.batch_size]
            inputs = fe(batch, sampling_rate=self.sample_rate, return_tensors="pt")
            inputs = {k: (v.to(self.device, dtype=getattr(torch, self.dtype)) if v.is_floating_point()
                          else v.to(self.device)) for k, v in inputs.items()}
            with torch.inference_mode():
                out.append(self._features(self.model.get_audio_features(**inputs)))
        emb = np.concatenate(out).astype(np.float64)
        return emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)

    def _text_embeddings(self):
        import torch

        if self._text is None:
            labels = [label for label, _ in self.vocabulary]
            types = np.array([kind for _, kind in self.vocabulary])
            prompts = [PROMPT.format(label=label) for label in labels]
            out = []
            for first in range(0, len(prompts), 64):
                tokens = self.processor.tokenizer(prompts[first: first + 64], padding=True, return_tensors="pt")
                tokens = {k: v.to(self.device) for k, v in tokens.items()}
                with torch.inference_mode():
                    out.append(self._features(self.model.get_text_features(**tokens)))
            emb = np.concatenate(out).astype(np.float64)
            self._text = (labels, types, emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12))
        return self._text

    def _scores(self, logits: np.ndarray, labels: list[str], types: np.ndarray) -> dict:
        p = np.exp(logits - logits.max())
        p /= p.sum()
        type_scores = {kind: float(p[types == kind].sum()) for kind in TYPES}
        best = max(TYPES, key=lambda k: type_scores[k])
        order = np.argsort(-p, kind="stable")[: self.top_k]
        return {"type": best, "type_scores": type_scores,
                "tags": [{"label": labels[j], "score": float(p[j])} for j in order]}


def _rms_dbfs(x: np.ndarray) -> float:
    if x.size == 0:
        return -math.inf
    ms = float(np.mean(np.square(x, dtype=np.float64)))
    return 10.0 * math.log10(ms) if ms > 0 else -math.inf


def _silence() -> dict:
    return {"type": "silence", "type_scores": {kind: float(kind == "silence") for kind in TYPES},
            "tags": [{"label": "silence", "score": 1.0}]}
