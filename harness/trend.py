"""The trend store: every gated measurement and benchmark, per run, in one SQLite file.

Default location ``<repo>/.greybound/trend.sqlite``; ``GREYBOUND_TREND_DB`` or an explicit path
overrides it. Concurrency: WAL journal, a 30 s busy timeout, and each run written in one
``BEGIN IMMEDIATE`` transaction (the run row and all of its measurements, or nothing), so any
number of processes (pytest-xdist sessions, CLI imports) can write at once without losing rows.

Schema (``PRAGMA user_version`` holds its version; :data:`MIGRATIONS` move a file forward,
never back; a file newer than this code is refused):

* ``runs``: id, git_commit, git_dirty, started_at (ISO 8601 UTC), host, python_version,
  rust_version, ngspice_version, source (``pytest`` | ``benchmark``).
* ``measurements``: run_id, test_id, suite, fixture, model, metric, value, unit, threshold,
  better (``lower`` | ``higher`` | NULL when unknown), passed (1/0, NULL when not gated).
  SQLite stores NaN as NULL; it reads back as NaN.

Regression rule of :func:`compare` (noise-aware). For each series (suite, test id, fixture,
model, metric) measured in the candidate run B, take its values in the last ``window`` runs up
to and including the baseline run A (store order). With their median ``m`` and
``sigma = 1.4826 * MAD`` (the normal-consistent median absolute deviation), the tolerance is
``max(k * sigma, rel_floor * |m|, abs_floor)``. B regresses when it is worse than ``m`` (in
the series' ``better`` direction) by more than the tolerance, when it is NaN where the history
was finite, or when its gate failed where A's passed. It improved when better by more than
the tolerance. A series with unknown direction is reported but never judged.
"""

from __future__ import annotations

import csv
import functools
import json
import math
import os
import platform
import socket
import sqlite3
import statistics
import subprocess
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from harness.errors import LabError

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DB = REPO_ROOT / ".greybound" / "trend.sqlite"
ENV_DB = "GREYBOUND_TREND_DB"

#: How long a writer waits for another writer's lock before giving up (ms).
BUSY_TIMEOUT_MS = 30_000

#: Forward migrations; MIGRATIONS[i] moves a file from version i to i + 1.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 0 -> 1: the runs and their measurements.
    (
        """CREATE TABLE runs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            git_commit TEXT,
            git_dirty INTEGER,
            started_at TEXT NOT NULL,
            host TEXT NOT NULL,
            python_version TEXT NOT NULL,
            rust_version TEXT,
            ngspice_version TEXT
        )""",
        """CREATE TABLE measurements (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            test_id TEXT NOT NULL,
            suite TEXT NOT NULL,
            fixture TEXT,
            model TEXT,
            metric TEXT NOT NULL,
            value REAL,
            unit TEXT NOT NULL DEFAULT '',
            threshold REAL,
            passed INTEGER
        )""",
    ),
    # 1 -> 2: where a run came from (benchmark imports), the metric's good direction (for
    # compare), and indexes for series look-ups.
    (
        "ALTER TABLE runs ADD COLUMN source TEXT NOT NULL DEFAULT 'pytest'",
        "ALTER TABLE measurements ADD COLUMN better TEXT",
        "CREATE INDEX measurements_series ON measurements(metric, fixture, model, test_id)",
        "CREATE INDEX measurements_run ON measurements(run_id)",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)


class TrendError(LabError):
    """A trend-store problem: unreadable/newer database, unknown run, malformed import."""


def default_db_path() -> Path:
    """``$GREYBOUND_TREND_DB`` when set, else ``<repo>/.greybound/trend.sqlite``."""
    env = os.environ.get(ENV_DB)
    return Path(env) if env else DEFAULT_DB


@dataclass(frozen=True)
class Measurement:
    """One measured value. ``threshold``/``passed`` are None for ungated values (benchmarks)."""

    test_id: str
    suite: str
    metric: str
    value: float
    unit: str = ""
    fixture: str | None = None
    model: str | None = None
    threshold: float | None = None
    better: str | None = None
    passed: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain types only (crosses the pytest-xdist worker channel)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Measurement:
        return cls(**data)

    def series_key(self) -> tuple:
        return (self.suite, self.test_id, self.fixture, self.model, self.metric)


