"""Optional ONNX export of a learned cell, for inspection in other tools (Netron,
onnxruntime). A secondary path: the Greybound artifact stays the source of truth, and
``export_onnx`` cross-checks the ONNX graph with onnxruntime against PyTorch before it
returns.

The graph has a fixed block length T (``n_samples``; the window unfold of the MLP has no
dynamic-size ONNX form) and takes the *conditioned* signal the network sees — ``x``
[1, T + context − 1]
(clamped, scaled input with ``context − 1`` history samples in front) and ``controls``
[1, C] (the artifact's control features) — and returns the raw output [1, T]; the
artifact's ``input``/``output`` blocks give the scaling to volts.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from harness.artifacts import read_artifact
from harness.errors import LabError

#: onnxruntime vs PyTorch, float32: relative to the output's peak. Both run the same
#: float32 graph with different kernels; a few ulp per layer (observed ~1e-7).
ONNX_TOLERANCE = 1e-5


def _wrapped(model):
    import torch

    class RawOutput(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x, controls):
            out = self.inner(x, controls)
            return out[0] if isinstance(out, tuple) else out

    return RawOutput(model).eval()


def export_onnx(descriptor: str | Path, output: str | Path, n_samples: int = 1024) -> Path:
    """Write ``output`` (.onnx) for the artifact and verify it with onnxruntime."""
    try:
        import onnxruntime as ort
        import torch
    except ImportError as exc:
        raise LabError(f"ONNX export needs torch, onnx and onnxruntime: {exc}") from None
    from harness.cells.models import from_artifact

    artifact = read_artifact(descriptor)
    d = artifact.descriptor
    model = _wrapped(from_artifact(artifact))
    history = d["input"]["context_samples"] - 1
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, size=(1, n_samples + history)).astype(np.float32)
    c = np.zeros((1, len(d.get("controls", []))), dtype=np.float32)
    out = Path(output)
    out.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        torch.onnx.export(
            model, (torch.from_numpy(x), torch.from_numpy(c)), str(out),
            input_names=["x", "controls"], output_names=["y"], dynamo=False,
        )  # fmt: skip
        want = model(torch.from_numpy(x), torch.from_numpy(c)).numpy()
    session = ort.InferenceSession(str(out))
    feeds = {"x": x, "controls": c}  # an unused input (no controls) is pruned from the graph
    got = session.run(None, {i.name: feeds[i.name] for i in session.get_inputs()})[0]
    err = float(np.max(np.abs(got - want)) / max(np.max(np.abs(want)), 1e-12))
    if err > ONNX_TOLERANCE:
        raise LabError(f"{out}: onnxruntime differs from PyTorch by {err:.2e} of the output peak")
    return out
