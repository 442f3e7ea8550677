"""Real public data that no one here wrote, end to end (``make validate-real``; needs ``../shared``).

Each report's figures are checked against the same figures computed here independently, straight from
the published CSV files with the standard library, following the documented definitions.
"""
from __future__ import annotations

import csv
import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from sla_analysis.analyses.stats import wilson_interval
from sla_analysis.io.adapters.bank_marketing import NOT_RECORDED

pytestmark = pytest.mark.real
ROOT = Path(__file__).resolve().parents[1]
DATASETS = ROOT.parent / "shared" / "datasets"
BANK_CSV = DATASETS / "bank_marketing" / "bank-full.csv"
OLIST = DATASETS / "olist_marketing_funnel"


def cli(*args):
    return subprocess.run([sys.executable, "-m", "sla_analysis", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=900)


@pytest.fixture(scope="module", autouse=True)
def datasets_present():
    if not (BANK_CSV.is_file() and OLIST.is_dir()):
        pytest.fail(f"make validate-real needs the public datasets in {DATASETS}")


def _rows(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh, delimiter=";" if "bank" in path.name else ","))


def test_bank_marketing_report_says_conversion_falls_from_the_first_attempt(tmp_path):
    """UCI Bank Marketing through its adapter into the contract and the whole report."""
    rows = _rows(BANK_CSV)
    subscribed = sum(r["y"] == "yes" for r in rows)
    data = tmp_path / "bank"
    res = cli("adapt", "bank-marketing", "--source", str(BANK_CSV), "--out", str(data))
    assert res.returncode == 0, res.stderr
    res = cli("report", "--period", "2011Q1", "--data", str(data), "--config",
              str(ROOT / "examples" / "bank_marketing" / "sla.yml"), "--out", str(tmp_path / "out"))
    assert res.returncode == 0, res.stderr
    s = json.loads((tmp_path / "out" / "2011Q1" / "summary.json").read_text())
    # every client is settled by 2011Q1; attempts = the `campaign` column
    assert s["stale_cohorts"]["leads"] == len(rows) and s["stale_cohorts"]["customers"] == subscribed
    assert s["stale_cohorts"]["attempts"] == sum(int(r["campaign"]) for r in rows)
    p = s["plateau"]
    assert p["hazard_shape"] == "falls from attempt 1 onward"
    assert p["contacted_leads"] == len(rows) and p["censored_leads"] == 0
    # the highest attempt number at least min_group_size (30) clients reached
    reached = [int(r["campaign"]) for r in rows]
    assert p["support_max_attempts"] == max(k for k in range(1, 100) if sum(c >= k for c in reached) >= 30)
    assert p["cohort_method_attempts"] == 1 and p["ci_low"] <= p["recommended_attempts"] <= p["ci_high"]
    # what the call history does not record is said, not judged (the adapter's unavailable.yml)
    declared = {"first_touch": NOT_RECORDED["first_touch_times"], "outcomes": NOT_RECORDED["call_outcomes"],
                "mql_time": NOT_RECORDED["mql_times"], "attempt_time": NOT_RECORDED["attempt_times"]}
    assert {k: s["limits"][k] for k in declared} == declared
    # the rest is what the export's profile finds it lacks: the bank exports subscriptions only (no
    # lost deals), no tiers, scores, owners, rejections or recycling
    assert set(s["limits"]) - set(declared) == {"lost_deals", "tiers", "scores", "owners", "rejected", "recycled"}
    assert s["limits"]["lost_deals"] == s["export_profile"]["facts"]["lost_deals"]["reason"]
    speed = [p for p in s["compliance"]["promises"] if p["promise"] == "speed to lead"]
    assert [p["status"] for p in speed] == ["not available"]
    assert s["speed_to_lead_value"]["adjusted_available"] is False and s["speed_to_lead_value"]["bands"] == []
    compliance = (tmp_path / "out" / "2011Q1" / "05_sla_compliance.html").read_text()
    assert "Speed to lead: not available in this data." in compliance
    assert "100% within" not in compliance
    page = (tmp_path / "out" / "2011Q1" / "03_profitability_plateau.html").read_text()
    assert "Conversion per attempt falls from attempt 1 onward" in page
    assert "Sample data." not in page


