"""Probe: one MediaInfo, one open, one cover-art rule and one frame-rate rule for every reader of media."""
from __future__ import annotations

from fractions import Fraction
from types import SimpleNamespace

import numpy as np
import pytest

from avshooter.errors import MediaError
from avshooter.media import probe as probe_module
from avshooter.media.cuts import cuts_in_file, decode_with_cuts
from avshooter.media.decode import decode
from avshooter.media.frames import frames_at, grey_frames
from avshooter.media.mux import mux, probe_videos
from avshooter.media.probe import MediaInfo, frame_rate_of, probe
from avshooter.media.visual_events import visual_events

COVER_ART = ("audio", "vibeace_kevin_macleod.ogg")  # vorbis + an attached mjpeg picture


def test_probe_video_facts(media):
    info = probe(media / "video" / "caminandes1_10s_zwm.mp4")
    assert info.has_video and not info.has_audio
    assert (info.video_codec, info.width, info.height, info.pix_fmt) == ("h264", 640, 360, "yuv420p")
    assert info.frame_rate == Fraction(24) and info.fps == 24.0 and info.frame_s == pytest.approx(1 / 24)
    assert info.video_packets is None and info.video_duration_s is None  # header only
    exact = probe(media / "video" / "caminandes1_10s_zwm.mp4", exact=True)
    assert exact.video_packets == 240 and exact.video_duration_s == pytest.approx(10.0)
    d = exact.to_dict()
    assert d["fps"] == 24.0 and d["video_codec"] == "h264" and "video_extradata" not in d


def test_cover_art_is_not_the_video_for_any_reader(media, tmp_path):
    path = media.joinpath(*COVER_ART)
    for info in (probe(path), probe(path, exact=True)):
        assert info.has_audio and not info.has_video and info.video_codec is None and info.frame_rate is None
    with pytest.raises(MediaError, match=r"no video stream \(streams: audio, video \(attached picture\)\)"):
        probe_videos([path])
    with pytest.raises(MediaError, match="no video stream"):
        mux([path], np.zeros((2, 4800), np.float32), 48000, tmp_path / "x.mp4")
    with pytest.raises(MediaError, match="no video stream"):
        frames_at(path, [0.5])
    with pytest.raises(MediaError, match="no video stream"):
        grey_frames(path)
    with pytest.raises(MediaError, match="no video stream"):
        visual_events(path)
    with pytest.raises(MediaError, match="no video stream"):
        cuts_in_file(path)
    seen = []
    with decode(path, sample_rate=16000, on_video_frame=lambda t, f: seen.append(t)) as d:
        assert d.duration_s > 1
    assert seen == []  # the cover picture is never handed out as a video frame
    decoded, cuts = decode_with_cuts(path, sample_rate=16000)
    decoded.close()
    assert cuts is None
    assert not (tmp_path / "x.mp4").exists()


def test_frame_rate_rule():
    def stream(avg=None, guessed=None, frames=0, duration=None, tb=Fraction(1, 1000)):
        return SimpleNamespace(average_rate=avg, guessed_rate=guessed, frames=frames, duration=duration, time_base=tb)

    assert frame_rate_of(stream(avg=Fraction(24000, 1001), guessed=Fraction(30))) == Fraction(24000, 1001)
    assert frame_rate_of(stream(guessed=Fraction(12))) == Fraction(12)
    assert frame_rate_of(stream(frames=48, duration=2000)) == Fraction(24)  # frames over duration
    assert frame_rate_of(stream(), frames=30, duration_s=1.25) == Fraction(24)
    assert frame_rate_of(stream()) is None and frame_rate_of(stream(frames=10)) is None
    info = MediaInfo(path="x.mp4", duration_s=2.0, has_audio=False, has_video=True, video_codec="h264")
    with pytest.raises(MediaError, match="frame rate is unknown"):
        info.require_frame_rate()
    with pytest.raises(MediaError, match="frame rate is unknown"):
        _ = info.frame_s


def test_unknown_frame_rate_is_a_media_error_not_25_fps(media, tmp_path, monkeypatch):
    """A stream that gives no rate at all (mocked: no average, no guess, no frame count) stops mux and
    the cut detector with a clear error instead of a made-up rate."""
    monkeypatch.setattr(probe_module, "frame_rate_of", lambda stream, **kw: None)
    video = media / "video" / "caminandes1_10s_zwm.mp4"
    info = probe(video, exact=True)
    assert info.has_video and info.frame_rate is None and info.fps is None
    assert info.to_dict()["fps"] is None
    with pytest.raises(MediaError, match="caminandes1_10s_zwm.mp4: the video frame rate is unknown"):
        probe_videos([video])
    with pytest.raises(MediaError, match="frame rate is unknown"):
        mux([video], np.zeros((2, 480000), np.float32), 48000, tmp_path / "out.mp4")
    with pytest.raises(MediaError, match="frame rate is unknown"):
        cuts_in_file(video)
    assert not list(tmp_path.iterdir())


def test_open_errors_are_one_line(tmp_path):
    with pytest.raises(MediaError, match="file not found"):
        probe(tmp_path / "missing.mp4")
    with pytest.raises(MediaError, match="is a folder"):
        probe(tmp_path)
    (tmp_path / "empty.mp4").write_bytes(b"")
    with pytest.raises(MediaError, match="file is empty"):
        probe(tmp_path / "empty.mp4")
    (tmp_path / "junk.mp4").write_bytes(b"not media" * 50)
    with pytest.raises(MediaError, match="cannot open as media") as err:
        probe(tmp_path / "junk.mp4", exact=True)
    assert "\n" not in str(err.value)
