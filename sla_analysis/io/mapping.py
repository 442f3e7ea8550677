"""Mapping files: read any CRM export into the data contract (format: ``docs/mapping-files.md``).

A mapping says, per canonical table, which file(s) of the export to read and how each canonical
column is made from them: renames, value maps, cases, date formats and time zones, number formats,
constants, lookups into another file, and rows to drop (counted, never silently lost). The result
is a table of *text* columns named as the contract names them, which then passes the same rules as
a canonical file (:func:`sla_analysis.io.contract.validate_raw`), so a value the mapping could not
convert is reported with its file and row, never misread. Everything runs in the engine (Ibis on
DuckDB); mistakes in the mapping itself are reported with the mapping file's line.

Built-in profiles live in ``sla_analysis/io/profiles/<name>.yml`` (``salesforce``, ``hubspot``).
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import yaml

from sla_analysis.errors import ContractError, Violation
from sla_analysis.io.contract import CONTRACT, EXCLUDABLE, FLOAT, TIMESTAMP, TableSpec
from sla_analysis.io.readers import read_source

FORMAT_VERSION = 1
PROFILES_DIR = Path(__file__).resolve().parent / "profiles"
TIMESTAMP_TEXT = "%Y-%m-%d %H:%M:%S.%f"
CURRENCY_AND_SPACES = r"[\s\x{00a0}\x{202f}$€£¥₹]"

_TOP_KEYS = {"mapping", "name", "description", "timezone", "lookups", "tables"}
_PART_KEYS = {"file", "csv", "sheet", "drop", "columns", "exclude", "optional"}
_COLUMN_KEYS = {"column", "value", "optional", "default", "map", "else", "when", "split", "lookup",
                "keep_unmatched", "format", "timezone", "number", "scale"}
_DROP_KEYS = {"column", "field", "equals", "not_in", "missing", "reason", "optional"}
_CASE_KEYS = {"column", "field", "equals", "not_in", "missing", "then", "optional"}
_LOOKUP_KEYS = {"file", "key", "value", "csv", "sheet"}
_CSV_KEYS = {"delimiter", "encoding"}


@ibis.udf.scalar.builtin(name="try_strptime")
def _try_strptime(text: dt.string, fmt: dt.string) -> dt.timestamp:
    """DuckDB ``try_strptime``: NULL where the text does not fit the pattern."""


@ibis.udf.scalar.builtin(name="timezone")
def _wall_as_utc(zone: dt.string, ts: dt.timestamp) -> dt.Timestamp(timezone="UTC"):
    """DuckDB ``timezone(zone, TIMESTAMP)``: read a naive time as wall time in ``zone``."""


# --------------------------------------------------------------------------- loading, with lines

class _LineLoader(yaml.SafeLoader):
    """A YAML loader that remembers the line of every mapping key and list item."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict:
    out = _Lined()
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        out[key] = loader.construct_object(value_node, deep=True)
        out.lines[key] = key_node.start_mark.line + 1
    out.line = node.start_mark.line + 1
    return out


def _construct_sequence(loader: _LineLoader, node: yaml.SequenceNode) -> list:
    out = _LinedList(loader.construct_object(v, deep=True) for v in node.value)
    out.lines = [v.start_mark.line + 1 for v in node.value]
    out.line = node.start_mark.line + 1
    return out


class _Lined(dict):
    lines: dict
    line: int = 0

    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        self.lines = {}


class _LinedList(list):
    lines: list
    line: int = 0


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def _line(node: Any, key: Any = None) -> int:
    if key is not None and isinstance(node, _Lined):
        return node.lines.get(key, node.line)
    if key is not None and isinstance(node, _LinedList) and isinstance(key, int) and key < len(node.lines):
        return node.lines[key]
    return getattr(node, "line", 0)


