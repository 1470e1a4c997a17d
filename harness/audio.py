"""WAV I/O and the lab's level and sample-rate conventions.

Level convention (shared by stimuli, runtime and metrics):

* A float sample of ``1.0`` is ``FULL_SCALE_VOLTS`` = 1 V **peak** at a stage input, so
  0 dBFS (peak) = 1 V peak and ``level_dbfs = 20·log10(v_peak / 1 V)``.
* dBFS values in this lab are *peak-referenced* unless a name says otherwise. RMS levels
  (``harness.metrics.levels.rms_dbfs``) use the same 1.0 reference, so a full-scale sine
  reads −3.01 dBFS RMS; the AES17 convention (full-scale sine = 0 dBFS RMS) is available
  there as an option.
* dBu is referenced to 0.7746 V RMS (√(0.6 W · 600 Ω), IEC 60268-1 / ITU-R usage):
  ``dbu_to_volts`` returns volts RMS; a sine's peak is √2 times that.

Sample-rate policy: metrics never resample behind your back. Two signals that meet must
share a sample rate (``require_sample_rate``) and every sample must be finite
(``check_finite``); both raise ``harness.errors.InputError`` naming what was wrong.

WAV files are written with soundfile (libsndfile) as 32-bit float by default. libsndfile puts
a ``PEAK`` chunk with a wall-clock timestamp in float WAVs; ``write_wav`` zeroes that
timestamp so the same samples always give the same bytes.
"""

from __future__ import annotations

import io
import math
import struct
from pathlib import Path

import numpy as np
import soundfile as sf

from harness.errors import InputError

#: Volts represented by a float sample of 1.0 (peak) at a stage input: 0 dBFS = 1 V peak.
FULL_SCALE_VOLTS = 1.0

#: 0 dBu in volts RMS: √(0.6) V, the voltage that dissipates 1 mW in 600 Ω.
DBU_REFERENCE_VOLTS_RMS = math.sqrt(0.6)

#: soundfile subtypes whose samples are integers: values outside [-1, 1) would clip.
_INTEGER_SUBTYPES = frozenset({"PCM_S8", "PCM_U8", "PCM_16", "PCM_24", "PCM_32"})


def dbfs_to_volts(level_dbfs: float) -> float:
    """Peak volts at a stage input for a peak level in dBFS (0 dBFS = 1 V peak)."""
    return FULL_SCALE_VOLTS * 10.0 ** (level_dbfs / 20.0)


def volts_to_dbfs(volts_peak: float) -> float:
    """Peak level in dBFS for a peak voltage in V (1 V peak = 0 dBFS); 0 V gives −inf."""
    if volts_peak < 0:
        raise InputError(f"volts_to_dbfs: peak voltage must be >= 0 V, got {volts_peak!r}")
    if volts_peak == 0:
        return -math.inf
    return 20.0 * math.log10(volts_peak / FULL_SCALE_VOLTS)


def dbu_to_volts(level_dbu: float) -> float:
    """Volts **RMS** for a level in dBu (0 dBu = 0.7746 V RMS). Multiply by √2 for a sine's
    peak, then ``volts_to_dbfs`` gives its peak dBFS (+4 dBu sine = 1.736 V peak = +4.79 dBFS)."""
    return DBU_REFERENCE_VOLTS_RMS * 10.0 ** (level_dbu / 20.0)


def check_finite(x: np.ndarray, what: str) -> None:
    """Raise ``InputError`` if ``x`` holds NaN or ±Inf, naming ``what`` and the first bad
    sample index (flat index for multi-dimensional arrays) and its value."""
    arr = np.asarray(x)
    if arr.dtype.kind not in "fc":
        return
    finite = np.isfinite(arr)
    if not finite.all():
        flat = finite.ravel()
        index = int(np.argmin(flat))
        bad = int(flat.size - np.count_nonzero(flat))
        raise InputError(
            f"{what}: non-finite sample at index {index} (value {arr.ravel()[index]!r}; "
            f"{bad} non-finite samples in total)"
        )


