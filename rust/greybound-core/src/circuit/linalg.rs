//! Small dense linear algebra: row-major matrices in flat slices.

/// Inverts the `n×n` row-major matrix `a` by Gauss–Jordan elimination with partial
/// pivoting. Returns `None` when a pivot is below `1e-300` relative to the row scale
/// (singular: e.g. a node without a DC path).
pub fn invert(a: &[f64], n: usize) -> Option<Vec<f64>> {
    let mut work = vec![0.0; n * n];
    let mut inv = vec![0.0; n * n];
    invert_into(a, n, &mut work, &mut inv).then_some(inv)
}

/// [`invert`] into caller-owned storage: `work` (n·n, scratch) and `inv` (n·n, the
/// inverse). Same arithmetic, so the same bits; allocation-free. Returns `false` when the
/// matrix is singular (then `inv` holds garbage).
pub fn invert_into(a: &[f64], n: usize, work: &mut [f64], inv: &mut [f64]) -> bool {
    let m = &mut work[..n * n];
    let inv = &mut inv[..n * n];
    m.copy_from_slice(&a[..n * n]);
    inv.fill(0.0);
    for i in 0..n {
        inv[i * n + i] = 1.0;
    }
    let scale = a[..n * n]
        .iter()
        .fold(0.0f64, |s, x| s.max(x.abs()))
        .max(f64::MIN_POSITIVE);
    for col in 0..n {
        let Some(pivot_row) =
            (col..n).max_by(|&r, &s| m[r * n + col].abs().total_cmp(&m[s * n + col].abs()))
        else {
            return false;
        };
        if m[pivot_row * n + col].abs() <= 1e-15 * scale {
            return false;
        }
        if pivot_row != col {
            for k in 0..n {
                m.swap(col * n + k, pivot_row * n + k);
                inv.swap(col * n + k, pivot_row * n + k);
            }
        }
        let p = m[col * n + col];
        for k in 0..n {
            m[col * n + k] /= p;
            inv[col * n + k] /= p;
        }
        for r in 0..n {
            if r != col {
                let f = m[r * n + col];
                if f != 0.0 {
                    for k in 0..n {
                        m[r * n + k] -= f * m[col * n + k];
                        inv[r * n + k] -= f * inv[col * n + k];
                    }
                }
            }
        }
    }
    true
}

/// `c (r×p) = a (r×q) · b (q×p)`.
pub fn matmul(a: &[f64], b: &[f64], r: usize, q: usize, p: usize) -> Vec<f64> {
    let mut c = vec![0.0; r * p];
    matmul_into(a, b, r, q, p, &mut c);
    c
}

/// [`matmul`] into caller-owned `c` (r·p, overwritten). Allocation-free.
pub fn matmul_into(a: &[f64], b: &[f64], r: usize, q: usize, p: usize, c: &mut [f64]) {
    let c = &mut c[..r * p];
    c.fill(0.0);
    for i in 0..r {
        for k in 0..q {
            let aik = a[i * q + k];
            if aik != 0.0 {
                for j in 0..p {
                    c[i * p + j] += aik * b[k * p + j];
                }
            }
        }
    }
}

/// LU factors (partial pivoting) of a small `n×n` matrix (n ≤ 4) held in a fixed 4×4
/// layout, for solving several right-hand sides with one factorization. Allocation-free.
pub struct SmallLu {
    lu: [f64; 16],
    perm: [usize; 4],
}

impl SmallLu {
    /// Factors the leading `n×n` block of `a`; `None` if it is numerically singular.
    /// `n` is a compile-time constant at every call site, so each size gets its own
    /// unrolled code.
    #[inline(always)]
    pub fn factor(a: &[f64; 16], n: usize) -> Option<Self> {
        let mut f = SmallLu {
            lu: *a,
            perm: [0, 1, 2, 3],
        };
        let ok = match n {
            0 => true,
            1 => f.factor_fixed::<1>(),
            2 => f.factor_fixed::<2>(),
            3 => f.factor_fixed::<3>(),
            _ => f.factor_fixed::<4>(),
        };
        ok.then_some(f)
    }

    /// Solves `a x = b` in place.
    #[inline(always)]
    pub fn solve(&self, b: &mut [f64; 4], n: usize) {
        match n {
            0 => {}
            1 => self.solve_fixed::<1>(b),
            2 => self.solve_fixed::<2>(b),
            3 => self.solve_fixed::<3>(b),
            _ => self.solve_fixed::<4>(b),
        }
    }

    /// Doolittle elimination with partial pivoting; the diagonal holds reciprocal pivots.
    #[inline(always)]
    fn factor_fixed<const N: usize>(&mut self) -> bool {
        let a = &mut self.lu;
        for col in 0..N {
            let mut piv = col;
            let mut best = a[col * 4 + col].abs();
            for r in (col + 1)..N {
                let v = a[r * 4 + col].abs();
                if v > best {
                    best = v;
                    piv = r;
                }
            }
            if best.is_nan() || best <= 1e-300 {
                return false;
            }
            if piv != col {
                for k in 0..N {
                    a.swap(col * 4 + k, piv * 4 + k);
                }
                self.perm.swap(col, piv);
            }
            let inv_p = 1.0 / a[col * 4 + col];
            a[col * 4 + col] = inv_p;
            for r in (col + 1)..N {
                let f = a[r * 4 + col] * inv_p;
                a[r * 4 + col] = f;
                for k in (col + 1)..N {
                    a[r * 4 + k] -= f * a[col * 4 + k];
                }
            }
        }
        true
    }

