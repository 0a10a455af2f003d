"""Command line: a thin shell over the API. ``build_parser()`` apart from ``main(argv) -> int``.

Exit status: 0 done; 1 an error of ours (one line on stderr; with ``--debug`` the traceback first, with
the cause an error was raised from, which the one line leaves out) or a batch with failed items; 2 bad
usage (argparse); 3 ``annotate VIDEO``: that one video was skipped because another live run holds its
lock (a batch with locked videos says so in its summary and stays 0); 130 interrupted.

Every command takes ``--out`` (``--to`` is kept as a deprecated alias on export and report), every on/off
option has its opposite (``--sync`` / ``--no-sync``), and ``-v`` / ``--debug`` go before or after the command.
"""
from __future__ import annotations

import argparse
import logging
import sys

from . import __version__

__all__ = ["EXIT_LOCKED", "build_parser", "main"]

EXIT_LOCKED = 3
"""Exit status of ``annotate VIDEO`` when that one video is locked by another live run (nothing was done)."""


def _logging_options(parser: argparse.ArgumentParser, *, default) -> None:
    """``--debug`` and ``-v``: on the main parser with their defaults, on each command with none (SUPPRESS),
    so that one given before the command is not reset by the command's parser."""
    parser.add_argument("--debug", action="store_true", default=default,
                        help="show tracebacks, with the cause of the error (exit status stays 1)")
    parser.add_argument("-v", "--verbose", action="store_true", default=default, help="log each step")


def _on_off(parser, name: str, help: str, default=None) -> None:
    """``--NAME`` / ``--no-NAME`` (None when neither is given: the config file's value stands)."""
    parser.add_argument(f"--{name}", action=argparse.BooleanOptionalAction, default=default, help=help)


