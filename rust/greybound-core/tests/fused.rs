//! The fused chain loop (`greybound_core::fused`) against the stages run one after another:
//! the same bits for every block size, across knob moves (each stage's retune clock must
//! advance in the fused loop as in `process`), with a stage probing (no kernel: the run is
//! split around it) and with a stage that has no kernel at all (an oversampled one).

mod common;

use common::{pluck, prepared};
use greybound_core::dsp::Oversampled;
use greybound_core::rig::Rig;
use greybound_core::stages::ParamValue;
use greybound_core::{Chain, Processor, Spec};

const FS: f64 = 48_000.0;
const MAX_BLOCK: usize = 512;

/// An amp in the Nox30's order (every kind that offers a kernel), as separate stages.
fn stages() -> Vec<Box<dyn Processor>> {
    let n = |v: f64| ParamValue::Number(v);
    vec![
        prepared(
            "triode_common_cathode",
            &[("c_cathode", n(22e-6))],
            FS,
            MAX_BLOCK,
        ),
        prepared("volume", &[("c_bright", n(100e-12))], FS, MAX_BLOCK),
        prepared("diode_clipper", &[], FS, MAX_BLOCK),
        prepared("cathode_follower", &[], FS, MAX_BLOCK),
        prepared("tone_stack", &[], FS, MAX_BLOCK),
        prepared("phase_inverter", &[], FS, MAX_BLOCK),
        prepared("cut", &[], FS, MAX_BLOCK),
        prepared("power_amp", &[], FS, MAX_BLOCK),
        prepared("output_transformer", &[], FS, MAX_BLOCK),
        prepared("speaker_load", &[], FS, MAX_BLOCK),
    ]
}

/// Index of the volume stage in [`stages`] and its position parameter id.
const VOLUME: usize = 1;
const POSITION_ID: u32 = 0;

/// Renders `x` in blocks of `block` through `stages` one by one (each stage's own
/// `process`), with the volume knob moved at sample `at`.
fn one_by_one(stages: &mut [Box<dyn Processor>], x: &[f32], block: usize, at: usize) -> Vec<f32> {
    let mut y = x.to_vec();
    for (k, b) in y.chunks_mut(block).enumerate() {
        if k * block <= at && at < (k + 1) * block {
            stages[VOLUME].set_param(POSITION_ID, 0.9);
        }
        for s in stages.iter_mut() {
            s.process(b);
        }
    }
    y
}

fn fused(chain: &mut dyn Processor, x: &[f32], block: usize, at: usize) -> Vec<f32> {
    let mut y = x.to_vec();
    for (k, b) in y.chunks_mut(block).enumerate() {
        if k * block <= at && at < (k + 1) * block {
            chain.set_param(Rig::param_address(VOLUME, POSITION_ID), 0.9);
        }
        chain.process(b);
    }
    y
}

fn rig(stages: Vec<Box<dyn Processor>>) -> Rig {
    let mut rig = Rig::new(stages, 0.0, None).expect("rig");
    rig.prepare(&Spec {
        sample_rate: FS,
        max_block: MAX_BLOCK,
    })
    .expect("prepare");
    rig
}

#[test]
fn fused_runs_are_bit_identical_to_the_stages_one_by_one() {
    let x = pluck(9_000, FS, 0.5);
    for block in [1, 7, 64, 512] {
        // The knob moves mid-block and ramps over 20 ms (960 samples: several retunes).
        let at = 3_000 + block / 2;
        let want = one_by_one(&mut stages(), &x, block, at);
        let got = fused(&mut rig(stages()), &x, block, at);
        assert!(
            want.iter().any(|v| v.abs() > 1e-3),
            "the chain passes signal"
        );
        assert_eq!(got, want, "block {block}");
    }
}

#[test]
fn a_chain_fuses_as_the_rig_does() {
    let x = pluck(4_000, FS, 0.5);
    let mut chain = Chain::new();
    stages().into_iter().for_each(|s| chain.push(s));
    let want = one_by_one(&mut stages(), &x, 64, usize::MAX);
    let mut y = x.clone();
    y.chunks_mut(64).for_each(|b| chain.process(b));
    assert_eq!(y, want);
}

#[test]
fn a_probing_stage_or_one_without_a_kernel_splits_the_run_and_changes_nothing() {
    let x = pluck(6_000, FS, 0.5);
    let want = one_by_one(&mut stages(), &x, 64, 2_000);
    // Probing: the follower steps out of the fused run.
    let mut probed = stages();
    probed[3].set_probing(true);
    let got = fused(&mut rig(probed), &x, 64, 2_000);
    assert_eq!(got, want, "probing");
    // No kernel: the oversampler offers none; the tone stack runs at 2x inside it.
    let with_oversampled_tone = || -> Vec<Box<dyn Processor>> {
        let wrap = |s: Box<dyn Processor>| -> Box<dyn Processor> {
            Box::new(Oversampled::new(s, 2).expect("oversampled"))
        };
        let mut v = stages();
        let tone = v.remove(4);
        v.insert(4, wrap(tone));
        v
    };
    let mut reference = with_oversampled_tone();
    for s in reference.iter_mut() {
        s.prepare(&Spec {
            sample_rate: FS,
            max_block: MAX_BLOCK,
        })
        .expect("prepare");
    }
    let want = one_by_one(&mut reference, &x, 64, 2_000);
    let got = fused(&mut rig(with_oversampled_tone()), &x, 64, 2_000);
    assert_eq!(got, want, "oversampled stage inside the chain");
}
