"""Paths named inside our files: relative, and never outside their base folder."""
from __future__ import annotations

import os
from pathlib import Path

from ..errors import StoryError

__all__ = ["resolve_relpath"]


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
