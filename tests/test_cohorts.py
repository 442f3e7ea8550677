"""Stale-lead cohorts and lead profiles, built in the engine, against hand-computed answers and the
sample generator's truth."""
from datetime import datetime

import pandas as pd
import pytest

from sla_analysis.analyses import cohorts as co
from sla_analysis.analyses.plateau import cohort_table, recommend_cap
from sla_analysis.analyses.stats import wilson_interval
from sla_analysis.config import load_config
from sla_analysis.io.engine import open_crm
from sla_analysis.io.ingest import prepare_inputs

AS_OF = datetime(2024, 4, 1)  # end of 2024Q1

# L1 stale, converted at its 2nd attempt (a call after the deal does not count), deal won for 1,000.
# L2 stale, 4 attempts, never converted: settled, not censored.
# L3 entered 30 days before AS_OF, 1 attempt, no deal: still being worked -> censored.
# L4 stale, converted at attempt 1, deal closes after AS_OF -> open as of AS_OF -> censored.
# L5 stale, one attempt before AS_OF and one after (not counted); its deal is created after AS_OF (ignored).
# L6 stale, never contacted.
# L7 entered before the look-back window: not in the cohorts.
LEADS = [
    {"lead_id": "L1", "created_at": "2023-06-01 09:00:00", "source": "webinar", "tier": "high"},
    {"lead_id": "L2", "created_at": "2023-06-02 09:00:00", "source": "webinar", "tier": "low"},
    {"lead_id": "L3", "created_at": "2024-03-02 09:00:00", "source": "demo", "tier": "high"},
    {"lead_id": "L4", "created_at": "2023-07-01 09:00:00", "source": "demo", "tier": "high"},
    {"lead_id": "L5", "created_at": "2023-08-01 09:00:00", "source": "demo", "tier": "low"},
    {"lead_id": "L6", "created_at": "2023-08-02 09:00:00", "source": "webinar", "tier": "low"},
    {"lead_id": "L7", "created_at": "2022-01-01 09:00:00", "source": "webinar", "tier": "low"},
]


def _acts(lead, times, kinds=None):
    kinds = kinds or ["call"] * len(times)
    return [{"activity_id": f"{lead}-{i}", "lead_id": lead, "occurred_at": t, "type": k}
            for i, (t, k) in enumerate(zip(times, kinds))]


ACTIVITIES = (
    _acts("L1", ["2023-06-01 10:00:00", "2023-06-03 10:00:00", "2023-06-10 10:00:00"], ["call", "email", "call"])
    + _acts("L2", ["2023-06-02 10:00:00", "2023-06-02 16:00:00", "2023-06-04 10:00:00", "2023-06-08 10:00:00"])
    + _acts("L3", ["2024-03-02 12:00:00"])
    + _acts("L4", ["2023-07-01 10:00:00"])
    + _acts("L5", ["2023-08-01 10:00:00", "2024-05-01 10:00:00"])
    + _acts("L7", ["2022-01-01 10:00:00"])
)
DEALS = [
    {"deal_id": "D1", "lead_id": "L1", "created_at": "2023-06-04 00:00:00", "stage": "won",
     "closed_at": "2023-07-01 00:00:00", "amount": "1000"},
    {"deal_id": "D4", "lead_id": "L4", "created_at": "2023-07-02 00:00:00", "stage": "won",
     "closed_at": "2024-05-01 00:00:00", "amount": "5000"},
    {"deal_id": "D5", "lead_id": "L5", "created_at": "2024-05-02 00:00:00", "stage": "won",
     "closed_at": "2024-06-01 00:00:00", "amount": "7000"},
]


@pytest.fixture
def hand_crm(crm_dir, tmp_path):
    d = crm_dir(leads=LEADS, activities=ACTIVITIES, deals=DEALS)
    return open_crm(prepare_inputs(d, as_of=datetime(2024, 7, 1), cache_root=tmp_path / "cache"))


