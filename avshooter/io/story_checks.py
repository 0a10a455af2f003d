"""The checks of a story that its JSON Schema cannot express: shot times against each other and the
video, and references between shots and the story's characters and scenes.

Structure and types are checked by the shipped schema (:mod:`avshooter.io.schema`) when a story is read.
"""
from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING

from ..errors import ShotError, StoryError
from .story_entries import with_source

if TYPE_CHECKING:
    from .story import Shot, Story, TimeValue

__all__ = ["check_story", "check_unique_ids"]

log = logging.getLogger("avshooter.io.story")

_TOL_S = 1e-6  # float noise allowed when comparing shot times
_WHOLE_SECOND = re.compile(r"^\s*(?:\d+:)?\d{1,3}:\d{1,2}\s*$")


def check_unique_ids(entries: list, key: str, source: str | None) -> None:
    """Raise StoryError when two "main characters" / "main scenes" entries share an ID."""
    seen: dict[str, int] = {}
    for i, entry in enumerate(entries):
        if entry.id in seen:
            raise StoryError(f"{with_source(source, key)}[{i}].ID: duplicate ID {entry.id!r} (also {key}[{seen[entry.id]}])")
        seen[entry.id] = i


def check_story(story: Story, *, duration_s: float | None = None, strict: bool = False) -> None:
    """Check shot times and references; call again once the video's duration is known.

    Parameters
    ----------
    story : Story
    duration_s : float, optional
        Length of the video. A shot ending past it is a ShotError, except an end given only as a
        whole-second "MM:SS" less than 1 s past it: that end is clamped and logged.
    strict : bool
        Unknown character or scene IDs are a StoryError when True (``generate``), a logged warning
        when False (``annotate``).

    Raises
    ------
    ShotError
        end <= start, unsorted or overlapping shots, a shot past the video.
    StoryError
        Unknown IDs (``strict``).
    """
    for shot in story.shots:
        if not shot.timed:  # read with require_times=False: nothing to check here
            continue
        if duration_s is not None:
            _fit_to_duration(shot, float(duration_s), story.source)
        if shot.end_s <= shot.start_s + _TOL_S:
            raise ShotError(
                f"{_shot_name(story.source, shot)}: end {shot.end_s:.3f} s is not after start {shot.start_s:.3f} s "
                f"({_shown(shot.start_time)} .. {_shown(shot.end_time)})"
            )
    for prev, shot in zip(story.shots, story.shots[1:]):
        if not (prev.timed and shot.timed):
            continue
        if shot.start_s < prev.start_s - _TOL_S:
            raise ShotError(
                f"{_shot_name(story.source, shot)} starts at {shot.start_s:.3f} s, before shots[{prev.index}] "
                f"starts at {prev.start_s:.3f} s (shots must be sorted by start time)"
            )
        if shot.start_s < prev.end_s - _TOL_S:
            raise ShotError(
                f"{_shot_name(story.source, shot)} starts at {shot.start_s:.3f} s, before shots[{prev.index}] "
                f"ends at {prev.end_s:.3f} s (shots must not overlap)"
            )
    _check_ids(story, strict)


def _shot_name(source: str | None, shot: Shot) -> str:
    return with_source(source, f"shots[{shot.index}]")


def _shown(value: TimeValue) -> str:
    return "new" if value is None else repr(value)


def _fit_to_duration(shot: Shot, duration_s: float, source: str | None) -> None:
    name = _shot_name(source, shot)
    if shot.start_s >= duration_s - _TOL_S:
        raise ShotError(f"{name} starts at {shot.start_s:.3f} s but the video lasts {duration_s:.3f} s")
    over = shot.end_s - duration_s
    if over <= 1e-3:
        return
    coarse = "end_s" not in shot.avshooter and isinstance(shot.end_time, str) and _WHOLE_SECOND.match(shot.end_time)
    if coarse and over < 1.0:
        log.warning("%s: end %r is %.3f s past the video (%.3f s); clamped", name, shot.end_time, over, duration_s)
        shot.end_s = duration_s
        return
    raise ShotError(f"{name} ends at {shot.end_s:.3f} s but the video lasts {duration_s:.3f} s")


def _check_ids(story: Story, strict: bool) -> None:
    known = {"main characters": story.character_ids, "scene": story.scene_ids}
    for shot in story.shots:
        refs = [(f"main characters[{i}]", "main characters", c) for i, c in enumerate(shot.characters)]
        if shot.scene is not None:
            refs.append(("scene", "scene", shot.scene))
        for key, kind, ident in refs:
            if ident in known[kind]:
                continue
            what = "character" if kind == "main characters" else "scene"
            listed = ", ".join(known[kind]) or "none"
            message = f"{_shot_name(story.source, shot)}.{key}: unknown {what} ID {ident!r} (known: {listed})"
            if strict:
                raise StoryError(message)
            log.warning(message)
