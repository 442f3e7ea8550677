"""The index page's headline lines: absent figures say why, counts agree in number."""
from sla_analysis.report.index_page import data_quality_section, headline_rows


def test_one_attempt_is_singular():
    rows = dict(headline_rows({"plateau": {"recommended_attempts": 1, "ci_low": 1, "ci_high": 2,
                                           "cohort_method_attempts": 3}}))
    assert any(v == "1 attempt (interval 1-2)" for v in rows.values())
    # the biased rule of thumb stays on the plateau page: the index shows only the cap to act on
    assert "3 attempts" not in rows.values() and not any("rule of thumb" in k for k in rows)


def test_marketing_value_not_judged_is_not_shown_as_zero():
    summary = {"currency": "EUR", "lead_value_target": 100_000.0,
               "lead_value": {"delivered_by_month": {"2024-01": 0.0, "2024-02": 0.0, "2024-03": 0.0}},
               "compliance": {"promises": [{"side": "marketing", "status": "not judged", "actual": None,
                                            "text": "Marketing's MQL value cannot be judged: the data does not cover the period"}]}}
    rows = dict(headline_rows(summary))
    value = rows["Expected value of the MQLs marketing delivered"]
    assert value.startswith("not available: ") and "0 EUR" not in value and "0%" not in value


def test_marketing_promise_outside_the_data_has_no_figures():
    from sla_analysis.analyses.scorecard import marketing_promise
    p = marketing_promise(0.0, 100_000.0, 3, 0.0, "EUR")
    assert p["status"] == "not judged" and p["actual"] is None and p["target"] is None


def test_data_quality_counts_rows_left_out_per_table():
    """Rows dropped from one table are said as that table's rows: a deals-only drop does not read
    as leads left out of the figures."""
    summary = {"inputs": {"deals": {"file": "deals.csv", "rows": 90}},
               "data_quality": {"excluded": [
                   {"table": "deals", "rule": "refers to a lead_id that is not in leads", "reason": "", "rows": 500},
                   {"table": "deals", "rule": "deal created before its lead existed", "reason": "", "rows": 7},
                   {"table": "activities", "rule": "timestamp is in the future", "reason": "", "rows": 1}]}}
    text = "".join(data_quality_section(summary))
    assert "Left out of the figures: 1 of the activities row; 507 of the deals rows." in text
    assert "a lead stays in every figure when only its unlinked deals were dropped" in text
