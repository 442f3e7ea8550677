"""``tables.xlsx``: the tables behind a report's charts, one sheet each, for people who work in Excel.

Notebooks record their tables with :meth:`sla_analysis.report.notebook.Context.record_table` (Parquet files
in the run's fragments folder); the orchestrator turns them into one workbook with an ``About``
sheet first (period, inputs and their hashes). Headers are the pages' labels (the column registry,
:mod:`sla_analysis.report.columns`) and numbers carry Excel formats by kind (per cent, currency,
thousands), with a filter on each header row. Text that a spreadsheet would run as a formula
(starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return) is stored as text with the
cell's quote prefix (Excel shows it as typed, without an apostrophe), so a lead source named
``=HYPERLINK(...)`` stays text. A column the export cannot support is left blank, its header
carrying the reason. The file's timestamps are fixed, so the same tables give the same bytes.
"""
from __future__ import annotations

import re
import zipfile
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.comments import Comment
from openpyxl.utils import get_column_letter

from sla_analysis.report.columns import column, inferred_kind, unsupported

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_BAD_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")
_FIXED_TIME = datetime(2000, 1, 1)


#: Excel number formats by column kind (see sla_analysis.report.columns)
NUMBER_FORMATS = {"count": "#,##0", "share": "0.0%", "signed_share": "+0.0%;-0.0%;0.0%", "signed_count": "+#,##0;-#,##0;0",
                  "number1": "#,##0.0", "number2": "#,##0.00", "ratio": '#,##0.00"×"', "hours": "#,##0.0", "days": "#,##0.0"}


def number_format(kind: str | None, currency: str = "USD") -> str | None:
    """The Excel format of a column kind; money as ``"$"#,##0`` (USD) or ``#,##0 "EUR"``."""
    if kind in ("money", "money2"):
        digits = ".00" if kind == "money2" else ""
        return f'"$"#,##0{digits}' if currency == "USD" else f'#,##0{digits} "{currency}"'
    return NUMBER_FORMATS.get(kind) if kind else None


#: the unit a header names, by kind (a money header names the report's currency)
UNITS = {"share": "%", "signed_share": "%", "hours": "hours", "days": "days", "ratio": "× the reference"}


def header(name: str, kind: str | None, currency: str) -> str:
    """A sheet's header: the page's label, with its unit in brackets unless the label already has one."""
    label = column(name).label or name
    unit = currency if kind in ("money", "money2") else UNITS.get(kind or "")
    if not unit or "(" in label or unit.lower() in label.lower():
        return label
    return f"{label} ({unit})"


#: a row's unit in words
UNIT_WORDS = {"share": "%", "signed_share": "% change", "money": "{currency}", "money2": "{currency}", "days": "days",
              "hours": "hours", "count": "count", "number1": "number", "number2": "number"}
#: per-row units: a table with a ``unit`` column (e.g. the KPIs: shares, days and money in one
#: column) formats these columns of each row by that row's unit
ROW_UNIT_COLUMNS = ("value", "low", "high")


def _is_text_copy(name: str) -> bool:
    """A column that writes another column's numbers as text for the page (``value_text``,
    ``interval_text``): a workbook holds the numbers themselves."""
    return name.endswith("_text")


def _numbers_as_numbers(frame: pd.DataFrame) -> pd.DataFrame:
    """A text column whose every value is a whole number (attempt cohorts "0", "1", ... with no
    pooled "≥14") as numbers: a spreadsheet sorts and sums them."""
    out = frame.copy()
    for c in out.columns:
        values = out[c].dropna()
        if (out[c].dtype == object and len(values) and all(isinstance(v, str) and _WHOLE.match(v) for v in values)
                and not any(len(v.lstrip("-")) > 1 and v.lstrip("-").startswith("0") for v in values)):  # ids keep "007"
            out[c] = pd.to_numeric(out[c]).astype("Int64")
    return out


_WHOLE = re.compile(r"^-?\d{1,15}$")


