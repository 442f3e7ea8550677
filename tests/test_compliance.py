"""Speed to lead, business hours, the time-to-first-touch curve and cadence, against hand-computed
numbers on tiny CRMs and against the sample's known truth."""
from datetime import date, datetime

import ibis
import numpy as np
import pandas as pd
import pytest

from sla_analysis.analyses import compliance as c
from sla_analysis.analyses.stats import wilson_interval
from sla_analysis.config import SLAConfig
from sla_analysis.io.engine import open_crm
from sla_analysis.io.ingest import connect, prepare_inputs

TIERS = SLAConfig().tiers  # high 4 h / 15 touches / 90 d, moderate 24 h / 8 / 60, low 48 h / 3 / 30
NO_DEALS = ["deal_id", "lead_id", "created_at", "stage"]
RUN_AS_OF = datetime(2025, 1, 1)  # the contract's "not in the future" check


def _open(crm_dir, tmp_path, leads, activities, deals=(), **kw):
    d = crm_dir(leads=leads, activities=activities, deals=list(deals),
                deal_fields=None if deals else NO_DEALS, **kw)
    return open_crm(prepare_inputs(d, as_of=RUN_AS_OF, cache_root=tmp_path / "cache"))


# --------------------------------------------------------------------------- business hours

def _bh_between(pairs, bh, first=date(2023, 12, 1), last=date(2024, 12, 31)):
    t = ibis.memtable(pd.DataFrame(pairs, columns=["a", "b"]).astype("datetime64[us]"))
    return connect().to_pandas(c.business_hours_between(t, "a", "b", bh, first, last)).business_hours.tolist()


BERLIN = c.BusinessHours(days=(0, 1, 2, 3, 4), start_hour=9, end_hour=17, timezone="Europe/Berlin")


@pytest.mark.parametrize("a, b, expected", [
    # Tue 10:00 -> Tue 15:30 CET (UTC+1): 5.5 h
    ("2024-01-09 09:00", "2024-01-09 14:30", 5.5),
    # Fri 16:00 CET -> Mon 10:00 CET: 1 h Friday + 1 h Monday, the weekend does not count
    ("2024-01-12 15:00", "2024-01-15 09:00", 2.0),
    # Tue 22:00 -> Wed 08:00 CET across midnight, all outside hours: 0
    ("2024-01-09 21:00", "2024-01-10 07:00", 0.0),
    # Tue 22:00 -> Wed 09:30 CET: 0.5 h
    ("2024-01-09 21:00", "2024-01-10 08:30", 0.5),
    # Sat 12:00 -> Sat 18:00: 0
    ("2024-01-13 11:00", "2024-01-13 17:00", 0.0),
    # Mon 08:00 -> Fri 18:00 CET: 5 full days
    ("2024-01-08 07:00", "2024-01-12 17:00", 40.0),
    # DST (Berlin springs forward Sun 2024-03-31): Fri 16:00 CET (15:00 UTC) -> Mon 10:00 CEST
    # (08:00 UTC): 2 h; a fixed UTC+1 offset would say 1 h
    ("2024-03-29 15:00", "2024-04-01 08:00", 2.0),
    # reversed order: negative
    ("2024-01-09 14:30", "2024-01-09 09:00", -5.5),
])
def test_business_hours_berlin(a, b, expected):
    assert _bh_between([(a, b)], BERLIN) == [pytest.approx(expected, abs=1e-12)]


def test_business_hours_round_the_clock_across_dst():
    """With 0-24 h every day, business hours are elapsed hours: 23 h on the spring-forward day
    and 25 h on the fall-back day (both Berlin, noon to noon)."""
    always = c.BusinessHours(days=tuple(range(7)), start_hour=0, end_hour=24, timezone="Europe/Berlin")
    got = _bh_between([("2024-03-30 11:00", "2024-03-31 10:00"),   # Sat 12:00 CET -> Sun 12:00 CEST
                       ("2024-10-26 10:00", "2024-10-27 11:00")],  # Sat 12:00 CEST -> Sun 12:00 CET
                      always)
    assert got == [pytest.approx(23.0), pytest.approx(25.0)]


