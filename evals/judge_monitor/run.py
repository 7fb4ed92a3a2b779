"""The demo's monitors across seeds, with and without the mix shift (issue 16, "what it must show").

Routes the demo's real corpus once with the default router (``$TIERSCOPE_DEFAULT_ROUTER``), then per
seed runs the full demo (``tierscope.demo.run_demo``, 84 days x 40,000 queries, all three arms) with
and without the shift and records, from each arm's run *without a response*:

- every counted alarm (the monitors with a false-alarm guarantee: arm (a)'s blended monitor and
  suite, arms (b)/(c)'s per-tier review, judge-assisted, shadow-gap and support-contact monitors)
  and the cheap tier's traffic-mix drift alarm, next to the ground-truth quality day;
- the cheap tier's daily interval widths at 200 reviews a day, human-only (Hájek) vs judge-assisted
  (PPI++, tuned λ), from the day's reviews and judged answers (median over days);
- what *any* monitor could do with this design (:func:`tierscope.demo.monitoring.detection_limit`,
  by :func:`tierscope.stats.oracle_alarm_day`): the day on which the expected log-likelihood ratio
  of an oracle that knows each day's true quality reaches ln(ARL) (Lorden's bound: a detector
  whose mean time to a false alarm is at least ARL needs about that much evidence), for the
  reviews alone and with the variance the judge leaves, var(y − λf); and the daily reviews the
  oracle would need to expect an alarm within 2 days of the ground-truth quality day;
- :func:`sensitivity`: arm (b) alone with better judges and larger review budgets.

    python -m evals.judge_monitor.run --seeds 20260627 1 2 3 4 5 [--json out.json] [--jobs 2]
"""

from __future__ import annotations

import argparse
import json
import math
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

from tierscope.demo.config import DemoConfig, JudgeModel


def _first_run(arm: Any) -> dict[str, Any]:
    return dict(arm.detail.get("no_response", arm.detail))


def run_one(corpus: Any, cfg: DemoConfig) -> dict[str, Any]:
    """One demo run (``cfg``): every counted alarm of every arm, the mix alarm, the widths, the bound."""
    from tierscope.demo import run_demo
    from tierscope.demo.monitoring import counted_alarms, judge_daily_widths, mix_drift_alarm

    t0 = time.perf_counter()
    res = run_demo(cfg, corpus=corpus, log=lambda m: None, progress=False)
    blended = _first_run(res.arms[0])
    alarms: dict[str, int | None] = {
        "a: blended monitor": blended["monitor_day"],
        "a: regression suite": blended["suite_day"],
    }
    for arm in res.arms[1:]:
        det = _first_run(arm)
        for name, day in counted_alarms(det["audit"], det["contacts"]).items():
            alarms[f"{arm.name}: {name}"] = _clean(day)
    mix = mix_drift_alarm(res.corpus, res.traffic, cfg)
    truth = res.truth
    lim = res.detection_limit  # computed by run_demo with the shift; the widths alone without it
    widths = (
        lim["widths"]
        if lim is not None
        else judge_daily_widths(_first_run(res.arms[1])["monitoring"], cfg.onset)
    )
    b = _first_run(res.arms[1])["audit"].alarms()
    return {
        "seed": cfg.seed,
        "shift": cfg.shift,
        "quality_day": truth["quality_material_day"],
        "cheap_review_day": _clean(b.get("cheap")),
        "cheap_judge_assisted_day": _clean(b.get("cheap (judge-assisted)")),
        "mix_alarm_day": None if mix is None else mix["alarm_day"],
        "counted_alarms": alarms,
        "any_counted_alarm": any(v is not None for v in alarms.values()),
        "widths": widths,
        "limit": lim,
        "seconds": time.perf_counter() - t0,
    }


#: The judges of :func:`sensitivity`: the demo's (blind to most fluent wrong answers), one that
#: sees them as well as other errors, a strong one and one close to the human reviewers.
JUDGES: dict[str, JudgeModel] = {
    "demo 92/20/60": JudgeModel(),
    "sees fluent errors 92/20/20": JudgeModel(accept_fluent_bad=0.20),
    "strong 97/10/10": JudgeModel(accept_good=0.97, accept_bad=0.10, accept_fluent_bad=0.10),
    "near-human 99/3/3": JudgeModel(accept_good=0.99, accept_bad=0.03, accept_fluent_bad=0.03),
    "near-human 99/3/3, every cheap answer": JudgeModel(
        share=1.0, accept_good=0.99, accept_bad=0.03, accept_fluent_bad=0.03
    ),
}


class _Quiet:
    total = 0

    def update(self, n: int = 1) -> None:
        """No progress bar."""


