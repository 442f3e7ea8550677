"""Access to a validated CRM inside the engine (DuckDB through Ibis by default).

Notebooks get Ibis table expressions, never raw event frames: each analysis aggregates in the
engine and only its small result is turned into pandas.

The engine (``SLA_ANALYSIS_ENGINE``, set by ``--engine`` / ``ENGINE=``) is one of

* ``duckdb`` (default): the validated Parquet cache read by an in-process DuckDB;
* ``spark``: the same Parquet files read by a local Spark session (``pip install -e .[spark]``,
  Java 17); ``SLA_ANALYSIS_SPARK_MASTER`` (default ``local[2]``) points it at a cluster;
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
import os
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Callable
from urllib.parse import unquote

import ibis
import ibis.expr.types as ir

from sla_analysis.errors import EngineError
from sla_analysis.io.connection import MANIFEST, connect
from sla_analysis.io.contract import CONTRACT
from sla_analysis.io.facts import FACTS, FIRST_TOUCHES
from sla_analysis.io.shared_results import share_results


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

    def remember(self, key: tuple, cfg: object, build: Callable[[], object]) -> object:
        """``build()``, a value computed from this CRM under ``cfg``, computed once per ``key`` and
        ``cfg`` object (a config is not hashable: it is matched by identity, and kept so that its
        identity is not reused)."""
        full = ("remember", id(cfg), *key)
        if full not in self._memo:
            self._memo[full] = (cfg, build())
        return self._memo[full][1]

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

    #: Every timestamp column that records an event, per table: the data reaches its latest one.
    EVENT_COLUMNS = {"leads": ("created_at", "mql_at", "sql_at"), "activities": ("occurred_at",),
                     "deals": ("created_at", "proposal_at", "closed_at")}

    def _event_bounds(self) -> list[tuple]:
        """``(min, max, all_at_midnight)`` of every event column the export has (non-empty only):
        one query per table, once per CRM (a page asks how far the data reaches several times)."""
        if "event_bounds" in self._memo:
            return self._memo["event_bounds"]
        out = []
        for table, columns in self.EVENT_COLUMNS.items():
            present = [c for c in columns if self.has(table, c)]
            if not present:
                continue
            t = getattr(self, table)
            aggs = {}
            for i, c in enumerate(present):
                col = t[c]
                aggs.update({f"lo{i}": col.min(), f"hi{i}": col.max(),
                             f"timed{i}": ((col.hour() + col.minute() + col.second()) > 0).any()})
            row = t.aggregate(**aggs).to_pandas()
            for i in range(len(present)):
                lo, hi, timed = row[f"lo{i}"].iloc[0], row[f"hi{i}"].iloc[0], row[f"timed{i}"].iloc[0]
                if hi is not None and hi == hi:
                    out.append((lo, hi, not bool(timed)))
        self._memo["event_bounds"] = out
        return out

    def last_event_at(self):
        """How far the data reaches: the latest event of any kind (lead created, MQL, SQL, attempt,
        deal created, proposal, deal closed), so deals closed after the last new lead count. When
        every event column holds dates only (all at midnight), an event dated D may be any time on
        D: the data reaches the end of that day (the next midnight). ``None`` for an empty export."""
        bounds = self._event_bounds()
        if not bounds:
            return None
        last = max(b[1] for b in bounds).to_pydatetime().replace(tzinfo=None)
        if all(b[2] for b in bounds):
            last = last + timedelta(days=1)
        return last

    def first_event_at(self):
        """The earliest lead creation in the export (``None`` when it has no leads)."""
        v = self.leads.created_at.min().execute()
        return None if v is None or v != v else v.to_pydatetime().replace(tzinfo=None)

    def limits(self) -> dict[str, str]:
        """What this export cannot support, each with the reason in plain words:

        * ``attempts``: no contact attempts (an empty activities table, or one the mapping says the
          export does not have: then the mapping's own reason): cohorts by attempts, cost per call measured, the attempt cap, speed
          to lead and cadence cannot be computed;
        * ``revenue``: the deals have no amounts: revenue, MQL values and marketing's delivered value
          cannot be computed;
        * ``first_touch``: the export does not record when leads were first contacted (the contract
          folder's ``unavailable.yml`` says ``first_touch_times``): speed to lead and its value;
        * ``outcomes``: calls' outcomes are not recorded call by call (``call_outcomes``): contact
          and conversation rates;
        * ``mql_time``: when leads became MQLs is not recorded (``mql_times``): the days from MQL
          to SQL;
        * ``attempt_time``: the attempts' times of day and spacing are not recorded
          (``attempt_times``): when attempts were made, days between attempts;
        * ``timeline``: every event is dated the same day (:meth:`single_day`): times between events
          (MQL to SQL) and rates per month (MQLs a month, SDR headcount).
        """
        out = {}
        unavailable = self.manifest.get("unavailable") or {}
        if "activities" in unavailable:
            out["attempts"] = str(unavailable["activities"])
        elif not self.row_counts.get("activities"):
            out["attempts"] = "the export has no contact attempts (the activities table is empty)"
        if not self.has("deals", "amount"):
            out["revenue"] = "the deals have no amounts, so revenue and the value of a lead are unknown"
        if "first_touch_times" in unavailable:
            out["first_touch"] = str(unavailable["first_touch_times"])
        if "call_outcomes" in unavailable:
            out["outcomes"] = str(unavailable["call_outcomes"])
        if "mql_times" in unavailable:
            out["mql_time"] = str(unavailable["mql_times"])
        if "attempt_times" in unavailable:
            out["attempt_time"] = str(unavailable["attempt_times"])
        day = self.single_day()
        if day is not None:
            out["timeline"] = (f"every date in the export is the same day ({day:%d %b %Y}), so the time between "
                               "events and rates per month are unknown")
        return out

    def single_day(self):
        """The one calendar day every event of the export is dated (dates only, no times), or None:
        such an export (a snapshot dated on the day it was taken) has no timeline."""
        if "single_day" not in self._memo:
            bounds = self._event_bounds()
            day = None
            if bounds and all(b[2] for b in bounds):
                lo, hi = min(b[0] for b in bounds), max(b[1] for b in bounds)
                day = lo.date() if lo.date() == hi.date() else None
            self._memo["single_day"] = day
        return self._memo["single_day"]

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
    """The engine asked for: ``engine``, else ``SLA_ANALYSIS_ENGINE``, else ``duckdb``. Refused
    (:class:`EngineError`, before any notebook starts) when it is unknown or not installed."""
    name = (engine or os.environ.get("SLA_ANALYSIS_ENGINE") or "duckdb").strip()
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

    master = os.environ.get("SLA_ANALYSIS_SPARK_MASTER", "local[2]")
    # The JVM's start-up notices would reach the scheduler's log: a local session binds to the
    # loopback address (no "hostname resolves to a loopback address" warning), and the JVM logs
    # errors only (spark-log4j2.properties). Set before the JVM starts; a caller's own settings win.
    if master.startswith("local"):
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    log4j = Path(__file__).with_name("spark-log4j2.properties").as_uri()
    os.environ.setdefault("PYSPARK_SUBMIT_ARGS",
                          f'--driver-java-options "-Dlog4j2.configurationFile={log4j}" pyspark-shell')
    spark = (SparkSession.builder.master(master)
             .appName("sla-analysis")
             .config("spark.sql.session.timeZone", "UTC")
             .config("spark.ui.enabled", "false")
             .config("spark.ui.showConsoleProgress", "false")
             .config("spark.sql.shuffle.partitions", "8")
             .config("spark.driver.memory", os.environ.get("SLA_ANALYSIS_SPARK_MEMORY", "2g"))
             .getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def open_crm(cache_dir: str | Path, engine: str | None = None, shared: Path | None = None) -> CRM:
    """Open a cache folder written by :func:`sla_analysis.io.ingest.prepare_inputs` on ``engine``
    (see the module docstring). With ``shared`` (a report's folder of results, DuckDB only), a query
    another page of the report has run is read from there (:mod:`sla_analysis.io.shared_results`)."""
    cache_dir = Path(cache_dir)
    manifest = json.loads((cache_dir / MANIFEST).read_text())
    name = engine_name(engine)
    names = [n for n in CONTRACT if (cache_dir / f"{n}.parquet").is_file()]
    # the facts computed once with the validated tables (io/facts.py), where the engine reads files
    derived = [n for n in FACTS if n in manifest.get("facts", {}) and (cache_dir / f"{n}.parquet").is_file()]
    if name == "duckdb":
        con = connect()
        tables = {n: con.read_parquet(str(cache_dir / f"{n}.parquet"), table_name=n) for n in names + derived}
        if shared is not None:
            share_results(con, shared, scope=str(cache_dir.resolve()))
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
