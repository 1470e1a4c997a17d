//! `power_amp`: an EL84 push-pull class-AB output stage with supply sag (Koren pentode
//! plate law), through an ideal centre-tapped output transformer into a nominal speaker
//! load. Output: the speaker voltage (V).
//!
//! ```text
//! v_supply ─ r_supply ─ BP ─┬─ c_reservoir ─ gnd        (B+ sags under load, recovers
//!                           ├─ screens (both tubes)       with r_supply·c_reservoir)
//!                           └─ centre tap ─ ½-primary ─ Pa, ½-primary ─ Pb
//! grids: Vga = v_bias + Vin/2, Vgb = v_bias − Vin/2; cathodes at ground
//! S ─ speaker_load ─ gnd     (secondary; OUT = V(S))
//! ```
//! The ideal transformer (full primary : secondary = n = √(raa/speaker_load)) ties the
//! plates to the secondary: Va = V(BP) − (n/2)·V(S), Vb = V(BP) + (n/2)·V(S), and its
//! ampere-turn balance makes the secondary current (n/2)·(Ia − Ib), so each plate sees
//! raa/4 while both conduct and the conducting one raa/4 alone in class B — the push-pull
//! load line. Ports: 0 = (Vin, gnd) sense (the grid drive), 1 = (BP, gnd) carrying the
//! current both plates and screens draw from B+, 2 = (gnd, S) carrying the secondary
//! current into the speaker load. `tubes_per_side` parallel tubes multiply the currents.
//!
//! Pentode law (Koren's form): E1 = (Vg2/KP)·ln(1 + exp(KP·(1/MU + Vg1/Vg2))),
//! Ip = E1^EX·atan(max(Vp, 0)/KVB)/KG1, Ig2 = E1^EX/KG2 (0 for E1 ≤ 0). The constants are
//! fitted here to the EL84 data-sheet class-AB point (Va = Vg2 = 250 V, Vg1 = −7.3 V:
//! Ia = 48 mA, Ig2 = 5.5 mA, gm ≈ 11 mA/V, μ(g2→g1) = 19), not copied from a model library.
//!
//! Approximations (each documented, each a known difference from an AC30):
//! - fixed bias (`v_bias` on both grids, cathodes grounded) stands for the AC30's shared,
//!   bypassed cathode resistor: the idle current matches, the bias shift under drive does
//!   not happen;
//! - the screens sit on B+ (no screen resistor or choke), and their current does not rise
//!   when the plate swings below the knee;
//! - the grids are driven by an ideal ±Vin/2 (no grid current, no grid stoppers): the
//!   inverter's output impedance and power-grid blocking are not modelled;
//! - the rectifier is an ideal `v_supply` behind `r_supply` (tube rectifier plus winding
//!   resistance); mains ripple is not modelled;
//! - the transformer is ideal here (no magnetizing or leakage inductance: that is
//!   `output_transformer`) and the speaker is a resistor (no voice-coil inductance or
//!   cone resonance: the speaker-load interaction is this nominal load only).

use super::circuit_stage::{CircuitDesign, CircuitStage};
use super::params::{number as num, table_peak, Params, StageSpec, SOLVER};
use crate::circuit::{Netlist, Node, Nonlinearity};
use crate::error::Error;
use crate::monitor::Rails;

pub const KIND: &str = "power_amp";

pub const SPEC: StageSpec = StageSpec {
    kind: KIND,
    doc: "EL84 push-pull class AB (Koren pentode), supply sag, ideal centre-tapped OT into a nominal speaker load",
    params: &[
        num("v_supply", 360.0, 10.0, 1000.0, "V", "rectifier output (unloaded B+)"),
        num("r_supply", 250.0, 0.1, 1e5, "ohm", "rectifier and winding source resistance"),
        num("c_reservoir", 32e-6, 1e-7, 1.0, "F", "reservoir capacitor on B+"),
        num("v_bias", -13.0, -200.0, 0.0, "V", "control-grid bias of both tubes"),
        num("raa", 3.5e3, 10.0, 1e6, "ohm", "plate-to-plate load reflected by the transformer"),
        num("speaker_load", 8.0, 0.1, 1e4, "ohm", "nominal speaker load on the secondary"),
        num("tubes_per_side", 2.0, 1.0, 4.0, "", "parallel tubes per side (AC30: 2)"),
        num("mu", 19.0, 1.0, 1000.0, "", "Koren MU (screen-to-grid amplification factor)"),
        num("ex", 1.35, 0.5, 3.0, "", "Koren EX"),
        num("kg1", 338.0, 1.0, 1e5, "", "Koren KG1 (plate)"),
        num("kg2", 1979.0, 1.0, 1e6, "", "Koren KG2 (screen)"),
        num("kp", 200.0, 1.0, 1e4, "", "Koren KP"),
        num("kvb", 20.0, 0.1, 1e4, "V", "Koren KVB (knee)"),
        num("max_iterations", 50.0, 1.0, 1000.0, "", "Newton iteration limit per sample"),
        SOLVER,
        table_peak(300.0),
    ],
};

