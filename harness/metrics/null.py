"""Null tests: error-to-signal ratio and the residual of an aligned, gain-matched pair.

``esr`` is the error-to-signal ratio used to train and judge amp models (Wright, Damskägg &
Välimäki, "Real-time black-box modelling with recurrent neural networks", DAFx 2019; the
NAM trainer's ``esr``): Σ(r − c)² / Σr² after an optional pre-emphasis of both signals. It
is a ratio (0 = identical, 1 = candidate silent), not dB; it is not symmetric.

``null_residual_db`` is the classic null test: align (delay, polarity), scale the
candidate by the least-squares gain, subtract, and report the residual energy re the
reference in dB (−inf for a perfect null).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import signal as sps

from harness.errors import InputError
from harness.metrics import _validate as v
from harness.metrics.align import DEFAULT_MAX_DELAY_S, align, identity_alignment

#: IEC 61672-1 A-weighting pole frequencies (Hz): 20.6 (double), 107.7, 737.9, 12194 (double).
_A_WEIGHTING_POLES_HZ = (20.598997, 20.598997, 107.65265, 737.86223, 12194.217, 12194.217)


def a_weighting_sos(sample_rate: float) -> np.ndarray:
    """IEC 61672-1 A-weighting as second-order sections at ``sample_rate`` (Hz), by the
    bilinear transform of the analog prototype (4 zeros at 0 Hz, poles as above),
    normalized to 0 dB at 1 kHz. Bilinear warping pulls the top octaves down (measured
    against the analog curve at 48 kHz: −0.04 dB at 4 kHz, −0.5 dB at 8 kHz, −2.7 dB at
    12.5 kHz, −6.4 dB at 16 kHz; at 96 kHz −1.1 dB at 16 kHz), so it is not an IEC 61672
    class-1 meter weighting above ~5 kHz at 48 kHz. As an error weighting for ESR, which
    only de-emphasizes the bass and the extreme top, this is acceptable."""
    rate = v.rate(sample_rate, "a_weighting_sos")
    poles = [-2 * math.pi * f for f in _A_WEIGHTING_POLES_HZ]
    z, p, k = sps.bilinear_zpk([0.0] * 4, poles, 1.0, rate)
    sos = sps.zpk2sos(z, p, k)
    _, h = sps.sosfreqz(sos, worN=[1000.0], fs=rate)
    sos[0, :3] /= abs(h[0])
    return sos


def _pre_emphasize(x: np.ndarray, pre_emphasis, sample_rate: float | None) -> np.ndarray:
    if pre_emphasis is None:
        return x
    if isinstance(pre_emphasis, str):
        if pre_emphasis != "a-weighting":
            raise InputError(
                "esr: pre_emphasis must be None, a coefficient or 'a-weighting', "
                f"got {pre_emphasis!r}"
            )
        if sample_rate is None:
            raise InputError("esr: pre_emphasis='a-weighting' needs sample_rate (Hz)")
        return sps.sosfilt(a_weighting_sos(sample_rate), x)
    coefficient = float(pre_emphasis)
    if not math.isfinite(coefficient) or not 0.0 < coefficient < 1.0:
        raise InputError(f"esr: pre-emphasis coefficient must be in (0, 1), got {pre_emphasis!r}")
    y = x.copy()
    y[1:] -= coefficient * x[:-1]  # H(z) = 1 − a·z^-1 (first-order high-pass)
    return y


def esr(
    reference,
    candidate,
    pre_emphasis: float | str | None = None,
    *,
    sample_rate: float | None = None,
    candidate_sample_rate: float | None = None,
    match_gain: bool = False,
) -> float:
    """Error-to-signal ratio Σ(r − c)² / Σr² (dimensionless) of equal-length signals.

    ``pre_emphasis``: None; a coefficient ``a`` in (0, 1) for H(z) = 1 − a·z^-1 applied to
    both signals (0.85 in Wright et al. 2019); or "a-weighting" (IEC 61672-1, needs
    ``sample_rate``). ``match_gain``: first scale the candidate by the least-squares gain
    <r, c>/<c, c> (computed after pre-emphasis), making the result invariant to the
    candidate's gain and polarity. Signals must already be aligned and of equal length; if
    ``candidate_sample_rate`` is given it must equal ``sample_rate``. A silent reference
    (after pre-emphasis) raises ``InputError``.
    """
    r = v.signal(reference, "esr reference", min_samples=2)
    c = v.signal(candidate, "esr candidate", min_samples=2)
    v.same_length(r, c, "esr")
    rate = None if sample_rate is None else v.rate(sample_rate, "esr")
    if candidate_sample_rate is not None:
        if rate is None:
            raise InputError("esr: candidate_sample_rate given without sample_rate")
        v.same_rate(rate, candidate_sample_rate, "esr candidate")
    r = _pre_emphasize(r, pre_emphasis, rate)
    c = _pre_emphasize(c, pre_emphasis, rate)
    energy = float(np.dot(r, r))
    if energy == 0.0:
        raise InputError("esr reference: signal is silent (after pre-emphasis); ESR undefined")
    if match_gain:
        cc = float(np.dot(c, c))
        c = c * (float(np.dot(r, c)) / cc) if cc > 0 else c
    e = r - c
    return float(np.dot(e, e)) / energy


def null_residual_db(
    reference,
    candidate,
    sample_rate: float,
    *,
    align_first: bool = True,
    max_delay_s: float | None = DEFAULT_MAX_DELAY_S,
    candidate_sample_rate: float | None = None,
) -> float:
    """Null-test residual in dB: 10·log10(Σ(r − g·c)² / Σr²) after ``align`` removes the
    delay (sub-sample, residual-minimizing) and polarity and g is the least-squares gain.
    A scaled, delayed copy nulls to below −100 dB; identical signals give −inf. Signals may
    differ in length (the common part is used). With ``align_first=False`` the pair must
    already be aligned and of equal length (e.g. an ``Alignment``'s arrays): only the gain
    is matched."""
    if align_first:
        a = align(
            reference,
            candidate,
            sample_rate,
            max_delay_s=max_delay_s,
            candidate_sample_rate=candidate_sample_rate,
        )
    else:
        a = identity_alignment(
            reference, candidate, sample_rate, candidate_sample_rate=candidate_sample_rate
        )
    residual = a.reference - a.candidate_matched
    energy = float(np.dot(a.reference, a.reference))
    if energy == 0.0:
        raise InputError("null_residual_db reference: aligned part is silent")
    ratio = float(np.dot(residual, residual)) / energy
    return 10.0 * math.log10(ratio) if ratio > 0 else -math.inf
