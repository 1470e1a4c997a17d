//! Nonlinear devices as port current laws `i = f(v)` with analytic Jacobians.
//!
//! Port arrays are fixed at [`MAX_PORTS`](super::MAX_PORTS) = 4 entries; the Jacobian is
//! row-major with stride 4: `jac[k*4 + j] = ∂i_k/∂v_j` (A/V).

/// The nonlinear part of a circuit, seen through its ports.
pub trait Nonlinearity: Send {
    /// Number of ports (≤ 4). A constant, so that the per-sample loops unroll.
    const PORTS: usize;
    /// Port currents `i` (A) and Jacobian `jac` (A/V) at port voltages `v` (V).
    fn eval(&self, v: &[f64; 4], i: &mut [f64; 4], jac: &mut [f64; 16]);
    /// Restricts a Newton update (junction limiting, as SPICE's `pnjlim`). Default: none.
    fn limit(&self, _v_old: &[f64; 4], _v_new: &mut [f64; 4]) {}
    /// Starting point for the DC Newton solve (V).
    fn dc_guess(&self) -> [f64; 4] {
        [0.0; 4]
    }
    /// Ports whose voltage enters the device law (the rest only carry current).
    const SENSED: [bool; 4] = [true; 4];
    /// Ports that carry current (the rest only sense a voltage).
    const DRIVEN: [bool; 4] = [true; 4];
    /// Two independent halves — each port belongs to one, and a half's currents depend on
    /// its own ports only — for the split solution tables (`DkSolver::tabulate`).
    const HALVES: Option<[Half; 2]> = None;
    /// How many of the ports carry current.
    const DRIVEN_PORTS: usize = driven_ports(Self::PORTS, Self::DRIVEN);
}

/// The number of `driven` flags set among the first `ports`.
const fn driven_ports(ports: usize, driven: [bool; 4]) -> usize {
    let (mut n, mut a) = (0, 0);
    while a < ports && a < 4 {
        if driven[a] {
            n += 1;
        }
        a += 1;
    }
    n
}

/// One half of a device made of two independent parts: two sensed ports and the one port
/// that carries its current.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Half {
    pub sense: [usize; 2],
    pub driven: usize,
}

/// A linear circuit: no ports.
pub struct Linear;

impl Nonlinearity for Linear {
    const PORTS: usize = 0;
    fn eval(&self, _v: &[f64; 4], _i: &mut [f64; 4], _jac: &mut [f64; 16]) {}
}

/// Exponent beyond which `exp` is continued linearly (value and slope continuous), so that
/// a Newton overshoot can never overflow. e^80 A·IS is far beyond any real junction current.
const EXP_LINEAR_ABOVE: f64 = 80.0;

/// Exponent below which a junction's `exp` is not evaluated: e^−40 < 4.3e-18 < 2⁻⁵⁴, so
/// `IS·(e^x − 1)` rounds to exactly −IS, and the dropped conductance is below
/// 4.3e-18·IS/(N·Vt). In the Newton matrix `K·∂f/∂v − I` it adds |K|·g: for the triode's grid
/// diode (|K| ≈ 70 kΩ, IS/(N·Vt) ≈ 3.9e-8 S) about 1e-20, far under f64 rounding of the unit
/// diagonal, so the solution is unchanged.
const EXP_NEGLIGIBLE_BELOW: f64 = -40.0;

/// `exp(x)` continued linearly above [`EXP_LINEAR_ABOVE`]; returns (value, derivative).
#[inline(always)]
fn exp_limited(x: f64) -> (f64, f64) {
    if x > EXP_LINEAR_ABOVE {
        let e = EXP_LINEAR_ABOVE.exp();
        (e * (1.0 + x - EXP_LINEAR_ABOVE), e)
    } else {
        let e = x.exp();
        (e, e)
    }
}

