"""SPICE goldens: small committed subsets of each cell's corpus, and the drift check.

``write_goldens`` (``greybound-lab spice-golden``) simulates each cell's golden cases — the
``smoke`` plan (a 1 kHz level-stepped sine at −20/−6/0 dBFS and a 50 Hz–15 kHz sweep) plus,
for cells with several ``drive_db``, the stepped sine at the highest drive — and writes
``golden/spice/<cell>/arrays.npz`` (``x``, ``y`` as float32 volts, ``offsets``, ``case_id``,
``sample_rate``: about 100 kB a cell) and ``golden/spice/<cell>/manifest.json`` (the command,
versions, cell hashes and, per case, the stimulus, parameter-set and netlist sha256).

``check_golden`` re-simulates the cases and reports, per case, whether its inputs still hash
the same (stimulus, parameters, netlist: a change there is a *fixture* change, not solver
drift) and the output drift max|y_new − y_golden| / max|y_golden|. The allowed drift is
``DRIFT_TOLERANCE`` = 1e-4 relative to the golden's peak: the ``strict`` solver's own
relative tolerance (reltol = 1e-4), the accuracy ngspice promises for each timepoint — a
build that moves the answer by more than that has changed, not jittered. (Float32 storage
adds 6e-8 relative, far below it.)
"""

from __future__ import annotations

import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

import harness
from harness import datasets
from harness.errors import LabError
from harness.spice.cell import CellSpec, fixture_names, load_cell
from harness.spice.dataset import run_case
from harness.spice.ngspice import pyspice_version, session
from harness.spice.plan import Case, make_plan

GOLDEN_DIR = Path(__file__).resolve().parents[2] / "golden" / "spice"
DRIFT_TOLERANCE = 1e-4
SCHEMA = "greybound.spice-golden/1"


def golden_cases(cell: CellSpec) -> list[Case]:
    """The golden cases of a cell (see the module docstring)."""
    cases = make_plan(cell, "smoke")
    drives = cell.dataset.drive_db
    if len(drives) > 1:
        first = cases[0]
        cases.append(
            Case(
                f"c{len(cases):03d}-{first.stimulus.name}-nominal-drive{drives[-1]:+g}dB",
                first.stimulus,
                drives[-1],
                "nominal",
                (),
                first.split,
            )
        )
    return cases


def write_goldens(
    fixtures: list[str] | None = None, output_dir: str | Path = GOLDEN_DIR
) -> list[Path]:
    """Simulate and write the goldens of ``fixtures`` (default: every fixture); returns the
    manifest paths. The previous golden of a cell is replaced only after its new one is
    complete; a case that fails to converge is an error (a golden must be whole)."""
    written = []
    for name in fixtures or fixture_names():
        cell = load_cell(name)
        outcomes = [run_case(case, cell) for case in golden_cases(cell)]
        failed = [o.case.case_id for o in outcomes if not o.ok]
        if failed:
            raise LabError(f"{cell.name}: golden cases did not converge: {', '.join(failed)}")
        target = Path(output_dir) / cell.name
        staging = target.with_name(target.name + ".new")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        packed = [
            datasets.PackedCase(
                o.case.case_id, o.case.split, o.x, o.traces[cell.output][o.grid.kept()], {}, {}
            )
            for o in outcomes
        ]
        arrays = datasets.pack(packed, cell.simulation.sample_rate)
        arrays = {
            k: (v.astype(np.float32) if k in ("x", "y") else v)
            for k, v in arrays.items()
            if k not in ("param_names", "params", "split")
        }
        arrays_sha = datasets.write_npz(staging / "arrays.npz", arrays)
        manifest = {
            "schema": SCHEMA,
            "command": f"greybound-lab spice-golden --fixture {cell.name}",
            "fixture": {
                "name": cell.name,
                "spec_sha256": cell.spec_sha256,
                "template_sha256": cell.template_sha256,
            },
            "versions": {
                "ngspice": session().version,
                "pyspice": pyspice_version(),
                "greybound_lab": harness.__version__,
            },
            "sample_rate": cell.simulation.sample_rate,
            "output_probe": cell.output,
            "drift_tolerance": {
                "max_abs_error_relative_to_peak": DRIFT_TOLERANCE,
                "why": "the strict solver's reltol (1e-4)",
            },
            "arrays": {
                "file": "arrays.npz",
                "sha256": arrays_sha,
                "dtype": "float32",
                "units": "V",
            },
            "cases": [
                {
                    "id": o.case.case_id,
                    "stimulus": o.case.stimulus.as_dict(),
                    "drive_db": o.case.drive_db,
                    "stimulus_sha256": o.stimulus["sha256"],
                    "parameters_sha256": datasets.sha256_json(cell.resolve(dict(o.case.overrides))),
                    "netlist_sha256": datasets.sha256_bytes(o.netlist.encode()),
                    "solver": o.solver,
                    "n_samples": int(o.x.size),
                }
                for o in outcomes
            ],
        }
        (staging / "manifest.json").write_bytes(datasets.pretty_json(manifest))
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
        written.append(target / "manifest.json")
    return written


