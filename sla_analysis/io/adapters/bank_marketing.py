"""UCI Bank Marketing (``bank-full.csv``) -> the canonical data contract.

The file is the call history of a Portuguese bank's term-deposit telemarketing campaigns,
May 2008 to November 2010 (Moro, Cortez & Rita 2014; CC BY 4.0): ``;``-separated, quoted, one
row per client, rows in chronological order of the client's last contact. It is read in DuckDB
through Ibis (:func:`sla_analysis.io.ingest.connect`); every row-level step runs in the engine and
only small aggregates reach pandas. :func:`to_contract` writes ``leads.parquet``,
``activities.parquet`` and ``deals.parquet`` that :func:`sla_analysis.io.ingest.prepare_inputs`
accepts; :func:`profiles_from_csv` and :func:`hazard_from_csv` rebuild the plateau method's
inputs straight from the CSV, to cross-check the adapted tables.

Columns used: ``day``, ``month``, ``campaign``, ``duration``, ``y``, ``contact``, ``job``
(others are ignored). ``bank-additional-full.csv`` (the 41,188-row variant) has ``day_of_week``
(mon..fri) instead of ``day``: the day of the month is then inferred to the week
(:func:`_day_from_weekday`), an assumption on top of the ones below. Every mapping below that the data does not state is an **assumption**:

Row order and ids
    ``lead_id = "B" + n`` zero-padded to 6 digits (more when the file has more rows), ``n`` the
    1-based data row (header not counted) in file order. The row number is DuckDB's
    ``row_number() OVER ()`` over a single-table ``read_csv`` scan with
    ``preserve_insertion_order = true`` (set explicitly; it is DuckDB's default): DuckDB
    documents that an empty ``OVER ()`` keeps the original row order under that setting
    ("Order preservation" in its SQL dialect docs). DuckDB's ``read_csv`` has no
    ``file_row_number`` option (only ``read_parquet`` has). The numbered scan is materialised
    once (``.cache()``), so every later step sees the same numbers. The tests check the numbering
    against Python's ``csv`` module row by row on the real file.

Dates (year inferred)
    The file has ``day`` and ``month`` but no year. Rows are chronological, so the year starts
    at ``first_year`` (2008) and goes up by one each time the month number falls below the
    previous row's: ``year_i = first_year + #{j <= i : month_j < month_{j-1}}``.
    ``last_contact = date(year, month, day)``; a day that does not exist in that month is an
    error. On the real file this gives 2008-05-05 .. 2010-11-17 (two roll-overs, both at January).

Attempts (``activities``)
    ``campaign`` = call attempts to the client in this campaign, the last one included: one
    ``call`` activity per attempt, ``activity_id = lead_id + "-" + attempt`` (2+ digits). The
    last attempt is at ``call_time`` (10:00) on ``last_contact``. **When earlier attempts
    happened is not in the data**: attempt ``k`` is placed ``(campaign - k) x
    attempt_spacing_days`` (default 1) days before the last one, same time of day. So the first
    attempt of a client with ``campaign = 63`` lands 62 days before its last contact (for the
    earliest rows: March 2008). ``outcome``: last attempt ``connected`` when ``duration > 0``,
    else ``no_answer``; earlier attempts NULL (unknown). ``duration_s`` = ``duration`` on the
    last attempt, NULL on earlier ones. No ``rep_id`` (the data has no agents), so measured
    dialling pace is "not available".

Leads (``leads``)
    ``created_at`` = midnight of the first attempt's date (the data has no lead-creation time;
    any "time to first call" figure on this data, 10 h by construction, would be an artefact, so
    the output folder's ``unavailable.yml`` says ``first_touch_times`` are not recorded and the
    pages say speed to lead is not available; likewise ``call_outcomes``, recorded for the last
    call only, so contact rates are not available).
    ``source`` = ``contact`` (``cellular`` / ``telephone`` / ``unknown``): the channel through
    which the client was reached, the only lead-origin-like column; ``segment`` = ``job``.
    Empty text becomes ``unknown``. No ``tier`` (the data has no follow-up protocols) and no
    ``mql_at``: every client counts as an MQL at ``created_at``.

Deals (``deals``)
    One ``won`` deal per client with ``y = yes``: the client subscribed at the last call, so
    ``created_at = closed_at`` = ``last_contact`` at ``call_time + 30 min`` (10:30), after the
    last attempt. ``deal_id = "D" + n`` (same ``n`` as the lead). **The data has no revenue**:
    ``amount = deal_value``, one stated figure for every subscription (default
    ``DEFAULT_DEAL_VALUE``), not a per-client estimate. ``y = no`` clients get no deal (not a
    ``lost`` deal: no opportunity was ever opened).

Outcomes are all settled: the campaigns are over, so for the plateau method no client is
censored (``censored = False``), a ``y = yes`` client converted at attempt ``campaign`` and a
``y = no`` client stopped being called after ``campaign`` attempts. Caveats for that method: the
last call was a conversation for 45,208 of 45,211 clients (``duration > 0``), so calling mostly
stopped at a conclusive answer (a refusal, for ``y = no``), not at a cap: stopping is informative.
And the history is not stationary: conversion was 5% of 2008's clients, 17% of 2009's and 52% of
2010's, while 2008's clients got the most attempts; ``profiles_from_csv(..., covariates=["year"])``
lets the hazard model separate the two.
"""
from __future__ import annotations

