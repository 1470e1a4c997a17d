//! Cubic Hermite tables: smooth functions of one or two variables sampled on a uniform grid
//! with their exact gradients, evaluated with value and gradient in O(1).
//!
//! Each cell stores the coefficients of its Hermite interpolant in the local power basis
//! (`s, t ∈ [0, 1]`), built from the node values, the first partials and — in two
//! dimensions — the mixed partial (bicubic Hermite; C¹ across cells). The interpolation
//! error is O(h⁴·‖f⁽⁴⁾‖) where `f` is smooth. Used by the tabulated K-method
//! (`DkSolver::tabulate`) for the solution of the port equation.

/// Largest number of outputs one table carries.
pub const MAX_OUTPUTS: usize = 2;

/// Hermite basis in the power basis: rows give the coefficients of `s⁰..s³` from
/// `(f(0), f(1), h·f'(0), h·f'(1))`.
const HERMITE: [[f64; 4]; 4] = [
    [1.0, 0.0, 0.0, 0.0],
    [0.0, 0.0, 1.0, 0.0],
    [-3.0, 3.0, -2.0, -1.0],
    [2.0, -2.0, 1.0, 1.0],
];

/// Quantization bins of an axis's cell finder: node positions sit on bin edges, so each
/// bin lies in exactly one cell.
pub const AXIS_BINS: usize = 8192;

/// One axis: increasing node positions on a quantized grid over `[lo, hi]`, with a bin →
/// cell map so that a lookup finds its cell with one multiply and one load, however
/// unevenly the nodes are spread.
#[derive(Debug, Clone)]
pub struct Axis {
    nodes: Vec<f64>,
    /// Per cell: its first node and 1/width, side by side (one load on the audio path).
    cells: Vec<[f64; 2]>,
    lo: f64,
    inv_bin: f64,
    cell_of_bin: Vec<u16>,
}

impl Axis {
    /// `n ≥ 2` evenly spread nodes over `[lo, hi]` (`hi > lo`).
    pub fn uniform(lo: f64, hi: f64, n: usize) -> Self {
        Self::with_density(lo, hi, n, &[1.0])
    }

