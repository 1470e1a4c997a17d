//! The Nox30 stages' DC operating points checked against their own circuit equations
//! (written out by hand here, independent of the nodal solver), plus the small-signal
//! properties each stage exists for.

mod common;

use common::{prepared, render};
use greybound_core::circuit::{KorenTriode, ShockleyDiode, THERMAL_VOLTAGE_27C};
use greybound_core::stages::{
    build_stage, taper_fraction, CathodeFollower, OutputTransformer, ParamValue, PhaseInverter,
    PowerAmp, PowerAmpDesign,
};
use greybound_core::{Processor, Spec};

const FS: f64 = 48_000.0;
const SPEC: Spec = Spec {
    sample_rate: FS,
    max_block: 4096,
};
/// Newton stops at a residual of 1e-9·(1 + max|v|) on the port equations; with port
/// voltages up to ~400 V that is ≤ 4e-7 V. 1e-6 V leaves margin.
const VOLT_TOL: f64 = 1e-6;

fn params(kind: &str) -> greybound_core::stages::Params {
    build_stage(kind, &[]).unwrap().1
}

/// Sine of `f` Hz, `peak` V, `n` samples.
fn sine(f: f64, peak: f64, n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| (peak * (2.0 * std::f64::consts::PI * f * i as f64 / FS).sin()) as f32)
        .collect()
}

/// Peak of the last `n` samples.
fn tail_peak(y: &[f32], n: usize) -> f64 {
    y[y.len() - n..]
        .iter()
        .fold(0.0f64, |m, v| m.max(v.abs() as f64))
}

#[test]
fn cathode_follower_sits_where_koren_and_kirchhoff_say() {
    let mut s = CathodeFollower::from_params(&params("cathode_follower")).unwrap();
    s.prepare(&SPEC).unwrap();
    let (v, i) = s.rest_ports().unwrap();
    let (vd, vgk, vpk, ig, ip) = (v[0], v[1], v[2], i[0], i[2]);
    let (b_plus, bias, rk, r_src) = (330.0, 180.0, 100e3, 40e3 + 1e3);
    assert!((ip - KorenTriode::TWELVE_AX7.plate_current(vgk, vpk).0).abs() < 1e-12);
    let diode = ShockleyDiode::new(1e-9, 1.0, THERMAL_VOLTAGE_27C)
        .current(vd)
        .0;
    assert!((ig - diode).abs() < 1e-18);
    // True-ground voltages: cathode carries Ip + Ig through Rk; the plate is on B+.
    let vk = (ip + ig) * rk;
    let vg = bias - ig * r_src;
    assert!(
        (vpk - (b_plus - vk)).abs() < VOLT_TOL,
        "Vpk {vpk} vs {}",
        b_plus - vk
    );
    assert!(
        (vgk - (vg - vk)).abs() < VOLT_TOL,
        "Vgk {vgk} vs {}",
        vg - vk
    );
    // A follower biases itself ~1-2 V below its grid, at Ip ≈ Vg/Rk ≈ 1.8 mA.
    assert!((-2.5..-0.5).contains(&vgk) && (1.5e-3..2.0e-3).contains(&ip));
    assert!(s.rest_output().unwrap().abs() < 1e-9);
    // Gain μ·R/(rp + (μ+1)·R) ≈ 0.97-0.99 for a small 1 kHz signal (R = Rk ∥ load).
    let mut st = prepared("cathode_follower", &[], FS, 4096);
    let y = render(st.as_mut(), &sine(1000.0, 0.1, 48_000), 4096);
    let gain = tail_peak(&y, 4800) / 0.1;
    assert!((0.95..1.0).contains(&gain), "follower gain {gain}");
}

