"""Prompts for generation: one text prompt per sound per shot of a story, saved as an editable ``prompts.json``.

What this module owns: turning a :class:`~avshooter.io.story.Story` into text prompts, and reading them
back (checked against the story) after a user edited them. Nothing here generates audio.

Per shot (:class:`ShotPrompt`):

* ``effects``: the shot's sound effects. From its "audio annotation" when it has one of type effects or
  ambience ("sound description", plus the "visual context" without its "on screen:" prefix). Otherwise
  (no annotation, or one that describes speech, music or silence) it is derived from the visual
  annotation by a small, documented keyword table (:data:`SOUND_WORDS`: "walks" -> "footsteps",
  "door" -> "a door opening and closing", ...), completed by the scene's surface when one is named
  ("footsteps on a wooden floor"). When no keyword matches, the prompt is honestly just
  ``"the sound of <first clause of the caption>"``; ``source`` says which rule made it.
* ``music``: the "sound description" when the annotation's type is music, else None.
* ``ambience_scene``: the scene ID whose ambience bed plays under the shot.
* ``dialogue``: lines from our extension field ``shot["avshooter"]["dialogue"]``
  (``[{"character": ID, "text": str, "start_s"?: float, "language"?: "ja"|"en", "voice"?: str}]``).
* ``seed``: derived from the story seed and the shot index (:func:`shot_seed`), so shots differ and a
  re-run is the same.

Per scene: one ambience prompt from "main scenes" ``environment`` (else from its shots' captions).

:class:`LLMPromptWriter` writes effects and ambience prompts with any OpenAI-compatible chat server
instead of the rules; it plugs into :func:`build_prompts` through ``writer=``.
"""
from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ..errors import BackendError, InputError
from ..io.output import atomic_write_json

__all__ = [
    "FORMAT",
    "SOUND_WORDS",
    "LLMPromptWriter",
    "PromptWriter",
    "Prompts",
    "RulePromptWriter",
    "ShotPrompt",
    "build_prompts",
    "check_dialogue",
    "load_prompts",
    "save_prompts",
    "shot_seed",
]

log = logging.getLogger(__name__)

FORMAT = "avshooter.generation.prompts/1"
LANGUAGES = ("ja", "en")

