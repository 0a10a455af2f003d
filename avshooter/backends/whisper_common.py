"""What both Whisper backends share: the speech gating, 16 kHz mono input, time placement and option checks.

Only the VAD speech ranges reach the model (:func:`speech_pieces`: merged when closer than ``merge_gap_s``,
padded by ``pad_s``, cut into pieces of at most ``max_piece_s``), because Whisper invents text on music and
silence. Times come back in seconds from the clip start, kept inside the piece they came from (:func:`place`).
"""
from __future__ import annotations

import math
import re

import numpy as np

from ..audio.resample import mono_at
from ..errors import BackendError, InputError
from ..units import to_samples

__all__ = ["WHISPER_RATE", "check_common", "cut", "empty_transcript", "join_text", "pick_language", "place",
           "pack_windows", "slice_transcript", "speech_phrase", "speech_pieces", "whisper_audio"]

WHISPER_RATE = 16000
# Scripts written without spaces between words: segment texts are joined without a separator.
_NO_SPACE_LANGUAGES = {"ja", "zh", "yue", "th", "lo", "my", "km", "bo"}


def speech_pieces(speech, duration_s: float, *, merge_gap_s: float = 0.5, pad_s: float = 0.2,
                  max_piece_s: float = 30.0) -> list[tuple[float, float]]:
    """The pieces of a clip that Whisper transcribes.

    Parameters
    ----------
    speech : ``[(start_s, end_s)]`` speech ranges from the clip start (any order; clipped to the clip)
    duration_s : length of the clip in seconds
    merge_gap_s : ranges closer than this are merged into one
    pad_s : context added on both sides of every merged range (inside the clip)
    max_piece_s : longer merged ranges are cut into pieces no longer than this (Whisper's window is 30 s):
        in the middle of the pauses between the ``speech`` ranges they were merged from, as late as the
        limit allows (:func:`_cut_at_pauses`), so that no word is cut in two; a stretch without a pause
        is cut into equal parts

    Returns
    -------
    ``[(start_s, end_s)]`` sorted, disjoint, each ``0 < end_s - start_s <= max_piece_s``; ``[]`` without speech.
    """
    ranges = []
    for i, item in enumerate(speech or []):
        try:
            start, end = (float(v) for v in item)
        except (TypeError, ValueError):
            raise InputError(f"speech range #{i} {item!r} is not a (start_s, end_s) pair of numbers") from None
        if not (math.isfinite(start) and math.isfinite(end)) or end < start:
            raise InputError(f"speech range #{i} ({start}, {end}) must be finite with end_s >= start_s")
        start, end = max(0.0, start), min(float(duration_s), end)
        if end > start:
            ranges.append((start, end))
    merged: list[list] = []  # [start, end, [the ranges merged into it]]
    for start, end in sorted(ranges):
        if merged and start - merged[-1][1] < merge_gap_s:
            merged[-1][1] = max(merged[-1][1], end)
            merged[-1][2].append((start, end))
        else:
            merged.append([start, end, [(start, end)]])
    padded: list[list] = []
    for start, end, inner in merged:
        start, end = max(0.0, start - pad_s), min(float(duration_s), end + pad_s)
        if padded and start <= padded[-1][1]:
            padded[-1][1] = max(padded[-1][1], end)
            padded[-1][2].extend(inner)
        else:
            padded.append([start, end, list(inner)])
    pieces = []
    for start, end, inner in padded:
        pieces.extend((round(a, 6), round(b, 6)) for a, b in _cut_at_pauses(start, end, inner, max_piece_s))
    return pieces


def _cut_at_pauses(start: float, end: float, inner, max_piece_s: float) -> list[tuple[float, float]]:
    """``[start, end]`` in pieces of at most ``max_piece_s``, cut in the middle of the pauses between the
    sorted speech ranges ``inner`` (the latest pause that keeps a piece within the limit); where no pause
    falls within the limit, the stretch up to the next pause is cut into equal parts."""
    if end - start <= max_piece_s:
        return [(start, end)]
    reach = [inner[0][1]]
    for a, b in inner[1:]:
        reach.append(max(reach[-1], b))
    cuts = [(reach[k] + inner[k + 1][0]) / 2 for k in range(len(inner) - 1) if inner[k + 1][0] > reach[k]]
    cuts = [c for c in cuts if start < c < end]
    pieces, a = [], start
    while end - a > max_piece_s + 1e-9:
        fits = [c for c in cuts if a < c <= a + max_piece_s]
        if fits:
            pieces.append((a, max(fits)))
            a = max(fits)
            continue
        stop = min([c for c in cuts if c > a] + [end])  # no pause within reach: equal parts up to the next one
        n = math.ceil((stop - a) / max_piece_s - 1e-9)
        step = (stop - a) / n
        pieces.extend((a + k * step, a + (k + 1) * step) for k in range(n - 1))
        a += (n - 1) * step
    pieces.append((a, end))
    return pieces


