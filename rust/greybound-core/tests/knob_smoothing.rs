//! Live knobs on the linear knob stages (`tone_stack`, `volume`, `cut`): `set_param` while
//! running is smoothed, allocation-free, block-size invariant, click-free, and lands on the
//! circuit a stage built with the final value has.

mod common;

use assert_no_alloc::{assert_no_alloc, AllocDisabler};
use common::{prepared, render};
use greybound_core::stages::{build_stage, live_params, stage_specs, ParamValue, RETUNE_INTERVAL};
use greybound_core::Processor;

#[global_allocator]
static ALLOCATOR: AllocDisabler = AllocDisabler;

const FS: f64 = 48_000.0;

/// The knob stages with options that give them memory and a source impedance.
fn cases() -> Vec<(&'static str, Vec<(&'static str, ParamValue)>)> {
    let text = |s: &str| ParamValue::Text(s.into());
    vec![
        ("tone_stack", vec![]),
        (
            "tone_stack",
            vec![
                ("voicing", text("vox")),
                ("source_impedance", ParamValue::Number(600.0)),
                ("load_impedance", ParamValue::Number(1e6)),
            ],
        ),
        (
            "volume",
            vec![
                ("c_bright", ParamValue::Number(100e-12)),
                ("source_impedance", ParamValue::Number(60e3)),
            ],
        ),
        ("cut", vec![]),
    ]
}

fn id(kind: &str, name: &str) -> u32 {
    stage_specs()
        .iter()
        .find(|s| s.kind == kind)
        .and_then(|s| s.param_id(name))
        .unwrap_or_else(|| panic!("{kind} has no parameter {name}"))
}

/// The stage's first live knob (treble, position, cut).
fn first_knob(kind: &str) -> u32 {
    id(
        kind,
        ["treble", "position", "cut"][["tone_stack", "volume", "cut"]
            .iter()
            .position(|k| *k == kind)
            .unwrap()],
    )
}

fn sine(n: usize, hz: f64, peak: f64) -> Vec<f32> {
    (0..n)
        .map(|i| (peak * (2.0 * std::f64::consts::PI * hz * i as f64 / FS).sin()) as f32)
        .collect()
}

/// Renders `x` in blocks of `block`, also splitting at every event sample, and applies
/// each `(sample, id, value)` event just before that sample.
fn render_with_events(
    stage: &mut dyn Processor,
    x: &[f32],
    block: usize,
    events: &[(usize, u32, f32)],
) -> Vec<f32> {
    let mut y = x.to_vec();
    let mut pos = 0;
    while pos < y.len() {
        for &(_, id, v) in events.iter().filter(|e| e.0 == pos) {
            stage.set_param(id, v);
        }
        let next_event = events.iter().map(|e| e.0).filter(|&at| at > pos).min();
        let end = (pos + block)
            .min(next_event.unwrap_or(usize::MAX))
            .min(y.len());
        stage.process(&mut y[pos..end]);
        pos = end;
    }
    y
}

fn max_step(y: &[f32]) -> f64 {
    y.windows(2)
        .map(|w| (f64::from(w[1]) - f64::from(w[0])).abs())
        .fold(0.0, f64::max)
}

#[test]
fn every_live_parameter_has_an_id_and_moves_the_output() {
    for (kind, params) in cases() {
        let given: Vec<(String, ParamValue)> = params
            .iter()
            .map(|(n, v)| (n.to_string(), v.clone()))
            .collect();
        let (_, resolved) = build_stage(kind, &given).unwrap();
        for name in live_params(&resolved) {
            if *name == "smoothing_ms" {
                continue;
            }
            let x = sine(9600, 3000.0, 1.0);
            let mut outs = Vec::new();
            for v in [0.0, 1.0] {
                let mut s = prepared(kind, &params, FS, 512);
                s.set_param(id(kind, name), v);
                outs.push(render(s.as_mut(), &x, 512));
            }
            assert_ne!(outs[0], outs[1], "{kind}.{name}: set_param had no effect");
        }
    }
}

#[test]
fn setting_a_knob_to_its_value_changes_no_bit() {
    let x = common::pluck(24_000, FS, 1.0);
    for (kind, params) in cases() {
        let plain = render(prepared(kind, &params, FS, 256).as_mut(), &x, 256);
        let mut s = prepared(kind, &params, FS, 256);
        // Defaults: treble 0.5, position 0.5, cut 0.5.
        let y = render_with_events(s.as_mut(), &x, 256, &[(1000, first_knob(kind), 0.5)]);
        assert_eq!(y, plain, "{kind}");
    }
}

#[test]
fn process_does_not_allocate_while_knobs_sweep() {
    for (kind, params) in cases() {
        let mut s = prepared(kind, &params, FS, 64);
        let knob = first_knob(kind);
        let smoothing = id(kind, "smoothing_ms");
        let mut buf = sine(64, 1000.0, 1.0);
        #[cfg(debug_assertions)]
        let before = assert_no_alloc::violation_count();
        assert_no_alloc(|| {
            s.set_param(smoothing, 5.0);
            // 200 blocks of 64 with a new target every block: a sweep 0 → 1 → 0.
            for b in 0..200 {
                s.set_param(knob, 1.0 - (b as f32 / 100.0 - 1.0).abs());
                s.process(&mut buf);
            }
            s.set_param(knob, 0.0);
            s.reset();
            s.process(&mut buf);
        });
        // The crate's `warn_debug` feature counts violations instead of aborting.
        #[cfg(debug_assertions)]
        assert_eq!(
            assert_no_alloc::violation_count(),
            before,
            "{kind}: allocated while a knob moved"
        );
    }
}

