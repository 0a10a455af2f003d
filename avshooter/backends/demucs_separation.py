"""Separation backend ``demucs``: a pretrained Demucs (htdemucs by default) for the dialogue stem.

This file holds everything about Demucs that avshooter needs:

- loading: a model name or signature, from a local folder (``repo=``: ``<sig>.th`` files as
  :mod:`demucs.states` saves them, ``<name>.yaml`` bags of models, or the Hugging Face layout of
  ``<name>.yaml`` + ``<sig>.safetensors``), else from demucs' own download locations;
- its sample rate (44.1 kHz: input is resampled with soxr and the stems resampled back) and channels
  (``model.audio_channels``; a clip with another channel count is separated channel by channel, each
  channel duplicated to the model's channels and the estimate averaged back);
- chunking with overlap (the triangular cross-fade of :func:`demucs.apply.apply_model`), several chunks
  per forward pass (``batch_size``), the random-shift trick (``shifts``, seeded), fp16/bf16 autocast
  on CUDA, and a retry with smaller chunks when CUDA runs out of memory.

Stems: the model's vocals are the dialogue. The rest (drums + bass + other, or whatever sources the model
has) is split into music and effects by the harmonic/percussive masks of :mod:`avshooter.audio.separation`;
a model that has its own music and effects sources (a cinematic 3-stem model) keeps them. Effects are
always ``wav - dialogue - music``, so the three stems add back to the input to float32 rounding.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..errors import BackendError, InputError
from .torch_device import DTYPES, check_torch_device

__all__ = ["DemucsSeparator"]

_DIALOGUE_SOURCES = ("vocals", "dialogue", "dialog", "speech", "voice")
_MUSIC_SOURCES = ("music",)
_EFFECTS_SOURCES = ("effects", "sfx", "fx")
_MIN_SEGMENT_S = 1.0


def _import_demucs():
    try:
        import demucs
        import torch  # noqa: F401
    except ImportError as exc:
        raise BackendError(f"the demucs separation backend needs demucs and torch ({exc}): "
                           "pip install demucs==4.1.0 (after a torch build for your machine)") from None
    return demucs


def _package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("demucs")
    except PackageNotFoundError:  # pragma: no cover - source checkout
        return "unknown"


def _load_from_folder(name: str, repo: Path):
    """A model or bag of models named ``name`` from the folder ``repo`` (demucs or Hugging Face layout)."""
    if not repo.is_dir():
        raise BackendError(f"demucs model folder {str(repo)!r} does not exist or is not a folder")
    files = sorted(p.name for p in repo.iterdir())
    th = [f for f in files if f.endswith(".th") and (f[:-3] == name or f[:-3].rsplit("-", 1)[0] == name)]
    bag = f"{name}.yaml" in files
    if not th and not bag:
        shown = ", ".join(files[:8]) + (", ..." if len(files) > 8 else "") if files else "nothing"
        raise BackendError(
            f"demucs model {name!r} not found in {str(repo)!r} (expected {name}.th, {name}-<checksum>.th "
            f"or a bag of models {name}.yaml with its <sig>.th or <sig>.safetensors files; found: {shown})")
    from demucs.apply import BagOfModels
    from demucs.pretrained import get_model

    try:
        if bag and not th:
            import yaml

            spec = yaml.safe_load((repo / f"{name}.yaml").read_text())
            sigs = list(spec.get("models") or []) if isinstance(spec, dict) else []
            if not sigs:
                raise BackendError(f"demucs bag {str(repo / (name + '.yaml'))!r} lists no models (a 'models:' list)")
            if all((repo / f"{s}.safetensors").is_file() for s in sigs):  # Hugging Face layout
                from demucs.hf import load_safetensors_model

                models = [load_safetensors_model(repo / f"{s}.safetensors") for s in sigs]
                model = BagOfModels(models, spec.get("weights"), spec.get("segment"))
                model.eval()
                return model
        return get_model(name, repo=repo)
    except BackendError:
        raise
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - demucs raises anything, even sys.exit
        raise BackendError(f"demucs model {name!r} in {str(repo)!r} cannot be loaded: "
                           f"{type(exc).__name__}: {exc}") from None


def _load_named(name: str):
    from demucs.pretrained import get_model

    try:
        return get_model(name)
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - offline: hub and AWS fail in many ways
        raise BackendError(
            f"demucs model {name!r} cannot be loaded from the hub ({type(exc).__name__}: {exc}); "
            f"download it once and pass repo=<folder with {name}.yaml and its model files>") from None


class DemucsSeparator:
    """Dialogue from a Demucs model's vocals; music/effects from our masks on the remainder.

    Parameters
    ----------
    device : str
        ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``.
    model : str
        Pretrained name or signature (``"htdemucs"``, ``"htdemucs_ft"``, ``"mdx_extra"``, a local sig).
    repo : str or Path, optional
        Folder holding the model (see the module docstring); without it demucs downloads ``model``.
    segment_s : float, optional
        Chunk length in seconds (default: the model's own; htdemucs allows at most 7.8 s).
    overlap : float
        Overlap of consecutive chunks, in [0, 1).
    shifts : int
        Random-shift passes averaged (0 = off); the shifts are drawn from ``seed``.
    batch_size : int
        Chunks per forward pass.
    dtype : str
        ``"float32"``; ``"float16"`` / ``"bfloat16"`` run under autocast on CUDA only.
    split_options : dict, optional
        :class:`avshooter.audio.separation.SeparationParams` fields for the music/effects masks.
    seed : int
        Seed of the shift trick (results are deterministic for a given seed).
    """

    def __init__(self, *, device: str = "cpu", model: str = "htdemucs", repo=None, segment_s=None,
                 overlap: float = 0.25, shifts: int = 0, batch_size: int = 1, dtype: str = "float32",
                 split_options: dict | None = None, seed: int = 0, _model=None):
        _import_demucs()
        self._check_options(device, model, segment_s, overlap, shifts, batch_size, dtype, seed)
        from ..audio.separation import SeparationParams

        try:
            self.params = SeparationParams(**dict(split_options or {}))
        except TypeError as exc:
            raise BackendError(f"demucs separation: bad split_options {split_options!r} ({exc})") from None
        self.device, self.model_name, self.dtype = device, model, dtype
        self.repo = None if repo is None else str(repo)
        self.segment_s, self.overlap, self.shifts = segment_s, float(overlap), int(shifts)
        self.batch_size, self.seed = int(batch_size), int(seed)
        if _model is not None:
            self.model = _model
        elif repo is not None:
            self.model = _load_from_folder(model, Path(repo).expanduser())
        else:
            self.model = _load_named(model)
        self.model.eval()
        self.model.to(self.device)
        self.sources = list(self.model.sources)
        self.samplerate = int(self.model.samplerate)
        self.audio_channels = int(self.model.audio_channels)
        self._dialogue = [i for i, s in enumerate(self.sources) if s.lower() in _DIALOGUE_SOURCES]
        if not self._dialogue:
            raise BackendError(f"demucs model {model!r} has no vocals source (sources: {', '.join(self.sources)}; "
                               f"need one of {', '.join(_DIALOGUE_SOURCES)})")
        self._music = [i for i, s in enumerate(self.sources) if s.lower() in _MUSIC_SOURCES]
        self._effects = [i for i, s in enumerate(self.sources) if s.lower() in _EFFECTS_SOURCES]
        max_segment = math.inf
        models = list(getattr(self.model, "models", [self.model]))
        if hasattr(self.model, "models"):  # bag: HTDemucs members cap the segment
            from demucs.htdemucs import HTDemucs

            max_segment = min([float(m.segment) for m in models if isinstance(m, HTDemucs)] + [math.inf])
        elif type(self.model).__name__ == "HTDemucs":
            max_segment = float(self.model.segment)
        own = min(float(m.segment) for m in models)
        if segment_s is not None and segment_s > max_segment + 1e-9:
            raise BackendError(f"demucs segment_s={segment_s!r} is not allowed for {model!r} "
                               f"(at most {max_segment:g} s: the length the transformer was trained on)")
        self._segment = float(segment_s) if segment_s is not None else own

    @classmethod
    def from_model(cls, model, *, device: str = "cpu", name: str = "custom", **options) -> DemucsSeparator:
        """A separator around an already built demucs model (or ``BagOfModels``), e.g. one built in a test."""
        return cls(device=device, model=name, _model=model, **options)

    @staticmethod
    def _check_options(device, model, segment_s, overlap, shifts, batch_size, dtype, seed):
        import torch

        check_torch_device(torch, "demucs", device)
        if not isinstance(model, str) or not model:
            raise BackendError(f"demucs model={model!r} is not allowed (a model name or signature)")
        if segment_s is not None and not (isinstance(segment_s, (int, float)) and not isinstance(segment_s, bool)
                                          and math.isfinite(segment_s) and segment_s >= _MIN_SEGMENT_S):
            raise BackendError(f"demucs segment_s={segment_s!r} is not allowed (None or seconds >= {_MIN_SEGMENT_S:g})")
        if not (isinstance(overlap, (int, float)) and 0 <= overlap < 1):
            raise BackendError(f"demucs overlap={overlap!r} is not allowed (a fraction in [0, 1))")
        for key, value, low in (("shifts", shifts, 0), ("batch_size", batch_size, 1), ("seed", seed, 0)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise BackendError(f"demucs {key}={value!r} is not allowed (an integer >= {low})")
        if dtype not in DTYPES:
            raise BackendError(f"demucs dtype={dtype!r} is not allowed ({', '.join(DTYPES)})")
        if dtype != "float32" and not device.startswith("cuda"):
            raise BackendError(f"demucs dtype={dtype!r} needs a cuda device (got {device!r}); use float32")

    def info(self) -> dict:
        return {
            "name": "demucs", "model": self.model_name, "repo": self.repo, "version": _package_version(),
            "device": self.device, "dtype": self.dtype, "sources": self.sources, "samplerate": self.samplerate,
            "options": {"segment_s": self._segment, "overlap": self.overlap, "shifts": self.shifts,
                        "batch_size": self.batch_size, "seed": self.seed, "split_options": self.params.to_dict()},
        }

    # ------------------------------------------------------------------------------------------ API
    def separate(self, wav: np.ndarray, sample_rate: int, *, speech=None) -> dict[str, np.ndarray]:
        """Split ``wav`` into dialogue, music and effects.

        Parameters
        ----------
        wav : np.ndarray, shape (channels, samples), float
        sample_rate : int
        speech : list of (start_s, end_s), optional
            Unused by the model (Demucs finds vocals itself); accepted for the interface.

        Returns
        -------
        dict[str, np.ndarray]
            ``{"dialogue", "music", "effects"}``, float32 ``(channels, samples)`` each, summing to ``wav``.
        """
        from ..audio.separation import separate
        from ..units import check_audio

        try:
            x = check_audio(wav, sample_rate).astype(np.float32, copy=False)
        except InputError as exc:
            raise BackendError(f"demucs separation: {exc}") from None
        n = x.shape[1]
        if n == 0 or not np.any(x):
            zero = np.zeros_like(x)
            return {"dialogue": zero, "music": zero.copy(), "effects": x.copy()}
        est = self.sources_of(x, sample_rate)                       # (sources, c, n)
        dialogue = est[self._dialogue].sum(axis=0).astype(np.float32)
        if self._music and self._effects:
            music = est[self._music].sum(axis=0).astype(np.float32)
        else:
            music = separate(x - dialogue, sample_rate, speech_mask=[], params=self.params)["music"]
        return {"dialogue": dialogue, "music": music, "effects": x - dialogue - music}

    def sources_of(self, wav: np.ndarray, sample_rate: int) -> np.ndarray:
        """The model's own source estimates, at the input's rate and shape.

        Returns
        -------
        np.ndarray, shape (len(self.sources), channels, samples), float32
        """
        import torch

        from ..audio.resample import resample

        c, n = wav.shape
        x = wav
        if sample_rate != self.samplerate:
            x = resample(wav, sample_rate, self.samplerate)
        ac = self.audio_channels
        if c == ac:
            mix = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))[None]        # (1, ac, t)
        else:  # each channel on its own, duplicated to the model's channels (batched)
            mix = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))[:, None].expand(-1, ac, -1)
        # demucs normalises by the mixture statistics (as demucs.separate does)
        ref = mix.mean(dim=1)
        mean, std = ref.mean(dim=-1)[:, None, None], ref.std(dim=-1)[:, None, None] + 1e-8
        out = self._run((mix - mean) / std) * std[:, None] + mean[:, None]       # (b, S, ac, t)
        out = out.numpy()
        if c == ac:
            est = out[0]                                                           # (S, c, t)
        else:
            est = out.mean(axis=2).transpose(1, 0, 2)                              # (S, c, t)
        if sample_rate != self.samplerate:
            s, _, t = est.shape
            est = resample(est.reshape(s * c, t), self.samplerate, sample_rate).reshape(s, c, -1)
        if est.shape[-1] < n:
            est = np.pad(est, ((0, 0), (0, 0), (0, n - est.shape[-1])))
        return np.ascontiguousarray(est[..., :n], dtype=np.float32)

    # ---------------------------------------------------------------------------------- internals
    def _run(self, mix):
        """Model output for ``mix`` (b, ac, t) float32 CPU tensor -> (b, S, ac, t), smaller chunks on CUDA OOM."""
        import torch

        oom = getattr(torch.cuda, "OutOfMemoryError", RuntimeError)
        segment, batch = self._segment, self.batch_size
        while True:
            try:
                return self._shifted(mix, segment, batch)
            except oom:
                if self.device.startswith("cuda"):
                    torch.cuda.empty_cache()
                if batch > 1:
                    batch = max(1, batch // 2)
                elif segment / 2 >= _MIN_SEGMENT_S:
                    segment = segment / 2
                else:
                    raise BackendError(
                        f"demucs ran out of {self.device} memory even with {segment:g} s chunks one at a time: "
                        "free GPU memory, or use device='cpu'") from None

    def _shifted(self, mix, segment: float, batch: int):
        """The random-shift trick around :meth:`_split` (as demucs.apply does, with our own RNG)."""
        import random

        import torch
        from demucs.apply import TensorChunk

        if not self.shifts:
            return self._split(mix, segment, batch)
        rng = random.Random(self.seed)
        length = mix.shape[-1]
        max_shift = int(0.5 * self.samplerate)
        padded = TensorChunk(mix).padded(length + 2 * max_shift)
        out = torch.zeros(mix.shape[0], len(self.sources), mix.shape[1], length)
        for _ in range(self.shifts):
            offset = rng.randint(0, max_shift)
            shifted = padded[..., offset: length + max_shift]      # starts max_shift - offset early
            res = self._split(shifted, segment, batch)
            out += res[..., max_shift - offset:]
        return out / self.shifts

    def _split(self, mix, segment: float, batch: int):
        """Overlapping chunks, ``batch`` per forward pass, cross-faded with demucs' triangular weights."""
        import torch
        from demucs.apply import TensorChunk, apply_model
        from demucs.utils import center_trim

        b, ac, length = mix.shape
        sr = self.samplerate
        seg_len = int(sr * segment)
        stride = max(1, int((1 - self.overlap) * seg_len))
        weight = torch.cat([torch.arange(1, seg_len // 2 + 1), torch.arange(seg_len - seg_len // 2, 0, -1)]).float()
        weight = weight / weight.max()
        out = torch.zeros(b, len(self.sources), ac, length)
        total = torch.zeros(length)
        offsets = list(range(0, length, stride))
        autocast = None
        if self.dtype != "float32":
            autocast = torch.autocast("cuda", dtype=getattr(torch, self.dtype))
        for first in range(0, len(offsets), batch):
            group = offsets[first: first + batch]
            chunks = [TensorChunk(mix, off, seg_len) for off in group]
            inp = torch.cat([ch.padded(seg_len) for ch in chunks], dim=0)         # (len(group) * b, ac, seg)
            with torch.no_grad():
                if autocast is not None:
                    with autocast:
                        res = apply_model(self.model, inp, shifts=0, split=False, segment=segment,
                                          device=self.device)
                else:
                    res = apply_model(self.model, inp, shifts=0, split=False, segment=segment, device=self.device)
            res = res.float().cpu().reshape(len(group), b, len(self.sources), ac, seg_len)
            for k, (off, ch) in enumerate(zip(group, chunks)):
                piece = center_trim(res[k], ch.length)
                out[..., off: off + ch.length] += weight[: ch.length] * piece
                total[off: off + ch.length] += weight[: ch.length]
        return out / total
