"""The annotate pipeline: video (+ story) -> per-shot audio, stems, speech, annotation, records on disk.

This is the one module that knows the order of the steps (STYLE: data flows one way):

1. probe the file, read the story (or plan to detect shots);
2. decode the audio ONCE (and, without a story, the video frames in the same pass for cut detection);
3. per shot: cut the audio to the sample, find speech (VAD), separate into stems, measure, type,
   describe, link to the caption, write the stems and a per-shot done-marker;
4. write ``story.json`` (paper format + one ``"avshooter"`` object per shot and per story).

Everything beneath takes and returns arrays or records. :func:`annotate` runs one video to the end and
returns its story dict; :func:`iter_annotate` yields one record per shot as it goes.
"""
from __future__ import annotations

import logging
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterator

import numpy as np

from .. import __version__
from ..config import AnnotateConfig, config_hash
from ..engine import blas_threads, default_threads, ordered_threads, yield_cpu
from ..errors import MediaError, ShotError
from ..io.output import atomic_write_json, ensure_dir, write_audio
from ..io.records import STEMS
from ..units import format_mmss, span_samples
from .resume import DONE_MARKER, finished_story, fingerprint, is_finished, read_marker, resume_key, video_id_for

log = logging.getLogger("avshooter")

__all__ = ["annotate", "iter_annotate", "video_id_for", "fingerprint", "is_finished"]

# A shot may end this far past the decoded audio (container rounding); it is then clamped, with a warning.
END_TOLERANCE_S = 0.05


def iter_annotate(
    video: str | os.PathLike,
    *,
    out_dir: str | os.PathLike,
    story: str | os.PathLike | dict | None = None,
    config: AnnotateConfig | None = None,
    video_id: str | None = None,
    segments: list[int] | None = None,
    lock=None,
) -> Iterator[dict]:
    """Annotate one video, yielding one shot record (paper shot dict + ``"avshooter"`` object) per shot.

    The generator form of :func:`annotate` (nothing happens until it is iterated). Files go to
    ``out_dir/<video_id>/``: ``audio/<shot>/{mix,dialogue,music,effects}.flac`` and, once every shot is
    done, ``story.json``. Shots already finished by an earlier run with the same resume key (input,
    story, segments, config, backends that run: :mod:`avshooter.annotation.resume`) are read back, not
    recomputed. Raises :class:`~avshooter.errors.AvshooterError` on bad input. A story in
    the released per-video layout (``avshooter.io.released``) also writes ``released.json``; ``segments``
    selects some of its segments (default all). ``lock``: the :class:`~avshooter.io.locks.VideoLock` held on
    the video; before each shot and the story are committed it is checked to be still ours (a run whose
    lock was taken over stops with :class:`~avshooter.errors.OutputError` and writes nothing more).
    """
    config = config or AnnotateConfig()
    run = _VideoRun(Path(video), Path(out_dir), story, config, video_id, segments, lock)
    yield from run.shots()


def annotate(
    video: str | os.PathLike,
    *,
    out_dir: str | os.PathLike,
    story: str | os.PathLike | dict | None = None,
    config: AnnotateConfig | None = None,
    video_id: str | None = None,
    segments: list[int] | None = None,
    lock=None,
) -> dict:
    """Annotate one video to the end; return the written story dict (also in ``out_dir/<video_id>/story.json``).

    Parameters as :func:`iter_annotate`, which yields the shot records as they are done.
    """
    config = config or AnnotateConfig()
    run = _VideoRun(Path(video), Path(out_dir), story, config, video_id, segments, lock)
    for _ in run.shots():
        pass
    return run.result


