"""ASR backend ``whisper``: Whisper through transformers, gated by voice activity.

Owns: loading ``WhisperForConditionalGeneration`` + ``WhisperProcessor`` (hub id or local folder), device
and dtype (float16 on CUDA), and a short-form decode of each speech piece (pieces are <= 30 s, one window
each, so Whisper's long-form seek loop never runs): the encoder runs once per batch of pieces; language
identification reads the language-token probabilities after ``<|startoftranscript|>`` (weighted by piece
length); text comes from the base ``generate`` with Whisper's timestamp rules (segment times); word times
come from a teacher-forced pass whose cross-attention on the model's ``alignment_heads`` is aligned to the
audio frames by dynamic time warping (as openai-whisper does). Without alignment heads, words are not
timed (``words`` is empty). CUDA out of memory halves the batch and retries, then raises BackendError.
The speech gating is shared with faster-whisper (:mod:`~avshooter.backends.whisper_common`).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import numpy as np

from ..errors import BackendError
from .whisper_common import (
    WHISPER_RATE,
    check_common,
    cut,
    empty_transcript,
    join_text,
    pick_language,
    place,
    speech_pieces,
    whisper_audio,
)

__all__ = ["TransformersWhisperASR"]

_FRAMES_PER_S = 50  # encoder frames (20 ms) per second
_DTYPES = {"fp16": "float16", "float16": "float16", "bf16": "bfloat16", "bfloat16": "bfloat16",
           "fp32": "float32", "float32": "float32"}


@dataclass(frozen=True)
class TransformersWhisperOptions:
    """Options of :class:`TransformersWhisperASR` (recorded in :meth:`TransformersWhisperASR.info`)."""

    model: str = "openai/whisper-large-v3"
    dtype: str | None = None  # None: float16 on CUDA, float32 on CPU
    language: str | None = None  # None: identify it (once per clip, over its speech)
    languages: tuple[str, ...] | None = None  # candidates for identification, e.g. ("ja", "en")
    task: str = "transcribe"
    beam_size: int = 1
    batch_size: int = 8
    chunk_length_s: float = 30.0  # longest piece sent to the model (Whisper's window)
    word_timestamps: bool = True
    max_new_tokens: int = 224
    merge_gap_s: float = 0.5
    pad_s: float = 0.2
    local_files_only: bool = False
    revision: str | None = None

    @property
    def max_piece_s(self) -> float:
        return self.chunk_length_s


class TransformersWhisperASR:
    """Whisper through transformers.

    Parameters
    ----------
    device : ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"auto"``
    model : hub id (``"openai/whisper-large-v3"``) or a local folder saved by ``save_pretrained``
    dtype : ``"fp16"``, ``"bf16"``, ``"fp32"`` (default fp16 on CUDA, fp32 on CPU)
    language : ISO code (``"ja"``) or None to identify it; ``languages`` restricts identification
    batch_size : speech pieces per batch (halved on CUDA out-of-memory)
    **options : the rest of :class:`TransformersWhisperOptions`
    """

    name = "whisper"
    OPTIONS = TransformersWhisperOptions  # what **options may hold (checked when a config is built)

    def __init__(self, *, device: str = "cpu", **options):
        known = {f.name for f in fields(TransformersWhisperOptions)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise BackendError(f"whisper: unknown option(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")
        if options.get("languages") is not None:
            options["languages"] = tuple(options["languages"])
        self.options = opts = TransformersWhisperOptions(**options)
        check_common(opts, "whisper")
        if opts.dtype is not None and str(opts.dtype) not in _DTYPES:
            raise BackendError(f"whisper: dtype {opts.dtype!r} unknown (allowed: {', '.join(sorted(_DTYPES))})")
        if not isinstance(opts.max_new_tokens, int) or not 1 <= opts.max_new_tokens <= 440:
            raise BackendError(f"whisper: max_new_tokens {opts.max_new_tokens!r} must be an integer in 1..440")
        try:
            import torch
            from transformers import WhisperForConditionalGeneration, WhisperProcessor
        except ImportError as exc:
            raise BackendError(f"the whisper ASR backend needs torch and transformers: pip install torch transformers ({exc})") from None

        kind, _, index = str(device).partition(":")
        if kind not in ("cpu", "cuda", "auto") or (index and not index.isdigit()):
            raise BackendError(f"whisper: device {device!r} unknown (allowed: cpu, cuda, cuda:N, auto)")
        if kind == "auto":
            kind = "cuda" if torch.cuda.is_available() else "cpu"
        if kind == "cuda" and not torch.cuda.is_available():
            raise BackendError(f"whisper: device {device!r} asked for but torch sees no CUDA device")
        self.device = kind if not index else f"{kind}:{index}"
        self.dtype = _DTYPES[str(opts.dtype)] if opts.dtype else ("float16" if kind == "cuda" else "float32")
        load = {"local_files_only": opts.local_files_only, "revision": opts.revision}
        try:
            self.processor = WhisperProcessor.from_pretrained(opts.model, **load)
            # eager attention: the cross-attention weights are what word timing reads
            self.model = WhisperForConditionalGeneration.from_pretrained(
                opts.model, dtype=getattr(torch, self.dtype), attn_implementation="eager", **load)
        except Exception as exc:  # noqa: BLE001  (missing files, no network, bad folder)
            raise BackendError(f"whisper cannot load model {opts.model!r}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__} "
                               "(give a hub id or a folder saved with save_pretrained, with its processor)") from None
        self.model.to(self.device).eval()
        self.tokenizer = self.processor.tokenizer
        gen = self.model.generation_config
        ids = self.tokenizer.convert_tokens_to_ids
        self._sot = ids("<|startoftranscript|>")
        self._eot = ids("<|endoftext|>")
        self._no_ts = getattr(gen, "no_timestamps_token_id", None) or ids("<|notimestamps|>")
        self._ts_begin = self._no_ts + 1
        self._task_ids = {"transcribe": ids("<|transcribe|>"), "translate": ids("<|translate|>")}
        lang_to_id = getattr(gen, "lang_to_id", None) or {}
        self._lang_ids = {tok.strip("<|>"): i for tok, i in lang_to_id.items()}
        self._heads = [tuple(h) for h in (getattr(gen, "alignment_heads", None) or [])]
        for code in [opts.language, *(opts.languages or ())]:
            if code is not None and self._lang_ids and code not in self._lang_ids:
                raise BackendError(f"whisper: language {code!r} is not known to model {opts.model!r} "
                                   f"(known: {', '.join(sorted(self._lang_ids))})")

    @staticmethod
    def decoding(device: str = "cpu", options: dict | None = None) -> dict:
        """The dtype a run on ``device`` resolves (float16 on CUDA, float32 on CPU, unless given) and the
        versions that shape the transcript, without loading anything (compared by the resume key)."""
        from importlib.metadata import PackageNotFoundError, version

        dtype = (options or {}).get("dtype")
        kind = str(device).partition(":")[0]
        if kind == "auto":
            import torch

            kind = "cuda" if torch.cuda.is_available() else "cpu"
        try:
            versions = {p: version(p) for p in ("transformers", "torch")}
        except PackageNotFoundError:
            versions = None
        return {"dtype": _DTYPES.get(str(dtype), str(dtype)) if dtype else ("float16" if kind == "cuda" else "float32"),
                "versions": versions}

    def info(self) -> dict:
        from importlib.metadata import version

        return {"name": self.name, "version": version("transformers"), "torch": version("torch"),
                "model": self.options.model, "device": self.device, "dtype": self.dtype,
                "word_timing": "cross-attention DTW" if self._heads else "none (model has no alignment_heads)",
                "options": asdict(self.options)}

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
        opts = self.options
        audio = whisper_audio(wav, sample_rate)
        pieces = speech_pieces(speech, audio.shape[0] / WHISPER_RATE, merge_gap_s=opts.merge_gap_s,
                               pad_s=opts.pad_s, max_piece_s=opts.max_piece_s)
        if not pieces:
            return empty_transcript(opts.language)
        batch = opts.batch_size
        while True:
            try:
                return self._transcribe(audio, pieces, batch)
            except Exception as exc:
                oom = "out of memory" in str(exc).lower()
                if oom and batch > 1:
                    import torch

                    torch.cuda.empty_cache()
                    batch = max(1, batch // 2)
                    continue
                if isinstance(exc, BackendError):
                    raise
                what = "out of GPU memory even at batch size 1" if oom else f"failed: {exc}"
                raise BackendError(f"whisper ({opts.model!r} on {self.device}) {what}") from None

    # -- steps

    def _transcribe(self, audio, pieces, batch) -> dict:
        import torch

        opts = self.options
        clips = [cut(audio, p) for p in pieces]
        encoded = []
        with torch.inference_mode():
            for i in range(0, len(clips), batch):
                feats = self.processor.feature_extractor(clips[i:i + batch], sampling_rate=WHISPER_RATE,
                                                         return_tensors="pt").input_features
                feats = feats.to(self.device, getattr(torch, self.dtype))
                encoded.append(self.model.model.encoder(feats).last_hidden_state)
            language, prob = self._language(encoded, pieces)
            segments, words = [], []
            for b, enc in enumerate(encoded):
                part = pieces[b * batch:(b + 1) * batch]
                tokens = self._generate(enc, language)
                for _j, (piece, toks) in enumerate(zip(part, tokens)):
                    segments.extend(self._segments(toks, piece))
                if opts.word_timestamps and self._heads:
                    texts = [[t for t in toks if t < self._eot] for toks in tokens]
                    words.extend(self._words(enc, texts, part, language))
        return {"text": join_text((s["text"] for s in segments), language), "language": language,
                "language_prob": prob, "words": words, "segments": segments}

    def _language(self, encoded, pieces) -> tuple[str, float | None]:
        """Language from the probabilities of the language tokens after <|startoftranscript|>."""
        import torch

        opts = self.options
        if opts.language is not None:
            return opts.language, None
        if not self._lang_ids:
            return "en", None
        codes = list(self._lang_ids)
        index = torch.tensor([self._lang_ids[c] for c in codes], device=self.device)
        weights = torch.tensor([e - s for s, e in pieces], dtype=torch.float32)
        total = torch.zeros(len(codes))
        done = 0
        for enc in encoded:
            start = torch.full((enc.shape[0], 1), self._sot, device=self.device)
            logits = self.model(encoder_outputs=(enc,), decoder_input_ids=start).logits[:, -1, :]
            probs = torch.softmax(logits[:, index].float(), dim=-1).cpu()
            total += (probs * weights[done:done + enc.shape[0], None]).sum(0)
            done += enc.shape[0]
        return pick_language(dict(zip(codes, (total / weights.sum()).tolist())), opts.languages)

    def _prompt(self, language, *, timestamps: bool) -> list[int]:
        prompt = [self._sot]
        if self._lang_ids:
            prompt += [self._lang_ids[language], self._task_ids[self.options.task]]
        return prompt + ([] if timestamps else [self._no_ts])

    def _generate(self, enc, language) -> list[list[int]]:
        """Generated tokens (after the prompt, up to <|endoftext|>) for each piece of an encoded batch."""
        import torch
        from transformers import GenerationConfig
        from transformers.generation.logits_process import (
            LogitsProcessorList,
            WhisperTimeStampLogitsProcessor,
        )
        from transformers.generation.utils import GenerationMixin

        opts, gen = self.options, self.model.generation_config
        prompt = self._prompt(language, timestamps=True)
        specials = list(range(self._sot, self._no_ts + 1))  # sot, languages, tasks, lm, prev, nospeech, notimestamps
        config = GenerationConfig(
            decoder_start_token_id=self._sot, eos_token_id=self._eot, pad_token_id=self._eot,
            max_length=min(len(prompt) + opts.max_new_tokens, 448), num_beams=opts.beam_size, do_sample=False,
            suppress_tokens=sorted(set(list(gen.suppress_tokens or []) + specials)),
            begin_suppress_tokens=list(gen.begin_suppress_tokens or [self._eot]),
            return_dict_in_generate=False)
        rules = WhisperTimeStampLogitsProcessor(gen, begin_index=len(prompt))
        start = torch.tensor([prompt] * enc.shape[0], device=self.device)
        # the base generate: one short-form window per piece (Whisper's own generate adds a long-form loop)
        out = GenerationMixin.generate(self.model, encoder_outputs=(enc,), decoder_input_ids=start,
                                       decoder_attention_mask=torch.ones_like(start),
                                       generation_config=config, logits_processor=LogitsProcessorList([rules]))
        result = []
        for row in out[:, len(prompt):].tolist():
            result.append(row[:row.index(self._eot)] if self._eot in row else row)
        return result

    def _segments(self, tokens, piece) -> list[dict]:
        """Segments from <|t0|> text <|t1|> pairs (times relative to the piece), kept inside the piece."""
        segments, text, t0 = [], [], None
        for tok in tokens + [None]:
            if tok is not None and tok < self._eot:
                text.append(tok)
                continue
            if tok is not None and tok < self._ts_begin:
                continue
            t = (tok - self._ts_begin) * 0.02 if tok is not None else None
            if text:
                start = place(t0 if t0 is not None else 0.0, piece)
                end = place(t if t is not None else piece[1] - piece[0], piece)
                words = self.tokenizer.decode(text, skip_special_tokens=True).strip()
                if words:
                    segments.append({"start_s": start, "end_s": max(start, end), "text": words})
                text = []
            t0 = t
        return segments

    def _words(self, enc, texts, pieces, language) -> list[dict]:
        """Word times by DTW over the alignment heads' cross-attention of a teacher-forced pass."""
        import torch
        from transformers.models.whisper.generation_whisper import (
            _dynamic_time_warping,
            _median_filter,
        )
        from transformers.models.whisper.tokenization_whisper import (
            LANGUAGES,
            _combine_tokens_into_words,
        )

        prompt = self._prompt(language, timestamps=False)
        rows = [prompt + t + [self._eot] for t in texts]
        width = max(len(r) for r in rows)
        ids = torch.tensor([r + [self._eot] * (width - len(r)) for r in rows], device=self.device)
        out = self.model(encoder_outputs=(enc,), decoder_input_ids=ids, output_attentions=True)
        probs = torch.softmax(out.logits.float(), dim=-1)
        att = torch.stack([out.cross_attentions[layer][:, head] for layer, head in self._heads], dim=1).float()
        words = []
        for b, (toks, piece) in enumerate(zip(texts, pieces)):
            if not toks:
                continue
            n_frames = max(1, round((piece[1] - piece[0]) * _FRAMES_PER_S))
            weights = att[b, :, :, :n_frames]
            std, mean = torch.std_mean(weights, dim=-2, keepdim=True, unbiased=False)
            weights = _median_filter((weights - mean) / (std + 1e-9), 7).mean(dim=0)
            matrix = weights[len(prompt) - 1:len(prompt) + len(toks)]  # rows predicting each text token and eot
            text_idx, time_idx = _dynamic_time_warping(-matrix.double().cpu().numpy())
            jumps = np.pad(np.diff(text_idx), (1, 0), constant_values=1).astype(bool)
            times = time_idx[jumps] / _FRAMES_PER_S  # start of token i; times[len(toks)] ends the last one
            tok_prob = [float(probs[b, len(prompt) - 1 + i, t]) for i, t in enumerate(toks)]
            pieces_words, _, indices = _combine_tokens_into_words(self.tokenizer, toks, LANGUAGES.get(language, "english"))
            for word, idx in zip(pieces_words, indices):
                if not word.strip() or not idx:
                    continue
                start = place(times[min(idx[0], len(times) - 1)], piece)
                end = place(times[min(idx[-1] + 1, len(times) - 1)], piece)
                words.append({"word": word.strip(), "start_s": start, "end_s": max(start, end),
                              "prob": round(float(np.mean([tok_prob[i] for i in idx])), 4)})
        return words
