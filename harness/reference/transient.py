"""A tiny per-sample transient engine for hand-written nodal equations.

A circuit supplies ``kcl(v, u, cap_current)``: the KCL residual at every unknown node for
node voltages ``v``, input ``u`` (V) and a function giving each capacitor's current for its
present voltage. Capacitors follow the trapezoidal rule, i(n) = (2C/T)(v(n) − v(n−1)) − i(n−1).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import root

#: Relative step tolerance of each sample's solve: far below float32 resolution (6e-8).
XTOL = 1e-13
#: Largest KCL residual accepted (A): 1 fA, a millionth of the smallest current that matters
#: here (nA grid currents), so a "no further progress" exit at round-off still counts.
MAX_RESIDUAL_A = 1e-15


@dataclass(frozen=True)
class Capacitor:
    """A capacitor between two node labels (``None`` = ground), in farads."""

    a: str | None
    b: str | None
    farads: float


@dataclass
class NodalCircuit:
    """Unknown node names, capacitors, a KCL residual and the output node."""

    nodes: Sequence[str]
    capacitors: Sequence[Capacitor]
    kcl: Callable[[dict[str, float], float, Callable[[int, float], float]], list[float]]
    output: str

    def _voltage(self, v: dict[str, float], name: str | None) -> float:
        return 0.0 if name is None else v[name]

    def _solve(self, u: float, guess: np.ndarray, cap_current) -> np.ndarray:
        def residual(x):
            v = dict(zip(self.nodes, map(float, x), strict=True))
            return self.kcl(v, u, lambda k, vc: cap_current(k, vc))

        sol = root(residual, guess, method="hybr", options={"xtol": XTOL, "maxfev": 20000})
        worst = float(np.max(np.abs(sol.fun)))
        if not worst <= MAX_RESIDUAL_A:
            raise RuntimeError(
                f"reference solve failed at u={u} V: residual {worst} A, {sol.message}"
            )
        return sol.x

    def dc(self, guess: Sequence[float]) -> np.ndarray:
        """DC operating point with the input at 0 V and capacitors open."""
        return self._solve(0.0, np.asarray(guess, float), lambda k, vc: 0.0)

    def simulate(self, x: np.ndarray, sample_rate: float, guess: Sequence[float]) -> np.ndarray:
        """Output voltage (V) for input ``x`` (V) at ``sample_rate`` (Hz), from DC rest."""
        t = 1.0 / sample_rate
        state = self.dc(guess)
        v = dict(zip(self.nodes, map(float, state), strict=True))
        v_prev = [self._voltage(v, c.a) - self._voltage(v, c.b) for c in self.capacitors]
        i_prev = [0.0] * len(self.capacitors)
        y = np.empty(len(x))
        for n, u in enumerate(np.asarray(x, float)):

            def cap_current(k, vc):
                g = 2.0 * self.capacitors[k].farads / t
                return g * (vc - v_prev[k]) - i_prev[k]

            state = self._solve(float(u), state, cap_current)
            v = dict(zip(self.nodes, map(float, state), strict=True))
            for k, c in enumerate(self.capacitors):
                vc = self._voltage(v, c.a) - self._voltage(v, c.b)
                i_prev[k] = cap_current(k, vc)
                v_prev[k] = vc
            y[n] = v[self.output]
        return y
