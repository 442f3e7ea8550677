"""tables.xlsx: formula text neutralised, sheet names legal and unique, same tables give the same bytes."""
import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

from sla_analysis.report.workbook import safe_cell, sheet_name, write_tables


def test_formula_text_is_written_as_text(tmp_path):
    frame = pd.DataFrame({"source": ["=HYPERLINK(\"http://x\",\"y\")", "+1", "-2", "@SUM(A1)", "webinar"],
                          "mqls": [1, 2, 3, 4, np.int64(5)], "rate": [0.5, np.nan, 1.0, None, 0.25]})
    path = write_tables(tmp_path / "t.xlsx", {"MQL value by source": frame}, [("Period", "2024Q1")])
    ws = load_workbook(path)["MQL value by source"]
    rows = [[c.value for c in r] for r in ws.iter_rows()]
    assert rows[0] == ["Source", "MQLs", "Share of all MQLs (%)"]  # the pages' labels, with their unit
    # shown as typed (no apostrophe in the value), kept as text by the cell's quote prefix
    assert [r[0] for r in rows[1:]] == ["=HYPERLINK(\"http://x\",\"y\")", "+1", "-2", "@SUM(A1)", "webinar"]
    assert [ws.cell(row=i, column=1).quotePrefix for i in range(2, 7)] == [True] * 4 + [False]
    assert all(c.data_type != "f" for r in ws.iter_rows() for c in r)
    assert [r[1] for r in rows[1:]] == [1, 2, 3, 4, 5] and rows[2][2] is None and rows[4][2] is None


def test_numbers_carry_formats_and_headers_a_filter(tmp_path):
    frame = pd.DataFrame({"source": ["a", "b"], "mql_value": [2335.26, 1500.0], "close_rate": [0.0867389, 0.02],
                          "leads": [1200, 30]})
    ws = load_workbook(write_tables(tmp_path / "t.xlsx", {"t": frame}, [], currency="EUR"))["t"]
    assert ws["B2"].number_format == '#,##0 "EUR"' and ws["C2"].number_format == "0.0%"
    assert ws["D2"].number_format == "#,##0" and ws["C2"].value == 0.0867389  # full precision, formatted
    assert ws.auto_filter.ref == "A1:D3"


def test_a_column_the_export_cannot_support_is_blank_with_the_reason(tmp_path):
    frame = pd.DataFrame({"source": ["a"], "mql_value": [0.0], "leads": [10]})
    ws = load_workbook(write_tables(tmp_path / "t.xlsx", {"t": frame}, [],
                                    limits={"revenue": "the deals have no amounts"}))["t"]
    assert ws["B2"].value is None and ws["C2"].value == 10  # never a zero standing in for the absent value
    assert "not available: the deals have no amounts" in ws["B1"].comment.text.lower()


def test_numbers_stay_numbers():
    assert safe_cell(-3.5) == -3.5 and safe_cell(np.float64(2.0)) == 2.0 and safe_cell(np.nan) is None
    assert safe_cell(pd.NA) is None and safe_cell(pd.NaT) is None  # nullable columns: empty, never an error


def test_sheet_names_are_legal_and_unique():
    taken = {"about"}
    a = sheet_name("cohorts by source/segment: [all]", taken)
    b = sheet_name("cohorts by source/segment: [all]", taken)
    assert len(a) <= 31 and not set("[]:*?/\\") & set(a)
    assert a != b and len(b) <= 31
    assert sheet_name("About", taken) != "About"


def test_same_tables_same_bytes(tmp_path):
    frame = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    one = write_tables(tmp_path / "1.xlsx", {"t": frame}, [("Period", "2024Q1")]).read_bytes()
    two = write_tables(tmp_path / "2.xlsx", {"t": frame}, [("Period", "2024Q1")]).read_bytes()
    assert one == two


def test_every_number_has_a_format_by_what_it_is(tmp_path):
    """A column the registry does not know takes a format from its name (shares, hours, days, money)
    or its values (counts, decimals), never General; an interval's ends take their column's format;
    headers name their unit and write acronyms in capitals."""
    frame = pd.DataFrame({"mql_value": [2335.26], "mql_value_low": [1800.5], "mql_value_high": [2900.0],
                          "lift_rate": [0.072098556939], "wait_hours": [3.25], "sqls": [12], "odds": [1.7345]})
    ws = load_workbook(write_tables(tmp_path / "t.xlsx", {"t": frame}, []))["t"]
    heads = [c.value for c in ws[1]]
    assert heads == ["Value per MQL (USD)", "Value per MQL, interval from (USD)", "Value per MQL, interval to (USD)",
                     "Lift rate (%)", "Wait hours", "SQLs", "Odds"]
    assert [c.number_format for c in ws[2]] == ['"$"#,##0'] * 3 + ["0.0%", "#,##0.0", "#,##0", "#,##0.00"]
    assert all(isinstance(c.value, (int, float)) for c in ws[2])


