"""Reference 12AX7 common-cathode stage: the runtime's ``triode_common_cathode`` circuit
written as one KCL equation per node (see ``rust/greybound-core/src/stages/triode.rs``),
and the textbook small-signal gain at its operating point."""

from __future__ import annotations

import math

import numpy as np

from harness.reference.devices import diode_current, koren_partials, koren_plate_current
from harness.reference.transient import Capacitor, NodalCircuit

DEFAULTS = dict(
    b_plus=250.0, r_plate=100e3, r_cathode=1.5e3, c_cathode=22e-6, r_grid_stopper=68e3,
    r_grid_leak=1e6, c_out=22e-9, load_impedance=1e6, source_impedance=1e3,
    c_grid_plate=2.4e-12, mu=100.0, ex=1.4, kg1=1060.0, kp=600.0, kvb=300.0, rgi=2000.0,
    diode_is=1e-9, diode_rs=1.0, diode_n=1.0,
)  # fmt: skip

#: DC starting guess for (IN, G, D, K, P, OUT) in volts.
GUESS = (0.0, 0.0, 0.0, 1.2, 170.0, 0.0)


def circuit(**params) -> NodalCircuit:
    """Nodes IN, G, D, K, P, OUT; capacitors CGP (G–P), Ck (K–gnd), Co (P–OUT)."""
    p = {**DEFAULTS, **params}
    koren = {k: p[k] for k in ("mu", "ex", "kg1", "kp", "kvb")}
    r_gi = p["rgi"] + p["diode_rs"]

    def kcl(v, u, cap):
        ig = diode_current(v["D"] - v["K"], p["diode_is"], p["diode_n"])
        ip = koren_plate_current(v["G"] - v["K"], v["P"] - v["K"], **koren)
        i_cgp = cap(0, v["G"] - v["P"])
        i_ck = cap(1, v["K"])
        i_co = cap(2, v["P"] - v["OUT"])
        return [
            (u - v["IN"]) / p["source_impedance"] - v["IN"] / p["r_grid_leak"]
            - (v["IN"] - v["G"]) / p["r_grid_stopper"],
            (v["IN"] - v["G"]) / p["r_grid_stopper"] - (v["G"] - v["D"]) / r_gi - i_cgp,
            (v["G"] - v["D"]) / r_gi - ig,
            ig + ip - v["K"] / p["r_cathode"] - i_ck,
            (p["b_plus"] - v["P"]) / p["r_plate"] + i_cgp - ip - i_co,
            i_co - v["OUT"] / p["load_impedance"],
        ]  # fmt: skip

    caps = [
        Capacitor("G", "P", p["c_grid_plate"]),
        Capacitor("K", None, p["c_cathode"]),
        Capacitor("P", "OUT", p["c_out"]),
    ]
    return NodalCircuit(("IN", "G", "D", "K", "P", "OUT"), caps, kcl, "OUT")


def simulate(x: np.ndarray, sample_rate: float, **params) -> np.ndarray:
    """Output volts for input volts ``x`` at ``sample_rate`` Hz, starting from DC rest."""
    return circuit(**params).simulate(x, sample_rate, GUESS)


def operating_point(**params) -> dict[str, float]:
    """DC node voltages (V) and plate current (A) of the stage at rest."""
    p = {**DEFAULTS, **params}
    names = ("IN", "G", "D", "K", "P", "OUT")
    v = dict(zip(names, map(float, circuit(**params).dc(GUESS)), strict=True))
    koren = {k: p[k] for k in ("mu", "ex", "kg1", "kp", "kvb")}
    v["Ip"] = koren_plate_current(v["G"] - v["K"], v["P"] - v["K"], **koren)
    return v


def textbook_gain_db(frequency_hz: float = 1000.0, **params) -> float:
    """Small-signal voltage gain (dB) of the common-cathode stage at its operating point.

    The textbook formula A = μ·Z_L / (Z_L + r_p + (μ + 1)·Z_k), with g_m and r_p from the
    Koren partials at the operating point (μ = g_m·r_p), Z_L = R_a ∥ (1/(jωC_o) + R_load)
    and Z_k = R_k ∥ 1/(jωC_k). The grid network and Miller capacitance are neglected (at
    1 kHz the Miller pole, ≈ 15 kHz, costs < 0.02 dB); the input divider Rgl/(Rs + Rgl) is
    applied, as is the Co–R_load divider to the output node.
    """
    p = {**DEFAULTS, **params}
    op = operating_point(**params)
    koren = {k: p[k] for k in ("mu", "ex", "kg1", "kp", "kvb")}
    gm, gp = koren_partials(op["G"] - op["K"], op["P"] - op["K"], **koren)
    rp = 1.0 / gp
    mu = gm * rp
    w = 2 * math.pi * frequency_hz
    z_co = 1 / (1j * w * p["c_out"]) if p["c_out"] > 0 else 0.0
    z_branch = z_co + p["load_impedance"]
    z_load = p["r_plate"] * z_branch / (p["r_plate"] + z_branch)
    z_k = p["r_cathode"]
    if p["c_cathode"] > 0:
        z_c = 1 / (1j * w * p["c_cathode"])
        z_k = p["r_cathode"] * z_c / (p["r_cathode"] + z_c)
    a_plate = -mu * z_load / (z_load + rp + (mu + 1) * z_k)
    a_out = a_plate * p["load_impedance"] / z_branch
    a_in = p["r_grid_leak"] / (p["source_impedance"] + p["r_grid_leak"])
    return 20 * math.log10(abs(a_out * a_in))
