"""The per-tier audit on synthetic logs with known truth."""

from __future__ import annotations

import json
import os
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tierscope.exceptions import InvalidInputError, TierscopeFileNotFoundError
from tierscope.log.decision_log import DecisionLog
from tierscope.quality.audit import audit
from tierscope.quality.audit.quality import ALL_TRAFFIC, BLENDED
from tierscope.quality.report import AuditReport

from tests.factories import OUTCOME_COLS, START, T0, synthetic_log, training_reference


def test_per_tier_estimates_cover_the_truth() -> None:
    covered = {"cheap": 0, "capable": 0, "all": 0}
    runs = 40
    for seed in range(runs):
        d, o, truth = synthetic_log(days=2, per_day=600, seed=seed, budget=120)
        rep = audit((d, o), reference=None)
        q = rep.quality.set_index("tier")
        for t in ("cheap", "capable"):
            covered[t] += int(q.loc[t, "lower"] <= truth[t] <= q.loc[t, "upper"])
        covered["all"] += int(q.loc[ALL_TRAFFIC, "lower"] <= truth["all"] <= q.loc[ALL_TRAFFIC, "upper"])
    rates = {k: v / runs for k, v in covered.items()}
    print(f"\naudit interval coverage over {runs} synthetic logs (nominal 0.95): {rates}")
    assert all(r >= 0.85 for r in rates.values()), rates
    # one bigger log: the per-tier view separates the tiers, the blended row is in between
    d, o, truth = synthetic_log(days=10, seed=99)
    rep = audit((d, o))
    q = rep.quality.set_index("tier")
    assert q.loc["cheap", "upper"] < q.loc["capable", "lower"]
    assert q.loc[BLENDED, "reviews"] == q.loc["cheap", "reviews"] + q.loc["capable", "reviews"]
    # the unweighted blended mean is pulled down by the oversampled tail; the design-based one is not
    assert q.loc[BLENDED, "mean"] < truth["all"] - 0.01
    daily = rep.quality_daily
    assert set(daily["tier"]) == {"cheap", "capable", BLENDED} and daily["day"].max() == 9
    assert len(rep.quality_weekly[rep.quality_weekly["tier"] == "cheap"]) == 2


def test_audit_and_the_joined_log_share_one_per_tier_quality(tmp_path: Path) -> None:
    """With one scored review per request, JoinedLog.per_tier and audit() report the same number."""
    d, o, _ = synthetic_log(days=3, per_day=300, seed=5, budget=80)
    with DecisionLog(tmp_path / "log", flush_every=10_000) as log:
        for row in d.to_dict("records"):
            log.log_decision(
                {**{k: row[k] for k in ("request_id", "answered_by", "cost")}, "timestamp": row["timestamp"]}
            )
        for row in o[o["kind"] == "review"].to_dict("records"):
            log.log_review(
                row["request_id"], float(row["score"]), inclusion_prob=float(row["inclusion_prob"])
            )
        view = log.joined().per_tier().set_index("tier")
        rep = audit(log)
    q = rep.quality.set_index("tier")
    for tier in ("cheap", "capable"):
        assert view.loc[tier, "reviews"] == q.loc[tier, "reviews"]
        # the same estimate; the units are summed in another order (join order vs request id)
        assert view.loc[tier, "acceptable_rate"] == pytest.approx(q.loc[tier, "mean"], rel=1e-12)


