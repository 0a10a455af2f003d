"""HTML reports of what annotate and generate wrote, to look and listen before training.

``report(path)`` finds what ``path`` is: an annotate output (one page per video, read through
:mod:`avshooter.io.dataset`) or a generate output (one page for the story, from ``generate.json``), and
writes the pages plus ``index.html`` into ``dest`` (default ``path/report``). Pages are plain HTML with
inline CSS and no JavaScript; images are PNG files beside them (matplotlib, Agg); audio players point at
the output's own files by relative path (nothing copied), so keep the report inside, or next to, the output.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

from ..errors import InputError
from ..io.output import atomic_write_text, ensure_dir

__all__ = ["report"]

log = logging.getLogger(__name__)


def _kind(path: Path) -> str:
    if (path / "generate.json").is_file():
        return "generate"
    if (path / "manifest.jsonl").is_file() or any(path.glob("*/story.json")):
        return "annotate"
    raise InputError(f"{path}: neither an annotate output (manifest.jsonl, <video>/story.json) "
                     "nor a generate output (generate.json)")


def _index(dest: Path, kind: str, source: Path, entries: list[tuple[Path, dict]]) -> Path:
    from .html import esc, fmt, link, page, rel, table

    if kind == "annotate":
        rows = [[link(rel(p, dest), s["name"]), str(s["shots"]), fmt(s["duration_s"], 2),
                 esc(", ".join(f"{k} {v}" for k, v in sorted(s["types"].items()))), fmt(s["median_lufs"], 1)]
                for p, s in entries]
        body = table(["video", "shots", "duration (s)", "types", "median shot LUFS"], rows)
    else:
        rows = [[link(rel(p, dest), s["name"]), str(s["shots"]), fmt(s["duration_s"], 2),
                 fmt(s["integrated_lufs"], 1), fmt(s["true_peak_dbtp"], 1)] for p, s in entries]
        body = table(["page", "shots", "duration (s)", "LUFS", "true peak dBTP"], rows)
    path = dest / "index.html"
    atomic_write_text(path, page(f"avshooter report: {source.name}",
                                 f"<h1>avshooter report: {esc(source.name)} ({kind})</h1>{body}"))
    return path


def report(path: str | os.PathLike, *, dest: str | os.PathLike | None = None, progress: bool = True) -> list[Path]:
    """Write the report of an annotate or generate output; return ``[index.html, page, ...]``.

    Parameters
    ----------
    path : the ``--out`` folder of ``avshooter annotate`` or ``avshooter generate``
    dest : folder of the pages (default ``path/report``)
    progress : a progress bar over the videos
    """
    path = Path(path)
    if not path.is_dir():
        raise InputError(f"{path}: not a folder (give the --out folder of 'avshooter annotate' or 'generate')")
    kind = _kind(path)
    dest = ensure_dir(Path(dest) if dest is not None else path / "report")
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise InputError("report needs matplotlib: pip install 'avshooter[report]'") from None
    entries = []
    if kind == "generate":
        from .generate_page import write_generate_page

        entries.append(write_generate_page(path, dest))
    else:
        from tqdm import tqdm

        from ..io.dataset import video_ids
        from .annotate_page import write_video_page

        ids = video_ids(path)
        if not ids:
            raise InputError(f"{path}: no annotated videos")
        bases = [Path.cwd(), path, path.parent]  # records keep the video path as annotate was given it
        for vid in tqdm(ids, unit="video", desc="report", disable=not progress):
            entries.append(write_video_page(path, vid, dest, bases=bases))
    return [_index(dest, kind, path, entries), *(p for p, _ in entries)]
