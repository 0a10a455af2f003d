"""What the two MLLM captioners (``openai``, ``gemini``) share: the prompt, the payload, the answer check, HTTP.

The backends differ only in the request body they build and where the answer text sits in the reply;
everything else lives here once:

- **payload**: the shot's audio as a 16 kHz mono 16-bit WAV (base64), up to ``n_frames`` pictures as JPEG
  (Pillow) or PNG (written by hand with zlib when Pillow is missing), and a text part holding the story
  context and our measured annotation as JSON;
- **answer schema** (:func:`parse_annotation`): ONE JSON object with exactly these three keys, the
  AnimeShooter-audio "audio annotation"::

      {"type": "speech" | "music" | "effects" | "ambience" | "silence",
       "sound description": "<non-empty text>",
       "visual context": "<non-empty text>"}

  ``type`` is one of the five words of :data:`avshooter.annotation.describe.TYPES` and nothing more specific (no
  ``"effects: footsteps"``): the rest of avshooter (stems, retrieval bank, generation) keys on those five,
  and detail belongs in "sound description". Case and surrounding spaces are ignored. Keys may come with
  ``_``/``-`` for the space and in any case (``sound_description``); other keys are dropped. The object
  may sit inside a ```json fence or after some prose. A bad answer is sent back once per retry with what
  was wrong (:func:`correction_text`);
- **HTTP** (:func:`post_json`): urllib only (no new dependency). 429/500/502/503/504, time-outs and dropped
  connections are retried with exponential backoff and jitter, honouring ``Retry-After`` (capped at
  ``max_backoff_s``); any other 4xx fails at once. Errors are one line; the API key is never logged,
  never in :meth:`info`, and scrubbed from any server text we quote.
"""
from __future__ import annotations

import base64
import hashlib
import io
import json
import logging
import math
import os
import random
import re
import struct
import time
import urllib.error
import urllib.request
import wave
import zlib
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime

import numpy as np

from ..annotation.describe import TYPES
from ..errors import BackendError, InputError
from ..units import to_samples

__all__ = [
    "AUDIO_SAMPLE_RATE",
    "KEYS",
    "PROMPT_SHA1",
    "SYSTEM_PROMPT",
    "AnswerError",
    "Payload",
    "ask",
    "build_payload",
    "check_options",
    "correction_text",
    "encode_frame",
    "encode_wav",
    "parse_annotation",
    "png_bytes",
    "post_json",
    "read_key",
    "scrub",
]

log = logging.getLogger(__name__)

AUDIO_SAMPLE_RATE = 16000
KEYS = ("type", "sound description", "visual context")
MAX_FIELD_CHARS = 2000
RETRY_STATUS = frozenset({429, 500, 502, 503, 504})

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


def read_key(names: tuple[str, ...]) -> str | None:
    """The first non-empty environment variable of ``names`` (the value is never logged)."""
    for var in names:
        value = os.environ.get(var, "").strip()
        if value:
            return value
    return None


def scrub(text: str, secret: str | None) -> str:
    """``text`` on one line, at most 300 characters, with ``secret`` replaced by ``***``."""
    if secret:
        text = text.replace(secret, "***")
    text = " ".join(str(text).split())
    return text if len(text) <= 300 else text[:297] + "..."


# --------------------------------------------------------------------------------------------- payload

def encode_wav(wav: np.ndarray, sample_rate: int, *, max_audio_s: float | None = None) -> bytes:
    """WAV bytes (16 kHz, mono, 16-bit PCM) of ``wav``.

    Parameters
    ----------
    wav : float32 (channels, samples)
    sample_rate : Hz
    max_audio_s : keep at most this many seconds (logged when the shot is cut)

    Returns
    -------
    bytes of a RIFF/WAVE file holding exactly ``to_samples(duration, 16000)`` samples.
    """
    mono = np.asarray(wav, dtype=np.float32).mean(axis=0)
    duration = mono.shape[0] / sample_rate
    if max_audio_s is not None and duration > max_audio_s:
        log.warning("captioner: shot audio is %.1f s; only the first %.1f s are sent", duration, max_audio_s)
        mono, duration = mono[: to_samples(max_audio_s, sample_rate)], max_audio_s
    if sample_rate != AUDIO_SAMPLE_RATE and mono.size:
        import soxr

        mono = soxr.resample(mono, sample_rate, AUDIO_SAMPLE_RATE, quality="HQ").astype(np.float32)
    n = to_samples(duration, AUDIO_SAMPLE_RATE)
    mono = np.pad(mono[:n], (0, max(0, n - mono.shape[0])))
    pcm = np.round(np.clip(mono, -1.0, 1.0) * 32767.0).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(AUDIO_SAMPLE_RATE)
        w.writeframes(pcm.tobytes())
    return buf.getvalue()


def png_bytes(frame: np.ndarray) -> bytes:
    """PNG bytes of a uint8 ``(H, W, 3)`` picture, written with zlib only (no Pillow)."""
    h, w = frame.shape[:2]
    rows = np.concatenate([np.zeros((h, 1), np.uint8), np.ascontiguousarray(frame).reshape(h, w * 3)], axis=1)

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)  # 8-bit RGB, no interlace
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows.tobytes(), 6))
            + chunk(b"IEND", b""))


