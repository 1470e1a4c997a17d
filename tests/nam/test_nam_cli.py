"""``greybound-lab nam info`` and ``nam render``, run in-process through ``harness.cli.main``."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from harness import nam
from harness.audio import read_wav, write_wav
from harness.cli import main

pytestmark = pytest.mark.nam


def test_info_prints_what_the_file_declares(nam_corpus, capsys):
    path = nam_corpus / "wavenet.nam"
    assert main(["nam", "info", str(path)]) == 0
    shown = json.loads(capsys.readouterr().out)
    doc = json.loads(path.read_text())
    assert shown["architecture"] == "WaveNet"
    assert shown["version"] == doc["version"]
    assert shown["sample_rate"] == 48000.0 and shown["sample_rate_declared"] is True
    assert shown["receptive_field"] == nam.load(path).receptive_field
    assert shown["metadata"] == doc["metadata"]
    assert shown["slim_values"] == [] and shown["submodel"] is None


def test_info_of_a_container_shows_slim_values_and_choice(nam_corpus, capsys):
    assert main(["nam", "info", str(nam_corpus / "A2.nam"), "--slim", "0.2"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["architecture"] == "SlimmableContainer"
    assert shown["slim_values"] == [0.5, 1.0]
    assert (shown["slim"], shown["submodel"]) == (0.2, 0)


def test_info_of_a_missing_file_is_a_one_line_error(tmp_path, capsys):
    assert main(["nam", "info", str(tmp_path / "gone.nam")]) == 2
    err = capsys.readouterr().err
    assert "gone.nam: no such NAM file" in err and "Traceback" not in err


def _input_wav(path, excitation, rate=48000):
    return write_wav(path, excitation[:4800], rate)


def test_render_writes_the_library_render(nam_corpus, tmp_path, excitation, capsys):
    """The WAV written holds exactly ``harness.nam``'s render of the WAV read; twice the
    same command gives the same bytes."""
    model_path = nam_corpus / "A2.nam"
    wav_in = _input_wav(tmp_path / "in.wav", excitation)
    out1, out2 = tmp_path / "out1.wav", tmp_path / "out2.wav"
    for out in (out1, out2):
        args = ["nam", "render", "--model", str(model_path), "--input", str(wav_in)]
        assert main([*args, "--output", str(out), "--slim", "0.1"]) == 0
    assert "wrote" in capsys.readouterr().out
    y, rate = read_wav(out1)
    x, _ = read_wav(wav_in)
    expected = nam.load(model_path, slim=0.1).render(x.astype(np.float32))
    assert rate == 48000
    assert np.array_equal(y.astype(np.float32), expected)
    assert out1.read_bytes() == out2.read_bytes()


def test_render_fast_tanh_flag_reaches_the_runtime(nam_corpus, tmp_path, excitation):
    model_path = nam_corpus / "wavenet.nam"
    wav_in = _input_wav(tmp_path / "in.wav", excitation)
    base = ["nam", "render", "--model", str(model_path), "--input", str(wav_in)]
    assert main([*base, "--output", str(tmp_path / "exact.wav")]) == 0
    assert main([*base, "--output", str(tmp_path / "fast.wav"), "--fast-tanh"]) == 0
    exact, _ = read_wav(tmp_path / "exact.wav")
    fast, _ = read_wav(tmp_path / "fast.wav")
    assert not np.array_equal(exact, fast)


def test_render_refuses_another_sample_rate_unless_asked(nam_corpus, tmp_path, excitation, capsys):
    model_path = nam_corpus / "wavenet.nam"
    wav_in = _input_wav(tmp_path / "in44.wav", excitation, rate=44100)
    args = ["nam", "render", "--model", str(model_path), "--input", str(wav_in),
            "--output", str(tmp_path / "out.wav")]  # fmt: skip
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "44100 Hz differs from the model's 48000 Hz" in err and "--resample" in err
    assert not (tmp_path / "out.wav").exists()
    assert main([*args, "--resample"]) == 0
    assert "scipy.signal.resample_poly" in capsys.readouterr().out
    y, rate = read_wav(tmp_path / "out.wav")
    assert rate == 48000 and y.size == math.ceil(4800 * 48000 / 44100)  # resample_poly length


def test_render_with_an_unsupported_model_is_a_one_line_error(nam_corpus, tmp_path, capsys):
    doc = json.loads((nam_corpus / "wavenet.nam").read_text())
    doc["architecture"] = "Transformer"
    bad = tmp_path / "transformer.nam"
    bad.write_text(json.dumps(doc))
    wav_in = write_wav(tmp_path / "in.wav", np.zeros(480), 48000)
    args = ["nam", "render", "--model", str(bad), "--input", str(wav_in),
            "--output", str(tmp_path / "out.wav")]  # fmt: skip
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "transformer.nam" in err and "architecture" in err and "Traceback" not in err
