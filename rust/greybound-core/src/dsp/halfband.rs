//! Linear-phase half-band FIR filters in polyphase form: a 2× interpolator and a 2×
//! decimator.
//!
//! A half-band low-pass `h[n]` (n = −D..D, D = 2m + 1 odd, N = 2D + 1 = 4m + 3 taps) is a
//! Kaiser-windowed ideal low-pass at a quarter of the high rate:
//! `h[0] = ½`, `h[n] = sin(πn/2)/(πn)·w[n]`, so every even `n ≠ 0` is exactly zero. In
//! polyphase form one branch is a pure delay (the centre tap) and the other holds the
//! `D + 1` odd taps, so a 2× interpolator or decimator costs `D + 1` multiply-adds per
//! low-rate sample. Both add `D` samples of delay at the high rate (linear phase).
//!
//! Design (Kaiser's formulas, J. F. Kaiser, "Nonrecursive digital filter design using the
//! I0-sinh window function", 1974): for stopband attenuation `A` dB and transition width
//! `Δ` (fraction of the high rate), `β = 0.1102·(A − 8.7)` and `N ≥ (A − 7.95)/(14.36·Δ) + 1`.
//! A half-band filter's passband and stopband ripples are equal, so `A` = 100 dB also means
//! a passband ripple of about 1e-5 (0.0001 dB).

use std::f64::consts::PI;

/// Modified Bessel function of the first kind, order 0 (power series; converges for all x).
fn bessel_i0(x: f64) -> f64 {
    let (mut sum, mut term, q) = (1.0, 1.0, x * x / 4.0);
    for k in 1..200 {
        term *= q / (k * k) as f64;
        sum += term;
        if term < 1e-17 * sum {
            break;
        }
    }
    sum
}

/// The `D + 1` non-zero odd taps `h[−D], h[−D+2], …, h[D]` of a half-band filter with stopband
/// attenuation `atten_db` and transition width `transition` (fraction of the high rate,
/// centred on a quarter of it). The centre tap is ½ and is not included.
pub fn design_odd_taps(atten_db: f64, transition: f64) -> Vec<f64> {
    let n_min = (atten_db - 7.95) / (14.36 * transition) + 1.0;
    // N = 4m + 3 ≥ n_min.
    let m = ((n_min - 3.0) / 4.0).ceil().max(0.0) as usize;
    let d = 2 * m + 1;
    let beta = 0.1102 * (atten_db - 8.7);
    let i0_beta = bessel_i0(beta);
    (0..=d)
        .map(|j| {
            let n = 2.0 * j as f64 - d as f64; // odd, −D..D
            let r = n / d as f64;
            let w = bessel_i0(beta * (1.0 - r * r).max(0.0).sqrt()) / i0_beta;
            (PI * n / 2.0).sin() / (PI * n) * w
        })
        .collect()
}

/// A delay line that always exposes its last `len` inputs as one contiguous slice (each
/// sample is written twice, `len` apart: no wrap-around in the inner loop).
#[derive(Debug, Clone)]
struct History {
    buf: Vec<f64>,
    len: usize,
    pos: usize,
}

impl History {
    fn new(len: usize) -> Self {
        History {
            buf: vec![0.0; 2 * len],
            len,
            pos: 0,
        }
    }

    fn clear(&mut self) {
        self.buf.fill(0.0);
        self.pos = 0;
    }

    /// Pushes `x`; afterwards `window()[len − 1]` is `x` and `window()[0]` the oldest sample.
    #[inline(always)]
    fn push(&mut self, x: f64) {
        self.buf[self.pos] = x;
        self.buf[self.pos + self.len] = x;
        self.pos += 1;
        if self.pos == self.len {
            self.pos = 0;
        }
    }

    #[inline(always)]
    fn window(&self) -> &[f64] {
        &self.buf[self.pos..self.pos + self.len]
    }

    /// The sample pushed `age` pushes ago (0 = newest), `age < len`.
    #[inline(always)]
    fn ago(&self, age: usize) -> f64 {
        self.window()[self.len - 1 - age]
    }
}

/// Dot product of the odd taps (oldest-first order is irrelevant: the taps are symmetric)
/// with a window of the same length.
#[inline(always)]
fn dot(taps: &[f64], window: &[f64]) -> f64 {
    taps.iter().zip(window).map(|(a, b)| a * b).sum()
}

