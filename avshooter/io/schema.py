"""JSON Schemas of the story avshooter reads and the record it writes, and their validators.

``story.schema.json`` describes an input story (both shot forms, every time form);
``record.schema.json`` an output record (AnimeShooter-audio form plus the ``"avshooter"`` objects).
Both are draft 2020-12 and ship as package data. ``jsonschema`` is imported only when validating.
"""
from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any

from ..errors import StoryError

__all__ = ["SCHEMAS", "load_schema", "validate_input", "validate_record"]

SCHEMAS = ("story", "record")

_MAX_MESSAGE = 200


@lru_cache(maxsize=None)
def _schema_text(name: str) -> str:
    if name not in SCHEMAS:
        raise StoryError(f"unknown schema {name!r} (known: {', '.join(SCHEMAS)})")
    return resources.files(__package__).joinpath("schemas", f"{name}.schema.json").read_text(encoding="utf-8")


def load_schema(name: str) -> dict[str, Any]:
    """The schema ``name`` ("story" or "record") as a new dict."""
    return json.loads(_schema_text(name))


@lru_cache(maxsize=None)
def _validator(name: str, require_times: bool = True):
    from jsonschema import Draft202012Validator

    schema = load_schema(name)
    if not require_times:  # stories of AnimeShooterGen: one video per shot, no times
        schema["$defs"]["shot"]["required"] = []
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def _json_path(parts) -> str:
    """``shots[2].audio annotation.type`` from jsonschema's path parts; empty at the top level."""
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


_KINDS = {"object": "an object", "array": "a list", "string": "a string", "number": "a number",
          "integer": "an integer", "boolean": "true or false", "null": "null"}


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    for kind, py in (("object", dict), ("array", list), ("string", str), ("number", (int, float))):
        if isinstance(value, py):
            return _KINDS[kind]
    return "null" if value is None else type(value).__name__


def _describe(error) -> str:
    """One line in our words for the common rules; jsonschema's message for the rest."""
    rule, value = error.validator, error.instance
    if rule == "required":
        missing = [k for k in error.validator_value if isinstance(value, dict) and k not in value]
        return f"missing key {missing[0]!r}" if missing else error.message
    if rule == "type":
        kinds = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
        return f"expected {' or '.join(_KINDS.get(k, k) for k in kinds)}, got {_kind(value)}"
    if rule == "minItems" and isinstance(value, list) and not value:
        return "empty list (at least one item is needed)"
    if rule == "enum":
        return f"{value!r} is not allowed (one of: {', '.join(repr(v) for v in error.validator_value)})"
    if rule == "pattern":
        what = error.schema.get("description")
        return f"{value!r} is not {what}" if what else f"{value!r} is not in an allowed form"
    if rule == "dependentRequired":
        return error.message.replace("is a dependency of", "is needed with")
    if rule in ("not", "oneOf", "anyOf"):
        sub = error.schema.get(rule)
        text = error.schema.get("description") or (sub.get("description") if isinstance(sub, dict) else None)
        if text:
            return f"{value!r} breaks the rule: {text}" if not isinstance(value, (dict, list)) \
                else f"breaks the rule: {text}"
    return error.message


def _validate(name: str, data: Any, source: str | None, require_times: bool = True) -> None:
    from jsonschema.exceptions import best_match

    error = best_match(_validator(name, require_times).iter_errors(data))
    if error is None:
        return
    message = _describe(error)
    if len(message) > _MAX_MESSAGE:
        message = message[: _MAX_MESSAGE - 3] + "..."
    where = _json_path(error.absolute_path)
    prefix = f"{source}: " if source else ("" if where else f"{name}: ")
    raise StoryError(f"{prefix}{where + ': ' if where else ''}{message}")


def validate_input(data: Any, *, source: str | None = None, require_times: bool = True) -> None:
    """Check a story dict against ``story.schema.json`` (the structure; :mod:`avshooter.io.story_checks`
    checks what a schema cannot).

    Parameters
    ----------
    require_times : bool
        False: shots may come without "start time"/"end time" (but not with only one of them).

    Raises
    ------
    StoryError
        Names ``source`` (when given) and the JSON path of the most relevant error, e.g.
        ``story.json: shots[1]: missing key 'end time'``.
    """
    _validate("story", data, source, require_times)


def validate_record(data: Any, *, source: str | None = None) -> None:
    """Check an output record dict against ``record.schema.json``; raises StoryError like
    :func:`validate_input`."""
    _validate("record", data, source)
