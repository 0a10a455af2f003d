"""Captioner backend ``openai``: any OpenAI-compatible chat server with audio+image input writes the annotation.

Made for Qwen2.5-Omni served by vLLM or SGLang (``vllm serve Qwen/Qwen2.5-Omni-7B``), which take the
OpenAI chat format with content parts ``text``, ``image_url`` (``data:image/jpeg;base64,...``) and
``input_audio`` (``{"data": <base64 WAV>, "format": "wav"}``); OpenAI's own audio models take the same
body. POST ``{base_url}/chat/completions``; the answer is ``choices[0].message.content``.

Quirks:

- Qwen2.5-Omni's card asks for its own system prompt only when it should *speak*; we want text, so our
  instructions go in the system message and the server returns text only.
- ``response_format={"type": "json_object"}`` (option ``json_mode``) is off by default: not every server
  or audio model accepts it, and the answer is checked (and sent back when bad) anyway.
- The API key (``Authorization: Bearer``) is read from the variable ``api_key_env`` at each request and is
  optional for a local server; a 401/403 names the variable. ``api.openai.com`` always needs it.

Prompt, payload, answer schema and retries: :mod:`avshooter.backends.captioner_common`.
"""
from __future__ import annotations

from urllib.parse import urlparse

from ..errors import BackendError
from ..io.http import post_json, read_key, scrub
from . import captioner_common as common

__all__ = ["OpenAICaptioner"]


