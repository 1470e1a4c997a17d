"""``greybound-lab spice-run``: a cell's operating point and settled small-signal response."""

from __future__ import annotations

from harness.spice.cell import CellSpec, load_cell
from harness.spice.ngspice import pyspice_version, session
from harness.spice.operating_point import operating_point, small_signal


def run(fixture: str, overrides: dict[str, float] | None = None) -> dict:
    """Operating point and 1 kHz-style small-signal transient of ``fixture`` (a name under
    ``fixtures/spice/`` or a fixture directory), with parameter ``overrides`` (SI units).

    Returns a JSON-safe dict: ``operating_point`` (node -> V), ``currents`` (A),
    ``dissipation`` (W), ``ripple_pp`` (V, periodic cells), ``expected_region`` (node ->
    {value, range, ok}), ``small_signal_gain_db``, ``small_signal_phase_deg`` and the
    ``small_signal`` record, ``parameters`` and the tool versions."""
    cell = load_cell(fixture)
    params = cell.resolve(overrides)
    op = operating_point(cell, params)
    ss = small_signal(cell, params, op.ic)
    return {
        "fixture": cell.name,
        "title": cell.title,
        "operating_point_method": op.method,
        "operating_point": op.nodes,
        "currents": op.currents,
        "dissipation": op.dissipation,
        "ripple_pp": op.ripple_pp,
        "initial_conditions": op.ic,
        "expected_region": _region(cell, op.nodes),
        "small_signal_gain_db": ss.gain_db,
        "small_signal_phase_deg": ss.phase_deg,
        "small_signal": ss.as_dict(),
        "solver": {"operating_point": op.solver, "small_signal": ss.solver},
        "parameters": params,
        "versions": {"ngspice": session().version, "pyspice": pyspice_version()},
    }


def _region(cell: CellSpec, nodes: dict[str, float]) -> dict:
    out = {}
    for node, (lo, hi) in cell.operating_point.expected.items():
        value = nodes.get(node)
        out[node] = {
            "value": value,
            "range": [lo, hi],
            "ok": value is not None and lo <= value <= hi,
        }
    return out


def format_run(result: dict) -> str:
    """A human-readable summary of ``run``'s result."""
    lines = [
        f"{result['fixture']}: {result['title']}",
        f"operating point ({result['operating_point_method']}):",
    ]
    for node, volts in result["operating_point"].items():
        ripple = result["ripple_pp"].get(node)
        extra = f"   ripple {ripple:.4g} V p-p" if ripple is not None else ""
        lines.append(f"  V({node}) = {volts:.6g} V{extra}")
    for name, amps in result["currents"].items():
        lines.append(f"  I({name}) = {amps * 1e3:.6g} mA")
    for name, watts in result["dissipation"].items():
        lines.append(f"  P({name}) = {watts * 1e3:.6g} mW")
    for node, check in result["expected_region"].items():
        lo, hi = check["range"]
        lines.append(
            f"  expected V({node}) in [{lo:g}, {hi:g}] V: {'ok' if check['ok'] else 'OUTSIDE'}"
        )
    ss = result["small_signal"]
    lines.append(
        f"small signal: {ss['level_v'] * 1e3:g} mV peak at {ss['frequency_hz']:g} Hz -> "
        f"gain {ss['gain_db']:.3f} dB, phase {ss['phase_deg']:.2f} deg"
    )
    if ss["note"]:
        lines.append(f"  note: {ss['note']}")
    lines.append(f"{result['versions']['ngspice']}, {result['versions']['pyspice']}")
    return "\n".join(lines)
