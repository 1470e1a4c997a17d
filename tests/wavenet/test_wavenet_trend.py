"""The committed WaveNet golden measured and gated into the trend store (``acceptance``):
ESR per held-out (test) knob setting with NAM's band — recomputed here from the golden
artifact run by the Rust runtime against fresh renders of the reference rig — and the
model's cost: MACs/sample, parameters, memory (weights + streaming state).

Speed (ns/sample, real-time factor) is measured by pytest-benchmark in
``test_wavenet_bench.py`` (``bench``), never asserted."""

import json
import math

import pytest

from harness.cells.wavenet_config import load_wavenet_config
from harness.cells.wavenet_report import NAM_BANDS, held_out_esr, runtime_renderer, split_renders
from harness.golden import GOLDEN_DIR, load_wavenet_golden, wavenet_golden_names
from harness.runtime import NeuralCell

pytestmark = pytest.mark.acceptance

NAMES = wavenet_golden_names()
#: NAM's bands as numbers for the trend store: 0 great, 1 ok, 2 marginal, 3 poor.
BANDS = [name for _, name in NAM_BANDS] + ["poor"]
BAND_UNIT = "band (0 great, 1 ok, 2 marginal, 3 poor)"
#: Rust vs PyTorch per sample: ≤ 1e-5 of the output's peak (the schema's equivalence
#: tolerance, checked on the golden's vectors by test_wavenet_golden.py and cargo test).
EQUIVALENCE = 1e-5
#: Peak gain of the pre-emphasis 1 − 0.85 z⁻¹ (at Nyquist).
PRE_EMPHASIS_GAIN = 1.85
#: float32 bytes.
F32 = 4
#: The runtime's segment and ring slack (samples): greybound_core::neural::wavenet's
#: CONTROL_PERIOD — γ, β are recomputed at most every 32 samples; each ring holds
#: (K−1)·d + 32 samples, written twice (a read window never wraps).
SEGMENT = 32
#: Issue 8's size: ≈ 1,440 convolution MACs/sample (C = 4, K = 3, 30 layers).
CONV_MAC_BUDGET = 1440


def _config(golden):
    cfg = load_wavenet_config(GOLDEN_DIR.parent / golden.manifest["params"]["config"])
    if f"sha256:{cfg.sha256}" != golden.manifest["inputs"]["config"]:
        pytest.fail(f"{cfg.path} changed since {golden.name} was trained: its test split is "
                    "no longer held out; re-train and re-make the golden")  # fmt: skip
    return cfg


