"""``evaluate-integrated-neural-cell`` on a short input: the three renders, the report, and
numbers that can be cross-checked against their definitions."""

import math

import numpy as np
import pytest

from harness.audio import read_wav, write_wav
from harness.cli import main
from harness.errors import InputError
from harness.integration import evaluate_integrated_neural_cell
from harness.metrics.null import esr
from harness.stimuli import di_phrase

FS = 48000


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory):
    out = tmp_path_factory.mktemp("integration")
    wav = write_wav(out / "di.wav", di_phrase(FS, seed=3, duration_s=0.8).signal, FS)
    report = out / "integrated.md"
    assert main(["evaluate-integrated-neural-cell", "--input", str(wav), "--report", str(report),
                 "--cell", "common-cathode-12ax7-table"]) == 0  # fmt: skip
    result = evaluate_integrated_neural_cell(
        input_path=wav, cells=("common-cathode-12ax7-table",), report=report
    )
    return result, report


def test_renders_logs_and_report_are_written(evaluated):
    result, report = evaluated
    folder = report.parent / report.stem
    for name in ("analytic", "common-cathode-12ax7-table.shadow",
                 "common-cathode-12ax7-table.replace"):  # fmt: skip
        assert (folder / f"{name}.wav").is_file()
        assert (folder / f"{name}.monitor.jsonl").is_file()
    text = report.read_text()
    assert "`common-cathode-12ax7-table`" in text and "r_plate 220000 (trained 100000)" in text
    assert result.stage == "input"


def test_shadow_is_the_analytic_audio_and_replace_impact_matches_its_definition(evaluated):
    result, report = evaluated
    (c,) = result.cells
    assert c.shadow_bit_identical
    folder = report.parent / report.stem
    analytic, _ = read_wav(folder / "analytic.wav")
    replace, _ = read_wav(folder / "common-cathode-12ax7-table.replace.wav")
    lag = 47  # the input stage's 2x oversampling latency, gone in replace mode
    assert c.esr == pytest.approx(esr(analytic[lag:], replace[:-lag]), rel=1e-9)
    assert c.esr > 0 and c.null_residual_db < 0 and c.mrstft > 0
    assert 0 < c.thd_analytic < 1 and 0 < c.thd_replace < 1
    assert c.shadow_rms_error_v > 0 and math.isfinite(c.shadow_rms_error_db)


def test_an_input_at_another_rate_is_refused(tmp_path):
    wav = write_wav(tmp_path / "di44.wav", np.zeros(4410), 44100)
    with pytest.raises(InputError, match="44100 Hz differs from the rig's 48000 Hz"):
        evaluate_integrated_neural_cell(input_path=wav, report=tmp_path / "r.md")
