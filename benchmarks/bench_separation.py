"""Separation, measured: SI-SDR of each stem against the true source, on 12 s mixtures of known stems.

Each mixture: two spoken lines (dialogue) with silence around and between them, a music piece and an
effects/bed recording, music and effects each 3-10 dB under the speech (RMS of the music / effects over
the clip against the RMS of the speech over its lines). Two layouts of the SAME sources:

- ``mono``: one channel;
- ``stereo`` (film-like): dialogue in the centre (L = R), music in stereo (the file's own stereo, or a mono
  piece widened by two different decorrelating all-pass-like filters), effects panned (constant power).

Every mixture goes through the entry point annotate uses: the configured separation backend
(``load_backend("separation", "dsp", options=...)``, its ``.separate(wav, sr, speech=...)``) with the speech
ranges silero-vad finds on the mixture (as the pipeline passes them), at 44.1 kHz. Per stem: SI-SDR of the
mixture (the do-nothing baseline), of our stem, and of the oracle ideal ratio mask (power ratio, per
channel) on the same STFT (the limit of any mask method on that grid), and the improvement over the
mixture. Also: the dialogue stem's level (RMS dBFS) more than 0.2 s from any true line (the energy of all
mixtures pooled, and the worst mixture), and on the speech
ALONE (no music, no effects) the share of its energy the separator puts in effects and in music.

Sources are split BY FILE (nothing in the separator was tuned on "test"):

- speech  dev: libri1, librispeech_1320, librispeech_3575, espeak en-us line, kokoro jf_alpha line
          test: libri2, librispeech_6829, librispeech_8230, vctk_p240, fleurs_ja, espeak en-gb line,
                kokoro jm_kumo line
- music   dev: vibeace, trumpet           test: nutcracker, jazz_guitar (stereo), galway (stereo)
- effects dev: typing, robin              test: applause, train, car_engine

Two more splits (issue 18, mono: the VAD fires on crowds, applause and music where no one speaks; the old
dev had no crowd), from sources outside the repo (``--extra-beds DIR``, default ``../sep_media``: files
of IBM/MAX-Audio-Classifier ``samples/``, licences in that folder's SOURCES.md; never downloaded here) and
chatter beds built from TTS talkers who never speak a target line (``babble:NAME``, :func:`_babble`):

- ``dev-crowd`` (tuned on, with ``dev``): dev speech; music vibeace, trumpet, ibmmax_cinematic; effects
  ibmmax_crowd_cheering, babble:dev (kokoro jf_gongitsune, espeak-ng fr, de, es, en-029).
- ``test2`` (held out; fixed before any tuning on dev-crowd, read once): speech libri2, librispeech_6829,
  vctk_p240, fleurs_ja, kokoro jf_nezumi (lines of its own); music ibmmax_piano, ibmmax_guitar,
  ibmmax_arcade_music; effects babble:test2 (kokoro jf_tebukuro, espeak-ng it, pt, nl, en-sc),
  ibmmax_thunder, ibmmax_rain. Run with ``--mixes 9`` (3 of them on the chatter bed).

Two more (issue 18's held-out shape names "an orchestral or SUNG piece"; the splits above hold no singing):
the music is a song whose vocals are music, not dialogue (its true stem is the whole song). Real songs and
a real a-cappella singer from ``--extra-beds`` (SOURCES.md), and sung pieces made from real read speech
(``sung:NAME``, :mod:`sung`: the WORLD vocoder, ``pip install pyworld-prebuilt``; singers from
``--ja-dir``, default ``../ja_speech``, its README.md), centred over an instrumental:

- ``dev-sung`` (tuned on): dev speech; music sung:dev (JSUT and JVS voices over vibeace), sung:dev2 (JSUT over
  ibmmax_cinematic), spleeter_slow_motion_dream (a song); effects typing, robin, ibmmax_crowd_cheering.
- ``test-sung`` (held out, read once): test2 speech; music fishin_karissa_hobbs (a song), sung:test (the CSD
  a-cappella singer over ibmmax_piano), sung:test2 (ReazonSpeech and LibriSpeech voices over nutcracker);
  effects ibmmax_thunder, ibmmax_rain, applause. Run with ``--mixes 12``.

One more, in the issue's held-out shape exactly and from files never used before (``--fresh-dir DIR``, default
``../sep_media_fresh``, its SOURCES.md: LJ Speech, LibriSpeech, VCTK, CMU ARCTIC and JVS readers; orchestral
pieces from librosa-data and Wesnoth, sung metal from Muldjord; thunder, rain and a cheering crowd from
Blanket, Moodist, SuperTux, Ardentryst and Tux Football), fixed before it was first run:

- ``test3`` (held out): a read line + an orchestral or sung piece + thunder, rain or a cheering crowd.
  Run with ``--mixes 12``.

Spoken lines, chatter beds and sung pieces are made once and cached under the workdir.

Run:  .venv/bin/python benchmarks/bench_separation.py [--split dev|test|dev-crowd|test2|dev-sung|test-sung|all|a,b]
      [--variants ...]
      [--mixes N]   (variants: ``default`` or ``name:key=value,key=value`` of the dsp options)
      --cost VIDEO  CPU seconds per input minute of the separation on 60 s of a long input, per variant
      --singing none  the separator's stems as they are (default: annotate's singing step after it, as annotate)
      --cli         the stems the real CLI writes (``avshooter annotate --manifest``, default config: its own VAD
                    and ASR on the 16 kHz analysis track), scored the same way
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
MEDIA = ROOT.parent / "shared" / "media"
EXTRA_BEDS = ROOT.parent / "sep_media"  # --extra-beds
JA_DIR = ROOT.parent / "ja_speech"  # --ja-dir
FRESH_DIR = ROOT.parent / "sep_media_fresh"  # --fresh-dir
SR = 44100
CLIP_S = 12.0
OUTSIDE_MARGIN_S = 0.2

SPEECH = {
    "dev": ["audio/libri1_5703-47212-0000.hq.ogg", "speech/librispeech_1320_00000_rtvc.mp3",
            "speech/librispeech_3575_00000_rtvc.mp3", "tts:espeak:en-us", "tts:kokoro:jf_alpha"],
    "test": ["audio/libri2_3436-172162-0000.hq.ogg", "speech/librispeech_6829_00000_rtvc.mp3",
             "speech/librispeech_8230_00000_rtvc.mp3", "speech/vctk_p240_00000_rtvc.mp3",
             "speech/fleurs_ja_1837.wav", "tts:espeak:en-gb", "tts:kokoro:jm_kumo"],
}
MUSIC = {"dev": ["audio/vibeace_kevin_macleod.ogg", "audio/trumpet_sorohanro.ogg"],
         "test": ["audio/nutcracker_kevin_macleod.ogg", "audio/jazz_guitar_freesound_ibmmax.wav",
                  "audio/galway_kevin_macleod_excerpt_audiofile.m4a"]}
EFFECTS = {"dev": ["audio/typing_freesound_ibmmax.wav", "audio/robin_bird_inspectorj.hq.ogg"],
           "test": ["audio/applause_freesound_ibmmax.wav", "audio/train_freesound_ibmmax.wav",
                    "audio/car_engine_freesound_ibmmax.wav"]}
LINES = {
    "en-us": ["The storm is coming, and we have to leave the village before dark.",
              "Bring the lantern and the rope, and follow me down to the river."],
    "en-gb": ["I found the old map in the library, but the last page was missing.",
              "If we hurry, we can still reach the tower before the bells ring."],
    "jf_alpha": ["今日はとても良い天気ですね。一緒に散歩に行きましょう。", "あの山の向こうに、小さな村があるそうです。"],
    "jm_kumo": ["駅の前で待っていてください。すぐに行きます。", "この手紙を、明日の朝までに届けてほしいんだ。"],
}
EXTRA = "extra:"  # a file of the --extra-beds folder
SPEECH["dev-crowd"] = SPEECH["dev"]
SPEECH["test2"] = ["audio/libri2_3436-172162-0000.hq.ogg", "speech/librispeech_6829_00000_rtvc.mp3",
                   "speech/vctk_p240_00000_rtvc.mp3", "speech/fleurs_ja_1837.wav", "tts:kokoro:jf_nezumi"]
MUSIC["dev-crowd"] = MUSIC["dev"] + [EXTRA + "ibmmax_cinematic.wav"]
MUSIC["test2"] = [EXTRA + "ibmmax_piano.wav", EXTRA + "ibmmax_guitar.wav", EXTRA + "ibmmax_arcade_music.wav"]
EFFECTS["dev-crowd"] = [EXTRA + "ibmmax_crowd_cheering.wav", "babble:dev"]
EFFECTS["test2"] = ["babble:test2", EXTRA + "ibmmax_thunder.wav", EXTRA + "ibmmax_rain.wav"]
LINES["jf_nezumi"] = ["明日の会議は午後三時からに変更になりました。", "そこの角を右に曲がると、古い本屋があります。"]
# chatter beds: talkers (engine, voice) that never speak a target line, each saying lines of its own
BABBLE = {
    "dev": [("kokoro", "jf_gongitsune", ["ねえ、昨日のお祭りには行ったの？", "駅前の新しいお店、もう見た？"]),
            ("espeak", "fr", ["Tu as vu le match hier soir ?", "On se retrouve devant le café à midi."]),
            ("espeak", "de", ["Das Konzert war gestern wirklich gut.", "Wir treffen uns morgen am Bahnhof."]),
            ("espeak", "es", ["¿Dónde dejaste las llaves del coche?", "Mañana vamos a la playa con todos."]),
            ("espeak", "en-029", ["Did you see who came in with him?", "I told her we would be late again."])],
    "test2": [("kokoro", "jf_tebukuro", ["この前の映画、すごく面白かったよ。", "お昼ご飯は何にしようか。"]),
              ("espeak", "it", ["Hai già prenotato il tavolo per stasera?", "Il treno è arrivato in ritardo."]),
              ("espeak", "pt", ["Ela disse que chegava às oito horas.", "Vamos comprar pão antes de voltar."]),
              ("espeak", "nl", ["Heb je de nieuwe buren al ontmoet?", "Het regent hier al de hele week."]),
              ("espeak", "en-sc", ["He never answers when I ring him.", "The shop on the corner is closing."])],
}
BABBLE_S = 24.0
JA = "ja:"  # a file of the --ja-dir folder (real Japanese read speech; not in the repo)
# sung pieces (benchmarks/sung.py): (singers, instrumental, convert): real read speech sung by the WORLD
# vocoder (convert), or a real a-cappella recording, centred over an instrumental
SUNG = {"dev": (["ja:jsut_basic5000_0002.wav", "ja:jvs001_VOICEACTRESS100_001.wav"], "audio/vibeace_kevin_macleod.ogg", True),
        "dev2": (["ja:jsut_basic5000_0003.wav"], EXTRA + "ibmmax_cinematic.wav", True),
        "test": ([EXTRA + "csd_en001b.mp3"], EXTRA + "ibmmax_piano.wav", False),
        "test2": (["ja:reazon_k2_test_ja_1.wav", "speech/librispeech_8230_00000_rtvc.mp3"],
                  "audio/nutcracker_kevin_macleod.ogg", True)}
SUNG_S = 40.0
SPEECH["dev-sung"] = SPEECH["dev"]
SPEECH["test-sung"] = SPEECH["test2"]
MUSIC["dev-sung"] = ["sung:dev", "sung:dev2", EXTRA + "spleeter_slow_motion_dream.mp3"]
MUSIC["test-sung"] = [EXTRA + "fishin_karissa_hobbs.hq.ogg", "sung:test", "sung:test2"]
EFFECTS["dev-sung"] = ["audio/typing_freesound_ibmmax.wav", "audio/robin_bird_inspectorj.hq.ogg",
                       EXTRA + "ibmmax_crowd_cheering.wav"]
EFFECTS["test-sung"] = [EXTRA + "ibmmax_thunder.wav", EXTRA + "ibmmax_rain.wav", "audio/applause_freesound_ibmmax.wav"]
FRESH = "fresh:"  # a file of the --fresh-dir folder (split test3)
SPEECH["test3"] = [FRESH + f for f in ("en_ljspeech_LJ050-0031.wav", "ja_jvs047_VOICEACTRESS100_001.wav",
                                       "en_libri3_198-209-0000.hq.ogg", "ja_jvs025_VOICEACTRESS100_002.wav",
                                       "en_vctk_p286_011.wav", "ja_jvs034_VOICEACTRESS100_002.wav",
                                       "en_cmuarctic_aew_a0002.wav")]
MUSIC["test3"] = [FRESH + f for f in ("brahms_hungarian_dance5_strings.hq.ogg", "wesnoth_the_dangerous_symphony.ogg",
                                      "muldjord_mutilated_mime_30-90s.flac", "wesnoth_love_theme.ogg",
                                      "muldjord_internal_degeneration_30-90s.flac")]
EFFECTS["test3"] = [FRESH + f for f in ("thunder_blanket_storm.ogg", "rain_blanket.ogg", "crowdcheer_tuxfootball.wav",
                                        "thunder_moodist.mp3", "rain_supertux.wav", "rain_ardentryst_loop.ogg")]
# (music dB under speech, effects dB under speech), cycled over the mixtures
RATIOS = [(3, 10), (6, 6), (10, 3), (3, 3), (10, 10), (6, 3)]
SPEECH_DBFS = -20.0


# ------------------------------------------------------------------------------------------- sources
def _load(rel: str, workdir: Path) -> np.ndarray:
    """(channels, samples) float32 at SR."""
    from avshooter.media.decode import load_audio
    from avshooter.audio.resample import resample

    if rel.startswith("tts:"):
        return _tts(rel, workdir)
    if rel.startswith("babble:"):
        return _babble(rel.partition(":")[2], workdir)
    if rel.startswith("sung:"):
        return _sung(rel.partition(":")[2], workdir)
    if rel.startswith(JA):
        path = JA_DIR / rel[len(JA):]
    elif rel.startswith(FRESH):
        path = FRESH_DIR / rel[len(FRESH):]
    else:
        path = EXTRA_BEDS / rel[len(EXTRA):] if rel.startswith(EXTRA) else MEDIA / rel
    if not path.is_file():
        raise SystemExit(f"bench_separation: missing source {path} (--extra-beds / --fresh-dir / --ja-dir: the folders "
                         "of SOURCES.md's files)")
    wav, sr = load_audio(path)
    return resample(wav, sr, SR) if sr != SR else wav


def _tts(rel: str, workdir: Path) -> np.ndarray:
    import soundfile as sf

    _, engine, voice = rel.split(":")
    path = workdir / "sep_lines" / f"{engine}_{voice}.wav"
    if not path.is_file():
        _write(path, _speak(engine, voice, LINES[voice], pause_s=0.6))
    wav, sr = sf.read(path, dtype="float32", always_2d=True)
    return np.ascontiguousarray(wav.T)


def _speak(engine: str, voice: str, lines: list[str], pause_s: float) -> np.ndarray:
    """The lines spoken by one TTS voice at SR, each followed by ``pause_s`` of silence (mono)."""
    from avshooter.audio.resample import resample

    if engine == "espeak":
        from avshooter.backends.speech.espeak import EspeakTTS
        tts = EspeakTTS(voice=voice)
    else:
        from avshooter.backends.speech.kokoro_ja import KokoroJaTTS
        tts = KokoroJaTTS(voice=voice)
    parts = []
    for text in lines:
        wav, sr = tts.synthesize(text)
        parts += [resample(wav, sr, SR)[0], np.zeros(int(pause_s * SR), np.float32)]
    return np.concatenate(parts)


def _write(path: Path, wav: np.ndarray) -> None:
    import soundfile as sf

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.wav")
    sf.write(tmp, wav, SR)
    tmp.rename(path)


def _babble(name: str, workdir: Path) -> np.ndarray:
    """A chatter bed: the talkers of ``BABBLE[name]`` overlapped at random offsets and levels (+-4 dB), each
    heard at a distance (low-passed at 2.5-4 kHz, a 0.5 s diffuse tail 6 dB under its direct path), looped
    over ``BABBLE_S`` seconds; mono, cached under the workdir."""
    import soundfile as sf
    from scipy.signal import butter, fftconvolve, sosfilt

    path = workdir / "sep_lines" / f"babble_{name}.wav"
    if not path.is_file():
        rng = np.random.default_rng(sum(map(ord, name)))
        n = int(BABBLE_S * SR)
        bed = np.zeros(n, np.float64)
        for engine, voice, lines in BABBLE[name]:
            talk = _speak(engine, voice, lines, pause_s=float(rng.uniform(0.3, 1.0)))
            talk = _loop(talk[None], n, offset_s=float(rng.uniform(0, talk.size / SR)))[0].astype(np.float64)
            talk = sosfilt(butter(2, float(rng.uniform(2500, 4000)), fs=SR, output="sos"), talk)
            tail = rng.standard_normal(int(0.5 * SR)) * np.exp(-np.arange(int(0.5 * SR)) / (0.08 * SR))
            tail *= 0.5 / np.sqrt(np.sum(tail ** 2))
            talk = talk + fftconvolve(talk, tail)[:n]
            bed += talk * (10 ** (rng.uniform(-4, 4) / 20) / _rms(talk))
        _write(path, (bed * (0.1 / _rms(bed))).astype(np.float32))
    wav, sr = sf.read(path, dtype="float32", always_2d=True)
    return np.ascontiguousarray(wav.T)


def _sung(name: str, workdir: Path) -> np.ndarray:
    """A sung piece (:mod:`sung`): the singers of ``SUNG[name]`` over its instrumental, ``SUNG_S`` long,
    stereo with the vocals centred; cached under the workdir."""
    import soundfile as sf

    path = workdir / "sep_lines" / f"sung_{name}.wav"
    if not path.is_file():
        from sung import song

        singers, backing, convert = SUNG[name]
        voices = [_active_chunks(_load(rel, workdir).mean(axis=0), 30.0 if convert else SUNG_S)[0] for rel in singers]
        piece = song(voices, SR, _loop(_load(backing, workdir), int(SUNG_S * SR), 0.0), sum(map(ord, name)),
                     _decorrelate, convert=convert)
        _write(path, (piece * (0.1 / _rms(piece))).T)
    wav, sr = sf.read(path, dtype="float32", always_2d=True)
    return np.ascontiguousarray(wav.T)


def _active_chunks(mono: np.ndarray, max_s: float) -> list[np.ndarray]:
    """Speech runs of a mono line (frames within 35 dB of its loudest), each at most ``max_s`` long."""
    frame = int(0.02 * SR)
    n = mono.size // frame
    rms = np.sqrt(np.mean(mono[: n * frame].reshape(n, frame) ** 2, axis=1) + 1e-12)
    on = rms > rms.max() * 10 ** (-35 / 20)
    idx = np.flatnonzero(on)
    a, b = idx[0] * frame, (idx[-1] + 1) * frame
    return [mono[a: min(b, a + int(max_s * SR))]]


def _loop(wav: np.ndarray, n: int, offset_s: float) -> np.ndarray:
    start = int(offset_s * SR) % max(1, wav.shape[1])
    reps = int(np.ceil((start + n) / wav.shape[1]))
    return np.tile(wav, (1, reps))[:, start: start + n]


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)) + 1e-20))


def _decorrelate(mono: np.ndarray, seed: int) -> np.ndarray:
    """Two decorrelated copies of a mono piece (each convolved with its own short decaying noise burst)."""
    rng = np.random.default_rng(seed)
    n = int(0.012 * SR)
    out = []
    for _ in range(2):
        h = rng.standard_normal(n) * np.exp(-np.arange(n) / (0.003 * SR))
        h[0] += 3.0  # keep a direct path: the piece stays recognisable, its phase differs per channel
        h /= np.sqrt(np.sum(h ** 2))
        out.append(np.convolve(mono, h)[: mono.size])
    return np.stack(out).astype(np.float32)


def build_mixes(split: str, count: int, workdir: Path) -> list[dict]:
    """``count`` mixtures of the split, each in mono and stereo: dicts of true stems and speech spans."""
    n = int(CLIP_S * SR)
    cache: dict = {}

    def get(rel):
        if rel not in cache:
            cache[rel] = _load(rel, workdir)
        return cache[rel]

    speech_files, music_files, effect_files = SPEECH[split], MUSIC[split], EFFECTS[split]
    mixes = []
    for i in range(count):
        first, second = speech_files[i % len(speech_files)], speech_files[(i + 1) % len(speech_files)]
        track = np.zeros(n, np.float32)
        spans = []
        start = int(0.8 * SR)
        for rel, max_s in ((first, 4.6), (second, 4.4)):
            chunk = _active_chunks(get(rel).mean(axis=0), max_s)[0]
            chunk = chunk[: max(0, n - int(0.6 * SR) - start)]
            track[start: start + chunk.size] = chunk
            spans.append((start / SR, (start + chunk.size) / SR))
            start += chunk.size + int(1.5 * SR)
        inside = np.zeros(n, bool)
        for a, b in spans:
            inside[int(a * SR): int(b * SR)] = True
        track *= 10 ** (SPEECH_DBFS / 20) / _rms(track[inside])
        music_rel = music_files[i % len(music_files)]
        effect_rel = effect_files[(i + i // len(music_files)) % len(effect_files)]
        music = _loop(get(music_rel), n, offset_s=7.0 * i + 3.0)
        effects = _loop(get(effect_rel), n, offset_s=3.0 * i)
        music_db, effects_db = RATIOS[i % len(RATIOS)]
        for layout in ("mono", "stereo"):
            if layout == "mono":
                d, m, e = track[None], music.mean(axis=0, keepdims=True), effects.mean(axis=0, keepdims=True)
            else:
                d = np.stack([track, track])
                m = music if music.shape[0] == 2 else _decorrelate(music[0], seed=i)
                pan = [-0.6, 0.5, 0.8, -0.3][i % 4]  # -1 left .. 1 right, constant power
                theta = (pan + 1) * np.pi / 4
                e_mono = effects.mean(axis=0)
                e = np.stack([np.cos(theta) * e_mono, np.sin(theta) * e_mono])
            level = 10 ** (SPEECH_DBFS / 20)
            m = m * (level * 10 ** (-music_db / 20) / _rms(m))
            e = e * (level * 10 ** (-effects_db / 20) / _rms(e))
            truth = {"dialogue": d.astype(np.float32), "music": m.astype(np.float32), "effects": e.astype(np.float32)}
            mixes.append({"name": f"{split}{i}", "layout": layout, "truth": truth, "spans": spans,
                          "mix": sum(truth.values()).astype(np.float32),
                          "sources": (Path(first).name, Path(second).name, Path(music_rel).name, Path(effect_rel).name),
                          "ratios_db": (music_db, effects_db)})
    return mixes


# ------------------------------------------------------------------------------------------- metrics
def si_sdr(est: np.ndarray, ref: np.ndarray) -> float:
    """Scale-invariant SDR (dB) over all channels and samples."""
    est, ref = est.astype(np.float64).ravel(), ref.astype(np.float64).ravel()
    alpha = np.dot(est, ref) / (np.dot(ref, ref) + 1e-20)
    target = alpha * ref
    return float(10 * np.log10((np.dot(target, target) + 1e-20) / (np.sum((target - est) ** 2) + 1e-20)))


def oracle_irm(truth: dict, n: int) -> dict:
    """Ideal ratio mask (power ratio, per channel) on the separator's own STFT grid."""
    from avshooter.audio.separation import SeparationParams
    from avshooter.audio.stft import fft_size, istft, stft

    n_fft = fft_size(SR, SeparationParams().window_s)
    specs = {k: stft(v, n_fft) for k, v in truth.items()}
    mix = sum(specs.values())
    power = {k: np.abs(s) ** 2 for k, s in specs.items()}
    total = sum(power.values()) + 1e-12
    return {k: istft(mix * (power[k] / total), n_fft, n) for k in truth}


