"""The committed WaveNet goldens (``golden/wavenet/<model>/``): manifest hashes, the config
they were trained on, the Rust runtime (through ``harness.runtime``) against the golden's
PyTorch vectors with the knob sweep, the vectors against PyTorch, and the
``wavenet-golden`` command that makes them (on the tiny config of ``conftest.py``)."""

import json
import shutil

import numpy as np
import pytest

from harness.golden import (
    GOLDEN_DIR,
    WAVENET_VECTOR_TAIL,
    GoldenError,
    load_wavenet_golden,
    sha256_bytes,
    wavenet_golden_names,
)
from harness.runtime import NeuralCell

NAMES = wavenet_golden_names()
#: The host block size the runtime is judged at (48 kHz, block 64).
BLOCK = 64
#: Rust vs PyTorch, float32 on both sides: the schema's ≤ 1e-5 of the vectors' output scale
#: (max |output|) — 30 residual layers of K·C-term sums and Snake (a polynomial in Rust,
#: libm sin in PyTorch) in different summation orders: a few hundred roundings of 6e-8.
TOLERANCE = 1e-5


def test_at_least_one_wavenet_golden_is_committed():
    assert NAMES, "no golden/wavenet/*/manifest.json: run `greybound-lab wavenet-golden`"


def _render_runtime(golden, changes) -> np.ndarray:
    """The golden's vector input through the runtime in blocks of 64, from rest, knobs at
    their vector start values, each of ``changes`` applied at once before its sample."""
    v = golden.vectors
    cell = NeuralCell(golden.descriptor, v["sample_rate"], **v["controls"])
    x = np.array(v["input"], dtype=np.float32)
    cuts = [min(int(c["sample"]), x.size) for c in changes] + [x.size]
    out, start = [], 0
    for i, end in enumerate(cuts):
        out += [cell.process(x[s : min(s + BLOCK, end)]) for s in range(start, end, BLOCK)]
        if i < len(changes):
            cell.set_control(changes[i]["name"], changes[i]["value"], smooth=False)
        start = end
    return np.concatenate(out)


@pytest.mark.golden
@pytest.mark.parametrize("name", NAMES)
def test_golden_files_match_the_manifest_and_name_their_provenance(name):
    golden = load_wavenet_golden(name)  # raises GoldenError on any hash mismatch
    m = golden.manifest
    assert m["command"].startswith("greybound-lab wavenet-golden --run-dir ")
    assert m["training_command"].startswith("greybound-lab train-wavenet --config ")
    for tool in ("python", "numpy", "torch", "greybound-lab", "greybound-runtime"):
        assert m["versions"].get(tool), f"manifest versions.{tool} missing"
    assert set(m["inputs"]) == {"config", "rig", "run_vectors"}
    assert "checkpoint.pt" not in m["files"]
    # Kept small: the excerpt, not the run's 16,384-sample vectors (see harness.golden).
    assert sum((golden.directory / f).stat().st_size for f in m["files"]) < 400_000


@pytest.mark.golden
@pytest.mark.parametrize("name", NAMES)
def test_golden_config_is_unchanged_since_training(name):
    """The held-out knob settings and phrases come from the config: if it changed, the
    golden's 'test' split no longer means held out."""
    golden = load_wavenet_golden(name)
    config = GOLDEN_DIR.parent / golden.manifest["params"]["config"]
    assert sha256_bytes(config.read_bytes()) == golden.manifest["inputs"]["config"], (
        f"{config} changed since {name} was trained: re-train and re-make the golden"
    )


@pytest.mark.golden
@pytest.mark.parametrize("name", NAMES)
def test_golden_report_json_grades_what_report_md_tabulates(name):
    golden = load_wavenet_golden(name)
    md = (golden.directory / "report.md").read_text()
    rows = golden.report["held_out_esr"]
    assert {r["split"] for r in rows} == {"test", "validation"}
    # report.md lists the knobs in the artifact's control order (the rig's).
    controls = [c["name"] for c in json.loads(golden.descriptor.read_text())["controls"]]
    for r in rows:
        knobs = ", ".join(f"{k} {r['knobs'][k]:g}" for k in controls)
        assert f"| {r['split']} | {knobs} | {r['esr']:.4f} | {r['grade']} |" in md


@pytest.mark.golden
def test_a_tampered_golden_is_refused(tmp_path):
    name = NAMES[0]
    shutil.copytree(GOLDEN_DIR / name, tmp_path / name)
    weights = tmp_path / name / "weights.greybound.bin"
    blob = bytearray(weights.read_bytes())
    blob[100] ^= 0x01
    weights.write_bytes(bytes(blob))
    with pytest.raises(GoldenError, match=r"weights\.greybound\.bin: content does not match"):
        load_wavenet_golden(name, tmp_path)


