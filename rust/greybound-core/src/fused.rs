//! Fused chains: consecutive stages stepped sample by sample in one skewed loop.
//!
//! A circuit stage run over a block on its own is bound by its per-sample recurrence
//! (history → table coordinates → lookup → currents → history: ≈ 100 cycles for a tube
//! stage), while the CPU could issue far more independent work. A chain of such stages
//! run one after another pays every recurrence in turn. [`process_stages`] runs each
//! maximal run of stages that offer a [`Kernel`] in one loop, skewed: in iteration `j`,
//! stage `k` steps sample `j − k`, the sample stage `k − 1` finished in iteration `j − 1`.
//! The steps of one iteration are independent of each other, so the out-of-order core
//! overlaps one stage's recurrence with the next stage's work.
//!
//! Each stage still sees exactly its own samples in order and writes them back to the
//! block as `f32`, so a fused run is bit-identical to processing the block stage by stage.
//! Dispatch is static: a [`Kernel`] holds an enum ([`Step`]) over the stage kinds' steps,
//! inlined into the one loop (compiled with FMA where the CPU has it, as the stages' own
//! loops are).

use crate::circuit::{DiodePair, DkSolver, GridDiodeTriode, Linear, Nonlinearity};
use crate::processor::Processor;
use crate::stages::{circuit_sample, PushPullPentodes, SpeakerLoad, TransformerCore, TriodePair};

/// Longest run of stages fused into one loop (longer runs are split).
pub const MAX_FUSED: usize = 16;

/// One stage's per-sample step, for the fused loop, and the stage's sample clock (a circuit
/// stage's knob retune grid), advanced by the samples a fused run processed. Offered by a
/// stage ([`Processor::kernel`]) only while its per-sample step is all its `process` would
/// do (no knob ramp, no telemetry).
pub struct Kernel<'a> {
    step: Step<'a>,
    clock: Option<&'a mut u64>,
}

/// The per-sample steps, one variant per device type (and the speaker load).
pub enum Step<'a> {
    Linear(&'a mut DkSolver<Linear>),
    Diodes(&'a mut DkSolver<DiodePair>),
    Triode(&'a mut DkSolver<GridDiodeTriode>),
    Pair(&'a mut DkSolver<TriodePair>),
    PushPull(&'a mut DkSolver<PushPullPentodes>),
    Core(&'a mut DkSolver<TransformerCore>),
    Speaker(&'a mut SpeakerLoad),
}

/// A device whose circuit stages can be fused: names its [`Step`] variant.
pub trait FusedDevice: Nonlinearity + Sized {
    fn step(solver: &mut DkSolver<Self>) -> Step<'_>;
}

macro_rules! fused_device {
    ($device:ty, $variant:ident) => {
        impl FusedDevice for $device {
            fn step(solver: &mut DkSolver<Self>) -> Step<'_> {
                Step::$variant(solver)
            }
        }
    };
}

fused_device!(Linear, Linear);
fused_device!(DiodePair, Diodes);
fused_device!(GridDiodeTriode, Triode);
fused_device!(TriodePair, Pair);
fused_device!(PushPullPentodes, PushPull);
fused_device!(TransformerCore, Core);

impl<'a> Kernel<'a> {
    /// A circuit stage's kernel: its solver and its sample clock.
    pub fn circuit<N: FusedDevice>(solver: &'a mut DkSolver<N>, clock: &'a mut u64) -> Self {
        Kernel {
            step: N::step(solver),
            clock: Some(clock),
        }
    }

    /// The speaker load's kernel (no clock: it has no knobs).
    pub fn speaker(stage: &'a mut SpeakerLoad) -> Self {
        Kernel {
            step: Step::Speaker(stage),
            clock: None,
        }
    }

    /// One sample (V in, V out), exactly as the stage's `process` computes it.
    #[inline(always)]
    fn step(&mut self, x: f32) -> f32 {
        match &mut self.step {
            Step::Linear(s) => circuit_sample(s, x),
            Step::Diodes(s) => circuit_sample(s, x),
            Step::Triode(s) => circuit_sample(s, x),
            Step::Pair(s) => circuit_sample(s, x),
            Step::PushPull(s) => circuit_sample(s, x),
            Step::Core(s) => circuit_sample(s, x),
            Step::Speaker(s) => s.sample(x),
        }
    }

    /// Books `n` processed samples with the stage.
    fn finish(&mut self, n: usize) {
        if let Some(clock) = self.clock.as_mut() {
            **clock += n as u64;
        }
    }
}

/// Runs `stages` over `buf` in order, fusing every run of two or more consecutive stages
/// that offer a kernel; the rest process the block as usual. Bit-identical to calling
/// each stage's `process` in turn. Allocation-free; the caller holds the denormal guard.
pub fn process_stages(stages: &mut [Box<dyn Processor>], buf: &mut [f32]) {
    let mut start = 0;
    while start < stages.len() {
        let mut end = start;
        while end < stages.len() && end - start < MAX_FUSED && stages[end].kernel().is_some() {
            end += 1;
        }
        if end - start < 2 {
            stages[start].process(buf);
            start += 1;
            continue;
        }
        let mut kernels: [Option<Kernel<'_>>; MAX_FUSED] = [const { None }; MAX_FUSED];
        for (slot, stage) in kernels.iter_mut().zip(stages[start..end].iter_mut()) {
            *slot = stage.kernel();
        }
        run(&mut kernels[..end - start], buf);
        start = end;
    }
}

/// The skewed loop over `kernels` (all `Some`), compiled with FMA where the CPU has it
/// (x86_64: detected at run time, cached by std), so that the solvers' `mul_add`s are
/// single instructions; the same bits either way.
fn run(kernels: &mut [Option<Kernel<'_>>], buf: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("fma") {
        // SAFETY: the CPU supports FMA (checked just above).
        unsafe { run_fma(kernels, buf) };
        return;
    }
    run_plain(kernels, buf);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "fma")]
unsafe fn run_fma(kernels: &mut [Option<Kernel<'_>>], buf: &mut [f32]) {
    run_plain(kernels, buf);
}

#[inline(always)]
fn run_plain(kernels: &mut [Option<Kernel<'_>>], buf: &mut [f32]) {
    let (n, s) = (buf.len(), kernels.len());
    if n == 0 {
        return;
    }
    // Iteration j: stage k steps sample j − k when that sample exists.
    for j in 0..n + s - 1 {
        let first = (j + 1).saturating_sub(n);
        let last = j.min(s - 1);
        for (k, kernel) in (first..).zip(&mut kernels[first..=last]) {
            if let (Some(kernel), Some(x)) = (kernel.as_mut(), buf.get_mut(j - k)) {
                *x = kernel.step(*x);
            }
        }
    }
    for kernel in kernels.iter_mut().flatten() {
        kernel.finish(n);
    }
}
