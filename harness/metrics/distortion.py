"""Harmonic and intermodulation distortion.

Tone amplitudes are measured on a Kaiser-windowed FFT (β = 24: −188 dB sidelobes, falling
further away from the lobe) by summing the power of every bin in a component's main lobe.
The lobe sum equals the component's mean square whatever its position between bins
(Parseval), so frequencies need not be FFT-bin-exact (AES17 recommends 997 Hz precisely so
they are not), and the leakage floor sits far below any distortion a model or amp
produces (an absent harmonic reads −180 dB or lower). Components must be at least a main
lobe apart (half-width 7.7 bins, rounded up, plus a bin of margin: 19 bins, see
``min_samples_to_resolve``): functions raise ``InputError`` when the signal is too short
to resolve them.

* ``thd``: THD = √(ΣH2..Hn²)/H1 and THD+N (AES17 / IEC 60268-3 conventions, referred to
  the fundamental: everything in the measurement bandwidth except the fundamental and DC).
* ``harmonic_balance``: THD, H2, H3 and the even/odd ratio per level of a
  ``level_stepped_sine`` response.
* ``sweep_harmonics``: harmonic responses from a synchronized exponential sweep (Novak et
  al., JAES 2015): deconvolve, cut each harmonic's impulse response at L·ln(n), FFT.
* ``imd``: SMPTE RP120 / DIN 45403 modulation method and CCIF (IEC 60268-3) difference-
  frequency method.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import fft as sfft
from scipy import special

from harness.errors import InputError
from harness.metrics import _validate as v
from harness.stimuli import (
    INVERSE_HIGH_EDGE_OCT,
    INVERSE_LOW_EDGE_OCT,
    Stimulus,
    inverse_spectrum,
)

#: Kaiser β of the tone-analysis window: −188 dB peak sidelobe (measured on a 64x
#: zero-padded DFT), main-lobe half-width √(1 + (β/π)²) = 7.7 bins.
TONE_WINDOW_BETA = 24.0
#: AES17 standard measurement bandwidth for THD+N (Hz), upper limit clipped to Nyquist.
AES17_BANDWIDTH_HZ = (20.0, 20000.0)


# --------------------------------------------------------------------------------------
# Tone spectrum
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _ToneSpectrum:
    power: np.ndarray  # mean-square per one-sided bin (units²); a lobe sums to A²/2
    bin_hz: float
    half_width: int  # lobe half-width in bins, rounded up, +1 bin margin
    sample_rate: float

    def bins_of(self, f_hz: float) -> tuple[int, int]:
        k0 = f_hz / self.bin_hz
        lo = max(0, int(math.floor(k0 - self.half_width)))
        hi = min(self.power.size, int(math.ceil(k0 + self.half_width)) + 1)
        return lo, hi

    def mean_square(self, f_hz: float) -> float:
        lo, hi = self.bins_of(f_hz)
        return float(self.power[lo:hi].sum())

    def amplitude(self, f_hz: float) -> float:
        """Peak amplitude of the component at ``f_hz`` (same units as the signal)."""
        return math.sqrt(2.0 * self.mean_square(f_hz))


def _tone_spectrum(x: np.ndarray, sample_rate: float, beta: float) -> _ToneSpectrum:
    n = x.size
    window = special.i0(beta * np.sqrt(1.0 - np.linspace(-1.0, 1.0, n) ** 2)) / special.i0(beta)
    spectrum = sfft.rfft(x * window)
    power = np.abs(spectrum) ** 2 * (2.0 / (n * float(np.dot(window, window))))
    power[0] *= 0.5
    if n % 2 == 0:
        power[-1] *= 0.5
    return _ToneSpectrum(power, sample_rate / n, _lobe_half_width_bins(beta), sample_rate)


def _lobe_half_width_bins(beta: float) -> int:
    """Kaiser main-lobe half-width √(1 + (β/π)²) bins, rounded up, plus one bin of margin."""
    return int(math.ceil(math.sqrt(1.0 + (beta / math.pi) ** 2))) + 1


def min_samples_to_resolve(
    spacing_hz: float, sample_rate: float, *, kaiser_beta: float = TONE_WINDOW_BETA
) -> int:
    """Fewest samples for which ``thd``/``imd`` resolve components ``spacing_hz`` apart
    (f0 for THD; f1 for SMPTE IMD; f2 − f1 for CCIF): 2·half-width + 1 = 19 bins at the
    default window, i.e. ceil(19·fs/spacing)."""
    rate = v.rate(sample_rate, "min_samples_to_resolve")
    spacing = v.frequency(spacing_hz, rate, "min_samples_to_resolve spacing_hz")
    bins = 2 * _lobe_half_width_bins(_beta(kaiser_beta, "min_samples_to_resolve")) + 1
    return int(math.ceil(bins * rate / spacing))


def _require_resolution(spacing_hz: float, n: int, spec: _ToneSpectrum, what: str) -> None:
    needed = 2 * spec.half_width + 1
    if spacing_hz / spec.bin_hz < needed:
        seconds = needed / spacing_hz
        raise InputError(
            f"{what}: {n} samples resolve components {spacing_hz:g} Hz apart only "
            f"{spacing_hz / spec.bin_hz:.1f} bins apart; need {needed} bins, i.e. at least "
            f"{seconds:.3f} s of signal"
        )


def _beta(value: float, what: str) -> float:
    if not math.isfinite(value) or not 5.0 <= value <= 40.0:
        raise InputError(f"{what}: kaiser_beta must be in [5, 40], got {value!r}")
    return float(value)


def _db(ratio: float) -> float:
    return 20.0 * math.log10(ratio) if ratio > 0 else -math.inf


# --------------------------------------------------------------------------------------
# THD and THD+N
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class ThdResult:
    """Harmonic distortion of one steady tone.

    ``f0_hz``: fundamental (Hz). ``fundamental_dbfs``: H1 peak amplitude in dBFS.
    ``thd_ratio``: √(ΣH2..Hn²)/H1 over the harmonics below Nyquist. ``thd_n_ratio``: RMS
    of everything in the bandwidth except H1 and DC, re H1's RMS. ``harmonics_db``: H2..Hn
    each in dB re H1 (index 0 is H2; NaN for harmonics at or above Nyquist).
    ``harmonic_amplitudes``: H1..Hn peak amplitudes (signal units; NaN above Nyquist).
    """

    f0_hz: float
    fundamental_dbfs: float
    thd_ratio: float
    thd_n_ratio: float
    harmonics_db: np.ndarray
    harmonic_amplitudes: np.ndarray

    @property
    def thd_db(self) -> float:
        """THD in dB re H1."""
        return _db(self.thd_ratio)

    @property
    def thd_n_db(self) -> float:
        """THD+N in dB re H1."""
        return _db(self.thd_n_ratio)


def thd(
    x,
    sample_rate: float,
    f0: float,
    n_harmonics: int = 10,
    *,
    bandwidth_hz: tuple[float, float] = AES17_BANDWIDTH_HZ,
    kaiser_beta: float = TONE_WINDOW_BETA,
) -> ThdResult:
    """THD and THD+N of a steady tone ``x`` at ``f0`` Hz (sample_rate in Hz).

    H_n is the peak amplitude at n·f0 (lobe-power sum; the signal needs 19/f0 seconds at the
    default window, e.g. 19 ms at 1 kHz: ``min_samples_to_resolve``). THD uses
    H2..H``n_harmonics`` that lie below Nyquist less a main-lobe half-width (the others
    are NaN in ``harmonics_db``). THD+N integrates the
    whole spectrum inside ``bandwidth_hz`` (AES17: 20 Hz–20 kHz, upper edge clipped to
    Nyquist) except the fundamental's and DC's lobes, so it includes aliased products and
    noise. Both are referred to the fundamental (THD_F); AES17's THD+N re the total signal
    is thd_n / √(1 + thd_n²). The signal should be a settled segment.
    """
    rate = v.rate(sample_rate, "thd")
    f0 = v.frequency(f0, rate, "thd f0")
    x = v.signal(x, "thd x", min_samples=16)
    if int(n_harmonics) < 2:
        raise InputError(f"thd: n_harmonics must be >= 2, got {n_harmonics!r}")
    lo_bw, hi_bw = (float(b) for b in bandwidth_hz)
    if not 0 <= lo_bw < hi_bw:
        raise InputError(
            f"thd: bandwidth_hz must be (low, high) with 0 <= low < high, got {bandwidth_hz!r}"
        )
    spec = _tone_spectrum(x, rate, _beta(kaiser_beta, "thd"))
    _require_resolution(f0, x.size, spec, "thd")
    amplitudes = np.full(int(n_harmonics), np.nan)
    limit = rate / 2.0 - spec.half_width * spec.bin_hz
    for k in range(1, int(n_harmonics) + 1):
        if k * f0 < limit:
            amplitudes[k - 1] = spec.amplitude(k * f0)
    h1 = amplitudes[0]
    if h1 <= 0.0:
        raise InputError(f"thd x: no energy at the fundamental {f0:g} Hz")
    harmonics = amplitudes[1:]
    measured = harmonics[np.isfinite(harmonics)]
    thd_ratio = math.sqrt(float(np.sum(measured**2))) / h1

    freqs = np.arange(spec.power.size) * spec.bin_hz
    in_band = (freqs >= lo_bw) & (freqs <= min(hi_bw, rate / 2.0))
    lo, hi = spec.bins_of(f0)
    in_band[lo:hi] = False
    in_band[: spec.half_width + 1] = False  # DC lobe
    thd_n = math.sqrt(float(spec.power[in_band].sum()) / (h1 * h1 / 2.0))
    with np.errstate(divide="ignore"):
        harmonics_db = 20.0 * np.log10(harmonics / h1)
    return ThdResult(f0, _db(h1), thd_ratio, thd_n, harmonics_db, amplitudes)


# --------------------------------------------------------------------------------------
# Harmonic balance across a level-stepped sine
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class HarmonicBalance:
    """Per stimulus level (arrays aligned with ``levels_dbfs``, the input peak levels):
    ``output_dbfs`` H1 peak level of the response (dBFS; its slope vs input shows
    compression), ``thd_ratio``, ``h2_db`` and ``h3_db`` (re H1), and ``even_odd_db`` =
    10·log10(ΣH_even² / ΣH_odd²) over H2..Hn (odd excludes H1; ±inf if one side is zero)."""

    levels_dbfs: np.ndarray
    output_dbfs: np.ndarray
    thd_ratio: np.ndarray
    h2_db: np.ndarray
    h3_db: np.ndarray
    even_odd_db: np.ndarray


def _stimulus_rate(stimulus: Stimulus, sample_rate, what: str) -> float:
    if not isinstance(stimulus, Stimulus):
        raise InputError(
            f"{what}: expected a harness.stimuli.Stimulus, got {type(stimulus).__name__}"
        )
    if sample_rate is not None:
        v.same_rate(stimulus.sample_rate, sample_rate, f"{what} response")
    return stimulus.sample_rate


def harmonic_balance(
    y,
    stimulus: Stimulus,
    *,
    n_harmonics: int = 10,
    delay_samples: int = 0,
    sample_rate: float | None = None,
) -> HarmonicBalance:
    """Harmonic balance of a system's response ``y`` to a ``level_stepped_sine``
    ``stimulus``: ``thd`` on each settled level segment (shifted by the system's
    ``delay_samples``, an integer latency). ``sample_rate`` (Hz), if given, must equal the
    stimulus's."""
    rate = _stimulus_rate(stimulus, sample_rate, "harmonic_balance")
    if stimulus.meta.get("kind") != "level_stepped_sine":
        raise InputError(
            f"harmonic_balance: stimulus {stimulus.name!r} is not a level_stepped_sine"
        )
    y = v.signal(y, "harmonic_balance y", min_samples=16)
    f0 = stimulus.meta["f0_hz"]
    rows = []
    for level, name in zip(
        stimulus.meta["levels_dbfs"], stimulus.meta["segment_names"], strict=True
    ):
        start, end = v.segment(
            stimulus.segments, name, y.size, int(delay_samples), "harmonic_balance"
        )
        result = thd(y[start:end], rate, f0, n_harmonics)
        h = result.harmonic_amplitudes[1:]
        orders = np.arange(2, h.size + 2)
        ok = np.isfinite(h)
        even = float(np.sum(h[ok & (orders % 2 == 0)] ** 2))
        odd = float(np.sum(h[ok & (orders % 2 == 1)] ** 2))
        if even == odd == 0.0:
            balance = math.nan
        elif odd == 0.0:
            balance = math.inf
        elif even == 0.0:
            balance = -math.inf
        else:
            balance = 10.0 * math.log10(even / odd)
        h3 = result.harmonics_db[1] if result.harmonics_db.size > 1 else math.nan
        rows.append(
            (level, result.fundamental_dbfs, result.thd_ratio, result.harmonics_db[0], h3, balance)
        )
    cols = [np.array(c, dtype=float) for c in zip(*rows, strict=True)]
    return HarmonicBalance(*cols)