def test_olist_report_computes_close_rates_and_says_what_it_cannot(tmp_path):
    """Olist's marketing funnel through examples/olist/mapping.yml (read from ../shared, never copied)."""
    res = cli("report", "--period", "2018Q2", "--data", str(OLIST), "--profile",
              str(ROOT / "examples" / "olist" / "mapping.yml"), "--config", str(ROOT / "examples" / "olist" / "sla.yml"),
              "--out", str(tmp_path / "out"))
    assert res.returncode == 0, res.stderr
    report = tmp_path / "out" / "2018Q2"
    s = json.loads((report / "summary.json").read_text())

    # Independently: MQLs whose first contact falls in the settled window [2017-04-02, 2018-04-02)
    # (2018Q2 ends 2018-07-01; 90 days to settle, 365 days of look-back), won if they have a closed
    # deal not dated before the MQL (the mapping counts the one such deal out) and won before the
    # period's end (what was known then: no look-ahead; the file runs to November 2018).
    mqls = {r["mql_id"]: r for r in _rows(OLIST / "olist_marketing_qualified_leads_dataset.csv")}
    deals = _rows(OLIST / "olist_closed_deals_dataset.csv")
    linked = {d["mql_id"] for d in deals if d["won_date"][:10] >= mqls[d["mql_id"]]["first_contact_date"][:10]}
    assert len(linked) == len(deals) - 1
    won = {d["mql_id"] for d in deals if d["mql_id"] in linked and d["won_date"][:10] < "2018-07-01"}
    assert 0 < len(won) < len(linked)
    by_origin: dict[str, list[int]] = {}
    for m in mqls.values():
        if date(2017, 4, 2) <= date.fromisoformat(m["first_contact_date"][:10]) < date(2018, 4, 2):
            counts = by_origin.setdefault(m["origin"] or "unknown", [0, 0])
            counts[0] += 1
            counts[1] += m["mql_id"] in won
    got = s["lead_value"]["by_source"]
    assert set(got) == set(by_origin)
    for origin, (n, k) in by_origin.items():
        assert (got[origin]["mqls"], got[origin]["customers"]) == (n, k), origin
        assert got[origin]["close_rate"] == pytest.approx(k / n, abs=1e-6)
        lo, hi = wilson_interval(k, n, 0.95)
        assert got[origin]["close_rate_ci"] == pytest.approx([float(lo), float(hi)], abs=1e-6)
        assert got[origin]["avg_revenue_per_customer"] is None  # no amounts: unknown, not zero

    # What it could not compute is said, on the pages and in summary.json, not fabricated
    assert {"attempts", "revenue"} <= set(s["limits"])
    names = {"revenue": "amounts", "attempts": "attempts", "first_touch": "first_touch", "attempt_time": "attempt_times",
             "rejected": "rejected_dates", "recycled": "recycled_dates"}
    facts = s["export_profile"]["facts"]
    for key, reason in s["limits"].items():  # every limit is the profile's reason for the fact it lacks
        assert reason == facts[names.get(key, key)]["reason"], key
    assert [p["status"] for p in s["compliance"]["promises"]] == ["not available"] * 3
    assert s["plateau"].get("recommended_attempts") is None
    index = (report / "index.html").read_text()
    assert "Not available: the deals have no amounts" in index
    compliance = (report / "05_sla_compliance.html").read_text()
    assert "Speed to lead: not available in this data." in compliance
    assert "The Olist funnel data records no contact attempts." in compliance
    assert "not available" in (report / "04_lead_value_targets.html").read_text()


LEADFORGE = DATASETS / "leadforge_b2b_synthetic" / "tables"


def test_leadforge_synthetic_bundle_is_read_and_counted_as_its_files_say(tmp_path):
    """The third-party synthetic B2B bundle (leads, sales activities with a rep and an outcome,
    opportunities with an ACV) through examples/leadforge/mapping.yml, read from ../shared: the
    close rates by source, the contact rate and the stale leads equal counts made here from the
    Parquet files; what the bundle lacks (tiers, scores, rejections, recycling) is said."""
    import pandas as pd

    if not LEADFORGE.is_dir():
        pytest.fail(f"make validate-real needs {LEADFORGE}")
    res = cli("report", "--period", "2024Q1", "--data", str(LEADFORGE), "--profile",
              str(ROOT / "examples" / "leadforge" / "mapping.yml"), "--config", str(ROOT / "examples" / "leadforge" / "sla.yml"),
              "--out", str(tmp_path / "out"))
    assert res.returncode == 0, res.stderr
    s = json.loads((tmp_path / "out" / "2024Q1" / "summary.json").read_text())
    leads = pd.read_parquet(LEADFORGE / "leads.parquet")
    opps = pd.read_parquet(LEADFORGE / "opportunities.parquet")
    acts = pd.read_parquet(LEADFORGE / "sales_activities.parquet")
    # every lead (January 2024) is settled by 2024Q1's end (30 days to settle); a customer has a won deal
    won = set(opps.lead_id[opps.stage == "closed_won"])
    assert (s["stale_cohorts"]["leads"], s["stale_cohorts"]["customers"]) == (len(leads), len(won))
    for source, group in leads.groupby("lead_source"):
        got = s["lead_value"]["by_source"][source]
        k = int(group.lead_id.isin(won).sum())
        assert (got["mqls"], got["customers"]) == (len(group), k), source
        lo, hi = wilson_interval(k, len(group), 0.95)
        assert got["close_rate_ci"] == pytest.approx([float(lo), float(hi)], abs=1e-6)
        acv = opps[opps.lead_id.isin(group.lead_id) & (opps.stage == "closed_won")].estimated_acv
        assert got["avg_revenue_per_customer"] == pytest.approx(float(acv.mean()), abs=0.01)
    calls = acts[acts.activity_type == "call"]
    contact = s["kpis"]["contact_rate"]
    assert contact["n"] == len(calls) and contact["value"] == pytest.approx((calls.activity_outcome == "connected").mean(), abs=1e-6)
    assert {"tiers", "scores", "rejected", "recycled"} <= set(s["limits"]) and "attempts" not in s["limits"]
    assert s["export_profile"]["facts"]["lost_deals"]["detail"] == f"{int((opps.stage == 'closed_lost').sum()):,} lost deals"
    assert s["plateau"]["recommended_attempts"] is not None  # attempts, outcomes and amounts: a cap is estimated
