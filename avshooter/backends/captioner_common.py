"""What the two MLLM captioners (``openai``, ``gemini``) share: the prompt, options, payload, answer check.

The backends differ only in the request body they build and where the answer text sits in the reply;
everything else lives here once:

- **payload** (:func:`build_payload`): the shot's audio as a 16 kHz mono 16-bit WAV (base64) and up to
  ``n_frames`` pictures (encoders in :mod:`avshooter.media.encode`), and a text part holding the story
  context and our measured annotation as JSON;
- **answer schema** (:func:`parse_annotation`): ONE JSON object with exactly these three keys, the
  AnimeShooter-audio "audio annotation"::

      {"type": "speech" | "music" | "effects" | "ambience" | "silence",
       "sound description": "<non-empty text>",
       "visual context": "<non-empty text>"}

  ``type`` is one of the words of :data:`avshooter.vocabulary.TYPES`. Case and surrounding
  spaces are ignored. Keys may come with ``_``/``-`` for the space and in any case
  (``sound_description``); other keys are dropped. The object may sit inside a ```json fence or after
  some prose. A bad answer is sent back once per retry with what was wrong (:func:`correction_text`);
- **HTTP**: the one client with retries, :func:`avshooter.io.http.post_json`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import math
import re
from dataclasses import dataclass, field

import numpy as np

from ..vocabulary.layers import TYPES
from ..errors import BackendError, InputError
from ..media.encode import encode_frame, encode_wav

__all__ = [
    "KEYS",
    "PROMPT_SHA1",
    "SYSTEM_PROMPT",
    "AnswerError",
    "Payload",
    "ask",
    "build_payload",
    "check_options",
    "correction_text",
    "parse_annotation",
]

log = logging.getLogger(__name__)

KEYS = ("type", "sound description", "visual context")
MAX_FIELD_CHARS = 2000

SYSTEM_PROMPT = f"""\
You annotate the audio of ONE shot of an anime video for the AnimeShooter-audio data set.
You get the shot's audio, a few frames of the shot, the story context, and measurements of the audio
made by signal processing (loudness in LUFS, peaks, pitch, onset rate, speech ranges in seconds, tags).
The measurements are exact for loudness and timing; use your hearing for what makes the sound.

Answer with ONE JSON object and nothing else (no prose, no markdown), with exactly these keys:
{{"type": "...", "sound description": "...", "visual context": "..."}}
- "type": the sound that dominates the shot, exactly one of: {", ".join(TYPES)}.
  speech = voices talking; music = score or songs; effects = distinct sound events (hits, footsteps,
  doors, explosions, magic); ambience = continuous background (wind, rain, crowd, room tone);
  silence = nothing audible.
- "sound description": one to three sentences on what is heard: sources, pitch, loudness, rhythm and
  temporal pattern, timbre, changes over time. Do not transcribe speech (quote at most a few words).
- "visual context": which visible characters (by their ID when given) or objects make or relate to the
  sound, and where in the scene. If no picture is given, say what the story implies and that the
  picture is unknown.
"""
PROMPT_SHA1 = hashlib.sha1(SYSTEM_PROMPT.encode()).hexdigest()


class AnswerError(ValueError):
    """The model's answer does not fit the schema (the message says what is wrong, for the retry)."""


@dataclass
class Payload:
    """What one request carries: the text part, the WAV (base64 or None) and the pictures."""

    text: str
    audio_b64: str | None
    images: list[tuple[str, str]] = field(default_factory=list)  # (mime type, base64)


# --------------------------------------------------------------------------------------------- options

