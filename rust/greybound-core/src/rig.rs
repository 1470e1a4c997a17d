//! [`Rig`]: a whole amp as one [`Processor`] — stages in series, an output gain and an
//! optional cabinet IR — so that a rig renders entirely inside the runtime: one call per
//! block, no allocation, no host code between stages; consecutive circuit stages run fused
//! (see [`crate::fused`]).
//!
//! Parameters are addressed as `(stage index << 16) | parameter id` in
//! [`Processor::set_param`] (see [`Rig::param_address`]); the stage smooths the change as
//! it does alone. Latency and tail are the sums over the stages (plus the IR's tail).

use crate::denormal::{to_f32_flushed, DenormalGuard};
use crate::dsp::IrConvolver;
use crate::error::Error;
use crate::fused::process_stages;
use crate::processor::{Processor, Spec};

/// Bits of a parameter address that hold the parameter id.
const PARAM_BITS: u32 = 16;

pub struct Rig {
    stages: Vec<Box<dyn Processor>>,
    gain: f32,
    cab: Option<IrConvolver>,
}

impl Rig {
    /// A rig from stages in signal order, an output gain (dB) and an optional cabinet IR.
    pub fn new(
        stages: Vec<Box<dyn Processor>>,
        output_gain_db: f64,
        cab: Option<IrConvolver>,
    ) -> Result<Rig, Error> {
        if !output_gain_db.is_finite() {
            return Err(Error::InvalidSpec {
                reason: format!("rig output gain {output_gain_db} dB is not finite"),
            });
        }
        Ok(Rig {
            stages,
            gain: 10f64.powf(output_gain_db / 20.0) as f32,
            cab,
        })
    }

    /// The `set_param` address of parameter `id` of stage `stage`.
    pub fn param_address(stage: usize, id: u32) -> u32 {
        ((stage as u32) << PARAM_BITS) | (id & ((1 << PARAM_BITS) - 1))
    }

    pub fn len(&self) -> usize {
        self.stages.len()
    }

    pub fn is_empty(&self) -> bool {
        self.stages.is_empty()
    }
}

impl Processor for Rig {
    fn prepare(&mut self, spec: &Spec) -> Result<(), Error> {
        spec.validate()?;
        self.stages.iter_mut().try_for_each(|s| s.prepare(spec))?;
        if let Some(cab) = self.cab.as_mut() {
            cab.prepare(spec)?;
        }
        Ok(())
    }

    fn reset(&mut self) {
        self.stages.iter_mut().for_each(|s| s.reset());
        if let Some(cab) = self.cab.as_mut() {
            cab.reset();
        }
    }

    fn process(&mut self, buf: &mut [f32]) {
        let _ftz = DenormalGuard::new();
        process_stages(&mut self.stages, buf);
        let g = self.gain;
        buf.iter_mut()
            .for_each(|x| *x = to_f32_flushed((*x * g) as f64));
        if let Some(cab) = self.cab.as_mut() {
            cab.process(buf);
        }
    }

    fn latency_samples(&self) -> usize {
        self.stages.iter().map(|s| s.latency_samples()).sum()
    }

    fn tail_samples(&self) -> usize {
        self.stages.iter().map(|s| s.tail_samples()).sum::<usize>()
            + self.cab.as_ref().map_or(0, |c| c.tail_samples())
    }

    fn set_param(&mut self, address: u32, value: f32) {
        let stage = (address >> PARAM_BITS) as usize;
        if let Some(s) = self.stages.get_mut(stage) {
            s.set_param(address & ((1 << PARAM_BITS) - 1), value);
        }
    }
}
