"""Goldens: provenance, same-bytes, check verdicts, and update that writes only on request."""

import json

import numpy as np
import pytest
from spine_toys import RATE, TOY_GATES, toy_registry

from harness import cli, golden
from harness.golden import GoldenError, Registry


@pytest.fixture
def dirs(tmp_path):
    gates = tmp_path / "gates"
    gates.mkdir()
    (gates / "toys.json5").write_text(TOY_GATES)
    return tmp_path / "golden", gates


def _tree(root):
    return {p.relative_to(root): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_update_without_write_writes_nothing(dirs):
    root, _ = dirs
    (result,) = golden.update(write=False, root=root, registry=toy_registry())
    assert result.status == "new" and not result.written
    assert not root.exists()
    assert "NOT written" in golden.format_update([result])


def test_written_golden_carries_provenance_and_reloads(dirs):
    root, _ = dirs
    (result,) = golden.update(write=True, root=root, registry=toy_registry())
    assert result.written
    directory = root / "toys" / "tanh"
    assert sorted(p.name for p in directory.iterdir()) == [
        "arrays.npz",
        "manifest.json",
        "metrics.json",
        "sine.wav",
    ]
    manifest = json.loads((directory / "manifest.json").read_text())
    assert manifest["command"] == "greybound-lab golden update --fixture toys/tanh --write"
    assert manifest["producer"].endswith(":toy_registry.<locals>.tanh_clipper")
    assert manifest["params"] == {"gain": 2.0}
    t = np.arange(RATE // 10) / RATE
    assert manifest["inputs"]["sine"] == golden.array_hash(0.5 * np.sin(2 * np.pi * 1000.0 * t))
    assert {"numpy", "python", "soundfile", "libsndfile", "greybound-lab"} <= set(
        manifest["versions"]
    )
    for name, digest in manifest["files"].items():
        assert golden.sha256_bytes((directory / name).read_bytes()) == digest
    committed = golden.load_golden("toys/tanh", root)
    assert committed.data.audio["sine"].dtype == np.float64
    np.testing.assert_array_equal(committed.data.arrays["x"], 0.5 * np.sin(2 * np.pi * 1000.0 * t))


def test_same_inputs_give_the_same_bytes():
    reg = toy_registry()
    (producer,) = reg.producers()
    assert golden.materialize(producer, producer.run()) == golden.materialize(
        producer, producer.run()
    )


def test_check_passes_on_identical_code_and_fails_on_a_changed_model(dirs):
    root, gates = dirs
    golden.update(write=True, root=root, registry=toy_registry(2.0))
    (same,) = golden.check(root=root, gates_dir=gates, registry=toy_registry(2.0))
    assert same.passed and not same.problems
    null = next(c for c in same.checks if c.metric == "esr_db[sine]")
    assert null.value == -np.inf
    (changed,) = golden.check(root=root, gates_dir=gates, registry=toy_registry(2.01))
    assert not changed.passed
    failed = {c.metric for c in changed.checks if not c.passed}
    assert failed == {"esr_db[sine]", "delta_rms_dbfs"}
    assert "FAIL" in golden.format_check([changed])


def test_update_prints_a_per_metric_diff_and_leaves_the_golden_alone(dirs):
    root, _ = dirs
    golden.update(write=True, root=root, registry=toy_registry(2.0))
    before = _tree(root)
    (result,) = golden.update(write=False, root=root, registry=toy_registry(2.5))
    assert result.status == "changed" and not result.written
    assert _tree(root) == before
    assert set(result.changed_files) == {"sine.wav", "metrics.json", "manifest.json"}
    text = golden.format_update([result])
    row = next(line for line in text.splitlines() if line.startswith("rms_dbfs"))
    old = golden.load_golden("toys/tanh", root).data.metrics["rms_dbfs"].value
    assert f"{old:.6g}" in row and "dB" in row
    assert "esr_db[sine]" in text and "re-run with --write" in text
    (written,) = golden.update(write=True, root=root, registry=toy_registry(2.5))
    assert written.written and _tree(root) != before
    (again,) = golden.update(write=False, root=root, registry=toy_registry(2.5))
    assert again.status == "unchanged"


def test_stale_inputs_and_edited_files_are_reported(dirs):
    root, gates = dirs
    golden.update(write=True, root=root, registry=toy_registry())
    manifest_path = root / "toys" / "tanh" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["inputs"]["sine"] = "sha256:0"
    manifest_path.write_text(json.dumps(manifest))
    (result,) = golden.check(root=root, gates_dir=gates, registry=toy_registry())
    assert result.problems == ["input 'sine' changed since the golden was made (stale golden)"]
    (root / "toys" / "tanh" / "sine.wav").write_bytes(b"RIFF")
    with pytest.raises(GoldenError, match=r"sine\.wav: content does not match manifest"):
        golden.load_golden("toys/tanh", root)


def test_missing_golden_says_how_to_make_it(dirs):
    root, gates = dirs
    with pytest.raises(GoldenError, match="golden update --fixture toys/tanh --write"):
        golden.check(root=root, gates_dir=gates, registry=toy_registry())


@pytest.mark.parametrize(
    "pattern, hit",
    [("toys", True), ("tanh", True), ("toys/*", True), ("toys/tanh", True), ("stages", False)],
)
def test_fixture_patterns(pattern, hit):
    assert golden.matches("toys/tanh", pattern) is hit


def test_unknown_fixture_and_bad_names_are_errors():
    with pytest.raises(GoldenError, match="matches no golden"):
        toy_registry().producers("nope")
    with pytest.raises(GoldenError, match="expected '<group>/<name>'"):
        Registry().register("../x", model="m", description="d")


def test_cli_update_and_check(dirs, monkeypatch, capsys):
    root, gates = dirs
    monkeypatch.setattr(golden, "REGISTRY", toy_registry())
    monkeypatch.setattr(golden, "GOLDEN_DIR", root)
    monkeypatch.setattr(golden, "GATES_DIR", gates)
    assert cli.main(["golden", "update", "--fixture", "toys"]) == 0
    assert not root.exists()
    assert cli.main(["golden", "update", "--fixture", "toys", "--write"]) == 0
    assert (root / "toys" / "tanh" / "manifest.json").is_file()
    assert cli.main(["golden", "check"]) == 0
    monkeypatch.setattr(golden, "REGISTRY", toy_registry(3.0))
    assert cli.main(["golden", "check", "--fixture", "tanh"]) == 1
    out = capsys.readouterr().out
    assert "1 golden(s) checked, 1 failed" in out
    assert cli.main(["golden", "check", "--fixture", "nope"]) == 2
