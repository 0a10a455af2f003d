"""Batch annotate: a manifest of many videos, local worker processes, resumable, one summary at the end.

The list reader, the id rule, the locked run of one item and the summary are shared with the generate
batch (:mod:`avshooter.batching`). One bad video is reported and skipped; the rest go on. Finished videos are skipped on a re-run (their
``story.json`` carries the input fingerprint and config hash), and finished shots of an interrupted video
are not redone (:mod:`avshooter.annotation.resume`: a changed story, segment selection, config or backend
redoes the video). ``OUT/manifest.jsonl`` gets one line per shot, written by the main process of each run
from the video's records (a redone video's lines are replaced).

Several runs may share one output folder (a re-run started twice, workers on a cluster): each video is
annotated under a lock (``OUT/.locks/<video_id>.lock``, :class:`avshooter.io.locks.VideoLock`); a video
locked by a live run is reported as "skipped: locked by pid N" and left to it, a stale lock is taken over.
The manifest writer re-reads and appends under an exclusive file lock, so no shot is listed twice.

``--dataset ANNOTATIONS_DIR --videos VIDEOS_DIR`` (:func:`dataset_items`) annotates a whole release: one
released per-video JSON each, matched to a video file by its "video ID"; missing videos are listed in the
summary and do not stop the batch.
"""
from __future__ import annotations

import dataclasses
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from ..batching import Summary, dead_worker, read_list, run_locked, unique_id
from ..config import AnnotateConfig
from ..engine import progress as progress_bar
from ..engine import default_threads, run_local, run_ray
from ..errors import AvshooterError, InputError
from ..io.locks import DEFAULT_MAX_AGE_S
from ..io.paths import check_folder_name
from ..io.output import ManifestWriter, ensure_dir

log = logging.getLogger("avshooter")

__all__ = ["Item", "Summary", "read_video_list", "annotate_many", "manifest_records", "dataset_items",
           "annotate_dataset", "VIDEO_EXTENSIONS"]

VIDEO_EXTENSIONS = (".mp4", ".mkv", ".webm", ".mov", ".m4v", ".avi", ".flv", ".ts", ".mpg", ".mpeg", ".wmv",
                    ".3gp", ".ogv")
"""Extensions a video of a release may have (first listed wins when one ID has several files)."""


@dataclass(frozen=True)
class Item:
    """One video to annotate (and its story JSON, if any)."""

    video: str
    story: str | None = None
    video_id: str | None = None
    segments: tuple[int, ...] | None = None
    """With a released per-video story: the segments to annotate (default all)."""


def read_video_list(path: str | os.PathLike) -> list[Item]:
    """Read a manifest of videos: one per line, ``VIDEO`` or ``VIDEO<TAB>STORY``, or JSON lines
    ``{"video": ..., "story": ..., "id": ...}``. Blank lines and ``#`` comments are skipped; relative
    paths are relative to the manifest's folder. An ``id`` must name one folder inside OUT.
    """
    return _unique_ids(read_list(path, _parse_line, what="videos"))


def _parse_line(fields, base: Path, where: str) -> Item:
    if isinstance(fields, dict):
        video, story, vid = fields.get("video"), fields.get("story"), fields.get("id")
        if not isinstance(video, str) or not isinstance(story, (str, type(None))) \
                or not isinstance(vid, (str, type(None))):
            raise InputError(f"{where}: a JSON line needs at least {{\"video\": path}} (story and id: strings)")
    else:
        if len(fields) > 2:
            raise InputError(f"{where}: expected 'VIDEO' or 'VIDEO<TAB>STORY', got {len(fields)} fields")
        video, story, vid = fields[0], (fields[1] if len(fields) == 2 else None), None
    if vid is not None:
        check_folder_name(vid, where=where)  # a path from a manifest never leaves OUT: refused before any write
    return Item(str(base / video), str(base / story) if story else None, vid)


def _unique_ids(items: list[Item]) -> list[Item]:
    from .resume import video_id_for

    seen: set[str] = set()
    return [Item(i.video, i.story, unique_id(i.video_id, video_id_for(i.video), i.video, seen), i.segments)
            for i in items]


