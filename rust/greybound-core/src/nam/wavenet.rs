//! NAM WaveNet: the `.nam` config (format 0.5–0.7) read strictly into weights, and its
//! streaming runtime.
//!
//! Semantics follow `nam.models.wavenet` (neural-amp-modeler 0.13). Per layer, with layer
//! input x (C channels), condition c (D channels), bottleneck B, M = 2B for paired
//! (gated/blended) activations and B otherwise; every FiLM stage is optional,
//! FiLM(v, c) = scale(c)·v + shift(c) with (scale, shift) = a grouped 1×1 conv of c:
//! ```text
//! z   = conv_post_film( Conv_K,d,groups_input( conv_pre_film(x) ) )            (M)
//!     + input_mixin_post_film( Mixer_groups_input_mixin( input_mixin_pre_film(c) ) )
//! z   = activation_pre_film(z)
//! a   = act(z) | primary(z₁)·secondary(z₂) | s·primary(z₁) + (1−s)·z₁, s = secondary(z₂)
//! a   = activation_post_film(a)                                                 (B)
//! x  += layer1x1_post_film(layer1x1(a))   (or x += a when layer1x1 is inactive)
//! head += head1x1_post_film(head1x1(a))   (or head += a when head1x1 is inactive)
//! ```
//! A layer array rechannels its input (1×1, no bias), runs its layers, and passes the
//! head sum (started from the previous array's head output, or zero) through its head
//! rechannel (kernel `head.kernel_size`, dilation 1). The model output is
//! `head_scale · head` of the last array, then the optional post-stack `head` blocks
//! (activation, then convolution). With `condition_dsp`, c is the output of a nested
//! WaveNet run on the input; otherwise c is the input.
//!
//! Legacy keys (0.5 files): `head_size` + `head_bias` mean a head object with kernel 1;
//! `gated: true` means gating_mode "gated" with a Sigmoid secondary; `kernel_size` may be a
//! single value. `head_scale` is the last float of `weights` (the value the trainer uses
//! when it differs from the config's).
//!
//! Where NeuralAmpModelerCore and the trainer differ, the trainer's meaning is used and
//! the difference is stated: `layer1x1_post_film` applies in every gating mode (the C++
//! core applies it only in blended layers); `PReLU` uses the file's `negative_slope(s)`
//! (as the C++ core does; the trainer's 0.13 loader drops them and would use its 0.25
//! initial value).
//!
//! Slimmable layer arrays (`slimmable.method = "slice_channels_uniform"`) run with
//! `allowed_channels[min(⌊slim·n⌋, n−1)]` channels: the first rows/columns of every
//! weight, as both official implementations slice them.

use super::activation::Act;
use super::conv::{conv1x1, Conv, Cursor, Ring, RingConv, CHUNK};
use super::json::{Node, Obj};
use super::{check_version, NamError, NamOptions};

/// Largest channel count, kernel size, dilation or layer count accepted (keeps buffers
/// bounded; far above any published NAM architecture).
const MAX_DIM: usize = 4096;

/// How a layer combines the two halves of its conv output.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Gating {
    None,
    Gated,
    Blended,
}

/// The eight FiLM positions, in the order of their weights in the file.
const FILM_KEYS: [&str; 8] = [
    "conv_pre_film",
    "conv_post_film",
    "input_mixin_pre_film",
    "input_mixin_post_film",
    "activation_pre_film",
    "activation_post_film",
    "layer1x1_post_film",
    "head1x1_post_film",
];
const CONV_PRE: usize = 0;
const CONV_POST: usize = 1;
const MIXIN_PRE: usize = 2;
const MIXIN_POST: usize = 3;
const ACT_PRE: usize = 4;
const ACT_POST: usize = 5;
const LAYER1X1_POST: usize = 6;
const HEAD1X1_POST: usize = 7;

#[derive(Debug, Clone)]
struct Film {
    shift: bool,
    dim: usize,
    /// Condition → (2 if shift else 1)·dim, kernel 1, grouped, with bias.
    conv: Conv,
}

#[derive(Debug, Clone)]
struct LayerSpec {
    conv: Conv,
    mixer: Conv,
    gating: Gating,
    primary: Act,
    secondary: Act,
    bottleneck: usize,
    layer1x1: Option<Conv>,
    head1x1: Option<Conv>,
    films: [Option<Film>; 8],
}

#[derive(Debug, Clone)]
struct ArraySpec {
    channels: usize,
    rechannel: Conv,
    layers: Vec<LayerSpec>,
    head_rechannel: Conv,
    /// Allowed channel counts of a slimmable array.
    allowed: Option<Vec<usize>>,
}

#[derive(Debug, Clone)]
struct HeadSpec {
    act: Act,
    convs: Vec<Conv>,
}

/// A parsed WaveNet without its condition DSP.
#[derive(Debug, Clone)]
struct NetSpec {
    arrays: Vec<ArraySpec>,
    head: Option<HeadSpec>,
    head_scale: f32,
}

impl NetSpec {
    fn out_channels(&self) -> usize {
        match &self.head {
            Some(h) => h.convs.last().map_or(0, |c| c.cout),
            None => self.arrays.last().map_or(0, |a| a.head_rechannel.cout),
        }
    }

