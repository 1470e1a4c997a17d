//! [`WaveNet`]: the knob-conditioned WaveNet (FiLM + Snake) of a family-"wavenet" artifact,
//! streamed in real time.
//!
//! Per sample n, with u the conditioned input (see `artifact`) and C channels:
//! ```text
//! x_0 = input_weight·u[n] + input_bias
//! for each layer l (dilation d_l, kernel K):
//!     z = conv_bias[l] + Σ_k conv_weight[l,:,:,k] · x_l[n − (K−1−k)·d_l]
//!     z = γ_l ⊙ z + β_l                          (FiLM: γ = 1 + raw, from the knob MLP)
//!     a = z + sin²(α_l z)/α_l                     (Snake; z + α_l z² when |α_l| < 1e-4)
//!     x_{l+1} = x_l + a;   skip += a
//! y = (head_weight·skip + head_bias)·output.scale + output.offset, clamped as declared
//! ```
//! The history before the first sample (and after `reset`) is zero in every layer, as a
//! causal zero-padded convolution in PyTorch sees it.
//!
//! Streaming design. Samples are processed in *segments* of at most [`CONTROL_PERIOD`]
//! (32) samples, cut at every multiple of 32 of the absolute sample count since `reset`
//! (and at block ends). At each such boundary the smoothed knob features advance one ramp
//! step and γ, β are recomputed through the FiLM MLP, so γ, β change at most every 32
//! samples and only as a function of the sample count — never of the block size. Inside a
//! segment the network runs layer by layer over the whole segment (layer-major), so the
//! inner convolution loop is over time: for each output channel, 8 consecutive samples
//! accumulate `w · x[t − lag]` for every (input channel, tap) in registers. Each output
//! sample sees exactly the same operations in the same order whatever the segment length,
//! so block sizes 1, 7, 64, 4096 give bit-identical output.
//!
//! SIMD. The hot loop is compiled three times — portable, AVX2 and AVX-512 (8 or 16
//! samples per register) — and the widest one the CPU has is chosen at load. Every
//! multiply-add is an explicit `mul_add` (one rounding, IEEE fused multiply-add), which the
//! AVX copies turn into FMA instructions and the portable copy into the correctly rounded
//! `fmaf`, so all copies, on every machine, give the same bytes (tested).
//!
//! State: one *double-written* ring per layer and channel, M = (K−1)·d + 32 samples long
//! and stored twice (positions p and p + M), so the segment's window for any tap,
//! `ring[p − lag .. p − lag + n]`, is always contiguous without a rewind copy. Everything
//! is allocated in [`WaveNet::new`]; `process`, `reset`, `set_param` and
//! [`WaveNet::set_control_immediate`] never allocate.

use super::artifact::{check_sample_rate, Artifact, Clamp, ControlSpec, LayerSpec};
use crate::denormal::{to_f32_flushed, DenormalGuard};
use crate::error::Error;
use crate::processor::{Processor, Spec};
use crate::simd::Simd;

/// Samples per control segment: γ, β are recomputed at most this often, and the
/// layer-major loops run over at most this many samples.
pub const CONTROL_PERIOD: usize = 32;
/// Default knob smoothing time (s): a linear ramp of the knob features.
pub const DEFAULT_SMOOTHING_S: f64 = 0.020;
/// |α| below which Snake uses its limit z + α·z² (sin²(αz)/α → αz² as α → 0).
pub const SNAKE_ALPHA_MIN: f32 = 1e-4;

/// Samples accumulated together in registers by the convolution loop (portable and AVX2
/// builds; the AVX-512 build uses 16).
const LANES: usize = 8;

/// Cody–Waite split of π for the Snake range reduction: `PI_A` has 8 significant bits, so
/// k·PI_A is exact for |k| < 2^16; the three f32 values sum to π within 4e-15.
const PI_A: f32 = 3.140625;
const PI_B: f32 = 9.675_026e-4;
const PI_C: f32 = 1.509_958e-7;
/// 1.5·2^23: adding and subtracting it rounds an f32 below 2^22 to the nearest integer.
const ROUND_MAGIC: f32 = 12_582_912.0;

