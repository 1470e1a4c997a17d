//! The activations a `.nam` file can name, with the semantics of the PyTorch modules the
//! NAM trainer exports them from (`torch.nn` and `nam.models._activations`).
//!
//! Names: `Tanh`, `Fasttanh`, `Hardtanh` (`min_val`, `max_val`), `ReLU`, `LeakyReLU`
//! (`negative_slope`, default 0.01), `PReLU` (`negative_slope` or per-channel
//! `negative_slopes`, default 0.01), `Sigmoid`, `SiLU`, `Hardswish`, `Softsign`,
//! `Softsigmoid`, `LeakyHardtanh` (`min_val` −1, `max_val` 1, `min_slope` 0.01,
//! `max_slope` 0.01). Given as a bare string or as `{ "type": name, ...parameters }`;
//! any other name or parameter is an error naming its key.
//!
//! The default `Tanh` is [`tanh`]: accurate to float32 rounding (max |error| against
//! float64 tanh 8.7e-8, below one float32 ulp at 1), written without a libm call so that
//! it vectorizes. [`fast_tanh`] is the explicit fast option: a [9/8] Padé
//! approximant on a clamped argument, max |error| 6.9e-6 (measured against float64 tanh on
//! a 1e-5 grid over [−20, 20]).

use super::json::Node;
use super::NamError;

/// One activation with its parameters resolved (defaults filled in).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Act {
    Tanh,
    FastTanh,
    Hardtanh {
        min: f32,
        max: f32,
    },
    Relu,
    LeakyRelu(f32),
    /// One slope per channel, or a single slope for all.
    Prelu(Vec<f32>),
    Sigmoid,
    Silu,
    Hardswish,
    Softsign,
    Softsigmoid,
    LeakyHardtanh {
        min: f32,
        max: f32,
        min_slope: f32,
        max_slope: f32,
    },
}

/// tanh(x) to float32 accuracy, branch-free: for |x| < 0.3 the odd Taylor series to x¹³
/// (truncation < 2e-10 relative), otherwise 1 − 2/(e^{2|x|} + 1) with e^y from a Cody–Waite
/// reduction y = n·ln2 + r and the degree-7 Taylor polynomial of e^r (|r| ≤ ln2/2, truncation
/// < 6e-9 relative); |x| is clamped at 10, where the formula gives exactly 1 in float32.
/// Max |error| 8.7e-8 against float64 tanh (measured on a 1e-5 grid over [−20, 20]; the C
/// library's tanhf: 1.0e-7). NaN in gives NaN out.
#[inline(always)]
pub(crate) fn tanh(x: f32) -> f32 {
    let a = x.abs();
    let a = if a > 10.0 { 10.0 } else { a };
    let a2 = a * a;
    let p = a2.mul_add(21_844.0 / 6_081_075.0, -1_382.0 / 155_925.0);
    let p = a2.mul_add(p, 62.0 / 2_835.0);
    let p = a2.mul_add(p, -17.0 / 315.0);
    let p = a2.mul_add(p, 2.0 / 15.0);
    let p = a2.mul_add(p, -1.0 / 3.0);
    let small = (a * a2).mul_add(p, a);
    let large = 1.0 - 2.0 / (exp_nonneg(2.0 * a) + 1.0);
    let t = if a < 0.3 { small } else { large };
    let t = t.copysign(x);
    if x.is_nan() {
        x
    } else {
        t
    }
}

