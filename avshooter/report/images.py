"""The pictures of a report, drawn with matplotlib (Agg, no display): spectrograms, loudness over time,
the sync timeline, and frame thumbnails.

Every function writes one PNG atomically and returns nothing; arrays are float32 ``(channels, samples)``.
"""
from __future__ import annotations

import io
import os
from collections.abc import Sequence

import numpy as np

from ..io.output import atomic_write_bytes

__all__ = ["frame_png", "loudness_png", "short_term_loudness", "spectrogram_png", "timeline_png"]

_DPI = 100


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path) -> None:
    plt = _plt()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=_DPI)
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())


def _log_spectrogram(mono: np.ndarray, sample_rate: int, *, bins: int = 160, fmin: float = 40.0):
    """dB magnitudes on log-spaced frequencies ``(bins, frames)``, the frequencies and the frame times."""
    from scipy import signal

    n_fft = 1 << int(np.ceil(np.log2(max(256, sample_rate * 0.046))))
    hop = n_fft // 4
    if mono.size < n_fft:
        mono = np.pad(mono, (0, n_fft - mono.size))
    f, t, z = signal.stft(mono, fs=sample_rate, nperseg=n_fft, noverlap=n_fft - hop, boundary=None, padded=False)
    mag = np.abs(z)
    freqs = np.geomspace(fmin, sample_rate / 2, bins)
    hi = np.clip(np.searchsorted(f, freqs), 1, len(f) - 1)  # linear interpolation along frequency, all frames
    w = ((freqs - f[hi - 1]) / (f[hi] - f[hi - 1]))[:, None]
    logmag = mag[hi - 1] * (1 - w) + mag[hi] * w if mag.shape[1] else np.zeros((bins, 1))
    db = 20 * np.log10(np.maximum(logmag, 1e-6))
    return db, freqs, t


def spectrogram_png(wav: np.ndarray, sample_rate: int, path: str | os.PathLike, *, title: str = "",
                    t0: float = 0.0, spans: Sequence[tuple[float, float]] = (), marks: Sequence[float] = (),
                    width_in: float = 6.0, height_in: float = 1.6) -> None:
    """Log-frequency spectrogram (dB, -90..0 dBFS) of ``wav``, time axis from ``t0`` seconds.

    ``spans`` (e.g. speech ranges) are drawn as bars under the picture, ``marks`` as thin lines; both in
    the same seconds as the axis.
    """
    plt = _plt()
    mono = np.asarray(wav, dtype=np.float32).mean(axis=0) if np.ndim(wav) == 2 else np.asarray(wav, np.float32)
    duration = mono.size / sample_rate
    db, freqs, _ = _log_spectrogram(mono, sample_rate)
    fig, ax = plt.subplots(figsize=(width_in, height_in), layout="constrained")
    ax.imshow(db, origin="lower", aspect="auto", cmap="magma", vmin=-90, vmax=0,
              extent=(t0, t0 + max(duration, 1e-3), 0, len(freqs)))
    ticks = [f for f in (100, 1000, 10000) if freqs[0] <= f <= freqs[-1]]
    ax.set_yticks([np.searchsorted(freqs, f) for f in ticks], [f"{f // 1000}k" if f >= 1000 else str(f) for f in ticks])
    for a, b in spans:
        ax.axvspan(a, b, ymin=0.0, ymax=0.05, color="#4fc3f7")
    for m in marks:
        ax.axvline(m, color="white", lw=0.8, alpha=0.8)
    ax.set_xlim(t0, t0 + max(duration, 1e-3))
    ax.tick_params(labelsize=7)
    ax.set_ylabel("Hz", fontsize=7)
    if title:
        ax.set_title(title, fontsize=8, loc="left")
    _save(fig, path)


def short_term_loudness(wav: np.ndarray, sample_rate: int, *, window_s: float = 3.0, step_s: float = 0.1):
    """Loudness over time (LUFS, BS.1770 K-weighting, ungated) of ``window_s`` windows every ``step_s``.

    Returns ``(times_s, lufs)``: each time is the window's end (EBU R128 short-term is 3 s, momentary
    0.4 s); silence gives -inf.
    """
    from scipy import signal

    from ..audio.loudness import k_weighting_sos

    x = np.atleast_2d(np.asarray(wav, dtype=np.float64))
    n = x.shape[1]
    if n == 0:
        return np.zeros(0), np.zeros(0)
    z = signal.sosfilt(k_weighting_sos(sample_rate), x, axis=1)
    power = (z * z).sum(axis=0)  # channel weights 1.0 for L/R (BS.1770 table 3)
    csum = np.concatenate([[0.0], np.cumsum(power)])
    win, step = max(1, round(window_s * sample_rate)), max(1, round(step_s * sample_rate))
    ends = np.arange(min(win, n), n + 1, step)
    starts = np.maximum(0, ends - win)
    mean = (csum[ends] - csum[starts]) / (ends - starts)
    with np.errstate(divide="ignore"):
        lufs = -0.691 + 10.0 * np.log10(mean)
    return ends / sample_rate, lufs


def loudness_png(curves: dict[str, tuple[np.ndarray, np.ndarray]], path: str | os.PathLike, *,
                 target_lufs: float | None = None, bounds: Sequence[float] = (), title: str = "") -> None:
    """Loudness curves ``{name: (times_s, lufs)}`` on one axis, with the target and shot bounds."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(9, 2.4), layout="constrained")
    for name, (t, v) in curves.items():
        ax.plot(t, np.where(np.isfinite(v), v, np.nan), lw=1.2 if name.startswith("mix") else 0.8, label=name)
    if target_lufs is not None:
        ax.axhline(target_lufs, color="black", ls="--", lw=0.8, label=f"target {target_lufs:g} LUFS")
    for b in bounds:
        ax.axvline(b, color="grey", lw=0.6, alpha=0.6)
    ax.set_ylim(-60, 0)
    ax.set_xlabel("story time (s)", fontsize=8)
    ax.set_ylabel("LUFS", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=7, loc="lower right", ncols=3)
    if title:
        ax.set_title(title, fontsize=9, loc="left")
    _save(fig, path)


def timeline_png(rows: dict[str, Sequence[float]], path: str | os.PathLike, *, duration_s: float,
                 bounds: Sequence[float] = (), title: str = "") -> None:
    """One row of ticks per series ``{name: times_s}`` (e.g. visual events, onsets before and after sync)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(9, 0.5 + 0.45 * max(1, len(rows))), layout="constrained")
    colors = ["#d62728", "#7f7f7f", "#1f77b4", "#2ca02c", "#9467bd"]
    for i, (name, times) in enumerate(rows.items()):
        y = len(rows) - 1 - i
        ax.vlines(list(times), y - 0.35, y + 0.35, color=colors[i % len(colors)], lw=1.4)
    for b in bounds:
        ax.axvline(b, color="black", lw=0.6, alpha=0.5)
    ax.set_yticks(range(len(rows)), list(reversed(list(rows))), fontsize=7)
    ax.set_ylim(-0.6, len(rows) - 0.4)
    ax.set_xlim(0, max(duration_s, 1e-3))
    ax.set_xlabel("story time (s)", fontsize=8)
    ax.tick_params(labelsize=7)
    if title:
        ax.set_title(title, fontsize=9, loc="left")
    _save(fig, path)


def frame_png(frame: np.ndarray, path: str | os.PathLike) -> None:
    """A uint8 ``(H, W, 3)`` picture as PNG."""
    from ..media.encode import png_bytes

    atomic_write_bytes(path, png_bytes(np.ascontiguousarray(frame, dtype=np.uint8)))
