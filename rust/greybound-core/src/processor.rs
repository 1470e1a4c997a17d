//! The one shape of every stage ([`Processor`]) and the serial [`Chain`] of stages (run
//! through [`crate::fused::process_stages`]).

use crate::error::Error;
use crate::fused::{process_stages, Kernel};
use crate::monitor::Probe;

/// How a stage will be run: sample rate (Hz) and the largest block `process` will see.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spec {
    pub sample_rate: f64,
    pub max_block: usize,
}

impl Spec {
    /// Rejects non-finite or out-of-range sample rates (accepted: 8 kHz ..= 768 kHz) and a
    /// zero block size.
    pub fn validate(&self) -> Result<(), Error> {
        if !self.sample_rate.is_finite() || !(8_000.0..=768_000.0).contains(&self.sample_rate) {
            return Err(Error::InvalidSpec {
                reason: format!("sample_rate {} Hz outside 8000..=768000", self.sample_rate),
            });
        }
        if self.max_block == 0 {
            return Err(Error::InvalidSpec {
                reason: "max_block must be at least 1".into(),
            });
        }
        Ok(())
    }
}

/// A real-time audio stage. `prepare` may allocate; `reset` and `process` must not
/// allocate, lock, do I/O or panic, for any finite or non-finite input.
pub trait Processor: Send {
    /// Allocates state for `spec` and sets the stage to its rest (DC operating) point.
    fn prepare(&mut self, spec: &Spec) -> Result<(), Error>;
    /// Returns to the rest state reached by `prepare`. Must not allocate.
    fn reset(&mut self);
    /// Processes `buf` in place (volts in, volts out); `buf.len() <= max_block`.
    fn process(&mut self, buf: &mut [f32]);
    /// Group delay the stage adds, in samples (0 for the circuit stages here).
    fn latency_samples(&self) -> usize {
        0
    }
    /// Samples until the stage's response to an impulse has decayed (warm-up/receptive field).
    fn tail_samples(&self) -> usize {
        0
    }
    /// Sets a parameter by id; smoothed inside `process` by stages that support it.
    fn set_param(&mut self, _id: u32, _value: f32) {}
    /// Switches per-stage telemetry on or off (off after construction). Stages without
    /// telemetry ignore it. Must not allocate; must not change the output.
    fn set_probing(&mut self, _on: bool) {}
    /// The telemetry gathered since the last call (then cleared); `None` when the stage has
    /// no telemetry or probing is off. Must not allocate.
    fn take_probe(&mut self) -> Option<Probe> {
        None
    }
    /// The stage's per-sample step for a fused chain loop ([`crate::fused`]), while that
    /// step is all `process` would do; `None` (the default) keeps the stage on `process`.
    /// Must not allocate.
    fn kernel(&mut self) -> Option<Kernel<'_>> {
        None
    }
}

/// Stages in series. Latency adds up; the tail is the sum of the stages' tails (a safe
/// upper bound for warm-up).
#[derive(Default)]
pub struct Chain {
    stages: Vec<Box<dyn Processor>>,
}

impl Chain {
    pub fn new() -> Self {
        Chain { stages: Vec::new() }
    }

    pub fn push(&mut self, stage: Box<dyn Processor>) {
        self.stages.push(stage);
    }

    pub fn len(&self) -> usize {
        self.stages.len()
    }

    pub fn is_empty(&self) -> bool {
        self.stages.is_empty()
    }
}

impl Processor for Chain {
    fn prepare(&mut self, spec: &Spec) -> Result<(), Error> {
        spec.validate()?;
        self.stages.iter_mut().try_for_each(|s| s.prepare(spec))
    }

    fn reset(&mut self) {
        self.stages.iter_mut().for_each(|s| s.reset());
    }

    fn process(&mut self, buf: &mut [f32]) {
        let _ftz = crate::denormal::DenormalGuard::new();
        process_stages(&mut self.stages, buf);
    }

    fn latency_samples(&self) -> usize {
        self.stages.iter().map(|s| s.latency_samples()).sum()
    }

    fn tail_samples(&self) -> usize {
        self.stages.iter().map(|s| s.tail_samples()).sum()
    }
}
