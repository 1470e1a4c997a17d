"""Training the WaveNet on Nox30 renders: deterministic, resumable bit-identically, exported
as an artifact PyTorch rebuilds exactly, with knob-sweep vectors and a report."""

import json

import numpy as np
import pytest

from harness.artifacts import read_artifact
from harness.cells.wavenet import render_volts
from harness.cli import main

pytestmark = pytest.mark.train

WEIGHTS = "weights.greybound.bin"


def test_a_rerun_gives_identical_weight_bytes(tiny_config, tiny_trained, tmp_path):
    from harness.cells.wavenet_train import train_wavenet

    again = train_wavenet(tiny_config, tmp_path, progress=False)
    assert (again.parent / WEIGHTS).read_bytes() == (tiny_trained.parent / WEIGHTS).read_bytes()


def test_resume_continues_bit_identically(tiny_config, tiny_trained, tmp_path, capsys):
    args = ["train-wavenet", "--config", str(tiny_config), "--output-dir", str(tmp_path),
            "--quiet"]  # fmt: skip
    assert main([*args, "--stop-after-epochs", "1"]) == 0
    assert "continue with --resume" in capsys.readouterr().out
    assert not (tmp_path / WEIGHTS).exists() and (tmp_path / "checkpoint.pt").is_file()
    assert main([*args, "--resume"]) == 0
    assert "artifact:" in capsys.readouterr().out
    assert (tmp_path / WEIGHTS).read_bytes() == (tiny_trained.parent / WEIGHTS).read_bytes()
    history = json.loads((tmp_path / "training.json").read_text())["history"]
    assert [h["epoch"] for h in history] == [0, 1, 2]


def test_resume_without_a_checkpoint_is_an_error(tiny_config, tmp_path):
    from harness.cells.wavenet_train import train_wavenet
    from harness.errors import LabError

    with pytest.raises(LabError, match="no checkpoint"):
        train_wavenet(tiny_config, tmp_path, resume=True, progress=False)


def test_the_artifact_follows_the_schema(tiny_trained):
    art = read_artifact(tiny_trained)
    d = art.descriptor
    assert d["family"] == "wavenet" and d["latency_samples"] == 0
    assert d["input"]["context_samples"] == 1
    assert [c["name"] for c in d["controls"]] == ["volume", "treble"]  # rig order
    # Knob range 0..10 → feature −1..1.
    c = d["controls"][0]
    assert (0 - c["offset"]) * c["scale"] == -1.0 and (10 - c["offset"]) * c["scale"] == 1.0
    (layer,) = d["layers"]
    assert layer["kind"] == "wavenet" and layer["activation"] == "snake"
    shapes = {role: list(art.tensors[name].shape) for role, name in layer["tensors"].items()}
    assert shapes["conv_weight"] == [4, 2, 2, 3] and shapes["film_w2"] == [16, 4]
    assert shapes["film_w1"] == [4, 2] and shapes["head_weight"] == [1, 2]
    assert d["cpu_cost"] == {"macs_per_sample": 2 + 48 + 16 + 8 + 2, "ns_per_sample": 0.0}
    prov = d["provenance"]
    for key in ("rig_sha256", "config_sha256", "git_commit", "seed", "training"):
        assert key in prov
    assert prov["split"]["test"] == [{"volume": 5.0, "treble": 2.0}]


def test_vectors_hold_a_knob_sweep_that_pytorch_reproduces(tiny_trained):
    vec = json.loads((tiny_trained.parent / "vectors.json").read_text())
    art = read_artifact(tiny_trained)
    x = np.array(vec["input"], dtype=np.float32)
    assert x.size == 16384 and vec["family"] == "wavenet"
    changes = vec["control_changes"]
    assert {c["name"] for c in changes} == {"volume", "treble"}
    y = render_volts(art, x, vec["controls"], changes)
    assert np.array_equal(y, np.array(vec["output"], dtype=np.float32))
    # The sweep matters: without the changes the output after the first one differs.
    still = render_volts(art, x, vec["controls"])
    first = changes[0]["sample"]
    # Before it only float32 rounding differs: the FiLM MLP run as one [T, K] matmul rounds
    # differently from a [1, K] one (measured ≤ 2 ulp of the output; allow 1e-6 of scale).
    scale = art.descriptor["output"]["scale"]
    assert np.max(np.abs(still[:first] - y[:first])) <= 1e-6 * scale
    assert np.max(np.abs(still[first:] - y[first:])) > 1e-3 * scale


def test_report_grades_every_held_out_setting(tiny_trained):
    report = (tiny_trained.parent / "report.md").read_text()
    rows = [r for r in report.splitlines() if r.startswith("| test") or r.startswith("| valid")]
    assert len(rows) == 2
    assert "volume 5, treble 2" in rows[0]
    assert rows[0].split("|")[4].strip() in {"great", "ok", "marginal", "poor"}
