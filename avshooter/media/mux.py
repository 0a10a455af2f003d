"""Mux: shot videos + one soundtrack -> an mp4, with the video stream COPIED whenever it can be.

What this module owns:

* :func:`probe_videos` probes each input with :func:`avshooter.media.probe.probe` (``exact=True``: codec,
  size, pixel format, time base, frame rate, codec parameters, and the exact duration of the video
  stream from its packets; demux only, nothing decoded) and insists on a video stream and a known
  frame rate;
* :func:`concat_videos_copy_possible` says whether the inputs can be joined by stream copy;
* :func:`mux` writes the video packets of the inputs, in order, into the output unchanged (their
  timestamps offset so they run on without a gap) plus the audio encoded as AAC; when the inputs
  cannot be stream-copied (codecs, sizes, pixel formats, frame rates or codec parameters differ) it
  re-encodes them to H.264 (libx264, yuv420p, the first video's size and frame rate) and says so in
  its report. Output durations are checked against the inputs before the file is put in place;
* :func:`mux_shot` is :func:`mux` for one video.

The output is written to a temporary file in the destination folder and renamed into place, so a
failed mux never leaves a half-written mp4. moviepy is not used: its ``write_videofile`` always
re-encodes.
"""
from __future__ import annotations

import logging
import math
import os
import tempfile
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import numpy as np

from ..audio.resample import resample
from ..errors import InputError, MediaError, OutputError
from ..units import to_samples
from .frames import iter_frames
from .probe import MediaInfo, ffmpeg_reason, open_media, probe, require_video_stream

__all__ = ["AAC_RATES", "concat_videos_copy_possible", "cut_video", "mux", "mux_shot", "probe_videos"]

log = logging.getLogger(__name__)

AAC_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 64000, 88200, 96000)
"""Sample rates the AAC encoder takes; any other rate is resampled to 48 kHz."""
AAC_FRAME = 1024  # samples per AAC frame
_NEED_VIDEO = "; a shot video is needed"


def probe_videos(paths: list[str | os.PathLike]) -> list[MediaInfo]:
    """Probe each video exactly (:func:`avshooter.media.probe.probe` with ``exact=True``).

    Raises
    ------
    InputError
        ``paths`` is empty.
    MediaError
        A file is missing, unreadable, has no video stream, or its frame rate is unknown (names the file).
    """
    if not paths:
        raise InputError("no videos given (need at least one video file to mux)")
    return [_probe_video(p) for p in paths]


def _probe_video(path: str | os.PathLike) -> MediaInfo:
    """An exact probe of a file that must hold a video stream with a known frame rate."""
    info = probe(path, exact=True)
    if not info.has_video:
        with open_media(path) as container:
            require_video_stream(container, path, _NEED_VIDEO)
    info.require_frame_rate()
    return info


def concat_videos_copy_possible(infos: list[MediaInfo]) -> tuple[bool, str]:
    """Whether the videos can be joined by stream copy, and why (not).

    They must share codec, frame size, pixel format, time base, frame rate and codec parameters
    (extradata); the first difference found is named in the reason.
    """
    if not infos:
        return False, "no videos"
    first = infos[0]
    for info in infos[1:]:
        for what, a, b in (
            ("codec", first.video_codec, info.video_codec),
            ("frame size", f"{first.width}x{first.height}", f"{info.width}x{info.height}"),
            ("pixel format", first.pix_fmt, info.pix_fmt),
            ("time base", first.video_time_base, info.video_time_base),
            ("frame rate", first.frame_rate, info.frame_rate),
        ):
            if a != b:
                return False, f"{what} differs: {first.path} has {a}, {info.path} has {b}"
        if first.video_extradata != info.video_extradata:
            return False, f"codec parameters (extradata) differ between {first.path} and {info.path}"
    if len(infos) == 1:
        return True, "single video: stream copied"
    return True, f"{len(infos)} videos share codec {first.video_codec}, {first.width}x{first.height}, {first.pix_fmt}"


# -------------------------------------------------------------------------------------------------- mux


