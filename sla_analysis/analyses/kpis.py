"""Shared SLA KPIs (seeds 001, 002 and 004): monthly goals, lead velocity, funnel and contact rates,
attempts and time to SQL, the dollar value of SQLs and SDR capacity.

Sources. Seed 004 (``004_97f16df42cf8f618.txt``, "How to Create an Effective Sales & Marketing
SLA") gives the goal grid (*Leads Sourced 300, Qualified Leads Created 250, MQLs Created 125, MQLs
Managed 525, SQLs Created 32* a month), the SDR capacity protocol (*a universe of 200-400 qualified
leads, actively pursuing 150-200 MQLs, MQL conversion rate 8%, 15 new SQLs a month*) and the KPI
list (*lead velocity; contact and conversation rates; # of contacts required to move an MQL to
SQL; $ value of SQLs sourced (contribution to pipeline); time from MQL to SQL; MQL:SQL, MQL:Proposal
and MQL:Deals closed rates*). Seed 001 (``001_f493cf3f1a13d7c7.txt``) asks for conversion rates
of leads, MQLs and SQLs and the number of contact attempts; seed 002 (``002_c13a536e74a07be4.txt``)
for monthly MQL deliveries tracked against the goal. Lead velocity rate follows
``/work/shared/domain-notes.md``: (qualified leads this month - last month) / last month.

Definitions used throughout (timestamps are naive UTC, periods half-open ``[start, stop)``):

* **MQL moment** = ``mql_at`` (``created_at`` when the export has no ``mql_at`` column; a lead with
  an empty ``mql_at`` is not an MQL).
* **SQL moment** = ``min(sql_at, created_at of the lead's first deal)``, NULLs skipped: ``sql_at``
  when the export has it, and the first deal's creation when it has no ``sql_at`` (column absent or
  value empty). A deal is only opened for a lead sales accepted, so the SQL moment is never later
  than the first deal. Results say which source was used (``sql_moment`` notes).
* **Outcomes as of** ``as_of``: only deals created before ``as_of`` count; a deal counts as won
  (lost) when its stage is won (lost) and it closed before ``as_of`` or has no ``closed_at``
  (as in :mod:`sla_analysis.analyses.cohorts`); a proposal counts when ``proposal_at < as_of``. Recent MQLs
  have not settled yet, so their rates are lower bounds: pass a settled window as well.
* **Active MQL** at time ``t``: ``mql_at <= t < min(SQL moment, mql_at + active_days)``. The data
  contract has no disqualification or recycle field: staleness (``active_days``) stands in for it.

Every rate comes with its successes, ``n`` and a Wilson interval (:mod:`sla_analysis.analyses.stats`).
Per-lead tables stay Ibis expressions in the engine; only one row per month, SDR or metric
reaches pandas. An empty period gives zeros and NaN, never an exception.
"""
from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from typing import Mapping

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import numpy as np
import pandas as pd
from statsmodels.duration.survfunc import SurvfuncRight

from sla_analysis.analyses.stats import mean_interval, rate_table, shrunk_rates, wilson_interval
from sla_analysis.formats import money
from sla_analysis.io.engine import CRM
from sla_analysis.results import Result

DAYS_PER_MONTH = 365.25 / 12
SECONDS_PER_DAY = 86_400.0
# seed 004's capacity protocol for one SDR
ACTIVE_MQLS_BAND = (150.0, 200.0)
QUALIFIED_LEADS_BAND = (200.0, 400.0)
SQLS_PER_MONTH_BAND = (15.0, None)  # "should produce 15 new SQLs/month": a floor, no ceiling
MQL_CONVERSION = 0.08
SQLS_PER_SDR = 15.0
# goals_vs_actuals: goal key -> monthly_counts column; mqls_managed is a stock, the others flows
GOAL_COLUMNS = {
    "leads_sourced": "leads_sourced",
    "qualified_leads": "qualified_leads",
    "mqls_created": "mqls_created",
    "mqls_managed": "mqls_managed",
    "sqls": "sqls",
}
STOCK_GOALS = ("mqls_managed",)
#: the goals in a sales leader's words (the page's "Measure" column)
GOAL_NAMES = {"leads_sourced": "Leads sourced", "qualified_leads": "Qualified leads", "mqls_created": "MQLs created",
              "mqls_managed": "MQLs being worked", "sqls": "SQLs"}


# --------------------------------------------------------------------------- small helpers

def _ts(value) -> datetime:
    """A naive UTC ``datetime`` from a datetime, date or pandas Timestamp (aware values converted)."""
    if isinstance(value, date) and not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    ts = pd.Timestamp(value)
    return (ts.tz_convert("UTC").tz_localize(None) if ts.tzinfo else ts).to_pydatetime()


