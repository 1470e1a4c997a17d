//! Learned cells: the Greybound artifact reader and the networks it describes.
//!
//! An artifact is `model.greybound.json` (JSON5 accepted) plus `weights.greybound.bin`
//! (little-endian float32 tensors at byte offsets listed in the JSON, SHA-256 in the JSON).
//! [`artifact::load`] checks everything strictly — schema version, shapes, offsets,
//! checksum, finite weights — and every error names the file and the field.
//! [`NeuralCell`] runs a loaded artifact as a [`Processor`](crate::Processor): all buffers
//! are allocated at load, `process` is allocation-free and deterministic. A family-"wavenet"
//! artifact runs as a [`WaveNet`] (streamed dilated convolutions with FiLM and Snake);
//! `NeuralCell` dispatches to it, so one loader serves every family.

pub mod artifact;
mod cell;
mod layers;
pub mod wavenet;

pub use artifact::{Artifact, Clamp, ControlSpec, LayerSpec, SCHEMA_VERSION};
pub use cell::NeuralCell;
pub use wavenet::WaveNet;
