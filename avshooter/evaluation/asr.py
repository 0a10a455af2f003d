"""Measuring ASR: text normalisation, word and character error rates, the reference sets, speech-over-music mixtures.

Used by ``tests/test_offline_asr.py`` (bounds on the packaged Whisper) and ``benchmarks/bench_asr.py``.

Reference sets:

* :data:`LIBRI`: the two LibriSpeech utterances in ``../shared/media/audio``. No LibriSpeech transcript file
  is reachable offline here; the reference lines are the books' text (*The Ashiel Mystery*, ch. 2; Bulfinch,
  *The Age of Chivalry*, "The Adventure of the Cart") as published transcriptions of these same clips by
  other people and systems give them, written in LibriSpeech's style (no punctuation). They were NOT taken from
  our model's output. The last word of ``libri1`` (a fictional place, "Crianan") is spelt differently by
  different sources; it costs at most one word (2.8 %) of that line.
* :data:`JA_LINES`: ten lines of anime-style Japanese dialogue written for this project, spoken by the
  Kokoro voice (``kokoro-ja``) at test time, so the reference is exactly the text that was spoken.
"""
from __future__ import annotations

import re
import unicodedata

import numpy as np

__all__ = ["JA_LINES", "LIBRI", "cer", "edit_distance", "error_rate", "mix_at_snr", "normalize_en",
           "normalize_ja", "wer"]

LIBRI = {
    "libri1_5703-47212-0000.hq.ogg": (
        "with her white paint and her scarlet smokestack the inverashiel one of the two small steamers that during "
        "the summer months plied up and down the loch and incidentally carried on communication between "
        "inverashiel and crianan"),
    "libri2_3436-172162-0000.hq.ogg": (
        "the adventure of the cart it befell in the month of may queen guenever called to her knights of the table "
        "round and gave them warning that early upon the morrow she would ride a maying into the woods and fields "
        "beside westminster"),
}

JA_LINES = [
    "待って！まだ話は終わってないよ！",
    "今日こそ、あの山の向こうまで行ってみよう。",
    "お兄ちゃん、早く起きないと遅刻するよ。",
    "この町を守るのは、私たちの役目だ。",
    "ありがとう。君がいなかったら、ここまで来られなかった。",
    "空がこんなに青いなんて、知らなかったな。",
    "大丈夫、きっとまた会えるから。",
    "先生、宿題を家に忘れてきました。",
    "急げ！電車が出発しちゃう！",
    "ねえ、あの星の名前、覚えてる？",
]


def normalize_en(text: str) -> list[str]:
    """Lower case words without punctuation; hyphens split words ("a-maying" -> "a maying")."""
    text = unicodedata.normalize("NFKC", text).lower().replace("-", " ")
    text = re.sub(r"[^\w\s']", " ", text)
    return [w.strip("'") for w in text.split() if w.strip("'")]


def normalize_ja(text: str) -> list[str]:
    """Characters of a Japanese line without punctuation or spaces (NFKC, so full and half width agree)."""
    text = unicodedata.normalize("NFKC", text)
    return [c for c in text if not c.isspace() and not unicodedata.category(c).startswith(("P", "S"))]


def edit_distance(ref: list[str], hyp: list[str]) -> int:
    """Levenshtein distance between two token lists (substitutions, insertions, deletions cost 1)."""
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1]


def error_rate(refs: list[list[str]], hyps: list[list[str]]) -> float:
    """Total edit distance over total reference tokens (corpus-level, as WER is usually reported)."""
    if len(refs) != len(hyps):
        raise ValueError(f"{len(refs)} references but {len(hyps)} hypotheses")
    total = sum(len(r) for r in refs)
    if total == 0:
        raise ValueError("references are empty")
    return sum(edit_distance(r, h) for r, h in zip(refs, hyps)) / total


def wer(refs: list[str], hyps: list[str]) -> float:
    """Word error rate of English texts after :func:`normalize_en`."""
    return error_rate([normalize_en(t) for t in refs], [normalize_en(t) for t in hyps])


def cer(refs: list[str], hyps: list[str]) -> float:
    """Character error rate of Japanese texts after :func:`normalize_ja`."""
    return error_rate([normalize_ja(t) for t in refs], [normalize_ja(t) for t in hyps])


def mix_at_snr(speech: np.ndarray, music: np.ndarray, snr_db: float) -> np.ndarray:
    """``speech + g * music`` with ``g`` set so speech RMS / music RMS is ``snr_db`` over the speech's length.

    Both are float32 ``(channels, samples)`` at one rate; the music is looped or cut to the speech's length and
    its channels averaged to the speech's. The sum is scaled down only if it would clip.
    """
    n = speech.shape[1]
    reps = int(np.ceil(n / music.shape[1]))
    bed = np.tile(music, (1, reps))[:, :n].mean(axis=0, keepdims=True)
    bed = np.repeat(bed, speech.shape[0], axis=0)
    speech_rms, bed_rms = (float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) for x in (speech, bed))
    gain = speech_rms / (bed_rms * 10 ** (snr_db / 20)) if bed_rms > 0 else 0.0
    out = speech + gain * bed
    peak = float(np.max(np.abs(out)))
    return (out / peak * 0.99 if peak > 0.99 else out).astype(np.float32)
