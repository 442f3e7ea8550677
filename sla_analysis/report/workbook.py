"""``tables.xlsx``: the tables behind a report's charts, one sheet each, for people who work in Excel.

Notebooks record their tables with :meth:`sla_analysis.report.notebook.Context.record_table` (Parquet files
in the run's fragments folder); the orchestrator turns them into one workbook with an ``About``
sheet first (period, inputs and their hashes). Text that a spreadsheet would run as a formula
(starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return) is written with a leading
apostrophe, so a lead source named ``=HYPERLINK(...)`` stays text. The file's timestamps are fixed,
so the same tables give the same bytes.
"""
from __future__ import annotations

import re
import zipfile
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.utils import get_column_letter

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_BAD_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")
_FIXED_TIME = datetime(2000, 1, 1)


def safe_cell(value):
    """A value as written to a cell: text that would start a formula gets a leading apostrophe;
    NaN and None become empty cells; NumPy scalars become Python ones."""
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return None
    if isinstance(value, np.generic):
        value = value.item()
        if isinstance(value, float) and not np.isfinite(value):
            return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime().replace(tzinfo=None)
    if isinstance(value, str):
        return "'" + value if value.startswith(FORMULA_START) else value
    if isinstance(value, (list, tuple, dict)):
        return safe_cell(str(value))
    return value


def sheet_name(name: str, taken: set[str]) -> str:
    """An Excel sheet name (at most 31 characters, none of ``[]:*?/\\``), unique in ``taken``."""
    base = _BAD_SHEET_CHARS.sub("_", name)[:31] or "table"
    out, i = base, 2
    while out.lower() in taken:
        suffix = f"~{i}"
        out, i = base[: 31 - len(suffix)] + suffix, i + 1
    taken.add(out.lower())
    return out


def write_tables(path: Path, tables: dict[str, pd.DataFrame], about: list[tuple[str, str]]) -> Path:
    """Write ``about`` (label, value rows) as the first sheet, then one sheet per table, in order."""

    wb = Workbook()
    ws = wb.active
    ws.title = "About"
    for label, value in about:
        ws.append([safe_cell(label), safe_cell(value)])
    ws.column_dimensions["A"].width = 28
    ws.column_dimensions["B"].width = 80
    taken = {"about"}
    for name, frame in tables.items():
        ws = wb.create_sheet(sheet_name(name, taken))
        ws.append([safe_cell(str(c)) for c in frame.columns])
        for row in frame.itertuples(index=False):
            ws.append([safe_cell(v) for v in row])
        for i, col in enumerate(frame.columns, start=1):
            ws.column_dimensions[get_column_letter(i)].width = min(40, max(10, len(str(col)) + 2))
        ws.freeze_panes = "A2"
    wb.properties.created = wb.properties.modified = _FIXED_TIME
    wb.properties.creator = "sla-analysis"
    wb.save(path)
    _fix_zip_times(path)
    return path


def _fix_zip_times(path: Path) -> None:
    """Rewrite the xlsx (a zip) with fixed member timestamps so identical tables give identical bytes."""
    with zipfile.ZipFile(path) as src:
        members = [(i, src.read(i.filename)) for i in src.infolist()]
    tmp = path.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as dst:
        for info, data in members:
            if info.filename == "docProps/core.xml":  # openpyxl writes the save time as "modified"
                data = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*", rb"\g<1>2000-01-01T00:00:00Z", data)
            fixed = zipfile.ZipInfo(info.filename, date_time=(2000, 1, 1, 0, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(fixed, data)
    tmp.replace(path)
