"""Diffusers text-to-audio backends (AudioLDM2, Stable Audio Open) on tiny random-weight pipelines.

Each pipeline is built from config (tests/tiny_diffusers.py), saved to a folder and loaded by our backend
from that folder: the same code path as a real checkpoint. We assert lengths to the sample, sample
rates, channels, determinism by seed and error handling, not audio values.
"""
from __future__ import annotations

import numpy as np
import pytest

from avshooter.errors import BackendError, InputError
from avshooter.units import to_samples

pytest.importorskip("diffusers")
torch = pytest.importorskip("torch")

from tiny_diffusers import save_tiny_clap, tiny_audioldm2, tiny_stable_audio

STEPS = 2


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    # tiny models: thread start-up costs more than the maths, and far more on a busy shared CPU
    # (measured 0.08 s vs 4.9 s per AudioLDM2 call at load 7 on 2 cores)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def audioldm2_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny-audioldm2")
    tiny_audioldm2().save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def ldm(audioldm2_folder):
    from avshooter.backends.text_to_audio.audioldm2 import AudioLDM2

    return AudioLDM2(model=str(audioldm2_folder), steps=STEPS, bucket_s=0)


@pytest.fixture(scope="session")
def stable_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny-stable-audio")
    tiny_stable_audio().save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def clap_folder(tmp_path_factory):
    return save_tiny_clap(tmp_path_factory.mktemp("tiny-clap"))


@pytest.fixture(scope="session")
def sao(stable_folder, clap_folder):
    pytest.importorskip("torchsde")
    from avshooter.backends.text_to_audio.stable_audio import StableAudioOpen

    return StableAudioOpen(model=str(stable_folder), steps=STEPS, clap_model=str(clap_folder))


def _close(a, b):
    return np.allclose(a, b, rtol=0, atol=1e-3 * max(np.abs(a).max(), np.abs(b).max(), 1e-12))


# -- registry ----------------------------------------------------------------------------------------
def test_registry_names_and_cache(audioldm2_folder):
    from avshooter.backends.text_to_audio import REGISTRY, load_tta

    assert REGISTRY["audioldm2"] == "avshooter.backends.text_to_audio.audioldm2:AudioLDM2"
    assert REGISTRY["stable-audio"] == "avshooter.backends.text_to_audio.stable_audio:StableAudioOpen"
    assert REGISTRY["retrieval"] == "avshooter.backends.text_to_audio.retrieval:RetrievalTTA"
    options = {"model": str(audioldm2_folder), "steps": STEPS}
    first = load_tta("audioldm2", options=options)
    assert load_tta("audioldm2", options=dict(options)) is first
    with pytest.raises(BackendError, match="unknown text-to-audio backend 'nope'"):
        load_tta("nope")


# -- AudioLDM2 ---------------------------------------------------------------------------------------
def test_audioldm2_lengths_rate_and_info(ldm):
    durations = [0.3337, 0.61]
    out = ldm.generate(["a dog barks", "rain on a tin roof"], durations, seeds=[0, 1])
    assert ldm.sample_rate == 16000 and ldm.max_duration_s == 30.0
    for item, duration, seed in zip(out, durations, [0, 1]):
        assert item["wav"].dtype == np.float32
        assert item["wav"].shape == (1, to_samples(duration, 16000))
        assert item["seed"] == seed and item["score"] is None and item["candidates"] == 1
        assert item["silent"] is False and np.isfinite(item["wav"]).all()
    info = ldm.info()
    assert info["name"] == "audioldm2" and info["scheduler"] == "ddim" and info["steps"] == STEPS
    assert info["dtype"] == "float32" and info["device"] == "cpu" and info["guidance"] == 3.5


def test_audioldm2_determinism_by_seed(ldm):
    a = ldm.generate(["a dog barks"], [0.3], seeds=[7])[0]["wav"]
    b = ldm.generate(["a dog barks"], [0.3], seeds=[7])[0]["wav"]
    c = ldm.generate(["a dog barks"], [0.3], seeds=[8])[0]["wav"]
    assert np.array_equal(a, b)
    assert not np.allclose(a, c)


def test_audioldm2_batch_matches_single(ldm):
    # same token lengths: no padding difference between the batched and the single call
    prompts = ["a dog barks", "a cat meows"]
    batched = ldm.generate(prompts, [0.3, 0.3], seeds=[3, 4])
    single = [ldm.generate([p], [0.3], seeds=[s])[0] for p, s in zip(prompts, [3, 4])]
    for b, s in zip(batched, single):
        assert _close(b["wav"], s["wav"])


def test_audioldm2_candidates_ranked_and_reproducible(ldm):
    out = ldm.generate(["glass breaking"], [0.25], seeds=[5], num_candidates=2)[0]
    assert out["candidates"] == 2 and isinstance(out["score"], float) and -1.0 <= out["score"] <= 1.0
    assert out["seed"] in (5, 5 + 1_000_003)
    again = ldm.generate(["glass breaking"], [0.25], seeds=[out["seed"]])[0]
    assert _close(out["wav"], again["wav"])


