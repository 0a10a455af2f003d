"""Named backends: ``"module:Class"`` strings imported only when used, one instance per settings.

Shared by the annotate backends (:mod:`avshooter.backends`) and the text-to-audio backends
(:mod:`avshooter.backends.text_to_audio`), so that a model loads once per process however many shots ask for it.
"""
from __future__ import annotations

import importlib
import json

from .errors import BackendError

__all__ = ["instantiate"]

_CACHE: dict = {}


def instantiate(table: dict[str, str], name: str, *, what: str, device: str = "cpu", options: dict | None = None):
    """The instance of ``table[name]`` built with ``(device=device, **options)``, cached per settings."""
    if name not in table:
        raise BackendError(f"unknown {what} backend {name!r} (known: {', '.join(sorted(table))})")
    options = dict(options or {})
    key = (table[name], device, json.dumps(options, sort_keys=True, default=str))
    if key not in _CACHE:
        module_name, cls_name = table[name].split(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise BackendError(f"{what} backend {name!r} cannot be imported: {exc}") from None
        _CACHE[key] = getattr(module, cls_name)(device=device, **options)
    return _CACHE[key]
