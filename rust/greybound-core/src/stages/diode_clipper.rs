//! `diode_clipper`: a 1N4148 pair to ground behind a series resistor, with a shunt capacitor
//! (D. T. Yeh, "Digital implementation of musical distortion circuits by analysis and
//! simulation", 2009: the RC low-pass with antiparallel diodes,
//! C·dV/dt = (Vin − V)/R − 2·IS·sinh(V/(N·Vt))).
//!
//! ```text
//! Vin ─ (source_impedance + r_series) ─ X ─┬─ c_shunt ─ gnd
//!                                          ├─ D1 ▷| , D2 |◁ ─ gnd
//!                                          └─ load_impedance ─ gnd      OUT = V(X)
//! ```
//! Solved implicitly: trapezoidal rule, Newton with SPICE junction limiting each sample.

use super::circuit_stage::{CircuitDesign, CircuitStage};
use super::params::{number as num, Params, StageSpec};
use crate::circuit::{DiodePair, Netlist, Node, ShockleyDiode, THERMAL_VOLTAGE_27C};
use crate::error::Error;

pub const KIND: &str = "diode_clipper";

pub const SPEC: StageSpec = StageSpec {
    kind: KIND,
    doc: "1N4148 antiparallel pair behind a series resistor with a shunt capacitor (Yeh)",
    params: &[
        num("r_series", 2.2e3, 1.0, 1e8, "ohm", "series resistor R"),
        num(
            "c_shunt",
            10e-9,
            0.0,
            1.0,
            "F",
            "shunt capacitor C across the diodes",
        ),
        num(
            "diode_is",
            2.52e-9,
            1e-18,
            1e-3,
            "A",
            "diode saturation current IS (1N4148 fit)",
        ),
        num(
            "diode_n",
            1.752,
            0.5,
            4.0,
            "",
            "diode emission coefficient N (1N4148 fit)",
        ),
        num(
            "source_impedance",
            0.0,
            0.0,
            1e8,
            "ohm",
            "source resistance, in series with r_series",
        ),
        num(
            "load_impedance",
            1e6,
            1.0,
            f64::INFINITY,
            "ohm",
            "load across the output (inf = none)",
        ),
        num(
            "max_iterations",
            50.0,
            1.0,
            1000.0,
            "",
            "Newton iteration limit per sample",
        ),
    ],
};

/// The diode clipper stage.
pub type DiodeClipper = CircuitStage<DiodeClipperDesign>;

/// Component values of the clipper.
pub struct DiodeClipperDesign {
    params: Params,
}

impl CircuitDesign for DiodeClipperDesign {
    type Device = DiodePair;
    const KIND: &'static str = KIND;

    fn from_params(params: &Params) -> Result<Self, Error> {
        Ok(DiodeClipperDesign {
            params: params.clone(),
        })
    }

    fn netlist(&self) -> Netlist {
        let p = &self.params;
        let x = Node::Internal(0);
        let mut net = Netlist::new(1, &[]);
        net.resistor(
            Node::Source(0),
            x,
            p.num("source_impedance") + p.num("r_series"),
        )
        .capacitor(x, Node::Ground, p.num("c_shunt"))
        .port(x, Node::Ground);
        if p.num("load_impedance").is_finite() {
            net.resistor(x, Node::Ground, p.num("load_impedance"));
        }
        net.output = (x, Node::Ground);
        net
    }

    fn device(&self) -> DiodePair {
        let p = &self.params;
        DiodePair(ShockleyDiode::new(
            p.num("diode_is"),
            p.num("diode_n"),
            THERMAL_VOLTAGE_27C,
        ))
    }

    fn max_iterations(&self) -> usize {
        self.params.num("max_iterations") as usize
    }
}
