"""The AnimeShooter story: its records, reading and checking it, and saving it atomically.

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

This module owns only the story records; what fills the ``"avshooter"`` objects is the pipelines' job.
"""
from __future__ import annotations

import copy
import json
import logging
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

from ..errors import ShotError, StoryError
from .output import atomic_write_text
from ..units import format_mmss, parse_time

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
    "resolve_relpath",
]

log = logging.getLogger(__name__)

EXT = "avshooter"
"""Key of avshooter's own object, per shot and per story."""

TimeValue = Union[str, int, float, dict, None]

_TOL_S = 1e-6  # float noise allowed when comparing shot times
_WHOLE_SECOND = re.compile(r"^\s*(?:\d+:)?\d{1,3}:\d{1,2}\s*$")


# --------------------------------------------------------------------------------------------- helpers


def _at(where: str, key: str | int) -> str:
    """Key path ``where`` extended by ``key`` (``shots`` + 2 -> ``shots[2]``; ``a`` + ``b`` -> ``a.b``)."""
    if isinstance(key, int):
        return f"{where}[{key}]"
    return f"{where}.{key}" if where else key


def _prefix(source: str | None, path: str) -> str:
    return f"{source}: {path}" if source else path


def _type_name(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number" if isinstance(value, (int, float)) else type(value).__name__
    )


def _need(data: dict, key: str, where: str) -> Any:
    if key not in data:
        raise StoryError(f"{where}: missing key {key!r}")
    return data[key]


def _check_type(value: Any, kind: type | tuple, what: str, where: str) -> Any:
    """Return ``value`` if it is a ``kind`` (bools are not numbers), else raise StoryError."""
    ok = isinstance(value, kind) and not (isinstance(value, bool) and bool not in _as_tuple(kind))
    if not ok:
        raise StoryError(f"{where}: expected {what}, got {_type_name(value)}")
    return value


def _as_tuple(kind: type | tuple) -> tuple:
    return kind if isinstance(kind, tuple) else (kind,)


def _opt_str(data: dict, key: str, where: str) -> str | None:
    if key not in data:
        return None
    return _check_type(data[key], str, "a string", _at(where, key))


def _str_list(value: Any, where: str) -> list[str]:
    _check_type(value, list, "a list of IDs", where)
    for i, item in enumerate(value):
        _check_type(item, str, "an ID string", _at(where, i))
    return list(value)


def _ordered(out: dict, keys: tuple[str, ...] | None) -> dict:
    """``out`` with the keys that were read first, in their original order, then the new ones."""
    if not keys:
        return out
    first = {k: out[k] for k in keys if k in out}
    first.update((k, v) for k, v in out.items() if k not in first)
    return first


def _keep(key: str, value: Any, keys: tuple[str, ...] | None) -> bool:
    """Write a known key when it has content, when the object is new, or when it was read."""
    return keys is None or key in keys or bool(value)


# --------------------------------------------------------------------------------------------- records


@dataclass
class Character:
    """One entry of "main characters": ``{"ID": ..., "appearance": ...}``; other keys in ``extra``."""

    id: str
    appearance: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ID": self.id}
        if self.appearance is not None:
            out["appearance"] = self.appearance
        out.update(self.extra)
        return out

    @classmethod
    def from_dict(cls, data: Any, *, where: str = "character") -> Character:
        _check_type(data, dict, "an object", where)
        ident = _check_type(_need(data, "ID", where), str, "a string", _at(where, "ID"))
        extra = {k: v for k, v in data.items() if k not in ("ID", "appearance")}
        return cls(ident, _opt_str(data, "appearance", where), extra)


@dataclass
class Scene:
    """One entry of "main scenes": ``{"ID": ..., "environment": ...}``; other keys in ``extra``."""

    id: str
    environment: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ID": self.id}
        if self.environment is not None:
            out["environment"] = self.environment
        out.update(self.extra)
        return out

    @classmethod
    def from_dict(cls, data: Any, *, where: str = "scene") -> Scene:
        _check_type(data, dict, "an object", where)
        ident = _check_type(_need(data, "ID", where), str, "a string", _at(where, "ID"))
        extra = {k: v for k, v in data.items() if k not in ("ID", "environment")}
        return cls(ident, _opt_str(data, "environment", where), extra)


_AUDIO_KEYS = {"type": "type", "sound description": "sound_description", "visual context": "visual_context"}


