"""Shared fixtures for the learned-cell tests: the golden artifacts committed under
golden/cells/ and a small SPICE dataset built once per session."""

from pathlib import Path

import pytest

GOLDEN_CELLS = Path(__file__).resolve().parents[2] / "golden" / "cells"


def golden_artifacts() -> list[Path]:
    return sorted(p.parent for p in GOLDEN_CELLS.glob("*/model.greybound.json"))


def pytest_generate_tests(metafunc):
    """Tests taking ``golden_cell`` run once per committed golden artifact directory."""
    if "golden_cell" in metafunc.fixturenames:
        metafunc.parametrize("golden_cell", golden_artifacts(), ids=lambda p: p.name)


@pytest.fixture
def golden_cell_count() -> int:
    return len(golden_artifacts())


REPO = Path(__file__).resolve().parents[2]


def _source_key() -> str:
    """Hash of everything a dataset's bytes depend on: cell specs, netlists, SPICE and
    stimulus code. A cached dataset is reused only while this is unchanged."""
    import hashlib

    h = hashlib.sha256()
    files = sorted((REPO / "fixtures" / "spice").rglob("*")) + sorted(
        (REPO / "harness" / "spice").glob("*.py")
    )
    for f in [*files, REPO / "harness" / "stimuli.py", REPO / "harness" / "datasets.py"]:
        if f.is_file():
            h.update(f.read_bytes())
    return h.hexdigest()[:16]


@pytest.fixture(scope="session")
def default_dataset() -> Path:
    """The common-cathode SPICE dataset at the ``default`` size (manifest path), built once
    and cached under .greybound/test-cache keyed by its sources; a file lock keeps
    pytest-xdist workers from building it twice."""
    import fcntl

    from harness.spice.dataset import build_dataset

    cache = REPO / ".greybound" / "test-cache" / f"common-cathode-12ax7-default-{_source_key()}"
    cache.parent.mkdir(parents=True, exist_ok=True)
    manifest = cache / "common-cathode-12ax7.dataset.json"
    with open(cache.parent / "datasets.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not manifest.is_file():
            build_dataset("common-cathode-12ax7", cache, jobs=2, size="default", progress=False)
    return manifest


@pytest.fixture(scope="session")
def smoke_dataset(tmp_path_factory) -> Path:
    """The common-cathode SPICE dataset at the ``smoke`` size (manifest path)."""
    from harness.spice.dataset import build_dataset

    out = tmp_path_factory.mktemp("dataset")
    result = build_dataset("common-cathode-12ax7", out, jobs=1, size="smoke", progress=False)
    return result.manifest
