//! `.nam` loader and renderer: every file of the shared corpus loads and renders finite
//! output; prewarm/reset are deterministic; block sizes do not change a bit; nothing
//! allocates in `process`/`reset`; hand-made models match closed-form computations; every
//! malformed model is refused with an error naming the file and the key.
//!
//! The corpus is read from `GREYBOUND_NAM_CORPUS`, else `<repo>/../shared/nam-corpus`;
//! tests that need it fail (never skip) when it is absent.

use std::path::{Path, PathBuf};

use assert_no_alloc::{assert_no_alloc, AllocDisabler};
use greybound_core::nam::{fast_tanh, tanh, NamErrorKind, NamModel, NamOptions};
use greybound_core::Processor;
use serde_json::{json, Value};

#[global_allocator]
static ALLOCATOR: AllocDisabler = AllocDisabler;

const FS: f64 = 48_000.0;

fn corpus() -> PathBuf {
    let dir = std::env::var_os("GREYBOUND_NAM_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/nam-corpus")
        });
    assert!(
        dir.join("README.md").is_file(),
        "NAM corpus not found at {} — set GREYBOUND_NAM_CORPUS to the nam-corpus directory \
         (CI has it at ../shared/nam-corpus beside the checkout)",
        dir.display()
    );
    dir
}

/// Every `.nam` file of the corpus (sorted, relative to it).
fn corpus_files() -> Vec<PathBuf> {
    let root = corpus();
    let mut out = Vec::new();
    let mut dirs = vec![root.clone()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).expect("corpus readable") {
            let p = e.expect("corpus entry").path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "nam") {
                out.push(p.strip_prefix(&root).expect("inside corpus").to_path_buf());
            }
        }
    }
    out.sort();
    assert_eq!(out.len(), 13, "expected the 13 corpus files, found {out:?}");
    out
}

fn load(rel: &Path, opts: &NamOptions) -> NamModel {
    NamModel::from_file(&corpus().join(rel), opts)
        .unwrap_or_else(|e| panic!("{} does not load: {e}", rel.display()))
}

/// A guitar-like test signal: decaying 110 Hz + 330 Hz partials, a step, seeded noise.
fn signal(n: usize) -> Vec<f32> {
    let mut state = 7u64;
    (0..n)
        .map(|i| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let noise = ((state >> 40) as f32 / (1u64 << 24) as f32) - 0.5;
            let t = i as f64 / FS;
            let w = 2.0 * std::f64::consts::PI * t;
            let env = (1.0 - (-t * 400.0).exp()) * (-t * 6.0).exp();
            let step = if (n / 2..n / 2 + 20).contains(&i) {
                0.8
            } else {
                0.0
            };
            (0.7 * env * ((110.0 * w).sin() + 0.3 * (330.0 * w).sin())) as f32 + 0.05 * noise + step
        })
        .collect()
}

