"""Separation backend ``dsp``: the offline masks of :mod:`avshooter.audio.separation`, behind the interface."""
from __future__ import annotations

import dataclasses

from ..audio.separation import SeparationParams, separate
from ..errors import BackendError


class DSPSeparator:
    """No weights: harmonic/percussive/residual masks and a speech band gated by voice activity."""

    OPTIONS = SeparationParams
    """The options are the fields of :class:`~avshooter.audio.separation.SeparationParams`."""

    def __init__(self, *, device: str = "cpu", **options):
        known = {f.name for f in dataclasses.fields(SeparationParams)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise BackendError(f"dsp separation: unknown option(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")
        self.params = SeparationParams(**options)
        self.device = device

    def info(self) -> dict:
        from importlib.metadata import version

        return {"name": "dsp", "version": version("scipy"), "device": "cpu", "params": dataclasses.asdict(self.params)}

    def separate(self, wav, sample_rate, *, speech):
        return separate(wav, sample_rate, speech_mask=speech, params=self.params)
