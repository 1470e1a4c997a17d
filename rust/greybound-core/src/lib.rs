//! Greybound runtime core: deterministic, allocation-free amp-model stages.
//!
//! Pure Rust, no Python. Every stage implements [`Processor`]: `prepare` may allocate,
//! `reset`/`process` never allocate, lock, do I/O or panic. Signals are `f32` **volts**;
//! the lab's level convention is that a sample of 1.0 is 1 V at a stage input
//! (0 dBFS = 1 V peak), see `harness.audio` on the Python side.
//!
//! Modules: [`processor`] (the trait, [`Chain`], [`Spec`]), [`fused`] (consecutive stages
//! stepped sample by sample in one loop), [`denormal`] (scoped FTZ/DAZ),
//! [`circuit`] (nodal DK solver shared by every circuit stage), [`stages`] (the circuit
//! stages — triode, diode clipper, tone stack, the Nox30's follower, inverter, power amp,
//! transformer, volume and cut — and the registry that builds them by name), [`dsp`]
//! (half-band filters, [`dsp::Oversampled`], [`dsp::IrConvolver`]), [`neural`] (the
//! Greybound artifact reader and [`neural::NeuralCell`]), [`monitor`] (per-stage
//! telemetry: [`Probe`]).

pub mod circuit;
pub mod denormal;
pub mod dsp;
pub mod error;
pub mod fused;
pub mod monitor;
pub mod nam;
pub mod neural;
pub mod processor;
pub mod rig;
mod simd;
pub mod stages;

pub use error::Error;
pub use monitor::Probe;
pub use processor::{Chain, Processor, Spec};