def test_lead_table_by_hand(hand_crm):
    t = co.lead_table(hand_crm, datetime(2023, 1, 1), AS_OF, AS_OF, 120).order_by("lead_id").to_pandas()
    t = t.set_index("lead_id")
    assert list(t.index) == ["L1", "L2", "L3", "L4", "L5", "L6"]
    assert t.attempts.to_dict() == {"L1": 2, "L2": 4, "L3": 1, "L4": 1, "L5": 1, "L6": 0}
    assert t.outcome.to_dict() == {"L1": "won", "L2": "none", "L3": "none", "L4": "open", "L5": "none", "L6": "none"}
    assert t.revenue.to_dict() == {"L1": 1000.0, "L2": 0.0, "L3": 0.0, "L4": 0.0, "L5": 0.0, "L6": 0.0}
    assert t.converted.to_dict() == {"L1": True, "L2": False, "L3": False, "L4": True, "L5": False, "L6": False}
    assert t.stale.to_dict() == {"L1": True, "L2": True, "L3": False, "L4": True, "L5": True, "L6": True}
    assert t.censored.to_dict() == {"L1": False, "L2": False, "L3": True, "L4": True, "L5": False, "L6": False}


def test_lead_profiles_by_hand(hand_crm):
    prof = co.lead_profiles(hand_crm, datetime(2023, 1, 1), AS_OF, AS_OF, 120, ["tier"])
    rows = {tuple(r) for r in prof[["attempts", "converted", "won", "revenue", "censored", "tier", "weight"]].itertuples(index=False)}
    assert rows == {(2, True, True, 1000.0, False, "high", 1), (4, False, False, 0.0, False, "low", 1),
                    (1, False, False, 0.0, True, "high", 1), (1, True, False, 0.0, True, "high", 1),
                    (1, False, False, 0.0, False, "low", 1), (0, False, False, 0.0, False, "low", 1)}


def test_stale_cohorts_by_hand(hand_crm):
    cfg = load_config(None)  # stale after 120 days, 365 days look-back: window 2022-12-03 .. 2023-12-03
    c = co.stale_cohorts(hand_crm, cfg, AS_OF, tail_from=4).set_index("cohort")
    assert list(c.index) == ["0", "1", "2", "≥4"]
    assert c.leads.to_dict() == {"0": 1, "1": 2, "2": 1, "≥4": 1}  # L6 | L4, L5 | L1 | L2
    assert c.customers.to_dict() == {"0": 0, "1": 0, "2": 1, "≥4": 0}
    assert c.open_deals.to_dict() == {"0": 0, "1": 1, "2": 0, "≥4": 0}
    assert c.loc["2", "revenue"] == 1000.0 and c.loc["2", "conversion_rate"] == 1.0
    # L1: a call at 5.00 and an e-mail at 50/30; the call after its deal is not counted.
    assert c.loc["2", "attempts_cost"] == pytest.approx(5.0 + 50 / 30)
    assert c.loc["≥4", "attempts_cost"] == pytest.approx(4 * 5.0)
    assert c.loc["2", "profit_per_lead"] == pytest.approx(1000 - 5.0 - 50 / 30)
    assert c.small_sample.all()  # every cohort is below min_group_size 30
    by = co.stale_cohorts(hand_crm, cfg, AS_OF, by="tier", tail_from=4)
    assert by.groupby("tier").leads.sum().to_dict() == {"high": 2, "low": 3}


def test_attempt_gaps_by_hand(hand_crm):
    g = co.attempt_gaps(hand_crm, datetime(2023, 1, 1), AS_OF, AS_OF, tail_from=3).set_index("attempt")
    # counted gaps: L1 48 h; L2 6 h, 42 h, 96 h
    assert g.loc["all", "gaps"] == 4 and g.loc["all", "median_hours"] == pytest.approx(45.0)
    assert g.loc["2", "gaps"] == 2 and g.loc["2", "median_hours"] == pytest.approx(27.0)
    assert g.loc["≥3", "gaps"] == 2 and g.loc["≥3", "median_hours"] == pytest.approx(69.0)



def test_counted_attempts_without_numbering_are_the_same_attempts(hand_crm):
    """``numbered=False`` (used where attempts are only counted) drops the numbering, not attempts."""
    numbered = co.counted_attempts(hand_crm, datetime(2023, 1, 1), AS_OF, AS_OF)
    plain = co.counted_attempts(hand_crm, datetime(2023, 1, 1), AS_OF, AS_OF, numbered=False)
    assert "attempt_number" in numbered.columns and "attempt_number" not in plain.columns
    ids = sorted(plain.activity_id.to_pyarrow().to_pylist())
    assert ids == sorted(numbered.activity_id.to_pyarrow().to_pylist()) and len(ids) == 9

