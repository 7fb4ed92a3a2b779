"""``tierscope demo``: the post-mortem's Pareto trap, replayed on real queries and a real router.

What is real and what is simulated
    *Real*: the queries (BANKING77's train and test splits and DSTC11's long, spoken-style banking
    service turns, vendored under ``data/``) and the router (the embedded default router; every
    unique text is routed once and its tier, confidence and tail score are reused for every
    replay of that text). *Simulated*: which queries arrive on which day (sampled with
    replacement), the two tiers' answer quality and the users' reactions, drawn from the
    documented per-intent outcome model in ``data/demo_intents.csv``.

Traffic
    ``per_day`` queries a day for ``days`` days. Launch mix (weeks 1–2): every BANKING77 intent
    weighs 1, the easy-centre cheap intents 2 (the router then sends ~74% to the cheap tier; the
    post-mortem had 65%), the intents flagged "looks simple but is not" 0.5, and DSTC11's
    turns 5% of traffic. From day ``onset`` (week 3) the mix shifts over ``ramp_days`` (21: weeks
    3–5; the post-mortem's drift started in week 3 and reached the suite by week 6) toward the
    flagged intents: their share of the router's cheap-tier traffic rises linearly from its launch
    value (~5%) to 20%, the post-mortem's share (the flagged weight that gives each day's share is
    solved at run time), and DSTC11 rises linearly to 10%. ``--no-shift`` keeps the launch mix all
    run, a check that the monitors stay quiet when nothing changes.
    A query's text is drawn uniformly within its intent.

Outcome model (per query, common random numbers across the arms)
    Independent uniforms ``u``, ``v``: the cheap answer is bad when ``u < cheap_fail[intent]``, the
    capable answer when ``v < capable_fail[intent]``; both are drawn for every query, so every arm
    (and the all-capable counterfactual) sees the same answers. A bad answer
    leads to a support contact with probability ``support_given_bad`` (0.35–0.6), a good one with
    ``SUPPORT_GIVEN_GOOD``; thumbs-down with ``thumbs_down_given_bad`` (0.03) or
    ``THUMBS_DOWN_GIVEN_GOOD``: about 3 per 1,000 answers, as in the post-mortem. Prices: capable
    ``PRICE_CAPABLE`` per query, cheap a quarter of it; a support contact costs ``COST_PER_CONTACT``.

Arms (same traffic, same outcome draws)
    (a) *playbook*: the router pre-routes; 200 simple-random reviews a day, one blended number,
    a blended :class:`~tierscope.stats.Monitor` and a dashboard rule (the day's 95% Wilson interval
    entirely below baseline − tolerance); plus a weekly static regression suite (12,000
    queries drawn once from the launch mix) scored on the cheap tier. (b) the same pre-router
    with tierscope's monitoring: :func:`~tierscope.quality.plan_reviews` (200 a day,
    stratified by tier × router confidence × tail score, low-confidence and tail oversampled
    4×, confidence bands cut at ``CONFIDENCE_BANDS``), per-tier tail-weighted sequential monitors
    from :func:`~tierscope.quality.audit`, per-tier support-contact monitors (every answer's
    contact joined to its routing decision ``SUPPORT_LAG_DAYS`` later: the post-mortem's missing
    link between AI deflection and human-support volume; arm (a) does not have it, the two sat in
    different cost centres), and confidence drift (PSI against the router's training histogram
    and the launch weeks; reported, not an alarm).
    (c) tierscope's cascade: every query goes to the cheap tier first; the cheap answer's raw
    confidence is a simulated self-evaluation score (good answers ~ Beta(6, 2); a bad answer is
    a *confident failure* with probability ``CONFIDENT_FAILURE`` and then scores like a good one,
    otherwise ~ Beta(2, 4)); an isotonic calibrator is fitted on half of a seeded labelled
    calibration set (launch mix) and the threshold is chosen on the other half with
    :func:`~tierscope.routing.choose_threshold` (ε = ``EPSILON``, δ = ``DELTA``); 2% of
    accepted answers are shadow-scored on the capable tier; the same monitoring as (b). The
    vectorised acceptance rule is checked against :class:`~tierscope.routing.Cascade` itself on a
    sample of real queries.

    Alarms: every arm counts only instruments with a false-alarm guarantee. Arm (a): the blended
    :class:`~tierscope.stats.Monitor` and the static suite. Arms (b)/(c): the per-tier review
    monitors, the shadow-gap monitor and the support-contact monitors. Every monitor, in every
    arm, is a :class:`~tierscope.stats.Monitor` with the e-detector alarm (``MONITOR_METHOD``): on
    average at least ``ARL`` (1,000) days with data between false alarms per monitor. The daily-interval
    rule (the day's interval below baseline − tolerance: blended in (a), per tier in (b)/(c)) is
    printed but not counted: it has no such guarantee and does raise false alarms.

    Tolerances: ``TOLERANCE`` (3 points) on quality; ``CONTACT_TOLERANCE`` on a tier's contact
    rate, set where the extra contacts would eat ``CONTACT_SAVINGS_SHARE`` (a quarter) of the
    inference saving per cheap answer (0.375 points). The summary also prints the ground truth the
    monitors never see: the first day the cheap tier's *expected* quality (contact rate) under the
    day's mix moves past the tolerance, i.e. when the drop became material.

    Every arm has the same response policy: ``RESPONSE_LAG`` days after its first alarm, it goes
    conservative (pre-router: the cheap tier only when the router says cheap with confidence >=
    ``CONSERVATIVE_MIN_CONFIDENCE``; cascade: the threshold chosen at ``CONSERVATIVE_EPSILON``).
    Alarms are causal, so the response never changes the day of the alarm that triggered it.

Exact vs aggregated
    Routing, outcomes, costs, support contacts and thumbs-down are computed for every simulated
    query (vectorised numpy). Review plans are drawn by ``plan_reviews`` from each day's full
    decisions table; the audit (per-tier Hájek estimates, monitors, shadow gap) runs on the
    reviewed and shadowed decisions only (the estimators need nothing else), with a per-tier
    daily census (every answer, its support contact and thumbs-down: ``audit(census=...)``) as the
    support and thumbs-down rates' denominator, so each arm's audit section in the HTML report
    shows the headline's rates, its counted monitors' alarm days and the traffic-mix alarm
    (:func:`~tierscope.demo.plots.arm_section`); drift is computed
    from every query's router confidence with :func:`tierscope.stats.psi`. The
    all-capable counterfactual uses the same draws, so its costs and contacts are exact too.

Package layout
    :mod:`~tierscope.demo.config` (sizes and constants), :mod:`~tierscope.demo.simulation` (corpus,
    traffic, the tiers' outcomes, counterfactual, ground truth), :mod:`~tierscope.demo.monitoring`
    (both arms' instruments), :mod:`~tierscope.demo.arms` (the three arms, the cascade's
    calibration, the frontier), :mod:`~tierscope.demo.run` (:func:`run_demo`),
    :mod:`~tierscope.demo.summarize` (``summary.txt`` / ``summary.json``),
    :mod:`~tierscope.demo.plots` (plots, the HTML report) and :mod:`~tierscope.demo.cli`
    (``tierscope demo``'s options and entry point).
"""

