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
* ``cab_ir`` (optional, ``null`` = no cab): path (relative to the rig file) of a mono WAV
  impulse response at the rig's sample rate (``harness.cabs.read_ir``: a rate mismatch is
  an error naming the file), convolved after the output gain by the runtime's zero-latency
  ``IrConvolver`` — streaming, so a render split into pieces equals one call; latency
  unchanged (the IR's own delay is the cab's), tail + the IR's length.
  ``RigChain(..., cab=False)`` leaves it out, ``cab=True`` requires it;
* ``neural_cells`` (optional): ``[{stage, artifact, mode: shadow|replace}]`` — a learned
  cell (artifact directory or ``model.greybound.json``, relative to the rig file) bound to
  a stage; rendered by ``render_monitored`` (see below).

Every error is an ``InputError`` naming the file and the key (``stages[3].kind``).

**Monitored rendering** (``render_monitored``, ``render(..., monitor_log=, neural_cell=)``)
runs the chain block by block (``MONITOR_BLOCK`` samples) with every stage's telemetry on
(``Stage.take_probe``) and writes a monitor log (JSON lines, one record per block, then one
summary record; fields in ``render_monitored``'s docstring, read by
``harness.metrics.monitor``). A bound neural cell runs at the host rate with its controls
set from the bound stage's parameters. *Shadow*: the cell sees the stage's input, the audio
uses the analytic stage (bit-identical to the plain render), and the cell's output, delayed
by the stage's latency, is compared with the stage's. *Replace*: the cell's output goes on
and the analytic stage is not run; the chain's latency drops by the stage's latency.

Knob values given to ``render``/``RigChain`` apply at render start (they are part of the
stage parameters the runtime is built with). ``RigChain.set_knob(name, value)`` changes a
knob while streaming: the bound stages ramp to the new value over the knob's
``smoothing_ms`` inside the runtime (``Stage.set_param``; live for the tone stack, volume
and cut), allocation-free and block-size invariant, so automation has no zipper noise.
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
#: Block size (samples) of a monitored render: 5.3 ms at 48 kHz, a live host's usual period.
MONITOR_BLOCK = 256


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
        cab: bool | None = None,
    ) -> None:
        from harness.runtime import Stage

        self.rig = rig
        self.channel = channel if channel is not None else rig.default_channel
        self.sample_rate = float(sample_rate if sample_rate is not None else rig.sample_rate)
        self.stages = []
        self.stage_settings = rig.stage_params(knobs, channel)
        for entry, params in zip(rig.stages, self.stage_settings, strict=True):
            try:
                stage = Stage(entry.kind, self.sample_rate, oversample=entry.oversample, **params)
            except ValueError as exc:
                raise InputError(f"{rig.path}: stage '{entry.name}': {exc}") from exc
            self.stages.append(stage)
        self.gain = 10.0 ** (rig.output_gain_db / 20.0)
        # Cab IR (issue 8): cab=None follows the rig file, False leaves it out, True needs it.
        if cab and rig.cab_ir is None:
            raise InputError(f"{rig.path}: cab requested but the rig has no cab_ir")
        self.cab = None
        if rig.cab_ir is not None and cab is not False:
            from harness.cabs import load_ir_convolver

            try:
                self.cab = load_ir_convolver(rig.cab_ir, self.sample_rate)
            except InputError as exc:
                raise InputError(f"{rig.path}: cab_ir: {exc}") from exc

    @property
    def latency_samples(self) -> int:
        """Group delay of the chain (samples): the sum of the stages' latencies."""
        return sum(s.latency_samples for s in self.stages)

    @property
    def tail_samples(self) -> int:
        cab = self.cab.tail_samples if self.cab is not None else 0
        return sum(s.tail_samples for s in self.stages) + cab

    def process(self, x: np.ndarray) -> np.ndarray:
        """Render ``x`` (1-D float volts) through the chain; same length and dtype."""
        y = x
        for stage in self.stages:
            y = stage.process(y)
        y = y * y.dtype.type(self.gain)
        if self.cab is not None:
            y = self.cab.process(y)
        return y

    def reset(self) -> None:
        for s in self.stages:
            s.reset()
        if self.cab is not None:
            self.cab.reset()

    def native(self):
        """The same chain as one runtime object (``harness.runtime.Rig``: every stage, the
        output gain and the cab in Rust, no host code between stages), at this chain's
        construction settings (knobs and channel; later ``set_knob`` calls are not
        carried). Renders bit-identically to ``process``."""
        from harness.runtime import Rig as RuntimeRig

        ir = None
        if self.cab is not None:
            from harness.cabs import read_ir

            ir = read_ir(self.rig.cab_ir, self.sample_rate)
        stages = [
            (e.kind, p, e.oversample)
            for e, p in zip(self.rig.stages, self.stage_settings, strict=True)
        ]
        return RuntimeRig(stages, self.sample_rate, self.rig.output_gain_db, ir)

    def set_knob(self, name: str, value: float) -> None:
        """Turn knob ``name`` to ``value`` (in the knob's range) while streaming.

        The value goes through the knob's taper and binding ranges
        (``Knob.parameter_values``) to each driven stage parameter, which the runtime ramps
        to over the knob's ``smoothing_ms`` (``Stage.set_param``) from the next sample
        processed. Parameters the chain's channel sets are left alone (a channel wins over
        knobs, as when the chain is built). A knob that drives a parameter that cannot
        change while running (see ``Stage.live_params``) is an ``InputError`` naming the
        rig file, knob, stage and parameter; nothing is changed then."""
        knob = self.rig.knob(name)
        lo, hi = knob.range
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InputError(f"{self.rig.path}: knob '{name}' = {value!r} is not a number")
        if not (math.isfinite(value) and lo <= value <= hi):
            raise InputError(
                f"{self.rig.path}: knob '{name}' = {value!r} is outside its range [{lo}, {hi}]"
            )
        fixed = self.rig.channels.get(self.channel, {}) if self.channel else {}
        names = [s.name for s in self.rig.stages]
        moves = []
        for (stage_name, param), v in knob.parameter_values(float(value)).items():
            if param in fixed.get(stage_name, {}):
                continue
            stage = self.stages[names.index(stage_name)]
            if param not in stage.live_params:
                raise InputError(
                    f"{self.rig.path}: knob '{name}' drives {stage_name}.{param} "
                    f"({stage.kind}), which cannot change while running "
                    f"(live: {', '.join(stage.live_params) or 'none'})"
                )
            moves.append((stage, param, v))
        for stage, param, v in moves:
            stage.set_param("smoothing_ms", knob.smoothing_ms)
            stage.set_param(param, v)


