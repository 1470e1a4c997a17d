"""Acceptance thresholds: ``fixtures/gates/*.json5``, one file per suite, each with its reason.

A gate file looks like this (JSON5, comments allowed)::

    {
      schema: 1,
      suite: "stages",
      defaults: {                      // every fixture and model of the suite
        esr_db: {
          limit: -100, better: "lower", unit: "dB", basis: "noise_floor",
          reason: "why this number and not another",
        },
      },
      fixtures: { "stages/tone_stack": { ... same shape as defaults ... } },
      models:   { "runtime":           { ... same shape as defaults ... } },
    }

Look-up order for ``(fixture, model, metric)``: ``models[model]`` beats ``fixtures[fixture]``
beats ``defaults``. Within a table, the exact metric name beats its *family*: the name with a
trailing ``[condition]`` removed (``delta_thd_pct[sine -20 dBFS]`` → ``delta_thd_pct``), so one
entry covers every level or signal of a metric.

``basis`` says where the number comes from: ``standard`` (a published standard),
``noise_floor`` (a measured or derived noise floor) or ``acceptance`` (a Greybound
acceptance criterion). Every error names the file and the key path.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import json5

from harness.errors import LabError

#: Where the suites' gate files live.
GATES_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "gates"

#: The gate-file format this module reads.
SCHEMA = 1

BASES = ("standard", "noise_floor", "acceptance")
DIRECTIONS = ("lower", "higher")
_ENTRY_KEYS = {"limit", "better", "unit", "basis", "reason"}
_TOP_KEYS = {"schema", "suite", "defaults", "fixtures", "models"}

Better = Literal["lower", "higher"]


class GateFileError(LabError):
    """A malformed gate file or a missing threshold; the message names the file and key."""


@dataclass(frozen=True)
class Threshold:
    """One acceptance limit.

    ``limit`` is in ``unit``; ``better="lower"`` passes when ``value <= limit``,
    ``better="higher"`` when ``value >= limit``. ``source`` is ``file: key.path`` for
    thresholds read from a gate file (empty for ones written inline in a test).
    """

    metric: str
    limit: float
    better: Better
    unit: str
    reason: str
    basis: str = "acceptance"
    source: str = ""

    def passes(self, value: float) -> bool:
        """True when ``value`` meets the limit; NaN never does."""
        if math.isnan(value):
            return False
        return value <= self.limit if self.better == "lower" else value >= self.limit

    def describe(self) -> str:
        """``"<= -100 dB"`` style text for messages and tables."""
        op = "<=" if self.better == "lower" else ">="
        return f"{op} {self.limit:g} {self.unit}".rstrip()


def metric_family(metric: str) -> str:
    """The metric name without a trailing ``[condition]``: ``thd_pct[-20 dBFS]`` → ``thd_pct``."""
    head, sep, _ = metric.partition("[")
    return head.rstrip() if sep and metric.endswith("]") else metric


@dataclass(frozen=True)
class GateFile:
    """A parsed gate file: per-table dictionaries of :class:`Threshold` by metric name."""

    path: Path
    suite: str
    defaults: dict[str, Threshold]
    fixtures: dict[str, dict[str, Threshold]]
    models: dict[str, dict[str, Threshold]]

    def lookup(
        self, metric: str, fixture: str | None = None, model: str | None = None
    ) -> Threshold:
        """The threshold for ``metric`` of ``fixture``/``model`` (see the module docstring)."""
        tables = []
        if model is not None and model in self.models:
            tables.append(self.models[model])
        if fixture is not None and fixture in self.fixtures:
            tables.append(self.fixtures[fixture])
        tables.append(self.defaults)
        for table in tables:
            for name in (metric, metric_family(metric)):
                if name in table:
                    return table[name]
        raise GateFileError(
            f"{self.path}: no threshold for metric {metric!r} (family {metric_family(metric)!r}) "
            f"of fixture {fixture!r}, model {model!r}: add it under defaults, "
            f"fixtures.{fixture} or models.{model}"
        )


def _fail(path: Path, key: str, message: str) -> GateFileError:
    return GateFileError(f"{path}: {key}: {message}")


def _parse_entry(path: Path, key: str, metric: str, raw: Any) -> Threshold:
    if not isinstance(raw, dict):
        raise _fail(path, key, f"expected an object with {sorted(_ENTRY_KEYS)}, got {raw!r}")
    missing = _ENTRY_KEYS - raw.keys()
    if missing:
        raise _fail(path, key, f"missing {sorted(missing)}")
    unknown = raw.keys() - _ENTRY_KEYS
    if unknown:
        raise _fail(path, key, f"unknown keys {sorted(unknown)}")
    limit = raw["limit"]
    if isinstance(limit, bool) or not isinstance(limit, int | float) or not math.isfinite(limit):
        raise _fail(path, f"{key}.limit", f"expected a finite number, got {limit!r}")
    if raw["better"] not in DIRECTIONS:
        raise _fail(path, f"{key}.better", f"expected one of {DIRECTIONS}, got {raw['better']!r}")
    if raw["basis"] not in BASES:
        raise _fail(path, f"{key}.basis", f"expected one of {BASES}, got {raw['basis']!r}")
    if not isinstance(raw["unit"], str):
        raise _fail(path, f"{key}.unit", f"expected a string, got {raw['unit']!r}")
    reason = raw["reason"]
    if not isinstance(reason, str) or not reason.strip():
        raise _fail(path, f"{key}.reason", "every threshold needs a written reason")
    return Threshold(
        metric=metric,
        limit=float(limit),
        better=raw["better"],
        unit=raw["unit"],
        reason=" ".join(reason.split()),
        basis=raw["basis"],
        source=f"{path.name}: {key}",
    )


def _parse_table(path: Path, key: str, raw: Any) -> dict[str, Threshold]:
    if not isinstance(raw, dict):
        raise _fail(path, key, f"expected an object of metric -> threshold, got {raw!r}")
    return {m: _parse_entry(path, f"{key}.{m}", m, entry) for m, entry in raw.items()}


def _parse_tables(path: Path, key: str, raw: Any) -> dict[str, dict[str, Threshold]]:
    if not isinstance(raw, dict):
        raise _fail(path, key, f"expected an object of name -> metric table, got {raw!r}")
    return {name: _parse_table(path, f"{key}.{name}", table) for name, table in raw.items()}


def load_gate_file(path: str | Path) -> GateFile:
    """Parse and validate one gate file; raise :class:`GateFileError` naming file and key."""
    path = Path(path)
    try:
        raw = json5.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise GateFileError(f"{path}: gate file not found") from None
    except ValueError as exc:
        raise GateFileError(f"{path}: not valid JSON5: {exc}") from None
    if not isinstance(raw, dict):
        raise _fail(path, "(top level)", "expected an object")
    unknown = raw.keys() - _TOP_KEYS
    if unknown:
        raise _fail(path, "(top level)", f"unknown keys {sorted(unknown)}")
    if raw.get("schema") != SCHEMA:
        raise _fail(path, "schema", f"expected {SCHEMA}, got {raw.get('schema')!r}")
    suite = raw.get("suite")
    if not isinstance(suite, str) or not suite:
        raise _fail(path, "suite", f"expected a non-empty string, got {suite!r}")
    if suite != path.stem:
        raise _fail(path, "suite", f"{suite!r} must match the file name {path.stem!r}")
    return GateFile(
        path=path,
        suite=suite,
        defaults=_parse_table(path, "defaults", raw.get("defaults", {})),
        fixtures=_parse_tables(path, "fixtures", raw.get("fixtures", {})),
        models=_parse_tables(path, "models", raw.get("models", {})),
    )


def load_suite(suite: str, gates_dir: str | Path = GATES_DIR) -> GateFile:
    """The gate file of ``suite``: ``<gates_dir>/<suite>.json5``."""
    return load_gate_file(Path(gates_dir) / f"{suite}.json5")


def threshold_for(
    suite: str,
    metric: str,
    fixture: str | None = None,
    model: str | None = None,
    gates_dir: str | Path = GATES_DIR,
) -> Threshold:
    """Shortcut: load ``suite``'s gate file and look ``metric`` up for ``fixture``/``model``."""
    return load_suite(suite, gates_dir).lookup(metric, fixture=fixture, model=model)
