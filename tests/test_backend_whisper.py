"""The two Whisper ASR backends on tiny random-weight models, loaded from folders like real checkpoints.

Random weights give junk text: these tests check structure, gating by speech, times inside the speech
pieces, language handling, determinism and the error paths, not the words.
"""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from avshooter.backends.whisper_common import WHISPER_RATE, speech_pieces
from avshooter.errors import BackendError, InputError

pytest.importorskip("transformers")
SR = 44100
SPEECH = [(0.5, 1.4), (1.6, 2.0), (3.0, 4.5)]  # the first two merge (gap < 0.5 s)
PIECES = [(0.3, 2.2), (2.8, 4.7)]  # merged and padded by 0.2 s


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """Folders of one tiny Whisper: transformers (``hf``) and CTranslate2 (``ct2``)."""
    from whisper_tiny import build_hf_folder, convert_ct2

    base = tmp_path_factory.mktemp("whisper_tiny")
    hf = build_hf_folder(base / "hf")
    return {"hf": str(hf), "ct2": str(convert_ct2(hf, base / "ct2"))}


@pytest.fixture(scope="module")
def clip():
    rng = np.random.default_rng(0)
    return (rng.standard_normal((2, int(5.5 * SR))) * 0.1).astype(np.float32)


def _check(result, pieces=PIECES):
    assert set(result) == {"text", "language", "language_prob", "words", "segments"}
    assert isinstance(result["text"], str)
    for item in result["segments"] + result["words"]:
        assert any(s - 1e-6 <= item["start_s"] <= item["end_s"] <= e + 1e-6 for s, e in pieces), item
    for seg in result["segments"]:  # faster-whisper's windows also give each segment its language
        assert {"start_s", "end_s", "text"} <= set(seg) <= {"start_s", "end_s", "text", "language", "language_prob"}
    for word in result["words"]:
        assert set(word) == {"word", "start_s", "end_s", "prob"} and 0.0 <= word["prob"] <= 1.0
    starts = [s["start_s"] for s in result["segments"]]
    assert starts == sorted(starts)


# ---------------------------------------------------------------- gating

def test_speech_pieces_merge_pad_and_cut():
    assert speech_pieces(SPEECH, 5.5) == PIECES
    assert speech_pieces([], 5.0) == [] and speech_pieces(None, 5.0) == []
    assert speech_pieces([(0.05, 0.5), (4.9, 9.0)], 5.0) == [(0.0, 0.7), (4.7, 5.0)]  # kept inside the clip
    long = speech_pieces([(1.0, 71.0)], 80.0)
    assert len(long) == 3 and all(e - s <= 30.0 for s, e in long)
    assert long[0][0] == pytest.approx(0.8) and long[-1][1] == pytest.approx(71.2)
    assert all(a[1] == b[0] for a, b in itertools.pairwise(long))  # pieces tile the range
    # a long stretch of speech with short pauses (merged into one range) is cut in its pauses, not mid-word
    talk = [(1.0, 10.0), (10.3, 25.0), (25.2, 40.0), (40.4, 60.0)]
    paused = speech_pieces(talk, 80.0)
    assert paused == [(0.8, 25.1), (25.1, 40.2), (40.2, 60.2)]
    assert all(not any(a < cut < b for a, b in talk) for cut in (p[1] for p in paused[:-1]))
    assert all(e - s <= 30.0 for s, e in paused)
    with pytest.raises(InputError, match="speech range #0"):
        speech_pieces([(2.0, 1.0)], 5.0)
    with pytest.raises(InputError, match="pair of numbers"):
        speech_pieces(["x"], 5.0)


# ---------------------------------------------------------------- faster-whisper

@pytest.fixture(scope="module")
def fw(tiny):
    from avshooter.backends.faster_whisper_asr import FasterWhisperASR

    return FasterWhisperASR(model=tiny["ct2"], beam_size=1, temperature=0.0, max_new_tokens=8)


def test_faster_whisper_beam_by_language(tiny, fw):
    from avshooter.backends.faster_whisper_asr import FasterWhisperASR

    assert fw.options.beam_size_by_language == {"ja": 10}      # Japanese at beam 10 by default (issue 20)
    assert fw._decode_kwargs("ja")["beam_size"] == 10 and fw._decode_kwargs("en")["beam_size"] == 1
    for bad in ({"ja": 0}, {"ja": "5"}, ["ja", 5]):
        with pytest.raises(BackendError, match="beam_size_by_language"):
            FasterWhisperASR(model=tiny["ct2"], beam_size_by_language=bad)


