//! [`Oversampled`]: runs a stage at 2×, 4× or 8× the host rate between cascaded 2×
//! half-band interpolators and decimators (linear phase, Kaiser-windowed, see
//! [`super::halfband`]).
//!
//! Filter plan (multistage, as in Kahles, Esqueda & Välimäki, JAES 2019): every level keeps
//! the host band up to [`PASSBAND_EDGE`]·fs and rejects by [`STOPBAND_DB`] everything that
//! would fold onto it. Level l (high rate 2^l·fs) therefore has its transition band from
//! 0.43·fs to 2^(l−1)·fs − 0.43·fs: 7 % of its rate at level 1 (95 taps, 48 multiply-adds
//! per host sample each way), 28.5 % at level 2 (27 taps) and 39 % at level 3 (19 taps).
//! Between 0.43·fs and 0.5·fs the first level's transition band lets some aliasing through
//! — it lands above 0.43·fs (above 20.6 kHz at 48 kHz).
//!
//! Latency: each half-band filter delays by D_l samples of its high rate. The round trip
//! plus the inner stage's own latency is padded at the top rate to a whole number of host
//! samples, so the declared latency is exact: 47 host samples at 2×, 54 at 4×, 56 at 8×
//! (with a zero-latency inner stage).

use super::halfband::{design_odd_taps, Downsampler2, Upsampler2};
use crate::denormal::{to_f32_flushed, DenormalGuard};
use crate::error::Error;
use crate::processor::{Processor, Spec};
use crate::stages::condition_input;

/// The oversampling factors [`Oversampled`] accepts (1 = run the stage as it is).
pub const OVERSAMPLE_FACTORS: [usize; 4] = [1, 2, 4, 8];
/// Upper edge of the protected band, as a fraction of the host rate (20.6 kHz at 48 kHz).
pub const PASSBAND_EDGE: f64 = 0.43;
/// Stopband attenuation of every half-band filter (dB); also sets the passband ripple
/// (±1e-5, 0.0001 dB).
pub const STOPBAND_DB: f64 = 100.0;

/// A stage run at `factor` times the host sample rate.
pub struct Oversampled {
    inner: Box<dyn Processor>,
    factor: usize,
    levels: usize,
    up: Vec<Upsampler2>,
    down: Vec<Downsampler2>,
    a: Vec<f64>,
    b: Vec<f64>,
    hi: Vec<f32>,
    /// Top-rate delay that makes the round trip a whole number of host samples.
    pad: Vec<f32>,
    pad_pos: usize,
    latency: usize,
}

impl Oversampled {
    /// Wraps `inner` (not yet prepared); `factor` must be one of [`OVERSAMPLE_FACTORS`].
    pub fn new(inner: Box<dyn Processor>, factor: usize) -> Result<Self, Error> {
        if !OVERSAMPLE_FACTORS.contains(&factor) {
            return Err(Error::InvalidParam {
                stage: "oversampled".into(),
                param: "oversample".into(),
                value: factor.to_string(),
                reason: "must be one of 1, 2, 4, 8".into(),
            });
        }
        Ok(Oversampled {
            inner,
            factor,
            levels: factor.trailing_zeros() as usize,
            up: Vec::new(),
            down: Vec::new(),
            a: Vec::new(),
            b: Vec::new(),
            hi: Vec::new(),
            pad: Vec::new(),
            pad_pos: 0,
            latency: 0,
        })
    }

    /// The oversampling factor.
    pub fn factor(&self) -> usize {
        self.factor
    }

    /// The wrapped stage.
    pub fn inner(&self) -> &dyn Processor {
        self.inner.as_ref()
    }
}