def encode_frame(frame: np.ndarray, *, max_side: int = 512, use_pillow: bool | None = None) -> tuple[str, bytes]:
    """``(mime type, bytes)`` of one picture scaled so its longer side is at most ``max_side``.

    JPEG (quality 85) with Pillow; PNG written by hand when Pillow is not installed (``use_pillow=False``
    forces that path).
    """
    if not (isinstance(frame, np.ndarray) and frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] == 3
            and frame.shape[0] > 0 and frame.shape[1] > 0):
        desc = f"{frame.dtype} {frame.shape}" if isinstance(frame, np.ndarray) else type(frame).__name__
        raise InputError(f"captioner: a frame is {desc}; frames must be uint8 arrays shaped (H, W, 3)")
    if use_pillow is None:
        try:
            import PIL  # noqa: F401

            use_pillow = True
        except ImportError:
            use_pillow = False
    h, w = frame.shape[:2]
    scale = max_side / max(h, w)
    if use_pillow:
        from PIL import Image

        img = Image.fromarray(np.ascontiguousarray(frame))
        if scale < 1:
            img = img.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.LANCZOS)
        buf = io.BytesIO()
        img.save(buf, format="JPEG", quality=85)
        return "image/jpeg", buf.getvalue()
    if scale < 1:
        step = math.ceil(1 / scale)
        frame = frame[::step, ::step]
    return "image/png", png_bytes(frame)


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


# --------------------------------------------------------------------------------------------- HTTP

def _retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (a number of seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError, IndexError):
        return None


def post_json(url: str, body: dict, headers: dict, *, name: str, timeout_s: float, max_retries: int,
              backoff_s: float, max_backoff_s: float, secret: str | None, key_hint: str) -> dict:
    """POST ``body`` as JSON and return the JSON reply, retrying transient faults.

    Retried (up to ``max_retries`` times): HTTP 429/500/502/503/504, time-outs and dropped or refused
    connections; the wait is ``backoff_s * 2**k`` (capped at ``max_backoff_s``) times a jitter in
    [0.5, 1], or the server's ``Retry-After`` (capped at ``max_backoff_s``) when it sent one. Any other
    HTTP error fails at once. ``key_hint`` names the key's environment variable in 401/403 errors.
    """
    data = json.dumps(body).encode("utf-8")
    hdrs = {"Content-Type": "application/json", "Accept": "application/json", **headers}
    last = ""
    for attempt in range(max_retries + 1):
        wait_hint = None
        try:
            req = urllib.request.Request(url, data=data, headers=hdrs, method="POST")
            with urllib.request.urlopen(req, timeout=timeout_s) as resp:
                raw = resp.read()
            try:
                return json.loads(raw)
            except ValueError:
                raise BackendError(f"{name} captioner: {url} answered HTTP 200 with a body that is not JSON: "
                                   f"{scrub(raw.decode('utf-8', 'replace'), secret)}") from None
        except urllib.error.HTTPError as exc:
            detail = scrub(_error_text(exc), secret)
            if exc.code in (401, 403):
                raise BackendError(f"{name} captioner: {url} refused the request (HTTP {exc.code}): check the API "
                                   f"key in {key_hint}: {detail}") from None
            if exc.code not in RETRY_STATUS:
                raise BackendError(f"{name} captioner: {url} answered HTTP {exc.code}: {detail}") from None
            last = f"HTTP {exc.code}: {detail}"
            wait_hint = _retry_after(exc.headers.get("Retry-After") if exc.headers else None)
        except TimeoutError:
            last = f"no answer within {timeout_s} s"
        except urllib.error.URLError as exc:
            reason = exc.reason
            last = (f"no answer within {timeout_s} s" if isinstance(reason, TimeoutError)
                    else f"connection failed: {scrub(str(reason), secret)}")
        except (ConnectionError, OSError) as exc:  # reset / remote disconnected mid-answer
            last = f"connection failed: {scrub(type(exc).__name__ + ' ' + str(exc), secret)}"
        if attempt == max_retries:
            break
        delay = min(max_backoff_s, backoff_s * 2 ** attempt) * (0.5 + 0.5 * random.random())
        if wait_hint is not None:
            delay = min(max_backoff_s, wait_hint)
        log.warning("%s captioner: %s; retry %d of %d in %.2f s", name, last, attempt + 1, max_retries, delay)
        time.sleep(delay)
    raise BackendError(f"{name} captioner: {url} failed after {max_retries + 1} attempt(s): {last}")


def _error_text(exc: urllib.error.HTTPError) -> str:
    try:
        raw = exc.read().decode("utf-8", "replace")
    except Exception:  # noqa: BLE001 - the body is only for the message
        return exc.reason or ""
    try:
        obj = json.loads(raw)
        err = obj.get("error", obj) if isinstance(obj, dict) else obj
        if isinstance(err, dict):
            return str(err.get("message") or err)
        return str(err)
    except ValueError:
        return raw or (exc.reason or "")
