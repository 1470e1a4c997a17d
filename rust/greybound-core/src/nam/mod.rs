//! `.nam` files (Neural Amp Modeler, format versions 0.5.x–0.7.x): a strict loader and a
//! streaming, allocation-free renderer.
//!
//! Architectures: `WaveNet` (A1 and A2 layer arrays with every 0.6/0.7 feature: bottleneck,
//! grouped convolutions, FiLM, layer1x1/head1x1, gated and blended activations, per-layer
//! kernel sizes, head objects, post-stack head, `condition_dsp`, slimmable arrays), `LSTM`,
//! `Linear`, and `SlimmableContainer`. Semantics are those of the official trainer
//! (`neural-amp-modeler`, `nam.models`); see the `wavenet` and `recurrent` submodules for the maths.
//! Any key the loader does not implement is an error naming the file and the key path
//! (`A2.nam: config.submodels[1].model.config.layers[0].packing: unsupported key ...`),
//! never a silently different render. Top-level keys other than `version`,
//! `architecture`, `config`, `weights`, `sample_rate`, `metadata` carry no semantics and
//! are ignored.
//!
//! Slim value (0 ≤ slim ≤ 1): a `SlimmableContainer` runs the first submodel whose
//! `max_value` exceeds it (the last one otherwise); a slimmable WaveNet runs
//! `allowed_channels[min(⌊slim·n⌋, n−1)]` channels. Without a slim value the full-size
//! model runs (slim = 1, the last submodel) — the default of NeuralAmpModelerCore and of
//! the trainer, and the capture's highest-fidelity variant.
//!
//! Real time: every buffer is allocated at load. `process` cuts a block of any length into
//! chunks of [`CHUNK`] samples and never allocates; each output sample is computed by the
//! same operations whatever the block size, so output is bit-identical for any blocking.
//! `reset` zeroes the state and prewarms on zeros for one receptive field, as
//! NeuralAmpModelerCore does; after it, a render equals the trainer's zero-padded
//! (`pad_start=True`) output. The prewarm is computed in one pass: every convolution is
//! time-invariant, so one receptive field of a constant input leaves each history filled
//! with one constant; filling each history with its input as one zero sample flows
//! through the network reaches that state exactly (bit-identical, tested) at the cost of
//! one sample. An LSTM's receptive field is one sample: it steps once on zero from the
//! file's initial state. Non-finite input samples are read as 0 and non-finite output
//! samples are written as 0, so the output is finite for any input.

mod activation;
mod conv;
mod json;
mod recurrent;
mod wavenet;

use std::fmt;
use std::path::Path;

use crate::denormal::DenormalGuard;
use crate::error::Error;
use crate::processor::{Processor, Spec};
use crate::simd::Simd;

pub use conv::CHUNK;
use json::Node;
use recurrent::{Linear, Lstm};
use wavenet::WaveNetModel;

/// Load options.
#[derive(Debug, Clone, PartialEq)]
pub struct NamOptions {
    /// Slim value in [0, 1] for slimmable models (`None`: full size). Rejected for models
    /// that are not slimmable.
    pub slim: Option<f64>,
    /// Use [`fast_tanh`] (max |error| 6.9e-6) instead of the exact tanh.
    pub fast_tanh: bool,
    /// Largest block the host will pass to `process` (samples, ≥ 1). Blocks are processed
    /// in chunks of [`CHUNK`] whatever their length; this is the `Spec` the model is
    /// prepared with.
    pub max_block: usize,
}

impl Default for NamOptions {
    fn default() -> Self {
        NamOptions {
            slim: None,
            fast_tanh: false,
            max_block: 4096,
        }
    }
}

/// The default tanh: float32-accurate and vectorizable (see the `activation` module).
pub fn tanh(x: f32) -> f32 {
    activation::tanh(x)
}

/// The fast tanh of [`NamOptions::fast_tanh`]: a [9/8] Padé approximant, max |error| 6.9e-6.
pub fn fast_tanh(x: f32) -> f32 {
    activation::fast_tanh(x)
}

/// What went wrong: the file could not be read, or its content is unusable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NamErrorKind {
    Io,
    Format,
}

/// A load error naming the file and the JSON key path (empty when about the whole file).
#[derive(Debug, Clone, PartialEq)]
pub struct NamError {
    pub kind: NamErrorKind,
    pub file: String,
    pub key: String,
    pub reason: String,
}

