//! The DK-method solver: a netlist reduced onto its nonlinear ports, stepped per sample.

use super::devices::Nonlinearity;
use super::linalg::{invert, invert_into, matmul, matmul_into, spectral_radius, SmallLu};
use super::netlist::{Netlist, Node};
use crate::denormal::flush;
use crate::error::Error;

mod tabulate;
pub use tabulate::exploration;
use tabulate::{drive, Tabulation};

/// Largest number of nonlinear ports a circuit may have.
pub const MAX_PORTS: usize = 4;
/// Largest number of (non-zero) capacitors a circuit may have. The per-sample state lives
/// in fixed arrays of this size, zero-padded, so that the state update is straight-line
/// code without bounds checks (every stage today has at most four).
pub const MAX_CAPS: usize = 4;

/// Level, relative to an impulse, at which the tail is considered over: −80 dB.
const TAIL_DECAY: f64 = 1e-4;
/// Tail reported for a circuit with a marginally stable mode (a DC integrator): 10 s.
const MARGINAL_TAIL_SECONDS: f64 = 10.0;
/// Newton stops when the port-equation residual is below `NEWTON_TOL·(1 + max|v|)` volts.
/// 1e-9 relative is 60× below f32 output resolution (2⁻²⁴ ≈ 6e-8).
const NEWTON_TOL: f64 = 1e-9;
/// Below this residual, `POLISH·(1 + max|v|)` volts, the last Newton correction is applied
/// with the currents carried along the Jacobian instead of a fresh device evaluation: the
/// linearized residual is then exactly zero and the true one O(step²). Measured on a
/// 20 s overdriven triode render: ≤ 1.4 float32 ulp of the output peak vs full Newton, for
/// ~25% fewer device evaluations.
const POLISH: f64 = 1e-6;
/// Backtracking halvings per Newton step before a step is taken regardless (the first
/// retry of a predicted step drops the predictor instead of halving).
const MAX_HALVINGS: usize = 8;

/// Reduced matrices of the linear network for one set of capacitor conductances:
/// port voltages `v = Pu·u + Ph·h + K·i`, capacitor voltages `vc = Qu·u + Qh·h + Qi·i`,
/// output `y = Ou·u + Oh·h + Oi·i`, with `u` source voltages, `h` capacitor history
/// currents and `i` port currents. Row-major.
#[derive(Debug, Clone)]
struct Reduced {
    pu: Vec<f64>,
    ph: Vec<f64>,
    k: Vec<f64>,
    qu: Vec<f64>,
    qh: Vec<f64>,
    qi: Vec<f64>,
    ou: Vec<f64>,
    oh: Vec<f64>,
    oi: Vec<f64>,
}

impl Reduced {
    /// Zero matrices for `np` ports, `nc` capacitors and `ns` sources.
    fn zeros(np: usize, nc: usize, ns: usize) -> Self {
        Reduced {
            pu: vec![0.0; np * ns],
            ph: vec![0.0; np * nc],
            k: vec![0.0; np * np],
            qu: vec![0.0; nc * ns],
            qh: vec![0.0; nc * nc],
            qi: vec![0.0; nc * np],
            ou: vec![0.0; ns],
            oh: vec![0.0; nc],
            oi: vec![0.0; np],
        }
    }
}

/// Selector row for V(a) − V(b): coefficients on internal nodes and on sources.
fn selector(a: Node, b: Node, n: usize, ns: usize) -> (Vec<f64>, Vec<f64>) {
    let (mut v, mut s) = (vec![0.0; n], vec![0.0; ns]);
    for (node, sign) in [(a, 1.0), (b, -1.0)] {
        match node {
            Node::Internal(i) => v[i] += sign,
            Node::Source(k) => s[k] += sign,
            Node::Ground => {}
        }
    }
    (v, s)
}

/// Stacked selector rows (internal-node part `m×n`, source part `m×ns`) for `rows`.
fn selectors(rows: &[(Node, Node)], n: usize, ns: usize) -> (Vec<f64>, Vec<f64>) {
    let m = rows.len();
    let (mut sel_v, mut sel_s) = (Vec::with_capacity(m * n), Vec::with_capacity(m * ns));
    for &(a, b) in rows {
        let (v, s) = selector(a, b, n, ns);
        sel_v.extend(v);
        sel_s.extend(s);
    }
    (sel_v, sel_s)
}

/// The reduction of one netlist topology onto its ports, with every buffer it needs sized
/// once: the topology-only parts (history- and port-current injections, node selectors)
/// are built in `new`; [`Reducer::reduce_into`] re-stamps the element values and redoes
/// the inversion and projections in place, allocation-free. `reduce` (the `prepare` path)
/// runs the same code, so a re-reduction with unchanged values gives the same bits.
#[derive(Debug, Clone)]
struct Reducer {
    n: usize,
    ns: usize,
    nc: usize,
    np: usize,
    g: Vec<f64>,
    bs: Vec<f64>,
    bh: Vec<f64>,
    bi: Vec<f64>,
    work: Vec<f64>,
    ginv: Vec<f64>,
    xs: Vec<f64>,
    xh: Vec<f64>,
    xi: Vec<f64>,
    /// Selector rows (internal part, source part) of the ports, capacitors and output.
    sel_p: (Vec<f64>, Vec<f64>),
    sel_c: (Vec<f64>, Vec<f64>),
    sel_o: (Vec<f64>, Vec<f64>),
}

