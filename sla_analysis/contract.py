"""The data contract: canonical tables, their columns, and the rules every input must pass.

Raw files (CSV or Parquet) are read by DuckDB and parsed into typed columns with Ibis expressions;
nothing is pulled into pandas. Each rule is an element-wise predicate over an *annotated* table
(typed columns plus helper columns such as the raw text, the duplicate count of a key or whether a
referenced lead exists). The rules are checked together by a pandera schema on the Ibis table with
``lazy=True``; every failing rule is reported with its file, column, rule and up to 10 example rows.
See ``docs/data-contract.md``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Callable

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

STRING, TIMESTAMP, FLOAT, BOOL = "string", "timestamp", "float64", "boolean"

TIERS = ("high", "moderate", "low")
#: timestamps before this are typos or placeholders (0024 for 2024, 1970-01-01 for "no date")
EARLIEST = datetime(1990, 1, 1)
STAGES = ("open", "won", "lost")
MAX_EXAMPLES = 10


@dataclass(frozen=True)
class TableSpec:
    """A canonical table: required and optional columns with their types, its key and references."""

    name: str
    required: dict[str, str]
    optional: dict[str, str]
    key: str
    references_leads: bool = False
    table_required: bool = True
    lowercase: tuple[str, ...] = ()
    allowed: dict[str, tuple[str, ...]] = field(default_factory=dict)
    non_negative: tuple[str, ...] = ()
    maximum: dict[str, float] = field(default_factory=dict)  # larger values are typos, not data
    must_have_rows: bool = False  # a header-only file is refused

    @property
    def columns(self) -> dict[str, str]:
        return {**self.required, **self.optional}


CONTRACT: dict[str, TableSpec] = {
    "leads": TableSpec(
        "leads",
        required={"lead_id": STRING, "created_at": TIMESTAMP, "source": STRING},
        optional={"segment": STRING, "tier": STRING, "score": FLOAT, "mql_at": TIMESTAMP,
                  "sql_at": TIMESTAMP, "owner_id": STRING, "marketing_sourced": BOOL,
                  # handoff quality (notebook 06): all optional
                  "fit_score": FLOAT, "interest_score": FLOAT, "mql_type": STRING,
                  "rejected_at": TIMESTAMP, "rejection_reason": STRING, "recycled_at": TIMESTAMP,
                  "requalified_at": TIMESTAMP, "marketing_influenced": BOOL, "persona": STRING},
        key="lead_id", lowercase=("tier",), allowed={"tier": TIERS}, must_have_rows=True,
    ),
    "activities": TableSpec(
        "activities",
        required={"activity_id": STRING, "lead_id": STRING, "occurred_at": TIMESTAMP, "type": STRING},
        optional={"rep_id": STRING, "outcome": STRING, "duration_s": FLOAT},
        key="activity_id", references_leads=True, lowercase=("type", "outcome"),
        non_negative=("duration_s",), maximum={"duration_s": 86_400}, must_have_rows=True,
    ),
    "deals": TableSpec(
        "deals",
        required={"deal_id": STRING, "lead_id": STRING, "created_at": TIMESTAMP, "stage": STRING},
        optional={"closed_at": TIMESTAMP, "amount": FLOAT, "proposal_at": TIMESTAMP},
        key="deal_id", references_leads=True, lowercase=("stage",), allowed={"stage": STAGES},
        non_negative=("amount",), maximum={"amount": 1e12},
    ),
    "reps": TableSpec(
        "reps",
        required={"rep_id": STRING},
        optional={"team": STRING, "role": STRING, "hourly_cost": FLOAT},
        key="rep_id", table_required=False, non_negative=("hourly_cost",), maximum={"hourly_cost": 1e5},
    ),
}

_IBIS_TYPES = {STRING: dt.String(), TIMESTAMP: dt.Timestamp(), FLOAT: dt.Float64(), BOOL: dt.Boolean()}
_TRUE = ("true", "t", "yes", "y", "1")
_FALSE = ("false", "f", "no", "n", "0")


@dataclass
class Violation:
    """One broken rule: where, what, how many rows, and examples (row numbers are 1-based data
    rows, the header not counted)."""

    file: str
    column: str
    rule: str
    n_rows: int
    examples: list[dict]

    def format(self) -> str:
        rows = f" ({self.n_rows} row{'s' if self.n_rows != 1 else ''})" if self.n_rows else ""
        lines = [f"{self.file}: column '{self.column}': {self.rule}{rows}"]
        for ex in self.examples:
            shown = ", ".join(f"{k}={_show(v)}" for k, v in ex.items())
            lines.append(f"    {shown}")
        return "\n".join(lines)


def _show(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


class ContractError(Exception):
    """Input that breaks the data contract. ``violations`` lists every broken rule."""

    def __init__(self, violations: list[Violation]):
        self.violations = violations
        n = len(violations)
        super().__init__(f"The CRM export breaks the data contract ({n} rule{'s' if n != 1 else ''} "
                         "failed); nothing was published.\n" + "\n".join(v.format() for v in violations))


@dataclass(frozen=True)
class Rule:
    """An element-wise rule: ``ok(annotated_table)`` is a boolean column, true where a row passes."""

    column: str
    text: str
    ok: Callable[[ir.Table], ir.BooleanValue]
    show: tuple[str, ...] = ()
    code: str = ""  # rules a mapping may turn into counted exclusions: see EXCLUDABLE


#: Rules whose failing rows a mapping file may drop and count (``exclude: [...]``) instead of refusing
#: the export: an activity or deal whose lead is not in the export, a deal dated before its lead, a
#: time after the run (a meeting booked ahead).
EXCLUDABLE = {"unknown_lead": "refers to a lead_id that is not in leads",
              "before_lead": "deal created before its lead existed",
              "future": "timestamp is in the future (e.g. a meeting booked ahead)"}


def find_input_file(data_dir: Path, table: str) -> Path | None:
    """``<table>.csv`` or ``<table>.parquet`` in ``data_dir``; both at once is ambiguous."""
    found = [data_dir / f"{table}{ext}" for ext in (".csv", ".parquet")
             if (data_dir / f"{table}{ext}").is_file()]
    if len(found) > 1:
        raise ContractError([Violation(str(data_dir), "-", f"both {found[0].name} and {found[1].name} "
                                       f"exist for table '{table}': keep one", 0, [])])
    return found[0] if found else None


def read_raw(con: ibis.BaseBackend, path: Path, used: tuple[str, ...] = ()) -> ir.Table:
    """Read a file as it is: CSV as text columns (so parsing errors can be reported per row),
    Parquet with its own types. A ``_row`` column numbers the data rows from 1. See
    :mod:`sla_analysis.sources` for what is read and what is refused."""
    from .sources import read_source

    return read_source(con, path, used=used)


def _parse(col: ir.Column, kind: str, lowercase: bool) -> ir.Column:
    """Text or native value -> canonical type; unparseable values become NULL (reported apart)."""
    if kind == STRING:
        out = col.cast("string").strip()
        out = out.lower() if lowercase else out
        return out.nullif("")
    if kind == BOOL:
        text = col.cast("string").strip().lower()
        return ibis.cases((text.isin(_TRUE), True), (text.isin(_FALSE), False), else_=ibis.null(dt.boolean))
    if kind == TIMESTAMP:
        if col.type().is_timestamp():
            if col.type().timezone is None:
                return col.cast(dt.Timestamp())
            return col.cast(dt.Timestamp(timezone="UTC")).cast(dt.Timestamp())
        text = col.cast("string").strip().nullif("")
        # Offsets are honoured and converted to UTC; naive times are taken as UTC.
        return text.try_cast(dt.Timestamp(timezone="UTC")).cast(dt.Timestamp())
    text = col.cast("string").strip().nullif("")
    return text.try_cast(_IBIS_TYPES[kind])


def _given(t: ir.Table, c: str) -> ir.StringColumn:
    """The raw text of column ``c``, NULL where it was empty."""
    return t[f"_raw_{c}"].strip().nullif("")


def _annotate(raw: ir.Table, spec: TableSpec, lead_keys: ir.Table | None, as_of: datetime) -> tuple[ir.Table, list[Rule]]:
    """Typed columns + helper columns, and the rules over them."""
    present = [c for c in spec.columns if c in raw.columns]
    exprs = {c: raw[c] for c in ("_file", "_row") if c in raw.columns}
    rules: list[Rule] = []
    for c in present:
        kind = spec.columns[c]
        exprs[c] = _parse(raw[c], kind, c in spec.lowercase)
        exprs[f"_raw_{c}"] = raw[c].cast("string")
        if kind != STRING:
            rules.append(Rule(c, f"must be a valid {kind}",
                              lambda t, c=c: _given(t, c).notnull() & t[c].notnull() | _given(t, c).isnull(),
                              (f"_raw_{c}",)))
        if c in spec.required:
            rules.append(Rule(c, "required value is missing", lambda t, c=c: _given(t, c).notnull(), (f"_raw_{c}",)))
        if kind == TIMESTAMP:
            rules.append(Rule(c, f"timestamp is in the future (after {as_of:%Y-%m-%d %H:%M} UTC)",
                              lambda t, c=c: t[c].isnull() | (t[c] <= ibis.timestamp(as_of)), (c,), "future"))
            rules.append(Rule(c, f"timestamp is before {EARLIEST:%Y-%m-%d} (a typo, or a placeholder for no date?)",
                              lambda t, c=c: t[c].isnull() | (t[c] >= ibis.timestamp(EARLIEST)), (c,)))
        if kind == FLOAT:
            rules.append(Rule(c, "must be a finite number (not NaN or infinity)",
                              lambda t, c=c: t[c].isnull() | ~(t[c].isnan() | t[c].isinf()), (f"_raw_{c}",)))
        if c in spec.allowed:
            allowed = spec.allowed[c]
            rules.append(Rule(c, f"must be one of {', '.join(allowed)}",
                              lambda t, c=c, a=allowed: t[c].isnull() | t[c].isin(a), (f"_raw_{c}",)))
        if c in spec.non_negative:
            rules.append(Rule(c, "must not be negative", lambda t, c=c: t[c].isnull() | (t[c] >= 0), (c,)))
        if c in spec.maximum:
            top = spec.maximum[c]
            rules.append(Rule(c, f"must be at most {top:,.0f} (a larger value is a typo)",
                              lambda t, c=c, top=top: t[c].isnull() | t[c].isnan() | (t[c] <= top), (c,)))
    if spec.name == "deals" and {"created_at", "closed_at"} <= set(present):
        rules.append(Rule("closed_at", "deal closed before it was created",
                          lambda t: t.closed_at.isnull() | t.created_at.isnull() | (t.closed_at >= t.created_at),
                          ("closed_at", "created_at")))
    table = raw.select(**exprs)
    key = spec.key
    if key in present:
        # The repeated ids (usually none) are found by a narrow group-by and joined back: a window
        # over the whole row would partition every wide row.
        counts = table.select(key).group_by(key).aggregate(_dup_count=ibis._.count())
        repeated = counts.filter(counts._dup_count > 1)
        table = table.left_join(repeated, key).drop(f"{key}_right")
        rules.append(Rule(key, "must be unique (duplicate id)",
                          lambda t: t[key].isnull() | t._dup_count.isnull(), (key, "_dup_count")))
    if spec.references_leads and lead_keys is not None and "lead_id" in present:
        table = table.left_join(lead_keys, table.lead_id == lead_keys._known_lead_id).drop("_known_lead_id")
        rules.append(Rule("lead_id", EXCLUDABLE["unknown_lead"],
                          lambda t: t.lead_id.isnull() | t._lead_rows.notnull(), ("lead_id",), "unknown_lead"))
        if spec.name == "deals" and "created_at" in present:
            rules.append(Rule("created_at", EXCLUDABLE["before_lead"],
                              lambda t: t.created_at.isnull() | t._lead_created_at.isnull() |
                              (t.created_at >= t._lead_created_at), ("created_at", "_lead_created_at"),
                              "before_lead"))
    return table, rules


def _pandera_schema(spec_name: str, rules: list[Rule]) -> tuple["pa.DataFrameSchema", dict[str, Rule]]:
    """One pandera check per rule, run on a boolean column ``_ok_<i>``; check names index rules.
    (pandera is imported here, not at the top: the notebooks read validated tables and need not
    load it.)"""
    import pandera.ibis as pa

    columns, by_name = {}, {}
    for i, rule in enumerate(rules):
        name = f"rule_{i}"
        by_name[name] = rule
        columns[f"_ok_{i}"] = pa.Column(dt.Boolean(), checks=pa.Check.eq(True, name=name), nullable=False)
    return pa.DataFrameSchema(columns, name=spec_name, strict=False), by_name


def validate_table(con: ibis.BaseBackend, path: Path, spec: TableSpec, lead_keys: ir.Table | None,
                   as_of: datetime) -> tuple[ir.Table, list[Violation], dict]:
    """Read, parse and check one canonical input file. See :func:`validate_raw`."""
    return validate_raw(read_raw(con, path, tuple(spec.columns)), str(path), spec, lead_keys, as_of)


def validate_raw(raw: ir.Table, label: str, spec: TableSpec, lead_keys: ir.Table | None,
                 as_of: datetime, exclude: tuple[str, ...] = (), *, allow_empty: bool = False) -> tuple[ir.Table, list[Violation], dict]:
    """Parse and check one table read as it is (canonical column names, a ``_row`` column and,
    for a table stacked from several files, a ``_file`` column). Returns the canonical table
    expression (all contract columns, absent optional ones as NULL), the violations, and what was
    present. ``label`` names the input in messages. Rows failing a rule whose code is in ``exclude``
    (see :data:`EXCLUDABLE`) are dropped and counted in ``present["excluded"]`` instead."""
    missing = [c for c in spec.required if c not in raw.columns]
    if missing:
        found = ", ".join(c for c in raw.columns if not c.startswith("_"))
        return raw, [Violation(label, c, f"required column is missing (columns found: {found})", 0, [])
                     for c in missing], {}
    if spec.must_have_rows and not allow_empty and int(raw.count().execute()) == 0:
        return raw, [Violation(label, "-", f"has no data rows (a header only): there are no {spec.name} to "
                               "report on", 0, [])], {}
    table, rules = _annotate(raw, spec, lead_keys, as_of)
    # Materialised once in the engine, so each pandera check scans a table, not the whole pipeline.
    # Only the row number, the parsed columns and one flag per rule are kept (the raw text and the
    # helper columns would double its size): a rule's example rows are read again from the file
    # only when it fails.
    oks = {f"_ok_{i}": rule.ok(table).fill_null(False) for i, rule in enumerate(rules)}
    keep = [c for c in ("_file", "_row") if c in table.columns] + [c for c in spec.columns if c in table.columns]
    checked = table.select(*keep, **oks).cache()
    from pandera.errors import SchemaErrors

    schema, by_name = _pandera_schema(spec.name, rules)
    violations: list[Violation] = []
    excluded: list[dict] = []
    try:
        schema.validate(checked, lazy=True)
    except SchemaErrors as err:
        failed = sorted({e.check.name for e in err.schema_errors if getattr(e, "check", None) is not None
                         and getattr(e.check, "name", None) in by_name}, key=lambda n: int(n.split("_")[1]))
        for name in failed:
            rule = by_name[name]
            i = int(name.split("_")[1])
            bad = checked.filter(~checked[f"_ok_{i}"])
            n_bad = int(bad.count().execute())
            if n_bad == 0:  # pandera-ibis fails every check on an empty table; no row broke this rule
                continue
            if rule.code and rule.code in exclude:
                excluded.append({"table": spec.name, "file": label, "rule": rule.text, "rows": n_bad,
                                 "reason": "excluded by the mapping file"})
                continue
            cols = [*[c for c in ("_file", "_row") if c in table.columns],
                    *[c for c in (spec.key, *rule.show) if c in table.columns]]
            cols = list(dict.fromkeys(cols))
            failing = table.filter(~rule.ok(table).fill_null(False))
            ex = failing.order_by("_row").select(*cols).limit(MAX_EXAMPLES).to_pyarrow().to_pylist()
            examples = [{("row" if k == "_row" else k.removeprefix("_raw_").lstrip("_")): v for k, v in r.items()}
                        for r in ex]
            violations.append(Violation(label, rule.column, rule.text, n_bad, examples))
    kept = [checked[f"_ok_{i}"] for i, rule in enumerate(rules) if rule.code and rule.code in exclude]
    # The canonical table is read from the materialised one: the file is parsed once.
    source = checked.filter(*kept) if excluded else checked
    canonical = source.select(*[
        (source[c] if c in source.columns else ibis.null(_IBIS_TYPES[t]).name(c))
        for c, t in spec.columns.items()
    ])
    present = {"file": label, "columns": [c for c in spec.columns if c in raw.columns],
               "extra_columns": [c for c in raw.columns if c not in spec.columns and not c.startswith("_")],
               "excluded": excluded}
    return canonical, violations, present
