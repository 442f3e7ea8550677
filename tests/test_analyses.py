"""Cost per call and lead value, computed in the engine, against independent computations."""
from datetime import datetime

import numpy as np
import pandas as pd
import pytest

from sla_analysis.analyses import cost
from sla_analysis.analyses import lead_value as lv
from sla_analysis.config import load_config
from sla_analysis.io.engine import open_crm
from sla_analysis.io.ingest import prepare_inputs


@pytest.fixture(scope="module")
def big_crm(big_sample_dir, tmp_path_factory):
    return open_crm(prepare_inputs(big_sample_dir, cache_root=tmp_path_factory.mktemp("cache")))


def test_dialling_pace_from_timestamps(crm_dir, tmp_path):
    t0 = pd.Timestamp("2024-01-02 10:00:00")
    gaps = [0, 360, 720, 1080, 1080 + 3600]  # three 6-minute gaps, then an hour's break (not a session gap)
    acts = [{"activity_id": f"A{i}", "lead_id": "L1", "occurred_at": str(t0 + pd.Timedelta(seconds=s)),
             "type": "call", "rep_id": "r1"} for i, s in enumerate(gaps)]
    acts.append({"activity_id": "E1", "lead_id": "L2", "occurred_at": "2024-01-02 10:03:00", "type": "email", "rep_id": "r1"})
    deal_fields = ["deal_id", "lead_id", "created_at", "stage"]  # header only: no deals
    crm = open_crm(prepare_inputs(crm_dir(activities=acts, deals=[], deal_fields=deal_fields), as_of=datetime(2025, 1, 1), cache_root=tmp_path / "c"))
    pace = cost.measured_pace(crm, datetime(2024, 1, 1), datetime(2024, 2, 1))
    overall = pace.iloc[-1]
    assert overall.session_gaps == 3 and overall.mean_gap_s == 360 and overall.calling_seconds == 1080
    assert overall.calls_per_hour_dialling == pytest.approx(10.0)
    assert np.isnan(overall.calls_per_hour_dialling_low)  # one rep: no interval across reps
    # 6 attempts in 2 clock hours (10:xx and 11:xx)
    assert overall.attempts_per_active_hour == pytest.approx(3.0)
    by_type = cost.attempts_by_type(crm, load_config(), datetime(2024, 1, 1), datetime(2024, 2, 1))
    assert dict(zip(by_type.type, by_type.attempts)) == {"call": 5, "email": 1}
    # blended: (5 x $5 + 1 x $50/30) / 6
    assert cost.blended_cost_per_attempt(by_type) == pytest.approx((5 * 5 + 50 / 30) / 6)


def test_the_pace_is_calling_time_over_calls_not_the_median_gap():
    """Quick unanswered calls (3.75 minutes) outnumber conversations (15 minutes), and each call's
    slot runs until the next: the mean gap gives the true 10 calls an hour, the median gap 16. The
    interval, reps as clusters, covers the truth."""
    rng = np.random.default_rng(4)
    gaps = {r: np.where(rng.random(400) < 0.2, 900.0, 225.0) for r in ("r1", "r2", "r3")}
    g = np.array([len(v) for v in gaps.values()], dtype=float)
    s = np.array([v.sum() for v in gaps.values()])
    pace = 3600 * g.sum() / s.sum()
    assert pace == pytest.approx(3600 / np.mean(np.concatenate(list(gaps.values()))))
    assert 3600 / np.median(np.concatenate(list(gaps.values()))) == 16.0
    lo, hi = cost.pace_interval(g, s, 0.95)
    assert lo < 10 < hi and lo < pace < hi  # three reps: a t with 2 degrees of freedom, honestly wide
    assert np.isnan(cost.pace_interval(g[:1], s[:1])[0])
    # two reps far apart (10 and 20 calls an hour): a wide interval, both ends positive and finite
    lo, hi = cost.pace_interval(np.array([10.0, 20.0]), np.array([3600.0, 3600.0]))
    assert 0 < lo < 15 < hi < np.inf  # t with 1 degree of freedom: honestly wide, never negative


def test_no_rep_ids_means_no_measured_pace(crm_dir, tmp_path):
    crm = open_crm(prepare_inputs(crm_dir(), as_of=datetime(2025, 1, 1), cache_root=tmp_path / "c"))
    assert cost.measured_pace(crm, datetime(2024, 1, 1), datetime(2024, 2, 1)).empty


