"""Lead qualification and handoff (notebook 06): exact answers on a hand-built CRM, the pure helpers
on known inputs, the not-available results on an export without the columns, and the sample CRM
against the generator's truth (intervals widened for the number of comparisons, Bonferroni)."""
import shutil
from datetime import datetime

import numpy as np
import pandas as pd
import pytest

from sla_analysis.analyses import handoff as hd
from sla_analysis.analyses.lead_value import settled_window
from sla_analysis.config import config_from_dict
from sla_analysis.io.engine import open_crm
from sla_analysis.io.ingest import prepare_inputs
from sla_analysis.io.sample import (
    SampleParams,
    group_truth,
    rejection_truth,
    score_band_truth,
)
from tests.helpers import only_required_columns, open_export

JAN, FEB, APR = datetime(2024, 1, 1), datetime(2024, 2, 1), datetime(2024, 4, 1)
NEW_COLUMNS = ["fit_score", "interest_score", "mql_type", "rejected_at", "rejection_reason", "recycled_at",
               "requalified_at", "marketing_influenced", "persona"]


def _lead(lid, created, mql, score, source, **kw):
    row = dict(lead_id=lid, created_at=created, mql_at=mql, score=score, source=source, segment="", mql_type="",
               persona="", rejected_at="", rejection_reason="", recycled_at="", requalified_at="",
               marketing_sourced="", marketing_influenced="")
    row.update(kw)
    return row


# MQL window [Jan, Feb) holds H1-H7.  H1 won 5000 | H2 lost | H3 rejected (bad fit), back 02-15 | H4 rejected, no
# reason | H5 recycled 01-25, back 02-10, then a deal won 03-01 (3000) | H6 never contacted | H7 one e-mail, nothing
# since.  H8 MQL in March with an open deal; H9 not an MQL; H10 recycled in Feb; H11 rejected in Dec after its deal.
LEADS = [
    _lead("H1", "2024-01-04", "2024-01-05", "75", "webinar", segment="smb", mql_type="demo request",
          persona="economic buyer", marketing_sourced="true", marketing_influenced="true"),
    _lead("H2", "2024-01-05", "2024-01-06", "65", "webinar", segment="smb", mql_type="demo request",
          persona="champion", marketing_sourced="false", marketing_influenced="true"),
    _lead("H3", "2024-01-06", "2024-01-07", "55", "white paper", segment="enterprise", mql_type="content download",
          rejected_at="2024-01-10", rejection_reason="bad fit", requalified_at="2024-02-15", marketing_sourced="true"),
    _lead("H4", "2024-01-07", "2024-01-08", "45", "white paper", segment="enterprise", mql_type="content download",
          persona="end user", rejected_at="2024-01-12", marketing_influenced="false"),
    _lead("H5", "2024-01-08", "2024-01-09", "35", "white paper", persona="end user", recycled_at="2024-01-25",
          requalified_at="2024-02-10", marketing_sourced="false", marketing_influenced="false"),
    _lead("H6", "2024-01-09", "2024-01-10", "62", "contact sales", segment="mid-market", mql_type="demo request",
          persona="champion", marketing_sourced="true", marketing_influenced="true"),
    _lead("H7", "2024-01-10", "2024-01-11", "58", "webinar", segment="mid-market", mql_type="content download",
          persona="influencer", marketing_sourced="true", marketing_influenced="true"),
    _lead("H8", "2024-03-14", "2024-03-15", "90", "webinar", marketing_sourced="true"),
    _lead("H9", "2024-01-03", "", "20", "webinar", marketing_sourced="false", marketing_influenced="true"),
    _lead("H10", "2024-02-01", "2024-02-02", "50", "tradeshow", recycled_at="2024-02-20", marketing_sourced="true"),
    _lead("H11", "2023-12-01", "2023-12-01 12:00", "80", "webinar", rejected_at="2023-12-10",
          rejection_reason="no budget", marketing_sourced="true"),
]
ACTIVITIES = [dict(activity_id=f"A{i}", lead_id=lead, occurred_at=at, type=kind) for i, (lead, at, kind) in enumerate([
    ("H1", "2024-01-06", "call"), ("H1", "2024-01-15", "call"), ("H1", "2024-02-01", "email"),  # the last after the deal
    ("H2", "2024-01-07", "call"), ("H2", "2024-01-10", "email"),
    ("H3", "2024-01-08", "call"),
    ("H4", "2024-01-09", "call"), ("H4", "2024-01-11", "call"),
    ("H5", "2024-01-10", "call"), ("H5", "2024-01-15", "call"), ("H5", "2024-01-20", "call"), ("H5", "2024-02-11", "call"),
    ("H7", "2024-01-12", "email"),
    ("H11", "2023-12-02", "call"),
], start=1)]
DEALS = [
    dict(deal_id="D1", lead_id="H1", created_at="2024-01-20", stage="won", closed_at="2024-02-20", amount="5000"),
    dict(deal_id="D2", lead_id="H2", created_at="2024-01-25", stage="lost", closed_at="2024-03-01", amount="2000"),
    dict(deal_id="D5", lead_id="H5", created_at="2024-02-12", stage="won", closed_at="2024-03-01", amount="3000"),
    dict(deal_id="D8", lead_id="H8", created_at="2024-03-20", stage="open", closed_at="", amount="7000"),
    dict(deal_id="D11", lead_id="H11", created_at="2023-12-05", stage="won", closed_at="2023-12-20", amount="1000"),
]
CFG_RAW = {"mql_score_threshold": 60, "score_band_width": 10, "min_group_size": 1}
CFG = config_from_dict(CFG_RAW)
CALL, EMAIL = 50 / 10, 50 / 30  # default config: $50 an hour, 10 calls or 30 e-mails an hour


