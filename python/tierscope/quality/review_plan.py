"""Daily human-review plans stratified by tier, with long-tail oversampling.

A blended review (N random answers a day, one number) cannot show a failing tier: the easy
centre of the cheap tier dilutes its hard edge. :func:`plan_reviews` spends a daily review budget
so that every tier is covered and the queries where model choice matters (low router confidence,
far from the training distribution) are oversampled, while every selected answer records its
inclusion probability π, so per-tier quality estimated with weights 1/π stays design-unbiased.

Design
    Strata are *tier* × *confidence band* × *tail band* (tier = ``answered_by``, falling back
    to ``route_tier``; bands cut ``route_confidence`` and ``route_tail_score``; a missing value
    is its own ``na`` band). Each stratum gets an integer allocation n_h from
    :func:`tierscope.stats.allocate` (summing exactly to the budget): ``"proportional"``
    ∝ N_h·f_h, ``"neyman"`` ∝ N_h·S_h·f_h (S_h = previous period's SD of the review score, 0.5
    when unknown), or ``"precision"`` (per-tier half-width ``targets``; the
    :class:`~tierscope.stats.TargetReport` says which are unreachable). f_h is the stratum's mean
    oversampling score. Within a stratum units are Poisson-sampled with π ∝ their oversampling
    score, capped at 1, Σπ = n_h (:func:`~tierscope.stats.poisson_inclusion_probabilities`,
    :func:`~tierscope.stats.poisson_sample`). The realised number of reviews is therefore random
    around the budget (SD ≈ √budget); the expected number equals it exactly.

Log each review with its π (:meth:`ReviewPlan.log_reviews` does it) so the audit's Hájek
estimates are unbiased.

Judge-assisted design (``method="ppi"``)
    When an LLM judge scores answers, the audit's PPI++ estimate of tier t is
    θ̂_t = λ_t·m_J(f) + m_H(y − λ_t f) (:func:`tierscope.stats.ppi_mean`); its human part is a
    Hájek mean of the residual r = y − λ_t f over the reviews, whose Poisson-design variance is
    V_H ≈ N_t⁻² Σ_{i∈t} (1/π_i − 1)(r_i − r̄_t)². Only judged answers (a judge score f in the log
    or in ``judge_scores``) are eligible. Strata are *tier* × *judge-score band* (``judge_bands``,
    default [0, 0.5) rejects / [0.5, 1] accepts); π is constant within a stratum, so
    V_H ∝ Σ_h N_h S_h² / π_h − const, where S_h² is the stratum's mean of (r − r̄_t)² (its
    residual variance plus its squared offset from the tier's mean residual). Minimising it at
    Σ_h N_h π_h = budget with pi_floor ≤ π_h ≤ 1 gives the Neyman-style allocation
    π_h = clip(c·S_h, pi_floor, 1) (c by bisection; :func:`neyman_floor_pi`). This minimises the
    variance of the traffic-weighted mean of the tiers and, within each tier, that tier's PPI
    variance at its expected number of reviews. λ_t = Cov(y, f) / Var(f) clipped to [0, 1] and
    S_h come from past reviewed-and-judged answers: the log's review events joined to its judge
    events (request ids outside the period), or ``previous`` (a table with ``tier``, ``score``, ``f``);
    a stratum with fewer than 5 of them uses its tier's S, a tier with none S = 0.5. The floor
    keeps π > 0 for every judged answer (positivity: PPI is unbiased only then). The recorded π
    is unconditional: the judge's π_J (``log_judgement(..., pi=)``) times π_h, so the Hájek and
    PPI estimates stay design-unbiased; unjudged answers get π = 0 (their tier mean is reached
    through the judged sample's own π_J).
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .. import _validate as v
from .. import stats
from .._optional import require
from ..exceptions import InvalidInputError, ReviewPlanWarning
from ..log.decision_log import OUTCOME_SCHEMA, DecisionLog
from ..log.quality import UNANSWERED
from ..log.reader import decisions_source, load_decisions, load_outcomes, table_to_pandas, tier_column, window

__all__ = [
    "DEFAULT_CONFIDENCE_BANDS",
    "DEFAULT_JUDGE_BANDS",
    "DEFAULT_FLOOR_SHARE",
    "DEFAULT_TAIL_BANDS",
    "ReviewPlan",
    "band_labels",
    "neyman_floor_pi",
    "plan_reviews",
]

DEFAULT_CONFIDENCE_BANDS: tuple[float, ...] = (0.7, 0.85)
"""Cut points of the router-confidence bands: [0, 0.7), [0.7, 0.85), [0.85, 1]."""
DEFAULT_TAIL_BANDS: tuple[float, ...] = (0.9, 0.99)
"""Cut points of the tail-score bands (training-set percentile of the distance)."""
DEFAULT_OVERSAMPLE: dict[str, float] = {"low_confidence": 3.0, "tail": 3.0}

ScoreFunction = Callable[[Any], npt.ArrayLike]
"""``f(frame) -> scores``: one positive oversampling score per row of the decisions frame."""


# ----------------------------------------------------------------------------- bands


def _check_bands(name: str, bands: Any) -> tuple[float, ...]:
    """Band cut points: a sequence of numbers strictly inside (0, 1), strictly increasing."""
    if isinstance(bands, (str, bytes, Mapping)) or not isinstance(bands, Sequence | np.ndarray):
        raise v.fail(name, "a sequence of cut points in (0, 1)", bands)
    cuts = tuple(v.unit(name, c, open_interval=True) for c in bands)
    if any(b <= a for a, b in zip(cuts, cuts[1:], strict=False)):
        raise v.fail(name, "strictly increasing cut points", cuts)
    return cuts


def band_labels(cuts: Sequence[float], prefix: str) -> list[str]:
    """Labels of the bands cut at ``cuts``: ``conf[0.00,0.60)``, ..., ``conf[0.80,1.00]``."""
    edges = [0.0, *cuts, 1.0]
    return [
        f"{prefix}[{lo:.2f},{hi:.2f}{']' if i == len(edges) - 2 else ')'}"
        for i, (lo, hi) in enumerate(zip(edges[:-1], edges[1:], strict=True))
    ]


def _band_index(values: npt.NDArray[np.float64], cuts: tuple[float, ...]) -> npt.NDArray[np.int64]:
    """Band index per value (−1 for NaN)."""
    idx = np.searchsorted(np.asarray(cuts, dtype=np.float64), values, side="right").astype(np.int64)
    idx[np.isnan(values)] = -1
    return idx


def _numeric(df: Any, col: str) -> npt.NDArray[np.float64]:
    if col not in df.columns:
        return np.full(len(df), np.nan)
    import pandas as pd

    return np.asarray(pd.to_numeric(df[col], errors="coerce"), dtype=np.float64)


# ----------------------------------------------------------------------------- the plan


@dataclass
class ReviewPlan:
    """Which answers to send to human review today, and with what inclusion probability.

    ``table`` has one row per selected answer (``request_id``, ``tier``, ``stratum``,
    ``confidence_band``, ``tail_band``, ``route_confidence``, ``route_tail_score``, ``pi``);
    ``frame`` the same columns for every answer of the period (``selected`` marks the sample);
    ``allocation`` one row per stratum (``population``, ``sd``, ``oversample``, ``allocated``
    (integer n_h, summing to the budget), ``expected`` (Σπ)). ``targets`` is the per-tier
    precision report of ``method="precision"`` (empty otherwise). With ``method="ppi"`` the strata
    are tier × judge band: ``allocation`` has ``judge_band``, ``lam`` (λ_t), ``sd`` (S_h) and ``pi``
    (the stratum's mean π) instead of ``oversample``, and ``frame`` adds ``judge_score``,
    ``judge_pi`` (π_J) and ``judge_band``.
    """

    table: Any
    frame: Any
    allocation: Any
    budget: int
    method: str
    seed: int
    since: datetime | None
    until: datetime | None
    targets: list[stats.TargetReport] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def request_ids(self) -> list[str]:
        """Request ids to review."""
        return [str(r) for r in self.table["request_id"].tolist()]

    @property
    def pi(self) -> dict[str, float]:
        """Inclusion probability of each selected request id."""
        return {str(r): float(p) for r, p in zip(self.table["request_id"], self.table["pi"], strict=True)}

    def __len__(self) -> int:
        return int(len(self.table))

    def per_tier(self) -> Any:
        """Traffic, allocated and selected reviews per tier."""
        import pandas as pd

        alloc = self.allocation.groupby("tier")[["population", "allocated", "expected"]].sum()
        sel = self.table.groupby("tier").size().rename("selected")
        out = alloc.join(sel, how="left").fillna({"selected": 0})
        out["selected"] = out["selected"].astype(int)
        out["review_rate"] = out["selected"] / out["population"]
        return pd.DataFrame(out).reset_index()

    def summary(self) -> str:
        """A short text summary (what ``tierscope plan`` prints)."""
        lines = [
            f"review plan: budget {self.budget}, method {self.method}, seed {self.seed}, "
            f"{int(self.allocation['population'].sum())} answers, {len(self)} selected",
        ]
        for row in self.per_tier().itertuples(index=False):
            lines.append(
                f"  {row.tier:10s} traffic {int(row.population):7d}  allocated {int(row.allocated):5d}  "
                f"selected {int(row.selected):5d}  ({row.review_rate:.2%})"
            )
        for t in self.targets:
            state = "reached" if t.reached else f"UNREACHABLE (needs {t.required} reviews)"
            lines.append(f"  target {t.domain}: ±{t.target:.3f} -> achieved ±{t.achieved:.3f} {state}")
        lines.extend(f"  warning: {w}" for w in self.warnings)
        return "\n".join(lines)

    def write(self, path: str | os.PathLike[str]) -> Path:
        """Write the selected answers to CSV or Parquet (by suffix).

        The path is checked first: a missing directory raises
        :class:`~tierscope.exceptions.TierscopeFileNotFoundError`, a directory or another suffix
        :class:`~tierscope.exceptions.InvalidInputError`, both naming ``path``.
        """
        p = v.output_file("path", path)
        suffix = p.suffix.lower()
        if suffix not in (".csv", ".parquet", ".pq"):
            raise v.fail("path", "a .csv or .parquet file name", p.name)
        if suffix == ".csv":
            self.table.to_csv(p, index=False)
        else:
            self.table.to_parquet(p, index=False)
        return p

    def log_reviews(
        self, log: Any, scores: Mapping[str, float | bool], *, reviewer: str | None = None
    ) -> int:
        """Log review outcomes for planned requests with their π; returns how many were logged.

        ``scores`` maps request id -> acceptable (bool or score in [0, 1]); ids not in the plan
        raise :class:`InvalidInputError` (their π is unknown), as does any bad score: everything
        is checked before the first outcome is logged. The stratum and the oversampling score
        are recorded in ``detail`` (the audit's tail-weighted monitor uses the latter).
        """
        if not callable(getattr(log, "log_outcome", None)):
            raise v.fail("log", "a DecisionLog (with log_outcome)", log)
        if not isinstance(scores, Mapping):
            raise v.fail("scores", "a mapping {request_id: score}", scores)
        v.optional(v.text, "reviewer", reviewer)
        pis = self.pi
        unknown = [r for r in scores if not isinstance(r, str) or r not in pis]
        if unknown:
            raise InvalidInputError(f"invalid `scores`: request ids of this plan, got {unknown[:3]}")
        checked = {
            rid: bool(s) if isinstance(s, (bool, np.bool_)) else _entry("scores", rid, v.unit, s)
            for rid, s in scores.items()
        }
        ids = self.table["request_id"].astype(str)
        tiers = dict(zip(ids, self.table["tier"], strict=True))
        strata = dict(zip(ids, self.table["stratum"], strict=True))
        scores_g = dict(zip(ids, self.table["oversample_score"], strict=True))
        for rid, s in checked.items():
            log.log_outcome(
                rid,
                "review",
                score=s,
                reviewer=reviewer,
                inclusion_prob=pis[rid],
                tier=str(tiers[rid]),
                detail={"stratum": str(strata[rid]), "oversample": float(scores_g[rid])},
            )
        return len(checked)

    def _repr_html_(self) -> str:
        return f"<pre>{self.summary()}</pre>" + str(self.per_tier().to_html(index=False))


def _oversample_scores(
    df: Any,
    conf_idx: npt.NDArray[np.int64],
    tail_idx: npt.NDArray[np.int64],
    oversample: Mapping[str, float] | ScoreFunction,
) -> npt.NDArray[np.float64]:
    """One oversampling score per answer (``oversample`` was checked by :func:`_check_oversample`)."""
    n = len(df)
    if callable(oversample):
        try:
            raw = np.asarray(oversample(df), dtype=np.float64)
        except Exception as err:  # noqa: BLE001 - the caller's function: any failure is a bad argument
            raise InvalidInputError(
                f"invalid `oversample`: the score function failed ({type(err).__name__}: {err})"
            ) from err
        if raw.shape != (n,) or not np.all(np.isfinite(raw)) or np.any(raw <= 0):
            raise InvalidInputError(
                f"invalid `oversample`: the score function must return {n} finite positive scores"
            )
        return raw
    score = np.ones(n)
    score[conf_idx == 0] *= float(oversample.get("low_confidence", 1.0))
    score[tail_idx >= 1] *= float(oversample.get("tail", 1.0))
    return score


def _previous_items(previous: Any) -> dict[str, float]:
    """``previous`` as {stratum or tier: SD}: the mapping itself, or SDs from a reviews table."""
    if isinstance(previous, Mapping):
        return _check_mapping("previous", previous, lambda name, x: v.unit(name, x))
    df = table_to_pandas(previous)
    if df is None or "score" not in df.columns or not ({"stratum", "tier"} & set(df.columns)):
        raise InvalidInputError(
            "invalid `previous`: a mapping {stratum or tier: SD} or a table of reviews with "
            "`score` and `stratum` or `tier` columns"
        )
    import pandas as pd

    key = "stratum" if "stratum" in df.columns else "tier"
    scores = np.asarray(pd.to_numeric(df["score"], errors="coerce"), dtype=np.float64)
    if np.any(~np.isfinite(scores) | (scores < 0) | (scores > 1)):
        raise InvalidInputError("invalid `previous`: review scores in [0, 1] (no NaN) in its `score` column")
    grouped = df.assign(score=scores).groupby(key)["score"].std(ddof=1)
    return {str(k): float(sd) for k, sd in grouped.items() if np.isfinite(sd)}


def _previous_sd(
    previous: Any, strata: list[str], stratum_tier: dict[str, str], known: set[str]
) -> dict[str, float]:
    """SD per stratum from ``previous`` (mapping stratum-or-tier -> SD, or a reviews table)."""
    if previous is None:
        return {}
    items = _previous_items(previous)
    for k in items:
        if k not in known and k not in strata:
            raise InvalidInputError(f"invalid `previous`: keys are known tiers or strata, got {k!r}")
    out: dict[str, float] = {}
    for s in strata:
        if s in items:
            out[s] = items[s]
        elif stratum_tier[s] in items:
            out[s] = items[stratum_tier[s]]
    return out


def _hashable_targets(targets: Mapping[str, float]) -> dict[Hashable, float]:
    return {str(k): float(v) for k, v in targets.items()}


# ----------------------------------------------------------------------------- plan_reviews' steps


def _entry(name: str, key: Any, check: Callable[[str, Any], float], value: Any) -> float:
    """``check(name, value)``, its message naming the mapping entry at fault."""
    try:
        return check(name, value)
    except InvalidInputError as err:
        raise InvalidInputError(f"{err} (entry {key!r})") from None


def _check_mapping(name: str, value: Any, check: Callable[[str, Any], float]) -> dict[str, float]:
    """A mapping of non-empty string keys (tiers or strata) to numbers passing ``check``."""
    if not isinstance(value, Mapping):
        raise v.fail(name, "a mapping {tier: number}", value)
    out = {}
    for key, number in value.items():
        if not isinstance(key, str) or not key:
            raise v.fail(name, "non-empty tier names (strings) as keys", key)
        out[key] = _entry(name, key, check, number)
    return out


@dataclass(frozen=True)
class _Options:
    """plan_reviews' arguments once checked (all that needs no data)."""

    budget: int
    method: str
    min_per_stratum: int
    seed: int
    level: float
    conf_cuts: tuple[float, ...]
    tail_cuts: tuple[float, ...]
    targets: dict[str, float] | None
    tiers: list[str] | None


def _check_oversample(oversample: Any) -> None:
    """A mapping of factors >= 1 ('low_confidence', 'tail'), a score function, or None."""
    if oversample is None or callable(oversample):
        return
    if not isinstance(oversample, Mapping):
        raise v.fail("oversample", "a mapping of factors or a score function", oversample)
    bad = [k for k in oversample if k not in ("low_confidence", "tail")]
    if bad:
        raise v.fail("oversample", "keys 'low_confidence' and 'tail'", bad)
    for key, factor in oversample.items():
        _entry("oversample", key, lambda name, x: v.real(name, x, minimum=1.0), factor)


def _check_previous(previous: Any) -> None:
    """A mapping {stratum or tier: SD in [0, 1]} or a table (checked against the data later)."""
    if isinstance(previous, Mapping):
        _check_mapping("previous", previous, lambda name, x: v.unit(name, x))


def _check_options(
    budget: Any,
    method: Any,
    min_per_stratum: Any,
    seed: Any,
    level: Any,
    confidence_bands: Any,
    tail_bands: Any,
    targets: Any,
    tiers: Any = None,
) -> _Options:
    """Check the arguments that need no data (types, ranges, NaN, bools), before the log is read."""
    budget = v.integer("budget", budget, minimum=1)
    method = v.choice("method", method, ("neyman", "proportional", "precision", "ppi"))
    floor = v.integer("min_per_stratum", min_per_stratum, minimum=0)
    seed = v.integer("seed", seed, minimum=0, maximum=v.USIZE_MAX)
    level = v.unit("level", level, open_interval=True)
    conf_cuts = _check_bands("confidence_bands", confidence_bands)
    tail_cuts = _check_bands("tail_bands", tail_bands)
    checked_targets = None
    if targets is not None:
        checked_targets = _check_mapping(
            "targets", targets, lambda name, x: v.unit(name, x, open_interval=True)
        )
    if method == "precision" and not checked_targets:
        raise v.fail("targets", "{tier: half_width} for method 'precision'", targets)
    tier_list = None
    if tiers is not None:
        tier_list = v.string_list("tiers", tiers, allow_empty=False)
        if len(set(tier_list)) != len(tier_list):
            raise v.fail("tiers", "distinct tier names", tier_list)
    return _Options(budget, method, floor, seed, level, conf_cuts, tail_cuts, checked_targets, tier_list)


def _check_log(log: Any) -> Any:
    """A log directory must exist (``TierscopeFileNotFoundError``), checked before anything is read."""
    if isinstance(log, (str, os.PathLike)):
        return v.existing_dir("log", log, what="decision-log directory")
    return log


def _load_period(log: Any, s: datetime | None, u: datetime | None) -> Any:
    """The period's decisions in ``[s, u)``, the first of each request id."""
    df = load_decisions(log, s, u)
    if len(df) == 0:
        raise InvalidInputError(f"invalid `log`: no decisions in [{s}, {u})")
    import pandas as pd

    # In time order, whatever the files' order (compaction sorts by tier): a seeded plan is the
    # same plan before and after compaction.
    steps = df["timestamp"].diff().iloc[1:]
    if not (steps > pd.Timedelta(0)).all():  # not strictly in time order: sort, ties by request id
        import pyarrow as pa
        import pyarrow.compute as pc

        keys = pa.table({"t": pa.array(df["timestamp"]), "r": pa.array(df["request_id"].astype(str))})
        order = pc.sort_indices(keys, sort_keys=[("t", "ascending"), ("r", "ascending")]).to_numpy()
        df = df.iloc[order]
    return df.drop_duplicates("request_id", keep="first").reset_index(drop=True)


def _known_tiers(
    present: list[str], tiers: list[str] | None, targets: Mapping[str, float] | None
) -> set[str]:
    """The log's tiers plus the expected ones; checks ``tiers`` and ``targets``' keys against them."""
    known = set(present) | set(tiers or [])
    if tiers is not None:
        extra = sorted(set(present) - set(tiers) - {UNANSWERED})
        if extra:
            raise InvalidInputError(f"invalid `tiers`: the log has tiers not listed: {extra}")
    for k in targets or {}:
        if k not in known:
            raise InvalidInputError(f"invalid `targets`: unknown tier {k!r} (tiers: {sorted(known)})")
    return known


def _decisions_frame(
    df: Any,
    tier: Any,
    conf_cuts: tuple[float, ...],
    tail_cuts: tuple[float, ...],
    oversample: Mapping[str, float] | ScoreFunction | None,
) -> Any:
    """One row per answer: its tier, bands, stratum (tier|confidence band|tail band) and score."""
    import pandas as pd

    conf = _numeric(df, "route_confidence")
    tail = _numeric(df, "route_tail_score")
    conf_idx = _band_index(conf, conf_cuts)
    tail_idx = _band_index(tail, tail_cuts)
    conf_names = band_labels(conf_cuts, "conf")
    tail_names = band_labels(tail_cuts, "tail")
    conf_band = np.array([conf_names[i] if i >= 0 else "conf[na]" for i in conf_idx], dtype=object)
    tail_band = np.array([tail_names[i] if i >= 0 else "tail[na]" for i in tail_idx], dtype=object)
    score = _oversample_scores(
        df, conf_idx, tail_idx, DEFAULT_OVERSAMPLE if oversample is None else oversample
    )
    return pd.DataFrame(
        {
            "request_id": df["request_id"].astype(str),
            "timestamp": df["timestamp"],
            "tier": tier.to_numpy(),
            "stratum": tier.to_numpy(dtype=object) + "|" + conf_band + "|" + tail_band,
            "confidence_band": conf_band,
            "tail_band": tail_band,
            "route_confidence": conf,
            "route_tail_score": tail,
            "oversample_score": score,
        }
    )


StratumKey = tuple[str, str, str]
"""(tier, confidence band, tail band): a stratum's identity. The ``stratum`` label joins them
with ``|`` for display only; nothing splits it (a tier may itself contain ``|``)."""


@dataclass(frozen=True)
class _Strata:
    """The period's strata (sorted by label) and, per stratum, what the allocation needs."""

    codes: npt.NDArray[np.intp]
    """Stratum index of each answer."""
    keys: list[StratumKey]
    labels: list[str]
    population: npt.NDArray[np.int64]
    mean_score: npt.NDArray[np.float64]
    """f_h: the stratum's mean oversampling score."""
    sd: npt.NDArray[np.float64]
    """S_h: the previous period's review-score SD (0.5 when unknown)."""
    tier: dict[str, str]
    """Stratum label -> tier."""

    def domains(self) -> list[str]:
        """The tier of each stratum, in label order."""
        return [key[0] for key in self.keys]


def _strata(frame: Any, previous: Any, known: set[str]) -> _Strata:
    # Group on the (tier, band, band) columns themselves, never on the joined label.
    grouped = frame.groupby(["tier", "confidence_band", "tail_band"], sort=True)
    group_codes = grouped.ngroup().to_numpy()
    group_keys: list[StratumKey] = [(str(t), str(c), str(b)) for t, c, b in grouped.size().index]
    group_labels = ["|".join(key) for key in group_keys]
    order = np.argsort(np.array(group_labels, dtype=object), kind="stable")
    rank = np.empty(len(order), dtype=np.intp)
    rank[order] = np.arange(len(order))
    codes = rank[group_codes]
    keys = [group_keys[i] for i in order]
    labels = [group_labels[i] for i in order]
    pop = np.bincount(codes, minlength=len(labels)).astype(np.int64)
    score = frame["oversample_score"].to_numpy()
    mean_score = np.bincount(codes, weights=score, minlength=len(labels)) / pop
    stratum_tier = {lab: key[0] for lab, key in zip(labels, keys, strict=True)}
    prev = _previous_sd(previous, labels, stratum_tier, known)
    sd = np.array([prev.get(lab, 0.5) for lab in labels], dtype=np.float64)
    return _Strata(codes, keys, labels, pop, mean_score, sd, stratum_tier)


@dataclass
class _Design:
    """Integer allocation n_h per stratum, inclusion probability π per answer, and what to report."""

    sizes: npt.NDArray[np.int64]
    pi: npt.NDArray[np.float64]
    targets: list[stats.TargetReport] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _census_design(
    strata: _Strata, budget: int, targets: Mapping[str, float] | None, level: float
) -> _Design:
    """A budget at least the traffic reviews every answer (π = 1)."""
    n_total = int(strata.population.sum())
    design = _Design(
        sizes=strata.population.copy(),
        pi=np.ones(n_total),
        notes=[f"budget {budget} >= traffic {n_total}: every answer is reviewed (pi = 1)"],
    )
    if targets:
        # Everything is reviewed: report the targets against the full census.
        specs = [
            stats.StratumSpec(float(pop), float(sd), domain=domain)
            for pop, sd, domain in zip(strata.population, strata.sd, strata.domains(), strict=True)
        ]
        alloc = stats.allocate(
            specs, n_total, method="precision", level=level, targets=_hashable_targets(targets)
        )
        design.targets = list(alloc.targets)
    return design


def _stratum_specs(strata: _Strata, method: str, floor: int) -> list[stats.StratumSpec]:
    """Allocation inputs: the S_h that gives each method's shape, with [floor, N_h] bounds."""
    specs = []
    for h, domain in enumerate(strata.domains()):
        if method == "precision":
            weight_sd = float(strata.sd[h])
        elif method == "proportional":
            weight_sd = float(strata.mean_score[h])
        else:
            weight_sd = float(strata.sd[h] * strata.mean_score[h])
        pop = strata.population[h]
        specs.append(
            stats.StratumSpec(
                population=float(pop),
                sd=weight_sd,
                minimum=int(min(floor, pop)),
                maximum=int(pop),
                domain=domain,
            )
        )
    return specs


def _allocate_budget(
    strata: _Strata,
    budget: int,
    method: str,
    min_per_stratum: int,
    targets: Mapping[str, float] | None,
    level: float,
) -> _Design:
    """Split the budget into integer n_h (exactly ``budget`` in all); π comes later."""
    notes: list[str] = []
    n_strata = len(strata.labels)
    floor = min(min_per_stratum, budget // n_strata)
    if floor < min_per_stratum:
        notes.append(
            f"min_per_stratum {min_per_stratum} x {n_strata} strata exceeds the budget {budget}: "
            f"lowered to {floor}"
        )
    specs = _stratum_specs(strata, method, floor)
    try:
        if method == "precision":
            alloc = stats.allocate(
                specs, budget, method="precision", level=level, targets=_hashable_targets(targets or {})
            )
        else:
            # proportional-with-oversampling is Neyman's shape with S_h = f_h.
            alloc = stats.allocate(specs, budget, method="neyman", sd_floor=1e-9)
    except InvalidInputError as err:
        raise InvalidInputError(f"invalid `budget`: cannot allocate ({err})") from None
    reports = list(alloc.targets)
    notes.extend(
        f"precision target ±{t.target:.3f} for tier {t.domain!r} is unreachable with this "
        f"budget: achieved ±{t.achieved:.3f}, needs {t.required} reviews"
        for t in reports
        if not t.reached
    )
    sizes = np.asarray(alloc.sizes, dtype=np.int64)
    return _Design(sizes, np.zeros(len(strata.codes)), reports, notes)


def _poisson_design(strata: _Strata, design: _Design, score: npt.NDArray[np.float64]) -> None:
    """Within each stratum π ∝ the oversampling score, capped at 1, Σπ = n_h (in place)."""
    for h, size in enumerate(design.sizes):
        members = np.flatnonzero(strata.codes == h)
        if size <= 0:
            continue
        if size >= len(members):
            design.pi[members] = 1.0
        else:
            design.pi[members] = stats.poisson_inclusion_probabilities(score[members], float(size))
    unsampled = [lab for lab, size in zip(strata.labels, design.sizes, strict=True) if size == 0]
    if unsampled:
        design.notes.append(
            f"{len(unsampled)} strata get no reviews (their quality is not estimable today): "
            + ", ".join(unsampled[:5])
        )


def _select(pi: npt.NDArray[np.float64], seed: int) -> npt.NDArray[np.bool_]:
    """The seeded Poisson sample: True for each answer sent to review."""
    selected = np.zeros(len(pi), dtype=bool)
    if np.any(pi > 0):  # always with budget >= 1
        sample = stats.poisson_sample(np.where(pi > 0, pi, 0.0), seed=int(seed))
        selected[np.asarray(sample.indices, dtype=np.int64)] = True
    return selected


def _allocation_table(strata: _Strata, design: _Design, selected: npt.NDArray[np.bool_]) -> Any:
    import pandas as pd

    n = len(strata.labels)
    return pd.DataFrame(
        {
            "stratum": strata.labels,
            "tier": strata.domains(),
            "confidence_band": [key[1] for key in strata.keys],
            "tail_band": [key[2] for key in strata.keys],
            "population": strata.population,
            "sd": strata.sd,
            "oversample": strata.mean_score,
            "allocated": design.sizes,
            "expected": np.bincount(strata.codes, weights=design.pi, minlength=n),
            "selected": np.bincount(strata.codes, weights=selected.astype(float), minlength=n).astype(int),
        }
    )


# ----------------------------------------------------------------------------- method="ppi"

DEFAULT_JUDGE_BANDS: tuple[float, ...] = (0.5,)
"""Cut points of the judge-score bands: [0, 0.5) (the judge rejects), [0.5, 1] (it accepts)."""
DEFAULT_FLOOR_SHARE = 0.2
"""``method="ppi"`` with ``pi_floor=None``: every judged answer's review probability is at least
this share of the uniform rate budget / judged answers (positivity)."""
_MIN_PAST = 5
"""Past reviewed-and-judged answers a stratum needs for its own residual SD (else its tier's)."""


@dataclass(frozen=True)
class _PpiOptions:
    """``method="ppi"``'s own arguments once checked."""

    judge_cuts: tuple[float, ...]
    pi_floor: float | None
    judge_scores: dict[str, float] | None


def _check_ppi_options(method: str, judge_scores: Any, judge_bands: Any, pi_floor: Any) -> _PpiOptions:
    """Check ``judge_scores``/``judge_bands``/``pi_floor`` (they only apply to ``method="ppi"``)."""
    cuts = _check_bands("judge_bands", judge_bands)
    if method != "ppi" and pi_floor is not None:
        raise v.fail("pi_floor", "None unless method='ppi'", pi_floor)
    if method != "ppi" and cuts != DEFAULT_JUDGE_BANDS:
        raise v.fail("judge_bands", "the default unless method='ppi'", cuts)
    floor = v.optional(
        lambda n, x: v.real(n, x, minimum=0.0, maximum=1.0, min_open=True), "pi_floor", pi_floor
    )
    scores = None
    if judge_scores is not None:
        if method != "ppi":
            raise v.fail("judge_scores", "None unless method='ppi'", type(judge_scores).__name__)
        if not isinstance(judge_scores, Mapping) or not judge_scores:
            raise v.fail(
                "judge_scores", "a non-empty mapping {request_id: judge score in [0, 1]}", judge_scores
            )
        scores = {}
        for rid, s in judge_scores.items():
            if not isinstance(rid, str):
                raise v.fail("judge_scores", "request ids (strings) as keys", rid)
            if v.is_bool(s):
                raise v.fail("judge_scores", "judge scores in [0, 1] (numbers, not bools)", s)
            scores[rid] = _entry("judge_scores", rid, v.unit, s)
    return _PpiOptions(cuts, floor, scores)


def _parse_detail(text: Any) -> dict[str, Any]:
    if not isinstance(text, str) or not text:
        return {}
    try:
        out = json.loads(text)
    except ValueError:
        return {}
    return out if isinstance(out, dict) else {}


def _log_outcomes(log: Any) -> Any:
    """The log's outcome events, or None when ``log`` is a table of decisions (no outcomes)."""
    if not (isinstance(log, DecisionLog | str | os.PathLike) or (isinstance(log, tuple) and len(log) == 2)):
        return None
    out = load_outcomes(log)
    if not {"request_id", "kind", "score"} <= set(out.columns):
        raise InvalidInputError(
            "invalid `log`: its outcomes need `request_id`, `kind` and `score` columns (the outcome schema)"
        )
    # A caller's outcomes table may omit optional columns: give them their empty values.
    return out.reindex(columns=list(dict.fromkeys([*OUTCOME_SCHEMA.names, *out.columns])))


def _judge_scores(outcomes: Any, ids: Any, given: dict[str, float] | None) -> tuple[Any, Any]:
    """(judge score f, judging probability π_J) per answer of the period (NaN f: not judged)."""
    import pandas as pd

    if given is not None:
        f = ids.map(given)
        return np.asarray(f, dtype=np.float64), np.ones(len(ids))
    if outcomes is None or not len(outcomes):
        raise InvalidInputError(
            "invalid `judge_scores`: method 'ppi' needs judge scores: log judge events "
            "(DecisionLog.log_judgement) or pass judge_scores={request_id: score}"
        )
    judge = outcomes[outcomes["kind"] == "judge"]
    for_review = np.array(
        ["review" in str(_parse_detail(t).get("sample", "")) for t in judge["detail"]], bool
    )
    judge = judge[~for_review]
    f = judge.groupby("request_id")["score"].mean()
    pi_j = pd.to_numeric(judge.groupby("request_id")["inclusion_prob"].first(), errors="coerce")
    return (
        np.asarray(ids.map(f), dtype=np.float64),
        np.asarray(ids.map(pi_j.fillna(1.0)).fillna(1.0), dtype=np.float64),
    )


def _past_from_log(log: Any, outcomes: Any, period_ids: set[str]) -> Any:
    """Past reviewed-and-judged answers (``tier``, ``y``, ``f``) from the log's outcome events."""
    import pandas as pd

    empty = pd.DataFrame({"tier": [], "y": [], "f": []})
    if outcomes is None or not len(outcomes):
        return empty
    rev = outcomes[(outcomes["kind"] == "review") & ~outcomes["request_id"].isin(period_ids)]
    y = pd.to_numeric(rev["score"], errors="coerce")
    y = y.where(y.notna(), pd.to_numeric(rev["label"], errors="coerce"))
    rev = rev.assign(y=y)[y.notna()]
    f = outcomes[outcomes["kind"] == "judge"].groupby("request_id")["score"].mean()
    rev = rev.assign(f=rev["request_id"].map(f))
    rev = (
        rev[rev["f"].notna()]
        .groupby("request_id")
        .agg(tier=("tier", "first"), y=("y", "mean"), f=("f", "first"))
    )
    if not len(rev):
        return empty
    if rev["tier"].isna().any():
        dec = load_decisions(decisions_source(log), columns=["answered_by", "route_tier"])
        dec_tier = dict(zip(dec["request_id"].astype(str), tier_column(dec), strict=True))
        rev["tier"] = rev["tier"].where(rev["tier"].notna(), rev.index.map(dec_tier))
    return rev.reset_index()[["tier", "y", "f"]]


def _past_table(previous: Any) -> Any:
    """``previous`` for method 'ppi': a table of past reviews with ``tier``, ``score`` and ``f``."""
    import pandas as pd

    df = table_to_pandas(previous)
    if df is None or not {"tier", "score", "f"} <= set(df.columns):
        raise InvalidInputError(
            "invalid `previous`: for method 'ppi', a table of past reviewed-and-judged answers with "
            "`tier`, `score` (the human label) and `f` (the judge's score) columns"
        )
    y = np.asarray(pd.to_numeric(df["score"], errors="coerce"), dtype=np.float64)
    f = np.asarray(pd.to_numeric(df["f"], errors="coerce"), dtype=np.float64)
    if np.any(~np.isfinite(y) | ~np.isfinite(f) | (y < 0) | (y > 1) | (f < 0) | (f > 1)):
        raise InvalidInputError("invalid `previous`: `score` and `f` in [0, 1] (no NaN)")
    return pd.DataFrame({"tier": df["tier"].astype(str).to_numpy(), "y": y, "f": f})


def _tier_lambda(y: npt.NDArray[np.float64], f: npt.NDArray[np.float64]) -> float:
    """λ = Cov(y, f) / Var(f) clipped to [0, 1] (0 when undefined: the human-only estimate)."""
    if len(y) < 2 or float(np.var(f)) <= 0:
        return 0.0
    return float(np.clip(np.cov(y, f, ddof=1)[0, 1] / np.var(f, ddof=1), 0.0, 1.0))


def _residual_sd(
    past: Any, keys: list[tuple[str, int]], cuts: tuple[float, ...]
) -> tuple[Any, Any, list[str]]:
    """(λ per stratum, S_h per stratum, notes): S_h is the RMS of r − r̄_t, r = y − λ_t f."""
    lam_t: dict[str, float] = {}
    by_stratum: dict[tuple[str, int], npt.NDArray[np.float64]] = {}
    by_tier: dict[str, npt.NDArray[np.float64]] = {}
    for tier, grp in past.groupby("tier"):
        y, f = grp["y"].to_numpy(np.float64), grp["f"].to_numpy(np.float64)
        lam = _tier_lambda(y, f)
        dev = (y - lam * f) - float(np.mean(y - lam * f))
        lam_t[str(tier)] = lam
        by_tier[str(tier)] = dev
        band = _band_index(f, cuts)
        for b in np.unique(band):
            by_stratum[(str(tier), int(b))] = dev[band == b]
    lam_h, sd_h, fallback = [], [], []
    for key in keys:
        lam_h.append(lam_t.get(key[0], 0.0))
        dev = by_stratum.get(key)
        if dev is None or len(dev) < _MIN_PAST:
            dev = by_tier.get(key[0])
            fallback.append(key)
        sd_h.append(0.5 if dev is None or len(dev) < _MIN_PAST else float(np.sqrt(np.mean(dev**2))))
    notes = []
    if fallback:
        notes.append(
            f"{len(fallback)} judge strata have fewer than {_MIN_PAST} past reviewed-and-judged answers: "
            "their residual SD is their tier's (0.5 for a tier without them)"
        )
    return np.array(lam_h), np.array(sd_h), notes


def neyman_floor_pi(
    sizes: npt.ArrayLike, sd: npt.ArrayLike, budget: float, pi_floor: float
) -> npt.NDArray[np.float64]:
    """Per-stratum review probability π_h = clip(c·S_h, pi_floor, 1) with Σ N_h π_h = budget.

    The minimiser of Σ_h N_h S_h² / π_h (the Poisson-design variance of a Hájek mean, up to
    terms free of π) under the expected-size constraint and the bounds (its KKT conditions); c is
    found by bisection. ``budget`` must lie in [pi_floor·ΣN_h, ΣN_h].
    """
    n = np.asarray(sizes, dtype=np.float64)
    s = np.asarray(sd, dtype=np.float64)
    s = np.where(s < 1e-12, 0.0, s)  # a negligible SD is none (and keeps the bracket finite)
    lo_total, hi_total = pi_floor * n.sum(), n.sum()
    if not lo_total - 1e-9 <= budget <= hi_total + 1e-9:
        raise InvalidInputError(
            f"invalid `pi_floor`: pi_floor {pi_floor} x {int(n.sum())} judged answers = {lo_total:.1f} "
            f"expected reviews exceeds the budget {budget}: lower pi_floor or raise the budget"
        )

    def pis(c: float) -> npt.NDArray[np.float64]:
        return np.clip(c * s, pi_floor, 1.0)

    if budget >= hi_total:
        return np.ones(n.shape)
    if not np.any(s > 0):
        return np.full(n.shape, min(1.0, budget / n.sum()))
    lo, hi = 0.0, 1.0 / float(s[s > 0].min())
    for _ in range(200):  # bounded: the bracket halves each step
        mid = 0.5 * (lo + hi)
        if float(n @ pis(mid)) < budget:
            lo = mid
        else:
            hi = mid
    out = pis(hi)
    zero = s <= 0
    if budget - float(n @ out) > 1e-9 and np.any(zero):
        # Every S_h > 0 stratum is at π = 1: the S_h = 0 ones (free in the objective) take the rest.
        out[zero] = min(1.0, pi_floor + (budget - float(n @ out)) / float(n[zero].sum()))
    # Bisection's last rounding: spread it exactly over the strata strictly inside the bounds.
    free = (out > pi_floor) & (out < 1.0)
    gap = budget - float(n @ out)
    if abs(gap) > 1e-9 and np.any(free):
        out[free] = np.clip(out[free] * (1 + gap / float(n[free] @ out[free])), pi_floor, 1.0)
    return out


def _round_sizes(expected: npt.NDArray[np.float64], budget: int) -> npt.NDArray[np.int64]:
    """Integer n_h near N_h π_h summing to ``budget`` (largest remainders)."""
    base = np.floor(expected).astype(np.int64)
    left = int(budget - base.sum())
    if left > 0:
        order = np.argsort(-(expected - base), kind="stable")
        base[order[:left]] += 1
    return base


def _ppi_plan(
    log: Any, frame: Any, opts: _Options, popts: _PpiOptions, previous: Any
) -> tuple[_Strata, _Design, Any]:
    """Strata tier × judge band among judged answers, Neyman π on the PPI residual, π floor."""
    import pandas as pd

    outcomes = _log_outcomes(log)
    ids = frame["request_id"].astype(str)
    f, pi_j = _judge_scores(outcomes, ids, popts.judge_scores)
    judged = np.isfinite(f)
    if not judged.any():
        raise InvalidInputError(
            "invalid `judge_scores`: no answer of the period has a judge score (method 'ppi' plans "
            "reviews among judged answers)"
        )
    if np.any((f[judged] < 0) | (f[judged] > 1) | ~((pi_j[judged] > 0) & (pi_j[judged] <= 1))):
        raise InvalidInputError(
            "invalid `log`: judge events need scores in [0, 1] and inclusion_prob in (0, 1]"
        )
    past = _past_from_log(log, outcomes, set(ids)) if previous is None else _past_table(previous)
    band = _band_index(np.where(judged, f, np.nan), popts.judge_cuts)
    names = band_labels(popts.judge_cuts, "judge")
    judge_band = np.array([names[b] if b >= 0 else "judge[na]" for b in band], dtype=object)
    tier = frame["tier"].to_numpy(dtype=object)
    sub = pd.DataFrame({"tier": tier[judged].astype(str), "band": band[judged]})
    grouped = sub.groupby(["tier", "band"], sort=True)
    keys = [(str(t), int(b)) for t, b in grouped.size().index]
    codes_j = grouped.ngroup().to_numpy()
    pop = np.bincount(codes_j, minlength=len(keys)).astype(np.int64)
    lam, sd, notes = _residual_sd(past, keys, popts.judge_cuts)
    budget = min(opts.budget, int(pop.sum()))
    floor = DEFAULT_FLOOR_SHARE * budget / pop.sum() if popts.pi_floor is None else popts.pi_floor
    pi_h = neyman_floor_pi(pop, sd, float(budget), floor)
    codes = np.full(len(frame), -1, dtype=np.intp)
    codes[judged] = codes_j
    pi = np.zeros(len(frame))
    pi[judged] = pi_h[codes_j] * pi_j[judged]  # unconditional: judged with π_J, then reviewed
    if opts.budget > pop.sum():
        notes.append(
            f"budget {opts.budget} >= {int(pop.sum())} judged answers: every judged answer is reviewed"
        )
    if (~judged).any():
        notes.append(f"{int((~judged).sum())} answers have no judge score: not eligible (pi = 0)")
    labels = [f"{t}|{names[b]}" for t, b in keys]
    strata = _Strata(
        codes=codes,
        keys=[(t, names[b], "") for t, b in keys],
        labels=labels,
        population=pop,
        mean_score=lam,
        sd=sd,
        tier={lab: k[0] for lab, k in zip(labels, keys, strict=True)},
    )
    design = _Design(_round_sizes(pop * pi_h, budget), pi, notes=notes)
    extra = {"judge_score": f, "judge_pi": pi_j, "judge_band": judge_band}
    return strata, design, extra


def _ppi_allocation_table(strata: _Strata, design: _Design, selected: npt.NDArray[np.bool_]) -> Any:
    import pandas as pd

    n = len(strata.labels)
    ok = strata.codes >= 0
    codes = strata.codes[ok]
    return pd.DataFrame(
        {
            "stratum": strata.labels,
            "tier": strata.domains(),
            "judge_band": [key[1] for key in strata.keys],
            "population": strata.population,
            "lam": strata.mean_score,
            "sd": strata.sd,
            "pi": np.bincount(codes, weights=design.pi[ok], minlength=n) / strata.population,
            "allocated": design.sizes,
            "expected": np.bincount(codes, weights=design.pi[ok], minlength=n),
            "selected": np.bincount(codes, weights=selected[ok].astype(float), minlength=n).astype(int),
        }
    )


def plan_reviews(
    log: Any,
    budget: int = 200,
    *,
    day: Any = None,
    since: Any = None,
    until: Any = None,
    method: str = "neyman",
    previous: Any = None,
    min_per_stratum: int = 2,
    targets: Mapping[str, float] | None = None,
    confidence_bands: Sequence[float] = DEFAULT_CONFIDENCE_BANDS,
    tail_bands: Sequence[float] = DEFAULT_TAIL_BANDS,
    oversample: Mapping[str, float] | ScoreFunction | None = None,
    tiers: Sequence[str] | None = None,
    level: float = 0.95,
    seed: int = 0,
    judge_scores: Mapping[str, float] | None = None,
    judge_bands: Sequence[float] = DEFAULT_JUDGE_BANDS,
    pi_floor: float | None = None,
) -> ReviewPlan:
    """Plan one period's human reviews (see the module docstring for the design).

    ``log``: a :class:`~tierscope.log.DecisionLog`, a log directory, a table of
    decisions or a (decisions, outcomes) pair of tables. ``day`` (a date) or ``since``/``until``
    select the decisions. ``previous``:
    the previous period's review-score SDs (mapping stratum or tier -> SD) or its reviews (a table
    with ``score`` and ``stratum``/``tier``) for Neyman allocation. ``targets``: tier -> interval
    half-width (``method="precision"``). ``oversample``: ``{"low_confidence": f, "tail": g}``
    multiplies the sampling score of the lowest confidence band by f and of every tail band above
    the first cut (tail score >= ``tail_bands[0]``) by g (default 3 and 3: scores vary 9-fold,
    but design weights vary more across strata where rounding or the two-review minimum lifts a
    small stratum, up to about 100-fold in ``tests/stats/test_interval_coverage.py``; the audit's
    default interval, Wilson at n* capped at the number of reviews, covered 0.95-0.97 per tier
    there, from 28 to 250 reviews a tier; 4 and 4 tilt the audit's monitor harder), or a
    function of the decisions frame returning positive scores.
    ``tiers``: the expected tier names (checked against ``targets``/``previous``).
    ``method="ppi"`` plans reviews among judged answers to minimise the PPI variance (module
    docstring): ``judge_scores`` ({request_id: f}, π_J = 1) replaces the log's judge events,
    ``judge_bands`` cuts the judge score into strata, ``pi_floor`` in (0, 1] is every judged
    answer's smallest review probability (pi_floor × judged answers must not exceed the budget;
    default a fifth of the uniform rate, 0.2 × budget / judged answers);
    ``previous`` is then a table of past reviewed-and-judged answers (``tier``, ``score``, ``f``)
    instead of the log's. ``oversample``, ``confidence_bands``, ``tail_bands``, ``targets`` and
    ``min_per_stratum`` do not shape that design.

    A budget at least the period's traffic reviews everything (π = 1) with a
    :class:`ReviewPlanWarning`. Bad input raises :class:`InvalidInputError` naming the argument.
    """
    require("pandas", purpose="tierscope.plan_reviews()")
    opts = _check_options(
        budget, method, min_per_stratum, seed, level, confidence_bands, tail_bands, targets, tiers
    )
    popts = _check_ppi_options(opts.method, judge_scores, judge_bands, pi_floor)
    _check_oversample(oversample)
    if opts.method != "ppi":
        _check_previous(previous)
    s, u = window(day, since, until)
    log = _check_log(log)
    df = _load_period(decisions_source(log), s, u)
    tier = tier_column(df)
    known = _known_tiers(sorted(set(tier.tolist())), opts.tiers, opts.targets)
    frame = _decisions_frame(df, tier, opts.conf_cuts, opts.tail_cuts, oversample)
    if opts.method == "ppi":
        return _finish_ppi(log, frame, opts, popts, previous, (s, u))
    strata = _strata(frame, previous, known)
    if opts.budget >= len(frame):
        design = _census_design(strata, opts.budget, opts.targets, opts.level)
    else:
        design = _allocate_budget(
            strata, opts.budget, opts.method, opts.min_per_stratum, opts.targets, opts.level
        )
        _poisson_design(strata, design, frame["oversample_score"].to_numpy())
    selected = _select(design.pi, opts.seed)
    frame["pi"] = design.pi
    frame["selected"] = selected
    for msg in design.notes:
        warnings.warn(f"tierscope.plan_reviews: {msg}", ReviewPlanWarning, stacklevel=2)
    return ReviewPlan(
        table=frame.loc[selected].drop(columns=["selected"]).reset_index(drop=True),
        frame=frame,
        allocation=_allocation_table(strata, design, selected),
        budget=opts.budget,
        method=opts.method,
        seed=opts.seed,
        since=s,
        until=u,
        targets=design.targets,
        warnings=design.notes,
    )


def _finish_ppi(
    log: Any, frame: Any, opts: _Options, popts: _PpiOptions, previous: Any, period: tuple[Any, Any]
) -> ReviewPlan:
    """plan_reviews' ``method="ppi"`` branch: PPI-variance design, seeded sample, the plan."""
    strata, design, extra = _ppi_plan(log, frame, opts, popts, previous)
    selected = _select(design.pi, opts.seed)
    for col, values in extra.items():
        frame[col] = values
    frame["stratum"] = frame["tier"].to_numpy(dtype=object) + "|" + frame["judge_band"].to_numpy(dtype=object)
    frame["oversample_score"] = 1.0  # π is not ∝ an oversampling score here
    frame["pi"] = design.pi
    frame["selected"] = selected
    for msg in design.notes:
        warnings.warn(f"tierscope.plan_reviews: {msg}", ReviewPlanWarning, stacklevel=3)
    return ReviewPlan(
        table=frame.loc[selected].drop(columns=["selected"]).reset_index(drop=True),
        frame=frame,
        allocation=_ppi_allocation_table(strata, design, selected),
        budget=opts.budget,
        method=opts.method,
        seed=opts.seed,
        since=period[0],
        until=period[1],
        warnings=design.notes,
    )
