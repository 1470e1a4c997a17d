"""``greybound-lab train-wavenet``: fit the knob-conditioned WaveNet (``harness.cells.wavenet``)
to renders of a reference rig over a knob grid, deterministically, with a checkpoint after
every epoch, and export it as a Greybound artifact with equivalence vectors and a report.

Data: every stimulus of a split (``harness.stimuli``: plucks, bursts, exp_sweep, di_phrase)
rendered through the rig in the runtime (``RigChain(rig, knobs, channel).native()``) at every
knob setting of that split (see ``harness.cells.wavenet_config`` for the split by knob
setting and by phrase), at the rig's sample rate, each render from reset. Stimuli are
padded with silence to a whole number of training segments before rendering, so the
rig's tail is in the target. The target keeps the rig's latency (its half-band filters):
a causal, zero-latency twin reproduces the delay rather than anticipating it.

Training examples are segments of ``train.segment`` samples, each fed with the receptive
field − 1 samples of its own render before it (zeros before the render's start, matching a
runtime at rest), the loss taken on the segment only. Loss: ESR after 1 − c·z⁻¹
pre-emphasis, optionally + w_A × ESR after A-weighting and + w_S × MRSTFT distance. Adam;
gradient norm clipped at 1; early stopping on the validation loss keeps the best epoch.

Determinism: torch seeded, one thread, ``torch.use_deterministic_algorithms(True)``; the
epoch's shuffle comes from a seeded numpy generator whose state is checkpointed. With
``resume=True`` training continues from ``checkpoint.pt`` (model, optimizer, generator,
best state, history) and ends with the same weight bytes as an uninterrupted run.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from harness.artifacts import write_artifact
from harness.cells.data import Control
from harness.cells.train import OUTPUT_HEADROOM, _git_commit, _torch
from harness.cells.wavenet_config import SPLITS, WavenetConfig, load_wavenet_config
from harness.errors import LabError

CHECKPOINT_NAME = "checkpoint.pt"
#: A-weighting as an FIR (the IEC 61672 filter's impulse response, truncated): 8192 taps at
#: 48 kHz = 171 ms, ≈ 22 time constants of its lowest (20.6 Hz, double) pole.
A_WEIGHTING_TAPS = 8192
#: Knob features map a knob's range onto [−1, 1]: offset = mid-range, scale = 2 / span.
FEATURE_SPAN = 2.0


@dataclass
class Render:
    """One render of the reference: the stimulus and knob setting, input and target (V)."""

    split: str
    phrase: str
    setting: dict[str, float]
    x: np.ndarray
    y: np.ndarray


def _stimulus(kind: str, params: dict, sample_rate: float, where: str):
    from harness import stimuli

    try:
        return getattr(stimuli, kind)(sample_rate=sample_rate, **params)
    except TypeError as exc:
        raise LabError(f"{where}: {exc}") from None


def phrase_name(kind: str, params: dict) -> str:
    args = ",".join(f"{k}={params[k]}" for k in sorted(params))
    return f"{kind}({args})"


def render_dataset(config: WavenetConfig) -> list[Render]:
    """Every (split, knob setting, phrase) render of the reference rig, in config order."""
    from harness.rigs import RigChain, load_rig

    rig = load_rig(config.rig)
    seg = config.train.segment
    renders = []
    for split in SPLITS:
        for i, stim in enumerate(config.stimuli[split]):
            where = f"{config.path}: field 'stimuli.{split}[{i}]'"
            s = _stimulus(stim.kind, stim.params, rig.sample_rate, where)
            x = np.concatenate([s.signal, np.zeros(-s.signal.size % seg)])
            for setting in config.settings(split):
                chain = RigChain(rig, setting, config.channel, cab=False).native()
                y = np.asarray(chain.process(x.astype(np.float32)), dtype=np.float64)
                renders.append(Render(split, phrase_name(stim.kind, stim.params), setting, x, y))
    return renders


def controls_for(config: WavenetConfig) -> list[Control]:
    """The artifact's controls: the grid's knobs in rig order, range mapped to [−1, 1]."""
    from harness.rigs import load_rig

    rig = load_rig(config.rig)
    out = []
    for name in config.knobs:
        knob = rig.knob(name)
        lo, hi = knob.range
        out.append(Control(name, knob.default, FEATURE_SPAN / (hi - lo), (lo + hi) / 2, (lo, hi),
                           False))  # fmt: skip
    return out


# -- losses -----------------------------------------------------------------------------
def a_weighting_fir(sample_rate: float) -> np.ndarray:
    """The IEC 61672-1 A-weighting filter (``harness.metrics.null.a_weighting_sos``) as its
    impulse response truncated to ``A_WEIGHTING_TAPS`` samples."""
    from scipy import signal as sps

    from harness.metrics.null import a_weighting_sos

    impulse = np.zeros(A_WEIGHTING_TAPS)
    impulse[0] = 1.0
    return sps.sosfilt(a_weighting_sos(sample_rate), impulse)


def mrstft(pred, target):
    """Multi-resolution STFT distance (spectral convergence + log-magnitude L1, averaged
    over the resolutions of ``harness.metrics.spectral``), differentiable, on [B, T]."""
    torch = _torch()
    from harness.metrics.spectral import MRSTFT_FFT_SIZES, MRSTFT_HOP_SIZES, MRSTFT_WIN_LENGTHS

    total = 0.0
    for n_fft, hop, win in zip(MRSTFT_FFT_SIZES, MRSTFT_HOP_SIZES, MRSTFT_WIN_LENGTHS, strict=True):
        window = torch.hann_window(win, dtype=pred.dtype)

        def mag(s, n_fft=n_fft, hop=hop, win=win, window=window):
            spec = torch.stft(s, n_fft, hop, win, window, center=True, pad_mode="reflect",
                              return_complex=True)  # fmt: skip
            return torch.sqrt(torch.clamp(spec.real**2 + spec.imag**2, min=1e-8))

        p, t = mag(pred), mag(target)
        total = total + torch.linalg.norm(t - p) / torch.linalg.norm(t)
        total = total + torch.mean(torch.abs(torch.log(t) - torch.log(p)))
    return total / len(MRSTFT_FFT_SIZES)


def wavenet_loss(config: WavenetConfig, sample_rate: float):
    """The composed loss f(pred, target) → scalar for [B, T] tensors (see module doc)."""
    torch = _torch()
    from harness.cells.losses import esr, pre_emphasis

    spec = config.loss
    fir = None
    if spec.a_weighting:
        fir = torch.from_numpy(a_weighting_fir(sample_rate).astype(np.float32))

    def a_weight(s):
        n = s.shape[-1] + fir.shape[0]
        out = torch.fft.irfft(torch.fft.rfft(s, n) * torch.fft.rfft(fir, n), n)
        return out[..., : s.shape[-1]]

    def loss(pred, target):
        p, t = pred, target
        if spec.pre_emphasis:
            p, t = pre_emphasis(pred, spec.pre_emphasis), pre_emphasis(target, spec.pre_emphasis)
        value = esr(p, t)
        if fir is not None:
            value = value + spec.a_weighting * esr(a_weight(pred), a_weight(target))
        if spec.mrstft:
            value = value + spec.mrstft * mrstft(pred, target)
        return value

    return loss


# -- training ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Scaling:
    """Input scale (per V), input clamp range (V), output scale (V per unit)."""

    input_scale: float
    input_range: tuple[float, float]
    output_scale: float


def scaling_for(config: WavenetConfig, renders: list[Render]) -> Scaling:
    lo, hi = config.input_range_v
    peak = max(float(np.max(np.abs(r.y))) for r in renders if r.split == "train")
    if peak == 0.0:
        raise LabError(f"{config.path}: the training renders are silent")
    return Scaling(1.0 / max(abs(lo), abs(hi)), (lo, hi), peak)


def _conditioned(r: Render, sc: Scaling) -> tuple[np.ndarray, np.ndarray]:
    return np.clip(r.x, *sc.input_range) * sc.input_scale, r.y / sc.output_scale


def _examples(config, renders, sc: Scaling, controls, warm: int):
    """All training segments: inputs [N, warm + seg], targets [N, seg], features [N, K]."""
    seg = config.train.segment
    xs, ys, cs = [], [], []
    for r in renders:
        if r.split != "train":
            continue
        u, t = _conditioned(r, sc)
        u = np.concatenate([np.zeros(warm), u])
        feats = [c.feature(r.setting[c.name]) for c in controls]
        for start in range(0, t.size, seg):
            xs.append(u[start : start + warm + seg])
            ys.append(t[start : start + seg])
            cs.append(feats)
    return (np.array(xs, dtype=np.float32), np.array(ys, dtype=np.float32),
            np.array(cs, dtype=np.float32))  # fmt: skip


def predict(model, r: Render, sc: Scaling, controls) -> np.ndarray:
    """The model's whole-render output from rest (V)."""
    torch = _torch()
    u, _ = _conditioned(r, sc)
    feats = np.array([[c.feature(r.setting[c.name]) for c in controls]], dtype=np.float32)
    with torch.no_grad():
        out = model(torch.from_numpy(u[None].astype(np.float32)), torch.from_numpy(feats))
    return out[0].numpy().astype(np.float64) * sc.output_scale


