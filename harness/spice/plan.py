"""Dataset plans: which stimuli, drive levels and parameter variants make a cell's cases,
and which cases go to train / validation / test.

Sizes:

* ``smoke`` — two short cases (a level-stepped sine, a sweep), nominal parameters; for CI.
* ``default`` — a few seconds of audio per cell, a minute or two on 2 cores: the *nominal*
  block (every stimulus below at the first ``drive_db``), the *drive* block (the stepped
  sine, plucks and DI phrase at every further ``drive_db``) and the *variant* block (each
  sweep value of ``dataset.sweeps`` and each Monte Carlo draw, one stimulus and drive each,
  taken in turn).
* ``full`` — longer stimuli, every stimulus at every drive for the nominal cell, and every
  stimulus for every variant: for clusters (``--scheduler``).

Stimuli come from ``harness.stimuli`` (levels in dBFS peak, 1.0 = 1 V at the cell input);
a case's input is the stimulus times 10^(drive_db/20). Monte Carlo draw k scales each
parameter with a ``tolerance`` t by (1 + t·u), u uniform in [−1, 1) from
``numpy.random.default_rng([seed, k])``, parameters in sorted order. Splits: a seeded
permutation of the cases; ``round(test·n)`` (at least 1) go to test, ``round(validation·n)``
(at least 1 when n >= 3) to validation, the rest to train — whole cases, never samples.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from harness.errors import LabError
from harness.spice.cell import CellSpec

SIZES = ("smoke", "default", "full")


@dataclass(frozen=True)
class StimulusRecipe:
    """A call of ``harness.stimuli.<generator>(sample_rate=fs, **kwargs)``."""

    name: str
    generator: str
    kwargs: tuple[tuple[str, object], ...]

    def build(self, sample_rate: float):
        from harness import stimuli

        return getattr(stimuli, self.generator)(sample_rate=sample_rate, **dict(self.kwargs))

    def as_dict(self) -> dict:
        return {"name": self.name, "generator": self.generator, "kwargs": dict(self.kwargs)}


def _recipe(name: str, generator: str, **kwargs) -> StimulusRecipe:
    return StimulusRecipe(name, generator, tuple(sorted(kwargs.items())))


@dataclass(frozen=True)
class Case:
    """One simulation: a stimulus at a drive (dB), a parameter variant, a split."""

    case_id: str
    stimulus: StimulusRecipe
    drive_db: float
    variant: str
    overrides: tuple[tuple[str, float], ...] = field(default=())
    split: str = "train"


def stimulus_recipes(size: str, seed: int) -> list[StimulusRecipe]:
    """The stimuli of a plan size (see the module docstring); ``seed`` seeds plucks/DI."""
    if size == "smoke":
        return [
            _recipe(
                "stepped-sine-1kHz",
                "level_stepped_sine",
                f0=1000.0,
                levels_dbfs=(-20.0, -6.0, 0.0),
                step_s=0.02,
                settle_s=0.01,
                ramp_s=0.002,
            ),
            _recipe(
                "sweep",
                "exp_sweep",
                f_start=50.0,
                f_end=15000.0,
                duration_s=0.05,
                level_dbfs=-6.0,
                fade_in_s=0.005,
                fade_out_s=0.002,
                tail_s=0.005,
            ),
        ]
    if size == "default":
        return [
            *(
                _recipe(
                    f"sine-220Hz{level:+g}dBFS",
                    "sine",
                    f0=220.0,
                    level_dbfs=level,
                    duration_s=0.1,
                    fade_s=0.005,
                )
                for level in (-20.0, -6.0, 0.0)
            ),
            _recipe(
                "stepped-sine-1kHz",
                "level_stepped_sine",
                f0=1000.0,
                levels_dbfs=(-30.0, -20.0, -12.0, -6.0, -3.0, 0.0),
                step_s=0.05,
                settle_s=0.02,
                ramp_s=0.005,
            ),
            _recipe(
                "two-tone-guitar",
                "two_tone",
                standard="guitar",
                level_dbfs=-6.0,
                duration_s=0.2,
                settle_s=0.05,
                fade_s=0.01,
            ),
            _recipe(
                "sweep",
                "exp_sweep",
                f_start=20.0,
                f_end=20000.0,
                duration_s=0.3,
                level_dbfs=-6.0,
                fade_in_s=0.01,
                fade_out_s=0.005,
                tail_s=0.02,
            ),
            _recipe(
                "bursts",
                "bursts",
                n_bursts=1,
                burst_s=0.1,
                probe_s=0.1,
                burst_level_dbfs=-6.0,
                probe_level_dbfs=-30.0,
            ),
            _recipe(
                "plucks", "plucks", notes=(40.0, 52.0), note_s=0.15, level_dbfs=-12.0, seed=seed
            ),
            _recipe("di-phrase", "di_phrase", seed=seed, duration_s=0.5, level_dbfs=-10.0),
        ]
    if size == "full":
        return [
            *(
                _recipe(
                    f"sine-{f:g}Hz{level:+g}dBFS",
                    "sine",
                    f0=f,
                    level_dbfs=level,
                    duration_s=0.25,
                    fade_s=0.005,
                )
                for f in (82.0, 220.0, 1000.0)
                for level in (-30.0, -20.0, -12.0, -6.0, 0.0)
            ),
            *(
                _recipe(
                    f"stepped-sine-{f:g}Hz",
                    "level_stepped_sine",
                    f0=f,
                    step_s=0.1,
                    settle_s=0.03,
                    ramp_s=0.005,
                )
                for f in (110.0, 1000.0)
            ),
            *(
                _recipe(
                    f"two-tone-{s}",
                    "two_tone",
                    standard=s,
                    level_dbfs=-6.0,
                    duration_s=0.5,
                    settle_s=0.1,
                    fade_s=0.01,
                )
                for s in ("smpte", "din", "ccif", "guitar")
            ),
            _recipe(
                "sweep",
                "exp_sweep",
                f_start=20.0,
                f_end=20000.0,
                duration_s=1.0,
                level_dbfs=-6.0,
                fade_in_s=0.02,
                fade_out_s=0.01,
                tail_s=0.05,
            ),
            _recipe(
                "bursts",
                "bursts",
                n_bursts=2,
                burst_s=0.25,
                probe_s=0.25,
                burst_level_dbfs=-6.0,
                probe_level_dbfs=-30.0,
            ),
            _recipe("plucks", "plucks", note_s=0.4, level_dbfs=-12.0, seed=seed),
            *(
                _recipe(
                    f"di-phrase-{k}", "di_phrase", seed=seed + k, duration_s=2.0, level_dbfs=-10.0
                )
                for k in range(2)
            ),
        ]
    raise LabError(f"unknown dataset size {size!r}; choose one of {', '.join(SIZES)}")


def _variants(cell: CellSpec, size: str) -> list[tuple[str, dict[str, float]]]:
    ds = cell.dataset
    out = [
        (f"{name}={value:g}", {name: value})
        for name, values in sorted(ds.sweeps.items())
        for value in values
    ]
    for k in range(ds.monte_carlo.get(size, 0)):
        rng = np.random.default_rng([ds.seed, k])
        draw = {}
        for name in sorted(cell.parameters):
            p = cell.parameters[name]
            if p.tolerance > 0:
                draw[name] = p.value * (1.0 + p.tolerance * rng.uniform(-1.0, 1.0))
        out.append((f"mc{k:02d}", draw))
    return out


def make_plan(cell: CellSpec, size: str) -> list[Case]:
    """The cases of ``cell`` at ``size``, in a fixed order, each with its split."""
    recipes = stimulus_recipes(size, cell.dataset.seed)
    drives = cell.dataset.drive_db
    rows: list[tuple[StimulusRecipe, float, str, dict]] = []
    if size == "smoke":
        rows = [(r, drives[0], "nominal", {}) for r in recipes]
    else:
        nominal_drives = drives if size == "full" else drives[:1]
        rows += [(r, d, "nominal", {}) for d in nominal_drives for r in recipes]
        if size == "default":
            driven = [
                r for r in recipes if r.generator in ("level_stepped_sine", "plucks", "di_phrase")
            ]
            rows += [(r, d, "nominal", {}) for d in drives[1:] for r in driven]
        for i, (label, overrides) in enumerate(_variants(cell, size)):
            chosen = recipes if size == "full" else [recipes[i % len(recipes)]]
            rows += [
                (r, drives[(i + j) % len(drives)], label, overrides) for j, r in enumerate(chosen)
            ]
    for _, _, _, overrides in rows:
        cell.resolve(overrides)
    splits = assign_splits(len(rows), cell.dataset.validation, cell.dataset.test, cell.dataset.seed)
    return [
        Case(
            f"c{i:03d}-{r.name}-{label}-drive{d:+g}dB",
            r,
            d,
            label,
            tuple(sorted(o.items())),
            splits[i],
        )
        for i, (r, d, label, o) in enumerate(rows)
    ]


def assign_splits(n: int, validation: float, test: float, seed: int) -> list[str]:
    """Split labels for n cases (see the module docstring)."""
    n_test = max(1, round(test * n)) if n >= 2 else 0
    n_val = max(1, round(validation * n)) if n >= 3 else 0
    labels = ["test"] * n_test + ["validation"] * n_val + ["train"] * (n - n_test - n_val)
    order = np.random.default_rng(seed).permutation(n)
    out = [""] * n
    for label, index in zip(labels, order, strict=True):
        out[int(index)] = label
    return out
