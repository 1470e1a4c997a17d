"""Time alignment of a candidate signal to a reference: delay, polarity and gain.

Delay convention: positive when the candidate **lags** the reference, i.e. for
``candidate[n] = reference[n − D]`` the delay is ``D`` samples.

Method: a coarse integer lag from GCC-PHAT (Knapp & Carter, IEEE T-ASSP 24(4), 1976; the
phase transform whitens the cross-spectrum so coloured signals and reverberant tails give a
sharp peak; a floor of −60 dB of the cross-spectrum's peak keeps empty bins from adding
noise), then the maximum of the plain cross-correlation interpolated by a windowed sinc
(bounded Brent search on ±1 sample around the coarse lag): ``estimate_delay``. ``align``
then refines that delay by Gauss–Newton steps to the one that minimizes the energy of
``reference − gain·shifted(candidate)`` on the overlap, which is what a null test needs
(~1e-9 samples on a noise-free band-limited copy). Periodic signals are ambiguous modulo
their period: bound the search with ``max_delay_s``.

The aligned candidate is shifted by a 255-tap Kaiser-windowed sinc (β = 12.3, i.e. −120 dB
sidelobes; flat within 1e-6 up to 0.48·fs); samples within 127 of either end of the overlap
are trimmed when the shift is fractional, so no edge effect reaches the aligned arrays.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import fft as sfft
from scipy import optimize, special
from scipy import signal as sps

from harness.errors import InputError
from harness.metrics import _validate as v

#: Default bound on |delay| (s): renders and references differ by latencies of ms, and the
#: bound halves the correlation's FFT length for long signals.
DEFAULT_MAX_DELAY_S = 1.0
#: Fewest samples each signal needs and the aligned pair must share.
MIN_SAMPLES = 32
#: PHAT floor: cross-spectrum bins below 1e-3 x its peak are weighted by |G| / floor.
_PHAT_FLOOR = 1e-3
#: Half-length of the fractional-shift sinc (taps = 2·M + 1) and its Kaiser β (−120 dB).
_SHIFT_HALF_TAPS = 127
_SHIFT_KAISER_BETA = 0.1102 * (120.0 - 8.7)
#: Sub-sample search tolerance (samples) and the most Gauss–Newton rounds of ``align``'s
#: null refinement (from the correlation's ~1e-4-sample estimate two rounds reach ~1e-9).
_REFINE_TOL = 1e-9
_GAUSS_NEWTON_ROUNDS = 4
#: A Gauss–Newton step this small (samples) leaves an error of its square or less: stop
#: after applying it instead of paying for another derivative.
_CONVERGED_STEP = 1e-5


@dataclass(frozen=True, eq=False)
class Alignment:
    """The result of ``align``.

    ``delay_samples``: candidate lag re reference (samples, positive = candidate late).
    ``polarity``: +1 or −1 (−1 when the candidate is inverted).
    ``gain``: candidate level re reference, linear, after polarity correction
    (least-squares regression of candidate on reference); ``gain_db`` in dB.
    ``reference``, ``candidate``: the overlapping parts, equal length; the candidate has
    its delay removed and polarity corrected but is **not** gain-scaled.
    ``start``: index in the original reference where the aligned arrays begin.
    """

    delay_samples: float
    polarity: int
    gain: float
    reference: np.ndarray
    candidate: np.ndarray
    start: int

    @property
    def gain_db(self) -> float:
        """``gain`` in dB (candidate re reference)."""
        return 20.0 * math.log10(self.gain) if self.gain > 0 else -math.inf

    @property
    def candidate_matched(self) -> np.ndarray:
        """The aligned candidate scaled by the least-squares factor <r, c>/<c, c> that
        minimizes ‖reference − factor·candidate‖² (the gain match of a null test)."""
        energy = float(np.dot(self.candidate, self.candidate))
        if energy == 0.0:
            return self.candidate.copy()
        return self.candidate * (float(np.dot(self.reference, self.candidate)) / energy)


def _inputs(reference, candidate, sample_rate, candidate_sample_rate, what: str):
    rate = v.rate(sample_rate, what)
    v.same_rate(rate, candidate_sample_rate, f"{what} candidate")
    r = v.signal(reference, f"{what} reference", min_samples=MIN_SAMPLES)
    c = v.signal(candidate, f"{what} candidate", min_samples=MIN_SAMPLES)
    v.not_silent(r, f"{what} reference")
    v.not_silent(c, f"{what} candidate")
    return r, c, rate


def _window(u: np.ndarray) -> np.ndarray:
    """Kaiser window (β for −120 dB) evaluated at ``u`` samples from its centre."""
    x = u / (_SHIFT_HALF_TAPS + 1)
    return special.i0(_SHIFT_KAISER_BETA * np.sqrt(np.clip(1.0 - x * x, 0.0, None))) / special.i0(
        _SHIFT_KAISER_BETA
    )


def _delay_and_polarity(r: np.ndarray, c: np.ndarray, max_lag: float | None) -> tuple[float, int]:
    """Coarse lag by GCC-PHAT, then the maximum of the windowed-sinc interpolated plain
    cross-correlation near it. The correlation runs in float32 (3x faster at 60 s; its
    ~1e-7 relative error moves the sub-sample peak by ~1e-4 samples; ``align`` refines
    further in float64)."""
    hi, lo = c.size - 1, -(r.size - 1)  # lags with any overlap
    if max_lag is not None:
        hi, lo = min(hi, math.floor(max_lag)), max(lo, -math.floor(max_lag))
    # The circular correlation of the zero-padded signals equals the linear one at lags
    # [lo, hi] (and the interpolation margin) once n >= max(len r + hi, len c − lo).
    margin = _SHIFT_HALF_TAPS + 1
    n = sfft.next_fast_len(max(r.size + hi, c.size - lo) + margin, real=True)
    G = sfft.rfft(c.astype(np.float32), n) * np.conj(sfft.rfft(r.astype(np.float32), n))
    magnitude = np.abs(G)
    phat = sfft.irfft(G / np.maximum(magnitude, np.float32(_PHAT_FLOOR) * magnitude.max()), n)
    # Lag l >= 0 sits at index l of the circular correlation, l < 0 at n + l.
    best_lag, best = 0, -1.0
    for first, last in ((max(lo, 0), hi), (lo, min(hi, -1))):
        if first <= last:
            segment = np.abs(phat[first % n : last % n + 1])
            i = int(np.argmax(segment))
            if segment[i] > best:
                best_lag, best = first + i, float(segment[i])
    lag0 = best_lag

    # Band-limited interpolation of the plain cross-correlation around lag0 (windowed sinc,
    # ±127 lags), maximized on [lag0 − 1, lag0 + 1].
    xc = sfft.irfft(G, n)
    m = np.arange(lag0 - _SHIFT_HALF_TAPS, lag0 + _SHIFT_HALF_TAPS + 1)
    local = xc[m % n].astype(np.float64)
    polarity = 1 if local[_SHIFT_HALF_TAPS] >= 0 else -1

    def negative_rho(delay: float) -> float:
        u = delay - m
        return -polarity * float(np.dot(local, np.sinc(u) * _window(u)))

    found = optimize.minimize_scalar(
        negative_rho,
        bounds=(lag0 - 1.0, lag0 + 1.0),
        method="bounded",
        options={"xatol": _REFINE_TOL},
    )
    return float(found.x), polarity


def estimate_delay(
    reference,
    candidate,
    sample_rate: float,
    *,
    max_delay_s: float | None = DEFAULT_MAX_DELAY_S,
    candidate_sample_rate: float | None = None,
) -> float:
    """Delay of ``candidate`` re ``reference`` in samples (float, sub-sample accurate;
    positive when the candidate lags). GCC-PHAT coarse lag + maximum of the interpolated
    cross-correlation (module docstring). ``max_delay_s`` bounds |delay| (default 1 s;
    None searches every lag with any overlap, at twice the FFT cost for long signals);
    ``candidate_sample_rate``, if given, must equal ``sample_rate`` (Hz). Either signal may
    be longer; both need >= 32 samples and must not be silent."""
    r, c, rate = _inputs(reference, candidate, sample_rate, candidate_sample_rate, "estimate_delay")
    max_lag = None
    if max_delay_s is not None:
        if not math.isfinite(max_delay_s) or max_delay_s < 0:
            raise InputError(f"estimate_delay: max_delay_s must be >= 0, got {max_delay_s!r}")
        max_lag = max_delay_s * rate
    return _delay_and_polarity(r, c, max_lag)[0]


def _shift(r: np.ndarray, c: np.ndarray, delay: float, polarity: int):
    """Remove ``delay`` from ``c`` and trim both to the valid overlap. Returns
    ``(start, reference_part, candidate_part)``, where
    candidate_part[n] ≈ polarity·c(start + n + delay)."""
    whole = math.floor(delay)
    frac = delay - whole
    if frac > 1.0 - 1e-12:
        whole, frac = whole + 1, 0.0
    if frac < 1e-12:
        half, shifted = 0, c
    else:
        half = _SHIFT_HALF_TAPS
        j = np.arange(-half, half + 1)
        kernel = np.sinc(j - frac) * _window(j - frac)  # y[t] = Σ_j kernel[j]·c[t + j]
        shifted = sps.oaconvolve(c, kernel[::-1])[half : half + c.size]
    start = max(0, half - whole)
    stop = min(r.size, c.size - half - whole)
    if stop - start < MIN_SAMPLES:
        raise InputError(
            f"align: after removing a delay of {delay:.3f} samples the signals overlap by "
            f"{max(stop - start, 0)} samples; need at least {MIN_SAMPLES}"
        )
    return start, r[start:stop], polarity * shifted[start + whole : stop + whole]


def _derivative(x: np.ndarray) -> np.ndarray:
    """Band-limited time derivative (per sample) by a windowed ideal differentiator,
    h[k] = (−1)^k / k; the first and last 127 samples are not valid."""
    k = np.arange(-_SHIFT_HALF_TAPS, _SHIFT_HALF_TAPS + 1)
    h = np.zeros(k.size)
    nz = k != 0
    h[nz] = np.where(k[nz] % 2 == 0, 1.0, -1.0) / k[nz] * _window(k[nz].astype(float))
    return sps.oaconvolve(x, h)[_SHIFT_HALF_TAPS : _SHIFT_HALF_TAPS + x.size]


def _refine_for_null(r, c, delay: float, polarity: int):
    """Gauss–Newton steps on δ minimizing ‖r − α·c(t + delay + δ)‖² (α least-squares):
    δ = <e, c'>/(α·‖c'‖²) with e the current residual and c' the aligned candidate's
    derivative (interior samples only). Returns the refined delay and ``_shift``'s result
    for it."""
    shifted = _shift(r, c, delay, polarity)
    for _ in range(_GAUSS_NEWTON_ROUNDS):
        _, ref, cand = shifted
        inner = slice(_SHIFT_HALF_TAPS, cand.size - _SHIFT_HALF_TAPS)
        d = _derivative(cand)[inner]
        ref, cand = ref[inner], cand[inner]
        dd, cc = float(np.dot(d, d)), float(np.dot(cand, cand))
        if cand.size < MIN_SAMPLES or dd == 0.0 or cc == 0.0:
            break
        alpha = float(np.dot(ref, cand)) / cc
        if alpha <= 0.0:
            break
        step = float(np.dot(ref - alpha * cand, d)) / (alpha * dd)
        if not abs(step) < 0.5 or abs(step) < _REFINE_TOL:
            break
        delay += step
        shifted = _shift(r, c, delay, polarity)
        if abs(step) < _CONVERGED_STEP:
            break
    return delay, shifted


def align(
    reference,
    candidate,
    sample_rate: float,
    *,
    max_delay_s: float | None = DEFAULT_MAX_DELAY_S,
    candidate_sample_rate: float | None = None,
) -> Alignment:
    """Align ``candidate`` to ``reference``: estimate delay and polarity, refine the delay to
    the one that minimizes the gain-matched residual (Gauss–Newton, a few rounds), shift the
    candidate (exactly for integer delays, by a −120 dB windowed sinc otherwise), flip its
    polarity if needed, trim both to their common part and measure the candidate's gain.

    ``max_delay_s`` bounds |delay| (s; default 1 s, None = any lag with overlap);
    ``candidate_sample_rate`` (Hz), if given, must equal
    ``sample_rate``. Raises ``InputError`` if the aligned overlap is shorter than 32 samples.
    """
    r, c, rate = _inputs(reference, candidate, sample_rate, candidate_sample_rate, "align")
    max_lag = None
    if max_delay_s is not None:
        if not math.isfinite(max_delay_s) or max_delay_s < 0:
            raise InputError(f"align: max_delay_s must be >= 0, got {max_delay_s!r}")
        max_lag = max_delay_s * rate
    delay, polarity = _delay_and_polarity(r, c, max_lag)
    if abs(delay - round(delay)) > 1e-12:
        delay, (start, ref, cand) = _refine_for_null(r, c, delay, polarity)
    else:
        start, ref, cand = _shift(r, c, delay, polarity)
    gain = float(np.dot(ref, cand) / np.dot(ref, ref)) if np.any(ref) else 0.0
    return Alignment(delay, polarity, gain, ref.copy(), cand, start)


def identity_alignment(
    reference, candidate, sample_rate: float, *, candidate_sample_rate: float | None = None
) -> Alignment:
    """Wrap a pair that is already aligned (equal length, e.g. an ``Alignment``'s arrays)
    as an ``Alignment`` with zero delay and positive polarity; only the gain is measured.
    Lets metrics that align by themselves skip a second alignment."""
    r, c, _ = _inputs(
        reference, candidate, sample_rate, candidate_sample_rate, "identity_alignment"
    )
    v.same_length(r, c, "identity_alignment")
    return Alignment(0.0, 1, float(np.dot(r, c) / np.dot(r, r)), r, c, 0)