def _run_one(item: Item, out_dir: str, config: AnnotateConfig, debug: bool,
             lock_max_age_s: float = DEFAULT_MAX_AGE_S) -> tuple[str, str, str | None]:
    """Worker: annotate one video under its lock. Returns ``(video_id, status, reason)``; never raises."""

    def work(lock) -> str:
        from .pipeline import annotate
        from .resume import is_finished

        segments = list(item.segments) if item.segments else None
        if is_finished(item.video, out_dir=out_dir, config=config, video_id=item.video_id, story=item.story,
                       segments=segments):
            return "skipped"  # another run finished it while we waited
        annotate(item.video, out_dir=out_dir, story=item.story, config=config, video_id=item.video_id,
                 segments=segments, lock=lock)
        return "done"

    return run_locked(item.video_id, out_dir, work, debug=debug, lock_max_age_s=lock_max_age_s)


def _dead(item: Item) -> tuple[str, str, str]:
    return dead_worker(item.video_id)


def manifest_records(out_dir: Path, video_id: str) -> list[dict]:
    """Manifest lines of a finished video (:meth:`ShotRecord.to_dict` without ``custom``; paths relative
    to ``out_dir``). The full record is read back with :func:`avshooter.io.dataset.iter_shots`."""
    from ..io.dataset import shot_records

    return [{k: v for k, v in r.to_dict().items() if k != "custom"} for r in shot_records(out_dir, video_id)]


