"""Decode: the audio of a media file, decoded ONCE (PyAV), resampled with soxr, read back by span.

The decoded audio goes to a raw float32 file on disk (:class:`DecodedAudio`), interleaved, so a shot
is one contiguous read: a 60-minute episode never has to sit in memory whole, and every shot is cut to
the sample from the same decode. When the caller also wants pictures (the cut detector), the same pass
decodes the video stream and hands small grey frames to a callback, so the file is still demuxed once.

Opening and stream choice are :mod:`avshooter.media.probe`; the grey-frame conversion is shared with
:mod:`avshooter.media.frames`.
"""
from __future__ import annotations

import logging
import os
import tempfile
from typing import Callable

import numpy as np

from ..errors import MediaError, ShotError
from ..units import span_samples, to_samples
from .frames import Grey, set_up_decoder
from .probe import container_start, describe_streams, ffmpeg_reason, open_media, probe, video_stream

__all__ = ["DecodedAudio", "decode", "load_audio", "load_mono"]

log = logging.getLogger("avshooter")

FrameCallback = Callable[[float, np.ndarray], None]


class DecodedAudio:
    """Decoded audio held in a raw float32 file (interleaved ``(samples, channels)``), read by span.

    Use as a context manager, or call :meth:`close`, to delete the file.
    """

    def __init__(self, raw_path: str, sample_rate: int, channels: int, num_samples: int, source: str,
                 nonfinite_samples: int = 0, mono_track: tuple[str, int, int] | None = None):
        self.raw_path = raw_path
        self.mono_track = mono_track
        """``(raw path, rate, samples)`` of the mono track made from the source samples
        (``decode(..., mono_rate=...)``), or None."""
        self.sample_rate = sample_rate
        self.channels = channels
        self.num_samples = num_samples
        self.source = source
        self.nonfinite_samples = nonfinite_samples
        """NaN/inf samples the file held, replaced by 0 (``decode(..., nonfinite="zero")``); record it."""

    @property
    def duration_s(self) -> float:
        return self.num_samples / self.sample_rate

    def read(self, start: int, stop: int) -> np.ndarray:
        """Samples ``[start, stop)`` as float32 ``(channels, stop - start)``."""
        if start < 0 or stop > self.num_samples or stop < start:
            raise ShotError(
                f"{self.source}: samples [{start}, {stop}) are outside the audio (0..{self.num_samples})"
            )
        n = stop - start
        with open(self.raw_path, "rb") as f:
            f.seek(start * self.channels * 4)
            data = np.fromfile(f, dtype=np.float32, count=n * self.channels)
        return np.ascontiguousarray(data.reshape(n, self.channels).T)

    def read_span(self, start_s: float, end_s: float) -> np.ndarray:
        """The shot ``[start_s, end_s)``: exactly ``to_samples(end_s) - to_samples(start_s)`` samples."""
        end_limit = self.duration_s + 0.5 / self.sample_rate
        if start_s < 0 or end_s > end_limit or end_s <= start_s:
            raise ShotError(
                f"{self.source}: shot [{start_s:.3f}, {end_s:.3f}) s is outside the audio "
                f"(0 .. {self.duration_s:.3f} s) or empty"
            )
        return self.read(*span_samples(start_s, end_s, self.sample_rate))

    def iter_blocks(self, block: int):
        """Yield ``(start_sample, (channels, n))`` blocks of at most ``block`` samples, in order."""
        for start in range(0, self.num_samples, block):
            yield start, self.read(start, min(self.num_samples, start + block))

    def mono(self, sample_rate: int, *, block_s: float = 60.0) -> np.ndarray:
        """The whole audio as 1-D float32 mono at ``sample_rate``.

        At the ``mono_rate`` given to :func:`decode`: the track resampled ONCE from the source samples
        (their channels averaged), as :func:`load_mono` reads a file. At any other rate: read back from the
        decoded audio and resampled block by block into one array (the extra memory is one block).
        """
        import soxr

        if self.mono_track is not None and self.mono_track[1] == sample_rate:
            return np.fromfile(self.mono_track[0], dtype=np.float32, count=self.mono_track[2])
        stream = None
        if sample_rate != self.sample_rate:
            stream = soxr.ResampleStream(self.sample_rate, sample_rate, 1, dtype="float32")
        # soxr gives round(n * ratio) samples in all, give or take one per chunk
        out = np.zeros(int(np.ceil(self.num_samples * sample_rate / self.sample_rate)) + 64, np.float32)
        filled = 0
        block = to_samples(block_s, self.sample_rate)
        for start, wav in self.iter_blocks(block):
            last = start + wav.shape[1] >= self.num_samples
            down = wav.mean(axis=0, dtype=np.float32)
            part = stream.resample_chunk(down, last=last) if stream is not None else down
            if filled + len(part) > len(out):  # never expected; grow rather than fail
                out = np.concatenate([out[:filled], np.zeros(len(part) + 4096, np.float32)])
            out[filled: filled + len(part)] = part
            filled += len(part)
        return out[:filled]

    def close(self) -> None:
        for path in (self.raw_path, *(self.mono_track[:1] if self.mono_track else ())):
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):  # last resort; explicit close() is the rule
        self.close()