impl Reducer {
    /// Sizes the buffers for `net` with capacitors `caps` (the non-zero ones). Allocates.
    fn new(net: &Netlist, caps: &[(Node, Node, f64)]) -> Self {
        let (n, ns, nc, np) = (
            net.n_nodes,
            net.source_volts.len(),
            caps.len(),
            net.ports.len(),
        );
        let mut bh = vec![0.0; n * nc];
        let mut bi = vec![0.0; n * np];
        for (c, &(a, b, _)) in caps.iter().enumerate() {
            // History current J is injected into a and drawn from b.
            if let Node::Internal(i) = a {
                bh[i * nc + c] += 1.0;
            }
            if let Node::Internal(i) = b {
                bh[i * nc + c] -= 1.0;
            }
        }
        for (p, &(a, b)) in net.ports.iter().enumerate() {
            // Port current leaves a and enters b.
            if let Node::Internal(i) = a {
                bi[i * np + p] -= 1.0;
            }
            if let Node::Internal(i) = b {
                bi[i * np + p] += 1.0;
            }
        }
        let cap_nodes: Vec<(Node, Node)> = caps.iter().map(|&(a, b, _)| (a, b)).collect();
        Reducer {
            n,
            ns,
            nc,
            np,
            g: vec![0.0; n * n],
            bs: vec![0.0; n * ns],
            bh,
            bi,
            work: vec![0.0; n * n],
            ginv: vec![0.0; n * n],
            xs: vec![0.0; n * ns],
            xh: vec![0.0; n * nc],
            xi: vec![0.0; n * np],
            sel_p: selectors(&net.ports, n, ns),
            sel_c: selectors(&cap_nodes, n, ns),
            sel_o: selectors(&[net.output], n, ns),
        }
    }

    /// Stamps `net`'s resistors and the capacitors' companion conductances `gc` (S), inverts
    /// the nodal matrix and projects onto ports, capacitors and output, writing `out`.
    /// `net` and `caps` must have the topology `new` was given. Allocation-free. Returns
    /// `false` when the nodal matrix is singular (`out` is then partly overwritten).
    fn reduce_into(
        &mut self,
        net: &Netlist,
        caps: &[(Node, Node, f64)],
        gc: &[f64],
        out: &mut Reduced,
    ) -> bool {
        let (n, ns, nc, np) = (self.n, self.ns, self.nc, self.np);
        let (g, bs) = (&mut self.g, &mut self.bs);
        g.fill(0.0);
        bs.fill(0.0);
        let mut stamp = |a: Node, b: Node, cond: f64| {
            for (x, y) in [(a, b), (b, a)] {
                if let Node::Internal(i) = x {
                    g[i * n + i] += cond;
                    match y {
                        Node::Internal(j) => g[i * n + j] -= cond,
                        Node::Source(k) => bs[i * ns + k] += cond,
                        Node::Ground => {}
                    }
                }
            }
        };
        for &(a, b, r) in &net.resistors {
            stamp(a, b, 1.0 / r);
        }
        for (c, &(a, b, _)) in caps.iter().enumerate() {
            stamp(a, b, gc[c]);
        }
        // A controlled current g·(V(c) − V(d)) into a and out of b: on the nodal
        // equations' left side with the opposite sign (or into the source coupling).
        for &(a, b, c, d, gm) in &net.vccs {
            for (row, sr) in [(a, 1.0), (b, -1.0)] {
                let Node::Internal(i) = row else { continue };
                for (col, sc) in [(c, 1.0), (d, -1.0)] {
                    match col {
                        Node::Internal(j) => g[i * n + j] -= sr * sc * gm,
                        Node::Source(k) => bs[i * ns + k] += sr * sc * gm,
                        Node::Ground => {}
                    }
                }
            }
        }
        if !invert_into(&self.g, n, &mut self.work, &mut self.ginv) {
            return false;
        }
        matmul_into(&self.ginv, &self.bs, n, n, ns, &mut self.xs);
        matmul_into(&self.ginv, &self.bh, n, n, nc, &mut self.xh);
        matmul_into(&self.ginv, &self.bi, n, n, np, &mut self.xi);
        let (xs, xh, xi) = (&self.xs, &self.xh, &self.xi);
        let project = |(sel_v, sel_s): &(Vec<f64>, Vec<f64>),
                       m: usize,
                       u: &mut [f64],
                       h: &mut [f64],
                       i: &mut [f64]| {
            matmul_into(sel_v, xs, m, n, ns, u);
            u.iter_mut().zip(sel_s).for_each(|(x, s)| *x += s);
            matmul_into(sel_v, xh, m, n, nc, h);
            matmul_into(sel_v, xi, m, n, np, i);
        };
        project(&self.sel_p, np, &mut out.pu, &mut out.ph, &mut out.k);
        project(&self.sel_c, nc, &mut out.qu, &mut out.qh, &mut out.qi);
        project(&self.sel_o, 1, &mut out.ou, &mut out.oh, &mut out.oi);
        true
    }
}

