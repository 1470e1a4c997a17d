"""The compare-nam protocol: a rig against a NAM capture, by a fixed procedure (issue 9).

``compare_nam`` renders one stimulus set through the rig (``RigChain``, its declared latency
removed) and through a ``.nam`` model (``harness.nam.load(path, slim).render``) — the
``standard`` set of ``harness.stimuli`` or the 9 s ``quick`` set, without knob automation
curves, the lone impulse and the step (:data:`EXCLUDED_KINDS`) — then:

1. **Sample rate.** The rig runs at its own rate. A model at another rate gets its input
   converted to the model's rate and its output back with ``scipy.signal.resample_poly``
   (polyphase FIR, Kaiser β = 5, ratio reduced by ``fractions.Fraction``); the report
   says so. The sidecar's ``sample_rate`` must equal the model's.
2. **Level** (``level_policy``): ``raw`` — the rig's input floats go to the model
   unchanged, outputs compared as they come; ``normalized`` — every stimulus is scaled to
   :data:`NORMALIZED_RMS_DBFS` (−18 dBFS RMS, NAM's training level) at the input of both;
   ``calibrated`` — the sidecar's dBu calibration converts the rig's input volts to the
   model's input floats and the model's output floats to the rig's output units
   (:func:`calibration_gains_db`; the lab's convention is in ``harness.nam_sidecar``).
   ``calibrated`` requires the sidecar (an error naming the missing file).
3. **Cabinet.** ``cab="off"`` renders the rig without its IR and requires a capture with
   ``includes_cab: false``; ``cab="on"`` the opposite; a mismatch is an error naming the
   sidecar key. Without a sidecar the cab state of the capture is reported as unverified.
4. **Latency.** The model's delay re the rig is measured once on the DI phrase
   (``harness.metrics.align.align``: GCC-PHAT + sub-sample refinement, bound 0.1 s) and
   reported as integer + fraction; every stimulus is then aligned within ±1 sample of it
   (a periodic stimulus cannot pick a wrong period).
5. **Gain match.** One least-squares gain over all aligned stimuli together (so a level
   error of one stimulus against the others still counts) is applied to the model's
   output; the offset is reported in dB (model re rig).
6. **Metrics** (reference = rig, candidate = matched model output), in families: ESR without
   and with pre-emphasis (first-order 1 − 0.85·z⁻¹, Wright et al. 2019), null residual (dB),
   multi-resolution STFT distance and log-mel distance (dB) — on the *music* stimuli (DI
   phrase + plucks, concatenated) and per stimulus; THD vs level (1 kHz stepped sine,
   ``harness.metrics.distortion.thd`` per settled step) and IMD of each two-tone stimulus
   (difference in dB, model re rig); the transient-envelope error (2 ms RMS envelopes, dB)
   on the plucks; third-octave band residuals (31.5 Hz–16 kHz) of the DI phrase.
7. **Gate** (``fixtures/gates/nam.json5``): one threshold per metric family; the verdict is
   the AND over families (a single spectral distance is not enough). **Trend rows**: one
   ``Measurement`` per gated value, test id ``compare-nam::<rig>::<nam>::<settings>``.
   **Report**: ``report.md`` + ``report.html`` + ``plots/`` + ``result.json`` in the report
   directory, stating the settings compared and that one profile is not ground truth for
   other settings; a sidecar whose settings differ from the rig's is flagged.
"""

from __future__ import annotations

import html
import json
import math
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from harness.errors import InputError
from harness.nam_sidecar import LAB_FULL_SCALE_DBU, Calibration, CaptureSidecar

LEVEL_POLICIES = ("raw", "normalized", "calibrated")
CAB_MODES = ("off", "on")
#: Input RMS level (dBFS) of the ``normalized`` policy: NAM's trainer normalizes to −18 dBFS.
NORMALIZED_RMS_DBFS = -18.0
#: First-order pre-emphasis coefficient for ESR (H(z) = 1 − 0.85 z⁻¹, Wright et al. 2019).
PRE_EMPHASIS = 0.85
#: Bound (s) on the model's delay re the rig searched on the DI phrase.
MAX_DELAY_S = 0.1
#: Slack (samples) around the global delay for each stimulus's own alignment: well under
#: half the period of the standard set's steady tones up to 8 kHz (6 samples at 48 kHz), so
#: a periodic stimulus cannot lock onto a neighbouring period. (The CCIF pair's 19–20 kHz
#: carriers repeat every 2.5 samples; its per-stimulus row is informational, not gated.)
DELAY_SLACK_SAMPLES = 1.0
#: Stimuli whose outputs form the "music" aggregate.
MUSIC_STIMULI = ("di_phrase", "plucks")
#: THD compared only where the rig's or the model's THD is at least this (dB re H1), and
#: each THD is raised to it before the difference: below it, products sit 50 dB under the
#: tone and their exact level is not audible, so a model cleaner than this where the rig
#: is at −49 dB is 1 dB off, not the 70 dB of two ill-conditioned tiny ratios.
THD_FLOOR_DB = -50.0
#: IMD compared and floored like THD (dB).
IMD_FLOOR_DB = -50.0
#: Band residuals are gated in the bands within this many dB of the reference's strongest
#: band, the bands that carry the sound (the Nox30's output spans ~20 dB over 200 Hz–16 kHz;
#: bands 40–60 dB down hold too little energy for a residual ratio to mean anything).
BAND_RANGE_DB = 20.0
GATE_SUITE = "nam"
#: Stimulus kinds left out of a comparison: knob automation curves are not audio; a lone
#: full-scale click or step is outside anything a capture is trained on (program material),
#: so a nonlinear model's answer to it says nothing about the capture (measured: ESR 22 for
#: the impulse of a capture whose DI-phrase ESR is 0.07).
EXCLUDED_KINDS = ("automation", "impulse", "step")
RESAMPLER = "scipy.signal.resample_poly (polyphase FIR, Kaiser beta 5)"