def _layout_for(channels: int) -> str:
    if channels not in (1, 2):
        raise MediaError(f"channels must be 1 or 2, got {channels}")
    return "mono" if channels == 1 else "stereo"


def decode(
    path: str | os.PathLike,
    *,
    sample_rate: int,
    channels: int | None = None,
    workdir: str | os.PathLike | None = None,
    on_video_frame: FrameCallback | None = None,
    frame_size: tuple[int, int] = (96, 54),
    nonfinite: str = "zero",
    mono_rate: int | None = None,
) -> DecodedAudio:
    """Decode the first audio stream of ``path`` once, resampled to ``sample_rate``.

    Parameters
    ----------
    path : media file (mp4, webm, mkv, m4a, ogg, flac, wav...; any codec FFmpeg reads)
    sample_rate : output rate in Hz (soxr, high quality)
    channels : 1 or 2; ``None`` keeps mono as mono and downmixes everything else to stereo
    workdir : folder for the temporary raw file (default: the system temp folder)
    on_video_frame : if given, the video stream (:func:`~avshooter.media.probe.video_stream`; none in an
        audio file) is decoded in the same pass and each frame is passed as ``(time_s, uint8 (height,
        width) grey)`` at ``frame_size = (width, height)``, ``time_s`` file-local like the audio (decoded
        without the deblocking filter: frames for a cut detector, :func:`~avshooter.media.frames.set_up_decoder`)
    nonfinite : what a NaN or infinite sample in the file (float codecs can hold them) becomes: ``"zero"``
        (replaced by 0, counted in :attr:`DecodedAudio.nonfinite_samples` and logged, for the caller to
        record) or ``"error"`` (a MediaError)
    mono_rate : if given, a mono track at this rate is made in the same pass from the SOURCE samples (their
        channels averaged, then resampled once; a source at this rate is copied as it is), and
        :meth:`DecodedAudio.mono` at this rate returns it: an analysis track (VAD, ASR) that is not
        resampled twice (source -> ``sample_rate`` -> ``mono_rate``)
    """
    if nonfinite not in ("zero", "error"):
        raise MediaError(f"nonfinite={nonfinite!r} is not allowed ('zero' or 'error')")
    if mono_rate is not None and (not isinstance(mono_rate, int) or isinstance(mono_rate, bool) or mono_rate <= 0):
        raise MediaError(f"mono_rate={mono_rate!r} must be a positive integer (Hz) or None")
    import av
    import soxr

    container = open_media(path)
    fd, raw_path = tempfile.mkstemp(prefix="avshooter-", suffix=".f32", dir=workdir)
    mono_path = None
    try:
        if mono_rate is not None:
            mono_fd, mono_path = tempfile.mkstemp(prefix="avshooter-", suffix=".f32", dir=workdir)
            os.close(mono_fd)
        with container, os.fdopen(fd, "wb") as out, open(mono_path or os.devnull, "wb") as mono_out:
            if not container.streams.audio:
                raise MediaError(f"{path}: no audio stream (streams: {describe_streams(container)})")
            astream = container.streams.audio[0]
            src_channels = astream.codec_context.channels or 2
            out_channels = channels or (1 if src_channels == 1 else 2)
            streams = [astream]
            vstream = video_stream(container) if on_video_frame is not None else None
            if vstream is not None:
                # grey frames for a cut detector: every CPU, no deblocking (see set_up_decoder)
                set_up_decoder(vstream, deblock=False)
                streams.append(vstream)
                to_grey = Grey(frame_size)
            layout = _layout_for(out_channels)
            converter = None  # FFmpeg's resampler: only for sample formats / layouts the fast path lacks
            sink = None
            lead = 0
            t0 = container_start(container)
            try:
                for packet in container.demux(*streams):
                    for frame in packet.decode():
                        if packet.stream.type == "video":
                            on_video_frame((frame.time or 0.0) - t0, to_grey(frame))
                            continue
                        if sink is None:
                            resampler = None
                            if frame.sample_rate != sample_rate:
                                resampler = soxr.ResampleStream(frame.sample_rate, sample_rate, out_channels,
                                                                dtype="float32")
                            sink = _Sink(out, resampler, out_channels, frame.sample_rate, nonfinite=nonfinite,
                                         source=str(path))
                            if mono_rate is not None:
                                sink.mono = _MonoTrack(mono_out, frame.sample_rate, mono_rate)
                            late_s = max(0.0, (frame.time or 0.0) - t0)
                            lead = span_samples(0.0, late_s, sample_rate)[1]
                            if lead > 0:  # audio starts late: keep the timeline, pad with silence
                                sink.write_raw(np.zeros((lead, out_channels), np.float32))
                            if sink.mono is not None:
                                sink.mono.lead(span_samples(0.0, late_s, mono_rate)[1])
                        data = _fast_samples(frame, out_channels)
                        if data is not None:
                            sink.add(data)
                            continue
                        if converter is None:
                            converter = av.AudioResampler(format="flt", layout=layout, rate=frame.sample_rate)
                        for conv in converter.resample(frame):
                            sink.add(conv.to_ndarray().reshape(-1, out_channels))
            except av.error.FFmpegError as exc:
                raise MediaError(f"{path}: corrupt or truncated media ({ffmpeg_reason(exc)})") from None
            if sink is None:
                raise MediaError(f"{path}: the audio stream holds no decodable audio (empty or truncated)")
            if converter is not None:
                for conv in converter.resample(None):
                    sink.add(conv.to_ndarray().reshape(-1, out_channels))
            sink.finish()
            written = sink.written
            # One length rule: n input samples at in_rate become to_samples(n / in_rate, sample_rate).
            expected = lead + to_samples(sink.read_in / sink.in_rate, sample_rate)
            if written < expected:
                sink.write_raw(np.zeros((expected - written, out_channels), np.float32))
                written = expected
            elif written > expected:
                out.flush()
                out.truncate(expected * out_channels * 4)
                written = expected
            mono_track = None
            if sink.mono is not None:
                mono_track = (mono_path, mono_rate, sink.mono.finish(sink.read_in))
        if written == 0:
            raise MediaError(f"{path}: the audio stream decodes to zero samples")
        if sink.nonfinite:
            log.warning("%s: %d NaN/infinite samples in the audio replaced by 0", path, sink.nonfinite)
        if mono_track is None and mono_path is not None:
            os.unlink(mono_path)
        return DecodedAudio(raw_path, sample_rate, out_channels, written, str(path), sink.nonfinite,
                            mono_track=mono_track)
    except BaseException:
        for leftover in (raw_path, mono_path):
            try:
                if leftover is not None:
                    os.unlink(leftover)
            except FileNotFoundError:
                pass
        raise