@dataclass
class AudioAnnotation:
    """A shot's "audio annotation" (AnimeShooter-audio). ``None`` fields are not written."""

    type: str | None = None
    sound_description: str | None = None
    visual_context: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = {key: getattr(self, attr) for key, attr in _AUDIO_KEYS.items() if getattr(self, attr) is not None}
        out.update(self.extra)
        return out

    @classmethod
    def from_dict(cls, data: Any, *, where: str = "audio annotation") -> AudioAnnotation:
        _check_type(data, dict, "an object", where)
        values = {attr: _opt_str(data, key, where) for key, attr in _AUDIO_KEYS.items()}
        extra = {k: v for k, v in data.items() if k not in _AUDIO_KEYS}
        return cls(**values, extra=extra)


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
        if _keep("main characters", self.characters, keys):
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
        return _ordered(out, keys)

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
    def from_dict(cls, data: Any, *, index: int = 0, fps: float | None = None, where: str | None = None,
                  require_times: bool = True) -> Shot:
        """Read one shot (either form). Raises StoryError naming ``where`` and the key.

        With ``require_times=False`` a shot without both "start time" and "end time" is read with NaN
        times (:attr:`timed` is False): its length comes from elsewhere (its own video, in ``generate``).
        """
        where = where or f"shots[{index}]"
        _check_type(data, dict, "an object", where)
        ext = data.get(EXT, {})
        _check_type(ext, dict, "an object", _at(where, EXT))
        if not require_times and "start time" not in data and "end time" not in data:
            start_time = end_time = None
            start_s = end_s = math.nan
        else:
            start_time, end_time = _need(data, "start time", where), _need(data, "end time", where)
            start_s = _exact_or_parsed(ext, "start_s", start_time, fps, where, "start time")
            end_s = _exact_or_parsed(ext, "end_s", end_time, fps, where, "end time")
        prologue = data.get("is_prologue_or_epilogue")  # the paper prints a string; released files may hold a bool
        if not (prologue is None or isinstance(prologue, bool) or prologue in ("prologue", "epilogue")):
            raise StoryError(
                f"{_at(where, 'is_prologue_or_epilogue')}: {prologue!r} is not allowed (use 'prologue' or 'epilogue')"
            )
        scene = data.get("scene")
        if scene is not None:
            _check_type(scene, str, "a scene ID string", _at(where, "scene"))
        visual, form = _read_visual(data, where)
        audio = data.get("audio annotation")
        return cls(
            index=index,
            start_s=start_s,
            end_s=end_s,
            characters=_str_list(data.get("main characters", []), _at(where, "main characters")),
            scene=scene,
            visual=visual,
            visual_form=form,
            prologue_or_epilogue=prologue,
            audio=None if audio is None else AudioAnnotation.from_dict(audio, where=_at(where, "audio annotation")),
            avshooter=dict(ext),
            extra={k: v for k, v in data.items() if k not in _SHOT_KEYS},
            start_time=start_time,
            end_time=end_time,
            _keys=tuple(data),
        )


def _exact_or_parsed(ext: dict, ext_key: str, given: Any, fps: float | None, where: str, key: str) -> float:
    """Exact seconds from the avshooter object when there, else the paper's time value parsed."""
    seconds = parse_time(given, fps=fps, where=_at(where, key))  # always checked, even when overridden
    if ext_key not in ext:
        return seconds
    exact = ext[ext_key]
    path = _at(_at(where, EXT), ext_key)
    _check_type(exact, (int, float), "a number of seconds", path)
    if not math.isfinite(exact) or exact < 0:
        raise StoryError(f"{path}: {exact!r} must be a finite number of seconds >= 0")
    if abs(exact - seconds) > 1.0:
        log.warning("%s: %.3f s differs from %s %r by more than 1 s; using %.3f s", path, exact, key, given, exact)
    return float(exact)


