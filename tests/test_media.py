"""Media decode: decode once, any container/codec/rate/channel count, cut to the sample, clear errors."""
from __future__ import annotations

import os

import numpy as np
import pytest
import soundfile as sf

from avshooter.errors import MediaError, ShotError
from avshooter.media.decode import decode, load_audio, load_mono
from avshooter.media.probe import probe
from avshooter.units import span_samples, to_samples


def _tone(sr, seconds, channels, freq=440.0):
    t = np.arange(int(sr * seconds)) / sr
    return np.stack([0.3 * np.sin(2 * np.pi * freq * (c + 1) * t) for c in range(channels)]).astype(np.float32)


def _encode(path, wav, sr, codec, layout):
    import av

    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=sr, layout=layout)
        fmt = stream.codec_context.codec.audio_formats[0].name
        frame_len = stream.codec_context.frame_size or 1024
        pts = 0
        for start in range(0, wav.shape[1], frame_len):
            chunk = np.ascontiguousarray(wav[:, start:start + frame_len])
            if fmt.endswith("p"):
                frame = av.AudioFrame.from_ndarray(chunk.astype(np.float32), format="fltp", layout=layout)
            else:
                frame = av.AudioFrame.from_ndarray(chunk.T.reshape(1, -1).astype(np.float32), format="flt",
                                                   layout=layout)
            frame.sample_rate = sr
            frame.pts = pts
            pts += chunk.shape[1]
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


def test_to_samples_tiles_without_gaps():
    sr = 44100
    edges = [0.0, 1.0 / 3, 2.123456, 3.5, 7.0 / 3 + 2]
    spans = [span_samples(a, b, sr) for a, b in zip(edges, edges[1:])]
    assert all(spans[i][1] == spans[i + 1][0] for i in range(len(spans) - 1))
    assert to_samples(0.5 / sr, sr) == 1  # half up


@pytest.mark.parametrize(
    "suffix,codec,layout,sr",
    [(".m4a", "aac", "stereo", 48000), (".webm", "libopus", "stereo", 48000), (".mkv", "flac", "mono", 22050),
     (".mp4", "aac", "5.1", 44100), (".ogg", "libopus", "mono", 16000)],
)
def test_decode_codecs_and_layouts(tmp_path, suffix, codec, layout, sr):
    channels = {"mono": 1, "stereo": 2, "5.1": 6}[layout]
    path = tmp_path / f"tone{suffix}"
    _encode(path, _tone(sr, 2.0, channels), sr, codec, layout)
    with decode(path, sample_rate=44100) as d:
        assert d.channels == (1 if channels == 1 else 2)
        assert abs(d.duration_s - 2.0) < 0.06  # encoder priming / padding
        shot = d.read_span(0.5, 1.5)
        assert shot.shape == (d.channels, 44100) and shot.dtype == np.float32
        assert 0.05 < np.sqrt(np.mean(shot ** 2)) < 0.5


@pytest.mark.parametrize("sr", [8000, 11025, 22050, 44100, 96000])
def test_wav_any_rate_exact_length(tmp_path, sr):
    path = tmp_path / f"x{sr}.wav"
    sf.write(path, _tone(sr, 1.5, 2).T, sr)
    wav, out_sr = load_audio(path, sample_rate=32000)
    assert out_sr == 32000 and wav.shape == (2, to_samples(int(sr * 1.5) / sr, 32000))
    d = decode(path, sample_rate=32000)
    a, b = span_samples(0.1, 1.3, 32000)
    assert d.read_span(0.1, 1.3).shape[1] == b - a
    d.close()


