"""Width of tierscope's confidence sequences against confseq's beta-binomial mixture.

Run: ``python benches/bench_sequential.py [--runs 200]`` (needs scipy). Streams of Bernoulli(0.85)
reviews arrive in daily batches of 70 (the monitors' real use); each sequence runs unrestarted at
α = 0.05 with its running intersection, and the table gives the mean width at n reviews:

* old EB: empirical-Bernstein with the version-1 prior (first bet centred at 1/2, variance 1/4),
  obtained by loading a version-1 state;
* new EB: the same sequence with the first bet centred and sized from the baseline 0.85;
* beta-binomial: tierscope's conjugate-mixture boundary (``boundary="beta_binomial"``);
* confseq: the reference, ``confseq.interval.bernoulli_confidence_interval``'s published
  two-sided beta-binomial mixture (Howard et al. 2021; g = p, h = 1 − p, tuned at t_opt = 500,
  alpha_opt = α) implemented here with scipy, since the confseq 0.0.11 sdist does not build in
  this environment (its CMake build needs Boost and Ninja). Same running intersection over days.

Ratios are widths over the confseq reference's, measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import math
import os

import numpy as np
from scipy.optimize import brentq
from scipy.special import betaln
from tierscope import stats as ts
from tierscope._runtime import cpu_info

ALPHA, P, BASE, PER_DAY, T_OPT = 0.05, 0.85, 0.85, 70, 500.0
CHECKPOINTS = (70, 140, 500, 1000, 5000)


def confseq_log_mixture(mu: float, t: float, s: float) -> float:
    """confseq's BetaBinomialMixture.log_superMG (two-sided) with g = mu, h = 1 - mu."""
    gh = mu * (1 - mu)
    z = math.log(1 / ALPHA)
    rho = gh * T_OPT / (2 * z + math.log(1 + 2 * z))
    r = max(rho - gh, 1e-3 * gh)
    a0, b0 = r / mu, r / (1 - mu)  # confseq's (r/(g(g+h)), r/(h(g+h)))
    v, sv = gh * t, s - mu * t
    return float(
        -((v + (1 - mu) * sv) / (1 - mu)) * math.log(mu)
        - ((v - mu * sv) / mu) * math.log(1 - mu)
        + betaln(a0 + (v - mu * sv) / mu, b0 + (v + (1 - mu) * sv) / (1 - mu))
        - betaln(a0, b0)
    )


def confseq_interval(t: float, s: float) -> tuple[float, float]:
    p_hat, thr = s / t, math.log(1 / ALPHA)
    f = lambda mu: confseq_log_mixture(mu, t, s) - thr  # noqa: E731
    lo = 0.0 if p_hat <= 0 else brentq(f, 1e-12, p_hat, xtol=1e-12)
    hi = 1.0 if p_hat >= 1 else brentq(f, p_hat, 1 - 1e-12, xtol=1e-12)
    return lo, hi


def old_eb_monitor() -> ts.Monitor:
    """A monitor whose sequence has the version-1 prior (1/2, 1/4): load a state without it."""
    m = ts.Monitor(BASE, 0.03, restart_every=0)
    m.update(np.zeros(0))  # creates the sequence (no data)
    state = json.loads(m.to_json())
    for seq in state["sequences"]:
        seq.pop("prior_mean")
        seq.pop("prior_var")
    return ts.Monitor.from_json(json.dumps(state))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    cpu = cpu_info()
    print(f"CPU: {cpu['model']} (ISA class {cpu['isa']}), {os.cpu_count()} cores; runs = {args.runs}\n")
    names = ("old EB", "new EB", "beta-binomial", "confseq")
    widths = {name: {n: [] for n in CHECKPOINTS} for name in names}
    rng = np.random.default_rng(0)
    for _ in range(args.runs):
        mons = {
            "old EB": old_eb_monitor(),
            "new EB": ts.Monitor(BASE, 0.03, restart_every=0),
            "beta-binomial": ts.Monitor(BASE, 0.03, restart_every=0, boundary="beta_binomial"),
        }
        n, s, ref = 0, 0.0, (0.0, 1.0)
        while n < CHECKPOINTS[-1]:
            x = (rng.random(PER_DAY) < P).astype(float)
            n, s = n + len(x), s + float(x.sum())
            status = {k: m.update(x) for k, m in mons.items()}
            lo, hi = confseq_interval(n, s)
            ref = (max(ref[0], lo), min(ref[1], hi))
            for c in CHECKPOINTS:
                if n - PER_DAY < c <= n:
                    for k, st in status.items():
                        widths[k][c].append(st.upper - st.lower)
                    widths["confseq"][c].append(ref[1] - ref[0])
    print(
        "| n reviews | old EB | new EB | beta-binomial | confseq ref | old/ref | new/ref | bb/ref | new/old |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for c in CHECKPOINTS:
        w = {k: float(np.mean(widths[k][c])) for k in names}
        r = w["confseq"]
        print(
            f"| {c:,} | {w['old EB']:.4f} | {w['new EB']:.4f} | {w['beta-binomial']:.4f} | {r:.4f} "
            f"| {w['old EB'] / r:.3f} | {w['new EB'] / r:.3f} | {w['beta-binomial'] / r:.3f} "
            f"| {w['new EB'] / w['old EB']:.3f} |"
        )


if __name__ == "__main__":
    main()
