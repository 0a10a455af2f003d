"""lhotse export: a CutSet of one cut per shot, with its RecordingSet and SupervisionSet, as JSONL.gz.

- Recording: the shot's mix file in the annotate output (referenced by absolute path, not copied), id
  = shot id, sample rate and length read from the file and checked against the record to the sample.
- Supervisions: one per speech range of the shot (times relative to the shot), with the words that fall
  in it as ``text`` and a ``"word"`` alignment (when the annotation has an ASR transcript), the shot's
  ``language``, and ``speaker`` when exactly one character is attributed to the shot's dialogue.
- Cut: the whole shot; its stems are ``Recording`` custom fields (``cut.load_dialogue()``,
  ``cut.load_music()``, ``cut.load_effects()``), and ``cut.custom`` also holds the paper's
  ``"audio annotation"``, the video id, the shot's start in the video (``start_s``) and its extension.

Files: ``DEST/cuts.jsonl.gz``, ``DEST/recordings.jsonl.gz``, ``DEST/supervisions.jsonl.gz`` (and the
per-shard cut files in ``DEST/shards/`` that a re-run reuses).

>>> from lhotse import CutSet
>>> cuts = CutSet.from_file("dest/cuts.jsonl.gz")
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from ..errors import BackendError, OutputError
from ..io.records import ShotRecord
from .shards import AUDIO_NAMES, DEFAULT_SHARD_SIZE, audio_files, run_shards

__all__ = ["export_lhotse", "shot_cut"]


def _recording(rec_id: str, path: Path):
    """A lhotse Recording of one audio file, from its header (what ``Recording.from_file`` finds, without
    trying lhotse's audio backends in turn)."""
    import soundfile as sf
    from lhotse import AudioSource, Recording

    info = sf.info(str(path))
    return Recording(id=rec_id, sources=[AudioSource(type="file", channels=list(range(info.channels)),
                                                     source=str(path.resolve()))],
                     sampling_rate=info.samplerate, num_samples=info.frames, duration=info.frames / info.samplerate)


def _speaker(record: ShotRecord) -> str | None:
    speakers = record.custom.get("speakers") or []
    return speakers[0] if len(speakers) == 1 else None


def _supervisions(record: ShotRecord, channel):
    """One supervision per speech range, with the words whose middle falls in it."""
    from lhotse import SupervisionSegment
    from lhotse.supervision import AlignmentItem

    t0, dur = record.start_s, record.duration_s
    words = [w for w in record.custom.get("words") or [] if isinstance(w, dict) and "word" in w]
    spans = [(max(0.0, s["start_s"] - t0), min(dur, s["end_s"] - t0)) for s in record.speech]
    spans = [(a, b) for a, b in spans if b > a]
    transcript = record.custom.get("transcript")
    if not spans and (words or transcript):  # ASR heard speech that VAD did not mark: one range over it
        spans = [(max(0.0, words[0]["start_s"] - t0), min(dur, words[-1]["end_s"] - t0))] if words else [(0.0, dur)]
    owner = []
    for w in words:  # each word to the range holding its middle, else the nearest one
        mid = (w["start_s"] + w["end_s"]) / 2 - t0
        owner.append(min(range(len(spans)), key=lambda k: 0.0 if spans[k][0] <= mid <= spans[k][1]
                         else min(abs(mid - spans[k][0]), abs(mid - spans[k][1]))))
    out = []
    for k, (a, b) in enumerate(spans):
        mine = [w for w, o in zip(words, owner) if o == k]
        if words:
            text = " ".join(w["word"].strip() for w in mine) or None
        else:  # a transcript without word times belongs to the shot, not to one range
            text = transcript if len(spans) == 1 else None
        alignment = ({"word": [AlignmentItem(symbol=w["word"].strip(), start=round(w["start_s"] - t0, 4),
                                             duration=round(w["end_s"] - w["start_s"], 4)) for w in mine]}
                     if mine else None)
        out.append(SupervisionSegment(
            id=f"{record.id}-{k:03d}", recording_id=record.id, start=round(a, 4), duration=round(b - a, 4),
            channel=channel, text=text, language=record.custom.get("language"), speaker=_speaker(record),
            alignment=alignment, custom=None if words or len(spans) == 1 or not transcript
            else {"shot_transcript": transcript}))
    return out


def shot_cut(record: ShotRecord, root: str | os.PathLike):
    """The lhotse cut of one shot (mix recording, stems as custom recordings, speech supervisions)."""
    files = audio_files(record, root)
    recording = _recording(record.id, files["mix"])
    cut = recording.to_cut()  # MonoCut for mono, MultiCut for stereo; whole recording
    channel = cut.channel
    cut.supervisions = _supervisions(record, channel)
    custom = {name: _recording(f"{record.id}-{name}", files[name]) for name in AUDIO_NAMES[1:] if name in files}
    custom.update({"video_id": record.video_id, "shot": record.index, "start_s": record.start_s,
                   "end_s": record.end_s, "start_sample": record.start_sample, "end_sample": record.end_sample,
                   "audio annotation": dict(record.annotation), "caption": record.caption, "plot": record.plot,
                   "main characters": list(record.characters), "scene": record.scene,
                   "story": record.story, "video": record.video, "avshooter": dict(record.custom)})
    cut.custom = custom
    return cut


def _write_shard(root: Path, records: list[ShotRecord], path: Path) -> None:
    from lhotse import CutSet

    # lhotse picks the format from the suffix: write under a .jsonl.gz name, then move to ``path``
    tmp = path.with_name(path.name + ".jsonl.gz")
    CutSet.from_cuts(shot_cut(r, root) for r in records).to_file(tmp)
    os.replace(tmp, path)


def _combine(dest: Path, shard_names: list[str]) -> None:
    from lhotse import CutSet, RecordingSet, SupervisionSet

    tmp_cuts = dest / ".tmp-cuts.jsonl.gz"
    with open(tmp_cuts, "wb") as out:  # gzip members concatenate into one valid gzip stream
        for name in shard_names:
            with open(dest / name, "rb") as f:
                shutil.copyfileobj(f, out)
    tmp_rec, tmp_sup = dest / ".tmp-recordings.jsonl.gz", dest / ".tmp-supervisions.jsonl.gz"
    with RecordingSet.open_writer(tmp_rec) as rw, SupervisionSet.open_writer(tmp_sup) as sw:
        for cut in CutSet.from_jsonl_lazy(tmp_cuts):
            rw.write(cut.recording)
            for sup in cut.supervisions:
                sw.write(sup)  # cuts start at 0 of their recording: times are already recording times
    for tmp, name in ((tmp_rec, "recordings"), (tmp_sup, "supervisions"), (tmp_cuts, "cuts")):
        os.replace(tmp, dest / f"{name}.jsonl.gz")


def export_lhotse(root: str | os.PathLike, dest: str | os.PathLike, *, shard_size: int = DEFAULT_SHARD_SIZE,
                  progress: bool = True) -> dict:
    """Write ``dest/{cuts,recordings,supervisions}.jsonl.gz`` from the annotate output ``root``."""
    try:
        import lhotse  # noqa: F401
    except ImportError:
        raise BackendError("export --format lhotse needs the 'lhotse' package: pip install 'avshooter[export]'") from None
    root, dest = Path(root), Path(dest)
    summary = run_shards(root, dest, fmt="lhotse", shard_size=shard_size,
                         shard_name=lambda i: f"shards/cuts-{i:05d}.jsonl.gz",
                         write=lambda records, tmp: _write_shard(root, records, tmp), progress=progress)
    try:
        _combine(dest, list(summary["shards"]))
    except OSError as exc:
        raise OutputError(f"{dest}: cannot write the lhotse manifests ({exc.strerror or exc})") from None
    finally:
        for leftover in dest.glob(".tmp-*.jsonl.gz"):
            leftover.unlink()
    return summary
