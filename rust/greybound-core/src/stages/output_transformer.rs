//! `output_transformer`: the output transformer's band limits and low-frequency core
//! saturation, referred to the secondary. Input: the speaker voltage of an ideal
//! transformer (`power_amp`'s output); output: the speaker voltage of this one.
//!
//! ```text
//! i_in = Vin/R_L ─▶ X ─┬─ L_m' (saturating, gyrated) ─ gnd
//!                      ├─ C_x ─ gnd (leakage low-pass)
//!                      └─ R_L ─ gnd                     OUT = V(X)
//! ```
//! The pentodes drive the primary as a current source (their plate resistance is far above
//! the reflected load), so the input voltage is turned back into its current
//! `Vin/R_L` (`R_L` = `speaker_load`) and fed into the secondary-referred magnetizing
//! inductance `L_m' = primary_inductance/n²` in parallel with the load (n = √(raa/R_L)).
//! In the midband the output equals the input (gain 1); below
//! `f_hp = raa/(2π·primary_inductance)` the magnetizing inductance shunts the load (first
//! order high-pass; the tubes' own plate resistance in parallel is neglected, which sets the
//! corner ≈ 10 % low for pentodes).
//!
//! Core saturation: the magnetizing current is `i_m = (φ/L_m')·(1 + (φ/φ_sat')²/3)`, a cubic
//! B–H law whose incremental inductance falls to half at `φ = φ_sat'`
//! (`flux_saturation/n`), with `φ = ∫V_X dt` the secondary flux linkage (V·s). Large, low
//! notes therefore lose bass and distort. The inductor is realized by a gyrator (ports 1
//! and 2: a capacitor `C_m = g·φ_sat'` integrates `g·V_X`, and `g·h(V_M)` is drawn from X,
//! with `g = φ_sat'/L_m'`), which under the trapezoidal rule is exactly a trapezoidal
//! inductor; a resistor on M gives the inductor a series resistance of `R_L/1000` (a DC
//! path; it lets 1e-3 of DC through). The drive and the gyrator are linear controlled
//! sources in the netlist; only the cubic term is a nonlinear port, sensed through V(M)
//! alone, so its solution table is one-dimensional.
//!
//! Leakage: the series leakage inductance and the winding capacitance form the top
//! roll-off; this stage keeps one first-order low-pass at the leakage corner
//! `f_lp = (plate_resistance + raa)/(2π·leakage_inductance)`, realized as a shunt `C_x`
//! across the (current-driven) load. Approximation: no resonance peak, first order only.
//! Ports: 0 = (gnd, X) carries the cubic magnetizing current, 1 = (M, gnd) senses the flux.

use super::circuit_stage::{CircuitDesign, CircuitStage};
use super::params::{number as num, table_peak, Params, StageSpec, SOLVER};
use crate::circuit::{Netlist, Node, Nonlinearity};
use crate::error::Error;
use std::f64::consts::PI;

pub const KIND: &str = "output_transformer";

/// Series resistance of the magnetizing branch as a fraction of the load (the DC path).
pub const MAGNETIZING_SERIES_FRACTION: f64 = 1e-3;

pub const SPEC: StageSpec = StageSpec {
    kind: KIND,
    doc: "output transformer: magnetizing high-pass with cubic core saturation, leakage low-pass (secondary-referred)",
    params: &[
        num("primary_inductance", 15.0, 1e-3, 1e4, "H", "magnetizing inductance of the full primary"),
        num("leakage_inductance", 10e-3, 1e-6, 10.0, "H", "leakage inductance, primary-referred"),
        num("plate_resistance", 20e3, 1.0, 1e8, "ohm", "plate-to-plate source resistance of the tubes"),
        num("flux_saturation", 2.5, 1e-3, 1e3, "V*s", "primary flux linkage where the incremental inductance halves"),
        num("raa", 3.5e3, 10.0, 1e6, "ohm", "plate-to-plate reflected load"),
        num("speaker_load", 8.0, 0.1, 1e4, "ohm", "nominal speaker load"),
        num("max_iterations", 50.0, 1.0, 1000.0, "", "Newton iteration limit per sample"),
        SOLVER,
        table_peak(60.0),
    ],
};

