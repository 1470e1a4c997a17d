"""The synthetic 2×12 open-back cabinet IR: the committed fixture is what the command
makes (byte for byte), and its response has the features the recipe promises."""

import hashlib
import json

import numpy as np
import pytest

from harness.cabs import SYNTHETIC_2X12_OPEN, CabRecipe, make_cab_ir, read_ir, synthesize_cab_ir
from harness.cli import main

FS = 48000
SIDECAR = SYNTHETIC_2X12_OPEN.with_suffix(".json")


@pytest.fixture(scope="module")
def response_db():
    """Magnitude response (dB re its maximum) of the committed IR on a 0.18 Hz grid."""
    ir = read_ir(SYNTHETIC_2X12_OPEN, FS)
    spectrum = np.abs(np.fft.rfft(ir, 1 << 18))
    freqs = np.fft.rfftfreq(1 << 18, 1 / FS)
    return freqs, 20 * np.log10(np.maximum(spectrum / spectrum.max(), 1e-12))


def _level(response, lo, hi, how=np.max):
    freqs, db = response
    return float(how(db[(freqs >= lo) & (freqs <= hi)]))


def test_the_command_regenerates_the_committed_fixture_byte_for_byte(tmp_path, capsys):
    out = tmp_path / "synthetic-2x12-open.wav"
    assert main(["make-cab-ir", "--output", str(out)]) == 0
    assert "9600 samples at 48000 Hz" in capsys.readouterr().out
    assert out.read_bytes() == SYNTHETIC_2X12_OPEN.read_bytes()
    fresh = json.loads(out.with_suffix(".json").read_text())
    committed = json.loads(SIDECAR.read_text())
    assert committed["command"] == (
        "greybound-lab make-cab-ir --output fixtures/cabs/synthetic-2x12-open.wav"
    )
    fresh.pop("command"), committed.pop("command")
    assert fresh == committed
    assert committed["sha256"] == hashlib.sha256(SYNTHETIC_2X12_OPEN.read_bytes()).hexdigest()
    assert SYNTHETIC_2X12_OPEN.stat().st_size < 100_000


def test_another_rate_and_seed_give_another_ir(tmp_path):
    sidecar = make_cab_ir(tmp_path / "cab96.wav", 96000)
    assert sidecar["samples"] == 19200 and sidecar["command"].endswith("--sample-rate 96000")
    assert not np.array_equal(synthesize_cab_ir(CabRecipe(seed=1)), synthesize_cab_ir())


def test_the_speaker_resonance_is_a_peak_near_90_to_110_hz(response_db):
    freqs, db = response_db
    band = (freqs >= 60) & (freqs <= 150)
    peak_hz = float(freqs[band][np.argmax(db[band])])
    assert 90 <= peak_hz <= 110, peak_hz
    peak = _level(response_db, 60, 150)
    # A resonance, not a shelf: clearly above the open-back roll-off below it and the
    # dip above it (measured: 13.2 dB above 60 Hz, 2.8 dB above the 120-150 Hz minimum).
    assert peak - _level(response_db, 59, 61) >= 10
    assert peak - _level(response_db, 120, 150, np.min) >= 2


def test_open_back_cancellation_and_the_steep_top_end_roll_off(response_db):
    presence = _level(response_db, 1800, 4200)  # cone break-up region
    assert presence >= -3  # the break-up peaks are (nearly) the loudest band
    assert _level(response_db, 30, 31) <= -30  # 18 dB/octave below the resonance
    # Above ~5.5 kHz the 6th-order roll-off (36 dB/octave): measured, the loudest bin above
    # 6 / 8 / 10 kHz is −13 / −30 / −45 dB re the maximum.
    assert _level(response_db, 6000, 24000) <= presence - 8
    assert _level(response_db, 8000, 24000) <= presence - 25
    assert _level(response_db, 10000, 24000) <= presence - 40


def test_minimum_phase_and_a_decaying_tail():
    ir = read_ir(SYNTHETIC_2X12_OPEN, FS)
    # Robinson's energy-delay theorem: of all causal sequences with this magnitude response
    # the minimum-phase one has the most energy in every prefix — in particular more than
    # its time reversal (same magnitude).
    energy = np.cumsum(ir**2)
    reversed_energy = np.cumsum(ir[::-1] ** 2)
    assert np.all(energy >= reversed_energy - 1e-12 * energy[-1])
    assert np.argmax(np.abs(ir)) < 48  # the peak within 1 ms
    envelope_db = [
        20 * np.log10(np.max(np.abs(ir[int(t * FS) : int(t * FS) + 480])) / np.max(np.abs(ir)))
        for t in (0.01, 0.05, 0.1, 0.15)
    ]
    # Box modes ring on (−40 dB at 10 ms, still above −100 dB at 100 ms) and die away.
    assert np.all(np.diff(envelope_db) < 0)
    assert envelope_db[0] > -50 and envelope_db[2] > -100 and envelope_db[3] < -90
