"""Subnormal floats: flush them to zero inside one block of the calling thread (x86-64 Linux, glibc).

An IIR filter fed exact zeros (a gated stem's silences) rings down into the subnormal range (below
1.18e-38 in float32) and stays there in a limit cycle; every operation on a subnormal costs a microcode
assist, ~40x a normal one (``scipy.signal.sosfilt`` of the K-weighting: 2.03 s for 60 s of stereo that
goes silent after 1 s, 0.05 s for 60 s of noise). :func:`flush_subnormals` sets the SSE control
register's flush-to-zero and denormals-are-zero bits for the block and restores the whole floating-point
environment after it, also on an exception. The register is per thread: other threads never see it.

What it changes: only values of magnitude below 1.18e-38 and what they feed. A caller that squares the
result in float32 (loudness) does not see it: a subnormal state added to a product of magnitude >= 2**-102
rounds to the same float32 (it is below half an ulp), and any value below 2**-75 squares to 0 in float32
either way (checked, not only argued: the same loudness floats on every call of a 10-minute annotate run). Elsewhere (other platforms, or a C library whose ``fenv_t`` this module does not know) the
block runs unchanged: same numbers, only slower.
"""
from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import platform
import sys

import numpy as np

__all__ = ["flush_subnormals", "flushing_available"]

_FTZ_DAZ = 0x8040       # MXCSR bit 15 (flush to zero) | bit 6 (denormals are zero)
_MXCSR_OFFSET = 28      # glibc x86-64 fenv_t: 28 bytes of x87 environment, then the 32-bit MXCSR
_FENV_BYTES = 64        # >= sizeof(fenv_t) (32) with room to spare


@functools.lru_cache(maxsize=1)
def _libm():
    """glibc's libm on x86-64 Linux (its ``fegetenv`` / ``fesetenv``), else None."""
    if sys.platform != "linux" or platform.machine().lower() not in ("x86_64", "amd64"):
        return None
    if platform.libc_ver()[0] != "glibc":
        return None
    try:
        libm = ctypes.CDLL(ctypes.util.find_library("m") or "libm.so.6")
        get, put = libm.fegetenv, libm.fesetenv
    except (OSError, AttributeError):
        return None
    get.argtypes = put.argtypes = [ctypes.c_void_p]
    get.restype = put.restype = ctypes.c_int
    return libm


def _environment(libm) -> ctypes.Array | None:
    env = (ctypes.c_ubyte * _FENV_BYTES)()
    return env if libm.fegetenv(env) == 0 else None


def _mxcsr(env) -> int:
    return int.from_bytes(bytes(env[_MXCSR_OFFSET:_MXCSR_OFFSET + 4]), "little")


@functools.lru_cache(maxsize=1)
def flushing_available() -> bool:
    """True where :func:`flush_subnormals` takes effect (checked once: a subnormal times 1 gives 0 inside)."""
    libm = _libm()
    if libm is None or _environment(libm) is None:
        return False
    tiny = np.float32(1e-39)  # subnormal
    with _flushing(libm) as on:
        flushed = on and float(np.multiply(tiny, np.float32(1.0))) == 0.0
    return flushed and float(np.multiply(tiny, np.float32(1.0))) != 0.0  # and the mode was restored after


@contextlib.contextmanager
def _flushing(libm):
    saved = _environment(libm)
    if saved is None:
        yield False
        return
    env = (ctypes.c_ubyte * _FENV_BYTES).from_buffer_copy(saved)
    env[_MXCSR_OFFSET:_MXCSR_OFFSET + 4] = list((_mxcsr(saved) | _FTZ_DAZ).to_bytes(4, "little"))
    if libm.fesetenv(env) != 0:
        libm.fesetenv(saved)
        yield False
        return
    try:
        yield True
    finally:
        libm.fesetenv(saved)


@contextlib.contextmanager
def flush_subnormals():
    """Flush subnormal floats to zero in this thread for the block (a no-op where not available)."""
    if not flushing_available():
        yield
        return
    with _flushing(_libm()):
        yield
