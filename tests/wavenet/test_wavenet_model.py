"""The WaveNet module: the schema's sizes, strict causality, the receptive field, Snake's
small-α limit, FiLM's identity at zero init, and the artifact round trip."""

import json

import numpy as np
import pytest
import torch

from harness.artifacts import read_artifact, write_artifact
from harness.cells.wavenet import SNAKE_ALPHA_GUARD, WaveNet, from_artifact, snake

pytestmark = pytest.mark.train


def _model(channels=4, n_controls=5, **kw) -> WaveNet:
    torch.manual_seed(0)
    return WaveNet(channels, n_controls, **kw)


def _randomize_film(model: WaveNet) -> None:
    """Give FiLM a non-identity map (zero init makes every knob setting identical)."""
    with torch.no_grad():
        model.film1.weight.normal_(0.0, 0.3)
        model.film1.bias.normal_(0.0, 0.3)


def test_the_issue_size_counts_its_macs_parameters_and_state_by_the_schema():
    m = _model()
    c, layers, k, h, knobs = 4, 30, 3, 16, 5
    assert m.n_layers == layers
    # Schema: L·K·C² = 30·3·16 = 1,440 conv MACs; + 2·C·L FiLM, L·C snake, C in, C head.
    assert m.macs_breakdown()["conv"] == 1440
    assert m.macs_per_sample() == 1440 + 2 * c * layers + layers * c + c + c
    expected = (c + c + layers * c * c * k + layers * c + layers * c + h * knobs + h
                + 2 * c * layers * h + 2 * c * layers + c + 1)  # fmt: skip
    assert m.parameter_count() == expected
    # One ring buffer per layer of (K−1)·d + 1 inputs, C channels: C·(2·3·1023 + 30).
    assert m.state_floats() == c * (2 * 3 * 1023 + layers)
    assert m.memory_bytes() == {"weights": 4 * expected, "state": 4 * m.state_floats()}


def test_receptive_field_is_6139_samples_and_exactly_that():
    m = _model(channels=2, n_controls=1).double()
    assert m.receptive_field == 1 + 2 * 3 * 1023 == 6139
    n_out, total = 7000, 7300
    x = torch.randn(1, total, dtype=torch.float64, requires_grad=True)
    y = m(x, torch.zeros(1, 1, dtype=torch.float64))
    y[0, n_out].backward()
    reached = np.nonzero(x.grad[0].numpy())[0]
    # Output n depends on inputs n − 6138 … n and on nothing else (zero gradient is exact).
    assert reached.min() == n_out - 6138 and reached.max() == n_out
    assert reached.size == 6139


def test_output_at_n_is_unchanged_when_later_inputs_change():
    m = _model(channels=3, n_controls=2, dilations=(1, 2, 4, 8, 16, 1, 2))
    _randomize_film(m)
    x = torch.randn(2, 400)
    c = torch.randn(2, 2)
    y = m(x, c)
    for n in (0, 1, 57, 398):
        x2 = x.clone()
        x2[:, n + 1 :] = torch.randn(2, 399 - n) * 5
        y2 = m(x2, c)
        assert torch.equal(y[:, : n + 1], y2[:, : n + 1])  # strictly causal, zero latency
        assert not torch.equal(y[:, n + 1 :], y2[:, n + 1 :])


def test_snake_uses_the_small_alpha_limit_below_the_guard():
    z = torch.linspace(-3, 3, 101, dtype=torch.float64)
    assert torch.equal(snake(z, torch.tensor(0.0, dtype=torch.float64)), z)
    below = torch.tensor(0.99 * SNAKE_ALPHA_GUARD, dtype=torch.float64)
    above = torch.tensor(1.01 * SNAKE_ALPHA_GUARD, dtype=torch.float64)
    assert torch.equal(snake(z, below), z + below * z * z)
    # Either side of the guard the two forms agree to the limit's error α³z⁴/3 (≈ 3e-11 at
    # |z| = 3) plus the change of α itself (2e-6 · z² ≤ 1.8e-5).
    assert torch.allclose(snake(z, below), snake(z, above), atol=2e-5, rtol=0)
    # And the exact form: x + sin²(αx)/α.
    a = torch.tensor(0.7, dtype=torch.float64)
    assert torch.allclose(snake(z, a), z + torch.sin(a * z) ** 2 / a, atol=1e-15, rtol=0)
    # Gradients stay finite at α = 0 (the guarded branch never divides by zero).
    alpha = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    snake(z, alpha).sum().backward()
    assert torch.isfinite(alpha.grad).all()


