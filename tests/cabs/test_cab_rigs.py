"""A rig's cab IR renders through the runtime convolver: the same as convolving the
cab-less render with the IR, streaming, excluded or required on request, rate-checked."""

from pathlib import Path

import json5
import numpy as np
import pytest
from scipy.signal import fftconvolve

from harness.audio import read_wav, write_wav
from harness.cabs import SYNTHETIC_2X12_OPEN, read_ir
from harness.cli import main
from harness.errors import InputError
from harness.rigs import RIGS_DIR, RigChain, load_rig, render

FS = 48000


def _rig_file(tmp_path: Path, cab_ir) -> Path:
    raw = json5.loads((RIGS_DIR / "nox30.rig.json5").read_text())
    raw["cab_ir"] = cab_ir
    path = tmp_path / "nox30-cab.rig.json5"
    path.write_text(json5.dumps(raw))
    return path


@pytest.fixture(scope="module")
def cab_rig(tmp_path_factory):
    return load_rig(_rig_file(tmp_path_factory.mktemp("rig"), str(SYNTHETIC_2X12_OPEN)))


@pytest.fixture(scope="module")
def note():
    """A 0.3 V, 220 Hz note, 0.25 s."""
    t = np.arange(FS // 4) / FS
    return (0.3 * np.sin(2 * np.pi * 220.0 * t) * np.exp(-4 * t)).astype(np.float32)


def test_the_cab_is_the_runtime_convolution_of_the_cabless_render(cab_rig, note):
    with_cab = RigChain(cab_rig, {"volume": 7})
    without = RigChain(cab_rig, {"volume": 7}, cab=False)
    assert without.cab is None and with_cab.cab.ir_len == 9600
    y = with_cab.process(note)
    dry = without.process(note)
    reference = fftconvolve(dry.astype(np.float64), read_ir(SYNTHETIC_2X12_OPEN, FS))[: dry.size]
    # float32 in and out of the convolver (see tests/cabs/test_cab_convolver.py).
    assert np.max(np.abs(y - reference)) <= 1e-6 * np.max(np.abs(reference))
    assert with_cab.latency_samples == without.latency_samples
    assert with_cab.tail_samples == without.tail_samples + 9600


def test_a_null_cab_ir_is_no_cab_and_cab_true_then_fails(tmp_path, note):
    rig = load_rig(_rig_file(tmp_path, None))
    assert rig.cab_ir is None and RigChain(rig).cab is None
    np.testing.assert_array_equal(
        RigChain(rig).process(note), RigChain(load_rig("nox30")).process(note)
    )
    with pytest.raises(InputError, match="cab requested but the rig has no cab_ir"):
        RigChain(rig, cab=True)


def test_rendering_in_pieces_equals_one_call_with_the_cab(cab_rig, note):
    chain = RigChain(cab_rig)
    whole = chain.process(note)
    chain.reset()
    pieces = np.concatenate([chain.process(note[a : a + 1000]) for a in range(0, note.size, 1000)])
    np.testing.assert_array_equal(pieces, whole)


def test_a_cab_at_another_rate_names_the_rig_and_the_ir(cab_rig):
    with pytest.raises(InputError) as err:
        RigChain(cab_rig, sample_rate=44100)
    message = str(err.value)
    assert "nox30-cab.rig.json5: cab_ir:" in message
    assert "synthetic-2x12-open.wav: the IR is at 48000 Hz, the host runs at 44100 Hz" in message


def test_render_writes_the_cab_render(tmp_path, cab_rig, note):
    write_wav(tmp_path / "in.wav", note, FS)
    render(cab_rig.path, tmp_path / "in.wav", tmp_path / "out.wav")
    y, rate = read_wav(tmp_path / "out.wav")
    assert rate == FS
    np.testing.assert_allclose(y, RigChain(cab_rig).process(note), rtol=0, atol=0)


def test_render_cli_switches_the_cab_on_and_off(tmp_path):
    """`greybound-lab render --cab off` equals a render of the same rig without cab_ir; a
    rig without a cab refuses `--cab on`."""

    root = Path(__file__).resolve().parents[2]
    rig = json5.loads((root / "fixtures/rigs/nox30.rig.json5").read_text())
    rig["cab_ir"] = str(root / "fixtures/cabs/synthetic-2x12-open.wav")
    with_cab = tmp_path / "with-cab.rig.json5"
    with_cab.write_text(json5.dumps(rig))
    x = (0.2 * np.sin(2 * np.pi * 220 * np.arange(4800) / 48000)).astype(np.float32)
    wav = write_wav(tmp_path / "in.wav", x, 48000)
    outs = {}
    for flag in ("on", "off"):
        out = tmp_path / f"{flag}.wav"
        argv = ["render", "--rig", str(with_cab), "--input", str(wav), "--output", str(out)]
        assert main([*argv, "--cab", flag]) == 0
        outs[flag] = read_wav(out)[0]
    plain = tmp_path / "plain.wav"
    args = ["render", "--rig", "nox30", "--input", str(wav), "--output", str(plain)]
    assert main(args) == 0
    np.testing.assert_array_equal(outs["off"], read_wav(plain)[0])
    assert not np.array_equal(outs["on"], outs["off"])
    with pytest.raises(InputError, match="no cab_ir"):
        render("nox30", wav, tmp_path / "x.wav", cab=True)
