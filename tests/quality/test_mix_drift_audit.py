"""The audit's traffic-mix section (``AuditReport.mix``): per tier and day, the region shares of
the log's ``route_region`` against the baseline window, the sequential alarm, and the regions that
moved most; a log without regions (older logs) gives an empty section and changes nothing else."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from tierscope.quality.audit import audit

from tests.factories import synthetic_log

K = 8
P0 = np.array([0.2, 0.18, 0.15, 0.12, 0.12, 0.1, 0.08, 0.05])


def _with_regions(decisions: pd.DataFrame, shift_from: int | None, seed: int = 0) -> pd.DataFrame:
    """A region per decision: the launch mix, and from ``shift_from`` 25% of the cheap tier's
    traffic moved to region 7."""
    rng = np.random.default_rng(seed)
    day = ((decisions["timestamp"] - decisions["timestamp"].min()).dt.days).to_numpy()
    cheap = (decisions["answered_by"] == "cheap").to_numpy()
    region = rng.choice(K, len(decisions), p=P0)
    if shift_from is not None:
        moved = cheap & (day >= shift_from) & (rng.random(len(decisions)) < 0.25)
        region[moved] = 7
    out = decisions.copy()
    out["route_region"] = region
    return out


@pytest.mark.timeout(120)
def test_the_cheap_tier_mix_alarm_fires_after_the_shift_and_names_the_region() -> None:
    d, o, _ = synthetic_log(days=28, per_day=1500, seed=3)
    rep = audit((_with_regions(d, shift_from=20), o), baseline_days=14)
    assert set(rep.mix["tier"]) == {"cheap", "capable"}
    assert rep.mix["day"].min() == 14 and rep.mix["day"].max() == 27
    alarms = rep.mix_alarms()
    assert alarms["capable"] is None
    assert alarms["cheap"] is not None and 20 <= alarms["cheap"] <= 23, alarms
    row = rep.mix[(rep.mix["tier"] == "cheap") & (rep.mix["day"] == alarms["cheap"])].iloc[0]
    assert row["moved"].startswith("7: ")
    assert "traffic mix cheap" in rep.summary() and "ALARM" in rep.summary()
    assert "mix" in rep.tables()


def test_no_mix_alarm_without_a_shift_and_an_empty_section_without_regions() -> None:
    d, o, _ = synthetic_log(days=28, per_day=1500, seed=4)
    rep = audit((_with_regions(d, shift_from=None, seed=1), o), baseline_days=14)
    assert rep.mix_alarms() == {"cheap": None, "capable": None}
    plain = audit((d, o), baseline_days=14)
    assert len(plain.mix) == 0 and plain.mix_alarms() == {}
    pd.testing.assert_frame_equal(plain.quality, rep.quality)