# --------------------------------------------------------------------------------------
# Harmonics from a synchronized exponential sweep
# --------------------------------------------------------------------------------------


#: Share of the gap between adjacent harmonic impulse responses given to the later one's
#: pre-window (the rest is the earlier one's post-window). Harmonic responses start at the
#: harmonic's lowest frequency n·f_start with an edge that rings on both sides; 0.3 keeps
#: that ringing inside the window (0.1 left ±0.3 dB of ripple below 4·f_start, measured).
_SWEEP_PRE_FRACTION = 0.3
#: Edge margins of the sweep analysis (octaves), matching the inverse filter's band edges
#: (``stimuli.INVERSE_LOW_EDGE_OCT`` / ``INVERSE_HIGH_EDGE_OCT``): |H1| is read from half an
#: octave above f_start, harmonics from an octave above (their responses begin with an edge
#: at n·f_start whose ringing reaches about an octave up), up to a sixth of an octave below
#: f_end. Measured on a memoryless polynomial, 3 s 20 Hz–20 kHz sweep with a 0.5 s tail:
#: |H1| within 0.07 dB, harmonics within 0.035 dB; a 1 s sweep or no recorded tail after
#: the sweep leaves up to 0.3–0.8 dB in the lowest half-octave.
_SWEEP_LOW_MARGIN_OCT = INVERSE_LOW_EDGE_OCT
_SWEEP_HARMONIC_LOW_MARGIN_OCT = 1.0
_SWEEP_HIGH_MARGIN_OCT = INVERSE_HIGH_EDGE_OCT