def test_a_kpi_table_is_formatted_row_by_row_and_keeps_numbers_not_text(tmp_path):
    """The KPIs hold shares, days and money in one column: each row's value and interval take that
    row's unit (no rate formatted as dollars); the page's text copies (``+7.6%``) are not written."""
    frame = pd.DataFrame({"kpi": ["MQL to SQL", "Days from MQL to SQL (median)", "Value of SQLs", "Lead velocity"],
                          "value": [0.072, 1.98, 125000.0, 0.076], "value_text": ["7.2%", "2.0", "$125,000", "+7.6%"],
                          "low": [0.06, 1.5, np.nan, -0.01], "high": [0.08, 2.5, np.nan, 0.15],
                          "unit": ["share", "days", "money", "signed_share"]})
    ws = load_workbook(write_tables(tmp_path / "t.xlsx", {"KPIs": frame}, []))["KPIs"]
    heads = [c.value for c in ws[1]]
    assert "Value text" not in heads and len(heads) == 5
    assert heads[1:] == ["Value", "Interval from", "Interval to", "Unit"]
    value = heads.index("Value") + 1
    assert [ws.cell(row=r, column=value).number_format for r in range(2, 6)] == ["0.0%", "#,##0.0", '"$"#,##0',
                                                                               "+0.0%;-0.0%;0.0%"]
    assert [ws.cell(row=r, column=5).value for r in range(2, 6)] == ["%", "days", "USD", "% change"]
    assert [ws.cell(row=r, column=value).value for r in range(2, 6)] == [0.072, 1.98, 125000.0, 0.076]


def test_the_same_table_recorded_twice_is_one_sheet(tmp_path):
    t = pd.DataFrame({"month": ["2024-01"], "mqls": [10]})
    wb = load_workbook(write_tables(tmp_path / "t.xlsx", {"MQL value delivered by month": t,
                                                          "marketing delivered by month": t.copy(),
                                                          "other": t.assign(mqls=[11])}, []))
    assert wb.sheetnames == ["About", "MQL value delivered by month", "other"]


@pytest.mark.slow
def test_the_sample_reports_workbook_as_an_analyst_expects(published_sample):
    """The published 2024Q1 workbook: every number a number with a format (none General), no share,
    rate, day or hour carrying a currency format, no number written as text, no two sheets alike,
    sheet names whole (the recorded tables' names fit Excel's 31 characters)."""
    import re

    wb = load_workbook(published_sample / "2024Q1" / "tables.xlsx")
    numeric_text = re.compile(r"^[+\-−]?[$€]?[\d,]+(\.\d+)?\s*(%|×|h|days|[A-Z]{3})?$")
    seen = []
    for ws in wb.worksheets[1:]:
        rows = [[c for c in r] for r in ws.iter_rows()]
        heads = [c.value for c in rows[0]]
        for col, head in enumerate(heads):
            cells = [r[col] for r in rows[1:] if r[col].value is not None]
            for c in cells:
                if isinstance(c.value, (int, float)) and not isinstance(c.value, bool):
                    assert c.number_format != "General", (ws.title, head, c.coordinate)
                    if any(w in str(head).lower() for w in ("share", "rate", "(%)", "days", "hours", "converted")):
                        assert "$" not in c.number_format, (ws.title, head, c.number_format)
            texts = [c.value.strip() for c in cells if isinstance(c.value, str)]
            # a column of numbers written as text (a label column such as "0", "1", "≥14" is not one)
            assert not texts or not all(numeric_text.match(t) for t in texts), (ws.title, head, texts[:3])
        values = [[c.value for c in r] for r in rows]
        assert values not in seen, ws.title
        seen.append(values)
        assert len(ws.title) <= 31 and "~" not in ws.title


def test_ids_written_as_digits_stay_text(tmp_path):
    """A column of ids such as "007" keeps its leading zeros (and an id beyond 15 digits stays text);
    a plain label column of whole numbers becomes numbers."""
    t = pd.DataFrame({"owner_id": ["007", "120"], "cohort": ["0", "1"], "crm_id": ["1234567890123456789", "2"]})
    ws = load_workbook(write_tables(tmp_path / "t.xlsx", {"t": t}, []))["t"]
    assert [c.value for c in ws[2]] == ["007", 0, "1234567890123456789"]
