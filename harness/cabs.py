"""Cabinet impulse responses: reading IR WAV files with a sample-rate check, and the lab's
synthetic 2×12 open-back cabinet IR (no downloaded IRs).

``read_ir(path, sample_rate)`` returns a mono float64 IR (V/V per sample) at the host rate.
A file at another rate is an ``InputError`` naming the file, unless ``resample=True``: then
it is converted with ``scipy.signal.resample_poly`` (polyphase FIR, Kaiser β = 5, ratio
reduced by the rates' GCD) and scaled by ``file_rate / sample_rate`` so that its frequency
response keeps its level (an IR is a sum over samples: twice the samples, twice the gain).
A multichannel file is an error unless ``channels`` says which one to use (``"left"``,
``"right"``, or ``"mean"`` of all channels). Empty, non-finite, silent or over-long IRs are
errors too.

``make_cab_ir(output, sample_rate)`` (CLI ``greybound-lab make-cab-ir``) writes the
synthetic cabinet (``synthesize_cab_ir``) as a 32-bit float WAV plus a JSON sidecar with
the recipe, the command and the WAV's SHA-256. The committed fixture is::

    greybound-lab make-cab-ir --output fixtures/cabs/synthetic-2x12-open.wav

Same recipe and rate → same bytes.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
from scipy import signal

from harness.errors import InputError

#: Where the lab's cabinet IRs live.
CABS_DIR = Path(__file__).resolve().parent.parent / "fixtures" / "cabs"
#: The committed synthetic cabinet.
SYNTHETIC_2X12_OPEN = CABS_DIR / "synthetic-2x12-open.wav"
#: Speed of sound in air at 20 °C (m/s), for the back-wall reflection delay.
SPEED_OF_SOUND = 343.0
CHANNEL_POLICIES = ("left", "right", "mean")


@dataclass(frozen=True)
class CabRecipe:
    """A physically motivated recipe for a mic'd 2×12 open-back guitar cabinet.

    Every section is minimum phase, so the cascade is too (up to the final truncation):

    * **Cone resonance** — the speaker's resonance (guitar 12" drivers: 75–110 Hz): a
      second-order high-pass at ``resonance_hz`` with quality ``resonance_q``. Q 2.5 (a
      peak at 95–100 Hz) is on the high side of real drivers (total Q ≈ 0.5–1.5 in a
      cab), chosen so that the peak stands clear of the open-back roll-off.
    * **Open-back cancellation** — below the baffle's dipole corner the back wave cancels
      the front wave: an extra first-order high-pass at ``open_back_hz`` (so 18 dB/octave
      below the resonance in total).
    * **Low-mid scoop** — a peaking cut of ``scoop_db`` at ``scoop_hz`` (Q ``scoop_q``), the
      hollow typical of an open back between the resonance and the midrange.
    * **Box and panel modes** — lightly damped peaks (``box_modes``: Hz, Q, dB). A peak of
      quality Q at f rings with time constant Q/(π·f); 60 dB takes 6.91·Q/(π·f), so the
      170 Hz / Q 10 mode gives the IR a ≈ 130 ms decaying tail (−88 dB re peak at
      100 ms, −110 dB at 150 ms).
    * **Cone break-up** — ``breakup_count`` peaks drawn from ``seed`` (numpy PCG64):
      frequencies uniform in ``breakup_band_hz``, gains uniform in ``breakup_db``, Q uniform
      in ``breakup_q`` — the cone's bending modes that give a guitar speaker its 2–4 kHz
      presence.
    * **Roll-off** — a Butterworth low-pass of order ``lowpass_order`` at ``lowpass_hz``
      (6·order dB/octave: the voice coil's inductance and cone mass end the band).
    * **Back-wall reflection** — the back wave reflects off a wall ``wall_distance_m``
      behind the cab and reaches the mic inverted, ≈ 2·d/c later: ``h[n] + g·h[n − D]`` with
      g = ``reflection_gain`` (|g| < 1, a minimum-phase comb).
    * ``duration_s`` long, the last ``fade_ms`` faded out with a half Hann window, then
      scaled so that the largest gain of the magnitude response is 0 dB (the cab never
      boosts any frequency).
    """

    seed: int = 2012
    duration_s: float = 0.2
    resonance_hz: float = 90.0
    resonance_q: float = 2.5
    open_back_hz: float = 50.0
    scoop_hz: float = 500.0
    scoop_db: float = -3.0
    scoop_q: float = 0.8
    box_modes: tuple[tuple[float, float, float], ...] = (
        (170.0, 10.0, 2.5),
        (260.0, 12.0, 2.0),
        (410.0, 14.0, 1.5),
    )
    breakup_count: int = 5
    breakup_band_hz: tuple[float, float] = (1800.0, 4200.0)
    breakup_db: tuple[float, float] = (1.5, 4.0)
    breakup_q: tuple[float, float] = (2.5, 6.0)
    lowpass_hz: float = 5500.0
    lowpass_order: int = 6
    wall_distance_m: float = 0.5
    reflection_gain: float = -0.3
    fade_ms: float = 20.0

    def breakup_peaks(self) -> list[tuple[float, float, float]]:
        """The seeded cone break-up peaks: (Hz, Q, dB), sorted by frequency."""
        rng = np.random.default_rng(self.seed)
        n = self.breakup_count
        freqs = rng.uniform(*self.breakup_band_hz, size=n)
        gains = rng.uniform(*self.breakup_db, size=n)
        qs = rng.uniform(*self.breakup_q, size=n)
        return sorted(
            (round(float(f), 3), round(float(q), 4), round(float(g), 4))
            for f, q, g in zip(freqs, qs, gains, strict=True)
        )


def _peaking(f0: float, q: float, gain_db: float, fs: float) -> np.ndarray:
    """RBJ Audio-EQ-Cookbook peaking biquad as one SOS row (minimum phase for any gain)."""
    a = 10.0 ** (gain_db / 40.0)
    w = 2.0 * math.pi * f0 / fs
    alpha = math.sin(w) / (2.0 * q)
    b = [1.0 + alpha * a, -2.0 * math.cos(w), 1.0 - alpha * a]
    den = [1.0 + alpha / a, -2.0 * math.cos(w), 1.0 - alpha / a]
    return np.array(b + den) / den[0]


def _highpass2(f0: float, q: float, fs: float) -> np.ndarray:
    """RBJ Audio-EQ-Cookbook second-order high-pass as one SOS row."""
    w = 2.0 * math.pi * f0 / fs
    alpha = math.sin(w) / (2.0 * q)
    c = math.cos(w)
    b = [(1.0 + c) / 2.0, -(1.0 + c), (1.0 + c) / 2.0]
    den = [1.0 + alpha, -2.0 * c, 1.0 - alpha]
    return np.array(b + den) / den[0]


def cab_sections(recipe: CabRecipe, sample_rate: float) -> np.ndarray:
    """The recipe's filter cascade as second-order sections (scipy ``sos``) at
    ``sample_rate`` Hz, excluding the back-wall comb."""
    fs = float(sample_rate)
    rows = [
        _highpass2(recipe.resonance_hz, recipe.resonance_q, fs),
        signal.butter(1, recipe.open_back_hz, "highpass", fs=fs, output="sos")[0],
        _peaking(recipe.scoop_hz, recipe.scoop_q, recipe.scoop_db, fs),
        *(_peaking(f, q, g, fs) for f, q, g in recipe.box_modes),
        *(_peaking(f, q, g, fs) for f, q, g in recipe.breakup_peaks()),
    ]
    lowpass = signal.butter(recipe.lowpass_order, recipe.lowpass_hz, fs=fs, output="sos")
    return np.vstack([np.array(rows), lowpass])


def synthesize_cab_ir(recipe: CabRecipe = CabRecipe(), sample_rate: float = 48000) -> np.ndarray:
    """The synthetic cabinet IR (float64, V/V per sample) at ``sample_rate`` Hz; see
    ``CabRecipe`` for the physics. Deterministic for a recipe and rate."""
    fs = float(sample_rate)
    n = int(round(recipe.duration_s * fs))
    impulse = np.zeros(n)
    impulse[0] = 1.0
    h = signal.sosfilt(cab_sections(recipe, fs), impulse)
    delay = int(round(2.0 * recipe.wall_distance_m / SPEED_OF_SOUND * fs))
    h[delay:] += recipe.reflection_gain * h[: n - delay]
    fade = int(round(recipe.fade_ms * 1e-3 * fs))
    h[n - fade :] *= 0.5 * (1.0 + np.cos(np.pi * np.arange(fade) / fade))
    peak_gain = np.max(np.abs(np.fft.rfft(h, 1 << 18)))
    return h / peak_gain


def make_cab_ir(
    output: str | Path = SYNTHETIC_2X12_OPEN,
    sample_rate: int = 48000,
    recipe: CabRecipe = CabRecipe(),
) -> dict:
    """Write the synthetic cabinet IR as a 32-bit float WAV at ``sample_rate`` Hz and a JSON
    sidecar (same name, ``.json``) with the recipe, the command and the WAV's SHA-256.
    Returns the sidecar's contents."""
    from harness.audio import write_wav

    output = Path(output)
    if output.suffix.lower() != ".wav":
        raise InputError(f"{output}: the cab IR must be written as a .wav file")
    output.parent.mkdir(parents=True, exist_ok=True)
    ir = synthesize_cab_ir(recipe, sample_rate)
    write_wav(output, ir.astype(np.float32), sample_rate)
    rate_arg = "" if sample_rate == 48000 else f" --sample-rate {sample_rate}"
    sidecar = {
        "kind": "synthetic cabinet impulse response",
        "command": f"greybound-lab make-cab-ir --output {output}{rate_arg}",
        "function": "harness.cabs.make_cab_ir",
        "sample_rate": int(sample_rate),
        "samples": int(ir.size),
        "format": "WAV, mono, 32-bit float",
        "recipe": asdict(recipe),
        "breakup_peaks_hz_q_db": recipe.breakup_peaks(),
        "sha256": hashlib.sha256(output.read_bytes()).hexdigest(),
    }
    output.with_suffix(".json").write_text(json.dumps(sidecar, indent=2, sort_keys=True) + "\n")
    return sidecar


def read_ir(
    path: str | Path,
    sample_rate: float,
    *,
    resample: bool = False,
    channels: str | None = None,
) -> np.ndarray:
    """Read an IR WAV as a 1-D float64 array at ``sample_rate`` Hz (see the module doc for
    the rate and channel policies). Every error is an ``InputError`` naming the file."""
    from harness.audio import read_wav
    from harness.runtime import MAX_IR_SAMPLES

    path = Path(path)
    if channels is not None and channels not in CHANNEL_POLICIES:
        raise InputError(f"{path}: channels={channels!r}: must be one of left, right, mean")
    data, rate = read_wav(path, allow_multichannel=True)
    if data.ndim == 2:
        if channels is None:
            raise InputError(
                f"{path}: has {data.shape[1]} channels; a cab IR is mono — say which to use "
                "(channels='left', 'right' or 'mean')"
            )
        data = data.mean(axis=1) if channels == "mean" else data[:, 0 if channels == "left" else 1]
    if not np.any(data):
        raise InputError(f"{path}: the IR is silent (every sample is 0)")
    if rate != sample_rate:
        if not resample:
            raise InputError(
                f"{path}: the IR is at {rate} Hz, the host runs at {sample_rate:g} Hz "
                "(pass resample=True / --resample to convert it with scipy.signal.resample_poly)"
            )
        target = int(round(sample_rate))
        if target != sample_rate:
            raise InputError(f"{path}: cannot resample to a non-integer rate {sample_rate!r} Hz")
        ratio = Fraction(target, rate)
        data = signal.resample_poly(data, ratio.numerator, ratio.denominator) * (rate / target)
    if data.size > MAX_IR_SAMPLES:
        raise InputError(
            f"{path}: the IR has {data.size} samples at {sample_rate:g} Hz, more than the "
            f"runtime's maximum of {MAX_IR_SAMPLES}"
        )
    return np.ascontiguousarray(data, dtype=np.float64)


def load_ir_convolver(
    path: str | Path, sample_rate: float, *, resample: bool = False, channels: str | None = None
):
    """A ``harness.runtime.IrConvolver`` for the IR file at ``path`` (``read_ir`` checks)."""
    from harness.runtime import IrConvolver

    return IrConvolver(read_ir(path, sample_rate, resample=resample, channels=channels),
                       sample_rate)  # fmt: skip
