"""Test signals with known answers, shared by the metrics tests."""

import numpy as np

FS = 48000


def band_limited_noise(n: int, seed: int, f_max: float = 0.45) -> np.ndarray:
    """Periodic (length-n circular) white noise band-limited to ``f_max``·fs, unit RMS.
    Circular fractional delays of it (``circular_delay``) are exact."""
    rng = np.random.default_rng(seed)
    k = np.arange(n // 2 + 1)
    spectrum = (rng.standard_normal(k.size) + 1j * rng.standard_normal(k.size)) * (k < f_max * n)
    spectrum[0] = 0.0
    x = np.fft.irfft(spectrum, n)
    return x / np.sqrt(np.mean(x * x))


def circular_delay(x: np.ndarray, delay: float) -> np.ndarray:
    """``x`` delayed by ``delay`` samples (may be fractional), circularly, in the frequency
    domain: exact for periodic band-limited signals."""
    n = x.size
    k = np.arange(n // 2 + 1)
    return np.fft.irfft(np.fft.rfft(x) * np.exp(-2j * np.pi * k * delay / n), n)


def sine(f_hz: float, seconds: float, amplitude: float = 1.0, phase: float = 0.0, rate: int = FS):
    t = np.arange(int(round(seconds * rate))) / rate
    return amplitude * np.cos(2 * np.pi * f_hz * t + phase)
