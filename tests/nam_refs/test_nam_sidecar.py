"""Capture sidecars (``harness.nam_sidecar``): strict reading, errors that name the file and
the key, and the committed sidecars in ``nam_refs/``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.errors import InputError
from harness.nam_capture import NAM_REFS_DIR
from harness.nam_sidecar import (
    SIDECAR_SUFFIX,
    read_sidecar,
    sha256_file,
    sidecar_for,
    sidecar_path,
    write_sidecar,
)

pytestmark = pytest.mark.nam


def _valid(model_file: str = "cap.nam") -> dict:
    return {
        "schema": 1,
        "name": "cap",
        "model_file": model_file,
        "source": {
            "kind": "rig",
            "chain": "fixtures/rigs/nox30.rig.json5",
            "channel": "top_boost",
            "knobs": {"volume": 5},
        },
        "capture": {
            "device": "Nox30 rig",
            "channel": "top_boost",
            "gain_position": 5,
            "top_cut": False,
            "includes_cab": False,
        },
        "sample_rate": 48000,
        "calibration": {"input_level_dbu": -0.79, "output_level_dbu": 42.21},
        "latency_samples": 0,
        "license": "MIT",
    }


def _write(tmp_path: Path, obj: dict, model: bytes | None = b"{}") -> Path:
    if model is not None:
        (tmp_path / obj.get("model_file", "cap.nam")).write_bytes(model)
    path = tmp_path / f"cap{SIDECAR_SUFFIX}"
    path.write_text(json.dumps(obj))
    return path


def test_a_valid_sidecar_reads_back_and_round_trips(tmp_path):
    path = _write(tmp_path, _valid())
    sc = read_sidecar(path)
    assert sc.capture.includes_cab is False
    assert sc.source.knobs == {"volume": 5.0}
    assert sc.model_path == tmp_path / "cap.nam"
    again = read_sidecar(write_sidecar(sc, tmp_path / "again.capture.json5"))
    assert again.to_json() == sc.to_json()


@pytest.mark.parametrize(
    ("mutate", "key"),
    [
        (lambda d: d.update(colour="red"), "colour"),
        (lambda d: d.pop("license"), "license"),
        (lambda d: d["capture"].update(includes_cab="no"), "capture.includes_cab"),
        (lambda d: d["capture"].pop("top_cut"), "capture.top_cut"),
        (lambda d: d["capture"].update(gain_position="max"), "capture.gain_position"),
        (lambda d: d["source"].update(kind="plugin"), "source.kind"),
        (lambda d: d["source"]["knobs"].update(volume="5"), "source.knobs.volume"),
        (lambda d: d["calibration"].update(input_level_dbu=300), "calibration.input_level_dbu"),
        (lambda d: d.update(sample_rate=100), "sample_rate"),
        (lambda d: d.update(latency_samples=-3), "latency_samples"),
        (lambda d: d.update(model_sha256="abc"), "model_sha256"),
        (lambda d: d.update(schema=2), "schema"),
        (lambda d: d.update(model_file="../elsewhere.nam"), "model_file"),
    ],
)
def test_a_bad_field_is_an_error_naming_file_and_key(tmp_path, mutate, key):
    obj = _valid()
    mutate(obj)
    path = _write(tmp_path, obj, model=b"{}")
    with pytest.raises(InputError) as err:
        read_sidecar(path)
    assert str(path) in str(err.value)
    assert f": {key}:" in str(err.value)


def test_a_changed_model_file_fails_its_hash(tmp_path):
    obj = _valid()
    obj["model_sha256"] = "0" * 64
    path = _write(tmp_path, obj)
    with pytest.raises(InputError, match="model_sha256: does not match"):
        read_sidecar(path)


def test_a_missing_model_file_is_named(tmp_path):
    path = _write(tmp_path, _valid(), model=None)
    with pytest.raises(InputError, match="model_file: .*cap.nam does not exist"):
        read_sidecar(path)


def test_not_json5_and_missing_sidecar_are_named(tmp_path):
    bad = tmp_path / f"x{SIDECAR_SUFFIX}"
    bad.write_text("{schema: 1,,}")
    with pytest.raises(InputError, match="not valid JSON5"):
        read_sidecar(bad)
    nam = tmp_path / "lonely.nam"
    nam.write_text("{}")
    with pytest.raises(InputError) as err:
        sidecar_for(nam)
    assert str(sidecar_path(nam)) in str(err.value)
    assert sidecar_path(nam).name == "lonely.capture.json5"


def test_a_sidecar_describing_another_file_is_refused(tmp_path):
    obj = _valid("other.nam")
    _write(tmp_path, obj)
    nam = tmp_path / "cap.nam"
    nam.write_text("{}")
    with pytest.raises(InputError, match="model_file: names 'other.nam'"):
        sidecar_for(nam)


COMMITTED = sorted(NAM_REFS_DIR.glob("*.nam"))


def test_the_lab_commits_self_made_captures():
    assert len(COMMITTED) >= 2, f"{NAM_REFS_DIR}: expected the lab's own captures"


@pytest.mark.parametrize("nam", COMMITTED, ids=[p.stem for p in COMMITTED])
def test_every_committed_capture_has_a_valid_sidecar(nam):
    sc = sidecar_for(nam)
    assert sc.model_sha256 == sha256_file(nam)
    assert sc.capture.includes_cab is False
    assert sc.calibration is not None and sc.training is not None
    assert sc.source.chain_sha256 == sha256_file(NAM_REFS_DIR.parent / sc.source.chain)
    container = json.loads(nam.read_text())
    assert container["architecture"] == "SlimmableContainer"
    assert container["sample_rate"] == sc.sample_rate
    assert "date" not in container["metadata"]  # no wall clock: same inputs, same bytes
    assert container["metadata"]["input_level_dbu"] == sc.calibration.input_level_dbu
