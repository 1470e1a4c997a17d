"""Cell specs: ``fixtures/spice/<cell>/cell.json5`` + its netlist template, validated.

A cell spec makes the cell boundary explicit. Fields (units in SI: ohm, F, H, V, A, s, Hz):

* ``name``, ``title``, ``description``; ``template`` (file name of the netlist template).
* ``boundary``: ``input`` / ``output`` (what the ports are), ``inside`` / ``outside`` (lists:
  what the netlist models and what it deliberately leaves out). Documentation, required.
* ``probes``: name -> what is recorded: a node name (its voltage, V) or ``i(<source>)`` (the
  branch current of one of the template's voltage sources, A); ``output`` names the probe
  that is the cell's output. The stimulus drives node ``drive`` (``netlist.DRIVE_NODE``).
* ``currents``: name -> a voltage source of the template whose branch current (A, flowing
  into its + terminal) is the current; ``dissipation``: name -> ``{nodes: [a, b], current}``,
  power (W) = (V(a) − V(b))·I at the operating point.
* ``parameters``: name -> ``{value, unit, kind, description, range?: [lo, hi], tolerance?}``;
  ``kind`` is boundary | supply | control | component | device; ``tolerance`` is the relative
  half-width of the component-tolerance Monte Carlo (uniform, e.g. 0.05 = ±5 %).
* ``operating_point``: ``method`` "dc" (ngspice ``.op``; transients start from it) or
  "periodic" (mains-driven cells: an idle warm-up transient of ``warmup_s`` with steps of at
  most ``warmup_max_step_s``, ending on a whole number of ``period_s``; the operating point is
  the mean over the last ``average_periods`` periods and transients start with ``ic_nodes``
  set by ``.ic`` to the warm-up's final values). ``expected``: node -> [lo, hi] V, the
  expected operating region.
* ``small_signal``: ``frequency_hz``, ``level_v`` (peak V at ``drive``), ``duration_s``,
  ``window_periods`` (the last whole periods measured), ``note`` (optional, printed with it).
* ``simulation``: ``sample_rate`` (Hz), ``oversample`` (integer L: ngspice steps of at most
  1/(L·fs)), ``settle_s`` (zero-input pre-roll simulated and discarded).
* ``runtime`` (optional): ``stage`` (a ``harness.runtime`` kind) and ``params`` (the cell
  parameters the stage shares by name).
* ``dataset``: ``seed``, ``drive_db`` (gains applied to stimuli, dB), ``sweeps`` (parameter ->
  values), ``monte_carlo`` (``{default: n, full: n}`` draws), ``splits`` (``validation``,
  ``test`` fractions of the cases).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path

import json5

from harness.errors import LabError
from harness.spice.netlist import check_template

#: Where fixture names resolve: ``fixtures/spice/<name>/``.
FIXTURES_DIR = Path(__file__).resolve().parents[2] / "fixtures" / "spice"
SPEC_FILE = "cell.json5"
PARAMETER_KINDS = ("boundary", "supply", "control", "component", "device")


@dataclass(frozen=True)
class Parameter:
    """One cell parameter: value in ``unit`` (SI), its allowed range and MC tolerance."""

    value: float
    unit: str
    kind: str
    description: str
    range: tuple[float, float] | None = None
    tolerance: float = 0.0


@dataclass(frozen=True)
class OperatingPointSpec:
    method: str
    expected: dict[str, tuple[float, float]]
    period_s: float = 0.0
    warmup_s: float = 0.0
    warmup_max_step_s: float = 0.0
    average_periods: int = 0
    ic_nodes: tuple[str, ...] = ()


@dataclass(frozen=True)
class SmallSignalSpec:
    frequency_hz: float
    level_v: float
    duration_s: float
    window_periods: int
    note: str = ""


@dataclass(frozen=True)
class SimulationSpec:
    sample_rate: float
    oversample: int
    settle_s: float


@dataclass(frozen=True)
class RuntimeSpec:
    stage: str
    params: tuple[str, ...]


@dataclass(frozen=True)
class DatasetSpec:
    seed: int
    drive_db: tuple[float, ...]
    sweeps: dict[str, tuple[float, ...]]
    monte_carlo: dict[str, int]
    validation: float
    test: float


@dataclass(frozen=True)
class Dissipation:
    nodes: tuple[str, str]
    current: str


@dataclass(frozen=True)
class CellSpec:
    """A validated cell: its spec fields, template text and content hashes."""

    name: str
    title: str
    description: str
    directory: Path
    template: str
    template_sha256: str
    spec_sha256: str
    boundary: dict
    output: str
    probes: dict[str, str]
    currents: dict[str, str]
    dissipation: dict[str, Dissipation]
    parameters: dict[str, Parameter]
    operating_point: OperatingPointSpec
    small_signal: SmallSignalSpec
    simulation: SimulationSpec
    dataset: DatasetSpec
    runtime: RuntimeSpec | None = None
    extra: dict = field(default_factory=dict)

    def defaults(self) -> dict[str, float]:
        """Parameter name -> default value."""
        return {name: p.value for name, p in self.parameters.items()}

    def resolve(self, overrides: dict[str, float] | None = None) -> dict[str, float]:
        """Defaults updated by ``overrides``; raises ``LabError`` for unknown names or values
        outside a parameter's range."""
        params = self.defaults()
        for name, value in (overrides or {}).items():
            if name not in self.parameters:
                raise LabError(
                    f"{self.name}: unknown parameter {name!r} "
                    f"(known: {', '.join(sorted(self.parameters))})"
                )
            params[name] = float(value)
        for name, value in params.items():
            rng = self.parameters[name].range
            if not math.isfinite(value) or (rng and not rng[0] <= value <= rng[1]):
                raise LabError(f"{self.name}: parameter {name} = {value!r} outside its range {rng}")
        return params


