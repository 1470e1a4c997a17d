"""The official NAM implementation as the test oracle for ``harness.nam`` (tests only).

The oracle is the ``neural-amp-modeler`` package (PyPI, import name ``nam``, pinned at
``OFFICIAL_VERSION``; a test-only dependency). ``load(path)`` builds the official PyTorch
model of a ``.nam`` file with ``nam.models.init_from_nam``; ``render(x)`` runs it in
float32 (PyTorch's default dtype, as in the package) under ``torch.no_grad()``.

Render convention — what the NAM C++ core (NeuralAmpModelerCore) does at run time and what
``harness.nam`` does: reset, prewarm on zeros, then stream the input.

* Convolutional models (WaveNet, Linear): the package's own ``model(x, pad_start=True)``
  prepends ``receptive_field − 1`` zeros. Every output sample of a causal convolutional
  net depends on the last ``receptive_field`` inputs only, so this is the same as
  prewarming on at least ``receptive_field − 1`` zeros and then streaming (the C++
  ``DSP::prewarm`` runs ``receptive_field`` zeros, rounded up to whole buffers).
* LSTM: a recurrent state has no finite receptive field. The file stores the initial
  hidden and cell states; the C++ ``LSTM::PrewarmSamples`` runs ``int(0.5 · sample_rate)``
  zeros (at least 1) from them before the first real sample; the oracle runs that many
  zero steps through the package's ``nn.LSTM`` core (24 000 at 48 kHz;
  ``LSTM_PREWARM_SECONDS``), then the input from the state reached. It stops early only
  when the state is an exact float32 fixed point (one more zero step returns it bit for
  bit — the map is deterministic, so every later zero step would too). Files written by
  the package store the zero-input fixed point of the cell as the initial state
  (``LSTM._get_initial_state`` burns 48 000 zeros in), so this usually ends within a few
  hundred steps.
* SlimmableContainer: the package has no container class. The oracle selects the
  submodel as the C++ ``ContainerModel::SetSlimmableSize`` does — the first submodel with
  ``slim < max_value``, the last one when none is (and when ``slim`` is None: full size)
  — and renders that submodel, itself a complete ``.nam`` document, with the package.
* Slimmable WaveNet (a layer array with ``slimmable``): the package's
  ``set_slimming(slim)`` picks ``allowed_channels[min(floor(slim·n), n − 1)]``, the rule
  the C++ ``SlimmableWavenet`` states it matches; ``slim`` None = full size (1.0).

Translations (``translate_config``): ``nam`` 0.13.0 rejects some valid ``.nam`` files that
the C++ core loads. The oracle rewrites their *config* into the form 0.13.0 accepts; the
weights are never changed (the same flat ``weights`` list is imported, and the oracle
checks that the import consumes every weight exactly — a translation that changed the
architecture would fail that check). Each rewrite is recorded in ``OracleModel.notes``:

1. 0.5-era layer arrays (``head_size`` + ``head_bias`` instead of a ``head`` object)
   → ``head = {out_channels: head_size, kernel_size: 1, bias: head_bias}``: the same
   1×1 head rechannel; a key rename. 0.13.0 raises ``KeyError: Each layer array config
   must include a 'head' object``.
2. The 0.5-era boolean ``gated`` — which 0.13.0 silently *ignores* (it would build an
   ungated layer) — → ``gating_mode: "gated"`` with secondary activation ``Sigmoid``:
   the A1 gate ``act(z[:C]) · sigmoid(z[C:])``, written the 0.6 way. ``gated: false`` is
   dropped (it is the default).
3. A layer array that gives ``activation`` / ``gating_mode`` / ``secondary_activation`` as
   one value for all layers (the 0.6 broadcast form; ``wavenet_a2_max.nam``) → per-layer
   lists. 0.13.0's converter indexes them per layer and raises ``KeyError: 0`` on the
   ``activation`` dict — that is the ``KeyError 0``.
4. Paired (gated/blended) layers whose primary or secondary activation has parameters
   (``{"type": "PReLU", "negative_slopes": [...]}``, ``LeakyHardtanh`` bounds): 0.13.0's
   ``_PairingActivationConfig`` accepts only bare names, and for PReLU it keeps the
   count but drops the slopes (the module starts at PyTorch's 0.25). The oracle builds
   those layers with a placeholder activation of the same pairing and then installs the
   package's own modules (``nn.PReLU`` with the file's slopes, ``_LeakyHardtanh``, ...,
   wrapped in its ``PairMultiply`` / ``PairBlend``).
5. ``condition_dsp`` (a nested ``.nam`` document): 0.13.0 looks for ``name`` where the file
   has ``architecture``, does not convert the nested layer arrays, and does not import
   the nested ``weights``. The oracle converts the nested config the same way, builds it
   through the package, and imports the nested weights into the condition WaveNet
   (again checking the count).

Nothing here is imported by the lab's runtime path; only ``tests/nam`` use it.
"""

