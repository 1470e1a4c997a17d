"""The Rust runtime's ``triode_common_cathode`` against the SPICE common-cathode dataset on
held-out (test-split) cases: weighted RMSE in mV, printed and gated."""

import pytest

from harness.spice import build_dataset
from harness.spice.compare import compare_with_runtime

pytestmark = pytest.mark.spice

#: Bound on the weighted RMSE relative to the SPICE output's RMS over the same samples.
#: Why 5 %: the fixture keeps ~9 pF of grid capacitance the runtime leaves out (CCG 2.3 pF +
#: the grid diode's CJO at -1.2 V bias, behind the 68k stopper: a 0.6 us lag, an error of
#: 2*pi*f*0.6us = 0.4 % of the output at 1 kHz, 4 % at 10 kHz), and the runtime integrates at
#: 1x fs with the trapezoidal rule, whose frequency warping dominates within an octave of
#: Nyquist (measured: SPICE with CCG = CCP = CJO = TT = 0 agrees to < 1 mV below 1 kHz and
#: differs by volts at 16-20 kHz). A corpus whose energy sits below ~10 kHz stays under 5 %.
RELATIVE_BOUND = 0.05


def _gate(gate, comparison, spice_rms_mv, fixture):
    print("\n" + comparison.format())
    print(
        f"SPICE output rms over the split: {spice_rms_mv:.1f} mV; "
        f"(the earlier analytic Greybound stage reached ~80 mV)"
    )
    gate.check(
        "weighted_rmse_mv",
        comparison.weighted_rmse_mv,
        RELATIVE_BOUND * spice_rms_mv,
        better="lower",
        unit="mV",
        fixture=fixture,
        reason="5 % of the SPICE output rms: omitted grid capacitance (0.6 us lag) and "
        "1x-rate trapezoidal warping near Nyquist (see test module)",
    )


def _pooled_rms_mv(comparison):
    total = sum(c.n_samples for c in comparison.cases)
    return (sum(c.n_samples * c.spice_rms_mv**2 for c in comparison.cases) / total) ** 0.5


def test_runtime_stage_against_spice_smoke_dataset(cc_smoke_dataset, gate):
    comparison = compare_with_runtime(cc_smoke_dataset.output_dir, "common-cathode-12ax7")
    assert [c.case_id for c in comparison.cases]  # at least one held-out case
    _gate(gate, comparison, _pooled_rms_mv(comparison), "common-cathode-12ax7/smoke")


@pytest.mark.slow
def test_runtime_stage_against_spice_default_dataset(tmp_path, gate):
    result = build_dataset("common-cathode-12ax7", tmp_path, size="default", progress=False)
    comparison = compare_with_runtime(result.output_dir, "common-cathode-12ax7")
    _gate(gate, comparison, _pooled_rms_mv(comparison), "common-cathode-12ax7/default")
