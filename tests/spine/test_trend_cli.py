"""``greybound-lab trend``: list, show (with a plot), compare exit codes, export, import."""

import csv
import io
import json

import pytest

from harness import cli
from harness.trend import Measurement, RunInfo, TrendStore


def _run(i):
    return RunInfo(started_at=f"2026-02-{i + 1:02d}T00:00:00+00:00", host="h", python_version="3")


@pytest.fixture
def db(tmp_path):
    """Five steady runs of two series, then a sixth whose null got 30 dB worse."""
    path = tmp_path / "trend.sqlite"
    with TrendStore(path) as store:
        for i in range(6):
            null = -140.0 + (30.0 if i == 5 else 0.1 * i)
            store.record_run(
                _run(i),
                [
                    Measurement(
                        "t::null",
                        "stages",
                        "null_db",
                        null,
                        "dB",
                        "stages/diode",
                        "runtime",
                        -100.0,
                        "lower",
                        True,
                    ),
                    Measurement(
                        "t::thd",
                        "stages",
                        "thd_pct",
                        1.0 + 0.001 * i,
                        "%",
                        "stages/triode",
                        "runtime",
                        None,
                        "lower",
                        None,
                    ),
                ],
            )
    return path


def _main(*args, db):
    return cli.main([*args, "--trend-db", str(db)])


def test_list_shows_every_run(db, capsys):
    assert _main("trend", "list", db=db) == 0
    out = capsys.readouterr().out
    assert [line.split()[0] for line in out.splitlines()[2:]] == ["1", "2", "3", "4", "5", "6"]


def test_show_prints_the_series_and_draws_it(db, tmp_path, capsys):
    png = tmp_path / "null.png"
    assert (
        _main("trend", "show", "null_db", "--fixture", "stages/diode", "--plot", str(png), db=db)
        == 0
    )
    out = capsys.readouterr().out
    assert "-110" in out and "stages/diode" in out and "stages/triode" not in out
    assert png.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    "run_a, run_b, code",
    [("4", "5", 0), ("latest~1", "latest", 1), ("5", "6", 1), ("1", "99", 2)],
)
def test_compare_exit_codes(db, run_a, run_b, code, capsys):
    assert _main("trend", "compare", run_a, run_b, db=db) == code
    captured = capsys.readouterr()
    if code == 1:
        assert "REGRESSION" in captured.out and "null_db" in captured.out
    if code == 2:
        assert "no run with id 99" in captured.err


def test_compare_floor_options_change_the_verdict(db):
    assert _main("trend", "compare", "5", "6", "--rel-floor", "0.5", db=db) == 0


def test_export_csv_to_file_and_stdout(db, tmp_path, capsys):
    out = tmp_path / "all.csv"
    assert _main("trend", "export", "--csv", str(out), db=db) == 0
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 12
    assert {r["metric"] for r in rows} == {"null_db", "thd_pct"}
    capsys.readouterr()
    assert _main("trend", "export", "--csv", db=db) == 0
    assert list(csv.DictReader(io.StringIO(capsys.readouterr().out))) == rows


def test_import_bench_cli(db, tmp_path, capsys):
    bench = tmp_path / "bench.json"
    bench.write_text(
        json.dumps(
            {
                "machine_info": {"node": "ci", "python_version": "3.11.9"},
                "commit_info": {"id": "abc123", "dirty": False},
                "datetime": "2026-03-01T12:00:00+00:00",
                "benchmarks": [
                    {
                        "fullname": "tests/bench/test_x.py::test_render",
                        "group": "stages",
                        "stats": {"median": 0.002, "min": 0.0019, "iqr": 0.0001},
                    }
                ],
            }
        )
    )
    assert _main("trend", "import-bench", str(bench), db=db) == 0
    assert "as run 7" in capsys.readouterr().out
    with TrendStore(db) as store:
        run = store.runs()[-1]
        assert (run.info.source, run.info.git_commit, run.info.host) == (
            "benchmark",
            "abc123",
            "ci",
        )
        assert {m.metric: m.value for m in store.measurements(7)} == {
            "time_median": 0.002,
            "time_min": 0.0019,
            "time_iqr": 0.0001,
        }
    assert _main("trend", "import-bench", str(tmp_path / "missing.json"), db=db) == 2