/// SPICE's `pnjlim`: limits a junction-voltage Newton step to a logarithmic increase above
/// the critical voltage `vcrit`, which keeps `exp` in range and Newton convergent.
#[inline]
fn pnjlim(v_new: f64, v_old: f64, n_vt: f64, vcrit: f64) -> f64 {
    if v_new > vcrit && (v_new - v_old).abs() > 2.0 * n_vt {
        if v_old > 0.0 {
            let arg = 1.0 + (v_new - v_old) / n_vt;
            if arg > 0.0 {
                v_old + n_vt * arg.ln()
            } else {
                vcrit
            }
        } else {
            n_vt * (v_new / n_vt).ln()
        }
    } else {
        v_new
    }
}

/// A Shockley junction: `i = IS·(exp(v/(N·Vt)) − 1)`. Series resistance belongs in the
/// netlist as a resistor. Constant terms are folded in [`ShockleyDiode::new`].
#[derive(Debug, Clone, Copy)]
pub struct ShockleyDiode {
    /// Saturation current IS (A).
    is: f64,
    /// Emission coefficient times thermal voltage, N·Vt (V).
    n_vt: f64,
    /// 1/(N·Vt) (1/V).
    inv_n_vt: f64,
    /// SPICE critical voltage (V), see [`ShockleyDiode::vcrit`].
    vcrit: f64,
}

impl ShockleyDiode {
    /// A junction with saturation current `is` (A), emission coefficient `n` and thermal
    /// voltage `vt` (V).
    pub fn new(is: f64, n: f64, vt: f64) -> Self {
        let n_vt = n * vt;
        ShockleyDiode {
            is,
            n_vt,
            inv_n_vt: 1.0 / n_vt,
            vcrit: n_vt * (n_vt / (std::f64::consts::SQRT_2 * is)).ln(),
        }
    }

    /// Current (A) and conductance (S) at junction voltage `v` (V).
    #[inline(always)]
    pub fn current(&self, v: f64) -> (f64, f64) {
        let x = v * self.inv_n_vt;
        if x < EXP_NEGLIGIBLE_BELOW {
            return (-self.is, 0.0);
        }
        let (e, de) = exp_limited(x);
        (self.is * (e - 1.0), self.is * de * self.inv_n_vt)
    }

    /// SPICE critical voltage: where the diode's current curve bends (V).
    pub fn vcrit(&self) -> f64 {
        self.vcrit
    }

    #[inline]
    fn limit(&self, v_new: f64, v_old: f64) -> f64 {
        pnjlim(v_new, v_old, self.n_vt, self.vcrit)
    }
}

/// Two identical diodes in antiparallel across one port: `i = 2·IS·sinh(v/(N·Vt))`.
#[derive(Debug, Clone, Copy)]
pub struct DiodePair(pub ShockleyDiode);

impl Nonlinearity for DiodePair {
    const PORTS: usize = 1;

    /// One `exp` per evaluation: with `E = e^|x|`, `i = ±IS·(E − 1/E)` and
    /// `g = IS/(N·Vt)·(E + 1/E)`.
    #[inline]
    fn eval(&self, v: &[f64; 4], i: &mut [f64; 4], jac: &mut [f64; 16]) {
        let d = &self.0;
        let x = v[0] * d.inv_n_vt;
        let (e, de) = exp_limited(x.abs());
        let e_inv = 1.0 / e;
        i[0] = (d.is * (e - e_inv)).copysign(x);
        jac[0] = d.is * d.inv_n_vt * (de + e_inv);
    }

    fn limit(&self, v_old: &[f64; 4], v_new: &mut [f64; 4]) {
        let s = if v_new[0] >= 0.0 { 1.0 } else { -1.0 };
        v_new[0] = s * self.0.limit(s * v_new[0], s * v_old[0]);
    }
}

/// Koren's triode plate-current law (N. Koren, "Improved VT models for SPICE simulations",
/// 1996). Voltages in V, current in A.
#[derive(Debug, Clone, Copy)]
pub struct KorenTriode {
    pub mu: f64,
    pub ex: f64,
    pub kg1: f64,
    pub kp: f64,
    pub kvb: f64,
}