fn reduce(
    net: &Netlist,
    caps: &[(Node, Node, f64)],
    gc: &[f64],
    stage: &str,
) -> Result<Reduced, Error> {
    let mut out = Reduced::zeros(net.ports.len(), caps.len(), net.source_volts.len());
    if Reducer::new(net, caps).reduce_into(net, caps, gc, &mut out) {
        Ok(out)
    } else {
        Err(Error::Circuit {
            stage: stage.to_string(),
            reason: "nodal matrix is singular (a node without a DC path to ground or a source)"
                .into(),
        })
    }
}

/// An `np×np` port matrix padded into the fixed 4×4 layout the Newton loop uses.
fn pad_ports(k: &[f64], np: usize) -> [f64; 16] {
    let mut out = [0.0; 16];
    for r in 0..np {
        out[r * 4..r * 4 + np].copy_from_slice(&k[r * np..(r + 1) * np]);
    }
    out
}

/// Device currents and Jacobian at `v`.
fn eval_at<N: Nonlinearity>(nl: &N, v: &[f64; MAX_PORTS]) -> ([f64; MAX_PORTS], [f64; 16]) {
    let (mut i, mut jac) = ([0.0; MAX_PORTS], [0.0; 16]);
    nl.eval(v, &mut i, &mut jac);
    (i, jac)
}

/// Per-sample matrices in fixed layouts (port vectors as `[f64; 4]`, one per capacitor),
/// so that the loops over ports unroll and need no bounds checks.
struct StepMatrices {
    k: [f64; 16],
    /// ∂v/∂u₀ (port voltages per input volt).
    pu0: [f64; MAX_PORTS],
    /// Per capacitor c: ∂v/∂h_c (zero beyond the circuit's capacitors, as below).
    ph: [[f64; MAX_PORTS]; MAX_CAPS],
    /// Per port a: ∂vc/∂i_a over the capacitors (column-major, for lanes over c).
    qi: [[f64; MAX_CAPS]; MAX_PORTS],
    qu0: [f64; MAX_CAPS],
    /// Per capacitor k: ∂vc/∂h_k over the capacitors (column-major).
    qh: [[f64; MAX_CAPS]; MAX_CAPS],
    ou0: f64,
    oh: [f64; MAX_CAPS],
    oi: [f64; MAX_PORTS],
}

impl StepMatrices {
    fn new(r: &Reduced, np: usize, nc: usize, ns: usize) -> Self {
        let mut m = StepMatrices {
            k: [0.0; 16],
            pu0: [0.0; MAX_PORTS],
            ph: [[0.0; MAX_PORTS]; MAX_CAPS],
            qi: [[0.0; MAX_CAPS]; MAX_PORTS],
            qu0: [0.0; MAX_CAPS],
            qh: [[0.0; MAX_CAPS]; MAX_CAPS],
            ou0: 0.0,
            oh: [0.0; MAX_CAPS],
            oi: [0.0; MAX_PORTS],
        };
        m.fill(r, np, nc, ns);
        m
    }

    /// Copies `r` into the fixed layouts, in place. Allocation-free.
    fn fill(&mut self, r: &Reduced, np: usize, nc: usize, ns: usize) {
        for a in 0..np {
            self.pu0[a] = r.pu[a * ns];
            self.oi[a] = r.oi[a];
        }
        for c in 0..nc {
            self.ph[c] = std::array::from_fn(|a| if a < np { r.ph[a * nc + c] } else { 0.0 });
            for a in 0..np {
                self.qi[a][c] = r.qi[c * np + a];
            }
            self.qu0[c] = r.qu[c * ns];
            for k in 0..nc {
                self.qh[k][c] = r.qh[c * nc + k];
            }
        }
        self.k = pad_ports(&r.k, np);
        self.ou0 = r.ou[0];
        self.oh[..nc].copy_from_slice(&r.oh);
    }
}

