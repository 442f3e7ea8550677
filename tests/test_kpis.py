"""Shared SLA KPIs: exact answers on a hand-built CRM (with and without optional columns, and for an
empty period), and on the sample CRM independent pandas computations on the generated tables plus
the generator's analytic truth."""
from datetime import datetime, timedelta

import ibis
import numpy as np
import pandas as pd
import pytest

from sla_analysis.analyses import kpis as k
from sla_analysis.analyses.stats import mean_interval, shrunk_rates, wilson_interval
from sla_analysis.io.sample import SOURCES
from tests.helpers import only_required_columns, open_export

FEB, APR = datetime(2024, 2, 1), datetime(2024, 4, 1)  # the period: February and March 2024
AS_OF = APR

# L1 Jan MQL, SQL 02-05 (sql_at), deal won 03-15.      L2 Jan MQL, never SQL, not marketing-sourced.
# L3 Feb MQL, SQL 02-10, deal lost.                     L4 Feb MQL, no sql_at: SQL = its deal 03-01.
# L5 not an MQL.                                        L6 Mar MQL, SQL 03-20, two deals (one without amount).
# L7 Mar MQL, still open.                               L8 Mar MQL, SQL 04-10: after AS_OF.
# L9 an old MQL (Oct 2023), out of every window.        L10 no owner, not an MQL.
LEADS = [
    dict(lead_id="L1", created_at="2024-01-10 00:00:00", mql_at="2024-01-11 00:00:00", sql_at="2024-02-05 00:00:00",
         owner_id="s1", marketing_sourced="true", score="80"),
    dict(lead_id="L2", created_at="2024-01-20 00:00:00", mql_at="2024-01-20 12:00:00", sql_at="",
         owner_id="s1", marketing_sourced="false", score="40"),
    dict(lead_id="L3", created_at="2024-02-03 00:00:00", mql_at="2024-02-04 00:00:00", sql_at="2024-02-10 00:00:00",
         owner_id="s1", marketing_sourced="true", score="70"),
    dict(lead_id="L4", created_at="2024-02-15 00:00:00", mql_at="2024-02-16 00:00:00", sql_at="",
         owner_id="s2", marketing_sourced="true", score="90"),
    dict(lead_id="L5", created_at="2024-02-20 00:00:00", mql_at="", sql_at="",
         owner_id="s2", marketing_sourced="true", score="20"),
    dict(lead_id="L6", created_at="2024-03-05 00:00:00", mql_at="2024-03-05 00:00:00", sql_at="2024-03-20 00:00:00",
         owner_id="s2", marketing_sourced="true", score="60"),
    dict(lead_id="L7", created_at="2024-03-10 00:00:00", mql_at="2024-03-11 00:00:00", sql_at="",
         owner_id="s1", marketing_sourced="", score="59"),
    dict(lead_id="L8", created_at="2024-03-25 00:00:00", mql_at="2024-03-26 00:00:00", sql_at="2024-04-10 00:00:00",
         owner_id="s2", marketing_sourced="true", score=""),
    dict(lead_id="L9", created_at="2023-10-01 00:00:00", mql_at="2023-10-02 00:00:00", sql_at="",
         owner_id="s1", marketing_sourced="true", score=""),
    dict(lead_id="L10", created_at="2024-03-15 00:00:00", mql_at="", sql_at="",
         owner_id="", marketing_sourced="", score=""),
]
for _row in LEADS:
    _row["source"] = "webinar"


def _act(aid, lead, at, kind="call", outcome="", duration=""):
    return dict(activity_id=aid, lead_id=lead, occurred_at=at, type=kind, outcome=outcome, duration_s=duration)


ACTIVITIES = [
    _act("A1", "L1", "2024-01-11 10:00:00", outcome="no_answer", duration="20"),
    _act("A2", "L1", "2024-01-15 10:00:00", outcome="connected", duration="300"),
    _act("A3", "L1", "2024-02-05 00:00:00", outcome="connected", duration="600"),  # the SQL moment: counts
    _act("A4", "L1", "2024-02-07 10:00:00", kind="email", outcome="sent"),           # after the SQL
    _act("A5", "L3", "2024-02-04 12:00:00", outcome="voicemail", duration="30"),
    _act("A6", "L3", "2024-02-10 00:00:00", outcome="connected", duration="100"),    # connected, too short
    _act("A7", "L4", "2024-02-17 10:00:00", outcome="connected"),                    # no duration
    _act("A8", "L4", "2024-02-20 10:00:00", kind="email", outcome="sent"),
    _act("A9", "L4", "2024-03-01 00:00:00", outcome="connected", duration="200"),   # = first deal's creation
    _act("A10", "L7", "2024-03-12 10:00:00", outcome="no_answer", duration="15"),
    _act("A11", "L7", "2024-03-13 10:00:00"),                                        # no outcome
    _act("A12", "L2", "2024-01-21 10:00:00", outcome="no_answer", duration="10"),
    _act("A13", "L8", "2024-03-27 10:00:00", outcome="connected", duration="150"),
    _act("A14", "L8", "2024-04-05 10:00:00", outcome="connected", duration="400"),  # after the period
]


def _deal(did, lead, created, stage, closed="", amount="", proposal=""):
    return dict(deal_id=did, lead_id=lead, created_at=created, stage=stage, closed_at=closed, amount=amount,
                proposal_at=proposal)