def test_business_hours_local_date_differs_from_utc_date_and_holidays():
    la = c.BusinessHours.from_config({"days": "mon-fri", "hours": ["09:00", "17:00"],
                                      "timezone": "America/Los_Angeles"})
    # Mon 16:00 PST is Tue 00:00 UTC; Tue 10:00 PST is 18:00 UTC: 1 h + 1 h
    assert _bh_between([("2024-01-09 00:00", "2024-01-09 18:00")], la) == [pytest.approx(2.0)]
    ny = c.BusinessHours.from_config({"days": ["Mon", "tue", "wed", "thu", "fri"], "hours": "9-17",
                                      "timezone": "America/New_York", "holidays": ["2024-03-11"]})
    # Fri 16:00 EST (21:00 UTC) -> Tue 10:00 EDT (14:00 UTC) with Monday a holiday: 2 h
    assert _bh_between([("2024-03-08 21:00", "2024-03-12 14:00")], ny) == [pytest.approx(2.0)]


def test_business_hours_config_is_checked():
    assert c.BusinessHours.from_config(None) is None
    assert c.BusinessHours.from_config({"days": "fri-mon"}).days == (0, 4, 5, 6)
    with pytest.raises(ValueError, match="time zone"):
        c.BusinessHours.from_config({"timezone": "Mars/Olympus"})
    with pytest.raises(ValueError, match="hours"):
        c.BusinessHours.from_config({"hours": [17, 9]})
    with pytest.raises(ValueError, match="weekday"):
        c.BusinessHours.from_config({"days": ["monday", "funday"]})


# --------------------------------------------------------------------------- speed to lead, tiny CRM

AS_OF = datetime(2024, 1, 10, 12, 0)
PERIOD = (datetime(2024, 1, 1), datetime(2024, 1, 11))


def _lead(lead_id, mql_at, tier, owner="", source="webinar"):
    return {"lead_id": lead_id, "created_at": mql_at or "2024-01-01 00:00:00", "source": source,
            "tier": tier, "mql_at": mql_at, "owner_id": owner}


SPEED_LEADS = [
    _lead("H1", "2024-01-02 09:00:00", "high", "r1"),   # touched after 3 h: within
    _lead("H2", "2024-01-02 09:00:00", "high", "r1"),   # exactly 4 h: within (delay <= window)
    _lead("H3", "2024-01-02 09:00:00", "high", "r1"),   # 4 h 1 s: late
    _lead("H4", "2024-01-03 09:00:00", "high", "r1"),   # never touched: miss
    _lead("H5", "2024-01-10 10:00:00", "high"),         # untouched, window open until 14:00: pending
    _lead("H6", "2024-01-10 09:00:00", "high"),         # touched at 11:00 by r2 (no owner): within
    _lead("H7", "2024-01-10 07:00:00", "high"),         # window closed 11:00, touch at 13:00 after as_of: miss
    _lead("H8", "2024-01-10 09:00:00", "high"),         # touch at 12:30 after as_of, window open: pending
    _lead("M1", "2024-01-05 10:00:00", "moderate", "r2", "white paper"),  # touched 30 min before MQL
    _lead("M2", "2024-01-11 00:00:00", "moderate"),     # MQL at the period end: not in the period
    _lead("M3", "2023-12-31 23:59:59", "moderate"),     # before the period
    _lead("N1", "2024-01-04 00:00:00", "", "r2"),       # no tier: default (moderate) 24 h window, touched at 24 h
    _lead("X1", "", "high", "r1"),                      # never an MQL
]
SPEED_ACTS = [
    ("H1", "2024-01-02 12:00:00", "r1"), ("H1", "2024-01-03 12:00:00", "r1"),
    ("H2", "2024-01-02 13:00:00", "r1"),
    ("H3", "2024-01-02 13:00:01", "r1"),
    ("H6", "2024-01-10 11:00:00", "r2"),
    ("H7", "2024-01-10 13:00:00", "r3"),
    ("H8", "2024-01-10 12:30:00", "r3"),
    ("M1", "2024-01-05 09:30:00", "r2"),
    ("N1", "2024-01-05 00:00:00", "r2"),
    ("X1", "2024-01-05 00:00:00", "r1"),
]