def dbfs(x: np.ndarray) -> float:
    return float(20 * np.log10(_rms(x)))


def outside_mask(spans, n: int) -> np.ndarray:
    out = np.ones(n, bool)
    for a, b in spans:
        out[max(0, int((a - OUTSIDE_MARGIN_S) * SR)): int((b + OUTSIDE_MARGIN_S) * SR)] = False
    return out


_ASR: dict = {}
SINGING = "fireredvad"  # --singing: annotate's `singing` setting


def annotate_stems(sep, wav: np.ndarray, speech, words) -> dict:
    """The stems annotate keeps: the separator's, then the sung stretches' dialogue moved to music
    (``annotation.shot_audio.without_singing``; ``--singing none``: not)."""
    import dataclasses

    from avshooter.annotation.shot_audio import without_singing
    from avshooter.config import AnnotateConfig

    takes_words = getattr(sep, "USES_WORDS", False) and words is not None
    stems = sep.separate(wav, SR, speech=speech, **({"words": words} if takes_words else {}))
    config = dataclasses.replace(AnnotateConfig(), singing=SINGING)
    return without_singing(wav, SR, stems, speech, None, config)[0]


def transcribe(wav: np.ndarray, speech, asr: str):
    """The words annotate hands the separator: the ASR backend on the MIX over the VAD's ranges (None: no ASR)."""
    if asr == "none":
        return None
    from avshooter.backends import load_backend

    if asr not in _ASR:
        _ASR[asr] = load_backend("asr", asr, device="cpu")
    return _ASR[asr].transcribe(wav, SR, speech=speech)["words"]


