"""Capture sidecars: what a ``.nam`` file in ``nam_refs/`` is a capture *of*.

A NAM file knows its weights and (usually) its sample rate, not what it was captured from.
Every reference the lab compares against carries a sidecar ``NAME.capture.json5`` next to
``NAME.nam`` (:func:`sidecar_path`) holding (JSON5, comments allowed; every key checked,
unknown keys rejected, every error an ``InputError`` naming the file and the key path):

* ``schema`` (1), ``name`` (the file stem), ``model_file`` (the ``.nam`` file name, relative
  to the sidecar), ``model_sha256`` (optional; checked against the file when given);
* ``source``: ``{kind: rig|spice|hardware, chain, chain_sha256?, channel?, knobs?}`` — the
  chain that was captured (a rig file, a SPICE fixture, or a description of real gear) and
  its knob settings in the chain's own units (the Nox30 rig: 0..10);
* ``capture``: ``{device, channel, gain_position, top_cut, includes_cab}`` — the capture
  semantics in the terms of the captured device (AC30 channel, gain knob position as a
  number or ``"full"``, the Top Cut switch, whether a cabinet/IR is inside the capture);
* ``sample_rate`` (Hz) of the capture;
* ``calibration``: ``{input_level_dbu, output_level_dbu}`` or ``null`` (uncalibrated), in
  NAM's metadata convention: the analog level, **dBu RMS of a sine whose peak is 0 dBFS**,
  that corresponds to full scale at the model's input and output;
* ``latency_samples``: delay of the capture's output re its input (samples, integer) that
  the training data still held (0 when the source's latency was removed before training);
* ``training`` (optional): ``{trainer, architecture, validation_esr, epochs, seed, threads,
  training_audio_s}`` (no wall-clock time: the same capture gives the same bytes);
* ``license`` (an SPDX id or a short statement; real captures keep their vendor's terms);
* ``provenance`` (optional): ``{command, lab_version, sha256: {label: hex digest}}``;
* ``notes`` (optional string).

**The lab's level convention** (written once, here): a float sample of 1.0 is 1 V peak at
the rig input (``harness.audio``), so a 0 dBFS-peak sine is 1/√2 V RMS =
:data:`LAB_FULL_SCALE_DBU` = −0.79 dBu. A rig's output is volts × ``output_gain_db``, so
its full scale is ``LAB_FULL_SCALE_DBU − output_gain_db`` dBu (Nox30: +42.21 dBu at the
speaker terminals). The lab's own captures therefore carry ``input_level_dbu = −0.79`` and
``output_level_dbu = −0.79 − output_gain_db``.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import json5

from harness.audio import DBU_REFERENCE_VOLTS_RMS, FULL_SCALE_VOLTS
from harness.errors import InputError

#: The sidecar format this module reads and writes.
SCHEMA = 1
#: File-name suffix of a sidecar: ``NAME.capture.json5`` beside ``NAME.nam``.
SIDECAR_SUFFIX = ".capture.json5"
SOURCE_KINDS = ("rig", "spice", "hardware")
#: dBu (RMS) of a sine of peak 1.0 (0 dBFS) in the lab's convention: 20·log10((1 V/√2)/0.7746 V).
LAB_FULL_SCALE_DBU = 20.0 * math.log10(FULL_SCALE_VOLTS / math.sqrt(2.0) / DBU_REFERENCE_VOLTS_RMS)

_TOP = {
    "schema",
    "name",
    "model_file",
    "model_sha256",
    "source",
    "capture",
    "sample_rate",
    "calibration",
    "latency_samples",
    "training",
    "license",
    "provenance",
    "notes",
}
_TOP_REQUIRED = {
    "schema",
    "name",
    "model_file",
    "source",
    "capture",
    "sample_rate",
    "calibration",
    "latency_samples",
    "license",
}
_SOURCE = {"kind", "chain", "chain_sha256", "channel", "knobs"}
_CAPTURE = {"device", "channel", "gain_position", "top_cut", "includes_cab"}
_CALIBRATION = {"input_level_dbu", "output_level_dbu"}
_TRAINING = {
    "trainer",
    "architecture",
    "validation_esr",
    "epochs",
    "seed",
    "threads",
    "training_audio_s",
}
_PROVENANCE = {"command", "lab_version", "sha256"}


@dataclass(frozen=True)
class Calibration:
    """Analog level (dBu RMS of a 0 dBFS-peak sine) at the capture's full scale, in and out."""

    input_level_dbu: float
    output_level_dbu: float


