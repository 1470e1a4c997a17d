//! `cut`: the Vox "cut" control — a passive RC low-pass on the drive to the power stage.
//!
//! ```text
//! Vin ─ source_impedance ─ X ─ r_series + (1 − cut)·r_pot ─ M ─ c_cut ─ gnd
//!                          └─ load_impedance ─ gnd                          OUT = V(X)
//! ```
//! Turning `cut` up lowers the resistance in series with the capacitor, so more treble is
//! shunted away: the shelf starts at 1/(2π·(Rs + R)·C) and bottoms out at R/(Rs + R).
//!
//! Approximation: in the AC30 the control (a pot and a 47 nF capacitor) sits between the
//! two phase-inverter outputs, a differential shunt. With a mono, differential signal this
//! stage is its single-ended equivalent: the same corner and depth need half the series
//! resistance and twice the capacitance, which the defaults already are (`r_pot` 500 kΩ
//! and `c_cut` 94 nF for a 1 MΩ pot with 47 nF). `source_impedance` is the inverter's
//! plate output resistance (≈ Ra ∥ rp), `load_impedance` the power-tube grid leak.

use super::circuit_stage::{CircuitStage, DEFAULT_SMOOTHING_MS, MAX_SMOOTHING_MS};
use super::one_knob::{OneKnob, OneKnobCircuit};
use super::params::{number as num, Params, StageSpec};
use super::tone_stack::MIN_POT_OHMS;
use crate::circuit::{Netlist, Node};

pub const KIND: &str = "cut";

pub const SPEC: StageSpec = StageSpec {
    kind: KIND,
    doc: "Vox cut control: RC treble shunt on the power-stage drive (single-ended equivalent)",
    params: &[
        num(
            "cut",
            0.5,
            0.0,
            1.0,
            "",
            "knob position (0 = least cut, 1 = most)",
        ),
        num(
            "r_pot",
            500e3,
            1.0,
            1e8,
            "ohm",
            "cut pot track (half of the differential pot)",
        ),
        num(
            "r_series",
            5e3,
            0.0,
            1e8,
            "ohm",
            "fixed resistance in series with the pot",
        ),
        num(
            "c_cut",
            94e-9,
            1e-12,
            1e-3,
            "F",
            "cut capacitor (twice the differential one)",
        ),
        num(
            "source_impedance",
            40e3,
            1.0,
            1e8,
            "ohm",
            "driving plate's output resistance",
        ),
        num(
            "load_impedance",
            220e3,
            1.0,
            f64::INFINITY,
            "ohm",
            "power-tube grid leak (inf = none)",
        ),
        num(
            "smoothing_ms",
            DEFAULT_SMOOTHING_MS,
            0.0,
            MAX_SMOOTHING_MS,
            "ms",
            "ramp time of a live cut change (set_param)",
        ),
    ],
};

/// `set_param` ids (indices in [`SPEC`]) of the live knob and the smoothing time.
pub const CUT_ID: u32 = 0;
pub const SMOOTHING_ID: u32 = 6;

/// The cut control stage.
pub type Cut = CircuitStage<OneKnob<CutCircuit>>;

/// The cut control's netlist at a knob value.
pub struct CutCircuit;

impl OneKnobCircuit for CutCircuit {
    const KIND: &'static str = KIND;
    const KNOB: &'static str = "cut";
    const KNOB_IDS: &'static [u32; 1] = &[CUT_ID];
    const SMOOTHING_ID: u32 = SMOOTHING_ID;

    fn netlist_at(p: &Params, cut: f64, net: &mut Netlist) {
        let (x, m) = (Node::Internal(0), Node::Internal(1));
        let r = (p.num("r_series") + (1.0 - cut) * p.num("r_pot")).max(MIN_POT_OHMS);
        net.clear_to(2, &[]);
        net.resistor(Node::Source(0), x, p.num("source_impedance"))
            .resistor(x, m, r)
            .capacitor(m, Node::Ground, p.num("c_cut"));
        if p.num("load_impedance").is_finite() {
            net.resistor(x, Node::Ground, p.num("load_impedance"));
        }
        net.output = (x, Node::Ground);
    }
}
