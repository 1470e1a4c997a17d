"""harness.metrics.monitor: render health from monitor records and JSON-lines logs."""

import json
import math

import numpy as np
import pytest

from harness.errors import InputError
from harness.metrics.monitor import block_records, monitor_health, read_monitor_log


def _signal_with_known_events() -> np.ndarray:
    x = 0.5 * np.sin(2 * np.pi * np.arange(4096) / 64)
    x[100] = 1.0  # clip (>= full scale)
    x[101] = -1.2  # clip
    x[700] = 0.95  # near-clip only (> −1 dBFS = 0.891)
    x[1500] = np.nan
    x[2500] = np.inf
    x[3000] = 1e-310  # float64 subnormal
    return x


def test_block_records_count_every_event():
    records = block_records(_signal_with_known_events(), "preamp", block_size=512)
    assert len(records) == 8
    health = monitor_health(records)
    assert health.n_records == 8 and health.n_samples == 4096
    assert health.clip_count == 2
    assert health.near_clip_count == 3  # the two clips are near-clips too, plus 0.95
    assert health.nonfinite_count == 2
    assert health.denormal_count == 1
    assert health.rail_excursions == 0
    assert health.near_clip_blocks == 2  # blocks 0 and 1 (the NaN/Inf blocks have no finite peak)
    assert health.peak_dbfs == pytest.approx(20 * math.log10(1.2))
    assert not health.healthy
    assert set(health.stages) == {"preamp"}


def test_clean_signal_is_healthy_and_rails_are_counted():
    x = 0.5 * np.sin(2 * np.pi * np.arange(2048) / 64)
    health = monitor_health(block_records(x, "amp"))
    assert health.healthy and health.clip_count == 0 and health.near_clip_blocks == 0
    assert health.peak_dbfs == pytest.approx(20 * math.log10(0.5), abs=1e-9)
    railed = monitor_health(block_records(x, "amp", rails_volts=(-0.4, 0.4)))
    assert railed.rail_excursions == int(np.count_nonzero(np.abs(x) > 0.4))
    assert not railed.healthy


def test_health_from_a_jsonl_log_with_stages_and_extra_fields(tmp_path):
    records = block_records(np.full(1024, 0.2), "tone_stack", block_size=256)
    records += [
        {"stage": "power_amp", "n_samples": 256, "peak": 0.99, "clip_count": 0, "cpu_us": 12}
    ]
    path = tmp_path / "render.monitor.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n\n")
    assert read_monitor_log(path) == records
    health = monitor_health(path)
    assert health.n_records == 5
    assert health.stages["power_amp"].near_clip_blocks == 1
    assert health.stages["tone_stack"].peak_dbfs == pytest.approx(20 * math.log10(0.2))
    assert health.ignored_fields == ("cpu_us",)
    assert health.healthy  # near-clip is a warning, not a failure


def test_non_finite_peak_without_counts_is_still_an_event():
    health = monitor_health([{"stage": "x", "n_samples": 64, "peak": float("nan")}])
    assert health.nonfinite_count == 1 and not health.healthy


BAD_RECORDS = [
    ([], "no records"),
    ([{"n_samples": 1, "peak": 0.1}], r"record\[0\]: missing required field 'stage'"),
    ([{"stage": "a", "peak": 0.1}], "'n_samples'"),
    ([{"stage": "a", "n_samples": 1}], "'peak'"),
    ([{"stage": "", "n_samples": 1, "peak": 0.1}], "non-empty string"),
    ([{"stage": "a", "n_samples": -1, "peak": 0.1}], "integer >= 0"),
    ([{"stage": "a", "n_samples": 1, "peak": "loud"}], "must be a number"),
    ([{"stage": "a", "n_samples": 1, "peak": -0.5}], ">= 0"),
    ([{"stage": "a", "n_samples": 1, "peak": 0.1, "clip_count": 1.5}], "'clip_count'"),
    ([{"stage": "a", "n_samples": 1, "peak": 0.1, "nan_count": True}], "'nan_count'"),
    (["not a dict"], "expected a dict"),
    (42, "expected a list"),
]


@pytest.mark.parametrize("log,message", BAD_RECORDS)
def test_bad_records_are_rejected_naming_record_and_field(log, message):
    with pytest.raises(InputError, match=message):
        monitor_health(log)


def test_bad_log_files_name_file_and_line(tmp_path):
    with pytest.raises(InputError, match="no such monitor log"):
        monitor_health(tmp_path / "missing.jsonl")
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"stage": "a", "n_samples": 1, "peak": 0.1}\n{oops\n')
    with pytest.raises(InputError, match=r"broken.jsonl:2: not valid JSON"):
        monitor_health(broken)
    listy = tmp_path / "list.jsonl"
    listy.write_text("[1, 2]\n")
    with pytest.raises(InputError, match=r"list.jsonl:1: expected a JSON object"):
        read_monitor_log(listy)
    missing = tmp_path / "missing_field.jsonl"
    missing.write_text('{"stage": "a", "n_samples": 1}\n')
    with pytest.raises(
        InputError, match=r"missing_field.jsonl:record 0: missing required field 'peak'"
    ):
        monitor_health(missing)


@pytest.mark.parametrize(
    "x,kwargs,message",
    [
        (np.zeros(0), {}, "non-empty 1-D float"),
        (np.zeros((2, 2)), {}, "non-empty 1-D float"),
        (np.zeros(4, dtype=int), {}, "non-empty 1-D float"),
        (np.zeros(4), {"block_size": 0}, "block_size"),
    ],
)
def test_block_records_rejects_bad_input(x, kwargs, message):
    with pytest.raises(InputError, match=message):
        block_records(x, "stage", **kwargs)
    with pytest.raises(InputError, match="stage name"):
        block_records(np.zeros(4), "")