import math
import os
import tempfile
from datetime import time
from pathlib import Path
from typing import Sequence

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import pandas as pd
import yaml

from sla_analysis.errors import AdapterError
from sla_analysis.io.contract import DATA_NOTES
from sla_analysis.io.ingest import connect, prepare_inputs

#: Revenue credited to one subscription (the data has none): an assumption, override per run.
DEFAULT_DEAL_VALUE = 1000.0
FIRST_YEAR = 2008
ATTEMPT_SPACING_DAYS = 1
CALL_TIME = time(10, 0)
DEAL_AFTER_CALL_MINUTES = 30
ID_DIGITS = 6
DELIMITER = ";"
REQUIRED_COLUMNS = ("day", "month", "duration", "campaign", "y", "contact", "job")
#: ``bank-additional-full.csv`` has the weekday (``day_of_week``: mon..fri) instead of ``day``.
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
TABLES = ("leads", "activities", "deals")
#: what the adapted tables seem to hold but the call history does not record (``unavailable.yml``
#: in the output folder): the pages say these figures are not available instead of judging them
NOT_RECORDED = {
    "first_touch_times": "the bank's call history does not record when a client became a lead or was first "
                         "called (the adapter places the calls at 10:00)",
    "call_outcomes": "the bank's call history records the outcome of each client's last call only",
    "mql_times": "the bank's call history does not record when a client became a lead (the adapter dates it at "
                  "its first call, placed one day before the next)",
    "attempt_times": "the bank's call history records only the day of each client's last call (the adapter places "
                     "every call at 10:00, one day apart)",
}


# --------------------------------------------------------------------------------------------
# Reading and parsing (in the engine)
# --------------------------------------------------------------------------------------------