def require_sample_rate(actual: float, expected: float, what: str) -> None:
    """Raise ``InputError`` unless ``actual`` equals ``expected`` (Hz). The lab never
    resamples implicitly: resample explicitly, then measure."""
    if actual != expected:
        raise InputError(
            f"{what}: sample rate is {actual!r} Hz, expected {expected!r} Hz "
            "(resample explicitly before comparing)"
        )


def _integer_rate(sample_rate: float, what: str) -> int:
    rate = float(sample_rate)
    if not math.isfinite(rate) or rate <= 0 or rate != round(rate):
        raise InputError(
            f"{what}: WAV sample rate must be a positive integer in Hz, got {sample_rate!r}"
        )
    return int(round(rate))


def read_wav(path: str | Path, *, allow_multichannel: bool = False) -> tuple[np.ndarray, int]:
    """Read a WAV (any soundfile-readable file) as float64 in full-scale units (1.0 = 1 V peak).

    Returns ``(samples, sample_rate_hz)``; ``samples`` is 1-D for mono. A multichannel file is
    an error unless ``allow_multichannel`` (then shape is ``(frames, channels)``). Empty files
    and files holding NaN/Inf raise ``InputError`` naming the file.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such WAV file")
    try:
        data, rate = sf.read(str(path), dtype="float64", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        raise InputError(f"{path}: cannot read as audio ({exc})") from exc
    frames, channels = data.shape
    if frames == 0:
        raise InputError(f"{path}: holds no samples")
    if channels > 1 and not allow_multichannel:
        raise InputError(f"{path}: has {channels} channels; the lab's signals are mono")
    check_finite(data, str(path))
    samples = data[:, 0].copy() if channels == 1 else data
    return samples, int(rate)


def _zero_peak_timestamp(wav: bytes) -> bytes:
    """Zero the wall-clock timestamp libsndfile writes into a WAV ``PEAK`` chunk (RIFF chunk
    layout: id, little-endian size, payload; PEAK payload = version u32, timestamp u32, ...)."""
    buf = bytearray(wav)
    pos = 12  # after "RIFF" <size> "WAVE"
    while pos + 8 <= len(buf):
        chunk_id = bytes(buf[pos : pos + 4])
        (size,) = struct.unpack_from("<I", buf, pos + 4)
        if chunk_id == b"PEAK" and size >= 8:
            struct.pack_into("<I", buf, pos + 12, 0)
            break
        pos += 8 + size + (size & 1)
    return bytes(buf)


def write_wav(path: str | Path, x: np.ndarray, sample_rate: float, subtype: str = "FLOAT") -> Path:
    """Write ``x`` (1-D mono or ``(frames, channels)``, full-scale units) as a WAV file.

    ``sample_rate`` must be a positive integer (Hz). ``subtype`` is a soundfile WAV subtype
    ("FLOAT" 32-bit float by default, "DOUBLE", "PCM_24", ...); integer subtypes reject
    samples outside [-1, 1] instead of clipping silently. The output is byte-identical for
    identical input (the ``PEAK`` chunk timestamp is zeroed). Returns the path written.
    """
    path = Path(path)
    arr = np.asarray(x)
    if arr.ndim not in (1, 2) or arr.size == 0:
        raise InputError(
            f"{path}: samples must be a non-empty 1-D or 2-D array, got shape {arr.shape}"
        )
    if arr.dtype.kind not in "fiu":
        raise InputError(f"{path}: samples must be real numbers, got dtype {arr.dtype}")
    check_finite(arr, str(path))
    rate = _integer_rate(sample_rate, str(path))
    subtype = subtype.upper()
    if subtype not in sf.available_subtypes("WAV"):
        raise InputError(f"{path}: unknown WAV subtype {subtype!r}")
    peak = float(np.max(np.abs(arr)))
    if subtype in _INTEGER_SUBTYPES and peak > 1.0:
        raise InputError(
            f"{path}: peak {peak:.6g} exceeds full scale; integer subtype {subtype} would clip "
            "(use FLOAT or scale the signal)"
        )
    buffer = io.BytesIO()
    sf.write(buffer, arr.astype(np.float64, copy=False), rate, subtype=subtype, format="WAV")
    try:
        path.write_bytes(_zero_peak_timestamp(buffer.getvalue()))
    except OSError as exc:
        raise InputError(f"{path}: cannot write WAV ({exc.strerror})") from exc
    return path