def render(
    rig_path: str | Path,
    input_path: str | Path,
    output_path: str | Path,
    *,
    knobs: dict[str, float] | None = None,
    channel: str | None = None,
    resample: bool = False,
    monitor_log: str | Path | None = None,
    neural_cell: tuple[str, str | Path] | None = None,
    neural_cell_mode: str = "shadow",
    block_size: int = MONITOR_BLOCK,
    cab: bool | None = None,
) -> dict[str, Any]:
    """Render a WAV through a rig and write the result (32-bit float WAV at the rig's rate).

    ``cab``: None follows the rig file's ``cab_ir``, False leaves the cab out, True requires
    it (an error if the rig has none).

    A sample-rate mismatch between the WAV and the rig is an ``InputError`` unless
    ``resample``; then the input is converted with ``scipy.signal.resample_poly`` (polyphase
    FIR, Kaiser window β = 5, the ratio reduced by the rates' GCD). Returns a summary.

    ``neural_cell`` = (stage name, artifact path or ``golden/cells`` name) binds a learned
    cell in ``neural_cell_mode`` (``shadow`` or ``replace``), overriding a rig-file binding
    of the same stage; the rig file's ``neural_cells`` apply too. With a monitor log or any
    neural binding the render runs block by block (``block_size`` samples,
    ``render_monitored``); ``monitor_log`` gets the JSON-lines log and the returned summary
    its summary record under ``monitor``."""
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
    chain = RigChain(rig, knobs, channel, cab=cab)
    bindings = {b.stage: b for b in rig.neural_cells}
    if neural_cell is not None:
        stage, artifact = neural_cell
        bindings[stage] = NeuralBinding(stage, Path(artifact), neural_cell_mode)
    summary_record = None
    if monitor_log is not None or bindings:
        y, records = render_monitored(
            chain, np.asarray(x, dtype=np.float32), neural=tuple(bindings.values()),
            block_size=block_size,
        )  # fmt: skip
        summary_record = records[-1]
        if monitor_log is not None:
            write_monitor_log(monitor_log, records)
    else:
        # The whole rig in the runtime: one call, no host code between stages.
        y = chain.native().process(np.asarray(x, dtype=np.float32))
    write_wav(output_path, y, rig.sample_rate)
    extra = {}
    if summary_record is not None:
        extra = {"monitor": summary_record, "monitor_log": monitor_log and str(monitor_log)}
    return {
        **extra,
        "rig": rig.name,
        "channel": channel or rig.default_channel,
        "knobs": {k.name: (knobs or {}).get(k.name, k.default) for k in rig.knobs},
        "input": str(input_path),
        "output": str(output_path),
        "sample_rate": rig.sample_rate,
        "resampled_from": rate if rate != rig.sample_rate else None,
        "samples": int(y.size),
        "latency_samples": chain.latency_samples
        if summary_record is None
        else summary_record["latency_samples"],
        "peak": float(np.max(np.abs(y))) if y.size else 0.0,
    }