# --- pure helpers --------------------------------------------------------------------------


def calibration_gains_db(
    capture: Calibration, lab_input_dbu: float, lab_output_dbu: float
) -> tuple[float, float]:
    """(input gain, output gain) in dB for the ``calibrated`` policy. A lab input float x
    is x·V_lab volts; the capture's input float for the same volts is
    x·10^((lab_input_dbu − capture.input_level_dbu)/20). A capture output float y is
    y·V_cap volts, i.e. y·10^((capture.output_level_dbu − lab_output_dbu)/20) in the rig's
    output units. All levels dBu RMS of a 0 dBFS-peak sine."""
    return (
        lab_input_dbu - capture.input_level_dbu,
        capture.output_level_dbu - lab_output_dbu,
    )


def rig_output_dbu(output_gain_db: float) -> float:
    """Full scale of a rig's output in dBu (RMS of a 0 dBFS-peak sine): its output floats
    are volts × 10^(output_gain_db/20), so full scale is ``LAB_FULL_SCALE_DBU − output_gain_db``."""
    return LAB_FULL_SCALE_DBU - output_gain_db


def normalize_gain_db(x: np.ndarray, target_rms_dbfs: float = NORMALIZED_RMS_DBFS) -> float:
    """Gain (dB) that brings ``x`` to ``target_rms_dbfs`` RMS (1.0 reference)."""
    rms = float(np.sqrt(np.mean(np.square(np.asarray(x, np.float64)))))
    if rms == 0.0:
        raise InputError("normalize_gain_db: silent signal has no RMS level to normalize")
    return target_rms_dbfs - 20.0 * math.log10(rms)


def resample(x: np.ndarray, from_rate: float, to_rate: float) -> np.ndarray:
    """``x`` converted from ``from_rate`` to ``to_rate`` Hz with :data:`RESAMPLER`
    (identity when equal; the ratio must be rational with terms below 10 000)."""
    from scipy import signal

    if from_rate == to_rate:
        return np.asarray(x, np.float64)
    ratio = Fraction(to_rate / from_rate).limit_denominator(10000)
    if abs(float(ratio) - to_rate / from_rate) > 1e-9:
        raise InputError(f"resample: {from_rate:g} -> {to_rate:g} Hz is not a simple ratio")
    return signal.resample_poly(np.asarray(x, np.float64), ratio.numerator, ratio.denominator)


def split_delay(delay: float) -> tuple[int, float]:
    """A delay (samples) as (nearest integer, remaining fraction in [−0.5, 0.5])."""
    whole = int(round(delay))
    return whole, delay - whole


def matched_scale(references: list[np.ndarray], candidates: list[np.ndarray]) -> float:
    """The least-squares factor k minimizing Σ‖r − k·c‖² over all pairs together."""
    rc = sum(float(np.dot(r, c)) for r, c in zip(references, candidates, strict=True))
    cc = sum(float(np.dot(c, c)) for c in candidates)
    if cc == 0.0 or rc <= 0.0:
        raise InputError("compare-nam: the model's output is silent or inverted against the rig")
    return rc / cc


def settings_mismatch(
    sidecar: CaptureSidecar, channel: str | None, knobs: dict[str, float]
) -> list[str]:
    """Human-readable differences between the capture's settings (sidecar) and the rig
    settings compared: channel, and every knob both name."""
    out = []
    if channel is not None and sidecar.capture.channel != channel:
        out.append(f"channel: capture {sidecar.capture.channel!r}, rig {channel!r}")
    for name, value in sorted(knobs.items()):
        captured = sidecar.source.knobs.get(name)
        if captured is not None and abs(captured - value) > 1e-9:
            out.append(f"{name}: capture {captured:g}, rig {value:g}")
    return out


# --- stimulus sets -------------------------------------------------------------------------


