//! `speaker_load`: the speaker-load interaction as a documented linear approximation.
//!
//! `power_amp` and `output_transformer` drive a resistive nominal load. A real speaker's
//! impedance is not resistive: it peaks at the cone resonance and rises with the voice-coil
//! inductance. Behind an amplifier without negative feedback (an AC30's EL84 pentodes give
//! a damping factor well below 1) the speaker voltage follows that impedance: a bass bump
//! at resonance and a treble lift. This stage applies that change of voltage:
//!
//! ```text
//! H(s) = [Z_spk(s) / (Z_spk(s) + Z_out)] / [R_nom / (R_nom + Z_out)]
//! Z_spk(s) = R_e + s·L_e + (R_ms ∥ s·L_ces ∥ 1/(s·C_mes))        (Thiele–Small, electrical)
//! R_ms = R_e·Q_ms/Q_es,  C_mes = Q_es/(2π·f_s·R_e),  L_ces = 1/((2π·f_s)²·C_mes)
//! ```
//! i.e. the amplifier as a linear Thevenin source of output impedance `Z_out` (referred to
//! the secondary) whose load changes from `R_nom` to `Z_spk`. **Approximation:** the
//! nonlinear stages before it still see their nominal resistive load — the change of the
//! tubes' load line with frequency (more compression at resonance) is not modelled, nor the
//! voice coil's semi-inductance or the cone's break-up. `H` is third order; it is
//! discretized with the bilinear transform and run as a transposed direct form II in f64.
//! Defaults: a pair of 15 Ω Alnico-style 12" drivers in parallel (R_e 6 Ω, L_e 0.3 mH,
//! f_s 75 Hz, Q_es 0.8, Q_ms 5: |Z| peaks at 43.5 Ω) behind Z_out 25 Ω into an 8 Ω tap.

use super::condition_input;
use super::params::{number as num, Params, StageSpec};
use crate::denormal::{flush, to_f32_flushed, DenormalGuard};
use crate::error::Error;
use crate::fused::Kernel;
use crate::processor::{Processor, Spec};
use std::f64::consts::PI;

pub const KIND: &str = "speaker_load";

/// Level, relative to an impulse, at which the tail is considered over: −80 dB.
const TAIL_DECAY: f64 = 1e-4;
/// Longest tail measured at `prepare` (s).
const MAX_TAIL_SECONDS: f64 = 10.0;

pub const SPEC: StageSpec = StageSpec {
    kind: KIND,
    doc: "speaker impedance (Thiele-Small) behind the amp's output impedance: bass bump and treble lift, linear",
    params: &[
        num("re", 6.0, 0.1, 1e3, "ohm", "voice-coil DC resistance R_e"),
        num("le", 0.3e-3, 0.0, 1.0, "H", "voice-coil inductance L_e"),
        num("resonance_hz", 75.0, 5.0, 1000.0, "Hz", "free-air cone resonance f_s"),
        num("qes", 0.8, 0.05, 20.0, "", "electrical Q at resonance Q_es"),
        num("qms", 5.0, 0.1, 100.0, "", "mechanical Q at resonance Q_ms"),
        num("output_impedance", 25.0, 0.0, 1e4, "ohm", "amplifier output impedance, secondary-referred"),
        num("nominal_load", 8.0, 0.1, 1e4, "ohm", "resistive load the previous stages assume"),
    ],
};

/// Coefficients (ascending powers) of `a·b`.
fn poly_mul(a: &[f64], b: &[f64]) -> Vec<f64> {
    let mut out = vec![0.0; a.len() + b.len() - 1];
    for (i, x) in a.iter().enumerate() {
        for (j, y) in b.iter().enumerate() {
            out[i + j] += x * y;
        }
    }
    out
}

fn poly_add(a: &[f64], b: &[f64]) -> Vec<f64> {
    (0..a.len().max(b.len()))
        .map(|k| a.get(k).unwrap_or(&0.0) + b.get(k).unwrap_or(&0.0))
        .collect()
}

