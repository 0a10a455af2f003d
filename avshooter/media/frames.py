"""Frames: picture access. Decoded frames and grey frames over a time range, RGB pictures at given times.

Every reader of pictures goes through here (or, for the one-pass audio + cut decode, through
:class:`Grey`, which :func:`avshooter.media.decode.decode` uses for its frame callback), so a frame's time
and its grey conversion mean the same thing everywhere: times are file-local seconds (frame time minus
:func:`~avshooter.media.probe.container_start`), the same clock as the decoded audio.
"""
from __future__ import annotations

import os
from collections.abc import Iterator

import numpy as np

from ..errors import MediaError
from .probe import container_start, ffmpeg_reason, frame_rate_of, open_media, require_video_stream

__all__ = ["Grey", "frames_at", "grey_frames", "iter_frames", "iter_grey", "set_up_decoder"]


class Grey:
    """Decoded PyAV video frames -> uint8 grey ``(height, width)`` at ``size = (width, height)``.

    One FFmpeg scaler serves every frame of a pass (``frame.reformat`` builds a new one per frame: ~1.4 ms
    of a 720p frame's ~2.3 ms grey conversion); the pictures are the same. One instance per pass/thread.
    """

    def __init__(self, size: tuple[int, int]):
        from av.video.reformatter import VideoReformatter

        self.size = (int(size[0]), int(size[1]))
        self._scaler = VideoReformatter()

    def __call__(self, frame) -> np.ndarray:
        return self._scaler.reformat(frame, width=self.size[0], height=self.size[1], format="gray").to_ndarray()


def _scaled(width: int, height: int, max_side: int, *, even: bool) -> tuple[int, int]:
    scale = min(1.0, max_side / max(width, height))
    if even:
        return max(2, int(width * scale) // 2 * 2), max(2, int(height * scale) // 2 * 2)
    return max(2, int(round(width * scale))), max(2, int(round(height * scale)))


def frames_at(path: str | os.PathLike, times_s: list[float], *, max_side: int = 512) -> list[np.ndarray]:
    """RGB uint8 ``(H, W, 3)`` pictures at ``times_s``, sorted, the longer side scaled to ``max_side``.

    Each picture is the first frame whose time is at or after its time (file-local seconds); times past
    the last frame get no picture.
    """
    wanted = sorted(times_s)
    out: list[np.ndarray] = []
    if not wanted:
        return out
    size = None
    for t, frame in iter_frames(path, start_s=max(0.0, wanted[0] - 1.0), edge_s=0.0):
        while wanted and t >= wanted[0]:
            if size is None:
                size = _scaled(frame.width, frame.height, max_side, even=True)
            out.append(frame.reformat(width=size[0], height=size[1], format="rgb24").to_ndarray())
            wanted.pop(0)
        if not wanted:
            break
    return out


def set_up_decoder(stream, *, threads: int = 0, deblock: bool = True) -> None:
    """Decoder options of a video ``stream``, before its first frame.

    ``threads``: 0 lets the decoder use every CPU (frame threads: the fastest pass when nothing else
    runs), 1 decodes on the calling thread only (~20 % less CPU per frame for H.264: the pass for when
    other work keeps the other cores busy). ``deblock=False`` skips the in-loop deblocking filter (the
    decoders that honour it: H.264, HEVC, VP8, VP9): ~15 % less decode CPU for H.264, pictures that differ
    only along 4-8 px block edges, which a 64x36 grey frame averages away (the cut detector's frames: the
    same 135 cuts on the 10-minute benchmark input, the same cuts on the shared clips).
    """
    if threads == 1:
        stream.codec_context.thread_count = 1
    else:
        stream.thread_type = "AUTO"
    if not deblock:
        stream.codec_context.options = {**stream.codec_context.options, "skip_loop_filter": "all"}


def iter_frames(path: str | os.PathLike, *, start_s: float = 0.0, end_s: float | None = None,
                edge_s: float | None = None, threads: int = 0, deblock: bool = True) -> Iterator[tuple[float, object]]:
    """Yield ``(time_s, av.VideoFrame)`` for the decoded frames whose time is in ``[start_s, end_s)``.

    Times are file-local seconds. ``edge_s`` is the tolerance at both window edges (default half a frame
    at the stream's rate, 1 ms when the rate is unknown). Frames without a timestamp are skipped. The
    decoder seeks near ``start_s`` first. ``threads`` and ``deblock``: see :func:`set_up_decoder`.
    """
    import av

    with open_media(path) as container:
        stream = require_video_stream(container, path)
        set_up_decoder(stream, threads=threads, deblock=deblock)
        if edge_s is None:
            rate = frame_rate_of(stream)
            edge_s = 0.5 / float(rate) if rate else 1e-3
        t0 = container_start(container)
        try:
            if start_s > 1.0:
                container.seek(int((start_s - 1.0) / stream.time_base), stream=stream)
            for frame in container.decode(stream):
                if frame.time is None:
                    continue
                t = float(frame.time) - t0
                if t < start_s - edge_s:
                    continue
                if end_s is not None and t >= end_s - edge_s:
                    break
                yield t, frame
        except av.error.FFmpegError as exc:
            raise MediaError(f"{path}: cannot read video frames ({ffmpeg_reason(exc)})") from None


def iter_grey(path: str | os.PathLike, *, start_s: float = 0.0, end_s: float | None = None,
              size: tuple[int, int] | None = None, max_side: int = 160,
              threads: int = 0, deblock: bool = True) -> Iterator[tuple[float, np.ndarray]]:
    """Yield ``(time_s, uint8 (height, width) grey)`` for the frames of :func:`iter_frames` (half-frame edges).

    ``size = (width, height)`` scales every frame to that size; otherwise the longer side is scaled to
    ``max_side``. ``threads``, ``deblock``: see :func:`set_up_decoder`.
    """
    to_grey = None
    for t, frame in iter_frames(path, start_s=start_s, end_s=end_s, threads=threads, deblock=deblock):
        if to_grey is None:
            to_grey = Grey(size or _scaled(frame.width, frame.height, max_side, even=False))
        yield t, to_grey(frame)


def grey_frames(path: str | os.PathLike, *, start_s: float = 0.0, end_s: float | None = None,
                max_side: int = 160) -> tuple[np.ndarray, np.ndarray]:
    """The frames of :func:`iter_grey` stacked: uint8 ``(n, h, w)`` and their times relative to ``start_s``.

    Raises MediaError when the window holds no frame.
    """
    frames, times = [], []
    for t, picture in iter_grey(path, start_s=start_s, end_s=end_s, max_side=max_side):
        frames.append(picture)
        times.append(t - start_s)
    if not frames:
        raise MediaError(f"{path}: no video frames in [{start_s:g}, {end_s if end_s is not None else 'end'}) s")
    return np.stack(frames), np.asarray(times)