def quick_set(sample_rate: float = 48000) -> list:
    """A 9 s battery with one stimulus per metric family (for tests and smoke checks):
    1 kHz stepped sine −36..0 dBFS in 6 dB steps, the guitar and SMPTE two-tones, open
    plucks, a 2 s DI phrase and a 1 s sweep."""
    from harness import stimuli

    fs = float(sample_rate)
    return [
        stimuli.level_stepped_sine(
            fs, 1000.0, (-36.0, -30.0, -24.0, -18.0, -12.0, -6.0, 0.0), step_s=0.15, settle_s=0.05
        ),
        stimuli.two_tone(fs, "guitar", duration_s=0.5),
        stimuli.two_tone(fs, "smpte", duration_s=0.5),
        stimuli.plucks(fs, note_s=0.4),
        stimuli.di_phrase(fs, duration_s=2.0),
        stimuli.exp_sweep(fs, duration_s=1.0, tail_s=0.1),
    ]


def stimulus_set(name: str, sample_rate: float) -> list:
    """The stimuli of set ``name`` (``harness.stimuli.STIMULUS_SETS`` or ``quick``) that a
    capture can be compared on: automation curves (knob sweeps, not audio) and the isolated
    impulse and step are left out (:data:`EXCLUDED_KINDS`)."""
    from harness.stimuli import STIMULUS_SETS

    sets = {**STIMULUS_SETS, "quick": quick_set}
    if name not in sets:
        raise InputError(f"compare-nam: unknown stimulus set {name!r} (known: {', '.join(sets)})")
    return [s for s in sets[name](sample_rate) if s.meta.get("kind") not in EXCLUDED_KINDS]


# --- results -------------------------------------------------------------------------------


@dataclass
class StimulusRow:
    """The model against the rig on one stimulus (aligned, globally gain-matched)."""

    stimulus: str
    n_samples: int
    rig_rms_dbfs: float
    gain_db: float
    delay_samples: float
    esr: float
    esr_pre_emphasis: float
    null_residual_db: float
    mrstft: float
    log_mel_db: float


@dataclass
class GateRow:
    metric: str
    value: float
    unit: str
    limit: float
    better: str
    passed: bool
    reason: str


@dataclass
class NamComparison:
    """Everything ``compare_nam`` measured; ``passed`` is the gate's verdict."""

    rig: str
    rig_path: str
    nam: str
    nam_path: str
    channel: str | None
    knobs: dict[str, float]
    cab: str
    slim: float | None
    level_policy: str
    stimulus_set: str
    sample_rate: float
    nam_sample_rate: float
    resampled: bool
    input_gain_db: float
    output_gain_db: float
    rig_latency_removed: int
    delay_samples: float
    delay_integer: int
    delay_fraction: float
    gain_offset_db: float
    sidecar: dict | None
    warnings: list[str]
    rows: list[StimulusRow]
    music: dict[str, float]
    thd: list[dict[str, float]]
    imd: list[dict[str, Any]]
    transient_envelope_error_db: float
    bands: list[tuple[float, float, float, bool]]
    worst_band_hz: float
    worst_band_residual_db: float
    gate: list[GateRow] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return bool(self.gate) and all(g.passed for g in self.gate)

    @property
    def settings(self) -> str:
        """The compared settings as one string (trend rows, report titles)."""
        knobs = " ".join(f"{k}={v:g}" for k, v in sorted(self.knobs.items()))
        slim = "default" if self.slim is None else f"{self.slim:g}"
        return f"{self.channel} {knobs} cab={self.cab} slim={slim} level={self.level_policy}"

    def gate_values(self) -> dict[str, tuple[float, str]]:
        """metric -> (value, unit) for every gated metric (family[condition] names)."""
        values = {
            "esr[music]": (self.music["esr"], ""),
            "esr_pre_emphasis[music]": (self.music["esr_pre_emphasis"], ""),
            "null_residual_db[music]": (self.music["null_residual_db"], "dB"),
            "mrstft[music]": (self.music["mrstft"], ""),
            "log_mel_db[music]": (self.music["log_mel_db"], "dB"),
            "transient_envelope_error_db[plucks]": (self.transient_envelope_error_db, "dB"),
            "band_residual_db[worst]": (self.worst_band_residual_db, "dB"),
        }
        compared = [t["delta_db"] for t in self.thd if t["compared"]]
        values["thd_delta_db[max]"] = (max(compared) if compared else math.nan, "dB")
        compared = [i["delta_db"] for i in self.imd if i["compared"]]
        values["imd_delta_db[max]"] = (max(compared) if compared else math.nan, "dB")
        return values

    def to_json(self) -> dict:
        out = asdict(self)
        out["passed"] = self.passed
        out["settings"] = self.settings
        return _finite(out)


def _finite(obj):
    """JSON-safe copy: non-finite floats as strings ("inf", "-inf", "nan")."""
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return str(obj)
    return obj


# --- the protocol --------------------------------------------------------------------------


def _rms_dbfs(x: np.ndarray) -> float:
    rms = float(np.sqrt(np.mean(np.square(x))))
    return 20.0 * math.log10(rms) if rms > 0 else -math.inf


