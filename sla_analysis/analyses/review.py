"""Direction and drift: the KPIs of the previous periods the data covers, and the SLA review.

* **Trend**: the same core figures for this period and the ``n`` periods of the same kind before it,
  computed from the data (not read from older reports, so a corrected export corrects the history).
* **SLA review** (seeds: review the SLA every six months): this period's measured close rates,
  MQL values, cost per call and recommended attempt cap against the assumptions the SLA was written
  with (the config passed and its ``review_baseline``), flagged when the relative drift
  ``|measured − assumed| / assumed`` exceeds ``review_tolerance`` *and* the figure's test of
  "equal to the assumption" rejects after a Holm–Šidák correction over every figure tested in the same
  review (so noise alone, across ten or more figures, triggers a review in at most
  ``1 − confidence_level`` of periods). The attempt cap is the attempt-cap page's own result.
"""
from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
from scipy import stats as st
from statsmodels.stats.multitest import multipletests

from sla_analysis.analyses import attempt_cap as ac
from sla_analysis.analyses import compliance as cp
from sla_analysis.analyses import cost
from sla_analysis.analyses import kpis as kp
from sla_analysis.analyses import lead_value as lv
from sla_analysis.analyses.scorecard import period_progress
from sla_analysis.config import SLAConfig
from sla_analysis.formats import money
from sla_analysis.io.engine import CRM
from sla_analysis.periods import Period


def trend_periods(period: Period, n_previous: int) -> list[Period]:
    """``n_previous`` periods of the same kind before ``period``, oldest first, then ``period``."""
    out = [period]
    for _ in range(n_previous):
        out.append(out[-1].previous())
    return out[::-1]


def top_tier(cfg: SLAConfig) -> str:
    """The tier whose speed to lead the trend follows: the one with the shortest response window
    (ties: the first listed), whatever the tiers are called."""
    return min(cfg.tiers, key=lambda t: (cfg.tiers[t].response_hours, list(cfg.tiers).index(t)))


def kpi_trend(crm: CRM, cfg: SLAConfig, period: Period, n_previous: int = 4,
              data_start: datetime | None = None, data_end: datetime | None = None) -> pd.DataFrame:
    """Per period (this one and ``n_previous`` before it that the data reaches): MQLs, the share
    of top-tier (:func:`top_tier`) MQLs touched within the window, MQL:SQL of the period's
    MQLs (as of the period end), contact rate, each with its n; ``covered`` = share of the period
    inside the data."""
    first_tier = top_tier(cfg)
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


@dataclass(frozen=True)
class Measured:
    """A measured figure for the review: ``value`` with its interval, and what its test needs:
    ``successes``/``n`` for a proportion (exact binomial test), ``boot`` for a figure with bootstrap
    replicates (percentile test), else the interval itself (normal on the log scale when
    ``low > 0``, as the MQL value's delta-method interval is built; on the value's scale otherwise).
    A figure without an interval (NaN bounds) is not tested."""

    value: float
    low: float = float("nan")
    high: float = float("nan")
    successes: int | None = None
    n: int | None = None
    boot: np.ndarray | None = None
    df: float | None = None
    untested: bool = False  # shown, never tested (e.g. a value resting on too few customers)


def _as_measured(m) -> Measured:
    return m if isinstance(m, Measured) else Measured(*m)