/// e^y for 0 ≤ y ≤ 20 (float32, ≈ 1 ulp), vectorizable.
#[inline(always)]
fn exp_nonneg(y: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    // ln 2 split: LN2_HI has 16 significant bits, so n·LN2_HI is exact for n < 2^8.
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    // 1.5·2^23: rounds to an integer when added.
    const ROUND: f32 = 12_582_912.0;
    // n + 1.5·2^23 holds the integer n in its low mantissa bits: 2^n is built from them
    // (no float-to-int conversion, which would not vectorize).
    let shifted = y.mul_add(LOG2E, ROUND);
    let n = shifted - ROUND;
    let r = (-n).mul_add(LN2_LO, (-n).mul_add(LN2_HI, y));
    let p = r.mul_add(1.0 / 5_040.0, 1.0 / 720.0);
    let p = r.mul_add(p, 1.0 / 120.0);
    let p = r.mul_add(p, 1.0 / 24.0);
    let p = r.mul_add(p, 1.0 / 6.0);
    let p = r.mul_add(p, 0.5);
    let p = r.mul_add(p, 1.0);
    let p = r.mul_add(p, 1.0);
    // The low 9 bits of 1.5·2^23's pattern are zero, so (bits + 127) << 23 = (n + 127) << 23.
    p * f32::from_bits(shifted.to_bits().wrapping_add(127) << 23)
}

/// Argument beyond which [`fast_tanh`] returns ±1 (its approximant has reached ±1 within
/// its error there).
const FAST_TANH_CLAMP: f32 = 7.0;

/// tanh(x) by the [9/8] Padé approximant of the continued fraction
/// tanh x = x / (1 + x²/(3 + x²/(5 + …))), on x clamped to ±7, result clamped to ±1.
/// Max |error| 6.9e-6 over all finite x; NaN in gives NaN out.
#[inline(always)]
pub(crate) fn fast_tanh(x: f32) -> f32 {
    let x = x.clamp(-FAST_TANH_CLAMP, FAST_TANH_CLAMP);
    let x2 = x * x;
    let p = x * (34_459_425.0 + x2 * (4_729_725.0 + x2 * (135_135.0 + x2 * (990.0 + x2))));
    let q = 34_459_425.0 + x2 * (16_216_200.0 + x2 * (945_945.0 + x2 * (13_860.0 + x2 * 45.0)));
    (p / q).clamp(-1.0, 1.0)
}

#[inline(always)]
pub(crate) fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

impl Act {
    /// Parses a bare name or a `{ "type": ... }` object. `fast_tanh` turns `Tanh` into
    /// [`Act::FastTanh`].
    pub(crate) fn parse(node: &Node<'_>, fast_tanh: bool) -> Result<Act, NamError> {
        let act = if let Ok(name) = node.str() {
            Self::named(name).ok_or_else(|| node.err(unknown(name)))?
        } else {
            let mut o = node.obj()?;
            let t = o.req("type")?;
            let name = t.str()?;
            let mut act = Self::named(name).ok_or_else(|| t.err(unknown(name)))?;
            match &mut act {
                Act::Hardtanh { min, max } => {
                    read_f32(&mut o, "min_val", min)?;
                    read_f32(&mut o, "max_val", max)?;
                }
                Act::LeakyRelu(slope) => read_f32(&mut o, "negative_slope", slope)?,
                Act::Prelu(slopes) => {
                    let one = o.opt("negative_slope")?;
                    let many = o.opt("negative_slopes")?;
                    match (one, many) {
                        (Some(_), Some(m)) => {
                            return Err(m.err("give negative_slope or negative_slopes, not both"))
                        }
                        (Some(s), None) => *slopes = vec![s.f64()? as f32],
                        (None, Some(m)) => {
                            *slopes = m.f32_vec()?;
                            if slopes.is_empty() {
                                return Err(m.err("unsupported value []: needs at least one slope"));
                            }
                        }
                        (None, None) => {}
                    }
                }
                Act::LeakyHardtanh {
                    min,
                    max,
                    min_slope,
                    max_slope,
                } => {
                    read_f32(&mut o, "min_val", min)?;
                    read_f32(&mut o, "max_val", max)?;
                    read_f32(&mut o, "min_slope", min_slope)?;
                    read_f32(&mut o, "max_slope", max_slope)?;
                }
                _ => {}
            }
            o.finish()?;
            act
        };
        Ok(match act {
            Act::Tanh if fast_tanh => Act::FastTanh,
            a => a,
        })
    }

