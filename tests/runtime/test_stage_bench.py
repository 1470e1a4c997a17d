"""Speed of the runtime stages through Python (pytest-benchmark): one second of 48 kHz
guitar-level audio per round; the real-time factor goes into ``extra_info`` and the trend
store. Reported, never asserted."""

import numpy as np
import pytest

from harness.runtime import Stage

FS = 48000


@pytest.mark.bench
@pytest.mark.parametrize("kind", ["triode_common_cathode", "diode_clipper", "tone_stack"])
def test_stage_speed(benchmark, kind):
    t = np.arange(FS) / FS
    x = (0.5 * np.sin(2 * np.pi * 220 * t) * np.exp(-3 * t)).astype(np.float32)
    stage = Stage(kind, FS)
    y = benchmark(stage.process, x)
    assert np.all(np.isfinite(y))
    seconds = benchmark.stats.stats.median
    benchmark.extra_info.update(
        {"realtime_factor": 1.0 / seconds, "ns_per_sample": seconds / FS * 1e9, "sample_rate": FS}
    )