def _out_options(parser, *, required: bool, help: str) -> None:
    """``--out`` and its deprecated alias ``--to`` (export and report said ``--to`` before 0.2.0)."""
    parser.add_argument("--out", dest="dest", help=help)
    parser.add_argument("--to", dest="dest_to", help=argparse.SUPPRESS)
    parser.set_defaults(out_required=required)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="avshooter", description="Audio for AnimeShooter-style anime data.",
                                     epilog="exit status: 0 done, 1 error or failed items, 2 bad usage, "
                                            "3 the one video given is locked by another run, 130 interrupted")
    parser.add_argument("--version", action="version", version=f"avshooter {__version__}")
    _logging_options(parser, default=False)
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name: str, **kwargs) -> argparse.ArgumentParser:
        p = sub.add_parser(name, **kwargs)
        _logging_options(p, default=argparse.SUPPRESS)
        return p

    a = command("annotate", help="build AnimeShooter-audio records from videos")
    a.add_argument("video", nargs="?", help="a video or audio file")
    a.add_argument("--story", help="the video's story JSON (AnimeShooter format); without it shots are detected")
    a.add_argument("--manifest", help="a text file of videos (VIDEO or VIDEO<TAB>STORY per line, or JSON lines)")
    a.add_argument("--dataset", metavar="ANNOTATIONS_DIR",
                   help="a released AnimeShooter annotation folder (one JSON per video); needs --videos")
    a.add_argument("--videos", metavar="VIDEOS_DIR", help="with --dataset: the videos, named '<video ID>.<ext>'")
    a.add_argument("--segments", help="with a released per-video story: segments to annotate, e.g. '0,2' or '1-3'")
    a.add_argument("--lock-max-age", type=float, default=None, metavar="SECONDS",
                   help="a video lock not refreshed for this long is stale and taken over (default 3600)")
    a.add_argument("--out", required=True, help="output folder (OUT/<video_id>/story.json, OUT/manifest.jsonl)")
    a.add_argument("--workers", type=int, default=1, help="worker processes for --manifest (default 1)")
    a.add_argument("--engine", choices=("local", "ray"), default="local",
                   help="local worker processes, or Ray Data (a local Ray, or the cluster at --ray-address)")
    a.add_argument("--ray-address", help="address of a running Ray cluster (default: $RAY_ADDRESS, else local)")
    a.add_argument("--config", help="YAML config (see configs/annotate/); command-line options win")
    a.add_argument("--sample-rate", type=int, help="rate of the stems in Hz (default 44100)")
    a.add_argument("--channels", type=int, choices=(1, 2), help="1 or 2 (default: mono stays mono, else stereo)")
    a.add_argument("--device", help="device of the model backends: cpu, cuda, cuda:1 ... (default cpu)")
    a.add_argument("--asr", help="speech recognition: faster-whisper (default), whisper or none")
    _on_off(a, "paper-filter", "drop shots with prolonged speech or music, as the AnimeShooter paper did "
                               "(default: off, or the config's)")
    _on_off(a, "context", "the MiniLM visual-context step (default: on, or the config's)")
    _on_off(a, "progress", "a progress bar (default: on)", default=True)

    g = command("generate", help="generate, sync, mix and mux the soundtrack of a story's shot videos")
    g.add_argument("--story", help="the story JSON (AnimeShooter format; shot times optional with a folder of shots)")
    g.add_argument("--manifest", help="many stories: STORY<TAB>VIDEOS[<TAB>PROMPTS] per line, or JSON lines "
                                      "{\"story\", \"videos\", \"prompts\"}; each into OUT/<story name>/")
    g.add_argument("--workers", type=int, default=1, help="worker processes (or Ray actors) for --manifest (default 1)")
    g.add_argument("--engine", choices=("local", "ray"), default="local",
                   help="local worker processes, or Ray Data (a local Ray, or the cluster at --ray-address)")
    g.add_argument("--ray-address", help="address of a running Ray cluster (default: $RAY_ADDRESS, else local)")
    _on_off(g, "progress", "a progress bar (--manifest; default: on)", default=True)
    g.add_argument("--videos",
                   help="a folder with one video per shot (shot order = names with numbers as numbers: shot_2 "
                        "before shot_10), or one video cut by the story's times")
    g.add_argument("--out", required=True, help="output folder (story.mp4, shots/, soundtrack.flac, generate.json)")
    g.add_argument("--prompts", help="an edited prompts.json from an earlier run (else prompts are built)")
    g.add_argument("--config", help="YAML config (see configs/generate/); command-line options win")
    g.add_argument("--tta", help="text-to-audio backend: retrieval (offline), audioldm2, stable-audio, "
                                         "stable-audio-3, tangoflux")
    g.add_argument("--bank", help="for --tta retrieval: a folder that `avshooter annotate` wrote")
    g.add_argument("--device", help="cpu, cuda, cuda:1 ...")
    g.add_argument("--target-lufs", type=float, help="integrated loudness of the mix (default -23, EBU R128)")
    g.add_argument("--seed", type=int, help="seed of every generated clip, with or without --prompts: each "
                                            "clip's seed is a hash of it, the layer and the shot or scene (default 0)")
    _on_off(g, "sync", "shift effects onto visual events (default: on, or the config's)")
    _on_off(g, "ambience", "one ambience bed per scene (default: on, or the config's)")
    _on_off(g, "music", "music where the prompts carry one (default: on, or the config's)")

    p = command("prompts", help="write a story's prompts.json (effects, music, dialogue, ambience) to review "
                       "and edit before `generate --prompts`; nothing is generated")
    p.add_argument("--story", required=True, help="the story JSON (AnimeShooter format; shot times not needed)")
    p.add_argument("--videos", help="the shot videos generate will use (checked against the story: one per shot)")
    p.add_argument("--out", required=True, help="the prompts.json to write")
    p.add_argument("--config", help="YAML config (see configs/generate/): seed, prompt_writer (rules | llm) + options")
    p.add_argument("--seed", type=int, help="story seed; each shot's seed derives from it (default 0)")

    x = command("export", help="export an annotate output to Hugging Face datasets, WebDataset or lhotse")
    x.add_argument("root", help="the --out folder of `avshooter annotate`")
    x.add_argument("--format", required=True, choices=("hf", "webdataset", "lhotse"), dest="fmt",
                   help="hf: Parquet shards with Audio columns; webdataset: tar shards; lhotse: cuts/recordings/supervisions")
    _out_options(x, required=True, help="output folder (a re-run skips finished shards)")
    x.add_argument("--shard-size", type=int, help="shots per shard (default 200)")
    _on_off(x, "progress", "a progress bar (default: on)", default=True)

    b = command("bank", help="build (or show) the index of a retrieval bank's sound events: every timed "
                       "AudioSet label of an annotate output, with its stem, span, score and loudness")
    b.add_argument("bank", help="the --out folder of `avshooter annotate` (the index goes to BANK/sound_events.npz)")
    b.add_argument("--rebuild", action="store_true", help="build the index even when it is up to date")
    b.add_argument("--classes", type=int, default=10, help="how many classes to list, most events first (default 10)")

    r = command("report", help="HTML pages (frames, spectrograms, players, labels) of an annotate or generate output")
    r.add_argument("path", help="the --out folder of `avshooter annotate` or of `avshooter generate`")
    _out_options(r, required=False, help="folder of the pages (default PATH/report)")
    _on_off(r, "progress", "a progress bar (default: on)", default=True)

    y = command("sync", help="how far a video's sound (or another audio file) is out of sync with its picture")
    y.add_argument("video", help="the video (its picture; its own sound track unless --audio)")
    y.add_argument("--audio", help="an audio (or video) file to check against the picture instead")
    y.add_argument("--start", type=float, default=0.0, help="window start in seconds, of picture and audio (default 0)")
    y.add_argument("--end", type=float, default=None, help="window end in seconds (default: the end of the video)")
    y.add_argument("--max-shift", type=float, default=0.5, help="largest shift searched either way, s (default 0.5)")
    y.add_argument("--alpha", type=float, default=0.01, help="significance level of a shift (default 0.01)")
    y.add_argument("--model", help="a learned sync model instead (synchformer: a folder or hub id with config.json "
                                   "+ model.safetensors); default: the offline cross-correlation")
    y.add_argument("--device", default="cpu", help="with --model: cpu, cuda, cuda:N or mps")
    y.add_argument("--dtype", default="float32", help="with --model: float32, float16 or bfloat16 (cuda)")
    y.add_argument("--json", action="store_true", help="print the result as JSON (shift_s: the shift to ADD to the audio)")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if "dest_to" in args:  # export, report: --out, or the deprecated --to
        if args.dest and args.dest_to and args.dest != args.dest_to:
            parser.error(f"{args.command}: --out and --to (its old name) name different folders")
        if args.dest_to:
            print(f"avshooter: warning: {args.command} --to is deprecated, use --out", file=sys.stderr)
        args.dest = args.dest or args.dest_to
        if args.out_required and not args.dest:
            parser.error(f"{args.command}: the following arguments are required: --out")
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="avshooter: %(levelname)s: %(message)s")
    from .errors import AvshooterError, format_chain, system_error

    command = {"annotate": _annotate, "generate": _generate, "prompts": _prompts, "export": _export,
               "report": _report, "sync": _sync, "bank": _bank}[args.command]
    try:
        return command(args)
    except AvshooterError as exc:
        if args.debug:  # the traceback with the cause our one line leaves out
            print(format_chain(exc), end="", file=sys.stderr)
        print(f"avshooter: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # the system's fault (disk full, permissions, ...): told as such
        if args.debug:  # the traceback with the cause our one line leaves out
            print(format_chain(exc), end="", file=sys.stderr)
        print(f"avshooter: {system_error(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("avshooter: interrupted; re-run the same command to resume", file=sys.stderr)
        return 130


def _annotate(args) -> int:
    from .annotation.batch import Item, annotate_many, read_video_list
    from .config import load_config
    from .errors import InputError

    if sum(map(bool, (args.video, args.manifest, args.dataset))) != 1:
        raise InputError("give either one VIDEO or --manifest FILE (or --dataset ANNOTATIONS_DIR --videos VIDEOS_DIR)")
    if args.manifest and args.story:
        raise InputError("--story goes with one VIDEO; in a manifest put VIDEO<TAB>STORY per line")
    if bool(args.dataset) != bool(args.videos):
        raise InputError("--dataset ANNOTATIONS_DIR and --videos VIDEOS_DIR go together")
    if args.dataset and args.story:
        raise InputError("--story goes with one VIDEO; --dataset reads the stories from ANNOTATIONS_DIR")
    from .io.locks import DEFAULT_MAX_AGE_S
    from .io.released import parse_segments

    segments = parse_segments(args.segments) if args.segments else None
    if segments and not (args.dataset or args.story):
        raise InputError("--segments needs a released per-video story (--story FILE or --dataset)")
    run = dict(lock_max_age_s=args.lock_max_age if args.lock_max_age is not None else DEFAULT_MAX_AGE_S)
    context = {True: "minilm", False: "none", None: None}[args.context]
    config = load_config(
        args.config, sample_rate=args.sample_rate, channels=args.channels, paper_filter=args.paper_filter,
        context=context, device=args.device, asr=args.asr,
    )
    kwargs = dict(out_dir=args.out, config=config, workers=args.workers, progress=args.progress,
                  debug=args.debug, engine=args.engine, ray_address=args.ray_address, **run)
    if args.dataset:
        from .annotation.batch import annotate_dataset

        items = None
        summary = annotate_dataset(args.dataset, args.videos, segments=segments, **kwargs)
    else:
        seg = tuple(segments) if segments else None
        items = read_video_list(args.manifest) if args.manifest else [Item(args.video, args.story, None, seg)]
        summary = annotate_many(items, **kwargs)
    if items is not None and len(items) == 1 and summary.failed:
        print(f"avshooter: error: {summary.failed[0][1]}", file=sys.stderr)
        return 1
    if args.video and summary.locked:  # one VIDEO (not a batch, even of one): not a silent success
        video_id, reason = summary.locked[0]
        print(f"avshooter: skipped {video_id}: {reason}; another run is annotating it, nothing was done "
              f"(exit status {EXIT_LOCKED})", file=sys.stderr)
        return EXIT_LOCKED
    for line in summary.lines():
        print(line, file=sys.stderr if line.startswith("FAILED") else sys.stdout)
    return 1 if summary.failed else 0


def _generate(args) -> int:
    from .config import GenerateConfig, load_config
    from .generation.pipeline import generate

    from .errors import InputError

    if bool(args.story) == bool(args.manifest):
        raise InputError("give either --story STORY --videos VIDEOS, or --manifest FILE")
    if args.manifest and (args.videos or args.prompts):
        raise InputError("--videos and --prompts go with --story; in a manifest put STORY<TAB>VIDEOS[<TAB>PROMPTS]")
    if args.story and not args.videos:
        raise InputError("--story needs --videos: a folder with one video per shot, or one video")
    config = load_config(args.config, cls=GenerateConfig, tta=args.tta, bank=args.bank, device=args.device,
                         target_lufs=args.target_lufs, seed=args.seed, sync=args.sync, ambience=args.ambience,
                         music=args.music)
    if args.manifest:
        from .generation.batch import generate_many, read_story_list

        summary = generate_many(read_story_list(args.manifest), out_dir=args.out, config=config,
                                workers=args.workers, progress=args.progress, debug=args.debug,
                                engine=args.engine, ray_address=args.ray_address)
        for line in summary.lines():
            print(line, file=sys.stderr if line.startswith("FAILED") else sys.stdout)
        return 1 if summary.failed else 0
    report = generate(args.story, args.videos, out_dir=args.out, config=config, prompts=args.prompts)
    mix = report["mix"]
    loudness = ("silent mix" if mix["integrated_lufs"] is None
                else f"{mix['integrated_lufs']:.1f} LUFS, {mix['true_peak_dbtp']:.1f} dBTP")
    silent = len(report.get("silent_layers") or [])
    from .backends.text_to_audio.event_retrieval import missing_sounds

    missing = missing_sounds(report)
    print(f"wrote {args.out}/story.mp4 ({report['duration_s']:.3f} s, {len(report['shots'])} shots, "
          f"video {report['mux']['story']['video']}), {loudness}"
          + (f"; {silent} layer(s) left silent, no good match (see generate.json)" if silent else "")
          + (f"; missing in the bank: {', '.join(missing)}" if missing else ""))
    return 0


def _prompts(args) -> int:
    from .config import GenerateConfig, load_config
    from .generation.prompts import write_prompts

    config = load_config(args.config, cls=GenerateConfig, seed=args.seed)
    prompts = write_prompts(args.story, args.out, videos=args.videos, config=config)
    n_fx = sum(bool(s.effects) for s in prompts.shots)
    n_music = sum(s.music is not None for s in prompts.shots)
    n_lines = sum(len(s.dialogue) for s in prompts.shots)
    print(f"wrote {args.out} ({len(prompts.shots)} shots: {n_fx} with effects, {n_music} with music, "
          f"{n_lines} dialogue lines, {len(prompts.ambience)} ambience scenes; writer {prompts.writer})")
    return 0


def _export(args) -> int:
    from .export import export

    summary = export(args.root, args.fmt, args.dest, shard_size=args.shard_size, progress=args.progress)
    print(f"exported {summary['shots']} shots to {args.dest} as {args.fmt}: {len(summary['shards'])} shards "
          f"({summary['written']} written, {summary['skipped']} already finished)")
    return 0


def _bank(args) -> int:
    from .backends.text_to_audio.bank_index import INDEX_FILE, load_index

    index = load_index(args.bank, rebuild=args.rebuild)
    info = index.summary()
    how = (f"built in {index.build_s:.2f} s ({index.build_s / max(info['audio_s'], 1e-9) * 3600:.1f} s per bank hour)"
           if index.build_s is not None else "up to date")
    print(f"bank {args.bank}: {info['events']} sound events in {info['shots']} shots ({info['audio_s']:.1f} s of audio); "
          f"{INDEX_FILE} {how}")
    print("layers: " + ", ".join(f"{k} {v}" for k, v in info["layers"].items()))
    top = list(info["classes"].items())[: max(0, args.classes)]
    if top:
        print("classes: " + ", ".join(f"{k} {v}" for k, v in top))
    return 0


def _report(args) -> int:
    from .report import report

    pages = report(args.path, dest=args.dest, progress=args.progress)
    print(f"wrote {len(pages)} pages; open {pages[0]}")
    return 0


def _sync(args) -> int:
    import json

    from .generation.offset import check_sync

    model = None
    if args.model:
        from .backends.synchformer_sync import SynchformerSync

        model = SynchformerSync.from_pretrained(args.model, device=args.device, dtype=args.dtype)
    est = check_sync(args.video, args.audio, start_s=args.start, end_s=args.end, max_shift_s=args.max_shift,
                     alpha=args.alpha, model=model)
    if args.json:
        print(json.dumps(est.to_dict()))
    elif est.shift_s == 0.0:
        print(f"{'no shift (abstained)' if est.abstained else 'no shift'}: {est.reason} (best {est.best_shift_s:+.3f} s, score {est.score:.3f}, "
              f"margin {est.margin:.3f}, p {est.p_peak:.3f}/{est.p_zero:.3f})")
    else:
        late = "late" if est.shift_s < 0 else "early"
        print(f"the audio is {abs(est.shift_s):.3f} s {late}: shift it by {est.shift_s:+.3f} s (score {est.score:.3f}, "
              f"margin {est.margin:.3f}, p {est.p_peak:.3f}/{est.p_zero:.3f})")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
