//! The Greybound artifact: `model.greybound.json` + `weights.greybound.bin`, read strictly.
//!
//! Schema (version 1; JSON or JSON5):
//! ```json5
//! {
//!   schema_version: 1, format: "greybound-model", name: "...", family: "mlp"|"gru"|"table",
//!   cell: "common-cathode-12ax7",            // the circuit cell it stands for (optional)
//!   sample_rate_hz: 48000, sample_rates_supported: [48000],
//!   input:  { context_samples: 8, scale: 0.5, offset: 0, range: [-4, 4], clamp: "saturate" },
//!   controls: [ { name: "b_plus", default: 250, scale: 0.02, offset: 250, range: [200, 300],
//!                 log10: false } ],
//!   output: { scale: 40, offset: 0, range: [-250, 250], clamp: "saturate" },
//!   layers: [ { kind: "dense", inputs: 8, outputs: 16, activation: "tanh",
//!               weight: "l0.weight", bias: "l0.bias" },
//!             { kind: "gru", inputs: 1, hidden: 8, weight_ih: "...", weight_hh: "...",
//!               bias_ih: "...", bias_hh: "..." },
//!             { kind: "table", x_min: -1, x_max: 1, values: "table" } ],
//!   // family "wavenet": exactly one layer { kind: "wavenet", channels, kernel_size,
//!   //   dilations, activation: "snake", film_hidden, tensors: { input_weight, ... } }
//!   // (notes/wavenet_schema.md; shapes checked against C, L, kernel, H, controls)
//!   tensors: { "l0.weight": { shape: [16, 8], offset: 0 }, ... },   // offsets in bytes
//!   weights: { file: "weights.greybound.bin", bytes: 1234, sha256: "hex" },
//!   latency_samples: 0, lookahead_samples: 0, allocation: "preallocated",
//!   cpu_cost: { macs_per_sample: 400, ns_per_sample: 150 },
//!   provenance: { ... free-form: dataset hash, git commit, seed, training metrics ... },
//! }
//! ```
//! Units: the input is volts at the cell's input; the network sees `(x − offset)·scale`
//! after clamping `x` to `range` (V). Its raw output `r` becomes `r·scale + offset` volts,
//! clamped to `range` when `clamp` is "saturate". The input feature vector is the last
//! `context_samples` conditioned inputs, oldest first (causal: no lookahead, no latency),
//! followed by each control's `(f(clamp(value, range)) − offset)·scale`, f = log10 when the
//! control says `log10: true` (impedances), identity otherwise (operating-point features or
//! knobs, in declaration order; optional).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha256};

/// The artifact schema version this runtime reads.
pub const SCHEMA_VERSION: u32 = 1;
/// Value of the `format` field.
pub const FORMAT: &str = "greybound-model";
/// Largest layer width or context the runtime accepts (keeps scratch buffers small).
pub const MAX_WIDTH: usize = 4096;

/// An artifact error: the file, the field (a JSON path or tensor name) and what is wrong.
#[derive(Debug, Clone, PartialEq)]
pub struct ArtifactError {
    pub file: PathBuf,
    pub field: String,
    pub reason: String,
}

impl std::fmt::Display for ArtifactError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: field '{}': {}",
            self.file.display(),
            self.field,
            self.reason
        )
    }
}

impl std::error::Error for ArtifactError {}

/// What happens outside the declared range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Clamp {
    /// Values are clipped to the range.
    Saturate,
    /// Values pass unchanged (outputs only; inputs must saturate).
    None,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputSpec {
    pub context_samples: usize,
    pub scale: f64,
    pub offset: f64,
    pub range: [f64; 2],
    pub clamp: Clamp,
}

/// A control input (operating-point feature or knob), held constant between changes.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControlSpec {
    pub name: String,
    pub default: f64,
    pub scale: f64,
    pub offset: f64,
    pub range: [f64; 2],
    #[serde(default)]
    pub log10: bool,
}