class _VideoRun:
    """State of one video's annotation (paths, config, the decoded audio)."""

    def __init__(self, video: Path, out_dir: Path, story, config: AnnotateConfig, video_id: str | None,
                 segments: list[int] | None = None, lock=None):
        self.segments = segments
        self.lock = lock
        self.key = ""  # the resume key (resume.py), set once the video is fingerprinted
        self.released = None  # the plan of a released-layout story (avshooter.io.released)
        self.video = video
        self.config = config
        self.video_id = video_id or video_id_for(video)
        self.root = out_dir / self.video_id
        self.story_src = story
        self.result: dict | None = None
        self.chash = config_hash(config)
        self._provenance_cache: dict | None = None

    # -- the steps, in order -------------------------------------------------------------------------
    def shots(self) -> Iterator[dict]:
        from ..media.probe import probe

        t_start = time.perf_counter()
        info = probe(self.video)
        if not info.has_audio:
            kinds = ("video" if info.has_video else "no")
            raise MediaError(f"{self.video}: no audio stream ({kinds} streams only); nothing to annotate")
        fp = fingerprint(self.video)
        self.key = resume_key(fp, self.story_src, self.segments, self.config)
        done = finished_story(self.root, self.key, self.story_src, self.segments)
        if done is not None:
            self.result = done
            yield from done["shots"]
            return
        story = self._load_story(info) if self.story_src is not None else None
        created = not self.root.exists()
        ensure_dir(self.root)
        try:
            yield from self._run(story, info, fp, t_start)
        except BaseException:
            if created:  # leave nothing behind for a video that failed before any shot was finished
                _remove_if_empty(self.root)
            raise

    def _run(self, story, info, fp: str, t_start: float) -> Iterator[dict]:
        from ..media.decode import decode
        from .shots import ANALYSIS_RATE

        for stale in self.root.glob("avshooter-*.f32"):  # decode caches of a killed earlier run
            stale.unlink(missing_ok=True)
        threads = self.config.shot_threads or default_threads()
        # one BLAS thread for the whole run when several threads run: the caption embedding (MiniLM, the
        # only large BLAS work before the shots) runs beside the decoder, the VAD and the ASR, and two
        # OpenBLAS threads that wait on each other on busy cores cost ~6x the CPU (3.6 -> 23-32 CPU s for
        # the 278 clauses of the 10-minute benchmark story at load ~9; the same embeddings: GEMM splits rows)
        with blas_threads(1 if threads > 1 else None), \
                ThreadPoolExecutor(max_workers=1, thread_name_prefix="avshooter-prepare") as side:
            # the models load and the captions are embedded while the audio decodes (the shot threads
            # then find nothing left to load)
            prepared = side.submit(self._prepare, story, info)
            # the audio, decoded once (the picture, when shots are to be detected, in a pass of its own
            # in _annotate_shots, while the ASR transcribes)
            # with the 16 kHz mono analysis track (VAD, ASR, shot detection) resampled once from the source
            # (not source -> sample_rate -> 16 kHz: a 16 kHz file reaches the ASR as it is, issue 20)
            decoded = decode(self.video, sample_rate=self.config.sample_rate, channels=self.config.channels,
                             workdir=self.root, mono_rate=ANALYSIS_RATE)
            yield from self._annotate_shots(story, info, fp, t_start, decoded, threads, prepared)

    def _annotate_shots(self, story, info, fp: str, t_start: float, decoded, threads: int,
                        prepared) -> Iterator[dict]:
        from .shots import ANALYSIS_RATE

        with decoded:
            mono16 = decoded.mono(ANALYSIS_RATE)
            if story is not None:
                self._check_story_fits(story, decoded)
            speech = self._speech(mono16)
            transcript = self._transcript(mono16, speech, threads)
            shot_records = []
            dropped = []
            try:
                if story is None:
                    story = self._detected_story(decoded, mono16, self._video_cuts(info, transcript))
                del mono16
                shots = list(story.shots)
                prepared.result()
                # the ASR on its side thread is the critical path (the shots wait for their words): the shot
                # threads take a core only when it leaves one (benchmarks/README.md, bench_annotate)
                behind_asr = transcript is not None and transcript.running
                work = ordered_threads(lambda shot: self._shot(shot, story, decoded, info, fp, speech, transcript),
                                       shots, threads=threads, initializer=yield_cpu if behind_asr else None)
                for shot, record in zip(shots, work):
                    drop = self._paper_filter_reason(record)
                    if drop:
                        dropped.append({"index": shot.index, "reason": drop})
                        continue
                    shot_records.append(record)
                    yield record
            finally:
                if transcript is not None:
                    transcript.close()  # speech after the last shot is not transcribed for nothing
            self.result = self._write_story(story, shot_records, dropped, info, decoded, fp, t_start)

    def _prepare(self, story, info) -> None:
        """Load the shot steps' models and embed every caption clause at once (``story`` None: detected
        shots, which have no captions: the source phrases only). Not the ASR: a CTranslate2 model built on
        this short-lived thread ran 1.5-6x slower afterwards (measured; it loads in :meth:`_transcript`).

        Shots then run on several threads with nothing left to load; it also turns one embedding call per
        shot into one per video. Output is the same as without it.
        """
        from .shot_audio import load_shot_backends

        load_shot_backends(self.config)
        if info.has_video and self.config.context == "minilm" and self.config.captioner == "features":
            from .context import prime

            prime([(shot.caption or "", shot.plot or "") for shot in (story.shots if story else [])])

    def _load_story(self, info):
        from ..errors import InputError
        from ..io.released import is_released
        from ..io.released_plan import plan_released
        from ..io.jsonfile import read_json
        from ..io.story import load_story

        data = self.story_src if isinstance(self.story_src, dict) else read_json(self.story_src)
        if is_released(data):
            self.released = plan_released(self.story_src, duration_s=info.duration_s, segments=self.segments)
            return self.released.story()
        if self.segments:
            raise InputError(f"{self.story_src}: --segments needs a story in the released per-video layout")
        return load_story(self.story_src, fps=info.fps, duration_s=None)

    def _check_story_fits(self, story, decoded) -> None:
        from ..io.story import check_story

        if self.released is not None:
            self.released.fit_to_audio(story, decoded.duration_s)
        check_story(story, duration_s=decoded.duration_s)

    def _speech(self, mono16: np.ndarray) -> list[tuple[float, float]]:
        """Speech ranges of the whole file (VAD runs once, with full context, not per shot)."""
        from ..audio.vad import speech_ranges

        return speech_ranges(mono16[None], 16000, threshold=self.config.vad_threshold)

    def _transcript(self, mono16: np.ndarray, speech: list[tuple[float, float]], threads: int):
        """ASR once over the file's speech (mix), sliced to the shots in :meth:`_shot`; None: per shot.

        Whisper's encoder costs a full 30 s window whatever the speech in it, so windows that span shots
        (one pass per ~30 s of speech) cost a fraction of one pass per shot. The dialogue stem exists per
        shot only: with ``asr_input: dialogue`` the ASR runs per shot. With several shot threads and a
        backend that transcribes window by window, the ASR runs on a side thread while the shots go on
        (each shot waits for its own part: :class:`~avshooter.annotation.transcript_feed.TranscriptFeed`).
        """
        if self.config.asr == "none" or self.config.asr_input != "mix" or not speech:
            return None
        from ..backends import load_backend
        from .transcript_feed import TranscriptFeed

        asr = load_backend("asr", self.config.asr, device=self.config.device, options=self.config.asr_options)
        progressive = getattr(asr, "transcribe_progressively", None)
        if threads > 1 and progressive is not None:
            return TranscriptFeed.background(lambda: progressive(mono16[None], 16000, speech=speech))
        return TranscriptFeed.whole(asr.transcribe(mono16[None], 16000, speech=speech))

    def _video_cuts(self, info, transcript) -> list[float]:
        """Hard cuts of the picture (none for an audio file): the picture pass of detected shots.

        It runs while the ASR transcribes on its side thread: then the decoder takes one thread (~20 %
        less CPU per frame than frame threads, and the ASR has the other core); alone, it takes every CPU.
        """
        if not info.has_video:
            return []
        from ..media.cuts import video_cuts
        from .shots import ShotParams

        beside_asr = transcript is not None and transcript.running
        cuts, _ = video_cuts(self.video, params=ShotParams().cut, threads=1 if beside_asr else 0)
        return cuts

    def _detected_story(self, decoded, mono16, cuts: list[float]):
        from .shots import ANALYSIS_RATE, ShotParams, detect_shots
        from ..io.story import story_from_shots

        params = ShotParams(min_shot_s=self.config.min_shot_s, max_shot_s=self.config.max_shot_s)
        found = detect_shots(cuts, mono16, ANALYSIS_RATE, decoded.duration_s, params=params)
        cuts, points, spans = found.cuts_s, found.audio_points_s, found.spans
        log.info("%s: %d cuts, %d audio change points -> %d shots", self.video, len(cuts), len(points), len(spans))
        story = story_from_shots(spans)
        story.avshooter["detection"] = {"video_cuts_s": [round(c, 3) for c in cuts],
                                        "audio_change_points_s": [round(p, 3) for p in points]}
        return story

    def _shot(self, shot, story, decoded, info, fp: str, speech: list[tuple[float, float]],
              transcript=None) -> dict:
        from ..backends.whisper_common import slice_transcript
        from .shot_audio import annotate_shot_audio

        sr = decoded.sample_rate
        end_s = min(shot.end_s, decoded.duration_s)
        if end_s < shot.end_s:
            log.warning("%s: shots[%d] ends %.3f s past the audio; clamped to %.3f s",
                        self.video, shot.index, shot.end_s - end_s, end_s)
        a, b = span_samples(shot.start_s, end_s, sr)
        if b <= a:
            raise ShotError(f"{self.video}: shots[{shot.index}] is empty at {sr} Hz")
        shot_dir = self.root / "audio" / f"{shot.index:04d}"
        marker = shot_dir / DONE_MARKER
        cached = read_marker(marker, self.key)
        if cached is not None and (cached["avshooter"].get("start_sample"),
                                   cached["avshooter"].get("end_sample")) != (a, b):
            cached = None  # the story changed this shot's span: redo it
        if cached is not None:
            return cached
        wav = decoded.read(a, b)
        t0, t1 = a / sr, b / sr
        shot_speech = [(max(s, t0) - t0, min(e, t1) - t0) for s, e in speech if e > t0 and s < t1]
        looks = {c.id: c.appearance or "" for c in story.characters}
        characters = [(cid, looks.get(cid, "")) for cid in shot.characters]
        result = annotate_shot_audio(
            wav, sr,
            speech=shot_speech,
            transcript=slice_transcript(transcript.upto(t1), t0, t1) if transcript is not None and shot_speech else None,
            caption=shot.caption or "", plot=shot.plot or "",
            characters=characters, has_video=info.has_video, config=self.config,
            frames=self._frames(shot, info),
            story_context={"storyline": story.storyline, "scene": shot.scene, "caption": shot.caption,
                           "plot": shot.plot, "characters": [{"ID": c, "appearance": d} for c, d in characters]},
        )
        audio_paths, clipped = {}, {}
        for name, stem in (("mix", wav), *((k, result.stems[k]) for k in STEMS)):
            rel = f"audio/{shot.index:04d}/{name}.{self.config.stem_format}"
            n_clipped = write_audio(self.root / rel, stem, sr, on_clip="clip")  # FLAC holds [-1, 1] only
            if n_clipped:
                clipped[name] = n_clipped
                log.warning("%s: shots[%d] %s: %d samples beyond [-1, 1] clipped in the FLAC (recorded)",
                            self.video, shot.index, name, n_clipped)
            audio_paths[name] = rel
        ext = {
            "index": shot.index,
            "start_s": a / sr, "end_s": b / sr, "start_sample": a, "end_sample": b, "sample_rate": sr,
            "channels": int(wav.shape[0]),
            "audio": audio_paths,
            "speech": [{"start_s": round(a / sr + s, 4), "end_s": round(a / sr + e, 4)} for s, e in result.speech],
            "speech_fraction": round(result.speech_fraction, 4),
            "transcript": result.transcript["text"] if result.transcript else None,
            "features": result.features,
            "type_scores": result.type_scores,
            "stems": result.stem_summary,
            "visual_context": result.context,
            "tags": result.tags,
            # layers present (most prominent first) and timed labels per stem, in video seconds
            "layers": [{**layer, "spans": [[round(t0 + x, 4), round(t0 + y, 4)] for x, y in layer["spans"]]}
                       for layer in result.layers],
            "labels": {stem: [{**lab, "start_s": round(t0 + lab["start_s"], 4), "end_s": round(t0 + lab["end_s"], 4)}
                              for lab in found] for stem, found in result.labels.items()},
            "flags": result.flags + (["clipped_in_flac"] if clipped else []),
            "clipped_samples": clipped,  # per audio file; a clipped stem no longer sums exactly to the mix
            "provenance": self._provenance(),
            "input_fingerprint": fp,
        }
        if result.transcript:
            ext["language"] = result.transcript.get("language")
            ext["language_prob"] = result.transcript.get("language_prob")  # None when the language was given
            # word times in video seconds, like the speech ranges
            ext["words"] = [{**w, "start_s": round(t0 + w["start_s"], 4), "end_s": round(t0 + w["end_s"], 4)}
                            for w in result.transcript.get("words", [])]
            ext["speakers"] = [cid for cid, _ in characters]  # dialogue attributed to the shot's characters
        shot.visual_form = "nested"  # we write the audio subset's form (plot/caption under "visual annotation")
        record = shot.to_dict()
        record["audio annotation"] = {
            "type": result.type, "sound description": result.description, "visual context": result.visual_context,
        }
        record.setdefault("start time", format_mmss(a / sr))
        record.setdefault("end time", format_mmss(b / sr))
        record["avshooter"] = {**record.get("avshooter", {}), **ext}
        self._check_lock()
        atomic_write_json(marker, record)
        return record

    def _frames(self, shot, info, count: int = 3) -> list:
        """A few pictures of the shot for a multimodal captioner (none for the offline one)."""
        if self.config.captioner == "features" or not info.has_video:
            return []
        from ..media.frames import frames_at

        step = (shot.end_s - shot.start_s) / count
        return frames_at(self.video, [shot.start_s + (i + 0.5) * step for i in range(count)])

    def _paper_filter_reason(self, record: dict) -> str | None:
        if not self.config.paper_filter:
            return None
        ext = record["avshooter"]
        limit = self.config.paper_filter_fraction
        if ext["speech_fraction"] >= limit:
            return f"prolonged speech ({ext['speech_fraction']:.0%} of the shot)"
        music_share = ext["stems"]["music"]["energy_share"]
        music = [layer for layer in ext.get("layers", []) if layer["type"] == "music"]
        if music:  # the music layer's measured time span (any type that names music: "music", "speech, music")
            cover = sum(b - a for a, b in music[0]["spans"]) / max(ext["end_s"] - ext["start_s"], 1e-9)
            if cover >= limit:
                return f"prolonged music (music heard over {min(cover, 1.0):.0%} of the shot)"
        elif music_share >= limit and "music" in [w.strip() for w in record["audio annotation"]["type"].split(",")]:
            return f"prolonged music (music stem holds {music_share:.0%} of the energy)"
        return None

    def _check_lock(self) -> None:
        """Stop before a commit when the video's lock is no longer ours (another run took it over)."""
        if self.lock is not None:
            self.lock.check()

    def _provenance(self) -> dict:
        if self._provenance_cache is None:  # the same for every shot of a run (shared, never changed)
            self._provenance_cache = self._build_provenance()
        return self._provenance_cache

    def _build_provenance(self) -> dict:
        from .shot_audio import backends_info, package_versions

        return {
            "avshooter": __version__,
            "backends": backends_info(self.config),
            "versions": {"avshooter": __version__, "python": sys.version.split()[0], **package_versions()},
            "params": self.config.to_dict(),
            "config_hash": self.chash,
            "resume_key": self.key,  # inputs + story + segments + config + backends that ran (resume.py)
        }

    def _write_story(self, story, records, dropped, info, decoded, fp, t_start) -> dict:
        out = story.to_dict()
        out["shots"] = records
        out["avshooter"] = {
            **out.get("avshooter", {}),
            "video": str(self.video),
            "video_id": self.video_id,
            "input_fingerprint": fp,
            "duration_s": decoded.duration_s,
            "sample_rate": decoded.sample_rate,
            "nonfinite_samples_zeroed": decoded.nonfinite_samples,  # NaN/inf in the file, replaced by 0
            "media": info.to_dict(),
            "shots_from": "story" if self.story_src is not None else "detected",
            "dropped_shots": dropped,
            "provenance": self._provenance(),
            "elapsed_s": round(time.perf_counter() - t_start, 3),
        }
        from ..io.schema import validate_record

        validate_record(out, source=str(self.root / "story.json"))
        self._check_lock()
        if self.released is not None:  # before story.json, which marks the video finished
            self.released.write(self.root, out)
        atomic_write_json(self.root / "story.json", out)
        return out


def _remove_if_empty(folder: Path) -> None:
    for sub in sorted(folder.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if sub.is_dir():
            try:
                sub.rmdir()
            except OSError:
                pass
    try:
        folder.rmdir()
    except OSError:
        pass