# keyword regex (matched on lower-case caption + plot) -> sound phrase. Order = priority in the prompt.
SOUND_WORDS: tuple[tuple[str, str], ...] = (
    (r"\b(run|runs|running|ran|dash\w*|sprint\w*)\b", "running footsteps"),
    (r"\b(walk|walks|walking|walked|step|steps|stepping|stroll\w*|tiptoe\w*)\b", "footsteps"),
    (r"\bbounc\w*", "a ball bouncing"),
    (r"\b(door|doors)\b", "a door opening and closing"),
    (r"\b(knock|knocks|knocking|knocked)\b", "knocking on a door"),
    (r"\b(rain|raining|rainy|drizzl\w*)\b", "rain falling"),
    (r"\b(thunder\w*|lightning|storm\w*)\b", "thunder rumbling"),
    (r"\b(wind|windy|breeze|gust\w*)\b", "wind blowing"),
    (r"\b(sea|ocean|wave|waves|beach|shore)\b", "ocean waves"),
    (r"\b(splash\w*|swim\w*|river|stream|water)\b", "water splashing"),
    (r"\b(fire|flame\w*|burn\w*|campfire)\b", "fire crackling"),
    (r"\b(explo\w*|blast\w*|bomb\w*)\b", "an explosion"),
    (r"\b(car|cars|truck|bus|traffic|drive|drives|driving|engine)\b", "a car engine and traffic"),
    (r"\b(train|trains|railway)\b", "a train passing"),
    (r"\b(bird|birds|chirp\w*)\b", "birds chirping"),
    (r"\b(dog|dogs|puppy|bark\w*)\b", "a dog barking"),
    (r"\b(cat|cats|kitten|meow\w*)\b", "a cat meowing"),
    (r"\b(sword\w*|blade\w*|clash\w*)\b", "swords clashing"),
    (r"\b(punch\w*|kick\w*|hit|hits|hitting|strike\w*|fight\w*)\b", "punches and impacts"),
    # "night falls", "silence falls" are not sounds
    (r"(?<!night )(?<!evening )(?<!darkness )(?<!silence )\b(fall|falls|fell)\b|\b(falling|drop|drops|dropped|crash\w*)\b",
     "something falling and crashing"),
    (r"\b(jump|jumps|jumping|jumped|leap\w*)\b", "a jump and a landing thud"),
    (r"\b(glass|shatter\w*)\b", "glass shattering"),
    (r"\b(clap|claps|clapping|applau\w*)\b", "hands clapping"),
    (r"\b(laugh\w*|giggl\w*)\b", "laughter"),
    (r"\b(cry|cries|crying|sob\w*)\b", "sobbing"),
    (r"\b(eat|eats|eating|chew\w*|meal|dinner|breakfast|lunch)\b", "eating, cutlery clinking"),
    (r"\b(write|writes|writing|pencil|pen)\b", "a pencil writing on paper"),
    (r"\b(typ\w*|keyboard|computer|laptop)\b", "typing on a keyboard"),
    (r"\b(phone|ring|rings|ringing)\b", "a phone ringing"),
    (r"\b(bell|bells|chime\w*)\b", "a bell ringing"),
    (r"\b(crowd|cheer\w*|audience)\b", "a crowd cheering"),
    (r"\b(page|pages|book|books)\b", "pages turning"),
    (r"\b(cook\w*|fry\w*|kitchen|sizzl\w*)\b", "food sizzling in a pan"),
    (r"\b(magic\w*|spell|glow\w*|sparkl\w*)\b", "a magical shimmering sound"),
)
# scene words -> the surface footsteps are heard on
SURFACES: tuple[tuple[str, str], ...] = (
    (r"\b(wood\w*|house|room|bedroom|living room|classroom|hall|temple)\b", "a wooden floor"),
    (r"\b(street|city|road|sidewalk|station|town)\b", "pavement"),
    (r"\b(forest|grass\w*|field|meadow|park|garden)\b", "grass"),
    (r"\b(snow\w*)\b", "snow"),
    (r"\b(beach|sand\w*|desert)\b", "sand"),
)
_STEP_PHRASES = ("footsteps", "running footsteps")
_MAX_WORDS = 40
_SHOT_KEYS = {"shot", "effects", "ambience_scene", "dialogue", "music", "seed", "source"}
_TOP_KEYS = {"format", "writer", "seed", "ambience", "shots"}
_LINE_KEYS = {"character", "text", "start_s", "language", "voice"}


def shot_seed(seed: int, index: int) -> int:
    """Seed of shot ``index`` from the story ``seed`` (stable: SHA-256 of both, 31 bits)."""
    digest = hashlib.sha256(f"{int(seed)}:{int(index)}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


# ---------------------------------------------------------------------------------------------- records


@dataclass
class ShotPrompt:
    """Prompts of one shot (see the module docstring for each field)."""

    shot: int
    effects: str
    ambience_scene: str | None = None
    dialogue: list[dict[str, Any]] = field(default_factory=list)
    music: str | None = None
    seed: int = 0
    source: str = ""
    """Which rule wrote ``effects``: "audio annotation", "visual keywords", "caption", "llm:<model>", ..."""

    def to_dict(self) -> dict[str, Any]:
        return {"shot": self.shot, "effects": self.effects, "ambience_scene": self.ambience_scene,
                "dialogue": [dict(line) for line in self.dialogue], "music": self.music, "seed": self.seed,
                "source": self.source}


@dataclass
class Prompts:
    """All prompts of a story: one :class:`ShotPrompt` per shot and one ambience prompt per scene."""

    shots: list[ShotPrompt]
    ambience: dict[str, str] = field(default_factory=dict)
    seed: int = 0
    writer: str = "rules"

    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "writer": self.writer, "seed": self.seed, "ambience": dict(self.ambience),
                "shots": [s.to_dict() for s in self.shots]}


# ---------------------------------------------------------------------------------------------- writers


class PromptWriter(Protocol):
    """What :func:`build_prompts` needs from a writer."""

    name: str

    def shot_effects(self, story, shot) -> tuple[str, str]:
        """``(effects prompt, source)`` for ``shot``."""

    def scene_ambience(self, story, scene_id: str) -> str:
        """Ambience prompt of scene ``scene_id``."""


def _clean(text: str | None, max_words: int = _MAX_WORDS) -> str:
    words = re.sub(r"\s+", " ", (text or "")).strip().strip(" .;,").split(" ")
    out = " ".join(words[:max_words]).strip(" ,;")
    return out