# --- monitored rendering and neural-cell shadow/replace ------------------------------------
#: Where ``--neural-cell STAGE=NAME`` looks for a bare artifact name.
GOLDEN_CELLS_DIR = Path(__file__).resolve().parent.parent / "golden" / "cells"


def resolve_artifact(artifact: str | Path) -> Path:
    """An artifact's ``model.greybound.json``: a path to it or to its directory, or a bare
    name in ``golden/cells/``. Missing → ``InputError`` naming what was tried."""
    path = Path(artifact)
    if not path.exists() and len(path.parts) == 1:
        path = GOLDEN_CELLS_DIR / path
    if path.is_dir():
        path = path / "model.greybound.json"
    if not path.is_file():
        raise InputError(f"{artifact}: no neural-cell artifact (tried {path})")
    return path


def _db(num: float, den: float) -> float | None:
    """20·log10(num/den), None when the reference is silent (JSON has no ±inf)."""
    if den <= 0.0:
        return None
    return 20.0 * math.log10(num / den) if num > 0.0 else None


class NeuralSlot:
    """A learned cell bound to one stage of a ``RigChain`` in ``shadow`` or ``replace`` mode.

    The cell runs at the chain's rate; its declared controls (e.g. ``b_plus``,
    ``source_impedance``, ``load_impedance``) are set from the bound stage's parameters of
    the same name — values outside the cell's training range are clamped by the runtime and
    listed in ``controls_clamped``. A control the stage lacks is an ``InputError``."""

    def __init__(self, chain: RigChain, binding: NeuralBinding) -> None:
        import json

        from harness.runtime import NeuralCell

        names = [s.name for s in chain.rig.stages]
        if binding.stage not in names:
            raise InputError(
                f"{chain.rig.path}: neural cell bound to unknown stage '{binding.stage}' "
                f"(stages: {', '.join(names)})"
            )
        if binding.mode not in NEURAL_MODES:
            raise InputError(f"neural-cell mode must be shadow or replace, got {binding.mode!r}")
        self.index = names.index(binding.stage)
        self.binding = binding
        self.mode = binding.mode
        path = resolve_artifact(binding.artifact)
        stage = chain.stages[self.index]
        params = stage.params
        try:
            declared = json.loads(path.read_text())["controls"]
        except (ValueError, KeyError) as exc:
            raise InputError(f"{path}: cannot read the controls of the artifact ({exc})") from exc
        self.controls: dict[str, float] = {}
        self.controls_clamped: dict[str, list[float]] = {}
        for c in declared:
            if c["name"] not in params:
                raise InputError(
                    f"{path}: control '{c['name']}' has no parameter of that name in stage "
                    f"'{binding.stage}' ({stage.kind})"
                )
            value = float(params[c["name"]])
            self.controls[c["name"]] = value
            lo, hi = c["range"]
            if not lo <= value <= hi:
                self.controls_clamped[c["name"]] = [float(lo), float(hi)]
        self.cell = NeuralCell(path, chain.sample_rate, **self.controls)
        self.artifact = path
        #: The analytic stage's latency (samples): the shadow output is delayed by it.
        self.latency = stage.latency_samples
        self._delay = np.zeros(self.latency, dtype=np.float32)
        self._sum_err2 = 0.0
        self._sum_ref2 = 0.0
        self._peak_err = 0.0
        self._peak_ref = 0.0
        self._n = 0
        self._worst_block_db: float | None = None

    def shadow(self, x: np.ndarray, reference: np.ndarray) -> dict[str, Any]:
        """Run the cell on the stage's input block ``x`` and compare it (delayed by the
        stage's latency) with the stage's output ``reference`` (V); block statistics."""
        y = np.concatenate([self._delay, self.cell.process(x)])
        aligned, self._delay = y[: x.size], y[x.size :]
        err = aligned.astype(np.float64) - reference
        ref = reference.astype(np.float64)
        e2, r2 = float(np.dot(err, err)), float(np.dot(ref, ref))
        peak_err, peak_ref = float(np.max(np.abs(err))), float(np.max(np.abs(ref)))
        self._sum_err2 += e2
        self._sum_ref2 += r2
        self._peak_err = max(self._peak_err, peak_err)
        self._peak_ref = max(self._peak_ref, peak_ref)
        self._n += x.size
        rms_err, rms_ref = math.sqrt(e2 / x.size), math.sqrt(r2 / x.size)
        block_db = _db(rms_err, rms_ref)
        if block_db is not None and (
            self._worst_block_db is None or block_db > self._worst_block_db
        ):
            self._worst_block_db = block_db
        return {
            "stage": self.binding.stage,
            "rms_error_v": rms_err,
            "peak_error_v": peak_err,
            "stage_rms_v": rms_ref,
            "rms_error_db": block_db,
            "peak_error_db": _db(peak_err, peak_ref),
        }

    def summary(self) -> dict[str, Any]:
        """The binding, its controls, and (shadow mode) the error over the whole render."""
        out: dict[str, Any] = {
            "stage": self.binding.stage,
            "artifact": str(self.artifact),
            "cell": self.cell.name,
            "mode": self.mode,
            "controls": self.controls,
            "controls_clamped": self.controls_clamped,
            "stage_latency_samples": self.latency,
        }
        if self.mode == "shadow" and self._n:
            rms_err = math.sqrt(self._sum_err2 / self._n)
            rms_ref = math.sqrt(self._sum_ref2 / self._n)
            out.update(
                rms_error_v=rms_err,
                peak_error_v=self._peak_err,
                stage_rms_v=rms_ref,
                stage_peak_v=self._peak_ref,
                rms_error_db=_db(rms_err, rms_ref),
                peak_error_db=_db(self._peak_err, self._peak_ref),
                worst_block_rms_error_db=self._worst_block_db,
            )
        return out


