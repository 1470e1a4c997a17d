"""Goldens: committed reference outputs, their provenance, and how fresh renders meet them.

Layout: one directory per golden, ``golden/<group>/<name>/`` (the golden's name is that path,
e.g. ``stages/triode_common_cathode``), holding

* ``<signal>.wav`` — mono audio, 32-bit float WAV (soundfile), one per rendered signal;
* ``arrays.npz`` — any other arrays (written with a fixed zip timestamp: same arrays, same
  bytes);
* ``metrics.json`` — the metric snapshot, ``{"name": {"value": v, "unit": "dB"}}``;
* ``manifest.json`` — provenance: the command that made it, the producer, its parameters,
  SHA-256 of every input and of every file above, and the versions of the tools involved.

A golden is made by a *producer*, registered by name in a :class:`Registry` (``@register``);
producers of other suites plug in by being imported from :data:`PRODUCER_MODULES`.
``check`` re-runs producers and compares with the committed files through the thresholds of
``fixtures/gates/<group>.json5``; ``update`` re-runs them, reports a per-metric diff and writes
only when asked to. Nothing else writes under ``golden/``.

Comparison metrics (the names used in gate files and the trend store):

* ``esr_db[<signal>]`` — the error-to-signal ratio 10·log10(Σ(golden − fresh)² / Σ golden²)
  in dB, without alignment or gain matching; −inf when identical;
* ``delta_<metric>`` — |fresh − golden| of each snapshot metric, in the metric's unit.
"""

from __future__ import annotations

import fnmatch
import hashlib
import importlib
import io
import json
import math
import platform
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

import harness
from harness.audio import read_wav, write_wav
from harness.errors import InputError, LabError
from harness.gates import GATES_DIR, GateFile, Threshold, load_suite

GOLDEN_DIR = Path(__file__).resolve().parents[1] / "golden"
MANIFEST = "manifest.json"
METRICS = "metrics.json"
ARRAYS = "arrays.npz"
SCHEMA = 1

#: Modules imported before the registry is first listed, so that their module-level
#: ``@harness.golden.register(...)`` calls add producers (e.g. a SPICE suite's
#: ``golden/spice/...``). The runtime stages' producers live at the end of this module.
PRODUCER_MODULES: tuple[str, ...] = ()


class GoldenError(LabError):
    """A golden that cannot be produced, read or compared; the message names it."""


@dataclass(frozen=True)
class MetricValue:
    """One snapshot metric: a value in ``unit``."""

    value: float
    unit: str


@dataclass
class GoldenData:
    """What a producer returns and a golden directory holds.

    ``audio``: mono signals at ``sample_rate`` Hz (written as float32 WAV);
    ``arrays``: other arrays (``arrays.npz``); ``metrics``: the snapshot; ``inputs``: arrays or
    bytes that went in (only their hashes are stored); ``params``: JSON-able producer
    parameters; ``versions``: extra tool versions (e.g. the runtime's).
    """

    sample_rate: int
    audio: dict[str, np.ndarray] = field(default_factory=dict)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    metrics: dict[str, MetricValue] = field(default_factory=dict)
    inputs: dict[str, np.ndarray | bytes] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Producer:
    """A named golden maker. ``model`` names what is under test (recorded with each gate)."""

    name: str
    func: Callable[[], GoldenData]
    model: str
    description: str

    @property
    def group(self) -> str:
        """The first path component: selects ``fixtures/gates/<group>.json5``."""
        return self.name.split("/", 1)[0]

    @property
    def command(self) -> str:
        """The command that (re)makes this golden."""
        return f"greybound-lab golden update --fixture {self.name} --write"

    def run(self) -> GoldenData:
        """Produce fresh data; a missing native extension or bad input is a ``GoldenError``."""
        try:
            data = self.func()
        except ImportError as exc:
            raise GoldenError(
                f"golden {self.name}: cannot produce it, {exc} "
                "(build the runtime extension first: `make setup`)"
            ) from exc
        except (ValueError, LabError) as exc:
            raise GoldenError(f"golden {self.name}: producer failed: {exc}") from exc
        _validate(self.name, data)
        return data


