"""The AnimeShooter story: its records, reading it from JSON and saving it atomically.

A story is the paper's JSON (keys with spaces, exactly as printed in arXiv 2506.03126)::

    {"storyline": str,
     "main characters": [{"ID": str, "appearance": str}],
     "main scenes": [{"ID": str, "environment": str}],
     "shots": [{"start time": "MM:SS", "end time": "MM:SS",
                "is_prologue_or_epilogue": "prologue" | "epilogue",      # optional
                "main characters": [ID, ...], "scene": ID,
                "visual annotation": {"plot": str, "caption": str},     # or "plot"/"caption" on the shot
                "audio annotation": {"type": str, "sound description": str, "visual context": str}}]}

avshooter's own fields live in ONE extra object per shot and one per story, under the key
``"avshooter"`` (:data:`EXT`), kept as an open dict on :class:`Shot` and :class:`Story`. Exact seconds in
``shot["avshooter"]["start_s"/"end_s"]`` win over the 1-second "MM:SS" strings. Every key we do not know
is kept in ``extra`` and written back, so ``save_story(load_story(x))`` gives back ``x``.

Reading checks the structure against the shipped JSON Schema (:mod:`avshooter.io.schema`), then what a
schema cannot express (:mod:`avshooter.io.story_checks`: time order, overlaps, the video's length,
unknown and duplicate IDs, finite exact seconds, readable time values). This module owns only the story
records; what fills the ``"avshooter"`` objects is the pipelines' job.
"""
from __future__ import annotations

import copy
import json
import logging
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

from ..errors import ShotError, StoryError
from ..units import format_mmss, parse_time
from .jsonfile import read_json
from .output import atomic_write_text
from .story_checks import check_story, check_unique_ids
from .story_entries import (
    AudioAnnotation,
    Character,
    Scene,
    keep_key,
    key_path,
    ordered_keys,
    with_source,
)

__all__ = [
    "EXT",
    "Character",
    "Scene",
    "AudioAnnotation",
    "Shot",
    "Story",
    "load_story",
    "save_story",
    "check_story",
    "story_from_shots",
]

log = logging.getLogger(__name__)

EXT = "avshooter"
"""Key of avshooter's own object, per shot and per story."""

TimeValue = Union[str, int, float, dict, None]



# --------------------------------------------------------------------------------------------- helpers


# --------------------------------------------------------------------------------------------- records


_SHOT_KEYS = (
    "start time",
    "end time",
    "is_prologue_or_epilogue",
    "main characters",
    "scene",
    "plot",
    "caption",
    "visual annotation",
    "audio annotation",
    EXT,
)