class OpenAICaptioner:
    """Annotation of one shot by a multimodal model behind an OpenAI-compatible ``/chat/completions``.

    Parameters
    ----------
    device : recorded only (the model runs on the server)
    base_url : the server's API root, e.g. ``http://localhost:8000/v1``
    model : the served model name
    api_key_env : environment variable that holds the key (optional for a local server)
    timeout_s : seconds to wait for one answer
    max_retries : retries of one request on 429/5xx/time-out (exponential backoff from ``backoff_s``,
        at most ``max_backoff_s`` per wait, ``Retry-After`` honoured)
    json_retries : times a bad answer is sent back with what was wrong
    temperature, max_tokens : sampling settings (``None`` leaves the server's default)
    send_audio, send_frames, n_frames : what is attached (``n_frames`` evenly spread pictures)
    frame_max_side : pictures are scaled so their longer side is at most this many pixels
    max_audio_s : longer shots are cut to this (logged)
    json_mode : send ``response_format={"type": "json_object"}``
    """

    name = "openai"

    def __init__(self, *, device: str = "cpu", base_url: str = "http://localhost:8000/v1",
                 model: str = "Qwen/Qwen2.5-Omni-7B", api_key_env: str = "OPENAI_API_KEY",
                 timeout_s: float = 60.0, max_retries: int = 4, json_retries: int = 2, backoff_s: float = 1.0,
                 max_backoff_s: float = 60.0, temperature: float | None = 0.2, max_tokens: int | None = 1024,
                 send_audio: bool = True, send_frames: bool = True, n_frames: int = 3, frame_max_side: int = 512,
                 max_audio_s: float = 300.0, json_mode: bool = False, **unknown):
        if unknown:
            raise BackendError(f"openai captioner: unknown option(s) {', '.join(sorted(unknown))} (known: "
                               "base_url, model, api_key_env, timeout_s, max_retries, json_retries, backoff_s, "
                               "max_backoff_s, temperature, max_tokens, send_audio, send_frames, n_frames, "
                               "frame_max_side, max_audio_s, json_mode)")
        self.device = device
        self.options = {"base_url": base_url.rstrip("/") if isinstance(base_url, str) else base_url, "model": model,
                        "api_key_env": api_key_env, "timeout_s": timeout_s, "max_retries": max_retries,
                        "json_retries": json_retries, "backoff_s": backoff_s, "max_backoff_s": max_backoff_s,
                        "temperature": temperature, "max_tokens": max_tokens, "send_audio": send_audio,
                        "send_frames": send_frames, "n_frames": n_frames, "frame_max_side": frame_max_side,
                        "max_audio_s": max_audio_s, "json_mode": json_mode}
        common.check_options(self.name, self.options)
        if not isinstance(json_mode, bool):
            raise BackendError(f"openai captioner: option json_mode={json_mode!r} is not allowed (true or false)")
        if urlparse(self.options["base_url"]).hostname == "api.openai.com" and self._key() is None:
            raise BackendError(f"openai captioner: {self.options['base_url']} needs an API key: set {api_key_env}")

    def _key(self) -> str | None:
        return read_key((self.options["api_key_env"],))

    def info(self) -> dict:
        """Provenance: backend, model, server and settings (never the key)."""
        from importlib.metadata import version

        return {"name": self.name, "model": self.options["model"], "version": version("avshooter"),
                "device": f"remote ({self.options['base_url']})", "dtype": None,
                "prompt_sha1": common.PROMPT_SHA1, "options": dict(self.options)}

    def caption(self, wav, sample_rate, *, frames, context) -> dict:
        """The shot's ``{"type", "sound description", "visual context"}``.

        Parameters
        ----------
        wav : float32 (channels, samples), the shot
        sample_rate : Hz
        frames : list of uint8 (H, W, 3) pictures of the shot
        context : story/shot text and ``"measured"`` (our measured annotation)

        Raises
        ------
        BackendError : the server failed after the retries, refused the request, or never gave a usable
            answer (one line, without the key).
        """
        o = self.options
        p = common.build_payload(wav, sample_rate, frames=frames, context=context, send_audio=o["send_audio"],
                                 send_frames=o["send_frames"], n_frames=o["n_frames"],
                                 frame_max_side=o["frame_max_side"], max_audio_s=o["max_audio_s"])
        content: list[dict] = [{"type": "text", "text": p.text}]
        content += [{"type": "image_url", "image_url": {"url": f"data:{mime};base64,{b64}"}} for mime, b64 in p.images]
        if p.audio_b64 is not None:
            content.append({"type": "input_audio", "input_audio": {"data": p.audio_b64, "format": "wav"}})
        messages = [{"role": "system", "content": common.SYSTEM_PROMPT}, {"role": "user", "content": content}]

        def send() -> str:
            body = {"model": o["model"], "messages": messages, "stream": False}
            if o["temperature"] is not None:
                body["temperature"] = o["temperature"]
            if o["max_tokens"] is not None:
                body["max_tokens"] = o["max_tokens"]
            if o["json_mode"]:
                body["response_format"] = {"type": "json_object"}
            key = self._key()
            headers = {"Authorization": f"Bearer {key}"} if key else {}
            reply = post_json(f"{o['base_url']}/chat/completions", body, headers, name=self.name,
                                     timeout_s=o["timeout_s"], max_retries=o["max_retries"],
                                     backoff_s=o["backoff_s"], max_backoff_s=o["max_backoff_s"], secret=key,
                                     key_hint=o["api_key_env"])
            return _answer_text(reply)

        def correct(text: str, reason: str) -> None:
            messages.append({"role": "assistant", "content": text or "(empty)"})
            messages.append({"role": "user", "content": common.correction_text(reason)})

        return common.ask(self.name, send, correct, json_retries=o["json_retries"])


def _answer_text(reply) -> str:
    """The text of ``choices[0].message`` (string content, or the text parts of a list)."""
    try:
        message = reply["choices"][0]["message"]
    except (KeyError, IndexError, TypeError):
        err = reply.get("error") if isinstance(reply, dict) else None
        raise BackendError(f"openai captioner: the server's reply has no choices[0].message"
                           f"{': ' + scrub(str(err), None) if err else ''}") from None
    content = message.get("content") if isinstance(message, dict) else None
    if isinstance(content, list):
        content = "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return content if isinstance(content, str) else ""
