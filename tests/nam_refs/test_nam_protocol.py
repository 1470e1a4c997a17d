"""The compare-nam protocol after rendering (``measure_renders``) on synthetic signals: it
must recover a known delay (integer + fraction) and a known gain offset, and null a
delayed, scaled copy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal as sps

from harness.nam_compare import measure_renders, quick_set

pytestmark = pytest.mark.nam

FS = 48000.0


def _fractional_delay(x: np.ndarray, delay: float) -> np.ndarray:
    """``x`` delayed by ``delay`` samples exactly (band-limited: a linear phase in the DFT
    of the zero-padded signal; the padding holds the shifted tail, so nothing wraps)."""
    n = x.size + 256
    X = np.fft.rfft(x, n)
    X *= np.exp(-2j * np.pi * np.fft.rfftfreq(n) * delay)
    X[-1] = 0.0  # the Nyquist bin cannot carry a fractional delay of a real signal
    return np.fft.irfft(X, n)[: x.size]


def _toy_rig(x: np.ndarray) -> np.ndarray:
    """A band-limited nonlinear 'rig': tanh drive, then a 20 kHz 8th-order lowpass, so the
    output has harmonics (THD, IMD to measure) but no content near Nyquist, where a
    fractional delay is not defined."""
    y = 0.3 * np.tanh(4.0 * x)
    return sps.sosfiltfilt(sps.butter(8, 20000.0, fs=FS, output="sos"), y)


@pytest.mark.parametrize(("delay", "gain_db"), [(5.37, -4.5), (-2.81, 3.0)])
def test_known_delay_and_gain_are_recovered_and_the_copy_nulls(delay, gain_db):
    stims = quick_set(FS)
    rig = {s.name: _toy_rig(s.signal) for s in stims}
    model = {n: 10 ** (gain_db / 20) * _fractional_delay(y, delay) for n, y in rig.items()}
    m = measure_renders(stims, rig, model, FS)
    # The aligner's documented precision on a noise-free band-limited copy is ~1e-9
    # samples; the DFT delay is exact, so 1e-4 samples leaves room for float rounding.
    assert m["delay_samples"] == pytest.approx(delay, abs=1e-4)
    assert m["delay_integer"] == round(delay)
    assert m["delay_fraction"] == pytest.approx(delay - round(delay), abs=1e-4)
    # One least-squares gain over every stimulus: exact for a scaled copy.
    assert m["gain_offset_db"] == pytest.approx(gain_db, abs=1e-3)
    # After alignment and gain match the copy nulls: the residual is the fractional shift's
    # interpolation error (windowed sinc, -120 dB sidelobes), far below any gate limit.
    assert m["music"]["esr"] < 1e-6
    assert m["music"]["null_residual_db"] < -60.0
    assert max(t["delta_db"] for t in m["thd"]) < 0.1
    assert max(i["delta_db"] for i in m["imd"]) < 0.1
    assert not [w for w in m["warnings"] if "inverted" in w]


def test_a_different_nonlinearity_does_not_null():
    """The same protocol on a model that distorts differently (harder drive) reports a large
    residual and THD difference: the measures can fail."""
    stims = quick_set(FS)
    rig = {s.name: _toy_rig(s.signal) for s in stims}
    other = {s.name: 0.3 * np.tanh(12.0 * s.signal) for s in stims}
    m = measure_renders(stims, rig, other, FS)
    assert m["music"]["esr"] > 0.01
    assert max(t["delta_db"] for t in m["thd"] if t["compared"]) > 3.0
