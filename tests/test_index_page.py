"""The index page's headline lines: absent figures say why, counts agree in number."""
from sla_analysis.report.index_page import headline_rows


def test_one_attempt_is_singular():
    rows = dict(headline_rows({"plateau": {"recommended_attempts": 1, "ci_low": 1, "ci_high": 2,
                                           "cohort_method_attempts": 3}}))
    assert any(v == "1 attempt (interval 1-2)" for v in rows.values())
    assert "3 attempts" in rows.values()


def test_marketing_value_not_judged_is_not_shown_as_zero():
    summary = {"currency": "EUR", "lead_value_target": 100_000.0,
               "lead_value": {"delivered_by_month": {"2024-01": 0.0, "2024-02": 0.0, "2024-03": 0.0}},
               "compliance": {"promises": [{"side": "marketing", "status": "not judged", "actual": None,
                                            "text": "Marketing's MQL value cannot be judged: the data does not cover the period"}]}}
    rows = dict(headline_rows(summary))
    value = rows["MQL value marketing delivered"]
    assert value.startswith("not available: ") and "0 EUR" not in value and "0%" not in value


def test_marketing_promise_outside_the_data_has_no_figures():
    from sla_analysis.analyses.scorecard import marketing_promise
    p = marketing_promise(0.0, 100_000.0, 3, 0.0, "EUR")
    assert p["status"] == "not judged" and p["actual"] is None and p["target"] is None
