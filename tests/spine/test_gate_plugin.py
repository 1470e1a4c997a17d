"""The ``gate`` fixture and the trend flush, run in inner pytest sessions (pytester)."""

import pytest

from harness.trend import REPO_ROOT, TrendStore

PLUGIN = ("-p", "harness.pytest_plugin")


@pytest.fixture(autouse=True)
def _only_our_plugin(monkeypatch):
    """Inner sessions load no third-party plugin unless asked (``-p xdist``): faster runs."""
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")


GATE_TESTS = """
import pytest

def test_quiet_enough(gate):
    gate.fixture, gate.model = "stages/triode", "runtime"
    gate.check("null_db", -130.5, -100.0, better="lower", unit="dB",
               reason="float32 rounding floor")

def test_too_loud(gate):
    gate.check("null_db", -42.25, -100.0, better="lower", unit="dB",
               reason="float32 rounding floor", plot="plots/null.png",
               fixture="stages/diode", model="runtime")

def test_loud_enough(gate):
    gate.check("snr_db", 96.0, 90.0, better="higher", unit="dB", reason="AES17 dynamic range")
"""


def _rows(db):
    with TrendStore(db) as store:
        runs = store.runs()
        return runs, [m for r in runs for m in store.measurements(r.id)]


def test_passing_and_failing_gates_are_recorded(pytester, tmp_path):
    pytester.makepyfile(test_levels=GATE_TESTS)
    db = tmp_path / "trend.sqlite"
    result = pytester.runpytest(*PLUGIN, f"--trend-db={db}")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*3 gate checks, 1 failed*", f"*recorded as run 1 in {db}*"])
    runs, rows = _rows(db)
    assert len(runs) == 1 and runs[0].n_failed == 1
    by_test = {m.test_id.split("::")[-1]: m for m in rows}
    quiet = by_test["test_quiet_enough"]
    assert (quiet.suite, quiet.fixture, quiet.model, quiet.metric) == (
        "levels",
        "stages/triode",
        "runtime",
        "null_db",
    )
    assert (quiet.value, quiet.unit, quiet.threshold, quiet.passed) == (-130.5, "dB", -100.0, True)
    loud = by_test["test_too_loud"]
    assert (loud.fixture, loud.value, loud.passed, loud.better) == (
        "stages/diode",
        -42.25,
        False,
        "lower",
    )
    assert by_test["test_loud_enough"].passed is True


def test_failure_message_carries_the_evidence(pytester, tmp_path):
    pytester.makepyfile(test_levels=GATE_TESTS)
    result = pytester.runpytest(*PLUGIN, "--no-trend", "-k", "too_loud")
    result.assert_outcomes(failed=1)
    plot = pytester.path / "plots" / "null.png"
    result.stdout.fnmatch_lines(
        [
            "*GateFailure: gate failed: null_db = -42.25 dB; "
            "threshold <= -100 dB (lower is better)",
            "*reason:  float32 rounding floor (basis: acceptance)",
            f"*plot:    {plot}",
            "*test:    test_levels.py::test_too_loud",
            "*suite:   levels; fixture: stages/diode; model: runtime",
        ]
    )
    result.stdout.fnmatch_lines(["*not recorded (--no-trend)*"])


def test_threshold_from_a_gate_file_and_a_lazy_plot(pytester, tmp_path):
    gates = pytester.mkdir("gates")
    (gates / "demo.json5").write_text(
        """{schema: 1, suite: "demo", defaults: {thd_pct: {limit: 1.0, better: "lower",
           unit: "%", basis: "acceptance", reason: "clean channel stays under 1 %"}}}"""
    )
    pytester.makepyfile(
        test_thd="""
        from harness.gates import threshold_for

        def draw(path):
            path.write_bytes(b"png")

        def test_thd(gate):
            th = threshold_for("demo", "thd_pct[-6 dBFS]", gates_dir="gates")
            gate.check("thd_pct[-20 dBFS]", 0.5, th, plot=draw)
            gate.check("thd_pct[-6 dBFS]", 3.5, th, plot=draw)
        """
    )
    plots = tmp_path / "plots"
    result = pytester.runpytest(*PLUGIN, "--no-trend", f"--gate-plot-dir={plots}")
    result.assert_outcomes(failed=1)
    drawn = sorted(p.name for p in plots.rglob("*.png"))
    assert drawn == ["thd_pct_-6_dBFS.png"]  # the passing check drew nothing
    result.stdout.fnmatch_lines(
        [
            "*gate failed: thd_pct[[]-6 dBFS] = 3.5 %; threshold <= 1 % (lower is better)",
            "*reason:  clean channel stays under 1 % (basis: acceptance; demo.json5: "
            "defaults.thd_pct)",
            f"*plot:    {plots}*thd_pct_-6_dBFS.png",
        ]
    )


@pytest.mark.parametrize(
    "call, error",
    [
        ('gate.check("m", 1.0, 2.0, better="lower", unit="dB", reason="")', "written reason"),
        ('gate.check("m", 1.0, 2.0, better="less", reason="r")', "better must be one of"),
        ('gate.check("m", "1", 2.0, better="lower", reason="r")', "must be a real number"),
    ],
)
def test_misused_gate_is_an_error_not_a_pass(pytester, call, error):
    pytester.makepyfile(f"def test_x(gate):\n    {call}\n")
    result = pytester.runpytest(*PLUGIN, "--no-trend")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"*{error}*"])


def test_no_trend_writes_nothing_and_env_sets_the_default(pytester, tmp_path, monkeypatch):
    pytester.makepyfile(test_levels=GATE_TESTS)
    env_db = tmp_path / "env" / "trend.sqlite"
    monkeypatch.setenv("GREYBOUND_TREND_DB", str(env_db))
    pytester.runpytest(*PLUGIN, "--no-trend").assert_outcomes(passed=2, failed=1)
    assert not env_db.exists()
    pytester.runpytest(*PLUGIN).assert_outcomes(passed=2, failed=1)
    runs, rows = _rows(env_db)
    assert len(runs) == 1 and len(rows) == 3


def test_xdist_workers_make_one_run_with_every_row(pytester, tmp_path, monkeypatch):
    """Under ``-n 2`` the controller gathers both workers' rows into one run."""
    monkeypatch.setenv("PYTHONPATH", str(REPO_ROOT))
    pytester.makepyfile(
        test_many="""
        import pytest

        @pytest.mark.parametrize("i", range(12))
        def test_gate(gate, i):
            gate.check("v", float(i), 100.0, better="lower", unit="V", reason="bound")
        """
    )
    db = tmp_path / "trend.sqlite"
    result = pytester.runpytest_subprocess(*PLUGIN, "-p", "xdist", "-n", "2", f"--trend-db={db}")
    result.assert_outcomes(passed=12)
    runs, rows = _rows(db)
    assert len(runs) == 1
    assert sorted(m.value for m in rows) == [float(i) for i in range(12)]
    result.stdout.fnmatch_lines(["*2 workers*"])
