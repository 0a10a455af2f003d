"""avshooter: the audio half of AnimeShooter.

The public API, like whisper's and demucs': functions on files and on arrays, models as objects the
caller holds.

- :func:`annotate` runs one video to the end and returns its annotated story; :func:`iter_annotate`
  yields its shot records as they are done.
- :func:`annotate_shot` annotates one shot given as an array (no files), with backends the caller may
  build once with :func:`load_backend`, hold, pass in (``backends={"asr": model, ...}``) and free.
- :func:`generate` makes the soundtrack and the mp4s of a story and its shot videos.
- :func:`write_prompts` writes a story's ``prompts.json`` (to review and edit) without generating anything.
- :func:`load_story` / :func:`save_story` read and write the paper's JSON.

``import avshooter`` stays light: heavy libraries (torch, onnxruntime, transformers) are imported only
by the backend that needs them.
"""
from __future__ import annotations

__version__ = "0.2.0"

__all__ = ["__version__", "annotate", "iter_annotate", "annotate_shot", "load_backend", "free_backends", "generate", "write_prompts",
           "AnnotateConfig", "GenerateConfig", "load_story", "save_story"]

_LAZY = {
    "annotate": ("avshooter.annotation.pipeline", "annotate"),
    "iter_annotate": ("avshooter.annotation.pipeline", "iter_annotate"),
    "annotate_shot": ("avshooter.annotation.shot_audio", "annotate_shot_audio"),
    "load_backend": ("avshooter.backends", "load_backend"),
    "free_backends": ("avshooter.registry", "free_backends"),
    "generate": ("avshooter.generation.pipeline", "generate"),
    "write_prompts": ("avshooter.generation.prompts", "write_prompts"),
    "AnnotateConfig": ("avshooter.config", "AnnotateConfig"),
    "GenerateConfig": ("avshooter.config", "GenerateConfig"),
    "load_story": ("avshooter.io.story", "load_story"),
    "save_story": ("avshooter.io.story", "save_story"),
}


def __getattr__(name):  # lazy re-exports keep the import light
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'avshooter' has no attribute {name!r}")


def __dir__():  # the lazy names too: dir(avshooter) and completion list the API
    return sorted(set(globals()) | set(__all__))