DEALS = [
    _deal("D1", "L1", "2024-02-06 00:00:00", "won", "2024-03-15 00:00:00", "10000", "2024-02-20 00:00:00"),
    _deal("D3", "L3", "2024-02-12 00:00:00", "lost", "2024-03-10 00:00:00", "4000", "2024-02-25 00:00:00"),
    _deal("D4", "L4", "2024-03-01 00:00:00", "won", "2024-04-15 00:00:00", "6000", "2024-03-20 00:00:00"),
    _deal("D6", "L6", "2024-03-22 00:00:00", "open", "", "2000"),
    _deal("D6b", "L6", "2024-03-25 00:00:00", "lost", "2024-03-28 00:00:00", ""),
    _deal("D8", "L8", "2024-04-12 00:00:00", "won", "2024-04-20 00:00:00", "5000"),
]


def _open(folder, leads=LEADS, activities=ACTIVITIES, deals=DEALS):
    return open_export(folder, leads, activities, deals)


@pytest.fixture(scope="module")
def hand_crm(tmp_path_factory):
    return _open(tmp_path_factory.mktemp("kpi-hand"))


@pytest.fixture(scope="module")
def bare_crm(tmp_path_factory):
    """The same export with only the required columns."""
    return _open(tmp_path_factory.mktemp("kpi-bare"), *only_required_columns(LEADS, ACTIVITIES, DEALS))


# --------------------------------------------------------------------------- hand-built CRM

def test_month_grid_and_n_months():
    g = k.month_grid(datetime(2024, 2, 10), datetime(2024, 4, 1), previous_months=1)
    assert list(g.month) == ["2024-01", "2024-02", "2024-03"]
    assert list(g.in_period) == [False, True, True] and list(g.partial) == [False, True, False]
    assert g.days.tolist() == [31.0, 20.0, 31.0]
    assert k.n_months(FEB, APR) == 2.0
    assert k.n_months(datetime(2024, 1, 1), datetime(2024, 1, 16)) == pytest.approx(15 / (365.25 / 12))
    assert k.n_months(APR, APR) == 0.0 and len(k.month_grid(APR, APR)) == 0


def test_monthly_counts_by_hand(hand_crm):
    m = k.monthly_counts(hand_crm, FEB, APR, qualified_min_score=60).set_index("month")
    assert list(m.index) == ["2024-01", "2024-02", "2024-03"]
    assert m.in_period.tolist() == [False, True, True]
    expected = {
        "leads_sourced": [2, 3, 4],
        "leads_marketing_sourced": [1, 3, 4],  # L2 is not; an empty value counts as marketing-sourced
        "qualified_leads": [1, 2, 1],          # score >= 60: L1 | L3, L4 | L6
        "mqls_created": [2, 2, 3],
        "mqls_managed": [2, 4, 4],             # L1 L2 | L1 L2 L3 L4 | L2 L6 L7 L8 (L4 left at 03-01 00:00)
        "sqls": [0, 2, 2],                     # L1 L3 | L4 (its deal) L6; L8's is in April
        "opportunities": [0, 2, 3],
        "proposals": [0, 2, 1],
        "won_deals": [0, 0, 1],
        "won_revenue": [0, 0, 10000],
    }
    for col, values in expected.items():
        assert m[col].tolist() == values, col
    assert "sql_at" in m.attrs["notes"]["sqls"]
    # without a score threshold there is no qualified-lead count, and the reason says so
    m2 = k.monthly_counts(hand_crm, FEB, APR)
    assert m2.qualified_leads.isna().all() and "qualified" in m2.attrs["notes"]["qualified_leads"]
    # a shorter active window: L2 (MQL 01-20 12:00) is no longer managed in March with 40 days
    m3 = k.monthly_counts(hand_crm, FEB, APR, active_days=40).set_index("month")
    assert m3.mqls_managed.tolist() == [2, 4, 3]


def test_lead_velocity_rate_by_hand(hand_crm):
    m = k.monthly_counts(hand_crm, FEB, APR)
    lvr = k.lead_velocity_rate(m).set_index("month")
    assert list(lvr.index) == ["2024-02", "2024-03"]
    assert lvr.lvr_raw.tolist() == [0.0, 0.5]  # (2 - 2) / 2, (3 - 2) / 2
    # per day: February has 29 days, January and March 31
    assert lvr.lvr.tolist() == pytest.approx([(2 / 29) / (2 / 31) - 1, (3 / 31) / (2 / 29) - 1])
    lo, hi = wilson_interval(3, 5)
    assert lvr.loc["2024-03", "lvr_low"] == pytest.approx(lo / (1 - lo) * 29 / 31 - 1)
    assert lvr.loc["2024-03", "lvr_high"] == pytest.approx(hi / (1 - hi) * 29 / 31 - 1)
    # the data ends on 15 March: March is 14 days long, not a month of zeros
    cut = k.lead_velocity_rate(m, data_end=datetime(2024, 3, 15)).set_index("month")
    assert cut.loc["2024-03", "days"] == 14 and cut.loc["2024-03", "lvr"] == pytest.approx((3 / 14) / (2 / 29) - 1)
    # a month entirely after the data: no figure, not -100%
    after = k.lead_velocity_rate(k.monthly_counts(hand_crm, FEB, datetime(2024, 5, 1)), data_end=APR).set_index("month")
    assert np.isnan(after.loc["2024-04", "lvr"]) and after.loc["2024-04", "note"] == "after the end of the data"
    # a month after an empty month has no rate
    frame = pd.DataFrame({"month": ["2024-01", "2024-02", "2024-04"], "mqls_created": [0, 4, 5]})
    out = k.lead_velocity_rate(frame).set_index("month")
    assert np.isnan(out.loc["2024-01", "lvr"]) and np.isnan(out.loc["2024-02", "lvr"])
    assert out.loc["2024-02", "note"] == "no MQLs the month before"
    assert np.isnan(out.loc["2024-04", "lvr"])  # March missing: not consecutive


