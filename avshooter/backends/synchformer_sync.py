"""Sync backend ``synchformer``: a learned audio-visual offset classifier (Synchformer-class), optional.

Not the default (that is :func:`avshooter.generation.offset.estimate_av_offset`, which needs no weights):
this is for users with a trained checkpoint and, ideally, a GPU. Everything about the model is here.

Architecture (after Iashin et al., "Synchformer", ICASSP 2024): the window is cut into ``segments``
segments of ``segment_s`` seconds, evenly spaced over it; per segment

- picture: ``frames_per_segment`` RGB frames at ``image_size`` px, split into tubelets of
  ``tubelet`` frames x ``patch`` x ``patch`` px (a 3-D convolution), a transformer encoder, mean-pooled
  to one token;
- sound: the segment's log-mel (16 kHz, 64 bands, 10 ms hop: :mod:`avshooter.audio.logmel`, YAMNet's
  front end), ``patch`` x ``patch`` patches, a transformer encoder, mean-pooled to one token;

then the segment tokens of both modalities (with segment and modality embeddings) and a CLS token go
through the synchronisation transformer, and a linear head on the CLS classifies the offset among
``offsets_s`` (the paper: 21 classes, -2..+2 s in 0.2 s steps). Class ``o`` means "the audio is ``o``
seconds late", so the shift to add is ``-o`` (:func:`avshooter.generation.offset.estimate_av_offset`'s
convention).

Decision: the class probabilities are the evidence; ``score`` is P(top class), ``margin`` P(top) minus
P(runner-up), ``margin_zero`` P(top) minus P(offset 0). It shifts only when ``P(top) >= 1 - alpha`` (a
calibrated model is then wrong at most ``alpha`` of the time) and the top offset is within
``max_shift_s``; otherwise it abstains.

Loading: :meth:`SynchformerSync.from_pretrained` takes a local folder or a hub repo id holding
``config.json`` (the fields of :class:`SynchformerConfig`) and ``model.safetensors``; ``device`` (cpu,
cuda, cuda:N, mps) and ``dtype`` (float32; float16 / bfloat16 on CUDA). No public checkpoint in this
format exists today: train one, or convert one, and save it with :meth:`SynchformerSync.save_pretrained`.
The tests build a tiny one from a config with random weights (real code path, shapes, determinism).
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..errors import BackendError, InputError
from .torch_device import check_torch_device

__all__ = ["SynchformerConfig", "SynchformerSync"]

ESTIMATOR = "synchformer"


@dataclass(frozen=True)
class SynchformerConfig:
    """Sizes of the model (the paper's are larger: 224 px, 16 frames per 0.64 s segment, 768 wide)."""

    segments: int = 14
    segment_s: float = 0.64
    frames_per_segment: int = 16
    image_size: int = 224
    patch: int = 16
    tubelet: int = 2
    width: int = 768
    heads: int = 12
    layers_visual: int = 12
    layers_audio: int = 12
    layers_sync: int = 3
    offsets_s: tuple = field(default_factory=lambda: tuple(round(-2.0 + 0.2 * k, 1) for k in range(21)))

    @classmethod
    def from_dict(cls, d: dict) -> SynchformerConfig:
        known = set(cls.__dataclass_fields__)
        unknown = set(d) - known
        if unknown:
            raise BackendError(f"synchformer config: unknown keys {sorted(unknown)} (allowed: {sorted(known)})")
        d = dict(d)
        if "offsets_s" in d:
            d["offsets_s"] = tuple(float(x) for x in d["offsets_s"])
        return cls(**d)

    def to_dict(self) -> dict:
        return {**asdict(self), "offsets_s": list(self.offsets_s)}


def _torch():
    try:
        import torch
    except ImportError:
        raise BackendError("the synchformer sync backend needs torch: pip install torch "
                           "(a build for your machine)") from None
    return torch


def _build(config: SynchformerConfig):
    torch = _torch()
    nn = torch.nn

    def encoder(layers: int):
        layer = nn.TransformerEncoderLayer(config.width, config.heads, 4 * config.width, dropout=0.0,
                                           batch_first=True, norm_first=True)
        return nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            c = config
            self.tubelets = nn.Conv3d(3, c.width, (c.tubelet, c.patch, c.patch), (c.tubelet, c.patch, c.patch))
            n_vis = (c.frames_per_segment // c.tubelet) * (c.image_size // c.patch) ** 2
            self.pos_visual = nn.Parameter(torch.zeros(1, n_vis, c.width))
            self.visual = encoder(c.layers_visual)
            self.mel_patches = nn.Conv2d(1, c.width, c.patch, c.patch)
            n_aud = (_mel_frames(c) // c.patch) * (64 // c.patch)
            self.pos_audio = nn.Parameter(torch.zeros(1, n_aud, c.width))
            self.audio = encoder(c.layers_audio)
            self.cls = nn.Parameter(torch.zeros(1, 1, c.width))
            self.segment = nn.Parameter(torch.zeros(1, c.segments, c.width))
            self.modality = nn.Parameter(torch.zeros(2, c.width))
            self.sync = encoder(c.layers_sync)
            self.head = nn.Linear(c.width, len(c.offsets_s))

        def forward(self, video, mel):
            """video (B, S, 3, T, H, W), mel (B, S, 1, frames, 64) -> logits (B, offsets)."""
            b, s = video.shape[:2]
            v = self.tubelets(video.flatten(0, 1)).flatten(2).transpose(1, 2)
            v = self.visual(v + self.pos_visual).mean(dim=1).view(b, s, -1)
            a = self.mel_patches(mel.flatten(0, 1)).flatten(2).transpose(1, 2)
            a = self.audio(a + self.pos_audio).mean(dim=1).view(b, s, -1)
            tokens = torch.cat([self.cls.expand(b, -1, -1), v + self.segment + self.modality[0],
                                a + self.segment + self.modality[1]], dim=1)
            return self.head(self.sync(tokens)[:, 0])

    return Net()


def _mel_frames(config: SynchformerConfig) -> int:
    """Log-mel frames per segment, rounded down to whole patches (at least one patch)."""
    n = int(round(config.segment_s * 100)) - 1  # 10 ms hop, 25 ms window, no padding
    return max(config.patch, n // config.patch * config.patch)


class SynchformerSync:
    """A loaded offset classifier: hold it, call :meth:`estimate` per window (see the module docstring)."""

    def __init__(self, config: SynchformerConfig | dict | None = None, *, device: str = "cpu",
                 dtype: str = "float32", seed: int = 0):
        torch = _torch()
        if isinstance(config, dict):
            config = SynchformerConfig.from_dict(config)
        self.config = config or SynchformerConfig()
        check_torch_device(torch, "synchformer", device, dtype)
        torch.manual_seed(seed)  # random weights only matter before from_pretrained loads real ones
        self.model = _build(self.config)
        self.device, self.dtype = device, dtype
        self.model.to(device=device, dtype=getattr(torch, dtype)).eval()

    @classmethod
    def from_pretrained(cls, name_or_folder: str, *, device: str = "cpu", dtype: str = "float32",
                        local_files_only: bool | None = None) -> SynchformerSync:
        """Load ``config.json`` + ``model.safetensors`` from a folder or a hub repo id."""
        folder = Path(name_or_folder).expanduser()
        if not folder.is_dir():
            try:
                from huggingface_hub import snapshot_download
            except ImportError:
                raise BackendError(f"synchformer model {name_or_folder!r} is not a folder, and a hub id needs "
                                   "huggingface_hub: pip install huggingface_hub") from None
            try:
                folder = Path(snapshot_download(name_or_folder, local_files_only=bool(local_files_only),
                                                allow_patterns=["config.json", "model.safetensors"]))
            except Exception as exc:  # noqa: BLE001 - any hub failure is one line for the user
                raise BackendError(f"synchformer model {name_or_folder!r}: cannot get it from the hub "
                                   f"({type(exc).__name__}: {exc})") from exc
        for name in ("config.json", "model.safetensors"):
            if not (folder / name).is_file():
                raise BackendError(f"synchformer model folder {str(folder)!r} has no {name}")
        config = SynchformerConfig.from_dict(json.loads((folder / "config.json").read_text()))
        out = cls(config, device=device, dtype=dtype)
        from safetensors.torch import load_file

        try:
            out.model.load_state_dict(load_file(str(folder / "model.safetensors")))
        except RuntimeError as exc:
            raise BackendError(f"synchformer weights in {str(folder)!r} do not fit its config.json "
                               f"({str(exc).splitlines()[0]})") from exc
        out.model.to(device=device, dtype=getattr(_torch(), dtype)).eval()
        return out

    def save_pretrained(self, folder: str | Path) -> None:
        from safetensors.torch import save_file

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "config.json").write_text(json.dumps(self.config.to_dict(), indent=1))
        save_file({k: v.detach().float().cpu().contiguous() for k, v in self.model.state_dict().items()},
                  str(folder / "model.safetensors"))

    # ---------------------------------------------------------------------------------- inputs
    def inputs(self, frames: np.ndarray, frame_times_s: np.ndarray, wav: np.ndarray, sample_rate: int):
        """Model inputs of one window: video ``(1, S, 3, T, H, W)`` and mel ``(1, S, 1, F, 64)`` tensors.

        ``frames``: RGB uint8 ``(n, H, W, 3)`` at ``image_size`` (see :meth:`estimate_window`), times in
        the time base of ``wav``; segments are spread evenly over the window, each takes the frames
        nearest its ``frames_per_segment`` evenly spaced times and the log-mel of its span.
        """
        from ..audio.logmel import log_mel, to_16k_mono

        torch = _torch()
        c = self.config
        frames = np.asarray(frames)
        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.shape[1:3] != (c.image_size, c.image_size):
            raise InputError(f"frames has shape {frames.shape}: give (n, {c.image_size}, {c.image_size}, 3) RGB")
        times = np.asarray(frame_times_s, np.float64)
        length_s = wav.shape[1] / sample_rate
        starts = np.linspace(0.0, max(0.0, length_s - c.segment_s), c.segments)
        x16 = to_16k_mono(wav, sample_rate)
        n_mel = _mel_frames(c)
        videos, mels = [], []
        for s in starts:
            want = s + (np.arange(c.frames_per_segment) + 0.5) * c.segment_s / c.frames_per_segment
            idx = np.clip(np.searchsorted(times, want), 0, len(times) - 1)
            videos.append(frames[idx].transpose(3, 0, 1, 2).astype(np.float32) / 127.5 - 1.0)  # (3, T, H, W)
            a = int(round(s * 16000))
            mel = log_mel(x16[a: a + int(round(c.segment_s * 16000))])[:n_mel]
            mels.append(np.pad(mel, ((0, n_mel - mel.shape[0]), (0, 0)))[None])
        dtype = getattr(torch, self.dtype)
        video = torch.from_numpy(np.stack(videos)[None]).to(self.device, dtype)
        mel = torch.from_numpy(np.stack(mels)[None].astype(np.float32)).to(self.device, dtype)
        return video, mel

    def estimate(self, frames, frame_times_s, wav: np.ndarray, sample_rate: int, *, max_shift_s: float = 0.5,
                 alpha: float = 0.01):
        """The offset of one window, as :class:`avshooter.generation.offset.OffsetEstimate`."""
        from ..generation.offset import OffsetEstimate

        if not (isinstance(alpha, (int, float)) and 0 < alpha < 1):
            raise InputError(f"alpha={alpha!r} is not allowed (a level between 0 and 1)")
        torch = _torch()
        video, mel = self.inputs(frames, frame_times_s, wav, sample_rate)
        with torch.inference_mode():
            prob = torch.softmax(self.model(video, mel).float(), dim=-1)[0].cpu().numpy()
        offsets = np.asarray(self.config.offsets_s, np.float64)
        order = np.argsort(prob)[::-1]
        top = int(order[0])
        zero = int(np.argmin(np.abs(offsets)))
        shift = -float(offsets[top])
        est = dict(best_shift_s=shift, score=float(prob[top]), margin=float(prob[top] - prob[order[1]]),
                   margin_zero=float(prob[top] - prob[zero]), p_peak=float(1.0 - prob[top]),
                   p_zero=float(prob[zero]) if top != zero else 1.0, frames=int(len(frame_times_s)),
                   estimator=ESTIMATOR)
        if prob[top] < 1.0 - alpha:
            return OffsetEstimate(0.0, abstained=True, reason=f"top class P={prob[top]:.3f} < 1 - alpha", **est)
        if abs(shift) > max_shift_s + 1e-9:
            return OffsetEstimate(0.0, abstained=True, reason=f"best shift {shift:+.3f} s is outside +-{max_shift_s} s",
                                  **est)
        return OffsetEstimate(shift, abstained=False, reason="in sync" if math.isclose(shift, 0.0) else None, **est)

    def estimate_window(self, video, wav: np.ndarray, sample_rate: int, *, start_s: float = 0.0,
                        end_s: float | None = None, max_shift_s: float = 0.5, alpha: float = 0.01):
        """Decode the window's frames (RGB, squeezed to ``image_size``) and :meth:`estimate`."""
        from ..media.frames import iter_frames

        size = self.config.image_size
        frames, times = [], []
        for t, frame in iter_frames(video, start_s=start_s, end_s=end_s):
            frames.append(frame.reformat(width=size, height=size, format="rgb24").to_ndarray())
            times.append(t - start_s)
        if not frames:
            raise InputError(f"{video}: no frame in [{start_s}, {end_s})")
        return self.estimate(np.stack(frames), np.asarray(times), wav, sample_rate, max_shift_s=max_shift_s,
                             alpha=alpha)
