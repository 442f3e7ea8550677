"""Facts computed once per export (io/facts.py): the first touches the pages slice give exactly
what ranking the activities again gives, ties and reps included."""
from datetime import datetime

import pandas as pd

from sla_analysis.analyses import compliance as cp
from sla_analysis.io.engine import CRM
from sla_analysis.io.facts import FACTS, FIRST_TOUCHES
from tests.helpers import open_export

LEADS = [
    {"lead_id": "L1", "created_at": "2024-01-02 08:00:00", "mql_at": "2024-01-02 09:00:00", "source": "web", "tier": "high"},
    {"lead_id": "L2", "created_at": "2024-01-03 08:00:00", "mql_at": "2024-01-03 09:00:00", "source": "web", "tier": "low"},
    {"lead_id": "L3", "created_at": "2024-01-04 08:00:00", "mql_at": "2024-01-04 09:00:00", "source": "ads", "tier": "low"},
    {"lead_id": "L4", "created_at": "2024-01-05 08:00:00", "mql_at": "2024-01-05 09:00:00", "source": "ads", "tier": "high"},
]
ACTIVITIES = [  # L1: two attempts at the same minute, the lower id has no rep; L4: touched after as_of
    {"activity_id": "A2", "lead_id": "L1", "occurred_at": "2024-01-02 10:00:00", "type": "call", "rep_id": "r2"},
    {"activity_id": "A1", "lead_id": "L1", "occurred_at": "2024-01-02 10:00:00", "type": "call", "rep_id": ""},
    {"activity_id": "A3", "lead_id": "L2", "occurred_at": "2024-01-05 12:00:00", "type": "call", "rep_id": "r3"},
    {"activity_id": "A4", "lead_id": "L2", "occurred_at": "2024-01-04 09:00:00", "type": "email", "rep_id": "r4"},
    {"activity_id": "A5", "lead_id": "L4", "occurred_at": "2024-03-01 09:00:00", "type": "call", "rep_id": "r5"},
]
DEALS = [{"deal_id": "D1", "lead_id": "L1", "created_at": "2024-01-10 00:00:00", "stage": "won", "amount": "1000"}]
JAN, FEB = datetime(2024, 1, 1), datetime(2024, 2, 1)


def without_facts(crm: CRM) -> CRM:
    """The same export as an engine without cached facts sees it (a warehouse)."""
    return CRM(crm.cache_dir, crm.manifest, {k: v for k, v in crm.tables.items() if k not in FACTS})


def _touches(crm, as_of):
    t = cp.first_touch_table(crm, JAN, FEB, as_of).order_by("lead_id").to_pandas()
    return t[["lead_id", "first_touch_at", "first_rep", "owner", "hours_to_first_touch", "touched_before_mql"]]


def test_first_touches_are_cached_once_and_sliced_by_as_of(tmp_path):
    crm = open_export(tmp_path, LEADS, ACTIVITIES, DEALS)
    assert FIRST_TOUCHES in crm.tables and crm.manifest["facts"] == {FIRST_TOUCHES: 3}
    got = _touches(crm, FEB).set_index("lead_id")
    # L1: the tie at 10:00 goes to A1, whose rep is blank (not to A2's r2); L4's touch is after as_of
    assert got.first_touch_at.astype(str).to_dict() == {"L1": "2024-01-02 10:00:00", "L2": "2024-01-04 09:00:00",
                                                        "L3": "NaT", "L4": "NaT"}
    assert got.first_rep.where(got.first_rep.notna(), None).to_dict() == {"L1": None, "L2": "r4", "L3": None, "L4": None}
    assert got.hours_to_first_touch.round(6).tolist()[:2] == [1.0, 24.0]
    later = _touches(crm, None).set_index("lead_id")
    assert str(later.first_touch_at["L4"]) == "2024-03-01 09:00:00" and later.first_rep["L4"] == "r5"
    for as_of in (FEB, None, datetime(2024, 1, 4, 9, 0)):  # the last: as_of at L2's first touch itself
        pd.testing.assert_frame_equal(_touches(crm, as_of), _touches(without_facts(crm), as_of))


def test_cached_first_touches_match_the_ranked_activities_on_the_sample(sample_crm):
    start, end = datetime(2024, 1, 1), datetime(2024, 4, 1)
    plain = without_facts(sample_crm)
    for as_of in (end, datetime(2024, 2, 15)):
        a = cp.first_touch_table(sample_crm, start, end, as_of).order_by("lead_id").to_pandas()
        b = cp.first_touch_table(plain, start, end, as_of).order_by("lead_id").to_pandas()
        assert len(a) > 1000 and a.first_touch_at.notna().sum() > 1000
        pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(cp.attempts_by_hour_weekday(sample_crm, start, end),
                                  cp.attempts_by_hour_weekday(plain, start, end))


def test_first_touches_of_an_export_without_reps(tmp_path):
    """No ``rep_id`` column: the first touches are cached with a blank rep, as ranking gives."""
    acts = [{k: v for k, v in r.items() if k != "rep_id"} for r in ACTIVITIES]
    crm = open_export(tmp_path, LEADS, acts, DEALS)
    got = _touches(crm, FEB)
    assert got.first_rep.isna().all() and got.first_touch_at.notna().sum() == 2
    pd.testing.assert_frame_equal(got, _touches(without_facts(crm), FEB))
