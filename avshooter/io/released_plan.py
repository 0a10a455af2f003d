"""Planning a released per-video file into shots: the time convention of each segment, the MM:SS
rounding policy, shots listed twice, and the released layout written back with the annotation.

The decisions are described in :mod:`avshooter.io.released` (and the README); this module applies them.
"""
from __future__ import annotations

import copy
import json
import logging
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError, ShotError
from .output import atomic_write_json
from .released import (
    RELEASED_FILE,
    ROUNDING_S,
    ReleasedVideo,
    Segment,
    load_released,
    released_key,
    validate_released,
)
from .story import EXT, Character, Scene, Shot, Story, check_story

log = logging.getLogger("avshooter")

__all__ = ["Plan", "SegmentPlan", "plan_released"]

_EPS = 1e-6



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
        data = self.to_released(result)
        validate_released(data, source=str(path))
        atomic_write_json(path, data)
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
            reason = ("both readings fit and neither meets more edges of the segment; read as relative "
                      "(the story was written for the clip)")
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
