//! The WaveNet runtime (family "wavenet") without Python: hand-built artifacts checked
//! against a direct, non-streaming implementation of the schema's formulas, causality,
//! receptive field, block-size invariance, allocation-free processing, bounded output,
//! click-free knob smoothing, and every validation error by name.

use std::path::PathBuf;

use assert_no_alloc::{assert_no_alloc, AllocDisabler};
use greybound_core::neural::{artifact, NeuralCell, WaveNet};
use greybound_core::{Processor, Spec};
use proptest::prelude::*;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

#[global_allocator]
static ALLOCATOR: AllocDisabler = AllocDisabler;

const FS: f64 = 48_000.0;

/// Deterministic uniform numbers in [−1, 1) (splitmix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f32 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        ((z >> 40) as f32 / (1u64 << 23) as f32) - 1.0
    }
    fn vec(&mut self, n: usize, scale: f32) -> Vec<f32> {
        (0..n).map(|_| scale * self.next()).collect()
    }
}

/// A wavenet's sizes and weights (as the artifact stores them, f32).
#[derive(Clone)]
struct Net {
    c: usize,
    k: usize,
    dilations: Vec<usize>,
    h: usize,
    /// (name, default, low, high): features are (v − offset)·scale with offset = default,
    /// scale = 2/(high − low).
    controls: Vec<(String, f64, f64, f64)>,
    input_w: Vec<f32>,
    input_b: Vec<f32>,
    conv_w: Vec<f32>,
    conv_b: Vec<f32>,
    alpha: Vec<f32>,
    film_w1: Vec<f32>,
    film_b1: Vec<f32>,
    film_w2: Vec<f32>,
    film_b2: Vec<f32>,
    head_w: Vec<f32>,
    head_b: Vec<f32>,
    out_scale: f64,
}

impl Net {
    /// Random weights, seeded. Conv weights ~ ±0.6/√(C·K) keep the residual stack stable;
    /// α spans [0.3, 2.3] except channel 0 of layer 1 (α = 5e-5: the limit form) and
    /// channel 1 of layer 0 (negative α).
    fn random(c: usize, k: usize, dilations: &[usize], controls: usize, seed: u64) -> Net {
        let mut r = Rng(seed);
        let l = dilations.len();
        let h = 5;
        let conv_scale = 0.6 / ((c * k) as f32).sqrt();
        let mut alpha: Vec<f32> = (0..l * c).map(|_| 1.3 + r.next()).collect();
        if l > 1 {
            alpha[c] = 5e-5;
        }
        if c > 1 {
            alpha[1] = -0.8;
        }
        Net {
            c,
            k,
            dilations: dilations.to_vec(),
            h,
            controls: (0..controls)
                .map(|i| (format!("knob{i}"), 5.0, 0.0, 10.0))
                .collect(),
            input_w: r.vec(c, 1.5),
            input_b: r.vec(c, 0.1),
            conv_w: r.vec(l * c * c * k, conv_scale),
            conv_b: r.vec(l * c, 0.1),
            alpha,
            film_w1: r.vec(h * controls, 1.0),
            film_b1: r.vec(h, 0.2),
            film_w2: r.vec(2 * c * l * h, 0.4),
            film_b2: r.vec(2 * c * l, 0.1),
            head_w: r.vec(c, 0.5),
            head_b: r.vec(1, 0.05),
            out_scale: 2.0,
        }
    }

    fn tensors(&self) -> Vec<(&'static str, Vec<usize>, &Vec<f32>)> {
        let (c, k, l, h, n) = (
            self.c,
            self.k,
            self.dilations.len(),
            self.h,
            self.controls.len(),
        );
        vec![
            ("wn.input.weight", vec![c, 1], &self.input_w),
            ("wn.input.bias", vec![c], &self.input_b),
            ("wn.conv.weight", vec![l, c, c, k], &self.conv_w),
            ("wn.conv.bias", vec![l, c], &self.conv_b),
            ("wn.snake.alpha", vec![l, c], &self.alpha),
            ("wn.film.0.weight", vec![h, n], &self.film_w1),
            ("wn.film.0.bias", vec![h], &self.film_b1),
            ("wn.film.1.weight", vec![2 * c * l, h], &self.film_w2),
            ("wn.film.1.bias", vec![2 * c * l], &self.film_b2),
            ("wn.head.weight", vec![1, c], &self.head_w),
            ("wn.head.bias", vec![1], &self.head_b),
        ]
    }

