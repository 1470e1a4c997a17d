"""``harness.nam.load``: what a ``.nam`` file declares, strict errors naming file and key,
and the runtime rules (pure and deterministic renders, block-size invariance, no
allocation while processing, exact vs fast tanh). No official package needed here."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from harness import nam
from harness.errors import InputError
from harness.runtime import NamRenderer, allocation_probe_works

pytestmark = pytest.mark.nam


def _doc(path: Path) -> dict:
    return json.loads(path.read_text())


def test_corpus_file_declares_what_its_json_says(corpus_file):
    doc = _doc(corpus_file)
    model = nam.load(corpus_file)
    assert model.path == corpus_file
    assert model.architecture == doc["architecture"]
    assert model.version == doc["version"]
    assert model.metadata == doc.get("metadata", {})
    assert model.sample_rate_declared == ("sample_rate" in doc)
    assert model.sample_rate == float(doc.get("sample_rate", 48000.0))
    assert model.receptive_field >= 1
    if doc["architecture"] == "SlimmableContainer":
        assert model.slim_values == [s["max_value"] for s in doc["config"]["submodels"]]
        assert model.submodel == len(doc["config"]["submodels"]) - 1  # full size by default
    else:
        assert model.slim_values == []
        assert model.submodel is None
    described = model.describe()
    assert json.loads(json.dumps(described)) == described  # JSON-safe


def test_files_without_sample_rate_are_read_as_48k(nam_corpus):
    model = nam.load(nam_corpus / "wavenet_a1_standard.nam")
    assert (model.sample_rate, model.sample_rate_declared) == (48000.0, False)


def test_wavenet_receptive_field_is_one_plus_dilated_history(nam_corpus):
    """A1 standard: two arrays of kernel 3, dilations 1..512: 1 + 2·2·1023 = 4093 samples."""
    assert nam.load(nam_corpus / "wavenet_a1_standard.nam").receptive_field == 4093
    assert nam.load(nam_corpus / "lstm.nam").receptive_field == 1
    assert nam.load(nam_corpus / "trainer-tests" / "linear_10.nam").receptive_field == 10


@pytest.mark.parametrize(
    "slim, submodel", [(None, 1), (0.0, 0), (0.4999, 0), (0.5, 1), (0.75, 1), (1.0, 1)]
)
def test_container_chooses_submodel_as_the_cpp_core(nam_corpus, slim, submodel):
    """A2.nam has submodels with max_value 0.5 and 1.0: the first with slim < max_value."""
    assert nam.load(nam_corpus / "A2.nam", slim=slim).submodel == submodel


@pytest.mark.parametrize("slim", [-0.1, 1.5])
def test_slim_outside_unit_interval_is_rejected(nam_corpus, slim):
    with pytest.raises(InputError, match="A2.nam.*slim"):
        nam.load(nam_corpus / "A2.nam", slim=slim)


def test_slim_on_a_model_that_cannot_slim_is_rejected(nam_corpus):
    with pytest.raises(InputError, match="lstm.nam.*slim"):
        nam.load(nam_corpus / "lstm.nam", slim=0.5)


# --- unsupported or malformed files: InputError naming the file and the key -------------


def _set(path: list, value):
    def mutate(doc):
        node = doc
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return mutate


def _drop_last_weight(doc):
    doc["weights"].pop()


def _gating_mode(doc):
    layer = doc["config"]["layers"][0]
    del layer["gated"]
    layer["gating_mode"] = "sometimes"


BAD_FILES = {
    "unknown architecture": ("wavenet.nam", _set(["architecture"], "Transformer"),
                             "architecture"),
    "unknown activation": ("wavenet.nam", _set(["config", "layers", 0, "activation"], "Swish9"),
                           "config.layers[0].activation"),
    "unknown gating mode": ("wavenet.nam", _gating_mode, "config.layers[0].gating_mode"),
    "unknown layer key": ("wavenet.nam", _set(["config", "layers", 1, "mystery"], True),
                          "config.layers[1].mystery"),
    "packed wavenet": ("wavenet_a2_max.nam",
                       _set(["config", "layers", 0, "packing"], {"channels": [2, 4]}),
                       "config.layers[0].packing"),
    "unknown slimming method": ("slimmable_wavenet.nam",
                                _set(["config", "layers", 0, "slimmable", "method"], "random"),
                                "config.layers[0].slimmable"),
    "non-WaveNet condition DSP": ("wavenet_condition_dsp.nam",
                                  _set(["config", "condition_dsp", "architecture"], "LSTM"),
                                  "config.condition_dsp"),
    "weight count": ("wavenet.nam", _drop_last_weight, "weights"),
    "container not covering 1.0": ("slimmable_container.nam",
                                   _set(["config", "submodels", 2, "max_value"], 0.9),
                                   "max_value"),
    "unknown version": ("wavenet.nam", _set(["version"], "0.9.0"), "version"),
}  # fmt: skip


@pytest.mark.parametrize("case", BAD_FILES, ids=list(BAD_FILES))
def test_unsupported_feature_is_an_error_naming_the_key(case, nam_corpus, tmp_path):
    base, mutate, key = BAD_FILES[case]
    doc = _doc(nam_corpus / base)
    mutate(doc)
    path = tmp_path / f"bad_{base}"
    path.write_text(json.dumps(doc))
    with pytest.raises(InputError) as info:
        nam.load(path)
    message = str(info.value)
    assert path.name in message, message
    assert key in message, message


def test_missing_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="no_such.nam: no such NAM file"):
        nam.load(tmp_path / "no_such.nam")


@pytest.mark.parametrize("text", ["{not json", "", "[1, 2, 3]"])
def test_bad_json_is_an_input_error(tmp_path, text):
    path = tmp_path / "broken.nam"
    path.write_text(text)
    with pytest.raises(InputError, match="broken.nam"):
        nam.load(path)


# --- rendering rules ---------------------------------------------------------------------


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_input_is_rejected(nam_corpus, bad):
    x = np.zeros(64, np.float32)
    x[17] = bad
    with pytest.raises(InputError, match="wavenet.nam.*sample 17"):
        nam.load(nam_corpus / "wavenet.nam").render(x)


def test_input_must_be_mono(nam_corpus):
    with pytest.raises(InputError, match="1-D"):
        nam.load(nam_corpus / "wavenet.nam").render(np.zeros((64, 2), np.float32))


def test_render_is_deterministic_and_pure(corpus_file, excitation):
    """Same input → same bytes, whatever was rendered before (render resets + prewarms)."""
    model = nam.load(corpus_file)
    first = model.render(excitation)
    model.render(excitation[::-1].copy())
    again = model.render(excitation)
    fresh = nam.load(corpus_file).render(excitation)
    assert first.dtype == np.float32 and first.shape == excitation.shape
    assert np.isfinite(first).all()
    assert first.tobytes() == again.tobytes() == fresh.tobytes()


@pytest.mark.parametrize("name", ["wavenet_a2_max.nam", "lstm.nam", "A2.nam"])
def test_output_does_not_depend_on_block_size(nam_corpus, excitation, name):
    """Streaming in blocks of 1, 32, 1024 or 4096 samples, or in uneven pieces, gives the
    same bytes (pedalboard's rule for every stage)."""
    x = excitation[:6000]
    outputs = []
    for max_block in (1, 32, 1024, 4096):
        renderer = NamRenderer(nam_corpus / name, max_block=max_block)
        renderer.reset()
        outputs.append(renderer.process(x))
    renderer = NamRenderer(nam_corpus / name)
    renderer.reset()
    pieces = [renderer.process(x[a:b]) for a, b in ((0, 7), (7, 2500), (2500, 6000))]
    outputs.append(np.concatenate(pieces))
    for out in outputs[1:]:
        assert out.tobytes() == outputs[0].tobytes()


def test_allocation_probe_sees_allocations():
    """The counter behind the next test works (else 0 allocations would prove nothing)."""
    assert allocation_probe_works()


def test_process_does_not_allocate(corpus_file):
    x = (0.3 * np.sin(np.arange(5000) * 0.05)).astype(np.float32)
    assert nam.load(corpus_file).allocations_during_process(x) == 0


#: Fast tanh vs exact, as a fraction of the output peak. The runtime's fast tanh is off by
#: at most 6.9e-6 per evaluation (``greybound_core::nam::fast_tanh``), 58 float32 ulps at
#: 1.0 (ulp 1.19e-7). On the tanh-heavy A1 standard model, rounding of about one ulp per
#: operation moves the output by ≤ 3.7e-5 of its peak (measured against float64 in
#: ``test_nam_equivalence``); 58 ulps per tanh, scaled linearly, bound the change by
#: 58 × 3.7e-5 ≈ 2e-3 of the peak. (Measured: 1.8e-5.)
FAST_TANH_REL = 2e-3


def test_fast_tanh_stays_close_to_exact(nam_corpus, excitation):
    exact = nam.load(nam_corpus / "wavenet_a1_standard.nam").render(excitation)
    fast = nam.load(nam_corpus / "wavenet_a1_standard.nam", fast_tanh=True).render(excitation)
    peak = float(np.max(np.abs(exact)))
    err = float(np.max(np.abs(fast.astype(np.float64) - exact)))
    assert 0 < err <= FAST_TANH_REL * peak, (
        f"fast tanh differs from exact by {err:.3g} ({err / peak:.3g} of peak {peak:.3g}); "
        f"expected > 0 (the option is in effect) and ≤ {FAST_TANH_REL:g} of the peak"
    )


def test_fast_tanh_changes_nothing_without_tanh(nam_corpus, excitation):
    """trainer-tests/wavenet_standard.nam has only ReLU activations: identical bytes."""
    path = nam_corpus / "trainer-tests" / "wavenet_standard.nam"
    exact = nam.load(path).render(excitation)
    assert nam.load(path, fast_tanh=True).render(excitation).tobytes() == exact.tobytes()
