"""Cost per contact attempt (seed 000): a rep's fully loaded hourly cost / attempts per hour.

Two views side by side:

* **assumed**: ``rep_hourly_cost / calls_per_hour`` from ``config/sla.yml`` (the SLA's number);
* **measured** from activity timestamps, where they allow:
  - *dialling pace*: calls an hour while a rep is dialling, ``3600 / median gap`` between a rep's
    consecutive calls that are at most ``session_gap_minutes`` apart (a calling session);
  - *attempts per active rep-hour*: attempts / clock hours in which the rep logged any attempt
    (utilisation: lower than the pace when reps mix calling with other work).

The gaps are computed in the engine with a window over each rep's calls.
"""
from __future__ import annotations

from datetime import datetime

import ibis
import pandas as pd

from sla_analysis.config import SLAConfig
from sla_analysis.io.engine import CRM


def cost_per_call(rep_hourly_cost: float, calls_per_hour: float) -> float:
    """Cost per call = fully loaded hourly cost of a rep / calls a rep makes per hour."""
    if calls_per_hour <= 0:
        raise ValueError("calls per hour must be positive")
    return rep_hourly_cost / calls_per_hour


def cost_per_attempt(cfg: SLAConfig, attempt_type: str) -> float | None:
    """What one attempt of ``attempt_type`` costs at the SLA's assumptions: the rep's hourly cost /
    that type's attempts per hour (``calls_per_hour`` for calls, ``attempts_per_hour`` for the other
    types); ``None`` for a type with no rate."""
    rate = cfg.calls_per_hour if attempt_type == "call" else cfg.attempts_per_hour.get(attempt_type)
    return None if rate is None else cost_per_call(cfg.rep_hourly_cost, rate)


def assumed_cost_per_call(cfg: SLAConfig) -> float:
    """The SLA's cost per call: hourly cost / calls per hour."""
    return cost_per_call(cfg.rep_hourly_cost, cfg.calls_per_hour)


def _period_activities(crm: CRM, start: datetime, stop: datetime):
    a = crm.activities
    return a.filter((a.occurred_at >= start) & (a.occurred_at < stop))


def attempts_by_type(crm: CRM, cfg: SLAConfig, start: datetime, stop: datetime) -> pd.DataFrame:
    """Attempts per type in the period with each type's assumed cost per attempt
    (hourly cost / that type's attempts per hour; blank where the config has no rate)."""
    a = _period_activities(crm, start, stop)
    out = a.group_by("type").aggregate(attempts=a.count()).order_by(ibis.desc("attempts")).to_pandas()
    out["cost_per_attempt"] = [cost_per_attempt(cfg, t) for t in out["type"]]
    out["share"] = out.attempts / out.attempts.sum() if len(out) else []
    out["cost"] = out.attempts * out.cost_per_attempt
    return out


def blended_cost_per_attempt(by_type: pd.DataFrame) -> float:
    """Average cost of an attempt at the period's type mix: sum(attempts x cost) / attempts,
    over the types that have a cost."""
    priced = by_type.dropna(subset=["cost_per_attempt"])
    return float(priced.cost.sum() / priced.attempts.sum()) if priced.attempts.sum() else float("nan")


def call_gaps(crm: CRM, start: datetime, stop: datetime, session_gap_minutes: float = 30.0):
    """Seconds between each rep's consecutive calls, keeping gaps inside a calling session."""
    a = _period_activities(crm, start, stop)
    calls = a.filter((a.type == "call") & a.rep_id.notnull())
    w = ibis.window(group_by=calls.rep_id, order_by=[calls.occurred_at, calls.activity_id])
    gaps = calls.mutate(gap_s=(calls.occurred_at.epoch_seconds() - calls.occurred_at.lag().over(w).epoch_seconds()))
    return gaps.filter(gaps.gap_s.notnull() & (gaps.gap_s > 0) & (gaps.gap_s <= session_gap_minutes * 60))


