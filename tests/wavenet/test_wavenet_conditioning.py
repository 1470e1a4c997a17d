"""The conditioning check: on the reference rig treble up gives more 3–8 kHz energy and
volume up more THD; the check tells a knob-blind model from a conditioned one."""

import numpy as np
import pytest

from harness.cells.wavenet_report import (
    MIN_BAND_RISE_DB,
    MIN_THD_RISE_DB,
    conditioning_check,
    grade,
    rig_renderer,
)

RATE = 48000.0
KNOBS = {"treble": (2.0, 8.0), "volume": (2.0, 8.0)}
BASE = {"volume": 5.0, "treble": 5.0}


def test_reference_rig_responds_to_treble_and_volume():
    result = conditioning_check(rig_renderer("nox30", "top_boost"), RATE, BASE, KNOBS)
    # Measured: +2.3 dB of 3–8 kHz energy (treble 2 → 8), THD −37.6 → −10.2 dB (volume 2 → 8).
    assert result.treble_ok and result.volume_ok, result


def test_a_knob_blind_model_fails_the_check():
    ref = rig_renderer("nox30", "top_boost")

    def blind(knobs, x):  # a "model" that ignores its knobs: the rig at the base setting
        return ref(BASE, x)

    result = conditioning_check(blind, RATE, BASE, KNOBS)
    assert result.treble_db[0] == result.treble_db[1]
    assert result.volume_thd_db[0] == result.volume_thd_db[1]
    assert result.treble_ok is False and result.volume_ok is False


def test_the_check_follows_its_thresholds():
    """A brick-wall high-shelf gain on treble and a level-driven clipper on volume pass;
    without those effects the check fails."""

    def toy(rise_db, thd_drive):
        def render(knobs, x):
            drive = 1 + thd_drive * knobs["volume"]
            y = np.tanh(x * drive) / drive
            t = (knobs["treble"] - 5.0) / 3.0  # −1 at 2, +1 at 8: rise_db in total
            spec = np.fft.rfft(y)
            spec[np.fft.rfftfreq(y.size, 1 / RATE) >= 3000] *= 10 ** (t * rise_db / 40)
            return np.fft.irfft(spec, y.size)

        return render

    good = conditioning_check(toy(4 * MIN_BAND_RISE_DB, 3.0), RATE, BASE, KNOBS)
    assert good.treble_ok and good.volume_ok
    weak = conditioning_check(toy(0.0, 0.0), RATE, BASE, KNOBS)
    assert weak.treble_ok is False and weak.volume_ok is False
    assert MIN_THD_RISE_DB > 0


BANDS = [(0.005, "great"), (0.01, "ok"), (0.034, "ok"), (0.035, "marginal"), (0.1, "poor")]


@pytest.mark.parametrize(("value", "band"), [*BANDS, (2.0, "poor")])
def test_nam_grading_bands(value, band):
    assert grade(value) == band