from __future__ import annotations

import copy
import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

#: The package version the translations above were written against.
OFFICIAL_VERSION = "0.13.0"

#: Seconds of zeros the NAM C++ core runs through an LSTM before the first sample
#: (``nam::lstm::LSTM::PrewarmSamples``: ``int(0.5 · expected_sample_rate)``, at least 1).
LSTM_PREWARM_SECONDS = 0.5

_FILM_KEYS = (
    "conv_pre_film",
    "conv_post_film",
    "input_mixin_pre_film",
    "input_mixin_post_film",
    "activation_pre_film",
    "activation_post_film",
    "layer1x1_post_film",
    "head1x1_post_film",
)


@dataclass
class OracleModel:
    """An official-package model of one ``.nam`` document, ready to render.

    ``architecture``: the rendered model's architecture (a container's chosen submodel).
    ``submodel``: the container index chosen, None for other files. ``notes``: the
    translations applied (empty when 0.13.0 loads the file as it is)."""

    module: Any
    architecture: str
    sample_rate: float | None
    receptive_field: int
    prewarm_samples: int
    submodel: int | None = None
    notes: list[str] = field(default_factory=list)

    def render(self, x: np.ndarray, dtype: type = np.float32) -> np.ndarray:
        """Render a 1-D float input (full-scale units) → output of the same length: reset,
        prewarm on ``prewarm_samples`` zeros, stream ``x`` (the module doc's convention).

        ``dtype`` float32 is the package as shipped; float64 runs a double-precision copy
        of the same model on the same input (rounded to float32 first), the reference
        for measuring float32 rounding noise."""
        import torch

        arr = np.asarray(x, dtype=np.float32).astype(dtype)
        if arr.ndim != 1:
            raise ValueError(f"oracle render: expected a 1-D array, got shape {arr.shape}")
        module = self.module if dtype == np.float32 else copy.deepcopy(self.module).double()
        xt = torch.from_numpy(arr)
        with torch.no_grad():
            if self.architecture == "LSTM":
                # PyTorch's own CPU LSTM kernel: oneDNN's RNN primitive spends over a minute
                # preparing its first call for a sequence this long (measured); same maths.
                with warnings.catch_warnings():
                    warnings.filterwarnings("ignore", "TF32 acceleration", UserWarning)
                    with torch.backends.mkldnn.flags(enabled=False):
                        state = _lstm_prewarmed_state(module, self.prewarm_samples)
                        y = module._forward(xt[None], initial_state=state)[0]
            else:
                y = module(xt, pad_start=True)
        out = y.detach().cpu().numpy().astype(dtype)
        if out.shape != arr.shape:
            raise AssertionError(f"oracle render: output shape {out.shape} != input {arr.shape}")
        return out


#: Zero steps the LSTM prewarm runs between two fixed-point checks.
_LSTM_CHECK_EVERY = 128


def _lstm_prewarmed_state(module, samples: int):
    """The (hidden, cell) state of the package's LSTM after ``samples`` zero inputs from
    the file's initial state (early exit at an exact fixed point; module doc)."""
    import torch

    core = module._core
    state = tuple(s[:, None].contiguous() for s in module._initial_state(None))
    done = 0
    while done < samples:
        steps = min(_LSTM_CHECK_EVERY, samples - done)
        _, state = core(torch.zeros((1, steps, 1), dtype=state[0].dtype), state)
        done += steps
        if done < samples:
            _, after = core(torch.zeros((1, 1, 1), dtype=state[0].dtype), state)
            done += 1
            if all(torch.equal(a, b) for a, b in zip(after, state, strict=True)):
                break
            state = after
    return state


def read_document(path: str | Path) -> dict:
    """The parsed JSON of a ``.nam`` file."""
    return json.loads(Path(path).read_text())


