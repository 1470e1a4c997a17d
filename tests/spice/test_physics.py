"""The SPICE cells against independent physics: each test states where its tolerance comes from.

Every test here runs ngspice (marker ``spice``)."""

import dataclasses
import math

import numpy as np
import pytest
from scipy import optimize

from harness import stimuli
from harness.spice.cell import SimulationSpec, fixture_names, load_cell
from harness.spice.operating_point import initial_conditions, operating_point, small_signal
from harness.spice.transient import simulate

pytestmark = pytest.mark.spice

#: Thermal voltage at ngspice's default 27 °C (CODATA k and q), V.
VT_27C = 1.380649e-23 * 300.15 / 1.602176634e-19


# ---------------------------------------------------------------------------------------
# common-cathode-12ax7: operating point and small-signal gain from an independent solve
# ---------------------------------------------------------------------------------------


def koren_ip(vpk, vgk, p):
    """Koren's plate current (A), written from the paper's formula, not from the netlist."""
    e1 = (
        vpk
        / p["kp"]
        * np.logaddexp(0.0, p["kp"] * (1.0 / p["mu"] + vgk / np.sqrt(p["kvb"] + vpk**2)))
    )
    return np.where(e1 > 0, 2.0 * np.abs(e1) ** p["ex"] / p["kg1"], 0.0)


def dc_solve(p):
    """Nodal DC solve (scipy) of the stage: grid, cathode, plate and grid-diode nodes."""
    r_in = p["r_grid_stopper"] + p["source_impedance"] * p["r_grid_leak"] / (
        p["source_impedance"] + p["r_grid_leak"]
    )

    def residual(u):
        vg, vk, vp, vd = u
        i_diode = p["diode_is"] * (math.exp((vd - vk) / (p["diode_n"] * VT_27C)) - 1.0)
        i_grid = (vg - vd) / (p["rgi"] + p["diode_rs"])
        ip = float(koren_ip(vp - vk, vg - vk, p))
        return [
            -vg / r_in - i_grid,
            i_grid - i_diode,
            ip + i_grid - vk / p["r_cathode"],
            (p["b_plus"] - vp) / p["r_plate"] - ip,
        ]

    vg, vk, vp, _ = optimize.fsolve(residual, [0.0, 1.0, p["b_plus"] / 2, 0.0], xtol=1e-13)
    return vg, vk, vp, float(koren_ip(vp - vk, vg - vk, p))


def textbook_gain(p, vg, vk, vp, f_hz):
    """Complex gain drive -> out at f_hz: A = -mu*Ra_eff/(Ra_eff + rp + (mu+1)*Zk) with gm, rp
    from Koren's partials at the operating point, times the input divider (source/grid leak),
    the grid-stopper divider against the grid's capacitance (CCG and the grid diode's
    junction capacitance, both seeing vg - vk, and Miller CGP seeing vg - vp) and the output
    coupling divider."""
    h = 1e-6
    vpk, vgk = vp - vk, vg - vk
    gm = float(koren_ip(vpk, vgk + h, p) - koren_ip(vpk, vgk - h, p)) / (2 * h)
    rp = 2 * h / float(koren_ip(vpk + h, vgk, p) - koren_ip(vpk - h, vgk, p))
    mu = gm * rp
    w = 2 * math.pi * f_hz
    zk = 1.0 / (1.0 / p["r_cathode"] + 1j * w * p["c_cathode"])
    zc = 1.0 / (1j * w * p["c_out"])
    ra_eff = 1.0 / (1.0 / p["r_plate"] + 1.0 / (zc + p["load_impedance"]))
    a = -mu * ra_eff / (ra_eff + rp + (mu + 1) * zk)
    vk_over_vg = -a * zk / ra_eff
    c_junction = p["diode_cjo"] / math.sqrt(1.0 - vgk / 1.0)  # ngspice defaults VJ = 1 V, M = 0.5
    y_grid = (
        1j
        * w
        * ((p["c_grid_cathode"] + c_junction) * (1 - vk_over_vg) + p["c_grid_plate"] * (1 - a))
    )
    grid_div = 1.0 / (1.0 + p["r_grid_stopper"] * y_grid)
    in_div = p["r_grid_leak"] / (p["source_impedance"] + p["r_grid_leak"])
    out_div = p["load_impedance"] / (p["load_impedance"] + zc)
    return in_div * grid_div * a * out_div


