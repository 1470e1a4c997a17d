"""The evaluation report: analytic, zero baseline and learned cells side by side on the
held-out cases, with a verdict that follows the 'better in two metrics' rule."""

import json
from pathlib import Path

import pytest

from harness.cells.evaluate import evaluate, write_report

pytestmark = pytest.mark.spice

GOLDEN_CELLS = Path(__file__).resolve().parents[2] / "golden" / "cells"


def test_report_puts_every_candidate_side_by_side(smoke_dataset, tmp_path):
    descriptors = [GOLDEN_CELLS / n / "model.greybound.json"
                   for n in ("common-cathode-12ax7-mlp", "common-cathode-12ax7-table")]  # fmt: skip
    result = evaluate(descriptors, smoke_dataset)
    names = [c["name"] for c in result["candidates"]]
    assert names == [
        "analytic",
        "zero output",
        "common-cathode-12ax7-mlp",
        "common-cathode-12ax7-table",
    ]
    analytic, zero = result["candidates"][:2]
    # The analytic stage must be far better than saying nothing at all.
    assert analytic["metrics"]["weighted_rmse_mv"] < 0.1 * zero["metrics"]["weighted_rmse_mv"]
    report = write_report(result, tmp_path / "eval.md")
    text = report.read_text()
    assert "| weighted RMSE (mV) |" in text and "**Verdict:**" in text
    assert json.loads(report.with_suffix(".json").read_text())["fixture"] == "common-cathode-12ax7"


def test_verdict_requires_two_better_metrics(smoke_dataset, tmp_path):
    result = evaluate([], smoke_dataset)
    fake = json.loads(json.dumps(result["candidates"][0]))
    fake["name"] = "candidate"
    keys = ("weighted_rmse_mv", "hottest_relative_error")
    for k in keys:
        fake["metrics"][k] *= 0.5
    fake["metrics"]["beats_analytic_in"] = list(keys)
    fake["metrics"]["beats_analytic"] = True
    result["candidates"].append(fake)
    assert (
        "candidate beat(s) the analytic stage"
        in write_report(result, tmp_path / "r.md").read_text()
    )