from __future__ import annotations

# The names below were this module's attributes before it became a package; they stay importable
# from ``tierscope.demo`` (the ``X as X`` form marks them as re-exported for strict type checking).
from .arms import ArmRun as ArmRun
from .arms import CascadeSetup as CascadeSetup
from .arms import calibrate_cascade as calibrate_cascade
from .arms import check_cascade_equivalence as check_cascade_equivalence
from .arms import frontier as frontier
from .arms import run_cascade as run_cascade
from .arms import run_prerouter as run_prerouter
from .cli import add_arguments as add_arguments
from .cli import config_from_args as config_from_args
from .cli import main
from .config import ALPHA as ALPHA
from .config import ARL as ARL
from .config import CONFIDENCE_BANDS as CONFIDENCE_BANDS
from .config import CONFIDENT_FAILURE as CONFIDENT_FAILURE
from .config import CONSERVATIVE_EPSILON as CONSERVATIVE_EPSILON
from .config import CONSERVATIVE_MIN_CONFIDENCE as CONSERVATIVE_MIN_CONFIDENCE
from .config import CONTACT_SAVINGS_SHARE as CONTACT_SAVINGS_SHARE
from .config import CONTACT_TOLERANCE as CONTACT_TOLERANCE
from .config import COST_PER_CONTACT as COST_PER_CONTACT
from .config import DELTA as DELTA
from .config import EPSILON as EPSILON
from .config import FLAGGED_CHEAP_SHARE_AFTER as FLAGGED_CHEAP_SHARE_AFTER
from .config import MIN_ACCEPTED as MIN_ACCEPTED
from .config import MONITOR_METHOD as MONITOR_METHOD
from .config import MONITOR_TARGET as MONITOR_TARGET
from .config import OVERSAMPLE as OVERSAMPLE
from .config import PRICE_CAPABLE as PRICE_CAPABLE
from .config import PRICE_CHEAP as PRICE_CHEAP
from .config import PSI_WARN as PSI_WARN
from .config import RESPONSE_LAG as RESPONSE_LAG
from .config import RESTART_EVERY as RESTART_EVERY
from .config import REVIEWS_PER_DAY as REVIEWS_PER_DAY
from .config import SHADOW_RATE as SHADOW_RATE
from .config import START as START
from .config import SUPPORT_GIVEN_GOOD as SUPPORT_GIVEN_GOOD
from .config import SUPPORT_LAG_DAYS as SUPPORT_LAG_DAYS
from .config import THUMBS_DOWN_GIVEN_GOOD as THUMBS_DOWN_GIVEN_GOOD
from .config import TOLERANCE as TOLERANCE
from .config import BoolArray as BoolArray
from .config import DemoConfig
from .config import FloatArray as FloatArray
from .config import IntArray as IntArray
from .config import JudgeModel as JudgeModel
from .monitoring import ContactMonitors as ContactMonitors
from .monitoring import DayMonitoring as DayMonitoring
from .monitoring import daily_interval_alarms as daily_interval_alarms
from .monitoring import drift as drift
from .plots import figures as figures
from .plots import render_html as render_html
from .run import DemoResult, run_demo
from .simulation import LAUNCH_FLAGGED_WEIGHT as LAUNCH_FLAGGED_WEIGHT
from .simulation import Corpus as Corpus
from .simulation import Counterfactual as Counterfactual
from .simulation import Traffic as Traffic
from .simulation import build_corpus as build_corpus
from .simulation import counterfactual as counterfactual
from .simulation import generate_traffic as generate_traffic
from .simulation import load_intents as load_intents
from .simulation import load_texts as load_texts
from .simulation import shift_progress as shift_progress
from .simulation import solve_shift as solve_shift
from .summarize import DISCLAIMER as DISCLAIMER
from .summarize import arm_rows as arm_rows
from .summarize import summary as summary
from .summarize import summary_record as summary_record

__all__ = ["DemoConfig", "DemoResult", "main", "run_demo"]
