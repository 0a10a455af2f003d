"""A file's transcript as the shots read it: filled window by window on a side thread, or given whole.

The pipeline transcribes a file once (Whisper's windows span shots). With several shot threads the ASR
runs beside them: each shot waits only until the transcript is complete up to its own end, then takes
its slice; the words it gets are exactly those of the finished transcript (a window only holds speech
later than the windows before it). An ASR error reaches every shot that waits, as the error it was.
"""
from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterator

__all__ = ["TranscriptFeed"]


class TranscriptFeed:
    """The transcript so far, and how far it is complete; :meth:`upto` blocks until it reaches a time."""

    def __init__(self, transcript: dict | None = None):
        self._cond = threading.Condition()
        self._transcript = transcript
        self._complete_s = math.inf if transcript is not None else -math.inf
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._stop = False

    @classmethod
    def whole(cls, transcript: dict) -> "TranscriptFeed":
        """A feed that is complete from the start."""
        return cls(transcript)

    @classmethod
    def background(cls, windows: Callable[[], Iterator[tuple[float, dict]]]) -> "TranscriptFeed":
        """A feed filled on a daemon thread from ``windows()``'s ``(complete_before_s, transcript)`` pairs."""
        feed = cls()
        feed._thread = threading.Thread(target=feed._fill, args=(windows,), name="avshooter-asr", daemon=True)
        feed._thread.start()
        return feed

    def _fill(self, windows) -> None:
        try:
            for complete_s, transcript in windows():
                if self._stop:  # nobody will read further (the shots are done, or the run failed)
                    return
                with self._cond:
                    self._transcript, self._complete_s = transcript, complete_s
                    self._cond.notify_all()
            with self._cond:  # a generator that stops without its final yield is complete all the same
                self._complete_s = math.inf
                self._cond.notify_all()
        except BaseException as exc:  # noqa: BLE001 - handed to the shots that wait
            with self._cond:
                self._error = exc
                self._cond.notify_all()

    @property
    def running(self) -> bool:
        """True while the ASR thread is still transcribing (other work then shares the CPUs with it)."""
        with self._cond:
            return self._thread is not None and self._error is None and self._complete_s < math.inf

    def upto(self, end_s: float) -> dict | None:
        """The transcript once every word starting before ``end_s`` is in it (blocks until then)."""
        with self._cond:
            self._cond.wait_for(lambda: self._error is not None or self._complete_s >= end_s)
            if self._error is not None:
                raise self._error
            return self._transcript

    def result(self) -> dict | None:
        """The whole transcript (blocks until the ASR is done)."""
        return self.upto(math.inf)

    def close(self) -> None:
        """Stop filling after the window in progress (its thread then ends on its own)."""
        self._stop = True