impl ControlSpec {
    /// The feature the network sees for a raw control value: clamped to `range` (NaN →
    /// `default`), log10 when declared, then `(f − offset)·scale`.
    pub fn feature(&self, value: f64) -> f64 {
        let v = if value.is_nan() {
            self.default
        } else {
            value.clamp(self.range[0], self.range[1])
        };
        let f = if self.log10 { v.log10() } else { v };
        (f - self.offset) * self.scale
    }
}

/// `Ok` when `spec`'s sample rate is one of `rates` (Hz, within 1e-6); else an
/// `InvalidSpec` error naming `what` (e.g. "wavenet 'nox30'") and the supported rates.
pub(crate) fn check_sample_rate(
    what: &str,
    rates: &[f64],
    spec: &crate::processor::Spec,
) -> Result<(), crate::error::Error> {
    if rates.iter().any(|r| (r - spec.sample_rate).abs() < 1e-6) {
        return Ok(());
    }
    Err(crate::error::Error::InvalidSpec {
        reason: format!(
            "{what} supports sample rates {rates:?} Hz, not {} Hz",
            spec.sample_rate
        ),
    })
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputSpec {
    pub scale: f64,
    pub offset: f64,
    pub range: [f64; 2],
    pub clamp: Clamp,
}

/// Layer activation functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    Identity,
    Tanh,
    Relu,
    Sigmoid,
}

/// One layer, as declared.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum LayerSpec {
    /// y = act(W·x + b); W has shape [outputs, inputs].
    Dense {
        inputs: usize,
        outputs: usize,
        activation: Activation,
        weight: String,
        bias: String,
    },
    /// PyTorch-convention GRU cell (gates r, z, n); weight_ih [3H, I], weight_hh [3H, H].
    Gru {
        inputs: usize,
        hidden: usize,
        weight_ih: String,
        weight_hh: String,
        bias_ih: String,
        bias_hh: String,
    },
    /// Piecewise-linear lookup of one input over [x_min, x_max] (values at evenly spaced
    /// points; clamped at the ends).
    Table {
        x_min: f64,
        x_max: f64,
        values: String,
    },
    /// Knob-conditioned WaveNet (family "wavenet"; must be the only layer): `channels` C,
    /// dilated causal convolutions of `kernel_size` taps with one layer per dilation, FiLM
    /// from a `film_hidden`-wide tanh MLP of the controls, Snake activation, residual and
    /// skip sums, linear head. See [`crate::neural::WaveNet`] for the per-sample formula.
    Wavenet {
        channels: usize,
        kernel_size: usize,
        dilations: Vec<usize>,
        /// Only "snake" (x + sin²(αx)/α) is defined; checked by the reader.
        activation: String,
        film_hidden: usize,
        tensors: Box<WaveNetTensors>,
    },
}

/// Tensor names of a wavenet layer (keys of the top-level `tensors` table).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WaveNetTensors {
    pub input_weight: String,
    pub input_bias: String,
    pub conv_weight: String,
    pub conv_bias: String,
    pub snake_alpha: String,
    pub film_w1: String,
    pub film_b1: String,
    pub film_w2: String,
    pub film_b2: String,
    pub head_weight: String,
    pub head_bias: String,
}

/// Largest kernel, layer count and dilation a wavenet layer may declare.
pub const MAX_KERNEL: usize = 64;
pub const MAX_WAVENET_LAYERS: usize = 1024;
pub const MAX_DILATION: usize = 1 << 16;
/// Largest total history Σ_l (K−1)·d_l (samples per channel) a wavenet may need: 2^22
/// samples, 87 s at 48 kHz — far beyond any amp model, small enough to allocate.
pub const MAX_WAVENET_HISTORY: usize = 1 << 22;