def _open(folder, leads, activities=ACTIVITIES, deals=DEALS):
    return open_export(folder, leads, activities, deals)


@pytest.fixture(scope="module")
def hand_crm(tmp_path_factory):
    return _open(tmp_path_factory.mktemp("handoff-hand"), LEADS)


@pytest.fixture(scope="module")
def bare_crm(tmp_path_factory):
    """The same export with only the required columns."""
    return _open(tmp_path_factory.mktemp("handoff-bare"), *only_required_columns(LEADS, ACTIVITIES, DEALS))


# --------------------------------------------------------------------------- pure helpers

def test_nice_width_and_band_labels():
    assert hd.nice_width(20, 100) == 10 and hd.nice_width(0, 1) == 0.1 and hd.nice_width(0, 30) == 5
    assert hd.nice_width(5, 5) == 1.0 and hd.nice_width(np.nan, 3) == 1.0
    assert hd.band_label(50, 60, True) == "50-59" and hd.band_label(50, 60, False) == "50 to 60"
    assert hd.band_label(-np.inf, 30, True) == "below 30" and hd.band_label(90, np.inf, True) == "90 and above"
    assert hd.band_label(0.25, 0.5, False) == "0.25 to 0.5"


def test_pool_bands_merges_small_ends_but_not_across_the_threshold():
    counts = pd.DataFrame({"low": [20.0, 30, 40, 50, 60, 70], "high": [30.0, 40, 50, 60, 70, 80],
                           "mqls": [3.0, 4, 50, 40, 60, 5], "sqls": [1.0, 0, 5, 4, 9, 2]})
    out = hd.pool_bands(counts, 10, threshold=None)
    assert out.mqls.tolist() == [57, 40, 65] and out.sqls.tolist() == [6, 4, 11]
    assert out.low.tolist() == [-np.inf, 50, 60] and out.high.tolist() == [50, 60, np.inf]
    # a small band right above the threshold stays on its side
    counts.loc[:, "mqls"] = [3.0, 4, 50, 40, 6, 5]
    out = hd.pool_bands(counts, 10, threshold=60)
    assert out.mqls.tolist() == [57, 40, 11] and out.low.tolist() == [-np.inf, 50, 60]
    assert hd.pool_bands(counts.iloc[:0], 10).empty


def _logit_interval(r, se, z=1.959964):
    c, h = np.log(r / (1 - r)), z * se / (r * (1 - r))
    return 1 / (1 + np.exp(-(c - h))), 1 / (1 + np.exp(-(c + h)))


def test_ratio_share_interval_by_hand():
    y, x = np.array([1.0, 2, 3, 4]), np.array([1.0, 0, 1, 0])
    r, lo, hi = hd.ratio_share_interval(y.sum(), (x * y).sum(), (y * y).sum(), (x * y * y).sum(), 4, 0.95)
    se = np.sqrt(4 / 3 * np.sum((y * (x - 0.4)) ** 2)) / y.sum()  # linearised: z_i = y_i (x_i - R)
    assert r == pytest.approx(0.4) and se == pytest.approx(0.30111, abs=1e-5)
    assert (lo, hi) == pytest.approx(_logit_interval(0.4, se))
    r, lo, hi = hd.ratio_share_interval(10.0, 10.0, 30.0, 30.0, 5)  # all of it flagged
    assert (r, lo, hi) == (1.0, 1.0, 1.0)
    r, lo, hi = hd.ratio_share_interval(0.0, 0.0, 0.0, 0.0, 0)
    assert np.isnan(r) and np.isnan(lo)


@pytest.mark.parametrize("n, share, sigma", [(200, 0.3, 1.0), (228, 0.9, 0.5)])
def test_ratio_share_interval_covers_the_true_share(n, share, sigma):
    """Simulation: revenue shares of n deals, a share of them flagged, lognormal amounts independent
    of the flag; the 95% interval holds the true share in 93-97% of 2,000 histories."""
    rng = np.random.default_rng(1)
    y = rng.lognormal(0, sigma, size=(2000, n))
    x = (rng.random((2000, n)) < share).astype(float)
    r, lo, hi = hd.ratio_share_interval(y.sum(1), (x * y).sum(1), (y * y).sum(1), (x * y * y).sum(1), n)
    assert 0.93 <= np.mean((lo <= share) & (share <= hi)) <= 0.97