def read_numbered(con: ibis.BaseBackend, csv_path: str | Path) -> ir.Table:
    """The CSV as text columns plus ``row_nr`` (1-based data row in file order), materialised.

    ``row_nr = row_number() OVER ()`` on the single-table scan, with
    ``preserve_insertion_order = true`` (see the module docstring for why this is file order).
    Raises :class:`AdapterError` for a missing/unreadable file or missing columns.
    """
    path = Path(csv_path)
    if not path.is_file():
        raise AdapterError(path, None, "file not found")
    con.raw_sql("SET preserve_insertion_order = true")
    try:
        raw = con.read_csv(str(path), delim=DELIMITER, quote='"', header=True, all_varchar=True)
    except Exception as exc:  # DuckDB's first line says what it could not read
        first = str(exc).strip().splitlines()[0][:200]
        raise AdapterError(path, None, f"cannot be read as a '{DELIMITER}'-separated CSV: {first}") from None
    missing = [c for c in REQUIRED_COLUMNS if c not in raw.columns
               and not (c == "day" and "day_of_week" in raw.columns)]
    if missing:
        found = ", ".join(raw.columns)
        found = found if len(found) <= 160 else found[:157] + "..."
        raise AdapterError(path, missing[0], f"required column is missing"
                           f"{' (also ' + ', '.join(missing[1:]) + ')' if missing[1:] else ''}; "
                           f"columns found: {found}")
    return con.sql(f'SELECT row_number() OVER () AS row_nr, * FROM "{raw.get_name()}"').cache()


def _text(col: ir.StringValue) -> ir.StringValue:
    """Trimmed text, NULL when empty."""
    return col.strip().nullif("")


def _whole(col: ir.StringValue) -> ir.IntegerValue:
    """Text -> int64 when it is a whole number, else NULL (``"1.5"`` is not rounded to 2)."""
    x = _text(col).try_cast(dt.float64)
    return ibis.ifelse(x == x.floor(), x, ibis.null(dt.float64)).try_cast(dt.int64)


def _month_number(col: ir.StringValue) -> ir.IntegerValue:
    """``jan``..``dec`` (any case) -> 1..12, else NULL."""
    m = _text(col).lower()
    return ibis.cases(*[(m == name, i) for i, name in enumerate(MONTHS, start=1)], else_=ibis.null(dt.int64))


def _raise_first_failure(path: Path, table: ir.Table, checks: list[tuple[str, ir.BooleanValue, str]]) -> None:
    """Count the rows breaking each ``(column, ok, rule)`` check in one query; raise
    :class:`AdapterError` for the first broken check with its first bad row and value."""
    if not checks:
        return
    counts = table.aggregate(**{f"bad_{i}": (~ok.fill_null(False)).cast(dt.int64).sum()
                                for i, (_, ok, _) in enumerate(checks)}).to_pandas().iloc[0]
    for i, (column, ok, rule) in enumerate(checks):
        n_bad = int(counts[f"bad_{i}"] or 0)
        if n_bad:
            first = (table.filter(~ok.fill_null(False)).order_by("row_nr")
                     .select("row_nr", value=table[column]).limit(1).to_pandas().iloc[0])
            raise AdapterError(path, column, f"{rule} ({n_bad} row{'s' if n_bad != 1 else ''}; "
                                             f"first: row {int(first.row_nr)}, value {first.value!r})")


def parse_clients(raw: ir.Table, path: str | Path) -> ir.Table:
    """Typed per-client columns: ``row_nr, day, month_num, campaign, duration_s, converted,
    contact, job``. Refuses (``AdapterError``) a month not in jan..dec, a day not in 1..31,
    ``campaign`` not a whole number >= 1, ``duration`` not a number >= 0, ``y`` not yes/no.
    The ``bank-additional`` variant has ``day_of_week`` (mon..sun) instead of ``day``: ``day`` is
    then NULL and ``weekday`` (1 = Monday) is set (see :func:`infer_dates`)."""
    y = _text(raw.y).lower()
    by_weekday = "day" not in raw.columns
    if by_weekday:
        w = _text(raw.day_of_week).lower()
        raw = raw.mutate(_weekday=ibis.cases(*[(w == n, i) for i, n in enumerate(WEEKDAYS, start=1)],
                                             else_=ibis.null(dt.int64)), day=ibis.null(dt.string))
    else:
        raw = raw.mutate(_weekday=ibis.null(dt.int64))
    t = raw.mutate(
        _day=_whole(raw.day), _month=_month_number(raw.month), _campaign=_whole(raw.campaign),
        _duration=_text(raw.duration).try_cast(dt.float64),
        _converted=ibis.cases((y == "yes", True), (y == "no", False), else_=ibis.null(dt.boolean)),
    )
    _raise_first_failure(Path(path), t, [
        ("month", t._month.notnull(), "must be a month name jan..dec"),
        ("day_of_week", t._weekday.notnull(), "must be a weekday mon..sun") if by_weekday else
        ("day", t._day.between(1, 31), "must be a whole number 1..31"),
        ("campaign", t._campaign >= 1, "must be a whole number of attempts >= 1"),
        ("duration", t._duration >= 0, "must be a number of seconds >= 0"),
        ("y", t._converted.notnull(), "must be yes or no"),
    ])
    return t.select(
        "row_nr", day=t._day, weekday=t._weekday, month_num=t._month, campaign=t._campaign, duration_s=t._duration,
        converted=t._converted, contact=_text(t.contact).fill_null("unknown"),
        job=_text(t.job).fill_null("unknown"),
    )


