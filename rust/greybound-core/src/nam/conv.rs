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
//! summed in (i, k) order with fused multiply-adds, in register tiles of outputs × samples
//! (weights packed at load in the order the tiles read them). Each sample sees the same
//! operations in the same order wherever it falls in a chunk and whatever the SIMD width,
//! so the output does not depend on how a signal is cut into blocks or on the CPU.

use super::NamError;

/// Samples per internal chunk: blocks of any length are cut into chunks of at most this.
pub const CHUNK: usize = 64;

/// Weights of one `nn.Conv1d`: `w` is [out, in/groups, K] row-major as PyTorch stores it
/// (tap 0 is the oldest sample), `b` is [out] (zeros when the layer has no bias).
///
/// `packed` holds the same weights in the order the kernel reads them: the outputs are
/// cut into blocks (per group: blocks of [`OUT_BLOCK`], then one block of the remainder);
/// a block of `ob` outputs starting at output `o0` occupies `packed[o0·S .. (o0 + ob)·S]`
/// (S = in/groups · K + `mixin`) as [in/groups, K, ob] followed by [`mixin`, ob], so the
/// `ob` weights of one (input, tap) are adjacent. `mixin` > 0 (see [`Conv::with_mixin`])
/// adds a 1×1 convolution of `mixin` further rows to every output.
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
    mixin: usize,
    packed: Vec<f32>,
}

/// Outputs per register block of the kernel (the remainder of a group forms one block).
const OUT_BLOCK: usize = 8;

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
        Ok(Conv::new(cin, cout, groups, k, dilation, w, b, bias))
    }

    /// Builds the convolution and its packed weights (see [`Conv`]).
    #[allow(clippy::too_many_arguments)]
    fn new(
        cin: usize,
        cout: usize,
        groups: usize,
        k: usize,
        dilation: usize,
        w: Vec<f32>,
        b: Vec<f32>,
        bias: bool,
    ) -> Conv {
        let mut c = Conv {
            cin,
            cout,
            groups,
            k,
            dilation,
            w,
            b,
            bias,
            mixin: 0,
            packed: Vec::new(),
        };
        c.pack(None);
        c
    }

    /// Fills `packed` from `w` and, when given, the [cout, mixin] weights of a fused 1×1
    /// convolution.
    fn pack(&mut self, mixin: Option<&[f32]>) {
        let stride = self.cin / self.groups * self.k;
        let opg = self.cout / self.groups;
        self.packed = Vec::with_capacity(self.w.len() + self.cout * self.mixin);
        for g in 0..self.groups {
            let mut o0 = g * opg;
            while o0 < (g + 1) * opg {
                let ob = OUT_BLOCK.min((g + 1) * opg - o0);
                for tap in 0..stride {
                    let col = (o0..o0 + ob).map(|o| self.w[o * stride + tap]);
                    self.packed.extend(col);
                }
                if let Some(m) = mixin {
                    for d in 0..self.mixin {
                        let col = (o0..o0 + ob).map(|o| m[o * self.mixin + d]);
                        self.packed.extend(col);
                    }
                }
                o0 += ob;
            }
        }
    }

    /// This convolution plus the 1×1 convolution `mixer` (ungrouped, no bias, same
    /// outputs) of further input rows, summed in the same accumulators after this
    /// convolution's taps: output = bias + Σ taps + Σ_d mixer[o, d] · m_d[t].
    pub(crate) fn with_mixin(&self, mixer: &Conv) -> Conv {
        debug_assert!(mixer.groups == 1 && mixer.k == 1 && !mixer.bias);
        debug_assert_eq!(mixer.cout, self.cout);
        let mut c = self.clone();
        c.mixin = mixer.cin;
        c.pack(Some(&mixer.w));
        c
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
        Conv::new(
            cin,
            cout,
            1,
            self.k,
            self.dilation,
            w,
            self.b[..cout].to_vec(),
            self.bias,
        )
    }

    /// Samples of history the convolution needs: (K−1)·d.
    pub(crate) fn history(&self) -> usize {
        (self.k - 1) * self.dilation
    }
}

