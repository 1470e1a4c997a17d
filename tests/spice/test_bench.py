"""pytest-benchmark: seconds of audio simulated per wall-clock second, per cell (``bench``)."""

import numpy as np
import pytest

from harness.spice.cell import fixture_names, load_cell
from harness.spice.operating_point import initial_conditions
from harness.spice.transient import simulate

pytestmark = [pytest.mark.bench, pytest.mark.spice]

#: Audio simulated per round: a 220 Hz sine at -6 dBFS (the settle pre-roll comes on top).
AUDIO_S = 0.1


@pytest.mark.parametrize("fixture", fixture_names())
def test_audio_seconds_per_wall_second(benchmark, fixture):
    cell = load_cell(fixture)
    params = cell.defaults()
    ics = initial_conditions(cell, params)
    fs = cell.simulation.sample_rate
    x = 0.5 * np.sin(2 * np.pi * 220.0 * np.arange(int(AUDIO_S * fs)) / fs)
    sim = benchmark.pedantic(simulate, args=(cell, params, x, ics), rounds=3, iterations=1)
    rate = AUDIO_S / benchmark.stats.stats.mean
    benchmark.extra_info["audio_s_per_wall_s"] = rate
    print(f"{fixture}: {rate:.3f} s of audio per wall-clock second")
    assert np.all(np.isfinite(sim.output(cell.output)))
