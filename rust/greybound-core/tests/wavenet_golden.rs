//! The committed WaveNet goldens (`golden/wavenet/<model>/`, made by
//! `greybound-lab wavenet-golden --run-dir DIR` from a `train-wavenet` run) without Python:
//! every file against the manifest's SHA-256, then the runtime streaming the golden artifact
//! in blocks of 64 against PyTorch's vectors, knob sweep included.

use std::path::{Path, PathBuf};

use assert_no_alloc::{assert_no_alloc, AllocDisabler};
use greybound_core::neural::{artifact, WaveNet};
use greybound_core::{Processor, Spec};
use serde_json::Value;
use sha2::{Digest, Sha256};

#[global_allocator]
static ALLOCATOR: AllocDisabler = AllocDisabler;

/// The host block size the runtime is judged at (48 kHz, block 64).
const BLOCK: usize = 64;
/// Rust vs PyTorch, float32 on both sides: the schema's equivalence tolerance, as a
/// fraction of the vectors' output scale (max |output|). Each output is a chain of 30
/// residual layers of K·C-term sums and Snake (a polynomial here, libm `sin` in PyTorch),
/// summed in a different order (fused multiply-adds): a few hundred roundings of 6e-8.
const TOLERANCE: f32 = 1e-5;

/// The golden directories (those with a `manifest.json`), sorted.
fn golden_dirs() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../golden/wavenet");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.join("manifest.json").is_file())
                .collect()
        })
        .unwrap_or_default();
    dirs.sort();
    assert!(
        !dirs.is_empty(),
        "no golden/wavenet/*/manifest.json under {}: run `greybound-lab wavenet-golden`",
        root.display()
    );
    dirs
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn floats(v: &Value, key: &str) -> Vec<f32> {
    v[key]
        .as_array()
        .unwrap_or_else(|| panic!("vectors.json: {key}: missing"))
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

/// One golden: the artifact's runtime, ready at the vectors' rate with their start knobs.
struct Golden {
    dir: PathBuf,
    vectors: Value,
    report: Value,
    declared_macs: f64,
    net: WaveNet,
}

impl Golden {
    fn load(dir: &Path) -> Golden {
        let a = artifact::load(&dir.join("model.greybound.json"))
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        let vectors = read_json(&dir.join("vectors.json"));
        let mut net = WaveNet::new(&a).expect("the golden's layer is a wavenet layer");
        net.prepare(&Spec {
            sample_rate: vectors["sample_rate"].as_f64().unwrap(),
            max_block: BLOCK,
        })
        .unwrap();
        for (name, value) in vectors["controls"].as_object().unwrap() {
            let id = net.control_index(name).expect("a control of the artifact");
            net.set_control_immediate(id as u32, value.as_f64().unwrap() as f32);
        }
        Golden {
            dir: dir.to_path_buf(),
            report: read_json(&dir.join("report.json")),
            declared_macs: a.descriptor.cpu_cost.macs_per_sample,
            vectors,
            net,
        }
    }

    /// The knob jumps: (sample, control id, value), in order.
    fn changes(&self) -> Vec<(usize, u32, f32)> {
        self.vectors["control_changes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                let id = self.net.control_index(c["name"].as_str().unwrap()).unwrap();
                (
                    c["sample"].as_u64().unwrap() as usize,
                    id as u32,
                    c["value"].as_f64().unwrap() as f32,
                )
            })
            .collect()
    }

    /// Streams the vectors' input in blocks of [`BLOCK`], each knob jump applied at once
    /// (no smoothing, as the vectors define it) just before its sample; `changes` = the
    /// jumps to apply.
    fn render(&mut self, changes: &[(usize, u32, f32)]) -> Vec<f32> {
        let mut y = floats(&self.vectors, "input");
        let mut cuts: Vec<usize> = changes.iter().map(|c| c.0.min(y.len())).collect();
        cuts.push(y.len());
        let mut start = 0;
        let net = &mut self.net;
        for (i, end) in cuts.into_iter().enumerate() {
            assert_no_alloc(|| {
                y[start..end].chunks_mut(BLOCK).for_each(|b| net.process(b));
                if let Some(&(_, id, value)) = changes.get(i) {
                    net.set_control_immediate(id, value);
                }
            });
            start = end;
        }
        y
    }
}

