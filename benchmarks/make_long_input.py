"""Build a long test video (and its story JSON) from the files in ``../shared/media``, for the benchmarks.

The soundtrack loops the shared recordings (speech, music, effects, ambience, and the audio of the
shared videos), cut into pieces of at most ``PIECE_S`` seconds and played in a shuffled order per round,
as 44.1 kHz stereo AAC. The picture is cheap on purpose (default 160x90 H.264 at 12 fps): one solid colour
per shot, a new colour at every shot boundary, so a cut detector finds hard cuts. Shots are 3-6 s long
(about 4.5 s on average) and start and end on frame boundaries; the story JSON has the AnimeShooter keys
("storyline", "main characters", "main scenes", "shots" with "MM:SS" times) plus an ``"avshooter"``
object per shot with the exact seconds. Captions name what the soundtrack plays in that shot.

The built files are cached: when ``long_<M>min.mp4`` and ``long_<M>min.json`` exist in the output folder,
nothing is rebuilt (``--force`` rebuilds). Nothing is written inside the repository by default.

Usage::

    python benchmarks/make_long_input.py [--minutes 10] [--out /tmp/avshooter-bench/inputs] [--force]

From Python: ``build_long_input(minutes, out_dir) -> (video_path, story_path)``.
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
FPS = 12
WIDTH, HEIGHT = 160, 90
PIECE_S = 20.0
SHOT_FRAMES = (36, 72)  # shot length range in frames at FPS: 3 s .. 6 s

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

__all__ = ["SHARED_MEDIA", "build_long_input"]


def colour_name(shot_index: int) -> str:
    """Name of the flat colour of shot ``shot_index`` (0-based), as the picture draws it."""
    return COLOUR_NAMES[(shot_index * 5) % len(COLOURS)]


def _source_key(path: Path) -> str:
    for key in SOURCES:
        if path.name.startswith(key):
            return key
    return path.stem


def _load_sources(media: Path) -> list[tuple[str, np.ndarray]]:
    """Every shared recording at 44.1 kHz stereo, cut into pieces of at most ``PIECE_S`` seconds."""
    from avshooter.media.decode import load_audio
    from avshooter.media.probe import probe
    from avshooter.units import to_samples

    files = sorted((media / "audio").glob("*")) + sorted((media / "video").glob("*"))
    if not files:
        raise SystemExit(f"no media in {media} (expected ../shared/media next to the repository)")
    piece = to_samples(PIECE_S, SAMPLE_RATE)
    out = []
    for path in files:
        if not probe(path).has_audio:  # a silent video clip
            continue
        wav, _ = load_audio(path, sample_rate=SAMPLE_RATE, channels=2)
        peak = float(np.max(np.abs(wav))) or 1.0
        wav = (wav * min(1.0, 0.9 / peak)).astype(np.float32)
        for start in range(0, wav.shape[1], piece):
            chunk = wav[:, start:start + piece]
            if chunk.shape[1] >= SAMPLE_RATE:  # drop tails under 1 s
                out.append((_source_key(path), chunk))
    return out


def _playlist(pieces, total: int, rng: np.random.Generator):
    """``[(start_sample, piece_index)]`` covering ``total`` samples: shuffled rounds over all pieces."""
    plan, pos = [], 0
    while pos < total:
        for i in rng.permutation(len(pieces)):
            plan.append((pos, int(i)))
            pos += pieces[i][1].shape[1]
            if pos >= total:
                break
    return plan


def _shots(total_frames: int, rng: np.random.Generator) -> list[tuple[int, int]]:
    edges = [0]
    while edges[-1] < total_frames:
        edges.append(edges[-1] + int(rng.integers(SHOT_FRAMES[0], SHOT_FRAMES[1] + 1)))
    edges[-1] = total_frames
    if edges[-1] - edges[-2] < SHOT_FRAMES[0] and len(edges) > 2:  # fold a short tail into the shot before
        edges.pop(-2)
    return list(itertools.pairwise(edges))


def _story(shots_s, plan, pieces, minutes: float) -> dict:
    from avshooter.units import format_mmss, to_samples

    starts = np.array([p for p, _ in plan])
    shots = []
    for k, (a, b) in enumerate(shots_s):
        mid = to_samples((a + b) / 2, SAMPLE_RATE)
        key = pieces[plan[int(np.searchsorted(starts, mid, side="right")) - 1][1]][0]
        kind, caption = SOURCES.get(key, ("effects", "Sounds are heard."))
        who = ["Narrator"] if kind == "speech" else []
        shots.append({
            "start time": format_mmss(a),
            "end time": format_mmss(b),
            "main characters": who,
            "scene": {"speech": "study", "music": "stage"}.get(kind, "outside"),
            "visual annotation": {
                "plot": f"Shot {k + 1}: {kind} scene.",
                "caption": f"The screen is filled with flat {colour_name(k)}. {caption[:-1]} (shot {k + 1}).",
            },
            "avshooter": {"start_s": a, "end_s": b},
        })
    return {
        "storyline": f"A {minutes:g}-minute benchmark episode built from the shared test recordings: "
                     "readings, music and everyday sounds, one flat colour per shot.",
        "main characters": [{"ID": "Narrator", "appearance": "An unseen man with a calm reading voice."}],
        "main scenes": [
            {"ID": "study", "environment": "A quiet study where someone reads aloud."},
            {"ID": "stage", "environment": "A small stage where music is played."},
            {"ID": "outside", "environment": "Streets, gardens and rooms full of everyday sounds."},
        ],
        "shots": shots,
    }


def _write_video(path: Path, pieces, plan, total: int, shots_f, total_frames: int) -> None:
    import av

    from avshooter.units import to_samples

    starts = [p for p, _ in plan]
    colour_frames = {}
    with av.open(str(path), "w", format="mp4") as out:
        vs = out.add_stream("libx264", rate=FPS)
        vs.width, vs.height, vs.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        vs.codec_context.time_base = Fraction(1, FPS)
        vs.options = {"preset": "ultrafast", "crf": "28"}
        aus = out.add_stream("aac", rate=SAMPLE_RATE, layout="stereo")
        chunk, audio_pos, plan_i = 1024, 0, 0
        shot_i = 0
        for f in range(total_frames):
            while shots_f[shot_i][1] <= f:
                shot_i += 1
            colour = COLOURS[(shot_i * 5) % len(COLOURS)]
            if colour not in colour_frames:
                img = np.empty((HEIGHT, WIDTH, 3), np.uint8)
                img[:] = colour
                colour_frames[colour] = img
            frame = av.VideoFrame.from_ndarray(colour_frames[colour], format="rgb24")
            frame.pts = f
            out.mux(vs.encode(frame))
            target = min(total, to_samples((f + 1) / FPS, SAMPLE_RATE))
            while audio_pos < target:
                n = min(chunk, total - audio_pos)
                block = np.empty((2, n), np.float32)
                filled = 0
                while filled < n:  # copy from the pieces the playlist puts here
                    while plan_i + 1 < len(plan) and starts[plan_i + 1] <= audio_pos + filled:
                        plan_i += 1
                    src = pieces[plan[plan_i][1]][1]
                    off = audio_pos + filled - starts[plan_i]
                    take = min(n - filled, src.shape[1] - off)
                    block[:, filled:filled + take] = src[:, off:off + take]
                    filled += take
                aframe = av.AudioFrame.from_ndarray(block, format="fltp", layout="stereo")
                aframe.sample_rate, aframe.pts = SAMPLE_RATE, audio_pos
                out.mux(aus.encode(aframe))
                audio_pos += n
        out.mux(vs.encode(None))
        out.mux(aus.encode(None))


def build_long_input(minutes: float = 10.0, out_dir: str | os.PathLike = DEFAULT_OUT, *,
                     seed: int = 0, force: bool = False, media: Path = SHARED_MEDIA) -> tuple[Path, Path]:
    """Build (or reuse) ``long_<M>min.mp4`` and ``long_<M>min.json`` in ``out_dir``; return their paths.

    Parameters
    ----------
    minutes : length of the video (the audio is exactly this long; the story covers it to the last frame)
    out_dir : folder for the files (created); never inside ``../shared/media``
    seed : order of the pieces and shot lengths
    force : rebuild even if both files exist
    """
    from avshooter.units import to_samples

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    name = f"long_{minutes:g}min"
    video, story = out_dir / f"{name}.mp4", out_dir / f"{name}.json"
    if video.exists() and story.exists() and not force:
        return video, story
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    pieces = _load_sources(media)
    total_frames = round(minutes * 60 * FPS)
    total = to_samples(total_frames / FPS, SAMPLE_RATE)
    plan = _playlist(pieces, total, rng)
    shots_f = _shots(total_frames, rng)
    # the last shot stops a quarter second early: AAC padding must not push it past the decoded audio
    shots_s = [(a / FPS, b / FPS) for a, b in shots_f]
    shots_s[-1] = (shots_s[-1][0], shots_s[-1][1] - 0.25)
    tmp_video = video.with_name(f".{video.name}.{os.getpid()}.tmp.mp4")
    try:
        _write_video(tmp_video, pieces, plan, total, shots_f, total_frames)
        os.replace(tmp_video, video)
    finally:
        tmp_video.unlink(missing_ok=True)
    tmp_story = story.with_name(f".{story.name}.{os.getpid()}.tmp")
    tmp_story.write_text(json.dumps(_story(shots_s, plan, pieces, minutes), indent=1) + "\n", encoding="utf-8")
    os.replace(tmp_story, story)
    print(f"built {video} ({len(shots_s)} shots, {minutes:g} min) in {time.perf_counter() - t0:.1f} s",
          file=sys.stderr)
    return video, story


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="length in minutes (default 10)")
    parser.add_argument("--out", default=str(DEFAULT_OUT), help=f"output folder (default {DEFAULT_OUT})")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--force", action="store_true", help="rebuild even if the files exist")
    args = parser.parse_args(argv)
    if args.minutes <= 0:
        parser.error(f"--minutes must be > 0, got {args.minutes}")
    video, story = build_long_input(args.minutes, args.out, seed=args.seed, force=args.force)
    print(video)
    print(story)
    return 0


if __name__ == "__main__":
    sys.exit(main())