@dataclass(frozen=True)
class RunInfo:
    """Where and with what a run was made."""

    started_at: str
    host: str
    python_version: str
    git_commit: str | None = None
    git_dirty: bool | None = None
    rust_version: str | None = None
    ngspice_version: str | None = None
    source: str = "pytest"


@dataclass(frozen=True)
class Run:
    """A stored run with its measurement counts."""

    id: int
    info: RunInfo
    n_measurements: int
    n_failed: int


def _run_quiet(cmd: Sequence[str], cwd: Path | None = None) -> str | None:
    try:
        out = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout if out.returncode == 0 else None


def git_state(repo: Path = REPO_ROOT) -> tuple[str | None, bool | None]:
    """(commit hash or None before the first commit / outside git, dirty flag or None)."""
    commit = _run_quiet(["git", "rev-parse", "HEAD"], cwd=repo)
    status = _run_quiet(["git", "status", "--porcelain", "--untracked-files=no"], cwd=repo)
    dirty = None if status is None else bool(status.strip())
    return (commit.strip() if commit else None), dirty


@functools.cache
def tool_versions() -> dict[str, str | None]:
    """Rust toolchain (``rustc --version``) and ngspice (banner line) versions, None if absent."""
    rustc = _run_quiet(["rustc", "--version"])
    ngspice = _run_quiet(["ngspice", "--version"])
    ng_line = None
    if ngspice:
        ng_line = next(
            (ln.strip("* ").split(" : ")[0] for ln in ngspice.splitlines() if "ngspice-" in ln),
            None,
        )
    return {"rust": rustc.strip() if rustc else None, "ngspice": ng_line}


def now_utc() -> str:
    """The current time, ISO 8601 UTC to the second."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def collect_run_info(repo: Path = REPO_ROOT, source: str = "pytest") -> RunInfo:
    """Describe this machine and checkout for a new run."""
    commit, dirty = git_state(repo)
    tools = tool_versions()
    return RunInfo(
        started_at=now_utc(),
        host=socket.gethostname(),
        python_version=platform.python_version(),
        git_commit=commit,
        git_dirty=dirty,
        rust_version=tools["rust"],
        ngspice_version=tools["ngspice"],
        source=source,
    )


def migrate(conn: sqlite3.Connection, target: int = SCHEMA_VERSION) -> int:
    """Apply forward migrations up to ``target`` in one transaction; return the new version.

    Safe when several processes open a new file at once: the version is re-read under the
    write lock, so each migration runs exactly once.
    """
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise TrendError(
            f"trend store schema version {version} is newer than this lab's {SCHEMA_VERSION}: "
            "update the lab, or point --trend-db at another file"
        )
    if version >= target:
        return version
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        for step in range(version, target):
            for statement in MIGRATIONS[step]:
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {max(version, target)}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return max(version, target)


def connect(path: str | Path) -> sqlite3.Connection:
    """Open (creating if needed) a store file in WAL mode with a busy timeout; not migrated."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
    except sqlite3.DatabaseError as exc:
        raise TrendError(f"{path}: cannot open the trend store: {exc}") from None
    return conn


def _opt_bool(value: int | None) -> bool | None:
    return None if value is None else bool(value)


def _value(v: float | None) -> float:
    return math.nan if v is None else float(v)


def _run_info(row: sqlite3.Row | tuple) -> RunInfo:
    _, commit, dirty, started, host, py, rust, ng, source = row
    return RunInfo(
        started_at=started,
        host=host,
        python_version=py,
        git_commit=commit,
        git_dirty=_opt_bool(dirty),
        rust_version=rust,
        ngspice_version=ng,
        source=source,
    )


