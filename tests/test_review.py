"""Trend over previous periods and the SLA review's drift flags."""
from datetime import datetime

import numpy as np
import pandas as pd
import pytest

from sla_analysis.analyses import compliance as cp
from sla_analysis.analyses import review as rv
from sla_analysis.config import config_from_dict, load_config
from sla_analysis.io.engine import open_crm
from sla_analysis.io.ingest import prepare_inputs
from sla_analysis.periods import parse_period


@pytest.mark.parametrize("label,prev", [("2024Q1", "2023Q4"), ("2024Q3", "2024Q2"), ("2024-01", "2023-12"),
                                        ("2024-07", "2024-06"), ("2024", "2023")])
def test_previous_period(label, prev):
    assert parse_period(label).previous().label == prev


def test_drift_flags_need_both_size_and_evidence():
    # 50% drift, assumption outside the interval: flagged
    assert rv.drift_row("attempt_cap", 6, 9, 8, 10, 0.2)["flagged"]
    # 50% drift but the interval still holds the assumption: noise, not flagged
    assert not rv.drift_row("close_rate:x", 0.01, 0.015, 0.005, 0.03, 0.2)["flagged"]
    # small drift outside a narrow interval: not flagged
    row = rv.drift_row("cost_per_call", 5.0, 5.5, np.nan, np.nan, 0.2)
    assert row["drift"] == pytest.approx(0.1) and not row["flagged"]
    # no baseline: listed, never flagged
    assert not rv.drift_row("mql_value:new", np.nan, 100, 50, 150, 0.2)["flagged"]


def test_sla_review_uses_config_cost_and_baseline():
    cfg = config_from_dict({"rep_hourly_cost": 60, "calls_per_hour": 10, "review_baseline": {"attempt_cap": 6},
                            "review_tolerance": 0.25})
    t = rv.sla_review(cfg, {"cost_per_call": (9.0, np.nan, np.nan), "attempt_cap": (7.0, 6.0, 8.0)}).set_index("figure")
    assert t.loc["cost_per_call", "assumed"] == 6.0 and t.loc["cost_per_call", "flagged"]  # +50%
    assert not t.loc["attempt_cap", "flagged"]  # +17%, inside tolerance


def test_review_due_reasons():
    t = pd.DataFrame({"figure": ["attempt_cap"], "flagged": [True]})
    due, why = rv.review_due(t, datetime(2024, 4, 1), datetime(2024, 1, 1), 6)
    assert due and why == "1 figure drifted beyond the tolerance (attempt_cap)"
    due, why = rv.review_due(t.assign(flagged=False), datetime(2024, 4, 1), datetime(2023, 7, 1), 6)
    assert due and "written 9 months before" in why
    assert rv.review_due(t.assign(flagged=False), datetime(2024, 4, 1), datetime(2024, 1, 1), 6) == (False, "")


@pytest.fixture(scope="module")
def sample_crm(sample_dir, tmp_path_factory):
    return open_crm(prepare_inputs(sample_dir, cache_root=tmp_path_factory.mktemp("cache")))


def test_trend_repeats_each_periods_own_figures(sample_crm):
    cfg = load_config(None)
    trend = rv.kpi_trend(sample_crm, cfg, parse_period("2024Q1"), 4, sample_crm.first_event_at(), sample_crm.last_event_at())
    assert list(trend.period) == ["2023Q1", "2023Q2", "2023Q3", "2023Q4", "2024Q1"]
    p = parse_period("2023Q3")
    stl = cp.speed_to_lead(sample_crm, cfg.tier_protocols, p.start_ts(), p.end_ts(), p.end_ts())
    row = trend.set_index("period").loc["2023Q3"]
    assert row.mqls == stl.mqls.sum()
    assert row.first_touch_within_window == pytest.approx(stl.set_index("tier").loc["high", "share_within"])
    # a period before the data is left out, not shown as zeros
    early = rv.kpi_trend(sample_crm, cfg, parse_period("2023Q2"), 4, sample_crm.first_event_at(), sample_crm.last_event_at())
    assert list(early.period) == ["2023Q1", "2023Q2"]


def test_review_on_the_sample_finds_the_drifted_cap(sample_crm, sample_truth):
    """The sample's SLA baseline writes a cap of 6; the data supports ~9 (truth: 9): flagged."""
    cfg = load_config(None)
    review = rv.sla_review(cfg, rv.measured_figures(sample_crm, cfg, parse_period("2024Q1"), n_boot=50)).set_index("figure")
    assert review.loc["attempt_cap", "measured"] == sample_truth["plateau"]["optimal_attempts"]
    assert review.loc["attempt_cap", "flagged"]
    assert review.loc["cost_per_call", "measured"] == pytest.approx(sample_truth["cost_per_call"], rel=0.05)
    assert not review.loc["cost_per_call", "flagged"]