/// sin²(t) in f32 without a libm call, so that it vectorizes: t − kπ reduced to [−π/2, π/2]
/// (sin² has period π, so the sign of sin does not matter), then the Taylor polynomial to
/// r¹¹, whose truncation error ≤ (π/2)¹³/13! = 5.7e-8 — below f32 rounding of the result.
/// The reduction (fused, three-part π) is accurate far beyond any trained activation; past
/// |t| ≈ 2^22·π the rounding trick fails, but r is clamped to [−π/2, π/2], so the result
/// stays in [0, 1] for any finite t.
#[inline(always)]
fn sin_squared(t: f32) -> f32 {
    let k = t.mul_add(std::f32::consts::FRAC_1_PI, ROUND_MAGIC) - ROUND_MAGIC;
    let r = (-k).mul_add(PI_C, (-k).mul_add(PI_B, (-k).mul_add(PI_A, t)));
    let r = select_max(
        select_min(r, std::f32::consts::FRAC_PI_2),
        -std::f32::consts::FRAC_PI_2,
    );
    let r2 = r * r;
    const S3: f32 = -1.0 / 6.0;
    const S5: f32 = 1.0 / 120.0;
    const S7: f32 = -1.0 / 5040.0;
    const S9: f32 = 1.0 / 362_880.0;
    const S11: f32 = -1.0 / 39_916_800.0;
    let p = r2.mul_add(S11, S9);
    let p = r2.mul_add(p, S7);
    let p = r2.mul_add(p, S5);
    let p = r2.mul_add(p, S3);
    let p = r2.mul_add(p, 1.0);
    let s = r * p;
    s * s
}

/// min(a, b) as one vector instruction (a plain compare-select, without the NaN fix-up
/// instructions `f32::min` adds).
#[inline(always)]
fn select_min(a: f32, b: f32) -> f32 {
    if a < b {
        a
    } else {
        b
    }
}

/// max(a, b) as a plain compare-select (see [`select_min`]).
#[inline(always)]
fn select_max(a: f32, b: f32) -> f32 {
    if a > b {
        a
    } else {
        b
    }
}

/// One dilated layer's streaming state.
struct RingLayer {
    dilation: usize,
    /// Ring length M = (K−1)·d + [`CONTROL_PERIOD`].
    len: usize,
    /// Channel c at `ring[c·2M .. (c+1)·2M]`, every sample written at p and p + M.
    ring: Vec<f32>,
    /// Where the next sample goes, 0..M.
    pos: usize,
}

/// The knob features: conditioned values, a linear ramp toward the targets in steps of
/// one control segment, and the FiLM MLP that turns them into γ, β.
struct Knobs {
    specs: Vec<ControlSpec>,
    current: Vec<f64>,
    target: Vec<f64>,
    delta: Vec<f64>,
    steps_left: usize,
    smoothing_s: f64,
    sample_rate: f64,
    /// Conditioned features as f32 (the MLP input).
    features: Vec<f32>,
}

impl Knobs {
    /// Ramp length in control segments for the smoothing time (0: immediate).
    fn ramp_steps(&self) -> usize {
        (self.smoothing_s * self.sample_rate / CONTROL_PERIOD as f64).round() as usize
    }
}

/// The WaveNet runtime: volts in, volts out. See the module documentation for the design.
pub struct WaveNet {
    name: String,
    rates: Vec<f64>,
    in_scale: f32,
    in_offset: f32,
    in_range: [f32; 2],
    out_scale: f32,
    out_offset: f32,
    out_range: Option<[f32; 2]>,
    channels: usize,
    kernel: usize,
    input_w: Vec<f32>,
    input_b: Vec<f32>,
    /// [L, C out, C in, K] as in the artifact.
    conv_w: Vec<f32>,
    /// The same weights as [L, C in, K, C out], for the all-outputs kernel.
    conv_w_t: Vec<f32>,
    conv_b: Vec<f32>,
    alpha: Vec<f32>,
    /// 1/α, or 0 where |α| < [`SNAKE_ALPHA_MIN`] (the limit form is used there).
    inv_alpha: Vec<f32>,
    film_w1: Vec<f32>,
    film_b1: Vec<f32>,
    /// W2 transposed, [H, 2·C·L].
    film_w2_t: Vec<f32>,
    film_b2: Vec<f32>,
    head_w: Vec<f32>,
    head_b: f32,
    /// [L, C] FiLM scale and shift in force.
    gamma: Vec<f32>,
    beta: Vec<f32>,
    film_hidden: Vec<f32>,
    film_raw: Vec<f32>,
    layers: Vec<RingLayer>,
    knobs: Knobs,
    /// Samples processed since `reset` (segments are cut at its multiples of 32).
    count: u64,
    /// Scratch, C × [`CONTROL_PERIOD`] each: layer input, skip sum, conv output.
    cur: Vec<f32>,
    skip: Vec<f32>,
    z: Vec<f32>,
    /// Scratch: ring offset of each (input channel, tap) window, C × K.
    starts: Vec<usize>,
    macs: usize,
    /// Widest SIMD the CPU has: `segment` runs the matching compiled copy (same arithmetic).
    simd: Simd,
}

