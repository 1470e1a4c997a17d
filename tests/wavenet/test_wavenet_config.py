"""Model configs: the shipped ones load; bad ones fail naming the file and the field."""

import re

import pytest

from harness.cells.wavenet_config import MODELS_DIR, load_wavenet_config
from harness.errors import InputError


@pytest.mark.parametrize("path", sorted(MODELS_DIR.glob("*.json5")), ids=lambda p: p.stem)
def test_shipped_configs_load(path):
    cfg = load_wavenet_config(path)
    grid = cfg.grid()
    parts = [cfg.settings(s) for s in ("train", "validation", "test")]
    # Held-out settings are grid points, and the three splits partition the grid.
    assert sorted(map(str, sum(parts, []))) == sorted(map(str, grid))


@pytest.mark.train
def test_small_config_is_the_issue_size():
    from harness.cells.wavenet_train import build_model

    cfg = load_wavenet_config("nox30-wavenet-small")
    model = build_model(cfg, len(cfg.knobs))
    assert model.macs_breakdown()["conv"] == 1440 and model.receptive_field == 6139


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ('name: "tiny",', 'name: "tiny", colour: 1,', "colour"),
        ("knobs: {volume:", "knobs: {gain:", "knobs.gain"),
        ("{volume: 5, treble: 2}", "{volume: 6, treble: 2}", "split.test[0].volume"),
        ("{volume: 5, treble: 2}", "{volume: 5, treble: 8}", "split.test[0]"),
        ("{volume: 5, treble: 2}", "{volume: 5}", "split.test[0].treble"),
        (
            'test: [{kind: "di_phrase", seed: 2',
            'test: [{kind: "di_phrase", seed: 0',
            "stimuli.test[0]",
        ),
        ('train: [{kind: "di_phrase"', 'train: [{kind: "noise"', "stimuli.train[0].kind"),
        ("dilations: [1, 2, 4, 8]", "dilations: [1, 0]", "model.dilations[1]"),
        ("channels: 2", "channels: 64", "model.channels"),
        ("epochs: 3", "epochs: 0", "train.epochs"),
        ("mrstft: 0.1", "mrstft: -1", "loss.mrstft"),
        ('channel: "top_boost"', 'channel: "clean"', "channel"),
        ("[2, 5, 8]", "[2, 5, 80]", "knobs.volume[2]"),
    ],
)
def test_bad_config_names_file_and_field(tmp_path, tiny_text, old, new, field):
    assert old in tiny_text
    path = tmp_path / "bad.json5"
    path.write_text(tiny_text.replace(old, new, 1))
    with pytest.raises(InputError, match=re.escape(f"{path}: field '{field}'")):
        load_wavenet_config(path)


def test_missing_config_lists_the_known_ones(tmp_path):
    with pytest.raises(InputError, match="nox30-wavenet-small"):
        load_wavenet_config("no-such-model")
