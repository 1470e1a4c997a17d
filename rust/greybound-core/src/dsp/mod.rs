//! Signal-processing building blocks around the stages: polyphase half-band filters
//! ([`halfband`]), the [`Oversampled`] wrapper that runs any stage at 2×, 4× or 8× the
//! host rate, and the zero-latency partitioned-FFT [`IrConvolver`] for cabinet IRs.

mod convolver;
pub mod halfband;
mod oversample;

pub use convolver::{IrConvolver, HEAD_LEN, MAX_IR_SAMPLES, MAX_PARTITION};
pub use oversample::{Oversampled, OVERSAMPLE_FACTORS, PASSBAND_EDGE, STOPBAND_DB};
