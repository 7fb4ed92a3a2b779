"""The audit's figures: matplotlib Figures (ax= to draw on your own axes), dates on the x axes, the
monitor's own statistic on the alarm timeline, empty figures left out with a reason, readable
panels (legends outside the data, at most MAX_SERIES series), and report.tables()."""

from __future__ import annotations

import math
import os
import subprocess
import sys

import matplotlib

matplotlib.use("Agg")

import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from tierscope.exceptions import InvalidInputError  # noqa: E402
from tierscope.quality import plots  # noqa: E402
from tierscope.quality.audit import audit  # noqa: E402
from tierscope.quality.report import AuditReport, Table, Tables  # noqa: E402

from tests.factories import synthetic_log, training_reference  # noqa: E402

pl = pytest.importorskip("polars")


def _degraded_log(tiers: int = 2) -> tuple[pd.DataFrame, pd.DataFrame]:
    """14 good days then 14 with the cheap tier failing 30% of the time (its monitor alarms)."""
    d1, o1, _ = synthetic_log(days=14, seed=4, cheap_fail=0.06)
    d2, o2, _ = synthetic_log(days=14, seed=5, cheap_fail=0.3)
    d2["timestamp"] = d2["timestamp"] + pd.Timedelta(days=14)
    d2["request_id"] = "late-" + d2["request_id"]
    o2["request_id"] = "late-" + o2["request_id"]
    d, o = pd.concat([d1, d2], ignore_index=True), pd.concat([o1, o2], ignore_index=True)
    if tiers > 2:  # split the cheap tier into several named tiers
        cheap = d["answered_by"] == "cheap"
        d.loc[cheap, "answered_by"] = [f"cheap-{i % (tiers - 1)}" for i in range(int(cheap.sum()))]
    return d, o


@pytest.fixture(scope="module")
def report() -> AuditReport:
    d, o = _degraded_log()
    return audit((d, o), baseline_days=14, reference=training_reference(np.random.default_rng(0)),
                 cost_per_contact=2.0)  # fmt: skip


def _series(ax: object) -> list[str]:
    """Labels of the data series on ``ax`` (lines and error bars; reference lines excluded)."""
    labels = []
    for artist in [*ax.get_lines(), *ax.containers]:  # type: ignore[attr-defined]
        label = artist.get_label()
        if label.startswith("_") or label.startswith(("alarm", "0.1", "0.25", "frontier")):
            continue
        labels.append(label)
    return labels


def test_figures_are_matplotlib_figures(report: AuditReport) -> None:
    figs = report.figures()
    assert set(figs) == {"quality", "alarms", "drift", "costs", "frontier"}
    assert all(isinstance(f, Figure) for f in figs.values())
    assert report.omitted_figures() == {}
    # closed in pyplot: making figures does not pile them up
    assert plt.get_fignums() == []


def test_alarm_timeline_plots_the_e_detector_evidence_against_ln_arl(report: AuditReport) -> None:
    assert report.settings["monitor_method"] == "e_detector"
    fig = plots.plot_alarms(report)
    ax = fig.axes[0]
    mh = report.monitor_history
    for line in ax.get_lines():
        name = line.get_label()
        if name in set(report.monitors["monitor"]):
            expected = mh[mh["monitor"] == name]["log_evidence"].to_numpy(float)
            np.testing.assert_allclose(np.asarray(line.get_ydata(), float), expected)
    threshold = [ln for ln in ax.get_lines() if ln.get_label().startswith("alarm threshold")]
    assert len(threshold) == 1
    assert threshold[0].get_ydata()[0] == pytest.approx(math.log(1000.0))
    assert "ln ARL" in threshold[0].get_label() and "log-evidence" in ax.get_ylabel()
    # the cheap tier alarmed: its evidence crossed the line on its alarm day
    cheap = mh[mh["monitor"] == "cheap"]
    day = report.alarms()["cheap"]
    assert day is not None and cheap["log_evidence"].to_numpy(float)[day] >= math.log(1000.0)


def test_confidence_sequence_timeline_plots_the_upper_bound_margin() -> None:
    d, o = _degraded_log()
    rep = audit((d, o), baseline_days=14, monitor_method="confidence_sequence")
    ax = plots.plot_alarms(rep).axes[0]
    line = next(ln for ln in ax.get_lines() if ln.get_label() == "cheap")
    h = rep.monitor_history[rep.monitor_history["monitor"] == "cheap"]
    row = rep.monitors.set_index("monitor").loc["cheap"]
    expected = np.clip(h["min_upper"].to_numpy(float) - row["threshold"], None, 0.5)
    np.testing.assert_allclose(np.asarray(line.get_ydata(), float), expected)
    zero = [ln for ln in ax.get_lines() if ln.get_label().startswith("alarm: upper bound")]
    assert len(zero) == 1 and zero[0].get_ydata()[0] == 0.0


def test_dates_on_the_x_axes(report: AuditReport) -> None:
    for key in ("quality", "alarms", "drift"):
        for ax in report.figures()[key].axes:
            assert isinstance(ax.xaxis.get_major_formatter(), mdates.ConciseDateFormatter), key
            x = ax.get_lines()[0].get_xdata()
            assert np.issubdtype(np.asarray(x).dtype, np.datetime64), key
            first = pd.Timestamp(np.asarray(x)[0])
            assert first.strftime("%Y-%m-%d") == report.days[0]


