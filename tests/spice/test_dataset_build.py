"""spice-dataset: reproducible bytes, parallel and Dask execution, failures kept by name."""

import json
from pathlib import Path

import json5
import numpy as np
import pytest

from harness.datasets import DatasetManifest, read_npz, unpack
from harness.spice import build_dataset
from harness.spice.cell import FIXTURES_DIR

pytestmark = pytest.mark.spice

REPRODUCIBLE = ("common-cathode-12ax7.npz", "common-cathode-12ax7.dataset.json")


def _bytes(directory: Path) -> dict[str, bytes]:
    files = [
        *REPRODUCIBLE,
        *(f"netlists/{p.name}" for p in (directory / "netlists").iterdir()),
        *(f"raw/{p.name}" for p in (directory / "raw").iterdir()),
    ]
    return {name: (directory / name).read_bytes() for name in sorted(files)}


def test_smoke_dataset_is_complete_and_consistent(cc_smoke_dataset):
    out = cc_smoke_dataset.output_dir
    manifest = DatasetManifest.from_json(cc_smoke_dataset.manifest)
    assert manifest.failed_cases == []
    assert [c.status for c in manifest.cases] == ["ok", "ok"]
    assert manifest.sample_rate == 48000.0
    assert manifest.anti_aliasing["anti_alias_filter"]["stopband_attenuation_db"] == 100.0
    assert "DC operating point" in manifest.initial_conditions
    assert manifest.versions["ngspice"].startswith("ngspice-")
    assert manifest.versions["pyspice"] == "PySpice 1.5"
    cases = unpack(read_npz(cc_smoke_dataset.package))
    assert {c.split for c in cases} == {"train", "test"}  # split by case, never by sample
    for record, case in zip(manifest.cases, cases, strict=True):
        assert record.id == case.case_id and record.n_samples == case.x.size
        assert (out / record.netlist_file).read_text().startswith("* common-cathode-12ax7")
        assert len(record.stimulus["sha256"]) == len(record.parameters_sha256) == 64
        raw = read_npz(out / record.raw_file)
        kept = slice(int(raw["n_settle"]), int(raw["n_settle"]) + case.x.size)
        np.testing.assert_array_equal(raw["probe.out"][kept], case.y)
        np.testing.assert_array_equal(raw["x"][kept], case.x)
        # the settle pre-roll is silent input around a resting stage
        assert np.all(raw["x"][: int(raw["n_settle"])] == 0.0)
        # an inverting ~35 dB stage: the output is large and anti-correlated with the input
        assert np.corrcoef(case.x, case.y)[0, 1] < -0.9
    assert (out / manifest.report_file).read_text().count("| c00") == 2


def test_rerun_with_two_workers_gives_identical_bytes(cc_smoke_dataset, tmp_path):
    again = build_dataset("common-cathode-12ax7", tmp_path, jobs=2, size="smoke", progress=False)
    assert _bytes(again.output_dir) == _bytes(cc_smoke_dataset.output_dir)
    # the run-info file is the only place for run-dependent facts
    info = json.loads(again.run_info.read_text())
    assert info["jobs"] == 2 and "started_utc" in info


def test_dask_local_cluster_gives_identical_bytes(cc_smoke_dataset, tmp_path):
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
    ) as cluster:
        result = build_dataset(
            "common-cathode-12ax7",
            tmp_path,
            scheduler=cluster.scheduler_address,
            size="smoke",
            progress=False,
        )
    assert _bytes(result.output_dir) == _bytes(cc_smoke_dataset.output_dir)
    assert json.loads(result.run_info.read_text())["scheduler"] == cluster.scheduler_address


def broken_fixture(tmp_path: Path) -> Path:
    """The diode clipper plus a node that loses its solution while the input is above 0.9 V:
    1 kohm to ground fed by I = 1 mA * (1 + V^2), i.e. V^2 - V + 1 = 0, which has no real
    root. The smoke plan's stepped sine reaches 1 V (fails mid-transient); its sweep peaks
    at 0.5 V (converges)."""
    src = FIXTURES_DIR / "diode-clipper"
    dst = tmp_path / "broken-clipper"
    dst.mkdir()
    template = (src / "netlist.cir").read_text()
    (dst / "netlist.cir").write_text(
        template + "Bbroken 0 nb I = (v(drive) > 0.9 ? 1 : 0)*(1m + 1m*v(nb)*v(nb))\nRnb nb 0 1k\n"
    )
    spec = json5.loads((src / "cell.json5").read_text())
    spec["name"] = "broken-clipper"
    (dst / "cell.json5").write_text(json.dumps(spec))
    return dst


def test_a_non_converging_case_is_retried_then_reported_by_name(tmp_path, capsys):
    from harness.cli import main

    fixture = broken_fixture(tmp_path)
    out = tmp_path / "out"
    code = main(
        [
            "spice-dataset",
            "--fixture",
            str(fixture),
            "--output-dir",
            str(out),
            "--jobs",
            "1",
            "--size",
            "smoke",
            "--no-progress",
        ]
    )
    printed = capsys.readouterr().out
    manifest = DatasetManifest.from_json(out / "broken-clipper.dataset.json")
    broken = [c for c in manifest.cases if c.stimulus["generator"] == "level_stepped_sine"]
    assert len(broken) == 1 and broken[0].status == "failed"
    assert manifest.failed_cases == [broken[0].id]
    assert [a["solver"] for a in broken[0].attempts] == [
        "strict",
        "gmin-source-stepping",
        "relaxed-reltol",
    ]
    assert not any(a["ok"] for a in broken[0].attempts)
    assert code == 1 and broken[0].id in printed
    assert broken[0].id in (out / manifest.report_file).read_text()
    assert (out / broken[0].netlist_file).exists()  # its netlist is kept for debugging
    package_ids = [c.case_id for c in unpack(read_npz(out / "broken-clipper.npz"))]
    assert broken[0].id not in package_ids and len(package_ids) == len(manifest.cases) - 1
