"""`greybound-lab demo` renders every demo stage on every demo stimulus and summarizes."""

import numpy as np

from harness.audio import read_wav
from harness.cli import main
from harness.demo import DEMO_STAGES, LISTEN_PEAK_DBFS, demo_stimuli


def test_demo_writes_normalized_wavs_and_a_summary(tmp_path, capsys):
    assert main(["demo", "--output-dir", str(tmp_path)]) == 0
    assert str(tmp_path / "demo.md") in capsys.readouterr().out
    summary = (tmp_path / "demo.md").read_text()
    names = [s.name for s in demo_stimuli()]
    for stage in DEMO_STAGES:
        for name in names:
            wav = tmp_path / "demo" / f"{stage.name}__{name}.wav"
            assert f"demo/{wav.name}" in summary
            y, rate = read_wav(wav)
            assert rate == 48000
            # −1 dBFS peak, up to float32 rounding of the stored samples (1e-6 dB).
            assert abs(20 * np.log10(np.max(np.abs(y))) - LISTEN_PEAK_DBFS) < 1e-5
