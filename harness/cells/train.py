"""``greybound-lab train-neural-cell``: fit a cell spec's model to a SPICE dataset on the
CPU, deterministically for a seed, with early stopping on the validation split, and export
it as a Greybound artifact.

Training sees whole cases cut into segments; MLP and GRU segments are conditioned by their
own history (the MLP's context window, the GRU's ``warmup`` samples, which the loss skips),
so the model is trained as it will run: streaming from rest.
"""

from __future__ import annotations

import hashlib
import json
import platform
import subprocess
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from harness.artifacts import write_artifact
from harness.cells.data import CellData, load_cell_data
from harness.cells.spec import CellSpec, load_cell_spec
from harness.errors import LabError

#: Output clamp headroom above the training peak: the declared output range is ±(1.5 × peak).
OUTPUT_HEADROOM = 1.5
#: MLP training segment length (samples) — long enough for the pre-emphasis filter to bite.
MLP_SEGMENT = 256
#: Full-batch optimizer steps for the lookup table.
TABLE_STEPS = 400


def _torch():
    try:
        import torch
    except ImportError:
        raise LabError(
            "training needs the 'train' extra (PyTorch): pip install -e '.[train]'"
        ) from None
    return torch


def _git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True
        )
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def build_model(spec: CellSpec, n_controls: int):
    from harness.cells.models import ContextMLP, GruCell, MonotoneTable

    if spec.family == "mlp":
        return ContextMLP(
            spec.context_samples, n_controls, spec.hidden, spec.activation, spec.spectral_norm
        )
    if spec.family == "gru":
        return GruCell(n_controls, spec.hidden)
    return MonotoneTable(spec.points, spec.monotone)


def _case_arrays(data: CellData, case, history: int):
    """Conditioned input with ``history`` rest samples in front, normalized target, controls."""
    c = data.conditioning
    x = np.concatenate([np.zeros(history), c.condition(case.x)])
    return x, case.y / c.output_scale, c.control_features(case.params)


def predict(model, data: CellData, case) -> np.ndarray:
    """Streaming prediction of one whole case from rest, in volts."""
    torch = _torch()
    history = model.context - 1
    x, _, ctrl = _case_arrays(data, case, history)
    with torch.no_grad():
        xt = torch.from_numpy(x[None].astype(np.float32))
        ct = torch.from_numpy(ctrl[None].astype(np.float32))
        out = model(xt, ct)
        y = out[0] if isinstance(out, tuple) else out
    return y[0].numpy().astype(np.float64) * data.conditioning.output_scale