/// Solves `v = p + K·f(v)` by damped Newton from the start value in `v`, where `i` and
/// `jac` already hold `f(v)` and `∂f/∂v` (the warm start is the previous sample's solution,
/// whose device evaluation is reused: one device evaluation per Newton step). The first
/// Newton step is offset by `predict` (V). Leaves the solution in `v` with `f(v)`, `∂f/∂v`
/// in `i`, `jac`; returns whether the residual tolerance was met, and the point the first
/// Newton step alone reached (V). Allocation-free.
#[allow(clippy::too_many_arguments)]
fn newton<N: Nonlinearity>(
    nl: &N,
    k: &[f64; 16],
    p: &[f64; MAX_PORTS],
    v: &mut [f64; MAX_PORTS],
    i: &mut [f64; MAX_PORTS],
    jac: &mut [f64; 16],
    max_iter: usize,
    predict: &[f64; MAX_PORTS],
) -> (bool, [f64; MAX_PORTS]) {
    let np = N::PORTS;
    let mut r = [0.0; MAX_PORTS];
    let residual = |v: &[f64; MAX_PORTS], i: &[f64; MAX_PORTS], r: &mut [f64; MAX_PORTS]| {
        let mut worst = 0.0f64;
        for a in 0..np {
            let mut s = p[a] - v[a];
            for b in 0..np {
                s += k[a * 4 + b] * i[b];
            }
            r[a] = s;
            worst = worst.max(s.abs());
        }
        // NaN compares false with everything: report it as infinitely bad.
        if worst.is_nan() {
            f64::INFINITY
        } else {
            worst
        }
    };
    let tol = |v: &[f64; MAX_PORTS]| {
        NEWTON_TOL * (1.0 + v[..np].iter().fold(0.0f64, |m, x| m.max(x.abs())))
    };
    let mut rn = residual(v, i, &mut r);
    let mut first = *v;
    for iter in 0..max_iter {
        if rn <= tol(v) {
            return (true, first);
        }
        // Jacobian of the residual: K·∂f/∂v − I.
        let mut a = [0.0; 16];
        for row in 0..np {
            for col in 0..np {
                let mut s = if row == col { -1.0 } else { 0.0 };
                for m in 0..np {
                    s += k[row * 4 + m] * jac[m * 4 + col];
                }
                a[row * 4 + col] = s;
            }
        }
        let Some(lu) = SmallLu::factor(&a, np) else {
            return (false, first);
        };
        let mut step = [0.0; MAX_PORTS];
        for row in 0..np {
            step[row] = -r[row];
        }
        lu.solve(&mut step, np);
        if iter == 0 {
            for row in 0..np {
                first[row] += step[row];
            }
        }
        if rn <= POLISH * (1.0 + v[..np].iter().fold(0.0f64, |m, x| m.max(x.abs()))) {
            for row in 0..np {
                let mut di = 0.0;
                for col in 0..np {
                    di += jac[row * 4 + col] * step[col];
                }
                v[row] += step[row];
                i[row] += di;
            }
            return (true, first);
        }
        let step_norm = step[..np].iter().fold(0.0f64, |m, x| m.max(x.abs()));
        // The first trial carries the predictor; if it fails, the plain Newton step follows.
        let mut predicted = iter == 0 && predict[..np].iter().any(|x| *x != 0.0);
        let mut trial = *v;
        for row in 0..np {
            trial[row] += step[row];
            if predicted {
                trial[row] += predict[row];
            }
        }
        nl.limit(v, &mut trial);
        let (mut ti, mut tr) = ([0.0; MAX_PORTS], [0.0; MAX_PORTS]);
        let mut tjac = [0.0; 16];
        let mut trn = f64::INFINITY;
        for halving in 0..=MAX_HALVINGS {
            tjac.fill(0.0);
            nl.eval(&trial, &mut ti, &mut tjac);
            trn = residual(&trial, &ti, &mut tr);
            // Natural monotonicity test (Deuflhard): the simplified Newton correction at the
            // trial, through the current factors, must be shorter than the full correction.
            // Unlike the raw residual this weighs each port by its loop gain, so a high-gain
            // port (the plate) no longer rejects steps that have brought the others in.
            let mut bar = [0.0; MAX_PORTS];
            for row in 0..np {
                bar[row] = -tr[row];
            }
            lu.solve(&mut bar, np);
            let bar_norm = bar[..np].iter().fold(0.0f64, |m, x| m.max(x.abs()));
            if (trn.is_finite() && bar_norm < step_norm) || halving == MAX_HALVINGS {
                break;
            }
            if predicted {
                predicted = false;
                for row in 0..np {
                    trial[row] = v[row] + step[row];
                }
                nl.limit(v, &mut trial);
            } else {
                for row in 0..np {
                    trial[row] = 0.5 * (trial[row] + v[row]);
                }
            }
        }
        if !trn.is_finite() {
            return (false, first);
        }
        *v = trial;
        *i = ti;
        r = tr;
        rn = trn;
        *jac = tjac;
    }
    (rn <= tol(v), first)
}

/// A netlist discretized at one sample rate, with its rest state and running state.
pub struct DkSolver<N: Nonlinearity> {
    nl: N,
    np: usize,
    nc: usize,
    tr: Reduced,
    m: StepMatrices,
    /// Contributions of the constant sources (supplies) to p, vc and y.
    p_const: [f64; MAX_PORTS],
    q_const: [f64; MAX_CAPS],
    y_const: f64,
    /// Trapezoidal companion conductance 2C/T per capacitor (S), and twice it (zero-padded).
    gc: Vec<f64>,
    two_gc: [f64; MAX_CAPS],
    /// Capacitor history currents (A), zero-padded to `MAX_CAPS`.
    h: [f64; MAX_CAPS],
    /// The history before the last sample's update (for [`DkSolver::port_voltages`]).
    h_prev: [f64; MAX_CAPS],
    v: [f64; MAX_PORTS],
    i: [f64; MAX_PORTS],
    jac: [f64; 16],
    /// Correction to the first Newton step: how far the previous sample's solution lay
    /// from where its first Newton step alone reached (V).
    predict: [f64; MAX_PORTS],
    h_rest: Vec<f64>,
    v_rest: [f64; MAX_PORTS],
    i_rest: [f64; MAX_PORTS],
    jac_rest: [f64; 16],
    y_rest: f64,
    max_iter: usize,
    newton_failures: u64,
    tail: usize,
    /// The netlist as last reduced (topology from `new`, element values from the last
    /// [`DkSolver::retune`]), its non-zero capacitors, the reduction workspace and a spare
    /// set of reduced matrices: what a retune needs, allocated once.
    net: Netlist,
    caps: Vec<(Node, Node, f64)>,
    reducer: Reducer,
    tr_next: Reduced,
    /// Solution tables replacing Newton (`tabulate`), and the samples that missed them.
    table: Option<Tabulation>,
    table_misses: u64,
    /// The last sample's input (V), and whether `v` lags behind a table-solved sample
    /// (the tables give currents only; voltages follow on demand).
    last_u0: f64,
    v_stale: bool,
}

