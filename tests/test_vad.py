"""Voice activity: our torch-free run of silero's "sequence" model gives silero's streaming numbers and spans."""
from __future__ import annotations

import numpy as np
import pytest

from avshooter.audio.vad import VAD_RATE, speech_fraction, speech_ranges, to_vad_rate
from avshooter.media.decode import load_audio


def _streaming(mono: np.ndarray):
    """silero's own per-frame path (torch tensors, one ONNX call per 32 ms), the reference."""
    torch = pytest.importorskip("torch")
    from silero_vad import get_speech_timestamps, load_silero_vad

    model = load_silero_vad(onnx=True)
    probs = model.audio_forward(torch.from_numpy(mono)[None], VAD_RATE).numpy().reshape(-1)
    stamps = get_speech_timestamps(torch.from_numpy(mono), model, threshold=0.5, sampling_rate=VAD_RATE,
                                   min_speech_duration_ms=250, min_silence_duration_ms=100, speech_pad_ms=30)
    return probs, [(s["start"] / VAD_RATE, s["end"] / VAD_RATE) for s in stamps]


def test_sequence_model_matches_streaming(media):
    from avshooter.audio.vad import speech_probabilities

    parts = [to_vad_rate(*load_audio(media / "audio" / name)) for name in
             ("libri1_5703-47212-0000.hq.ogg", "vibeace_kevin_macleod.ogg", "libri2_3436-172162-0000.hq.ogg")]
    mono = np.concatenate([parts[0], parts[1][: 12 * VAD_RATE], parts[2]])  # 32 s: 2 blocks of 512 frames
    ref_probs, ref_spans = _streaming(mono)
    probs = speech_probabilities(mono)
    assert probs.shape == ref_probs.shape
    np.testing.assert_allclose(probs, ref_probs, atol=1e-4)
    spans = speech_ranges(mono[None], VAD_RATE)
    assert spans == ref_spans
    speech_s = (len(parts[0]) + len(parts[2])) / VAD_RATE
    assert speech_fraction(spans, mono.size / VAD_RATE) * mono.size / VAD_RATE > 0.7 * speech_s  # pauses aside
    music = (len(parts[0]) / VAD_RATE + 0.5, (len(parts[0]) + 12 * VAD_RATE) / VAD_RATE - 0.5)
    in_music = sum(max(0.0, min(e, music[1]) - max(s, music[0])) for s, e in spans)
    assert in_music < 0.2 * (music[1] - music[0])  # the music is mostly not called speech


def test_silence_and_short_clips_have_no_speech():
    assert speech_ranges(np.zeros((2, 44100), np.float32), 44100) == []
    assert speech_ranges(np.full((1, 100), 0.1, np.float32), 16000) == []


@pytest.mark.parametrize("seed", range(6))
def test_span_rule_matches_silero(seed):
    """Our span rule against silero's own on random probability runs (pauses, blips, a speech tail)."""
    pytest.importorskip("torch")
    from silero_vad.utils_vad import get_speech_timestamps_from_probs

    from avshooter.audio.vad import _spans

    rng = np.random.default_rng(seed)
    runs = rng.integers(1, 40, 60)
    probs = np.repeat(rng.choice([0.05, 0.3, 0.45, 0.55, 0.9], len(runs)), runs).astype(np.float32)
    n = len(probs) * 512 - int(rng.integers(0, 511))
    for threshold, speech_ms, silence_ms, pad_ms in [(0.5, 250, 100, 30), (0.4, 100, 300, 200), (0.6, 0, 0, 0)]:
        ref = get_speech_timestamps_from_probs(list(probs), sampling_rate=VAD_RATE, threshold=threshold,
                                               min_speech_duration_ms=speech_ms, min_silence_duration_ms=silence_ms,
                                               speech_pad_ms=pad_ms, audio_length_samples=n)
        ours = _spans(probs, n, threshold=threshold, min_speech=VAD_RATE * speech_ms / 1000,
                      min_silence=VAD_RATE * silence_ms / 1000, pad=VAD_RATE * pad_ms / 1000)
        assert ours == [(s["start"], s["end"]) for s in ref]


def test_vad_never_imports_torch():
    import subprocess
    import sys

    code = ("import sys, numpy as np; from avshooter.audio.vad import speech_ranges; "
            "speech_ranges(np.random.default_rng(0).standard_normal((1, 32000)).astype('float32') * 0.1, 16000); "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "False", out.stderr[-500:]


def test_weights_are_checked(monkeypatch):
    from avshooter.audio import vad
    from avshooter.errors import BackendError

    monkeypatch.setattr(vad, "MODEL_SHA256", "0" * 64)
    with pytest.raises(BackendError, match="does not match the expected SHA-256"):
        vad._model_path()
