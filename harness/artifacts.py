"""Greybound artifacts: ``model.greybound.json`` + ``weights.greybound.bin``.

The schema (version 1) is documented with the Rust reader in
``rust/greybound-core/src/neural/artifact.rs``; this module writes it and reads it back
for Python-side tools (evaluation, equivalence vectors). Tensors are little-endian float32
at 16-byte-aligned offsets, in the order given; the descriptor carries the weights file's
size and SHA-256. Writing the same tensors and descriptor twice gives identical bytes
(sorted keys, fixed formatting). JSON5 is accepted on read.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import json5
import numpy as np

from harness.errors import LabError

SCHEMA_VERSION = 1
FORMAT = "greybound-model"
DESCRIPTOR_NAME = "model.greybound.json"
WEIGHTS_NAME = "weights.greybound.bin"
#: Tensor alignment in the weights file (bytes): lets a reader map tensors for SIMD loads.
ALIGN = 16


class ArtifactError(LabError):
    """A malformed artifact: the message names the file and the field."""

    def __init__(self, path: Path, field: str, reason: str):
        super().__init__(f"{path}: field '{field}': {reason}")
        self.path, self.field, self.reason = path, field, reason


@dataclass(frozen=True)
class Artifact:
    """A read artifact: its descriptor path, the descriptor and the tensors by name."""

    path: Path
    descriptor: dict[str, Any]
    tensors: dict[str, np.ndarray]


def sha256_file(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def write_artifact(
    out_dir: str | Path, descriptor: dict[str, Any], tensors: dict[str, np.ndarray]
) -> Path:
    """Write ``tensors`` (float32) and ``descriptor`` (without ``tensors``/``weights``,
    which are filled in here) into ``out_dir``. Returns the descriptor's path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    blob = bytearray()
    table = {}
    for name, value in tensors.items():
        arr = np.ascontiguousarray(value, dtype="<f4")
        if not np.all(np.isfinite(arr)):
            raise ArtifactError(out / DESCRIPTOR_NAME, f"tensors.{name}", "non-finite weights")
        blob.extend(b"\0" * (-len(blob) % ALIGN))
        table[name] = {"shape": list(arr.shape), "offset": len(blob)}
        blob.extend(arr.tobytes())
    weights = out / WEIGHTS_NAME
    weights.write_bytes(bytes(blob))
    full = {
        **descriptor,
        "schema_version": SCHEMA_VERSION,
        "format": FORMAT,
        "tensors": table,
        "weights": {
            "file": WEIGHTS_NAME,
            "bytes": len(blob),
            "sha256": hashlib.sha256(blob).hexdigest(),
        },
    }
    path = out / DESCRIPTOR_NAME
    path.write_text(json.dumps(full, indent=2, sort_keys=True) + "\n")
    return path


def read_artifact(path: str | Path) -> Artifact:
    """Read and check an artifact (descriptor path or its directory)."""
    path = Path(path)
    if path.is_dir():
        path = path / DESCRIPTOR_NAME
    try:
        descriptor = json5.loads(path.read_text())
    except OSError as exc:
        raise ArtifactError(path, "(file)", f"cannot read: {exc}") from exc
    except ValueError as exc:
        raise ArtifactError(path, "(syntax)", str(exc)) from exc
    if not isinstance(descriptor, dict):
        raise ArtifactError(path, "(root)", "the descriptor must be an object")
    version = descriptor.get("schema_version")
    if version != SCHEMA_VERSION:
        raise ArtifactError(
            path, "schema_version", f"unknown schema version {version!r} (reads {SCHEMA_VERSION})"
        )
    for key in ("format", "name", "family", "tensors", "weights", "layers", "input", "output"):
        if key not in descriptor:
            raise ArtifactError(path, key, "missing")
    weights = descriptor["weights"]
    wpath = path.parent / str(weights.get("file", ""))
    try:
        blob = wpath.read_bytes()
    except OSError as exc:
        raise ArtifactError(path, "weights.file", f"cannot read {wpath}: {exc}") from exc
    if len(blob) != weights.get("bytes"):
        raise ArtifactError(
            wpath,
            "weights.bytes",
            f"file has {len(blob)} bytes, descriptor says {weights.get('bytes')}",
        )
    if hashlib.sha256(blob).hexdigest() != str(weights.get("sha256", "")).lower():
        raise ArtifactError(wpath, "weights.sha256", "checksum does not match the descriptor")
    tensors = {}
    for name, spec in descriptor["tensors"].items():
        shape, offset = tuple(spec["shape"]), int(spec["offset"])
        count = int(np.prod(shape)) if shape else 1
        if offset % 4 or offset + 4 * count > len(blob):
            raise ArtifactError(
                path, f"tensors.{name}.offset", f"shape {shape} at {offset} does not fit"
            )
        arr = np.frombuffer(blob, dtype="<f4", count=count, offset=offset).reshape(shape)
        if not np.all(np.isfinite(arr)):
            raise ArtifactError(wpath, f"tensors.{name}", "NaN/Inf weights")
        tensors[name] = arr.astype(np.float32)
    return Artifact(path, descriptor, tensors)
