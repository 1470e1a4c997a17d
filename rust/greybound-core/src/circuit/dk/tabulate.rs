//! The tabulated K-method: the port equation `v = p + K·f(v)` solved once, in `prepare`, on
//! a grid of its drive `p`, and per sample by a table lookup instead of Newton.
//!
//! The solution (the port currents) is a smooth function of `p`, which is linear in the
//! input and the capacitor states. What a table needs is few dimensions:
//! - **Single**: the drive of the ports whose voltage enters the device law ("sensed"
//!   ports) spans at most two dimensions — the column space of `[∂p/∂u₀ | ∂p/∂h]` restricted
//!   to them, found by Gram–Schmidt. The table maps those coordinates `z` to the currents of
//!   the current-carrying ("driven") ports. A triode stage has three sensed ports but a
//!   two-dimensional drive (its grid-diode node and grid sit at the same voltage when no
//!   current flows); the push-pull stage's drive is the grid input and the B+ reservoir.
//! - **Split**: a device made of two independent halves, each with two sensed ports and one
//!   driven port (the long-tailed pair: two triodes coupled only through the network). Each
//!   half gets its own table — its port equation with the half's own coupling `K_hh`
//!   absorbed, as a function of its drive plus the other half's contribution — and the
//!   coupling is solved per sample by Newton on the two plate currents jointly (two
//!   independent lookups per iteration, gradients from the tables), started from the last
//!   solution moved along its tangent.
//!
//! Tables are cubic Hermite ([`HermiteTable`]) on the exact solution and its exact gradient
//! (implicit function theorem: `∂i/∂p = J·(I − K·J)⁻¹` at the solution). Their domain is
//! the range the drive covered during an exploration run (Newton, [`exploration`]) plus a
//! margin. A drive outside the tables (a state the exploration never reached) falls back
//! to the exact Newton solve for that sample and is counted (`DkSolver::table_misses`).

use super::{eval_at, newton, DkSolver, MAX_CAPS, MAX_PORTS};
use crate::circuit::devices::{Half, Nonlinearity};
use crate::circuit::linalg::invert;
use crate::circuit::table::{Axis, HermiteTable, NodeSample};
use crate::error::Error;

/// Nodes per axis of a two-dimensional table. Measured on the Nox30 stages (0.5 s DI
/// phrase at guitar level and driven hard, table vs Newton): 65 nodes keep the output
/// error under 1e-5 of peak; see `table_matches_newton` tests in the stages.
pub const NODES_2D: usize = 65;
/// Nodes of a one-dimensional table.
pub const NODES_1D: usize = 1025;
/// Margin added on each side of the explored drive range, as a fraction of the range.
const MARGIN: f64 = 0.15;
/// Absolute margin (V) so that a coordinate the exploration never moved still gets a cell.
const MARGIN_ABS_V: f64 = 1e-3;
/// Points per curvature scan line of an adaptive axis.
const SCAN_POINTS: usize = 513;
/// Scan lines per axis of a two-dimensional table (across the other coordinate's range).
const SCAN_LINES: usize = 5;
/// Gram–Schmidt drops a direction whose remainder is below this fraction of its norm.
const RANK_TOL: f64 = 1e-9;
/// Split solve: the Newton step on the two plate currents (A) below which the step is
/// accepted, applied along the linearization. The error left is second order in the step.
/// Measured on the Nox30's inverter input: 1.43 iterations per sample and the same output
/// error against Newton (1.6e-4 of peak, the tables' own) as at 1e-7 A (1.77 iterations);
/// at 1e-5 A the second-order remainder shows (1.7e-3 of peak at 40 V).
const SPLIT_TOL_A: f64 = 1e-6;
/// Split solve: iterations before the sample falls back to the full Newton solve.
const SPLIT_MAX_ITER: usize = 6;

