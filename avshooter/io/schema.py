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
def _validator(name: str):
    from jsonschema import Draft202012Validator

    schema = load_schema(name)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def _json_path(parts) -> str:
    """``shots[2].audio annotation.type`` from jsonschema's path parts; ``<top level>`` when empty."""
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "<top level>"


def _describe(error) -> str:
    """jsonschema's message, or the rule's own description where the message would only repeat the value."""
    if error.validator in ("not", "oneOf", "anyOf"):
        rule = error.schema.get(error.validator)
        text = error.schema.get("description") or (rule.get("description") if isinstance(rule, dict) else None)
        if text:
            return f"breaks the rule: {text}"
    return error.message


def _validate(name: str, data: Any, source: str | None) -> None:
    from jsonschema.exceptions import best_match

    error = best_match(_validator(name).iter_errors(data))
    if error is None:
        return
    message = _describe(error)
    if len(message) > _MAX_MESSAGE:
        message = message[: _MAX_MESSAGE - 3] + "..."
    where = _json_path(error.absolute_path)
    prefix = f"{source}: " if source else ""
    raise StoryError(f"{prefix}{where}: {message} (against the {name} schema)")


def validate_input(data: Any, *, source: str | None = None) -> None:
    """Check a story dict against ``story.schema.json``.

    Raises
    ------
    StoryError
        Names ``source`` (when given) and the JSON path of the most relevant error, e.g.
        ``story.json: shots[1].start time: ... (against the story schema)``.
    """
    _validate("story", data, source)


def validate_record(data: Any, *, source: str | None = None) -> None:
    """Check an output record dict against ``record.schema.json``; raises StoryError like
    :func:`validate_input`."""
    _validate("record", data, source)