@dataclass(frozen=True)
class CaptureSource:
    """The captured chain: ``kind`` rig/spice/hardware, ``chain`` (a path relative to the
    repository for rig/spice, a description for hardware), its knob settings."""

    kind: str
    chain: str
    chain_sha256: str | None = None
    channel: str | None = None
    knobs: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class CaptureSemantics:
    """What the capture means on the captured device: channel, gain knob position (a number
    or ``"full"``), the Top Cut switch and whether a cabinet is inside the capture."""

    device: str
    channel: str
    gain_position: float | str
    top_cut: bool
    includes_cab: bool


@dataclass(frozen=True)
class Training:
    """How a capture was trained: validation ESR (dimensionless), seconds of training audio."""

    trainer: str
    architecture: str
    validation_esr: float
    epochs: int
    seed: int
    threads: int
    training_audio_s: float


@dataclass(frozen=True)
class Provenance:
    """The command that made a capture, the lab version, and SHA-256 digests by label."""

    command: str
    lab_version: str
    sha256: dict[str, str]


@dataclass(frozen=True)
class CaptureSidecar:
    """A validated ``*.capture.json5``; ``path`` is the sidecar, ``model_path`` the .nam."""

    path: Path
    name: str
    model_file: str
    source: CaptureSource
    capture: CaptureSemantics
    sample_rate: float
    calibration: Calibration | None
    latency_samples: int
    license: str
    model_sha256: str | None = None
    training: Training | None = None
    provenance: Provenance | None = None
    notes: str = ""

    @property
    def model_path(self) -> Path:
        return self.path.parent / self.model_file

    def to_json(self) -> dict[str, Any]:
        """The sidecar as plain JSON types (the inverse of :func:`read_sidecar`)."""
        out: dict[str, Any] = {
            "schema": SCHEMA,
            "name": self.name,
            "model_file": self.model_file,
            "model_sha256": self.model_sha256,
            "source": _drop_none(vars(self.source)),
            "capture": dict(vars(self.capture)),
            "sample_rate": self.sample_rate,
            "calibration": None if self.calibration is None else dict(vars(self.calibration)),
            "latency_samples": self.latency_samples,
            "training": None if self.training is None else dict(vars(self.training)),
            "license": self.license,
            "provenance": None if self.provenance is None else dict(vars(self.provenance)),
            "notes": self.notes or None,
        }
        return _drop_none(out)


def _drop_none(d: dict) -> dict:
    return {k: v for k, v in d.items() if v is not None}


def sidecar_path(nam_path: str | Path) -> Path:
    """``dir/NAME.capture.json5`` for ``dir/NAME.nam``."""
    nam_path = Path(nam_path)
    return nam_path.with_name(nam_path.stem + SIDECAR_SUFFIX)


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


# --- strict field readers -----------------------------------------------------------------


def _fail(path: Path, key: str, message: str) -> InputError:
    return InputError(f"{path}: {key}: {message}")


def _object(path: Path, key: str, obj: Any, allowed: set[str], required: set[str]) -> dict:
    if not isinstance(obj, dict):
        raise _fail(path, key, f"expected an object, got {type(obj).__name__}")
    prefix = f"{key}." if key else ""
    unknown = sorted(set(obj) - allowed)
    if unknown:
        raise _fail(
            path, prefix + unknown[0], f"unknown key (allowed: {', '.join(sorted(allowed))})"
        )
    missing = sorted(required - set(obj))
    if missing:
        raise _fail(path, prefix + missing[0], "missing")
    return obj