def resolve_fixture(name_or_path: str | Path) -> Path:
    """``fixtures/spice/<name>/`` for a bare name, else the given directory."""
    text = str(name_or_path)
    path = Path(text) if ("/" in text or Path(text).is_dir()) else FIXTURES_DIR / text
    if not (path / SPEC_FILE).is_file():
        known = (
            sorted(p.name for p in FIXTURES_DIR.iterdir() if (p / SPEC_FILE).is_file())
            if FIXTURES_DIR.is_dir()
            else []
        )
        raise LabError(
            f"no SPICE fixture {text!r}: {path / SPEC_FILE} does not exist "
            f"(known fixtures: {', '.join(known) or 'none'})"
        )
    return path


def fixture_names() -> list[str]:
    """Names of the fixtures under ``fixtures/spice/``."""
    return sorted(p.name for p in FIXTURES_DIR.iterdir() if (p / SPEC_FILE).is_file())


def load_cell(name_or_path: str | Path) -> CellSpec:
    """Load and validate a cell spec and its template; errors name the file and field."""
    directory = resolve_fixture(name_or_path)
    spec_path = directory / SPEC_FILE
    raw = spec_path.read_bytes()
    try:
        data = json5.loads(raw.decode("utf-8"))
    except ValueError as exc:
        raise LabError(f"{spec_path}: not valid JSON5 ({exc})") from None
    r = _Reader(spec_path)
    r.require_dict(data, "")
    template_path = directory / r.str(data, "template")
    if not template_path.is_file():
        raise LabError(f"{spec_path}: field 'template': {template_path} does not exist")
    template_bytes = template_path.read_bytes()
    template = template_bytes.decode("utf-8")

    parameters = {
        name: _parameter(r, value, f"parameters.{name}")
        for name, value in r.dict(data, "parameters").items()
    }
    check_template(template, parameters, str(template_path))
    probes = {k: r.str(r.dict(data, "probes"), k, "probes").lower() for k in r.dict(data, "probes")}
    output = r.str(data, "output")
    if output not in probes:
        raise LabError(f"{spec_path}: field 'output': {output!r} is not one of the probes")
    currents = {k: str(v) for k, v in r.dict(data, "currents", {}).items()}
    dissipation = {}
    for name, d in r.dict(data, "dissipation", {}).items():
        nodes = r.list(d, "nodes", f"dissipation.{name}")
        current = r.str(d, "current", f"dissipation.{name}")
        if len(nodes) != 2 or current not in currents:
            raise LabError(
                f"{spec_path}: field 'dissipation.{name}': need nodes [a, b] and a "
                f"current named in 'currents'"
            )
        dissipation[name] = Dissipation((str(nodes[0]), str(nodes[1])), current)

    op = r.dict(data, "operating_point")
    method = r.str(op, "method", "operating_point")
    if method not in ("dc", "periodic"):
        raise LabError(f"{spec_path}: field 'operating_point.method' must be 'dc' or 'periodic'")
    expected = {
        node: tuple(float(v) for v in r.list(op["expected"], node, "operating_point.expected"))
        for node in r.dict(op, "expected", where="operating_point")
    }
    periodic = {}
    if method == "periodic":
        periodic = {
            "period_s": r.positive(op, "period_s", "operating_point"),
            "warmup_s": r.positive(op, "warmup_s", "operating_point"),
            "warmup_max_step_s": r.positive(op, "warmup_max_step_s", "operating_point"),
            "average_periods": int(r.positive(op, "average_periods", "operating_point")),
            "ic_nodes": tuple(str(n) for n in r.list(op, "ic_nodes", "operating_point")),
        }
    ss = r.dict(data, "small_signal")
    sim = r.dict(data, "simulation")
    ds = r.dict(data, "dataset")
    rt = data.get("runtime")
    runtime = None
    if rt is not None:
        names = tuple(str(n) for n in r.list(rt, "params", "runtime"))
        for n in names:
            if n not in parameters:
                raise LabError(f"{spec_path}: field 'runtime.params': {n!r} is not a parameter")
        runtime = RuntimeSpec(r.str(rt, "stage", "runtime"), names)
    sweeps = {}
    for name, values in r.dict(ds, "sweeps", {}, "dataset").items():
        if name not in parameters:
            raise LabError(f"{spec_path}: field 'dataset.sweeps.{name}': not a parameter")
        sweeps[name] = tuple(float(v) for v in values)
    splits = r.dict(ds, "splits", where="dataset")
    oversample = int(r.positive(sim, "oversample", "simulation"))
    if oversample < 8:
        raise LabError(
            f"{spec_path}: field 'simulation.oversample' must be >= 8 "
            "(ngspice steps of at most 1/(8 fs))"
        )
    return CellSpec(
        name=r.str(data, "name"),
        title=r.str(data, "title"),
        description=r.str(data, "description"),
        directory=directory,
        template=template,
        template_sha256=hashlib.sha256(template_bytes).hexdigest(),
        spec_sha256=hashlib.sha256(raw).hexdigest(),
        boundary=r.dict(data, "boundary"),
        output=output,
        probes=probes,
        currents=currents,
        dissipation=dissipation,
        parameters=parameters,
        operating_point=OperatingPointSpec(method, expected, **periodic),
        small_signal=SmallSignalSpec(
            r.positive(ss, "frequency_hz", "small_signal"),
            r.positive(ss, "level_v", "small_signal"),
            r.positive(ss, "duration_s", "small_signal"),
            int(r.positive(ss, "window_periods", "small_signal")),
            str(ss.get("note", "")),
        ),
        simulation=SimulationSpec(
            r.positive(sim, "sample_rate", "simulation"),
            oversample,
            r.positive(sim, "settle_s", "simulation"),
        ),
        dataset=DatasetSpec(
            seed=int(ds.get("seed", 0)),
            drive_db=tuple(float(v) for v in r.list(ds, "drive_db", "dataset")),
            sweeps=sweeps,
            monte_carlo={k: int(v) for k, v in r.dict(ds, "monte_carlo", {}, "dataset").items()},
            validation=float(splits.get("validation", 0.15)),
            test=float(splits.get("test", 0.2)),
        ),
        runtime=runtime,
        extra=data.get("notes", {}),
    )


