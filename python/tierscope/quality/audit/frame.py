"""Step 1 of the audit: check the arguments, then load the window's decisions and join their outcomes.

Every argument error is raised here, before any statistic is computed, in a fixed order: the
numeric settings, the time window, the reference, then what depends on the log (tiers,
baseline, capable tier, prices).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from ... import _validate as v
from ... import stats
from ...exceptions import InvalidInputError
from ...log.decision_log import DecisionLog
from ...log.quality import UNANSWERED
from ...log.reader import decisions_source, load_decisions, load_outcomes, request_ids, tier_column

__all__ = ["AuditFrame", "check_arguments", "check_settings", "load_frame"]


@dataclass
class AuditFrame:
    """The audit window as pandas frames, and what every later step needs to know about it."""

    since: datetime | None
    until: datetime | None
    decisions: Any
    """One row per request of the window (first logged decision), with ``tier``, ``day``, ``week``."""
    outcomes: Any
    """Outcome events of the window's decisions, with the decision's ``dtier``, ``day``, ``week``, ``dts``."""
    orphans: Any
    """Outcome events whose request id has no logged decision (counted, not used)."""
    tiers: list[str]
    present: list[str]
    """The tiers that answered in the window."""
    capable_tier: str | None
    day_labels: list[str]
    week_labels: list[str]
    baseline_days: int
    """Days of the baseline window (at most the window's length)."""
    answers: Any
    """Decisions per tier (a pandas Series)."""

    @property
    def n_days(self) -> int:
        return len(self.day_labels)

    def orphan_table(self) -> Any:
        """Orphan outcome events per kind."""
        import pandas as pd

        if not len(self.orphans):
            return pd.DataFrame({"kind": [], "orphans": []})
        return self.orphans.groupby("kind").size().rename("orphans").reset_index()

    def notes(self) -> list[str]:
        """What the report should say about the loaded data."""
        if not len(self.orphans):
            return []
        return [f"{len(self.orphans)} outcome events have no logged decision (orphans; counted, not used)"]


def check_settings(
    *,
    tolerance: Any,
    alpha: Any,
    level: Any,
    cost_per_contact: Any,
    support_window_days: Any,
    baseline_days: Any,
    monitor_method: Any,
    arl: Any,
    monitor_target: Any,
    restart_every: Any = 7,
    interval: Any = "wilson",
) -> None:
    """Raise :class:`InvalidInputError` for the first invalid numeric or named setting."""
    v.choice("interval", interval, stats.estimators.INTERVALS)
    for name, value in (("tolerance", tolerance), ("alpha", alpha), ("level", level)):
        v.unit(name, value, open_interval=True)
    v.real("cost_per_contact", cost_per_contact, minimum=0.0)
    v.real("support_window_days", support_window_days, minimum=0.0)
    # A 10^6-day baseline is already far past any log; the bound keeps Rust integers safe.
    v.integer("baseline_days", baseline_days, minimum=1, maximum=1_000_000)
    v.integer("restart_every", restart_every, minimum=0, maximum=1_000_000)
    v.choice("monitor_method", monitor_method, stats.MONITOR_METHODS)
    v.real("arl", arl, minimum=1.0, min_open=True)
    v.choice("monitor_target", monitor_target, ("tail_weighted", "traffic"))


def _tier_mapping(name: str, value: Any, check: Any) -> None:
    """A mapping of non-empty tier names to numbers passing ``check(name, number)``."""
    if not isinstance(value, Mapping):
        raise v.fail(name, "a mapping {tier: number}", value)
    for key, number in value.items():
        if not isinstance(key, str) or not key:
            raise v.fail(name, "non-empty tier names (strings) as keys", key)
        try:
            check(name, number)
        except InvalidInputError as err:
            raise InvalidInputError(f"{err} (tier {key!r})") from None


def check_arguments(
    *,
    log: Any,
    baseline: Any,
    prices: Any,
    tiers: Any,
    capable_tier: Any,
) -> Any:
    """Check the arguments that name tiers or hold numbers per tier, before the log is read (their
    tier names are checked against the log later); returns ``log`` (a directory as a ``Path``)."""
    if baseline is not None:
        if isinstance(baseline, Mapping):
            _tier_mapping("baseline", baseline, v.unit)
        else:
            v.unit("baseline", baseline)
    if prices is not None:
        _tier_mapping("prices", prices, lambda name, x: v.real(name, x, minimum=0.0))
    if tiers is not None:
        names = v.string_list("tiers", tiers, allow_empty=False)
        if len(set(names)) != len(names):
            raise v.fail("tiers", "distinct tier names", names)
    v.optional(v.text, "capable_tier", capable_tier, allow_empty=False)
    if isinstance(log, (str, os.PathLike)):
        return v.existing_dir("log", log, what="decision-log directory")
    return log


AUDIT_COLUMNS = (
    "answered_by",
    "route_tier",
    "capable_tier",
    "cost",
    "capable_cost",
    "route_confidence",
    "escalated",
)
"""The decision columns the audit's steps use (with ``request_id`` and ``timestamp``): all it reads
of a log (a table given as ``log`` keeps its columns)."""


def _window_decisions(all_decisions: Any, since: datetime | None, until: datetime | None) -> Any:
    """The decisions in ``[since, until)``, one per request id (the first logged), with ``tier``."""
    import pandas as pd

    dec = all_decisions
    if since is not None:
        dec = dec[dec["timestamp"] >= pd.Timestamp(since)]
    if until is not None:
        dec = dec[dec["timestamp"] < pd.Timestamp(until)]
    dec = dec.drop_duplicates("request_id", keep="first").reset_index(drop=True)
    if len(dec) == 0:
        raise InvalidInputError(f"invalid `since`: no decisions in [{since}, {until})")
    dec["tier"] = tier_column(dec).to_numpy()
    return dec


def _expected_tiers(tiers: Sequence[str] | None, present: list[str]) -> list[str]:
    if tiers is None:
        return present
    unknown = sorted(set(tiers) - set(present))
    if unknown:
        raise InvalidInputError(f"invalid `tiers`: not in the log: {unknown} (log has {present})")
    return [str(t) for t in tiers]


def _check_baseline(baseline: float | Mapping[str, float] | None, present: list[str]) -> None:
    if isinstance(baseline, Mapping):
        bad = [k for k in baseline if k not in present]
        if bad:
            raise v.fail("baseline", f"tiers of the log {present} as keys", bad)


def _capable_tier(dec: Any, capable_tier: str | None, present: list[str]) -> str | None:
    """The tier of the all-capable counterfactual: as given, else the logged one, else "capable"."""
    import pandas as pd

    if capable_tier is not None:
        if capable_tier not in present:
            raise InvalidInputError(
                f"invalid `capable_tier`: a tier of the log, got {capable_tier!r} ({present})"
            )
        return capable_tier
    logged = dec["capable_tier"].dropna() if "capable_tier" in dec.columns else pd.Series([], dtype=object)
    if len(logged):
        return str(logged.mode().iloc[0])
    return "capable" if "capable" in present else None


def _check_prices(prices: Mapping[str, float] | None, present: list[str], capable_tier: str | None) -> None:
    for k in prices or {}:
        if k not in present and k != capable_tier:
            raise v.fail("prices", f"tiers of the log {present} as keys, unknown tier", k)


def _add_calendar(dec: Any, since: datetime | None, until: datetime | None) -> tuple[list[str], list[str]]:
    """Add ``day``/``week`` indices (0 = the window's first UTC day) to ``dec``; return their labels.

    The window runs to ``until`` when given, so trailing days without traffic still get a label.
    """
    import pandas as pd

    day0 = (pd.Timestamp(since) if since is not None else dec["timestamp"].min()).floor("D")
    dec["day"] = ((dec["timestamp"] - day0) // pd.Timedelta(days=1)).astype(int)
    n_days = int(dec["day"].max()) + 1
    if until is not None:
        n_days = max(n_days, int(math.ceil((pd.Timestamp(until) - day0) / pd.Timedelta(days=1))))
    day_labels = [(day0 + pd.Timedelta(days=i)).strftime("%Y-%m-%d") for i in range(n_days)]
    dec["week"] = dec["day"] // 7
    n_weeks = (n_days + 6) // 7
    return day_labels, [day_labels[7 * w] for w in range(n_weeks)]


def _with_outcome_columns(out: Any) -> Any:
    """``out`` with every optional outcome column it lacks added as nulls of the schema's type.

    A ``(decisions, outcomes)`` pair may hold only the columns its producer cares about (e.g.
    reviews without the shadow columns); ``request_id`` and ``kind`` are required.
    """
    import pyarrow as pa

    from ...log.decision_log import OUTCOME_SCHEMA

    for name in ("request_id", "kind"):
        if name not in out.columns:
            raise InvalidInputError(f"invalid `log`: an outcomes table with a `{name}` column")
    missing = [f for f in OUTCOME_SCHEMA if f.name not in out.columns]
    if missing:
        out = out.assign(
            **{f.name: pa.nulls(len(out), f.type).to_pandas().set_axis(out.index) for f in missing}
        )
    return out


def _repeated(ids: Any) -> Any:
    """The repeated entries of a request-id column (empty, cheaply, when every id is distinct)."""
    import pyarrow.compute as pc

    if int(pc.count_distinct(_string_ids(ids)).as_py()) == len(ids):
        return ids.iloc[:0]
    return ids[ids.duplicated()]


def _join_outcomes(log: Any, all_decisions: Any, dec: Any) -> tuple[Any, Any]:
    """(outcomes of the window's decisions joined to them, orphan outcomes).

    Orphans are judged against every logged decision, not only the window's: an outcome of a
    decision outside the window is neither joined nor an orphan.
    """
    import pandas as pd
    import pyarrow.compute as pc

    out = _with_outcome_columns(load_outcomes(log))
    if len(out):
        out["request_id"] = out["request_id"].astype(str)
        # Arrow's hash sets: millions of decision ids against thousands of outcomes in well under a
        # second, where a pandas Index over the decisions cost seconds.
        out_ids = _string_ids(out["request_id"])
        known = pc.is_in(out_ids, value_set=_string_ids(all_decisions["request_id"]))
        is_orphan = pd.Series(~known.to_numpy(zero_copy_only=False), index=out.index)
        keep = pc.is_in(_string_ids(dec["request_id"]), value_set=out_ids).to_numpy(zero_copy_only=False)
    else:
        is_orphan = pd.Series([], dtype=bool)
        keep = np.zeros(len(dec), dtype=bool)
    cols = ["request_id", "tier", "day", "week", "timestamp"]
    joined = out[~is_orphan].merge(
        dec.loc[keep, cols].rename(columns={"tier": "dtier", "timestamp": "dts"}), on="request_id"
    )
    return joined, out[is_orphan]


def _string_ids(ids: Any) -> Any:
    """A pandas column of request ids as an Arrow string array."""
    import pyarrow as pa

    try:
        return pa.array(ids, pa.string())  # zero-copy for Arrow-backed strings
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array(ids.astype(str).to_numpy(dtype=object), pa.string())


def load_frame(
    log: Any,
    since: datetime | None,
    until: datetime | None,
    *,
    tiers: Sequence[str] | None,
    baseline: float | Mapping[str, float] | None,
    capable_tier: str | None,
    prices: Mapping[str, float] | None,
    baseline_days: int,
) -> AuditFrame:
    """Load ``log``'s decisions in ``[since, until)`` and their outcomes; check the tier arguments."""
    source = decisions_source(log)
    if since is None and until is None or not isinstance(source, (str, os.PathLike, DecisionLog)):
        all_decisions = load_decisions(source, columns=AUDIT_COLUMNS)
        window_decisions = all_decisions
    else:  # the window's partitions only; the other days' request ids alone
        all_decisions = request_ids(source)
        window_decisions = load_decisions(source, since, until, columns=AUDIT_COLUMNS)
    if len(all_decisions) == 0:
        raise InvalidInputError("invalid `log`: the log has no decisions")
    repeated = _repeated(all_decisions["request_id"])
    if len(repeated):
        # Outcomes join to decisions by request_id: a repeated id would make the join ambiguous.
        raise InvalidInputError(
            f"invalid `log`: one decision per request_id, but {repeated.nunique()} ids repeat "
            f"(e.g. {str(repeated.iloc[0])!r})"
        )
    dec = _window_decisions(window_decisions, since, until)
    present = sorted(set(dec["tier"].tolist()) - {UNANSWERED})
    tier_list = _expected_tiers(tiers, present)
    _check_baseline(baseline, present)
    capable = _capable_tier(dec, capable_tier, present)
    _check_prices(prices, present, capable)
    day_labels, week_labels = _add_calendar(dec, since, until)
    joined, orphans = _join_outcomes(log, all_decisions, dec)
    return AuditFrame(
        since=since,
        until=until,
        decisions=dec,
        outcomes=joined,
        orphans=orphans,
        tiers=tier_list,
        present=present,
        capable_tier=capable,
        day_labels=day_labels,
        week_labels=week_labels,
        baseline_days=min(baseline_days, len(day_labels)),
        answers=dec.groupby("tier").size(),
    )
