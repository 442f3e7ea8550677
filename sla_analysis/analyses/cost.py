"""Cost per contact attempt (seed 000): a rep's fully loaded hourly cost / attempts per hour.

Two views side by side:

* **assumed**: ``rep_hourly_cost / calls_per_hour`` from ``config/sla.yml`` (the SLA's number);
* **measured** from activity timestamps, where they allow:
  - *dialling pace*: calls an hour while a rep is dialling, the calling time over the calls: each
    calling session (a rep's consecutive calls at most ``session_gap_minutes`` apart) spans its
    calls but the last, so the pace is ``3600 × Σ gaps counted / Σ their seconds`` = ``3600 / mean
    gap`` (the median gap reads a faster pace when quick unanswered calls outnumber long
    conversations). Its interval treats each rep as a cluster (the ratio estimator's linearised
    variance, t with reps − 1 degrees of freedom). The calls' ``duration_s`` is not used: it is the
    talk time, without the dialling and wrap-up between calls an SDR hour also pays for;
  - *attempts per active rep-hour*: attempts / clock hours in which the rep logged any attempt
    (utilisation: lower than the pace when reps mix calling with other work).

The gaps are computed in the engine with a window over each rep's calls.
"""
from __future__ import annotations

from datetime import datetime

import ibis
import numpy as np
import pandas as pd
from scipy.stats import t as scipy_t

from sla_analysis.config import SLAConfig
from sla_analysis.formats import money
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


def measured_pace(crm: CRM, start: datetime, stop: datetime, session_gap_minutes: float = 30.0,
                  confidence: float = 0.95) -> pd.DataFrame:
    """Per rep and overall (last row, ``all reps``): attempts, active clock hours, the gaps inside
    calling sessions (``session_gaps``, ``calling_seconds``, ``mean_gap_s``), the dialling pace
    ``calls_per_hour_dialling`` = 3600 × gaps / their seconds (the module docstring) and attempts
    per active rep-hour; the all-reps pace with its interval (``calls_per_hour_dialling_low`` /
    ``_high``, reps as clusters). Empty when no call has a rep."""
    if not crm.has("activities", "rep_id"):
        return pd.DataFrame()
    gaps = call_gaps(crm, start, stop, session_gap_minutes)
    a = _period_activities(crm, start, stop).filter(ibis._.rep_id.notnull())
    hours = a.mutate(hour=a.occurred_at.truncate("h"))
    util = hours.group_by("rep_id").aggregate(attempts=hours.count(), active_hours=hours.hour.nunique())
    pace = gaps.group_by("rep_id").aggregate(session_gaps=gaps.count(), calling_seconds=gaps.gap_s.sum())
    per_rep = util.left_join(pace, util.rep_id == pace.rep_id).drop("rep_id_right").order_by("rep_id").to_pandas()
    per_rep = per_rep.astype({c: float for c in per_rep.columns if c != "rep_id"})
    per_rep[["session_gaps", "calling_seconds"]] = per_rep[["session_gaps", "calling_seconds"]].fillna(0.0)
    sums = per_rep.drop(columns="rep_id").sum()
    row = {"rep_id": "all reps", **sums.to_dict()}
    per_rep = pd.DataFrame.from_records([*per_rep.to_dict("records"), row], columns=list(per_rep.columns))
    with np.errstate(divide="ignore", invalid="ignore"):
        per_rep["mean_gap_s"] = (per_rep.calling_seconds / per_rep.session_gaps).where(per_rep.session_gaps > 0)
        per_rep["calls_per_hour_dialling"] = 3600.0 / per_rep.mean_gap_s
        per_rep["attempts_per_active_hour"] = per_rep.attempts / per_rep.active_hours
    lo, hi = pace_interval(per_rep.session_gaps[:-1].to_numpy(), per_rep.calling_seconds[:-1].to_numpy(), confidence)
    per_rep["calls_per_hour_dialling_low"] = [np.nan] * (len(per_rep) - 1) + [lo]
    per_rep["calls_per_hour_dialling_high"] = [np.nan] * (len(per_rep) - 1) + [hi]
    per_rep.attrs["method"] = (f"calling sessions: the time from each call to a rep's next one, when at most "
                               f"{session_gap_minutes:g} minutes apart, over those calls (3,600 ÷ the mean gap)")
    return per_rep