def _pair_metrics(ref: np.ndarray, cand: np.ndarray, fs: float) -> dict[str, float]:
    """ESR (no pre-emphasis and 1 − 0.85 z⁻¹) of the globally gain-matched pair; the null
    residual (dB) with the pair's own least-squares gain (``null_residual_db``: what a null
    test of this signal alone reports); MRSTFT and log-mel distances."""
    from harness.metrics.null import esr, null_residual_db
    from harness.metrics.spectral import log_mel_distance, mrstft_distance

    return {
        "esr": esr(ref, cand),
        "esr_pre_emphasis": esr(ref, cand, PRE_EMPHASIS),
        "null_residual_db": null_residual_db(ref, cand, fs, align_first=False),
        "mrstft": mrstft_distance(ref, cand, fs),
        "log_mel_db": log_mel_distance(ref, cand, fs),
    }


def _thd_rows(stim, rig_y: np.ndarray, nam_y: np.ndarray, fs: float) -> list[dict[str, float]]:
    from harness.metrics.distortion import thd

    rows = []
    f0 = float(stim.meta["f0_hz"])
    for level, name in zip(stim.meta["levels_dbfs"], stim.meta["segment_names"], strict=True):
        a, b = stim.segments[name]
        tr, tn = thd(rig_y[a:b], fs, f0), thd(nam_y[a:b], fs, f0)
        compared = max(tr.thd_db, tn.thd_db) >= THD_FLOOR_DB
        rows.append(
            {
                "level_dbfs": float(level),
                "rig_thd_db": tr.thd_db,
                "nam_thd_db": tn.thd_db,
                "delta_db": abs(max(tn.thd_db, THD_FLOOR_DB) - max(tr.thd_db, THD_FLOOR_DB)),
                "compared": compared,
                "rig_out_dbfs": tr.fundamental_dbfs,
                "nam_out_dbfs": tn.fundamental_dbfs,
            }
        )
    return rows


def _imd_row(stim, rig_y: np.ndarray, nam_y: np.ndarray, fs: float) -> dict[str, Any]:
    from harness.metrics.distortion import imd

    a, b = stim.segments["steady"]
    m = stim.meta
    args = (fs, m["f1_hz"], m["f2_hz"], m["imd_method"])
    r_db = 20.0 * math.log10(max(imd(rig_y[a:b], *args), 1e-12))
    n_db = 20.0 * math.log10(max(imd(nam_y[a:b], *args), 1e-12))
    return {
        "stimulus": stim.name,
        "rig_imd_db": r_db,
        "nam_imd_db": n_db,
        "delta_db": abs(max(n_db, IMD_FLOOR_DB) - max(r_db, IMD_FLOOR_DB)),
        "compared": max(r_db, n_db) >= IMD_FLOOR_DB,
    }


def _overlap(r: np.ndarray, c: np.ndarray, lag: int) -> tuple[np.ndarray, np.ndarray]:
    """The parts of ``r`` and ``c`` that overlap when ``c`` lags ``r`` by ``lag`` samples
    (c[n + lag] against r[n]), equal length."""
    n = min(r.size, c.size)
    if lag >= 0:
        return r[: n - lag], c[lag:n]
    return r[-lag:n], c[: n + lag]


def _load_model(path: Path, slim: float | None):
    from harness import nam

    return nam.load(path, slim=slim)


