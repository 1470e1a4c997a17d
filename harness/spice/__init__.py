"""SPICE references for small circuit cells: ngspice (shared library, through PySpice) runs
of the netlist templates under ``fixtures/spice/<cell>/``.

Modules: ``cell`` (cell specs), ``netlist`` (templates -> decks), ``ngspice`` (the session,
retries), ``audio_rate`` (oversampling, grid, anti-alias decimation), ``transient``
(stimulus -> traces), ``operating_point`` (DC / periodic operating points, small signal),
``cell_run`` (``spice-run``), ``plan`` (dataset cases and splits), ``dataset``
(``spice-dataset``), ``report`` (dataset Markdown report), ``golden`` (``spice-golden``),
``compare`` (runtime stages vs SPICE datasets).

The CLI commands call :func:`run` (``spice-run``), :func:`build_dataset`
(``spice-dataset``) and :func:`write_goldens` / :func:`check_golden` (``spice-golden``).
"""

from harness.spice.cell_run import run
from harness.spice.dataset import build_dataset
from harness.spice.golden import check_golden, write_goldens

__all__ = ["build_dataset", "check_golden", "run", "write_goldens"]
