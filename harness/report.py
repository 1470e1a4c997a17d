"""The lab report: one offline HTML page (and a Markdown twin) with the evidence as plots.

``build_report(output_dir)`` writes ``report.html``, ``report.md`` and ``plots/*.png`` (PNG
files beside the pages, linked relatively, so the directory opens offline and can be moved
as a whole). For every registered golden that holds audio it draws, from the committed golden
and a fresh render of its producer:

* ``spectrogram`` — each rendered signal (fresh), dB re 1 V, 48 kHz goldens up to Nyquist;
* ``thd_vs_level`` — snapshot metrics ``thd_pct[sine <L> dBFS]``, golden and fresh;
* ``imd_spectrum`` — the spectrum of the ``imd`` signal (two-tone), dB re its largest bin;
* ``envelope_overlay`` — 5 ms RMS envelopes (dB re 1 V) of input, golden and fresh output;
* ``null_residual_bands`` — the fresh − golden residual per octave band (IEC 61260-1 nominal
  centres 31.5 Hz … 16 kHz), dB re the golden's energy in that band;

and, from the trend store, ``trend`` — value per run of every series of each metric family
(``esr_db``, ``delta_thd_pct``, ``time_median``, ...) measured in the newest run of each
source (pytest, benchmark), up to :data:`MAX_TREND_PLOTS` families. A plot whose data is
absent (no ``imd`` signal, no THD snapshot) is left out and said so; the page lists every
plot it links.
"""

from __future__ import annotations

import html
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from harness import gates
from harness import golden as golden_mod
from harness.errors import LabError
from harness.gates import load_suite, metric_family
from harness.golden import Committed, GoldenData, GoldenError, Producer, Registry
from harness.trend import TrendStore, default_db_path, format_table, plot_series

#: Trend plots drawn at most (metrics of the latest run, in name order).
MAX_TREND_PLOTS = 12

#: IEC 61260-1 nominal octave-band centre frequencies (Hz).
OCTAVE_CENTRES_HZ = (31.5, 63, 125, 250, 500, 1000, 2000, 4000, 8000, 16000)

#: Display floor (dB) for levels and residuals that are exactly zero (−inf dB).
RESIDUAL_FLOOR_DB = -200.0

#: Envelope window (s): 5 ms, short enough to show a level step's attack.
ENVELOPE_WINDOW_S = 0.005

_THD_NAME = re.compile(r"^thd_pct\[sine (?P<level>[-+]?\d+(?:\.\d+)?) dBFS\]$")

PLOT_KINDS = (
    "spectrogram",
    "thd_vs_level",
    "imd_spectrum",
    "envelope_overlay",
    "null_residual_bands",
    "trend",
)


@dataclass(frozen=True)
class Plot:
    """One drawn plot: kind, file (relative to the report directory), caption."""

    kind: str
    file: str
    caption: str


@dataclass
class Section:
    """A report section: title, plots, notes and an optional table."""

    title: str
    plots: list[Plot] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    table: tuple[list[str], list[tuple]] | None = None


@dataclass
class Report:
    """What :func:`build_report` wrote."""

    html_path: Path
    markdown_path: Path
    sections: list[Section]
    summary_rows: list[tuple]

    @property
    def plots(self) -> list[Plot]:
        return [p for s in self.sections for p in s.plots]

    def summary(self) -> str:
        """The end-of-run table: one row per golden, then the trend line."""
        table = format_table(
            ["golden", "model", "checks", "failed", "worst ESR (dB)", "plots"], self.summary_rows
        )
        return f"{table}\n{len(self.plots)} plots; report: {self.html_path}"


# --- signal helpers (plot data, not gated metrics) ----------------------------------------


def envelope_db(x: np.ndarray, sample_rate: float, window_s: float = ENVELOPE_WINDOW_S):
    """(times s, RMS level dB re 1 V) over consecutive windows of ``window_s``."""
    n = max(1, int(round(window_s * sample_rate)))
    frames = len(x) // n
    blocks = np.asarray(x[: frames * n], dtype=np.float64).reshape(frames, n)
    rms = np.sqrt(np.mean(blocks**2, axis=1))
    with np.errstate(divide="ignore"):
        level = 20.0 * np.log10(rms)
    times = (np.arange(frames) + 0.5) * n / sample_rate
    return times, np.maximum(level, RESIDUAL_FLOOR_DB)


