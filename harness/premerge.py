"""``greybound-lab gate --candidate PATH [--baseline PATH]``: the pre-merge gate for one
learned-cell artifact. Every Greybound acceptance criterion is measured, printed as a table
and recorded in the trend store; the command exits non-zero unless all hold.

Criteria (each a row; a row holds only when every check in it holds):

1. **cell boundary** — the artifact names a SPICE cell fixture whose spec states its ports,
   source and load impedance and supply: what is inside the model is explicit.
2. **reference data** — the training dataset is rebuilt from its fixture and size and the
   manifest's SHA-256 must equal the one in the artifact's provenance.
3. **improvement** — on the held-out SPICE cases the candidate beats the baseline (the
   analytic stage, or ``--baseline`` artifact) in at least two metrics
   (``harness.cells.evaluate``).
4. **safe levels** — sines up to +20 dBFS (10 V peak) give finite output within the
   declared output range; 1 s of silence gives output below −60 dB re the output scale
   after the receptive field; no subnormal sample.
5. **latency / lookahead** — measured delay against SPICE is 0 ± 0.5 samples; changing the
   input after sample n leaves every output up to n unchanged (causality).
6. **allocation** — the runtime's counting allocator sees 0 heap allocations in ``process``.
7. **CPU cost** — MACs/sample as declared; measured ns/sample ≤ 3 × declared (the
   declaration is a measurement at export; 3× covers a loaded 2-core host).
8. **sample rates** — every declared rate loads; an undeclared one is refused.
9. **out-of-range input** — input beyond the declared range gives the same output as input
   at the range edge (declared clamp: saturate).
10. **Rust path without the training stack** — a fresh interpreter with PyTorch blocked
    loads the artifact and reproduces PyTorch's equivalence vectors.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.errors import LabError

#: Silence must stay below this level re the output scale (dB): 1 mV on a 1 V-scale cell.
SILENCE_LIMIT_DB = -60.0
#: Allowed ratio of measured to declared ns/sample.
CPU_MARGIN = 3.0
#: Highest test level (dBFS; 0 dBFS = 1 V peak): 10 V, far above any guitar pickup.
HOT_LEVEL_DBFS = 20.0


@dataclass
class Criterion:
    name: str
    passed: bool
    measured: str
    requirement: str


def _cell_boundary(desc: dict) -> Criterion:
    from harness.spice.cell import load_cell

    requirement = "SPICE cell with input/output/inside/outside and source/load impedance"
    name = desc.get("cell")
    try:
        cell = load_cell(name) if name else None
    except LabError as exc:
        return Criterion("cell boundary", False, str(exc), requirement)
    if cell is None:
        return Criterion("cell boundary", False, "artifact names no cell", requirement)
    sides = [k for k in ("input", "output", "inside", "outside") if cell.boundary.get(k)]
    ports = [k for k in ("source_impedance", "load_impedance") if k in cell.parameters]
    ok = len(sides) == 4 and len(ports) == 2
    return Criterion("cell boundary", ok, f"{name}: {', '.join(sides + ports)}", requirement)


def _rebuild_dataset(desc: dict, directory: Path) -> tuple[Path, Criterion]:
    """Rebuild the training dataset from its fixture and size into ``directory``; the
    criterion compares the new manifest's SHA-256 with the artifact's provenance."""
    import hashlib

    from harness.spice.dataset import build_dataset

    prov = desc.get("provenance", {})
    requirement = "dataset rebuilt from its fixture; manifest SHA-256 as in provenance"
    fixture, size = prov.get("dataset_fixture"), prov.get("dataset_size")
    if not fixture or not size:
        return Path(), Criterion(
            "reference data", False, "provenance lacks dataset_fixture/size", requirement
        )
    result = build_dataset(fixture, directory, size=size, progress=False)
    got = hashlib.sha256(result.manifest.read_bytes()).hexdigest()
    want = prov.get("dataset_manifest_sha256", "")
    measured = f"{fixture} ({size}): rebuilt {got[:12]}, provenance {want[:12]}"
    return result.manifest, Criterion("reference data", got == want, measured, requirement)


def _improvement(candidate: Path, baseline: Path | None, manifest: Path) -> Criterion:
    from harness.cells.evaluate import DECIDING, evaluate

    paths = [candidate] + ([baseline] if baseline else [])
    result = evaluate(paths, manifest)
    cands = {c["name"]: c["metrics"] for c in result["candidates"]}
    cand = result["candidates"][2]["metrics"]
    base = result["candidates"][3]["metrics"] if baseline else cands["analytic"]
    wins = [m for m in DECIDING if cand[m] < base[m]]
    label = Path(baseline).parent.name if baseline else "analytic stage"
    return Criterion(
        "improvement over baseline",
        len(wins) >= 2,
        f"better than {label} in {wins or 'no metric'}",
        "≥ 2 metrics better",
    )


def _cell(candidate: Path, fs: float):
    from harness.runtime import NeuralCell

    return NeuralCell(candidate, fs)


def _safe_levels(candidate: Path, desc: dict) -> Criterion:
    fs = desc["sample_rate_hz"]
    lo, hi = desc["output"]["range"]
    scale = desc["output"]["scale"]
    notes, ok = [], True
    for level in (-20.0, 0.0, 10.0, HOT_LEVEL_DBFS):
        t = np.arange(int(0.2 * fs)) / fs
        x = 10 ** (level / 20) * np.sin(2 * np.pi * 220 * t)
        y = _cell(candidate, fs).process(x.astype(np.float32))
        bounded = bool(np.all(np.isfinite(y)) and y.min() >= lo and y.max() <= hi)
        ok &= bounded
        if not bounded:
            notes.append(f"{level:+.0f} dBFS unbounded")
    cell = _cell(candidate, fs)
    y = cell.process(np.zeros(int(fs), np.float32))[int(0.1 * fs) :]
    rms = float(np.sqrt(np.mean(y.astype(np.float64) ** 2)))
    silence_db = 20 * np.log10(max(rms, 1e-30) / scale)
    subnormal = int(np.sum((y != 0) & (np.abs(y) < np.finfo(np.float32).tiny)))
    ok &= silence_db < SILENCE_LIMIT_DB and subnormal == 0
    notes.append(f"silence {silence_db:.1f} dB re scale, {subnormal} subnormal")
    return Criterion(
        "safe levels",
        ok,
        "; ".join(notes),
        f"finite, in range to +{HOT_LEVEL_DBFS:.0f} dBFS; silence < {SILENCE_LIMIT_DB:.0f} dB; "
        "no subnormals",
    )


def _latency(candidate: Path, desc: dict, manifest_path: Path) -> Criterion:
    from harness.datasets import DatasetManifest, read_npz, unpack
    from harness.metrics.align import estimate_delay

    manifest = DatasetManifest.from_json(manifest_path)
    cases = [
        c
        for c in unpack(read_npz(manifest_path.parent / manifest.package["file"]))
        if c.split == "test"
    ]
    fs = desc["sample_rate_hz"]
    case = max(cases, key=lambda c: c.x.size)
    cell = _cell(candidate, fs)
    for c in desc.get("controls", []):
        cell.set_control(c["name"], case.params[c["name"]])
    delay = estimate_delay(case.y, cell.process(case.x), fs)
    rng = np.random.default_rng(0)
    x = rng.normal(scale=0.3, size=2048).astype(np.float32)
    changed = x.copy()
    changed[1024:] = rng.normal(scale=0.3, size=1024)
    a, b = _cell(candidate, fs).process(x), _cell(candidate, fs).process(changed)
    causal = bool(np.array_equal(a[:1024], b[:1024]))
    ok = (
        abs(delay) <= 0.5
        and causal
        and desc["latency_samples"] == 0
        and desc["lookahead_samples"] == 0
    )
    return Criterion(
        "latency / lookahead",
        ok,
        f"delay vs SPICE {delay:+.2f} samples; causal: {causal}; declared "
        f"{desc['latency_samples']}/{desc['lookahead_samples']}",
        "0 ± 0.5 samples, no lookahead",
    )


def _allocation(candidate: Path, desc: dict) -> Criterion:
    x = (0.5 * np.sin(np.arange(48000) / 7.0)).astype(np.float32)
    n = _cell(candidate, desc["sample_rate_hz"]).allocations_during_process(x)
    return Criterion("allocation", n == 0, f"{n} heap allocations in process", "0")


def _cpu(candidate: Path, desc: dict) -> Criterion:
    fs = desc["sample_rate_hz"]
    cell = _cell(candidate, fs)
    x = (0.3 * np.sin(2 * np.pi * 220 * np.arange(int(fs)) / fs)).astype(np.float32)
    times = []
    for _ in range(5):
        start = time.perf_counter()
        cell.process(x)
        times.append(time.perf_counter() - start)
    ns = float(np.median(times)) / x.size * 1e9
    declared = desc["cpu_cost"]
    ok = (
        cell.macs_per_sample == declared["macs_per_sample"]
        and ns <= CPU_MARGIN * declared["ns_per_sample"]
    )
    return Criterion(
        "CPU cost",
        ok,
        f"{cell.macs_per_sample} MACs (declared {declared['macs_per_sample']}), "
        f"{ns:.0f} ns/sample (declared {declared['ns_per_sample']:.0f})",
        f"MACs as declared; ns ≤ {CPU_MARGIN:g}× declared",
    )


def _sample_rates(candidate: Path, desc: dict) -> Criterion:
    supported = desc["sample_rates_supported"]
    loads = all(_cell(candidate, fs) is not None for fs in supported)
    other = next(fs for fs in (44100.0, 48000.0, 96000.0, 88200.0) if fs not in supported)
    try:
        _cell(candidate, other)
        refused = False
    except ValueError:
        refused = True
    return Criterion(
        "sample rates",
        loads and refused,
        f"{supported} load; {other:g} Hz {'refused' if refused else 'ACCEPTED'}",
        "declared rates load; others refused",
    )


def _out_of_range(candidate: Path, desc: dict) -> Criterion:
    lo, hi = desc["input"]["range"]
    fs = desc["sample_rate_hz"]
    n = 512
    edge = np.full(n, hi, np.float32)
    beyond = np.full(n, 4 * hi, np.float32)
    same = np.array_equal(_cell(candidate, fs).process(edge), _cell(candidate, fs).process(beyond))
    return Criterion(
        "out-of-range input",
        same and desc["input"]["clamp"] == "saturate",
        f"input 4× beyond {hi:g} V {'equals' if same else 'differs from'} the edge",
        "saturate at the declared range",
    )


_NO_TORCH = """
import sys, json
sys.modules["torch"] = None  # any import of torch now fails
import numpy as np
from harness.runtime import NeuralCell
v = json.load(open(sys.argv[1]))
cell = NeuralCell(sys.argv[2], v["sample_rate"], **v["controls"])
y = cell.process(np.array(v["input"], np.float32))
want = np.array(v["output"], np.float32)
print(float(np.max(np.abs(y - want)) / np.max(np.abs(want))))
"""


def _rust_without_training_stack(candidate: Path, desc: dict) -> Criterion:
    from harness.cells.vectors import export_neural_cell_vectors

    with tempfile.TemporaryDirectory() as tmp:
        vectors = export_neural_cell_vectors(candidate, Path(tmp) / "vectors.json")
        run = subprocess.run(
            [sys.executable, "-c", _NO_TORCH, str(vectors), str(candidate)],
            capture_output=True,
            text=True,
        )
    if run.returncode != 0:
        return Criterion(
            "Rust path without PyTorch",
            False,
            run.stderr.strip().splitlines()[-1],
            "loads and matches vectors with torch blocked",
        )
    err = float(run.stdout.strip())
    tol = 5e-6 if desc["family"] == "gru" else 1e-6
    return Criterion(
        "Rust path without PyTorch",
        err <= tol,
        f"max error {err:.2e} of output scale",
        f"≤ {tol:g} of output scale, torch blocked",
    )


def gate(candidate: str | Path, baseline: str | Path | None = None) -> list[Criterion]:
    """Measure every criterion for the candidate artifact (see module docstring)."""
    from harness.artifacts import read_artifact

    path = Path(candidate)
    if path.is_dir():
        path = path / "model.greybound.json"
    desc = read_artifact(path).descriptor
    base = None if baseline is None else Path(baseline)
    if base is not None and base.is_dir():
        base = base / "model.greybound.json"
    with tempfile.TemporaryDirectory() as tmp:
        manifest, reference = _rebuild_dataset(desc, Path(tmp))
        if manifest.is_file():
            with_data = [
                lambda: _improvement(path, base, manifest),
                lambda: _latency(path, desc, manifest),
            ]
        else:
            missing = "not measured: the reference dataset could not be rebuilt"
            with_data = [
                lambda: Criterion(
                    "improvement over baseline", False, missing, "≥ 2 metrics better"
                ),
                lambda: Criterion("latency / lookahead", False, missing, "0 ± 0.5 samples"),
            ]
        checks = [
            lambda: _cell_boundary(desc),
            lambda: reference,
            *with_data,
            lambda: _safe_levels(path, desc),
            lambda: _allocation(path, desc),
            lambda: _cpu(path, desc),
            lambda: _sample_rates(path, desc),
            lambda: _out_of_range(path, desc),
            lambda: _rust_without_training_stack(path, desc),
        ]
        return [check() for check in checks]


def format_table(name: str, criteria: list[Criterion]) -> str:
    rows = [
        f"Pre-merge gate: {name}",
        "",
        "| criterion | result | measured | requirement |",
        "|---|---|---|---|",
    ]
    rows += [
        f"| {c.name} | {'PASS' if c.passed else 'FAIL'} | {c.measured} | {c.requirement} |"
        for c in criteria
    ]
    failed = [c.name for c in criteria if not c.passed]
    rows += ["", "verdict: " + ("ACCEPT" if not failed else f"REJECT ({', '.join(failed)})")]
    return "\n".join(rows)


def record(name: str, criteria: list[Criterion], trend_db: str | Path | None = None) -> int:
    """One trend-store run with one row per criterion (value 1 = pass)."""
    from harness.trend import Measurement, TrendStore, collect_run_info

    rows = [
        Measurement(
            test_id=f"gate::{name}::{c.name}",
            suite="premerge",
            metric=c.name,
            value=float(c.passed),
            unit="pass",
            model=name,
            threshold=1.0,
            better="higher",
            passed=c.passed,
        )
        for c in criteria
    ]
    with TrendStore(trend_db) as store:
        return store.record_run(collect_run_info(source="gate"), rows)