    /// Writes `model.greybound.json` + `weights.greybound.bin` (tensors at 16-byte-aligned
    /// offsets) into a fresh directory, after `edit` has changed the descriptor.
    fn write(&self, tag: &str, edit: impl Fn(&mut Value)) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("greybound-wavenet-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut bytes: Vec<u8> = Vec::new();
        let mut table = serde_json::Map::new();
        for (name, shape, values) in self.tensors() {
            table.insert(name.into(), json!({"shape": shape, "offset": bytes.len()}));
            bytes.extend(values.iter().flat_map(|v| v.to_le_bytes()));
            bytes.resize(bytes.len().div_ceil(16) * 16, 0);
        }
        std::fs::write(dir.join("weights.greybound.bin"), &bytes).unwrap();
        let sha: String = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let controls: Vec<Value> = self
            .controls
            .iter()
            .map(|(name, default, lo, hi)| {
                json!({"name": name, "default": default, "scale": 2.0 / (hi - lo),
                       "offset": default, "range": [lo, hi], "log10": false})
            })
            .collect();
        let mut d = json!({
            "schema_version": 1, "format": "greybound-model", "name": "tiny-wavenet",
            "family": "wavenet", "sample_rate_hz": FS, "sample_rates_supported": [FS],
            "input": {"context_samples": 1, "scale": 1.0, "offset": 0.0, "range": [-4.0, 4.0],
                      "clamp": "saturate"},
            "controls": controls,
            "output": {"scale": self.out_scale, "offset": 0.0, "range": [-40.0, 40.0],
                       "clamp": "saturate"},
            "layers": [{"kind": "wavenet", "channels": self.c, "kernel_size": self.k,
                        "dilations": self.dilations, "activation": "snake",
                        "film_hidden": self.h,
                        "tensors": {"input_weight": "wn.input.weight", "input_bias": "wn.input.bias",
                                    "conv_weight": "wn.conv.weight", "conv_bias": "wn.conv.bias",
                                    "snake_alpha": "wn.snake.alpha",
                                    "film_w1": "wn.film.0.weight", "film_b1": "wn.film.0.bias",
                                    "film_w2": "wn.film.1.weight", "film_b2": "wn.film.1.bias",
                                    "head_weight": "wn.head.weight", "head_bias": "wn.head.bias"}}],
            "tensors": table,
            "weights": {"file": "weights.greybound.bin", "bytes": bytes.len(), "sha256": sha},
            "latency_samples": 0, "lookahead_samples": 0, "allocation": "preallocated",
            "cpu_cost": {"macs_per_sample": 0, "ns_per_sample": 0.0},
            "provenance": {"note": "hand-built test artifact"}
        });
        edit(&mut d);
        let path = dir.join("model.greybound.json");
        std::fs::write(&path, serde_json::to_string_pretty(&d).unwrap()).unwrap();
        path
    }

    fn runtime(&self, tag: &str) -> WaveNet {
        let a = artifact::load(&self.write(tag, |_| {})).expect("artifact loads");
        let mut net = WaveNet::new(&a).expect("a wavenet artifact");
        net.prepare(&Spec {
            sample_rate: FS,
            max_block: 4096,
        })
        .unwrap();
        net
    }