/// 2× interpolator: each low-rate sample becomes two high-rate samples. Delay: `D` high-rate
/// samples. Passband gain 1.
#[derive(Debug, Clone)]
pub struct Upsampler2 {
    taps: Vec<f64>,
    hist: History,
    /// Index m of the centre (pure-delay) branch: D = 2m + 1.
    centre: usize,
}

impl Upsampler2 {
    pub fn new(odd_taps: &[f64]) -> Self {
        let d = odd_taps.len() - 1;
        Upsampler2 {
            // ×2: zero-stuffing halves the passband gain.
            taps: odd_taps.iter().map(|t| 2.0 * t).collect(),
            hist: History::new(odd_taps.len()),
            centre: (d - 1) / 2,
        }
    }

    pub fn reset(&mut self) {
        self.hist.clear();
    }

    /// High-rate delay D (samples).
    pub fn delay(&self) -> usize {
        self.taps.len() - 1
    }

    /// One low-rate sample in, two high-rate samples out (even phase first).
    #[inline]
    pub fn process(&mut self, x: f64) -> [f64; 2] {
        self.hist.push(x);
        let even = dot(&self.taps, self.hist.window());
        let odd = self.hist.ago(self.centre);
        [even, odd]
    }
}

/// 2× decimator: two high-rate samples (even phase first) become one low-rate sample.
/// Delay: `D` high-rate samples.
#[derive(Debug, Clone)]
pub struct Downsampler2 {
    taps: Vec<f64>,
    even: History,
    odd: History,
    centre: usize,
}

impl Downsampler2 {
    pub fn new(odd_taps: &[f64]) -> Self {
        let d = odd_taps.len() - 1;
        let centre = (d - 1) / 2;
        Downsampler2 {
            taps: odd_taps.to_vec(),
            even: History::new(odd_taps.len()),
            odd: History::new(centre + 2),
            centre,
        }
    }

    pub fn reset(&mut self) {
        self.even.clear();
        self.odd.clear();
    }

    /// y\[k\] = Σ_p h_odd\[p\]·z\[2k − 2p\] + ½·z\[2(k − m − 1) + 1\].
    #[inline]
    pub fn process(&mut self, z: [f64; 2]) -> f64 {
        self.even.push(z[0]);
        let y = dot(&self.taps, self.even.window()) + 0.5 * self.odd.ago(self.centre);
        self.odd.push(z[1]);
        y
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// |H(f)| of the full half-band filter at `f` (fraction of the high rate).
    fn response(odd: &[f64], f: f64) -> f64 {
        let d = odd.len() as f64 - 1.0;
        let mut re = 0.5;
        for (j, h) in odd.iter().enumerate() {
            let n = 2.0 * j as f64 - d;
            re += h * (2.0 * PI * f * n).cos(); // symmetric taps: real response
        }
        re.abs()
    }

    #[test]
    fn kaiser_half_band_meets_its_specification() {
        let taps = design_odd_taps(100.0, 0.07);
        // Passband edge 0.215, stopband edge 0.285 of the high rate.
        let worst_pass = (0..=200)
            .map(|k| (response(&taps, 0.215 * k as f64 / 200.0) - 1.0).abs())
            .fold(0.0, f64::max);
        let worst_stop = (0..=200)
            .map(|k| response(&taps, 0.285 + 0.215 * k as f64 / 200.0))
            .fold(0.0, f64::max);
        // Kaiser's formula is an estimate: allow 3 dB on the 100 dB target.
        assert!(
            worst_pass < 10f64.powf(-97.0 / 20.0),
            "pass ripple {worst_pass}"
        );
        assert!(worst_stop < 10f64.powf(-97.0 / 20.0), "stop {worst_stop}");
        assert_eq!(taps.len() % 2, 0, "D + 1 odd taps with D odd");
    }

    #[test]
    fn up_then_down_impulse_response_peaks_at_d_low_rate_samples_and_is_symmetric() {
        let taps = design_odd_taps(100.0, 0.2);
        let (mut up, mut down) = (Upsampler2::new(&taps), Downsampler2::new(&taps));
        let d = up.delay();
        let ys: Vec<f64> = (0..2 * d + 1)
            .map(|k| down.process(up.process(if k == 0 { 1.0 } else { 0.0 })))
            .collect();
        let peak = (0..ys.len())
            .max_by(|&a, &b| ys[a].total_cmp(&ys[b]))
            .unwrap();
        assert_eq!(peak, d);
        for k in 0..d {
            assert!((ys[k] - ys[2 * d - k]).abs() < 1e-15, "asymmetric at {k}");
        }
    }
}
