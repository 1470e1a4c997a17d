//! `volume`: a potentiometer used as a volume control — a divider into a load — with a
//! linear or logarithmic ("audio", A) taper and an optional bright capacitor.
//!
//! ```text
//! Vin ─ source_impedance ─ TOP ─ (1−a)·r_pot ─ W ─ a·r_pot ─ gnd
//!                           └──── c_bright ────┘  └ load_impedance ─ gnd     OUT = V(W)
//! ```
//! `a` is the fraction of the track below the wiper: `a = position` (linear) or
//! `a = (81^position − 1)/80` (log), the usual exponential approximation of an A taper that
//! puts 10 % of the resistance below the wiper at half rotation. Pot segments are kept
//! ≥ 1 Ω (a wiper's contact resistance). With `c_bright = 0` the stage is memoryless.

use super::circuit_stage::{CircuitStage, DEFAULT_SMOOTHING_MS, MAX_SMOOTHING_MS};
use super::one_knob::{OneKnob, OneKnobCircuit};
use super::params::{choice, number as num, Params, StageSpec};
use super::tone_stack::MIN_POT_OHMS;
use crate::circuit::{Netlist, Node};

pub const KIND: &str = "volume";

/// Base of the exponential A-taper law: a(½) = 1/(√81 + 1) = 0.1.
pub const LOG_TAPER_BASE: f64 = 81.0;

pub const SPEC: StageSpec = StageSpec {
    kind: KIND,
    doc: "volume pot: divider into a load, linear or log (A) taper, optional bright cap",
    params: &[
        num(
            "position",
            0.5,
            0.0,
            1.0,
            "",
            "knob rotation (0 = off, 1 = full)",
        ),
        choice("taper", "log", &["log", "linear"], "pot taper"),
        num("r_pot", 1e6, 1e3, 1e8, "ohm", "pot track resistance"),
        num(
            "c_bright",
            0.0,
            0.0,
            1e-6,
            "F",
            "bright capacitor from the top of the pot to the wiper (0 = none)",
        ),
        num(
            "source_impedance",
            0.0,
            0.0,
            1e8,
            "ohm",
            "source resistance driving the pot (0 = ideal)",
        ),
        num(
            "load_impedance",
            1e6,
            1.0,
            f64::INFINITY,
            "ohm",
            "load on the wiper (inf = none)",
        ),
        num(
            "smoothing_ms",
            DEFAULT_SMOOTHING_MS,
            0.0,
            MAX_SMOOTHING_MS,
            "ms",
            "ramp time of a live position change (set_param)",
        ),
    ],
};

/// `set_param` ids (indices in [`SPEC`]) of the live knob and the smoothing time.
pub const POSITION_ID: u32 = 0;
pub const SMOOTHING_ID: u32 = 6;

/// Fraction of the track below the wiper for a knob `position` (0..1) and taper.
pub fn taper_fraction(position: f64, taper: &str) -> f64 {
    match taper {
        "linear" => position,
        _ => (LOG_TAPER_BASE.powf(position) - 1.0) / (LOG_TAPER_BASE - 1.0),
    }
}

/// The volume control stage.
pub type Volume = CircuitStage<OneKnob<VolumeCircuit>>;

/// The volume control's netlist at a knob value.
pub struct VolumeCircuit;

impl OneKnobCircuit for VolumeCircuit {
    const KIND: &'static str = KIND;
    const KNOB: &'static str = "position";
    const KNOB_IDS: &'static [u32; 1] = &[POSITION_ID];
    const SMOOTHING_ID: u32 = SMOOTHING_ID;

    fn netlist_at(p: &Params, position: f64, net: &mut Netlist) {
        let a = taper_fraction(position, p.text("taper"));
        let r = p.num("r_pot");
        let ideal = p.num("source_impedance") == 0.0;
        let (top, w) = if ideal {
            (Node::Source(0), Node::Internal(0))
        } else {
            (Node::Internal(0), Node::Internal(1))
        };
        net.clear_to(if ideal { 1 } else { 2 }, &[]);
        if !ideal {
            net.resistor(Node::Source(0), top, p.num("source_impedance"));
        }
        net.resistor(top, w, ((1.0 - a) * r).max(MIN_POT_OHMS))
            .resistor(w, Node::Ground, (a * r).max(MIN_POT_OHMS))
            .capacitor(top, w, p.num("c_bright"));
        if p.num("load_impedance").is_finite() {
            net.resistor(w, Node::Ground, p.num("load_impedance"));
        }
        net.output = (w, Node::Ground);
    }
}
