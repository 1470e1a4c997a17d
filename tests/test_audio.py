"""harness.audio: level conventions, WAV round trips, reproducible bytes, clear errors."""

import math
import struct

import numpy as np
import pytest
import soundfile as sf

from harness import audio
from harness.errors import InputError, LabError


def test_full_scale_is_one_volt_peak():
    assert audio.FULL_SCALE_VOLTS == 1.0
    assert audio.dbfs_to_volts(0.0) == 1.0
    assert audio.dbfs_to_volts(-20.0) == pytest.approx(0.1, rel=1e-15)
    assert audio.volts_to_dbfs(0.5) == pytest.approx(-6.0206, abs=1e-4)
    assert audio.volts_to_dbfs(0.0) == -math.inf


@pytest.mark.parametrize("level", [-60.0, -6.0, 0.0, 3.5])
def test_dbfs_volts_round_trip(level):
    assert audio.volts_to_dbfs(audio.dbfs_to_volts(level)) == pytest.approx(level, abs=1e-12)


def test_dbu_reference():
    # 0 dBu = sqrt(0.6) V RMS (1 mW in 600 ohm); +4 dBu sine = 1.228 V RMS = 1.736 V peak.
    assert audio.dbu_to_volts(0.0) == pytest.approx(0.774597, rel=1e-6)
    peak = audio.dbu_to_volts(4.0) * math.sqrt(2.0)
    assert peak == pytest.approx(1.7362, rel=1e-4)
    assert audio.volts_to_dbfs(peak) == pytest.approx(4.79, abs=0.01)


def test_volts_to_dbfs_rejects_negative():
    with pytest.raises(InputError, match="peak voltage"):
        audio.volts_to_dbfs(-1.0)


@pytest.mark.parametrize(
    "subtype,tolerance", [("FLOAT", 2**-24), ("DOUBLE", 0.0), ("PCM_24", 2**-23)]
)
def test_wav_round_trip(tmp_path, subtype, tolerance):
    # Tolerance = the subtype's quantization step relative to full scale.
    x = 0.9 * np.sin(2 * np.pi * 997 * np.arange(4800) / 48000)
    path = audio.write_wav(tmp_path / "x.wav", x, 48000, subtype=subtype)
    y, rate = audio.read_wav(path)
    assert rate == 48000 and y.dtype == np.float64 and y.shape == x.shape
    assert np.max(np.abs(y - x)) <= tolerance


def test_write_is_byte_identical_and_peak_timestamp_zeroed(tmp_path):
    x = np.linspace(-0.5, 0.5, 1000)
    a = audio.write_wav(tmp_path / "a.wav", x, 48000).read_bytes()
    b = audio.write_wav(tmp_path / "b.wav", x, 48000).read_bytes()
    assert a == b
    # libsndfile writes time(NULL) into the PEAK chunk; write_wav must zero it.
    pos = a.index(b"PEAK")
    (timestamp,) = struct.unpack_from("<I", a, pos + 12)
    assert timestamp == 0


def test_read_rejects_multichannel_unless_allowed(tmp_path):
    path = tmp_path / "stereo.wav"
    sf.write(path, np.zeros((100, 2)), 48000, subtype="FLOAT")
    with pytest.raises(InputError, match="2 channels"):
        audio.read_wav(path)
    data, _ = audio.read_wav(path, allow_multichannel=True)
    assert data.shape == (100, 2)


def test_read_errors_name_the_file(tmp_path):
    with pytest.raises(InputError, match="no such WAV"):
        audio.read_wav(tmp_path / "missing.wav")
    bogus = tmp_path / "bogus.wav"
    bogus.write_bytes(b"not a wav at all")
    with pytest.raises(InputError, match="bogus.wav"):
        audio.read_wav(bogus)
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros(0), 48000, subtype="FLOAT")
    with pytest.raises(InputError, match="no samples"):
        audio.read_wav(empty)


def test_read_rejects_nan_samples(tmp_path):
    path = tmp_path / "nan.wav"
    x = np.zeros(10)
    x[7] = np.nan
    sf.write(path, x, 48000, subtype="FLOAT")
    with pytest.raises(InputError, match="index 7"):
        audio.read_wav(path)


@pytest.mark.parametrize(
    "x,rate,subtype,match",
    [
        (np.zeros(0), 48000, "FLOAT", "non-empty"),
        (np.zeros((2, 2, 2)), 48000, "FLOAT", "1-D or 2-D"),
        (np.array([0.0, np.inf]), 48000, "FLOAT", "index 1"),
        (np.zeros(4), 44100.5, "FLOAT", "positive integer"),
        (np.zeros(4), 0, "FLOAT", "positive integer"),
        (np.array([0.5, 1.5]), 48000, "PCM_16", "would clip"),
        (np.zeros(4), 48000, "NOT_A_SUBTYPE", "unknown WAV subtype"),
        (np.array(["a", "b"]), 48000, "FLOAT", "real numbers"),
    ],
)
def test_write_rejects_bad_input(tmp_path, x, rate, subtype, match):
    with pytest.raises(InputError, match=match):
        audio.write_wav(tmp_path / "bad.wav", x, rate, subtype=subtype)


def test_write_to_missing_directory_is_a_lab_error(tmp_path):
    with pytest.raises(LabError, match="cannot write"):
        audio.write_wav(tmp_path / "no" / "such" / "dir.wav", np.zeros(4), 48000)


def test_require_sample_rate():
    audio.require_sample_rate(48000, 48000.0, "render")
    with pytest.raises(InputError, match="render: sample rate is 44100 Hz, expected 48000 Hz"):
        audio.require_sample_rate(44100, 48000, "render")


def test_check_finite_names_first_bad_index():
    audio.check_finite(np.arange(5.0), "ok")
    x = np.ones(10)
    x[3] = np.inf
    x[8] = np.nan
    with pytest.raises(InputError, match=r"x: non-finite sample at index 3 .*2 non-finite"):
        audio.check_finite(x, "x")