def test_funnel_rates_by_hand(hand_crm):
    f = k.funnel_rates(hand_crm, FEB, APR, AS_OF, settled_start=datetime(2024, 1, 1), settled_stop=FEB)
    got = {(r.cohort, r.metric): (r.successes, r.n) for r in f.itertuples()}
    assert got == {
        # period MQLs L3 L4 L6 L7 L8; L8's SQL is after AS_OF; D4 closes after AS_OF (open); D3, D6b lost
        ("period", "mql_to_sql"): (3, 5), ("period", "mql_to_opportunity"): (3, 5),
        ("period", "mql_to_proposal"): (2, 5), ("period", "mql_to_won"): (0, 5),
        ("period", "deal_win_rate"): (0, 2),
        # settled (January) MQLs L1 L2
        ("settled", "mql_to_sql"): (1, 2), ("settled", "mql_to_opportunity"): (1, 2),
        ("settled", "mql_to_proposal"): (1, 2), ("settled", "mql_to_won"): (1, 2),
        ("settled", "deal_win_rate"): (1, 1),
    }
    row = f[(f.cohort == "period") & (f.metric == "mql_to_sql")].iloc[0]
    lo, hi = wilson_interval(3, 5)
    assert row.rate == pytest.approx(0.6) and row.rate_low == pytest.approx(lo) and row.rate_high == pytest.approx(hi)
    assert row.not_yet_sql == 2 and bool(row.small_sample)
    # as of a later date D4 (closed 04-15) and D8 (L8's deal, closed 04-20) are won
    later = k.funnel_rates(hand_crm, FEB, APR, datetime(2024, 5, 1)).set_index("metric")
    assert later.loc["mql_to_won", "successes"] == 2 and later.loc["mql_to_sql", "successes"] == 4


def test_contact_rates_by_hand(hand_crm):
    c = k.contact_rates(hand_crm, FEB, APR).set_index("metric")
    # calls in Feb-Mar: A3 A5 A6 A7 A9 A10 A11 A13; with an outcome: all but A11;
    # connected: A3 A6 A7 A9 A13; >= 120 s: A3 (600) A9 (200) A13 (150)
    assert (c.calls == 8).all() and (c.connected_no_duration == 1).all()
    assert (c.loc["contact_rate", "successes"], c.loc["contact_rate", "n"]) == (5, 7)
    assert (c.loc["conversation_rate", "successes"], c.loc["conversation_rate", "n"]) == (3, 7)
    assert (c.loc["conversations_per_connect", "successes"], c.loc["conversations_per_connect", "n"]) == (3, 5)
    lo, hi = wilson_interval(5, 7)
    assert c.loc["contact_rate", "rate"] == pytest.approx(5 / 7)
    assert c.loc["contact_rate", "rate_low"] == pytest.approx(lo)
    assert c.loc["contact_rate", "rate_high"] == pytest.approx(hi)
    c300 = k.contact_rates(hand_crm, FEB, APR, conversation_seconds=300).set_index("metric")
    assert c300.loc["conversation_rate", "successes"] == 1


def test_attempts_and_time_to_sql_by_hand(hand_crm):
    a = k.attempts_to_sql(hand_crm, FEB, APR, AS_OF)
    # L3: A5 A6 (the converting call at the SQL moment counts) = 2; L4: A7 A8 A9 = 3; L6: none = 0
    assert (a["n"], a["mqls"], a["not_yet_sql"], a["zero_attempts"]) == (3, 5, 2, 1)
    assert a["mean"] == pytest.approx(5 / 3) and a["median"] == 2.0 and a["p90"] == pytest.approx(2.8)
    _, lo, hi = mean_interval(5, 13, 3)
    assert (a["mean_low"], a["mean_high"]) == (pytest.approx(float(lo)), pytest.approx(float(hi)))
    t = k.mql_to_sql_time(hand_crm, FEB, APR, AS_OF)
    # L3 6 days, L4 14 days (2024-02-16 -> 03-01, a leap year), L6 15 days
    assert t["n"] == 3 and t["median_days"] == pytest.approx(14.0) and t["p90_days"] == pytest.approx(14.8)
    assert t["mean_days"] == pytest.approx(35 / 3) and t["sql_before_mql"] == 0
    # with the MQLs not yet SQL followed to the end of the data (L8 6 days, L7 21 days, censored):
    # S(6) = 4/5, S(14) = 4/5 x 2/3, S(15) = 4/15 -> F(H) = 11/15; half of it (0.37) is passed at 14 days
    assert t["km_share_sql"] == pytest.approx(11 / 15) and t["km_horizon_days"] == pytest.approx(21.0)
    assert t["km_median_days"] == pytest.approx(14.0)
    # as of 03-10, L6 censored at 5 days leaves the risk set before L3's 6: S(6) = 1/2, S(14) = 0
    mid = k.mql_to_sql_time(hand_crm, FEB, APR, datetime(2024, 3, 10))
    assert mid["km_share_sql"] == pytest.approx(1.0) and mid["km_median_days"] == pytest.approx(6.0)
    # as of 02-08 the only MQL so far (L3) is not an SQL yet: no figure, not 0
    early = k.mql_to_sql_time(hand_crm, FEB, APR, datetime(2024, 2, 8))
    assert early["n"] == 0 and np.isnan(early["km_median_days"])


