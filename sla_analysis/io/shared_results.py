"""Results shared by the pages of one report: a query asked by several pages runs once.

The pages of a report ask the engine many of the same questions: how far the data reaches (every
page), the score bands' attempts by type (lead qualification and the proposed SLA), when attempts
were made (compliance and the proposed SLA), the reps' pace (cost per call and compliance), and
others. Each page used to run them again. On the L bench export the repeated queries took 7.0 s
of the pages' 21 s of queries.

:func:`share_results` routes a DuckDB connection's queries through a folder of the run
(``<staging>/fragments/results/``, removed with the fragments before the report is published):

* the key is the validated export's folder and the query's SQL as Ibis compiles it (the tables'
  names and every literal in it);
* the first page to ask runs the query and keeps its result (an Arrow file, :func:`sla_analysis.io.kept.computed_once`);
  a page asking while it runs waits for it (a lock per query), then reads it;
* every later ask, on any page, reads the Arrow table instead of running the query.

A result is what the engine returned (an aggregate: pandas sees no raw events), so a figure two
pages show comes from one computation, the same number on both. The results live only as long as
the run; an analyst's notebook outside a report, Spark and a warehouse run every query as before.

It hooks the DuckDB backend of Ibis where ``execute`` and ``to_pyarrow`` turn an expression into a
DuckDB relation (``Backend._to_duckdb_relation``, Ibis 12): the SQL is compiled once, as before.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import ibis
import ibis.expr.operations as ops
import pyarrow as pa
import pyarrow.ipc as ipc

from sla_analysis.io.kept import computed_once, write_atomically

#: the run's folder of shared results, inside the fragments folder the orchestrator gives the pages
RESULTS_FOLDER = "results"

#: what a query may read besides the export's tables: never shared
_NOT_IN_THE_EXPORT = (ops.InMemoryTable, ops.ScalarUDF, ops.AggUDF, ops.ElementWiseVectorizedUDF,
                      ops.ReductionVectorizedUDF, ops.AnalyticVectorizedUDF)


class _StoredRelation:
    """What ``execute`` and ``to_pyarrow`` read from a DuckDB relation (``to_arrow_table``), served
    from a kept result; anything else asked of it goes to a DuckDB relation over that result."""

    def __init__(self, table: pa.Table, duckdb_con) -> None:
        self._table = table
        self._con = duckdb_con

    def to_arrow_table(self) -> pa.Table:
        return self._table

    def __getattr__(self, name: str):
        return getattr(self._con.from_arrow(self._table), name)


def query_key(sql: str, scope: str = "") -> str:
    """The name of a query's result: the SHA-256 of the data's ``scope`` (the validated export's
    folder) and the SQL."""
    return hashlib.sha256(f"{scope}\n{sql}".encode("utf-8")).hexdigest()[:32]


def _read(path: Path) -> pa.Table | None:
    """A kept result, or None when it cannot be read (it is then removed, and the query run again)."""
    try:
        with ipc.open_file(path) as reader:
            return reader.read_all()
    except (OSError, pa.ArrowException):
        path.unlink(missing_ok=True)
        return None


def _write(table: pa.Table, path: Path) -> None:
    def arrow_file(sink) -> None:
        with ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)
    write_atomically(path, arrow_file)


def _keep(table: pa.Table, path: Path) -> None:
    try:
        _write(table, path)
    except (OSError, pa.ArrowException):  # a full disk: this page still has its result
        pass


def shared_result(folder: Path, sql: str, run, scope: str = "") -> pa.Table:
    """The result of ``sql`` on the data of ``scope``: read from ``folder`` when a page of the run
    has kept it, else ``run()`` (an Arrow table), kept there. A second asker waits for the first."""
    return computed_once(folder / f"{query_key(sql, scope)}.arrow", run, _read, _keep)


def share_results(con: ibis.BaseBackend, folder: Path, scope: str) -> None:
    """Route the queries of ``con`` (an Ibis DuckDB connection on the validated export ``scope``, its
    folder) through ``folder`` (see the module docstring). Queries with parameters, of geometry, or
    reading what is not in the export (an in-memory table, a Python function: the SQL names them, but
    their content could change under the same name) run as before."""
    folder.mkdir(parents=True, exist_ok=True)
    to_relation = con._to_duckdb_relation

    def relation(expr, *, params=None, limit=None, **kwargs):
        table_expr = expr.as_table()
        if params or kwargs or table_expr.schema().geospatial or table_expr.op().find(_NOT_IN_THE_EXPORT):
            return to_relation(expr, params=params, limit=limit, **kwargs)
        con._run_pre_execute_hooks(expr)
        sql = con.compile(table_expr, limit=limit)
        table = shared_result(folder, sql, lambda: con.con.sql(sql).to_arrow_table(), scope)
        return _StoredRelation(table, con.con)

    con._to_duckdb_relation = relation
