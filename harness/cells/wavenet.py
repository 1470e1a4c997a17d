"""The knob-conditioned WaveNet of issue 8 (family ``"wavenet"``): dilated causal 1-D
convolutions with FiLM from the knob vector at every layer, Snake activations, identity
residual and skip paths and a linear head. The artifact layout is the contract in
``/work/notes/wavenet_schema.md`` (one layer of kind ``"wavenet"``); per sample n::

    x_0 = w_in·u[n] + b_in                                        (C)
    z_l = b_l + Σ_k W_l[:, :, k] · x_l[n − (K−1−k)·d_l]           (dilated causal conv)
    a_l = snake(γ_l ⊙ z_l + β_l; α_l),   x_{l+1} = x_l + a_l,   skip += a_l
    y   = w_head·skip + b_head

with (γ_l, β_l) = (1 + raw, raw) from the FiLM MLP knobs → H (tanh) → 2·C·L. Signals are
conditioned (input × input scale; output × output scale = V), at the artifact's sample rate
(48 kHz for the Nox30 twin). Shapes: audio ``[batch, time]``, knob features ``[batch, K]``
(fixed) or ``[batch, time, K]`` (per sample, for knob-change vectors).

"From rest" means every layer's ring buffer holds zeros: the PyTorch forward pads each
layer's input with zeros on the left, so its output from sample 0 is what the streaming
runtime gives after ``reset``.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

#: Below this |α| Snake uses its limit x + α·x² (sin²(αx)/α → α·x² as α → 0).
SNAKE_ALPHA_GUARD = 1e-4
#: The issue's dilation pattern: three stacks of 1, 2, …, 512.
DEFAULT_DILATIONS = tuple(2**k for k in range(10)) * 3
#: Bytes per stored value (float32 weights and state).
FLOAT_BYTES = 4


def snake(z: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """Snake x + sin²(α·x)/α (Ziyin et al., NeurIPS 2020), α broadcast per channel; for
    |α| < ``SNAKE_ALPHA_GUARD`` the second-order limit x + α·x² (error ≤ α³x⁴/3)."""
    small = alpha.abs() < SNAKE_ALPHA_GUARD
    safe = torch.where(small, torch.ones_like(alpha), alpha)
    return torch.where(small, z + alpha * z * z, z + torch.sin(safe * z) ** 2 / safe)


class WaveNet(nn.Module):
    """A FiLM-conditioned, Snake-activated WaveNet over one audio channel (see module doc).

    ``channels`` C, ``n_controls`` K (knob features in declaration order), ``dilations``
    (samples, one per layer), ``kernel_size`` taps, ``film_hidden`` H."""

    family = "wavenet"

    def __init__(
        self,
        channels: int,
        n_controls: int,
        dilations: tuple[int, ...] = DEFAULT_DILATIONS,
        kernel_size: int = 3,
        film_hidden: int = 16,
    ):
        super().__init__()
        self.channels, self.n_controls = int(channels), int(n_controls)
        self.dilations, self.kernel_size = tuple(int(d) for d in dilations), int(kernel_size)
        self.film_hidden = int(film_hidden)
        # Streaming input is one sample (the state lives in the layers' ring buffers).
        self.context = 1
        c, layers, k = self.channels, len(self.dilations), self.kernel_size
        self.input_weight = nn.Parameter(torch.randn(c, 1))
        self.input_bias = nn.Parameter(torch.zeros(c))
        # Residual sums over L layers: keep each layer's initial gain small (1/√(C·K·L)).
        scale = 1.0 / float(np.sqrt(c * k * layers))
        self.conv_weight = nn.Parameter(torch.randn(layers, c, c, k) * scale)
        self.conv_bias = nn.Parameter(torch.zeros(layers, c))
        self.snake_alpha = nn.Parameter(torch.ones(layers, c))
        self.film0 = nn.Linear(self.n_controls, self.film_hidden)
        self.film1 = nn.Linear(self.film_hidden, 2 * c * layers)
        # Zero init of the last FiLM layer: γ = 1, β = 0 for every knob setting (identity).
        nn.init.zeros_(self.film1.weight)
        nn.init.zeros_(self.film1.bias)
        self.head = nn.Linear(c, 1)

    # -- sizes ------------------------------------------------------------------------
    @property
    def n_layers(self) -> int:
        return len(self.dilations)

    @property
    def receptive_field(self) -> int:
        """Samples of input that reach one output: 1 + (K−1)·Σd (6,139 for the default)."""
        return 1 + (self.kernel_size - 1) * sum(self.dilations)

    def macs_breakdown(self) -> dict[str, int]:
        """Multiply-accumulates per sample by part: input C, dilated convs L·K·C², FiLM
        apply 2·C·L, Snake L·C (one per channel), head C. The FiLM MLP runs only when a
        knob moves (at most every 32 samples) and is not counted per sample."""
        c, layers = self.channels, self.n_layers
        return {
            "input": c,
            "conv": layers * self.kernel_size * c * c,
            "film_apply": 2 * c * layers,
            "snake": layers * c,
            "head": c,
        }

    def macs_per_sample(self) -> int:
        """Total multiply-accumulates per sample (``macs_breakdown`` summed)."""
        return sum(self.macs_breakdown().values())

    def parameter_count(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def state_floats(self) -> int:
        """Streaming state (floats): a ring buffer of the last (K−1)·d_l + 1 inputs of each
        layer, C channels each."""
        return self.channels * sum((self.kernel_size - 1) * d + 1 for d in self.dilations)

    def memory_bytes(self) -> dict[str, int]:
        """Footprint in bytes (float32): weights and streaming state."""
        return {
            "weights": FLOAT_BYTES * self.parameter_count(),
            "state": FLOAT_BYTES * self.state_floats(),
        }

    # -- computation ------------------------------------------------------------------
    def film(self, controls: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Knob features [..., K] → (γ, β), each [..., L, C]; γ = 1 + raw."""
        raw = self.film1(torch.tanh(self.film0(controls)))
        raw = raw.reshape(*controls.shape[:-1], self.n_layers, 2, self.channels)
        return 1.0 + raw[..., 0, :], raw[..., 1, :]

    def forward(self, x: torch.Tensor, controls: torch.Tensor) -> torch.Tensor:
        """``x``: [B, T] conditioned input from rest; ``controls``: [B, K] or [B, T, K]
        knob features → [B, T] normalized output."""
        gamma, beta = self.film(controls)
        per_sample = controls.dim() == 3
        h = self.input_weight[None, :, :] * x[:, None, :] + self.input_bias[None, :, None]
        skip = torch.zeros_like(h)
        for layer, d in enumerate(self.dilations):
            pad = (self.kernel_size - 1) * d
            z = F.conv1d(
                F.pad(h, (pad, 0)), self.conv_weight[layer], self.conv_bias[layer], dilation=d
            )
            if per_sample:  # [B, T, L, C] → [B, C, T]
                g, b = gamma[:, :, layer].transpose(1, 2), beta[:, :, layer].transpose(1, 2)
            else:  # [B, L, C] → [B, C, 1]
                g, b = gamma[:, layer, :, None], beta[:, layer, :, None]
            a = snake(g * z + b, self.snake_alpha[layer][None, :, None])
            h = h + a
            skip = skip + a
        return self.head(skip.transpose(1, 2))[..., 0]

    # -- artifact ---------------------------------------------------------------------
    TENSOR_NAMES = {
        "input_weight": "wn.input.weight",
        "input_bias": "wn.input.bias",
        "conv_weight": "wn.conv.weight",
        "conv_bias": "wn.conv.bias",
        "snake_alpha": "wn.snake.alpha",
        "film_w1": "wn.film.0.weight",
        "film_b1": "wn.film.0.bias",
        "film_w2": "wn.film.1.weight",
        "film_b2": "wn.film.1.bias",
        "head_weight": "wn.head.weight",
        "head_bias": "wn.head.bias",
    }

    def _parameters_by_role(self) -> dict[str, torch.Tensor]:
        return {
            "input_weight": self.input_weight,
            "input_bias": self.input_bias,
            "conv_weight": self.conv_weight,
            "conv_bias": self.conv_bias,
            "snake_alpha": self.snake_alpha,
            "film_w1": self.film0.weight,
            "film_b1": self.film0.bias,
            "film_w2": self.film1.weight,
            "film_b2": self.film1.bias,
            "head_weight": self.head.weight,
            "head_bias": self.head.bias,
        }

    def artifact_layers(self) -> tuple[list[dict], dict[str, np.ndarray]]:
        """The schema's single ``"wavenet"`` layer and its tensors (float32, by name)."""
        layer = {
            "kind": "wavenet",
            "channels": self.channels,
            "kernel_size": self.kernel_size,
            "dilations": list(self.dilations),
            "activation": "snake",
            "film_hidden": self.film_hidden,
            "tensors": dict(self.TENSOR_NAMES),
        }
        tensors = {
            self.TENSOR_NAMES[role]: p.detach().numpy().astype(np.float32)
            for role, p in self._parameters_by_role().items()
        }
        return [layer], tensors


