"""Issue #15's "done when", for the export kind the public datasets in ``../shared`` do not cover: a
lead-scoring export with **no timestamps and no amounts** (like the 9,240-lead "X Education" file:
one row per lead with its source, segment and whether it converted, no dates, no deal values, no
contact attempts). A user maps it with one date for every row, the day of the export.

The whole report is published from it and every figure is either right (checked against counts
made here from the CSV) or says plainly why it is not available: ``null`` in ``summary.json``,
"not available" on the page, never 0, never ranked. (The other two kinds run in ``make
validate-real`` on the real files: Olist's opportunities-only funnel with no attempts and no
amounts, and Bank Marketing through its adapter; the ``bank-additional-full`` variant is read in
``tests/test_bank_marketing.py``.)
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sla_analysis.analyses.stats import wilson_interval
from tests.helpers import write_csv

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
EXPORT_DAY = "2024-03-15"
SOURCES = ("google", "direct traffic", "olark chat", "organic search", "reference")
SEGMENTS = ("unemployed", "working professional", "student")
N_LEADS = 2400


def scoring_export(folder: Path) -> tuple[Path, list[dict], list[dict]]:
    """Leads (one date, source, segment, score) and a won deal without an amount for each converted
    lead: what the scoring export maps to. It records no contact attempts, and says so in the
    contract folder's ``unavailable.yml`` (an activities file with a header only is refused)."""
    rng = np.random.default_rng(15)
    rates = dict(zip(SOURCES, (0.30, 0.35, 0.25, 0.38, 0.90)))
    leads, deals = [], []
    for i in range(N_LEADS):
        source = SOURCES[rng.choice(len(SOURCES), p=[0.32, 0.28, 0.2, 0.13, 0.07])]
        lead = {"lead_id": f"X{i:05d}", "created_at": EXPORT_DAY, "source": source,
                "segment": SEGMENTS[rng.integers(len(SEGMENTS))], "score": str(int(rng.integers(0, 100)))}
        leads.append(lead)
        if rng.random() < rates[source]:
            deals.append({"deal_id": f"D{i:05d}", "lead_id": lead["lead_id"], "created_at": EXPORT_DAY,
                          "stage": "won", "closed_at": EXPORT_DAY})
    data = folder / "scoring"
    data.mkdir()
    write_csv(data / "leads.csv", leads)
    write_csv(data / "deals.csv", deals)
    (data / "unavailable.yml").write_text(f"activities: {NO_ATTEMPTS}\n")
    return data, leads, deals


NO_ATTEMPTS = "the lead-scoring export records no contact attempts"
#: the only keys a 0 may sit under in summary.json on this export: counts, which are really 0
COUNT_KEYS = {"n", "decided", "pending", "excluded_rows", "mqls", "rows", "compared", "customers", "leads"}


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("scoring")
    data, leads, deals = scoring_export(tmp)
    res = subprocess.run([sys.executable, "-m", "sla_analysis", "report", "--period", "2024Q1", "--data", str(data),
                          "--out", str(tmp / "reports")], cwd=ROOT, capture_output=True, text=True, timeout=1500)
    assert res.returncode == 0, res.stderr[-3000:]
    report = tmp / "reports" / "2024Q1"
    return report, json.loads((report / "summary.json").read_text()), leads, deals