    /// The schema's formulas, directly: each layer convolved over the whole signal in f64
    /// (zero history before sample 0), knob features held at `knobs` (raw values). Indexed
    /// loops on purpose: they read like the schema's sums.
    #[allow(clippy::needless_range_loop)]
    fn reference(&self, x: &[f32], knobs: &[f64]) -> Vec<f64> {
        let (c, k) = (self.c, self.k);
        let f64s = |v: &Vec<f32>| v.iter().map(|&w| w as f64).collect::<Vec<f64>>();
        let features: Vec<f64> = self
            .controls
            .iter()
            .zip(knobs)
            .map(|((_, d, lo, hi), v)| (v.clamp(*lo, *hi) - d) * 2.0 / (hi - lo))
            .collect();
        let (w1, b1, w2, b2) = (
            f64s(&self.film_w1),
            f64s(&self.film_b1),
            f64s(&self.film_w2),
            f64s(&self.film_b2),
        );
        let n_in = features.len();
        let hidden: Vec<f64> = (0..self.h)
            .map(|j| {
                (b1[j]
                    + (0..n_in)
                        .map(|i| w1[j * n_in + i] * features[i])
                        .sum::<f64>())
                .tanh()
            })
            .collect();
        let raw: Vec<f64> = (0..b2.len())
            .map(|r| {
                b2[r]
                    + (0..self.h)
                        .map(|j| w2[r * self.h + j] * hidden[j])
                        .sum::<f64>()
            })
            .collect();
        let u: Vec<f64> = x.iter().map(|&v| (v as f64).clamp(-4.0, 4.0)).collect();
        let mut xs: Vec<Vec<f64>> = u
            .iter()
            .map(|&u| {
                (0..c)
                    .map(|ch| self.input_w[ch] as f64 * u + self.input_b[ch] as f64)
                    .collect()
            })
            .collect();
        let mut skip = vec![vec![0.0f64; c]; u.len()];
        for (l, &d) in self.dilations.iter().enumerate() {
            let mut next = xs.clone();
            for n in 0..u.len() {
                for o in 0..c {
                    let mut z = self.conv_b[l * c + o] as f64;
                    for i in 0..c {
                        for tap in 0..k {
                            let lag = (k - 1 - tap) * d;
                            if n >= lag {
                                z += self.conv_w[((l * c + o) * c + i) * k + tap] as f64
                                    * xs[n - lag][i];
                            }
                        }
                    }
                    let g = 1.0 + raw[l * 2 * c + o];
                    let b = raw[l * 2 * c + c + o];
                    let f = g * z + b;
                    let alpha = self.alpha[l * c + o] as f64;
                    let a = if alpha.abs() < 1e-4 {
                        f + alpha * f * f
                    } else {
                        f + (alpha * f).sin().powi(2) / alpha
                    };
                    next[n][o] += a;
                    skip[n][o] += a;
                }
            }
            xs = next;
        }
        skip.iter()
            .map(|s| {
                let y = self.head_b[0] as f64
                    + (0..c).map(|ch| self.head_w[ch] as f64 * s[ch]).sum::<f64>();
                (y * self.out_scale).clamp(-40.0, 40.0)
            })
            .collect()
    }
}

/// A guitar-like test signal (V): decaying 110 Hz + 330 Hz partials plus a little noise.
fn pluck(n: usize, peak: f32, seed: u64) -> Vec<f32> {
    let mut r = Rng(seed);
    (0..n)
        .map(|i| {
            let t = i as f64 / FS;
            let w = 2.0 * std::f64::consts::PI * t;
            let env = (1.0 - (-t * 400.0).exp()) * (-t * 3.0).exp();
            (peak as f64 * env * (0.7 * (110.0 * w).sin() + 0.3 * (330.0 * w).sin())) as f32
                + 0.02 * peak * r.next()
        })
        .collect()
}