class Registry:
    """Producers by name."""

    def __init__(self, modules: Iterable[str] = ()):
        self._producers: dict[str, Producer] = {}
        self._modules = tuple(modules)
        self._loaded = False

    def register(self, name: str, *, model: str, description: str) -> Callable:
        """Decorator: register ``func() -> GoldenData`` as the producer of golden ``name``."""
        if not name or name.startswith("/") or ".." in name.split("/") or "/" not in name:
            raise GoldenError(f"golden name {name!r}: expected '<group>/<name>' under golden/")

        def decorate(func: Callable[[], GoldenData]) -> Callable[[], GoldenData]:
            if name in self._producers:
                raise GoldenError(f"golden {name!r} is registered twice")
            self._producers[name] = Producer(name, func, model, description)
            return func

        return decorate

    def producers(self, pattern: str | None = None) -> list[Producer]:
        """Registered producers, sorted by name, filtered by :func:`matches`."""
        if not self._loaded:
            self._loaded = True
            for module in self._modules:
                importlib.import_module(module)
        found = [p for n, p in sorted(self._producers.items()) if matches(n, pattern)]
        if pattern is not None and not found:
            raise GoldenError(
                f"--fixture {pattern!r} matches no golden; known: {sorted(self._producers)}"
            )
        return found


def matches(name: str, pattern: str | None) -> bool:
    """``pattern`` selects ``name`` when it is None, equal, a group prefix (``stages``), the
    last component (``tone_stack``) or a shell glob (``stages/*``)."""
    if pattern is None:
        return True
    pattern = pattern.strip("/")
    return (
        name == pattern
        or name.startswith(pattern + "/")
        or name.rsplit("/", 1)[-1] == pattern
        or fnmatch.fnmatchcase(name, pattern)
    )


REGISTRY = Registry(PRODUCER_MODULES)
register = REGISTRY.register


def _validate(name: str, data: GoldenData) -> None:
    if not isinstance(data, GoldenData):
        raise GoldenError(f"golden {name}: producer returned {type(data).__name__}, not GoldenData")
    for signal, x in data.audio.items():
        if not signal.isidentifier():
            raise GoldenError(f"golden {name}: audio name {signal!r} must be an identifier")
        arr = np.asarray(x)
        if arr.ndim != 1 or arr.size == 0 or not np.all(np.isfinite(arr)):
            raise GoldenError(f"golden {name}: audio {signal!r} must be finite, 1-D, non-empty")
    for metric, mv in data.metrics.items():
        if not isinstance(mv, MetricValue) or not isinstance(mv.value, float):
            raise GoldenError(f"golden {name}: metric {metric!r} must be a MetricValue(float)")


# --- hashing and files --------------------------------------------------------------------