def _bands(n, customers, cost, revenue_per_customer=1000.0, low=(0.0, 10, 20)):
    b = pd.DataFrame({"band": [f"b{i}" for i in range(len(n))], "low": list(low), "mqls": n, "customers": customers,
                      "revenue": [c * revenue_per_customer for c in customers],
                      "revenue_sq": [c * revenue_per_customer ** 2 * 1.01 for c in customers], "work_cost_per_mql": cost})
    b["mql_value"] = b.revenue / b.mqls
    b["net_value_per_mql"] = b.mql_value - b.work_cost_per_mql
    return b


def test_best_threshold_drops_the_bands_that_cost_more_than_they_bring():
    # values per MQL 10, 50, 200 against a cost of 30: the lowest band loses money
    b = _bands([10_000, 10_000, 10_000], [100, 500, 2000], [30.0, 30, 30])
    best = hd.best_threshold(b, n_boot=200, seed=1)
    assert best["threshold"] == 10 and best["band"] == "b1" and best["ci"] == [10, 10] and not best["all_pay"]
    v = hd.threshold_values(b, months=2)
    assert v.net_value_per_month.tolist() == pytest.approx([(-200_000 + 200_000 + 1_700_000) / 2,
                                                           (200_000 + 1_700_000) / 2, 1_700_000 / 2])
    assert v.mqls_passed.tolist() == [15_000, 10_000, 5_000]
    # cheap work: every band pays; dear work: none does
    assert hd.best_threshold(b.assign(work_cost_per_mql=1.0), n_boot=200)["all_pay"]
    none = hd.best_threshold(b.assign(work_cost_per_mql=1000.0), n_boot=200)
    assert none["threshold"] is None and none["band"] == "none"
    assert [hd.threshold_words(e) for e in (None, -np.inf, 30.0)] == ["no MQL", "every MQL", "MQLs scoring 30 or more"]


def test_best_threshold_interval_widens_with_few_leads():
    # the middle band's value (60) is barely above its cost (50): with 100 MQLs a band the data cannot tell
    b = _bands([100, 100, 100], [1, 6, 20], [50.0, 50, 50])
    best = hd.best_threshold(b, n_boot=500, seed=2)
    assert best["ci"][0] <= 10 <= best["ci"][1] and best["ci"][0] < best["ci"][1]


def test_threshold_comparison():
    b = pd.DataFrame({"band": ["50-59", "60-69"], "low": [50.0, 60], "high": [60.0, 70], "mqls": [200.0, 200],
                      "sqls": [10.0, 60], "customers": [2.0, 20]})
    b["sql_rate"], b["close_rate"] = b.sqls / b.mqls, b.customers / b.mqls
    c = hd.threshold_comparison(b, 60)
    assert c["separates"] and c["sql_rate_difference"] == pytest.approx(0.25)
    lo, hi = c["sql_rate_difference_ci"]
    assert 0.17 < lo < 0.25 < hi < 0.33 and c["below"] == "50-59" and c["above"] == "60-69"
    same = b.assign(sqls=[10.0, 12], sql_rate=[0.05, 0.06])
    assert not hd.threshold_comparison(same, 60)["separates"]
    assert hd.threshold_comparison(b, None)["reason"].startswith("no MQL score threshold")
    assert hd.threshold_comparison(b, 70) == {"available": False, "reason": "no scored MQLs above the threshold of 70"}


# --------------------------------------------------------------------------- hand-built CRM

def test_score_bands_by_hand(hand_crm):
    b = hd.score_bands(hand_crm, CFG, JAN, FEB, APR)
    assert b.band.tolist() == ["below 40", "40-49", "50-59", "60-69", "70 and above"]
    assert b.mqls.tolist() == [1, 1, 2, 2, 1] and b.sqls.tolist() == [1, 0, 0, 1, 1]
    assert b.customers.tolist() == [1, 0, 0, 0, 1] and b.revenue.tolist() == [3000, 0, 0, 0, 5000]
    assert b.mql_value.tolist() == [3000, 0, 0, 0, 5000]
    # counted attempts (up to the first deal) x $5 a call, $1.67 an e-mail
    assert b.work_cost_per_mql.tolist() == pytest.approx([4 * CALL, 2 * CALL, (CALL + EMAIL) / 2, (CALL + EMAIL) / 2,
                                                          2 * CALL])
    assert b.net_value_per_mql.iloc[0] == pytest.approx(3000 - 20)
    assert b.attrs["score_column"] == "score" and b.attrs["unscored"] == 0 and b.attrs["width"] == 10
    # the cost of working an MQL that pages 06 and 07 both quote: all the window's MQLs' attempts / MQLs
    every = (4 * CALL + 2 * CALL + 2 * (CALL + EMAIL) + 2 * CALL) / 7
    assert b.attrs["work_cost_per_mql"] == pytest.approx(every) == hd.mql_work_cost(hand_crm, CFG, JAN, FEB, APR)
    assert hd.mql_work_cost(hand_crm, config_from_dict({**_raw(CFG), "lead_work_cost": 100}), JAN, FEB, APR) == 100
    c = hd.threshold_comparison(b, 60)
    assert (c["below"], c["above"], c["sql_rate_below"], c["sql_rate_above"]) == ("50-59", "60-69", 0.0, 0.5)
    fixed = hd.score_bands(hand_crm, config_from_dict({**_raw(CFG), "lead_work_cost": 100}), JAN, FEB, APR)
    assert fixed.work_cost_per_mql.tolist() == [100] * 5 and fixed.attrs["work_cost_source"] == "config"
    pooled = hd.score_bands(hand_crm, config_from_dict({**_raw(CFG), "min_group_size": 2}), JAN, FEB, APR)
    assert pooled.band.tolist() == ["below 50", "50-59", "60 and above"] and pooled.mqls.tolist() == [2, 2, 3]