def compare_nam(
    rig: str | Path,
    nam_path: str | Path,
    *,
    knobs: dict[str, float] | None = None,
    channel: str | None = None,
    stimuli: str = "standard",
    level_policy: str = "calibrated",
    cab: str = "off",
    slim: float | None = None,
    report_dir: str | Path | None = None,
    trend_db: str | Path | None = None,
    record_trend: bool = True,
    gate_file: str | Path | None = None,
) -> NamComparison:
    """Run the compare-nam protocol (module docstring) of ``rig`` (file or name) at
    ``knobs``/``channel`` against the model ``nam_path`` (``slim`` picks a
    SlimmableContainer submodel) on stimulus set ``stimuli``; write the report into
    ``report_dir`` (if given), trend rows into ``trend_db`` (if ``record_trend``) and judge
    the gate (``gate_file``, default ``fixtures/gates/nam.json5``). Returns the comparison;
    ``.passed`` is the verdict."""
    from harness.gates import GATES_DIR, load_gate_file
    from harness.nam_capture import render_rig
    from harness.nam_sidecar import sidecar_for, sidecar_path
    from harness.rigs import RigChain, load_rig

    if level_policy not in LEVEL_POLICIES:
        raise InputError(
            f"compare-nam: level policy must be one of {LEVEL_POLICIES}, got {level_policy!r}"
        )
    if cab not in CAB_MODES:
        raise InputError(f"compare-nam: cab must be 'off' or 'on', got {cab!r}")
    nam_path = Path(nam_path)
    if not nam_path.is_file():
        raise InputError(f"{nam_path}: no such .nam file")
    rig_obj = load_rig(rig)
    knobs = dict(knobs or {})
    rig_obj.stage_params(knobs, channel)  # validates knob names, ranges and the channel
    channel = channel if channel is not None else rig_obj.default_channel
    all_knobs = {k.name: float(knobs.get(k.name, k.default)) for k in rig_obj.knobs}
    if cab == "on" and rig_obj.cab_ir is None:
        raise InputError(f"{rig_obj.path}: --cab on, but the rig has no cab_ir")
    warnings: list[str] = []

    sidecar = None
    if sidecar_path(nam_path).is_file() or level_policy == "calibrated":
        sidecar = sidecar_for(nam_path)
    if sidecar is not None:
        if sidecar.capture.includes_cab != (cab == "on"):
            state = "true" if sidecar.capture.includes_cab else "false"
            raise InputError(
                f"{sidecar.path}: capture.includes_cab is {state} but --cab {cab}: the "
                "cabinet must be in both renders or in neither"
            )
        for diff in settings_mismatch(sidecar, channel, all_knobs):
            warnings.append(
                f"settings differ from the capture's ({diff}): this compares two "
                "different settings; one profile is not ground truth for others"
            )
    else:
        warnings.append(
            f"no sidecar ({sidecar_path(nam_path).name}): the capture's settings, "
            "calibration and cab state are unverified"
        )

    model = _load_model(nam_path, slim)
    fs = float(rig_obj.sample_rate)
    nam_fs = float(model.sample_rate)
    if sidecar is not None and sidecar.sample_rate != nam_fs:
        raise InputError(
            f"{sidecar.path}: sample_rate {sidecar.sample_rate:g} Hz differs from "
            f"the model's {nam_fs:g} Hz ({nam_path.name})"
        )
    if not getattr(model, "sample_rate_declared", True):
        warnings.append(f"{nam_path.name} declares no sample_rate; treated as 48 kHz")
    if nam_fs != fs:
        warnings.append(
            f"model at {nam_fs:g} Hz, rig at {fs:g} Hz: model input/output "
            f"converted with {RESAMPLER}"
        )

    in_db = out_db = 0.0
    if level_policy == "calibrated":
        if sidecar.calibration is None:
            raise InputError(
                f"{sidecar.path}: calibration is null; use --level-policy raw or "
                "normalized, or add the capture's dBu calibration"
            )
        in_db, out_db = calibration_gains_db(
            sidecar.calibration, LAB_FULL_SCALE_DBU, rig_output_dbu(rig_obj.output_gain_db)
        )

    stims = stimulus_set(stimuli, fs)
    rig_outs, nam_outs = {}, {}
    latency = RigChain(rig_obj, knobs, channel, cab=cab == "on").latency_samples
    for s in stims:
        x = np.asarray(s.signal, np.float64)
        if level_policy == "normalized":
            x = x * 10.0 ** (normalize_gain_db(x) / 20.0)
        rig_outs[s.name] = render_rig(rig_obj, knobs, channel, x, cab=cab == "on")
        x_nam = resample(x * 10.0 ** (in_db / 20.0), fs, nam_fs)
        y = np.asarray(model.render(x_nam.astype(np.float32)), np.float64)
        y = resample(y, nam_fs, fs)[: x.size]
        nam_outs[s.name] = y * 10.0 ** (out_db / 20.0)

    measured = measure_renders(stims, rig_outs, nam_outs, fs)
    warnings += measured.pop("warnings")
    result = NamComparison(
        rig=rig_obj.name,
        rig_path=str(rig_obj.path),
        nam=nam_path.stem,
        nam_path=str(nam_path),
        channel=channel,
        knobs=all_knobs,
        cab=cab,
        slim=slim,
        level_policy=level_policy,
        stimulus_set=stimuli,
        sample_rate=fs,
        nam_sample_rate=nam_fs,
        resampled=nam_fs != fs,
        input_gain_db=in_db,
        output_gain_db=out_db,
        rig_latency_removed=int(latency),
        sidecar=None if sidecar is None else sidecar.to_json(),
        warnings=warnings,
        **measured,
    )

    gates = load_gate_file(
        gate_file if gate_file is not None else GATES_DIR / f"{GATE_SUITE}.json5"
    )
    for metric, (value, unit) in result.gate_values().items():
        t = gates.lookup(metric, fixture=rig_obj.name, model=nam_path.stem)
        result.gate.append(
            GateRow(
                metric,
                float(value),
                unit or t.unit,
                t.limit,
                t.better,
                t.passes(float(value)),
                t.reason,
            )
        )
    if report_dir is not None:
        write_report(result, report_dir)
    if record_trend:
        record(result, trend_db)
    return result


