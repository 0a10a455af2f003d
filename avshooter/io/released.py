"""The layout AnimeShooter is released in: one JSON per video, read, planned into shots, written back.

A released file::

    {"video ID": str, "url": str, "fps": number,
     "segments": [{"start frame index": int, "end frame index": int,
                   "story script": {"storyline": ..., "main characters": [...], "main scenes": [...],
                                    "shots": [{"start time": "MM:SS", "end time": "MM:SS",
                                               "visual annotation": {"narrative caption": str,
                                                                     "descriptive caption": str}, ...}]}}]}

Decisions (documented in the README; every one is recorded in the output):

- **Time convention, per segment.** A segment's shot times may be relative to the segment's clip or
  absolute in the video. The frame range over ``fps`` gives the segment's span; the reading that puts
  every shot inside that span (1 s for the "MM:SS" resolution + one frame of tolerance) and inside the
  video wins. When both fit and the segment starts within that tolerance of 0 they agree ("both", read
  as relative). When both fit otherwise, the reading that puts more of the segment's two edges on a
  shot boundary wins (a tie is read as relative, with a warning). When neither fits: :class:`ShotError`. Recorded as the segment's ``"avshooter"`` object.
- **Rounding.** "MM:SS" strings are whole seconds. A shot that sticks out of its segment, or past the
  end of the video, by up to the tolerance is clamped to it; a zero-length "MM:SS" shot covers its
  second; neighbouring shots that overlap by up to 1 s, or (within one segment) leave a gap of up to
  1 s, meet at the midpoint. A longer overlap is a :class:`ShotError`; a longer gap is kept. Per shot
  ``avshooter.released`` keeps the original strings, the seconds they were read as, and every
  adjustment; ``avshooter.start_s/end_s`` are the exact seconds used.
- **Duplicates.** A shot listed in two segments (same absolute times and same visual annotation, e.g.
  overlapping segments) is annotated once, as its first listing among the annotated segments; every
  listing in the output carries the same "audio annotation" and audio paths, and later listings name
  the first one in ``avshooter.released.same_as``.
- **Shot ids.** A shot's index is its position in the file, counted over all segments in file order, so
  it does not change with ``--segments``.
- **Output.** ``<out>/<video_id>/released.json`` (:data:`RELEASED_FILE`): the input's layout with only
  the annotated segments, each shot with its "audio annotation" and "avshooter" object, each segment
  with its "avshooter" object, next to ``story.json`` (whose relative audio paths it shares).
"""
from __future__ import annotations

import copy
import hashlib
import json
import logging
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError, ShotError, StoryError
from .output import atomic_write_json
from .schema import validate_input
from .story import EXT, Character, Scene, Shot, Story, check_story

__all__ = ["RELEASED_FILE", "ReleasedVideo", "Segment", "Plan", "is_released", "load_released", "save_released",
           "plan_released", "parse_segments", "released_key", "ROUNDING_S"]

log = logging.getLogger("avshooter")

RELEASED_FILE = "released.json"
ROUNDING_S = 1.0
"""Resolution of "MM:SS" times: the most a neighbouring pair may overlap, or a gap be closed."""
_EPS = 1e-6


