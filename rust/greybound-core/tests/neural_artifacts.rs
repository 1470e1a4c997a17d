//! The strict artifact reader and the neural-cell runtime, without Python: hand-built
//! artifacts for every error class, a fuzzed descriptor parser, allocation-free processing,
//! and the committed golden artifacts against their PyTorch equivalence vectors.

use std::path::{Path, PathBuf};

use assert_no_alloc::{assert_no_alloc, AllocDisabler};
use greybound_core::neural::{artifact, NeuralCell};
use greybound_core::{Processor, Spec};
use proptest::prelude::*;
use sha2::{Digest, Sha256};

#[global_allocator]
static ALLOCATOR: AllocDisabler = AllocDisabler;

/// A tiny MLP artifact (2-sample context → 3 tanh → 1) written into a fresh directory.
struct Fixture {
    dir: PathBuf,
}

impl Fixture {
    fn new(tag: &str) -> Fixture {
        let dir =
            std::env::temp_dir().join(format!("greybound-artifact-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Fixture { dir }
    }

    fn weights() -> Vec<f32> {
        // dense0.weight [3, 2], dense0.bias [3], dense1.weight [1, 3], dense1.bias [1]
        vec![
            0.5, -0.25, 1.0, 0.75, -1.5, 0.1, 0.0, 0.2, -0.3, 1.0, -2.0, 0.5, 0.05,
        ]
    }

    fn write(&self, weights: &[f32], edit: impl Fn(&mut serde_json::Value)) -> PathBuf {
        let bytes: Vec<u8> = weights.iter().flat_map(|w| w.to_le_bytes()).collect();
        std::fs::write(self.dir.join("weights.greybound.bin"), &bytes).unwrap();
        let sha: String = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let mut d = serde_json::json!({
            "schema_version": 1, "format": "greybound-model", "name": "tiny", "family": "mlp",
            "sample_rate_hz": 48000.0, "sample_rates_supported": [48000.0],
            "input": {"context_samples": 2, "scale": 1.0, "offset": 0.0, "range": [-2.0, 2.0], "clamp": "saturate"},
            "output": {"scale": 10.0, "offset": 0.0, "range": [-50.0, 50.0], "clamp": "saturate"},
            "layers": [
                {"kind": "dense", "inputs": 2, "outputs": 3, "activation": "tanh", "weight": "w0", "bias": "b0"},
                {"kind": "dense", "inputs": 3, "outputs": 1, "activation": "identity", "weight": "w1", "bias": "b1"}
            ],
            "tensors": {"w0": {"shape": [3, 2], "offset": 0}, "b0": {"shape": [3], "offset": 24},
                        "w1": {"shape": [1, 3], "offset": 36}, "b1": {"shape": [1], "offset": 48}},
            "weights": {"file": "weights.greybound.bin", "bytes": bytes.len(), "sha256": sha},
            "latency_samples": 0, "lookahead_samples": 0, "allocation": "preallocated",
            "cpu_cost": {"macs_per_sample": 9, "ns_per_sample": 10.0},
            "provenance": {"note": "hand-built test artifact"}
        });
        edit(&mut d);
        let path = self.dir.join("model.greybound.json");
        std::fs::write(&path, serde_json::to_string_pretty(&d).unwrap()).unwrap();
        path
    }
}

fn load_err(path: &Path) -> artifact::ArtifactError {
    artifact::load(path).expect_err("the artifact must be rejected")
}

#[test]
fn a_valid_artifact_computes_the_network_by_hand() {
    let f = Fixture::new("valid");
    let a = artifact::load(&f.write(&Fixture::weights(), |_| {})).unwrap();
    let mut cell = NeuralCell::new(&a);
    cell.prepare(&Spec {
        sample_rate: 48_000.0,
        max_block: 8,
    })
    .unwrap();
    let mut buf = [0.4f32, -0.8];
    cell.process(&mut buf);
    // Second sample sees the window [0.4, -0.8] (oldest first).
    let w = Fixture::weights();
    let h: Vec<f32> = (0..3)
        .map(|o| (w[6 + o] + w[2 * o] * 0.4 + w[2 * o + 1] * -0.8).tanh())
        .collect();
    let y = (w[12] + w[9] * h[0] + w[10] * h[1] + w[11] * h[2]) * 10.0;
    assert!((buf[1] - y).abs() < 1e-5, "{} vs {y}", buf[1]);
}

#[test]
fn unknown_schema_version_is_named() {
    let f = Fixture::new("version");
    let e = load_err(&f.write(&Fixture::weights(), |d| d["schema_version"] = 7.into()));
    assert_eq!(e.field, "schema_version");
    assert!(
        e.reason.contains("unknown schema version 7") && e.file.ends_with("model.greybound.json")
    );
}

#[test]
fn shape_mismatch_is_named() {
    let f = Fixture::new("shape");
    let e = load_err(&f.write(&Fixture::weights(), |d| {
        d["tensors"]["w0"]["shape"] = serde_json::json!([2, 3])
    }));
    assert_eq!(e.field, "tensors.w0.shape");
}

#[test]
fn wrong_checksum_is_named() {
    let f = Fixture::new("sha");
    let e = load_err(&f.write(&Fixture::weights(), |d| {
        d["weights"]["sha256"] = "00".repeat(32).into()
    }));
    assert_eq!(e.field, "weights.sha256");
    assert!(e.file.ends_with("weights.greybound.bin"));
}

#[test]
fn truncated_weights_are_named() {
    let f = Fixture::new("trunc");
    let path = f.write(&Fixture::weights(), |_| {});
    let bytes = std::fs::read(f.dir.join("weights.greybound.bin")).unwrap();
    std::fs::write(
        f.dir.join("weights.greybound.bin"),
        &bytes[..bytes.len() - 3],
    )
    .unwrap();
    assert_eq!(load_err(&path).field, "weights.bytes");
}

#[test]
fn non_finite_weights_are_named() {
    let f = Fixture::new("nan");
    let mut w = Fixture::weights();
    w[7] = f32::NAN;
    let e = load_err(&f.write(&w, |_| {}));
    assert_eq!(e.field, "tensors.b0");
    assert!(e.reason.contains("value 1 is NaN"));
}

#[test]
fn missing_and_unknown_fields_are_named() {
    let f = Fixture::new("fields");
    let e = load_err(&f.write(&Fixture::weights(), |d| {
        d["input"].as_object_mut().unwrap().remove("scale");
    }));
    assert!(
        e.field.starts_with("input") && e.reason.contains("scale"),
        "{e}"
    );
    let e = load_err(&f.write(&Fixture::weights(), |d| {
        d["layers"][0]["activation"] = "gelu".into()
    }));
    assert!(e.field.starts_with("layers[0]"), "{e}");
    let e = load_err(&f.write(&Fixture::weights(), |d| {
        d["input"]["range"] = serde_json::json!([1.0, -1.0])
    }));
    assert_eq!(e.field, "input.range");
}

#[test]
fn unsupported_sample_rate_is_refused_at_prepare() {
    let f = Fixture::new("rate");
    let a = artifact::load(&f.write(&Fixture::weights(), |_| {})).unwrap();
    let err = NeuralCell::new(&a)
        .prepare(&Spec {
            sample_rate: 44_100.0,
            max_block: 8,
        })
        .unwrap_err();
    assert!(err
        .to_string()
        .contains("supports sample rates [48000.0] Hz, not 44100 Hz"));
}

#[test]
fn process_is_allocation_free_and_bounded() {
    let f = Fixture::new("alloc");
    let a = artifact::load(&f.write(&Fixture::weights(), |_| {})).unwrap();
    let mut cell = NeuralCell::new(&a);
    cell.prepare(&Spec {
        sample_rate: 48_000.0,
        max_block: 64,
    })
    .unwrap();
    let mut buf: Vec<f32> = (0..64)
        .map(|i| [f32::NAN, f32::INFINITY, -1e30, 0.3][i % 4])
        .collect();
    let violations = assert_no_alloc::violation_count();
    assert_no_alloc(|| {
        cell.process(&mut buf);
        cell.reset();
    });
    // With the `warn_debug` feature a violation is counted, not aborted: check it.
    assert_eq!(
        assert_no_alloc::violation_count(),
        violations,
        "heap allocation in process/reset"
    );
    assert!(buf.iter().all(|y| y.is_finite() && y.abs() <= 50.0));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    /// No byte string makes the descriptor parser panic.
    #[test]
    fn descriptor_parser_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let _ = artifact::parse_descriptor(&String::from_utf8_lossy(&bytes));
    }

    /// Mutating any byte of a valid descriptor gives either a valid descriptor or an error.
    #[test]
    fn mutated_descriptors_never_panic(pos in 0usize..2000, byte in any::<u8>()) {
        let f = Fixture::new("mutate");
        let text = std::fs::read_to_string(f.write(&Fixture::weights(), |_| {})).unwrap();
        let mut bytes = text.into_bytes();
        let at = pos % bytes.len();
        bytes[at] = byte;
        let _ = artifact::parse_descriptor(&String::from_utf8_lossy(&bytes));
    }
}

/// Golden artifacts committed under `golden/cells/<name>/` with `vectors.json` written by
/// `greybound-lab export-neural-cell-vectors` (PyTorch's output for a fixed input).
fn golden_vector_files() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../golden/cells");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&root)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.path().join("vectors.json"))
                .filter(|p| p.exists())
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

#[test]
fn golden_artifacts_match_their_pytorch_vectors() {
    let files = golden_vector_files();
    assert!(
        !files.is_empty(),
        "no golden/cells/*/vectors.json found: run `make lab-train-cells`"
    );
    for file in files {
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        let a = artifact::load(
            &file
                .parent()
                .unwrap()
                .join(v["descriptor"].as_str().unwrap()),
        )
        .unwrap();
        let mut cell = NeuralCell::new(&a);
        cell.prepare(&Spec {
            sample_rate: v["sample_rate"].as_f64().unwrap(),
            max_block: 4096,
        })
        .unwrap();
        // Vectors apply controls at once (no smoothing): the same as `set_param` for the
        // cell families, the unsmoothed path for a wavenet.
        for (name, value) in v["controls"].as_object().unwrap() {
            cell.set_control_immediate(
                cell.control_index(name).unwrap() as u32,
                value.as_f64().unwrap() as f32,
            );
        }
        let mut y: Vec<f32> = v["input"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap() as f32)
            .collect();
        let want: Vec<f32> = v["output"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap() as f32)
            .collect();
        // A wavenet's knob sweep: from `sample` on, control `name` has `value` (at once).
        let changes = v["control_changes"].as_array().cloned().unwrap_or_default();
        let mut start = 0;
        for change in &changes {
            let at = (change["sample"].as_u64().unwrap() as usize).min(y.len());
            cell.process(&mut y[start..at]);
            let id = cell
                .control_index(change["name"].as_str().unwrap())
                .unwrap();
            cell.set_control_immediate(id as u32, change["value"].as_f64().unwrap() as f32);
            start = at;
        }
        cell.process(&mut y[start..]);
        let scale = want.iter().fold(0f32, |m, w| m.max(w.abs()));
        let err = y
            .iter()
            .zip(&want)
            .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
        // float32 on both sides, different summation orders: a few ulp per layer. MLP/table
        // ≤ 1e-6 of the output scale; the GRU's recurrence compounds rounding: ≤ 5e-6; a
        // wavenet's 30-layer residual stack with Snake polynomials (runtime) against libm
        // sin (PyTorch): the schema's ≤ 1e-5.
        let tol = match v["family"].as_str() {
            Some("gru") => 5e-6,
            Some("wavenet") => 1e-5,
            _ => 1e-6,
        };
        assert!(
            err <= tol * scale,
            "{}: max error {err} on scale {scale}",
            file.display()
        );
    }
}
