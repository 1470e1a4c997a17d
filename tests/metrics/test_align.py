"""harness.metrics.align: delay estimation and alignment, proven on signals with known delay."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.errors import InputError
from harness.metrics.align import align, estimate_delay

from ._signals import FS, band_limited_noise, circular_delay

N = 8192
PAD = 1024  # circular wrap region excluded: we compare the middle of a longer periodic signal


def _pair(delay: float, seed: int, snr_db: float | None = None):
    """Reference and a copy delayed by ``delay`` samples (+ noise at ``snr_db``)."""
    base = band_limited_noise(N + 2 * PAD, seed)
    reference = base[PAD : PAD + N]
    candidate = circular_delay(base, delay)[PAD : PAD + N]
    if snr_db is not None:
        noise = np.random.default_rng(seed + 1).standard_normal(N)
        candidate = candidate + noise * np.std(candidate) * 10 ** (-snr_db / 20)
    return reference, candidate


@settings(max_examples=40, deadline=None)
@given(delay=st.integers(-300, 300), seed=st.integers(0, 10_000))
def test_recovers_integer_delays_under_20db_noise(delay, seed):
    reference, candidate = _pair(float(delay), seed, snr_db=20.0)
    assert estimate_delay(reference, candidate, FS) == pytest.approx(delay, abs=0.05)


@settings(max_examples=40, deadline=None)
@given(delay=st.floats(-300.0, 300.0), seed=st.integers(0, 10_000))
def test_recovers_fractional_delays_under_20db_noise(delay, seed):
    reference, candidate = _pair(delay, seed, snr_db=20.0)
    assert estimate_delay(reference, candidate, FS) == pytest.approx(delay, abs=0.05)


@settings(max_examples=25, deadline=None)
@given(delay=st.floats(-200.0, 200.0), gain=st.floats(0.05, 20.0), seed=st.integers(0, 10_000))
def test_align_is_invariant_to_polarity_and_reports_gain(delay, gain, seed):
    reference, candidate = _pair(delay, seed)
    up = align(reference, gain * candidate, FS)
    down = align(reference, -gain * candidate, FS)
    assert (up.polarity, down.polarity) == (1, -1)
    np.testing.assert_array_equal(up.candidate, down.candidate)
    assert up.delay_samples == down.delay_samples
    # Noise-free band-limited copy: the residual-minimizing refinement lands within 1e-6.
    assert up.delay_samples == pytest.approx(delay, abs=1e-6)
    assert up.gain == pytest.approx(gain, rel=1e-6)
    assert up.gain_db == pytest.approx(20 * np.log10(gain), abs=1e-5)


def test_integer_delay_is_removed_exactly():
    reference = band_limited_noise(N, 1)
    candidate = np.concatenate([np.zeros(37), 0.5 * reference])
    a = align(reference, candidate, FS)
    assert a.delay_samples == pytest.approx(37.0, abs=1e-6)
    assert a.start == 0 and a.reference.size == N
    np.testing.assert_allclose(a.candidate_matched, reference, atol=1e-12)
    assert a.gain == pytest.approx(0.5, rel=1e-12)


def test_candidate_leading_trims_the_reference_start():
    reference = band_limited_noise(N, 2)
    candidate = reference[100:]  # candidate leads by 100 samples
    a = align(reference, candidate, FS)
    assert a.delay_samples == pytest.approx(-100.0, abs=1e-6)
    assert a.start == 100
    np.testing.assert_allclose(a.candidate, a.reference, atol=1e-12)


def test_max_delay_bounds_the_search_for_periodic_signals():
    # A 100 Hz square-ish wave repeats every 480 samples; the true lag is 5 samples.
    t = np.arange(FS) / FS
    x = np.sign(np.sin(2 * np.pi * 100 * t)) + 0.3 * np.sin(2 * np.pi * 1700 * t)
    y = np.roll(x, 5)
    assert estimate_delay(x, y, FS, max_delay_s=100 / FS) == pytest.approx(5.0, abs=0.05)


BAD = [
    (lambda: estimate_delay(np.ones(100), np.ones(100), FS, candidate_sample_rate=44100), "44100"),
    (lambda: estimate_delay(np.zeros(0), np.ones(100), FS), "empty"),
    (lambda: estimate_delay(np.ones(10), np.ones(100), FS), "at least 32"),
    (lambda: estimate_delay(np.r_[np.ones(50), np.nan], np.ones(100), FS), "index 50"),
    (lambda: estimate_delay(np.ones(100), np.r_[np.ones(60), np.inf], FS), "index 60"),
    (lambda: estimate_delay(np.ones((2, 100)), np.ones(100), FS), "1-D"),
    (lambda: estimate_delay(np.zeros(100), np.ones(100), FS), "silent"),
    (lambda: estimate_delay(np.ones(100), np.ones(100), 0), "sample rate"),
    (lambda: estimate_delay(np.ones(100), np.ones(100), FS, max_delay_s=-1), "max_delay_s"),
    (lambda: align(np.ones(100), np.ones(100), FS, candidate_sample_rate=96000), "96000"),
    (lambda: align(np.ones(100), np.ones(100), float("nan")), "sample rate"),
    (lambda: align(np.ones(100), np.zeros(100), FS), "silent"),
    (lambda: align(np.ones(31), np.ones(100), FS), "at least 32"),
]


@pytest.mark.parametrize("call,message", BAD)
def test_bad_input_is_rejected_clearly(call, message):
    with pytest.raises(InputError, match=message):
        call()


def test_no_overlap_after_delay_is_rejected():
    x = band_limited_noise(256, 3)
    y = np.concatenate([np.zeros(1000), x])[:1050]  # only 50 samples of x remain
    with pytest.raises(InputError, match="overlap"):
        align(x[:40], y, FS)
