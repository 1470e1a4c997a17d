"""harness.metrics.phase: H1 transfer function, group delay and phase deviation on systems
with known responses (pure delays, a first-order all-pass, a Butterworth low-pass)."""

import numpy as np
import pytest
from scipy import signal as sps

from harness import stimuli as S
from harness.errors import InputError
from harness.metrics.phase import group_delay_samples, phase_deviation_deg, transfer_function

from ._signals import FS, band_limited_noise, circular_delay

N = 8192


def _periodic_multisine(periods: int = 5, top_bin: int = N // 2 - 1) -> np.ndarray:
    """Every bin from 1 to ``top_bin`` excited, ``periods`` repeats of an N-sample period."""
    return S.multisine(
        FS, N, FS / N, top_bin * FS / N, top_bin, spacing="linear", periods=periods
    ).signal


def test_group_delay_of_an_integer_delay():
    x = band_limited_noise(4 * FS, 0)
    y = np.concatenate([np.zeros(100), x])[: x.size]
    gd = group_delay_samples(x, y, FS)
    valid = np.isfinite(gd.delay_samples)
    assert valid.sum() > 3000  # coherent up to 0.45·fs
    np.testing.assert_allclose(gd.delay_samples[valid], 100.0, atol=1e-6)


def test_group_delay_of_a_fractional_delay():
    # A circularly delayed periodic multisine is an exact fractional delay; with
    # nperseg = period and a boxcar window H1 is exact, so the group delay is too.
    x = _periodic_multisine()
    y = circular_delay(x, 37.3)
    gd = group_delay_samples(x[N:], y[N:], FS, nperseg=N, window="boxcar")
    valid = np.isfinite(gd.delay_samples)
    assert valid.sum() >= N // 2 - 3  # all excited bins but those next to 0 Hz and fs/2
    np.testing.assert_allclose(gd.delay_samples[valid], 37.3, atol=1e-9)


@pytest.mark.parametrize("a", [0.6, -0.9])
def test_group_delay_of_a_first_order_allpass(a):
    # H(z) = (a + z^-1)/(1 + a·z^-1): τ(ω) = (1 − a²)/(1 + 2a·cos ω + a²) samples.
    # A periodic multisine with period = nperseg and a boxcar window makes H1 exact, so the
    # estimate must equal the central difference of the true phase over ±1 bin, which
    # itself differs from τ by about (Δω²/6)·|τ''|.
    x = _periodic_multisine()
    y = sps.lfilter([a, 1.0], [1.0, a], x)
    gd = group_delay_samples(x[N:], y[N:], FS, nperseg=N, window="boxcar")
    w = 2 * np.pi * gd.frequencies_hz / FS
    dw = 2 * np.pi / N

    def phase(omega):
        return np.angle((a + np.exp(-1j * omega)) / (1 + a * np.exp(-1j * omega)))

    central = -np.angle(np.exp(1j * (phase(w + dw) - phase(w - dw)))) / (2 * dw)
    tau = (1 - a * a) / (1 + 2 * a * np.cos(w) + a * a)
    valid = np.isfinite(gd.delay_samples)
    assert valid.sum() >= N // 2 - 3
    np.testing.assert_allclose(gd.delay_samples[valid], central[valid], atol=1e-8)
    tau2 = np.abs(np.gradient(np.gradient(tau, dw), dw))
    assert np.all(np.abs(gd.delay_samples - tau)[valid] <= 1.5 * dw**2 / 6 * tau2[valid] + 1e-8)


def test_transfer_function_of_a_butterworth_lowpass():
    sos = sps.butter(4, 2000.0, fs=FS, output="sos")
    x = _periodic_multisine()
    y = sps.sosfilt(sos, x)
    tf = transfer_function(x[N:], y[N:], FS, nperseg=N, window="boxcar")
    _, h = sps.sosfreqz(sos, worN=tf.frequencies_hz, fs=FS)
    excited = slice(1, N // 2)
    # Steady-state periodic response, whole periods per segment: exact to rounding, down to
    # the −200 dB stopband where the output is rounding noise.
    passband = tf.frequencies_hz[excited] < 6000
    np.testing.assert_allclose(tf.response[excited][passband], h[excited][passband], atol=1e-9)
    assert np.all(tf.coherence[excited][passband] > 0.999999)


def test_phase_deviation_of_identical_delayed_and_inverted_systems():
    # Content up to 0.45·fs, where sub-sample delays resolve to ~1e-9 samples (the −120 dB
    # fractional-shift kernel is flat to 0.48·fs).
    x = _periodic_multisine(top_bin=int(0.45 * N))
    y_ref = sps.lfilter([0.5, 1.0], [1.0, 0.5], x)
    kw = dict(nperseg=N, window="boxcar")
    same = phase_deviation_deg(x[N:], y_ref[N:], y_ref[N:], FS, **kw)
    # The two outputs' relative delay estimates as ~1e-12 samples: far below 1e-6 degrees.
    assert same.max_abs_deg == pytest.approx(0.0, abs=1e-6)
    # A candidate that only adds latency (7.4 samples) reads ~0 once the latency is removed:
    # the float32 correlation estimates the delay within 1e-4 samples (measured 3e-5),
    # i.e. within 360°·0.45·1e-4 = 0.016° at the top excited bin.
    late = phase_deviation_deg(x[N:], y_ref[N:], circular_delay(y_ref, 7.4)[N:], FS, **kw)
    assert late.delay_difference_samples == pytest.approx(7.4, abs=1e-4)
    assert late.max_abs_deg < 0.02
    # An inverted candidate is 180° everywhere: polarity is phase, not latency.
    inverted = phase_deviation_deg(x[N:], y_ref[N:], -y_ref[N:], FS, **kw)
    valid = np.isfinite(inverted.deviation_deg)
    np.testing.assert_allclose(np.abs(inverted.deviation_deg[valid]), 180.0, atol=1e-6)


def test_random_excitation_gives_a_noisy_but_unbiased_deviation():
    # With white-noise input, Welch-averaged H1 phases scatter (fractional-delay leakage);
    # the scatter averages out: the RMS deviation of a pure 7.4-sample latency stays small.
    x = band_limited_noise(4 * FS, 2)
    y = sps.lfilter([0.5, 1.0], [1.0, 0.5], x)
    late = phase_deviation_deg(x, y, circular_delay(y, 7.4), FS)
    assert late.delay_difference_samples == pytest.approx(7.4, abs=1e-3)
    assert late.rms_deg < 5.0  # measured ~2° over 4 s of noise at nperseg 8192


def test_phase_deviation_equals_an_added_allpass_phase():
    x = _periodic_multisine()
    y_ref = x.copy()
    a = 0.3
    y_cand = sps.lfilter([a, 1.0], [1.0, a], x)
    dev = phase_deviation_deg(
        x[N:], y_ref[N:], y_cand[N:], FS, nperseg=N, window="boxcar", remove_delay=False
    )
    w = 2 * np.pi * dev.frequencies_hz / FS
    expected = np.degrees(np.angle((a + np.exp(-1j * w)) / (1 + a * np.exp(-1j * w))))
    valid = np.isfinite(dev.deviation_deg)
    np.testing.assert_allclose(dev.deviation_deg[valid], expected[valid], atol=1e-7)


BAD = [
    (lambda: transfer_function(np.ones(N), np.ones(N), FS, y_sample_rate=44100), "44100"),
    (lambda: transfer_function(np.ones(100), np.ones(100), FS), f"at least {N}"),
    (lambda: transfer_function(np.zeros(0), np.zeros(0), FS), "empty"),
    (lambda: transfer_function(np.r_[np.ones(N), np.nan], np.ones(N + 1), FS), f"index {N}"),
    (lambda: transfer_function(np.zeros(N), np.ones(N), FS), "silent"),
    (lambda: transfer_function(np.ones(N), np.ones(N), 0), "sample rate"),
    (lambda: transfer_function(np.ones(N), np.ones(N), FS, nperseg=8), "nperseg"),
    (lambda: group_delay_samples(np.ones(N), np.ones(N), FS, min_coherence=2.0), "min_coherence"),
    (lambda: group_delay_samples(np.ones(N), np.r_[np.inf, np.ones(N)], FS), "index 0"),
    (lambda: group_delay_samples(np.ones(N), np.ones(N), FS, y_sample_rate=22050), "22050"),
    (lambda: phase_deviation_deg(np.ones(N), np.ones(N), np.ones(N), FS, y_sample_rate=1), "1"),
    (lambda: phase_deviation_deg(np.ones(N), np.ones(N), np.ones(10), FS), "at least"),
    (lambda: phase_deviation_deg(np.ones(N), np.ones(N), np.r_[np.nan, np.ones(N)], FS), "index 0"),
]


@pytest.mark.parametrize("call,message", BAD)
def test_bad_input_is_rejected_clearly(call, message):
    with pytest.raises(InputError, match=message):
        call()
