"""A PostgreSQL warehouse as a target and as a source of a CRM's tables (``docs/warehouse.md``).

* Target: :func:`load_tables` writes a validated cache's canonical tables (``leads``,
  ``activities``, ``deals``, ``reps``) into the URL's schema, typed as in the data contract
  (``text``, ``timestamp`` (naive UTC), ``double precision``, ``boolean``), with an index on every
  id and every timestamp the export has, plus a one-row ``sla_analysis_manifest`` table naming the
  validated cache they came from. Everything is replaced in one transaction: a failed load leaves
  the previous tables. ``--engine postgres://…`` then runs the analyses in the database
  (:func:`sla_analysis.io.engine.open_crm` refuses a warehouse holding another export's tables).
* Source: :func:`export_tables` reads a CRM's tables from a schema (``--data postgres://…/schema``)
  into Parquet files, each ordered by all its columns (the same tables give the same bytes, hence
  the same cache), which are then validated like any export.

Credentials: a URL is shown only through :func:`sla_analysis.io.engine.redact_url` (no user, no
password); a driver error is re-raised without them.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from sla_analysis import paths
from sla_analysis.errors import ContractError, EngineError, Violation
from sla_analysis.io.connection import MANIFEST
from sla_analysis.io.contract import BOOL, CONTRACT, FLOAT, STRING, TIMESTAMP
from sla_analysis.io.engine import WAREHOUSE_MANIFEST, connect_url, is_postgres, redact_url

PG_TYPES = {STRING: "text", TIMESTAMP: "timestamp", FLOAT: "double precision", BOOL: "boolean"}
BATCH_ROWS = 200_000


def index_columns(table: str, present: list[str]) -> list[str]:
    """The columns ``load-warehouse`` indexes: every id (``*_id``) and every timestamp the export has."""
    spec = CONTRACT[table]
    return [c for c in present if c.endswith("_id") or spec.columns.get(c) == TIMESTAMP]


def _require_postgres(url: str) -> None:
    if not is_postgres(url):
        raise EngineError(f"a warehouse URL must start with postgres:// or postgresql://, got {redact_url(url)!r}")


def _copy_parquet(cursor, table: str, columns: list[str], path: Path) -> None:
    """Stream a Parquet file into ``table`` with ``COPY … FROM STDIN (FORMAT csv)`` in batches
    (an unquoted empty field is NULL; the canonical tables hold no empty strings)."""
    from psycopg import sql

    stmt = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv)").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns)))
    options = pacsv.WriteOptions(include_header=False)
    with cursor.copy(stmt) as copy:
        for batch in pq.ParquetFile(path).iter_batches(batch_size=BATCH_ROWS, columns=columns):
            buf = io.BytesIO()
            pacsv.write_csv(pa.Table.from_batches([batch]), buf, options)
            copy.write(buf.getvalue())


def load_tables(cache_dir: Path, url: str) -> dict[str, int]:
    """Write the validated tables of ``cache_dir`` into the warehouse at ``url`` (see the module
    docstring); returns the rows written per table."""
    from psycopg import sql

    _require_postgres(url)
    cache_dir = Path(cache_dir)
    manifest = json.loads((cache_dir / MANIFEST).read_text())
    names = [n for n in CONTRACT if (cache_dir / f"{n}.parquet").is_file()]
    con = connect_url(url)
    pg = con.con
    rows = {}
    try:
        with pg.transaction(), pg.cursor() as cur:
            for name in [*CONTRACT, WAREHOUSE_MANIFEST]:  # a table the export lacks must not linger
                cur.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(name)))
            for name in names:
                spec = CONTRACT[name]
                columns = list(spec.columns)
                cur.execute(sql.SQL("CREATE TABLE {} ({})").format(sql.Identifier(name), sql.SQL(", ").join(
                    sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(PG_TYPES[t])) for c, t in spec.columns.items())))
                _copy_parquet(cur, name, columns, cache_dir / f"{name}.parquet")
                for c in index_columns(name, manifest["inputs"][name]["columns"]):
                    cur.execute(sql.SQL("CREATE INDEX {} ON {} ({})").format(
                        sql.Identifier(f"{name}_{c}_idx"), sql.Identifier(name), sql.Identifier(c)))
                cur.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(name)))
                rows[name] = cur.fetchone()[0]
                if rows[name] != manifest["inputs"][name]["rows"]:
                    raise EngineError(f"{name}: {rows[name]} rows written, {manifest['inputs'][name]['rows']} validated")
            cur.execute(sql.SQL("CREATE TABLE {} (cache_key text NOT NULL, manifest text NOT NULL)").format(
                sql.Identifier(WAREHOUSE_MANIFEST)))
            cur.execute(sql.SQL("INSERT INTO {} VALUES (%s, %s)").format(sql.Identifier(WAREHOUSE_MANIFEST)),
                        (cache_dir.name, json.dumps(manifest, sort_keys=True)))
        with pg.cursor() as cur:
            for name in names:
                cur.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(name)))
    finally:
        con.disconnect()
    return rows


def export_tables(url: str, out_root: Path | None = None) -> Path:
    """Read the CRM tables of the schema in ``url`` (``postgres://…/db/schema``; the contract's
    table names) into ``leads.parquet``, ``activities.parquet``… in a folder under
    ``data/processed`` and return it, to be validated like an export folder. Each table is read
    ordered by all its columns, so the same tables give the same files. A missing required table
    is reported like a missing file."""
    _require_postgres(url)
    shown = redact_url(url)
    con = connect_url(url)
    try:
        present = set(con.list_tables())
        missing = [n for n, spec in CONTRACT.items() if spec.table_required and n not in present]
        if missing:
            raise ContractError([Violation(f"{shown} table {n}", "-", "required table is missing (expected "
                                           "leads, activities and deals in the schema)", 0, []) for n in missing])
        root = Path(out_root or paths.PROCESSED_DIR)
        root.mkdir(parents=True, exist_ok=True)
        target = root / f"warehouse-{hashlib.sha256(shown.encode()).hexdigest()[:16]}"
        tmp = Path(tempfile.mkdtemp(prefix=".warehouse-", dir=root))
        try:
            for name in CONTRACT:
                if name not in present:
                    continue
                t = con.table(name)
                ordered = t.order_by(list(t.columns))
                schema = ordered.schema().to_pyarrow()
                with pq.ParquetWriter(tmp / f"{name}.parquet", schema) as writer:
                    for batch in ordered.to_pyarrow_batches(chunk_size=BATCH_ROWS):
                        writer.write_batch(batch)
            (tmp / "source.txt").write_text(shown + "\n")
            old = None
            if target.exists():
                old = Path(tempfile.mkdtemp(prefix=".warehouse-old-", dir=root))
                os.rename(target, old / "x")
            os.rename(tmp, target)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    finally:
        con.disconnect()
    return target