@pytest.fixture
def speed_crm(crm_dir, tmp_path):
    acts = [{"activity_id": f"A{i}", "lead_id": lid, "occurred_at": at, "type": "call", "rep_id": rep}
            for i, (lid, at, rep) in enumerate(SPEED_ACTS)]
    return _open(crm_dir, tmp_path, SPEED_LEADS, acts)


def test_lead_status_by_hand(speed_crm):
    t = c.lead_status(speed_crm, TIERS, *PERIOD, AS_OF).to_pandas().set_index("lead_id")
    assert sorted(t.index) == ["H1", "H2", "H3", "H4", "H5", "H6", "H7", "H8", "M1", "N1"]
    assert t.status.to_dict() == {
        "H1": "within", "H2": "within", "H3": "late", "H4": "not contacted", "H5": "pending",
        "H6": "within", "H7": "not contacted", "H8": "pending", "M1": "within", "N1": "within"}
    assert t.loc["M1", "touched_before_mql"] and t.loc["M1", "hours_to_first_touch"] == 0
    assert t.loc["N1", "tier"] is None and t.loc["N1", "response_hours"] == 24
    assert t.loc["H6", "owner"] == "r2" and t.loc["H4", "owner"] == "r1" and t.loc["H5", "owner"] is None
    assert pd.isna(t.loc["H8", "first_touch_at"])  # after as_of: not known yet
    assert t.loc[["H4", "H5", "H7", "H8"], "hours_to_first_touch"].isna().all()


def test_speed_to_lead_by_tier_by_hand(speed_crm):
    out = c.speed_to_lead(speed_crm, TIERS, *PERIOD, AS_OF, total=True).set_index("tier")
    assert list(out.index) == ["(none)", "high", "moderate", "all"]
    high = out.loc["high"]
    assert (high.mqls, high.pending, high.decided, high.within, high.late, high.never_contacted) == (8, 2, 6, 3, 1, 2)
    assert high.share_within == 0.5 and high.response_hours == 4
    low, hi = wilson_interval(3, 6)
    assert (high.share_within_low, high.share_within_high) == (pytest.approx(low), pytest.approx(hi))
    # touched high leads: 2, 3, 4 and 4 + 1/3600 h; quantile_cont: 3.5 and 4 + 0.7/3600
    assert high.median_hours == pytest.approx(3.5)
    assert high.p90_hours == pytest.approx(4 + 0.7 / 3600)
    assert out.loc["moderate", ["mqls", "within", "touched_before_mql"]].tolist() == [1, 1, 1]
    assert out.loc["(none)", "within"] == 1 and out.loc["(none)", "response_hours"] == 24
    tot = out.loc["all"]
    assert (tot.mqls, tot.pending, tot.decided, tot.within) == (10, 2, 8, 5)
    assert np.isnan(tot.response_hours)  # mixed windows


def test_speed_to_lead_by_owner(speed_crm):
    out = c.speed_to_lead(speed_crm, TIERS, *PERIOD, AS_OF, by="owner").set_index("owner")
    # r1: H1-H4; r2: H6 (rep of its first activity), M1, N1; none: H5, H7, H8 (untouched by as_of)
    assert out.mqls.to_dict() == {"(none)": 3, "r1": 4, "r2": 3}
    assert out.loc["r1", "share_within"] == 0.5
    assert out.loc["r2", "share_within"] == 1.0
    assert (out.loc["(none)", "pending"], out.loc["(none)", "never_contacted"]) == (2, 1)


def test_speed_to_lead_in_business_hours(speed_crm):
    bh = {"days": "mon-fri", "hours": [9, 17], "timezone": "UTC"}
    out = c.speed_to_lead(speed_crm, TIERS, *PERIOD, AS_OF, business_hours=bh).set_index("tier")
    high = out.loc["high"]
    # H7: MQL Wed 07:00, as_of 12:00 -> 3 business hours elapsed < 4: pending in business hours
    # (a clock-hour miss); H5 (2 h) and H8 (3 h) pending too; H4 untouched for days: miss.
    assert (high.pending_bh, high.decided_bh, high.within_bh, high.never_contacted_bh) == (3, 5, 3, 1)
    assert high.share_within_bh == pytest.approx(3 / 5)
    # business delays of H1, H2, H3, H6: 3, 4, 4 + 1/3600, 2 h (all inside 9-17 on weekdays)
    assert high.median_business_hours == pytest.approx(3.5)
    # N1: MQL Thu 00:00, touched Fri 00:00 -> 8 business hours (Thu 9-17)
    t = c.lead_status(speed_crm, TIERS, *PERIOD, AS_OF, business_hours=c.BusinessHours()).to_pandas()
    bh_delay = t.set_index("lead_id").business_hours_to_first_touch
    assert bh_delay["N1"] == pytest.approx(8.0) and bh_delay["M1"] == 0  # touched before its MQL
    assert bh_delay[["H4", "H5", "H7", "H8"]].isna().all()  # not touched: no delay