def check_options(name: str, opts: dict) -> None:
    """Raise a one-line BackendError when a common option is out of range."""
    rules = {
        "timeout_s": lambda v: isinstance(v, (int, float)) and v > 0,
        "max_retries": lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0,
        "json_retries": lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0,
        "backoff_s": lambda v: isinstance(v, (int, float)) and v >= 0,
        "max_backoff_s": lambda v: isinstance(v, (int, float)) and v >= 0,
        "temperature": lambda v: v is None or (isinstance(v, (int, float)) and 0 <= v <= 2),
        "n_frames": lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0,
        "frame_max_side": lambda v: isinstance(v, int) and v >= 16,
        "max_audio_s": lambda v: isinstance(v, (int, float)) and v > 0,
        "max_tokens": lambda v: v is None or (isinstance(v, int) and v > 0),
        "base_url": lambda v: isinstance(v, str) and v.startswith(("http://", "https://")),
        "model": lambda v: isinstance(v, str) and v.strip() != "",
        "api_key_env": lambda v: v is None or (isinstance(v, str) and v.strip() != ""),
    }
    allowed = {
        "timeout_s": "a number > 0", "max_retries": "an integer >= 0", "json_retries": "an integer >= 0",
        "backoff_s": "a number >= 0", "max_backoff_s": "a number >= 0", "temperature": "null or 0..2",
        "n_frames": "an integer >= 0", "frame_max_side": "an integer >= 16", "max_audio_s": "a number > 0",
        "max_tokens": "null or an integer > 0", "base_url": "an http:// or https:// URL",
        "model": "a non-empty string", "api_key_env": "the name of an environment variable",
    }
    for key, ok in rules.items():
        if key in opts and not ok(opts[key]):
            raise BackendError(f"{name} captioner: option {key}={opts[key]!r} is not allowed ({allowed[key]})")
    for key in ("send_audio", "send_frames"):
        if key in opts and not isinstance(opts[key], bool):
            raise BackendError(f"{name} captioner: option {key}={opts[key]!r} is not allowed (true or false)")


# --------------------------------------------------------------------------------------------- payload

def _pick(frames: list, n: int) -> list:
    """``n`` frames spread evenly over the list (all of them when there are fewer)."""
    if len(frames) <= n:
        return list(frames)
    idx = np.linspace(0, len(frames) - 1, n).round().astype(int)
    return [frames[i] for i in idx]


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items() if v is not None and v != ""}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, float):
        return round(value, 4) if math.isfinite(value) else None
    if isinstance(value, (np.floating, np.integer)):
        return _jsonable(value.item())
    if isinstance(value, (str, int, bool)) or value is None:
        return value
    return str(value)


def build_payload(wav, sample_rate, *, frames, context, send_audio: bool = True, send_frames: bool = True,
                  n_frames: int = 3, frame_max_side: int = 512, max_audio_s: float = 300.0) -> Payload:
    """The text, audio and pictures of one caption request.

    Parameters
    ----------
    wav : float32 (channels, samples), the shot
    sample_rate : Hz
    frames : list of uint8 (H, W, 3) pictures of the shot (``n_frames`` of them, evenly spread, are sent)
    context : story/shot text (storyline, scene, caption, plot, characters...) and ``"measured"``
    """
    if not isinstance(wav, np.ndarray) or wav.ndim != 2 or not np.issubdtype(wav.dtype, np.floating):
        desc = f"{wav.dtype} {wav.shape}" if isinstance(wav, np.ndarray) else type(wav).__name__
        raise InputError(f"captioner: audio is {desc}; it must be a float array shaped (channels, samples)")
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)) or sample_rate <= 0:
        raise InputError(f"captioner: sample_rate={sample_rate!r}; it must be a positive integer (Hz)")
    if not isinstance(context, dict):
        raise InputError(f"captioner: context is {type(context).__name__}; it must be a mapping")
    frames = list(frames or [])
    context = dict(context)
    measured = context.pop("measured", None)
    duration = wav.shape[1] / sample_rate
    parts = [f"Shot duration: {duration:.3f} s."]
    story = _jsonable(context)
    parts.append("Story and shot context (JSON):\n" + (json.dumps(story, ensure_ascii=False) if story else "(none)"))
    if measured:
        parts.append("Our measured annotation of this shot (JSON; improve on it):\n"
                     + json.dumps(_jsonable(measured), ensure_ascii=False))
    images = []
    if send_frames and frames and n_frames > 0:
        for frame in _pick(frames, n_frames):
            mime, data = encode_frame(frame, max_side=frame_max_side)
            images.append((mime, base64.b64encode(data).decode("ascii")))
        parts.append(f"{len(images)} frame(s) of the shot are attached, in time order.")
    else:
        parts.append("No picture of the shot is attached.")
    audio = None
    if send_audio:
        audio = base64.b64encode(encode_wav(wav, int(sample_rate), max_audio_s=max_audio_s)).decode("ascii")
        parts.append("The shot's audio is attached (16 kHz mono WAV).")
    else:
        parts.append("The audio is not attached: rely on the measurements.")
    parts.append("Reply with the JSON object only.")
    return Payload("\n\n".join(parts), audio, images)


