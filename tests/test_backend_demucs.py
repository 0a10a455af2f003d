"""Demucs separation backend: tiny random-weight models through the real code paths."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("demucs")

from avshooter.backends import load_backend
from avshooter.backends.demucs_separation import DemucsSeparator
from avshooter.errors import BackendError

SOURCES = ["drums", "bass", "other", "vocals"]


def _tiny(samplerate=16000, seed=0):
    """A small HDemucs (no attention/LSTM in its residual branches): ~0.3 s per second of audio here."""
    from demucs.hdemucs import HDemucs

    torch.manual_seed(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return HDemucs(sources=SOURCES, channels=8, depth=4, nfft=1024, dconv_attn=99, dconv_lstm=99,
                       samplerate=samplerate, segment=4)


def _noise(channels, n, seed=1):
    return (np.random.default_rng(seed).standard_normal((channels, n)) * 0.1).astype(np.float32)


@pytest.fixture(scope="module")
def tiny():
    return _tiny()


@pytest.mark.parametrize("channels, n", [(1, 16000), (2, 16001), (3, 7777)])
def test_shapes_and_sum(tiny, channels, n):
    sep = DemucsSeparator.from_model(tiny)
    x = _noise(channels, n)
    out = sep.separate(x, 16000, speech=[])
    assert set(out) == {"dialogue", "music", "effects"}
    for stem in out.values():
        assert stem.shape == x.shape and stem.dtype == np.float32
        assert np.isfinite(stem).all()
    np.testing.assert_allclose(out["dialogue"] + out["music"] + out["effects"], x, atol=1e-4)
    assert np.any(out["dialogue"]) and np.any(out["music"])


def test_resampled_input_and_own_sources():
    sep = DemucsSeparator.from_model(_tiny(samplerate=44100))
    x = _noise(2, 22050 * 1 + 3)
    est = sep.sources_of(x, 22050)
    assert est.shape == (4, 2, x.shape[1]) and est.dtype == np.float32
    out = sep.separate(x, 22050, speech=[])
    np.testing.assert_allclose(out["dialogue"], est[3], atol=1e-6)
    np.testing.assert_allclose(sum(out.values()), x, atol=1e-4)


def test_chunking_batching_and_shifts_deterministic(tiny):
    x = _noise(2, 16000 * 3 + 5)
    whole = DemucsSeparator.from_model(tiny, segment_s=4.0).sources_of(x, 16000)
    one = DemucsSeparator.from_model(tiny, segment_s=1.0, overlap=0.25).sources_of(x, 16000)
    batched = DemucsSeparator.from_model(tiny, segment_s=1.0, overlap=0.25, batch_size=3).sources_of(x, 16000)
    assert one.shape == whole.shape == (4, 2, x.shape[1])
    np.testing.assert_allclose(batched, one, atol=1e-5)  # batching chunks changes nothing
    a = DemucsSeparator.from_model(tiny, shifts=1, seed=3).sources_of(x[:, :8000], 16000)
    b = DemucsSeparator.from_model(tiny, shifts=1, seed=3).sources_of(x[:, :8000], 16000)
    np.testing.assert_array_equal(a, b)


def test_seeded_model_is_deterministic():
    x = _noise(2, 8000)
    a = DemucsSeparator.from_model(_tiny(seed=5)).separate(x, 16000)
    b = DemucsSeparator.from_model(_tiny(seed=5)).separate(x, 16000)
    for name in a:
        np.testing.assert_array_equal(a[name], b[name])


def test_silence_and_empty(tiny):
    sep = DemucsSeparator.from_model(tiny)
    for x in (np.zeros((2, 1000), np.float32), np.zeros((1, 0), np.float32)):
        out = sep.separate(x, 16000)
        assert all(v.shape == x.shape and not np.any(v) for v in out.values())


def test_loads_from_local_folder_through_get_model(tmp_path, tiny):
    from demucs.states import get_state

    args, kwargs = tiny._init_args_kwargs
    package = {"klass": type(tiny), "args": args, "kwargs": kwargs, "state": get_state(tiny, None)}
    torch.save(package, tmp_path / "tinysig.th")
    (tmp_path / "tinybag.yaml").write_text("models: ['tinysig']\n")
    x = _noise(2, 4000)
    ref = DemucsSeparator.from_model(tiny).separate(x, 16000)
    for name in ("tinysig", "tinybag"):
        sep = load_backend("separation", "demucs", options={"model": name, "repo": str(tmp_path)})
        assert sep.info()["model"] == name and sep.info()["repo"] == str(tmp_path)
        out = sep.separate(x, 16000, speech=[])
        np.testing.assert_allclose(out["dialogue"], ref["dialogue"], atol=1e-5)


def test_loads_hugging_face_layout_folder(tmp_path, tiny):
    """The layout of the demucs Hugging Face repos: <name>.yaml + <sig>.safetensors with json metadata."""
    import json

    from safetensors.torch import save_file

    args, kwargs = tiny._init_args_kwargs
    state = {k: v.contiguous() for k, v in tiny.state_dict().items()}
    save_file(state, str(tmp_path / "abc123.safetensors"), metadata={
        "klass": "demucs.hdemucs.HDemucs", "args": json.dumps(list(args)), "kwargs": json.dumps(kwargs)})
    (tmp_path / "tinyhf.yaml").write_text("models: ['abc123']\n")
    x = _noise(1, 4000)
    ref = DemucsSeparator.from_model(tiny).sources_of(x, 16000)
    got = DemucsSeparator(model="tinyhf", repo=tmp_path).sources_of(x, 16000)
    np.testing.assert_allclose(got, ref, atol=1e-5)


def test_missing_model_or_folder(tmp_path):
    with pytest.raises(BackendError, match="does not exist"):
        DemucsSeparator(model="htdemucs", repo=tmp_path / "nope")
    (tmp_path / "readme.txt").write_text("not a model")
    with pytest.raises(BackendError, match=r"demucs model 'htdemucs' not found in .*expected htdemucs\.th"):
        DemucsSeparator(model="htdemucs", repo=tmp_path)
    (tmp_path / "htdemucs.th").write_bytes(b"garbage")
    with pytest.raises(BackendError, match="cannot be loaded"):
        DemucsSeparator(model="htdemucs", repo=tmp_path)


@pytest.mark.parametrize("options, match", [
    ({"overlap": 1.0}, "overlap"), ({"batch_size": 0}, "batch_size"), ({"dtype": "float16"}, "needs a cuda"),
    ({"dtype": "int8"}, "dtype"), ({"segment_s": 0.1}, "segment_s"), ({"device": "tpu"}, "device"),
])
def test_bad_options(tiny, options, match):
    with pytest.raises(BackendError, match=match):
        DemucsSeparator.from_model(tiny, **options)


def test_out_of_memory_retries_smaller_then_fails(tiny, monkeypatch):
    sep = DemucsSeparator.from_model(tiny, segment_s=4.0, batch_size=2)
    seen = []
    real = type(tiny).forward

    def forward(self, mix):
        seen.append(tuple(mix.shape))
        if mix.shape[0] > 1 or mix.shape[-1] > 16000 * 2:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (test)")
        return real(self, mix)

    monkeypatch.setattr(type(tiny), "forward", forward)
    x = _noise(2, 16000 * 3)
    out = sep.separate(x, 16000)
    assert out["dialogue"].shape == x.shape
    assert seen[-1] == (1, 2, 16000 * 2)  # batch halved to 1, then the 4 s chunks halved to 2 s

    def always(self, mix):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory (test)")

    monkeypatch.setattr(type(tiny), "forward", always)
    with pytest.raises(BackendError, match="ran out of cpu memory"):
        sep.separate(x, 16000)
