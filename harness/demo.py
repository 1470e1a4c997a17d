"""The lab's default job (``make demo`` / ``greybound-lab demo``): render the runtime's
built-in stages on built-in stimuli and write WAVs plus a Markdown summary.

Renders are in volts (1.0 = 1 V, see ``harness.audio``). Stage outputs span millivolts to
tens of volts, so each WAV is normalized to −1 dBFS peak for listening; the summary states
every normalization gain and the measured levels in volts-referenced dBFS.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness import stimuli
from harness.audio import write_wav
from harness.metrics.levels import crest_factor_db, peak_dbfs, rms_dbfs
from harness.runtime import Stage

SAMPLE_RATE = 48000
#: Peak level of the listening WAVs (dBFS).
LISTEN_PEAK_DBFS = -1.0


@dataclass(frozen=True)
class DemoStage:
    """A named runtime stage configuration."""

    name: str
    kind: str
    params: dict


DEMO_STAGES = (
    DemoStage("triode-12ax7", "triode_common_cathode", {}),
    DemoStage("diode-clipper", "diode_clipper", {}),
    DemoStage("tonestack-fender", "tone_stack", {"voicing": "fender"}),
    DemoStage("tonestack-vox", "tone_stack", {"voicing": "vox", "treble": 0.7, "bass": 0.4}),
)


def demo_stimuli(sample_rate: float = SAMPLE_RATE) -> list[stimuli.Stimulus]:
    """A guitar phrase at DI level, a level-stepped 1 kHz sine and a sweep."""
    return [
        stimuli.di_phrase(sample_rate),
        stimuli.level_stepped_sine(sample_rate, step_s=0.3, settle_s=0.1),
        stimuli.exp_sweep(sample_rate, duration_s=2.0, level_dbfs=-12.0),
    ]


@dataclass(frozen=True)
class RenderRow:
    stage: str
    stimulus: str
    in_peak_dbfs: float
    out_peak_dbfs: float
    out_rms_dbfs: float
    out_crest_db: float
    listen_gain_db: float
    realtime_factor: float
    wav: str


def _render(stage: DemoStage, stim: stimuli.Stimulus, out_dir: Path) -> RenderRow:
    runtime = Stage(stage.kind, stim.sample_rate, **stage.params)
    start = time.perf_counter()
    y = runtime.process(stim.signal)
    elapsed = time.perf_counter() - start
    peak = float(np.max(np.abs(y)))
    gain = 10 ** (LISTEN_PEAK_DBFS / 20) / peak if peak > 0 else 1.0
    wav = out_dir / f"{stage.name}__{stim.name}.wav"
    write_wav(wav, y * gain, int(stim.sample_rate))
    return RenderRow(
        stage=stage.name,
        stimulus=stim.name,
        in_peak_dbfs=peak_dbfs(stim.signal),
        out_peak_dbfs=peak_dbfs(y),
        out_rms_dbfs=rms_dbfs(y),
        out_crest_db=crest_factor_db(y),
        listen_gain_db=20 * np.log10(gain),
        realtime_factor=len(y) / stim.sample_rate / elapsed,
        wav=wav.name,
    )


def run_demo(output_dir: str | Path = "reports") -> Path:
    """Render every demo stage on every demo stimulus into ``output_dir/demo`` and write
    ``output_dir/demo.md``. Returns the summary's path."""
    out = Path(output_dir)
    wav_dir = out / "demo"
    wav_dir.mkdir(parents=True, exist_ok=True)
    rows = [_render(s, stim, wav_dir) for s in DEMO_STAGES for stim in demo_stimuli()]
    lines = [
        "# Greybound Lab demo: runtime stages on built-in stimuli",
        "",
        f"Sample rate {SAMPLE_RATE} Hz. Levels in dBFS with 0 dBFS = 1 V peak (harness.audio).",
        f"WAVs in `demo/` are normalized to {LISTEN_PEAK_DBFS} dBFS peak by the listed gain.",
        "Real-time factor = audio seconds per wall-clock second of one render through Python"
        " (informational; the benchmarks are `make bench`).",
        "",
        "| stage | stimulus | in peak dBFS | out peak dBFS | out RMS dBFS | crest dB "
        "| WAV gain dB | RT factor | WAV |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r.stage} | {r.stimulus} | {r.in_peak_dbfs:.1f} | {r.out_peak_dbfs:.1f} "
            f"| {r.out_rms_dbfs:.1f} | {r.out_crest_db:.1f} | {r.listen_gain_db:.1f} "
            f"| {r.realtime_factor:.0f}× | demo/{r.wav} |"
        )
    summary = out / "demo.md"
    summary.write_text("\n".join(lines) + "\n")
    return summary