def _read_visual(data: dict, where: str) -> tuple[dict[str, Any], str]:
    """``(visual, form)`` from "visual annotation" (nested) or shot-level "plot"/"caption" (flat)."""
    flat = {k: data[k] for k in ("plot", "caption") if k in data}
    for key, value in flat.items():
        _check_type(value, str, "a string", _at(where, key))
    if "visual annotation" not in data:
        return flat, ("flat" if flat else "nested")
    if flat:
        raise StoryError(
            f"{where}: has both 'visual annotation' and {', '.join(map(repr, flat))} on the shot (use one form)"
        )
    nested = _check_type(data["visual annotation"], dict, "an object", _at(where, "visual annotation"))
    for key in ("plot", "caption", "narrative caption", "descriptive caption"):
        if key in nested:
            _check_type(nested[key], str, "a string", _at(_at(where, "visual annotation"), key))
    return dict(nested), "nested"


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
        if _keep("storyline", self.storyline, keys):
            out["storyline"] = self.storyline
        if _keep("main characters", self.characters, keys):
            out["main characters"] = [c.to_dict() for c in self.characters]
        if _keep("main scenes", self.scenes, keys):
            out["main scenes"] = [s.to_dict() for s in self.scenes]
        out["shots"] = [shot.to_dict() for shot in self.shots]
        if self.avshooter or (keys and EXT in keys):
            out[EXT] = dict(self.avshooter)
        out.update(self.extra)
        return copy.deepcopy(_ordered(out, keys))  # callers may edit it freely

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
        if not isinstance(data, dict):
            raise StoryError(f"{source or 'story'}: top level must be a JSON object, got {_type_name(data)}")
        ext = _check_type(data.get(EXT, {}), dict, "an object", _prefix(source, EXT))
        if fps is None and isinstance(ext.get("fps"), (int, float)) and not isinstance(ext.get("fps"), bool):
            fps = float(ext["fps"])
        shots_data = _need(data, "shots", source or "story")
        _check_type(shots_data, list, "a list of shots", _prefix(source, "shots"))
        if not shots_data:
            raise StoryError(f"{_prefix(source, 'shots')}: empty list (a story needs at least one shot)")
        storyline = data.get("storyline", "")
        _check_type(storyline, str, "a string", _prefix(source, "storyline"))
        story = cls(
            shots=[
                Shot.from_dict(item, index=i, fps=fps, where=_prefix(source, f"shots[{i}]"),
                               require_times=require_times)
                for i, item in enumerate(shots_data)
            ],
            storyline=storyline,
            characters=_read_entries(data, "main characters", Character, source),
            scenes=_read_entries(data, "main scenes", Scene, source),
            avshooter=dict(ext),
            extra={k: v for k, v in data.items() if k not in _STORY_KEYS},
            source=source,
            _keys=tuple(data),
        )
        check_story(story, duration_s=duration_s, strict=strict)
        return story


def _read_entries(data: dict, key: str, kind: type, source: str | None) -> list:
    path = _prefix(source, key)
    items = _check_type(data.get(key, []), list, "a list of objects", path)
    entries = [kind.from_dict(item, where=f"{path}[{i}]") for i, item in enumerate(items)]
    seen: dict[str, int] = {}
    for i, entry in enumerate(entries):
        if entry.id in seen:
            raise StoryError(f"{path}[{i}].ID: duplicate ID {entry.id!r} (also {key}[{seen[entry.id]}])")
        seen[entry.id] = i
    return entries


# --------------------------------------------------------------------------------------------- checks


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
    return _prefix(source, f"shots[{shot.index}]")


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
    return Story.from_dict(_read_json(source), fps=fps, duration_s=duration_s, strict=strict, source=source,
                           require_times=require_times)


class _DuplicateKey(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


def _read_json(source: str) -> Any:
    try:
        text = Path(source).read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise StoryError(f"{source}: cannot read story: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise StoryError(f"{source}: not UTF-8 text (byte {exc.start})") from None
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as exc:
        raise StoryError(f"{source}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    except _DuplicateKey as exc:
        raise StoryError(f"{source}: invalid JSON: key {exc.args[0]!r} appears twice in one object") from None


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


def resolve_relpath(base_dir: str | os.PathLike, relpath: str, *, where: str = "path") -> Path:
    """``base_dir / relpath``, refusing paths that are absolute or escape ``base_dir``.

    Raises
    ------
    StoryError
        ``relpath`` is absolute, empty, or leaves ``base_dir`` (``..``, links).
    """
    if not isinstance(relpath, str) or not relpath or os.path.isabs(relpath) or Path(relpath).drive:
        raise StoryError(f"{where}: {relpath!r} must be a relative path inside {os.fspath(base_dir)}")
    base = Path(base_dir).resolve()
    full = (base / relpath).resolve()
    if full != base and base not in full.parents:
        raise StoryError(f"{where}: {relpath!r} leaves its base folder {base}")
    return full
