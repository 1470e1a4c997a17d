"""The Python face of the Rust runtime — the only module that imports the native extension.

``Stage(kind, sample_rate=48000.0, **params)`` builds and prepares a runtime stage; its
``process(x)`` takes a 1-D float32/float64 array of **volts** (the lab's convention: a
sample of 1.0 is 1 V at a stage input, 0 dBFS = 1 V peak; see ``harness.audio``) and returns
a new array of volts of the same dtype, rendered with the GIL released. The stage keeps its
state between calls (streaming); ``reset()`` returns it to its DC rest point.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from harness.errors import InputError

try:
    from harness import _greybound
except ImportError as exc:  # pragma: no cover - exercised only on a broken install
    raise ImportError(
        "the Greybound native extension is not built; run `make setup` "
        "(or `maturin develop --release` inside .venv)"
    ) from exc

__all__ = ["Stage", "describe_stages", "stage_kinds"]


def describe_stages() -> list[dict[str, Any]]:
    """Every stage kind with its parameters (name, type, default, range, unit, doc)."""
    return _greybound.describe_stages()


def stage_kinds() -> list[str]:
    """Names of the stage kinds the runtime can build."""
    return [s["kind"] for s in describe_stages()]


class Stage:
    """A runtime stage at one sample rate (Hz). Parameters are SI units (Ω, F, V)."""

    def __init__(self, kind: str, sample_rate: float = 48000.0, **params: Any) -> None:
        self._native = _greybound.NativeStage(kind, float(sample_rate), params)

    def process(self, x: np.ndarray) -> np.ndarray:
        """Render ``x`` (1-D float32/float64 volts) → a new array of volts, same dtype."""
        if not isinstance(x, np.ndarray):
            raise TypeError(f"{self.kind}: expected a numpy array, got {type(x).__name__}")
        if x.ndim != 1:
            raise InputError(f"{self.kind}: expected a 1-D (mono) array, got shape {x.shape}")
        if x.dtype not in (np.float32, np.float64):
            raise TypeError(f"{self.kind}: expected float32 or float64 samples, got {x.dtype}")
        bad = np.flatnonzero(~np.isfinite(x))
        if bad.size:
            raise InputError(
                f"{self.kind}: input sample {bad[0]} is {x[bad[0]]} "
                f"({bad.size} non-finite samples); NaN/Inf input is rejected"
            )
        y = self._native.process(np.ascontiguousarray(x, dtype=np.float32))
        return y.astype(x.dtype, copy=False)

    def reset(self) -> None:
        """Return to the DC rest state reached at construction."""
        self._native.reset()

    @property
    def kind(self) -> str:
        return self._native.kind

    @property
    def sample_rate(self) -> float:
        """Sample rate (Hz) the stage was prepared for."""
        return self._native.sample_rate

    @property
    def latency_samples(self) -> int:
        """Group delay the stage adds (samples)."""
        return self._native.latency_samples

    @property
    def tail_samples(self) -> int:
        """Samples for the stage's slowest mode to decay by 80 dB (warm-up length)."""
        return self._native.tail_samples

    @property
    def params(self) -> dict[str, float | str]:
        """All parameters with their values (defaults filled in)."""
        return dict(self._native.params)

    def __repr__(self) -> str:
        return f"Stage({self.kind!r}, sample_rate={self.sample_rate})"