def test_film_is_the_identity_at_zero_init_for_any_knob_setting():
    m = _model(channels=4, n_controls=3, dilations=(1, 2, 4))
    gamma, beta = m.film(torch.randn(5, 3))
    assert torch.equal(gamma, torch.ones_like(gamma)) and torch.equal(beta, torch.zeros_like(beta))
    x = torch.randn(1, 300)
    assert torch.equal(m(x, torch.zeros(1, 3)), m(x, torch.full((1, 3), 0.9)))


def test_per_sample_controls_equal_fixed_controls_when_constant():
    m = _model(channels=2, n_controls=2, dilations=(1, 2, 4))
    _randomize_film(m)
    x, c = torch.randn(1, 256), torch.tensor([[0.3, -0.5]])
    y_fixed = m(x, c)
    y_series = m(x, c[:, None, :].expand(1, 256, 2))
    assert torch.allclose(y_fixed, y_series, atol=1e-6, rtol=0)


def test_artifact_round_trip_gives_identical_outputs(tmp_path):
    m = _model(channels=4, n_controls=2)
    _randomize_film(m)
    with torch.no_grad():
        m.snake_alpha[0, 0] = 0.5 * SNAKE_ALPHA_GUARD  # exercise the guarded branch too
    layers, tensors = m.artifact_layers()
    (layer,) = layers
    assert layer["kind"] == "wavenet" and layer["dilations"] == list(m.dilations)
    assert tensors["wn.conv.weight"].shape == (30, 4, 4, 3)
    assert tensors["wn.film.1.weight"].shape == (2 * 4 * 30, 16)
    controls = [{"name": n, "default": 5.0, "scale": 0.2, "offset": 5.0, "range": [0, 10],
                 "log10": False} for n in ("volume", "treble")]  # fmt: skip
    descriptor = {"name": "rt", "family": "wavenet", "layers": layers, "controls": controls,
                  "input": {"context_samples": 1}, "output": {}}  # fmt: skip
    back = from_artifact(read_artifact(write_artifact(tmp_path, descriptor, tensors)))
    x, c = torch.randn(2, 7000), torch.randn(2, 2)
    with torch.no_grad():
        assert torch.equal(m(x, c), back(x, c))


def _schema_stream(t: dict, dilations, u: np.ndarray, knobs: np.ndarray) -> np.ndarray:
    """The schema's per-sample recipe, written out with one ring buffer per layer (float64,
    from rest = zero buffers), reading only the artifact's tensors by their schema names."""
    w_in, b_in = t["wn.input.weight"][:, 0], t["wn.input.bias"]
    conv, cb, alpha = t["wn.conv.weight"], t["wn.conv.bias"], t["wn.snake.alpha"]
    hidden = np.tanh(t["wn.film.0.weight"] @ knobs + t["wn.film.0.bias"])
    raw = t["wn.film.1.weight"] @ hidden + t["wn.film.1.bias"]
    n_layers, c, _, k = conv.shape
    film = raw.reshape(n_layers, 2, c)  # rows: layer l, then γ (C rows), then β (C rows)
    gamma, beta = 1.0 + film[:, 0], film[:, 1]
    rings = [np.zeros(((k - 1) * d + 1, c)) for d in dilations]
    out = np.empty(u.size)
    for n, sample in enumerate(u):
        x = w_in * sample + b_in
        skip = np.zeros(c)
        for layer, d in enumerate(dilations):
            ring = rings[layer]
            ring[:-1] = ring[1:].copy()
            ring[-1] = x
            # tap j multiplies x[n − (K−1−j)·d]; the ring's last row is x[n].
            z = cb[layer] + sum(conv[layer, :, :, j] @ ring[-1 - (k - 1 - j) * d] for j in range(k))
            z = gamma[layer] * z + beta[layer]
            a = z + np.sin(alpha[layer] * z) ** 2 / alpha[layer]
            x = x + a
            skip = skip + a
        out[n] = t["wn.head.weight"][0] @ skip + t["wn.head.bias"][0]
    return out