impl KorenTriode {
    /// 12AX7 constants from Koren's library (MU=100, EX=1.4, KG1=1060, KP=600, KVB=300).
    pub const TWELVE_AX7: KorenTriode = KorenTriode {
        mu: 100.0,
        ex: 1.4,
        kg1: 1060.0,
        kp: 600.0,
        kvb: 300.0,
    };

    /// Plate current Ip (A) and its partials ∂Ip/∂Vgk, ∂Ip/∂Vpk (S).
    ///
    /// E1 = Vpk/KP · ln(1 + exp(KP·(1/MU + Vgk/√(KVB + Vpk²)))),
    /// Ip = pwr(E1, EX)/KG1 · (1 + sgn E1), with ngspice's pwr(x, y) = sgn(x)·|x|^y, so
    /// Ip = 2·E1^EX/KG1 for E1 > 0 and 0 otherwise.
    pub fn plate_current(&self, vgk: f64, vpk: f64) -> (f64, f64, f64) {
        KorenLaw::new(self).plate_current(vgk, vpk)
    }
}

/// [`KorenTriode`] with its constant terms folded (reciprocals, KP/MU, EX − 1), for the
/// per-sample path: one `sqrt`, two divisions, `exp`, `ln` (`ln_1p` below the knee),
/// `ln` and `exp` per evaluation.
#[derive(Debug, Clone, Copy)]
struct KorenLaw {
    kp: f64,
    inv_kp: f64,
    kp_over_mu: f64,
    kvb: f64,
    ex: f64,
    ex_minus_1: f64,
    two_over_kg1: f64,
}

/// Softplus argument beyond which ln(1 + e^a) = a to within e^−30/30 < 4e-15 relative.
const SOFTPLUS_LINEAR_ABOVE: f64 = 30.0;
/// Softplus argument below which ln(1 + e^a) = e^a to within e^−30/2 < 5e-14 relative.
const SOFTPLUS_EXP_BELOW: f64 = -30.0;
/// Above this softplus argument ln(1 + e^a) is computed as `ln` of the rounded 1 + e^a: the
/// absolute error ≤ 2⁻⁵³ is then ≤ 9e-16 relative to ln(1 + e^−2) = 0.127. Below it
/// `ln_1p` keeps full relative accuracy.
const SOFTPLUS_LN_ABOVE: f64 = -2.0;

impl KorenLaw {
    fn new(t: &KorenTriode) -> Self {
        KorenLaw {
            kp: t.kp,
            inv_kp: 1.0 / t.kp,
            kp_over_mu: t.kp / t.mu,
            kvb: t.kvb,
            ex: t.ex,
            ex_minus_1: t.ex - 1.0,
            two_over_kg1: 2.0 / t.kg1,
        }
    }

    /// As [`KorenTriode::plate_current`].
    #[inline(always)]
    fn plate_current(&self, vgk: f64, vpk: f64) -> (f64, f64, f64) {
        let s2 = self.kvb + vpk * vpk;
        let inv_s = 1.0 / s2.sqrt();
        let a = self.kp_over_mu + self.kp * vgk * inv_s;
        // softplus(a) = ln(1 + e^a) and its derivative sigmoid(a), both overflow-safe.
        let (softplus, sigmoid) = if a > SOFTPLUS_LINEAR_ABOVE {
            (a, 1.0)
        } else {
            let e = a.exp();
            if a < SOFTPLUS_EXP_BELOW {
                (e, e)
            } else {
                let one_e = 1.0 + e;
                let sp = if a > SOFTPLUS_LN_ABOVE {
                    one_e.ln()
                } else {
                    e.ln_1p()
                };
                (sp, e / one_e)
            }
        };
        let e1 = vpk * self.inv_kp * softplus;
        if e1.is_nan() || e1 <= 0.0 {
            return (0.0, 0.0, 0.0);
        }
        let e1_pow_m1 = (self.ex_minus_1 * e1.ln()).exp(); // E1^(EX−1)
        let ip = self.two_over_kg1 * e1_pow_m1 * e1;
        let dip_de1 = self.two_over_kg1 * self.ex * e1_pow_m1;
        let de1_dvgk = vpk * sigmoid * inv_s;
        let de1_dvpk = softplus * self.inv_kp - sigmoid * vgk * vpk * vpk * inv_s * inv_s * inv_s;
        (ip, dip_de1 * de1_dvgk, dip_de1 * de1_dvpk)
    }
}

