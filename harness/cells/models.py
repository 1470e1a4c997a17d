"""The cell families as PyTorch modules, each able to describe itself as Greybound artifact
layers (``artifact_layers``) and to be rebuilt from an artifact (``from_artifact``).

All work on conditioned signals: input features in, normalized output (× output scale =
volts) out. Shapes: ``[batch, time]`` for audio, ``[batch, controls]`` for controls.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU, "sigmoid": nn.Sigmoid}


def context_windows(x: torch.Tensor, context: int) -> torch.Tensor:
    """[B, T + context − 1] → [B, T, context]: at each step the last ``context`` inputs,
    oldest first. Built from shifted slices (not ``unfold``) so that it also exports to
    ONNX."""
    steps = x.shape[-1] - context + 1
    return torch.stack([x[..., k : k + steps] for k in range(context)], dim=-1)


class ContextMLP(nn.Module):
    """y[n] = MLP(x[n−k+1..n], controls): a static map of a short causal window."""

    family = "mlp"

    def __init__(self, context: int, n_controls: int, hidden, activation="tanh", spectral=False):
        super().__init__()
        self.context, self.n_controls, self.activation = context, n_controls, activation
        widths = [context + n_controls, *hidden, 1]
        self.linears = nn.ModuleList(
            nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:], strict=True)
        )
        if spectral:
            for lin in self.linears:
                nn.utils.parametrizations.spectral_norm(lin)
        self.act = ACTIVATIONS[activation]()

    def forward(self, x_padded: torch.Tensor, controls: torch.Tensor) -> torch.Tensor:
        """``x_padded``: [B, T + context − 1] conditioned input (history first)."""
        h = context_windows(x_padded, self.context)
        if self.n_controls:
            c = controls[:, None, :].expand(h.shape[0], h.shape[1], self.n_controls)
            h = torch.cat([h, c], dim=-1)
        for k, lin in enumerate(self.linears):
            h = lin(h)
            if k < len(self.linears) - 1:
                h = self.act(h)
        return h[..., 0]

    def artifact_layers(self):
        layers, tensors = [], {}
        for k, lin in enumerate(self.linears):
            last = k == len(self.linears) - 1
            w, b = lin.weight.detach().numpy(), lin.bias.detach().numpy()
            layers.append({"kind": "dense", "inputs": w.shape[1], "outputs": w.shape[0],
                           "activation": "identity" if last else self.activation,
                           "weight": f"dense{k}.weight", "bias": f"dense{k}.bias"})  # fmt: skip
            tensors[f"dense{k}.weight"], tensors[f"dense{k}.bias"] = w, b
        return layers, tensors


class GruCell(nn.Module):
    """A single-layer GRU over (input, controls) per sample with a linear head."""

    family = "gru"

    def __init__(self, n_controls: int, hidden: int):
        super().__init__()
        self.context, self.n_controls, self.hidden = 1, n_controls, hidden
        self.gru = nn.GRU(1 + n_controls, hidden, batch_first=True)
        self.head = nn.Linear(hidden, 1)

    def forward(self, x: torch.Tensor, controls: torch.Tensor, state=None):
        """``x``: [B, T] → ([B, T] output, final state [1, B, H])."""
        feats = x[..., None]
        if self.n_controls:
            feats = torch.cat([feats, controls[:, None, :].expand(x.shape[0], x.shape[1], -1)], -1)
        h, state = self.gru(feats, state)
        return self.head(h)[..., 0], state

    def artifact_layers(self):
        g, head = self.gru, self.head
        layers = [
            {"kind": "gru", "inputs": g.input_size, "hidden": g.hidden_size,
             "weight_ih": "gru.weight_ih", "weight_hh": "gru.weight_hh",
             "bias_ih": "gru.bias_ih", "bias_hh": "gru.bias_hh"},
            {"kind": "dense", "inputs": g.hidden_size, "outputs": 1, "activation": "identity",
             "weight": "head.weight", "bias": "head.bias"},
        ]  # fmt: skip
        t = {
            "gru.weight_ih": g.weight_ih_l0, "gru.weight_hh": g.weight_hh_l0,
            "gru.bias_ih": g.bias_ih_l0, "gru.bias_hh": g.bias_hh_l0,
            "head.weight": head.weight, "head.bias": head.bias,
        }  # fmt: skip
        return layers, {k: v.detach().numpy() for k, v in t.items()}


class MonotoneTable(nn.Module):
    """A piecewise-linear static curve over [−1, 1] (conditioned input), monotone by
    construction: values = v0 + sign·cumsum(softplus(increments))."""

    family = "table"

    def __init__(self, points: int, monotone: str | None):
        super().__init__()
        self.context, self.n_controls = 1, 0
        self.sign = {"increasing": 1.0, "decreasing": -1.0, None: 0.0}[monotone]
        # Start nearly flat around 0: increments softplus(−5) ≈ 0.0067 each.
        start = -5.0
        step0 = float(nn.functional.softplus(torch.tensor(start)))
        self.v0 = nn.Parameter(torch.tensor(-self.sign * step0 * (points - 1) / 2))
        self.steps = nn.Parameter(
            torch.full((points - 1,), start) if self.sign else torch.zeros(points)
        )

    def values(self) -> torch.Tensor:
        if not self.sign:
            return self.steps
        inc = nn.functional.softplus(self.steps) * self.sign
        return torch.cat([self.v0[None], self.v0 + torch.cumsum(inc, 0)])

    def forward(self, x: torch.Tensor, controls: torch.Tensor | None = None) -> torch.Tensor:
        v = self.values()
        last = v.shape[0] - 1
        pos = ((x + 1.0) / 2.0 * last).clamp(0, last)
        i = pos.floor().clamp(max=last - 1).long()
        frac = pos - i
        return v[i] + frac * (v[i + 1] - v[i])

    def artifact_layers(self):
        layers = [{"kind": "table", "x_min": -1.0, "x_max": 1.0, "values": "table.values"}]
        return layers, {"table.values": self.values().detach().numpy()}


def from_artifact(artifact) -> nn.Module:
    """Rebuild the PyTorch module that an artifact describes (for equivalence vectors)."""
    d, t = artifact.descriptor, artifact.tensors
    n_controls = len(d.get("controls", []))
    layers = d["layers"]
    if d["family"] == "mlp":
        hidden = [lay["outputs"] for lay in layers[:-1]]
        act = layers[0]["activation"] if len(layers) > 1 else "tanh"
        m = ContextMLP(d["input"]["context_samples"], n_controls, hidden, act)
        for k, lin in enumerate(m.linears):
            lin.weight.data = torch.from_numpy(np.array(t[f"dense{k}.weight"]))
            lin.bias.data = torch.from_numpy(np.array(t[f"dense{k}.bias"]))
        return m
    if d["family"] == "gru":
        m = GruCell(n_controls, layers[0]["hidden"])
        pairs = [("weight_ih_l0", "gru.weight_ih"), ("weight_hh_l0", "gru.weight_hh"),
                 ("bias_ih_l0", "gru.bias_ih"), ("bias_hh_l0", "gru.bias_hh")]  # fmt: skip
        for name, tensor in pairs:
            getattr(m.gru, name).data = torch.from_numpy(np.array(t[tensor]))
        m.head.weight.data = torch.from_numpy(np.array(t["head.weight"]))
        m.head.bias.data = torch.from_numpy(np.array(t["head.bias"]))
        return m
    values = np.array(t["table.values"])
    m = MonotoneTable(values.size, None)
    m.steps.data = torch.from_numpy(values)
    return m