/// Processes `x` in blocks of `block`, applying `(sample, control, value)` smoothed knob
/// changes just before their sample.
fn render(net: &mut WaveNet, x: &[f32], block: usize, changes: &[(usize, u32, f32)]) -> Vec<f32> {
    let mut y = x.to_vec();
    let mut cuts: Vec<usize> = changes.iter().map(|c| c.0).collect();
    cuts.push(x.len());
    let mut start = 0;
    for end in cuts {
        for (at, id, value) in changes {
            if *at == start {
                net.set_param(*id, *value);
            }
        }
        y[start..end].chunks_mut(block).for_each(|b| net.process(b));
        start = end;
    }
    y
}

fn small() -> Net {
    Net::random(3, 3, &[1, 2, 4, 8, 1, 2, 4, 8], 2, 7)
}

#[test]
fn streaming_output_matches_the_direct_full_convolution() {
    // C = 3 (not a SIMD width), K = 3, and C = 4, K = 2 with longer dilations; knobs set
    // away from their defaults without smoothing.
    for (tag, net) in [
        ("ref-a", small()),
        ("ref-b", Net::random(4, 2, &[1, 4, 16, 64, 2, 8], 3, 11)),
    ] {
        let mut rt = net.runtime(tag);
        let knobs = [2.5, 8.0, 6.5];
        for (id, v) in knobs.iter().take(net.controls.len()).enumerate() {
            rt.set_control_immediate(id as u32, *v as f32);
        }
        let x = pluck(3000, 0.8, 3);
        let y = render(&mut rt, &x, 64, &[]);
        let want = net.reference(&x, &knobs);
        let scale = want.iter().fold(0f64, |m, v| m.max(v.abs()));
        let err = y
            .iter()
            .zip(&want)
            .fold(0f64, |m, (a, b)| m.max((*a as f64 - b).abs()));
        // The runtime is float32 against an f64 reference: each output is a chain of
        // L residual layers of K·C-term sums, a Snake polynomial (truncation 6e-8) and the
        // head — a few hundred roundings of relative size 6e-8 at most, ≈ 1e-6 of the
        // output scale in the worst case; 1e-5 is the schema's equivalence tolerance.
        assert!(scale > 0.1, "{tag}: the test signal must drive the network");
        assert!(
            err <= 1e-5 * scale,
            "{tag}: max error {err} on output scale {scale}"
        );
    }
}

#[test]
fn output_is_causal() {
    let net = small();
    let x = pluck(600, 0.5, 1);
    let mut changed = x.clone();
    for v in &mut changed[300..] {
        *v = -*v + 0.3;
    }
    let a = render(&mut net.runtime("causal-a"), &x, 64, &[]);
    let b = render(&mut net.runtime("causal-b"), &changed, 64, &[]);
    assert_eq!(a[..300], b[..300], "output before 300 saw later input");
    assert_ne!(
        a[300], b[300],
        "output at 300 must see input at 300 (zero latency)"
    );
}

#[test]
fn impulse_response_spans_exactly_the_receptive_field() {
    let net = small();
    let rf = 1 + 2 * (1 + 2 + 4 + 8) * 2; // 1 + (K−1)·Σd = 61
    let mut rt = net.runtime("rf");
    assert_eq!(rt.receptive_field(), rf);
    assert_eq!(rt.tail_samples(), rf - 1);
    let n = rf + 40;
    let rest = render(&mut rt, &vec![0.0; n], 64, &[]);
    rt.reset();
    let mut impulse = vec![0.0; n];
    impulse[0] = 1.0;
    let hit = render(&mut rt, &impulse, 64, &[]);
    let last = (0..n).rev().find(|&i| hit[i] != rest[i]).unwrap();
    assert_eq!(last + 1, rf, "impulse response length");
}