/// The analog transfer function H(s) = num(s)/den(s), ascending powers of s.
pub fn analog_transfer(p: &Params) -> (Vec<f64>, Vec<f64>) {
    let (re, le, fs, qes, qms) = (
        p.num("re"),
        p.num("le"),
        p.num("resonance_hz"),
        p.num("qes"),
        p.num("qms"),
    );
    let (z_out, r_nom) = (p.num("output_impedance"), p.num("nominal_load"));
    let w = 2.0 * PI * fs;
    let r = re * qms / qes;
    let c = qes / (w * re);
    let l = 1.0 / (w * w * c);
    // Z_m = s·L·R / (R + s·L + s²·L·C·R)
    let (n_m, d_m) = (vec![0.0, l * r], vec![r, l, l * c * r]);
    let a = poly_add(&poly_mul(&[re, le], &d_m), &n_m); // Z_spk·D_m
    let g = (r_nom + z_out) / r_nom;
    let num: Vec<f64> = a.iter().map(|x| g * x).collect();
    let den = poly_add(&a, &d_m.iter().map(|x| z_out * x).collect::<Vec<_>>());
    (num, den)
}

/// Bilinear transform s = K·(1 − z⁻¹)/(1 + z⁻¹), K = 2·fs, of a rational H(s); returns the
/// z⁻¹ coefficients (b, a) with a[0] = 1.
pub fn bilinear(num: &[f64], den: &[f64], sample_rate: f64) -> (Vec<f64>, Vec<f64>) {
    let n = num.len().max(den.len()) - 1;
    let k = 2.0 * sample_rate;
    let map = |p: &[f64]| {
        let mut out = vec![0.0; n + 1];
        for (j, c) in p.iter().enumerate() {
            let mut term = vec![c * k.powi(j as i32)];
            for _ in 0..j {
                term = poly_mul(&term, &[1.0, -1.0]);
            }
            for _ in j..n {
                term = poly_mul(&term, &[1.0, 1.0]);
            }
            out.iter_mut().zip(term).for_each(|(o, t)| *o += t);
        }
        out
    };
    let (b, a) = (map(num), map(den));
    let a0 = a[0];
    (
        b.iter().map(|x| x / a0).collect(),
        a.iter().map(|x| x / a0).collect(),
    )
}

/// The speaker-load stage: a bilinear-transformed third-order filter.
pub struct SpeakerLoad {
    params: Params,
    b: [f64; 4],
    a: [f64; 4],
    state: [f64; 3],
    tail: usize,
}

impl SpeakerLoad {
    pub fn from_params(params: &Params) -> Result<Self, Error> {
        Ok(SpeakerLoad {
            params: params.clone(),
            b: [0.0; 4],
            a: [1.0, 0.0, 0.0, 0.0],
            state: [0.0; 3],
            tail: 0,
        })
    }

    /// z⁻¹ coefficients after `prepare`: (b, a), a\[0\] = 1.
    pub fn coefficients(&self) -> ([f64; 4], [f64; 4]) {
        (self.b, self.a)
    }

    /// One sample (V in, V out), as `process` computes it.
    #[inline(always)]
    pub fn sample(&mut self, x: f32) -> f32 {
        to_f32_flushed(self.tick(condition_input(x)))
    }

    #[inline(always)]
    fn tick(&mut self, x: f64) -> f64 {
        let (b, a, s) = (&self.b, &self.a, &mut self.state);
        let y = b[0] * x + s[0];
        s[0] = flush(b[1] * x - a[1] * y + s[1]);
        s[1] = flush(b[2] * x - a[2] * y + s[2]);
        s[2] = flush(b[3] * x - a[3] * y);
        y
    }
}

