"""A demo run: route the corpus, sample the traffic, calibrate the cascade, run the three arms (each
re-run with the response policy once it alarms) and collect everything the outputs need."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from .._optional import require
from .arms import (
    ArmRun,
    CascadeSetup,
    calibrate_cascade,
    check_cascade_equivalence,
    frontier,
    run_cascade,
    run_prerouter,
)
from .config import RESPONSE_LAG, DemoConfig
from .monitoring import detection_limit, drift
from .simulation import (
    Corpus,
    Counterfactual,
    Traffic,
    build_corpus,
    counterfactual,
    generate_traffic,
    ground_truth,
)

__all__ = ["DemoResult", "run_demo"]


@dataclass
class DemoResult:
    """Everything the summary, the HTML report and the tests need."""

    config: DemoConfig
    corpus: Corpus
    traffic: Traffic
    arms: list[ArmRun]
    allcap: Counterfactual
    setup: CascadeSetup
    drift: dict[str, Any]
    frontier: dict[str, Any]
    cascade_mismatches: int
    seconds: float
    truth: dict[str, Any]
    detection_limit: dict[str, Any] | None = None
    """:func:`~.monitoring.detection_limit` of arm (b)'s run without a response (None: no shift)."""


def _with_response(
    first: ArmRun,
    rerun: Callable[[int], ArmRun],
    cfg: DemoConfig,
    progress: Any,
    *,
    expect_same_alarm: bool,
) -> ArmRun:
    """The arm as it ran under the response policy.

    ``first`` is the run without a response. If it alarmed with time left, the arm is re-run with
    ``rerun(switch_day)``, going conservative ``RESPONSE_LAG`` days after the alarm; the re-run keeps
    the first run's alarm (alarms are causal, the response cannot move the alarm that triggered it)
    and the first run itself under ``detail["no_response"]``.
    """
    lag = RESPONSE_LAG + 1
    if first.alarm_day is None or first.alarm_day + lag >= cfg.days:
        return first
    progress.total += cfg.days
    again = rerun(first.alarm_day + lag)
    assert again.alarm_day == first.alarm_day or not expect_same_alarm
    again.alarm_day, again.alarm_monitor = first.alarm_day, first.alarm_monitor
    again.detail["no_response"] = first.detail
    return again


def _run_arms(
    corpus: Corpus, traffic: Traffic, cfg: DemoConfig, setup: CascadeSetup, progress: bool
) -> list[ArmRun]:
    """Arms (a), (b) and (c), each under the response policy, with one progress bar over all days."""
    require("tqdm", purpose="the demo's progress bar")
    from tqdm import tqdm

    bar = tqdm(total=cfg.days * 3, desc="simulating arms (days)", disable=not progress, file=sys.stderr)
    arms: list[ArmRun] = []
    for kind in ("blended", "tierscope"):
        prerouter = partial(run_prerouter, corpus, traffic, cfg, monitoring=kind, progress=bar)
        arms.append(_with_response(prerouter(None), prerouter, cfg, bar, expect_same_alarm=kind != "blended"))
    cascade = partial(run_cascade, corpus, traffic, cfg, setup, progress=bar)
    arms.append(_with_response(cascade(None), cascade, cfg, bar, expect_same_alarm=False))
    bar.close()
    return arms


def run_demo(cfg: DemoConfig, router: Any = None, log: Callable[[str], None] = print,
             progress: bool = True, corpus: Corpus | None = None) -> DemoResult:  # fmt: skip
    """Run the three arms and return the results (no printing beyond ``log``).

    ``corpus``: reuse an already routed corpus (:func:`build_corpus`) instead of routing again.
    """
    from ..routing.router import Router

    started = time.perf_counter()
    if corpus is None:
        corpus = build_corpus(router if router is not None else Router.default(), cfg.quick, log)
    log(f"routed in {corpus.route_seconds:.1f} s; sampling {cfg.days} days x {cfg.per_day:,} queries ...")
    traffic = generate_traffic(corpus, cfg)
    setup = calibrate_cascade(corpus, cfg)
    mismatches = check_cascade_equivalence(corpus, setup, traffic, n=min(300, cfg.per_day))
    allcap = counterfactual(corpus, traffic)
    arms = _run_arms(corpus, traffic, cfg, setup, progress)
    truth = ground_truth(corpus, traffic, cfg)
    b = arms[1].detail.get("no_response", arms[1].detail)
    limit = (
        detection_limit(truth, cfg, b["monitoring"]) if truth["quality_material_day"] is not None else None
    )
    return DemoResult(
        config=cfg,
        corpus=corpus,
        traffic=traffic,
        arms=arms,
        allcap=allcap,
        setup=setup,
        drift=drift(corpus, traffic, cfg),
        frontier=frontier(corpus, traffic, cfg, setup),
        cascade_mismatches=mismatches,
        seconds=time.perf_counter() - started,
        truth=truth,
        detection_limit=limit,
    )