def band_residual_db(fresh: np.ndarray, gold: np.ndarray, sample_rate: float) -> list[float]:
    """Residual energy per octave band (:data:`OCTAVE_CENTRES_HZ`), dB re the golden's energy
    in the band; −inf where identical, NaN where the golden has no energy or the band is above
    Nyquist."""
    spec_r = np.abs(np.fft.rfft(np.asarray(fresh, np.float64) - gold)) ** 2
    spec_g = np.abs(np.fft.rfft(np.asarray(gold, np.float64))) ** 2
    freqs = np.fft.rfftfreq(len(gold), 1.0 / sample_rate)
    out = []
    for fc in OCTAVE_CENTRES_HZ:
        band = (freqs >= fc / math.sqrt(2)) & (freqs < fc * math.sqrt(2))
        e_g, e_r = float(spec_g[band].sum()), float(spec_r[band].sum())
        if fc * math.sqrt(2) > sample_rate / 2 or e_g == 0.0:
            out.append(math.nan)
        elif e_r == 0.0:
            out.append(-math.inf)
        else:
            out.append(10.0 * math.log10(e_r / e_g))
    return out


def spectrum_db(x: np.ndarray, sample_rate: float):
    """(frequencies Hz, level dB re the largest bin) with a Blackman-Harris window."""
    from scipy.signal.windows import blackmanharris

    x = np.asarray(x, dtype=np.float64)
    mag = np.abs(np.fft.rfft(x * blackmanharris(len(x))))
    with np.errstate(divide="ignore"):
        level = 20.0 * np.log10(mag / mag.max())
    return np.fft.rfftfreq(len(x), 1.0 / sample_rate), np.maximum(level, RESIDUAL_FLOOR_DB)


# --- drawing ------------------------------------------------------------------------------


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> None:
    plt = _pyplot()
    try:
        fig.savefig(path, dpi=80, metadata={"Software": None})
    finally:
        plt.close(fig)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.+-]+", "_", text).strip("_")


def _draw_spectrograms(data: GoldenData, path: Path, title: str) -> None:
    plt = _pyplot()
    names = sorted(data.audio)
    fig, axes = plt.subplots(1, len(names), figsize=(4 * len(names), 3.2), layout="constrained")
    for ax, name in zip(np.atleast_1d(axes), names, strict=True):
        x = np.asarray(data.audio[name], dtype=np.float64)
        nfft = min(1024, len(x))
        ax.specgram(x, NFFT=nfft, Fs=data.sample_rate, noverlap=nfft // 2, cmap="magma", vmin=-140)
        ax.set_yscale("symlog", linthresh=100)
        ax.set_ylim(20, data.sample_rate / 2)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("time (s)")
        ax.set_ylabel("frequency (Hz)")
    fig.suptitle(f"{title}: spectrograms (fresh render, dB re 1 V)", fontsize=10)
    _save(fig, path)


def _thd_points(data: GoldenData) -> tuple[list[float], list[float]]:
    pts = sorted(
        (float(m["level"]), v.value)
        for name, v in data.metrics.items()
        if (m := _THD_NAME.match(name))
    )
    return [p[0] for p in pts], [p[1] for p in pts]


def _draw_thd(gold: GoldenData, fresh: GoldenData | None, path: Path, title: str) -> None:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.5), layout="constrained")
    levels, thd = _thd_points(gold)
    ax.semilogy(levels, np.maximum(thd, 1e-12), "o-", label="golden")
    if fresh is not None:
        f_levels, f_thd = _thd_points(fresh)
        ax.semilogy(f_levels, np.maximum(f_thd, 1e-12), "x--", label="fresh")
    ax.set_xlabel("input level (dBFS peak, 1 kHz sine)")
    ax.set_ylabel("THD (%)")
    ax.set_title(f"{title}: THD vs level", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    _save(fig, path)


def _draw_imd(gold: GoldenData, fresh: GoldenData | None, path: Path, title: str) -> None:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.5), layout="constrained")
    f, level = spectrum_db(gold.audio["imd"], gold.sample_rate)
    ax.semilogx(f[1:], level[1:], label="golden", linewidth=1)
    if fresh is not None and "imd" in fresh.audio:
        f2, level2 = spectrum_db(fresh.audio["imd"], fresh.sample_rate)
        ax.semilogx(f2[1:], level2[1:], label="fresh", linewidth=0.8, linestyle="--")
    ax.set_xlim(20, gold.sample_rate / 2)
    ax.set_ylim(-180, 5)
    ax.set_xlabel("frequency (Hz)")
    ax.set_ylabel("level (dB re largest bin)")
    ax.set_title(f"{title}: IMD two-tone spectrum", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    _save(fig, path)


def _draw_envelopes(gold: GoldenData, fresh: GoldenData | None, path: Path, title: str) -> None:
    plt = _pyplot()
    names = sorted(gold.audio)
    fig, axes = plt.subplots(1, len(names), figsize=(4 * len(names), 3.2), layout="constrained")
    for ax, name in zip(np.atleast_1d(axes), names, strict=True):
        rate = gold.sample_rate
        stimulus = fresh.inputs.get(name) if fresh is not None else None
        if isinstance(stimulus, np.ndarray):
            ax.plot(*envelope_db(stimulus, rate), color="grey", label="input")
        ax.plot(*envelope_db(gold.audio[name], rate), label="golden", linewidth=2)
        if fresh is not None and name in fresh.audio:
            ax.plot(*envelope_db(fresh.audio[name], rate), "--", label="fresh")
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("time (s)")
        ax.set_ylabel("RMS (dB re 1 V, 5 ms)")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(f"{title}: envelopes", fontsize=10)
    _save(fig, path)


def _draw_bands(bands: dict[str, list[float]], path: Path, title: str) -> None:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.5), layout="constrained")
    x = np.arange(len(OCTAVE_CENTRES_HZ))
    all_exact = True
    for name, values in sorted(bands.items()):
        arr = np.asarray(values, dtype=np.float64)
        finite, exact = np.isfinite(arr), arr == -np.inf
        all_exact &= bool(exact[~np.isnan(arr)].all())
        (line,) = ax.plot(x[finite], arr[finite], "o-", label=name)
        if exact.any():
            ax.plot(
                x[exact],
                np.full(int(exact.sum()), RESIDUAL_FLOOR_DB),
                "v",
                color=line.get_color(),
                label=f"{name}: identical (−∞ dB)",
            )
    if all_exact:
        ax.text(
            0.5,
            0.5,
            "fresh render identical to the golden in every band (−∞ dB)",
            transform=ax.transAxes,
            ha="center",
            va="center",
        )
    ax.set_xticks(x, [f"{c:g}" for c in OCTAVE_CENTRES_HZ], fontsize=8)
    ax.set_ylim(RESIDUAL_FLOOR_DB - 5, 0)
    ax.set_xlabel("octave band centre (Hz)")
    ax.set_ylabel("residual (dB re golden band energy)")
    ax.set_title(f"{title}: null residual per octave band (fresh − golden)", fontsize=9)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)
    _save(fig, path)


