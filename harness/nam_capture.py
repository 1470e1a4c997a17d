"""Self-made NAM captures: render a reference chain, train a NAM model on it with the
official trainer, write ``NAME.nam`` + ``NAME.capture.json5`` (issue 9).

No capture can be downloaded at run time, so the lab captures its own reference chain (the
Nox30 rig, cab off) exactly as a player captures an amp: play a training signal through it,
record the output, train. ``make_capture`` does that:

1. **Training signal** (``training_signals``, 48 kHz, deterministic, never the corpus
   ``input.wav``): DI phrases (``harness.stimuli.di_phrase``, seeds 101–104, peaks −24, −16,
   −10 and −4 dBFS), open-string plucks at two levels, two exponential sweeps and a stepped
   sine at 110/440/2000 Hz — 71.3 s, each piece followed by 0.25 s of silence. The
   validation signal is a held-out DI phrase (seed 199, −10 dBFS, 4 s). Seeds and
   frequencies differ from the ``standard`` comparison set, so a comparison does not test
   on the training data.
2. **Render** through ``RigChain(rig, knobs, channel, cab=False)``; the chain's declared
   latency (the oversamplers' group delay, 141 samples for the Nox30) is removed, so the
   capture has latency 0 re the rig's time grid (``latency_samples: 0`` in the sidecar).
3. **Train** with ``neural-amp-modeler`` 0.13.0 (``nam.train.full.main``) using the
   package's own A2 configuration (``config_model_packed.json``: a ``PackedWaveNet`` of two
   23-layer LeakyReLU WaveNets, 3 channels — "nano" — and 8 channels — "standard" —
   receptive field 6 347 samples, MRSTFT weight 5e-4, Adam lr 0.004), exported as a
   ``SlimmableContainer`` (max_value 0.5 → nano, 1.0 → standard), the form TONE3000's A2
   captures ship in. The trainer's −18 dBFS output normalization is undone by its export
   hook, so the model outputs rig units. CPU, one thread, ``seed`` everywhere
   (``pytorch_lightning.seed_everything`` + deterministic algorithms).
4. **Write** ``NAME.nam`` with the trainer's wall-clock ``date`` metadata removed and the
   calibration written in (``input_level_dbu``, ``output_level_dbu``: see
   ``harness.nam_sidecar``), so the same inputs give the same bytes, and the sidecar with
   the validation ESR of each submodel (rendered by the official package,
   ``nam.models.init_from_nam``), content hashes and the command.

``CAPTURES`` lists the committed captures; ``greybound-lab nam-capture --preset NAME``
rebuilds one (12 epochs: about 14 minutes on one core of a busy 2-core machine; the
tests that train are marked ``slow``).
"""

from __future__ import annotations

import json
import math
import shlex
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from harness import __version__
from harness.errors import InputError, LabError
from harness.nam_sidecar import (
    LAB_FULL_SCALE_DBU,
    Calibration,
    CaptureSemantics,
    CaptureSidecar,
    CaptureSource,
    Provenance,
    Training,
    sha256_file,
    sidecar_path,
    write_sidecar,
)

#: Where the lab's own captures live.
NAM_REFS_DIR = Path(__file__).resolve().parent.parent / "nam_refs"
#: Trainer the captures are made with (``pip install neural-amp-modeler==0.13.0``).
TRAINER = "neural-amp-modeler 0.13.0 (nam.train.full.main, config_model_packed.json)"
ARCHITECTURE = "A2 SlimmableContainer: WaveNet 3 ch (nano, slim <= 0.5) + 8 ch (standard)"
#: Silence after each training piece (s): lets the chain's tail decay between pieces.
GAP_S = 0.25
LICENSE = "MIT (Greybound Lab; self-made from the lab's own rig and stimuli)"


