//! Criterion benchmark of the WaveNet runtime: the C = 4, K = 3, 30-layer configuration
//! (dilations 1…512 three times; L·K·C² = 1,440 conv MACs/sample, 1,808 with FiLM, Snake
//! and head) with seeded random weights and 4 knobs, at 48 kHz, block 64, on a 0.3 V 220 Hz
//! sine. Throughput is in samples; real-time factor = 1e9 / (ns/sample · 48,000).

use std::collections::BTreeMap;
use std::path::PathBuf;

mod common;

use common::random;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use greybound_core::neural::{artifact, Artifact, WaveNet};
use greybound_core::{Processor, Spec};

const FS: f64 = 48_000.0;
const BLOCK: usize = 64;
const C: usize = 4;
const K: usize = 3;
const H: usize = 16;
const KNOBS: usize = 4;

/// The benchmark artifact, built in memory (descriptor text through the strict parser).
fn artifact_1440() -> Artifact {
    let dilations: Vec<usize> = (0..3).flat_map(|_| (0..10).map(|i| 1usize << i)).collect();
    let l = dilations.len();
    let mut state = 1u64;
    let shapes: [(&str, Vec<usize>, f32); 11] = [
        ("input_weight", vec![C, 1], 1.0),
        ("input_bias", vec![C], 0.1),
        (
            "conv_weight",
            vec![l, C, C, K],
            0.6 / ((C * K) as f32).sqrt(),
        ),
        ("conv_bias", vec![l, C], 0.1),
        ("snake_alpha", vec![l, C], 1.0),
        ("film_w1", vec![H, KNOBS], 1.0),
        ("film_b1", vec![H], 0.2),
        ("film_w2", vec![2 * C * l, H], 0.2),
        ("film_b2", vec![2 * C * l], 0.1),
        ("head_weight", vec![1, C], 0.5),
        ("head_bias", vec![1], 0.05),
    ];
    let mut tensors = BTreeMap::new();
    let mut table = serde_json::Map::new();
    let mut names = serde_json::Map::new();
    let mut offset = 0;
    for (role, shape, scale) in shapes {
        let n: usize = shape.iter().product();
        let mut values = random(n, scale, &mut state);
        if role == "snake_alpha" {
            values.iter_mut().for_each(|a| *a += 1.5);
        }
        let name = format!("wn.{role}");
        table.insert(
            name.clone(),
            serde_json::json!({"shape": shape, "offset": offset}),
        );
        names.insert(role.into(), name.clone().into());
        tensors.insert(name, values);
        offset += (n * 4).div_ceil(16) * 16;
    }
    let controls: Vec<_> = (0..KNOBS)
        .map(|i| {
            serde_json::json!({"name": format!("knob{i}"), "default": 5.0, "scale": 0.2,
                                    "offset": 5.0, "range": [0.0, 10.0], "log10": false})
        })
        .collect();
    let text = serde_json::json!({
        "schema_version": 1, "format": "greybound-model", "name": "bench-wavenet-1440",
        "family": "wavenet", "sample_rate_hz": FS, "sample_rates_supported": [FS],
        "input": {"context_samples": 1, "scale": 1.0, "offset": 0.0, "range": [-4.0, 4.0],
                  "clamp": "saturate"},
        "controls": controls,
        "output": {"scale": 1.0, "offset": 0.0, "range": [-40.0, 40.0], "clamp": "saturate"},
        "layers": [{"kind": "wavenet", "channels": C, "kernel_size": K, "dilations": dilations,
                    "activation": "snake", "film_hidden": H, "tensors": names}],
        "tensors": table,
        "weights": {"file": "weights.greybound.bin", "bytes": offset, "sha256": "-"},
        "latency_samples": 0, "lookahead_samples": 0, "allocation": "preallocated",
        "cpu_cost": {"macs_per_sample": 1808, "ns_per_sample": 0.0}
    })
    .to_string();
    Artifact {
        path: PathBuf::from("bench-wavenet-1440/model.greybound.json"),
        descriptor: artifact::parse_descriptor(&text).expect("bench descriptor is valid"),
        tensors,
    }
}

fn bench_wavenet(c: &mut Criterion) {
    let mut net = WaveNet::new(&artifact_1440()).expect("a wavenet");
    net.prepare(&Spec {
        sample_rate: FS,
        max_block: BLOCK,
    })
    .expect("prepare");
    eprintln!(
        "wavenet C={C} K={K} L=30: {} MACs/sample, {} parameters, {} bytes of state, receptive field {} samples",
        net.macs_per_sample(),
        net.parameter_count(),
        net.state_bytes(),
        net.receptive_field()
    );
    let x: Vec<f32> = (0..FS as usize / 4)
        .map(|i| (0.3 * (2.0 * std::f64::consts::PI * 220.0 * i as f64 / FS).sin()) as f32)
        .collect();
    let mut group = c.benchmark_group("wavenet_block64");
    group.throughput(Throughput::Elements(x.len() as u64));
    group.bench_function("c4_l30_1440mac", |b| {
        b.iter_batched_ref(
            || x.clone(),
            |buf| buf.chunks_mut(BLOCK).for_each(|blk| net.process(blk)),
            BatchSize::LargeInput,
        )
    });
    // The same network on the portable (non-AVX) loops: the SIMD gain.
    let mut portable = WaveNet::new(&artifact_1440()).expect("a wavenet");
    portable
        .prepare(&Spec {
            sample_rate: FS,
            max_block: BLOCK,
        })
        .expect("prepare");
    portable.use_portable_loops();
    group.bench_function("c4_l30_1440mac_portable", |b| {
        b.iter_batched_ref(
            || x.clone(),
            |buf| buf.chunks_mut(BLOCK).for_each(|blk| portable.process(blk)),
            BatchSize::LargeInput,
        )
    });
    // Knobs moving all the time: γ, β recomputed every 32 samples (the worst case).
    group.bench_function("c4_l30_1440mac_knob_sweep", |b| {
        let mut knob = 0.0f32;
        b.iter_batched_ref(
            || x.clone(),
            |buf| {
                for blk in buf.chunks_mut(BLOCK) {
                    knob = (knob + 0.01) % 10.0;
                    net.set_param(0, knob);
                    net.process(blk);
                }
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group!(benches, bench_wavenet);
criterion_main!(benches);