def _parameter(r: _Reader, d, where: str) -> Parameter:
    r.require_dict(d, where)
    kind = r.str(d, "kind", where)
    if kind not in PARAMETER_KINDS:
        raise LabError(f"{r.path}: field '{where}.kind': {kind!r} not one of {PARAMETER_KINDS}")
    value = d.get("value")
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        raise LabError(f"{r.path}: field '{where}.value': need a finite number, got {value!r}")
    rng = d.get("range")
    if rng is not None:
        if len(rng) != 2 or not rng[0] <= value <= rng[1]:
            raise LabError(
                f"{r.path}: field '{where}.range': {rng!r} must be [lo, hi] around {value}"
            )
        rng = (float(rng[0]), float(rng[1]))
    tolerance = float(d.get("tolerance", 0.0))
    if not 0.0 <= tolerance < 1.0:
        raise LabError(f"{r.path}: field '{where}.tolerance': need 0 <= tolerance < 1")
    return Parameter(
        float(value), r.str(d, "unit", where), kind, r.str(d, "description", where), rng, tolerance
    )


class _Reader:
    """Typed field access that names the spec file and field path in its errors."""

    def __init__(self, path: Path):
        self.path = path

    def _name(self, where: str, key: str) -> str:
        return f"{where}.{key}" if where else key

    def require_dict(self, d, where: str) -> None:
        if not isinstance(d, dict):
            raise LabError(f"{self.path}: field '{where or '<top>'}' must be an object")

    def dict(self, d, key: str, default=None, where: str = "") -> dict:
        value = d.get(key, default)
        if not isinstance(value, dict):
            raise LabError(f"{self.path}: field '{self._name(where, key)}' must be an object")
        return value

    def list(self, d, key: str, where: str = "") -> list:
        value = d.get(key)
        if not isinstance(value, list):
            raise LabError(f"{self.path}: field '{self._name(where, key)}' must be a list")
        return value

    def str(self, d, key: str, where: str = "") -> str:
        value = d.get(key)
        if not isinstance(value, str) or not value:
            raise LabError(
                f"{self.path}: field '{self._name(where, key)}' must be a non-empty string"
            )
        return value

    def positive(self, d, key: str, where: str = "") -> float:
        value = d.get(key)
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not value > 0:
            raise LabError(
                f"{self.path}: field '{self._name(where, key)}' must be a number > 0, got {value!r}"
            )
        return float(value)