/// One table over the whole device (see the module doc).
#[derive(Debug, Clone)]
pub(super) struct Single {
    table: HermiteTable,
    /// z = zu0·u₀ + Σ_c zh[c]·h_c: the drive change (V) of the coordinate ports.
    zu0: [f64; 2],
    zh: [[f64; 2]; MAX_CAPS],
    /// `Σ_c zh[c]·h_c` for the next sample, carried from the last one's state update
    /// (`carry`): the lookup then waits on two FMAs after the port currents instead of the
    /// whole history update. `zi[a][d]` = Σ_c zh[c][d]·2gc_c·∂vc_c/∂i_a.
    z_carry: [f64; 2],
    zi: [[f64; 2]; MAX_PORTS],
}

#[derive(Debug, Clone)]
pub(super) struct Split {
    tables: [HermiteTable; 2],
    /// Coupling (V/A) of the other half's current into each half's two table coordinates:
    /// `K[sense][other driven]`.
    couple: [[f64; 2]; 2],
    /// The tangent predictor: the last solved drive and the solution's sensitivities
    /// `∂(i_a, w)/∂(p_a, p_b)` (A/V) from that solve's gradients.
    p_prev: [f64; MAX_PORTS],
    sens: [[f64; 2]; 4],
}

#[derive(Debug, Clone)]
// One per solver, built once in `prepare` and never moved on the audio path.
#[allow(clippy::large_enum_variant)]
pub(super) enum Tabulation {
    Single(Single),
    Split(Split),
}

/// Drive `p` of every port (V) at input `u0` and capacitor history `h`.
#[inline(always)]
pub(super) fn drive<const NC: usize>(
    pu0: &[f64; MAX_PORTS],
    ph: &[[f64; MAX_PORTS]; MAX_CAPS],
    p_const: &[f64; MAX_PORTS],
    h: &[f64; MAX_CAPS],
    u0: f64,
    np: usize,
) -> [f64; MAX_PORTS] {
    let mut p = *p_const;
    for a in 0..np {
        p[a] = pu0[a].mul_add(u0, p[a]);
    }
    for c in 0..NC {
        for a in 0..np {
            p[a] = ph[c][a].mul_add(h[c], p[a]);
        }
    }
    p
}

impl Single {
    /// Port currents (A) into `i` for input `u0` (V) and history `h`; `false` outside the
    /// table. The table's outputs are `N`'s driven ports in order (a constant of the
    /// device, so the mapping folds at compile time).
    #[inline(always)]
    pub(super) fn solve<N: Nonlinearity>(&self, u0: f64, i: &mut [f64; MAX_PORTS]) -> bool {
        let z = [
            self.zu0[0].mul_add(u0, self.z_carry[0]),
            self.zu0[1].mul_add(u0, self.z_carry[1]),
        ];
        let Some(values) = self.table.values(z, N::DRIVEN_PORTS) else {
            return false;
        };
        let mut outputs = values.iter();
        for a in 0..N::PORTS {
            if N::DRIVEN[a] {
                if let Some(v) = outputs.next() {
                    i[a] = *v;
                }
            }
        }
        true
    }

    /// Sets the carried coordinates for the next sample from this one's history update
    /// `h' = 2gc·(base + Q_i·i) − h`, expanded so the currents enter last.
    #[inline(always)]
    pub(super) fn carry<N: Nonlinearity, const NC: usize>(
        &mut self,
        base: &[f64; MAX_CAPS],
        h: &[f64; MAX_CAPS],
        two_gc: &[f64; MAX_CAPS],
        i: &[f64; MAX_PORTS],
    ) {
        // Lanes over the capacitors, then over both coordinates (a one-dimensional table's
        // second coordinate has zero weights).
        let mut g = [0.0; MAX_CAPS];
        for c in 0..MAX_CAPS {
            g[c] = two_gc[c].mul_add(base[c], -h[c]);
        }
        let mut z = [0.0; 2];
        for c in 0..NC {
            for d in 0..2 {
                z[d] = self.zh[c][d].mul_add(g[c], z[d]);
            }
        }
        for a in 0..N::PORTS {
            if N::DRIVEN[a] {
                for d in 0..2 {
                    z[d] = self.zi[a][d].mul_add(i[a], z[d]);
                }
            }
        }
        self.z_carry = z;
    }

    /// Sets the carried coordinates from a history `h` (after a reset).
    pub(super) fn anchor(&mut self, h: &[f64; MAX_CAPS]) {
        for d in 0..2 {
            self.z_carry[d] = (0..MAX_CAPS).map(|c| self.zh[c][d] * h[c]).sum();
        }
    }
}

