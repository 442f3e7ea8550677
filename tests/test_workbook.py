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
    assert rows[0] == ["source", "mqls", "rate"]
    assert [r[0] for r in rows[1:]] == ["'=HYPERLINK(\"http://x\",\"y\")", "'+1", "'-2", "'@SUM(A1)", "webinar"]
    assert all(c.data_type != "f" for r in ws.iter_rows() for c in r)
    assert [r[1] for r in rows[1:]] == [1, 2, 3, 4, 5] and rows[2][2] is None and rows[4][2] is None


def test_numbers_stay_numbers():
    assert safe_cell(-3.5) == -3.5 and safe_cell(np.float64(2.0)) == 2.0 and safe_cell(np.nan) is None


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