@dataclass
class Mapping:
    """A parsed mapping file."""

    path: Path
    name: str
    timezone: str
    tables: dict[str, list[dict]]
    lookups: dict[str, dict]
    doc: dict
    errors: list[Violation] = field(default_factory=list)
    unavailable: dict[str, str] = field(default_factory=dict)

    def where(self, line: int) -> str:
        return f"{self.path.name} line {line}"

    def error(self, line: int, column: str, rule: str) -> Violation:
        return Violation(self.where(line), column, rule, 0, [])

    def sha256(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()

    def files(self) -> list[str]:
        """Every export file the mapping reads, in order of first use."""
        names = [p["file"] for parts in self.tables.values() for p in parts]
        names += [lk["file"] for lk in self.lookups.values()]
        return list(dict.fromkeys(str(n) for n in names))


def profile_path(profile: str | Path) -> Path:
    """A built-in profile's file (``salesforce``, ``hubspot``) or the path of a mapping file."""
    text = str(profile)
    builtin = PROFILES_DIR / f"{text}.yml"
    if re.fullmatch(r"[a-z][a-z0-9_-]*", text) and builtin.is_file():
        return builtin
    path = Path(text)
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in PROFILES_DIR.glob("*.yml")))
        raise ContractError([Violation(text, "-", f"no such profile or mapping file (built-in profiles: "
                                       f"{known}; or give the path of a mapping file)", 0, [])])
    return path


def load_mapping(profile: str | Path) -> Mapping:
    """Parse and check a mapping file's structure; every mistake is reported with its line."""
    path = profile_path(profile)
    try:
        doc = yaml.load(path.read_text(encoding="utf-8"), Loader=_LineLoader)
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ContractError([Violation(str(path), "-", f"is not valid YAML: {exc}", 0, [])]) from None
    if not isinstance(doc, dict):
        raise ContractError([Violation(str(path), "-", "must be a YAML mapping with a `tables` key", 0, [])])
    m = Mapping(path, str(doc.get("name", path.stem)), str(doc.get("timezone") or "UTC"), {}, {}, doc)
    errors = m.errors
    for key in doc:
        if key not in _TOP_KEYS:
            errors.append(m.error(_line(doc, key), str(key), f"unknown key (expected one of {', '.join(sorted(_TOP_KEYS))})"))
    if doc.get("mapping") != FORMAT_VERSION:
        errors.append(m.error(_line(doc, "mapping"), "mapping", f"format version must be `mapping: {FORMAT_VERSION}`"))
    lookups = doc.get("lookups") or {}
    if not isinstance(lookups, dict):
        errors.append(m.error(_line(doc, "lookups"), "lookups", "must be a mapping of name -> {file, key, value}"))
        lookups = {}
    for name, lk in lookups.items():
        if not isinstance(lk, dict) or not {"file", "key", "value"} <= set(lk):
            errors.append(m.error(_line(lookups, name), f"lookups.{name}", "needs file, key and value"))
            continue
        _unknown(m, lk, _LOOKUP_KEYS, f"lookups.{name}")
        m.lookups[str(name)] = lk
    tables = doc.get("tables")
    if not isinstance(tables, dict) or not tables:
        errors.append(m.error(_line(doc, "tables"), "tables", "must map canonical tables (leads, activities, deals, reps) to their source"))
        tables = {}
    for table, parts in tables.items():
        if table not in CONTRACT:
            errors.append(m.error(_line(tables, table), str(table), f"not a canonical table (expected {', '.join(CONTRACT)})"))
            continue
        if isinstance(parts, dict) and "none" in parts:
            if set(parts) != {"none"} or not str(parts["none"] or "").strip():
                errors.append(m.error(_line(tables, table), table, "`none: <why the export has no such table>` stands alone"))
            m.unavailable[str(table)] = str(parts["none"])
            m.tables[table] = []
            continue
        parts = parts if isinstance(parts, list) else [parts]
        for i, part in enumerate(parts):
            if not isinstance(part, dict) or "file" not in part or not isinstance(part.get("columns"), dict):
                errors.append(m.error(_line(parts, i) or _line(tables, table), table, "each source needs `file` and `columns`"))
                continue
            _check_part(m, table, part)
        m.tables[table] = [p for p in parts if isinstance(p, dict) and "file" in p]
    missing = [t for t, spec in CONTRACT.items() if spec.table_required and t not in tables]
    for t in missing:
        errors.append(m.error(_line(doc, "tables"), t, "required table is not mapped"))
    if errors:
        raise ContractError(errors)
    return m