def evaluate(mixes: list[dict], options: dict, asr: str = "faster-whisper") -> dict:
    """Per layout: per stem mean SI-SDR (mix, ours, oracle), plus the silence and leak figures and CPU s.

    Each mixture (and its speech alone) is transcribed once by ``asr`` (cached on the mixture across variants)."""
    from avshooter.audio.vad import speech_ranges
    from avshooter.backends import load_backend

    sep = load_backend("separation", "dsp", device="cpu", options=options)
    rows: dict = {}
    cpu = 0.0
    for mx in mixes:
        truth, mix = mx["truth"], mx["mix"]
        n = mix.shape[1]
        speech = speech_ranges(mix, SR)
        if ("words", asr) not in mx:
            mx[("words", asr)] = transcribe(mix, speech, asr)
            alone_speech = speech_ranges(truth["dialogue"], SR)
            mx[("alone", asr)] = (alone_speech, transcribe(truth["dialogue"], alone_speech, asr))
        t0 = time.process_time()
        stems = annotate_stems(sep, mix, speech, mx[("words", asr)])
        cpu += time.process_time() - t0
        total = mix.astype(np.float64)
        assert np.abs(sum(stems.values()) - total).max() < 1e-3, "stems do not add up to the mix"
        oracle = oracle_irm(truth, n)
        r = rows.setdefault(mx["layout"], {"n": 0, "mix": {}, "ours": {}, "oracle": {}, "outside": [],
                                           "voice_fx": [], "voice_music": [], "per_mix": []})
        r["n"] += 1
        per = {}
        for k in truth:
            base = si_sdr(mix, truth[k])
            r["mix"].setdefault(k, []).append(base)
            r["ours"].setdefault(k, []).append(si_sdr(stems[k], truth[k]))
            r["oracle"].setdefault(k, []).append(si_sdr(oracle[k], truth[k]))
            per[k] = r["ours"][k][-1] - base
        outside = stems["dialogue"][:, outside_mask(mx["spans"], n)]
        r["outside"].append(dbfs(outside))
        r.setdefault("outside_energy", []).append((float(np.sum(np.square(outside, dtype=np.float64))), outside.size))
        r["per_mix"].append((mx["name"], mx["sources"], mx["ratios_db"], per, r["outside"][-1]))
        # the speech alone: how much of the voice lands in effects and music
        alone = truth["dialogue"]
        alone_speech, alone_words = mx[("alone", asr)]
        t0 = time.process_time()
        s_alone = annotate_stems(sep, alone, alone_speech, alone_words)
        cpu += time.process_time() - t0
        e_total = float(np.sum(np.square(alone, dtype=np.float64)))
        r["voice_fx"].append(float(np.sum(np.square(s_alone["effects"], dtype=np.float64))) / e_total)
        r["voice_music"].append(float(np.sum(np.square(s_alone["music"], dtype=np.float64))) / e_total)
    for r in rows.values():
        r["cpu_s_per_min"] = None
    audio_min = sum(m["mix"].shape[1] for m in mixes) * 2 / SR / 60
    return {"rows": rows, "cpu_s_per_input_min": cpu / audio_min}


