"""The Rust stages against the slow, obviously-correct references in ``harness.reference``.

Tolerance: the Rust stages compute in float64 and round once to float32 at the output, and
the references solve every sample to 1e-13; both discretize with the same trapezoidal rule,
so the only expected difference is that rounding — half an ulp of float32. We allow 2 ulp
at the output's peak magnitude (2·2⁻²³·peak ≈ 2.4e-7 relative). A wrong equation, sign or
discretization shows up orders of magnitude above this (measured: ~5e-8 relative).

The triode is run with ``solver="newton"`` (every sample solved, the equation under test);
its shipping default, the solution tables, is checked against the same reference at the
tables' own tolerance (−60 dB of peak, justified in ``rust/greybound-core/tests/tabulated.rs``).
"""

import numpy as np
import pytest

from harness.reference import diode_clipper, tone_stack, triode
from harness.runtime import Stage

RATES = [44100, 48000, 96000]
F32_ULP = 2.0**-23

TABLE_TOL = 1e-3
NEWTON = {"solver": "newton"}

CASES = {
    "triode-overdriven": ("triode_common_cathode", triode.simulate, NEWTON, 2.0),
    "triode-unbypassed-hot": (
        "triode_common_cathode", triode.simulate,
        {"c_cathode": 0.0, "b_plus": 300.0, **NEWTON}, 5.0,
    ),
    "clipper": ("diode_clipper", diode_clipper.simulate, {}, 2.0),
    "clipper-loaded": (
        "diode_clipper", diode_clipper.simulate,
        {"source_impedance": 10e3, "load_impedance": 47e3}, 4.0,
    ),
    "tonestack-fender": ("tone_stack", tone_stack.simulate, {}, 1.0),
    "tonestack-marshall-loaded": (
        "tone_stack", tone_stack.simulate,
        {"voicing": "marshall", "treble": 0.8, "bass": 0.2, "source_impedance": 1.2e3,
         "load_impedance": 1e6}, 1.0,
    ),
    "tonestack-vox": ("tone_stack", tone_stack.simulate, {"voicing": "vox", "treble": 0.3}, 1.0),
}  # fmt: skip


def _stimulus(sample_rate: float, peak: float) -> np.ndarray:
    """1500 samples: a 220 Hz + 3.1 kHz pair with a 5 ms attack, rounded to float32 so both
    sides see the same input."""
    t = np.arange(1500) / sample_rate
    x = (
        np.minimum(1.0, t * 200)
        * peak
        * (0.8 * np.sin(2 * np.pi * 220 * t) + 0.2 * np.sin(2 * np.pi * 3100 * t))
    )
    return x.astype(np.float32).astype(np.float64)


@pytest.mark.parametrize("sample_rate", RATES)
@pytest.mark.parametrize("case", CASES)
def test_rust_stage_matches_reference(case, sample_rate):
    kind, reference, params, peak = CASES[case]
    x = _stimulus(sample_rate, peak)
    expected = reference(x, sample_rate, **{k: v for k, v in params.items() if k != "solver"})
    got = Stage(kind, sample_rate, **params).process(x)
    scale = np.max(np.abs(expected))
    err = np.max(np.abs(got - expected))
    assert err <= 2 * F32_ULP * scale, (
        f"{case} @ {sample_rate} Hz: max error {err:.3g} V on {scale:.3g} V peak"
    )


@pytest.mark.parametrize("case", ["triode-overdriven", "triode-unbypassed-hot"])
def test_triode_solution_tables_match_the_reference(case):
    kind, reference, params, peak = CASES[case]
    params = {k: v for k, v in params.items() if k != "solver"}
    x = _stimulus(48000, peak)
    expected = reference(x, 48000, **params)
    got = Stage(kind, 48000, **params).process(x)
    err = np.max(np.abs(got - expected)) / np.max(np.abs(expected))
    assert err <= TABLE_TOL, f"{case}: tables off the reference by {err:.3g} of peak"


def test_reference_op_point_is_the_textbook_bias():
    """Sanity of the reference itself: Vk ≈ 1.2 V, Ip ≈ 0.8 mA, Vp ≈ 170 V (RCA-style
    12AX7 bias with 100 kΩ/1.5 kΩ at 250 V)."""
    op = triode.operating_point()
    assert op["K"] == pytest.approx(1.2, abs=0.1)
    assert op["Ip"] == pytest.approx(0.8e-3, rel=0.1)
    assert op["P"] == pytest.approx(170.0, abs=5.0)
