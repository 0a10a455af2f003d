"""Batch generate: a manifest of many stories, local worker processes or Ray Data, resumable, one summary.

A manifest lists one story per line: ``STORY<TAB>VIDEOS`` (``VIDEOS``: the folder of its shot videos,
or one video cut by the story's times), optionally ``<TAB>PROMPTS`` (an edited ``prompts.json``), or JSON
lines ``{"story": ..., "videos": ..., "prompts": ..., "id": ...}``; relative paths are relative to the
manifest's folder. Each story is generated into ``OUT/<story_id>/`` (the story file's name without its
extension; made unique with a hash of its path when two share a name).

One bad story is reported and skipped; the rest go on. A story is finished when its ``generate.json``
(written last and atomically by :func:`avshooter.generation.pipeline.generate`) carries the same input
fingerprint and config hash: a re-run skips it; a crashed one left nothing half-written (generate
stages its files). Each story is generated under a lock (:class:`avshooter.io.locks.VideoLock`), so two
runs sharing one output folder never write the same story.

``engine="ray"``: each story is a row of a Ray Data dataset (paths only, never audio), mapped by a pool of
actors (``workers`` of them; one GPU each when ``device`` is ``cuda``) that load the text-to-audio model
once in their constructor and keep it for every story they get.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from ..config import GenerateConfig, config_hash
from ..engine import progress as progress_bar
from ..engine import run_local, run_ray
from ..errors import AvshooterError, InputError
from ..io.locks import DEFAULT_MAX_AGE_S, VideoLock
from ..io.output import ensure_dir

log = logging.getLogger("avshooter")

__all__ = ["StoryItem", "Summary", "generate_many", "is_finished", "read_story_list"]


@dataclass(frozen=True)
class StoryItem:
    """One story to generate: its JSON, its shot videos (folder or one video), optional edited prompts."""

    story: str
    videos: str
    prompts: str | None = None
    story_id: str | None = None


@dataclass
class Summary:
    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    locked: list[tuple[str, str]] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"done {len(self.done)}, skipped (already finished) {len(self.skipped)}, failed {len(self.failed)}"
               + (f", skipped (locked by another run) {len(self.locked)}" if self.locked else "")]
        out += [f"skipped {sid}: {reason}" for sid, reason in self.locked]
        out += [f"FAILED {sid}: {reason}" for sid, reason in self.failed]
        return out


def read_story_list(path: str | os.PathLike) -> list[StoryItem]:
    """Read a manifest of stories (see the module docstring). Blank lines and ``#`` comments are skipped."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{p}: manifest not found") from None
    except UnicodeDecodeError:
        raise InputError(f"{p}: manifest is not UTF-8 text") from None
    except OSError as exc:
        raise InputError(f"{p}: cannot read the manifest ({exc.strerror or exc})") from None
    base = p.parent
    items = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("{"):
            try:
                obj = json.loads(line)
                story, videos, prompts, sid = obj["story"], obj["videos"], obj.get("prompts"), obj.get("id")
                if not all(isinstance(v, str) for v in (story, videos)):
                    raise TypeError
            except (json.JSONDecodeError, KeyError, TypeError, AttributeError):
                raise InputError(f"{p}:{number}: a JSON line needs {{\"story\": path, \"videos\": path}}") from None
        else:
            parts = line.split("\t")
            if len(parts) not in (2, 3):
                raise InputError(f"{p}:{number}: expected 'STORY<TAB>VIDEOS' or 'STORY<TAB>VIDEOS<TAB>PROMPTS', "
                                 f"got {len(parts)} field(s)")
            story, videos, prompts, sid = parts[0], parts[1], (parts[2] if len(parts) == 3 else None), None
        items.append(StoryItem(str(base / story), str(base / videos), str(base / prompts) if prompts else None, sid))
    if not items:
        raise InputError(f"{p}: manifest lists no stories")
    return _unique_ids(items)


def _unique_ids(items: list[StoryItem]) -> list[StoryItem]:
    seen: set[str] = set()
    out = []
    for item in items:
        sid = item.story_id or Path(item.story).stem
        if not sid or sid in (".", "..") or "/" in sid or "\\" in sid:
            raise InputError(f"story id {sid!r} is not a folder name")
        if sid in seen:
            sid = f"{sid}-{hashlib.sha1(os.path.abspath(item.story).encode()).hexdigest()[:6]}"
        seen.add(sid)
        out.append(StoryItem(item.story, item.videos, item.prompts, sid))
    return out


