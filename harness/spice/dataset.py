"""``greybound-lab spice-dataset``: simulate a cell's multi-stimulus corpus and package it.

``build_dataset`` plans the cases (``plan.make_plan``), runs them — in this process
(``jobs=1``), on a local process pool (``jobs>1``, spawned workers, tqdm progress bar) or on
a Dask distributed cluster (``scheduler=ADDRESS``) — and writes into ``output_dir``:

* ``netlists/<case>.cir`` — every generated netlist (runnable next to a ``stimulus.txt``);
* ``raw/<case>.npz`` — every probe on the fs grid for the whole run, settle pre-roll and
  post-roll included (``x`` is the padded input; ``n_settle``/``n_post`` in samples);
* ``<fixture>.npz`` — the package (``harness.datasets.pack``): inputs, outputs and probes
  with the pre-/post-roll removed, case ids, splits, parameter values;
* ``<fixture>.dataset.json`` — the manifest (``harness.datasets.DatasetManifest``);
* ``<fixture>.report.md`` + ``plots/`` — the human report (``spice.report``);
* ``<fixture>.run-info.json`` — the only file with run-dependent content (timestamps, host,
  workers, wall time); it is not hashed and not referenced by hash.

The package, manifest, netlists and raw traces are byte-identical on a re-run, whatever the
worker count or scheduler. A case that fails with every solver option set is kept in the
manifest (``status: failed``, its attempts and message), named in ``failed_cases`` and in
the report, and left out of the package's arrays.
"""

from __future__ import annotations

import datetime as _dt
import multiprocessing
import platform
import socket
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import harness
from harness import datasets
from harness.errors import LabError
from harness.spice import audio_rate
from harness.spice.cell import CellSpec, load_cell
from harness.spice.ngspice import SOLVER_LADDER, SimulationFailed, pyspice_version, session
from harness.spice.operating_point import initial_conditions
from harness.spice.plan import SIZES, Case, make_plan
from harness.spice.transient import grid_for, simulate, stored_deck

SCHEMA = "greybound.spice-dataset/1"


@dataclass
class CaseOutcome:
    """What a worker sends back for one case. ``traces`` are whole-run fs-grid traces (V or
    A) per probe; ``x`` is the unpadded input (V)."""

    case: Case
    ok: bool
    x: np.ndarray
    stimulus: dict
    netlist: str
    grid: audio_rate.Grid
    traces: dict[str, np.ndarray] = field(default_factory=dict)
    solver: str = ""
    attempts: list[dict] = field(default_factory=list)
    initial_conditions: dict[str, float] = field(default_factory=dict)
    failure: str = ""


def run_case(case: Case, cell: CellSpec) -> CaseOutcome:
    """Simulate one case (runs in a worker). A non-converging case comes back with
    ``ok=False``, its solver attempts and the failure message."""
    stim = case.stimulus.build(cell.simulation.sample_rate)
    x = np.asarray(stim.signal, dtype=np.float64) * 10.0 ** (case.drive_db / 20.0)
    record = {
        **case.stimulus.as_dict(),
        "stimulus_name": stim.name,
        "sha256": datasets.sha256_array(stim.signal),
        "input_sha256": datasets.sha256_array(x),
        "n_samples": int(x.size),
        "segments": stim.segments,
        "meta": stim.meta,
    }
    params = cell.resolve(dict(case.overrides))
    grid = grid_for(cell, x.size)
    ics: dict[str, float] = {}
    try:
        ics = initial_conditions(cell, params)
        sim = simulate(cell, params, x, ics)
    except SimulationFailed as exc:
        return CaseOutcome(
            case,
            False,
            x,
            record,
            stored_deck(cell, params, ics, grid, SOLVER_LADDER[0].name),
            grid,
            attempts=[a.as_dict() for a in exc.attempts],
            initial_conditions=ics,
            failure=str(exc),
        )
    return CaseOutcome(
        case,
        True,
        x,
        record,
        sim.netlist,
        grid,
        sim.traces,
        sim.solver,
        [a.as_dict() for a in sim.attempts],
        ics,
    )