def test_the_schema_recipe_streamed_per_sample_matches_pytorch():
    dilations = (1, 2, 4, 1, 3)
    m = _model(channels=3, n_controls=2, dilations=dilations, film_hidden=5)
    _randomize_film(m)
    _, tensors = m.artifact_layers()
    t = {name: v.astype(np.float64) for name, v in tensors.items()}
    rng = np.random.default_rng(1)
    u, knobs = rng.normal(0, 0.5, 200), np.array([0.4, -0.7])
    want = _schema_stream(t, dilations, u, knobs)
    with torch.no_grad():
        got = m.double()(torch.from_numpy(u[None]), torch.from_numpy(knobs[None]))[0].numpy()
    # float64 on both sides: only summation order differs (≈ 1e-15 relative).
    assert np.max(np.abs(got - want)) <= 1e-12 * np.max(np.abs(want))


def test_rust_runtime_reproduces_pytorch_vectors_with_a_knob_sweep(tmp_path):
    """PyTorch ↔ Rust on the issue-size WaveNet: the vectors (16,384 samples, knob jumps at
    the listed samples, applied without smoothing) exported from PyTorch, rendered by
    harness.runtime.NeuralCell. Tolerance 1e-5 of the output scale: float32 on both sides,
    ~ a few hundred roundings (6e-8 each) along the 30-layer residual chain, different
    summation order (Rust uses fused multiply-adds)."""
    from harness.cells.vectors import export_neural_cell_vectors
    from harness.runtime import NeuralCell

    m = _model(channels=4, n_controls=2)
    _randomize_film(m)
    layers, tensors = m.artifact_layers()
    controls = [{"name": n, "default": 5.0, "scale": 0.2, "offset": 5.0, "range": [0.0, 10.0],
                 "log10": False} for n in ("volume", "treble")]  # fmt: skip
    descriptor = {
        "name": "wn-equivalence", "family": "wavenet", "sample_rate_hz": 48000.0,
        "sample_rates_supported": [48000.0], "layers": layers, "controls": controls,
        "input": {"context_samples": 1, "scale": 1.0, "offset": 0.0, "range": [-2.0, 2.0],
                  "clamp": "saturate"},
        "output": {"scale": 1.0, "offset": 0.0, "range": [-50.0, 50.0], "clamp": "saturate"},
        "latency_samples": 0, "lookahead_samples": 0, "allocation": "preallocated",
        "cpu_cost": {"macs_per_sample": m.macs_per_sample(), "ns_per_sample": 0.0},
        "provenance": {},
    }  # fmt: skip
    path = write_artifact(tmp_path / "wn", descriptor, tensors)
    v = json.loads(export_neural_cell_vectors(path, tmp_path / "v.json").read_text())
    cell = NeuralCell(path, v["sample_rate"], **v["controls"])
    assert cell.macs_per_sample == descriptor["cpu_cost"]["macs_per_sample"]
    x = np.array(v["input"], dtype=np.float32)
    pieces, start = [], 0
    for change in sorted(v["control_changes"], key=lambda c: c["sample"]):
        pieces.append(cell.process(x[start : change["sample"]]))
        cell.set_control(change["name"], change["value"], smooth=False)
        start = change["sample"]
    pieces.append(cell.process(x[start:]))
    y, want = np.concatenate(pieces), np.array(v["output"], dtype=np.float32)
    assert np.max(np.abs(y - want)) <= 1e-5 * np.max(np.abs(want))