_PLANAR_SCALE = {"fltp": None, "dblp": None, "s16p": 1 / 32768.0, "s32p": 1 / 2147483648.0}
_PACKED_SCALE = {"flt": None, "dbl": None, "s16": 1 / 32768.0, "s32": 1 / 2147483648.0}


def _fast_samples(frame, out_channels: int) -> np.ndarray | None:
    """``(samples, channels)`` float32 straight from a frame, or None when FFmpeg must convert it.

    Covers the common decoders (AAC/Vorbis/Opus: fltp; PCM: s16/s32) when the channel count already
    matches; mono -> stereo is a copy. Other layouts (5.1 downmix) go through FFmpeg's matrix.
    """
    fmt = frame.format.name
    n_in = len(frame.layout.channels)
    if n_in != out_channels and not (n_in == 1 and out_channels == 2):
        return None
    if fmt in _PLANAR_SCALE:
        data = frame.to_ndarray().T  # (samples, channels)
        scale = _PLANAR_SCALE[fmt]
    elif fmt in _PACKED_SCALE:
        data = frame.to_ndarray().reshape(-1, n_in)
        scale = _PACKED_SCALE[fmt]
    else:
        return None
    data = data.astype(np.float32) if scale is None else data.astype(np.float32) * np.float32(scale)
    if n_in == 1 and out_channels == 2:
        data = np.repeat(data, 2, axis=1)
    return data