def select_submodel(doc: dict, slim: float | None) -> tuple[int, dict]:
    """The SlimmableContainer submodel for ``slim`` (C++ ``SetSlimmableSize`` rule: the first
    with ``slim < max_value``, else the last; None → the last, full size)."""
    submodels = doc["config"]["submodels"]
    index = len(submodels) - 1
    if slim is not None:
        for i, entry in enumerate(submodels):
            if slim < entry["max_value"]:
                index = i
                break
    return index, submodels[index]["model"]


def container_slim_values(doc: dict) -> list[float]:
    """The submodels' ``max_value`` breakpoints of a SlimmableContainer document."""
    return [float(entry["max_value"]) for entry in doc["config"]["submodels"]]


def _per_layer(value: Any, n: int) -> list:
    return list(value) if isinstance(value, list) else [value] * n


def _is_plain(activation: Any) -> bool:
    """An activation 0.13.0's pairing config accepts: a bare name or ``{"type": name}``."""
    return isinstance(activation, str) or (
        isinstance(activation, dict) and set(activation) == {"type"}
    )


def _translate_layer_array(lc: dict, where: str, notes: list[str]) -> tuple[dict, list | None]:
    """Rewrites 1–4 of the module doc for one layer array (``.nam`` form in and out).

    Returns the translated config and, when rewrite 4 applies, the per-layer
    ``(primary, gating_mode, secondary)`` triples to install after construction."""
    lc = copy.deepcopy(lc)
    n = len(lc["dilations"])
    if "head" not in lc and "head_size" in lc:
        lc["head"] = {
            "out_channels": lc.pop("head_size"),
            "kernel_size": 1,
            "bias": bool(lc.pop("head_bias", False)),
        }
        notes.append(f"{where}: head_size/head_bias -> head {{out_channels, kernel_size 1, bias}}")
    if "gated" in lc:
        gated = lc.pop("gated")
        if gated:
            if "gating_mode" in lc:
                raise ValueError(f"{where}: both 'gated' and 'gating_mode' are present")
            lc["activation"] = _per_layer(lc["activation"], n)
            lc["gating_mode"] = ["gated"] * n
            lc["secondary_activation"] = [{"type": "Sigmoid"}] * n
            notes.append(f"{where}: gated=true -> gating_mode 'gated', secondary Sigmoid")
    install = None
    if "gating_mode" in lc:
        scalar = [
            k
            for k in ("activation", "gating_mode", "secondary_activation")
            if not isinstance(lc.get(k), list)
        ]
        if scalar:
            for k in ("activation", "gating_mode", "secondary_activation"):
                lc[k] = _per_layer(lc.get(k), n)
            notes.append(f"{where}: broadcast {', '.join(scalar)} to per-layer lists")
        triples = list(
            zip(lc["activation"], lc["gating_mode"], lc["secondary_activation"], strict=True)
        )
        needs = any(
            (g != "none" and not (_is_plain(p) and _is_plain(s)))
            or (isinstance(p, dict) and p.get("type") == "PReLU")
            for p, g, s in triples
        )
        if needs:
            install = triples
            lc["activation"] = ["Tanh"] * n
            lc["secondary_activation"] = [
                None if g == "none" else "Sigmoid" for g in lc["gating_mode"]
            ]
            notes.append(
                f"{where}: activations with parameters installed as the package's modules "
                "(placeholders during construction)"
            )
    return lc, install


def _convert_wavenet_config(cfg: dict, where: str, notes: list[str]) -> tuple[dict, list]:
    """A ``.nam`` WaveNet config → the package's ``_WaveNet`` init config, plus the
    activation installs per layer array (None where the package's own path is used)."""
    from nam.models._from_nam import _convert_nam_layer_array_config

    layers, installs = [], []
    for i, lc in enumerate(cfg["layers"]):
        translated, install = _translate_layer_array(lc, f"{where}.layers[{i}]", notes)
        layers.append(_convert_nam_layer_array_config(translated))
        installs.append(install)
    return {
        "layers_configs": layers,
        "head": cfg["head"],
        "head_scale": cfg["head_scale"],
    }, installs


def _activation_module(spec: Any):
    """One activation of a ``.nam`` file as the package's module (PReLU with its slopes)."""
    import torch
    from nam.models._activations import get_activation
    from nam.models._from_nam import _export_activation_to_init_format

    module = get_activation(_export_activation_to_init_format(spec) if isinstance(spec, dict)
                            else spec)  # fmt: skip
    if isinstance(spec, dict) and spec.get("type") == "PReLU":
        slopes = spec.get("negative_slopes", [spec.get("negative_slope", 0.25)])
        with torch.no_grad():
            module.weight.copy_(torch.tensor(slopes, dtype=torch.float32))
    return module