def test_sql_value_by_hand(hand_crm):
    v = k.sql_value(hand_crm, FEB, APR, AS_OF, settled_start=FEB, settled_stop=datetime(2024, 2, 15))
    # SQLs in Feb-Mar: L1 (D1 10,000), L3 (D3 4,000), L4 (D4 6,000), L6 (D6 2,000 + D6b without amount)
    assert (v["sqls"], v["deals"], v["sqls_without_deal"], v["deals_without_amount"]) == (4, 5, 0, 1)
    assert v["value"] == 22_000 and v["value_per_sql"] == pytest.approx(5_500)
    _, lo, hi = mean_interval(22_000, 1e8 + 16e6 + 36e6 + 4e6, 4)
    assert v["value_per_sql_low"] == pytest.approx(float(lo)) and v["value_per_sql_high"] == pytest.approx(float(hi))
    assert v["won_value"] == 10_000  # D4 is won only after AS_OF
    # settled SQLs L1 (won 10,000) and L3 (lost): 5,000 won per SQL -> 4 x 5,000
    assert v["settled_sqls"] == 2 and v["won_revenue_per_settled_sql"] == pytest.approx(5_000)
    assert v["expected_value"] == pytest.approx(20_000)
    _, lo, hi = mean_interval(10_000, 1e8, 2)
    assert v["expected_value_low"] == pytest.approx(4 * float(lo))


def test_sdr_capacity_by_hand(hand_crm):
    c = k.sdr_capacity(hand_crm, FEB, APR, AS_OF, active_days=90, active_mqls_band=(2, 3),
                       qualified_leads_band=(1, 1), sqls_band=(1, None)).set_index("owner_id")
    # open (created since 2024-01-02, not converted by AS_OF): s1 L2 L7, s2 L5 L8, (none) L10
    # active MQLs: s1 L2 L7, s2 L8 (L8's SQL is after AS_OF); SQLs in Feb-Mar: s1 L1 L3, s2 L4 L6
    assert list(c.index) == ["(none)", "s1", "s2"]
    assert c.open_leads.to_dict() == {"(none)": 1, "s1": 2, "s2": 2}
    assert c.active_mqls.to_dict() == {"(none)": 0, "s1": 2, "s2": 1}
    assert c.sqls.to_dict() == {"(none)": 0, "s1": 2, "s2": 2}
    assert c.sqls_per_month.to_dict() == {"(none)": 0.0, "s1": 1.0, "s2": 1.0}
    assert c.active_mqls_flag.to_dict() == {"(none)": "", "s1": "within", "s2": "under"}
    assert c.open_leads_flag.to_dict() == {"(none)": "", "s1": "over", "s2": "over"}
    assert c.sqls_flag.to_dict() == {"(none)": "", "s1": "within", "s2": "within"}
    assert list(k.band_flag([149, 150, 200, 201, np.nan], 150, 200)) == ["under", "within", "within", "over", ""]


def test_sdr_headcount_needed():
    h = k.sdr_headcount_needed(125, active_mqls=525)  # seed 004's goal grid: 125 MQLs created, 525 managed
    assert h["sqls_needed_per_month"] == pytest.approx(10.0)
    assert h["sdrs_by_sql_output"] == pytest.approx(10 / 15) and h["sdrs_by_sql_output_rounded_up"] == 1
    assert h["mqls_per_sdr_per_month"] == pytest.approx(187.5)
    assert h["sdrs_by_active_mqls_low"] == pytest.approx(2.625) and h["sdrs_by_active_mqls_high"] == pytest.approx(3.5)
    assert h["sdrs_by_active_mqls_rounded_up"] == (3.0, 4.0)
    assert np.isnan(k.sdr_headcount_needed(125)["sdrs_by_active_mqls_low"])
    assert k.sdr_headcount_needed(1500, 0.08, 15)["sdrs_by_sql_output_rounded_up"] == 8


def test_goals_vs_actuals_by_hand(hand_crm):
    m = k.monthly_counts(hand_crm, FEB, APR)
    g = k.goals_vs_actuals(m, {"leads_sourced": 3, "mqls_managed": 4, "sqls": 0, "qualified_leads": 5})
    g = g.set_index(["goal", "month"])
    assert g.loc[("leads_sourced", "2024-03"), "share_of_goal"] == pytest.approx(4 / 3)
    assert g.loc[("leads_sourced", "total"), ["actual", "target"]].tolist() == [7, 6]
    assert g.loc[("mqls_managed", "total"), ["actual", "target", "share_of_goal"]].tolist() == [4, 4, 1]
    assert np.isnan(g.loc[("sqls", "2024-02"), "share_of_goal"]) and g.loc[("sqls", "2024-02"), "gap"] == 2
    assert np.isnan(g.loc[("qualified_leads", "2024-02"), "actual"])
    assert "qualified" in g.loc[("qualified_leads", "2024-02"), "note"]
    assert "2024-01" not in g.index.get_level_values("month")  # the month before is not a goal month
    assert "mqls_created" not in g.index.get_level_values("goal")  # missing keys are skipped
    assert g.loc[("mqls_managed", "total"), "goal_name"] == "MQLs being worked"  # the page's words, not the key
    with pytest.raises(ValueError, match="unknown goal keys"):
        k.goals_vs_actuals(m, {"revenue": 1})