#[test]
fn block_sizes_1_7_64_4096_give_bit_identical_output() {
    let net = small();
    let x = pluck(9000, 0.7, 5);
    // A smoothed knob change at 896 (a multiple of 7 and of 64) and one at 4480.
    let changes = [(896, 0, 9.0f32), (4480, 1, 1.0f32)];
    let want = render(&mut net.runtime("blk-1"), &x, 1, &changes);
    for block in [7, 64, 4096] {
        let got = render(
            &mut net.runtime(&format!("blk-{block}")),
            &x,
            block,
            &changes,
        );
        assert!(
            got == want,
            "block {block} differs from block 1 at sample {:?}",
            got.iter().zip(&want).position(|(a, b)| a != b)
        );
    }
    // The portable loops (no AVX) do the same arithmetic as the SIMD copies.
    let mut portable = net.runtime("blk-portable");
    portable.use_portable_loops();
    assert!(
        render(&mut portable, &x, 64, &changes) == want,
        "portable loops differ"
    );
    let mut rt = net.runtime("blk-tick");
    let ticked: Vec<f32> = x[..896].iter().map(|&v| rt.tick(v)).collect();
    assert!(ticked == want[..896], "tick() differs from process()");
}

#[test]
fn process_and_knob_changes_are_allocation_free() {
    let mut rt = small().runtime("alloc");
    let mut buf: Vec<f32> = (0..4096)
        .map(|i| [f32::NAN, f32::INFINITY, -1e30, 0.3, 1e-39][i % 5])
        .collect();
    let violations = assert_no_alloc::violation_count();
    assert_no_alloc(|| {
        rt.set_param(0, 7.0);
        for b in buf.chunks_mut(61) {
            rt.process(b);
        }
        rt.set_control_immediate(1, 2.0);
        rt.process(&mut buf[..100]);
        rt.reset();
    });
    // With the `warn_debug` feature a violation is counted, not aborted: check it.
    assert_eq!(
        assert_no_alloc::violation_count(),
        violations,
        "heap allocation in process/set_param/reset"
    );
    assert!(buf.iter().all(|y| y.is_finite() && y.abs() <= 40.0));
    // Denormal-safe: subnormal input (1e-39 V) never gives a subnormal output.
    let mut tiny = vec![1e-39f32; 256];
    rt.process(&mut tiny);
    assert!(tiny
        .iter()
        .all(|y| *y == 0.0 || y.abs() >= f32::MIN_POSITIVE));
}

#[test]
fn nan_input_is_processed_as_zero_volts() {
    let net = small();
    let mut x = pluck(200, 0.5, 9);
    let want = {
        let mut z = x.clone();
        z[50..60].fill(0.0);
        render(&mut net.runtime("nan-a"), &z, 64, &[])
    };
    x[50..60].fill(f32::NAN);
    assert_eq!(render(&mut net.runtime("nan-b"), &x, 64, &[]), want);
}

/// Largest |y[n] − y[n−1]| over `range`.
fn max_step(y: &[f32], range: std::ops::Range<usize>) -> f32 {
    range.map(|n| (y[n] - y[n - 1]).abs()).fold(0.0, f32::max)
}

#[test]
fn a_knob_jump_is_smoothed_without_clicks() {
    let net = small();
    let n = 9600;
    let x: Vec<f32> = (0..n)
        .map(|i| (0.5 * (2.0 * std::f64::consts::PI * 220.0 * i as f64 / FS).sin()) as f32)
        .collect();
    let jump = 4800;
    let smooth = render(
        &mut net.runtime("click-s"),
        &x,
        64,
        &[(jump, 0, 10.0), (jump, 1, 0.0)],
    );
    let mut rt = net.runtime("click-i");
    let mut abrupt = x.clone();
    rt.process(&mut abrupt[..jump]);
    rt.set_control_immediate(0, 10.0);
    rt.set_control_immediate(1, 0.0);
    rt.process(&mut abrupt[jump..]);
    // The signal's own largest step on the steady sine before the jump, and after the
    // ramp has ended (20 ms = 960 samples) with the new knob setting.
    let own = max_step(&smooth, 2000..jump).max(max_step(&smooth, jump + 1200..n));
    let during = max_step(&smooth, jump..jump + 1200);
    let hard = max_step(&abrupt, jump..jump + 2);
    // The ramp moves the features in 30 steps of 1/30 of the jump, each one changing the
    // output by ≈ 1/30 of the level change (more where the FiLM MLP's tanh is steep) — of
    // the order of the sine's own per-sample step (2π·220/48000 ≈ 1/35 of its amplitude).
    // So no step may exceed twice the signal's own largest step (measured: 1.75× for this
    // network); the unsmoothed jump does, by 7.7× (checked, so the test can fail).
    assert!(
        during <= 2.0 * own,
        "step {during} during the ramp vs the signal's own {own}"
    );
    assert!(
        hard > 2.0 * own,
        "the unsmoothed jump ({hard}) must be a click for this test to mean anything (own {own})"
    );
}

