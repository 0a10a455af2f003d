"""Subnormals flushed inside a block only, and what flushing may not change: loudness, FLAC samples, YIN."""
from __future__ import annotations

import contextlib

import numpy as np
import pytest
from scipy import signal

from avshooter.audio import loudness
from avshooter.audio.subnormal import flush_subnormals, flushing_available

TINY = np.float32(1e-39)  # a float32 subnormal


def _times_one(x):
    return float(np.multiply(x, np.float32(1.0)))


def test_flush_is_confined_to_the_block_and_restored_after_an_error():
    assert _times_one(TINY) != 0.0
    with flush_subnormals():
        inside = _times_one(TINY)
    assert _times_one(TINY) != 0.0
    if flushing_available():
        assert inside == 0.0
    with pytest.raises(RuntimeError):
        with flush_subnormals():
            raise RuntimeError("boom")
    assert _times_one(TINY) != 0.0  # restored on the way out of an exception too


def _burst_then_silence(sr=44100, seconds=12.0):
    rng = np.random.default_rng(3)
    x = np.zeros((2, int(seconds * sr)), np.float32)
    for start in (0.04, 0.5):  # two 1 s bursts, each followed by exact zeros (a gated stem's silences)
        a = int(start * seconds * sr)
        x[:, a:a + sr] = 0.1 * rng.standard_normal((2, sr))
    return x, sr


def test_k_weighting_rings_into_subnormals_and_flushing_removes_them():
    x, sr = _burst_then_silence()
    sos = loudness.k_weighting_sos(sr).astype(np.float32)
    plain = signal.sosfilt(sos, x, axis=1)
    tiny = np.finfo(np.float32).tiny
    assert np.count_nonzero((plain != 0) & (np.abs(plain) < tiny)) > 1000  # the slow case exists
    flushed = loudness._k_weighted(x, sr)
    if flushing_available():
        assert np.count_nonzero((flushed != 0) & (np.abs(flushed) < tiny)) == 0
    big = np.abs(plain) >= 1e-20  # every value that can reach a float32 square is the same
    np.testing.assert_array_equal(flushed[big], plain[big])


def test_loudness_is_bit_identical_with_and_without_flushing(monkeypatch):
    x, sr = _burst_then_silence()
    quiet = x * np.float32(1e-3)  # near the absolute gate
    with_flush = [loudness.integrated_loudness(w, sr) for w in (x, quiet, x[:1])]
    range_flush = loudness.loudness_range(x, sr)
    monkeypatch.setattr(loudness, "flush_subnormals", contextlib.nullcontext)
    assert [loudness.integrated_loudness(w, sr) for w in (x, quiet, x[:1])] == with_flush
    assert loudness.loudness_range(x, sr) == range_flush


def test_yin_on_wanted_frames_equals_yin_on_all():
    from avshooter.audio.features import ANALYSIS_RATE, _yin

    rng = np.random.default_rng(5)
    t = np.arange(3 * ANALYSIS_RATE) / ANALYSIS_RATE
    x = (0.3 * np.sin(2 * np.pi * 220 * t) + 0.05 * rng.standard_normal(t.size)).astype(np.float32)
    x[ANALYSIS_RATE:2 * ANALYSIS_RATE] = 0.0
    full = _yin(x)
    wanted = rng.random(full.size + 7) < 0.6  # longer than the frames: the extra entries are ignored
    part = _yin(x, wanted)
    keep = wanted[: full.size]
    np.testing.assert_array_equal(part[keep], full[keep])
    assert np.isnan(part[~keep]).all()
    assert np.isnan(_yin(x, np.zeros(full.size, bool))).all()


def test_flac_preset_keeps_every_sample(tmp_path):
    import soundfile as sf

    from avshooter.io.output import write_audio

    x, sr = _burst_then_silence(seconds=3.0)
    x[:, 10] = 1.0
    write_audio(tmp_path / "a.flac", x, sr)
    sf.write(tmp_path / "b.flac", x.T, sr, format="FLAC", subtype="PCM_24")  # libsndfile's default preset
    a, _ = sf.read(tmp_path / "a.flac", dtype="int32")
    b, _ = sf.read(tmp_path / "b.flac", dtype="int32")
    np.testing.assert_array_equal(a, b)
