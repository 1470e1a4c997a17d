"""WaveNet training configs: ``fixtures/models/<name>.json5`` — model size, the reference rig
and its knob grid, the stimuli of each split, loss switches and training settings.

The split is by knob setting AND by phrase: ``split.validation`` / ``split.test`` list knob
settings of the grid held out of training (every other grid point trains), and
``stimuli.train`` / ``stimuli.validation`` / ``stimuli.test`` are distinct phrases. The
training set is train settings × train phrases, validation is validation settings ×
validation phrases, test is test settings × test phrases: a test render shares neither its
knob setting nor its phrase with anything the model was fitted on. Errors name the file and
the field (``stimuli.train[2].kind``).
"""

from __future__ import annotations

import hashlib
import itertools
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import json5

from harness.errors import InputError

MODELS_DIR = Path(__file__).resolve().parents[2] / "fixtures" / "models"
#: Stimulus generators a config may use (``harness.stimuli``), by ``kind``.
STIMULUS_KINDS = ("plucks", "bursts", "exp_sweep", "di_phrase")
SPLITS = ("train", "validation", "test")
#: Size limits: the runtime's budget is about 1,440 conv MACs/sample; allow up to 16 channels.
MAX_CHANNELS = 16
MAX_DILATION = 4096


@dataclass(frozen=True)
class ModelConfig:
    channels: int = 4
    kernel_size: int = 3
    dilations: tuple[int, ...] = tuple(2**k for k in range(10)) * 3
    film_hidden: int = 16


@dataclass(frozen=True)
class LossConfig:
    """ESR after 1 − ``pre_emphasis``·z⁻¹, + ``a_weighting`` × ESR after A-weighting,
    + ``mrstft`` × the multi-resolution STFT distance (weights; 0 = off)."""

    pre_emphasis: float = 0.85
    a_weighting: float = 0.0
    mrstft: float = 0.0


@dataclass(frozen=True)
class TrainConfig:
    """``segment``: loss samples per training example (the receptive field − 1 samples
    before it are fed as warm-up); ``batch``: examples per step."""

    seed: int = 1234
    epochs: int = 10
    batch: int = 8
    lr: float = 4e-3
    segment: int = 8192
    patience: int = 5


@dataclass(frozen=True)
class StimulusConfig:
    kind: str
    params: dict[str, Any]


@dataclass(frozen=True)
class WavenetConfig:
    name: str
    path: Path
    sha256: str
    rig: str
    channel: str | None
    knobs: dict[str, tuple[float, ...]]
    validation_settings: tuple[dict[str, float], ...]
    test_settings: tuple[dict[str, float], ...]
    stimuli: dict[str, tuple[StimulusConfig, ...]]
    input_range_v: tuple[float, float] = (-2.0, 2.0)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def grid(self) -> list[dict[str, float]]:
        """Every knob setting of the grid (product of the listed values, config order)."""
        names = list(self.knobs)
        return [dict(zip(names, vs, strict=True)) for vs in itertools.product(*self.knobs.values())]

    def settings(self, split: str) -> list[dict[str, float]]:
        """The knob settings of ``split`` (train = the grid minus the held-out settings)."""
        if split == "validation":
            return list(self.validation_settings)
        if split == "test":
            return list(self.test_settings)
        held = self.validation_settings + self.test_settings
        return [s for s in self.grid() if s not in held]


def _fail(path: Path, key: str, why: str) -> InputError:
    return InputError(f"{path}: field '{key}': {why}")


def _keys(path: Path, key: str, obj: Any, allowed: set[str], required: set[str] = frozenset()):
    if not isinstance(obj, dict):
        raise _fail(path, key or "(root)", "must be an object")
    for k in obj:
        if k not in allowed:
            where = f"{key}.{k}" if key else k
            raise _fail(path, where, f"unknown field (allowed: {sorted(allowed)})")
    for k in required:
        if k not in obj:
            raise _fail(path, f"{key}.{k}" if key else k, "missing")
    return obj