impl NamError {
    pub(crate) fn format(file: &str, key: &str, reason: impl Into<String>) -> NamError {
        NamError {
            kind: NamErrorKind::Format,
            file: file.to_string(),
            key: key.to_string(),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for NamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "{}: {}", self.file, self.reason)
        } else {
            write!(f, "{}: {}: {}", self.file, self.key, self.reason)
        }
    }
}

impl std::error::Error for NamError {}

/// Accepts format versions 0.5.x, 0.6.x and 0.7.x.
pub(crate) fn check_version(node: &Node<'_>) -> Result<(), NamError> {
    let v = node.str()?;
    let mut parts = v.split('.');
    let ok = parts.next() == Some("0")
        && matches!(parts.next(), Some("5" | "6" | "7"))
        && parts.next().is_some_and(|p| p.parse::<u32>().is_ok())
        && parts.next().is_none();
    if ok {
        Ok(())
    } else {
        Err(node.err(format!(
            "unsupported format version '{v}' (supported: 0.5.x, 0.6.x, 0.7.x)"
        )))
    }
}

enum Body {
    WaveNet(Box<WaveNetModel>),
    Lstm(Lstm),
    Linear(Linear),
}

/// A loaded `.nam` model, ready to render (a [`Processor`]: mono in, mono out, latency 0).
pub struct NamModel {
    file: String,
    version: String,
    architecture: String,
    sample_rate: Option<f64>,
    metadata_json: String,
    slim_values: Vec<f64>,
    submodel: Option<usize>,
    body: Body,
    receptive_field: usize,
    input: Vec<f32>,
    output: Vec<f32>,
    simd: Simd,
}

/// One parsed model object (a whole file, or a container's submodel).
struct Parsed {
    version: String,
    architecture: String,
    sample_rate: Option<f64>,
    metadata_json: String,
    slim_values: Vec<f64>,
    submodel: Option<usize>,
    body: Body,
}

