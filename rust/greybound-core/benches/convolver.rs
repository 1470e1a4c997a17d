//! Criterion benchmark of the IR convolver: a 1 s impulse response (48 000 samples of
//! exponentially decaying noise, −60 dB at 1 s) at 48 kHz, rendering 1 s of a 0.3 V 220 Hz
//! sine in blocks of 64 (and, for the per-sample path, 1). Throughput is in samples, so
//! ns/sample = 1e9 / (samples/s) and the real-time factor = (samples/s) / 48 000.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use greybound_core::dsp::IrConvolver;
use greybound_core::{Processor, Spec};

const FS: f64 = 48_000.0;

/// Decaying noise: a 64-bit LCG's top bits, scaled by 10^(−3·t) (−60 dB at t = 1 s).
fn ir(n: usize) -> Vec<f64> {
    let mut s: u64 = 0x2545_F491_4F6C_DD1D;
    (0..n)
        .map(|i| {
            s = s
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let u = ((s >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0;
            u * 10f64.powf(-3.0 * i as f64 / FS)
        })
        .collect()
}

fn bench_convolver(c: &mut Criterion) {
    let h = ir(FS as usize);
    let x: Vec<f32> = (0..FS as usize)
        .map(|i| (0.3 * (2.0 * std::f64::consts::PI * 220.0 * i as f64 / FS).sin()) as f32)
        .collect();
    let mut group = c.benchmark_group("ir_convolver_1s_ir_48k");
    group.throughput(Throughput::Elements(x.len() as u64));
    group.sample_size(20);
    for block in [64, 1] {
        let mut conv = IrConvolver::new(&h, FS).expect("valid IR");
        conv.prepare(&Spec {
            sample_rate: FS,
            max_block: block,
        })
        .expect("prepare");
        group.bench_function(format!("block{block}"), |b| {
            b.iter_batched_ref(
                || x.clone(),
                |buf| buf.chunks_mut(block).for_each(|blk| conv.process(blk)),
                BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, bench_convolver);
criterion_main!(benches);