fn render(m: &mut NamModel, x: &[f32], block: usize) -> Vec<f32> {
    let mut y = x.to_vec();
    for b in y.chunks_mut(block) {
        m.process(b);
    }
    y
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// Signal length for the corpus-wide tests: long enough to cross many 64-sample chunks
/// and ring rewinds (the prewarm alone crosses thousands), short enough for debug builds.
const N: usize = 1200;

#[test]
fn every_corpus_file_renders_finite_output_the_same_for_blocks_1_7_64_4096_and_after_reset() {
    let x = signal(N);
    for rel in corpus_files() {
        let mut m = load(&rel, &NamOptions::default());
        assert!(m.receptive_field() >= 1);
        assert_eq!(m.tail_samples(), m.receptive_field());
        assert_eq!(m.latency_samples(), 0);
        let y = render(&mut m, &x, 64);
        assert!(
            y.iter().all(|v| v.is_finite()),
            "{}: non-finite output",
            rel.display()
        );
        assert!(
            y.iter().any(|v| *v != 0.0),
            "{}: silent output for a non-silent input",
            rel.display()
        );
        // Each render below starts from `reset`; the first came from a fresh load. Block 1
        // runs on a prefix (the output is causal, so its prefix must match too).
        for (block, len) in [(1, 300), (7, N), (4096, N)] {
            m.reset();
            assert_eq!(
                bits(&render(&mut m, &x[..len], block)),
                bits(&y[..len]),
                "{}: block {block} after reset",
                rel.display()
            );
        }
    }
}

#[test]
fn corpus_facts_are_reported() {
    // From the corpus README: A1 standard has no sample_rate key.
    let a1 = load(Path::new("wavenet_a1_standard.nam"), &NamOptions::default());
    assert_eq!(a1.sample_rate(), None);
    assert_eq!(a1.architecture(), "WaveNet");
    assert_eq!(a1.version(), "0.5.0");
    assert_eq!(a1.metadata_json(), "{}");
    assert_eq!(a1.layer_channels(), vec![16, 8]);
    // RF = 1 + 2·(2·(1+2+…+512)) for two arrays of kernel 3.
    assert_eq!(a1.receptive_field(), 1 + 2 * 2 * 1023);
    let lstm = load(Path::new("lstm.nam"), &NamOptions::default());
    assert_eq!(lstm.sample_rate(), Some(48_000.0));
    assert_eq!(lstm.receptive_field(), 1);
    let meta: Value = serde_json::from_str(lstm.metadata_json()).expect("metadata is JSON");
    assert_eq!(meta["name"], "Test LSTM");
    let a2 = load(Path::new("A2.nam"), &NamOptions::default());
    assert_eq!(a2.architecture(), "SlimmableContainer");
    assert_eq!(a2.slim_values(), &[0.5, 1.0]);
    assert_eq!(a2.submodel(), Some(1), "default is the full-size submodel");
    assert_eq!(a2.layer_channels(), vec![8]);
    let meta: Value = serde_json::from_str(a2.metadata_json()).expect("metadata is JSON");
    assert_eq!(meta["input_level_dbu"], 14.76);
}

#[test]
fn slim_value_selects_the_submodel_as_the_reference_does() {
    // The first submodel whose max_value exceeds the slim value; the last otherwise.
    for (slim, index, channels) in [(0.0, 0, 3), (0.49, 0, 3), (0.5, 1, 8), (1.0, 1, 8)] {
        let m = load(
            Path::new("A2.nam"),
            &NamOptions {
                slim: Some(slim),
                ..NamOptions::default()
            },
        );
        assert_eq!(m.submodel(), Some(index), "slim {slim}");
        assert_eq!(m.layer_channels(), vec![channels], "slim {slim}");
    }
    // A slimmable WaveNet (allowed_channels [1, 2, 3]): index min(⌊slim·3⌋, 2).
    for (slim, channels) in [(0.0, 1), (0.33, 1), (0.34, 2), (0.67, 3), (1.0, 3)] {
        let m = load(
            Path::new("slimmable_wavenet.nam"),
            &NamOptions {
                slim: Some(slim),
                ..NamOptions::default()
            },
        );
        assert_eq!(m.layer_channels(), vec![channels], "slim {slim}");
        assert_eq!(m.submodel(), None);
    }
}

#[test]
fn prewarm_leaves_a_wavenet_at_rest() {
    // After the prewarm, zeros in give the model's constant rest output at once: the whole
    // receptive field already holds the response to silence.
    for rel in corpus_files() {
        let mut m = load(&rel, &NamOptions::default());
        if m.layer_channels().is_empty() {
            continue; // LSTM / Linear (the Linear rest is exactly 0: checked below)
        }
        // A prewarm shorter than the receptive field would leave the zero initial history
        // visible in the first samples.
        let y = render(&mut m, &[0.0; 256], 64);
        assert!(
            y.iter().all(|v| v.to_bits() == y[0].to_bits()),
            "{}: output moves on silence after the prewarm",
            rel.display()
        );
    }
}

#[test]
fn the_one_pass_prewarm_equals_a_receptive_field_of_zeros() {
    // `reset` fills every history in one pass; NeuralAmpModelerCore runs the receptive
    // field of zeros. Both must leave the same state, to the bit.
    let x = signal(300);
    for rel in corpus_files() {
        let mut m = load(&rel, &NamOptions::default());
        let after_reset = render(&mut m, &x, 64);
        m.clear_state();
        let zeros = vec![0.0; m.receptive_field()];
        render(&mut m, &zeros, 64);
        assert_eq!(
            bits(&render(&mut m, &x, 64)),
            bits(&after_reset),
            "{}",
            rel.display()
        );
    }
}

#[test]
fn simd_and_portable_loops_give_the_same_bytes() {
    let x = signal(N);
    for rel in corpus_files() {
        let mut m = load(&rel, &NamOptions::default());
        let simd = render(&mut m, &x, 64);
        m.use_portable_loops();
        m.reset();
        let p = &mut m;
        assert_eq!(bits(&render(p, &x, 64)), bits(&simd), "{}", rel.display());
    }
}

#[test]
fn process_and_reset_do_not_allocate() {
    let files = corpus_files();
    let runs = files
        .iter()
        .map(|f| (f.as_path(), false))
        .chain([(Path::new("wavenet_a1_standard.nam"), true)]);
    for (rel, fast) in runs {
        {
            let mut m = load(
                rel,
                &NamOptions {
                    fast_tanh: fast,
                    ..NamOptions::default()
                },
            );
            let mut buf = signal(700);
            let violations = assert_no_alloc::violation_count();
            assert_no_alloc(|| {
                m.process(&mut buf);
                m.reset();
                for b in buf.chunks_mut(7) {
                    m.process(b);
                }
            });
            assert_eq!(
                assert_no_alloc::violation_count(),
                violations,
                "{} (fast tanh {fast}): heap allocation in process/reset",
                rel.display()
            );
        }
    }
}

#[test]
fn non_finite_and_huge_input_gives_finite_output() {
    let x: Vec<f32> = [
        f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        1e30,
        -1e30,
        f32::MAX,
        0.5,
    ]
    .repeat(30);
    for rel in corpus_files() {
        let mut m = load(&rel, &NamOptions::default());
        let y = render(&mut m, &x, 64);
        assert!(y.iter().all(|v| v.is_finite()), "{}", rel.display());
        // Non-finite samples are read as 0: a NaN-only input renders as silence does.
        m.reset();
        let nan = render(&mut m, &[f32::NAN; 100], 64);
        m.reset();
        let zero = render(&mut m, &[0.0; 100], 64);
        assert_eq!(bits(&nan), bits(&zero), "{}", rel.display());
    }
}

#[test]
fn the_default_tanh_is_float32_accurate() {
    // Stated bound 8.7e-8 (measured); asserted: below one float32 ulp at 1 (2⁻²³), on
    // [−12, 12] in steps of 1e-4, plus the saturation and special values.
    let ulp1 = f32::EPSILON as f64;
    for i in -120_000..=120_000 {
        let x = (i as f64 * 1e-4) as f32;
        let err = (tanh(x) as f64 - (x as f64).tanh()).abs();
        assert!(err < ulp1, "tanh({x}) off by {err}");
    }
    assert_eq!(tanh(10.0), 1.0);
    assert_eq!(tanh(f32::MAX), 1.0);
    assert_eq!(tanh(f32::MIN), -1.0);
    assert_eq!(tanh(-0.0).to_bits(), (-0.0f32).to_bits());
    assert_eq!(tanh(1e-30), 1e-30);
    assert!(tanh(f32::NAN).is_nan());
}

#[test]
fn fast_tanh_stays_within_its_stated_error() {
    // Stated bound: 6.9e-6 (float64 reference); the grid here covers [−12, 12] in 1e-4.
    let mut worst = 0.0f64;
    for i in -120_000..=120_000 {
        let x = i as f64 * 1e-4;
        worst = worst.max((fast_tanh(x as f32) as f64 - (x as f32 as f64).tanh()).abs());
    }
    assert!(worst <= 6.9e-6, "max |fast_tanh − tanh| = {worst}");
    assert!(fast_tanh(f32::MAX) == 1.0 && fast_tanh(f32::MIN) == -1.0);
}

#[test]
fn fast_tanh_option_changes_a_tanh_model_only_slightly() {
    // A1 standard uses Tanh: the option must change the output (it is used), by far less
    // than the model's level (each of its 20 layers adds at most 6.9e-6 per activation).
    let x = signal(N);
    let exact = render(
        &mut load(Path::new("wavenet_a1_standard.nam"), &NamOptions::default()),
        &x,
        64,
    );
    let fast = render(
        &mut load(
            Path::new("wavenet_a1_standard.nam"),
            &NamOptions {
                fast_tanh: true,
                ..NamOptions::default()
            },
        ),
        &x,
        64,
    );
    let diff = exact
        .iter()
        .zip(&fast)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(diff > 0.0 && diff < 1e-3, "fast tanh changed A1 by {diff}");
}

// ---------------------------------------------------------------------------------------
// Hand-made models
// ---------------------------------------------------------------------------------------

fn from_json(v: &Value, opts: &NamOptions) -> Result<NamModel, greybound_core::nam::NamError> {
    NamModel::from_json_str(&v.to_string(), "hand.nam", opts)
}

fn model(v: &Value) -> NamModel {
    from_json(v, &NamOptions::default()).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn a_linear_model_is_an_fir() {
    let w = [0.5f32, -0.25, 0.125, 1.0, -2.0];
    let bias = 0.1f32;
    let mut m = model(&json!({
        "version": "0.5.4", "architecture": "Linear", "sample_rate": 48000,
        "config": {"receptive_field": 5, "bias": true},
        "weights": [w[0], w[1], w[2], w[3], w[4], bias]
    }));
    assert_eq!(m.receptive_field(), 5);
    let x = signal(300);
    let y = render(&mut m, &x, 7);
    for n in 0..x.len() {
        let direct: f64 = bias as f64
            + (0..5)
                .filter(|k| n + k >= 4)
                .map(|k| w[k] as f64 * x[n + k - 4] as f64)
                .sum::<f64>();
        // Five float32 products and sums: error ≤ 6 · 2⁻²⁴ · Σ|terms| < 1e-6 here.
        assert!((y[n] as f64 - direct).abs() < 1e-6, "n = {n}");
    }
}

/// One layer array, 2 channels, kernel 2, dilation 3, layer1x1 on, head_size 1: weights in
/// export order (rechannel, conv w + b, mixer, layer1x1 w + b, head w + b, head_scale).
fn one_layer(activation: &str, gated: bool) -> (Value, Vec<f32>) {
    let m = if gated { 4 } else { 2 };
    let mut w: Vec<f32> = Vec::new();
    let mut v = 0.3f32;
    let mut next = || {
        v = (v * 7.13 + 0.17).fract() - 0.5;
        v
    };
    w.extend((0..2).map(|_| next())); // rechannel [2, 1, 1]
    w.extend((0..m * 2 * 2).map(|_| next())); // conv [m, 2, 2]
    w.extend((0..m).map(|_| next())); // conv bias
    w.extend((0..m).map(|_| next())); // mixer [m, 1, 1]
    w.extend((0..4).map(|_| next())); // layer1x1 [2, 2, 1]
    w.extend((0..2).map(|_| next())); // layer1x1 bias
    w.extend((0..2).map(|_| next())); // head rechannel [1, 2, 1]
    w.push(next()); // head bias
    w.push(0.75); // head_scale
    let v = json!({
        "version": "0.5.4", "architecture": "WaveNet", "sample_rate": 48000,
        "config": {"layers": [{
            "input_size": 1, "condition_size": 1, "head_size": 1, "channels": 2,
            "kernel_size": 2, "dilations": [3], "activation": activation, "gated": gated,
            "head_bias": true
        }], "head": null, "head_scale": 0.5},
        "weights": w.clone()
    });
    (v, w)
}

/// The same network computed directly in f64 from its definition (zero history).
fn one_layer_direct(w: &[f32], x: &[f32], act: fn(f64) -> f64, gated: bool) -> Vec<f64> {
    let m = if gated { 4 } else { 2 };
    let w: Vec<f64> = w.iter().map(|v| *v as f64).collect();
    let (rech, rest) = w.split_at(2);
    let (conv, rest) = rest.split_at(m * 4);
    let (cb, rest) = rest.split_at(m);
    let (mix, rest) = rest.split_at(m);
    let (l1, rest) = rest.split_at(4);
    let (_l1b, rest) = rest.split_at(2);
    let (hw, rest) = rest.split_at(2);
    let (hb, scale) = (rest[0], rest[1]);
    let h = |i: usize, t: isize| {
        if t < 0 {
            0.0
        } else {
            rech[i] * x[t as usize] as f64
        }
    };
    let _ = l1;
    (0..x.len())
        .map(|n| {
            let t = n as isize;
            let z: Vec<f64> = (0..m)
                .map(|o| {
                    let mut s = cb[o] + mix[o] * x[n] as f64;
                    for i in 0..2 {
                        // tap 0 is the older sample, 3 samples back.
                        s += conv[(o * 2 + i) * 2] * h(i, t - 3)
                            + conv[(o * 2 + i) * 2 + 1] * h(i, t);
                    }
                    s
                })
                .collect();
            let a: Vec<f64> = (0..2)
                .map(|c| {
                    if gated {
                        act(z[c]) * (1.0 / (1.0 + (-z[2 + c]).exp()))
                    } else {
                        act(z[c])
                    }
                })
                .collect();
            scale * (hb + hw[0] * a[0] + hw[1] * a[1])
        })
        .collect()
}

#[test]
fn a_one_layer_wavenet_matches_its_direct_computation() {
    let x = signal(500);
    for (name, act, gated) in [
        ("Tanh", f64::tanh as fn(f64) -> f64, false),
        ("Tanh", f64::tanh, true),
        ("ReLU", |v: f64| v.max(0.0), false),
        ("Softsign", |v: f64| v / (1.0 + v.abs()), false),
    ] {
        let (v, w) = one_layer(name, gated);
        let mut m = model(&v);
        assert_eq!(m.receptive_field(), 4);
        let y = render(&mut m, &x, 7);
        let direct = one_layer_direct(&w, &x, act, gated);
        for n in 0..x.len() {
            // float32 through ~20 operations on values of order 1: 1e-5 is ~100 ulp.
            assert!(
                (y[n] as f64 - direct[n]).abs() < 1e-5,
                "{name} gated={gated} n={n}: {} vs {}",
                y[n],
                direct[n]
            );
        }
    }
}

#[test]
fn the_head_scale_is_the_last_weight() {
    let (mut v, _) = one_layer("Tanh", false);
    let x = signal(200);
    let base = render(&mut model(&v), &x, 64);
    let last = v["weights"].as_array().map(|a| a.len() - 1).unwrap_or(0);
    v["weights"][last] = json!(1.5); // was 0.75: doubles the output
    v["config"]["head_scale"] = json!(123.0); // the config value is not used
    let doubled = render(&mut model(&v), &x, 64);
    for (a, b) in base.iter().zip(&doubled) {
        assert!((2.0 * a - b).abs() <= 1e-6 * b.abs().max(1.0));
    }
}

#[test]
fn an_lstm_matches_its_direct_recurrence() {
    // Hidden size 1: gates [i f g o] = W·[x; h] + b.
    let wi = [0.5f32, -0.3, 0.8, 0.2];
    let wh = [0.1f32, 0.4, -0.6, 0.3];
    let b = [0.05f32, 0.9, -0.1, 0.2];
    let (h0, c0, hw, hb) = (0.1f32, -0.2f32, 1.5f32, 0.01f32);
    let mut weights = Vec::new();
    for g in 0..4 {
        weights.extend([wi[g], wh[g]]);
    }
    weights.extend(b);
    weights.extend([h0, c0, hw, hb]);
    let mut m = model(&json!({
        "version": "0.5.4", "architecture": "LSTM", "sample_rate": 48000,
        "config": {"input_size": 1, "hidden_size": 1, "num_layers": 1},
        "weights": weights
    }));
    let x = signal(400);
    let y = render(&mut m, &x, 7);
    let sig = |v: f64| 1.0 / (1.0 + (-v).exp());
    let (mut h, mut c) = (h0 as f64, c0 as f64);
    let mut step = |xv: f64| {
        let g: Vec<f64> = (0..4)
            .map(|k| b[k] as f64 + wi[k] as f64 * xv + wh[k] as f64 * h)
            .collect();
        c = sig(g[1]) * c + sig(g[0]) * g[2].tanh();
        h = sig(g[3]) * c.tanh();
        hb as f64 + hw as f64 * h
    };
    step(0.0); // the prewarm: one receptive field (1 sample) of silence
    for (n, xv) in x.iter().enumerate() {
        let direct = step(*xv as f64);
        assert!((y[n] as f64 - direct).abs() < 1e-5, "n = {n}");
    }
}

// ---------------------------------------------------------------------------------------
// Malformed models: each error names the file and the key.
// ---------------------------------------------------------------------------------------

fn error_of(v: &Value, opts: &NamOptions) -> String {
    match from_json(v, opts) {
        Ok(_) => panic!("accepted: {v}"),
        Err(e) => {
            assert_eq!(e.kind, NamErrorKind::Format);
            assert_eq!(e.file, "hand.nam");
            e.to_string()
        }
    }
}

#[test]
fn malformed_models_are_refused_naming_the_key() {
    let (base, _) = one_layer("Tanh", false);
    type Edit = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(&str, Edit)> = vec![
        ("version", Box::new(|v| v["version"] = json!("0.8.0"))),
        (
            "architecture",
            Box::new(|v| v["architecture"] = json!("ConvNet")),
        ),
        (
            "config.layers[0].channels",
            Box::new(|v| {
                v["config"]["layers"][0]
                    .as_object_mut()
                    .map(|o| o.remove("channels"));
            }),
        ),
        (
            "config.layers[0].packing",
            Box::new(|v| v["config"]["layers"][0]["packing"] = json!({"channels": [1]})),
        ),
        (
            "config.layers[0].activation",
            Box::new(|v| v["config"]["layers"][0]["activation"] = json!("GELU")),
        ),
        (
            "config.layers[0].activation.alpha",
            Box::new(|v| {
                v["config"]["layers"][0]["activation"] = json!({"type": "LeakyReLU", "alpha": 2})
            }),
        ),
        (
            "config.layers[0].kernel_size",
            Box::new(|v| v["config"]["layers"][0]["kernel_size"] = json!(2.5)),
        ),
        (
            "config.layers[0].dilations",
            Box::new(|v| v["config"]["layers"][0]["dilations"] = json!([])),
        ),
        (
            "config.layers[0].input_size",
            Box::new(|v| v["config"]["layers"][0]["input_size"] = json!(2)),
        ),
        (
            "config.layers[0].gating_mode",
            Box::new(|v| {
                let layer = &mut v["config"]["layers"][0];
                layer.as_object_mut().map(|o| o.remove("gated"));
                layer["gating_mode"] = json!("sometimes");
            }),
        ),
        (
            "config.layers[0].layer1x1_post_film",
            Box::new(|v| {
                v["config"]["layers"][0]["layer1x1"] = json!({"active": false, "groups": 1});
                v["config"]["layers"][0]["layer1x1_post_film"] = json!({"active": true});
            }),
        ),
        (
            "config.layers[0].groups_input",
            Box::new(|v| v["config"]["layers"][0]["groups_input"] = json!(3)),
        ),
        (
            "config.layers[0].slimmable.method",
            Box::new(|v| {
                v["config"]["layers"][0]["slimmable"] = json!({"method": "prune", "kwargs": {}})
            }),
        ),
        (
            "config.head_scale",
            Box::new(|v| v["config"]["head_scale"] = json!("big")),
        ),
        (
            "config.unknown_switch",
            Box::new(|v| v["config"]["unknown_switch"] = json!(true)),
        ),
        (
            "weights",
            Box::new(|v| {
                if let Some(a) = v["weights"].as_array_mut() {
                    a.pop();
                }
            }),
        ),
        (
            "weights",
            Box::new(|v| {
                if let Some(a) = v["weights"].as_array_mut() {
                    a.push(json!(0.0));
                }
            }),
        ),
        ("weights[3]", Box::new(|v| v["weights"][3] = json!("x"))),
        ("sample_rate", Box::new(|v| v["sample_rate"] = json!(-1))),
    ];
    for (key, edit) in cases {
        let mut v = base.clone();
        edit(&mut v);
        let msg = error_of(&v, &NamOptions::default());
        assert!(
            msg.starts_with(&format!("hand.nam: {key}:")),
            "expected an error about {key}, got: {msg}"
        );
    }
}

#[test]
fn extra_top_level_keys_without_semantics_are_accepted() {
    let (mut v, _) = one_layer("Tanh", false);
    v["notes"] = json!(["written by hand"]);
    v["metadata"] = json!({"name": "hand"});
    let m = model(&v);
    assert_eq!(m.metadata_json(), r#"{"name":"hand"}"#);
}

#[test]
fn slim_values_are_checked() {
    let (v, _) = one_layer("Tanh", false);
    let msg = error_of(
        &v,
        &NamOptions {
            slim: Some(0.5),
            ..NamOptions::default()
        },
    );
    assert!(msg.contains("not slimmable"), "{msg}");
    let msg = error_of(
        &v,
        &NamOptions {
            slim: Some(1.5),
            ..NamOptions::default()
        },
    );
    assert!(msg.contains("outside [0, 1]"), "{msg}");
}

#[test]
fn malformed_containers_are_refused_naming_the_key() {
    let (sub, _) = one_layer("Tanh", false);
    let container = |subs: Value, weights: Value| {
        json!({"version": "0.7.0", "architecture": "SlimmableContainer", "sample_rate": 48000,
               "config": {"submodels": subs}, "weights": weights})
    };
    let ok = container(
        json!([{"max_value": 0.5, "model": sub}, {"max_value": 1.0, "model": sub}]),
        json!([]),
    );
    assert_eq!(model(&ok).submodel(), Some(1));
    for (v, key) in [
        (
            container(json!([{"max_value": 1.0, "model": sub}]), json!([1.0])),
            "weights",
        ),
        (
            container(
                json!([{"max_value": 0.8, "model": sub}, {"max_value": 0.5, "model": sub}]),
                json!([]),
            ),
            "config.submodels[1].max_value",
        ),
        (
            container(json!([{"max_value": 0.5, "model": sub}]), json!([])),
            "config.submodels",
        ),
        (container(json!([]), json!([])), "config.submodels"),
    ] {
        let msg = error_of(&v, &NamOptions::default());
        assert!(
            msg.starts_with(&format!("hand.nam: {key}:")),
            "expected an error about {key}, got: {msg}"
        );
    }
    let mut bad_sub = sub.clone();
    bad_sub["config"]["layers"][0]["activation"] = json!("Mish");
    let v = container(json!([{"max_value": 1.0, "model": bad_sub}]), json!([]));
    let msg = error_of(&v, &NamOptions::default());
    assert!(
        msg.starts_with("hand.nam: config.submodels[0].model.config.layers[0].activation:"),
        "{msg}"
    );
}

#[test]
fn unreadable_input_is_an_io_or_format_error() {
    let e = NamModel::from_file(Path::new("/nonexistent/x.nam"), &NamOptions::default())
        .err()
        .expect("missing file refused");
    assert_eq!(e.kind, NamErrorKind::Io);
    assert!(e.to_string().starts_with("/nonexistent/x.nam: "));
    let e = NamModel::from_json_str("{not json", "broken.nam", &NamOptions::default())
        .err()
        .expect("bad JSON refused");
    assert!(e.to_string().starts_with("broken.nam: not valid JSON"));
}

#[test]
fn a_declared_sample_rate_must_match_the_spec() {
    let mut m = load(Path::new("lstm.nam"), &NamOptions::default());
    let spec = |fs| greybound_core::Spec {
        sample_rate: fs,
        max_block: 64,
    };
    assert!(m.prepare(&spec(44_100.0)).is_err());
    assert!(m.prepare(&spec(48_000.0)).is_ok());
    // No sample_rate key: any valid rate is accepted (the reader says 48 kHz is assumed).
    let mut a1 = load(Path::new("wavenet_a1_standard.nam"), &NamOptions::default());
    assert!(a1.prepare(&spec(44_100.0)).is_ok());
}
