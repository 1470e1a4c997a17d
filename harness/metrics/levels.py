"""Signal levels: RMS, sample peak, true peak (ITU-R BS.1770-4 Annex 2), crest factor and
integrated loudness (ITU-R BS.1770-4 via pyloudnorm).

All levels are dB re full scale (1.0 = 1 V peak, ``harness.audio``). RMS is referenced to
the same 1.0, so a full-scale sine reads −3.01 dBFS RMS and its crest factor is
20·log10(√2) = 3.01 dB; pass ``aes17=True`` to ``rms_dbfs`` for the AES17 convention, in
which a full-scale sine reads 0 dBFS RMS. A silent signal has level −inf dB.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pyloudnorm
from scipy import signal as sps

from harness.errors import InputError
from harness.metrics import _validate as v

#: AES17 adds 20·log10(√2) so a full-scale sine is 0 dBFS RMS.
AES17_SINE_CORRECTION_DB = 20.0 * math.log10(math.sqrt(2.0))

#: BS.1770-4 gating block (s): integrated loudness needs at least one 400 ms block.
BS1770_BLOCK_S = 0.400


def _db(amplitude: float) -> float:
    return 20.0 * math.log10(amplitude) if amplitude > 0 else -math.inf


def rms_dbfs(x, *, aes17: bool = False) -> float:
    """RMS level of ``x`` in dBFS (20·log10 of the RMS re 1.0). With ``aes17=True`` the AES17
    convention is used (+3.01 dB, so a full-scale sine reads 0 dBFS). Silence gives −inf."""
    x = v.signal(x, "rms_dbfs x")
    level = _db(math.sqrt(float(np.mean(x * x))))
    return level + AES17_SINE_CORRECTION_DB if aes17 else level


def peak_dbfs(x) -> float:
    """Sample-peak level of ``x`` in dBFS (20·log10 max|x|). Silence gives −inf."""
    x = v.signal(x, "peak_dbfs x")
    return _db(float(np.max(np.abs(x))))


#: Interpolator taps per polyphase branch and Kaiser β: flat within 0.001 dB to 0.458·fs
#: (22 kHz at 48 kHz), stopband below −70 dB from 0.54·fs (measured with ``freqz``).
_TP_TAPS_PER_PHASE = 32
_TP_KAISER_BETA = 8.0
#: True peak is searched block by block; blocks whose bound cannot beat the best peak found
#: so far are skipped (exact, see ``true_peak_dbfs``).
_TP_BLOCK = 4096


def true_peak_dbfs(x, sample_rate: float, *, oversampling: int | None = None) -> float:
    """True-peak level in dBTP (dB re full scale) of ``x`` interpolated ``oversampling``
    times, ITU-R BS.1770-4 Annex 2 style.

    ``oversampling`` defaults to the smallest factor reaching >= 192 kHz, as Annex 2 asks
    (4x at 48 kHz, 5x at 44.1 kHz, 2x at 96 kHz). The interpolator is a Kaiser-windowed sinc
    with 32 taps per phase (β = 8), flat within 0.001 dB up to 0.458·fs, longer than the
    Annex's 12-tap example so tones near 20 kHz are not under-read by the filter. No
    −12.04 dB headroom attenuation is applied (samples are float). The result is never
    below the sample peak.

    Only blocks that could hold the peak are interpolated: an interpolated sample is at most
    max|x| over the filter's span times the largest Σ|h| of any phase, so blocks whose bound
    is below the best peak found so far are skipped (exact, not a heuristic).
    """
    x = v.signal(x, "true_peak_dbfs x", min_samples=2)
    rate = v.rate(sample_rate, "true_peak_dbfs")
    up = max(1, math.ceil(192000.0 / rate)) if oversampling is None else int(oversampling)
    if up < 1:
        raise InputError(f"true_peak_dbfs: oversampling must be >= 1, got {oversampling!r}")
    magnitude = np.abs(x)
    best = float(np.max(magnitude))
    if up == 1 or best == 0.0:
        return _db(best)
    h = sps.firwin(2 * _TP_TAPS_PER_PHASE * up + 1, 1.0 / up, window=("kaiser", _TP_KAISER_BETA))
    gain_bound = up * max(float(np.sum(np.abs(h[p::up]))) for p in range(up))
    context = _TP_TAPS_PER_PHASE + 1
    n_blocks = -(-x.size // _TP_BLOCK)
    padded = np.zeros(n_blocks * _TP_BLOCK)
    padded[: x.size] = magnitude
    block_max = padded.reshape(n_blocks, _TP_BLOCK).max(axis=1)
    reach = np.maximum(block_max, np.maximum(np.roll(block_max, 1), np.roll(block_max, -1)))
    for k in np.argsort(-reach, kind="stable"):
        if reach[k] * gain_bound <= best:
            break
        start, end = k * _TP_BLOCK, min((k + 1) * _TP_BLOCK, x.size)
        lo, hi = max(0, start - context), min(x.size, end + context)
        y = sps.resample_poly(x[lo:hi], up, 1, window=h, padtype="constant")
        best = max(best, float(np.max(np.abs(y[(start - lo) * up : (end - lo) * up]))))
    return _db(best)


def crest_factor_db(x) -> float:
    """Crest factor in dB: sample peak over RMS (a sine gives 20·log10 √2 = 3.01 dB, a square
    wave 0 dB). Raises ``InputError`` for a silent signal (the ratio is undefined)."""
    x = v.signal(x, "crest_factor_db x")
    v.not_silent(x, "crest_factor_db x")
    return peak_dbfs(x) - rms_dbfs(x)


def loudness_lufs(x, sample_rate: float) -> float:
    """Integrated loudness in LUFS (ITU-R BS.1770-4: K-weighting, 400 ms blocks with 75 %
    overlap, −70 LUFS absolute and −10 LU relative gates) of a mono signal, via pyloudnorm.

    For mono the channel weight is 1.0, so a 0 dBFS 1 kHz sine reads −3.01 LUFS (the
    standard's calibration: K-weighting ≈ +0.69 dB at 1 kHz offsets the −0.691 constant).
    Needs at least one 400 ms block; a signal entirely below the absolute gate gives −inf.
    """
    rate = v.rate(sample_rate, "loudness_lufs")
    x = v.signal(x, "loudness_lufs x", min_samples=int(math.ceil(BS1770_BLOCK_S * rate)) + 1)
    with warnings.catch_warnings():
        # pyloudnorm warns when gated blocks are empty (silence); −inf is the answer then.
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(pyloudnorm.Meter(rate).integrated_loudness(x))
