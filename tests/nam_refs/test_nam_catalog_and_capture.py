"""The AC30HWH-6580 catalog (metadata only) and the self-made capture recipe."""

from __future__ import annotations

import json
from pathlib import Path

import json5
import numpy as np
import pytest

from harness.nam_capture import CAPTURES, NAM_REFS_DIR, capture_spec, make_capture, training_signals
from harness.nam_sidecar import read_sidecar, sidecar_for, sidecar_path
from harness.rigs import load_rig

pytestmark = pytest.mark.nam

CATALOG = NAM_REFS_DIR / "catalog" / "ac30hwh-6580.json5"


def test_the_catalog_covers_the_grid_and_maps_every_cell_to_valid_rig_settings():
    cat = json5.loads(CATALOG.read_text())
    rig = load_rig(cat["rig"].rsplit("/", 1)[-1].removesuffix(".rig.json5"))
    axes = cat["axes"]
    expected = {(c, g, t) for c in axes["channel"] for g in axes["gain_position"]
                for t in axes["top_cut"]}  # fmt: skip
    cells = {(c["channel"], c["gain_position"], c["top_cut"]): c for c in cat["cells"]}
    assert set(cells) == expected and len(cat["cells"]) == 24
    assert len({c["file_stem"] for c in cat["cells"]}) == 24
    assert cat["includes_cab"] is False
    for cell in cat["cells"]:
        # stage_params raises naming the rig file for an unknown channel/knob or a value
        # outside the knob's range.
        rig.stage_params(cell["rig"]["knobs"], cell["rig"]["channel"])
        mapped = cat["mapping"]["gain_position"]["values"][str(cell["gain_position"])]
        assert cell["rig"]["knobs"]["volume"] == mapped
    # No audio and no weights: a metadata-only catalog.
    assert not list(CATALOG.parent.glob("*.nam")) and not list(CATALOG.parent.glob("*.wav"))


def test_training_signals_are_deterministic_and_not_the_comparison_set():
    a_train, a_val = training_signals(48000)
    b_train, b_val = training_signals(48000)
    assert np.array_equal(a_train, b_train) and np.array_equal(a_val, b_val)
    # 71 s of training audio, peaks at most 0 dBFS (the lab's DI levels).
    assert 60.0 < a_train.size / 48000 < 90.0
    assert np.max(np.abs(a_train)) <= 1.0
    from harness.stimuli import di_phrase

    standard_di = di_phrase(48000).signal
    assert not np.array_equal(a_val, standard_di[: a_val.size])


@pytest.mark.parametrize("name", sorted(CAPTURES))
def test_each_preset_is_committed_with_the_settings_it_names(name):
    spec = CAPTURES[name]
    sc = sidecar_for(NAM_REFS_DIR / f"{name}.nam")
    assert sc.capture.channel == spec.channel == sc.source.channel
    for knob, value in spec.knobs.items():
        assert sc.source.knobs[knob] == value
    assert sc.training.epochs == spec.epochs and sc.training.seed == spec.seed
    assert f"--preset {name}" in sc.provenance.command


def test_capture_spec_errors():
    from harness.errors import InputError

    with pytest.raises(InputError, match="unknown preset"):
        capture_spec("nope")
    with pytest.raises(InputError, match="--name and --channel"):
        capture_spec(None, name="x")


@pytest.mark.slow
@pytest.mark.train
def test_make_capture_writes_a_model_and_a_valid_sidecar(tmp_path: Path):
    """One short epoch end to end (minutes on one core): the .nam exists, the sidecar
    validates, the ESR recorded is the one the official renderer measures."""
    spec = capture_spec("nox30-top_boost-v5", epochs=1)
    sc, summary = make_capture(spec, tmp_path, command="test")
    again = read_sidecar(sidecar_path(tmp_path / f"{spec.name}.nam"))
    assert again.to_json() == sc.to_json()
    # The sidecar records the full-size (standard, slim 1.0) submodel's validation ESR.
    assert sc.training.validation_esr == round(summary["validation_esr"]["1"], 6)
    container = json.loads((tmp_path / f"{spec.name}.nam").read_text())
    assert [s["max_value"] for s in container["config"]["submodels"]] == [0.5, 1.0]
