//! The runtime's error type. Every variant names what it is about (stage, parameter, field)
//! so that a message reaching Python or a log says where to look.

use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub enum Error {
    /// No stage of this kind exists.
    UnknownStage {
        kind: String,
        known: Vec<&'static str>,
    },
    /// The stage has no parameter of this name.
    UnknownParam { stage: String, param: String },
    /// A parameter value is out of range, non-finite or of the wrong type.
    InvalidParam {
        stage: String,
        param: String,
        value: String,
        reason: String,
    },
    /// The processing spec (sample rate, block size) is unusable.
    InvalidSpec { reason: String },
    /// The circuit cannot be solved (floating node, singular matrix, no DC solution).
    Circuit { stage: String, reason: String },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::UnknownStage { kind, known } => {
                write!(
                    f,
                    "unknown stage kind '{kind}' (known: {})",
                    known.join(", ")
                )
            }
            Error::UnknownParam { stage, param } => {
                write!(f, "stage '{stage}': unknown parameter '{param}'")
            }
            Error::InvalidParam {
                stage,
                param,
                value,
                reason,
            } => {
                write!(
                    f,
                    "stage '{stage}': parameter '{param}' = {value}: {reason}"
                )
            }
            Error::InvalidSpec { reason } => write!(f, "invalid spec: {reason}"),
            Error::Circuit { stage, reason } => {
                write!(f, "stage '{stage}': circuit error: {reason}")
            }
        }
    }
}

impl std::error::Error for Error {}