def _month_start(value: datetime, shift: int = 0) -> datetime:
    total = value.year * 12 + value.month - 1 + shift
    return datetime(total // 12, total % 12 + 1, 1)


def n_months(start, stop) -> float:
    """Length of ``[start, stop)`` in months: whole calendar months when both ends are month
    starts, else days / (365.25 / 12)."""
    start, stop = _ts(start), _ts(stop)
    if stop <= start:
        return 0.0
    if start == _month_start(start) and stop == _month_start(stop):
        return float((stop.year - start.year) * 12 + stop.month - start.month)
    return (stop - start).total_seconds() / SECONDS_PER_DAY / DAYS_PER_MONTH


def month_grid(start, stop, previous_months: int = 0) -> pd.DataFrame:
    """Calendar months overlapping ``[start, stop)``, plus ``previous_months`` full months before:
    ``month`` (YYYY-MM), ``start``/``stop`` (clipped to the period for its own months), ``days``,
    ``in_period`` and ``partial`` (a period month cut by ``start`` or ``stop``)."""
    start, stop = _ts(start), _ts(stop)
    rows = []
    m = _month_start(start, -int(previous_months))
    while m < stop:
        nxt = _month_start(m, 1)
        inside = nxt > start
        a, b = (max(m, start), min(nxt, stop)) if inside else (m, nxt)
        rows.append({"month": f"{m.year:04d}-{m.month:02d}", "start": a, "stop": b,
                     "days": (b - a).total_seconds() / SECONDS_PER_DAY, "in_period": inside,
                     "partial": inside and (a != m or b != nxt)})
        m = nxt
    cols = ["month", "start", "stop", "days", "in_period", "partial"]
    out = pd.DataFrame(rows, columns=cols).astype({"days": float, "in_period": bool, "partial": bool})
    out["start"] = pd.to_datetime(out["start"]).astype("datetime64[us]")
    out["stop"] = pd.to_datetime(out["stop"]).astype("datetime64[us]")
    return out


def _has(crm: CRM, table: str, column: str) -> bool:
    """The export had ``column`` in ``table`` (the canonical table also holds absent columns, empty)."""
    return crm.has(table, column) and column in crm.tables[table].columns


def _opt(crm: CRM, t: ir.Table, table: str, name: str, kind) -> ir.Value:
    """Optional column ``name`` of ``t``, or a typed NULL when the export lacked it."""
    return t[name] if _has(crm, table, name) else ibis.null(kind)


def _mql_moment(crm: CRM) -> ir.Value:
    leads = crm.leads
    return leads.mql_at if _has(crm, "leads", "mql_at") else leads.created_at


def sql_moment_note(crm: CRM) -> str:
    """In words, where the SQL moment comes from for this export."""
    if _has(crm, "leads", "sql_at"):
        return "SQL moment = sql_at (the first deal's created_at where sql_at is empty or later)"
    return "SQL moment = created_at of the lead's first deal (the export has no sql_at)"


def _none(value) -> float:
    """A scalar from the engine as float (NULL/None/NA -> NaN)."""
    return float("nan") if value is None or pd.isna(value) else float(value)


def _int(value) -> int:
    """A count from the engine as int (NULL -> 0: a sum over no rows)."""
    v = _none(value)
    return 0 if math.isnan(v) else int(v)


# --------------------------------------------------------------------------- per-lead tables

def deal_facts(crm: CRM, as_of=None) -> ir.Table:
    """One row per lead with a deal created before ``as_of`` (all deals when None): ``first_deal_at``,
    ``deals``, ``won`` / ``proposal`` (any deal won / with a proposal as of ``as_of``),
    ``closed_won`` / ``closed_lost`` (deals), ``amount`` (sum of amounts, NULL amounts skipped),
    ``amounts_missing`` (deals without an amount) and ``won_amount``."""
    d = crm.deals
    closed_at = _opt(crm, d, "deals", "closed_at", dt.timestamp)
    proposal_at = _opt(crm, d, "deals", "proposal_at", dt.timestamp)
    amount = _opt(crm, d, "deals", "amount", dt.float64)
    if as_of is not None:
        as_of = _ts(as_of)
        d = d.filter(d.created_at < as_of)
        closed = closed_at.isnull() | (closed_at < as_of)
        has_proposal = proposal_at.notnull() & (proposal_at < as_of)
    else:
        closed = ibis.literal(True)
        has_proposal = proposal_at.notnull()
    d = d.mutate(_won=closed & (d.stage == "won"), _lost=closed & (d.stage == "lost"),
                 _proposal=has_proposal, _amount=amount)
    return d.group_by("lead_id").aggregate(
        first_deal_at=d.created_at.min(),
        deals=d.count(),
        won=d._won.any(),
        proposal=d._proposal.any(),
        closed_won=d._won.sum(),
        closed_lost=d._lost.sum(),
        amount=d._amount.sum(),
        amounts_missing=d._amount.isnull().sum(),
        won_amount=d._amount.sum(where=d._won),
    )


def lead_funnel(crm: CRM, as_of=None) -> ir.Table:
    """One row per lead: ``lead_id``, ``owner_id``, ``created_at``, ``mql_at`` (MQL moment, NULL for
    non-MQLs), ``sql_at`` (SQL moment before ``as_of``, see the module docstring), ``sql_from_deal``
    (the moment came from a deal, not ``sql_at``) and the :func:`deal_facts` columns (deal flags
    False and sums 0 for leads without a deal)."""
    leads = crm.leads
    owner = _opt(crm, leads, "leads", "owner_id", dt.string)
    sql_raw = _opt(crm, leads, "leads", "sql_at", dt.timestamp)
    base = leads.select("lead_id", "created_at", owner_id=owner, mql_at=_mql_moment(crm), _sql_raw=sql_raw)
    if as_of is not None:
        as_of = _ts(as_of)
        base = base.filter(base.created_at < as_of)
        base = base.mutate(_sql_raw=ibis.ifelse(base._sql_raw < as_of, base._sql_raw, ibis.null(dt.timestamp)),
                           mql_at=ibis.ifelse(base.mql_at < as_of, base.mql_at, ibis.null(dt.timestamp)))
    facts = deal_facts(crm, as_of)
    j = base.left_join(facts, "lead_id").drop("lead_id_right")
    sql_at = ibis.least(j._sql_raw, j.first_deal_at)  # DuckDB LEAST skips NULLs
    return j.mutate(
        sql_at=sql_at,
        sql_from_deal=j.first_deal_at.notnull() & (j._sql_raw.isnull() | (j.first_deal_at < j._sql_raw)),
        deals=j.deals.fill_null(0), won=j.won.fill_null(False), proposal=j.proposal.fill_null(False),
        closed_won=j.closed_won.fill_null(0), closed_lost=j.closed_lost.fill_null(0),
        amount=j.amount.fill_null(0.0), amounts_missing=j.amounts_missing.fill_null(0),
        won_amount=j.won_amount.fill_null(0.0),
    ).drop("_sql_raw")


def period_mqls(crm: CRM, start, stop, as_of) -> ir.Table:
    """:func:`lead_funnel` (as of ``as_of``) for the MQLs whose MQL moment lies in ``[start, stop)``."""
    t = lead_funnel(crm, as_of)
    return t.filter(t.mql_at.notnull() & (t.mql_at >= _ts(start)) & (t.mql_at < _ts(stop)))


# --------------------------------------------------------------------------- monthly counts

def _count_by_month(t: ir.Table, col: str, grid: ir.Table, bounds: tuple, name: str, where=None,
                    value: ir.Value | None = None) -> pd.DataFrame:
    """Rows of ``t`` with ``t[col]`` in each grid month's ``[start, stop)``: count (or sum of ``value``)."""
    t = t.mutate(_t=t[col], _v=value if value is not None else ibis.literal(1.0))
    if where is not None:
        t = t.filter(where(t))
    lo, hi = bounds
    t = t.filter(t._t.notnull() & (t._t >= lo) & (t._t < hi))
    j = t.join(grid, [t._t >= grid.start, t._t < grid.stop])
    agg = j.group_by("month").aggregate(**{name: j._v.sum() if value is not None else j.count()})
    return agg.to_pandas()


def monthly_counts(crm: CRM, start, stop, previous_months: int = 1, active_days: int = 90,
                   qualified_min_score: float | None = None) -> pd.DataFrame:
    """Per calendar month of ``[start, stop)`` (and ``previous_months`` full months before it, for the
    lead velocity rate): seed 004's goal-grid actuals and the funnel's monthly events.

    * ``leads_sourced``: leads with ``created_at`` in the month (``leads_marketing_sourced``: those
      with ``marketing_sourced`` true or empty, the contract's default);
    * ``qualified_leads``: leads created in the month with ``score >= qualified_min_score``; NaN
      (see ``attrs["notes"]``) without that argument or a score column: the contract has no
      qualified-lead stage of its own (seed 004's "passed the Quick Test");
    * ``mqls_created``: MQL moment in the month;
    * ``mqls_managed``: MQLs active at some time in the month (module docstring): MQL moment before
      the month's end, ``min(SQL moment, MQL moment + active_days)`` after its start;
    * ``sqls``: SQL moment in the month (how it is dated: ``attrs["notes"]["sqls"]``);
    * ``opportunities``: deals created; ``proposals``: deals with ``proposal_at`` in the month;
      ``won_deals``/``won_revenue``: deals won with ``closed_at`` in the month (NaN with a note
      when the export lacks the dating column).

    Events are counted as recorded (no ``as_of`` cut). The period's own months are clipped to
    ``[start, stop)`` (``partial`` flags a cut month); ``covered`` says whether the month overlaps
    the data's dates at all (from its first lead to its last event): a month outside holds zeros
    the data cannot vouch for. ``attrs["notes"]`` maps a column to the
    reason it is NaN, plus ``sqls`` -> how SQLs were dated.
    """
    grid_pd = month_grid(start, stop, previous_months)
    notes: dict[str, str] = {"sqls": sql_moment_note(crm)}
    out = grid_pd.copy()
    columns = ["leads_sourced", "leads_marketing_sourced", "qualified_leads", "mqls_created", "mqls_managed",
               "sqls", "opportunities", "proposals", "won_deals", "won_revenue"]
    for c in columns:
        out[c] = 0.0
    if not len(grid_pd):
        out.attrs["notes"] = notes
        return out
    grid = ibis.memtable(grid_pd[["month", "start", "stop"]])
    bounds = (grid_pd.start.min().to_pydatetime(), grid_pd.stop.max().to_pydatetime())
    leads, deals = crm.leads, crm.deals
    parts = [_count_by_month(leads, "created_at", grid, bounds, "leads_sourced")]
    if _has(crm, "leads", "marketing_sourced"):
        parts.append(_count_by_month(leads, "created_at", grid, bounds, "leads_marketing_sourced",
                                     where=lambda t: t.marketing_sourced.fill_null(True)))
    else:
        parts.append(_count_by_month(leads, "created_at", grid, bounds, "leads_marketing_sourced"))
    score_ok = qualified_min_score is not None and _has(crm, "leads", "score")
    if score_ok:
        q = float(qualified_min_score)
        parts.append(_count_by_month(leads, "created_at", grid, bounds, "qualified_leads",
                                     where=lambda t: t.score.notnull() & (t.score >= q)))
    funnel = lead_funnel(crm)
    parts.append(_count_by_month(funnel, "mql_at", grid, bounds, "mqls_created"))
    parts.append(_count_by_month(funnel, "sql_at", grid, bounds, "sqls"))
    parts.append(_count_by_month(deals, "created_at", grid, bounds, "opportunities"))
    if _has(crm, "deals", "proposal_at"):
        parts.append(_count_by_month(deals, "proposal_at", grid, bounds, "proposals"))
    if _has(crm, "deals", "closed_at"):
        won = lambda t: t.stage == "won"  # noqa: E731
        parts.append(_count_by_month(deals, "closed_at", grid, bounds, "won_deals", where=won))
        if _has(crm, "deals", "amount"):
            parts.append(_count_by_month(deals, "closed_at", grid, bounds, "won_revenue", where=won,
                                         value=deals.amount.fill_null(0.0)))
    # MQLs managed: active at some time in the month
    m = funnel.filter(funnel.mql_at.notnull())
    end = m.mql_at + ibis.interval(days=int(active_days))
    m = m.mutate(_end=ibis.least(m.sql_at, end))
    j = m.join(grid, [m.mql_at < grid.stop, m._end > grid.start])
    parts.append(j.group_by("month").aggregate(mqls_managed=j.count()).to_pandas())
    for part in parts:
        name = [c for c in part.columns if c != "month"][0]
        out[name] = out.month.map(part.set_index("month")[name]).fillna(0).astype(float)
    if not score_ok:
        out["qualified_leads"] = np.nan
        notes["qualified_leads"] = ("the data contract has no qualified-lead stage; pass qualified_min_score "
                                    "to count leads scored at least that" if _has(crm, "leads", "score")
                                    or qualified_min_score is None else "the export has no score column")
    if not _has(crm, "deals", "proposal_at"):
        out["proposals"] = np.nan
        notes["proposals"] = "the export has no proposal_at column"
    if not _has(crm, "deals", "closed_at"):
        out[["won_deals", "won_revenue"]] = np.nan
        notes["won_deals"] = notes["won_revenue"] = "the export has no closed_at column: won deals cannot be dated"
    elif not _has(crm, "deals", "amount"):
        out["won_revenue"] = np.nan
        notes["won_revenue"] = "the export has no amount column"
    if not _has(crm, "leads", "mql_at"):
        notes["mqls_created"] = "the export has no mql_at: every lead counts as an MQL at created_at"
    first, last = crm.first_event_at(), crm.last_event_at()
    out["covered"] = ((out.stop > first) & (out.start < last)) if first is not None and last is not None else False
    out.attrs["notes"] = notes
    out.attrs["active_days"] = int(active_days)
    return out


def lead_velocity_rate(monthly: pd.DataFrame, column: str = "mqls_created", confidence: float = 0.95,
                       data_end: datetime | None = None) -> pd.DataFrame:
    """Lead velocity rate (domain notes; seed 004's "lead velocity"): month-over-month growth of
    qualified leads **per day**, ``LVR_m = (Q_m / d_m) / (Q_{m-1} / d_{m-1}) - 1``, with ``Q`` = MQLs
    created (the contract's qualification stage; pass ``column`` for another count) and ``d`` the
    days of the month the data covers (``days`` of :func:`monthly_counts`, cut at ``data_end``), so
    February's 29 days or a half-covered month do not read as a fall. ``lvr_raw`` is the plain
    ``(Q_m - Q_{m-1}) / Q_{m-1}``.

    Interval: given ``Q_m + Q_{m-1}``, ``Q_m`` is binomial with ``p = λ_m d_m / (λ_m d_m + λ_{m-1}
    d_{m-1})`` (Poisson counts), so a Wilson interval ``(p_lo, p_hi)`` for ``p`` gives
    ``LVR ∈ (p_lo/(1-p_lo) x d_{m-1}/d_m - 1, p_hi/(1-p_hi) x d_{m-1}/d_m - 1)``.
    Rows: the period's months (``in_period``); NaN with a note when the month before had none or a
    month lies after ``data_end`` (no data, not -100%). ``partial`` months (cut by the period) are flagged.
    """
    mon = monthly.sort_values("month").reset_index(drop=True)
    cur = mon[column].astype(float)
    labels = pd.PeriodIndex(mon["month"], freq="M") if len(mon) else pd.PeriodIndex([], freq="M")
    if "days" in mon and "start" in mon and "stop" in mon:
        starts, stops = pd.to_datetime(mon["start"]), pd.to_datetime(mon["stop"])
        if data_end is not None:
            stops = stops.clip(upper=pd.Timestamp(data_end))
        days = ((stops - starts).dt.total_seconds() / SECONDS_PER_DAY).clip(lower=0).to_numpy(float)
    else:
        days = np.asarray([p.days_in_month for p in labels], dtype=float)
    days = pd.Series(days)
    cur = cur.where(days > 0)  # a month the data does not reach has no count
    prev, prev_days = cur.shift(1), days.shift(1)
    # a month's predecessor must be the calendar month before it
    consecutive = pd.Series(np.r_[False, (labels[1:] - labels[:-1]) == labels.freq] if len(mon) else [], dtype=bool)
    prev = prev.where(consecutive)
    out = pd.DataFrame({"month": mon["month"], "current": cur, "previous": prev, "days": days,
                        "previous_days": prev_days})
    ok = (out.previous > 0) & out.current.notna()
    scale = (out.previous_days / out.days.where(out.days > 0)).where(ok, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["lvr"] = np.where(ok, out.current / out.previous.where(ok, 1) * scale - 1, np.nan)
        out["lvr_raw"] = np.where(ok, (out.current - out.previous) / out.previous.where(ok, 1), np.nan)
    total = (out.current + out.previous).where(ok, 0).fillna(0)
    p_lo, p_hi = wilson_interval(out.current.where(ok, 0).fillna(0), total, confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["lvr_low"] = np.where(ok, p_lo / (1 - p_lo) * scale - 1, np.nan)
        out["lvr_high"] = np.where(ok, np.where(p_hi < 1, p_hi / (1 - p_hi) * scale - 1, np.inf), np.nan)
    out["partial"] = mon["partial"].to_numpy() if "partial" in mon else False
    out["note"] = np.where(out.current.isna(), "after the end of the data",
                           np.where(out.previous.isna(), "no count for the month before",
                                    np.where(~ok, "no MQLs the month before", "")))
    if "in_period" in mon:
        out = out.loc[mon["in_period"].astype(bool).to_numpy()]
    return out.reset_index(drop=True)


# --------------------------------------------------------------------------- funnel rates

_FUNNEL_NOTES = {
    "mql_to_sql": "SQLs / MQLs",
    "mql_to_opportunity": "MQLs with a deal / MQLs",
    "mql_to_proposal": "MQLs with a proposal / MQLs",
    "mql_to_won": "MQLs with a won deal / MQLs",
    "deal_win_rate": "won / (won + lost) deals closed as of as_of",
}


def _funnel_counts(crm: CRM, start, stop, as_of) -> dict:
    t = period_mqls(crm, start, stop, as_of)
    row = t.aggregate(
        mqls=t.count(), sqls=t.sql_at.notnull().sum(), opportunities=(t.deals > 0).sum(),
        proposals=t.proposal.sum(), won=t.won.sum(),
        closed_won=t.closed_won.sum(), closed_lost=t.closed_lost.sum(),
    ).to_pandas().iloc[0]
    return {k: _int(v) for k, v in row.items()}


def funnel_rates(crm: CRM, start, stop, as_of, confidence: float = 0.95, settled_start=None,
                 settled_stop=None, min_n: int = 30) -> pd.DataFrame:
    """Seed 004's MQL:SQL, MQL:Proposal and MQL:Deals-closed rates (plus MQL:opportunity and the win
    rate of closed deals) among the MQLs of ``[start, stop)``, outcomes as of ``as_of``.

    ``rate = successes / n`` with ``n`` = MQLs (closed deals for ``deal_win_rate``), Wilson interval
    and ``small_sample`` (``n < min_n``). Recent MQLs have not settled, so the period's rates
    understate; with ``settled_start``/``settled_stop`` the same rates are given for MQLs of that
    earlier window (cohort ``settled``), also as of ``as_of``. ``mql_to_proposal`` is NaN when the
    export has no ``proposal_at``.
    """
    cohorts = [("period", start, stop)]
    if settled_start is not None and settled_stop is not None:
        cohorts.append(("settled", settled_start, settled_stop))
    rows = []
    for name, a, b in cohorts:
        c = _funnel_counts(crm, a, b, as_of)
        base = {"cohort": name, "window_start": _ts(a), "window_stop": _ts(b), "mqls": c["mqls"],
                "not_yet_sql": c["mqls"] - c["sqls"]}
        for metric, k in (("mql_to_sql", "sqls"), ("mql_to_opportunity", "opportunities"),
                          ("mql_to_proposal", "proposals"), ("mql_to_won", "won")):
            rows.append({**base, "metric": metric, "successes": c[k], "n": c["mqls"], "note": _FUNNEL_NOTES[metric]})
        rows.append({**base, "metric": "deal_win_rate", "successes": c["closed_won"],
                     "n": c["closed_won"] + c["closed_lost"], "note": _FUNNEL_NOTES["deal_win_rate"]})
    out = rate_table(pd.DataFrame(rows), "successes", "n", confidence, min_n, prefix="rate")
    if not _has(crm, "deals", "proposal_at"):
        sel = out.metric == "mql_to_proposal"
        out.loc[sel, ["successes", "rate", "rate_low", "rate_high"]] = np.nan
        out.loc[sel, "note"] = "not available: the export has no proposal_at column"
    outcomes = crm.profile.unmet("won_deals", "lost_deals")
    if outcomes:  # wins without losses (or the reverse) are not a win rate of 100% (or 0%)
        sel = out.metric == "deal_win_rate"
        out.loc[sel, ["successes", "rate", "rate_low", "rate_high"]] = np.nan
        out.loc[sel, "note"] = f"not available: {outcomes}"
    empty = out.n == 0
    out.loc[empty, "note"] = out.loc[empty, "note"] + " (no MQLs / deals in the window)"
    out.attrs["sql_moment"] = sql_moment_note(crm)
    out.attrs["as_of"] = _ts(as_of)
    return out[["cohort", "window_start", "window_stop", "metric", "successes", "n", "rate", "rate_low",
                "rate_high", "small_sample", "mqls", "not_yet_sql", "note"]]


# --------------------------------------------------------------------------- contact rates

def contact_rates(crm: CRM, start, stop, confidence: float = 0.95, conversation_seconds: float = 120.0,
                  min_n: int = 30, call_type: str = "call") -> pd.DataFrame:
    """Seed 004's contact and conversation rates over the calls (``type == call_type``) made in
    ``[start, stop)``:

    * ``contact_rate`` = calls with outcome ``connected`` / calls with an outcome;
    * ``conversation_rate`` = connected calls lasting ``duration_s >= conversation_seconds`` / calls
      with an outcome (a connected call without a duration is not counted as a conversation:
      ``connected_no_duration`` says how many);
    * ``conversations_per_connect`` = conversations / connected calls.

    Each with successes, n, Wilson interval and ``small_sample``. NaN with the reason in ``note``
    when the export has no ``outcome`` or does not record outcomes call by call (``outcomes`` in
    ``CRM.limits()``; all three), or no ``duration_s`` (the last two), or there are no calls in the
    period. ``calls`` = all calls in the period.
    """
    a = crm.activities
    a = a.filter((a.type == call_type) & (a.occurred_at >= _ts(start)) & (a.occurred_at < _ts(stop)))
    has_outcome, has_duration = _has(crm, "activities", "outcome"), _has(crm, "activities", "duration_s")
    outcome = _opt(crm, a, "activities", "outcome", dt.string)
    duration = _opt(crm, a, "activities", "duration_s", dt.float64)
    a = a.mutate(_out=outcome.lower(), _dur=duration)
    conn = a._out == "connected"
    conv = conn & a._dur.notnull() & (a._dur >= float(conversation_seconds))
    r = a.aggregate(calls=a.count(), with_outcome=a._out.notnull().sum(), connected=conn.sum(),
                    conversations=conv.sum(), connected_no_duration=(conn & a._dur.isnull()).sum()).to_pandas().iloc[0]
    c = {k: _int(v) for k, v in r.items()}
    rows = [
        {"metric": "contact_rate", "successes": c["connected"], "n": c["with_outcome"],
         "note": "connected calls / calls with an outcome"},
        {"metric": "conversation_rate", "successes": c["conversations"], "n": c["with_outcome"],
         "note": f"connected calls >= {conversation_seconds:g} s / calls with an outcome"},
        {"metric": "conversations_per_connect", "successes": c["conversations"], "n": c["connected"],
         "note": f"connected calls >= {conversation_seconds:g} s / connected calls"},
    ]
    out = rate_table(pd.DataFrame(rows), "successes", "n", confidence, min_n, prefix="rate")
    out["calls"] = c["calls"]
    out["connected_no_duration"] = c["connected_no_duration"]
    out["conversation_seconds"] = float(conversation_seconds)
    reason = None
    if "outcomes" in crm.limits():
        reason, unavailable = f"not available: {crm.limits()['outcomes']}", out.metric.notna()
    elif not has_outcome:
        reason, unavailable = "not available: the export has no outcome column", out.metric.notna()
    elif not has_duration:
        reason, unavailable = "not available: the export has no duration_s column", out.metric != "contact_rate"
    if reason:
        out.loc[unavailable, ["successes", "rate", "rate_low", "rate_high"]] = np.nan
        out.loc[unavailable, "note"] = reason
    if c["calls"] == 0:
        out["note"] = out["note"].where(out["note"].str.startswith("not available"), "no calls in the period")
    return out[["metric", "successes", "n", "rate", "rate_low", "rate_high", "small_sample", "calls",
                "connected_no_duration", "conversation_seconds", "note"]]


# --------------------------------------------------------------------------- attempts and time to SQL

def attempts_to_sql(crm: CRM, start, stop, as_of, confidence: float = 0.95) -> dict:
    """Seed 004's "# of contacts required to move an MQL to SQL": among MQLs of ``[start, stop)``
    that became SQL before ``as_of``, the lead's activities (any type) up to and including the SQL
    moment (the converting attempt counts; later touches belong to the deal).

    Returns ``n`` (SQLs), ``mean`` with its t-interval, ``median``, ``p90``, ``zero_attempts``
    (SQLs with no logged attempt, included as 0), ``mqls`` and ``not_yet_sql`` (MQLs without an SQL
    by ``as_of``: not counted, the figure describes converters only) and ``sql_moment``. Without
    contact attempts in the export the figures are NaN and ``note`` says why.
    """
    t = period_mqls(crm, start, stop, as_of)
    sqls = t.filter(t.sql_at.notnull()).select("lead_id", "sql_at")
    why = crm.limits().get("attempts")
    if why:  # no attempts recorded: their number is unknown, not 0
        n, nan = _int(sqls.count().execute()), float("nan")
        mqls = _int(t.count().execute())
        return {"n": n, "mean": nan, "mean_low": nan, "mean_high": nan, "median": nan, "p90": nan,
                "zero_attempts": None, "mqls": mqls, "not_yet_sql": mqls - n, "sql_moment": sql_moment_note(crm),
                "note": why}
    a = crm.activities
    a = a.filter(a.occurred_at < _ts(as_of))
    j = a.join(sqls, "lead_id")
    j = j.filter(j.occurred_at <= j.sql_at)
    per = j.group_by("lead_id").aggregate(attempts=j.count())
    s = sqls.left_join(per, "lead_id").drop("lead_id_right")
    x = s.attempts.fill_null(0).cast("float64")
    r = s.aggregate(n=s.count(), total=x.sum(), sq=(x * x).sum(), median=x.quantile(0.5), p90=x.quantile(0.9),
                    zero=(x == 0).sum()).to_pandas().iloc[0]
    mqls = _int(t.count().execute())
    n = _int(r["n"])
    mean, lo, hi = mean_interval(_none(r["total"]) if n else 0.0, _none(r["sq"]) if n else 0.0, n, confidence)
    return {"n": n, "mean": float(mean), "mean_low": float(lo), "mean_high": float(hi),
            "median": _none(r["median"]) if n else float("nan"), "p90": _none(r["p90"]) if n else float("nan"),
            "zero_attempts": int(_none(r["zero"])) if n else 0, "mqls": mqls, "not_yet_sql": mqls - n,
            "sql_moment": sql_moment_note(crm),
            "note": "" if n else "no MQL of the period became an SQL by as_of"}


def mql_to_sql_time(crm: CRM, start, stop, as_of, confidence: float = 0.95) -> dict:
    """Seed 004's "time from MQL to SQL": days from the MQL moment to the SQL moment among MQLs of
    ``[start, stop)`` that became SQL before ``as_of``; an SQL dated before its MQL moment counts as
    0 days (``sql_before_mql`` says how many).

    Returns ``n``, ``median_days``, ``p90_days``, ``mean_days`` (t-interval) over the converters,
    ``mqls`` and ``not_yet_sql``; converters only look faster than the MQLs will turn out, so also
    :func:`sql_time_km`'s ``km_median_days`` over *every* MQL of the period, those not yet SQL
    censored at ``as_of``.
    """
    t = period_mqls(crm, start, stop, as_of)
    s = t.filter(t.sql_at.notnull())
    why = crm.limits().get("timeline") or crm.limits().get("mql_time")
    if why:  # one date for every event, or MQL moments not recorded: the days between are unknown, not 0
        nan, mqls = float("nan"), _int(t.count().execute())
        n = _int(s.count().execute())
        return {"n": n, "median_days": nan, "km_median_days": nan, "km_low": nan, "km_high": nan, "km_share_sql": nan,
                "km_horizon_days": nan, "p90_days": nan,
                "mean_days": nan, "mean_low": nan, "mean_high": nan, "sql_before_mql": 0, "mqls": mqls,
                "not_yet_sql": mqls - n, "sql_moment": sql_moment_note(crm), "note": f"not available: {why}"}
    raw = (s.sql_at.epoch_seconds() - s.mql_at.epoch_seconds()) / SECONDS_PER_DAY
    days = ibis.greatest(raw, 0.0)
    r = s.aggregate(n=s.count(), total=days.sum(), sq=(days * days).sum(), median=days.quantile(0.5),
                    p90=days.quantile(0.9), before=(raw < 0).sum()).to_pandas().iloc[0]
    mqls = _int(t.count().execute())
    n = _int(r["n"])
    mean, lo, hi = mean_interval(_none(r["total"]) if n else 0.0, _none(r["sq"]) if n else 0.0, n, confidence)
    return {"n": n, "median_days": _none(r["median"]) if n else float("nan"), **sql_time_km(t, as_of, confidence),
            "p90_days": _none(r["p90"]) if n else float("nan"),
            "mean_days": float(mean), "mean_low": float(lo), "mean_high": float(hi),
            "sql_before_mql": int(_none(r["before"])) if n else 0, "mqls": mqls, "not_yet_sql": mqls - n,
            "sql_moment": sql_moment_note(crm),
            "note": "" if n else "no MQL of the period became an SQL by as_of"}


def _conditional_median(times: np.ndarray, events: np.ndarray, weights: np.ndarray) -> tuple[float, float]:
    """(the first time the KM share converted reaches half its final value, that final value)."""
    sf = SurvfuncRight(times, events, freq_weights=weights)
    converted = 1 - sf.surv_prob
    share = float(converted[-1])
    return float(sf.surv_times[np.argmax(converted >= share / 2 - 1e-12)]), share


def sql_time_km(mqls: ir.Table, as_of, confidence: float = 0.95, n_boot: int = 200, seed: int = 0) -> dict:
    """Time from MQL to SQL with censoring, over ``mqls`` (a :func:`period_mqls` table): an SQL is
    an event at ``max(sql_at - mql_at, 0)``, an MQL without one is censored at ``as_of - mql_at``
    (Kaplan-Meier, statsmodels' ``SurvfuncRight``; durations rounded to the minute and counted per
    (duration, event) in the engine, then weighted with ``freq_weights``).

    Most MQLs never become SQLs, so the median of all MQLs is rarely reached; the figure is the
    median among the MQLs that become SQLs within the follow-up: the first time ``t`` with
    ``F(t) >= F(H) / 2``, ``F = 1 - S`` the KM share converted and ``H`` the longest follow-up.
    Unlike the converters-only median it does not over-weight quick converters of recent MQLs.
    Returns ``km_median_days`` with ``km_low``/``km_high``, ``km_share_sql`` (``F(H)``),
    ``km_horizon_days`` (``H``); NaN without any SQL. The interval is a percentile bootstrap over
    MQLs (``n_boot`` Poisson-weighted resamples of the (duration, event) counts, the whole estimate
    refitted each time, fixed ``seed``): the median's threshold ``F(H) / 2`` is itself estimated,
    so Greenwood's pointwise interval would not cover it."""
    end = ibis.literal(_ts(as_of))
    mqls = mqls.filter(mqls.mql_at < end)  # not yet MQLs at as_of: not at risk
    event = mqls.sql_at.notnull()
    stop = ibis.cases((event, mqls.sql_at), else_=end)
    raw = (stop.epoch_seconds() - mqls.mql_at.epoch_seconds()) / 60.0
    minutes = ibis.greatest(raw, 0.0).round(0)
    t = mqls.mutate(_m=minutes, _e=event.cast("int32").cast("int64"))
    # ordered, so the bootstrap draws the same weights per (duration, event) on every engine
    agg = t.group_by(["_m", "_e"]).aggregate(n=t.count()).to_pandas().sort_values(["_m", "_e"], ignore_index=True)
    nan = float("nan")
    if not len(agg) or agg._e.sum() == 0:
        return {"km_median_days": nan, "km_low": nan, "km_high": nan, "km_share_sql": nan, "km_horizon_days": nan}
    times, events, counts = agg._m.to_numpy(float) / (24 * 60), agg._e.to_numpy(int), agg.n.to_numpy(float)
    median, share = _conditional_median(times, events, counts)
    rng = np.random.default_rng(seed)
    boots = []
    for _ in range(n_boot):
        w = rng.poisson(counts).astype(float)
        keep = w > 0
        if (w[keep] * events[keep]).sum() > 0:
            boots.append(_conditional_median(times[keep], events[keep], w[keep])[0])
    alpha = 1 - confidence
    lo, hi = (np.quantile(boots, [alpha / 2, 1 - alpha / 2]) if boots and len(boots) >= n_boot // 2 else (nan, nan))
    return {"km_median_days": median, "km_low": float(lo), "km_high": float(hi), "km_share_sql": share,
            "km_horizon_days": float(agg._m.max() / (24 * 60))}


def win_rate_by(crm: CRM, by: str, start, stop, as_of, confidence: float = 0.95, min_n: int = 30) -> Result:
    """The usual sales win rate per ``by`` group of the deal's lead (``owner_id`` for the rep,
    ``source``, ``segment``): among deals closed in ``[start, stop)`` (``closed_at``, before
    ``as_of``), ``win_rate = won / (won + lost)`` with a Wilson interval; open deals are not losses.
    ``win_rate_shrunk``: empirical-Bayes shrinkage toward the overall win rate
    (:func:`sla_analysis.analyses.stats.shrunk_rates`), what the rows are ordered by (small groups,
    ``closed < min_n``, last and flagged: not ranked). An empty value is its own group ``(none)``.
    A ``Result``: the table, or absent when the export lacks ``closed_at`` or the ``by`` column, or
    records no won or no lost deals (the export's profile: a win rate of 100% would stand for
    "losses not exported")."""
    outcomes = crm.profile.unmet("won_deals", "lost_deals")  # a count of wins alone is not a win rate
    if not _has(crm, "deals", "closed_at") or not _has(crm, "leads", by) or outcomes:
        return Result.absent(outcomes if outcomes else f"the leads have no {by} column" if not _has(crm, "leads", by)
                             else "the deals have no closed_at column: closed deals cannot be dated")
    d, leads = crm.deals, crm.leads
    end = min(_ts(stop), _ts(as_of))
    d = d.filter(d.stage.isin(["won", "lost"]) & d.closed_at.notnull() & (d.closed_at >= _ts(start))
                 & (d.closed_at < end))
    j = d.join(leads.select("lead_id", _g=leads[by].cast("string")), "lead_id")
    agg = j.group_by(group=j._g.fill_null("(none)")).aggregate(
        closed=j.count(), won=(j.stage == "won").sum()).to_pandas().rename(columns={"group": by})
    agg = agg.astype({"closed": float, "won": float})
    agg["lost"] = agg.closed - agg.won
    out = rate_table(agg, "won", "closed", confidence, min_n, prefix="win_rate")
    out["win_rate_shrunk"] = shrunk_rates(out.won, out.closed)
    cols = [by, "closed", "won", "lost", "win_rate", "win_rate_low", "win_rate_high", "win_rate_shrunk", "small_sample"]
    return Result.of(ranked_win_rates(out, by)[cols])


def ranked_win_rates(out: pd.DataFrame, by: str) -> pd.DataFrame:
    """Rows ordered large groups first, then by the adjusted rate (``win_rate_shrunk``, high to
    low); when the adjusted rates all lie within :data:`TIED_SPREAD` the data separates no group, so
    the rows are listed by name alone and ``attrs["not_separated"]`` is set."""
    shrunk = out.win_rate_shrunk.dropna()
    tied = len(shrunk) > 1 and float(shrunk.max() - shrunk.min()) < TIED_SPREAD
    out = (out.sort_values(by) if tied else
           out.sort_values(["small_sample", "win_rate_shrunk", by], ascending=[True, False, True], na_position="last"))
    out = out.reset_index(drop=True)
    out.attrs["not_separated"] = tied
    return out


#: adjusted rates closer than this (a tenth of a point) rank nothing: the groups are listed by name
TIED_SPREAD = 0.001


def win_rate_columns(table: pd.DataFrame) -> list[str]:
    """What page 05 shows of a win-rate table: the adjusted rate only when it ranks something."""
    return [table.columns[0], "closed", "won", "win_rate", *([] if table.attrs.get("not_separated") else ["win_rate_shrunk"])]


def win_rate_note(table: pd.DataFrame, label: str, min_n: int = 30) -> str:
    """Under a win-rate table: how its rows are ordered. Ranked on the adjusted rate; or, when every
    adjusted rate comes to the same figure (``attrs["not_separated"]``), listed by name because the
    differences are within chance."""
    if not len(table):
        return ""
    if table.attrs.get("not_separated"):
        return (f"With {int(table.closed.min()):,} to {int(table.closed.max()):,} closed deals each, the differences between "
                f"{label}s ({table.win_rate.min():.0%} to {table.win_rate.max():.0%}) are within chance: adjusted for group "
                f"size every {label} comes to {table.win_rate_shrunk.iloc[0]:.1%}, so they are listed by name, not ranked.")
    return (f"Ranked on the win rate *adjusted for group size*, which pulls a rate from few closed deals toward the "
            f"overall rate; {label}s with fewer than {min_n} closed deals are marked and listed after the others.")


# --------------------------------------------------------------------------- value of SQLs

def _sql_cohort(crm: CRM, start, stop, as_of) -> ir.Table:
    t = lead_funnel(crm, as_of)
    return t.filter(t.sql_at.notnull() & (t.sql_at >= _ts(start)) & (t.sql_at < _ts(stop)))


def sql_value(crm: CRM, start, stop, as_of, settled_start=None, settled_stop=None,
              confidence: float = 0.95) -> dict:
    """Seed 004's "$ value of SQLs sourced (contribution to pipeline)" for the SQLs whose SQL moment
    lies in ``[start, stop)`` (before ``as_of``).

    Chosen figure, ``value`` = **pipeline value** = Σ amounts of those SQLs' deals created before
    ``as_of`` (open, won or lost): what they contributed to the pipeline, in the CRM's own amounts.
    ``value_per_sql`` = value / SQLs with a t-interval over SQLs (an SQL without a deal adds 0:
    ``sqls_without_deal``; deals without an amount add 0: ``deals_without_amount``).

    Alternative, ``expected_value`` = SQLs x won revenue per SQL of a settled window
    (``settled_start``/``settled_stop``, outcomes as of ``as_of``): seed 000's "value per MQL =
    average revenue per customer x close rate" applied one stage down; it does not trust the
    amounts of open deals. Its interval scales the t-interval of won revenue per settled SQL.
    ``won_value`` = what the period's SQLs have already won by ``as_of``. NaN (with ``note``)
    when the export has no deal amounts (its profile), or its leads end before the period.
    """
    s = _sql_cohort(crm, start, stop, as_of)
    r = s.aggregate(sqls=s.count(), deals=s.deals.sum(), without=(s.deals == 0).sum(), value=s.amount.sum(),
                    sq=(s.amount * s.amount).sum(), won=s.won_amount.sum(),
                    missing=s.amounts_missing.sum()).to_pandas().iloc[0]
    z = {k: (0.0 if math.isnan(_none(v)) else _none(v)) for k, v in r.items()}
    n = int(z["sqls"])
    mean, lo, hi = mean_interval(z["value"], z["sq"], n, confidence)
    out = {"sqls": n, "deals": int(z["deals"]), "sqls_without_deal": int(z["without"]),
           "deals_without_amount": int(z["missing"]), "value": z["value"], "value_per_sql": float(mean),
           "value_per_sql_low": float(lo), "value_per_sql_high": float(hi), "won_value": z["won"],
           "expected_value": float("nan"), "expected_value_low": float("nan"), "expected_value_high": float("nan"),
           "won_revenue_per_settled_sql": float("nan"), "settled_sqls": 0,
           "method": "pipeline value: sum of the SQLs' deal amounts", "sql_moment": sql_moment_note(crm),
           "note": "" if n else "no SQLs in the period"}
    if settled_start is not None and settled_stop is not None:
        h = _sql_cohort(crm, settled_start, settled_stop, as_of)
        q = h.aggregate(n=h.count(), won=h.won_amount.sum(), sq=(h.won_amount * h.won_amount).sum()).to_pandas().iloc[0]
        hn = _int(q["n"])
        rps, rlo, rhi = mean_interval(_none(q["won"]) if hn else 0.0, _none(q["sq"]) if hn else 0.0, hn, confidence)
        out.update(settled_sqls=hn, won_revenue_per_settled_sql=float(rps), expected_value=float(n * rps),
                   expected_value_low=float(n * rlo), expected_value_high=float(n * rhi))
    why = crm.profile.reason("amounts") or _period_outside_the_data(crm, start)
    if why:
        for k in ("value", "value_per_sql", "value_per_sql_low", "value_per_sql_high", "won_value", "expected_value",
                  "expected_value_low", "expected_value_high", "won_revenue_per_settled_sql"):
            out[k] = float("nan")
        out["note"] = f"not available: {why}"
    return out


def _period_outside_the_data(crm: CRM, start) -> str | None:
    """Why a period starting at ``start`` has no SQLs to count: the export's leads end before it."""
    ends = [crm.profile.stream_end("leads", c) for c in ("created_at", "mql_at", "sql_at")]
    last = max((e for e in ends if e is not None), default=None)
    if last is not None and last <= _ts(start):
        return f"the export's leads end on {last - timedelta(days=1):%d %b %Y}, before the period begins"
    return None


# --------------------------------------------------------------------------- SDR capacity

def band_flag(values, low: float | None, high: float | None) -> np.ndarray:
    """``under`` (< low), ``over`` (> high) or ``within`` per value; ``None`` bounds are open; NaN -> ''."""
    v = np.asarray(values, dtype=float)
    lo = -np.inf if low is None else float(low)
    hi = np.inf if high is None else float(high)
    return np.where(np.isnan(v), "", np.where(v < lo, "under", np.where(v > hi, "over", "within")))


def sdr_capacity(crm: CRM, start, stop, as_of, active_days: int = 90,
                 active_mqls_band: tuple = ACTIVE_MQLS_BAND, qualified_leads_band: tuple = QUALIFIED_LEADS_BAND,
                 sqls_band: tuple = SQLS_PER_MONTH_BAND) -> pd.DataFrame:
    """Seed 004's capacity protocol per SDR (the lead's ``owner_id``), as of ``as_of``:

    * ``active_mqls``: MQLs active at ``as_of`` (MQL moment in ``[as_of - active_days, as_of)``,
      no SQL moment or deal before ``as_of``) -> band 150-200 ("actively pursuing 150-200 MQLs");
    * ``open_leads``: leads created in ``[as_of - active_days, as_of)`` and not converted (no SQL or
      deal before ``as_of``), MQL or not -> band 200-400 ("a universe of 200-400 qualified leads");
    * ``sqls``: SQL moments in ``[start, stop)`` (before ``as_of``); ``sqls_per_month`` = sqls /
      :func:`n_months` of ``[start, min(stop, as_of))`` -> floor 15 ("15 new SQLs/month");

    each flagged ``under`` / ``within`` / ``over``. Leads without an owner form ``(none)`` (not
    flagged). Rows: every owner with a lead created in the active window or an SQL in the period.
    Empty frame with ``attrs["note"]`` when the export has no ``owner_id``. The contract has no
    disqualification field: staleness stands in for it (module docstring).
    """
    cols = ["owner_id", "open_leads", "active_mqls", "sqls", "months", "sqls_per_month",
            "open_leads_flag", "active_mqls_flag", "sqls_flag"]
    as_of_ts = _ts(as_of)
    months = n_months(start, min(_ts(stop), as_of_ts))  # SQLs are only known up to as_of
    if not _has(crm, "leads", "owner_id"):
        out = pd.DataFrame(columns=cols)
        out.attrs["note"] = "not available: the export has no owner_id column"
        return out
    t = lead_funnel(crm, as_of_ts)
    lo = as_of_ts - timedelta(days=int(active_days))
    unconverted = t.sql_at.isnull() & (t.deals == 0)
    recent = (t.created_at >= lo) & (t.created_at < as_of_ts)
    active = t.mql_at.notnull() & (t.mql_at >= lo) & (t.mql_at < as_of_ts) & unconverted
    sql_in = t.sql_at.notnull() & (t.sql_at >= _ts(start)) & (t.sql_at < _ts(stop))
    t = t.mutate(_open=recent & unconverted, _active=active, _sql=sql_in)
    t = t.filter(recent | t._active | t._sql)
    agg = t.group_by(owner_id=t.owner_id.fill_null("(none)")).aggregate(
        open_leads=t._open.sum(), active_mqls=t._active.sum(), sqls=t._sql.sum()).order_by("owner_id").to_pandas()
    for c in ("open_leads", "active_mqls", "sqls"):
        agg[c] = agg[c].fillna(0).astype(int)
    agg["months"] = months
    agg["sqls_per_month"] = agg.sqls / months if months > 0 else np.nan
    owned = agg.owner_id != "(none)"
    for col, band in (("open_leads", qualified_leads_band), ("active_mqls", active_mqls_band),
                      ("sqls_per_month", sqls_band)):
        flag = col.replace("_per_month", "") + "_flag"
        agg[flag] = np.where(owned, band_flag(agg[col], *band), "")
    out = agg[cols].reset_index(drop=True)
    out.attrs.update(as_of=as_of_ts, active_days=int(active_days), bands={
        "open_leads": qualified_leads_band, "active_mqls": active_mqls_band, "sqls_per_month": sqls_band})
    return out


def mqls_per_month(monthly: pd.DataFrame, progress: float) -> float:
    """MQLs a month in the period at full pace: MQLs created in the period's months / months /
    ``progress`` (the share of the period the data covers); NaN when it covers none (unknown, not 0)."""
    in_period = monthly[monthly.in_period]
    if progress <= 0 or in_period.empty:
        return float("nan")
    return float(in_period.mqls_created.sum()) / len(in_period) / progress


def sdr_headcount_needed(mqls_per_month: float, mql_conversion: float = MQL_CONVERSION,
                         sqls_per_sdr: float = SQLS_PER_SDR, active_mqls: float | None = None,
                         active_mqls_band: tuple = ACTIVE_MQLS_BAND) -> dict:
    """SDRs needed, two ways from seed 004's capacity protocol (8% MQL conversion, 15 SQLs per SDR
    a month, 150-200 MQLs actively pursued per SDR):

    * by SQL output: ``sdrs = MQLs a month x MQL->SQL rate / SQLs per SDR a month`` (one SDR turns
      ``sqls_per_sdr / mql_conversion`` MQLs a month into SQLs: 187.5 at the seed's figures);
    * by workload: ``sdrs = active MQLs / active MQLs per SDR``, a range from the band's high end
      (fewest SDRs) to its low end (most); NaN without ``active_mqls`` (e.g. the sum of
      :func:`sdr_capacity`'s ``active_mqls``).

    Returns both (raw and rounded up) with the inputs. Use the measured settled MQL:SQL rate of
    :func:`funnel_rates` for ``mql_conversion`` when the data has one.
    """
    band_low, band_high = (float(active_mqls_band[0]), float(active_mqls_band[1]))
    sqls_needed = float(mqls_per_month) * float(mql_conversion)
    by_output = sqls_needed / sqls_per_sdr if sqls_per_sdr > 0 else float("nan")
    am = float("nan") if active_mqls is None else float(active_mqls)
    low = am / band_high if band_high > 0 else float("nan")
    high = am / band_low if band_low > 0 else float("nan")

    def up(x: float) -> float:
        return float(math.ceil(x - 1e-9)) if np.isfinite(x) else float("nan")

    return {
        "mqls_per_month": float(mqls_per_month), "mql_conversion": float(mql_conversion),
        "sqls_per_sdr": float(sqls_per_sdr), "active_mqls": am, "active_mqls_band": (band_low, band_high),
        "sqls_needed_per_month": sqls_needed,
        "mqls_per_sdr_per_month": sqls_per_sdr / mql_conversion if mql_conversion > 0 else float("nan"),
        "sdrs_by_sql_output": by_output, "sdrs_by_sql_output_rounded_up": up(by_output),
        "sdrs_by_active_mqls_low": low, "sdrs_by_active_mqls_high": high,
        "sdrs_by_active_mqls_rounded_up": (up(low), up(high)),
        "formula": "by SQL output: MQLs/month x MQL->SQL rate / SQLs per SDR a month; "
                   "by workload: active MQLs / active MQLs per SDR (seed 004)",
    }


# --------------------------------------------------------------------------- goals

def goals_vs_actuals(monthly: pd.DataFrame, goals: Mapping[str, float]) -> pd.DataFrame:
    """Seed 004's monthly goal grid against the actuals of :func:`monthly_counts`, per goal and month
    of the period (``in_period``), plus a ``total`` row per goal.

    ``goals`` keys (monthly goals; missing keys skipped, unknown keys refused): ``leads_sourced``,
    ``qualified_leads``, ``mqls_created``, ``mqls_managed``, ``sqls``. ``share_of_goal`` = actual /
    goal (NaN for a goal <= 0), ``gap`` = actual - goal; ``goal_name`` is the goal in words (:data:`GOAL_NAMES`). Totals: flows summed against goal x months;
    ``mqls_managed`` (a stock) averaged against the goal. A month the data does not reach
    (``covered`` false) has no actual (NaN, noted) and the totals count only the months with data. ``note`` carries the column's note from
    ``monthly.attrs["notes"]`` (why an actual is NaN, or how SQLs were dated); a partial month is
    noted (its goal is not prorated).
    """
    unknown = sorted(set(goals) - set(GOAL_COLUMNS))
    if unknown:
        raise ValueError(f"unknown goal keys {unknown}; accepted: {sorted(GOAL_COLUMNS)}")
    notes = monthly.attrs.get("notes", {}) if hasattr(monthly, "attrs") else {}
    mon = monthly.loc[monthly["in_period"].astype(bool)] if "in_period" in monthly else monthly
    rows = []
    for key in GOAL_COLUMNS:
        if key not in goals or goals[key] is None:
            continue
        goal, col = float(goals[key]), GOAL_COLUMNS[key]
        note = notes.get(col, "")
        for _, m in mon.iterrows():
            if not bool(m.get("covered", True)):  # before the data starts or after it ends: unknown, not 0
                rows.append({"goal": key, "month": m["month"], "actual": np.nan, "target": goal,
                             "note": "not available: the export has no data for this month"})
                continue
            rows.append({"goal": key, "month": m["month"], "actual": float(m[col]), "target": goal,
                         "note": note or ("partial month" if bool(m.get("partial", False)) else "")})
        actuals = mon.loc[mon["covered"].astype(bool), col].astype(float) if "covered" in mon else mon[col].astype(float)
        stock = key in STOCK_GOALS
        total = (actuals.mean() if len(actuals) else np.nan) if stock else actuals.sum(min_count=1)
        if not stock and len(actuals) == 0:
            total = np.nan
        rows.append({"goal": key, "month": "total", "actual": float(total),
                     "target": goal if stock else goal * len(actuals),
                     "note": note or ((f"average of the {len(actuals)} months with data (a stock)" if stock
                                       else f"sum of the {len(actuals)} months with data") if len(actuals) < len(mon)
                                      else ("average of the months (a stock)" if stock else "sum of the months"))})
    out = pd.DataFrame(rows, columns=["goal", "month", "actual", "target", "note"])
    ok = out.target > 0
    out["share_of_goal"] = np.where(ok, out.actual / out.target.where(ok, 1), np.nan)
    out["gap"] = out.actual - out.target
    out["goal_name"] = out.goal.map(GOAL_NAMES)
    return out[["goal", "goal_name", "month", "actual", "target", "share_of_goal", "gap", "note"]]


def goals_note(goals: pd.DataFrame) -> str:
    """The sentence under the goal grid when some months lie outside the export's dates, or ""."""
    months = list(dict.fromkeys(m for m, n in zip(goals.month, goals.note) if str(n).startswith("not available")))
    if not months:
        return ""
    return (f"Not available for {', '.join(months)}: the export has no data for {'that month' if len(months) == 1 else 'those months'}, "
            "so they are left blank (not counted as 0) and the totals count only the months with data.")


_RATE_LABELS = {
    "mql_to_sql": "MQL:SQL", "mql_to_opportunity": "MQL:opportunity", "mql_to_proposal": "MQL:proposal",
    "mql_to_won": "MQL:won", "deal_win_rate": "Win rate of the MQLs' closed deals",
    "contact_rate": "Contact rate (calls reaching a person)", "conversation_rate": "Conversation rate",
    "conversations_per_connect": "Conversations per connect",
}


def kpi_rows(lvr: pd.DataFrame, rates: pd.DataFrame, contact: pd.DataFrame, to_sql: dict, sql_time: dict,
             value: dict, currency: str = "USD") -> pd.DataFrame:
    """The shared KPIs as one table for the page and ``summary.json``: ``key``, ``kpi`` (label),
    ``value`` with ``value_text``, ``n``, ``low``/``high`` with ``interval_text``, ``basis``
    (what was counted). Inputs are the outputs of :func:`lead_velocity_rate`, :func:`funnel_rates`,
    :func:`contact_rates`, :func:`attempts_to_sql`, :func:`mql_to_sql_time` and :func:`sql_value`;
    money in ``currency``."""
    rows = []

    def add(key, label, v, n, lo, hi, basis, fmt):
        def text(x):
            return "–" if x is None or not np.isfinite(x) else (fmt(x) if callable(fmt) else fmt.format(x))
        unit = ("money" if callable(fmt) else "days" if key.endswith("_days") else "signed_share" if "+" in fmt
                else "share" if "%" in fmt else "number1" if fmt == "{:.1f}" else "number2")
        rows.append({"key": key, "kpi": label, "value": v, "value_text": text(v), "n": n, "low": lo, "high": hi,
                     "interval_text": "–" if lo is None or not (np.isfinite(lo) and np.isfinite(hi))
                     else f"{text(lo)} – {text(hi)}", "basis": basis, "unit": unit})

    for r in lvr.itertuples():
        add(f"lead_velocity_rate_{r.month}", f"Lead velocity rate, {r.month}", r.lvr,
            int(np.nan_to_num(r.current) + np.nan_to_num(r.previous)), r.lvr_low, r.lvr_high,
            f"MQLs a day, {r.month} vs the month before" + (f" ({r.note})" if r.note else ""), "{:+.1%}")
    for r in rates.itertuples():
        key = f"{r.metric}" + ("" if r.cohort == "period" else "_settled")
        add(key, _RATE_LABELS.get(r.metric, r.metric) + ("" if r.cohort == "period" else " (settled)"),
            r.rate, int(r.n), r.rate_low, r.rate_high,
            f"{r.cohort} MQLs {r.window_start:%Y-%m-%d} to {r.window_stop:%Y-%m-%d}", "{:.1%}")
    for r in contact.itertuples():
        add(r.metric, _RATE_LABELS.get(r.metric, r.metric), r.rate, int(r.n), r.rate_low, r.rate_high, r.note, "{:.1%}")
    add("attempts_to_sql", "Attempts to move an MQL to SQL (mean)", to_sql.get("mean"), int(to_sql.get("n", 0)),
        to_sql.get("mean_low"), to_sql.get("mean_high"), "the period's MQLs that became SQLs", "{:.2f}")
    add("mql_to_sql_days", "Days from MQL to SQL (median)", sql_time.get("km_median_days"), int(sql_time.get("mqls", 0)),
        sql_time.get("km_low"), sql_time.get("km_high"), "the period's MQLs that become SQLs, those not yet SQL followed to the end of the data", "{:.1f}")
    add("sql_pipeline_value", "Value of SQLs (their deals' amounts)", value.get("value"), int(value.get("sqls", 0)),
        None, None, "the period's SQLs", lambda x: money(x, currency))
    add("sql_expected_value", "Expected won value of SQLs", value.get("expected_value"), int(value.get("sqls", 0)),
        value.get("expected_value_low"), value.get("expected_value_high"),
        "SQLs x won revenue per settled SQL", lambda x: money(x, currency))
    out = pd.DataFrame(rows)
    out["value"] = pd.to_numeric(out["value"], errors="coerce")
    return out


def kpi_summary(rows: pd.DataFrame, win_rates: dict[str, Result] | None = None) -> dict:
    """``summary.json["kpis"]``: each KPI's value, n and interval; and the win rate by rep and by
    source (``win_rate_by_rep``, ``win_rate_by_source``: {group: {value, n, interval, shrunk}}, or
    ``{available: false, reason}``)."""
    out = {r.key: {"value": r.value, "n": r.n, "interval": [r.low, r.high]} for r in rows.itertuples()}
    for name, found in (win_rates or {}).items():
        if not found:
            out[f"win_rate_by_{name}"] = {"available": False, "reason": found.reason}
            continue
        table = found.get()
        out[f"win_rate_by_{name}"] = {str(getattr(r, table.columns[0])): {
            "value": r.win_rate, "n": int(r.closed), "interval": [r.win_rate_low, r.win_rate_high],
            "shrunk": r.win_rate_shrunk} for r in table.itertuples()}
    return out


def sdr_summary(headcount: dict, capacity: pd.DataFrame, mqls_per_month: float) -> dict:
    """``summary.json["sdr_capacity"]``: SDRs needed by SQL output and by workload (low-high), SDRs
    with leads, MQLs a month."""
    owners = len(capacity) > 0  # no owner column: the workload and the team are unknown, not 0
    return {"sdrs_needed_by_sql_output": headcount["sdrs_by_sql_output"],
            "sdrs_needed_by_workload": ([headcount["sdrs_by_active_mqls_low"], headcount["sdrs_by_active_mqls_high"]]
                                        if owners else [None, None]),
            "sdrs_with_leads": int((capacity.owner_id != "(none)").sum()) if owners else None,
            "mqls_per_month": mqls_per_month}


def headcount_sentence(headcount: dict, sdr: Mapping[str, float], mqls_per_month: float, sdrs_with_leads: int) -> str:
    """The SDR headcount the volume needs, two ways, in words (low to high), each with the question
    it answers, and a pointer to the third way (page 07: the hours the proposed touches take)."""
    if not np.isfinite(mqls_per_month):
        return (f"The team has {sdrs_with_leads} SDRs with leads. The MQLs a month, and so the headcount they need, are "
                "not available: every event in the export has the same date.")
    return (f"The team has **{sdrs_with_leads} SDRs** with leads. How many the volume needs depends on what limits them. "
            f"*By what they must produce:* {mqls_per_month:,.0f} MQLs a month, of which the SLA's planning rule expects "
            f"{sdr['mql_conversion']:.0%} to become SQLs, at {sdr['sqls_per_month']:g} SQLs per SDR a month, need "
            f"**{headcount['sdrs_by_sql_output']:.1f} SDRs**. *By what they must keep track of:* "
            f"{headcount['active_mqls']:,.0f} active MQLs at {sdr['active_mqls_low']:g} to {sdr['active_mqls_high']:g} per "
            f"SDR need **{headcount['sdrs_by_active_mqls_low']:.0f} to {headcount['sdrs_by_active_mqls_high']:.0f}**. "
            + _binding(headcount, sdrs_with_leads)
            + "The Proposed SLA page adds a third count, the hours its touches take at today's calling pace.")


def _binding(headcount: dict, team: int) -> str:
    """Which of the two counts binds (the larger), when both are known."""
    out, work = headcount["sdrs_by_sql_output"], headcount["sdrs_by_active_mqls_low"]
    if not (np.isfinite(out) and np.isfinite(work)):
        return ""
    return f"Of these two, **{'workload' if work >= out else 'output'} binds** against a team of {team}. "


def sdr_plan(crm: CRM, sdr: Mapping[str, float], start, stop, as_of, progress: float):
    """SDR capacity with the config's ``sdr`` bands: each SDR's load (:func:`sdr_capacity`), the
    monthly counts, MQLs a month (pro rata while the period runs; NaN when every event has one date)
    and the headcount the volume needs (:func:`sdr_headcount_needed`). Returns ``(capacity, monthly, mqls_per_month, headcount)``."""
    cap = sdr_capacity(crm, start, stop, as_of, active_days=int(sdr["active_days"]),
                       active_mqls_band=(sdr["active_mqls_low"], sdr["active_mqls_high"]),
                       qualified_leads_band=(sdr["qualified_leads_low"], sdr["qualified_leads_high"]),
                       sqls_band=(sdr["sqls_per_month"], None))
    monthly = monthly_counts(crm, start, stop, active_days=int(sdr["active_days"]))
    per_month = float("nan") if "timeline" in crm.limits() else mqls_per_month(monthly, progress)
    headcount = sdr_headcount_needed(per_month, sdr["mql_conversion"], sdr["sqls_per_month"],
                                     active_mqls=float(cap.active_mqls.sum()),
                                     active_mqls_band=(sdr["active_mqls_low"], sdr["active_mqls_high"]))
    return cap, monthly, per_month, headcount


def period_kpis(crm: CRM, cfg, monthly: pd.DataFrame, start: datetime, end: datetime, as_of: datetime,
                data_end: datetime, settled: tuple[datetime, datetime]) -> pd.DataFrame:
    """Page 05's KPI table (:func:`kpi_rows`): lead velocity rate, the funnel rates of the period's
    and the ``settled`` MQLs, contact rates, attempts to SQL, days from MQL to SQL and SQL value."""
    return kpi_rows(lead_velocity_rate(monthly, confidence=cfg.confidence_level, data_end=data_end),
                    funnel_rates(crm, start, end, as_of, cfg.confidence_level, *settled, cfg.min_group_size),
                    contact_rates(crm, start, end, cfg.confidence_level, min_n=cfg.min_group_size),
                    attempts_to_sql(crm, start, end, as_of), mql_to_sql_time(crm, start, end, as_of),
                    sql_value(crm, start, end, as_of, *settled), cfg.currency)
