//! Nodal circuit solver shared by every circuit stage.
//!
//! A stage describes its circuit as a [`Netlist`] (resistors, capacitors, known-voltage
//! sources and nonlinear ports). [`DkSolver`] discretizes the capacitors with the
//! trapezoidal rule (companion conductance `2C/T` plus a history current — for the linear
//! part this is exactly the bilinear transform), reduces the linear network onto the
//! nonlinear ports once in `prepare` (the DK method of Yeh, Abel & Smith), and per sample
//! solves only the small implicit port equation `v = p + K·f(v)` with a damped Newton
//! iteration: bounded iterations; warm start from the previous sample, whose first Newton
//! step is corrected by how far the previous sample's first step fell short (a predictor:
//! one device evaluation per sample on smooth signals); backtracking with Deuflhard's
//! natural monotonicity test (the simplified Newton correction must shrink), which weighs
//! ports by their loop gain; SPICE-style junction limiting supplied by the device.

// Small fixed-size matrices read most clearly with explicit row/column indices.
#![allow(clippy::needless_range_loop)]

mod devices;
mod dk;
mod linalg;
mod netlist;
mod table;

pub use devices::{
    DiodePair, GridDiodeTriode, Half, KorenTriode, Linear, Nonlinearity, ShockleyDiode,
};
pub use dk::{exploration, DkSolver, MAX_CAPS, MAX_PORTS};
pub use netlist::{Netlist, Node};
pub use table::{Axis, HermiteTable, Lookup, NodeSample};

/// Thermal voltage kT/q at 27 °C (300.15 K), SPICE's default temperature, in volts.
pub const THERMAL_VOLTAGE_27C: f64 = 1.380_649e-23 * 300.15 / 1.602_176_634e-19;
