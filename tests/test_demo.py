"""The main job (``tierscope demo``) at quick sizes: structure, truth bounds, HTML, determinism."""

from __future__ import annotations

import base64
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib")
pytest.importorskip("tqdm")
pytest.importorskip("pandas")

from tierscope import demo  # noqa: E402
from tierscope.demo import simulation  # noqa: E402
from tierscope.routing.router import Router  # noqa: E402

QUICK = demo.DemoConfig(days=28, per_day=5_000, onset=14, ramp_days=7, suite_size=2_000, quick=True)


@pytest.fixture(scope="module")
def router() -> Router:
    try:
        return Router.default(build_if_missing=False)
    except Exception as err:  # pragma: no cover - depends on the environment
        pytest.skip(f"default router not available: {err}")


@pytest.fixture(scope="module")
def result(router: Router) -> demo.DemoResult:
    return demo.run_demo(QUICK, router=router, log=lambda m: None, progress=False)


def test_three_arms_and_alarms(result: demo.DemoResult) -> None:
    assert [a.name for a in result.arms] == ["a", "b", "c"]
    rows = demo.arm_rows(result)
    assert len(rows) == 4 and rows[-1]["arm"].startswith("all capable")
    for a, r in zip(result.arms, rows, strict=False):
        assert a.alarm_day is None or 0 <= a.alarm_day < QUICK.days
        assert r["alarm_day"] == a.alarm_day
        assert (a.cheap_n + a.capable_n == QUICK.per_day).all()
        assert 0.0 < r["inference_vs_all_capable"] < 1.0  # cheap tier used: cheaper than all-capable
    # arms (b) and (c) ran the audit: a monitor per tier, alarm days computed (None = never)
    for a in result.arms[1:]:
        alarms = a.detail["audit"].alarms()
        assert {"cheap", "capable"} <= set(alarms)
    assert "shadow gap cheap" in result.arms[2].detail["audit"].alarms()
    assert result.cascade_mismatches == 0  # the vectorised rule equals Cascade's decisions


def test_per_tier_quality_within_truth_bounds(result: demo.DemoResult) -> None:
    """The audit's per-tier estimates over the window sit near the simulation truth."""
    for a in result.arms[1:]:
        q = a.detail["audit"].quality.set_index("tier")
        for tier, good, n in (("cheap", a.cheap_good, a.cheap_n), ("capable", a.capable_good, a.capable_n)):
            truth = good.sum() / n.sum()
            row = q.loc[tier]
            # the interval is for the reviewed window; allow a little slack for the 5% miss rate
            assert row["lower"] - 0.03 <= truth <= row["upper"] + 0.03, (a.name, tier, truth, row)
    # the truth itself follows the outcome model: the cheap tier degrades after the shift
    rows = demo.arm_rows(result)
    assert rows[0]["cheap_quality_after"] < rows[0]["cheap_quality_launch"] - 0.03
    intents = demo.load_intents()
    fails = np.array([v["cheap_fail"] for v in intents.values()])
    assert 1 - fails.max() <= rows[0]["cheap_quality_after"] <= 1 - fails.min()
    assert result.truth["flagged_share_of_cheap"][-1] == pytest.approx(0.20, abs=0.03)


def test_summary_and_html(result: demo.DemoResult, tmp_path: Path) -> None:
    text = demo.summary(result)
    assert demo.DISCLAIMER in text and "SIMULATED" in text
    for a in result.arms:
        assert a.label in text
    page = demo.render_html(result, text)
    assert "SIMULATED" in page
    pngs = re.findall(r"src='data:image/png;base64,([A-Za-z0-9+/=]+)'", page)
    assert len(pngs) >= 4
    for p in pngs:
        assert base64.b64decode(p)[:8] == b"\x89PNG\r\n\x1a\n"
    # self-contained: no external resources
    assert not re.search(r"(src|href)=['\"](https?:|//|file:)", page)


def test_deterministic_under_seed(result: demo.DemoResult) -> None:
    small = replace(QUICK, days=16, per_day=1_500, onset=8)
    one = demo.run_demo(small, log=lambda m: None, progress=False, corpus=result.corpus)
    two = demo.run_demo(small, log=lambda m: None, progress=False, corpus=result.corpus)
    other = demo.run_demo(replace(small, seed=1), log=lambda m: None, progress=False, corpus=result.corpus)
    for a, b in zip(one.arms, two.arms, strict=True):
        assert a.alarm_day == b.alarm_day
        np.testing.assert_array_equal(a.cheap_good, b.cheap_good)
        np.testing.assert_array_equal(a.contacts, b.contacts)
        assert a.inference_cost.tolist() == b.inference_cost.tolist()
    q1 = one.arms[1].detail["audit"].quality
    q2 = two.arms[1].detail["audit"].quality
    assert q1["mean"].tolist() == q2["mean"].tolist()
    assert not np.array_equal(one.arms[0].cheap_good, other.arms[0].cheap_good)


