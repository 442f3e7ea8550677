"""Read one export file (CSV, Parquet or Excel) into the engine as it is, or refuse it clearly.

CSV is read by DuckDB with every column as text (so a value that does not parse can be reported with
its row): the delimiter is sniffed (``,`` ``;`` tab ``|``), a UTF-8 byte-order mark is skipped, quoted
fields may hold newlines, and ``\\r\\n`` line ends are fine. What is refused, with the reason and the
fix: a file that is not UTF-8 (unless the mapping says ``encoding: latin-1``), and a header that
names a column the suite uses twice (which of the two is meant cannot be known). Columns with an
empty header (trailing separators) are dropped. Excel workbooks are streamed row by row with
openpyxl into an Arrow table of text (Excel holds at most 1,048,576 rows a sheet).
"""
from __future__ import annotations

import csv
import io
import zipfile
from collections import Counter
from datetime import date, datetime, time
from pathlib import Path
from typing import Iterable

import ibis
import ibis.expr.types as ir
import numpy as np
import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq

from sla_analysis.errors import ContractError, Violation

READABLE = (".csv", ".parquet", ".xlsx")
ENCODINGS = {"utf-8": "utf-8", "utf8": "utf-8", "latin-1": "latin-1", "latin1": "latin-1",
             "iso-8859-1": "latin-1", "utf-16": "utf-16"}
DELIMITERS = (",", ";", "\t", "|")
HEADER_SAMPLE = 1 << 16
MAX_LINE_BYTES = 2_097_152          # DuckDB's max_line_size: a longer line is not a CRM row
MAX_XLSX_BYTES = 512 << 20          # a workbook whose parts expand beyond this is refused ...
MAX_XLSX_RATIO = 100                # ... as is one that expands more than 100-fold past 64 MB
MAX_PARQUET_ROWS_PER_BYTE = 1       # unique ids take bytes: more rows than bytes is a bomb


def _first_long_line(path: Path, limit: int = MAX_LINE_BYTES) -> int | None:
    """The number (from 1, the header is line 1) of the first line longer than ``limit`` bytes
    (the newlines are found with NumPy, a block of 4 MB at a time)."""
    line, carry = 1, 0  # carry: bytes of the current line seen in earlier blocks
    with open(path, "rb") as fh:
        while block := fh.read(1 << 22):
            ends = np.flatnonzero(np.frombuffer(block, dtype=np.uint8) == 10)
            if len(ends) == 0:
                carry += len(block)
                if carry > limit:
                    return line
                continue
            lengths = np.diff(ends, prepend=-1) - 1  # bytes before each newline in this block
            lengths[0] += carry
            over = np.flatnonzero(lengths > limit)
            if len(over):
                return line + int(over[0])
            line += len(ends)
            carry = len(block) - int(ends[-1]) - 1
            if carry > limit:
                return line
    return None


def _refuse(path: Path, rule: str, column: str = "-") -> ContractError:
    return ContractError([Violation(str(path), column, rule, 0, [])])


def csv_header(path: Path, delimiter: str, encoding: str = "utf-8") -> list[str]:
    """The header row's names as written (duplicates and empty names kept), read from the file's
    first 64 KB with Python's csv module."""
    with open(path, "rb") as fh:
        head = fh.read(HEADER_SAMPLE)
    text = head.decode("utf-8-sig" if encoding == "utf-8" else encoding, errors="replace")
    row = next(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), [])
    return [name.strip() for name in row]


def _sniff_delimiter(con: ibis.BaseBackend, path: Path, encoding: str) -> str:
    try:
        sql = f"SELECT Delimiter FROM sniff_csv({_quote(path)}, encoding := {_quote(encoding)})"
        found = con.raw_sql(sql).fetchone()[0]
    except Exception:  # noqa: BLE001 - the read below reports what is wrong with the file
        return ","
    return found if found in DELIMITERS else ","


def _quote(value: object) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def duplicated(names: Iterable[str]) -> list[str]:
    """Header names that occur more than once (empty names ignored)."""
    counts = Counter(n for n in names if n)
    return [n for n, k in counts.items() if k > 1]


def read_csv(con: ibis.BaseBackend, path: Path, delimiter: str | None = None,
             encoding: str = "utf-8") -> tuple[ir.Table, list[str]]:
    """A CSV as text columns and its header names as written."""
    enc = ENCODINGS.get(str(encoding).lower())
    if enc is None:
        raise _refuse(path, f"encoding {encoding!r} is not supported (use one of utf-8, latin-1, utf-16)")
    if path.stat().st_size == 0:
        raise _refuse(path, "is empty (expected a header row and data rows)")
    with open(path, "rb") as fh:
        head = fh.read(HEADER_SAMPLE)
    if enc == "utf-8" and (head.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in head):
        raise _refuse(path, "is not UTF-8 text (it looks like UTF-16 or binary data): save it as UTF-8, or read "
                            "it through a mapping file with `csv: {encoding: utf-16}` (see docs/mapping-files.md)")
    long_line = _first_long_line(path)
    if long_line is not None:
        raise _refuse(path, f"line {long_line} is longer than {MAX_LINE_BYTES:,} bytes: not a CRM row "
                            "(an unclosed quote, or not a CSV export?)")
    delim = delimiter or _sniff_delimiter(con, path, enc)
    try:
        raw = con.read_csv(str(path), all_varchar=True, header=True, delim=delim, encoding=enc)
    except Exception as exc:  # DuckDB's message says what it could not read
        message = str(exc)
        if "not utf-8 encoded" in message or "Invalid unicode" in message:
            raise _refuse(path, "is not UTF-8 text: save it as UTF-8, or read it through a mapping file "
                                "with `csv: {encoding: latin-1}` (see docs/mapping-files.md)") from None
        first = message.strip().splitlines()[0][:300]
        raise _refuse(path, f"cannot be read as CSV: {first}") from None
    header = csv_header(path, delim, enc)
    return raw, header


