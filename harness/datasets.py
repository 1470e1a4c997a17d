"""Dataset packages: byte-reproducible ``.npz`` files, content hashes and manifests.

* ``write_npz`` writes a numpy ``.npz`` (a zip of ``.npy`` members) with every zip field
  that could vary pinned: members in the given order, stored uncompressed (no dependence
  on the zlib build), timestamp 1980-01-01 00:00:00, Unix mode 0644. The same arrays give
  the same bytes on every run. ``np.load`` reads it as usual.
* Hashes are sha256 hex digests: ``sha256_array`` of the little-endian float64 samples,
  ``sha256_json`` of canonical JSON (sorted keys, no whitespace, ``repr`` floats), so a
  parameter set hashes the same however its dict was built.
* A *package* holds many cases of different lengths as flat arrays: ``x`` (input, V),
  ``y`` (output, V) and ``probe.<name>`` (other recorded signals) concatenated case after
  case, ``offsets`` (int64, n_cases + 1; case i is ``[offsets[i], offsets[i+1])``),
  ``case_id`` and ``split`` (strings), ``param_names`` / ``params`` (float64, n_cases x
  n_params), ``sample_rate`` (Hz, 0-d). Cases are split train/validation/test as whole cases,
  never by sample.
* ``DatasetManifest`` is the JSON record that travels with a package; ``to_json`` is
  canonical (sorted keys, 2-space indent, trailing newline), so it is byte-reproducible too.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from harness.errors import InputError, LabError
from harness.plain import plain

#: Zip timestamp of every member (the earliest a zip can hold).
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
SPLITS = ("train", "validation", "test")


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_array(a: np.ndarray) -> str:
    """sha256 of the samples as contiguous little-endian float64."""
    return sha256_bytes(np.ascontiguousarray(a, dtype="<f8").tobytes())


def canonical_json(obj) -> bytes:
    """Compact canonical JSON (sorted keys, no spaces); non-finite floats are an error."""
    return json.dumps(plain(obj), sort_keys=True, separators=(",", ":"), allow_nan=False).encode()


def sha256_json(obj) -> str:
    return sha256_bytes(canonical_json(obj))


def pretty_json(obj) -> bytes:
    """Human-readable canonical JSON: sorted keys, 2-space indent, trailing newline."""
    return (json.dumps(plain(obj), sort_keys=True, indent=2, allow_nan=False) + "\n").encode()


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """The bytes of a reproducible ``.npz`` holding ``arrays`` in the given order."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        for name, array in arrays.items():
            member = io.BytesIO()
            np.lib.format.write_array(member, np.asarray(array), version=(1, 0), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=ZIP_EPOCH)
            info.external_attr = 0o644 << 16
            info.create_system = 3
            zf.writestr(info, member.getvalue())
    return buf.getvalue()


def write_npz(path: str | Path, arrays: dict[str, np.ndarray]) -> str:
    """Write ``arrays`` as a reproducible ``.npz``; returns the file's sha256."""
    data = npz_bytes(arrays)
    Path(path).write_bytes(data)
    return sha256_bytes(data)


