"""What the export can tell (``io/export_profile.py``): each fact worked out from the data, its reason
generated from what the export shows, and the days it covers, on hand-written exports whose answer
is known by reading them."""
from __future__ import annotations

import json
from datetime import date, datetime

from sla_analysis.io.export_profile import PROFILE_FILE
from tests.helpers import ACTIVITIES, DEALS, LEADS, open_export

LOST = {"deal_id": "D2", "lead_id": "L2", "created_at": "2024-01-08 00:00:00", "stage": "lost", "amount": "0"}


def test_what_a_small_export_can_and_cannot_tell(tmp_path):
    crm = open_export(tmp_path, LEADS, ACTIVITIES, DEALS)
    p = crm.profile
    assert p.rows == {"leads": 3, "activities": 3, "deals": 1}
    assert p.first_day == date(2024, 1, 2) and p.last_day == date(2024, 1, 10)  # the won deal's day is the last
    assert p.data_end == datetime(2024, 1, 11) == crm.last_event_at()
    assert p.has("attempts") and p.facts["attempts"].detail == "3 attempts"
    assert p.has("won_deals") and p.has("amounts") and p.has("tiers") and p.has("timeline")
    # one won deal and no lost one: a win rate would read 100%
    assert not p.has("lost_deals")
    assert p.reason("lost_deals").startswith("the export records no lost deals (deals by stage: 1 won)")
    assert p.reason("scores") == "the leads have no score column, so the export records no lead scores"
    assert p.reason("recycled_dates") == ("the leads have no recycled_at column, so the export records no leads "
                                          "recycled to marketing")
    assert p.unmet("attempts", "amounts") is None and p.unmet("attempts", "lost_deals") == p.reason("lost_deals")
    assert {"lost_deals", "scores", "recycled"} <= set(crm.limits()) and "revenue" not in crm.limits()


def test_amounts_blank_or_all_zero_are_no_amounts(tmp_path):
    blank = open_export(tmp_path / "blank", LEADS, ACTIVITIES, [dict(DEALS[0], amount=""), dict(LOST, amount="")])
    assert blank.profile.reason("amounts") == ("the deals' amount column is blank in every row, so revenue and the "
                                               "value of a lead are unknown")
    assert blank.limits()["revenue"] == blank.profile.reason("amounts")
    zero = open_export(tmp_path / "zero", LEADS, ACTIVITIES, [dict(DEALS[0], amount="0"), LOST])
    assert zero.profile.reason("amounts") == "every deal's amount is 0, so revenue and the value of a lead are unknown"
    assert zero.profile.has("lost_deals") and zero.profile.facts["lost_deals"].detail == "1 lost deal"


def test_a_constant_column_tells_nothing(tmp_path):
    leads = [dict(r, score="50") for r in LEADS]
    crm = open_export(tmp_path, leads, ACTIVITIES, DEALS)
    assert crm.profile.column("leads", "score").filled == 3 and not crm.profile.column("leads", "score").informative
    assert crm.profile.reason("scores") == ("every lead has the same score (50.0), so the lead scores cannot tell one "
                                            "lead from another")


def test_the_timeline_is_the_funnels_and_the_data_reaches_every_dated_column(tmp_path):
    """Leads, attempts and deals all on one day, rejections five days later: no timeline (the time
    from MQL to deal is unknown), and the reason says the rejections are dated otherwise; the data
    reaches the day of the last rejection."""
    day = "2024-03-01 00:00:00"
    leads = [dict(r, created_at=day, rejected_at="2024-03-06 00:00:00" if r["lead_id"] == "L2" else "") for r in LEADS]
    acts = [dict(a, occurred_at=day) for a in ACTIVITIES]
    opened = [dict(DEALS[0], created_at=day, stage="open", amount="")]
    crm = open_export(tmp_path / "rejected", leads, acts, opened)
    assert not crm.profile.has("timeline") and crm.profile.has("rejected_dates") and crm.single_day() == date(2024, 3, 1)
    assert crm.profile.reason("timeline") == ("every lead, attempt and deal in the export is dated the same day (01 Mar "
                                              "2024); only the rejections are dated otherwise, so the time between events "
                                              "and rates per month are unknown")
    assert (crm.profile.first_day, crm.profile.last_day) == (date(2024, 3, 1), date(2024, 3, 6))
    assert crm.last_event_at() == datetime(2024, 3, 7)
    flat = open_export(tmp_path / "flat", [dict(r, created_at=day) for r in LEADS], acts, opened)
    assert flat.single_day() == date(2024, 3, 1) and "timeline" in flat.limits()
    assert flat.profile.reason("timeline").startswith("every lead, attempt and deal in the export is dated the same day "
                                                      "(01 Mar 2024), so")
    moved = [dict(r, created_at="2024-03-02 00:00:00" if r["lead_id"] == "L3" else day) for r in LEADS]
    assert open_export(tmp_path / "two days", moved, acts, opened).profile.has("timeline")
    assert not flat.profile.has("won_deals") and flat.profile.reason("won_deals") == (
        "the export records no won deals (deals by stage: 1 open)")


def test_the_profile_is_kept_and_a_mappings_declarations_lie_over_it(tmp_path):
    crm = open_export(tmp_path, LEADS, ACTIVITIES, DEALS)
    assert crm.profile.has("attempts")
    kept = json.loads((crm.cache_dir / PROFILE_FILE).read_text())
    assert kept["facts"]["attempts"]["present"] and kept["last_day"] == "2024-01-10"
    # what a mapping's unavailable.yml says the export does not record is absent with its reason,
    # and takes every fact on attempts with it; what the data shows is unchanged on disk
    crm.manifest["unavailable"] = {"activities": "the export holds opportunities only"}
    p = crm.profile
    assert [p.reason(f) for f in ("attempts", "call_outcomes", "first_touch")] == ["the export holds opportunities only"] * 3
    assert crm.limits()["attempts"] == "the export holds opportunities only" and p.has("won_deals")
    assert json.loads((crm.cache_dir / PROFILE_FILE).read_text()) == kept
