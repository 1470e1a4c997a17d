//! [`IrConvolver`]: zero-latency convolution with a long impulse response (a cabinet IR),
//! by partitioned FFT convolution behind a direct-form head.
//!
//! Plan (after Gardner, "Efficient convolution without input-output delay", JAES 1995):
//! the IR `h` (L samples) is cut into a **head** and **segments**.
//!
//! * The head, `h[0..64]`, is a direct-form FIR: output sample `n` is computed from inputs
//!   up to `n` as soon as `n` arrives, so nothing is delayed.
//! * Segment `s` covers `h[B_s..E_s]` with block size `B_s` = 64·8^s, capped at
//!   [`MAX_PARTITION`] (64, 512, 4096, 4096 …): `E_s` = 8·B_s, and the last segment runs to
//!   L. Each segment is a **uniformly partitioned** overlap-save convolver with a
//!   frequency-domain delay line (FDL): its taps are split into partitions of `B_s`, each
//!   held as the spectrum of a zero-padded 2·B_s-point real FFT (realfft); every `B_s` input
//!   samples one forward FFT of the last 2·B_s inputs enters the FDL, the FDL is multiplied
//!   with the partition spectra and summed, and one inverse FFT gives `B_s` output samples.
//!   Those outputs are needed `B_s` samples after the block they come from — exactly the
//!   segment's offset — so they are added to the next `B_s` output samples and nothing is
//!   late.
//!
//! The work is scheduled on the IR's own block boundaries (multiples of 64 samples from
//! `reset`), not on the host's blocks, so the output is bit-identical for any block length,
//! 1 included, and `max_block` sizes nothing. The largest burst of work comes every 4096
//! samples, when every segment runs at once (for a 1 s IR at 48 kHz: two 8192-point FFTs
//! and eleven 4097-bin products on top of the small segments).
//!
//! Arithmetic is f64 from input to output (input rounding aside, the only rounding that
//! reaches the output is its conversion to f32, ≤ 6e-8 relative): a 1 s IR has hundreds of
//! partitions whose products are summed per bin, and in f32 that sum alone would cost
//! ≈ √P·6e-8 ≈ 1e-6 relative.
//!
//! Real-time rules: everything is allocated in `prepare`; `process` and `reset` do not
//! allocate. Input is conditioned like every stage's (NaN → 0 V, clamp at ±1 kV), state
//! below 1e-30 V is flushed and the FTZ/DAZ guard wraps `process`, so no subnormal is
//! computed or leaves the stage. `latency_samples()` is 0 and `tail_samples()` is L.

use std::sync::Arc;

use realfft::num_complex::Complex;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};

use crate::denormal::{flush, to_f32_flushed, DenormalGuard};
use crate::error::Error;
use crate::processor::{Processor, Spec};
use crate::stages::condition_input;

/// Taps of the direct-form head, and the block size of the first FFT segment (samples).
pub const HEAD_LEN: usize = 64;
/// Block-size ratio between consecutive FFT segments.
const GROWTH: usize = 8;
/// Largest FFT segment block size (samples); longer IRs get more partitions of this size.
pub const MAX_PARTITION: usize = 4096;
/// Longest IR accepted (samples): 2^20 = 1,048,576, i.e. 21.8 s at 48 kHz, 5.46 s at
/// 192 kHz. Memory is about 64 bytes per IR sample (partition spectra plus FDL, f64).
pub const MAX_IR_SAMPLES: usize = 1 << 20;

const STAGE: &str = "ir_convolver";

/// One uniformly partitioned overlap-save segment: taps `h[block..block + parts·block]`.
struct Segment {
    block: usize,
    parts: usize,
    bins: usize,
    /// Partition spectra (scaled by 1/(2·block) for the unnormalized inverse FFT),
    /// partition p at `[p·bins, (p+1)·bins)`.
    filters: Vec<Complex<f64>>,
    /// Frequency-domain delay line: input spectra, newest at slot `newest`.
    fdl: Vec<Complex<f64>>,
    newest: usize,
    acc: Vec<Complex<f64>>,
    time: Vec<f64>,
    scratch: Vec<Complex<f64>>,
    forward: Arc<dyn RealToComplex<f64>>,
    inverse: Arc<dyn ComplexToReal<f64>>,
}

impl Segment {
    fn new(taps: &[f64], block: usize, planner: &mut RealFftPlanner<f64>) -> Self {
        let n = 2 * block;
        let bins = block + 1;
        let parts = taps.len().div_ceil(block);
        let forward = planner.plan_fft_forward(n);
        let inverse = planner.plan_fft_inverse(n);
        let scratch_len = forward.get_scratch_len().max(inverse.get_scratch_len());
        let mut scratch = vec![Complex::default(); scratch_len];
        let mut time = vec![0.0; n];
        let mut filters = vec![Complex::default(); parts * bins];
        let scale = 1.0 / n as f64;
        for (p, chunk) in taps.chunks(block).enumerate() {
            time.fill(0.0);
            for (t, h) in time.iter_mut().zip(chunk) {
                *t = h * scale;
            }
            // Lengths are fixed by construction; a length error cannot happen.
            let _ = forward.process_with_scratch(
                &mut time,
                &mut filters[p * bins..(p + 1) * bins],
                &mut scratch,
            );
        }
        Segment {
            block,
            parts,
            bins,
            filters,
            fdl: vec![Complex::default(); parts * bins],
            newest: 0,
            acc: vec![Complex::default(); bins],
            time,
            scratch,
            forward,
            inverse,
        }
    }