def test_speed_to_lead_without_mql_at_uses_created_at(crm_dir, tmp_path):
    """conftest's export has no mql_at: every lead is an MQL at created_at. L1 high touched after
    1 h, L2 low after exactly 48 h (within), L3 moderate never (a miss)."""
    crm = open_crm(prepare_inputs(crm_dir(), as_of=RUN_AS_OF, cache_root=tmp_path / "c"))
    out = c.speed_to_lead(crm, TIERS, datetime(2024, 1, 1), datetime(2024, 2, 1), datetime(2024, 2, 1))
    assert out.set_index("tier")[["mqls", "within", "never_contacted"]].to_dict("index") == {
        "high": {"mqls": 1, "within": 1, "never_contacted": 0},
        "low": {"mqls": 1, "within": 1, "never_contacted": 0},
        "moderate": {"mqls": 1, "within": 0, "never_contacted": 1}}


# --------------------------------------------------------------------------- survival curve

def test_kaplan_meier_by_hand():
    # 5 leads: bin 1 has 2 touches and 1 censored, bin 2 one touch, one lead beyond the range
    km = c.kaplan_meier([0, 2, 1, 0], [0, 1, 0, 1])
    assert km.at_risk.tolist() == [5, 5, 2, 1]
    assert km.untouched_share.tolist() == pytest.approx([1.0, 0.6, 0.3, 0.3])
    assert (km.untouched_low <= km.untouched_share).all() and (km.untouched_high >= km.untouched_share).all()


def test_curve_on_tiny_crm(speed_crm):
    curve = c.time_to_first_touch_curve(speed_crm, *PERIOD, AS_OF, max_hours=6)
    high = curve[curve.tier == "high"].set_index("hours")
    # high: touches at 2, 3, 4, 4h+1s; censored (as_of - mql): H4 171 h (beyond), H5 2 h, H7 5 h, H8 3 h
    # bins ((k-1) h, k h]: touches in bins 2, 3, 4, 5; censorings in bins 2, 3, 5 and beyond 6
    assert high.touched.tolist() == [0, 0, 1, 1, 1, 1, 0]
    assert high.censored.tolist() == [0, 0, 1, 1, 0, 1, 0]
    assert high.at_risk.tolist() == [8, 8, 8, 6, 4, 3, 1]
    s = np.cumprod([1, 1, 1 - 1 / 8, 1 - 1 / 6, 1 - 1 / 4, 1 - 1 / 3, 1])
    assert high.untouched_share.tolist() == pytest.approx(s)
    assert curve[curve.tier == "moderate"].untouched_share.iloc[0] == 0  # touched before MQL: 0 h


# --------------------------------------------------------------------------- cadence

CADENCE_TIERS = {"high": {"response_hours": 4, "touches": 3, "timeframe_days": 10},
                 "moderate": {"response_hours": 24, "touches": 2, "timeframe_days": 5},
                 "low": {"response_hours": 48, "touches": 1, "timeframe_days": 5}}