impl LayerSpec {
    /// (input width, output width).
    pub fn widths(&self) -> (usize, usize) {
        match self {
            LayerSpec::Dense {
                inputs, outputs, ..
            } => (*inputs, *outputs),
            LayerSpec::Gru { inputs, hidden, .. } => (*inputs, *hidden),
            LayerSpec::Table { .. } => (1, 1),
            LayerSpec::Wavenet { .. } => (1, 1),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TensorSpec {
    pub shape: Vec<usize>,
    /// Byte offset into the weights file.
    pub offset: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeightsSpec {
    pub file: String,
    pub bytes: usize,
    pub sha256: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CpuCost {
    pub macs_per_sample: f64,
    pub ns_per_sample: f64,
}

/// The descriptor as written in `model.greybound.json`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Descriptor {
    pub schema_version: u32,
    pub format: String,
    pub name: String,
    pub family: String,
    #[serde(default)]
    pub cell: Option<String>,
    pub sample_rate_hz: f64,
    pub sample_rates_supported: Vec<f64>,
    pub input: InputSpec,
    #[serde(default)]
    pub controls: Vec<ControlSpec>,
    pub output: OutputSpec,
    pub layers: Vec<LayerSpec>,
    pub tensors: BTreeMap<String, TensorSpec>,
    pub weights: WeightsSpec,
    pub latency_samples: usize,
    pub lookahead_samples: usize,
    pub allocation: String,
    pub cpu_cost: CpuCost,
    #[serde(default)]
    pub provenance: serde_json::Value,
}

/// A loaded, validated artifact: descriptor plus tensors by name.
#[derive(Debug, Clone)]
pub struct Artifact {
    pub path: PathBuf,
    pub descriptor: Descriptor,
    pub tensors: BTreeMap<String, Vec<f32>>,
}

impl Artifact {
    /// A tensor's values (validated to exist at load).
    pub fn tensor(&self, name: &str) -> &[f32] {
        self.tensors.get(name).map(Vec::as_slice).unwrap_or(&[])
    }
}

/// Reads and validates an artifact from its descriptor path (`model.greybound.json`); the
/// weights file is resolved relative to it. Never panics on any file content.
pub fn load(descriptor_path: &Path) -> Result<Artifact, ArtifactError> {
    let err = |file: &Path, field: &str, reason: String| ArtifactError {
        file: file.to_path_buf(),
        field: field.to_string(),
        reason,
    };
    let text = std::fs::read_to_string(descriptor_path)
        .map_err(|e| err(descriptor_path, "(file)", format!("cannot read: {e}")))?;
    let descriptor =
        parse_descriptor(&text).map_err(|(field, reason)| err(descriptor_path, &field, reason))?;
    let weights_path = descriptor_path
        .parent()
        .unwrap_or(Path::new("."))
        .join(&descriptor.weights.file);
    let bytes = std::fs::read(&weights_path).map_err(|e| {
        err(
            descriptor_path,
            "weights.file",
            format!("cannot read {}: {e}", weights_path.display()),
        )
    })?;
    let tensors =
        decode_weights(&descriptor, &bytes).map_err(|(file_is_weights, field, reason)| {
            err(
                if file_is_weights {
                    &weights_path
                } else {
                    descriptor_path
                },
                &field,
                reason,
            )
        })?;
    Ok(Artifact {
        path: descriptor_path.to_path_buf(),
        descriptor,
        tensors,
    })
}

/// Parses and checks a descriptor's text. Errors are `(field, reason)`.
pub fn parse_descriptor(text: &str) -> Result<Descriptor, (String, String)> {
    let value: serde_json::Value =
        json5::from_str(text).map_err(|e| ("(syntax)".to_string(), e.to_string()))?;
    // Check the version before the shape, so a future schema gets the right message.
    match value.get("schema_version").and_then(|v| v.as_u64()) {
        Some(v) if v == SCHEMA_VERSION as u64 => {}
        Some(v) => {
            return Err((
                "schema_version".into(),
                format!("unknown schema version {v} (this runtime reads {SCHEMA_VERSION})"),
            ))
        }
        None => return Err(("schema_version".into(), "missing or not an integer".into())),
    }
    let d: Descriptor = serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        (
            if path == "." { "(root)".into() } else { path },
            e.into_inner().to_string(),
        )
    })?;
    check_descriptor(&d)?;
    Ok(d)
}

fn finite_range(r: [f64; 2]) -> bool {
    r[0].is_finite() && r[1].is_finite() && r[0] < r[1]
}

fn check_descriptor(d: &Descriptor) -> Result<(), (String, String)> {
    let fail = |field: &str, reason: String| Err((field.to_string(), reason));
    if d.format != FORMAT {
        return fail("format", format!("expected '{FORMAT}', got '{}'", d.format));
    }
    if !(d.sample_rate_hz.is_finite() && d.sample_rate_hz > 0.0) {
        return fail(
            "sample_rate_hz",
            format!("must be a positive number, got {}", d.sample_rate_hz),
        );
    }
    if !d
        .sample_rates_supported
        .iter()
        .any(|r| (r - d.sample_rate_hz).abs() < 1e-9)
    {
        return fail(
            "sample_rates_supported",
            "must include sample_rate_hz".into(),
        );
    }
    let io = [
        ("input", d.input.scale, d.input.offset, d.input.range),
        ("output", d.output.scale, d.output.offset, d.output.range),
    ];
    for (name, scale, offset, range) in io {
        if !(scale.is_finite() && scale != 0.0) {
            return fail(
                &format!("{name}.scale"),
                format!("must be finite and non-zero, got {scale}"),
            );
        }
        if !offset.is_finite() {
            return fail(
                &format!("{name}.offset"),
                format!("must be finite, got {offset}"),
            );
        }
        if !finite_range(range) {
            return fail(
                &format!("{name}.range"),
                format!("must be [low, high] with low < high, got {range:?}"),
            );
        }
    }
    if d.input.clamp != Clamp::Saturate {
        return fail(
            "input.clamp",
            "inputs must saturate (the runtime bounds every input)".into(),
        );
    }
    if d.input.context_samples == 0 || d.input.context_samples > MAX_WIDTH {
        return fail("input.context_samples", format!("must be 1..={MAX_WIDTH}"));
    }
    for (k, c) in d.controls.iter().enumerate() {
        let field = format!("controls[{k}]");
        if !(c.scale.is_finite() && c.scale != 0.0 && c.offset.is_finite()) {
            return fail(
                &format!("{field}.scale"),
                "scale must be finite and non-zero, offset finite".into(),
            );
        }
        if !finite_range(c.range) || !(c.range[0]..=c.range[1]).contains(&c.default) {
            return fail(
                &format!("{field}.range"),
                format!("must be [low, high] containing the default {}", c.default),
            );
        }
        if c.log10 && c.range[0] <= 0.0 {
            return fail(
                &format!("{field}.range"),
                "a log10 control needs a positive range".into(),
            );
        }
    }
    if d.latency_samples != 0 || d.lookahead_samples != 0 {
        return fail(
            "latency_samples",
            "causal cells have zero latency and lookahead".into(),
        );
    }
    if d.layers.is_empty() {
        return fail("layers", "at least one layer is required".into());
    }
    if let Some(k) = d
        .layers
        .iter()
        .position(|l| matches!(l, LayerSpec::Wavenet { .. }))
    {
        if d.layers.len() != 1 {
            return fail(
                &format!("layers[{k}]"),
                format!(
                    "a wavenet layer must be the only layer ({} layers declared)",
                    d.layers.len()
                ),
            );
        }
        return check_wavenet(d);
    }
    if d.family == "wavenet" {
        return fail(
            "family",
            "family 'wavenet' needs a single layer of kind 'wavenet'".into(),
        );
    }
    let mut width = d.input.context_samples + d.controls.len();
    for (k, layer) in d.layers.iter().enumerate() {
        let (inputs, outputs) = layer.widths();
        let field = format!("layers[{k}]");
        if inputs != width {
            return fail(
                &format!("{field}.inputs"),
                format!("is {inputs} but the previous stage gives {width}"),
            );
        }
        if outputs == 0 || outputs > MAX_WIDTH {
            return fail(
                &field,
                format!("output width {outputs} outside 1..={MAX_WIDTH}"),
            );
        }
        for (tensor, shape) in expected_shapes(layer) {
            let spec = d.tensors.get(&tensor).ok_or((
                format!("tensors.{tensor}"),
                format!("missing (used by {field})"),
            ))?;
            if let Some(shape) = shape {
                if spec.shape != shape {
                    return fail(
                        &format!("tensors.{tensor}.shape"),
                        format!("is {:?}, {field} needs {shape:?}", spec.shape),
                    );
                }
            } else if spec.shape.len() != 1 || spec.shape[0] < 2 {
                return fail(
                    &format!("tensors.{tensor}.shape"),
                    "a table needs a 1-D shape with ≥ 2 points".into(),
                );
            }
        }
        if let LayerSpec::Table { x_min, x_max, .. } = layer {
            if !finite_range([*x_min, *x_max]) {
                return fail(
                    &format!("{field}.x_min"),
                    "must be finite with x_min < x_max".into(),
                );
            }
        }
        width = outputs;
    }
    if width != 1 {
        return fail(
            "layers",
            format!("the last layer must give 1 output, gives {width}"),
        );
    }
    Ok(())
}

/// The wavenet family's checks: one layer of kind "wavenet", a 1-sample input, sizes within
/// bounds and every tensor shaped from C, L, K (kernel), H and the number of controls.
fn check_wavenet(d: &Descriptor) -> Result<(), (String, String)> {
    let fail = |field: &str, reason: String| Err((field.to_string(), reason));
    let LayerSpec::Wavenet {
        channels,
        kernel_size,
        dilations,
        activation,
        film_hidden,
        tensors,
    } = &d.layers[0]
    else {
        return fail("layers[0]", "not a wavenet layer".into());
    };
    if d.family != "wavenet" {
        return fail(
            "family",
            format!("a wavenet layer needs family 'wavenet', got '{}'", d.family),
        );
    }
    if d.input.context_samples != 1 {
        return fail(
            "input.context_samples",
            format!(
                "a wavenet reads one sample at a time (its history is in the layers): must be 1, got {}",
                d.input.context_samples
            ),
        );
    }
    let f = "layers[0]";
    if *channels == 0 || *channels > MAX_WIDTH {
        return fail(
            &format!("{f}.channels"),
            format!("must be 1..={MAX_WIDTH}, got {channels}"),
        );
    }
    if *kernel_size == 0 || *kernel_size > MAX_KERNEL {
        return fail(
            &format!("{f}.kernel_size"),
            format!("must be 1..={MAX_KERNEL}, got {kernel_size}"),
        );
    }
    if dilations.is_empty() || dilations.len() > MAX_WAVENET_LAYERS {
        return fail(
            &format!("{f}.dilations"),
            format!(
                "must list 1..={MAX_WAVENET_LAYERS} layers, got {}",
                dilations.len()
            ),
        );
    }
    if let Some(i) = dilations
        .iter()
        .position(|&dl| dl == 0 || dl > MAX_DILATION)
    {
        return fail(
            &format!("{f}.dilations[{i}]"),
            format!("must be 1..={MAX_DILATION}, got {}", dilations[i]),
        );
    }
    let history: usize = dilations.iter().map(|dl| (kernel_size - 1) * dl).sum();
    if history > MAX_WAVENET_HISTORY {
        return fail(
            &format!("{f}.dilations"),
            format!("receptive field {history} samples exceeds {MAX_WAVENET_HISTORY}"),
        );
    }
    if activation != "snake" {
        return fail(
            &format!("{f}.activation"),
            format!("unknown activation '{activation}' (a wavenet layer supports 'snake')"),
        );
    }
    if *film_hidden == 0 || *film_hidden > MAX_WIDTH {
        return fail(
            &format!("{f}.film_hidden"),
            format!("must be 1..={MAX_WIDTH}, got {film_hidden}"),
        );
    }
    let (c, l, k, h, n) = (
        *channels,
        dilations.len(),
        *kernel_size,
        *film_hidden,
        d.controls.len(),
    );
    let t = tensors;
    let wanted = [
        ("input_weight", &t.input_weight, vec![c, 1]),
        ("input_bias", &t.input_bias, vec![c]),
        ("conv_weight", &t.conv_weight, vec![l, c, c, k]),
        ("conv_bias", &t.conv_bias, vec![l, c]),
        ("snake_alpha", &t.snake_alpha, vec![l, c]),
        ("film_w1", &t.film_w1, vec![h, n]),
        ("film_b1", &t.film_b1, vec![h]),
        ("film_w2", &t.film_w2, vec![2 * c * l, h]),
        ("film_b2", &t.film_b2, vec![2 * c * l]),
        ("head_weight", &t.head_weight, vec![1, c]),
        ("head_bias", &t.head_bias, vec![1]),
    ];
    for (role, name, shape) in wanted {
        let spec = d.tensors.get(name.as_str()).ok_or((
            format!("tensors.{name}"),
            format!("missing (used by {f}.tensors.{role})"),
        ))?;
        if spec.shape != shape {
            return fail(
                &format!("tensors.{name}.shape"),
                format!(
                    "is {:?}, {f}.tensors.{role} needs {shape:?} (C={c}, L={l}, kernel={k}, H={h}, controls={n})",
                    spec.shape
                ),
            );
        }
    }
    Ok(())
}

/// Tensor names a layer uses with their required shapes (`None`: a table, checked apart).
fn expected_shapes(layer: &LayerSpec) -> Vec<(String, Option<Vec<usize>>)> {
    match layer {
        LayerSpec::Dense {
            inputs,
            outputs,
            weight,
            bias,
            ..
        } => {
            vec![
                (weight.clone(), Some(vec![*outputs, *inputs])),
                (bias.clone(), Some(vec![*outputs])),
            ]
        }
        LayerSpec::Gru {
            inputs,
            hidden,
            weight_ih,
            weight_hh,
            bias_ih,
            bias_hh,
        } => vec![
            (weight_ih.clone(), Some(vec![3 * hidden, *inputs])),
            (weight_hh.clone(), Some(vec![3 * hidden, *hidden])),
            (bias_ih.clone(), Some(vec![3 * hidden])),
            (bias_hh.clone(), Some(vec![3 * hidden])),
        ],
        LayerSpec::Table { values, .. } => vec![(values.clone(), None)],
        // Checked by `check_wavenet` (it needs the controls and the whole layer).
        LayerSpec::Wavenet { .. } => Vec::new(),
    }
}

/// Decodes every tensor. Errors: (is-about-the-weights-file, field, reason).
fn decode_weights(
    d: &Descriptor,
    bytes: &[u8],
) -> Result<BTreeMap<String, Vec<f32>>, (bool, String, String)> {
    if bytes.len() != d.weights.bytes {
        return Err((
            true,
            "weights.bytes".into(),
            format!(
                "file has {} bytes, descriptor declares {} (truncated or wrong file)",
                bytes.len(),
                d.weights.bytes
            ),
        ));
    }
    let digest: String = Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    if !digest.eq_ignore_ascii_case(&d.weights.sha256) {
        return Err((
            true,
            "weights.sha256".into(),
            format!(
                "checksum {digest} does not match the descriptor's {}",
                d.weights.sha256
            ),
        ));
    }
    let mut out = BTreeMap::new();
    for (name, spec) in &d.tensors {
        let field = format!("tensors.{name}");
        let count = spec.shape.iter().try_fold(1usize, |a, &b| a.checked_mul(b));
        let end = count
            .and_then(|c| c.checked_mul(4))
            .and_then(|n| n.checked_add(spec.offset));
        let (count, end) = match (count, end) {
            (Some(c), Some(e)) if spec.offset % 4 == 0 && e <= bytes.len() => (c, e),
            _ => {
                return Err((
                    false,
                    format!("{field}.offset"),
                    format!(
                        "shape {:?} at byte {} does not fit 4-byte-aligned in {} bytes",
                        spec.shape,
                        spec.offset,
                        bytes.len()
                    ),
                ))
            }
        };
        let values: Vec<f32> = bytes[spec.offset..end]
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        debug_assert_eq!(values.len(), count);
        if let Some(bad) = values.iter().position(|v| !v.is_finite()) {
            return Err((
                true,
                field,
                format!(
                    "value {bad} is {} (NaN/Inf weights are rejected)",
                    values[bad]
                ),
            ));
        }
        out.insert(name.clone(), values);
    }
    Ok(out)
}