    fn named(name: &str) -> Option<Act> {
        Some(match name {
            "Tanh" => Act::Tanh,
            "Fasttanh" => Act::FastTanh,
            "Hardtanh" => Act::Hardtanh {
                min: -1.0,
                max: 1.0,
            },
            "ReLU" => Act::Relu,
            "LeakyReLU" => Act::LeakyRelu(0.01),
            "PReLU" => Act::Prelu(vec![0.01]),
            "Sigmoid" => Act::Sigmoid,
            "SiLU" => Act::Silu,
            "Hardswish" => Act::Hardswish,
            "Softsign" => Act::Softsign,
            "Softsigmoid" => Act::Softsigmoid,
            "LeakyHardtanh" => Act::LeakyHardtanh {
                min: -1.0,
                max: 1.0,
                min_slope: 0.01,
                max_slope: 0.01,
            },
            _ => return None,
        })
    }

    /// Checks per-channel parameters against the number of channels the activation sees.
    pub(crate) fn check_channels(&self, node: &Node<'_>, channels: usize) -> Result<(), NamError> {
        match self {
            Act::Prelu(s) if s.len() != 1 && s.len() != channels => Err(node.err(format!(
                "PReLU has {} negative_slopes but the activation sees {channels} channels",
                s.len()
            ))),
            _ => Ok(()),
        }
    }

    /// Keeps the parameters of the first `channels` channels (slimmed models).
    pub(crate) fn truncated(&self, channels: usize) -> Act {
        match self {
            Act::Prelu(s) if s.len() > 1 => Act::Prelu(s[..channels].to_vec()),
            a => a.clone(),
        }
    }

    /// Applies the activation in place to the samples `x` of channel `ch`.
    #[inline(always)]
    pub(crate) fn apply(&self, ch: usize, x: &mut [f32]) {
        match *self {
            Act::Tanh => x.iter_mut().for_each(|v| *v = tanh(*v)),
            Act::FastTanh => x.iter_mut().for_each(|v| *v = fast_tanh(*v)),
            Act::Hardtanh { min, max } => x.iter_mut().for_each(|v| {
                *v = if *v < min {
                    min
                } else if *v > max {
                    max
                } else {
                    *v
                }
            }),
            Act::Relu => x
                .iter_mut()
                .for_each(|v| *v = if *v > 0.0 { *v } else { 0.0 }),
            Act::LeakyRelu(s) => leaky(x, s),
            Act::Prelu(ref s) => leaky(x, if s.len() == 1 { s[0] } else { s[ch] }),
            Act::Sigmoid => x.iter_mut().for_each(|v| *v = sigmoid(*v)),
            Act::Silu => x.iter_mut().for_each(|v| *v *= sigmoid(*v)),
            Act::Hardswish => x.iter_mut().for_each(|v| {
                let r = (*v + 3.0).clamp(0.0, 6.0);
                *v = *v * r / 6.0;
            }),
            Act::Softsign => x.iter_mut().for_each(|v| *v /= 1.0 + v.abs()),
            Act::Softsigmoid => x
                .iter_mut()
                .for_each(|v| *v = 0.5 * (1.0 + *v / (1.0 + v.abs()))),
            Act::LeakyHardtanh {
                min,
                max,
                min_slope,
                max_slope,
            } => x.iter_mut().for_each(|v| {
                *v = if *v < min {
                    (*v - min) * min_slope + min
                } else if *v > max {
                    (*v - max) * max_slope + max
                } else {
                    *v
                }
            }),
        }
    }
}

#[inline(always)]
fn leaky(x: &mut [f32], slope: f32) {
    x.iter_mut()
        .for_each(|v| *v = if *v > 0.0 { *v } else { *v * slope });
}

fn read_f32(o: &mut super::json::Obj<'_>, key: &str, into: &mut f32) -> Result<(), NamError> {
    if let Some(n) = o.opt(key)? {
        *into = n.f64()? as f32;
    }
    Ok(())
}

fn unknown(name: &str) -> String {
    format!(
        "unsupported activation '{name}' (supported: Tanh, Fasttanh, Hardtanh, ReLU, LeakyReLU, \
         PReLU, Sigmoid, SiLU, Hardswish, Softsign, Softsigmoid, LeakyHardtanh)"
    )
}
