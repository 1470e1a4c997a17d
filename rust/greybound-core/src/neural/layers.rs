//! Network layers with their weights and state, evaluated one sample at a time in f32
//! (as PyTorch trains them). All buffers are sized at construction.

use super::artifact::{Activation, Artifact, LayerSpec};

#[inline(always)]
fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

#[inline(always)]
fn activate(act: Activation, x: f32) -> f32 {
    match act {
        Activation::Identity => x,
        Activation::Tanh => x.tanh(),
        Activation::Relu => x.max(0.0),
        Activation::Sigmoid => sigmoid(x),
    }
}

/// Lanes of independent partial sums in [`dot`]: lets the compiler keep them in SIMD
/// registers (float addition is not associative, so one running sum cannot vectorize).
const LANES: usize = 8;

/// Σ a[i]·b[i] with `LANES` partial sums; the tail is added last.
#[inline(always)]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; LANES];
    let (ac, bc) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let tail: f32 = ac
        .remainder()
        .iter()
        .zip(bc.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (ca, cb) in ac.zip(bc) {
        for k in 0..LANES {
            acc[k] += ca[k] * cb[k];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// `y[o] = b[o] + Σ_i w[o, i]·x[i]` for a row-major `[outputs, inputs]` matrix.
#[inline(always)]
fn affine(w: &[f32], b: &[f32], x: &[f32], y: &mut [f32]) {
    let n = x.len();
    for (o, (yo, bo)) in y.iter_mut().zip(b).enumerate() {
        *yo = *bo + dot(&w[o * n..(o + 1) * n], x);
    }
}

pub(crate) enum Layer {
    Dense {
        act: Activation,
        w: Vec<f32>,
        b: Vec<f32>,
        outputs: usize,
    },
    Gru {
        hidden: usize,
        w_ih: Vec<f32>,
        w_hh: Vec<f32>,
        b_ih: Vec<f32>,
        b_hh: Vec<f32>,
        h: Vec<f32>,
        gi: Vec<f32>,
        gh: Vec<f32>,
    },
    Table {
        x_min: f32,
        x_max: f32,
        values: Vec<f32>,
    },
}

impl Layer {
    /// Builds a layer from a validated artifact (shapes already checked); `None` for a
    /// wavenet layer, which [`super::WaveNet`] runs as a whole.
    pub(crate) fn from_spec(spec: &LayerSpec, a: &Artifact) -> Option<Layer> {
        Some(match spec {
            LayerSpec::Dense {
                outputs,
                activation,
                weight,
                bias,
                ..
            } => Layer::Dense {
                act: *activation,
                w: a.tensor(weight).to_vec(),
                b: a.tensor(bias).to_vec(),
                outputs: *outputs,
            },
            LayerSpec::Gru {
                hidden,
                weight_ih,
                weight_hh,
                bias_ih,
                bias_hh,
                ..
            } => Layer::Gru {
                hidden: *hidden,
                w_ih: a.tensor(weight_ih).to_vec(),
                w_hh: a.tensor(weight_hh).to_vec(),
                b_ih: a.tensor(bias_ih).to_vec(),
                b_hh: a.tensor(bias_hh).to_vec(),
                h: vec![0.0; *hidden],
                gi: vec![0.0; 3 * hidden],
                gh: vec![0.0; 3 * hidden],
            },
            LayerSpec::Table {
                x_min,
                x_max,
                values,
            } => Layer::Table {
                x_min: *x_min as f32,
                x_max: *x_max as f32,
                values: a.tensor(values).to_vec(),
            },
            LayerSpec::Wavenet { .. } => return None,
        })
    }

    pub(crate) fn outputs(&self) -> usize {
        match self {
            Layer::Dense { outputs, .. } => *outputs,
            Layer::Gru { hidden, .. } => *hidden,
            Layer::Table { .. } => 1,
        }
    }

    /// Multiply-accumulates per sample.
    pub(crate) fn macs(&self) -> usize {
        match self {
            Layer::Dense { w, .. } => w.len(),
            Layer::Gru {
                w_ih, w_hh, hidden, ..
            } => w_ih.len() + w_hh.len() + 3 * hidden,
            Layer::Table { .. } => 2,
        }
    }

    pub(crate) fn reset(&mut self) {
        if let Layer::Gru { h, .. } = self {
            h.fill(0.0);
        }
    }

    /// One sample: `x` (this layer's inputs) → `y` (its outputs). Allocation-free.
    #[inline]
    pub(crate) fn forward(&mut self, x: &[f32], y: &mut [f32]) {
        match self {
            Layer::Dense { act, w, b, .. } => {
                affine(w, b, x, y);
                if *act != Activation::Identity {
                    y.iter_mut().for_each(|v| *v = activate(*act, *v));
                }
            }
            Layer::Gru {
                hidden,
                w_ih,
                w_hh,
                b_ih,
                b_hh,
                h,
                gi,
                gh,
            } => {
                let n = *hidden;
                affine(w_ih, b_ih, x, gi);
                affine(w_hh, b_hh, h, gh);
                for k in 0..n {
                    let r = sigmoid(gi[k] + gh[k]);
                    let z = sigmoid(gi[n + k] + gh[n + k]);
                    let c = (gi[2 * n + k] + r * gh[2 * n + k]).tanh();
                    h[k] = (1.0 - z) * c + z * h[k];
                }
                y.copy_from_slice(h);
            }
            Layer::Table {
                x_min,
                x_max,
                values,
            } => {
                let last = (values.len() - 1) as f32;
                let pos = ((x[0] - *x_min) / (*x_max - *x_min) * last).clamp(0.0, last);
                let i = (pos as usize).min(values.len() - 2);
                let frac = pos - i as f32;
                y[0] = values[i] + frac * (values[i + 1] - values[i]);
            }
        }
    }
}