@dataclass
class Shot:
    """One shot of a story.

    Attributes
    ----------
    index : int
        Position in ``story.shots`` (0-based).
    start_s, end_s : float
        Exact span ``[start_s, end_s)`` in seconds (from ``avshooter.start_s/end_s`` when present, else
        parsed from "start time"/"end time"). Use :meth:`retime` to change them.
    characters : list of str
        "main characters" IDs.
    scene : str or None
        "scene" ID.
    visual : dict
        The visual annotation: ``{"plot": ..., "caption": ..., ...}``. Read it through :attr:`plot` and
        :attr:`caption`, which work for both shot forms.
    visual_form : {"nested", "flat"}
        "nested": written under "visual annotation" (AnimeShooter-audio form, the default for new
        shots); "flat": "plot"/"caption" directly on the shot (main set form).
    prologue_or_epilogue : str, bool or None
        "is_prologue_or_epilogue" as read.
    audio : AudioAnnotation or None
        "audio annotation".
    avshooter : dict
        avshooter's own object for this shot (open; the pipelines fill it).
    extra : dict
        Every other key of the shot, written back unchanged.
    start_time, end_time : str, number, dict or None
        The paper's time values as read, written back unchanged; ``None`` for new shots, which are
        written as "MM:SS".
    """

    index: int
    start_s: float
    end_s: float
    characters: list[str] = field(default_factory=list)
    scene: str | None = None
    visual: dict[str, Any] = field(default_factory=dict)
    visual_form: str = "nested"
    prologue_or_epilogue: str | bool | None = None
    audio: AudioAnnotation | None = None
    avshooter: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    start_time: TimeValue = None
    end_time: TimeValue = None
    _keys: tuple[str, ...] | None = field(default=None, repr=False, compare=False)

    @property
    def duration_s(self) -> float:
        """``end_s - start_s``."""
        return self.end_s - self.start_s

    @property
    def timed(self) -> bool:
        """False for a shot read without "start time"/"end time" (``require_times=False``): NaN times."""
        return not (math.isnan(self.start_s) or math.isnan(self.end_s))

    @property
    def span(self) -> tuple[float, float]:
        """``(start_s, end_s)``."""
        return (self.start_s, self.end_s)

    @property
    def plot(self) -> str | None:
        """The shot's plot (narrative caption), whichever form it was read from."""
        return self.visual.get("plot", self.visual.get("narrative caption"))

    @plot.setter
    def plot(self, text: str | None) -> None:
        self._set_visual("plot", "narrative caption", text)

    @property
    def caption(self) -> str | None:
        """The shot's descriptive caption, whichever form it was read from."""
        return self.visual.get("caption", self.visual.get("descriptive caption"))

    @caption.setter
    def caption(self, text: str | None) -> None:
        self._set_visual("caption", "descriptive caption", text)

    def _set_visual(self, key: str, alias: str, text: str | None) -> None:
        name = alias if alias in self.visual and key not in self.visual else key
        if text is None:
            self.visual.pop(name, None)
        else:
            self.visual[name] = text

    def retime(self, start_s: float, end_s: float) -> None:
        """Set exact times; the paper's strings are then rewritten as "MM:SS" from them on save."""
        self.start_s, self.end_s = float(start_s), float(end_s)
        self.start_time = self.end_time = None
        if "start_s" in self.avshooter or "end_s" in self.avshooter:
            self.avshooter.update(start_s=self.start_s, end_s=self.end_s)

    # ------------------------------------------------------------------------------------ to dict

    def to_dict(self) -> dict[str, Any]:
        """The shot as the paper's JSON object, plus ``"avshooter"`` and the extra keys."""
        keys = self._keys
        out: dict[str, Any] = {}
        if self.timed or self.start_time is not None:  # a shot read without times is written without them
            out["start time"] = self.start_time if self.start_time is not None else format_mmss(self.start_s)
            out["end time"] = self.end_time if self.end_time is not None else format_mmss(self.end_s)
        if self.prologue_or_epilogue is not None or (keys and "is_prologue_or_epilogue" in keys):
            out["is_prologue_or_epilogue"] = self.prologue_or_epilogue
        if keep_key("main characters", self.characters, keys):
            out["main characters"] = list(self.characters)
        if self.scene is not None or (keys and "scene" in keys):
            out["scene"] = self.scene
        out.update(self._visual_dict())
        if self.audio is not None:
            out["audio annotation"] = self.audio.to_dict()
        ext = self._ext_dict()
        if ext or (keys and EXT in keys):
            out[EXT] = ext
        out.update(self.extra)
        return ordered_keys(out, keys)

    def _visual_dict(self) -> dict[str, Any]:
        if self.visual_form == "flat":
            return dict(self.visual)
        if self.visual_form != "nested":
            raise StoryError(f"shots[{self.index}]: visual_form must be 'nested' or 'flat', not {self.visual_form!r}")
        if self.visual or (self._keys and "visual annotation" in self._keys):
            return {"visual annotation": dict(self.visual)}
        return {}

    def _ext_dict(self) -> dict[str, Any]:
        """The avshooter object, with exact times kept in step (added when "MM:SS" would lose them)."""
        ext = dict(self.avshooter)
        inexact = any(
            given is None and not float(seconds).is_integer()
            for given, seconds in ((self.start_time, self.start_s), (self.end_time, self.end_s))
        )
        if self.timed and (inexact or "start_s" in ext or "end_s" in ext):
            ext["start_s"], ext["end_s"] = self.start_s, self.end_s
        return ext

    # ---------------------------------------------------------------------------------- from dict

    @classmethod
    def from_dict(cls, data: dict, *, index: int = 0, fps: float | None = None, where: str | None = None,
                  require_times: bool = True) -> Shot:
        """Build one shot (either form) from a dict whose structure the story schema has checked.

        Checks here only what the schema cannot: time values that parse (and need ``fps`` for frame
        indices) and finite exact seconds. With ``require_times=False`` a shot without both "start time"
        and "end time" is read with NaN times (:attr:`timed` is False): its length comes from elsewhere
        (its own video, in ``generate``).
        """
        where = where or f"shots[{index}]"
        ext = data.get(EXT, {})
        if not require_times and "start time" not in data and "end time" not in data:
            start_time = end_time = None
            start_s = end_s = math.nan
        else:
            start_time, end_time = data["start time"], data["end time"]
            start_s = _exact_or_parsed(ext, "start_s", start_time, fps, where, "start time")
            end_s = _exact_or_parsed(ext, "end_s", end_time, fps, where, "end time")
        flat = {k: data[k] for k in ("plot", "caption") if k in data}
        nested = "visual annotation" in data
        audio = data.get("audio annotation")
        return cls(
            index=index,
            start_s=start_s,
            end_s=end_s,
            characters=list(data.get("main characters", [])),
            scene=data.get("scene"),
            visual=dict(data["visual annotation"]) if nested else flat,
            visual_form="nested" if nested or not flat else "flat",
            prologue_or_epilogue=data.get("is_prologue_or_epilogue"),
            audio=None if audio is None else AudioAnnotation.from_dict(audio),
            avshooter=dict(ext),
            extra={k: v for k, v in data.items() if k not in _SHOT_KEYS},
            start_time=start_time,
            end_time=end_time,
            _keys=tuple(data),
        )


