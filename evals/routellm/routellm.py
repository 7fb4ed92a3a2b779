"""Cost–quality curves of pre-routing, a cascade and random routing on RouteLLM's outcome data.

The data (``shared/data/routellm_outcomes``, from github.com/lm-sys/RouteLLM) hold the same MMLU and GSM8K
prompts answered by a **cheap** model (Mixtral-8x7B-Instruct) and a **capable** one (GPT-4 Turbo,
``gpt-4-1106-preview``) with per-prompt correctness. This module

1. loads a dataset, drops the prompts RouteLLM lists as contaminated (exact match on ``eval_prompt``) and
   attaches per-call costs from the RouterArena price table (``shared/data/pricing``);
2. splits prompts 50/50 with a seed (stratified by MMLU subject; duplicate prompt texts always land on the
   same side, MMLU has 105 of them);
3. trains a router head with :meth:`tierscope.Router.fit` on the training half, on the default router's
   encoder, with the label ``capable`` **only when the capable model is right and the cheap one wrong** (the
   capable call would change the outcome); ``cheap`` otherwise, including "both wrong" (paying for GPT-4 there
   buys nothing). The router's ``P(capable)`` is the pre-routing score;
4. on the held-out half, computes the cost–quality curve of (a) pre-routing (threshold sweep on
   ``P(capable)``), (b) a cascade (the cheap call is always paid; the least confident cheap answers are
   escalated first) and (c) random routing (its expected curve: a straight line between all-cheap and
   all-capable), and the cost saved versus all-capable at 90/95/99% of the capable model's accuracy, with
   seeded bootstrap intervals over held-out prompts.

**The cascade's confidence signal** exists only where the cheap model's answer text exists: GSM8K. It is a
logistic regression, fit on the training half to predict "Mixtral's answer is correct", over checks a
deployment can run on the cheap answer without any reference answer (:func:`response_features`):

- the answer states a final number in GSM8K's ``#### <number>`` format;
- every arithmetic equation written in the answer (``a op b = c``, including ``<<a*b=c>>`` calculator
  annotations) is correct, checked with a safe evaluator;
- the final number is an integer (GSM8K answers are integers);
- hedging / self-correction words ("assume", "approximately", "wait", "mistake", ...);
- log length of the answer.

MMLU rows hold only correctness, no answer text (and the answer is one letter with no log-probs), so no
cascade confidence signal exists there; :func:`evaluate` reports no MMLU cascade rather than invent one (a
"cascade" gated on the router's own pre-check would be pre-routing plus the always-paid cheap call, i.e.
dominated by pre-routing).

**Costs**: tokens are estimated as ``ceil(characters / 4)`` (the usual ~4 characters per English token rule
for GPT-style BPE tokenizers) for the prompt and, for GSM8K, each model's answer; an MMLU answer is one output
token. Prices: GPT-4 Turbo $10/$30 and Mixtral $0.6/$0.6 per million input/output tokens. The prompt as stored
is used (RouteLLM's evaluation harness may add a system prompt or few-shot examples; not modelled).

**Baselines**: random routing, and on MMLU a *subject prior* (pre-route by the training half's per-subject
rate of "only GPT-4 right"; :func:`subject_prior`), which shows how much of a text router's gain is only
knowing the MMLU subject, something a router trained on in-distribution labels gets almost for free.

**Caveats**: the operating point at a quality target is picked on the held-out half itself (as RouteLLM's
curves do), so the savings are those of the best threshold in hindsight; the bootstrap interval covers
the sampling variability of the held-out prompts, not threshold selection on separate data nor the
variability of the split and the router fit (rerun with other seeds for that).
"""

from __future__ import annotations

import ast
import hashlib
import json
import math
import operator
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from tierscope.exceptions import InvalidInputError, TierscopeFileNotFoundError

__all__ = [
    "CAPABLE_MODEL",
    "CHEAP_MODEL",
    "CHARS_PER_TOKEN",
    "FRACTIONS",
    "Prices",
    "Outcomes",
    "Curve",
    "Saving",
    "DatasetResult",
    "find_shared_data",
    "load_prices",
    "load_outcomes",
    "routing_labels",
    "split_prompts",
    "response_features",
    "fit_logistic",
    "predict_logistic",
    "preroute_curve",
    "cascade_curve",
    "random_curve",
    "cost_saved_at",
    "bootstrap_savings",
    "router_scores",
    "subject_prior",
    "evaluate",
    "markdown_table",
    "plot_curves",
]

