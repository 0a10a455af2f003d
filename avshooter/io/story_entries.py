"""The small records of a story: its characters, scenes and a shot's audio annotation, and the key-order
helpers every story record uses so that ``save_story(load_story(x))`` gives back ``x``.

Each record keeps the keys it does not know in ``extra`` and writes them back.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["AudioAnnotation", "Character", "Scene", "keep_key", "key_path", "ordered_keys", "with_source"]


def key_path(where: str, key: str | int) -> str:
    """Key path ``where`` extended by ``key`` (``shots`` + 2 -> ``shots[2]``; ``a`` + ``b`` -> ``a.b``)."""
    if isinstance(key, int):
        return f"{where}[{key}]"
    return f"{where}.{key}" if where else key


def with_source(source: str | None, path: str) -> str:
    return f"{source}: {path}" if source else path


def ordered_keys(out: dict, keys: tuple[str, ...] | None) -> dict:
    """``out`` with the keys that were read first, in their original order, then the new ones."""
    if not keys:
        return out
    first = {k: out[k] for k in keys if k in out}
    first.update((k, v) for k, v in out.items() if k not in first)
    return first


def keep_key(key: str, value: Any, keys: tuple[str, ...] | None) -> bool:
    """Write a known key when it has content, when the object is new, or when it was read."""
    return keys is None or key in keys or bool(value)


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
    def from_dict(cls, data: dict) -> Character:
        extra = {k: v for k, v in data.items() if k not in ("ID", "appearance")}
        return cls(data["ID"], data.get("appearance"), extra)


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
    def from_dict(cls, data: dict) -> Scene:
        extra = {k: v for k, v in data.items() if k not in ("ID", "environment")}
        return cls(data["ID"], data.get("environment"), extra)


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
    def from_dict(cls, data: dict) -> AudioAnnotation:
        values = {attr: data.get(key) for key, attr in _AUDIO_KEYS.items()}
        extra = {k: v for k, v in data.items() if k not in _AUDIO_KEYS}
        return cls(**values, extra=extra)