    fn reset(&mut self) {
        self.fdl.fill(Complex::default());
        self.newest = 0;
    }

    /// Runs at time `now` (a multiple of `block`): reads inputs `now − 2·block .. now` from
    /// `history` and adds this segment's outputs for `now .. now + block` into `out`.
    fn run(&mut self, now: usize, history: &[f64], out: &mut [f64]) {
        let (b, bins) = (self.block, self.bins);
        let hmask = history.len() - 1;
        let start = now.wrapping_sub(2 * b);
        for (i, t) in self.time.iter_mut().enumerate() {
            *t = history[start.wrapping_add(i) & hmask];
        }
        self.newest = if self.newest == 0 {
            self.parts - 1
        } else {
            self.newest - 1
        };
        let slot = self.newest * bins;
        let _ = self.forward.process_with_scratch(
            &mut self.time,
            &mut self.fdl[slot..slot + bins],
            &mut self.scratch,
        );
        self.acc.fill(Complex::default());
        // Partition p multiplies the spectrum of the input block p blocks ago, which sits
        // p slots after the newest one in the FDL ring.
        for p in 0..self.parts {
            let s = (self.newest + p) % self.parts;
            let x = &self.fdl[s * bins..(s + 1) * bins];
            let h = &self.filters[p * bins..(p + 1) * bins];
            for ((a, x), h) in self.acc.iter_mut().zip(x).zip(h) {
                *a += x * h;
            }
        }
        // A real signal's DC and Nyquist bins are real; clear the rounding residue.
        self.acc[0].im = 0.0;
        self.acc[bins - 1].im = 0.0;
        let _ = self
            .inverse
            .process_with_scratch(&mut self.acc, &mut self.time, &mut self.scratch);
        let omask = out.len() - 1;
        // Overlap-save: the second half is the linear (not circular) part.
        for (i, y) in self.time[b..].iter().enumerate() {
            let o = &mut out[now.wrapping_add(i) & omask];
            *o = flush(*o + y);
        }
    }
}

/// Zero-latency convolution with an impulse response given at one sample rate.
pub struct IrConvolver {
    ir: Vec<f64>,
    sample_rate: f64,
    /// Head taps reversed, so that a contiguous window of inputs dots with them.
    head_rev: Vec<f64>,
    /// The last `head_len − 1` inputs followed by the current run of inputs.
    head_hist: Vec<f64>,
    segments: Vec<Segment>,
    /// Input ring (power-of-two length ≥ 2·largest block).
    history: Vec<f64>,
    /// Pending segment outputs, indexed by absolute time (power-of-two length ≥ largest block).
    pending: Vec<f64>,
    /// Samples processed since `reset`.
    now: usize,
}

impl IrConvolver {
    /// An IR (volts per volt, one sample per 1/`sample_rate` s). Errors if it is empty,
    /// longer than [`MAX_IR_SAMPLES`], or holds a NaN/Inf (the message gives the index).
    pub fn new(ir: &[f64], sample_rate: f64) -> Result<Self, Error> {
        let invalid = |reason: String| Error::InvalidParam {
            stage: STAGE.into(),
            param: "ir".into(),
            value: format!("{} samples", ir.len()),
            reason,
        };
        if ir.is_empty() {
            return Err(invalid("the impulse response is empty".into()));
        }
        if ir.len() > MAX_IR_SAMPLES {
            return Err(invalid(format!(
                "longer than the maximum of {MAX_IR_SAMPLES} samples ({:.2} s at {sample_rate} Hz)",
                MAX_IR_SAMPLES as f64 / sample_rate
            )));
        }
        if let Some(i) = ir.iter().position(|h| !h.is_finite()) {
            return Err(invalid(format!("sample {i} is {} (must be finite)", ir[i])));
        }
        Spec {
            sample_rate,
            max_block: 1,
        }
        .validate()?;
        Ok(IrConvolver {
            ir: ir.iter().map(|h| flush(*h)).collect(),
            sample_rate,
            head_rev: Vec::new(),
            head_hist: Vec::new(),
            segments: Vec::new(),
            history: Vec::new(),
            pending: Vec::new(),
            now: 0,
        })
    }

    /// IR length (samples).
    pub fn ir_len(&self) -> usize {
        self.ir.len()
    }

    /// Block sizes of the FFT segments, in order (empty for IRs of at most 64 samples).
    pub fn segment_blocks(&self) -> Vec<usize> {
        self.segments.iter().map(|s| s.block).collect()
    }