def test_tail_start():
    counts = pd.Series({1: 500, 2: 400, 3: 40, 4: 10, 5: 31, 6: 3, 7: 1})
    assert co.tail_start(counts, 30) == 6
    assert co.tail_start(pd.Series({1: 5}), 30) == 2
    assert co.tail_start(pd.Series({k: 100 for k in range(1, 40)}), 30, max_cohort=20) == 21


def test_stale_cohorts_match_the_generated_events(sample_crm, sample_dir):
    """The engine's cohorts against a pandas count on the raw generated tables."""
    cfg = load_config(None)
    leads = pd.read_parquet(sample_dir / "leads.parquet")
    acts = pd.read_parquet(sample_dir / "activities.parquet")
    deals = pd.read_parquet(sample_dir / "deals.parquet")
    start, stop = co.cohort_window(AS_OF, cfg.stale_after_days, cfg.lookback_days)
    stale = leads[(leads.mql_at >= start) & (leads.mql_at < stop)]
    first_deal = deals[deals.created_at < AS_OF].groupby("lead_id").created_at.min()
    a = acts[acts.lead_id.isin(stale.lead_id) & (acts.occurred_at < AS_OF)]
    a = a[~(a.occurred_at > a.lead_id.map(first_deal))]
    n = a.groupby("lead_id").size().reindex(stale.lead_id, fill_value=0)
    won = deals[(deals.stage == "won") & (deals.closed_at < AS_OF)].groupby("lead_id").amount.sum()
    c = co.stale_cohorts(sample_crm, cfg, AS_OF, tail_from=100).set_index("cohort")
    expected = n.value_counts().sort_index()
    assert c.leads.to_dict() == {str(k): v for k, v in expected.items()}
    assert c.revenue.sum() == pytest.approx(won.reindex(stale.lead_id).sum())
    assert c.attempts.sum() == len(a)


def test_sample_cap_lies_in_the_truths_2pct_band(sample_crm, sample_truth):
    """Done-when of the plateau issue: on the bundled sample the recommended cap is within the
    generator's true optimum's 2% profit band, and the interval covers the optimum."""
    cfg = load_config(None)
    start, _ = co.cohort_window(AS_OF, cfg.stale_after_days, cfg.lookback_days)
    cov = co.plateau_covariates(sample_crm)
    prof = co.lead_profiles(sample_crm, start, AS_OF, AS_OF, cfg.stale_after_days, cov)
    cost = co.attempt_mix_cost(co.attempt_types(sample_crm, cfg, start, AS_OF, AS_OF))
    assert cost == pytest.approx(sample_truth["cost_per_attempt_used_for_plateau"], rel=0.03)
    rec = recommend_cap(prof[prof.attempts >= 1], cost, cov, n_boot=100, seed=1)
    lo, hi = sample_truth["plateau"]["band_2pct"]
    assert lo <= rec.recommended_attempts <= hi
    assert rec.ci_low <= sample_truth["plateau"]["optimal_attempts"] <= rec.ci_high
    assert not rec.at_support_edge
    true_profit = sample_truth["plateau"]["optimal_profit_per_lead"]
    assert rec.expected_profit_per_lead == pytest.approx(true_profit, rel=0.2)
    # the censored leads (still worked) are there and counted as such
    assert prof.weight[prof.censored].sum() > 0 and prof.weight[~prof.stale & ~prof.censored].sum() > 0


def test_seeds_cohort_table_uses_the_stale_cohort_pages_conversion_rate(sample_crm):
    """One definition of a cohort's conversion rate: customers / leads, the same number on the
    stale-cohort page (01) and in the seeds' cohort table of the attempt-cap page (03)."""
    cfg = load_config(None)
    profiles, cov, cost, _ = co.plateau_history(sample_crm, cfg, AS_OF)
    contacted = profiles[profiles.attempts >= 1]
    seeds = cohort_table(contacted[contacted.stale], cost).set_index("attempts")
    page01 = co.stale_cohorts(sample_crm, cfg, AS_OF, tail_from=100).set_index("cohort")
    for n, row in seeds.iterrows():
        assert row.leads == page01.loc[str(n), "leads"]
        assert row.customers == page01.loc[str(n), "customers"]
        assert row.conversion_rate == pytest.approx(page01.loc[str(n), "conversion_rate"])
    # customers, not opportunities: the deals that were not won do not count
    assert (seeds.conversions >= seeds.customers).all() and (seeds.conversions > seeds.customers).any()