def mux(
    video_paths: list[str | os.PathLike],
    audio: np.ndarray,
    sample_rate: int,
    out_path: str | os.PathLike,
    *,
    audio_bitrate: int = 192000,
    reencode: bool | None = None,
    crf: int = 18,
) -> dict:
    """Join ``video_paths`` in order and add ``audio`` as AAC; write ``out_path`` (mp4) atomically.

    Parameters
    ----------
    video_paths : list of paths
        Shot videos, in order.
    audio : np.ndarray, shape (channels, n), float32
        The soundtrack (1 or 2 channels). It must be as long as the joined video within one AAC frame
        (1024 samples); fit it first.
    sample_rate : int
        Rate of ``audio``. Encoded at that rate when AAC takes it, else resampled to 48 kHz.
    out_path : path
        The mp4 to write (parent folders are created).
    audio_bitrate : int
        AAC bit rate in bit/s.
    reencode : bool or None
        None: copy the video when possible, else re-encode. True: always re-encode. False: never
        re-encode (MediaError when the inputs cannot be copied).
    crf : int
        libx264 quality when re-encoding.

    Returns
    -------
    dict
        ``{"video": "copied" | "re-encoded", "reason", "video_duration_s", "audio_duration_s",
        "difference_s", "inputs_duration_s", "audio_sample_rate", "path"}``.

    Raises
    ------
    MediaError
        Missing/unreadable input, no video stream, a copy that is not possible with ``reencode=False``,
        or output durations that do not match the inputs (the file is then not written).
    InputError
        Bad audio array, rate or length.
    OutputError
        The output cannot be written.
    """
    infos = probe_videos(video_paths)
    wav = _check_audio(audio, sample_rate)
    total_s = sum(info.video_duration_s for info in infos)
    frame_s = infos[0].frame_s
    audio_s = wav.shape[1] / sample_rate
    if abs(audio_s - total_s) > AAC_FRAME / sample_rate + 1e-9:
        raise InputError(
            f"audio lasts {audio_s:.4f} s but the video{'s' if len(infos) > 1 else ''} last {total_s:.4f} s "
            f"(allowed difference: one AAC frame, {AAC_FRAME} samples); fit the audio to the video first"
        )
    possible, why = concat_videos_copy_possible(infos)
    if reencode is False and not possible:
        raise MediaError(f"cannot stream-copy the videos ({why}) and re-encoding was turned off")
    copy = possible and not reencode
    reason = why if copy else (why if not possible else "re-encoding requested")
    if not copy:
        log.warning("re-encoding video to H.264: %s", reason)
    out_rate = int(sample_rate) if int(sample_rate) in AAC_RATES else 48000
    wav = resample(wav, sample_rate, out_rate)

    out = Path(out_path)
    if out.exists() and out.is_dir():
        raise OutputError(f"{out}: is a folder, not an mp4 path")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp.mp4", dir=out.parent)
        os.close(fd)
    except OSError as exc:
        raise OutputError(f"{out}: cannot write ({exc.strerror or exc})") from None
    try:
        _write(tmp, infos, wav, out_rate, audio_bitrate, copy, crf)
        report = _check_output(tmp, infos, total_s, frame_s, out_rate)
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
        tmp = None
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
    report.update(video="copied" if copy else "re-encoded", reason=reason, inputs_duration_s=total_s,
                  audio_sample_rate=out_rate, path=str(out))
    return report


def mux_shot(video_path: str | os.PathLike, audio: np.ndarray, sample_rate: int, out_path: str | os.PathLike,
             **options) -> dict:
    """:func:`mux` for a single shot video (its video stream is copied)."""
    return mux([video_path], audio, sample_rate, out_path, **options)


