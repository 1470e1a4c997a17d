"""Monitored rig renders: the monitor log parses with ``harness.metrics.monitor`` and counts
what happened; a neural cell in shadow mode leaves the audio bit-identical and reports the
cell's error exactly; replace mode feeds the cell on."""

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest

from harness.audio import read_wav, write_wav
from harness.cli import main
from harness.errors import InputError
from harness.metrics.monitor import monitor_health
from harness.rigs import (
    GOLDEN_CELLS_DIR,
    NeuralBinding,
    RigChain,
    load_rig,
    render,
    render_monitored,
)
from harness.runtime import NeuralCell, Stage
from harness.stimuli import di_phrase, sine

FS = 48000
MLP = GOLDEN_CELLS_DIR / "common-cathode-12ax7-mlp"


@pytest.fixture(scope="module")
def rig():
    return load_rig("nox30")


@pytest.fixture(scope="module")
def phrase() -> np.ndarray:
    return di_phrase(FS, duration_s=0.6).signal.astype(np.float32)


@pytest.fixture(scope="module")
def plain(rig, phrase) -> np.ndarray:
    return RigChain(rig).process(phrase)


def _binding(mode: str, artifact: Path = MLP, stage: str = "input") -> NeuralBinding:
    return NeuralBinding(stage, artifact, mode)


def test_monitored_and_shadow_renders_are_bit_identical_to_the_plain_render(rig, phrase, plain):
    y, _ = render_monitored(RigChain(rig), phrase)
    assert np.array_equal(y, plain)
    y, records = render_monitored(RigChain(rig), phrase, neural=(_binding("shadow"),))
    assert np.array_equal(y, plain)
    assert records[-1]["neural_cells"][0]["mode"] == "shadow"


def test_replace_mode_feeds_the_cell_output_on(rig, phrase, plain):
    chain = RigChain(rig)
    y, records = render_monitored(chain, phrase, neural=(_binding("replace"),))
    assert not np.allclose(y, plain, atol=1e-3)
    # The cell has no latency: the replaced stage's (2x oversampling filters) drops out.
    assert records[-1]["latency_samples"] == chain.latency_samples - chain.stages[0].latency_samples
    # The analytic stage was not run: no probe from it.
    assert "input" not in records[0]["stages"]


def test_shadow_error_equals_the_offline_comparison(rig, phrase):
    """Block statistics must add up to the error of the cell alone against the stage alone,
    the cell delayed by the stage's latency (the summary's RMS error in V)."""
    _, records = render_monitored(RigChain(rig), phrase, neural=(_binding("shadow"),))
    params = rig.stage_params()[0]
    stage = Stage("triode_common_cathode", FS, oversample=2, **params)
    reference = stage.process(phrase).astype(np.float64)
    controls = {k: params.get(k, stage.params[k])
                for k in ("b_plus", "load_impedance", "source_impedance")}  # fmt: skip
    cell = NeuralCell(MLP, FS, **controls).process(phrase).astype(np.float64)
    lag = stage.latency_samples
    err = reference - np.concatenate([np.zeros(lag), cell[:-lag]])
    summary = records[-1]["neural_cells"][0]
    assert summary["rms_error_v"] == pytest.approx(math.sqrt(np.mean(err**2)), rel=1e-9)
    assert summary["peak_error_v"] == pytest.approx(np.max(np.abs(err)), rel=1e-6)
    assert summary["rms_error_db"] == pytest.approx(
        20 * math.log10(np.sqrt(np.mean(err**2)) / np.sqrt(np.mean(reference**2))), abs=1e-6
    )
    # The rig's input stage runs at B+ 280 V, above the cell's training range (225-275 V).
    assert summary["controls"]["b_plus"] == 280.0
    assert summary["controls_clamped"] == {"b_plus": [225.0, 275.0]}
    per_block = [r["shadow"][0]["rms_error_v"] for r in records[:-1]]
    assert len(per_block) == math.ceil(phrase.size / 256)


