"""harness.metrics.dynamics: envelopes, attack/decay, transient error, sag/recovery and pluck
diagnostics on synthetic signals with closed-form answers."""

import math

import numpy as np
import pytest

from harness import stimuli as S
from harness.errors import InputError
from harness.metrics.dynamics import (
    attack_time_ms,
    burst_dynamics,
    decay_time_ms,
    envelope,
    pluck_diagnostics,
    recovery_time_ms,
    sag_depth_db,
    transient_envelope_error_db,
)

from ._signals import FS

# 4 whole periods in 49 samples (the odd 1 ms window): a moving mean of sin² over the
# window is exactly 1/2, so RMS envelopes of this carrier have no ripple.
CARRIER_HZ = 4 * FS / 49


def _carrier(n: int) -> np.ndarray:
    return np.sin(2 * np.pi * CARRIER_HZ * np.arange(n) / FS)


def test_envelopes_of_a_steady_sine():
    x = 0.5 * _carrier(FS)
    inner = slice(2400, FS - 2400)
    np.testing.assert_allclose(
        envelope(x, FS, window_ms=1.0)[inner], 0.5 / math.sqrt(2), rtol=1e-12
    )
    # Hilbert magnitude of a sine is its amplitude, up to the FFT's periodic-extension edge
    # error, which the 50 ms margin keeps below 1e-3.
    np.testing.assert_allclose(
        envelope(x, FS, method="hilbert", window_ms=1.0)[inner], 0.5, rtol=1e-3
    )


