"""Acceptance: each runtime stage, rendered now, reproduces its committed golden.

One test per golden and check (``stages/tone_stack-esr_db[sweep]``, ...), judged by
``gate.check`` with the thresholds and reasons of ``fixtures/gates/stages.json5``; a golden's
``-consistent`` test fails on stale inputs or a changed layout, and a registered stage
without a committed golden fails with the command that makes it.
"""

import functools

import pytest

from harness import golden
from harness.gates import load_suite
from harness.golden import GoldenError
from harness.report import plot_golden_check

pytestmark = [pytest.mark.acceptance, pytest.mark.golden]

GROUP = "stages"


def _cases():
    for producer in golden.REGISTRY.producers(GROUP):
        try:
            committed = golden.load_golden(producer.name)
        except GoldenError:
            yield pytest.param(producer.name, "committed", id=f"{producer.name}-committed")
            continue
        yield pytest.param(producer.name, "consistent", id=f"{producer.name}-consistent")
        checks = [f"esr_db[{s}]" for s in sorted(committed.data.audio)]
        checks += [f"delta_{m}" for m in sorted(committed.data.metrics)]
        for metric in checks:
            yield pytest.param(producer.name, metric, id=f"{producer.name}-{metric}")


@functools.cache
def _compare(name: str):
    """Render once per process; the comparison of that render with the committed golden."""
    (producer,) = [p for p in golden.REGISTRY.producers(GROUP) if p.name == name]
    committed = golden.load_golden(name)
    fresh = producer.run()
    return producer, fresh, committed, golden.compare(producer, fresh, committed, load_suite(GROUP))


@pytest.mark.parametrize("name, check", list(_cases()))
def test_stage_golden(name, check, gate):
    if check == "committed":
        golden.load_golden(name)  # raises GoldenError naming the command that makes it
    producer, fresh, committed, comparison = _compare(name)
    if check == "consistent":
        assert not comparison.problems, f"{name}: " + "; ".join(comparison.problems)
        return
    (result,) = [c for c in comparison.checks if c.metric == check]
    gate.suite, gate.fixture, gate.model = GROUP, name, producer.model

    def draw(path):
        plot_golden_check(check, fresh, committed.data, path)

    gate.check(result.metric, result.value, result.threshold, plot=draw)
