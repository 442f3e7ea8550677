"""SLA compliance (issue 4): speed to lead and follow-up cadence, measured against the tier protocols.

Definitions used throughout (all times are UTC timestamps, as in the data contract):

* **MQLs of a period**: leads whose ``mql_at`` (``created_at`` when the export has no ``mql_at``
  column; leads with an empty ``mql_at`` are not MQLs) lies in ``[start, stop)``.
* **Observed attempts**: activities with ``occurred_at < as_of``; nothing later is known at ``as_of``.
* **First touch**: the lead's earliest observed activity of any type. An attempt made *before* the
  MQL moment counts as an immediate response: the delay is clipped at 0 h
  (``touched_before_mql`` flags those leads).
* **Delay** = ``first_touch_at - mql_at`` in clock hours, and, when business hours are configured,
  the business hours between the two (:func:`business_hours_between`).
* **Tier protocol**: ``tiers[tier]`` (``response_hours``, ``touches``, ``timeframe_days``); a lead
  without a tier follows ``default_tier``'s protocol but keeps the label ``(none)``.
* **Speed-to-lead status** of an MQL at ``as_of``:
  ``within`` (touched, delay <= response window), ``late`` (touched, delay > window),
  ``not contacted`` (no attempt before ``as_of`` although the window closed: a miss, never dropped),
  ``pending`` (no attempt yet and the window still open at ``as_of``: counted apart, not a miss).
  The window is closed when ``mql_at + response_hours < as_of`` (in business hours: when the
  business hours from ``mql_at`` to ``as_of`` exceed ``response_hours``).
  ``decided = mqls - pending``; ``share_within = within / decided`` (Wilson interval).

Per-lead tables stay Ibis expressions inside DuckDB; only one row per group (or per histogram
bin, or per hour x weekday cell) is turned into pandas.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Iterable, Mapping, Sequence

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import numpy as np
import pandas as pd
from scipy import stats as st

from sla_analysis.analyses.stats import rate_table, wilson_interval
from sla_analysis.config import WEEKDAYS, BusinessHours
from sla_analysis.io.engine import CRM

US_PER_HOUR = 3_600_000_000
US_PER_DAY = 24 * US_PER_HOUR
NONE_LABEL = "(none)"
STATUSES = ("within", "late", "not contacted", "pending")


# --------------------------------------------------------------------------- engine helpers

@ibis.udf.scalar.builtin(name="epoch_us")
def _duckdb_epoch_us(ts: dt.timestamp) -> dt.int64:
    """DuckDB ``epoch_us``: microseconds since 1970-01-01 (exact, unlike a truncating epoch)."""


@ibis.udf.scalar.builtin(name="unix_micros")
def _spark_epoch_us(ts: dt.Timestamp(timezone="UTC")) -> dt.int64:
    """Spark ``unix_micros``: microseconds since 1970-01-01 (of a zoned TIMESTAMP)."""


@ibis.udf.scalar.builtin(name="timezone")
def _wall_as_utc(zone: dt.string, ts: dt.timestamp) -> dt.Timestamp(timezone="UTC"):
    """DuckDB ``timezone(zone, TIMESTAMP)``: read a naive time as wall time in ``zone``."""


@ibis.udf.scalar.builtin(name="timezone")
def _utc_to_wall(zone: dt.string, ts: dt.Timestamp(timezone="UTC")) -> dt.timestamp:
    """DuckDB ``timezone(zone, TIMESTAMPTZ)``: the wall time in ``zone`` of an instant."""


@ibis.udf.scalar.builtin(name="from_utc_timestamp")
def _spark_utc_to_wall(ts: dt.Timestamp(timezone="UTC"), zone: dt.string) -> dt.timestamp:
    """Spark ``from_utc_timestamp``: the wall time in ``zone`` of a UTC time."""


@ibis.udf.scalar.builtin(name="make_timestamp")
def _duckdb_make_timestamp(us: dt.int64) -> dt.timestamp:
    """DuckDB ``make_timestamp(microseconds since the epoch)``."""


@ibis.udf.scalar.builtin(name="timestamp_micros")
def _spark_make_timestamp(us: dt.int64) -> dt.timestamp:
    """Spark ``timestamp_micros``: the timestamp that many microseconds after the epoch."""


@ibis.udf.scalar.builtin(name="date_part")
def _postgres_date_part(field: dt.string, ts: dt.timestamp) -> dt.float64:
    """PostgreSQL ``date_part('epoch', ts)``: seconds since 1970-01-01 as a double (exact to the
    microsecond for dates before 2100: a double's spacing there is under 0.25 µs)."""


@ibis.udf.scalar.builtin(name="to_timestamp")
def _postgres_to_timestamp(seconds: dt.float64) -> dt.Timestamp(timezone="UTC"):
    """PostgreSQL ``to_timestamp(seconds since the epoch)`` (rounded to the microsecond)."""


def _backend(expr: ir.Expr) -> str:
    """The backend ``expr`` runs on (the few engine built-ins differ by name): ``duckdb`` for an
    unbound expression."""
    try:
        return expr._find_backend().name
    except Exception:  # noqa: BLE001 - an unbound expression: DuckDB's built-ins
        return "duckdb"


def _on_spark(expr: ir.Expr) -> bool:
    """Whether ``expr`` runs on the Spark backend."""
    return _backend(expr) == "pyspark"


def _epoch_us(ts: ir.TimestampValue) -> ir.IntegerValue:
    """Microseconds since 1970-01-01 of a naive UTC timestamp, on DuckDB, Spark or PostgreSQL."""
    backend = _backend(ts)
    if backend == "pyspark":  # Spark reads naive Parquet times as TIMESTAMP_NTZ; the session zone is UTC
        return _spark_epoch_us(ts.cast(dt.Timestamp(timezone="UTC")))
    if backend == "postgres":
        return (_postgres_date_part("epoch", ts) * 1_000_000).round().cast("int64")
    return _duckdb_epoch_us(ts)


def _make_timestamp(us: ir.IntegerValue) -> ir.TimestampValue:
    """The naive UTC timestamp ``us`` microseconds after 1970-01-01, on DuckDB, Spark or PostgreSQL."""
    backend = _backend(us)
    if backend == "pyspark":
        return _spark_make_timestamp(us)
    if backend == "postgres":
        return _utc_to_wall("UTC", _postgres_to_timestamp(us.cast("float64") / 1_000_000))
    return _duckdb_make_timestamp(us)


def local_time(ts: ir.TimestampValue, tz: str) -> ir.TimestampValue:
    """Wall-clock time in ``tz`` of a naive UTC timestamp (independent of the session time zone)."""
    if _on_spark(ts):
        return _spark_utc_to_wall(ts.cast(dt.Timestamp(timezone="UTC")), tz).cast(dt.timestamp)
    return _utc_to_wall(tz, _wall_as_utc("UTC", ts))


def _us(value: datetime) -> int:
    """Microseconds since the epoch of a naive UTC ``datetime`` (or pandas Timestamp)."""
    ts = pd.Timestamp(value)
    ts = ts.tz_convert("UTC").tz_localize(None) if ts.tzinfo else ts
    return int(ts.value // 1000)


def _max(a, b):
    """``max(a, b)`` that stays NULL when either is NULL (DuckDB's GREATEST skips NULLs)."""
    return ibis.ifelse(a < b, b, a)


def _min(a, b):
    """``min(a, b)`` that stays NULL when either is NULL (DuckDB's LEAST skips NULLs)."""
    return ibis.ifelse(a > b, b, a)


def _naive(value: datetime) -> datetime:
    """A naive UTC ``datetime`` (aware values are converted to UTC first)."""
    ts = pd.Timestamp(value)
    return (ts.tz_convert("UTC").tz_localize(None) if ts.tzinfo else ts).to_pydatetime()


def _as_list(by: str | Sequence[str] | None) -> list[str]:
    if by is None:
        return []
    return [by] if isinstance(by, str) else list(by)


def _protocols(tiers: Mapping) -> pd.DataFrame:
    """Tier protocols (``TierProtocol`` objects or plain mappings) as a small frame."""
    rows = []
    for name, spec in tiers.items():
        get = spec.get if isinstance(spec, Mapping) else (lambda k, s=spec: getattr(s, k))
        rows.append({"protocol_tier": str(name), "response_hours": float(get("response_hours")),
                     "protocol_touches": int(get("touches")), "timeframe_days": float(get("timeframe_days"))})
    return pd.DataFrame(rows)


def _with_protocol(t: ir.Table, tiers: Mapping, default_tier: str) -> ir.Table:
    """Add the lead's protocol (response_hours, protocol_touches, timeframe_days): its tier's, or
    ``default_tier``'s for a lead with no tier or a tier the config does not know."""
    if default_tier not in tiers:
        raise ValueError(f"default tier {default_tier!r} is not one of the configured tiers {sorted(tiers)}")
    proto = ibis.memtable(_protocols(tiers))
    key = ibis.ifelse(t.tier.isin(list(map(str, tiers))), t.tier, ibis.literal(default_tier))
    t = t.mutate(protocol_tier=key)
    return t.inner_join(proto, "protocol_tier")


# --------------------------------------------------------------------------- business hours

def business_calendar(bh: BusinessHours, first_day: date, last_day: date) -> pd.DataFrame:
    """One row per local date in ``[first_day, last_day]``: the instants (epoch microseconds, UTC)
    the business day opens and closes (equal on closed days), and ``cum_us`` = business
    microseconds from ``first_day``'s local midnight to this day's local midnight.

    Opening and closing times are local wall times converted with the zone's rules of that day,
    so a day's length is exact across a DST change (a 0-24 h day is 23 h or 25 h long then).
    Wall times that do not exist are shifted forward; ambiguous ones take the first (DST) instant.
    """
    days = pd.date_range(pd.Timestamp(first_day), pd.Timestamp(last_day), freq="D")

    def instants(hour: float) -> np.ndarray:
        wall = days + pd.to_timedelta(hour, unit="h")
        local = wall.tz_localize(bh.timezone, ambiguous=np.ones(len(wall), dtype=bool),
                                 nonexistent="shift_forward")
        return local.tz_convert("UTC").tz_localize(None).asi8 // 1000

    open_us, close_us = instants(bh.start_hour), instants(bh.end_hour)
    holidays = pd.DatetimeIndex(pd.to_datetime(list(bh.holidays))) if bh.holidays else pd.DatetimeIndex([])
    working = days.dayofweek.isin(bh.days) & ~days.isin(holidays)
    close_us = np.where(working, close_us, open_us)
    length = close_us - open_us
    return pd.DataFrame({"day": days.date, "open_us": open_us, "close_us": close_us,
                         "cum_us": np.concatenate([[0], np.cumsum(length)[:-1]]).astype(np.int64)})


def _business_us_at(t: ir.Table, col: str, calendar: ir.Table, bh: BusinessHours, name: str) -> ir.Table:
    """Add ``name`` = business microseconds from the calendar's start to ``t[col]``:
    ``cum_us[d] + clamp(t, open_d, close_d) - open_d`` with ``d`` the local date of ``t``."""
    cal = calendar.rename(**{f"{name}_{c}": c for c in calendar.columns})
    t = t.mutate(**{f"{name}_day": local_time(t[col], bh.timezone).date()})
    j = t.left_join(cal, t[f"{name}_day"] == cal[f"{name}_day"]).drop(f"{name}_day_right")
    ts = _epoch_us(j[col])
    op, cl = j[f"{name}_open_us"], j[f"{name}_close_us"]
    inside = _min(_max(ts, op), cl) - op
    return j.mutate(**{name: j[f"{name}_cum_us"] + inside}).drop(
        f"{name}_day", f"{name}_open_us", f"{name}_close_us", f"{name}_cum_us")


def business_hours_between(t: ir.Table, start_col: str, end_col: str, bh: BusinessHours,
                           first_day: date, last_day: date, name: str = "business_hours") -> ir.Table:
    """Add ``name`` = business hours between ``t[start_col]`` and ``t[end_col]`` (naive UTC),
    computed in the engine: ``(F(end) - F(start)) / 3600 s`` with ``F`` the business time elapsed
    since a fixed origin (:func:`business_calendar`). Negative when ``end < start``; NULL when either
    is NULL or falls outside ``[first_day, last_day]`` (local dates; give a day's margin)."""
    cal = ibis.memtable(business_calendar(bh, first_day, last_day))
    keys = [c for c in t.columns]
    t = _business_us_at(t, start_col, cal, bh, "_bh_a")
    t = _business_us_at(t, end_col, cal, bh, "_bh_b")
    return t.mutate(**{name: (t._bh_b - t._bh_a) / US_PER_HOUR}).select(*keys, name)


def _calendar_span(*moments: datetime) -> tuple[date, date]:
    """Local-date span covering the given UTC moments, with two days' margin for any offset."""
    ts = [_naive(m) for m in moments]
    return (min(ts) - timedelta(days=2)).date(), (max(ts) + timedelta(days=2)).date()


# --------------------------------------------------------------------------- per-lead tables

def mql_leads(crm: CRM, start: datetime, stop: datetime) -> ir.Table:
    """MQLs with ``mql_at`` in ``[start, stop)``: lead_id, tier, source, segment, owner_id, mql_at
    (``created_at`` when the export has no ``mql_at`` column). Missing optional columns are NULL."""
    start, stop = _naive(start), _naive(stop)
    leads = crm.leads
    mql_at = leads.mql_at if crm.has("leads", "mql_at") else leads.created_at
    null_text = ibis.null(dt.string)
    cols = {c: (leads[c] if crm.has("leads", c) else null_text) for c in ("tier", "segment", "owner_id")}
    m = leads.select("lead_id", "source", mql_at=mql_at, **cols)
    return m.filter(m.mql_at.notnull() & (m.mql_at >= start) & (m.mql_at < stop))


def _observed_activities(crm: CRM, as_of: datetime | None) -> ir.Table:
    a = crm.activities
    return a if as_of is None else a.filter(a.occurred_at < _naive(as_of))


def first_touch_table(crm: CRM, start: datetime, stop: datetime, as_of: datetime | None = None) -> ir.Table:
    """One row per MQL in ``[start, stop)`` (an Ibis expression): lead_id, tier, source, segment,
    owner, mql_at, first_touch_at, first_rep, touched_before_mql, hours_to_first_touch.

    ``first_touch_at`` = earliest activity before ``as_of`` (all activities when ``as_of`` is None),
    any type; ``hours_to_first_touch = max(0, first_touch_at - mql_at) / 1 h``, NULL if never touched.
    ``owner`` = the lead's ``owner_id``, else the rep of its first activity (ties: lowest activity_id).
    """
    m = mql_leads(crm, start, stop)
    first = crm.first_touches(None if as_of is None else _naive(as_of))  # computed once per export
    if first is None:  # an engine without the cached facts: rank the MQLs' activities here
        a = _observed_activities(crm, as_of)
        rep = a.rep_id if crm.has("activities", "rep_id") else ibis.null(dt.string)
        a = a.select("lead_id", "activity_id", "occurred_at", first_rep=rep)
        a = a.filter(a.lead_id.isin(m.lead_id))
        rank = ibis.row_number().over(group_by=a.lead_id, order_by=[a.occurred_at, a.activity_id])
        first = a.mutate(_rank=rank).filter(ibis._._rank == 0).select(
            "lead_id", "first_rep", first_touch_at="occurred_at")
    j = m.left_join(first.select("lead_id", "first_rep", "first_touch_at"), "lead_id").drop("lead_id_right")
    delay_us = _epoch_us(j.first_touch_at) - _epoch_us(j.mql_at)
    return j.select(
        "lead_id", "tier", "source", "segment", owner=j.owner_id.coalesce(j.first_rep),
        mql_at=j.mql_at, first_touch_at=j.first_touch_at, first_rep=j.first_rep,
        touched_before_mql=j.first_touch_at.notnull() & (delay_us < 0),
        hours_to_first_touch=_max(delay_us, 0) / US_PER_HOUR,
    )


def lead_status(crm: CRM, tiers: Mapping, start: datetime, stop: datetime, as_of: datetime,
                business_hours: BusinessHours | Mapping | None = None, default_tier: str = "moderate") -> ir.Table:
    """:func:`first_touch_table` plus the lead's protocol and its speed-to-lead status at ``as_of``
    (see the module docstring): ``touched``, ``decided``, ``within``, ``status``; with business
    hours also ``business_hours_to_first_touch`` (business hours from ``mql_at`` to
    ``max(first_touch_at, mql_at)``), ``decided_bh``, ``within_bh``, ``status_bh``."""
    if isinstance(business_hours, Mapping):
        business_hours = BusinessHours.from_config(business_hours)
    start, stop, as_of = _naive(start), _naive(stop), _naive(as_of)
    t = _with_protocol(first_touch_table(crm, start, stop, as_of), tiers, default_tier)
    as_of_us = _us(as_of)
    window_us = t.response_hours * US_PER_HOUR
    touched = t.first_touch_at.notnull()
    closed = (_epoch_us(t.mql_at) + window_us) < as_of_us
    t = t.mutate(touched=touched, decided=touched | closed,
                 within=touched & (t.hours_to_first_touch <= t.response_hours))
    t = t.mutate(status=_status(t.within, t.touched, t.decided))
    if business_hours is None:
        return t
    first_day, last_day = _calendar_span(start, stop, as_of)
    t = t.mutate(_touch_from=_max(t.first_touch_at, t.mql_at), _as_of=ibis.timestamp(as_of))
    t = business_hours_between(t, "mql_at", "_touch_from", business_hours, first_day, last_day,
                               "business_hours_to_first_touch")
    t = business_hours_between(t, "mql_at", "_as_of", business_hours, first_day, last_day, "_bh_open")
    decided = t.touched | (t._bh_open > t.response_hours)
    within = t.touched & (t.business_hours_to_first_touch <= t.response_hours)
    t = t.mutate(decided_bh=decided, within_bh=within)
    t = t.mutate(status_bh=_status(t.within_bh, t.touched, t.decided_bh))
    return t.drop("_touch_from", "_as_of", "_bh_open")


def _status(within, touched, decided):
    return ibis.cases((within, "within"), (touched, "late"), (decided, "not contacted"), else_="pending")


def _add_share(out: pd.DataFrame, successes: str, n: str, prefix: str, confidence: float) -> None:
    """Add ``prefix = successes / n`` (NaN where ``n == 0``) and its Wilson interval in place."""
    total = out[n].astype(float)
    out[prefix] = np.where(total > 0, out[successes] / total.where(total > 0, 1), np.nan)
    out[f"{prefix}_low"], out[f"{prefix}_high"] = wilson_interval(out[successes], total, confidence)


def _group_keys(t: ir.Table, by: Iterable[str]) -> dict:
    return {k: t[k].cast("string").fill_null(NONE_LABEL) for k in by}


# --------------------------------------------------------------------------- speed to lead

def speed_unavailable(limits: Mapping[str, str]) -> str | None:
    """Why speed to lead cannot be measured on this export, or None: it has no contact attempts,
    or it does not record when leads were first contacted (``first_touch`` in ``CRM.limits()``,
    e.g. an adapter that had to place the first call at a fixed hour)."""
    return limits.get("attempts") or limits.get("first_touch")


def without_attempts(out: pd.DataFrame, crm: CRM, keep: Sequence[str], why: str | None = None) -> pd.DataFrame:
    """Absent is never zero: when the export has no contact attempts (``crm.limits()``), or
    ``why`` says what else it lacks, every column of ``out`` but ``keep`` (the group keys and the
    counts that do not depend on it) becomes NaN and ``attrs["unavailable"]`` holds the reason;
    otherwise ``out`` unchanged."""
    why = why or crm.limits().get("attempts")
    if not why:
        return out
    out = out.copy()
    for c in out.columns:
        if c not in keep:
            out[c] = np.nan
    out.attrs["unavailable"] = why
    return out


def speed_to_lead(crm: CRM, tiers: Mapping, start: datetime, stop: datetime, as_of: datetime,
                  by: str | Sequence[str] = "tier", business_hours: BusinessHours | Mapping | None = None,
                  confidence: float = 0.95, min_n: int = 30, default_tier: str = "moderate",
                  total: bool = False) -> pd.DataFrame:
    """Speed to lead per ``by`` group (``tier``, ``owner``, ``source``, ``segment`` or a list) over
    the MQLs of ``[start, stop)``, each lead judged against its own tier's response window.

    Columns: ``mqls``; ``pending`` (window open at ``as_of``, untouched); ``decided = mqls - pending``;
    ``within``; ``late``; ``never_contacted`` (decided, no attempt before ``as_of``: a miss);
    ``share_within = within / decided`` with ``share_within_low/high`` (Wilson) and ``small_sample``
    (``decided < min_n``); ``touched``, ``touched_before_mql``; ``median_hours``, ``p90_hours``:
    exact (``quantile_cont``, linear interpolation) percentiles of the clock delay over *touched*
    leads only (leads not contacted have no delay; see :func:`time_to_first_touch_curve` for a
    view that keeps them); ``response_hours`` when grouped by tier. With ``business_hours`` the
    same figures again with the suffix ``_bh`` / ``business`` (``pending_bh``, ``decided_bh``,
    ``within_bh``, ``never_contacted_bh``, ``share_within_bh`` (+ interval), ``median_business_hours``,
    ``p90_business_hours``). ``total=True`` adds a row ``all`` over every MQL. Without contact
    attempts in the export only ``mqls``, ``pending`` and ``decided`` are kept, the rest is NaN
    (:func:`without_attempts`).
    """
    if isinstance(business_hours, Mapping):
        business_hours = BusinessHours.from_config(business_hours)
    keys = _as_list(by)
    t = lead_status(crm, tiers, start, stop, as_of, business_hours, default_tier)
    t = t.mutate(**_group_keys(t, keys))
    delay = t.hours_to_first_touch
    metrics = dict(
        mqls=t.count(),
        pending=(~t.decided).sum(),
        decided=t.decided.sum(),
        within=t.within.sum(),
        late=(t.touched & ~t.within).sum(),
        never_contacted=(t.decided & ~t.touched).sum(),
        touched=t.touched.sum(),
        touched_before_mql=t.touched_before_mql.sum(),
        median_hours=delay.quantile(0.5),
        p90_hours=delay.quantile(0.9),
        response_hours=t.response_hours.max(),
        response_hours_min=t.response_hours.min(),
    )
    if business_hours is not None:
        bdelay = t.business_hours_to_first_touch
        metrics.update(
            pending_bh=(~t.decided_bh).sum(),
            decided_bh=t.decided_bh.sum(),
            within_bh=t.within_bh.sum(),
            never_contacted_bh=(t.decided_bh & ~t.touched).sum(),
            median_business_hours=bdelay.quantile(0.5),
            p90_business_hours=bdelay.quantile(0.9),
        )
    frames = []
    if keys:
        frames.append(t.group_by(keys).aggregate(**metrics).order_by(keys).to_pandas())
    if total or not keys:
        overall = t.aggregate(**metrics).to_pandas()
        for k in keys:
            overall[k] = "all"
        frames.append(overall)
    out = pd.concat(frames, ignore_index=True)
    count_cols = [c for c in out.columns
                  if c not in keys and not c.startswith(("median", "p90", "response"))]
    # counts as numbers first: an all-NULL count (no MQL in the window) comes back as objects
    out[count_cols] = out[count_cols].apply(pd.to_numeric).fillna(0).astype(int)
    # one window per row only when every lead of the group shares it
    same = out.response_hours == out.response_hours_min
    out["response_hours"] = out.response_hours.where(same)
    out = out.drop(columns="response_hours_min")
    out = rate_table(out, "within", "decided", confidence, min_n, prefix="share_within")
    if business_hours is not None:
        _add_share(out, "within_bh", "decided_bh", "share_within_bh", confidence)
    return without_attempts(out, crm, [*keys, "mqls", "pending", "decided", "pending_bh", "decided_bh",
                                       "response_hours", "small_sample"], why=speed_unavailable(crm.limits()))


# --------------------------------------------------------------------------- survival curve

def kaplan_meier(events: np.ndarray, censored: np.ndarray, confidence: float = 0.95) -> pd.DataFrame:
    """Kaplan–Meier from counts per ordered bin: ``events[k]`` first touches and ``censored[k]``
    leads last seen untouched in bin ``k`` (censorings in a bin are taken to follow its events).

    ``at_risk_k = N - sum_{j<k}(events_j + censored_j)``;
    ``S_k = prod_{j<=k} (1 - events_j / at_risk_j)``;
    interval: Greenwood variance on the log(-log S) scale
    (``V_k = sum_{j<=k} d_j / (n_j (n_j - d_j))``, ``S^exp(+-z sqrt(V) / log S)``).
    """
    events = np.asarray(events, dtype=float)
    censored = np.asarray(censored, dtype=float)
    n = events.sum() + censored.sum()
    at_risk = n - np.concatenate([[0.0], np.cumsum(events + censored)[:-1]])
    with np.errstate(divide="ignore", invalid="ignore"):
        step = np.where(at_risk > 0, 1 - events / at_risk, 1.0)
        surv = np.cumprod(step)
        terms = np.where((at_risk > events) & (at_risk > 0), events / (at_risk * (at_risk - events)), 0.0)
        var = np.cumsum(terms)
        z = st.norm.ppf(0.5 + confidence / 2)
        log_s = np.log(surv)
        half = z * np.sqrt(var) / log_s
        ok = (surv > 0) & (surv < 1)
        low = np.where(ok, surv ** np.exp(-half), surv)
        high = np.where(ok, surv ** np.exp(half), surv)
    return pd.DataFrame({"at_risk": at_risk.astype(int), "touched": events.astype(int),
                         "censored": censored.astype(int), "untouched_share": surv,
                         "untouched_low": np.minimum(low, high), "untouched_high": np.maximum(low, high)})


def first_touch_histogram(crm: CRM, start: datetime, stop: datetime, as_of: datetime,
                          by: str | Sequence[str] = "tier", bin_hours: float = 1.0,
                          max_hours: float = 168.0) -> pd.DataFrame:
    """Counts per group and bin for the survival curve, aggregated in the engine.

    Per MQL, ``T`` = clock hours to the first touch (event) or, untouched, to ``as_of`` (censored,
    clipped at 0). Bin ``k = ceil(T / bin_hours)`` covers ``((k-1) w, k w]`` (bin 0 is ``T = 0``);
    every ``T`` beyond ``max_hours`` is pooled in the last bin + 1 (they only stay at risk).
    """
    keys = _as_list(by)
    t = first_touch_table(crm, start, stop, as_of)
    censor_h = ibis.greatest(_us(as_of) - _epoch_us(t.mql_at), 0) / US_PER_HOUR
    touched = t.first_touch_at.notnull()
    hours = ibis.ifelse(touched, t.hours_to_first_touch, censor_h)
    last = int(np.ceil(max_hours / bin_hours))
    k = ibis.least((hours / bin_hours).ceil().cast("int64"), last + 1)
    t = t.mutate(**_group_keys(t, keys), bin=k, event=touched)
    agg = t.group_by([*keys, "bin", "event"]).aggregate(leads=t.count()).to_pandas()
    return agg


def time_to_first_touch_curve(crm: CRM, start: datetime, stop: datetime, as_of: datetime,
                              by: str | Sequence[str] = "tier", bin_hours: float = 1.0,
                              max_hours: float = 168.0, confidence: float = 0.95) -> pd.DataFrame:
    """Kaplan–Meier share of MQLs still untouched ``hours`` after becoming an MQL, per group, for
    ``hours = 0, w, 2w, ..., max_hours`` (``w = bin_hours``). Leads never contacted are censored at
    ``as_of``; so is a lead whose first touch comes after ``as_of``. ``untouched_share`` at ``h`` is
    ``P(T > h)``: with no censoring before ``h`` it equals the share not touched within ``h`` hours
    (``1 - untouched_share`` at the tier's window = share within when nothing is pending).
    Bins are ``((k-1) w, k w]``, so a lead censored inside a bin counts as at risk for that bin's
    touches (exact when no lead is censored inside the plotted range)."""
    keys = _as_list(by)
    hist = first_touch_histogram(crm, start, stop, as_of, keys, bin_hours, max_hours)
    last = int(np.ceil(max_hours / bin_hours))
    bins = np.arange(last + 2)
    frames = []
    groups = hist.groupby(keys, sort=True) if keys else [((), hist)]
    for key, g in groups:
        ev = g[g.event].groupby("bin").leads.sum().reindex(bins, fill_value=0).to_numpy()
        ce = g[~g.event].groupby("bin").leads.sum().reindex(bins, fill_value=0).to_numpy()
        km = kaplan_meier(ev, ce, confidence).iloc[: last + 1]
        km.insert(0, "hours", bins[: last + 1] * bin_hours)
        key = key if isinstance(key, tuple) else (key,)
        for name, value in zip(keys, key):
            km.insert(0, name, value)
        km["mqls"] = int(ev.sum() + ce.sum())
        frames.append(km)
    if not frames:
        return pd.DataFrame(columns=[*keys, "hours", "at_risk", "touched", "censored",
                                     "untouched_share", "untouched_low", "untouched_high", "mqls"])
    return pd.concat(frames, ignore_index=True)


# --------------------------------------------------------------------------- cadence

def cadence_leads(crm: CRM, tiers: Mapping, start: datetime, stop: datetime, as_of: datetime,
                  breakup_touches: int = 1, touch_types: Sequence[str] | None = None,
                  default_tier: str = "moderate", ended_from: datetime | None = None) -> ir.Table:
    """Per MQL of ``[start, stop)`` whose protocol timeframe has ended by ``as_of``
    (``mql_at + timeframe_days <= as_of``; and not before ``ended_from`` when given, e.g. the
    protocols that ended during a period), an Ibis expression with: the protocol, ``touches`` =
    activities (of ``touch_types``, default all types) with ``occurred_at < mql_at + timeframe``
    (attempts made before the MQL moment count, as in speed to lead), ``converted`` = a deal
    created before ``mql_at + timeframe``, and ``cadence``:

    * ``to protocol``: ``protocol_touches <= touches <= protocol_touches + breakup_touches``;
    * ``over-worked``: ``touches > protocol_touches + breakup_touches``;
    * ``converted early``: fewer touches than the protocol but converted (stopping was right);
    * ``abandoned early``: fewer touches than the protocol and not converted.
    """
    m = _with_protocol(mql_leads(crm, start, stop), tiers, default_tier)
    m = m.mutate(_end_us=_epoch_us(m.mql_at) + (m.timeframe_days * US_PER_DAY).cast("int64"))
    m = m.filter(m._end_us <= _us(as_of))
    if ended_from is not None:
        m = m.filter(m._end_us >= _us(ended_from))
    a = crm.activities
    if touch_types is not None:
        a = a.filter(a.type.isin([str(x).lower() for x in touch_types]))
    a = a.select("lead_id", _at=_epoch_us(a.occurred_at))
    ja = m.select("lead_id", "_end_us").inner_join(a, "lead_id")
    touches = ja.filter(ja._at < ja._end_us).group_by("lead_id").aggregate(touches=ibis._.count())
    d = crm.deals.select("lead_id", _at=_epoch_us(crm.deals.created_at))
    jd = m.select("lead_id", "_end_us").inner_join(d, "lead_id")
    converted = jd.filter(jd._at < jd._end_us).select("lead_id").distinct().mutate(converted=True)
    t = m.left_join(touches, "lead_id").drop("lead_id_right")
    t = t.left_join(converted, "lead_id").drop("lead_id_right")
    t = t.mutate(touches=t.touches.fill_null(0), converted=t.converted.fill_null(False))
    cadence = ibis.cases(
        (t.touches > t.protocol_touches + breakup_touches, "over-worked"),
        (t.touches >= t.protocol_touches, "to protocol"),
        (t.converted, "converted early"),
        else_="abandoned early")
    return t.mutate(cadence=cadence, timeframe_ends_at=_make_timestamp(t._end_us)).drop("_end_us")


def cadence_table(crm: CRM, tiers: Mapping, start: datetime, stop: datetime, as_of: datetime,
                  by: str | Sequence[str] = "tier", breakup_touches: int = 1,
                  touch_types: Sequence[str] | None = None, confidence: float = 0.95, min_n: int = 30,
                  default_tier: str = "moderate", ended_from: datetime | None = None) -> pd.DataFrame:
    """Cadence against the tier protocol per ``by`` group, over MQLs whose timeframe has ended
    (:func:`cadence_leads`, with ``ended_from``): ``leads`` (n), ``mqls_in_period`` (all MQLs of the period, ended or not),
    ``median_touches`` (exact, linear interpolation), ``mean_touches``, ``never_touched``; counts and
    shares of ``leads`` (Wilson intervals) for ``to_protocol`` (``touches >= protocol_touches``,
    over-worked included), ``over_worked`` (``> protocol + breakup``), ``to_protocol_only``
    (``to_protocol - over_worked``), ``converted_early`` and ``abandoned_early``
    (``to_protocol + converted_early + abandoned_early = leads``: four outcomes with
    ``to_protocol_only`` and ``over_worked``), and ``kept_protocol = to_protocol + converted_early``
    (the cadence promise: worked to the protocol, or converted before it was done); and the
    protocol (``protocol_touches``, ``timeframe_days``) when the group has a single one. Without
    contact attempts in the export the touch figures are NaN (:func:`without_attempts`)."""
    keys = _as_list(by)
    t = cadence_leads(crm, tiers, start, stop, as_of, breakup_touches, touch_types, default_tier, ended_from)
    t = t.mutate(**_group_keys(t, keys))
    metrics = dict(
        leads=t.count(),
        median_touches=t.touches.quantile(0.5),
        mean_touches=t.touches.mean(),
        never_touched=(t.touches == 0).sum(),
        to_protocol=t.cadence.isin(["to protocol", "over-worked"]).sum(),
        over_worked=(t.cadence == "over-worked").sum(),
        converted_early=(t.cadence == "converted early").sum(),
        abandoned_early=(t.cadence == "abandoned early").sum(),
        protocol_touches=t.protocol_touches.max(), _pt_min=t.protocol_touches.min(),
        timeframe_days=t.timeframe_days.max(), _tf_min=t.timeframe_days.min(),
    )
    out = (t.group_by(keys).aggregate(**metrics).to_pandas() if keys
           else t.aggregate(**metrics).to_pandas())
    m = mql_leads(crm, start, stop)
    m = m.mutate(**_group_keys(m, keys))
    total = (m.group_by(keys).aggregate(mqls_in_period=m.count()).to_pandas() if keys
             else m.aggregate(mqls_in_period=m.count()).to_pandas())
    if keys:
        out = total.merge(out, on=keys, how="left").sort_values(keys, ignore_index=True)
    else:
        out = pd.concat([total, out], axis=1)
    counts = ["leads", "never_touched", "to_protocol", "over_worked", "converted_early", "abandoned_early"]
    out[counts] = out[counts].fillna(0).astype(int)
    out["protocol_touches"] = out.protocol_touches.where(out.protocol_touches == out._pt_min)
    out["timeframe_days"] = out.timeframe_days.where(out.timeframe_days == out._tf_min)
    out = out.drop(columns=["_pt_min", "_tf_min"])
    out["breakup_touches"] = breakup_touches
    out["to_protocol_only"] = out.to_protocol - out.over_worked
    out["kept_protocol"] = out.to_protocol + out.converted_early  # what the SLA's cadence promise judges
    for name in ("kept_protocol", "to_protocol", "to_protocol_only", "over_worked", "converted_early", "abandoned_early"):
        _add_share(out, name, "leads", f"share_{name}", confidence)
    out["small_sample"] = out.leads < min_n
    return without_attempts(out, crm, [*keys, "leads", "mqls_in_period", "protocol_touches", "timeframe_days",
                                       "breakup_touches", "small_sample"])


# --------------------------------------------------------------------------- attempts by hour

def attempts_by_hour_weekday(crm: CRM, start: datetime, stop: datetime, timezone: str = "UTC",
                             confidence: float = 0.95) -> pd.DataFrame:
    """Attempts with ``occurred_at`` in ``[start, stop)`` per local weekday (0 = Monday) and hour
    of day in ``timezone``: the full 7 x 24 grid (empty cells 0). ``attempts`` (all types),
    ``first_attempts`` (attempts that were their lead's first in the whole export), ``calls``, ``calls_with_outcome`` (calls with a recorded outcome), ``connected``
    (calls with ``outcome == 'connected'``), ``connect_rate = connected / calls_with_outcome`` with
    a Wilson interval (NaN where no call has an outcome, or the export has no ``outcome``)."""
    a = crm.activities
    cached = crm.first_touches()  # computed once per export
    first = (cached.select("lead_id", _first_at=cached.first_touch_at) if cached is not None
             else a.group_by("lead_id").aggregate(_first_at=a.occurred_at.min()))
    a = a.filter((a.occurred_at >= _naive(start)) & (a.occurred_at < _naive(stop)))
    a = a.left_join(first, "lead_id")
    wall = local_time(a.occurred_at, timezone)
    is_call = a.type == "call"
    if crm.has("activities", "outcome"):
        with_outcome = is_call & a.outcome.notnull()
        connected = is_call & (a.outcome == "connected")
    else:
        with_outcome = connected = ibis.literal(False)
    a = a.mutate(weekday=wall.day_of_week.index(), hour=wall.hour(), _call=is_call,
                 _with_outcome=with_outcome, _connected=connected, _first=(a.occurred_at == a._first_at))
    agg = a.group_by(["weekday", "hour"]).aggregate(
        attempts=a.count(), first_attempts=a._first.sum(), calls=a._call.sum(),
        calls_with_outcome=a._with_outcome.sum(), connected=a._connected.sum()).to_pandas()
    grid = pd.MultiIndex.from_product([range(7), range(24)], names=["weekday", "hour"]).to_frame(index=False)
    out = grid.merge(agg, on=["weekday", "hour"], how="left").fillna(0)
    counts = ["attempts", "first_attempts", "calls", "calls_with_outcome", "connected"]
    out[counts] = out[counts].astype(int)
    out.insert(1, "weekday_name", [WEEKDAYS[d] for d in out.weekday])
    _add_share(out, "connected", "calls_with_outcome", "connect_rate", confidence)
    return out


def in_tier_order(frame: pd.DataFrame, tiers: Mapping) -> pd.DataFrame:
    """Rows of a by-tier frame in the config's tier order (high, moderate, low by default), other
    labels after them and the ``all`` row last."""
    rank = {str(t): i for i, t in enumerate(tiers)}
    key = frame["tier"].map(lambda t: 10_000 if t == "all" else rank.get(str(t), 5_000))
    return frame.assign(_rank=key).sort_values(["_rank", "tier"], kind="stable").drop(columns="_rank").reset_index(drop=True)


def best_hour_sentence(grid: pd.DataFrame, min_calls: int, limits: Mapping[str, str] | None = None,
                       confidence: float = 0.95) -> str:
    """How often the calls among these attempts reached a person, overall and at the best hour with
    at least ``min_calls`` calls with an outcome. An hour is named only when it stands out: its
    Wilson interval, at ``confidence`` shared over the hours compared (Bonferroni), lies above the
    overall share; otherwise the sentence says no hour stands out. Says so when the export has no
    call outcomes, or does not record them call by call (``outcomes`` in ``limits``)."""
    if (limits or {}).get("outcomes"):
        return f"How often calls reached a person is not available: {limits['outcomes']}."
    calls = grid.groupby("hour")[["calls_with_outcome", "connected"]].sum()
    if calls.calls_with_outcome.sum() == 0:
        return "The export has no call outcomes, so how often calls reached a person is not available."
    best = (calls.connected / calls.calls_with_outcome)[calls.calls_with_outcome >= min_calls]
    overall = calls.connected.sum() / calls.calls_with_outcome.sum()
    text = f"Of the calls among these attempts, {overall:.0%} reached a person"
    if not len(best):
        return text + "."
    h = best.idxmax()
    lo, hi = wilson_interval(calls.connected[h], calls.calls_with_outcome[h], 1 - (1 - confidence) / len(best))
    if not float(lo) > overall:
        return text + "; no hour of the day stands out from the others."
    return text + (f"; the best hour was {h}:00: {best.max():.0%} of its {int(calls.calls_with_outcome[h]):,} calls "
                   f"({float(lo):.0%}–{float(hi):.0%}).")


DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def working_hours(grid: pd.DataFrame, quiet_share: float = 0.1, min_share: float = 0.9) -> dict | None:
    """The weekdays and hours the team worked, read from when attempts were made
    (:func:`attempts_by_hour_weekday`): a day is worked when it holds at least ``quiet_share`` of the
    busiest day's attempts; the hours run from the first to the last hour of the day holding at
    least ``quiet_share`` of the busiest hour's. ``{"days": [0..6], "start": h, "end": h + 1,
    "share": attempts inside / all}``; ``None`` when there are no attempts, when the team worked
    around the clock every day, or when the hours found hold less than ``min_share`` of the attempts
    (no clear working hours)."""
    total = float(grid.attempts.sum())
    if total <= 0:
        return None
    by_day = grid.groupby("weekday").attempts.sum()
    by_hour = grid.groupby("hour").attempts.sum()
    days = [int(d) for d in by_day.index if by_day[d] >= quiet_share * by_day.max()]
    busy = [int(h) for h in by_hour.index if by_hour[h] >= quiet_share * by_hour.max()]
    start, end = min(busy), max(busy) + 1
    if len(days) == 7 and (start, end) == (0, 24):
        return None
    inside = grid[grid.weekday.isin(days) & (grid.hour >= start) & (grid.hour < end)].attempts.sum()
    share = float(inside) / total
    return None if share < min_share else {"days": days, "start": start, "end": end, "share": share}


def day_span(days: Sequence[int]) -> str:
    """[0, 1, 2, 3, 4] -> "Monday to Friday"; other sets are listed."""
    days = sorted(days)
    if len(days) > 2 and days == list(range(days[0], days[-1] + 1)):
        return f"{DAY_NAMES[days[0]]} to {DAY_NAMES[days[-1]]}"
    return ", ".join(DAY_NAMES[d] for d in days)


def working_hours_sentence(grid: pd.DataFrame, hours: dict | None, timezone: str = "UTC") -> str:
    """When the team worked (:func:`working_hours`) and the busiest hour of the week, with the
    share of its attempts that were a lead's first against the other working hours'. The busiest
    hour is said to follow the days off only when it is the first working hour after them."""
    if hours is None:
        return ("Attempts were spread over the day and the week: no working hours stand out."
                if grid.attempts.sum() > 0 else "")
    text = (f"SDRs made {hours['share']:.0%} of their attempts {day_span(hours['days'])}, "
            f"{hours['start']:02d}:00 to {hours['end']:02d}:00 ({timezone} time): these working hours are read from when "
            "the attempts were made.")
    work = grid[grid.weekday.isin(hours["days"]) & (grid.hour >= hours["start"]) & (grid.hour < hours["end"])]
    top = work.loc[work.attempts.idxmax()]
    rest = work.drop(index=top.name)
    average = work.attempts.mean()
    if not len(rest) or average <= 0 or top.attempts < 1.5 * average:
        return text + " No working hour was much busier than the others."
    first_share = top.first_attempts / top.attempts
    rest_share = rest.first_attempts.sum() / max(rest.attempts.sum(), 1)
    text += (f" The busiest hour was {DAY_NAMES[int(top.weekday)]} {int(top.hour):02d}:00 ({int(top.attempts):,} attempts, "
             f"{top.attempts / average:.1f} times an average working hour); {first_share:.0%} of its attempts were a lead's "
             f"first, against {rest_share:.0%} in the other working hours")
    day = int(top.weekday)
    after_days_off = int(top.hour) == hours["start"] and (day - 1) % 7 not in hours["days"]
    if after_days_off:
        text += (": it is the first working hour after the days off, when the MQLs that arrived while nobody worked "
                 "get their first call")
    first_everyday = all(int(work[work.weekday == d].sort_values("attempts").hour.iloc[-1]) == hours["start"]
                         for d in hours["days"] if (work.weekday == d).any())
    if first_everyday:
        text += f". {hours['start']:02d}:00 is also the busiest hour of every other working day, after each night"
    return text + "."


def mqls_outside_hours(crm: CRM, start: datetime, stop: datetime, hours: dict, timezone: str = "UTC") -> tuple[int, int]:
    """``(outside, mqls)``: of the MQLs with ``mql_at`` in ``[start, stop)``, those that arrived
    outside the working ``hours`` (:func:`working_hours`), local time in ``timezone``."""
    m = mql_leads(crm, start, stop)
    wall = local_time(m.mql_at, timezone)
    inside = (wall.day_of_week.index().isin(list(hours["days"])) & (wall.hour() >= int(hours["start"]))
              & (wall.hour() < int(hours["end"])))
    row = m.aggregate(mqls=m.count(), inside=inside.sum()).to_pandas().iloc[0]
    mqls = int(row.mqls)
    return mqls - int(0 if pd.isna(row.inside) else row.inside), mqls


def clock_hours_sentence(hours: dict | None, outside: int, mqls: int, timezone: str = "UTC") -> str:
    """Under the speed-to-lead table when the windows are counted in clock hours and the team
    worked office hours: what that means for MQLs arriving after hours. Empty when the team worked
    around the clock (``hours`` None) or no MQL arrived."""
    if hours is None or mqls <= 0:
        return ""
    return (f"The windows are counted in clock hours, nights and weekends included, while SDRs worked "
            f"{day_span(hours['days'])}, {hours['start']:02d}:00 to {hours['end']:02d}:00 ({timezone} time): "
            f"{outside / mqls:.0%} of the period's MQLs ({outside:,} of {mqls:,}) arrived outside those hours and waited "
            "for the next working morning. The SLA can count its windows in working hours instead, as the Proposed SLA "
            "page does.")


@dataclass
class AttemptTimes:
    """When attempts were made in a period, for a page: the weekday-hour ``grid``
    (:func:`attempts_by_hour_weekday`), the working hours read from it (``worked``,
    :func:`working_hours`), the ``zone``, and, when the SLA counts clock hours, how many of the
    period's MQLs arrived outside the working hours (``outside`` of ``mqls``)."""

    grid: pd.DataFrame
    worked: dict | None
    zone: str
    outside: int | None = None
    mqls: int | None = None

    def summary(self) -> dict | None:
        """``summary.json["compliance"]["working_hours"]``: the hours read from the attempts and the
        share of MQLs arriving outside them (None when no working hours stand out)."""
        if not self.worked:
            return None
        return {"days": [WEEKDAYS[d] for d in self.worked["days"]], "hours": [self.worked["start"], self.worked["end"]],
                "timezone": self.zone, "share_of_attempts": self.worked["share"],
                "mqls_outside_share": self.outside / self.mqls if self.mqls else None}


def when_attempts_were_made(crm: CRM, start: datetime, stop: datetime, business_hours: Mapping | None,
                            confidence: float = 0.95) -> AttemptTimes:
    """:class:`AttemptTimes` for ``[start, stop)`` in the zone of ``business_hours`` (UTC without
    it); no working hours when the export's attempt times are placeholders (``limits.attempt_time``);
    MQLs outside them counted only when the SLA sets no business hours (its windows are clock hours)."""
    zone = (business_hours or {}).get("timezone", "UTC")
    grid = attempts_by_hour_weekday(crm, start, stop, timezone=zone, confidence=confidence)
    worked = None if crm.limits().get("attempt_time") else working_hours(grid)
    times = AttemptTimes(grid, worked, zone)
    if worked and not business_hours:
        times.outside, times.mqls = mqls_outside_hours(crm, start, stop, worked, zone)
    return times


def clock_hours_note(times: AttemptTimes) -> str:
    """:func:`clock_hours_sentence` for the period's MQLs, or nothing when the SLA already counts
    business hours or the team works around the clock."""
    if times.outside is None:
        return ""
    return clock_hours_sentence(times.worked, times.outside, times.mqls, times.zone)