def test_attack_time_of_a_linear_ramp():
    # 100 ms linear ramp then hold: the 10 %→90 % rise is 80 ms. The 1 ms box on the squared
    # envelope biases the 10 % crossing by √(t² + W²/12) − t < 0.005 ms.
    n_ramp = int(0.1 * FS)
    amp = np.concatenate([np.arange(n_ramp) / n_ramp, np.ones(FS // 2)])
    x = np.concatenate([np.zeros(2400), amp * _carrier(amp.size)])
    assert attack_time_ms(x, FS, window_ms=1.0) == pytest.approx(80.0, abs=0.03)


def test_decay_time_of_an_exponential():
    # Amplitude e^(−t/τ): energy falls 20 dB in τ·ln 10 (Schroeder integral of e^(−2t/τ)).
    # The peak is the first carrier crest after a 1 ms attack: timing within a carrier
    # period (0.25 ms).
    tau = 0.05
    t = np.arange(FS) / FS
    amp = np.minimum(t / 0.001, 1.0) * np.exp(-np.maximum(t - 0.001, 0.0) / tau)
    x = amp * _carrier(FS)
    assert decay_time_ms(x, FS, window_ms=0.0) == pytest.approx(1e3 * tau * math.log(10), abs=0.25)
    assert decay_time_ms(x, FS, drop_db=40.0, window_ms=0.0) == pytest.approx(
        2e3 * tau * math.log(10), abs=0.25
    )
    # A constant 1000-sample signal: the backward integral from the peak never falls more
    # than 10·log10(1000) = 30 dB before the signal ends.
    assert decay_time_ms(np.ones(1000), FS, drop_db=40.0) == math.inf


def test_transient_envelope_error():
    x = np.concatenate([np.zeros(480), np.exp(-np.arange(FS) / 4800.0)]) * _carrier(FS + 480)
    assert transient_envelope_error_db(x, x, FS) == 0.0
    assert transient_envelope_error_db(x, 2 * x, FS) == pytest.approx(20 * math.log10(2), abs=1e-9)
    assert transient_envelope_error_db(x, -2 * x, FS) == pytest.approx(20 * math.log10(2), abs=1e-9)
    # A silent candidate reads as the floor (−60 dB re the reference peak): the error is
    # positive and bounded by the floor depth.
    silent = transient_envelope_error_db(x, np.zeros_like(x), FS)
    assert 0.0 < silent <= 60.0


def _sagging_system(stim: S.Stimulus, depth: float, hold_s: float, recover: float, tau_s: float):
    """y = g(t)·x: during each burst g = 1 for ``hold_s`` then 1 − depth; after the burst
    g = 1 − recover·e^(−t/τ) through the following probe."""
    g = np.ones(stim.signal.size)
    for k in range(stim.meta["n_bursts"]):
        start, end = stim.segments[f"burst_{k}"]
        g[start + int(hold_s * FS) : end] = 1.0 - depth
        p_start, p_end = stim.segments[f"probe_{k + 1}"]
        t = np.arange(p_end - p_start) / FS
        g[p_start:p_end] = 1.0 - recover * np.exp(-t / tau_s)
    return g * stim.signal


def test_sag_and_recovery_of_a_known_gain_law():
    stim = S.bursts(FS, n_bursts=2, burst_s=0.5, probe_s=1.0)
    depth, recover, tau = 0.2, 0.3, 0.05
    y = _sagging_system(stim, depth, 0.1, recover, tau)
    # Burst level steps from 1 to 1 − depth inside the burst: sag = −20·log10(0.8).
    # The 2-period demodulator leaks 3e-4 of the 2f image (873 samples ≠ 2 periods exactly).
    assert sag_depth_db(y, stim) == pytest.approx(-20 * math.log10(1 - depth), abs=0.01)
    # Probe recovers as 1 − r·e^(−t/τ): within 1 dB after τ·ln(r / (1 − 10^(−1/20))).
    expected_ms = 1e3 * tau * math.log(recover / (1 - 10 ** (-1 / 20)))
    # Box-averaging an exponential shifts the crossing by τ·(W/τ)²/24 (3 µs); sampling ±1.
    assert recovery_time_ms(y, stim) == pytest.approx(expected_ms, abs=0.05)
    result = burst_dynamics(y, stim)
    np.testing.assert_allclose(result.probe_offset_db, 0.0, atol=1e-3)
    assert result.window_ms == pytest.approx((2e3 / 110, 2.0))


def test_linear_system_has_no_sag_and_immediate_recovery():
    stim = S.bursts(FS, n_bursts=1)
    delay = 25
    y = np.concatenate([np.zeros(delay), 0.7 * stim.signal])
    assert sag_depth_db(y, stim, delay_samples=delay) == pytest.approx(0.0, abs=0.01)
    # Recovery can only be resolved to the analysis window (ramp 2 ms + one probe period).
    assert recovery_time_ms(y, stim, delay_samples=delay) <= 3.0


def _note(n: int, tau: float, high_tau: float, high_amp: float) -> np.ndarray:
    t = np.arange(n) / FS
    attack = np.minimum(t / 0.001, 1.0)
    low = np.exp(-t / tau) * np.sin(2 * np.pi * 196.0 * t)
    high = high_amp * np.exp(-t / high_tau) * np.sin(2 * np.pi * 4000.0 * t)
    return attack * (low + high)


def test_pluck_diagnostics_of_synthetic_notes():
    n = FS
    notes = [_note(n, 0.2, 0.2, 0.0), _note(n, 0.3, 0.05, 0.3)]
    stim = S.Stimulus(
        "synthetic",
        np.concatenate(notes),
        FS,
        {"note_0": (0, n), "note_1": (n, 2 * n)},
        {"kind": "plucks"},
    )
    first, second = pluck_diagnostics(stim.signal, stim, window_ms=5.0)
    # Pure exponential e^(−t/τ): the envelope falls 20·log10(e)/τ dB/s = −43.43 dB/s at
    # τ = 0.2 s; the 5 ms window and the 196 Hz ripple move the fit by < 0.5 dB/s.
    assert first.decay_db_per_s == pytest.approx(-20 * math.log10(math.e) / 0.2, abs=0.5)
    assert first.attack_ms < 5.0 and first.segment == "note_0"
    assert first.high_band_attack_db < -60.0  # no partial above 2 kHz: window leakage only
    # High-band share of Hann-weighted energy, attack window and sustain, by quadrature.
    t = np.arange(n) / FS
    for part, slc in (("attack", slice(0, int(0.05 * FS))), ("sustain", slice(int(0.2 * FS), n))):
        tt = t[slc] - t[slc][0]
        w2 = np.hanning(tt.size) ** 2
        low = np.exp(-2 * t[slc] / 0.3) / 2
        high = 0.09 * np.exp(-2 * t[slc] / 0.05) / 2
        expected = 10 * math.log10(np.sum(w2 * high) / np.sum(w2 * (low + high)))
        measured = getattr(second, f"high_band_{part}_db")
        # The onset is the 10 % crossing (~0.2 ms in): segments start that much later.
        assert measured == pytest.approx(expected, abs=0.1)
    assert second.high_band_attack_db > second.high_band_sustain_db + 10


def test_karplus_strong_plucks_look_like_plucks():
    stim = S.plucks(FS, notes=(40, 52, 64), note_s=1.0)
    for d in pluck_diagnostics(stim.signal, stim):
        assert d.attack_ms < 10.0  # a pluck is a near-instant attack
        assert d.decay_db_per_s < 0.0
        assert d.high_band_attack_db > d.high_band_sustain_db  # strings lose their top first
        assert -30.0 < d.peak_dbfs < -12.0


BURSTS = S.bursts(FS, n_bursts=1, burst_s=0.2, probe_s=0.3)
PLUCKS = S.plucks(FS, notes=(40,), note_s=0.3)

BAD = [
    (lambda: envelope(np.zeros(0), FS), "empty"),
    (lambda: envelope(np.r_[1.0, np.nan], FS), "index 1"),
    (lambda: envelope(np.ones(10), 0), "sample rate"),
    (lambda: envelope(np.ones(10), FS, method="peak"), "method"),
    (lambda: envelope(np.ones(10), FS, window_ms=-1), "window_ms"),
    (lambda: attack_time_ms(np.zeros(100), FS), "silent"),
    (lambda: attack_time_ms(np.ones(100), FS, low=0.9, high=0.1), "low < high"),
    (lambda: attack_time_ms(np.ones(1), FS), "at least 2"),
    (lambda: decay_time_ms(np.ones(100), FS, drop_db=0.0), "drop_db"),
    (lambda: decay_time_ms(np.r_[np.inf, np.ones(3)], FS), "index 0"),
    (lambda: transient_envelope_error_db(np.ones(10), np.ones(11), FS), "align"),
    (
        lambda: transient_envelope_error_db(np.ones(10), np.ones(10), FS, candidate_sample_rate=1),
        "1",
    ),
    (lambda: transient_envelope_error_db(np.zeros(10), np.ones(10), FS), "silent"),
    (lambda: transient_envelope_error_db(np.ones(10), np.ones(10), FS, floor_db=3.0), "floor_db"),
    (lambda: sag_depth_db(BURSTS.signal, BURSTS, sample_rate=44100), "44100"),
    (lambda: sag_depth_db(BURSTS.signal[:1000], BURSTS), "outside"),
    (lambda: sag_depth_db(BURSTS.signal, PLUCKS), "bursts"),
    (lambda: recovery_time_ms(np.r_[BURSTS.signal[:-1], np.nan], BURSTS), "index"),
    (lambda: recovery_time_ms(BURSTS.signal, BURSTS, tolerance_db=0.0), "tolerance_db"),
    (lambda: recovery_time_ms(np.zeros(BURSTS.signal.size), BURSTS), "baseline"),
    (lambda: pluck_diagnostics(PLUCKS.signal, PLUCKS, sample_rate=96000), "96000"),
    (lambda: pluck_diagnostics(PLUCKS.signal, BURSTS), "plucks"),
    (lambda: pluck_diagnostics(PLUCKS.signal, PLUCKS, high_band_hz=30000.0), "Nyquist"),
    (lambda: pluck_diagnostics(np.zeros(0), PLUCKS), "empty"),
]


@pytest.mark.parametrize("call,message", BAD)
def test_bad_input_is_rejected_clearly(call, message):
    with pytest.raises(InputError, match=message):
        call()