def _first_clause(text: str | None) -> str:
    parts = re.split(r"(?<=[.!?。！？;])\s*", text or "")
    return _clean(next((p for p in parts if p.strip(" .")), ""), 20)


def _scene_env(story, scene_id: str | None) -> str:
    for scene in story.scenes:
        if scene.id == scene_id:
            return scene.environment or ""
    return ""


class RulePromptWriter:
    """The offline writer: the audio annotation when present, else keywords of the visual annotation."""

    name = "rules"

    def shot_effects(self, story, shot) -> tuple[str, str]:
        ann = shot.audio
        if ann is not None and (ann.type or "").lower() in ("effects", "ambience") and ann.sound_description:
            context = re.sub(r"^\s*on screen:\s*", "", ann.visual_context or "", flags=re.IGNORECASE)
            if context.lower().startswith(("unknown", "off-screen", "no sound")):
                context = ""
            text = _clean(ann.sound_description)
            if context:
                text = f"{text}; {_clean(context, 20)}"
            return text, "audio annotation"
        visual = f"{shot.caption or ''} {shot.plot or ''}".lower()
        phrases = [phrase for pattern, phrase in SOUND_WORDS if re.search(pattern, visual)]
        if phrases:
            env = _scene_env(story, shot.scene).lower()
            surface = next((s for pattern, s in SURFACES if re.search(pattern, env)), None)
            phrases = [f"{p} on {surface}" if surface and p in _STEP_PHRASES else p for p in phrases[:3]]
            return ", ".join(phrases), "visual keywords"
        clause = _first_clause(shot.caption) or _first_clause(shot.plot)
        if clause:
            return f"the sound of {clause[0].lower() + clause[1:]}", "caption"
        env = _first_clause(_scene_env(story, shot.scene))
        if env:
            return f"quiet sounds of {env[0].lower() + env[1:]}", "scene environment"
        return "", "none"

    def scene_ambience(self, story, scene_id: str) -> str:
        env = _clean(_scene_env(story, scene_id), 25)
        if not env:
            captions = [_first_clause(s.caption) for s in story.shots if s.scene == scene_id and s.caption]
            env = captions[0] if captions else ""
        if not env:
            return "quiet room tone, soft background ambience"
        return f"ambient background sound of {env[0].lower() + env[1:]}"


# ---------------------------------------------------------------------------------------------- build


def check_dialogue(lines: Any, *, where: str, characters: list[str] | None = None) -> list[dict[str, Any]]:
    """Checked copy of a dialogue list (``shot["avshooter"]["dialogue"]`` form).

    Raises InputError naming ``where`` and the line on a wrong type, an empty text, an unknown key,
    a negative or non-finite ``start_s``, a language other than "ja"/"en", or a character ID that the
    story does not list (when ``characters`` is given and not empty).
    """
    if lines is None:
        return []
    if not isinstance(lines, list):
        raise InputError(f"{where}: dialogue must be a list of lines, got {type(lines).__name__}")
    out = []
    for i, line in enumerate(lines):
        at = f"{where}[{i}]"
        if not isinstance(line, dict):
            raise InputError(f"{at}: a dialogue line must be an object with 'character' and 'text'")
        unknown = sorted(set(line) - _LINE_KEYS)
        if unknown:
            raise InputError(f"{at}: unknown key(s) {unknown} (allowed: {sorted(_LINE_KEYS)})")
        text = line.get("text")
        if not isinstance(text, str) or not text.strip():
            raise InputError(f"{at}.text: empty or missing (a dialogue line needs text)")
        who = line.get("character")
        if not isinstance(who, str) or not who:
            raise InputError(f"{at}.character: missing character ID")
        if characters and who not in characters:
            raise InputError(f"{at}.character: unknown character ID {who!r} (known: {', '.join(characters)})")
        if "start_s" in line:
            s = line["start_s"]
            if isinstance(s, bool) or not isinstance(s, (int, float)) or not math.isfinite(s) or s < 0:
                raise InputError(f"{at}.start_s: {s!r} must be a number of seconds >= 0")
        if "language" in line and line["language"] not in LANGUAGES:
            raise InputError(f"{at}.language: {line['language']!r} is not allowed (use one of {LANGUAGES})")
        if "voice" in line and not isinstance(line["voice"], str):
            raise InputError(f"{at}.voice: must be a string")
        out.append(dict(line))
    return out