@pytest.fixture
def cadence_crm(crm_dir, tmp_path):
    t0 = pd.Timestamp("2024-01-01 00:00:00")
    day = pd.Timedelta(days=1)
    plan = {  # lead: touch offsets in days (timeframe 10 days: touches at >= 10 d do not count)
        "C1": [0.1, 2, 5, 10],       # 3 inside (the one at exactly 10 d is outside): to protocol
        "C2": [0.1, 1, 2, 3],        # 3 + break-up: to protocol, not over-worked
        "C3": [0.1, 1, 2, 3, 4],     # over-worked
        "C4": [0.1],                 # converted (deal on day 4): converted early
        "C5": [0.1],                 # deal on day 19, after the timeframe: abandoned early
        "C6": [0.1, 1, 11, 12],      # 2 inside: abandoned early
        "C7": [],                    # never touched: abandoned early
        "C8": [0.1],                 # MQL 2024-01-25: timeframe ends after as_of, left out
    }
    leads, acts = [], []
    for lid in plan:
        mql = t0 + (24 if lid == "C8" else 0) * day
        leads.append({"lead_id": lid, "created_at": str(mql), "source": "webinar", "tier": "high",
                      "mql_at": str(mql)})
        for k, off in enumerate(plan[lid]):
            acts.append({"activity_id": f"{lid}-{k}", "lead_id": lid, "occurred_at": str(mql + off * day),
                         "type": "email" if lid == "C3" and k == 4 else "call"})
    deals = [{"deal_id": "D1", "lead_id": "C4", "created_at": str(t0 + 4 * day), "stage": "open"},
             {"deal_id": "D2", "lead_id": "C5", "created_at": str(t0 + 19 * day), "stage": "open"}]
    return _open(crm_dir, tmp_path, leads, acts, deals)


def test_cadence_by_hand(cadence_crm):
    out = c.cadence_table(cadence_crm, CADENCE_TIERS, datetime(2024, 1, 1), datetime(2024, 2, 1),
                          datetime(2024, 2, 1)).set_index("tier")
    high = out.loc["high"]
    assert (high.mqls_in_period, high.leads) == (8, 7)
    assert (high.to_protocol, high.over_worked, high.converted_early, high.abandoned_early) == (3, 1, 1, 3)
    assert high.never_touched == 1
    assert high.median_touches == 2  # touches 3, 4, 5, 1, 1, 2, 0
    assert high.share_to_protocol == pytest.approx(3 / 7)
    lo, hi = wilson_interval(3, 7)
    assert (high.share_abandoned_early_low, high.share_abandoned_early_high) == (pytest.approx(lo), pytest.approx(hi))
    assert (high.protocol_touches, high.timeframe_days, high.breakup_touches) == (3, 10, 1)
    assert high.small_sample
    # counting calls only, C3 has 4 touches: to protocol but no longer over-worked
    calls = c.cadence_table(cadence_crm, CADENCE_TIERS, datetime(2024, 1, 1), datetime(2024, 2, 1),
                            datetime(2024, 2, 1), touch_types=["call"]).iloc[0]
    assert (calls.to_protocol, calls.over_worked) == (3, 0)
    # the page's four outcomes add up to the tier's 7 leads: 2 to protocol, 1 beyond it, 1 converted, 3 abandoned
    assert (high.to_protocol_only, high.share_to_protocol_only) == (2, pytest.approx(2 / 7))
    shares = ["share_to_protocol_only", "share_over_worked", "share_converted_early", "share_abandoned_early"]
    assert sum(high[s] for s in shares) == pytest.approx(1.0)
    from sla_analysis.report.columns import readable
    shown = readable(out.reset_index(), ["tier", *shares], inline=True).iloc[0]
    assert shown["Abandoned early"] == f"42.9% ({lo:.1%} – {hi:.1%})" and list(shown.index)[-1] == ""  # few leads flag


def test_cadence_leaves_out_open_timeframes(cadence_crm):
    # as_of 2024-01-10 23:59: no high lead has finished its 10 days
    out = c.cadence_table(cadence_crm, CADENCE_TIERS, datetime(2024, 1, 1), datetime(2024, 2, 1),
                          datetime(2024, 1, 10, 23, 59))
    assert out.leads.tolist() == [0] and out.mqls_in_period.tolist() == [8]
    assert np.isnan(out.share_to_protocol.iloc[0])


# --------------------------------------------------------------------------- attempts by hour

