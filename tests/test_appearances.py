"""Where each figure is shown: ``data-figure`` on the element holding it, a map written with the run,
and the check of every appearance against the stored result."""
from __future__ import annotations

import json

import pytest

from sla_analysis.report.appearances import agrees, mark, marks_to_html, plain, pointer, stored, tagged
from sla_analysis.report.index_page import write_index

SUMMARY = {"period": {"label": "2024Q1", "start": "2024-01-01", "end_exclusive": "2024-04-01"}, "currency": "USD",
           "lead_value_target": 2_400_000.0, "mqls_needed": 790.2, "cost_per_call": 5.0,
           "cost": {"cost_per_call_measured": 3.3149},
           "plateau": {"recommended_attempts": 9, "ci_low": 7, "ci_high": 11, "plateau_attempts": 6,
                       "change": {"current_cap": 15, "recommended_cap": 9, "gain_per_lead": 12.4,
                                  "gain_per_month": 10_250.0, "min_gain_per_month": 5_000.0, "material": True,
                                  "plateau_share_of_best": 0.981}},
           "sdr_headcount": {"available": True, "sdrs_needed": [11.9, 15.8], "binding_words": "the workload",
                             "sdrs_today": 8},
           "mql_value_by_source": {"webinar": 1_682.0, "partner/referral": 3_038.4, "events": None},
           "inputs": {"leads": {"file": "leads.csv", "rows": 24_000}},
           "data_quality": {"excluded": [{"table": "deals", "rule": "r", "reason": "", "rows": 507}]}}


def test_marks_become_tagged_spans_and_plain_text_drops_them():
    text = f"{mark('/plateau/ci_low', '7')}-{mark('/plateau/ci_high', '11')} <b>"
    assert plain(text) == "7-11 <b>"
    assert marks_to_html(text.replace("<", "&lt;")) == ('<span data-figure="/plateau/ci_low">7</span>-'
                                                        '<span data-figure="/plateau/ci_high">11</span> &lt;b>')
    assert pointer("mql_value_by_source", "partner/referral") == "/mql_value_by_source/partner~1referral"
    assert stored(SUMMARY, "/mql_value_by_source/partner~1referral") == 3_038.4
    assert stored(SUMMARY, "/sdr_headcount/sdrs_needed/1") == 15.8


@pytest.mark.parametrize(("shown", "value", "ok"), [
    ("$2,400,000", 2_400_000.0, True), ("$2,400,001", 2_400_000.0, False), ("$3.31", 3.3149, True),
    ("$3.32", 3.3149, False), ("98%", 0.981, True), ("97%", 0.981, False), ("790", 790.2, True),
    ("12", 11.9, True), ("-$31", -31.2, True), ("1,600 EUR", 1_600.0, True), ("9", None, False)])
def test_a_shown_number_agrees_with_its_stored_value_at_the_precision_shown(shown, value, ok):
    assert agrees(shown, value) is ok


def test_every_figure_on_the_index_is_tagged_and_agrees(tmp_path):
    write_index(tmp_path / "index.html", SUMMARY, [("01.html", "Page one")], "footer")
    found = tagged((tmp_path / "index.html").read_text())
    figures = [f["figure"] for f in found]
    assert {"/lead_value_target", "/mqls_needed", "/cost_per_call", "/cost/cost_per_call_measured",
            "/plateau/recommended_attempts", "/plateau/ci_low", "/plateau/ci_high", "/plateau/change/gain_per_lead",
            "/plateau/change/gain_per_month", "/plateau/change/min_gain_per_month", "/plateau/plateau_attempts",
            "/plateau/change/plateau_share_of_best", "/sdr_headcount/sdrs_needed/0", "/sdr_headcount/sdrs_needed/1",
            "/sdr_headcount/sdrs_today", "/mql_value_by_source/webinar",
            "/mql_value_by_source/partner~1referral", "/inputs/leads/rows",
            "/data_quality/excluded/0/rows"} == set(figures)
    assert all(agrees(f["shown"], stored(SUMMARY, f["figure"])) for f in found), found
    # a source without a value is said so, never tagged as a figure of 0
    assert "/mql_value_by_source/events" not in figures


def test_the_check_catches_a_page_that_contradicts_the_summary(tmp_path):
    write_index(tmp_path / "index.html", SUMMARY, [], "footer")
    other = json.loads(json.dumps(SUMMARY))
    other["plateau"]["recommended_attempts"] = 10   # the page says 9
    found = tagged((tmp_path / "index.html").read_text())
    assert [f["figure"] for f in found if not agrees(f["shown"], stored(other, f["figure"]))] == [
        "/plateau/recommended_attempts"]


def test_tagged_elements_are_read_whole_in_uneven_html():
    page = ('<p><span data-figure="/a">9<br>attempts<img src="x.png"></span> after</p>'
            '<table><tr><td data-figure="/b">10<td>11</td></tr></table><span data-figure="/c">1</p>2</span>')
    assert tagged(page) == [{"figure": "/a", "shown": "9attempts"}, {"figure": "/b", "shown": "10"},
                            {"figure": "/c", "shown": "12"}]


@pytest.mark.parametrize(("shown", "value", "ok"), [("\u2212$31", -31.2, True), ("60.3%", 0.6034, True),
                                                    ("9", "9", False), ("9", [9], False), ("9", True, False)])
def test_agrees_reads_signs_and_refuses_what_is_not_a_number(shown, value, ok):
    assert agrees(shown, value) is ok