def read_excel(path: Path, sheet: str | None = None) -> tuple[ir.Table, list[str]]:
    """The first (or the named) sheet of a workbook as text columns; row 1 is the header."""

    _refuse_zip_bomb(path)
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - not a workbook, or a damaged one
        raise _refuse(path, f"cannot be read as an Excel workbook: {str(exc)[:200]}") from None
    try:
        if sheet is not None and sheet not in book.sheetnames:
            raise _refuse(path, f"has no sheet {sheet!r} (sheets: {', '.join(book.sheetnames)})")
        rows = (book[sheet] if sheet else book.worksheets[0]).iter_rows(values_only=True)
        header = [("" if v is None else str(v)).strip() for v in next(rows, ())]
        if not any(header):
            raise _refuse(path, "has no header row on its first line")
        columns: list[list[str | None]] = [[] for _ in header]
        for row in rows:
            if row is None or all(v is None for v in row):
                continue
            for i in range(len(header)):
                columns[i].append(_cell_text(row[i] if i < len(row) else None))
    finally:
        book.close()
    names = _unique_names(header)
    table = pa.table({n: pa.array(col, type=pa.string()) for n, col in zip(names, columns)})
    return ibis.memtable(table), header


def _refuse_zip_bomb(path: Path) -> None:
    """A workbook is a ZIP archive: refuse one whose parts expand to more than MAX_XLSX_BYTES, or more
    than MAX_XLSX_RATIO-fold past 64 MB (the sizes are read from the archive's directory; Python's
    zipfile never inflates a part beyond its declared size)."""
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError):
        return  # openpyxl says what is wrong
    size, packed = sum(i.file_size for i in infos), sum(i.compress_size for i in infos)
    if size > MAX_XLSX_BYTES or (size > (64 << 20) and size > MAX_XLSX_RATIO * max(packed, 1)):
        raise _refuse(path, f"expands from {packed:,} to {size:,} bytes: refused as a ZIP bomb (export the "
                            "sheet as CSV instead)")


def _cell_text(value: object) -> str | None:
    """An Excel cell as the text a CSV export would hold (dates in ISO 8601)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, (date, time)):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _unique_names(header: list[str]) -> list[str]:
    """Header names made unique the way DuckDB does it (``name``, ``name_1``, ...); empty -> ``columnN``."""
    seen: Counter = Counter()
    out = []
    for i, name in enumerate(header):
        name = name or f"column{i}"
        out.append(name if not seen[name] else f"{name}_{seen[name]}")
        seen[name] += 1
    return out


def _refuse_parquet_bomb(path: Path) -> None:
    """Parquet pages are compressed: a file of a few KB can hold a billion identical rows. Every
    contract table has a unique id, which takes bytes: refuse more rows than bytes (past a million)."""
    try:
        rows = pq.ParquetFile(path).metadata.num_rows
    except Exception:  # noqa: BLE001 - DuckDB says what is wrong with the file
        return
    size = path.stat().st_size
    if rows > 1_000_000 and rows > MAX_PARQUET_ROWS_PER_BYTE * size:
        raise _refuse(path, f"holds {rows:,} rows in {size:,} bytes: refused as a decompression bomb "
                            "(rows with unique ids cannot be that small)")


def read_source(con: ibis.BaseBackend, path: Path, delimiter: str | None = None, encoding: str = "utf-8",
                sheet: str | None = None, used: Iterable[str] = (), number_rows: bool = True) -> ir.Table:
    """Read ``path`` as it is, with a ``_row`` column numbering the data rows from 1 (unless
    ``number_rows`` is false: :func:`numbered` adds it later, where it is needed; the numbering is a
    window over the whole file, which DuckDB computes in one thread even when no column reads it).

    Refuses (``ContractError``) an unreadable file, and a header that repeats a name in ``used``.
    Columns whose header is empty are dropped.
    """
    path = Path(path)
    if not path.is_file():
        raise _refuse(path, "file not found")
    suffix = path.suffix.lower()
    if suffix not in READABLE:
        raise _refuse(path, f"cannot read {suffix or 'a file without an extension'}: "
                            "expected .csv, .parquet or .xlsx")
    if suffix == ".csv":
        raw, header = read_csv(con, path, delimiter, encoding)
    elif suffix == ".xlsx":
        raw, header = read_excel(path, sheet)
    else:
        _refuse_parquet_bomb(path)
        try:
            raw = con.read_parquet(str(path))
        except Exception as exc:  # noqa: BLE001
            first = str(exc).strip().splitlines()[0][:300]
            raise _refuse(path, f"cannot be read as Parquet: {first}") from None
        header = list(raw.columns)
    clash = [n for n in duplicated(header) if n in set(used)]
    if clash:
        raise ContractError([Violation(str(path), n, "header names this column more than once: keep one "
                                       "(which of them is meant cannot be known)", 0, []) for n in clash])
    if len(header) == len(raw.columns):
        empty = [raw.columns[i] for i, n in enumerate(header) if not n]
        if empty and len(empty) < len(raw.columns):
            raw = raw.drop(*empty)
    return numbered(raw) if number_rows else raw


def numbered(raw: ir.Table) -> ir.Table:
    """``raw`` with ``_row``, its data rows numbered from 1 in file order (as it is when it has one)."""
    return raw if "_row" in raw.columns else raw.mutate(_row=ibis.row_number() + 1)