def test_never_contacted_sentence_mentions_pooling_only_when_there_is_a_pooled_bar():
    never_contacted_sentence = co.never_contacted_sentence
    pooled = pd.DataFrame({"cohort_order": [0, 1, 2], "cohort": ["0", "1", "≥2"], "leads": [25, 50, 25]})
    assert never_contacted_sentence(pooled) == "**25 stale leads (25.0%)** were never contacted; the last bar (≥2) pools the rare long groups."
    whole = pooled.assign(cohort=["0", "1", "2"])
    assert never_contacted_sentence(whole) == "**25 stale leads (25.0%)** were never contacted."


def test_the_sentence_under_a_group_chart_names_the_extremes_and_whether_they_differ():
    groups = pd.DataFrame({"source": ["webinar", "contact sales", "tradeshow", "white paper"],
                           "leads": [1000, 400, 20, 900], "customers": [20, 40, 10, 15]})
    groups["conversion_rate"] = groups.customers / groups.leads
    lows, highs = zip(*(wilson_interval(c, n) for c, n in zip(groups.customers, groups.leads)))
    groups["conversion_rate_low"], groups["conversion_rate_high"] = [float(x) for x in lows], [float(x) for x in highs]
    groups["small_sample"] = groups.leads < 30
    text = co.group_sentence(groups, "source")
    # tradeshow (10 of 20) is too small to rank; contact sales (10%) first, white paper (1.7%) last, apart
    assert text.startswith("Of the sources, **contact sales** leads became customers most often (10.0% of 400 leads")
    assert "**white paper** least often (1.7% of 900 leads" in text and "the data separates the two" in text
    close = groups.assign(customers=[20, 9, 10, 17])
    close["conversion_rate"] = close.customers / close.leads
    lows, highs = zip(*(wilson_interval(c, n) for c, n in zip(close.customers, close.leads)))
    close["conversion_rate_low"], close["conversion_rate_high"] = [float(x) for x in lows], [float(x) for x in highs]
    alike = co.group_sentence(close, "source")
    assert alike.startswith("The sources became customers alike, from 1.9% to 2.2% of their leads") and "**" not in alike
    assert co.group_sentence(groups[groups.source == "webinar"], "source") == ""  # nothing to compare


OUTCOMES = {"L1-0": "connected", "L1-1": "sent", "L1-2": "connected", "L2-0": "no_answer", "L2-1": "Connected",
            "L2-2": "no_answer", "L2-3": "connected", "L3-0": "voicemail", "L4-0": "connected", "L5-0": "no_answer",
            "L5-1": "connected", "L7-0": "connected"}


def test_connected_at_counts_attempts_up_to_the_first_call_that_reached_the_lead(crm_dir, tmp_path):
    acts = [{**a, "outcome": OUTCOMES[a["activity_id"]]} for a in ACTIVITIES]
    crm = open_crm(prepare_inputs(crm_dir(leads=LEADS, activities=acts, deals=DEALS), as_of=datetime(2024, 7, 1),
                                  cache_root=tmp_path / "cache"))
    assert co.reached_recorded(crm)
    prof = co.lead_profiles(crm, datetime(2023, 1, 1), AS_OF, AS_OF, 120, ["tier"], reached=True)
    rows = {(r.attempts, r.converted, r.censored, r.connected_at) for r in prof.itertuples()}
    # L1 reached at its 1st call, L2 ("Connected" is read as connected) at its 2nd, L3 never, L4 at its
    # only attempt, L5 only by a call after the data end (not counted), L6 never contacted
    assert rows == {(2, True, False, 1), (4, False, False, 2), (1, False, True, 0), (1, True, True, 1),
                    (1, False, False, 0), (0, False, False, 0)}
    assert prof.weight.sum() == 6
    # without outcomes the profiles have no such column and the cap reads one state
    assert "connected_at" not in co.lead_profiles(crm, datetime(2023, 1, 1), AS_OF, AS_OF, 120, ["tier"]).columns


def test_no_reached_column_without_call_outcomes(hand_crm):
    assert not co.reached_recorded(hand_crm)
