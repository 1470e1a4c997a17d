"""The SPICE plumbing without ngspice: specs, templates, audio-rate maths, plans, packages."""

import json
import math

import numpy as np
import pytest
from scipy import signal as sps

from harness import datasets
from harness.errors import LabError
from harness.spice import audio_rate, netlist
from harness.spice.cell import FIXTURES_DIR, fixture_names, load_cell
from harness.spice.plan import SIZES, assign_splits, make_plan


def test_the_committed_fixtures_load_and_render():
    assert fixture_names() == [
        "cathode-follower-12ax7",
        "common-cathode-12ax7",
        "diode-clipper",
        "jfet-phaser-stage",
        "nox30-preamp",
        "power-amp-sag",
    ]
    for name in fixture_names():
        cell = load_cell(name)
        text = netlist.render(cell.template, cell.defaults())
        assert "${" not in text and netlist.DRIVE_NODE in text
        assert cell.output in cell.probes and cell.simulation.oversample >= 8


def test_runtime_mirrors_share_parameter_names_and_defaults():
    cc = load_cell("common-cathode-12ax7")
    assert cc.runtime.stage == "triode_common_cathode"
    assert {
        n: cc.parameters[n].value
        for n in (
            "b_plus",
            "r_plate",
            "r_cathode",
            "c_cathode",
            "r_grid_stopper",
            "r_grid_leak",
            "c_out",
        )
    } == {
        "b_plus": 250.0,
        "r_plate": 100e3,
        "r_cathode": 1.5e3,
        "c_cathode": 22e-6,
        "r_grid_stopper": 68e3,
        "r_grid_leak": 1e6,
        "c_out": 22e-9,
    }


def test_bad_spec_errors_name_the_file_and_field(tmp_path):
    src = FIXTURES_DIR / "diode-clipper"
    (tmp_path / "netlist.cir").write_text((src / "netlist.cir").read_text())
    spec = {"name": "x"}
    (tmp_path / "cell.json5").write_text(json.dumps(spec))
    with pytest.raises(LabError, match=r"cell\.json5: field 'template'"):
        load_cell(tmp_path)
    import json5

    spec = json5.loads((src / "cell.json5").read_text())
    spec["parameters"]["r_series"]["value"] = "2k2"
    (tmp_path / "cell.json5").write_text(json.dumps(spec))
    with pytest.raises(LabError, match=r"field 'parameters\.r_series\.value'"):
        load_cell(tmp_path)
    spec = json5.loads((src / "cell.json5").read_text())
    (tmp_path / "cell.json5").write_text(json.dumps(spec))
    (tmp_path / "netlist.cir").write_text("Rx drive 0 ${r_nowhere}\n")
    with pytest.raises(LabError, match=r"netlist\.cir: placeholder \$\{r_nowhere\}"):
        load_cell(tmp_path)
    with pytest.raises(LabError, match="no SPICE fixture 'no-such-cell'"):
        load_cell("no-such-cell")


def test_parameter_overrides_are_checked():
    cell = load_cell("common-cathode-12ax7")
    with pytest.raises(LabError, match="unknown parameter 'r_plat'"):
        cell.resolve({"r_plat": 1e5})
    with pytest.raises(LabError, match="b_plus = 5000.0 outside its range"):
        cell.resolve({"b_plus": 5000})


