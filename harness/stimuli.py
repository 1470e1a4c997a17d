"""Test signals for the lab: deterministic generators returning ``Stimulus`` objects.

Every generator is a pure function of its arguments (a ``seed`` where randomness is used):
the same call gives the same samples, bit for bit. Levels are **dBFS peak** in the lab's
convention (``harness.audio``: 1.0 = 1 V peak at a stage input), frequencies are Hz,
durations seconds, positions and segments are sample indices ``[start, end)``.

Measurement stimuli follow their standards where one exists: the synchronized exponential
sweep of Novak et al. (JAES 63(10), 2015), multisines on exact FFT bins (Schroeder 1970
phases; crest-factor reduction after Van der Ouderaa et al., IEEE T-IM 1988), AES17-style
stepped sines, and the two-tone pairs of SMPTE RP120 / DIN 45403 / IEC 60268-3 (CCIF).
Musical stimuli (plucks, DI phrases) come from an extended Karplus–Strong string (Jaffe &
Smith, CMJ 7(2), 1983) with a pickup/body filter.

``standard_set`` is the lab's default battery; ``write_set`` writes it as 32-bit float WAV
files plus one JSON sidecar each (segments, meta, SHA-256 of the WAV), byte-identical on a
re-run (``greybound-lab stimuli --set standard --output-dir D``).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import fft as sfft
from scipy import signal as sps

from harness import __version__
from harness.audio import check_finite, dbfs_to_volts, write_wav
from harness.errors import InputError
from harness.plain import plain

# --------------------------------------------------------------------------------------
# The Stimulus record
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Stimulus:
    """A generated test signal.

    ``signal``: float64 1-D samples (read-only; 1.0 = 1 V peak). ``sample_rate``: Hz.
    ``segments``: name -> ``(start, end)`` sample indices, half-open, the parts analyses use
    (settled steady states, one per level/note/burst...). ``meta``: JSON-safe description
    (``kind``, levels in dBFS, frequencies in Hz, seed, generator parameters).
    """

    name: str
    signal: np.ndarray
    sample_rate: float
    segments: dict[str, tuple[int, int]] = field(default_factory=dict)
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        what = f"Stimulus {self.name!r}"
        sig = np.array(self.signal, dtype=np.float64)
        if sig.ndim != 1 or sig.size == 0:
            raise InputError(f"{what}: signal must be a non-empty 1-D array, got shape {sig.shape}")
        check_finite(sig, f"{what}.signal")
        rate = _check_rate(self.sample_rate, what)
        segments = {}
        for name, (start, end) in self.segments.items():
            start, end = int(start), int(end)
            if not 0 <= start < end <= sig.size:
                raise InputError(
                    f"{what}: segment {name!r} [{start}, {end}) is empty or outside [0, {sig.size})"
                )
            segments[str(name)] = (start, end)
        sig.setflags(write=False)
        object.__setattr__(self, "signal", sig)
        object.__setattr__(self, "sample_rate", rate)
        object.__setattr__(self, "segments", segments)
        object.__setattr__(self, "meta", dict(self.meta))

    @property
    def duration_s(self) -> float:
        """Length in seconds."""
        return self.signal.size / self.sample_rate

    def segment(self, name: str) -> np.ndarray:
        """The samples of segment ``name`` (a read-only view)."""
        if name not in self.segments:
            raise InputError(f"Stimulus {self.name!r}: no segment {name!r}")
        start, end = self.segments[name]
        return self.signal[start:end]


# --------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------


def _check_rate(sample_rate, what: str) -> float:
    try:
        rate = float(sample_rate)
    except (TypeError, ValueError):
        raise InputError(
            f"{what}: sample rate must be a number in Hz, got {sample_rate!r}"
        ) from None
    if not math.isfinite(rate) or rate <= 0:
        raise InputError(f"{what}: sample rate must be positive and finite, got {sample_rate!r}")
    return rate


def _samples(seconds: float, sample_rate: float, what: str, *, minimum: int = 1) -> int:
    if not math.isfinite(seconds) or seconds < 0:
        raise InputError(f"{what}: duration must be >= 0 s, got {seconds!r}")
    n = int(round(seconds * sample_rate))
    if n < minimum:
        raise InputError(f"{what}: {seconds!r} s is {n} samples, need at least {minimum}")
    return n


def _amplitude(level_dbfs: float, what: str) -> float:
    if not math.isfinite(level_dbfs) or level_dbfs > 0:
        raise InputError(f"{what}: level must be a finite dBFS value <= 0, got {level_dbfs!r}")
    return dbfs_to_volts(level_dbfs)


def _below_nyquist(f_hz: float, sample_rate: float, what: str) -> float:
    if not math.isfinite(f_hz) or f_hz <= 0 or f_hz >= sample_rate / 2:
        raise InputError(
            f"{what}: frequency {f_hz!r} Hz must be in (0, {sample_rate / 2:g}) Hz "
            f"(Nyquist at {sample_rate:g} Hz)"
        )
    return float(f_hz)


def _fade(n: int) -> np.ndarray:
    """Raised-cosine (half-Hann) fade-in of ``n`` samples from 0 to 1 (exclusive of 1)."""
    return 0.5 - 0.5 * np.cos(np.pi * np.arange(n) / max(n, 1))


def _midi_hz(note: float) -> float:
    """Equal-tempered frequency of a MIDI note number (A4 = 69 = 440 Hz)."""
    return 440.0 * 2.0 ** ((note - 69.0) / 12.0)


# --------------------------------------------------------------------------------------
# Impulse, step, sine
# --------------------------------------------------------------------------------------


def impulse(
    sample_rate: float = 48000,
    duration_s: float = 1.0,
    level_dbfs: float = 0.0,
    position: int = 0,
) -> Stimulus:
    """A unit-sample impulse of peak ``level_dbfs`` at sample index ``position``.

    Segments: ``impulse`` (the single sample) and ``response`` (from the impulse to the end,
    where a system's impulse response appears).
    """
    rate = _check_rate(sample_rate, "impulse")
    n = _samples(duration_s, rate, "impulse duration_s")
    if not 0 <= int(position) < n:
        raise InputError(f"impulse: position {position!r} outside [0, {n})")
    position = int(position)
    x = np.zeros(n)
    x[position] = _amplitude(level_dbfs, "impulse level_dbfs")
    return Stimulus(
        "impulse",
        x,
        rate,
        {"impulse": (position, position + 1), "response": (position, n)},
        {"kind": "impulse", "level_dbfs": float(level_dbfs), "position": position},
    )


def step(
    sample_rate: float = 48000,
    duration_s: float = 1.0,
    level_dbfs: float = -6.0,
    position: int = 0,
) -> Stimulus:
    """A step from 0 to ``level_dbfs`` (a DC value, peak = level) at sample ``position``.

    Segments: ``pre`` (before the step, when ``position > 0``) and ``step`` (from the step on).
    """
    rate = _check_rate(sample_rate, "step")
    n = _samples(duration_s, rate, "step duration_s")
    if not 0 <= int(position) < n:
        raise InputError(f"step: position {position!r} outside [0, {n})")
    position = int(position)
    x = np.zeros(n)
    x[position:] = _amplitude(level_dbfs, "step level_dbfs")
    segments = {"step": (position, n)}
    if position > 0:
        segments["pre"] = (0, position)
    return Stimulus(
        "step",
        x,
        rate,
        segments,
        {"kind": "step", "level_dbfs": float(level_dbfs), "position": position},
    )


def sine(
    sample_rate: float = 48000,
    f0: float = 997.0,
    level_dbfs: float = -6.0,
    duration_s: float = 1.0,
    fade_s: float = 0.0,
) -> Stimulus:
    """A sine of ``f0`` Hz (cosine phase at the first sample) at peak ``level_dbfs``.

    997 Hz is the AES17 default (not a sub-multiple of common sample rates, so harmonics and
    aliases do not land on each other). ``fade_s`` applies raised-cosine fades at both ends;
    segment ``steady`` excludes them.
    """
    rate = _check_rate(sample_rate, "sine")
    f0 = _below_nyquist(f0, rate, "sine f0")
    n = _samples(duration_s, rate, "sine duration_s")
    nf = _samples(fade_s, rate, "sine fade_s", minimum=0)
    if 2 * nf >= n:
        raise InputError(f"sine: fades of {fade_s} s leave no steady part in {duration_s} s")
    x = _amplitude(level_dbfs, "sine level_dbfs") * np.cos(2 * np.pi * f0 * np.arange(n) / rate)
    if nf:
        x[:nf] *= _fade(nf)
        x[n - nf :] *= _fade(nf)[::-1]
    return Stimulus(
        f"sine_{f0:g}Hz",
        x,
        rate,
        {"steady": (nf, n - nf)},
        {"kind": "sine", "f0_hz": f0, "level_dbfs": float(level_dbfs), "fade_s": float(fade_s)},
    )


# --------------------------------------------------------------------------------------
# Synchronized exponential sweep (Novak 2015) and its inverse filter
# --------------------------------------------------------------------------------------


def exp_sweep(
    sample_rate: float = 48000,
    f_start: float = 20.0,
    f_end: float = 20000.0,
    duration_s: float = 5.0,
    level_dbfs: float = -6.0,
    fade_in_s: float = 0.05,
    fade_out_s: float = 0.01,
    tail_s: float = 1.0,
) -> Stimulus:
    """Synchronized exponential sine sweep x(t) = A·sin(2π·f1·L·(exp(t/L) − 1)).

    Novak et al., "Synchronized swept-sine: theory, application and implementation", JAES
    63(10), 2015: the rate ``L = round(f1·T̂ / ln(f2/f1)) / f1`` (``meta["L"]``, seconds) makes
    f1·L an integer, so the n-th harmonic is the sweep advanced by L·ln(n): after
    deconvolution with ``inverse_filter`` harmonic n's impulse response lands L·ln(n) seconds
    *before* the linear one, with correct phase. The actual sweep length is
    T = L·ln(f2/f1) (close to ``duration_s``), followed by ``tail_s`` of silence.

    Raised-cosine fades (``fade_in_s``, ``fade_out_s``) avoid clicks; they touch only the
    first/last few percent of the band (input frequencies f1..f1·e^(fade_in/L) and
    f2·e^(−fade_out/L)..f2). Segments: ``sweep`` and ``tail`` (if any).
    """
    rate = _check_rate(sample_rate, "exp_sweep")
    f1 = _below_nyquist(f_start, rate, "exp_sweep f_start")
    f2 = _below_nyquist(f_end, rate, "exp_sweep f_end")
    if not f2 > f1:
        raise InputError(f"exp_sweep: f_end ({f2} Hz) must be above f_start ({f1} Hz)")
    if not math.isfinite(duration_s) or duration_s <= 0:
        raise InputError(f"exp_sweep: duration_s must be > 0, got {duration_s!r}")
    ratio = math.log(f2 / f1)
    cycles = max(1, round(f1 * duration_s / ratio))
    L = cycles / f1
    n_sweep = int(math.floor(L * ratio * rate)) + 1
    n_in = _samples(fade_in_s, rate, "exp_sweep fade_in_s", minimum=0)
    n_out = _samples(fade_out_s, rate, "exp_sweep fade_out_s", minimum=0)
    if n_in + n_out >= n_sweep:
        raise InputError("exp_sweep: fades are longer than the sweep")
    n_tail = _samples(tail_s, rate, "exp_sweep tail_s", minimum=0)
    t = np.arange(n_sweep) / rate
    x = _amplitude(level_dbfs, "exp_sweep level_dbfs") * np.sin(
        2 * np.pi * f1 * L * np.expm1(t / L)
    )
    if n_in:
        x[:n_in] *= _fade(n_in)
    if n_out:
        x[n_sweep - n_out :] *= _fade(n_out)[::-1]
    segments = {"sweep": (0, n_sweep)}
    if n_tail:
        segments["tail"] = (n_sweep, n_sweep + n_tail)
    return Stimulus(
        "exp_sweep",
        np.concatenate([x, np.zeros(n_tail)]),
        rate,
        segments,
        {
            "kind": "exp_sweep",
            "f_start_hz": f1,
            "f_end_hz": f2,
            "L": L,
            "sweep_duration_s": n_sweep / rate,
            "level_dbfs": float(level_dbfs),
            "fade_in_s": n_in / rate,
            "fade_out_s": n_out / rate,
            "tail_s": n_tail / rate,
        },
    )


#: Band-edge transitions of the sweep inverse (octaves, inside [f_start, f_end]): the low
#: edge rises from 0 at f_start to 1 half an octave above, the high edge falls from 1 a
#: sixth of an octave below f_end to 0 at f_end. Outside the band the inverse is zero, so
#: out-of-band content of a response (harmonics above f_end, DC from even-order
#: distortion) cannot be amplified by the division.
INVERSE_LOW_EDGE_OCT = 0.5
INVERSE_HIGH_EDGE_OCT = 1.0 / 6.0
#: Floor of the division, re the ideal sweep's power |X̃(f)|²: where the generated sweep is
#: weaker than −6 dB of the ideal (inside the fades), the inverse is limited to 2/|X̃|.
_INVERSE_FLOOR = 0.25


def _sweep_meta(stim: Stimulus) -> tuple[float, float, float]:
    if stim.meta.get("kind") != "exp_sweep" or "sweep" not in stim.segments:
        raise InputError(
            f"stimulus {stim.name!r} is not an exp_sweep (meta kind {stim.meta.get('kind')!r})"
        )
    return stim.meta["f_start_hz"], stim.meta["f_end_hz"], stim.meta["L"]


def inverse_spectrum(stim: Stimulus, n_fft: int) -> np.ndarray:
    """Inverse of the sweep's spectrum on an ``n_fft``-point rfft grid, band-limited.

    G(f) = W(f)·X*(f) / max(|X(f)|², 0.25·|X̃(f)|²), where X is the rfft of the generated
    sweep (fades included) and |X̃(f)|² = C/f the power of the ideal exponential sweep
    (Novak 2015: |X̃| ∝ √(L/f); C is fitted to X inside the band). Inside the band G is
    the exact inverse 1/X; where the sweep is weak (its fades) the floor bounds the gain.
    W is a band window (raised cosine in log frequency) that is 1 on
    [f_start·2^½, f_end·2^(−1/6)] and 0 outside [f_start, f_end]: nothing outside the
    swept band is amplified. Its low edge is realized as a *minimum-phase* filter so the
    edge's slow ringing follows each impulse response instead of preceding it (a
    zero-phase edge rings both ways, and a harmonic window's short pre-part cuts that
    ringing); the high edge stays zero-phase, its ringing lasting a fraction of a
    millisecond, so impulse responses keep their peak positions. Y(f)·G(f) is the
    deconvolved response with no added delay (harmonic responses wrap to negative time).
    """
    f1, f2, _ = _sweep_meta(stim)
    sweep = stim.segment("sweep")
    if n_fft < sweep.size:
        raise InputError(
            f"inverse_spectrum: n_fft {n_fft} is shorter than the sweep ({sweep.size})"
        )
    X = sfft.rfft(sweep, n_fft)
    f = sfft.rfftfreq(n_fft, 1.0 / stim.sample_rate)
    with np.errstate(divide="ignore"):
        logf = np.log2(np.maximum(f, 1e-12))
    f_lo, f_hi = f1 * 2.0**INVERSE_LOW_EDGE_OCT, f2 * 2.0**-INVERSE_HIGH_EDGE_OCT
    rise = np.clip((logf - math.log2(f1)) / INVERSE_LOW_EDGE_OCT, 0.0, 1.0)
    fall = np.clip((math.log2(f2) - logf) / INVERSE_HIGH_EDGE_OCT, 0.0, 1.0)
    w_low = 0.5 - 0.5 * np.cos(np.pi * rise)
    w_high = 0.5 - 0.5 * np.cos(np.pi * fall)
    power = np.abs(X) ** 2
    flat = (f >= f_lo) & (f <= f_hi)
    ideal = float(np.median(power[flat] * f[flat])) / np.maximum(f, f[1])
    G = np.zeros_like(X)
    band = (f > f1) & (f < f2)
    G[band] = np.conj(X[band]) / np.maximum(power[band], _INVERSE_FLOOR * ideal[band])
    return _minimum_phase(w_low, n_fft) * w_high * G


def _minimum_phase(magnitude: np.ndarray, n_fft: int) -> np.ndarray:
    """The minimum-phase spectrum with the given magnitude on an ``n_fft``-point rfft grid
    (homomorphic method: fold the real cepstrum of ln|W| onto positive quefrencies).
    Magnitudes are floored at 1e-9 (−180 dB) for the logarithm."""
    cepstrum = sfft.irfft(np.log(np.maximum(magnitude, 1e-9)), n_fft)
    folded = np.zeros(n_fft)
    half = n_fft // 2
    folded[0] = cepstrum[0]
    folded[1:half] = 2.0 * cepstrum[1:half]
    if n_fft % 2 == 0:
        folded[half] = cepstrum[half]
    else:
        folded[half] = 2.0 * cepstrum[half]
    return np.exp(sfft.rfft(folded))


def inverse_filter(stim: Stimulus) -> np.ndarray:
    """Time-domain inverse filter ``g`` of an ``exp_sweep`` stimulus (float64).

    ``scipy.signal.fftconvolve(y, g)`` deconvolves a recorded response ``y``: the linear
    impulse response starts at index ``len(stim.signal)`` (its peak a sample or two later:
    the group delay of the minimum-phase low band edge) and harmonic n's impulse response
    exactly L·ln(n)·sample_rate samples before the linear one (Novak 2015). Unity gain on
    [f_start·2^½, f_end·2^(−1/6)], zero outside [f_start, f_end] (``inverse_spectrum``).
    """
    n = stim.signal.size
    n_fft = sfft.next_fast_len(2 * n, real=True)
    G = inverse_spectrum(stim, n_fft)
    f = sfft.rfftfreq(n_fft, 1.0 / stim.sample_rate)
    return sfft.irfft(G * np.exp(-2j * np.pi * f * n / stim.sample_rate), n_fft)


# --------------------------------------------------------------------------------------
# Multisine
# --------------------------------------------------------------------------------------

_PHASE_KINDS = ("random", "schroeder", "low-crest")
#: Clipping crest-factor reduction (Van der Ouderaa et al. 1988): clip at 1.4 x RMS, keep the
#: tones' new phases, restore their amplitudes; 200 rounds. Measured on 16..256 tones, a fixed
#: 1.4 x RMS clip converged lower than clipping relative to the current peak.
_LOW_CREST_ITERATIONS = 200
_LOW_CREST_CLIP_RMS = 1.4


def _tone_bins(k_lo: int, k_hi: int, n_tones: int, spacing: str) -> np.ndarray:
    if spacing == "linear":
        target = np.linspace(k_lo, k_hi, n_tones)
    elif spacing == "log":
        target = np.geomspace(k_lo, k_hi, n_tones)
    else:
        raise InputError(f"multisine: spacing must be 'log' or 'linear', got {spacing!r}")
    bins = np.empty(n_tones, dtype=np.int64)
    previous = k_lo - 1
    for i, k in enumerate(np.round(target).astype(np.int64)):
        previous = max(int(k), previous + 1)
        bins[i] = previous
    if bins[-1] > k_hi:
        raise InputError(
            f"multisine: {n_tones} tones do not fit on distinct FFT bins between bins "
            f"{k_lo} and {k_hi}; use fewer tones or a longer period"
        )
    return bins


def _crest_db(x: np.ndarray) -> float:
    return 20 * math.log10(np.max(np.abs(x)) / math.sqrt(np.mean(x**2)))


def multisine(
    sample_rate: float = 48000,
    n_samples: int = 32768,
    f_lo: float = 20.0,
    f_hi: float = 20000.0,
    n_tones: int = 64,
    phases: str = "random",
    seed: int = 0,
    level_dbfs: float = -6.0,
    spacing: str = "log",
    periods: int = 1,
) -> Stimulus:
    """Equal-amplitude multisine with every tone on an exact FFT bin of an ``n_samples``
    period (frequency k·fs/n_samples), so one period analyses without leakage.

    ``phases``: "random" (uniform, from ``seed``), "schroeder" (φ_k = −π·k(k−1)/K, Schroeder,
    IEEE T-IT 16(1), 1970) or "low-crest" (Schroeder start, then iterative clipping with
    amplitude restoration, Van der Ouderaa, Schoukens & Renneboog, IEEE T-IM 37(2), 1988).
    Tones are log- or linearly spaced between ``f_lo`` and ``f_hi``; the peak is scaled to
    ``level_dbfs``. Crest-factor reduction works on linear grids (tones share a common
    spacing, so phases can shape the envelope: ~6 dB vs ~10 dB random for 64 tones); on
    sparse log grids the tones behave as incommensurate and every phase set gives ~10–12 dB.
    The period repeats ``periods`` times (segments ``period_k``; discard the first period
    when measuring a system's steady-state response).
    """
    rate = _check_rate(sample_rate, "multisine")
    n_samples = int(n_samples)
    if n_samples < 16:
        raise InputError(f"multisine: n_samples must be >= 16, got {n_samples}")
    if phases not in _PHASE_KINDS:
        raise InputError(f"multisine: phases must be one of {_PHASE_KINDS}, got {phases!r}")
    if int(n_tones) < 1 or int(periods) < 1:
        raise InputError("multisine: n_tones and periods must be >= 1")
    n_tones, periods = int(n_tones), int(periods)
    f_lo = _below_nyquist(f_lo, rate, "multisine f_lo")
    f_hi = _below_nyquist(f_hi, rate, "multisine f_hi")
    k_lo = max(1, math.ceil(f_lo * n_samples / rate))
    k_hi = min(math.floor(f_hi * n_samples / rate), (n_samples - 1) // 2)
    if k_hi < k_lo:
        raise InputError(f"multisine: no FFT bin between {f_lo} and {f_hi} Hz at this period")
    bins = _tone_bins(k_lo, k_hi, n_tones, spacing)
    index = np.arange(1, n_tones + 1)
    if phases == "random":
        phi = np.random.default_rng(seed).uniform(0.0, 2 * np.pi, n_tones)
    else:
        phi = -np.pi * index * (index - 1) / n_tones
    spectrum = np.zeros(n_samples // 2 + 1, dtype=complex)
    spectrum[bins] = np.exp(1j * phi)
    x = sfft.irfft(spectrum, n_samples)
    if phases == "low-crest":
        best, best_crest = x, _crest_db(x)
        for _ in range(_LOW_CREST_ITERATIONS):
            limit = _LOW_CREST_CLIP_RMS * math.sqrt(np.mean(x**2))
            clipped = sfft.rfft(np.clip(x, -limit, limit))
            spectrum = np.zeros_like(spectrum)
            spectrum[bins] = np.exp(1j * np.angle(clipped[bins]))
            x = sfft.irfft(spectrum, n_samples)
            crest = _crest_db(x)
            if crest < best_crest:
                best, best_crest = x, crest
        x = best
    x = x * (_amplitude(level_dbfs, "multisine level_dbfs") / np.max(np.abs(x)))
    return Stimulus(
        f"multisine_{phases}",
        np.tile(x, periods),
        rate,
        {f"period_{p}": (p * n_samples, (p + 1) * n_samples) for p in range(periods)},
        {
            "kind": "multisine",
            "phases": phases,
            "seed": int(seed),
            "spacing": spacing,
            "level_dbfs": float(level_dbfs),
            "period_samples": n_samples,
            "bins": [int(k) for k in bins],
            "frequencies_hz": [float(k * rate / n_samples) for k in bins],
            "crest_factor_db": _crest_db(x),
        },
    )


# --------------------------------------------------------------------------------------
# Level-stepped sine
# --------------------------------------------------------------------------------------

#: 0 dBFS down to −39 dBFS in 3 dB steps, ascending (the 3 dB grid that contains 0 dBFS).
DEFAULT_STEP_LEVELS_DBFS = tuple(float(v) for v in range(-39, 1, 3))


def level_stepped_sine(
    sample_rate: float = 48000,
    f0: float = 1000.0,
    levels_dbfs: tuple[float, ...] = DEFAULT_STEP_LEVELS_DBFS,
    step_s: float = 0.5,
    settle_s: float = 0.1,
    ramp_s: float = 0.005,
) -> Stimulus:
    """A phase-continuous sine whose peak level steps through ``levels_dbfs`` (AES17-style
    level sweep for THD-vs-level and harmonic balance).

    Each step lasts ``step_s``; the amplitude moves to the new level over a ``ramp_s``
    raised-cosine ramp at the start of the step (no click), and the first ``settle_s`` of
    each step is excluded from its segment so a system's transient has died away. Segments
    ``level_{L:g}dBFS`` (e.g. ``level_-39dBFS``, ``level_0dBFS``) hold the settled parts;
    the signal ends with a ``ramp_s`` fade-out.
    """
    rate = _check_rate(sample_rate, "level_stepped_sine")
    f0 = _below_nyquist(f0, rate, "level_stepped_sine f0")
    levels = [float(v) for v in levels_dbfs]
    if not levels:
        raise InputError("level_stepped_sine: levels_dbfs is empty")
    names = [f"level_{v:g}dBFS" for v in levels]
    if len(set(names)) != len(names):
        raise InputError(f"level_stepped_sine: repeated levels in {levels}")
    amps = [_amplitude(v, "level_stepped_sine levels_dbfs") for v in levels]
    n_step = _samples(step_s, rate, "level_stepped_sine step_s")
    n_settle = _samples(settle_s, rate, "level_stepped_sine settle_s", minimum=0)
    n_ramp = _samples(ramp_s, rate, "level_stepped_sine ramp_s", minimum=1)
    if not n_ramp <= n_settle < n_step:
        raise InputError("level_stepped_sine: need ramp_s <= settle_s < step_s")
    envelope = np.empty(n_step * len(levels) + n_ramp)
    ramp = _fade(n_ramp)
    previous = 0.0
    segments = {}
    for i, (name, a) in enumerate(zip(names, amps, strict=True)):
        start = i * n_step
        envelope[start : start + n_step] = a
        envelope[start : start + n_ramp] = previous + (a - previous) * ramp
        segments[name] = (start + n_settle, start + n_step)
        previous = a
    envelope[-n_ramp:] = previous * ramp[::-1]
    x = envelope * np.sin(2 * np.pi * f0 * np.arange(envelope.size) / rate)
    return Stimulus(
        "level_stepped_sine",
        x,
        rate,
        segments,
        {
            "kind": "level_stepped_sine",
            "f0_hz": f0,
            "levels_dbfs": levels,
            "segment_names": names,
            "step_s": n_step / rate,
            "settle_s": n_settle / rate,
        },
    )


# --------------------------------------------------------------------------------------
# Two-tone (IMD) stimuli
# --------------------------------------------------------------------------------------

#: standard -> (f1 Hz, f2 Hz, amplitude ratio a1:a2, analysis method for metrics.distortion.imd)
TWO_TONE_STANDARDS = {
    # SMPTE RP120 (also DIN 45403's 60 Hz variant): low tone 4x the high tone.
    "smpte": (60.0, 7000.0, 4.0, "smpte"),
    # DIN 45403 / IEC 60268-3 modulation method with 250 Hz + 8 kHz, 4:1.
    "din": (250.0, 8000.0, 4.0, "smpte"),
    # CCIF / ITU-R twin tone, difference-frequency method (IEC 60268-3), 1:1.
    "ccif": (19000.0, 20000.0, 1.0, "ccif"),
    # Guitar band, SMPTE method: the open A string (110 Hz) modulating a 1.3 kHz tone (near
    # E6, the top of the fretboard). 1300/110 is not an integer, so the sidebands
    # f2 ± n·f1 stay >= 20 Hz away from the low tone's own harmonics.
    "guitar": (110.0, 1300.0, 4.0, "smpte"),
}


def two_tone(
    sample_rate: float = 48000,
    standard: str = "smpte",
    level_dbfs: float = -6.0,
    duration_s: float = 1.0,
    settle_s: float = 0.1,
    fade_s: float = 0.01,
) -> Stimulus:
    """Two-tone intermodulation stimulus per ``TWO_TONE_STANDARDS`` ("smpte", "din", "ccif",
    "guitar"). Both tones start in cosine phase, so the composite peak equals ``level_dbfs``
    (a1 + a2 = peak; 4:1 → a1 = 0.8·peak, a2 = 0.2·peak). Segment ``steady`` excludes the
    first ``settle_s`` and the final ``fade_s`` fade-out. ``meta["imd_method"]`` says which
    ``harness.metrics.distortion.imd`` method analyses it.
    """
    rate = _check_rate(sample_rate, "two_tone")
    if standard not in TWO_TONE_STANDARDS:
        raise InputError(
            f"two_tone: standard must be one of {sorted(TWO_TONE_STANDARDS)}, got {standard!r}"
        )
    f1, f2, ratio, method = TWO_TONE_STANDARDS[standard]
    top = 2 * f2 - f1 if method == "ccif" else f2 + f1
    _below_nyquist(top, rate, f"two_tone {standard}: highest product {top:g} Hz")
    n = _samples(duration_s, rate, "two_tone duration_s")
    n_settle = _samples(settle_s, rate, "two_tone settle_s", minimum=0)
    n_fade = _samples(fade_s, rate, "two_tone fade_s", minimum=0)
    if n_settle + 2 * n_fade >= n:
        raise InputError("two_tone: settle and fades leave no steady part")
    peak = _amplitude(level_dbfs, "two_tone level_dbfs")
    a1, a2 = peak * ratio / (ratio + 1), peak / (ratio + 1)
    t = np.arange(n) / rate
    x = a1 * np.cos(2 * np.pi * f1 * t) + a2 * np.cos(2 * np.pi * f2 * t)
    if n_fade:
        x[:n_fade] *= _fade(n_fade)
        x[n - n_fade :] *= _fade(n_fade)[::-1]
    return Stimulus(
        f"two_tone_{standard}",
        x,
        rate,
        {"steady": (max(n_settle, n_fade), n - n_fade)},
        {
            "kind": "two_tone",
            "standard": standard,
            "imd_method": method,
            "f1_hz": f1,
            "f2_hz": f2,
            "amplitude_ratio": ratio,
            "a1_volts": a1,
            "a2_volts": a2,
            "level_dbfs": float(level_dbfs),
        },
    )


# --------------------------------------------------------------------------------------
# Karplus-Strong plucks and DI phrases
# --------------------------------------------------------------------------------------


def _karplus_strong(
    rate: float,
    f0: float,
    n: int,
    velocity: float,
    rng: np.random.Generator,
    *,
    t60_s: float,
    pick_position: float,
) -> np.ndarray:
    """One plucked string, ``n`` samples, peak not normalized.

    Extended Karplus–Strong (Jaffe & Smith 1983): loop = z^-N · g·(1 + z^-1)/2 · A(z) with a
    first-order all-pass A(z) = (c + z^-1)/(1 + c·z^-1) tuning the fractional loop delay
    (total N + 0.5 + d samples = fs/f0, d in [0.1, 1.1)); g sets the fundamental's 60 dB
    decay to ``t60_s``. The excitation is one period of seeded white noise, lowpassed by
    velocity (softer = darker, 500 Hz at 0 to 8 kHz at 1) and combed by the pick position
    (fraction of the string from the bridge). Computed block-wise, one loop period at a time.
    """
    period = rate / f0
    N = int(math.floor(period - 0.6))
    d = period - N - 0.5
    c = (1.0 - d) / (1.0 + d)
    g = 10.0 ** (-3.0 / (f0 * t60_s))
    excitation = rng.uniform(-1.0, 1.0, N)
    m = max(1, int(round(pick_position * N)))
    excitation = excitation - np.concatenate([np.zeros(m), excitation[:-m]])
    fc = 500.0 * 16.0**velocity
    pole = math.exp(-2 * math.pi * fc / rate)
    excitation = sps.lfilter([1.0 - pole], [1.0, -pole], excitation) * velocity
    x = np.zeros(n)
    x[: min(N, n)] = excitation[: min(N, n)]
    drive = x.copy()
    drive[1:] += c * x[:-1]  # (1 + c z^-1) X
    pad = N + 2
    y = np.zeros(n + pad)
    previous = 0.0
    for start in range(0, n, N):
        end = min(start + N, n)
        idx = np.arange(start, end) + pad
        rhs = drive[start:end] + 0.5 * g * (
            c * y[idx - N] + (1.0 + c) * y[idx - N - 1] + y[idx - N - 2]
        )
        block, _ = sps.lfilter([1.0], [1.0, c], rhs, zi=[-c * previous])
        y[start + pad : end + pad] = block
        previous = block[-1]
    return y[pad:]


def _pickup_body(x: np.ndarray, rate: float) -> np.ndarray:
    """Magnetic pickup + body: a 2nd-order resonant lowpass at 3.5 kHz, Q 2 (pickup inductance
    against cable capacitance), a +3 dB, Q 1 body peak at 110 Hz (RBJ cookbook peaking EQ)
    and a 1st-order 30 Hz high-pass (no DC at the jack). Bilinear transform at ``rate``."""
    w0 = 2 * math.pi * 3500.0
    b, a = sps.bilinear([w0**2], [1.0, w0 / 2.0, w0**2], rate)
    y = sps.lfilter(b, a, x)
    gain, f_body, q = 10 ** (3.0 / 40.0), 110.0, 1.0
    w = 2 * math.pi * f_body / rate
    alpha = math.sin(w) / (2 * q)
    bp = [1 + alpha * gain, -2 * math.cos(w), 1 - alpha * gain]
    ap = [1 + alpha / gain, -2 * math.cos(w), 1 - alpha / gain]
    y = sps.lfilter(bp, ap, y)
    bh, ah = sps.butter(1, 30.0, "highpass", fs=rate)
    return sps.lfilter(bh, ah, y)


def _comb_pickup(x: np.ndarray, rate: float, f0: float, position: float) -> np.ndarray:
    """Pickup-position comb 1 − z^-M, M = position·(fs/f0): notches harmonics 1/position."""
    m = max(1, int(round(position * rate / f0)))
    y = x.copy()
    y[m:] -= x[:-m]
    return y


#: Standard tuning's open strings (E2 A2 D3 G3 B3 E4) as MIDI note numbers.
OPEN_STRINGS_MIDI = (40, 45, 50, 55, 59, 64)


def _render_note(
    rate: float, midi: float, n: int, velocity: float, rng, *, release: int
) -> np.ndarray:
    f0 = _midi_hz(midi)
    # Higher strings ring shorter: T60 4 s at E2 falling as (82 Hz / f0)^0.5.
    t60 = 4.0 * math.sqrt(_midi_hz(40) / f0)
    y = _karplus_strong(rate, f0, n, velocity, rng, t60_s=t60, pick_position=0.13)
    y = _comb_pickup(y, rate, f0, 0.2)
    if release:
        y[n - release :] *= _fade(release)[::-1]
    return y


def plucks(
    sample_rate: float = 48000,
    notes: tuple[float, ...] = OPEN_STRINGS_MIDI,
    velocities: tuple[float, ...] | None = None,
    note_s: float = 1.0,
    level_dbfs: float = -12.0,
    seed: int = 0,
) -> Stimulus:
    """Plucked-string notes one after another (MIDI ``notes``; default the open strings).

    Each note is an extended Karplus–Strong string (see ``_karplus_strong``) through a
    pickup-position comb and the pickup/body filter, ``note_s`` long with a 20 ms damping
    fade at its end. ``velocities`` in (0, 1] scale level and brightness (default: seeded
    uniform 0.4..1.0). The loudest peak is scaled to ``level_dbfs``; relative velocities are
    kept. Segments ``note_k`` (onset to the next onset); ``meta["notes"]`` lists MIDI number,
    f0 (Hz) and velocity per note.
    """
    rate = _check_rate(sample_rate, "plucks")
    notes = [float(m) for m in notes]
    if not notes:
        raise InputError("plucks: notes is empty")
    rng = np.random.default_rng(seed)
    if velocities is None:
        velocities = rng.uniform(0.4, 1.0, len(notes))
    velocities = [float(v) for v in velocities]
    if len(velocities) != len(notes) or not all(0 < v <= 1 for v in velocities):
        raise InputError("plucks: need one velocity in (0, 1] per note")
    n_note = _samples(note_s, rate, "plucks note_s", minimum=int(0.05 * rate))
    release = int(0.02 * rate)
    parts, segments, info = [], {}, []
    for k, (midi, velocity) in enumerate(zip(notes, velocities, strict=True)):
        _below_nyquist(_midi_hz(midi), rate, f"plucks note {midi}")
        parts.append(_render_note(rate, midi, n_note, velocity, rng, release=release))
        segments[f"note_{k}"] = (k * n_note, (k + 1) * n_note)
        info.append({"midi": midi, "f0_hz": _midi_hz(midi), "velocity": velocity})
    x = _pickup_body(np.concatenate(parts), rate)
    x *= _amplitude(level_dbfs, "plucks level_dbfs") / np.max(np.abs(x))
    return Stimulus(
        "plucks",
        x,
        rate,
        segments,
        {"kind": "plucks", "seed": int(seed), "level_dbfs": float(level_dbfs), "notes": info},
    )


#: Chord shapes (MIDI notes, low to high) and the E-minor pentatonic riff scale.
_CHORDS = {
    "E5": (40, 47, 52),
    "A5": (45, 52, 57),
    "D5": (50, 57, 62),
    "G": (43, 47, 50, 55, 59, 67),
    "Em": (40, 47, 52, 55, 59, 64),
    "C": (48, 52, 55, 60, 64),
}
_PENTATONIC = (40, 43, 45, 47, 50, 52, 55, 57, 59, 62, 64, 67)


def di_phrase(
    sample_rate: float = 48000,
    seed: int = 0,
    duration_s: float = 8.0,
    level_dbfs: float = -10.0,
    tempo_bpm: float = 110.0,
) -> Stimulus:
    """A deterministic guitar-like DI phrase: strummed chords and single-note runs.

    Bars of four beats at ``tempo_bpm``; each half-bar is, by the seeded choice, a chord
    (strings strummed 12 ms apart, downstroke low-to-high, ringing a half bar) or four
    eighth-note single notes from the E-minor pentatonic. Notes are Karplus–Strong strings
    through the pickup/body filter. The phrase peak is ``level_dbfs``; realistic DI levels
    are about −20..−6 dBFS peak (0.1..0.5 V from a passive pickup), default −10 dBFS.
    Segments ``chord_k`` / ``note_k`` run from an event's onset to the next one;
    ``meta["events"]`` lists onsets (samples), MIDI notes and velocities.
    """
    rate = _check_rate(sample_rate, "di_phrase")
    n = _samples(duration_s, rate, "di_phrase duration_s", minimum=int(0.5 * rate))
    if not math.isfinite(tempo_bpm) or tempo_bpm <= 0:
        raise InputError(f"di_phrase: tempo_bpm must be > 0, got {tempo_bpm!r}")
    rng = np.random.default_rng(seed)
    eighth = int(round(30.0 / tempo_bpm * rate))
    strum = int(round(0.012 * rate))
    release = int(0.03 * rate)
    events = []  # (onset, kind, notes, velocity, ring samples)
    onset = 0
    chord_names = sorted(_CHORDS)
    while onset < n:
        if rng.random() < 0.5:
            chord = _CHORDS[chord_names[rng.integers(len(chord_names))]]
            events.append((onset, "chord", chord, float(rng.uniform(0.6, 1.0)), 4 * eighth))
        else:
            for j in range(4):
                note = _PENTATONIC[rng.integers(len(_PENTATONIC))]
                events.append(
                    (onset + j * eighth, "note", (note,), float(rng.uniform(0.4, 0.9)), eighth)
                )
        onset += 4 * eighth
    events = [e for e in events if e[0] < n]
    x = np.zeros(n + 4 * eighth + 6 * strum)
    segments, info = {}, []
    for k, (start, kind, chord, velocity, ring) in enumerate(events):
        for i, midi in enumerate(chord):
            begin = start + i * strum
            length = ring + release - i * strum
            tone = _render_note(rate, midi, length, velocity * (1 - 0.05 * i), rng, release=release)
            x[begin : begin + length] += tone
        end = events[k + 1][0] if k + 1 < len(events) else n
        segments[f"{kind}_{k}"] = (start, end)
        info.append({"onset": start, "kind": kind, "midi": list(chord), "velocity": velocity})
    x = x[:n]
    x[n - release :] *= _fade(release)[::-1]
    x = _pickup_body(x, rate)
    x *= _amplitude(level_dbfs, "di_phrase level_dbfs") / np.max(np.abs(x))
    return Stimulus(
        "di_phrase",
        x,
        rate,
        segments,
        {
            "kind": "di_phrase",
            "seed": int(seed),
            "level_dbfs": float(level_dbfs),
            "tempo_bpm": float(tempo_bpm),
            "events": info,
        },
    )


# --------------------------------------------------------------------------------------
# Bursts for sag and recovery
# --------------------------------------------------------------------------------------


def bursts(
    sample_rate: float = 48000,
    n_bursts: int = 3,
    burst_s: float = 0.5,
    probe_s: float = 1.0,
    burst_level_dbfs: float = -6.0,
    probe_level_dbfs: float = -30.0,
    burst_hz: float = 110.0,
    probe_hz: float = 1000.0,
    ramp_s: float = 0.002,
) -> Stimulus:
    """Loud tone bursts with quiet probe tones between, for supply sag and recovery.

    Layout: ``probe_0, burst_0, probe_1, ..., burst_{n-1}, probe_n``. Bursts are
    ``burst_hz`` sines at ``burst_level_dbfs`` peak (default 110 Hz at −6 dBFS = 0.5 V, a
    hard-strummed low string); probes are ``probe_hz`` at ``probe_level_dbfs`` (default 1 kHz
    at −30 dBFS, small-signal). Every tone has ``ramp_s`` raised-cosine edges. ``probe_0``
    is the undisturbed baseline; ``probe_k`` (k >= 1) shows the recovery after burst k−1.
    Segments ``burst_k`` / ``probe_k`` cover each tone including its ramps.
    """
    rate = _check_rate(sample_rate, "bursts")
    if int(n_bursts) < 1:
        raise InputError(f"bursts: n_bursts must be >= 1, got {n_bursts!r}")
    n_bursts = int(n_bursts)
    burst_hz = _below_nyquist(burst_hz, rate, "bursts burst_hz")
    probe_hz = _below_nyquist(probe_hz, rate, "bursts probe_hz")
    nb = _samples(burst_s, rate, "bursts burst_s")
    npr = _samples(probe_s, rate, "bursts probe_s")
    nr = _samples(ramp_s, rate, "bursts ramp_s", minimum=0)
    if 2 * nr >= min(nb, npr):
        raise InputError("bursts: ramps longer than a tone")
    a_burst = _amplitude(burst_level_dbfs, "bursts burst_level_dbfs")
    a_probe = _amplitude(probe_level_dbfs, "bursts probe_level_dbfs")

    def tone(n_tone: int, f: float, a: float) -> np.ndarray:
        y = a * np.sin(2 * np.pi * f * np.arange(n_tone) / rate)
        if nr:
            y[:nr] *= _fade(nr)
            y[n_tone - nr :] *= _fade(nr)[::-1]
        return y

    parts, segments, start = [], {}, 0
    for k in range(n_bursts + 1):
        parts.append(tone(npr, probe_hz, a_probe))
        segments[f"probe_{k}"] = (start, start + npr)
        start += npr
        if k < n_bursts:
            parts.append(tone(nb, burst_hz, a_burst))
            segments[f"burst_{k}"] = (start, start + nb)
            start += nb
    return Stimulus(
        "bursts",
        np.concatenate(parts),
        rate,
        segments,
        {
            "kind": "bursts",
            "n_bursts": n_bursts,
            "burst_hz": burst_hz,
            "probe_hz": probe_hz,
            "burst_level_dbfs": float(burst_level_dbfs),
            "probe_level_dbfs": float(probe_level_dbfs),
            "ramp_s": nr / rate,
        },
    )


# --------------------------------------------------------------------------------------
# Knob automation curves
# --------------------------------------------------------------------------------------

_KNOB_SHAPES = ("ramp", "triangle", "steps", "sine", "random")


def knob_sweep(
    sample_rate: float = 48000,
    duration_s: float = 4.0,
    shape: str = "triangle",
    lo: float = 0.0,
    hi: float = 1.0,
    n_steps: int = 8,
    rate_hz: float = 0.5,
    seed: int = 0,
) -> Stimulus:
    """A knob automation curve at ``sample_rate``: normalized knob positions in [0, 1] (not
    audio; write it next to the audio it automates).

    ``shape``: "ramp" (lo → hi), "triangle" (lo → hi → lo; segments ``rise``/``fall``),
    "steps" (``n_steps`` equal holds from lo to hi, a zipper-noise test; segments ``step_k``),
    "sine" (LFO at ``rate_hz`` starting at lo) or "random" (seeded values every 1/``rate_hz``
    s joined by raised-cosine glides).
    """
    rate = _check_rate(sample_rate, "knob_sweep")
    if shape not in _KNOB_SHAPES:
        raise InputError(f"knob_sweep: shape must be one of {_KNOB_SHAPES}, got {shape!r}")
    if not (0.0 <= lo <= 1.0 and 0.0 <= hi <= 1.0):
        raise InputError(f"knob_sweep: lo and hi must be in [0, 1], got {lo!r}, {hi!r}")
    n = _samples(duration_s, rate, "knob_sweep duration_s", minimum=2)
    t = np.arange(n) / rate
    if shape == "ramp":
        x = np.linspace(lo, hi, n)
        segments = {"ramp": (0, n)}
    elif shape == "triangle":
        half = n // 2
        x = np.concatenate(
            [np.linspace(lo, hi, half, endpoint=False), np.linspace(hi, lo, n - half)]
        )
        segments = {"rise": (0, half), "fall": (half, n)}
    elif shape == "steps":
        if int(n_steps) < 2 or int(n_steps) > n:
            raise InputError(f"knob_sweep: n_steps must be in [2, {n}], got {n_steps!r}")
        edges = np.linspace(0, n, int(n_steps) + 1).round().astype(int)
        values = np.linspace(lo, hi, int(n_steps))
        x = np.repeat(values, np.diff(edges))
        segments = {f"step_{k}": (int(edges[k]), int(edges[k + 1])) for k in range(int(n_steps))}
    else:
        if not math.isfinite(rate_hz) or rate_hz <= 0:
            raise InputError(f"knob_sweep: rate_hz must be > 0, got {rate_hz!r}")
        if shape == "sine":
            x = lo + (hi - lo) * (0.5 - 0.5 * np.cos(2 * np.pi * rate_hz * t))
        else:
            n_points = int(math.ceil(duration_s * rate_hz)) + 1
            points = np.random.default_rng(seed).uniform(min(lo, hi), max(lo, hi), n_points)
            position = t * rate_hz
            k = np.minimum(position.astype(int), n_points - 2)
            frac = 0.5 - 0.5 * np.cos(np.pi * (position - k))
            x = points[k] + (points[k + 1] - points[k]) * frac
        segments = {shape: (0, n)}
    return Stimulus(
        f"knob_sweep_{shape}",
        np.clip(x, 0.0, 1.0),
        rate,
        segments,
        {
            "kind": "automation",
            "shape": shape,
            "units": "normalized knob position, 0..1",
            "lo": float(lo),
            "hi": float(hi),
            "seed": int(seed),
        },
    )


# --------------------------------------------------------------------------------------
# The standard set and writing sets to disk
# --------------------------------------------------------------------------------------

#: Lowest sample rate the standard set supports (CCIF needs its 21 kHz product below Nyquist).
MIN_STANDARD_RATE = 44100


def standard_set(sample_rate: float = 48000) -> list[Stimulus]:
    """The lab's default battery (about 40 s at any rate >= 44.1 kHz): impulse, step,
    synchronized sweep 20 Hz–20 kHz, a random-phase log-spaced and a low-crest
    linearly spaced multisine (2 periods each), level-stepped 1 kHz
    sine (−39..0 dBFS), the four two-tone pairs, open-string plucks, sag bursts, a DI phrase
    and a triangle knob sweep."""
    rate = _check_rate(sample_rate, "standard_set")
    if rate < MIN_STANDARD_RATE:
        raise InputError(
            f"standard_set: sample rate must be >= {MIN_STANDARD_RATE} Hz, got {rate:g}"
        )
    period = 2 ** int(round(math.log2(rate * 0.34)))  # 16384 samples at 44.1/48 kHz
    return [
        impulse(rate, duration_s=0.5),
        step(rate, duration_s=0.5, position=int(round(0.05 * rate))),
        exp_sweep(rate, duration_s=3.0, tail_s=0.5),
        multisine(rate, n_samples=period, phases="random", periods=2),
        multisine(rate, n_samples=period, phases="low-crest", spacing="linear", periods=2),
        level_stepped_sine(rate, step_s=0.3, settle_s=0.1),
        *(two_tone(rate, standard=s) for s in TWO_TONE_STANDARDS),
        plucks(rate),
        bursts(rate),
        di_phrase(rate),
        knob_sweep(rate, duration_s=2.0),
    ]


#: Named stimulus sets for ``write_set`` (the CLI's ``--set``).
STIMULUS_SETS = {"standard": standard_set}


def write_set(set_name: str, output_dir: str | Path, sample_rate: float = 48000) -> list[Path]:
    """Write stimulus set ``set_name`` into ``output_dir`` (created if missing).

    For each stimulus: ``<name>.wav`` (32-bit float, mono) and ``<name>.json`` (name, sample
    rate, length, segments, meta, the WAV's SHA-256, the generating set and lab version).
    Re-running with the same arguments rewrites identical bytes. Returns the paths written,
    WAV then JSON for each stimulus in set order.
    """
    if set_name not in STIMULUS_SETS:
        raise InputError(
            f"write_set: unknown set {set_name!r}; known sets: {sorted(STIMULUS_SETS)}"
        )
    rate = _check_rate(sample_rate, "write_set")
    if rate != round(rate):
        raise InputError(f"write_set: WAV needs an integer sample rate, got {sample_rate!r}")
    out = Path(output_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"{out}: cannot create output directory ({exc.strerror})") from exc
    written: list[Path] = []
    for stim in STIMULUS_SETS[set_name](rate):
        wav = write_wav(out / f"{stim.name}.wav", stim.signal, int(rate), subtype="FLOAT")
        sidecar = {
            "name": stim.name,
            "set": set_name,
            "wav": wav.name,
            "subtype": "FLOAT",
            "sha256": hashlib.sha256(wav.read_bytes()).hexdigest(),
            "sample_rate": int(rate),
            "n_samples": int(stim.signal.size),
            "duration_s": stim.duration_s,
            "segments": {k: list(v) for k, v in stim.segments.items()},
            "meta": plain(stim.meta, "stimulus meta"),
            "generator": f"harness.stimuli.{STIMULUS_SETS[set_name].__name__}",
            "harness_version": __version__,
        }
        json_path = out / f"{stim.name}.json"
        json_path.write_text(json.dumps(sidecar, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        written += [wav, json_path]
    return written


__all__ = [
    "Stimulus",
    "bursts",
    "di_phrase",
    "exp_sweep",
    "impulse",
    "inverse_filter",
    "inverse_spectrum",
    "knob_sweep",
    "level_stepped_sine",
    "multisine",
    "plucks",
    "sine",
    "standard_set",
    "step",
    "two_tone",
    "write_set",
]