def infer_dates(clients: ir.Table, path: str | Path, first_year: int = FIRST_YEAR) -> ir.Table:
    """Add ``year`` and ``last_contact`` (a date).

    ``year_i = first_year + sum_{j <= i} [month_j < month_{j-1}]`` (rows in ``row_nr`` order);
    ``last_contact = date(year, month, 1) + (day - 1) days``, refused when that leaves the month
    (e.g. 30 February). Without ``day`` (the ``bank-additional`` files, weekday only) the day is
    inferred by :func:`_day_from_weekday`: an **assumption**, the dates are right to the week at best.
    """
    by_row = ibis.window(order_by=clients.row_nr)
    t = clients.mutate(_prev_month=clients.month_num.lag().over(by_row))
    t = t.mutate(_rollover=(t.month_num < t._prev_month).fill_null(False).cast(dt.int64))
    # DuckDB sums BIGINT into HUGEINT (which make_date refuses) while Ibis types it int64, so an
    # int64 cast would be dropped as a no-op: the year is cast to int32 instead.
    t = t.mutate(year=(ibis.literal(int(first_year)) + t._rollover.cumsum(order_by=t.row_nr)).cast(dt.int32))
    if int(t.weekday.notnull().sum().execute()):
        t = _day_from_weekday(t)
    t = t.mutate(last_contact=ibis.date(t.year, t.month_num, 1) + (t.day - 1).as_interval("D"))
    _raise_first_failure(Path(path), t, [
        ("day", t.last_contact.month() == t.month_num, "day does not exist in that month (year inferred)"),
    ])
    return t.drop("_prev_month", "_rollover")


