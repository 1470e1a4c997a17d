"""The Python API of runtime stages: construction, parameters, dtypes, and clear errors."""

import numpy as np
import pytest

from harness.errors import InputError
from harness.runtime import Stage, describe_stages, stage_kinds

KINDS = [
    "triode_common_cathode",
    "diode_clipper",
    "tone_stack",
    "cathode_follower",
    "volume",
    "cut",
    "phase_inverter",
    "power_amp",
    "output_transformer",
    "speaker_load",
]


def test_every_stage_kind_is_listed_with_documented_parameters():
    assert sorted(stage_kinds()) == sorted(KINDS)
    for spec in describe_stages():
        assert spec["doc"]
        for p in spec["params"]:
            assert p["doc"] and p["type"] in ("number", "choice")


@pytest.mark.parametrize("kind", KINDS)
def test_params_report_defaults_and_overrides(kind):
    spec = next(s for s in describe_stages() if s["kind"] == kind)
    stage = Stage(kind)
    assert stage.params == {p["name"]: p["default"] for p in spec["params"]}
    first_number = next(p for p in spec["params"] if p["type"] == "number")
    value = first_number["min"] + 0.25 * (min(first_number["max"], 1e3) - first_number["min"])
    assert Stage(kind, **{first_number["name"]: value}).params[first_number["name"]] == value


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_process_returns_a_new_array_of_the_input_dtype(kind, dtype):
    x = (0.1 * np.sin(np.arange(256) / 5.0)).astype(dtype)
    before = x.copy()
    y = Stage(kind).process(x)
    assert y.dtype == dtype and y.shape == x.shape and y is not x
    np.testing.assert_array_equal(x, before)


@pytest.mark.parametrize("kind", KINDS)
def test_streaming_in_pieces_equals_one_call_and_reset_restarts(kind):
    x = (0.5 * np.sin(np.arange(3000) / 7.0)).astype(np.float32)
    whole = Stage(kind).process(x)
    stage = Stage(kind)
    pieces = np.concatenate([stage.process(x[:1000]), stage.process(x[1000:])])
    np.testing.assert_array_equal(pieces, whole)
    stage.reset()
    np.testing.assert_array_equal(stage.process(x), whole)


def test_latency_and_tail_are_reported():
    stage = Stage("tone_stack")
    assert stage.latency_samples == 0
    # Slowest mode of the default Fender stack: τ ≈ 12 ms (bass pot with C2/C3);
    # 80 dB of decay at 48 kHz is about 5000 samples.
    assert 2000 < stage.tail_samples < 20000


def test_unknown_kind_names_the_known_ones():
    with pytest.raises(ValueError, match="unknown stage kind 'fuzz'.*triode_common_cathode"):
        Stage("fuzz")


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"gain": 3.0}, "unknown parameter 'gain'"),
        ({"b_plus": -5.0}, "'b_plus' = -5: must be within"),
        ({"b_plus": float("nan")}, "'b_plus' = NaN: must be within"),
        ({"r_plate": "big"}, "'r_plate' = 'big': expects a number"),
    ],
)
def test_bad_parameters_are_named(params, message):
    with pytest.raises(ValueError, match=message):
        Stage("triode_common_cathode", **params)


def test_bool_and_object_parameters_are_type_errors():
    with pytest.raises(TypeError, match="must be a number, not bool"):
        Stage("diode_clipper", r_series=True)
    with pytest.raises(TypeError, match="must be a number or a str"):
        Stage("diode_clipper", r_series=[1.0])


def test_choice_parameters_are_checked():
    with pytest.raises(
        ValueError, match="'voicing' = 'mesa': must be one of fender, marshall, vox"
    ):
        Stage("tone_stack", voicing="mesa")
    with pytest.raises(ValueError, match="'vox' voicing has no middle control"):
        Stage("tone_stack", voicing="vox", middle=0.3)


@pytest.mark.parametrize("sample_rate", [0.0, -48000.0, float("nan"), 1e7])
def test_bad_sample_rates_are_rejected(sample_rate):
    with pytest.raises(ValueError, match="sample_rate"):
        Stage("diode_clipper", sample_rate)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_input_is_rejected_with_its_index(bad):
    x = np.zeros(100)
    x[42] = bad
    with pytest.raises(InputError, match="input sample 42"):
        Stage("triode_common_cathode").process(x)


def test_wrong_shapes_and_dtypes_are_rejected():
    stage = Stage("diode_clipper")
    with pytest.raises(InputError, match="1-D"):
        stage.process(np.zeros((2, 10)))
    with pytest.raises(TypeError, match="float32 or float64"):
        stage.process(np.zeros(10, dtype=np.int16))
    with pytest.raises(TypeError, match="numpy array"):
        stage.process([0.0, 1.0])


def test_allocation_probe_sees_allocations():
    from harness.runtime import allocation_probe_works

    assert allocation_probe_works()


@pytest.mark.parametrize("kind", KINDS)
def test_process_makes_no_heap_allocation(kind):
    """The real-time rule, checked through the extension's counting allocator on a
    hard input (a 20 V burst into silence), in 4096-sample blocks."""
    x = np.zeros(20000, dtype=np.float32)
    x[1000:9000] = 20.0 * np.sin(np.arange(8000) / 3.0)
    assert Stage(kind).allocations_during_process(x) == 0