/// Softplus argument beyond which ln(1 + e^a) = a to double precision.
const SOFTPLUS_LINEAR_ABOVE: f64 = 36.0;
/// Screen voltage (V) below which the tube is taken as cut off (no E1 can form).
const MIN_SCREEN_VOLTS: f64 = 1e-3;

/// Koren's pentode law (plate and screen currents) with the constants in this module's `SPEC`.
#[derive(Debug, Clone, Copy)]
pub struct Pentode {
    pub mu: f64,
    pub ex: f64,
    pub kg1: f64,
    pub kg2: f64,
    pub kp: f64,
    pub kvb: f64,
}

/// Plate and screen currents (A) and their partials (S).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PentodeCurrents {
    pub ip: f64,
    pub dip_dvg: f64,
    pub dip_dvp: f64,
    pub dip_dvs: f64,
    pub is: f64,
    pub dis_dvg: f64,
    pub dis_dvs: f64,
}

impl Pentode {
    /// Currents at grid `vg`, plate `vp` and screen `vs` voltages (V, cathode-referred).
    pub fn currents(&self, vg: f64, vp: f64, vs: f64) -> PentodeCurrents {
        if vs.is_nan() || vs < MIN_SCREEN_VOLTS {
            return PentodeCurrents::default();
        }
        let a = self.kp * (1.0 / self.mu + vg / vs);
        let (sp, sg) = if a > SOFTPLUS_LINEAR_ABOVE {
            (a, 1.0)
        } else {
            let e = a.exp();
            (e.ln_1p(), e / (1.0 + e))
        };
        let e1 = vs / self.kp * sp;
        if e1.is_nan() || e1 <= 0.0 {
            return PentodeCurrents::default();
        }
        let e1_pow_m1 = ((self.ex - 1.0) * e1.ln()).exp();
        let pk = e1_pow_m1 * e1;
        let dpk = self.ex * e1_pow_m1;
        let de1_dvs = sp / self.kp - sg * vg / vs;
        let x = vp.max(0.0) / self.kvb;
        let at = x.atan();
        let dat = if vp > 0.0 {
            1.0 / (self.kvb * (1.0 + x * x))
        } else {
            0.0
        };
        PentodeCurrents {
            ip: pk * at / self.kg1,
            dip_dvg: dpk * sg * at / self.kg1,
            dip_dvp: pk * dat / self.kg1,
            dip_dvs: dpk * de1_dvs * at / self.kg1,
            is: pk / self.kg2,
            dis_dvg: dpk * sg / self.kg2,
            dis_dvs: dpk * de1_dvs / self.kg2,
        }
    }
}

/// The push-pull pair behind an ideal centre-tapped transformer, seen through three ports
/// (see the module doc): 0 = drive sense, 1 = B+ (total current drawn), 2 = secondary.
#[derive(Debug, Clone, Copy)]
pub struct PushPullPentodes {
    pub tube: Pentode,
    pub v_bias: f64,
    /// Half the full-primary-to-secondary turns ratio, n/2.
    pub half_ratio: f64,
    pub tubes_per_side: f64,
}

impl PushPullPentodes {
    /// (tube A, tube B) currents at port voltages `v`.
    pub fn tube_currents(&self, v: &[f64; 4]) -> (PentodeCurrents, PentodeCurrents) {
        let c = self.half_ratio;
        let a = self
            .tube
            .currents(self.v_bias + 0.5 * v[0], v[1] + c * v[2], v[1]);
        let b = self
            .tube
            .currents(self.v_bias - 0.5 * v[0], v[1] - c * v[2], v[1]);
        (a, b)
    }
}