class TrendStore:
    """An open, migrated trend store. Use as a context manager or call :meth:`close`."""

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path is not None else default_db_path()
        self._conn = connect(self.path)
        try:
            migrate(self._conn)
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            raise TrendError(f"{self.path}: not a usable trend store: {exc}") from None

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> TrendStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    def record_run(self, info: RunInfo, measurements: Iterable[Measurement]) -> int:
        """Store a run and all its measurements in one transaction; return the run id."""
        rows = list(measurements)
        with self._write() as conn:
            cur = conn.execute(
                "INSERT INTO runs (git_commit, git_dirty, started_at, host, python_version, "
                "rust_version, ngspice_version, source) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    info.git_commit,
                    None if info.git_dirty is None else int(info.git_dirty),
                    info.started_at,
                    info.host,
                    info.python_version,
                    info.rust_version,
                    info.ngspice_version,
                    info.source,
                ),
            )
            run_id = int(cur.lastrowid)
            conn.executemany(
                "INSERT INTO measurements (run_id, test_id, suite, fixture, model, metric, value,"
                " unit, threshold, better, passed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        run_id,
                        m.test_id,
                        m.suite,
                        m.fixture,
                        m.model,
                        m.metric,
                        float(m.value),
                        m.unit,
                        m.threshold,
                        m.better,
                        None if m.passed is None else int(m.passed),
                    )
                    for m in rows
                ],
            )
        return run_id

    def runs(self) -> list[Run]:
        """All runs, oldest first, with measurement and failed-gate counts."""
        rows = self._conn.execute(
            "SELECT r.id, r.git_commit, r.git_dirty, r.started_at, r.host, r.python_version, "
            "r.rust_version, r.ngspice_version, r.source, "
            "COUNT(m.id), COALESCE(SUM(m.passed = 0), 0) "
            "FROM runs r LEFT JOIN measurements m ON m.run_id = r.id GROUP BY r.id ORDER BY r.id"
        ).fetchall()
        return [Run(row[0], _run_info(row[:9]), row[9], row[10]) for row in rows]

    def run_ids(self) -> list[int]:
        return [r[0] for r in self._conn.execute("SELECT id FROM runs ORDER BY id")]

    def resolve_run(self, ref: str | int) -> int:
        """A run id from ``17``, ``latest`` or ``latest~N`` (N runs before the latest)."""
        ids = self.run_ids()
        text = str(ref).strip()
        if text.startswith("latest"):
            back_text = text[len("latest") :]
            if back_text and not (back_text.startswith("~") and back_text[1:].isdigit()):
                raise TrendError(f"run {ref!r}: expected an id, 'latest' or 'latest~N'")
            back = int(back_text[1:]) if back_text else 0
            if back >= len(ids):
                raise TrendError(f"{self.path}: run {ref!r}: the store holds {len(ids)} run(s)")
            return ids[-1 - back]
        if not text.isdigit():
            raise TrendError(f"run {ref!r}: expected an id, 'latest' or 'latest~N'")
        if int(text) not in ids:
            raise TrendError(f"{self.path}: no run with id {text}")
        return int(text)

    def measurements(self, run_id: int) -> list[Measurement]:
        """The measurements of one run, in insertion order."""
        rows = self._conn.execute(
            "SELECT test_id, suite, metric, value, unit, fixture, model, threshold, better, "
            "passed FROM measurements WHERE run_id = ? ORDER BY id",
            (run_id,),
        ).fetchall()
        return [
            Measurement(t, s, me, _value(v), u, f, mo, th, b, _opt_bool(p))
            for t, s, me, v, u, f, mo, th, b, p in rows
        ]

    def count_measurements(self) -> int:
        return self._conn.execute("SELECT COUNT(*) FROM measurements").fetchone()[0]

    def series(self, metric: str, fixture: str | None = None) -> list[SeriesPoint]:
        """Every stored value of ``metric`` (optionally of one fixture), oldest run first.

        A name without ``[condition]`` also selects its family: ``delta_thd_pct`` gives
        ``delta_thd_pct`` and every ``delta_thd_pct[...]``.
        """
        sql = (
            "SELECT r.id, r.started_at, r.git_commit, m.test_id, m.suite, m.fixture, m.model, "
            "m.metric, m.value, m.unit, m.threshold, m.passed FROM measurements m "
            "JOIN runs r ON r.id = m.run_id "
            "WHERE (m.metric = ? OR substr(m.metric, 1, length(?) + 1) = ? || '[')"
        )
        params: list[Any] = [metric, metric, metric]
        if fixture is not None:
            sql += " AND m.fixture = ?"
            params.append(fixture)
        rows = self._conn.execute(sql + " ORDER BY r.id, m.id", params).fetchall()
        return [
            SeriesPoint(rid, at, commit, t, s, f, mo, me, _value(v), u, th, _opt_bool(p))
            for rid, at, commit, t, s, f, mo, me, v, u, th, p in rows
        ]

    def export_csv(self, out: IO[str]) -> int:
        """Write every measurement joined with its run as CSV; return the row count."""
        columns = [
            "run_id",
            "started_at",
            "git_commit",
            "git_dirty",
            "host",
            "source",
            "python_version",
            "rust_version",
            "ngspice_version",
            "test_id",
            "suite",
            "fixture",
            "model",
            "metric",
            "value",
            "unit",
            "threshold",
            "better",
            "passed",
        ]
        cur = self._conn.execute(
            "SELECT r.id, r.started_at, r.git_commit, r.git_dirty, r.host, r.source, "
            "r.python_version, r.rust_version, r.ngspice_version, m.test_id, m.suite, m.fixture, "
            "m.model, m.metric, m.value, m.unit, m.threshold, m.better, m.passed "
            "FROM measurements m JOIN runs r ON r.id = m.run_id ORDER BY r.id, m.id"
        )
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        n = 0
        for row in cur:
            writer.writerow(["" if v is None else v for v in row])
            n += 1
        return n

    def history(self, key: tuple, upto_run: int, window: int) -> list[float]:
        """The last ``window`` values of a series key in runs with id <= ``upto_run``."""
        suite, test_id, fixture, model, metric = key
        rows = self._conn.execute(
            "SELECT value FROM measurements WHERE run_id <= ? AND suite = ? AND test_id = ? "
            "AND fixture IS ? AND model IS ? AND metric = ? ORDER BY run_id DESC, id DESC LIMIT ?",
            (upto_run, suite, test_id, fixture, model, metric, window),
        ).fetchall()
        return [_value(v) for (v,) in reversed(rows)]