CHEAP_MODEL = "mistralai/Mixtral-8x7B-Instruct-v0.1"
CAPABLE_MODEL = "gpt-4-1106-preview"
CHEAP_PRICE_KEY = "mistralai/mixtral-8x7b-instruct"
CAPABLE_PRICE_KEY = "gpt-4-1106-preview"
CHARS_PER_TOKEN = 4.0
FRACTIONS: tuple[float, ...] = (0.90, 0.95, 0.99)
DATASETS = ("mmlu", "gsm8k")
SHARED_ENV = "TIERSCOPE_SHARED_DATA"

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]


# -- data ----------------------------------------------------------------------------------------
def find_shared_data(start: str | os.PathLike[str] | None = None) -> Path:
    """The ``shared/data`` directory: ``$TIERSCOPE_SHARED_DATA``, else ``../shared/data`` beside the repo.

    Walks up from ``start`` (default: this file) looking for a sibling ``shared/data/routellm_outcomes``.
    Raises :class:`FileNotFoundError` with a clear message when absent.
    """
    env = os.environ.get(SHARED_ENV)
    if env:
        path = Path(env)
        if (path / "routellm_outcomes").is_dir():
            return path
        raise TierscopeFileNotFoundError(f"${SHARED_ENV}={env} has no routellm_outcomes/ directory")
    here = Path(start) if start is not None else Path(__file__)
    for parent in [here, *here.resolve().parents]:
        cand = parent / "shared" / "data"
        if (cand / "routellm_outcomes").is_dir():
            return cand
    raise TierscopeFileNotFoundError(
        "shared/data/routellm_outcomes not found: expected ../shared/data beside the repository root "
        f"(searched upwards from {here}); set ${SHARED_ENV} to the shared/data directory"
    )


@dataclass(frozen=True)
class Prices:
    """USD per token."""

    cheap_in: float
    cheap_out: float
    capable_in: float
    capable_out: float


def load_prices(path: str | os.PathLike[str] | None = None) -> Prices:
    """Mixtral-8x7B and GPT-4 Turbo prices from RouterArena's ``routerarena_model_cost.json``."""
    p = Path(path) if path is not None else find_shared_data() / "pricing" / "routerarena_model_cost.json"
    table = json.loads(p.read_text(encoding="utf-8"))

    def per_token(key: str, which: str) -> float:
        return float(table[key][f"{which}_token_price_per_million"]) / 1e6

    return Prices(
        cheap_in=per_token(CHEAP_PRICE_KEY, "input"),
        cheap_out=per_token(CHEAP_PRICE_KEY, "output"),
        capable_in=per_token(CAPABLE_PRICE_KEY, "input"),
        capable_out=per_token(CAPABLE_PRICE_KEY, "output"),
    )


def estimate_tokens(texts: Sequence[str]) -> FloatArray:
    """``ceil(len(text) / 4)``, at least 1: the ~4 characters per token rule for GPT-style tokenizers."""
    return np.array([max(1.0, math.ceil(len(t) / CHARS_PER_TOKEN)) for t in texts], dtype=np.float64)


@dataclass(frozen=True)
class Outcomes:
    """One dataset's paired outcomes (contaminated prompts removed), in file order."""

    dataset: str
    prompts: list[str]
    strata: npt.NDArray[np.object_]
    """MMLU subject; the dataset name for GSM8K."""
    cheap_ok: BoolArray
    capable_ok: BoolArray
    cheap_cost: FloatArray
    """USD per call of the cheap model."""
    capable_cost: FloatArray
    cheap_responses: list[str] | None
    """Mixtral's answer text (GSM8K only)."""
    n_contaminated_removed: int

    def __len__(self) -> int:
        return len(self.prompts)

    def subset(self, idx: npt.ArrayLike) -> Outcomes:
        """The rows ``idx`` (an index array), in that order."""
        ii = np.asarray(idx, dtype=np.int64)
        return Outcomes(
            dataset=self.dataset,
            prompts=[self.prompts[i] for i in ii],
            strata=self.strata[ii],
            cheap_ok=self.cheap_ok[ii],
            capable_ok=self.capable_ok[ii],
            cheap_cost=self.cheap_cost[ii],
            capable_cost=self.capable_cost[ii],
            cheap_responses=None if self.cheap_responses is None else [self.cheap_responses[i] for i in ii],
            n_contaminated_removed=self.n_contaminated_removed,
        )


def _as_bool(values: Any) -> BoolArray:
    arr = np.asarray(values)
    if arr.dtype == np.bool_:
        return arr.astype(np.bool_)
    return np.array([str(v).strip().lower() == "true" for v in arr], dtype=np.bool_)


