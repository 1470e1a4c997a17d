"""JSON-safe plain values for manifests and sidecars: numpy scalars/arrays → Python
numbers/lists, tuples → lists, Paths → str, dict keys → str. Non-finite floats are refused
(JSON has no NaN/Inf, and a manifest holding one would not be reproducible)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from harness.errors import InputError


def plain(obj: Any, what: str = "a manifest") -> Any:
    """``obj`` as plain JSON types; ``what`` names the destination in the error raised
    (``InputError``) for a non-finite number."""
    if isinstance(obj, dict):
        return {str(k): plain(v, what) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, np.ndarray)):
        return [plain(v, what) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, float) and not math.isfinite(obj):
        raise InputError(f"non-finite number {obj!r} cannot go into {what}")
    return obj