def test_attempts_by_hour_weekday(crm_dir, tmp_path):
    leads = [{"lead_id": "L1", "created_at": "2024-01-01 00:00:00", "source": "webinar"}]
    acts = [  # Tue 2024-01-02 23:30 UTC = Wed 00:30 in Berlin
        {"activity_id": "A1", "lead_id": "L1", "occurred_at": "2024-01-02 23:30:00", "type": "call", "outcome": "Connected"},
        {"activity_id": "A2", "lead_id": "L1", "occurred_at": "2024-01-02 23:40:00", "type": "call", "outcome": "no_answer"},
        {"activity_id": "A3", "lead_id": "L1", "occurred_at": "2024-01-02 23:50:00", "type": "call", "outcome": ""},
        {"activity_id": "A4", "lead_id": "L1", "occurred_at": "2024-01-02 23:55:00", "type": "email", "outcome": "sent"},
        {"activity_id": "A5", "lead_id": "L1", "occurred_at": "2024-02-02 10:00:00", "type": "call", "outcome": "connected"},
    ]
    crm = _open(crm_dir, tmp_path, leads, acts)
    out = c.attempts_by_hour_weekday(crm, datetime(2024, 1, 1), datetime(2024, 2, 1), timezone="Europe/Berlin")
    assert len(out) == 7 * 24 and out.attempts.sum() == 4
    cell = out[(out.weekday == 2) & (out.hour == 0)].iloc[0]
    assert cell.weekday_name == "wed"
    assert (cell.attempts, cell.calls, cell.calls_with_outcome, cell.connected) == (4, 3, 2, 1)
    assert cell.connect_rate == 0.5
    utc = c.attempts_by_hour_weekday(crm, datetime(2024, 1, 1), datetime(2024, 2, 1))
    assert utc[(utc.weekday == 1) & (utc.hour == 23)].attempts.iloc[0] == 4
    assert np.isnan(out.connect_rate.iloc[0])
    # A1 is the lead's first attempt in the whole export: one first attempt in the grid
    assert out.first_attempts.sum() == 1 and cell.first_attempts == 1


def _grid(cells: dict[tuple[int, int], tuple[int, int]]) -> pd.DataFrame:
    """A 7 x 24 grid with {(weekday, hour): (attempts, first_attempts)}, other cells empty."""
    rows = [{"weekday": d, "hour": h, "attempts": cells.get((d, h), (0, 0))[0],
             "first_attempts": cells.get((d, h), (0, 0))[1]} for d in range(7) for h in range(24)]
    return pd.DataFrame(rows)


def test_working_hours_and_the_busiest_hour_by_hand():
    # Monday to Friday 09:00-17:00, 10 attempts an hour, 1 of them a first; Monday 09:00 has 60,
    # 45 of them first attempts; one stray Saturday attempt and one at 22:00 are below a tenth
    cells = {(d, h): (10, 1) for d in range(5) for h in range(9, 17)}
    cells[(0, 9)] = (60, 45)
    cells[(5, 11)] = (1, 0)
    cells[(2, 22)] = (1, 0)
    grid = _grid(cells)
    wh = c.working_hours(grid)
    total = 39 * 10 + 60 + 2
    assert (wh["days"], wh["start"], wh["end"]) == ([0, 1, 2, 3, 4], 9, 17)
    assert wh["share"] == pytest.approx((total - 2) / total)
    text = c.working_hours_sentence(grid, wh, "Europe/Berlin")
    average = (39 * 10 + 60) / 40
    assert "Monday to Friday, 09:00 to 17:00 (Europe/Berlin time)" in text
    assert f"Monday 09:00 (60 attempts, {60 / average:.1f} times an average working hour)" in text
    assert "75% of its attempts were a lead's first, against 10% in the other working hours" in text
    assert "first working hour after the days off" in text
    # the same peak on a Wednesday afternoon follows no days off: no such claim
    cells[(0, 9)], cells[(2, 14)] = (10, 1), (60, 45)
    assert "days off" not in c.working_hours_sentence(_grid(cells), c.working_hours(_grid(cells)))
    # around the clock, every day: no working hours; nothing at all: None and no sentence
    flat = _grid({(d, h): (5, 1) for d in range(7) for h in range(24)})
    assert c.working_hours(flat) is None
    assert "no working hours stand out" in c.working_hours_sentence(flat, None)
    assert c.working_hours(_grid({})) is None and c.working_hours_sentence(_grid({}), None) == ""