def _raw(cfg):
    return {"mql_score_threshold": cfg.mql_score_threshold, "score_band_width": cfg.score_band_width,
            "min_group_size": cfg.min_group_size}


def test_score_from_fit_and_interest(tmp_path):
    leads = [{**{k: v for k, v in r.items() if k != "score"}, "fit_score": str(int(r["score"]) // 2),
              "interest_score": str(int(r["score"]) - int(r["score"]) // 2)} for r in LEADS]
    crm = _open(tmp_path, leads)
    assert hd.score_column(crm) == "fit_score + interest_score" and hd.unavailable(crm, "score") is None
    b = hd.score_bands(crm, CFG, JAN, FEB, APR)
    assert b.mqls.tolist() == [1, 1, 2, 2, 1] and b.customers.tolist() == [1, 0, 0, 0, 1]


def test_conversion_by_mql_type_and_persona(hand_crm):
    t = hd.conversion_by(hand_crm, "mql_type", JAN, FEB, APR, min_n=1).set_index("mql_type")
    assert t.loc["demo request", ["mqls", "sqls", "customers"]].tolist() == [3, 2, 1]
    assert t.loc["demo request", "mql_value"] == pytest.approx(5000 / 3)
    assert t.loc["content download", ["mqls", "sqls", "mql_value"]].tolist() == [3, 0, 0]
    assert t.loc[hd.NOT_RECORDED, ["mqls", "customers", "mql_value"]].tolist() == [1, 1, 3000]
    assert list(t.index) == [hd.NOT_RECORDED, "demo request", "content download"]  # by value per MQL
    p = hd.conversion_by(hand_crm, "persona", JAN, FEB, APR, min_n=2).set_index("persona")
    assert p.loc["end user", ["mqls", "sqls", "customers", "revenue"]].tolist() == [2, 1, 1, 3000]
    assert p.loc["champion", "sql_rate"] == 0.5 and p.small_sample.to_dict() == {
        "end user": False, "champion": False, "economic buyer": True, hd.NOT_RECORDED: True, "influencer": True}
    assert list(p.index[:2]) == ["end user", "champion"]  # small groups after the others, whatever their value


def test_rejections_by_hand(hand_crm):
    r = hd.rejection_by(hand_crm, "source", JAN, FEB, APR, min_n=1).set_index("source")
    assert r.loc["all", ["mqls", "rejected"]].tolist() == [7, 2]
    assert r.loc["all", "median_days"] == pytest.approx(3.5) and r.loc["all", "p90_days"] == pytest.approx(3.9)
    assert r.loc["white paper", ["mqls", "rejected", "rejection_rate"]].tolist() == [3, 2, pytest.approx(2 / 3)]
    assert r.loc["webinar", "rejected"] == 0 and np.isnan(r.loc["webinar", "median_days"])
    reasons = hd.rejection_reasons(hand_crm, JAN, FEB, APR)
    assert reasons[["reason", "rejected", "share"]].values.tolist() == [[hd.NOT_RECORDED, 1, 0.5], ["bad fit", 1, 0.5]]
    assert reasons.rate.tolist() == pytest.approx([1 / 7, 1 / 7])
    o = hd.handoff_outcomes(hand_crm, JAN, FEB, APR).set_index("outcome")
    assert o.mqls.to_dict() == {"became an SQL": 3, "rejected by sales": 2, "recycled to marketing": 0,
                                "never contacted": 1, "contacted, no decision recorded": 1}
    assert o.share.sum() == pytest.approx(1.0)


def test_return_path_by_hand(hand_crm):
    # returned in [2023-11-03, 2024-02-01), each followed for 60 days
    p = hd.return_path(hand_crm, APR, follow_days=60, lookback_days=90, min_n=1).set_index("kind")
    assert p.attrs["window"] == (datetime(2023, 11, 3), FEB)
    # H3 back 36 days after its rejection; H11's win came from a deal opened before it was rejected
    assert p.loc["rejected by sales", ["leads", "requalified", "won"]].tolist() == [3, 1, 0]
    assert p.loc["recycled to marketing", ["leads", "requalified", "won", "won_revenue"]].tolist() == [1, 1, 1, 3000]
    short = hd.return_path(hand_crm, APR, follow_days=30, lookback_days=90, min_n=1).set_index("kind")
    assert short.loc["rejected by sales", "requalified"] == 0  # H3 came back after 36 days
    assert short.loc["recycled to marketing", "won"] == 0      # H5's deal closed 36 days after its recycling


def test_attribution_by_hand(hand_crm):
    a = hd.attribution(hand_crm, JAN, APR).set_index("measure")
    assert a.loc["marketing-sourced", ["leads", "leads_flagged"]].tolist() == [10, 7]  # an empty value counts as sourced
    assert a.loc["marketing-influenced", "leads_flagged"] == 9                          # influenced, or sourced
    assert a.loc["marketing-sourced", ["pipeline_total", "pipeline_flagged"]].tolist() == [17_000, 12_000]
    assert a.loc["marketing-influenced", "pipeline_share"] == pytest.approx(14 / 17)
    assert a.loc["marketing-sourced", ["won_revenue_deals", "won_revenue_share"]].tolist() == [2, 0.625]
    y, x = np.array([5000.0, 2000, 3000, 7000]), np.array([1.0, 0, 0, 1])
    r = 12 / 17
    se = np.sqrt(4 / 3 * np.sum((y * (x - r)) ** 2)) / y.sum()
    assert a.loc["marketing-sourced", ["pipeline_share_low", "pipeline_share_high"]].tolist() == pytest.approx(
        _logit_interval(r, se))


def test_summaries_are_plain(hand_crm):
    b = hd.score_bands(hand_crm, CFG, JAN, FEB, APR)
    s = hd.score_summary(b, hd.threshold_comparison(b, 60), hd.best_threshold(b, n_boot=50))
    assert s["bands"]["70 and above"]["customers"] == 1 and s["threshold"] == 60
    r = hd.rejection_summary(hd.rejection_by(hand_crm, "source", JAN, FEB, APR), None,
                             hd.handoff_outcomes(hand_crm, JAN, FEB, APR))
    assert r["rejected"] == 2 and set(r["by_source"]) == {"contact sales", "webinar", "white paper"}
    p = hd.return_path_summary(hd.return_path(hand_crm, APR, 60, 90))
    assert p["recycled"]["won"] == 1 and p["window"] == ["2023-11-03", "2024-02-01"]


def test_an_empty_window_gives_zeros_not_errors(hand_crm):
    old, older = datetime(2019, 1, 1), datetime(2019, 4, 1)
    assert hd.count_mqls(hand_crm, old, older, older) == 0
    assert hd.score_bands(hand_crm, CFG, old, older, older).empty
    assert hd.conversion_by(hand_crm, "persona", old, older, older).empty
    r = hd.rejection_by(hand_crm, "source", old, older, older)
    assert r.mqls.tolist() == [0] and np.isnan(r.rejection_rate.iloc[0])
    assert hd.handoff_outcomes(hand_crm, old, older, older).mqls.sum() == 0
    assert hd.return_path(hand_crm, older, 60, 90).leads.tolist() == [0, 0]
    assert hd.attribution(hand_crm, old, older).leads.tolist() == [0, 0]
    assert hd.best_threshold(hd.score_bands(hand_crm, CFG, old, older, older))["threshold"] is None


def test_without_the_columns_every_section_says_why(bare_crm, hand_crm):
    for section in ("score", "mql_type", "rejection", "recycling", "attribution", "segment", "persona"):
        assert hd.unavailable(bare_crm, section), section
        assert hd.unavailable(hand_crm, section) is None, section
    # the reason is the export profile's, the one every page gives
    assert hd.unavailable(bare_crm, "score") == "The leads have no score column, so the export records no lead scores."
    assert bare_crm.profile.reason("scores") == "the leads have no score column, so the export records no lead scores"
    assert hd.score_column(bare_crm) is None and hd.attribution(bare_crm, JAN, APR).empty
    assert hd.return_path(bare_crm, APR, 60, 90).empty
    # the per-lead table still works: every MQL counted (no mql_at: created_at is the MQL moment)
    assert hd.count_mqls(bare_crm, JAN, FEB, APR) == 8


def test_without_amounts_values_are_absent_not_zero(tmp_path):
    """Deals without amounts: no value per MQL (NaN, not 0), no net value, no threshold picked."""
    deals = [{k: v for k, v in d.items() if k != "amount"} for d in DEALS]
    crm = _open(tmp_path, LEADS, ACTIVITIES, deals)
    bands = hd.score_bands(crm, CFG, JAN, FEB, APR)
    assert bands.mql_value.isna().all() and bands.net_value_per_mql.isna().all()
    assert bands.customers.sum() == 2  # the counts are still there
    assert "no amounts" in hd.net_value_unavailable(bands, crm.limits())
    best = hd.best_threshold(bands)
    assert best["available"] is False and best["threshold"] is None and "no amounts" in best["reason"]
    types = hd.conversion_by(crm, "mql_type", JAN, FEB, APR)
    assert types.mql_value.isna().all() and types.mql_value_shrunk.isna().all()
    summary = hd.group_summary(types, "mql_type")
    assert all(v["mql_value"] != v["mql_value"] for v in summary.values())  # NaN -> null in summary.json


def test_without_attempts_never_contacted_is_not_claimed(tmp_path, hand_crm):
    """No activities in the export: whether an MQL was contacted is unknown, and so is its cost."""
    crm = _open(tmp_path, LEADS, ACTIVITIES[:1], DEALS)
    crm.manifest.setdefault("unavailable", {})["activities"] = "the export has no contact attempts"
    out = hd.handoff_outcomes(crm, JAN, FEB, APR).set_index("outcome")
    full = hd.handoff_outcomes(hand_crm, JAN, FEB, APR).set_index("outcome")
    assert "never contacted" not in out.index and out.mqls.sum() == full.mqls.sum() == 7
    assert out.loc["became an SQL", "mqls"] == full.loc["became an SQL", "mqls"]
    assert (out.loc["no decision recorded (contact attempts are not in the export)", "mqls"]
            == full.loc[["never contacted", "contacted, no decision recorded"], "mqls"].sum())
    bands = hd.score_bands(crm, CFG, JAN, FEB, APR)
    assert bands.work_cost_per_mql.isna().all() and bands.attempts_per_mql.isna().all()
    assert "lead_work_cost" in hd.net_value_unavailable(bands, crm.limits())
    priced = hd.score_bands(crm, config_from_dict({**CFG_RAW, "lead_work_cost": 10}), JAN, FEB, APR)
    assert (priced.work_cost_per_mql == 10).all() and hd.net_value_unavailable(priced) is None


def test_groups_are_ranked_after_shrinkage():
    """A 2-MQL group with 1 customer (50%) does not outrank a 400-MQL group at 10%."""
    counts = pd.DataFrame({"g": ["small", "big", "mid"], "mqls": [2.0, 400, 300], "sqls": [1.0, 80, 60],
                           "customers": [1.0, 40, 15], "revenue": [1000.0, 40_000, 15_000],
                           "revenue_sq": [1e6, 40 * 1e6, 15 * 1e6]})
    out = hd.conversion_table(counts, "g", min_n=1).set_index("g")
    assert out.loc["small", "mql_value"] > out.loc["big", "mql_value"]  # raw: 500 against 100
    assert out.loc["small", "mql_value_shrunk"] < out.loc["big", "mql_value_shrunk"]
    assert out.loc["big", "close_rate_shrunk"] == pytest.approx(0.1, abs=0.01)


# --------------------------------------------------------------------------- the sample CRM against its truth

@pytest.fixture(scope="module")
def window():
    end = datetime(2024, 4, 1)
    start, stop = settled_window(end, 120, 365)
    return start, stop, end


def _inside(truth, low, high):
    return low <= truth <= high


def test_score_bands_recover_the_generators_truth(sample_crm, window):
    p = SampleParams()
    b0 = hd.score_bands(sample_crm, config_from_dict({"mql_score_threshold": 60}), *window)
    k = 2 * len(b0)
    cfg = config_from_dict({"mql_score_threshold": 60, "confidence_level": 1 - 0.05 / k})
    b = hd.score_bands(sample_crm, cfg, *window)
    assert b.band.tolist() == ["below 30", "30-39", "40-49", "50-59", "60-69", "70-79", "80-89", "90 and above"]
    assert b.mqls.sum() > 8000 and not b.small_sample.any()
    for r in b.itertuples():
        t = score_band_truth(p, r.low, r.high)
        assert _inside(t["sql_rate"], r.sql_rate_low, r.sql_rate_high), (r.band, t, r.sql_rate)
        assert _inside(t["close_rate"], r.close_rate_low, r.close_rate_high), (r.band, t, r.close_rate)
    # the score works: conversion to SQL rises by about 3 to 1 from the lowest band to the highest
    assert b.sql_rate.iloc[-2] > 2 * b.sql_rate.iloc[1]
    # every true band value is far above the cost of working it, so passing every MQL is within the interval
    best = hd.best_threshold(b0, seed=1)
    assert b0.work_cost_per_mql.max() < 50 < min(score_band_truth(p, r.low, r.high)["value_per_mql"] for r in b0.itertuples())
    assert best["ci"][0] == -np.inf
    c = hd.threshold_comparison(b, 60, 0.95)
    true_diff = score_band_truth(p, 60, 70)["sql_rate"] - score_band_truth(p, 50, 60)["sql_rate"]
    assert _inside(true_diff, *c["sql_rate_difference_ci"])


def test_fit_plus_interest_gives_the_same_bands(sample_crm, sample_dir, tmp_path, window):
    d = tmp_path / "no-score"
    d.mkdir()
    for name in ("activities", "deals", "reps"):
        shutil.copy(sample_dir / f"{name}.parquet", d)
    leads = pd.read_parquet(sample_dir / "leads.parquet")
    assert (leads.fit_score + leads.interest_score == leads.score).all()
    leads.drop(columns="score").to_parquet(d / "leads.parquet", index=False)
    crm = open_crm(prepare_inputs(d, cache_root=tmp_path / "cache"))
    cfg = config_from_dict({"mql_score_threshold": 60})
    a, b = hd.score_bands(sample_crm, cfg, *window), hd.score_bands(crm, cfg, *window)
    assert b.attrs["score_column"] == "fit_score + interest_score"
    pd.testing.assert_frame_equal(a, b)


@pytest.mark.parametrize("by", ["mql_type", "persona", "segment"])
def test_groups_recover_the_generators_truth(sample_crm, window, by):
    truth = group_truth(SampleParams(), by)
    g = hd.conversion_by(sample_crm, by, *window, confidence=1 - 0.05 / (3 * len(truth)))
    assert set(g[by]) == set(truth)
    for r in g.itertuples():
        t = truth[getattr(r, by)]
        assert _inside(t["sql_rate"], r.sql_rate_low, r.sql_rate_high), (r, t)
        assert _inside(t["close_rate"], r.close_rate_low, r.close_rate_high), (r, t)
        assert _inside(t["value_per_mql"], r.mql_value_low, r.mql_value_high), (r, t)
    ranked = g.set_index(by).mql_value
    if by == "mql_type":  # a demo or contact request is worth more than a content download
        assert ranked["contact request"] > ranked["demo request"] > ranked["content download"]
    if by == "persona":
        assert ranked["economic buyer"] > 3 * ranked["end user"]


def test_rejections_recover_the_generators_truth(sample_crm, window, sample_truth):
    truth = rejection_truth(SampleParams())
    r = hd.rejection_by(sample_crm, "source", *window, confidence=1 - 0.05 / 6).set_index("source")
    for source, rate in truth["rate_by_source"].items():
        assert _inside(rate, r.loc[source, "rejection_rate_low"], r.loc[source, "rejection_rate_high"]), source
    assert _inside(truth["rate"], r.loc["all", "rejection_rate_low"], r.loc["all", "rejection_rate_high"])
    assert r.loc["all", "median_days"] == pytest.approx(
        sample_truth["handoff"]["rejection"]["median_days_mql_to_rejection"], rel=0.15)
    reasons = hd.rejection_reasons(sample_crm, *window, confidence=1 - 0.05 / 4).set_index("reason")
    for reason, share in truth["reason_share"].items():
        assert _inside(share, reasons.loc[reason, "share_low"], reasons.loc[reason, "share_high"]), reason


def test_return_path_recovers_the_generators_truth(sample_crm, window, sample_truth):
    truth = sample_truth["handoff"]["return_path"]
    p = hd.return_path(sample_crm, window[2], truth["follow_days"], 365, confidence=1 - 0.05 / 4).set_index("kind")
    for kind, key in (("rejected by sales", "rejected"), ("recycled to marketing", "recycled")):
        row = p.loc[kind]
        assert row.leads > 500
        for share in ("requalified_share", "won_share"):
            assert _inside(truth[key][share], row[f"{share}_low"], row[f"{share}_high"]), (kind, share)
    assert p.loc["recycled to marketing", "won"] > 0 and p.loc["rejected by sales", "won"] == 0


def test_sourced_and_influenced_shares_recover_the_generators_truth(sample_crm, window, sample_truth):
    end = window[2]
    a = hd.attribution(sample_crm, datetime(2023, 4, 2), end, confidence=1 - 0.05 / 6).set_index("measure")
    for measure, key in (("marketing-sourced", "marketing_sourced_share"),
                         ("marketing-influenced", "marketing_influenced_share")):
        truth = sample_truth["handoff"][key]
        for share in ("leads_share", "pipeline_share", "won_revenue_share"):
            assert _inside(truth, a.loc[measure, f"{share}_low"], a.loc[measure, f"{share}_high"]), (measure, share)
    assert a.loc["marketing-sourced", "won_revenue_deals"] > 150


def test_sample_without_the_new_columns(sample_dir, tmp_path, window):
    """A CRM without any of the handoff columns: the sections that need them say so; the score, the
    segments and the sourced share come from the columns the export has."""
    d = tmp_path / "old-columns"
    d.mkdir()
    for name in ("activities", "deals", "reps"):
        shutil.copy(sample_dir / f"{name}.parquet", d)
    pd.read_parquet(sample_dir / "leads.parquet").drop(columns=NEW_COLUMNS).to_parquet(d / "leads.parquet", index=False)
    crm = open_crm(prepare_inputs(d, cache_root=tmp_path / "cache"))
    missing = {s for s in ("score", "mql_type", "rejection", "recycling", "attribution", "segment", "persona")
               if hd.unavailable(crm, s)}
    assert missing == {"mql_type", "rejection", "recycling", "persona"}
    assert hd.attribution(crm, datetime(2023, 4, 2), window[2]).measure.tolist() == ["marketing-sourced"]
    outcomes = hd.handoff_outcomes(crm, *window)
    # no rejected_at or recycled_at: those outcomes are unknown, not 0 MQLs, and say why
    assert outcomes.set_index("outcome").loc[["rejected by sales", "recycled to marketing"], ["mqls", "share"]].isna().all().all()
    assert outcomes.attrs["unavailable"]["rejected by sales"] == "the leads have no rejected_at column, so the export records no rejections by sales"
    assert hd.unrecorded_outcomes_sentence(outcomes).startswith("*Rejected by sales*: not available: the leads have no rejected_at")
    assert outcomes.mqls.sum() == outcomes.set_index("outcome").mqls.drop(["rejected by sales", "recycled to marketing"]).sum() > 0


# --------------------------------------------------------------------------- the generator's handoff columns

def test_generated_handoff_columns_are_consistent(sample_dir):
    leads = pd.read_parquet(sample_dir / "leads.parquet")
    acts = pd.read_parquet(sample_dir / "activities.parquet")
    deals = pd.read_parquet(sample_dir / "deals.parquet")
    assert list(leads.columns[-len(NEW_COLUMNS):]) == NEW_COLUMNS
    assert (leads.mql_type.isna() == leads.mql_at.isna()).all()
    assert (leads.marketing_influenced | ~leads.marketing_sourced).all()  # sourced implies influenced
    rejected = leads[leads.rejected_at.notna()]
    assert rejected.mql_at.notna().all() and not rejected.lead_id.isin(deals.lead_id).any()
    assert acts[acts.lead_id.isin(rejected.lead_id)].groupby("lead_id").size().max() <= 2
    assert (rejected.rejection_reason.notna()).all() and leads.rejection_reason.notna().sum() == len(rejected)
    assert rejected.recycled_at.isna().all()
    back = leads[leads.requalified_at.notna()]
    returned = back.recycled_at.fillna(back.rejected_at)
    assert returned.notna().all() and (back.requalified_at >= returned).all()
    last = acts.occurred_at.max()
    for col in ("rejected_at", "recycled_at", "requalified_at"):
        assert leads[col].max() <= last, col


def test_existing_columns_are_pinned():
    """The handoff columns come from their own random stream: the columns other tests pin truths on
    are exactly what they were before the handoff columns were added (hashes of a 2,000-lead sample).
    The speed-to-lead effect (issue 17) redraws only the time of each lead's first attempt (its own
    stream, ``seed + 9``), which moves the lead's attempt times and its deal's dates: every column that
    is not a time is pinned to its value from before that change, the activities as a multiset (their
    order and ids follow the times); the full tables are pinned as they are now. Attempts kept inside
    working hours (issue 16) move times only: the untimed columns keep their values."""
    from dataclasses import replace

    from sla_analysis.io.sample import generate
    t = generate(replace(SampleParams(), n_leads=2000))
    old = {"leads": 10, "activities": 7, "deals": 7, "reps": 4}
    got = {name: int(pd.util.hash_pandas_object(t[name].iloc[:, :k], index=False).sum() % (1 << 61))
           for name, k in old.items()}
    assert got == PINNED_HASHES
    untimed = {n: int(pd.util.hash_pandas_object(t[n][c], index=False).sum() % (1 << 61)) for n, c in UNTIMED.items()}
    cols = ["lead_id", "type", "rep_id", "outcome", "duration_s"]
    acts = t["activities"][cols].sort_values(cols).reset_index(drop=True)
    untimed["activities"] = int(pd.util.hash_pandas_object(acts, index=False).sum() % (1 << 61))
    assert untimed == PINNED_UNTIMED_BEFORE_SPEED_EFFECT


# computed from the generator with the speed-to-lead effect (issue 17) and working hours (issue 16)
PINNED_HASHES = {"leads": 44825488172162383, "activities": 25724631705270969, "deals": 864062372119676257,
                 "reps": 1287022922020172320}
UNTIMED = {"leads": ["lead_id", "created_at", "source", "segment", "tier", "score", "mql_at", "owner_id",
                     "marketing_sourced"], "deals": ["deal_id", "lead_id", "stage", "amount"]}
# computed from the generator before the speed-to-lead effect
PINNED_UNTIMED_BEFORE_SPEED_EFFECT = {"leads": 1371131289970396966, "deals": 1820277497012758017,
                                      "activities": 1693429358917118633}


def test_split_at_threshold(hand_crm):
    b = hd.score_bands(hand_crm, CFG, JAN, FEB, APR)
    s = hd.split_at_threshold(b, 60).set_index("side")
    assert s.loc["60 or more", ["mqls", "sqls", "customers"]].tolist() == [3, 2, 1]
    assert s.loc["below 60", ["mqls", "sqls", "customers"]].tolist() == [4, 1, 1]
    assert s.loc["below 60", "close_rate"] == 0.25 and hd.split_at_threshold(b, None).empty


def test_sentences_show_crm_names_as_text():
    """A source named like Markdown (an image fetched from the network) or HTML stays text in the
    page's sentences (the reliability corpus found it on page 06)."""
    evil = "-2+3 ![t](http://evil.example/t.png)"
    rej = pd.DataFrame({"source": ["all", evil, "<b>web</b>"], "mqls": [200, 100, 100], "rejected": [30, 20, 10],
                        "rejection_rate": [0.15, 0.2, 0.1], "median_days": [4.0, 4.0, 4.0], "small_sample": [False] * 3})
    text = hd.rejection_sentence(rej)
    assert "![" not in text and "](" not in text and "http://" not in text and "<b>" not in text
    assert "**-2+3 !&#91;t&#93;(http&#58;//evil.example/t.png)** were rejected most often (20.0%)" in text
    assert "**&lt;b&gt;web&lt;/b&gt;** least (10.0%)" in text
    values = pd.DataFrame({"segment": [evil, "a|b"], "mql_value": [50.0, 10.0], "close_rate": [0.1, 0.05],
                           "small_sample": [False, False]})
    ranked = hd.ranked_sentence(values, "segment", "segment")
    assert "![" not in ranked and "a&#124;b" in ranked