def _same_table(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    return list(a.columns) == list(b.columns) and a.shape == b.shape and a.reset_index(drop=True).equals(
        b.reset_index(drop=True))


def _write(ws, row: int, col: int, value, fmt: str | None = None):
    """Write one cell: formula-like text as text with the quote prefix, numbers with ``fmt``."""
    value = safe_cell(value)
    cell = ws.cell(row=row, column=col)
    cell.value = value
    if isinstance(value, str) and value.startswith(FORMULA_START):
        cell.data_type = "s"
        cell.quotePrefix = True
    elif fmt and isinstance(value, (int, float)) and not isinstance(value, bool):
        cell.number_format = fmt
    return cell


def safe_cell(value):
    """A value as a cell holds it: NaN and None become empty cells; NumPy scalars become Python
    ones; lists become text. (Formula-like text is guarded by the cell's quote prefix.)"""
    if value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and not np.isfinite(value)):
        return None
    if isinstance(value, np.generic):
        value = value.item()
        if isinstance(value, float) and not np.isfinite(value):
            return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime().replace(tzinfo=None)
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


def write_tables(path: Path, tables: dict[str, pd.DataFrame], about: list[tuple[str, str]], currency: str = "USD",
                 limits: dict[str, str] | None = None) -> Path:
    """Write ``about`` (label, value rows) as the first sheet, then one sheet per table, in order.
    Columns that need what the export lacks (``limits``, e.g. revenue without deal amounts) are
    written blank, with the reason on their header."""
    wb = Workbook()
    ws = wb.active
    ws.title = "About"
    for r, (label, value) in enumerate(about, start=1):
        _write(ws, r, 1, label)
        _write(ws, r, 2, value)
    ws.column_dimensions["A"].width = 28
    ws.column_dimensions["B"].width = 80
    taken = {"about"}
    written: list[tuple[str, pd.DataFrame]] = []
    for name, frame in tables.items():
        same = next((n for n, f in written if _same_table(f, frame)), None)
        if same is not None:  # the same table recorded by two pages: one sheet
            continue
        written.append((name, frame))
        ws = wb.create_sheet(sheet_name(name, taken))
        frame = _numbers_as_numbers(frame[[c for c in frame.columns if not _is_text_copy(str(c))]])
        names = [str(c) for c in frame.columns]
        absent = unsupported(names, limits or {})
        per_row = "unit" in names
        kinds = [None if per_row and c in ROW_UNIT_COLUMNS else inferred_kind(c, frame[c]) for c in names]
        for i, c in enumerate(names, start=1):
            cell = _write(ws, 1, i, header(c, kinds[i - 1], currency))
            if c in absent:
                cell.comment = Comment(f"Not available: {absent[c]}", "sla-analysis")
            ws.column_dimensions[get_column_letter(i)].width = min(40, max(10, len(str(cell.value)) + 2))
        formats = [number_format(k, currency) for k in kinds]
        units = list(frame["unit"]) if per_row else []
        if per_row:  # the row's unit in words, and the value's header without the money column's label
            frame = frame.assign(unit=[UNIT_WORDS.get(u, u).format(currency=currency) for u in units])
            for i, c in enumerate(names, start=1):
                if c in ROW_UNIT_COLUMNS:
                    ws.cell(row=1, column=i).value = {"value": "Value", "low": "Interval from", "high": "Interval to"}[c]
        for r, row in enumerate(frame.itertuples(index=False), start=2):
            for i, (c, v) in enumerate(zip(names, row), start=1):
                fmt = number_format(units[r - 2], currency) if per_row and c in ROW_UNIT_COLUMNS else formats[i - 1]
                _write(ws, r, i, None if c in absent else v, fmt)
        ws.freeze_panes = "A2"
        if len(frame.columns):
            ws.auto_filter.ref = f"A1:{get_column_letter(len(frame.columns))}{len(frame) + 1}"
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
