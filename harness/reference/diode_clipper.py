"""Reference diode clipper (Yeh): one KCL equation at the clipping node,
(u − V)/(Rs + R) = C·dV/dt + 2·IS·sinh(V/(N·Vt)) + V/R_load."""

from __future__ import annotations

import math

import numpy as np

from harness.reference.devices import diode_current
from harness.reference.transient import Capacitor, NodalCircuit

DEFAULTS = dict(
    r_series=2.2e3, c_shunt=10e-9, diode_is=2.52e-9, diode_n=1.752, source_impedance=0.0,
    load_impedance=1e6,
)  # fmt: skip


def circuit(**params) -> NodalCircuit:
    p = {**DEFAULTS, **params}
    r = p["source_impedance"] + p["r_series"]

    def kcl(v, u, cap):
        x = v["X"]
        diodes = diode_current(x, p["diode_is"], p["diode_n"]) - diode_current(
            -x, p["diode_is"], p["diode_n"]
        )
        load = 0.0 if math.isinf(p["load_impedance"]) else x / p["load_impedance"]
        return [(u - x) / r - cap(0, x) - diodes - load]

    return NodalCircuit(("X",), [Capacitor("X", None, p["c_shunt"])], kcl, "X")


def simulate(x: np.ndarray, sample_rate: float, **params) -> np.ndarray:
    """Output volts for input volts ``x`` at ``sample_rate`` Hz, from rest (0 V)."""
    return circuit(**params).simulate(x, sample_rate, (0.0,))
