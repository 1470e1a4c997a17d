//! Causal, grouped, dilated 1-D convolutions as PyTorch's `nn.Conv1d` defines them, run
//! over a chunk of at most [`CHUNK`] samples, and the history rings that feed them.
//!
//! Layout: every signal inside the renderer is channel-major with a row stride of
//! [`CHUNK`] samples (`buf[ch·CHUNK + t]`). A convolution with kernel K and dilation d reads
//! its input from a [`Ring`]: one contiguous row per channel holding the last (K−1)·d
//! samples of history followed by the chunk, so every tap's window is a plain slice. When a
//! row fills up, the history is moved to its start by one copy per channel (the
//! NeuralAmpModelerCore ring design; rows are (K−1)·d + max((K−1)·d, 4·CHUNK) long, so the
//! copy happens at most once per (K−1)·d samples).
//!
//! Arithmetic: output o at sample t is `bias[o] + Σ_(i, k) w[o, i, k] · x_i[t − (K−1−k)·d]`,
//! summed in (i, k) order with fused multiply-adds, W samples at a time in registers. Each
//! sample sees the same operations in the same order wherever it falls in a chunk, so the
//! output does not depend on how a signal is cut into blocks.

use super::NamError;

/// Samples per internal chunk: blocks of any length are cut into chunks of at most this.
pub const CHUNK: usize = 64;

/// Weights of one `nn.Conv1d`: `w` is [out, in/groups, K] row-major as PyTorch stores it
/// (tap 0 is the oldest sample), `b` is [out] (zeros when the layer has no bias).
#[derive(Debug, Clone)]
pub(crate) struct Conv {
    pub cin: usize,
    pub cout: usize,
    pub groups: usize,
    pub k: usize,
    pub dilation: usize,
    pub w: Vec<f32>,
    pub b: Vec<f32>,
    pub bias: bool,
}

/// Reads consecutive weights from the flat `weights` array of a `.nam` file.
pub(crate) struct Cursor<'a> {
    data: &'a [f32],
    pos: usize,
    file: &'a str,
    key: String,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(data: &'a [f32], file: &'a str, key: &str) -> Cursor<'a> {
        Cursor {
            data,
            pos: 0,
            file,
            key: key.to_string(),
        }
    }

    pub(crate) fn take(&mut self, n: usize, what: &str) -> Result<&'a [f32], NamError> {
        let end = self.pos + n;
        if end > self.data.len() {
            return Err(NamError::format(
                self.file,
                &self.key,
                format!(
                    "has {} weights, but the config needs more (ran out reading {what})",
                    self.data.len()
                ),
            ));
        }
        let s = &self.data[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    /// Checks that every weight was used.
    pub(crate) fn finish(&self) -> Result<(), NamError> {
        if self.pos != self.data.len() {
            return Err(NamError::format(
                self.file,
                &self.key,
                format!(
                    "has {} weights, but the config uses {}",
                    self.data.len(),
                    self.pos
                ),
            ));
        }
        Ok(())
    }
}

impl Conv {
    /// Reads weight then bias (if any) from the cursor, in `Conv1d.export_weights` order.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn read(
        cur: &mut Cursor<'_>,
        what: &str,
        cin: usize,
        cout: usize,
        groups: usize,
        k: usize,
        dilation: usize,
        bias: bool,
    ) -> Result<Conv, NamError> {
        let w = cur.take(cout * (cin / groups) * k, what)?.to_vec();
        let b = if bias {
            cur.take(cout, what)?.to_vec()
        } else {
            vec![0.0; cout]
        };
        Ok(Conv {
            cin,
            cout,
            groups,
            k,
            dilation,
            w,
            b,
            bias,
        })
    }

    /// The first `cout` outputs of the first `cin` inputs (channel slicing of a slimmable
    /// model; groups must be 1).
    pub(crate) fn sliced(&self, cin: usize, cout: usize) -> Conv {
        debug_assert_eq!(self.groups, 1);
        let mut w = Vec::with_capacity(cout * cin * self.k);
        for o in 0..cout {
            let row = &self.w[o * self.cin * self.k..];
            w.extend_from_slice(&row[..cin * self.k]);
        }
        Conv {
            cin,
            cout,
            groups: 1,
            k: self.k,
            dilation: self.dilation,
            w,
            b: self.b[..cout].to_vec(),
            bias: self.bias,
        }
    }

    /// Samples of history the convolution needs: (K−1)·d.
    pub(crate) fn history(&self) -> usize {
        (self.k - 1) * self.dilation
    }
}

