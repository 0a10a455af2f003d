"""CLAP tagger backend: a tiny random-weight ClapModel saved to a folder and loaded the real way."""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from avshooter.backends import load_backend
from avshooter.backends.clap_tagger import TYPES, ClapTagger, load_vocabulary
from avshooter.errors import BackendError

SR = 16000  # the tiny feature extractor's rate (the LAION checkpoints use 48 kHz)


def _save_tiny_clap(folder, seed=0):
    """ClapModel + ClapProcessor with random weights and an in-memory byte-level tokenizer."""
    from tokenizers.pre_tokenizers import ByteLevel
    from transformers import (
        ClapAudioConfig,
        ClapConfig,
        ClapFeatureExtractor,
        ClapModel,
        ClapProcessor,
        ClapTextConfig,
        RobertaTokenizer,
    )

    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    vocab = {tok: i for i, tok in enumerate(specials + sorted(ByteLevel.alphabet()))}
    tokenizer = RobertaTokenizer(vocab=vocab, merges=[])
    extractor = ClapFeatureExtractor(feature_size=16, sampling_rate=SR, hop_length=640, fft_window_size=512,
                                     max_length_s=2, frequency_max=8000, truncation="rand_trunc",
                                     padding="repeatpad")
    text = ClapTextConfig(vocab_size=len(vocab), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                          intermediate_size=32, projection_dim=16, max_position_embeddings=80)
    # 2 s windows at 640-sample hops = 51 frames <= spec_size * (spec_size // num_mel_bins) = 256
    audio = ClapAudioConfig(spec_size=64, num_mel_bins=16, window_size=4, depths=[1, 1], num_attention_heads=[2, 2],
                            patch_embeds_hidden_size=8, hidden_size=16, projection_dim=16, num_hidden_layers=2)
    torch.manual_seed(seed)
    model = ClapModel(ClapConfig(text_config=text, audio_config=audio, projection_dim=16)).eval()
    model.save_pretrained(folder)
    ClapProcessor(feature_extractor=extractor, tokenizer=tokenizer).save_pretrained(folder)
    return str(folder)


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return _save_tiny_clap(tmp_path_factory.mktemp("clap"))


@pytest.fixture(scope="module")
def tagger(tiny_dir):
    return ClapTagger(model=tiny_dir, top_k=5, batch_size=2)


def _noise(channels, n, seed=0):
    return (np.random.default_rng(seed).standard_normal((channels, n)) * 0.1).astype(np.float32)


def _check(result, top_k):
    assert set(result) == {"type", "type_scores", "tags"}
    assert result["type"] in TYPES
    assert set(result["type_scores"]) == set(TYPES)
    assert sum(result["type_scores"].values()) == pytest.approx(1.0, abs=1e-6)
    assert result["type"] == max(result["type_scores"], key=result["type_scores"].get)
    tags = result["tags"]
    assert len(tags) == top_k and all(set(t) == {"label", "score"} for t in tags)
    scores = [t["score"] for t in tags]
    assert scores == sorted(scores, reverse=True) and all(0 <= s <= 1 for s in scores)


def test_shipped_vocabulary():
    vocab = load_vocabulary()
    assert 80 <= len(vocab) <= 150
    assert {kind for _, kind in vocab} == set(TYPES)
    assert ("speech", "speech") in vocab and ("rain", "ambience") in vocab


@pytest.mark.parametrize("channels, n, sr", [(1, SR, SR), (2, 44100 * 5 + 7, 44100), (1, 100, 8000)])
def test_tag_structure(tagger, channels, n, sr):
    _check(tagger.tag(_noise(channels, n), sr), 5)


def test_deterministic_and_cached(tiny_dir, tagger):
    x = _noise(2, SR * 5)  # three 2 s windows: batched 2 + 1, averaged by duration
    a = tagger.tag(x, SR)
    text = tagger._text
    b = tagger.tag(x, SR)
    assert tagger._text is text  # text embeddings are computed once
    assert a == b
    other = ClapTagger(model=tiny_dir, top_k=5, batch_size=16)  # batching does not change the answer
    c = other.tag(x, SR)
    assert [t["label"] for t in c["tags"]] == [t["label"] for t in a["tags"]]
    np.testing.assert_allclose([t["score"] for t in c["tags"]], [t["score"] for t in a["tags"]], atol=1e-5)


def test_tag_many_matches_tag(tagger):
    clips = [_noise(1, SR * 3, seed=1), np.zeros((1, SR), np.float32), _noise(2, SR, seed=2)]
    many = tagger.tag_many(clips, SR)
    assert many[1]["type"] == "silence"
    for clip, res in zip(clips, many):
        one = tagger.tag(clip, SR)
        assert one["type"] == res["type"] and [t["label"] for t in one["tags"]] == [t["label"] for t in res["tags"]]


def test_silence_needs_no_model(tagger, monkeypatch):
    def boom(*a, **k):
        raise AssertionError("model called on silence")

    monkeypatch.setattr(tagger.model, "get_audio_features", boom)
    for x in (np.zeros((2, SR), np.float32), np.full((1, SR), 1e-4, np.float32), np.zeros((1, 0), np.float32)):
        result = tagger.tag(x, SR)
        assert result["type"] == "silence" and result["type_scores"]["silence"] == 1.0


def test_registry_and_info(tiny_dir):
    tagger = load_backend("tagger", "clap", options={"model": tiny_dir, "top_k": 3})
    info = tagger.info()
    assert info["name"] == "clap" and info["model"] == tiny_dir and info["sample_rate"] == SR
    assert info["options"]["top_k"] == 3 and info["options"]["window_s"] == 2.0
    _check(tagger.tag(_noise(1, SR), SR), 3)


def test_custom_vocabulary(tiny_dir, tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_text("# mine\nspeech\tspeech\npiano\tmusic\npunch\teffects\n")
    tagger = ClapTagger(model=tiny_dir, vocabulary=path, top_k=3)
    result = tagger.tag(_noise(1, SR), SR)
    assert {t["label"] for t in result["tags"]} == {"speech", "piano", "punch"}
    assert result["type_scores"]["ambience"] == 0.0


def test_errors(tiny_dir, tmp_path):
    with pytest.raises(BackendError, match="cannot be loaded"):
        ClapTagger(model=str(tmp_path))  # an empty folder
    with pytest.raises(BackendError, match="type 'noise'"):
        load_vocabulary({"hiss": "noise"})
    bad = tmp_path / "bad.txt"
    bad.write_text("no tab here\n")
    with pytest.raises(BackendError, match="line 1"):
        load_vocabulary(bad)
    with pytest.raises(BackendError, match="needs a cuda"):
        ClapTagger(model=tiny_dir, dtype="float16")
    with pytest.raises(BackendError, match="top_k"):
        ClapTagger(model=tiny_dir, top_k=0)
    tagger = ClapTagger(model=tiny_dir)
    with pytest.raises(BackendError, match="shape"):
        tagger.tag(np.zeros(100, np.float32), SR)
