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
d. Japanese: CER on the Kokoro-spoken lines (``asr_eval.JA_LINES``, voice ``jf_alpha``), and the language id;
e. one ASR pass over a file's speech sliced to 3.85 s shots (what annotate does) vs one call per shot: CPU
   time and WER on a track of both clips over music with music-only stretches (~44 % speech).

Usage::

    python benchmarks/bench_asr.py [--beam 1] [--skip-speed] [--skip-mixtures] [--skip-file] [--skip-ja]
                                    [--music vibeace ...]
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

MEDIA = Path(__file__).resolve().parents[2] / "shared" / "media" / "audio"
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

    return FasterWhisperASR(model="packaged:base", compute_type="int8", cpu_threads=2, beam_size=beam)


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


def japanese(beam: int) -> None:
    from avshooter.audio.vad import speech_ranges
    from avshooter.backends.speech import load_tts

    tts = load_tts("kokoro-ja", voice="jf_alpha")
    asr = _asr(beam)
    refs, hyps, langs, tts_s, audio_s = [], [], [], 0.0, 0.0
    print(f"\n(d) Japanese lines spoken by Kokoro (jf_alpha), beam {beam}: CER")
    for line in asr_eval.JA_LINES:
        (wav, sr), w, _ = _timed(tts.synthesize, line)
        tts_s += w
        audio_s += wav.shape[1] / sr
        result = asr.transcribe(wav, sr, speech=speech_ranges(wav, sr))
        refs.append(line)
        hyps.append(result["text"])
        langs.append((result["language"], result["language_prob"]))
        print(f"  {100 * asr_eval.cer([line], [result['text']]):5.1f} %  {line}  ->  {result['text']}  "
              f"[{result['language']} {result['language_prob']:.2f}]")
    ja = sum(1 for code, _ in langs if code == "ja")
    print(f"  CER {100 * asr_eval.cer(refs, hyps):.1f} % over {len(refs)} lines; language 'ja' on {ja}/{len(langs)} "
          f"(min prob {min(p for _, p in langs):.2f}); Kokoro {audio_s:.1f} s of speech in {tts_s:.1f} s")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--beam", type=int, default=1, help="beam size of (c), (d) and (e)")
    ap.add_argument("--music", nargs="+", default=list(MUSIC), choices=list(MUSIC))
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--skip-mixtures", action="store_true")
    ap.add_argument("--skip-ja", action="store_true")
    ap.add_argument("--skip-file", action="store_true", help="skip (e), per file vs per shot")
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
        japanese(args.beam)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