def test_feedback_support_and_shadow_gap() -> None:
    d, o, truth = synthetic_log(days=10, seed=1, cheap_fail=0.15)
    rep = audit((d, o), support_window_days=7)
    s = rep.shadow.set_index("tier").loc["cheap"]
    assert s["gap"] < 0 and s["upper"] < 0  # the cheap tier is worse than the capable one on the same queries
    assert s["interval"] == "newcombe_paired"
    # a reversed shadow verdict flips the sign
    o2 = o.copy()
    m = o2["kind"] == "shadow"
    o2.loc[m, ["cheap_score", "capable_score"]] = o2.loc[m, ["capable_score", "cheap_score"]].to_numpy()
    s2 = audit((d, o2)).shadow.set_index("tier").loc["cheap"]
    assert s2["gap"] > 0 and s2["lower"] > 0
    sp = rep.support.set_index("tier")
    assert sp.loc["cheap", "contact_rate"] > sp.loc["capable", "contact_rate"]
    # only contacts within the window count
    all_contacts = int((o["kind"] == "support_contact").sum())
    assert sp.loc["all", "contacts"] < all_contacts
    assert (
        audit((d, o), support_window_days=30).support.set_index("tier").loc["all", "contacts"] == all_contacts
    )
    fb = rep.feedback.set_index("tier")
    assert (
        fb.loc["cheap", "lower_per_1000"]
        <= fb.loc["cheap", "thumbs_down_per_1000"]
        <= fb.loc["cheap", "upper_per_1000"]
    )
    # the cost view: routed inference is cheaper than all-capable; contacts add cost
    c = audit((d, o), cost_per_contact=5.0, prices={"capable": 0.01}).costs.set_index("component")
    assert c.loc["inference (routed)", "estimate"] < c.loc["inference (all capable)", "estimate"]
    assert (
        c.loc["support contacts", "lower"]
        <= c.loc["support contacts", "estimate"]
        <= c.loc["support contacts", "upper"]
    )
    assert c.loc["total (routed)", "estimate"] > c.loc["inference (routed)", "estimate"]
    # the counterfactual prices every answer at the capable tier and uses its contact rate
    assert c.loc["inference (all capable)", "estimate"] == pytest.approx(0.01 * len(d))
    cap_rate = sp.loc["capable", "contact_rate"]
    assert c.loc["support contacts (all capable)", "estimate"] == pytest.approx(cap_rate * len(d) * 5.0)
    with pytest.raises(InvalidInputError, match="`capable_tier`"):
        audit((d, o), capable_tier="gold")


def test_orphans_are_counted_and_since_until_filter() -> None:
    d, o, _ = synthetic_log(days=4, seed=2)
    extra = pd.DataFrame(
        {
            "request_id": ["ghost-1", "ghost-2", "ghost-3"],
            "kind": ["review", "feedback", "review"],
            "score": [1.0, 0.0, 1.0],
        }
    ).reindex(columns=OUTCOME_COLS)
    rep = audit((d, pd.concat([o, extra], ignore_index=True)))
    assert rep.n_orphans == 3
    assert dict(zip(rep.orphans["kind"], rep.orphans["orphans"], strict=True)) == {"feedback": 1, "review": 2}
    assert any("orphan" in n for n in rep.notes)
    part = audit((d, o), since=T0 + timedelta(days=1), until=T0 + timedelta(days=3))
    assert part.n_decisions == int(
        ((d["timestamp"] >= T0 + timedelta(days=1)) & (d["timestamp"] < T0 + timedelta(days=3))).sum()
    )
    assert part.days == [(START + timedelta(days=i)).isoformat() for i in (1, 2)]
    assert part.n_orphans == 0  # outcomes of decisions outside the window are not orphans


def test_confidence_drift_detected_only_when_it_happens() -> None:
    rng = np.random.default_rng(3)
    ref = training_reference(rng)
    d, o, _ = synthetic_log(days=14, seed=3)
    stable = audit((d, o), reference=ref).drift
    ds, os_, _ = synthetic_log(days=14, seed=3, shift_from=7)
    shifted = audit((ds, os_), reference=ref, baseline_days=7).drift

    def window(df: pd.DataFrame, scope: str) -> pd.Series:
        return df[(df["scope"] == scope) & (df["reference"] == "training") & (df["period"] == "window")].iloc[
            0
        ]

    assert window(stable, "all")["psi"] < 0.05 and window(stable, "all")["ks_pvalue"] > 0.001
    assert window(shifted, "all")["psi"] > 0.25 and window(shifted, "all")["ks_pvalue"] < 1e-6
    # per tier, per day against the tier's own baseline window: quiet before the shift, loud after
    cheap = shifted[
        (shifted["scope"] == "cheap")
        & (shifted["reference"] == "baseline window")
        & (shifted["period"] == "day")
    ]
    before = cheap[cheap["index"] < 7]
    after = cheap[cheap["index"] >= 7]
    assert before["psi"].max() < 0.1 and after["psi"].min() > 0.25
    assert (after["ks_pvalue"] < 1e-6).all() and (before["ks_pvalue"] > 1e-4).all()
    js_stable = stable[
        (stable["period"] == "week") & (stable["reference"] == "training") & (stable["scope"] == "all")
    ]
    js_shift = shifted[
        (shifted["period"] == "week") & (shifted["reference"] == "training") & (shifted["scope"] == "all")
    ]
    assert js_shift["js"].iloc[-1] > 3 * js_stable["js"].iloc[-1]
    print(
        f"\ndrift (window, all traffic vs training): stable PSI {window(stable, 'all')['psi']:.4f} "
        f"KS {window(stable, 'all')['ks']:.4f} p={window(stable, 'all')['ks_pvalue']:.3g}; "
        f"shifted PSI {window(shifted, 'all')['psi']:.3f} KS {window(shifted, 'all')['ks']:.3f} "
        f"p={window(shifted, 'all')['ks_pvalue']:.3g} JS {window(shifted, 'all')['js']:.3f}"
    )


