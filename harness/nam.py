"""NAM captures (``.nam`` files) as lab references: load one, read what it declares, render it.

``load(path, slim=None, fast_tanh=False)`` reads a ``.nam`` file (format versions 0.5.x to
0.7.x: WaveNet, LSTM, Linear and SlimmableContainer) into the Rust runtime
(``greybound_core::nam`` through ``harness.runtime.NamRenderer``) and returns a
``NamModel``. ``NamModel.render(x)`` is a pure function of ``x``: it resets the model,
prewarms it on one receptive field of zeros as NeuralAmpModelerCore does, then streams ``x``
through it. An LSTM starts from the initial state the file stores and prewarms on one zero;
the C++ core runs half a second of zeros instead, which gives the same output because the
exporter stores the cell's zero-input fixed point as that state (``tests/nam`` check it
against the official package rendered the C++ way).

Units: a NAM model maps full-scale float samples to full-scale float samples (1.0 =
0 dBFS peak, the lab's ``harness.audio`` convention), at the file's ``sample_rate``
(48 kHz when the file has no ``sample_rate`` key: ``sample_rate_declared`` says which).

The official Python package (``neural-amp-modeler``) renders the same files;
``tests/nam`` check that both agree (``harness.reference.nam_oracle`` states the
convention and the tolerance lives next to the tests).

``info`` and ``render`` back the ``greybound-lab nam info`` / ``nam render`` commands.
"""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from harness.errors import InputError

__all__ = ["DEFAULT_SAMPLE_RATE", "NamModel", "info", "load", "render"]

#: Sample rate (Hz) assumed for a file without a ``sample_rate`` key (NAM's standard rate;
#: the 0.5.0 A1 "standard" exports have none).
DEFAULT_SAMPLE_RATE = 48000.0


class NamModel:
    """A loaded ``.nam`` capture. Build it with ``load``.

    Attributes: ``path``; ``sample_rate`` (Hz, float); ``sample_rate_declared`` (False
    when the file has no ``sample_rate`` and 48 kHz is assumed); ``receptive_field``
    (samples); ``architecture`` ("WaveNet", "LSTM", "Linear", "SlimmableContainer");
    ``version`` (the file's format version); ``metadata`` (the file's ``metadata``
    object, {} when absent); ``slim_values`` (a container's submodel breakpoints, else
    empty); ``submodel`` (the container's chosen submodel, else None); ``slim`` and
    ``fast_tanh`` as loaded."""

    def __init__(self, path: Path, slim: float | None, fast_tanh: bool) -> None:
        from harness.runtime import NamRenderer

        self.path = path
        self.slim = slim
        self.fast_tanh = fast_tanh
        self._renderer = NamRenderer(path, slim=slim, fast_tanh=fast_tanh)
        declared = self._renderer.sample_rate
        self.sample_rate_declared = declared is not None
        self.sample_rate = float(declared) if declared is not None else DEFAULT_SAMPLE_RATE
        self.receptive_field = self._renderer.receptive_field
        self.architecture = self._renderer.architecture
        self.version = self._renderer.version
        try:
            metadata = json.loads(self._renderer.metadata_json)
        except json.JSONDecodeError as exc:  # the runtime hands back the file's own object
            raise InputError(f"{path.name}: metadata: not valid JSON ({exc})") from None
        if not isinstance(metadata, dict):
            raise InputError(f"{path.name}: metadata: expected an object, got {metadata!r}")
        self.metadata: dict[str, Any] = metadata
        self.slim_values = self._renderer.slim_values
        self.submodel = self._renderer.submodel

    def render(self, x: np.ndarray) -> np.ndarray:
        """Reset + prewarm, then render ``x`` (1-D float32/float64, finite, full-scale units
        at ``sample_rate``) → float32 array of the same length. NaN/Inf → ``InputError``."""
        self._renderer.reset()
        y = self._renderer.process(np.asarray(x))
        return np.asarray(y, dtype=np.float32)

    def allocations_during_process(self, x: np.ndarray) -> int:
        """Heap allocations the runtime makes while streaming ``x`` (the rule: 0)."""
        return self._renderer.allocations_during_process(x)

    def describe(self) -> dict[str, Any]:
        """Everything ``nam info`` prints: JSON-safe."""
        return {
            "path": str(self.path),
            "architecture": self.architecture,
            "version": self.version,
            "sample_rate": self.sample_rate,
            "sample_rate_declared": self.sample_rate_declared,
            "receptive_field": self.receptive_field,
            "metadata": self.metadata,
            "slim_values": self.slim_values,
            "submodel": self.submodel,
            "slim": self.slim,
        }

    def __repr__(self) -> str:
        return (
            f"NamModel({self.path.name!r}, {self.architecture}, {self.sample_rate:g} Hz, "
            f"receptive_field={self.receptive_field})"
        )