def drift_p_value(m: Measured, assumed: float, confidence: float = 0.95) -> float:
    """Two-sided p-value of "the true figure equals ``assumed``", NaN when the figure has no
    interval or no baseline:

    * proportion (``successes`` of ``n``): exact binomial test (``scipy.stats.binomtest``);
    * bootstrap replicates ``boot``: ``min(1, 2 x min(P*(boot <= assumed), P*(boot >= assumed)))``;
    * interval ``[low, high]`` at ``confidence``: ``z = log(value / assumed) / se`` with
      ``se = log(high / low) / (2 z_conf)`` when ``low > 0`` (log-symmetric interval), else
      ``z = (value - assumed) / se`` with ``se = (high - low) / (2 z_conf)``; referred to Student's t
      with ``df`` degrees of freedom when given (the MQL value's revenue part rests on
      ``customers − 1``), else to the normal.
    """
    if (m.untested or assumed is None or not np.isfinite(assumed) or m.value is None
            or not np.isfinite(m.value)):
        return float("nan")
    if m.successes is not None and m.n:
        if not 0 < assumed < 1:
            return float("nan")
        return float(st.binomtest(int(m.successes), int(m.n), float(assumed)).pvalue)
    if m.boot is not None and len(m.boot):
        boot = np.asarray(m.boot, dtype=float)
        return float(min(1.0, 2 * min(np.mean(boot <= assumed), np.mean(boot >= assumed))))
    if not (np.isfinite(m.low) and np.isfinite(m.high)) or m.high <= m.low:
        return float("nan")
    z_conf = st.norm.ppf(0.5 + confidence / 2)
    if m.low > 0 and m.value > 0 and assumed > 0:
        z = np.log(m.value / assumed) / (np.log(m.high / m.low) / (2 * z_conf))
    else:
        z = (m.value - assumed) / ((m.high - m.low) / (2 * z_conf))
    if m.df is not None and m.df >= 1:
        return float(2 * st.t.sf(abs(z), m.df))
    return float(2 * st.norm.sf(abs(z)))


def drift_row(figure: str, assumed: float, measured, tolerance: float, confidence: float = 0.95) -> dict:
    """One review line before the family-wise correction: ``drift = (measured − assumed) / assumed``,
    the test's raw ``p_value`` (:func:`drift_p_value`), ``tested`` (the figure has an interval and
    a baseline), ``beyond_tolerance`` (``|drift| > tolerance``). :func:`sla_review` sets ``flagged``."""
    m = _as_measured(measured)
    ok = (assumed is not None and np.isfinite(assumed) and assumed != 0 and m.value is not None
          and np.isfinite(m.value))
    drift = (m.value - assumed) / abs(assumed) if ok else np.nan
    p = drift_p_value(m, assumed, confidence) if ok else np.nan
    return {"figure": figure, "assumed": assumed, "measured": m.value, "low": m.low, "high": m.high, "drift": drift,
            "n": m.n if m.n is not None else np.nan, "p_value": p, "tested": bool(ok and np.isfinite(p)),
            "beyond_tolerance": bool(ok and abs(drift) > tolerance)}


REVIEW_COLUMNS = ["figure", "assumed", "measured", "low", "high", "n", "drift", "p_value", "p_adjusted", "compared",
                  "flagged", "changed_not_tested"]


def sla_review(cfg: SLAConfig, measured: dict, method: str = "holm-sidak") -> pd.DataFrame:
    """The review table from ``measured`` (``{"close_rate:<source>": Measured(...), "mql_value:<source>":
    ..., "attempt_cap": ..., "cost_per_call": ...}``; plain ``(value, low, high)`` tuples are accepted)
    against ``cfg`` (cost per call) and ``cfg.review_baseline`` (the close rates, MQL values and
    attempt cap the SLA was written with; figures without a baseline are listed, ``compared`` False,
    never flagged).

    A figure is **flagged** when it drifted beyond ``review_tolerance`` *and*, for a figure with an
    interval, its test still rejects "equal to the assumption" after a family-wise correction over
    all the figures tested in this review (``method``: Holm–Šidák step-down by default, ``statsmodels.stats.multitest``)
    at ``1 − confidence_level``; so with every figure truly as assumed, the chance that the review
    flags anything is at most ``1 − confidence_level``. A figure without an interval is never
    flagged: when it moved beyond the tolerance it is ``changed_not_tested`` ("changed, not tested":
    the data cannot say whether beyond chance)."""
    baseline = dict(cfg.review_baseline)
    baseline.setdefault("cost_per_call", cost.assumed_cost_per_call(cfg))
    rows = [drift_row(figure, baseline.get(figure, np.nan), m, cfg.review_tolerance, cfg.confidence_level)
            for figure, m in measured.items()]
    out = pd.DataFrame(rows, columns=["figure", "assumed", "measured", "low", "high", "n", "drift", "p_value",
                                      "tested", "beyond_tolerance"])
    out["p_adjusted"] = np.nan
    tested = out.tested.to_numpy(dtype=bool) if len(out) else np.zeros(0, dtype=bool)
    if tested.any():
        with np.errstate(divide="ignore"):  # a p-value of 1 (log1p(-1) in the Šidák step)
            _, adjusted, _, _ = multipletests(out.p_value[tested].to_numpy(), alpha=1 - cfg.confidence_level,
                                              method=method)
        out.loc[tested, "p_adjusted"] = adjusted
    out["compared"] = out.assumed.notna() & out.measured.notna() if len(out) else pd.Series(dtype=bool)
    evidence = (tested & (out.p_adjusted < 1 - cfg.confidence_level).to_numpy(dtype=bool)) if len(out) \
        else np.zeros(0, dtype=bool)
    out["flagged"] = (out.beyond_tolerance & evidence).astype(bool) if len(out) else pd.Series(dtype=bool)
    out["changed_not_tested"] = (out.beyond_tolerance & ~out.tested.astype(bool)).astype(bool) if len(out) \
        else pd.Series(dtype=bool)
    return out[REVIEW_COLUMNS]


