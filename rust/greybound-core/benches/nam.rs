//! Criterion benchmark of the `.nam` renderer at 48 kHz, block 64, on a 0.3 V 220 Hz sine:
//! - A1 standard: the corpus's `wavenet_a1_standard.nam` (2 arrays, 16 and 8 channels,
//!   kernel 3, Tanh; also with the fast tanh);
//! - A2 standard and A2 nano: the two submodels of the corpus's `A2.nam` (8 and 3
//!   channels; slim 1.0 and 0.0), and the same presets as NeuralAmpModelerCore defines
//!   them (`NAM/wavenet/a2_fast.h`: 23 layers, kernel sizes 6…15, dilations 1…239,
//!   LeakyReLU 0.01, head kernel 16) built here with seeded random weights, so the bench
//!   does not depend on one capture's weights.
//!
//! Throughput is in samples; real-time factor = 1e9 / (ns/sample · 48,000). The corpus
//! is found as in the tests (`GREYBOUND_NAM_CORPUS`, else `<repo>/../shared/nam-corpus`).

use std::path::{Path, PathBuf};

mod common;

use common::random;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use greybound_core::nam::{NamModel, NamOptions};
use greybound_core::Processor;
use serde_json::json;

const FS: f64 = 48_000.0;
const BLOCK: usize = 64;

/// Per-layer kernel sizes and dilations of the A2 presets (NeuralAmpModelerCore).
const A2_KERNELS: [usize; 23] = [
    6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 15, 15, 6, 6, 6, 6, 6, 6, 6,
];
const A2_DILATIONS: [usize; 23] = [
    1, 3, 7, 17, 41, 101, 239, 1, 3, 7, 17, 41, 101, 239, 1, 13, 1, 3, 7, 17, 41, 101, 239,
];

fn corpus() -> PathBuf {
    let dir = std::env::var_os("GREYBOUND_NAM_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/nam-corpus")
        });
    assert!(
        dir.join("A2.nam").is_file(),
        "NAM corpus not found at {} (set GREYBOUND_NAM_CORPUS)",
        dir.display()
    );
    dir
}

/// An A2 preset with `c` channels and seeded random weights, as `.nam` text.
fn a2_preset(c: usize, seed: u64) -> String {
    let l = A2_KERNELS.len();
    let conv: usize = A2_KERNELS.iter().map(|k| c * c * k + c).sum();
    let n = c + conv + l * c + l * (c * c + c) + c * 16 + 1;
    let mut state = seed;
    let mut weights = random(n, 0.3, &mut state);
    weights.push(0.01); // head_scale
    json!({
        "version": "0.7.0", "architecture": "WaveNet", "sample_rate": FS,
        "config": {"layers": [{
            "input_size": 1, "condition_size": 1, "channels": c, "bottleneck": c,
            "kernel_sizes": A2_KERNELS, "dilations": A2_DILATIONS,
            "activation": {"type": "LeakyReLU", "negative_slope": 0.01},
            "gating_mode": "none",
            "head": {"out_channels": 1, "kernel_size": 16, "bias": true},
            "layer1x1": {"active": true, "groups": 1},
            "head1x1": {"active": false, "out_channels": 1, "groups": 1}
        }], "head": null, "head_scale": 0.01},
        "weights": weights
    })
    .to_string()
}

fn bench_nam(c: &mut Criterion) {
    let dir = corpus();
    let opts = NamOptions {
        max_block: BLOCK,
        ..NamOptions::default()
    };
    let with = |slim: Option<f64>, fast_tanh: bool| NamOptions {
        slim,
        fast_tanh,
        ..opts.clone()
    };
    let mut models: Vec<(String, NamModel)> = vec![
        (
            "a1_standard".into(),
            NamModel::from_file(&dir.join("wavenet_a1_standard.nam"), &opts).expect("A1"),
        ),
        (
            "a1_standard_fast_tanh".into(),
            NamModel::from_file(&dir.join("wavenet_a1_standard.nam"), &with(None, true))
                .expect("A1"),
        ),
        (
            "a2_standard_corpus".into(),
            NamModel::from_file(&dir.join("A2.nam"), &with(Some(1.0), false)).expect("A2"),
        ),
        (
            "a2_nano_corpus".into(),
            NamModel::from_file(&dir.join("A2.nam"), &with(Some(0.0), false)).expect("A2"),
        ),
        (
            "a2_standard_seeded".into(),
            NamModel::from_json_str(&a2_preset(8, 1), "a2-standard-seeded", &opts)
                .expect("A2 standard preset"),
        ),
        (
            "a2_nano_seeded".into(),
            NamModel::from_json_str(&a2_preset(3, 2), "a2-nano-seeded", &opts)
                .expect("A2 nano preset"),
        ),
    ];
    for (name, m) in &models {
        eprintln!(
            "{name}: layer-array channels {:?}, receptive field {} samples, {} bytes of state",
            m.layer_channels(),
            m.receptive_field(),
            m.state_bytes()
        );
    }
    let x: Vec<f32> = (0..FS as usize / 4)
        .map(|i| (0.3 * (2.0 * std::f64::consts::PI * 220.0 * i as f64 / FS).sin()) as f32)
        .collect();
    let mut group = c.benchmark_group("nam_block64");
    group.throughput(Throughput::Elements(x.len() as u64));
    for (name, m) in models.iter_mut() {
        group.bench_function(name.as_str(), |b| {
            b.iter_batched_ref(
                || x.clone(),
                |buf| buf.chunks_mut(BLOCK).for_each(|blk| m.process(blk)),
                BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, bench_nam);
criterion_main!(benches);