# --------------------------------------------------------------------------------------------- answers

_FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.DOTALL)


def parse_annotation(text) -> dict:
    """The validated ``{"type", "sound description", "visual context"}`` in a model's answer.

    Raises
    ------
    AnswerError : what is wrong (no JSON object, a missing/empty key, a type not allowed), in one line.
    """
    if not isinstance(text, str) or not text.strip():
        raise AnswerError("the answer was empty")
    obj = None
    candidates = [text.strip()] + [m.strip() for m in _FENCE.findall(text)]
    first, last = text.find("{"), text.rfind("}")
    if 0 <= first < last:
        candidates.append(text[first:last + 1])
    for cand in candidates:
        try:
            obj = json.loads(cand, strict=False)  # models put raw newlines in strings
        except ValueError:
            continue
        break
    if obj is None:
        raise AnswerError("the answer is not valid JSON")
    if not isinstance(obj, dict):
        raise AnswerError(f"the answer is a JSON {type(obj).__name__}, not an object")
    norm = {" ".join(str(k).lower().replace("_", " ").replace("-", " ").split()): v for k, v in obj.items()}
    missing = [k for k in KEYS if k not in norm]
    if missing:
        raise AnswerError(f"key(s) {', '.join(repr(k) for k in missing)} missing")
    out = {}
    for key in KEYS:
        value = norm[key]
        if not isinstance(value, str) or not value.strip():
            raise AnswerError(f"{key!r} must be a non-empty string, got {json.dumps(value)[:60]}")
        if len(value) > MAX_FIELD_CHARS:
            raise AnswerError(f"{key!r} is {len(value)} characters long (at most {MAX_FIELD_CHARS})")
        out[key] = " ".join(value.split())
    kind = out["type"].lower()
    if kind not in TYPES:
        raise AnswerError(f"type {out['type']!r} is not allowed (exactly one of: {', '.join(TYPES)})")
    out["type"] = kind
    return out


def correction_text(reason: str) -> str:
    """The message that sends a bad answer back."""
    return (f"Your answer could not be used: {reason}. Reply again with ONLY one JSON object with exactly the "
            f'keys "type", "sound description", "visual context"; "type" must be exactly one of: '
            f"{', '.join(TYPES)}.")


def ask(name: str, send, correct, *, json_retries: int) -> dict:
    """Ask, check the answer, send it back with what was wrong up to ``json_retries`` times.

    ``send()`` returns the answer text; ``correct(text, reason)`` adds the bad answer and the correction to
    the conversation.
    """
    reason = ""
    for attempt in range(json_retries + 1):
        text = send()
        try:
            return parse_annotation(text)
        except AnswerError as exc:
            reason = str(exc)
            log.warning("%s captioner: unusable answer (%s), attempt %d of %d", name, reason, attempt + 1,
                        json_retries + 1)
            correct(text if isinstance(text, str) else "", reason)
    raise BackendError(f"{name} captioner: no usable answer after {json_retries + 1} tries: {reason}")