    #[inline(always)]
    fn solve_fixed<const N: usize>(&self, b: &mut [f64; 4]) {
        let a = &self.lu;
        let mut x = [0.0; 4];
        for r in 0..N {
            let mut s = b[self.perm[r]];
            for k in 0..r {
                s -= a[r * 4 + k] * x[k];
            }
            x[r] = s;
        }
        for r in (0..N).rev() {
            let mut s = x[r];
            for k in (r + 1)..N {
                s -= a[r * 4 + k] * x[k];
            }
            x[r] = s * a[r * 4 + r];
        }
        b[..N].copy_from_slice(&x[..N]);
    }
}

/// Spectral radius estimate of an `n×n` matrix by repeated squaring:
/// ρ(A) = lim ‖A^(2^k)‖^(1/2^k), with renormalisation to avoid overflow.
pub fn spectral_radius(a: &[f64], n: usize) -> f64 {
    let norm = |m: &[f64]| m.iter().map(|x| x * x).sum::<f64>().sqrt();
    let n0 = norm(a);
    if n0 == 0.0 {
        return 0.0;
    }
    let mut m: Vec<f64> = a.iter().map(|x| x / n0).collect();
    let mut log_scale = n0.ln();
    let mut k = 0;
    for _ in 0..40 {
        let sq = matmul(&m, &m, n, n, n);
        let s = norm(&sq);
        if s == 0.0 {
            return 0.0;
        }
        m = sq.iter().map(|x| x / s).collect();
        log_scale = 2.0 * log_scale + s.ln();
        k += 1;
    }
    (log_scale / 2f64.powi(k)).exp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inverse_times_matrix_is_identity() {
        let a = [4.0, 1.0, 0.5, 1.0, 3.0, 0.2, 0.5, 0.2, 2.0];
        let inv = invert(&a, 3).unwrap();
        let id = matmul(&a, &inv, 3, 3, 3);
        for i in 0..3 {
            for j in 0..3 {
                let want = if i == j { 1.0 } else { 0.0 };
                assert!((id[i * 3 + j] - want).abs() < 1e-14);
            }
        }
    }

    #[test]
    fn singular_matrix_is_rejected() {
        assert!(invert(&[1.0, 2.0, 2.0, 4.0], 2).is_none());
    }

    #[test]
    fn small_solve_matches_known_solution() {
        let mut a = [0.0; 16];
        a[..2].copy_from_slice(&[2.0, 1.0]);
        a[4..6].copy_from_slice(&[1.0, 3.0]);
        let mut b = [3.0, 5.0, 0.0, 0.0];
        SmallLu::factor(&a, 2).unwrap().solve(&mut b, 2);
        assert!((b[0] - 0.8).abs() < 1e-14 && (b[1] - 1.4).abs() < 1e-14);
    }

    #[test]
    fn small_lu_pivots_and_solves_every_size() {
        // Zero leading diagonal forces a row exchange; x = (1, −2, 3, −4)[..n].
        let m = [
            0.0, 2.0, 1.0, 0.5, 3.0, 1.0, -1.0, 0.2, 1.0, -2.0, 4.0, 1.0, 0.5, 0.1, 1.0, 5.0,
        ];
        let x = [1.0, -2.0, 3.0, -4.0];
        for n in 1..=4 {
            let mut a = [0.0; 16];
            let mut b = [0.0; 4];
            for r in 0..n {
                for c in 0..n {
                    a[r * 4 + c] = m[r * 4 + c] + if r == c && n == 1 { 1.0 } else { 0.0 };
                    b[r] += a[r * 4 + c] * x[c];
                }
            }
            SmallLu::factor(&a, n).unwrap().solve(&mut b, n);
            for r in 0..n {
                assert!((b[r] - x[r]).abs() < 1e-13, "n {n}: x[{r}] = {}", b[r]);
            }
        }
    }

    #[test]
    fn small_lu_rejects_a_singular_matrix() {
        let mut a = [0.0; 16];
        a[..2].copy_from_slice(&[1.0, 2.0]);
        a[4..6].copy_from_slice(&[2.0, 4.0]);
        assert!(SmallLu::factor(&a, 2).is_none());
    }

    #[test]
    fn spectral_radius_of_rotation_and_diagonal() {
        let (c, s) = (0.9 * 0.3f64.cos(), 0.9 * 0.3f64.sin());
        assert!((spectral_radius(&[c, -s, s, c], 2) - 0.9).abs() < 1e-9);
        assert!((spectral_radius(&[0.5, 0.0, 0.0, -0.99], 2) - 0.99).abs() < 1e-9);
    }
}
