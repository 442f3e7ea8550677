"""Direction and drift: the KPIs of the previous periods the data covers, and the SLA review.

* **Trend**: the same core figures for this period and the ``n`` periods of the same kind before it,
  computed from the data (not read from older reports, so a corrected export corrects the history).
* **SLA review** (seeds: review the SLA every six months): this period's measured close rates,
  MQL values, cost per call and recommended attempt cap against the assumptions the SLA was written
  with (``config/sla.yml`` and the ``review`` baseline), flagged when the relative drift
  ``|measured − assumed| / assumed`` exceeds ``review_tolerance`` *and* the assumption lies outside
  the measured figure's interval (so noise alone does not trigger a review).
"""
from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd

from sla_analysis.analyses import cohorts as co
from sla_analysis.analyses import compliance as cp
from sla_analysis.analyses import cost
from sla_analysis.analyses import kpis as kp
from sla_analysis.analyses import lead_value as lv
from sla_analysis.analyses.plateau import recommend_cap_or_reason
from sla_analysis.analyses.scorecard import period_progress
from sla_analysis.config import SLAConfig
from sla_analysis.io.engine import CRM
from sla_analysis.periods import Period


def trend_periods(period: Period, n_previous: int) -> list[Period]:
    """``n_previous`` periods of the same kind before ``period``, oldest first, then ``period``."""
    out = [period]
    for _ in range(n_previous):
        out.append(out[-1].previous())
    return out[::-1]


def kpi_trend(crm: CRM, cfg: SLAConfig, period: Period, n_previous: int = 4,
              data_start: datetime | None = None, data_end: datetime | None = None) -> pd.DataFrame:
    """Per period (this one and ``n_previous`` before it that the data reaches): MQLs, the share
    of high-tier (first configured tier) MQLs touched within the window, MQL:SQL of the period's
    MQLs (as of the period end), contact rate, each with its n; ``covered`` = share of the period
    inside the data."""
    first_tier = next(iter(cfg.tiers))
    rows = []
    for p in trend_periods(period, n_previous):
        start, end = p.start_ts(), p.end_ts()
        covered = period_progress(start, end, data_end or end, data_start)
        if covered <= 0:
            continue
        as_of = min(end, data_end) if data_end else end
        stl = cp.speed_to_lead(crm, cfg.tier_protocols, start, end, as_of, by="tier", confidence=cfg.confidence_level,
                               min_n=cfg.min_group_size, default_tier=cfg.default_tier)
        top = stl[stl.tier == first_tier]
        rates = kp.funnel_rates(crm, start, end, as_of, cfg.confidence_level, min_n=cfg.min_group_size)
        to_sql = rates[rates.metric == "mql_to_sql"]
        contact = kp.contact_rates(crm, start, end, cfg.confidence_level, min_n=cfg.min_group_size)
        cr = contact[contact.metric == "contact_rate"]
        rows.append({
            "period": p.label, "covered": covered, "mqls": int(stl.mqls.sum()),
            "first_touch_within_window": float(top.share_within.iloc[0]) if len(top) else np.nan,
            "first_touch_n": int(top.decided.iloc[0]) if len(top) else 0,
            "mql_to_sql": float(to_sql.rate.iloc[0]) if len(to_sql) else np.nan,
            "contact_rate": float(cr.rate.iloc[0]) if len(cr) else np.nan,
            "calls": int(cr.n.iloc[0]) if len(cr) else 0,
        })
    return pd.DataFrame(rows, columns=["period", "covered", "mqls", "first_touch_within_window", "first_touch_n",
                                       "mql_to_sql", "contact_rate", "calls"])