def _unknown(m: Mapping, node: dict, allowed: set, where: str) -> None:
    for key in node:
        if key not in allowed:
            m.errors.append(m.error(_line(node, key), f"{where}.{key}", f"unknown key (expected one of {', '.join(sorted(allowed))})"))


def _check_part(m: Mapping, table: str, part: dict) -> None:
    spec = CONTRACT[table]
    _unknown(m, part, _PART_KEYS, table)
    if isinstance(part.get("csv"), dict):
        _unknown(m, part["csv"], _CSV_KEYS, f"{table}.csv")
    columns = part["columns"]
    for name, col in columns.items():
        where = f"{table}.{name}"
        if name not in spec.columns:
            m.errors.append(m.error(_line(columns, name), where, f"not a column of {table} (expected one of {', '.join(spec.columns)})"))
            continue
        if isinstance(col, (str, int)):
            continue
        if not isinstance(col, dict):
            m.errors.append(m.error(_line(columns, name), where, "must be a source column name or a mapping"))
            continue
        _unknown(m, col, _COLUMN_KEYS, where)
        if "column" not in col and "value" not in col and "when" not in col:
            m.errors.append(m.error(_line(columns, name), where, "needs `column`, `value` or `when`"))
        if "lookup" in col and col["lookup"] not in m.lookups:
            m.errors.append(m.error(_line(col, "lookup"), where, f"unknown lookup {col['lookup']!r} (defined: {', '.join(m.lookups) or 'none'})"))
        if ("format" in col or "timezone" in col) and spec.columns[name] != TIMESTAMP:
            m.errors.append(m.error(_line(col, "format" if "format" in col else "timezone"), where, "`format` and `timezone` apply to timestamp columns only"))
        if ("number" in col or "scale" in col) and spec.columns[name] != FLOAT:
            m.errors.append(m.error(_line(col, "number" if "number" in col else "scale"), where, "`number` and `scale` apply to number columns only"))
        if "when" in col:
            cases = col["when"]
            if not (isinstance(cases, list) and all(isinstance(c, dict) and "then" in c and (("column" in c) != ("field" in c))
                                                    and sum(k in c for k in ("equals", "not_in", "missing")) == 1
                                                    for c in cases)):
                m.errors.append(m.error(_line(col, "when"), where, "`when` must be a list of {column or field, "
                                        "equals | not_in | missing, then}"))
            else:
                for c in cases:
                    _unknown(m, c, _CASE_KEYS, f"{where}.when")
                    if "field" in c and c["field"] not in columns:
                        m.errors.append(m.error(c.line, f"{where}.when", f"field {c['field']!r} is not mapped in this table"))
    for code in part.get("exclude") or []:
        if code not in EXCLUDABLE:
            m.errors.append(m.error(_line(part, "exclude"), f"{table}.exclude",
                                    f"{code!r} cannot be excluded (only: {', '.join(EXCLUDABLE)})"))
    for i, rule in enumerate(part.get("drop") or []):
        line = _line(part.get("drop"), i)
        if not isinstance(rule, dict) or ("column" in rule) == ("field" in rule):
            m.errors.append(m.error(line, f"{table}.drop", "each drop rule needs exactly one of `column` (source) or `field` (canonical)"))
            continue
        _unknown(m, rule, _DROP_KEYS, f"{table}.drop")
        if sum(k in rule for k in ("equals", "not_in", "missing")) != 1:
            m.errors.append(m.error(line, f"{table}.drop", "each drop rule needs one of `equals`, `not_in` or `missing`"))
        if "field" in rule and rule["field"] not in columns:
            m.errors.append(m.error(line, f"{table}.drop", f"field {rule['field']!r} is not mapped in this table"))


# --------------------------------------------------------------------------- building the tables

def _text(col: ir.Value) -> ir.StringValue:
    return col.cast("string").strip().nullif("")


def _values(v: Any) -> list[str]:
    items = v if isinstance(v, list) else [v]
    return [str(x).strip().lower() for x in items]