    fn receptive_field(&self) -> usize {
        let arrays: usize = self
            .arrays
            .iter()
            .map(|a| {
                a.layers.iter().map(|l| l.conv.history()).sum::<usize>()
                    + a.head_rechannel.history()
            })
            .sum();
        let head: usize = self
            .head
            .iter()
            .flat_map(|h| h.convs.iter().map(Conv::history))
            .sum();
        1 + arrays + head
    }

    /// The model with each slimmable array cut to the channel count `slim` selects.
    fn slimmed(&self, slim: f64) -> NetSpec {
        let n = self.arrays.len();
        let chans: Vec<usize> = self
            .arrays
            .iter()
            .map(|a| match &a.allowed {
                Some(allowed) => {
                    let i = ((slim * allowed.len() as f64).floor() as usize).min(allowed.len() - 1);
                    allowed[i]
                }
                None => a.channels,
            })
            .collect();
        let arrays = self
            .arrays
            .iter()
            .enumerate()
            .map(|(i, a)| {
                let c = chans[i];
                let cin = if i == 0 {
                    a.rechannel.cin
                } else {
                    chans[i - 1]
                };
                let hout = if i + 1 < n {
                    chans[i + 1]
                } else {
                    a.head_rechannel.cout
                };
                let layers = a
                    .layers
                    .iter()
                    .map(|l| {
                        let m = if l.gating == Gating::None { c } else { 2 * c };
                        LayerSpec {
                            conv: l.conv.sliced(c, m),
                            mixer: l.mixer.sliced(l.mixer.cin, m),
                            gating: l.gating,
                            primary: l.primary.truncated(c),
                            secondary: l.secondary.truncated(c),
                            bottleneck: c,
                            layer1x1: l.layer1x1.as_ref().map(|p| p.sliced(c, c)),
                            head1x1: None,
                            films: Default::default(),
                        }
                    })
                    .collect();
                ArraySpec {
                    channels: c,
                    rechannel: a.rechannel.sliced(cin, c),
                    layers,
                    head_rechannel: a.head_rechannel.sliced(c, hout),
                    allowed: None,
                }
            })
            .collect();
        NetSpec {
            arrays,
            head: self.head.clone(),
            head_scale: self.head_scale,
        }
    }
}

/// Parses the `config` of a WaveNet model (and its weights). Returns the main network and
/// the optional condition DSP network.
pub(crate) fn parse(
    config: &Node<'_>,
    weights: &Node<'_>,
    opts: &NamOptions,
    nested: bool,
) -> Result<WaveNetModel, NamError> {
    let mut cfg = config.obj()?;
    let cond = match cfg.opt("condition_dsp")? {
        Some(node) if nested => {
            return Err(node.err("a condition_dsp inside a condition_dsp is not supported"))
        }
        Some(node) => Some(parse_condition_dsp(&node, opts)?),
        None => None,
    };
    let cond_channels = cond.as_ref().map_or(1, NetSpec::out_channels);
    if let Some(n) = cfg.opt("in_channels")? {
        n.usize_in(1, 1)?;
    }
    let data = weights.f32_vec()?;
    let mut cur = Cursor::new(&data, weights.file(), weights.path());
    let layers_node = cfg.req("layers")?;
    let layer_nodes = layers_node.array()?;
    if layer_nodes.is_empty() {
        return Err(layers_node.err("unsupported value []: needs at least one layer array"));
    }
    let mut arrays: Vec<ArraySpec> = Vec::with_capacity(layer_nodes.len());
    for (i, node) in layer_nodes.iter().enumerate() {
        let prev = arrays.last();
        let a = parse_array(node, prev, i == 0, cond_channels, opts, &mut cur)?;
        arrays.push(a);
    }
    let slimmable: Vec<usize> = (0..arrays.len())
        .filter(|&i| arrays[i].allowed.is_some())
        .collect();
    for &i in &slimmable {
        if i + 1 < arrays.len() && arrays[i].head_rechannel.cout != arrays[i + 1].channels {
            return Err(layer_nodes[i].err_at(
                "slimmable",
                "slimming needs this array's head out_channels to equal the next array's channels",
            ));
        }
    }
    let last_head = arrays.last().map_or(0, |a| a.head_rechannel.cout);
    let head = match cfg.opt("head")? {
        Some(h) => Some(parse_post_head(&h, last_head, opts, &mut cur)?),
        None => None,
    };
    if head.is_some() && !slimmable.is_empty() {
        return Err(cfg.node().err_at(
            "head",
            "a post-stack head on a slimmable WaveNet is not supported",
        ));
    }
    // head_scale: required in the config; the value used is the last weight.
    cfg.req("head_scale")?.f64()?;
    let head_scale = cur.take(1, "head_scale")?[0];
    cur.finish()?;
    cfg.finish()?;
    let spec = NetSpec {
        arrays,
        head,
        head_scale,
    };
    let out = spec.out_channels();
    if !nested && out != 1 {
        return Err(config.err(format!(
            "the model has {out} output channels; only mono (1) is supported"
        )));
    }
    let spec = if slimmable.is_empty() {
        spec
    } else {
        spec.slimmed(opts.slim.unwrap_or(1.0))
    };
    Ok(WaveNetModel {
        cond: cond.map(Net::new),
        main: Net::new(spec),
        slimmable: !slimmable.is_empty(),
    })
}

