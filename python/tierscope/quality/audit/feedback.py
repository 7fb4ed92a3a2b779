"""Step 5 of the audit: user feedback (thumbs-down per 1000 answers) and human-support contacts
within the support window, per tier and over all traffic (Wilson intervals)."""

from __future__ import annotations

from typing import Any

from .frame import AuditFrame
from .rates import wilson

__all__ = ["feedback_table", "support_contacts", "support_table"]

ALL = "all"


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
