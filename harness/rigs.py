"""Rig files: a named chain of runtime stages with knobs and channels, and its rendering.

A rig (``fixtures/rigs/<name>.rig.json5``) holds:

* ``name``, ``doc``, ``sample_rate`` (Hz, integer);
* ``stages``: ``[{name, kind, oversample?, params?}]`` in signal order — ``kind`` is a
  runtime stage kind, ``oversample`` 1/2/4/8 (default 1), ``params`` its parameters;
* ``knobs``: ``[{name, range: [lo, hi], default, taper: linear|log, smoothing_ms,
  drives: [{stage, param, range?: [p_lo, p_hi]}]}]`` — a knob value v maps to
  u = (v − lo)/(hi − lo), then t = u (linear) or (81^u − 1)/80 (log), and each driven
  parameter gets p_lo + t·(p_hi − p_lo) (default p range: [0, 1]);
* ``channels`` (optional): ``{NAME: {STAGE: {param: value}}}`` parameter sets, and
  ``default_channel``; a channel's values win over knobs for the parameters it names
  (an AC30's Normal channel ignores the Top Boost controls);
* ``output_gain_db`` (optional, default 0): gain applied after the last stage;
* ``cab_ir`` (optional): path (relative to the rig file) of a mono WAV impulse response at
  the rig's sample rate, convolved after the chain (``scipy.signal.fftconvolve``, output
  truncated to the input length; latency unchanged — the IR's own delay is the cab's);
* ``neural_cells`` (optional, placeholder): ``[{stage, artifact, mode: shadow|replace}]``,
  validated (stage exists, artifact present) but not yet rendered.

Every error is an ``InputError`` naming the file and the key (``stages[3].kind``).

Knob values apply at render start (they are part of the stage parameters the runtime is
built with), so a render has no parameter changes and no zipper noise; ``smoothing_ms`` is
validated and carried for the live runtime, which does not yet change knobs mid-render.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import json5
import numpy as np

from harness.errors import InputError

#: Where the lab's rig files live.
RIGS_DIR = Path(__file__).resolve().parent.parent / "fixtures" / "rigs"
#: Base of the exponential (audio, A) knob taper: 10 % of the travel at half rotation.
LOG_TAPER_BASE = 81.0
OVERSAMPLE_FACTORS = (1, 2, 4, 8)
NEURAL_MODES = ("shadow", "replace")


@dataclass(frozen=True)
class KnobBinding:
    """One stage parameter a knob drives, over ``range`` (the parameter's units)."""

    stage: str
    param: str
    range: tuple[float, float] = (0.0, 1.0)


@dataclass(frozen=True)
class Knob:
    """A front-panel control: value range, taper, smoothing time (ms) and its bindings."""

    name: str
    range: tuple[float, float]
    default: float
    taper: str
    smoothing_ms: float
    drives: tuple[KnobBinding, ...]

    def parameter_values(self, value: float) -> dict[tuple[str, str], float]:
        """(stage, param) → value for a knob setting ``value`` (in the knob's range)."""
        lo, hi = self.range
        u = (value - lo) / (hi - lo)
        t = u if self.taper == "linear" else (LOG_TAPER_BASE**u - 1.0) / (LOG_TAPER_BASE - 1.0)
        return {(b.stage, b.param): b.range[0] + t * (b.range[1] - b.range[0]) for b in self.drives}


@dataclass(frozen=True)
class StageEntry:
    name: str
    kind: str
    oversample: int
    params: dict[str, Any]


@dataclass(frozen=True)
class NeuralBinding:
    stage: str
    artifact: Path
    mode: str


@dataclass(frozen=True)
class Rig:
    """A validated rig file."""

    path: Path
    name: str
    doc: str
    sample_rate: int
    stages: tuple[StageEntry, ...]
    knobs: tuple[Knob, ...]
    channels: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    default_channel: str | None = None
    output_gain_db: float = 0.0
    cab_ir: Path | None = None
    neural_cells: tuple[NeuralBinding, ...] = ()

    def knob(self, name: str) -> Knob:
        for k in self.knobs:
            if k.name == name:
                return k
        known = ", ".join(k.name for k in self.knobs)
        raise InputError(f"{self.path}: unknown knob '{name}' (knobs: {known})")

    def stage_params(
        self, knobs: dict[str, float] | None = None, channel: str | None = None
    ) -> list[dict[str, Any]]:
        """Parameters of every stage (in order) for these knob settings and channel:
        stage params, then knob bindings, then the channel's parameter set."""
        knobs = dict(knobs or {})
        for name, value in knobs.items():
            knob = self.knob(name)
            lo, hi = knob.range
            if not (math.isfinite(value) and lo <= value <= hi):
                raise InputError(
                    f"{self.path}: knob '{name}' = {value!r} is outside its range [{lo}, {hi}]"
                )
        channel = channel if channel is not None else self.default_channel
        if channel is not None and channel not in self.channels:
            known = ", ".join(self.channels) or "none"
            raise InputError(f"{self.path}: unknown channel '{channel}' (channels: {known})")
        params = {s.name: dict(s.params) for s in self.stages}
        for knob in self.knobs:
            for (stage, param), v in knob.parameter_values(
                knobs.get(knob.name, knob.default)
            ).items():
                params[stage][param] = v
        for stage, values in (self.channels.get(channel, {}) if channel else {}).items():
            params[stage].update(values)
        return [params[s.name] for s in self.stages]


def _fail(path: Path, key: str, message: str) -> InputError:
    return InputError(f"{path}: {key}: {message}")


def _number(path: Path, key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _fail(path, key, f"expected a finite number, got {value!r}")
    return float(value)


def _range(path: Path, key: str, value: Any) -> tuple[float, float]:
    if not isinstance(value, list) or len(value) != 2:
        raise _fail(path, key, f"expected [low, high], got {value!r}")
    lo, hi = (_number(path, f"{key}[{i}]", v) for i, v in enumerate(value))
    if not lo < hi:
        raise _fail(path, key, f"bad range [{lo}, {hi}]: low must be below high")
    return lo, hi


def _keys(path: Path, key: str, obj: Any, allowed: set[str], required: set[str]) -> dict:
    if not isinstance(obj, dict):
        raise _fail(path, key, f"expected an object, got {type(obj).__name__}")
    unknown = sorted(set(obj) - allowed)
    if unknown:
        raise _fail(path, f"{key}.{unknown[0]}" if key else unknown[0], "unknown key")
    missing = sorted(required - set(obj))
    if missing:
        raise _fail(path, f"{key}.{missing[0]}" if key else missing[0], "missing")
    return obj


def _check_param(path: Path, key: str, specs: dict, kind: str, name: str, value: Any) -> None:
    spec = specs[kind].get(name)
    if spec is None:
        raise _fail(path, key, f"stage kind '{kind}' has no parameter '{name}'")
    if spec["type"] == "choice":
        if value not in spec["choices"]:
            raise _fail(path, key, f"{value!r} must be one of {', '.join(spec['choices'])}")
        return
    x = _number(path, key, value)
    if not spec["min"] <= x <= spec["max"]:
        raise _fail(path, key, f"{x} is outside [{spec['min']}, {spec['max']}] {spec['unit']}")


def load_rig(path: str | Path) -> Rig:
    """Read and validate a rig file (a path, or a name in ``fixtures/rigs/``)."""
    from harness.runtime import describe_stages

    path = Path(path)
    if not path.exists() and not path.suffix:
        path = RIGS_DIR / f"{path.name}.rig.json5"
    if not path.is_file():
        raise InputError(f"{path}: no such rig file")
    try:
        raw = json5.loads(path.read_text())
    except ValueError as exc:
        raise InputError(f"{path}: not valid JSON5 ({exc})") from exc
    top = {"name", "doc", "sample_rate", "stages", "knobs", "channels", "default_channel",
           "output_gain_db", "cab_ir", "neural_cells"}  # fmt: skip
    _keys(path, "", raw, top, {"name", "sample_rate", "stages"})
    specs = {s["kind"]: {p["name"]: p for p in s["params"]} for s in describe_stages()}

    rate = _number(path, "sample_rate", raw["sample_rate"])
    if rate != round(rate) or not 8000 <= rate <= 768000:
        raise _fail(path, "sample_rate", f"must be an integer in 8000..768000 Hz, got {rate!r}")

    stages: list[StageEntry] = []
    if not isinstance(raw["stages"], list) or not raw["stages"]:
        raise _fail(path, "stages", "expected a non-empty list")
    for i, entry in enumerate(raw["stages"]):
        key = f"stages[{i}]"
        _keys(path, key, entry, {"name", "kind", "oversample", "params"}, {"name", "kind"})
        if entry["kind"] not in specs:
            raise _fail(
                path, f"{key}.kind", f"unknown stage '{entry['kind']}' (known: {', '.join(specs)})"
            )
        if entry["name"] in {s.name for s in stages}:
            raise _fail(path, f"{key}.name", f"duplicate stage name '{entry['name']}'")
        factor = entry.get("oversample", 1)
        if factor not in OVERSAMPLE_FACTORS or isinstance(factor, bool):
            raise _fail(path, f"{key}.oversample", f"must be 1, 2, 4 or 8, got {factor!r}")
        params = entry.get("params", {})
        _keys(path, f"{key}.params", params, set(params), set())
        for name, value in params.items():
            _check_param(path, f"{key}.params.{name}", specs, entry["kind"], name, value)
        stages.append(StageEntry(entry["name"], entry["kind"], int(factor), dict(params)))
    kinds = {s.name: s.kind for s in stages}

    def stage_param(key: str, stage: str, param: str) -> dict:
        if stage not in kinds:
            raise _fail(path, key, f"unknown stage '{stage}' (stages: {', '.join(kinds)})")
        if param not in specs[kinds[stage]]:
            raise _fail(path, key, f"stage '{stage}' ({kinds[stage]}) has no parameter '{param}'")
        return specs[kinds[stage]][param]

    knobs: list[Knob] = []
    for i, k in enumerate(raw.get("knobs", [])):
        key = f"knobs[{i}]"
        _keys(path, key, k, {"name", "range", "default", "taper", "smoothing_ms", "drives"},
              {"name", "range", "drives"})  # fmt: skip
        lo, hi = _range(path, f"{key}.range", k["range"])
        default = _number(path, f"{key}.default", k.get("default", 0.5 * (lo + hi)))
        if not lo <= default <= hi:
            raise _fail(path, f"{key}.default", f"{default} is outside [{lo}, {hi}]")
        taper = k.get("taper", "linear")
        if taper not in ("linear", "log"):
            raise _fail(path, f"{key}.taper", f"must be linear or log, got {taper!r}")
        smoothing = _number(path, f"{key}.smoothing_ms", k.get("smoothing_ms", 20.0))
        if not 0.0 <= smoothing <= 1000.0:
            raise _fail(path, f"{key}.smoothing_ms", f"must be in [0, 1000] ms, got {smoothing}")
        drives = []
        if not isinstance(k["drives"], list) or not k["drives"]:
            raise _fail(path, f"{key}.drives", "expected a non-empty list")
        for j, d in enumerate(k["drives"]):
            dkey = f"{key}.drives[{j}]"
            _keys(path, dkey, d, {"stage", "param", "range"}, {"stage", "param"})
            spec = stage_param(f"{dkey}.stage", d["stage"], d["param"])
            if spec["type"] != "number":
                raise _fail(path, f"{dkey}.param", f"'{d['param']}' is not numeric")
            p_lo, p_hi = _range(path, f"{dkey}.range", d.get("range", [0.0, 1.0]))
            if p_lo < spec["min"] or p_hi > spec["max"]:
                raise _fail(path, f"{dkey}.range", f"bad range [{p_lo}, {p_hi}]: parameter "
                            f"'{d['param']}' accepts [{spec['min']}, {spec['max']}]")  # fmt: skip
            drives.append(KnobBinding(d["stage"], d["param"], (p_lo, p_hi)))
        if k["name"] in {x.name for x in knobs}:
            raise _fail(path, f"{key}.name", f"duplicate knob '{k['name']}'")
        knobs.append(Knob(k["name"], (lo, hi), default, taper, smoothing, tuple(drives)))

    channels = raw.get("channels", {})
    _keys(path, "channels", channels, set(channels), set())
    for ch, sets in channels.items():
        _keys(path, f"channels.{ch}", sets, set(sets), set())
        for stage, values in sets.items():
            _keys(path, f"channels.{ch}.{stage}", values, set(values), set())
            for param, value in values.items():
                ckey = f"channels.{ch}.{stage}.{param}"
                stage_param(ckey, stage, param)
                _check_param(path, ckey, specs, kinds[stage], param, value)
    default_channel = raw.get("default_channel")
    if default_channel is not None and default_channel not in channels:
        raise _fail(path, "default_channel", f"unknown channel '{default_channel}'")

    cab_ir = raw.get("cab_ir")
    if cab_ir is not None:
        cab_ir = (path.parent / cab_ir).resolve()
        if not cab_ir.is_file():
            raise _fail(path, "cab_ir", f"missing file {cab_ir}")

    neural = []
    for i, n in enumerate(raw.get("neural_cells", [])):
        key = f"neural_cells[{i}]"
        _keys(path, key, n, {"stage", "artifact", "mode"}, {"stage", "artifact", "mode"})
        if n["stage"] not in kinds:
            raise _fail(path, f"{key}.stage", f"unknown stage '{n['stage']}'")
        artifact = (path.parent / n["artifact"]).resolve()
        if not artifact.exists():
            raise _fail(path, f"{key}.artifact", f"missing file {artifact}")
        if n["mode"] not in NEURAL_MODES:
            raise _fail(path, f"{key}.mode", f"must be shadow or replace, got {n['mode']!r}")
        neural.append(NeuralBinding(n["stage"], artifact, n["mode"]))

    return Rig(
        path=path,
        name=str(raw["name"]),
        doc=str(raw.get("doc", "")),
        sample_rate=int(rate),
        stages=tuple(stages),
        knobs=tuple(knobs),
        channels={c: {s: dict(v) for s, v in sets.items()} for c, sets in channels.items()},
        default_channel=default_channel,
        output_gain_db=_number(path, "output_gain_db", raw.get("output_gain_db", 0.0)),
        cab_ir=cab_ir,
        neural_cells=tuple(neural),
    )


class RigChain:
    """A rig built through the runtime: one ``harness.runtime.Stage`` per rig stage, at the
    rig's sample rate (Hz), rendered in order. Volts in, volts (× output gain) out;
    streaming like a ``Stage``."""

    def __init__(
        self,
        rig: Rig,
        knobs: dict[str, float] | None = None,
        channel: str | None = None,
        sample_rate: float | None = None,
    ) -> None:
        from harness.runtime import Stage

        self.rig = rig
        self.sample_rate = float(sample_rate if sample_rate is not None else rig.sample_rate)
        self.stages = []
        for entry, params in zip(rig.stages, rig.stage_params(knobs, channel), strict=True):
            try:
                stage = Stage(entry.kind, self.sample_rate, oversample=entry.oversample, **params)
            except ValueError as exc:
                raise InputError(f"{rig.path}: stage '{entry.name}': {exc}") from exc
            self.stages.append(stage)
        self.gain = 10.0 ** (rig.output_gain_db / 20.0)
        self.cab = None
        if rig.cab_ir is not None:
            from harness.audio import read_wav

            ir, rate = read_wav(rig.cab_ir)
            if rate != self.sample_rate:
                raise InputError(
                    f"{rig.path}: cab_ir {rig.cab_ir} is at {rate} Hz, the rig runs at "
                    f"{self.sample_rate:g} Hz"
                )
            self.cab = ir

    @property
    def latency_samples(self) -> int:
        """Group delay of the chain (samples): the sum of the stages' latencies."""
        return sum(s.latency_samples for s in self.stages)

    @property
    def tail_samples(self) -> int:
        return sum(s.tail_samples for s in self.stages)

    def process(self, x: np.ndarray) -> np.ndarray:
        """Render ``x`` (1-D float volts) through the chain; same length and dtype."""
        y = x
        for stage in self.stages:
            y = stage.process(y)
        y = y * y.dtype.type(self.gain)
        if self.cab is not None:
            from scipy.signal import fftconvolve

            y = fftconvolve(y, self.cab.astype(y.dtype))[: y.size]
        return y

    def reset(self) -> None:
        for s in self.stages:
            s.reset()


def render(
    rig_path: str | Path,
    input_path: str | Path,
    output_path: str | Path,
    *,
    knobs: dict[str, float] | None = None,
    channel: str | None = None,
    resample: bool = False,
) -> dict[str, Any]:
    """Render a WAV through a rig and write the result (32-bit float WAV at the rig's rate).

    A sample-rate mismatch between the WAV and the rig is an ``InputError`` unless
    ``resample``; then the input is converted with ``scipy.signal.resample_poly`` (polyphase
    FIR, Kaiser window β = 5, the ratio reduced by the rates' GCD). Returns a summary."""
    from fractions import Fraction

    from harness.audio import read_wav, write_wav

    rig = load_rig(rig_path)
    x, rate = read_wav(input_path)
    if rate != rig.sample_rate:
        if not resample:
            raise InputError(
                f"{input_path}: sample rate {rate} Hz differs from the rig's {rig.sample_rate} Hz "
                "(pass --resample to convert it with scipy.signal.resample_poly)"
            )
        from scipy.signal import resample_poly

        ratio = Fraction(rig.sample_rate, rate)
        x = resample_poly(x, ratio.numerator, ratio.denominator)
    chain = RigChain(rig, knobs, channel)
    y = chain.process(np.asarray(x, dtype=np.float32))
    write_wav(output_path, y, rig.sample_rate)
    return {
        "rig": rig.name,
        "channel": channel or rig.default_channel,
        "knobs": {k.name: (knobs or {}).get(k.name, k.default) for k in rig.knobs},
        "input": str(input_path),
        "output": str(output_path),
        "sample_rate": rig.sample_rate,
        "resampled_from": rate if rate != rig.sample_rate else None,
        "samples": int(y.size),
        "latency_samples": chain.latency_samples,
        "peak": float(np.max(np.abs(y))) if y.size else 0.0,
    }
