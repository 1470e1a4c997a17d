//! [`CircuitStage`]: the one [`Processor`] implementation shared by every circuit stage.
//! A stage supplies its netlist and device ([`CircuitDesign`]); this wrapper builds the DK
//! solver in `prepare`, and runs it per sample under a denormal guard.
//!
//! **Live knobs.** A design may declare knobs ([`CircuitDesign::knob_ids`]): parameters
//! that `set_param(id, value)` changes while running, `id` being the parameter's index in
//! the stage's spec (`StageSpec::param_id`). `set_param` only sets a target; inside
//! `process` the effective value ramps linearly to it over the smoothing time (the
//! design's smoothing parameter, default [`DEFAULT_SMOOTHING_MS`]; a new change restarts
//! the ramp from where the value is), and every [`RETUNE_INTERVAL`] samples — at sample
//! counts since `prepare`/`reset` that are multiples of it, so the result does not depend
//! on the block size — the circuit is re-reduced at the current value
//! (`DkSolver::retune`: allocation-free, capacitor voltages continuous). With no knob
//! moving `process` is the plain per-sample loop: the output is bit-identical to a stage
//! that has no knobs. `reset` jumps every knob to its target.

use super::params::Params;
use super::{condition_input, INPUT_LIMIT_V};
use crate::circuit::{DkSolver, Netlist, Nonlinearity};

/// Samples between re-reductions of the circuit while a knob moves. 32 samples (0.67 ms
/// at 48 kHz) is well below the 20 ms smoothing time (30 updates per ramp), so each step
/// of the parameter staircase is 1/30 of the jump. Cost (release, x86_64, measured): a
/// re-reduction of the tone stack (up to 7 nodes, 3 capacitors) takes ≈ 1.5 µs, of the
/// volume and cut controls ≈ 0.4 µs; amortized over 32 samples the tone stack goes from
/// ≈ 23 to ≈ 70 ns/sample while a knob moves (volume, cut: ≈ 14 → 26 ns/sample), and
/// costs nothing when no knob moves. K = 16 would double that overhead for steps of 1/60.
pub const RETUNE_INTERVAL: u64 = 32;
/// Smoothing time of a knob change unless the stage's parameter says otherwise (ms).
pub const DEFAULT_SMOOTHING_MS: f64 = 20.0;
/// Longest accepted smoothing time (ms).
pub const MAX_SMOOTHING_MS: f64 = 1000.0;

/// A knob's linear ramp: from `start` to `target` over `ramp` samples, `elapsed` into it;
/// `applied` is the value the solver's matrices were last reduced at. The value is a
/// function of the integer `elapsed`, so it is the same whatever the block size.
#[derive(Debug, Clone, Copy)]
struct Smoother {
    id: u32,
    start: f64,
    target: f64,
    applied: f64,
    elapsed: u64,
    ramp: u64,
}

impl Smoother {
    fn at(id: u32, value: f64) -> Self {
        Smoother {
            id,
            start: value,
            target: value,
            applied: value,
            elapsed: 0,
            ramp: 0,
        }
    }

    fn value(&self) -> f64 {
        if self.elapsed >= self.ramp {
            self.target
        } else {
            self.start + (self.target - self.start) * (self.elapsed as f64 / self.ramp as f64)
        }
    }

    fn idle(&self) -> bool {
        self.elapsed >= self.ramp && self.applied == self.target
    }
}
use crate::denormal::{to_f32_flushed, DenormalGuard};
use crate::error::Error;
use crate::fused::{FusedDevice, Kernel};
use crate::monitor::{Probe, Rails};
use crate::processor::{Processor, Spec};

/// A circuit described by validated parameters.
pub trait CircuitDesign: Send + Sized {
    type Device: FusedDevice;
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
    /// Spec ids of the knobs: parameters `set_param` changes while running (smoothed),
    /// each a fraction in [0, 1]. None by default.
    fn knob_ids(&self) -> &'static [u32] {
        &[]
    }
    /// Current value of knob `id` (as last set with `set_knob`, or from the parameters).
    fn knob(&self, _id: u32) -> f64 {
        0.0
    }
    /// Sets knob `id` (in [0, 1]); later netlists use it. Must not allocate.
    fn set_knob(&mut self, _id: u32, _value: f64) {}
    /// The spec id of the smoothing-time parameter and its value (ms), for a design with
    /// knobs.
    fn smoothing(&self) -> Option<(u32, f64)> {
        None
    }
    /// Peak input (V) the stage is designed for, when its port equation is to be solved by
    /// tables (`DkSolver::tabulate`, explored up to this level) instead of Newton per
    /// sample; `None` (the default) keeps Newton. Only honoured for designs without knobs
    /// (a knob re-reduces the circuit, which would invalidate the tables).
    fn table_drive_v(&self) -> Option<f64> {
        None
    }
    /// Writes the netlist into `net`, reusing its storage: must not allocate when `net`
    /// already holds this design's netlist (knob changes keep the topology).
    fn netlist_into(&self, net: &mut Netlist) {
        *net = self.netlist();
    }
}