/// A `condition_dsp`: a complete nested model object whose architecture must be WaveNet.
fn parse_condition_dsp(node: &Node<'_>, opts: &NamOptions) -> Result<NetSpec, NamError> {
    let mut o = node.obj()?;
    check_version(&o.req("version")?)?;
    let arch = o.req("architecture")?;
    if arch.str()? != "WaveNet" {
        return Err(arch.err(format!(
            "unsupported condition_dsp architecture '{}' (only WaveNet)",
            arch.str()?
        )));
    }
    o.ignore("metadata");
    o.ignore("sample_rate");
    let config = o.req("config")?;
    let weights = o.req("weights")?;
    o.finish()?;
    let m = parse(&config, &weights, opts, true)?;
    if m.slimmable {
        return Err(config.err("a slimmable condition_dsp is not supported"));
    }
    Ok(m.main.spec)
}

fn dim(node: &Node<'_>) -> Result<usize, NamError> {
    node.usize_in(1, MAX_DIM)
}

/// `groups` must divide both channel counts.
fn check_groups(node: &Node<'_>, groups: usize, a: usize, b: usize) -> Result<(), NamError> {
    if a % groups != 0 || b % groups != 0 {
        return Err(node.err(format!(
            "unsupported value {groups}: groups must divide both {a} and {b} channels"
        )));
    }
    Ok(())
}

/// A value given once for all layers or as a per-layer array.
fn per_layer<'a>(node: &Node<'a>, layers: usize) -> Result<Vec<Node<'a>>, NamError> {
    if node.value().is_array() {
        let items = node.array()?;
        if items.len() != layers {
            return Err(node.err(format!(
                "has {} entries but the array has {layers} layers (dilations)",
                items.len()
            )));
        }
        Ok(items)
    } else {
        Ok(vec![node.clone(); layers])
    }
}