def _matches(col: ir.StringValue, rule: dict) -> ir.BooleanValue:
    """A drop rule's or a case's condition on a text column (case-insensitive, trimmed)."""
    if rule.get("missing"):
        return col.isnull()
    if "not_in" in rule:
        return col.isnull() | ~col.lower().isin(_values(rule["not_in"]))
    return col.lower().isin(_values(rule["equals"])).fill_null(False)


def number_text(text: ir.StringValue, decimal: str = ".", thousands: str = ",",
                scale: float | None = None) -> ir.StringValue:
    """A money or count value as plain decimal text: currency symbols and spaces dropped, the
    thousands separator removed and the decimal mark made ``.``; values whose grouping does not fit
    the separators are left as they are (so the contract reports them instead of misreading them).
    ``scale`` multiplies the number."""
    cleaned = text.re_replace(CURRENCY_AND_SPACES, "")
    d, t = re.escape(decimal), re.escape(thousands) if thousands else ""
    grouped = rf"\d{{1,3}}({t}\d{{3}})+|" if t else ""
    pattern = rf"^[+-]?(({grouped}\d+)({d}\d+)?|{d}\d+)([eE][+-]?\d+)?$"
    normal = cleaned.replace(thousands, "") if thousands else cleaned
    normal = normal.replace(decimal, ".") if decimal != "." else normal
    if scale is not None:
        normal = (normal.try_cast("float64") * float(scale)).cast("string")
    return ibis.ifelse(cleaned.re_search(pattern), normal, text)


def timestamp_text(text: ir.StringValue, fmt: str | None, zone: str) -> ir.StringValue:
    """A time as UTC text ``YYYY-MM-DD HH:MM:SS.ffffff``; text that does not parse is left as it is
    (and reported by the contract). ``fmt``: ``None`` (ISO 8601, offsets honoured), a ``strptime``
    pattern, ``excel`` (serial days since 1899-12-30), ``epoch_s`` or ``epoch_ms``. Times without an
    offset are wall times in ``zone``."""
    def wall(naive: ir.TimestampValue) -> ir.TimestampValue:
        return naive if zone == "UTC" else _wall_as_utc(zone, naive).cast(dt.Timestamp())

    if fmt is None:
        with_offset = text.re_search(r"(Z|[+-]\d{2}(:?\d{2})?)$")
        aware = text.try_cast(dt.Timestamp(timezone="UTC")).cast(dt.Timestamp())
        ts = ibis.ifelse(with_offset, aware, wall(text.try_cast(dt.Timestamp())))
    elif fmt in ("epoch_s", "epoch_ms"):
        n = text.try_cast("float64")
        us = (n * (1e6 if fmt == "epoch_s" else 1e3)).round().cast("int64")
        ts = ibis.timestamp("1970-01-01 00:00:00") + us.as_interval("us")
    elif fmt == "excel":
        days = text.try_cast("float64")
        ts = wall(ibis.timestamp("1899-12-30 00:00:00") + (days * 86_400_000_000).round().cast("int64").as_interval("us"))
    else:
        ts = wall(_try_strptime(text, fmt))
    return ibis.coalesce(ts.strftime(TIMESTAMP_TEXT), text)


def _source_columns(col: dict | str) -> list[str]:
    if isinstance(col, (str, int)):
        return [str(col)]
    return [] if col.get("column") is None else _names(col["column"])


def _names(value: Any) -> list[str]:
    return [str(n) for n in (value if isinstance(value, list) else [value])]


def _used_columns(part: dict) -> set[str]:
    used = set()
    for col in part["columns"].values():
        used |= set(_source_columns(col))
        if isinstance(col, dict):
            used |= {n for c in col.get("when") or [] if "column" in c for n in _names(c["column"])}
    used |= {n for r in part.get("drop") or [] if "column" in r for n in _names(r["column"])}
    return used