@dataclass(frozen=True)
class SeriesPoint:
    """One value of a metric series with the run it belongs to."""

    run_id: int
    started_at: str
    git_commit: str | None
    test_id: str
    suite: str
    fixture: str | None
    model: str | None
    metric: str
    value: float
    unit: str
    threshold: float | None
    passed: bool | None


# --- compare ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CompareRule:
    """Parameters of the regression rule (see the module docstring)."""

    window: int = 10
    k: float = 4.0
    rel_floor: float = 0.05
    abs_floor: float = 1e-9

    def __post_init__(self):
        if self.window < 1 or self.k < 0 or self.rel_floor < 0 or self.abs_floor < 0:
            raise TrendError(f"compare rule: window >= 1 and k, floors >= 0 required, got {self}")


#: Normal-consistent scale of the median absolute deviation.
MAD_TO_SIGMA = 1.4826


@dataclass(frozen=True)
class Comparison:
    """The verdict for one series: ``regression``, ``improved``, ``ok``, ``new``,
    ``missing`` (in A, not in B) or ``unjudged`` (direction unknown)."""

    key: tuple
    unit: str
    baseline_median: float
    value: float
    tolerance: float
    n_history: int
    verdict: str
    note: str = ""

    @property
    def label(self) -> str:
        suite, test_id, fixture, model, metric = self.key
        parts = [metric, f"test={test_id}"]
        if fixture:
            parts.append(f"fixture={fixture}")
        if model:
            parts.append(f"model={model}")
        return " ".join(parts)


@dataclass
class CompareResult:
    run_a: int
    run_b: int
    rule: CompareRule
    rows: list[Comparison] = field(default_factory=list)

    @property
    def regressions(self) -> list[Comparison]:
        return [r for r in self.rows if r.verdict == "regression"]


def noise_tolerance(history: Sequence[float], rule: CompareRule) -> tuple[float, float]:
    """(median, tolerance) of a NaN-free history under ``rule``.

    Infinite values (a null of identical signals is -inf dB) are allowed: an infinite median
    has no relative floor, and a value equal to it deviates by 0.
    """
    med = statistics.median(history)
    mad = statistics.median(0.0 if x == med else abs(x - med) for x in history)
    rel = rule.rel_floor * abs(med) if math.isfinite(med) else 0.0
    return med, max(rule.k * MAD_TO_SIGMA * mad, rel, rule.abs_floor)