def sha256_bytes(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def array_hash(x: np.ndarray | bytes) -> str:
    """SHA-256 of an array's dtype, shape and little-endian bytes (or of raw bytes)."""
    if isinstance(x, bytes):
        return sha256_bytes(x)
    arr = np.ascontiguousarray(x)
    arr = arr.astype(arr.dtype.newbyteorder("<"), copy=False)
    header = f"{arr.dtype.str}{arr.shape}".encode()
    return sha256_bytes(header + arr.tobytes())


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """A ``.npz`` (readable by ``np.load``) whose bytes depend only on the arrays."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for key in sorted(arrays):
            member = io.BytesIO()
            np.lib.format.write_array(member, np.asarray(arrays[key]), allow_pickle=False)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, member.getvalue())
    return buffer.getvalue()


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic | np.ndarray):
        return obj.tolist()
    raise TypeError(f"not JSON-able: {type(obj).__name__}")


def _json_bytes(obj: Any) -> bytes:
    text = json.dumps(obj, indent=2, sort_keys=True, allow_nan=True, default=_json_default)
    return (text + "\n").encode()


def versions(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Versions that shape a golden's bytes: the lab, Python, numpy, soundfile, libsndfile."""
    found = {
        "greybound-lab": harness.__version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "soundfile": sf.__version__,
        "libsndfile": sf.__libsndfile_version__,
    }
    found.update(extra or {})
    return dict(sorted(found.items()))


def materialize(producer: Producer, data: GoldenData) -> dict[str, bytes]:
    """The exact files (name → bytes) of a golden directory for ``data``."""
    files: dict[str, bytes] = {}
    with tempfile.TemporaryDirectory(prefix="greybound-golden-") as tmp:
        for signal, x in sorted(data.audio.items()):
            path = Path(tmp) / f"{signal}.wav"
            write_wav(path, np.asarray(x, dtype=np.float32), data.sample_rate, subtype="FLOAT")
            files[path.name] = path.read_bytes()
    if data.arrays:
        files[ARRAYS] = npz_bytes(data.arrays)
    metrics = {k: {"value": v.value, "unit": v.unit} for k, v in data.metrics.items()}
    files[METRICS] = _json_bytes(metrics)
    manifest = {
        "schema": SCHEMA,
        "name": producer.name,
        "model": producer.model,
        "description": producer.description,
        "producer": f"{producer.func.__module__}:{producer.func.__qualname__}",
        "command": producer.command,
        "sample_rate": data.sample_rate,
        "params": data.params,
        "inputs": {k: array_hash(v) for k, v in sorted(data.inputs.items())},
        "files": {name: sha256_bytes(b) for name, b in sorted(files.items())},
        "versions": versions(data.versions),
    }
    files[MANIFEST] = _json_bytes(manifest)
    return files


@dataclass
class Committed:
    """A golden read from disk: its data, manifest and the file bytes."""

    data: GoldenData
    manifest: dict[str, Any]
    files: dict[str, bytes]


def load_golden(name: str, root: str | Path = GOLDEN_DIR) -> Committed:
    """Read ``<root>/<name>/``; check every file against the manifest's hashes."""
    directory = Path(root) / name
    manifest_path = directory / MANIFEST
    if not manifest_path.is_file():
        raise GoldenError(
            f"{directory}: no committed golden (missing {MANIFEST}); make it with "
            f"`greybound-lab golden update --fixture {name} --write`"
        )
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise GoldenError(f"{manifest_path}: not valid JSON: {exc}") from None
    for key in ("schema", "sample_rate", "files", "inputs"):
        if key not in manifest:
            raise GoldenError(f"{manifest_path}: {key}: missing")
    if manifest["schema"] != SCHEMA:
        raise GoldenError(f"{manifest_path}: schema: expected {SCHEMA}, got {manifest['schema']!r}")
    files = {MANIFEST: manifest_path.read_bytes()}
    for fname, digest in manifest["files"].items():
        path = directory / fname
        if not path.is_file():
            raise GoldenError(f"{manifest_path}: files.{fname}: listed but missing")
        blob = path.read_bytes()
        if sha256_bytes(blob) != digest:
            raise GoldenError(
                f"{path}: content does not match manifest files.{fname} (edited by hand?); "
                f"re-make it with `greybound-lab golden update --fixture {name} --write`"
            )
        files[fname] = blob
    data = GoldenData(sample_rate=int(manifest["sample_rate"]), params=manifest.get("params", {}))
    for fname in manifest["files"]:
        if fname.endswith(".wav"):
            x, rate = read_wav(directory / fname)
            if rate != data.sample_rate:
                raise GoldenError(
                    f"{directory / fname}: {rate} Hz, manifest says {data.sample_rate}"
                )
            data.audio[fname[: -len(".wav")]] = x
    if ARRAYS in files:
        with np.load(io.BytesIO(files[ARRAYS]), allow_pickle=False) as npz:
            data.arrays = {k: npz[k] for k in npz.files}
    if METRICS in files:
        raw = json.loads(files[METRICS])
        data.metrics = {k: MetricValue(float(v["value"]), v["unit"]) for k, v in raw.items()}
    return Committed(data, manifest, files)


# --- compare, check, update ---------------------------------------------------------------


def esr_db(fresh: np.ndarray, gold: np.ndarray) -> float:
    """The error-to-signal ratio of a fresh render against its golden, in dB:
    10·log10(Σ(golden − fresh)² / Σ golden²) (``harness.metrics.null.esr``; no alignment, no
    gain matching, so any change of timing or gain counts). −inf when identical."""
    from harness.metrics.null import esr

    ratio = esr(np.asarray(gold, dtype=np.float64), np.asarray(fresh, dtype=np.float64))
    return 10.0 * math.log10(ratio) if ratio > 0 else -math.inf


@dataclass(frozen=True)
class GoldenCheck:
    """One gated comparison of a fresh render with its golden."""

    metric: str
    value: float
    threshold: Threshold
    detail: str

    @property
    def passed(self) -> bool:
        return self.threshold.passes(self.value)


@dataclass
class GoldenComparison:
    """All checks of one golden, plus structural problems (which fail it outright)."""

    producer: Producer
    checks: list[GoldenCheck] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.problems and all(c.passed for c in self.checks)


def compare(
    producer: Producer, fresh: GoldenData, committed: Committed, gates: GateFile
) -> GoldenComparison:
    """Compare fresh data with a committed golden under ``gates`` (see module docstring)."""
    out = GoldenComparison(producer)
    gold = committed.data
    lookup = _lookup(gates, producer)
    if fresh.sample_rate != gold.sample_rate:
        out.problems.append(f"sample rate {fresh.sample_rate} Hz, golden {gold.sample_rate} Hz")
    fresh_inputs = {k: array_hash(v) for k, v in fresh.inputs.items()}
    for key in sorted(fresh_inputs.keys() | committed.manifest["inputs"].keys()):
        if fresh_inputs.get(key) != committed.manifest["inputs"].get(key):
            out.problems.append(f"input {key!r} changed since the golden was made (stale golden)")
    for signal in sorted(fresh.audio.keys() | gold.audio.keys()):
        if signal not in gold.audio or signal not in fresh.audio:
            where = "golden" if signal not in gold.audio else "fresh render"
            out.problems.append(f"audio {signal!r} missing from the {where}")
            continue
        f, g = np.asarray(fresh.audio[signal], dtype=np.float32), gold.audio[signal]
        if f.size != g.size:
            out.problems.append(f"audio {signal!r}: {f.size} samples, golden {g.size}")
            continue
        metric = f"esr_db[{signal}]"
        try:
            value = esr_db(f, g)
        except InputError as exc:
            out.problems.append(f"audio {signal!r}: {exc}")
            continue
        peak = float(np.max(np.abs(f.astype(np.float64) - g)))
        out.checks.append(GoldenCheck(metric, value, lookup(metric), f"max |diff| {peak:.3g} V"))
    for name in sorted(fresh.metrics.keys() | gold.metrics.keys()):
        if name not in gold.metrics or name not in fresh.metrics:
            where = "golden" if name not in gold.metrics else "fresh render"
            out.problems.append(f"metric {name!r} missing from the {where}")
            continue
        f, g = fresh.metrics[name], gold.metrics[name]
        metric = f"delta_{name}"
        value = _delta(f.value, g.value)
        detail = f"golden {g.value:.6g} {g.unit}, fresh {f.value:.6g} {f.unit}"
        out.checks.append(GoldenCheck(metric, value, lookup(metric), detail))
    return out


def _delta(a: float, b: float) -> float:
    if a == b:  # also equal infinities
        return 0.0
    return abs(a - b)


def _lookup(gates: GateFile, producer: Producer) -> Callable[[str], Threshold]:
    def lookup(metric: str) -> Threshold:
        return gates.lookup(metric, fixture=producer.name, model=producer.model)

    return lookup


def check(
    pattern: str | None = None,
    root: str | Path | None = None,
    gates_dir: str | Path | None = None,
    registry: Registry | None = None,
    progress: bool = False,
) -> list[GoldenComparison]:
    """Re-run the selected producers and compare with the committed goldens.

    Defaults (resolved at call time): :data:`GOLDEN_DIR`, ``harness.gates.GATES_DIR``,
    :data:`REGISTRY`.
    """
    root = GOLDEN_DIR if root is None else root
    gates_dir = GATES_DIR if gates_dir is None else gates_dir
    registry = REGISTRY if registry is None else registry
    results = []
    for producer in _progress(registry.producers(pattern), progress, "golden check"):
        committed = load_golden(producer.name, root)
        gates = load_suite(producer.group, gates_dir)
        results.append(compare(producer, producer.run(), committed, gates))
    return results


@dataclass
class GoldenUpdate:
    """What ``update`` found for one golden: ``new``, ``unchanged`` or ``changed``."""

    producer: Producer
    directory: Path
    status: str
    changed_files: list[str]
    metric_rows: list[tuple[str, str, str, str, str]]
    written: bool = False


def update(
    pattern: str | None = None,
    write: bool = False,
    root: str | Path | None = None,
    registry: Registry | None = None,
    progress: bool = False,
) -> list[GoldenUpdate]:
    """Re-run the selected producers; diff against the committed goldens; write only when
    ``write`` is true (then a directory is replaced by exactly the new files)."""
    root = GOLDEN_DIR if root is None else root
    registry = REGISTRY if registry is None else registry
    results = []
    for producer in _progress(registry.producers(pattern), progress, "golden update"):
        fresh = producer.run()
        files = materialize(producer, fresh)
        directory = Path(root) / producer.name
        try:
            committed = load_golden(producer.name, root)
        except GoldenError:
            if (directory / MANIFEST).exists():
                raise
            committed = None
        if committed is None:
            rows = [_metric_row(n, None, m) for n, m in sorted(fresh.metrics.items())]
            result = GoldenUpdate(producer, directory, "new", sorted(files), rows)
        else:
            changed = sorted(
                n
                for n in files.keys() | committed.files.keys()
                if files.get(n) != committed.files.get(n)
            )
            names = sorted(fresh.metrics.keys() | committed.data.metrics.keys())
            rows = [
                _metric_row(n, committed.data.metrics.get(n), fresh.metrics.get(n)) for n in names
            ]
            for signal in sorted(fresh.audio.keys() & committed.data.audio.keys()):
                f = np.asarray(fresh.audio[signal], dtype=np.float32)
                g = committed.data.audio[signal]
                esr = esr_db(f, g) if f.size == g.size else math.nan
                rows.append((f"esr_db[{signal}]", "", "", f"{esr:.4g}", "dB"))
            status = "changed" if changed else "unchanged"
            result = GoldenUpdate(producer, directory, status, changed, rows)
        if write and result.status != "unchanged":
            _replace_dir(directory, files)
            result.written = True
        results.append(result)
    return results


def _metric_row(name: str, old: MetricValue | None, new: MetricValue | None) -> tuple:
    unit = (new or old).unit
    old_s = "" if old is None else f"{old.value:.6g}"
    new_s = "" if new is None else f"{new.value:.6g}"
    delta = "" if old is None or new is None else f"{new.value - old.value:+.3g}"
    return (name, old_s, new_s, delta, unit)


def _replace_dir(directory: Path, files: dict[str, bytes]) -> None:
    staging = directory.with_name(directory.name + ".new")
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    for name, blob in files.items():
        (staging / name).write_bytes(blob)
    if directory.exists():
        shutil.rmtree(directory)
    staging.rename(directory)


def _progress(items: list, enabled: bool, desc: str) -> list | Iterable:
    if not enabled:
        return items
    from tqdm import tqdm

    return tqdm(items, desc=desc, unit="golden", leave=False)


def format_check(results: list[GoldenComparison]) -> str:
    """The ``golden check`` summary table."""
    from harness.trend import format_table

    rows = []
    for r in results:
        for p in r.problems:
            rows.append((r.producer.name, "FAIL", "problem", p, "", ""))
        for c in r.checks:
            verdict = "ok" if c.passed else "FAIL"
            shown = f"{c.value:.4g} {c.threshold.unit}".rstrip()
            rows.append(
                (r.producer.name, verdict, c.metric, shown, c.threshold.describe(), c.detail)
            )
    failed = sum(not r.passed for r in results)
    table = format_table(["golden", "verdict", "check", "value", "threshold", "detail"], rows)
    return f"{table}\n{len(results)} golden(s) checked, {failed} failed"


def format_update(results: list[GoldenUpdate]) -> str:
    """The ``golden update`` per-metric diff and what was (or would be) written."""
    from harness.trend import format_table

    blocks = []
    for r in results:
        head = f"{r.producer.name}: {r.status}"
        if r.changed_files:
            head += f" (files: {', '.join(r.changed_files)})"
        table = format_table(["metric", "committed", "fresh", "delta", "unit"], r.metric_rows)
        if r.written:
            tail = f"written to {r.directory}"
        elif r.status == "unchanged":
            tail = "nothing to write"
        else:
            tail = "NOT written: re-run with --write to replace the committed golden"
        blocks.append(f"{head}\n{table}\n{tail}")
    return "\n\n".join(blocks) if blocks else "no goldens selected"


# --- the runtime stages' goldens ----------------------------------------------------------

#: Stage kinds with goldens under ``golden/stages/<kind>/`` (default parameters).
STAGE_KINDS = (
    "triode_common_cathode", "diode_clipper", "tone_stack", "volume", "cut",
    "cathode_follower", "phase_inverter", "power_amp", "output_transformer", "speaker_load",
)  # fmt: skip
STAGE_RATE = 48_000
#: Peak levels of the 1 kHz stepped sine (dBFS, 0 dBFS = 1 V peak at the stage input).
STAGE_LEVELS_DBFS = (-40.0, -30.0, -20.0, -10.0, 0.0)
STAGE_SINE_HZ = 1000.0


def stage_stimuli() -> dict:
    """The stage goldens' inputs at 48 kHz, kept short (each golden < 200 kB):

    * ``sine_steps`` — 1 kHz, −40..0 dBFS in 10 dB steps of 80 ms; the last 40 ms of each
      step (40 periods) are the analysis segment ``level_<L>dBFS``;
    * ``sweep`` — synchronized exponential sweep 20 Hz–20 kHz at −20 dBFS (0.35 s, the
      shortest that puts one period of 20 Hz in the rate constant L) plus 30 ms tail;
    * ``imd`` — SMPTE two-tone, 60 Hz + 7 kHz 4:1 at −10 dBFS peak, 150 ms.
    """
    from harness.stimuli import exp_sweep, level_stepped_sine, two_tone

    return {
        "sine_steps": level_stepped_sine(
            STAGE_RATE, STAGE_SINE_HZ, STAGE_LEVELS_DBFS, step_s=0.08, settle_s=0.04
        ),
        "sweep": exp_sweep(
            STAGE_RATE,
            20.0,
            20000.0,
            duration_s=0.2,
            level_dbfs=-20.0,
            fade_in_s=0.01,
            fade_out_s=0.005,
            tail_s=0.03,
        ),
        "imd": two_tone(
            STAGE_RATE, "smpte", level_dbfs=-10.0, duration_s=0.15, settle_s=0.05, fade_s=0.005
        ),
    }


def _jsonable_params(params: dict) -> dict:
    """Stage parameters for JSON: non-finite floats (an unloaded output's inf Ω) as text."""
    return {
        k: (str(v) if isinstance(v, float) and not math.isfinite(v) else v)
        for k, v in sorted(params.items())
    }


def render_stage_golden(kind: str) -> GoldenData:
    """Render stage ``kind`` (default parameters, 48 kHz, float32) on :func:`stage_stimuli`,
    each signal from the stage's rest state, with a metric snapshot: output RMS (dBFS, 1.0 =
    1 V) and THD (%) at every stepped-sine level, and output RMS of the sweep and two-tone."""
    from harness.metrics.distortion import thd
    from harness.metrics.levels import rms_dbfs
    from harness.runtime import Stage

    stimuli = stage_stimuli()
    audio, arrays, metrics = {}, {}, {}
    params: dict = {}
    for name, stim in stimuli.items():
        stage = Stage(kind, sample_rate=float(STAGE_RATE))
        params = stage.params
        audio[name] = stage.process(stim.signal.astype(np.float32))
        for segment, bounds in stim.segments.items():
            arrays[f"{name}__{segment}"] = np.asarray(bounds, dtype=np.int64)
    steps = stimuli["sine_steps"]
    for level in STAGE_LEVELS_DBFS:
        start, end = steps.segments[f"level_{level:g}dBFS"]
        segment = audio["sine_steps"][start:end].astype(np.float64)
        tag = f"sine {level:g} dBFS"
        metrics[f"rms_dbfs[{tag}]"] = MetricValue(float(rms_dbfs(segment)), "dB")
        metrics[f"thd_pct[{tag}]"] = MetricValue(
            thd(segment, STAGE_RATE, STAGE_SINE_HZ).thd_ratio * 100.0, "%"
        )
    for name, segment_name in (("sweep", "sweep"), ("imd", "steady")):
        start, end = stimuli[name].segments[segment_name]
        y = audio[name][start:end].astype(np.float64)
        metrics[f"rms_dbfs[{name}]"] = MetricValue(float(rms_dbfs(y)), "dB")
    return GoldenData(
        sample_rate=STAGE_RATE,
        audio=audio,
        arrays=arrays,
        metrics=metrics,
        inputs={name: stim.signal.astype(np.float32) for name, stim in stimuli.items()},
        params={
            "kind": kind,
            "stage": _jsonable_params(params),
            "stimuli": {n: s.meta for n, s in stimuli.items()},
        },
        versions={"greybound-runtime": _runtime_version()},
    )


def _runtime_version() -> str:
    from harness import _greybound

    return str(getattr(_greybound, "__version__", "unknown"))


def _register_stage(kind: str) -> None:
    def produce() -> GoldenData:
        return render_stage_golden(kind)

    produce.__qualname__ = f"render_stage_golden[{kind}]"
    REGISTRY.register(
        f"stages/{kind}",
        model="runtime",
        description=f"runtime stage {kind} at default parameters, 48 kHz",
    )(produce)


for _kind in STAGE_KINDS:
    _register_stage(_kind)


# --- trained WaveNet goldens (issue 8) ----------------------------------------------------
# Not producers: a trained model cannot be re-made in a test (training takes minutes to
# hours), so a WaveNet golden is *copied* from a `train-wavenet` run by
# `greybound-lab wavenet-golden --run-dir DIR` and checked by `cargo test`
# (tests/wavenet_golden.rs) and pytest (tests/wavenet/test_wavenet_golden.py) — as the
# trained cells under golden/cells/ are. Its manifest has this module's schema, so
# :func:`load_golden` verifies its hashes.

#: Trained WaveNet goldens live in ``golden/wavenet/<model name>/``.
WAVENET_GROUP = "wavenet"
#: Files copied byte for byte from the run directory.
WAVENET_COPIED = ("model.greybound.json", "weights.greybound.bin", "report.md")
WAVENET_VECTORS = "vectors.json"
WAVENET_REPORT_JSON = "report.json"
#: The golden's vectors are the run's ``vectors.json`` cut after the first jump of the last
#: knob plus this many samples (2,048 = 43 ms at 48 kHz, ≈ 1/3 of the receptive field):
#: every knob has moved once; for two knobs (jumps at 4,096 and 8,192 of 16,384) that is
#: 10,240 samples, ≈ 240 kB of JSON instead of the run's ≈ 700 kB.
WAVENET_VECTOR_TAIL = 2048


def _f32_values(values: list, where: str) -> list[float]:
    """float32 values as the shortest decimals that read back to the same float32."""
    arr = np.asarray(values, dtype=np.float32)
    out = [float(str(v)) for v in arr]
    if not np.array_equal(np.asarray(out, dtype=np.float32), arr):
        raise GoldenError(f"{where}: a value does not survive the decimal round trip")
    return out


def wavenet_vector_excerpt(vectors: dict, where: str) -> dict:
    """The golden's excerpt of a run's WaveNet vectors (see :data:`WAVENET_VECTOR_TAIL`):
    the first samples of ``input``/``output`` and the knob jumps inside them. A causal
    model rendered from rest gives the same first samples whatever follows, so the excerpt
    is itself a valid vector file."""
    changes = vectors.get("control_changes") or []
    first: dict[str, int] = {}
    for change in changes:
        first.setdefault(change["name"], int(change["sample"]))
    if set(first) != set(vectors["controls"]):
        raise GoldenError(f"{where}: control_changes must move every knob of {vectors['controls']}")
    total = len(vectors["input"])
    n = min(total, max(first.values()) + WAVENET_VECTOR_TAIL)
    kept = [c for c in changes if int(c["sample"]) < n]
    return {
        **vectors,
        "input": _f32_values(vectors["input"][:n], f"{where}: input"),
        "output": _f32_values(vectors["output"][:n], f"{where}: output"),
        "control_changes": kept,
        "excerpt": {"samples": n, "of_samples": total, "tail": WAVENET_VECTOR_TAIL},
    }


@dataclass(frozen=True)
class WavenetGolden:
    """A committed WaveNet golden, hashes checked: its directory, manifest, vectors and
    machine-readable report."""

    name: str
    directory: Path
    manifest: dict[str, Any]
    vectors: dict[str, Any]
    report: dict[str, Any]

    @property
    def descriptor(self) -> Path:
        return self.directory / WAVENET_COPIED[0]


def wavenet_golden_names(root: str | Path | None = None) -> list[str]:
    """Names (``wavenet/<model>``) of the WaveNet goldens under ``root`` (default
    :data:`GOLDEN_DIR`), sorted."""
    base = Path(GOLDEN_DIR if root is None else root) / WAVENET_GROUP
    return sorted(f"{WAVENET_GROUP}/{p.parent.name}" for p in base.glob(f"*/{MANIFEST}"))


def load_wavenet_golden(name: str, root: str | Path | None = None) -> WavenetGolden:
    """Read ``<root>/<name>/`` (every file checked against the manifest's SHA-256 by
    :func:`load_golden`) with its vectors and report."""
    root = GOLDEN_DIR if root is None else root
    committed = load_golden(name, root)
    directory = Path(root) / name
    for fname in (*WAVENET_COPIED, WAVENET_VECTORS, WAVENET_REPORT_JSON):
        if fname not in committed.files:
            raise GoldenError(f"{directory / MANIFEST}: files.{fname}: missing")
    return WavenetGolden(
        name,
        directory,
        committed.manifest,
        json.loads(committed.files[WAVENET_VECTORS]),
        json.loads(committed.files[WAVENET_REPORT_JSON]),
    )


def wavenet_report_json(descriptor: Path, renders_by_split: dict[str, list]) -> dict[str, Any]:
    """The graded report as data: size and cost, ESR per held-out knob setting (PyTorch
    renders of the artifact vs the reference, as ``report.md`` computes them) with NAM's
    band, and the conditioning check on the reference and the model."""
    from harness.artifacts import read_artifact
    from harness.cells.wavenet_config import load_wavenet_config
    from harness.cells.wavenet_report import (
        NAM_BANDS,
        artifact_renderer,
        conditioning_check,
        held_out_esr,
        rig_renderer,
    )

    artifact = read_artifact(descriptor)
    d = artifact.descriptor
    prov = d["provenance"]
    cfg = load_wavenet_config(prov["config"])
    model = artifact_renderer(artifact)
    rows = []
    for split in ("test", "validation"):
        for r in held_out_esr(cfg, model, renders_by_split[split], split):
            row = {"split": split, "knobs": r.setting, "esr": r.esr, "grade": r.grade}
            rows.append({**row, "esr_pre_emphasis": r.esr_pre_emphasis, "n_samples": r.n_samples})
    rate = d["sample_rate_hz"]
    lo_hi = {k: (min(v), max(v)) for k, v in cfg.knobs.items() if len(v) > 1}
    base = {k: v[len(v) // 2] for k, v in cfg.knobs.items()}
    checks = {
        "reference": conditioning_check(rig_renderer(cfg.rig, cfg.channel), rate, base, lo_hi),
        "model": conditioning_check(model, rate, base, lo_hi),
    }
    return {
        "model": d["name"],
        "sample_rate_hz": rate,
        "macs_per_sample": d["cpu_cost"]["macs_per_sample"],
        "macs_breakdown": prov["macs_breakdown"],
        "parameters": prov["parameters"],
        "memory_bytes": prov["memory_bytes"],
        "receptive_field_samples": prov["receptive_field_samples"],
        "held_out_esr": rows,
        "esr_definition": "harness.metrics.null.esr over the concatenated whole renders (from "
        "rest) of the split's phrases at that knob setting, no pre-emphasis; "
        "esr_pre_emphasis after 1 - 0.85 z^-1",
        "nam_bands": {name: bound for bound, name in NAM_BANDS},
        "conditioning": {
            who: {
                "base": base,
                "treble_high_band_db": c.treble_db,
                "treble_ok": c.treble_ok,
                "volume_thd_db": c.volume_thd_db,
                "volume_ok": c.volume_ok,
            }
            for who, c in checks.items()
        },
    }


def write_wavenet_golden(run_dir: str | Path, root: str | Path | None = None) -> Path:
    """Make ``<root>/wavenet/<model>/`` from a finished ``train-wavenet`` run in ``run_dir``:
    the artifact pair and ``report.md`` copied byte for byte, ``vectors.json`` as the
    excerpt of :func:`wavenet_vector_excerpt`, ``report.json`` (:func:`wavenet_report_json`)
    and ``manifest.json`` (command, inputs' and files' SHA-256, versions). The config named
    in the artifact's provenance must still hash as it did when the model was trained.
    Replaces the directory only once every file is made. Returns the directory."""
    import torch

    from harness.artifacts import read_artifact
    from harness.cells.wavenet_config import load_wavenet_config
    from harness.cells.wavenet_report import split_renders

    run = Path(run_dir)
    for fname in (*WAVENET_COPIED, WAVENET_VECTORS):
        if not (run / fname).is_file():
            raise InputError(f"{run / fname}: missing; is {run} a finished train-wavenet run?")
    artifact = read_artifact(run / WAVENET_COPIED[0])
    d = artifact.descriptor
    if d.get("family") != "wavenet":
        raise InputError(f"{run / WAVENET_COPIED[0]}: field 'family': expected 'wavenet'")
    prov = d["provenance"]
    cfg = load_wavenet_config(prov["config"])
    if cfg.sha256 != prov["config_sha256"]:
        raise GoldenError(
            f"{cfg.path}: changed since {run} was trained (sha256 {cfg.sha256[:12]}, "
            f"provenance {prov['config_sha256'][:12]}); re-train before making the golden"
        )
    name = f"{WAVENET_GROUP}/{d['name']}"
    vectors_path = run / WAVENET_VECTORS
    vectors_blob = vectors_path.read_bytes()
    vectors = wavenet_vector_excerpt(json.loads(vectors_blob), str(vectors_path))
    vectors["descriptor"] = WAVENET_COPIED[0]
    renders = {split: split_renders(cfg, split) for split in ("test", "validation")}
    files = {fname: (run / fname).read_bytes() for fname in WAVENET_COPIED}
    files[WAVENET_VECTORS] = (json.dumps(vectors, separators=(",", ":"), sort_keys=True)
                              + "\n").encode()  # fmt: skip
    files[WAVENET_REPORT_JSON] = _json_bytes(wavenet_report_json(run / WAVENET_COPIED[0], renders))
    rig_path = Path(cfg.rig)
    manifest = {
        "schema": SCHEMA,
        "name": name,
        "model": d["name"],
        "description": f"trained knob-conditioned WaveNet {d['name']} (config "
        f"{cfg.path.name}): artifact, PyTorch vectors with a knob sweep, graded report",
        "producer": f"{__name__}:write_wavenet_golden",
        "command": f"greybound-lab wavenet-golden --run-dir {run}",
        "training_command": prov["command"],
        "sample_rate": int(d["sample_rate_hz"]),
        "params": {
            "config": prov["config"],
            "vectors": vectors["excerpt"],
            "test_settings": cfg.settings("test"),
            "validation_settings": cfg.settings("validation"),
            "training_git_commit": prov["git_commit"],
            "seed": prov["seed"],
        },
        "inputs": {
            "config": sha256_bytes(cfg.path.read_bytes()),
            "rig": sha256_bytes(rig_path.read_bytes()),
            "run_vectors": sha256_bytes(vectors_blob),
        },
        "files": {fname: sha256_bytes(blob) for fname, blob in sorted(files.items())},
        "versions": versions({"torch": torch.__version__,
                              "greybound-runtime": _runtime_version()}),  # fmt: skip
    }  # fmt: skip
    files[MANIFEST] = _json_bytes(manifest)
    directory = Path(GOLDEN_DIR if root is None else root) / name
    _replace_dir(directory, files)
    return directory
