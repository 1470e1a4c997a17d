//! `tone_stack`: the passive treble/middle/bass (TMB) tone stack of Fender, Marshall and
//! Vox amplifiers (D. T. Yeh & J. O. Smith, "Discretization of the '59 Fender Bassman tone
//! stack", DAFx 2006).
//!
//! ```text
//! Vin ─ source_impedance ─ IN ─ C1 ─ T1 ─ (1−t)·R1 ─ OUT ─ t·R1 ─ T2 ─ l·R2 ─ M
//!                          │                         │                        │
//!                          R4 ─ S ─ C2 ─ T2        load_impedance        (1−m)·R3
//!                               │                    │                        │
//!                               └─ C3 ─────────────  gnd  ──────────────────  W ─ m·R3 ─ gnd
//! ```
//! The middle pot's ends are the bass pot's foot (M) and ground; C3 goes to its wiper (W).
//! Without a middle pot (Vox AC30 Top Boost) M and W are one node, grounded through R3.
//! The stack is linear and third order (three capacitors). Discretizing its capacitors with
//! the trapezoidal rule is exactly the bilinear transform of Yeh & Smith's third-order
//! H(s); doing it on the netlist rather than on their closed-form coefficients lets the
//! same stage include a source impedance (the driving cathode follower) and a load (the
//! next grid), which their closed form assumes away. With `source_impedance = 0` and
//! `load_impedance = inf` the two are identical — the tests check this against the closed
//! form. Pot segments are kept ≥ [`MIN_POT_OHMS`] so that a knob at an end stop is a short
//! of 1 Ω rather than a singular 0 Ω.

use super::circuit_stage::{CircuitDesign, CircuitStage, DEFAULT_SMOOTHING_MS, MAX_SMOOTHING_MS};
use super::params::{choice, number as num, Params, StageSpec};
use crate::circuit::{Linear, Netlist, Node};
use crate::error::Error;

pub const KIND: &str = "tone_stack";

/// Smallest resistance of a pot segment (Ω).
pub const MIN_POT_OHMS: f64 = 1.0;

pub const SPEC: StageSpec = StageSpec {
    kind: KIND,
    doc:
        "passive TMB tone stack (Yeh & Smith), trapezoidal/bilinear, with source and load impedance",
    params: &[
        choice(
            "voicing",
            "fender",
            &["fender", "marshall", "vox"],
            "component set",
        ),
        num(
            "treble",
            0.5,
            0.0,
            1.0,
            "",
            "treble pot position t (fraction, linear)",
        ),
        num(
            "middle",
            0.5,
            0.0,
            1.0,
            "",
            "middle pot position m (fraction; the vox stack has none)",
        ),
        num(
            "bass",
            0.5,
            0.0,
            1.0,
            "",
            "bass pot position l (fraction, linear)",
        ),
        num(
            "source_impedance",
            0.0,
            0.0,
            1e8,
            "ohm",
            "source resistance driving the stack (0 = ideal)",
        ),
        num(
            "load_impedance",
            f64::INFINITY,
            1.0,
            f64::INFINITY,
            "ohm",
            "load on the output (inf = none)",
        ),
        num(
            "smoothing_ms",
            DEFAULT_SMOOTHING_MS,
            0.0,
            MAX_SMOOTHING_MS,
            "ms",
            "ramp time of a live treble/middle/bass change (set_param)",
        ),
    ],
};

/// `set_param` ids (indices in [`SPEC`]) of the live knobs and the smoothing time.
pub const TREBLE_ID: u32 = 1;
pub const MIDDLE_ID: u32 = 2;
pub const BASS_ID: u32 = 3;
pub const SMOOTHING_ID: u32 = 6;

/// Component values (Ω, F) in Yeh & Smith's naming: R1 treble pot, R2 bass pot, R3 middle
/// pot, R4 slope resistor, C1 treble cap, C2 bass cap, C3 middle cap.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Voicing {
    pub r1: f64,
    pub r2: f64,
    pub r3: f64,
    pub r4: f64,
    pub c1: f64,
    pub c2: f64,
    pub c3: f64,
    /// Whether R3 is a pot (Fender, Marshall) or a fixed resistor (Vox AC30 Top Boost).
    pub has_middle: bool,
}