def _validation_loss(model, renders, sc, controls, loss) -> float:
    torch = _torch()
    vals = [
        float(loss(torch.from_numpy(predict(model, r, sc, controls)[None] / sc.output_scale),
                   torch.from_numpy(r.y[None] / sc.output_scale)))
        for r in renders if r.split == "validation"
    ]  # fmt: skip
    return float(np.mean(vals))


def _save_checkpoint(path: Path, payload: dict) -> None:
    torch = _torch()
    tmp = path.with_suffix(".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)


def build_model(config: WavenetConfig, n_controls: int):
    from harness.cells.wavenet import WaveNet

    m = config.model
    return WaveNet(m.channels, n_controls, m.dilations, m.kernel_size, m.film_hidden)


def _fit(config, model, renders, sc, controls, out: Path, resume: bool, progress: bool,
         stop_after: int | None) -> dict | None:  # fmt: skip
    """Train with checkpoints; returns the training metrics, or None when ``stop_after``
    epochs of this run ended it before the configured end (resume later)."""
    torch = _torch()
    t = config.train
    loss_f = wavenet_loss(config, _rate(config))
    warm = model.receptive_field - 1
    xs, ys, cs = _examples(config, renders, sc, controls, warm)
    opt = torch.optim.Adam(model.parameters(), lr=t.lr)
    rng = np.random.default_rng(t.seed)
    state = {"epoch": 0, "best": float("inf"), "best_state": None, "stale": 0, "history": [],
             "seconds": 0.0}  # fmt: skip
    ckpt = out / CHECKPOINT_NAME
    if resume:
        if not ckpt.is_file():
            raise LabError(f"{ckpt}: no checkpoint to resume from")
        saved = torch.load(ckpt, weights_only=True)
        if saved["config_sha256"] != config.sha256:
            raise LabError(f"{ckpt}: written for another version of {config.path}")
        model.load_state_dict(saved["model"])
        opt.load_state_dict(saved["optimizer"])
        rng.bit_generator.state = saved["rng"]
        state = saved["state"]
    done_here = 0
    bar = tqdm(total=t.epochs, initial=state["epoch"], desc=f"train {config.name}",
               disable=not progress)  # fmt: skip
    while state["epoch"] < t.epochs and state["stale"] < t.patience:
        if stop_after is not None and done_here >= stop_after:
            bar.close()
            return None
        started = time.perf_counter()
        order = rng.permutation(xs.shape[0])
        model.train()
        total = 0.0
        for i in range(0, order.size, t.batch):
            idx = order[i : i + t.batch]
            opt.zero_grad()
            pred = model(torch.from_numpy(xs[idx]), torch.from_numpy(cs[idx]))[:, warm:]
            value = loss_f(pred, torch.from_numpy(ys[idx]))
            value.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            total += value.item() * idx.size
        model.eval()
        val = _validation_loss(model, renders, sc, controls, loss_f)
        state["history"].append({"epoch": state["epoch"], "train_loss": total / order.size,
                                 "validation_loss": val})  # fmt: skip
        if val < state["best"] - 1e-9:
            state["best"], state["stale"] = val, 0
            state["best_state"] = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            state["stale"] += 1
        state["epoch"] += 1
        state["seconds"] += time.perf_counter() - started
        done_here += 1
        _save_checkpoint(ckpt, {"config_sha256": config.sha256, "model": model.state_dict(),
                                "optimizer": opt.state_dict(), "rng": rng.bit_generator.state,
                                "state": state})  # fmt: skip
        bar.update(1)
        bar.set_postfix(val=f"{val:.4g}")
    bar.close()
    model.load_state_dict(state["best_state"])
    return {"epochs_run": state["epoch"], "best_validation_loss": state["best"],
            "train_seconds": round(state["seconds"], 1), "examples": int(xs.shape[0]),
            "history": state["history"]}  # fmt: skip


def _rate(config: WavenetConfig) -> float:
    from harness.rigs import load_rig

    return float(load_rig(config.rig).sample_rate)


def train_wavenet(
    config: str | Path,
    output_dir: str | Path,
    resume: bool = False,
    progress: bool = True,
    stop_after_epochs: int | None = None,
) -> Path | None:
    """Train the WaveNet of ``config`` (a ``fixtures/models`` name or path) and write into
    ``output_dir``: ``model.greybound.json`` + ``weights.greybound.bin``, ``vectors.json``
    (equivalence vectors with a knob sweep), ``report.md`` (ESR per held-out knob setting,
    conditioning check), ``training.json`` and ``checkpoint.pt``. ``stop_after_epochs``
    ends this run after that many epochs (nothing exported; continue with ``resume``).
    Returns the descriptor path, or None when stopped early."""
    torch = _torch()
    cfg = load_wavenet_config(config)
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    renders = render_dataset(cfg)
    sc = scaling_for(cfg, renders)
    controls = controls_for(cfg)
    torch.manual_seed(cfg.train.seed)
    deterministic = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # single-threaded reductions: bit-identical reruns
    try:
        model = build_model(cfg, len(controls))
        metrics = _fit(cfg, model, renders, sc, controls, out, resume, progress,
                       stop_after_epochs)  # fmt: skip
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(deterministic)
    if metrics is None:
        return None
    model.eval()
    path = export(cfg, model, sc, controls, metrics, out)
    from harness.cells.vectors import export_neural_cell_vectors
    from harness.cells.wavenet_report import write_report

    export_neural_cell_vectors(path, out / "vectors.json")
    write_report(path, cfg, renders, out / "report.md")
    return path


def export(cfg: WavenetConfig, model, sc: Scaling, controls, metrics: dict, out: Path) -> Path:
    """Write the artifact (schema: ``/work/notes/wavenet_schema.md``) and training.json."""
    torch = _torch()
    from harness.rigs import load_rig

    rig = load_rig(cfg.rig)
    layers, tensors = model.artifact_layers()
    peak = sc.output_scale
    fixed = {k.name: k.default for k in rig.knobs if k.name not in cfg.knobs}
    descriptor = {
        "name": cfg.name,
        "family": "wavenet",
        "sample_rate_hz": float(rig.sample_rate),
        "sample_rates_supported": [float(rig.sample_rate)],
        "input": {"context_samples": 1, "scale": sc.input_scale, "offset": 0.0,
                  "range": list(sc.input_range), "clamp": "saturate"},
        "controls": [c.as_dict() for c in controls],
        "output": {"scale": peak, "offset": 0.0,
                   "range": [-OUTPUT_HEADROOM * peak, OUTPUT_HEADROOM * peak],
                   "clamp": "saturate"},
        "layers": layers,
        "latency_samples": 0,
        "lookahead_samples": 0,
        "allocation": "preallocated at load; none in process",
        # ns_per_sample: 0 until the Rust WaveNet runtime exists to measure it.
        "cpu_cost": {"macs_per_sample": model.macs_per_sample(), "ns_per_sample": 0.0},
        "provenance": {
            "reference": "rig",
            "rig_file": str(cfg.rig),
            "rig_sha256": hashlib.sha256(Path(cfg.rig).read_bytes()).hexdigest(),
            "channel": cfg.channel or rig.default_channel,
            "fixed_knobs": fixed,
            "knob_grid": {k: list(v) for k, v in cfg.knobs.items()},
            "split": {part: cfg.settings(part) for part in SPLITS},
            "stimuli": {part: [phrase_name(s.kind, s.params) for s in cfg.stimuli[part]]
                        for part in SPLITS},
            "config": str(cfg.path),
            "config_sha256": cfg.sha256,
            "git_commit": _git_commit(),
            "seed": cfg.train.seed,
            "torch": torch.__version__,
            "python": platform.python_version(),
            "command": f"greybound-lab train-wavenet --config {cfg.path} --output-dir {out}",
            "loss": asdict(cfg.loss),
            "macs_breakdown": model.macs_breakdown(),
            "parameters": model.parameter_count(),
            "memory_bytes": model.memory_bytes(),
            "receptive_field_samples": model.receptive_field,
            "ns_per_sample_note": "0: not measured until the Rust WaveNet runtime exists",
            "training": metrics,
        },
    }  # fmt: skip
    path = write_artifact(out, descriptor, tensors)
    (out / "training.json").write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    return path