def test_source_funnel_matches_pandas(sample_crm, sample_dir):
    """Outcomes as known at ``as_of`` (no look-ahead): deals created before it, won if closed before it."""
    start, stop, as_of = datetime(2023, 3, 1), datetime(2023, 11, 1), datetime(2024, 1, 15)
    got = lv.source_funnel(sample_crm, start, stop, as_of).set_index("source")
    leads = pd.read_parquet(sample_dir / "leads.parquet")
    deals = pd.read_parquet(sample_dir / "deals.parquet")
    m = leads[(leads.mql_at >= start) & (leads.mql_at < stop)]
    deals = deals[deals.created_at < as_of]
    won = deals[(deals.stage == "won") & (deals.closed_at < as_of)]
    later = lv.source_funnel(sample_crm, start, stop, datetime(2030, 1, 1)).set_index("source")
    assert (later.customers >= got.customers).all() and later.customers.sum() > got.customers.sum()
    for source, grp in m.groupby("source"):
        assert got.loc[source, "mqls"] == len(grp)
        assert got.loc[source, "customers"] == grp.lead_id.isin(won.lead_id).sum()
        assert got.loc[source, "opportunities"] == grp.lead_id.isin(deals.lead_id).sum()
        assert got.loc[source, "revenue"] == pytest.approx(won[won.lead_id.isin(grp.lead_id)].amount.sum())


@pytest.mark.slow  # 120,000 leads: enough power to test the truth within 3 standard errors
def test_mql_values_recover_the_truth(big_crm, big_sample_dir):
    """Each source's value per MQL is within 3 standard errors of the generator's truth, and the
    truth lies inside most of the 95% intervals."""
    import json
    truth = json.loads((big_sample_dir / "truth.json").read_text())["mql_value_by_source"]
    values = lv.mql_value_by_group(lv.source_funnel(big_crm, datetime(2023, 1, 1), datetime(2024, 6, 1), datetime(2030, 1, 1)))
    inside = 0
    for r in values.itertuples():
        se_log = (np.log(r.mql_value_high) - np.log(r.mql_value_low)) / (2 * 1.959964)
        assert abs(np.log(r.mql_value) - np.log(truth[r.source])) < 3 * se_log, r.source
        inside += r.mql_value_low <= truth[r.source] <= r.mql_value_high
    assert inside >= 4


def test_delivered_value_fills_empty_months():
    monthly = pd.DataFrame({"month": ["2024-01", "2024-01"], "source": ["a", "b"], "mqls": [10, 2]})
    values = pd.DataFrame({"source": ["a", "b"], "mql_value": [100.0, 1000.0]})
    out = lv.delivered_value(monthly, values, ["2024-01", "2024-02"], target=4000)
    assert out.value.tolist() == [3000.0, 0.0]
    assert out.share_of_target.tolist() == [0.75, 0.0]


def test_delivered_value_leaves_months_without_data_blank(sample_crm):
    """A month after the export's last new lead is blank, not 0 delivered (the sample's attempts and
    deals run on for months after its last lead: they say nothing of MQLs); a month it reaches is counted."""
    leads = sample_crm.leads
    last_lead = max(leads.created_at.max().execute(), leads.mql_at.max().execute())  # a lead created, or made an MQL
    end = pd.Timestamp(last_lead.date()) + pd.Timedelta(days=1)
    assert end < pd.Timestamp(sample_crm.last_event_at())
    months = pd.period_range(end.to_period("M") - 2, end.to_period("M") + 3, freq="M")
    monthly = lv.mqls_by_month(sample_crm, months[0].start_time.to_pydatetime(), (months[-1] + 1).start_time.to_pydatetime())
    reached = [str(m) for m in months if m.start_time < end]
    assert monthly.attrs["months_with_data"] == reached and len(reached) < len(months)
    values = pd.DataFrame({"source": sorted(set(monthly.source) | {"x"}), "mql_value": 100.0})
    out = lv.delivered_value(monthly, values, [str(m) for m in months], target=1000.0)
    assert out.loc[~out.month.isin(reached), ["mqls", "value"]].isna().all().all()
    assert out.loc[out.month.isin(reached), "mqls"].notna().all()