def numbers(node, path=""):
    """Every number in summary.json, with its path."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield from numbers(v, f"{path}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from numbers(v, f"{path}[{i}]")
    elif isinstance(node, (int, float)) and not isinstance(node, bool):
        yield path, node


def test_what_the_export_lacks_is_named(published):
    _, s, _, _ = published
    assert s["limits"]["attempts"] == NO_ATTEMPTS
    # every limit is the export profile's reason for the fact it lacks; no tier, owner, score band...
    assert {"attempts", "revenue", "timeline", "lost_deals"} <= set(s["limits"])
    facts = s["export_profile"]["facts"]
    assert s["limits"]["lost_deals"] == facts["lost_deals"]["reason"] and "no lost deals" in facts["lost_deals"]["reason"]
    assert s["limits"]["revenue"] == facts["amounts"]["reason"]
    assert "15 Mar 2024" in s["limits"]["timeline"]


def test_no_figure_is_zero_only_counts_are(published):
    """Absent is never zero: every 0 left in summary.json is a count that really is 0 (no attempt
    was decided, no MQL is old enough to be settled); money, speed, attempts, cadence, days and
    rates per month the export cannot support are null."""
    _, s, _, _ = published
    zeros = [p for p, v in numbers(s) if v == 0 and not p.startswith(".export_profile.rows.")]  # rows per table: counts
    assert zeros and all(p.rsplit(".", 1)[-1].split("[")[0] in COUNT_KEYS for p in zeros), zeros
    assert s["cost"]["attempts"] is None and s["stale_cohorts"]["attempts"] is None
    assert s["sdr_capacity"] == {"mqls_per_month": None, "sdrs_needed_by_sql_output": None,
                                 "sdrs_needed_by_workload": [None, None], "sdrs_with_leads": None}
    assert s["kpis"]["mql_to_sql_days"]["value"] is None and s["kpis"]["attempts_to_sql"]["value"] is None
    funnel = dict(s["lead_value"]["funnel_per_month"])
    assert funnel.pop("why") == s["limits"]["timeline"] and set(funnel.values()) == {None}
    assert [p["status"] for p in s["compliance"]["promises"]] == ["not available"] * 3
    assert s["plateau"].get("recommended_attempts") is None
    proposal_kpis = {k["kpi"]: k["baseline"] for k in s["proposal"]["kpis"]}
    assert proposal_kpis["MQLs delivered a month"] is None and not s["proposal"]["capacity"]["available"]


def test_what_it_supports_is_right(published):
    """MQLs, SQLs (first opportunity) and won deals per source, counted here from the CSV."""
    _, s, leads, deals = published
    won = {d["lead_id"] for d in deals}
    assert s["compliance"]["mqls"] == len(leads)
    k = s["kpis"]["mql_to_sql"]
    lo, hi = wilson_interval(len(won), len(leads), 0.95)
    assert (k["n"], k["value"]) == (len(leads), pytest.approx(len(won) / len(leads), abs=1e-6))
    assert k["interval"] == pytest.approx([float(lo), float(hi)], abs=1e-6)
    # every deal exported is won: a win rate of 100% would stand for "losses not exported"
    assert s["kpis"]["win_rate_by_source"] == {"available": False, "reason": s["limits"]["lost_deals"]}
    assert s["kpis"]["deal_win_rate"]["value"] is None


def test_pages_say_what_is_not_available(published):
    report, _, _, _ = published
    index = (report / "index.html").read_text()
    assert "Expected value of the MQLs marketing delivered</td><td class='num'>not available: the deals have no amounts" in index
    pages = {p.name: p.read_text() for p in report.glob("0*.html")}
    assert "Speed to lead: not available in this data." in pages["05_sla_compliance.html"]
    assert "Cadence: not available in this data." in pages["05_sla_compliance.html"]
    assert "Not available for 2024-01, 2024-02: the export has no data for those months" in pages["05_sla_compliance.html"]
    assert "Attempts logged and their average cost: not available" in pages["02_cost_per_call.html"]
    assert "Days between attempts: not available" in pages["01_stale_lead_cohorts.html"]
    assert "The funnel per month: not available" in pages["04_lead_value_targets.html"]
    assert "logged <strong>0 attempts" not in pages["02_cost_per_call.html"]
    assert "<img" not in pages["04_lead_value_targets.html"]  # no chart of zeros
    assert "<img" not in pages["01_stale_lead_cohorts.html"]
    # and no sentence describes a chart or table the page does not show
    assert "Each dot is the share of a group" not in pages["01_stale_lead_cohorts.html"]
    assert "Days from one attempt to the next" not in pages["01_stale_lead_cohorts.html"]
    assert "In the chart each line is the share" not in pages["05_sla_compliance.html"]
    assert "by what they got" not in pages["05_sla_compliance.html"]


# --------------------------------------------------------------------------------------------
# bank-additional-full: the weekday variant of the Bank Marketing call history, through its adapter
# --------------------------------------------------------------------------------------------

BANK_HEADER = ["age", "job", "marital", "education", "default", "housing", "loan", "contact", "month",
               "day_of_week", "duration", "campaign", "pdays", "previous", "poutcome", "emp.var.rate", "y"]
BANK_MONTHS = ["may", "jun", "jul", "aug", "oct", "nov", "dec", "mar", "apr", "may", "jun", "jul", "aug", "nov"]


def bank_additional_export(folder: Path) -> tuple[Path, list[dict]]:
    """A ``bank-additional-full.csv`` look-alike (``;``, quoted text, ``day_of_week`` instead of
    ``day``, rows in call order): 14 campaign months of 2008-2009, three weeks of weekdays each,
    the chance of subscribing falling with each extra call (as on the real file)."""
    rng = np.random.default_rng(41188)
    rows = []
    for month in BANK_MONTHS:
        for _week in range(3):
            for wd in ("mon", "tue", "wed", "thu", "fri"):
                for _ in range(12):
                    campaign = int(min(rng.geometric(0.4), 25))
                    y = rng.random() < 0.16 * 0.8 ** (campaign - 1)
                    rows.append({"age": "41", "job": str(rng.choice(["admin.", "technician", "services", "retired"])),
                                 "marital": "married", "education": "university.degree", "default": "no",
                                 "housing": "yes", "loan": "no", "contact": str(rng.choice(["cellular", "telephone"])),
                                 "month": month, "day_of_week": wd, "duration": str(int(rng.integers(0, 900))),
                                 "campaign": str(campaign), "pdays": "999", "previous": "0", "poutcome": "nonexistent",
                                 "emp.var.rate": "1.1", "y": "yes" if y else "no"})
    numeric = {"age", "duration", "campaign", "pdays", "previous", "emp.var.rate"}
    lines = [";".join(f'"{h}"' for h in BANK_HEADER)]
    lines += [";".join(r[h] if h in numeric else f'"{r[h]}"' for h in BANK_HEADER) for r in rows]
    path = folder / "bank-additional-full.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, rows


@pytest.fixture(scope="module")
def bank_published(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bank-additional")
    path, rows = bank_additional_export(tmp)
    run = [sys.executable, "-m", "sla_analysis"]
    res = subprocess.run([*run, "adapt", "bank-marketing", "--source", str(path), "--out", str(tmp / "adapted")],
                         cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    res = subprocess.run([*run, "report", "--period", "2009Q4", "--data", str(tmp / "adapted"), "--config",
                          str(ROOT / "examples" / "bank_marketing" / "sla.yml"), "--out", str(tmp / "reports")],
                         cwd=ROOT, capture_output=True, text=True, timeout=1500)
    assert res.returncode == 0, res.stderr[-3000:]
    report = tmp / "reports" / "2009Q4"
    return report, json.loads((report / "summary.json").read_text()), rows


def test_bank_additional_figures_are_right(bank_published):
    """2009Q4 (the data ends in November 2009): every client but November's is settled 90 days
    before the period's end; their number, subscriptions and calls are the file's."""
    _, s, rows = bank_published
    settled = rows[:-3 * 5 * 12]  # all but the last month's three weeks
    c = s["stale_cohorts"]
    assert (c["leads"], c["customers"]) == (len(settled), sum(r["y"] == "yes" for r in settled))
    assert c["attempts"] == sum(int(r["campaign"]) for r in settled)
    p = s["plateau"]
    assert p["contacted_leads"] == len(rows)
    assert p["ci_low"] <= p["recommended_attempts"] <= p["ci_high"]


def test_bank_additional_says_what_the_call_history_lacks(bank_published):
    """The adapter's placed first calls and last-call-only outcomes are not judged: speed to lead,
    what speed is worth and contact rates are not available, with the reason; every 0 left in
    summary.json is a count."""
    report, s, _ = bank_published
    # what the adapter declares, and what the export's profile finds it lacks (bank calls have no
    # lost deals, tiers, scores, owners, rejections or recycling)
    declared = {"first_touch", "outcomes", "mql_time", "attempt_time"}
    assert declared <= set(s["limits"]) and s["limits"]["first_touch"] == s["export_profile"]["facts"]["first_touch"]["reason"]
    assert set(s["limits"]) - declared == {"lost_deals", "tiers", "scores", "owners", "rejected", "recycled"}
    assert s["stale_cohorts"]["median_days_between_attempts"] is None  # the adapter's one-day spacing
    assert s["kpis"]["mql_to_sql_days"]["value"] is None
    speed = [p for p in s["compliance"]["promises"] if p["promise"] == "speed to lead"]
    assert [p["status"] for p in speed] == ["not available"]
    assert s["kpis"]["contact_rate"]["value"] is None and s["speed_to_lead_value"]["bands"] == []
    zeros = [p for p, v in numbers(s) if v == 0 and not p.startswith(".export_profile.rows.")]
    assert all(p.rsplit(".", 1)[-1].split("[")[0] in COUNT_KEYS for p in zeros), zeros
    compliance = (report / "05_sla_compliance.html").read_text()
    assert "Speed to lead: not available in this data." in compliance
    assert "does not record when a client became a lead or was first called" in compliance
    assert "100% within" not in compliance and "Of the calls among these attempts" not in compliance
    assert "When attempts were made: not available in this data." in compliance
    assert "Days between attempts: not available" in (report / "01_stale_lead_cohorts.html").read_text()
    assert "Conversion by time to first attempt: not available" in (report / "07_proposed_sla.html").read_text()
    assert s["lead_value"]["delivered_by_month"]["2009-12"] is None  # after the data's end: unknown, not 0