@dataclass(frozen=True)
class CaptureSpec:
    """One capture to make: ``name`` (file stem), the rig (file or name in
    ``fixtures/rigs/``), its channel and knob settings (0..10 as on the panel), and the
    training settings (``epochs`` over the 71 s signal, ``batch_size`` windows of ``ny``
    output samples, ``seed``)."""

    name: str
    channel: str
    knobs: dict[str, float] = field(default_factory=dict)
    rig: str = "nox30"
    device: str = "Nox30 rig (AC30-family, fixtures/rigs/nox30.rig.json5)"
    gain_knob: str = "volume"
    top_cut: bool = False
    seed: int = 0
    epochs: int = 12
    batch_size: int = 2
    ny: int = 8192


#: The committed captures (``nam_refs/``). Cab off; treble/bass/cut/master at the rig's
#: defaults (5/5/3/7) unless named.
CAPTURES = {
    "nox30-top_boost-v5": CaptureSpec("nox30-top_boost-v5", "top_boost", {"volume": 5.0}),
    "nox30-hot-v8": CaptureSpec("nox30-hot-v8", "hot", {"volume": 8.0}),
}


def training_signals(sample_rate: float = 48000.0) -> tuple[np.ndarray, np.ndarray]:
    """(training input, validation input) in the lab's units (1.0 = 1 V peak at the rig
    input) at ``sample_rate`` Hz; see the module docstring. Pure and deterministic."""
    from harness import stimuli

    fs = float(sample_rate)
    pieces = [
        stimuli.di_phrase(fs, seed=100 + i, duration_s=12.0, level_dbfs=level).signal
        for i, level in enumerate((-24.0, -16.0, -10.0, -4.0), start=1)
    ]
    pieces += [
        stimuli.plucks(fs, note_s=0.8, level_dbfs=level, seed=7).signal for level in (-18.0, -6.0)
    ]
    pieces += [
        stimuli.exp_sweep(fs, 30.0, 18000.0, 3.0, level, tail_s=0.1).signal
        for level in (-20.0, -6.0)
    ]
    pieces += [
        stimuli.level_stepped_sine(
            fs, f0, levels_dbfs=(-36.0, -24.0, -12.0, -3.0), step_s=0.4, settle_s=0.1
        ).signal
        for f0 in (110.0, 440.0, 2000.0)
    ]
    gap = np.zeros(int(round(GAP_S * fs)))
    train = np.concatenate([np.concatenate([p, gap]) for p in pieces])
    validation = stimuli.di_phrase(fs, seed=199, duration_s=4.0, level_dbfs=-10.0).signal
    return train, validation


def render_rig(
    rig, knobs: dict[str, float], channel: str | None, x: np.ndarray, *, cab: bool = False
) -> np.ndarray:
    """``x`` (1-D, lab units) through ``RigChain(rig, knobs, channel, cab=cab)`` with the
    chain's declared latency removed: float64, same length as ``x``."""
    from harness.rigs import RigChain

    chain = RigChain(rig, knobs, channel, cab=cab)
    lat = chain.latency_samples
    y = chain.process(np.concatenate([np.asarray(x, np.float64), np.zeros(lat)]))
    return np.asarray(y[lat:], dtype=np.float64)