#[test]
fn macs_and_receptive_field_of_the_1440_mac_configuration() {
    let dil: Vec<usize> = (0..3).flat_map(|_| (0..10).map(|i| 1usize << i)).collect();
    let net = Net::random(4, 3, &dil, 4, 1);
    let rt = net.runtime("size");
    // L·K·C² = 30·3·16 = 1440, + 2·C·L = 240 (FiLM) + L·C = 120 (Snake) + C = 4 (head)
    // + C = 4 (input projection): the count the PyTorch exporter declares.
    assert_eq!(rt.macs_per_sample(), 4 + 1440 + 240 + 120 + 4);
    assert_eq!(rt.receptive_field(), 6139);
    let a = artifact::load(&net.write("size-cell", |_| {})).unwrap();
    let mut cell = NeuralCell::new(&a);
    cell.prepare(&Spec {
        sample_rate: FS,
        max_block: 64,
    })
    .unwrap();
    assert_eq!(cell.macs_per_sample(), 1808);
    assert_eq!(cell.tail_samples(), 6138);
    // NeuralCell dispatches to the same WaveNet: same output.
    let x = pluck(500, 0.5, 2);
    let mut y = x.clone();
    cell.process(&mut y);
    assert_eq!(y, render(&mut net.runtime("size-2"), &x, 64, &[]));
}

/// Loads `small()` with `edit` applied and returns the error's field (and reason).
fn field_of(tag: &str, edit: impl Fn(&mut Value)) -> (String, String) {
    let e = artifact::load(&small().write(tag, edit)).expect_err("must be rejected");
    assert!(e.file.ends_with("model.greybound.json"), "{e}");
    (e.field, e.reason)
}

#[test]
fn each_validation_error_is_named() {
    type Edit = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(&str, Edit, &str)> = vec![
        (
            "k0",
            Box::new(|d| d["layers"][0]["kernel_size"] = 0.into()),
            "layers[0].kernel_size",
        ),
        (
            "d0",
            Box::new(|d| d["layers"][0]["dilations"][3] = 0.into()),
            "layers[0].dilations[3]",
        ),
        (
            "dempty",
            Box::new(|d| d["layers"][0]["dilations"] = json!([])),
            "layers[0].dilations",
        ),
        (
            "c0",
            Box::new(|d| d["layers"][0]["channels"] = 0.into()),
            "layers[0].channels",
        ),
        (
            "h0",
            Box::new(|d| d["layers"][0]["film_hidden"] = 0.into()),
            "layers[0].film_hidden",
        ),
        (
            "act",
            Box::new(|d| d["layers"][0]["activation"] = "tanh".into()),
            "layers[0].activation",
        ),
        (
            "two",
            Box::new(|d| {
                let extra = json!({"kind": "dense", "inputs": 1, "outputs": 1,
                    "activation": "identity", "weight": "wn.head.bias", "bias": "wn.head.bias"});
                d["layers"].as_array_mut().unwrap().push(extra);
            }),
            "layers[0]",
        ),
        ("family", Box::new(|d| d["family"] = "mlp".into()), "family"),
        (
            "ctx",
            Box::new(|d| d["input"]["context_samples"] = 2.into()),
            "input.context_samples",
        ),
        (
            "conv",
            Box::new(|d| d["tensors"]["wn.conv.weight"]["shape"] = json!([8, 3, 3, 2])),
            "tensors.wn.conv.weight.shape",
        ),
        (
            "ncontrols",
            Box::new(|d| {
                d["controls"].as_array_mut().unwrap().pop();
            }),
            "tensors.wn.film.0.weight.shape",
        ),
        (
            "film2",
            Box::new(|d| d["tensors"]["wn.film.1.weight"]["shape"] = json!([47, 5])),
            "tensors.wn.film.1.weight.shape",
        ),
        (
            "missing",
            Box::new(|d| d["layers"][0]["tensors"]["head_bias"] = "nope".into()),
            "tensors.nope",
        ),
    ];
    for (tag, edit, field) in cases {
        let (got, reason) = field_of(tag, edit);
        assert_eq!(got, field, "{tag}: {reason}");
    }
    // A dense stack under family "wavenet", and unknown keys inside the layer.
    let (got, _) = field_of("unknown-key", |d| {
        d["layers"][0]["tensors"]["extra"] = "x".into()
    });
    assert!(got.starts_with("layers[0]"), "{got}");
    let (got, _) = field_of("missing-key", |d| {
        d["layers"][0]
            .as_object_mut()
            .unwrap()
            .remove("film_hidden");
    });
    assert!(got.starts_with("layers[0]"), "{got}");
}