def test_missing_optional_columns(bare_crm):
    m = k.monthly_counts(bare_crm, FEB, APR, qualified_min_score=60).set_index("month")
    notes = m.attrs["notes"]
    assert m.mqls_created.tolist() == m.leads_sourced.tolist() == [2, 3, 4]  # every lead is an MQL at created_at
    assert m.sqls.tolist() == [0, 2, 2]  # the first deals: D1 D3 | D4 D6 (D6b is L6's second; D8 in April)
    assert m.proposals.isna().all() and "proposal_at" in notes["proposals"]
    assert m.won_deals.isna().all() and "closed_at" in notes["won_deals"]
    assert m.qualified_leads.isna().all() and "score" in notes["qualified_leads"]
    assert "no sql_at" in notes["sqls"]
    c = k.contact_rates(bare_crm, FEB, APR)
    assert c.rate.isna().all() and c.note.str.contains("no outcome column").all() and (c.calls == 8).all()
    f = k.funnel_rates(bare_crm, FEB, APR, AS_OF).set_index("metric")
    assert np.isnan(f.loc["mql_to_proposal", "rate"]) and "proposal_at" in f.loc["mql_to_proposal", "note"]
    # without closed_at the stage is taken as recorded: D4 won, D3 and D6b lost
    assert f.loc["mql_to_won", "successes"] == 1 and f.loc["deal_win_rate", "n"] == 3
    v = k.sql_value(bare_crm, FEB, APR, AS_OF)
    assert v["sqls"] == 4 and np.isnan(v["value"]) and "amount" in v["note"]
    s = k.sdr_capacity(bare_crm, FEB, APR, AS_OF)
    assert s.empty and "owner_id" in s.attrs["note"]
    # every lead created in Feb-Mar is an MQL (7); SQL moments = first deals before AS_OF: L3 L4 L6
    a = k.attempts_to_sql(bare_crm, FEB, APR, AS_OF)
    assert (a["mqls"], a["n"]) == (7, 3) and "first deal" in a["sql_moment"]
    assert a["mean"] == pytest.approx(5 / 3)  # L3 2 (A5, A6 before D3 on 02-12), L4 3, L6 0


def test_outcome_without_duration(tmp_path):
    acts = [{c: r[c] for c in ("activity_id", "lead_id", "occurred_at", "type", "outcome")} for r in ACTIVITIES]
    crm = _open(tmp_path, activities=acts)
    c = k.contact_rates(crm, FEB, APR).set_index("metric")
    assert c.loc["contact_rate", "rate"] == pytest.approx(5 / 7)
    assert np.isnan(c.loc["conversation_rate", "rate"]) and "duration_s" in c.loc["conversation_rate", "note"]


def test_empty_period(hand_crm):
    a, b = datetime(2020, 1, 1), datetime(2020, 4, 1)
    m = k.monthly_counts(hand_crm, a, b)
    assert len(m) == 4 and (m[["leads_sourced", "mqls_created", "sqls", "mqls_managed"]] == 0).all().all()
    lvr = k.lead_velocity_rate(m)
    assert len(lvr) == 3 and lvr.lvr.isna().all()
    f = k.funnel_rates(hand_crm, a, b, b, settled_start=a, settled_stop=b)
    assert (f.n == 0).all() and f.rate.isna().all()
    c = k.contact_rates(hand_crm, a, b)
    assert (c.calls == 0).all() and c.rate.isna().all() and (c.note == "no calls in the period").all()
    for fn in (k.attempts_to_sql, k.mql_to_sql_time):
        r = fn(hand_crm, a, b, b)
        assert r["n"] == 0 and r["mqls"] == 0 and r["note"]
    assert np.isnan(k.attempts_to_sql(hand_crm, a, b, b)["mean"])
    assert np.isnan(k.mql_to_sql_time(hand_crm, a, b, b)["median_days"])
    v = k.sql_value(hand_crm, a, b, b, a, b)
    assert v["sqls"] == 0 and v["value"] == 0 and np.isnan(v["value_per_sql"]) and np.isnan(v["expected_value"])
    s = k.sdr_capacity(hand_crm, a, b, b)
    assert s.empty or (s[["open_leads", "active_mqls", "sqls"]] == 0).all().all()
    g = k.goals_vs_actuals(m, {"mqls_created": 10, "mqls_managed": 5})
    assert not m.covered.any()  # 2020 is before the export's first lead: its zeros are not data
    assert g.actual.isna().all() and g.share_of_goal.isna().all()
    assert (g[g.month != "total"].note == "not available: the export has no data for this month").all()
    # a zero-length period
    z = k.monthly_counts(hand_crm, b, b, previous_months=0)
    assert z.empty and k.lead_velocity_rate(z).empty and k.goals_vs_actuals(z, {"sqls": 1}).month.tolist() == ["total"]


# --------------------------------------------------------------------------- the sample CRM

Q3, Q4 = datetime(2024, 7, 1), datetime(2024, 10, 1)
SETTLED = (datetime(2023, 1, 1), datetime(2023, 7, 1))  # MQLs whose deals have all closed by Q4
CONF = 0.99


@pytest.fixture(scope="module")
def raw(sample_dir):
    """The generated tables, read straight from Parquet, with each lead's SQL moment."""
    leads = pd.read_parquet(sample_dir / "leads.parquet")
    acts = pd.read_parquet(sample_dir / "activities.parquet")
    deals = pd.read_parquet(sample_dir / "deals.parquet")
    first_deal = deals.groupby("lead_id").created_at.min()
    leads["sql_moment"] = pd.concat([leads.sql_at, leads.lead_id.map(first_deal)], axis=1).min(axis=1)
    return leads, acts, deals


def _in(s, a, b):
    return (s >= a) & (s < b)