/// One sample of a circuit stage (V in, V out): the input conditioned, solved, and returned
/// as `f32` with subnormals flushed. Shared by the stage's loop and the fused loop.
#[inline(always)]
pub fn circuit_sample<N: Nonlinearity>(solver: &mut DkSolver<N>, x: f32) -> f32 {
    to_f32_flushed(solver.step(condition_input(x)))
}

/// A circuit stage: its design and, once prepared, its solver.
pub struct CircuitStage<D: CircuitDesign> {
    pub(super) design: D,
    pub(super) solver: Option<DkSolver<D::Device>>,
    /// Telemetry since the last take (`Some` while probing), and the solver's Newton
    /// failure and table miss counts at that take.
    probe: Option<(Probe, u64, u64)>,
    /// One ramp per knob of the design.
    knobs: Vec<Smoother>,
    smoothing_ms: f64,
    sample_rate: f64,
    /// Samples processed since `prepare`/`reset`: the retune grid.
    clock: u64,
    /// The netlist rebuilt at each retune (storage kept).
    scratch: Netlist,
}

impl<D: CircuitDesign> CircuitStage<D> {
    pub fn from_params(params: &Params) -> Result<Self, Error> {
        let design = D::from_params(params)?;
        let knobs = design
            .knob_ids()
            .iter()
            .map(|&id| Smoother::at(id, design.knob(id)))
            .collect();
        let smoothing_ms = design.smoothing().map_or(DEFAULT_SMOOTHING_MS, |s| s.1);
        Ok(CircuitStage {
            design,
            solver: None,
            probe: None,
            knobs,
            smoothing_ms,
            sample_rate: 0.0,
            clock: 0,
            scratch: Netlist::default(),
        })
    }

    /// Sets the smoothing time of knob changes made from now on (ms, clamped to
    /// [0, [`MAX_SMOOTHING_MS`]]; NaN ignored). Also reachable as `set_param` with the
    /// stage's `smoothing_ms` parameter id.
    pub fn set_smoothing_ms(&mut self, ms: f64) {
        if !ms.is_nan() {
            self.smoothing_ms = ms.clamp(0.0, MAX_SMOOTHING_MS);
        }
    }

    /// Reduces the circuit again if a knob's current value differs from the one its
    /// matrices were made at. Allocation-free.
    fn retune(&mut self) {
        let mut changed = false;
        for s in self.knobs.iter_mut() {
            let v = s.value();
            if v != s.applied {
                self.design.set_knob(s.id, v);
                s.applied = v;
                changed = true;
            }
        }
        if let (true, Some(solver)) = (changed, self.solver.as_mut()) {
            self.design.netlist_into(&mut self.scratch);
            solver.retune(&self.scratch);
        }
    }