@pytest.mark.parametrize("name", NAMES)
def test_golden_esr_per_held_out_knob_setting(gate, name):
    """Test split = knob settings AND phrases the model never saw. The gate: the Rust
    render of the golden must not be worse than the committed report (PyTorch) by more than
    the equivalence tolerance allows — by the triangle inequality
    |√ESR_rust − √ESR_torch| ≤ ‖y_rust − y_torch‖/‖ref‖ ≤ 1e-5 · peak(model) / rms(ref);
    after the pre-emphasis 1 − 0.85 z⁻¹ (gain ≤ 1.85) the same with 1.85 · 1e-5 · peak
    over the pre-emphasized reference's rms."""
    golden = load_wavenet_golden(name)
    cfg = _config(golden)
    gate.fixture, gate.model = name, golden.manifest["model"]
    rate = golden.report["sample_rate_hz"]
    rows = held_out_esr(cfg, runtime_renderer(golden.descriptor, rate),
                        split_renders(cfg, "test"), "test")  # fmt: skip
    committed = {
        tuple(sorted(r["knobs"].items())): r
        for r in golden.report["held_out_esr"]
        if r["split"] == "test"
    }
    assert len(rows) == len(committed) >= 1
    for row in rows:
        ref = committed[tuple(sorted(row.setting.items()))]
        slack = EQUIVALENCE * row.model_peak / row.reference_rms
        limit = (math.sqrt(ref["esr"]) + slack) ** 2
        slack_pe = PRE_EMPHASIS_GAIN * EQUIVALENCE * row.model_peak / row.reference_rms_pre_emphasis
        limit_pe = (math.sqrt(ref["esr_pre_emphasis"]) + slack_pe) ** 2
        print(f"{name} test {row.label}: ESR {row.esr:.4f} ({row.grade}), "
              f"pre-emphasized {row.esr_pre_emphasis:.4f}; committed {ref['esr']:.4f}")  # fmt: skip
        gate.check(
            f"esr[test {row.label}]",
            row.esr,
            limit,
            better="lower",
            unit="",
            reason="the golden's committed ESR (report.json, PyTorch) plus what the Rust/"
            "PyTorch float32 tolerance (1e-5 of peak) can move it; more = the runtime "
            "or the reference rig changed",
        )
        gate.check(
            f"esr_pre_emphasis[test {row.label}]",
            row.esr_pre_emphasis,
            limit_pe,
            better="lower",
            unit="",
            reason="the committed pre-emphasized ESR (1 − 0.85 z⁻¹) plus what a 1e-5-of-peak "
            "difference through the filter's gain ≤ 1.85 can move it",
        )
        gate.check(
            f"nam_band[test {row.label}]",
            BANDS.index(row.grade),
            BANDS.index(ref["grade"]),
            better="lower",
            unit=BAND_UNIT,
            reason="NAM's grading band of the committed golden (< 0.01 great, < 0.035 ok, "
            "< 0.1 marginal, else poor); a worse band is a regression",
        )
        # Not only not worse: the same number within the bound (a better ESR would mean
        # the reference moved, not the model).
        assert abs(math.sqrt(row.esr) - math.sqrt(ref["esr"])) <= slack
        assert abs(math.sqrt(row.esr_pre_emphasis) - math.sqrt(ref["esr_pre_emphasis"])) <= slack_pe


def _state_floats(layer: dict) -> int:
    """The runtime's streaming state in floats for a wavenet layer (see SEGMENT): rings,
    γ and β (L·C each), the FiLM hidden and raw values (H, 2·C·L), three scratch blocks of
    C × 32 and 1/α (L·C)."""
    c, k, dil, h = layer["channels"], layer["kernel_size"], layer["dilations"], layer["film_hidden"]
    rings = sum(2 * c * ((k - 1) * d + SEGMENT) for d in dil)
    n = len(dil)
    return rings + 2 * n * c + h + 2 * c * n + 3 * c * SEGMENT + n * c


@pytest.mark.parametrize("name", NAMES)
def test_golden_cost_and_size(gate, name):
    golden = load_wavenet_golden(name)
    gate.fixture, gate.model = name, golden.manifest["model"]
    cell = NeuralCell(golden.descriptor, golden.report["sample_rate_hz"])
    d = json.loads(golden.descriptor.read_text())
    (layer,) = d["layers"]
    c, k, n = layer["channels"], layer["kernel_size"], len(layer["dilations"])
    gate.check("macs_per_sample", cell.macs_per_sample, d["cpu_cost"]["macs_per_sample"],
               better="lower", unit="MAC/sample",
               reason="the artifact's declared cost (counted by PyTorch at export); the "
               "runtime must not do more")  # fmt: skip
    gate.check("conv_macs_per_sample", n * k * c * c, CONV_MAC_BUDGET, better="lower",
               unit="MAC/sample",
               reason="issue 8's size: about 1,440 convolution MACs/sample (C = 4, K = 3, "
               "three stacks of dilations 1…512)")  # fmt: skip
    params = golden.report["parameters"]
    gate.check("parameters", cell.parameter_count, params, better="lower", unit="weights",
               reason="PyTorch's parameter count at export (provenance.parameters)")  # fmt: skip
    gate.check("memory_weights_bytes", F32 * cell.parameter_count, F32 * params,
               better="lower", unit="B", reason="float32 weights, one per parameter")  # fmt: skip
    gate.check("memory_state_bytes", cell.state_bytes, F32 * _state_floats(layer) + 8 * c * k,
               better="lower", unit="B",
               reason="the runtime's layout: double-written rings of (K−1)·d + 32 samples, "
               "FiLM values, 32-sample scratch, 1/α, C·K ring offsets (usize)")  # fmt: skip
    assert cell.receptive_field == golden.report["receptive_field_samples"]