def _shot_music(shot) -> str | None:
    ann = shot.audio
    if ann is not None and (ann.type or "").lower() == "music" and ann.sound_description:
        return _clean(ann.sound_description)
    return None


def build_prompts(story, *, seed: int = 0, writer: PromptWriter | None = None) -> Prompts:
    """Prompts of every shot and scene of ``story``.

    Parameters
    ----------
    story : avshooter.io.story.Story
    seed : int
        Story seed; each shot gets :func:`shot_seed` ``(seed, index)``.
    writer : PromptWriter, optional
        Writes the effects and ambience prompts; :class:`RulePromptWriter` by default.

    Returns
    -------
    Prompts

    Raises
    ------
    InputError
        A shot gets an empty effects prompt (nothing to derive it from), or its dialogue is malformed.
    """
    writer = writer or RulePromptWriter()
    characters = story.character_ids
    scene_ids = list(dict.fromkeys([s.id for s in story.scenes] + [s.scene for s in story.shots if s.scene]))
    used = {s.scene for s in story.shots if s.scene}
    shots = []
    for shot in story.shots:
        effects, source = writer.shot_effects(story, shot)
        if not effects.strip():
            raise InputError(
                f"shots[{shot.index}]: no effects prompt can be derived (no audio annotation, caption, plot or "
                "scene environment); write one in prompts.json"
            )
        dialogue = check_dialogue(shot.avshooter.get("dialogue"), where=f"shots[{shot.index}].avshooter.dialogue",
                                  characters=characters)
        shots.append(ShotPrompt(shot=shot.index, effects=effects, ambience_scene=shot.scene, dialogue=dialogue,
                                music=_shot_music(shot), seed=shot_seed(seed, shot.index), source=source))
    ambience = {sid: writer.scene_ambience(story, sid) for sid in scene_ids if sid in used}
    return Prompts(shots=shots, ambience=ambience, seed=int(seed), writer=writer.name)


# ---------------------------------------------------------------------------------------------- files


def save_prompts(prompts: Prompts, path: str | os.PathLike) -> Path:
    """Write ``prompts`` as UTF-8 JSON (indent 2, non-ASCII kept), atomically; return ``path``."""
    atomic_write_json(path, prompts.to_dict())
    return Path(path)


def load_prompts(path: str | os.PathLike | dict, story) -> Prompts:
    """Read a (possibly edited) ``prompts.json`` and check it against ``story``.

    Raises
    ------
    InputError
        Unreadable file or invalid JSON; unknown keys; shot count or indices that do not match the story;
        an empty effects prompt (names the shot); an unknown ambience scene; malformed dialogue.
    """
    where = "prompts" if isinstance(path, dict) else os.fspath(path)
    data = path if isinstance(path, dict) else _read(where)
    if not isinstance(data, dict):
        raise InputError(f"{where}: top level must be a JSON object")
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise InputError(f"{where}: unknown key(s) {unknown} (allowed: {sorted(_TOP_KEYS)})")
    if data.get("format", FORMAT) != FORMAT:
        raise InputError(f"{where}: format {data.get('format')!r} is not {FORMAT!r}")
    ambience = data.get("ambience", {})
    if not isinstance(ambience, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in ambience.items()):
        raise InputError(f"{where}: 'ambience' must map scene IDs to prompt strings")
    for sid, text in ambience.items():
        if not text.strip():
            raise InputError(f"{where}: ambience[{sid!r}] is empty (write a prompt or remove the scene)")
    items = data.get("shots")
    n = len(story.shots)
    if not isinstance(items, list) or len(items) != n:
        got = len(items) if isinstance(items, list) else type(items).__name__
        raise InputError(f"{where}: 'shots' must list {n} shots (the story has {n}), got {got}")
    shots = []
    for i, item in enumerate(items):
        at = f"{where}: shots[{i}]"
        if not isinstance(item, dict):
            raise InputError(f"{at}: must be an object")
        bad = sorted(set(item) - _SHOT_KEYS)
        if bad:
            raise InputError(f"{at}: unknown key(s) {bad} (allowed: {sorted(_SHOT_KEYS)})")
        if item.get("shot") != i:
            raise InputError(f"{at}.shot: {item.get('shot')!r} does not match its position {i} (shots in story order)")
        effects = item.get("effects")
        if not isinstance(effects, str) or not effects.strip():
            raise InputError(f"{at}.effects: empty prompt (shot {i} needs an effects prompt)")
        scene = item.get("ambience_scene")
        if scene is not None and (not isinstance(scene, str) or scene not in ambience):
            raise InputError(f"{at}.ambience_scene: {scene!r} has no ambience prompt (known: {sorted(ambience)})")
        music = item.get("music")
        if music is not None and (not isinstance(music, str) or not music.strip()):
            raise InputError(f"{at}.music: must be a non-empty string or null")
        seed = item.get("seed", shot_seed(data.get("seed", 0), i))
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise InputError(f"{at}.seed: {seed!r} must be an integer >= 0")
        dialogue = check_dialogue(item.get("dialogue", []), where=f"{at}.dialogue", characters=story.character_ids)
        shots.append(ShotPrompt(shot=i, effects=effects.strip(), ambience_scene=scene, dialogue=dialogue,
                                music=music, seed=seed, source=str(item.get("source", "edited"))))
    return Prompts(shots=shots, ambience=dict(ambience), seed=int(data.get("seed", 0)),
                   writer=str(data.get("writer", "edited")))