def _type_name(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number" if isinstance(value, (int, float)) else type(value).__name__)


def _need(data: dict, key: str, kind, what: str, where: str):
    if key not in data:
        raise StoryError(f"{where}: missing key {key!r}")
    value = data[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise StoryError(f"{where}.{key}: expected {what}, got {_type_name(value)}")
    return value


@dataclass
class Segment:
    """One story clip of a released file; ``data`` is the segment object as read (kept for writing back)."""

    index: int
    start_frame: int
    end_frame: int
    data: dict[str, Any]

    @property
    def script(self) -> dict[str, Any]:
        return self.data["story script"]

    @property
    def shots(self) -> list:
        return self.script["shots"]


@dataclass
class ReleasedVideo:
    """A released per-video file. ``data`` is the whole object as read; :meth:`to_dict` gives it back."""

    video_id: str
    fps: float
    url: str | None
    segments: list[Segment]
    data: dict[str, Any] = field(repr=False)
    source: str | None = field(default=None, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return copy.deepcopy(self.data)

    @classmethod
    def from_dict(cls, data: Any, *, source: str | None = None) -> ReleasedVideo:
        where = source or "released file"
        if not is_released(data):
            raise StoryError(f"{where}: not a released per-video file (needs 'video ID', 'fps' and 'segments')")
        video_id = _need(data, "video ID", str, "a string", where)
        if not video_id.strip():
            raise StoryError(f"{where}.video ID: must not be empty")
        fps = float(_need(data, "fps", (int, float), "a number", where))
        if not math.isfinite(fps) or fps <= 0:
            raise StoryError(f"{where}.fps: {data['fps']!r} must be a positive number of frames per second")
        url = data.get("url")
        if url is not None and not isinstance(url, str):
            raise StoryError(f"{where}.url: expected a string, got {_type_name(url)}")
        items = _need(data, "segments", list, "a list of segments", where)
        if not items:
            raise StoryError(f"{where}.segments: empty list (a released file needs at least one segment)")
        segments = []
        for k, item in enumerate(items):
            at = f"{where}: segments[{k}]"
            if not isinstance(item, dict):
                raise StoryError(f"{at}: expected an object, got {_type_name(item)}")
            first = _need(item, "start frame index", int, "an integer frame index", at)
            last = _need(item, "end frame index", int, "an integer frame index", at)
            if first < 0 or last <= first:
                raise StoryError(f"{at}: frame range {first}..{last} is empty or negative")
            script = _need(item, "story script", dict, "a story object", at)
            validate_input(_without_ext(script), source=f"{at}.story script")  # the story schema, our messages
            segments.append(Segment(k, first, last, item))
        return cls(video_id, fps, url, segments, data, source)


def _without_ext(script: dict) -> dict:
    """The story script without avshooter's objects (an earlier output read back as input)."""
    out = {k: v for k, v in script.items() if k != EXT}
    if isinstance(out.get("shots"), list):
        out["shots"] = [{k: v for k, v in s.items() if k != EXT} if isinstance(s, dict) else s for s in out["shots"]]
    return out


def is_released(data: Any) -> bool:
    """True for a released per-video object (``"segments"`` at the top, no top-level ``"shots"``)."""
    return isinstance(data, dict) and "segments" in data and "shots" not in data


def _read(source: str | os.PathLike | dict) -> tuple[Any, str | None]:
    if isinstance(source, dict):
        return source, None
    from .story import _read_json  # the one JSON reader of story files: same messages everywhere

    return _read_json(os.fspath(source)), os.fspath(source)


def load_released(source: str | os.PathLike | dict) -> ReleasedVideo:
    """Read and check a released per-video file (or its parsed object). Raises StoryError naming the key."""
    data, path = _read(source)
    return ReleasedVideo.from_dict(data, source=path)


def save_released(video: ReleasedVideo | dict, path: str | os.PathLike) -> Path:
    """Write a released file as UTF-8 JSON (indent 2, non-ASCII kept), atomically; ``load`` + ``save`` is exact."""
    data = video.to_dict() if isinstance(video, ReleasedVideo) else video
    atomic_write_json(path, data)
    return Path(path)


def released_key(story: str | os.PathLike | dict | None, segments: list[int] | None) -> str | None:
    """Content key of a released story source and a segment selection; None for any other story."""
    if story is None:
        return None
    data, _ = _read(story)
    if not is_released(data):
        return None
    blob = json.dumps([data, sorted(set(segments)) if segments else None], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def parse_segments(text: str) -> list[int]:
    """``"0,2"`` or ``"1-3,5"`` -> sorted unique segment indices. Raises InputError."""
    out: set[int] = set()
    for part in str(text).split(","):
        part = part.strip()
        try:
            if "-" in part:
                a, b = (int(x) for x in part.split("-", 1))
                if b < a:
                    raise ValueError
                out.update(range(a, b + 1))
            else:
                out.add(int(part))
        except ValueError:
            raise InputError(f"--segments {text!r}: use indices and ranges like '0,2' or '1-3' (from 0)") from None
    if not out or min(out) < 0:
        raise InputError(f"--segments {text!r}: use indices and ranges like '0,2' or '1-3' (from 0)")
    return sorted(out)


# --------------------------------------------------------------------------------------------- planning


@dataclass
class SegmentPlan:
    """How one segment's shot times were read."""

    index: int
    start_s: float
    end_s: float
    times: str  # "relative", "absolute" or "both"
    offset_s: float
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "start_s": round(self.start_s, 6), "end_s": round(self.end_s, 6),
                "times": self.times, "offset_s": round(self.offset_s, 6), "reason": self.reason}


@dataclass
class _Entry:
    segment: int
    shot: int
    position: int
    shot_obj: Shot
    parsed: tuple[float, float]
    start_s: float
    end_s: float
    adjustments: list[dict] = field(default_factory=list)
    listed_in: list[tuple[int, int]] = field(default_factory=list)

    def adjust(self, edge: str, value: float, why: str) -> None:
        old = self.start_s if edge == "start" else self.end_s
        if abs(value - old) <= _EPS:
            return
        self.adjustments.append({"edge": edge, "by_s": round(value - old, 6), "why": why})
        if edge == "start":
            self.start_s = value
        else:
            self.end_s = value


@dataclass
class Plan:
    """The shots to annotate for a released file: one per distinct shot, absolute seconds, sorted."""

    video: ReleasedVideo
    selected: list[int]
    segments: list[SegmentPlan]
    entries: list[_Entry]
    key: str

    def story(self) -> Story:
        """A plain :class:`Story` of the planned shots (exact video seconds, index = position in the file)."""
        characters: dict[str, Character] = {}
        scenes: dict[str, Scene] = {}
        lines = []
        for k in self.selected:
            script = self.video.segments[k].script
            for item in script.get("main characters", []):
                c = Character.from_dict(item)
                characters.setdefault(c.id, c)
            for item in script.get("main scenes", []):
                s = Scene.from_dict(item)
                scenes.setdefault(s.id, s)
            line = script.get("storyline")
            if isinstance(line, str) and line and line not in lines:
                lines.append(line)
        shots = []
        for e in self.entries:
            src = e.shot_obj
            shots.append(Shot(
                index=e.position, start_s=e.start_s, end_s=e.end_s, characters=list(src.characters),
                scene=src.scene, visual=dict(src.visual), visual_form="nested",
                prologue_or_epilogue=src.prologue_or_epilogue, extra=dict(src.extra),
                avshooter={"start_s": e.start_s, "end_s": e.end_s, "released": self._shot_info(e)}))
        story = Story(shots=shots, storyline="\n\n".join(lines), characters=list(characters.values()),
                      scenes=list(scenes.values()), source=self.video.source)
        story.avshooter["released"] = self.summary()
        check_story(story)
        return story

    def _shot_info(self, e: _Entry) -> dict[str, Any]:
        raw = self.video.segments[e.segment].shots[e.shot]
        return {"segment": e.segment, "shot": e.shot, "start time": raw["start time"], "end time": raw["end time"],
                "parsed_s": [round(e.parsed[0], 6), round(e.parsed[1], 6)], "adjustments": e.adjustments,
                "listed_in": [list(x) for x in e.listed_in]}

    def summary(self) -> dict[str, Any]:
        return {"file": RELEASED_FILE, "video ID": self.video.video_id, "segments": list(self.selected),
                "key": self.key, "rounding_s": ROUNDING_S}

    def fit_to_audio(self, story: Story, duration_s: float) -> None:
        """Clamp shot ends that pass the decoded audio by up to the rounding tolerance (recorded)."""
        tol = ROUNDING_S + 1.0 / self.video.fps
        for shot in story.shots:
            over = shot.end_s - duration_s
            if _EPS < over <= tol and shot.start_s < duration_s:
                shot.avshooter["released"]["adjustments"].append(
                    {"edge": "end", "by_s": round(-over, 6), "why": "clamped to the end of the audio"})
                shot.retime(shot.start_s, duration_s)

    def to_released(self, result: dict[str, Any]) -> dict[str, Any]:
        """The released layout of the annotated segments, from the written ``story.json`` object."""
        by_index = {rec[EXT]["index"]: rec for rec in result["shots"]}
        dropped = {d["index"]: d["reason"] for d in result.get(EXT, {}).get("dropped_shots", [])}
        canon = {}
        for e in self.entries:
            for listing in e.listed_in:
                canon[listing] = e
        segments = []
        for sp in self.segments:
            seg = copy.deepcopy(self.video.segments[sp.index].data)
            for j, shot in enumerate(seg["story script"]["shots"]):
                e = canon[(sp.index, j)]
                rec = by_index.get(e.position)
                info = {**self._shot_info(e), "segment": sp.index, "shot": j,
                        "start time": shot["start time"], "end time": shot["end time"]}
                if (sp.index, j) != e.listed_in[0]:
                    info["same_as"] = {"segment": e.listed_in[0][0], "shot": e.listed_in[0][1]}
                if rec is None:
                    shot.pop("audio annotation", None)
                    ext = {"index": e.position, "start_s": e.start_s, "end_s": e.end_s,
                           "dropped": dropped.get(e.position, "not annotated")}
                else:
                    shot["audio annotation"] = copy.deepcopy(rec["audio annotation"])
                    ext = copy.deepcopy(rec[EXT])
                ext["released"] = info
                shot[EXT] = ext
            seg[EXT] = sp.to_dict()
            segments.append(seg)
        out = {k: (segments if k == "segments" else copy.deepcopy(v)) for k, v in self.video.data.items()}
        story_ext = result.get(EXT, {})
        out[EXT] = {"video": story_ext.get("video"), "video_id": story_ext.get("video_id"), "story": "story.json",
                    "duration_s": story_ext.get("duration_s"), "segments": list(self.selected), "key": self.key,
                    "times": "per segment: see segments[].avshooter", "rounding_s": ROUNDING_S,
                    "duplicates": "annotated once; later listings point at the first (avshooter.released.same_as)",
                    "provenance": story_ext.get("provenance")}
        return out

    def write(self, folder: str | os.PathLike, result: dict[str, Any]) -> Path:
        """Write ``folder/released.json`` atomically; return its path."""
        path = Path(folder) / RELEASED_FILE
        atomic_write_json(path, self.to_released(result))
        return path


def plan_released(
    source: str | os.PathLike | dict | ReleasedVideo,
    *,
    duration_s: float | None = None,
    segments: list[int] | None = None,
) -> Plan:
    """Decide each selected segment's time convention and the exact seconds of every distinct shot.

    Parameters
    ----------
    source : path, dict or ReleasedVideo
    duration_s : float, optional
        The video's length (evidence for the time convention; shots are clamped to it within tolerance).
    segments : list of int, optional
        Indices of the segments to annotate (default all).

    Raises
    ------
    StoryError, ShotError, InputError
        Malformed file; times that fit neither convention or overlap beyond the rounding; bad selection.
    """
    video = source if isinstance(source, ReleasedVideo) else load_released(source)
    count = len(video.segments)
    selected = sorted(set(segments)) if segments else list(range(count))
    bad = [k for k in selected if k >= count or k < 0]
    if bad:
        raise InputError(f"{video.source or video.video_id}: --segments {bad[0]} does not exist "
                         f"(the file has {count} segments, 0-{count - 1})")
    where = video.source or video.video_id
    positions, p = {}, 0
    for seg in video.segments:
        positions[seg.index] = p
        p += len(seg.shots)
    plans, entries = [], []
    for k in selected:
        sp, seg_entries = _plan_segment(video, video.segments[k], positions[k], duration_s, where)
        plans.append(sp)
        entries += seg_entries
    unique = _dedupe(entries)
    _meet_neighbours(unique, where)
    key = released_key(video.data, segments) or ""
    return Plan(video, selected, plans, unique, key)


def _plan_segment(video: ReleasedVideo, seg: Segment, position: int, duration_s: float | None, where: str):
    at = f"{where}: segments[{seg.index}]"
    fps = video.fps
    tol = ROUNDING_S + 1.0 / fps
    seg_start, seg_end = seg.start_frame / fps, seg.end_frame / fps
    if duration_s is not None and seg_start >= duration_s - _EPS:
        raise ShotError(f"{at}: starts at frame {seg.start_frame} ({seg_start:.3f} s) but the video lasts "
                        f"{duration_s:.3f} s")
    shots = []
    for j, raw in enumerate(seg.shots):
        clean = {k: v for k, v in raw.items() if k != EXT}  # our earlier exact seconds are not evidence
        shot = Shot.from_dict(clean, index=j, fps=fps, where=f"{at}.story script.shots[{j}]")
        start, end = shot.start_s, shot.end_s
        if end < start - _EPS:
            raise ShotError(f"{at}.story script.shots[{j}]: end {raw['end time']!r} is before start {raw['start time']!r}")
        if j and start < shots[-1][1] - _EPS:
            raise ShotError(f"{at}.story script.shots[{j}]: starts at {raw['start time']!r}, before shots[{j - 1}] "
                            f"starts ({seg.shots[j - 1]['start time']!r}); shots must be sorted")
        shots.append((shot, start, end))
    first, last = min(s for _, s, _ in shots), max(e for _, _, e in shots)
    seg_len = seg_end - seg_start
    limit = duration_s + tol if duration_s is not None else math.inf
    rel_ok = last <= seg_len + tol and seg_start + last <= limit
    abs_ok = first >= seg_start - tol and last <= seg_end + tol and last <= limit
    span = f"shots {seg.shots[0]['start time']!r}..{seg.shots[-1]['end time']!r}"
    if not (rel_ok or abs_ok):
        video_part = f"; the video lasts {duration_s:.3f} s" if duration_s is not None else ""
        raise ShotError(f"{at}: {span} fit neither relative to the segment (0-{seg_len:.3f} s) nor absolute in "
                        f"the video ({seg_start:.3f}-{seg_end:.3f} s, frames {seg.start_frame}-{seg.end_frame} at "
                        f"{fps:g} fps){video_part}")
    if rel_ok and abs_ok and seg_start <= tol:
        times, offset = "both", seg_start
        reason = f"the segment starts at {seg_start:.3f} s: both readings agree within the rounding (read as relative)"
    elif rel_ok and abs_ok:  # shots only in the overlap of both readings: which one meets the segment's edges?
        rel_edges = (abs(first) <= tol) + (abs(seg_len - last) <= tol)
        abs_edges = (abs(first - seg_start) <= tol) + (abs(seg_end - last) <= tol)
        times, offset = ("absolute", 0.0) if abs_edges > rel_edges else ("relative", seg_start)
        if abs_edges == rel_edges:
            reason = (f"both readings fit and neither meets more edges of the segment; read as relative "
                      f"(the story was written for the clip)")
            log.warning("%s: %s", at, reason)
        else:
            reason = (f"both readings fit; {times} puts {max(rel_edges, abs_edges)} of the segment's edges on a "
                      f"shot boundary, the other {min(rel_edges, abs_edges)}")
    elif rel_ok:
        times, offset = "relative", seg_start
        reason = f"{span} fit only inside the segment's clip (0-{seg_len:.3f} s)"
    else:
        times, offset = "absolute", 0.0
        reason = f"{span} fit only at the segment's place in the video ({seg_start:.3f}-{seg_end:.3f} s)"
    entries = []
    for j, (shot, start, end) in enumerate(shots):
        e = _Entry(seg.index, j, position + j, shot, (start + offset, end + offset), start + offset, end + offset,
                   listed_in=[(seg.index, j)])
        if end - start <= _EPS:
            if not _is_whole_seconds(seg.shots[j]["end time"]):
                raise ShotError(f"{at}.story script.shots[{j}]: zero length ({seg.shots[j]['start time']!r} .. "
                                f"{seg.shots[j]['end time']!r})")
            e.adjust("end", e.end_s + ROUNDING_S, "zero-length MM:SS span: covers its second")
        if e.start_s < seg_start:
            e.adjust("start", seg_start, "clamped to the segment's first frame")
        if e.end_s > seg_end:
            e.adjust("end", seg_end, "clamped to the segment's last frame")
        if duration_s is not None and e.end_s > duration_s:
            e.adjust("end", duration_s, "clamped to the end of the video")
        if e.end_s - e.start_s <= _EPS:
            raise ShotError(f"{at}.story script.shots[{j}]: lies outside the segment "
                            f"({seg.shots[j]['start time']!r} .. {seg.shots[j]['end time']!r}, read {times})")
        entries.append(e)
    return SegmentPlan(seg.index, seg_start, seg_end, times, offset, reason), entries


def _is_whole_seconds(value: Any) -> bool:
    if isinstance(value, str):
        text = value.strip()
        return ":" in text and "." not in text
    return False


def _dedupe(entries: list[_Entry]) -> list[_Entry]:
    """One entry per distinct shot (same absolute times and visual annotation), first listing kept."""
    seen: dict[tuple, _Entry] = {}
    unique = []
    for e in entries:
        shot = e.shot_obj
        key = (round(e.parsed[0], 3), round(e.parsed[1], 3),
               json.dumps(shot.visual, sort_keys=True, ensure_ascii=False), shot.scene, tuple(shot.characters))
        if key in seen:
            seen[key].listed_in.append((e.segment, e.shot))
            continue
        seen[key] = e
        unique.append(e)
    unique.sort(key=lambda e: (e.start_s, e.end_s, e.position))
    return unique


def _meet_neighbours(entries: list[_Entry], where: str) -> None:
    """Apply the rounding policy between neighbours; raise ShotError on a real overlap."""
    for a, b in zip(entries, entries[1:]):
        d = b.start_s - a.end_s
        name_a, name_b = (f"segments[{x.segment}].shots[{x.shot}]" for x in (a, b))
        if d < -(ROUNDING_S + _EPS):
            raise ShotError(f"{where}: {name_b} starts at {b.start_s:.3f} s, {-d:.3f} s before {name_a} ends "
                            f"({a.end_s:.3f} s): an overlap beyond the 1 s rounding of MM:SS times")
        if d < -_EPS or (_EPS < d <= ROUNDING_S + _EPS and a.segment == b.segment):
            mid = (a.end_s + b.start_s) / 2
            what = "overlap" if d < 0 else "gap"
            a.adjust("end", mid, f"{what} of {abs(d):.3f} s with {name_b}: met at the midpoint")
            b.adjust("start", mid, f"{what} of {abs(d):.3f} s with {name_a}: met at the midpoint")
    for e in entries:
        if e.end_s - e.start_s <= _EPS:
            raise ShotError(f"{where}: segments[{e.segment}].shots[{e.shot}] has no length left after meeting its "
                            f"neighbours at the midpoint ({e.start_s:.3f} s): the shots overlap beyond the rounding")
