//! `triode_common_cathode`: a 12AX7 common-cathode gain stage (Koren triode).
//!
//! Circuit (volts in at `Vin`, volts out at `OUT`):
//! ```text
//! Vin ─ source_impedance ─ IN ─ r_grid_stopper ─ G ─ (rgi + diode_rs) ─ D ─|>|─ K
//!                          │                     │                            │
//!                     r_grid_leak          c_grid_plate ─ P ─ c_out ─ OUT     r_cathode ∥ c_cathode
//!                          │                              │            │      │
//!                         gnd              B+ ─ r_plate ──┘    load_impedance gnd
//! ```
//! Plate current flows P → K by Koren's law; the grid diode with `rgi` is the grid
//! conduction path of Koren's SPICE subcircuit. The tube capacitances CCG and CCP (≈1–2 pF)
//! are left out (their poles lie far above the audio band with these impedances, and as
//! stiff modes they would only ring at Nyquist under the trapezoidal rule); the Miller
//! capacitance `c_grid_plate` is kept because with the stage gain it forms a pole in band.

use super::circuit_stage::{CircuitDesign, CircuitStage};
use super::params::{number as num, table_peak, Params, StageSpec, SOLVER};
use crate::circuit::{
    GridDiodeTriode, KorenTriode, Netlist, Node, ShockleyDiode, THERMAL_VOLTAGE_27C,
};
use crate::error::Error;
use crate::monitor::Rails;

pub const KIND: &str = "triode_common_cathode";

pub const SPEC: StageSpec = StageSpec {
    kind: KIND,
    doc: "12AX7 common-cathode stage, Koren triode with grid conduction; damped Newton on a DK reduction",
    params: &[
        num("b_plus", 250.0, 1.0, 1000.0, "V", "plate supply voltage"),
        num("r_plate", 100e3, 1.0, 1e8, "ohm", "plate load resistor Ra"),
        num("r_cathode", 1.5e3, 1.0, 1e7, "ohm", "cathode resistor Rk"),
        num("c_cathode", 22e-6, 0.0, 1.0, "F", "cathode bypass capacitor Ck (0 = unbypassed)"),
        num("r_grid_stopper", 68e3, 1.0, 1e8, "ohm", "grid stopper resistor"),
        num("r_grid_leak", 1e6, 1.0, 1e9, "ohm", "grid leak resistor (input to ground)"),
        num("c_out", 22e-9, 1e-12, 1.0, "F", "output coupling capacitor"),
        num("load_impedance", 1e6, 1.0, 1e12, "ohm", "load on the output (next grid leak)"),
        num("source_impedance", 1e3, 0.0, 1e8, "ohm", "source resistance driving the input"),
        num("c_grid_plate", 2.4e-12, 0.0, 1e-6, "F", "grid-plate (Miller) capacitance CGP"),
        num("mu", 100.0, 1.0, 1000.0, "", "Koren MU (amplification factor)"),
        num("ex", 1.4, 0.5, 3.0, "", "Koren EX (exponent)"),
        num("kg1", 1060.0, 1.0, 1e5, "", "Koren KG1"),
        num("kp", 600.0, 1.0, 1e4, "", "Koren KP"),
        num("kvb", 300.0, 0.0, 1e5, "V^2", "Koren KVB"),
        num("rgi", 2000.0, 1.0, 1e7, "ohm", "grid conduction resistance RGI"),
        num("diode_is", 1e-9, 1e-18, 1e-3, "A", "grid diode saturation current IS"),
        num("diode_rs", 1.0, 0.0, 1e6, "ohm", "grid diode series resistance RS"),
        num("diode_n", 1.0, 0.5, 4.0, "", "grid diode emission coefficient N"),
        num("max_iterations", 50.0, 1.0, 1000.0, "", "Newton iteration limit per sample"),
        SOLVER,
        table_peak(40.0),
    ],
};

/// The 12AX7 common-cathode stage.
pub type TriodeCommonCathode = CircuitStage<TriodeDesign>;

/// Component values of the stage.
pub struct TriodeDesign {
    params: Params,
}

impl CircuitDesign for TriodeDesign {
    type Device = GridDiodeTriode;
    const KIND: &'static str = KIND;

    fn from_params(params: &Params) -> Result<Self, Error> {
        Ok(TriodeDesign {
            params: params.clone(),
        })
    }

    fn netlist(&self) -> Netlist {
        let p = &self.params;
        let mut n = 0;
        let mut node = || {
            n += 1;
            Node::Internal(n - 1)
        };
        let input = if p.num("source_impedance") > 0.0 {
            node()
        } else {
            Node::Source(0)
        };
        let (g, d, k, pl, out) = (node(), node(), node(), node(), node());
        let mut net = Netlist::new(n, &[p.num("b_plus")]);
        // With an ideal source (0 Ω) the grid leak only loads the source and drops out.
        if let Node::Internal(_) = input {
            net.resistor(Node::Source(0), input, p.num("source_impedance"));
            net.resistor(input, Node::Ground, p.num("r_grid_leak"));
        }
        net.resistor(input, g, p.num("r_grid_stopper"))
            .resistor(g, d, p.num("rgi") + p.num("diode_rs"))
            .resistor(k, Node::Ground, p.num("r_cathode"))
            .capacitor(k, Node::Ground, p.num("c_cathode"))
            .resistor(Node::Source(1), pl, p.num("r_plate"))
            .capacitor(g, pl, p.num("c_grid_plate"))
            .capacitor(pl, out, p.num("c_out"))
            .resistor(out, Node::Ground, p.num("load_impedance"))
            .port(d, k)
            .port(g, k)
            .port(pl, k);
        net.output = (out, Node::Ground);
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

    /// Monitor: the supply is ideal (no supply node); a rail excursion is a plate-to-cathode
    /// voltage (port 2) outside [0, B+].
    fn rails(&self, v: &[f64]) -> Option<Rails> {
        Some(Rails {
            supply_v: f64::NAN,
            excursion: !(0.0..=self.params.num("b_plus")).contains(&v[2]),
        })
    }
}

impl TriodeDesign {
    /// The Koren plate-current law with this stage's constants.
    fn koren(&self) -> KorenTriode {
        super::koren_from(&self.params)
    }
}

impl TriodeCommonCathode {
    /// DC operating point after `prepare`: (Vgk, Vpk) in volts and plate current in amps.
    pub fn operating_point(&self) -> Option<(f64, f64, f64)> {
        let s = self.solver.as_ref()?;
        let v = s.rest_port_voltages();
        let (ip, _, _) = self.design.koren().plate_current(v[1], v[2]);
        Some((v[1], v[2], ip))
    }
}