#[test]
fn volume_is_its_divider_and_the_log_taper_is_ten_percent_at_half() {
    assert!((taper_fraction(0.5, "log") - 0.1).abs() < 1e-12);
    assert_eq!(taper_fraction(0.0, "log"), 0.0);
    assert!((taper_fraction(1.0, "log") - 1.0).abs() < 1e-12);
    for (pos, taper) in [(0.5, "log"), (0.3, "linear"), (1.0, "linear")] {
        let given = [
            ("position", ParamValue::Number(pos)),
            ("taper", ParamValue::Text(taper.into())),
        ];
        let mut s = prepared("volume", &given, FS, 64);
        let y = render(s.as_mut(), &[1.0f32; 64], 64);
        let (r, rl) = (1e6, 1e6);
        let a = taper_fraction(pos, taper);
        let lower = ((a * r).max(1.0) * rl) / ((a * r).max(1.0) + rl);
        let expect = lower / (lower + ((1.0 - a) * r).max(1.0));
        assert!(
            ((y[63] as f64) - expect).abs() < 1e-6,
            "{taper} {pos}: {} vs {expect}",
            y[63]
        );
    }
}

#[test]
fn cut_passes_dc_by_its_divider_and_shelves_treble_as_its_rc() {
    let (rs, rl, c) = (40e3, 220e3, 94e-9);
    let mut s = prepared("cut", &[("cut", ParamValue::Number(1.0))], FS, 4096);
    let dc = render(s.as_mut(), &vec![1.0f32; 48_000], 4096);
    let expect_dc = rl / (rs + rl);
    assert!(((*dc.last().unwrap() as f64) - expect_dc).abs() < 1e-5);
    // Full cut: 5 kΩ in series with C. At 5 kHz |Z_C| = 339 Ω: the shunt is ~5.0 kΩ, so the
    // gain is ≈ (5k ∥ 220k)/(40k + 5k ∥ 220k) = 0.109 (−19 dB); at no cut, 505 kΩ: ≈ 0.78.
    let hi = |cut: f64| {
        let mut s = prepared("cut", &[("cut", ParamValue::Number(cut))], FS, 4096);
        tail_peak(&render(s.as_mut(), &sine(5000.0, 1.0, 24_000), 4096), 2400)
    };
    let z = |r: f64| {
        let zc = 1.0 / (2.0 * std::f64::consts::PI * 5000.0 * c);
        // |(r + 1/jωC) ∥ rl| / |rs + (r + 1/jωC) ∥ rl| with complex arithmetic.
        let (a, b) = (r, -zc);
        let (pr, pi) = {
            // (a + jb)·rl/((a + rl) + jb)
            let (nr, ni) = (a * rl, b * rl);
            let (dr, di) = (a + rl, b);
            let d = dr * dr + di * di;
            ((nr * dr + ni * di) / d, (ni * dr - nr * di) / d)
        };
        (pr * pr + pi * pi).sqrt() / ((pr + rs).powi(2) + pi * pi).sqrt()
    };
    for (cut, r) in [(1.0, 5e3), (0.0, 505e3)] {
        let (got, want) = (hi(cut), z(r));
        // Bilinear warping at 5 kHz / 48 kHz moves a first-order section by < 0.3 dB.
        assert!(
            (20.0 * (got / want).log10()).abs() < 0.3,
            "cut {cut}: {got} vs {want}"
        );
    }
}

#[test]
fn phase_inverter_pair_shares_its_tail_as_kirchhoff_says() {
    let mut s = PhaseInverter::from_params(&params("phase_inverter")).unwrap();
    s.prepare(&SPEC).unwrap();
    let (v, i) = s.rest_ports().unwrap();
    let (ip1, ip2) = (i[1], i[3]);
    let koren = KorenTriode::TWELVE_AX7;
    assert!((ip1 - koren.plate_current(v[0], v[1]).0).abs() < 1e-12);
    assert!((ip2 - koren.plate_current(v[2], v[3]).0).abs() < 1e-12);
    let (b_plus, ra1, ra2, rb, rt) = (300.0, 82e3, 100e3, 820.0, 47e3);
    let it = ip1 + ip2;
    let vt = it * rt; // both grids sit at the tail node (no grid current)
    let vk = vt + it * rb;
    assert!((v[0] - (vt - vk)).abs() < VOLT_TOL && (v[2] - (vt - vk)).abs() < VOLT_TOL);
    assert!((v[1] - (b_plus - ip1 * ra1 - vk)).abs() < VOLT_TOL);
    assert!((v[3] - (b_plus - ip2 * ra2 - vk)).abs() < VOLT_TOL);
    assert!((0.3e-3..1.5e-3).contains(&ip1), "Ip1 {ip1}");
    // A small signal gives a differential gain of roughly μ·Ra/(2·(rp + Ra)) ≈ 25-35.
    let mut st = prepared("phase_inverter", &[], FS, 4096);
    let y = render(st.as_mut(), &sine(1000.0, 0.01, 48_000), 4096);
    let gain = tail_peak(&y, 4800) / 0.01;
    assert!((15.0..50.0).contains(&gain), "differential gain {gain}");
}

