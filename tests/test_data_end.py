"""How far the data reaches: the latest end among the event columns; a column holding dates only reaches
the end of its last day, a column with times its last time."""
from datetime import datetime

from sla_analysis.io.engine import open_crm
from sla_analysis.io.ingest import prepare_inputs
from tests.helpers import ACTIVITIES, DEALS, LEADS, open_export, write_csv


def _open_dates_only(folder, leads, deals):
    d = folder / "export"
    d.mkdir()
    write_csv(d / "leads.csv", leads)
    write_csv(d / "activities.csv", [dict(a, occurred_at=leads[0]["created_at"]) for a in ACTIVITIES])
    write_csv(d / "deals.csv", deals, ["deal_id", "lead_id", "created_at", "stage", "amount"])
    return open_crm(prepare_inputs(d, as_of=datetime(2024, 7, 1), cache_root=folder / "cache"))


def test_last_event_counts_deal_dates(tmp_path):
    # last lead 01-04 11:00, last attempt 01-05 10:00, but a deal created 01-10 and closed 01-20
    deals = [dict(DEALS[0], closed_at="2024-01-20 15:30:00")]
    crm = open_export(tmp_path, LEADS, ACTIVITIES, deals)
    assert crm.last_event_at() == datetime(2024, 1, 20, 15, 30)  # columns with times end at their last time
    assert crm.first_event_at() == datetime(2024, 1, 2, 9)


def test_dates_only_export_reaches_the_end_of_its_last_day(tmp_path):
    leads = [dict(r, created_at=r["created_at"][:10]) for r in LEADS]
    deals = [dict(r, created_at=r["created_at"][:10]) for r in DEALS]
    crm = _open_dates_only(tmp_path, leads, deals)
    # every event is a date: the data reaches the end of 2024-01-10, not its first instant
    assert crm.last_event_at() == datetime(2024, 1, 11)


def test_single_date_export_covers_that_day(tmp_path):
    leads = [dict(r, created_at="2024-03-01") for r in LEADS]
    crm = _open_dates_only(tmp_path, leads, [])
    assert crm.first_event_at() == datetime(2024, 3, 1)
    assert crm.last_event_at() == datetime(2024, 3, 2)


def test_dates_only_deals_reach_the_end_of_their_day_beside_timed_leads(tmp_path):
    """Timed leads and attempts, deals dated by day: a deal closed on the last day is in the data
    (its column reaches the end of the day), however early the last timed event was."""
    deals = [dict(DEALS[0], created_at="2024-01-10", closed_at="2024-01-20")]
    crm = open_export(tmp_path, LEADS, ACTIVITIES, deals)
    assert crm.last_event_at() == datetime(2024, 1, 21)