def test_cli_demo(tmp_path: Path, capsys: pytest.CaptureFixture[str], router: Router) -> None:
    from tierscope.cli import main

    rc = main(["demo", "--quick", "--days", "6", "--per-day", "400", "--no-progress", "--out", str(tmp_path)])
    assert rc == 0
    out = capsys.readouterr().out
    assert "SIMULATED" in out and "(c) tierscope cascade" in out
    page = (tmp_path / "demo_report.html").read_text(encoding="utf-8")
    assert page.count("data:image/png;base64,") >= 4


def test_shift_is_linear_in_the_cheap_tier_share(result: demo.DemoResult) -> None:
    """The flagged intents' share of the cheap tier (under each day's sampling mix) moves linearly
    from its launch value to 20% over the ramp, and stays put before the onset."""
    corpus, traffic = result.corpus, result.traffic
    shares = [simulation._flagged_cheap_share(corpus, traffic.mix(corpus, d)) for d in range(QUICK.days)]
    start = shares[0]
    assert 0.0 < start < 0.12
    for d in range(QUICK.days):
        s = demo.shift_progress(QUICK, d)
        assert shares[d] == pytest.approx(start + s * (demo.FLAGGED_CHEAP_SHARE_AFTER - start), abs=1e-6)
    assert demo.shift_progress(QUICK, QUICK.onset - 1) == 0.0
    assert demo.shift_progress(QUICK, QUICK.onset + QUICK.ramp_days) == 1.0


def test_ground_truth_and_counted_alarms(result: demo.DemoResult) -> None:
    tr = result.truth
    q, c = tr["cheap_quality_expected"], tr["cheap_contact_expected"]
    assert q[-1] < q[0] - demo.TOLERANCE and c[-1] > c[0] + demo.CONTACT_TOLERANCE
    qd, cd = tr["quality_material_day"], tr["contact_material_day"]
    assert qd is not None and QUICK.onset <= qd < QUICK.days
    assert cd is not None and QUICK.onset <= cd <= qd  # contacts move with the failures, earlier in points
    assert q[qd] < q[0] - demo.TOLERANCE <= q[qd - 1]
    # every arm counts only instruments with a false-alarm guarantee
    blended = result.arms[0]
    assert blended.alarm_monitor in ("", "blended monitor", "regression suite")
    assert blended.alarm_day in (None, blended.detail["monitor_day"], blended.detail["suite_day"])
    assert "daily-interval rule, not counted" in demo.summary(result)
    # an arm that responded keeps the run without a response, whose first alarm is the arm's
    assert result.arms[1].switch_day is not None  # arm (b) alarms and responds even at quick sizes
    for arm in result.arms[1:]:
        if arm.switch_day is not None:
            before = arm.detail["no_response"]
            days = [*before["audit"].alarms().values(), *before["contacts"].alarms.values()]
            assert min(d for d in days if d is not None) == arm.alarm_day
    assert demo.CONTACT_TOLERANCE == pytest.approx(0.25 * (demo.PRICE_CAPABLE - demo.PRICE_CHEAP) / 6.0)


def test_no_shift_run_stays_quiet(result: demo.DemoResult) -> None:
    """The false-alarm check (``--no-shift``): the launch mix all run, nothing material, no counted alarm."""
    null_cfg = replace(QUICK, shift=False)
    null = demo.run_demo(null_cfg, log=lambda m: None, progress=False, corpus=result.corpus)
    assert null.truth["quality_material_day"] is None and null.truth["contact_material_day"] is None
    assert all(s == 0.0 for s in null.traffic.shift)
    for arm in null.arms:
        assert arm.alarm_day is None, (arm.label, arm.alarm_monitor)
    assert "NO mix shift" in demo.summary(null)
    # nothing to detect: no detection-limit line or record
    assert "detection limit" not in demo.summary(null)
    assert demo.summary_record(null)["detection_limit"] is None


