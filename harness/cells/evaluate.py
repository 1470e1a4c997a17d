"""Evaluate learned cells and the analytic stage against a SPICE dataset's held-out cases
(``greybound-lab evaluate-neural-cell`` / ``evaluate-analytic``).

Every model renders each held-out (``test`` split) case from rest through the Rust runtime
— the analytic stage with the case's circuit values, a neural cell with the case's values
as its controls — and is measured against SPICE:

* **weighted RMSE (mV)**: per-case mean squared errors weighted by sample count (the RMSE
  of all held-out samples pooled); also per case, and for the **zero-output baseline**;
* **hottest case**: RMSE relative to the SPICE output's RMS on the case with the largest
  input peak (where a cell leaves its comfortable range);
* **|ΔTHD|** (percentage points) on every settled sine segment, and **|ΔIMD|** (points)
  on two-tone cases, model vs SPICE;
* **gain/latency-corrected null residual (dB)**: a diagnostic — after ``align`` removes
  delay and gain, what is left is shape error, not level or timing error;
* **error by band** (RMS of the error below 200 Hz, 200 Hz–5 kHz, above 5 kHz): slow
  dynamics (coupling and bypass capacitors, bias shift) vs fast ones, to say *why* a model
  loses.

A candidate *beats* the analytic stage when it is better on at least two of: weighted
RMSE, hottest-case error, mean |ΔTHD|, mean |ΔIMD|, null residual.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from scipy import signal

from harness.datasets import DatasetManifest, read_npz, unpack
from harness.errors import LabError
from harness.metrics.distortion import imd, min_samples_to_resolve, thd
from harness.metrics.null import null_residual_db

#: Metrics that decide "beats the analytic stage" (all lower-is-better).
DECIDING = (
    "weighted_rmse_mv",
    "hottest_relative_error",
    "mean_abs_delta_thd_pp",
    "mean_abs_delta_imd_pp",
    "null_residual_db",
)
BANDS_HZ = ((0.0, 200.0), (200.0, 5000.0), (5000.0, math.inf))


@dataclass
class CandidateResult:
    name: str
    kind: str
    per_case_rmse_mv: dict[str, float] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)


def _band_rms_mv(err: np.ndarray, sample_rate: float) -> list[float]:
    out = []
    for lo, hi in BANDS_HZ:
        nyq = sample_rate / 2
        if lo <= 0:
            sos = signal.butter(4, hi / nyq, "lowpass", output="sos")
        elif math.isinf(hi):
            sos = signal.butter(4, lo / nyq, "highpass", output="sos")
        else:
            sos = signal.butter(4, [lo / nyq, hi / nyq], "bandpass", output="sos")
        out.append(1e3 * float(np.sqrt(np.mean(signal.sosfiltfilt(sos, err) ** 2))))
    return out


def _distortion_deltas(case_rec: dict, y: np.ndarray, ref: np.ndarray, fs: float):
    """(|ΔTHD| list, |ΔIMD| list) in percentage points for the case's settled segments."""
    meta, segs = case_rec["stimulus"]["meta"], case_rec["stimulus"]["segments"]
    d_thd, d_imd = [], []
    if meta.get("kind") in ("sine", "level_stepped_sine"):
        for name, (a, b) in segs.items():
            # Segments too short for the THD window's resolution are left out (the smoke
            # plan's 20 ms steps); the report lists how many segments were measured.
            if (name == "steady" or name.startswith("level_")) and b - a >= min_samples_to_resolve(
                meta["f0_hz"], fs
            ):
                t_ref = thd(ref[a:b], fs, meta["f0_hz"]).thd_ratio
                t_mod = thd(y[a:b], fs, meta["f0_hz"]).thd_ratio
                d_thd.append(100 * abs(t_mod - t_ref))
    if meta.get("kind") == "two_tone" and "steady" in segs:
        a, b = segs["steady"]
        std = meta.get("imd_method", "smpte")
        i_ref = imd(ref[a:b], fs, meta["f1_hz"], meta["f2_hz"], standard=std)
        i_mod = imd(y[a:b], fs, meta["f1_hz"], meta["f2_hz"], standard=std)
        d_imd.append(100 * abs(i_mod - i_ref))
    return d_thd, d_imd


def _renderer(kind: str, target, fixture_runtime, fs: float):
    """A function case → rendered output (V)."""
    from harness.runtime import NeuralCell, Stage

    if kind == "analytic":
        stage, names = fixture_runtime

        def render(case):
            return Stage(stage, fs, **{n: case.params[n] for n in names}).process(case.x)

        return render
    if kind == "zero":
        return lambda case: np.zeros_like(case.x)

    def render_cell(case):
        cell = NeuralCell(target, fs)
        desc = json.loads(Path(cell.path).read_text())
        for c in desc.get("controls", []):
            cell.set_control(c["name"], case.params[c["name"]])
        return cell.process(case.x)

    return render_cell


