//! [`NeuralCell`]: a loaded artifact as a real-time [`Processor`].

use super::artifact::{check_sample_rate, Artifact, Clamp, ControlSpec};
use super::layers::Layer;
use super::wavenet::WaveNet;
use crate::denormal::{to_f32_flushed, DenormalGuard};
use crate::error::Error;
use crate::processor::{Processor, Spec};

/// A learned cell, volts in and volts out. Buffers are allocated at load; `process` is
/// allocation-free and deterministic; inputs are clamped to the declared range (NaN → 0 V
/// after conditioning) so the output is bounded for any input.
pub struct NeuralCell {
    name: String,
    rates: Vec<f64>,
    in_scale: f32,
    in_offset: f32,
    in_range: [f32; 2],
    out_scale: f32,
    out_offset: f32,
    out_range: Option<[f32; 2]>,
    context: usize,
    controls: Vec<ControlSpec>,
    /// Conditioned control features, appended after the context window.
    control_features: Vec<f32>,
    /// Conditioned inputs, written twice (at `pos` and `pos + context`) so that the last
    /// `context` samples are always contiguous: `ring[pos + 1 ..= pos + context]`.
    ring: Vec<f32>,
    pos: usize,
    layers: Vec<Layer>,
    scratch_a: Vec<f32>,
    scratch_b: Vec<f32>,
    macs: usize,
    /// A family-"wavenet" artifact's network; when present every call is delegated to it.
    wavenet: Option<Box<WaveNet>>,
}

impl NeuralCell {
    /// Builds the runtime for a validated artifact. Allocates everything it will need.
    pub fn new(a: &Artifact) -> NeuralCell {
        let d = &a.descriptor;
        let layers: Vec<Layer> = d
            .layers
            .iter()
            .filter_map(|l| Layer::from_spec(l, a))
            .collect();
        let wavenet = WaveNet::new(a).map(Box::new);
        let features = d.input.context_samples + d.controls.len();
        let width = layers
            .iter()
            .map(Layer::outputs)
            .max()
            .unwrap_or(1)
            .max(features);
        let macs = match &wavenet {
            Some(w) => w.macs_per_sample(),
            None => layers.iter().map(Layer::macs).sum(),
        };
        NeuralCell {
            name: d.name.clone(),
            rates: d.sample_rates_supported.clone(),
            in_scale: d.input.scale as f32,
            in_offset: d.input.offset as f32,
            in_range: [d.input.range[0] as f32, d.input.range[1] as f32],
            out_scale: d.output.scale as f32,
            out_offset: d.output.offset as f32,
            out_range: (d.output.clamp == Clamp::Saturate)
                .then(|| [d.output.range[0] as f32, d.output.range[1] as f32]),
            context: d.input.context_samples,
            control_features: d
                .controls
                .iter()
                .map(|c| c.feature(c.default) as f32)
                .collect(),
            controls: d.controls.clone(),
            ring: vec![0.0; 2 * d.input.context_samples],
            pos: 0,
            layers,
            scratch_a: vec![0.0; width],
            scratch_b: vec![0.0; width],
            macs,
            wavenet,
        }
    }

    /// The WaveNet this cell runs, for a family-"wavenet" artifact.
    pub fn wavenet(&self) -> Option<&WaveNet> {
        self.wavenet.as_deref()
    }

    /// Sets control `id` without smoothing. [`Processor::set_param`] smooths knob changes
    /// of a wavenet (ramp over its smoothing time); the other families' controls always
    /// apply at once, so for them the two are the same.
    pub fn set_control_immediate(&mut self, id: u32, value: f32) {
        match &mut self.wavenet {
            Some(w) => w.set_control_immediate(id, value),
            None => self.set_param(id, value),
        }
    }

    /// Knob smoothing time (s) of a wavenet; ignored by the other families.
    pub fn set_smoothing_seconds(&mut self, seconds: f64) {
        if let Some(w) = &mut self.wavenet {
            w.set_smoothing_seconds(seconds);
        }
    }

    /// Index of the control called `name`.
    pub fn control_index(&self, name: &str) -> Option<usize> {
        self.controls.iter().position(|c| c.name == name)
    }

    /// Names of the controls, in parameter-id order.
    pub fn control_names(&self) -> impl Iterator<Item = &str> {
        self.controls.iter().map(|c| c.name.as_str())
    }

    /// Multiply-accumulates per sample, counted from the layer shapes.
    pub fn macs_per_sample(&self) -> usize {
        self.macs
    }

    /// Conditioned (clamped, scaled) value the network sees for input `x` volts.
    #[inline(always)]
    fn condition(&self, x: f32) -> f32 {
        let x = if x.is_nan() { 0.0 } else { x };
        (x.clamp(self.in_range[0], self.in_range[1]) - self.in_offset) * self.in_scale
    }

    /// One sample, volts in → volts out.
    #[inline]
    pub fn tick(&mut self, x: f32) -> f32 {
        if let Some(w) = &mut self.wavenet {
            return w.tick(x);
        }
        let c = self.context;
        let u = self.condition(x);
        self.pos = (self.pos + 1) % c;
        self.ring[self.pos] = u;
        self.ring[self.pos + c] = u;
        let (mut src, mut dst) = (&mut self.scratch_a, &mut self.scratch_b);
        src[..c].copy_from_slice(&self.ring[self.pos + 1..self.pos + 1 + c]);
        src[c..c + self.control_features.len()].copy_from_slice(&self.control_features);
        let mut width = c + self.control_features.len();
        for layer in self.layers.iter_mut() {
            let out = layer.outputs();
            layer.forward(&src[..width], &mut dst[..out]);
            std::mem::swap(&mut src, &mut dst);
            width = out;
        }
        let raw = src[0];
        let y = raw * self.out_scale + self.out_offset;
        match self.out_range {
            Some([lo, hi]) => y.clamp(lo, hi),
            None => y,
        }
    }
}

impl Processor for NeuralCell {
    fn prepare(&mut self, spec: &Spec) -> Result<(), Error> {
        spec.validate()?;
        check_sample_rate(&format!("neural cell '{}'", self.name), &self.rates, spec)?;
        if let Some(w) = &mut self.wavenet {
            w.prepare(spec)?;
        }
        self.reset();
        Ok(())
    }

    fn reset(&mut self) {
        let rest = self.condition(0.0);
        self.ring.fill(rest);
        self.pos = 0;
        self.layers.iter_mut().for_each(Layer::reset);
        if let Some(w) = &mut self.wavenet {
            w.reset();
        }
    }

    /// Sets control `id` (its index in the descriptor's `controls`) to `value` in its own
    /// units; clamped to the declared range. Ids out of range are ignored.
    fn set_param(&mut self, id: u32, value: f32) {
        if let Some(w) = &mut self.wavenet {
            w.set_param(id, value);
            return;
        }
        if let Some(c) = self.controls.get(id as usize) {
            self.control_features[id as usize] = c.feature(value as f64) as f32;
        }
    }

    fn process(&mut self, buf: &mut [f32]) {
        if let Some(w) = &mut self.wavenet {
            w.process(buf);
            return;
        }
        let _ftz = DenormalGuard::new();
        for x in buf.iter_mut() {
            *x = to_f32_flushed(self.tick(*x) as f64);
        }
    }

    fn tail_samples(&self) -> usize {
        self.wavenet.as_ref().map_or(0, |w| w.tail_samples())
    }
}