def cut_video(video_path: str | os.PathLike, start_s: float, end_s: float, audio: np.ndarray, sample_rate: int,
              out_path: str | os.PathLike, *, crf: int = 18, **options) -> dict:
    """One shot ``[start_s, end_s)`` of a longer video, with ``audio``, as its own mp4.

    A cut that starts between keyframes cannot be a stream copy, so the shot's frames are re-encoded
    (H.264, the source's size and rate; the report says so); the audio is fitted to the cut's exact
    length and muxed as in :func:`mux`.
    """
    import av

    from ..audio.fit import fit_to_duration

    info = _probe_video(video_path)
    out = Path(out_path)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".cut.mp4", dir=out.parent)
        os.close(fd)
    except OSError as exc:
        raise OutputError(f"{out}: cannot write ({exc.strerror or exc})") from None
    try:
        with av.open(tmp, "w", format="mp4") as dst:
            vstream = _x264_stream(dst, info, crf)
            frame_tb = 1 / info.require_frame_rate()  # not vstream.time_base: the mp4 muxer changes it
            written = 0
            # shot times are file-local, as everywhere in avshooter.media
            for _, frame in iter_frames(video_path, start_s=start_s, end_s=end_s, edge_s=1e-6):
                picture = frame.reformat(width=vstream.width, height=vstream.height, format="yuv420p")
                picture.pts, picture.time_base = written, frame_tb
                dst.mux(vstream.encode(picture))
                written += 1
            dst.mux(vstream.encode(None))
        if written == 0:
            raise MediaError(f"{video_path}: no frame in [{start_s:.3f}, {end_s:.3f}) s")
        cut = _probe_video(tmp)
        wav = _check_audio(audio, sample_rate)
        wav = fit_to_duration(wav, sample_rate, num_samples=to_samples(cut.video_duration_s, sample_rate))
        report = mux([tmp], wav, sample_rate, out, crf=crf, **options)
    finally:
        try:
            os.unlink(tmp)
        except OSError:
            pass
    report.update(video="re-encoded", reason="a shot cut from a longer video starts between keyframes",
                  source=str(video_path), source_start_s=start_s, source_end_s=end_s)
    return report


def _check_audio(audio, sample_rate) -> np.ndarray:
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)) or sample_rate <= 0:
        raise InputError(f"sample_rate must be a positive integer, got {sample_rate!r}")
    wav = np.asarray(audio, dtype=np.float32)
    if wav.ndim != 2 or wav.shape[0] not in (1, 2) or wav.shape[1] == 0:
        raise InputError(f"audio must be shaped (channels, samples) with 1 or 2 channels, got shape {wav.shape}")
    if not np.all(np.isfinite(wav)):
        raise InputError("audio holds NaN or infinite samples")
    return np.ascontiguousarray(wav)


def _write(tmp: str, infos: list[MediaInfo], wav: np.ndarray, rate: int, bitrate: int, copy: bool, crf: int) -> None:
    import av

    try:
        with av.open(tmp, "w", format="mp4") as output:
            if copy:
                with open_media(infos[0].path) as first:
                    vstream = output.add_stream_from_template(require_video_stream(first, infos[0].path))
            else:
                vstream = _x264_stream(output, infos[0], crf)
            astream = output.add_stream("aac", rate=rate)
            astream.codec_context.layout = "mono" if wav.shape[0] == 1 else "stereo"
            astream.codec_context.bit_rate = int(bitrate)
            if copy:
                _copy_video(output, vstream, infos)
            else:
                _encode_video(output, vstream, infos)
            _encode_audio(output, astream, wav, rate)
    except av.error.FFmpegError as exc:
        raise MediaError(f"{tmp}: muxing failed ({ffmpeg_reason(exc)})") from None


def _copy_video(output, vstream, infos: list[MediaInfo]) -> None:
    """Every input's packets, unchanged, with pts/dts offset so the inputs follow each other."""
    offset = 0  # in the (shared) input time base
    last_dts = None
    for info in infos:
        with open_media(info.path) as container:
            stream = require_video_stream(container, info.path)
            for packet in container.demux(stream):
                if packet.pts is None or packet.size == 0:
                    continue
                shift = offset - info.video_start_pts
                packet.pts += shift
                dts = (packet.dts if packet.dts is not None else packet.pts - shift) + shift
                if last_dts is not None and dts <= last_dts:
                    dts = min(last_dts + 1, packet.pts)
                packet.dts = dts
                last_dts = dts
                packet.time_base = stream.time_base
                packet.stream = vstream
                output.mux(packet)
        offset += info.video_end_pts - info.video_start_pts


