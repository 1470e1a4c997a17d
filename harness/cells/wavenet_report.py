"""Judging a trained WaveNet: ESR per held-out knob setting with NAM's grading bands, and
the conditioning check (treble up → more 3–8 kHz energy, volume up → more harmonic
content) run on the reference rig and on the model alike.

ESR here is ``harness.metrics.null.esr`` without pre-emphasis over the whole render of each
test phrase (from rest, rig latency included in both), the number NAM grades; the 0.85
pre-emphasized ESR (the training loss's main term) is listed next to it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.metrics.distortion import thd
from harness.metrics.null import esr

#: NAM's grading bands for ESR (upper bounds, exclusive): great, ok, marginal; else poor.
NAM_BANDS = ((0.01, "great"), (0.035, "ok"), (0.1, "marginal"))
#: The treble check's band (Hz): where the Top Boost treble control acts (as in the rig's
#: acceptance test).
HIGH_BAND_HZ = (3000.0, 8000.0)
#: Minimum change that counts as "more": 1 dB of band energy and 1 dB of THD — well above
#: the float32 render noise (< 0.001 dB), well below the reference's measured effect (see
#: the report's numbers).
MIN_BAND_RISE_DB = 1.0
MIN_THD_RISE_DB = 1.0
#: The volume check's tone: 220 Hz at 0.1 V peak (−20 dBFS, a moderate DI level), 0.5 s;
#: THD over its last 0.25 s (after the coupling capacitors settle).
THD_TONE_HZ, THD_TONE_V, THD_TONE_S = 220.0, 0.1, 0.5


def grade(value: float) -> str:
    """NAM's band for an ESR value."""
    for bound, name in NAM_BANDS:
        if value < bound:
            return name
    return "poor"


@dataclass(frozen=True)
class ConditioningResult:
    """High-band (3–8 kHz) energy in dB at treble low/high and THD in dB at volume low/high
    (None when the knob is not conditioned)."""

    treble_db: tuple[float, float] | None
    volume_thd_db: tuple[float, float] | None

    @property
    def treble_ok(self) -> bool | None:
        if self.treble_db is None:
            return None
        return self.treble_db[1] - self.treble_db[0] >= MIN_BAND_RISE_DB

    @property
    def volume_ok(self) -> bool | None:
        if self.volume_thd_db is None:
            return None
        return self.volume_thd_db[1] - self.volume_thd_db[0] >= MIN_THD_RISE_DB


def band_energy_db(y: np.ndarray, sample_rate: float, band: tuple[float, float]) -> float:
    """Energy of ``y`` inside ``band`` (Hz), dB re 1 V²·sample (from its FFT)."""
    spec = np.abs(np.fft.rfft(y)) ** 2 / y.size
    f = np.fft.rfftfreq(y.size, 1.0 / sample_rate)
    sel = (f >= band[0]) & (f < band[1])
    return float(10.0 * np.log10(np.sum(spec[sel]) + 1e-30))