# --- assembling ---------------------------------------------------------------------------


def _golden_section(
    producer: Producer,
    committed: Committed,
    fresh: GoldenData | None,
    plot_dir: Path,
    gates_dir: Path,
) -> tuple[Section, tuple]:
    title = producer.name
    section = Section(title=f"{title} — {producer.description} (model: {producer.model})")
    gold = committed.data
    slug = _slug(title)

    def add(kind: str, caption: str, draw) -> None:
        file = f"plots/{slug}_{kind}.png"
        draw(plot_dir.parent / file)
        section.plots.append(Plot(kind, file, caption))

    shown = fresh if fresh is not None else gold
    add(
        "spectrogram",
        "spectrograms of each rendered signal",
        lambda p: _draw_spectrograms(shown, p, title),
    )
    if _thd_points(gold)[0]:
        add(
            "thd_vs_level",
            "THD vs input level, golden and fresh",
            lambda p: _draw_thd(gold, fresh, p, title),
        )
    else:
        section.notes.append("no thd_pct[sine … dBFS] snapshot: THD vs level not drawn")
    if "imd" in gold.audio:
        add(
            "imd_spectrum",
            "spectrum of the two-tone (IMD) render",
            lambda p: _draw_imd(gold, fresh, p, title),
        )
    else:
        section.notes.append("no 'imd' signal: IMD spectrum not drawn")
    add(
        "envelope_overlay",
        "5 ms RMS envelopes: input, golden and fresh output",
        lambda p: _draw_envelopes(gold, fresh, p, title),
    )
    worst = math.nan
    n_checks = n_failed = 0
    if fresh is None:
        section.notes.append("fresh render unavailable: null residual and gates not computed")
    else:
        bands = {
            name: band_residual_db(fresh.audio[name], gold.audio[name], gold.sample_rate)
            for name in sorted(gold.audio.keys() & fresh.audio.keys())
            if len(fresh.audio[name]) == len(gold.audio[name])
        }
        add(
            "null_residual_bands",
            "fresh − golden residual per octave band",
            lambda p: _draw_bands(bands, p, title),
        )
        comparison = golden_mod.compare(
            producer, fresh, committed, load_suite(producer.group, gates_dir)
        )
        rows = [
            (
                c.metric,
                f"{c.value:.4g} {c.threshold.unit}".rstrip(),
                c.threshold.describe(),
                "ok" if c.passed else "FAIL",
                c.detail,
            )
            for c in comparison.checks
        ]
        rows += [("problem", p, "", "FAIL", "") for p in comparison.problems]
        section.table = (["check", "value", "threshold", "verdict", "detail"], rows)
        n_checks = len(comparison.checks)
        n_failed = sum(not c.passed for c in comparison.checks) + len(comparison.problems)
        nulls = [c.value for c in comparison.checks if c.metric.startswith("esr_db")]
        worst = max(nulls) if nulls else math.nan
    summary = (title, producer.model, n_checks, n_failed, f"{worst:.4g}", len(section.plots))
    return section, summary