impl Processor for Oversampled {
    fn prepare(&mut self, spec: &Spec) -> Result<(), Error> {
        spec.validate()?;
        let inner_spec = Spec {
            sample_rate: spec.sample_rate * self.factor as f64,
            max_block: spec.max_block * self.factor,
        };
        self.inner.prepare(&inner_spec).map_err(|e| match e {
            Error::InvalidSpec { reason } => Error::InvalidSpec {
                reason: format!("{}× oversampled: {reason}", self.factor),
            },
            other => other,
        })?;
        self.up.clear();
        self.down.clear();
        let mut top_delay = self.inner.latency_samples();
        for level in 1..=self.levels {
            let low = (1usize << (level - 1)) as f64; // low rate / fs
            let transition = (low - 2.0 * PASSBAND_EDGE) / (2.0 * low);
            let taps = design_odd_taps(STOPBAND_DB, transition);
            let up = Upsampler2::new(&taps);
            // Up and down filters each delay D samples at rate 2^level·fs.
            top_delay += 2 * up.delay() * (1 << (self.levels - level));
            self.up.push(up);
            self.down.push(Downsampler2::new(&taps));
        }
        let pad = (self.factor - top_delay % self.factor) % self.factor;
        self.pad = vec![0.0; pad];
        self.pad_pos = 0;
        self.latency = (top_delay + pad) / self.factor;
        let n = spec.max_block * self.factor;
        self.a = vec![0.0; n];
        self.b = vec![0.0; n];
        self.hi = vec![0.0; n];
        Ok(())
    }

    fn reset(&mut self) {
        self.inner.reset();
        self.up.iter_mut().for_each(|f| f.reset());
        self.down.iter_mut().for_each(|f| f.reset());
        self.pad.fill(0.0);
        self.pad_pos = 0;
    }

    fn process(&mut self, buf: &mut [f32]) {
        if self.factor == 1 {
            self.inner.process(buf);
            return;
        }
        let _ftz = DenormalGuard::new();
        let n = buf.len().min(self.a.len() / self.factor);
        let buf = &mut buf[..n];
        for (a, x) in self.a.iter_mut().zip(buf.iter()) {
            *a = condition_input(*x);
        }
        let mut len = n;
        for up in self.up.iter_mut() {
            for (i, x) in self.a[..len].iter().enumerate() {
                let [e, o] = up.process(*x);
                self.b[2 * i] = e;
                self.b[2 * i + 1] = o;
            }
            std::mem::swap(&mut self.a, &mut self.b);
            len *= 2;
        }
        for (h, a) in self.hi[..len].iter_mut().zip(&self.a[..len]) {
            *h = to_f32_flushed(*a);
        }
        self.inner.process(&mut self.hi[..len]);
        let plen = self.pad.len();
        for (a, h) in self.a[..len].iter_mut().zip(&self.hi[..len]) {
            let y = if plen == 0 {
                *h
            } else {
                let out = self.pad[self.pad_pos];
                self.pad[self.pad_pos] = *h;
                self.pad_pos = (self.pad_pos + 1) % plen;
                out
            };
            *a = y as f64;
        }
        for down in self.down.iter_mut().rev() {
            len /= 2;
            for i in 0..len {
                self.b[i] = down.process([self.a[2 * i], self.a[2 * i + 1]]);
            }
            std::mem::swap(&mut self.a, &mut self.b);
        }
        for (y, a) in buf.iter_mut().zip(&self.a[..n]) {
            *y = to_f32_flushed(*a);
        }
    }

    fn latency_samples(&self) -> usize {
        if self.factor == 1 {
            self.inner.latency_samples()
        } else {
            self.latency
        }
    }

    /// The inner stage's tail at the host rate plus the filters' impulse-response length.
    fn tail_samples(&self) -> usize {
        self.inner.tail_samples().div_ceil(self.factor) + 2 * self.latency
    }

    fn set_param(&mut self, id: u32, value: f32) {
        self.inner.set_param(id, value);
    }

    /// The inner stage's telemetry (its samples counted at the oversampled rate).
    fn set_probing(&mut self, on: bool) {
        self.inner.set_probing(on);
    }

    fn take_probe(&mut self) -> Option<crate::monitor::Probe> {
        self.inner.take_probe()
    }
}
