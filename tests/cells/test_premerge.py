"""The pre-merge gate (`greybound-lab gate`): every criterion measured, a table printed,
non-zero exit unless all hold."""

import json
import shutil
from pathlib import Path

import pytest

from harness.cli import main
from harness.premerge import gate

pytestmark = [pytest.mark.acceptance, pytest.mark.spice, pytest.mark.train]

GOLDEN_MLP = Path(__file__).resolve().parents[2] / "golden" / "cells" / "common-cathode-12ax7-mlp"
CRITERIA = [
    "cell boundary",
    "reference data",
    "improvement over baseline",
    "latency / lookahead",
    "safe levels",
    "allocation",
    "CPU cost",
    "sample rates",
    "out-of-range input",
    "Rust path without PyTorch",
]


def test_gate_measures_every_criterion_and_rejects_a_losing_cell(capsys, tmp_path):
    code = main(["gate", "--candidate", str(GOLDEN_MLP), "--trend-db", str(tmp_path / "t.sqlite")])
    out = capsys.readouterr().out
    assert code == 1, out
    rows = {
        line.split("|")[1].strip(): line.split("|")[2].strip()
        for line in out.splitlines()
        if line.startswith("| ") and "criterion" not in line
    }
    assert list(rows) == CRITERIA
    # The committed MLP loses to the analytic stage (golden/cells/*.evaluation.md): rejected.
    assert rows["improvement over baseline"] == "FAIL"
    assert "verdict: REJECT" in out
    # What the runtime guarantees by construction must hold for any artifact.
    for name in (
        "cell boundary",
        "reference data",
        "allocation",
        "sample rates",
        "out-of-range input",
        "Rust path without PyTorch",
        "latency / lookahead",
    ):
        assert rows[name] == "PASS", f"{name}: {out}"
    assert "recorded as trend run" in out


def test_tampered_provenance_fails_reference_data(tmp_path):
    candidate = tmp_path / "tampered"
    shutil.copytree(GOLDEN_MLP, candidate)
    path = candidate / "model.greybound.json"
    d = json.loads(path.read_text())
    d["provenance"]["dataset_size"] = "smoke"  # cheap to rebuild; its hash differs
    path.write_text(json.dumps(d))
    criteria = {c.name: c for c in gate(candidate)}
    assert not criteria["reference data"].passed
    assert "rebuilt" in criteria["reference data"].measured
