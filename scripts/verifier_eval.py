#!/usr/bin/env python
"""The answer verifier on GSM8K (RouteLLM outcomes): held-out AUROC/ECE, cascade savings, threshold check.

Deterministic (seeded). On ``shared/data/routellm_outcomes/gsm8k_responses.csv`` (contaminated prompts
dropped), split BY PROBLEM in half (:func:`evals.routellm.routellm.split_prompts`, seed 0); on the training
half, fit :class:`tierscope.confidence.Verifier` for each design ("pair" and "joint") on the default
router's encoder for "Mixtral's answer is correct", keep the design with the better AUROC on the
verifier's *own* calibration split (training half only); on the held-out half report, for both designs,
AUROC, ECE and Brier, and the cascade's cost saved vs all-GPT-4 at 90/95/99% of GPT-4's accuracy (bootstrap
intervals over held-out problems), next to the query-only pre-router (``Router.fit`` on the same half),
the reference-free answer heuristic of ``evals/routellm`` (arithmetic checks etc.) and random routing.
Then ``choose_threshold(eps=0.1, delta=0.1)`` on the kept verifier's scores over ``--resamples`` random
halvings of the held-out half (calibrate on one half, measure on the other): feasibility, acceptance rate,
realized failure rate, and the share of feasible resamples whose failure rate is <= eps.

Prices: RouterArena's table (``shared/data/pricing``), tokens ~ characters / 4 (as ``evals/routellm``).

    TIERSCOPE_DEFAULT_ROUTER=/path/to/default-router python scripts/verifier_eval.py --json out.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tierscope.confidence.verifier import Verifier, auroc, brier, ece  # noqa: E402
from tierscope.routing.calibration import choose_threshold  # noqa: E402
from tierscope.routing.router import default_router_dir  # noqa: E402

from evals.routellm import routellm  # noqa: E402

L2_GRID = (0.1, 0.3, 1.0, 3.0, 10.0)


def threshold_check(
    score: np.ndarray, ok: np.ndarray, *, epsilon: float, delta: float, resamples: int, seed: int
) -> dict[str, Any]:
    """``choose_threshold`` on a random half, its realized failure rate on the other half, repeated."""
    rng = np.random.default_rng(seed + 101)
    n = score.size
    feasible = 0
    acc_rates: list[float] = []
    fail_rates: list[float] = []
    within = 0
    violations = 0
    for _ in range(resamples):
        perm = rng.permutation(n)
        cal, ev = perm[: n // 2], perm[n // 2 :]
        rep = choose_threshold(score[cal], ok[cal], epsilon, delta)
        if not rep.feasible:
            continue
        feasible += 1
        accepted = score[ev] >= rep.threshold
        acc_rates.append(float(accepted.mean()))
        if accepted.any():
            fr = float(1.0 - ok[ev][accepted].mean())
            fail_rates.append(fr)
            within += fr <= epsilon
            violations += fr > epsilon
        else:
            fail_rates.append(0.0)
            within += 1
    return {
        "epsilon": epsilon,
        "delta": delta,
        "resamples": resamples,
        "feasible_share": feasible / resamples,
        "acceptance_rate_mean": float(np.mean(acc_rates)) if acc_rates else 0.0,
        "failure_rate_mean": float(np.mean(fail_rates)) if fail_rates else float("nan"),
        "share_within_epsilon": within / feasible if feasible else float("nan"),
        # Over all resamples (an infeasible report accepts nothing, so it cannot violate).
        "violation_share": violations / resamples,
    }


def run(seed: int, resamples: int, replicates: int, encoder: str | None) -> dict[str, Any]:
    enc = encoder or str(default_router_dir())
    o = routellm.load_outcomes("gsm8k")
    tr, te = routellm.split_prompts(o, seed=seed)
    train, test = o.subset(tr), o.subset(te)
    assert train.cheap_responses is not None and test.cheap_responses is not None
    out: dict[str, Any] = {
        "n_train": len(train),
        "n_test": len(test),
        "encoder": enc,
        "n_contaminated_removed": o.n_contaminated_removed,
        "designs": {},
    }
    verifiers: dict[str, Verifier] = {}
    test_scores: dict[str, np.ndarray] = {}
    for design in ("pair", "joint"):
        t0 = time.perf_counter()
        ver = Verifier.fit(
            train.prompts,
            train.cheap_responses,
            train.cheap_ok,
            encoder=enc,
            design=design,
            l2=list(L2_GRID),
            seed=seed,
        )
        s = ver.score(test.prompts, test.cheap_responses)
        verifiers[design], test_scores[design] = ver, s
        out["designs"][design] = {
            "fit_metrics": ver.metrics,
            "l2": ver.config["l2"],
            "test_auroc": auroc(s, test.cheap_ok),
            "test_ece": ece(s, test.cheap_ok),
            "test_brier": brier(s, test.cheap_ok),
            "seconds": time.perf_counter() - t0,
        }
        print(f"[{design}: {out['designs'][design]}]", file=sys.stderr)

    # Chosen on the training half only: AUROC over its out-of-fold (l2 CV) and calibration-split rows.
    def train_auroc(d: str) -> float:
        m = verifiers[d].metrics
        return float(
            (m["cv_auroc"] * m["n_fit"] + m["auroc"] * m["n_calibration"]) / (m["n_fit"] + m["n_calibration"])
        )

    kept = max(verifiers, key=train_auroc)
    out["design_choice"] = {d: train_auroc(d) for d in verifiers}
    out["kept_design"] = kept
    p_cap, _ = routellm.router_scores(train, test, encoder=enc, seed=seed)
    params = routellm.fit_logistic(routellm.response_features(train.cheap_responses), train.cheap_ok)
    heur = routellm.predict_logistic(params, routellm.response_features(test.cheap_responses))
    scores = {
        f"verifier ({kept})": ("cascade", test_scores[kept]),
        f"verifier ({'joint' if kept == 'pair' else 'pair'})": (
            "cascade",
            test_scores["joint" if kept == "pair" else "pair"],
        ),
        "answer heuristic (evals/routellm)": ("cascade", heur),
        "pre-router (query only)": ("preroute", p_cap),
    }
    savings = routellm.bootstrap_savings(test, scores, routellm.FRACTIONS, replicates=replicates, seed=seed)
    out["aurocs"] = {
        f"verifier ({kept})": auroc(test_scores[kept], test.cheap_ok),
        "answer heuristic (evals/routellm)": auroc(heur, test.cheap_ok),
        # The pre-router scores P(capable needed): low means "cheap is fine".
        "pre-router (query only)": auroc(-p_cap, test.cheap_ok),
        "random": 0.5,
    }
    out["eces"] = {
        f"verifier ({kept})": ece(test_scores[kept], test.cheap_ok),
        "answer heuristic (evals/routellm)": ece(heur, test.cheap_ok),
    }
    out["savings"] = [s.__dict__ for s in savings]
    out["threshold"] = threshold_check(
        test_scores[kept], test.cheap_ok, epsilon=0.1, delta=0.1, resamples=resamples, seed=seed
    )
    # Context for the required check: the other signals, and the looser epsilon where it turns feasible.
    out["threshold_more"] = {
        f"{name} eps={eps}": threshold_check(
            sc, test.cheap_ok, epsilon=eps, delta=0.1, resamples=resamples, seed=seed
        )
        for name, sc in (
            *((f"verifier ({d})", test_scores[d]) for d in verifiers),
            ("answer heuristic", heur),
        )
        for eps in (0.1, 0.2, 0.3)
    }
    out["cheap_accuracy"] = float(test.cheap_ok.mean())
    out["capable_accuracy"] = float(test.capable_ok.mean())
    return out


def _pct(x: float) -> str:
    return "n/a" if x != x else f"{100 * x:.1f}%"


def markdown(res: dict[str, Any]) -> str:
    lines = [
        f"GSM8K held-out half: {res['n_test']} problems (trained on {res['n_train']}; "
        f"{res['n_contaminated_removed']} contaminated removed); "
        f"Mixtral right on {_pct(res['cheap_accuracy'])}, "
        f"GPT-4 on {_pct(res['capable_accuracy'])}. Kept design: {res['kept_design']}.",
        "",
        "| method | AUROC (Mixtral right) | ECE | saved @90% | saved @95% | saved @99% |",
        "|---|---|---|---|---|---|",
    ]
    by = {}
    for s in res["savings"]:
        by.setdefault(s["method"], {})[round(s["fraction"], 2)] = s
    for method, row in by.items():
        au = res["aurocs"].get(method)
        if au is None:
            key = method.split(" (")[1].rstrip(")") if method.startswith("verifier") else None
            au = res["designs"][key]["test_auroc"] if key else float("nan")
        e = res["eces"].get(method)
        if e is None and method.startswith("verifier"):
            e = res["designs"][method.split(" (")[1].rstrip(")")]["test_ece"]
        cells = [
            f"{_pct(row[f]['saved'])} [{_pct(row[f]['saved_lo'])}, {_pct(row[f]['saved_hi'])}]"
            for f in (0.9, 0.95, 0.99)
        ]
        lines.append(
            f"| {method} | {au:.3f} | {'—' if e is None else f'{e:.3f}'} | " + " | ".join(cells) + " |"
        )
    t = res["threshold"]
    lines += [
        "",
        f"choose_threshold(eps={t['epsilon']}, delta={t['delta']}) on the kept verifier, "
        f"{t['resamples']} random halvings of the held-out half: feasible in "
        f"{_pct(t['feasible_share'])}; when feasible, acceptance rate "
        f"{_pct(t['acceptance_rate_mean'])}, realized failure rate {_pct(t['failure_rate_mean'])}, "
        f"<= eps in {_pct(t['share_within_epsilon'])} of them; failure rate > eps in "
        f"{_pct(t['violation_share'])} of all resamples.",
        "",
        "| signal, epsilon | feasible | acceptance (when feasible) | realized failure "
        "| violated (all resamples) |",
        "|---|---|---|---|---|",
    ]
    for name, t in res["threshold_more"].items():
        lines.append(
            f"| {name} | {_pct(t['feasible_share'])} | {_pct(t['acceptance_rate_mean'])} | "
            f"{_pct(t['failure_rate_mean'])} | {_pct(t['violation_share'])} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--resamples", type=int, default=200)
    ap.add_argument("--replicates", type=int, default=1000, help="bootstrap replicates for the savings")
    ap.add_argument("--encoder", default=None, help="router directory whose encoder to use (default router)")
    ap.add_argument("--json", default=None, help="write the full results here")
    args = ap.parse_args(argv)
    res = run(args.seed, args.resamples, args.replicates, args.encoder)
    print(markdown(res))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(res, indent=1, default=float), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