def test_mqls_outside_working_hours_and_the_clock_hours_sentence(crm_dir, tmp_path):
    # Mon 2024-01-01 10:00 (inside), Mon 20:00 (outside), Sat 10:00 (outside), Tue 07:59 (outside)
    leads = [{"lead_id": f"L{i}", "created_at": t, "source": "webinar", "mql_at": t}
             for i, t in enumerate(["2024-01-01 10:00:00", "2024-01-01 20:00:00", "2024-01-06 10:00:00",
                                    "2024-01-02 07:59:00"])]
    crm = _open(crm_dir, tmp_path, leads, [{"activity_id": "A1", "lead_id": "L0", "occurred_at": "2024-01-01 11:00:00",
                                            "type": "call"}])
    hours = {"days": [0, 1, 2, 3, 4], "start": 8, "end": 18, "share": 1.0}
    assert c.mqls_outside_hours(crm, datetime(2024, 1, 1), datetime(2024, 2, 1), hours) == (3, 4)
    # 10:00 UTC is 11:00 in Berlin, 20:00 is 21:00, 07:59 is 08:59 (now inside)
    assert c.mqls_outside_hours(crm, datetime(2024, 1, 1), datetime(2024, 2, 1), hours, "Europe/Berlin") == (2, 4)
    text = c.clock_hours_sentence(hours, 3, 4)
    assert "clock hours" in text and "75% of the period's MQLs (3 of 4)" in text
    assert c.clock_hours_sentence(None, 3, 4) == "" and c.clock_hours_sentence(hours, 0, 0) == ""


# --------------------------------------------------------------------------- the sample

ALL = (datetime(2000, 1, 1), datetime(2030, 1, 1))


def test_the_sample_floor_works_its_hours(sample_crm):
    """The generator's SDRs work Monday to Friday, 08:00-18:00 (SampleParams.work_hours): read back
    from when the attempts were made, and Monday 08:00 carries the weekend's first calls."""
    from sla_analysis.io.sample import SampleParams
    grid = c.attempts_by_hour_weekday(sample_crm, *ALL)
    wh = c.working_hours(grid)
    assert (wh["days"], (wh["start"], wh["end"])) == ([0, 1, 2, 3, 4], SampleParams().work_hours)
    assert wh["share"] == 1.0
    assert "Monday 08:00" in c.working_hours_sentence(grid, wh) and "after the days off" in c.working_hours_sentence(grid, wh)
    # what page 05 records: the hours and the MQLs arriving outside them, only while the windows count clock hours
    times = c.when_attempts_were_made(sample_crm, *ALL, None)
    summary = times.summary()
    assert summary["days"] == ["mon", "tue", "wed", "thu", "fri"] and summary["hours"] == [8, 18]
    assert summary["mqls_outside_share"] == pytest.approx(times.outside / times.mqls) and 0.5 < times.outside / times.mqls < 0.8
    assert "clock hours" in c.clock_hours_note(times)
    office = c.when_attempts_were_made(sample_crm, *ALL, {"days": "mon-fri", "hours": [8, 18], "timezone": "UTC"})
    assert office.outside is None and c.clock_hours_note(office) == "" and office.summary()["mqls_outside_share"] is None


def test_share_within_window_is_the_truth(sample_crm, sample_truth):
    """Over every MQL of the sample, with as_of after the end (nothing pending), the share touched
    within the tier's window (never contacted = miss) is the generator's figure."""
    out = c.speed_to_lead(sample_crm, TIERS, *ALL, as_of=ALL[1]).set_index("tier")
    truth = sample_truth["first_touch_within_window"]
    assert set(out.index) == set(truth)
    assert out.pending.sum() == 0
    for tier, share in truth.items():
        assert out.loc[tier, "share_within"] == pytest.approx(share, abs=1e-9), tier
    curve = c.time_to_first_touch_curve(sample_crm, *ALL, as_of=ALL[1], max_hours=48)
    for tier, share in truth.items():
        window = TIERS[tier].response_hours
        s = curve[(curve.tier == tier) & (curve.hours == window)].untouched_share.iloc[0]
        assert 1 - s == pytest.approx(share, abs=1e-9), tier


