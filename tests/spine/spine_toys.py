"""Toy golden producers for the spine tests: pure numpy, no runtime needed."""

import numpy as np

from harness.golden import GoldenData, MetricValue, Registry
from harness.stimuli import exp_sweep, level_stepped_sine, two_tone

RATE = 48_000
LEVELS_DBFS = (-30.0, -20.0, -10.0, 0.0)

TOY_GATES = """{
  schema: 1,
  suite: "toys",
  defaults: {
    esr_db: {limit: -100, better: "lower", unit: "dB", basis: "noise_floor",
                       reason: "float32 storage of identical code is exact"},
    delta_rms_dbfs: {limit: 0.001, better: "lower", unit: "dB", basis: "noise_floor",
                     reason: "follows from the ESR limit"},
    delta_thd_pct: {limit: 0.001, better: "lower", unit: "%", basis: "noise_floor",
                    reason: "follows from the ESR limit"},
  },
}
"""


def harmonic_thd_pct(y: np.ndarray, f0: float, rate: float, n_harmonics: int = 9) -> float:
    """THD (%) of a segment holding an integer number of f0 periods: harmonic bins 2..n."""
    spec = np.abs(np.fft.rfft(y))
    cycles = int(round(f0 * len(y) / rate))
    fund = spec[cycles]
    harm = [spec[k * cycles] for k in range(2, n_harmonics + 1) if k * cycles < len(spec)]
    return float(100.0 * np.sqrt(np.sum(np.square(harm))) / fund)


def rms_dbfs(y: np.ndarray) -> float:
    return float(20 * np.log10(np.sqrt(np.mean(np.square(y, dtype=np.float64)))))


def toy_registry(gain: float = 2.0, full: bool = False) -> Registry:
    """``toys/tanh``: y = tanh(gain·x). ``full`` adds stepped-sine, sweep and two-tone renders
    with a THD snapshot (what the report draws); otherwise one 1 kHz sine."""
    reg = Registry()

    @reg.register("toys/tanh", model="toy", description="tanh clipper")
    def tanh_clipper() -> GoldenData:
        if not full:
            t = np.arange(RATE // 10) / RATE
            x = 0.5 * np.sin(2 * np.pi * 1000.0 * t)
            y = np.tanh(gain * x).astype(np.float32)
            return GoldenData(
                sample_rate=RATE,
                audio={"sine": y},
                arrays={"x": x},
                metrics={"rms_dbfs": MetricValue(rms_dbfs(y), "dB")},
                inputs={"sine": x},
                params={"gain": gain},
            )
        steps = level_stepped_sine(RATE, 1000.0, LEVELS_DBFS, step_s=0.05, settle_s=0.01)
        stimuli = {
            "sine_steps": steps,
            "sweep": exp_sweep(RATE, duration_s=0.1, fade_in_s=0.01, tail_s=0.01),
            "imd": two_tone(RATE, "smpte", duration_s=0.1, settle_s=0.02),
        }
        audio = {k: np.tanh(gain * s.signal).astype(np.float32) for k, s in stimuli.items()}
        metrics = {}
        for level in LEVELS_DBFS:
            start, end = steps.segments[f"level_{level:g}dBFS"]
            seg = audio["sine_steps"][start:end]
            metrics[f"thd_pct[sine {level:g} dBFS]"] = MetricValue(
                harmonic_thd_pct(seg, 1000.0, RATE), "%"
            )
            metrics[f"rms_dbfs[sine {level:g} dBFS]"] = MetricValue(rms_dbfs(seg), "dB")
        return GoldenData(
            sample_rate=RATE,
            audio=audio,
            metrics=metrics,
            inputs={k: s.signal for k, s in stimuli.items()},
            params={"gain": gain},
        )

    return reg
