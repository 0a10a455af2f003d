"""Error types of avshooter.

Every error we raise on bad input is an :class:`AvshooterError`: the CLI prints its message as one line
on stderr and exits non-zero. Messages name the bad value, where it was found and what is allowed.
"""
from __future__ import annotations


class AvshooterError(Exception):
    """Base class of every error avshooter raises on purpose."""


class InputError(AvshooterError, ValueError):
    """A bad argument or option (value out of range, unknown name, ...); also a :class:`ValueError`, as
    errors about values are (``except ValueError`` catches it, like librosa's ``ParameterError``)."""


class StoryError(AvshooterError):
    """A story JSON that is malformed or inconsistent (names the key and the shot)."""


class MediaError(AvshooterError):
    """A media file that cannot be read: missing, empty, truncated, corrupt, no audio stream..."""


class ShotError(AvshooterError):
    """Shot times that do not fit the media (outside it, overlapping, unsorted, zero length)."""


class OutputError(AvshooterError):
    """The output location cannot be written (read-only, not a folder, ...)."""


class BackendError(AvshooterError):
    """A model backend failed or is missing (names the ``pip install`` that fixes a missing extra)."""


def system_error(exc: OSError, *, doing: str | None = None) -> str:
    """One line telling an error of the system as such, e.g. ``system error: no space left on device
    while writing out/a/story.json`` (not an "internal error OSError")."""
    what = (exc.strerror or str(exc) or type(exc).__name__).strip()
    what = what[:1].lower() + what[1:]
    where = doing or (f"on {exc.filename}" if getattr(exc, "filename", None) else "")
    return f"system error: {what}{' while ' + where if doing else (' ' + where if where else '')}"


def format_chain(exc: BaseException) -> str:
    """The traceback of ``exc`` with every exception before it, also those it was raised ``from None`` over.

    Our errors are raised ``from None`` so that a user sees one line; Python keeps the cause in
    ``__context__`` all the same, and ``--debug`` is for seeing it (the CLI prints this; a batch worker
    can put it in an item's reason).
    """
    import traceback

    seen, link = set(), exc
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        link.__suppress_context__ = False
        link = link.__cause__ or link.__context__
    return "".join(traceback.format_exception(exc))
