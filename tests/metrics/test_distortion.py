"""harness.metrics.distortion: THD, THD+N, harmonic balance, swept harmonics and IMD against
closed-form polynomial answers."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.polynomial import chebyshev

from harness import stimuli as S
from harness.errors import InputError
from harness.metrics.distortion import (
    harmonic_balance,
    imd,
    min_samples_to_resolve,
    sweep_harmonics,
    thd,
)

from ._signals import FS, sine

# Lobe-power amplitudes are exact up to the −188 dB window sidelobes and float rounding:
# measured relative errors ~1e-14; 1e-9 leaves room without hiding a real error.
EXACT = 1e-9


@pytest.mark.parametrize("f0,seconds", [(1000.0, 1.0), (997.0, 1.0), (82.41, 0.5), (997.0, 0.05)])
@pytest.mark.parametrize("A,a,b", [(1.0, 0.1, 0.01), (0.5, 0.3, 0.2), (0.2, 0.0, 0.5)])
def test_thd_of_quadratic_plus_cubic(f0, seconds, A, a, b):
    # x = A·cos ωt, y = x + a·x² + b·x³:
    # H1 = A + 3bA³/4, H2 = aA²/2, H3 = bA³/4 (and DC aA²/2, which THD ignores).
    x = sine(f0, seconds, A)
    r = thd(x + a * x**2 + b * x**3, FS, f0)
    h1, h2, h3 = A + 0.75 * b * A**3, a * A**2 / 2, b * A**3 / 4
    assert r.thd_ratio == pytest.approx(math.hypot(h2, h3) / h1, rel=EXACT)
    assert r.harmonic_amplitudes[0] == pytest.approx(h1, rel=EXACT)
    if a:
        assert r.harmonics_db[0] == pytest.approx(20 * math.log10(h2 / h1), abs=1e-8)
    assert r.harmonics_db[1] == pytest.approx(20 * math.log10(h3 / h1), abs=1e-8)
    assert r.fundamental_dbfs == pytest.approx(20 * math.log10(h1), abs=1e-8)
    # Nothing else: THD+N (bandwidth 20 Hz–20 kHz) equals THD when H2, H3 are in band.
    assert r.thd_n_ratio == pytest.approx(r.thd_ratio, rel=1e-6)


def test_thd_of_chebyshev_shaper():
    # Chebyshev identity T_n(cos θ) = cos nθ: Σ c_n·T_n(x) on a full-scale cosine has exactly
    # c_n at the n-th harmonic.
    c = np.array([0.0, 1.0, 0.1, 0.03, 0.01, 0.003, 0.001, 3e-4, 1e-4, 3e-5])
    x = sine(997.0, 1.0)
    r = thd(chebyshev.chebval(x, c), FS, 997.0)
    np.testing.assert_allclose(r.harmonic_amplitudes[:9], c[1:], rtol=1e-8)
    assert r.thd_ratio == pytest.approx(math.sqrt(np.sum(c[2:] ** 2)), rel=EXACT)
    assert r.harmonics_db[8] < -180.0  # H10 is absent: the window's leakage floor


def test_minimum_length_is_19_bins_of_the_component_spacing():
    # Kaiser β = 24: main lobe ±7.7 bins, rounded up, +1 bin margin each side, + centre.
    assert min_samples_to_resolve(1000.0, FS) == 19 * 48
    n = min_samples_to_resolve(997.0, FS)
    thd(sine(997.0, n / FS), FS, 997.0)  # resolves at exactly the minimum
    with pytest.raises(InputError, match="need 19 bins"):
        thd(sine(997.0, (n - 2) / FS), FS, 997.0)


def test_harmonics_above_nyquist_are_nan_and_excluded():
    x = sine(5000.0, 0.5)
    r = thd(x + 0.1 * x**3, FS, 5000.0)  # H3 = 15 kHz in band, H5.. above 24 kHz
    assert np.all(np.isnan(r.harmonics_db[3:]))  # H5 = 25 kHz and up
    assert r.thd_ratio == pytest.approx(0.025 / 1.075, rel=EXACT)


def test_thd_n_counts_an_inharmonic_tone_and_respects_bandwidth():
    # An inharmonic tone of amplitude e adds e to THD+N (in quadrature), not to THD; a tone
    # above the 20 kHz AES17 bandwidth adds nothing.
    x = sine(997.0, 1.0)
    y = x + 0.01 * x**2 + sine(1234.5, 1.0, 0.003) + sine(21000.0, 1.0, 0.05)
    r = thd(y, FS, 997.0)
    assert r.thd_ratio == pytest.approx(0.005, rel=EXACT)
    assert r.thd_n_ratio == pytest.approx(math.hypot(0.005, 0.003), rel=1e-6)
    wide = thd(y, FS, 997.0, bandwidth_hz=(20.0, 23000.0))
    assert wide.thd_n_ratio == pytest.approx(math.sqrt(0.005**2 + 0.003**2 + 0.05**2), rel=1e-6)


@settings(max_examples=25, deadline=None)
@given(gain=st.floats(1e-3, 1e3), f0=st.integers(50, 5000))
def test_thd_is_gain_invariant(gain, f0):
    x = sine(float(f0), 0.5, 0.5)
    y = np.tanh(2 * x)
    assert thd(gain * y, FS, f0).thd_ratio == pytest.approx(thd(y, FS, f0).thd_ratio, rel=1e-9)


def test_harmonic_balance_of_polynomial_on_level_steps():
    stim = S.level_stepped_sine(FS, 1000.0, step_s=0.2, settle_s=0.05)
    a, b = 0.2, 0.1
    x = stim.signal
    delay = 12
    y = np.concatenate([np.zeros(delay), x + a * x**2 + b * x**3])
    hb = harmonic_balance(y, stim, delay_samples=delay, sample_rate=FS)
    A = 10 ** (np.array(stim.meta["levels_dbfs"]) / 20)
    h1, h2, h3 = A + 0.75 * b * A**3, a * A**2 / 2, b * A**3 / 4
    np.testing.assert_allclose(hb.levels_dbfs, stim.meta["levels_dbfs"])
    np.testing.assert_allclose(hb.output_dbfs, 20 * np.log10(h1), atol=1e-8)
    np.testing.assert_allclose(hb.h2_db, 20 * np.log10(h2 / h1), atol=1e-8)
    np.testing.assert_allclose(hb.h3_db, 20 * np.log10(h3 / h1), atol=1e-8)
    # Even/odd: only H2 and H3 exist, so the ratio is H2²/H3² = (2a/(bA))².
    np.testing.assert_allclose(hb.even_odd_db, 20 * np.log10(2 * a / (b * A)), atol=1e-8)
    np.testing.assert_allclose(hb.thd_ratio, np.hypot(h2, h3) / h1, rtol=EXACT)


@pytest.mark.parametrize("f_end", [7000.0, 20000.0])
def test_sweep_harmonics_of_polynomial(f_end):
    stim = S.exp_sweep(FS, 20.0, f_end, duration_s=3.0, tail_s=0.5, level_dbfs=-6.0)
    A, a, b = 10 ** (-6 / 20), 0.2, 0.1
    x = stim.signal
    y = np.concatenate([np.zeros(37), x + a * x**2 + b * x**3])
    r = sweep_harmonics(y, stim, sample_rate=FS)
    assert r.latency_samples == 37
    gain = 1 + 0.75 * b * A**2  # fundamental gain of the cubic term
    e2 = 20 * math.log10((a * A / 2) / gain)
    e3 = 20 * math.log10((b * A**2 / 4) / gain)
    # Measured: |H1| within 0.07 dB (worst at the lowest grid point), harmonics within
    # 0.035 dB (window truncation of band-limited responses, documented in the module).
    np.testing.assert_allclose(r.h1_db, 20 * math.log10(gain), atol=0.08)
    for k, expected in ((2, e2), (3, e3)):
        valid = np.isfinite(r.harmonics_db[k])
        assert valid.sum() > 50
        np.testing.assert_allclose(r.harmonics_db[k][valid], expected, atol=0.05)
        # Harmonic k is reported while k·f stays a sixth of an octave below f_end.
        assert r.frequencies_hz[valid].max() * k <= f_end
    # No 4th/5th harmonic in a cubic: what remains is the measurement floor.
    assert np.nanmax(r.harmonics_db[4]) < -80.0
    valid = np.isfinite(r.thd_ratio)
    np.testing.assert_allclose(
        r.thd_ratio[valid & np.isfinite(r.harmonics_db[3])],
        math.hypot(10 ** (e2 / 20), 10 ** (e3 / 20)),
        rtol=0.01,
    )


def _two_tone(f1, f2, a1, a2, seconds=1.0):
    return sine(f1, seconds, a1) + sine(f2, seconds, a2)


@pytest.mark.parametrize("f1,f2", [(60.0, 7000.0), (250.0, 8000.0), (110.0, 1300.0)])
def test_imd_smpte_of_polynomial(f1, f2):
    # x = a1·cos ω1t + a2·cos ω2t, y = x + a·x² + b·x³. Sidebands:
    # f2 ± f1: a·a1·a2 each (2nd order); f2 ± 2f1: 3b·a1²·a2/4 each (3rd order);
    # A(f2) = a2 + b·(3a1²a2/2 + 3a2³/4).
    a1, a2, a, b = 0.4, 0.1, 0.05, 0.02
    x = _two_tone(f1, f2, a1, a2)
    y = x + a * x**2 + b * x**3
    d2 = 2 * a * a1 * a2
    d3 = 2 * 0.75 * b * a1**2 * a2
    ref = a2 + b * (1.5 * a1**2 * a2 + 0.75 * a2**3)
    assert imd(y, FS, f1, f2, "smpte") == pytest.approx(math.hypot(d2, d3) / ref, rel=1e-8)


def test_imd_ccif_of_polynomial():
    # f2 − f1 (2nd order): a·a1·a2; 2f1 − f2 and 2f2 − f1 (3rd): 3b·a1²a2/4 and 3b·a1a2²/4;
    # tone amplitudes A1 = a1 + b(3a1³/4 + 3a1a2²/2), A2 likewise.
    f1, f2, a1, a2, a, b = 19000.0, 20000.0, 0.5, 0.5, 0.05, 0.02
    x = _two_tone(f1, f2, a1, a2)
    y = x + a * x**2 + b * x**3
    d2 = a * a1 * a2
    d3 = 0.75 * b * (a1**2 * a2 + a1 * a2**2)
    A1 = a1 + b * (0.75 * a1**3 + 1.5 * a1 * a2**2)
    A2 = a2 + b * (0.75 * a2**3 + 1.5 * a1**2 * a2)
    assert imd(y, FS, f1, f2, "ccif") == pytest.approx(math.hypot(d2, d3) / (A1 + A2), rel=1e-8)


def test_imd_of_linear_system_is_at_the_floor():
    x = _two_tone(60.0, 7000.0, 0.4, 0.1)
    assert imd(x, FS, 60.0, 7000.0) < 1e-8  # −160 dB: window sidelobes and rounding


STIM_SWEEP = S.exp_sweep(FS, 20.0, 20000.0, duration_s=1.0, tail_s=0.2)
STIM_STEPS = S.level_stepped_sine(FS, 1000.0, levels_dbfs=(-20.0, -10.0), step_s=0.2, settle_s=0.05)

BAD = [
    (lambda: thd(sine(1000.0, 1.0), FS, 30000.0), "Nyquist"),
    (lambda: thd(sine(1000.0, 1.0), FS, 0.0), "positive"),
    (lambda: thd(sine(1000.0, 0.005), FS, 1000.0), "at least"),
    (lambda: thd(np.zeros(0), FS, 1000.0), "empty"),
    (lambda: thd(np.r_[sine(1000.0, 0.1), np.nan], FS, 1000.0), "index 4800"),
    (lambda: thd(sine(1000.0, 0.1), -FS, 1000.0), "sample rate"),
    (lambda: thd(sine(1000.0, 0.1), FS, 1000.0, n_harmonics=1), "n_harmonics"),
    (lambda: thd(np.zeros(4800), FS, 1000.0), "no energy"),
    (lambda: thd(sine(1000.0, 0.1), FS, 1000.0, kaiser_beta=1.0), "kaiser_beta"),
    (lambda: imd(sine(60.0, 1.0), FS, 60.0, 25000.0), "Nyquist"),
    (lambda: imd(sine(60.0, 1.0), FS, 7000.0, 60.0), "f1 < f2"),
    (lambda: imd(sine(60.0, 1.0), FS, 60.0, 7000.0, "din"), "standard"),
    (lambda: imd(sine(60.0, 0.1), FS, 60.0, 7000.0), "at least"),
    (lambda: imd(np.r_[np.inf, sine(60.0, 1.0)], FS, 60.0, 7000.0), "index 0"),
    (lambda: imd(np.zeros(FS), FS, 60.0, 7000.0), "no energy"),
    (lambda: harmonic_balance(STIM_STEPS.signal, STIM_STEPS, sample_rate=44100), "44100"),
    (lambda: harmonic_balance(STIM_STEPS.signal, STIM_SWEEP), "level_stepped_sine"),
    (lambda: harmonic_balance(STIM_STEPS.signal[:1000], STIM_STEPS), "outside"),
    (lambda: harmonic_balance(np.zeros(0), STIM_STEPS), "empty"),
    (lambda: harmonic_balance(STIM_STEPS.signal, "not a stimulus"), "Stimulus"),
    (lambda: sweep_harmonics(STIM_SWEEP.signal, STIM_SWEEP, sample_rate=96000), "96000"),
    (lambda: sweep_harmonics(STIM_SWEEP.signal, STIM_STEPS), "exp_sweep"),
    (lambda: sweep_harmonics(STIM_SWEEP.signal[:100], STIM_SWEEP), "at least"),
    (lambda: sweep_harmonics(np.r_[np.nan, STIM_SWEEP.signal], STIM_SWEEP), "index 0"),
    (lambda: sweep_harmonics(STIM_SWEEP.signal, STIM_SWEEP, n_harmonics=1), "n_harmonics"),
]


@pytest.mark.parametrize("call,message", BAD)
def test_bad_input_is_rejected_clearly(call, message):
    with pytest.raises(InputError, match=message):
        call()
