"""The PyTorch side: losses as pure functions, the spectral-norm Lipschitz bound, and the
export ↔ import round trip of every family."""

import numpy as np
import pytest
import torch

from harness.artifacts import read_artifact, write_artifact
from harness.cells.losses import dc_term, esr, loss_fn, pre_emphasis
from harness.cells.models import ContextMLP, GruCell, MonotoneTable, from_artifact
from harness.cells.spec import LossSpec

pytestmark = pytest.mark.train


def test_esr_of_identity_is_zero_and_of_silence_is_one():
    t = torch.sin(torch.arange(1000.0) / 7)
    assert float(esr(t, t)) == 0.0
    assert float(esr(torch.zeros_like(t), t)) == pytest.approx(1.0)


def test_pre_emphasis_is_the_first_order_highpass():
    x = torch.tensor([1.0, 2.0, 4.0])
    assert pre_emphasis(x, 0.85).tolist() == pytest.approx([2 - 0.85, 4 - 1.7])


def test_dc_term_sees_an_offset_that_pre_emphasis_hides():
    t = torch.sin(torch.arange(2000.0) / 9)
    shifted = t + 0.1
    assert float(dc_term(shifted, t)) == pytest.approx(0.01 / float(torch.mean(t**2)), rel=1e-5)
    f = loss_fn(LossSpec(pre_emphasis=0.85, dc_weight=1.0))
    assert float(f(shifted, t)) > float(f(t, t)) + 0.01


def test_spectral_norm_bounds_each_exported_layer():
    torch.manual_seed(0)
    m = ContextMLP(4, 0, (16, 16), spectral=True)
    for _ in range(3):  # power iterations settle in training mode
        m(torch.randn(2, 8), torch.zeros(2, 0))
    m.eval()
    _, tensors = m.artifact_layers()
    for name, w in tensors.items():
        if name.endswith("weight"):
            assert np.linalg.norm(w, 2) <= 1.0 + 1e-3, name


@pytest.mark.parametrize("family", ["mlp", "gru", "table"])
def test_export_import_round_trip(tmp_path, family):
    torch.manual_seed(1)
    model = {"mlp": lambda: ContextMLP(3, 1, (5,)), "gru": lambda: GruCell(1, 4),
             "table": lambda: MonotoneTable(17, "increasing")}[family]().eval()  # fmt: skip
    layers, tensors = model.artifact_layers()
    desc = {
        "name": family, "family": family, "sample_rate_hz": 48000.0,
        "sample_rates_supported": [48000.0],
        "input": {"context_samples": model.context, "scale": 1.0, "offset": 0.0,
                  "range": [-1.0, 1.0], "clamp": "saturate"},
        "controls": [] if family == "table" else [
            {"name": "k", "default": 0.0, "scale": 1.0, "offset": 0.0, "range": [-1.0, 1.0],
             "log10": False}],
        "output": {"scale": 1.0, "offset": 0.0, "range": [-9.0, 9.0], "clamp": "saturate"},
        "layers": layers, "latency_samples": 0, "lookahead_samples": 0,
        "allocation": "preallocated", "cpu_cost": {"macs_per_sample": 1, "ns_per_sample": 1.0},
        "provenance": {},
    }  # fmt: skip
    rebuilt = from_artifact(read_artifact(write_artifact(tmp_path, desc, tensors))).eval()
    x = torch.linspace(-1, 1, 64)[None] * 0.9
    c = torch.zeros(1, 0 if family == "table" else 1)
    with torch.no_grad():
        a, b = model(x, c), rebuilt(x, c)
    a, b = (v[0] if isinstance(v, tuple) else v for v in (a, b))
    assert torch.equal(a, b)


def test_onnx_export_matches_pytorch_in_onnxruntime(golden_cell, tmp_path):
    """The optional ONNX path: export_onnx raises unless onnxruntime reproduces PyTorch
    within 1e-5 of the output peak; the file must load and declare the documented inputs."""
    import onnx

    from harness.cells.onnx_export import export_onnx

    path = export_onnx(golden_cell, tmp_path / "cell.onnx", n_samples=256)
    graph = onnx.load(str(path)).graph
    assert graph.input[0].name == "x" and graph.output[0].name == "y"
