"""Units: the ONE rule that turns seconds into samples, and time strings into seconds.

Audio convention for the whole package: float32 arrays shaped ``(channels, samples)`` with an explicit
``sample_rate``; times in seconds (float). A span ``[a, b)`` at rate ``sr`` covers the samples
``to_samples(a, sr) .. to_samples(b, sr)``, so it has exactly ``to_samples(b, sr) - to_samples(a, sr)``
samples and consecutive spans tile the signal with no gap and no overlap.
"""
from __future__ import annotations

import math
import re

import numpy as np

from .errors import InputError, StoryError

__all__ = ["to_samples", "span_samples", "parse_time", "format_mmss", "format_hms", "check_rate", "check_audio",
           "true_runs"]


def to_samples(seconds: float, sample_rate: int) -> int:
    """Sample index of time ``seconds`` at ``sample_rate``: round half up (``floor(t*sr + 0.5)``)."""
    return int(math.floor(float(seconds) * sample_rate + 0.5))


def span_samples(start_s: float, end_s: float, sample_rate: int) -> tuple[int, int]:
    """``(first, stop)`` sample indices of the span ``[start_s, end_s)``."""
    return to_samples(start_s, sample_rate), to_samples(end_s, sample_rate)


_CLOCK = re.compile(r"^\s*(?:(\d+):)?(\d{1,3}):(\d{1,2}(?:\.\d+)?)\s*$")


def parse_time(value, *, fps: float | None = None, where: str = "time") -> float:
    """Seconds from any time form the AnimeShooter data uses.

    Accepted: ``"MM:SS"``, ``"HH:MM:SS"``, either with a fraction (``"00:01:02.500"``), a number of
    seconds (``12.5`` or ``"12.5"``), or a frame index ``{"frame": 300}`` / ``"frame:300"`` together
    with ``fps``. ``where`` names the value in the error message.
    """
    if isinstance(value, bool):
        raise StoryError(f"{where}: {value!r} is not a time (use 'MM:SS', 'HH:MM:SS.fff', seconds or a frame index)")
    if isinstance(value, dict) and set(value) == {"frame"}:
        return _frame_to_seconds(value["frame"], fps, where)
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip()
        if text.lower().startswith("frame:"):
            return _frame_to_seconds(text[6:].strip(), fps, where)
        m = _CLOCK.match(text)
        if m:
            hours, minutes, secs = m.group(1), m.group(2), m.group(3)
            if float(secs) >= 60 or (hours is not None and int(minutes) >= 60):
                raise StoryError(f"{where}: {value!r} has minutes or seconds >= 60")
            seconds = int(hours or 0) * 3600 + int(minutes) * 60 + float(secs)
        else:
            try:
                seconds = float(text)
            except ValueError:
                raise StoryError(
                    f"{where}: cannot read time {value!r} "
                    "(use 'MM:SS', 'HH:MM:SS.fff', seconds, or 'frame:N' with the video's fps)"
                ) from None
    else:
        raise StoryError(f"{where}: {value!r} is not a time (use 'MM:SS', 'HH:MM:SS.fff', seconds or a frame index)")
    if not math.isfinite(seconds) or seconds < 0:
        raise StoryError(f"{where}: time {value!r} must be a finite number of seconds >= 0")
    return seconds


def _frame_to_seconds(frame, fps, where) -> float:
    try:
        index = int(frame)
    except (TypeError, ValueError):
        raise StoryError(f"{where}: frame index {frame!r} is not an integer") from None
    if index < 0:
        raise StoryError(f"{where}: frame index {index} must be >= 0")
    if not fps or fps <= 0:
        raise StoryError(f"{where}: a frame index needs the video's fps (none known)")
    return index / float(fps)


def format_mmss(seconds: float) -> str:
    """The paper's "MM:SS" (whole seconds, rounded down; minutes may exceed 59)."""
    total = int(math.floor(seconds + 1e-9))
    return f"{total // 60:02d}:{total % 60:02d}"


def format_hms(seconds: float) -> str:
    """``"HH:MM:SS.fff"`` with millisecond precision."""
    ms = int(round(seconds * 1000))
    h, rem = divmod(ms, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s, ms = divmod(rem, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


def check_rate(sample_rate) -> int:
    """``sample_rate`` as an int, or InputError unless it is a positive integer (Hz)."""
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)) or sample_rate <= 0:
        raise InputError(f"sample_rate={sample_rate!r} is not allowed (a positive integer in Hz)")
    return int(sample_rate)


def check_audio(wav, sample_rate=None, *, name: str = "wav") -> np.ndarray:
    """``wav`` itself if it is finite float audio ``(channels, samples)`` (and the rate, if given, is valid)."""
    if sample_rate is not None:
        check_rate(sample_rate)
    if not isinstance(wav, np.ndarray) or wav.ndim != 2:
        shape = getattr(wav, "shape", type(wav).__name__)
        raise InputError(f"{name} has shape {shape}: audio must be a 2-D float array (channels, samples)")
    if not np.issubdtype(wav.dtype, np.floating):
        raise InputError(f"{name} has dtype {wav.dtype}: audio must be float (float32 preferred)")
    if wav.shape[0] < 1:
        raise InputError(f"{name} has shape {wav.shape}: at least one channel is needed")
    if not np.isfinite(wav).all():
        raise InputError(f"{name} contains NaN or inf samples: only finite values are allowed")
    return wav


def true_runs(mask) -> list[tuple[int, int]]:
    """The stretches of consecutive True (non-zero) entries of a 1-D ``mask`` as ``(first, last)`` index
    pairs, both inclusive, in order: e.g. the speech ranges of a per-frame VAD gate."""
    on = np.flatnonzero(np.asarray(mask) > 0)
    if on.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(on) > 1)
    return [(int(a), int(b)) for a, b in zip(on[np.r_[0, breaks + 1]], on[np.r_[breaks, on.size - 1]])]
