"""The scorecard's promises: met, missed or not judged, from hand-made figures."""
from datetime import datetime

import numpy as np
import pandas as pd
import pytest

from sla_analysis.analyses import scorecard as sc
from sla_analysis.analyses.compliance import in_tier_order


def test_period_progress():
    start, end = datetime(2024, 1, 1), datetime(2024, 4, 1)
    assert sc.period_progress(start, end, datetime(2024, 5, 1)) == 1.0
    assert sc.period_progress(start, end, datetime(2023, 12, 1)) == 0.0
    assert sc.period_progress(start, end, datetime(2024, 2, 15, 12)) == pytest.approx(45.5 / 91)


def test_marketing_promise_is_pro_rata_while_the_period_runs():
    p = sc.marketing_promise(5_000_000, 2_400_000, 3, 0.5, "USD")
    assert p["target"] == pytest.approx(3_600_000) and p["status"] == "met"
    assert "MQLs with an expected value of $5,000,000 against $3,600,000 due so far (50% of the period)" in p["text"]
    assert sc.marketing_promise(7_000_000, 2_400_000, 3, 1.0, "USD")["status"] == "missed"


def test_speed_to_lead_promises():
    t = pd.DataFrame({"tier": ["high", "low", "moderate", "all"], "share_within": [0.95, 0.5, np.nan, 0.7],
                      "decided": [100, 10, 0, 110], "response_hours": [4, 48, 24, np.nan]})
    out = sc.speed_to_lead_promises(t, 0.9, 30)
    assert [p["status"] for p in out] == ["met", "not judged", "not judged"]
    assert out[0]["text"] == "Sales contacted 95% of high-tier MQLs within 4 clock hours (target 90%; 100 MQLs)"


def test_cadence_promises_count_early_conversions_as_kept():
    t = pd.DataFrame({"tier": ["high"], "leads": [100], "to_protocol": [70], "converted_early": [12],
                      "protocol_touches": [15]})
    (p,) = sc.cadence_promises(t, 0.8, 30)
    assert p["actual"] == pytest.approx(0.82) and p["status"] == "met"


def test_tier_order_follows_the_config():
    t = pd.DataFrame({"tier": ["all", "high", "low", "moderate", "(none)"]})
    order = in_tier_order(t, {"high": {}, "moderate": {}, "low": {}})
    assert list(order.tier) == ["high", "moderate", "low", "(none)", "all"]


def test_a_period_the_data_does_not_cover_is_not_judged():
    start, end = datetime(2019, 1, 1), datetime(2020, 1, 1)
    progress = sc.period_progress(start, end, datetime(2025, 6, 1), data_start=datetime(2023, 1, 1))
    assert progress == 0.0
    assert sc.marketing_promise(0.0, 2_400_000, 12, progress, "USD")["status"] == "not judged"
    assert sc.period_progress(datetime(2023, 1, 1), datetime(2023, 4, 1), datetime(2025, 1, 1),
                              data_start=datetime(2023, 2, 15, 12)) == pytest.approx(44.5 / 90)


def test_a_promise_in_working_hours_is_judged_in_working_hours():
    """An SLA that sets business hours promises windows in working hours: the scorecard judges the
    working-hour share (over the MQLs decided in working hours) and shows the clock-hour one beside
    it; without business hours it judges clock hours. Each promise says its unit."""
    t = pd.DataFrame({"tier": ["high", "low"], "response_hours": [10.0, 20.0], "share_within": [0.27, 0.5],
                      "decided": [200, 100], "share_within_bh": [0.955, 0.6], "decided_bh": [190, 100]})
    worked = sc.speed_to_lead_promises(t, 0.9, 30, working_hours=True)
    assert [p["status"] for p in worked] == ["met", "missed"] and [p["n"] for p in worked] == [190, 100]
    assert worked[0]["unit"] == "working hours" and worked[0]["window"] == 10.0 and worked[0]["actual_clock_hours"] == 0.27
    assert worked[0]["text"] == ("Sales contacted 96% of high-tier MQLs within 10 working hours (target 90%; 190 MQLs; "
                                 "27% counting clock hours)")
    clock = sc.speed_to_lead_promises(t, 0.9, 30)
    assert [p["status"] for p in clock] == ["missed", "missed"] and clock[0]["unit"] == "clock hours"
    assert "within 10 clock hours" in clock[0]["text"] and "actual_clock_hours" not in clock[0]