def read_npz(path: str | Path) -> dict[str, np.ndarray]:
    """All arrays of an ``.npz`` (no pickles)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise LabError(f"{path}: not a readable .npz ({exc})") from None


@dataclass
class PackedCase:
    """One case's arrays for ``pack``: input ``x`` and output ``y`` (V, same length) and
    other probes (name -> array of that length), with its split and parameter values."""

    case_id: str
    split: str
    x: np.ndarray
    y: np.ndarray
    probes: dict[str, np.ndarray]
    params: dict[str, float]


def pack(cases: list[PackedCase], sample_rate: float) -> dict[str, np.ndarray]:
    """The flat package arrays (see the module docstring), cases in the given order."""
    if not cases:
        raise InputError("pack: no cases to package")
    probe_names = sorted(cases[0].probes)
    param_names = sorted(cases[0].params)
    for c in cases:
        if c.split not in SPLITS:
            raise InputError(f"pack: case {c.case_id}: split {c.split!r} not one of {SPLITS}")
        if sorted(c.probes) != probe_names or sorted(c.params) != param_names:
            raise InputError(f"pack: case {c.case_id} has different probes or parameters")
        if c.x.shape != c.y.shape or any(p.shape != c.x.shape for p in c.probes.values()):
            raise InputError(f"pack: case {c.case_id}: x, y and probes differ in length")
    lengths = [c.x.size for c in cases]
    arrays = {
        "case_id": np.array([c.case_id for c in cases]),
        "split": np.array([c.split for c in cases]),
        "offsets": np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
        "sample_rate": np.array(float(sample_rate)),
        "x": np.concatenate([c.x for c in cases]).astype(np.float64),
        "y": np.concatenate([c.y for c in cases]).astype(np.float64),
    }
    for name in probe_names:
        arrays[f"probe.{name}"] = np.concatenate([c.probes[name] for c in cases]).astype(np.float64)
    arrays["param_names"] = np.array(param_names)
    arrays["params"] = np.array(
        [[c.params[n] for n in param_names] for c in cases], dtype=np.float64
    )
    return arrays


def unpack(arrays: dict[str, np.ndarray]) -> list[PackedCase]:
    """The cases of a package (inverse of ``pack``)."""
    try:
        offsets = arrays["offsets"]
        names = [str(n) for n in arrays["param_names"]]
        probes = [k.removeprefix("probe.") for k in arrays if k.startswith("probe.")]
        out = []
        for i, case_id in enumerate(arrays["case_id"]):
            part = slice(int(offsets[i]), int(offsets[i + 1]))
            out.append(
                PackedCase(
                    str(case_id),
                    str(arrays["split"][i]),
                    arrays["x"][part],
                    arrays["y"][part],
                    {p: arrays[f"probe.{p}"][part] for p in probes},
                    dict(zip(names, map(float, arrays["params"][i]), strict=True)),
                )
            )
    except KeyError as exc:
        raise LabError(f"not a Greybound dataset package: array {exc} is missing") from None
    return out


@dataclass
class CaseRecord:
    """One case in a manifest. ``status`` is "ok" or "failed" (failed cases keep their
    record and ``failure`` message and are listed in ``DatasetManifest.failed_cases``)."""

    id: str
    split: str
    status: str
    variant: str
    stimulus: dict
    drive_db: float
    parameters: dict
    parameters_sha256: str
    netlist_file: str = ""
    netlist_sha256: str = ""
    raw_file: str = ""
    raw_sha256: str = ""
    solver: str = ""
    attempts: list = field(default_factory=list)
    initial_conditions: dict = field(default_factory=dict)
    n_samples: int = 0
    failure: str = ""


@dataclass
class DatasetManifest:
    """Everything needed to know what a package holds and how it was made. Nothing in it
    depends on the run's time, host, worker count or output directory; those go to the
    separate run-info file named by ``run_info_file``."""

    schema: str
    fixture: dict
    command: str
    size: str
    versions: dict
    sample_rate: float
    settle_s: float
    settle_samples: int
    post_roll_samples: int
    initial_conditions: str
    anti_aliasing: dict
    solver_ladder: list
    output_probe: str
    probes: dict
    splits: dict
    package: dict
    cases: list[CaseRecord]
    failed_cases: list[str]
    report_file: str
    run_info_file: str

    def to_json(self) -> bytes:
        return pretty_json(asdict(self))

    @classmethod
    def from_json(cls, path: str | Path) -> DatasetManifest:
        try:
            data = json.loads(Path(path).read_text())
            data["cases"] = [CaseRecord(**c) for c in data["cases"]]
            return cls(**data)
        except (OSError, ValueError, TypeError, KeyError) as exc:
            raise LabError(f"{path}: not a Greybound dataset manifest ({exc})") from None
