//! [`CircuitStage`]: the one [`Processor`] implementation shared by every circuit stage.
//! A stage supplies its netlist and device ([`CircuitDesign`]); this wrapper builds the DK
//! solver in `prepare`, and runs it per sample under a denormal guard.

use super::params::Params;
use super::{condition_input, INPUT_LIMIT_V};
use crate::circuit::{DkSolver, Netlist, Nonlinearity};
use crate::denormal::{to_f32_flushed, DenormalGuard};
use crate::error::Error;
use crate::monitor::{Probe, Rails};
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
    /// The supply node and rail check for the monitor, from the port voltages (V) of one
    /// solved sample; `None` for a stage with nothing to report.
    fn rails(&self, _port_volts: &[f64]) -> Option<Rails> {
        None
    }
}

/// A circuit stage: its design and, once prepared, its solver.
pub struct CircuitStage<D: CircuitDesign> {
    pub(super) design: D,
    pub(super) solver: Option<DkSolver<D::Device>>,
    /// Telemetry since the last take (`Some` while probing), and the solver's Newton
    /// failure count at that take.
    probe: Option<(Probe, u64)>,
}

impl<D: CircuitDesign> CircuitStage<D> {
    pub fn from_params(params: &Params) -> Result<Self, Error> {
        Ok(CircuitStage {
            design: D::from_params(params)?,
            solver: None,
            probe: None,
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
        match (self.solver.as_mut(), self.probe.as_mut()) {
            (Some(s), None) => buf
                .iter_mut()
                .for_each(|x| *x = to_f32_flushed(s.step(condition_input(*x)))),
            (Some(s), Some((p, _))) => {
                for x in buf.iter_mut() {
                    if x.is_nan() {
                        p.nan_sanitized += 1;
                    } else if f64::from(x.abs()) > INPUT_LIMIT_V {
                        p.input_clamped += 1;
                    }
                    let y = s.step(condition_input(*x));
                    *x = to_f32_flushed(y);
                    if *x == 0.0 && y != 0.0 {
                        p.denormal_flushes += 1;
                    }
                    if let Some(r) = self.design.rails(s.port_voltages()) {
                        if !r.supply_v.is_nan() {
                            p.observe_supply(r.supply_v);
                        }
                        p.rail_excursions += u64::from(r.excursion);
                    }
                }
                p.samples += buf.len() as u64;
            }
            (None, _) => buf.fill(0.0),
        }
    }

    fn set_probing(&mut self, on: bool) {
        let failures = self.newton_failures();
        self.probe = on.then(|| (Probe::default(), failures));
    }

    fn take_probe(&mut self) -> Option<Probe> {
        let failures = self.newton_failures();
        let (p, at_take) = self.probe.as_mut()?;
        let mut out = std::mem::take(p);
        // The solver's counter restarts at reset; a smaller count means a reset happened.
        out.newton_failures = failures - (*at_take).min(failures);
        *at_take = failures;
        Some(out)
    }

    fn tail_samples(&self) -> usize {
        self.solver.as_ref().map_or(0, |s| s.tail_samples())
    }
}