impl WaveNet {
    /// Builds the runtime for a validated family-"wavenet" artifact; `None` when its layer
    /// is not a wavenet layer. Allocates all state (rings sized (K−1)·d + 32 per layer).
    pub fn new(a: &Artifact) -> Option<WaveNet> {
        let d = &a.descriptor;
        let LayerSpec::Wavenet {
            channels,
            kernel_size,
            dilations,
            tensors: t,
            film_hidden,
            ..
        } = d.layers.first()?
        else {
            return None;
        };
        let (c, k, l) = (*channels, *kernel_size, dilations.len());
        let alpha = a.tensor(&t.snake_alpha).to_vec();
        let inv_alpha = alpha
            .iter()
            .map(|&v| {
                if v.abs() < SNAKE_ALPHA_MIN {
                    0.0
                } else {
                    1.0 / v
                }
            })
            .collect();
        let layers = dilations
            .iter()
            .map(|&dl| {
                let len = (k - 1) * dl + CONTROL_PERIOD;
                RingLayer {
                    dilation: dl,
                    len,
                    ring: vec![0.0; c * 2 * len],
                    pos: 0,
                }
            })
            .collect();
        let conv_w = a.tensor(&t.conv_weight).to_vec();
        let mut conv_w_t = vec![0.0; conv_w.len()];
        for layer in 0..l {
            for o in 0..c {
                for i in 0..c {
                    for tap in 0..k {
                        conv_w_t[((layer * c + i) * k + tap) * c + o] =
                            conv_w[((layer * c + o) * c + i) * k + tap];
                    }
                }
            }
        }
        let defaults: Vec<f64> = d.controls.iter().map(|s| s.feature(s.default)).collect();
        let mut net = WaveNet {
            name: d.name.clone(),
            rates: d.sample_rates_supported.clone(),
            in_scale: d.input.scale as f32,
            in_offset: d.input.offset as f32,
            in_range: [d.input.range[0] as f32, d.input.range[1] as f32],
            out_scale: d.output.scale as f32,
            out_offset: d.output.offset as f32,
            out_range: (d.output.clamp == Clamp::Saturate)
                .then(|| [d.output.range[0] as f32, d.output.range[1] as f32]),
            channels: c,
            kernel: k,
            input_w: a.tensor(&t.input_weight).to_vec(),
            input_b: a.tensor(&t.input_bias).to_vec(),
            conv_w,
            conv_w_t,
            conv_b: a.tensor(&t.conv_bias).to_vec(),
            alpha,
            inv_alpha,
            film_w1: a.tensor(&t.film_w1).to_vec(),
            film_b1: a.tensor(&t.film_b1).to_vec(),
            film_w2_t: transpose(a.tensor(&t.film_w2), 2 * c * l, *film_hidden),
            film_b2: a.tensor(&t.film_b2).to_vec(),
            head_w: a.tensor(&t.head_weight).to_vec(),
            head_b: a.tensor(&t.head_bias).first().copied().unwrap_or(0.0),
            gamma: vec![1.0; l * c],
            beta: vec![0.0; l * c],
            film_hidden: vec![0.0; *film_hidden],
            film_raw: vec![0.0; 2 * c * l],
            layers,
            knobs: Knobs {
                specs: d.controls.clone(),
                current: defaults.clone(),
                target: defaults.clone(),
                delta: vec![0.0; defaults.len()],
                steps_left: 0,
                smoothing_s: DEFAULT_SMOOTHING_S,
                sample_rate: d.sample_rate_hz,
                features: vec![0.0; defaults.len()],
            },
            count: 0,
            cur: vec![0.0; c * CONTROL_PERIOD],
            skip: vec![0.0; c * CONTROL_PERIOD],
            z: vec![0.0; c * CONTROL_PERIOD],
            starts: vec![0; c * k],
            macs: c + l * k * c * c + 2 * c * l + l * c + c,
            simd: Simd::detect(),
        };
        net.update_film();
        Some(net)
    }

