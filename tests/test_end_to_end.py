"""The CLI from the outside: publish, refuse bad parameters and input, never publish half a report."""
import json
import re
import subprocess
from pathlib import Path

import pytest

from sla_analysis import paths
from sla_analysis.errors import NotebookFailed
from sla_analysis.report import run as report_run
from tests.cli_runner import run_cli
from tests.helpers import LEADS

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]


def cli(*args, cwd=ROOT):
    """``python -m sla_analysis *args``, forked from a server that imported the CLI once
    (:mod:`tests.cli_runner`); the session's published reports are made by a real process (conftest)."""
    return run_cli(list(args), cwd=cwd, timeout=900)


@pytest.fixture(scope="module")
def published(published_sample):
    """The sample's 2024Q1 and 2023Q1, published by the CLI once per session (conftest)."""
    return published_sample


def test_pages_exist_and_summary_matches_truth(published, sample_truth):
    report = published / "2024Q1"
    pages = ["index.html", *[f"{n}.html" for n in paths.REPORT_NOTEBOOKS]]
    assert all((report / p).is_file() for p in pages)
    assert all((report / "notebooks" / f"{n}.ipynb").is_file() for n in paths.REPORT_NOTEBOOKS)
    s = json.loads((report / "summary.json").read_text())
    assert s["period"] == {"label": "2024Q1", "kind": "quarter", "start": "2024-01-01", "end_exclusive": "2024-04-01",
                           "months": ["2024-01", "2024-02", "2024-03"]}
    assert set(s["inputs"]) == {"leads", "activities", "deals", "reps"} and s["inputs"]["leads"]["rows"] == 24_000
    assert s["cost_per_call"] == pytest.approx(sample_truth["cost_per_call"])
    assert s["cost"]["calls_per_hour_measured"] == pytest.approx(sample_truth["calls_per_hour"], rel=0.05)
    assert s["lead_value_target"] == pytest.approx(4_000_000 * 0.6)
    for source, value in s["mql_value_by_source"].items():
        lo, hi = s["lead_value"]["by_source"][source]["mql_value_ci"]
        half = (hi - lo) / 2
        assert abs(value - sample_truth["mql_value_by_source"][source]) < 3 * half / 1.96 * 1.5, source
    assert s["mqls_needed"] > 0
    assert (published / "2023Q1" / "summary.json").is_file()
    # the sentences that explain a chart or table are there when it is (issue 16: left out when not)
    assert "Each dot is the share of a group" in (report / "01_stale_lead_cohorts.html").read_text()
    assert "Days from one attempt to the next" in (report / "01_stale_lead_cohorts.html").read_text()
    compliance = (report / "05_sla_compliance.html").read_text()
    assert "In the chart each line is the share" in compliance and "in four outcomes that add up" in compliance
    from openpyxl import load_workbook
    wb = load_workbook(report / "tables.xlsx")
    assert wb.sheetnames[0] == "About" and {"stale cohorts", "profit by attempt cap", "MQL value by source"} <= set(wb.sheetnames)
    about = {r[0].value: r[1].value for r in wb["About"].iter_rows()}
    assert s["inputs"]["leads"]["sha256"] in about["Input: leads"]


@pytest.mark.parametrize("period", ["2024Q1", "2023Q1"])
def test_every_recorded_appearance_agrees_with_the_stored_result(published, period):
    """#29: the run records where each figure is shown (``appearances.json``, from the pages'
    ``data-figure`` elements: the index so far), and each shown number is the stored one."""
    from sla_analysis.report.appearances import agrees, stored, tagged

    report = published / period
    summary = json.loads((report / "summary.json").read_text())
    recorded = json.loads((report / "appearances.json").read_text())
    assert recorded == [{"file": "index.html", **f} for f in tagged((report / "index.html").read_text())]
    assert len(recorded) >= (8 if period == "2024Q1" else 1)
    wrong = [r for r in recorded if not agrees(r["shown"], stored(summary, r["figure"]))]
    assert wrong == []