@pytest.mark.parametrize("c_cathode", [22e-6, 1e-9], ids=["bypassed", "unbypassed"])
def test_common_cathode_matches_independent_solve_and_textbook_gain(c_cathode):
    cell = load_cell("common-cathode-12ax7")
    p = cell.resolve({"c_cathode": c_cathode})
    op = operating_point(cell, p)
    vg, vk, vp, ip = dc_solve(p)
    # ngspice's strict options stop Newton when iterates agree to reltol = 1e-4 relative
    # (+ vntol 0.1 uV): the operating points must agree to that.
    for node, expected in (("g", vg), ("k", vk), ("p", vp)):
        assert op.nodes[node] == pytest.approx(expected, rel=1e-4, abs=1e-7), node
    assert op.currents["plate"] == pytest.approx(ip, rel=1e-4)

    ss = small_signal(cell, p, {})
    expected = textbook_gain(p, vg, vk, vp, ss.frequency_hz)
    print(
        f"c_cathode={c_cathode:g} F: SPICE {ss.gain_db:.4f} dB {ss.phase_deg:.3f} deg, "
        f"textbook {20 * math.log10(abs(expected)):.4f} dB "
        f"{math.degrees(np.angle(expected)):.3f} deg"
    )
    # 0.02 dB / 0.3 deg: the formula is the linearised circuit itself; what it leaves out is
    # CCP (0.9 pF, 177 Mohm at 1 kHz against tens of kohm: < 1e-4 dB), the grid diode's
    # reverse conductance, and the 10 mV drive's third-order compression (the 2nd harmonic
    # is ~-45 dB; compression of the fundamental is below 0.005 dB); reltol 1e-4 is 0.001 dB.
    assert ss.gain_db == pytest.approx(20 * math.log10(abs(expected)), abs=0.02)
    assert ss.phase_deg == pytest.approx(math.degrees(np.angle(expected)), abs=0.3)


# ---------------------------------------------------------------------------------------
# diode-clipper: clips at the diode voltage
# ---------------------------------------------------------------------------------------


def test_diode_clipper_clips_at_the_diode_forward_voltage():
    cell = load_cell("diode-clipper")
    p = cell.defaults()
    fs = cell.simulation.sample_rate
    amplitude, f0 = 5.0, 100.0
    x = amplitude * np.sin(2 * np.pi * f0 * np.arange(int(0.03 * fs)) / fs)
    y = simulate(cell, p, x, {}).output("out")
    r = p["source_impedance"] + p["r_series"]
    n_vt = p["diode_n"] * VT_27C

    def balance(v):  # series-resistor current = diode pair + load at the output's peak
        diodes = p["diode_is"] * (math.exp(v / n_vt) - 1) - p["diode_is"] * (
            math.exp(-v / n_vt) - 1
        )
        return (amplitude - v) / r - diodes - v / p["load_impedance"]

    v_clip = optimize.brentq(balance, 0.1, 1.5, xtol=1e-12)
    print(f"clip level {v_clip:.5f} V; SPICE +{y.max():.5f} / {y.min():.5f} V")
    assert 0.55 < v_clip < 0.7  # a silicon junction at ~2 mA
    # 1 mV: at the output's peak dV/dt = 0, so no capacitor current flows and the static
    # balance holds; the output's slope there is ~1 % of the input's, so sampling on the
    # 48 kHz grid and the 22 us RC lag move the peak by < 10 uV; reltol 1e-4 of 0.6 V is 60 uV.
    assert y.max() == pytest.approx(v_clip, abs=1e-3)
    assert -y.min() == pytest.approx(v_clip, abs=1e-3)


# ---------------------------------------------------------------------------------------
# jfet-phaser-stage: the all-pass phase follows the control voltage
# ---------------------------------------------------------------------------------------


def test_jfet_all_pass_phase_moves_with_the_control_voltage():
    cell = load_cell("jfet-phaser-stage")
    fs, f0 = cell.simulation.sample_rate, 1000.0
    n_period = int(fs / f0)
    x = 0.01 * np.sin(2 * np.pi * f0 * np.arange(30 * n_period) / fs)
    window = np.exp(-2j * np.pi * f0 * np.arange(20 * n_period) / fs)
    phases = []
    for v_control in (-2.8, -2.2, -1.5):
        p = cell.resolve({"v_control": v_control})
        sim = simulate(cell, p, x, {})
        # phase of out relative to the stage's own input node (source impedance excluded)
        ratio = np.dot(sim.output("out")[-20 * n_period :], window) / np.dot(
            sim.output("in")[-20 * n_period :], window
        )
        measured = math.degrees(np.angle(ratio))
        r = 1.0 / (p["jfet_beta"] * (v_control - 2 * p["jfet_vto"])) + 2.0  # + RD + RS
        expected = 180.0 - 2.0 * math.degrees(math.atan(2 * math.pi * f0 * r * p["c_phase"]))
        print(
            f"v_control {v_control} V: R {r:.1f} ohm, "
            f"phase {measured:.2f} deg (theory {expected:.2f})"
        )
        # 0.5 deg: the linearised JFET law is exact in the square-law triode region; left out
        # are the op-amp (noise gain 2 at 3 MHz GBW: 0.04 deg), the 940k gate network across
        # the channel (< 0.2 % of R) and the drain's -3 mV DC offset (0.4 % of R: < 0.2 deg).
        assert measured == pytest.approx(expected, abs=0.5)
        assert abs(20 * math.log10(abs(ratio))) < 0.05  # an all-pass: |H| = 1
        phases.append(measured)
    assert phases[0] < phases[1] < phases[2], "phase lead must grow as R falls"
    assert phases[2] - phases[0] > 60.0


