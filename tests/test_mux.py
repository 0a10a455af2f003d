"""mux: stream copy of shot videos (packet bytes unchanged), AAC audio, durations, re-encode fallback, errors."""
from __future__ import annotations

import hashlib
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from avshooter.errors import InputError, MediaError
from avshooter.media.mux import concat_videos_copy_possible, mux, mux_shot, probe_videos
from avshooter.units import to_samples

FPS = 24


def _make_video(path: Path, *, seconds: float = 2.0, size=(160, 90), seed: int = 0, codec="libx264") -> Path:
    rng = np.random.default_rng(seed)
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=FPS)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        base = rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
        for i in range(round(seconds * FPS)):
            img = np.roll(base, 3 * i, axis=1)
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts = i
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def _video_packet_hashes(path: Path) -> list[str]:
    with av.open(str(path)) as c:
        return [hashlib.sha256(bytes(p)).hexdigest() for p in c.demux(c.streams.video[0]) if p.size]


def _tone(seconds: float, sr: int = 48000, channels: int = 2) -> np.ndarray:
    t = np.arange(to_samples(seconds, sr)) / sr
    return np.tile(0.3 * np.sin(2 * np.pi * 440 * t, dtype=np.float64).astype(np.float32), (channels, 1))


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> list[Path]:
    d = tmp_path_factory.mktemp("shots")
    return [_make_video(d / f"shot{i}.mp4", seed=i) for i in range(3)]


def test_concat_copies_packets_and_checks_durations(shots, tmp_path):
    infos = probe_videos(shots)
    assert [round(i.video_duration_s, 6) for i in infos] == [2.0, 2.0, 2.0]
    assert concat_videos_copy_possible(infos)[0]
    out = tmp_path / "story.mp4"
    report = mux(shots, _tone(6.0), 48000, out)
    assert report["video"] == "copied"
    assert abs(report["video_duration_s"] - 6.0) <= 1 / FPS
    assert abs(report["difference_s"]) <= 1024 / 48000
    expected = [h for s in shots for h in _video_packet_hashes(s)]
    assert _video_packet_hashes(out) == expected  # stream copy: every packet byte-identical, in order
    with av.open(str(out)) as c:
        a = c.streams.audio[0]
        assert a.codec_context.name == "aac" and a.codec_context.sample_rate == 48000 and a.channels == 2
        pts = [p.pts for p in c.demux(c.streams.video[0]) if p.pts is not None]
    assert sorted(pts) == sorted(set(pts)) and len(pts) == 3 * 2 * FPS  # no duplicate timestamps at the joins
    assert not [p for p in tmp_path.iterdir() if p.name != "story.mp4"]  # no temp file left


def test_mux_shot_non_ascii_path_and_other_rate(shots, tmp_path):
    out = tmp_path / "出力 ショット" / "shot é.mp4"
    report = mux_shot(shots[1], _tone(2.0, sr=44100, channels=1), 44100, out)
    assert out.exists() and report["video"] == "copied" and report["audio_sample_rate"] == 44100
    assert _video_packet_hashes(out) == _video_packet_hashes(shots[1])
    report = mux_shot(shots[1], _tone(2.0, sr=22000, channels=1), 22000, tmp_path / "r.mp4")
    assert report["audio_sample_rate"] == 48000  # 22000 Hz is not an AAC rate: resampled


def test_mismatched_sizes_are_reencoded_and_reported(shots, tmp_path):
    other = _make_video(tmp_path / "big.mp4", size=(192, 108), seed=5)
    ok, reason = concat_videos_copy_possible(probe_videos([shots[0], other]))
    assert not ok and "frame size" in reason
    out = tmp_path / "mixed.mp4"
    report = mux([shots[0], other], _tone(4.0), 48000, out)
    assert report["video"] == "re-encoded" and "frame size" in report["reason"]
    info = probe_videos([out])[0]
    assert (info.video_codec, info.width, info.height, info.pix_fmt) == ("h264", 160, 90, "yuv420p")
    assert abs(info.video_duration_s - 4.0) <= 1 / FPS and info.frame_rate == Fraction(FPS)
    with pytest.raises(MediaError, match="re-encoding was turned off"):
        mux([shots[0], other], _tone(4.0), 48000, tmp_path / "no.mp4", reencode=False)
    assert not (tmp_path / "no.mp4").exists()


def test_bad_inputs(shots, tmp_path):
    audio_only = tmp_path / "tone.m4a"
    with av.open(str(audio_only), "w") as out:
        s = out.add_stream("aac", rate=48000)
        frame = av.AudioFrame.from_ndarray(_tone(0.5, channels=1), format="fltp", layout="mono")
        frame.sample_rate, frame.pts = 48000, 0
        for p in [*s.encode(frame), *s.encode(None)]:
            out.mux(p)
    with pytest.raises(MediaError, match="no video stream"):
        mux([audio_only], _tone(0.5), 48000, tmp_path / "x.mp4")
    with pytest.raises(MediaError, match="file not found"):
        mux([tmp_path / "missing.mp4"], _tone(2.0), 48000, tmp_path / "x.mp4")
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all" * 10)
    with pytest.raises(MediaError, match="junk.mp4"):
        mux([junk], _tone(2.0), 48000, tmp_path / "x.mp4")
    with pytest.raises(InputError, match="audio lasts"):
        mux(shots, _tone(5.0), 48000, tmp_path / "x.mp4")  # 1 s short
    with pytest.raises(InputError, match="channels"):
        mux(shots[:1], np.zeros(96000, np.float32), 48000, tmp_path / "x.mp4")
    assert not (tmp_path / "x.mp4").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp.mp4")]


def test_cut_video_reencodes_the_shot_on_the_file_clock(tmp_path):
    from avshooter.media.mux import cut_video

    src = _make_video(tmp_path / "long.mp4", seconds=4.0, seed=7)
    out = tmp_path / "shot.mp4"
    report = cut_video(src, 1.0, 2.5, _tone(1.5), 48000, out)
    assert report["video"] == "re-encoded" and report["source_start_s"] == 1.0
    info = probe_videos([out])[0]
    assert info.video_packets == 36 and abs(info.video_duration_s - 1.5) <= 1 / FPS
    assert abs(report["audio_duration_s"] - report["video_duration_s"]) <= 1024 / 48000
    with pytest.raises(MediaError, match="no frame in"):
        cut_video(src, 4.5, 5.0, _tone(0.5), 48000, tmp_path / "none.mp4")
    assert not (tmp_path / "none.mp4").exists()