def value_figures(values: pd.DataFrame, by: str = "source", min_customers: int = 30) -> dict[str, Measured]:
    """``close_rate:<group>`` (customers of MQLs, exact test) and ``mql_value:<group>`` (delta-method
    interval, t with customers − 1 df) from a :func:`sla_analysis.analyses.lead_value.mql_value_by_group`
    frame. A value resting on fewer than ``min_customers`` won deals is shown but not tested: deal
    sizes are skewed, and the mean of a few of them has a too-narrow interval (a simulation with
    log-normal deal sizes raised the false alarms above the promised rate)."""
    out: dict[str, Measured] = {}
    for r in values.itertuples():
        group = getattr(r, by)
        out[f"close_rate:{group}"] = Measured(r.close_rate, r.close_rate_low, r.close_rate_high,
                                              successes=int(r.customers), n=int(r.mqls))
        out[f"mql_value:{group}"] = Measured(r.mql_value, r.mql_value_low, r.mql_value_high, n=int(r.mqls),
                                             df=max(int(r.customers) - 1, 1),
                                             untested=int(r.customers) < min_customers)
    return out


def attempt_cap(crm: CRM, cfg: SLAConfig, as_of: datetime):
    """The recommended attempt cap as the attempt-cap page computed it (one computation per report,
    :func:`sla_analysis.analyses.attempt_cap.period_cap`): a ``CapRecommendation``, or None when there
    is none or the history cannot judge caps above it (the review must not call that "no drift")."""
    return reviewed_cap(ac.period_cap(crm, cfg, as_of))


def measured_figures(crm: CRM, cfg: SLAConfig, period: Period, cap=None) -> dict:
    """This period's figures to review (:func:`figures_to_review`), computed from ``crm``. ``cap``:
    the attempt-cap page's result (:func:`attempt_cap`), computed here when not given. A report
    reads the same figures from its graph (:mod:`sla_analysis.figures.compliance`)."""
    end = period.end_ts()
    s_from, s_to = lv.settled_window(end, cfg.stale_after_days, cfg.lookback_days)
    values = lv.mql_value_by_group(lv.source_funnel(crm, s_from, s_to, end), confidence=cfg.confidence_level,
                                   min_n=cfg.min_group_size)
    pace = cost.measured_pace(crm, period.start_ts(), end, confidence=cfg.confidence_level)
    return figures_to_review(cfg, values, pace, attempt_cap(crm, cfg, end) if cap is None else cap, crm.limits())