# ---------------------------------------------------------------------------------------
# power-amp-sag: B+ drops under a burst and recovers with the RC time constants
# ---------------------------------------------------------------------------------------


def test_sag_drops_under_a_burst_and_recovers_with_the_ladder_time_constant():
    cell = load_cell("power-amp-sag")
    # 4 kHz is plenty for a supply (ripple 100 Hz, diode conduction ~1 ms); ngspice's step is
    # still capped at 1/(8 fs) = 31 us. It keeps this test fast.
    fs = 4000.0
    cell = dataclasses.replace(cell, simulation=SimulationSpec(fs, 8, 0.02))
    p = cell.defaults()
    stim = stimuli.bursts(
        sample_rate=fs,
        n_bursts=1,
        burst_s=0.3,
        probe_s=0.9,
        burst_level_dbfs=0.0,
        probe_level_dbfs=-60.0,
        burst_hz=110.0,
    )
    sim = simulate(cell, p, stim.signal, initial_conditions(cell, p))
    b1, b3, pair = sim.output("b1"), sim.output("b3"), sim.output("pair_current")
    start, end = stim.segments["burst_0"]
    idle = slice(0, start)
    loaded = slice(end - int(0.2 * fs), end)  # the burst's last 200 ms, ten mains periods
    d_current = pair[loaded].mean() - pair[idle].mean()
    d_b1 = b1[idle].mean() - b1[loaded].mean()
    print(f"burst: pair current +{d_current * 1e3:.1f} mA, b1 sags {d_b1:.2f} V")
    # A capacitor-input rectifier conducts only near the peaks, so its DC drop per extra amp
    # exceeds the winding resistance: the sag must be at least dI * r_winding.
    assert d_current > 0.05
    assert d_b1 > d_current * p["r_winding"]

    # Recovery of the preamp rail b3 after the burst: means over whole 20 ms mains periods
    # (ripple removed), fitted 150..850 ms after the burst (the faster modes, tau <= 24 ms,
    # have decayed by e^-6 by then).
    block = int(0.02 * fs)
    tail = b3[end:]
    means = tail[: tail.size // block * block].reshape(-1, block).mean(axis=1)
    t = (np.arange(means.size) + 0.5) * block / fs
    fit = (t > 0.15) & (t < 0.85)
    deficit = b3[idle].mean() - means[fit]
    tau_fit = -1.0 / np.polyfit(t[fit], np.log(deficit), 1)[0]
    # The linearised RC ladder of the cell's values: b1 fed through the rectifier's effective
    # resistance (measured: the sag per extra amp), C1, R2, C2, R3, C3, preamp load.
    r_eff = d_b1 / d_current
    g = np.array(
        [
            [1 / r_eff + 1 / p["r_screen"], -1 / p["r_screen"], 0.0],
            [-1 / p["r_screen"], 1 / p["r_screen"] + 1 / p["r_preamp"], -1 / p["r_preamp"]],
            [0.0, -1 / p["r_preamp"], 1 / p["r_preamp"] + 1 / p["preamp_load"]],
        ]
    )
    c = np.diag([p["c_reservoir"], p["c_screen"], p["c_preamp"]])
    tau_slowest = float(np.max(1.0 / np.linalg.eigvals(np.linalg.solve(c, g)).real))
    print(
        f"b3 recovery tau {tau_fit * 1e3:.1f} ms; ladder's slowest mode {tau_slowest * 1e3:.1f} ms "
        f"(R_eff {r_eff:.0f} ohm); C3*(R3||Rpre) = "
        f"{p['c_preamp'] / (1 / p['r_preamp'] + 1 / p['preamp_load']) * 1e3:.1f} ms"
    )
    # 3 %: the rectifier is not a resistor; its small-signal resistance during the late
    # recovery differs from the large-signal R_eff. Bracketing it between 0 (a stiff b1) and
    # 2 R_eff moves the slowest mode by -2.5 % / +2.4 %.
    assert tau_fit == pytest.approx(tau_slowest, rel=0.03)
    assert b1[-block:].mean() == pytest.approx(b1[idle].mean(), abs=0.5)  # b1 is back


# ---------------------------------------------------------------------------------------
# every fixture: operating point in its expected region (through the CLI)
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("fixture", fixture_names())
def test_spice_run_reports_the_expected_operating_region(fixture, capsys):
    import json

    from harness.cli import main

    assert main(["spice-run", "--fixture", fixture, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result["operating_point"]) >= set(result["expected_region"])
    bad = {n: c for n, c in result["expected_region"].items() if not c["ok"]}
    assert not bad, f"{fixture}: operating point outside the spec's expected region: {bad}"
    assert math.isfinite(result["small_signal_gain_db"])