def _judge(
    m: Measurement, history: list[float], a_passed: bool | None, rule: CompareRule
) -> Comparison:
    finite = [x for x in history if not math.isnan(x)]
    key = m.series_key()
    if not history:
        return Comparison(key, m.unit, math.nan, m.value, math.nan, 0, "new")
    if not finite:
        return Comparison(
            key, m.unit, math.nan, m.value, math.nan, len(history), "ok", "no history but NaN"
        )
    med, tol = noise_tolerance(finite, rule)
    n = len(history)
    if a_passed is True and m.passed is False:
        return Comparison(
            key, m.unit, med, m.value, tol, n, "regression", "gate failed in B, passed in A"
        )
    if math.isnan(m.value):
        return Comparison(key, m.unit, med, m.value, tol, n, "regression", "value is NaN")
    if m.better not in ("lower", "higher"):
        return Comparison(key, m.unit, med, m.value, tol, n, "unjudged", "direction unknown")
    worse_by = (m.value - med) if m.better == "lower" else (med - m.value)
    if worse_by > tol:
        return Comparison(
            key, m.unit, med, m.value, tol, n, "regression", f"worse by {worse_by:.4g}"
        )
    if -worse_by > tol:
        return Comparison(
            key, m.unit, med, m.value, tol, n, "improved", f"better by {-worse_by:.4g}"
        )
    return Comparison(key, m.unit, med, m.value, tol, n, "ok")


def compare(
    store: TrendStore, run_a: str | int, run_b: str | int, rule: CompareRule = CompareRule()
) -> CompareResult:
    """Judge candidate run B against baseline run A and its history (module docstring)."""
    a, b = store.resolve_run(run_a), store.resolve_run(run_b)
    a_rows = {m.series_key(): m for m in store.measurements(a)}
    result = CompareResult(a, b, rule)
    seen = set()
    for m in store.measurements(b):
        key = m.series_key()
        if key in seen:
            continue
        seen.add(key)
        history = store.history(key, a, rule.window)
        a_passed = a_rows[key].passed if key in a_rows else None
        result.rows.append(_judge(m, history, a_passed, rule))
    for key, m in a_rows.items():
        if key not in seen:
            result.rows.append(Comparison(key, m.unit, m.value, math.nan, math.nan, 1, "missing"))
    return result


# --- pytest-benchmark import --------------------------------------------------------------

#: pytest-benchmark ``stats`` fields imported, as (stats key, metric name); all in seconds.
BENCH_STATS = (("median", "time_median"), ("min", "time_min"), ("iqr", "time_iqr"))
#: Numbers a benchmark may put in ``extra_info`` that are imported too, as metric name →
#: (unit, better): the lab's bench tests report per-sample cost and the real-time factor.
BENCH_EXTRA = {
    "ns_per_sample": ("ns", "lower"),
    "realtime_factor": ("x", "higher"),
    "macs_per_sample": ("MAC", "lower"),
}


def _bench_field(path: Path, obj: dict, key: str, kind: type | tuple, where: str) -> Any:
    if not isinstance(obj, dict) or key not in obj:
        raise TrendError(f"{path}: {where}{key}: missing (is this a pytest-benchmark JSON file?)")
    value = obj[key]
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise TrendError(f"{path}: {where}{key}: unexpected value {value!r}")
    return value