def test_plateau_and_cohorts_in_the_summary(published, sample_truth):
    s = json.loads((published / "2024Q1" / "summary.json").read_text())
    p = s["plateau"]
    lo, hi = sample_truth["plateau"]["band_2pct"]
    assert isinstance(p["recommended_attempts"], int) and lo <= p["recommended_attempts"] <= hi
    assert p["ci_low"] <= sample_truth["plateau"]["optimal_attempts"] <= p["ci_high"]
    assert p["cohort_method_attempts"] < lo  # the seeds' method stops far too early on the sample
    assert p["cost_per_attempt"] == pytest.approx(sample_truth["cost_per_attempt_used_for_plateau"], rel=0.03)
    assert p["expected_profit_per_lead"] > 0 and p["hazard_shape"] == "falls from attempt 1 onward"
    c = s["stale_cohorts"]
    assert c["window"] == ["2022-12-03", "2023-12-03"]
    assert sum(v["leads"] for v in c["by_attempts"].values()) == c["leads"] > 5000
    page = (published / "2024Q1" / "03_profitability_plateau.html").read_text()
    assert f"Cap follow-up at {p['recommended_attempts']} attempts (interval {p['ci_low']}–{p['ci_high']})" in page
    assert "Conversion per attempt falls from attempt 1 onward" in page


def test_compliance_against_the_generators_truth(published, sample_truth):
    """Speed to lead in the period vs the generator's share over all its MQLs (the process is
    stationary): within 3 standard errors; the scorecard on the index page."""
    s = json.loads((published / "2024Q1" / "summary.json").read_text())
    c = s["compliance"]
    for tier, truth in sample_truth["first_touch_within_window"].items():
        n = c["speed_to_lead"][tier]["decided"]
        assert abs(c["first_touch_within_window"][tier] - truth) < 3 * (truth * (1 - truth) / n) ** 0.5, tier
    assert c["period_progress"] == 1.0 and c["mqls"] == sum(v["mqls"] for k, v in c["speed_to_lead"].items() if k != "all")
    statuses = {p["promise"]: p["status"] for p in c["promises"]}
    assert statuses["speed to lead, high tier"] == "missed"  # the sample's SDRs reach ~75% of high-tier MQLs in 4 h
    k = s["kpis"]
    lo, hi = k["deal_win_rate_settled"]["interval"]
    assert lo <= sample_truth["params"]["win_rate"] <= hi  # the generator wins 1 opportunity in 3
    assert k["contact_rate"]["n"] > 1000 and 0.25 <= k["contact_rate"]["value"] <= 0.3  # 25% + converting calls
    assert s["sdr_capacity"]["sdrs_with_leads"] == sample_truth["params"]["n_sdrs"]
    assert s["sla_review"]["due"] and s["sla_review"]["figures"]["attempt_cap"]["flagged"]
    assert list(s["trend"]) == ["2023Q1", "2023Q2", "2023Q3", "2023Q4", "2024Q1"]
    assert s["trend"]["2024Q1"]["first_touch_within_window"] == c["first_touch_within_window"]["high"]
    index = (published / "2024Q1" / "index.html").read_text()
    assert "SLA review.</strong> Due:" in index
    assert "Scorecard:" in index and "of high-tier MQLs within 4 clock hours" in index
    assert "SLA compliance" in index


def test_period_before_the_data_says_so(published):
    """2023Q1: no lead is old enough to be stale; the pages say what is missing instead of failing
    (published by the session's fixture, exit 0 asserted there)."""
    s = json.loads((published / "2023Q1" / "summary.json").read_text())
    assert s["stale_cohorts"]["leads"] == 0
    page = (published / "2023Q1" / "01_stale_lead_cohorts.html").read_text()
    assert "not available in this data" in page
    # no MQL is old enough to show what an MQL is worth: marketing is not judged on a $0
    marketing = next(p for p in s["compliance"]["promises"] if p["side"] == "marketing")
    assert marketing["status"] == "not available" and marketing["actual"] is None and "old enough" in marketing["reason"]
    index = (published / "2023Q1" / "index.html").read_text()
    assert "delivered $0" not in index and "the deals have no amounts" not in index


def test_period_with_no_data_is_refused(tmp_path, sample_dir):
    """2019: the sample starts in 2023; a scheduled run of a period about which the export says
    nothing is an error (exit 2), not a report of zeros."""
    res = cli("report", "--period", "2019", "--data", str(sample_dir), "--out", str(tmp_path))
    assert res.returncode == 2 and "PERIOD 2019 has no data" in res.stderr and "the export covers" in res.stderr
    assert not (tmp_path / "2019").exists()