impl Split {
    /// Forgets the predictor (after a reset).
    pub(super) fn reset(&mut self) {
        self.sens = [[0.0; 2]; 4];
    }

    /// Port currents (A) into `i` (holding the previous sample's) for drive `p`; `false`
    /// outside a table or without convergence. `halves` is the device's constant
    /// ([`Nonlinearity::HALVES`]), so that the port indices fold at compile time.
    #[inline(always)]
    pub(super) fn solve(
        &mut self,
        halves: [Half; 2],
        p: &[f64; MAX_PORTS],
        i: &mut [f64; MAX_PORTS],
    ) -> bool {
        let [a, b] = halves;
        let [ka, kb] = self.couple;
        // First guess: the last solution moved along its tangent by the drive's change.
        let dpa = a.sense.map(|s| p[s] - self.p_prev[s]);
        let dpb = b.sense.map(|s| p[s] - self.p_prev[s]);
        let tangent = |row: &[f64; 2], d: &[f64; 2]| row[0].mul_add(d[0], row[1] * d[1]);
        let [sa_a, sa_b, sw_a, sw_b] = self.sens;
        let mut ia = i[a.driven] + tangent(&sa_a, &dpa) + tangent(&sa_b, &dpb);
        let mut w = i[b.driven] + tangent(&sw_a, &dpa) + tangent(&sw_b, &dpb);
        for _ in 0..SPLIT_MAX_ITER {
            // Newton on (i_a, w) jointly: F₁ = T_A(p_a + ka·w) − i_a, F₂ = T_B(p_b + kb·i_a)
            // − w. The two lookups are independent, so they overlap in the CPU.
            let xa = [
                ka[0].mul_add(w, p[a.sense[0]]),
                ka[1].mul_add(w, p[a.sense[1]]),
            ];
            let xb = [
                kb[0].mul_add(ia, p[b.sense[0]]),
                kb[1].mul_add(ia, p[b.sense[1]]),
            ];
            let (Some(la), Some(lb)) = (self.tables[0].lookup(xa, 1), self.tables[1].lookup(xb, 1))
            else {
                break;
            };
            let alpha = la.grad[0][0].mul_add(ka[0], la.grad[0][1] * ka[1]);
            let gamma = lb.grad[0][0].mul_add(kb[0], lb.grad[0][1] * kb[1]);
            let (f1, f2) = (la.value[0] - ia, lb.value[0] - w);
            // [−1 α; γ −1]·Δ = −F, determinant 1 − αγ (> 0: the pair's coupling is
            // degenerative through the shared cathode).
            let inv_det = 1.0 / (1.0 - alpha * gamma);
            let dw = gamma.mul_add(f1, f2) * inv_det;
            let dia = alpha.mul_add(dw, f1);
            ia += dia;
            w += dw;
            if dia.abs().max(dw.abs()) <= SPLIT_TOL_A {
                i[a.driven] = ia;
                i[b.driven] = w;
                self.p_prev = *p;
                // ∂(i_a, w)/∂p from the same system: J·d = −∂F/∂p.
                let (ga, gb) = (la.grad[0], lb.grad[0]);
                self.sens = [
                    [ga[0] * inv_det, ga[1] * inv_det],
                    [alpha * gb[0] * inv_det, alpha * gb[1] * inv_det],
                    [gamma * ga[0] * inv_det, gamma * ga[1] * inv_det],
                    [gb[0] * inv_det, gb[1] * inv_det],
                ];
                return true;
            }
        }
        self.reset();
        false
    }
}

