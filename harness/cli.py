"""The ``greybound-lab`` command line: parse arguments, call one function, print.

Each sub-command shares its name with the function it calls (``spice-dataset`` ↔
``harness.spice.build_dataset``). Heavy modules are imported inside the handlers so that
``greybound-lab --help`` stays fast and a missing optional extra only affects its command.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable

Handler = Callable[[argparse.Namespace], int]

#: Each section below appends its ``_add_*`` function; ``build_parser`` calls them in order.
REGISTRARS: list[Callable] = []


def _print_json(obj) -> None:
    print(json.dumps(obj, indent=2, sort_keys=True, default=str))


# --- commands: demo (issue 2) ------------------------------------------------------------
def _cmd_demo(args: argparse.Namespace) -> int:
    from harness.demo import run_demo

    summary_path = run_demo(args.output_dir)
    print(f"demo report: {summary_path}")
    return 0


def _add_demo(sub) -> None:
    p = sub.add_parser(
        "demo", help="render the built-in stages on built-in stimuli; write a report"
    )
    p.add_argument("--output-dir", default="reports", help="where WAVs and the summary go")
    p.set_defaults(handler=_cmd_demo)


REGISTRARS.append(_add_demo)


# --- commands: stages (issue 2) ----------------------------------------------------------
def _cmd_stages(args: argparse.Namespace) -> int:
    from harness.runtime import describe_stages

    _print_json(describe_stages())
    return 0


def _add_stages(sub) -> None:
    p = sub.add_parser("stages", help="list the runtime's stage kinds and their parameters")
    p.set_defaults(handler=_cmd_stages)


REGISTRARS.append(_add_stages)


# --- commands: stimuli (issue 3) ---------------------------------------------------------
def _cmd_stimuli(args: argparse.Namespace) -> int:
    from harness.stimuli import write_set

    for path in write_set(args.set, args.output_dir, sample_rate=args.sample_rate):
        print(path)
    return 0


def _add_stimuli(sub) -> None:
    p = sub.add_parser("stimuli", help="write a stimulus set as float WAVs + JSON sidecars")
    p.add_argument("--set", default="standard", help="stimulus set name (default: standard)")
    p.add_argument("--output-dir", required=True, help="directory for the WAV and JSON files")
    p.add_argument("--sample-rate", type=int, default=48000, help="sample rate in Hz")
    p.set_defaults(handler=_cmd_stimuli)


REGISTRARS.append(_add_stimuli)
# --- end stimuli -------------------------------------------------------------------------

# --- commands: spice (issue 4) -----------------------------------------------------------
#: ``spice-dataset --size`` choices (``harness.spice.plan.SIZES``, kept here so ``--help`` stays
#: free of heavy imports).
SPICE_DATASET_SIZES = ("smoke", "default", "full")


def _parse_overrides(items: list[str]) -> dict[str, float]:
    from harness.errors import LabError

    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        try:
            out[name] = float(value)
        except ValueError:
            sep = ""
        if not sep or not name:
            raise LabError(
                f"--set {item!r}: expected NAME=NUMBER (SI units), e.g. --set b_plus=275"
            )
    return out


def _cmd_spice_run(args: argparse.Namespace) -> int:
    from harness.spice import run
    from harness.spice.cell_run import format_run

    result = run(args.fixture, _parse_overrides(args.set))
    if args.json:
        _print_json(result)
    else:
        print(format_run(result))
    return 0


def _add_spice_run(sub) -> None:
    p = sub.add_parser(
        "spice-run", help="a SPICE cell's DC operating point and 1 kHz small-signal gain"
    )
    p.add_argument(
        "--fixture", required=True, help="cell name under fixtures/spice/ (or a fixture dir)"
    )
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a cell parameter (SI units); repeatable",
    )
    p.add_argument("--json", action="store_true", help="print a machine-readable result")
    p.set_defaults(handler=_cmd_spice_run)


def _cmd_spice_dataset(args: argparse.Namespace) -> int:
    from harness.spice import build_dataset

    result = build_dataset(
        args.fixture,
        args.output_dir,
        jobs=args.jobs,
        scheduler=args.scheduler,
        size=args.size,
        progress=not args.no_progress,
    )
    print(f"{result.n_cases} cases -> {result.package}")
    print(f"manifest: {result.manifest}")
    print(f"report: {result.report}")
    if result.failed_cases:
        print(f"FAILED to converge ({len(result.failed_cases)}): {', '.join(result.failed_cases)}")
        return 1
    return 0


def _add_spice_dataset(sub) -> None:
    p = sub.add_parser(
        "spice-dataset", help="simulate a SPICE cell's multi-stimulus corpus into a dataset"
    )
    p.add_argument(
        "--fixture", required=True, help="cell name under fixtures/spice/ (or a fixture dir)"
    )
    p.add_argument("--output-dir", required=True, help="where the package, manifest and report go")
    p.add_argument(
        "--jobs", type=int, default=None, help="local worker processes (default: CPU count)"
    )
    p.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="run the cases on a Dask distributed scheduler, e.g. tcp://host:8786",
    )
    p.add_argument(
        "--size",
        default="default",
        choices=SPICE_DATASET_SIZES,
        help="plan size: smoke (2 cases), default (minutes on 2 cores), full (clusters)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(handler=_cmd_spice_dataset)


def _cmd_spice_golden(args: argparse.Namespace) -> int:
    from harness.spice import check_golden, write_goldens
    from harness.spice.cell import fixture_names
    from harness.spice.golden import GOLDEN_DIR, drift_table

    fixtures = args.fixture or fixture_names()
    root = args.golden_dir or GOLDEN_DIR
    if not args.check:
        for path in write_goldens(fixtures, root):
            print(f"wrote {path}")
        return 0
    results = [r for name in fixtures for r in check_golden(name, root)]
    if args.json:
        _print_json(drift_table(results))
    else:
        print("\n".join(r.format() for r in results))
    return 0 if all(r.ok for r in results) else 1


def _add_spice_golden(sub) -> None:
    p = sub.add_parser(
        "spice-golden", help="write (or --check) the SPICE goldens under golden/spice/"
    )
    p.add_argument(
        "--fixture", action="append", default=[], help="cell name; repeatable (default: all)"
    )
    p.add_argument(
        "--check", action="store_true", help="re-simulate and report drift instead of writing"
    )
    p.add_argument("--golden-dir", default=None, help="golden root (default: golden/spice)")
    p.add_argument("--json", action="store_true", help="with --check: machine-readable drift table")
    p.set_defaults(handler=_cmd_spice_golden)


REGISTRARS.append(_add_spice_run)
REGISTRARS.append(_add_spice_dataset)
REGISTRARS.append(_add_spice_golden)
# --- end spice ---------------------------------------------------------------------------


# --- commands: gates, trend, golden, report (issue 5) -------------------------------------
def _trend_store(args: argparse.Namespace):
    from harness.trend import TrendStore

    return TrendStore(args.trend_db)


def _cmd_trend_list(args: argparse.Namespace) -> int:
    from harness.trend import format_runs

    with _trend_store(args) as store:
        print(format_runs(store.runs()))
    return 0


def _cmd_trend_show(args: argparse.Namespace) -> int:
    from harness.trend import format_series, plot_series

    with _trend_store(args) as store:
        points = store.series(args.metric, fixture=args.fixture)
    print(format_series(points))
    if args.plot:
        print(f"plot: {plot_series(points, args.plot, title=args.metric)}")
    return 0


def _cmd_trend_compare(args: argparse.Namespace) -> int:
    from harness.trend import CompareRule, compare, format_comparison

    rule = CompareRule(
        window=args.window, k=args.k, rel_floor=args.rel_floor, abs_floor=args.abs_floor
    )
    with _trend_store(args) as store:
        result = compare(store, args.run_a, args.run_b, rule)
    print(format_comparison(result))
    return 1 if result.regressions else 0


def _cmd_trend_export(args: argparse.Namespace) -> int:
    with _trend_store(args) as store:
        if args.csv == "-":
            store.export_csv(sys.stdout)
            return 0
        with open(args.csv, "w", newline="", encoding="utf-8") as out:
            n = store.export_csv(out)
    print(f"{n} measurements written to {args.csv}")
    return 0


def _cmd_trend_import_bench(args: argparse.Namespace) -> int:
    from harness.trend import import_benchmark_json

    with _trend_store(args) as store:
        run_id = import_benchmark_json(store, args.json)
        print(f"imported {args.json} as run {run_id} into {store.path}")
    return 0


def _add_trend(sub) -> None:
    db = argparse.ArgumentParser(add_help=False)
    db.add_argument(
        "--trend-db", metavar="PATH", default=None,
        help="trend store (default $GREYBOUND_TREND_DB, else .greybound/trend.sqlite)",
    )  # fmt: skip
    p = sub.add_parser("trend", help="the trend store: runs, series, regressions, export")
    tsub = p.add_subparsers(dest="trend_command", required=True, metavar="TREND_COMMAND")
    q = tsub.add_parser("list", parents=[db], help="list the stored runs")
    q.set_defaults(handler=_cmd_trend_list)
    q = tsub.add_parser("show", parents=[db], help="one metric's values over the runs")
    q.add_argument("metric")
    q.add_argument("--fixture", default=None, help="only this fixture's series")
    q.add_argument("--plot", metavar="PNG", default=None, help="also draw the trend to this PNG")
    q.set_defaults(handler=_cmd_trend_show)
    q = tsub.add_parser(
        "compare", parents=[db], help="judge run B against run A's history; exit 1 on a regression"
    )
    q.add_argument("run_a", metavar="RUN_A", help="baseline: run id, 'latest' or 'latest~N'")
    q.add_argument("run_b", metavar="RUN_B", help="candidate: run id, 'latest' or 'latest~N'")
    q.add_argument("--window", type=int, default=10, help="history runs up to RUN_A (N)")
    q.add_argument("--k", type=float, default=4.0, help="tolerance in normal-scaled MADs")
    q.add_argument("--rel-floor", type=float, default=0.05, help="tolerance floor, x |median|")
    q.add_argument("--abs-floor", type=float, default=1e-9, help="tolerance floor, metric units")
    q.set_defaults(handler=_cmd_trend_compare)
    q = tsub.add_parser("export", parents=[db], help="export every measurement")
    q.add_argument(
        "--csv", nargs="?", const="-", required=True, metavar="PATH",
        help="write CSV to PATH (stdout when PATH is omitted)",
    )  # fmt: skip
    q.set_defaults(handler=_cmd_trend_export)
    q = tsub.add_parser("import-bench", parents=[db], help="import pytest-benchmark JSON results")
    q.add_argument("json", metavar="JSON")
    q.set_defaults(handler=_cmd_trend_import_bench)


REGISTRARS.append(_add_trend)


def _cmd_golden_check(args: argparse.Namespace) -> int:
    from harness import golden

    results = golden.check(args.fixture, progress=True)
    print(golden.format_check(results))
    return 0 if all(r.passed for r in results) else 1


def _cmd_golden_update(args: argparse.Namespace) -> int:
    from harness import golden

    print(golden.format_update(golden.update(args.fixture, write=args.write, progress=True)))
    return 0


def _add_golden(sub) -> None:
    p = sub.add_parser("golden", help="check or regenerate the committed goldens under golden/")
    gsub = p.add_subparsers(dest="golden_command", required=True, metavar="GOLDEN_COMMAND")
    fixture = argparse.ArgumentParser(add_help=False)
    fixture.add_argument(
        "--fixture", default=None, metavar="F",
        help="golden name, group (stages), last component (tone_stack) or glob; default all",
    )  # fmt: skip
    q = gsub.add_parser(
        "check", parents=[fixture], help="re-render and compare with the goldens; exit 1 on a fail"
    )
    q.set_defaults(handler=_cmd_golden_check)
    q = gsub.add_parser(
        "update", parents=[fixture], help="re-render, print the diff; write only with --write"
    )
    q.add_argument("--write", action="store_true", help="replace the committed golden files")
    q.set_defaults(handler=_cmd_golden_update)


REGISTRARS.append(_add_golden)


def _cmd_report(args: argparse.Namespace) -> int:
    from harness.report import build_report

    report = build_report(
        args.output_dir, trend_db=args.trend_db, pattern=args.fixture, progress=True
    )
    print(report.summary())
    return 0


def _add_report(sub) -> None:
    p = sub.add_parser("report", help="write the HTML + Markdown report with plots (offline)")
    p.add_argument("--output-dir", required=True, metavar="DIR", help="where the report goes")
    p.add_argument(
        "--trend-db", metavar="PATH", default=None,
        help="trend store (default $GREYBOUND_TREND_DB, else .greybound/trend.sqlite)",
    )  # fmt: skip
    p.add_argument("--fixture", default=None, metavar="F", help="only these goldens")
    p.set_defaults(handler=_cmd_report)


REGISTRARS.append(_add_report)


# --- end gates ---------------------------------------------------------------------------


# --- commands: neural cells (issue 6) -----------------------------------------------------
def _cmd_train_neural_cell(args: argparse.Namespace) -> int:
    from harness.cells.train import train_neural_cell

    path = train_neural_cell(args.cell, args.dataset_manifest, args.output_dir, seed=args.seed,
                             epochs=args.epochs, progress=not args.quiet)  # fmt: skip
    print(f"artifact: {path}")
    return 0


def _cmd_export_neural_cell_vectors(args: argparse.Namespace) -> int:
    from harness.cells.vectors import export_neural_cell_vectors

    print(f"vectors: {export_neural_cell_vectors(args.descriptor, args.output)}")
    return 0


def _cmd_export_onnx(args: argparse.Namespace) -> int:
    from harness.cells.onnx_export import export_onnx

    print(f"onnx: {export_onnx(args.descriptor, args.output)} (checked with onnxruntime)")
    return 0


def _cmd_evaluate_neural_cell(args: argparse.Namespace) -> int:
    from harness.cells.evaluate import evaluate_neural_cell

    report = evaluate_neural_cell(args.descriptor, args.dataset_manifest, args.report, args.stride)
    print(report.read_text())
    return 0


def _cmd_evaluate_analytic(args: argparse.Namespace) -> int:
    from harness.cells.evaluate import evaluate_analytic

    report = evaluate_analytic(args.fixture, args.dataset_manifest, args.report, args.stride)
    print(report.read_text())
    return 0


def _add_cells(sub) -> None:
    p = sub.add_parser("train-neural-cell", help="train a learned cell on a SPICE dataset")
    p.add_argument("--cell", required=True, help="fixtures/cells/<NAME>.json5 (or a path)")
    p.add_argument("--dataset-manifest", required=True, help="<fixture>.dataset.json")
    p.add_argument("--output-dir", required=True, help="where the artifact is written")
    p.add_argument("--seed", type=int, default=None, help="override the spec's seed")
    p.add_argument("--epochs", type=int, default=None, help="override the spec's epoch limit")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(handler=_cmd_train_neural_cell)
    p = sub.add_parser("export-neural-cell-vectors", help="PyTorch equivalence vectors")
    p.add_argument("--descriptor", required=True, help="model.greybound.json")
    p.add_argument("--output", required=True, help="vectors JSON to write")
    p.set_defaults(handler=_cmd_export_neural_cell_vectors)
    p = sub.add_parser("export-onnx", help="optional ONNX export, verified with onnxruntime")
    p.add_argument("--descriptor", required=True, help="model.greybound.json")
    p.add_argument("--output", required=True, help=".onnx file to write")
    p.set_defaults(handler=_cmd_export_onnx)
    p = sub.add_parser("evaluate-neural-cell", help="cells vs analytic vs SPICE held-out cases")
    p.add_argument("--descriptor", required=True, action="append", help="repeatable")
    p.add_argument("--dataset-manifest", required=True)
    p.add_argument("--report", required=True, help="Markdown report path (+ .json twin)")
    p.add_argument("--stride", type=int, default=1, help="measure every N-th sample")
    p.set_defaults(handler=_cmd_evaluate_neural_cell)
    p = sub.add_parser("evaluate-analytic", help="the analytic stage vs SPICE held-out cases")
    p.add_argument("--fixture", required=True)
    p.add_argument("--dataset-manifest", required=True)
    p.add_argument("--report", required=True)
    p.add_argument("--stride", type=int, default=1)
    p.set_defaults(handler=_cmd_evaluate_analytic)


REGISTRARS.append(_add_cells)


def _cmd_gate(args: argparse.Namespace) -> int:
    from pathlib import Path

    from harness.premerge import format_table, gate, record

    criteria = gate(args.candidate, args.baseline)
    path = Path(args.candidate)
    name = (path if path.is_dir() else path.parent).name
    print(format_table(name, criteria))
    if not args.no_trend:
        print(f"recorded as trend run {record(name, criteria, args.trend_db)}")
    return 0 if all(c.passed for c in criteria) else 1


def _add_gate(sub) -> None:
    p = sub.add_parser("gate", help="pre-merge gate for one learned-cell artifact")
    p.add_argument("--candidate", required=True, help="artifact directory or model.greybound.json")
    p.add_argument("--baseline", default=None, help="artifact to beat (default: analytic stage)")
    p.add_argument("--trend-db", default=None, help="trend store (default .greybound/trend.sqlite)")
    p.add_argument("--no-trend", action="store_true", help="do not record the result")
    p.set_defaults(handler=_cmd_gate)


REGISTRARS.append(_add_gate)
# --- end neural cells ---------------------------------------------------------------------


# --- commands: wavenet (issue 8) ---------------------------------------------------------
def _cmd_train_wavenet(args: argparse.Namespace) -> int:
    from harness.cells.wavenet_train import train_wavenet

    path = train_wavenet(
        args.config,
        args.output_dir,
        resume=args.resume,
        progress=not args.quiet,
        stop_after_epochs=args.stop_after_epochs,
    )
    if path is None:
        print(f"stopped; checkpoint in {args.output_dir} (continue with --resume)")
    else:
        print(f"artifact: {path}\nvectors: {path.parent / 'vectors.json'}\n"
              f"report: {path.parent / 'report.md'}")  # fmt: skip
    return 0


def _add_train_wavenet(sub) -> None:
    p = sub.add_parser("train-wavenet", help="train the knob-conditioned WaveNet on a rig")
    p.add_argument("--config", required=True, help="fixtures/models/<NAME>.json5 (or a path)")
    p.add_argument("--output-dir", required=True,
                   help="artifact, vectors.json, report.md, training.json, checkpoint")  # fmt: skip
    p.add_argument("--resume", action="store_true", help="continue from the checkpoint")
    p.add_argument("--stop-after-epochs", type=int, default=None, metavar="N",
                   help="end this run after N epochs (resume later)")  # fmt: skip
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(handler=_cmd_train_wavenet)


REGISTRARS.append(_add_train_wavenet)
# --- end wavenet ---------------------------------------------------------------------------


# --- commands: cabinet IR (issue 8) ----------------------------------------------------
def _cmd_make_cab_ir(args: argparse.Namespace) -> int:
    from harness.cabs import make_cab_ir

    sidecar = make_cab_ir(args.output, args.sample_rate)
    print(f"cab IR: {args.output} ({sidecar['samples']} samples at {sidecar['sample_rate']} Hz, "
          f"sha256 {sidecar['sha256']})")  # fmt: skip
    return 0


def _add_make_cab_ir(sub) -> None:
    p = sub.add_parser("make-cab-ir", help="write the synthetic 2x12 open-back cabinet IR")
    p.add_argument("--output", required=True, metavar="OUT.wav",
                   help="32-bit float mono WAV (+ OUT.json: recipe, SHA-256)")  # fmt: skip
    p.add_argument("--sample-rate", type=int, default=48000, help="Hz (default 48000)")
    p.set_defaults(handler=_cmd_make_cab_ir)


REGISTRARS.append(_add_make_cab_ir)
# --- end cabinet IR ----------------------------------------------------------------------


# --- commands: rigs (issue 7) --------------------------------------------------------------
def _parse_knobs(items: list[str]) -> dict[str, float]:
    from harness.errors import InputError

    knobs = {}
    for item in items:
        name, sep, value = item.partition("=")
        try:
            knobs[name] = float(value)
        except ValueError:
            raise InputError(f"--knob {item!r}: expected NAME=NUMBER") from None
        if not sep or not name:
            raise InputError(f"--knob {item!r}: expected NAME=NUMBER")
    return knobs


def _parse_neural_cell(item: str | None) -> tuple[str, str] | None:
    from harness.errors import InputError

    if item is None:
        return None
    stage, sep, artifact = item.partition("=")
    if not sep or not stage or not artifact:
        raise InputError(f"--neural-cell {item!r}: expected STAGE=ARTIFACT")
    return stage, artifact


def _cmd_render(args: argparse.Namespace) -> int:
    from harness.rigs import render

    summary = render(args.rig, args.input, args.output, knobs=_parse_knobs(args.knob),
                     channel=args.channel, resample=args.resample, monitor_log=args.monitor_log,
                     neural_cell=_parse_neural_cell(args.neural_cell),
                     neural_cell_mode=args.neural_cell_mode,
                     block_size=args.block_size,
                     cab=None if args.cab is None else args.cab == "on")  # fmt: skip
    _print_json(summary)
    return 0


def _add_render(sub) -> None:
    p = sub.add_parser("render", help="render a WAV through a rig (fixtures/rigs/*.rig.json5)")
    p.add_argument("--rig", required=True, help="rig file, or a name in fixtures/rigs/")
    p.add_argument("--input", required=True, metavar="IN.wav", help="mono WAV (1.0 = 1 V)")
    p.add_argument("--output", required=True, metavar="OUT.wav", help="32-bit float WAV")
    p.add_argument("--knob", action="append", default=[], metavar="NAME=VALUE",
                   help="knob setting in the knob's range (repeatable)")  # fmt: skip
    p.add_argument("--channel", default=None, help="channel (default: the rig's)")
    p.add_argument("--resample", action="store_true",
                   help="convert an input at another rate with scipy.signal.resample_poly "
                        "(polyphase FIR, Kaiser beta 5); without it a rate mismatch "
                        "is an error")  # fmt: skip
    p.add_argument("--monitor-log", default=None, metavar="PATH",
                   help="write the monitor log (JSON lines per block, then a summary)")  # fmt: skip
    p.add_argument("--neural-cell", default=None, metavar="STAGE=ARTIFACT",
                   help="bind a learned cell (artifact dir, model.greybound.json, or a name in "
                        "golden/cells/) to a stage")  # fmt: skip
    p.add_argument("--neural-cell-mode", choices=("shadow", "replace"), default="shadow",
                   help="shadow: audio from the analytic stage, cell error in the log; "
                        "replace: the cell's output goes on (default: shadow)")  # fmt: skip
    p.add_argument("--block-size", type=int, default=256, metavar="N",
                   help="block size (samples) of a monitored render (default 256)")  # fmt: skip
    p.add_argument("--cab", choices=("on", "off"), default=None,
                   help="include or exclude the rig's cab IR (default: as the rig file says; "
                        "'on' is an error for a rig without one)")  # fmt: skip
    p.set_defaults(handler=_cmd_render)


REGISTRARS.append(_add_render)


def _cmd_evaluate_integrated_neural_cell(args: argparse.Namespace) -> int:
    from harness.integration import DEFAULT_CELLS, evaluate_integrated_neural_cell

    result = evaluate_integrated_neural_cell(
        rig=args.rig, stage=args.stage, cells=tuple(args.cell or DEFAULT_CELLS),
        input_path=args.input, seconds=args.seconds, knobs=_parse_knobs(args.knob),
        channel=args.channel, report=args.report,
    )  # fmt: skip
    print(f"report: {result.report}")
    for c in result.cells:
        print(f"{c.cell}: shadow RMS error {c.shadow_rms_error_v:.3f} V "
              f"({c.shadow_rms_error_db if c.shadow_rms_error_db is not None else float('nan'):.2f}"
              f" dB re stage); replace vs analytic ESR {c.esr:.4f}, "
              f"null {c.null_residual_db:.2f} dB")  # fmt: skip
    return 0


def _add_evaluate_integrated_neural_cell(sub) -> None:
    p = sub.add_parser(
        "evaluate-integrated-neural-cell",
        help="render a rig analytic, with a learned cell in shadow and in replace mode; "
        "write a Markdown report of the local mismatch and the rendered impact",
    )
    p.add_argument("--rig", default="nox30", help="rig file or name (default nox30)")
    p.add_argument("--stage", default=None,
                   help="stage to bind (default: the rig's first triode stage)")  # fmt: skip
    p.add_argument("--cell", action="append", default=None, metavar="ARTIFACT",
                   help="artifact (dir, model.greybound.json or golden/cells name); repeatable; "
                        "default: the three golden common-cathode-12ax7 cells")  # fmt: skip
    p.add_argument("--input", default=None, metavar="IN.wav",
                   help="mono WAV at the rig's rate (default: the built-in DI phrase)")  # fmt: skip
    p.add_argument("--seconds", type=float, default=8.0,
                   help="length of the built-in DI phrase (s, default 8)")  # fmt: skip
    p.add_argument("--knob", action="append", default=[], metavar="NAME=VALUE")
    p.add_argument("--channel", default=None)
    p.add_argument("--report", default="reports/integrated-neural-first-stage.md",
                   help="Markdown report; WAVs and monitor logs go to <report stem>/")  # fmt: skip
    p.set_defaults(handler=_cmd_evaluate_integrated_neural_cell)


REGISTRARS.append(_add_evaluate_integrated_neural_cell)
# --- end rigs ------------------------------------------------------------------------------


# --- commands: rig vs SPICE (issue 7) ------------------------------------------------------
def _cmd_compare_rig_spice(args) -> int:
    from harness.spice.compare_rig import compare_rig_with_spice, write_report

    oversample = tuple(None if v == "rig" else int(v) for v in args.oversample or ["rig", "1"])
    result = compare_rig_with_spice(
        args.rig, args.fixture, knobs=_parse_knobs(args.knob), oversample=oversample
    )
    print(f"report: {write_report(result, args.report)}")
    for c in result.configs:
        for r in c.stimuli:
            print(f"{c.label}: {r.stimulus}: ESR {r.esr:.4f}, null {r.null_residual_db:.1f} dB, "
                  f"level {r.level_diff_db:+.2f} dB")  # fmt: skip
    return 0


def _add_compare_rig_spice(sub) -> None:
    p = sub.add_parser(
        "compare-rig-spice",
        help="render stimuli through a SPICE chain fixture and the rig's leading stages; "
        "write a Markdown report (ESR, null, band residuals, THD vs level)",
    )
    p.add_argument("--rig", default="nox30", help="rig file or name (default nox30)")
    p.add_argument("--fixture", default="nox30-preamp",
                   help="SPICE chain fixture (default nox30-preamp)")  # fmt: skip
    p.add_argument("--knob", action="append", default=[], metavar="NAME=VALUE")
    p.add_argument("--oversample", action="append", choices=["rig", "1", "2", "4", "8"],
                   help="rig configuration: 'rig' = as the rig file says, N = every stage "
                        "at N x; repeatable (default: rig and 1)")  # fmt: skip
    p.add_argument("--report", default="reports/nox30-preamp-vs-spice.md",
                   help="Markdown report path")  # fmt: skip
    p.set_defaults(handler=_cmd_compare_rig_spice)


REGISTRARS.append(_add_compare_rig_spice)
# --- end rig vs SPICE ----------------------------------------------------------------------


# --- commands: issue 9 / nam ----------------------------------------------------------------
def _cmd_nam_info(args: argparse.Namespace) -> int:
    from harness.nam import info

    _print_json(info(args.path, slim=args.slim))
    return 0


def _cmd_nam_render(args: argparse.Namespace) -> int:
    from harness.nam import render

    summary = render(args.model, args.input, args.output, slim=args.slim,
                     fast_tanh=args.fast_tanh, resample=args.resample)  # fmt: skip
    if summary["resampled_from"] is not None:
        print(f"resampled {summary['resampled_from']} Hz -> {summary['sample_rate']:g} Hz "
              f"with {summary['resampler']}")  # fmt: skip
    print(f"wrote {summary['output']}: {summary['samples']} samples at "
          f"{summary['sample_rate']:g} Hz, peak {summary['peak_dbfs']:.2f} dBFS")  # fmt: skip
    return 0


def _add_nam(sub) -> None:
    p = sub.add_parser("nam", help="NAM captures (.nam files): inspect and render")
    nam_sub = p.add_subparsers(dest="nam_command", required=True, metavar="NAM_COMMAND")
    q = nam_sub.add_parser("info", help="print a .nam file's architecture, version, sample "
                           "rate, receptive field, metadata and slim values as JSON")  # fmt: skip
    q.add_argument("path", help=".nam file")
    q.add_argument("--slim", type=float, default=None,
                   help="slim value in [0, 1]: a SlimmableContainer's submodel or a "
                        "slimmable WaveNet's width (default: full size)")  # fmt: skip
    q.set_defaults(handler=_cmd_nam_info)
    r = nam_sub.add_parser("render", help="render a mono WAV through a .nam model in the "
                           "runtime; write a 32-bit float WAV at the model's rate")  # fmt: skip
    r.add_argument("--model", required=True, help=".nam file")
    r.add_argument("--input", required=True, help="input WAV (mono, full-scale units)")
    r.add_argument("--output", required=True, help="output WAV path")
    r.add_argument("--slim", type=float, default=None,
                   help="slim value in [0, 1]: a SlimmableContainer's submodel or a "
                        "slimmable WaveNet's width (default: full size)")  # fmt: skip
    r.add_argument("--fast-tanh", action="store_true",
                   help="use the runtime's fast tanh (default: exact tanh)")  # fmt: skip
    r.add_argument("--resample", action="store_true",
                   help="convert an input at another rate with scipy.signal.resample_poly "
                        "(default: a rate mismatch is an error)")  # fmt: skip
    r.set_defaults(handler=_cmd_nam_render)


REGISTRARS.append(_add_nam)
# --- end issue 9 / nam ------------------------------------------------------------------------


# --- commands: issue 8 / wavenet golden ----------------------------------------------------
def _cmd_wavenet_golden(args: argparse.Namespace) -> int:
    from harness.golden import WAVENET_REPORT_JSON, write_wavenet_golden

    directory = write_wavenet_golden(args.run_dir, args.golden_dir)
    report = json.loads((directory / WAVENET_REPORT_JSON).read_text())
    controls = json.loads((directory / "model.greybound.json").read_text())["controls"]
    print(f"golden: {directory}")
    for row in report["held_out_esr"]:
        knobs = ", ".join(f"{c['name']} {row['knobs'][c['name']]:g}" for c in controls)
        print(f"  {row['split']:<10} {knobs:<24} ESR {row['esr']:.4f} ({row['grade']})")
    return 0


def _add_wavenet_golden(sub) -> None:
    p = sub.add_parser("wavenet-golden", help="a train-wavenet run → golden/wavenet/<model>/")
    p.add_argument("--run-dir", required=True, help="the train-wavenet --output-dir")
    p.add_argument("--golden-dir", default=None, help="golden root (default golden/)")
    p.set_defaults(handler=_cmd_wavenet_golden)


REGISTRARS.append(_add_wavenet_golden)
# --- end issue 8 / wavenet golden ----------------------------------------------------------


# --- commands: issue 9 / compare-nam ---------------------------------------------------------
def _cmd_compare_nam(args: argparse.Namespace) -> int:
    from harness.nam_compare import compare_nam, format_verdict

    result = compare_nam(
        args.rig, args.nam, knobs=_parse_knobs(args.knob), channel=args.channel,
        stimuli=args.stimulus_set, level_policy=args.level_policy, cab=args.cab, slim=args.slim,
        report_dir=args.report, trend_db=args.trend_db, record_trend=not args.no_trend,
    )  # fmt: skip
    print(format_verdict(result))
    print(f"report: {args.report}/report.html")
    return 0 if result.passed else 1


def _add_compare_nam(sub) -> None:
    p = sub.add_parser(
        "compare-nam",
        help="compare a rig with a NAM capture by protocol (rate, level, cab, latency, gain "
        "match, ESR/null/MRSTFT/log-mel/THD/IMD/envelope/bands); report + trend rows + gate "
        "(exit 1 when the gate fails)",
    )
    p.add_argument("--rig", required=True, help="rig file, or a name in fixtures/rigs/")
    p.add_argument("--knob", action="append", default=[], metavar="NAME=VALUE",
                   help="rig knob setting (repeatable; others at the rig's defaults)")  # fmt: skip
    p.add_argument("--channel", default=None, help="rig channel (default: the rig's)")
    p.add_argument("--nam", required=True, help=".nam file (its NAME.capture.json5 beside it)")
    p.add_argument("--stimulus-set", default="standard",
                   help="standard (harness.stimuli, ~40 s) or quick (~9 s)")  # fmt: skip
    p.add_argument("--report", required=True, metavar="DIR",
                   help="report directory: report.html, report.md, result.json, "
                        "plots/")  # fmt: skip
    p.add_argument("--level-policy", choices=("raw", "normalized", "calibrated"),
                   default="calibrated",
                   help="calibrated: dBu calibration from the sidecar (default); raw: floats "
                        "as they are; normalized: every stimulus at -18 dBFS RMS")  # fmt: skip
    p.add_argument("--cab", choices=("off", "on"), default="off",
                   help="cab IR in both renders or in neither; must match the capture's "
                        "includes_cab (default off)")  # fmt: skip
    p.add_argument("--slim", type=float, default=None,
                   help="SlimmableContainer size in [0, 1] (default: full size)")  # fmt: skip
    p.add_argument("--trend-db", default=None,
                   help="trend store (default $GREYBOUND_TREND_DB, else "
                        ".greybound/trend.sqlite)")  # fmt: skip
    p.add_argument("--no-trend", action="store_true", help="do not record trend rows")
    p.set_defaults(handler=_cmd_compare_nam)


def _cmd_nam_capture(args: argparse.Namespace) -> int:
    import shlex

    from harness.nam_capture import capture_spec, make_capture

    spec = capture_spec(args.preset, name=args.name, channel=args.channel,
                        knobs=_parse_knobs(args.knob), rig=args.rig, epochs=args.epochs,
                        seed=args.seed)  # fmt: skip
    parts = ["greybound-lab", "nam-capture"]
    for flag, value in (("--preset", args.preset), ("--name", args.name), ("--rig", args.rig),
                        ("--channel", args.channel), ("--epochs", args.epochs),
                        ("--seed", args.seed), ("--output-dir", args.output_dir)):  # fmt: skip
        if value is not None and not (flag == "--rig" and args.preset):
            parts += [flag, str(value)]
    parts += [f"--knob={k}" for k in args.knob]
    command = " ".join(shlex.quote(p) for p in parts)
    sidecar, summary = make_capture(spec, args.output_dir, command=command)
    esr = ", ".join(f"slim <= {k}: {v:.4f}" for k, v in sorted(summary["validation_esr"].items()))
    print(f"wrote {summary['nam']} and {sidecar.path}")
    print(f"training: {summary['wall_time_s']:.0f} s; validation ESR {esr}")
    return 0


def _add_nam_capture(sub) -> None:
    p = sub.add_parser(
        "nam-capture",
        help="make a self-made NAM capture of a rig (cab off): render training stimuli, "
        "train an A2 model with neural-amp-modeler, write NAME.nam + NAME.capture.json5 (slow)",
    )
    p.add_argument("--preset", default=None,
                   help="a committed capture to rebuild "
                        "(harness.nam_capture.CAPTURES)")  # fmt: skip
    p.add_argument("--name", default=None, help="file stem of a new capture")
    p.add_argument("--rig", default="nox30", help="rig file or name (default nox30)")
    p.add_argument("--channel", default=None, help="rig channel of a new capture")
    p.add_argument("--knob", action="append", default=[], metavar="NAME=VALUE")
    p.add_argument("--epochs", type=int, default=None, help="training epochs (default 12)")
    p.add_argument("--seed", type=int, default=None, help="seed (preset: 0)")
    p.add_argument("--output-dir", default="nam_refs", help="where to write (default nam_refs/)")
    p.set_defaults(handler=_cmd_nam_capture)


REGISTRARS.append(_add_compare_nam)
REGISTRARS.append(_add_nam_capture)
# --- end issue 9 / compare-nam ---------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="greybound-lab",
        description="Greybound Lab: prove amp models against SPICE, NAM and golden references.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for register in REGISTRARS:
        register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from harness.errors import LabError

    try:
        return int(args.handler(args) or 0)
    except LabError as exc:
        print(f"greybound-lab {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
