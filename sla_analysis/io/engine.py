"""Access to a validated CRM inside the engine (DuckDB through Ibis by default).

Notebooks get Ibis table expressions, never raw event frames: each analysis aggregates in the
engine and only its small result is turned into pandas.

The engine (the settings' ``engine``: ``--engine`` / ``ENGINE=``, else ``SLA_ANALYSIS_ENGINE``) is one of

* ``duckdb`` (default): the validated Parquet cache read by an in-process DuckDB;
* ``spark``: the same Parquet files read by a local Spark session (``pip install -e .[spark]``,
  Java 17); the settings' ``spark_master`` (default ``local[2]``) points it at a cluster;
* a PostgreSQL URL (``postgres://user@host:port/db[/schema]``): the validated tables loaded there by
  ``sla-analysis load-warehouse`` (:mod:`sla_analysis.io.warehouse`; tested end to end, see
  ``docs/warehouse.md``). The warehouse must hold the tables of the very export being reported
  (its ``sla_analysis_manifest`` table names the validated cache), else the run is refused;
* an Ibis connection URL for any other backend, with the tables loaded under the contract's names
  (``leads``, ``activities``, ``deals``, ``reps``); untested here.

A URL may hold a password: it is never shown (:func:`redact_url`); prefer ``PGPASSWORD`` or
``~/.pgpass``.

Validation always runs in DuckDB (it reads the raw files); the analyses run on the engine.
"""
from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable
from urllib.parse import unquote

import ibis
import ibis.expr.types as ir

from sla_analysis import settings
from sla_analysis.errors import EngineError
from sla_analysis.io.connection import MANIFEST, connect
from sla_analysis.io.contract import CONTRACT
from sla_analysis.io.export_profile import ExportProfile, export_profile
from sla_analysis.io.facts import FACTS, FIRST_TOUCHES


@dataclass
class CRM:
    """A validated CRM: canonical tables as Ibis expressions plus what the export contained."""

    cache_dir: Path
    manifest: dict
    tables: dict[str, ir.Table]
    _memo: dict = field(default_factory=dict, repr=False)

    def memo(self, key: tuple, build: Callable[[], ir.Table]) -> ir.Table:
        """``build()`` materialised in the engine once per ``key`` (e.g. the per-lead table of a
        window, which several pages' groupings start from), then reused."""
        if key not in self._memo:
            self._memo[key] = build().cache()
        return self._memo[key]

    def filled_columns(self, table: str) -> frozenset[str]:
        """The columns of ``table`` holding at least one value: one query per table (the non-NULL
        count of every column), kept for the pages' many availability checks."""
        key = ("filled", table)
        if key not in self._memo:
            t = self.tables[table]
            counts = t.aggregate([t[c].count().name(c) for c in t.columns]).to_pyarrow().to_pylist()[0]
            self._memo[key] = frozenset(c for c, n in counts.items() if n)
        return self._memo[key]

    def first_touches(self, as_of=None) -> ir.Table | None:
        """Each lead's first touch (before ``as_of``) from the facts cached with the export
        (:mod:`sla_analysis.io.facts`): ``lead_id``, ``first_touch_at``, ``first_rep``, or ``None``
        where the engine has none (compute them instead)."""
        t = self.tables.get(FIRST_TOUCHES)
        if t is None or as_of is None:
            return t
        return t.filter(t.first_touch_at < as_of)

    @property
    def leads(self) -> ir.Table:
        return self.tables["leads"]

    @property
    def activities(self) -> ir.Table:
        return self.tables["activities"]

    @property
    def deals(self) -> ir.Table:
        return self.tables["deals"]

    @property
    def reps(self) -> ir.Table | None:
        return self.tables.get("reps")

    def has(self, table: str, column: str | None = None) -> bool:
        """Whether the export had ``table`` (and ``column`` in it, with at least one value's slot)."""
        info = self.manifest["inputs"].get(table)
        if info is None:
            return False
        return column is None or column in info["columns"]

    @property
    def input_hashes(self) -> dict[str, str]:
        return {n: i["sha256"] for n, i in self.manifest["inputs"].items()}

    @property
    def row_counts(self) -> dict[str, int]:
        return {n: i["rows"] for n, i in self.manifest["inputs"].items()}

    @property
    def profile(self) -> ExportProfile:
        """What the export can tell (:mod:`sla_analysis.io.export_profile`), worked out once per export and
        kept beside the validated tables."""
        unavailable = self.manifest.get("unavailable") or {}
        key = ("profile", json.dumps(unavailable, sort_keys=True))
        if key not in self._memo:
            inputs = {n: list(i["columns"]) for n, i in self.manifest["inputs"].items()}
            self._memo[key] = export_profile(self.cache_dir, self.tables, inputs, unavailable)
        return self._memo[key]

    def last_event_at(self):
        """How far the data reaches: the latest event of any kind (lead created, MQL, SQL, rejected,
        recycled, attempt, deal created, proposal, deal closed), a column of dates reaching the end
        of its last day (:attr:`ExportProfile.data_end`). ``None`` for an export with no dated event."""
        return self.profile.data_end

    def first_event_at(self):
        """The earliest lead creation in the export (``None`` when it has no leads)."""
        v = self.leads.created_at.min().execute()
        return None if v is None or v != v else v.to_pydatetime().replace(tzinfo=None)

    #: the facts of the profile a page checks by a short name, and that name
    LIMIT_NAMES = {"attempts": "attempts", "amounts": "revenue", "timeline": "timeline", "won_deals": "won_deals",
                   "lost_deals": "lost_deals", "tiers": "tiers", "scores": "scores", "owners": "owners",
                   "rejected_dates": "rejected", "recycled_dates": "recycled", "first_touch": "first_touch",
                   "attempt_times": "attempt_time"}
    #: what a mapping's ``unavailable.yml`` declares, by the same short names
    DECLARED = {"call_outcomes": "outcomes", "mql_times": "mql_time"}

    def limits(self) -> dict[str, str]:
        """What this export cannot support, each with the reason in plain words, generated from its
        profile (:attr:`profile`): ``attempts`` (no contact attempts), ``revenue`` (no deal amounts),
        ``timeline`` (every date the same day), ``won_deals``, ``lost_deals``, ``tiers``, ``scores``
        (none, or all the same), ``owners``, ``rejected``, ``recycled``, ``first_touch`` and
        ``attempt_time`` (no attempts, no timeline, or declared so by the mapping); and what the
        mapping's ``unavailable.yml`` declares the export does not record: ``outcomes``, ``mql_time``."""
        facts = self.profile.facts
        out = {short: facts[name].reason for name, short in self.LIMIT_NAMES.items() if not facts[name].present}
        unavailable = self.manifest.get("unavailable") or {}
        out.update({short: str(unavailable[name]) for name, short in self.DECLARED.items() if name in unavailable})
        return out

    def single_day(self):
        """The one calendar day every event of the export is dated, or None: such an export (a
        snapshot dated on the day it was taken) has no timeline."""
        p = self.profile
        return None if p.has("timeline") or p.first_day is None else p.first_day

    @property
    def is_sample(self) -> bool:
        return bool(self.manifest.get("sample"))