def conditioning_check(
    render: Callable[[dict[str, float], np.ndarray], np.ndarray],
    sample_rate: float,
    base: dict[str, float],
    knobs: dict[str, tuple[float, float]],
) -> ConditioningResult:
    """Render through ``render(knobs, x_volts) → y`` at ``base`` knobs with treble and
    volume each moved between the (low, high) of ``knobs`` (absent knob: not checked).
    Treble: a DI phrase (seed 7, 2 s), 3–8 kHz energy. Volume: THD of a 220 Hz tone."""
    from harness.stimuli import di_phrase

    treble = volume = None
    if "treble" in knobs:
        x = di_phrase(sample_rate, seed=7, duration_s=2.0).signal
        treble = tuple(
            band_energy_db(render({**base, "treble": v}, x), sample_rate, HIGH_BAND_HZ)
            for v in knobs["treble"]
        )
    if "volume" in knobs:
        n = int(THD_TONE_S * sample_rate)
        x = THD_TONE_V * np.sin(2 * np.pi * THD_TONE_HZ * np.arange(n) / sample_rate)
        volume = tuple(
            thd(render({**base, "volume": v}, x)[n // 2 :], sample_rate, THD_TONE_HZ).thd_db
            for v in knobs["volume"]
        )
    return ConditioningResult(treble, volume)


def rig_renderer(rig_path, channel: str | None):
    """render(knobs, x) through the reference rig in the runtime (no cab)."""
    from harness.rigs import RigChain, load_rig

    rig = load_rig(rig_path)

    def render(knobs: dict[str, float], x: np.ndarray) -> np.ndarray:
        chain = RigChain(rig, knobs, channel, cab=False).native()
        return np.asarray(chain.process(x.astype(np.float32)), dtype=np.float64)

    return render


def artifact_renderer(artifact):
    """render(knobs, x) through a WaveNet artifact in PyTorch (from rest)."""
    from harness.cells.wavenet import render_volts

    def render(knobs: dict[str, float], x: np.ndarray) -> np.ndarray:
        return render_volts(artifact, x, knobs).astype(np.float64)

    return render


def _fmt_pair(pair) -> str:
    return "—" if pair is None else f"{pair[0]:.1f} → {pair[1]:.1f} ({pair[1] - pair[0]:+.1f})"


def write_report(descriptor: Path, cfg, renders, report: Path) -> Path:
    """Markdown report next to the artifact: model size, ESR per held-out setting (test
    and validation), the conditioning check on the reference and on the model."""
    from harness.artifacts import read_artifact

    artifact = read_artifact(descriptor)
    d = artifact.descriptor
    prov = d["provenance"]
    rate = d["sample_rate_hz"]
    render_model = artifact_renderer(artifact)
    lines = [f"# WaveNet `{d['name']}` vs the reference rig", "",
             f"Config `{cfg.path.name}` (sha256 {cfg.sha256[:12]}), rig `{Path(cfg.rig).name}` "
             f"channel `{prov['channel']}`, fixed knobs {prov['fixed_knobs']}.", "",
             f"- MACs/sample: {d['cpu_cost']['macs_per_sample']} "
             f"(breakdown {prov['macs_breakdown']}); parameters: {prov['parameters']}; "
             f"memory: {prov['memory_bytes']['weights']} B weights + "
             f"{prov['memory_bytes']['state']} B streaming state (float32)",
             f"- receptive field: {prov['receptive_field_samples']} samples "
             f"({prov['receptive_field_samples'] / rate * 1e3:.1f} ms at {rate:.0f} Hz)",
             f"- training: {prov['training']['epochs_run']} epochs, "
             f"{prov['training']['train_seconds']} s, best validation loss "
             f"{prov['training']['best_validation_loss']:.4g}", "",
             "## ESR per held-out knob setting",
             "", "Whole renders of the split's phrases from rest; ESR without pre-emphasis, "
             "graded with NAM's bands (< 0.01 great, < 0.035 ok, < 0.1 marginal, else poor). "
             "Test = unseen knob setting AND unseen phrases.", "",
             "| split | knobs | ESR | grade | ESR (1 − 0.85 z⁻¹) |",
             "|---|---|---:|---|---:|"]  # fmt: skip
    for split in ("test", "validation"):
        for setting in cfg.settings(split):
            chosen = [r for r in renders if r.split == split and r.setting == setting]
            ref = np.concatenate([r.y for r in chosen])
            out = np.concatenate([render_model(setting, r.x) for r in chosen])
            raw, pe = esr(ref, out), esr(ref, out, 0.85)
            knobs = ", ".join(f"{k} {v:g}" for k, v in setting.items())
            lines.append(f"| {split} | {knobs} | {raw:.4f} | {grade(raw)} | {pe:.4f} |")
    lo_hi = {k: (min(v), max(v)) for k, v in cfg.knobs.items() if len(v) > 1}
    base = {k: v[len(v) // 2] for k, v in cfg.knobs.items()}
    ref_check = conditioning_check(rig_renderer(cfg.rig, cfg.channel), rate, base, lo_hi)
    model_check = conditioning_check(render_model, rate, base, lo_hi)
    lines += ["", "## Conditioning check", "",
              f"Base knobs {base}; each knob moved between its grid's lowest and highest value. "
              f"Treble: 3–8 kHz energy of a DI phrase (dB); volume: THD of a 220 Hz, "
              f"{THD_TONE_V} V tone (dB). Pass = a rise of ≥ {MIN_BAND_RISE_DB} dB.", "",
              "| check | reference | pass | model | pass |", "|---|---|---|---|---|",
              f"| treble up → more high band | {_fmt_pair(ref_check.treble_db)} | "
              f"{ref_check.treble_ok} | {_fmt_pair(model_check.treble_db)} | "
              f"{model_check.treble_ok} |",
              f"| volume up → more THD | {_fmt_pair(ref_check.volume_thd_db)} | "
              f"{ref_check.volume_ok} | {_fmt_pair(model_check.volume_thd_db)} | "
              f"{model_check.volume_ok} |", ""]  # fmt: skip
    report.write_text("\n".join(lines) + "\n")
    return report


# --- held-out ESR, reusable (issue 8: the WaveNet golden and its trend rows) ---------------
@dataclass(frozen=True)
class HeldOutEsr:
    """ESR of a model over every phrase of one held-out knob setting (whole renders from
    rest, concatenated): ``esr`` without pre-emphasis (NAM's number, graded), and
    ``esr_pre_emphasis`` after 1 − 0.85 z⁻¹; ``reference_rms`` (and
    ``reference_rms_pre_emphasis``, after the same filter) and ``model_peak`` in V and
    ``n_samples`` at the rig's rate, for error bounds on the ESR."""

    split: str
    setting: dict[str, float]
    esr: float
    esr_pre_emphasis: float
    n_samples: int
    reference_rms: float
    reference_rms_pre_emphasis: float
    model_peak: float

    @property
    def grade(self) -> str:
        return grade(self.esr)

    @property
    def label(self) -> str:
        """``volume=4,treble=5``: the setting as a metric tag."""
        return ",".join(f"{k}={v:g}" for k, v in self.setting.items())


def split_renders(cfg, split: str) -> list:
    """The reference rig's renders of one split of ``cfg`` (``wavenet_train.Render``), made
    exactly as ``train-wavenet`` makes them (same padding, from reset, no cab)."""
    import dataclasses

    from harness.cells.wavenet_config import SPLITS
    from harness.cells.wavenet_train import render_dataset

    only = {s: (cfg.stimuli[s] if s == split else ()) for s in SPLITS}
    return render_dataset(dataclasses.replace(cfg, stimuli=only))


def held_out_esr(cfg, render_model, renders, split: str) -> list[HeldOutEsr]:
    """ESR of ``render_model(knobs, x) → y`` against ``renders`` (of ``split``) per knob
    setting of that split, in config order (as ``write_report`` tabulates it)."""
    rows = []
    for setting in cfg.settings(split):
        chosen = [r for r in renders if r.split == split and r.setting == setting]
        if not chosen:
            raise ValueError(f"no {split} renders for knob setting {setting}")
        ref = np.concatenate([r.y for r in chosen])
        out = np.concatenate([render_model(setting, r.x) for r in chosen])
        emphasized = ref.copy()
        emphasized[1:] -= 0.85 * ref[:-1]  # 1 − 0.85 z⁻¹, as esr(..., 0.85) filters
        rows.append(HeldOutEsr(split, dict(setting), float(esr(ref, out)),
                               float(esr(ref, out, 0.85)), int(ref.size),
                               float(np.sqrt(np.mean(ref**2))),
                               float(np.sqrt(np.mean(emphasized**2))),
                               float(np.max(np.abs(out)))))  # fmt: skip
    return rows


def runtime_renderer(descriptor, sample_rate: float):
    """render(knobs, x) through a WaveNet artifact in the Rust runtime
    (``harness.runtime.NeuralCell``), from rest, knobs applied at once."""
    from harness.runtime import NeuralCell

    def render(knobs: dict[str, float], x: np.ndarray) -> np.ndarray:
        cell = NeuralCell(descriptor, sample_rate, **knobs)
        return np.asarray(cell.process(x.astype(np.float32)), dtype=np.float64)

    return render
