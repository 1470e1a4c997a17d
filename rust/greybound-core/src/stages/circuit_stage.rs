//! [`CircuitStage`]: the one [`Processor`] implementation shared by every circuit stage.
//! A stage supplies its netlist and device ([`CircuitDesign`]); this wrapper builds the DK
//! solver in `prepare`, and runs it per sample under a denormal guard.

use super::condition_input;
use super::params::Params;
use crate::circuit::{DkSolver, Netlist, Nonlinearity};
use crate::denormal::{to_f32_flushed, DenormalGuard};
use crate::error::Error;
use crate::processor::{Processor, Spec};

/// A circuit described by validated parameters.
pub trait CircuitDesign: Send + Sized {
    type Device: Nonlinearity;
    /// The registry name of the stage.
    const KIND: &'static str;
    /// Builds the design, checking parameter combinations the declarations cannot express.
    fn from_params(params: &Params) -> Result<Self, Error>;
    fn netlist(&self) -> Netlist;
    fn device(&self) -> Self::Device;
    /// Newton iteration limit per sample.
    fn max_iterations(&self) -> usize {
        50
    }
}

/// A circuit stage: its design and, once prepared, its solver.
pub struct CircuitStage<D: CircuitDesign> {
    pub(super) design: D,
    pub(super) solver: Option<DkSolver<D::Device>>,
}

impl<D: CircuitDesign> CircuitStage<D> {
    pub fn from_params(params: &Params) -> Result<Self, Error> {
        Ok(CircuitStage {
            design: D::from_params(params)?,
            solver: None,
        })
    }

    /// Output at the DC rest point (V); `None` before `prepare`.
    pub fn rest_output(&self) -> Option<f64> {
        self.solver.as_ref().map(|s| s.rest_output())
    }

    /// Nonlinear port voltages (V) and currents (A) at the DC rest point, in the port
    /// order of the design's netlist; `None` before `prepare`.
    pub fn rest_ports(&self) -> Option<(&[f64], &[f64])> {
        self.solver
            .as_ref()
            .map(|s| (s.rest_port_voltages(), s.rest_port_currents()))
    }

    /// Samples where Newton hit the iteration limit since the last reset.
    pub fn newton_failures(&self) -> u64 {
        self.solver.as_ref().map_or(0, |s| s.newton_failures())
    }
}

impl<D: CircuitDesign> Processor for CircuitStage<D> {
    fn prepare(&mut self, spec: &Spec) -> Result<(), Error> {
        spec.validate()?;
        let solver = DkSolver::new(
            &self.design.netlist(),
            self.design.device(),
            spec.sample_rate,
            self.design.max_iterations(),
            D::KIND,
        )?;
        self.solver = Some(solver);
        Ok(())
    }

    fn reset(&mut self) {
        if let Some(s) = self.solver.as_mut() {
            s.reset();
        }
    }

    fn process(&mut self, buf: &mut [f32]) {
        let _ftz = DenormalGuard::new();
        match self.solver.as_mut() {
            Some(s) => buf
                .iter_mut()
                .for_each(|x| *x = to_f32_flushed(s.step(condition_input(*x)))),
            None => buf.fill(0.0),
        }
    }

    fn tail_samples(&self) -> usize {
        self.solver.as_ref().map_or(0, |s| s.tail_samples())
    }
}
