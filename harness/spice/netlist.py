"""Netlist templates -> ngspice decks.

A template (``fixtures/spice/<cell>/netlist.cir``) is ngspice syntax with ``${name}``
placeholders for the cell's parameters (SI units: ohm, F, V, A, s). ngspice's own ``{expr}``
and ``.param`` stay untouched, so derived values (pot halves, model constants) are written
in ngspice terms inside the template. The harness adds, around the rendered body:

* the stimulus source on node ``drive`` (``DRIVE_NODE``): an XSPICE ``filesource`` reading
  the oversampled stimulus for a transient (linear interpolation between its points), or
  ``Vstim drive 0 DC 0`` for a DC operating point;
* ``.ic`` lines, ``.options``, ``.save``, the analysis and ``.end`` (see ``ngspice.Session``).

Numbers are written with ``repr(float)`` (shortest round-trip form), so a parameter set
renders to the same text, and so the same sha256, on every run.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from harness.errors import LabError

#: The node every template's input network hangs on; the harness drives it (V, 0 dBFS = 1 V).
DRIVE_NODE = "drive"

#: Name the stored (hashed) netlists give the stimulus file; runs use a temporary path.
STIMULUS_FILE_NAME = "stimulus.txt"

_PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")
_NAME = re.compile(r"[a-z_][a-z0-9_]*\Z")


def probe_vector(probe: str) -> tuple[str, str]:
    """A probe (a node name, voltage in V; or ``i(source)``, the branch current in A of a
    voltage source) as its ``.save`` expression and the name of the vector ngspice returns."""
    probe = probe.lower()
    if probe.startswith("i(") and probe.endswith(")"):
        return probe, f"{probe[2:-1]}#branch"
    return f"v({probe})", probe


def format_value(value: float) -> str:
    """A parameter value as ngspice text: the shortest string that round-trips the float."""
    return repr(float(value))


def placeholders(template: str) -> set[str]:
    """The parameter names a template uses."""
    return set(_PLACEHOLDER.findall(template))


def check_template(template: str, parameters: Mapping[str, object], where: str) -> None:
    """Raise ``LabError`` naming ``where`` if the template uses a malformed or unknown
    placeholder, or does not connect to the drive node."""
    for name in sorted(placeholders(template)):
        if not _NAME.match(name):
            raise LabError(f"{where}: malformed placeholder ${{{name}}} (use ${{lower_case_name}})")
        if name not in parameters:
            raise LabError(f"{where}: placeholder ${{{name}}} is not a parameter of the cell spec")
    if not re.search(rf"(?im)^[^*].*\b{DRIVE_NODE}\b", template):
        raise LabError(
            f"{where}: the template never connects to node '{DRIVE_NODE}', "
            "which the harness drives with the stimulus"
        )


def render(template: str, params: Mapping[str, float]) -> str:
    """Substitute every ``${name}`` with ``format_value(params[name])``."""
    return _PLACEHOLDER.sub(lambda m: format_value(params[m.group(1)]), template)


def filesource_lines(path: str) -> list[str]:
    """XSPICE filesource on node ``drive``: volts vs seconds from ``path`` (two columns),
    linearly interpolated between points (``amplstep=false``), absolute time."""
    return [
        f"a_stim %v([{DRIVE_NODE}]) stim_src",
        f'.model stim_src filesource (file="{path}" amploffset=[0] amplscale=[1] '
        "timeoffset=0 timescale=1 timerelative=false amplstep=false)",
    ]


def dc_source_line() -> str:
    """The drive node held at 0 V, for DC operating points."""
    return f"Vstim {DRIVE_NODE} 0 DC 0"


def ic_lines(node_voltages: Mapping[str, float]) -> list[str]:
    """``.ic`` lines (node -> V); without ``uic`` ngspice holds these nodes during the
    initial operating point and releases them at t = 0."""
    if not node_voltages:
        return []
    return [
        ".ic " + " ".join(f"v({n})={format_value(v)}" for n, v in sorted(node_voltages.items()))
    ]


def deck_body(title: str, rendered: str, source_lines: list[str], ics: Mapping[str, float]) -> str:
    """Title line, the rendered template, the stimulus source and ``.ic`` lines."""
    return "\n".join(
        [
            f"* {title}",
            rendered.rstrip(),
            "* --- harness: stimulus source ---",
            *source_lines,
            *ic_lines(ics),
        ]
    )