def _evaluate(name, kind, render, cases, records, fs, stride) -> CandidateResult:
    res = CandidateResult(name, kind)
    sq, n, d_thd, d_imd, nulls = 0.0, 0, [], [], []
    bands = np.zeros(len(BANDS_HZ))
    hottest = max(cases, key=lambda c: float(np.max(np.abs(c.x))))
    for case in cases:
        y = render(case)
        err = (y - case.y)[::stride]
        sq += float(np.sum(err**2))
        n += err.size
        res.per_case_rmse_mv[case.case_id] = 1e3 * float(np.sqrt(np.mean(err**2)))
        bands += np.array(_band_rms_mv(y - case.y, fs)) ** 2 * case.x.size
        if kind != "zero":  # the zero output has no fundamental, no THD, nothing to align
            t, i = _distortion_deltas(records[case.case_id], y, case.y, fs)
            d_thd += t
            d_imd += i
            nulls.append(null_residual_db(case.y, y, fs))
        if case is hottest:
            ref_rms = float(np.sqrt(np.mean((case.y - np.mean(case.y)) ** 2)))
            res.metrics["hottest_relative_error"] = (
                float(np.sqrt(np.mean((y - case.y) ** 2))) / ref_rms
            )
            res.metrics["hottest_case"] = case.case_id
    total = sum(c.x.size for c in cases)
    res.metrics["weighted_rmse_mv"] = 1e3 * math.sqrt(sq / n)
    res.metrics["mean_abs_delta_thd_pp"] = float(np.mean(d_thd)) if d_thd else math.nan
    res.metrics["mean_abs_delta_imd_pp"] = float(np.mean(d_imd)) if d_imd else math.nan
    res.metrics["null_residual_db"] = float(np.mean(nulls)) if nulls else math.nan
    for (lo, hi), v in zip(BANDS_HZ, np.sqrt(bands / total), strict=True):
        res.metrics[f"error_rms_mv_{lo:g}_{hi:g}_hz"] = float(v)
    return res


def _load(dataset_manifest: str | Path):
    path = Path(dataset_manifest)
    manifest = DatasetManifest.from_json(path)
    cases = [
        c for c in unpack(read_npz(path.parent / manifest.package["file"])) if c.split == "test"
    ]
    if not cases:
        raise LabError(f"{path}: the dataset has no held-out (test split) cases")
    records = {r.id: asdict(r) for r in manifest.cases}
    return manifest, cases, records


def _analytic_runtime(fixture: str):
    from harness.spice.cell import load_cell

    cell = load_cell(fixture)
    if cell.runtime is None:
        raise LabError(f"{fixture}: the cell spec names no runtime stage to compare")
    return cell.runtime.stage, list(cell.runtime.params)


def evaluate(descriptors, dataset_manifest, stride: int = 1) -> dict:
    """Analytic stage, zero baseline and each artifact on the held-out cases (see module)."""
    if stride < 1:
        raise LabError(f"--stride must be >= 1, got {stride}")
    manifest, cases, records = _load(dataset_manifest)
    fs = float(manifest.sample_rate)
    fixture = manifest.fixture["name"]
    runtime = _analytic_runtime(fixture)
    plan = [("analytic", "analytic", None), ("zero output", "zero", None)]
    plan += [
        (Path(d).parent.name if Path(d).name.endswith(".json") else Path(d).name, "neural", d)
        for d in descriptors
    ]
    results = [
        _evaluate(n, k, _renderer(k, t, runtime, fs), cases, records, fs, stride)
        for n, k, t in plan
    ]
    analytic = results[0]
    for r in results[2:]:
        wins = [m for m in DECIDING if r.metrics[m] < analytic.metrics[m]]
        r.metrics["beats_analytic_in"] = wins
        r.metrics["beats_analytic"] = len(wins) >= 2
    return {
        "fixture": fixture,
        "dataset": str(dataset_manifest),
        "stride": stride,
        "test_cases": [c.case_id for c in cases],
        "candidates": [asdict(r) for r in results],
    }