def test_missing_ngspice_library_gives_a_one_line_fix(monkeypatch, capsys):
    from harness.cli import main
    from harness.spice import ngspice

    monkeypatch.setattr(ngspice, "_SESSION", None)
    monkeypatch.setattr(ngspice, "library_path", lambda: "/nonexistent/libngspice.so")
    assert main(["spice-run", "--fixture", "diode-clipper"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err
    assert "ngspice shared library not found" in err and "apt-get install libngspice0-dev" in err


def test_anti_alias_filter_meets_its_stated_response():
    h = audio_rate.anti_alias_fir(8)
    fs = 48000.0
    w, response = sps.freqz(h, worN=2**16, fs=8 * fs)
    db = 20 * np.log10(np.abs(response) + 1e-300)
    assert np.max(np.abs(db[w <= audio_rate.PASSBAND_EDGE * fs])) < 1e-3  # flat passband
    assert np.max(db[w >= audio_rate.STOPBAND_EDGE * fs]) <= -audio_rate.STOPBAND_DB


@pytest.mark.parametrize("oversample", [8, 16])
def test_up_and_down_sampling_keep_samples_on_the_fs_grid(oversample):
    fs, f0 = 48000.0, 3000.0
    grid = audio_rate.Grid(fs, oversample, 480, 960)
    x = np.sin(2 * np.pi * f0 * np.arange(960) / fs) * np.hanning(960)
    u = audio_rate.upsample(audio_rate.padded(x, grid), oversample)
    assert u.size == grid.n_os and grid.max_step <= 1 / (8 * fs)
    # the band-limited interpolant passes through the original samples (zero phase)
    np.testing.assert_allclose(u[::oversample][grid.kept()], x, atol=1e-5)
    # ngspice-like non-uniform timepoints -> grid -> decimation returns the input
    t = np.sort(np.concatenate([grid.times_os(), grid.times_os()[1:] - 0.37 / grid.rate_os]))
    values = np.interp(t, grid.times_os(), u)
    back = audio_rate.decimate(audio_rate.on_grid(t, values, grid), oversample)
    np.testing.assert_allclose(back[grid.kept()], x, atol=1e-4)


def test_filesource_text_round_trips_exactly():
    u = np.array([0.1, -1 / 3, 2.0**-40])
    rows = [line.split() for line in audio_rate.filesource_text(u, 384000.0).splitlines()]
    assert [float(v) for _, v in rows] == list(u)
    assert float(rows[1][0]) == 1 / 384000.0


def test_splits_are_by_whole_case_seeded_and_complete():
    labels = assign_splits(20, 0.15, 0.2, seed=3)
    assert labels == assign_splits(20, 0.15, 0.2, seed=3)
    assert labels.count("test") == 4 and labels.count("validation") == 3
    assert labels != assign_splits(20, 0.15, 0.2, seed=4)
    cell = load_cell("common-cathode-12ax7")
    plan = make_plan(cell, "default")
    assert len({c.case_id for c in plan}) == len(plan)
    assert {c.split for c in plan} == {"train", "validation", "test"}
    mc = [c for c in plan if c.variant.startswith("mc")]
    assert len(mc) == cell.dataset.monte_carlo["default"]
    for case in mc:
        for name, value in case.overrides:
            tol = cell.parameters[name].tolerance
            assert abs(value / cell.parameters[name].value - 1) <= tol
    assert make_plan(cell, "default") == plan
    assert len(make_plan(cell, "full")) > len(plan) > len(make_plan(cell, "smoke")) == 2
    from harness.cli import SPICE_DATASET_SIZES

    assert SPICE_DATASET_SIZES == SIZES


def test_npz_packages_are_byte_reproducible_and_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    cases = [
        datasets.PackedCase(
            f"c{i}",
            split,
            rng.normal(size=n),
            rng.normal(size=n),
            {"plate": rng.normal(size=n)},
            {"b_plus": 250.0 + i},
        )
        for i, (split, n) in enumerate([("train", 5), ("test", 7)])
    ]
    arrays = datasets.pack(cases, 48000.0)
    first = datasets.write_npz(tmp_path / "a.npz", arrays)
    second = datasets.write_npz(tmp_path / "b.npz", datasets.pack(cases, 48000.0))
    assert first == second == datasets.sha256_bytes((tmp_path / "a.npz").read_bytes())
    back = datasets.unpack(datasets.read_npz(tmp_path / "a.npz"))
    assert [c.case_id for c in back] == ["c0", "c1"] and back[1].params == {"b_plus": 251.0}
    np.testing.assert_array_equal(back[1].probes["plate"], cases[1].probes["plate"])
    with pytest.raises(LabError, match="split 'dev'"):
        datasets.pack([datasets.PackedCase("x", "dev", np.zeros(1), np.zeros(1), {}, {})], 48000.0)


def test_hashes_are_canonical():
    assert datasets.sha256_json({"a": 1.0, "b": [1, 2]}) == datasets.sha256_json(
        {"b": (1, 2), "a": 1.0}
    )
    assert datasets.sha256_array(np.arange(3.0)) == datasets.sha256_array(
        np.arange(3, dtype=np.float32)
    )
    with pytest.raises(LabError, match="non-finite"):
        datasets.canonical_json({"x": math.inf})
