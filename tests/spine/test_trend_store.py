"""The trend store: migrations, parallel writers, the regression rule, benchmark import."""

import multiprocessing
import sqlite3

import numpy as np
import pytest

from harness import trend
from harness.trend import (
    CompareRule,
    Measurement,
    RunInfo,
    TrendError,
    TrendStore,
    compare,
    import_benchmark_json,
)

INFO = RunInfo(started_at="2026-01-01T00:00:00+00:00", host="h", python_version="3.11.0")


def _m(metric="null_db", value=-120.0, test_id="t::a", better="lower", passed=True, **kw):
    return Measurement(
        test_id=test_id,
        suite="s",
        metric=metric,
        value=value,
        unit="dB",
        better=better,
        threshold=-100.0,
        passed=passed,
        **kw,
    )


def test_new_store_is_at_the_latest_schema_in_wal_mode(tmp_path):
    with TrendStore(tmp_path / "t.sqlite") as store:
        run = store.record_run(INFO, [_m(fixture="f", model="m"), _m(value=float("nan"))])
        assert store.measurements(run)[0] == _m(fixture="f", model="m")
        assert store.measurements(run)[1].value != store.measurements(run)[1].value  # NaN back
    conn = sqlite3.connect(tmp_path / "t.sqlite")
    assert conn.execute("PRAGMA user_version").fetchone()[0] == trend.SCHEMA_VERSION
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_migration_from_version_1_keeps_rows(tmp_path):
    path = tmp_path / "old.sqlite"
    conn = trend.connect(path)
    assert trend.migrate(conn, target=1) == 1
    conn.execute(
        "INSERT INTO runs (git_commit, git_dirty, started_at, host, python_version) "
        "VALUES ('abc', 0, '2025-01-01T00:00:00+00:00', 'old', '3.11.0')"
    )
    conn.execute(
        "INSERT INTO measurements (run_id, test_id, suite, metric, value, unit, threshold, passed)"
        " VALUES (1, 't::a', 's', 'null_db', -130.0, 'dB', -100.0, 1)"
    )
    conn.close()
    with TrendStore(path) as store:
        (run,) = store.runs()
        assert (run.id, run.info.git_commit, run.info.source, run.n_measurements) == (
            1,
            "abc",
            "pytest",
            1,
        )
        (m,) = store.measurements(1)
        assert (m.value, m.better, m.passed) == (-130.0, None, True)
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == 2


def test_a_newer_schema_is_refused(tmp_path):
    path = tmp_path / "new.sqlite"
    sqlite3.connect(path).execute(f"PRAGMA user_version = {trend.SCHEMA_VERSION + 1}")
    with pytest.raises(TrendError, match="newer than this lab"):
        TrendStore(path)


def test_garbage_file_is_a_clear_error(tmp_path):
    path = tmp_path / "junk.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(TrendError, match=str(path)):
        TrendStore(path)


N_WRITERS, RUNS_EACH, ROWS_EACH = 4, 15, 40


def _writer(path, writer, start):
    start.wait()
    with TrendStore(path) as store:
        for r in range(RUNS_EACH):
            rows = [_m(value=float(i), test_id=f"w{writer}::r{r}") for i in range(ROWS_EACH)]
            store.record_run(INFO, rows)


def test_parallel_writers_lose_no_row(tmp_path):
    """Several processes open a new file and write at once; every run and row arrives."""
    path = tmp_path / "shared.sqlite"
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Event()
    procs = [ctx.Process(target=_writer, args=(path, w, start)) for w in range(N_WRITERS)]
    for p in procs:
        p.start()
    start.set()
    for p in procs:
        p.join(timeout=120)
    assert [p.exitcode for p in procs] == [0] * N_WRITERS
    with TrendStore(path) as store:
        runs = store.runs()
        assert len(runs) == N_WRITERS * RUNS_EACH
        assert store.count_measurements() == N_WRITERS * RUNS_EACH * ROWS_EACH
        assert all(r.n_measurements == ROWS_EACH for r in runs)


def _store_with_history(path, history, candidate, better="lower", passed=None):
    store = TrendStore(path)
    for v in history:
        store.record_run(INFO, [_m(value=v, better=better)])
    store.record_run(INFO, [_m(value=candidate, better=better, passed=passed)])
    return store


HISTORY = [-120.0, -120.5, -119.5, -120.2, -119.8]  # median -120, MAD 0.2 -> sigma 0.2965


@pytest.mark.parametrize(
    "candidate, better, verdict",
    [
        (-119.0, "lower", "ok"),  # 1 dB worse; tolerance max(4*0.2965, 0.05*120) = 6 dB
        (-113.0, "lower", "regression"),  # 7 dB worse
        (-127.0, "lower", "improved"),
        (-127.0, "higher", "regression"),
        (float("nan"), "lower", "regression"),
        (-200.0, None, "unjudged"),
    ],
)
def test_compare_verdicts(tmp_path, candidate, better, verdict):
    with _store_with_history(tmp_path / "c.sqlite", HISTORY, candidate, better) as store:
        result = compare(store, "latest~1", "latest")
        (row,) = result.rows
        assert row.verdict == verdict
        assert row.baseline_median == pytest.approx(-120.0)