/// Runs `c` over `n` samples: `y[o·CHUNK + t]` from input rows `x[i·xs + off[k] + t]`
/// (`off[k]` is where tap k's window starts in every row). `W` names the caller's compiled
/// copy: 16 (AVX-512 + FMA), 8 (AVX2 + FMA) or 4 (portable); the kernel is one
/// out-of-line function per copy, so it is compiled three times, not at every call site.
#[inline(always)]
pub(crate) fn conv_into<const W: usize>(
    c: &Conv,
    y: &mut [f32],
    n: usize,
    x: &[f32],
    xs: usize,
    off: &[usize],
) {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: W = 16 / 8 only come from the AVX-512 / AVX2 copies of the chunk loop,
        // which run only when the CPU reported those features (and FMA).
        if W == 16 {
            return unsafe { conv_avx512(c, y, n, x, xs, off) };
        }
        if W == 8 {
            return unsafe { conv_avx2(c, y, n, x, xs, off) };
        }
    }
    conv_portable(c, y, n, x, xs, off);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,fma")]
unsafe fn conv_avx512(c: &Conv, y: &mut [f32], n: usize, x: &[f32], xs: usize, off: &[usize]) {
    conv_body::<16>(c, y, n, x, xs, off);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn conv_avx2(c: &Conv, y: &mut [f32], n: usize, x: &[f32], xs: usize, off: &[usize]) {
    conv_body::<8>(c, y, n, x, xs, off);
}

#[inline(never)]
fn conv_portable(c: &Conv, y: &mut [f32], n: usize, x: &[f32], xs: usize, off: &[usize]) {
    conv_body::<4>(c, y, n, x, xs, off);
}

/// The kernel: outputs in blocks of up to 8 (independent accumulator chains; each input
/// window is loaded once per block), W·U samples at a time; samples left over at the end
/// of the chunk take a scalar path with the same operation order.
#[inline(always)]
fn conv_body<const W: usize>(
    c: &Conv,
    y: &mut [f32],
    n: usize,
    x: &[f32],
    xs: usize,
    off: &[usize],
) {
    let ipg = c.cin / c.groups;
    let opg = c.cout / c.groups;
    for g in 0..c.groups {
        let (mut o, end) = (g * opg, (g + 1) * opg);
        let first_in = g * ipg;
        let args = Block {
            c,
            n,
            x,
            xs,
            off,
            first_in,
            ipg,
        };
        while end - o >= 8 {
            if W >= 16 {
                outputs::<W, 8, 2>(&args, o, y);
            } else {
                outputs::<W, 8, 1>(&args, o, y);
            }
            o += 8;
        }
        match end - o {
            1 => outputs::<W, 1, 4>(&args, o, y),
            2 => outputs::<W, 2, 4>(&args, o, y),
            3 => outputs::<W, 3, 2>(&args, o, y),
            4 => outputs::<W, 4, 2>(&args, o, y),
            5 => outputs::<W, 5, 1>(&args, o, y),
            6 => outputs::<W, 6, 1>(&args, o, y),
            7 => outputs::<W, 7, 1>(&args, o, y),
            _ => {}
        }
    }
}

/// What [`outputs`] reads: the convolution, its input rows and window offsets, and the
/// input channels of the current group.
struct Block<'a> {
    c: &'a Conv,
    n: usize,
    x: &'a [f32],
    xs: usize,
    off: &'a [usize],
    first_in: usize,
    ipg: usize,
}

/// Outputs `o0 .. o0 + OB` (one group) over the chunk, OB·U accumulators of W lanes.
#[inline(always)]
fn outputs<const W: usize, const OB: usize, const U: usize>(
    a: &Block<'_>,
    o0: usize,
    y: &mut [f32],
) {
    let (c, k, ipg) = (a.c, a.c.k, a.ipg);
    let span = W * U;
    let full = a.n / span * span;
    let stride = ipg * k;
    let w = &c.w[o0 * stride..(o0 + OB) * stride];
    let mut j0 = 0;
    while j0 < full {
        let mut acc = [[[0.0f32; W]; U]; OB];
        for (q, accq) in acc.iter_mut().enumerate() {
            for accu in accq.iter_mut() {
                *accu = [c.b[o0 + q]; W];
            }
        }
        for ii in 0..ipg {
            let base = (a.first_in + ii) * a.xs + j0;
            for kk in 0..k {
                let s = base + a.off[kk];
                let src = &a.x[s..s + span];
                for (q, accq) in acc.iter_mut().enumerate() {
                    let wv = w[q * stride + ii * k + kk];
                    for (u, accu) in accq.iter_mut().enumerate() {
                        for m in 0..W {
                            accu[m] = wv.mul_add(src[u * W + m], accu[m]);
                        }
                    }
                }
            }
        }
        for (q, accq) in acc.iter().enumerate() {
            let r = (o0 + q) * CHUNK + j0;
            for (u, accu) in accq.iter().enumerate() {
                y[r + u * W..r + (u + 1) * W].copy_from_slice(accu);
            }
        }
        j0 += span;
    }
    for q in 0..OB {
        let wq = &w[q * stride..(q + 1) * stride];
        for j in full..a.n {
            let mut acc = c.b[o0 + q];
            for ii in 0..ipg {
                let base = (a.first_in + ii) * a.xs + j;
                for kk in 0..k {
                    acc = wq[ii * k + kk].mul_add(a.x[base + a.off[kk]], acc);
                }
            }
            y[(o0 + q) * CHUNK + j] = acc;
        }
    }
}

