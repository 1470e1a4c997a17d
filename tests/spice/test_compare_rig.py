"""The Nox30 rig's leading stages against the SPICE chain reference ``nox30-preamp``."""

import pytest

from harness.errors import InputError
from harness.rigs import load_rig
from harness.spice.cell import load_cell
from harness.spice.compare_rig import (
    StimulusSpec,
    cell_parameters,
    compare_rig_with_spice,
    truncate_rig,
)

#: Shorter than the CLI's default stimuli (1.0 s of audio through ngspice instead of 1.2 s).
SHORT = StimulusSpec(
    levels_dbfs=(-40.0, -30.0, -20.0, -6.0), step_s=0.08, settle_s=0.04, sweep_seconds=0.2
)


@pytest.fixture(scope="module")
def comparison():
    """The rig as shipped and at 1x against SPICE on the short stimuli (15 s alone)."""
    return compare_rig_with_spice("nox30", "nox30-preamp", oversample=(None, 1), stimuli=SHORT)


def test_truncate_rig_keeps_the_leading_stages_and_their_knobs():
    rig = truncate_rig(load_rig("nox30"), "tone")
    assert [s.name for s in rig.stages] == ["input", "volume", "gain", "follower", "tone"]
    assert [k.name for k in rig.knobs] == ["volume", "treble", "bass"]
    assert rig.output_gain_db == 0.0 and rig.cab_ir is None
    assert "master" not in rig.channels["normal"]
    with pytest.raises(InputError, match="no stage 'preamp'"):
        truncate_rig(load_rig("nox30"), "preamp")


def test_rig_knobs_become_the_cells_pot_fractions():
    cell = load_cell("nox30-preamp")
    rig = truncate_rig(load_rig("nox30"), "tone")
    params = cell_parameters(cell, rig, {"volume": 8.0, "treble": 2.0})
    assert params["volume"] == pytest.approx(0.8)
    assert params["treble"] == pytest.approx(0.2)
    assert params["bass"] == pytest.approx(0.5)  # the rig's default, 5 of 10


@pytest.mark.spice
@pytest.mark.slow  # ngspice on 1 s of audio: 15 s alone, ~50 s in the -n 2 suite
def test_rig_tracks_the_spice_chain(comparison):
    print("\n" + comparison.format_markdown())
    for config in comparison.configs:
        for r in config.stimuli:
            where = f"{config.label}/{r.stimulus}"
            # Level: the rig's gain stage drives a 1 MΩ stand-in for the follower's grid,
            # so its plate load is 220k || 1M = 180k instead of 220k: -0.97 dB by the
            # textbook gain formula (rp 62k, unbypassed (mu+1)·Rk = 182k). Measured
            # -0.61/-0.73/+0.69 dB (stepped sine / DI / sweep, where clipping evens levels).
            assert abs(r.level_diff_db) < 1.5, where
            # ESR measured 0.029..0.085 as shipped, 0.113 on the sweep at 1x (the top octave
            # is where the 1x stages warp the Miller pole and lack CCG/CJO).
            assert r.esr < 0.2, where
            # Gain-matched null: measured -11.4..-21.9 dB (worst: the sweep's top octave).
            assert r.null_residual_db < -8.0, where
    stepped = comparison.config("as shipped").result("level_stepped_sine")
    levels = [t.level_dbfs for t in stepped.thd]
    assert levels == sorted(levels)
    for t in stepped.thd:
        # THD at 1 kHz: measured within 0.3 dB when clean (-40/-30 dBFS) and within 2.9 dB
        # when driven (the operating points differ: the rig's follower sits at a 160 V
        # grid_bias, the real V1b plate at 148 V), so 1 dB / 4 dB.
        bound = 1.0 if t.level_dbfs <= -30 else 4.0
        assert abs(t.rig_thd_db - t.spice_thd_db) < bound, t
    # Both get dirtier with level (volume up -> more THD, the acceptance direction).
    for side in ("spice_thd_db", "rig_thd_db"):
        thds = [getattr(t, side) for t in stepped.thd]
        assert all(b > a for a, b in zip(thds, thds[1:], strict=False)), (side, thds)


@pytest.mark.spice
@pytest.mark.slow  # ngspice on 1 s of audio: 15 s alone, ~50 s in the -n 2 suite
def test_cli_writes_the_report(comparison, tmp_path, monkeypatch, capsys):
    """The command's wiring (arguments in, report and summary out) on the comparison the
    module already simulated, so ngspice runs once for the file."""
    from harness.cli import main
    from harness.spice import compare_rig

    calls = []

    def fake(rig, fixture, **kwargs):
        calls.append((rig, fixture, kwargs))
        return comparison

    monkeypatch.setattr(compare_rig, "compare_rig_with_spice", fake)
    report = tmp_path / "nox30-vs-spice.md"
    argv = ["compare-rig-spice", "--knob", "volume=7", "--oversample", "rig",
            "--oversample", "2", "--report", str(report)]  # fmt: skip
    assert main(argv) == 0
    assert calls == [("nox30", "nox30-preamp", {"knobs": {"volume": 7.0}, "oversample": (None, 2)})]
    text = report.read_text()
    assert text == comparison.format_markdown() + "\n"
    assert "| di_phrase |" in text and "| exp_sweep |" in text and "THD vs level" in text
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"report: {report}"
    assert len(out) == 1 + 2 * 3  # two rig configurations x three stimuli