def annotate_many(
    items: list[Item],
    *,
    out_dir: str | os.PathLike,
    config: AnnotateConfig | None = None,
    workers: int = 1,
    progress: bool = True,
    debug: bool = False,
    engine: str = "local",
    ray_address: str | None = None,
    lock_max_age_s: float = DEFAULT_MAX_AGE_S,
) -> Summary:
    """Annotate ``items``; write ``out_dir/manifest.jsonl``; return a summary.

    ``engine="local"`` runs ``workers`` processes on this machine. ``engine="ray"`` hands the videos to
    Ray Data (a local Ray with ``workers`` CPUs, or the cluster at ``ray_address`` / ``RAY_ADDRESS``): each
    task gets paths, never audio, and writes its video's folder under ``out_dir`` (a shared file system on
    a cluster); this process alone writes the manifest, so resuming works the same way.

    A video is annotated under its lock; one whose lock a live run holds (not refreshed for less than
    ``lock_max_age_s``) is reported in ``summary.locked`` and not touched.
    """
    from .resume import is_finished

    config = config or AnnotateConfig()
    if workers < 1:
        raise InputError(f"workers must be >= 1, got {workers}")
    if engine not in ("local", "ray"):
        raise InputError(f"engine must be 'local' or 'ray', got {engine!r}")
    if not lock_max_age_s > 0:
        raise InputError(f"lock max age must be > 0 seconds, got {lock_max_age_s!r}")
    if config.shot_threads == 0 and (workers > 1 or engine == "ray"):
        # each worker process (a Ray task has one CPU) gets its share of the CPUs for its video's shots
        share = 1 if engine == "ray" else max(1, default_threads(limit=64) // workers)
        config = dataclasses.replace(config, shot_threads=min(share, 4))
    items = _unique_ids(items)  # ids checked before anything is written
    out = ensure_dir(out_dir)
    writer = ManifestWriter(out / "manifest.jsonl")
    summary = Summary(shots=0)

    def record(video_id: str, status: str, reason: str | None) -> None:
        summary.record(video_id, status, reason)
        if status in ("done", "skipped"):  # its lines, as its records now say (replaced when redone)
            writer.write_video(video_id, manifest_records(out, video_id))

    todo = []
    for item in items:
        try:
            finished = is_finished(item.video, out_dir=out, config=config, video_id=item.video_id,
                                   story=item.story, segments=list(item.segments) if item.segments else None)
        except AvshooterError as exc:
            record(item.video_id, "failed", str(exc))
            continue
        if finished:
            record(item.video_id, "skipped", None)
        else:
            todo.append(item)

    bar = progress_bar(len(items), progress, unit="video", desc="annotate")
    bar.update(len(items) - len(todo))
    if engine == "ray":
        rows = [{"video": i.video, "story": i.story or "", "video_id": i.video_id,
                 "segments": ",".join(map(str, i.segments or ()))} for i in todo]
        gpus = 1 if config.device.startswith("cuda") else 0  # one GPU per task; models load once per worker
        results = (tuple(r[k] or None for k in ("video_id", "status", "reason"))
                   for r in run_ray(rows, _RayRow(str(out), config, debug, lock_max_age_s), workers=workers,
                                    gpus=gpus, address=ray_address))
    else:
        results = run_local(todo, _run_one, str(out), config, debug, lock_max_age_s, workers=workers,
                            on_dead=_dead)
    for video_id, status, reason in results:
        record(video_id, status, reason)
        bar.update(1)
    bar.close()
    summary.shots = len(writer.refresh())  # other runs may have appended too
    return summary


class _RayRow:
    """One Ray Data row (paths and names, never audio) -> ``_run_one``; picklable for the workers."""

    def __init__(self, out: str, config: AnnotateConfig, debug: bool, lock_max_age_s: float):
        self.out, self.config, self.debug, self.lock_max_age_s = out, config, debug, lock_max_age_s

    def __call__(self, row: dict) -> dict:
        segments = tuple(int(k) for k in row["segments"].split(",")) if row["segments"] else None
        video_id, status, reason = _run_one(Item(row["video"], row["story"] or None, row["video_id"], segments),
                                            self.out, self.config, self.debug, self.lock_max_age_s)
        return {"video_id": video_id, "status": status, "reason": reason or ""}


def dataset_items(annotations_dir: str | os.PathLike, videos_dir: str | os.PathLike, *,
                  segments: list[int] | None = None) -> tuple[list[Item], list[tuple[str, str]], list[tuple[str, str]]]:
    """Pair every released per-video JSON under ``annotations_dir`` with its video under ``videos_dir``.

    A video matches when its file name is the "video ID" plus one of :data:`VIDEO_EXTENSIONS` (any case,
    in any subfolder). Returns ``(items, missing, bad)``: ``missing`` lists ``(video ID, reason)`` for files
    whose video is not there, ``bad`` lists ``(file, reason)`` for annotation files that cannot be read.
    """
    from ..io.released import load_released
    from .resume import video_id_for

    ann, vids = Path(annotations_dir), Path(videos_dir)
    for folder, what in ((ann, "annotations"), (vids, "videos")):
        if not folder.is_dir():
            raise InputError(f"{folder}: {what} folder not found")
    found: dict[str, Path] = {}
    rank = {ext: i for i, ext in enumerate(VIDEO_EXTENSIONS)}
    for path in sorted(vids.rglob("*")):
        ext = path.suffix.lower()
        if ext in rank and path.is_file():
            best = found.get(path.stem)
            if best is None or rank[ext] < rank[best.suffix.lower()]:
                found[path.stem] = path
    files = sorted(ann.rglob("*.json"))
    if not files:
        raise InputError(f"{ann}: no .json annotation files found")
    items, missing, bad, seen = [], [], [], {}
    for path in files:
        try:
            released = load_released(path)
        except AvshooterError as exc:
            bad.append((str(path), str(exc)))
            continue
        vid = released.video_id
        if vid in seen:
            bad.append((str(path), f"video ID {vid!r} is also in {seen[vid]}"))
            continue
        seen[vid] = path
        video = found.get(vid)
        if video is None:
            missing.append((vid, f"no {vid}.{{{','.join(e[1:] for e in VIDEO_EXTENSIONS[:4])},...}} in {vids} "
                                 f"(annotations: {path})"))
            continue
        items.append(Item(str(video), str(path), video_id_for(video), tuple(segments) if segments else None))
    return items, missing, bad


def annotate_dataset(annotations_dir: str | os.PathLike, videos_dir: str | os.PathLike, *,
                     out_dir: str | os.PathLike, segments: list[int] | None = None, **kwargs) -> Summary:
    """Annotate a whole release (see :func:`dataset_items`); keyword arguments go to :func:`annotate_many`."""
    items, missing, bad = dataset_items(annotations_dir, videos_dir, segments=segments)
    summary = annotate_many(items, out_dir=out_dir, **kwargs) if items else Summary(shots=0)
    summary.missing += missing
    summary.failed += bad
    return summary