def test_monitors_alarm_on_a_degraded_tier_only() -> None:
    d1, o1, _ = synthetic_log(days=14, seed=4, cheap_fail=0.06)
    d2, o2, _ = synthetic_log(days=14, seed=5, cheap_fail=0.3)
    d2["timestamp"] = d2["timestamp"] + pd.Timedelta(days=14)
    d2["request_id"] = "late-" + d2["request_id"]
    o2["request_id"] = "late-" + o2["request_id"]
    rep = audit((pd.concat([d1, d2]), pd.concat([o1, o2])), baseline_days=14)
    alarms = rep.alarms()
    assert alarms["cheap"] is not None and 14 <= alarms["cheap"] <= 21
    assert alarms["capable"] is None
    assert alarms["shadow gap cheap"] is not None and alarms["shadow gap cheap"] >= 14
    m = rep.monitor_objects["cheap"]
    assert m.alarm_day == alarms["cheap"] + 1 and m.day == 28
    assert "ALARM" in rep.summary()
    quiet = audit((d1, o1))
    assert all(v is None for v in quiet.alarms().values())


def test_html_is_self_contained_and_valid(tmp_path: Path) -> None:
    d, o, _ = synthetic_log(days=8, seed=6)
    with DecisionLog(tmp_path / "log", fsync=False, flush_every=100_000) as log:
        for rec in d.to_dict("records"):
            log.log_decision(rec)
        for rec in o[o["kind"] == "review"].head(300).to_dict("records"):
            log.log_outcome(
                rec["request_id"],
                "review",
                score=rec["score"],
                inclusion_prob=rec["inclusion_prob"],
                detail=json.loads(rec["detail"]),
            )
        log.log_feedback("no-such-request", False)
    rep = audit(
        tmp_path / "log", reference=training_reference(np.random.default_rng(0)), cost_per_contact=4.0
    )
    assert isinstance(rep, AuditReport) and rep.n_orphans == 1
    out = rep.to_html(tmp_path / "report.html")
    text = out.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
    assert text.count("data:image/png;base64,") >= 3
    assert "http://" not in text and "https://" not in text and "<script" not in text

    class Checker(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.stack: list[str] = []
            self.tags: set[str] = set()

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            self.tags.add(tag)
            if tag not in {"meta", "img", "br", "hr", "link"}:
                self.stack.append(tag)

        def handle_endtag(self, tag: str) -> None:
            assert self.stack and self.stack[-1] == tag, (tag, self.stack[-5:])
            self.stack.pop()

    checker = Checker()
    checker.feed(text)
    assert checker.stack == [] and {"html", "head", "body", "table", "img", "title"} <= checker.tags
    assert "<table" in rep._repr_html_()
    assert set(rep.tables()) >= {
        "quality",
        "quality_daily",
        "quality_weekly",
        "monitors",
        "shadow",
        "feedback",
        "support",
        "drift",
        "escalation",
        "costs",
        "orphans",
    }


def test_errors(tmp_path: Path) -> None:
    empty = DecisionLog(tmp_path / "empty", fsync=False)
    with pytest.raises(InvalidInputError, match="`log`"):
        audit(empty)
    empty.close()
    d, o, _ = synthetic_log(days=2, seed=7, per_day=300)
    with pytest.raises(InvalidInputError, match="`tiers`"):
        audit((d, o), tiers=["cheap", "gold"])
    with pytest.raises(InvalidInputError, match="`baseline`"):
        audit((d, o), baseline={"gold": 0.9})
    with pytest.raises(InvalidInputError, match="`since`"):
        audit((d, o), since=T0 + timedelta(days=2), until=T0)
    with pytest.raises(InvalidInputError, match="`since`"):
        audit((d, o), since=T0 + timedelta(days=30))
    with pytest.raises(InvalidInputError, match="`reference`"):
        audit((d, o), reference={"confidence_edges": [0, 1]})
    with pytest.raises(InvalidInputError, match="`tolerance`"):
        audit((d, o), tolerance=0)
    with pytest.raises(InvalidInputError, match="`monitor_target`"):
        audit((d, o), monitor_target="median")
    with pytest.raises(InvalidInputError, match="`monitor_method`"):
        audit((d, o), monitor_method="cusum")
    with pytest.raises(InvalidInputError, match="`arl`"):
        audit((d, o), arl=1.0)
    with pytest.raises(TierscopeFileNotFoundError, match="`log`"):
        audit(tmp_path / "missing")


@pytest.mark.parametrize(
    ("kwargs", "arg"),
    [
        ({"baseline": float("nan")}, "baseline"),
        ({"baseline": 1.5}, "baseline"),
        ({"baseline": {"cheap": float("nan")}}, "baseline"),
        ({"prices": {"cheap": -1}}, "prices"),
        ({"prices": {"cheap": float("inf")}}, "prices"),
        ({"support_window_days": float("nan")}, "support_window_days"),
        ({"cost_per_contact": float("nan")}, "cost_per_contact"),
        ({"arl": float("inf")}, "arl"),
        ({"restart_every": 1.5}, "restart_every"),
        ({"tiers": "cheap"}, "tiers"),
        ({"capable_tier": 3}, "capable_tier"),
    ],
)
def test_bad_numbers_are_refused_before_the_log_is_read(
    tmp_path: Path, kwargs: dict[str, object], arg: str
) -> None:
    """NaN used to disable every monitor silently; 1.5, -1 and NaN windows were accepted."""
    with pytest.raises(InvalidInputError, match=f"`{arg}`"):
        audit(tmp_path / "missing", **kwargs)  # type: ignore[arg-type]


def test_to_html_checks_the_path_before_rendering(tmp_path: Path) -> None:
    d, o, _ = synthetic_log(days=2, seed=7, per_day=200)
    report = audit((d, o))
    with pytest.raises(TierscopeFileNotFoundError, match="`path`"):
        report.to_html(tmp_path / "missing" / "r.html")
    with pytest.raises(InvalidInputError, match="`path`.*directory"):
        report.to_html(tmp_path)
    with pytest.raises(InvalidInputError, match="`figures`"):
        report.to_html(tmp_path / "r.html", figures="no")  # type: ignore[arg-type]
    assert not (tmp_path / "r.html").exists()


@pytest.mark.skipif(
    not os.environ.get("TIERSCOPE_DEFAULT_ROUTER"), reason="needs TIERSCOPE_DEFAULT_ROUTER (the real router)"
)
def test_real_router_reference(tmp_path: Path) -> None:
    from tierscope import Router

    router = Router.load(os.environ["TIERSCOPE_DEFAULT_ROUTER"])
    texts = [
        "where is my card",
        "I was charged twice for the same thing",
        "how do I top up",
        "why is my transfer still pending",
        "my card payment was declined",
        "what is the exchange rate",
    ] * 20
    batch = router.route_batch(texts)
    rows = pd.DataFrame(
        {
            "request_id": [f"q{i}" for i in range(len(texts))],
            "timestamp": [T0 + timedelta(minutes=i) for i in range(len(texts))],
            "answered_by": list(batch.tier),
            "route_confidence": batch.confidence.astype(float),
            "route_tail_score": batch.tail_score.astype(float),
        }
    )
    rep = audit((rows, None), reference=router)
    drift = rep.drift[(rep.drift["reference"] == "training") & (rep.drift["period"] == "window")]
    assert len(drift) >= 1 and np.isfinite(drift["psi"]).all()


def test_cli_audit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tierscope.cli import main

    d, o, _ = synthetic_log(days=3, seed=8, per_day=300)
    with DecisionLog(tmp_path / "log", fsync=False, flush_every=100_000) as log:
        for rec in d.to_dict("records"):
            log.log_decision(rec)
        for rec in o[o["kind"] == "review"].to_dict("records"):
            log.log_review(rec["request_id"], rec["score"], inclusion_prob=rec["inclusion_prob"])
    (tmp_path / "router").mkdir()
    ref = training_reference(np.random.default_rng(1))
    (tmp_path / "router" / "router.json").write_text(json.dumps({"reference": ref}))
    html = tmp_path / "r.html"
    args = ["audit", str(tmp_path / "log"), "--html", str(html), "--cost-per-contact", "3"]
    assert main([*args, "--reference", str(tmp_path / "router"), "--since", "2026-05-05"]) == 0
    printed = capsys.readouterr().out
    assert "cheap" in printed and "capable" in printed and "2 days" in printed
    assert "data:image/png;base64," in html.read_text(encoding="utf-8")
    assert main([*args, "--since", "2026-06-01", "--until", "2026-05-01"]) == 2
    err = capsys.readouterr().err
    assert "`--since`" in err and "Traceback" not in err
    assert main(["audit", str(tmp_path / "missing")]) == 2
    assert main([*args, "--reference", str(tmp_path / "nothing.json")]) == 2
    assert main([*args, "--monitor-method", "confidence_sequence"]) == 0
    capsys.readouterr()
    assert main([*args, "--arl", "0.5"]) == 2
    err = capsys.readouterr().err
    assert "--arl" in err and "Traceback" not in err
    assert main(["audit", "--help"]) == 0
    assert "--html" in capsys.readouterr().out


def test_repeated_request_ids_are_a_clear_error() -> None:
    decisions, outcomes, _ = synthetic_log(days=2, per_day=200)
    doubled = pd.concat([decisions, decisions.iloc[:3]], ignore_index=True)
    expected = r"one decision per request_id, but 3 ids repeat \(e.g. 'd0-0'\)"
    with pytest.raises(InvalidInputError, match=expected):
        audit((doubled, outcomes))


def test_outcomes_with_only_review_columns_are_audited() -> None:
    """Issue 13: an outcomes table without the shadow/support columns used to raise KeyError."""
    d, o, _ = synthetic_log(days=2, per_day=300, seed=3, budget=80)
    reviews = o[o["kind"] == "review"][["request_id", "kind", "score", "inclusion_prob"]]
    rep = audit((d, reviews.reset_index(drop=True)))
    full = audit((d, o[o["kind"] == "review"].reset_index(drop=True)))
    pd.testing.assert_frame_equal(rep.quality, full.quality)
    assert rep.shadow.empty
    with pytest.raises(InvalidInputError, match="`log`.*`kind`"):
        audit((d, reviews.drop(columns=["kind"])))


def test_interval_method_is_an_audit_argument() -> None:
    d, o, _ = synthetic_log(days=2, per_day=300, seed=4, budget=80)
    default = audit((d, o)).quality.set_index("tier")
    beta = audit((d, o), interval="beta")
    q = beta.quality.set_index("tier")
    assert beta.settings["interval"] == "beta"
    for t in ("cheap", "capable"):
        assert q.loc[t, "mean"] == default.loc[t, "mean"]
        assert q.loc[t, "lower"] != default.loc[t, "lower"]
        assert q.loc[t, "lower"] <= q.loc[t, "mean"] <= q.loc[t, "upper"]
    assert q.loc[BLENDED, "lower"] == default.loc[BLENDED, "lower"]  # unweighted Wilson either way
    with pytest.raises(InvalidInputError, match="`interval`"):
        audit((d, o), interval="likelihood")