def test_audioldm2_dpmsolver_and_bucketing(audioldm2_folder):
    from avshooter.backends.text_to_audio.audioldm2 import AudioLDM2

    backend = AudioLDM2(model=str(audioldm2_folder), scheduler="dpmsolver", steps=STEPS, negative_prompt=None)
    out = backend.generate(["wind", "a door slams"], [0.21, 0.9], seeds=[0, 0])  # one 1 s bucket, one call
    assert [o["wav"].shape for o in out] == [(1, 3360), (1, 14400)]
    assert backend.info()["scheduler"] == "dpmsolver"
    assert type(backend.pipe.scheduler).__name__ == "DPMSolverMultistepScheduler"


def test_audioldm2_nan_and_silence(ldm, monkeypatch):
    original = ldm.pipe.mel_spectrogram_to_waveform
    monkeypatch.setattr(ldm.pipe, "mel_spectrogram_to_waveform", lambda mel: original(mel) * 0.0)
    out = ldm.generate(["silence"], [0.1], seeds=[0])[0]
    assert out["silent"] is True and out["wav"].shape == (1, 1600)
    monkeypatch.setattr(ldm.pipe, "mel_spectrogram_to_waveform", lambda mel: original(mel) * float("nan"))
    with pytest.raises(BackendError, match="returned NaN"):
        ldm.generate(["noise"], [0.1], seeds=[0])


def test_audioldm2_bad_requests(ldm, audioldm2_folder, tmp_path):
    from avshooter.backends.text_to_audio.audioldm2 import AudioLDM2

    with pytest.raises(InputError, match="prompt 1 is empty"):
        ldm.generate(["ok", "  "], [0.1, 0.1], seeds=[0, 1])
    with pytest.raises(InputError, match="above this backend's max_duration_s"):
        ldm.generate(["long"], [31.0], seeds=[0])
    with pytest.raises(InputError, match="as many durations_s and seeds"):
        ldm.generate(["a", "b"], [0.1], seeds=[0, 1])
    with pytest.raises(BackendError, match="unknown option"):
        AudioLDM2(model=str(audioldm2_folder), sampler="x")
    with pytest.raises(BackendError, match="does not exist"):
        AudioLDM2(model=str(tmp_path / "missing"))
    with pytest.raises(BackendError, match="scheduler 'euler'"):
        AudioLDM2(model=str(audioldm2_folder), scheduler="euler")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without CUDA")
def test_cuda_requested_without_cuda():
    from avshooter.backends.text_to_audio.audioldm2 import AudioLDM2
    from avshooter.backends.text_to_audio.stable_audio import StableAudioOpen

    for cls in (AudioLDM2, StableAudioOpen):
        with pytest.raises(BackendError, match=r"device 'cuda' is not available \(torch.cuda.is_available\(\) is False\)"):
            cls(device="cuda")


# -- Stable Audio Open -------------------------------------------------------------------------------
def test_stable_audio_lengths_rate_and_window(sao):
    window_s = 128 * 256 / 44100
    assert sao.sample_rate == 44100 and sao.max_duration_s == pytest.approx(window_s)
    durations = [0.2345, 0.61, sao.max_duration_s]  # buckets 0.5 s, window (capped), window
    out = sao.generate(["a dog barks", "rain", "thunder"], durations, seeds=[0, 1, 2])
    for item, duration in zip(out, durations):
        assert item["wav"].dtype == np.float32
        assert item["wav"].shape == (2, to_samples(duration, 44100))
        assert item["score"] is None and item["candidates"] == 1 and np.isfinite(item["wav"]).all()
    assert out[2]["wav"].shape[1] == 128 * 256
    assert sao.info()["scheduler"] == "CosineDPMSolverMultistepScheduler"


def test_stable_audio_determinism_and_batching(sao):
    prompts = ["a dog barks", "a cat meows"]
    batched = sao.generate(prompts, [0.4, 0.4], seeds=[11, 12])
    single = [sao.generate([p], [0.4], seeds=[s])[0] for p, s in zip(prompts, [11, 12])]
    for b, s in zip(batched, single):
        assert _close(b["wav"], s["wav"])
    again = sao.generate(prompts[:1], [0.4], seeds=[11])[0]["wav"]
    assert np.array_equal(single[0]["wav"], again)
    other = sao.generate(prompts[:1], [0.4], seeds=[13])[0]["wav"]
    assert not np.allclose(single[0]["wav"], other)


def test_stable_audio_candidates_with_clap(sao):
    out = sao.generate(["footsteps"], [0.3], seeds=[4], num_candidates=2)[0]
    assert out["candidates"] == 2 and isinstance(out["score"], float)
    assert out["seed"] in (4, 4 + 1_000_003) and out["wav"].shape == (2, to_samples(0.3, 44100))


def test_stable_audio_errors(sao, stable_folder, monkeypatch):
    from avshooter.backends.text_to_audio.stable_audio import StableAudioOpen

    with pytest.raises(InputError, match="max_duration_s"):
        sao.generate(["long"], [1.0], seeds=[0])
    no_clap = StableAudioOpen(model=str(stable_folder), steps=STEPS)
    with pytest.raises(InputError, match="needs a CLAP ranker"):
        no_clap.generate(["x"], [0.2], seeds=[0], num_candidates=2)
    from diffusers.models.autoencoders.vae import DecoderOutput

    original = sao.pipe.vae.decode
    monkeypatch.setattr(sao.pipe.vae, "decode", lambda z: DecoderOutput(sample=original(z).sample * float("nan")))
    with pytest.raises(BackendError, match="returned NaN"):
        sao.generate(["noise"], [0.2], seeds=[0])