def pace_interval(gaps: np.ndarray, seconds: np.ndarray, confidence: float = 0.95) -> tuple[float, float]:
    """Interval of the pooled pace ``R = 3600 Σ gaps / Σ seconds`` with reps as clusters: the ratio
    estimator's linearised variance ``n/(n−1) Σ_r (g_r − R̂ s_r)² / (Σ s)²`` (per second), on the
    log scale (``se = sqrt(var) / R̂``, a t quantile with n − 1 degrees of freedom), so both ends stay
    positive and a cost per call from it stays finite. NaN with fewer than two reps that dialled."""
    keep = seconds > 0
    g, s = gaps[keep].astype(float), seconds[keep].astype(float)
    n = len(g)
    if n < 2 or g.sum() <= 0:
        return float("nan"), float("nan")
    r = g.sum() / s.sum()
    var = n / (n - 1) * float(((g - r * s) ** 2).sum()) / s.sum() ** 2
    half = scipy_t.ppf(0.5 + confidence / 2, n - 1) * np.sqrt(var) / r
    return float(3600 * r * np.exp(-half)), float(3600 * r * np.exp(half))


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
    last = pace.iloc[-1] if len(pace) else {}
    pace_all = float(last.get("calls_per_hour_dialling", np.nan)) if len(pace) else float("nan")
    lo, hi = ((float(last.get("calls_per_hour_dialling_low", np.nan)), float(last.get("calls_per_hour_dialling_high", np.nan)))
              if len(pace) else (np.nan, np.nan))
    if "attempt_time" in (limits or {}):  # the hours of the attempts are placeholders: no pace from them
        pace_all = lo = hi = float("nan")

    def per_call(pph: float) -> float:
        return cost_per_call(cfg.rep_hourly_cost, pph) if np.isfinite(pph) and pph > 0 else float("nan")

    return {"cost_per_call_assumed": cost_per_call(cfg.rep_hourly_cost, cfg.calls_per_hour),
            "cost_per_call_measured": per_call(pace_all), "cost_per_call_measured_ci": [per_call(hi), per_call(lo)],
            "calls_per_hour_assumed": cfg.calls_per_hour, "calls_per_hour_measured": pace_all,
            "calls_per_hour_measured_ci": [lo, hi], "pace_method": pace.attrs.get("method") if len(pace) else None,
            "cost_per_attempt_blended": blended_cost_per_attempt(by_type),
            "attempts": None if "attempts" in (limits or {}) else int(by_type.attempts.sum()),
            "cost_per_attempt_by_type": dict(zip(by_type.type, by_type.cost_per_attempt))}


def pace_sentence(figures: dict, currency: str = "USD") -> str:
    """Page 02's measured pace and cost per call, with their intervals and how the pace was measured."""
    pace, (lo, hi) = figures["calls_per_hour_measured"], figures["calls_per_hour_measured_ci"]
    if pace is None or not np.isfinite(pace):
        return ""
    interval = f" (interval {lo:.1f}–{hi:.1f})" if lo is not None and np.isfinite(lo) else ""
    clo, chi = figures["cost_per_call_measured_ci"]
    cost_interval = (f" (interval {money(clo, currency, 2)}–{money(chi, currency, 2)})"
                     if clo is not None and np.isfinite(clo) else "")
    return (f"Across all reps the pace is **{pace:.1f} calls an hour**{interval}: a call costs "
            f"**{money(figures['cost_per_call_measured'], currency, 2)}**{cost_interval} at the same hourly cost. "
            f"Measured from {figures['pace_method']}.")


def pace_spread_text(reps: pd.DataFrame, assumed: float, many: bool) -> str:
    """What the dialling-pace chart shows, in words: one bar per rep, or (``many`` reps) how the paces
    spread, with the interquartile range (the middle half of the reps) and where the list is."""
    if not many:
        return f"Each bar is one rep's dialling pace; the dashed line is the SLA's {assumed:g} calls an hour."
    low, high = reps.calls_per_hour_dialling.quantile([0.25, 0.75])
    return (f"How the {len(reps):,} reps' dialling paces spread; the dashed line is the SLA's {assumed:g} calls an "
            f"hour. The middle half of the reps dial **{low:.1f} to {high:.1f} calls an hour**; the pace of each rep "
            'is in tables.xlsx (sheet "dialling pace by rep").')
