"""PyTorch ↔ Rust equivalence on the committed golden artifacts (golden/cells/*): the
committed vectors reproduce from PyTorch, and the Rust runtime matches them.

Tolerances (float32 on both sides, different summation orders and libm): MLP and table
≤ 1e-6 of the output scale — a few float32 ulp through 3 layers; GRU ≤ 5e-6, because the
recurrence feeds each step's rounding back into the next for 4096 steps."""

import json

import numpy as np
import pytest

from harness.artifacts import read_artifact
from harness.runtime import NeuralCell

TOLERANCE = {"mlp": 1e-6, "table": 1e-6, "gru": 5e-6}


def test_there_are_golden_artifacts_to_check(golden_cell_count):
    assert golden_cell_count >= 4, "run `make lab-train-cells` to make golden/cells/"


def test_rust_matches_pytorch_vectors(golden_cell):
    v = json.loads((golden_cell / "vectors.json").read_text())
    cell = NeuralCell(golden_cell / v["descriptor"], v["sample_rate"], **v["controls"])
    y = cell.process(np.array(v["input"], dtype=np.float32))
    want = np.array(v["output"], dtype=np.float32)
    scale = np.max(np.abs(want))
    assert np.max(np.abs(y - want)) <= TOLERANCE[v["family"]] * scale


@pytest.mark.train
def test_committed_vectors_reproduce_from_pytorch(golden_cell):
    from harness.cells.vectors import torch_render

    v = json.loads((golden_cell / "vectors.json").read_text())
    y, state = torch_render(
        read_artifact(golden_cell), np.array(v["input"], np.float32), v["controls"]
    )
    want = np.array(v["output"], dtype=np.float32)
    # Same PyTorch, same CPU kernels: equal to float32 rounding of the summation order.
    assert np.max(np.abs(y - want)) <= TOLERANCE[v["family"]] * np.max(np.abs(want))
    if v["family"] == "gru":
        assert len(state) == len(v["final_state"])
        np.testing.assert_allclose(state, v["final_state"], atol=1e-5)