    /// `n ≥ 2` nodes over `[lo, hi]` spread in proportion to `density` (samples of a
    /// positive density at evenly spaced points from `lo` to `hi`, piecewise constant):
    /// equal density mass between neighbouring nodes, each snapped to a bin edge, at least
    /// one bin apart.
    pub fn with_density(lo: f64, hi: f64, n: usize, density: &[f64]) -> Self {
        let n = n.clamp(2, AXIS_BINS / 2);
        let bin = (hi - lo) / AXIS_BINS as f64;
        // Cumulative density mass at each bin edge.
        let mut mass = vec![0.0; AXIS_BINS + 1];
        for b in 0..AXIS_BINS {
            let k = (b * density.len() / AXIS_BINS).min(density.len() - 1);
            mass[b + 1] = mass[b] + density[k].max(0.0) + 1e-300;
        }
        let total = mass[AXIS_BINS];
        let mut edges = Vec::with_capacity(n);
        let mut b = 0usize;
        for k in 0..n {
            let target = total * k as f64 / (n - 1) as f64;
            while b < AXIS_BINS && mass[b] < target {
                b += 1;
            }
            // Room for the nodes still to come, and one bin past the previous node.
            let lo_b = edges.last().map_or(0, |&e: &usize| e + 1);
            let hi_b = AXIS_BINS - (n - 1 - k);
            edges.push(b.clamp(lo_b, hi_b));
        }
        let nodes: Vec<f64> = edges.iter().map(|&e| lo + bin * e as f64).collect();
        let cells = nodes
            .windows(2)
            .map(|w| [w[0], 1.0 / (w[1] - w[0])])
            .collect();
        // One more bin than the axis has: x = hi lands in it, in the last cell.
        let mut cell_of_bin = vec![(n - 2) as u16; AXIS_BINS + 1];
        for c in 0..n - 1 {
            cell_of_bin[edges[c]..edges[c + 1]].fill(c as u16);
        }
        Axis {
            nodes,
            cells,
            lo,
            inv_bin: 1.0 / bin,
            cell_of_bin,
        }
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Always false: an axis has at least two nodes.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Coordinate of node `k`.
    pub fn node(&self, k: usize) -> f64 {
        self.nodes[k]
    }

    /// Width of cell `c`.
    fn step(&self, c: usize) -> f64 {
        self.nodes[c + 1] - self.nodes[c]
    }

    /// Cell index, local coordinate in [0, 1] and 1/width of `x`; `None` outside the axis
    /// or for NaN.
    #[inline(always)]
    fn locate(&self, x: f64) -> Option<(usize, f64, f64)> {
        let u = (x - self.lo) * self.inv_bin;
        // NaN fails both comparisons.
        if !(0.0..=AXIS_BINS as f64).contains(&u) {
            return None;
        }
        let cell = usize::from(*self.cell_of_bin.get(u as u32 as usize)?);
        let [x0, inv] = *self.cells.get(cell)?;
        Some((cell, (x - x0) * inv, inv))
    }
}

/// `a0 + a1·x + a2·x² + a3·x³` by Estrin's scheme with fused multiply-adds: two FMAs deep
/// (after x²) instead of Horner's three.
#[inline(always)]
fn cubic(a0: f64, a1: f64, a2: f64, a3: f64, x: f64) -> f64 {
    let x2 = x * x;
    a3.mul_add(x, a2).mul_add(x2, a1.mul_add(x, a0))
}

/// The derivative `a1 + 2·a2·x + 3·a3·x²` of [`cubic`].
#[inline(always)]
fn slope(a1: f64, a2: f64, a3: f64, x: f64) -> f64 {
    (3.0 * a3).mul_add(x, 2.0 * a2).mul_add(x, a1)
}

/// Node data: value, gradient and mixed partial of each output.
#[derive(Debug, Clone, Copy, Default)]
pub struct NodeSample {
    pub value: [f64; MAX_OUTPUTS],
    /// `grad[o][d] = ∂value[o]/∂x_d`.
    pub grad: [[f64; 2]; MAX_OUTPUTS],
    /// `∂²value[o]/∂x₀∂x₁` (2-D only; ignored in 1-D).
    pub mixed: [f64; MAX_OUTPUTS],
}

/// A cubic Hermite table over one or two dimensions with up to two outputs.
#[derive(Debug, Clone)]
pub struct HermiteTable {
    axes: [Axis; 2],
    dims: usize,
    outputs: usize,
    /// Per cell, per output: 16 (2-D, `a[j*4 + i]` for `s^i t^j`: the four `s`-rows side by
    /// side, one vector per power of `t`) or 4 (1-D) coefficients.
    coef: Vec<f64>,
    /// Offsets (in `coef`) of one cell along each axis.
    stride: [usize; 2],
    /// Whether this CPU has FMA (x86_64; see `rows`).
    fma: bool,
}

/// The `s`-rows of a bicubic cell at `t`: `c_i(t) = Σ_j a[j*4 + i]·t^j`, and their
/// `t`-derivatives, four lanes side by side: where the CPU has FMA (`fma`, detected when the
/// table was built) one AVX operation per step, else the same arithmetic lane by lane — the
/// same bits either way.
#[inline(always)]
fn rows(a: &[f64; 16], t: f64, fma: bool) -> ([f64; 4], [f64; 4]) {
    #[cfg(target_arch = "x86_64")]
    if fma {
        // SAFETY: `fma` is only set where the CPU supports FMA (and so AVX).
        return unsafe { rows_fma(a, t) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = fma;
    let (mut c, mut dc) = ([0.0; 4], [0.0; 4]);
    for i in 0..4 {
        c[i] = cubic(a[i], a[4 + i], a[8 + i], a[12 + i], t);
        dc[i] = slope(a[4 + i], a[8 + i], a[12 + i], t);
    }
    (c, dc)
}

/// Whether the CPU has FMA (and so AVX): x86_64 only, detected at run time.
fn has_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// [`rows`] in AVX registers: [`cubic`] and [`slope`] on four lanes. Inlined into callers
/// compiled with FMA (the circuit stages' loops).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "fma")]
#[inline]
unsafe fn rows_fma(a: &[f64; 16], t: f64) -> ([f64; 4], [f64; 4]) {
    use std::arch::x86_64::*;
    let p = a.as_ptr();
    let (a0, a1, a2, a3) = (
        _mm256_loadu_pd(p),
        _mm256_loadu_pd(p.add(4)),
        _mm256_loadu_pd(p.add(8)),
        _mm256_loadu_pd(p.add(12)),
    );
    let (x, x2) = (_mm256_set1_pd(t), _mm256_set1_pd(t * t));
    let c = _mm256_fmadd_pd(_mm256_fmadd_pd(a3, x, a2), x2, _mm256_fmadd_pd(a1, x, a0));
    let three_a3 = _mm256_mul_pd(_mm256_set1_pd(3.0), a3);
    let two_a2 = _mm256_mul_pd(_mm256_set1_pd(2.0), a2);
    let dc = _mm256_fmadd_pd(_mm256_fmadd_pd(three_a3, x, two_a2), x, a1);
    let (mut out_c, mut out_dc) = ([0.0; 4], [0.0; 4]);
    _mm256_storeu_pd(out_c.as_mut_ptr(), c);
    _mm256_storeu_pd(out_dc.as_mut_ptr(), dc);
    (out_c, out_dc)
}

/// Value and gradient of each output at one point.
#[derive(Debug, Clone, Copy, Default)]
pub struct Lookup {
    pub value: [f64; MAX_OUTPUTS],
    pub grad: [[f64; 2]; MAX_OUTPUTS],
}

impl HermiteTable {
    /// Builds a table from node samples `nodes[k0 + n0·k1]` (1-D: only `axes[0]` is
    /// used). Allocates.
    pub fn build(axes: [Axis; 2], dims: usize, outputs: usize, nodes: &[NodeSample]) -> Self {
        let (n0, n1) = (axes[0].len(), if dims == 2 { axes[1].len() } else { 1 });
        assert_eq!(nodes.len(), n0 * n1, "one sample per node");
        let per = if dims == 2 { 16 } else { 4 };
        let cells = (n0 - 1) * n1.saturating_sub(1).max(1);
        let mut coef = vec![0.0; cells * outputs * per];
        let at = |k0: usize, k1: usize| &nodes[k0 + n0 * k1];
        for c1 in 0..n1.saturating_sub(1).max(1) {
            let h1 = if dims == 2 { axes[1].step(c1) } else { 1.0 };
            for c0 in 0..n0 - 1 {
                let h0 = axes[0].step(c0);
                let cell = c0 + (n0 - 1) * c1;
                for o in 0..outputs {
                    let out = &mut coef[(cell * outputs + o) * per..][..per];
                    if dims == 1 {
                        let (a, b) = (at(c0, 0), at(c0 + 1, 0));
                        let g = [a.value[o], b.value[o], h0 * a.grad[o][0], h0 * b.grad[o][0]];
                        for (i, row) in HERMITE.iter().enumerate() {
                            out[i] = row.iter().zip(g).map(|(m, x)| m * x).sum();
                        }
                        continue;
                    }
                    // F[a][b]: a = (f(0,·), f(1,·), h0·fs(0,·), h0·fs(1,·)),
                    //          b = (·(0), ·(1), h1·ft(·,0), h1·ft(·,1)).
                    let mut f = [[0.0; 4]; 4];
                    for (si, k0) in [c0, c0 + 1].into_iter().enumerate() {
                        for (ti, k1) in [c1, c1 + 1].into_iter().enumerate() {
                            let s = at(k0, k1);
                            f[si][ti] = s.value[o];
                            f[si][2 + ti] = h1 * s.grad[o][1];
                            f[2 + si][ti] = h0 * s.grad[o][0];
                            f[2 + si][2 + ti] = h0 * h1 * s.mixed[o];
                        }
                    }
                    // A = M·F·Mᵀ.
                    let mut mf = [[0.0; 4]; 4];
                    for i in 0..4 {
                        for j in 0..4 {
                            mf[i][j] = (0..4).map(|k| HERMITE[i][k] * f[k][j]).sum();
                        }
                    }
                    for i in 0..4 {
                        for j in 0..4 {
                            out[j * 4 + i] = (0..4).map(|k| mf[i][k] * HERMITE[j][k]).sum();
                        }
                    }
                }
            }
        }
        let stride = [outputs * per, (n0 - 1) * outputs * per];
        HermiteTable {
            axes,
            dims,
            outputs,
            coef,
            stride,
            fma: has_fma(),
        }
    }

    /// The `N` coefficients of one cell's output starting at `at` in `coef`; `None` past
    /// the end.
    #[inline(always)]
    fn cell<const N: usize>(&self, at: usize) -> Option<&[f64; N]> {
        self.coef.get(at..at + N)?.try_into().ok()
    }

    /// Values only at `x` (only `x[0]` in 1-D) of the first `outputs` outputs (at most the
    /// table's own: a constant at the call site unrolls the loop); `None` outside the grid.
    #[inline(always)]
    pub fn values(&self, x: [f64; 2], outputs: usize) -> Option<[f64; MAX_OUTPUTS]> {
        debug_assert!(outputs <= self.outputs);
        let (c0, s, _) = self.axes[0].locate(x[0])?;
        let mut out = [0.0; MAX_OUTPUTS];
        if self.dims == 1 {
            let base = c0 * self.stride[0];
            for (o, v) in out.iter_mut().enumerate().take(outputs) {
                let a: &[f64; 4] = self.cell(base + o * 4)?;
                *v = cubic(a[0], a[1], a[2], a[3], s);
            }
            return Some(out);
        }
        let (c1, t, _) = self.axes[1].locate(x[1])?;
        let base = c0 * self.stride[0] + c1 * self.stride[1];
        for (o, v) in out.iter_mut().enumerate().take(outputs) {
            let a: &[f64; 16] = self.cell(base + o * 16)?;
            let (c, _) = rows(a, t, self.fma);
            *v = cubic(c[0], c[1], c[2], c[3], s);
        }
        Some(out)
    }

    /// Value and gradient at `x` (only `x[0]` in 1-D) of the first `outputs` outputs (as in
    /// [`Self::values`]); `None` outside the grid.
    #[inline(always)]
    pub fn lookup(&self, x: [f64; 2], outputs: usize) -> Option<Lookup> {
        debug_assert!(outputs <= self.outputs);
        let (c0, s, inv0) = self.axes[0].locate(x[0])?;
        let mut out = Lookup::default();
        if self.dims == 1 {
            let base = c0 * self.stride[0];
            for o in 0..outputs.min(MAX_OUTPUTS) {
                let a: &[f64; 4] = self.cell(base + o * 4)?;
                out.value[o] = cubic(a[0], a[1], a[2], a[3], s);
                out.grad[o][0] = slope(a[1], a[2], a[3], s) * inv0;
            }
            return Some(out);
        }
        let (c1, t, inv1) = self.axes[1].locate(x[1])?;
        let base = c0 * self.stride[0] + c1 * self.stride[1];
        for o in 0..outputs.min(MAX_OUTPUTS) {
            let a: &[f64; 16] = self.cell(base + o * 16)?;
            let (c, dc) = rows(a, t, self.fma);
            out.value[o] = cubic(c[0], c[1], c[2], c[3], s);
            out.grad[o][0] = slope(c[1], c[2], c[3], s) * inv0;
            out.grad[o][1] = cubic(dc[0], dc[1], dc[2], dc[3], s) * inv1;
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(f: impl Fn(f64, f64) -> (f64, f64, f64, f64), x: f64, y: f64) -> NodeSample {
        let (v, gx, gy, gxy) = f(x, y);
        NodeSample {
            value: [v, -v],
            grad: [[gx, gy], [-gx, -gy]],
            mixed: [gxy, -gxy],
        }
    }

    fn table2(f: impl Fn(f64, f64) -> (f64, f64, f64, f64) + Copy, n: usize) -> HermiteTable {
        let axes = [
            Axis::uniform(-1.0, 2.0, n),
            Axis::with_density(0.5, 3.0, n + 3, &[1.0, 3.0, 0.5]),
        ];
        let mut nodes = Vec::new();
        for k1 in 0..axes[1].len() {
            for k0 in 0..axes[0].len() {
                nodes.push(sample(f, axes[0].node(k0), axes[1].node(k1)));
            }
        }
        HermiteTable::build(axes, 2, 2, &nodes)
    }

    #[test]
    fn bicubic_reproduces_a_cubic_exactly() {
        // Any polynomial of degree ≤ 3 in each variable is reproduced.
        let f = |x: f64, y: f64| {
            (
                x * x * x * y * y + 2.0 * x * y - y * y * y + 0.5,
                3.0 * x * x * y * y + 2.0 * y,
                2.0 * x * x * x * y + 2.0 * x - 3.0 * y * y,
                6.0 * x * x * y + 2.0,
            )
        };
        let t = table2(f, 7);
        for &(x, y) in &[(-0.93, 0.61), (0.0, 1.0), (1.37, 2.99), (1.999, 0.5)] {
            let l = t.lookup([x, y], 2).expect("inside");
            let (v, gx, gy, _) = f(x, y);
            assert!((l.value[0] - v).abs() < 1e-12, "{} vs {v}", l.value[0]);
            assert!((l.value[1] + v).abs() < 1e-12);
            assert!((l.grad[0][0] - gx).abs() < 1e-11);
            assert!((l.grad[0][1] - gy).abs() < 1e-11);
        }
    }

    #[test]
    fn bicubic_error_falls_with_the_fourth_power_of_the_step() {
        let f = |x: f64, y: f64| {
            let (sn, cs) = (x * y).sin_cos();
            (sn, y * cs, x * cs, cs - x * y * sn)
        };
        let err = |n: usize| {
            let t = table2(f, n);
            let mut worst = 0.0f64;
            for k in 0..997 {
                let (x, y) = (
                    -1.0 + 3.0 * (k as f64 * 0.618).fract(),
                    0.5 + 2.5 * (k as f64 * 0.377).fract(),
                );
                worst = worst.max((t.lookup([x, y], 2).unwrap().value[0] - f(x, y).0).abs());
            }
            worst
        };
        let (coarse, fine) = (err(9), err(33));
        // Four times finer: ≈ 4⁴ = 256 better where O(h⁴) holds (measured 97 at these
        // coarse grids, still approaching the asymptote), far more than the 4² of a
        // bilinear table.
        assert!(coarse / fine > 60.0, "{coarse} → {fine}");
        // Sanity bound: Hermite's h⁴·|f⁗|/384 per direction with |f⁗| ≤ 3⁴ and cells up to
        // 0.15 wide on the uneven axis gives ≈ 1e-4.
        assert!(fine < 2e-4, "{fine}");
    }

    #[test]
    fn nodes_follow_the_density_and_every_point_finds_its_cell() {
        // Nine times the density in the middle third: most nodes go there.
        let a = Axis::with_density(0.0, 3.0, 41, &[1.0, 9.0, 1.0]);
        let middle = (0..a.len())
            .filter(|&k| (1.0..=2.0).contains(&a.node(k)))
            .count();
        assert!(middle >= 28, "{middle} of 41 in the dense third");
        assert!((a.node(0) - 0.0).abs() < 1e-12 && (a.node(40) - 3.0).abs() < 1e-12);
        for k in 0..3001 {
            let x = k as f64 * 1e-3;
            let (c, s, _) = a.locate(x).expect("inside");
            assert!((-1e-9..=1.0 + 1e-9).contains(&s), "x {x}: cell {c}, s {s}");
            assert!(a.node(c) <= x + 1e-12 && x <= a.node(c + 1) + 1e-12);
        }
    }

    #[test]
    fn outside_the_grid_and_nan_are_misses() {
        let t = table2(|x, y| (x + y, 1.0, 1.0, 0.0), 5);
        assert!(t.lookup([-1.01, 1.0], 2).is_none());
        assert!(t.lookup([0.0, 3.01], 2).is_none());
        assert!(t.lookup([f64::NAN, 1.0], 2).is_none());
        assert!(t.lookup([2.0, 3.0], 2).is_some());
    }

    #[test]
    fn one_dimensional_hermite_matches_a_cubic() {
        let axis = Axis::with_density(-2.0, 2.0, 5, &[2.0, 1.0]);
        let f = |x: f64| (x * x * x - x, 3.0 * x * x - 1.0);
        let nodes: Vec<NodeSample> = (0..5)
            .map(|k| {
                let (v, g) = f(axis.node(k));
                NodeSample {
                    value: [v, 0.0],
                    grad: [[g, 0.0], [0.0; 2]],
                    mixed: [0.0; 2],
                }
            })
            .collect();
        let t = HermiteTable::build([axis, Axis::uniform(0.0, 1.0, 2)], 1, 1, &nodes);
        for &x in &[-1.9, -0.3, 0.0, 1.234] {
            let l = t.lookup([x, 0.0], 1).unwrap();
            assert!((l.value[0] - f(x).0).abs() < 1e-12);
            assert!((l.grad[0][0] - f(x).1).abs() < 1e-11);
        }
    }
}