def _train_with_nam(
    train: tuple[np.ndarray, np.ndarray],
    validation: tuple[np.ndarray, np.ndarray],
    sample_rate: int,
    workdir: Path,
    spec: CaptureSpec,
) -> dict:
    """Train the A2 packed WaveNet with ``nam.train.full.main`` on the pairs; return the
    exported ``SlimmableContainer`` as a dict."""
    import pytorch_lightning as pl
    import torch
    from nam.train import full
    from nam.train.core import _get_packed_model_config

    from harness.audio import write_wav

    paths = {}
    for label, (x, y) in (("train", train), ("validation", validation)):
        paths[label] = (
            str(write_wav(workdir / f"{label}_input.wav", x, sample_rate)),
            str(write_wav(workdir / f"{label}_output.wav", y, sample_rate)),
        )
    data_config = {
        "train": {"x_path": paths["train"][0], "y_path": paths["train"][1], "ny": spec.ny},
        "validation": {
            "x_path": paths["validation"][0],
            "y_path": paths["validation"][1],
            "ny": None,
        },
        # Our pieces are separated by silence already; the trainer's 0.4 s pre-silence check
        # is for its own reamp file layout.
        "common": {"require_input_pre_silence": None},
        "joint": [
            {"name": "nam.data.normalize_joint_dataset_output", "kwargs": {"level_rms_dbfs": -18.0}}
        ],
    }
    learning_config = {
        "train_dataloader": {
            "batch_size": spec.batch_size,
            "shuffle": True,
            "drop_last": True,
            "num_workers": 0,
        },
        "val_dataloader": {},
        "trainer": {
            "max_epochs": spec.epochs,
            "accelerator": "cpu",
            "devices": 1,
            "deterministic": True,
            "enable_progress_bar": False,
            "logger": False,
        },
    }
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        pl.seed_everything(spec.seed, verbose=False)
        out = workdir / "trainer"
        out.mkdir()
        full.main(
            data_config,
            _get_packed_model_config(),
            learning_config,
            out,
            no_show=True,
            make_plots=False,
        )
    finally:
        torch.set_num_threads(threads)
    model = out / "model.nam"
    if not model.is_file():
        raise LabError(f"{out}: the trainer exported no model.nam")
    return json.loads(model.read_text())


def _strip_dates(model: dict) -> None:
    """Remove the trainer's wall-clock ``metadata.date`` from a model and its submodels."""
    model.get("metadata", {}).pop("date", None)
    for sub in model.get("config", {}).get("submodels", []):
        _strip_dates(sub["model"])


def submodel_esr(container: dict, x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """ESR Σ(y − ŷ)²/Σy² of each submodel of a ``SlimmableContainer`` (keyed by its
    ``max_value``) on input ``x`` against target ``y``, rendered by the official package
    (``nam.models.init_from_nam``, float32 torch, CPU)."""
    import torch
    from nam.models import init_from_nam

    from harness.metrics.null import esr

    out = {}
    for sub in container["config"]["submodels"]:
        net = init_from_nam(sub["model"])
        net.eval()
        with torch.no_grad():
            y_hat = net(torch.from_numpy(np.asarray(x, np.float32)), pad_start=True).numpy()
        out[f"{sub['max_value']:g}"] = esr(y, y_hat.astype(np.float64))
    return out


def make_capture(
    spec: CaptureSpec, output_dir: str | Path = NAM_REFS_DIR, *, command: str | None = None
) -> tuple[CaptureSidecar, dict]:
    """Make capture ``spec`` into ``output_dir`` (``NAME.nam`` + ``NAME.capture.json5``);
    returns the sidecar and a summary (training wall time s, per-submodel validation ESR).
    Slow: a few minutes on one CPU core."""
    from harness.rigs import load_rig

    rig = load_rig(spec.rig)
    for name in spec.knobs:
        rig.knob(name)  # unknown knobs fail here, naming the rig file
    if spec.channel not in rig.channels:
        raise InputError(f"{rig.path}: unknown channel {spec.channel!r}")
    fs = rig.sample_rate
    if fs != 48000:
        raise InputError(f"{rig.path}: sample_rate {fs} Hz; NAM captures are trained at 48 kHz")
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    x_train, x_val = training_signals(fs)
    y_train = render_rig(rig, spec.knobs, spec.channel, x_train)
    y_val = render_rig(rig, spec.knobs, spec.channel, x_val)
    output_dbu = LAB_FULL_SCALE_DBU - rig.output_gain_db
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="nam-capture-") as tmp:
        container = _train_with_nam((x_train, y_train), (x_val, y_val), fs, Path(tmp), spec)
    wall = time.perf_counter() - t0
    _strip_dates(container)
    container.setdefault("metadata", {}).update(
        {
            "name": spec.name,
            "modeled_by": "Greybound Lab nam-capture",
            "gear_make": "Greybound Lab",
            "gear_model": rig.name,
            "gear_type": "amp",
            "tone_type": "crunch" if spec.channel != "hot" else "hi_gain",
            "input_level_dbu": round(LAB_FULL_SCALE_DBU, 4),
            "output_level_dbu": round(output_dbu, 4),
        }
    )
    esrs = submodel_esr(container, x_val, y_val)
    nam_path = output_dir / f"{spec.name}.nam"
    nam_path.write_text(json.dumps(container), encoding="utf-8")
    knobs = {k.name: float(spec.knobs.get(k.name, k.default)) for k in rig.knobs}
    if command is None:
        command = f"greybound-lab nam-capture --preset {shlex.quote(spec.name)}"
    rig_rel = _repo_relative(rig.path)
    sidecar = CaptureSidecar(
        path=sidecar_path(nam_path),
        name=spec.name,
        model_file=nam_path.name,
        model_sha256=sha256_file(nam_path),
        source=CaptureSource(
            kind="rig",
            chain=rig_rel,
            chain_sha256=sha256_file(rig.path),
            channel=spec.channel,
            knobs=knobs,
        ),
        capture=CaptureSemantics(
            device=spec.device,
            channel=spec.channel,
            gain_position=knobs[spec.gain_knob],
            top_cut=spec.top_cut,
            includes_cab=False,
        ),
        sample_rate=float(fs),
        calibration=Calibration(round(LAB_FULL_SCALE_DBU, 4), round(output_dbu, 4)),
        latency_samples=0,
        license=LICENSE,
        training=Training(
            trainer=TRAINER,
            architecture=ARCHITECTURE,
            validation_esr=round(esrs[max(esrs, key=float)], 6),
            epochs=spec.epochs,
            seed=spec.seed,
            threads=1,
            training_audio_s=round(x_train.size / fs, 3),
        ),
        provenance=Provenance(
            command=command,
            lab_version=__version__,
            sha256={
                "train_input_f64": _array_sha256(x_train),
                "train_output_f64": _array_sha256(y_train),
                "validation_input_f64": _array_sha256(x_val),
                "validation_output_f64": _array_sha256(y_val),
            },
        ),
        notes=(
            "Validation ESR per submodel (held-out DI phrase, official renderer): "
            + ", ".join(
                f"slim <= {k}: {v:.4f}"
                for k, v in sorted(esrs.items(), key=lambda kv: float(kv[0]))
            )
            + ". Trained on the rig with cab=False and its declared latency removed. "
            "One capture is one knob setting: it is not ground truth for other settings."
        ),
    )
    write_sidecar(sidecar)
    return sidecar, {"wall_time_s": wall, "validation_esr": esrs, "nam": str(nam_path)}