def import_benchmark_json(store: TrendStore, path: str | Path) -> int:
    """Import a ``pytest --benchmark-json`` file as one run (source ``benchmark``).

    Each benchmark gives ``time_median``, ``time_min`` and ``time_iqr`` (s, lower is better)
    with test id = its ``fullname``, suite ``bench`` and fixture = its group, plus the
    :data:`BENCH_EXTRA` numbers it has in ``extra_info`` (ns/sample, real-time factor,
    MACs/sample). Commit, dirty flag,
    time, host and Python version come from the file; Rust/ngspice versions from this machine
    only when the file was made on this host (else unknown).
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TrendError(f"{path}: benchmark file not found") from None
    except ValueError as exc:
        raise TrendError(f"{path}: not valid JSON: {exc}") from None
    machine = _bench_field(path, data, "machine_info", dict, "")
    commit = data.get("commit_info") or {}
    started = _bench_field(path, data, "datetime", str, "")
    benches = _bench_field(path, data, "benchmarks", list, "")
    host = _bench_field(path, machine, "node", str, "machine_info.")
    same_host = host == socket.gethostname()
    tools = tool_versions() if same_host else {"rust": None, "ngspice": None}
    try:
        started_at = (
            datetime.fromisoformat(started).astimezone(UTC).replace(microsecond=0).isoformat()
        )
    except ValueError:
        raise TrendError(f"{path}: datetime: not ISO 8601: {started!r}") from None
    info = RunInfo(
        started_at=started_at,
        host=host,
        python_version=_bench_field(path, machine, "python_version", str, "machine_info."),
        git_commit=commit.get("id") or None,
        git_dirty=commit.get("dirty"),
        rust_version=tools["rust"],
        ngspice_version=tools["ngspice"],
        source="benchmark",
    )
    rows = []
    for i, bench in enumerate(benches):
        where = f"benchmarks[{i}]."
        fullname = _bench_field(path, bench, "fullname", str, where)
        stats = _bench_field(path, bench, "stats", dict, where)
        extra = bench.get("extra_info") or {}
        # (source dict, key, metric, unit, better) of every number this benchmark gives.
        fields = [(stats, "stats.", stat, metric, "s", "lower") for stat, metric in BENCH_STATS]
        fields += [(extra, "extra_info.", m, m, unit, better)
                   for m, (unit, better) in BENCH_EXTRA.items() if m in extra]  # fmt: skip
        for source, prefix, key, metric, unit, better in fields:
            value = _bench_field(path, source, key, (int, float), where + prefix)
            rows.append(
                Measurement(
                    test_id=fullname,
                    suite="bench",
                    metric=metric,
                    value=float(value),
                    unit=unit,
                    fixture=bench.get("group"),
                    better=better,
                )
            )
    return store.record_run(info, rows)


# --- text tables and plots ----------------------------------------------------------------


def format_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A plain-text table with left-aligned columns (what the CLI prints)."""
    body = [["" if v is None else str(v) for v in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in body:
        widths = [max(w, len(v)) for w, v in zip(widths, row, strict=True)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += [
        "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in body
    ]
    return "\n".join(lines)


def _short(commit: str | None) -> str:
    return commit[:10] if commit else "-"


def format_runs(runs: Sequence[Run]) -> str:
    """The ``trend list`` table."""
    if not runs:
        return "no runs stored"
    return format_table(
        ["run", "started (UTC)", "commit", "dirty", "source", "host", "values", "failed"],
        [
            (
                r.id,
                r.info.started_at,
                _short(r.info.git_commit),
                {None: "?", True: "yes", False: "no"}[r.info.git_dirty],
                r.info.source,
                r.info.host,
                r.n_measurements,
                r.n_failed,
            )
            for r in runs
        ],
    )


def _series_label(p: SeriesPoint, with_test: bool = True) -> str:
    parts = [p.fixture, p.model, p.metric]
    if with_test:
        parts.append(p.test_id.rsplit("::", 1)[-1])
    return " / ".join(x for x in parts if x)


def _plot_labels(points: Sequence[SeriesPoint]) -> list[str]:
    """Short legend labels (fixture / model / metric), with the test name only where two
    series would otherwise share a label."""
    tests_per_label: dict[str, set[str]] = {}
    for p in points:
        tests_per_label.setdefault(_series_label(p, with_test=False), set()).add(p.test_id)
    return [
        _series_label(p, with_test=len(tests_per_label[_series_label(p, False)]) > 1)
        for p in points
    ]


def format_series(points: Sequence[SeriesPoint]) -> str:
    """The ``trend show`` table."""
    if not points:
        return "no values stored for this metric"
    return format_table(
        ["run", "started (UTC)", "commit", "series", "value", "unit", "threshold", "passed"],
        [
            (
                p.run_id,
                p.started_at,
                _short(p.git_commit),
                label,
                f"{p.value:.6g}",
                p.unit,
                "" if p.threshold is None else f"{p.threshold:g}",
                {None: "", True: "yes", False: "NO"}[p.passed],
            )
            for label, p in zip(_plot_labels(points), points, strict=True)
        ],
    )


def format_comparison(result: CompareResult) -> str:
    """The ``trend compare`` table and a one-line verdict."""
    order = {"regression": 0, "missing": 1, "new": 2, "improved": 3, "unjudged": 4, "ok": 5}
    rows = sorted(result.rows, key=lambda c: (order[c.verdict], c.label))
    table = format_table(
        ["verdict", "series", f"median(A, last {result.rule.window})", "B", "tolerance", "note"],
        [
            (
                c.verdict.upper() if c.verdict == "regression" else c.verdict,
                c.label,
                f"{c.baseline_median:.6g} {c.unit}".rstrip(),
                f"{c.value:.6g} {c.unit}".rstrip(),
                f"{c.tolerance:.3g}",
                c.note,
            )
            for c in rows
        ],
    )
    n_reg = len(result.regressions)
    rule = result.rule
    verdict = (
        f"run {result.run_b} vs run {result.run_a}: {n_reg} regression(s) in {len(rows)} series "
        f"(rule: worse than the median of the last {rule.window} runs by more than "
        f"max({rule.k:g}*1.4826*MAD, {rule.rel_floor:g}*|median|, {rule.abs_floor:g}))"
    )
    return f"{table}\n{verdict}"


def plot_series(points: Sequence[SeriesPoint], path: str | Path, title: str) -> Path:
    """Draw a metric's trend (value per run, one line per series) to a PNG at ``path``.

    Thresholds are dashed lines, failed gates red dots. Infinite values (an exact null is
    −inf dB) are drawn as triangles on the bottom (−inf) or top (+inf) edge of the plot.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    by_label: dict[str, list[SeriesPoint]] = {}
    for label, p in zip(_plot_labels(points), points, strict=True):
        by_label.setdefault(label, []).append(p)
    thresholds = sorted({p.threshold for p in points if p.threshold is not None})
    finite = [p.value for p in points if math.isfinite(p.value)] + thresholds
    lo, hi = (min(finite), max(finite)) if finite else (0.0, 1.0)
    pad = 0.08 * (hi - lo) or 1.0
    edge = {-math.inf: lo - pad, math.inf: hi + pad}
    fig, ax = plt.subplots(figsize=(8, 4), layout="constrained")
    try:
        for label, pts in sorted(by_label.items()):
            runs = [p.run_id for p in pts]
            shown = [edge.get(p.value, p.value) for p in pts]
            (line,) = ax.plot(runs, shown, marker="o", label=label)
            for sign, marker in ((-math.inf, "v"), (math.inf, "^")):
                at = [r for r, p in zip(runs, pts, strict=True) if p.value == sign]
                if at:
                    ax.scatter(
                        at,
                        [edge[sign]] * len(at),
                        marker=marker,
                        s=80,
                        color=line.get_color(),
                        zorder=3,
                    )
            failed = [(r, y) for r, y, p in zip(runs, shown, pts, strict=True) if p.passed is False]
            if failed:
                ax.scatter(*zip(*failed, strict=True), color="red", zorder=4)
        for th in thresholds:
            ax.axhline(th, color="grey", linestyle="--", linewidth=1)
        if any(math.isinf(p.value) for p in points):
            ax.text(0.01, 0.01, "▼ −inf (exact null)   ▲ +inf", transform=ax.transAxes, fontsize=7)
        unit = points[0].unit if points else ""
        ax.set_ylim(lo - 1.5 * pad, hi + 1.5 * pad)
        ax.set_xlabel("run id")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(f"value ({unit})" if unit else "value")
        ax.set_title(title)
        ax.grid(True, alpha=0.3)
        if len(by_label) <= 12:
            ax.legend(fontsize=7)
        fig.savefig(path, dpi=80, metadata={"Software": None})
    finally:
        plt.close(fig)
    return path
