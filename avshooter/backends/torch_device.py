"""The device and dtype checks of the torch backends (CLAP tagger, Demucs, Synchformer): one wording, one rule."""
from __future__ import annotations

from ..errors import BackendError

__all__ = ["DTYPES", "check_torch_device"]

DTYPES = ("float32", "float16", "bfloat16")


def check_torch_device(torch, name: str, device, dtype: str | None = None) -> None:
    """``device`` is cpu, cuda, cuda:N or mps (cuda only when torch sees one); ``dtype`` (when given) is one
    of :data:`DTYPES`, half precision on cuda only. A BackendError naming the backend ``name`` otherwise."""
    if not isinstance(device, str) or device.split(":")[0] not in ("cpu", "cuda", "mps"):
        raise BackendError(f"{name} device={device!r} is not allowed (cpu, cuda, cuda:N or mps)")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise BackendError(f"{name} device={device!r} asked for but torch sees no CUDA device")
    if dtype is None:
        return
    if dtype not in DTYPES:
        raise BackendError(f"{name} dtype={dtype!r} is not allowed ({', '.join(DTYPES)})")
    if dtype != "float32" and not device.startswith("cuda"):
        raise BackendError(f"{name} dtype={dtype!r} needs a cuda device (got {device!r}); use float32")