def test_package_parts_and_module_entry_point() -> None:
    """The demo's parts are importable by name, the package keeps its old names, and
    ``python -m tierscope.demo`` runs (it takes the same options as ``tierscope demo``)."""
    import subprocess
    import sys

    from tierscope.demo import arms, cli, config, monitoring, plots, run, summarize

    assert demo.run_demo is run.run_demo and demo.main is cli.main and demo.figures is plots.figures
    assert demo.DemoConfig is config.DemoConfig and demo.summary is summarize.summary
    assert demo.run_prerouter is arms.run_prerouter and demo.ContactMonitors is monitoring.ContactMonitors
    assert sorted(demo.__all__) == ["DemoConfig", "DemoResult", "main", "run_demo"]
    done = subprocess.run(
        [sys.executable, "-m", "tierscope.demo", "--help"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "--no-shift" in done.stdout and "python -m tierscope.demo" in done.stdout


def test_judge_assisted_monitoring(result: demo.DemoResult) -> None:
    """Arms (b) and (c) log a simulated judge: judge events reach the audit, which reports PPI++
    estimates beside the human-only ones and a judge-assisted monitor on the cheap tier; the
    judge's calls are in the arms' inference cost."""
    from tierscope.demo.config import JUDGE_PRICE

    for arm in result.arms[1:]:
        rep = arm.detail["audit"]
        assert "cheap (judge-assisted)" in rep.alarms()
        t = rep.judge_assisted.set_index("tier")
        assert t.loc["cheap", "judged"] > 1000 and 0.0 <= t.loc["cheap", "lam"] <= 1.0
        assert t.loc["cheap", "se"] < t.loc["cheap", "human_se"]
        assert arm.detail["judge_calls"] > 0
        assert arm.detail["judge_cost"] == pytest.approx(arm.detail["judge_calls"] * JUDGE_PRICE)


def test_detection_limit(result: demo.DemoResult) -> None:
    """The summary says what alarming within 2 days of the ground-truth day would take: daily
    reviews an oracle would need for the quantity each cheap monitor follows, fewer with the
    judge, more than the run has."""
    lim = demo.summary_record(result)["detection_limit"]
    assert lim["by_day"] == result.truth["quality_material_day"] + 2
    assert 0.6 < lim["width_ratio"] < 1.0
    for target in ("traffic", "tail_weighted"):
        b = lim[target]
        assert b["reviews_needed_judge_assisted"] < b["reviews_needed"]
        assert b["reviews_needed"] > lim["reviews_per_day"]
    line = next(ln for ln in demo.summary(result).splitlines() if ln.startswith("detection limit"))
    assert f"to alarm by day {lim['by_day']}" in line and "judge-assisted" in line


def _section_value(section: str, pattern: str) -> str:
    m = re.search(pattern, section)
    assert m is not None, (pattern, section)
    return m.group(1)


@pytest.mark.timeout(120)
def test_arm_sections_agree_with_headline(result: demo.DemoResult) -> None:
    """Issue 16: arms (b) and (c)'s audit sections show the headline's support-contact and
    thumbs-down rates (every answer as denominator, from the census) and its counted alarm days."""
    from tierscope.demo.monitoring import mix_drift_alarm
    from tierscope.demo.plots import arm_section

    rows = demo.arm_rows(result)
    headline = demo.summary(result)
    page = demo.render_html(result, headline)
    total = int(result.allcap.n.sum())
    mix = mix_drift_alarm(result.corpus, result.traffic, result.config)
    for a, r in zip(result.arms[1:], rows[1:3], strict=True):
        section = arm_section(result, a)
        assert _html_escape(section) in page
        rep = a.detail["audit"]
        sp = rep.support.set_index("tier")
        fb = rep.feedback.set_index("tier")
        # the audit's own tables (computed from the census), not the section's text, equal the headline
        assert int(sp.loc["all", "answers"]) == total
        assert int(sp.loc["all", "contacts"]) == r["contacts"] > 0
        assert fb.loc["all", "thumbs_down_per_1000"] == pytest.approx(r["thumbs_down_per_1000"])
        assert r["thumbs_down_per_1000"] > 0
        for tier, n in (("cheap", a.cheap_n), ("capable", a.capable_n)):
            assert int(sp.loc[tier, "answers"]) == int(n.sum())
        shown = _section_value(section, r"support contacts ([\d,]+) \(")
        assert int(shown.replace(",", "")) == r["contacts"]
        shown_rate = float(_section_value(section, r"support contacts [\d,]+ \(([\d.]+)%\)"))
        assert shown_rate == pytest.approx(100 * r["contacts"] / total, abs=0.005)
        td = _section_value(section, r"thumbs-down [\d,]+ \(([\d.]+)/1,000\)")
        assert (
            f"{a.label}: " in headline and f"thumbs-down {td}/1,000" in headline
        )  # as the headline prints it
        assert td == f"{r['thumbs_down_per_1000']:.1f}"
        # the first counted alarm is the headline's; each counted monitor's day is the instrument line's
        first = _section_value(section, r"first counted alarm: (never|day \d+)")
        assert first == ("never" if r["alarm_day"] is None else f"day {r['alarm_day']}")
        src = a.detail.get("no_response", a.detail)
        kinds = [("review", src["audit"].alarms()), ("support-contact", src["contacts"].alarms)]
        for kind, alarms in kinds:
            for name, day in alarms.items():
                want = "never" if day is None else f"day {day}"
                line = f"counted monitor {name} {kind} monitor: first alarm {want} (run without a response)"
                assert line in section.splitlines(), (line, section)
        assert "support-contact monitor" in section
        if mix is not None:
            want = "never" if mix["alarm_day"] is None else f"day {mix['alarm_day']}"
            assert "traffic-mix drift (router regions" in section and f"alarm {want}" in section


def _html_escape(text: str) -> str:
    import html

    return html.escape(text)


def test_audit_census_checked() -> None:
    """A census with a missing column, negative or fractional counts, or more contacts than answers is
    rejected naming ``census`` before the log is read."""
    from tierscope.exceptions import InvalidInputError
    from tierscope.quality.audit.feedback import check_census

    good = {"tier": ["cheap"], "answers": [10], "support_contacts": [2], "thumbs_down": [1]}
    assert check_census(good, ["cheap", "capable"])["answers"].tolist() == [10]
    bad = [
        {k: v for k, v in good.items() if k != "thumbs_down"},
        {**good, "answers": [-1]},
        {**good, "answers": [1.5]},
        {**good, "support_contacts": [11]},
        {**good, "tier": ["other"]},
        [1, 2],
    ]
    for census in bad:
        with pytest.raises(InvalidInputError, match="census"):
            check_census(census, ["cheap", "capable"])


@pytest.mark.timeout(60)
def test_census_gives_a_sampled_log_the_full_logs_rates() -> None:
    """``audit(census=...)`` on the reviewed decisions only gives the support and thumbs-down tables
    of the audit of the full log (a census counts what a sampled log drops)."""
    from tierscope.quality.audit import audit

    from tests.factories import synthetic_log

    d, o, _ = synthetic_log(days=6, seed=3, cheap_fail=0.15)
    full = audit((d, o), support_window_days=7)
    tier = d.set_index("request_id")["answered_by"]
    ev = o.assign(tier=o["request_id"].map(tier))
    con = ev[(ev["kind"] == "support_contact") & (ev["days_after"].fillna(0.0) <= 7)]
    down = ev[(ev["kind"] == "feedback") & (ev["score"] < 0.5)]
    census = {
        "tier": ["cheap", "capable"],
        "answers": [int((d["answered_by"] == t).sum()) for t in ("cheap", "capable")],
        "support_contacts": [
            int(con[con["tier"] == t]["request_id"].nunique()) for t in ("cheap", "capable")
        ],
        "thumbs_down": [int((down["tier"] == t).sum()) for t in ("cheap", "capable")],
    }
    reviewed = o.loc[o["kind"] == "review", "request_id"]
    sample = d[d["request_id"].isin(reviewed)]
    assert len(sample) < len(d) // 2
    without = audit((sample, o[o["request_id"].isin(sample["request_id"])]), support_window_days=7)
    with_census = audit((sample, o[o["request_id"].isin(sample["request_id"])]), census=census)
    cols = ["tier", "answers", "contacts", "contact_rate", "lower", "upper"]
    import pandas.testing as pd_testing

    pd_testing.assert_frame_equal(with_census.support[cols], full.support[cols])
    fcols = ["tier", "answers", "thumbs_down", "thumbs_down_per_1000", "lower_per_1000", "upper_per_1000"]
    pd_testing.assert_frame_equal(with_census.feedback[fcols], full.feedback[fcols])
    # the sampled log alone counts only its own answers (the 0.00% / 0-per-1k symptom at scale)
    assert without.support.set_index("tier").loc["all", "answers"] == len(sample)
    assert any("census" in n for n in with_census.notes)
    from tierscope.exceptions import InvalidInputError

    with pytest.raises(InvalidInputError, match="census"):
        audit((sample, o), census={**census, "tier": ["cheap", "gold"]})