def through_cli(mixes: list[dict], workdir: Path, per_mix: bool) -> None:
    """The mixtures through the real CLI with the default config (``avshooter annotate --manifest``, each an
    audio file of one shot): the stems annotate writes (FLAC), scored as :func:`evaluate` scores its own.
    The files are written 6 dB down (a mixture may peak over full scale, which FLAC cannot hold); the
    outside-speech level is given back at the mixture's scale."""
    import shutil
    import subprocess

    import soundfile as sf

    folder = workdir / "sep_cli"
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "in").mkdir(parents=True)
    names = []
    for mx in mixes:
        names.append(f"{mx['name']}_{mx['layout']}")
        sf.write(folder / "in" / f"{names[-1]}.wav", 0.5 * mx["mix"].T, SR, subtype="FLOAT")
    (folder / "manifest.txt").write_text("".join(f"{folder / 'in' / n}.wav\n" for n in names), encoding="utf-8")
    cli = [sys.executable, "-m", "avshooter.cli"]
    subprocess.run([*cli, "annotate", "--manifest", str(folder / "manifest.txt"), "--out", str(folder / "out"),
                    "--no-progress"], check=True)
    rows: dict = {}
    for name, mx in zip(names, mixes):
        shot = folder / "out" / name / "audio" / "0000"
        stems = {k: sf.read(shot / f"{k}.flac", dtype="float32", always_2d=True)[0].T for k in mx["truth"]}
        n = mx["mix"].shape[1]
        per = {k: si_sdr(stems[k][:, :n], v) - si_sdr(mx["mix"], v) for k, v in mx["truth"].items()}
        outside = stems["dialogue"][:, outside_mask(mx["spans"], n)]
        level = dbfs(outside) + 20 * np.log10(2.0) if np.any(outside) else -200.0
        rows.setdefault(mx["layout"], []).append((per, level))
        if per_mix:
            print(f"|   | {mx['layout']} {mx['name']} (cli) | " + " ".join(f"{k[0]}{v:+.1f}" for k, v in per.items())
                  + f" | {level:.1f} |")
    print("| through `avshooter annotate` | layout | dialogue | music | effects | dialogue outside speech, worst mix |")
    print("|---|---|---|---|---|---|")
    for layout, r in rows.items():
        mean = {k: float(np.mean([p[k] for p, _ in r])) for k in ("dialogue", "music", "effects")}
        print(f"| default config | {layout} ({len(r)}) | **{mean['dialogue']:+.1f}** | {mean['music']:+.1f} | "
              f"{mean['effects']:+.1f} | {max(lv for _, lv in r):.1f} dBFS |")