def load_outcomes(
    dataset: str,
    data_dir: str | os.PathLike[str] | None = None,
    *,
    prices: Prices | None = None,
    max_prompts: int | None = None,
    seed: int = 0,
) -> Outcomes:
    """Load ``mmlu`` or ``gsm8k`` from ``routellm_outcomes``, drop contaminated prompts, attach costs.

    ``max_prompts``: a seeded random subset of that size (after exclusion), kept in file order.
    """
    import pandas as pd

    if dataset not in DATASETS:
        raise InvalidInputError(f"dataset: expected one of {DATASETS}, got {dataset!r}")
    root = Path(data_dir) if data_dir is not None else find_shared_data() / "routellm_outcomes"
    df = pd.read_csv(root / f"{dataset}_responses.csv", keep_default_na=False)
    contaminated: set[str] = set()
    with open(root / f"{dataset}_contaminated_prompts.jsonl", encoding="utf-8") as f:
        for line in f:
            if line.strip():
                contaminated.add(json.loads(line)["eval_prompt"])
    keep = ~df["prompt"].isin(contaminated).to_numpy()
    n_removed = int((~keep).sum())
    df = df[keep].reset_index(drop=True)
    if max_prompts is not None and max_prompts < len(df):
        rng = np.random.default_rng(seed)
        pick = np.sort(rng.choice(len(df), size=max_prompts, replace=False))
        df = df.iloc[pick].reset_index(drop=True)
    prices = (
        prices if prices is not None else load_prices(root.parent / "pricing" / "routerarena_model_cost.json")
    )
    prompts = [str(p) for p in df["prompt"]]
    tok_in = estimate_tokens(prompts)
    responses: list[str] | None
    if dataset == "gsm8k":
        responses = [str(r) for r in df[f"{CHEAP_MODEL}_response"]]
        out_cheap = estimate_tokens(responses)
        out_capable = estimate_tokens([str(r) for r in df[f"{CAPABLE_MODEL}_response"]])
        strata = np.array(["gsm8k"] * len(df), dtype=object)
    else:
        responses = None
        out_cheap = np.ones(len(df))
        out_capable = np.ones(len(df))
        strata = df["subject"].to_numpy(dtype=object)
    return Outcomes(
        dataset=dataset,
        prompts=prompts,
        strata=strata,
        cheap_ok=_as_bool(df[CHEAP_MODEL].to_numpy()),
        capable_ok=_as_bool(df[CAPABLE_MODEL].to_numpy()),
        cheap_cost=tok_in * prices.cheap_in + out_cheap * prices.cheap_out,
        capable_cost=tok_in * prices.capable_in + out_capable * prices.capable_out,
        cheap_responses=responses,
        n_contaminated_removed=n_removed,
    )


def routing_labels(outcomes: Outcomes) -> list[str]:
    """``capable`` when only the capable model is right, else ``cheap`` (cheap right, or both wrong)."""
    need = outcomes.capable_ok & ~outcomes.cheap_ok
    return ["capable" if b else "cheap" for b in need]


def split_prompts(
    outcomes: Outcomes, *, seed: int = 0, train_fraction: float = 0.5
) -> tuple[IntArray, IntArray]:
    """Seeded split stratified by ``strata``; rows sharing a prompt text go to the same side.

    Returns ``(train_idx, test_idx)``, each sorted.
    """
    if not 0.0 < train_fraction < 1.0:
        raise InvalidInputError(f"train_fraction: expected a value in (0, 1), got {train_fraction}")
    groups: dict[str, list[int]] = {}
    stratum_of: dict[str, str] = {}
    for i, p in enumerate(outcomes.prompts):
        groups.setdefault(p, []).append(i)
        stratum_of.setdefault(p, str(outcomes.strata[i]))
    by_stratum: dict[str, list[str]] = {}
    for p in groups:  # insertion (file) order: deterministic
        by_stratum.setdefault(stratum_of[p], []).append(p)
    rng = np.random.default_rng(seed)
    train: list[int] = []
    test: list[int] = []
    for s in sorted(by_stratum):
        ps = by_stratum[s]
        perm = rng.permutation(len(ps))
        n_train = int(round(train_fraction * len(ps)))
        for rank, j in enumerate(perm):
            (train if rank < n_train else test).extend(groups[ps[j]])
    return np.sort(np.array(train, dtype=np.int64)), np.sort(np.array(test, dtype=np.int64))