/// A 1×1 convolution of chunk rows (no history).
#[inline(always)]
pub(crate) fn conv1x1<const W: usize>(c: &Conv, y: &mut [f32], n: usize, x: &[f32]) {
    conv_into::<W>(c, y, n, x, CHUNK, &[0]);
}

/// History of one convolution's input: per channel, (K−1)·d past samples then the chunk.
pub(crate) struct Ring {
    channels: usize,
    hist: usize,
    len: usize,
    data: Vec<f32>,
    /// Where the next chunk is written (≥ hist).
    pos: usize,
}

impl Ring {
    pub(crate) fn new(channels: usize, hist: usize) -> Ring {
        let len = hist + hist.max(4 * CHUNK);
        Ring {
            channels,
            hist,
            len,
            data: vec![0.0; channels * len],
            pos: hist,
        }
    }

    /// Zero history.
    pub(crate) fn reset(&mut self) {
        self.data.fill(0.0);
        self.pos = self.hist;
    }

    pub(crate) fn bytes(&self) -> usize {
        self.data.len() * 4
    }

    /// Appends `n` samples of each channel (rows of `src`, stride [`CHUNK`]); returns the
    /// row position of the first of them. `steady` (with n = 1) first fills the whole
    /// history with the sample: the state a constant input reaches (see `NamModel::reset`).
    #[inline(always)]
    pub(crate) fn push(&mut self, src: &[f32], n: usize, steady: bool) -> usize {
        if steady {
            debug_assert_eq!(n, 1);
            for ch in 0..self.channels {
                self.data[ch * self.len..(ch + 1) * self.len].fill(src[ch * CHUNK]);
            }
            self.pos = self.hist;
        }
        if self.pos + n > self.len {
            for ch in 0..self.channels {
                let row = ch * self.len;
                self.data
                    .copy_within(row + self.pos - self.hist..row + self.pos, row);
            }
            self.pos = self.hist;
        }
        let start = self.pos;
        for ch in 0..self.channels {
            let row = ch * self.len + start;
            self.data[row..row + n].copy_from_slice(&src[ch * CHUNK..ch * CHUNK + n]);
        }
        self.pos += n;
        start
    }

    /// Runs `c` over the `n` samples pushed at `start`; `off` is scratch of length K.
    #[inline(always)]
    pub(crate) fn conv<const W: usize>(
        &self,
        c: &Conv,
        start: usize,
        n: usize,
        off: &mut [usize],
        y: &mut [f32],
    ) {
        for (kk, o) in off.iter_mut().enumerate() {
            *o = start - (c.k - 1 - kk) * c.dilation;
        }
        conv_into::<W>(c, y, n, &self.data, self.len, off);
    }
}

/// A convolution with history: weights, ring, and tap-offset scratch.
pub(crate) struct RingConv {
    pub conv: Conv,
    ring: Ring,
    off: Vec<usize>,
}

impl RingConv {
    pub(crate) fn new(conv: Conv) -> RingConv {
        let ring = Ring::new(conv.cin, conv.history());
        let off = vec![0; conv.k];
        RingConv { conv, ring, off }
    }

    pub(crate) fn reset(&mut self) {
        self.ring.reset();
    }

    pub(crate) fn state_bytes(&self) -> usize {
        self.ring.bytes()
    }

    /// Pushes `n` samples of input rows `x` (see [`Ring::push`] for `steady`) and writes
    /// the `cout` output rows to `y`.
    #[inline(always)]
    pub(crate) fn run<const W: usize>(&mut self, x: &[f32], n: usize, y: &mut [f32], steady: bool) {
        let start = self.ring.push(x, n, steady);
        self.ring.conv::<W>(&self.conv, start, n, &mut self.off, y);
    }
}