def sensitivity(
    corpus: Any,
    seed: int,
    budgets: tuple[int, ...] = (200, 800),
    judges: dict[str, JudgeModel] | None = None,
    config: DemoConfig | None = None,
) -> list[dict[str, Any]]:
    """Arm (b) alone (no response), with the shift, for each judge (accept good / bad / fluent bad,
    in %) and daily review budget: the cheap tier's review and judge-assisted alarm days, the
    daily width ratio and the oracle day at that design, next to the ground-truth quality day.
    ``config``: the run's sizes (default: the full-size demo)."""
    from tierscope.demo.arms import run_prerouter
    from tierscope.demo.monitoring import detection_limit, judge_daily_widths
    from tierscope.demo.simulation import generate_traffic, ground_truth

    cfg0 = replace(config or DemoConfig(), seed=seed)
    traffic = generate_traffic(corpus, cfg0)
    truth = ground_truth(corpus, traffic, cfg0)
    rows = []
    for name, judge in (judges or JUDGES).items():
        for budget in budgets:
            cfg = replace(cfg0, reviews=budget, judge=judge)
            arm = run_prerouter(corpus, traffic, cfg, None, monitoring="tierscope", progress=_Quiet())
            alarms = arm.detail["audit"].alarms()
            w = judge_daily_widths(arm.detail["monitoring"], cfg.onset)
            lim = detection_limit(truth, cfg, arm.detail["monitoring"], w)
            tw = None if lim is None else lim["tail_weighted"]
            rows.append(
                {
                    "seed": seed,
                    "judge": name,
                    "reviews": budget,
                    "quality_day": truth["quality_material_day"],
                    "cheap_review_day": _clean(alarms.get("cheap")),
                    "cheap_judge_assisted_day": _clean(alarms.get("cheap (judge-assisted)")),
                    "width_ratio": w["width_ratio"],
                    "cheap_reviews_per_day": w["reviews_per_day"],
                    "oracle_day_judge_assisted": None if tw is None else tw["oracle_day_judge_assisted"],
                }
            )
            print(json.dumps(rows[-1]), flush=True)
    return rows


def sensitivity_table(rows: list[dict[str, Any]]) -> str:
    """A Markdown table of :func:`sensitivity` rows."""
    lines = [
        "| seed | judge (accepts good/bad/fluent bad, %) | reviews/day | quality day | cheap review "
        "| cheap judge-assisted | PPI/human width | oracle, judge-assisted |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['seed']} | {r['judge']} | {r['reviews']} | {r['quality_day']} | {r['cheap_review_day']} "
            f"| {r['cheap_judge_assisted_day']} | {r['width_ratio']:.3f} | {r['oracle_day_judge_assisted']} |"
        )
    return "\n".join(lines)


def _clean(day: Any) -> int | None:
    if day is None or (isinstance(day, float) and math.isnan(day)):
        return None
    return int(day)


_CORPUS: Any = None


def _worker(args: tuple[int, bool]) -> dict[str, Any]:
    seed, shift = args
    return run_one(_CORPUS, replace(DemoConfig(), seed=seed, shift=shift))


def _sensitivity_worker(seed: int) -> list[dict[str, Any]]:
    return sensitivity(_CORPUS, seed)


def _init(corpus: Any) -> None:
    global _CORPUS
    _CORPUS = corpus


def run(
    seeds: list[int], jobs: int = 1, quick: bool = False, sensitivity_seeds: list[int] | None = None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(one row per (seed, shift), in that order; the :func:`sensitivity` rows of
    ``sensitivity_seeds``). ``jobs`` processes share the routed corpus."""
    from tierscope import Router
    from tierscope.demo.simulation import build_corpus

    corpus = build_corpus(Router.default(), quick, log=lambda m: None)
    tasks = [(s, sh) for s in seeds for sh in (True, False)]
    rows, sens = [], []
    with ProcessPoolExecutor(max_workers=max(jobs, 1), initializer=_init, initargs=(corpus,)) as ex:
        for row in ex.map(_worker, tasks):
            print(json.dumps(row), flush=True)
            rows.append(row)
        for part in ex.map(_sensitivity_worker, sensitivity_seeds or []):
            sens += part
    return rows, sens


def table(rows: list[dict[str, Any]]) -> str:
    """A Markdown table of the rows (for the note and the README): each cheap monitor's alarm day
    with, in brackets, the day an oracle expects for the tail-weighted quality both follow (with
    the judge's variance for the judge-assisted one), and the daily reviews each would need for an
    expected alarm within 2 days."""
    lines = [
        "| seed | shift | quality day | cheap review (oracle) | cheap judge-assisted (oracle) | mix drift "
        "| reviews/day for +2: review / judge-assisted | any counted alarm | PPI/human daily width |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lim = r["limit"] or {}
        tw = lim.get("tail_weighted", {})
        need = f"{tw['reviews_needed']:,.0f} / {tw['reviews_needed_judge_assisted']:,.0f}" if tw else "-"
        lines.append(
            f"| {r['seed']} | {'yes' if r['shift'] else 'no'} | {r['quality_day']} "
            f"| {r['cheap_review_day']} ({tw.get('oracle_day', '-')}) "
            f"| {r['cheap_judge_assisted_day']} ({tw.get('oracle_day_judge_assisted', '-')}) "
            f"| {r['mix_alarm_day']} | {need} | {'yes' if r['any_counted_alarm'] else 'no'} "
            f"| {r['widths']['width_ratio']:.3f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[DemoConfig.seed, 1, 2, 3, 4, 5])
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--sensitivity-seeds", type=int, nargs="*", default=[DemoConfig.seed, 1])
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    rows, sens = run(args.seeds, args.jobs, sensitivity_seeds=args.sensitivity_seeds)
    print(table(rows))
    print(sensitivity_table(sens))
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"seeds": rows, "sensitivity": sens}, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