def test_faster_whisper_transcribes_only_speech(fw, clip):
    result = fw.transcribe(clip, SR, speech=SPEECH)
    _check(result)
    assert result["segments"] and result["words"]
    assert result["language"] in fw._model.supported_languages and 0 < result["language_prob"] <= 1
    assert fw.transcribe(clip, SR, speech=SPEECH) == result  # deterministic
    info = fw.info()
    assert info["name"] == "faster-whisper" and info["dtype"] == "int8" and info["device"] == "cpu"


def test_faster_whisper_one_encoder_pass_per_window(tiny, clip):
    from avshooter.backends.faster_whisper_asr import FasterWhisperASR
    from avshooter.backends.whisper_common import pack_windows

    assert pack_windows([(0.0, 10.0), (11.0, 25.0), (26.0, 36.0), (40.0, 41.0)], 30.0) == [
        [(0.0, 10.0), (11.0, 25.0)], [(26.0, 36.0), (40.0, 41.0)]]
    asr = FasterWhisperASR(model=tiny["ct2"], beam_size=1, temperature=0.0, max_new_tokens=8)
    real, calls = asr._model.model, []

    class Counting:  # counts CTranslate2 encoder passes, delegates everything else
        def __getattr__(self, name):
            return getattr(real, name)

        def encode(self, *args, **kwargs):
            calls.append(1)
            return real.encode(*args, **kwargs)

    asr._model.model = Counting()
    remembering, asked = asr._model.encode, []
    asr._model.encode = lambda features: (asked.append(1), remembering(features))[1]
    result = asr.transcribe(clip, SR, speech=SPEECH)  # two pieces, one window; language identified on it
    _check(result)
    # the window encoded for language id is not encoded again for its transcription (random weights make
    # Whisper seek within the window, so later passes on other frames are real ones)
    assert len(asked) == len(calls) + 1 and result["language_prob"] is not None


def test_faster_whisper_no_speech_no_model_call(fw, clip, monkeypatch):
    def boom(*args, **kwargs):
        raise AssertionError("the model must not run without speech")

    monkeypatch.setattr(fw._model, "transcribe", boom)
    monkeypatch.setattr(fw._model, "detect_language", boom)
    assert fw.transcribe(clip, SR, speech=[]) == {"text": "", "language": None, "language_prob": None,
                                                   "words": [], "segments": []}
    assert fw.transcribe(clip, SR, speech=[(9.0, 10.0)])["text"] == ""  # outside the clip


def test_faster_whisper_language_given_and_candidates(tiny, clip):
    from avshooter.backends import load_backend

    ja = load_backend("asr", "faster-whisper", options={"model": tiny["ct2"], "language": "ja", "beam_size": 1,
                                                        "temperature": 0.0, "max_new_tokens": 4})
    result = ja.transcribe(clip[:, : 3 * SR], SR, speech=[(1.0, 2.0)])
    _check(result, [(0.8, 2.2)])
    assert result["language"] == "ja" and result["language_prob"] is None
    pick = load_backend("asr", "faster-whisper", options={"model": tiny["ct2"], "languages": ["ja", "en"],
                                                          "temperature": 0.0, "max_new_tokens": 4})
    result = pick.transcribe(clip, SR, speech=[(1.0, 2.0)])
    assert result["language"] in ("ja", "en") and 0.5 <= result["language_prob"] <= 1.0


def test_faster_whisper_errors(tiny, tmp_path):
    from avshooter.backends.faster_whisper_asr import FasterWhisperASR

    with pytest.raises(BackendError, match="unknown option"):
        FasterWhisperASR(model=tiny["ct2"], beam=3)
    with pytest.raises(BackendError, match="cannot load model"):
        FasterWhisperASR(model=str(tmp_path))
    with pytest.raises(BackendError, match="best_of must be"):
        FasterWhisperASR(model=tiny["ct2"], best_of=0)
    with pytest.raises(BackendError, match="language 'xx'"):
        FasterWhisperASR(model=tiny["ct2"], language="xx")
    with pytest.raises(BackendError, match="device"):
        FasterWhisperASR(model=tiny["ct2"], device="tpu")


# ---------------------------------------------------------------- transformers

@pytest.fixture(scope="module")
def hfw(tiny):
    from avshooter.backends.transformers_whisper_asr import TransformersWhisperASR

    return TransformersWhisperASR(model=tiny["hf"], max_new_tokens=8)


def test_transformers_whisper_transcribes_only_speech(hfw, clip):
    result = hfw.transcribe(clip, SR, speech=SPEECH)
    _check(result)
    assert result["segments"] and result["words"]  # words timed by the alignment heads
    assert result["language"] in hfw._lang_ids and 0 < result["language_prob"] <= 1
    assert hfw.transcribe(clip, SR, speech=SPEECH) == result  # deterministic
    info = hfw.info()
    assert info["name"] == "whisper" and info["dtype"] == "float32" and "DTW" in info["word_timing"]


