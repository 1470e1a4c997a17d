//! NAM `LSTM` and `Linear` models, as `nam.models.recurrent.LSTM` and
//! `nam.models.linear.Linear` define them.
//!
//! LSTM weights, per layer: W = [W_ih | W_hh] (4H × (I + H), gate rows i, f, g, o), the
//! bias b = b_ih + b_hh (4H), the initial hidden state h₀ (H) and cell state c₀ (H); then
//! the head (H weights, 1 bias). Per sample and layer, with σ the logistic sigmoid:
//! `[i f g o] = W·[x; h] + b`, `c = σ(f)·c + σ(i)·tanh(g)`, `h = σ(o)·tanh(c)`; the output
//! is `head·h + bias` of the last layer. `reset` returns to (h₀, c₀), the state the
//! trainer exports (it is the state after burning the network in on zeros).
//!
//! Linear: a causal FIR, `y[n] = bias + Σ_k w[k]·x[n − (R−1−k)]` (R = receptive_field).

use super::activation::{fast_tanh, sigmoid, tanh};
use super::conv::{Conv, Cursor, RingConv};
use super::json::Node;
use super::{NamError, NamOptions};

/// Largest hidden size / layer count / FIR length accepted.
const MAX_HIDDEN: usize = 4096;
const MAX_LAYERS: usize = 64;
const MAX_FIR: usize = 1 << 20;

struct Cell {
    hidden: usize,
    w: Vec<f32>,
    b: Vec<f32>,
    h0: Vec<f32>,
    c0: Vec<f32>,
    /// [x; h]: the layer input followed by its hidden state.
    xh: Vec<f32>,
    c: Vec<f32>,
    gates: Vec<f32>,
}

pub(crate) struct Lstm {
    cells: Vec<Cell>,
    head_w: Vec<f32>,
    head_b: f32,
    fast_tanh: bool,
}

impl Lstm {
    pub(crate) fn parse(
        config: &Node<'_>,
        weights: &Node<'_>,
        opts: &NamOptions,
    ) -> Result<Lstm, NamError> {
        let mut o = config.obj()?;
        o.req("input_size")?.usize_in(1, 1)?;
        let hidden = o.req("hidden_size")?.usize_in(1, MAX_HIDDEN)?;
        let layers = o.req("num_layers")?.usize_in(1, MAX_LAYERS)?;
        o.finish()?;
        let data = weights.f32_vec()?;
        let mut cur = Cursor::new(&data, weights.file(), weights.path());
        let mut cells = Vec::with_capacity(layers);
        for l in 0..layers {
            let input = if l == 0 { 1 } else { hidden };
            let what = format!("LSTM layer {l}");
            let w = cur.take(4 * hidden * (input + hidden), &what)?.to_vec();
            let b = cur.take(4 * hidden, &what)?.to_vec();
            let h0 = cur.take(hidden, &what)?.to_vec();
            let c0 = cur.take(hidden, &what)?.to_vec();
            let mut xh = vec![0.0; input + hidden];
            xh[input..].copy_from_slice(&h0);
            cells.push(Cell {
                hidden,
                w,
                b,
                c: c0.clone(),
                h0,
                c0,
                xh,
                gates: vec![0.0; 4 * hidden],
            });
        }
        let head_w = cur.take(hidden, "LSTM head")?.to_vec();
        let head_b = cur.take(1, "LSTM head")?[0];
        cur.finish()?;
        Ok(Lstm {
            cells,
            head_w,
            head_b,
            fast_tanh: opts.fast_tanh,
        })
    }

    pub(crate) fn reset(&mut self) {
        for c in &mut self.cells {
            let input = c.xh.len() - c.hidden;
            c.xh[..input].fill(0.0);
            c.xh[input..].copy_from_slice(&c.h0);
            c.c.copy_from_slice(&c.c0);
        }
    }

    pub(crate) fn state_bytes(&self) -> usize {
        self.cells
            .iter()
            .map(|c| (c.xh.len() + c.c.len() + c.gates.len()) * 4)
            .sum()
    }

    #[inline(always)]
    pub(crate) fn chunk(&mut self, x: &[f32], n: usize, y: &mut [f32]) {
        let fast = self.fast_tanh;
        let th = |v: f32| if fast { fast_tanh(v) } else { tanh(v) };
        for t in 0..n {
            for l in 0..self.cells.len() {
                let (done, rest) = self.cells.split_at_mut(l);
                let cell = &mut rest[0];
                let h = cell.hidden;
                let ni = cell.xh.len() - h;
                if l == 0 {
                    cell.xh[0] = x[t];
                } else {
                    let prev = &done[l - 1];
                    let pi = prev.xh.len() - prev.hidden;
                    cell.xh[..ni].copy_from_slice(&prev.xh[pi..]);
                }
                let cols = ni + h;
                for (j, g) in cell.gates.iter_mut().enumerate() {
                    let row = &cell.w[j * cols..(j + 1) * cols];
                    *g = row
                        .iter()
                        .zip(&cell.xh)
                        .fold(cell.b[j], |acc, (w, v)| w.mul_add(*v, acc));
                }
                for k in 0..h {
                    let i = sigmoid(cell.gates[k]);
                    let f = sigmoid(cell.gates[h + k]);
                    let g = th(cell.gates[2 * h + k]);
                    let o = sigmoid(cell.gates[3 * h + k]);
                    cell.c[k] = f.mul_add(cell.c[k], i * g);
                    cell.xh[ni + k] = o * th(cell.c[k]);
                }
            }
            let last = &self.cells[self.cells.len() - 1];
            let hs = &last.xh[last.xh.len() - last.hidden..];
            y[t] = self
                .head_w
                .iter()
                .zip(hs)
                .fold(self.head_b, |acc, (w, v)| w.mul_add(*v, acc));
        }
    }
}

pub(crate) struct Linear {
    fir: RingConv,
}

impl Linear {
    pub(crate) fn parse(config: &Node<'_>, weights: &Node<'_>) -> Result<Linear, NamError> {
        let mut o = config.obj()?;
        let rf = o.req("receptive_field")?.usize_in(1, MAX_FIR)?;
        let bias = match o.opt("bias")? {
            Some(b) => b.bool()?,
            None => false,
        };
        o.finish()?;
        let data = weights.f32_vec()?;
        let mut cur = Cursor::new(&data, weights.file(), weights.path());
        let conv = Conv::read(&mut cur, "Linear", 1, 1, 1, rf, 1, bias)?;
        cur.finish()?;
        Ok(Linear {
            fir: RingConv::new(conv),
        })
    }

    pub(crate) fn receptive_field(&self) -> usize {
        self.fir.conv.k
    }

    pub(crate) fn reset(&mut self) {
        self.fir.reset();
    }

    pub(crate) fn state_bytes(&self) -> usize {
        self.fir.state_bytes()
    }

    #[inline(always)]
    pub(crate) fn chunk<const W: usize>(
        &mut self,
        x: &[f32],
        n: usize,
        y: &mut [f32],
        steady: bool,
    ) {
        self.fir.run::<W>(x, n, y, steady);
    }
}
