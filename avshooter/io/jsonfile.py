"""Reading our JSON files: one reader, the same one-line messages everywhere (stories, released files,
prompts)."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ..errors import StoryError

__all__ = ["read_json"]


class _DuplicateKey(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


def read_json(source: str | os.PathLike, *, what: str = "story", error: type = StoryError) -> Any:
    """The JSON in file ``source`` (UTF-8, a BOM allowed), refusing a key repeated in one object.

    Raises ``error`` (StoryError by default) with one line: the file, and the line and column of a
    syntax error, or the repeated key; ``what`` names the file's kind in the message.
    """
    source = os.fspath(source)
    try:
        text = Path(source).read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise error(f"{source}: cannot read {what}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise error(f"{source}: not UTF-8 text (byte {exc.start})") from None
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as exc:
        raise error(f"{source}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    except _DuplicateKey as exc:
        raise error(f"{source}: invalid JSON: key {exc.args[0]!r} appears twice in one object") from None
