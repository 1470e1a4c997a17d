"""The Python face of the Rust runtime — the only module that imports the native extension.

``Stage(kind, sample_rate=48000.0, **params)`` builds and prepares a runtime stage; its
``process(x)`` takes a 1-D float32/float64 array of **volts** (the lab's convention: a
sample of 1.0 is 1 V at a stage input, 0 dBFS = 1 V peak; see ``harness.audio``) and returns
a new array of volts of the same dtype, rendered with the GIL released. The stage keeps its
state between calls (streaming); ``reset()`` returns it to its DC rest point.
"""

from __future__ import annotations

from pathlib import Path
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

__all__ = [
    "MAX_IR_SAMPLES",
    "IrConvolver",
    "NamRenderer",
    "NeuralCell",
    "Stage",
    "allocation_probe_works",
    "describe_stages",
    "stage_kinds",
]

#: Longest impulse response ``IrConvolver`` accepts (samples): 2^20, 21.8 s at 48 kHz.
MAX_IR_SAMPLES: int = _greybound.MAX_IR_SAMPLES


def _render(native, what: str, x: np.ndarray) -> np.ndarray:
    """Validate a mono float array of volts, render it through ``native``, keep the dtype."""
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{what}: expected a numpy array, got {type(x).__name__}")
    if x.ndim != 1:
        raise InputError(f"{what}: expected a 1-D (mono) array, got shape {x.shape}")
    if x.dtype not in (np.float32, np.float64):
        raise TypeError(f"{what}: expected float32 or float64 samples, got {x.dtype}")
    bad = np.flatnonzero(~np.isfinite(x))
    if bad.size:
        raise InputError(
            f"{what}: input sample {bad[0]} is {x[bad[0]]} "
            f"({bad.size} non-finite samples); NaN/Inf input is rejected"
        )
    y = native.process(np.ascontiguousarray(x, dtype=np.float32))
    return y.astype(x.dtype, copy=False)


def _allocations(native, what: str, x: np.ndarray) -> int:
    x = np.ascontiguousarray(x, dtype=np.float32)
    if x.ndim != 1:
        raise InputError(f"{what}: expected a 1-D (mono) array, got shape {x.shape}")
    return int(native.allocations_during_process(x))


def allocation_probe_works() -> bool:
    """True when the extension's allocation counter sees a known allocation."""
    return _greybound.allocation_probe_self_test() >= 1


def describe_stages() -> list[dict[str, Any]]:
    """Every stage kind with its parameters (name, type, default, range, unit, doc)."""
    return _greybound.describe_stages()


def stage_kinds() -> list[str]:
    """Names of the stage kinds the runtime can build."""
    return [s["kind"] for s in describe_stages()]


class _Native:
    """The shared face of every runtime object: ``process`` (validated, dtype kept),
    ``allocations_during_process`` and ``reset``. Subclasses set ``self._native`` and name
    themselves in error messages through ``_label``."""

    _native: Any
    #: The object's name in error messages (a class attribute or a property).
    _label: str

    def process(self, x: np.ndarray) -> np.ndarray:
        """Render ``x`` (1-D float32/float64 volts) → a new array of volts, same dtype."""
        return _render(self._native, self._label, x)

    def allocations_during_process(self, x: np.ndarray) -> int:
        """Heap allocations the runtime makes while processing ``x`` (the rule: 0)."""
        return _allocations(self._native, self._label, x)

    def reset(self) -> None:
        """Return to the rest state: DC operating point, empty histories and delay lines."""
        self._native.reset()