def measure_renders(
    stims: list, rig_outs: dict[str, np.ndarray], nam_outs: dict[str, np.ndarray], fs: float
) -> dict[str, Any]:
    """Steps 4–6 of the protocol on finished renders (the rig's and the model's output per
    stimulus name, same length, at ``fs`` Hz): measure the delay on the DI phrase (else
    plucks, else the sweep), align every stimulus near it, match one global gain, measure.
    Returns the measured fields of ``NamComparison`` plus ``warnings``. Pure."""
    from harness.metrics.align import align
    from harness.metrics.dynamics import transient_envelope_error_db
    from harness.metrics.spectral import band_residuals_db

    warnings: list[str] = []
    by_name = {s.name: s for s in stims}
    anchor = next((n for n in ("di_phrase", "plucks", "exp_sweep") if n in by_name), None)
    if anchor is None:
        raise InputError("compare-nam: the stimulus set has no DI phrase, plucks or sweep")
    delay = align(rig_outs[anchor], nam_outs[anchor], fs, max_delay_s=MAX_DELAY_S).delay_samples
    whole = int(round(delay))
    aligned, delays = {}, {}
    for name in by_name:
        r, c = _overlap(rig_outs[name], nam_outs[name], whole)
        try:
            a = align(r, c, fs, max_delay_s=DELAY_SLACK_SAMPLES / fs)
        except InputError as exc:
            warnings.append(f"{name}: not aligned, left out of the per-stimulus metrics ({exc})")
            continue
        if a.polarity < 0:
            warnings.append(f"{name}: the model's output is inverted against the rig's")
        aligned[name], delays[name] = a, whole + a.delay_samples
    k = matched_scale(
        [a.reference for a in aligned.values()], [a.candidate for a in aligned.values()]
    )
    gain_offset_db = -20.0 * math.log10(k)

    rows = []
    for name, a in aligned.items():
        cand = a.candidate * k
        m = _pair_metrics(a.reference, cand, fs)
        rows.append(
            StimulusRow(
                name, int(a.reference.size), _rms_dbfs(a.reference), a.gain_db, a.delay_samples, **m
            )
        )
    music = [n for n in MUSIC_STIMULI if n in aligned]
    if not music:
        raise InputError("compare-nam: the stimulus set has neither DI phrase nor plucks")
    music_ref = np.concatenate([aligned[n].reference for n in music])
    music_cand = np.concatenate([aligned[n].candidate * k for n in music])
    music_metrics = _pair_metrics(music_ref, music_cand, fs)

    thd_rows = []
    for s in stims:
        if s.meta.get("kind") == "level_stepped_sine":
            thd_rows += _thd_rows(s, rig_outs[s.name], nam_outs[s.name], fs)
    imd_rows = [
        _imd_row(s, rig_outs[s.name], nam_outs[s.name], fs)
        for s in stims
        if s.meta.get("kind") == "two_tone"
    ]
    pl = aligned.get("plucks", aligned[music[0]])
    tee = transient_envelope_error_db(pl.reference, pl.candidate * k, fs)
    band_src = aligned.get("di_phrase", aligned[music[0]])
    bands = band_residuals_db(
        band_src.reference,
        band_src.candidate * k,
        fs,
        f_lo=31.5,
        f_hi=16000.0,
        match_gain=False,
        align_first=False,
    )
    finite = np.isfinite(bands.residual_db) & np.isfinite(bands.reference_db)
    live = finite & (bands.reference_db >= np.max(bands.reference_db) - BAND_RANGE_DB)
    worst = int(np.argmax(np.where(live, bands.residual_db, -np.inf)))

    whole, frac = split_delay(delay)
    kept = zip(bands.center_hz, bands.residual_db, bands.reference_db, live, strict=True)
    return {
        "delay_samples": float(delay),
        "delay_integer": whole,
        "delay_fraction": float(frac),
        "gain_offset_db": gain_offset_db,
        "rows": rows,
        "music": music_metrics,
        "thd": thd_rows,
        "imd": imd_rows,
        "transient_envelope_error_db": tee,
        "bands": [(float(c), float(r), float(e), bool(g)) for c, r, e, g in kept],
        "worst_band_hz": float(bands.center_hz[worst]),
        "worst_band_residual_db": float(bands.residual_db[worst]),
        "warnings": warnings,
    }


# --- trend rows ------------------------------------------------------------------------------


def trend_rows(result: NamComparison) -> list:
    """One ``harness.trend.Measurement`` per gated metric: suite ``nam``, fixture
    ``<rig>[<settings>]``, model = the .nam stem, test id
    ``compare-nam::<rig>::<nam>::<settings>``."""
    from harness.trend import Measurement

    test_id = f"compare-nam::{result.rig}::{result.nam}::{result.settings}"
    return [
        Measurement(
            test_id=test_id,
            suite=GATE_SUITE,
            metric=g.metric,
            value=g.value,
            unit=g.unit,
            fixture=f"{result.rig}[{result.settings}]",
            model=result.nam,
            threshold=g.limit,
            better=g.better,
            passed=g.passed,
        )
        for g in result.gate
    ]


def record(result: NamComparison, trend_db: str | Path | None = None) -> int:
    """Store the gated values as one trend run (source ``compare-nam``); the run id."""
    from harness.trend import TrendStore, collect_run_info

    with TrendStore(trend_db) as store:
        return store.record_run(collect_run_info(source="compare-nam"), trend_rows(result))


# --- report ----------------------------------------------------------------------------------


def _fmt(v: float, spec: str = ".4g") -> str:
    return format(v, spec) if math.isfinite(v) else str(v)