def _source(raw: ir.Table, names: list[str]) -> ir.StringValue | None:
    """The first non-empty value among the source columns ``names`` present in ``raw`` (None when
    none is present)."""
    present = [c for c in names if c in raw.columns]
    if not present:
        return None
    return ibis.coalesce(*[_text(raw[c]) for c in present]) if len(present) > 1 else _text(raw[present[0]])


@dataclass
class MappedTable:
    """A canonical table read through a mapping: text columns, ``_row`` (and ``_file``), the files
    read, and the rows dropped per rule."""

    table: ir.Table
    label: str
    files: list[str]
    excluded: list[dict]
    exclude: tuple[str, ...] = ()


def _read(con: ibis.BaseBackend, m: Mapping, data_dir: Path, node: dict, used: set[str], where: str) -> ir.Table:
    csv_opts = node.get("csv") or {}
    path = data_dir / str(node["file"])
    if not path.resolve().is_relative_to(Path(data_dir).resolve()):
        raise ContractError([m.error(_line(node, "file"), where, f"file {node['file']!r} is outside the DATA "
                                     f"folder {data_dir}: a mapping reads the export's own files only")])
    if not path.is_file():
        raise ContractError([m.error(_line(node, "file"), where, f"file {node['file']!r} is not in {data_dir}")])
    return read_source(con, path, delimiter=csv_opts.get("delimiter"), encoding=csv_opts.get("encoding", "utf-8"),
                       sheet=node.get("sheet"), used=used)


def _lookup_table(con: ibis.BaseBackend, m: Mapping, data_dir: Path, name: str) -> ir.Table:
    lk = dict(m.lookups[name])
    # A lookup into a file a table also reads uses that table's reading options unless it has its own.
    same = [p for parts in m.tables.values() for p in parts if str(p["file"]) == str(lk["file"])]
    for key in ("csv", "sheet"):
        if key not in lk and same and key in same[0]:
            lk[key] = same[0][key]
    raw = _read(con, m, data_dir, lk, {str(lk["key"]), str(lk["value"])}, f"lookups.{name}")
    for k in ("key", "value"):
        if str(lk[k]) not in raw.columns:
            raise ContractError([m.error(_line(lk, k), f"lookups.{name}.{k}",
                                         f"source column {lk[k]!r} is not in {lk['file']} (columns: {_shown(raw)})")])
    pairs = raw.select(_lk_key=_text(raw[str(lk["key"])]), _lk_value=_text(raw[str(lk["value"])]))
    pairs = pairs.filter(pairs._lk_key.notnull())
    # A key mapped to several values keeps the smallest, so the result does not depend on row order.
    return pairs.group_by("_lk_key").aggregate(_lk_value=pairs._lk_value.min())


def _shown(raw: ir.Table, limit: int = 25) -> str:
    cols = [c for c in raw.columns if not c.startswith("_")]
    return ", ".join(cols[:limit]) + (", …" if len(cols) > limit else "")


def _column_expr(m: Mapping, raw: ir.Table, part: dict, table: str, name: str,
                 errors: list[Violation]) -> ir.StringValue | None:
    """The text expression of canonical column ``name`` before lookups; None when it is optional and
    absent from the file."""
    col = part["columns"][name]
    line = _line(part["columns"], name)
    where = f"{table}.{name}"
    opts = col if isinstance(col, dict) else {}
    if "value" in opts:
        value = opts["value"]
        return ibis.literal(None, type="string") if value is None else ibis.literal(str(value))
    sources = _source_columns(col)
    if not sources:  # `when` cases alone: rows no case matches take `else`
        return ibis.literal(None if opts.get("else") is None else str(opts["else"]), type="string")
    expr = _source(raw, sources)
    if expr is None:
        if opts.get("optional"):
            return None if opts.get("default") is None else ibis.literal(str(opts["default"]))
        names = " or ".join(repr(c) for c in sources)
        errors.append(m.error(line, where, f"source column {names} is not in {part['file']} (columns: {_shown(raw)})"))
        return None
    if "split" in opts:
        expr = _text(expr.split(str(opts["split"]))[0])
    return expr