def test_sample_monthly_counts_and_lvr(sample_crm, raw):
    leads, _, deals = raw
    m = k.monthly_counts(sample_crm, Q3, Q4).set_index("month")
    mqls = leads.dropna(subset=["mql_at"])
    for month, row in m.iterrows():
        a = pd.Timestamp(month + "-01")
        b = a + pd.offsets.MonthBegin(1)
        assert row.leads_sourced == _in(leads.created_at, a, b).sum()
        assert row.mqls_created == _in(mqls.mql_at, a, b).sum()
        assert row.sqls == _in(leads.sql_moment, a, b).sum()
        assert row.opportunities == _in(deals.created_at, a, b).sum()
        assert row.proposals == _in(deals.proposal_at, a, b).sum()
        won = deals[(deals.stage == "won") & _in(deals.closed_at, a, b)]
        assert row.won_deals == len(won) and row.won_revenue == pytest.approx(won.amount.sum())
        end = pd.concat([mqls.sql_moment, mqls.mql_at + pd.Timedelta(days=90)], axis=1).min(axis=1)
        assert row.mqls_managed == ((mqls.mql_at < b) & (end > a)).sum()
    lvr = k.lead_velocity_rate(m.reset_index()).set_index("month")
    counts = m.mqls_created
    for month in ("2024-07", "2024-08", "2024-09"):
        prev = counts.shift(1)[month]
        days = pd.Period(month, "M").days_in_month / (pd.Period(month, "M") - 1).days_in_month
        assert lvr.loc[month, "lvr_raw"] == pytest.approx((counts[month] - prev) / prev)
        assert lvr.loc[month, "lvr"] == pytest.approx(counts[month] / prev / days - 1)
        assert lvr.loc[month, "lvr_low"] < lvr.loc[month, "lvr"] < lvr.loc[month, "lvr_high"]


def test_sample_funnel_rates_against_pandas_and_truth(sample_crm, raw, sample_truth):
    leads, _, deals = raw
    f = k.funnel_rates(sample_crm, Q3, Q4, Q4, CONF, *SETTLED).set_index(["cohort", "metric"])
    for cohort, (a, b) in (("period", (Q3, Q4)), ("settled", SETTLED)):
        m = leads[_in(leads.mql_at, a, b)]
        d = deals[deals.lead_id.isin(m.lead_id) & (deals.created_at < Q4)]
        closed = d.closed_at.isna() | (d.closed_at < Q4)
        won = d[(d.stage == "won") & closed]
        assert f.loc[(cohort, "mql_to_sql"), "n"] == len(m)
        assert f.loc[(cohort, "mql_to_sql"), "successes"] == (m.sql_moment < Q4).sum()
        assert f.loc[(cohort, "mql_to_proposal"), "successes"] == d[d.proposal_at < Q4].lead_id.nunique()
        assert f.loc[(cohort, "mql_to_won"), "successes"] == won.lead_id.nunique()
        assert f.loc[(cohort, "deal_win_rate"), "n"] == (closed & d.stage.isin(["won", "lost"])).sum()
    # analytic truth: MQL->customer = sum_s mix_s x close_s; MQL->SQL = that / win rate; deals won 1/3
    p = sample_truth["params"]
    close = sum(p["source_mix"][s] * c for s, c in sample_truth["close_rate_by_source"].items())
    for metric, truth in (("mql_to_won", close), ("mql_to_sql", close / p["win_rate"]),
                          ("deal_win_rate", p["win_rate"])):
        row = f.loc[("settled", metric)]
        assert row.rate_low <= truth <= row.rate_high, (metric, truth, row.rate_low, row.rate_high)
    period_win = f.loc[("period", "deal_win_rate")]
    assert period_win.rate_low <= p["win_rate"] <= period_win.rate_high


def test_sample_contact_rates(sample_crm, raw, sample_truth):
    leads, acts, _ = raw
    c = k.contact_rates(sample_crm, Q3, Q4, CONF, conversation_seconds=300).set_index("metric")
    calls = acts[(acts.type == "call") & _in(acts.occurred_at, Q3, Q4)]
    connected = calls.outcome == "connected"
    assert c.loc["contact_rate", "n"] == len(calls) and c.loc["contact_rate", "successes"] == connected.sum()
    assert c.loc["conversation_rate", "successes"] == (connected & (calls.duration_s >= 300)).sum()
    # truth: a converting call always connects, any other call with probability 0.25
    sql = calls.lead_id.map(leads.set_index("lead_id").sql_at)
    q = (calls.occurred_at == sql).mean()
    truth = q + (1 - q) * sample_truth["params"]["connect_rate"]
    assert c.loc["contact_rate", "rate_low"] <= truth <= c.loc["contact_rate", "rate_high"]


def test_sample_attempts_and_time_to_sql(sample_crm, raw):
    leads, acts, _ = raw
    m = leads[_in(leads.mql_at, Q3, Q4) & (leads.sql_moment < Q4)].set_index("lead_id")
    a = acts[acts.lead_id.isin(m.index) & (acts.occurred_at < Q4)]
    a = a[a.occurred_at <= a.lead_id.map(m.sql_moment)]
    n_att = a.groupby("lead_id").size().reindex(m.index, fill_value=0)
    got = k.attempts_to_sql(sample_crm, Q3, Q4, Q4)
    assert got["n"] == len(m) and got["mean"] == pytest.approx(n_att.mean())
    assert got["median"] == pytest.approx(n_att.median()) and got["p90"] == pytest.approx(n_att.quantile(0.9))
    days = ((m.sql_moment - m.mql_at).dt.total_seconds() / 86400).clip(lower=0)
    t = k.mql_to_sql_time(sample_crm, Q3, Q4, Q4)
    assert t["n"] == len(m) and t["median_days"] == pytest.approx(days.median())
    assert t["p90_days"] == pytest.approx(days.quantile(0.9)) and t["mean_days"] == pytest.approx(days.mean())


