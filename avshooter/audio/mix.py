"""Mix: layers at their own loudness, ducking under dialogue, a loudness target and a true-peak ceiling.

This module owns where loudness is *set* in generate (measuring lives in :mod:`avshooter.audio.loudness`):

- :class:`Layer`: one stem of the story's soundtrack (dialogue, effects, ambience or music), all layers
  the same length (the story's, see :func:`avshooter.audio.fit.shot_sample_spans`);
- :func:`mix_layers`: each layer to its own integrated loudness, music and ambience ducked under
  dialogue, summed, then the whole mix to ``target_lufs`` with a look-ahead true-peak limiter, iterated
  until BOTH hold, measured after: loudness within 0.5 LU of the target and true peak <= the ceiling;
- :func:`crossfade_beds`: one ambience bed per scene carried across its consecutive shots, crossfaded
  at scene changes.

Layer loudness targets (defaults, :data:`DEFAULT_LAYER_LUFS`) set the *balance*: dialogue -23, effects
-26, ambience -32, music -30 LUFS. The master gain then moves the whole mix to ``target_lufs``
(-23 LUFS EBU R128 by default, -16 for the web), so the balance is the same at any target.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage, signal

from ..errors import InputError
from .fit import fit_to_duration
from .loudness import integrated_loudness, true_peak_dbtp
from ..units import check_audio, check_rate, to_samples

__all__ = ["DEFAULT_LAYER_LUFS", "ROLES", "Ducking", "Layer", "crossfade_beds", "mix_layers"]

ROLES = ("dialogue", "effects", "ambience", "music")
DEFAULT_LAYER_LUFS = {"dialogue": -23.0, "effects": -26.0, "ambience": -32.0, "music": -30.0}
_LOUDNESS_TOL_LU = 0.5
_AIM_TOL_LU = 0.15  # what the iteration aims for, inside the promised 0.5 LU


@dataclass
class Layer:
    """One stem of the mix.

    Attributes
    ----------
    name : str
        Unique within a mix (report key).
    wav : np.ndarray, shape (channels, samples), float
        Mono layers are spread to every channel of the mix.
    role : {"dialogue", "effects", "ambience", "music"}
    lufs : float, optional
        The layer's own integrated-loudness target; None takes ``DEFAULT_LAYER_LUFS[role]``.
    gain_envelope : np.ndarray, shape (samples,) or (channels, samples), optional
        Linear gain >= 0 applied first (fades, automation).
    """

    name: str
    wav: np.ndarray
    role: str
    lufs: float | None = None
    gain_envelope: np.ndarray | None = None


@dataclass(frozen=True)
class Ducking:
    """Sidechain ducking of some roles under dialogue.

    Attributes
    ----------
    depth_db : float
        Gain of the ducked layers while dialogue is active (<= 0).
    attack_s, release_s : float
        Ramp times into and out of the ducked gain; the ramp down starts ``attack_s`` before the
        dialogue (the mix is offline, so the sidechain looks ahead).
    hold_s : float
        Dialogue pauses shorter than this keep the duck (no pumping between words).
    threshold_lu : float
        Dialogue is active where its 50 ms RMS level is above its own integrated loudness plus this.
    roles : tuple of str
        Roles that duck.
    """

    depth_db: float = -10.0
    attack_s: float = 0.08
    release_s: float = 0.4
    hold_s: float = 0.25
    threshold_lu: float = -15.0
    roles: tuple = ("music", "ambience")

    def __post_init__(self):
        _number("ducking depth_db", self.depth_db, -60.0, 0.0)
        for name in ("attack_s", "release_s", "hold_s"):
            _number(f"ducking {name}", getattr(self, name), 0.0, 10.0)
        _number("ducking threshold_lu", self.threshold_lu, -60.0, 20.0)
        roles = tuple(self.roles) if isinstance(self.roles, (list, tuple)) else None
        if roles is None or not set(roles) <= set(ROLES) or "dialogue" in roles:
            raise InputError(f"ducking roles={self.roles!r} is not allowed (a list of: effects, ambience, music)")
        object.__setattr__(self, "roles", roles)


# ------------------------------------------------------------------------------------------ checks
def _number(name: str, value, lo: float, hi: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not math.isfinite(value) \
            or not lo <= value <= hi:
        raise InputError(f"{name}={value!r} is not allowed (a number in [{lo:g}, {hi:g}])")
    return float(value)


def _prepare(layers: Sequence[Layer]) -> tuple[list[np.ndarray], int, int]:
    if not layers:
        raise InputError("mix_layers: no layers given (at least one Layer is needed)")
    names = set()
    for k, layer in enumerate(layers):
        if not isinstance(layer, Layer):
            raise InputError(f"layers[{k}] is a {type(layer).__name__}, not a Layer")
        if layer.name in names:
            raise InputError(f"layer name {layer.name!r} is used twice (names must be unique)")
        names.add(layer.name)
        if layer.role not in ROLES:
            raise InputError(f"layer {layer.name!r}: role {layer.role!r} is not allowed (one of {', '.join(ROLES)})")
        if layer.lufs is not None:
            _number(f"layer {layer.name!r} lufs", layer.lufs, -70.0, 0.0)
        check_audio(layer.wav, name=f"layer {layer.name!r} wav")
    lengths = {layer.wav.shape[1] for layer in layers}
    if len(lengths) != 1:
        raise InputError(f"layers have different lengths {sorted(lengths)} samples: fit them to the story first")
    n = lengths.pop()
    channels = max(layer.wav.shape[0] for layer in layers)
    out = []
    for layer in layers:
        x = layer.wav.astype(np.float64)
        if x.shape[0] not in (1, channels):
            raise InputError(f"layer {layer.name!r} has {x.shape[0]} channels; the mix has {channels} "
                             "(a layer must be mono or match)")
        if layer.gain_envelope is not None:
            env = np.asarray(layer.gain_envelope, dtype=np.float64)
            if env.ndim == 1:
                env = env[None, :]
            if env.ndim != 2 or env.shape[1] != n or env.shape[0] not in (1, x.shape[0]):
                raise InputError(f"layer {layer.name!r}: gain_envelope shape {np.shape(layer.gain_envelope)} "
                                 f"does not fit the layer {x.shape} (use (samples,) or (channels, samples))")
            if not np.isfinite(env).all() or (env < 0).any():
                raise InputError(f"layer {layer.name!r}: gain_envelope must be finite and >= 0")
            x = x * env
        if x.shape[0] != channels:
            x = np.repeat(x, channels, axis=0)
        out.append(x)
    return out, n, channels


# ----------------------------------------------------------------------------------------- ducking
def _duck_gain(dialogue: np.ndarray, sr: int, duck: Ducking) -> np.ndarray:
    """Linear gain per sample (n,) for ducked layers, from the dialogue sidechain."""
    n = dialogue.shape[1]
    lufs = integrated_loudness(dialogue, sr)
    if not math.isfinite(lufs) or n == 0:
        return np.ones(n)
    hop, win = max(1, to_samples(0.01, sr)), max(1, to_samples(0.05, sr))
    power = np.mean(dialogue * dialogue, axis=0)
    csum = np.concatenate([[0.0], np.cumsum(power)])
    centres = np.arange(0, n, hop)
    lo, hi = np.clip(centres - win // 2, 0, n), np.clip(centres + win // 2 + 1, 0, n)
    level = 10 * np.log10((csum[hi] - csum[lo]) / np.maximum(hi - lo, 1) + 1e-20)
    active = level > lufs + duck.threshold_lu
    # hold over short pauses, and start attack_s early (look-ahead)
    hold, ahead = round(duck.hold_s / 0.01), round(duck.attack_s / 0.01)
    if active.any():
        active = ndimage.binary_closing(np.pad(active, hold), structure=np.ones(hold + 1, bool))[hold:-hold] \
            if hold else active
        shifted = np.zeros_like(active)
        for k in range(ahead + 1):
            shifted[: active.size - k] |= active[k:]
        active = shifted
    target = np.where(active, duck.depth_db, 0.0)
    down = abs(duck.depth_db) * 0.01 / max(duck.attack_s, 0.01)
    up = abs(duck.depth_db) * 0.01 / max(duck.release_s, 0.01)
    gain_db = np.empty_like(target)
    g = 0.0
    for i, t in enumerate(target):  # slew-limited: 100 steps per second
        g = max(t, g - down) if t < g else min(t, g + up)
        gain_db[i] = g
    return 10 ** (np.interp(np.arange(n), centres, gain_db) / 20)


# ----------------------------------------------------------------------------------------- limiter
def _peak_envelope(x: np.ndarray) -> np.ndarray:
    """Per-sample true-peak estimate (n,): max over channels of the 4x oversampled |x| around each sample."""
    n = x.shape[1]
    up = signal.resample_poly(x, 4, 1, axis=1, window=("kaiser", 6.0))[:, : 4 * n]
    env = np.abs(up).reshape(x.shape[0], n, 4).max(axis=2).max(axis=0)
    return np.maximum(env, np.abs(x).max(axis=0))


def _smooth_min(g: np.ndarray, width: int) -> np.ndarray:
    """Look-ahead smoothing that never exceeds ``g``: forward min over ``width`` then trailing mean."""
    if width <= 1:
        return g
    fwd = ndimage.minimum_filter1d(g, width, mode="constant", cval=1.0, origin=-(width // 2))  # min over [i, i+width)
    csum = np.concatenate([np.zeros(1), np.cumsum(np.concatenate([np.ones(width - 1), fwd]))])
    return (csum[width:] - csum[:-width]) / width                                 # mean over (i-width, i]


def _limiter_gain(peak: np.ndarray, ceiling: float, sr: int, lookahead_s: float, release_s: float) -> np.ndarray:
    need = np.minimum(1.0, ceiling / np.maximum(peak, 1e-12))
    if need.min() >= 1.0:
        return need
    g = _smooth_min(need, max(1, to_samples(lookahead_s, sr)))
    return _smooth_min(g, max(1, to_samples(release_s, sr)))


# --------------------------------------------------------------------------------------------- mix
def mix_layers(layers: Sequence[Layer], sample_rate: int, *, target_lufs: float = -23.0,
               max_true_peak_dbtp: float = -1.0, duck: Ducking | None = Ducking(),
               lookahead_s: float = 0.005, release_s: float = 0.05,
               max_iterations: int = 10) -> tuple[np.ndarray, dict]:
    """Mix layers at their own loudness, duck under dialogue, meet a loudness target and a true-peak ceiling.

    Steps: (1) each layer (after its gain envelope; mono spread to the mix's channels) is measured with
    :func:`avshooter.audio.loudness.integrated_loudness` and gained to its own target (silent layers are left
    out, with a note); (2) layers whose role is in ``duck.roles`` follow a gain curve from the dialogue
    sidechain (``duck.depth_db`` while dialogue is active, attack/release ramps); (3) the sum is gained
    to ``target_lufs``; (4) a look-ahead limiter (gain from a 4x-oversampled peak envelope, ramps that
    never overshoot) holds the true peak under the ceiling; (5) loudness and true peak are measured on
    the result, the master gain and the limiter ceiling are corrected and steps 3-5 repeat until the
    loudness is within 0.5 LU of the target and the true peak (:func:`avshooter.audio.loudness.true_peak_dbtp`)
    is at or below ``max_true_peak_dbtp``.

    Parameters
    ----------
    layers : sequence of Layer
        Same length; mono or the mix's channel count.
    sample_rate : int
    target_lufs : float
        Integrated loudness of the mix, in [-70, -5] LUFS (-23 EBU R128; -16 web).
    max_true_peak_dbtp : float
        True-peak ceiling in dBTP, in [-20, 0].
    duck : Ducking or None
        None: no ducking.
    lookahead_s, release_s : float
        Limiter ramp into a peak (starts that early) and out of it.
    max_iterations : int

    Returns
    -------
    (np.ndarray, dict)
        The mix ``(channels, samples)`` float32, and a report ``{"integrated_lufs", "true_peak_dbtp",
        "target_lufs", "max_true_peak_dbtp", "master_gain_db", "layers": {name: {"role", "gain_db",
        "lufs_before", "lufs_after", "note"}}, "ducking_db", "ducked_s", "limiter_gain_reduction_db",
        "iterations", "converged", "note"}``. A layer's ``lufs_after`` is its loudness as it sits in the
        final mix (layer gain, ducking and master gain; the limiter acts on the sum). Silence is None.
    """
    sr = check_rate(sample_rate)
    target = _number("target_lufs", target_lufs, -70.0, -5.0)
    ceiling_db = _number("max_true_peak_dbtp", max_true_peak_dbtp, -20.0, 0.0)
    if duck is not None and not isinstance(duck, Ducking):
        raise InputError(f"duck={duck!r} is not allowed (a Ducking or None)")
    wavs, n, channels = _prepare(layers)
    report: dict = {"target_lufs": target, "max_true_peak_dbtp": ceiling_db, "layers": {}, "ducking_db": 0.0,
                    "ducked_s": 0.0, "limiter_gain_reduction_db": 0.0, "master_gain_db": 0.0, "iterations": 0,
                    "converged": True, "note": None}
    gained: list[tuple[Layer, np.ndarray, float]] = []
    for layer, x in zip(layers, wavs):
        before = integrated_loudness(x, sr)
        if not math.isfinite(before):
            report["layers"][layer.name] = {"role": layer.role, "gain_db": None, "lufs_before": None,
                                            "lufs_after": None, "note": "silent: left out of the mix"}
            continue
        goal = DEFAULT_LAYER_LUFS[layer.role] if layer.lufs is None else float(layer.lufs)
        gain_db = goal - before
        gained.append((layer, x * 10 ** (gain_db / 20), gain_db))
        report["layers"][layer.name] = {"role": layer.role, "gain_db": round(gain_db, 3),
                                        "lufs_before": round(before, 3), "lufs_after": None, "note": None}
    if not gained:
        report.update(integrated_lufs=None, true_peak_dbtp=None, note="every layer is silent: the mix is silence")
        return np.zeros((channels, n), np.float32), report
    dialogue = [x for layer, x, _ in gained if layer.role == "dialogue"]
    if duck is not None and dialogue:
        duck_gain = _duck_gain(sum(dialogue), sr, duck)
        ducked = [layer.role in duck.roles for layer, _, _ in gained]
        if any(ducked):
            gained = [(layer, x * duck_gain if d else x, g) for (layer, x, g), d in zip(gained, ducked)]
            report["ducking_db"] = round(20 * math.log10(max(float(duck_gain.min()), 1e-12)), 2)
            report["ducked_s"] = round(float((duck_gain < 10 ** (duck.depth_db / 40)).sum()) / sr, 3)
    pre = sum(x for _, x, _ in gained)
    pre_lufs = integrated_loudness(pre, sr)
    if not math.isfinite(pre_lufs):  # layers that cancel out exactly
        report.update(integrated_lufs=None, true_peak_dbtp=None, note="the layers sum to silence")
        return np.zeros((channels, n), np.float32), report
    master_db = target - pre_lufs
    ceiling = ceiling_db - 0.1
    peak = _peak_envelope(pre)
    out, lufs, tp, limit, last, best = pre, pre_lufs, 0.0, np.ones(n), None, None
    for it in range(1, int(max_iterations) + 1):
        g = 10 ** (master_db / 20)
        limit = _limiter_gain(peak * g, 10 ** (ceiling / 20), sr, lookahead_s, release_s)
        out = (pre * (g * limit)).astype(np.float32)
        lufs, tp = integrated_loudness(out, sr), true_peak_dbtp(out, sr)
        report["iterations"] = it
        if tp > ceiling_db:
            ceiling -= tp - ceiling_db + 0.05
            continue
        if best is None or abs(lufs - target) < abs(best[1] - target):
            best = (out, lufs, tp, limit, master_db)
        if abs(lufs - target) <= _AIM_TOL_LU:
            break
        # secant step: under limiting, loudness rises less than 1 dB per dB of master gain
        slope = 1.0
        if last is not None and abs(master_db - last[0]) > 1e-6:
            slope = min(1.0, max(0.3, (lufs - last[1]) / (master_db - last[0])))
        last = (master_db, lufs)
        master_db += float(np.clip((target - lufs) / slope, -12.0, 6.0))
    if best is not None:  # the closest result that kept the ceiling
        out, lufs, tp, limit, master_db = best
    report["converged"] = bool(abs(lufs - target) <= _LOUDNESS_TOL_LU and tp <= ceiling_db)
    if not report["converged"]:
        report["note"] = (f"not met after {report['iterations']} iterations: {lufs:.2f} LUFS, {tp:.2f} dBTP "
                          "(material too peaky for this target and ceiling)")
    g = 10 ** (master_db / 20)
    for layer, x, _ in gained:
        report["layers"][layer.name]["lufs_after"] = round(integrated_loudness(x * g, sr), 3)
    report.update(integrated_lufs=round(lufs, 3), true_peak_dbtp=round(tp, 3), master_gain_db=round(master_db, 3),
                  limiter_gain_reduction_db=round(20 * math.log10(max(float(limit.min()), 1e-12)), 3))
    return out, report


# -------------------------------------------------------------------------------------------- beds
def crossfade_beds(beds: Mapping[str, np.ndarray | None], spans: Sequence[tuple[int, int]],
                   scene_ids: Sequence[str], sample_rate: int, *, crossfade_s: float = 1.0,
                   fade_s: float = 0.05) -> np.ndarray:
    """One continuous ambience layer: each scene's bed carried across its consecutive shots, crossfaded
    (equal power, centred on the boundary) where the scene changes.

    Consecutive shots with the same scene form a run; the run's bed is looped (crossfaded loop, see
    :func:`avshooter.audio.fit.fit_to_duration`) or cut to the run's length plus half a crossfade on each
    inner side. A run that returns to an earlier scene starts its bed again. The crossfade is shortened
    where a run is shorter than it. The timeline starts at sample 0 and ends at the last span's stop
    (gaps between shots belong to the run before them).

    Parameters
    ----------
    beds : mapping scene id -> np.ndarray (channels, samples) or None
        One bed per scene; None means no ambience for that scene (silence).
    spans : sequence of (int, int)
        Shot sample spans (:func:`avshooter.audio.fit.shot_sample_spans`).
    scene_ids : sequence of str
        Scene of each shot.
    sample_rate : int
    crossfade_s : float
        Crossfade at scene changes.
    fade_s : float
        Loop crossfade / end fade inside a bed.

    Returns
    -------
    np.ndarray, shape (channels, spans[-1][1]), float32
        Channels: the most any bed has (mono beds are spread).
    """
    sr = check_rate(sample_rate)
    xfade = to_samples(_number("crossfade_s", crossfade_s, 0.0, 3600.0), sr)
    if len(spans) == 0 or len(spans) != len(scene_ids):
        raise InputError(f"crossfade_beds: {len(spans)} spans and {len(scene_ids)} scene ids (need one per shot, >= 1)")
    for sid in scene_ids:
        if sid not in beds:
            raise InputError(f"crossfade_beds: no bed for scene {sid!r} (give a wav or None for every scene)")
    checked = {sid: check_audio(w, name=f"bed {sid!r}") for sid, w in beds.items() if w is not None and sid in set(scene_ids)}
    channels = max((w.shape[0] for w in checked.values()), default=1)
    for sid, w in checked.items():
        if w.shape[0] not in (1, channels):
            raise InputError(f"bed {sid!r} has {w.shape[0]} channels; others have {channels} (mono or matching)")
    total = int(spans[-1][1])
    runs: list[list] = []  # [scene, start, stop]
    for (a, b), sid in zip(spans, scene_ids):
        if runs and runs[-1][0] == sid:
            runs[-1][2] = int(b)
        else:
            if runs:
                runs[-1][2] = int(a)  # a gap belongs to the run before it
            runs.append([sid, 0 if not runs else int(a), int(b)])
    runs[-1][2] = total
    halves = [0]
    for r in range(1, len(runs)):
        half = min(xfade // 2, (runs[r - 1][2] - runs[r - 1][1]) // 2, (runs[r][2] - runs[r][1]) // 2)
        halves.append(max(0, half))
    halves.append(0)
    out = np.zeros((channels, total), np.float32)
    for r, (sid, a, b) in enumerate(runs):
        bed = checked.get(sid)
        if bed is None:
            continue
        left, right = halves[r], halves[r + 1]
        piece = fit_to_duration(bed, sr, num_samples=b - a + left + right, fade_s=fade_s, mode="loop")
        if piece.shape[0] != channels:
            piece = np.repeat(piece, channels, axis=0)
        if left:
            ramp = (np.arange(2 * left) + 0.5) / (2 * left) * (np.pi / 2)
            piece[:, : 2 * left] *= np.sin(ramp).astype(np.float32)
        if right:
            ramp = (np.arange(2 * right) + 0.5) / (2 * right) * (np.pi / 2)
            piece[:, -2 * right:] *= np.cos(ramp).astype(np.float32)
        out[:, a - left: b + right] += piece
    return out
