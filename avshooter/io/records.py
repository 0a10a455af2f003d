"""The shot record: one annotated shot as a small dataclass (no arrays inside), as a manifest line.

:class:`ShotRecord` is what every reader of annotate output gets (batch, retrieval, export, report) through
:mod:`avshooter.io.dataset`. ``to_dict`` gives the line of ``manifest.jsonl``; ``from_dict`` reads it
back, so ``ShotRecord.from_dict(r.to_dict()) == r``. Paths are relative to the dataset root (the ``--out``
folder of annotate); :meth:`ShotRecord.audio_path` makes them absolute. ``custom`` holds the rest of the
shot's ``"avshooter"`` extension object (features, type scores, tags, transcript, provenance...), open to
fields added later.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["STEMS", "ShotRecord"]

STEMS = ("dialogue", "music", "effects")
"""The separated stems of every annotated shot, beside ``"mix"``; they sum back to the mix."""

# extension keys that become ShotRecord fields (the rest goes to ``custom``)
_EXT_FIELDS = ("index", "start_s", "end_s", "start_sample", "end_sample", "sample_rate", "audio", "speech")


@dataclass
class ShotRecord:
    """One annotated shot.

    ``annotation`` is the paper's ``"audio annotation"`` (``type``, ``sound description``, ``visual
    context``); ``caption``/``plot``/``characters``/``scene`` are the shot's picture side from the story.
    Times are exact video seconds; samples are at ``sample_rate``.
    """

    id: str
    video_id: str
    index: int
    start_s: float
    end_s: float
    start_sample: int
    end_sample: int
    sample_rate: int
    audio: dict[str, str]
    """Paths of the audio files made (``mix`` and each stem that exists), relative to the dataset root."""
    annotation: dict[str, str]
    story: str
    video: str = ""
    speech: list[dict] = field(default_factory=list)
    caption: str = ""
    plot: str = ""
    characters: list[str] = field(default_factory=list)
    scene: str | None = None
    custom: dict[str, Any] = field(default_factory=dict)

    @property
    def duration_s(self) -> float:
        return (self.end_sample - self.start_sample) / self.sample_rate

    @property
    def num_samples(self) -> int:
        return self.end_sample - self.start_sample

    @property
    def type(self) -> str:
        return self.annotation.get("type", "")

    def audio_path(self, root: str | Path, stem: str = "mix") -> Path:
        """Absolute path of ``stem`` ("mix", "dialogue", "music", "effects") under the dataset ``root``."""
        if stem not in self.audio:
            raise KeyError(f"shot {self.id} has no {stem!r} audio (has: {', '.join(self.audio)})")
        return Path(root) / self.audio[stem]

    def to_dict(self) -> dict:
        """JSON-ready dict; ``manifest.jsonl`` holds it without ``custom`` (the full record is in story.json)."""
        d = dataclasses.asdict(self)
        d["shot"] = d.pop("index")
        d["audio annotation"] = d.pop("annotation")
        return d

    @classmethod
    def from_dict(cls, data: dict) -> ShotRecord:
        d = dict(data)
        d["index"] = d.pop("shot")
        d["annotation"] = d.pop("audio annotation")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:  # a newer writer's field: keep it rather than lose it
            d.setdefault("custom", {})
            d["custom"] = {**d["custom"], **{k: d.pop(k) for k in unknown}}
        return cls(**d)

    @classmethod
    def from_story_shot(cls, shot: dict, *, video_id: str, video: str, story_relpath: str) -> ShotRecord:
        """The record of one shot dict of an annotated ``story.json`` (paths made relative to the root)."""
        ext = dict(shot["avshooter"])
        index = int(ext["index"])
        base = story_relpath.rsplit("/", 1)[0] if "/" in story_relpath else ""
        visual = shot.get("visual annotation") or {}
        return cls(
            id=f"{video_id}/{index:04d}",
            video_id=video_id,
            index=index,
            start_s=float(ext["start_s"]), end_s=float(ext["end_s"]),
            start_sample=int(ext["start_sample"]), end_sample=int(ext["end_sample"]),
            sample_rate=int(ext["sample_rate"]),
            audio={k: f"{base}/{v}" if base else v for k, v in ext["audio"].items() if isinstance(v, str)},
            annotation=dict(shot["audio annotation"]),
            story=story_relpath,
            video=video,
            speech=list(ext.get("speech") or []),
            caption=(visual.get("caption") or visual.get("descriptive caption") or shot.get("caption") or ""),
            plot=(visual.get("plot") or visual.get("narrative caption") or shot.get("plot") or ""),
            characters=list(shot.get("main characters") or []),
            scene=shot.get("scene"),
            custom={**{k: v for k, v in ext.items() if k not in _EXT_FIELDS},
                    **({"audio_offset_s": ext["audio"]["offset_s"]} if "offset_s" in ext["audio"] else {})},
        )