def from_artifact(artifact) -> WaveNet:
    """Rebuild the WaveNet an artifact (``harness.artifacts.read_artifact``) describes."""
    d, t = artifact.descriptor, artifact.tensors
    (layer,) = d["layers"]
    model = WaveNet(
        layer["channels"],
        len(d.get("controls", [])),
        tuple(layer["dilations"]),
        layer["kernel_size"],
        layer["film_hidden"],
    )
    params = model._parameters_by_role()
    with torch.no_grad():
        for role, name in layer["tensors"].items():
            params[role].copy_(torch.from_numpy(np.array(t[name])))
    return model.eval()


def render_volts(
    artifact,
    x: np.ndarray,
    controls: dict[str, float],
    control_changes: list[dict] | tuple = (),
) -> np.ndarray:
    """PyTorch's output (V, float32) for input ``x`` (V) from rest through the artifact:
    input clamped and conditioned, knob features from ``controls`` (knob units; missing →
    default) and, at each ``{"sample": n, "name": knob, "value": v}`` of
    ``control_changes``, switched to the new value from sample n on (no smoothing), output
    scaled to volts and clamped as declared."""
    from harness.cells.data import Control

    d = artifact.descriptor
    specs = [
        Control(c["name"], c["default"], c["scale"], c["offset"], tuple(c["range"]), c["log10"])
        for c in d.get("controls", [])
    ]
    values = {c.name: float(controls.get(c.name, c.default)) for c in specs}
    n = x.size
    feats = np.empty((n, len(specs)))
    start = 0
    for change in [*sorted(control_changes, key=lambda c: c["sample"]), {"sample": n}]:
        stop = min(int(change["sample"]), n)
        feats[start:stop] = [c.feature(values[c.name]) for c in specs]
        start = max(start, stop)
        if "name" in change:
            values[change["name"]] = float(change["value"])
    lo, hi = d["input"]["range"]
    u = (np.clip(x.astype(np.float64), lo, hi) - d["input"]["offset"]) * d["input"]["scale"]
    model = from_artifact(artifact)
    with torch.no_grad():
        ut = torch.from_numpy(u[None].astype(np.float32))
        ft = torch.from_numpy(feats[None].astype(np.float32))
        fixed = not control_changes
        raw = model(ut, ft[:, 0] if fixed else ft)[0].numpy().astype(np.float64)
    y = raw * d["output"]["scale"] + d["output"]["offset"]
    if d["output"]["clamp"] == "saturate":
        y = np.clip(y, *d["output"]["range"])
    return y.astype(np.float32)
