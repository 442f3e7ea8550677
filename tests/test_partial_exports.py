"""Partial exports, end to end: each export of the corpus (``tests/partial_exports.py``) lacks one
thing; its report publishes through the CLI, the export's profile says it lacks it with a reason
generated from the data, every figure that needs it is null ("not available" on the page, with
that reason), never 0, 0%, $0 or 100%, and the figures that do not need it equal counts made here
from the export's own files.
"""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
import yaml

from sla_analysis import paths
from sla_analysis.io.sample import SampleParams, write_sample
from sla_analysis.report.appearances import agrees, stored
from tests.cli_runner import run_cli
from tests.partial_exports import CORPUS, Partial, write_partial
from tests.schema_check import assert_valid_summary

pytestmark = pytest.mark.slow


def _get(summary: dict, path: str):
    """``a/b/c`` in the summary (``*`` = every key of that level, as a list)."""
    here = [summary]
    for key in path.split("/"):
        here = [v for h in here for v in (h.values() if key == "*" else [h[key]])]
    return here


#: per missing fact, the figures of summary.json that need it: each must be null
NULL_WITHOUT = {
    "lost_deals": ["kpis/deal_win_rate/value", "kpis/deal_win_rate_settled/value"],
    "amounts": ["mql_value_by_source/*", "lead_value/funnel_per_month/avg_deal_value", "lead_value/funnel_per_month/lead_value",
                "lead_value/funnel_per_month/value_per_lead", "stale_cohorts/by_attempts/*/revenue",
                "kpis/sql_pipeline_value/value", "plateau/recommended_attempts", "mqls_needed"],
    "timeline": ["lead_value/funnel_per_month/leads", "lead_value/funnel_per_month/customers"],
    "attempts": ["plateau/recommended_attempts", "compliance/first_touch_within_window/*",
                 "stale_cohorts/by_attempts/*/attempts_cost"],
    "recycled_dates": ["handoff/rejection/outcomes/recycled to marketing/mqls",
                       "handoff/rejection/outcomes/recycled to marketing/share"],
}
#: per missing fact, the summary entries that say "not available" with the profile's reason
REASON_AT = {
    "lost_deals": ["kpis/win_rate_by_source/reason", "kpis/win_rate_by_rep/reason"],
    "amounts": ["limits/revenue", "plateau/reason"],
    "timeline": ["lead_value/funnel_per_month/why", "limits/timeline"],
    "attempts": ["limits/attempts", "plateau/reason"],
    "tiers": ["proposal/sales/tiers/*/timeframe_days/reason"],
    "scores": ["limits/scores"],
    "owners": ["limits/owners"],
    "rejected_dates": ["limits/rejected"],
    "recycled_dates": ["limits/recycled"],
}


@pytest.fixture(scope="module")
def small_sample(tmp_path_factory) -> Path:
    """A 6,000-lead sample CRM (2023-2024; its attempts and deals run into 2025)."""
    return write_sample(tmp_path_factory.mktemp("corpus-sample"), replace(SampleParams(), n_leads=6000, seed=11))


@pytest.fixture(scope="module")
def reports(small_sample, tmp_path_factory) -> dict[str, tuple[Path, Path, str]]:
    """Every export of the corpus written and reported once: name -> (export, report folder, stderr)."""
    root = tmp_path_factory.mktemp("corpus")
    out = {}
    for p in CORPUS:
        export = write_partial(small_sample, p, root / p.name / "export")
        config = root / p.name / "config.yml"
        config.write_text(yaml.safe_dump({**yaml.safe_load((paths.DEFAULT_CONFIG).read_text()), **p.config}))
        res = run_cli(["report", "--period", p.period, "--data", str(export), "--config", str(config),
                       "--out", str(root / p.name / "out")], timeout=900)
        assert res.returncode == 0, (p.name, res.stderr[-3000:])
        out[p.name] = (export, root / p.name / "out" / p.period, res.stderr)
    return out


