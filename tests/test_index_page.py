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


def test_marketing_expected_value_has_the_realised_value_beside_it():
    summary = {"currency": "USD", "lead_value_target": 2_400_000.0,
               "lead_value": {"delivered_by_month": {"2024-01": 2_500_000.0, "2024-02": 2_700_000.0},
                              "funnel_per_month": {"lead_value": 2_052_571.58},
                              "settled_window": ["2022-12-03", "2023-12-03"]},
               "sdr_headcount": {"available": True, "sdrs_needed": [11.9, 15.8], "binding": "workload",
                                 "binding_words": "the active MQLs each SDR can keep track of", "sdrs_today": 8}}
    rows = dict(headline_rows(summary))
    assert rows["Expected value of the MQLs marketing delivered, per month of the period"] == "$2,600,000 (108% of target)"
    assert rows["Realised: won revenue a month of the MQLs created 2022-12-03 to 2023-12-03 (settled)"] == "$2,052,572 (86% of target)"
    assert rows["SDRs the volume needs (the count that binds)"] == "12 to 16: the active MQLs each SDR can keep track of; today 8"
    # without amounts the realised value is unknown: no line, never $0
    summary["lead_value"]["funnel_per_month"] = {"lead_value": None, "why": "the deals have no amounts"}
    assert not any(k.startswith("Realised") for k in dict(headline_rows(summary)))