def figures_to_review(cfg: SLAConfig, values: pd.DataFrame, pace: pd.DataFrame, rec, limits: dict) -> dict:
    """Each a :class:`Measured`: close rate (with its counts) and MQL value per source (settled
    MQLs, ``values``: :func:`lead_value.mql_value_by_group`), the cost per call at the measured
    dialling pace (``pace``'s last row; its interval from the pace's), and the recommended attempt
    cap ``rec`` (a ``CapRecommendation`` or None) with its bootstrap replicates."""
    out: dict[str, Measured] = {}
    out.update(value_figures(values, min_customers=cfg.min_group_size))
    if len(pace) and "attempt_time" not in limits:
        last = pace.iloc[-1]
        pph, lo, hi = (float(last[c]) for c in ("calls_per_hour_dialling", "calls_per_hour_dialling_low",
                                                  "calls_per_hour_dialling_high"))
        if np.isfinite(pph) and pph > 0:  # a faster pace is a cheaper call: the interval's ends swap
            per_call = (lambda v: cost.cost_per_call(cfg.rep_hourly_cost, v) if np.isfinite(v) and v > 0 else np.nan)  # noqa: E731
            out["cost_per_call"] = Measured(per_call(pph), per_call(hi), per_call(lo))
    if rec is not None:
        out["attempt_cap"] = Measured(float(rec.recommended_attempts), float(rec.ci_low), float(rec.ci_high),
                                      boot=rec.boot_recommendations)
    return out


def reviewed_cap(found: ac.PeriodCap):
    """The period's cap (:func:`sla_analysis.analyses.attempt_cap.period_cap`) as the review judges
    it: a ``CapRecommendation``, or None when there is none or the history cannot judge caps above
    it (the review must not call that "no drift")."""
    found = ac.reviewable_cap(found)
    return None if found is None else found.cap.get()


def review_due(review: pd.DataFrame, period_end: datetime, sla_written: datetime | None, every_months: int) -> tuple[bool, str]:
    """Whether the data says the SLA is due for review, and why, in words: a flagged figure, or
    ``every_months`` since the SLA was written (``sla_written``)."""
    reasons = []
    flagged = review[review.flagged].figure.tolist() if len(review) else []
    moved = (review[review.beyond_tolerance.astype(bool) & ~review.flagged.astype(bool)].figure.tolist()
             if len(review) and "beyond_tolerance" in review else [])
    if flagged:
        reasons.append(f"{len(flagged)} figure{'s' if len(flagged) != 1 else ''} drifted beyond the tolerance "
                       f"and beyond chance ({', '.join(figure_words(f) for f in flagged)})"
                       + (f"; {len(moved)} more moved as far but within chance ({', '.join(figure_words(f) for f in moved)})"
                          if moved else ""))
    if sla_written is not None:
        last_day = (period_end - timedelta(days=1)).date() if isinstance(period_end, datetime) else period_end
        written = sla_written.date() if isinstance(sla_written, datetime) else sla_written
        due_on = review_due_date(written, every_months)
        if due_on <= last_day:
            reasons.append(f"the SLA's review fell due on {due_on:%d %b %Y} (written {written:%d %b %Y}, "
                           f"reviewed every {every_months} months)")
    return bool(reasons), "; ".join(reasons)


def add_months(d: date, months: int) -> date:
    """``d`` moved ``months`` calendar months on, the day kept where the month has it (31 Jan + 1
    month = 29 Feb in a leap year)."""
    y, m = divmod(d.month - 1 + months, 12)
    day = min(d.day, calendar.monthrange(d.year + y, m + 1)[1])
    return date(d.year + y, m + 1, day)


def review_due_date(sla_written: date, every_months: int) -> date:
    """The one rule for when an SLA is due for review, used by every page: ``every_months`` calendar
    months after the day it was written. A period is due when this date falls on or before its
    last day."""
    return add_months(sla_written, every_months)


def review_verdict(due: bool, why: str, tolerance: float, compared: int) -> str:
    """The review's one-line verdict for a sales leader: due (and why), not due after comparing
    ``compared`` figures, or not judged when nothing could be compared (no ``review_baseline`` and
    no measured figure with an assumption)."""
    if due:
        return f"Due: {why}."
    if not compared:
        return ("Not judged: no measured figure could be compared with an assumption of the SLA "
                "(the config has no review baseline, or the export cannot measure those figures).")
    return (f"Not due: none of the {compared} figure{'s' if compared != 1 else ''} compared with the SLA's "
            f"assumptions drifted by more than {tolerance:.0%} beyond what chance explains.")


