//! Criterion benchmarks of the learned cells: ns/sample of every golden artifact
//! (`golden/cells/*/model.greybound.json`) at its sample rate, block 64, on a 0.3 V 220 Hz
//! sine — one figure per cell family, compared with its declared CPU cost by
//! `tests/cells/test_cell_bench.py`.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use greybound_core::neural::{artifact, NeuralCell};
use greybound_core::{Processor, Spec};
use std::path::Path;

const BLOCK: usize = 64;

fn bench_cells(c: &mut Criterion) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../golden/cells");
    let mut dirs: Vec<_> = std::fs::read_dir(&root)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.join("model.greybound.json").exists())
                .collect()
        })
        .unwrap_or_default();
    dirs.sort();
    let mut group = c.benchmark_group("cells_block64");
    for dir in dirs {
        let a = artifact::load(&dir.join("model.greybound.json")).expect("golden artifact loads");
        let fs = a.descriptor.sample_rate_hz;
        let mut cell = NeuralCell::new(&a);
        cell.prepare(&Spec {
            sample_rate: fs,
            max_block: BLOCK,
        })
        .expect("prepare");
        let x: Vec<f32> = (0..fs as usize / 4)
            .map(|i| (0.3 * (2.0 * std::f64::consts::PI * 220.0 * i as f64 / fs).sin()) as f32)
            .collect();
        group.throughput(Throughput::Elements(x.len() as u64));
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        group.bench_function(name, |b| {
            b.iter_batched_ref(
                || x.clone(),
                |buf| buf.chunks_mut(BLOCK).for_each(|blk| cell.process(blk)),
                BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, bench_cells);
criterion_main!(benches);
