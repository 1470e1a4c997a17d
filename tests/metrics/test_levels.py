"""harness.metrics.levels: RMS, peak, true peak, crest factor and BS.1770 loudness."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.errors import InputError
from harness.metrics.levels import (
    crest_factor_db,
    loudness_lufs,
    peak_dbfs,
    rms_dbfs,
    true_peak_dbfs,
)

from ._signals import FS, band_limited_noise, sine

SQRT2_DB = 20 * math.log10(math.sqrt(2))  # 3.0103 dB


def test_crest_factor_of_a_sine_is_sqrt2():
    x = sine(1000.0, 1.0, amplitude=0.7)  # whole periods, peak sampled exactly (48/period)
    assert crest_factor_db(x) == pytest.approx(SQRT2_DB, abs=1e-9)


def test_crest_factor_of_a_square_wave_is_zero():
    assert crest_factor_db(np.tile([0.5, -0.5], 100)) == pytest.approx(0.0, abs=1e-12)


def test_full_scale_sine_rms_both_conventions():
    x = sine(1000.0, 1.0)
    assert rms_dbfs(x) == pytest.approx(-SQRT2_DB, abs=1e-9)
    assert rms_dbfs(x, aes17=True) == pytest.approx(0.0, abs=1e-9)  # AES17: FS sine = 0 dBFS
    assert peak_dbfs(x) == pytest.approx(0.0, abs=1e-12)
    assert rms_dbfs(np.zeros(10)) == -math.inf and peak_dbfs(np.zeros(10)) == -math.inf


def _faded(x: np.ndarray, n: int = 2400) -> np.ndarray:
    ramp = 0.5 - 0.5 * np.cos(np.pi * np.arange(n) / n)
    y = x.copy()
    y[:n] *= ramp
    y[-n:] *= ramp[::-1]
    return y


@pytest.mark.parametrize("rate", [44100, 48000, 96000])
def test_true_peak_finds_the_intersample_peak(rate):
    # A sine at fs/4 sampled 45 degrees off its peak: every sample is at 0.7071 (−3.01 dBFS),
    # the waveform peaks at 1.0 (0 dBTP). Fades keep the edges from adding overshoot.
    x = _faded(sine(rate / 4, 1.0, phase=math.pi / 4, rate=rate))
    assert peak_dbfs(x) == pytest.approx(-SQRT2_DB, abs=1e-9)
    # BS.1770 Annex 2: oversample to >= 192 kHz (x5 at 44.1k, x4 at 48k, x2 at 96k). The
    # oversampled grid can miss the crest by half a grid step in phase, an under-read of
    # −20·log10(cos(π·f/(up·fs))) (0 at 48/96 kHz where the grid hits it, 0.107 dB at 44.1);
    # the interpolator itself is flat within 0.001 dB.
    up = math.ceil(192000 / rate)
    grid_miss = math.pi / 4 / up  # phase step of the grid at fs/4 is (π/2)/up
    offset = (math.pi / 4) % (2 * grid_miss)
    miss = min(offset, 2 * grid_miss - offset)
    expected = 20 * math.log10(math.cos(miss))
    assert true_peak_dbfs(x, rate) == pytest.approx(expected, abs=0.002)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), gain=st.floats(0.01, 10.0))
def test_levels_scale_with_gain_and_true_peak_never_below_sample_peak(seed, gain):
    x = 0.1 * band_limited_noise(4096, seed, f_max=0.49)
    assert rms_dbfs(gain * x) == pytest.approx(rms_dbfs(x) + 20 * math.log10(gain), abs=1e-9)
    assert peak_dbfs(-gain * x) == pytest.approx(peak_dbfs(x) + 20 * math.log10(gain), abs=1e-9)
    assert crest_factor_db(gain * x) == pytest.approx(crest_factor_db(x), abs=1e-9)
    assert true_peak_dbfs(x, FS) >= peak_dbfs(x)
    # Pruned block search equals brute-force interpolation of the whole signal.
    assert true_peak_dbfs(x, FS) == pytest.approx(_brute_true_peak(x), abs=1e-12)


def _brute_true_peak(x):
    from scipy import signal as sps

    h = sps.firwin(2 * 32 * 4 + 1, 0.25, window=("kaiser", 8.0))
    y = sps.resample_poly(x, 4, 1, window=h, padtype="constant")
    return 20 * math.log10(max(np.max(np.abs(x)), np.max(np.abs(y))))


def test_loudness_of_a_full_scale_sine_matches_bs1770():
    # BS.1770-4: a 0 dBFS 997 Hz sine in one channel reads −3.01 LKFS; EBU Tech 3341 meters
    # must agree within ±0.1 LU.
    assert loudness_lufs(sine(997.0, 5.0), FS) == pytest.approx(-3.01, abs=0.1)


def test_loudness_of_the_pyloudnorm_reference_sine():
    # pyloudnorm's test suite expects −3.0523438444331137 LUFS for its full-scale reference
    # sine (tests/data/sine_1000.wav, not shipped with the package); a synthesized 0 dBFS
    # sine at 44.1 kHz must read the same within the EBU Tech 3341 tolerance of ±0.1 LU.
    x = sine(997.0, 1.0, rate=44100)
    assert loudness_lufs(x, 44100) == pytest.approx(-3.0523438444331137, abs=0.1)


def test_loudness_scales_with_gain_and_gates_silence():
    x = sine(997.0, 2.0)
    assert loudness_lufs(0.5 * x, FS) - loudness_lufs(x, FS) == pytest.approx(-6.0206, abs=1e-3)
    assert loudness_lufs(np.zeros(FS), FS) == -math.inf  # below the −70 LUFS absolute gate


BAD = [
    (lambda: rms_dbfs(np.zeros(0)), "empty"),
    (lambda: rms_dbfs(np.array([0.0, np.nan])), "index 1"),
    (lambda: peak_dbfs(np.array([np.inf])), "index 0"),
    (lambda: peak_dbfs(np.ones((3, 3))), "1-D"),
    (lambda: crest_factor_db(np.zeros(100)), "silent"),
    (lambda: crest_factor_db(np.array([1.0, -np.inf])), "index 1"),
    (lambda: true_peak_dbfs(np.ones(1), FS), "at least 2"),
    (lambda: true_peak_dbfs(np.ones(100), -48000), "sample rate"),
    (lambda: true_peak_dbfs(np.ones(100), FS, oversampling=0), "oversampling"),
    (lambda: true_peak_dbfs(np.r_[np.ones(9), np.nan], FS), "index 9"),
    (lambda: loudness_lufs(np.ones(100), FS), "at least"),
    (lambda: loudness_lufs(np.ones(FS), 0.0), "sample rate"),
    (lambda: loudness_lufs(np.r_[np.ones(FS), np.nan], FS), f"index {FS}"),
]


@pytest.mark.parametrize("call,message", BAD)
def test_bad_input_is_rejected_clearly(call, message):
    with pytest.raises(InputError, match=message):
        call()
