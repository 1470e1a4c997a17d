//! The analytic stages and the registry that builds them by name with validated parameters.
//!
//! Every stage is volts in, volts out. Inputs are conditioned the same way everywhere
//! ([`condition_input`]): NaN becomes 0 V and magnitudes are clamped to ±[`INPUT_LIMIT_V`],
//! so that any input, finite or not, gives finite, bounded output.

mod cathode_follower;
mod circuit_stage;
mod cut;
mod diode_clipper;
mod one_knob;
mod output_transformer;
mod params;
mod phase_inverter;
mod power_amp;
mod speaker_load;
mod tone_stack;
mod triode;
mod volume;

pub use cathode_follower::CathodeFollower;
pub use circuit_stage::{
    circuit_sample, CircuitDesign, CircuitStage, DEFAULT_SMOOTHING_MS, MAX_SMOOTHING_MS,
    RETUNE_INTERVAL,
};
pub use cut::Cut;
pub use diode_clipper::DiodeClipper;
pub use output_transformer::{OutputTransformer, TransformerCore};
pub use params::{ParamKind, ParamSpec, ParamValue, Params, StageSpec};
pub use phase_inverter::{PhaseInverter, TriodePair};
pub use power_amp::{Pentode, PentodeCurrents, PowerAmp, PowerAmpDesign, PushPullPentodes};
pub use speaker_load::SpeakerLoad;
pub use tone_stack::{ToneStack, Voicing};
pub use triode::TriodeCommonCathode;
pub use volume::{taper_fraction, Volume};

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

/// The Koren triode law from a stage's `mu`, `ex`, `kg1`, `kp`, `kvb` parameters (shared by
/// every stage with a triode in it).
pub(crate) fn koren_from(p: &Params) -> crate::circuit::KorenTriode {
    crate::circuit::KorenTriode {
        mu: p.num("mu"),
        ex: p.num("ex"),
        kg1: p.num("kg1"),
        kp: p.num("kp"),
        kvb: p.num("kvb"),
    }
}

/// Every stage kind the runtime can build, with its parameters.
pub fn stage_specs() -> &'static [StageSpec] {
    &STAGE_SPECS
}

static STAGE_SPECS: [StageSpec; 10] = [
    triode::SPEC,
    diode_clipper::SPEC,
    tone_stack::SPEC,
    cathode_follower::SPEC,
    volume::SPEC,
    cut::SPEC,
    phase_inverter::SPEC,
    power_amp::SPEC,
    output_transformer::SPEC,
    speaker_load::SPEC,
];

/// Parameters of a built stage that `Processor::set_param` changes while running
/// (smoothed inside `process`, see [`CircuitStage`]): its knobs and `smoothing_ms`. Empty
/// for kinds without live knobs; the Vox stack has no middle pot. Ids come from
/// [`StageSpec::param_id`].
pub fn live_params(params: &Params) -> &'static [&'static str] {
    match params.stage {
        tone_stack::KIND
            if Voicing::by_name(params.text("voicing")).is_some_and(|v| !v.has_middle) =>
        {
            &["treble", "bass", "smoothing_ms"]
        }
        tone_stack::KIND => &["treble", "middle", "bass", "smoothing_ms"],
        volume::KIND => &["position", "smoothing_ms"],
        cut::KIND => &["cut", "smoothing_ms"],
        _ => &[],
    }
}

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
        tone_stack::KIND => Box::new(ToneStack::from_params(&params)?),
        cathode_follower::KIND => Box::new(CathodeFollower::from_params(&params)?),
        volume::KIND => Box::new(Volume::from_params(&params)?),
        cut::KIND => Box::new(Cut::from_params(&params)?),
        phase_inverter::KIND => Box::new(PhaseInverter::from_params(&params)?),
        power_amp::KIND => Box::new(PowerAmp::from_params(&params)?),
        speaker_load::KIND => Box::new(SpeakerLoad::from_params(&params)?),
        _ => Box::new(OutputTransformer::from_params(&params)?),
    };
    Ok((stage, params))
}
