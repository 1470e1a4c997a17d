"""Gate files: parsing, look-up precedence, and errors that name the file and the key."""

import pytest

from harness.gates import GATES_DIR, GateFileError, Threshold, load_gate_file, metric_family

GOOD = """{
  // thresholds of a made-up suite
  schema: 1,
  suite: "demo",
  defaults: {
    null_db: {limit: -100, better: "lower", unit: "dB", basis: "noise_floor",
              reason: "float32 rounding"},
    snr_db: {limit: 90, better: "higher", unit: "dB", basis: "standard", reason: "AES17"},
  },
  fixtures: {
    "stages/tone_stack": {
      "null_db[sweep]": {limit: -80, better: "lower", unit: "dB", basis: "acceptance",
                         reason: "sweep only"},
    },
  },
  models: {
    "cand": {null_db: {limit: -60, better: "lower", unit: "dB", basis: "acceptance",
                       reason: "candidate model"}},
  },
}
"""


def _write(tmp_path, text, name="demo.json5"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_metric_family_strips_a_trailing_condition():
    assert metric_family("delta_thd_pct[sine -20 dBFS]") == "delta_thd_pct"
    assert metric_family("null_db") == "null_db"
    assert metric_family("a[b]c") == "a[b]c"


def test_lookup_prefers_model_then_fixture_then_defaults(tmp_path):
    gates = load_gate_file(_write(tmp_path, GOOD))
    assert gates.lookup("null_db[sine]").limit == -100
    assert gates.lookup("null_db[sweep]", fixture="stages/tone_stack").limit == -80
    assert gates.lookup("null_db[sine]", fixture="stages/tone_stack").limit == -100
    assert gates.lookup("null_db[sweep]", fixture="stages/tone_stack", model="cand").limit == -60
    snr = gates.lookup("snr_db", model="cand")
    assert (snr.better, snr.unit, snr.basis, snr.reason) == ("higher", "dB", "standard", "AES17")
    assert snr.source == "demo.json5: defaults.snr_db"


def test_threshold_direction_and_nan():
    low = Threshold("m", -100.0, "lower", "dB", "r")
    high = Threshold("m", 90.0, "higher", "dB", "r")
    assert low.passes(-100.0) and low.passes(-120.0) and not low.passes(-99.9)
    assert high.passes(90.0) and not high.passes(89.9)
    assert not low.passes(float("nan")) and not high.passes(float("nan"))
    assert low.describe() == "<= -100 dB"


@pytest.mark.parametrize(
    "old, new, message",
    [
        (', reason: "AES17"', "", "defaults.snr_db: missing ['reason']"),
        ('better: "higher", ', "", "defaults.snr_db: missing ['better']"),
        ("snr_db: {", "snr_db: 3, x: {", "defaults.snr_db: expected an object"),
        ('reason: "AES17"', 'reason: "AES17", typo: 1', "defaults.snr_db: unknown keys ['typo']"),
    ],
)
def test_missing_fields_name_file_and_key(tmp_path, old, new, message):
    assert old in GOOD
    path = _write(tmp_path, GOOD.replace(old, new, 1))
    with pytest.raises(GateFileError) as exc:
        load_gate_file(path)
    assert str(exc.value).startswith(f"{path}: {message}")


@pytest.mark.parametrize(
    "old, new, key",
    [
        ('better: "higher"', 'better: "more"', "defaults.snr_db.better"),
        ('basis: "standard"', 'basis: "folklore"', "defaults.snr_db.basis"),
        ("limit: 90", "limit: NaN", "defaults.snr_db.limit"),
        ('reason: "AES17"', 'reason: "  "', "defaults.snr_db.reason"),
        ('suite: "demo"', 'suite: "other"', "suite"),
        ("schema: 1", "schema: 2", "schema"),
        ("models:", "modles:", "(top level)"),
    ],
)
def test_bad_values_name_file_and_key(tmp_path, old, new, key):
    path = _write(tmp_path, GOOD.replace(old, new, 1))
    assert old in GOOD
    with pytest.raises(GateFileError) as exc:
        load_gate_file(path)
    assert str(exc.value).startswith(f"{path}: {key}: ")


def test_unparseable_and_missing_files(tmp_path):
    with pytest.raises(GateFileError, match="not valid JSON5"):
        load_gate_file(_write(tmp_path, "{schema: 1,,}"))
    with pytest.raises(GateFileError, match="not found"):
        load_gate_file(tmp_path / "nope.json5")


def test_unknown_metric_names_fixture_and_model(tmp_path):
    gates = load_gate_file(_write(tmp_path, GOOD))
    with pytest.raises(
        GateFileError, match=r"no threshold for metric 'thd_db'.*'stages/tone_stack'"
    ):
        gates.lookup("thd_db", fixture="stages/tone_stack")


@pytest.mark.parametrize("path", sorted(GATES_DIR.glob("*.json5")), ids=lambda p: p.name)
def test_committed_gate_files_are_valid(path):
    gates = load_gate_file(path)
    tables = [gates.defaults, *gates.fixtures.values(), *gates.models.values()]
    assert any(tables), f"{path} defines no threshold"
