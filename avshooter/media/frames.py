"""Frames: picture access. Decoded frames and grey frames over a time range, RGB pictures at given times.

Every reader of pictures goes through here (or, for the one-pass audio + cut decode, through
:func:`grey`, which :func:`avshooter.media.decode.decode` uses for its frame callback), so a frame's time
and its grey conversion mean the same thing everywhere: times are file-local seconds (frame time minus
:func:`~avshooter.media.probe.container_start`), the same clock as the decoded audio.
"""
from __future__ import annotations

import os
from collections.abc import Iterator

import numpy as np

from ..errors import MediaError
from .probe import container_start, ffmpeg_reason, frame_rate_of, open_media, require_video_stream

__all__ = ["frames_at", "grey", "grey_frames", "iter_frames", "iter_grey"]


def grey(frame, size: tuple[int, int]) -> np.ndarray:
    """A decoded PyAV video frame as uint8 grey ``(height, width)`` at ``size = (width, height)``."""
    return frame.reformat(width=size[0], height=size[1], format="gray").to_ndarray()


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


def iter_frames(path: str | os.PathLike, *, start_s: float = 0.0, end_s: float | None = None,
                edge_s: float | None = None) -> Iterator[tuple[float, object]]:
    """Yield ``(time_s, av.VideoFrame)`` for the decoded frames whose time is in ``[start_s, end_s)``.

    Times are file-local seconds. ``edge_s`` is the tolerance at both window edges (default half a frame
    at the stream's rate, 1 ms when the rate is unknown). Frames without a timestamp are skipped. The
    decoder seeks near ``start_s`` first.
    """
    import av

    with open_media(path) as container:
        stream = require_video_stream(container, path)
        stream.thread_type = "AUTO"
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
              size: tuple[int, int] | None = None, max_side: int = 160) -> Iterator[tuple[float, np.ndarray]]:
    """Yield ``(time_s, uint8 (height, width) grey)`` for the frames of :func:`iter_frames` (half-frame edges).

    ``size = (width, height)`` scales every frame to that size; otherwise the longer side is scaled to
    ``max_side``.
    """
    for t, frame in iter_frames(path, start_s=start_s, end_s=end_s):
        if size is None:
            size = _scaled(frame.width, frame.height, max_side, even=False)
        yield t, grey(frame, size)


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