def _tables(result: NamComparison) -> list[tuple[str, list[str], list[tuple]]]:
    gate = [
        (
            g.metric,
            _fmt(g.value),
            g.unit,
            f"{'<=' if g.better == 'lower' else '>='} {g.limit:g}",
            "PASS" if g.passed else "FAIL",
            g.reason,
        )
        for g in result.gate
    ]
    per = [
        (
            r.stimulus,
            r.n_samples,
            _fmt(r.rig_rms_dbfs, ".1f"),
            _fmt(r.gain_db, "+.2f"),
            _fmt(r.delay_samples, ".3f"),
            _fmt(r.esr),
            _fmt(r.esr_pre_emphasis),
            _fmt(r.null_residual_db, ".1f"),
            _fmt(r.mrstft, ".3f"),
            _fmt(r.log_mel_db, ".2f"),
        )
        for r in result.rows
    ]
    thd = [
        (
            f"{t['level_dbfs']:g}",
            _fmt(t["rig_out_dbfs"], ".1f"),
            _fmt(t["nam_out_dbfs"], ".1f"),
            _fmt(t["rig_thd_db"], ".1f"),
            _fmt(t["nam_thd_db"], ".1f"),
            _fmt(t["delta_db"], ".2f"),
            "yes" if t["compared"] else "no (both below floor)",
        )
        for t in result.thd
    ]
    imd = [
        (
            i["stimulus"],
            _fmt(i["rig_imd_db"], ".1f"),
            _fmt(i["nam_imd_db"], ".1f"),
            _fmt(i["delta_db"], ".2f"),
            "yes" if i["compared"] else "no (both below floor)",
        )
        for i in result.imd
    ]
    bands = [
        (f"{c:g}", _fmt(e, ".1f"), _fmt(r, ".1f"), "yes" if g else "no")
        for c, r, e, g in result.bands
    ]
    return [
        (
            "Gate (fixtures/gates/nam.json5)",
            ["metric", "value", "unit", "limit", "result", "reason"],
            gate,
        ),
        (
            "Per stimulus (aligned, one global gain match)",
            [
                "stimulus",
                "samples",
                "rig RMS (dBFS)",
                "model gain (dB)",
                "delay (samples)",
                "ESR",
                f"ESR pre-emph {PRE_EMPHASIS}",
                "null (dB)",
                "MRSTFT",
                "log-mel (dB)",
            ],
            per,
        ),
        (
            "THD vs level (1 kHz stepped sine)",
            [
                "input (dBFS)",
                "rig H1 (dBFS)",
                "model H1 (dBFS)",
                "rig THD (dB)",
                "model THD (dB)",
                "|Δ| (dB)",
                "gated",
            ],
            thd,
        ),
        (
            "IMD (two-tone)",
            ["stimulus", "rig IMD (dB)", "model IMD (dB)", "|Δ| (dB)", "gated"],
            imd,
        ),
        (
            "Third-octave band residuals (DI phrase, dB re rig band energy)",
            [
                "band (Hz)",
                "rig band level (dB re 1.0²)",
                "residual (dB)",
                f"gated (within {BAND_RANGE_DB:g} dB of the strongest band)",
            ],
            bands,
        ),
    ]


def _summary_lines(result: NamComparison) -> list[str]:
    knobs = ", ".join(f"{k} {v:g}" for k, v in sorted(result.knobs.items()))
    cal = (
        f"input {round(result.input_gain_db, 2) + 0.0:+.2f} dB, "
        f"output {round(result.output_gain_db, 2) + 0.0:+.2f} dB"
        if result.level_policy == "calibrated"
        else "none"
    )
    lines = [
        f"Verdict: {'PASS' if result.passed else 'FAIL'} "
        f"({sum(g.passed for g in result.gate)}/{len(result.gate)} metric families within limits).",
        f"Settings compared: rig {result.rig} ({result.rig_path}), channel {result.channel}, "
        f"knobs {knobs}; cab {result.cab} on both sides; model {result.nam} "
        f"(slim {'default' if result.slim is None else f'{result.slim:g}'}).",
        "One profile is not ground truth for other settings: this verdict holds for these "
        "knob settings only.",
        f"Stimulus set {result.stimulus_set}; level policy {result.level_policy} (calibration "
        f"gains: {cal}); rig at {result.sample_rate:g} Hz, model at {result.nam_sample_rate:g} Hz"
        + (f", converted with {RESAMPLER}" if result.resampled else " (no resampling)")
        + ".",
        f"Rig latency removed: {result.rig_latency_removed} samples (declared). Model delay re "
        f"rig: {result.delay_samples:.4f} samples = {result.delay_integer} "
        f"{result.delay_fraction:+.4f} (integer + fraction), measured on the DI phrase.",
        f"Gain match: the model is {result.gain_offset_db:+.3f} dB re the rig (one least-squares "
        "gain over all stimuli, removed before the metrics).",
    ]
    if result.sidecar is not None:
        sc = result.sidecar
        lines.append(
            f"Capture (sidecar): {sc['capture']['device']}, channel "
            f"{sc['capture']['channel']}, gain {sc['capture']['gain_position']}, top cut "
            f"{sc['capture']['top_cut']}, includes cab {sc['capture']['includes_cab']}, "
            f"source knobs {sc['source'].get('knobs', {})}."
        )
    lines += [f"WARNING: {w}" for w in result.warnings]
    return lines


