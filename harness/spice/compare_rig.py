"""A rig's leading stages against a SPICE chain reference (issue 7): the chain-level truth.

``compare_rig_with_spice`` renders the same stimuli through

* **SPICE**: a chain fixture (``fixtures/spice/nox30-preamp``: the stages wired to each
  other, tube capacitances included) with ``harness.spice.transient.simulate`` — ngspice at
  8·fs, anti-alias filtered onto the fs grid, from the DC operating point;
* **the rig**: ``RigChain`` on the rig truncated after the fixture's ``notes.last_stage``
  (``truncate_rig``: later stages, the output gain and the cab dropped), at the fixture's
  channel (``notes.channel``), once per oversampling configuration (``None`` = as the rig
  file says, an integer = every stage at that factor). The chain's declared latency is
  removed (the input is padded with that many zeros and the head dropped), so both outputs
  sit on the same time grid;

and measures the rig against SPICE (reference) per stimulus: ESR (no pre-emphasis, no gain
match: level errors count), the null residual (aligned, least-squares gain-matched, dB),
the RMS level difference (dB, rig re SPICE), third-octave band residuals (gain-matched; the
worst band and the 1 kHz band are reported) and, for the level-stepped sine, THD at every
level for both. Knobs come from the rig (``notes.knobs`` maps a rig knob to the cell
parameter its stage parameter is), so both sides use the same settings.

Stimuli (short on purpose — ngspice runs this chain at about 0.07× real time): a 1 kHz
sine stepped through ``levels_dbfs`` (``step_s`` each, the first ``settle_s`` of each step
excluded from its THD segment), a DI phrase (``harness.stimuli.di_phrase``, seed 0) and a
20 Hz–20 kHz synchronized sweep at −20 dBFS. Volts at the input: 1.0 = 1 V peak = 0 dBFS.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from harness.errors import InputError, LabError
from harness.rigs import Rig, RigChain, load_rig
from harness.spice.cell import CellSpec, load_cell

#: Default stepped-sine levels (dBFS peak at the rig input): clean (−40) to driven (−6).
DEFAULT_LEVELS_DBFS = (-40.0, -30.0, -20.0, -12.0, -6.0)


@dataclass(frozen=True)
class StimulusSpec:
    """Lengths (s) and levels (dBFS peak) of the comparison stimuli."""

    levels_dbfs: tuple[float, ...] = DEFAULT_LEVELS_DBFS
    step_s: float = 0.1
    settle_s: float = 0.05
    di_seconds: float = 0.5
    di_level_dbfs: float = -10.0
    sweep_seconds: float = 0.3
    sweep_level_dbfs: float = -20.0

    def build(self, sample_rate: float) -> list:
        """The stimuli as ``harness.stimuli.Stimulus`` objects at ``sample_rate`` Hz."""
        from harness import stimuli

        return [
            stimuli.level_stepped_sine(
                sample_rate, 1000.0, self.levels_dbfs, self.step_s, self.settle_s
            ),
            stimuli.di_phrase(
                sample_rate, seed=0, duration_s=self.di_seconds, level_dbfs=self.di_level_dbfs
            ),
            stimuli.exp_sweep(
                sample_rate,
                20.0,
                20000.0,
                self.sweep_seconds,
                self.sweep_level_dbfs,
                fade_in_s=0.01,
                fade_out_s=0.005,
                tail_s=0.02,
            ),
        ]


@dataclass
class ThdRow:
    """THD (dB re H1) of one settled step at ``level_dbfs`` (input), SPICE and rig."""

    level_dbfs: float
    spice_thd_db: float
    rig_thd_db: float
    spice_out_dbfs: float
    rig_out_dbfs: float


@dataclass
class StimulusResult:
    """The rig against SPICE on one stimulus; see the module docstring for each metric."""

    stimulus: str
    n_samples: int
    spice_rms_v: float
    esr: float
    null_residual_db: float
    level_diff_db: float
    worst_band_hz: float
    worst_band_residual_db: float
    band_1k_residual_db: float
    bands: list[tuple[float, float]] = field(default_factory=list)
    thd: list[ThdRow] = field(default_factory=list)


@dataclass
class ConfigResult:
    """All stimuli for one oversampling configuration of the rig."""

    label: str
    latency_samples: int
    stimuli: list[StimulusResult]

    def result(self, stimulus: str) -> StimulusResult:
        for r in self.stimuli:
            if r.stimulus == stimulus:
                return r
        raise KeyError(stimulus)


@dataclass
class RigSpiceComparison:
    rig: str
    fixture: str
    channel: str | None
    last_stage: str
    stages: list[str]
    knobs: dict[str, float]
    cell_params: dict[str, float]
    sample_rate: float
    configs: list[ConfigResult]

    def config(self, label: str) -> ConfigResult:
        for c in self.configs:
            if c.label == label:
                return c
        raise KeyError(label)

    def format_markdown(self) -> str:
        """The comparison as a Markdown report."""
        knobs = ", ".join(f"{k} {v:g}" for k, v in self.knobs.items())
        lines = [
            f"# {self.rig} ({' → '.join(self.stages)}) vs SPICE `{self.fixture}`",
            "",
            f"Channel `{self.channel}`, knobs {knobs}; {self.sample_rate:g} Hz. Reference: "
            "ngspice (8× internal rate, tube capacitances, stages loading each other); "
            "candidate: the runtime stages of the rig truncated after "
            f"`{self.last_stage}` (declared latency removed).",
            "",
            "ESR: Σ(spice − rig)²/Σspice², no gain match. Null: aligned and gain-matched "
            "residual. Level: RMS of rig re SPICE. Bands: gain-matched third-octave "
            "residuals re the reference band energy.",
            "",
        ]
        for c in self.configs:
            lines += [
                f"## Rig {c.label} (latency {c.latency_samples} samples)",
                "",
                "| stimulus | SPICE RMS (mV) | ESR | null (dB) | level (dB) | worst band "
                "| 1 kHz band (dB) |",
                "|---|---:|---:|---:|---:|---|---:|",
            ]
            for r in c.stimuli:
                lines.append(
                    f"| {r.stimulus} | {1e3 * r.spice_rms_v:.1f} | {r.esr:.4f} | "
                    f"{r.null_residual_db:.1f} | {r.level_diff_db:+.2f} | "
                    f"{r.worst_band_residual_db:.1f} dB at {r.worst_band_hz:g} Hz | "
                    f"{r.band_1k_residual_db:.1f} |"
                )
            for r in c.stimuli:
                if r.thd:
                    lines += [
                        "",
                        f"THD vs level ({r.stimulus}, 1 kHz):",
                        "",
                        "| input (dBFS) | SPICE out (dBFS) | rig out (dBFS) | SPICE THD (dB) "
                        "| rig THD (dB) |",
                        "|---:|---:|---:|---:|---:|",
                    ]
                    lines += [
                        f"| {t.level_dbfs:g} | {t.spice_out_dbfs:.1f} | {t.rig_out_dbfs:.1f} | "
                        f"{t.spice_thd_db:.1f} | {t.rig_thd_db:.1f} |"
                        for t in r.thd
                    ]
            lines.append("")
        return "\n".join(lines)


def truncate_rig(rig: Rig, last_stage: str) -> Rig:
    """``rig`` with its stages up to and including ``last_stage``; knob bindings, channel
    entries and neural bindings of later stages dropped (a knob left without bindings goes),
    output gain 0 dB and no cab IR — the leading part of the chain, in volts."""
    names = [s.name for s in rig.stages]
    if last_stage not in names:
        raise InputError(f"{rig.path}: no stage '{last_stage}' (stages: {', '.join(names)})")
    kept = set(names[: names.index(last_stage) + 1])
    knobs = []
    for k in rig.knobs:
        drives = tuple(d for d in k.drives if d.stage in kept)
        if drives:
            knobs.append(dataclasses.replace(k, drives=drives))
    channels = {
        ch: {stage: dict(v) for stage, v in sets.items() if stage in kept}
        for ch, sets in rig.channels.items()
    }
    return dataclasses.replace(
        rig,
        stages=tuple(s for s in rig.stages if s.name in kept),
        knobs=tuple(knobs),
        channels=channels,
        output_gain_db=0.0,
        cab_ir=None,
        neural_cells=tuple(n for n in rig.neural_cells if n.stage in kept),
    )


def with_oversample(rig: Rig, factor: int) -> Rig:
    """``rig`` with every stage at oversampling ``factor`` (1, 2, 4 or 8)."""
    return dataclasses.replace(
        rig, stages=tuple(dataclasses.replace(s, oversample=int(factor)) for s in rig.stages)
    )


def cell_parameters(cell: CellSpec, rig: Rig, knobs: dict[str, float]) -> dict[str, float]:
    """The fixture's parameters with its knob controls set from the rig: each rig knob in
    ``notes.knobs`` → the stage parameter it drives at the fixture's channel (e.g. volume
    5 of 10 → ``volume.position`` 0.5) → the cell parameter of that name."""
    mapping = cell.extra.get("knobs", {})
    params = rig.stage_params(knobs, cell.extra.get("channel"))
    by_stage = dict(zip((s.name for s in rig.stages), params, strict=True))
    overrides = {}
    for knob_name, cell_param in mapping.items():
        drive = rig.knob(knob_name).drives[0]
        overrides[cell_param] = float(by_stage[drive.stage][drive.param])
    return cell.resolve(overrides)


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x))))


def _dbfs(x: float) -> float:
    return 20.0 * math.log10(x) if x > 0 else -math.inf


def _render_rig(chain: RigChain, x: np.ndarray) -> np.ndarray:
    """``x`` through the chain with its declared latency removed (same length as x)."""
    lat = chain.latency_samples
    y = chain.process(np.concatenate([x, np.zeros(lat)]))
    return y[lat:]


def _measure(stim, spice: np.ndarray, rig: np.ndarray, fs: float) -> StimulusResult:
    from harness.metrics.distortion import thd
    from harness.metrics.null import esr, null_residual_db
    from harness.metrics.spectral import band_residuals_db

    bands = band_residuals_db(spice, rig, fs, f_lo=31.5, f_hi=16000.0)
    # Bands where the reference has energy (within 60 dB of its strongest band).
    live = bands.reference_db >= np.max(bands.reference_db) - 60.0
    finite = live & np.isfinite(bands.residual_db)
    worst = int(np.argmax(np.where(finite, bands.residual_db, -np.inf)))
    i_1k = int(np.argmin(np.abs(bands.center_hz - 1000.0)))
    rows = []
    for level in (
        stim.meta.get("levels_dbfs", []) if stim.meta["kind"] == "level_stepped_sine" else []
    ):
        name = f"level_{level:g}dBFS"
        a, b = stim.segments[name]
        ts, tr = thd(spice[a:b], fs, 1000.0), thd(rig[a:b], fs, 1000.0)
        rows.append(ThdRow(level, ts.thd_db, tr.thd_db, ts.fundamental_dbfs, tr.fundamental_dbfs))
    return StimulusResult(
        stimulus=stim.name,
        n_samples=int(spice.size),
        spice_rms_v=_rms(spice),
        esr=float(esr(spice, rig)),
        null_residual_db=float(null_residual_db(spice, rig, fs)),
        level_diff_db=_dbfs(_rms(rig)) - _dbfs(_rms(spice)),
        worst_band_hz=float(bands.center_hz[worst]),
        worst_band_residual_db=float(bands.residual_db[worst]),
        band_1k_residual_db=float(bands.residual_db[i_1k]),
        bands=[
            (float(c), float(r)) for c, r in zip(bands.center_hz, bands.residual_db, strict=True)
        ],
        thd=rows,
    )


def compare_rig_with_spice(
    rig: str | Path = "nox30",
    fixture: str = "nox30-preamp",
    *,
    knobs: dict[str, float] | None = None,
    oversample: tuple[int | None, ...] = (None, 1),
    stimuli: StimulusSpec | None = None,
    cell_overrides: dict[str, float] | None = None,
) -> RigSpiceComparison:
    """Render ``stimuli`` through the SPICE chain ``fixture`` and the leading stages of
    ``rig`` (for each entry of ``oversample``: None = the rig's own factors, n = every stage
    at n×) and measure the rig against SPICE (see the module docstring).

    ``knobs``: rig knob values (the rig's defaults otherwise); ``cell_overrides``: extra
    SPICE parameters (e.g. ``c_grid_cathode=0`` to see what the tube capacitances do).
    Raises ``LabError`` if the fixture names no rig stage (``notes.last_stage``) or its
    sample rate differs from the rig's."""
    from harness.spice.operating_point import initial_conditions
    from harness.spice.transient import simulate

    cell = load_cell(fixture)
    last = cell.extra.get("last_stage")
    if not last:
        raise LabError(f"{cell.directory / 'cell.json5'}: field 'notes.last_stage' is missing")
    full = load_rig(rig)
    if float(full.sample_rate) != cell.simulation.sample_rate:
        raise LabError(
            f"{cell.name}: simulation.sample_rate {cell.simulation.sample_rate:g} Hz differs "
            f"from the rig's {full.sample_rate} Hz ({full.path})"
        )
    base = truncate_rig(full, last)
    knobs = dict(knobs or {})
    params = cell_parameters(cell, base, knobs)
    for name, value in (cell_overrides or {}).items():
        params = cell.resolve({**params, name: value})
    ics = initial_conditions(cell, params)
    fs = float(base.sample_rate)
    stims = (stimuli or StimulusSpec()).build(fs)
    spice = [simulate(cell, params, s.signal, ics).output(cell.output) for s in stims]
    configs = []
    channel = cell.extra.get("channel")
    for factor in oversample:
        rig_cfg = base if factor is None else with_oversample(base, factor)
        label = "as shipped" if factor is None else f"at {factor}× everywhere"
        results = []
        latency = 0
        for stim, ref in zip(stims, spice, strict=True):
            chain = RigChain(rig_cfg, knobs, channel)
            latency = chain.latency_samples
            y = _render_rig(chain, np.asarray(stim.signal, dtype=np.float64))
            results.append(_measure(stim, ref, y, fs))
        configs.append(ConfigResult(label, latency, results))
    return RigSpiceComparison(
        rig=full.name,
        fixture=cell.name,
        channel=channel,
        last_stage=last,
        stages=[s.name for s in base.stages],
        knobs={k.name: knobs.get(k.name, k.default) for k in base.knobs},
        cell_params=params,
        sample_rate=fs,
        configs=configs,
    )


def write_report(comparison: RigSpiceComparison, path: str | Path) -> Path:
    """Write ``comparison.format_markdown()`` to ``path`` (parents created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(comparison.format_markdown() + "\n", encoding="utf-8")
    return path