def is_finished(item: StoryItem, out_dir: str | os.PathLike, config: GenerateConfig) -> bool:
    """Whether ``OUT/<story_id>/generate.json`` was made from these inputs with this config."""
    from .pipeline import input_fingerprint

    report_path = Path(out_dir) / item.story_id / "generate.json"
    if not report_path.is_file():
        return False
    try:
        report = json.loads(report_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (report.get("input_fingerprint") == input_fingerprint(item.story, item.videos, item.prompts)
            and (report.get("provenance") or {}).get("config_hash") == config_hash(config))


def _run_one(item: StoryItem, out_dir: str, config: GenerateConfig, debug: bool,
             lock_max_age_s: float = DEFAULT_MAX_AGE_S) -> tuple[str, str, str | None]:
    """Worker: generate one story under its lock. Returns ``(story_id, status, reason)``; never raises."""
    from .pipeline import generate

    try:
        lock = VideoLock(out_dir, item.story_id, max_age_s=lock_max_age_s)
        if not lock.acquire():
            return item.story_id, "locked", lock.describe()
        with lock:
            generate(item.story, item.videos, out_dir=Path(out_dir) / item.story_id, config=config,
                     prompts=item.prompts)
        return item.story_id, "done", None
    except AvshooterError as exc:
        return item.story_id, "failed", str(exc)
    except OSError as exc:
        return item.story_id, "failed", f"{exc.filename or out_dir}: {exc.strerror or exc}"
    except Exception as exc:  # a bug, not bad input: keep the batch going, say what happened
        reason = f"internal error {type(exc).__name__}: {exc}"
        if debug:
            reason += "\n" + traceback.format_exc()
        return item.story_id, "failed", reason


def _warm(config: GenerateConfig) -> None:
    """Load the text-to-audio backend in this process (kept by the registry for every later story)."""
    from .pipeline import _load_tta

    _load_tta(config)


def generate_many(
    items: list[StoryItem],
    *,
    out_dir: str | os.PathLike,
    config: GenerateConfig | None = None,
    workers: int = 1,
    progress: bool = True,
    debug: bool = False,
    engine: str = "local",
    ray_address: str | None = None,
    lock_max_age_s: float = DEFAULT_MAX_AGE_S,
) -> Summary:
    """Generate every story of ``items`` into ``out_dir/<story_id>/``; return a summary.

    ``engine="local"`` runs ``workers`` processes on this machine (each loads the model once);
    ``engine="ray"`` hands the stories to Ray Data (a local Ray with ``workers`` CPUs, or the cluster at
    ``ray_address`` / ``RAY_ADDRESS``; outputs on a file system every node sees).
    """
    config = config or GenerateConfig()
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise InputError(f"workers must be an integer >= 1, got {workers!r}")
    if engine not in ("local", "ray"):
        raise InputError(f"engine must be 'local' or 'ray', got {engine!r}")
    out = ensure_dir(out_dir)
    items = _unique_ids(items)
    summary = Summary()

    def record(story_id: str, status: str, reason: str | None) -> None:
        if status == "failed":
            summary.failed.append((story_id, reason or "unknown"))
            log.info("%s failed: %s", story_id, reason)  # the CLI prints failures once, in its summary
        elif status == "locked":
            summary.locked.append((story_id, reason or "locked"))
        else:
            (summary.done if status == "done" else summary.skipped).append(story_id)

    todo = []
    for item in items:
        try:
            finished = is_finished(item, out, config)
        except AvshooterError as exc:
            record(item.story_id, "failed", str(exc))
            continue
        except OSError as exc:
            record(item.story_id, "failed", f"{exc.filename}: {exc.strerror or exc}")
            continue
        if finished:
            record(item.story_id, "skipped", None)
        else:
            todo.append(item)

    bar = progress_bar(len(items), progress, unit="story", desc="generate")
    bar.update(len(items) - len(todo))
    if engine == "ray":
        rows = [{"story": i.story, "videos": i.videos, "prompts": i.prompts or "", "story_id": i.story_id}
                for i in todo]
        gpus = 1 if config.device.startswith("cuda") else 0  # one GPU per actor; the model loads once per actor
        results = (tuple(r[k] or None for k in ("story_id", "status", "reason"))
                   for r in run_ray(rows, _RayGenerator, workers=workers, gpus=gpus, address=ray_address,
                                    constructor_kwargs={"out": str(out), "config": config, "debug": debug,
                                                        "lock_max_age_s": lock_max_age_s}))
    else:
        results = run_local(todo, _run_one, str(out), config, debug, lock_max_age_s, workers=workers)
    for story_id, status, reason in results:
        record(story_id, status, reason)
        bar.update(1)
    bar.close()
    return summary


class _RayGenerator:
    """A Ray Data actor: loads the text-to-audio model once, then generates every story row it is given."""

    def __init__(self, out: str, config: GenerateConfig, debug: bool, lock_max_age_s: float):
        self.out, self.config, self.debug, self.lock_max_age_s = out, config, debug, lock_max_age_s
        self.load_error = None
        try:
            _warm(config)
        except AvshooterError as exc:  # reported per story, like any other failure
            self.load_error = str(exc)

    def __call__(self, row: dict) -> dict:
        if self.load_error:
            return {"story_id": row["story_id"], "status": "failed", "reason": self.load_error}
        item = StoryItem(row["story"], row["videos"], row["prompts"] or None, row["story_id"])
        story_id, status, reason = _run_one(item, self.out, self.config, self.debug, self.lock_max_age_s)
        return {"story_id": story_id, "status": status, "reason": reason or ""}