def test_log_parses_with_the_monitor_metrics_and_counts_clipping(tmp_path, rig):
    quiet = sine(FS, 1000.0, -60.0, 0.3).signal.astype(np.float32)
    loud = sine(FS, 1000.0, 0.0, 0.3).signal.astype(np.float32)
    healths = {}
    # The Nox30 is calibrated so that full power stays below 0 dBFS; the loud case uses the
    # same rig 20 dB hotter at the output (a user's mis-set output gain) so that it clips.
    hot = dataclasses.replace(rig, output_gain_db=rig.output_gain_db + 20.0)
    for name, x, r in (("quiet", quiet, rig), ("loud", loud, hot)):
        _, records = render_monitored(RigChain(r), x)
        path = tmp_path / f"{name}.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in records))
        healths[name] = monitor_health(path)
    quiet_h, loud_h = healths["quiet"], healths["loud"]
    for h, x in ((quiet_h, quiet), (loud_h, loud)):
        assert h.n_samples == x.size
        assert h.n_records == math.ceil(x.size / 256)
        assert h.summary["record"] == "summary" and h.summary["n_samples"] == x.size
        assert h.nonfinite_count == 0 and h.denormal_count == 0
        assert {"cpu_ns", "budget_ns", "xrun", "b_plus_min_v", "stages"} <= set(h.ignored_fields)
    # 1 mV into the Nox30 stays far below full scale; 1 V into the hot rig goes past it.
    assert quiet_h.clip_count == 0 and quiet_h.healthy
    assert loud_h.clip_count > 0 and loud_h.near_clip_count >= loud_h.clip_count
    assert not loud_h.healthy
    # The loud note draws current: B+ sags below where the quiet render kept it.
    assert loud_h.summary["b_plus_min_v"] < quiet_h.summary["b_plus_min_v"] - 1.0
    cpu = loud_h.summary["cpu"]
    assert cpu["budget_ns"] == pytest.approx(256 / FS * 1e9)
    assert 0 <= cpu["xruns"] <= loud_h.n_records and cpu["real_time_factor"] > 0


def test_render_command_writes_wav_and_monitor_log(tmp_path, phrase, plain):
    wav_in = write_wav(tmp_path / "di.wav", phrase, FS)
    out, log = tmp_path / "out.wav", tmp_path / "monitor.jsonl"
    argv = ["render", "--rig", "nox30", "--input", str(wav_in), "--output", str(out),
            "--monitor-log", str(log), "--neural-cell", "input=common-cathode-12ax7-mlp",
            "--neural-cell-mode", "shadow"]  # fmt: skip
    assert main(argv) == 0
    y, rate = read_wav(out)
    assert rate == FS and np.array_equal(y.astype(np.float32), plain)
    health = monitor_health(log)
    assert health.summary["neural_cells"][0]["cell"] == "common-cathode-12ax7-mlp"
    assert main([*argv[:-1], "replace"]) == 0
    assert not np.allclose(read_wav(out)[0], plain, atol=1e-3)


@pytest.mark.parametrize(
    ("neural_cell", "message"),
    [
        (("input", "no-such-cell"), r"no-such-cell: no neural-cell artifact"),
        (("preamp", str(MLP)), r"unknown stage 'preamp'"),
        (("tone", str(MLP)), r"control 'b_plus' has no parameter .* stage 'tone'"),
    ],
)
def test_bad_neural_bindings_are_named(tmp_path, phrase, neural_cell, message):
    wav_in = write_wav(tmp_path / "di.wav", phrase[:1024], FS)
    with pytest.raises(InputError, match=message):
        render("nox30", wav_in, tmp_path / "o.wav", neural_cell=neural_cell)


def test_bad_neural_cell_argument_is_an_error(tmp_path, capsys):
    assert main(["render", "--rig", "nox30", "--input", "x.wav", "--output", "y.wav",
                 "--neural-cell", "input"]) == 2  # fmt: skip
    assert "expected STAGE=ARTIFACT" in capsys.readouterr().err


def test_table_misses_are_logged_per_block_and_summed(rig, phrase):
    """At the Nox30's levels almost every sample is solved by the tables (measured: 6 of
    28,800 samples through six tabulated stages fall back to Newton — split-solve steps that did
    not settle in 6 iterations); a gain stage whose tables were explored to 10 mV misses on
    most of the phrase, and the summary's total is the sum of the blocks'."""
    _, records = render_monitored(RigChain(rig), phrase)
    usual = records[-1]["table_misses"]
    assert usual <= 1e-3 * len(phrase)
    narrow = dataclasses.replace(
        rig, stages=tuple(
            dataclasses.replace(s, params={**s.params, "table_peak": 0.01})
            if s.name == "gain" else s for s in rig.stages
        ),
    )  # fmt: skip
    _, records = render_monitored(RigChain(narrow), phrase)
    blocks = [r for r in records if r.get("record") != "summary"]
    assert records[-1]["table_misses"] > 100 * max(usual, 1)
    assert records[-1]["table_misses"] == sum(r["table_misses"] for r in blocks)
