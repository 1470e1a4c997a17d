"""The whole rig inside the runtime (harness.runtime.Rig / greybound_core::rig::Rig): the
same output as the stage-by-stage chain, bit for bit, with no allocation in process and
live parameters routed to their stages."""

import json5
import numpy as np
import pytest

from harness.rigs import RIGS_DIR, RigChain, load_rig
from harness.runtime import Rig
from harness.stimuli import di_phrase

FS = 48000
ROOT = RIGS_DIR.parent.parent


@pytest.fixture(scope="module")
def phrase():
    return np.asarray(di_phrase(FS, duration_s=1.0).signal, dtype=np.float32)


@pytest.mark.acceptance
@pytest.mark.parametrize("channel", ["normal", "top_boost", "hot"])
def test_runtime_rig_renders_bit_identically_to_the_stage_chain(phrase, channel):
    chain = RigChain(
        load_rig(RIGS_DIR / "nox30.rig.json5"), {"volume": 7.0, "treble": 3.0}, channel
    )
    native = chain.native()
    np.testing.assert_array_equal(native.process(phrase), chain.process(phrase))
    assert native.latency_samples == chain.latency_samples
    assert native.tail_samples == chain.tail_samples


def test_runtime_rig_includes_the_cab(tmp_path, phrase):
    raw = json5.loads((RIGS_DIR / "nox30.rig.json5").read_text())
    raw["cab_ir"] = str(ROOT / "fixtures/cabs/synthetic-2x12-open.wav")
    path = tmp_path / "nox30-cab.rig.json5"
    path.write_text(json5.dumps(raw))
    chain = RigChain(load_rig(path))
    np.testing.assert_array_equal(chain.native().process(phrase), chain.process(phrase))


@pytest.mark.acceptance
def test_runtime_rig_does_not_allocate_in_process(phrase):
    native = RigChain(load_rig(RIGS_DIR / "nox30.rig.json5"), {"volume": 10.0}, "hot").native()
    assert native.allocations_during_process(phrase) == 0


def test_live_parameters_reach_their_stage(phrase):
    """Treble moved mid-render on the runtime rig equals the same move on the chain's stage."""
    rig = load_rig(RIGS_DIR / "nox30.rig.json5")
    tone = [s.name for s in rig.stages].index("tone")
    chain = RigChain(rig)
    native = chain.native()
    half = phrase.size // 2
    a = [chain.process(phrase[:half])]
    b = [native.process(phrase[:half])]
    chain.stages[tone].set_param("treble", 0.9)
    native.set_param(tone, "treble", 0.9)
    a.append(chain.process(phrase[half:]))
    b.append(native.process(phrase[half:]))
    np.testing.assert_array_equal(np.concatenate(b), np.concatenate(a))
    assert not np.array_equal(np.concatenate(b), RigChain(rig).native().process(phrase))


def test_bad_addresses_are_named():
    native = Rig([("tone_stack", {}, 1)], FS)
    with pytest.raises(ValueError, match="no stage 3"):
        native.set_param(3, "treble", 0.5)
    with pytest.raises(ValueError, match="cannot change while running"):
        native.set_param(0, "voicing", 0.5)
    with pytest.raises(ValueError, match="unknown stage kind"):
        Rig([("fuzz", {}, 1)], FS)
