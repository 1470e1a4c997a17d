"""SPICE goldens (golden/spice/<cell>/): present, small, and matched by a fresh simulation."""

import shutil

import numpy as np
import pytest

from harness.datasets import read_npz, write_npz
from harness.spice.cell import fixture_names
from harness.spice.golden import DRIFT_TOLERANCE, GOLDEN_DIR, check_golden

pytestmark = [pytest.mark.golden, pytest.mark.spice]


def test_goldens_exist_for_every_fixture_and_stay_small():
    sizes = {
        name: sum(p.stat().st_size for p in (GOLDEN_DIR / name).iterdir())
        for name in fixture_names()
    }
    assert all(size > 0 for size in sizes.values())
    assert sum(sizes.values()) < 1_000_000, sizes  # the budget: < 1 MB for all cells


@pytest.mark.parametrize("fixture", fixture_names())
def test_fresh_simulation_matches_the_golden(fixture):
    results = check_golden(fixture)
    print("\n".join(r.format() for r in results))
    assert results and all(r.ok for r in results), [r.format() for r in results if not r.ok]


def test_drift_beyond_tolerance_is_detected(tmp_path):
    """A golden nudged by twice the tolerance (the kind of change a different ngspice build
    or a changed netlist would make) must fail the check."""
    shutil.copytree(GOLDEN_DIR / "diode-clipper", tmp_path / "diode-clipper")
    arrays = read_npz(tmp_path / "diode-clipper" / "arrays.npz")
    y = arrays["y"].astype(np.float64)
    arrays["y"] = (y + 2 * DRIFT_TOLERANCE * np.max(np.abs(y))).astype(np.float32)
    write_npz(tmp_path / "diode-clipper" / "arrays.npz", arrays)
    results = check_golden("diode-clipper", tmp_path)
    assert not any(r.ok for r in results)
    assert all(r.inputs_match for r in results)  # the drift is in the output, not the inputs


def test_cli_check_prints_one_line_per_case(capsys):
    from harness.cli import main

    assert main(["spice-golden", "--check", "--fixture", "diode-clipper"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3 and all(line.startswith("ok diode-clipper/") for line in lines)