ENGINES = ("duckdb", "spark")
#: the table ``load-warehouse`` writes beside the canonical ones: which validated cache they hold
WAREHOUSE_MANIFEST = "sla_analysis_manifest"
POSTGRES_SCHEMES = ("postgres", "postgresql")


def redact_url(url: str) -> str:
    """An engine or data URL without its user name and password (``postgres://host:5432/db/schema``):
    what may be shown in a message, a log or provenance.json."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    netloc, slash, path = rest.partition("/")
    host = netloc.rpartition("@")[2]
    return f"{scheme}://{host}{slash}{path.split('?')[0]}"


def is_postgres(url: str | None) -> bool:
    """Whether ``url`` names a PostgreSQL database."""
    return bool(url) and str(url).split("://")[0].lower() in POSTGRES_SCHEMES and "://" in str(url)


def connect_url(url: str) -> ibis.BaseBackend:
    """An Ibis connection to ``url``; a failure is reported without the URL's credentials."""
    try:
        return ibis.connect(url)
    except Exception as err:  # noqa: BLE001 - the driver's own error may quote the URL
        detail = str(err).replace(url, redact_url(url)).strip().splitlines()
        text = detail[0] if detail else type(err).__name__
        user, _, password = url.partition("://")[2].partition("/")[0].rpartition("@")[0].partition(":")
        for secret in {password, unquote(password), user, unquote(user)} - {""}:
            text = text.replace(secret, "***")
        raise EngineError(f"cannot connect to {redact_url(url)}: {text}") from None


def engine_name(engine: str | None = None) -> str:
    """The engine asked for: ``engine``, else the settings' (:mod:`sla_analysis.settings`). Refused
    (:class:`EngineError`, before any notebook starts) when it is unknown or not installed."""
    name = (engine or settings.current().engine or "duckdb").strip()
    if name not in ENGINES and "://" not in name:
        raise EngineError(f"engine must be one of {', '.join(ENGINES)} or an Ibis connection URL, got {name!r}")
    if is_postgres(name) and importlib.util.find_spec("psycopg") is None:
        raise EngineError("a postgres:// engine needs the PostgreSQL driver: run `make install-postgres` "
                          "(or `pip install 'sla-analysis[postgres]'`)")
    if name == "spark" and importlib.util.find_spec("pyspark") is None:
        raise EngineError("ENGINE=spark needs the optional Spark engine: run `make install-spark` "
                          "(or `pip install 'sla-analysis[spark]'`; Java 17 is needed too)")
    return name