def _trend_section(trend_db: Path, plot_dir: Path) -> Section:
    section = Section(title=f"Trends ({trend_db})")
    if not trend_db.is_file():
        section.notes.append("no trend store yet: run the acceptance suite to record one")
        return section
    with TrendStore(trend_db) as store:
        runs = store.runs()
        if not runs:
            section.notes.append("the trend store holds no runs")
            return section
        latest = {r.info.source: r for r in runs}  # the newest run of each source
        families = sorted(
            {metric_family(m.metric) for r in latest.values() for m in store.measurements(r.id)}
        )
        if len(families) > MAX_TREND_PLOTS:
            section.notes.append(
                f"{len(families)} metric families in the latest runs; the first "
                f"{MAX_TREND_PLOTS} are drawn"
            )
        for family in families[:MAX_TREND_PLOTS]:
            points = store.series(family)
            file = f"plots/trend_{_slug(family)}.png"
            plot_series(points, plot_dir.parent / file, title=family)
            section.plots.append(Plot("trend", file, f"{family} per run (every series)"))
        section.table = (
            ["run", "started (UTC)", "commit", "source", "values", "failed"],
            [
                (
                    r.id,
                    r.info.started_at,
                    (r.info.git_commit or "-")[:10],
                    r.info.source,
                    r.n_measurements,
                    r.n_failed,
                )
                for r in runs[-10:]
            ],
        )
    return section


_CSS = """
body { font-family: sans-serif; margin: 2em; max-width: 1400px; color: #222; }
figure { display: inline-block; margin: 0.5em; vertical-align: top; }
figcaption { font-size: 0.85em; color: #555; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0; }
td, th { border: 1px solid #ccc; padding: 2px 6px; text-align: left; }
.FAIL { color: #b00; font-weight: bold; }
.note { color: #666; font-style: italic; }
"""


def _html(sections: list[Section], summary_rows: list[tuple]) -> str:
    esc = html.escape
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8"><title>Greybound Lab report</title>',
        f"<style>{_CSS}</style></head><body>",
        "<h1>Greybound Lab report</h1>",
        "<h2>Summary</h2>",
        _html_table(
            ["golden", "model", "checks", "failed", "worst ESR (dB)", "plots"], summary_rows
        ),
    ]
    for s in sections:
        out.append(f"<h2>{esc(s.title)}</h2>")
        out += [f'<p class="note">{esc(n)}</p>' for n in s.notes]
        if s.table:
            out.append(_html_table(*s.table))
        for p in s.plots:
            out.append(
                f'<figure data-kind="{p.kind}"><img src="{esc(p.file)}" alt="{esc(p.kind)}: '
                f'{esc(s.title)}"><figcaption>{esc(p.caption)}</figcaption></figure>'
            )
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def _html_table(headers: list[str], rows: list[tuple]) -> str:
    esc = html.escape
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f'<td class="{esc(str(v))}">{esc(str(v))}</td>' for v in row) + "</tr>"
        for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _markdown(sections: list[Section], summary_rows: list[tuple]) -> str:
    def table(headers, rows):
        lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
        lines += ["| " + " | ".join(str(v).replace("|", "\\|") for v in r) + " |" for r in rows]
        return "\n".join(lines)

    out = ["# Greybound Lab report", "", "## Summary", ""]
    out.append(
        table(["golden", "model", "checks", "failed", "worst ESR (dB)", "plots"], summary_rows)
    )
    for s in sections:
        out += ["", f"## {s.title}", ""]
        out += [f"*{n}*" for n in s.notes]
        if s.table:
            out += ["", table(*s.table), ""]
        out += [f"![{p.kind}]({p.file})" for p in s.plots]
    return "\n".join(out) + "\n"


