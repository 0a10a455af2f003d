"""The LLM prompt writer: any OpenAI-compatible chat-completions server writes the prompts of each shot.

Same interface as the offline writer (:class:`avshooter.generation.prompts.PromptWriter`): one request per
shot (answers cached per shot), through the package's one HTTP client with retries
(:func:`avshooter.io.http.post_json`). The server writes effects, music and ambience; dialogue stays what the
story gives (its own lines, else the caption's spoken quotes, read without a model), so an answer can never
invent or drop a line.
"""
from __future__ import annotations

import json
import re

from ..errors import BackendError, InputError
from ..io.http import post_json, read_key
from .caption_reader import clean_text, read_dialogue, scene_environment
from .prompt_records import ShotDraft

__all__ = ["LLMPromptWriter", "SYSTEM_PROMPT"]

SYSTEM_PROMPT = (
    "You are a sound designer writing short prompts for a text-to-audio model (AudioLDM2 style) for one shot of "
    "an animated story. Read the captions as a sound designer: quoted speech is dialogue (never an effect), "
    "negations mean silence ('no music plays'), 'cheerful' is not a crowd cheering, a character hitting the "
    'floor is a thud. Answer ONLY a JSON object {"effects": "...", "music": "..." or null, "ambience": "..."}: '
    '"effects" = the sound effects heard in the shot (concrete sources and actions, no speech, no music, at most '
    '25 words; "" when nothing in the shot makes a sound); "music" = a music prompt when the shot has music '
    '(a band, a song, a melody, instruments), else null; "ambience" = the background ambience of the place '
    '(at most 15 words; "" when the scene is not a place, e.g. a plain background or a title card).'
)


class LLMPromptWriter:
    """Prompt writer that asks an OpenAI-compatible chat-completions server, one request per shot.

    Parameters
    ----------
    base_url : str
        Server root, e.g. ``"https://api.openai.com/v1"`` or ``"http://127.0.0.1:8000/v1"``;
        ``/chat/completions`` is appended.
    model : str
        Model name sent to the server.
    api_key_env : str
        Environment variable holding the key (sent as a bearer token when set; never logged, never
        written to outputs). A local server without a key works with the variable unset.
    timeout_s, temperature : request options.
    max_retries, backoff_s : retries of transient faults (HTTP 429/5xx, time-outs), see ``post_json``.
    """

    def __init__(self, base_url: str, model: str, api_key_env: str = "OPENAI_API_KEY", *,
                 timeout_s: float = 60.0, temperature: float = 0.0, max_retries: int = 3, backoff_s: float = 1.0):
        if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
            raise InputError(f"LLM base_url must start with http:// or https://, got {base_url!r}")
        if not model:
            raise InputError("LLM prompt writer needs a model name")
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
            raise InputError(f"LLM prompt writer: max_retries must be an integer >= 0, got {max_retries!r}")
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.api_key_env = api_key_env
        self.timeout_s = float(timeout_s)
        self.temperature = float(temperature)
        self.max_retries = max_retries
        self.backoff_s = float(backoff_s)
        self.name = f"llm:{model}"
        self._answers: dict[int, dict] = {}

    def _ask(self, story, shot) -> dict:
        if shot.index in self._answers:
            return self._answers[shot.index]
        ann = shot.audio.to_dict() if shot.audio is not None else None
        user = {"storyline": story.storyline, "scene environment": scene_environment(story, shot.scene),
                "shot": {"plot": shot.plot, "caption": shot.caption, "audio annotation": ann}}
        body = {"model": self.model, "temperature": self.temperature,
                "messages": [{"role": "system", "content": SYSTEM_PROMPT},
                             {"role": "user", "content": json.dumps(user, ensure_ascii=False)}]}
        key = read_key((self.api_key_env,))
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        where = f"LLM prompt writer (shots[{shot.index}])"
        payload = post_json(self.url, body, headers, name=where, timeout_s=self.timeout_s,
                            max_retries=self.max_retries, backoff_s=self.backoff_s, secret=key,
                            key_hint=self.api_key_env)
        try:
            content = payload["choices"][0]["message"]["content"]
            answer = json.loads(re.sub(r"^\s*```(?:json)?\s*|\s*```\s*$", "", content))
            effects, ambience = answer["effects"], answer.get("ambience", "")
            music = answer.get("music")
            if not isinstance(effects, str) or not isinstance(ambience, str) or not (music is None or isinstance(music, str)):
                raise TypeError
        except (KeyError, IndexError, TypeError, ValueError, AttributeError):
            raise BackendError(f'{where}: the answer is not a JSON object {{"effects": ..., "music": ..., '
                               f'"ambience": ...}} of strings') from None
        result = {"effects": clean_text(effects), "music": clean_text(music) or None if music else None,
                  "ambience": clean_text(ambience)}
        self._answers[shot.index] = result
        return result

    def shot_prompt(self, story, shot) -> ShotDraft:
        answer = self._ask(story, shot)
        sources = {"effects": [{"from": self.name}] if answer["effects"] else [],
                   "music": {"from": self.name} if answer["music"] else None}
        story_lines = shot.avshooter.get("dialogue")
        if story_lines:
            dialogue, sources["dialogue"] = list(story_lines), ["story dialogue"] * len(story_lines)
        else:
            dialogue, sources["dialogue"], _ = read_dialogue(
                [("caption", shot.caption or ""), ("plot", shot.plot or "")],
                characters=story.character_ids, shot_characters=shot.characters)
        return ShotDraft(effects=answer["effects"], source=self.name, music=answer["music"], dialogue=dialogue,
                         sources=sources)

    def scene_ambience(self, story, scene_id: str, drafts) -> tuple[str | None, str]:
        """The ambience the server gave for the first shot of the scene (None when it gave none)."""
        shot = next(s for s in story.shots if s.scene == scene_id)
        text = self._ask(story, shot)["ambience"]
        return (text or None), self.name
