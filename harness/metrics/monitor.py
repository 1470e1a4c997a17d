"""Health of a render from its monitor log: clipping, near-clipping, rail excursions and
non-finite or denormal samples.

A monitor log is a sequence of records, one per processed block and stage (a list of
dicts, or a JSON-lines file with one JSON object per line). Fields:

=================  ========  ===========================================================
field              required  meaning
=================  ========  ===========================================================
``stage``          yes       stage / node name (str)
``n_samples``      yes       samples in the block (int >= 0)
``peak``           yes       max |x| over the block, full-scale units (1.0 = 0 dBFS =
                             1 V peak); NaN/Inf means the block held non-finite samples
``block``          no        block index (int), informational
``start_sample``   no        index of the block's first sample (int), informational
``clip_count``     no        samples with |x| >= 1.0 (full scale)
``near_clip_count`` no       samples with |x| > −1 dBFS (0.891)
``rail_excursions`` no       samples where a circuit node left its supply rails
``nan_count``      no        NaN samples
``inf_count``      no        ±Inf samples
``denormal_count`` no        subnormal samples (0 < |x| < 2.2e-308 in f64, 1.2e-38 in f32)
=================  ========  ===========================================================

A record with ``"record": "summary"`` (the run's summary, e.g. the last line a monitored
rig render writes) is not a block: it is skipped by the totals and returned as
``MonitorHealth.summary`` (the last one if several).

Optional counters default to 0 (int >= 0). Other fields are ignored and listed in
``MonitorHealth.ignored_fields`` so a report can show what it did not interpret. A record
with a non-finite ``peak`` but zero NaN/Inf counts still counts one non-finite event.
``block_records`` builds such records from a signal (the Python side of the same check).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from harness.errors import InputError

#: Near-clip threshold: above −1 dBFS (peak).
NEAR_CLIP_DBFS = -1.0
_REQUIRED = ("stage", "n_samples", "peak")
_COUNTERS = (
    "clip_count",
    "near_clip_count",
    "rail_excursions",
    "nan_count",
    "inf_count",
    "denormal_count",
)
_INFORMATIONAL = ("block", "start_sample")
#: Value of a record's ``record`` field that marks the run summary.
_SUMMARY = "summary"


@dataclass
class StageHealth:
    """Totals for one stage: samples, blocks, the counters above, and ``peak_dbfs`` (max
    over finite block peaks; −inf if none)."""

    n_blocks: int = 0
    n_samples: int = 0
    clip_count: int = 0
    near_clip_count: int = 0
    near_clip_blocks: int = 0
    rail_excursions: int = 0
    nonfinite_count: int = 0
    denormal_count: int = 0
    peak_dbfs: float = -math.inf


@dataclass(frozen=True)
class MonitorHealth:
    """Totals over the whole log and per stage.

    ``clip_count``: samples at or above full scale. ``near_clip_count``: samples above
    −1 dBFS (from the records' counters); ``near_clip_blocks``: blocks whose peak exceeds
    −1 dBFS (available even when the counter is not logged). ``rail_excursions``,
    ``nonfinite_count`` (NaN + Inf), ``denormal_count``. ``healthy`` is True when there is
    no clip, rail excursion or non-finite sample; near-clips and denormals are warnings
    (denormals cost CPU, they do not corrupt audio).
    """

    n_records: int
    n_samples: int
    clip_count: int
    near_clip_count: int
    near_clip_blocks: int
    rail_excursions: int
    nonfinite_count: int
    denormal_count: int
    peak_dbfs: float
    stages: dict[str, StageHealth] = field(default_factory=dict)
    ignored_fields: tuple[str, ...] = ()
    summary: dict | None = None

    @property
    def healthy(self) -> bool:
        """No clipping, no rail excursion, no NaN/Inf."""
        return self.clip_count == 0 and self.rail_excursions == 0 and self.nonfinite_count == 0


def read_monitor_log(path: str | Path) -> list[dict]:
    """Read a JSON-lines monitor log (one JSON object per non-blank line)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such monitor log")
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}:{number}: not valid JSON ({exc.msg})") from exc
        if not isinstance(record, dict):
            raise InputError(
                f"{path}:{number}: expected a JSON object, got {type(record).__name__}"
            )
        records.append(record)
    return records


def _count(record: dict, name: str, where: str) -> int:
    value = record.get(name, 0)
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise InputError(f"{where}: field {name!r} must be an integer >= 0, got {value!r}")
    return int(value)