impl<N: Nonlinearity> DkSolver<N> {
    /// Discretizes `net` at `sample_rate` (Hz), solves its DC operating point (capacitors
    /// open, source stepping over 20 steps) and sets the rest state. Allocates.
    pub fn new(
        net: &Netlist,
        nl: N,
        sample_rate: f64,
        max_iter: usize,
        stage: &str,
    ) -> Result<Self, Error> {
        let np = N::PORTS;
        if np != net.ports.len() || np > MAX_PORTS {
            return Err(Error::Circuit {
                stage: stage.into(),
                reason: format!(
                    "device has {np} ports, netlist {} (max {MAX_PORTS})",
                    net.ports.len()
                ),
            });
        }
        let bad = |what: &str, x: f64| Error::Circuit {
            stage: stage.into(),
            reason: format!("{what} value {x} is not usable"),
        };
        if let Some(&(_, _, r)) = net
            .resistors
            .iter()
            .find(|e| !(e.2.is_finite() && e.2 > 0.0))
        {
            return Err(bad("resistor", r));
        }
        if let Some(&(_, _, c)) = net
            .capacitors
            .iter()
            .find(|e| !(e.2.is_finite() && e.2 >= 0.0))
        {
            return Err(bad("capacitor", c));
        }
        let caps: Vec<(Node, Node, f64)> = net
            .capacitors
            .iter()
            .copied()
            .filter(|c| c.2 > 0.0)
            .collect();
        let nc = caps.len();
        if nc > MAX_CAPS {
            return Err(Error::Circuit {
                stage: stage.into(),
                reason: format!("{nc} capacitors (max {MAX_CAPS})"),
            });
        }
        let t = 1.0 / sample_rate;
        let gc: Vec<f64> = caps.iter().map(|c| 2.0 * c.2 / t).collect();
        let tr = reduce(net, &caps, &gc, stage)?;
        let dc = reduce(net, &caps, &vec![0.0; nc], stage)?;
        let ns = net.source_volts.len();
        let u = &net.source_volts;

        // DC operating point with the audio input at 0 V, supplies ramped in.
        let mut v = nl.dc_guess();
        let (mut i, mut jac) = eval_at(&nl, &v);
        let k_dc = pad_ports(&dc.k, np);
        const STEPS: usize = 20;
        for step in 1..=STEPS {
            let scale = step as f64 / STEPS as f64;
            let mut p = [0.0; MAX_PORTS];
            for a in 0..np {
                p[a] = (1..ns).map(|s| dc.pu[a * ns + s] * u[s] * scale).sum();
            }
            let (ok, _) = newton(&nl, &k_dc, &p, &mut v, &mut i, &mut jac, 200, &[0.0; 4]);
            if !ok && step == STEPS {
                return Err(Error::Circuit {
                    stage: stage.into(),
                    reason: "no DC operating point found".into(),
                });
            }
        }
        if np == 0 {
            i = [0.0; MAX_PORTS];
        }
        let mut vc_dc = vec![0.0; nc];
        for c in 0..nc {
            vc_dc[c] = (1..ns).map(|s| dc.qu[c * ns + s] * u[s]).sum::<f64>()
                + (0..np).map(|a| dc.qi[c * np + a] * i[a]).sum::<f64>();
        }
        let h_rest: Vec<f64> = (0..nc).map(|c| gc[c] * vc_dc[c]).collect();

        let mut p_const = [0.0; MAX_PORTS];
        for a in 0..np {
            p_const[a] = (1..ns).map(|s| tr.pu[a * ns + s] * u[s]).sum();
        }
        let mut q_const = [0.0; MAX_CAPS];
        for c in 0..nc {
            q_const[c] = (1..ns).map(|s| tr.qu[c * ns + s] * u[s]).sum();
        }
        let mut two_gc = [0.0; MAX_CAPS];
        for c in 0..nc {
            two_gc[c] = 2.0 * gc[c];
        }
        let mut h = [0.0; MAX_CAPS];
        h[..nc].copy_from_slice(&h_rest);
        let y_const: f64 = (1..ns).map(|s| tr.ou[s] * u[s]).sum();

        let mut solver = DkSolver {
            nl,
            np,
            nc,
            m: StepMatrices::new(&tr, np, nc, ns),
            tr_next: tr.clone(),
            tr,
            p_const,
            q_const,
            y_const,
            gc,
            two_gc,
            h,
            h_prev: [0.0; MAX_CAPS],
            v,
            i,
            jac,
            predict: [0.0; MAX_PORTS],
            h_rest,
            v_rest: v,
            i_rest: i,
            jac_rest: jac,
            y_rest: 0.0,
            max_iter,
            newton_failures: 0,
            tail: 0,
            reducer: Reducer::new(net, &caps),
            net: net.clone(),
            caps,
            table: None,
            table_misses: 0,
            last_u0: 0.0,
            v_stale: false,
        };
        solver.y_rest = solver.output_at_rest(&dc, u, &i);
        solver.tail = solver.compute_tail(sample_rate);
        Ok(solver)
    }

