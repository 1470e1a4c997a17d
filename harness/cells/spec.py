"""Cell specs: ``fixtures/cells/<name>.json5`` — what family to train, how big, on what."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import json5

from harness.errors import LabError

CELLS_DIR = Path(__file__).resolve().parents[2] / "fixtures" / "cells"
FAMILIES = ("mlp", "gru", "table")
LOSSES = ("esr", "mse")


@dataclass(frozen=True)
class LossSpec:
    """``esr``: ESR after first-order pre-emphasis 1 − c·z⁻¹ (``pre_emphasis`` = c, or
    None for none) plus ``dc_weight`` × the DC term (mean error)²/mean(target²); ``mse``."""

    kind: str = "esr"
    pre_emphasis: float | None = 0.85
    dc_weight: float = 1.0


@dataclass(frozen=True)
class TrainSpec:
    seed: int = 1234
    epochs: int = 40
    batch: int = 1024
    lr: float = 3e-3
    patience: int = 8
    segment: int = 2048
    warmup: int = 512


@dataclass(frozen=True)
class CellSpec:
    """A learned-cell recipe. Sizes: MLP ≤ 3 hidden layers ≤ 32 wide; GRU hidden ≤ 16."""

    name: str
    fixture: str
    family: str
    path: Path
    context_samples: int = 1
    hidden: tuple[int, ...] | int = (32, 32)
    activation: str = "tanh"
    spectral_norm: bool = False
    controls: tuple[str, ...] = ()
    input_range_v: tuple[float, float] = (-4.0, 4.0)
    points: int = 129
    monotone: str | None = None
    loss: LossSpec = field(default_factory=LossSpec)
    train: TrainSpec = field(default_factory=TrainSpec)


def load_cell_spec(name_or_path: str | Path) -> CellSpec:
    """Load ``fixtures/cells/<name>.json5`` (or a path) and check its limits."""
    path = Path(name_or_path)
    if not path.suffix:
        path = CELLS_DIR / f"{name_or_path}.json5"
    try:
        raw = json5.loads(path.read_text())
    except OSError as exc:
        known = sorted(p.stem for p in CELLS_DIR.glob("*.json5"))
        raise LabError(
            f"{path}: cannot read cell spec ({exc.strerror}); known cells: {known}"
        ) from None
    except ValueError as exc:
        raise LabError(f"{path}: not valid JSON5: {exc}") from None

    def bad(key: str, why: str) -> LabError:
        return LabError(f"{path}: field '{key}': {why}")

    try:
        loss = LossSpec(**raw.pop("loss", {}))
        train = TrainSpec(**raw.pop("train", {}))
        hidden = raw.pop("hidden", (32, 32))
        spec = CellSpec(
            path=path,
            hidden=hidden if isinstance(hidden, int) else tuple(hidden),
            controls=tuple(raw.pop("controls", ())),
            input_range_v=tuple(raw.pop("input_range_v", (-4.0, 4.0))),
            loss=loss,
            train=train,
            **raw,
        )
    except TypeError as exc:
        raise bad("(root)", str(exc)) from None
    if spec.family not in FAMILIES:
        raise bad("family", f"{spec.family!r} is not one of {FAMILIES}")
    if spec.loss.kind not in LOSSES:
        raise bad("loss.kind", f"{spec.loss.kind!r} is not one of {LOSSES}")
    if spec.family == "mlp":
        if not (isinstance(spec.hidden, tuple) and 1 <= len(spec.hidden) <= 3):
            raise bad("hidden", "an MLP has 1 to 3 hidden layers")
        if any(not 1 <= h <= 32 for h in spec.hidden):
            raise bad("hidden", "hidden layers are at most 32 wide")
        if not 1 <= spec.context_samples <= 64:
            raise bad("context_samples", "must be 1..64")
    if spec.family == "gru" and not (isinstance(spec.hidden, int) and 1 <= spec.hidden <= 16):
        raise bad("hidden", "a GRU cell has 1..16 hidden units")
    lo, hi = spec.input_range_v
    if not lo < hi:
        raise bad("input_range_v", "must be [low, high] with low < high")
    return spec
