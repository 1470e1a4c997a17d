"""Reference TMB tone stack: Yeh & Smith's closed-form third-order H(s) (DAFx 2006), an
independent complex nodal solve of the same network, and time-domain renders.

Component naming follows Yeh & Smith: R1 treble pot, R2 bass pot, R3 middle pot, R4 slope
resistor, C1 treble cap, C2 bass cap, C3 middle cap; knobs t, m, l ∈ [0, 1].
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import signal

from harness.reference.transient import Capacitor, NodalCircuit


@dataclass(frozen=True)
class Components:
    r1: float
    r2: float
    r3: float
    r4: float
    c1: float
    c2: float
    c3: float
    has_middle: bool = True


VOICINGS = {
    "fender": Components(250e3, 1e6, 25e3, 56e3, 250e-12, 20e-9, 20e-9),
    "marshall": Components(220e3, 1e6, 22e3, 33e3, 470e-12, 22e-9, 22e-9),
    "vox": Components(1e6, 1e6, 10e3, 100e3, 50e-12, 22e-9, 22e-9, has_middle=False),
}

#: Smallest pot segment (Ω), as in the runtime: an end stop is a 1 Ω short, not 0 Ω.
MIN_POT_OHMS = 1.0


def _knobs(voicing: str, treble: float, middle: float, bass: float):
    c = VOICINGS[voicing]
    return c, treble, (middle if c.has_middle else 1.0), bass


def yeh_smith_coefficients(voicing="fender", treble=0.5, middle=0.5, bass=0.5):
    """(b, a) of H(s) = (b1·s + b2·s² + b3·s³)/(1 + a1·s + a2·s² + a3·s³), highest power
    first as scipy expects: b = [b3, b2, b1, 0], a = [a3, a2, a1, 1]."""
    c, t, m, l = _knobs(voicing, treble, middle, bass)
    r1, r2, r3, r4, c1, c2, c3 = c.r1, c.r2, c.r3, c.r4, c.c1, c.c2, c.c3
    b1 = t * c1 * r1 + m * c3 * r3 + l * (c1 * r2 + c2 * r2) + (c1 * r3 + c2 * r3)
    b2 = (
        t * (c1 * c2 * r1 * r4 + c1 * c3 * r1 * r4)
        - m * m * (c1 * c3 * r3 * r3 + c2 * c3 * r3 * r3)
        + m * (c1 * c3 * r1 * r3 + c1 * c3 * r3 * r3 + c2 * c3 * r3 * r3)
        + l * (c1 * c2 * r1 * r2 + c1 * c2 * r2 * r4 + c1 * c3 * r2 * r4)
        + l * m * (c1 * c3 * r2 * r3 + c2 * c3 * r2 * r3)
        + (c1 * c2 * r1 * r3 + c1 * c2 * r3 * r4 + c1 * c3 * r3 * r4)
    )
    k = c1 * c2 * c3
    b3 = (
        l * m * (k * r1 * r2 * r3 + k * r2 * r3 * r4)
        - m * m * (k * r1 * r3 * r3 + k * r3 * r3 * r4)
        + m * (k * r1 * r3 * r3 + k * r3 * r3 * r4)
        + t * k * r1 * r3 * r4
        - t * m * k * r1 * r3 * r4
        + t * l * k * r1 * r2 * r4
    )
    a1 = (c1 * r1 + c1 * r3 + c2 * r3 + c2 * r4 + c3 * r4) + m * c3 * r3 + l * (c1 * r2 + c2 * r2)
    a2 = (
        m * (c1 * c3 * r1 * r3 - c2 * c3 * r3 * r4 + c1 * c3 * r3 * r3 + c2 * c3 * r3 * r3)
        + l * m * (c1 * c3 * r2 * r3 + c2 * c3 * r2 * r3)
        - m * m * (c1 * c3 * r3 * r3 + c2 * c3 * r3 * r3)
        + l * (c1 * c2 * r2 * r4 + c1 * c2 * r1 * r2 + c1 * c3 * r2 * r4 + c2 * c3 * r2 * r4)
        + (c1 * c2 * r1 * r4 + c1 * c3 * r1 * r4 + c1 * c2 * r3 * r4
           + c1 * c2 * r1 * r3 + c1 * c3 * r3 * r4 + c2 * c3 * r3 * r4)
    )  # fmt: skip
    a3 = (
        l * m * (k * r1 * r2 * r3 + k * r2 * r3 * r4)
        - m * m * (k * r1 * r3 * r3 + k * r3 * r3 * r4)
        + m * (k * r3 * r3 * r4 + k * r1 * r3 * r3 - k * r1 * r3 * r4)
        + l * k * r1 * r2 * r4
        + k * r1 * r3 * r4
    )
    return np.array([b3, b2, b1, 0.0]), np.array([a3, a2, a1, 1.0])


def analytic_response(freqs_hz, **knobs) -> np.ndarray:
    """Complex H(j·2πf) of Yeh & Smith's closed form (ideal source, no load)."""
    b, a = yeh_smith_coefficients(**knobs)
    s = 2j * np.pi * np.asarray(freqs_hz, float)
    return np.polyval(b, s) / np.polyval(a, s)