def _exact_or_parsed(ext: dict, ext_key: str, given: Any, fps: float | None, where: str, key: str) -> float:
    """Exact seconds from the avshooter object when there, else the paper's time value parsed."""
    seconds = parse_time(given, fps=fps, where=key_path(where, key))  # always checked, even when overridden
    if ext_key not in ext:
        return seconds
    exact = ext[ext_key]
    path = key_path(key_path(where, EXT), ext_key)
    if not math.isfinite(exact):  # the schema checks the type and the sign; JSON's NaN slips through it
        raise StoryError(f"{path}: {exact!r} must be a finite number of seconds >= 0")
    if abs(exact - seconds) > 1.0:
        log.warning("%s: %.3f s differs from %s %r by more than 1 s; using %.3f s", path, exact, key, given, exact)
    return float(exact)


_STORY_KEYS = ("storyline", "main characters", "main scenes", "shots", EXT)


@dataclass
class Story:
    """A story: storyline, characters, scenes and shots, plus avshooter's object and extra keys.

    Attributes
    ----------
    shots : list of Shot
        Sorted, non-overlapping shots (checked by :func:`check_story`).
    storyline : str
    characters : list of Character
        "main characters".
    scenes : list of Scene
        "main scenes".
    avshooter : dict
        avshooter's own object for the story (video, duration_s, sample_rate, provenance, ...).
    extra : dict
        Every other top-level key, written back unchanged.
    source : str or None
        File it was read from (used in messages; not written).
    """

    shots: list[Shot] = field(default_factory=list)
    storyline: str = ""
    characters: list[Character] = field(default_factory=list)
    scenes: list[Scene] = field(default_factory=list)
    avshooter: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    source: str | None = field(default=None, compare=False)
    _keys: tuple[str, ...] | None = field(default=None, repr=False, compare=False)

    @property
    def spans(self) -> list[tuple[float, float]]:
        """``[(start_s, end_s), ...]`` of every shot."""
        return [shot.span for shot in self.shots]

    @property
    def character_ids(self) -> list[str]:
        return [c.id for c in self.characters]

    @property
    def scene_ids(self) -> list[str]:
        return [s.id for s in self.scenes]

    def to_dict(self) -> dict[str, Any]:
        """The story as the paper's JSON object (a new dict, safe to change)."""
        keys = self._keys
        out: dict[str, Any] = {}
        if keep_key("storyline", self.storyline, keys):
            out["storyline"] = self.storyline
        if keep_key("main characters", self.characters, keys):
            out["main characters"] = [c.to_dict() for c in self.characters]
        if keep_key("main scenes", self.scenes, keys):
            out["main scenes"] = [s.to_dict() for s in self.scenes]
        out["shots"] = [shot.to_dict() for shot in self.shots]
        if self.avshooter or (keys and EXT in keys):
            out[EXT] = dict(self.avshooter)
        out.update(self.extra)
        return copy.deepcopy(ordered_keys(out, keys))  # callers may edit it freely

    @classmethod
    def from_dict(
        cls,
        data: Any,
        *,
        fps: float | None = None,
        duration_s: float | None = None,
        strict: bool = False,
        source: str | None = None,
        require_times: bool = True,
    ) -> Story:
        """Read and check a story dict; see :func:`load_story`."""
        from .schema import validate_input

        validate_input(data, source=source, require_times=require_times)
        ext = data.get(EXT, {})
        if fps is None and isinstance(ext.get("fps"), (int, float)) and not isinstance(ext.get("fps"), bool):
            fps = float(ext["fps"])
        story = cls(
            shots=[
                Shot.from_dict(item, index=i, fps=fps, where=with_source(source, f"shots[{i}]"),
                               require_times=require_times)
                for i, item in enumerate(data["shots"])
            ],
            storyline=data.get("storyline", ""),
            characters=[Character.from_dict(item) for item in data.get("main characters", [])],
            scenes=[Scene.from_dict(item) for item in data.get("main scenes", [])],
            avshooter=dict(ext),
            extra={k: v for k, v in data.items() if k not in _STORY_KEYS},
            source=source,
            _keys=tuple(data),
        )
        check_unique_ids(story.characters, "main characters", source)
        check_unique_ids(story.scenes, "main scenes", source)
        check_story(story, duration_s=duration_s, strict=strict)
        return story


