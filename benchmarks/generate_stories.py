"""Modes of ``bench_generate.py`` for the AnimeShooterGen test set (run by hand; prints tables).

``--stories N``: N synthetic stories of 4 shots, like AnimeShooterGen's output (one silent 1280x720
24 fps H.264 video per shot, shots of 3-5 s (mean about the paper's 3.85 s), captions and no times),
generated one after another in this process on the OFFLINE DEFAULT (retrieval from an annotated bank,
sync on, ambience, music, dialogue with espeak-ng where a caption quotes a line, mix, mux). The shot
videos are drawn from a pool of 8 rendered clips (rendering 800 clips would dominate the run); the
captions are written from a list of 24 anime shot captions, so stories differ in prompts, layers and
lengths. It prints stories per minute (the model loaded once beforehand, as a batch worker does) and
the share of time inside the text-to-audio backend's ``generate`` against everything else, with the
per-stage breakdown of ``bench_generate.py``. The bank is the annotated demo, or ``--bank DIR`` (any
``avshooter annotate`` output; e.g. the shared test media annotated with ``annotate --manifest``). The AnimeShooterGen test set is 200 such stories: the
table extrapolates the time for it from the measured rate (a figure for THIS machine).

``--null-scores``: the null distribution behind the retrieval backend's ``min_score`` (see
:mod:`avshooter.backends.text_to_audio.retrieval`): MiniLM cosine of every sound-vocabulary label
against every label of another type.
"""
from __future__ import annotations

import json
import shutil
import time
from fractions import Fraction
from pathlib import Path

FPS = 24
POOL = 8
CAPTIONS = [
    ("street", "A boy runs down a rainy street, splashing through puddles as cars pass by."),
    ("street", "A girl waves at her friend and shouts: \"Wait for me!\""),
    ("street", "A red car stops at the crossing and honks its horn twice."),
    ("school", "Students open their desks and papers rustle as the bell rings."),
    ("school", "The teacher writes on the blackboard with a squeaking piece of chalk."),
    ("school", "A boy slams his notebook on the desk and says: \"I finished it!\""),
    ("school", "Cheerful piano music plays as the class laughs together."),
    ("forest", "Birds sing in the tall trees while a stream flows over smooth rocks."),
    ("forest", "A fox steps on dry leaves and a twig snaps under its paw."),
    ("forest", "Wind blows through the branches as the girl looks up at the sky."),
    ("forest", "A gentle flute melody plays while fireflies drift in the dusk."),
    ("kitchen", "A mother chops vegetables on a wooden board and a pot boils on the stove."),
    ("kitchen", "Water pours into a glass and the boy drinks it in one go."),
    ("kitchen", "The kettle whistles and the girl says: \"Tea is ready!\""),
    ("kitchen", "A plate falls from the table and shatters on the floor."),
    ("battle", "A swordsman swings his blade and it clashes against a shield."),
    ("battle", "An explosion throws dust into the air as the hero jumps away."),
    ("battle", "Dramatic orchestral music swells as the two rivals face each other."),
    ("battle", "The hero lands on the ground with a heavy thud and draws a breath."),
    ("night", "Crickets chirp in the grass under a quiet starry sky."),
    ("night", "A dog barks in the distance as a door creaks open."),
    ("night", "The girl whispers: \"Good night, everyone.\" and turns off the lamp."),
    ("night", "Rain taps on the window while thunder rumbles far away."),
    ("night", "Footsteps echo in the empty corridor as the boy walks slowly."),
]
SCENES = {"street": "A busy city street with shops, cars and wet asphalt.",
          "school": "A bright classroom with wooden desks and a large blackboard.",
          "forest": "A green forest with tall trees and a small stream.",
          "kitchen": "A small family kitchen with a stove and a wooden table.",
          "battle": "A rocky battlefield under a grey sky.",
          "night": "A quiet town at night under a starry sky."}


def build_pool(workdir: Path, frame_fn, width: int = 1280, height: int = 720) -> list[Path]:
    """``POOL`` silent H.264 shot videos at ``width`` x ``height``, 24 fps, 3-5 s long (cached)."""
    import av
    import numpy as np

    folder = workdir / f"pool_{width}x{height}"
    files = [folder / f"clip_{k:02d}.mp4" for k in range(POOL)]
    if (folder / ".done").exists():
        return files
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    grid = np.mgrid[0:height, 0:width].astype(np.float32)
    for k, path in enumerate(files):
        frames = round((3.0 + 2.0 * k / (POOL - 1)) * FPS)  # 3.0 .. 5.0 s, mean 4.0 s
        with av.open(str(path), "w", format="mp4") as out:
            vs = out.add_stream("libx264", rate=FPS)
            vs.width, vs.height, vs.pix_fmt = width, height, "yuv420p"
            vs.codec_context.time_base = Fraction(1, FPS)
            vs.options = {"crf": "20", "preset": "veryfast"}
            for i in range(frames):
                frame = av.VideoFrame.from_ndarray(frame_fn(i, k, width, height, grid), format="rgb24")
                frame.pts = i
                out.mux(vs.encode(frame))
            out.mux(vs.encode(None))
    (folder / ".done").write_text("ok\n")
    return files


