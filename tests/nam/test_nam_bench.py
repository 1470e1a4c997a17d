"""Speed of the Rust NAM renderer through ``harness.runtime.NamRenderer`` (pytest-benchmark,
``bench``): one second of a DI phrase at 48 kHz per round, fed in host blocks of 64 samples
(one ``process`` call per block, as a plug-in host would), for the three models issue 9
names: A1 standard (the corpus's ``wavenet_a1_standard.nam``), A2 standard and A2 nano (the
two submodels of the corpus's ``A2.nam``, chosen by slim: full size, and slim 0).

ns/sample and the real-time factor (audio seconds per CPU second, median round) go into
``extra_info``; ``make bench`` imports them and the rounds' times into the trend store. Reported,
never asserted. The issue's goal — faster than the reference C++ library on the same
machine — cannot be measured here: no build of NeuralAmpModelerCore is available offline.

Timer: this process's CPU time (``time.process_time``): the runtime runs on one thread, and
on the shared 2-core machine other jobs stretch wall time."""

import time

import numpy as np
import pytest

from harness.runtime import NamRenderer
from harness.stimuli import di_phrase

FS = 48000
AUDIO_S = 1.0
BLOCK = 64
#: name → (corpus file, slim value: None = full size).
MODELS = {
    "a1-standard": ("wavenet_a1_standard.nam", None),
    "a2-standard": ("A2.nam", None),
    "a2-nano": ("A2.nam", 0.0),
}


@pytest.mark.bench
@pytest.mark.nam
@pytest.mark.benchmark(timer=time.process_time)
@pytest.mark.parametrize("name", sorted(MODELS))
def test_nam_real_time_factor_block_64(benchmark, nam_corpus, name):
    fname, slim = MODELS[name]
    path = nam_corpus / fname
    model = NamRenderer(path, slim=slim)
    x = (0.5 * di_phrase(FS, seed=0, duration_s=AUDIO_S).signal).astype(np.float32)

    def run() -> np.ndarray:
        return np.concatenate([model.process(x[i : i + BLOCK]) for i in range(0, x.size, BLOCK)])

    benchmark.group = "nam-block64"
    y = benchmark(run)
    assert y.shape == x.shape and np.all(np.isfinite(y))
    seconds = benchmark.stats.stats.median
    benchmark.extra_info.update(
        {"ns_per_sample": seconds / x.size * 1e9, "realtime_factor": AUDIO_S / seconds,
         "sample_rate": FS, "block": BLOCK, "model": name, "submodel": model.submodel}
    )  # fmt: skip
    print(f"{name}: {seconds / x.size * 1e9:.0f} ns/sample, {AUDIO_S / seconds:.0f}x real time")