impl NamModel {
    /// Reads and loads a `.nam` file. I/O failures are [`NamErrorKind::Io`].
    pub fn from_file(path: &Path, opts: &NamOptions) -> Result<NamModel, NamError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| NamError {
            kind: NamErrorKind::Io,
            file: name.clone(),
            key: String::new(),
            reason: format!("cannot read the file: {e}"),
        })?;
        Self::from_json_str(&text, &name, opts)
    }

    /// Loads a model from the text of a `.nam` file; `origin` names it in errors.
    pub fn from_json_str(
        text: &str,
        origin: &str,
        opts: &NamOptions,
    ) -> Result<NamModel, NamError> {
        if let Some(s) = opts.slim {
            if !(0.0..=1.0).contains(&s) {
                return Err(NamError::format(
                    origin,
                    "",
                    format!("slim value {s} is outside [0, 1]"),
                ));
            }
        }
        let value: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| NamError::format(origin, "", format!("not valid JSON: {e}")))?;
        let root = Node::root(origin, &value);
        let p = parse_model(&root, opts)?;
        let receptive_field = match &p.body {
            Body::WaveNet(m) => m.receptive_field(),
            Body::Lstm(_) => 1,
            Body::Linear(l) => l.receptive_field(),
        };
        let mut model = NamModel {
            file: origin.to_string(),
            version: p.version,
            architecture: p.architecture,
            sample_rate: p.sample_rate,
            metadata_json: p.metadata_json,
            slim_values: p.slim_values,
            submodel: p.submodel,
            body: p.body,
            receptive_field,
            input: vec![0.0; CHUNK],
            output: vec![0.0; CHUNK],
            simd: Simd::detect(),
        };
        let spec = Spec {
            sample_rate: model.sample_rate.unwrap_or(48_000.0),
            max_block: opts.max_block,
        };
        model
            .prepare(&spec)
            .map_err(|e| NamError::format(origin, "", e.to_string()))?;
        Ok(model)
    }

    /// The sample rate the file declares (Hz); `None` when it has no `sample_rate` key
    /// (old files, meant for 48 kHz).
    pub fn sample_rate(&self) -> Option<f64> {
        self.sample_rate
    }

    /// Receptive field in samples (1 + the history the output depends on).
    pub fn receptive_field(&self) -> usize {
        self.receptive_field
    }

    /// The file's `architecture` (for a container: `SlimmableContainer`).
    pub fn architecture(&self) -> &str {
        &self.architecture
    }

    /// The file's format `version`.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The file's `metadata` object as JSON text (`{}` when absent).
    pub fn metadata_json(&self) -> &str {
        &self.metadata_json
    }

    /// The `max_value` of each submodel of a `SlimmableContainer` (empty otherwise).
    pub fn slim_values(&self) -> &[f64] {
        &self.slim_values
    }

    /// Index of the submodel a `SlimmableContainer` runs (`None` for other models).
    pub fn submodel(&self) -> Option<usize> {
        self.submodel
    }

    /// Channels of each WaveNet layer array as run (after slimming); empty for LSTM and
    /// Linear models.
    pub fn layer_channels(&self) -> Vec<usize> {
        match &self.body {
            Body::WaveNet(m) => m.channels(),
            _ => Vec::new(),
        }
    }

    /// Bytes of streaming state (rings, recurrent state, scratch), excluding weights.
    pub fn state_bytes(&self) -> usize {
        let body = match &self.body {
            Body::WaveNet(m) => m.state_bytes(),
            Body::Lstm(l) => l.state_bytes(),
            Body::Linear(l) => l.state_bytes(),
        };
        body + (self.input.len() + self.output.len()) * 4
    }

    /// Runs the portable (non-AVX) loops from now on: the same arithmetic, to compare the
    /// SIMD copies against (tests and benchmarks).
    #[doc(hidden)]
    pub fn use_portable_loops(&mut self) {
        self.simd = Simd::Portable;
    }

    /// Zero state without the prewarm (tests compare the one-pass prewarm with running a
    /// receptive field of zeros from here).
    #[doc(hidden)]
    pub fn clear_state(&mut self) {
        match &mut self.body {
            Body::WaveNet(m) => m.reset(),
            Body::Lstm(l) => l.reset(),
            Body::Linear(l) => l.reset(),
        }
    }

    /// Runs `n` samples of `self.input` into `self.output` with the widest SIMD available;
    /// `steady` (n = 1) fills every history with the sample first.
    fn run_chunk(&mut self, n: usize, steady: bool) {
        match self.simd {
            // SAFETY: `Simd::detect` chose these only when the CPU reported the features.
            #[cfg(target_arch = "x86_64")]
            Simd::Avx512 => unsafe { self.chunk_avx512(n, steady) },
            #[cfg(target_arch = "x86_64")]
            Simd::Avx2 => unsafe { self.chunk_avx2(n, steady) },
            Simd::Portable => self.chunk_body::<4>(n, steady),
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn chunk_avx2(&mut self, n: usize, steady: bool) {
        self.chunk_body::<8>(n, steady);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,fma")]
    unsafe fn chunk_avx512(&mut self, n: usize, steady: bool) {
        self.chunk_body::<16>(n, steady);
    }

    #[inline(always)]
    fn chunk_body<const W: usize>(&mut self, n: usize, steady: bool) {
        match &mut self.body {
            Body::WaveNet(m) => m.chunk::<W>(&self.input, n, &mut self.output, steady),
            Body::Lstm(l) => l.chunk(&self.input, n, &mut self.output),
            Body::Linear(l) => l.chunk::<W>(&self.input, n, &mut self.output, steady),
        }
    }
}

/// Parses a model object: a whole file or a container's submodel.
fn parse_model(node: &Node<'_>, opts: &NamOptions) -> Result<Parsed, NamError> {
    let mut o = node.obj()?;
    let version_node = o.req("version")?;
    check_version(&version_node)?;
    let arch_node = o.req("architecture")?;
    let architecture = arch_node.str()?.to_string();
    let config = o.req("config")?;
    let weights = o.req("weights")?;
    let sample_rate = match o.opt("sample_rate")? {
        Some(n) => {
            let v = n.f64()?;
            if v <= 0.0 {
                return Err(n.err(format!("unsupported value {v}: must be positive (Hz)")));
            }
            Some(v)
        }
        None => None,
    };
    let metadata_json = match o.opt("metadata")? {
        Some(m) => {
            m.obj()?;
            m.value().to_string()
        }
        None => "{}".to_string(),
    };
    let not_slimmable = |what: &str| {
        opts.slim.map_or(Ok(()), |s| {
            Err(node.err(format!(
                "a slim value ({s}) was given but this {what} model is not slimmable"
            )))
        })
    };
    let (body, slim_values, submodel) = match architecture.as_str() {
        "WaveNet" => {
            let m = wavenet::parse(&config, &weights, opts, false)?;
            if !m.is_slimmable() {
                not_slimmable("WaveNet")?;
            }
            (Body::WaveNet(Box::new(m)), Vec::new(), None)
        }
        "LSTM" => {
            not_slimmable("LSTM")?;
            (
                Body::Lstm(Lstm::parse(&config, &weights, opts)?),
                Vec::new(),
                None,
            )
        }
        "Linear" => {
            not_slimmable("Linear")?;
            (
                Body::Linear(Linear::parse(&config, &weights)?),
                Vec::new(),
                None,
            )
        }
        "SlimmableContainer" => {
            let (p, values, index) = parse_container(&config, &weights, sample_rate, opts)?;
            (p.body, values, Some(index))
        }
        other => {
            return Err(arch_node.err(format!(
                "unsupported architecture '{other}' (supported: WaveNet, LSTM, Linear, \
                 SlimmableContainer)"
            )))
        }
    };
    Ok(Parsed {
        version: version_node.str()?.to_string(),
        architecture,
        sample_rate,
        metadata_json,
        slim_values,
        submodel,
        body,
    })
}

/// `config.submodels: [{ max_value, model }]`, ascending `max_value`, the last ≥ 1. Every
/// submodel is validated; the one the slim value selects is kept.
fn parse_container(
    config: &Node<'_>,
    weights: &Node<'_>,
    sample_rate: Option<f64>,
    opts: &NamOptions,
) -> Result<(Parsed, Vec<f64>, usize), NamError> {
    if !weights.array()?.is_empty() {
        return Err(weights.err("a SlimmableContainer has no weights of its own; expected []"));
    }
    let mut c = config.obj()?;
    let subs_node = c.req("submodels")?;
    c.finish()?;
    let subs = subs_node.array()?;
    if subs.is_empty() {
        return Err(subs_node.err("unsupported value []: needs at least one submodel"));
    }
    let sub_opts = NamOptions {
        slim: None,
        ..opts.clone()
    };
    let mut values = Vec::with_capacity(subs.len());
    let mut parsed = Vec::with_capacity(subs.len());
    for s in &subs {
        let mut so = s.obj()?;
        let mv = so.req("max_value")?;
        let v = mv.f64()?;
        if values.last().is_some_and(|&prev| v <= prev) {
            return Err(mv.err(format!(
                "unsupported value {v}: max_value must increase from submodel to submodel"
            )));
        }
        let model = so.req("model")?;
        so.finish()?;
        let p = parse_model(&model, &sub_opts)?;
        if p.sample_rate.is_some() && sample_rate.is_some() && p.sample_rate != sample_rate {
            return Err(model.err_at(
                "sample_rate",
                format!(
                    "submodel sample rate {:?} Hz differs from the container's {:?} Hz",
                    p.sample_rate, sample_rate
                ),
            ));
        }
        values.push(v);
        parsed.push(p);
    }
    let last = values[values.len() - 1];
    if last < 1.0 {
        return Err(subs_node.err(format!(
            "the last submodel's max_value is {last}; it must be at least 1"
        )));
    }
    let index = match opts.slim {
        Some(s) => values
            .iter()
            .position(|&v| s < v)
            .unwrap_or(values.len() - 1),
        None => values.len() - 1,
    };
    let chosen = parsed.swap_remove(index);
    Ok((chosen, values, index))
}

impl Processor for NamModel {
    /// Checks the spec (the file's sample rate, when declared, must match) and resets.
    fn prepare(&mut self, spec: &Spec) -> Result<(), Error> {
        spec.validate()?;
        if let Some(fs) = self.sample_rate {
            if (fs - spec.sample_rate).abs() > 1e-6 {
                return Err(Error::InvalidSpec {
                    reason: format!(
                        "{} was captured at {fs} Hz, not {} Hz (resample first)",
                        self.file, spec.sample_rate
                    ),
                });
            }
        }
        self.reset();
        Ok(())
    }

    /// Zero state (LSTM: the file's initial state), then the prewarm: the state one
    /// receptive field of zeros leaves, in one pass (see the module documentation).
    fn reset(&mut self) {
        self.clear_state();
        let _ftz = DenormalGuard::new();
        self.input[0] = 0.0;
        self.run_chunk(1, true);
    }

    fn process(&mut self, buf: &mut [f32]) {
        let _ftz = DenormalGuard::new();
        for block in buf.chunks_mut(CHUNK) {
            let n = block.len();
            for (d, s) in self.input.iter_mut().zip(block.iter()) {
                *d = if s.is_finite() { *s } else { 0.0 };
            }
            self.run_chunk(n, false);
            for (d, s) in block.iter_mut().zip(&self.output) {
                *d = if s.is_finite() { *s } else { 0.0 };
            }
        }
    }

    /// The receptive field (samples the output depends on).
    fn tail_samples(&self) -> usize {
        self.receptive_field
    }
}
