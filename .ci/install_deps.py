"""Install the project's pinned Python dependencies (and chosen extras) into the running venv.

Reads them from ``pyproject.toml`` so the pins live in one place; the package itself is
built afterwards by ``maturin develop``. Usage: ``python .ci/install_deps.py dev,spice``.
"""

import subprocess
import sys
import tomllib
from pathlib import Path

project = tomllib.loads(Path("pyproject.toml").read_text())["project"]
requirements = list(project["dependencies"])
for extra in filter(None, (sys.argv[1] if len(sys.argv) > 1 else "").split(",")):
    requirements += project["optional-dependencies"][extra]
subprocess.run([sys.executable, "-m", "pip", "install", "-q", *requirements], check=True)
