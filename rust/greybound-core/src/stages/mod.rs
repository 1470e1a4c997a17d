//! The analytic stages and the registry that builds them by name with validated parameters.
//!
//! Every stage is volts in, volts out. Inputs are conditioned the same way everywhere
//! ([`condition_input`]): NaN becomes 0 V and magnitudes are clamped to ±[`INPUT_LIMIT_V`],
//! so that any input, finite or not, gives finite, bounded output.

mod circuit_stage;
mod diode_clipper;
mod params;
mod tone_stack;
mod triode;

pub use circuit_stage::{CircuitDesign, CircuitStage};
pub use diode_clipper::DiodeClipper;
pub use params::{ParamKind, ParamSpec, ParamValue, Params, StageSpec};
pub use tone_stack::{ToneStack, Voicing};
pub use triode::TriodeCommonCathode;

use crate::error::Error;
use crate::processor::Processor;

/// Largest input magnitude a stage accepts (V); beyond it the input is clamped. No
/// guitar-amp stage input sees more than a few hundred volts, even a power-tube grid.
pub const INPUT_LIMIT_V: f64 = 1000.0;

/// NaN → 0 V; ±∞ and anything beyond ±[`INPUT_LIMIT_V`] → clamped.
#[inline(always)]
pub fn condition_input(x: f32) -> f64 {
    let x = x as f64;
    if x.is_nan() {
        0.0
    } else {
        x.clamp(-INPUT_LIMIT_V, INPUT_LIMIT_V)
    }
}

/// Every stage kind the runtime can build, with its parameters.
pub fn stage_specs() -> &'static [StageSpec] {
    &STAGE_SPECS
}

static STAGE_SPECS: [StageSpec; 3] = [triode::SPEC, diode_clipper::SPEC, tone_stack::SPEC];

/// Builds a stage by kind name from `(name, value)` parameters; unspecified parameters take
/// their defaults. Returns the stage (not yet prepared) and the resolved parameters.
pub fn build_stage(
    kind: &str,
    given: &[(String, ParamValue)],
) -> Result<(Box<dyn Processor>, Params), Error> {
    let spec = STAGE_SPECS
        .iter()
        .find(|s| s.kind == kind)
        .ok_or_else(|| Error::UnknownStage {
            kind: kind.to_string(),
            known: STAGE_SPECS.iter().map(|s| s.kind).collect(),
        })?;
    let params = Params::resolve(spec, given)?;
    let stage: Box<dyn Processor> = match kind {
        triode::KIND => Box::new(TriodeCommonCathode::from_params(&params)?),
        diode_clipper::KIND => Box::new(DiodeClipper::from_params(&params)?),
        _ => Box::new(ToneStack::from_params(&params)?),
    };
    Ok((stage, params))
}
