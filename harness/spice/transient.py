"""Audio-rate transients of a cell: stimulus in, probe traces on the fs grid out.

Initial conditions: ``.tran`` runs without ``uic``, so ngspice first solves the operating
point with the stimulus at 0 V — the DC operating point of a ``dc`` cell; for a
``periodic`` cell the ``.ic`` node voltages from its warm-up
(``operating_point.initial_conditions``) are held during that solve. Then the ``settle_s``
zero-input pre-roll runs and is discarded (see ``audio_rate``).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass

import numpy as np

from harness.errors import LabError
from harness.spice import audio_rate, netlist
from harness.spice.cell import CellSpec
from harness.spice.ngspice import Attempt, session, solver_options


@dataclass
class Simulation:
    """One transient. ``traces``: probe -> V on the fs grid, the whole padded run
    (pre-roll, stimulus, post-roll; ``grid.kept()`` selects the stimulus part)."""

    grid: audio_rate.Grid
    traces: dict[str, np.ndarray]
    netlist: str
    solver: str
    attempts: list[Attempt]
    initial_conditions: dict[str, float]

    def output(self, probe: str) -> np.ndarray:
        """The stimulus part of probe ``probe`` (V)."""
        return self.traces[probe][self.grid.kept()]


def deck_body(
    cell: CellSpec, params: dict[str, float], sources: list[str], ics: dict[str, float]
) -> str:
    """The rendered template with a stimulus source and ``.ic`` lines (no analysis)."""
    return netlist.deck_body(
        f"{cell.name}: {cell.title}", netlist.render(cell.template, params), sources, ics
    )


def grid_for(cell: CellSpec, n_signal: int) -> audio_rate.Grid:
    """The sample layout of a transient of ``n_signal`` stimulus samples."""
    sim = cell.simulation
    return audio_rate.Grid(
        sim.sample_rate, sim.oversample, round(sim.settle_s * sim.sample_rate), n_signal
    )


def _saves(cell: CellSpec) -> dict[str, str]:
    """``.save`` expression -> vector name, for every probe."""
    return dict(sorted(netlist.probe_vector(p) for p in set(cell.probes.values())))


def _analysis(grid: audio_rate.Grid) -> str:
    return f".tran {grid.max_step!r} {grid.stop_time!r} 0 {grid.max_step!r}"


def stored_deck(
    cell: CellSpec,
    params: dict[str, float],
    ics: dict[str, float],
    grid: audio_rate.Grid,
    solver: str,
) -> str:
    """The complete netlist of a transient as it is stored with a dataset: runnable by
    ngspice next to a ``stimulus.txt`` holding the oversampled stimulus (two columns,
    seconds and volts, as ``audio_rate.filesource_text`` writes it)."""
    body = deck_body(cell, params, netlist.filesource_lines(netlist.STIMULUS_FILE_NAME), ics)
    return "\n".join(
        [
            body,
            f"* --- harness: solver options ({solver}), saves, analysis ---",
            solver_options(solver).line(),
            ".save " + " ".join(_saves(cell)),
            _analysis(grid),
            ".end",
            "",
        ]
    )


def simulate(
    cell: CellSpec, params: dict[str, float], x: np.ndarray, ics: dict[str, float]
) -> Simulation:
    """Run the cell on stimulus ``x`` (V at node ``drive``, on the cell's fs grid).

    ``ics``: ``.ic`` node voltages (V), ``operating_point.initial_conditions(cell, params)``
    (empty for a ``dc`` cell). Raises ``ngspice.SimulationFailed`` when no solver option set
    completes."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1 or x.size == 0 or not np.all(np.isfinite(x)):
        raise LabError(f"{cell.name}: the stimulus must be a non-empty finite 1-D array")
    grid = grid_for(cell, x.size)
    u = audio_rate.upsample(audio_rate.padded(x, grid), grid.oversample)
    saves = _saves(cell)
    fd, path = tempfile.mkstemp(prefix="greybound-stim-", suffix=".txt")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(audio_rate.filesource_text(u, grid.rate_os))
        body = deck_body(cell, params, netlist.filesource_lines(path), ics)
        result = session().run(body, _analysis(grid), list(saves), stop_time=grid.stop_time)
    finally:
        os.unlink(path)
    v = result.vectors
    by_save = {
        save: audio_rate.decimate(audio_rate.on_grid(v["time"], v[name], grid), grid.oversample)
        for save, name in saves.items()
    }
    traces = {name: by_save[netlist.probe_vector(p)[0]] for name, p in cell.probes.items()}
    return Simulation(
        grid,
        traces,
        stored_deck(cell, params, ics, grid, result.solver),
        result.solver,
        result.attempts,
        dict(ics),
    )
