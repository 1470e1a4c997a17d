"""Device laws in plain numpy: Shockley diode, Koren triode (units: V, A)."""

from __future__ import annotations

import math

#: Boltzmann constant (J/K) and elementary charge (C), CODATA 2018 exact values.
BOLTZMANN = 1.380649e-23
ELEMENTARY_CHARGE = 1.602176634e-19
#: kT/q at 27 °C, SPICE's default temperature (V).
THERMAL_VOLTAGE_27C = BOLTZMANN * 300.15 / ELEMENTARY_CHARGE


def diode_current(v: float, i_s: float, n: float) -> float:
    """Shockley diode current (A) at junction voltage ``v`` (V)."""
    return i_s * math.expm1(v / (n * THERMAL_VOLTAGE_27C))


def koren_plate_current(
    vgk: float, vpk: float, mu=100.0, ex=1.4, kg1=1060.0, kp=600.0, kvb=300.0
) -> float:
    """Koren (1996) triode plate current (A); ngspice's pwr(x, y) = sgn(x)·|x|^y semantics."""
    a = kp * (1.0 / mu + vgk / math.sqrt(kvb + vpk * vpk))
    softplus = a if a > 30.0 else math.log1p(math.exp(a))
    e1 = vpk / kp * softplus
    sgn = float(e1 > 0) - float(e1 < 0)
    return math.copysign(abs(e1) ** ex, e1) / kg1 * (1 + sgn)


def koren_partials(vgk: float, vpk: float, h: float = 1e-6, **koren) -> tuple[float, float]:
    """Transconductance gm = ∂Ip/∂Vgk and plate conductance 1/rp = ∂Ip/∂Vpk (S), by central
    differences (step ``h`` V)."""
    gm = (
        koren_plate_current(vgk + h, vpk, **koren) - koren_plate_current(vgk - h, vpk, **koren)
    ) / (2 * h)
    gp = (
        koren_plate_current(vgk, vpk + h, **koren) - koren_plate_current(vgk, vpk - h, **koren)
    ) / (2 * h)
    return gm, gp