class Stage(_Native):
    """A runtime stage at one sample rate (Hz). Parameters are SI units (Ω, F, V).

    ``oversample`` (1, 2, 4 or 8) runs the stage at that multiple of ``sample_rate``
    between linear-phase half-band filters (``greybound_core::dsp::Oversampled``); the
    filters' delay is reported in ``latency_samples`` (host-rate samples)."""

    def __init__(
        self, kind: str, sample_rate: float = 48000.0, *, oversample: int = 1, **params: Any
    ) -> None:
        if isinstance(oversample, bool) or not isinstance(oversample, int):
            raise TypeError(f"stage '{kind}': oversample must be an int (1, 2, 4 or 8)")
        if oversample not in (1, 2, 4, 8):
            raise ValueError(f"stage '{kind}': oversample = {oversample}: must be 1, 2, 4 or 8")
        self._native = _greybound.NativeStage(kind, float(sample_rate), params, oversample)

    def set_param(self, name: str, value: float) -> None:
        """Change a live parameter while streaming: a knob of ``tone_stack`` (treble,
        middle, bass), ``volume`` (position) or ``cut`` (cut), a fraction in [0, 1], or
        ``smoothing_ms``. A knob ramps linearly to ``value`` inside the runtime over the
        stage's smoothing time (``smoothing_ms``, default 20 ms; a new value restarts the
        ramp from where it is), the circuit re-derived every 32 samples with capacitor
        voltages continuous; the change starts at the next sample processed, whatever the
        block size. ``smoothing_ms`` applies to later changes. ``params`` keeps the
        construction values. Other names or out-of-range values → ``InputError``."""
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InputError(f"stage '{self.kind}': {name} must be a number, got {value!r}")
        try:
            self._native.set_param(str(name), float(value))
        except ValueError as exc:
            raise InputError(str(exc)) from None

    @property
    def live_params(self) -> list[str]:
        """Parameters ``set_param`` accepts (empty for stages without live knobs)."""
        return list(self._native.live_params)

    def set_probing(self, on: bool = True) -> None:
        """Switch the stage's telemetry on or off; the output is the same either way."""
        self._native.set_probing(bool(on))

    def take_probe(self) -> dict[str, Any] | None:
        """Telemetry since the last call (then cleared), or None when probing is off or the
        stage kind has none: ``samples`` (at the stage's own, possibly oversampled, rate),
        ``nan_sanitized`` (NaN inputs replaced by 0 V), ``input_clamped`` (inputs beyond
        ±1 kV), ``denormal_flushes`` (outputs that would have been subnormal, set to 0),
        ``newton_failures``, ``table_misses`` (samples solved by Newton outside the solution
        tables), ``supply_min_v``/``supply_max_v`` (the supply node, V; None for an ideal
        supply) and ``rail_excursions`` (samples with a node outside its
        rails: the stage's module doc in ``greybound_core::stages`` names node and rails).
        Circuit stages have telemetry; a triode reports its plate-to-cathode voltage
        outside [0, B+], the power amp its B+ node and plates outside [0, 2·v_supply]."""
        return self._native.take_probe()

    @property
    def _label(self) -> str:
        return self.kind

    @property
    def kind(self) -> str:
        return self._native.kind

    @property
    def sample_rate(self) -> float:
        """Sample rate (Hz) the stage was prepared for."""
        return self._native.sample_rate

    @property
    def oversample(self) -> int:
        """Oversampling factor (1 = the host rate)."""
        return self._native.oversample

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
        if self.oversample == 1:
            return f"Stage({self.kind!r}, sample_rate={self.sample_rate})"
        return f"Stage({self.kind!r}, sample_rate={self.sample_rate}, oversample={self.oversample})"