    /// Runs the solver over `buf`: the per-sample loop compiled with the CPU's fused
    /// multiply-add where it has one (x86_64: detected at run time, cached by std), so that
    /// the solver's `mul_add`s are single instructions; the same bits either way.
    fn run(&mut self, buf: &mut [f32]) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU supports FMA (checked just above).
            unsafe { self.run_fma(buf) };
            return;
        }
        self.run_plain(buf);
    }

    /// [`Self::run_plain`] compiled with FMA enabled.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "fma")]
    unsafe fn run_fma(&mut self, buf: &mut [f32]) {
        self.run_plain(buf);
    }

    /// The per-sample loop, with or without telemetry.
    #[inline(always)]
    fn run_plain(&mut self, buf: &mut [f32]) {
        match (self.solver.as_mut(), self.probe.as_mut()) {
            // A plain loop (not a closure): it must inline into `run_fma`.
            (Some(s), None) => {
                for x in buf.iter_mut() {
                    *x = circuit_sample(s, *x);
                }
            }
            (Some(s), Some((p, _, _))) => {
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
                    if let Some(r) = self.design.rails(&s.port_voltages()) {
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

    /// Every knob at its target, matrices reduced there.
    fn settle_knobs(&mut self) {
        for s in self.knobs.iter_mut() {
            s.start = s.target;
            s.elapsed = s.ramp;
        }
        self.retune();
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

    /// Samples the solution tables missed (solved by Newton instead) since the last reset;
    /// 0 for a stage solved by Newton throughout.
    pub fn table_misses(&self) -> u64 {
        self.solver.as_ref().map_or(0, |s| s.table_misses())
    }

    /// Whether the port equation is solved by tables (see [`CircuitDesign::table_drive_v`]).
    pub fn is_tabulated(&self) -> bool {
        self.solver.as_ref().is_some_and(|s| s.is_tabulated())
    }

    /// Samples where Newton hit the iteration limit since the last reset.
    pub fn newton_failures(&self) -> u64 {
        self.solver.as_ref().map_or(0, |s| s.newton_failures())
    }
}

impl<D: CircuitDesign> Processor for CircuitStage<D> {
    fn prepare(&mut self, spec: &Spec) -> Result<(), Error> {
        spec.validate()?;
        for s in self.knobs.iter_mut() {
            self.design.set_knob(s.id, s.target);
            *s = Smoother::at(s.id, s.target);
        }
        self.scratch = self.design.netlist();
        self.sample_rate = spec.sample_rate;
        self.clock = 0;
        let mut solver = DkSolver::new(
            &self.scratch,
            self.design.device(),
            spec.sample_rate,
            self.design.max_iterations(),
            D::KIND,
        )?;
        if let (Some(peak), true) = (self.design.table_drive_v(), self.knobs.is_empty()) {
            solver.tabulate(spec.sample_rate, peak, D::KIND)?;
        }
        self.solver = Some(solver);
        Ok(())
    }

    fn reset(&mut self) {
        self.settle_knobs();
        self.clock = 0;
        if let Some(s) = self.solver.as_mut() {
            s.reset();
        }
    }

    fn process(&mut self, buf: &mut [f32]) {
        let _ftz = DenormalGuard::new();
        if self.solver.is_none() || self.knobs.iter().all(Smoother::idle) {
            self.run(buf);
            self.clock += buf.len() as u64;
            return;
        }
        let mut rest = buf;
        while !rest.is_empty() {
            let phase = self.clock % RETUNE_INTERVAL;
            if phase == 0 {
                self.retune();
            }
            let n = ((RETUNE_INTERVAL - phase) as usize).min(rest.len());
            let (head, tail) = rest.split_at_mut(n);
            self.run(head);
            self.clock += n as u64;
            for s in self.knobs.iter_mut() {
                s.elapsed = s.elapsed.saturating_add(n as u64);
            }
            rest = tail;
        }
    }

    /// `id` is the parameter's index in the stage's spec. A knob (a [0, 1] fraction,
    /// clamped) gets a new target, reached by a linear ramp over the smoothing time inside
    /// `process`; before `prepare` it applies at once. The smoothing parameter's id sets
    /// the smoothing time (ms) of later changes. Other ids and NaN are ignored.
    /// Allocation-free.
    fn set_param(&mut self, id: u32, value: f32) {
        let v = f64::from(value);
        if v.is_nan() {
            return;
        }
        if self.design.smoothing().is_some_and(|s| s.0 == id) {
            self.set_smoothing_ms(v);
            return;
        }
        let ramp = (self.smoothing_ms * 1e-3 * self.sample_rate).round() as u64;
        let prepared = self.solver.is_some();
        let Some(s) = self.knobs.iter_mut().find(|s| s.id == id) else {
            return;
        };
        let v = v.clamp(0.0, 1.0);
        if prepared {
            s.start = s.value();
            s.target = v;
            s.elapsed = 0;
            s.ramp = ramp;
        } else {
            *s = Smoother::at(id, v);
            self.design.set_knob(id, v);
        }
    }

    fn set_probing(&mut self, on: bool) {
        let (failures, misses) = (self.newton_failures(), self.table_misses());
        self.probe = on.then(|| (Probe::default(), failures, misses));
    }

    fn take_probe(&mut self) -> Option<Probe> {
        let (failures, misses) = (self.newton_failures(), self.table_misses());
        let (p, failures_at, misses_at) = self.probe.as_mut()?;
        let mut out = std::mem::take(p);
        // The solver's counters restart at reset; a smaller count means a reset happened.
        out.newton_failures = failures - (*failures_at).min(failures);
        out.table_misses = misses - (*misses_at).min(misses);
        *failures_at = failures;
        *misses_at = misses;
        Some(out)
    }

    fn tail_samples(&self) -> usize {
        self.solver.as_ref().map_or(0, |s| s.tail_samples())
    }

    /// The solver's step while no knob moves and probing is off.
    fn kernel(&mut self) -> Option<Kernel<'_>> {
        if self.probe.is_some() || !self.knobs.iter().all(Smoother::idle) {
            return None;
        }
        let solver = self.solver.as_mut()?;
        Some(Kernel::circuit(solver, &mut self.clock))
    }
}
