"""Voice activity: the batched silero "sequence" model gives the streaming model's numbers and spans."""
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
    from avshooter.audio.vad import _model

    parts = [to_vad_rate(*load_audio(media / "audio" / name)) for name in
             ("libri1_5703-47212-0000.hq.ogg", "vibeace_kevin_macleod.ogg", "libri2_3436-172162-0000.hq.ogg")]
    mono = np.concatenate([parts[0], parts[1][: 12 * VAD_RATE], parts[2]])  # 32 s: 2 blocks of 512 frames
    ref_probs, ref_spans = _streaming(mono)
    probs = _model().audio_forward(mono, VAD_RATE)
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