impl Voicing {
    /// Fender '59 Bassman 5F6-A (Yeh & Smith's values).
    pub const FENDER: Voicing = Voicing {
        r1: 250e3,
        r2: 1e6,
        r3: 25e3,
        r4: 56e3,
        c1: 250e-12,
        c2: 20e-9,
        c3: 20e-9,
        has_middle: true,
    };
    /// Marshall JCM800 / 1959.
    pub const MARSHALL: Voicing = Voicing {
        r1: 220e3,
        r2: 1e6,
        r3: 22e3,
        r4: 33e3,
        c1: 470e-12,
        c2: 22e-9,
        c3: 22e-9,
        has_middle: true,
    };
    /// Vox AC30 Top Boost: 1 MΩ treble and bass pots, 100 kΩ slope resistor, and a fixed
    /// 10 kΩ to ground where the others have a middle pot.
    pub const VOX: Voicing = Voicing {
        r1: 1e6,
        r2: 1e6,
        r3: 10e3,
        r4: 100e3,
        c1: 50e-12,
        c2: 22e-9,
        c3: 22e-9,
        has_middle: false,
    };

    pub fn by_name(name: &str) -> Option<Voicing> {
        match name {
            "fender" => Some(Self::FENDER),
            "marshall" => Some(Self::MARSHALL),
            "vox" => Some(Self::VOX),
            _ => None,
        }
    }
}

/// The tone stack stage.
pub type ToneStack = CircuitStage<ToneStackDesign>;

/// Components, knob positions and terminations.
pub struct ToneStackDesign {
    voicing: Voicing,
    treble: f64,
    middle: f64,
    bass: f64,
    source_impedance: f64,
    load_impedance: f64,
    smoothing_ms: f64,
}

impl CircuitDesign for ToneStackDesign {
    type Device = Linear;
    const KIND: &'static str = KIND;

    fn from_params(p: &Params) -> Result<Self, Error> {
        let voicing = Voicing::by_name(p.text("voicing")).unwrap_or(Voicing::FENDER);
        if !voicing.has_middle && p.was_given("middle") {
            return Err(Error::InvalidParam {
                stage: KIND.into(),
                param: "middle".into(),
                value: p.num("middle").to_string(),
                reason: format!(
                    "the '{}' voicing has no middle control (R3 is a fixed resistor)",
                    p.text("voicing")
                ),
            });
        }
        Ok(ToneStackDesign {
            voicing,
            treble: p.num("treble"),
            middle: if voicing.has_middle {
                p.num("middle")
            } else {
                1.0
            },
            bass: p.num("bass"),
            source_impedance: p.num("source_impedance"),
            load_impedance: p.num("load_impedance"),
            smoothing_ms: p.num("smoothing_ms"),
        })
    }

    fn netlist(&self) -> Netlist {
        let mut net = Netlist::default();
        self.netlist_into(&mut net);
        net
    }

    fn knob_ids(&self) -> &'static [u32] {
        if self.voicing.has_middle {
            &[TREBLE_ID, MIDDLE_ID, BASS_ID]
        } else {
            &[TREBLE_ID, BASS_ID]
        }
    }

    fn knob(&self, id: u32) -> f64 {
        match id {
            TREBLE_ID => self.treble,
            MIDDLE_ID => self.middle,
            _ => self.bass,
        }
    }

    fn set_knob(&mut self, id: u32, value: f64) {
        match id {
            TREBLE_ID => self.treble = value,
            MIDDLE_ID if self.voicing.has_middle => self.middle = value,
            BASS_ID => self.bass = value,
            _ => {}
        }
    }

    fn smoothing(&self) -> Option<(u32, f64)> {
        Some((SMOOTHING_ID, self.smoothing_ms))
    }

    fn netlist_into(&self, net: &mut Netlist) {
        let v = &self.voicing;
        let pot = |fraction: f64, r: f64| (fraction * r).max(MIN_POT_OHMS);
        let mut n = 0;
        let mut node = || {
            n += 1;
            Node::Internal(n - 1)
        };
        let input = if self.source_impedance > 0.0 {
            node()
        } else {
            Node::Source(0)
        };
        let (t1, out, t2, s, m) = (node(), node(), node(), node(), node());
        let wiper = if v.has_middle { node() } else { m };
        net.clear_to(n, &[]);
        if let Node::Internal(_) = input {
            net.resistor(Node::Source(0), input, self.source_impedance);
        }
        net.capacitor(input, t1, v.c1)
            .resistor(t1, out, pot(1.0 - self.treble, v.r1))
            .resistor(out, t2, pot(self.treble, v.r1))
            .resistor(input, s, v.r4)
            .capacitor(s, t2, v.c2)
            .capacitor(s, wiper, v.c3)
            .resistor(t2, m, pot(self.bass, v.r2))
            .resistor(wiper, Node::Ground, pot(self.middle, v.r3));
        if v.has_middle {
            net.resistor(m, wiper, pot(1.0 - self.middle, v.r3));
        }
        if self.load_impedance.is_finite() {
            net.resistor(out, Node::Ground, self.load_impedance);
        }
        net.output = (out, Node::Ground);
    }

    fn device(&self) -> Linear {
        Linear
    }
}