#[test]
fn golden_files_match_their_manifest_hashes() {
    for dir in golden_dirs() {
        let manifest = read_json(&dir.join("manifest.json"));
        let files = manifest["files"].as_object().expect("manifest: files");
        for required in [
            "model.greybound.json",
            "weights.greybound.bin",
            "vectors.json",
            "report.json",
            "report.md",
        ] {
            assert!(
                files.contains_key(required),
                "{}: files.{required}: missing",
                dir.display()
            );
        }
        for (name, digest) in files {
            let bytes = std::fs::read(dir.join(name)).unwrap();
            let hex: String = Sha256::digest(&bytes)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            assert_eq!(
                format!("sha256:{hex}"),
                digest.as_str().unwrap(),
                "{}: content does not match manifest files.{name}",
                dir.join(name).display()
            );
        }
    }
}

#[test]
fn golden_runtime_reproduces_pytorch_vectors_with_the_knob_sweep_in_blocks_of_64() {
    for dir in golden_dirs() {
        let mut g = Golden::load(&dir);
        let changes = g.changes();
        let violations = assert_no_alloc::violation_count();
        let y = g.render(&changes);
        assert_eq!(
            assert_no_alloc::violation_count(),
            violations,
            "{}: heap allocation in process/set_control_immediate",
            g.dir.display()
        );
        let want = floats(&g.vectors, "output");
        assert_eq!(y.len(), want.len());
        let scale = want.iter().fold(0f32, |m, w| m.max(w.abs()));
        let err = y
            .iter()
            .zip(&want)
            .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
        assert!(scale > 0.0, "{}: silent vectors", g.dir.display());
        assert!(
            err <= TOLERANCE * scale,
            "{}: max |Rust − PyTorch| {err} V on output scale {scale} V (tolerance {TOLERANCE})",
            g.dir.display()
        );
    }
}

#[test]
fn the_knob_sweep_changes_the_golden_output() {
    // Without the jumps the output is bit-identical up to the first one and far from the
    // vectors after it: the sweep is checked, not just carried along.
    for dir in golden_dirs() {
        let mut g = Golden::load(&dir);
        let changes = g.changes();
        assert!(!changes.is_empty(), "{}: no knob sweep", g.dir.display());
        let swept = g.render(&changes);
        g.net.reset();
        for (name, value) in g.vectors["controls"].as_object().unwrap().clone() {
            let id = g.net.control_index(&name).unwrap();
            g.net
                .set_control_immediate(id as u32, value.as_f64().unwrap() as f32);
        }
        let still = g.render(&[]);
        let first = changes[0].0;
        assert!(
            swept[..first] == still[..first],
            "{}: without jumps the output before the first one must be identical",
            g.dir.display()
        );
        let want = floats(&g.vectors, "output");
        let scale = want.iter().fold(0f32, |m, w| m.max(w.abs()));
        let moved = still[first..]
            .iter()
            .zip(&want[first..])
            .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
        // 100× the equivalence tolerance: a knob the model ignored would stay inside it.
        assert!(
            moved > 100.0 * TOLERANCE * scale,
            "{}: the knob sweep moves the output by only {moved} V",
            g.dir.display()
        );
    }
}

#[test]
fn golden_cost_and_size_match_the_artifact_and_its_report() {
    for dir in golden_dirs() {
        let g = Golden::load(&dir);
        let r = &g.report;
        assert_eq!(
            g.net.macs_per_sample() as f64,
            g.declared_macs,
            "{}",
            g.dir.display()
        );
        assert_eq!(
            g.net.macs_per_sample() as u64,
            r["macs_per_sample"].as_u64().unwrap()
        );
        assert_eq!(
            g.net.parameter_count() as u64,
            r["parameters"].as_u64().unwrap()
        );
        assert_eq!(
            g.net.receptive_field() as u64,
            r["receptive_field_samples"].as_u64().unwrap()
        );
    }
}
