"""Probe: open a media file with our error messages and say what it holds (:class:`MediaInfo`).

This module is the one place that opens media files (:func:`open_media`) and decides which stream is
"the video": the first video stream that is not an attached picture (cover art in an audio file is a
one-frame mjpeg/png "video" stream marked ``attached_pic``; it is never taken as video). It also owns the
frame-rate rule: the stream's average rate, else FFmpeg's guessed rate, else frames over duration, else
the rate is unknown, and a step that needs it raises :class:`~avshooter.errors.MediaError`. Nothing here
falls back to a made-up rate.

Decoding audio is :mod:`avshooter.media.decode`, pictures are :mod:`avshooter.media.frames`.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from ..errors import MediaError

__all__ = ["MediaInfo", "container_start", "ffmpeg_reason", "frame_rate_of", "open_media", "probe",
           "require_video_stream", "video_stream"]


def open_media(path: str | os.PathLike):
    """``av.open(path)`` for reading, with one clear :class:`MediaError` for a missing, empty or unreadable file.

    Use as a context manager (``with open_media(p) as container: ...``).
    """
    import av

    p = Path(path)
    if not p.exists():
        raise MediaError(f"{p}: file not found")
    if p.is_dir():
        raise MediaError(f"{p}: is a folder, not a media file")
    if p.stat().st_size == 0:
        raise MediaError(f"{p}: file is empty")
    try:
        return av.open(str(p))
    except av.error.FFmpegError as exc:
        raise MediaError(f"{p}: cannot open as media ({ffmpeg_reason(exc)})") from None


def ffmpeg_reason(exc) -> str:
    """The first line of an FFmpeg error, for our one-line messages."""
    text = getattr(exc, "strerror", None) or str(exc)
    return str(text).strip().splitlines()[0] if text else type(exc).__name__


def video_stream(container):
    """The first real video stream of an open container, or None (an attached picture is not video)."""
    import av

    attached = int(av.stream.Disposition.attached_pic)
    for stream in container.streams.video:
        if not int(stream.disposition) & attached:
            return stream
    return None


def require_video_stream(container, path, why: str = ""):
    """:func:`video_stream`, or a :class:`MediaError` that lists the streams the file has."""
    stream = video_stream(container)
    if stream is None:
        raise MediaError(f"{path}: no video stream (streams: {describe_streams(container)}){why}")
    return stream


def describe_streams(container) -> str:
    """``"audio, video (attached picture)"``: the kinds of streams in a container, for messages."""
    import av

    attached = int(av.stream.Disposition.attached_pic)
    kinds = [f"{s.type} (attached picture)" if s.type == "video" and int(s.disposition) & attached else s.type
             for s in container.streams]
    return ", ".join(kinds) if kinds else "none"


def container_start(container) -> float:
    """Earliest stream start time in seconds: frame times minus this are file-local (0 = first sample)."""
    starts = [s.start_time * s.time_base for s in container.streams if s.start_time is not None and s.time_base]
    return float(min(starts)) if starts else 0.0


def frame_rate_of(stream, *, frames: int | None = None, duration_s: float | None = None) -> Fraction | None:
    """Frame rate of a video stream: average rate, else guessed rate, else frames / duration, else None.

    ``frames`` and ``duration_s`` override the header's frame count and duration (the exact probe counts
    packets).
    """
    for rate in (stream.average_rate, stream.guessed_rate):
        if rate:
            return Fraction(rate)
    n = frames if frames is not None else stream.frames
    if duration_s is None and stream.duration and stream.time_base:
        duration_s = float(stream.duration * stream.time_base)
    if n and duration_s and duration_s > 0:
        return Fraction(n / duration_s).limit_denominator(1001)
    return None


@dataclass(frozen=True)
class MediaInfo:
    """What a media file holds, from its container header (and, with ``probe(exact=True)``, its packets).

    Video fields describe :func:`video_stream` (cover art is not video); they are None without one.
    ``video_start_pts``, ``video_end_pts`` and ``video_packets`` are only set by an exact probe.
    """

    path: str
    duration_s: float | None
    """Container duration (header)."""
    has_audio: bool
    has_video: bool
    audio_codec: str | None = None
    audio_sample_rate: int | None = None
    audio_channels: int | None = None
    video_codec: str | None = None
    frame_rate: Fraction | None = None
    width: int | None = None
    height: int | None = None
    pix_fmt: str | None = None
    video_time_base: Fraction | None = None
    video_extradata: bytes | None = field(default=None, repr=False)
    """Codec parameters (for H.264 the avcC: SPS/PPS); a stream copy needs them equal."""
    video_start_pts: int | None = None
    """Smallest packet pts, in ``video_time_base`` units (exact probe)."""
    video_end_pts: int | None = None
    """Largest packet ``pts + duration``, in ``video_time_base`` units (exact probe)."""
    video_packets: int | None = None

    @property
    def fps(self) -> float | None:
        """:attr:`frame_rate` as a float (None when unknown)."""
        return float(self.frame_rate) if self.frame_rate else None

    @property
    def video_duration_s(self) -> float | None:
        """Exact length of the video stream from its packets (exact probe only, else None)."""
        if self.video_start_pts is None or self.video_end_pts is None or self.video_time_base is None:
            return None
        return float((self.video_end_pts - self.video_start_pts) * self.video_time_base)

    @property
    def frame_s(self) -> float:
        """Length of one frame in seconds (:meth:`require_frame_rate`)."""
        return float(1 / self.require_frame_rate())

    def require_frame_rate(self) -> Fraction:
        """The video frame rate, or a MediaError saying it is unknown (never a default rate)."""
        if not self.has_video:
            raise MediaError(f"{self.path}: no video stream, so no frame rate")
        if not self.frame_rate:
            raise MediaError(f"{self.path}: the video frame rate is unknown (the stream gives no average or "
                             f"guessed rate and no frame count over a duration)")
        return self.frame_rate

    def to_dict(self) -> dict:
        """JSON-ready header facts (what annotate records as ``"media"``)."""
        return {"path": self.path, "duration_s": self.duration_s, "has_audio": self.has_audio,
                "has_video": self.has_video, "audio_codec": self.audio_codec,
                "audio_sample_rate": self.audio_sample_rate, "audio_channels": self.audio_channels,
                "video_codec": self.video_codec, "fps": self.fps, "width": self.width, "height": self.height}


def probe(path: str | os.PathLike, *, exact: bool = False) -> MediaInfo:
    """Read what ``path`` holds (nothing is decoded).

    Parameters
    ----------
    path : media file
    exact : also demux the video stream's packets for its exact start, end and frame count (reads the
        whole file; the frame rate falls back to packets over duration when the header has none)

    Raises
    ------
    MediaError
        The file is missing, empty, unreadable, or (exact) its video packets cannot be read.
    """
    with open_media(path) as container:
        a = container.streams.audio[0] if container.streams.audio else None
        v = video_stream(container)
        duration = container.duration / 1_000_000 if container.duration else None
        extra: dict = {}
        if v is not None:
            ctx = v.codec_context
            rate = frame_rate_of(v)
            extra = dict(video_codec=ctx.name, width=int(ctx.width), height=int(ctx.height), pix_fmt=ctx.pix_fmt,
                         video_time_base=Fraction(v.time_base) if v.time_base else None,
                         video_extradata=bytes(ctx.extradata) if ctx.extradata else None)
            if exact:
                start, end, count = _packet_extent(container, v, path)
                extra.update(video_start_pts=start, video_end_pts=end, video_packets=count)
                if rate is None:
                    rate = frame_rate_of(v, frames=count, duration_s=float((end - start) * v.time_base))
            extra["frame_rate"] = rate
        return MediaInfo(
            path=str(path), duration_s=duration, has_audio=a is not None, has_video=v is not None,
            audio_codec=a.codec_context.name if a is not None else None,
            audio_sample_rate=a.codec_context.sample_rate if a is not None else None,
            audio_channels=a.codec_context.channels if a is not None else None,
            **extra,
        )


def _packet_extent(container, stream, path) -> tuple[int, int, int]:
    """``(smallest pts, largest pts + duration, packet count)`` of a video stream (demux only)."""
    import av

    start, end, count = None, None, 0
    try:
        for packet in container.demux(stream):
            if packet.pts is None:
                continue
            count += 1
            start = packet.pts if start is None else min(start, packet.pts)
            stop = packet.pts + (packet.duration or 0)
            end = stop if end is None else max(end, stop)
    except av.error.FFmpegError as exc:
        raise MediaError(f"{path}: cannot read the video stream ({ffmpeg_reason(exc)})") from None
    if count == 0:
        raise MediaError(f"{path}: the video stream holds no frames")
    return int(start), int(end), count