def test_html_has_no_code_and_loads_nothing_from_the_network(published):
    for page in (published / "2024Q1").glob("*.html"):
        text = page.read_text()
        assert not re.search(r'class="[^"]*\b(jp-CodeMirrorEditor|highlight hl-ipython3|jp-InputPrompt)\b', text), page.name
        assert "nb.start(" not in text and "ctx.record(" not in text, page.name
        assert "import " not in re.sub(r"<style.*?</style>", "", text, flags=re.S), page.name
        external = re.findall(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//|url\(\s*["']?(?:https?:)?//|@import""", text)
        assert not external, (page.name, external[:3])
        assert "Sample data." in text, page.name  # the banner on every page


def test_provenance_is_apart_from_summary(published):
    prov = json.loads((published / "2024Q1" / "provenance.json").read_text())
    assert {"run_started_utc", "git_commit", "packages", "inputs"} <= set(prov)
    assert "run_started_utc" not in (published / "2024Q1" / "summary.json").read_text()


def test_bad_period_is_refused_and_reports_untouched(published):
    before = sorted(p.name for p in published.iterdir())
    res = cli("report", "--period", "24Q1", "--out", str(published))
    assert res.returncode == 2
    assert "Accepted forms" in res.stderr and len(res.stderr.splitlines()) <= 3
    assert sorted(p.name for p in published.iterdir()) == before


def test_export_missing_lead_id_is_refused_and_nothing_published(tmp_path, crm_dir, published):
    leads = [{k: v for k, v in r.items() if k != "lead_id"} for r in LEADS]
    data = crm_dir(leads=leads)
    out = tmp_path / "out"
    res = cli("report", "--period", "2024Q1", "--data", str(data), "--out", str(out))
    assert res.returncode == 2
    assert "leads.csv: column 'lead_id': required column is missing" in res.stderr
    assert len(res.stderr.splitlines()) < 25 and "Traceback" not in res.stderr
    assert not (out / "2024Q1").exists()


def test_failing_notebook_leaves_previous_report(tmp_path, sample_dir, monkeypatch):
    import nbformat
    out = tmp_path / "out"
    (out / "2024Q1").mkdir(parents=True)
    (out / "2024Q1" / "index.html").write_text("previous report")
    nb_dir = tmp_path / "notebooks"
    nb_dir.mkdir()
    nb = nbformat.v4.new_notebook()
    p = nbformat.v4.new_code_cell('period = ""\ncrm_dir = ""\nconfig_path = ""\nfragments_dir = ""')
    p.metadata["tags"] = ["parameters"]
    nb.cells = [p, nbformat.v4.new_code_cell("x = 1"), nbformat.v4.new_code_cell("raise ValueError('boom')")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, nb_dir / "99_broken.ipynb")
    monkeypatch.setattr(paths, "NOTEBOOKS_DIR", nb_dir)
    with pytest.raises(NotebookFailed, match=r"99_broken.ipynb failed in cell .*ValueError: boom"):
        report_run.run_report("2024Q1", sample_dir, None, out, notebooks=("99_broken",), quiet=True)
    assert (out / "2024Q1" / "index.html").read_text() == "previous report"
    assert [p.name for p in out.iterdir() if p.name.startswith(".staging")] == []


def test_make_refuses_injected_period(tmp_path):
    res = subprocess.run(["make", "-s", "report", "PERIOD=2024Q1; touch pwned", f"OUT={tmp_path}"], cwd=ROOT,
                         capture_output=True, text=True, timeout=600)
    assert res.returncode != 0 and "is not a period" in res.stderr + res.stdout
    assert not (ROOT / "pwned").exists() and not (tmp_path / "pwned").exists()


def test_handoff_against_the_generators_truth(published, sample_truth):
    """Page 06 on the sample: score bands, rejection rates, the return path and the sourced and
    influenced shares hold the generator's truth within their intervals (groups compared together
    with Bonferroni-widened Wilson intervals recomputed from the counts)."""
    import numpy as np

    from sla_analysis.analyses.stats import wilson_interval
    from sla_analysis.io.sample import SampleParams, group_truth, score_band_truth
    h = json.loads((published / "2024Q1" / "summary.json").read_text())["handoff"]
    p, truth = SampleParams(), sample_truth["handoff"]
    assert h["settled_window"] == ["2022-12-03", "2023-12-03"] and h["mqls"] > 8000
    sc = h["score"]
    assert sc["available"] and sc["score_column"] == "score" and sc["threshold"] == 60 and len(sc["bands"]) == 8
    for band, b in sc["bands"].items():
        t = score_band_truth(p, -np.inf if b["low"] is None else b["low"], np.inf if b["high"] is None else b["high"])
        assert b["sql_rate_ci"][0] <= t["sql_rate"] <= b["sql_rate_ci"][1], band
        assert b["close_rate_ci"][0] <= t["close_rate"] <= b["close_rate_ci"][1], band
    diff = score_band_truth(p, 60, 70)["sql_rate"] - score_band_truth(p, 50, 60)["sql_rate"]
    lo, hi = sc["threshold_test"]["sql_rate_difference_ci"]
    assert lo <= diff <= hi and sc["threshold_test"]["below"] == "50-59"
    assert sc["best_threshold"]["ci_bands"][0] == "below 30"  # passing every MQL (the truth) is within the interval
    rej = h["rejection"]
    assert rej["rate_ci"][0] <= truth["rejection"]["rate"] <= rej["rate_ci"][1]
    for source, r in rej["by_source"].items():
        lo, hi = wilson_interval(r["rejected"], r["mqls"], 1 - 0.05 / len(rej["by_source"]))
        assert lo <= truth["rejection"]["rate_by_source"][source] <= hi, source
    for reason, r in rej["by_reason"].items():
        assert r["share_ci"][0] <= truth["rejection"]["reason_share"][reason] <= r["share_ci"][1], reason
    for kind in ("rejected", "recycled"):
        for share in ("requalified_share", "won_share"):
            lo, hi = h["return_path"][kind][f"{share}_ci"]
            assert lo <= truth["return_path"][kind][share] <= hi, (kind, share)
    att = h["attribution"]
    assert att["marketing_share_assumed"] == 0.6
    for key, t in (("sourced", truth["marketing_sourced_share"]), ("influenced", truth["marketing_influenced_share"])):
        for share in ("leads_share", "pipeline_share", "won_revenue_share"):
            lo, hi = att[key][f"{share}_ci"]
            assert lo <= t <= hi, (key, share)
    for section, key, by in (("mql_types", "by_type", "mql_type"), ("personas", "by_persona", "persona"),
                             ("segments", "by_segment", "segment")):
        groups, t = h[section][key], group_truth(p, by)
        assert set(groups) == set(t)
        for g, r in groups.items():
            lo, hi = wilson_interval(r["customers"], r["mqls"], 1 - 0.05 / len(groups))
            assert lo <= t[g]["close_rate"] <= hi, (section, g)
    page = (published / "2024Q1" / "06_lead_qualification.html").read_text()
    assert "not available in this data" not in page
    assert "At the threshold of 60" in page and "contacted, no decision recorded" in page
    # one computation: the cost of working an MQL reads the same on page 06 and on the proposed SLA
    import re
    six = re.search(r"their attempts: (\$[\d,]+) an MQL on average", page)
    seven = re.search(r"the cost of working one \((\$[\d,]+); page", (published / "2024Q1" / "07_proposed_sla.html").read_text())
    assert six and seven and six.group(1) == seven.group(1), (six, seven)


def test_report_without_the_handoff_columns_still_publishes(tmp_path, sample_dir):
    """The sample without the columns page 06 added to the contract: the page publishes, and each
    section that needs them says "not available in this data" (score, segment and the sourced share
    come from the older columns)."""
    import shutil

    import pandas as pd
    data = tmp_path / "old-export"
    data.mkdir()
    for name in ("activities", "deals", "reps"):
        shutil.copy(sample_dir / f"{name}.parquet", data)
    new = ["fit_score", "interest_score", "mql_type", "rejected_at", "rejection_reason", "recycled_at",
           "requalified_at", "marketing_influenced", "persona"]
    pd.read_parquet(sample_dir / "leads.parquet").drop(columns=new).to_parquet(data / "leads.parquet", index=False)
    report = report_run.run_report("2024Q1", data, None, tmp_path / "out", notebooks=("06_lead_qualification",),
                                    quiet=True)
    h = json.loads((report / "summary.json").read_text())["handoff"]
    assert {k for k in ("score", "mql_types", "rejection", "return_path", "attribution", "segments", "personas")
            if not h[k]["available"]} == {"mql_types", "rejection", "return_path", "personas"}
    assert "influenced" not in h["attribution"] and h["attribution"]["sourced"]["leads_share"] > 0.85
    page = (report / "06_lead_qualification.html").read_text()
    assert page.count("not available in this data") == 4
    assert "The leads have no mql_type column" in page and "Sample data." not in page


def test_a_config_with_every_optional_key_omitted_publishes(tmp_path, sample_dir):
    """The decisions issue's blocker: every key of the config is optional. With none set (no score
    threshold, business hours, baseline, goals or agreement date) on the sample, where page 06 finds
    a score threshold in the data, the whole report publishes and proposes that threshold."""
    config = tmp_path / "empty.yml"
    config.write_text("# every key left to its default\n")
    res = cli("report", "--period", "2024Q1", "--data", str(sample_dir), "--config", str(config), "--out",
              str(tmp_path / "out"))
    assert res.returncode == 0, res.stderr
    report = tmp_path / "out" / "2024Q1"
    s = json.loads((report / "summary.json").read_text())
    hand = s["proposal"]["handoff"]
    assert hand["current_threshold"] is None and hand["threshold"]["source"] == "data"
    md = (report / "sla_proposal.md").read_text()
    assert f"**lead score of {hand['threshold']['value']:g}**" in md and "not set)" not in md
    assert {f"{n}.html" for n in paths.REPORT_NOTEBOOKS} | {"index.html", "tables.xlsx"} <= {p.name for p in report.iterdir()}


def test_the_proposal_adopted_as_next_periods_config_publishes(tmp_path, sample_dir, published):
    """Run 2024Q1, adopt its ``proposal.yml`` as the config of 2024-02: the report publishes, every
    setting the proposal did not change is the one 2024Q1 ran with, and the scorecard holds sales to
    the proposed touches and windows."""
    from sla_analysis.config import config_to_dict, load_config

    proposal = published / "2024Q1" / "proposal.yml"
    res = cli("report", "--period", "2024-02", "--data", str(sample_dir), "--config", str(proposal), "--out",
              str(tmp_path / "out"))
    assert res.returncode == 0, res.stderr
    adopted, before = config_to_dict(load_config(proposal)), config_to_dict(load_config(None))
    changed = {k for k in before if adopted[k] != before[k]}
    assert changed <= {"tiers", "mql_score_threshold", "sla_written", "business_hours", "review_baseline"}, changed
    # the next review judges what was adopted: its baseline is the proposal's
    assert adopted["review_baseline"]["close_rate:webinar"] != before["review_baseline"]["close_rate:webinar"]
    s = json.loads((tmp_path / "out" / "2024-02" / "summary.json").read_text())
    promises = {p["promise"]: p for p in s["compliance"]["promises"]}
    for tier, protocol in adopted["tiers"].items():
        assert f"protocol's {protocol['touches']} touches" in promises[f"follow-up cadence, {tier} tier"]["text"]
        # the windows were proposed in working hours (the sample's SDRs work office hours): judged so
        speed = promises[f"speed to lead, {tier} tier"]
        assert adopted["business_hours"] and speed["unit"] == "working hours", speed
        assert speed["window"] == protocol["response_hours"] and "counting clock hours" in speed["text"]
    for figure, row in s["sla_review"]["figures"].items():
        if figure in adopted["review_baseline"]:
            assert row["assumed"] == pytest.approx(adopted["review_baseline"][figure]), figure


def test_a_period_run_with_its_own_proposal_proposes_it_again(tmp_path, sample_dir, published):
    """Adoption is a closed loop: 2024Q1 run with its own proposal.yml as the config proposes the
    same proposal.yml (the windows it wrote in working hours are held against the evidence in the
    clock hours they span, the review baseline it wrote is kept)."""
    proposal = published / "2024Q1" / "proposal.yml"
    res = cli("report", "--period", "2024Q1", "--data", str(sample_dir), "--config", str(proposal), "--out",
              str(tmp_path / "out"))
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "out" / "2024Q1" / "proposal.yml").read_text() == proposal.read_text()


def test_every_see_why_opens_the_section_it_names(published):
    """The index's "See why" links go to a heading of the page that shows the evidence (an id the
    published page holds), not to the top of a long page."""
    report = published / "2024Q1"
    index = (report / "index.html").read_text()
    links = re.findall(r"<a href='([^'#]+)#([^']+)'>See why</a>", index.replace("&#x27;", "'"))
    assert links
    for page, anchor in links:
        assert f'id="{anchor}"' in (report / page).read_text().replace("&#x27;", "'"), (page, anchor)
