"""The shipped configs trained through the CLI (slow: minutes for the small one; the big
one is only started here — its full run takes hours on one core)."""

import json

import numpy as np
import pytest

from harness.artifacts import read_artifact
from harness.cells.wavenet_report import artifact_renderer, conditioning_check
from harness.cli import main

pytestmark = [pytest.mark.train, pytest.mark.slow]


def test_small_config_trains_exports_and_reports(tmp_path, capsys):
    out = tmp_path / "small"
    assert main(["train-wavenet", "--config", "fixtures/models/nox30-wavenet-small.json5",
                 "--output-dir", str(out), "--quiet"]) == 0  # fmt: skip
    assert "report:" in capsys.readouterr().out
    art = read_artifact(out)
    assert art.descriptor["cpu_cost"]["macs_per_sample"] == 1808  # 1,440 of them conv
    training = json.loads((out / "training.json").read_text())
    losses = [h["validation_loss"] for h in training["history"]]
    # It learns something: the best validation loss is below the first epoch's.
    assert min(losses) < losses[0]
    report = (out / "report.md").read_text()
    assert report.count("| test |") == 2 and "| treble up" in report
    vec = json.loads((out / "vectors.json").read_text())
    assert np.all(np.isfinite(vec["output"]))
    # Even this short run follows the knobs as the reference does (measured: treble 2 → 8
    # +2.4 dB of 3–8 kHz energy vs the rig's +2.3; volume 2 → 8 THD +16 dB vs +27 dB).
    check = conditioning_check(artifact_renderer(art), 48000.0, {"volume": 5.0, "treble": 5.0},
                               {"volume": (2.0, 8.0), "treble": (2.0, 8.0)})  # fmt: skip
    assert check.treble_ok and check.volume_ok, check


def test_big_config_runs_an_epoch_and_checkpoints(tmp_path):
    from harness.cells.wavenet_train import train_wavenet

    assert train_wavenet("nox30-wavenet", tmp_path, progress=False, stop_after_epochs=1) is None
    assert (tmp_path / "checkpoint.pt").is_file()