    /// Direct-form head: `y[i]` = Σ_m h[m]·x[i − m] for the current run of inputs (already
    /// written after the history in `head_hist`), with the taps summed as in [`dot4`].
    /// Long runs go tap by tap over all outputs (a SIMD-friendly multiply-add); short runs
    /// use [`dot4`] per output. Both do the same operations in the same order, so the
    /// output does not depend on the run length (block-size invariance, bit for bit).
    fn head(&self, y: &mut [f64]) {
        let run = y.len();
        let hist = &self.head_hist;
        if run < 8 {
            for (i, y) in y.iter_mut().enumerate() {
                *y = dot4(&self.head_rev, &hist[i..]);
            }
            return;
        }
        let mut part = [[0.0f64; HEAD_LEN]; 5];
        let body = self.head_rev.len() & !3;
        for (m, h) in self.head_rev.iter().enumerate() {
            let acc = &mut part[if m < body { m % 4 } else { 4 }][..run];
            for (a, x) in acc.iter_mut().zip(&hist[m..m + run]) {
                *a += h * x;
            }
        }
        for (i, y) in y.iter_mut().enumerate() {
            *y = (part[0][i] + part[1][i]) + (part[2][i] + part[3][i]) + part[4][i];
        }
    }
}

/// Σ_m taps[m]·x[m] with four accumulators for the taps m < len & !3 (accumulator m mod 4,
/// each summed in order of m), a fifth for the rest, combined as (a0 + a1) + (a2 + a3) + a4.
#[inline]
fn dot4(taps: &[f64], x: &[f64]) -> f64 {
    let body = taps.len() & !3;
    let mut acc = [0.0f64; 4];
    for (t, v) in taps[..body].chunks_exact(4).zip(x.chunks_exact(4)) {
        for k in 0..4 {
            acc[k] += t[k] * v[k];
        }
    }
    let mut rest = 0.0;
    for (t, v) in taps[body..].iter().zip(&x[body..]) {
        rest += t * v;
    }
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + rest
}

impl Processor for IrConvolver {
    fn prepare(&mut self, spec: &Spec) -> Result<(), Error> {
        spec.validate()?;
        if spec.sample_rate != self.sample_rate {
            return Err(Error::InvalidSpec {
                reason: format!(
                    "{STAGE}: the impulse response is at {} Hz, the host runs at {} Hz \
                     (resample the IR; the convolver never resamples)",
                    self.sample_rate, spec.sample_rate
                ),
            });
        }
        let len = self.ir.len();
        let head = len.min(HEAD_LEN);
        self.head_rev = self.ir[..head].iter().rev().copied().collect();
        self.head_hist = vec![0.0; head - 1 + HEAD_LEN];
        let mut planner = RealFftPlanner::new();
        self.segments.clear();
        let mut block = HEAD_LEN;
        while block < len {
            let end = if block >= MAX_PARTITION {
                len
            } else {
                len.min(GROWTH * block)
            };
            self.segments
                .push(Segment::new(&self.ir[block..end], block, &mut planner));
            if end == len {
                break;
            }
            block = (GROWTH * block).min(MAX_PARTITION);
        }
        let largest = self.segments.last().map_or(HEAD_LEN, |s| s.block);
        self.history = vec![0.0; (2 * largest).next_power_of_two()];
        self.pending = vec![0.0; largest.next_power_of_two()];
        self.reset();
        Ok(())
    }

    fn reset(&mut self) {
        self.head_hist.fill(0.0);
        self.history.fill(0.0);
        self.pending.fill(0.0);
        self.segments.iter_mut().for_each(Segment::reset);
        self.now = 0;
    }

    fn process(&mut self, buf: &mut [f32]) {
        if self.head_rev.is_empty() {
            return; // not prepared
        }
        let _ftz = DenormalGuard::new();
        let keep = self.head_rev.len() - 1;
        let hmask = self.history.len() - 1;
        let pmask = self.pending.len() - 1;
        let mut y = [0.0f64; HEAD_LEN];
        let mut done = 0;
        while done < buf.len() {
            // Run up to the next 64-sample boundary, where segments may be due.
            let run = (HEAD_LEN - self.now % HEAD_LEN).min(buf.len() - done);
            let chunk = &mut buf[done..done + run];
            for (i, x) in chunk.iter().enumerate() {
                let v = flush(condition_input(*x));
                self.head_hist[keep + i] = v;
                self.history[self.now.wrapping_add(i) & hmask] = v;
            }
            self.head(&mut y[..run]);
            for (i, out) in chunk.iter_mut().enumerate() {
                let p = &mut self.pending[self.now.wrapping_add(i) & pmask];
                *out = to_f32_flushed(y[i] + *p);
                *p = 0.0;
            }
            self.head_hist.copy_within(run..run + keep, 0);
            self.now = self.now.wrapping_add(run);
            done += run;
            for seg in self.segments.iter_mut() {
                if self.now % seg.block == 0 {
                    seg.run(self.now, &self.history, &mut self.pending);
                }
            }
        }
    }

    fn latency_samples(&self) -> usize {
        0
    }

    /// The IR's length: an impulse keeps producing output for this many samples.
    fn tail_samples(&self) -> usize {
        self.ir.len()
    }
}
