"""compare-nam end to end: the Nox30 rig against its own committed capture passes the gate;
the rig at other knob settings fails it (through the CLI, exit code 1); report files and
trend rows are written. Rendered by ``harness.nam`` (the Rust runtime)."""

from __future__ import annotations

import dataclasses
import json
import sqlite3

import pytest

from harness import cli
from harness.errors import InputError
from harness.nam_capture import NAM_REFS_DIR
from harness.nam_compare import compare_nam
from harness.trend import TrendStore

pytestmark = pytest.mark.nam

CAPTURE = NAM_REFS_DIR / "nox30-top_boost-v5.nam"
HOT = NAM_REFS_DIR / "nox30-hot-v8.nam"


@pytest.fixture(scope="module")
def own(tmp_path_factory):
    """The rig at the captured setting (top_boost, volume 5, defaults) vs its capture."""
    d = tmp_path_factory.mktemp("compare-nam")
    result = compare_nam(
        "nox30",
        CAPTURE,
        knobs={"volume": 5.0},
        channel="top_boost",
        stimuli="quick",
        report_dir=d / "report",
        trend_db=d / "trend.sqlite",
    )
    return result, d


def test_the_rig_against_its_own_capture_passes_every_gate_family(own):
    result, _ = own
    failed = [
        f"{g.metric} = {g.value:.4g} (limit {g.limit:g}: {g.reason})"
        for g in result.gate
        if not g.passed
    ]
    assert result.passed, "; ".join(failed)
    families = {g.metric.partition("[")[0] for g in result.gate}
    assert {
        "esr",
        "esr_pre_emphasis",
        "null_residual_db",
        "mrstft",
        "log_mel_db",
        "thd_delta_db",
        "imd_delta_db",
        "transient_envelope_error_db",
        "band_residual_db",
    } <= families
    # The capture was trained with the rig's latency removed: the model should sit on the
    # rig's time grid, within a sample (a trained WaveNet has no exact delay).
    assert abs(result.delay_samples) < 1.0
    assert not [w for w in result.warnings if "settings differ" in w]


def test_the_report_states_settings_and_is_written(own):
    result, d = own
    md = (d / "report" / "report.md").read_text()
    html = (d / "report" / "report.html").read_text()
    for text in (md, html):
        assert "knobs bass 5, cut 3, master 7, treble 5, volume 5" in text
        assert "not ground truth for other settings" in text
        assert "Verdict: PASS" in text
    assert (d / "report" / "plots" / "thd_vs_level.png").stat().st_size > 0
    saved = json.loads((d / "report" / "result.json").read_text())
    assert saved["passed"] is True
    assert saved["delay_integer"] + saved["delay_fraction"] == pytest.approx(saved["delay_samples"])


def test_trend_rows_are_named_by_rig_nam_and_settings(own):
    result, d = own
    with TrendStore(d / "trend.sqlite") as store:
        run = store.run_ids()[-1]
        rows = store.measurements(run)
    assert {r.metric for r in rows} == {g.metric for g in result.gate}
    assert all(r.suite == "nam" and r.model == "nox30-top_boost-v5" for r in rows)
    assert all(
        "volume=5" in r.test_id and r.test_id.startswith("compare-nam::nox30::") for r in rows
    )
    assert all(r.passed for r in rows)


def test_the_cli_fails_the_gate_for_other_knob_settings(tmp_path, capsys):
    """The rig at volume 8 against the volume-5 capture: the capture is not ground truth for
    that setting; the gate must fail and the command must exit non-zero."""
    code = cli.main(
        [
            "compare-nam",
            "--rig",
            "nox30",
            "--knob",
            "volume=8",
            "--channel",
            "top_boost",
            "--nam",
            str(CAPTURE),
            "--stimulus-set",
            "quick",
            "--report",
            str(tmp_path / "r"),
            "--trend-db",
            str(tmp_path / "t.sqlite"),
        ]
    )
    out = capsys.readouterr().out
    assert code == 1, out
    assert "verdict: FAIL" in out
    assert "settings differ from the capture's (volume: capture 5, rig 8)" in out
    assert (tmp_path / "r" / "report.html").is_file()
    with sqlite3.connect(tmp_path / "t.sqlite") as conn:
        failed = conn.execute("SELECT COUNT(*) FROM measurements WHERE passed = 0").fetchone()[0]
    assert failed >= 1


def test_cab_state_must_match_the_capture(tmp_path):
    """A capture that includes a cab against a cab-less rig render is refused, naming the
    sidecar key; --cab on for a rig without an IR is refused naming the rig."""
    from harness.nam_sidecar import read_sidecar, sidecar_path, write_sidecar

    copy = tmp_path / CAPTURE.name
    copy.write_bytes(CAPTURE.read_bytes())
    sc = read_sidecar(sidecar_path(CAPTURE))
    with_cab = dataclasses.replace(
        sc, path=sidecar_path(copy), capture=dataclasses.replace(sc.capture, includes_cab=True)
    )
    write_sidecar(with_cab)
    with pytest.raises(InputError, match="capture.includes_cab is true but --cab off"):
        compare_nam("nox30", copy, cab="off", record_trend=False)
    with pytest.raises(InputError, match="has no cab_ir"):
        compare_nam("nox30", CAPTURE, cab="on", record_trend=False)


def test_calibrated_policy_needs_the_sidecar(tmp_path):
    lonely = tmp_path / "lonely.nam"
    lonely.write_bytes(CAPTURE.read_bytes())
    with pytest.raises(InputError, match="lonely.capture.json5: missing capture sidecar"):
        compare_nam("nox30", lonely, level_policy="calibrated", record_trend=False)


@pytest.mark.slow
def test_the_rig_against_a_capture_of_another_channel_fails(tmp_path):
    """The hot/volume-8 capture against the rig at top_boost/volume 5 (standard set)."""
    result = compare_nam(
        "nox30",
        HOT,
        knobs={"volume": 5.0},
        channel="top_boost",
        stimuli="standard",
        record_trend=False,
    )
    assert not result.passed
    assert any("channel: capture 'hot', rig 'top_boost'" in w for w in result.warnings)
