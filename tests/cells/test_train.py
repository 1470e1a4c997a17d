"""Training on a real SPICE dataset (default size): deterministic for a seed, early stopping,
export that the Rust runtime reproduces, and the table's monotonicity constraint."""

import json

import numpy as np
import pytest

from harness.artifacts import read_artifact
from harness.runtime import NeuralCell

pytestmark = [pytest.mark.train, pytest.mark.spice]


def _train(cell, dataset, out, epochs=2):
    from harness.cells.train import train_neural_cell

    return train_neural_cell(cell, dataset, out, epochs=epochs, progress=False)


def test_training_is_deterministic_for_a_seed(default_dataset, tmp_path):
    a = _train("common-cathode-12ax7-mlp", default_dataset, tmp_path / "a")
    b = _train("common-cathode-12ax7-mlp", default_dataset, tmp_path / "b")
    assert (a.parent / "weights.greybound.bin").read_bytes() == (
        b.parent / "weights.greybound.bin"
    ).read_bytes()


@pytest.mark.parametrize("cell", ["common-cathode-12ax7-mlp", "common-cathode-12ax7-gru"])
def test_exported_cell_runs_in_rust_as_in_pytorch(default_dataset, tmp_path, cell):
    from harness.cells.vectors import export_neural_cell_vectors

    path = _train(cell, default_dataset, tmp_path / cell)
    d = json.loads(path.read_text())
    assert d["provenance"]["dataset_manifest_sha256"] and d["provenance"]["seed"] == 1234
    assert d["cpu_cost"]["macs_per_sample"] > 0 and d["cpu_cost"]["ns_per_sample"] > 0
    history = d["provenance"]["training"]["history"]
    assert 1 <= len(history) <= 2
    v = json.loads(export_neural_cell_vectors(path, tmp_path / "v.json").read_text())
    y = NeuralCell(path, v["sample_rate"], **v["controls"]).process(
        np.array(v["input"], np.float32)
    )
    want = np.array(v["output"])
    tol = 5e-6 if d["family"] == "gru" else 1e-6  # see test_vectors.py
    assert np.max(np.abs(y - want)) <= tol * np.max(np.abs(want))


def test_table_is_monotone_as_declared(default_dataset, tmp_path):
    path = _train("common-cathode-12ax7-table", default_dataset, tmp_path / "t")
    values = read_artifact(path).tensors["table.values"]
    assert np.all(np.diff(values) <= 0), "the 'decreasing' table must never rise"


def test_early_stopping_keeps_the_best_validation_epoch(default_dataset, tmp_path):
    path = _train("common-cathode-12ax7-mlp", default_dataset, tmp_path / "es", epochs=6)
    training = json.loads(path.read_text())["provenance"]["training"]
    best = min(h["validation_loss"] for h in training["history"])
    assert training["best_validation_loss"] == pytest.approx(best)
