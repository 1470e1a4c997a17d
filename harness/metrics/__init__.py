"""Measurement library: pure functions of arrays and a sample rate (Hz), returning numbers
or frozen dataclasses with units in their names and docstrings.

Modules: ``align`` (delay, polarity, gain), ``levels`` (RMS/peak/true-peak dBFS, crest
factor, BS.1770 loudness), ``spectral`` (STFT, multi-resolution STFT, log-mel, third-octave
residuals), ``distortion`` (THD/THD+N, harmonic balance, swept-sine harmonics, IMD),
``dynamics`` (envelopes, attack/decay, transient error, sag/recovery, pluck diagnostics),
``phase`` (H1 transfer function, group delay, phase deviation), ``aliasing``
(signal-to-aliasing ratio and a MIDI-range sweep), ``null`` (ESR, null residual) and
``monitor`` (render health from a monitor log).

Every public function validates its input first and raises ``harness.errors.InputError``
naming the function and argument for mismatched sample rates, empty or too-short signals,
NaN/Inf samples and frequencies at or above Nyquist.
"""

from harness.metrics import (
    aliasing,
    align,
    distortion,
    dynamics,
    levels,
    monitor,
    null,
    phase,
    spectral,
)

__all__ = [
    "align",
    "aliasing",
    "distortion",
    "dynamics",
    "levels",
    "monitor",
    "null",
    "phase",
    "spectral",
]
