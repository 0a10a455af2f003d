"""The report page of one annotated video (read through :mod:`avshooter.io.dataset`).

A strip of one frame per shot, then per shot: the paper's three fields and the picture side, the
transcript, speech ranges, labels with times, tags, loudness of the mix and stems, and a spectrogram with
an audio player (the annotate file itself, by relative path) for the mix and each stem.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from ..errors import AvshooterError
from ..io.dataset import read_story, shot_records
from ..io.output import atomic_write_text, ensure_dir
from ..io.records import STEMS, ShotRecord
from ..units import format_mmss
from . import images
from .html import audio, esc, fmt, img, page, rel, table

__all__ = ["write_video_page"]

log = logging.getLogger(__name__)
AUDIO_NAMES = ("mix", *STEMS)


def _frames_at():
    from ..media.frames import frames_at  # imports PyAV: only when a page is made

    return frames_at


def find_video(video: str, bases: list[Path]) -> Path | None:
    """The video file a record names: absolute, or relative to one of ``bases`` (first that exists)."""
    if not video:
        return None
    p = Path(video)
    for cand in ([p] if p.is_absolute() else [b / p for b in bases]):
        if cand.is_file():
            return cand
    return None


def _strip(records: list[ShotRecord], video: Path | None, folder: Path, page_dir: Path) -> str:
    if video is None:
        return '<p class="muted">Frame strip: the video file is not found (its path in the record is relative to ' \
               'where annotate ran; run the report from there).</p>'
    mids = [(r.start_s + r.end_s) / 2 for r in records]
    try:
        frames = _frames_at()(video, mids, max_side=320)
    except AvshooterError as exc:
        return f'<p class="muted">Frame strip: {esc(exc)}</p>'
    cells = []
    for r, frame in zip(records, frames):
        path = folder / f"frame_{r.index:04d}.png"
        images.frame_png(frame, path)
        cells.append(f"<figure>{img(rel(path, page_dir), f'shot {r.index} frame')}"
                     f"<figcaption>shot {r.index} · {format_mmss(r.start_s)}</figcaption></figure>")
    return f'<div class="strip">{"".join(cells)}</div>'


def _labels(r: ShotRecord) -> str:
    labels = r.custom.get("labels") or []
    if isinstance(labels, dict):  # {stem: [label, ...]}
        labels = [{**x, "stem": stem} for stem, xs in labels.items() for x in xs or [] if isinstance(x, dict)]
    labels = [*labels, *(r.custom.get("events") or [])]
    parts = []
    if labels:
        rows = [[esc(x.get("label")), esc(x.get("stem", "")), esc(x.get("layer", "")), fmt(x.get("start_s"), 2),
                 fmt(x.get("end_s"), 2), fmt(x.get("score"), 2)] for x in labels if isinstance(x, dict)]
        parts.append(table(["label", "stem", "layer", "start (s)", "end (s)", "score"], rows))
    tags = [t for t in r.custom.get("tags") or [] if isinstance(t, dict)]
    if tags:
        parts.append("<p>tags: " + ", ".join(f"{esc(t.get('label'))} ({fmt(t.get('score'), 2)})" for t in tags) + "</p>")
    return "".join(parts) or '<p class="muted">no labels</p>'


def _transcript(r: ShotRecord) -> str:
    text = r.custom.get("transcript")
    speech = ", ".join(f"{fmt(s['start_s'], 2)}–{fmt(s['end_s'], 2)}" for s in r.speech) or "none"
    out = f"<p>speech (video s): {speech}</p>"
    if text:
        lang = r.custom.get("language")
        out += f"<p>transcript{f' ({esc(lang)})' if lang else ''}: “{esc(text)}”</p>"
        words = [w for w in r.custom.get("words") or [] if isinstance(w, dict)]
        if words:
            out += '<p class="muted">' + " ".join(f"{esc(w.get('word'))}<sub>{fmt(w.get('start_s'), 2)}</sub>"
                                                  for w in words) + "</p>"
    else:
        out += '<p class="muted">no transcript</p>'
    return out


def _shot(root: Path, r: ShotRecord, folder: Path, page_dir: Path) -> str:
    import soundfile as sf

    paper = [["type", esc(r.annotation.get("type"))], ["sound description", esc(r.annotation.get("sound description"))],
             ["visual context", esc(r.annotation.get("visual context"))], ["plot", esc(r.plot)],
             ["caption", esc(r.caption)], ["characters", esc(", ".join(r.characters))], ["scene", esc(r.scene)]]
    feats = r.custom.get("features") or {}
    loud = [[esc(n), fmt((feats.get(n) or {}).get("integrated_lufs"), 1), fmt((feats.get(n) or {}).get("true_peak_dbtp"), 1),
             fmt((feats.get(n) or {}).get("sample_peak_dbfs"), 1), fmt((r.custom.get("stems") or {}).get(n, {}).get("energy_share"), 3)]
            for n in AUDIO_NAMES]
    stems = []
    for name in AUDIO_NAMES:
        rel_audio = r.audio.get(name)
        path = root / rel_audio if isinstance(rel_audio, str) else None
        if path is None or not path.is_file():
            stems.append(f'<div class="stem"><b>{esc(name)}</b> <span class="muted">no file</span></div>')
            continue
        wav, sr = sf.read(str(path), dtype="float32", always_2d=True)
        png = folder / f"spec_{r.index:04d}_{name}.png"
        images.spectrogram_png(wav.T, sr, png, title=f"{name}", t0=r.start_s,
                               spans=[(s["start_s"], s["end_s"]) for s in r.speech] if name in ("mix", "dialogue") else ())
        stems.append(f'<div class="stem"><b style="width:5em">{esc(name)}</b>'
                     f'{img(rel(png, page_dir), f"spectrogram of the {name} of shot {r.index}")}{audio(rel(path, page_dir))}</div>')
    flags = ", ".join(map(str, r.custom.get("flags") or []))
    return (f'<section class="shot" id="shot-{r.index}"><h2>shot {r.index} · {esc(format_mmss(r.start_s))}–'
            f'{esc(format_mmss(r.end_s))} ({r.start_s:.3f}–{r.end_s:.3f} s, samples {r.start_sample}–{r.end_sample} '
            f'at {r.sample_rate} Hz)</h2>'
            f'<h3>audio annotation</h3>{table(["field", "value"], paper, cls="paper")}'
            f'<h3>speech</h3>{_transcript(r)}<h3>labels</h3>{_labels(r)}'
            f'<h3>loudness</h3>{table(["audio", "LUFS", "true peak dBTP", "sample peak dBFS", "energy share"], loud)}'
            + (f"<p>flags: {esc(flags)}</p>" if flags else "")
            + f'<h3>spectrograms and audio</h3>{"".join(stems)}</section>')


def write_video_page(root: str | Path, video_id: str, dest: str | Path, *, bases: list[Path]) -> tuple[Path, dict]:
    """Write ``dest/<video_id>.html`` (+ its images in ``dest/<video_id>/``); return the page and a summary."""
    root, dest = Path(root), Path(dest)
    story = read_story(root, video_id)
    records = shot_records(root, video_id, story=story)
    folder = ensure_dir(dest / video_id)
    page_path = dest / f"{video_id}.html"
    video = find_video(records[0].video if records else story["avshooter"].get("video", ""), bases)
    ext = story.get("avshooter") or {}
    types = {}
    for r in records:
        types[r.type] = types.get(r.type, 0) + 1
    head = (f"<h1>{esc(video_id)}</h1><p>{esc(story.get('storyline', ''))}</p>"
            f"<p>video: {esc(ext.get('video'))} · {len(records)} shots · {fmt(ext.get('duration_s'), 2)} s · "
            f"types: {esc(', '.join(f'{k} {v}' for k, v in sorted(types.items())))}</p>"
            f'<p><a href="index.html">index</a></p>')
    body = head + "<h2>shots</h2>" + _strip(records, video, folder, dest) + "".join(
        _shot(root, r, folder, dest) for r in records)
    atomic_write_text(page_path, page(f"avshooter report: {video_id}", body))
    lufs = [((r.custom.get("features") or {}).get("mix") or {}).get("integrated_lufs") for r in records]
    lufs = [v for v in lufs if v is not None]
    return page_path, {"name": video_id, "shots": len(records), "duration_s": ext.get("duration_s"), "types": types,
                       "median_lufs": float(np.median(lufs)) if lufs else None}
