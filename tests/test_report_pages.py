"""The index pages' logic on hand-written summaries: the "What to do" box and the list of periods."""
from __future__ import annotations

import json

import nbformat
import pytest

from sla_analysis.report.actions import what_to_do
from sla_analysis.report.periods_index import published_periods, write_periods_index
from sla_analysis.report.publish import page_links, without_unsupported_notes


def promise(kind, tier, actual, target, status, n=500):
    name = f"{kind}, {tier} tier" if tier else kind
    return {"side": "sales", "promise": name, "actual": actual, "target": target, "n": n, "status": status,
            "text": f"Sales contacted {actual:.0%} of {tier}-tier MQLs (target {target:.0%})"}


SUMMARY = {
    "currency": "USD",
    "compliance": {"promises": [
        promise("speed to lead", "high", 0.74, 0.9, "missed"), promise("speed to lead", "low", 0.66, 0.9, "missed"),
        promise("follow-up cadence", "high", 0.78, 0.8, "missed"), promise("follow-up cadence", "low", 0.9, 0.8, "met"),
    ]},
    "sla_review": {"figures": {
        "mql_value:tradeshow": {"assumed": 1250.0, "measured": 2335.0, "drift": 0.868, "flagged": True},
        "close_rate:webinar": {"assumed": 0.015, "measured": 0.0166, "drift": 0.11, "flagged": False},
        "attempt_cap": {"assumed": 6.0, "measured": 9.0, "drift": 0.5, "flagged": True},
    }},
    "plateau": {"recommended_attempts": 9, "ci_low": 8, "ci_high": 10},
}


def test_what_to_do_puts_the_largest_shortfall_first_and_words_it_plainly():
    actions = what_to_do(SUMMARY)
    assert len(actions) == 3
    first = actions[0]
    assert first.text.startswith("Speed to lead missed in every tier; furthest off, sales contacted 66% of low-tier MQLs")
    assert first.href == "05_sla_compliance.html#Speed-to-lead"  # the section, not the top of the page
    assert actions[1].href == "05_sla_compliance.html#Cadence:-touches-against-the-protocol"
    assert "follow-up cadence" not in first.text.lower()  # cadence missed by 2.5%: second, not first
    assert actions[1].text.startswith("Follow-up cadence missed in high tier")
    assert "tradeshow MQLs are worth $2,335 against $1,250 assumed" in actions[2].text
    assert "webinar" not in actions[2].text  # not flagged: not an action


def test_a_missed_speed_to_lead_says_when_most_mqls_arrive_after_hours():
    after_hours = {**SUMMARY, "compliance": {**SUMMARY["compliance"], "working_hours": {"mqls_outside_share": 0.69}}}
    assert what_to_do(after_hours)[0].text.endswith(
        "69% of the MQLs arrived outside the team's working hours, and the windows count clock hours: the Proposed SLA "
        "counts them in working hours.")
    few = {**SUMMARY, "compliance": {**SUMMARY["compliance"], "working_hours": {"mqls_outside_share": 0.1}}}
    assert "working hours" not in what_to_do(few)[0].text and "working hours" not in what_to_do(SUMMARY)[0].text


def test_what_to_do_is_empty_when_everything_is_kept():
    kept = {"compliance": {"promises": [promise("speed to lead", "high", 0.95, 0.9, "met")]},
            "sla_review": {"figures": {}}, "plateau": {}}
    assert what_to_do(kept) == []


def test_the_cap_action_comes_when_the_review_flags_it():
    only_cap = {**SUMMARY, "compliance": {"promises": []},
                "sla_review": {"figures": {"attempt_cap": SUMMARY["sla_review"]["figures"]["attempt_cap"]}}}
    (action,) = what_to_do(only_cap)
    assert action.text.startswith("Change the attempt cap in the SLA from 6 to 9 attempts (interval 8 to 10)")
    assert action.href == "03_profitability_plateau.html#The-recommended-cap"


def test_the_cap_experiment_action_is_proposed_only_when_it_can_finish():
    plateau = {"recommended_attempts": 13, "cannot_judge_above": 13,
               "experiment": {"test_cap": 19, "share": 0.5, "leads_needed": 5200, "weeks_needed": 21, "feasible": True}}
    quiet = {**SUMMARY, "compliance": {"promises": []}, "sla_review": {"figures": {}}}
    (action,) = what_to_do({**quiet, "plateau": plateau})
    assert action.text == ("The history cannot judge an attempt cap above 13: test 19 attempts on 50% of new leads "
                           "for about 21 weeks.")
    # 2023Q1 on the sample: 28 contacted leads a week, 1.8 billion leads needed
    endless = {**plateau, "experiment": {**plateau["experiment"], "leads_needed": 1765925926,
                                         "weeks_needed": 63958934, "feasible": False}}
    (action,) = what_to_do({**quiet, "plateau": endless})
    assert action.text.startswith("Keep the attempt cap at 13 for now: the history cannot judge a higher one")
    assert "more than ten years" in action.text and "63958934" not in action.text