def _string(path: Path, key: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _fail(path, key, f"expected a non-empty string, got {value!r}")
    return value


def _number(path: Path, key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _fail(path, key, f"expected a finite number, got {value!r}")
    return float(value)


def _integer(path: Path, key: str, value: Any, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise _fail(path, key, f"expected an integer >= {minimum}, got {value!r}")
    return int(value)


def _boolean(path: Path, key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise _fail(path, key, f"expected true or false, got {value!r}")
    return value


def _sha256(path: Path, key: str, value: Any) -> str:
    text = _string(path, key, value).lower()
    if len(text) != 64 or any(c not in "0123456789abcdef" for c in text):
        raise _fail(path, key, f"expected a 64-digit hex SHA-256, got {value!r}")
    return text


def _source(path: Path, raw: Any) -> CaptureSource:
    obj = _object(path, "source", raw, _SOURCE, {"kind", "chain"})
    kind = obj["kind"]
    if kind not in SOURCE_KINDS:
        raise _fail(path, "source.kind", f"must be one of {', '.join(SOURCE_KINDS)}, got {kind!r}")
    knobs_raw = obj.get("knobs", {})
    if not isinstance(knobs_raw, dict):
        raise _fail(
            path, "source.knobs", f"expected an object of name -> number, got {knobs_raw!r}"
        )
    knobs = {str(k): _number(path, f"source.knobs.{k}", v) for k, v in knobs_raw.items()}
    channel = obj.get("channel")
    return CaptureSource(
        kind=kind,
        chain=_string(path, "source.chain", obj["chain"]),
        chain_sha256=None
        if obj.get("chain_sha256") is None
        else _sha256(path, "source.chain_sha256", obj["chain_sha256"]),
        channel=None if channel is None else _string(path, "source.channel", channel),
        knobs=knobs,
    )


def _capture(path: Path, raw: Any) -> CaptureSemantics:
    obj = _object(path, "capture", raw, _CAPTURE, _CAPTURE)
    gain = obj["gain_position"]
    if isinstance(gain, str):
        if gain.lower() != "full":
            raise _fail(path, "capture.gain_position", f'expected a number or "full", got {gain!r}')
        gain = "full"
    else:
        gain = _number(path, "capture.gain_position", gain)
    return CaptureSemantics(
        device=_string(path, "capture.device", obj["device"]),
        channel=_string(path, "capture.channel", obj["channel"]),
        gain_position=gain,
        top_cut=_boolean(path, "capture.top_cut", obj["top_cut"]),
        includes_cab=_boolean(path, "capture.includes_cab", obj["includes_cab"]),
    )


def _calibration(path: Path, raw: Any) -> Calibration | None:
    if raw is None:
        return None
    obj = _object(path, "calibration", raw, _CALIBRATION, _CALIBRATION)
    levels = {k: _number(path, f"calibration.{k}", obj[k]) for k in sorted(_CALIBRATION)}
    for k, v in levels.items():
        if not -60.0 <= v <= 80.0:
            raise _fail(path, f"calibration.{k}", f"{v} dBu is outside the plausible -60..80 dBu")
    return Calibration(**levels)


def _training(path: Path, raw: Any) -> Training | None:
    if raw is None:
        return None
    obj = _object(path, "training", raw, _TRAINING, _TRAINING)
    esr = _number(path, "training.validation_esr", obj["validation_esr"])
    if esr < 0:
        raise _fail(path, "training.validation_esr", f"an ESR is >= 0, got {esr}")
    return Training(
        trainer=_string(path, "training.trainer", obj["trainer"]),
        architecture=_string(path, "training.architecture", obj["architecture"]),
        validation_esr=esr,
        epochs=_integer(path, "training.epochs", obj["epochs"], 1),
        seed=_integer(path, "training.seed", obj["seed"]),
        threads=_integer(path, "training.threads", obj["threads"], 1),
        training_audio_s=_number(path, "training.training_audio_s", obj["training_audio_s"]),
    )


def _provenance(path: Path, raw: Any) -> Provenance | None:
    if raw is None:
        return None
    obj = _object(path, "provenance", raw, _PROVENANCE, _PROVENANCE)
    digests = obj["sha256"]
    if not isinstance(digests, dict):
        raise _fail(
            path, "provenance.sha256", f"expected an object of label -> digest, got {digests!r}"
        )
    return Provenance(
        command=_string(path, "provenance.command", obj["command"]),
        lab_version=_string(path, "provenance.lab_version", obj["lab_version"]),
        sha256={str(k): _sha256(path, f"provenance.sha256.{k}", v) for k, v in digests.items()},
    )


def read_sidecar(path: str | Path, *, verify_model: bool = True) -> CaptureSidecar:
    """Read and validate a ``*.capture.json5`` (see the module docstring). With
    ``verify_model`` the ``.nam`` it names must exist and match ``model_sha256`` if given.
    Every error is an ``InputError`` naming the file and the key."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such capture sidecar")
    try:
        raw = json5.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise InputError(f"{path}: not valid JSON5 ({exc})") from exc
    obj = _object(path, "", raw, _TOP, _TOP_REQUIRED)
    if obj["schema"] != SCHEMA:
        raise _fail(path, "schema", f"expected {SCHEMA}, got {obj['schema']!r}")
    rate = _number(path, "sample_rate", obj["sample_rate"])
    if not 8000.0 <= rate <= 768000.0:
        raise _fail(path, "sample_rate", f"must be in 8000..768000 Hz, got {rate:g}")
    model_file = _string(path, "model_file", obj["model_file"])
    if Path(model_file).name != model_file or not model_file.endswith(".nam"):
        raise _fail(
            path, "model_file", f"expected a .nam file name beside the sidecar, got {model_file!r}"
        )
    sha = (
        None
        if obj.get("model_sha256") is None
        else _sha256(path, "model_sha256", obj["model_sha256"])
    )
    notes = obj.get("notes", "")
    if not isinstance(notes, str):
        raise _fail(path, "notes", f"expected a string, got {notes!r}")
    sidecar = CaptureSidecar(
        path=path,
        name=_string(path, "name", obj["name"]),
        model_file=model_file,
        source=_source(path, obj["source"]),
        capture=_capture(path, obj["capture"]),
        sample_rate=rate,
        calibration=_calibration(path, obj["calibration"]),
        latency_samples=_integer(path, "latency_samples", obj["latency_samples"]),
        license=_string(path, "license", obj["license"]),
        model_sha256=sha,
        training=_training(path, obj.get("training")),
        provenance=_provenance(path, obj.get("provenance")),
        notes=notes,
    )
    if verify_model:
        model = sidecar.model_path
        if not model.is_file():
            raise _fail(path, "model_file", f"{model} does not exist")
        if sha is not None and sha256_file(model) != sha:
            raise _fail(path, "model_sha256", f"does not match {model} (file changed?)")
    return sidecar


def sidecar_for(nam_path: str | Path) -> CaptureSidecar:
    """The validated sidecar beside ``nam_path``; an ``InputError`` naming the expected
    sidecar file when it is missing, or naming the sidecar's ``model_file`` key when the
    sidecar describes another file."""
    nam_path = Path(nam_path)
    path = sidecar_path(nam_path)
    if not path.is_file():
        raise InputError(
            f"{path}: missing capture sidecar for {nam_path.name} (see nam_refs/README.md for "
            "the fields; the 'calibrated' level policy needs its calibration)"
        )
    sidecar = read_sidecar(path)
    if sidecar.model_file != nam_path.name:
        raise _fail(path, "model_file", f"names {sidecar.model_file!r}, not {nam_path.name!r}")
    return sidecar


def write_sidecar(sidecar: CaptureSidecar, path: str | Path | None = None) -> Path:
    """Write ``sidecar`` as JSON5 (plain JSON, sorted keys, 2-space indent, trailing
    newline: the same sidecar gives the same bytes) to ``path`` (default ``sidecar.path``)."""
    import json

    path = Path(path) if path is not None else sidecar.path
    text = json.dumps(sidecar.to_json(), indent=2, sort_keys=True, allow_nan=False)
    header = (
        f"// Capture sidecar for {sidecar.model_file} (format: harness/nam_sidecar.py, "
        "nam_refs/README.md).\n"
    )
    path.write_text(header + text + "\n", encoding="utf-8")
    return path
