"""The one HTTP client of avshooter: JSON over POST with retries, and the secret-handling rules.

Every remote call (MLLM captioners, the LLM prompt writer) goes through :func:`post_json`. urllib only (no
new dependency). HTTP 429/500/502/503/504, time-outs and dropped connections are retried with
exponential backoff and jitter, honouring ``Retry-After`` (capped at ``max_backoff_s``); any other 4xx
fails at once. Errors are one line; API keys come from the environment (:func:`read_key`), are never
logged, and are scrubbed (:func:`scrub`) from any server text we quote.
"""
from __future__ import annotations

import json
import logging
import os
import random
import time
import urllib.error
import urllib.request
from email.utils import parsedate_to_datetime

from ..errors import BackendError

__all__ = ["RETRY_STATUS", "post_json", "read_key", "scrub"]

log = logging.getLogger(__name__)

RETRY_STATUS = frozenset({429, 500, 502, 503, 504})


def read_key(names: tuple[str, ...]) -> str | None:
    """The first non-empty environment variable of ``names`` (the value is never logged)."""
    for var in names:
        value = os.environ.get(var, "").strip()
        if value:
            return value
    return None


def scrub(text: str, secret: str | None) -> str:
    """``text`` on one line, at most 300 characters, with ``secret`` replaced by ``***``."""
    if secret:
        text = text.replace(secret, "***")
    text = " ".join(str(text).split())
    return text if len(text) <= 300 else text[:297] + "..."


def _retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (a number of seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError, IndexError):
        return None


def post_json(url: str, body: dict, headers: dict, *, name: str, timeout_s: float, max_retries: int,
              backoff_s: float = 1.0, max_backoff_s: float = 30.0, secret: str | None = None, key_hint: str = "the API key's environment variable") -> dict:
    """POST ``body`` as JSON and return the JSON reply, retrying transient faults.

    Retried (up to ``max_retries`` times): HTTP 429/500/502/503/504, time-outs and dropped or refused
    connections; the wait is ``backoff_s * 2**k`` (capped at ``max_backoff_s``) times a jitter in
    [0.5, 1], or the server's ``Retry-After`` (capped at ``max_backoff_s``) when it sent one. Any other
    HTTP error fails at once. ``key_hint`` names the key's environment variable in 401/403 errors.
    """
    data = json.dumps(body).encode("utf-8")
    hdrs = {"Content-Type": "application/json", "Accept": "application/json", **headers}
    last = ""
    for attempt in range(max_retries + 1):
        wait_hint = None
        try:
            req = urllib.request.Request(url, data=data, headers=hdrs, method="POST")
            with urllib.request.urlopen(req, timeout=timeout_s) as resp:
                raw = resp.read()
            try:
                return json.loads(raw)
            except ValueError:
                raise BackendError(f"{name}: {url} answered HTTP 200 with a body that is not JSON: "
                                   f"{scrub(raw.decode('utf-8', 'replace'), secret)}") from None
        except urllib.error.HTTPError as exc:
            detail = scrub(_error_text(exc), secret)
            if exc.code in (401, 403):
                raise BackendError(f"{name}: {url} refused the request (HTTP {exc.code}): check the API "
                                   f"key in {key_hint}: {detail}") from None
            if exc.code not in RETRY_STATUS:
                raise BackendError(f"{name}: {url} answered HTTP {exc.code}: {detail}") from None
            last = f"HTTP {exc.code}: {detail}"
            wait_hint = _retry_after(exc.headers.get("Retry-After") if exc.headers else None)
        except TimeoutError:
            last = f"no answer within {timeout_s} s"
        except urllib.error.URLError as exc:
            reason = exc.reason
            last = (f"no answer within {timeout_s} s" if isinstance(reason, TimeoutError)
                    else f"connection failed: {scrub(str(reason), secret)}")
        except (ConnectionError, OSError) as exc:  # reset / remote disconnected mid-answer
            last = f"connection failed: {scrub(type(exc).__name__ + ' ' + str(exc), secret)}"
        if attempt == max_retries:
            break
        delay = min(max_backoff_s, backoff_s * 2 ** attempt) * (0.5 + 0.5 * random.random())
        if wait_hint is not None:
            delay = min(max_backoff_s, wait_hint)
        log.warning("%s: %s; retry %d of %d in %.2f s", name, last, attempt + 1, max_retries, delay)
        time.sleep(delay)
    raise BackendError(f"{name}: {url} failed after {max_retries + 1} attempt(s): {last}")


def _error_text(exc: urllib.error.HTTPError) -> str:
    try:
        raw = exc.read().decode("utf-8", "replace")
    except Exception:  # noqa: BLE001 - the body is only for the message
        return exc.reason or ""
    try:
        obj = json.loads(raw)
        err = obj.get("error", obj) if isinstance(obj, dict) else obj
        if isinstance(err, dict):
            return str(err.get("message") or err)
        return str(err)
    except ValueError:
        return raw or (exc.reason or "")