def _install_activations(wavenet, installs: list) -> None:
    from nam.models._activations import PairBlend, PairMultiply

    for array, triples in zip(wavenet._layer_arrays, installs, strict=True):
        if triples is None:
            continue
        for layer, (primary, gating, secondary) in zip(array._layers, triples, strict=True):
            if gating == "none":
                layer._activation = _activation_module(primary)
            else:
                pair = {"gated": PairMultiply, "blended": PairBlend}[gating]
                layer._activation = pair(
                    primary=_activation_module(primary), secondary=_activation_module(secondary)
                )


def _import_exactly(target, weights: list, where: str) -> None:
    import torch

    used = target.import_weights(torch.tensor(weights, dtype=torch.float32), 0)
    if used != len(weights):
        raise ValueError(f"{where}: the model used {used} of {len(weights)} weights")


def _build_wavenet(doc: dict, where: str, notes: list[str]):
    from nam.models.wavenet import WaveNet
    from nam.models.wavenet._wavenet import WaveNet as CoreWaveNet

    cfg = doc["config"]
    init, installs = _convert_wavenet_config(cfg, f"{where}config", notes)
    cond_doc = cfg.get("condition_dsp")
    if cond_doc is not None:
        if cond_doc.get("architecture") != "WaveNet":
            raise ValueError(f"{where}config.condition_dsp: only a WaveNet condition DSP")
        cond_init, cond_installs = _convert_wavenet_config(
            cond_doc["config"], f"{where}config.condition_dsp.config", notes
        )
        condition = CoreWaveNet.init_from_config(cond_init)
        _install_activations(condition, cond_installs)
        _import_exactly(condition, cond_doc["weights"], f"{where}config.condition_dsp.weights")
        notes.append(f"{where}config.condition_dsp: built and its weights imported separately")
    model = WaveNet.init_from_config({**init, "sample_rate": doc.get("sample_rate")})
    if cond_doc is not None:
        model._net._condition_dsp = condition
    _install_activations(model._net, installs)
    _import_exactly(model, doc["weights"], f"{where}weights")
    return model


def translate_config(doc: dict) -> list[str]:
    """The translations ``build`` applies to a non-container document (no model built)."""
    notes: list[str] = []
    if doc["architecture"] == "WaveNet":
        _convert_wavenet_config(doc["config"], "config", notes)
        cond = doc["config"].get("condition_dsp")
        if cond is not None:
            _convert_wavenet_config(cond["config"], "config.condition_dsp.config", notes)
            notes.append("config.condition_dsp: built and its weights imported separately")
    return notes


def build(doc: dict, slim: float | None = None) -> OracleModel:
    """The official model of a parsed ``.nam`` document (a container: the ``slim`` choice)."""
    from nam.models import init_from_nam

    if doc["architecture"] == "SlimmableContainer":
        index, sub = select_submodel(doc, slim)
        inner = build(sub, slim)
        inner.submodel = index
        inner.notes.insert(0, f"SlimmableContainer: submodel {index} for slim={slim}")
        return inner
    notes: list[str] = []
    arch = doc["architecture"]
    if arch == "WaveNet":
        module = _build_wavenet(doc, "", notes)
        if slim is not None and module._net.is_slimmable():
            module._net.set_slimming(float(slim))
    elif arch in ("LSTM", "Linear"):
        module = init_from_nam(doc)
    else:
        raise ValueError(f"architecture {arch!r}: not rendered by the oracle")
    module.eval()
    rate = doc.get("sample_rate")
    if arch == "LSTM":
        prewarm = max(1, int(LSTM_PREWARM_SECONDS * rate)) if rate else 1
    else:
        prewarm = 0  # pad_start supplies receptive_field − 1 zeros
    return OracleModel(
        module=module,
        architecture=arch,
        sample_rate=None if rate is None else float(rate),
        receptive_field=int(module.receptive_field),
        prewarm_samples=prewarm,
        notes=notes,
    )


def load(path: str | Path, slim: float | None = None) -> OracleModel:
    """``build`` for a ``.nam`` file."""
    return build(read_document(path), slim)
