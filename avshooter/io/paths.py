"""Paths named inside our files: relative, and never outside their base folder."""
from __future__ import annotations

import os
from pathlib import Path

from ..errors import InputError, StoryError

__all__ = ["resolve_relpath", "check_folder_name"]


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


def check_folder_name(name, *, where: str, root: str | os.PathLike | None = None) -> str:
    """``name`` when it names ONE folder inside ``root`` (no ``/``, ``\\``, ``..``, NUL, not empty).

    The one check of an id that becomes a folder (a video id from a manifest line, a story id): such a
    path must never leave the output folder. Raises :class:`~avshooter.errors.InputError`.
    """
    if (not isinstance(name, str) or not name.strip() or name in (".", "..") or "/" in name or "\\" in name
            or "\x00" in name or Path(name).drive):
        inside = f" inside {os.fspath(root)}" if root is not None else ""
        raise InputError(f"{where}: id {name!r} is not a folder name{inside}")
    return name