# -- the cascade's confidence signal (GSM8K) -----------------------------------------------------
_BINOPS: dict[type, Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}
_EQUATION = re.compile(r"(-?\$?[\d,.]+(?:\s*[-+*/x×÷]\s*\$?[\d,.]+)+)\s*=\s*\$?(-?[\d,]*\.?\d+)")
_FINAL = re.compile(r"####\s*\$?\s*(-?[\d,]*\.?\d+)")
_HEDGE = re.compile(
    r"(?i)\b(assum\w*|approximately|not sure|unclear|however|wait|mistake|actually|cannot|can't|"
    r"not possible|round\w*)\b"
)
FEATURE_NAMES = (
    "states_final_number",
    "arithmetic_all_correct",
    "n_arithmetic_errors",
    "final_is_integer",
    "hedging",
    "log_chars",
)


def _eval_arith(node: ast.AST) -> float:
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
        return float(node.value)
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        return _BINOPS[type(node.op)](_eval_arith(node.left), _eval_arith(node.right))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_eval_arith(node.operand)
    raise ValueError("not plain arithmetic")


def arithmetic_errors(text: str) -> tuple[int, int]:
    """``(checked, wrong)`` over the equations ``a op b ... = c`` written in ``text`` (1% tolerance)."""
    checked = wrong = 0
    for lhs, rhs in _EQUATION.findall(text):
        expr = lhs.replace("$", "").replace(",", "").replace("x", "*").replace("×", "*").replace("÷", "/")
        try:
            value = _eval_arith(ast.parse(expr, mode="eval").body)
            stated = float(rhs.replace(",", ""))
        except (ValueError, SyntaxError, ZeroDivisionError, OverflowError, RecursionError):
            continue
        checked += 1
        if abs(value - stated) > 0.011 * max(1.0, abs(stated)):
            wrong += 1
    return checked, wrong


def response_features(responses: Sequence[str]) -> FloatArray:
    """Reference-free checks on the cheap model's GSM8K answers, one row each (:data:`FEATURE_NAMES`)."""
    rows: list[list[float]] = []
    for text in responses:
        final = _FINAL.findall(text)
        _, wrong = arithmetic_errors(text)
        is_int = 0.0
        if final:
            try:
                v = float(final[-1].replace(",", ""))
                is_int = float(v == round(v))
            except ValueError:
                is_int = 0.0
        rows.append(
            [
                float(bool(final)),
                float(wrong == 0),
                float(wrong),
                is_int,
                float(bool(_HEDGE.search(text))),
                math.log1p(len(text)),
            ]
        )
    return np.array(rows, dtype=np.float64).reshape(len(rows), len(FEATURE_NAMES))


def fit_logistic(x: npt.ArrayLike, y: npt.ArrayLike, l2: float = 1e-2, iters: int = 50) -> FloatArray:
    """L2 logistic regression by Newton's method on standardised features; returns packed parameters
    ``[mean, sd, intercept, coef]`` (the fit is :func:`tierscope.stats.logistic.fit_logistic`)."""
    from tierscope.stats.logistic import fit_logistic as fit_binary_logistic

    # Converged once the Newton step is below 1e-10 in every coordinate (no objective criterion).
    fit = fit_binary_logistic(x, y, l2=l2, standardize=True, max_iter=iters, tol=0.0, step_tol=1e-10)
    packed: FloatArray = np.concatenate([fit.mean, fit.scale, [fit.intercept], fit.coef])
    return packed


def predict_logistic(params: FloatArray, x: npt.ArrayLike) -> FloatArray:
    """P(y=1) for :func:`fit_logistic`'s parameters."""
    from tierscope.stats.logistic import sigmoid

    X = np.asarray(x, dtype=np.float64)
    d = X.shape[1]
    mu, sd, w = params[:d], params[d : 2 * d], params[2 * d :]
    return sigmoid(w[0] + ((X - mu) / sd) @ w[1:])


# -- curves --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Curve:
    """Operating points from all-cheap (first) to all-capable (last), ordered by capable share."""

    name: str
    capable_share: FloatArray
    """Share of queries answered by (pre-routing) or escalated to (cascade) the capable model."""
    cost: FloatArray
    """Mean USD per query."""
    accuracy: FloatArray
    all_capable_cost: float
    all_capable_accuracy: float

    @property
    def cost_saved(self) -> FloatArray:
        """``1 - cost / all-capable cost``."""
        saved: FloatArray = 1.0 - self.cost / self.all_capable_cost
        return saved


def _order_desc(score: FloatArray) -> IntArray:
    # Highest score first; ties by index (stable), so results are deterministic.
    order: IntArray = np.argsort(-score, kind="mergesort").astype(np.int64)
    return order


