"""Sung pieces for ``bench_separation.py`` (issue 18's held-out shape: "an orchestral or SUNG piece"): real
read speech turned into singing over an instrumental, the way speech-to-singing synthesis does it (Saitou
et al. 2007, "Speech-to-singing synthesis: converting speaking voices to singing voices by controlling
acoustic features unique to singing voices"): the WORLD vocoder (``pyworld``, a benchmark-only dependency:
``pip install pyworld-prebuilt``) re-synthesises the voice with

- every syllable-long piece of each voiced run held as one note (stretched 3-5x, at least 0.35 s);
- the f0 of a melody on a major pentatonic scale around the speaker's median pitch (a seeded random walk),
  with a 40 ms glide between notes and a 5.5 Hz vibrato of +-0.5 semitone that sets in after 0.15 s;
- the speaker's own spectral envelope and aperiodicity (the words stay the speaker's words).

The song: those vocal phrases, 0.4-0.9 s apart, centred (L = R) over the instrumental in its own stereo
(or decorrelated: the caller's ``decorrelate``), the vocals 2 dB over it (a pop mix). Its true stem is the
whole song: a sung line is music, not dialogue.
"""
from __future__ import annotations

import numpy as np

FRAME_MS = 5.0
PENTATONIC = (0, 2, 4, 7, 9)
STRETCH = (3.0, 5.0)  # how much longer a note is than the syllable it comes from
MIN_NOTE_MS = 350.0
VIBRATO = 0.5  # semitones


def _notes(rng, centre_midi: float, count: int) -> np.ndarray:
    """MIDI numbers of a seeded random walk over a major pentatonic scale around ``centre_midi``."""
    root = int(round(centre_midi)) - 4
    scale = np.array([root + 12 * octave + step for octave in (-1, 0, 1) for step in PENTATONIC])
    i = int(np.argmin(np.abs(scale - centre_midi)))
    out = []
    for _ in range(count):
        out.append(scale[i])
        i = int(np.clip(i + rng.choice([-2, -1, -1, 0, 1, 1, 2]), 3, len(scale) - 4))
    return np.array(out, np.float64)


def sing(speech: np.ndarray, sr: int, seed: int) -> np.ndarray:
    """One mono speech recording at ``sr`` -> the same words sung (mono float32 at ``sr``)."""
    import pyworld as pw

    rng = np.random.default_rng(seed)
    x = speech.astype(np.float64)
    f0, t = pw.dio(x, sr, frame_period=FRAME_MS)
    f0 = pw.stonemask(x, f0, t, sr)
    sp = pw.cheaptrick(x, f0, t, sr)
    ap = pw.d4c(x, f0, t, sr)
    voiced = f0 > 0
    median_midi = 69 + 12 * np.log2(np.median(f0[voiced]) / 440.0)
    # pieces: unvoiced runs as they are, each voiced run cut in syllable-long (~0.18 s) notes
    pieces = []  # (first, last_exclusive, is_note)
    k, n = 0, len(f0)
    while k < n:
        j = k
        while j < n and voiced[j] == voiced[k]:
            j += 1
        if voiced[k]:
            count = max(1, int(round((j - k) * FRAME_MS / 180.0)))
            edges = np.linspace(k, j, count + 1).round().astype(int)
            pieces += [(a, b, True) for a, b in zip(edges[:-1], edges[1:]) if b > a]
        else:
            pieces.append((k, j, False))
        k = j
    melody = _notes(rng, median_midi, sum(p[2] for p in pieces))
    index, pitch, onset = [], [], []
    note = 0
    for a, b, is_note in pieces:
        if not is_note:
            index += list(range(a, b))
            pitch += [0.0] * (b - a)
            onset += [0] * (b - a)
            continue
        length = max(int(round((b - a) * rng.uniform(STRETCH[0], STRETCH[1]))), int(MIN_NOTE_MS / FRAME_MS))
        index += list(np.minimum(a + np.arange(length) * (b - a) / length, b - 1).astype(int))
        pitch += [melody[note]] * length
        onset += list(range(length))
        note += 1
    index, pitch, onset = np.array(index), np.array(pitch), np.array(onset)
    # glide: a first-order lag on the note numbers (40 ms), vibrato after 0.15 s into each note
    glide = np.copy(pitch)
    alpha = 1.0 - np.exp(-FRAME_MS / 40.0)
    for i in range(1, len(glide)):
        if pitch[i] > 0 and glide[i - 1] > 0:
            glide[i] = glide[i - 1] + alpha * (pitch[i] - glide[i - 1])
    ramp = np.clip((onset * FRAME_MS - 150.0) / 100.0, 0.0, 1.0)
    vibrato = VIBRATO * ramp * np.sin(2 * np.pi * 5.5 * onset * FRAME_MS / 1000.0)
    new_f0 = np.where(pitch > 0, 440.0 * 2 ** ((glide + vibrato - 69) / 12), 0.0)
    y = pw.synthesize(np.ascontiguousarray(new_f0), np.ascontiguousarray(sp[index]),
                      np.ascontiguousarray(ap[index]), sr, frame_period=FRAME_MS)
    return y.astype(np.float32)


def song(singers: list[np.ndarray], sr: int, backing: np.ndarray, seed: int, decorrelate,
         convert: bool = True) -> np.ndarray:
    """The sung phrases of ``singers`` (mono recordings at ``sr``: read speech to :func:`sing`, or with
    ``convert=False`` real singing as it is) looped over ``backing`` ``(channels, n)``: a stereo song
    ``(2, n)`` with the vocals centred, 2 dB over the instrumental (RMS while they sing)."""
    rng = np.random.default_rng(seed)
    n = backing.shape[1]
    phrases = [sing(s, sr, seed + i) if convert else s for i, s in enumerate(singers)]
    vocal = np.zeros(n, np.float64)
    at, i = int(rng.uniform(0.2, 1.0) * sr), 0
    while at < n:
        p = phrases[i % len(phrases)]
        vocal[at: at + p.size] = p[: n - at]
        at += p.size + int(rng.uniform(0.4, 0.9) * sr)
        i += 1
    back = backing if backing.shape[0] == 2 else decorrelate(backing[0], seed)
    sung = np.abs(vocal) > 1e-4
    rms_v = np.sqrt(np.mean(vocal[sung] ** 2))
    rms_b = np.sqrt(np.mean(np.square(back[:, sung], dtype=np.float64)))
    vocal *= rms_b * 10 ** (2 / 20) / rms_v
    return (back + vocal[None]).astype(np.float32)