    fn output_at_rest(&self, dc: &Reduced, u: &[f64], i: &[f64; MAX_PORTS]) -> f64 {
        let ns = u.len();
        (1..ns).map(|s| dc.ou[s] * u[s]).sum::<f64>()
            + (0..self.np).map(|a| dc.oi[a] * i[a]).sum::<f64>()
    }

    /// Samples for the slowest mode of the circuit, linearized at rest, to decay by 80 dB.
    fn compute_tail(&self, sample_rate: f64) -> usize {
        let (np, nc) = (self.np, self.nc);
        if nc == 0 {
            return 0;
        }
        // dv = (I − K·D)⁻¹·Ph·dh; dvc = Qh·dh + Qi·D·dv; dh' = 2·gc⊙dvc − dh.
        let jac = self.jac_rest;
        let d: Vec<f64> = (0..np * np).map(|x| jac[(x / np) * 4 + x % np]).collect();
        let kd = matmul(&self.tr.k, &d, np, np, np);
        let mut ikd = vec![0.0; np * np];
        for r in 0..np {
            for c in 0..np {
                ikd[r * np + c] = if r == c { 1.0 } else { 0.0 } - kd[r * np + c];
            }
        }
        let mut a = self.tr.qh.clone();
        if np > 0 {
            if let Some(inv) = invert(&ikd, np) {
                let dv_dh = matmul(&inv, &self.tr.ph, np, np, nc);
                let di_dh = matmul(&d, &dv_dh, np, np, nc);
                let extra = matmul(&self.tr.qi, &di_dh, nc, np, nc);
                a.iter_mut().zip(extra).for_each(|(x, e)| *x += e);
            }
        }
        for r in 0..nc {
            for c in 0..nc {
                a[r * nc + c] *= 2.0 * self.gc[r];
                if r == c {
                    a[r * nc + c] -= 1.0;
                }
            }
        }
        let rho = spectral_radius(&a, nc);
        if rho < 1.0 - 1e-12 {
            (TAIL_DECAY.ln() / rho.max(1e-300).ln()).ceil().max(1.0) as usize
        } else {
            (MARGINAL_TAIL_SECONDS * sample_rate) as usize
        }
    }