#[test]
fn power_amp_idles_on_its_load_line_and_sags_under_drive() {
    let p = params("power_amp");
    let mut s = PowerAmp::from_params(&p).unwrap();
    s.prepare(&SPEC).unwrap();
    let (v, i) = s.rest_ports().unwrap();
    let bp = v[1];
    let tube = PowerAmpDesign::device_of(&p).tube;
    // At rest both tubes idle alike: no secondary voltage, plates at B+.
    let idle = tube.currents(-13.0, bp, bp);
    assert!(v[2].abs() < VOLT_TOL && i[2].abs() < 1e-12);
    let total = 2.0 * 2.0 * (idle.ip + idle.is);
    assert!(
        (i[1] - total).abs() < 1e-9,
        "B+ current {} vs {total}",
        i[1]
    );
    assert!((bp - (360.0 - 250.0 * total)).abs() < VOLT_TOL, "B+ {bp}");
    assert!(
        (0.02..0.04).contains(&idle.ip),
        "idle {} A per tube",
        idle.ip
    );
    // Data-sheet point of the fit: 48 mA plate, 5.5 mA screen at 250 V, −7.3 V (±2 %).
    let ds = tube.currents(-7.3, 250.0, 250.0);
    assert!((ds.ip / 0.048 - 1.0).abs() < 0.02 && (ds.is / 0.0055 - 1.0).abs() < 0.02);
    // Drive hard: B+ sags below idle; the output swings tens of volts into 8 Ω.
    let mut st = prepared("power_amp", &[], FS, 4096);
    let y = render(st.as_mut(), &sine(200.0, 40.0, 24_000), 4096);
    let out = tail_peak(&y, 4800);
    assert!((10.0..40.0).contains(&out), "speaker peak {out} V");
}

#[test]
fn output_transformer_is_flat_midband_and_a_high_pass_at_its_corner() {
    let p = params("output_transformer");
    let mut s = OutputTransformer::from_params(&p).unwrap();
    s.prepare(&SPEC).unwrap();
    assert!(s.rest_output().unwrap().abs() < 1e-12);
    let f_hp = s.high_pass_hz(); // 3500/(2π·15) = 37.1 Hz
    assert!((f_hp - 37.136).abs() < 0.01);
    let gain = |f: f64, peak: f64| {
        let mut st = prepared("output_transformer", &[], FS, 4096);
        tail_peak(&render(st.as_mut(), &sine(f, peak, 96_000), 4096), 9600) / peak
    };
    // Midband: 1 kHz within 0.05 dB of unity (the HP at 37 Hz costs 0.006 dB there).
    let mid = 20.0 * gain(1000.0, 0.1).log10();
    assert!(mid.abs() < 0.05, "midband {mid} dB");
    // At the corner, small signal: −3.01 dB ± 0.1 dB (bilinear warping at 37 Hz is nil).
    let at_corner = 20.0 * gain(f_hp, 0.1).log10();
    assert!(
        (at_corner + 3.01).abs() < 0.1,
        "{at_corner} dB at {f_hp} Hz"
    );
    // Saturation: at 30 Hz, a 20 V-peak secondary (≈ 420 V primary, full power) loses more
    // bass than a small signal does, because the magnetizing inductance falls with flux.
    // A linear inductor would give both the same gain to float32 rounding (~1e-7); measured
    // 0.628 vs 0.610.
    let small = gain(30.0, 0.1);
    let large = gain(30.0, 20.0);
    assert!(
        small - large > 0.01,
        "30 Hz gain small {small}, large {large}"
    );
}
