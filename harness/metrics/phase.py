"""Transfer function, group delay and phase deviation from input/output recordings.

``transfer_function`` is the H1 estimator H = G_xy / G_xx (Bendat & Piersol, "Random
Data", 4th ed., §9.2): Welch-averaged cross- and auto-spectra (Hann, 50 % overlap, no
detrending) with the
magnitude-squared coherence γ² = |G_xy|²/(G_xx·G_yy) telling where it can be trusted
(γ² → 1 for a linear, noise-free system; distortion and noise lower it). The integer bulk
delay between input and output is removed before averaging (otherwise each segment of y
holds response to input outside the segment, which biases H1 and lowers γ²) and put back
as an exact linear phase.

Group delay is −dφ/dω in samples (ω in rad/sample), from central differences of the phase
of H across bins (no unwrapping needed after the bulk delay is removed). Results are NaN
where coherence is below ``min_coherence``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import fft as sfft
from scipy import signal as sps

from harness.errors import InputError
from harness.metrics import _validate as v
from harness.metrics.align import estimate_delay

#: Default Welch segment length (samples): 8192 gives 5.9 Hz resolution at 48 kHz.
DEFAULT_NPERSEG = 8192


@dataclass(frozen=True, eq=False)
class TransferFunction:
    """H1 estimate: ``frequencies_hz``, complex ``response`` (output/input, with the bulk
    delay included), ``coherence`` γ² in [0, 1], the integer ``bulk_delay_samples`` that
    was removed before averaging and restored in ``response``, and ``sample_rate`` (Hz)."""

    frequencies_hz: np.ndarray
    response: np.ndarray
    coherence: np.ndarray
    bulk_delay_samples: int
    sample_rate: float

    @property
    def magnitude_db(self) -> np.ndarray:
        """|H| in dB."""
        with np.errstate(divide="ignore"):
            return 20.0 * np.log10(np.abs(self.response))


def _io(x, y, sample_rate, y_sample_rate, what: str, nperseg: int):
    rate = v.rate(sample_rate, what)
    v.same_rate(rate, y_sample_rate, f"{what} y")
    if int(nperseg) < 16:
        raise InputError(f"{what}: nperseg must be >= 16, got {nperseg!r}")
    x = v.signal(x, f"{what} x", min_samples=int(nperseg))
    y = v.signal(y, f"{what} y", min_samples=int(nperseg))
    v.not_silent(x, f"{what} x")
    return x, y, rate


#: Segments per FFT batch in ``_welch_spectra`` (bounds memory: 256 x 8192 x 16 B = 34 MB).
_SEGMENT_BATCH = 256


def _welch_spectra(x: np.ndarray, y: np.ndarray, rate: float, nperseg: int, window: str):
    """Welch averages of |X|², |Y|² and X*·Y over ``nperseg`` segments with 50 % overlap
    (no detrending), both signals' segments transformed once. Scaling is common to the
    three, so H1 and γ² are unaffected by it."""
    w = sps.get_window(window, nperseg)
    hop = nperseg - nperseg // 2
    frames_x = np.lib.stride_tricks.sliding_window_view(x, nperseg)[::hop]
    frames_y = np.lib.stride_tricks.sliding_window_view(y, nperseg)[::hop]
    bins = nperseg // 2 + 1
    pxx, pyy = np.zeros(bins), np.zeros(bins)
    pxy = np.zeros(bins, dtype=complex)
    for first in range(0, frames_x.shape[0], _SEGMENT_BATCH):
        fx = sfft.rfft(frames_x[first : first + _SEGMENT_BATCH] * w, axis=1)
        fy = sfft.rfft(frames_y[first : first + _SEGMENT_BATCH] * w, axis=1)
        pxx += np.sum(fx.real**2 + fx.imag**2, axis=0)
        pyy += np.sum(fy.real**2 + fy.imag**2, axis=0)
        pxy += np.sum(np.conj(fx) * fy, axis=0)
    return sfft.rfftfreq(nperseg, 1.0 / rate), pxx, pyy, pxy


def _h1(x: np.ndarray, y: np.ndarray, rate: float, nperseg: int, delay: int, window: str):
    """H1 and coherence of y re x with ``delay`` samples removed from y (x and y trimmed to
    their overlap), the delay then restored as linear phase."""
    if delay >= 0:
        xs, ys = x[: max(0, y.size - delay)], y[delay:]
    else:
        xs, ys = x[-delay:], y[: max(0, x.size + delay)]
    n = min(xs.size, ys.size)
    if n < nperseg:
        raise InputError(
            f"transfer_function: after removing a bulk delay of {delay} samples only {n} "
            f"samples overlap; need nperseg = {nperseg}"
        )
    xs, ys = xs[:n], ys[:n]
    f, pxx, pyy, pxy = _welch_spectra(xs, ys, rate, nperseg, window)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = pxy / pxx
        coherence = np.abs(pxy) ** 2 / (pxx * pyy)
    h = np.where(pxx > 0, h, np.nan)
    coherence = np.nan_to_num(coherence, nan=0.0).clip(0.0, 1.0)
    return f, h * np.exp(-2j * np.pi * f / rate * delay), coherence


def transfer_function(
    x,
    y,
    sample_rate: float,
    *,
    nperseg: int = DEFAULT_NPERSEG,
    window: str = "hann",
    y_sample_rate: float | None = None,
) -> TransferFunction:
    """H1 estimate of the system with input ``x`` and output ``y`` (``nperseg``-sample
    segments, 50 % overlap, ``window`` as scipy names it). The bulk delay is found with
    ``align.estimate_delay`` (rounded to whole samples). ``y_sample_rate`` (Hz), if given,
    must equal ``sample_rate``.

    With random excitation the H1 phase has a variance that falls with the number of
    segments; group delay, a derivative, amplifies it (measured: ±0.1–0.5 sample on a
    4-sample all-pass from 4 s of white noise, nperseg 8192). For exact results drive the
    system with a periodic multisine (``stimuli.multisine``) whose period is ``nperseg``,
    skip the first period, and use ``window="boxcar"``: every segment then holds whole
    periods and there is no leakage."""
    x, y, rate = _io(x, y, sample_rate, y_sample_rate, "transfer_function", nperseg)
    delay = int(round(estimate_delay(x, y, rate))) if np.any(y) else 0
    f, h, coherence = _h1(x, y, rate, int(nperseg), delay, window)
    return TransferFunction(f, h, coherence, delay, rate)


@dataclass(frozen=True, eq=False)
class GroupDelay:
    """``frequencies_hz`` and ``delay_samples`` (−dφ/dω, samples; NaN where coherence is
    below the threshold at the bin or its neighbours)."""

    frequencies_hz: np.ndarray
    delay_samples: np.ndarray


def _group_delay(tf: TransferFunction, min_coherence: float) -> np.ndarray:
    f = tf.frequencies_hz
    omega = 2.0 * np.pi * f / tf.sample_rate  # rad/sample
    h = tf.response * np.exp(1j * omega * tf.bulk_delay_samples)  # bulk delay removed
    gd = np.full(f.size, np.nan)
    dphi = np.angle(h[2:] * np.conj(h[:-2]))
    gd[1:-1] = -dphi / (omega[2:] - omega[:-2]) + tf.bulk_delay_samples
    ok = tf.coherence >= min_coherence
    ok[1:-1] &= ok[:-2] & ok[2:]
    ok[[0, -1]] = False
    gd[~ok] = np.nan
    return gd


def group_delay_samples(
    x,
    y,
    sample_rate: float,
    *,
    nperseg: int = DEFAULT_NPERSEG,
    window: str = "hann",
    min_coherence: float = 0.9,
    y_sample_rate: float | None = None,
) -> GroupDelay:
    """Group delay of the system x → y versus frequency, in samples (divide by the sample
    rate for seconds), from the H1 estimate; NaN where γ² < ``min_coherence``. A pure delay
    of D samples reads D at every coherent frequency; the bins at 0 Hz and Nyquist are NaN."""
    if not 0.0 <= min_coherence <= 1.0:
        raise InputError(
            f"group_delay_samples: min_coherence must be in [0, 1], got {min_coherence!r}"
        )
    tf = transfer_function(
        x, y, sample_rate, nperseg=nperseg, window=window, y_sample_rate=y_sample_rate
    )
    return GroupDelay(tf.frequencies_hz, _group_delay(tf, min_coherence))


@dataclass(frozen=True, eq=False)
class PhaseDeviation:
    """Phase of candidate re reference system, both driven by the same input.

    ``frequencies_hz``; ``deviation_deg`` in (−180, 180] (NaN where either system's
    coherence is below threshold); ``max_abs_deg`` and ``rms_deg`` over the valid bins
    (NaN if none); ``delay_difference_samples``: the candidate's extra latency that was
    removed first (0 when ``remove_delay`` is False)."""

    frequencies_hz: np.ndarray
    deviation_deg: np.ndarray
    max_abs_deg: float
    rms_deg: float
    delay_difference_samples: float


def phase_deviation_deg(
    x,
    y_reference,
    y_candidate,
    sample_rate: float,
    *,
    nperseg: int = DEFAULT_NPERSEG,
    window: str = "hann",
    min_coherence: float = 0.9,
    remove_delay: bool = True,
    y_sample_rate: float | None = None,
) -> PhaseDeviation:
    """Phase deviation, in degrees, between a candidate and a reference system's transfer
    functions measured with the same input ``x``: angle(H_cand / H_ref) where both
    coherences are >= ``min_coherence``. With ``remove_delay`` the candidate's latency re the
    reference (``align.estimate_delay`` of the two outputs, sub-sample) is removed first, so
    the result is the phase-response error, not latency. Polarity is not removed: an
    inverted candidate reads 180°."""
    if not 0.0 <= min_coherence <= 1.0:
        raise InputError(
            f"phase_deviation_deg: min_coherence must be in [0, 1], got {min_coherence!r}"
        )
    x, y_ref, rate = _io(x, y_reference, sample_rate, None, "phase_deviation_deg", nperseg)
    v.same_rate(rate, y_sample_rate, "phase_deviation_deg y_candidate")
    y_cand = v.signal(y_candidate, "phase_deviation_deg y_candidate", min_samples=int(nperseg))
    ref = transfer_function(x, y_ref, rate, nperseg=nperseg, window=window)
    cand = transfer_function(x, y_cand, rate, nperseg=nperseg, window=window)
    delta = 0.0
    if remove_delay and np.any(y_ref) and np.any(y_cand):
        delta = estimate_delay(y_ref, y_cand, rate)
    omega = 2.0 * np.pi * ref.frequencies_hz / rate
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = cand.response / ref.response * np.exp(1j * omega * delta)
    deviation = np.degrees(np.angle(ratio))
    ok = (
        (ref.coherence >= min_coherence)
        & (cand.coherence >= min_coherence)
        & np.isfinite(deviation)
    )
    deviation = np.where(ok, deviation, np.nan)
    valid = deviation[ok]
    max_abs = float(np.max(np.abs(valid))) if valid.size else math.nan
    rms = float(np.sqrt(np.mean(valid * valid))) if valid.size else math.nan
    return PhaseDeviation(ref.frequencies_hz, deviation, max_abs, rms, delta)