@pytest.mark.parametrize("sr", [16000, 48000])
def test_mono_track_is_resampled_once_from_the_source(tmp_path, sr):
    """decode(..., mono_rate): the analysis track comes from the source samples (a 16 kHz file as it is, a
    48 kHz one resampled once), not source -> sample_rate -> mono_rate; same length rule as the main track."""
    path = tmp_path / f"x{sr}.wav"
    sf.write(path, _tone(sr, 1.5, 2).T, sr, subtype="FLOAT")
    direct, _ = load_audio(path, sample_rate=16000, channels=2)  # one resample (none at 16 kHz)
    with decode(path, sample_rate=44100, mono_rate=16000) as d:
        track = d.mono(16000)
        raw = d.mono_track[0]
        d.mono_track = (raw, 8000, d.mono_track[2])  # another rate: read back from the 44.1 kHz track
        twice = d.mono(16000)
    assert not os.path.exists(raw)  # close() removed the mono track's file too
    assert track.dtype == np.float32 and track.shape == (to_samples(1.5, 16000),) == twice.shape
    np.testing.assert_allclose(track, direct.mean(axis=0), atol=1e-6)
    if sr == 16000:
        np.testing.assert_array_equal(track, _tone(sr, 1.5, 2).mean(axis=0).astype(np.float32))
    assert not np.array_equal(track, twice)  # the double resampling is what it replaces
    np.testing.assert_array_equal(load_mono(path, 16000), track)
    with pytest.raises(MediaError, match="mono_rate"):
        decode(path, sample_rate=16000, mono_rate=0)


def test_shot_outside_audio_is_an_error(tmp_path):
    path = tmp_path / "x.wav"
    sf.write(path, _tone(16000, 1.0, 1).T, 16000)
    with decode(path, sample_rate=16000) as d:
        with pytest.raises(ShotError, match="outside"):
            d.read_span(0.5, 2.0)


def test_bad_files(tmp_path, media):
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(MediaError, match="empty"):
        decode(empty, sample_rate=16000)
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"this is not a video" * 100)
    with pytest.raises(MediaError, match="cannot open"):
        decode(junk, sample_rate=16000)
    with pytest.raises(MediaError, match="not found"):
        probe(tmp_path / "missing.mp4")
    with pytest.raises(MediaError, match="no audio stream"):
        decode(media / "video" / "caminandes1_10s_zwm.mp4", sample_rate=16000)
    assert not list(tmp_path.glob("avshooter-*"))


def test_truncated_file_decodes_what_is_there(tmp_path, media):
    data = (media / "video" / "bbb_0-30s_moviepy.webm").read_bytes()
    cut = tmp_path / "cut.webm"
    cut.write_bytes(data[: len(data) // 3])
    try:
        with decode(cut, sample_rate=16000) as d:
            assert 0 < d.duration_s < 25
    except MediaError as exc:
        assert "corrupt" in str(exc) or "truncated" in str(exc)


def test_non_ascii_path_and_cover_art(tmp_path, media):
    path = tmp_path / "アニメ 音声.wav"
    sf.write(path, _tone(16000, 1.0, 1).T, 16000)
    assert probe(path).has_audio
    info = probe(media / "audio" / "vibeace_kevin_macleod.ogg")
    assert info.has_audio and not info.has_video  # cover art is not a video


def test_decode_once_with_video_frames(media):
    frames = []
    with decode(media / "video" / "bbb_0-30s_moviepy.webm", sample_rate=16000,
                on_video_frame=lambda t, f: frames.append((t, f.shape)), frame_size=(64, 36)) as d:
        assert abs(d.duration_s - 30.0) < 0.1
    assert len(frames) == 720 and frames[0][1] == (36, 64)
    assert frames[0][0] < 0.05 and abs(frames[-1][0] - 719 / 24) < 0.05


def test_true_runs():
    from avshooter.units import true_runs

    assert true_runs(np.array([0, 1, 1, 0, 0, 1, 0, 1, 1, 1])) == [(1, 2), (5, 5), (7, 9)]
    assert true_runs(np.array([0.2, 0.0, 0.7])) == [(0, 0), (2, 2)]
    assert true_runs(np.zeros(4)) == [] and true_runs(np.zeros(0)) == []
