"""The period replayed under a proposed SLA (analyses/replay.py, the figures replayed_promises and
first_touch_staffing): promises judged as the next scorecard will judge them, in the window's own
units, against counts made here by hand; and the stated first-touch staffing model."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import pandas as pd
import pytest

from sla_analysis.analyses import replay as rp
from sla_analysis.config import BusinessHours, SLAConfig, TierProtocol
from sla_analysis.figures import Figures
from sla_analysis.periods import parse_period
from tests.helpers import open_export

BH = {"days": "mon-fri", "hours": [9, 17], "timezone": "UTC"}


@pytest.fixture(scope="module")
def replay_crm(tmp_path_factory):
    """Five high-tier MQLs of March 2024 (Mon 4th to Sat 9th), first touched:
    L1 Mon 10:00 -> 11:30 (1.5 clock h, 1.5 working h); L2 Fri 16:00 -> Mon 09:30 (65.5 clock h,
    1.5 working h: Fri 16-17 and Mon 9-9:30); L3 Tue 10:00 -> 13:00 (3 h either way); L4 Sat 12:00 ->
    Mon 10:30 (46.5 clock h, 1.5 working h); L5 Wed 09:00, never touched. A later touch of L1 on the
    29th keeps every window decided."""
    mql = {"L1": "2024-03-04 10:00:00", "L2": "2024-03-08 16:00:00", "L3": "2024-03-05 10:00:00",
           "L4": "2024-03-09 12:00:00", "L5": "2024-03-06 09:00:00"}
    leads = [{"lead_id": k, "created_at": v, "mql_at": v, "source": "web", "tier": "high"} for k, v in mql.items()]
    touches = [("L1", "2024-03-04 11:30:00"), ("L2", "2024-03-11 09:30:00"), ("L3", "2024-03-05 13:00:00"),
               ("L4", "2024-03-11 10:30:00"), ("L1", "2024-03-29 10:00:00")]
    acts = [{"activity_id": f"A{i}", "lead_id": lead, "occurred_at": at, "type": "call", "rep_id": "r1"}
            for i, (lead, at) in enumerate(touches)]
    deals = [{"deal_id": "D0", "lead_id": "L1", "created_at": "2024-03-29 12:00:00", "stage": "open"}]
    return open_export(tmp_path_factory.mktemp("replay"), leads, acts, deals, as_of=datetime(2025, 1, 1))


def test_the_period_is_judged_under_the_proposal_in_its_own_units(replay_crm):
    today = replace(SLAConfig(), tiers={"high": TierProtocol(4, 3, 30)}, business_hours=None, default_tier="high",
                    min_group_size=1)
    proposed = replace(today, tiers={"high": TierProtocol(2, 3, 30)}, business_hours=BH)
    f = Figures(replay_crm, today, parse_period("2024-03"), values={"proposed_config": proposed})
    row = f["replayed_promises"].get().set_index("promise").loc["speed to lead, high tier"]
    # by hand: within 4 clock hours L1, L3 (2 of 5); within 2 working hours L1, L2, L4 (3 of 5)
    assert (row.current_actual, row.current_n, row.current_unit) == (pytest.approx(2 / 5), 5, "clock hours")
    assert (row.proposed_actual, row.proposed_n, row.proposed_unit) == (pytest.approx(3 / 5), 5, "working hours")
    assert row.proposed_window == 2 and "within 2 working hours" in row.proposed_text
    # the same functions as the scorecard: today's side is page 05's promise, unchanged
    scorecard = {p["promise"]: p for p in f["promises"]}
    assert row.current_text == scorecard["speed to lead, high tier"]["text"]


def test_a_miss_never_reads_as_the_target():
    from sla_analysis.formats import pct_against

    assert pct_against(0.895, 0.9) == "89.5%" and pct_against(0.9, 0.9) == "90%" and pct_against(0.52, 0.9) == "52%"
    assert pct_against(0.8996, 0.9) == "89.9%" and pct_against(0.9004, 0.9) == "90.1%"


def test_an_mql_arriving_after_hours_is_served_in_the_first_working_half_hour():
    bh = BusinessHours(days=(0, 1, 2, 3, 4), start_hour=9, end_hour=17)
    assert rp.serving_slot(4, 38, bh) == (0, 18)   # Friday 19:00 -> Monday 09:00
    assert rp.serving_slot(5, 24, bh) == (0, 18)   # Saturday noon -> Monday 09:00
    assert rp.serving_slot(2, 20, bh) == (2, 20)   # in working hours: that half hour
    assert rp.serving_slot(2, 16, bh) == (2, 18)   # Wednesday 08:00 -> 09:00
    assert rp.serving_slot(6, 7, None) == (6, 7)   # round the clock
    half = BusinessHours(days=(0, 1, 2, 3, 4), start_hour=8.5, end_hour=17.5)
    assert rp.serving_slot(4, 35, half) == (0, 17)  # Friday 17:30 is after hours: Monday 08:30
    assert rp.serving_slot(4, 34, half) == (4, 34)  # Friday 17:00-17:30 is working time
    assert rp.serving_slot(1, 16, half) == (1, 17)  # Tuesday 08:00 -> 08:30


def _arrivals(cells: dict) -> pd.DataFrame:
    grid = pd.MultiIndex.from_product([range(7), range(24), range(2)], names=["weekday", "hour", "half"]).to_frame(index=False)
    grid.insert(1, "weekday_name", grid.weekday.map(dict(enumerate(["mon", "tue", "wed", "thu", "fri", "sat", "sun"]))))
    grid["mqls"] = [cells.get((d, h, x), 0) for d, h, x in zip(grid.weekday, grid.hour, grid.half)]
    return grid


def test_first_touch_staffing_by_hand():
    arrivals = _arrivals({(4, 19, 0): 2, (5, 12, 1): 1, (0, 10, 0): 1})
    bh = BusinessHours(days=(0, 1, 2, 3, 4), start_hour=9, end_hour=17)
    out = rp.first_touch_staffing(arrivals, bh, hours_per_touch=0.1, weeks=2).set_index(["weekday", "hour"])
    assert len(out) == 7 * 24 and out.mqls.sum() == 4
    assert out.loc[(0, 9), "served"] == 3 and out.loc[(0, 10), "served"] == 1 and out.served.sum() == 4
    assert out.loc[(0, 9), "sdr_hours_per_week"] == pytest.approx(3 / 2 * 0.1)
    assert not out.loc[(4, 19), "working"] and out.loc[(4, 19), "served"] == 0
    s = rp.staffing_summary(out.reset_index(), 0.1, "measured", rp.after_hours_share(arrivals, bh))
    assert s["busiest_hour"] == {"weekday": "mon", "hour": 9, "sdrs_on_first_touches": pytest.approx(0.15)}
    assert s["first_touch_hours_per_week"] == pytest.approx(0.2) and s["after_hours_share"] == pytest.approx(3 / 4)


def test_staffing_is_not_available_without_times_of_day(replay_crm, tmp_path):
    leads = [{"lead_id": "L1", "created_at": "2024-03-04", "source": "web", "tier": "high"}]
    acts = [{"activity_id": "A1", "lead_id": "L1", "occurred_at": "2024-03-05 10:00:00", "type": "call"}]
    deals = [{"deal_id": "D0", "lead_id": "L1", "created_at": "2024-03-29 12:00:00", "stage": "open"}]
    crm = open_export(tmp_path, leads, acts, deals, as_of=datetime(2025, 1, 1))
    cfg = replace(SLAConfig(), min_group_size=1)
    found = Figures(crm, cfg, parse_period("2024-03"), values={"proposed_config": cfg})["first_touch_staffing"]
    assert not found and "without a time of day" in found.reason
