"""Render a small multi-shot demo clip with a KNOWN soundtrack, story JSON and ground truth.

Nothing is downloaded: the picture and most of the sound are synthesized here. The clip is 18 s,
320x180, 24 fps, H.264 (yuv420p) + AAC 44.1 kHz stereo in an mp4, written with PyAV, with four shots
that start and end on frame boundaries:

=====  ===========  ========================================================================
shot   time (s)     picture / sound
=====  ===========  ========================================================================
1      0.0 - 5.0    Hana in a pink room, mouth moving / a spoken line (espeak-ng, else LibriSpeech)
2      5.0 - 9.5    notes dancing on blue / synthesized music (harmonic chords, melody, 120 bpm)
3      9.5 - 14.0   a red ball bouncing on a green floor / a thud at EVERY frame the ball lands
4      14.0 - 18.0  a night sky with drifting clouds / quiet wind (filtered noise, about -45 dBFS)
=====  ===========  ========================================================================

Outputs in ``OUT_DIR``: ``demo.mp4``, ``demo.json`` (story in the AnimeShooter format plus an
``"avshooter"`` object per shot with exact seconds) and ``truth.json`` (expected type per shot, cut
times and frames, speech span, impact times and frames, the speech source used).

Speech: ``espeak-ng`` (Debian/Ubuntu package ``espeak-ng``) if it is on PATH, else the LibriSpeech
excerpt in ``<repo>/../shared/media/audio/libri1_5703-47212-0000.hq.ogg`` (CC-BY 4.0). The source used is
recorded in ``truth.json``. Everything is deterministic for a given ``seed`` (audio samples, picture,
JSON); the mp4 bytes depend on the encoder build.

Usage: ``python examples/make_demo.py OUT_DIR [--seed N] [--speech auto|espeak|librispeech]``
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from fractions import Fraction
from pathlib import Path

import numpy as np

from avshooter.errors import InputError, MediaError
from avshooter.units import format_mmss, to_samples

FPS = 24
SAMPLE_RATE = 44100
WIDTH, HEIGHT = 320, 180
SHOT_FRAMES = (120, 108, 108, 96)  # 5.0 s, 4.5 s, 4.5 s, 4.0 s at 24 fps
SPEECH_TEXT = "Hi, I'm Hana. Watch my red ball bounce!"
SPEECH_START_S = 0.5
LIBRI = Path("shared") / "media" / "audio" / "libri1_5703-47212-0000.hq.ogg"
LIBRI_SPAN_S = (0.0, 3.1)  # first phrase of the LibriSpeech file (speech 0.29 - 2.97 s)
BOUNCE_FIRST, BOUNCE_PERIOD = 14, 18  # shot-3 frames of the first landing, frames between landings
FLOOR_Y, BALL_R = 150, 12

__all__ = ["make_demo", "main"]


# ----------------------------------------------------------------------------------------------- layout
def _shot_frames() -> list[tuple[int, int]]:
    edges = np.concatenate([[0], np.cumsum(SHOT_FRAMES)])
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]


def _impact_frames() -> list[int]:
    """Global frame indices at which the ball touches the floor (shot 3)."""
    start, stop = _shot_frames()[2]
    return [start + f for f in range(BOUNCE_FIRST, stop - start, BOUNCE_PERIOD)]


def _ball_height(local_frame: int) -> float:
    """Height of the ball's bottom above the floor (pixels) in shot 3: 0 exactly on landing frames.

    The same parabola every ``BOUNCE_PERIOD`` frames; the shot opens with the ball already falling.
    """
    phase = ((local_frame - BOUNCE_FIRST) % BOUNCE_PERIOD) / BOUNCE_PERIOD
    return 80.0 * 4.0 * phase * (1.0 - phase)


# ------------------------------------------------------------------------------------------------ sound
def _speech(source: str) -> tuple[np.ndarray, str]:
    """Mono float32 speech at SAMPLE_RATE and the source actually used."""
    import soxr

    exe = shutil.which("espeak-ng")
    if source in ("auto", "espeak") and exe:
        with tempfile.TemporaryDirectory() as tmp:
            wav_path = Path(tmp) / "line.wav"
            subprocess.run([exe, "-v", "en-us", "-s", "150", "-w", str(wav_path), SPEECH_TEXT],
                           check=True, capture_output=True, timeout=60)
            wav, sr = _read_audio(wav_path)
        used = "espeak-ng"
    elif source == "espeak":
        raise MediaError("make_demo: speech='espeak' but espeak-ng is not on PATH (apt-get install espeak-ng)")
    elif source in ("auto", "librispeech"):
        path = Path(__file__).resolve().parents[1].parent / LIBRI
        if not path.is_file():
            raise MediaError(f"make_demo: no espeak-ng on PATH and no LibriSpeech fallback at {path}")
        wav, sr = _read_audio(path)
        wav = wav[to_samples(LIBRI_SPAN_S[0], sr): to_samples(LIBRI_SPAN_S[1], sr)]
        used = "librispeech:" + LIBRI.name
    else:
        raise InputError(f"make_demo: speech={source!r} (allowed: auto, espeak, librispeech)")
    if sr != SAMPLE_RATE:
        wav = soxr.resample(wav, sr, SAMPLE_RATE, quality="HQ")
    wav = wav.astype(np.float32)
    fade = to_samples(0.02, SAMPLE_RATE)
    wav[-fade:] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
    rms = float(np.sqrt(np.mean(wav**2))) or 1.0
    return wav * (10 ** (-18 / 20) / rms), used


def _read_audio(path: Path) -> tuple[np.ndarray, int]:
    import soundfile as sf

    wav, sr = sf.read(str(path), dtype="float32", always_2d=True)
    return wav.mean(axis=1), int(sr)


def _active_span(wav: np.ndarray, offset_s: float) -> list[float]:
    """First and last time (s) where 20 ms RMS is within 35 dB of the loudest 20 ms."""
    hop = to_samples(0.02, SAMPLE_RATE)
    n = wav.size // hop
    rms = np.sqrt(np.mean(wav[: n * hop].reshape(n, hop) ** 2, axis=1))
    on = np.flatnonzero(rms > rms.max() * 10 ** (-35 / 20))
    return [round(offset_s + on[0] * hop / SAMPLE_RATE, 3), round(offset_s + (on[-1] + 1) * hop / SAMPLE_RATE, 3)]


def _tone(freq: float, n: int, *, harmonics=(1.0, 0.5, 0.33, 0.2), decay_s: float = 0.6) -> np.ndarray:
    t = np.arange(n) / SAMPLE_RATE
    wave = sum(a * np.sin(2 * np.pi * freq * (k + 1) * t) for k, a in enumerate(harmonics))
    attack = np.minimum(1.0, t / 0.01)
    return (wave * attack * np.exp(-t / decay_s)).astype(np.float32)


def _music(n: int) -> np.ndarray:
    """C - G - Am - F at 120 bpm: a chord on every beat, a melody in eighths, a bass on beats 1 and 3."""
    out = np.zeros(n, np.float32)
    beat = to_samples(0.5, SAMPLE_RATE)
    chords = [(60, 64, 67), (55, 59, 62), (57, 60, 64), (53, 57, 60)]
    melody = [72, 76, 79, 76, 74, 71, 74, 79, 76, 72, 69, 72, 77, 72, 69, 65]

    def hz(midi):
        return 440.0 * 2 ** ((midi - 69) / 12)

    for b in range(0, n // beat + 1):
        start = b * beat
        if start >= n:
            break
        chord = chords[(b // 2) % 4]
        length = min(beat, n - start)
        for note in chord:
            out[start: start + length] += 0.12 * _tone(hz(note), length, decay_s=0.4)
        if b % 2 == 0:
            out[start: start + length] += 0.25 * _tone(hz(chord[0] - 24), length, harmonics=(1.0, 0.3), decay_s=0.3)
        for half in range(2):
            m0 = start + half * beat // 2
            if m0 >= n:
                break
            ml = min(beat // 2, n - m0)
            out[m0: m0 + ml] += 0.15 * _tone(hz(melody[(2 * b + half) % 16]), ml, decay_s=0.25)
    fade = to_samples(0.03, SAMPLE_RATE)
    out[:fade] *= np.linspace(0, 1, fade)
    out[-fade:] *= np.linspace(1, 0, fade)
    return out * (10 ** (-18 / 20) / float(np.sqrt(np.mean(out**2))))


def _thud(rng: np.random.Generator) -> np.ndarray:
    """A ball landing: a dull thump (band-passed noise, 25 ms decay); onset at sample 0.

    Not a pitched body: a pitch-dropping sine on a click is a kick drum, and at two landings a second
    it is a drum machine to any listener (YAMNet included), not a ball.
    """
    from scipy.signal import butter, sosfilt

    n = to_samples(0.25, SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    sos = butter(2, [60, 1200], btype="bandpass", fs=SAMPLE_RATE, output="sos")
    thump = sosfilt(sos, rng.standard_normal(n)) * np.exp(-t / 0.025)
    return (0.95 * thump / np.abs(thump).max()).astype(np.float32)


def _wind(n: int, rng: np.random.Generator) -> np.ndarray:
    from scipy.signal import butter, sosfilt

    noise = rng.standard_normal(n + SAMPLE_RATE)
    sos = butter(2, [150, 900], btype="bandpass", fs=SAMPLE_RATE, output="sos")
    wind = sosfilt(sos, noise)[SAMPLE_RATE:]
    t = np.arange(n) / SAMPLE_RATE
    wind *= 0.7 + 0.3 * np.sin(2 * np.pi * 0.3 * t + rng.uniform(0, 2 * np.pi))  # slow gusts
    return (wind * (10 ** (-45 / 20) / np.sqrt(np.mean(wind**2)))).astype(np.float32)


def _soundtrack(seed: int, speech: str):
    """Stereo float32 ``(2, samples)`` and the ground-truth facts about it."""
    rng = np.random.default_rng(seed)
    shots = _shot_frames()
    total = to_samples(shots[-1][1] / FPS, SAMPLE_RATE)
    mix = np.zeros((2, total), np.float32)

    def span(shot):
        a, b = shots[shot]
        return to_samples(a / FPS, SAMPLE_RATE), to_samples(b / FPS, SAMPLE_RATE)

    # shot 1: speech, centred
    line, source = _speech(speech)
    a, b = span(0)
    s0 = a + to_samples(SPEECH_START_S, SAMPLE_RATE)
    line = line[: b - s0 - to_samples(0.2, SAMPLE_RATE)]
    mix[:, s0: s0 + line.size] += line
    speech_span = _active_span(line, s0 / SAMPLE_RATE)
    # shot 2: music, chords slightly wider than the melody
    a, b = span(1)
    music = _music(b - a)
    mix[0, a:b] += music
    mix[1, a:b] += music
    # shot 3: a thud exactly at each landing frame, panned with the ball
    a, b = span(2)
    impacts = _impact_frames()
    for f in impacts:
        i = to_samples(f / FPS, SAMPLE_RATE)
        thud = _thud(rng)[: b - i]
        pan = _ball_x(f - shots[2][0]) / WIDTH
        mix[0, i: i + thud.size] += thud * np.float32(np.cos(pan * np.pi / 2) * 1.2)
        mix[1, i: i + thud.size] += thud * np.float32(np.sin(pan * np.pi / 2) * 1.2)
    # shot 4: quiet wind, decorrelated channels
    a, b = span(3)
    mix[0, a:b] += _wind(b - a, rng)
    mix[1, a:b] += _wind(b - a, rng)
    peak = float(np.abs(mix).max())
    if peak > 0.95:
        mix *= 0.95 / peak
    envelope = _speech_envelope(mix[0], shots[0])
    facts = {"speech_source": source, "speech_span_s": speech_span, "impact_frames": impacts}
    return mix, facts, envelope


def _speech_envelope(mono: np.ndarray, shot) -> np.ndarray:
    """Per-frame 0..1 loudness in shot 1 (drives the mouth)."""
    env = np.zeros(shot[1] - shot[0])
    for f in range(shot[0], shot[1]):
        seg = mono[to_samples(f / FPS, SAMPLE_RATE): to_samples((f + 1) / FPS, SAMPLE_RATE)]
        env[f - shot[0]] = np.sqrt(np.mean(seg**2))
    return np.clip(env / (env.max() or 1.0) * 1.5, 0.0, 1.0)


# ---------------------------------------------------------------------------------------------- picture
_YY, _XX = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)


def _disc(img, cx, cy, r, color):
    img[(_XX - cx) ** 2 + (_YY - cy) ** 2 <= r * r] = color


def _rect(img, x0, y0, x1, y1, color):
    img[max(0, int(y0)): max(0, int(y1)), max(0, int(x0)): max(0, int(x1))] = color


def _ball_x(local_frame: int) -> float:
    return 40.0 + 240.0 * local_frame / (SHOT_FRAMES[2] - 1)


def _draw(frame_index: int, ctx) -> np.ndarray:
    shots = _shot_frames()
    shot = next(i for i, (a, b) in enumerate(shots) if a <= frame_index < b)
    local = frame_index - shots[shot][0]
    img = np.empty((HEIGHT, WIDTH, 3), np.uint8)
    if shot == 0:  # Hana in a pink room
        img[:] = (235, 170, 190)
        _rect(img, 0, 140, WIDTH, HEIGHT, (150, 95, 80))  # wooden floor
        _rect(img, 30, 30, 90, 80, (250, 235, 200))  # window
        sway = 4.0 * np.sin(2 * np.pi * local / 48)
        _rect(img, 140 + sway, 95, 180 + sway, 150, (60, 70, 170))  # dress
        _disc(img, 160 + sway, 75, 22, (250, 215, 185))  # face
        _rect(img, 136 + sway, 50, 184 + sway, 62, (70, 40, 30))  # hair
        _disc(img, 152 + sway, 72, 2.5, (20, 20, 20))
        _disc(img, 168 + sway, 72, 2.5, (20, 20, 20))
        mouth = 1.0 + 6.0 * ctx["envelope"][local]
        _rect(img, 154 + sway, 86 - mouth / 2, 166 + sway, 86 + mouth / 2, (150, 30, 40))
    elif shot == 1:  # notes dancing on blue
        img[:] = (40, 70, 160)
        for k in range(5):
            x = 40 + 60 * k + 10 * np.sin(2 * np.pi * (local / 24 + k / 5))
            y = 90 + 30 * np.sin(2 * np.pi * (local / 12 + k / 3))  # two bounces per second = 120 bpm
            _disc(img, x, y, 8, (250, 240, 120))
            _rect(img, x + 6, y - 28, x + 9, y, (250, 240, 120))
    elif shot == 2:  # red ball on a green floor
        img[:] = (170, 215, 240)
        _rect(img, 0, FLOOR_Y, WIDTH, HEIGHT, (60, 150, 60))
        cy = FLOOR_Y - BALL_R - _ball_height(local)
        _disc(img, _ball_x(local), cy, BALL_R, (220, 30, 30))
    else:  # night sky, drifting clouds
        img[:] = (15, 20, 45)
        for (sx, sy), tw in zip(ctx["stars"], ctx["twinkle"]):
            level = 150 + 100 * (0.5 + 0.5 * np.sin(2 * np.pi * (local / 24) * 0.5 + tw))
            _disc(img, sx, sy, 1.2, (level, level, level * 0.9))
        for k in range(2):
            cx = (60 + 150 * k + 0.6 * local) % (WIDTH + 80) - 40
            _disc(img, cx, 50 + 30 * k, 14, (70, 75, 100))
            _disc(img, cx + 16, 54 + 30 * k, 11, (70, 75, 100))
        _rect(img, 0, 160, WIDTH, HEIGHT, (10, 30, 20))
    return img


# ---------------------------------------------------------------------------------------------- writing
def _write_mp4(path: Path, mix: np.ndarray, ctx) -> None:
    import av

    n_frames = _shot_frames()[-1][1]
    with av.open(str(path), "w", format="mp4") as out:
        vs = out.add_stream("libx264", rate=FPS)
        vs.width, vs.height, vs.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        vs.codec_context.time_base = Fraction(1, FPS)
        vs.options = {"crf": "20", "preset": "veryfast"}
        aus = out.add_stream("aac", rate=SAMPLE_RATE, layout="stereo")
        chunk = 1024
        audio_pos = 0
        for f in range(n_frames):
            frame = av.VideoFrame.from_ndarray(_draw(f, ctx), format="rgb24")
            frame.pts = f
            out.mux(vs.encode(frame))
            # keep the audio about one frame ahead of the picture so the muxer interleaves evenly
            target = min(mix.shape[1], to_samples((f + 1) / FPS, SAMPLE_RATE))
            while audio_pos < target:
                block = np.ascontiguousarray(mix[:, audio_pos: audio_pos + chunk])
                aframe = av.AudioFrame.from_ndarray(block, format="fltp", layout="stereo")
                aframe.sample_rate, aframe.pts = SAMPLE_RATE, audio_pos
                out.mux(aus.encode(aframe))
                audio_pos += block.shape[1]
        out.mux(vs.encode(None))
        out.mux(aus.encode(None))


def _write_shot_video(path: Path, first: int, stop: int, ctx) -> None:
    """One silent video per shot, as AnimeShooterGen writes them (input of ``avshooter generate``)."""
    import av

    with av.open(str(path), "w", format="mp4") as out:
        vs = out.add_stream("libx264", rate=FPS)
        vs.width, vs.height, vs.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        vs.codec_context.time_base = Fraction(1, FPS)
        vs.options = {"crf": "20", "preset": "veryfast"}
        for f in range(first, stop):
            frame = av.VideoFrame.from_ndarray(_draw(f, ctx), format="rgb24")
            frame.pts = f - first
            out.mux(vs.encode(frame))
        out.mux(vs.encode(None))


def _story(truth) -> dict:
    times = [(s["start_s"], s["end_s"]) for s in truth["shots"]]
    plots = [
        ("Hana introduces herself in her room.",
         "A girl with brown hair and a blue dress stands in a pink room and speaks to the viewer: "
         f"\"{SPEECH_TEXT}\""),
        ("Music plays while notes dance.",
         "Yellow musical notes bob up and down on a blue background as cheerful music plays with a steady beat."),
        ("Hana's red ball bounces across the floor.",
         "The red ball falls, bounces and hits the floor again and again as it rolls from left to right "
         "across the green floor; each landing makes a thud."),
        ("Night falls over the quiet garden.",
         "Stars twinkle in a dark night sky while grey clouds drift slowly; a soft wind blows."),
    ]
    scenes = ["room", "music", "garden", "night"]
    chars = [["Hana"], [], ["Hana's ball"], []]
    shots = []
    for (a, b), (plot, caption), scene, who in zip(times, plots, scenes, chars):
        shots.append({
            "start time": format_mmss(a),
            "end time": format_mmss(b),
            "main characters": who,
            "scene": scene,
            "visual annotation": {"plot": plot, "caption": caption},
            "avshooter": {"start_s": a, "end_s": b},
        })
    return {
        "storyline": "Hana greets the viewer, music plays, her red ball bounces across the garden floor, "
                     "and the day ends under a quiet night sky.",
        "main characters": [
            {"ID": "Hana", "appearance": "A girl with brown hair, a round face and a blue dress."},
            {"ID": "Hana's ball", "appearance": "A small shiny red rubber ball."},
        ],
        "main scenes": [
            {"ID": "room", "environment": "A pink bedroom with a bright window and a wooden floor."},
            {"ID": "music", "environment": "A plain blue background with dancing yellow musical notes."},
            {"ID": "garden", "environment": "A green lawn floor under a pale blue sky."},
            {"ID": "night", "environment": "A dark night sky with stars and drifting clouds above dark grass."},
        ],
        "shots": shots,
    }


def make_demo(out_dir, *, seed: int = 0, speech: str = "auto", shot_videos: bool = True) -> dict:
    """Render the demo clip, its story JSON and its ground truth into ``out_dir``.

    Parameters
    ----------
    out_dir : str or Path
        Folder to write ``demo.mp4``, ``demo.json`` and ``truth.json`` into (created if missing). Each
        file is written to a temporary name first and renamed, so no half-written file is left behind.
    seed : int
        Seed of every random choice (noise, click texture, star positions).
    speech : {"auto", "espeak", "librispeech"}
        Source of the spoken line; ``"auto"`` uses espeak-ng when it is on PATH.
    shot_videos : bool
        Also write ``shots/shot_NNN.mp4``: one silent video per shot, the input of ``avshooter generate``.

    Returns
    -------
    dict
        ``{"video": Path, "story": Path, "truth": Path, "shots": Path (with shot_videos), "truth_data": dict}``.
    """
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise InputError(f"make_demo: seed {seed!r} must be an integer")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    mix, facts, envelope = _soundtrack(int(seed), speech)
    rng = np.random.default_rng([int(seed), 1])
    ctx = {
        "envelope": envelope,
        "stars": rng.uniform([5, 5], [WIDTH - 5, 150], size=(30, 2)),
        "twinkle": rng.uniform(0, 2 * np.pi, size=30),
    }
    shots = _shot_frames()
    types = ["speech", "music", "effects", "ambience"]
    truth = {
        "seed": int(seed),
        "fps": FPS,
        "sample_rate": SAMPLE_RATE,
        "size": [WIDTH, HEIGHT],
        "n_frames": shots[-1][1],
        "duration_s": shots[-1][1] / FPS,
        "speech_source": facts["speech_source"],
        "speech_text": SPEECH_TEXT if facts["speech_source"] == "espeak-ng" else None,
        "cut_frames": [a for a, _ in shots[1:]],
        "cuts_s": [a / FPS for a, _ in shots[1:]],
        "shots": [],
    }
    for k, ((a, b), kind) in enumerate(zip(shots, types)):
        shot = {"index": k, "type": kind, "start_frame": a, "end_frame": b, "start_s": a / FPS, "end_s": b / FPS}
        if kind == "speech":
            shot["speech_spans_s"] = [facts["speech_span_s"]]
        if kind == "music":
            shot["tempo_bpm"] = 120.0
        if kind == "effects":
            shot["impact_frames"] = facts["impact_frames"]
            shot["impact_times_s"] = [f / FPS for f in facts["impact_frames"]]
            shot["impact_samples"] = [to_samples(f / FPS, SAMPLE_RATE) for f in facts["impact_frames"]]
        if kind == "ambience":
            shot["level_dbfs_rms"] = -45.0
        truth["shots"].append(shot)
    paths = {"video": out_dir / "demo.mp4", "story": out_dir / "demo.json", "truth": out_dir / "truth.json"}
    _atomic(paths["video"], lambda p: _write_mp4(p, mix, ctx))
    _atomic(paths["story"], lambda p: p.write_text(json.dumps(_story(truth), indent=2, ensure_ascii=False) + "\n"))
    _atomic(paths["truth"], lambda p: p.write_text(json.dumps(truth, indent=2) + "\n"))
    if shot_videos:
        paths["shots"] = out_dir / "shots"
        paths["shots"].mkdir(exist_ok=True)
        for k, (a, b) in enumerate(shots):
            _atomic(paths["shots"] / f"shot_{k:03d}.mp4", lambda p, a=a, b=b: _write_shot_video(p, a, b, ctx))
    return {**paths, "truth_data": truth}


def _atomic(path: Path, write) -> None:
    tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}{path.suffix}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", help="folder for demo.mp4, demo.json and truth.json")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--speech", choices=["auto", "espeak", "librispeech"], default="auto")
    args = parser.parse_args(argv)
    try:
        result = make_demo(args.out_dir, seed=args.seed, speech=args.speech)
    except (InputError, MediaError) as exc:
        print(f"make_demo: {exc}", file=sys.stderr)
        return 1
    truth = result["truth_data"]
    print(f"wrote {result['video']} ({truth['duration_s']:.1f} s, cuts at {truth['cuts_s']}, "
          f"speech from {truth['speech_source']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