/// The exploration signal (V) at `fs` Hz for a stage driven up to `peak` V: a log chirp
/// 30 Hz → 12 kHz whose level rises from −60 dB to full over 0.3 s; 0.15 s of 80 Hz at full
/// level with a 3 kHz partial at 30 %; 0.1 s of 30 Hz at full level (the largest flux an
/// inductor sees); 0.1 s of an asymmetric pulse train (25 % duty, 10 ms, +peak/−peak/3:
/// charges coupling capacitors and shifts bias as hard playing does); 0.05 s of silence
/// (the recovery).
pub fn exploration(fs: f64, peak: f64) -> impl Iterator<Item = f64> {
    use std::f64::consts::PI;
    let n = |s: f64| (s * fs) as usize;
    let (n1, n2, n3, n4, n5) = (n(0.3), n(0.15), n(0.1), n(0.05), n(0.1));
    let chirp = (0..n1).map(move |k| {
        let t = k as f64 / fs;
        let (f0, f1, dur): (f64, f64, f64) = (30.0, 12_000.0, 0.3);
        let rate = (f1 / f0).ln() / dur;
        let phase = 2.0 * PI * f0 * ((rate * t).exp() - 1.0) / rate;
        peak * 10f64.powf(-3.0 * (1.0 - t / dur)) * phase.sin()
    });
    let tone = (0..n2).map(move |k| {
        let t = k as f64 / fs;
        peak * (0.7 * (2.0 * PI * 80.0 * t).sin() + 0.3 * (2.0 * PI * 3000.0 * t).sin())
    });
    let bass = (0..n5).map(move |k| peak * (2.0 * PI * 30.0 * k as f64 / fs).sin());
    let pulses = (0..n3).map(move |k| {
        let phase = (k as f64 / fs / 0.01).fract();
        if phase < 0.25 {
            peak
        } else {
            -peak / 3.0
        }
    });
    chirp
        .chain(tone)
        .chain(bass)
        .chain(pulses)
        .chain(std::iter::repeat(0.0).take(n4))
}

/// Orthonormal basis (over the sensed ports) of the span of `cols`, or `None` if it has
/// more than two dimensions.
fn basis(cols: &[[f64; MAX_PORTS]], sensed: &[bool; 4]) -> Option<Vec<[f64; MAX_PORTS]>> {
    let mut out: Vec<[f64; MAX_PORTS]> = Vec::new();
    for c in cols {
        let mut r = [0.0; MAX_PORTS];
        for a in 0..MAX_PORTS {
            r[a] = if sensed[a] { c[a] } else { 0.0 };
        }
        let norm0 = r.iter().map(|x| x * x).sum::<f64>().sqrt();
        if norm0 == 0.0 {
            continue;
        }
        for b in &out {
            let d: f64 = r.iter().zip(b).map(|(x, y)| x * y).sum();
            r.iter_mut().zip(b).for_each(|(x, y)| *x -= d * y);
        }
        let norm = r.iter().map(|x| x * x).sum::<f64>().sqrt();
        if norm > RANK_TOL * norm0 {
            r.iter_mut().for_each(|x| *x /= norm);
            out.push(r);
        }
    }
    (out.len() <= 2).then_some(out)
}

/// Port-aligned coordinates for the span `q` (orthonormal columns): `r = q.len()` sensed
/// ports whose drives determine all the others, chosen greedily for conditioning, and the
/// directions `b` with `p − p_const = Σ_d b[d]·z_d`, `z_d` the drive change of port
/// `ports[d]`. Aligning the axes with ports puts a device's knee (a junction turning on at
/// a fixed port voltage) along a grid line, where the adaptive axis can crowd nodes.
fn port_coordinates(q: &[[f64; MAX_PORTS]]) -> (Vec<usize>, Vec<[f64; MAX_PORTS]>) {
    let r = q.len();
    let row = |a: usize| -> [f64; 2] { [q[0][a], if r == 2 { q[1][a] } else { 0.0 }] };
    let first = (0..MAX_PORTS)
        .max_by(|&a, &b| {
            row(a)[0]
                .hypot(row(a)[1])
                .total_cmp(&row(b)[0].hypot(row(b)[1]))
        })
        .expect("ports");
    let mut ports = vec![first];
    if r == 2 {
        let det = |a: usize| (row(first)[0] * row(a)[1] - row(first)[1] * row(a)[0]).abs();
        let second = (0..MAX_PORTS)
            .filter(|&a| a != first)
            .max_by(|&a, &b| det(a).total_cmp(&det(b)))
            .expect("ports");
        ports.push(second);
    }
    // S·Q (r×r) maps basis coefficients to port coordinates; b = Q·(S·Q)⁻¹.
    let sq: Vec<[f64; 2]> = ports.iter().map(|&a| row(a)).collect();
    let inv = if r == 2 {
        let det = sq[0][0] * sq[1][1] - sq[0][1] * sq[1][0];
        [
            [sq[1][1] / det, -sq[0][1] / det],
            [-sq[1][0] / det, sq[0][0] / det],
        ]
    } else {
        [[1.0 / sq[0][0], 0.0], [0.0, 0.0]]
    };
    let b = (0..r)
        .map(|d| std::array::from_fn(|a| (0..r).map(|j| q[j][a] * inv[j][d]).sum()))
        .collect();
    (ports, b)
}

