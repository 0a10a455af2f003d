"""Build a long test video (and its story JSON) from the files in ``../shared/media``, for the benchmarks.

Picture (default, REALISTIC): 1280x720 H.264 (libx264 ``superfast``, CRF 23, so CABAC and deblocking
are on, as in real encodes) at 24 fps. Each shot plays one of the shared animation clips
(``media/video``: Big Buck Bunny, Caminandes) from a random point, scaled to 110% of 720p and panned
across the frame during the shot, so every frame moves and decoding costs what real animation costs.
Consecutive shots play different clips (hard cuts at the boundaries; the clips have cuts of their own
too). ``--cheap`` keeps the old picture for quick runs: 160x90 at 12 fps, one flat colour per shot
(LABELLED "cheap" in the file name and the story). Shots are 3-6 s long and start and end on frames.

Soundtrack (44.1 kHz stereo AAC): a bed of the shared music / effects recordings and the audio of the
shared videos (pieces of at most ``PIECE_S`` s, shuffled rounds), with the LibriSpeech readings laid over
it at random places so that about ``--speech-share`` (default 0.4) of the file is speech; under every
other reading the bed is ducked to a quiet level (dialogue over music), under the rest almost to silence.
The share is then MEASURED: silero VAD (``avshooter.audio.vad.speech_ranges``) over the whole written
file, decoded back at 16 kHz mono; the figure is printed and kept in ``<name>.info.json``.

The story JSON has the AnimeShooter keys ("storyline", "main characters", "main scenes", "shots" with
"MM:SS" times) plus an ``"avshooter"`` object per shot with the exact seconds; captions name what the
soundtrack plays in that shot. Built files are cached by name (``long_<M>min_<W>x<H>_<F>fps_sp<S>``);
``--force`` rebuilds. Nothing is written inside the repository by default.

Usage::

    python benchmarks/make_long_input.py [--minutes 10] [--width 1280 --height 720 --fps 24]
                                         [--cheap] [--speech-share 0.4] [--out DIR] [--force]

From Python: ``build_long_input(minutes, out_dir, ...) -> (video_path, story_path)``.
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

SHARED_MEDIA = Path(__file__).resolve().parents[1].parent / "shared" / "media"
DEFAULT_OUT = Path("/tmp/avshooter-bench/inputs")
SAMPLE_RATE = 44100
WIDTH, HEIGHT, FPS = 1280, 720, 24  # realistic default
CHEAP = (160, 90, 12)  # --cheap: flat colours
PIECE_S = 20.0
SHOT_S = (3.0, 6.0)  # shot length range
PAN_ZOOM = 1.1  # clips scaled to 110% of the frame, panned across it
BED_UNDER_SPEECH = (0.3, 0.05)  # bed gain under every other reading: dialogue over music / nearly clean

# What each shared recording is, for the captions (keyed by file-name prefix).
SOURCES = {
    "libri1": ("speech", "A man reads a passage aloud in a calm voice."),
    "libri2": ("speech", "A narrator reads a story aloud, speaking steadily."),
    "vibeace": ("music", "Upbeat electronic music plays with a steady beat."),
    "nutcracker": ("music", "A music box melody plays, light and tinkling."),
    "galway": ("music", "A tin whistle plays a folk tune."),
    "jazz_guitar": ("music", "A jazz guitar plays chords."),
    "trumpet": ("music", "A trumpet plays a slow solo."),
    "applause": ("effects", "A crowd claps and cheers."),
    "typing": ("effects", "Someone types quickly on a keyboard."),
    "car_engine": ("effects", "A car engine starts and idles."),
    "train": ("effects", "A train rumbles past on the tracks."),
    "robin_bird": ("effects", "A small bird whistles in the garden."),
    "bbb": ("music", "Birds sing over orchestral music in a green meadow."),
}
COLOUR_NAMES = ["red", "green", "blue", "yellow", "purple", "cyan", "orange", "grey", "white", "black", "brown",
                "pink"]
COLOURS = [(200, 60, 60), (60, 160, 70), (50, 80, 200), (230, 200, 40), (150, 60, 170), (40, 190, 200),
           (240, 130, 30), (120, 120, 120), (250, 250, 250), (20, 20, 20), (120, 70, 30), (250, 150, 200)]

__all__ = ["SHARED_MEDIA", "build_long_input", "input_name"]


def colour_name(shot_index: int) -> str:
    """Name of the flat colour of shot ``shot_index`` (0-based) in the cheap picture."""
    return COLOUR_NAMES[(shot_index * 5) % len(COLOURS)]


def input_name(minutes: float, width: int = WIDTH, height: int = HEIGHT, fps: int = FPS,
               speech_share: float = 0.4, cheap: bool = False) -> str:
    """File stem of a built input (its cache key)."""
    return f"long_{minutes:g}min_{width}x{height}_{fps}fps{'_cheap' if cheap else ''}_sp{speech_share:g}"


def _source_key(path: Path) -> str:
    for key in SOURCES:
        if path.name.startswith(key):
            return key
    return path.stem


def _load_sources(media: Path) -> tuple[list, list]:
    """``(speech, bed)``: lists of ``(key, wav (2, n) float32 at 44.1 kHz)``; bed cut into <= ``PIECE_S`` pieces."""
    from avshooter.media.decode import load_audio
    from avshooter.media.probe import probe
    from avshooter.units import to_samples

    files = sorted((media / "audio").glob("*")) + sorted((media / "video").glob("*"))
    if not files:
        raise SystemExit(f"no media in {media} (expected ../shared/media next to the repository)")
    piece = to_samples(PIECE_S, SAMPLE_RATE)
    speech, bed = [], []
    for path in files:
        if not probe(path).has_audio:  # a silent video clip
            continue
        wav, _ = load_audio(path, sample_rate=SAMPLE_RATE, channels=2)
        peak = float(np.max(np.abs(wav))) or 1.0
        wav = (wav * min(1.0, 0.9 / peak)).astype(np.float32)
        key = _source_key(path)
        if SOURCES.get(key, ("",))[0] == "speech":
            speech.append((key, wav))
            continue
        for start in range(0, wav.shape[1], piece):
            chunk = wav[:, start:start + piece]
            if chunk.shape[1] >= SAMPLE_RATE:  # drop tails under 1 s
                bed.append((key, chunk))
    if not speech:
        raise SystemExit(f"no speech recordings (libri*) in {media / 'audio'}")
    return speech, bed


def _vad_share(wav16: np.ndarray) -> float:
    from avshooter.audio.vad import speech_ranges

    ranges = speech_ranges(wav16[None] if wav16.ndim == 1 else wav16, 16000)
    return sum(e - s for s, e in ranges) / (wav16.shape[-1] / 16000)


def _soundtrack(speech, bed, total: int, share: float, rng: np.random.Generator):
    """``(track (2, total) float32, bed_plan, speech_plan)``; plans are ``[(start, end, key[, gain])]`` in samples."""
    from scipy.signal import resample_poly

    track = np.zeros((2, total), np.float32)
    bed_plan, pos = [], 0
    while pos < total:
        for i in rng.permutation(len(bed)):
            key, wav = bed[i]
            n = min(wav.shape[1], total - pos)
            track[:, pos:pos + n] = wav[:, :n]
            bed_plan.append((pos, pos + n, key))
            pos += n
            if pos >= total:
                break
    # readings have pauses: place them so that the VAD-speech (not the placed time) is about `share`
    active = [_vad_share(resample_poly(w.mean(axis=0), 160, 441).astype(np.float32)) for _, w in speech]
    placed = min(0.95, share / max(1e-3, float(np.mean(active))))
    mean_len = float(np.mean([w.shape[1] for _, w in speech]))
    mean_gap = mean_len * (1 - placed) / placed
    speech_plan, pos, k = [], int(rng.uniform(0, mean_gap)), 0
    while pos < total:
        key, wav = speech[int(rng.integers(len(speech)))]
        n = min(wav.shape[1], total - pos)
        gain = BED_UNDER_SPEECH[k % 2]
        fade = min(n // 2, SAMPLE_RATE // 10)  # 0.1 s duck in and out
        duck = np.full(n, gain, np.float32)
        duck[:fade] = np.linspace(1.0, gain, fade)
        duck[n - fade:] = np.linspace(gain, 1.0, fade)
        track[:, pos:pos + n] = track[:, pos:pos + n] * duck + wav[:, :n]
        speech_plan.append((pos, pos + n, key, gain))
        pos += n + int(rng.uniform(0.5, 1.5) * mean_gap)
        k += 1
    np.clip(track, -1.0, 1.0, out=track)
    return track, bed_plan, speech_plan


def _shots(total_frames: int, fps: int, rng: np.random.Generator) -> list[tuple[int, int]]:
    lo, hi = round(SHOT_S[0] * fps), round(SHOT_S[1] * fps)
    edges = [0]
    while edges[-1] < total_frames:
        edges.append(edges[-1] + int(rng.integers(lo, hi + 1)))
    edges[-1] = total_frames
    if edges[-1] - edges[-2] < lo and len(edges) > 2:  # fold a short tail into the shot before
        edges.pop(-2)
    return list(itertools.pairwise(edges))


def _story(shots_s, bed_plan, speech_plan, minutes: float, cheap: bool) -> dict:
    from avshooter.units import format_mmss, to_samples

    starts = np.array([p[0] for p in bed_plan])
    shots = []
    for k, (a, b) in enumerate(shots_s):
        sa, sb = to_samples(a, SAMPLE_RATE), to_samples(b, SAMPLE_RATE)
        mid = (sa + sb) // 2
        key = bed_plan[int(np.searchsorted(starts, mid, side="right")) - 1][2]
        kind, caption = SOURCES.get(key, ("effects", "Sounds are heard."))
        talk = [p for p in speech_plan if p[0] < sb and p[1] > sa]
        if talk:
            caption = f"{SOURCES[talk[0][2]][1][:-1]}, over the sound of: {caption[0].lower()}{caption[1:]}"
            kind = "speech"
        picture = (f"The screen is filled with flat {colour_name(k)}." if cheap
                   else "The camera pans slowly across an animated scene.")
        shots.append({
            "start time": format_mmss(a),
            "end time": format_mmss(b),
            "main characters": ["Narrator"] if talk else [],
            "scene": {"speech": "study", "music": "stage"}.get(kind, "outside"),
            "visual annotation": {
                "plot": f"Shot {k + 1}: {kind} scene.",
                "caption": f"{picture} {caption[:-1]} (shot {k + 1}).",
            },
            "avshooter": {"start_s": a, "end_s": b},
        })
    return {
        "storyline": f"A {minutes:g}-minute benchmark episode built from the shared test recordings: "
                     "readings over music and everyday sounds"
                     + (", one flat colour per shot (cheap picture)." if cheap else ", over animated scenes."),
        "main characters": [{"ID": "Narrator", "appearance": "An unseen man with a calm reading voice."}],
        "main scenes": [
            {"ID": "study", "environment": "A quiet study where someone reads aloud."},
            {"ID": "stage", "environment": "A small stage where music is played."},
            {"ID": "outside", "environment": "Streets, gardens and rooms full of everyday sounds."},
        ],
        "shots": shots,
    }


class _Pictures:
    """Frames for each shot: flat colours (cheap) or a shared clip, looped, scaled and panned."""

    def __init__(self, media: Path, width: int, height: int, cheap: bool, rng: np.random.Generator):
        self.w, self.h, self.cheap, self.rng = width, height, cheap, rng
        self.clips = [] if cheap else sorted((media / "video").glob("*"))
        if not cheap and not self.clips:
            raise SystemExit(f"no video clips in {media / 'video'} (use --cheap)")
        self.big = (int(width * PAN_ZOOM) // 2 * 2, int(height * PAN_ZOOM) // 2 * 2)
        self._open, self._last = None, -1

    def shot(self, index: int, n_frames: int):
        """Yield ``n_frames`` rgb24 arrays (height, width, 3) for shot ``index``."""
        if self.cheap:
            img = np.empty((self.h, self.w, 3), np.uint8)
            img[:] = COLOURS[(index * 5) % len(COLOURS)]
            for _ in range(n_frames):
                yield img
            return
        import av

        choices = [i for i in range(len(self.clips)) if i != self._last] or [0]
        clip = self.clips[int(self.rng.choice(choices))]
        self._last = self.clips.index(clip)
        dx, dy = self.big[0] - self.w, self.big[1] - self.h
        x0, x1 = self.rng.integers(0, dx + 1, size=2)
        y0, y1 = self.rng.integers(0, dy + 1, size=2)
        with av.open(str(clip)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            dur = float(stream.duration * stream.time_base) if stream.duration else float(container.duration or 0) / 1e6
            if dur > 2:  # start somewhere inside the clip
                container.seek(int(self.rng.uniform(0, dur - 1) / stream.time_base), stream=stream)
            made = 0
            while made < n_frames:
                got = False
                for frame in container.decode(stream):
                    got = True
                    t = made / max(1, n_frames - 1)
                    x, y = int(x0 + (x1 - x0) * t), int(y0 + (y1 - y0) * t)
                    big = frame.reformat(width=self.big[0], height=self.big[1], format="rgb24").to_ndarray()
                    yield big[y:y + self.h, x:x + self.w]
                    made += 1
                    if made >= n_frames:
                        return
                if not got:
                    raise SystemExit(f"{clip}: no frames")
                container.seek(0, stream=stream)  # loop the clip


def _write_video(path: Path, track: np.ndarray, shots_f, total_frames: int, pictures: _Pictures,
                 width: int, height: int, fps: int, cheap: bool) -> None:
    import av

    from avshooter.units import to_samples

    total = track.shape[1]
    with av.open(str(path), "w", format="mp4") as out:
        vs = out.add_stream("libx264", rate=fps)
        vs.width, vs.height, vs.pix_fmt = width, height, "yuv420p"
        vs.codec_context.time_base = Fraction(1, fps)
        vs.options = {"preset": "ultrafast", "crf": "28"} if cheap else {"preset": "superfast", "crf": "23"}
        aus = out.add_stream("aac", rate=SAMPLE_RATE, layout="stereo")
        chunk, audio_pos, f = 1024, 0, 0
        for index, (a, b) in enumerate(shots_f):
            for img in pictures.shot(index, b - a):
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")
                frame.pts = f
                out.mux(vs.encode(frame))
                f += 1
                target = min(total, to_samples(f / fps, SAMPLE_RATE))
                while audio_pos < target:
                    n = min(chunk, total - audio_pos)
                    aframe = av.AudioFrame.from_ndarray(np.ascontiguousarray(track[:, audio_pos:audio_pos + n]),
                                                        format="fltp", layout="stereo")
                    aframe.sample_rate, aframe.pts = SAMPLE_RATE, audio_pos
                    out.mux(aus.encode(aframe))
                    audio_pos += n
        assert f == total_frames, (f, total_frames)
        out.mux(vs.encode(None))
        out.mux(aus.encode(None))


def build_long_input(minutes: float = 10.0, out_dir: str | os.PathLike = DEFAULT_OUT, *,
                     width: int = WIDTH, height: int = HEIGHT, fps: int = FPS, cheap: bool = False,
                     speech_share: float = 0.4, seed: int = 0, force: bool = False,
                     media: Path = SHARED_MEDIA) -> tuple[Path, Path]:
    """Build (or reuse) ``<name>.mp4``, ``<name>.json`` and ``<name>.info.json`` in ``out_dir``; return the first two.

    Parameters
    ----------
    minutes : length of the video (the audio is exactly this long; the story covers it to the last frame)
    out_dir : folder for the files (created); never inside ``../shared/media``
    width, height, fps : picture (ignored with ``cheap``: 160x90 at 12 fps, flat colours)
    speech_share : target share of the file that is speech (VAD-measured afterwards)
    seed : order of the pieces, reading places, shot lengths, clips and pans
    force : rebuild even if the files exist
    """
    from avshooter.media.decode import load_audio
    from avshooter.units import to_samples

    if cheap:
        width, height, fps = CHEAP
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    name = input_name(minutes, width, height, fps, speech_share, cheap)
    video, story, info = out_dir / f"{name}.mp4", out_dir / f"{name}.json", out_dir / f"{name}.info.json"
    if video.exists() and story.exists() and info.exists() and not force:
        meta = json.loads(info.read_text(encoding="utf-8"))
        print(f"cached {video}: {meta['picture']}, measured speech share {meta['speech_share_vad']:.3f}",
              file=sys.stderr)
        return video, story
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    speech, bed = _load_sources(media)
    total_frames = round(minutes * 60 * fps)
    total = to_samples(total_frames / fps, SAMPLE_RATE)
    track, bed_plan, speech_plan = _soundtrack(speech, bed, total, speech_share, rng)
    shots_f = _shots(total_frames, fps, rng)
    # the last shot stops a quarter second early: AAC padding must not push it past the decoded audio
    shots_s = [(a / fps, b / fps) for a, b in shots_f]
    shots_s[-1] = (shots_s[-1][0], shots_s[-1][1] - 0.25)
    tmp_video = video.with_name(f".{video.name}.{os.getpid()}.tmp.mp4")
    try:
        _write_video(tmp_video, track, shots_f, total_frames, _Pictures(media, width, height, cheap, rng),
                     width, height, fps, cheap)
        os.replace(tmp_video, video)
    finally:
        tmp_video.unlink(missing_ok=True)
    del track
    t1 = time.perf_counter()
    wav16, _ = load_audio(video, sample_rate=16000, channels=1)
    measured = _vad_share(wav16)
    del wav16
    picture = (f"{width}x{height} {fps} fps " + ("flat colours (CHEAP)" if cheap else "panned animation clips"))
    meta = {"picture": picture, "minutes": minutes, "shots": len(shots_s), "speech_share_target": speech_share,
            "speech_share_vad": round(measured, 4), "readings": len(speech_plan), "seed": seed,
            "bytes": video.stat().st_size}
    for path, data in ((story, _story(shots_s, bed_plan, speech_plan, minutes, cheap)), (info, meta)):
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    print(f"built {video} ({picture}, {len(shots_s)} shots, {minutes:g} min, {meta['bytes'] / 1e6:.0f} MB) "
          f"in {t1 - t0:.0f} s; speech share measured by silero VAD over the whole file: {measured:.3f} "
          f"(target {speech_share:g}; {time.perf_counter() - t1:.0f} s)", file=sys.stderr)
    return video, story


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="length in minutes (default 10)")
    parser.add_argument("--width", type=int, default=WIDTH, help=f"picture width (default {WIDTH})")
    parser.add_argument("--height", type=int, default=HEIGHT, help=f"picture height (default {HEIGHT})")
    parser.add_argument("--fps", type=int, default=FPS, help=f"frame rate (default {FPS})")
    parser.add_argument("--cheap", action="store_true",
                        help="CHEAP picture: 160x90 12 fps flat colours (fast to build and to decode; not realistic)")
    parser.add_argument("--speech-share", type=float, default=0.4, help="target speech share (default 0.4)")
    parser.add_argument("--out", default=str(DEFAULT_OUT), help=f"output folder (default {DEFAULT_OUT})")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--force", action="store_true", help="rebuild even if the files exist")
    args = parser.parse_args(argv)
    if args.minutes <= 0:
        parser.error(f"--minutes must be > 0, got {args.minutes}")
    if not 0 <= args.speech_share < 1:
        parser.error(f"--speech-share must be in [0, 1), got {args.speech_share}")
    if args.width % 2 or args.height % 2 or min(args.width, args.height, args.fps) <= 0:
        parser.error("--width and --height must be even and positive, --fps positive")
    video, story = build_long_input(args.minutes, args.out, width=args.width, height=args.height, fps=args.fps,
                                    cheap=args.cheap, speech_share=args.speech_share, seed=args.seed,
                                    force=args.force)
    print(video)
    print(story)
    return 0


if __name__ == "__main__":
    sys.exit(main())
