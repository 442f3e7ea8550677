"""tables.xlsx: formula text neutralised, sheet names legal and unique, same tables give the same bytes."""
import numpy as np
import pandas as pd
from openpyxl import load_workbook

from sla_analysis.report.workbook import safe_cell, sheet_name, write_tables


def test_formula_text_is_written_as_text(tmp_path):
    frame = pd.DataFrame({"source": ["=HYPERLINK(\"http://x\",\"y\")", "+1", "-2", "@SUM(A1)", "webinar"],
                          "mqls": [1, 2, 3, 4, np.int64(5)], "rate": [0.5, np.nan, 1.0, None, 0.25]})
    path = write_tables(tmp_path / "t.xlsx", {"MQL value by source": frame}, [("Period", "2024Q1")])
    ws = load_workbook(path)["MQL value by source"]
    rows = [[c.value for c in r] for r in ws.iter_rows()]
    assert rows[0] == ["Source", "MQLs", "Share of all MQLs"]  # the pages' labels
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