def test_sample_sql_value(sample_crm, raw, sample_truth):
    leads, _, deals = raw
    s = leads[_in(leads.sql_moment, Q3, Q4) & (leads.sql_moment < Q4)]
    d = deals[deals.lead_id.isin(s.lead_id) & (deals.created_at < Q4)]
    v = k.sql_value(sample_crm, Q3, Q4, Q4, *SETTLED, confidence=CONF)
    assert v["sqls"] == len(s) and v["deals"] == len(d) and v["value"] == pytest.approx(d.amount.sum())
    # truth: E[amount | SQL] = seg_mean x sum_s w_s avg_s, w_s ∝ mix_s x close_s; won per SQL = that / 3
    p = sample_truth["params"]
    seg_mean = sum(p["segment_mix"][g] * p["segment_mult"][g] for g in p["segment_mix"])
    w = {s_: p["source_mix"][s_] * c for s_, c in sample_truth["close_rate_by_source"].items()}
    amount = seg_mean * sum(w[s_] * SOURCES[s_][0] for s_ in w) / sum(w.values())
    assert v["value_per_sql_low"] <= amount <= v["value_per_sql_high"]
    assert v["expected_value_low"] / v["sqls"] <= amount * p["win_rate"] <= v["expected_value_high"] / v["sqls"]


def test_sample_sdr_capacity(sample_crm, raw, sample_truth):
    leads, _, _ = raw
    c = k.sdr_capacity(sample_crm, Q3, Q4, Q4, active_days=90).set_index("owner_id")
    assert len(c) == sample_truth["params"]["n_sdrs"] == 8
    lo = Q4 - pd.Timedelta(days=90)
    unconverted = ~(leads.sql_moment < Q4)
    open_ = leads[_in(leads.created_at, lo, Q4) & unconverted].groupby("owner_id").size()
    active = leads[_in(leads.mql_at, lo, Q4) & unconverted].groupby("owner_id").size()
    sqls = leads[_in(leads.sql_moment, Q3, Q4)].groupby("owner_id").size()
    assert c.open_leads.to_dict() == open_.to_dict()
    assert c.active_mqls.to_dict() == active.to_dict()
    assert c.sqls.to_dict() == sqls.to_dict() and (c.sqls_per_month == c.sqls / 3).all()
    assert set(c.active_mqls_flag) <= {"under", "within", "over"}
    h = k.sdr_headcount_needed(k.monthly_counts(sample_crm, Q3, Q4, previous_months=0).mqls_created.mean(),
                               active_mqls=c.active_mqls.sum())
    assert h["sdrs_by_sql_output"] == pytest.approx(_in(leads.mql_at, Q3, Q4).sum() / 3 * 0.08 / 15)


def test_win_rate_by_rep_and_source_by_hand(hand_crm, bare_crm):
    # closed in [Feb, Apr) as of Apr: D1 won (L1, s1), D3 lost (L3, s1), D6b lost (L6, s2); D4 and D8
    # close after Apr, D6 is open (not a loss)
    rep = k.win_rate_by(hand_crm, "owner_id", FEB, APR, AS_OF, min_n=1).get().set_index("owner_id")
    assert rep.closed.to_dict() == {"s1": 2, "s2": 1} and rep.won.to_dict() == {"s1": 1, "s2": 0}
    assert rep.loc["s1", "win_rate"] == 0.5 and rep.loc["s2", "win_rate"] == 0.0
    lo, hi = wilson_interval(1, 2)
    assert rep.loc["s1", "win_rate_low"] == pytest.approx(float(lo)) and rep.loc["s1", "win_rate_high"] == pytest.approx(float(hi))
    # shrunk toward the overall 1/3, in order: s1 first, still above s2
    assert 1 / 3 <= rep.loc["s1", "win_rate_shrunk"] <= 0.5 and 0 <= rep.loc["s2", "win_rate_shrunk"] <= 1 / 3
    assert list(rep.index) == ["s1", "s2"]
    src = k.win_rate_by(hand_crm, "source", FEB, APR, AS_OF, min_n=1).get()
    assert src.source.tolist() == ["webinar"] and src.win_rate.iloc[0] == pytest.approx(1 / 3)
    # a later as_of sees D4 closed in April, outside the window: unchanged
    assert k.win_rate_by(hand_crm, "source", FEB, APR, datetime(2024, 6, 1), min_n=1).get().closed.iloc[0] == 3
    # without closed_at: absent, with the reason
    bare = k.win_rate_by(bare_crm, "source", FEB, APR, AS_OF)
    assert not bare and "closed_at" in bare.reason


def test_shrinkage_orders_a_small_lucky_rep_below_a_steady_one():
    from sla_analysis.analyses.stats import shrunk_rates
    won, closed = np.array([2.0, 60, 30, 45]), np.array([2.0, 150, 150, 150])  # 100%, 40%, 20%, 30%
    shrunk = shrunk_rates(won, closed)
    assert shrunk[0] < shrunk[1] and shrunk[0] < 1.0