def _day_from_weekday(t: ir.Table) -> ir.Table:
    """Day of the month for rows that only have a ``weekday`` (1 = Monday): rows are chronological,
    so within a month a new calendar week (Monday first) starts each time the weekday falls below
    the previous row's, the month's first row in the first week holding its weekday:
    ``day = 1 - dow(1st) + (weekday - 1) + 7 x week`` (``dow`` 0 = Monday), kept inside the month
    (a week past its end is moved back by whole weeks). Returns ``t`` with ``day`` filled in."""
    by_row = ibis.window(order_by=t.row_nr)
    t = t.mutate(_pw=t.weekday.lag().over(by_row), _pm=t.month_num.lag().over(by_row), _py=t.year.lag().over(by_row))
    same_month = (t.month_num == t._pm) & (t.year == t._py)
    t = t.mutate(_new_week=(same_month & (t.weekday < t._pw)).fill_null(False).cast(dt.int64),
                 _first=ibis.date(t.year, t.month_num, 1))
    # HUGEINT otherwise (see infer_dates)
    t = t.mutate(_week=t._new_week.cumsum(group_by=[t.year, t.month_num], order_by=t.row_nr).cast(dt.int32))
    first_dow = t._first.day_of_week.index().cast(dt.int32)  # 0 = Monday
    month_rows = ibis.window(group_by=[t.year, t.month_num], order_by=t.row_nr)
    # calendar week (Monday first) of the month's first row: 0 when its weekday is on or after the 1st's
    t = t.mutate(_k0=ibis.ifelse(t.weekday.first().over(month_rows) - 1 >= first_dow, 0, 1).cast(dt.int32))
    t = t.mutate(_day=1 - first_dow + (t.weekday - 1) + 7 * (t._k0 + t._week),
                 _last=(t._first + ibis.interval(months=1) - ibis.interval(days=1)).day().cast(dt.int64))
    day = ibis.ifelse(t._day > t._last, t._day - 7 * ((t._day - t._last + 6) // 7), t._day)
    return t.mutate(day=day.cast(dt.int32)).drop("_pw", "_pm", "_py", "_new_week", "_first", "_week", "_k0", "_day",
                                                 "_last")


def _double(value: float) -> ir.FloatingScalar:
    """A DOUBLE literal. (Ibis writes float literals as bare numerals, which DuckDB types as
    DECIMAL; going through text gives ``CAST('1000.0' AS DOUBLE)``.)"""
    return ibis.literal(repr(float(value))).cast(dt.float64)


def _ids(prefix: str, n: ir.IntegerValue, digits: int) -> ir.StringValue:
    return ibis.literal(prefix) + n.cast(dt.string).lpad(digits, "0")


def contact_history(con: ibis.BaseBackend, csv_path: str | Path, first_year: int = FIRST_YEAR,
                    call_time: time = CALL_TIME) -> ir.Table:
    """One row per client, materialised: ``row_nr, lead_id, year, last_contact, last_call_at,
    campaign, duration_s, converted, contact, job`` (``last_call_at = last_contact + call_time``)."""
    t = infer_dates(parse_clients(read_numbered(con, csv_path), csv_path), csv_path, first_year)
    n_rows = int(t.count().execute())
    digits = max(ID_DIGITS, len(str(n_rows)))
    at = ibis.interval(seconds=call_time.hour * 3600 + call_time.minute * 60 + call_time.second)
    return t.select(
        "row_nr", lead_id=_ids("B", t.row_nr, digits), deal_id=_ids("D", t.row_nr, digits),
        year=t.year, last_contact=t.last_contact, last_call_at=t.last_contact.cast(dt.timestamp) + at,
        campaign=t.campaign, duration_s=t.duration_s, converted=t.converted, contact=t.contact, job=t.job,
    ).cache()


# --------------------------------------------------------------------------------------------
# Canonical tables
# --------------------------------------------------------------------------------------------

def _days_before(n: ir.IntegerValue, spacing_days: int) -> ir.IntervalValue:
    return (n * int(spacing_days)).as_interval("D")


def leads_table(history: ir.Table, spacing_days: int = ATTEMPT_SPACING_DAYS) -> ir.Table:
    """``lead_id, created_at, source, segment``:
    ``created_at = date(last_call_at - (campaign - 1) x spacing days)`` at 00:00,
    ``source = contact``, ``segment = job``."""
    first_call = history.last_call_at - _days_before(history.campaign - 1, spacing_days)
    return history.select("lead_id", created_at=first_call.truncate("D"), source=history.contact,
                          segment=history.job).order_by("lead_id")


def activities_table(history: ir.Table, spacing_days: int = ATTEMPT_SPACING_DAYS) -> ir.Table:
    """One ``call`` per attempt ``k = 1..campaign``:
    ``occurred_at_k = last_call_at - (campaign - k) x spacing days``; the last attempt carries
    ``outcome`` (``connected`` if ``duration_s > 0`` else ``no_answer``) and ``duration_s``."""
    a = history.mutate(attempt=ibis.range(1, history.campaign + 1).unnest())
    max_campaign = int(history.campaign.max().execute() or 1)
    digits = max(2, len(str(max_campaign)))
    last = a.attempt == a.campaign
    answered = ibis.ifelse(a.duration_s > 0, "connected", "no_answer")
    return a.select(
        activity_id=a.lead_id + "-" + a.attempt.cast(dt.string).lpad(digits, "0"),
        lead_id=a.lead_id,
        occurred_at=a.last_call_at - _days_before(a.campaign - a.attempt, spacing_days),
        type=ibis.literal("call"),
        outcome=ibis.ifelse(last, answered, ibis.null(dt.string)),
        duration_s=ibis.ifelse(last, a.duration_s, ibis.null(dt.float64)),
    ).order_by("activity_id")


def deals_table(history: ir.Table, deal_value: float = DEFAULT_DEAL_VALUE) -> ir.Table:
    """One ``won`` deal per converted client: ``created_at = closed_at = last_call_at + 30 min``,
    ``amount = deal_value``."""
    won = history.filter(history.converted)
    at = won.last_call_at + ibis.interval(minutes=DEAL_AFTER_CALL_MINUTES)
    return won.select("deal_id", "lead_id", created_at=at, stage=ibis.literal("won"), closed_at=at,
                      amount=_double(deal_value)).order_by("deal_id")


def _check_arguments(deal_value: float, spacing_days: int) -> None:
    if not (isinstance(deal_value, (int, float)) and math.isfinite(deal_value) and deal_value >= 0):
        raise ValueError(f"deal_value must be a finite number >= 0, got {deal_value!r}")
    if int(spacing_days) != spacing_days or spacing_days < 0:
        raise ValueError(f"attempt_spacing_days must be a whole number >= 0, got {spacing_days!r}")


def _check_out_dir(out: Path) -> None:
    """Refuse a folder holding other contract tables (a stray ``leads.csv`` would make the export
    ambiguous; a ``reps`` file would be read with these tables)."""
    if out.exists() and not out.is_dir():
        raise AdapterError(out, None, "output path exists and is not a folder")
    clash = [p.name for p in (*(out / f"{n}.csv" for n in (*TABLES, "reps")), out / "reps.parquet")
             if p.exists()]
    if clash:
        raise AdapterError(out, None, f"output folder already holds {', '.join(clash)}: "
                                      "use an empty folder (or one written by this adapter)")


def _write_parquet(table: ir.Table, target: Path) -> None:
    """Write through DuckDB ``COPY`` to a temporary name, then rename into place."""
    tmp = target.with_name(f".{target.name}.tmp")
    table.to_parquet(str(tmp))
    os.replace(tmp, target)


def to_contract(csv_path: str | Path, out_dir: str | Path, deal_value: float = DEFAULT_DEAL_VALUE, *,
                first_year: int = FIRST_YEAR, attempt_spacing_days: int = ATTEMPT_SPACING_DAYS,
                call_time: time = CALL_TIME, validate: bool = True) -> Path:
    """Adapt ``bank-full.csv`` into ``out_dir/{leads,activities,deals}.parquet``; returns ``out_dir``.

    Assumptions (module docstring): year inferred from row order starting at ``first_year``;
    attempts ``attempt_spacing_days`` apart ending at ``call_time`` on the last-contact date;
    every subscription worth ``deal_value``. With ``validate`` the folder is run through
    :func:`sla_analysis.io.ingest.prepare_inputs` (into a throw-away cache), which raises
    :class:`sla_analysis.io.contract.ContractError` if the contract refuses it.
    """
    _check_arguments(deal_value, attempt_spacing_days)
    out = Path(out_dir)
    _check_out_dir(out)
    con = connect()
    history = contact_history(con, csv_path, first_year, call_time)
    tables = {"leads": leads_table(history, attempt_spacing_days),
              "activities": activities_table(history, attempt_spacing_days),
              "deals": deals_table(history, deal_value)}
    out.mkdir(parents=True, exist_ok=True)
    for name, table in tables.items():
        _write_parquet(table, out / f"{name}.parquet")
    (out / DATA_NOTES).write_text(yaml.safe_dump(NOT_RECORDED, sort_keys=False, width=1000), encoding="utf-8")
    if validate:
        with tempfile.TemporaryDirectory(prefix=".bank-validate-") as tmp:
            prepare_inputs(out, cache_root=Path(tmp))
    return out


# --------------------------------------------------------------------------------------------
# Cross-checks straight from the CSV
# --------------------------------------------------------------------------------------------

def _parsed(con: ibis.BaseBackend, csv_path: str | Path, covariates: Sequence[str]) -> ir.Table:
    """Parsed clients plus ``covariates``: CSV columns as trimmed text (empty -> ``unknown``), or
    ``year``, the inferred year of the last contact (see :func:`infer_dates`)."""
    raw = read_numbered(con, csv_path)
    missing = [c for c in covariates if c not in raw.columns and c != "year"]
    if missing:
        raise AdapterError(csv_path, missing[0], "covariate column is missing (a CSV column, or year)")
    clients = parse_clients(raw, csv_path)
    if "year" in covariates:
        clients = infer_dates(clients, csv_path)
    extra = [c for c in covariates if c not in clients.columns]
    if extra:
        cov = raw.select("row_nr", **{c: _text(raw[c]).fill_null("unknown") for c in extra})
        clients = clients.join(cov, "row_nr")
    return clients


def profiles_from_csv(csv_path: str | Path, deal_value: float = DEFAULT_DEAL_VALUE,
                      covariates: Sequence[str] = ()) -> pd.DataFrame:
    """The plateau method's lead profiles, aggregated in DuckDB straight from the CSV.

    Group by ``(campaign, y, *covariates)``: ``attempts = campaign``, ``converted = (y == yes)``,
    ``revenue = deal_value`` if converted else 0, ``censored = False`` (every campaign is over),
    ``weight`` = clients in the group. ``covariates`` are CSV column names (e.g. ``contact``,
    ``poutcome``) or ``year`` (inferred year of the last contact, an int). Columns: ``attempts, converted, revenue, censored, weight, *covariates``.
    """
    _check_arguments(deal_value, 0)
    covariates = list(covariates)
    t = _parsed(connect(), csv_path, covariates)
    g = t.group_by(attempts=t.campaign, converted=t.converted, **{c: t[c] for c in covariates}).aggregate(
        weight=t.count())
    g = g.mutate(revenue=ibis.ifelse(g.converted, _double(deal_value), _double(0.0)), censored=ibis.literal(False))
    out = g.order_by(["attempts", "converted", *covariates]).to_pandas()
    out = out[["attempts", "converted", "revenue", "censored", "weight", *covariates]]
    return out.astype({"attempts": "int64", "converted": bool, "revenue": float, "censored": bool,
                       "weight": "int64"}).reset_index(drop=True)


def hazard_from_csv(csv_path: str | Path, max_attempt: int | None = None) -> pd.DataFrame:
    """Person-period table expanded in DuckDB, independent of ``plateau.person_period``.

    Each client becomes one row per attempt ``k = 1..campaign`` with
    ``event = (y == yes) and k == campaign``; per ``k``: ``at_risk = rows``, ``events = sum(event)``,
    ``hazard = events / at_risk``. Columns: ``attempt, at_risk, events, hazard``.
    """
    t = _parsed(connect(), csv_path, ())
    pp = t.mutate(attempt=ibis.range(1, t.campaign + 1).unnest())
    pp = pp.mutate(event=(pp.converted & (pp.attempt == pp.campaign)).cast(dt.int64))
    if max_attempt is not None:
        pp = pp.filter(pp.attempt <= int(max_attempt))
    out = pp.group_by("attempt").aggregate(at_risk=pp.count(), events=pp.event.sum()).order_by("attempt").to_pandas()
    out = out.astype({"attempt": "int64", "at_risk": "int64", "events": "int64"})
    out["hazard"] = out.events / out.at_risk
    return out