def measured_pace(crm: CRM, start: datetime, stop: datetime, session_gap_minutes: float = 30.0) -> pd.DataFrame:
    """Per rep and overall: calls, calls inside sessions, median gap and dialling pace
    (3600 / median gap), and attempts per active rep-hour. Empty when no call has a rep."""
    if not crm.has("activities", "rep_id"):
        return pd.DataFrame()
    gaps = call_gaps(crm, start, stop, session_gap_minutes)
    a = _period_activities(crm, start, stop).filter(ibis._.rep_id.notnull())
    hours = a.mutate(hour=a.occurred_at.truncate("h"))
    util = hours.group_by("rep_id").aggregate(attempts=hours.count(), active_hours=hours.hour.nunique())
    pace = gaps.group_by("rep_id").aggregate(session_gaps=gaps.count(), median_gap_s=gaps.gap_s.median())
    per_rep = util.left_join(pace, util.rep_id == pace.rep_id).drop("rep_id_right").order_by("rep_id").to_pandas()
    overall = gaps.aggregate(session_gaps=gaps.count(), median_gap_s=gaps.gap_s.median()).to_pandas()
    tot = util.aggregate(attempts=util.attempts.sum(), active_hours=util.active_hours.sum()).to_pandas()
    row = {"rep_id": "all reps", **overall.iloc[0].to_dict(), **tot.iloc[0].to_dict()}
    # the all-reps row appended by records: a concat with an all-NaN column warns (pandas FutureWarning)
    per_rep = pd.DataFrame.from_records([*per_rep.to_dict("records"), row], columns=list(per_rep.columns))
    per_rep = per_rep.astype({c: float for c in per_rep.columns if c != "rep_id"})
    per_rep["calls_per_hour_dialling"] = 3600.0 / per_rep.median_gap_s
    per_rep["attempts_per_active_hour"] = per_rep.attempts / per_rep.active_hours
    return per_rep


def rep_hourly_costs(crm: CRM, cfg: SLAConfig) -> pd.DataFrame:
    """Hourly cost per rep from the reps table when it has one, else the config's."""
    if crm.reps is not None and crm.has("reps", "hourly_cost"):
        return crm.reps.select("rep_id", "hourly_cost").to_pandas().fillna({"hourly_cost": cfg.rep_hourly_cost})
    return pd.DataFrame({"rep_id": [], "hourly_cost": []})


def cost_summary(cfg: SLAConfig, by_type: pd.DataFrame, pace: pd.DataFrame, limits: dict[str, str] | None = None) -> dict:
    """``summary.json["cost"]``: the assumed cost per call (hourly cost / calls per hour), the
    measured one (hourly cost / the dialling pace over all reps; null without reps on the calls),
    the blended cost per attempt at the period's mix and each type's cost per attempt; the
    period's attempts (null when the export records none, ``limits``)."""
    pace_all = float(pace.iloc[-1].calls_per_hour_dialling) if len(pace) else float("nan")
    measured = cost_per_call(cfg.rep_hourly_cost, pace_all) if pace_all > 0 else float("nan")
    return {"cost_per_call_assumed": cost_per_call(cfg.rep_hourly_cost, cfg.calls_per_hour),
            "cost_per_call_measured": measured, "calls_per_hour_assumed": cfg.calls_per_hour,
            "calls_per_hour_measured": pace_all, "cost_per_attempt_blended": blended_cost_per_attempt(by_type),
            "attempts": None if "attempts" in (limits or {}) else int(by_type.attempts.sum()),
            "cost_per_attempt_by_type": dict(zip(by_type.type, by_type.cost_per_attempt))}


def pace_spread_text(reps: pd.DataFrame, assumed: float, many: bool) -> str:
    """What the dialling-pace chart shows, in words: one bar per rep, or (``many`` reps) how the paces
    spread, with the interquartile range (the middle half of the reps) and where the list is."""
    if not many:
        return f"Each bar is one rep's dialling pace; the dashed line is the SLA's {assumed:g} calls an hour."
    low, high = reps.calls_per_hour_dialling.quantile([0.25, 0.75])
    return (f"How the {len(reps):,} reps' dialling paces spread; the dashed line is the SLA's {assumed:g} calls an "
            f"hour. The middle half of the reps dial **{low:.1f} to {high:.1f} calls an hour**; the pace of each rep "
            'is in tables.xlsx (sheet "dialling pace by rep").')