def _sweep(
    name: str,
    order: IntArray,
    o: Outcomes,
    *,
    cascade: bool,
    weights: FloatArray | None = None,
) -> Curve:
    w = np.ones(len(o)) if weights is None else weights
    total = float(w.sum())
    cap_ok = (o.capable_ok * w)[order]
    chp_ok = (o.cheap_ok * w)[order]
    cap_cost = (o.capable_cost * w)[order]
    chp_cost = (o.cheap_cost * w)[order]
    zero = np.zeros(1)
    k_cap_ok = np.concatenate([zero, np.cumsum(cap_ok)])
    k_chp_ok = np.concatenate([zero, np.cumsum(chp_ok)])
    acc = (k_cap_ok + (k_chp_ok[-1] - k_chp_ok)) / total
    k_cap_cost = np.concatenate([zero, np.cumsum(cap_cost)])
    if cascade:
        cost = (chp_cost.sum() + k_cap_cost) / total
    else:
        k_chp_cost = np.concatenate([zero, np.cumsum(chp_cost)])
        cost = (k_cap_cost + (k_chp_cost[-1] - k_chp_cost)) / total
    share = np.concatenate([zero, np.cumsum(w[order])]) / total
    return Curve(
        name=name,
        capable_share=share,
        cost=cost,
        accuracy=acc,
        all_capable_cost=float(cap_cost.sum() / total),
        all_capable_accuracy=float(cap_ok.sum() / total),
    )


def preroute_curve(p_capable: npt.ArrayLike, o: Outcomes, *, weights: FloatArray | None = None) -> Curve:
    """Pre-routing: send the queries with the highest ``P(capable needed)`` to the capable model only."""
    return _sweep(
        "pre-routing", _order_desc(np.asarray(p_capable, dtype=np.float64)), o, cascade=False, weights=weights
    )


def cascade_curve(
    cheap_confidence: npt.ArrayLike, o: Outcomes, *, name: str = "cascade", weights: FloatArray | None = None
) -> Curve:
    """Cascade: every query pays the cheap call; the least confident cheap answers are escalated first."""
    conf = np.asarray(cheap_confidence, dtype=np.float64)
    return _sweep(name, _order_desc(-conf), o, cascade=True, weights=weights)


def random_curve(o: Outcomes, *, points: int = 101, weights: FloatArray | None = None) -> Curve:
    """Random pre-routing: the expected curve, linear in the capable share from all-cheap to all-capable."""
    w = np.ones(len(o)) if weights is None else weights
    total = float(w.sum())
    a0 = float((o.cheap_ok * w).sum() / total)
    a1 = float((o.capable_ok * w).sum() / total)
    c0 = float((o.cheap_cost * w).sum() / total)
    c1 = float((o.capable_cost * w).sum() / total)
    s = np.linspace(0.0, 1.0, points)
    return Curve("random", s, c0 + s * (c1 - c0), a0 + s * (a1 - a0), c1, a1)


def _random_point(curve: Curve, target: float) -> tuple[float, float]:
    a0, a1 = float(curve.accuracy[0]), float(curve.accuracy[-1])
    c0, c1 = float(curve.cost[0]), float(curve.cost[-1])
    if target <= a0:
        s = 0.0
    elif a1 <= a0 or target > a1:
        return math.nan, math.nan
    else:
        s = (target - a0) / (a1 - a0)
    return 1.0 - (c0 + s * (c1 - c0)) / curve.all_capable_cost, s


def cost_saved_at(curve: Curve, fraction: float) -> tuple[float, float]:
    """``(cost saved vs all-capable, capable share)`` at the cheapest point reaching ``fraction`` of the
    capable model's accuracy; NaNs when no point reaches it."""
    target = fraction * curve.all_capable_accuracy - 1e-12
    if curve.name == "random":
        return _random_point(curve, target)
    ok = curve.accuracy >= target
    if not ok.any():
        return math.nan, math.nan
    costs = np.where(ok, curve.cost, np.inf)
    i = int(np.argmin(costs))
    return 1.0 - float(curve.cost[i]) / curve.all_capable_cost, float(curve.capable_share[i])


@dataclass(frozen=True)
class Saving:
    """Cost saved (vs all-capable) at a quality target, with a percentile bootstrap interval."""

    method: str
    fraction: float
    saved: float
    saved_lo: float
    saved_hi: float
    capable_share: float
    share_lo: float
    share_hi: float
    gain_vs_random: float
    """``saved - saved(random)``, percentage points as a fraction."""
    gain_lo: float
    gain_hi: float