def whisper_audio(wav: np.ndarray, sample_rate: int) -> np.ndarray:
    """Mono float32 1-D audio at 16 kHz (Whisper's rate) from ``(channels, samples)`` at ``sample_rate``."""
    wav = np.asarray(wav)
    if wav.ndim != 2 or wav.shape[1] == 0:
        raise InputError(f"ASR input must be a non-empty (channels, samples) array, got shape {wav.shape}")
    if not isinstance(sample_rate, (int, np.integer)) or sample_rate <= 0:
        raise InputError(f"sample_rate {sample_rate!r} must be a positive integer (Hz)")
    if not np.isfinite(np.sum(wav, dtype=np.float64)):  # NaN/inf anywhere makes the sum so; no temporary array
        raise InputError("ASR input holds NaN or infinite samples")
    # a whole file's 16 kHz mono track comes back as is (no copy): annotate transcribes files once
    return mono_at(wav, sample_rate, WHISPER_RATE)


def cut(audio16k: np.ndarray, piece: tuple[float, float]) -> np.ndarray:
    """The samples of ``piece`` (seconds) in 16 kHz audio."""
    return audio16k[to_samples(piece[0], WHISPER_RATE):to_samples(piece[1], WHISPER_RATE)]


def place(t: float, piece: tuple[float, float]) -> float:
    """Time ``t`` relative to ``piece``'s start -> seconds from the clip start, kept inside the piece."""
    return round(min(max(piece[0] + float(t), piece[0]), piece[1]), 3)


def join_text(texts, language: str | None) -> str:
    """Segment texts joined as one transcript (no spaces between segments for Japanese, Chinese, ...)."""
    sep = "" if language in _NO_SPACE_LANGUAGES else " "
    return sep.join(t.strip() for t in texts if t.strip())


def empty_transcript(language: str | None = None) -> dict:
    """The answer for a clip without speech (the model is not called)."""
    return {"text": "", "language": language, "language_prob": None, "words": [], "segments": []}


def pick_language(probs: dict[str, float], candidates) -> tuple[str, float]:
    """Most likely language among ``candidates`` (all when None), probability renormalised over them."""
    if candidates:
        probs = {k: v for k, v in probs.items() if k in candidates}
        if not probs:
            raise BackendError(f"none of the candidate languages {list(candidates)} is known to the model")
    total = sum(probs.values()) or 1.0
    best = max(probs, key=probs.get)
    return best, float(probs[best] / total)


def check_common(opts, name: str) -> None:
    """Checks both Whisper backends make on their options (one clear line each)."""
    if opts.task not in ("transcribe", "translate"):
        raise BackendError(f"{name}: task {opts.task!r} unknown (allowed: transcribe, translate)")
    for key in ("beam_size", "batch_size"):
        value = getattr(opts, key)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise BackendError(f"{name}: {key} {value!r} must be an integer >= 1")
    if not 0 < opts.max_piece_s <= 30:
        raise BackendError(f"{name}: max_piece_s {opts.max_piece_s!r} must be in (0, 30] (Whisper's window is 30 s)")
    if opts.merge_gap_s < 0 or opts.pad_s < 0:
        raise BackendError(f"{name}: merge_gap_s and pad_s must be >= 0 (got {opts.merge_gap_s}, {opts.pad_s})")
    for code in [opts.language, *(opts.languages or ())]:
        if code is not None and (not isinstance(code, str) or not code.isalpha() or not 2 <= len(code) <= 3):
            raise BackendError(f"{name}: language {code!r} must be an ISO code such as 'ja' or 'en', or None")


# Language names for the sound description (Whisper's codes; others are named by their code).
_LANGUAGE_NAMES = {"ja": "Japanese", "en": "English", "zh": "Chinese", "ko": "Korean", "fr": "French",
                   "de": "German", "es": "Spanish", "it": "Italian", "pt": "Portuguese", "ru": "Russian"}