fn parse_array(
    node: &Node<'_>,
    prev: Option<&ArraySpec>,
    first: bool,
    cond_channels: usize,
    opts: &NamOptions,
    cur: &mut Cursor<'_>,
) -> Result<ArraySpec, NamError> {
    let mut o = node.obj()?;
    let input_node = o.req("input_size")?;
    let input_size = dim(&input_node)?;
    let expected_in = prev.map_or(1, |p| p.channels);
    if input_size != expected_in {
        return Err(input_node.err(format!(
            "unsupported value {input_size}: expected {expected_in} ({})",
            if first {
                "the model input is mono"
            } else {
                "the previous array's channels"
            }
        )));
    }
    let cond_node = o.req("condition_size")?;
    let cond = dim(&cond_node)?;
    if cond != cond_channels {
        return Err(cond_node.err(format!(
            "unsupported value {cond}: the condition has {cond_channels} channels"
        )));
    }
    let channels = dim(&o.req("channels")?)?;
    let bottleneck = match o.opt("bottleneck")? {
        Some(b) => dim(&b)?,
        None => channels,
    };
    let dil_node = o.req("dilations")?;
    let dilations: Vec<usize> = dil_node
        .array()?
        .iter()
        .map(dim)
        .collect::<Result<_, _>>()?;
    if dilations.is_empty() {
        return Err(dil_node.err("unsupported value []: needs at least one layer"));
    }
    let l = dilations.len();
    let kernels: Vec<usize> = match (o.opt("kernel_size")?, o.opt("kernel_sizes")?) {
        (Some(_), Some(ks)) => {
            return Err(ks.err("give kernel_size or kernel_sizes, not both"));
        }
        (Some(k), None) | (None, Some(k)) => per_layer(&k, l)?
            .iter()
            .map(dim)
            .collect::<Result<_, _>>()?,
        (None, None) => {
            return Err(node.err_at("kernel_sizes", "required key is missing (or kernel_size)"))
        }
    };
    let act_node = o.req("activation")?;
    let primaries: Vec<(Act, Node<'_>)> = per_layer(&act_node, l)?
        .into_iter()
        .map(|n| Act::parse(&n, opts.fast_tanh).map(|a| (a, n)))
        .collect::<Result<_, _>>()?;
    let gatings: Vec<Gating> = match (o.opt("gating_mode")?, o.opt("gated")?) {
        (Some(_), Some(g)) => return Err(g.err("give gating_mode or gated, not both")),
        (Some(gm), None) => per_layer(&gm, l)?
            .iter()
            .map(|n| match n.str()? {
                "none" => Ok(Gating::None),
                "gated" => Ok(Gating::Gated),
                "blended" => Ok(Gating::Blended),
                other => Err(n.err(format!(
                    "unsupported value '{other}' (expected none, gated or blended)"
                ))),
            })
            .collect::<Result<_, _>>()?,
        (None, Some(g)) => vec![
            if g.bool()? {
                Gating::Gated
            } else {
                Gating::None
            };
            l
        ],
        (None, None) => vec![Gating::None; l],
    };
    let secondary_nodes: Option<Vec<Node<'_>>> = match o.opt("secondary_activation")? {
        Some(s) => Some(per_layer(&s, l)?),
        None => None,
    };
    let mut secondaries = Vec::with_capacity(l);
    for (i, g) in gatings.iter().enumerate() {
        let given = secondary_nodes
            .as_ref()
            .map(|v| v[i].clone())
            .filter(|n| !n.is_null() && n.value().as_str() != Some(""));
        secondaries.push(match (g, given) {
            (Gating::None, _) => None,
            (_, Some(n)) => Some((Act::parse(&n, opts.fast_tanh)?, n)),
            // A gated layer without a secondary activation is tanh·sigmoid gating (0.5).
            (_, None) => Some((Act::Sigmoid, act_node.clone())),
        });
    }
    // Head rechannel: nested object, or the legacy head_size + head_bias (kernel 1).
    let (head_out, head_k, head_bias) = match (o.opt("head")?, o.opt("head_size")?) {
        (Some(_), Some(hs)) => return Err(hs.err("give head or head_size, not both")),
        (Some(h), None) => {
            let mut ho = h.obj()?;
            let out = dim(&ho.req("out_channels")?)?;
            let k = dim(&ho.req("kernel_size")?)?;
            let b = ho.req("bias")?.bool()?;
            ho.finish()?;
            (out, k, b)
        }
        (None, Some(hs)) => {
            let out = dim(&hs)?;
            (out, 1, o.req("head_bias")?.bool()?)
        }
        (None, None) => {
            return Err(node.err_at("head", "required key is missing (or head_size + head_bias)"))
        }
    };
    let (l1_active, l1_groups, l1_node) = match o.opt("layer1x1")? {
        Some(n) => {
            let mut lo = n.obj()?;
            let active = lo.req("active")?.bool()?;
            let g = match lo.opt("groups")? {
                Some(g) => dim(&g)?,
                None => 1,
            };
            lo.finish()?;
            (active, g, n)
        }
        None => (true, 1, node.clone()),
    };
    let (h1, h1_node) = match o.opt("head1x1")? {
        Some(n) => {
            let mut ho = n.obj()?;
            let active = ho.req("active")?.bool()?;
            let out = ho.opt("out_channels")?;
            let groups = ho.opt("groups")?;
            ho.finish()?;
            let h1 = if active {
                let out =
                    dim(&out.ok_or_else(|| n.err_at("out_channels", "required key is missing"))?)?;
                let g = match groups {
                    Some(g) => dim(&g)?,
                    None => 1,
                };
                Some((out, g))
            } else {
                None
            };
            (h1, n)
        }
        None => (None, node.clone()),
    };
    let groups_node = o.opt("groups_input")?;
    let groups_in = match &groups_node {
        Some(g) => dim(g)?,
        None => 1,
    };
    let mixin_node = o.opt("groups_input_mixin")?;
    let groups_mix = match &mixin_node {
        Some(g) => dim(g)?,
        None => 1,
    };
    let mut films: [Option<(bool, usize, Node<'_>)>; 8] = Default::default();
    for (slot, key) in films.iter_mut().zip(FILM_KEYS) {
        let Some(n) = o.opt(key)? else { continue };
        if n.value().as_bool() == Some(false) {
            continue;
        }
        let mut fo = n.obj()?;
        let active = match fo.opt("active")? {
            Some(a) => a.bool()?,
            None => true,
        };
        let shift = match fo.opt("shift")? {
            Some(s) => s.bool()?,
            None => true,
        };
        let groups = match fo.opt("groups")? {
            Some(g) => dim(&g)?,
            None => 1,
        };
        fo.finish()?;
        if active {
            *slot = Some((shift, groups, n));
        }
    }
    let allowed = match o.opt("slimmable")? {
        Some(s) => Some(parse_slimmable(&s, channels)?),
        None => None,
    };
    o.finish()?;

    // Consistency of the shapes.
    let head_in = h1.map_or(bottleneck, |(out, _)| out);
    if let Some(p) = prev {
        if p.head_rechannel.cout != head_in {
            return Err(node.err_at(
                "head",
                format!(
                    "this array's layers write {head_in} head channels but the previous array's \
                     head has out_channels {}",
                    p.head_rechannel.cout
                ),
            ));
        }
    }
    if !l1_active && bottleneck != channels {
        return Err(l1_node.err(format!(
            "layer1x1 is inactive, which needs bottleneck ({bottleneck}) = channels ({channels})"
        )));
    }
    if let Some((_, _, n)) = &films[LAYER1X1_POST] {
        if !l1_active {
            return Err(n.err("layer1x1_post_film is active but layer1x1 is not"));
        }
    }
    if let Some((_, _, n)) = &films[HEAD1X1_POST] {
        if h1.is_none() {
            return Err(n.err("head1x1_post_film is active but head1x1 is not"));
        }
    }
    if let Some(allowed) = &allowed {
        let unsupported = if groups_in != 1 || groups_mix != 1 || (l1_active && l1_groups != 1) {
            Some("grouped convolutions")
        } else if h1.is_some() {
            Some("head1x1")
        } else if films.iter().any(Option::is_some) {
            Some("FiLM")
        } else if head_k != 1 {
            Some("a head kernel_size other than 1")
        } else if bottleneck != channels {
            Some("a bottleneck other than channels")
        } else {
            None
        };
        if let Some(what) = unsupported {
            return Err(node.err_at(
                "slimmable",
                format!("slimming a layer array with {what} is not supported"),
            ));
        }
        debug_assert_eq!(allowed.last(), Some(&channels));
    }

    // Weights, in export order.
    let rechannel = Conv::read(cur, "rechannel", input_size, channels, 1, 1, 1, false)?;
    let mut layers = Vec::with_capacity(l);
    for i in 0..l {
        let gating = gatings[i];
        let m = if gating == Gating::None {
            bottleneck
        } else {
            2 * bottleneck
        };
        if let Some(g) = &groups_node {
            check_groups(g, groups_in, channels, m)?;
        }
        if let Some(g) = &mixin_node {
            check_groups(g, groups_mix, cond, m)?;
        }
        let (primary, pnode) = &primaries[i];
        primary.check_channels(pnode, bottleneck)?;
        if let Some((s, snode)) = &secondaries[i] {
            s.check_channels(snode, bottleneck)?;
        }
        let what = format!("layer {i}");
        let conv = Conv::read(
            cur,
            &what,
            channels,
            m,
            groups_in,
            kernels[i],
            dilations[i],
            true,
        )?;
        let mixer = Conv::read(cur, &what, cond, m, groups_mix, 1, 1, false)?;
        let layer1x1 = if l1_active {
            check_groups(&l1_node, l1_groups, bottleneck, channels)?;
            Some(Conv::read(
                cur, &what, bottleneck, channels, l1_groups, 1, 1, true,
            )?)
        } else {
            None
        };
        let head1x1 = match h1 {
            Some((out, g)) => {
                check_groups(&h1_node, g, bottleneck, out)?;
                Some(Conv::read(cur, &what, bottleneck, out, g, 1, 1, true)?)
            }
            None => None,
        };
        let film_dims = [
            channels,
            m,
            cond,
            m,
            m,
            bottleneck,
            channels,
            h1.map_or(0, |(out, _)| out),
        ];
        let mut layer_films: [Option<Film>; 8] = Default::default();
        for (j, slot) in films.iter().enumerate() {
            if let Some((shift, groups, n)) = slot {
                let d = film_dims[j];
                let outs = if *shift { 2 * d } else { d };
                check_groups(n, *groups, cond, outs)?;
                layer_films[j] = Some(Film {
                    shift: *shift,
                    dim: d,
                    conv: Conv::read(
                        cur,
                        &format!("layer {i} {}", FILM_KEYS[j]),
                        cond,
                        outs,
                        *groups,
                        1,
                        1,
                        true,
                    )?,
                });
            }
        }
        layers.push(LayerSpec {
            conv,
            mixer,
            gating,
            primary: primary.clone(),
            secondary: secondaries[i]
                .as_ref()
                .map_or(Act::Sigmoid, |(a, _)| a.clone()),
            bottleneck,
            layer1x1,
            head1x1,
            films: layer_films,
        });
    }
    let head_rechannel = Conv::read(
        cur,
        "head rechannel",
        head_in,
        head_out,
        1,
        head_k,
        1,
        head_bias,
    )?;
    Ok(ArraySpec {
        channels,
        rechannel,
        layers,
        head_rechannel,
        allowed,
    })
}

/// `{ "method": "slice_channels_uniform", "kwargs": { "allowed_channels": [...] } }`;
/// `boosting` and `init_strategy` are training-only and ignored.
fn parse_slimmable(node: &Node<'_>, channels: usize) -> Result<Vec<usize>, NamError> {
    let mut o = node.obj()?;
    let method = o.req("method")?;
    if method.str()? != "slice_channels_uniform" {
        return Err(method.err(format!(
            "unsupported slimmable method '{}' (only slice_channels_uniform)",
            method.str()?
        )));
    }
    let kw = o.req("kwargs")?;
    o.finish()?;
    let mut k: Obj<'_> = kw.obj()?;
    let allowed_node = k.req("allowed_channels")?;
    k.ignore("boosting");
    k.ignore("init_strategy");
    k.finish()?;
    let allowed: Vec<usize> = allowed_node
        .array()?
        .iter()
        .map(dim)
        .collect::<Result<_, _>>()?;
    let ascending = allowed.windows(2).all(|w| w[0] < w[1]);
    if allowed.is_empty() || !ascending || allowed.last() != Some(&channels) {
        return Err(allowed_node.err(format!(
            "must be strictly ascending and end with channels ({channels})"
        )));
    }
    Ok(allowed)
}

/// The post-stack `head`: blocks of (activation, Conv1d kernel k, bias).
fn parse_post_head(
    node: &Node<'_>,
    in_channels: usize,
    opts: &NamOptions,
    cur: &mut Cursor<'_>,
) -> Result<HeadSpec, NamError> {
    let mut o = node.obj()?;
    if let Some(n) = o.opt("in_channels")? {
        let v = dim(&n)?;
        if v != in_channels {
            return Err(n.err(format!(
                "unsupported value {v}: the last layer array's head has {in_channels} channels"
            )));
        }
    }
    let channels = dim(&o.req("channels")?)?;
    let out = dim(&o.req("out_channels")?)?;
    let ks_node = o.req("kernel_sizes")?;
    let ks: Vec<usize> = ks_node.array()?.iter().map(dim).collect::<Result<_, _>>()?;
    if ks.is_empty() {
        return Err(ks_node.err("unsupported value []: needs at least one block"));
    }
    let act_node = o.req("activation")?;
    let act = Act::parse(&act_node, opts.fast_tanh)?;
    o.finish()?;
    let mut convs = Vec::with_capacity(ks.len());
    let mut cin = in_channels;
    for (i, &k) in ks.iter().enumerate() {
        act.check_channels(&act_node, cin)?;
        let cout = if i + 1 == ks.len() { out } else { channels };
        convs.push(Conv::read(
            cur,
            "post-stack head",
            cin,
            cout,
            1,
            k,
            1,
            true,
        )?);
        cin = cout;
    }
    Ok(HeadSpec { act, convs })
}

// ---------------------------------------------------------------------------------------
// Runtime
// ---------------------------------------------------------------------------------------

/// Scratch rows shared by every layer of a network, each `rows × CHUNK`.
struct Bufs {
    x: Vec<f32>,
    x_prev: Vec<f32>,
    pre: Vec<f32>,
    z: Vec<f32>,
    mix: Vec<f32>,
    mixin: Vec<f32>,
    film: Vec<f32>,
    lo: Vec<f32>,
    ho: Vec<f32>,
    head_acc: Vec<f32>,
    head_out: Vec<f32>,
    post_a: Vec<f32>,
    post_b: Vec<f32>,
    out: Vec<f32>,
}

struct LayerRt {
    spec: LayerSpec,
    /// The dilated convolution as run: with the input mixer fused into it
    /// ([`Conv::with_mixin`]) when no FiLM sits between them and the sum (`fused`).
    conv: Conv,
    fused: bool,
    ring: Ring,
    off: Vec<usize>,
}

impl LayerRt {
    fn new(spec: &LayerSpec) -> LayerRt {
        let fused = spec.mixer.groups == 1
            && [CONV_POST, MIXIN_PRE, MIXIN_POST]
                .iter()
                .all(|&i| spec.films[i].is_none());
        LayerRt {
            conv: if fused {
                spec.conv.with_mixin(&spec.mixer)
            } else {
                spec.conv.clone()
            },
            fused,
            ring: Ring::new(spec.conv.cin, spec.conv.history()),
            off: vec![0; spec.conv.k],
            spec: spec.clone(),
        }
    }
}

struct ArrayRt {
    first: bool,
    channels: usize,
    rechannel: Conv,
    layers: Vec<LayerRt>,
    head: RingConv,
}

struct PostHeadRt {
    act: Act,
    convs: Vec<RingConv>,
}

/// One streaming WaveNet (without condition DSP).
pub(crate) struct Net {
    spec: NetSpec,
    arrays: Vec<ArrayRt>,
    post: Option<PostHeadRt>,
    bufs: Bufs,
    out_channels: usize,
}

impl Net {
    fn new(spec: NetSpec) -> Net {
        let mut rows = 1;
        for a in &spec.arrays {
            rows = rows
                .max(a.rechannel.cin)
                .max(a.channels)
                .max(a.head_rechannel.cin)
                .max(a.head_rechannel.cout);
            for l in &a.layers {
                rows = rows.max(l.conv.cout).max(l.mixer.cin);
                for c in l.layer1x1.iter().chain(&l.head1x1) {
                    rows = rows.max(c.cout);
                }
                for f in l.films.iter().flatten() {
                    rows = rows.max(f.conv.cout);
                }
            }
        }
        for c in spec.head.iter().flat_map(|h| &h.convs) {
            rows = rows.max(c.cin).max(c.cout);
        }
        let buf = || vec![0.0f32; rows * CHUNK];
        let bufs = Bufs {
            x: buf(),
            x_prev: buf(),
            pre: buf(),
            z: buf(),
            mix: buf(),
            mixin: buf(),
            film: buf(),
            lo: buf(),
            ho: buf(),
            head_acc: buf(),
            head_out: buf(),
            post_a: buf(),
            post_b: buf(),
            out: buf(),
        };
        let arrays = spec
            .arrays
            .iter()
            .enumerate()
            .map(|(i, a)| ArrayRt {
                first: i == 0,
                channels: a.channels,
                rechannel: a.rechannel.clone(),
                layers: a.layers.iter().map(LayerRt::new).collect(),
                head: RingConv::new(a.head_rechannel.clone()),
            })
            .collect();
        let post = spec.head.as_ref().map(|h| PostHeadRt {
            act: h.act.clone(),
            convs: h.convs.iter().cloned().map(RingConv::new).collect(),
        });
        let out_channels = spec.out_channels();
        Net {
            spec,
            arrays,
            post,
            bufs,
            out_channels,
        }
    }

    fn reset(&mut self) {
        for a in &mut self.arrays {
            for l in &mut a.layers {
                l.ring.reset();
            }
            a.head.reset();
        }
        for c in self.post.iter_mut().flat_map(|p| &mut p.convs) {
            c.reset();
        }
    }

    fn state_bytes(&self) -> usize {
        let rings: usize = self
            .arrays
            .iter()
            .map(|a| a.layers.iter().map(|l| l.ring.bytes()).sum::<usize>() + a.head.state_bytes())
            .sum::<usize>()
            + self
                .post
                .iter()
                .flat_map(|p| &p.convs)
                .map(RingConv::state_bytes)
                .sum::<usize>();
        rings + 14 * self.bufs.x.len() * 4
    }

    /// Runs `n` samples: `input` is the mono input row, `cond` the condition rows. The
    /// output rows are left in `self.bufs.out`.
    #[inline(always)]
    fn chunk<const W: usize>(&mut self, input: &[f32], cond: &[f32], n: usize, steady: bool) {
        let b = &mut self.bufs;
        for a in &mut self.arrays {
            if a.first {
                conv1x1::<W>(&a.rechannel, &mut b.x, n, input);
                b.head_acc.fill(0.0);
            } else {
                std::mem::swap(&mut b.x, &mut b.x_prev);
                conv1x1::<W>(&a.rechannel, &mut b.x, n, &b.x_prev);
                let rows = a.head.conv.cin * CHUNK;
                b.head_acc[..rows].copy_from_slice(&b.head_out[..rows]);
            }
            for l in &mut a.layers {
                layer::<W>(l, b, cond, n, a.channels, steady);
            }
            a.head.run::<W>(&b.head_acc, n, &mut b.head_out, steady);
        }
        let scale = self.spec.head_scale;
        match &mut self.post {
            None => {
                for o in 0..self.out_channels {
                    let r = o * CHUNK;
                    for t in 0..n {
                        b.out[r + t] = scale * b.head_out[r + t];
                    }
                }
            }
            Some(p) => {
                let cin = p.convs[0].conv.cin;
                for t in 0..cin * CHUNK {
                    b.post_a[t] = scale * b.head_out[t];
                }
                for c in &mut p.convs {
                    for ch in 0..c.conv.cin {
                        p.act.apply(ch, &mut b.post_a[ch * CHUNK..ch * CHUNK + n]);
                    }
                    c.run::<W>(&b.post_a, n, &mut b.post_b, steady);
                    std::mem::swap(&mut b.post_a, &mut b.post_b);
                }
                let rows = self.out_channels * CHUNK;
                b.out[..rows].copy_from_slice(&b.post_a[..rows]);
            }
        }
    }
}

/// FiLM in place: `target[ch] = scale[ch]·target[ch] (+ shift[ch])` for `f.dim` rows, with
/// (scale, shift) the 1×1 conv of the condition (written to `tmp`).
#[inline(always)]
fn film<const W: usize>(f: &Film, target: &mut [f32], cond: &[f32], n: usize, tmp: &mut [f32]) {
    conv1x1::<W>(&f.conv, tmp, n, cond);
    for ch in 0..f.dim {
        let r = ch * CHUNK;
        let scale = &tmp[r..r + n];
        let row = &mut target[r..r + n];
        if f.shift {
            let s = (f.dim + ch) * CHUNK;
            let shift = &tmp[s..s + n];
            for ((v, a), sh) in row.iter_mut().zip(scale).zip(shift) {
                *v = *a * *v + *sh;
            }
        } else {
            for (v, a) in row.iter_mut().zip(scale) {
                *v *= *a;
            }
        }
    }
}

/// One layer over `n` samples: updates `b.x` (residual stream) and `b.head_acc`.
#[inline(always)]
fn layer<const W: usize>(
    l: &mut LayerRt,
    b: &mut Bufs,
    cond: &[f32],
    n: usize,
    channels: usize,
    steady: bool,
) {
    let s = &l.spec;
    let bn = s.bottleneck;
    let m = s.conv.cout;
    let rows = |c: usize| c * CHUNK;
    // Dilated convolution of the (optionally FiLM-ed) layer input.
    let start = if let Some(f) = &s.films[CONV_PRE] {
        b.pre[..rows(channels)].copy_from_slice(&b.x[..rows(channels)]);
        film::<W>(f, &mut b.pre, cond, n, &mut b.film);
        l.ring.push(&b.pre, n, steady)
    } else {
        l.ring.push(&b.x, n, steady)
    };
    if l.fused {
        // Convolution and input mixin of the condition in one pass.
        l.ring
            .conv::<W>(&l.conv, start, n, &mut l.off, cond, &mut b.z);
    } else {
        l.ring
            .conv::<W>(&l.conv, start, n, &mut l.off, &[], &mut b.z);
        if let Some(f) = &s.films[CONV_POST] {
            film::<W>(f, &mut b.z, cond, n, &mut b.film);
        }
        // Input mixin of the condition.
        if let Some(f) = &s.films[MIXIN_PRE] {
            let d = s.mixer.cin;
            b.mixin[..rows(d)].copy_from_slice(&cond[..rows(d)]);
            film::<W>(f, &mut b.mixin, cond, n, &mut b.film);
            conv1x1::<W>(&s.mixer, &mut b.mix, n, &b.mixin);
        } else {
            conv1x1::<W>(&s.mixer, &mut b.mix, n, cond);
        }
        if let Some(f) = &s.films[MIXIN_POST] {
            film::<W>(f, &mut b.mix, cond, n, &mut b.film);
        }
        for ch in 0..m {
            let r = ch * CHUNK;
            for (z, v) in b.z[r..r + n].iter_mut().zip(&b.mix[r..r + n]) {
                *z += *v;
            }
        }
    }
    if let Some(f) = &s.films[ACT_PRE] {
        film::<W>(f, &mut b.z, cond, n, &mut b.film);
    }
    // Activation: the result is in the first `bn` rows of z.
    match s.gating {
        Gating::None => {
            for ch in 0..bn {
                s.primary.apply(ch, &mut b.z[ch * CHUNK..ch * CHUNK + n]);
            }
        }
        Gating::Gated => {
            let (p, q) = b.z.split_at_mut(bn * CHUNK);
            for ch in 0..bn {
                let r = ch * CHUNK;
                let (pr, qr) = (&mut p[r..r + n], &mut q[r..r + n]);
                s.primary.apply(ch, pr);
                s.secondary.apply(ch, qr);
                for (a, g) in pr.iter_mut().zip(qr.iter()) {
                    *a *= *g;
                }
            }
        }
        Gating::Blended => {
            let (p, q) = b.z.split_at_mut(bn * CHUNK);
            for ch in 0..bn {
                let r = ch * CHUNK;
                let (pr, qr) = (&mut p[r..r + n], &mut q[r..r + n]);
                let orig = &mut b.mix[r..r + n];
                orig.copy_from_slice(pr);
                s.primary.apply(ch, pr);
                s.secondary.apply(ch, qr);
                for ((a, g), x) in pr.iter_mut().zip(qr.iter()).zip(orig.iter()) {
                    *a = *g * *a + (1.0 - *g) * *x;
                }
            }
        }
    }
    if let Some(f) = &s.films[ACT_POST] {
        film::<W>(f, &mut b.z, cond, n, &mut b.film);
    }
    // Residual.
    let residual: &[f32] = if let Some(c) = &s.layer1x1 {
        conv1x1::<W>(c, &mut b.lo, n, &b.z);
        if let Some(f) = &s.films[LAYER1X1_POST] {
            film::<W>(f, &mut b.lo, cond, n, &mut b.film);
        }
        &b.lo
    } else {
        &b.z
    };
    for ch in 0..channels {
        let r = ch * CHUNK;
        for (x, v) in b.x[r..r + n].iter_mut().zip(&residual[r..r + n]) {
            *x += *v;
        }
    }
    // Head (skip) sum.
    let (head, hrows): (&[f32], usize) = if let Some(c) = &s.head1x1 {
        conv1x1::<W>(c, &mut b.ho, n, &b.z);
        if let Some(f) = &s.films[HEAD1X1_POST] {
            film::<W>(f, &mut b.ho, cond, n, &mut b.film);
        }
        (&b.ho, c.cout)
    } else {
        (&b.z, bn)
    };
    for ch in 0..hrows {
        let r = ch * CHUNK;
        for (h, v) in b.head_acc[r..r + n].iter_mut().zip(&head[r..r + n]) {
            *h += *v;
        }
    }
}

/// A WaveNet `.nam` model: the main network and its optional condition DSP.
pub(crate) struct WaveNetModel {
    cond: Option<Net>,
    main: Net,
    slimmable: bool,
}

impl WaveNetModel {
    /// Receptive field in samples (the condition DSP's adds to the main network's).
    pub(crate) fn receptive_field(&self) -> usize {
        self.main.spec.receptive_field()
            + self
                .cond
                .as_ref()
                .map_or(0, |c| c.spec.receptive_field() - 1)
    }

    pub(crate) fn is_slimmable(&self) -> bool {
        self.slimmable
    }

    /// Channel count of each layer array of the main network (after slimming).
    pub(crate) fn channels(&self) -> Vec<usize> {
        self.main.spec.arrays.iter().map(|a| a.channels).collect()
    }

    pub(crate) fn state_bytes(&self) -> usize {
        self.main.state_bytes() + self.cond.as_ref().map_or(0, Net::state_bytes)
    }

    pub(crate) fn reset(&mut self) {
        self.main.reset();
        if let Some(c) = &mut self.cond {
            c.reset();
        }
    }

    /// `n` samples of the input row `x` (stride CHUNK) → output row in `y[..n]`; `steady`
    /// (n = 1) fills every history with the sample first.
    #[inline(always)]
    pub(crate) fn chunk<const W: usize>(
        &mut self,
        x: &[f32],
        n: usize,
        y: &mut [f32],
        steady: bool,
    ) {
        match &mut self.cond {
            Some(c) => {
                c.chunk::<W>(x, x, n, steady);
                self.main.chunk::<W>(x, &c.bufs.out, n, steady);
            }
            None => self.main.chunk::<W>(x, x, n, steady),
        }
        y[..n].copy_from_slice(&self.main.bufs.out[..n]);
    }
}