def bootstrap_savings(
    o: Outcomes,
    scores: Mapping[str, tuple[str, FloatArray]],
    fractions: Sequence[float] = FRACTIONS,
    *,
    replicates: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> list[Saving]:
    """Savings at each ``fraction`` per method, with percentile bootstrap intervals over held-out prompts.

    ``scores``: method name → (``"preroute"`` with ``P(capable)``, or ``"cascade"`` with the cheap answer's
    confidence). Random routing is always added. Each replicate resamples prompts (multinomial weights) and
    re-picks the cheapest operating point on the resampled curve, relative to the resampled capable accuracy;
    scores and orderings stay fixed (the router is not refit).
    """

    def curves(weights: FloatArray | None) -> dict[str, Curve]:
        out: dict[str, Curve] = {}
        for name, (kind, s) in scores.items():
            if kind == "preroute":
                out[name] = _sweep(name, _order_desc(s), o, cascade=False, weights=weights)
            elif kind == "cascade":
                out[name] = _sweep(name, _order_desc(-s), o, cascade=True, weights=weights)
            else:
                raise InvalidInputError(
                    f"scores[{name!r}]: kind must be 'preroute' or 'cascade', got {kind!r}"
                )
        out["random"] = random_curve(o, weights=weights)
        return out

    def table(weights: FloatArray | None) -> FloatArray:
        cs = curves(weights)
        res = np.empty((len(cs), len(fractions), 2))
        for i, c in enumerate(cs.values()):
            for j, f in enumerate(fractions):
                res[i, j] = cost_saved_at(c, f)
        return res

    names = [*scores.keys(), "random"]
    point = table(None)
    rng = np.random.default_rng(seed)
    n = len(o)
    boot = np.empty((replicates, *point.shape))
    for r in range(replicates):
        w = rng.multinomial(n, np.full(n, 1.0 / n)).astype(np.float64)
        boot[r] = table(w)
    a = (1.0 - level) / 2.0
    rand = names.index("random")
    out: list[Saving] = []
    for i, name in enumerate(names):
        for j, f in enumerate(fractions):
            saved_b = boot[:, i, j, 0]
            share_b = boot[:, i, j, 1]
            gain_b = saved_b - boot[:, rand, j, 0]
            out.append(
                Saving(
                    method=name,
                    fraction=float(f),
                    saved=float(point[i, j, 0]),
                    saved_lo=float(np.nanquantile(saved_b, a)),
                    saved_hi=float(np.nanquantile(saved_b, 1 - a)),
                    capable_share=float(point[i, j, 1]),
                    share_lo=float(np.nanquantile(share_b, a)),
                    share_hi=float(np.nanquantile(share_b, 1 - a)),
                    gain_vs_random=float(point[i, j, 0] - point[rand, j, 0]),
                    gain_lo=float(np.nanquantile(gain_b, a)),
                    gain_hi=float(np.nanquantile(gain_b, 1 - a)),
                )
            )
    return out


# -- the router ----------------------------------------------------------------------------------
def _cache_root() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "tierscope" / "routellm"


def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def router_scores(
    train: Outcomes,
    test: Outcomes,
    *,
    encoder: str | os.PathLike[str] | None = None,
    seed: int = 0,
    cache_dir: str | os.PathLike[str] | None | bool = None,
) -> tuple[FloatArray, dict[str, Any]]:
    """Fit a router (:meth:`tierscope.Router.fit`) on ``train`` with :func:`routing_labels`; return the
    held-out ``P(capable)`` for ``test`` and the router's training metrics.

    ``encoder``: a router directory whose encoder to reuse (default: the default router's). Results are
    cached under ``cache_dir`` (default ``~/.cache/tierscope/routellm``; ``False`` disables) keyed by a
    SHA-256 of the encoder files, texts, labels and seed.
    """
    from tierscope import __version__
    from tierscope.routing.router import Router, default_router_dir

    enc = Path(encoder) if encoder is not None else default_router_dir()
    if not (enc / "model.onnx").is_file():
        from tierscope.models.default_router import ensure_default_router

        enc = ensure_default_router()
    labels = routing_labels(train)
    cache: Path | None = None
    if cache_dir is not False:
        h = hashlib.sha256()
        for part in (
            __version__,
            _file_digest(enc / "model.onnx"),
            _file_digest(enc / "tokenizer.json"),
            str(seed),
            json.dumps(train.prompts),
            json.dumps(labels),
            json.dumps(test.prompts),
        ):
            h.update(part.encode("utf-8"))
            h.update(b"\0")
        root = _cache_root() if cache_dir is None or cache_dir is True else Path(cache_dir)
        cache = root / f"{train.dataset}-{h.hexdigest()[:24]}.npz"
        if cache.is_file():
            with np.load(cache) as z:
                p = np.asarray(z["p_capable"], dtype=np.float64)
                metrics = json.loads(str(z["metrics"]))
            return p, metrics
    if len(set(labels)) < 2:
        raise InvalidInputError("the training half needs both 'cheap' and 'capable' labels")
    # The pre-router as published (head truncation, 128 tokens): its truncated share is recorded in
    # ``metrics["truncated_share"]`` rather than warned about on every evaluation.
    router = Router.fit(
        train.prompts,
        labels,
        encoder=enc,
        tier_order=["cheap", "capable"],
        seed=seed,
        warn_truncated_share=1.0,
    )
    batch = router.route_batch(test.prompts)
    p = np.asarray(batch.probabilities[:, router.tiers.index("capable")], dtype=np.float64)
    metrics = router.metrics
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".tmp.npz")
        np.savez(tmp, p_capable=p, metrics=np.array(json.dumps(metrics)))
        os.replace(tmp, cache)
    return p, metrics