@pytest.mark.parametrize("partial", CORPUS, ids=lambda p: p.name)
def test_a_partial_export_publishes_and_says_what_it_lacks(partial: Partial, reports):
    export, report, stderr = reports[partial.name]
    assert "warning (" not in stderr, stderr  # a page's warning is a failure here, never printed onto a page
    summary = json.loads((report / "summary.json").read_text())
    assert_valid_summary(summary)
    # every figure the index shows is the stored one (#29's appearance map)
    recorded = json.loads((report / "appearances.json").read_text())
    assert recorded  # the index shows at least the rows read
    assert [r for r in recorded if not agrees(r["shown"], stored(summary, r["figure"]))] == []
    facts = summary["export_profile"]["facts"]
    absent = {k for k, f in facts.items() if not f["present"]}
    if partial.fact is None:
        assert absent == set(), absent
        return
    reason = facts[partial.fact]["reason"]
    assert partial.fact in absent and reason
    # the facts that need the one removed go with it, and nothing else does
    follows = {"attempts": {"call_outcomes", "call_durations", "first_touch", "attempt_times"},
               "timeline": {"first_touch", "attempt_times"}}
    assert absent == {partial.fact} | follows.get(partial.fact, set()), absent
    for path in NULL_WITHOUT.get(partial.fact, []):
        values = _get(summary, path)
        assert values and all(v is None for v in values), (path, values)
    for path in REASON_AT.get(partial.fact, []):
        said = _get(summary, path)
        assert said and all(reason in s for s in said), (path, said, reason)
    index = (report / "index.html").read_text()
    assert "What this export can and cannot tell" in index and _html(reason) in index


def _html(text: str) -> str:
    import html
    return html.escape(text, quote=True)


@pytest.mark.parametrize("partial", CORPUS, ids=lambda p: p.name)
def test_what_the_export_holds_is_counted_as_its_files_say(partial: Partial, reports):
    """Figures that need nothing removed equal counts made from the export's own files: its rows, its
    won deals, its stale leads (MQLs of the cohort window; by creation date in an export without
    MQL dates), the last day it reaches."""
    export, report, _ = reports[partial.name]
    summary = json.loads((report / "summary.json").read_text())
    tables = {p.stem: pd.read_parquet(p) for p in export.glob("*.parquet")}
    declared = {n: 0 for n in partial.unavailable}  # a table unavailable.yml declares absent is empty
    assert summary["export_profile"]["rows"] == {**declared, **{n: len(t) for n, t in tables.items()}}
    deals = tables["deals"]
    stages = deals.stage.value_counts()
    facts = summary["export_profile"]["facts"]
    assert facts["won_deals"]["detail"] == f"{stages.get('won', 0):,} won deals"
    if "lost" in stages:
        assert facts["lost_deals"]["detail"] == f"{stages['lost']:,} lost deals"
    start, stop = (pd.Timestamp(d) for d in summary["stale_cohorts"]["window"])
    leads = tables["leads"]
    entered = leads.mql_at if "mql_at" in leads else leads.created_at  # a lead entered when it became an MQL
    assert summary["stale_cohorts"]["leads"] == int(((entered >= start) & (entered < stop)).sum())
    dates = pd.concat([t[c] for t in tables.values() for c in t.columns if pd.api.types.is_datetime64_any_dtype(t[c])])
    assert summary["export_profile"]["last_day"] == f"{dates.max():%Y-%m-%d}"


def test_a_report_in_euros_shows_no_dollar(reports):
    _, report, _ = reports["in_euros"]
    summary = json.loads((report / "summary.json").read_text())
    assert summary["currency"] == "EUR"
    import re
    for page in report.glob("*.html"):  # every table cell and the index: the report's own money, in euros
        text = page.read_text()
        cells = re.findall(r"<td[^>]*>([^<]*)</td>", text)
        assert not [c for c in cells if "$" in c], page.name
        assert "dollar" not in text.lower(), page.name
    assert "$" not in (report / "index.html").read_text() and " EUR" in (report / "index.html").read_text()
    proposal = (report / "sla_proposal.md").read_text()
    assert "$" not in proposal and " EUR" in proposal


def test_a_period_after_the_leads_is_not_judged_as_a_miss(reports):
    _, report, _ = reports["after_the_data"]
    summary = json.loads((report / "summary.json").read_text())
    marketing = summary["compliance"]["promises"][0]
    assert marketing["status"] == "not available" and marketing["actual"] is None, marketing
    assert summary["kpis"]["sql_pipeline_value"]["value"] is None
    assert not summary["proposal"]["capacity"]["available"]
    assert "before 2025Q4 began" in summary["proposal"]["capacity"]["reason"]