def speech_phrase(transcript: dict | None, *, speaker: str = "someone", max_words: int = 30,
                  max_chars: int = 60) -> str:
    """The spoken part of a sound description: ``someone says: "..."`` (``in Japanese`` when not English).

    Parameters
    ----------
    transcript : an ASR answer (``text``, ``language``); None or empty text gives ``""``
    speaker : who speaks; "someone" unless something measured says more (no gender or voice is guessed)
    max_words, max_chars : longer texts are cut with "..." (words for spaced scripts, characters otherwise)

    Returns
    -------
    One sentence such as ``someone says in Japanese: "待って！まだ話は終わってないよ！"``, or ``""``.
    """
    text = " ".join(str((transcript or {}).get("text") or "").split())
    if not text:
        return ""
    language = transcript.get("language")
    if language in _NO_SPACE_LANGUAGES:
        if len(text) > max_chars:
            text = text[:max_chars].rstrip() + "..."
    else:
        words = text.split()
        if len(words) > max_words:
            text = " ".join(words[:max_words]) + "..."
    where = "" if language in (None, "en") else f" in {_LANGUAGE_NAMES.get(language, language)}"
    return f'{speaker} says{where}: "{text}"'


def slice_transcript(transcript: dict | None, start_s: float, end_s: float) -> dict:
    """The part of a longer clip's transcript spoken in ``[start_s, end_s)`` (a shot of a transcribed file).

    Words and segments belong to the slice their start falls in; times are shifted to the slice's start and
    kept inside it. The text is the slice's words (segment texts when words are not timed). The language is
    the one the slice's segments carry most (by duration; segments carry their window's language), else
    the clip's.

    Returns
    -------
    ``{"text", "language", "language_prob", "words", "segments"}`` like an ASR answer for the slice alone.
    """
    if not transcript:
        return empty_transcript()

    def inside(item):
        return start_s <= item["start_s"] < end_s

    def shifted(item):
        start = round(item["start_s"] - start_s, 3)
        return {**item, "start_s": start, "end_s": max(start, round(min(item["end_s"], end_s) - start_s, 3))}

    segments = [shifted(s) for s in transcript.get("segments", []) if inside(s)]
    words = [shifted(w) for w in transcript.get("words", []) if inside(w)]
    votes: dict = {}
    for seg in segments:
        if seg.get("language"):
            votes[seg["language"]] = votes.get(seg["language"], 0.0) + seg["end_s"] - seg["start_s"] + 1e-6
    language = max(votes, key=votes.get) if votes else transcript.get("language")
    probs = [s.get("language_prob") for s in segments if s.get("language") == language and s.get("language_prob")]
    prob = max(probs) if probs else (transcript.get("language_prob") if language == transcript.get("language") else None)
    return {"text": _text(words, segments, language), "language": language, "language_prob": prob, "words": words,
            "segments": segments}


def _text(words: list, segments: list, language) -> str:
    """A transcript's text from its words (segment texts when the words are not timed)."""
    sep = "" if language in _NO_SPACE_LANGUAGES else " "
    text = sep.join(w["word"] for w in words) if words else join_text((s["text"] for s in segments), language)
    return re.sub(r" (?=[-,.!?;:'’])", "", text)  # "table -round" -> "table-round" (word pieces)


def transcript_without(transcript: dict, spans) -> dict:
    """``transcript`` without the words and segments whose middle falls in one of ``spans`` (``(start_s,
    end_s)``, the transcript's own time base; e.g. sung stretches: lyrics are not dialogue); the text is
    rebuilt from what is left, as :func:`slice_transcript` builds it."""
    def kept(item):
        mid = 0.5 * (item["start_s"] + item["end_s"])
        return not any(a <= mid < b for a, b in spans)

    words = [w for w in transcript.get("words", []) if kept(w)]
    segments = [s for s in transcript.get("segments", []) if kept(s)]
    return {**transcript, "text": _text(words, segments, transcript.get("language")), "words": words,
            "segments": segments}


def pack_windows(pieces, max_s: float) -> list[list[tuple[float, float]]]:
    """Consecutive pieces grouped so that each group's total length is at most ``max_s``."""
    groups, total = [], 0.0
    for piece in pieces:
        length = piece[1] - piece[0]
        if groups and total + length <= max_s + 1e-9:
            groups[-1].append(piece)
            total += length
        else:
            groups.append([piece])
            total = length
    return groups