def subject_prior(train: Outcomes, test: Outcomes, *, seed: int = 0) -> FloatArray:
    """Per-stratum training rate of "only the capable model is right" for each test row (overall rate for
    unseen strata), plus a seeded jitter < 1e-9 so ties within a stratum are broken at random."""
    need = train.capable_ok & ~train.cheap_ok
    overall = float(need.mean()) if need.size else 0.0
    rate: dict[str, float] = {}
    for st in set(train.strata.tolist()):
        rate[str(st)] = float(need[train.strata == st].mean())
    base = np.array([rate.get(str(st), overall) for st in test.strata], dtype=np.float64)
    jitter: FloatArray = np.random.default_rng(seed + 1).random(len(test)) * 1e-9
    out: FloatArray = base + jitter
    return out


# -- the whole evaluation ------------------------------------------------------------------------
@dataclass
class DatasetResult:
    """Curves and savings for one dataset's held-out half."""

    dataset: str
    n_train: int
    n_test: int
    n_contaminated_removed: int
    cheap_accuracy: float
    capable_accuracy: float
    all_capable_cost: float
    all_cheap_cost: float
    curves: dict[str, Curve]
    savings: list[Saving]
    router_metrics: dict[str, Any]
    router_auc: float
    """Held-out AUC of ``P(capable)`` for the label "only the capable model is right"."""
    cascade_auc: float | None = None
    """Held-out AUC of the cascade confidence for "the cheap answer is correct" (GSM8K only)."""
    notes: list[str] = field(default_factory=list)