def bilinear_response(freqs_hz, sample_rate: float, **knobs) -> np.ndarray:
    """Exact response of the bilinear-transformed closed form at ``sample_rate`` (Hz):
    H(s) at the warped frequency s = j·2fs·tan(πf/fs)."""
    b, a = yeh_smith_coefficients(**knobs)
    s = 2j * sample_rate * np.tan(np.pi * np.asarray(freqs_hz, float) / sample_rate)
    return np.polyval(b, s) / np.polyval(a, s)


def _elements(voicing, treble, middle, bass, source_impedance, load_impedance):
    """(resistors, capacitors) as (node, node, value); 'VIN' is the ideal source node."""
    c, t, m, l = _knobs(voicing, treble, middle, bass)
    pot = lambda frac, r: max(frac * r, MIN_POT_OHMS)  # noqa: E731
    inp = "IN" if source_impedance > 0 else "VIN"
    res = [
        ("T1", "OUT", pot(1 - t, c.r1)), ("OUT", "T2", pot(t, c.r1)), (inp, "S", c.r4),
        ("T2", "M", pot(l, c.r2)),
    ]  # fmt: skip
    # The middle pot: its ends are the bass pot's foot (M) and ground, C3 goes to its wiper
    # (W). Without a middle pot (Vox) M is W, tied to ground through the fixed R3.
    wiper = "W" if c.has_middle else "M"
    if c.has_middle:
        res.append(("M", "W", pot(1 - m, c.r3)))
    res.append((wiper, None, pot(m, c.r3)))
    if source_impedance > 0:
        res.append(("VIN", "IN", source_impedance))
    if math.isfinite(load_impedance):
        res.append(("OUT", None, load_impedance))
    caps = [(inp, "T1", c.c1), ("S", "T2", c.c2), ("S", wiper, c.c3)]
    nodes = ["T1", "OUT", "T2", "S", "M"] + (["W"] if c.has_middle else [])
    nodes += ["IN"] if source_impedance > 0 else []
    return nodes, res, caps


def nodal_response(
    freqs_hz,
    voicing="fender",
    treble=0.5,
    middle=0.5,
    bass=0.5,
    source_impedance=0.0,
    load_impedance=math.inf,
) -> np.ndarray:
    """Complex response V(OUT)/V(VIN) by solving the network's admittance matrix at each
    frequency — independent of the closed form; includes source and load impedance."""
    nodes, res, caps = _elements(voicing, treble, middle, bass, source_impedance, load_impedance)
    idx = {n: i for i, n in enumerate(nodes)}
    out = np.empty(len(np.atleast_1d(freqs_hz)), complex)
    for k, f in enumerate(np.atleast_1d(freqs_hz)):
        y = np.zeros((len(nodes), len(nodes)), complex)
        rhs = np.zeros(len(nodes), complex)
        elems = [(a, b, 1 / r) for a, b, r in res] + [
            (a, b, 2j * np.pi * f * c) for a, b, c in caps
        ]
        for a, b, g in elems:
            for x, z in ((a, b), (b, a)):
                if x in idx:
                    y[idx[x], idx[x]] += g
                    if z in idx:
                        y[idx[x], idx[z]] -= g
                    elif z == "VIN":
                        rhs[idx[x]] += g
        out[k] = np.linalg.solve(y, rhs)[idx["OUT"]]
    return out


def simulate(
    x: np.ndarray,
    sample_rate: float,
    voicing="fender",
    treble=0.5,
    middle=0.5,
    bass=0.5,
    source_impedance=0.0,
    load_impedance=math.inf,
) -> np.ndarray:
    """Time-domain render (V). Ideal source and no load: Yeh & Smith's H(s) through
    ``scipy.signal.bilinear`` and ``lfilter``. Otherwise: the hand-written nodal equations
    of the loaded network, trapezoidal, solved per sample."""
    knobs = dict(voicing=voicing, treble=treble, middle=middle, bass=bass)
    if source_impedance == 0 and math.isinf(load_impedance):
        b, a = yeh_smith_coefficients(**knobs)
        bz, az = signal.bilinear(b, a, fs=sample_rate)
        return signal.lfilter(bz, az, np.asarray(x, float))
    nodes, res, caps = _elements(voicing, treble, middle, bass, source_impedance, load_impedance)

    def kcl(v, u, cap):
        volt = lambda n: u if n == "VIN" else (0.0 if n is None else v[n])  # noqa: E731
        leaving = {n: 0.0 for n in nodes}
        for a, b, r in res:
            i = (volt(a) - volt(b)) / r
            leaving[a] = leaving.get(a, 0.0) + i
            leaving[b] = leaving.get(b, 0.0) - i
        for k, (a, b, _) in enumerate(caps):
            i = cap(k, volt(a) - volt(b))
            leaving[a] = leaving.get(a, 0.0) + i
            leaving[b] = leaving.get(b, 0.0) - i
        return [leaving[n] for n in nodes]

    # Capacitor terminals on the ideal source node are handled inside kcl; the transient
    # engine only tracks voltages across each capacitor, taken from kcl's view via labels.
    circuit = NodalCircuit(nodes, [Capacitor(a, b, c) for a, b, c in caps], kcl, "OUT")
    return circuit.simulate(x, sample_rate, [0.0] * len(nodes))
