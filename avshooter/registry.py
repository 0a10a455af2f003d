"""Named backends: ``"module:Class"`` strings imported only when used, one instance per settings.

Shared by the annotate backends (:mod:`avshooter.backends`) and the text-to-audio backends
(:mod:`avshooter.backends.text_to_audio`), so that a model loads once per process however many shots ask for it.
"""
from __future__ import annotations

import importlib
import json
import threading

from .errors import BackendError

__all__ = ["check_options", "free_backends", "instantiate"]

_CACHE: dict = {}
_LOCK = threading.Lock()
_KEY_LOCKS: dict = {}  # one re-entrant lock per backend settings


def instantiate(table: dict[str, str], name: str, *, what: str, device: str = "cpu", options: dict | None = None,
                cache: bool = True):
    """The instance of ``table[name]`` built with ``(device=device, **options)``.

    With ``cache`` (the pipelines' way) one instance per settings is kept for the process, so a model
    loads once however many shots ask for it; :func:`free_backends` drops them. ``cache=False`` builds a
    new object that only the caller holds (freed when the caller drops it).
    """
    if name not in table:
        raise BackendError(f"unknown {what} backend {name!r} (known: {', '.join(sorted(table))})")
    options = dict(options or {})
    key = (table[name], device, json.dumps(options, sort_keys=True, default=str))
    if not cache:
        return _build(table, name, what=what, device=device, options=options)
    with _LOCK:
        lock = _KEY_LOCKS.setdefault(key, threading.RLock())
    with lock:  # threads of one video's shots: each model is built once, different ones side by side
        if key not in _CACHE:
            _CACHE[key] = _build(table, name, what=what, device=device, options=options)
        return _CACHE[key]


def _build(table: dict[str, str], name: str, *, what: str, device: str, options: dict):
    module_name, cls_name = table[name].split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise BackendError(f"{what} backend {name!r} cannot be imported: {exc}") from None
    return getattr(module, cls_name)(device=device, **options)


def free_backends() -> None:
    """Drop every cached backend (the models are freed once nothing else holds them)."""
    _CACHE.clear()
    try:
        import gc
        import sys

        gc.collect()
        torch = sys.modules.get("torch")
        if torch is not None and torch.cuda.is_available():
            torch.cuda.empty_cache()
    except Exception:  # noqa: BLE001 - freeing is best effort
        pass


def check_options(target: str, options: dict, *, what: str) -> None:
    """Refuse option names that the class ``target`` (``"module:Class"``) does not take.

    Imports the backend's module (light: heavy libraries load inside the backend) but builds nothing,
    so a config is checked before any decoding or model loading. The allowed names are the keyword
    arguments of the class, plus its ``OPTIONS`` (a dataclass, or a mapping of names to defaults) when it takes ``**options``.
    Values are checked by the backend when it is built.
    """
    import inspect

    module_name, cls_name = target.split(":")
    try:
        cls = getattr(importlib.import_module(module_name), cls_name)
    except ImportError as exc:
        raise BackendError(f"{what} cannot be imported: {exc}") from None
    declared = getattr(cls, "OPTIONS", None)  # backends taking **options declare them as a dataclass
    params = inspect.signature(cls.__init__).parameters
    named = [n for n, p in params.items() if n not in ("self", "device")
             and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    if declared is not None:  # a dataclass of options, or a mapping of option names to defaults
        import dataclasses

        names = [f.name for f in dataclasses.fields(declared)] if dataclasses.is_dataclass(declared) else list(declared)
        allowed = sorted({*named, *names})
    elif not named and any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return  # only undeclared **options: the backend checks them when it is built
    else:
        allowed = sorted(named)
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise BackendError(f"{what}: unknown option(s) {', '.join(unknown)} (allowed: {', '.join(allowed) or 'none'})")