def drift_row(figure: str, assumed: float, measured: float, low: float, high: float, tolerance: float) -> dict:
    """One review line: ``drift = (measured − assumed) / assumed``; ``flagged`` when
    ``|drift| > tolerance`` and ``assumed`` is outside ``[low, high]`` (the measured interval;
    NaN bounds count as no interval)."""
    ok = assumed is not None and np.isfinite(assumed) and assumed != 0 and measured is not None and np.isfinite(measured)
    drift = (measured - assumed) / abs(assumed) if ok else np.nan
    outside = not (np.isfinite(low) and np.isfinite(high)) or not (low <= assumed <= high) if ok else False
    return {"figure": figure, "assumed": assumed, "measured": measured, "low": low, "high": high, "drift": drift,
            "flagged": bool(ok and abs(drift) > tolerance and outside)}


def sla_review(cfg: SLAConfig, measured: dict) -> pd.DataFrame:
    """The review table from ``measured``: ``{"cost_per_call": (value, low, high), "attempt_cap":
    (value, low, high), "close_rate:<source>": (value, low, high), "mql_value:<source>": ...}``
    against ``cfg`` (cost per call) and ``cfg.review_baseline`` (the close rates, MQL values and
    attempt cap the SLA was written with; figures without a baseline are listed, not flagged)."""
    baseline = dict(cfg.review_baseline)
    baseline.setdefault("cost_per_call", cfg.cost_per_call)
    rows = []
    for figure, (value, low, high) in measured.items():
        rows.append(drift_row(figure, baseline.get(figure, np.nan), value, low, high, cfg.review_tolerance))
    return pd.DataFrame(rows, columns=["figure", "assumed", "measured", "low", "high", "drift", "flagged"])


def measured_figures(crm: CRM, cfg: SLAConfig, period: Period, n_boot: int = 100) -> dict:
    """This period's figures to review, each ``(value, low, high)``: close rate and MQL value per
    source (settled MQLs, :mod:`sla_analysis.analyses.lead_value`), the cost per call at the measured
    dialling pace (no interval), and the recommended attempt cap with its bootstrap interval."""

    end = period.end_ts()
    out: dict[str, tuple[float, float, float]] = {}
    s_from, s_to = lv.settled_window(end, cfg.stale_after_days, cfg.lookback_days)
    values = lv.mql_value_by_group(lv.source_funnel(crm, s_from, s_to), confidence=cfg.confidence_level,
                                   min_n=cfg.min_group_size)
    for r in values.itertuples():
        out[f"close_rate:{r.source}"] = (r.close_rate, r.close_rate_low, r.close_rate_high)
        out[f"mql_value:{r.source}"] = (r.mql_value, r.mql_value_low, r.mql_value_high)
    pace = cost.measured_pace(crm, period.start_ts(), end)
    if len(pace):
        pph = float(pace.iloc[-1].calls_per_hour_dialling)
        if np.isfinite(pph) and pph > 0:
            out["cost_per_call"] = (cfg.rep_hourly_cost / pph, np.nan, np.nan)
    prof, cov, c, _ = co.plateau_history(crm, cfg, end)
    rec = recommend_cap_or_reason(prof[prof.attempts >= 1], c, cov, n_boot=n_boot, seed=cfg.random_seed % 2**32,
                                  min_at_risk=cfg.min_group_size, confidence=cfg.confidence_level)
    if rec:
        cap = rec.get()
        out["attempt_cap"] = (float(cap.recommended_attempts), float(cap.ci_low), float(cap.ci_high))
    return out


def review_due(review: pd.DataFrame, period_end: datetime, sla_written: datetime | None, every_months: int) -> tuple[bool, str]:
    """Whether the data says the SLA is due for review, and why, in words: a flagged figure, or
    ``every_months`` since the SLA was written (``sla_written``)."""
    reasons = []
    flagged = review[review.flagged].figure.tolist() if len(review) else []
    if flagged:
        reasons.append(f"{len(flagged)} figure{'s' if len(flagged) != 1 else ''} drifted beyond the tolerance "
                       f"({', '.join(flagged)})")
    if sla_written is not None:
        months = (period_end.year - sla_written.year) * 12 + period_end.month - sla_written.month
        if months >= every_months:
            reasons.append(f"the SLA was written {months} months before the end of the period "
                           f"(review every {every_months})")
    return bool(reasons), "; ".join(reasons)