def test_sample_figures_match_pandas(sample_crm, sample_dir):
    start, stop, as_of = datetime(2024, 1, 1), datetime(2024, 4, 1), datetime(2024, 4, 1)
    leads = pd.read_parquet(sample_dir / "leads.parquet")
    acts = pd.read_parquet(sample_dir / "activities.parquet")
    m = leads[(leads.mql_at >= start) & (leads.mql_at < stop)].set_index("lead_id")
    first = acts[acts.occurred_at < as_of].groupby("lead_id").occurred_at.min().reindex(m.index)
    delay = ((first - m.mql_at).dt.total_seconds() / 3600).clip(lower=0)
    window = m.tier.map({t: p.response_hours for t, p in TIERS.items()})
    pending = first.isna() & (m.mql_at + pd.to_timedelta(window, unit="h") >= as_of)
    got = c.speed_to_lead(sample_crm, TIERS, start, stop, as_of, by="source").set_index("source")
    for source, g in m.groupby("source"):
        r = got.loc[source]
        assert r.mqls == len(g) and r.pending == pending[g.index].sum()
        assert r.within == (delay[g.index] <= window[g.index]).sum()
        assert r.median_hours == pytest.approx(delay[g.index].median())
        assert r.p90_hours == pytest.approx(delay[g.index].quantile(0.9))
    # cadence, high tier: touches before mql_at + 90 days, for MQLs whose 90 days ended by as_of
    cad_as_of = datetime(2024, 7, 1)
    cad = c.cadence_table(sample_crm, TIERS, start, stop, cad_as_of).set_index("tier").loc["high"]
    h = m[(m.tier == "high") & (m.mql_at + pd.Timedelta(days=90) <= cad_as_of)]
    a = acts.merge(h.mql_at.rename("mql_at"), left_on="lead_id", right_index=True)
    touches = a[a.occurred_at < a.mql_at + pd.Timedelta(days=90)].groupby("lead_id").size().reindex(h.index, fill_value=0)
    assert cad.leads == len(h)
    assert cad.to_protocol == (touches >= 15).sum() and cad.over_worked == (touches > 16).sum()
    assert cad.median_touches == pytest.approx(touches.median())


def test_without_attempts_speed_and_cadence_are_absent_not_zero(tmp_path):
    """An export whose mapping says it has no contact attempts: speed to lead, cadence and
    attempts-to-SQL are NaN (null in summary.json) with the reason, never 0% or 0.0."""
    from sla_analysis.analyses import kpis
    from tests.helpers import ACTIVITIES, DEALS, LEADS, open_export
    leads = [dict(r, mql_at=r["created_at"], sql_at="2024-01-09 00:00:00" if r["lead_id"] == "L1" else "")
             for r in LEADS]
    crm = open_export(tmp_path, leads, ACTIVITIES, DEALS)
    start, stop, as_of = datetime(2024, 1, 1), datetime(2024, 2, 1), datetime(2024, 3, 1)
    before = c.speed_to_lead(crm, TIERS, start, stop, as_of, total=True).set_index("tier")
    assert before.loc["all", "share_within"] > 0
    crm.manifest.setdefault("unavailable", {})["activities"] = "the export holds opportunities only"
    stl = c.speed_to_lead(crm, TIERS, start, stop, as_of, total=True).set_index("tier")
    assert stl.loc["all", "mqls"] == 3 and stl.share_within.isna().all() and stl.never_contacted.isna().all()
    assert stl.attrs["unavailable"] == "the export holds opportunities only"
    cad = c.cadence_table(crm, TIERS, start, stop, datetime(2024, 12, 1))
    assert cad.leads.sum() > 0 and cad.share_to_protocol.isna().all() and cad.median_touches.isna().all()
    to_sql = kpis.attempts_to_sql(crm, start, stop, as_of)
    assert to_sql["n"] == 1 and np.isnan(to_sql["mean"]) and to_sql["note"] == "the export holds opportunities only"


def test_best_hour_is_named_only_when_it_stands_out():
    """Ten hours of 1,000 calls: one at 30% against 20% elsewhere stands out; 21.5% against 20%
    (inside what ten comparisons' chance allows) does not."""
    def grid(best):
        return pd.DataFrame({"hour": range(8, 18), "calls_with_outcome": 1000,
                             "connected": [best] + [200] * 9})
    assert c.best_hour_sentence(grid(300), 30) == (
        "Of the calls among these attempts, 21% reached a person; the best hour was 8:00: 30% of its 1,000 calls (26%–34%).")
    assert c.best_hour_sentence(grid(215), 30).endswith("; no hour of the day stands out from the others.")
    assert c.best_hour_sentence(grid(300), 2000) == "Of the calls among these attempts, 21% reached a person."
