"""A learned cell judged inside the whole amp: analytic, shadow and replace renders of one rig.

``evaluate_integrated_neural_cell`` renders a rig (default: the Nox30) three ways from the
same input at the rig's sample rate (Hz) — the analytic chain, the chain with a learned cell
shadowing one stage (audio from the analytic stage; the cell's error against the stage's
output, in V and dB, is the *local mismatch*), and the chain with the cell replacing the
stage (the *rendered impact*: replace vs analytic by ESR, null residual, MRSTFT and THD of a
sine). The cell's controls are set from the bound stage's parameters; where the stage's
circuit differs from the cell's training circuit (its SPICE fixture), the report lists every
differing parameter, so a large error reads as what it is: the cell used outside the circuit
it learned.

Alignment: the replaced stage's latency (its oversampling filters; the cell has none) drops
out of the replace render, so replace is compared with analytic shifted by exactly that many
samples (no estimation).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from harness.errors import InputError

#: Report path of ``make lab-evaluate-integrated-neural-cell``.
DEFAULT_REPORT = Path("reports") / "integrated-neural-first-stage.md"
#: The golden learned cells of the 12AX7 common-cathode stage.
DEFAULT_CELLS = (
    "common-cathode-12ax7-mlp",
    "common-cathode-12ax7-gru",
    "common-cathode-12ax7-table",
)
#: THD probe: a 440 Hz sine (A4, mid guitar range) at −20 dBFS (0.1 V peak, a moderate
#: pickup level), 1 s, the first 0.5 s discarded as settling (the slowest Nox30 coupling
#: and bypass time constants, ≈ 33 ms, are down by > 60 dB by then).
THD_F0_HZ = 440.0
THD_LEVEL_DBFS = -20.0
THD_SECONDS = 1.0
THD_SETTLE_SECONDS = 0.5
#: ESR pre-emphasis coefficient (Wright et al. 2019, as the cell training uses).
PRE_EMPHASIS = 0.85


@dataclass
class CellImpact:
    """One cell bound to one stage: its controls, local mismatch and rendered impact.

    Shadow error (local, at the stage's output): ``shadow_rms_error_v``/``..._peak_error_v``
    (V) and the same in dB re the stage's output RMS/peak, ``shadow_worst_block_db``.
    Rendered impact (rig output, replace vs analytic, full-scale units): ``esr``,
    ``esr_pre_emphasis`` (0.85), ``null_residual_db`` (least-squares gain matched),
    ``mrstft``, ``thd_analytic``/``thd_replace`` (ratios, −20 dBFS 440 Hz),
    ``clip_count_analytic``/``clip_count_replace`` (output samples ≥ 0 dBFS).
    ``shadow_bit_identical``: the shadow render's audio equals the analytic render's."""

    cell: str
    stage: str
    controls: dict[str, float]
    controls_clamped: dict[str, list[float]]
    circuit_differences: dict[str, tuple[float, float]]
    shadow_bit_identical: bool
    shadow_rms_error_v: float
    shadow_peak_error_v: float
    shadow_rms_error_db: float | None
    shadow_peak_error_db: float | None
    shadow_worst_block_db: float | None
    stage_rms_v: float
    esr: float
    esr_pre_emphasis: float
    null_residual_db: float
    mrstft: float
    thd_analytic: float
    thd_replace: float
    clip_count_analytic: int
    clip_count_replace: int
    real_time_factor_shadow: float
    real_time_factor_replace: float


@dataclass
class IntegrationResult:
    """The evaluation: rig, input, sample rate (Hz), the analytic render's health, and one
    ``CellImpact`` per cell; ``report`` is the Markdown path written."""

    rig: str
    stage: str
    input: str
    sample_rate: float
    n_samples: int
    analytic_peak_dbfs: float
    analytic_clip_count: int
    analytic_b_plus_min_v: float | None
    analytic_real_time_factor: float
    cells: list[CellImpact] = field(default_factory=list)
    report: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _input_signal(
    input_path: str | Path | None, rate: int, seconds: float
) -> tuple[np.ndarray, str]:
    """The input: a WAV at the rig's rate, or the built-in DI phrase (seed 0, −10 dBFS)."""
    if input_path is None:
        from harness.stimuli import di_phrase

        return di_phrase(rate, seed=0, duration_s=seconds).signal, (
            f"built-in DI phrase (harness.stimuli.di_phrase, seed 0, {seconds:g} s, −10 dBFS peak)"
        )
    from harness.audio import read_wav

    x, fs = read_wav(input_path)
    if fs != rate:
        raise InputError(f"{input_path}: sample rate {fs} Hz differs from the rig's {rate} Hz")
    return x, str(input_path)


def _circuit_differences(cell_fixture: str, stage_params: dict[str, Any]) -> dict[str, tuple]:
    """Parameters the stage and the cell's training circuit (SPICE fixture) share but set
    differently: name → (stage value, training value)."""
    from harness.spice.cell import load_cell

    trained = load_cell(cell_fixture).parameters
    out = {}
    for name, value in stage_params.items():
        if name in trained and isinstance(value, (int, float)):
            t = float(trained[name].value)
            if not math.isclose(float(value), t, rel_tol=1e-9):
                out[name] = (float(value), t)
    return out


def _thd(chain_factory, binding, rate: float) -> float:
    from harness.metrics.distortion import thd
    from harness.rigs import render_monitored
    from harness.stimuli import sine

    x = sine(rate, THD_F0_HZ, THD_LEVEL_DBFS, THD_SECONDS).signal.astype(np.float32)
    y, _ = render_monitored(chain_factory(), x, neural=binding)
    return thd(y[int(THD_SETTLE_SECONDS * rate) :].astype(np.float64), rate, THD_F0_HZ).thd_ratio


def evaluate_integrated_neural_cell(
    *,
    rig: str | Path = "nox30",
    stage: str | None = None,
    cells: tuple[str | Path, ...] = DEFAULT_CELLS,
    input_path: str | Path | None = None,
    seconds: float = 8.0,
    knobs: dict[str, float] | None = None,
    channel: str | None = None,
    report: str | Path = DEFAULT_REPORT,
) -> IntegrationResult:
    """Render ``rig`` analytic, with each cell in shadow and in replace mode on ``stage``
    (default: the rig's first ``triode_common_cathode`` stage), measure, and write the
    Markdown ``report`` plus, in ``<report stem>/``, the WAVs (32-bit float, rig rate) and
    monitor logs. ``input_path``: a mono WAV at the rig's rate; None: the built-in DI phrase
    of ``seconds`` s. Returns the numbers behind the report."""
    import json

    from harness.audio import write_wav
    from harness.metrics.levels import peak_dbfs
    from harness.metrics.null import esr, null_residual_db
    from harness.metrics.spectral import mrstft_distance
    from harness.rigs import (
        NeuralBinding,
        RigChain,
        load_rig,
        render_monitored,
        resolve_artifact,
        write_monitor_log,
    )

    r = load_rig(rig)
    if stage is None:
        triodes = [s.name for s in r.stages if s.kind == "triode_common_cathode"]
        if not triodes:
            raise InputError(f"{r.path}: no triode_common_cathode stage to bind a cell to")
        stage = triodes[0]
    x, source = _input_signal(input_path, r.sample_rate, seconds)
    x = x.astype(np.float32)
    report = Path(report)
    out_dir = report.parent / report.stem
    out_dir.mkdir(parents=True, exist_ok=True)

    def chain() -> RigChain:
        return RigChain(r, knobs, channel)

    analytic, records = render_monitored(chain(), x)
    write_wav(out_dir / "analytic.wav", analytic, r.sample_rate)
    write_monitor_log(out_dir / "analytic.monitor.jsonl", records)
    a_summary = records[-1]
    stage_params = r.stage_params(knobs, channel)[[s.name for s in r.stages].index(stage)]
    thd_analytic = _thd(chain, (), r.sample_rate)
    result = IntegrationResult(
        rig=r.name,
        stage=stage,
        input=source,
        sample_rate=float(r.sample_rate),
        n_samples=int(x.size),
        analytic_peak_dbfs=peak_dbfs(analytic.astype(np.float64)),
        analytic_clip_count=a_summary["clip_count"],
        analytic_b_plus_min_v=a_summary["b_plus_min_v"],
        analytic_real_time_factor=a_summary["cpu"]["real_time_factor"],
        report=str(report),
    )
    for cell in cells:
        artifact = resolve_artifact(cell)
        meta = json.loads(artifact.read_text())
        runs = {}
        for mode in ("shadow", "replace"):
            binding = (NeuralBinding(stage, artifact, mode),)
            y, recs = render_monitored(chain(), x, neural=binding)
            write_wav(out_dir / f"{meta['name']}.{mode}.wav", y, r.sample_rate)
            write_monitor_log(out_dir / f"{meta['name']}.{mode}.monitor.jsonl", recs)
            runs[mode] = (y, recs[-1])
        shadow_y, shadow = runs["shadow"]
        replace_y, replace = runs["replace"]
        lag = a_summary["latency_samples"] - replace["latency_samples"]
        ref = analytic[lag:].astype(np.float64)
        cand = replace_y[: replace_y.size - lag].astype(np.float64)
        ncell = shadow["neural_cells"][0]
        result.cells.append(
            CellImpact(
                cell=meta["name"],
                stage=stage,
                controls=ncell["controls"],
                controls_clamped=ncell["controls_clamped"],
                circuit_differences=_circuit_differences(meta["cell"], stage_params),
                shadow_bit_identical=bool(np.array_equal(shadow_y, analytic)),
                shadow_rms_error_v=ncell["rms_error_v"],
                shadow_peak_error_v=ncell["peak_error_v"],
                shadow_rms_error_db=ncell["rms_error_db"],
                shadow_peak_error_db=ncell["peak_error_db"],
                shadow_worst_block_db=ncell["worst_block_rms_error_db"],
                stage_rms_v=ncell["stage_rms_v"],
                esr=esr(ref, cand),
                esr_pre_emphasis=esr(ref, cand, PRE_EMPHASIS),
                null_residual_db=null_residual_db(ref, cand, r.sample_rate, align_first=False),
                mrstft=mrstft_distance(ref, cand, r.sample_rate),
                thd_analytic=thd_analytic,
                thd_replace=_thd(
                    chain, (NeuralBinding(stage, artifact, "replace"),), r.sample_rate
                ),  # fmt: skip
                clip_count_analytic=a_summary["clip_count"],
                clip_count_replace=replace["clip_count"],
                real_time_factor_shadow=shadow["cpu"]["real_time_factor"],
                real_time_factor_replace=replace["cpu"]["real_time_factor"],
            )
        )
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(_markdown(result, out_dir), encoding="utf-8")
    return result


def _fmt(v: float | None, spec: str = ".2f") -> str:
    return "—" if v is None else format(v, spec)


def _markdown(res: IntegrationResult, out_dir: Path) -> str:
    lines = [
        f"# Integrated neural cell: `{res.rig}` stage `{res.stage}`",
        "",
        f"Input: {res.input}; {res.n_samples} samples at {res.sample_rate:g} Hz. Renders "
        f"(32-bit float WAV) and monitor logs: `{out_dir}/`. Command: "
        "`greybound-lab evaluate-integrated-neural-cell` "
        "(`harness.integration.evaluate_integrated_neural_cell`).",
        "",
        f"Analytic render: output peak {res.analytic_peak_dbfs:.2f} dBFS, "
        f"{res.analytic_clip_count} samples at or above full scale, B+ minimum "
        f"{_fmt(res.analytic_b_plus_min_v, '.1f')} V, {res.analytic_real_time_factor:.1f}× "
        "real time (monitored, block 256, one core).",
        "",
        "**Shadow error** is the local mismatch: the cell beside the analytic stage on the "
        "same input, its output (delayed by the stage's latency) against the stage's, in V "
        "and dB re the stage output. **Replace vs analytic** is the rendered impact at the "
        "rig output: the cell's output fed on through the rest of the amp, compared with "
        "the analytic render (shifted by the replaced stage's latency). ESR is Σ(r−c)²/Σr² "
        f"(also after 1 − {PRE_EMPHASIS} z⁻¹ pre-emphasis); the null residual matches gain "
        f"only; THD is at {THD_F0_HZ:g} Hz, {THD_LEVEL_DBFS:g} dBFS into the rig.",
        "",
        "| cell | shadow RMS err (V) | shadow RMS err (dB re stage) | shadow peak err (V) "
        "| worst block (dB) | ESR | ESR (0.85) | null (dB) | MRSTFT | THD analytic → replace "
        "| clips analytic / replace | RT× shadow / replace | shadow audio = analytic |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for c in res.cells:
        lines.append(
            f"| `{c.cell}` | {c.shadow_rms_error_v:.3f} | {_fmt(c.shadow_rms_error_db)} "
            f"| {c.shadow_peak_error_v:.3f} | {_fmt(c.shadow_worst_block_db)} | {c.esr:.4f} "
            f"| {c.esr_pre_emphasis:.4f} | {c.null_residual_db:.2f} | {c.mrstft:.3f} "
            f"| {100 * c.thd_analytic:.1f} % → {100 * c.thd_replace:.1f} % "
            f"| {c.clip_count_analytic} / {c.clip_count_replace} "
            f"| {c.real_time_factor_shadow:.1f} / {c.real_time_factor_replace:.1f} "
            f"| {'yes' if c.shadow_bit_identical else 'NO'} |"
        )
    lines += ["", "## Operating point: the cells are used outside their training circuit", ""]
    for c in res.cells:
        diffs = ", ".join(f"{k} {v[0]:g} (trained {v[1]:g})"
                          for k, v in c.circuit_differences.items())  # fmt: skip
        ctrl = ", ".join(f"{k} = {v:g}" for k, v in c.controls.items()) or "none"
        clamped = ", ".join(f"{k} to [{lo:g}, {hi:g}]"
                            for k, (lo, hi) in c.controls_clamped.items())  # fmt: skip
        lines.append(
            f"- `{c.cell}`: controls set from the stage: {ctrl}"
            + (f"; clamped by the cell to its training range: {clamped}" if clamped else "")
            + f". Stage vs training circuit: {diffs or 'identical'}."
        )
    lines += [
        "",
        "The cells take only B+, source and load impedance as controls; a plate resistor, "
        "cathode resistor or bypass capacitor that differs from the training circuit changes "
        "gain, bias and headroom in ways no control can express, so the shadow error above "
        "measures the cell in this rig, not the cell's quality on its own circuit (for that: "
        "`golden/cells/common-cathode-12ax7.evaluation.md`).",
        "",
    ]
    return "\n".join(lines)
