//! Shared helpers for the stage tests.
#![allow(dead_code)]

use greybound_core::stages::{build_stage, ParamValue};
use greybound_core::{Processor, Spec};

pub const KINDS: [&str; 10] = [
    "triode_common_cathode",
    "diode_clipper",
    "tone_stack",
    "cathode_follower",
    "volume",
    "cut",
    "phase_inverter",
    "power_amp",
    "output_transformer",
    "speaker_load",
];

pub fn prepared(
    kind: &str,
    params: &[(&str, ParamValue)],
    fs: f64,
    max_block: usize,
) -> Box<dyn Processor> {
    let given: Vec<(String, ParamValue)> = params
        .iter()
        .map(|(n, v)| (n.to_string(), v.clone()))
        .collect();
    let (mut stage, _) = build_stage(kind, &given).expect("stage builds");
    stage
        .prepare(&Spec {
            sample_rate: fs,
            max_block,
        })
        .expect("stage prepares");
    stage
}

/// A guitar-like test signal: decaying 110 Hz + 330 Hz partials with an attack, `peak` V.
pub fn pluck(n: usize, fs: f64, peak: f64) -> Vec<f32> {
    (0..n)
        .map(|i| {
            let t = i as f64 / fs;
            let env = (1.0 - (-t * 400.0).exp()) * (-t * 3.0).exp();
            let w = 2.0 * std::f64::consts::PI * t;
            (peak * env * (0.7 * (110.0 * w).sin() + 0.3 * (330.0 * w).sin())) as f32
        })
        .collect()
}

pub fn render(stage: &mut dyn Processor, x: &[f32], block: usize) -> Vec<f32> {
    let mut y = x.to_vec();
    for b in y.chunks_mut(block) {
        stage.process(b);
    }
    y
}

pub fn is_subnormal(x: f32) -> bool {
    x != 0.0 && x.abs() < f32::MIN_POSITIVE
}