def _plots(result: NamComparison, plot_dir: Path) -> list[tuple[str, str]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plot_dir.mkdir(parents=True, exist_ok=True)
    out = []
    if result.thd:
        fig, ax = plt.subplots(figsize=(6, 3.5))
        lv = [t["level_dbfs"] for t in result.thd]
        ax.plot(lv, [t["rig_thd_db"] for t in result.thd], "o-", label="rig")
        ax.plot(lv, [t["nam_thd_db"] for t in result.thd], "s--", label="model")
        ax.set(
            xlabel="input level (dBFS peak)", ylabel="THD (dB re H1)", title="THD vs level, 1 kHz"
        )
        ax.legend()
        ax.grid(alpha=0.3)
        fig.tight_layout()
        fig.savefig(plot_dir / "thd_vs_level.png", dpi=80, metadata={"Software": None})
        plt.close(fig)
        out.append(("plots/thd_vs_level.png", "THD vs input level: rig and model"))
    if result.bands:
        fig, ax = plt.subplots(figsize=(6, 3.5))
        c = [b[0] for b in result.bands]
        ax.semilogx(c, [b[1] for b in result.bands], "o-", label="all bands")
        gated = [b for b in result.bands if b[3]]
        ax.semilogx([b[0] for b in gated], [b[1] for b in gated], "s", label="gated bands")
        ax.legend()
        ax.set(
            xlabel="third-octave band (Hz)",
            ylabel="residual (dB re rig)",
            title="Band residuals, DI phrase",
        )
        ax.grid(alpha=0.3, which="both")
        fig.tight_layout()
        fig.savefig(plot_dir / "band_residuals.png", dpi=80, metadata={"Software": None})
        plt.close(fig)
        out.append(("plots/band_residuals.png", "Residual energy per third-octave band"))
    return out


def write_report(result: NamComparison, report_dir: str | Path) -> dict[str, Path]:
    """Write ``report.md``, ``report.html``, ``result.json`` and ``plots/*.png`` into
    ``report_dir``; returns their paths by kind."""
    d = Path(report_dir)
    d.mkdir(parents=True, exist_ok=True)
    title = f"compare-nam: {result.rig} vs {result.nam}"
    lines = _summary_lines(result)
    tables = _tables(result)
    plots = _plots(result, d / "plots")

    md = [f"# {title}", ""] + [f"- {line}" for line in lines]
    for heading, headers, rows in tables:
        md += [
            "",
            f"## {heading}",
            "",
            "| " + " | ".join(headers) + " |",
            "|" + "---|" * len(headers),
        ]
        md += ["| " + " | ".join(str(v).replace("|", "\\|") for v in r) + " |" for r in rows]
    md += [""] + [f"![{cap}]({file})" for file, cap in plots]
    esc = html.escape
    page = (
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f"<title>{esc(title)}</title><style>body{{font-family:sans-serif;max-width:70em}}"
            "table{border-collapse:collapse;font-size:.85em}td,th{border:1px solid #ccc;"
            "padding:2px 6px}.FAIL{color:#b00;font-weight:bold}</style></head><body>",
            f"<h1>{esc(title)}</h1><ul>",
        ]
        + [f"<li>{esc(line)}</li>" for line in lines]
        + ["</ul>"]
    )
    for heading, headers, rows in tables:
        page.append(
            f"<h2>{esc(heading)}</h2><table><tr>"
            + "".join(f"<th>{esc(h)}</th>" for h in headers)
            + "</tr>"
        )
        page += [
            "<tr>" + "".join(f'<td class="{esc(str(v))}">{esc(str(v))}</td>' for v in r) + "</tr>"
            for r in rows
        ]
        page.append("</table>")
    page += [
        f'<figure><img src="{esc(f)}" alt="{esc(c)}"><figcaption>{esc(c)}</figcaption></figure>'
        for f, c in plots
    ] + ["</body></html>"]
    paths = {"markdown": d / "report.md", "html": d / "report.html", "json": d / "result.json"}
    paths["markdown"].write_text("\n".join(md) + "\n", encoding="utf-8")
    paths["html"].write_text("\n".join(page) + "\n", encoding="utf-8")
    paths["json"].write_text(
        json.dumps(result.to_json(), indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    return paths


def format_verdict(result: NamComparison) -> str:
    """The gate table and verdict as plain text (what the CLI prints)."""
    lines = [f"compare-nam {result.rig} [{result.settings}] vs {result.nam}"]
    lines += [
        f"  delay {result.delay_samples:.4f} samples ({result.delay_integer} "
        f"{result.delay_fraction:+.4f}), gain offset {result.gain_offset_db:+.3f} dB"
    ]
    lines += [f"  WARNING: {w}" for w in result.warnings]
    for g in result.gate:
        op = "<=" if g.better == "lower" else ">="
        lines.append(
            f"  {'PASS' if g.passed else 'FAIL'} {g.metric} = {_fmt(g.value)} {g.unit} "
            f"(limit {op} {g.limit:g})"
        )
    lines.append(f"verdict: {'PASS' if result.passed else 'FAIL'}")
    return "\n".join(lines)