def _read(path: str) -> Any:
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise InputError(f"{path}: cannot read prompts ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: prompts file is not UTF-8 text") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None


# ---------------------------------------------------------------------------------------------- LLM


_SYSTEM = (
    "You write short prompts for a text-to-audio model (AudioLDM2 style) for one shot of an animated story. "
    'Answer ONLY a JSON object {"effects": "...", "ambience": "..."}: "effects" = the sound effects heard in '
    'the shot (concrete sources and actions, no speech, no music, at most 25 words); "ambience" = the '
    "background ambience of the place (at most 15 words)."
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
    """

    def __init__(self, base_url: str, model: str, api_key_env: str = "OPENAI_API_KEY", *,
                 timeout_s: float = 60.0, temperature: float = 0.0):
        if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
            raise InputError(f"LLM base_url must start with http:// or https://, got {base_url!r}")
        if not model:
            raise InputError("LLM prompt writer needs a model name")
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.api_key_env = api_key_env
        self.timeout_s = float(timeout_s)
        self.temperature = float(temperature)
        self.name = f"llm:{model}"
        self._answers: dict[int, dict[str, str]] = {}

    def _ask(self, story, shot) -> dict[str, str]:
        if shot.index in self._answers:
            return self._answers[shot.index]
        ann = shot.audio.to_dict() if shot.audio is not None else None
        user = {"storyline": story.storyline, "scene environment": _scene_env(story, shot.scene),
                "shot": {"plot": shot.plot, "caption": shot.caption, "audio annotation": ann}}
        body = {"model": self.model, "temperature": self.temperature,
                "messages": [{"role": "system", "content": _SYSTEM},
                             {"role": "user", "content": json.dumps(user, ensure_ascii=False)}]}
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(self.api_key_env)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        request = urllib.request.Request(self.url, data=json.dumps(body).encode("utf-8"), headers=headers,
                                         method="POST")
        where = f"LLM prompt writer ({self.url}, shots[{shot.index}])"
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                payload = json.loads(response.read().decode("utf-8"))
        except urllib.error.HTTPError as exc:
            raise BackendError(f"{where}: server answered HTTP {exc.code} {exc.reason}") from None
        except urllib.error.URLError as exc:
            raise BackendError(f"{where}: cannot reach the server ({exc.reason})") from None
        except (OSError, ValueError) as exc:
            raise BackendError(f"{where}: bad answer ({type(exc).__name__})") from None
        try:
            content = payload["choices"][0]["message"]["content"]
            answer = json.loads(re.sub(r"^\s*```(?:json)?\s*|\s*```\s*$", "", content))
            result = {k: _clean(answer[k]) for k in ("effects", "ambience")}
        except (KeyError, IndexError, TypeError, ValueError, AttributeError):
            raise BackendError(f'{where}: the answer is not a JSON object {{"effects": ..., "ambience": ...}}') from None
        if not result["effects"] or not result["ambience"]:
            raise BackendError(f"{where}: the answer has an empty 'effects' or 'ambience'")
        self._answers[shot.index] = result
        return result

    def shot_effects(self, story, shot) -> tuple[str, str]:
        return self._ask(story, shot)["effects"], self.name

    def scene_ambience(self, story, scene_id: str) -> str:
        """The ambience the server gave for the first shot of the scene."""
        shot = next(s for s in story.shots if s.scene == scene_id)
        return self._ask(story, shot)["ambience"]