# --------------------------------------------------------------------------------------------- files


def load_story(
    path_or_dict: str | os.PathLike | dict,
    *,
    fps: float | None = None,
    duration_s: float | None = None,
    strict: bool = False,
    require_times: bool = True,
) -> Story:
    """Read a story JSON file (or an already parsed dict) and check it.

    Parameters
    ----------
    path_or_dict : str, path or dict
        A UTF-8 JSON file, or its content.
    fps : float, optional
        The video's frame rate, needed for frame-index times (``{"frame": N}``, ``"frame:N"``).
        Defaults to the story's ``avshooter.fps`` when that is set.
    duration_s : float, optional
        The video's length: shots past it are an error (see :func:`check_story`).
    strict : bool
        Unknown character/scene IDs are errors (True) or logged warnings (False).
    require_times : bool
        False: shots may come without "start time"/"end time" (AnimeShooterGen stories, one video per
        shot); such shots have NaN times and ``shot.timed`` False. A shot with only one of the two is
        still an error.

    Returns
    -------
    Story

    Raises
    ------
    StoryError
        Unreadable file, invalid JSON (with line and column), wrong structure or types (names the file
        and the key path, e.g. ``story.json: shots[2]: missing key 'end time'``).
    ShotError
        Inconsistent shot times.
    """
    if not isinstance(path_or_dict, (str, os.PathLike)):
        return Story.from_dict(path_or_dict, fps=fps, duration_s=duration_s, strict=strict,
                               require_times=require_times)
    source = os.fspath(path_or_dict)
    return Story.from_dict(read_json(source), fps=fps, duration_s=duration_s, strict=strict, source=source,
                           require_times=require_times)


def save_story(story: Story, path: str | os.PathLike) -> Path:
    """Write ``story`` as UTF-8 JSON (indent 2, non-ASCII kept), atomically.

    The text goes to a temporary file in the same folder, which then replaces ``path``; on any failure
    the temporary file is removed and ``path`` is left as it was. Missing parent folders are created.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    StoryError
        The story holds a value JSON cannot hold (NaN, infinity, an object).
    OutputError
        The file cannot be written.
    """
    target = Path(path)
    try:
        text = json.dumps(story.to_dict(), ensure_ascii=False, indent=2, allow_nan=False) + "\n"
    except (TypeError, ValueError) as exc:
        raise StoryError(f"{target}: cannot write story as JSON: {exc}") from None
    atomic_write_text(target, text)
    return target


# --------------------------------------------------------------------------------------------- builders


def story_from_shots(spans: list[tuple[float, float]], *, storyline: str = "") -> Story:
    """A story made from detected shots (no story JSON given).

    Parameters
    ----------
    spans : list of (start_s, end_s)
        Shot spans in seconds, sorted and not overlapping.
    storyline : str

    Returns
    -------
    Story
        Shots with exact times; they are written as "MM:SS" plus ``avshooter.start_s/end_s`` when the
        seconds are not whole.
    """
    shots = []
    for i, span in enumerate(spans):
        try:
            start_s, end_s = (float(t) for t in span)
        except (TypeError, ValueError):
            raise ShotError(f"shots[{i}]: span {span!r} is not (start_s, end_s)") from None
        if not (math.isfinite(start_s) and math.isfinite(end_s)) or start_s < 0:
            raise ShotError(f"shots[{i}]: span {span!r} must be finite seconds >= 0")
        shots.append(Shot(index=i, start_s=start_s, end_s=end_s))
    if not shots:
        raise ShotError("shots: no shot spans given")
    story = Story(shots=shots, storyline=storyline)
    check_story(story)
    return story