def _int(path: Path, key: str, value: Any, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise _fail(path, key, f"must be an integer in [{lo}, {hi}], got {value!r}")
    return value


def _num(path: Path, key: str, value: Any, lo: float, hi: float) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not ok or not math.isfinite(value) or not lo <= value <= hi:
        raise _fail(path, key, f"must be a number in [{lo}, {hi}], got {value!r}")
    return float(value)


def _dataclass(path: Path, key: str, cls, raw: Any, checks: dict):
    defaults = cls()
    obj = _keys(path, key, raw, set(checks))
    values = {}
    for name, check in checks.items():
        if name in obj:
            values[name] = check(f"{key}.{name}", obj[name])
        else:
            values[name] = getattr(defaults, name)
    return cls(**values)


def _dilations(path: Path, key: str, value: Any) -> tuple[int, ...]:
    if not isinstance(value, list) or not value:
        raise _fail(path, key, "must be a non-empty list of dilations (samples)")
    return tuple(_int(path, f"{key}[{i}]", d, 1, MAX_DILATION) for i, d in enumerate(value))


def _setting(path: Path, key: str, raw: Any, knobs: dict[str, tuple[float, ...]]) -> dict:
    obj = _keys(path, key, raw, set(knobs), set(knobs))
    for name, value in obj.items():
        if value not in knobs[name]:
            raise _fail(path, f"{key}.{name}", f"{value!r} is not in the grid {list(knobs[name])}")
    return {name: float(obj[name]) for name in knobs}


def _stimuli(path: Path, key: str, raw: Any) -> tuple[StimulusConfig, ...]:
    if not isinstance(raw, list) or not raw:
        raise _fail(path, key, "must be a non-empty list of stimuli")
    out = []
    for i, item in enumerate(raw):
        where = f"{key}[{i}]"
        if not isinstance(item, dict):
            raise _fail(path, where, "must be an object {kind: ..., ...parameters}")
        kind = item.get("kind")
        if kind not in STIMULUS_KINDS:
            raise _fail(path, f"{where}.kind", f"{kind!r} is not one of {STIMULUS_KINDS}")
        params = {k: v for k, v in item.items() if k != "kind"}
        if "sample_rate" in params:
            raise _fail(path, f"{where}.sample_rate", "the rig's sample rate is used")
        out.append(StimulusConfig(kind, params))
    return tuple(out)


def load_wavenet_config(name_or_path: str | Path) -> WavenetConfig:
    """Load ``fixtures/models/<name>.json5`` (or a path) and validate it; knob names and
    values are checked against the rig file."""
    from harness.rigs import load_rig

    path = Path(name_or_path)
    if not path.suffix:
        path = MODELS_DIR / f"{name_or_path}.json5"
    try:
        text = path.read_text()
        raw = json5.loads(text)
    except OSError as exc:
        known = sorted(p.stem for p in MODELS_DIR.glob("*.json5"))
        raise InputError(
            f"{path}: cannot read model config ({exc.strerror}); known: {known}"
        ) from None
    except ValueError as exc:
        raise InputError(f"{path}: not valid JSON5: {exc}") from None
    top = {"name", "doc", "rig", "channel", "knobs", "split", "stimuli", "input_range_v",
           "model", "loss", "train"}  # fmt: skip
    _keys(path, "", raw, top, {"name", "rig", "knobs", "split", "stimuli"})
    if not isinstance(raw["name"], str) or not raw["name"]:
        raise _fail(path, "name", "must be a non-empty string")
    try:
        rig = load_rig(raw["rig"])
    except InputError as exc:
        raise _fail(path, "rig", str(exc)) from None
    channel = raw.get("channel")
    if channel is not None and channel not in rig.channels:
        raise _fail(path, "channel", f"{channel!r} is not a channel of {rig.path.name}")
    knobs_raw = _keys(path, "knobs", raw["knobs"], {k.name for k in rig.knobs})
    if not knobs_raw:
        raise _fail(path, "knobs", "list at least one knob of the rig with its grid values")
    knobs = {}
    for knob in rig.knobs:  # the rig's declaration order = the FiLM feature order
        if knob.name not in knobs_raw:
            continue
        values = knobs_raw[knob.name]
        key = f"knobs.{knob.name}"
        if not isinstance(values, list) or not values:
            raise _fail(path, key, "must be a non-empty list of knob values")
        lo, hi = knob.range
        vals = tuple(_num(path, f"{key}[{i}]", v, lo, hi) for i, v in enumerate(values))
        if len(set(vals)) != len(vals):
            raise _fail(path, key, "values repeat")
        knobs[knob.name] = vals
    split = _keys(path, "split", raw["split"], {"validation", "test"}, {"validation", "test"})
    held = {}
    for part in ("validation", "test"):
        items = split[part]
        if not isinstance(items, list) or not items:
            raise _fail(path, f"split.{part}", "must be a non-empty list of knob settings")
        held[part] = tuple(
            _setting(path, f"split.{part}[{i}]", s, knobs) for i, s in enumerate(items)
        )
    for i, s in enumerate(held["test"]):
        if s in held["validation"]:
            raise _fail(path, f"split.test[{i}]", "also a validation setting")
    stim = _keys(path, "stimuli", raw["stimuli"], set(SPLITS), set(SPLITS))
    stimuli = {part: _stimuli(path, f"stimuli.{part}", stim[part]) for part in SPLITS}
    for part in ("validation", "test"):
        for i, s in enumerate(stimuli[part]):
            if s in stimuli["train"]:
                raise _fail(path, f"stimuli.{part}[{i}]", "the same phrase is in stimuli.train")
    rng = raw.get("input_range_v", [-2.0, 2.0])
    if not (isinstance(rng, list) and len(rng) == 2):
        raise _fail(path, "input_range_v", "must be [low, high] (V)")
    lo, hi = (_num(path, f"input_range_v[{i}]", v, -100.0, 100.0) for i, v in enumerate(rng))
    if not lo < 0 < hi:
        raise _fail(path, "input_range_v", "must be [low, high] (V) with low < 0 < high")
    model = _dataclass(path, "model", ModelConfig, raw.get("model", {}), {
        "channels": lambda k, v: _int(path, k, v, 1, MAX_CHANNELS),
        "kernel_size": lambda k, v: _int(path, k, v, 2, 8),
        "dilations": lambda k, v: _dilations(path, k, v),
        "film_hidden": lambda k, v: _int(path, k, v, 1, 64),
    })  # fmt: skip
    loss = _dataclass(path, "loss", LossConfig, raw.get("loss", {}), {
        "pre_emphasis": lambda k, v: _num(path, k, v, 0.0, 0.99),
        "a_weighting": lambda k, v: _num(path, k, v, 0.0, 100.0),
        "mrstft": lambda k, v: _num(path, k, v, 0.0, 100.0),
    })  # fmt: skip
    train = _dataclass(path, "train", TrainConfig, raw.get("train", {}), {
        "seed": lambda k, v: _int(path, k, v, 0, 2**31 - 1),
        "epochs": lambda k, v: _int(path, k, v, 1, 100_000),
        "batch": lambda k, v: _int(path, k, v, 1, 4096),
        "lr": lambda k, v: _num(path, k, v, 1e-7, 1.0),
        "segment": lambda k, v: _int(path, k, v, 64, 1 << 20),
        "patience": lambda k, v: _int(path, k, v, 1, 100_000),
    })  # fmt: skip
    config = WavenetConfig(
        name=raw["name"],
        path=path,
        sha256=hashlib.sha256(text.encode()).hexdigest(),
        rig=str(rig.path),
        channel=channel,
        knobs=knobs,
        validation_settings=held["validation"],
        test_settings=held["test"],
        stimuli=stimuli,
        input_range_v=(lo, hi),
        model=model,
        loss=loss,
        train=train,
    )
    if not config.settings("train"):
        raise _fail(path, "split", "no knob setting of the grid is left for training")
    return config