/// Runs `c` over `n` samples: `y[o·CHUNK + t]` from input rows `x[i·xs + off[k] + t]`
/// (`off[k]` is where tap k's window starts in every row) and, for a fused mixin, the
/// chunk rows `m[d·CHUNK + t]` (empty otherwise). `W` names the caller's compiled
/// copy: 16 (AVX-512 + FMA), 8 (AVX2 + FMA) or 4 (portable); the kernel is one
/// out-of-line function per copy, so it is compiled three times, not at every call site.
#[inline(always)]
pub(crate) fn conv_into<const W: usize>(c: &Conv, y: &mut [f32], n: usize, src: &Src<'_>) {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: W = 16 / 8 only come from the AVX-512 / AVX2 copies of the chunk loop,
        // which run only when the CPU reported those features (and FMA).
        if W == 16 {
            return unsafe { conv_avx512(c, y, n, src) };
        }
        if W == 8 {
            return unsafe { conv_avx2(c, y, n, src) };
        }
    }
    conv_portable(c, y, n, src);
}

/// The inputs of one convolution run: rows `x` (stride `xs`) with tap window starts
/// `off`, and the mixin rows `m` (stride [`CHUNK`]).
pub(crate) struct Src<'a> {
    pub x: &'a [f32],
    pub xs: usize,
    pub off: &'a [usize],
    pub m: &'a [f32],
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,fma")]
unsafe fn conv_avx512(c: &Conv, y: &mut [f32], n: usize, src: &Src<'_>) {
    conv_body::<16>(c, y, n, src);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn conv_avx2(c: &Conv, y: &mut [f32], n: usize, src: &Src<'_>) {
    conv_body::<8>(c, y, n, src);
}

#[inline(never)]
fn conv_portable(c: &Conv, y: &mut [f32], n: usize, src: &Src<'_>) {
    conv_body::<4>(c, y, n, src);
}

/// The kernel: per group, output blocks of [`OUT_BLOCK`] (and one remainder block), each
/// an `OB × U` tile of W-lane accumulators (`OB` outputs × `U·W` samples) held in
/// registers while the block's packed weights stream past: per (input, tap) the `U`
/// input vectors are loaded once and each meets the `OB` broadcast weights. Samples left
/// over at the end of the chunk take one-vector tiles, then a scalar path, all with the
/// same operation order per output sample.
#[inline(always)]
fn conv_body<const W: usize>(c: &Conv, y: &mut [f32], n: usize, src: &Src<'_>) {
    let ipg = c.cin / c.groups;
    let opg = c.cout / c.groups;
    for g in 0..c.groups {
        let (mut o, end) = (g * opg, (g + 1) * opg);
        let args = Block {
            c,
            n,
            src,
            first_in: g * ipg,
            ipg,
        };
        while o < end {
            let ob = OUT_BLOCK.min(end - o);
            // OB·U accumulators + U inputs + 1 broadcast weight fit the register file:
            // ≤ 19 of 32 with AVX-512, ≤ 15 of 16 otherwise.
            match (ob, W >= 16) {
                (8, true) => outputs::<W, 8, 2>(&args, o, y),
                (8, false) => outputs::<W, 8, 1>(&args, o, y),
                (7, true) => outputs::<W, 7, 2>(&args, o, y),
                (7, false) => outputs::<W, 7, 1>(&args, o, y),
                (6, _) => outputs::<W, 6, 2>(&args, o, y),
                (5, _) => outputs::<W, 5, 2>(&args, o, y),
                (4, true) => outputs::<W, 4, 3>(&args, o, y),
                (4, false) => outputs::<W, 4, 2>(&args, o, y),
                (3, true) => outputs::<W, 3, 4>(&args, o, y),
                (3, false) => outputs::<W, 3, 3>(&args, o, y),
                (2, _) => outputs::<W, 2, 4>(&args, o, y),
                _ => outputs::<W, 1, 4>(&args, o, y),
            }
            o += ob;
        }
    }
}

/// What [`outputs`] reads: the convolution, its inputs, and the input channels of the
/// current group.
struct Block<'a> {
    c: &'a Conv,
    n: usize,
    src: &'a Src<'a>,
    first_in: usize,
    ipg: usize,
}