impl Processor for SpeakerLoad {
    fn prepare(&mut self, spec: &Spec) -> Result<(), Error> {
        spec.validate()?;
        let (num, den) = analog_transfer(&self.params);
        let (b, a) = bilinear(&num, &den, spec.sample_rate);
        if b.len() != 4 || b.iter().chain(&a).any(|x| !x.is_finite()) {
            return Err(Error::Circuit {
                stage: KIND.into(),
                reason: "speaker model gives no usable filter".into(),
            });
        }
        self.b.copy_from_slice(&b);
        self.a.copy_from_slice(&a);
        // Tail: run the impulse response until its envelope stays 80 dB below its peak.
        self.state = [0.0; 3];
        let (mut peak, mut last_loud) = (0.0f64, 0usize);
        let max = (MAX_TAIL_SECONDS * spec.sample_rate) as usize;
        for n in 0..max {
            let y = self.tick(if n == 0 { 1.0 } else { 0.0 }).abs();
            peak = peak.max(y);
            if y > TAIL_DECAY * peak {
                last_loud = n;
            } else if n > last_loud + (0.1 * spec.sample_rate) as usize {
                break;
            }
        }
        self.tail = last_loud + 1;
        self.state = [0.0; 3];
        Ok(())
    }

    fn reset(&mut self) {
        self.state = [0.0; 3];
    }

    fn process(&mut self, buf: &mut [f32]) {
        let _ftz = DenormalGuard::new();
        for x in buf.iter_mut() {
            *x = self.sample(*x);
        }
    }

    fn kernel(&mut self) -> Option<Kernel<'_>> {
        Some(Kernel::speaker(self))
    }

    fn tail_samples(&self) -> usize {
        self.tail
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stages::build_stage;

    /// |H| of the analog model at frequency f (Hz) and of the digital filter at f, with
    /// complex arithmetic on (re, im) pairs.
    fn mag_analog(num: &[f64], den: &[f64], w: f64) -> f64 {
        let eval = |p: &[f64]| {
            let (mut re, mut im) = (0.0, 0.0);
            for (k, c) in p.iter().enumerate() {
                // (j w)^k
                let (pr, pi) = match k % 4 {
                    0 => (1.0, 0.0),
                    1 => (0.0, 1.0),
                    2 => (-1.0, 0.0),
                    _ => (0.0, -1.0),
                };
                re += c * w.powi(k as i32) * pr;
                im += c * w.powi(k as i32) * pi;
            }
            (re * re + im * im).sqrt()
        };
        eval(num) / eval(den)
    }

    fn mag_digital(b: &[f64], a: &[f64], f: f64, fs: f64) -> f64 {
        let eval = |p: &[f64]| {
            let (mut re, mut im) = (0.0, 0.0);
            for (k, c) in p.iter().enumerate() {
                let th = -2.0 * PI * f / fs * k as f64;
                re += c * th.cos();
                im += c * th.sin();
            }
            (re * re + im * im).sqrt()
        };
        eval(b) / eval(a)
    }

    #[test]
    fn digital_response_is_the_bilinear_image_of_the_analog_model() {
        let (_, params) = build_stage(KIND, &[]).unwrap();
        let mut s = SpeakerLoad::from_params(&params).unwrap();
        let fs = 48_000.0;
        s.prepare(&Spec {
            sample_rate: fs,
            max_block: 64,
        })
        .unwrap();
        let (num, den) = analog_transfer(&params);
        let (b, a) = s.coefficients();
        for f in [20.0, 75.0, 200.0, 1000.0, 5000.0, 15000.0] {
            let warped = 2.0 * fs * (PI * f / fs).tan();
            let want = mag_analog(&num, &den, warped);
            let got = mag_digital(&b, &a, f, fs);
            assert!((got / want - 1.0).abs() < 1e-9, "{f} Hz: {got} vs {want}");
        }
    }

    #[test]
    fn impedance_peak_and_voice_coil_rise_shape_the_response() {
        let (_, params) = build_stage(KIND, &[]).unwrap();
        let (num, den) = analog_transfer(&params);
        let h = |f: f64| mag_analog(&num, &den, 2.0 * PI * f);
        // DC: Z_spk = R_e → H = [6/31]/[8/33] = 0.798.
        assert!((h(1e-3) - (6.0 / 31.0) / (8.0 / 33.0)).abs() < 1e-6);
        // At resonance |Z| = R_e + R_ms = 43.5 Ω (plus a little L_e): H ≈ (43.5/68.5)/(8/33) ≈ 2.62.
        assert!((h(75.0) - 2.62).abs() < 0.05, "{}", h(75.0));
        // Above resonance the voice-coil inductance lifts the treble again.
        assert!(h(8000.0) > h(1000.0));
    }
}