/// The core's nonlinearity: the cubic part of the magnetizing current, drawn from X under
/// the control of the normalized flux V(M) (the linear part of the B–H law, the gyrator and
/// the Norton drive are linear controlled sources in the netlist). Ports: 0 = (gnd, X)
/// carries `−(g/3)·V(M)³` into X, 1 = (M, gnd) senses V(M).
#[derive(Debug, Clone, Copy)]
pub struct TransformerCore {
    /// Gyration conductance g (S).
    pub g: f64,
}

impl Nonlinearity for TransformerCore {
    const PORTS: usize = 2;
    const SENSED: [bool; 4] = [false, true, false, false];
    const DRIVEN: [bool; 4] = [true, false, false, false];

    #[inline]
    fn eval(&self, v: &[f64; 4], i: &mut [f64; 4], jac: &mut [f64; 16]) {
        let vm = v[1]; // normalized flux φ/φ_sat'
        *i = [-self.g / 3.0 * vm * vm * vm, 0.0, 0.0, 0.0];
        jac.fill(0.0);
        jac[1] = -self.g * vm * vm;
    }
}

/// The output transformer stage.
pub type OutputTransformer = CircuitStage<OutputTransformerDesign>;

pub struct OutputTransformerDesign {
    params: Params,
}

impl OutputTransformerDesign {
    fn turns_ratio(&self) -> f64 {
        (self.params.num("raa") / self.params.num("speaker_load")).sqrt()
    }

    /// (g, C_m, R_m, C_x) of the secondary-referred circuit.
    fn elements(&self) -> (f64, f64, f64, f64) {
        let p = &self.params;
        let n = self.turns_ratio();
        let rl = p.num("speaker_load");
        let lm = p.num("primary_inductance") / (n * n);
        let phi = p.num("flux_saturation") / n;
        let g = phi / lm;
        let r_series = MAGNETIZING_SERIES_FRACTION * rl;
        let f_lp =
            (p.num("plate_resistance") + p.num("raa")) / (2.0 * PI * p.num("leakage_inductance"));
        (
            g,
            g * phi,
            1.0 / (g * g * r_series),
            1.0 / (2.0 * PI * f_lp * rl),
        )
    }

    /// Magnetizing high-pass corner raa/(2π·L_p) (Hz).
    pub fn high_pass_hz(&self) -> f64 {
        self.params.num("raa") / (2.0 * PI * self.params.num("primary_inductance"))
    }
}

impl CircuitDesign for OutputTransformerDesign {
    type Device = TransformerCore;
    const KIND: &'static str = KIND;

    fn from_params(params: &Params) -> Result<Self, Error> {
        Ok(OutputTransformerDesign {
            params: params.clone(),
        })
    }

    fn netlist(&self) -> Netlist {
        let (g, c_m, r_m, c_x) = self.elements();
        let (x, m, gnd) = (Node::Internal(0), Node::Internal(1), Node::Ground);
        let rl = self.params.num("speaker_load");
        let mut net = Netlist::new(2, &[]);
        net.resistor(x, gnd, rl)
            .capacitor(x, gnd, c_x)
            .capacitor(m, gnd, c_m)
            .resistor(m, gnd, r_m)
            // Norton drive Vin/R_L into X; the gyrator: −g·V(M) into X, g·V(X) into M.
            .vccs(x, gnd, Node::Source(0), gnd, 1.0 / rl)
            .vccs(x, gnd, m, gnd, -g)
            .vccs(m, gnd, x, gnd, g)
            .port(gnd, x)
            .port(m, gnd);
        net.output = (x, Node::Ground);
        net
    }

    fn device(&self) -> TransformerCore {
        TransformerCore {
            g: self.elements().0,
        }
    }

    fn table_drive_v(&self) -> Option<f64> {
        self.params.table_drive_v()
    }

    fn max_iterations(&self) -> usize {
        self.params.num("max_iterations") as usize
    }
}

impl OutputTransformer {
    /// Magnetizing high-pass corner (Hz), raa/(2π·primary_inductance).
    pub fn high_pass_hz(&self) -> f64 {
        self.design.high_pass_hz()
    }
}
