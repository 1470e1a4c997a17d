"""One ngspice session per process: Debian's ``libngspice`` in shared-library mode, driven
through PySpice 1.5's ``NgSpiceShared``; convergence retries with relaxed solver options.

PySpice 1.5 knows ngspice up to version 34 and logs ``Unsupported Ngspice version 39`` (a
WARNING on logger ``PySpice.Spice.NgSpice.Shared.NgSpiceShared``) when it meets Debian's
ngspice-39. The warning only means PySpice falls back to its newest table of ngspice vector
types; ngspice-39 uses the same ``simulation_types`` enum (time, voltage, current, ...) for
the vectors we read, so :func:`session` filters exactly that message out. We read plain
vector values (time in s, node voltages in V, source branch currents in A) and the tests
check them against independent solutions (``tests/spice/test_physics.py``), so nothing
relies on PySpice's unit tables. ngspice's own console output is captured per run (it ends
up in failure reports) instead of being echoed through PySpice's logger.

Thread safety: ngspice keeps one global circuit database per loaded library, so every use
of the session takes :data:`_LOCK`. Processes each load their own copy (the local process
pool and Dask worker processes); threads (a Dask ``LocalCluster(processes=False)``) queue.
"""

from __future__ import annotations

import ctypes
import logging
import re
import threading
from dataclasses import dataclass, field

import numpy as np

from harness.errors import LabError

#: The one-line fix printed when the shared library cannot be loaded.
MISSING_LIBRARY_FIX = (
    "install it with `sudo apt-get install libngspice0-dev` (Debian/Ubuntu; `make system-deps` "
    "does this) or point NGSPICE_LIBRARY_PATH at your libngspice.so"
)

_PYSPICE_LOGGER = "PySpice.Spice.NgSpice.Shared.NgSpiceShared"
_LOCK = threading.RLock()
_SESSION: Session | None = None


class SimulationFailed(LabError):
    """ngspice did not finish an analysis with any of the solver option sets tried."""

    def __init__(self, message: str, attempts: list[Attempt]):
        super().__init__(message)
        self.attempts = attempts


@dataclass(frozen=True)
class SolverOptions:
    """One named set of ngspice ``.options`` (SPICE tolerances: reltol relative, vntol in V,
    abstol in A, gmin in S; itl1/itl4 are DC / per-timepoint Newton iteration limits)."""

    name: str
    options: tuple[tuple[str, str], ...]
    why: str

    def line(self) -> str:
        return ".options " + " ".join(f"{k}={v}" for k, v in self.options)

    def as_dict(self) -> dict:
        return {"name": self.name, "options": dict(self.options), "why": self.why}


#: Tried in order until one completes. The first is the accuracy the datasets are made with;
#: a case that needed a later one records its name (``solver`` in the manifest).
SOLVER_LADDER: tuple[SolverOptions, ...] = (
    SolverOptions(
        "strict",
        (
            ("method", "trap"),
            ("reltol", "1e-4"),
            ("vntol", "1e-7"),
            ("abstol", "1e-12"),
            ("itl1", "200"),
            ("itl4", "50"),
        ),
        "10x tighter than ngspice's defaults in reltol/vntol so -60 dBFS (1 mV) signals keep "
        "1e-4 relative accuracy; trapezoidal rule (no numerical damping in the audio band)",
    ),
    SolverOptions(
        "gmin-source-stepping",
        (
            ("method", "gear"),
            ("maxord", "2"),
            ("reltol", "1e-4"),
            ("vntol", "1e-7"),
            ("abstol", "1e-12"),
            ("gmin", "1e-10"),
            ("gminsteps", "100"),
            ("srcsteps", "100"),
            ("itl1", "1000"),
            ("itl4", "200"),
        ),
        "operating point by gmin stepping then source stepping (100 steps each), 1e-10 S "
        "minimum junction conductance, Gear-2 integration (damps trapezoidal ringing)",
    ),
    SolverOptions(
        "relaxed-reltol",
        (
            ("method", "gear"),
            ("maxord", "2"),
            ("reltol", "1e-3"),
            ("vntol", "1e-6"),
            ("abstol", "1e-9"),
            ("chgtol", "1e-13"),
            ("gmin", "1e-9"),
            ("gminsteps", "200"),
            ("srcsteps", "200"),
            ("itl1", "2000"),
            ("itl4", "500"),
        ),
        "ngspice's default tolerances (reltol 1e-3, vntol 1 uV, abstol 1 nA) with 1e-9 S gmin "
        "and 5-10x the Newton iteration limits",
    ),
)


def solver_options(name: str) -> SolverOptions:
    """The ladder entry called ``name``."""
    for options in SOLVER_LADDER:
        if options.name == name:
            return options
    raise KeyError(name)


@dataclass
class Attempt:
    """One try of one analysis: which option set, whether it completed, and why not."""

    solver: str
    ok: bool
    message: str = ""

    def as_dict(self) -> dict:
        return {"solver": self.solver, "ok": self.ok, "message": self.message}


@dataclass
class Result:
    """Vectors of one completed analysis: name (lower-case ngspice name, e.g. ``time``,
    ``out``, ``vmeas#branch``) -> float64 array; ``solver`` is the option set that made it."""

    vectors: dict[str, np.ndarray]
    solver: str
    attempts: list[Attempt] = field(default_factory=list)


