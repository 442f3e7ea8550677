"""Validation: every rule of the data contract checked on a table in the engine.

The rules (:mod:`sla_analysis.io.contract`) are element-wise predicates over an annotated table.
The file is parsed once into a materialised table of the parsed columns and one flag per rule;
**one aggregate** over it counts the rows failing each rule (every broken rule is found in one
pass, as a lazy schema check would, without a query per rule). Every failing rule is reported with
its file, column, rule and up to 10 example rows, read only when a rule fails.
"""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

import ibis
import ibis.expr.types as ir

from sla_analysis.errors import Violation
from sla_analysis.io.contract import (
    IBIS_TYPES,
    MAX_EXAMPLES,
    Rule,
    TableSpec,
    annotate,
    annotate_rows,
    attach_keys,
)
from sla_analysis.io.readers import numbered, read_source


def failing_rows(checked: ir.Table, rules: list[Rule]) -> list[int]:
    """Rows failing each rule (``checked`` holds a boolean ``_ok_<i>`` per rule, NULL counted as
    failing), counted in one aggregate: ``sum(not _ok_i)`` per rule; 0 for an empty table."""
    return _count_failing(checked, [f"_ok_{i}" for i in range(len(rules))])


def _count_failing(checked: ir.Table, flags: list[str]) -> list[int]:
    """``sum(not flag)`` for each flag column, in one aggregate (it reads only those columns)."""
    if not flags:
        return []
    row = checked.aggregate(**{f: (~checked[f].fill_null(False)).cast("int64").sum()
                               for f in flags}).to_pyarrow().to_pylist()[0]
    return [int(row[f] or 0) for f in flags]


def validate_table(con: ibis.BaseBackend, path: Path, spec: TableSpec, lead_keys: ir.Table | None,
                   as_of: datetime, *, allow_empty: bool = False) -> tuple[ir.Table, list[Violation], dict]:
    """Read, parse and check one canonical input file. See :func:`validate_raw`."""
    return validate_raw(read_source(con, path, used=tuple(spec.columns), number_rows=False), str(path), spec,
                        lead_keys, as_of, allow_empty=allow_empty, con=con)


def _first_exclusions(checked: ir.Table, rules: list, exclude: tuple[str, ...]) -> dict[int, int]:
    """Rows each excludable rule leaves out that no earlier excludable rule already left out (a deal
    on an unknown lead also fails "not before its lead": it is one row left out, not two)."""
    idx = [i for i, r in enumerate(rules) if r.code and r.code in exclude and f"_ok_{i}" in checked.columns]
    if not idx:
        return {}
    sums = {}
    for k, i in enumerate(idx):
        first = ~checked[f"_ok_{i}"]
        for j in idx[:k]:
            first = first & checked[f"_ok_{j}"]
        sums[f"_first_{i}"] = first.cast("int64").sum()
    row = checked.aggregate(**sums).to_pyarrow().to_pylist()[0]
    return {i: int(row[f"_first_{i}"] or 0) for i in idx}


def materialise(expr: ir.Table, con: ibis.BaseBackend | None) -> ir.Table:
    """``expr`` computed once into a temporary table of ``con`` (every table of one validation lives
    in one connection: a source read in memory, such as a workbook, would otherwise be cached in
    Ibis's default backend and could not be joined with the others); ``expr.cache()`` without one."""
    if con is None:
        return expr.cache()
    return con.create_table(ibis.util.gen_name("validated"), obj=expr, temp=True)


def validate_raw(raw: ir.Table, label: str, spec: TableSpec, lead_keys: ir.Table | None,
                 as_of: datetime, exclude: tuple[str, ...] = (), *, allow_empty: bool = False,
                 con: ibis.BaseBackend | None = None) -> tuple[ir.Table, list[Violation], dict]:
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
    table, rules = annotate_rows(raw, spec, as_of)
    # Materialised once in the engine: the rule counts and the canonical table read it, not the file.
    # Only the row number, the parsed columns and one flag per row rule are kept (the raw text and
    # the helper columns would double its size): a rule's example rows are read again from the file
    # only when it fails. The rules across rows (repeated ids, unknown leads) join narrow keys onto
    # the materialised table, so the file is read and parsed once (joined before materialising, the
    # duplicate count read the file a second time).
    oks = {f"_ok_{i}": rule.ok(table).fill_null(False) for i, rule in enumerate(rules)}
    keep = [c for c in ("_file", "_row") if c in table.columns] + [c for c in spec.columns if c in table.columns]
    rows = materialise(table.select(*keep, **oks), con)
    if spec.must_have_rows and not allow_empty and int(rows.count().execute()) == 0:
        return raw, [Violation(label, "-", f"has no data rows (a header only): there are no {spec.name} to "
                               "report on", 0, [])], {}
    joined, key_rules = attach_keys(rows, spec, lead_keys)
    key_oks = {f"_ok_{len(rules) + j}": rule.ok(joined).fill_null(False) for j, rule in enumerate(key_rules)}
    joined = joined.mutate(**key_oks)
    counts = failing_rows(rows, rules) + _count_failing(joined, list(key_oks))
    rules = rules + key_rules
    # the rows with a rule across rows failing need the joined table; a clean table is the rows
    checked = joined if any(counts[len(rules) - len(key_rules):]) else rows
    # the raw-based table, with row numbers, for a failing rule's examples (read only then)
    table, _ = annotate(numbered(raw), spec, lead_keys, as_of)

    violations: list[Violation] = []
    excluded: list[dict] = []
    firsts = _first_exclusions(checked, rules, exclude) if any(counts) else {}
    for i, (rule, n_bad) in enumerate(zip(rules, counts)):
        if n_bad == 0:
            continue
        if rule.code and rule.code in exclude:
            if firsts[i]:  # each row is counted once, under the first rule that leaves it out
                excluded.append({"table": spec.name, "file": label, "rule": rule.text, "rows": firsts[i],
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
    kept = [checked[f"_ok_{i}"] for i, rule in enumerate(rules) if rule.code and rule.code in exclude and counts[i]]
    # The canonical table is read from the materialised one: the file is parsed once.
    source = checked.filter(*kept) if excluded else checked
    canonical = source.select(*[
        (source[c] if c in source.columns else ibis.null(IBIS_TYPES[t]).name(c))
        for c, t in spec.columns.items()
    ])
    present = {"file": label, "columns": [c for c in spec.columns if c in raw.columns],
               "extra_columns": [c for c in raw.columns if c not in spec.columns and not c.startswith("_")],
               "excluded": excluded}
    return canonical, violations, present