def test_ax_draws_on_the_given_axes(report: AuditReport) -> None:
    fig, axes = plt.subplots(1, 5, figsize=(20, 3))
    try:
        for ax, fn in zip(axes, [plots.plot_quality, plots.plot_alarms, plots.plot_drift, plots.plot_costs,
                                 plots.plot_frontier], strict=True):  # fmt: skip
            assert fn(report, ax=ax) is fig
            assert ax.has_data()
        assert len(fig.axes) == 5
    finally:
        plt.close(fig)
    with pytest.raises(InvalidInputError, match="`ax`"):
        plots.plot_quality(report, ax="left")


def test_panels_are_readable(report: AuditReport) -> None:
    """At most MAX_SERIES series per panel, every legend outside its axes, y labels everywhere."""
    for key, fig in report.figures().items():
        fig.canvas.draw()
        for ax in fig.axes:
            assert len(_series(ax)) <= plots.MAX_SERIES, (key, _series(ax))
            assert ax.get_ylabel() or key == "costs", key
            legend = ax.get_legend()
            assert legend is not None, key
            assert legend.get_window_extent().x0 >= ax.get_window_extent().x1 - 1, key


def test_many_tiers_are_split_over_panels() -> None:
    d, o = _degraded_log(tiers=8)
    rep = audit((d, o), baseline_days=14)
    fig = plots.plot_quality(rep)
    assert len(fig.axes) >= 2
    drawn = [s for ax in fig.axes for s in _series(ax) if not s.startswith("blended")]
    assert len(drawn) == len(rep.tiers) and all(len(_series(ax)) <= plots.MAX_SERIES for ax in fig.axes)
    assert len(plots.plot_alarms(rep).axes) >= 2


def test_no_costs_no_cost_figures_and_a_sentence_why(tmp_path: object) -> None:
    d, o = _degraded_log()
    rep = audit((d.drop(columns=["cost", "capable_cost", "route_confidence"]), o), baseline_days=14)
    omitted = rep.omitted_figures()
    assert set(omitted) == {"costs", "frontier", "drift"}
    assert "no routing confidence" in omitted["drift"]
    assert "no costs were logged" in omitted["costs"]
    assert set(rep.figures()) == {"quality", "alarms"}
    html = rep.to_html(tmp_path / "r.html").read_text(encoding="utf-8")  # type: ignore[operator]
    assert "no costs were logged" in html and html.count("data:image/png;base64,") == 2
    fig = plots.plot_costs(rep)  # called anyway: the panel says why it is empty
    assert any("no costs were logged" in t.get_text() for t in fig.axes[0].texts)


def test_frontier_points(report: AuditReport) -> None:
    ax = plots.plot_frontier(report).axes[0]
    labels = _series(ax)
    assert "routed mix (all traffic)" in labels and "tier cheap" in labels
    assert any(lab.startswith("all on tier capable") for lab in labels)
    c = report.costs.set_index("component")["estimate"]
    routed = next(cont for cont in ax.containers if cont.get_label() == "routed mix (all traffic)")
    x = routed.lines[0].get_xdata()[0]
    assert x == pytest.approx(c["inference (routed)"] / report.n_decisions)


def test_html_embeds_the_same_figures(report: AuditReport, tmp_path: object) -> None:
    html = report.to_html(tmp_path / "r.html").read_text(encoding="utf-8")  # type: ignore[operator]
    assert html.count("data:image/png;base64,") == 5
    for title, _ in plots.FIGURES.values():
        assert f"<h2>{title}</h2>" in html


def test_tables_render_as_html_and_convert(report: AuditReport) -> None:
    tables = report.tables()
    assert isinstance(tables, Tables) and all(isinstance(t, Table) for t in tables.values())
    assert tables._repr_html_().count("<table") >= 10
    q = tables["quality"]
    assert "<table" in q._repr_html_() and q.shape == report.quality.shape
    assert q.to_pandas() is report.quality
    polars = q.to_polars()
    assert isinstance(polars, pl.DataFrame) and polars.shape == report.quality.shape
    np.testing.assert_allclose(polars["mean"].to_numpy(), report.quality["mean"].to_numpy())
    assert set(tables.to_polars()) == set(tables.to_pandas()) == set(tables)
    assert tables["monitors"].to_polars().shape[0] == len(report.monitors)


def test_import_tierscope_does_not_load_matplotlib_and_keeps_a_chosen_backend() -> None:
    code = (
        "import sys, tierscope, tierscope.quality.report, tierscope.quality.plots, tierscope.demo\n"
        "assert 'matplotlib' not in sys.modules, 'matplotlib imported'\n"
        "import matplotlib\n"
        "from tierscope.quality.plots import _pyplot\n"
        "_pyplot()\n"
        "print(matplotlib.get_backend())\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().lower() == "agg"
    env["MPLBACKEND"] = "svg"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().lower() == "svg"