@dataclass(frozen=True, eq=False)
class SweepHarmonics:
    """Harmonic responses measured with a synchronized sweep, on a log frequency grid.

    ``frequencies_hz``: excitation (input) frequencies. ``h1_db``: linear response
    magnitude in dB (output re input). ``harmonics_db``: n -> |H_n(n·f)| / |H_1(f)| in dB,
    the level of harmonic n re the fundamental for an input at f with the sweep's amplitude
    (NaN where n·f is outside the measurable band or f is inside a fade). ``thd_ratio``:
    √Σ(ratios²) over the valid harmonics (NaN if none). ``latency_samples``: position of
    the linear impulse response's peak. ``L``: the sweep rate (s).
    """

    frequencies_hz: np.ndarray
    h1_db: np.ndarray
    harmonics_db: dict[int, np.ndarray]
    thd_ratio: np.ndarray
    latency_samples: int
    L: float


def _band_power(
    freqs: np.ndarray, power: np.ndarray, centres: np.ndarray, half_oct: float
) -> np.ndarray:
    """Mean of ``power`` over bins within ±``half_oct`` octaves of each centre; where no bin
    falls inside, linear interpolation at the centre."""
    cumulative = np.concatenate([[0.0], np.cumsum(power)])
    lo = np.searchsorted(freqs, centres * 2.0**-half_oct, side="left")
    hi = np.searchsorted(freqs, centres * 2.0**half_oct, side="right")
    count = hi - lo
    out = np.interp(centres, freqs, power)
    has = count > 0
    out[has] = (cumulative[hi[has]] - cumulative[lo[has]]) / count[has]
    return out


