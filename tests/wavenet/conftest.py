"""Shared fixtures for the WaveNet tests: a tiny training config (a 4-layer, 2-channel
WaveNet on half-second phrases of the Nox30: seconds to train) and its trained output."""

from pathlib import Path

import pytest

TINY = """{
  name: "tiny", rig: "nox30", channel: "top_boost",
  knobs: {volume: [2, 5, 8], treble: [2, 8]},
  split: {validation: [{volume: 5, treble: 8}], test: [{volume: 5, treble: 2}]},
  stimuli: {
    train: [{kind: "di_phrase", seed: 0, duration_s: 0.5}],
    validation: [{kind: "di_phrase", seed: 1, duration_s: 0.5}],
    test: [{kind: "di_phrase", seed: 2, duration_s: 0.5}],
  },
  model: {channels: 2, dilations: [1, 2, 4, 8], film_hidden: 4},
  loss: {a_weighting: 0.5, mrstft: 0.1},
  train: {epochs: 3, batch: 4, segment: 2048},
}
"""


@pytest.fixture(scope="session")
def tiny_text() -> str:
    return TINY


@pytest.fixture(scope="session")
def tiny_config(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("wavenet-config") / "tiny.json5"
    path.write_text(TINY)
    return path


@pytest.fixture(scope="session")
def tiny_trained(tiny_config, tmp_path_factory) -> Path:
    """The tiny config trained once (descriptor path)."""
    from harness.cells.wavenet_train import train_wavenet

    return train_wavenet(tiny_config, tmp_path_factory.mktemp("tiny-run"), progress=False)