def test_periods_index_lists_every_published_period_newest_first(tmp_path):
    for label, actual in (("2024Q1", 0.74), ("2023Q4", 0.8), ("2024-02", 0.7)):
        d = tmp_path / label
        d.mkdir()
        s = {**SUMMARY, "compliance": {"promises": [promise("speed to lead", "high", actual, 0.9, "missed")]}}
        (d / "summary.json").write_text(json.dumps(s))
    (tmp_path / ".staging-2024Q2-abcdefgh").mkdir()  # a run in progress is not a period
    (tmp_path / "bench").mkdir()
    (tmp_path / "bench" / "summary.json").write_text("{}")
    assert [label for label, _ in published_periods(tmp_path)] == ["2024Q1", "2024-02", "2023Q4"]
    page = write_periods_index(tmp_path).read_text()
    assert page.index("2024Q1/index.html") < page.index("2024-02/index.html") < page.index("2023Q4/index.html")
    assert "74% ✘" in page and "80% ✘" in page
    assert "0 met, 1 missed" in page
    assert not list(tmp_path.glob(".index-*"))  # written atomically, nothing left behind


def test_no_periods_no_index(tmp_path):
    assert write_periods_index(tmp_path) is None
    assert not (tmp_path / "index.html").exists()


def test_page_links_follow_the_reading_order():
    pages = ("01_stale_lead_cohorts", "02_cost_per_call", "05_sla_compliance")
    assert page_links(pages, "01_stale_lead_cohorts") == {
        "title": "Stale lead cohorts", "previous": None, "next": ("02_cost_per_call.html", "Cost per call")}
    assert page_links(pages, "05_sla_compliance")["previous"] == ("02_cost_per_call.html", "Cost per call")
    assert page_links(pages, "05_sla_compliance")["next"] is None


def _code(*outputs):
    return nbformat.v4.new_code_cell("", outputs=[nbformat.v4.new_output("display_data", data=d) for d in outputs])


def _about(tag, text):
    return nbformat.v4.new_markdown_cell(text, metadata={"tags": [tag]})


def test_a_page_never_describes_a_chart_or_table_it_does_not_show():
    chart, table = {"image/png": "iVBOR"}, {"text/html": "<table></table>"}
    absent = {"text/markdown": "**Cadence: not available in this data.** The export has no activities."}
    cells = [_code(table, chart), _about("about-chart", "the dots"), _about("about-result", "the table"),
             _code(table), _about("about-chart", "dots of a chart not drawn"), _about("about-result", "kept"),
             _code(absent), _about("about-result", "the protocol's touches"), nbformat.v4.new_markdown_cell("## Heading"),
             _code(), _about("about-result", "nothing above")]
    kept = [c.source for c in without_unsupported_notes(cells) if c.cell_type == "markdown"]
    assert kept == ["the dots", "the table", "kept", "## Heading"]


def test_a_cap_change_is_proposed_only_when_the_gain_a_month_is_worth_it():
    """One materiality rule: moving from the SLA's cap of 6 to 9 adds $23 a contacted lead; at 686
    contacted leads a month that is $15,448 a month, below a $20,000 threshold (no action, and the
    page says keep 6) and above a $10,000 one (the action says what it is worth)."""
    from sla_analysis.analyses import plateau as pl

    curve = [1000.0, 2000.0, 2800.0, 3100.0, 3200.0, 3244.41, 3255.0, 3262.0, 3266.92, 3266.0]
    plateau = {"recommended_attempts": 9, "ci_low": 7, "ci_high": 11, "plateau_attempts": 5, "profit_per_lead_by_cap": curve}
    small = pl.change_from_current(plateau, 6, 686.284, 20000.0)
    assert small["gain_per_lead"] == pytest.approx(22.51) and small["gain_per_month"] == pytest.approx(15448.25, abs=0.01)
    assert not small["material"] and small["plateau_share_of_best"] == pytest.approx(3200 / 3266.92)
    assert pl.change_sentence(small) == (
        "Against today's cap of 6 attempts, 9 adds $23 of profit per contacted lead (+0.7%), about $15,448 a month at "
        "686 contacted leads a month: less than the $20,000 a month worth changing the SLA for: keep 6. 5 attempts "
        "already earn 98% of the best.")
    flagged = {"figures": {"attempt_cap": {"assumed": 6, "measured": 9, "flagged": True, "drift": 0.5}}}
    base = {"compliance": {"promises": []}, "sla_review": flagged}
    assert what_to_do({**base, "plateau": {**plateau, "change": small}}) == []
    big = pl.change_from_current(plateau, 6, 686.284, 10000.0)
    (action,) = what_to_do({**base, "plateau": {**plateau, "change": big}})
    assert action.text == ("Change the attempt cap in the SLA from 6 to 9 attempts (interval 7 to 11): $23 more profit "
                           "per contacted lead, about $15,448 a month.")
    assert pl.change_from_current(plateau, None, 686.0, 1.0) is None and pl.change_from_current(plateau, 40, 686.0, 1.0) is None
    assert pl.change_sentence(pl.change_from_current(plateau, 9, 686.0, 1.0)).startswith("Today's cap of 9 attempts is the most")


def test_summary_numbers_keep_what_the_pages_show():
    """summary.json rounds for stable bytes, but never past a hundredth: marketing's $7,875,516 on
    the page is 7,875,516.32 in summary.json, not 7,875,520."""
    from sla_analysis.report.notebook import to_json

    assert to_json([7875516.3217, 0.0720985569, 123.456789, 12345.6789, float("nan")]) == [
        7875516.32, 0.0720986, 123.457, 12345.68, None]
