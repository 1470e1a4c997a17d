"""harness.metrics.aliasing: signal-to-aliasing ratio, proven on clippers and known spectra."""

import math

import numpy as np
import pytest
from scipy import signal as sps

from harness.errors import InputError
from harness.metrics.aliasing import aliasing_sweep, signal_to_aliasing_db

from ._signals import FS, sine


def _hard_clip(x: np.ndarray) -> np.ndarray:
    return np.clip(x, -0.5, 0.5)


@pytest.mark.parametrize("f0", [1001, 2093, 3951])
def test_naive_hard_clipper_aliases_more_than_8x_oversampled(f0):
    x = sine(f0, 1.5, amplitude=0.9)
    naive = _hard_clip(x)
    # The same clipper run at 8x: polyphase Kaiser interpolation up, clip, decimate down.
    oversampled = sps.resample_poly(_hard_clip(sps.resample_poly(x, 8, 1)), 1, 8)
    sar_naive = signal_to_aliasing_db(naive, FS, f0)
    sar_os = signal_to_aliasing_db(oversampled, FS, f0)
    # Measured 21–37 dB better. Even the harmonics folded at 8x sit ~8x higher in frequency
    # (a clipper's harmonics fall ~1/n) and the decimator removes what lands above 24 kHz.
    assert sar_os > sar_naive + 15.0
    assert sar_naive < 60.0  # a naive hard clipper at 48 kHz is audibly aliased


@pytest.mark.parametrize("phase", [0.0, 0.3, 1.0, math.pi / 2])
def test_pure_sine_reads_the_window_ceiling(phase):
    # No harmonic, no alias: only window sidelobes leak off the grid. −120 dB sidelobes over
    # ~24000 off-grid bins: ceiling ~80 dB (measured 79.6–104 dB with phase); −200 dB: ~160.
    x = sine(1001.0, 1.0, 0.5, phase=phase)
    assert signal_to_aliasing_db(x, FS, 1001) > 79.0
    assert signal_to_aliasing_db(x, FS, 1001, window_attenuation_db=200.0) > 155.0


def test_known_off_grid_tone_gives_its_power_ratio():
    # A tone at 1234 Hz (off the 1001 Hz grid) 40 dB below the fundamental: SAR = 40 dB,
    # plus the sidelobe leakage of each (~80 dB down, i.e. 1e-4 dB on the result).
    y = sine(1001.0, 1.0) + sine(1234.0, 1.0, 0.01) + sine(2002.0, 1.0, 0.1)
    expected = 10 * math.log10((1 + 0.01) / 1e-4)  # H1² + H2² over the alias²
    assert signal_to_aliasing_db(y, FS, 1001) == pytest.approx(expected, abs=0.001)


def test_analysis_uses_the_last_second_by_default():
    y = np.concatenate([np.random.default_rng(0).standard_normal(FS // 2), sine(1001.0, 1.0)])
    assert signal_to_aliasing_db(y, FS, 1001) > 79.0  # the noisy start is skipped
    assert signal_to_aliasing_db(y, FS, 1001, start=0) < 30.0


def test_aliasing_sweep_over_midi_notes():
    notes = [21, 45, 69, 93, 108]
    clean = aliasing_sweep(lambda x: 0.5 * x, FS, midi_notes=notes)
    np.testing.assert_array_equal(clean.midi_notes, notes)
    np.testing.assert_array_equal(clean.f0_hz, [28, 110, 440, 1760, 4186])
    assert clean.worst_db > 79.0  # the window ceiling: nothing aliases
    clipped = aliasing_sweep(_hard_clip, FS, midi_notes=notes, level_dbfs=0.0)
    # Higher notes put more harmonics above Nyquist: the aliasing gets worse up the keyboard.
    assert clipped.sar_db[-1] < clipped.sar_db[0]
    assert clipped.worst_db == clipped.sar_db.min() < 40.0


def test_sweep_moves_notes_off_divisors_of_the_rate():
    # At 44 kHz, A4 = 440 Hz divides the rate (aliases would land on harmonics): 441 Hz.
    result = aliasing_sweep(lambda x: x, 44000, midi_notes=[69])
    assert result.f0_hz.tolist() == [441]


BAD = [
    (lambda: signal_to_aliasing_db(sine(1001.0, 1.0), FS, 1001.5), "integer"),
    (lambda: signal_to_aliasing_db(sine(1000.0, 1.0), FS, 1000), "divides"),
    (lambda: signal_to_aliasing_db(sine(1001.0, 1.0), FS, 30001), "Nyquist"),
    (lambda: signal_to_aliasing_db(sine(1001.0, 0.5), FS, 1001), f"at least {FS}"),
    (lambda: signal_to_aliasing_db(np.zeros(0), FS, 1001), "empty"),
    (lambda: signal_to_aliasing_db(np.r_[sine(1001.0, 1.0), np.nan], FS, 1001), f"index {FS}"),
    (lambda: signal_to_aliasing_db(sine(1001.0, 1.0), 48000.5, 1001), "integer sample rate"),
    (lambda: signal_to_aliasing_db(sine(1001.0, 1.0), FS, 1001, start=10), "less than 1 s"),
    (lambda: signal_to_aliasing_db(np.zeros(FS), FS, 1001), "no energy"),
    (
        lambda: signal_to_aliasing_db(sine(1001.0, 1.0), FS, 1001, window_attenuation_db=10),
        "attenuation",
    ),
    (lambda: aliasing_sweep(lambda x: x[:-1], FS, midi_notes=[69]), "shape"),
    (lambda: aliasing_sweep("not callable", FS), "callable"),
    (lambda: aliasing_sweep(lambda x: x, FS, midi_notes=[]), "no MIDI"),
    (lambda: aliasing_sweep(lambda x: x * np.nan, FS, midi_notes=[69]), "index 0"),
]


@pytest.mark.parametrize("call,message", BAD)
def test_bad_input_is_rejected_clearly(call, message):
    with pytest.raises(InputError, match=message):
        call()
