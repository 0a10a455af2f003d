"""Prompts for generation: what each shot of a story should sound like, as an editable ``prompts.json``.

What this module owns: the prompt writers' interface (:class:`PromptWriter`), the offline writer that reads
captions (:class:`CaptionPromptWriter`), and :func:`build_prompts` / :func:`write_prompts`, which run a writer
over a story. The records and their file live in :mod:`.prompt_records` (re-exported here), the reading of
captions in :mod:`.caption_reader`, the LLM writer in :mod:`.llm_prompts`. Nothing here generates audio.

Per shot, the offline writer (see :mod:`.caption_reader` for how captions are read):

* ``effects``: from the shot's "audio annotation" when it is of type effects or ambience (annotate wrote
  it, or a user did); else the vocabulary labels its caption and plot clauses make heard
  ("a ball bouncing, a thud"), footsteps with the scene's surface; ``""`` when nothing makes a sound.
* ``music``: the "sound description" of a music annotation, else the caption's clause about music
  ("cheerful music plays with a steady beat"), else None; "no music plays" is None.
* ``dialogue``: the story's own lines (``shot["avshooter"]["dialogue"]``), else the caption's spoken quotes.
* ``ambience_scene`` + per scene ``ambience``: the scene environment when it is a place, with the ambience
  labels of the place and of its shots' captions; a scene that is a picture ("a plain blue background with
  musical notes") has no ambience.
* ``sources``: where each item came from ("caption clause 2", "story dialogue", "scene environment", ...).
"""
from __future__ import annotations

import os
import re
from typing import Any, Protocol

from .caption_reader import ReaderOptions, clean_text, read_environment, read_shot_text, scene_environment
from .llm_prompts import LLMPromptWriter
from ..backends.text_to_audio.event_match import PLACE_HEAD
from .prompt_events import sound_events
from .prompt_records import (FORMAT, LANGUAGES, Prompts, ShotDraft, ShotPrompt, check_dialogue, load_prompts,
                             save_prompts, shot_seed)

__all__ = ["FORMAT", "LANGUAGES", "CaptionPromptWriter", "LLMPromptWriter", "PromptWriter", "Prompts",
           "RulePromptWriter", "ShotDraft", "ShotPrompt", "build_prompts", "check_dialogue", "load_prompts",
           "save_prompts", "shot_seed", "write_prompts"]

_SURFACES = (("on a wooden floor", "a wooden floor indoors, a house, a room, a dojo or a classroom"),
             ("on pavement", "a paved city street, a sidewalk or a station"),
             ("on grass", "grass in a park, a lawn, a meadow or a forest path"),
             ("in snow", "deep snow on a mountain"),
             ("on sand", "a sandy beach or a desert"))


class PromptWriter(Protocol):
    """What :func:`build_prompts` needs from a writer."""

    name: str

    def shot_prompt(self, story, shot) -> ShotDraft:
        """The prompts of ``shot``."""

    def scene_ambience(self, story, scene_id: str, drafts: list[ShotDraft]) -> tuple[str | None, str]:
        """``(ambience prompt or None, source)`` of scene ``scene_id``; ``drafts`` are its shots' drafts."""


def annotation_prompts(shot) -> tuple[str | None, str | None]:
    """``(effects, music)`` from the shot's "audio annotation" (None where it gives none)."""
    ann = shot.audio
    if ann is None or not ann.sound_description:
        return None, None
    kind = (ann.type or "").lower()
    if kind == "music":
        return None, clean_text(ann.sound_description)
    if kind not in ("effects", "ambience"):
        return None, None
    context = re.sub(r"^\s*on screen:\s*", "", ann.visual_context or "", flags=re.IGNORECASE)
    if context.lower().startswith(("unknown", "off-screen", "no sound")):
        context = ""
    text = clean_text(ann.sound_description)
    return (f"{text}; {clean_text(context, 20)}" if context else text), None


