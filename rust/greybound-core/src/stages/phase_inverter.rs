//! `phase_inverter`: a 12AX7 long-tailed-pair phase inverter (two Koren triodes sharing a
//! cathode). Mono output: the differential plate signal V(OUT1) − V(OUT2).
//!
//! ```text
//! Vin ─ source_impedance ─ IN ─ c_in ─ G1          G2 ─ c_grid2 ─ gnd
//!                                      │            │
//!                                   r_grid       r_grid
//!                                      └──── T ─────┘        T ─ r_tail ─ gnd
//!                                            │                K ─ r_bias ─ T
//! B+ ─ r_plate1 ─ P1 ─ c_out ─ OUT1 ─ load   B+ ─ r_plate2 ─ P2 ─ c_out ─ OUT2 ─ load
//! ```
//! Ports: (G1, K), (P1, K), (G2, K), (P2, K); the grid ports only sense (no current).
//!
//! Approximations: grid current is omitted (the inverter's grids stay below their cathode
//! except under extreme drive, where a real LTP blocks; this stage cannot show that), and
//! so are the tube capacitances. The two output loads stand for the power-tube grid leaks;
//! the power stage itself is driven by this stage's differential output as an ideal source.

use super::circuit_stage::{CircuitDesign, CircuitStage};
use super::params::{number as num, table_peak, Params, StageSpec, SOLVER};
use crate::circuit::{Half, KorenTriode, Netlist, Node, Nonlinearity};
use crate::error::Error;

pub const KIND: &str = "phase_inverter";

pub const SPEC: StageSpec = StageSpec {
    kind: KIND,
    doc: "12AX7 long-tailed-pair phase inverter; differential plate output; grid current omitted",
    params: &[
        num("b_plus", 300.0, 1.0, 1000.0, "V", "plate supply voltage"),
        num(
            "r_plate1",
            82e3,
            1.0,
            1e8,
            "ohm",
            "plate resistor of the driven (inverting) triode",
        ),
        num(
            "r_plate2",
            100e3,
            1.0,
            1e8,
            "ohm",
            "plate resistor of the other triode",
        ),
        num(
            "r_bias",
            820.0,
            1.0,
            1e7,
            "ohm",
            "cathode bias resistor (cathode to tail node)",
        ),
        num(
            "r_tail",
            47e3,
            1.0,
            1e8,
            "ohm",
            "tail resistor (tail node to ground)",
        ),
        num(
            "r_grid",
            1e6,
            1.0,
            1e9,
            "ohm",
            "grid leak of each grid, to the tail node",
        ),
        num("c_in", 47e-9, 1e-12, 1.0, "F", "input coupling capacitor"),
        num(
            "c_grid2",
            100e-9,
            1e-12,
            1.0,
            "F",
            "capacitor grounding the second grid for AC",
        ),
        num(
            "c_out",
            47e-9,
            1e-12,
            1.0,
            "F",
            "output coupling capacitors",
        ),
        num(
            "load_impedance",
            220e3,
            1.0,
            1e12,
            "ohm",
            "load on each output (power grid leak)",
        ),
        num(
            "source_impedance",
            1e3,
            0.0,
            1e8,
            "ohm",
            "source resistance driving the input",
        ),
        num("mu", 100.0, 1.0, 1000.0, "", "Koren MU"),
        num("ex", 1.4, 0.5, 3.0, "", "Koren EX"),
        num("kg1", 1060.0, 1.0, 1e5, "", "Koren KG1"),
        num("kp", 600.0, 1.0, 1e4, "", "Koren KP"),
        num("kvb", 300.0, 0.0, 1e5, "V^2", "Koren KVB"),
        num(
            "max_iterations",
            50.0,
            1.0,
            1000.0,
            "",
            "Newton iteration limit per sample",
        ),
        SOLVER,
        table_peak(60.0),
    ],
};

/// Two Koren triodes with a common cathode. Ports: 0 = (G1, K) sense, 1 = (P1, K) plate 1,
/// 2 = (G2, K) sense, 3 = (P2, K) plate 2.
#[derive(Debug, Clone, Copy)]
pub struct TriodePair(pub KorenTriode);

impl Nonlinearity for TriodePair {
    const PORTS: usize = 4;
    const DRIVEN: [bool; 4] = [false, true, false, true];
    const HALVES: Option<[Half; 2]> = Some([
        Half {
            sense: [0, 1],
            driven: 1,
        },
        Half {
            sense: [2, 3],
            driven: 3,
        },
    ]);

    #[inline]
    fn eval(&self, v: &[f64; 4], i: &mut [f64; 4], jac: &mut [f64; 16]) {
        let (ip1, gm1, gp1) = self.0.plate_current(v[0], v[1]);
        let (ip2, gm2, gp2) = self.0.plate_current(v[2], v[3]);
        *i = [0.0, ip1, 0.0, ip2];
        jac.fill(0.0);
        jac[4] = gm1;
        jac[4 + 1] = gp1;
        jac[12 + 2] = gm2;
        jac[12 + 3] = gp2;
    }

    fn dc_guess(&self) -> [f64; 4] {
        [-1.0, 180.0, -1.0, 180.0]
    }
}

/// The phase inverter stage.
pub type PhaseInverter = CircuitStage<PhaseInverterDesign>;

pub struct PhaseInverterDesign {
    params: Params,
}

impl CircuitDesign for PhaseInverterDesign {
    type Device = TriodePair;
    const KIND: &'static str = KIND;

    fn from_params(params: &Params) -> Result<Self, Error> {
        Ok(PhaseInverterDesign {
            params: params.clone(),
        })
    }

    fn netlist(&self) -> Netlist {
        let p = &self.params;
        let nodes: Vec<Node> = (0..9).map(Node::Internal).collect();
        let [inp, g1, g2, k, t, p1, p2, o1, o2] = nodes[..] else {
            unreachable!("nine nodes")
        };
        let mut net = Netlist::new(9, &[p.num("b_plus")]);
        net.resistor(Node::Source(0), inp, p.num("source_impedance").max(1e-3))
            .capacitor(inp, g1, p.num("c_in"))
            .resistor(g1, t, p.num("r_grid"))
            .resistor(g2, t, p.num("r_grid"))
            .capacitor(g2, Node::Ground, p.num("c_grid2"))
            .resistor(k, t, p.num("r_bias"))
            .resistor(t, Node::Ground, p.num("r_tail"))
            .resistor(Node::Source(1), p1, p.num("r_plate1"))
            .resistor(Node::Source(1), p2, p.num("r_plate2"))
            .capacitor(p1, o1, p.num("c_out"))
            .capacitor(p2, o2, p.num("c_out"))
            .resistor(o1, Node::Ground, p.num("load_impedance"))
            .resistor(o2, Node::Ground, p.num("load_impedance"))
            .port(g1, k)
            .port(p1, k)
            .port(g2, k)
            .port(p2, k);
        net.output = (o1, o2);
        net
    }

    fn device(&self) -> TriodePair {
        let p = &self.params;
        TriodePair(super::koren_from(p))
    }

    fn table_drive_v(&self) -> Option<f64> {
        self.params.table_drive_v()
    }

    fn max_iterations(&self) -> usize {
        self.params.num("max_iterations") as usize
    }
}
