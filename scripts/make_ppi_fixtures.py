"""Regenerate tests/stats/fixtures/ppi_reference.json: ppi_py (ppi-python) results on unweighted
cases, so CI compares tierscope's PPI++ against them without ppi_py (the tests also compare live).

Run: python scripts/make_ppi_fixtures.py (needs ppi-python; writes the fixture file).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import ppi_py
from ppi_py.ppi import _calc_lam_glm

OUT = Path(__file__).resolve().parents[1] / "tests" / "stats" / "fixtures" / "ppi_reference.json"
# (seed, n reviews, N judged, judge agreement or None for a continuous judge)
CASES = [(1, 40, 400, 0.85), (2, 200, 3000, 0.85), (3, 120, 1000, 0.6), (4, 80, 80, 0.95),
         (5, 150, 2000, None), (6, 30, 5000, 0.5)]  # fmt: skip


def _data(seed: int, n: int, big_n: int, agree: float | None) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    if agree is None:
        y = rng.normal(0.7, 0.2, n)
        f = 0.8 * y + rng.normal(0.1, 0.1, n)
        fu = 0.8 * rng.normal(0.7, 0.2, big_n) + rng.normal(0.1, 0.1, big_n)
        return y, f, fu
    y = (rng.uniform(size=n) < 0.8).astype(float)
    f = np.where(rng.uniform(size=n) < agree, y, 1.0 - y)
    yu = (rng.uniform(size=big_n) < 0.8).astype(float)
    fu = np.where(rng.uniform(size=big_n) < agree, yu, 1.0 - yu)
    return y, f, fu


def _tuned_lam(y: np.ndarray, f: np.ndarray, fu: np.ndarray) -> float:
    # As ppi_py.ppi_mean_pointestimate(lam=None) computes it.
    est = float(np.ravel(ppi_py.ppi_mean_pointestimate(y, f, fu, lam=1))[0])
    return float(np.ravel(_calc_lam_glm(y - est, f - est, fu - est, np.eye(1), clip=True))[0])


def case(seed: int, n: int, big_n: int, agree: float | None) -> dict[str, object]:
    y, f, fu = _data(seed, n, big_n, agree)
    out: dict[str, object] = {"seed": seed, "y": y.tolist(), "f": f.tolist(), "f_unlabeled": fu.tolist()}
    results = {}
    for name, lam in (("tuned", None), ("ppi", 1.0)):
        r: dict[str, float] = {
            "estimate": float(np.ravel(ppi_py.ppi_mean_pointestimate(y, f, fu, lam=lam))[0])
        }
        r["lam"] = _tuned_lam(y, f, fu) if lam is None else 1.0
        for alpha in (0.05, 0.1):
            lo, hi = ppi_py.ppi_mean_ci(y, f, fu, alpha=alpha, lam=lam)
            r[f"lower_{alpha}"], r[f"upper_{alpha}"] = float(np.ravel(lo)[0]), float(np.ravel(hi)[0])
        results[name] = r
    out["results"] = results
    return out


def main() -> None:
    cases = [case(*c) for c in CASES]
    OUT.write_text(json.dumps({"ppi_py": "0.2.3", "cases": cases}) + "\n")
    print(f"wrote {OUT} ({len(cases)} cases)")


if __name__ == "__main__":
    main()