    /// Multiply-accumulates per sample: L·K·C² (convolutions) + 2·C·L (FiLM apply) + L·C
    /// (Snake) + C (head) + C (input projection), as the PyTorch side counts them (1,808 for
    /// C=4, K=3, L=30).
    pub fn macs_per_sample(&self) -> usize {
        self.macs
    }

    /// Receptive field in samples: 1 + (K−1)·Σd (the impulse response's length).
    pub fn receptive_field(&self) -> usize {
        1 + self
            .layers
            .iter()
            .map(|r| (self.kernel - 1) * r.dilation)
            .sum::<usize>()
    }

    /// Number of weights (all tensors).
    pub fn parameter_count(&self) -> usize {
        [
            &self.input_w,
            &self.input_b,
            &self.conv_w,
            &self.conv_b,
            &self.alpha,
            &self.film_w1,
            &self.film_b1,
            &self.film_w2_t,
            &self.film_b2,
            &self.head_w,
        ]
        .iter()
        .map(|v| v.len())
        .sum::<usize>()
            + 1
    }

    /// Bytes of streaming state (rings, FiLM values, scratch), excluding the weights.
    pub fn state_bytes(&self) -> usize {
        let floats: usize = self.layers.iter().map(|r| r.ring.len()).sum::<usize>()
            + self.gamma.len()
            + self.beta.len()
            + self.film_hidden.len()
            + self.film_raw.len()
            + self.cur.len()
            + self.skip.len()
            + self.z.len()
            + self.inv_alpha.len();
        floats * 4 + self.starts.len() * std::mem::size_of::<usize>()
    }

    /// Runs the portable (non-AVX) loops from now on: the same arithmetic, to compare the
    /// SIMD copies against (tests and benchmarks).
    #[doc(hidden)]
    pub fn use_portable_loops(&mut self) {
        self.simd = Simd::Portable;
    }

    /// Index of the control called `name`.
    pub fn control_index(&self, name: &str) -> Option<usize> {
        self.knobs.specs.iter().position(|c| c.name == name)
    }

    /// Knob smoothing time in seconds (linear ramp of the features; 0 = immediate).
    /// Negative or non-finite values are treated as 0. Takes effect at the next change.
    pub fn set_smoothing_seconds(&mut self, seconds: f64) {
        self.knobs.smoothing_s = if seconds.is_finite() {
            seconds.max(0.0)
        } else {
            0.0
        };
    }

    /// Sets control `id` to `value` (its own units, clamped to range) at once, without a
    /// ramp: γ, β are recomputed now (for equivalence vectors). Allocation-free.
    pub fn set_control_immediate(&mut self, id: u32, value: f32) {
        let id = id as usize;
        let Some(spec) = self.knobs.specs.get(id) else {
            return;
        };
        let f = spec.feature(value as f64);
        let kn = &mut self.knobs;
        kn.target[id] = f;
        kn.current[id] = f;
        kn.delta[id] = 0.0;
        if kn.steps_left == 0 {
            kn.delta.fill(0.0);
        }
        self.update_film();
    }

    /// γ, β for the current knob features: h = tanh(W1·f + b1), raw = W2·h + b2,
    /// γ_l = 1 + raw[l·2C .. l·2C + C], β_l = raw[l·2C + C .. (l+1)·2C].
    fn update_film(&mut self) {
        let kn = &mut self.knobs;
        for (f, c) in kn.features.iter_mut().zip(&kn.current) {
            *f = *c as f32;
        }
        let n = kn.features.len();
        for (j, h) in self.film_hidden.iter_mut().enumerate() {
            let row = &self.film_w1[j * n..(j + 1) * n];
            let s = row
                .iter()
                .zip(&kn.features)
                .fold(self.film_b1[j], |acc, (w, x)| acc + w * x);
            *h = s.tanh();
        }
        // raw = b2 + Σ_j W2[:, j]·h[j], one column at a time (vectorizes over the 2·C·L
        // rows; each row still sums over j in ascending order).
        self.film_raw.copy_from_slice(&self.film_b2);
        for (col, h) in self
            .film_w2_t
            .chunks_exact(self.film_raw.len())
            .zip(&self.film_hidden)
        {
            for (r, w) in self.film_raw.iter_mut().zip(col) {
                *r += w * h;
            }
        }
        let c = self.channels;
        for (l, raw) in self.film_raw.chunks_exact(2 * c).enumerate() {
            for ch in 0..c {
                self.gamma[l * c + ch] = 1.0 + raw[ch];
                self.beta[l * c + ch] = raw[c + ch];
            }
        }
    }