#[test]
fn unsupported_sample_rate_is_refused_at_prepare() {
    let a = artifact::load(&small().write("rate", |_| {})).unwrap();
    let err = WaveNet::new(&a)
        .unwrap()
        .prepare(&Spec {
            sample_rate: 44_100.0,
            max_block: 64,
        })
        .unwrap_err();
    assert!(err.to_string().contains("not 44100 Hz"), "{err}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, .. ProptestConfig::default() })]

    /// Mutating any byte of a valid wavenet descriptor gives a descriptor or an error.
    #[test]
    fn mutated_wavenet_descriptors_never_panic(pos in 0usize..6000, byte in any::<u8>()) {
        let text = std::fs::read_to_string(small().write("mutate", |_| {})).unwrap();
        let mut bytes = text.into_bytes();
        let at = pos % bytes.len();
        bytes[at] = byte;
        let _ = artifact::parse_descriptor(&String::from_utf8_lossy(&bytes));
    }

    /// Random sizes, with one declared number perturbed or not: the reader accepts exactly
    /// the consistent descriptors, and what it accepts runs with finite, bounded output
    /// for any finite input.
    #[test]
    fn random_wavenets_load_strictly_and_stay_bounded(
        c in 1usize..6,
        k in 1usize..5,
        dil in prop::collection::vec(1usize..20, 1..5),
        controls in 0usize..3,
        perturb in 0usize..4,
        seed in any::<u64>(),
        x in prop::collection::vec(-1e6f32..1e6, 1..300),
    ) {
        let net = Net::random(c, k, &dil, controls, seed);
        let tag = format!("fuzz-{seed}");
        let path = net.write(&tag, |d| match perturb {
            1 => d["layers"][0]["channels"] = (c + 1).into(),
            2 => d["layers"][0]["kernel_size"] = (k + 1).into(),
            3 => d["layers"][0]["film_hidden"] = 6.into(),
            _ => {}
        });
        match artifact::load(&path) {
            Ok(a) => {
                prop_assert_eq!(perturb, 0);
                let mut rt = WaveNet::new(&a).unwrap();
                rt.prepare(&Spec { sample_rate: FS, max_block: 512 }).unwrap();
                let mut y = x.clone();
                rt.process(&mut y);
                prop_assert!(y.iter().all(|v| v.is_finite() && v.abs() <= 40.0));
            }
            Err(e) => {
                prop_assert!(perturb != 0, "{}", e);
                prop_assert!(e.field.starts_with("tensors.wn."), "{}", e);
            }
        }
    }
}