def _merge_probes(probes: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Chain totals of the stages' probes; B+ extremes over the stages with a supply node."""
    total = {k: sum(p[k] for p in probes.values())
             for k in ("rail_excursions", "nan_sanitized", "input_clamped",
                       "denormal_flushes", "newton_failures", "table_misses")}  # fmt: skip
    lows = [p["supply_min_v"] for p in probes.values() if p["supply_min_v"] is not None]
    highs = [p["supply_max_v"] for p in probes.values() if p["supply_max_v"] is not None]
    total["b_plus_min_v"] = min(lows) if lows else None
    total["b_plus_max_v"] = max(highs) if highs else None
    return total


def render_monitored(
    chain: RigChain,
    x: np.ndarray,
    *,
    neural: tuple[NeuralBinding, ...] = (),
    block_size: int = MONITOR_BLOCK,
    near_clip_dbfs: float = -1.0,
) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Render ``x`` (1-D volts at ``chain.sample_rate``) block by block with telemetry and
    optional neural cells; returns (output as float32, monitor records).

    Records (JSON-serializable; None where a value does not exist): one per block with the
    ``harness.metrics.monitor`` fields for the rig output (``stage`` = ``"output"``,
    full-scale units: ``peak``, ``clip_count`` (|y| ≥ 1.0), ``near_clip_count`` (above
    ``near_clip_dbfs``), ``nan_count``, ``inf_count``, ``denormal_count`` of the output
    samples; ``rail_excursions`` summed over the stages' probes), plus ``nan_sanitized``,
    ``input_clamped``, ``denormal_flushes`` (runtime flushes inside the stages),
    ``newton_failures``, ``table_misses`` (samples solved by Newton outside a stage's solution
    tables), ``b_plus_min_v``/``b_plus_max_v`` (V, the supply node of the
    stages that have one: the power amp's B+), ``cpu_ns`` (wall time of the block through
    the chain and any cells, Python call overhead included; the cab IR, applied after the
    chain, is not included), ``budget_ns`` (block duration), ``xrun`` (cpu_ns > budget_ns),
    ``shadow`` (per shadow cell: RMS and peak error in V and dB re the stage output) and
    ``stages`` (each stage's own probe). Then one summary record, ``record`` =
    ``"summary"``, with totals, CPU statistics (mean/max/p99 ns, ``xruns``,
    ``real_time_factor`` = audio time / CPU time) and each neural binding's summary."""
    import time

    from harness.metrics.monitor import block_records

    if int(block_size) < 1:
        raise InputError(f"render_monitored: block_size must be >= 1, got {block_size!r}")
    block_size = int(block_size)
    x = np.asarray(x, dtype=np.float32)
    slots = {}
    for binding in neural:
        slot = NeuralSlot(chain, binding)
        if slot.index in slots:
            raise InputError(f"two neural cells bound to stage '{binding.stage}'")
        slots[slot.index] = slot
    names = [s.name for s in chain.rig.stages]
    for stage in chain.stages:
        stage.set_probing(True)
        stage.take_probe()
    gain = np.float32(chain.gain)
    y = np.empty_like(x)
    extras = []
    budget_ns = block_size / chain.sample_rate * 1e9
    for start in range(0, x.size, block_size):
        t0 = time.perf_counter_ns()
        b = x[start : start + block_size]
        shadow = []
        for i, stage in enumerate(chain.stages):
            slot = slots.get(i)
            if slot is not None and slot.mode == "replace":
                b = slot.cell.process(b)
            elif slot is not None:
                out = stage.process(b)
                shadow.append(slot.shadow(b, out))
                b = out
            else:
                b = stage.process(b)
        y[start : start + b.size] = b * gain
        cpu = time.perf_counter_ns() - t0
        probes = {}
        for i, (name, stage) in enumerate(zip(names, chain.stages, strict=True)):
            p = stage.take_probe()
            if p is not None and not (i in slots and slots[i].mode == "replace"):
                probes[name] = p
        budget = b.size / chain.sample_rate * 1e9
        extras.append(
            {**_merge_probes(probes), "cpu_ns": cpu, "budget_ns": budget, "xrun": cpu > budget,
             "shadow": shadow or None, "stages": probes}
        )  # fmt: skip
    for stage in chain.stages:
        stage.set_probing(False)
    if chain.cab is not None:
        y = chain.cab.process(y)
    records = block_records(y, "output", block_size=block_size, near_clip_dbfs=near_clip_dbfs)
    for record, extra in zip(records, extras, strict=True):
        record.update(extra)
        record["peak"] = record["peak"] if math.isfinite(record["peak"]) else None
    cpu = np.array([e["cpu_ns"] for e in extras], dtype=np.float64)
    replaced = sum(s.latency for s in slots.values() if s.mode == "replace")
    totals = {k: sum(r[k] for r in records)
              for k in ("n_samples", "clip_count", "near_clip_count", "rail_excursions",
                        "nan_count", "inf_count", "denormal_count", "nan_sanitized",
                        "input_clamped", "denormal_flushes", "newton_failures",
                        "table_misses")}  # fmt: skip
    lows = [r["b_plus_min_v"] for r in records if r["b_plus_min_v"] is not None]
    highs = [r["b_plus_max_v"] for r in records if r["b_plus_max_v"] is not None]
    summary = {
        "record": "summary",
        "rig": chain.rig.name,
        "sample_rate": chain.sample_rate,
        "block_size": block_size,
        "n_blocks": len(records),
        **totals,
        "peak": max((r["peak"] for r in records if r["peak"] is not None), default=None),
        "b_plus_min_v": min(lows) if lows else None,
        "b_plus_max_v": max(highs) if highs else None,
        "latency_samples": chain.latency_samples - replaced,
        "cpu": {
            "budget_ns": budget_ns,
            "mean_ns": float(cpu.mean()),
            "max_ns": float(cpu.max()),
            "p99_ns": float(np.percentile(cpu, 99)),
            "xruns": int(sum(e["xrun"] for e in extras)),
            "real_time_factor": x.size / chain.sample_rate * 1e9 / float(cpu.sum()),
        },
        "neural_cells": [slots[i].summary() for i in sorted(slots)],
    }
    return y, [*records, summary]


def write_monitor_log(path: str | Path, records: list[dict[str, Any]]) -> Path:
    """Write records as JSON lines (sorted keys, one object per line); returns the path."""
    import json

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for record in records:
            f.write(json.dumps(record, sort_keys=True, allow_nan=False) + "\n")
    return path