/// One table to build: drive `p = base + Σ_d dirs[d]·z_d` over `dims` coordinates, the
/// port coupling `k` to solve with, and the ports whose currents are its outputs.
struct Problem {
    base: [f64; MAX_PORTS],
    dirs: [[f64; MAX_PORTS]; 2],
    dims: usize,
    k: [f64; 16],
    outputs: Vec<usize>,
}

impl Problem {
    fn drive(&self, z: [f64; 2]) -> [f64; MAX_PORTS] {
        std::array::from_fn(|a| self.base[a] + self.dirs[0][a] * z[0] + self.dirs[1][a] * z[1])
    }
}

impl<N: Nonlinearity> DkSolver<N> {
    /// Replaces the per-sample Newton solve by solution tables (see the module doc),
    /// explored with [`exploration`] at `peak` V and built at `sample_rate` Hz. Leaves the
    /// solver at its rest state. Allocates; call from `prepare`. An error when the device
    /// has no ports, its drive has more than two dimensions (and no split), or a node does
    /// not converge — the solver then stays on Newton.
    pub fn tabulate(&mut self, sample_rate: f64, peak: f64, stage: &str) -> Result<(), Error> {
        let fail = |reason: String| Error::Circuit {
            stage: stage.into(),
            reason: format!("solution table: {reason}"),
        };
        if N::PORTS == 0 {
            return Err(fail("a linear circuit has nothing to tabulate".into()));
        }
        self.table = None;
        self.reset();
        let result = match N::HALVES {
            Some(halves) => self.build_split(halves, sample_rate, peak),
            None => self.build_single(sample_rate, peak),
        };
        self.reset();
        self.table = Some(result.map_err(fail)?);
        Ok(())
    }

    /// Runs the exploration through Newton, calling `record` with each solved sample's drive
    /// `p` and port currents.
    fn explore(
        &mut self,
        sample_rate: f64,
        peak: f64,
        mut record: impl FnMut(&[f64; MAX_PORTS], &[f64; MAX_PORTS]),
    ) {
        record(&self.drive(0.0), &self.i);
        for u0 in exploration(sample_rate, peak) {
            let p = self.drive(u0);
            self.step(u0);
            record(&p, &self.i);
        }
    }

    /// Drive `p` at input `u0` and the current history.
    fn drive(&self, u0: f64) -> [f64; MAX_PORTS] {
        drive::<MAX_CAPS>(
            &self.m.pu0,
            &self.m.ph,
            &self.p_const,
            &self.h,
            u0,
            N::PORTS,
        )
    }

    /// Solves `v = p + k·f(v)` from the warm start `(v, i, jac)`; on success returns the
    /// currents' sensitivity `∂i/∂p = J·(I − k·J)⁻¹` (row-major 4×4).
    fn solve_node(
        &self,
        k: &[f64; 16],
        p: &[f64; MAX_PORTS],
        state: &mut ([f64; MAX_PORTS], [f64; MAX_PORTS], [f64; 16]),
    ) -> Option<[f64; 16]> {
        let np = N::PORTS;
        let (v, i, jac) = state;
        let (ok, _) = newton(&self.nl, k, p, v, i, jac, 400, &[0.0; MAX_PORTS]);
        if !ok {
            return None;
        }
        // Fresh evaluation at the solution (the polish step carries i along the Jacobian).
        let (fi, fj) = eval_at(&self.nl, v);
        *i = fi;
        *jac = fj;
        let mut m = vec![0.0; np * np];
        for r in 0..np {
            for c in 0..np {
                let kj: f64 = (0..np).map(|x| k[r * 4 + x] * jac[x * 4 + c]).sum();
                m[r * np + c] = if r == c { 1.0 } else { 0.0 } - kj;
            }
        }
        let inv = invert(&m, np)?;
        let mut d = [0.0; 16];
        for r in 0..np {
            for c in 0..np {
                d[r * 4 + c] = (0..np).map(|x| jac[r * 4 + x] * inv[x * np + c]).sum();
            }
        }
        Some(d)
    }