@dataclass
class GoldenDrift:
    """One golden case re-simulated: input hashes unchanged? output drift (relative)."""

    fixture: str
    case_id: str
    inputs_match: bool
    changed_inputs: list[str]
    drift: float
    tolerance: float

    @property
    def ok(self) -> bool:
        return self.inputs_match and self.drift <= self.tolerance

    def format(self) -> str:
        state = "ok" if self.ok else "DRIFT"
        inputs = (
            "inputs unchanged"
            if self.inputs_match
            else f"changed: {', '.join(self.changed_inputs)}"
        )
        return (
            f"{state} {self.fixture}/{self.case_id}: max|dy|/peak = {self.drift:.3g} "
            f"(tolerance {self.tolerance:g}); {inputs}"
        )


def check_golden(fixture: str, golden_dir: str | Path = GOLDEN_DIR) -> list[GoldenDrift]:
    """Re-simulate the golden cases of ``fixture`` and measure drift (module docstring)."""
    import json

    cell = load_cell(fixture)
    directory = Path(golden_dir) / cell.name
    try:
        manifest = json.loads((directory / "manifest.json").read_text())
    except (OSError, ValueError) as exc:
        raise LabError(
            f"{directory / 'manifest.json'}: no readable golden ({exc}); "
            f"make it with `greybound-lab spice-golden --fixture {cell.name}`"
        ) from None
    gold = {
        c.case_id: c
        for c in datasets.unpack(_with_split(datasets.read_npz(directory / "arrays.npz")))
    }
    recorded = {c["id"]: c for c in manifest["cases"]}
    out = []
    for case in golden_cases(cell):
        if case.case_id not in recorded:
            raise LabError(f"{directory}: golden has no case {case.case_id}; regenerate it")
        o = run_case(case, cell)
        rec = recorded[case.case_id]
        now = {
            "stimulus_sha256": o.stimulus["sha256"],
            "parameters_sha256": datasets.sha256_json(cell.resolve(dict(case.overrides))),
            "netlist_sha256": datasets.sha256_bytes(o.netlist.encode()),
        }
        changed = [k for k, v in now.items() if rec[k] != v]
        y_gold = gold[case.case_id].y.astype(np.float64)
        if not o.ok:
            drift = float("inf")
        else:
            y = o.traces[cell.output][o.grid.kept()]
            drift = (
                float(np.max(np.abs(y - y_gold)) / np.max(np.abs(y_gold)))
                if y.shape == y_gold.shape
                else float("inf")
            )
        out.append(
            GoldenDrift(
                cell.name,
                case.case_id,
                not changed,
                changed,
                drift,
                manifest["drift_tolerance"]["max_abs_error_relative_to_peak"],
            )
        )
    return out


def _with_split(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Golden arrays carry no splits or parameters; fill the fields ``unpack`` expects."""
    n = arrays["case_id"].size
    return {
        **arrays,
        "split": np.array(["test"] * n),
        "param_names": np.array([], dtype=str),
        "params": np.zeros((n, 0)),
    }


def drift_table(results: list[GoldenDrift]) -> list[dict]:
    return [asdict(r) | {"ok": r.ok} for r in results]
