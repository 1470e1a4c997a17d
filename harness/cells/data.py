"""Training data from a SPICE dataset package: conditioning (input, output and control
scaling) and segments of whole cases, split as the dataset says (by case, never by
sample)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.datasets import DatasetManifest, PackedCase, read_npz, unpack
from harness.errors import LabError


@dataclass(frozen=True)
class Control:
    """Feature = (f(clamp(value, range)) − offset)·scale, f = log10 if ``log10``."""

    name: str
    default: float
    scale: float
    offset: float
    range: tuple[float, float]
    log10: bool

    def feature(self, value: float) -> float:
        v = min(max(value, self.range[0]), self.range[1])
        return ((math.log10(v) if self.log10 else v) - self.offset) * self.scale

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "default": self.default,
            "scale": self.scale,
            "offset": self.offset,
            "range": list(self.range),
            "log10": self.log10,
        }


@dataclass(frozen=True)
class Conditioning:
    """Input clamp range (V) and scale, output scale (V per unit), controls."""

    input_range: tuple[float, float]
    input_scale: float
    output_scale: float
    controls: tuple[Control, ...]

    def condition(self, x: np.ndarray) -> np.ndarray:
        return np.clip(x, *self.input_range) * self.input_scale

    def control_features(self, params: dict[str, float]) -> np.ndarray:
        return np.array([c.feature(params.get(c.name, c.default)) for c in self.controls])


@dataclass
class CellData:
    manifest_path: Path
    manifest_sha256: str
    fixture: str
    size: str
    sample_rate: float
    cases: list[PackedCase]
    conditioning: Conditioning

    def split(self, name: str) -> list[PackedCase]:
        return [c for c in self.cases if c.split == name]


def _control(name: str, values: list[float]) -> Control:
    log = name.endswith("impedance")
    vals = np.array(values, float)
    if log and np.any(vals <= 0):
        raise LabError(f"control {name!r}: impedances must be positive for log10 features")
    f = np.log10(vals) if log else vals
    spread = float(np.max(f) - np.min(f))
    lo, hi = float(np.min(vals)), float(np.max(vals))
    return Control(
        name,
        float(np.median(vals)),
        2.0 / spread if spread > 0 else 1.0,
        float(np.mean(f)),
        (lo, hi if hi > lo else lo + 1.0),
        log,
    )


def load_cell_data(manifest_path: str | Path, controls, input_range) -> CellData:
    """Read a dataset (its ``*.dataset.json`` manifest) and derive the conditioning from the
    training split: input scaled so the training peak is 1, output so its peak is 1."""
    import hashlib

    path = Path(manifest_path)
    manifest = DatasetManifest.from_json(path)
    cases = unpack(read_npz(path.parent / manifest.package["file"]))
    train = [c for c in cases if c.split == "train"]
    if not train or not any(c.split == "validation" for c in cases):
        raise LabError(f"{path}: training needs cases in both the train and validation splits")
    for name in controls:
        if name not in train[0].params:
            raise LabError(f"{path}: control {name!r} is not a parameter of the dataset's cases")
    x_peak = max(float(np.max(np.abs(np.clip(c.x, *input_range)))) for c in train)
    y_peak = max(float(np.max(np.abs(c.y))) for c in train)
    ctrl = tuple(_control(n, [c.params[n] for c in cases]) for n in controls)
    cond = Conditioning(tuple(input_range), 1.0 / x_peak, y_peak, ctrl)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return CellData(
        path,
        digest,
        manifest.fixture["name"],
        manifest.size,
        float(manifest.sample_rate),
        cases,
        cond,
    )