def _verdict(result: dict) -> list[str]:
    cands = result["candidates"]
    analytic = cands[0]["metrics"]
    lines = []
    neural = cands[2:]
    winners = [c["name"] for c in neural if c["metrics"]["beats_analytic"]]
    if not neural:
        return ["Only the analytic stage was evaluated."]
    if winners:
        lines.append(
            f"**Verdict:** {', '.join(winners)} beat(s) the analytic stage in at least two metrics."
        )
    else:
        lines.append(
            "**Verdict:** no learned cell beats the analytic stage in two or more metrics; "
            "the gate rejects them."
        )
    for c in neural:
        m = c["metrics"]
        excess = [
            (label, m[key] - analytic[key])
            for label, key in (
                (
                    "< 200 Hz (slow dynamics: coupling/bypass capacitors, bias shift)",
                    "error_rms_mv_0_200_hz",
                ),
                ("200 Hz – 5 kHz (the static transfer curve)", "error_rms_mv_200_5000_hz"),
                ("> 5 kHz (fast dynamics, Miller pole)", "error_rms_mv_5000_inf_hz"),
            )
        ]
        where, amount = max(excess, key=lambda t: t[1])
        lines.append(
            f"- {c['name']}: better in {m['beats_analytic_in'] or 'no metric'}; its largest "
            f"excess error over the analytic stage is {amount:.1f} mV RMS at {where}; "
            f"hottest-case error {100 * m['hottest_relative_error']:.1f} % vs analytic "
            f"{100 * analytic['hottest_relative_error']:.1f} % (conditioning at the top of "
            "the range)."
        )
    return lines


def write_report(result: dict, report: str | Path) -> Path:
    """Markdown side by side (+ a JSON twin next to it)."""
    out = Path(report)
    out.parent.mkdir(parents=True, exist_ok=True)
    cands = result["candidates"]
    names = [c["name"] for c in cands]
    rows = [
        ("weighted RMSE (mV)", "weighted_rmse_mv", "{:.2f}"),
        ("hottest case, RMSE / RMS", "hottest_relative_error", "{:.4f}"),
        ("mean |ΔTHD| (pp)", "mean_abs_delta_thd_pp", "{:.4f}"),
        ("mean |ΔIMD| (pp)", "mean_abs_delta_imd_pp", "{:.4f}"),
        ("null residual, gain/latency corrected (dB)", "null_residual_db", "{:.1f}"),
        ("error < 200 Hz (mV RMS)", "error_rms_mv_0_200_hz", "{:.2f}"),
        ("error 200 Hz–5 kHz (mV RMS)", "error_rms_mv_200_5000_hz", "{:.2f}"),
        ("error > 5 kHz (mV RMS)", "error_rms_mv_5000_inf_hz", "{:.2f}"),
    ]
    lines = [
        f"# Cells vs SPICE: {result['fixture']}",
        "",
        f"Dataset `{result['dataset']}`, held-out cases: {', '.join(result['test_cases'])}. "
        + (
            "Error statistics use every sample."
            if result["stride"] == 1
            else f"Error statistics use every {result['stride']}th sample."
        ),
        "",
        "| metric | " + " | ".join(names) + " |",
        "|---|" + "---:|" * len(names),
    ]
    for label, key, fmt in rows:
        vals = [c["metrics"].get(key, math.nan) for c in cands]
        lines.append(
            f"| {label} | "
            + " | ".join(
                "n/a" if isinstance(v, float) and math.isnan(v) else fmt.format(v) for v in vals
            )
            + " |"
        )
    lines += [
        "",
        "## Per case RMSE (mV)",
        "",
        "| case | " + " | ".join(names) + " |",
        "|---|" + "---:|" * len(names),
    ]
    for case in result["test_cases"]:
        lines.append(
            f"| {case} | " + " | ".join(f"{c['per_case_rmse_mv'][case]:.2f}" for c in cands) + " |"
        )
    lines += ["", *_verdict(result), ""]
    out.write_text("\n".join(lines))
    out.with_suffix(".json").write_text(
        json.dumps(result, indent=2, sort_keys=True, default=str) + "\n"
    )
    return out


def evaluate_neural_cell(descriptors, dataset_manifest, report, stride: int = 1) -> Path:
    """``greybound-lab evaluate-neural-cell``: artifacts + analytic + zero baseline → report."""
    return write_report(evaluate(list(descriptors), dataset_manifest, stride), report)


def evaluate_analytic(fixture: str, dataset_manifest, report, stride: int = 1) -> Path:
    """``greybound-lab evaluate-analytic``: the analytic stage (and zero baseline) alone."""
    result = evaluate([], dataset_manifest, stride)
    if result["fixture"] != fixture:
        raise LabError(
            f"{dataset_manifest}: the dataset is for {result['fixture']!r}, not {fixture!r}"
        )
    return write_report(result, report)