class _Sink:
    """Collects decoded samples, resamples them in ~1 s batches and appends them to the raw file."""

    def __init__(self, out, resampler, channels: int, in_rate: int, batch: int = 65536, *,
                 nonfinite: str = "zero", source: str = ""):
        self.out, self.resampler, self.channels, self.in_rate = out, resampler, channels, in_rate
        self.batch, self.parts, self.pending = batch, [], 0
        self.read_in = 0
        self.written = 0
        self.policy, self.source, self.nonfinite = nonfinite, source, 0
        self.mono: _MonoTrack | None = None  # the mono track from the source samples, when asked for

    def add(self, data: np.ndarray) -> None:
        if not np.isfinite(data).all():  # before the resampler, which would smear a NaN over its window
            bad = int(np.count_nonzero(~np.isfinite(data)))
            if self.policy == "error":
                raise MediaError(f"{self.source}: the audio holds {bad} NaN/infinite samples")
            self.nonfinite += bad
            data = np.nan_to_num(data, nan=0.0, posinf=0.0, neginf=0.0)
        self.parts.append(data)
        self.pending += data.shape[0]
        self.read_in += data.shape[0]
        if self.pending >= self.batch:
            self._flush(last=False)

    def _flush(self, *, last: bool) -> None:
        data = np.concatenate(self.parts) if len(self.parts) != 1 else self.parts[0]
        self.parts, self.pending = [], 0
        if self.mono is not None:
            self.mono.add(data, last=last)
        if self.resampler is not None:
            data = self.resampler.resample_chunk(data, last=last)
        self.write_raw(data)

    def finish(self) -> None:
        if self.parts or self.resampler is not None or (self.mono is not None and self.mono.resampler is not None):
            if not self.parts:
                self.parts = [np.zeros((0, self.channels), np.float32)]
            self._flush(last=True)

    def write_raw(self, data: np.ndarray) -> None:
        data = np.ascontiguousarray(data, dtype=np.float32)
        self.out.write(memoryview(data).cast("B"))
        self.written += data.shape[0]


class _MonoTrack:
    """The mono track of :func:`decode` (``mono_rate``): the source samples' channels averaged, resampled once
    (soxr, as the main track) and appended to its own raw file; the same length rule as the main track."""

    def __init__(self, out, in_rate: int, rate: int):
        import soxr

        self.out, self.in_rate, self.rate, self.written, self.lead_n = out, in_rate, rate, 0, 0
        self.resampler = soxr.ResampleStream(in_rate, rate, 1, dtype="float32") if in_rate != rate else None

    def lead(self, n: int) -> None:
        if n > 0:
            self.lead_n = n
            self._write(np.zeros(n, np.float32))

    def add(self, data: np.ndarray, *, last: bool) -> None:
        mono = data[:, 0] if data.shape[1] == 1 else data.mean(axis=1, dtype=np.float32)
        self._write(self.resampler.resample_chunk(mono, last=last) if self.resampler is not None else mono)

    def _write(self, data: np.ndarray) -> None:
        data = np.ascontiguousarray(data, dtype=np.float32)
        self.out.write(memoryview(data).cast("B"))
        self.written += data.shape[0]

    def finish(self, read_in: int) -> int:
        """Pad or cut to ``lead + to_samples(read_in / in_rate, rate)`` samples; returns that count."""
        expected = self.lead_n + to_samples(read_in / self.in_rate, self.rate)
        if self.written < expected:
            self._write(np.zeros(expected - self.written, np.float32))
        self.out.flush()
        if self.written > expected:
            self.out.truncate(expected * 4)
        self.written = expected
        return expected


def load_mono(path: str | os.PathLike, sample_rate: int) -> np.ndarray:
    """A whole file as 1-D float32 mono at ``sample_rate``: its channels averaged, resampled once from the
    source rate. The track annotate's speech detection and ASR read (``decode(..., mono_rate=...)``), so a
    benchmark that reads a file with it gives the model what annotate gives it."""
    with decode(path, sample_rate=sample_rate, channels=None, mono_rate=sample_rate) as decoded:
        return decoded.mono(sample_rate)


def load_audio(
    path: str | os.PathLike, *, sample_rate: int | None = None, channels: int | None = None
) -> tuple[np.ndarray, int]:
    """Decode a whole file into memory: ``(wav (channels, samples) float32, sample_rate)``.

    For short files and the Python API. ``sample_rate=None`` keeps the file's rate.
    """
    if sample_rate is None:
        info = probe(path)
        if not info.has_audio:
            raise MediaError(f"{path}: no audio stream")
        sample_rate = info.audio_sample_rate
    with decode(path, sample_rate=sample_rate, channels=channels) as decoded:
        return decoded.read(0, decoded.num_samples), sample_rate


