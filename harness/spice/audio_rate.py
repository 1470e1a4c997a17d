"""Audio-rate plumbing between a stimulus on the fs grid and ngspice's adaptive timepoints.

The strategy (recorded in every dataset manifest by :func:`strategy`):

1. **Pre-roll and post-roll.** The stimulus x (V, on the fs grid) is preceded by
   ``n_settle`` zero samples (the cell's ``settle_s``, discarded afterwards) and followed by
   ``n_post`` zero samples so the anti-alias filter below sees simulated data on both sides
   of every kept sample (``n_post`` = the filter's half-length in fs samples + 16).
2. **Oversampled stimulus.** The padded x is upsampled by the integer L (``oversample``)
   with the anti-alias FIR (polyphase, zero-phase: sample L·n of the result is at exactly
   t = n/fs) and handed to ngspice as an XSPICE ``filesource`` on the L·fs grid, which
   interpolates linearly between points. Linear interpolation at L·fs has the response
   sinc²(f/(L·fs)): −0.078 dB at 20 kHz for L = 8, fs = 48 kHz; its images sit at
   k·L·fs ± f, above the FIR's stopband.
3. **Step limit.** ``.tran`` runs with a maximum step of 1/(L·fs) (L >= 8, so at most
   1/(8·fs)); ngspice may take shorter steps where the circuit needs them.
4. **Onto the L·fs grid.** The node voltages at ngspice's timepoints are interpolated onto
   t = k/(L·fs) with a not-a-knot cubic spline (error O(h⁴); about 3e-5 relative for a
   20 kHz component at h = 1/(8·48 kHz)).
5. **Decimation.** The L·fs traces are low-pass filtered by the same FIR (Kaiser window,
   passband to 0.4167·fs = 20 kHz at 48 kHz, at least 100 dB attenuation from fs/2; the
   harmonics a nonlinear cell makes above fs/2 are removed before they can alias) and every
   L-th sample is kept, zero-phase, so output sample n is at exactly t = n/fs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import interpolate
from scipy import signal as sps

#: Anti-alias FIR: passband edge and stopband start as fractions of the output fs, and the
#: guaranteed stopband attenuation in dB. kaiserord's formula undershoots by up to ~0.5 dB,
#: so the design asks for ``STOPBAND_DB + DESIGN_MARGIN_DB`` (passband ripple ~1e-4 dB).
PASSBAND_EDGE = 20000.0 / 48000.0
STOPBAND_EDGE = 0.5
STOPBAND_DB = 100.0
DESIGN_MARGIN_DB = 3.0
#: Extra zero-input samples (at fs) simulated after the filter's half-length.
POST_ROLL_MARGIN = 16


@lru_cache(maxsize=8)
def anti_alias_fir(oversample: int) -> np.ndarray:
    """The linear-phase low-pass FIR (odd length, unit DC gain) used at L·fs for both the
    upsampling of stimuli and the decimation of results; frequencies relative to fs."""
    nyquist_os = oversample / 2.0  # L·fs/2 in units of fs
    width = (STOPBAND_EDGE - PASSBAND_EDGE) / nyquist_os
    numtaps, beta = sps.kaiserord(STOPBAND_DB + DESIGN_MARGIN_DB, width)
    numtaps |= 1
    cutoff = 0.5 * (PASSBAND_EDGE + STOPBAND_EDGE) / nyquist_os
    h = sps.firwin(numtaps, cutoff, window=("kaiser", beta))
    h.setflags(write=False)
    return h


def strategy(oversample: int) -> dict:
    """The anti-aliasing strategy as a JSON-safe record for manifests."""
    h = anti_alias_fir(oversample)
    return {
        "oversample": oversample,
        "max_step": "1/(oversample*fs)",
        "stimulus_to_ngspice": "FIR-upsampled by oversample, XSPICE filesource (linear "
        "interpolation between points on the oversample*fs grid)",
        "timepoints_to_grid": "not-a-knot cubic spline onto t = k/(oversample*fs)",
        "anti_alias_filter": {
            "type": "linear-phase FIR, Kaiser window (scipy.signal.kaiserord/firwin)",
            "taps": int(h.size),
            "passband_edge_fs": PASSBAND_EDGE,
            "stopband_edge_fs": STOPBAND_EDGE,
            "stopband_attenuation_db": STOPBAND_DB,
            "applied": "zero-phase polyphase decimation by oversample (scipy.signal.resample_poly)",
        },
    }


@dataclass(frozen=True)
class Grid:
    """Sample bookkeeping for one transient: fs (Hz), L, and the padded layout
    ``[n_settle pre-roll | n_signal stimulus | n_post post-roll]`` in fs samples."""

    sample_rate: float
    oversample: int
    n_settle: int
    n_signal: int

    @property
    def n_post(self) -> int:
        return (
            math.ceil(anti_alias_fir(self.oversample).size / (2 * self.oversample))
            + POST_ROLL_MARGIN
        )

    @property
    def n_total(self) -> int:
        return self.n_settle + self.n_signal + self.n_post

    @property
    def rate_os(self) -> float:
        """The oversampled rate L·fs (Hz)."""
        return self.sample_rate * self.oversample

    @property
    def n_os(self) -> int:
        return self.n_total * self.oversample

    @property
    def max_step(self) -> float:
        """ngspice's maximum time step (s)."""
        return 1.0 / self.rate_os

    @property
    def stop_time(self) -> float:
        """Time of the last L·fs grid point (s)."""
        return (self.n_os - 1) / self.rate_os

    def times_os(self) -> np.ndarray:
        return np.arange(self.n_os) / self.rate_os

    def kept(self) -> slice:
        """The stimulus part of an fs-grid trace of length ``n_total``."""
        return slice(self.n_settle, self.n_settle + self.n_signal)


def padded(x: np.ndarray, grid: Grid) -> np.ndarray:
    """x (V, fs grid) with the zero pre-roll and post-roll of ``grid``."""
    return np.concatenate(
        [np.zeros(grid.n_settle), np.asarray(x, np.float64), np.zeros(grid.n_post)]
    )


def upsample(x_padded: np.ndarray, oversample: int) -> np.ndarray:
    """Band-limited upsampling by L (the anti-alias FIR with gain L): length L·len(x)."""
    return sps.resample_poly(x_padded, oversample, 1, window=np.array(anti_alias_fir(oversample)))


def filesource_text(u: np.ndarray, rate_os: float) -> str:
    """Two columns, time (s) and volts, one L·fs grid point per line, 17 significant digits
    (exact float64 round trip, so the same stimulus gives the same file and the same run)."""
    t = np.arange(u.size) / rate_os
    pairs = np.empty(2 * u.size)
    pairs[0::2] = t
    pairs[1::2] = u
    return ("%.17g %.17g\n" * u.size) % tuple(pairs)


def on_grid(time: np.ndarray, values: np.ndarray, grid: Grid) -> np.ndarray:
    """ngspice timepoints (s, strictly increasing after dropping repeats) -> the L·fs grid."""
    keep = np.concatenate([[True], np.diff(time) > 0])
    spline = interpolate.CubicSpline(time[keep], values[keep], bc_type="not-a-knot")
    return spline(grid.times_os())


def decimate(v_os: np.ndarray, oversample: int) -> np.ndarray:
    """Anti-alias filter and keep every L-th sample (zero-phase): length len/L."""
    return sps.resample_poly(
        v_os, 1, oversample, window=np.array(anti_alias_fir(oversample)), padtype="line"
    )