impl Nonlinearity for PushPullPentodes {
    const PORTS: usize = 3;
    const SENSED: [bool; 4] = [true, true, true, false];
    const DRIVEN: [bool; 4] = [false, true, true, false];

    #[inline]
    fn eval(&self, v: &[f64; 4], i: &mut [f64; 4], jac: &mut [f64; 16]) {
        let (a, b) = self.tube_currents(v);
        let (c, n) = (self.half_ratio, self.tubes_per_side);
        i[0] = 0.0;
        i[1] = n * (a.ip + b.ip + a.is + b.is);
        i[2] = n * c * (a.ip - b.ip);
        i[3] = 0.0;
        jac.fill(0.0);
        // ∂/∂v0: grid A moves +½, grid B −½.
        jac[4] = n * 0.5 * (a.dip_dvg + a.dis_dvg - b.dip_dvg - b.dis_dvg);
        // ∂/∂v1: screens and plates both follow B+.
        jac[4 + 1] = n * (a.dip_dvp + a.dip_dvs + a.dis_dvs + b.dip_dvp + b.dip_dvs + b.dis_dvs);
        // ∂/∂v2: plate A moves +c, plate B −c.
        jac[4 + 2] = n * c * (a.dip_dvp - b.dip_dvp);
        jac[8] = n * c * 0.5 * (a.dip_dvg + b.dip_dvg);
        jac[8 + 1] = n * c * (a.dip_dvp + a.dip_dvs - b.dip_dvp - b.dip_dvs);
        jac[8 + 2] = n * c * c * (a.dip_dvp + b.dip_dvp);
    }

    fn dc_guess(&self) -> [f64; 4] {
        [0.0, 300.0, 0.0, 0.0]
    }
}

/// The power stage.
pub type PowerAmp = CircuitStage<PowerAmpDesign>;

pub struct PowerAmpDesign {
    params: Params,
}

impl PowerAmpDesign {
    pub fn device_of(p: &Params) -> PushPullPentodes {
        PushPullPentodes {
            tube: Pentode {
                mu: p.num("mu"),
                ex: p.num("ex"),
                kg1: p.num("kg1"),
                kg2: p.num("kg2"),
                kp: p.num("kp"),
                kvb: p.num("kvb"),
            },
            v_bias: p.num("v_bias"),
            half_ratio: 0.5 * (p.num("raa") / p.num("speaker_load")).sqrt(),
            tubes_per_side: p.num("tubes_per_side").round(),
        }
    }
}

impl CircuitDesign for PowerAmpDesign {
    type Device = PushPullPentodes;
    const KIND: &'static str = KIND;

    fn from_params(params: &Params) -> Result<Self, Error> {
        Ok(PowerAmpDesign {
            params: params.clone(),
        })
    }

    fn netlist(&self) -> Netlist {
        let p = &self.params;
        let (bp, s) = (Node::Internal(0), Node::Internal(1));
        let mut net = Netlist::new(2, &[p.num("v_supply")]);
        net.resistor(Node::Source(1), bp, p.num("r_supply"))
            .capacitor(bp, Node::Ground, p.num("c_reservoir"))
            .resistor(s, Node::Ground, p.num("speaker_load"))
            .port(Node::Source(0), Node::Ground)
            .port(bp, Node::Ground)
            .port(Node::Ground, s);
        net.output = (s, Node::Ground);
        net
    }

    fn device(&self) -> PushPullPentodes {
        Self::device_of(&self.params)
    }

    fn table_drive_v(&self) -> Option<f64> {
        self.params.table_drive_v()
    }

    fn max_iterations(&self) -> usize {
        self.params.num("max_iterations") as usize
    }

    /// Monitor: the supply node is B+ (port 1); a rail excursion is a plate
    /// (V(BP) ∓ (n/2)·V(S)) below 0 V — below its cathode, where the plate law has no
    /// current — or above 2·`v_supply`, beyond the swing an ideal transformer allows.
    fn rails(&self, v: &[f64]) -> Option<Rails> {
        let c = 0.5 * (self.params.num("raa") / self.params.num("speaker_load")).sqrt();
        let top = 2.0 * self.params.num("v_supply");
        let (va, vb) = (v[1] + c * v[2], v[1] - c * v[2]);
        Some(Rails {
            supply_v: v[1],
            excursion: !((0.0..=top).contains(&va) && (0.0..=top).contains(&vb)),
        })
    }
}