/// Outputs `o0 .. o0 + OB` (one block) over the chunk: tiles of `U` vectors while they
/// fit, then one-vector tiles, then single samples.
#[inline(always)]
fn outputs<const W: usize, const OB: usize, const U: usize>(
    a: &Block<'_>,
    o0: usize,
    y: &mut [f32],
) {
    let stride = a.ipg * a.c.k + a.c.mixin;
    let w = &a.c.packed[o0 * stride..(o0 + OB) * stride];
    let bias: &[f32; OB] = a.c.b[o0..o0 + OB].try_into().expect("OB biases");
    let mut j = 0;
    while j + U * W <= a.n {
        tile::<W, OB, U>(a, w, bias, j, o0, y);
        j += U * W;
    }
    while j + W <= a.n {
        tile::<W, OB, 1>(a, w, bias, j, o0, y);
        j += W;
    }
    while j < a.n {
        tile::<1, OB, 1>(a, w, bias, j, o0, y);
        j += 1;
    }
}

/// One tile: `y[(o0 + q)·CHUNK + j + t]` for q < OB, t < U·W, from the block's packed
/// weights `w` ([in/groups, K, OB] then [mixin, OB]).
#[inline(always)]
fn tile<const W: usize, const OB: usize, const U: usize>(
    a: &Block<'_>,
    w: &[f32],
    bias: &[f32; OB],
    j: usize,
    o0: usize,
    y: &mut [f32],
) {
    let mut acc = [[[0.0f32; W]; U]; OB];
    for (accq, &bq) in acc.iter_mut().zip(bias) {
        *accq = [[bq; W]; U];
    }
    let (taps, mixin) = w.split_at(a.ipg * a.c.k * OB);
    let src = a.src;
    for (ii, wi) in taps.chunks_exact(a.c.k * OB).enumerate() {
        let row = &src.x[(a.first_in + ii) * src.xs + j..];
        for (wk, &off) in wi.chunks_exact(OB).zip(src.off) {
            fma_tap::<W, OB, U>(&mut acc, wk, &row[off..off + U * W]);
        }
    }
    for (d, wk) in mixin.chunks_exact(OB).enumerate() {
        let r = d * CHUNK + j;
        fma_tap::<W, OB, U>(&mut acc, wk, &src.m[r..r + U * W]);
    }
    for (q, accq) in acc.iter().enumerate() {
        let r = (o0 + q) * CHUNK + j;
        for (u, accu) in accq.iter().enumerate() {
            y[r + u * W..r + (u + 1) * W].copy_from_slice(accu);
        }
    }
}

/// `acc[q] += wk[q] · x` for one (input, tap): the U·W samples `x` are loaded once and
/// meet each of the OB weights `wk`.
#[inline(always)]
fn fma_tap<const W: usize, const OB: usize, const U: usize>(
    acc: &mut [[[f32; W]; U]; OB],
    wk: &[f32],
    x: &[f32],
) {
    let wk: &[f32; OB] = wk.try_into().expect("OB weights");
    let mut v = [[0.0f32; W]; U];
    for (vu, s) in v.iter_mut().zip(x.chunks_exact(W)) {
        vu.copy_from_slice(s);
    }
    for (accq, &wv) in acc.iter_mut().zip(wk) {
        for (accu, vu) in accq.iter_mut().zip(&v) {
            for (am, &xm) in accu.iter_mut().zip(vu) {
                *am = wv.mul_add(xm, *am);
            }
        }
    }
}

/// A 1×1 convolution of chunk rows (no history).
#[inline(always)]
pub(crate) fn conv1x1<const W: usize>(c: &Conv, y: &mut [f32], n: usize, x: &[f32]) {
    let src = Src {
        x,
        xs: CHUNK,
        off: &[0],
        m: &[],
    };
    conv_into::<W>(c, y, n, &src);
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

    /// Runs `c` over the `n` samples pushed at `start` (and its mixin over the chunk rows
    /// `m`, empty without one); `off` is scratch of length K.
    #[inline(always)]
    pub(crate) fn conv<const W: usize>(
        &self,
        c: &Conv,
        start: usize,
        n: usize,
        off: &mut [usize],
        m: &[f32],
        y: &mut [f32],
    ) {
        for (kk, o) in off.iter_mut().enumerate() {
            *o = start - (c.k - 1 - kk) * c.dilation;
        }
        let src = Src {
            x: &self.data,
            xs: self.len,
            off,
            m,
        };
        conv_into::<W>(c, y, n, &src);
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
        self.ring
            .conv::<W>(&self.conv, start, n, &mut self.off, &[], y);
    }
}