    /// Replaces the element values of the running circuit with those of `net` — same
    /// topology as the netlist given to `new` (nodes, elements and their order, ports,
    /// output, sources; capacitor values unchanged), only resistor values may differ —
    /// and re-reduces it into preallocated buffers. Allocation-free (Gauss–Jordan on the
    /// `n×n` nodal matrix plus the projections: O(n³ + n²·(ns + nc + np))).
    ///
    /// State continuity: the capacitor history currents `h` (and the port state) carry
    /// over unchanged, so each capacitor's voltage stays continuous across the change —
    /// the physical behaviour of a pot moving: a capacitor's charge cannot jump, while
    /// the currents through the resistors change at once. The trapezoidal step after the
    /// change integrates `dv/dt = i/C` from the same previous voltage and current.
    ///
    /// Returns `false` and changes nothing when the topology differs, a resistor is not
    /// finite and positive, or the new nodal matrix is singular. The rest state (`reset`)
    /// and the tail stay those of `new`: exact for circuits without supplies and ports,
    /// whose rest state is zero whatever the element values.
    pub fn retune(&mut self, net: &Netlist) -> bool {
        let same = |a: &[(Node, Node, f64)], b: &[(Node, Node, f64)]| {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.0 == y.0 && x.1 == y.1)
        };
        let old = &self.net;
        if net.n_nodes != old.n_nodes
            || net.source_volts != old.source_volts
            || net.ports != old.ports
            || net.output != old.output
            || net.capacitors != old.capacitors
            || net.vccs != old.vccs
            || !same(&net.resistors, &old.resistors)
            || !net.resistors.iter().all(|r| r.2.is_finite() && r.2 > 0.0)
        {
            return false;
        }
        if !self
            .reducer
            .reduce_into(net, &self.caps, &self.gc, &mut self.tr_next)
        {
            return false;
        }
        for (dst, src) in self.net.resistors.iter_mut().zip(&net.resistors) {
            dst.2 = src.2;
        }
        std::mem::swap(&mut self.tr, &mut self.tr_next);
        let (np, nc, ns) = (self.np, self.nc, self.net.source_volts.len());
        self.m.fill(&self.tr, np, nc, ns);
        let (u, tr) = (&self.net.source_volts, &self.tr);
        for a in 0..np {
            self.p_const[a] = (1..ns).map(|s| tr.pu[a * ns + s] * u[s]).sum();
        }
        for c in 0..nc {
            self.q_const[c] = (1..ns).map(|s| tr.qu[c * ns + s] * u[s]).sum();
        }
        self.y_const = (1..ns).map(|s| tr.ou[s] * u[s]).sum();
        // The predictor learned under the old matrices does not apply to the new ones, nor
        // do solution tables.
        self.predict = [0.0; MAX_PORTS];
        self.table = None;
        true
    }

    /// Returns to the DC rest state. Allocation-free.
    pub fn reset(&mut self) {
        self.h[..self.nc].copy_from_slice(&self.h_rest);
        self.v = self.v_rest;
        self.i = self.i_rest;
        self.jac = self.jac_rest;
        self.predict = [0.0; MAX_PORTS];
        self.newton_failures = 0;
        self.table_misses = 0;
        self.last_u0 = 0.0;
        self.v_stale = false;
        match self.table.as_mut() {
            Some(Tabulation::Split(s)) => s.reset(),
            Some(Tabulation::Single(s)) => s.anchor(&self.h),
            None => {}
        }
    }

    /// One sample: input `u0` (V) → output (V). Allocation-free, never panics. The state
    /// update uses fused multiply-adds (`mul_add`: one rounding, the same bits on every
    /// CPU); callers on the audio path compile it with the CPU's FMA (see
    /// `CircuitStage::process`), elsewhere it falls back to libm's `fma`.
    #[inline(always)]
    pub fn step(&mut self, u0: f64) -> f64 {
        // One branch per sample (always the same one) buys loops of the circuit's own
        // length, unrolled, over the padded arrays.
        match self.nc {
            0 => self.step_n::<0>(u0),
            1 => self.step_n::<1>(u0),
            2 => self.step_n::<2>(u0),
            3 => self.step_n::<3>(u0),
            _ => self.step_n::<MAX_CAPS>(u0),
        }
    }

    /// [`DkSolver::step`] for a circuit with `NC` capacitors.
    #[inline(always)]
    fn step_n<const NC: usize>(&mut self, u0: f64) -> f64 {
        let np = N::PORTS;
        // The linear parts first: they do not wait for the port solve. Entries beyond NC
        // stay zero in both history buffers.
        // Capacitor quantities are computed over all MAX_CAPS lanes (one vector operation
        // each; the padded lanes stay zero), in the same order per lane as a scalar loop.
        let m = &self.m;
        let mut base = [0.0; MAX_CAPS];
        for c in 0..MAX_CAPS {
            base[c] = m.qu0[c].mul_add(u0, self.q_const[c]);
        }
        for k in 0..NC {
            for c in 0..MAX_CAPS {
                base[c] = m.qh[k][c].mul_add(self.h[k], base[c]);
            }
        }
        let mut y = m.ou0.mul_add(u0, self.y_const);
        for c in 0..NC {
            y = m.oh[c].mul_add(self.h[c], y);
        }
        if np > 0 {
            let hit = match self.table.as_mut() {
                Some(Tabulation::Single(t)) => t.solve::<N>(u0, &mut self.i),
                Some(Tabulation::Split(t)) => match N::HALVES {
                    Some(halves) => {
                        let p = drive::<NC>(&m.pu0, &m.ph, &self.p_const, &self.h, u0, np);
                        t.solve(halves, &p, &mut self.i)
                    }
                    None => false,
                },
                None => false,
            };
            if hit {
                self.v_stale = true;
            } else {
                if self.table.is_some() {
                    self.table_misses += 1;
                }
                self.newton_step(u0);
            }
            self.last_u0 = u0;
        }
        let m = &self.m;
        let i = &self.i;
        // Ports that only sense a voltage carry no current (a constant per device: the
        // test folds away at compile time).
        for a in 0..np {
            if N::DRIVEN[a] {
                y = m.oi[a].mul_add(i[a], y);
            }
        }
        let mut vc = base;
        for a in 0..np {
            if N::DRIVEN[a] {
                for c in 0..MAX_CAPS {
                    vc[c] = m.qi[a][c].mul_add(i[a], vc[c]);
                }
            }
        }
        let mut h_next = [0.0; MAX_CAPS];
        for c in 0..MAX_CAPS {
            h_next[c] = flush(self.two_gc[c].mul_add(vc[c], -self.h[c]));
        }
        if let Some(Tabulation::Single(t)) = self.table.as_mut() {
            t.carry::<N, NC>(&base, &self.h, &self.two_gc, i);
        }
        // Whole arrays (a store in pieces reloaded whole by the next sample would stall
        // store forwarding).
        self.h_prev = self.h;
        self.h = h_next;
        y
    }

    /// The per-sample Newton solve of the port equation at input `u0` (V): warm start from
    /// the previous sample (whose voltages are first computed when a table solved it),
    /// result into `v`, `i`, `jac`. Must run before `step` swaps the history buffers.
    #[inline(always)]
    fn newton_step(&mut self, u0: f64) {
        let np = N::PORTS;
        if self.v_stale {
            // The previous sample's own voltages (not the new drive with the old currents:
            // a jump in drive would start Newton far out on an exponential).
            self.v = self.port_voltages();
            let (i, jac) = eval_at(&self.nl, &self.v);
            self.i = i;
            self.jac = jac;
            self.predict = [0.0; MAX_PORTS];
            self.v_stale = false;
        }
        let m = &self.m;
        let p = drive::<MAX_CAPS>(&m.pu0, &m.ph, &self.p_const, &self.h, u0, np);
        let (mut v, mut i, mut jac) = (self.v, self.i, self.jac);
        let (ok, first) = newton(
            &self.nl,
            &m.k,
            &p,
            &mut v,
            &mut i,
            &mut jac,
            self.max_iter,
            &self.predict,
        );
        if !ok {
            self.newton_failures += 1;
        }
        if v[..np].iter().chain(&i[..np]).all(|x| x.is_finite()) {
            for a in 0..np {
                self.predict[a] = v[a] - first[a];
            }
            self.v = v;
            self.i = i;
            self.jac = jac;
        }
    }

    /// Port voltages `p + K·i` (V).
    fn voltages_at(&self, p: &[f64; MAX_PORTS], i: &[f64; MAX_PORTS]) -> [f64; MAX_PORTS] {
        let np = N::PORTS;
        let mut v = *p;
        for a in 0..np {
            for b in 0..np {
                v[a] += self.m.k[a * 4 + b] * i[b];
            }
        }
        v
    }

    /// The rest history, zero-padded.
    fn h_rest_padded(&self) -> [f64; MAX_CAPS] {
        let mut h = [0.0; MAX_CAPS];
        h[..self.nc].copy_from_slice(&self.h_rest);
        h
    }

    /// Samples a solution table missed (solved by Newton instead) since the last reset.
    pub fn table_misses(&self) -> u64 {
        self.table_misses
    }

    /// Whether solution tables solve the port equation (see [`DkSolver::tabulate`]).
    pub fn is_tabulated(&self) -> bool {
        self.table.is_some()
    }

    /// Output at the DC rest point (V).
    pub fn rest_output(&self) -> f64 {
        self.y_rest
    }

    /// Port voltages at the DC rest point (V), in port order.
    pub fn rest_port_voltages(&self) -> &[f64] {
        &self.v_rest[..self.np]
    }

    /// Port currents at the DC rest point (A), in port order.
    pub fn rest_port_currents(&self) -> &[f64] {
        &self.i_rest[..self.np]
    }

    /// Port voltages (V) of the last solved sample (the rest point after `prepare`/`reset`),
    /// in port order (only the first `PORTS` entries are meaningful). After a table-solved
    /// sample they are computed here from that sample's drive (its history, `h_prev`).
    pub fn port_voltages(&self) -> [f64; MAX_PORTS] {
        if !self.v_stale {
            return self.v;
        }
        let m = &self.m;
        let p = drive::<MAX_CAPS>(
            &m.pu0,
            &m.ph,
            &self.p_const,
            &self.h_prev,
            self.last_u0,
            N::PORTS,
        );
        self.voltages_at(&p, &self.i)
    }

    /// Samples for which Newton stopped at the iteration limit since the last reset.
    pub fn newton_failures(&self) -> u64 {
        self.newton_failures
    }

    /// Samples for the slowest linearized mode to decay by 80 dB.
    pub fn tail_samples(&self) -> usize {
        self.tail
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::circuit::Linear;

    /// A third-order RC ladder whose first resistor is a "pot" of `r1` ohms.
    fn ladder(r1: f64) -> Netlist {
        let (a, b, c) = (Node::Internal(0), Node::Internal(1), Node::Internal(2));
        let mut net = Netlist::new(3, &[]);
        net.resistor(Node::Source(0), a, r1)
            .capacitor(a, Node::Ground, 10e-9)
            .resistor(a, b, 22e3)
            .capacitor(b, Node::Ground, 4.7e-9)
            .resistor(b, c, 47e3)
            .capacitor(a, c, 1e-9)
            .resistor(c, Node::Ground, 100e3);
        net.output = (c, Node::Ground);
        net
    }

    fn solver(r1: f64) -> DkSolver<Linear> {
        DkSolver::new(&ladder(r1), Linear, 48_000.0, 50, "test").unwrap()
    }

    #[test]
    fn retune_gives_the_matrices_of_a_fresh_reduction_and_keeps_the_state() {
        let mut moved = solver(1e3);
        for n in 0..500 {
            moved.step((n as f64 * 0.05).sin());
        }
        assert!(moved.retune(&ladder(33e3)));
        let mut fresh = solver(33e3);
        for (a, b) in [
            (&moved.tr.qh, &fresh.tr.qh),
            (&moved.tr.qu, &fresh.tr.qu),
            (&moved.tr.oh, &fresh.tr.oh),
            (&moved.tr.ou, &fresh.tr.ou),
        ] {
            assert_eq!(a, b);
        }
        // The same state in both: every later output is the same to the bit.
        fresh.h.copy_from_slice(&moved.h);
        for n in 0..500 {
            let u = (n as f64 * 0.07).cos();
            assert_eq!(moved.step(u).to_bits(), fresh.step(u).to_bits());
        }
    }

    #[test]
    fn retune_with_the_same_values_changes_no_bit() {
        let (mut a, mut b) = (solver(5e3), solver(5e3));
        assert!(a.retune(&ladder(5e3)));
        for n in 0..200 {
            let u = (n as f64 * 0.1).sin();
            assert_eq!(a.step(u).to_bits(), b.step(u).to_bits());
        }
    }

    #[test]
    fn retune_refuses_another_topology_or_a_bad_value() {
        let mut s = solver(5e3);
        let mut other = ladder(5e3);
        other.resistor(Node::Internal(1), Node::Ground, 1e6);
        assert!(!s.retune(&other));
        assert!(!s.retune(&ladder(f64::NAN)));
        assert!(!s.retune(&ladder(0.0)));
        let mut moved_cap = ladder(5e3);
        moved_cap.capacitors[0].2 = 22e-9;
        assert!(!s.retune(&moved_cap));
        // Unchanged after the refusals.
        let mut fresh = solver(5e3);
        for n in 0..100 {
            let u = (n as f64 * 0.1).sin();
            assert_eq!(s.step(u).to_bits(), fresh.step(u).to_bits());
        }
    }
}
