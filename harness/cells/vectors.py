"""Equivalence vectors: what PyTorch computes for an artifact, for the Rust runtime to
reproduce (``greybound-lab export-neural-cell-vectors``; checked by ``cargo test`` with no
Python and by pytest).

The vectors file (JSON) holds the descriptor's file name, the sample rate, the control
values, the input (V), PyTorch's output (V) and, for recurrent cells, the hidden state
after the last sample. The input is deterministic: a level-swept 110 Hz + 1.7 kHz pair, a
burst at the top of the declared input range and silence, so every region of the network
is exercised.

WaveNet artifacts (family "wavenet") get a longer input (``WAVENET_VECTOR_SAMPLES``, more
than twice the 6,139-sample receptive field) and a knob sweep: ``control_changes`` lists
``{"sample": n, "name": knob, "value": v}`` (knob units); from sample n on the knob has the
new value, applied at once with NO smoothing (the vector check turns the runtime's knob
smoothing off), and ``controls`` holds the values at sample 0. The output is computed from
rest (every layer's ring buffer zero).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from harness.artifacts import read_artifact

#: Length of the vector input (samples).
VECTOR_SAMPLES = 4096
#: Length of a WaveNet's vector input (samples): > 2 × its 6,139-sample receptive field.
WAVENET_VECTOR_SAMPLES = 16384


def vector_input(
    sample_rate: float, input_range: tuple[float, float], n: int = VECTOR_SAMPLES
) -> np.ndarray:
    """The deterministic test input (V), float32-exact, ``n`` samples."""
    t = np.arange(n) / sample_rate
    level = np.linspace(0.01, 1.0, n) * max(abs(input_range[0]), abs(input_range[1])) * 0.5
    x = level * (0.7 * np.sin(2 * np.pi * 110 * t) + 0.3 * np.sin(2 * np.pi * 1700 * t))
    x[n // 2 : n // 2 + 256] = input_range[1] * 1.2  # beyond the range: clamped
    x[-512:] = 0.0
    return x.astype(np.float32)


def torch_render(artifact, x: np.ndarray, controls: dict[str, float]) -> tuple[np.ndarray, list]:
    """PyTorch's streaming output (V) for input ``x`` (V) from rest, and the final state."""
    import torch

    from harness.cells.data import Control
    from harness.cells.models import from_artifact

    d = artifact.descriptor
    model = from_artifact(artifact).eval()
    lo, hi = d["input"]["range"]
    history = d["input"]["context_samples"] - 1
    xc = np.concatenate([np.zeros(history), np.clip(x.astype(np.float64), lo, hi)])
    xc = (xc - d["input"]["offset"]) * d["input"]["scale"]
    feats = [
        Control(
            c["name"], c["default"], c["scale"], c["offset"], tuple(c["range"]), c["log10"]
        ).feature(controls.get(c["name"], c["default"]))
        for c in d.get("controls", [])
    ]
    with torch.no_grad():
        xt = torch.from_numpy(xc[None].astype(np.float32))
        ct = torch.from_numpy(np.array([feats], dtype=np.float32).reshape(1, len(feats)))
        out = model(xt, ct)
    state = []
    if isinstance(out, tuple):
        out, h = out
        state = h[0, 0].numpy().astype(float).tolist()
    raw = out[0].numpy().astype(np.float64)
    y = raw * d["output"]["scale"] + d["output"]["offset"]
    if d["output"]["clamp"] == "saturate":
        y = np.clip(y, *d["output"]["range"])
    return y.astype(np.float32), state


def export_neural_cell_vectors(descriptor: str | Path, output: str | Path) -> Path:
    """Write the vectors for the artifact at ``descriptor`` to ``output`` (JSON)."""
    artifact = read_artifact(descriptor)
    d = artifact.descriptor
    controls = {c["name"]: c["default"] for c in d.get("controls", [])}
    extra = {}
    if d["family"] == "wavenet":
        x = vector_input(d["sample_rate_hz"], tuple(d["input"]["range"]), WAVENET_VECTOR_SAMPLES)
        y, extra = _wavenet_render(artifact, x, controls)
        state = []
    else:
        x = vector_input(d["sample_rate_hz"], tuple(d["input"]["range"]))
        y, state = torch_render(artifact, x, controls)
    out = Path(output)
    out.parent.mkdir(parents=True, exist_ok=True)
    rel = Path(artifact.path).resolve()
    try:
        rel = rel.relative_to(out.parent.resolve())
    except ValueError:
        pass
    payload = {
        "descriptor": str(rel),
        "family": d["family"],
        "sample_rate": d["sample_rate_hz"],
        "controls": controls,
        "input": [float(v) for v in x],
        "output": [float(v) for v in y],
        "final_state": state,
        **extra,
    }
    out.write_text(json.dumps(payload) + "\n")
    return out


def knob_sweep_changes(controls: list[dict], n: int) -> list[dict]:
    """A deterministic knob sweep over ``n`` samples: each control in turn jumps to the end
    of its range farther from its default, then the first control jumps back."""
    changes = []
    step = n // (len(controls) + 2)
    for k, c in enumerate(controls):
        lo, hi = c["range"]
        far = hi if hi - c["default"] >= c["default"] - lo else lo
        changes.append({"sample": (k + 1) * step, "name": c["name"], "value": float(far)})
    if controls:
        first = controls[0]
        changes.append({"sample": (len(controls) + 1) * step, "name": first["name"],
                        "value": float(first["default"])})  # fmt: skip
    return changes


def _wavenet_render(artifact, x: np.ndarray, controls: dict[str, float]):
    from harness.cells.wavenet import render_volts

    changes = knob_sweep_changes(artifact.descriptor.get("controls", []), x.size)
    y = render_volts(artifact, x, controls, changes)
    note = (
        "control_changes: from 'sample' on, knob 'name' has 'value' (knob units), applied "
        "at once with no smoothing; output computed from rest (ring buffers zero)"
    )
    return y, {"control_changes": changes, "notes": note}
