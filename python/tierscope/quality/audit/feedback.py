"""Step 5 of the audit: user feedback (thumbs-down per 1000 answers) and human-support contacts
within the support window, per tier and over all traffic (Wilson intervals)."""

from __future__ import annotations

from typing import Any

from ... import _validate as v
from .frame import AuditFrame
from .rates import wilson

__all__ = [
    "CENSUS_COLUMNS",
    "census_note",
    "census_tables",
    "check_census",
    "feedback_table",
    "support_contacts",
    "support_table",
]

ALL = "all"

#: The columns of a census (:func:`check_census`): per tier (and optionally per ``day``) the number of
#: answers, of answers followed by a support contact and of thumbs-down.
CENSUS_COLUMNS = ("tier", "answers", "support_contacts", "thumbs_down")


def _answers(frame: AuditFrame, tier: str) -> int:
    """Decisions answered by ``tier`` (every decision for ``"all"``)."""
    return len(frame.decisions) if tier == ALL else int(frame.answers.get(tier, 0))


def _of_tier(events: Any, tier: str) -> Any:
    return events if tier == ALL else events[events["dtier"] == tier]


def support_contacts(frame: AuditFrame, window_days: float) -> Any:
    """Support-contact events within ``window_days`` of their answer (no ``days_after``: day 0)."""
    out = frame.outcomes
    contacts = out[(out["kind"] == "support_contact")]
    return contacts[contacts["days_after"].fillna(0.0) <= float(window_days)]


def feedback_table(frame: AuditFrame, level: float) -> Any:
    """The ``feedback`` table: thumbs-down (score < 0.5) per 1000 answers and share of feedback."""
    import pandas as pd

    out = frame.outcomes
    feedback = out[(out["kind"] == "feedback") & out["score"].notna()]
    rows = []
    for t in [*frame.tiers, ALL]:
        n_t = _answers(frame, t)
        f_t = _of_tier(feedback, t)
        downs = float((f_t["score"] < 0.5).sum())
        est, lo, hi = wilson(downs, float(n_t), level)
        rows.append(
            {
                "tier": t,
                "answers": n_t,
                "feedback": len(f_t),
                "thumbs_down": int(downs),
                "thumbs_down_per_1000": 1000 * est,
                "lower_per_1000": 1000 * lo,
                "upper_per_1000": 1000 * hi,
                "down_share_of_feedback": wilson(downs, float(len(f_t)), level)[0],
            }
        )
    return pd.DataFrame(rows)


def support_table(frame: AuditFrame, contacts: Any, level: float) -> Any:
    """The ``support`` table: the share of answers followed by a support contact."""
    import pandas as pd

    rows = []
    for t in [*frame.tiers, ALL]:
        n_t = _answers(frame, t)
        n_contacts = float(_of_tier(contacts, t)["request_id"].nunique())
        est, lo, hi = wilson(n_contacts, float(n_t), level)
        rows.append(
            {
                "tier": t,
                "answers": n_t,
                "contacts": int(n_contacts),
                "contact_rate": est,
                "lower": lo,
                "upper": hi,
            }
        )
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- census counts


def check_census(census: Any, tiers: Any = None) -> Any:
    """The audit's ``census`` argument as a pandas DataFrame, checked before the log is read.

    A census counts every answer, not a sample: per tier (one row per tier, or per tier and day)
    ``answers``, ``support_contacts`` (answers followed by a contact within the support window)
    and ``thumbs_down``. It is the denominator a sampled decision log (reviews only) lacks.
    ``census``: a pandas DataFrame or a mapping of column name -> sequence. Raises
    :class:`~tierscope.exceptions.InvalidInputError` naming ``census`` on missing columns, counts
    that are not non-negative integers, more contacts or thumbs-down than answers, or (with
    ``tiers``) an unknown tier name.
    """
    import numpy as np
    import pandas as pd

    if census is None:
        return None
    if not isinstance(census, (pd.DataFrame, dict)):
        raise v.fail("census", "a pandas DataFrame or a dict of columns", census)
    try:
        df = pd.DataFrame(census)
    except (ValueError, TypeError) as err:
        raise v.fail("census", "columns of equal length", census, cause=err) from err
    missing = [c for c in CENSUS_COLUMNS if c not in df.columns]
    if missing:
        raise v.fail("census", f"columns {list(CENSUS_COLUMNS)} (missing {missing})", list(df.columns))
    counts = {}
    for col in CENSUS_COLUMNS[1:]:
        raw = df[col].to_numpy()
        if raw.dtype.kind == "b" or raw.dtype.kind not in "iuf":
            raise v.fail(f"census[{col!r}]", "non-negative integer counts", raw[:3].tolist())
        x = raw.astype(np.float64)
        if not np.all(np.isfinite(x)) or np.any(x < 0) or np.any(x != np.round(x)):
            raise v.fail(f"census[{col!r}]", "non-negative integer counts", raw[:3].tolist())
        counts[col] = x.astype(np.int64)
    for col in ("support_contacts", "thumbs_down"):
        if np.any(counts[col] > counts["answers"]):
            raise v.fail(f"census[{col!r}]", "at most `answers` in every row", counts[col].max())
    names = df["tier"].astype(str)
    if tiers is not None:
        unknown = sorted(set(names) - {str(t) for t in tiers})
        if unknown:
            raise v.fail("census['tier']", f"tier names among {sorted(map(str, tiers))}", unknown)
    return pd.DataFrame({"tier": names, **counts})


def census_tables(census: Any, tiers: Any, level: float) -> tuple[Any, Any]:
    """The ``feedback`` and ``support`` tables from a checked census (:func:`check_census`): rates
    over every counted answer per tier and over all tiers (Wilson intervals), in the same columns
    as :func:`feedback_table` and :func:`support_table` (``feedback``: the thumbs-down count, as
    a census counts no thumbs-up)."""
    import pandas as pd

    unknown = sorted(set(census["tier"]) - {str(t) for t in tiers})
    if unknown:
        raise v.fail("census['tier']", f"tier names among the log's {sorted(map(str, tiers))}", unknown)
    by = census.groupby("tier")[list(CENSUS_COLUMNS[1:])].sum()
    fb, sp = [], []
    for t in [*tiers, ALL]:
        row = by.sum() if t == ALL else (by.loc[t] if t in by.index else pd.Series(0, index=by.columns))
        n, down, con = (float(row[c]) for c in ("answers", "thumbs_down", "support_contacts"))
        est, lo, hi = wilson(down, n, level)
        fb.append(
            {
                "tier": t, "answers": int(n), "feedback": int(down), "thumbs_down": int(down),
                "thumbs_down_per_1000": 1000 * est, "lower_per_1000": 1000 * lo, "upper_per_1000": 1000 * hi,
                "down_share_of_feedback": wilson(down, down, level)[0],
            }
        )  # fmt: skip
        est, lo, hi = wilson(con, n, level)
        sp.append(
            {
                "tier": t,
                "answers": int(n),
                "contacts": int(con),
                "contact_rate": est,
                "lower": lo,
                "upper": hi,
            }
        )
    return pd.DataFrame(fb), pd.DataFrame(sp)


def census_note(census: Any, logged: int) -> list[str]:
    """The audit's note when a census gave the rates (its answers vs the logged decisions)."""
    if census is None:
        return []
    return [
        f"thumbs-down and support rates from a census of {int(census['answers'].sum()):,} answers "
        f"(the log holds {logged:,} decisions; quality, monitors and costs come from the log)"
    ]