def _auc(score: FloatArray, positive: BoolArray) -> float:
    pos = int(positive.sum())
    neg = int(positive.size - pos)
    if pos == 0 or neg == 0:
        return math.nan
    order = np.argsort(score, kind="mergesort")
    ranks = np.empty(score.size)
    s_sorted = score[order]
    # average ranks for ties
    i = 0
    while i < score.size:
        j = i
        while j + 1 < score.size and s_sorted[j + 1] == s_sorted[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    return float((ranks[positive].sum() - pos * (pos + 1) / 2.0) / (pos * neg))


def evaluate(
    dataset: str,
    *,
    data_dir: str | os.PathLike[str] | None = None,
    max_prompts: int | None = None,
    seed: int = 0,
    train_fraction: float = 0.5,
    encoder: str | os.PathLike[str] | None = None,
    replicates: int = 1000,
    fractions: Sequence[float] = FRACTIONS,
    cache_dir: str | os.PathLike[str] | None | bool = None,
    subject_baseline: bool = True,
) -> DatasetResult:
    """Split, train the router, and compute the held-out curves and savings for ``mmlu`` or ``gsm8k``.

    For MMLU a ``subject prior`` baseline is added unless ``subject_baseline`` is False.
    """
    o = load_outcomes(dataset, data_dir, max_prompts=max_prompts, seed=seed)
    tr_idx, te_idx = split_prompts(o, seed=seed, train_fraction=train_fraction)
    train, test = o.subset(tr_idx), o.subset(te_idx)
    p_cap, metrics = router_scores(train, test, encoder=encoder, seed=seed, cache_dir=cache_dir)
    scores: dict[str, tuple[str, FloatArray]] = {"pre-routing": ("preroute", p_cap)}
    curves: dict[str, Curve] = {"pre-routing": preroute_curve(p_cap, test)}
    notes: list[str] = []
    if dataset == "mmlu" and subject_baseline:
        prior = subject_prior(train, test, seed=seed)
        scores["subject prior"] = ("preroute", prior)
        curves["subject prior"] = _sweep("subject prior", _order_desc(prior), test, cascade=False)
        notes.append(
            "mmlu: 'subject prior' pre-routes by the training half's per-subject rate of 'only GPT-4 right' "
            "(random order within a subject): how much of the router's gain is just knowing the subject"
        )
    cascade_auc: float | None = None
    if train.cheap_responses is not None and test.cheap_responses is not None:
        params = fit_logistic(response_features(train.cheap_responses), train.cheap_ok)
        conf = predict_logistic(params, response_features(test.cheap_responses))
        scores["cascade"] = ("cascade", conf)
        curves["cascade"] = cascade_curve(conf, test)
        cascade_auc = _auc(conf, test.cheap_ok)
    else:
        notes.append(
            f"{dataset}: no cascade: the data hold no cheap-model answer text or log-probs, so no "
            "cheap-answer confidence signal exists"
        )
    curves["random"] = random_curve(test)
    savings = bootstrap_savings(test, scores, fractions, replicates=replicates, seed=seed)
    need = test.capable_ok & ~test.cheap_ok
    return DatasetResult(
        dataset=dataset,
        n_train=len(train),
        n_test=len(test),
        n_contaminated_removed=o.n_contaminated_removed,
        cheap_accuracy=float(test.cheap_ok.mean()),
        capable_accuracy=float(test.capable_ok.mean()),
        all_capable_cost=float(test.capable_cost.mean()),
        all_cheap_cost=float(test.cheap_cost.mean()),
        curves=curves,
        savings=savings,
        router_metrics=metrics,
        router_auc=_auc(p_cap, need),
        cascade_auc=cascade_auc,
        notes=notes,
    )


def _pct(x: float) -> str:
    return "n/a" if math.isnan(x) else f"{100 * x:.1f}"


def markdown_table(results: Sequence[DatasetResult]) -> str:
    """A Markdown report: one summary line per dataset and a savings table."""
    lines: list[str] = []
    for r in results:
        line = (
            f"- **{r.dataset}**: {r.n_train} train / {r.n_test} held-out prompts "
            f"({r.n_contaminated_removed} contaminated removed); held-out accuracy "
            f"Mixtral {_pct(r.cheap_accuracy)}%, GPT-4 {_pct(r.capable_accuracy)}%; USD per 1,000 queries: "
            f"all-GPT-4 {r.all_capable_cost * 1e3:.3f}, all-Mixtral {r.all_cheap_cost * 1e3:.3f}; "
            f"router AUC for 'only GPT-4 right' {r.router_auc:.3f}"
        )
        if r.cascade_auc is not None:
            line += f"; cascade-confidence AUC for 'Mixtral right' {r.cascade_auc:.3f}"
        lines.append(line)
        lines.extend(f"  - {n}" for n in r.notes)
    lines.append("")
    lines.append(
        "| dataset | method | quality target (× GPT-4 acc.) | cost saved vs all-GPT-4, % [95% CI] "
        "| GPT-4 call share, % [95% CI] | Δ saved vs random, pp [95% CI] |"
    )
    lines.append("|---|---|---|---|---|---|")
    for r in results:
        for s in r.savings:
            gain = "—"
            if s.method != "random":
                gain = f"{_pct(s.gain_vs_random)} [{_pct(s.gain_lo)}, {_pct(s.gain_hi)}]"
            saved = f"{_pct(s.saved)} [{_pct(s.saved_lo)}, {_pct(s.saved_hi)}]"
            share = f"{_pct(s.capable_share)} [{_pct(s.share_lo)}, {_pct(s.share_hi)}]"
            lines.append(f"| {r.dataset} | {s.method} | {s.fraction:.0%} | {saved} | {share} | {gain} |")
    return "\n".join(lines)


def plot_curves(results: Sequence[DatasetResult], path: str | os.PathLike[str]) -> None:
    """Write a PNG: accuracy against cost (USD per 1k queries) per dataset, one line per method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results), figsize=(5.5 * len(results), 4.2), squeeze=False)
    for ax, r in zip(axes[0], results, strict=False):
        for c in r.curves.values():
            ax.plot(c.cost * 1e3, c.accuracy, label=c.name, lw=1.4)
        for f in FRACTIONS:
            ax.axhline(f * r.capable_accuracy, color="grey", lw=0.6, ls=":")
        ax.set_title(f"{r.dataset} (held-out n={r.n_test})")
        ax.set_xlabel("USD per 1,000 queries")
        ax.set_ylabel("accuracy")
        ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(os.fspath(path), dpi=120)
    plt.close(fig)