def _finish(expr: ir.StringValue, opts: dict, kind: str, zone: str) -> ir.StringValue:
    """Value map, default, then the number or time conversion."""
    if "map" in opts and _source_columns(opts):
        mapping = {str(k).strip().lower(): (None if v is None else str(v)) for k, v in (opts["map"] or {}).items()}
        fallback = expr if "else" not in opts else ibis.literal(None if opts["else"] is None else str(opts["else"]), type="string")
        key = expr.lower()
        out = fallback
        for k, v in mapping.items():
            out = ibis.ifelse(key == k, ibis.literal(v, type="string"), out)
        expr = ibis.ifelse(expr.isnull(), expr, out)
    if "default" in opts and opts["default"] is not None:
        expr = expr.fill_null(str(opts["default"]))
    if kind == FLOAT:
        num = opts.get("number") or {}
        expr = number_text(expr, str(num.get("decimal", ".")), str(num.get("thousands", ",") or ""),
                           opts.get("scale"))
    if kind == TIMESTAMP:
        fmt = opts.get("format")
        tz = str(opts.get("timezone") or zone)
        if fmt is not None or tz != "UTC":
            expr = timestamp_text(expr, None if fmt is None else str(fmt), tz)
    return expr


def mapped_table(con: ibis.BaseBackend, m: Mapping, data_dir: Path, table: str) -> MappedTable:
    """Read canonical ``table`` through the mapping: its parts stacked, lookups joined, rows dropped
    by the drop rules (counted per rule)."""
    spec: TableSpec = CONTRACT[table]
    if table in m.unavailable:  # the export has no such table: an empty one, said so in the report
        return _empty(spec, f"(no {table} in this export: {m.unavailable[table]})")
    parts = [p for p in m.tables[table] if not (p.get("optional") and not (data_dir / str(p["file"])).is_file())]
    if not parts:  # every part optional and absent
        files = ", ".join(str(p["file"]) for p in m.tables[table])
        return _empty(spec, f"(none of {files} is in the export)")
    errors: list[Violation] = []
    pieces, excluded, files = [], [], []
    for part in parts:
        raw = _read(con, m, data_dir, part, _used_columns(part), table)
        files.append(str(part["file"]))
        columns = part["columns"]
        opts_of = {name: (col if isinstance(col, dict) else {}) for name, col in columns.items()}
        exprs: dict[str, ir.Value] = {}
        for name in columns:
            expr = _column_expr(m, raw, part, table, name, errors)
            if expr is not None:
                exprs[name] = expr
        # conditions on source columns, evaluated on the rows as read: drop rules and `when` cases
        conditions: dict[str, ir.BooleanValue] = {}
        drops = part.get("drop") or []
        for i, rule in enumerate(drops):
            if "column" in rule:
                cond = _source_condition(m, raw, part, rule, _line(drops, i), f"{table}.drop", errors)
                if cond is not None:
                    conditions[f"_drop_{i}"] = cond
        for name in exprs:
            for j, case in enumerate(opts_of[name].get("when") or []):
                if "column" in case:
                    cond = _source_condition(m, raw, part, case, _line(case), f"{table}.{name}.when", errors)
                    if cond is not None:
                        conditions[f"_case_{name}_{j}"] = cond
        if errors:
            continue
        t = raw.select("_row", **exprs, **conditions)
        for name in list(exprs):
            opts = opts_of[name]
            if "lookup" in opts:
                lk = _lookup_table(con, m, data_dir, str(opts["lookup"])).rename(**{f"_lk_{name}": "_lk_value", f"_lk_k_{name}": "_lk_key"})
                t = t.left_join(lk, t[name] == lk[f"_lk_k_{name}"]).drop(f"_lk_k_{name}")
                kept = t[name] if opts.get("keep_unmatched") else ibis.literal(None, type="string")
                t = t.mutate(**{name: ibis.coalesce(t[f"_lk_{name}"], kept)}).drop(f"_lk_{name}")
        t = t.mutate(**{name: _finish(t[name], opts_of[name], spec.columns[name], m.timezone) for name in exprs})
        # `when` cases override the mapped value, the first matching case first: cases on source
        # columns (as read) first, then cases on other canonical columns (with their own cases applied)
        for on_field in (False, True):
            cased = {}
            for name in exprs:
                cases = opts_of[name].get("when") or []
                value, used = t[name], False
                for j in reversed(range(len(cases))):
                    case = cases[j]
                    if ("field" in case) != on_field:
                        continue
                    if on_field:
                        cond = _matches(t[str(case["field"])], case) if case["field"] in exprs else None
                    else:
                        cond = t[f"_case_{name}_{j}"] if f"_case_{name}_{j}" in t.columns else None
                    if cond is not None:
                        then = case["then"]
                        value = ibis.ifelse(cond, ibis.literal(None if then is None else str(then), type="string"), value)
                        used = True
                if used:
                    cased[name] = value
            if cased:
                t = t.mutate(**cased)
        t = t.drop(*[c for c in t.columns if c.startswith("_case_")])
        t = t.mutate(**{f"_drop_{i}": _matches(t[str(r["field"])], r) for i, r in enumerate(drops)
                        if "field" in r and r["field"] in exprs})
        flags = [f"_drop_{i}" for i in range(len(drops)) if f"_drop_{i}" in t.columns]
        if flags:
            # Each dropped row is counted once, under the first rule that drops it.
            firsts = {f"_first_{f}": t[f] & ~ibis.or_(*[t[g] for g in flags[:k]]) if k else t[f]
                      for k, f in enumerate(flags)}
            counts = t.aggregate(**{k: v.cast("int64").sum() for k, v in firsts.items()}).to_pyarrow().to_pylist()[0]
            for f in flags:
                rule = drops[int(f.split("_")[-1])]
                excluded.append({"table": table, "file": str(part["file"]), "rule": _rule_text(rule),
                                 "reason": str(rule.get("reason", "")), "rows": int(counts[f"_first_{f}"] or 0)})
            t = t.filter(~ibis.or_(*[t[f] for f in flags])).drop(*flags)
        if len(parts) > 1:
            t = t.mutate(_file=ibis.literal(str(part["file"])))
        pieces.append(t)
    if errors:
        raise ContractError(errors)
    names = list(dict.fromkeys(c for piece in pieces for c in piece.columns))
    aligned = [piece.select(*[piece[c] if c in piece.columns else ibis.literal(None, type="string").name(c)
                              for c in names]) for piece in pieces]
    stacked = aligned[0] if len(aligned) == 1 else ibis.union(*aligned, distinct=False)
    label = ", ".join(files) if len(files) > 1 else str(data_dir / files[0])
    exclude = tuple(dict.fromkeys(str(c) for part in parts for c in part.get("exclude") or []))
    return MappedTable(stacked, label, files, excluded, exclude)


