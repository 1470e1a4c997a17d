"""Root pytest configuration: markers and the default selection.

Markers are registered here and the run uses ``--strict-markers`` (see ``pyproject``/``tox.ini``
addopts), so a misspelt marker is an error, not a silently unselected test.
"""

pytest_plugins = ["harness.pytest_plugin", "pytester"]

MARKERS = {
    "acceptance": "acceptance gates for fixtures, rigs, artifacts and NAM references",
    "golden": "compares against committed goldens under golden/",
    "spice": "needs ngspice (shared library) through PySpice",
    "train": "needs the PyTorch training stack",
    "bench": "speed/memory benchmarks (pytest-benchmark); run by `make bench`",
    "slow": "long cases; run by `make test-all`",
    "nam": "NAM capture loading, rendering and comparison",
}


def pytest_configure(config):
    for name, text in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {text}")