def _repo_relative(path: Path) -> str:
    root = NAM_REFS_DIR.parent
    try:
        return str(Path(path).resolve().relative_to(root))
    except ValueError:
        return str(path)


def _array_sha256(x: np.ndarray) -> str:
    import hashlib

    return hashlib.sha256(np.ascontiguousarray(x, dtype="<f8").tobytes()).hexdigest()


def capture_spec(
    preset: str | None = None,
    *,
    name: str | None = None,
    channel: str | None = None,
    knobs: dict[str, float] | None = None,
    rig: str = "nox30",
    epochs: int | None = None,
    seed: int | None = None,
) -> CaptureSpec:
    """A ``CaptureSpec``: a preset from ``CAPTURES`` (optionally with epochs/seed changed)
    or a new one (``name`` and ``channel`` required)."""
    import dataclasses

    if preset is not None:
        if preset not in CAPTURES:
            raise InputError(
                f"nam-capture: unknown preset {preset!r} (known: {', '.join(CAPTURES)})"
            )
        spec = CAPTURES[preset]
    else:
        if not name or not channel:
            raise InputError("nam-capture: give --preset, or --name and --channel")
        spec = CaptureSpec(name=name, channel=channel, knobs=dict(knobs or {}), rig=rig)
    changes = {k: v for k, v in (("epochs", epochs), ("seed", seed)) if v is not None}
    if "epochs" in changes and (changes["epochs"] < 1 or not math.isfinite(changes["epochs"])):
        raise InputError(f"nam-capture: --epochs must be >= 1, got {epochs!r}")
    return dataclasses.replace(spec, **changes)
