"""Input checks shared by the metrics: every public metric calls these first, so bad input
fails with an ``InputError`` that names the function and the argument."""

from __future__ import annotations

import math

import numpy as np

from harness.audio import check_finite, require_sample_rate
from harness.errors import InputError


def signal(x, what: str, *, min_samples: int = 1) -> np.ndarray:
    """``x`` as a contiguous 1-D float64 array with at least ``min_samples`` finite samples."""
    arr = np.asarray(x)
    if arr.dtype.kind not in "fiu":
        raise InputError(f"{what}: expected real samples, got dtype {arr.dtype}")
    if arr.ndim != 1:
        raise InputError(f"{what}: expected a 1-D (mono) signal, got shape {arr.shape}")
    if arr.size < min_samples:
        raise InputError(
            f"{what}: {arr.size} samples, need at least {min_samples}"
            + (" (empty signal)" if arr.size == 0 else "")
        )
    check_finite(arr, what)
    return np.ascontiguousarray(arr, dtype=np.float64)


def rate(sample_rate, what: str) -> float:
    """``sample_rate`` as a positive finite float (Hz)."""
    try:
        value = float(sample_rate)
    except (TypeError, ValueError):
        raise InputError(
            f"{what}: sample rate must be a number in Hz, got {sample_rate!r}"
        ) from None
    if not math.isfinite(value) or value <= 0:
        raise InputError(f"{what}: sample rate must be positive and finite, got {sample_rate!r} Hz")
    return value


def same_rate(sample_rate: float, other_rate, what: str) -> None:
    """Check an optional second sample rate (of the candidate/response) against the first."""
    if other_rate is not None:
        require_sample_rate(rate(other_rate, what), sample_rate, what)


def frequency(f_hz, sample_rate: float, what: str, *, allow_nyquist: bool = False) -> float:
    """``f_hz`` as a float in (0, Nyquist) Hz."""
    try:
        value = float(f_hz)
    except (TypeError, ValueError):
        raise InputError(f"{what}: frequency must be a number in Hz, got {f_hz!r}") from None
    nyquist = sample_rate / 2.0
    if not math.isfinite(value) or value <= 0:
        raise InputError(f"{what}: frequency must be positive and finite, got {f_hz!r} Hz")
    if value > nyquist or (value == nyquist and not allow_nyquist):
        raise InputError(
            f"{what}: {value:g} Hz is at or above Nyquist ({nyquist:g} Hz at {sample_rate:g} Hz)"
        )
    return value


def same_length(a: np.ndarray, b: np.ndarray, what: str) -> None:
    """Two signals compared sample by sample must have equal length (align them first)."""
    if a.size != b.size:
        raise InputError(
            f"{what}: reference has {a.size} samples, candidate {b.size}; "
            "align and trim first (harness.metrics.align.align)"
        )


def not_silent(x: np.ndarray, what: str) -> None:
    """A signal used as a level or correlation reference must not be all zeros."""
    if not np.any(x):
        raise InputError(f"{what}: signal is silent (all zeros); nothing to measure against")


def segment(stimulus_segments: dict, name: str, n_samples: int, delay: int, what: str) -> tuple:
    """The ``[start, end)`` of segment ``name`` shifted by ``delay`` samples, inside the signal."""
    if name not in stimulus_segments:
        raise InputError(f"{what}: stimulus has no segment {name!r}")
    start, end = stimulus_segments[name]
    start, end = start + delay, end + delay
    if start < 0 or end > n_samples:
        raise InputError(
            f"{what}: segment {name!r} [{start}, {end}) (delay {delay} samples) lies outside "
            f"the {n_samples}-sample signal"
        )
    return start, end