def test_transformers_whisper_same_language_id_as_faster_whisper(hfw, fw, clip):
    # same weights, same rule (language-token probabilities after <|startoftranscript|>)
    a = hfw.transcribe(clip, SR, speech=SPEECH)
    b = fw.transcribe(clip, SR, speech=SPEECH)
    assert a["language"] == b["language"] and a["language_prob"] == pytest.approx(b["language_prob"], rel=0.05)


def test_transformers_whisper_no_speech_no_model_call(hfw, clip, monkeypatch):
    def boom(*args, **kwargs):
        raise AssertionError("the model must not run without speech")

    monkeypatch.setattr(hfw, "_transcribe", boom)
    assert hfw.transcribe(clip, SR, speech=[])["text"] == ""


def test_transformers_whisper_language_given_at_16k_mono(tiny):
    from avshooter.backends.transformers_whisper_asr import TransformersWhisperASR

    asr = TransformersWhisperASR(model=tiny["hf"], language="ja", max_new_tokens=4, batch_size=1,
                                 word_timestamps=False)
    wav = (np.random.default_rng(1).standard_normal((1, 3 * WHISPER_RATE)) * 0.1).astype(np.float32)
    result = asr.transcribe(wav, WHISPER_RATE, speech=[(0.5, 1.0), (2.0, 2.5)])
    _check(result, [(0.3, 1.2), (1.8, 2.7)])
    assert result["language"] == "ja" and result["language_prob"] is None and result["words"] == []


def test_transformers_whisper_out_of_memory_halves_batch(hfw, clip, monkeypatch):
    real, seen = hfw._transcribe, []

    def flaky(audio, pieces, batch):
        seen.append(batch)
        if batch > 2:
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real(audio, pieces, batch)

    monkeypatch.setattr(hfw, "_transcribe", flaky)
    monkeypatch.setattr("torch.cuda.empty_cache", lambda: None)
    _check(hfw.transcribe(clip, SR, speech=SPEECH))
    assert seen == [8, 4, 2]

    monkeypatch.setattr(hfw, "_transcribe", lambda *a: (_ for _ in ()).throw(RuntimeError("CUDA out of memory")))
    with pytest.raises(BackendError, match="out of GPU memory even at batch size 1"):
        hfw.transcribe(clip, SR, speech=SPEECH)


def test_transformers_whisper_errors(tiny, tmp_path):
    from avshooter.backends.transformers_whisper_asr import TransformersWhisperASR

    with pytest.raises(BackendError, match="unknown option"):
        TransformersWhisperASR(model=tiny["hf"], beams=2)
    with pytest.raises(BackendError, match="cannot load model"):
        TransformersWhisperASR(model=str(tmp_path), local_files_only=True)
    with pytest.raises(BackendError, match="dtype"):
        TransformersWhisperASR(model=tiny["hf"], dtype="int4")
    with pytest.raises(BackendError, match="language 'xx'"):
        TransformersWhisperASR(model=tiny["hf"], language="xx")


def test_faster_whisper_fallback_options_reach_the_library(fw, clip, monkeypatch):
    """The fallback schedule (temperatures, best_of) and the token cap are passed to faster-whisper's transcribe."""
    seen = []
    real = fw._model.transcribe
    monkeypatch.setattr(fw._model, "transcribe", lambda *a, **kw: (seen.append(kw), real(*a, **kw))[1])
    fw.transcribe(clip, SR, speech=SPEECH)
    assert seen and seen[0]["temperature"] == 0.0 and seen[0]["best_of"] == 5 and seen[0]["max_new_tokens"] == 8


def test_faster_whisper_default_fallback_and_its_output_version(monkeypatch):
    """Default: greedy first, then 0.4 and 0.8 sampled best of 5 (bench_asr_fallback.py); a config hash covers the
    asr output version."""
    import dataclasses

    from avshooter import config
    from avshooter.backends.faster_whisper_asr import FasterWhisperOptions

    opts = FasterWhisperOptions()
    assert opts.temperature == (0.0, 0.4, 0.8) and opts.best_of == 5
    assert config.OUTPUT_VERSIONS["asr:faster-whisper"] == "4"
    cfg = config.AnnotateConfig()
    before = config.config_hash(cfg)
    no_asr = config.config_hash(dataclasses.replace(cfg, asr="none"))
    monkeypatch.setitem(config.OUTPUT_VERSIONS, "asr:faster-whisper", "test-bump")
    assert config.config_hash(cfg) != before
    assert config.config_hash(dataclasses.replace(cfg, asr="none")) == no_asr
    assert config.config_hash(dataclasses.replace(cfg, asr_options={"best_of": 2})) != config.config_hash(cfg)
