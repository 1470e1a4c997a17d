//! Per-stage telemetry ([`Probe`]): probing never changes a stage's output, counts what it
//! says it counts, reports the power stage's B+ sag, and allocates nothing.

mod common;

use assert_no_alloc::{assert_no_alloc, AllocDisabler};
use common::{pluck, prepared, render, KINDS};
use greybound_core::dsp::Oversampled;
use greybound_core::stages::{build_stage, ParamValue};
use greybound_core::{Probe, Processor, Spec};

#[global_allocator]
static ALLOCATOR: AllocDisabler = AllocDisabler;

const FS: f64 = 48_000.0;

fn sine(n: usize, f: f64, peak: f64) -> Vec<f32> {
    (0..n)
        .map(|i| (peak * (2.0 * std::f64::consts::PI * f * i as f64 / FS).sin()) as f32)
        .collect()
}

#[test]
fn probing_leaves_every_stage_output_bit_identical() {
    let x = pluck(4800, FS, 2.0);
    for kind in KINDS {
        let mut plain = prepared(kind, &[], FS, 64);
        let mut probed = prepared(kind, &[], FS, 64);
        probed.set_probing(true);
        let a = render(plain.as_mut(), &x, 64);
        let b = render(probed.as_mut(), &x, 64);
        assert!(
            a.iter().zip(&b).all(|(p, q)| p.to_bits() == q.to_bits()),
            "{kind}: probed output differs"
        );
    }
}

#[test]
fn probe_is_none_until_switched_on_and_counts_samples_once() {
    let mut stage = prepared("triode_common_cathode", &[], FS, 256);
    assert_eq!(stage.take_probe(), None);
    stage.set_probing(true);
    render(stage.as_mut(), &pluck(1000, FS, 0.5), 256);
    let p = stage.take_probe().expect("probing");
    assert_eq!(p.samples, 1000);
    assert_eq!(
        stage.take_probe().expect("probing").samples,
        0,
        "take clears"
    );
    stage.set_probing(false);
    assert_eq!(stage.take_probe(), None);
}

#[test]
fn sanitized_and_clamped_inputs_are_counted() {
    let mut stage = prepared("diode_clipper", &[], FS, 64);
    stage.set_probing(true);
    let mut x = vec![0.1f32; 16];
    x[3] = f32::NAN;
    x[5] = f32::INFINITY;
    x[7] = -2000.0;
    stage.process(&mut x);
    let p = stage.take_probe().expect("probing");
    assert_eq!((p.nan_sanitized, p.input_clamped), (1, 2));
    assert!(x.iter().all(|v| v.is_finite()));
}

#[test]
fn power_amp_reports_b_plus_sag_under_a_loud_note() {
    let mut stage = prepared("power_amp", &[], FS, 512);
    stage.set_probing(true);
    render(stage.as_mut(), &vec![0.0; 512], 512);
    let rest = stage.take_probe().expect("probing");
    // At rest B+ sits still: min = max to the solver's precision. The solution table's
    // interpolation at the DC point differs from the exact solution by ~1e-8 relative, so
    // the state settles by a few µV of 325 V (measured 2.9e-6 V); 1e-4 V is still five
    // orders under the sag below.
    assert!(
        (rest.supply_max_v - rest.supply_min_v).abs() < 1e-4,
        "{rest:?}"
    );
    // 40 V of differential grid drive takes both sides from cut-off to grid 0 V: class-AB
    // current rises and B+ sags through r_supply (250 Ω) by several volts.
    render(stage.as_mut(), &sine(24_000, 220.0, 40.0), 512);
    let loud = stage.take_probe().expect("probing");
    assert!(
        loud.supply_min_v < rest.supply_min_v - 1.0,
        "B+ did not sag: rest {rest:?}, loud {loud:?}"
    );
    assert_eq!(rest.rail_excursions, 0);
}

#[test]
fn an_overdriven_triode_stays_inside_its_rails() {
    // The plate-to-cathode voltage of a resistively loaded triode lies in [0, B+] by KVL
    // (Vpk = B+ − Ra·Ia − Vk with Ia ≥ 0, Vk ≥ 0): the check must never fire here.
    let mut stage = prepared("triode_common_cathode", &[], FS, 512);
    stage.set_probing(true);
    render(stage.as_mut(), &sine(9600, 440.0, 20.0), 512);
    let p = stage.take_probe().expect("probing");
    assert_eq!(p.rail_excursions, 0, "{p:?}");
    assert!(
        p.supply_min_v.is_nan(),
        "an ideal supply has no node to report"
    );
}

#[test]
fn oversampled_stages_forward_the_inner_probe() {
    let (inner, _) = build_stage("power_amp", &[]).expect("builds");
    let mut stage = Oversampled::new(inner, 2).expect("factor");
    stage
        .prepare(&Spec {
            sample_rate: FS,
            max_block: 64,
        })
        .expect("prepares");
    stage.set_probing(true);
    render(&mut stage, &vec![0.0; 128], 64);
    let p: Probe = stage.take_probe().expect("probing");
    assert_eq!(p.samples, 256, "inner samples at 2x");
    assert!(p.supply_min_v > 0.0);
}

#[test]
fn probing_allocates_nothing() {
    let given = [("b_plus".to_string(), ParamValue::Number(300.0))];
    let (mut stage, _) = build_stage("power_amp", &[]).expect("builds");
    let (mut triode, _) = build_stage("triode_common_cathode", &given).expect("builds");
    for s in [&mut stage, &mut triode] {
        s.prepare(&Spec {
            sample_rate: FS,
            max_block: 64,
        })
        .expect("prepares");
    }
    let mut x = sine(64, 220.0, 30.0);
    let violations = assert_no_alloc::violation_count();
    assert_no_alloc(|| {
        for s in [&mut stage, &mut triode] {
            s.set_probing(true);
            s.process(&mut x);
            let _ = s.take_probe();
        }
    });
    // With the `warn_debug` feature a violation is counted, not aborted: check it.
    assert_eq!(
        assert_no_alloc::violation_count(),
        violations,
        "heap allocation in process/reset"
    );
}
