"""Mixing: layer loudness, ducking, loudness target and true-peak ceiling on real material; ambience beds."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from avshooter.errors import InputError
from avshooter.audio.fit import shot_sample_spans
from avshooter.audio.loudness import integrated_loudness, true_peak_dbtp
from avshooter.media.decode import load_audio
from avshooter.audio.mix import Ducking, Layer, crossfade_beds, mix_layers
from avshooter.units import to_samples

SR = 44100


@pytest.fixture(scope="module")
def material(media):
    """Dialogue (LibriSpeech, mono), music (Vibe Ace), ambience (train), effects (typing): 10 s each."""
    audio = media / "audio"
    n = to_samples(10.0, SR)
    out = {}
    for role, name in [("dialogue", "libri1_5703-47212-0000.hq.ogg"), ("music", "vibeace_kevin_macleod.ogg"),
                       ("ambience", "train_freesound_ibmmax.wav"), ("effects", "typing_freesound_ibmmax.wav")]:
        wav, _ = load_audio(audio / name, sample_rate=SR)
        assert wav.shape[1] >= n
        out[role] = np.ascontiguousarray(wav[:, :n])
    return out


def _layers(material):
    return [Layer(role, wav, role) for role, wav in material.items()]


@pytest.mark.parametrize("target", [-23.0, -16.0])
def test_mix_meets_loudness_and_true_peak_on_real_material(material, target):
    mix, report = mix_layers(_layers(material), SR, target_lufs=target, max_true_peak_dbtp=-1.0)
    assert mix.dtype == np.float32 and mix.shape == (2, to_samples(10.0, SR))  # mono dialogue spread to stereo
    # measured independently of the report
    assert abs(integrated_loudness(mix, SR) - target) <= 0.5
    assert true_peak_dbtp(mix, SR) <= -1.0
    assert report["integrated_lufs"] == pytest.approx(integrated_loudness(mix, SR), abs=1e-3)
    assert report["true_peak_dbtp"] <= -1.0 and report["converged"] and report["note"] is None
    assert set(report["layers"]) == {"dialogue", "music", "ambience", "effects"}
    for layer in report["layers"].values():
        assert layer["gain_db"] is not None and layer["lufs_before"] is not None and layer["lufs_after"] is not None
    assert report["ducking_db"] == pytest.approx(-10.0, abs=0.1)
    assert report["limiter_gain_reduction_db"] <= 0.0
    # the balance is the layer targets': dialogue sits 7 LU above the music before ducking, more after
    lay = report["layers"]
    assert lay["dialogue"]["lufs_after"] - lay["music"]["lufs_after"] >= 7.0


def test_louder_target_uses_the_limiter(material):
    _, quiet = mix_layers(_layers(material), SR, target_lufs=-23.0)
    _, loud = mix_layers(_layers(material), SR, target_lufs=-16.0)
    assert loud["limiter_gain_reduction_db"] < quiet["limiter_gain_reduction_db"] <= 0.0


def test_ducking_lowers_music_under_dialogue():
    rng = np.random.default_rng(0)
    n = to_samples(8.0, SR)
    t = np.arange(n) / SR
    speech = rng.standard_normal(n) * ((t >= 3.0) & (t < 5.0))
    speech = signal.sosfilt(signal.butter(4, 3000, "highpass", fs=SR, output="sos"), speech)  # above the music
    music = 0.1 * np.sin(2 * np.pi * 220 * t)
    layers = [Layer("d", speech[None].astype(np.float32), "dialogue"), Layer("m", music[None].astype(np.float32), "music")]
    low = signal.butter(4, 800, "lowpass", fs=SR, output="sos")

    def music_db(mix, a, b):
        x = signal.sosfiltfilt(low, mix[0].astype(np.float64))[to_samples(a, SR): to_samples(b, SR)]
        return 20 * np.log10(np.sqrt(np.mean(x**2)))

    ducked, rep = mix_layers(layers, SR, duck=Ducking(depth_db=-10.0))
    flat, rep_flat = mix_layers(layers, SR, duck=None)
    drop = music_db(ducked, 0.5, 2.5) - music_db(ducked, 3.5, 4.5)
    assert drop == pytest.approx(10.0, abs=1.0)                # -10 dB under the dialogue
    assert abs(music_db(flat, 0.5, 2.5) - music_db(flat, 3.5, 4.5)) < 0.5
    assert music_db(ducked, 6.0, 7.5) == pytest.approx(music_db(ducked, 0.5, 2.5), abs=0.5)  # released after
    assert rep["ducking_db"] == pytest.approx(-10.0, abs=0.1) and rep_flat["ducking_db"] == 0.0
    assert 1.8 <= rep["ducked_s"] <= 2.8


def test_silent_layer_is_left_out_with_a_note(material):
    layers = _layers(material) + [Layer("quiet", np.zeros_like(material["music"]), "music")]
    mix, report = mix_layers(layers, SR)
    assert report["layers"]["quiet"]["gain_db"] is None and "silent" in report["layers"]["quiet"]["note"]
    assert abs(integrated_loudness(mix, SR) + 23.0) <= 0.5
    mix, report = mix_layers([Layer("a", np.zeros((2, 1000), np.float32), "effects")], SR)
    assert not mix.any() and report["integrated_lufs"] is None and "silent" in report["note"]


def test_mono_and_stereo_layers_and_gain_envelope():
    rng = np.random.default_rng(1)
    n = to_samples(3.0, SR)
    mono = (rng.standard_normal((1, n)) * 0.05).astype(np.float32)
    stereo = (rng.standard_normal((2, n)) * 0.05).astype(np.float32)
    env = np.ones(n)
    env[: n // 2] = 0.0
    mix, report = mix_layers([Layer("fx", mono, "effects", gain_envelope=env), Layer("amb", stereo, "ambience", lufs=-30.0)],
                             SR, target_lufs=-20.0)
    assert mix.shape == (2, n)
    assert abs(integrated_loudness(mix, SR) + 20.0) <= 0.5 and true_peak_dbtp(mix, SR) <= -1.0
    assert report["ducking_db"] == 0.0  # no dialogue, nothing ducks
    assert report["layers"]["amb"]["gain_db"] == pytest.approx(-30.0 - integrated_loudness(stereo, SR), abs=1e-3)


def test_bad_input_is_refused():
    ok = np.zeros((1, 100), np.float32)
    bad = ok.copy()
    bad[0, 5] = np.nan
    with pytest.raises(InputError, match="NaN"):
        mix_layers([Layer("a", bad, "effects")], SR)
    with pytest.raises(InputError, match="lengths"):
        mix_layers([Layer("a", ok, "effects"), Layer("b", np.zeros((1, 99), np.float32), "music")], SR)
    with pytest.raises(InputError, match="role"):
        mix_layers([Layer("a", ok, "foley")], SR)
    with pytest.raises(InputError, match="twice"):
        mix_layers([Layer("a", ok, "effects"), Layer("a", ok, "music")], SR)
    with pytest.raises(InputError, match="target_lufs"):
        mix_layers([Layer("a", ok, "effects")], SR, target_lufs=3.0)
    with pytest.raises(InputError, match="channels"):
        mix_layers([Layer("a", np.zeros((2, 100), np.float32), "effects"), Layer("b", np.zeros((6, 100), np.float32), "music")], SR)
    with pytest.raises(InputError, match="no layers"):
        mix_layers([], SR)


def _tone(freq, n, channels=1):
    return np.tile(0.1 * np.sin(2 * np.pi * freq * np.arange(n) / SR), (channels, 1)).astype(np.float32)


def test_crossfade_beds_carry_across_shots_and_crossfade_at_scene_changes():
    durations = [2.0, 1.5, 2.5, 1.0, 2.0]
    spans = shot_sample_spans(durations, SR)
    scenes = ["street", "street", "park", "park", "street"]
    beds = {"street": _tone(300, to_samples(0.7, SR), 2), "park": _tone(700, to_samples(5.0, SR))}
    out = crossfade_beds(beds, spans, scenes, SR, crossfade_s=0.5)
    assert out.shape == (2, spans[-1][1]) and out.dtype == np.float32

    def band(x, f):
        return np.abs(np.fft.rfft(x) [round(f * x.size / SR)]) / x.size

    def window(a, b):
        return out[0, to_samples(a, SR): to_samples(b, SR)]

    # inside runs: only that scene's bed, carried across the street shots' boundary (no fade at 2.0 s)
    assert band(window(1.5, 2.5), 300) > 20 * band(window(1.5, 2.5), 700)
    assert band(window(4.0, 5.0), 700) > 20 * band(window(4.0, 5.0), 300)
    # the looped short bed has no gaps: 10 ms RMS never drops inside the first run
    body = window(0.0, 3.2)
    rms = np.sqrt((body[: body.size // 441 * 441].reshape(-1, 441) ** 2).mean(axis=1))
    assert rms.min() > 0.3 * rms.max()
    # crossfade centred on the scene change at 3.5 s: both beds present, equal power in the middle
    mid = window(3.45, 3.55)
    assert band(mid, 300) == pytest.approx(band(mid, 700), rel=0.3)
    assert band(window(3.1, 3.2), 700) < 0.01 and band(window(3.8, 3.9), 300) < 0.01


def test_crossfade_beds_silence_and_errors():
    spans = shot_sample_spans([1.0, 1.0], SR)
    out = crossfade_beds({"a": None, "b": _tone(500, SR)}, spans, ["a", "b"], SR)
    assert not out[:, : to_samples(0.5, SR)].any() and out[:, -to_samples(0.5, SR):].any()
    with pytest.raises(InputError, match="no bed for scene 'c'"):
        crossfade_beds({"a": None}, spans, ["a", "c"], SR)
    with pytest.raises(InputError, match="scene ids"):
        crossfade_beds({"a": None}, spans, ["a"], SR)