def build_report(
    output_dir: str | Path,
    trend_db: str | Path | None = None,
    pattern: str | None = None,
    root: str | Path | None = None,
    registry: Registry | None = None,
    gates_dir: str | Path | None = None,
    progress: bool = False,
) -> Report:
    """Write ``report.html``, ``report.md`` and ``plots/`` into ``output_dir``.

    Goldens come from ``registry`` (default :data:`harness.golden.REGISTRY`, filtered by
    ``pattern``) and ``root`` (default ``golden/``), judged with the gate files in
    ``gates_dir`` (default ``fixtures/gates``); trends from ``trend_db`` (default
    ``$GREYBOUND_TREND_DB`` or ``.greybound/trend.sqlite``).
    """
    output_dir = Path(output_dir)
    plot_dir = output_dir / "plots"
    plot_dir.mkdir(parents=True, exist_ok=True)
    for stale in plot_dir.glob("*.png"):
        stale.unlink()
    registry = golden_mod.REGISTRY if registry is None else registry
    root = golden_mod.GOLDEN_DIR if root is None else root
    gates_dir = Path(gates.GATES_DIR if gates_dir is None else gates_dir)
    trend_db = Path(trend_db) if trend_db is not None else default_db_path()
    sections: list[Section] = []
    summary_rows: list[tuple] = []
    producers = registry.producers(pattern)
    if progress:
        from tqdm import tqdm

        producers = tqdm(producers, desc="report", unit="golden", leave=False)
    for producer in producers:
        try:
            committed = golden_mod.load_golden(producer.name, root)
        except GoldenError as exc:
            sections.append(Section(title=producer.name, notes=[str(exc)]))
            summary_rows.append((producer.name, producer.model, 0, 0, "nan", 0))
            continue
        if not committed.data.audio:
            continue
        try:
            fresh = producer.run()
        except GoldenError as exc:
            fresh = None
            note = str(exc)
        else:
            note = None
        section, summary = _golden_section(producer, committed, fresh, plot_dir, gates_dir)
        if note:
            section.notes.insert(0, note)
        sections.append(section)
        summary_rows.append(summary)
    sections.append(_trend_section(trend_db, plot_dir))
    html_path = output_dir / "report.html"
    md_path = output_dir / "report.md"
    html_path.write_text(_html(sections, summary_rows), encoding="utf-8")
    md_path.write_text(_markdown(sections, summary_rows), encoding="utf-8")
    if not any(s.plots for s in sections):
        raise LabError(f"{html_path}: nothing to plot (no goldens with audio, no trend data)")
    return Report(html_path, md_path, sections, summary_rows)


def plot_golden_check(metric: str, fresh: GoldenData, gold: GoldenData, path: str | Path) -> Path:
    """Evidence for one failing golden check, drawn to ``path`` (PNG).

    ``esr_db[<signal>]``: golden and fresh waveforms and their difference (V) over
    time. ``delta_<family>[...]``: golden and fresh values of every snapshot metric of that
    family (THD vs level for ``delta_thd_pct``).
    """
    plt = _pyplot()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    signal = re.fullmatch(r"esr_db\[(\w+)\]", metric)
    if signal and signal[1] in gold.audio and signal[1] in fresh.audio:
        g = np.asarray(gold.audio[signal[1]], dtype=np.float64)
        f = np.asarray(fresh.audio[signal[1]], dtype=np.float64)[: g.size]
        t = np.arange(f.size) / gold.sample_rate
        fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(8, 5), sharex=True, layout="constrained")
        ax1.plot(t, g[: f.size], label="golden", linewidth=1)
        ax1.plot(t, f, "--", label="fresh", linewidth=0.8)
        ax1.set_ylabel("output (V)")
        ax1.legend()
        ax2.plot(t, f - g[: f.size], color="red", linewidth=0.8)
        ax2.set_ylabel("fresh − golden (V)")
        ax2.set_xlabel("time (s)")
        fig.suptitle(metric, fontsize=10)
    else:
        family = metric.removeprefix("delta_").split("[", 1)[0]
        names = sorted(n for n in gold.metrics if n.split("[", 1)[0] == family)
        fig, ax = plt.subplots(figsize=(8, 4), layout="constrained")
        x = np.arange(len(names))
        ax.bar(x - 0.2, [gold.metrics[n].value for n in names], 0.4, label="golden")
        ax.bar(
            x + 0.2,
            [fresh.metrics[n].value if n in fresh.metrics else np.nan for n in names],
            0.4,
            label="fresh",
        )
        ax.set_xticks(x, names, rotation=30, ha="right", fontsize=7)
        unit = gold.metrics[names[0]].unit if names else ""
        ax.set_ylabel(f"{family} ({unit})")
        ax.legend()
        ax.set_title(metric, fontsize=10)
    _save(fig, path)
    return path
