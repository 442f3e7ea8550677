"""The data contract: canonical tables, their columns, and the rules every input must pass.

Raw files (CSV or Parquet) are read by DuckDB and parsed into typed columns with Ibis expressions;
nothing is pulled into pandas. Each rule is an element-wise predicate over an *annotated* table
(typed columns plus helper columns such as the raw text, the duplicate count of a key or whether a
referenced lead exists). The rules are checked by :mod:`sla_analysis.io.validate`; every failing rule is reported with its
file, column, rule and up to 10 example rows.
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
import yaml

from sla_analysis.errors import ContractError, Violation

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

IBIS_TYPES = {STRING: dt.String(), TIMESTAMP: dt.Timestamp(), FLOAT: dt.Float64(), BOOL: dt.Boolean()}
_TRUE = ("true", "t", "yes", "y", "1")
_FALSE = ("false", "f", "no", "n", "0")


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


#: What a contract folder's ``unavailable.yml`` may say the export does not record, with why (the
#: values are the reasons, in plain words, shown on the pages). ``activities`` is a whole table; the
#: others are facts the tables seem to hold but do not: an adapter that has to place first touches
#: or leave earlier call outcomes blank says so, and the figures built on them are "not available".
UNAVAILABLE_FACTS = {
    "activities": "no contact attempts: cohorts by attempts, the attempt cap, speed to lead, cadence",
    "first_touch_times": "when a lead was first contacted: speed to lead and what speed is worth",
    "call_outcomes": "whether each call reached a person: contact and conversation rates",
    "mql_times": "when each lead became an MQL: the days from MQL to SQL",
    "attempt_times": "when in the day and how far apart attempts were made: when attempts were made, days between attempts",
}
DATA_NOTES = "unavailable.yml"


def read_data_notes(data_dir: Path) -> dict[str, str]:
    """A contract folder's ``unavailable.yml`` (``{fact: why}``, facts from :data:`UNAVAILABLE_FACTS`),
    or ``{}`` when there is none. A fact not in the list, or an empty reason, is a contract error."""
    path = Path(data_dir) / DATA_NOTES
    if not path.is_file():
        return {}
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ContractError([Violation(str(path), "-", f"not valid YAML ({exc})", 0, [])]) from None
    bad = [Violation(str(path), str(k), f"not a fact the contract knows (one of {', '.join(UNAVAILABLE_FACTS)}) "
                                        "with a reason in words", 0, [])
           for k, v in (doc.items() if isinstance(doc, dict) else [("-", None)])
           if k not in UNAVAILABLE_FACTS or not str(v or "").strip()]
    if bad:
        raise ContractError(bad)
    return {str(k): str(v).strip() for k, v in doc.items()}


def find_input_file(data_dir: Path, table: str) -> Path | None:
    """``<table>.csv`` or ``<table>.parquet`` in ``data_dir``; both at once is ambiguous."""
    found = [data_dir / f"{table}{ext}" for ext in (".csv", ".parquet")
             if (data_dir / f"{table}{ext}").is_file()]
    if len(found) > 1:
        raise ContractError([Violation(str(data_dir), "-", f"both {found[0].name} and {found[1].name} "
                                       f"exist for table '{table}': keep one", 0, [])])
    return found[0] if found else None


def given_text(col: ir.Column) -> ir.StringColumn:
    """A value as text, without surrounding spaces, tabs and newlines; NULL where that leaves nothing.

    Only a value whose first or last character is at or below a space (code 32) is trimmed: checking
    the two ends costs about half of trimming every value with the set of space characters, and
    almost no CRM value has surrounding spaces."""
    text = col.cast("string")
    edge = (text.ascii_str() <= 32) | (text.right(1).ascii_str() <= 32)
    return ibis.cases((edge, text.strip()), else_=text).nullif("")


def _parse(col: ir.Column, kind: str, lowercase: bool, text: ir.StringColumn | None = None) -> ir.Column:
    """Text or native value -> canonical type; unparseable values become NULL (reported apart).
    ``text``: ``given_text(col)``, when already computed (trimming is most of a text parse's cost)."""
    if kind == TIMESTAMP and col.type().is_timestamp():
        if col.type().timezone is None:
            return col.cast(dt.Timestamp())
        return col.cast(dt.Timestamp(timezone="UTC")).cast(dt.Timestamp())
    text = given_text(col) if text is None else text
    if kind == STRING:
        return text.lower() if lowercase else text
    if kind == BOOL:
        low = text.lower()
        return ibis.cases((low.isin(_TRUE), True), (low.isin(_FALSE), False), else_=ibis.null(dt.boolean))
    if kind == TIMESTAMP:
        return parse_timestamp(text)
    return text.try_cast(IBIS_TYPES[kind])


def parse_timestamp(text: ir.StringColumn) -> ir.TimestampColumn:
    """Trimmed text -> naive UTC timestamp, NULL where it does not parse. Offsets are honoured and
    converted to UTC; naive times are taken as UTC (the connection's time zone).

    A value written exactly ``YYYY-MM-DD HH:MM:SS`` (or with a ``T``) has no room for an offset, so
    it is read as a plain timestamp: on L's 17.8 million activity times that takes 0.6 s, against
    2.5 s for the time-zone-aware parse every other value goes through."""
    plain = ((text.length() == 19) & (text.substr(4, 1) == "-") & (text.substr(7, 1) == "-")
             & text.substr(10, 1).isin((" ", "T")) & (text.substr(13, 1) == ":") & (text.substr(16, 1) == ":"))
    return ibis.cases((plain, text.try_cast(dt.Timestamp())),
                      else_=text.try_cast(dt.Timestamp(timezone="UTC")).cast(dt.Timestamp()))


def _given(t: ir.Table, c: str) -> ir.StringColumn:
    """The raw text of column ``c``, trimmed, NULL where it was empty (computed once per row)."""
    return t[f"_given_{c}"]


def annotate(raw: ir.Table, spec: TableSpec, lead_keys: ir.Table | None, as_of: datetime) -> tuple[ir.Table, list[Rule]]:
    """Typed columns + helper columns, and every rule over them (:func:`annotate_rows`, then
    :func:`attach_keys`)."""
    table, rules = annotate_rows(raw, spec, as_of)
    table, key_rules = attach_keys(table, spec, lead_keys)
    return table, rules + key_rules


def annotate_rows(raw: ir.Table, spec: TableSpec, as_of: datetime) -> tuple[ir.Table, list[Rule]]:
    """Typed columns + helper columns, and the rules that read one row at a time."""
    present = [c for c in spec.columns if c in raw.columns]
    # Two steps: each value's trimmed text first, then the typed columns and the rules from it (in
    # one step the engine trimmed each value once per rule reading it, and trimming is most of a
    # text parse's cost).
    keep = [c for c in ("_file", "_row") if c in raw.columns]
    texts = raw.select(*keep, **{f"_raw_{c}": raw[c].cast("string") for c in present},
                       **{f"_given_{c}": given_text(raw[c]) for c in present},
                       **{f"_native_{c}": raw[c] for c in present
                          if spec.columns[c] == TIMESTAMP and raw[c].type().is_timestamp()})
    exprs = {c: texts[c] for c in keep}
    rules: list[Rule] = []
    for c in present:
        kind = spec.columns[c]
        native = f"_native_{c}"
        exprs[c] = (_parse(texts[native], kind, c in spec.lowercase) if native in texts.columns
                    else _parse(texts[f"_raw_{c}"], kind, c in spec.lowercase, texts[f"_given_{c}"]))
        exprs[f"_raw_{c}"] = texts[f"_raw_{c}"]
        exprs[f"_given_{c}"] = texts[f"_given_{c}"]
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
    return texts.select(**exprs), rules


def attach_keys(table: ir.Table, spec: TableSpec, lead_keys: ir.Table | None) -> tuple[ir.Table, list[Rule]]:
    """The rules across rows: a repeated id, and (for activities and deals) an unknown lead or a
    deal dated before its lead. Adds the joined helper columns they read (``_dup_count``,
    ``_lead_rows``, ``_lead_created_at``) to ``table``."""
    rules: list[Rule] = []
    present = [c for c in spec.columns if c in table.columns]
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