class CaptionPromptWriter:
    """The offline writer: reads captions with MiniLM (:mod:`.caption_reader`); audio annotations win.

    Parameters
    ----------
    options : ReaderOptions
        Thresholds of the caption reader.
    device : str
        Torch device of the MiniLM model.
    """

    name = "captions"

    def __init__(self, options: ReaderOptions | None = None, *, device: str = "cpu"):
        self.options = options or ReaderOptions()
        self.device = device
        self._surfaces: dict[str, str | None] = {}

    def shot_prompt(self, story, shot) -> ShotDraft:
        reading = read_shot_text([("caption", shot.caption or ""), ("plot", shot.plot or "")],
                                 characters=story.character_ids, shot_characters=shot.characters,
                                 options=self.options, device=self.device,
                                 appearances=[c.appearance or "" for c in story.characters])
        sources: dict[str, Any] = {}
        effects, music = annotation_prompts(shot)
        if effects is not None:
            source = "audio annotation"
            sources["effects"] = [{"from": "audio annotation"}]
        else:
            source = "captions"
            kept = _one_per_class(reading.effects)
            labels = [m.label for m in kept]
            surface = self._surface(story, shot.scene) if {"footsteps", "running footsteps"} & set(labels) else None
            effects = ", ".join(f"{x} {surface}" if surface and x.endswith("footsteps") else x for x in labels)
            sources["effects"] = [m.to_dict() for m in kept]
            if not labels:
                sources["effects_note"] = "nothing in the caption or plot makes a sound effect"
        if music is not None:
            sources["music"] = {"from": "audio annotation"}
        elif reading.music:
            music, sources["music"] = _music_prompt(reading.music)
        else:
            sources["music"] = None
        if reading.music_negated:
            sources["music_note"] = f"no music: {reading.music_negated}"
        story_lines = shot.avshooter.get("dialogue")
        if story_lines:
            dialogue, sources["dialogue"] = story_lines, ["story dialogue"] * len(story_lines)
        else:
            dialogue, sources["dialogue"] = reading.dialogue, reading.dialogue_sources
        if reading.ambience:
            sources["ambience_sounds"] = [m.to_dict() for m in reading.ambience]
        return ShotDraft(effects=effects, source=source, music=music, dialogue=list(dialogue), sources=sources,
                         ambience_labels=[m.label for m in reading.ambience])

    def _surface(self, story, scene_id: str | None) -> str | None:
        if scene_id not in self._surfaces:
            env = scene_environment(story, scene_id)
            self._surfaces[scene_id] = _surface_of(env, self.device) if env else None
        return self._surfaces[scene_id]

    def scene_ambience(self, story, scene_id: str, drafts: list[ShotDraft]) -> tuple[str | None, str]:
        env = clean_text(scene_environment(story, scene_id), 25)
        heard = list(dict.fromkeys(label for d in drafts for label in d.ambience_labels))
        if env:
            is_place, matches = read_environment(env, options=self.options, device=self.device)
            if not is_place:
                return None, "none: the scene environment is a picture, not a place"
            labels = list(dict.fromkeys([m.label for m in matches] + heard))
            source = "scene environment" + (" + shot captions" if heard else "")
            place = f"{PLACE_HEAD} {env[0].lower() + env[1:]}"
            return (f"{', '.join(labels)}; {place}" if labels else place), source
        if heard:
            return ", ".join(heard), "shot captions"
        return None, "none: no scene environment and no background sound in the captions"


RulePromptWriter = CaptionPromptWriter  # the name of the offline writer before captions were read by meaning


def _music_prompt(matches) -> tuple[str, dict]:
    """The music prompt from the clauses about music (the caption's when it has any, else the plot's)."""
    caption = [m for m in matches if m.source.startswith("caption")]
    matches = caption or matches
    best = max(matches, key=lambda m: m.score)
    texts: list[str] = []
    for m in sorted(matches, key=lambda m: -len(m.text)):
        if m.score >= best.score - 0.15 and not any(m.text.lower() in t.lower() for t in texts):
            texts.append(m.text)
    text = clean_text(", ".join(texts), 25)
    prompt = text if best.label == "music" or best.label in text.lower() else f"{best.label}, {text}"
    return prompt, best.to_dict()


