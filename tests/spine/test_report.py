"""The report: every plot kind drawn, and the page renders with every image in headless
Chromium (Debian package ``chromium``)."""

import shutil
import subprocess
from html.parser import HTMLParser

import pytest
from spine_toys import TOY_GATES, toy_registry

from harness import cli, golden, report
from harness.trend import Measurement, RunInfo, TrendStore

PROBE = """<script>
window.addEventListener("load", () => {
  for (const img of document.images) {
    img.setAttribute("data-natural-width", img.naturalWidth);
    img.setAttribute("data-complete", img.complete);
  }
});
</script>"""


class _Images(HTMLParser):
    def __init__(self):
        super().__init__()
        self.images, self.kinds = [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs)
        if tag == "figure":
            self.kinds.append(attrs.get("data-kind"))


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A report over the toy golden (committed, then re-rendered) and a 3-run trend store."""
    tmp_path = tmp_path_factory.mktemp("built")
    gates = tmp_path / "gates"
    gates.mkdir()
    (gates / "toys.json5").write_text(TOY_GATES)
    root = tmp_path / "golden"
    registry = toy_registry(full=True)
    golden.update(write=True, root=root, registry=registry)
    db = tmp_path / "trend.sqlite"
    with TrendStore(db) as store:
        for i in range(3):
            info = RunInfo(
                started_at=f"2026-01-0{i + 1}T00:00:00+00:00", host="h", python_version="3"
            )
            rows = [
                Measurement(
                    "t::a",
                    "toys",
                    "esr_db[sine]",
                    -140.0 - i,
                    "dB",
                    "toys/tanh",
                    "toy",
                    -100.0,
                    "lower",
                    True,
                ),
                Measurement(
                    "t::b",
                    "toys",
                    "delta_thd_pct",
                    1e-4 * i,
                    "%",
                    "toys/tanh",
                    "toy",
                    1e-3,
                    "lower",
                    True,
                ),
            ]
            store.record_run(info, rows)
    out = tmp_path / "report"
    rep = report.build_report(out, trend_db=db, root=root, registry=registry, gates_dir=gates)
    return rep, out


def test_report_draws_every_plot_kind(built):
    rep, out = built
    assert {p.kind for p in rep.plots} == set(report.PLOT_KINDS)
    assert len([p for p in rep.plots if p.kind == "trend"]) == 2
    for p in rep.plots:
        assert (out / p.file).stat().st_size > 1000
    md = rep.markdown_path.read_text()
    assert all(f"]({p.file})" in md for p in rep.plots)
    summary = rep.summary()
    assert "toys/tanh" in summary and f"{len(rep.plots)} plots" in summary


def test_report_shows_gate_verdicts_from_a_changed_render(tmp_path, built):
    rep, out = built
    section = next(s for s in rep.sections if s.title.startswith("toys/tanh"))
    assert {row[3] for row in section.table[1]} == {"ok"}
    changed = report.build_report(
        tmp_path / "r2",
        trend_db=tmp_path / "none.sqlite",
        root=out.parent / "golden",
        registry=toy_registry(gain=2.2, full=True),
        gates_dir=out.parent / "gates",
    )
    (row,) = changed.summary_rows
    assert row[3] > 0  # failed checks
    assert "FAIL" in changed.html_path.read_text()
    assert "no trend store yet" in changed.markdown_path.read_text()


def test_report_renders_in_headless_chromium(built, tmp_path):
    chromium = shutil.which("chromium")
    assert chromium, "headless report test needs Debian's chromium: apt-get install -y chromium"
    rep, out = built
    probe = out / "probe.html"
    probe.write_text(rep.html_path.read_text().replace("</body>", PROBE + "</body>"))
    flags = [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--allow-file-access-from-files",
        f"--user-data-dir={tmp_path / 'chromium'}",
    ]
    dom = subprocess.run(
        [*flags, "--virtual-time-budget=10000", "--dump-dom", probe.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    parsed = _Images()
    parsed.feed(dom)
    assert len(parsed.images) == len(rep.plots)
    assert sorted(parsed.kinds) == sorted(p.kind for p in rep.plots)
    broken = [i["src"] for i in parsed.images if int(i.get("data-natural-width", 0)) <= 0]
    assert not broken, f"images that did not load: {broken}"
    shot = tmp_path / "screenshot.png"
    subprocess.run(
        [*flags, f"--screenshot={shot}", "--window-size=1400,2000", rep.html_path.as_uri()],
        capture_output=True,
        timeout=120,
        check=True,
    )
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_with_nothing_to_plot_is_an_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(golden, "REGISTRY", golden.Registry())
    code = cli.main(
        ["report", "--output-dir", str(tmp_path / "r"), "--trend-db", str(tmp_path / "none.sqlite")]
    )
    assert code == 2
    assert "nothing to plot" in capsys.readouterr().err
