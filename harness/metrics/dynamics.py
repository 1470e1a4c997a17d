"""Envelopes and time behaviour: attack and decay times, transient envelope error, supply
sag and recovery on ``bursts`` stimuli, and per-note diagnostics on ``plucks``.

Envelopes are linear amplitudes in signal units (1.0 = full scale):

* ``envelope(method="rms")``: centred moving RMS over ``window_ms`` (zero-phase, so no
  time shift; a sine of peak A reads A/√2). Time resolution is the window length.
* ``envelope(method="hilbert")``: |analytic signal| (Gabor), smoothed by the same centred
  window; a steady sine reads its peak A.
* Tone envelopes for bursts use synchronous demodulation at the known tone frequency,
  averaged over whole periods (a lock-in amplifier: harmonics and DC are rejected).

Time metrics follow the usual definitions: rise time 10 %→90 % of the envelope peak
(IEC 60469 pulse rise time applied to the envelope), decay from Schroeder backward
integration of energy (ISO 3382-1, monotonic even when partials beat).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import signal as sps

from harness.errors import InputError
from harness.metrics import _validate as v
from harness.stimuli import Stimulus

ENVELOPE_METHODS = ("rms", "hilbert")


def _window_samples(window_ms: float, sample_rate: float, what: str) -> int:
    if not math.isfinite(window_ms) or window_ms < 0:
        raise InputError(f"{what}: window_ms must be >= 0, got {window_ms!r}")
    return max(1, int(round(window_ms * 1e-3 * sample_rate)) | 1)  # odd: centred


def _moving_mean(x: np.ndarray, width: int) -> np.ndarray:
    """Centred moving average over ``width`` (odd) samples; zeros beyond the ends."""
    if width == 1:
        return x.copy()
    return sps.oaconvolve(x, np.full(width, 1.0 / width), mode="same")


def envelope(x, sample_rate: float, *, window_ms: float = 10.0, method: str = "rms") -> np.ndarray:
    """Amplitude envelope of ``x`` (same length, signal units); see the module docstring
    for the methods. ``window_ms`` is the centred smoothing window (rounded to an odd
    number of samples; 0 = one sample)."""
    rate = v.rate(sample_rate, "envelope")
    x = v.signal(x, "envelope x", min_samples=2)
    if method not in ENVELOPE_METHODS:
        raise InputError(f"envelope: method must be one of {ENVELOPE_METHODS}, got {method!r}")
    width = _window_samples(window_ms, rate, "envelope")
    if method == "rms":
        return np.sqrt(np.maximum(_moving_mean(x * x, width), 0.0))
    return np.maximum(_moving_mean(np.abs(sps.hilbert(x)), width), 0.0)


def _crossing(env: np.ndarray, level: float, start: int, stop: int) -> float:
    """First fractional index in [start, stop) where ``env`` reaches ``level`` (linear
    interpolation between samples)."""
    above = np.flatnonzero(env[start:stop] >= level)
    if above.size == 0:
        return math.nan
    i = start + int(above[0])
    if i == 0 or env[i - 1] >= level:
        return float(i)
    return i - 1 + (level - env[i - 1]) / (env[i] - env[i - 1])


def attack_time_ms(
    x,
    sample_rate: float,
    *,
    low: float = 0.1,
    high: float = 0.9,
    window_ms: float = 10.0,
    method: str = "rms",
) -> float:
    """Rise time of the envelope in ms: from its first crossing of ``low``·peak to its first
    crossing of ``high``·peak (10 %→90 % by default), before the envelope peak. The
    smoothing window limits resolution: rises much shorter than ``window_ms`` read about
    0.8·window."""
    rate = v.rate(sample_rate, "attack_time_ms")
    if not 0.0 < low < high < 1.0:
        raise InputError(f"attack_time_ms: need 0 < low < high < 1, got {low!r}, {high!r}")
    env = envelope(x, rate, window_ms=window_ms, method=method)
    v.not_silent(env, "attack_time_ms x")
    peak_index = int(np.argmax(env))
    peak = env[peak_index]
    t_low = _crossing(env, low * peak, 0, peak_index + 1)
    t_high = _crossing(env, high * peak, 0, peak_index + 1)
    return (t_high - t_low) / rate * 1e3


def _energy_decay_db(x: np.ndarray) -> np.ndarray:
    """Schroeder backward-integrated energy in dB re its start (ISO 3382-1)."""
    tail = np.cumsum((x * x)[::-1])[::-1]
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(tail / tail[0])


def decay_time_ms(
    x,
    sample_rate: float,
    *,
    drop_db: float = 20.0,
    window_ms: float = 10.0,
) -> float:
    """Time in ms from the envelope peak until the backward-integrated energy (Schroeder,
    ISO 3382-1) has fallen ``drop_db`` below its value at the peak. For an exponential
    decay of time constant τ (amplitude e^(−t/τ)) this is τ·ln(10)·drop_db/20. Returns inf
    if the signal ends first. Noise after the decay lengthens the result (integrate only
    what you want measured)."""
    rate = v.rate(sample_rate, "decay_time_ms")
    if not math.isfinite(drop_db) or drop_db <= 0:
        raise InputError(f"decay_time_ms: drop_db must be > 0, got {drop_db!r}")
    x = v.signal(x, "decay_time_ms x", min_samples=2)
    env = envelope(x, rate, window_ms=window_ms)
    v.not_silent(env, "decay_time_ms x")
    peak_index = int(np.argmax(env))
    edc = _energy_decay_db(x[peak_index:])
    below = np.flatnonzero(edc <= -drop_db)
    if below.size == 0:
        return math.inf
    i = int(below[0])
    # interpolate between i-1 and i on the dB curve
    frac = (edc[i - 1] + drop_db) / (edc[i - 1] - edc[i]) if edc[i - 1] != edc[i] else 1.0
    return (i - 1 + frac) / rate * 1e3


def transient_envelope_error_db(
    reference,
    candidate,
    sample_rate: float,
    *,
    window_ms: float = 2.0,
    floor_db: float = -60.0,
    candidate_sample_rate: float | None = None,
) -> float:
    """RMS over time of the difference, in dB, between the short-time (``window_ms``, RMS)
    envelopes of two aligned, equal-length signals, over the samples where the reference
    envelope is above ``floor_db`` re its peak. 0 dB for identical signals; a uniform gain
    error of g dB gives |g|. The short window keeps attacks and transients in the measure."""
    rate = v.rate(sample_rate, "transient_envelope_error_db")
    v.same_rate(rate, candidate_sample_rate, "transient_envelope_error_db candidate")
    r = v.signal(reference, "transient_envelope_error_db reference", min_samples=2)
    c = v.signal(candidate, "transient_envelope_error_db candidate", min_samples=2)
    v.same_length(r, c, "transient_envelope_error_db")
    if not math.isfinite(floor_db) or floor_db >= 0:
        raise InputError(f"transient_envelope_error_db: floor_db must be < 0, got {floor_db!r}")
    v.not_silent(r, "transient_envelope_error_db reference")
    env_r = envelope(r, rate, window_ms=window_ms)
    env_c = envelope(c, rate, window_ms=window_ms)
    floor = env_r.max() * 10.0 ** (floor_db / 20.0)
    mask = env_r > floor
    level_c = np.maximum(env_c[mask], floor)  # a silent candidate reads as the floor
    diff = 20.0 * np.log10(level_c / env_r[mask])
    return float(np.sqrt(np.mean(diff * diff)))


# --------------------------------------------------------------------------------------
# Bursts: sag and recovery
# --------------------------------------------------------------------------------------


def tone_envelope(y: np.ndarray, f_hz: float, sample_rate: float, periods: int = 2) -> np.ndarray:
    """Amplitude (peak, signal units) of the ``f_hz`` component of ``y`` vs time, by
    synchronous demodulation: |2·mean(y·e^(−j2πft))| over a centred window of ``periods``
    whole periods (rounded to samples). DC, harmonics and the 2f image fall on the window's
    spectral zeros; resolution is the window length."""
    width = max(1, int(round(periods * sample_rate / f_hz)))
    t = np.arange(y.size) / sample_rate
    baseband = y * np.exp(-2j * np.pi * f_hz * t)
    kernel = np.full(width, 2.0 / width)
    return np.abs(sps.oaconvolve(baseband, kernel, mode="same"))


@dataclass(frozen=True, eq=False)
class BurstDynamics:
    """Per-burst sag and per-probe recovery of a ``bursts`` response.

    ``sag_db[k]``: fall of burst k's fundamental from its first to its last full analysis
    window, in dB (positive = the output sagged). ``recovery_ms[k]``: time after burst k
    ends until probe k+1's level stays within ``tolerance_db`` of its settled level (the
    median over the probe's last quarter). ``probe_offset_db[k]``: probe k+1's settled
    level re the baseline probe 0 (dB; negative = not back to the pre-burst level).
    ``window_ms``: analysis windows (burst, probe); they bound the time resolution.
    """

    sag_db: np.ndarray
    recovery_ms: np.ndarray
    probe_offset_db: np.ndarray
    window_ms: tuple[float, float]


def burst_dynamics(
    y,
    stimulus: Stimulus,
    *,
    tolerance_db: float = 1.0,
    delay_samples: int = 0,
    sample_rate: float | None = None,
) -> BurstDynamics:
    """Sag and recovery of a system's response ``y`` to a ``bursts`` stimulus (segments
    shifted by the system's integer latency ``delay_samples``). Burst levels are tracked at
    the burst frequency over 2-period windows, probe levels at the probe frequency over
    2-period windows (``tone_envelope``). ``sample_rate`` (Hz), if given, must equal the
    stimulus's."""
    if not isinstance(stimulus, Stimulus) or stimulus.meta.get("kind") != "bursts":
        raise InputError("burst_dynamics: stimulus must be a harness.stimuli.bursts() Stimulus")
    rate = stimulus.sample_rate
    if sample_rate is not None:
        v.same_rate(rate, sample_rate, "burst_dynamics response")
    if not math.isfinite(tolerance_db) or tolerance_db <= 0:
        raise InputError(f"burst_dynamics: tolerance_db must be > 0, got {tolerance_db!r}")
    y = v.signal(y, "burst_dynamics y", min_samples=2)
    meta = stimulus.meta
    ramp = int(round(meta["ramp_s"] * rate))
    burst_env = tone_envelope(y, meta["burst_hz"], rate)
    probe_env = tone_envelope(y, meta["probe_hz"], rate)
    half_b = int(round(rate / meta["burst_hz"]))  # half of the 2-period window
    half_p = int(round(rate / meta["probe_hz"]))
    delay = int(delay_samples)

    def probe_level(k: int) -> tuple[int, int, float]:
        start, end = v.segment(stimulus.segments, f"probe_{k}", y.size, delay, "burst_dynamics")
        first, last = start + ramp + half_p, end - ramp - half_p
        if last - first < 8:
            raise InputError("burst_dynamics: probe segments too short for the analysis window")
        settled = float(np.median(probe_env[first + 3 * (last - first) // 4 : last]))
        return first, last, settled

    baseline = probe_level(0)[2]
    if baseline <= 0:
        raise InputError("burst_dynamics y: no probe tone in the baseline probe_0")
    sags, recoveries, offsets = [], [], []
    for k in range(meta["n_bursts"]):
        start, end = v.segment(stimulus.segments, f"burst_{k}", y.size, delay, "burst_dynamics")
        first, last = start + ramp + half_b, end - ramp - half_b - 1
        if last <= first:
            raise InputError("burst_dynamics: bursts too short for the analysis window")
        a0, a1 = burst_env[first], burst_env[last]
        sags.append(20.0 * math.log10(a0 / a1) if a0 > 0 and a1 > 0 else math.nan)
        p_first, p_last, settled = probe_level(k + 1)
        if settled <= 0:
            recoveries.append(math.inf)
            offsets.append(-math.inf)
            continue
        with np.errstate(divide="ignore"):
            deviation = np.abs(20.0 * np.log10(probe_env[p_first:p_last] / settled))
        outside = np.flatnonzero(deviation > tolerance_db)
        settle_index = p_first + (int(outside[-1]) + 1 if outside.size else 0)
        burst_end = v.segment(stimulus.segments, f"probe_{k + 1}", y.size, delay, "burst_dynamics")[
            0
        ]
        recoveries.append((settle_index - burst_end) / rate * 1e3)
        offsets.append(20.0 * math.log10(settled / baseline))
    return BurstDynamics(
        np.array(sags),
        np.array(recoveries),
        np.array(offsets),
        (2e3 / meta["burst_hz"], 2e3 / meta["probe_hz"]),
    )


def sag_depth_db(
    y, stimulus: Stimulus, *, delay_samples: int = 0, sample_rate: float | None = None
) -> float:
    """Largest sag over the bursts of a ``bursts`` response, in dB (positive = the burst's
    fundamental fell from the start to the end of the burst; 0 for a linear system)."""
    return float(
        np.max(
            burst_dynamics(y, stimulus, delay_samples=delay_samples, sample_rate=sample_rate).sag_db
        )
    )


def recovery_time_ms(
    y,
    stimulus: Stimulus,
    *,
    tolerance_db: float = 1.0,
    delay_samples: int = 0,
    sample_rate: float | None = None,
) -> float:
    """Longest recovery over the bursts, in ms: time from a burst's end until the following
    probe tone's level stays within ``tolerance_db`` of its settled level. A system that
    recovers at once reads about one analysis window (2 probe periods, 2 ms at 1 kHz)."""
    result = burst_dynamics(
        y, stimulus, tolerance_db=tolerance_db, delay_samples=delay_samples, sample_rate=sample_rate
    )
    return float(np.max(result.recovery_ms))


# --------------------------------------------------------------------------------------
# Pluck diagnostics
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PluckDiagnostics:
    """Segment-local diagnostics of one note.

    ``segment``: its name. ``onset_ms``: envelope reaches 10 % of peak, re segment start.
    ``attack_ms``: 10→90 % rise time. ``peak_dbfs``: envelope (RMS) peak in dBFS.
    ``sustain_db``: mean envelope level (dB) over the segment's second half re the peak.
    ``decay_db_per_s``: slope of the envelope in dB/s fitted from the peak to the end
    (points within 60 dB of the peak; negative = decaying). ``high_band_attack_db`` and
    ``high_band_sustain_db``: energy above the high-band edge re total energy (dB) in the
    50 ms after onset and from 200 ms after onset to the end (brightness and its decay).
    """

    segment: str
    onset_ms: float
    attack_ms: float
    peak_dbfs: float
    sustain_db: float
    decay_db_per_s: float
    high_band_attack_db: float
    high_band_sustain_db: float


def _high_band_db(x: np.ndarray, rate: float, edge_hz: float) -> float:
    if x.size < 2:
        return math.nan
    power = np.abs(np.fft.rfft(x * np.hanning(x.size))) ** 2
    freqs = np.fft.rfftfreq(x.size, 1.0 / rate)
    total = float(power.sum())
    high = float(power[freqs >= edge_hz].sum())
    if total == 0.0:
        return math.nan
    return 10.0 * math.log10(high / total) if high > 0 else -math.inf


def pluck_diagnostics(
    y,
    stimulus: Stimulus,
    *,
    high_band_hz: float = 2000.0,
    window_ms: float = 5.0,
    delay_samples: int = 0,
    sample_rate: float | None = None,
) -> list[PluckDiagnostics]:
    """Per-note diagnostics (``PluckDiagnostics``) of a response ``y`` to a ``plucks`` or
    ``di_phrase`` stimulus, one per ``note_k``/``chord_k`` segment (shifted by the integer
    latency ``delay_samples``), from the RMS envelope over ``window_ms``."""
    if not isinstance(stimulus, Stimulus) or stimulus.meta.get("kind") not in (
        "plucks",
        "di_phrase",
    ):
        raise InputError(
            "pluck_diagnostics: stimulus must come from stimuli.plucks() or di_phrase()"
        )
    rate = stimulus.sample_rate
    if sample_rate is not None:
        v.same_rate(rate, sample_rate, "pluck_diagnostics response")
    edge = v.frequency(high_band_hz, rate, "pluck_diagnostics high_band_hz")
    y = v.signal(y, "pluck_diagnostics y", min_samples=2)
    out = []
    for name in stimulus.segments:
        start, end = v.segment(
            stimulus.segments, name, y.size, int(delay_samples), "pluck_diagnostics"
        )
        seg = y[start:end]
        env = envelope(seg, rate, window_ms=window_ms)
        peak_index = int(np.argmax(env))
        peak = float(env[peak_index])
        if peak == 0.0:
            out.append(PluckDiagnostics(name, *(math.nan,) * 3, -math.inf, *(math.nan,) * 4))
            continue
        onset = _crossing(env, 0.1 * peak, 0, peak_index + 1)
        attack = (_crossing(env, 0.9 * peak, 0, peak_index + 1) - onset) / rate * 1e3
        half = env[env.size // 2 :]
        with np.errstate(divide="ignore"):
            sustain = 20.0 * math.log10(max(float(np.mean(half)), 1e-300) / peak)
            decay_db = 20.0 * np.log10(env[peak_index:] / peak)
        times = np.arange(decay_db.size) / rate
        keep = decay_db > -60.0
        slope = (
            float(np.polyfit(times[keep], decay_db[keep], 1)[0])
            if np.count_nonzero(keep) > 2
            else math.nan
        )
        o = int(onset)
        attack_part = seg[o : o + int(0.05 * rate)]
        sustain_part = seg[o + int(0.2 * rate) :]
        out.append(
            PluckDiagnostics(
                name,
                onset / rate * 1e3,
                attack,
                20.0 * math.log10(peak),
                sustain,
                slope,
                _high_band_db(attack_part, rate, edge),
                _high_band_db(sustain_part, rate, edge),
            )
        )
    return out
