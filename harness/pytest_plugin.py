"""pytest plugin: the ``gate`` fixture and the trend-store flush (loaded by ``conftest.py``).

``gate.check(metric, value, threshold, better=..., unit=..., reason=..., plot=...)`` compares a
measured value with its limit, records it (test id, suite, fixture, model, metric, value, unit,
threshold, passed) and fails the test with a message that names the metric, value, threshold,
unit, the reason for the threshold and the plot path. ``threshold`` may also be a
:class:`harness.gates.Threshold` from a gate file, which brings its own direction, unit and
reason.

Writing under pytest-xdist — the controller collects: every process keeps its records in a
list; a worker exposes that list as ``config.workeroutput["greybound_gate_rows"]``, which
xdist ships to the controller when the worker finishes; the controller gathers them in
``pytest_testnodedown`` and, at session end, writes one run with every row in one transaction
(without xdist the single process does the same). One pytest session is one run, however many
workers it had. Rows of a worker that crashed before finishing are lost with its results.

Options: ``--trend-db PATH`` (default ``$GREYBOUND_TREND_DB``, else
``<repo>/.greybound/trend.sqlite``), ``--no-trend`` (record nothing), ``--gate-plot-dir DIR``
(where plots drawn for failing gates go; default ``<rootdir>/.greybound/gate-plots``).
"""

from __future__ import annotations

import math
import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from numbers import Real
from pathlib import Path

import pytest

from harness.gates import DIRECTIONS, Threshold
from harness.trend import Measurement, TrendError, TrendStore, collect_run_info, default_db_path

#: Key of the records list in an xdist worker's ``workeroutput``.
GATE_ROWS_KEY = "greybound_gate_rows"

PlotArg = str | Path | Callable[[Path], object] | None


class GateFailure(AssertionError):
    """A gate's value missed its threshold; the message carries the evidence."""


@dataclass
class _SessionState:
    rows: list[dict] = field(default_factory=list)
    db: Path | None = None
    plot_dir: Path = Path(".greybound/gate-plots")
    run_id: int | None = None
    error: str | None = None


_STATE = pytest.StashKey[_SessionState]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("greybound", "Greybound Lab gates and trend store")
    group.addoption(
        "--trend-db",
        metavar="PATH",
        default=None,
        help="trend store file (default $GREYBOUND_TREND_DB, else <repo>/.greybound/trend.sqlite)",
    )
    group.addoption(
        "--no-trend", action="store_true", help="do not write gate results to the trend store"
    )
    group.addoption(
        "--gate-plot-dir",
        metavar="DIR",
        default=None,
        help="where plots for failing gates are drawn (default <rootdir>/.greybound/gate-plots)",
    )


def pytest_configure(config: pytest.Config) -> None:
    state = _SessionState()
    if not config.getoption("no_trend"):
        opt = config.getoption("trend_db")
        state.db = Path(opt) if opt else default_db_path()
    plot_dir = config.getoption("gate_plot_dir")
    state.plot_dir = Path(plot_dir) if plot_dir else config.rootpath / ".greybound" / "gate-plots"
    config.stash[_STATE] = state
    if hasattr(config, "workerinput"):
        config.workeroutput[GATE_ROWS_KEY] = state.rows


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:
    """xdist controller: collect a finished worker's gate records."""
    rows = getattr(node, "workeroutput", {}).get(GATE_ROWS_KEY, [])
    node.config.stash[_STATE].rows.extend(rows)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    state = config.stash[_STATE]
    if hasattr(config, "workerinput") or state.db is None or not state.rows:
        return
    rows = [Measurement.from_dict(r) for r in state.rows]
    try:
        with TrendStore(state.db) as store:
            state.run_id = store.record_run(collect_run_info(config.rootpath), rows)
    except (TrendError, sqlite3.Error) as exc:
        state.error = f"could not write {len(rows)} gate results to {state.db}: {exc}"
        if session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    state = config.stash[_STATE]
    if hasattr(config, "workerinput") or not state.rows:
        return
    failed = sum(1 for r in state.rows if r["passed"] is False)
    terminalreporter.write_sep("-", "greybound gates")
    terminalreporter.write_line(f"{len(state.rows)} gate checks, {failed} failed")
    if state.error:
        terminalreporter.write_line(f"trend store error: {state.error}", red=True)
    elif state.run_id is not None:
        terminalreporter.write_line(f"recorded as run {state.run_id} in {state.db}")
    else:
        terminalreporter.write_line("not recorded (--no-trend)")