def cost(path: Path, variants: list, seconds: float = 60.0, shot_s: float = 4.0, asr: str = "faster-whisper",
         mono: bool = False) -> None:
    """CPU seconds per input minute of the separation on the first ``seconds`` of a long input, cut in
    ``shot_s`` shots, with the speech ranges silero-vad finds on the whole span and the words of ONE
    transcript of the span, sliced per shot (as the pipeline does; the ASR's own time is not counted)."""
    from avshooter.audio.vad import speech_ranges
    from avshooter.backends import load_backend
    from avshooter.backends.whisper_common import slice_transcript
    from avshooter.media.decode import decode

    with decode(path, sample_rate=SR, channels=2) as decoded:
        wav = decoded.read(0, int(seconds * SR))
    if mono:
        wav = wav.mean(axis=0, keepdims=True)
    speech = speech_ranges(wav, SR)
    words = transcribe(wav, speech, asr)
    share = sum(b - a for a, b in speech) / seconds
    print(f"\n## cost: {path.name}{' (mono downmix)' if mono else ''}, first {seconds:.0f} s, {shot_s:g} s shots, "
          f"speech {100 * share:.0f} % (VAD), ASR {asr}")
    print("| variant | CPU s per input minute | x real time (one core) |")
    print("|---|---|---|")
    step = int(shot_s * SR)
    for name, options in variants:
        sep = load_backend("separation", "dsp", device="cpu", options=options)
        sep.separate(wav[:, :step], SR, speech=[(0.0, shot_s)])  # warm-up (model load, caches)
        t0 = time.process_time()
        takes_words = getattr(sep, "USES_WORDS", False) and words is not None
        for a in range(0, wav.shape[1], step):
            t_a, t_b = a / SR, min(wav.shape[1], a + step) / SR
            shot_speech = [(max(s, t_a) - t_a, min(e, t_b) - t_a) for s, e in speech if e > t_a and s < t_b]
            extra = {"words": slice_transcript({"words": words}, t_a, t_b)["words"]} if takes_words else {}
            sep.separate(wav[:, a: a + step], SR, speech=shot_speech, **extra)
        cpu = time.process_time() - t0
        print(f"| {name} | {cpu * 60 / seconds:.2f} | {seconds / cpu:.0f}x |")
        sys.stdout.flush()