/// A triode with Koren plate current and a grid-conduction diode (the Koren SPICE
/// subcircuit's `RGI` + diode from grid to cathode). Ports:
/// 0 = grid-diode junction (D, K), 1 = grid–cathode sense (G, K; carries no current),
/// 2 = plate–cathode (P, K).
#[derive(Debug, Clone, Copy)]
pub struct GridDiodeTriode {
    triode: KorenLaw,
    grid_diode: ShockleyDiode,
}

impl GridDiodeTriode {
    pub fn new(triode: &KorenTriode, grid_diode: ShockleyDiode) -> Self {
        GridDiodeTriode {
            triode: KorenLaw::new(triode),
            grid_diode,
        }
    }
}

impl Nonlinearity for GridDiodeTriode {
    const PORTS: usize = 3;
    const SENSED: [bool; 4] = [true, true, true, false];
    const DRIVEN: [bool; 4] = [true, false, true, false];

    #[inline]
    fn eval(&self, v: &[f64; 4], i: &mut [f64; 4], jac: &mut [f64; 16]) {
        let (id, gd) = self.grid_diode.current(v[0]);
        let (ip, gm, gp) = self.triode.plate_current(v[1], v[2]);
        i[0] = id;
        i[1] = 0.0;
        i[2] = ip;
        jac[0] = gd;
        jac[4 + 1] = 0.0;
        jac[8 + 1] = gm;
        jac[8 + 2] = gp;
    }

    fn limit(&self, v_old: &[f64; 4], v_new: &mut [f64; 4]) {
        v_new[0] = self.grid_diode.limit(v_new[0], v_old[0]);
    }

    fn dc_guess(&self) -> [f64; 4] {
        [-1.5, -1.5, 150.0, 0.0]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn koren_partials_match_finite_differences() {
        let t = KorenTriode::TWELVE_AX7;
        for &(vgk, vpk) in &[(-1.0, 150.0), (-0.2, 80.0), (-3.0, 250.0), (0.5, 40.0)] {
            let (_, gm, gp) = t.plate_current(vgk, vpk);
            let h = 1e-6;
            let fd_gm =
                (t.plate_current(vgk + h, vpk).0 - t.plate_current(vgk - h, vpk).0) / (2.0 * h);
            let fd_gp =
                (t.plate_current(vgk, vpk + h).0 - t.plate_current(vgk, vpk - h).0) / (2.0 * h);
            assert!(
                (gm - fd_gm).abs() <= 1e-6 * gm.abs().max(1e-9),
                "gm {gm} vs {fd_gm}"
            );
            assert!(
                (gp - fd_gp).abs() <= 1e-6 * gp.abs().max(1e-9),
                "gp {gp} vs {fd_gp}"
            );
        }
    }

    #[test]
    fn koren_cuts_off_for_negative_plate_voltage() {
        assert_eq!(KorenTriode::TWELVE_AX7.plate_current(0.0, -10.0).0, 0.0);
    }

    #[test]
    fn diode_pair_is_odd_and_never_overflows() {
        let d = DiodePair(ShockleyDiode::new(
            2.52e-9,
            1.752,
            super::super::THERMAL_VOLTAGE_27C,
        ));
        let (mut i, mut j) = ([0.0; 4], [0.0; 16]);
        d.eval(&[0.3, 0.0, 0.0, 0.0], &mut i, &mut j);
        let pos = i[0];
        d.eval(&[-0.3, 0.0, 0.0, 0.0], &mut i, &mut j);
        assert!((pos + i[0]).abs() < 1e-18);
        d.eval(&[1e6, 0.0, 0.0, 0.0], &mut i, &mut j);
        assert!(i[0].is_finite() && j[0].is_finite());
    }
}