    /// Solves `prob` at `z` (warm start and result in `state`): the output currents (A)
    /// and their gradients in `z`.
    fn sample(
        &self,
        prob: &Problem,
        z: [f64; 2],
        state: &mut ([f64; MAX_PORTS], [f64; MAX_PORTS], [f64; 16]),
    ) -> Result<NodeSample, String> {
        let p = prob.drive(z);
        let sens = self
            .solve_node(&prob.k, &p, state)
            .ok_or_else(|| format!("no solution at drive {:?} V", &p[..N::PORTS]))?;
        let mut s = NodeSample::default();
        for (o, &port) in prob.outputs.iter().enumerate() {
            s.value[o] = state.1[port];
            for d in 0..prob.dims {
                s.grad[o][d] = (0..N::PORTS)
                    .map(|a| sens[port * 4 + a] * prob.dirs[d][a])
                    .sum();
            }
        }
        Ok(s)
    }

    /// An axis over `[lo, hi]` (padded) for coordinate `d` of `prob`, its nodes spread by
    /// the solution's curvature: scans of [`SCAN_POINTS`] along the axis at
    /// [`SCAN_LINES`] values of the other coordinate; density ∝ √|f''| (the optimal
    /// spacing for an O(h²·f'') error; a knee of width w gets nodes ~w apart) plus a floor
    /// of a quarter of its mean, so smooth stretches keep nodes.
    fn adaptive_axis(
        &self,
        prob: &Problem,
        d: usize,
        lo: [f64; 2],
        hi: [f64; 2],
        nodes: usize,
    ) -> Result<Axis, String> {
        let lines = if prob.dims == 2 { SCAN_LINES } else { 1 };
        let mut density = vec![0.0f64; SCAN_POINTS];
        let mut state = (self.v_rest, self.i_rest, self.jac_rest);
        let h = (hi[d] - lo[d]) / (SCAN_POINTS - 1) as f64;
        for line in 0..lines {
            let other = 1 - d;
            let mut z = [0.0; 2];
            if prob.dims == 2 {
                z[other] = lo[other] + (hi[other] - lo[other]) * line as f64 / (lines - 1) as f64;
            }
            let mut values = Vec::with_capacity(SCAN_POINTS);
            for j in 0..SCAN_POINTS {
                z[d] = lo[d] + h * j as f64;
                values.push(self.sample(prob, z, &mut state)?.value);
            }
            for o in 0..prob.outputs.len() {
                let (mn, mx) = values
                    .iter()
                    .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
                        (a.min(v[o]), b.max(v[o]))
                    });
                let range = (mx - mn).max(1e-300);
                for j in 1..SCAN_POINTS - 1 {
                    let dd = (values[j + 1][o] - 2.0 * values[j][o] + values[j - 1][o]).abs();
                    density[j] = density[j].max((dd / range).sqrt());
                }
            }
        }
        density[0] = density[1];
        density[SCAN_POINTS - 1] = density[SCAN_POINTS - 2];
        let mean = density.iter().sum::<f64>() / SCAN_POINTS as f64;
        let floor = 0.25 * mean + 1e-300;
        density.iter_mut().for_each(|x| *x += floor);
        Ok(Axis::with_density(lo[d], hi[d], nodes, &density))
    }

    /// Builds the table of `prob` over the explored range `[lo, hi]` (padded here).
    fn build_table(
        &self,
        prob: &Problem,
        lo: [f64; 2],
        hi: [f64; 2],
    ) -> Result<HermiteTable, String> {
        let dims = prob.dims;
        if !(lo[..dims].iter().chain(&hi[..dims]).all(|x| x.is_finite())) {
            return Err("the exploration left the finite range".into());
        }
        let (mut plo, mut phi) = ([0.0, 0.0], [1.0, 1.0]);
        for d in 0..dims {
            let pad = MARGIN * (hi[d] - lo[d]) + MARGIN_ABS_V;
            plo[d] = lo[d] - pad;
            phi[d] = hi[d] + pad;
        }
        let nodes = if dims == 2 { NODES_2D } else { NODES_1D };
        let axes = [
            self.adaptive_axis(prob, 0, plo, phi, nodes)?,
            if dims == 2 {
                self.adaptive_axis(prob, 1, plo, phi, nodes)?
            } else {
                Axis::uniform(0.0, 1.0, 2)
            },
        ];
        let (n0, n1) = (axes[0].len(), if dims == 2 { axes[1].len() } else { 1 });
        let mut samples = vec![NodeSample::default(); n0 * n1];
        let mut state = (self.v_rest, self.i_rest, self.jac_rest);
        // Mixed partials by a forward difference of the exact x₀-gradient along x₁, over a
        // step of 1e-6 of the axis span: truncation O(δ·f''') and cancellation
        // O(ε·|∇f|/δ) both far below the interpolation error.
        let delta = 1e-6 * (phi[1] - plo[1]);
        for k1 in 0..n1 {
            // Serpentine order: each node starts from its neighbour's solution.
            for step in 0..n0 {
                let k0 = if k1 % 2 == 0 { step } else { n0 - 1 - step };
                let z = [
                    axes[0].node(k0),
                    if dims == 2 { axes[1].node(k1) } else { 0.0 },
                ];
                let mut s = self.sample(prob, z, &mut state)?;
                if dims == 2 {
                    let mut near = state;
                    let up = self.sample(prob, [z[0], z[1] + delta], &mut near)?;
                    for o in 0..prob.outputs.len() {
                        s.mixed[o] = (up.grad[o][0] - s.grad[o][0]) / delta;
                    }
                }
                samples[k0 + n0 * k1] = s;
            }
        }
        Ok(HermiteTable::build(
            axes,
            dims,
            prob.outputs.len(),
            &samples,
        ))
    }

    fn build_single(&mut self, sample_rate: f64, peak: f64) -> Result<Tabulation, String> {
        let np = N::PORTS;
        let mut cols = vec![self.m.pu0];
        cols.extend(self.m.ph.iter().copied());
        let q = basis(&cols, &N::SENSED).ok_or_else(|| {
            "the drive of the sensed ports spans more than two dimensions".to_string()
        })?;
        if q.is_empty() {
            return Err("the sensed ports are never driven".into());
        }
        let outputs: Vec<usize> = (0..np).filter(|&a| N::DRIVEN[a]).collect();
        if outputs.is_empty() || outputs.len() > 2 {
            return Err(format!(
                "{} current-carrying ports (1 or 2 tabulate)",
                outputs.len()
            ));
        }
        let (ports, b) = port_coordinates(&q);
        let dims = ports.len();
        let p_const = self.p_const;
        let (mut lo, mut hi) = ([f64::INFINITY; 2], [f64::NEG_INFINITY; 2]);
        self.explore(sample_rate, peak, |p, _| {
            for (d, &a) in ports.iter().enumerate() {
                let z = p[a] - p_const[a];
                lo[d] = lo[d].min(z);
                hi[d] = hi[d].max(z);
            }
        });
        let mut dirs = [[0.0; MAX_PORTS]; 2];
        dirs[..dims].copy_from_slice(&b);
        let prob = Problem {
            base: p_const,
            dirs,
            dims,
            k: self.m.k,
            outputs: outputs.clone(),
        };
        let table = self.build_table(&prob, lo, hi)?;
        let (mut zu0, mut zh) = ([0.0; 2], [[0.0; 2]; MAX_CAPS]);
        for (d, &a) in ports.iter().enumerate() {
            zu0[d] = self.m.pu0[a];
            for (c, ph) in self.m.ph.iter().enumerate() {
                zh[c][d] = ph[a];
            }
        }
        let mut zi = [[0.0; 2]; MAX_PORTS];
        for (a, row) in zi.iter_mut().enumerate() {
            for (d, v) in row.iter_mut().enumerate().take(dims) {
                *v = (0..MAX_CAPS)
                    .map(|c| zh[c][d] * self.two_gc[c] * self.m.qi[a][c])
                    .sum();
            }
        }
        let mut single = Single {
            table,
            zu0,
            zh,
            z_carry: [0.0; 2],
            zi,
        };
        single.anchor(&self.h_rest_padded());
        Ok(Tabulation::Single(single))
    }

    fn build_split(
        &mut self,
        halves: [Half; 2],
        sample_rate: f64,
        peak: f64,
    ) -> Result<Tabulation, String> {
        let k = self.m.k;
        // A half's coordinates: its sensed drive plus the other half's current through K.
        let coords = |h: usize, p: &[f64; MAX_PORTS], i: &[f64; MAX_PORTS]| {
            let (me, other) = (halves[h], halves[1 - h]);
            me.sense
                .map(|s| p[s] + k[s * 4 + other.driven] * i[other.driven])
        };
        let (mut lo, mut hi) = ([[f64::INFINITY; 2]; 2], [[f64::NEG_INFINITY; 2]; 2]);
        self.explore(sample_rate, peak, |p, i| {
            for h in 0..2 {
                let x = coords(h, p, i);
                for d in 0..2 {
                    lo[h][d] = lo[h][d].min(x[d]);
                    hi[h][d] = hi[h][d].max(x[d]);
                }
            }
        });
        let mut tables = Vec::with_capacity(2);
        for (h, me) in halves.iter().enumerate() {
            // The half alone: only its own column of K (its driven port into its ports).
            let mut k_half = [0.0; 16];
            let mut dirs = [[0.0; MAX_PORTS]; 2];
            let mut base = self.v_rest;
            for (d, &s) in me.sense.iter().enumerate() {
                k_half[s * 4 + me.driven] = k[s * 4 + me.driven];
                dirs[d][s] = 1.0;
                base[s] = 0.0;
            }
            let prob = Problem {
                base,
                dirs,
                dims: 2,
                k: k_half,
                outputs: vec![me.driven],
            };
            tables.push(
                self.build_table(&prob, lo[h], hi[h])
                    .map_err(|e| format!("half {h}: {e}"))?,
            );
        }
        let t1 = tables.pop().expect("two tables");
        let t0 = tables.pop().expect("two tables");
        let couple = [0, 1].map(|h| {
            let (me, other) = (halves[h], halves[1 - h]);
            me.sense.map(|s| k[s * 4 + other.driven])
        });
        Ok(Tabulation::Split(Split {
            tables: [t0, t1],
            couple,
            p_prev: [0.0; MAX_PORTS],
            sens: [[0.0; 2]; 4],
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basis_finds_a_repeated_port_drive_two_dimensional() {
        // Ports 0 and 1 always driven alike (a grid and its diode node), port 2 apart.
        let cols = [
            [1.0, 1.0, 0.5, 0.0],
            [2.0, 2.0, -1.0, 0.0],
            [0.0, 0.0, 3.0, 0.0],
        ];
        let b = basis(&cols, &[true, true, true, false]).expect("rank 2");
        assert_eq!(b.len(), 2);
        let three = [
            [1.0, 0.0, 0.0, 0.0],
            [0.0, 1.0, 0.0, 0.0],
            [0.0, 0.0, 1.0, 0.0],
        ];
        assert!(basis(&three, &[true; 4]).is_none());
        // An unsensed port does not count.
        assert_eq!(basis(&three, &[true, true, false, false]).unwrap().len(), 2);
    }

    #[test]
    fn exploration_is_deterministic_and_bounded() {
        let a: Vec<f64> = exploration(48_000.0, 2.0).collect();
        let b: Vec<f64> = exploration(48_000.0, 2.0).collect();
        assert_eq!(a, b);
        assert_eq!(a.len(), 33_600);
        assert!(a.iter().all(|x| x.abs() <= 2.0 + 1e-12));
        assert!(a.iter().fold(0.0f64, |m, x| m.max(x.abs())) > 1.9);
    }
}
