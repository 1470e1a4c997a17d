"""Level calibration maths of the compare-nam protocol (dBu <-> dBFS, normalization)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from harness.audio import DBU_REFERENCE_VOLTS_RMS
from harness.nam_compare import (
    calibration_gains_db,
    matched_scale,
    normalize_gain_db,
    resample,
    rig_output_dbu,
    split_delay,
)
from harness.nam_sidecar import LAB_FULL_SCALE_DBU, Calibration

pytestmark = pytest.mark.nam


def _full_scale_peak_volts(level_dbu: float) -> float:
    """Peak volts of the 0 dBFS-peak sine whose RMS is ``level_dbu`` dBu."""
    return math.sqrt(2.0) * DBU_REFERENCE_VOLTS_RMS * 10.0 ** (level_dbu / 20.0)


def test_lab_full_scale_is_a_one_volt_peak_sine_in_dbu():
    # 1 V peak = 0.7071 V RMS = 20·log10(0.7071 / 0.7746) dBu = −0.792 dBu.
    assert LAB_FULL_SCALE_DBU == pytest.approx(-0.7918, abs=1e-4)
    assert _full_scale_peak_volts(LAB_FULL_SCALE_DBU) == pytest.approx(1.0, rel=1e-12)


@pytest.mark.parametrize("capture_in_dbu", [-0.79, 6.0, 14.76, 22.0])
def test_input_gain_maps_volts_to_the_capture_full_scale(capture_in_dbu):
    """The same volts, expressed as the capture's input floats: x_lab·V_lab/V_cap."""
    cal = Calibration(capture_in_dbu, 20.0)
    in_db, _ = calibration_gains_db(cal, LAB_FULL_SCALE_DBU, 42.0)
    volts = 0.25  # peak volts at the amp input
    x_lab = volts / _full_scale_peak_volts(LAB_FULL_SCALE_DBU)
    x_cap = volts / _full_scale_peak_volts(capture_in_dbu)
    assert x_lab * 10.0 ** (in_db / 20.0) == pytest.approx(x_cap, rel=1e-12)


def test_output_gain_maps_capture_floats_to_rig_units():
    cal = Calibration(-0.79, 30.0)
    rig_out = rig_output_dbu(-43.0)
    assert rig_out == pytest.approx(LAB_FULL_SCALE_DBU + 43.0)
    _, out_db = calibration_gains_db(cal, LAB_FULL_SCALE_DBU, rig_out)
    y_cap = 0.5
    volts = y_cap * _full_scale_peak_volts(30.0)
    assert y_cap * 10.0 ** (out_db / 20.0) == pytest.approx(volts / _full_scale_peak_volts(rig_out))


def test_the_labs_own_calibration_is_the_identity():
    own = Calibration(LAB_FULL_SCALE_DBU, rig_output_dbu(-43.0))
    assert calibration_gains_db(own, LAB_FULL_SCALE_DBU, rig_output_dbu(-43.0)) == (0.0, 0.0)


def test_normalized_policy_brings_a_stimulus_to_minus_18_dbfs_rms():
    x = np.sin(2 * np.pi * 440 * np.arange(48000) / 48000)  # RMS −3.01 dBFS
    g = normalize_gain_db(x)
    assert g == pytest.approx(-18.0 + 3.0103, abs=1e-3)
    y = x * 10 ** (g / 20)
    assert 20 * math.log10(np.sqrt(np.mean(y * y))) == pytest.approx(-18.0, abs=1e-9)


def test_split_delay_and_matched_scale():
    assert split_delay(12.37) == (12, pytest.approx(0.37))
    assert split_delay(-3.6) == (-4, pytest.approx(0.4))
    r = np.random.default_rng(0).standard_normal(1000)
    assert matched_scale([r, r[:10]], [2 * r, 2 * r[:10]]) == pytest.approx(0.5)


def test_resampling_is_identity_at_equal_rates_and_keeps_a_tone():
    x = np.sin(2 * np.pi * 1000 * np.arange(44100) / 44100)
    assert np.array_equal(resample(x, 44100, 44100), x)
    y = resample(x, 44100, 48000)
    assert y.size == 48000
    t = np.arange(48000) / 48000
    # A 1 kHz tone is far inside both passbands: the polyphase FIR keeps it to < 0.1 %.
    assert np.max(np.abs(y[1000:-1000] - np.sin(2 * np.pi * 1000 * t)[1000:-1000])) < 1e-3