def build_stories(workdir: Path, pool: list[Path], n: int, seed: int = 0) -> list[tuple[Path, Path]]:
    """``n`` stories of 4 shots without times, each with its folder of shot videos (links to the pool)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    root = workdir / f"stories_{n}"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    out = []
    for s in range(n):
        picks = rng.choice(len(CAPTIONS), size=4, replace=False)
        shots = []
        for k in picks:
            scene, caption = CAPTIONS[int(k)]
            shots.append({"main characters": [], "scene": scene, "visual annotation": {"caption": caption}})
        scenes = sorted({shot["scene"] for shot in shots})
        story = {"storyline": f"Synthetic story {s}.", "main characters": [],
                 "main scenes": [{"ID": sc, "environment": SCENES[sc]} for sc in scenes], "shots": shots}
        path = root / f"story_{s:03d}.json"
        path.write_text(json.dumps(story, indent=1))
        folder = root / f"story_{s:03d}"
        folder.mkdir()
        for j, clip in enumerate(rng.choice(len(pool), size=4, replace=True)):
            (folder / f"shot_{j:03d}.mp4").symlink_to(pool[int(clip)])
        out.append((path, folder))
    return out


def run_stories(args, bench) -> None:
    """The ``--stories N`` mode (``bench``: the bench_generate module, for its helpers)."""
    from avshooter.config import GenerateConfig
    from avshooter.generation.pipeline import generate

    workdir = Path(args.workdir)
    demo = bench.build_demo(workdir)
    bank = Path(args.bank) if args.bank else bench.build_bank(demo, workdir)
    t0 = time.perf_counter()
    pool = build_pool(workdir, bench._frame)
    render_s = time.perf_counter() - t0
    stories = build_stories(workdir, pool, args.stories)
    config = GenerateConfig(bank=str(bank))
    tta, load = bench.load_backend(config)
    load_s = load["wall"]
    timer = bench.install_stage_timer(tta)
    failures, silent, shots, seconds = [], 0, 0, 0.0
    r: dict = {}
    try:
        with bench.measured(r):
            for k, (story, videos) in enumerate(stories):
                try:
                    report = generate(story, videos, out_dir=workdir / "out_stories" / story.stem, config=config)
                except Exception as exc:  # a benchmark reports failures, it does not stop at the first
                    failures.append((story.name, f"{type(exc).__name__}: {exc}"))
                    continue
                silent += len(report["silent_layers"])
                shots += len(report["shots"])
                seconds += report["duration_s"]
                print(f"  story {k + 1}/{len(stories)}: {report['duration_s']:.1f} s, "
                      f"{len(report['silent_layers'])} silent layer(s)", flush=True)
    finally:
        timer.restore()
    tta_s = timer.seconds.get("text-to-audio model: backend.generate", 0.0)
    done = len(stories) - len(failures)
    rate = done / (r["wall"] / 60) if r["wall"] > 0 else float("nan")
    print(f"\n## generate: {done} synthetic AnimeShooterGen-style stories (4 shots, 1280x720 24 fps), offline default\n")
    print(bench.machine())
    print(f"bank {bank}: {tta.info()['bank_entries']} entries; shot pool rendered in {render_s:.1f} s (cached); "
          f"model load {load_s:.2f} s (once)\n")
    rows = [
        ("stories generated / failed", f"{done} / {len(failures)}"),
        ("shots, seconds of video", f"{shots}, {seconds:.1f} s"),
        ("layers left silent (no good match)", f"{silent}"),
        ("wall / CPU seconds", f"{r['wall']:.1f} / {r['cpu']:.1f}"),
        ("stories per minute", f"{rate:.2f}"),
        ("seconds per story", f"{r['wall'] / max(done, 1):.2f}"),
        ("text-to-audio backend.generate", f"{tta_s:.2f} s ({100 * tta_s / r['wall']:.1f} %)"),
        ("everything else (share outside the model)", f"{r['wall'] - tta_s:.2f} s ({100 * (1 - tta_s / r['wall']):.1f} %)"),
        ("200 stories at this rate (1 process)", f"{200 / rate:.1f} min" if rate > 0 else "n/a"),
    ]
    print(bench.table(rows, ["measure", "value"]))
    stages = sorted(timer.seconds.items(), key=lambda kv: -kv[1])
    print("\nper stage (exclusive wall seconds, all stories):\n")
    print(bench.table([(name, f"{sec:.2f}", f"{100 * sec / r['wall']:.1f} %", timer.calls[name]) for name, sec in stages],
                      ["stage", "seconds", "share", "calls"]))
    for name, reason in failures:
        print(f"FAILED {name}: {reason}")


def null_scores() -> None:
    """The ``--null-scores`` mode: the null distribution of MiniLM scores behind retrieval's ``min_score``."""
    import numpy as np

    from avshooter.embedding import embed_texts

    root = Path(__file__).resolve().parents[1]
    rows = [line.split("\t") for line in (root / "avshooter" / "data" / "sound_vocabulary.txt").read_text().splitlines()
            if line.strip() and not line.startswith("#")]
    labels, types = [r[0].strip() for r in rows], [r[1].strip() for r in rows]
    vecs = embed_texts(labels)
    scores = vecs @ vecs.T
    cross = np.array([scores[i, j] for i in range(len(labels)) for j in range(len(labels)) if types[i] != types[j]])
    same = np.array([scores[i, j] for i in range(len(labels)) for j in range(len(labels))
                     if i != j and types[i] == types[j]])
    print(f"\n## MiniLM cosine between sound-vocabulary labels ({len(labels)} labels)\n")
    print("| pairs | n | mean | sd | p50 | p95 | p99 |\n|---|---|---|---|---|---|---|")
    for name, x in (("different type (null)", cross), ("same type, different label", same)):
        p50, p95, p99 = np.percentile(x, [50, 95, 99])
        print(f"| {name} | {x.size} | {x.mean():.3f} | {x.std():.3f} | {p50:.3f} | {p95:.3f} | {p99:.3f} |")
