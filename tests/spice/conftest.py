"""Shared fixtures of the SPICE suite: a smoke-size common-cathode dataset built once."""

import pytest


@pytest.fixture(scope="session")
def cc_smoke_dataset(tmp_path_factory):
    """``spice-dataset --fixture common-cathode-12ax7 --size smoke`` (2 cases) in this process."""
    from harness.spice import build_dataset

    out = tmp_path_factory.mktemp("cc-smoke")
    return build_dataset("common-cathode-12ax7", out, jobs=1, size="smoke", progress=False)
