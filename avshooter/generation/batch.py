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

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from ..batching import Summary, dead_worker, read_list, run_locked, unique_id
from ..config import GenerateConfig, config_hash
from ..engine import progress as progress_bar
from ..engine import run_local, run_ray
from ..errors import AvshooterError, InputError
from ..io.locks import DEFAULT_MAX_AGE_S
from ..io.output import clean_stages, ensure_dir
from ..io.paths import check_folder_name

log = logging.getLogger("avshooter")

STAGE_PREFIX = ".avshooter-generate-"
"""Prefix of :func:`avshooter.generation.pipeline.generate`'s staging folders."""

__all__ = ["StoryItem", "Summary", "generate_many", "is_finished", "read_story_list"]


@dataclass(frozen=True)
class StoryItem:
    """One story to generate: its JSON, its shot videos (folder or one video), optional edited prompts."""

    story: str
    videos: str
    prompts: str | None = None
    story_id: str | None = None


def read_story_list(path: str | os.PathLike) -> list[StoryItem]:
    """Read a manifest of stories (see the module docstring). Blank lines and ``#`` comments are skipped."""
    return _unique_ids(read_list(path, _parse_line, what="stories"))


def _parse_line(fields, base: Path, where: str) -> StoryItem:
    if isinstance(fields, dict):
        story, videos, prompts, sid = (fields.get(k) for k in ("story", "videos", "prompts", "id"))
        if not all(isinstance(v, str) for v in (story, videos)) \
                or not all(isinstance(v, (str, type(None))) for v in (prompts, sid)):
            raise InputError(f"{where}: a JSON line needs {{\"story\": path, \"videos\": path}}")
    else:
        if len(fields) not in (2, 3):
            raise InputError(f"{where}: expected 'STORY<TAB>VIDEOS' or 'STORY<TAB>VIDEOS<TAB>PROMPTS', "
                             f"got {len(fields)} field(s)")
        story, videos, prompts, sid = fields[0], fields[1], (fields[2] if len(fields) == 3 else None), None
    if sid is not None:
        check_folder_name(sid, where=where)  # a path from a manifest never leaves OUT: refused before any write
    return StoryItem(str(base / story), str(base / videos), str(base / prompts) if prompts else None, sid)


def _unique_ids(items: list[StoryItem]) -> list[StoryItem]:
    seen: set[str] = set()
    return [StoryItem(i.story, i.videos, i.prompts, unique_id(i.story_id, Path(i.story).stem, i.story, seen))
            for i in items]


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

    def work(lock) -> str:
        from .pipeline import generate

        if is_finished(item, out_dir, config):
            return "skipped"  # another run finished it while we waited
        if (Path(out_dir) / item.story_id).is_dir():  # under the story's lock: any staging folder is a dead run's
            clean_stages(Path(out_dir) / item.story_id, STAGE_PREFIX, held=True)
        generate(item.story, item.videos, out_dir=Path(out_dir) / item.story_id, config=config,
                 prompts=item.prompts, lock=lock)
        return "done"

    return run_locked(item.story_id, out_dir, work, debug=debug, lock_max_age_s=lock_max_age_s)


def _dead(item: StoryItem) -> tuple[str, str, str]:
    return dead_worker(item.story_id)


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
    items = _unique_ids(items)  # ids checked before anything is written
    out = ensure_dir(out_dir)
    summary = Summary()
    record = summary.record

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
        results = run_local(todo, _run_one, str(out), config, debug, lock_max_age_s, workers=workers,
                            on_dead=_dead)
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
