"""avshooter: the audio half of AnimeShooter.

``import avshooter`` stays light: heavy libraries (torch, onnxruntime, transformers) are imported only
by the backend that needs them.
"""
from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "annotate", "annotate_video", "generate", "write_prompts", "AnnotateConfig", "GenerateConfig",
           "load_story", "save_story"]


def __getattr__(name):  # lazy re-exports keep the import light
    if name in ("annotate", "annotate_video"):
        from .annotation import pipeline as _annotate

        return getattr(_annotate, name)
    if name == "generate":
        from .generation.pipeline import generate

        return generate
    if name == "write_prompts":
        from .generation.prompts import write_prompts

        return write_prompts
    if name in ("AnnotateConfig", "GenerateConfig"):
        from . import config

        return getattr(config, name)
    if name in ("load_story", "save_story"):
        from .io import story as _story

        return getattr(_story, name)
    raise AttributeError(f"module 'avshooter' has no attribute {name!r}")
