"""The index page's headline lines: absent figures say why, counts agree in number."""
from sla_analysis.report.index_page import headline_rows


def test_one_attempt_is_singular():
    rows = dict(headline_rows({"plateau": {"recommended_attempts": 1, "ci_low": 1, "ci_high": 2,
                                           "cohort_method_attempts": 3}}))
    assert any(v == "1 attempt (interval 1-2)" for v in rows.values())
    assert "3 attempts" in rows.values()