def monitor_health(log, *, near_clip_dbfs: float = NEAR_CLIP_DBFS) -> MonitorHealth:
    """Summarize a monitor log: a list of record dicts or a path to a JSON-lines file
    (fields in the module docstring). ``near_clip_dbfs`` sets the block-peak threshold for
    ``near_clip_blocks``. Missing/ill-typed fields raise ``InputError`` naming the record
    (file:line for a path, ``record[i]`` for a list) and the field."""
    if isinstance(log, (str, Path)):
        source = str(log)
        records = read_monitor_log(log)
        where = [f"{source}:record {i}" for i in range(len(records))]
    else:
        try:
            records = list(log)
        except TypeError:
            raise InputError(
                f"monitor_health: expected a list of records or a path, got {type(log).__name__}"
            ) from None
        where = [f"monitor record[{i}]" for i in range(len(records))]

    def is_summary(r) -> bool:
        return isinstance(r, dict) and r.get("record") == _SUMMARY

    summaries = [r for r in records if is_summary(r)]
    kept = [(r, at) for r, at in zip(records, where, strict=True) if not is_summary(r)]
    records, where = [r for r, _ in kept], [at for _, at in kept]
    if not records:
        raise InputError("monitor_health: the log holds no records")
    threshold = 10.0 ** (near_clip_dbfs / 20.0)
    stages: dict[str, StageHealth] = {}
    ignored: set[str] = set()
    known = set(_REQUIRED) | set(_COUNTERS) | set(_INFORMATIONAL)
    for record, at in zip(records, where, strict=True):
        if not isinstance(record, dict):
            raise InputError(f"{at}: expected a dict, got {type(record).__name__}")
        for name in _REQUIRED:
            if name not in record:
                raise InputError(f"{at}: missing required field {name!r}")
        stage = record["stage"]
        if not isinstance(stage, str) or not stage:
            raise InputError(f"{at}: field 'stage' must be a non-empty string, got {stage!r}")
        n = _count(record, "n_samples", at)
        peak = record["peak"]
        if isinstance(peak, bool) or not isinstance(peak, (int, float, np.floating, np.integer)):
            raise InputError(f"{at}: field 'peak' must be a number, got {peak!r}")
        peak = float(peak)
        if peak < 0:
            raise InputError(f"{at}: field 'peak' must be >= 0 (max |x|), got {peak!r}")
        counts = {name: _count(record, name, at) for name in _COUNTERS}
        ignored |= set(record) - known
        s = stages.setdefault(stage, StageHealth())
        s.n_blocks += 1
        s.n_samples += n
        s.clip_count += counts["clip_count"]
        s.near_clip_count += counts["near_clip_count"]
        s.rail_excursions += counts["rail_excursions"]
        s.denormal_count += counts["denormal_count"]
        nonfinite = counts["nan_count"] + counts["inf_count"]
        if not math.isfinite(peak):
            nonfinite = max(nonfinite, 1)
        else:
            s.peak_dbfs = max(s.peak_dbfs, 20.0 * math.log10(peak) if peak > 0 else -math.inf)
            s.near_clip_blocks += int(peak > threshold)
        s.nonfinite_count += nonfinite
    total = StageHealth()
    for s in stages.values():
        for name in (
            "n_samples",
            "clip_count",
            "near_clip_count",
            "near_clip_blocks",
            "rail_excursions",
            "nonfinite_count",
            "denormal_count",
        ):
            setattr(total, name, getattr(total, name) + getattr(s, name))
        total.peak_dbfs = max(total.peak_dbfs, s.peak_dbfs)
    return MonitorHealth(
        n_records=len(records),
        n_samples=total.n_samples,
        clip_count=total.clip_count,
        near_clip_count=total.near_clip_count,
        near_clip_blocks=total.near_clip_blocks,
        rail_excursions=total.rail_excursions,
        nonfinite_count=total.nonfinite_count,
        denormal_count=total.denormal_count,
        peak_dbfs=total.peak_dbfs,
        stages=stages,
        ignored_fields=tuple(sorted(ignored)),
        summary=summaries[-1] if summaries else None,
    )


def block_records(
    x,
    stage: str,
    *,
    block_size: int = 512,
    rails_volts: tuple[float, float] | None = None,
    near_clip_dbfs: float = NEAR_CLIP_DBFS,
) -> list[dict]:
    """Monitor records for signal ``x`` (full-scale units) cut into ``block_size`` blocks,
    with every field of the module docstring. NaN/Inf samples are counted, not rejected.
    ``rails_volts`` = (low, high) counts samples outside the rails as rail excursions
    (None: 0). Denormals are counted for the array's own dtype."""
    arr = np.asarray(x)
    if arr.ndim != 1 or arr.size == 0 or arr.dtype.kind != "f":
        raise InputError(
            f"block_records: x must be a non-empty 1-D float array, got {arr.dtype} {arr.shape}"
        )
    if int(block_size) < 1:
        raise InputError(f"block_records: block_size must be >= 1, got {block_size!r}")
    if not stage:
        raise InputError("block_records: stage name is empty")
    tiny = np.finfo(arr.dtype).tiny
    threshold = 10.0 ** (near_clip_dbfs / 20.0)
    records = []
    for block, start in enumerate(range(0, arr.size, int(block_size))):
        chunk = arr[start : start + int(block_size)]
        magnitude = np.abs(chunk)
        finite = np.isfinite(chunk)
        finite_mag = magnitude[finite]
        peak = (
            float(magnitude.max())
            if finite.all()
            else math.inf
            if np.isinf(chunk).any()
            else math.nan
        )
        rail = 0
        if rails_volts is not None:
            lo, hi = rails_volts
            rail = int(np.count_nonzero((chunk[finite] < lo) | (chunk[finite] > hi)))
        records.append(
            {
                "stage": stage,
                "block": block,
                "start_sample": start,
                "n_samples": int(chunk.size),
                "peak": peak,
                "clip_count": int(np.count_nonzero(finite_mag >= 1.0)),
                "near_clip_count": int(np.count_nonzero(finite_mag > threshold)),
                "rail_excursions": rail,
                "nan_count": int(np.count_nonzero(np.isnan(chunk))),
                "inf_count": int(np.count_nonzero(np.isinf(chunk))),
                "denormal_count": int(np.count_nonzero((finite_mag > 0) & (finite_mag < tiny))),
            }
        )
    return records