def load(path: str | Path, slim: float | None = None, fast_tanh: bool = False) -> NamModel:
    """Load a ``.nam`` file. ``slim`` in [0, 1] picks a SlimmableContainer's submodel or a
    slimmable WaveNet's width (``NamRenderer``; None = full size); ``fast_tanh`` uses the
    runtime's tanh approximation instead of the exact one. A missing file, bad JSON or an
    unsupported feature is an ``InputError`` naming the file and the JSON key; the model
    is never rendered wrongly instead."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such NAM file")
    return NamModel(path, slim, bool(fast_tanh))


def info(path: str | Path, slim: float | None = None) -> dict[str, Any]:
    """What a ``.nam`` file declares (``NamModel.describe``), for ``greybound-lab nam info``."""
    return load(path, slim=slim).describe()


def render(
    model_path: str | Path,
    input_path: str | Path,
    output_path: str | Path,
    *,
    slim: float | None = None,
    fast_tanh: bool = False,
    resample: bool = False,
) -> dict[str, Any]:
    """Render a mono WAV through a ``.nam`` model; write a 32-bit float WAV at the model's
    rate (``harness.audio.write_wav``: same samples → same bytes). Returns a summary.

    Sample-rate policy (``harness.audio``): a WAV at another rate than the model's is an
    ``InputError`` unless ``resample``; then it is converted with
    ``scipy.signal.resample_poly`` (polyphase FIR, Kaiser window β = 5, the ratio reduced
    by the rates' GCD) before rendering."""
    from harness.audio import read_wav, volts_to_dbfs, write_wav

    model = load(model_path, slim=slim, fast_tanh=fast_tanh)
    x, rate = read_wav(input_path)
    resampled_from = None
    if rate != model.sample_rate:
        if not resample:
            raise InputError(
                f"{input_path}: sample rate {rate} Hz differs from the model's "
                f"{model.sample_rate:g} Hz (pass --resample to convert it with "
                "scipy.signal.resample_poly)"
            )
        if model.sample_rate != round(model.sample_rate):
            raise InputError(
                f"{model_path}: cannot resample to a non-integer rate {model.sample_rate!r} Hz"
            )
        from scipy.signal import resample_poly

        ratio = Fraction(int(model.sample_rate), rate)
        x = resample_poly(x, ratio.numerator, ratio.denominator)
        resampled_from = rate
    y = model.render(np.asarray(x, dtype=np.float32))
    write_wav(output_path, y, model.sample_rate)
    return {
        "model": str(model_path),
        "architecture": model.architecture,
        "submodel": model.submodel,
        "input": str(input_path),
        "output": str(output_path),
        "sample_rate": model.sample_rate,
        "resampled_from": resampled_from,
        "resampler": "scipy.signal.resample_poly" if resampled_from is not None else None,
        "samples": int(y.size),
        "fast_tanh": model.fast_tanh,
        "peak_dbfs": volts_to_dbfs(float(np.max(np.abs(y)))),
    }