def review_method_note(tolerance: float, confidence: float) -> str:
    """How the review decides, in a leader's words (the method's name and the settings file are in
    the page's "How this is computed" note)."""
    return ("The figures the SLA was written with against what the data measures now. A figure is "
            f"marked *review* when it drifted by more than {tolerance:.0%} and the data rules out chance even "
            f"after allowing for the number of figures checked at once, so with every assumption still "
            f"true the review raises a false alarm in at most {1 - confidence:.0%} of periods.")


def review_summary(review: pd.DataFrame, due: bool, why: str, tolerance: float) -> dict:
    """The ``sla_review`` section of summary.json: due, why, tolerance, how many figures were
    compared, the verdict sentence and each figure's assumed, measured, interval, drift, p-values
    and flag (absent figures are ``None``)."""
    def num(v):
        return None if v is None or (isinstance(v, float) and not np.isfinite(v)) else float(v)

    compared = int(review.compared.sum()) if len(review) else 0
    return {"due": bool(due), "why": why, "tolerance": tolerance, "compared": compared,
            "correction": "holm-sidak", "verdict": review_verdict(due, why, tolerance, compared),
            "figures": {r.figure: {"assumed": num(r.assumed), "measured": num(r.measured),
                                   "interval": [num(r.low), num(r.high)], "drift": num(r.drift),
                                   "p_adjusted": num(r.p_adjusted), "flagged": bool(r.flagged),
                                   "changed_not_tested": bool(getattr(r, "changed_not_tested", False))}
                        for r in review.itertuples()}}


def trend_summary(trend: pd.DataFrame) -> dict:
    """``summary.json["trend"]``: per period, MQLs, the top tier's share first touched within its
    window, MQL to SQL and the contact rate."""
    return {r.period: {"mqls": r.mqls, "first_touch_within_window": r.first_touch_within_window,
                       "mql_to_sql": r.mql_to_sql, "contact_rate": r.contact_rate} for r in trend.itertuples()}


def figure_words(name: str) -> str:
    """A review figure's name in words: ``close_rate:tradeshow`` -> ``tradeshow close rate``."""
    kind, _, group = name.partition(":")
    words = {"close_rate": "close rate", "mql_value": "value per MQL", "attempt_cap": "attempt cap",
             "cost_per_call": "cost per call"}.get(kind, kind.replace("_", " "))
    return f"{group} {words}" if group else words


def review_table(review: pd.DataFrame, currency: str = "USD") -> pd.DataFrame:
    """The review for the page: each figure in words, what the SLA assumes and what was measured
    written as the figure is (a close rate in per cent, a value in money, the cap in attempts), the
    interval, the drift, and "review" where it is flagged."""
    def write(name: str, v) -> str:
        kind = name.partition(":")[0]
        if v is None or (isinstance(v, float) and not np.isfinite(v)):
            return "–"
        if kind == "close_rate":
            return f"{100 * v:.1f}%"
        if kind in ("mql_value", "cost_per_call"):
            return money(v, currency, 2 if kind == "cost_per_call" else 0)
        return f"{v:,.0f}"
    out = review.copy()
    out["assumed_text"] = [write(f, v) for f, v in zip(review.figure, review.assumed)]
    out["measured_text"] = [write(f, v) for f, v in zip(review.figure, review.measured)]
    out["interval_text"] = ["–" if write(f, lo) == "–" else f"{write(f, lo)} – {write(f, hi)}"
                            for f, lo, hi in zip(review.figure, review.low, review.high)]
    untested = review.changed_not_tested if "changed_not_tested" in review else [False] * len(review)
    out["flag"] = ["review" if f else "changed, not tested" if u else "" for f, u in zip(review.flagged, untested)]
    out["figure"] = [figure_words(f) for f in review.figure]
    return out