    /// At a control boundary: one ramp step of the knob features, then new γ, β.
    fn advance_knobs(&mut self) {
        let kn = &mut self.knobs;
        if kn.steps_left == 0 {
            return;
        }
        kn.steps_left -= 1;
        if kn.steps_left == 0 {
            kn.current.copy_from_slice(&kn.target);
            kn.delta.fill(0.0);
        } else {
            for (c, d) in kn.current.iter_mut().zip(&kn.delta) {
                *c += d;
            }
        }
        self.update_film();
    }

    /// Conditioned (clamped, scaled) value the network sees for input `x` volts (NaN → 0 V).
    #[inline(always)]
    fn condition(&self, x: f32) -> f32 {
        let x = if x.is_nan() { 0.0 } else { x };
        (x.clamp(self.in_range[0], self.in_range[1]) - self.in_offset) * self.in_scale
    }

    /// Runs one segment (`buf.len()` ≤ [`CONTROL_PERIOD`]) in place, layer by layer, with
    /// the widest SIMD the CPU has. All copies do the same IEEE operations (explicit fused
    /// multiply-adds) in the same order, so their output is bit-identical.
    fn segment(&mut self, buf: &mut [f32]) {
        match self.simd {
            // SAFETY: `Simd::detect` chose these only when the CPU reported the feature.
            #[cfg(target_arch = "x86_64")]
            Simd::Avx512 => unsafe { self.segment_avx512(buf) },
            #[cfg(target_arch = "x86_64")]
            Simd::Avx2 => unsafe { self.segment_avx2(buf) },
            Simd::Portable => self.segment_body::<LANES>(buf),
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn segment_avx2(&mut self, buf: &mut [f32]) {
        self.segment_body::<LANES>(buf);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,fma")]
    fn segment_avx512(&mut self, buf: &mut [f32]) {
        self.segment_body::<16>(buf);
    }

    #[inline(always)]
    fn segment_body<const W: usize>(&mut self, buf: &mut [f32]) {
        let n = buf.len();
        let (c, k) = (self.channels, self.kernel);
        const P: usize = CONTROL_PERIOD;
        for (j, v) in buf.iter_mut().enumerate() {
            *v = self.condition(*v);
            for ch in 0..c {
                self.cur[ch * P + j] = self.input_w[ch] * *v + self.input_b[ch];
            }
        }
        self.skip.fill(0.0);
        for (l, layer) in self.layers.iter_mut().enumerate() {
            let m = layer.len;
            // Write this layer's input at pos and pos + M (split where the ring wraps).
            let first = n.min(m - layer.pos);
            // (One loop storing both copies: inlined, where four tiny memcpy calls per
            // channel and layer cost more than the convolution.)
            for ch in 0..c {
                let (lower, upper) = layer.ring[ch * 2 * m..(ch + 1) * 2 * m].split_at_mut(m);
                let x = &self.cur[ch * P..ch * P + n];
                let p = layer.pos;
                for ((a, b), v) in lower[p..p + first]
                    .iter_mut()
                    .zip(&mut upper[p..p + first])
                    .zip(&x[..first])
                {
                    *a = *v;
                    *b = *v;
                }
                for ((a, b), v) in lower[..n - first]
                    .iter_mut()
                    .zip(&mut upper[..n - first])
                    .zip(&x[first..])
                {
                    *a = *v;
                    *b = *v;
                }
            }
            // Window start of each (input, tap): pos − lag wrapped into 0..M (lag < M), by a
            // compare rather than a division.
            for tap in 0..k {
                let back = layer.pos + m - (k - 1 - tap) * layer.dilation;
                let start = if back >= m { back - m } else { back };
                for i in 0..c {
                    self.starts[i * k + tap] = i * 2 * m + start;
                }
            }
            layer.pos += n;
            if layer.pos >= m {
                layer.pos -= m;
            }
            let weights = &self.conv_w[l * c * c * k..(l + 1) * c * c * k];
            let weights_t = &self.conv_w_t[l * c * c * k..(l + 1) * c * c * k];
            let bias = &self.conv_b[l * c..(l + 1) * c];
            let (z, starts, ring) = (&mut self.z, &self.starts, &layer.ring);
            match c {
                1 => conv_all::<1, W>(z, n, bias, weights_t, starts, ring),
                2 => conv_all::<2, W>(z, n, bias, weights_t, starts, ring),
                3 => conv_all::<3, W>(z, n, bias, weights_t, starts, ring),
                4 => conv_all::<4, W>(z, n, bias, weights_t, starts, ring),
                5 => conv_all::<5, W>(z, n, bias, weights_t, starts, ring),
                6 => conv_all::<6, W>(z, n, bias, weights_t, starts, ring),
                7 => conv_all::<7, W>(z, n, bias, weights_t, starts, ring),
                8 => conv_all::<8, W>(z, n, bias, weights_t, starts, ring),
                _ => {
                    for o in 0..c {
                        conv_row(
                            &mut z[o * P..o * P + n],
                            bias[o],
                            &weights[o * c * k..(o + 1) * c * k],
                            starts,
                            ring,
                        );
                    }
                }
            }
            for ch in 0..c {
                let at = l * c + ch;
                let (g, bt) = (self.gamma[at], self.beta[at]);
                let (alpha, inv) = (self.alpha[at], self.inv_alpha[at]);
                let z = &self.z[ch * P..ch * P + n];
                let x = &mut self.cur[ch * P..ch * P + n];
                let s = &mut self.skip[ch * P..ch * P + n];
                if inv == 0.0 {
                    for ((x, s), z) in x.iter_mut().zip(s.iter_mut()).zip(z) {
                        let f = g.mul_add(*z, bt);
                        let a = (alpha * f).mul_add(f, f);
                        *x += a;
                        *s += a;
                    }
                } else {
                    for ((x, s), z) in x.iter_mut().zip(s.iter_mut()).zip(z) {
                        let f = g.mul_add(*z, bt);
                        let a = sin_squared(alpha * f).mul_add(inv, f);
                        *x += a;
                        *s += a;
                    }
                }
            }
        }
        for (j, y) in buf.iter_mut().enumerate() {
            let raw = (0..c).fold(self.head_b, |acc, ch| {
                acc + self.head_w[ch] * self.skip[ch * P + j]
            });
            let raw = if raw.is_nan() { 0.0 } else { raw };
            let v = raw * self.out_scale + self.out_offset;
            let v = match self.out_range {
                Some([lo, hi]) => v.clamp(lo, hi),
                None => v,
            };
            *y = to_f32_flushed(v as f64);
        }
    }

    /// One sample, volts in → volts out (the per-sample path: a block of one).
    pub fn tick(&mut self, x: f32) -> f32 {
        let mut one = [x];
        self.process(&mut one);
        one[0]
    }
}

/// All C (a compile-time width) output channels of one layer over a segment of `n`
/// samples: z[o·32 + j] = bias[o] + Σ_(i,k) w[o,i,k] · ring[starts[i·K + k] + j], summed in
/// (i, k) order. Each W-sample window (8 or 16) of an input tap is loaded once and used
/// for every output, the C × W sums staying in registers; `w_t` is laid out [i, k, o]. The tail
/// (n mod W samples) uses the same operation order, so every sample is bit-identical
/// whichever path computed it — and identical to [`conv_row`].
#[inline(always)]
fn conv_all<const C: usize, const W: usize>(
    z: &mut [f32],
    n: usize,
    bias: &[f32],
    w_t: &[f32],
    starts: &[usize],
    ring: &[f32],
) {
    const P: usize = CONTROL_PERIOD;
    let bias: &[f32; C] = match bias.try_into() {
        Ok(b) => b,
        Err(_) => return,
    };
    let full = n / W * W;
    for j0 in (0..full).step_by(W) {
        let mut acc = [[0.0f32; W]; C];
        for (a, b) in acc.iter_mut().zip(bias) {
            *a = [*b; W];
        }
        for (w, &s) in w_t.chunks_exact(C).zip(starts) {
            let src = &ring[s + j0..s + j0 + W];
            for o in 0..C {
                for m in 0..W {
                    acc[o][m] = w[o].mul_add(src[m], acc[o][m]);
                }
            }
        }
        for (o, a) in acc.iter().enumerate() {
            z[o * P + j0..o * P + j0 + W].copy_from_slice(a);
        }
    }
    for j in full..n {
        let mut acc = *bias;
        for (w, &s) in w_t.chunks_exact(C).zip(starts) {
            let x = ring[s + j];
            for o in 0..C {
                acc[o] = w[o].mul_add(x, acc[o]);
            }
        }
        for (o, a) in acc.iter().enumerate() {
            z[o * P + j] = *a;
        }
    }
}

/// z[j] = bias + Σ_(i,k) w[i·K + k] · ring[starts[i·K + k] + j], for the `z.len()` samples
/// of a segment. `LANES` samples at a time are summed in registers (vectorizable over
/// time); the tail uses the same operation order, so every sample is bit-identical
/// whichever path computed it.
#[inline(always)]
fn conv_row(z: &mut [f32], bias: f32, w: &[f32], starts: &[usize], ring: &[f32]) {
    let full = z.len() / LANES * LANES;
    for (chunk, j0) in z.chunks_exact_mut(LANES).zip((0..).step_by(LANES)) {
        let mut acc = [bias; LANES];
        for (wv, &s) in w.iter().zip(starts) {
            let src = &ring[s + j0..s + j0 + LANES];
            for m in 0..LANES {
                acc[m] = wv.mul_add(src[m], acc[m]);
            }
        }
        chunk.copy_from_slice(&acc);
    }
    for (j, zj) in z.iter_mut().enumerate().skip(full) {
        *zj = w
            .iter()
            .zip(starts)
            .fold(bias, |acc, (wv, &s)| wv.mul_add(ring[s + j], acc));
    }
}

/// The [cols, rows] transpose of a row-major [rows, cols] matrix.
fn transpose(m: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    (0..cols)
        .flat_map(|j| (0..rows).map(move |i| m[i * cols + j]))
        .collect()
}

impl Processor for WaveNet {
    fn prepare(&mut self, spec: &Spec) -> Result<(), Error> {
        spec.validate()?;
        check_sample_rate(&format!("wavenet '{}'", self.name), &self.rates, spec)?;
        self.knobs.sample_rate = spec.sample_rate;
        self.reset();
        Ok(())
    }

    /// Zero history in every layer, sample count 0; a knob ramp in progress jumps to its
    /// target.
    fn reset(&mut self) {
        for layer in self.layers.iter_mut() {
            layer.ring.fill(0.0);
            layer.pos = 0;
        }
        self.count = 0;
        let kn = &mut self.knobs;
        kn.current.copy_from_slice(&kn.target);
        kn.delta.fill(0.0);
        kn.steps_left = 0;
        self.update_film();
    }

    fn process(&mut self, buf: &mut [f32]) {
        let _ftz = DenormalGuard::new();
        let mut start = 0;
        while start < buf.len() {
            let phase = (self.count % CONTROL_PERIOD as u64) as usize;
            if phase == 0 {
                self.advance_knobs();
            }
            let n = (CONTROL_PERIOD - phase).min(buf.len() - start);
            self.segment(&mut buf[start..start + n]);
            start += n;
            self.count += n as u64;
        }
    }

    /// Samples after an impulse until the output no longer depends on it: (K−1)·Σd.
    fn tail_samples(&self) -> usize {
        self.receptive_field() - 1
    }

    /// Sets control `id` (index in the descriptor's `controls`) to `value` in its own
    /// units, clamped to range; the knob features ramp linearly to it over the smoothing
    /// time, one step per 32-sample segment, γ, β recomputed at each step. Ids out of
    /// range are ignored.
    fn set_param(&mut self, id: u32, value: f32) {
        let Some(f) = self
            .knobs
            .specs
            .get(id as usize)
            .map(|spec| spec.feature(value as f64))
        else {
            return;
        };
        let steps = self.knobs.ramp_steps();
        if steps == 0 {
            self.set_control_immediate(id, value);
            return;
        }
        let kn = &mut self.knobs;
        kn.target[id as usize] = f;
        kn.steps_left = steps;
        for ((d, t), c) in kn.delta.iter_mut().zip(&kn.target).zip(&kn.current) {
            *d = (t - c) / steps as f64;
        }
    }
}
