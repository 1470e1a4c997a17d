"""The artifact format from both readers: Python (harness.artifacts) and the Rust runtime
(harness.runtime.NeuralCell): round trips, byte-identical writes, and every malformed input
rejected with the file and the field named — never a crash."""

import json

import numpy as np
import pytest

from harness.artifacts import ArtifactError, read_artifact, write_artifact
from harness.runtime import NeuralCell

DESCRIPTOR = {
    "name": "tiny",
    "family": "mlp",
    "sample_rate_hz": 48000.0,
    "sample_rates_supported": [48000.0],
    "input": {
        "context_samples": 2,
        "scale": 1.0,
        "offset": 0.0,
        "range": [-2.0, 2.0],
        "clamp": "saturate",
    },
    "output": {"scale": 10.0, "offset": 0.0, "range": [-50.0, 50.0], "clamp": "saturate"},
    "layers": [
        {
            "kind": "dense",
            "inputs": 2,
            "outputs": 3,
            "activation": "tanh",
            "weight": "w0",
            "bias": "b0",
        },
        {
            "kind": "dense",
            "inputs": 3,
            "outputs": 1,
            "activation": "identity",
            "weight": "w1",
            "bias": "b1",
        },
    ],
    "latency_samples": 0,
    "lookahead_samples": 0,
    "allocation": "preallocated",
    "cpu_cost": {"macs_per_sample": 9, "ns_per_sample": 10.0},
    "provenance": {},
}
RNG = np.random.default_rng(7)
TENSORS = {
    "w0": RNG.normal(size=(3, 2)), "b0": RNG.normal(size=3),
    "w1": RNG.normal(size=(1, 3)), "b1": RNG.normal(size=1),
}  # fmt: skip


@pytest.fixture
def artifact(tmp_path):
    return write_artifact(tmp_path / "tiny", DESCRIPTOR, TENSORS)


def test_round_trip_and_identical_bytes(artifact, tmp_path):
    a = read_artifact(artifact)
    for name, value in TENSORS.items():
        np.testing.assert_array_equal(a.tensors[name], value.astype(np.float32))
    again = write_artifact(tmp_path / "again", DESCRIPTOR, TENSORS)
    assert again.read_bytes() == artifact.read_bytes()
    assert (again.parent / "weights.greybound.bin").read_bytes() == (
        artifact.parent / "weights.greybound.bin"
    ).read_bytes()


def test_rust_runtime_computes_the_described_network(artifact):
    x = np.array([0.3, -0.7, 1.1, 5.0], dtype=np.float32)
    y = NeuralCell(artifact).process(x)
    xs = np.clip(np.concatenate([[0.0], x]), -2, 2)
    w0, b0, w1, b1 = (TENSORS[k].astype(np.float32) for k in ("w0", "b0", "w1", "b1"))
    want = [(w1 @ np.tanh(w0 @ xs[n : n + 2] + b0) + b1)[0] * 10 for n in range(4)]
    np.testing.assert_allclose(y, np.clip(want, -50, 50), rtol=1e-5, atol=1e-5)


def _rewrite(path, edit):
    d = json.loads(path.read_text())
    edit(d)
    path.write_text(json.dumps(d))


BROKEN = {
    "schema": (lambda d: d.update(schema_version=9), "schema_version"),
    "shape": (lambda d: d["tensors"]["w0"].update(shape=[2, 3]), "tensors.w0.shape"),
    "checksum": (lambda d: d["weights"].update(sha256="0" * 64), "weights.sha256"),
    "size": (lambda d: d["weights"].update(bytes=3), "weights.bytes"),
    "context": (lambda d: d["input"].update(context_samples=5), "layers[0].inputs"),
    "latency": (lambda d: d.update(latency_samples=3), "latency_samples"),
}


@pytest.mark.parametrize("case", BROKEN)
def test_rust_reader_names_file_and_field(artifact, case):
    edit, field = BROKEN[case]
    _rewrite(artifact, edit)
    with pytest.raises(
        ValueError, match=rf"\.json.*field '{__import__('re').escape(field)}'|field '{field}'"
    ):
        NeuralCell(artifact)


@pytest.mark.parametrize("case", ["schema", "checksum", "size"])
def test_python_reader_names_file_and_field(artifact, case):
    edit, field = BROKEN[case]
    _rewrite(artifact, edit)
    with pytest.raises(ArtifactError, match=f"field '{field}'"):
        read_artifact(artifact)


def test_nan_weights_and_truncation_are_rejected_by_both(artifact):
    weights = artifact.parent / "weights.greybound.bin"
    blob = bytearray(weights.read_bytes())
    weights.write_bytes(bytes(blob[:-2]))
    with pytest.raises(ValueError, match="weights.bytes"):
        NeuralCell(artifact)
    with pytest.raises(ArtifactError, match="weights.bytes"):
        read_artifact(artifact)
    # A NaN weight with a matching checksum: only the values can give it away.
    bad = dict(TENSORS, b0=np.array([0.0, np.nan, 0.0]))
    with pytest.raises(ArtifactError, match="tensors.b0"):
        write_artifact(artifact.parent, DESCRIPTOR, bad)


def test_garbage_descriptor_is_an_error_not_a_crash(artifact):
    artifact.write_bytes(b"\x00\xff{{not json")
    with pytest.raises(ValueError, match=r"model.greybound.json: field '\(file\)'.*UTF-8"):
        NeuralCell(artifact)
    artifact.write_text("{schema_version: 1, layers: [")
    with pytest.raises(ValueError, match=r"model.greybound.json: field '\(syntax\)'"):
        NeuralCell(artifact)


def test_unsupported_sample_rate_is_refused(artifact):
    with pytest.raises(ValueError, match="supports sample rates"):
        NeuralCell(artifact, sample_rate=44100)


def test_controls_are_named_and_checked(artifact):
    with pytest.raises(ValueError, match="unknown control 'b_plus'"):
        NeuralCell(artifact, b_plus=250.0)
