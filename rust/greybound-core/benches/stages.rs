//! Criterion benchmarks: ns/sample of each stage at 48 kHz on a realistic guitar-level
//! signal (a 0.5 V-peak 220 Hz sine with a slow amplitude envelope), block 64.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use greybound_core::stages::build_stage;
use greybound_core::Spec;

const FS: f64 = 48_000.0;
const BLOCK: usize = 64;
const SECONDS: f64 = 0.25;

fn signal() -> Vec<f32> {
    let n = (FS * SECONDS) as usize;
    (0..n)
        .map(|i| {
            let t = i as f64 / FS;
            let env = 0.5 * (1.0 - (-t * 20.0).exp());
            (env * (2.0 * std::f64::consts::PI * 220.0 * t).sin()) as f32
        })
        .collect()
}

fn bench_stages(c: &mut Criterion) {
    let x = signal();
    let mut group = c.benchmark_group("stages_48k_block64");
    group.throughput(Throughput::Elements(x.len() as u64));
    for kind in ["triode_common_cathode", "diode_clipper", "tone_stack"] {
        let (mut stage, _) = build_stage(kind, &[]).expect("default stage builds");
        stage
            .prepare(&Spec {
                sample_rate: FS,
                max_block: BLOCK,
            })
            .expect("prepare");
        group.bench_function(kind, |b| {
            b.iter_batched_ref(
                || x.clone(),
                |buf| {
                    for block in buf.chunks_mut(BLOCK) {
                        stage.process(block);
                    }
                },
                BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, bench_stages);
criterion_main!(benches);
