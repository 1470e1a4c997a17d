"""IR files: the sample-rate policy (error naming the file, or explicit resampling), the
channel policy, and clear errors for empty, NaN, silent or broken files."""

import numpy as np
import pytest
import soundfile as sf

from harness.audio import write_wav
from harness.cabs import SYNTHETIC_2X12_OPEN, load_ir_convolver, read_ir
from harness.errors import InputError


def test_the_fixture_reads_at_its_rate_and_a_mismatch_names_the_file():
    ir = read_ir(SYNTHETIC_2X12_OPEN, 48000)
    assert ir.dtype == np.float64 and ir.ndim == 1 and ir.size == 9600
    with pytest.raises(InputError, match=r"synthetic-2x12-open\.wav: the IR is at 48000 Hz, "
                       r"the host runs at 44100 Hz"):  # fmt: skip
        read_ir(SYNTHETIC_2X12_OPEN, 44100)


@pytest.mark.parametrize("rate", [44100, 96000])
def test_resampling_keeps_the_frequency_response(rate):
    """resample_poly keeps the band below 0.45·min(rate) (Kaiser β = 5 anti-alias filter);
    the gain scaling by file_rate/rate keeps the level. ±0.1 dB at 100 Hz – 4 kHz."""
    ir48 = read_ir(SYNTHETIC_2X12_OPEN, 48000)
    ir = read_ir(SYNTHETIC_2X12_OPEN, rate, resample=True)
    assert abs(ir.size - round(9600 * rate / 48000)) <= 1
    freqs = np.array([100.0, 300.0, 1000.0, 2500.0, 4000.0])

    def response_db(h, fs):
        n = np.arange(h.size)
        return 20 * np.log10(np.abs(np.exp(-2j * np.pi * np.outer(freqs, n) / fs) @ h))

    np.testing.assert_allclose(response_db(ir, rate), response_db(ir48, 48000), atol=0.1)


def test_stereo_needs_a_channel_policy(tmp_path):
    path = tmp_path / "stereo.wav"
    write_wav(path, np.stack([np.r_[1.0, 0.5, 0.25], np.r_[0.5, 0.0, 0.0]], axis=1), 48000)
    with pytest.raises(InputError, match=r"stereo\.wav: has 2 channels; a cab IR is mono"):
        read_ir(path, 48000)
    np.testing.assert_array_equal(read_ir(path, 48000, channels="left"), [1.0, 0.5, 0.25])
    np.testing.assert_array_equal(read_ir(path, 48000, channels="right"), [0.5, 0.0, 0.0])
    np.testing.assert_array_equal(read_ir(path, 48000, channels="mean"), [0.75, 0.25, 0.125])
    with pytest.raises(InputError, match="channels='middle'"):
        read_ir(path, 48000, channels="middle")


def test_nan_empty_silent_missing_and_garbage_files_are_named(tmp_path):
    nan = tmp_path / "nan.wav"
    sf.write(nan, np.array([1.0, np.nan, 0.0]), 48000, subtype="FLOAT")
    with pytest.raises(InputError, match=r"nan\.wav: non-finite sample at index 1"):
        read_ir(nan, 48000)
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros(0), 48000, subtype="FLOAT")
    with pytest.raises(InputError, match=r"empty\.wav: holds no samples"):
        read_ir(empty, 48000)
    silent = tmp_path / "silent.wav"
    write_wav(silent, np.zeros(100), 48000)
    with pytest.raises(InputError, match=r"silent\.wav: the IR is silent"):
        read_ir(silent, 48000)
    with pytest.raises(InputError, match=r"missing\.wav: no such WAV file"):
        read_ir(tmp_path / "missing.wav", 48000)
    garbage = tmp_path / "garbage.wav"
    garbage.write_bytes(b"RIFF not really a wav")
    with pytest.raises(InputError, match=r"garbage\.wav: cannot read as audio"):
        read_ir(garbage, 48000)


def test_load_ir_convolver_builds_a_runtime_convolver():
    conv = load_ir_convolver(SYNTHETIC_2X12_OPEN, 48000)
    assert conv.ir_len == 9600 and conv.latency_samples == 0
