"""Operating points, initial conditions and the settled small-signal measurement of a cell.

* ``dc`` cells: ngspice ``.op`` with the drive node at 0 V: every top-level node voltage (V;
  subcircuit-internal nodes are left out), the spec's ``currents`` (A) and ``dissipation``
  (W = (V(a) − V(b))·I).
* ``periodic`` (mains-driven) cells: an idle warm-up transient of ``warmup_s`` (max step
  ``warmup_max_step_s``); node voltages and currents are means over the last
  ``average_periods`` mains periods (trapezoidal time average), ripple is peak-to-peak over
  the same window, and the ``ic_nodes`` at the warm-up's last point (a whole number of mains
  periods, so the mains phase matches t = 0 of the next run) are the initial conditions.
* Small signal: a ``level_v`` sine at ``frequency_hz`` on node ``drive`` for ``duration_s``
  (after the ``settle_s`` pre-roll); gain and phase of the output probe's fundamental
  relative to the drive's, from a single-bin DFT over the last ``window_periods`` whole
  periods (the DFT over whole periods rejects DC and every other harmonic exactly).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from harness.errors import LabError
from harness.spice import netlist
from harness.spice.cell import CellSpec
from harness.spice.ngspice import session
from harness.spice.transient import deck_body, simulate


@dataclass
class OperatingPoint:
    """Node voltages (V), currents (A) and dissipation (W) at rest. For a periodic cell they
    are means over whole mains periods, ``ripple_pp`` holds peak-to-peak node ripple (V) and
    ``ic`` the initial conditions for transients (node -> V)."""

    method: str
    nodes: dict[str, float]
    currents: dict[str, float]
    dissipation: dict[str, float]
    solver: str
    ripple_pp: dict[str, float] = field(default_factory=dict)
    ic: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "method": self.method,
            "nodes": self.nodes,
            "currents": self.currents,
            "dissipation": self.dissipation,
            "ripple_pp": self.ripple_pp,
            "initial_conditions": self.ic,
            "solver": self.solver,
        }


@dataclass
class SmallSignal:
    """Gain (dB) and phase (degrees, output re drive, in (−180, 180]) at ``frequency_hz``
    for a ``level_v`` peak drive; ``output_peak_v`` is the fundamental's peak at the output."""

    frequency_hz: float
    level_v: float
    gain_db: float
    phase_deg: float
    output_peak_v: float
    solver: str
    note: str = ""

    def as_dict(self) -> dict:
        return {
            "frequency_hz": self.frequency_hz,
            "level_v": self.level_v,
            "gain_db": self.gain_db,
            "phase_deg": self.phase_deg,
            "output_peak_v": self.output_peak_v,
            "solver": self.solver,
            "note": self.note,
        }


def operating_point(cell: CellSpec, params: dict[str, float]) -> OperatingPoint:
    """The cell's operating point with the input at 0 V (see the module docstring)."""
    if cell.operating_point.method == "periodic":
        return _periodic(cell, params)
    body = deck_body(cell, params, [netlist.dc_source_line()], {})
    result = session().run(body, ".op", ["all"])
    v = result.vectors
    nodes = {k: float(a[0]) for k, a in sorted(v.items()) if "#" not in k and "." not in k}
    currents = {name: float(v[f"{src.lower()}#branch"][0]) for name, src in cell.currents.items()}
    return OperatingPoint("dc", nodes, currents, _dissipation(cell, nodes, currents), result.solver)


def initial_conditions(cell: CellSpec, params: dict[str, float]) -> dict[str, float]:
    """``.ic`` node voltages (V) for ``transient.simulate``: none for a ``dc`` cell (ngspice
    starts from the DC operating point), the warm-up's final values for a periodic one."""
    if cell.operating_point.method == "periodic":
        return _periodic(cell, params).ic
    return {}


def _dissipation(cell: CellSpec, nodes: dict[str, float], currents: dict[str, float]) -> dict:
    def volts(node: str) -> float:
        return 0.0 if node == "0" else nodes[node]

    return {
        name: (volts(d.nodes[0]) - volts(d.nodes[1])) * currents[d.current]
        for name, d in cell.dissipation.items()
    }


def _periodic(cell: CellSpec, params: dict[str, float]) -> OperatingPoint:
    spec = cell.operating_point
    body = deck_body(cell, params, [netlist.dc_source_line()], {})
    analysis = f".tran {spec.warmup_max_step_s!r} {spec.warmup_s!r} 0 {spec.warmup_max_step_s!r}"
    node_names = sorted(
        {
            *(p for p in cell.probes.values() if not p.startswith("i(")),
            *spec.ic_nodes,
            *(n for d in cell.dissipation.values() for n in d.nodes if n != "0"),
        }
    )
    saves = [f"v({n})" for n in node_names] + [f"i({s})" for s in sorted(cell.currents.values())]
    result = session().run(body, analysis, saves, stop_time=spec.warmup_s)
    v = result.vectors
    t = v["time"]
    window = t >= spec.warmup_s - spec.average_periods * spec.period_s - 1e-12
    tw = t[window]

    def mean(a: np.ndarray) -> float:
        return float(np.trapezoid(a[window], tw) / (tw[-1] - tw[0]))

    nodes = {n: mean(v[n]) for n in node_names}
    ripple = {n: float(np.ptp(v[n][window])) for n in node_names}
    currents = {name: mean(v[f"{src.lower()}#branch"]) for name, src in cell.currents.items()}
    ics = {n: float(v[n][-1]) for n in spec.ic_nodes}
    return OperatingPoint(
        "periodic", nodes, currents, _dissipation(cell, nodes, currents), result.solver, ripple, ics
    )


def small_signal(cell: CellSpec, params: dict[str, float], ics: dict[str, float]) -> SmallSignal:
    """The settled small-signal gain and phase of the cell (see the module docstring)."""
    ss = cell.small_signal
    fs = cell.simulation.sample_rate
    period = fs / ss.frequency_hz
    if abs(period - round(period)) > 1e-9:
        raise LabError(
            f"{cell.name}: small_signal.frequency_hz {ss.frequency_hz} does not divide "
            f"the sample rate {fs} (a whole number of samples per period is needed)"
        )
    n = round(ss.duration_s * fs)
    n_window = round(period) * ss.window_periods
    if n_window > n:
        raise LabError(
            f"{cell.name}: small_signal window of {ss.window_periods} periods is longer "
            f"than duration_s {ss.duration_s}"
        )
    t = np.arange(n) / fs
    x = ss.level_v * np.sin(2 * math.pi * ss.frequency_hz * t)
    sim = simulate(cell, params, x, ics)
    y = sim.output(cell.output)
    probe = np.exp(-2j * math.pi * ss.frequency_hz * t[-n_window:])
    gx = np.dot(x[-n_window:], probe)
    gy = np.dot(y[-n_window:], probe)
    ratio = gy / gx
    phase = math.degrees(np.angle(ratio))
    return SmallSignal(
        ss.frequency_hz,
        ss.level_v,
        20 * math.log10(abs(ratio)),
        180.0 if phase == -180.0 else phase,
        float(2 * abs(gy) / n_window),
        sim.solver,
        ss.note,
    )