def test_goal_months_outside_the_data_have_no_actual(hand_crm):
    """A goal grid over months the export does not reach (its first lead is of 1 Oct 2023) shows
    them as not available, not as 0 against the goal, and totals only the months with data; a
    month inside the data with no lead (Nov, Dec) is a real 0."""
    m = k.monthly_counts(hand_crm, datetime(2023, 8, 1), APR, previous_months=0)
    assert m.set_index("month").covered.to_dict() == {"2023-08": False, "2023-09": False, "2023-10": True, "2023-11": True,
                                                      "2023-12": True, "2024-01": True, "2024-02": True, "2024-03": True}
    g = k.goals_vs_actuals(m, {"leads_sourced": 3}).set_index("month")
    assert g.loc[["2023-08", "2023-09"], "actual"].isna().all()
    assert g.loc[["2023-10", "2023-11", "2023-12", "2024-01"], "actual"].tolist() == [1, 0, 0, 2]
    assert g.loc["total", "actual"] == m.leads_sourced[m.covered].sum() == 1 + 2 + 3 + 4
    assert g.loc["total", "target"] == 3 * 6 and g.loc["total", "note"] == "sum of the 6 months with data"
    assert k.goals_note(g.reset_index()).startswith("Not available for 2023-08, 2023-09: the export has no data")
    assert k.goals_note(k.goals_vs_actuals(k.monthly_counts(hand_crm, FEB, APR), {"leads_sourced": 3})) == ""


def _simulated_mqls(rng, n: int, days_of_mqls: float, gaps: np.ndarray, converts: np.ndarray):
    start = datetime(2024, 1, 1)
    mql = pd.to_datetime([start + timedelta(days=float(d)) for d in rng.uniform(0, days_of_mqls, n)])
    sql = [m + timedelta(days=float(g)) if c else None for m, g, c in zip(mql, gaps, converts)]
    return ibis.memtable(pd.DataFrame({"mql_at": mql, "sql_at": pd.to_datetime(sql)}))


@pytest.mark.slow  # simulated histories with their bootstraps, ~3 s each
@pytest.mark.parametrize("shape, as_of_day", [("exponential", 365), ("lognormal", 62)])
def test_mql_to_sql_days_interval_covers_the_truth(shape, as_of_day):
    """The bootstrap interval of the days from MQL to SQL covers the true median time among
    converters in at least 85% of 40 simulated periods (nominal 95%): exponential times with every
    MQL followed to the end, and skewed (lognormal) times with heavy censoring, MQLs arriving until
    two days before the data's end, which a converters-only median would get wrong."""
    rng = np.random.default_rng(7)
    truth = np.log(2) * 5.0 if shape == "exponential" else np.exp(1.2)
    covered = 0
    for _ in range(40):
        n = 300
        gaps = rng.exponential(5.0, n) if shape == "exponential" else rng.lognormal(1.2, 0.8, n)
        t = _simulated_mqls(rng, n, 60.0, gaps, rng.random(n) < 0.3)
        out = k.sql_time_km(t, datetime(2024, 1, 1) + timedelta(days=as_of_day))
        assert out["km_low"] <= out["km_median_days"] <= out["km_high"]
        covered += out["km_low"] <= truth <= out["km_high"]
    assert covered >= 34, covered


def test_win_rates_the_data_cannot_separate_are_listed_by_name_not_ranked():
    # the sample's eight reps in 2024Q1 (8/32 won ... 13/25): their rates differ by chance only, so
    # they pool completely toward the overall rate (the method of moments finds no spread beyond
    # the binomial's) and nothing is ranked
    won, closed = np.array([8, 13, 8, 9, 7, 4, 7, 6]), np.array([32, 25, 19, 23, 20, 14, 23, 28])
    frame = pd.DataFrame({"owner_id": [f"sdr-{i}" for i in "hgfedcba"], "won": won, "closed": closed,
                          "win_rate": won / closed, "small_sample": closed < 30})
    frame["win_rate_shrunk"] = shrunk_rates(won, closed)
    out = k.ranked_win_rates(frame, "owner_id")
    assert out.attrs["not_separated"] and out.owner_id.tolist() == [f"sdr-{i}" for i in "abcdefgh"]
    note = k.win_rate_note(out, "rep")
    assert note.startswith("With 14 to 32 closed deals each, the differences between reps (21% to 52%) are within chance")
    assert f"every rep comes to {out.win_rate_shrunk.iloc[0]:.1%}, so they are listed by name" in note
    assert "win_rate_shrunk" not in k.win_rate_columns(out)  # a column of one figure is not shown
    # rates that do differ (1/20 against 60/100) are ranked on the adjusted rate, with no note
    apart = pd.DataFrame({"owner_id": ["x", "y"], "won": [1, 60], "closed": [20, 100], "small_sample": [False, False]})
    apart["win_rate"] = apart.won / apart.closed
    apart["win_rate_shrunk"] = shrunk_rates(apart.won, apart.closed)
    ranked = k.ranked_win_rates(apart, "owner_id")
    assert not ranked.attrs["not_separated"] and ranked.owner_id.tolist() == ["y", "x"]
    assert k.win_rate_note(ranked, "rep").startswith("Ranked on the win rate *adjusted for group size*")
    assert k.win_rate_columns(ranked)[-1] == "win_rate_shrunk"


def test_headcount_sentence_says_what_each_count_answers():
    sdr = {"mql_conversion": 0.08, "sqls_per_month": 15, "active_mqls_low": 150, "active_mqls_high": 200}
    h = k.sdr_headcount_needed(864, 0.08, 15, active_mqls=2375, active_mqls_band=(150, 200))
    text = k.headcount_sentence(h, sdr, 864, 8)
    assert f"need **{864 * 0.08 / 15:.1f} SDRs**" in text and "need **12 to 16**" in text
    assert "*By what they must produce:*" in text and "*By what they must keep track of:*" in text
    assert "Proposed SLA page adds a third count" in text and "The team has **8 SDRs**" in text
    assert "Of these two, **workload binds** against a team of 8." in text
    assert "not available" in k.headcount_sentence(h, sdr, float("nan"), 8)
