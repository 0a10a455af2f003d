"""Captioner backend ``gemini``: Gemini (2.5 Pro, as the AnimeShooter paper used) writes the annotation.

POST ``{base_url}/models/{model}:generateContent`` (Generative Language REST API) with the instructions in
``systemInstruction`` and one user turn of parts: text, ``inline_data`` audio/wav, ``inline_data``
image/jpeg. The key goes in the ``x-goog-api-key`` header (never in the URL, so it cannot leak into
logs or errors); it is read from ``GEMINI_API_KEY``, else ``GOOGLE_API_KEY`` (or only the variable named
by ``api_key_env``) and is required.

Quirks:

- ``generationConfig.responseMimeType = "application/json"`` plus a ``responseSchema`` whose ``type`` is an
  enum of our five types makes Gemini answer in our schema; the answer is still checked.
- 2.5 models think before answering and the thinking counts against ``maxOutputTokens``: leave
  ``max_tokens`` unset (``None``) unless you know the budget.
- A prompt blocked by safety filters (``promptFeedback.blockReason``) fails at once: asking again won't help.
- Inline data is limited to about 20 MB per request: ``max_audio_s`` (300 s of 16 kHz WAV, ~13 MB in
  base64) and ``frame_max_side`` keep the request under it.

Prompt, payload, answer schema and retries: :mod:`avshooter.backends.captioner_common`.
"""
from __future__ import annotations

from urllib.parse import quote

from ..vocabulary.layers import TYPES
from ..errors import BackendError
from ..io.http import post_json, read_key
from . import captioner_common as common

__all__ = ["RESPONSE_SCHEMA", "GeminiCaptioner"]

RESPONSE_SCHEMA = {
    "type": "OBJECT",
    "properties": {
        "type": {"type": "STRING", "enum": list(TYPES)},
        "sound description": {"type": "STRING"},
        "visual context": {"type": "STRING"},
    },
    "required": list(common.KEYS),
    "propertyOrdering": list(common.KEYS),
}


