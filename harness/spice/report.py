"""The human report of a SPICE dataset: Markdown with plots (``<fixture>.report.md``,
``plots/<fixture>-*.png``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from harness.datasets import DatasetManifest
from harness.spice.cell import CellSpec

#: Cases drawn in the overview figure (the first ones of the plan).
MAX_PANELS = 24


def write_report(cell: CellSpec, manifest: DatasetManifest, outcomes: list, path: Path) -> Path:
    """Write the Markdown report and its two figures; returns ``path``."""
    plots = path.parent / "plots"
    plots.mkdir(parents=True, exist_ok=True)
    fs = manifest.sample_rate
    ok = [o for o in outcomes if o.ok]
    overview = plots / f"{cell.name}-cases.png"
    transfer = plots / f"{cell.name}-transfer.png"
    _plot_cases(cell, ok, fs, overview)
    _plot_transfer(cell, ok, transfer)
    total_s = sum(o.x.size for o in ok) / fs
    aa_filter = manifest.anti_aliasing["anti_alias_filter"]
    lines = [
        f"# SPICE dataset: {cell.name}",
        "",
        f"{cell.title}.",
        "",
        f"- Command: `{manifest.command}`",
        f"- {manifest.versions['ngspice']}, {manifest.versions['pyspice']}",
        f"- Cases: {len(outcomes)} planned, {len(ok)} simulated, "
        f"{len(manifest.failed_cases)} failed; "
        f"{total_s:.2f} s of audio at {fs:g} Hz",
        "- Splits (whole cases): "
        + ", ".join(f"{k} {v}" for k, v in manifest.splits["counts"].items()),
        f"- Output probe: `{manifest.output_probe}`; probes: "
        + ", ".join(f"`{k}` = {v}" for k, v in manifest.probes.items()),
        f"- Initial conditions: {manifest.initial_conditions}",
        f"- Anti-aliasing: ngspice max step 1/({manifest.anti_aliasing['oversample']}·fs); "
        f"{aa_filter['taps']}-tap Kaiser FIR, passband to "
        f"{aa_filter['passband_edge_fs'] * fs:.0f} Hz, "
        f">= {aa_filter['stopband_attenuation_db']:g} dB from fs/2",
        f"- Package: `{manifest.package['file']}` (sha256 `{manifest.package['sha256'][:16]}…`)",
        "",
        "## Failed cases",
        "",
    ]
    failed = [r for r in manifest.cases if r.status == "failed"]
    if failed:
        for r in failed:
            tried = ", ".join(a["solver"] for a in r.attempts)
            lines.append(f"- **{r.id}** (tried {tried}): {r.failure}")
    else:
        lines.append("None: every case converged.")
    lines += [
        "",
        "## Cases",
        "",
        "| case | split | stimulus | drive dB | variant | solver | s | in peak V | out peak V "
        "| out rms V |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    by_id = {o.case.case_id: o for o in outcomes}
    for r in manifest.cases:
        o = by_id[r.id]
        if o.ok:
            y = o.traces[cell.output][o.grid.kept()]
            ac = y - np.mean(y)
            peaks = f"{np.max(np.abs(o.x)):.4g} | {np.max(np.abs(y)):.4g}"
            cols = f"{peaks} | {np.sqrt(np.mean(ac**2)):.4g}"
        else:
            cols = "failed | | "
        lines.append(
            f"| {r.id} | {r.split} | {r.stimulus['name']} | {r.drive_db:+g} | {r.variant} | "
            f"{r.solver or '-'} | {r.n_samples / fs:.3f} | {cols} |"
        )
    lines += [
        "",
        "## Plots",
        "",
        f"![output of each case]({overview.relative_to(path.parent)})",
        "",
        f"![output against input]({transfer.relative_to(path.parent)})",
        "",
    ]
    path.write_text("\n".join(lines))
    return path


def _figure(n: int):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = 4
    rows = max(1, -(-n // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 2.2 * rows), squeeze=False)
    return plt, fig, axes


def _plot_cases(cell: CellSpec, ok: list, fs: float, path: Path) -> None:
    shown = ok[:MAX_PANELS]
    plt, fig, axes = _figure(len(shown))
    for ax, o in zip(axes.flat, shown, strict=False):
        y = o.traces[cell.output][o.grid.kept()]
        t = np.arange(y.size) / fs
        ax.plot(t, y, lw=0.6, color="C0")
        ax.set_title(o.case.case_id, fontsize=7)
        ax.tick_params(labelsize=6)
    for ax in axes.flat[len(shown) :]:
        ax.axis("off")
    fig.suptitle(f"{cell.name}: output '{cell.output}' (V) against time (s)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=80, metadata={"Software": None})
    plt.close(fig)


def _plot_transfer(cell: CellSpec, ok: list, path: Path) -> None:
    plt, fig, axes = _figure(1)
    ax = axes.flat[0]
    fig.set_size_inches(5, 4)
    for o in ok:
        if (
            o.case.stimulus.generator in ("sine", "level_stepped_sine")
            and o.case.variant == "nominal"
        ):
            y = o.traces[cell.output][o.grid.kept()]
            ax.plot(o.x, y, ",", alpha=0.5, label=f"{o.case.stimulus.name} {o.case.drive_db:+g} dB")
    ax.set_xlabel("input (V)")
    ax.set_ylabel(f"output '{cell.output}'")
    ax.set_title(f"{cell.name}: output against input (nominal sines)", fontsize=9)
    if ax.lines:
        ax.legend(fontsize=6, markerscale=20)
    for extra in axes.flat[1:]:
        extra.remove()
    fig.tight_layout()
    fig.savefig(path, dpi=80, metadata={"Software": None})
    plt.close(fig)
