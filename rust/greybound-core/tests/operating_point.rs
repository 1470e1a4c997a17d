//! Each stage's DC operating point checked against its own circuit equations (KCL/KVL
//! written out by hand here, independent of the nodal solver's matrices).

mod common;

use common::{prepared, render};
use greybound_core::circuit::{KorenTriode, ShockleyDiode, THERMAL_VOLTAGE_27C};
use greybound_core::stages::{build_stage, TriodeCommonCathode};
use greybound_core::{Processor, Spec};

#[test]
fn triode_operating_point_satisfies_its_circuit_equations() {
    let (_, params) = build_stage("triode_common_cathode", &[]).unwrap();
    let mut stage = TriodeCommonCathode::from_params(&params).unwrap();
    stage
        .prepare(&Spec {
            sample_rate: 48_000.0,
            max_block: 64,
        })
        .unwrap();
    let (v, i) = stage.rest_ports().unwrap();
    let (vd, vgk, vpk) = (v[0], v[1], v[2]);
    let (ig, ip) = (i[0], i[2]);
    let (b_plus, ra, rk, rs, rgl, rstop, rgi) = (250.0, 100e3, 1.5e3, 1e3, 1e6, 68e3, 2000.0 + 1.0);

    // Device laws at the solution.
    let koren = KorenTriode::TWELVE_AX7.plate_current(vgk, vpk).0;
    let diode = ShockleyDiode::new(1e-9, 1.0, THERMAL_VOLTAGE_27C)
        .current(vd)
        .0;
    assert!((ip - koren).abs() <= 1e-12, "Ip {ip} vs Koren {koren}");
    assert!((ig - diode).abs() <= 1e-18, "Ig {ig} vs diode {diode}");

    // KVL/KCL: cathode carries Ip + Ig through Rk; plate drops Ip·Ra from B+; the grid current
    // is drawn through the stopper from the input node (Rs ∥ grid leak to 0 V) and flows on
    // through RGI+RS into the diode.
    let vk = (ip + ig) * rk;
    let vp = b_plus - ip * ra;
    let v_in = -ig * (rs * rgl / (rs + rgl));
    let vg = v_in - ig * rstop;
    let tol = 1e-6; // V: Newton stops at 1e-9·(1 + 250 V) on the port equations
    assert!((vpk - (vp - vk)).abs() < tol, "Vpk {vpk} vs {}", vp - vk);
    assert!((vgk - (vg - vk)).abs() < tol, "Vgk {vgk} vs {}", vg - vk);
    assert!(
        (vgk - vd - ig * rgi).abs() < tol,
        "grid branch: {vgk} vs {}",
        vd + ig * rgi
    );

    // The textbook 12AX7 bias with these values: about −1.2 V, 0.8 mA, ~170 V on the plate.
    assert!(
        (-1.4..-1.0).contains(&vgk) && (0.6e-3..1.0e-3).contains(&ip),
        "bias {vgk} V, {ip} A"
    );
    // At rest the output (behind the coupling cap) sits at 0 V.
    assert!(stage.rest_output().unwrap().abs() < 1e-9);
}

#[test]
fn diode_clipper_settles_where_its_currents_balance() {
    // A constant 1 V input: after the RC settles, (Vin − V)/R = 2·IS·sinh(V/(N·Vt)) + V/RL.
    let fs = 48_000.0;
    let mut stage = prepared("diode_clipper", &[], fs, 4096);
    let y = render(stage.as_mut(), &vec![1.0f32; 4800], 4096);
    let v = *y.last().unwrap() as f64;
    let n_vt = 1.752 * THERMAL_VOLTAGE_27C;
    let kcl = (1.0 - v) / 2.2e3 - 2.0 * 2.52e-9 * (v / n_vt).sinh() - v / 1e6;
    // f32 output resolution on ~0.5 V (3e-8 V) times the diode slope plus 1/R: ≲ 1e-8 A.
    assert!(kcl.abs() < 1e-7, "KCL residual {kcl} A at V = {v}");
    assert!((0.4..0.7).contains(&v), "forward voltage {v}");
}

#[test]
fn tone_stack_blocks_dc() {
    // Every path from input to output in the TMB stack passes a capacitor: DC gain is 0.
    let fs = 48_000.0;
    let mut stage = prepared("tone_stack", &[], fs, 4096);
    let tail = stage.tail_samples();
    let y = render(stage.as_mut(), &vec![1.0f32; 4 * tail], 4096);
    assert!(
        y.last().unwrap().abs() < 1e-3,
        "DC leak {}",
        y.last().unwrap()
    );
}