def _segments(data: CellData, spec: CellSpec, model, rng):
    """(inputs [B, L + h], targets [B, L], controls [B, C], loss offset) for one epoch."""
    torch = _torch()
    h = model.context - 1
    seg = MLP_SEGMENT if spec.family == "mlp" else spec.train.segment
    warm = 0 if spec.family == "mlp" else spec.train.warmup
    xs, ys, cs = [], [], []
    for case in data.split("train"):
        x, y, ctrl = _case_arrays(data, case, h + warm)
        n = case.x.size
        for start in range(0, max(1, n - seg + 1), seg // 2):
            end = min(start + seg, n)
            if end - start < seg:
                continue
            xs.append(x[start : end + h + warm])
            # The target for output step k (after warm-up) is y[start + k].
            ys.append(
                np.concatenate([np.zeros(warm), y[start:end]])[: seg + warm]
                if warm
                else y[start:end]
            )
            cs.append(ctrl)
    if not xs:
        raise LabError(
            f"{data.manifest_path}: training cases are shorter than one segment ({seg} samples)"
        )
    order = rng.permutation(len(xs))
    f32 = lambda a: torch.from_numpy(np.array(a, dtype=np.float32)[order])  # noqa: E731
    return f32(xs), f32(ys), f32(cs), warm


def _validation_loss(model, data: CellData, loss) -> float:
    torch = _torch()
    total = 0.0
    for case in data.split("validation"):
        pred = predict(model, data, case) / data.conditioning.output_scale
        total += float(
            loss(torch.from_numpy(pred), torch.from_numpy(case.y / data.conditioning.output_scale))
        )
    return total / len(data.split("validation"))


def _fit_table(model, data: CellData, loss_f, progress: bool) -> dict:
    torch = _torch()
    xs = np.concatenate([data.conditioning.condition(c.x) for c in data.split("train")])
    ys = np.concatenate([c.y / data.conditioning.output_scale for c in data.split("train")])
    xt, yt = torch.from_numpy(xs.astype(np.float32)), torch.from_numpy(ys.astype(np.float32))
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in tqdm(range(TABLE_STEPS), desc="fit table", disable=not progress):
        opt.zero_grad()
        value = loss_f(model(xt), yt)
        value.backward()
        opt.step()
    return {"steps": TABLE_STEPS, "train_loss": float(value.detach())}


def _fit_sequence(model, spec: CellSpec, data: CellData, loss_f, rng, progress: bool) -> dict:
    torch = _torch()
    opt = torch.optim.Adam(model.parameters(), lr=spec.train.lr)
    best, best_state, stale, history = float("inf"), None, 0, []
    bar = tqdm(range(spec.train.epochs), desc=f"train {spec.name}", disable=not progress)
    for epoch in bar:
        xs, ys, cs, warm = _segments(data, spec, model, rng)
        model.train()
        batch = spec.train.batch if spec.family == "mlp" else spec.train.batch
        batch = max(1, batch // (MLP_SEGMENT if spec.family == "mlp" else 1))
        train_total = 0.0
        for i in range(0, xs.shape[0], batch):
            opt.zero_grad()
            out = model(xs[i : i + batch], cs[i : i + batch])
            pred = out[0] if isinstance(out, tuple) else out
            value = loss_f(pred[:, warm:], ys[i : i + batch, warm:])
            value.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            train_total += value.item() * pred.shape[0]
        model.eval()
        val = _validation_loss(model, data, loss_f)
        history.append(
            {"epoch": epoch, "train_loss": train_total / xs.shape[0], "validation_loss": val}
        )
        bar.set_postfix(val=f"{val:.4g}")
        if val < best - 1e-9:
            best, stale = val, 0
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            stale += 1
            if stale >= spec.train.patience:
                break
    model.load_state_dict(best_state)
    return {"epochs_run": len(history), "best_validation_loss": best, "history": history}


def _measure_cost(descriptor: Path, sample_rate: float) -> tuple[int, float]:
    """MACs/sample counted by the runtime and the median of 5 one-second renders through
    it, ns/sample."""
    from harness.runtime import NeuralCell

    cell = NeuralCell(descriptor, sample_rate)
    x = (0.3 * np.sin(2 * np.pi * 220 * np.arange(int(sample_rate)) / sample_rate)).astype(
        np.float32
    )
    times = []
    for _ in range(5):
        start = time.perf_counter()
        cell.process(x)
        times.append(time.perf_counter() - start)
    return cell.macs_per_sample, float(np.median(times)) / x.size * 1e9


def train_neural_cell(
    cell: str | Path, dataset_manifest: str | Path, output_dir: str | Path,
    seed: int | None = None, epochs: int | None = None, progress: bool = True,
) -> Path:  # fmt: skip
    """Train ``cell`` (a ``fixtures/cells`` name or path) on the dataset and write the
    artifact into ``output_dir``. Returns the descriptor path."""
    torch = _torch()
    spec = load_cell_spec(cell)
    if epochs is not None:
        from dataclasses import replace

        spec = replace(spec, train=replace(spec.train, epochs=epochs))
    seed = spec.train.seed if seed is None else seed
    data = load_cell_data(dataset_manifest, spec.controls, spec.input_range_v)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # single-threaded reductions: bit-identical reruns
    try:
        from harness.cells.losses import esr, loss_fn

        model = build_model(spec, len(data.conditioning.controls))
        loss_f = loss_fn(spec.loss)
        rng = np.random.default_rng(seed)
        if spec.family == "table":
            metrics = _fit_table(model, data, loss_f, progress)
        else:
            metrics = _fit_sequence(model, spec, data, loss_f, rng, progress)
        model.eval()
        metrics["validation_esr"] = _validation_loss(model, data, esr)
    finally:
        torch.set_num_threads(threads)
    layers, tensors = model.artifact_layers()
    cond = data.conditioning
    peak = cond.output_scale
    descriptor = {
        "name": spec.name,
        "family": spec.family,
        "cell": spec.fixture,
        "sample_rate_hz": data.sample_rate,
        "sample_rates_supported": [data.sample_rate],
        "input": {"context_samples": model.context, "scale": cond.input_scale, "offset": 0.0,
                  "range": list(cond.input_range), "clamp": "saturate"},
        "controls": [c.as_dict() for c in cond.controls],
        "output": {"scale": peak, "offset": 0.0,
                   "range": [-OUTPUT_HEADROOM * peak, OUTPUT_HEADROOM * peak],
                   "clamp": "saturate"},
        "layers": layers,
        "latency_samples": 0,
        "lookahead_samples": 0,
        "allocation": "preallocated at load; none in process",
        "cpu_cost": {"macs_per_sample": 0, "ns_per_sample": 0.0},
        "provenance": {
            "dataset_manifest": str(Path(dataset_manifest)),
            "dataset_manifest_sha256": data.manifest_sha256,
            "dataset_fixture": data.fixture,
            "dataset_size": data.size,
            "cell_spec_sha256": hashlib.sha256(spec.path.read_bytes()).hexdigest(),
            "git_commit": _git_commit(),
            "seed": seed,
            "torch": torch.__version__,
            "python": platform.python_version(),
            "command": f"greybound-lab train-neural-cell --cell {spec.name} "
            f"--dataset-manifest {dataset_manifest}",
            "training": metrics,
        },
    }  # fmt: skip
    out = Path(output_dir)
    path = write_artifact(out, descriptor, tensors)
    # Declare the CPU cost measured through the runtime on this machine (checked later
    # against fresh measurements with a stated margin).
    macs, ns = _measure_cost(path, data.sample_rate)
    descriptor["cpu_cost"] = {"macs_per_sample": macs, "ns_per_sample": round(ns, 1)}
    path = write_artifact(out, descriptor, tensors)
    (out / "training.json").write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    return path