def empty_source(spec: TableSpec) -> ir.Table:
    """A table with no rows, as a raw source of ``spec``'s table (its required columns as text)."""
    return ibis.memtable({c: [] for c in spec.required} | {"_row": []},
                         schema={**{c: "string" for c in spec.required}, "_row": "int64"})


def _empty(spec: TableSpec, label: str) -> MappedTable:
    return MappedTable(empty_source(spec), label, [], [])


def _source_condition(m: Mapping, raw: ir.Table, part: dict, rule: dict, line: int, where: str,
                      errors: list[Violation]) -> ir.BooleanValue | None:
    """A drop rule's or a case's condition on source columns; None (skipped) when its columns are
    absent and it is ``optional``, else absent columns are a mapping error."""
    names = _names(rule["column"])
    col = _source(raw, names)
    if col is None:
        if not rule.get("optional"):
            shown = " or ".join(repr(c) for c in names)
            errors.append(m.error(line, where, f"source column {shown} is not in {part['file']} (columns: {_shown(raw)})"))
        return None
    return _matches(col, rule)


def _rule_text(rule: dict) -> str:
    target = " or ".join(_names(rule["column"])) if "column" in rule else f"{rule['field']}"
    if rule.get("missing"):
        return f"{target} is empty"
    if "not_in" in rule:
        return f"{target} not in {', '.join(_names(rule['not_in']))}"
    return f"{target} = {', '.join(_names(rule['equals']))}"