def spark_session():
    """A Spark session for the analyses: UTC session time zone (timestamps are naive UTC, as in
    DuckDB), no web UI, quiet logs."""
    from pyspark.sql import SparkSession

    run = settings.current()
    # The JVM's start-up notices would reach the scheduler's log: the JVM logs errors only
    # (spark-log4j2.properties, given to the driver's JVM as it starts: PySpark passes the builder's
    # settings to spark-submit), and a local session binds to the loopback address (so Utils' note
    # that the host name resolves to it is not news there).
    java_options = f"-Dlog4j2.configurationFile={Path(__file__).with_name('spark-log4j2.properties').as_uri()}"
    builder = SparkSession.builder.master(run.spark_master)
    if run.spark_master.startswith("local"):
        builder = builder.config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
        java_options += " -Dsla_analysis.spark.utils.level=error"
    spark = (builder.config("spark.driver.extraJavaOptions", java_options)
             .appName("sla-analysis")
             .config("spark.sql.session.timeZone", "UTC")
             .config("spark.ui.enabled", "false")
             .config("spark.ui.showConsoleProgress", "false")
             .config("spark.sql.shuffle.partitions", "8")
             .config("spark.driver.memory", run.spark_memory)
             .getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def open_crm(cache_dir: str | Path, engine: str | None = None) -> CRM:
    """Open a cache folder written by :func:`sla_analysis.io.ingest.prepare_inputs` on ``engine``
    (see the module docstring)."""
    cache_dir = Path(cache_dir)
    manifest = json.loads((cache_dir / MANIFEST).read_text())
    name = engine_name(engine)
    names = [n for n in CONTRACT if (cache_dir / f"{n}.parquet").is_file()]
    # the facts computed once with the validated tables (io/facts.py), where the engine reads files
    derived = [n for n in FACTS if n in manifest.get("facts", {}) and (cache_dir / f"{n}.parquet").is_file()]
    if name == "duckdb":
        con = connect()
        tables = {n: con.read_parquet(str(cache_dir / f"{n}.parquet"), table_name=n) for n in names + derived}
    elif name == "spark":
        con = ibis.pyspark.connect(spark_session())
        tables = {n: con.read_parquet(str(cache_dir / f"{n}.parquet"), table_name=f"{n}_{manifest_key(cache_dir)}")
                  for n in names + derived}
    else:
        con = connect_url(name)
        if is_postgres(name):
            check_warehouse_holds(con, cache_dir, name)
        tables = {n: con.table(n) for n in names}
    return CRM(cache_dir, manifest, tables)


def check_engine_ready(cache_dir: Path, engine: str | None = None) -> None:
    """Before any notebook starts: a PostgreSQL engine must be reachable and hold the tables of
    ``cache_dir``'s export (else :class:`EngineError`, without credentials). Other engines: nothing."""
    name = engine_name(engine)
    if is_postgres(name):
        con = connect_url(name)
        try:
            check_warehouse_holds(con, cache_dir, name)
        finally:
            con.disconnect()


def warehouse_key(con: ibis.BaseBackend) -> str | None:
    """The validated cache (``crm-<key>``) whose tables the warehouse holds, or ``None``."""
    if WAREHOUSE_MANIFEST not in con.list_tables():
        return None
    rows = con.table(WAREHOUSE_MANIFEST).select("cache_key").to_pyarrow().column(0).to_pylist()
    return rows[0] if len(rows) == 1 else None


def check_warehouse_holds(con: ibis.BaseBackend, cache_dir: Path, url: str) -> None:
    """Refuse (:class:`EngineError`) a warehouse that does not hold the tables of ``cache_dir``'s
    export: the figures would describe other data."""
    held = warehouse_key(con)
    if held != Path(cache_dir).name:
        what = "no validated tables" if held is None else f"the tables of another export ({held})"
        raise EngineError(f"the warehouse {redact_url(url)} holds {what}, not those of this export "
                          f"({Path(cache_dir).name}): load them first with `sla-analysis load-warehouse "
                          f"--engine <url> --data <the same export>`")


def manifest_key(cache_dir: Path) -> str:
    """The cache's key (``crm-<key>``), to name its tables in a shared Spark session."""
    return Path(cache_dir).name.removeprefix("crm-").replace("-", "_")
