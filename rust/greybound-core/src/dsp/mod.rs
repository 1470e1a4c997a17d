//! Signal-processing building blocks around the stages: polyphase half-band filters
//! ([`halfband`]) and the [`Oversampled`] wrapper that runs any stage at 2×, 4× or 8× the
//! host rate.

pub mod halfband;
mod oversample;

pub use oversample::{Oversampled, OVERSAMPLE_FACTORS, PASSBAND_EDGE, STOPBAND_DB};