class GeminiCaptioner:
    """Annotation of one shot by Gemini through ``generateContent``.

    Parameters
    ----------
    device : recorded only (the model runs at Google)
    model : e.g. ``gemini-2.5-pro``, ``gemini-2.5-flash``
    base_url : the API root (``https://generativelanguage.googleapis.com/v1beta``)
    api_key_env : variable holding the key; by default ``GEMINI_API_KEY``, then ``GOOGLE_API_KEY``
    timeout_s, max_retries, json_retries, backoff_s, max_backoff_s : as for the ``openai`` captioner
    temperature, max_tokens : ``generationConfig`` settings (``None`` leaves Gemini's default)
    send_audio, send_frames, n_frames, frame_max_side, max_audio_s : what is attached
    use_schema : send ``responseSchema`` (``responseMimeType`` JSON is always sent)
    """

    name = "gemini"

    def __init__(self, *, device: str = "cpu", model: str = "gemini-2.5-pro",
                 base_url: str = "https://generativelanguage.googleapis.com/v1beta",
                 api_key_env: str = "GEMINI_API_KEY", timeout_s: float = 120.0, max_retries: int = 4,
                 json_retries: int = 2, backoff_s: float = 2.0, max_backoff_s: float = 60.0,
                 temperature: float | None = 0.2, max_tokens: int | None = None, send_audio: bool = True,
                 send_frames: bool = True, n_frames: int = 3, frame_max_side: int = 512, max_audio_s: float = 300.0,
                 use_schema: bool = True, **unknown):
        if unknown:
            raise BackendError(f"gemini captioner: unknown option(s) {', '.join(sorted(unknown))} (known: "
                               "model, base_url, api_key_env, timeout_s, max_retries, json_retries, backoff_s, "
                               "max_backoff_s, temperature, max_tokens, send_audio, send_frames, n_frames, "
                               "frame_max_side, max_audio_s, use_schema)")
        self.device = device
        self.options = {"model": model, "base_url": base_url.rstrip("/") if isinstance(base_url, str) else base_url,
                        "api_key_env": api_key_env, "timeout_s": timeout_s, "max_retries": max_retries,
                        "json_retries": json_retries, "backoff_s": backoff_s, "max_backoff_s": max_backoff_s,
                        "temperature": temperature, "max_tokens": max_tokens, "send_audio": send_audio,
                        "send_frames": send_frames, "n_frames": n_frames, "frame_max_side": frame_max_side,
                        "max_audio_s": max_audio_s, "use_schema": use_schema}
        common.check_options(self.name, self.options)
        if not isinstance(use_schema, bool):
            raise BackendError(f"gemini captioner: option use_schema={use_schema!r} is not allowed (true or false)")
        self._key()  # fail early, naming the variable

    def _key_vars(self) -> tuple[str, ...]:
        var = self.options["api_key_env"]
        return (var, "GOOGLE_API_KEY") if var == "GEMINI_API_KEY" else (var,)

    def _key(self) -> str:
        key = read_key(self._key_vars())
        if key is None:
            raise BackendError(f"gemini captioner: no API key: set {' or '.join(self._key_vars())}")
        return key

    def info(self) -> dict:
        """Provenance: backend, model, endpoint and settings (never the key)."""
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
        BackendError : no key, the API failed after the retries, refused or blocked the request, or never
            gave a usable answer (one line, without the key).
        """
        o = self.options
        p = common.build_payload(wav, sample_rate, frames=frames, context=context, send_audio=o["send_audio"],
                                 send_frames=o["send_frames"], n_frames=o["n_frames"],
                                 frame_max_side=o["frame_max_side"], max_audio_s=o["max_audio_s"])
        parts: list[dict] = [{"text": p.text}]
        parts += [{"inline_data": {"mime_type": mime, "data": b64}} for mime, b64 in p.images]
        if p.audio_b64 is not None:
            parts.append({"inline_data": {"mime_type": "audio/wav", "data": p.audio_b64}})
        contents = [{"role": "user", "parts": parts}]
        config: dict = {"responseMimeType": "application/json"}
        if o["use_schema"]:
            config["responseSchema"] = RESPONSE_SCHEMA
        if o["temperature"] is not None:
            config["temperature"] = o["temperature"]
        if o["max_tokens"] is not None:
            config["maxOutputTokens"] = o["max_tokens"]
        url = f"{o['base_url']}/models/{quote(o['model'], safe='-._~/')}:generateContent"

        def send() -> str:
            key = self._key()
            body = {"systemInstruction": {"parts": [{"text": common.SYSTEM_PROMPT}]}, "contents": contents,
                    "generationConfig": config}
            reply = post_json(url, body, {"x-goog-api-key": key}, name=self.name, timeout_s=o["timeout_s"],
                                     max_retries=o["max_retries"], backoff_s=o["backoff_s"],
                                     max_backoff_s=o["max_backoff_s"], secret=key,
                                     key_hint=" or ".join(self._key_vars()))
            return _answer_text(reply)

        def correct(text: str, reason: str) -> None:
            contents.append({"role": "model", "parts": [{"text": text or "(empty)"}]})
            contents.append({"role": "user", "parts": [{"text": common.correction_text(reason)}]})

        return common.ask(self.name, send, correct, json_retries=o["json_retries"])


def _answer_text(reply) -> str:
    """The answer text of the first candidate (thought parts left out); a blocked prompt fails."""
    if not isinstance(reply, dict):
        raise BackendError("gemini captioner: the reply is not a JSON object")
    block = (reply.get("promptFeedback") or {}).get("blockReason")
    if block:
        raise BackendError(f"gemini captioner: the prompt was blocked ({block})")
    candidates = reply.get("candidates") or []
    if not candidates or not isinstance(candidates[0], dict):
        return ""
    parts = (candidates[0].get("content") or {}).get("parts") or []
    return "".join(part.get("text", "") for part in parts if isinstance(part, dict) and not part.get("thought"))
