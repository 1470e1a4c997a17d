"""The runtime IR convolver through Python: equals ``scipy.signal.fftconvolve``, streams,
adds no latency, never allocates, and rejects bad IRs with a clear error."""

import numpy as np
import pytest
from scipy.signal import fftconvolve

from harness.cabs import CabRecipe, synthesize_cab_ir
from harness.errors import InputError
from harness.runtime import MAX_IR_SAMPLES, IrConvolver

#: Relative tolerance (max |error| / max |reference|). The runtime computes in f64 but takes
#: and returns float32, so each output sample carries one f32 rounding (≤ 6e-8 relative to
#: the peak) on top of both sides' FFT rounding (f64, ~1e-15); 1e-6 is the issue's bound.
REL_TOL = 1e-6


def _noise(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1.0, 1.0, n)


def _relative_error(y: np.ndarray, reference: np.ndarray) -> float:
    return float(np.max(np.abs(y - reference)) / np.max(np.abs(reference)))


@pytest.mark.parametrize("rate", [44100, 48000, 96000])
@pytest.mark.parametrize("ir_kind", ["cab", "noise-1s"])
def test_matches_scipy_fftconvolve(rate, ir_kind):
    if ir_kind == "cab":
        ir = synthesize_cab_ir(CabRecipe(), rate)
    else:
        ir = _noise(rate, 1) * np.exp(-np.arange(rate) / (0.15 * rate))
    x = _noise(ir.size + rate // 4, 2).astype(np.float32)
    reference = fftconvolve(x.astype(np.float64), ir)[: x.size]
    y = IrConvolver(ir, rate).process(x)
    assert y.dtype == np.float32
    err = _relative_error(y.astype(np.float64), reference)
    assert err <= REL_TOL, f"{ir_kind} at {rate} Hz: relative error {err:.3g}"


def test_streaming_in_pieces_equals_one_call_and_reset_restarts():
    ir = synthesize_cab_ir(CabRecipe(), 48000)
    x = _noise(30000, 3).astype(np.float32)
    conv = IrConvolver(ir, 48000)
    whole = conv.process(x)
    conv.reset()
    cuts = [0, 1, 8, 63, 64, 65, 4095, 4200, 9000, 20000, x.size]
    pieces = np.concatenate([conv.process(x[a:b]) for a, b in zip(cuts, cuts[1:], strict=False)])
    np.testing.assert_array_equal(pieces, whole)
    assert conv.process(x[:0]).size == 0


def test_an_impulse_gives_the_ir_from_sample_zero():
    ir = synthesize_cab_ir(CabRecipe(), 48000)
    conv = IrConvolver(ir, 48000)
    assert conv.latency_samples == 0
    assert conv.tail_samples == ir.size == conv.ir_len
    x = np.zeros(ir.size + 100)
    x[0] = 1.0
    y = conv.process(x)
    # float64 in/out of the wrapper, float32 inside the binding: one f32 rounding.
    np.testing.assert_allclose(y[: ir.size], ir, rtol=0, atol=1e-7 * np.max(np.abs(ir)))
    # After the IR: only the f64 FFT segments' rounding residue (~1e-16 of the partition
    # sums), far below the f32 output's resolution of the IR's peak.
    assert np.max(np.abs(y[ir.size :])) <= 1e-12


def test_process_does_not_allocate():
    conv = IrConvolver(_noise(48000, 4), 48000)
    assert conv.segment_blocks == [64, 512, 4096]
    assert conv.allocations_during_process(_noise(20000, 5).astype(np.float32)) == 0


@pytest.mark.parametrize(
    ("ir", "message"),
    [
        (np.zeros(0), "empty"),
        (np.array([0.5, np.nan, 0.1]), "sample 1 is NaN"),
        (np.zeros((10, 2)), "must be 1-D"),
        (np.zeros(MAX_IR_SAMPLES + 1), "maximum of 1048576 samples"),
        (np.array(["a"]), "real numbers"),
    ],
)
def test_bad_irs_are_rejected(ir, message):
    with pytest.raises(InputError, match=message):
        IrConvolver(ir, 48000)


def test_nan_input_is_rejected_by_the_wrapper():
    conv = IrConvolver(np.ones(3), 48000)
    x = np.zeros(10, dtype=np.float32)
    x[4] = np.inf
    with pytest.raises(InputError, match="input sample 4 is inf"):
        conv.process(x)
