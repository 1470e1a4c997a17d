//! `cathode_follower`: a 12AX7 cathode follower, output at the cathode (Koren triode with
//! the grid-conduction diode, as `triode_common_cathode`).
//!
//! ```text
//! (grid_bias + Vin) ─ (source_impedance + r_grid_stopper) ─ G ─ (rgi + diode_rs) ─ D ─|>|─ K
//!                                    B+ ─ r_plate ─ P (plate current P → K)               │
//!                                                        K ─ r_cathode ─ gnd; K ─ c_out ─ OUT ─ load_impedance ─ gnd
//! ```
//! The grid is DC-coupled to the previous stage's plate, modelled (as in the SPICE fixture
//! `cathode-follower-12ax7`) as an ideal `grid_bias` source in series with the audio input
//! and `source_impedance` (that plate's output resistance). The netlist is written with
//! every voltage shifted by −`grid_bias` (the grid source becomes the audio input alone, the
//! cathode resistor returns to −`grid_bias`, the plate supply is `b_plus − grid_bias`): an
//! exact change of reference, since only differences enter the device laws. The output is
//! the cathode's AC through `c_out` into `load_impedance` (the tone stack's input, here a
//! resistor: an approximation of its frequency-dependent input impedance), referenced to
//! true ground. `r_plate = 0` puts the plate straight on B+ (the usual arrangement).
//! Grid conduction (Vg > Vk + ~0.6 V when the cathode cannot follow) is what makes a
//! follower distort; it is kept. The tube capacitances are left out: with a ~100 kΩ source
//! the 2.4 pF grid-plate capacitance (plate at AC ground) puts its pole near 600 kHz.

use super::circuit_stage::{CircuitDesign, CircuitStage};
use super::params::{number as num, table_peak, Params, StageSpec, SOLVER};
use crate::circuit::{
    GridDiodeTriode, KorenTriode, Netlist, Node, ShockleyDiode, THERMAL_VOLTAGE_27C,
};
use crate::error::Error;

pub const KIND: &str = "cathode_follower";

pub const SPEC: StageSpec = StageSpec {
    kind: KIND,
    doc: "12AX7 cathode follower, DC-coupled grid, output at the cathode; Koren triode with grid conduction",
    params: &[
        num("b_plus", 330.0, 1.0, 1000.0, "V", "plate supply voltage"),
        num("grid_bias", 180.0, 0.0, 1000.0, "V", "DC level of the grid (the previous plate)"),
        num("r_cathode", 100e3, 1.0, 1e8, "ohm", "cathode resistor to ground"),
        num("r_plate", 0.0, 0.0, 1e8, "ohm", "plate resistor (0 = plate on B+)"),
        num("r_grid_stopper", 1e3, 1.0, 1e8, "ohm", "grid stopper resistor"),
        num("source_impedance", 40e3, 0.0, 1e8, "ohm", "output resistance of the driving plate"),
        num("c_out", 1e-6, 1e-12, 1.0, "F", "output coupling capacitor"),
        num("load_impedance", 100e3, 1.0, 1e12, "ohm", "load on the output (tone stack input)"),
        num("mu", 100.0, 1.0, 1000.0, "", "Koren MU"),
        num("ex", 1.4, 0.5, 3.0, "", "Koren EX"),
        num("kg1", 1060.0, 1.0, 1e5, "", "Koren KG1"),
        num("kp", 600.0, 1.0, 1e4, "", "Koren KP"),
        num("kvb", 300.0, 0.0, 1e5, "V^2", "Koren KVB"),
        num("rgi", 2000.0, 1.0, 1e7, "ohm", "grid conduction resistance RGI"),
        num("diode_is", 1e-9, 1e-18, 1e-3, "A", "grid diode saturation current IS"),
        num("diode_rs", 1.0, 0.0, 1e6, "ohm", "grid diode series resistance RS"),
        num("diode_n", 1.0, 0.5, 4.0, "", "grid diode emission coefficient N"),
        num("max_iterations", 50.0, 1.0, 1000.0, "", "Newton iteration limit per sample"),
        SOLVER,
        table_peak(200.0),
    ],
};

/// The cathode follower stage.
pub type CathodeFollower = CircuitStage<CathodeFollowerDesign>;

pub struct CathodeFollowerDesign {
    params: Params,
}

impl CircuitDesign for CathodeFollowerDesign {
    type Device = GridDiodeTriode;
    const KIND: &'static str = KIND;

    fn from_params(params: &Params) -> Result<Self, Error> {
        if params.num("grid_bias") >= params.num("b_plus") {
            return Err(Error::InvalidParam {
                stage: KIND.into(),
                param: "grid_bias".into(),
                value: params.num("grid_bias").to_string(),
                reason: "must be below b_plus (the plate must sit above the grid)".into(),
            });
        }
        Ok(CathodeFollowerDesign {
            params: params.clone(),
        })
    }

    fn netlist(&self) -> Netlist {
        let p = &self.params;
        let bias = p.num("grid_bias");
        let with_rp = p.num("r_plate") > 0.0;
        let n_nodes = if with_rp { 5 } else { 4 };
        let (g, d, k, out) = (
            Node::Internal(0),
            Node::Internal(1),
            Node::Internal(2),
            Node::Internal(3),
        );
        // Shifted frame: source 1 = B+ − bias, source 2 = true ground (−bias).
        let mut net = Netlist::new(n_nodes, &[p.num("b_plus") - bias, -bias]);
        let plate = if with_rp {
            let pl = Node::Internal(4);
            net.resistor(Node::Source(1), pl, p.num("r_plate"));
            pl
        } else {
            Node::Source(1)
        };
        net.resistor(
            Node::Source(0),
            g,
            p.num("source_impedance") + p.num("r_grid_stopper"),
        )
        .resistor(g, d, p.num("rgi") + p.num("diode_rs"))
        .resistor(k, Node::Source(2), p.num("r_cathode"))
        .capacitor(k, out, p.num("c_out"))
        .resistor(out, Node::Source(2), p.num("load_impedance"))
        .port(d, k)
        .port(g, k)
        .port(plate, k);
        net.output = (out, Node::Source(2));
        net
    }

    fn device(&self) -> GridDiodeTriode {
        let p = &self.params;
        GridDiodeTriode::new(
            &self.koren(),
            ShockleyDiode::new(p.num("diode_is"), p.num("diode_n"), THERMAL_VOLTAGE_27C),
        )
    }

    fn table_drive_v(&self) -> Option<f64> {
        self.params.table_drive_v()
    }

    fn max_iterations(&self) -> usize {
        self.params.num("max_iterations") as usize
    }
}

impl CathodeFollowerDesign {
    fn koren(&self) -> KorenTriode {
        super::koren_from(&self.params)
    }
}