class NeuralCell(_Native):
    """A learned cell loaded from a Greybound artifact (``model.greybound.json`` path or
    its directory), run by the Rust runtime at ``sample_rate`` Hz (which the artifact must
    declare as supported). Volts in, volts out; streaming like ``Stage``. Family "wavenet"
    artifacts load too (streamed dilated convolutions with FiLM knobs and Snake); controls
    given to the constructor apply at once, later ``set_control`` calls are smoothed."""

    def __init__(self, artifact: str | Path, sample_rate: float = 48000.0, **controls: float):
        path = Path(artifact)
        if path.is_dir():
            path = path / "model.greybound.json"
        self.path = path
        self._native = _greybound.NativeNeuralCell(str(path), float(sample_rate))
        self.sample_rate = float(sample_rate)
        for name, value in controls.items():
            self.set_control(name, value, smooth=False)

    def set_control(self, name: str, value: float, smooth: bool = True) -> None:
        """Set a declared control (operating-point feature or knob) in its own units.

        A wavenet ramps its knob features linearly to the new value over its smoothing
        time (default 20 ms; γ, β recomputed every 32 samples) unless ``smooth`` is False,
        which applies it at once (as equivalence vectors need). The other families always
        apply a control at once."""
        self._native.set_control(name, float(value), bool(smooth))

    def set_smoothing_seconds(self, seconds: float) -> None:
        """Knob smoothing time of a wavenet in seconds (0 = immediate); others ignore it."""
        self._native.set_smoothing_seconds(float(seconds))

    @property
    def _label(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        return self._native.name

    @property
    def macs_per_sample(self) -> int:
        """Multiply-accumulates per sample, counted from the layer shapes (a wavenet:
        L·K·C² + 2·C·L FiLM + L·C Snake + C head)."""
        return self._native.macs_per_sample

    @property
    def family(self) -> str:
        """The artifact's family: "mlp", "gru", "table" or "wavenet"."""
        return self._native.family

    @property
    def receptive_field(self) -> int:
        """Samples of input each output depends on: 1 + (K−1)·Σd for a wavenet (its
        impulse response length), 1 for the other families (their context window is part
        of the declared input)."""
        return self._native.receptive_field

    @property
    def parameter_count(self) -> int | None:
        """Number of weights of a wavenet; None for the other families."""
        fp = self._native.wavenet_footprint
        return None if fp is None else int(fp[0])

    @property
    def state_bytes(self) -> int | None:
        """Bytes of a wavenet's streaming state (rings, FiLM values, scratch); None for
        the other families."""
        fp = self._native.wavenet_footprint
        return None if fp is None else int(fp[1])

    latency_samples = 0
    """Causal cells add no delay (the reader rejects any other declaration)."""


class IrConvolver(_Native):
    """Zero-latency convolution with an impulse response ``ir`` (1-D, V/V per sample) at
    ``sample_rate`` Hz, run by the runtime (``greybound_core::dsp::IrConvolver``: a 64-tap
    direct-form head plus uniformly partitioned FFT segments of 64, 512 and 4096 samples,
    f64 inside). Output sample n depends on inputs up to n only; volts in, volts out;
    streaming like ``Stage`` — the IR's tail carries over between ``process`` calls.

    The IR must be non-empty, finite and at most ``MAX_IR_SAMPLES`` long (``InputError``
    otherwise). Read IR files with ``harness.cabs.read_ir``, which checks the sample rate."""

    _label = "ir_convolver"

    def __init__(self, ir: np.ndarray, sample_rate: float = 48000.0) -> None:
        arr = np.asarray(ir)
        if arr.ndim != 1:
            raise InputError(f"ir_convolver: the IR must be 1-D (mono), got shape {arr.shape}")
        if arr.dtype.kind not in "fiu":
            raise InputError(f"ir_convolver: the IR must be real numbers, got dtype {arr.dtype}")
        try:
            self._native = _greybound.NativeIrConvolver(
                np.ascontiguousarray(arr, dtype=np.float64), float(sample_rate)
            )
        except ValueError as exc:
            raise InputError(str(exc)) from None
        self.sample_rate = float(sample_rate)

    @property
    def ir_len(self) -> int:
        """IR length (samples)."""
        return self._native.ir_len

    @property
    def latency_samples(self) -> int:
        """Delay added (samples): 0."""
        return self._native.latency_samples

    @property
    def tail_samples(self) -> int:
        """Samples an impulse keeps ringing: the IR length."""
        return self._native.tail_samples

    @property
    def segment_blocks(self) -> list[int]:
        """Block sizes (samples) of the FFT segments behind the direct head."""
        return list(self._native.segment_blocks)

    def __repr__(self) -> str:
        return f"IrConvolver(<{self.ir_len} samples>, sample_rate={self.sample_rate})"


class Rig(_Native):
    """A whole rig inside the Rust runtime (``greybound_core::rig::Rig``): stages in series
    (``(kind, params, oversample)`` in signal order), an output gain (dB) and an optional
    cabinet IR (1-D, at ``sample_rate``). One ``process`` call renders every block through
    all of it — no host code between stages, no allocation. Volts in, volts × gain out."""

    _label = "rig"

    def __init__(
        self,
        stages: list[tuple[str, dict[str, Any], int]],
        sample_rate: float = 48000.0,
        output_gain_db: float = 0.0,
        cab_ir: np.ndarray | None = None,
    ) -> None:
        ir = None if cab_ir is None else np.ascontiguousarray(cab_ir, dtype=np.float64)
        self._native = _greybound.NativeRig(
            [(k, dict(p), int(o)) for k, p, o in stages], float(sample_rate),
            float(output_gain_db), ir,
        )  # fmt: skip
        self.sample_rate = float(sample_rate)

    def set_param(self, stage: int, name: str, value: float) -> None:
        """Change live parameter ``name`` of stage number ``stage`` (smoothed in the stage)."""
        self._native.set_param(int(stage), name, float(value))

    @property
    def latency_samples(self) -> int:
        return self._native.latency_samples

    @property
    def tail_samples(self) -> int:
        return self._native.tail_samples


class NamRenderer(_Native):
    """A ``.nam`` capture (NAM format 0.5–0.7: WaveNet, LSTM, Linear, SlimmableContainer)
    run by the runtime (``greybound_core::nam``), one float32 sample stream at the file's
    own sample rate. Full-scale units in and out (1.0 = 0 dBFS peak; a NAM model has no
    volts of its own). Streaming like ``Stage``; ``reset()`` zeroes the state (an LSTM: the
    file's initial state) and prewarms on one receptive field of zeros (1 sample for an
    LSTM), as NeuralAmpModelerCore does for convolutional models.

    ``slim`` in [0, 1] chooses a SlimmableContainer's submodel (the first with ``slim <
    max_value``) or a slimmable WaveNet's width (``allowed_channels[min(⌊slim·n⌋, n−1)]``);
    None = full size; a slim value for a model that cannot slim is an error.
    ``fast_tanh`` swaps the exact tanh for the runtime's rational approximation.
    ``max_block``: samples per internal block (the allocation bound). A missing,
    unreadable or unsupported file is an ``InputError`` naming the file and the JSON key."""

    def __init__(
        self,
        path: str | Path,
        slim: float | None = None,
        fast_tanh: bool = False,
        max_block: int = 4096,
    ) -> None:
        self.path = Path(path)
        if slim is not None and (isinstance(slim, bool) or not isinstance(slim, (int, float))):
            raise InputError(f"{self.path.name}: slim must be a number, got {slim!r}")
        try:
            self._native = _greybound.NativeNamModel(
                str(self.path), None if slim is None else float(slim), bool(fast_tanh),
                int(max_block),
            )  # fmt: skip
        except (ValueError, OSError) as exc:
            raise InputError(str(exc)) from None
        self.fast_tanh = bool(fast_tanh)

    @property
    def _label(self) -> str:
        return self.path.name

    @property
    def sample_rate(self) -> float | None:
        """The file's ``sample_rate`` (Hz), None when the file has none."""
        return self._native.sample_rate

    @property
    def receptive_field(self) -> int:
        """Samples of input each output depends on (1 for an LSTM; its state is unbounded)."""
        return int(self._native.receptive_field)

    @property
    def architecture(self) -> str:
        return self._native.architecture

    @property
    def version(self) -> str:
        return self._native.version

    @property
    def metadata_json(self) -> str:
        """The file's ``metadata`` object as JSON text ("{}" when absent)."""
        return self._native.metadata_json

    @property
    def slim_values(self) -> list[float]:
        """A SlimmableContainer's submodel ``max_value`` breakpoints; empty otherwise."""
        return [float(v) for v in self._native.slim_values]

    @property
    def submodel(self) -> int | None:
        """The chosen SlimmableContainer submodel (index); None for other files."""
        return self._native.submodel

    latency_samples = 0
    """A NAM model is causal and adds no delay of its own (capture latency is metadata)."""
