"""Interval width per tier, human-only vs judge-assisted (PPI++), at 200 reviews a day.

One simulated day like the demo's: 40,000 answers, 65% on the cheap tier (quality 0.88), 35% on the
capable tier (0.96); 200 human reviews a day split 130/70 (π = reviews/tier size); the demo's judge
error model (accepts 92% of good answers, 20% of bad ones, 60% of the bad answers that look fluent,
a third of the cheap tier's failures) on a Poisson sample of JUDGE_SHARE of each tier's answers
and on every reviewed answer. Prints the mean 95% interval width over 300 days, per tier.

Run: python scripts/ppi_width_table.py [judge share ...] (default 0.1 0.5 1.0)
"""

from __future__ import annotations

import sys

import numpy as np
from tierscope import stats

TIERS = {"cheap": (26_000, 130, 0.88, 1 / 3), "capable": (14_000, 70, 0.96, 0.1)}


def day(rng: np.random.Generator, share: float) -> dict[str, tuple[float, float, float]]:
    out = {}
    for name, (n, reviews, quality, fluent_share) in TIERS.items():
        good = rng.random(n) < quality
        fluent = ~good & (rng.random(n) < fluent_share)
        accept = np.where(good, 0.92, np.where(fluent, 0.60, 0.20))
        f = (rng.random(n) < accept).astype(float)
        h = rng.random(n) < reviews / n
        j = rng.random(n) < share
        e = stats.ppi_mean(
            good[h].astype(float),
            f[h],
            f[j],
            pi_reviewed=np.full(h.sum(), reviews / n),
            pi_judged=np.full(j.sum(), share),
        )[0]
        out[name] = (e.upper - e.lower, e.human_upper - e.human_lower, e.lam)
    return out


def main() -> None:
    shares = [float(a) for a in sys.argv[1:]] or [0.1, 0.5, 1.0]
    rng = np.random.default_rng(16)
    print("tier     judge share  human-only width  judge-assisted width  ratio  mean λ")
    for share in shares:
        days = [day(rng, share) for _ in range(300)]
        for name in TIERS:
            w = np.array([d[name] for d in days])
            ppi, human, lam = w.mean(axis=0)
            print(f"{name:8s} {share:11.2f} {human:17.4f} {ppi:21.4f} {ppi / human:6.3f} {lam:7.3f}")


if __name__ == "__main__":
    main()