def sweep_harmonics(
    y,
    stimulus: Stimulus,
    *,
    n_harmonics: int = 5,
    points_per_octave: int = 12,
    latency_samples: int | None = None,
    sample_rate: float | None = None,
) -> SweepHarmonics:
    """Harmonic distortion vs frequency from a system's response ``y`` to an ``exp_sweep``.

    Deconvolves ``y`` with the sweep's regularized inverse (``stimuli.inverse_spectrum``),
    finds the linear impulse response (largest |h| unless ``latency_samples`` is given),
    cuts harmonic n's response at latency − L·ln(n)·fs with a window reaching 30 % of the
    way to the next higher harmonic and 70 % of the way to the next lower one (the linear
    response gets all of ``y`` after the sweep; half-Hann edges), and compares |H_n|
    at n·f with |H_1| at f, power-averaged over bands 1/``points_per_octave`` octave wide
    on a grid of ``points_per_octave`` points per octave.

    The grid starts half an octave above f_start (and above the fade-in) and stops a sixth
    of an octave below f_end (and below the fade-out and Nyquist), where the deconvolution
    is exact; harmonic n is reported from an octave above f_start while n·f stays below
    that top (accuracy on a memoryless polynomial, 3 s sweep with 0.5 s of response after
    it: 0.07 dB for H1, 0.035 dB for harmonics; see ``_SWEEP_LOW_MARGIN_OCT``). Harmonics a
    system folds back above Nyquist become down-going chirps that spread across the
    harmonic windows; weak aliasing (a cubic at −6 dBFS) costs nothing measurable, heavy
    aliasing raises the floor. ``sample_rate`` (Hz), if given, must equal the stimulus's.
    """
    rate = _stimulus_rate(stimulus, sample_rate, "sweep_harmonics")
    if stimulus.meta.get("kind") != "exp_sweep":
        raise InputError(f"sweep_harmonics: stimulus {stimulus.name!r} is not an exp_sweep")
    n_sweep = stimulus.segments["sweep"][1]
    y = v.signal(y, "sweep_harmonics y", min_samples=n_sweep)
    n_harm = int(n_harmonics)
    if n_harm < 2 or int(points_per_octave) < 1:
        raise InputError("sweep_harmonics: need n_harmonics >= 2 and points_per_octave >= 1")
    f1, f2, L = stimulus.meta["f_start_hz"], stimulus.meta["f_end_hz"], stimulus.meta["L"]
    n = sfft.next_fast_len(y.size + stimulus.signal.size, real=True)
    h = sfft.irfft(sfft.rfft(y, n) * inverse_spectrum(stimulus, n), n)
    if latency_samples is None:
        latency = int(np.argmax(np.abs(h[: y.size])))
    else:
        latency = int(latency_samples)
        if not 0 <= latency < y.size:
            raise InputError(f"sweep_harmonics: latency_samples {latency} outside the response")
    spacing = L * rate  # samples per unit of ln(n)
    if spacing * math.log(2.0) < 64:
        raise InputError(
            "sweep_harmonics: sweep too fast (L·ln 2 < 64 samples) to separate harmonics"
        )

    # After the linear IR nothing but its own tail follows until the wrapped negative-time
    # harmonics: give it all of the response recorded after the sweep (or 70 % of the gap
    # to H2, if longer) for low-frequency resolution.
    linear_post = min(
        max(int((1 - _SWEEP_PRE_FRACTION) * spacing * math.log(2.0)), y.size - n_sweep),
        n - n_sweep - 1,
    )

    def cut(k: int) -> np.ndarray:
        gap_before = spacing * math.log((k + 1) / k)  # to harmonic k+1 (earlier)
        pre = int(_SWEEP_PRE_FRACTION * gap_before)
        if k == 1:
            post = linear_post
        else:
            post = int((1 - _SWEEP_PRE_FRACTION) * spacing * math.log(k / (k - 1)))
        centre = latency - int(round(spacing * math.log(k)))
        idx = np.arange(centre - pre, centre + post) % n
        window = np.ones(idx.size)
        rise, fall = max(pre // 2, 1), max(post // 5, 1)
        window[:rise] = 0.5 - 0.5 * np.cos(np.pi * np.arange(rise) / rise)
        window[idx.size - fall :] = 0.5 + 0.5 * np.cos(np.pi * np.arange(1, fall + 1) / fall)
        return h[idx] * window

    responses = [cut(k) for k in range(1, n_harm + 1)]
    m = sfft.next_fast_len(max(2 * r.size for r in responses), real=True)
    freqs = sfft.rfftfreq(m, 1.0 / rate)
    power = [np.abs(sfft.rfft(r, m)) ** 2 for r in responses]

    half_oct = 0.5 / points_per_octave
    f_in_lo = max(f1 * math.exp(stimulus.meta["fade_in_s"] / L), f1 * 2.0**_SWEEP_LOW_MARGIN_OCT)
    f_out_hi = min(
        f2 * math.exp(-stimulus.meta["fade_out_s"] / L), f2 * 2.0**-_SWEEP_HIGH_MARGIN_OCT
    )
    f_out_hi = min(f_out_hi, rate / 2.0) * 2.0**-half_oct
    f_in_lo *= 2.0**half_oct
    if not f_in_lo < f_out_hi:
        raise InputError("sweep_harmonics: sweep band too narrow for its edge margins")
    count = int(math.floor(points_per_octave * math.log2(f_out_hi / f_in_lo))) + 1
    grid = f_in_lo * 2.0 ** (np.arange(count) / points_per_octave)
    h1 = _band_power(freqs, power[0], grid, half_oct)
    f_harm_lo = f1 * 2.0 ** (_SWEEP_HARMONIC_LOW_MARGIN_OCT + half_oct)
    harmonics, squares = {}, np.zeros(grid.size)
    any_valid = np.zeros(grid.size, dtype=bool)
    for k in range(2, n_harm + 1):
        valid = (k * grid <= f_out_hi) & (grid >= f_harm_lo)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.sqrt(_band_power(freqs, power[k - 1], k * grid, half_oct) / h1)
            harmonics[k] = np.where(valid, 20.0 * np.log10(ratio), np.nan)
        squares += np.where(valid, ratio**2, 0.0)
        any_valid |= valid
    with np.errstate(divide="ignore"):
        h1_db = 10.0 * np.log10(h1)
    thd_ratio = np.where(any_valid, np.sqrt(squares), np.nan)
    return SweepHarmonics(grid, h1_db, harmonics, thd_ratio, latency, L)


# --------------------------------------------------------------------------------------
# Intermodulation distortion
# --------------------------------------------------------------------------------------

IMD_METHODS = ("smpte", "ccif")


def imd(
    x,
    sample_rate: float,
    f1: float,
    f2: float,
    standard: str = "smpte",
    *,
    max_order: int = 5,
    kaiser_beta: float = TONE_WINDOW_BETA,
) -> float:
    """Intermodulation distortion ratio (linear; 20·log10 for dB) of a two-tone response.

    ``standard="smpte"`` (SMPTE RP120 / DIN 45403 modulation method; also the "din" and
    "guitar" stimuli): ``f1`` is the low, strong tone, ``f2`` the high one. Order n
    (2..``max_order``) is the linear sum of the sidebands A(f2 − (n−1)·f1) + A(f2 + (n−1)·f1);
    the result is the RSS over orders divided by A(f2). Where f2 is a multiple of f1
    (DIN's 8000/250 = 32) the sidebands coincide with f1's high harmonics and include them.

    ``standard="ccif"`` (IEC 60268-3 difference-frequency method, twin tone 1:1):
    difference-frequency products of order 2 (f2 − f1), 3 (2f1 − f2 and 2f2 − f1), 4
    (2·(f2 − f1)), 5 (3f1 − 2f2 and 3f2 − 2f1) ..., linear sum per order, RSS over orders up
    to ``max_order``, divided by A(f1) + A(f2).

    Products at or above Nyquist or at or below 0 Hz are skipped. Amplitudes are lobe-power
    sums of a Kaiser-windowed FFT (module docstring); the signal must resolve
    components |f2 − f1| (ccif) or f1 (smpte) apart.
    """
    rate = v.rate(sample_rate, "imd")
    f1 = v.frequency(f1, rate, "imd f1")
    f2 = v.frequency(f2, rate, "imd f2")
    x = v.signal(x, "imd x", min_samples=16)
    if standard not in IMD_METHODS:
        raise InputError(f"imd: standard must be one of {IMD_METHODS}, got {standard!r}")
    if int(max_order) < 2:
        raise InputError(f"imd: max_order must be >= 2, got {max_order!r}")
    if not f1 < f2:
        raise InputError(f"imd: need f1 < f2, got f1={f1:g} Hz, f2={f2:g} Hz")
    spec = _tone_spectrum(x, rate, _beta(kaiser_beta, "imd"))
    nyquist = rate / 2.0

    def amp(f: float) -> float:
        return spec.amplitude(f) if 0.0 < f < nyquist else 0.0

    orders = []
    if standard == "smpte":
        _require_resolution(f1, x.size, spec, "imd")
        reference = amp(f2)
        for n in range(2, int(max_order) + 1):
            orders.append(amp(f2 - (n - 1) * f1) + amp(f2 + (n - 1) * f1))
    else:
        _require_resolution(f2 - f1, x.size, spec, "imd")
        reference = amp(f1) + amp(f2)
        delta = f2 - f1
        for n in range(2, int(max_order) + 1):
            if n % 2 == 0:
                orders.append(amp(n // 2 * delta))
            else:
                m = (n - 1) // 2
                orders.append(amp(f1 - m * delta) + amp(f2 + m * delta))
    if reference <= 0.0:
        raise InputError("imd x: no energy at the reference tone(s)")
    return math.sqrt(sum(o * o for o in orders)) / reference
