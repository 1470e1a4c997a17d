"""Speed of the full metric set on 60 s of 48 kHz mono (pytest-benchmark; run with
``pytest -m bench``). Target: under 5 s on one core. Wall time is reported, not asserted."""

import math

import numpy as np
import pytest
from scipy import signal as sps

from harness import stimuli as S
from harness.metrics import (
    aliasing,
    align,
    distortion,
    dynamics,
    levels,
    monitor,
    null,
    phase,
    spectral,
)

FS = 48000

pytestmark = pytest.mark.bench


@pytest.fixture(scope="module")
def signals():
    """A 60 s DI phrase, a 'reference amp' and a 'model' of it (slightly different drive,
    a one-pole tone filter and 23 samples more latency)."""
    stim = S.di_phrase(FS, seed=1, duration_s=60.0)
    di = stim.signal
    b, a = sps.butter(1, 5000.0, fs=FS)
    reference = np.tanh(3.0 * sps.lfilter(b, a, di))
    model = np.concatenate([np.zeros(23), np.tanh(3.1 * sps.lfilter(b, a, di))])[: di.size]
    return stim, di, reference, model


def full_metric_set(stim, di, reference, model) -> dict:
    out = {}
    out["rms_dbfs"] = levels.rms_dbfs(model)
    out["peak_dbfs"] = levels.peak_dbfs(model)
    out["true_peak_dbfs"] = levels.true_peak_dbfs(model, FS)
    out["crest_factor_db"] = levels.crest_factor_db(model)
    out["loudness_lufs"] = levels.loudness_lufs(model, FS)
    # Align once; the null and band residuals reuse the aligned pair, as a gate run does.
    a = align.align(reference, model, FS)
    out["delay_samples"] = a.delay_samples
    out["null_residual_db"] = null.null_residual_db(a.reference, a.candidate, FS, align_first=False)
    for pre in (None, 0.85, "a-weighting"):
        out[f"esr_{pre}"] = null.esr(a.reference, a.candidate_matched, pre, sample_rate=FS)
    out["stft_distance"] = spectral.stft_distance(a.reference, a.candidate, FS)
    out["mrstft_distance"] = spectral.mrstft_distance(a.reference, a.candidate, FS)
    out["log_mel_distance"] = spectral.log_mel_distance(a.reference, a.candidate, FS)
    bands = spectral.band_residuals_db(a.reference, a.candidate, FS, align_first=False)
    out["band_residual_max_db"] = float(np.max(bands.residual_db))
    out["transient_envelope_error_db"] = dynamics.transient_envelope_error_db(
        a.reference, a.candidate, FS
    )
    out["attack_time_ms"] = dynamics.attack_time_ms(model, FS)
    out["decay_time_ms"] = dynamics.decay_time_ms(model, FS)
    out["pluck_notes"] = len(dynamics.pluck_diagnostics(model, stim))
    out["thd_ratio"] = distortion.thd(model, FS, 997.0).thd_ratio
    out["imd_ratio"] = distortion.imd(model, FS, 60.0, 7000.0)
    out["sar_db"] = aliasing.signal_to_aliasing_db(model, FS, 1001)
    out["group_delay_median"] = float(
        np.nanmedian(phase.group_delay_samples(di, model, FS).delay_samples)
    )
    out["phase_dev_rms_deg"] = phase.phase_deviation_deg(di, reference, model, FS).rms_deg
    out["monitor_healthy"] = monitor.monitor_health(monitor.block_records(model, "model")).healthy
    return out


def test_full_metric_set_on_60_s(benchmark, signals):
    result = benchmark.pedantic(full_metric_set, args=signals, rounds=3, iterations=1)
    numbers = {k: v for k, v in result.items() if not isinstance(v, bool)}
    assert all(math.isfinite(v) for v in numbers.values()), numbers
    assert result["delay_samples"] == pytest.approx(23.0, abs=0.5)
    assert result["monitor_healthy"]