def test_compare_tolerance_follows_the_noise(tmp_path):
    """Same 7-unit step: a regression on a quiet series, not on a noisy one."""
    rule = CompareRule(k=4.0, rel_floor=0.0, abs_floor=1e-9)
    quiet = [100.0, 100.5, 99.5, 100.2, 99.8]
    noisy = [100.0, 110.0, 90.0, 104.0, 96.0]  # MAD 4 -> tolerance 4*1.4826*4 = 23.7
    with _store_with_history(tmp_path / "q.sqlite", quiet, 107.0) as store:
        assert compare(store, "latest~1", "latest", rule).rows[0].verdict == "regression"
    with _store_with_history(tmp_path / "n.sqlite", noisy, 107.0) as store:
        assert compare(store, "latest~1", "latest", rule).rows[0].verdict == "ok"


def test_compare_window_limits_the_history(tmp_path):
    history = [0.0] * 5 + [50.0] * 3  # old runs at 0, recent runs at 50
    with _store_with_history(tmp_path / "w.sqlite", history, 52.0) as store:
        assert compare(store, 8, 9, CompareRule(window=3)).rows[0].verdict == "ok"
        assert compare(store, 8, 9, CompareRule(window=8)).rows[0].verdict == "regression"


def test_compare_flags_a_gate_that_started_failing(tmp_path):
    with _store_with_history(tmp_path / "g.sqlite", HISTORY, -120.0, passed=False) as store:
        (row,) = compare(store, "latest~1", "latest").rows
        assert (row.verdict, row.note) == ("regression", "gate failed in B, passed in A")


def test_compare_reports_new_and_missing_series(tmp_path):
    with TrendStore(tmp_path / "nm.sqlite") as store:
        a = store.record_run(INFO, [_m(metric="old")])
        b = store.record_run(INFO, [_m(metric="new")])
        verdicts = {r.key[-1]: r.verdict for r in compare(store, a, b).rows}
        assert verdicts == {"new": "new", "old": "missing"}


@pytest.mark.parametrize("ref", ["99", "latest~5", "last", "latest~x"])
def test_unknown_run_references_are_errors(tmp_path, ref):
    with TrendStore(tmp_path / "r.sqlite") as store:
        store.record_run(INFO, [_m()])
        with pytest.raises(TrendError, match="run"):
            store.resolve_run(ref)


def test_pytest_benchmark_json_imports_as_a_benchmark_run(pytester, tmp_path, monkeypatch):
    """A real pytest-benchmark JSON file, written by pytest-benchmark itself."""
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)  # else benchmarks are disabled
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.benchmark(group="sums")
        @pytest.mark.parametrize("n", [10, 100])
        def test_sum(benchmark, n):
            benchmark(sum, range(n))
            if n == 100:
                benchmark.extra_info.update({"ns_per_sample": 12.5, "realtime_factor": 80.0,
                                             "note": "not a number: not imported"})
        """
    )
    out = tmp_path / "bench.json"
    result = pytester.runpytest(
        "-p",
        "no:xdist",
        f"--benchmark-json={out}",
        "--benchmark-max-time=0.001",
        "--benchmark-min-rounds=3",
        "--benchmark-warmup=off",
    )
    result.assert_outcomes(passed=2)
    with TrendStore(tmp_path / "b.sqlite") as store:
        run = import_benchmark_json(store, out)
        (stored,) = store.runs()
        assert (stored.id, stored.info.source, stored.n_measurements) == (run, "benchmark", 8)
        rows = store.measurements(run)
        times = [r for r in rows if r.metric.startswith("time_")]
        assert {r.metric for r in times} == {"time_median", "time_min", "time_iqr"}
        assert {r.fixture for r in rows} == {"sums"}
        assert all(r.unit == "s" and r.better == "lower" and r.value >= 0 for r in times)
        assert any(r.test_id.endswith("test_sum[100]") for r in rows)
        extra = {(r.metric, r.unit, r.better, r.value) for r in rows if r not in times}
        assert extra == {
            ("ns_per_sample", "ns", "lower", 12.5),
            ("realtime_factor", "x", "higher", 80.0),
        }


def test_malformed_benchmark_json_names_the_field(tmp_path):
    path = tmp_path / "b.json"
    path.write_text(
        '{"machine_info": {"node": "h", "python_version": "3"}, '
        '"datetime": "2026-01-01T00:00:00", "benchmarks": [{"fullname": "x"}]}'
    )
    with TrendStore(tmp_path / "b.sqlite") as store:
        with pytest.raises(TrendError, match=r"b\.json: benchmarks\[0\]\.stats: missing"):
            import_benchmark_json(store, path)
        assert store.runs() == []


@pytest.mark.parametrize(
    "history, candidate, verdict",
    [
        ([-np.inf] * 3, -np.inf, "ok"),  # identical renders stay identical
        ([-np.inf] * 3, -150.0, "regression"),  # exact null lost
        ([-130.0] * 3, -np.inf, "improved"),
    ],
)
def test_compare_handles_infinite_nulls(tmp_path, history, candidate, verdict):
    with _store_with_history(tmp_path / "inf.sqlite", history, candidate) as store:
        assert compare(store, "latest~1", "latest").rows[0].verdict == verdict


def test_series_selects_a_metric_family(tmp_path):
    with TrendStore(tmp_path / "f.sqlite") as store:
        store.record_run(INFO, [_m(metric=m) for m in ("thd[a]", "thd[b]", "thd", "thd_x[a]")])
        assert sorted(p.metric for p in store.series("thd")) == ["thd", "thd[a]", "thd[b]"]
        assert [p.metric for p in store.series("thd[a]")] == ["thd[a]"]