def _fmt(value: float) -> str:
    return f"{value:.6g}"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_")[:120] or "gate"


class Gate:
    """Checks measured values against thresholds and records every check.

    ``suite`` defaults to the test module's name without ``test_``; set ``suite``,
    ``fixture`` and ``model`` once per test, or pass them to :meth:`check`.
    """

    def __init__(self, test_id: str, suite: str, state: _SessionState):
        self.test_id = test_id
        self.suite = suite
        self.fixture: str | None = None
        self.model: str | None = None
        self._state = state

    def check(
        self,
        metric: str,
        value: float,
        threshold: float | Threshold,
        better: str | None = None,
        unit: str | None = None,
        reason: str | None = None,
        plot: PlotArg = None,
        *,
        fixture: str | None = None,
        model: str | None = None,
        suite: str | None = None,
    ) -> float:
        """Assert that ``value`` meets ``threshold`` and record it; return ``value``.

        ``better="lower"`` passes when ``value <= threshold``, ``"higher"`` when
        ``value >= threshold``; NaN fails. With a float ``threshold``, ``better`` and a written
        ``reason`` are required (``unit`` defaults to dimensionless). ``plot`` is the path of a
        plot that shows the evidence, or a callable ``draw(path)`` run only when the gate fails.
        """
        __tracebackhide__ = True
        th = _as_threshold(metric, threshold, better, unit, reason)
        if isinstance(value, bool) or not isinstance(value, Real):
            raise TypeError(f"gate {metric!r}: value must be a real number, got {value!r}")
        value = float(value)
        passed = th.passes(value)
        fixture = fixture if fixture is not None else self.fixture
        model = model if model is not None else self.model
        suite = suite if suite is not None else self.suite
        self._state.rows.append(
            Measurement(
                test_id=self.test_id,
                suite=suite,
                metric=metric,
                value=value,
                unit=th.unit,
                fixture=fixture,
                model=model,
                threshold=th.limit,
                better=th.better,
                passed=passed,
            ).to_dict()
        )
        if passed:
            return value
        plot_text = self._plot(metric, plot)
        source = f"; {th.source}" if th.source else ""
        shown = f"{_fmt(value)} {th.unit}".rstrip()
        message = "\n".join(
            [
                f"gate failed: {metric} = {shown}; "
                f"threshold {th.describe()} ({th.better} is better)",
                f"  reason:  {th.reason} (basis: {th.basis}{source})",
                f"  plot:    {plot_text}",
                f"  test:    {self.test_id}",
                f"  suite:   {suite}; fixture: {fixture}; model: {model}",
            ]
        )
        raise GateFailure(message)

    def _plot(self, metric: str, plot: PlotArg) -> str:
        if plot is None:
            return "(none)"
        if not callable(plot):
            return str(Path(plot).resolve())
        path = self._state.plot_dir / _slug(self.test_id) / f"{_slug(metric)}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            plot(path)
        except Exception as exc:  # the gate failure matters more than a broken plot
            return f"{path} (drawing it failed: {type(exc).__name__}: {exc})"
        return str(path.resolve())


def _as_threshold(
    metric: str,
    threshold: float | Threshold,
    better: str | None,
    unit: str | None,
    reason: str | None,
) -> Threshold:
    if isinstance(threshold, Threshold):
        if better is not None or unit is not None or reason is not None:
            raise TypeError(
                f"gate {metric!r}: a Threshold brings its own better/unit/reason; pass none of them"
            )
        return threshold
    if isinstance(threshold, bool) or not isinstance(threshold, Real) or math.isnan(threshold):
        raise TypeError(f"gate {metric!r}: threshold must be a number or a Threshold")
    if better not in DIRECTIONS:
        raise ValueError(f"gate {metric!r}: better must be one of {DIRECTIONS}, got {better!r}")
    if not reason or not reason.strip():
        raise ValueError(f"gate {metric!r}: every threshold needs a written reason")
    return Threshold(
        metric=metric, limit=float(threshold), better=better, unit=unit or "", reason=reason
    )


@pytest.fixture
def gate(request: pytest.FixtureRequest) -> Gate:
    """A :class:`Gate` bound to the running test."""
    suite = Path(str(request.node.path)).stem.removeprefix("test_")
    return Gate(request.node.nodeid, suite, request.config.stash[_STATE])