class _VersionWarningFilter(logging.Filter):
    """Drops PySpice's ``Unsupported Ngspice version N`` warning (see the module docstring)
    and PySpice's echo of ngspice's console, which :class:`Session` captures itself."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.getMessage().startswith("Unsupported Ngspice version"):
            return False
        return record.funcName != "_send_char"


def _shared_class():
    from PySpice.Spice.NgSpice.Shared import NgSpiceShared

    class _Shared(NgSpiceShared):
        """Captures ngspice's console lines instead of printing them."""

        def __init__(self, *args, **kwargs):
            self.console: list[str] = []
            super().__init__(*args, **kwargs)

        def send_char(self, message, ngspice_id):
            self.console.append(message)
            return 0

    return _Shared


def library_path() -> str:
    """The libngspice file PySpice will ``dlopen`` (``NGSPICE_LIBRARY_PATH`` or the default)."""
    from PySpice.Spice.NgSpice.Shared import NgSpiceShared

    return NgSpiceShared.LIBRARY_PATH.format("")


def session() -> Session:
    """The process's ngspice session, created on first use. Raises ``LabError`` with the
    one-line fix when the shared library is missing."""
    global _SESSION
    with _LOCK:
        if _SESSION is None:
            _SESSION = Session(library_path())
        return _SESSION


class Session:
    """A loaded ngspice: run decks (netlist text ending before ``.end``) with retries."""

    def __init__(self, path: str):
        try:
            ctypes.CDLL(path)
        except OSError as exc:
            raise LabError(
                f"ngspice shared library not found ({exc}); {MISSING_LIBRARY_FIX}"
            ) from None
        logging.getLogger(_PYSPICE_LOGGER).addFilter(_VersionWarningFilter())
        self._ng = _shared_class()(ngspice_id=0, send_data=False)
        self.version = self._version_text()

    def _version_text(self) -> str:
        text = self._ng.exec_command("version -f")
        name = re.search(r"\*\* (ngspice-[\w.+-]+)", text)
        date = re.search(r"Creation Date: (.+)", text)
        parts = [name.group(1) if name else f"ngspice-{self._ng.ngspice_version}"]
        if date:
            parts.append(f"(built {date.group(1).strip()})")
        return " ".join(parts)

    def run(
        self,
        body: str,
        analysis: str,
        saves: list[str],
        stop_time: float | None = None,
        ladder: tuple[SolverOptions, ...] = SOLVER_LADDER,
    ) -> Result:
        """Run ``analysis`` (``.op`` or ``.tran ...``) on the circuit ``body`` (title line
        first, no ``.end``), trying each option set of ``ladder`` until one completes.
        ``saves`` are the vectors to keep (``.save``); ``stop_time`` (s) marks a transient
        complete only when its time vector reaches it. Raises ``SimulationFailed``."""
        attempts: list[Attempt] = []
        with _LOCK:
            for options in ladder:
                deck = "\n".join(
                    [body, options.line(), ".save " + " ".join(saves), analysis, ".end"]
                )
                vectors, message = self._try(deck, stop_time)
                attempts.append(Attempt(options.name, vectors is not None, message))
                if vectors is not None:
                    return Result(vectors, options.name, attempts)
        tried = ", ".join(a.solver for a in attempts)
        raise SimulationFailed(
            f"ngspice did not complete the analysis with any solver options ({tried}): "
            f"{attempts[-1].message}",
            attempts,
        )

    def _try(self, deck: str, stop_time: float | None) -> tuple[dict | None, str]:
        from PySpice.Spice.NgSpice.Shared import NgSpiceCircuitError, NgSpiceCommandError

        ng = self._ng
        ng.console.clear()
        error = ""
        vectors = None
        try:
            ng.load_circuit(deck)
            ng.run()
        except (NgSpiceCommandError, NgSpiceCircuitError) as exc:
            error = str(exc)
        try:
            vectors = self._read_last_plot()
            if not vectors or (stop_time is not None and not _reaches(vectors, stop_time)):
                vectors = None
        finally:
            ng.exec_command("destroy all")
            ng.remove_circuit()
        if vectors is not None:
            return vectors, ""
        return None, _failure_text(ng.console, error)

    def _read_last_plot(self) -> dict[str, np.ndarray]:
        ng = self._ng
        name = ng.last_plot
        if name == "const":
            return {}
        plot = ng.plot(None, name)
        return {
            key.lower(): np.array(vec.to_waveform(to_real=True), dtype=np.float64)
            for key, vec in plot.items()
        }


def _reaches(vectors: dict[str, np.ndarray], stop_time: float) -> bool:
    time = vectors.get("time")
    return time is not None and time.size > 1 and time[-1] >= stop_time * (1.0 - 1e-9)


def _failure_text(console: list[str], error: str) -> str:
    """The last few error-looking ngspice console lines, joined on one line."""
    lines = [line.partition(" ")[2].strip() for line in console if line.startswith("stderr")]
    lines = [line for line in lines if line and not line.startswith("Warning: Unsupported")]
    tail = "; ".join(lines[-4:])
    return tail or error or "analysis did not complete"


def pyspice_version() -> str:
    import PySpice

    return f"PySpice {PySpice.__version__}"
