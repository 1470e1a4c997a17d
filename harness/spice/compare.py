"""Runtime stages against SPICE datasets: how far is the Rust stage from ngspice?

``compare_with_runtime`` renders every case of one split of a dataset (default: the
held-out ``test`` split) through the runtime stage named in the cell spec's ``runtime``
block, with that case's parameter values (Monte Carlo draws, impedance sweeps and B+
included), and measures the error of the output against SPICE's in millivolts:

* per case: RMSE = sqrt(mean((y_runtime − y_spice)²)) over the case's samples;
* ``weighted_rmse_mv``: the RMSE over all the split's samples pooled, i.e. the per-case mean
  squared errors weighted by the cases' sample counts, sqrt(Σ n_i·MSE_i / Σ n_i).

The runtime stage starts each case from its DC rest point (``Stage`` is built per case),
as SPICE does (its settle pre-roll is already removed from the package).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.datasets import DatasetManifest, read_npz, unpack
from harness.errors import LabError
from harness.spice.cell import load_cell


@dataclass
class CaseError:
    case_id: str
    n_samples: int
    rmse_mv: float
    spice_rms_mv: float
    max_abs_error_mv: float


@dataclass
class RuntimeComparison:
    """Errors of runtime stage ``stage`` against a SPICE dataset's ``split`` cases (mV)."""

    fixture: str
    stage: str
    split: str
    cases: list[CaseError]
    weighted_rmse_mv: float

    def as_dict(self) -> dict:
        return {
            "fixture": self.fixture,
            "stage": self.stage,
            "split": self.split,
            "weighted_rmse_mv": self.weighted_rmse_mv,
            "cases": [vars(c) for c in self.cases],
        }

    def format(self) -> str:
        lines = [
            f"{self.stage} vs SPICE {self.fixture} ({self.split} split, {len(self.cases)} cases): "
            f"weighted RMSE {self.weighted_rmse_mv:.3f} mV"
        ]
        lines += [
            f"  {c.case_id}: RMSE {c.rmse_mv:.3f} mV (SPICE output {c.spice_rms_mv:.1f} mV rms, "
            f"max |error| {c.max_abs_error_mv:.3f} mV)"
            for c in self.cases
        ]
        return "\n".join(lines)


def compare_with_runtime(
    dataset_dir: str | Path, fixture: str, split: str = "test"
) -> RuntimeComparison:
    """Compare the runtime stage of ``fixture`` with the dataset written into
    ``dataset_dir`` by ``build_dataset`` (see the module docstring)."""
    from harness.runtime import Stage

    directory = Path(dataset_dir)
    cell = load_cell(fixture)
    if cell.runtime is None:
        raise LabError(f"{cell.name}: the cell spec names no runtime stage ('runtime' block)")
    manifest = DatasetManifest.from_json(directory / f"{cell.name}.dataset.json")
    if manifest.fixture["spec_sha256"] != cell.spec_sha256:
        raise LabError(
            f"{directory}: the dataset was made from a different {cell.name} spec "
            f"(sha256 {manifest.fixture['spec_sha256'][:12]} != {cell.spec_sha256[:12]}); "
            "rebuild it"
        )
    cases = [c for c in unpack(read_npz(directory / manifest.package["file"])) if c.split == split]
    if not cases:
        raise LabError(f"{directory}: no simulated cases in split {split!r}")
    errors, total_sq, total_n = [], 0.0, 0
    for c in cases:
        stage = Stage(
            cell.runtime.stage,
            sample_rate=manifest.sample_rate,
            **{name: c.params[name] for name in cell.runtime.params},
        )
        err = stage.process(np.asarray(c.x, dtype=np.float64)) - c.y
        sq = float(np.sum(err**2))
        total_sq += sq
        total_n += err.size
        errors.append(
            CaseError(
                c.case_id,
                int(err.size),
                1e3 * math.sqrt(sq / err.size),
                1e3 * float(np.sqrt(np.mean((c.y - np.mean(c.y)) ** 2))),
                1e3 * float(np.max(np.abs(err))),
            )
        )
    return RuntimeComparison(
        cell.name, cell.runtime.stage, split, errors, 1e3 * math.sqrt(total_sq / total_n)
    )
