"""Shared fixtures for the NAM tests: the corpus of real ``.nam`` files, the excitation
signals, and the cases (file, slim value) the equivalence tests run.

The corpus lives outside the repository (``GREYBOUND_NAM_CORPUS``, default
``<repo root>/../shared/nam-corpus``; CI has it beside the checkout). When it is absent
every corpus test *fails* with a message saying where it looked — never a skip.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]

#: Environment variable naming the corpus directory.
CORPUS_ENV = "GREYBOUND_NAM_CORPUS"

#: Placeholder case when the corpus is missing: the fixture turns it into a failure.
MISSING = "<nam corpus missing>"


def corpus_dir() -> Path:
    """The corpus directory: ``$GREYBOUND_NAM_CORPUS`` or ``<repo root>/../shared/nam-corpus``."""
    env = os.environ.get(CORPUS_ENV)
    return Path(env) if env else REPO_ROOT.parent / "shared" / "nam-corpus"


def corpus_files() -> list[str]:
    """Every ``.nam`` file under the corpus, as sorted POSIX paths relative to it."""
    root = corpus_dir()
    if not root.is_dir():
        return []
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*.nam"))


def _slim_cases(root: Path, rel: str) -> list[float | None]:
    """Slim values to render a file at: None (full size) for every file; for a
    SlimmableContainer one value inside each submodel's range (its lower end: 0 for the
    first, the previous ``max_value`` for the others, which the C++ rule ``slim <
    max_value`` sends to the next submodel); for a slimmable WaveNet ``i/n`` for each of
    its ``n`` allowed channel counts."""
    doc = json.loads((root / rel).read_text())
    if doc.get("architecture") == "SlimmableContainer":
        maxima = [float(s["max_value"]) for s in doc["config"]["submodels"]]
        return [0.0, *maxima[:-1]]
    cases: list[float | None] = [None]
    if doc.get("architecture") == "WaveNet":
        for layer in doc["config"]["layers"]:
            slim = layer.get("slimmable") or {}
            allowed = (slim.get("kwargs") or {}).get("allowed_channels")
            if allowed:
                n = len(allowed)
                cases += [i / n for i in range(n - 1)]
                break
    return cases


def corpus_cases() -> list[tuple[str, float | None]]:
    """(file, slim) pairs covering every corpus file and every slim choice it has."""
    root = corpus_dir()
    return [(rel, slim) for rel in corpus_files() for slim in _slim_cases(root, rel)]


def _case_id(case) -> str:
    rel, slim = case if isinstance(case, tuple) else (case, None)
    return rel if slim is None else f"{rel}@slim={slim:g}"


def pytest_generate_tests(metafunc):
    if "corpus_file" in metafunc.fixturenames:
        metafunc.parametrize("corpus_file", corpus_files() or [MISSING], indirect=True)
    if "corpus_case" in metafunc.fixturenames:
        cases = corpus_cases() or [(MISSING, None)]
        metafunc.parametrize("corpus_case", cases, indirect=True, ids=[_case_id(c) for c in cases])


def _require_corpus() -> Path:
    root = corpus_dir()
    if not root.is_dir():
        pytest.fail(
            f"NAM corpus not found at {root}: set {CORPUS_ENV} to the directory holding the "
            "shared .nam files (CI has it at ../shared/nam-corpus beside the checkout)",
            pytrace=False,
        )
    if not corpus_files():
        pytest.fail(f"NAM corpus at {root} holds no .nam files", pytrace=False)
    return root


@pytest.fixture(scope="session")
def nam_corpus() -> Path:
    """The corpus directory (the test fails when it is missing)."""
    return _require_corpus()


@pytest.fixture
def corpus_file(request) -> Path:
    """One corpus ``.nam`` file (parametrized over all of them)."""
    root = _require_corpus()
    return root / request.param


@pytest.fixture
def corpus_case(request) -> tuple[Path, float | None]:
    """One (corpus file, slim value) pair (parametrized over all of them)."""
    rel, slim = request.param
    root = _require_corpus()
    return root / rel, slim


def _excitation(corpus: Path, seconds_each: float) -> np.ndarray:
    """Varied input at 48 kHz, full-scale units, four pieces of about ``seconds_each``
    back to back (the joins are steps the models must stream through too): the corpus
    ``input.wav`` around its onset (1 s of silence, then a 220 Hz sine at 0.5 peak; a
    quarter of silence here), a seeded DI phrase at −20 dBFS, another at −3 dBFS (drives
    the models into their nonlinearity), and a 20 Hz–20 kHz exponential sweep at −12 dBFS."""
    from harness.audio import read_wav
    from harness.stimuli import di_phrase, exp_sweep

    n = int(round(seconds_each * 48000))
    wav, rate = read_wav(corpus / "input.wav")
    assert rate == 48000, f"{corpus / 'input.wav'}: expected 48 kHz, got {rate} Hz"
    phrase_s = max(0.5, seconds_each)
    quiet = di_phrase(seed=3, duration_s=phrase_s, level_dbfs=-20.0).signal[:n]
    loud = di_phrase(seed=4, duration_s=phrase_s, level_dbfs=-3.0).signal[:n]
    fade = min(0.01, seconds_each / 10)
    sweep = exp_sweep(duration_s=seconds_each, level_dbfs=-12.0, fade_in_s=fade,
                      fade_out_s=fade, tail_s=0.0).signal  # fmt: skip
    onset = int(np.flatnonzero(wav)[0])
    tone = wav[onset - n // 4 : onset - n // 4 + n]
    return np.concatenate([tone, quiet, loud, sweep]).astype(np.float32)


@pytest.fixture(scope="session")
def excitation(nam_corpus) -> np.ndarray:
    """About 0.8 s of varied input (0.15 s pieces; the sweep's synchronized length comes out
    at 0.35 s; see ``_excitation``): the default tests' signal, short because the official
    package renders the A1/A2 standard models slowly."""
    return _excitation(nam_corpus, 0.15)


@pytest.fixture(scope="session")
def long_excitation(nam_corpus) -> np.ndarray:
    """About 4 s of varied input (4 × 1 s): the slow tests' signal."""
    return _excitation(nam_corpus, 1.0)
