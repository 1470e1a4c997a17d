"""Speed of the IR convolver through Python (pytest-benchmark): a 1 s impulse response
(48 000 samples of decaying noise) at 48 kHz over one second of audio per round, rendered
in one call (the binding runs blocks of 4096). Real-time factor and ns/sample go into
``extra_info`` and the trend store. Reported, never asserted."""

import numpy as np
import pytest

from harness.runtime import IrConvolver

FS = 48000


@pytest.mark.bench
def test_ir_convolver_speed_1s_ir(benchmark):
    rng = np.random.default_rng(0)
    ir = rng.uniform(-1, 1, FS) * 10.0 ** (-3.0 * np.arange(FS) / FS)
    t = np.arange(FS) / FS
    x = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    conv = IrConvolver(ir, FS)
    y = benchmark(conv.process, x)
    assert np.all(np.isfinite(y))
    seconds = benchmark.stats.stats.median
    benchmark.extra_info.update(
        {"realtime_factor": 1.0 / seconds, "ns_per_sample": seconds / FS * 1e9,
         "sample_rate": FS, "ir_samples": FS}
    )  # fmt: skip