def _x264_stream(output, first: MediaInfo, crf: int):
    fps = first.require_frame_rate()
    stream = output.add_stream("libx264", rate=fps)
    stream.width, stream.height = first.width - first.width % 2, first.height - first.height % 2
    stream.pix_fmt = "yuv420p"
    stream.time_base = 1 / fps
    stream.options = {"crf": str(crf), "preset": "veryfast"}
    return stream


def _encode_video(output, vstream, infos: list[MediaInfo]) -> None:
    """Decode every input and encode it at the first input's rate and size (frames picked by time)."""
    fps = infos[0].require_frame_rate()
    frame_tb = 1 / fps  # not vstream.time_base: the mp4 muxer changes that once the header is written
    index = 0
    start_s = 0.0
    for info in infos:
        stop_s = start_s + info.video_duration_s
        first, stop = _frame_index(start_s, fps), _frame_index(stop_s, fps)
        for frame in _frames_at_rate(info, fps, first, stop, start_s):
            out = frame.reformat(width=vstream.width, height=vstream.height, format="yuv420p")
            out.pts = index
            out.time_base = frame_tb
            index += 1
            for packet in vstream.encode(out):
                output.mux(packet)
        start_s = stop_s
    for packet in vstream.encode(None):
        output.mux(packet)


def _frame_index(seconds: float, fps: Fraction) -> int:
    """Output frame index at ``seconds`` (round half up, the rule of :func:`avshooter.units.to_samples`)."""
    return math.floor(seconds * float(fps) + 0.5)


def _frames_at_rate(info: MediaInfo, fps: Fraction, first: int, stop: int, start_s: float) -> Iterator:
    """Frames of ``info`` for the output frame indices ``first .. stop-1`` (latest input frame at each time)."""
    k = first
    held = None
    for _, frame in iter_frames(info.path):
        # this input's own video clock (its first packet = start_s on the output), not the file clock
        t = float((frame.pts - info.video_start_pts) * info.video_time_base) + start_s
        while held is not None and k < stop and k / fps < t - 1e-9:
            yield held
            k += 1
        held = frame
    while held is not None and k < stop:
        yield held
        k += 1


def _encode_audio(output, astream, wav: np.ndarray, rate: int) -> None:
    import av

    layout = "mono" if wav.shape[0] == 1 else "stereo"
    block = AAC_FRAME * 16
    for pos in range(0, wav.shape[1], block):
        chunk = np.ascontiguousarray(wav[:, pos:pos + block])
        frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout=layout)
        frame.sample_rate = rate
        frame.pts = pos
        frame.time_base = Fraction(1, rate)
        for packet in astream.encode(frame):
            output.mux(packet)
    for packet in astream.encode(None):
        output.mux(packet)


def _check_output(path: str, infos: list[MediaInfo], total_s: float, frame_s: float, rate: int) -> dict:
    """Durations of the written file, checked: video = sum of inputs within a frame, audio = video within an AAC frame."""
    video = _probe_video(path)
    with open_media(path) as container:
        if not container.streams.audio:
            raise MediaError(f"{path}: the written file has no audio stream")
        a = container.streams.audio[0]
        if a.duration is not None:
            audio_s = float(a.duration * a.time_base)
        else:  # count the decoded samples
            audio_s = sum(f.samples for f in container.decode(a)) / rate
    video_s = video.video_duration_s
    if abs(video_s - total_s) > frame_s + 1e-6:
        raise MediaError(f"muxed video lasts {video_s:.4f} s but the inputs last {total_s:.4f} s (more than one frame off)")
    if abs(audio_s - video_s) > AAC_FRAME / rate + 1e-6:
        raise MediaError(f"muxed audio lasts {audio_s:.4f} s but the video {video_s:.4f} s (more than one AAC frame off)")
    return {"video_duration_s": video_s, "audio_duration_s": audio_s, "difference_s": audio_s - video_s}