def _one_per_class(matches):
    """The matches, one per AudioSet class (the first, the best-placed): "a ball bouncing" and "bouncing" are
    one sound, and so are a class and its parent or child ("an owl" and "hoot", "a whistle" and "kettle
    whistle")."""
    from ..vocabulary import by_name, children, find, parents

    seen, out = set(), []
    for m in matches:
        key = find(m.label) or m.label
        family = {key} | (set(parents(key)) | set(children(key)) if by_name(key) else set())
        if not family & seen:
            seen.add(key)
            out.append(m)
    return out


def _surface_of(environment: str, device: str) -> str | None:
    from ..embedding import embed_texts

    sims = embed_texts([environment], device=device) @ embed_texts([d for _, d in _SURFACES], device=device).T
    k = int(sims[0].argmax())
    return _SURFACES[k][0] if float(sims[0, k]) >= 0.45 else None


def build_prompts(story, *, seed: int = 0, writer: PromptWriter | None = None) -> Prompts:
    """Prompts of every shot and scene of ``story``.

    Parameters
    ----------
    story : avshooter.io.story.Story
    seed : int
        Story seed; each shot gets :func:`shot_seed` ``(seed, index)``.
    writer : PromptWriter, optional
        :class:`CaptionPromptWriter` (offline, MiniLM) by default, or :class:`LLMPromptWriter`.

    Returns
    -------
    Prompts

    Raises
    ------
    InputError
        A shot's dialogue (in the story or read from its caption) is malformed.
    """
    writer = writer or CaptionPromptWriter()
    characters = story.character_ids
    drafts = []
    for shot in story.shots:
        draft = writer.shot_prompt(story, shot)
        where = (f"shots[{shot.index}].avshooter.dialogue" if shot.avshooter.get("dialogue")
                 else f"shots[{shot.index}] caption quotes")
        draft.dialogue = check_dialogue(draft.dialogue, where=where, characters=characters)
        drafts.append(draft)
    ambience, ambience_sources = {}, {}
    for scene_id in dict.fromkeys(s.scene for s in story.shots if s.scene):
        text, source = writer.scene_ambience(story, scene_id, [d for s, d in zip(story.shots, drafts)
                                                               if s.scene == scene_id])
        ambience_sources[scene_id] = source
        if text and text.strip():
            ambience[scene_id] = text.strip()
    shots = []
    for shot, draft in zip(story.shots, drafts):
        scene = shot.scene if shot.scene in ambience else None
        sources = dict(draft.sources, ambience=ambience_sources.get(shot.scene) if scene else None)
        shots.append(ShotPrompt(shot=shot.index, effects=draft.effects.strip(), ambience_scene=scene,
                                dialogue=draft.dialogue, music=draft.music, seed=shot_seed(seed, shot.index),
                                source=draft.source, sources=sources, events=sound_events(draft.effects)))
    return Prompts(shots=shots, ambience=ambience, seed=int(seed), writer=writer.name,
                   ambience_sources=ambience_sources,
                   ambience_events={sid: sound_events(text, scene=True) for sid, text in ambience.items()})


def write_prompts(story, out: str | os.PathLike, *, videos: str | os.PathLike | None = None, config=None,
                  writer: PromptWriter | None = None) -> Prompts:
    """Write ``prompts.json`` for ``story`` without generating anything; return the prompts.

    Review or edit the file, then pass it to ``generate(..., prompts=out)`` / ``avshooter generate --prompts``.

    Parameters
    ----------
    story : path, dict or Story
        The story (times are not needed: AnimeShooterGen's stories have none).
    out : path
        Where to write (atomically).
    videos : path, optional
        The shot videos that ``generate`` will use: checked against the story now (one per shot).
    config : GenerateConfig, optional
        ``seed`` and ``prompt_writer`` (+ options) are taken from it.
    writer : PromptWriter, optional
        Overrides the config's writer.
    """
    from ..config import GenerateConfig
    from ..io.story import Story, load_story

    config = config or GenerateConfig()
    story = story if isinstance(story, Story) else load_story(story, require_times=False)
    if videos is not None:
        from .timeline import resolve_shot_videos

        resolve_shot_videos(videos, story)
    if writer is None and config.prompt_writer == "llm":
        writer = LLMPromptWriter(**config.prompt_writer_options)
    prompts = build_prompts(story, seed=config.seed, writer=writer)
    save_prompts(prompts, out)
    return prompts