@dataclass
class DatasetResult:
    """Paths written by ``build_dataset`` and what happened."""

    output_dir: Path
    package: Path
    manifest: Path
    report: Path
    run_info: Path
    n_cases: int
    failed_cases: list[str]


def build_dataset(
    fixture: str,
    output_dir: str | Path,
    jobs: int | None = None,
    scheduler: str | None = None,
    size: str = "default",
    progress: bool = True,
) -> DatasetResult:
    """Simulate and package the ``size`` plan of ``fixture`` into ``output_dir`` (see the
    module docstring). ``jobs``: local worker processes (default: CPU count; 1 = in this
    process); ``scheduler``: address of a Dask distributed scheduler (overrides ``jobs``)."""
    if size not in SIZES:
        raise LabError(f"unknown dataset size {size!r}; choose one of {', '.join(SIZES)}")
    cell = load_cell(fixture)
    cases = make_plan(cell, size)
    jobs = max(1, int(jobs or multiprocessing.cpu_count()))
    started = time.time()
    start_stamp = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    outcomes = _execute(cell, cases, jobs, scheduler, progress)
    out = Path(output_dir)
    result = _write(cell, size, outcomes, out)
    run_info = {
        "note": "run-dependent facts; not part of the reproducible outputs",
        "started_utc": start_stamp,
        "finished_utc": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "wall_s": round(time.time() - started, 3),
        "jobs": jobs if scheduler is None else None,
        "scheduler": scheduler,
        "host": socket.gethostname(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "output_dir": str(out.resolve()),
    }
    result.run_info.write_bytes(datasets.pretty_json(run_info))
    return result


def _execute(
    cell: CellSpec, cases: list[Case], jobs: int, scheduler: str | None, progress: bool
) -> list[CaseOutcome]:
    from tqdm import tqdm

    bar = tqdm(total=len(cases), desc=f"spice {cell.name}", unit="case", disable=not progress)
    done: dict[str, CaseOutcome] = {}
    try:
        if scheduler is not None:
            from distributed import Client
            from distributed import as_completed as dask_completed

            with Client(scheduler) as client:
                futures = client.map(
                    run_case,
                    cases,
                    cell=cell,
                    pure=False,
                    key=[f"spice-{cell.name}-{c.case_id}" for c in cases],
                )
                for future in dask_completed(futures):
                    outcome = future.result()
                    done[outcome.case.case_id] = outcome
                    bar.update()
        elif jobs == 1:
            for case in cases:
                done[case.case_id] = run_case(case, cell)
                bar.update()
        else:
            context = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
                futures = [pool.submit(run_case, case, cell) for case in cases]
                for future in as_completed(futures):
                    outcome = future.result()
                    done[outcome.case.case_id] = outcome
                    bar.update()
    finally:
        bar.close()
    return [done[c.case_id] for c in cases]


def _clean(directory: Path, pattern: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob(pattern):
        stale.unlink()


def _write(cell: CellSpec, size: str, outcomes: list[CaseOutcome], out: Path) -> DatasetResult:
    from harness.spice.report import write_report

    out.mkdir(parents=True, exist_ok=True)
    _clean(out / "netlists", "*.cir")
    _clean(out / "raw", "*.npz")
    records, packed = [], []
    for o in outcomes:
        c = o.case
        params = cell.resolve(dict(c.overrides))
        net_file = f"netlists/{c.case_id}.cir"
        (out / net_file).write_text(o.netlist)
        record = datasets.CaseRecord(
            id=c.case_id,
            split=c.split,
            status="ok" if o.ok else "failed",
            variant=c.variant,
            stimulus=o.stimulus,
            drive_db=c.drive_db,
            parameters=params,
            parameters_sha256=datasets.sha256_json(params),
            netlist_file=net_file,
            netlist_sha256=datasets.sha256_bytes(o.netlist.encode()),
            solver=o.solver,
            attempts=o.attempts,
            initial_conditions=o.initial_conditions,
            n_samples=int(o.x.size),
            failure=o.failure,
        )
        if o.ok:
            raw_file = f"raw/{c.case_id}.npz"
            raw = {
                "x": audio_rate.padded(o.x, o.grid),
                **{f"probe.{k}": v for k, v in sorted(o.traces.items())},
                "n_settle": np.array(o.grid.n_settle),
                "n_post": np.array(o.grid.n_post),
                "sample_rate": np.array(o.grid.sample_rate),
            }
            record.raw_file = raw_file
            record.raw_sha256 = datasets.write_npz(out / raw_file, raw)
            kept = o.grid.kept()
            packed.append(
                datasets.PackedCase(
                    c.case_id,
                    c.split,
                    o.x,
                    o.traces[cell.output][kept],
                    {k: v[kept] for k, v in sorted(o.traces.items()) if k != cell.output},
                    params,
                )
            )
        records.append(record)
    if not packed:
        raise LabError(
            f"{cell.name}: every case failed to simulate; first failure: {outcomes[0].failure}"
        )
    package = out / f"{cell.name}.npz"
    package_sha = datasets.write_npz(package, datasets.pack(packed, cell.simulation.sample_rate))
    failed = [r.id for r in records if r.status == "failed"]
    report_file = f"{cell.name}.report.md"
    run_info_file = f"{cell.name}.run-info.json"
    counts = {
        s: sum(1 for r in records if r.split == s and r.status == "ok") for s in datasets.SPLITS
    }
    manifest = datasets.DatasetManifest(
        schema=SCHEMA,
        fixture={
            "name": cell.name,
            "title": cell.title,
            "spec_sha256": cell.spec_sha256,
            "template_sha256": cell.template_sha256,
            "boundary": cell.boundary,
        },
        command=f"greybound-lab spice-dataset --fixture {cell.name} --size {size}",
        size=size,
        versions={
            "ngspice": session().version,
            "pyspice": pyspice_version(),
            "greybound_lab": harness.__version__,
            "numpy": np.__version__,
            "scipy": _scipy_version(),
            "python": sys.version.split()[0],
        },
        sample_rate=cell.simulation.sample_rate,
        settle_s=cell.simulation.settle_s,
        settle_samples=outcomes[0].grid.n_settle,
        post_roll_samples=outcomes[0].grid.n_post,
        initial_conditions=_initial_conditions_text(cell),
        anti_aliasing=audio_rate.strategy(cell.simulation.oversample),
        solver_ladder=[s.as_dict() for s in SOLVER_LADDER],
        output_probe=cell.output,
        probes=cell.probes,
        splits={
            "seed": cell.dataset.seed,
            "validation_fraction": cell.dataset.validation,
            "test_fraction": cell.dataset.test,
            "unit": "whole cases",
            "counts": counts,
        },
        package={
            "file": package.name,
            "sha256": package_sha,
            "arrays": "x, y (V), probe.<name>, offsets, case_id, split, param_names, params, "
            "sample_rate; see harness.datasets",
        },
        cases=records,
        failed_cases=failed,
        report_file=report_file,
        run_info_file=run_info_file,
    )
    manifest_path = out / f"{cell.name}.dataset.json"
    manifest_path.write_bytes(manifest.to_json())
    report = write_report(cell, manifest, outcomes, out / report_file)
    return DatasetResult(
        out, package, manifest_path, report, out / run_info_file, len(records), failed
    )


def _initial_conditions_text(cell: CellSpec) -> str:
    if cell.operating_point.method == "periodic":
        op = cell.operating_point
        return (
            f"periodic steady state: idle warm-up transient of {op.warmup_s} s (max step "
            f"{op.warmup_max_step_s} s, drive at 0 V); its final values of "
            f"{', '.join(op.ic_nodes)} (a whole number of {op.period_s} s mains periods) are "
            "set by .ic and held while ngspice solves the t = 0 operating point; then the "
            f"{cell.simulation.settle_s} s zero-input pre-roll, discarded"
        )
    return (
        "DC operating point: .tran without uic, ngspice solves the operating point with the "
        f"stimulus at 0 V; then the {cell.simulation.settle_s} s zero-input pre-roll, discarded"
    )


def _scipy_version() -> str:
    import scipy

    return scipy.__version__
