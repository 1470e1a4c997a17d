//! Criterion benchmarks: ns/sample of each stage at 48 kHz on a realistic guitar-level
//! signal (a 0.5 V-peak 220 Hz sine with a slow amplitude envelope), block 64; and the
//! triode on a hard signal (2 V peaks that drive the grid into conduction, with a 2.9 kHz
//! partial that moves the plate by several volts per sample).

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use greybound_core::stages::build_stage;
use greybound_core::Spec;

const FS: f64 = 48_000.0;
const BLOCK: usize = 64;
const SECONDS: f64 = 0.25;

/// `peak` V times the sum of 220 Hz and `partial` (relative level) of 2.9 kHz, with a
/// 50 ms attack.
fn signal(peak: f64, partial: f64) -> Vec<f32> {
    let n = (FS * SECONDS) as usize;
    (0..n)
        .map(|i| {
            let t = i as f64 / FS;
            let env = peak * (1.0 - (-t * 20.0).exp());
            let w = 2.0 * std::f64::consts::PI * t;
            (env * ((1.0 - partial) * (220.0 * w).sin() + partial * (2900.0 * w).sin())) as f32
        })
        .collect()
}

fn bench_stages(c: &mut Criterion) {
    let mut group = c.benchmark_group("stages_48k_block64");
    let cases = [
        ("triode_common_cathode", signal(0.5, 0.0)),
        ("diode_clipper", signal(0.5, 0.0)),
        ("tone_stack", signal(0.5, 0.0)),
        ("triode_common_cathode_hard", signal(2.0, 0.2)),
    ];
    for (name, x) in cases {
        group.throughput(Throughput::Elements(x.len() as u64));
        let kind = name.trim_end_matches("_hard");
        let (mut stage, _) = build_stage(kind, &[]).expect("default stage builds");
        stage
            .prepare(&Spec {
                sample_rate: FS,
                max_block: BLOCK,
            })
            .expect("prepare");
        group.bench_function(name, |b| {
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