#[test]
fn knob_changes_at_the_same_samples_give_the_same_output_for_any_block_size() {
    let x = common::pluck(20_000, FS, 2.0);
    for (kind, params) in cases() {
        let knob = first_knob(kind);
        let events = [
            (0, knob, 0.1),
            (3001, knob, 0.9),
            (3500, knob, 0.0),
            (3501, id(kind, "smoothing_ms"), 3.0),
            (9000, knob, 1.0),
            (15_017, knob, 0.25),
        ];
        let reference = render_with_events(
            prepared(kind, &params, FS, 4096).as_mut(),
            &x,
            4096,
            &events,
        );
        for block in [1, 7, 32, 100, 1024] {
            let mut s = prepared(kind, &params, FS, 4096);
            let y = render_with_events(s.as_mut(), &x, block, &events);
            assert_eq!(y, reference, "{kind}: block {block}");
        }
    }
}

/// A treble jump 0 → 1 on a steady 3 kHz sine through the Fender stack (ideal source).
/// Returns (largest output step during the transition, largest step of the steady output
/// at treble 0 and at treble 1).
fn treble_jump(smoothing_ms: f32) -> (f64, f64) {
    let treble = id("tone_stack", "treble");
    let x = sine(48_000, 3000.0, 1.0);
    let at = 24_000;
    let mut s = prepared("tone_stack", &[], FS, 512);
    s.set_param(treble, 0.0);
    s.set_param(id("tone_stack", "smoothing_ms"), smoothing_ms);
    let y = render_with_events(s.as_mut(), &x, 512, &[(at, treble, 1.0)]);
    let steady = [0.0, 1.0].map(|t| {
        let mut s = prepared("tone_stack", &[("treble", ParamValue::Number(t))], FS, 512);
        max_step(&render(s.as_mut(), &x, 512)[12_000..])
    });
    (max_step(&y[at - 1..at + 4800]), steady[0].max(steady[1]))
}

#[test]
fn a_smoothed_treble_jump_does_not_click() {
    // During a smoothed change the output's amplitude moves between its two steady values,
    // so a sine's sample-to-sample step stays below the larger steady step; each retune
    // adds at most 1/30 of the instantaneous jump an unsmoothed change makes (measured:
    // the transition's largest step equals the steady one; unsmoothed it is 1.62×).
    // 1.1× is the bound.
    let (step, steady) = treble_jump(20.0);
    println!("smoothed: max step {step:.5} V, steady {steady:.5} V");
    assert!(
        step <= 1.1 * steady,
        "smoothed: max step {step:.4} V vs steady {steady:.4} V"
    );
    // The check can fail: the same jump unsmoothed is a click.
    let (step, steady) = treble_jump(0.0);
    println!("unsmoothed: max step {step:.5} V, steady {steady:.5} V");
    assert!(
        step > 1.5 * steady,
        "unsmoothed: max step {step:.4} V vs steady {steady:.4} V"
    );
}

#[test]
fn after_the_ramp_the_stage_converges_to_one_built_with_the_final_value() {
    let x = common::pluck(96_000, FS, 1.0);
    for (kind, params) in cases() {
        let knob = first_knob(kind);
        let mut s = prepared(kind, &params, FS, 256);
        s.set_param(knob, 0.0);
        // 0.75, not 1: at a pot's end stop (1 Ω) a bright cap's mode is so fast that the
        // trapezoidal rule maps it next to z = −1, a tail longer than the test.
        let y = render_with_events(s.as_mut(), &x, 256, &[(4800, knob, 0.75)]);
        let name = ["treble", "position", "cut"][["tone_stack", "volume", "cut"]
            .iter()
            .position(|k| *k == kind)
            .unwrap()];
        let mut final_params = params.clone();
        final_params.push((name, ParamValue::Number(0.75)));
        let mut f = prepared(kind, &final_params, FS, 256);
        let tail = f.tail_samples();
        let want = render(f.as_mut(), &x, 256);
        // After the 20 ms ramp (960 samples, then the last retune ≤ 32 samples later) both
        // run the same matrices; what differs is the state the ramp left, which decays
        // like the slowest mode: by 80 dB over `tail` samples. Then they agree to 1e-4 of
        // the peak (the tail's definition) plus float32 rounding (2⁻²⁴ of the peak).
        let start = 4800 + 960 + RETUNE_INTERVAL as usize + tail;
        assert!(start < x.len(), "{kind}: tail {tail} too long for the test");
        let peak = want.iter().fold(0.0f32, |m, v| m.max(v.abs())) as f64;
        let worst = y[start..]
            .iter()
            .zip(&want[start..])
            .map(|(a, b)| (f64::from(*a) - f64::from(*b)).abs())
            .fold(0.0, f64::max);
        println!("{kind}: |diff| {worst:.3e} V after {tail} samples, peak {peak:.3} V");
        assert!(
            worst <= peak * (1e-4 + 6e-8),
            "{kind}: |diff| {worst:.3e} V after the tail ({tail} samples), peak {peak:.3} V"
        );
    }
}
