"""Training losses as small pure functions of (prediction, target) tensors, after
neural-amp-modeler's: ESR with first-order pre-emphasis, a DC term, and MSE."""

from __future__ import annotations

import torch

from harness.cells.spec import LossSpec

#: Guard against division by zero for silent targets.
EPS = 1e-12


def pre_emphasis(x: torch.Tensor, coeff: float) -> torch.Tensor:
    """First-order high-pass 1 − coeff·z⁻¹ along the last axis (first sample dropped)."""
    return x[..., 1:] - coeff * x[..., :-1]


def esr(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Error-to-signal ratio Σ(target − pred)² / Σ target²."""
    return torch.sum((target - pred) ** 2) / (torch.sum(target**2) + EPS)


def dc_term(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """(mean error)² relative to the target's mean power."""
    return torch.mean(target - pred) ** 2 / (torch.mean(target**2) + EPS)


def mse(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return torch.mean((target - pred) ** 2)


def loss_fn(spec: LossSpec):
    """The composed loss of a cell spec: f(pred, target) → scalar tensor."""
    if spec.kind == "mse":
        return mse

    def composed(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        p, t = pred, target
        if spec.pre_emphasis is not None and pred.shape[-1] > 1:
            p, t = pre_emphasis(pred, spec.pre_emphasis), pre_emphasis(target, spec.pre_emphasis)
        return esr(p, t) + spec.dc_weight * dc_term(pred, target)

    return composed