@pytest.mark.golden
@pytest.mark.parametrize("name", NAMES)
def test_runtime_reproduces_the_golden_vectors_with_the_knob_sweep(name):
    golden = load_wavenet_golden(name)
    changes = golden.vectors["control_changes"]
    assert {c["name"] for c in changes} == set(golden.vectors["controls"])  # every knob moves
    want = np.array(golden.vectors["output"], dtype=np.float32)
    scale = float(np.max(np.abs(want)))
    y = _render_runtime(golden, changes)
    err = float(np.max(np.abs(y - want)))
    assert err <= TOLERANCE * scale, f"max |Rust − PyTorch| {err:.3g} V on scale {scale:.3g} V"
    # The sweep is checked, not carried along: without it the output leaves the vectors by
    # far more than the tolerance after the first jump (and not before it).
    still = _render_runtime(golden, [])
    first = int(changes[0]["sample"])
    assert np.array_equal(still[:first], y[:first])
    assert np.max(np.abs(still[first:] - want[first:])) > 100 * TOLERANCE * scale


@pytest.mark.golden
@pytest.mark.train
@pytest.mark.parametrize("name", NAMES)
def test_golden_vectors_are_pytorchs_output_of_the_golden_artifact(name):
    """The excerpt is PyTorch's render of its own input: a causal model from rest gives the
    same first samples whatever follows. Bit-identity is not expected — PyTorch's conv picks
    its algorithm by length — so ≤ 1e-6 of scale (a few float32 ulp)."""
    from harness.artifacts import read_artifact
    from harness.cells.wavenet import render_volts

    golden = load_wavenet_golden(name)
    v = golden.vectors
    x = np.array(v["input"], dtype=np.float32)
    y = render_volts(read_artifact(golden.descriptor), x, v["controls"], v["control_changes"])
    want = np.array(v["output"], dtype=np.float32)
    assert np.max(np.abs(y - want)) <= 1e-6 * np.max(np.abs(want))


# --- the command that makes a golden (tiny config, trained in seconds) ----------------------
@pytest.fixture(scope="module")
def made(tiny_trained, tmp_path_factory):
    from harness.cli import main

    root = tmp_path_factory.mktemp("golden-root")
    assert main(["wavenet-golden", "--run-dir", str(tiny_trained.parent),
                 "--golden-dir", str(root)]) == 0  # fmt: skip
    return root


@pytest.mark.train
def test_wavenet_golden_command_writes_a_checked_excerpt(tiny_trained, made):
    golden = load_wavenet_golden("wavenet/tiny", made)
    run = json.loads((tiny_trained.parent / "vectors.json").read_text())
    v = golden.vectors
    # Two knobs on 16,384 samples jump at 4,096 (volume) and 8,192 (treble): cut 2,048 later.
    n = 8192 + WAVENET_VECTOR_TAIL
    assert len(v["input"]) == len(v["output"]) == n and v["excerpt"]["of_samples"] == 16384
    assert [c["sample"] for c in v["control_changes"]] == [4096, 8192]
    # The same float32 values as the run's vectors, shorter decimals.
    assert np.array_equal(np.float32(v["output"]), np.float32(run["output"][:n]))
    assert np.array_equal(np.float32(v["input"]), np.float32(run["input"][:n]))
    for fname in ("model.greybound.json", "weights.greybound.bin", "report.md"):
        assert (golden.directory / fname).read_bytes() == (tiny_trained.parent / fname).read_bytes()
    (row,) = [r for r in golden.report["held_out_esr"] if r["split"] == "test"]
    assert row["knobs"] == {"volume": 5.0, "treble": 2.0}
    # report.md tabulates the same number (4 decimals).
    md = (tiny_trained.parent / "report.md").read_text()
    assert f"| test | volume 5, treble 2 | {row['esr']:.4f} | {row['grade']} |" in md


@pytest.mark.train
def test_wavenet_golden_command_is_reproducible(tiny_trained, made, tmp_path):
    from harness.golden import write_wavenet_golden

    again = write_wavenet_golden(tiny_trained.parent, tmp_path)
    first = made / "wavenet" / "tiny"
    names = sorted(p.name for p in first.iterdir())
    assert names == sorted(p.name for p in again.iterdir())
    for fname in names:
        assert (again / fname).read_bytes() == (first / fname).read_bytes(), fname


@pytest.mark.train
def test_wavenet_golden_command_names_a_missing_run_file(tiny_trained, tmp_path, capsys):
    from harness.cli import main

    run = tmp_path / "run"
    shutil.copytree(tiny_trained.parent, run)
    (run / "vectors.json").unlink()
    assert main(["wavenet-golden", "--run-dir", str(run), "--golden-dir", str(tmp_path)]) == 2
    assert f"{run / 'vectors.json'}: missing" in capsys.readouterr().err
    assert not (tmp_path / "wavenet").exists()