def parse_variant(text: str) -> tuple[str, dict]:
    if text == "default":
        return "default", {}
    name, _, rest = text.partition(":")
    options = {}
    for item in filter(None, rest.split(",")):
        key, _, value = item.partition("=")
        if value.lower() in ("true", "false"):
            options[key] = value.lower() == "true"
        else:
            try:
                options[key] = float(value) if "." in value else int(value)
            except ValueError:
                options[key] = value
    return name, options


def main(argv=None) -> int:
    global EXTRA_BEDS, JA_DIR, FRESH_DIR, SINGING
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--split", default="all", help="dev, test, dev-crowd, test2, dev-sung, test-sung, test3, all "
                    "(= dev,test) or a comma-separated list")
    ap.add_argument("--extra-beds", metavar="DIR", default=str(EXTRA_BEDS), help="folder of the dev-crowd / "
                    "test2 recordings (see the docstring; never downloaded)")
    ap.add_argument("--ja-dir", metavar="DIR", default=str(JA_DIR), help="folder of the real Japanese read "
                    "speech the dev-sung / test-sung singers are made from (its README.md; never downloaded)")
    ap.add_argument("--fresh-dir", metavar="DIR", default=str(FRESH_DIR), help="folder of the test3 recordings "
                    "(its SOURCES.md; never downloaded)")
    ap.add_argument("--mixes", type=int, default=6, help="mixtures per split (each in mono and stereo)")
    ap.add_argument("--variants", default="default", help="';'-separated: default or name:key=value,...")
    ap.add_argument("--per-mix", action="store_true", help="print each mixture's dialogue/effects/music gain")
    ap.add_argument("--workdir", default="/tmp/avshooter-bench")
    ap.add_argument("--asr", default="faster-whisper", help="ASR backend whose words the separator gets "
                    "(as annotate: faster-whisper, packaged Whisper base, on the mix); none: no words")
    ap.add_argument("--singing", choices=("fireredvad", "none"), default=SINGING, help="annotate's singing "
                    "step after the separation (none: the separator's stems as they are, as before it)")
    ap.add_argument("--layout", choices=("both", "mono", "stereo"), default="both",
                    help="score only the mono or only the film-like stereo mixtures")
    ap.add_argument("--cli", action="store_true", help="score the stems the real CLI writes (avshooter annotate "
                    "--manifest, default config) instead of the backend's")
    ap.add_argument("--mono", action="store_true", help="--cost on the mono downmix")
    ap.add_argument("--cost", metavar="VIDEO", help="only time the separation on the first 60 s of VIDEO "
                    "(e.g. the make_long_input.py mp4 in the workdir's inputs/)")
    args = ap.parse_args(argv)
    workdir = Path(args.workdir)
    splits = ["dev", "test"] if args.split == "all" else [x.strip() for x in args.split.split(",") if x.strip()]
    unknown = [x for x in splits if x not in SPEECH]
    if unknown:
        ap.error(f"unknown split(s) {', '.join(unknown)} (known: {', '.join(SPEECH)}, all)")
    EXTRA_BEDS = Path(args.extra_beds)
    JA_DIR = Path(args.ja_dir)
    FRESH_DIR = Path(args.fresh_dir)
    SINGING = args.singing
    variants = [parse_variant(v.strip()) for v in args.variants.split(";") if v.strip()]
    if args.cost:
        cost(Path(args.cost), variants, asr=args.asr, mono=args.mono)
        return 0
    for split in splits:
        mixes = [m for m in build_mixes(split, args.mixes, workdir) if args.layout in ("both", m["layout"])]
        if args.cli:
            print(f"\n## split {split}: {args.mixes} mixtures x (mono, stereo), {CLIP_S:.0f} s, through the CLI")
            through_cli(mixes, workdir, args.per_mix)
            continue
        print(f"\n## split {split}: {args.mixes} mixtures x (mono, stereo), {CLIP_S:.0f} s at {SR} Hz, ASR {args.asr}")
        print("| variant | layout | stem | mix SI-SDR | ours | oracle IRM | ours - mix | oracle - mix |"
              " dialogue outside speech dBFS (all mixes pooled / worst mix) | voice in effects / music, speech alone | CPU s per input min |")
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        for name, options in variants:
            res = evaluate(mixes, options, asr=args.asr)
            for layout, r in res["rows"].items():
                for k in ("dialogue", "music", "effects"):
                    mix_v, ours, orc = (float(np.mean(r[c][k])) for c in ("mix", "ours", "oracle"))
                    extra = ("", "", "")
                    if k == "dialogue":
                        energy, count = np.sum(r["outside_energy"], axis=0)
                        pooled = 10 * np.log10(energy / count + 1e-20)
                        extra = (f"{pooled:.1f} / {np.max(r['outside']):.1f}",
                                 f"{100 * np.mean(r['voice_fx']):.1f} % / {100 * np.mean(r['voice_music']):.1f} %",
                                 f"{res['cpu_s_per_input_min']:.2f}")
                    print(f"| {name} | {layout} | {k} | {mix_v:+.1f} | {ours:+.1f} | {orc:+.1f} | "
                          f"**{ours - mix_v:+.1f}** | {orc - mix_v:+.1f} | {' | '.join(extra)} |")
                if args.per_mix:
                    for mname, src, ratios, per, outside in r["per_mix"]:
                        print(f"|   | {layout} {mname} | {', '.join(src)} @ -{ratios[0]}/-{ratios[1]} dB | | | | "
                              + " ".join(f"{k[0]}{v:+.1f}" for k, v in per.items()) + f" | | {outside:.1f} | | |")
            sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
