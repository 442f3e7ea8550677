"""Lead qualification and handoff quality (notebook 06): which leads marketing should pass to sales,
what happens to the ones sales sends back, and marketing's part of the pipeline.

Definitions (timestamps naive UTC, windows half-open ``[start, stop)``; see ``docs/handoff.md``):

* **Settled MQLs**: leads whose MQL moment (``mql_at``, else ``created_at``) lies in the settled
  window of :func:`sla_analysis.analyses.lead_value.settled_window` (old enough for their outcome to be
  known); outcomes **as of** the period end, as in :func:`sla_analysis.analyses.kpis.lead_funnel`: *SQL* =
  an SQL moment before ``as_of``, *customer* = a deal won as of ``as_of``, *revenue* = its amount.
* **Score**: ``score``; when the export has none, ``fit_score + interest_score``. Bands are
  ``width`` points wide with an edge at the MQL threshold (so the bands just below and just above it
  can be compared); bands with fewer than ``min_group_size`` MQLs at either end are pooled.
* **Value per MQL** = revenue per customer x close rate (seed 000); **cost of working an MQL** =
  its counted attempts (:func:`sla_analysis.analyses.cohorts.counted_attempts`) x the cost per attempt of
  their type, or ``lead_work_cost`` from the config; **net value** = value - cost.
* **Rejected**: ``rejected_at`` before ``as_of``; **recycled**: ``recycled_at`` before ``as_of``.
  The **return path** of a lead rejected (recycled) at ``t`` is followed for ``follow_days``: back
  as an MQL when ``t <= requalified_at < t + follow_days``; won later when it has a deal created at
  or after ``t`` and won before ``t + follow_days``. Only leads rejected (recycled) at least
  ``follow_days`` before ``as_of`` are counted, so every lead had the same time to come back.
* **Marketing-sourced**: ``marketing_sourced`` (empty counts as true, the contract's default);
  **marketing-influenced**: ``marketing_influenced`` or sourced (a sourced lead was touched by
  marketing). Shares of leads created, of pipeline (amount of deals created) and of won revenue
  (amount of deals won, dated by ``closed_at``) in the trailing window.

Per-lead tables stay Ibis expressions in the engine; only one row per band, group or reason
reaches pandas. Every rate has its n and an interval; groups under ``min_group_size`` are flagged.
"""
from __future__ import annotations

import math
from datetime import datetime, timedelta

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import numpy as np
import pandas as pd
from scipy import stats as st
from statsmodels.stats.proportion import confint_proportions_2indep

from sla_analysis.analyses import cost, kpis
from sla_analysis.analyses.cohorts import counted_attempts
from sla_analysis.analyses.lead_value import mql_value_by_group
from sla_analysis.analyses.stats import rate_table, shrunk_rates, wilson_interval
from sla_analysis.config import SLAConfig
from sla_analysis.formats import crm_text, money, pct
from sla_analysis.io.engine import CRM

NOT_RECORDED = "(not recorded)"
DAYS_PER_MONTH = 365.25 / 12

#: columns each section needs (any one of the alternatives); see :func:`unavailable`
_NEEDS = {
    "score": (("score",), ("fit_score", "interest_score")),
    "mql_type": (("mql_type",),),
    "rejection": (("rejected_at",),),
    "recycling": (("recycled_at",), ("rejected_at",)),
    "attribution": (("marketing_sourced",), ("marketing_influenced",)),
    "segment": (("segment",),),
    "persona": (("persona",),),
}
_WHY = {
    "score": "The leads have no score (nor fit_score and interest_score).",
    "mql_type": "The leads have no mql_type column (the offer that made each lead an MQL).",
    "rejection": "The leads have no rejected_at column: sales' rejections are not recorded.",
    "recycling": "The leads have neither recycled_at nor rejected_at: leads returned to marketing are not recorded.",
    "attribution": "The leads have neither marketing_sourced nor marketing_influenced.",
    "segment": "The leads have no segment column.",
    "persona": "The leads have no persona column.",
}


# --------------------------------------------------------------------------- availability

def has_values(crm: CRM, column: str, table: str = "leads") -> bool:
    """The export had ``column`` in ``table`` and at least one non-empty value in it."""
    if not (crm.has(table, column) and column in crm.tables[table].columns):
        return False
    return column in crm.filled_columns(table)


def unavailable(crm: CRM, section: str) -> str | None:
    """Why ``section`` (score, mql_type, rejection, recycling, attribution, segment, persona)
    cannot be computed from this export, or ``None`` when it can."""
    profile = crm.profile
    if section in _FACT:  # decided once, for every page, by the export's profile
        why = profile.reason(_FACT[section])
    else:
        ok = any(all(has_values(crm, c) for c in option) for option in _NEEDS[section])
        why = None if ok else _WHY[section]
        if ok and section == "recycling" and not profile.has("timeline"):  # what came after a return needs dates
            why = profile.reason("timeline")
    return None if why is None else f"{why[0].upper()}{why[1:]}" + ("" if why.endswith(".") else ".")


#: sections whose need is one fact of the export's profile (``io/export_profile.py``)
_FACT = {"score": "scores", "rejection": "rejected_dates"}


def score_column(crm: CRM) -> str | None:
    """``"score"``, ``"fit_score + interest_score"`` (the two halves added up) or ``None``."""
    if has_values(crm, "score"):
        return "score"
    if has_values(crm, "fit_score") and has_values(crm, "interest_score"):
        return "fit_score + interest_score"
    return None


def _float(value) -> float:
    """A scalar from the engine as float (NULL / None / NA -> NaN)."""
    return float("nan") if value is None or pd.isna(value) else float(value)


def _count(value) -> int:
    """A count from the engine as int (NULL, a sum over no rows, -> 0)."""
    v = _float(value)
    return 0 if math.isnan(v) else int(v)


def _col(crm: CRM, name: str, kind) -> ir.Value:
    """Leads column ``name``, or a typed NULL when the export lacked it."""
    return crm.leads[name] if has_values(crm, name) else ibis.null(kind)


# --------------------------------------------------------------------------- the settled MQLs

def mql_outcomes(crm: CRM, start: datetime, stop: datetime, as_of: datetime) -> ir.Table:
    """One row per MQL whose MQL moment lies in ``[start, stop)``, outcomes as of ``as_of``
    (:func:`sla_analysis.analyses.kpis.lead_funnel`): ``became_sql`` (an SQL moment before ``as_of``),
    ``customer`` (a deal won), ``revenue`` (won amount, 0 when none; NULL for every MQL when the
    deals have no amounts: unknown, not zero), and the leads' ``source``,
    ``segment``, ``persona``, ``mql_type``, ``score_value`` (score, or fit + interest),
    ``rejected_at``, ``rejection_reason``, ``recycled_at`` (NULL where the export lacks them)."""
    f = kpis.lead_funnel(crm, as_of)
    f = f.filter(f.mql_at.notnull() & (f.mql_at >= start) & (f.mql_at < stop))
    leads = crm.leads
    which = score_column(crm)
    score = (leads.score if which == "score" else leads.fit_score + leads.interest_score if which
             else ibis.null(dt.float64))
    extra = leads.select(
        "lead_id", "source",
        segment=_col(crm, "segment", dt.string), persona=_col(crm, "persona", dt.string),
        mql_type=_col(crm, "mql_type", dt.string), score_value=score.cast("float64"),
        rejected_at=_col(crm, "rejected_at", dt.timestamp), rejection_reason=_col(crm, "rejection_reason", dt.string),
        recycled_at=_col(crm, "recycled_at", dt.timestamp),
    )
    j = f.join(extra, "lead_id")
    revenue = j.won_amount.fill_null(0.0) if has_values(crm, "amount", "deals") else ibis.null(dt.float64)
    return j.select("lead_id", "mql_at", "source", "segment", "persona", "mql_type", "score_value", "rejected_at",
                    "rejection_reason", "recycled_at", became_sql=j.sql_at.notnull(), customer=j.won,
                    revenue=revenue)


def _funnel_aggregates(t: ir.Table) -> dict:
    return dict(mqls=t.count(), sqls=t.became_sql.sum(), customers=t.customer.sum(), revenue=t.revenue.sum(),
                revenue_sq=(t.revenue * t.revenue).sum(where=t.customer))


def conversion_table(counts: pd.DataFrame, by: str, confidence: float = 0.95, min_n: int = 30) -> pd.DataFrame:
    """Per group of a frame of counts (``mqls``, ``sqls``, ``customers``, ``revenue``,
    ``revenue_sq``): ``sql_rate`` = SQLs / MQLs and ``close_rate`` = customers / MQLs (Wilson
    intervals), ``avg_revenue_per_customer`` (t-interval), ``mql_value`` = revenue per customer x
    close rate (delta-method interval, :func:`sla_analysis.analyses.lead_value.mql_value_by_group`; 0 without
    an interval for a group without customers, NaN for every group when revenue is unknown),
    ``close_rate_shrunk`` (empirical Bayes, :func:`sla_analysis.analyses.stats.shrunk_rates`) and
    ``mql_value_shrunk`` = shrunk close rate x revenue per customer (the pooled one for groups
    with fewer than 5 customers): what groups are ranked by, so a small lucky group does not come
    first; ``small_sample`` (MQLs < ``min_n``) and ``few_customers`` (< 5)."""
    counts = counts.astype({c: float for c in ("mqls", "sqls", "customers", "revenue", "revenue_sq")})
    counts["revenue_sq"] = counts.revenue_sq.fillna(0.0)
    out = rate_table(counts, "sqls", "mqls", confidence, min_n, prefix="sql_rate")
    out = mql_value_by_group(out, by=by, confidence=confidence, min_n=min_n)
    known = out.revenue.notna()
    out.loc[(out.customers == 0) & (out.mqls > 0) & known, "mql_value"] = 0.0  # no customer: worth nothing so far
    out["close_rate_shrunk"] = shrunk_rates(out.customers, out.mqls)
    customers = float(out.customers.sum())
    pooled = (float(out.revenue.sum() / customers) if customers else 0.0) if known.all() else float("nan")
    per_customer = np.where(out.customers >= 5, out.avg_revenue_per_customer, pooled)
    out["mql_value_shrunk"] = np.where(known, out.close_rate_shrunk * per_customer, np.nan)
    out["revenue_sq"] = counts.revenue_sq.to_numpy()  # kept for the bootstrap of best_threshold
    return out.reset_index(drop=True)


def conversion_by(crm: CRM, by: str, start: datetime, stop: datetime, as_of: datetime,
                  confidence: float = 0.95, min_n: int = 30) -> pd.DataFrame:
    """:func:`conversion_table` of the settled MQLs per ``by`` (``mql_type``, ``segment``,
    ``persona``, ``source``); an empty value is its own group, ``(not recorded)``. Ordered by value
    per MQL shrunk toward the overall rate (``mql_value_shrunk``; by shrunk close rate when revenue is
    unknown), small groups last (flagged, not ranked)."""
    t = mql_outcomes(crm, start, stop, as_of)
    agg = t.group_by(group=t[by].fill_null(NOT_RECORDED)).aggregate(**_funnel_aggregates(t)).to_pandas()
    out = conversion_table(agg.rename(columns={"group": by}), by, confidence, min_n)
    key = "mql_value_shrunk" if out.mql_value_shrunk.notna().any() else "close_rate_shrunk"
    return out.sort_values(["small_sample", key, by], ascending=[True, False, True],
                           na_position="last").reset_index(drop=True)


# --------------------------------------------------------------------------- score bands

def nice_width(low: float, high: float, bands: int = 8) -> float:
    """A round band width (1, 2, 2.5 or 5 x 10^k) giving about ``bands`` bands over ``[low, high]``."""
    span = float(high) - float(low)
    if not np.isfinite(span) or span <= 0:
        return 1.0
    raw = span / bands
    base = 10 ** math.floor(math.log10(raw))
    return float(min((m * base for m in (1, 2, 2.5, 5, 10)), key=lambda w: abs(math.log(w / raw))))


def band_label(low: float, high: float, whole: bool) -> str:
    """``"50-59"`` for whole-number scores, ``"50 to 60"`` otherwise; ``"below 30"`` /
    ``"90 and above"`` for open ends."""
    def f(v: float) -> str:
        return f"{v:,.0f}" if float(v).is_integer() else f"{v:,.4g}"
    if not np.isfinite(low):
        return f"below {f(high)}"
    if not np.isfinite(high):
        return f"{f(low)} and above"
    if whole and float(low).is_integer() and float(high).is_integer():
        return f"{f(low)}-{f(high - 1)}" if high - low > 1 else f(low)
    return f"{f(low)} to {f(high)}"


def pool_bands(counts: pd.DataFrame, min_n: int, threshold: float | None = None) -> pd.DataFrame:
    """Merge the end bands of ``counts`` (``low``, ``high`` and count columns, ascending) into their
    neighbours while they hold fewer than ``min_n`` MQLs; the first band becomes open below
    (``low = -inf``) and the last open above. Bands never merge across ``threshold``."""
    sums = [c for c in counts.columns if c not in ("low", "high")]
    rows = counts.sort_values("low").to_dict("records")

    def merge(a: dict, b: dict) -> dict:
        return {"low": min(a["low"], b["low"]), "high": max(a["high"], b["high"]),
                **{c: a[c] + b[c] for c in sums}}

    def crosses(a: dict, b: dict) -> bool:
        return threshold is not None and min(a["high"], b["high"]) == threshold
    while len(rows) > 1 and rows[0]["mqls"] < min_n and not crosses(rows[0], rows[1]):
        rows[:2] = [merge(rows[0], rows[1])]
    while len(rows) > 1 and rows[-1]["mqls"] < min_n and not crosses(rows[-2], rows[-1]):
        rows[-2:] = [merge(rows[-2], rows[-1])]
    out = pd.DataFrame(rows, columns=counts.columns)
    if len(out):
        out.loc[out.index[0], "low"] = -np.inf
        out.loc[out.index[-1], "high"] = np.inf
    return out


def band_work_cost(crm: CRM, cfg: SLAConfig, t: ir.Table, start: datetime, stop: datetime,
                   as_of: datetime) -> pd.DataFrame:
    """Per band (``band`` column of ``t``): ``attempts`` and ``work_cost`` = Σ attempts x cost per
    attempt of their type (types without a configured rate are priced as calls), over the counted
    attempts of the MQLs in ``t``."""
    a = counted_attempts(crm, start, stop, as_of, numbered=False).select("lead_id", "type")
    j = a.join(t.select("lead_id", "band"), "lead_id")
    by_type = j.group_by(["band", "type"]).aggregate(n=j.count()).to_pandas()
    if not len(by_type):
        return pd.DataFrame({"band": pd.Series(dtype="int64"), "attempts": 0.0, "work_cost": 0.0})
    by_type["cost"] = by_type.n * [cost.cost_per_attempt(cfg, x) or cost.assumed_cost_per_call(cfg) for x in by_type["type"]]
    out = by_type.groupby("band", as_index=False).agg(attempts=("n", "sum"), work_cost=("cost", "sum"))
    return out.astype({"attempts": float, "work_cost": float})


def mql_work_cost(crm: CRM, cfg: SLAConfig, start: datetime, stop: datetime, as_of: datetime) -> float:
    """The cost of working an MQL, the one figure pages 06 and 07 quote: ``lead_work_cost`` when the
    config sets it, else Σ counted attempts x cost per attempt of their type over the MQLs whose MQL
    moment lies in ``[start, stop)`` (:func:`mql_outcomes`), divided by those MQLs (scored or not);
    NaN when no attempts are recorded or there are no MQLs."""
    if cfg.lead_work_cost is not None:
        return float(cfg.lead_work_cost)
    if "attempts" in crm.limits():
        return float("nan")
    t = mql_outcomes(crm, start, stop, as_of)
    n = int(t.count().execute())
    if not n:
        return float("nan")
    return float(band_work_cost(crm, cfg, t.mutate(band=ibis.literal(0)), start, stop, as_of).work_cost.sum() / n)


def score_bands(crm: CRM, cfg: SLAConfig, start: datetime, stop: datetime, as_of: datetime,
                work_cost_per_mql: float | None = None) -> pd.DataFrame:
    """Conversion, value and cost of working the settled MQLs by score band.

    Bands are ``width`` wide (``score_band_width``, else :func:`nice_width` of the 1st-99th
    percentile range) with an edge at ``mql_score_threshold`` (0 without one), pooled at the ends
    (:func:`pool_bands`). Per band: :func:`conversion_table` columns, ``attempts_per_mql``,
    ``work_cost_per_mql`` (measured, or ``lead_work_cost``), ``net_value_per_mql`` = value per MQL
    - cost of working it, ``low``/``high`` edges and ``band`` label. ``attrs``: ``score_column``,
    ``threshold``, ``width``, ``unscored`` (MQLs without a score), ``work_cost_source``,
    ``work_cost_per_mql`` (:func:`mql_work_cost`; computed here when not given).
    """
    t = mql_outcomes(crm, start, stop, as_of)
    scored = t.filter(t.score_value.notnull())
    unscored = int(t.filter(t.score_value.isnull()).count().execute())
    q = scored.aggregate(lo=scored.score_value.quantile(0.01), hi=scored.score_value.quantile(0.99),
                         whole=(scored.score_value != scored.score_value.floor()).sum()).to_pandas().iloc[0]
    width = float(cfg.score_band_width or nice_width(_float(q.lo), _float(q.hi)))
    origin = float(cfg.mql_score_threshold) if cfg.mql_score_threshold is not None else 0.0
    whole = _count(q.whole) == 0 and width.is_integer() and origin.is_integer()
    scored = scored.mutate(band=((scored.score_value - origin) / width).floor().cast("int64"))
    agg = scored.group_by("band").aggregate(**_funnel_aggregates(scored)).to_pandas()
    cost = band_work_cost(crm, cfg, scored, start, stop, as_of)
    agg = agg.merge(cost, on="band", how="left").fillna({"attempts": 0.0, "work_cost": 0.0, "revenue_sq": 0.0})
    agg["low"] = origin + agg.band * width  # band 0 starts exactly at the threshold
    agg["high"] = origin + (agg.band + 1) * width
    counts = agg.drop(columns="band")[["low", "high", "mqls", "sqls", "customers", "revenue", "revenue_sq",
                                       "attempts", "work_cost"]].astype(float)
    counts = pool_bands(counts, cfg.min_group_size, cfg.mql_score_threshold)
    counts.insert(0, "band", [band_label(lo, hi, whole) for lo, hi in zip(counts.low, counts.high)])
    out = conversion_table(counts, "band", cfg.confidence_level, cfg.min_group_size)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["attempts_per_mql"] = out.attempts / out.mqls
        measured = out.work_cost / out.mqls
    if "attempts" in crm.limits():  # no attempts recorded: their number and cost are unknown, not 0
        out["attempts_per_mql"] = np.nan
        measured = np.nan
    out["work_cost_per_mql"] = cfg.lead_work_cost if cfg.lead_work_cost is not None else measured
    out["net_value_per_mql"] = out.mql_value - out.work_cost_per_mql  # NaN when either is unknown
    out.attrs.update(score_column=score_column(crm), threshold=cfg.mql_score_threshold, width=width,
                     unscored=unscored, work_cost_per_mql=(mql_work_cost(crm, cfg, start, stop, as_of)
                                                            if work_cost_per_mql is None else work_cost_per_mql),
                     work_cost_source="config" if cfg.lead_work_cost is not None else "measured")
    return out


def net_value_unavailable(bands: pd.DataFrame, limits: dict[str, str] | None = None) -> str | None:
    """Why the net value of the MQLs (value per MQL - cost of working it) cannot be computed per
    band, or ``None``: the deals have no amounts (value unknown), or the cost of working an MQL is
    unknown (no attempts recorded and no ``lead_work_cost`` in the config)."""
    limits = limits or {}
    if len(bands) and bands.mql_value.isna().all():
        return limits.get("revenue") or "the deals have no amounts, so the value of an MQL is unknown"
    if len(bands) and bands.work_cost_per_mql.isna().all():
        return ((limits.get("attempts") or "no contact attempts are recorded")
                + "; set lead_work_cost in the config to price working an MQL")
    return None


def threshold_comparison(bands: pd.DataFrame, threshold: float | None, confidence: float = 0.95) -> dict:
    """The band just below ``threshold`` against the band just above it: each side's MQLs, SQL and
    close rates, and the differences (above - below) with Newcombe's interval for a difference of
    two proportions. ``separates`` = the SQL-rate difference's interval lies above 0. ``available``
    False (with ``reason``) when there is no threshold or no MQLs on one side."""
    if threshold is None:
        return {"available": False, "reason": "no MQL score threshold in the config (mql_score_threshold)"}
    below = bands[bands.high == threshold]
    above = bands[bands.low == threshold]
    if not len(below) or not len(above):
        side = "below" if not len(below) else "above"
        return {"available": False, "reason": f"no scored MQLs {side} the threshold of {threshold:g}"}
    b, a = below.iloc[0], above.iloc[0]
    out: dict = {"available": True, "threshold": threshold, "below": b.band, "above": a.band,
                 "mqls_below": int(b.mqls), "mqls_above": int(a.mqls)}
    for rate, count in (("sql_rate", "sqls"), ("close_rate", "customers")):
        lo, hi = confint_proportions_2indep(a[count], a.mqls, b[count], b.mqls, method="newcomb",
                                            compare="diff", alpha=1 - confidence)
        out[f"{rate}_below"], out[f"{rate}_above"] = float(b[rate]), float(a[rate])
        out[f"{rate}_difference"] = float(a[rate] - b[rate])
        out[f"{rate}_difference_ci"] = [float(lo), float(hi)]
    out["separates"] = out["sql_rate_difference_ci"][0] > 0
    return out


def split_at_threshold(bands: pd.DataFrame, threshold: float | None, confidence: float = 0.95) -> pd.DataFrame:
    """All the scored MQLs at or above ``threshold`` against all below it (bands are cut at the
    threshold, so the sides are sums of bands): ``side``, ``mqls``, ``sql_rate`` and ``close_rate``
    with Wilson intervals. Empty without a threshold."""
    if threshold is None or not len(bands):
        return pd.DataFrame(columns=["side", "mqls", "sqls", "customers"])
    above = bands.low >= threshold
    out = pd.DataFrame({"side": [f"{threshold:g} or more", f"below {threshold:g}"],
                        **{c: [float(bands.loc[above, c].sum()), float(bands.loc[~above, c].sum())]
                           for c in ("mqls", "sqls", "customers")}})
    out = rate_table(out, "sqls", "mqls", confidence, 0, prefix="sql_rate")
    return rate_table(out, "customers", "mqls", confidence, 0, prefix="close_rate").drop(columns="small_sample")


def threshold_words(edge: float | None) -> str:
    """A threshold in words: ``"every MQL"`` (the lowest band's open edge), ``"no MQL"`` (``None``:
    no band pays), else ``"MQLs scoring 30 or more"``."""
    if edge is None:
        return "no MQL"
    if not np.isfinite(edge):
        return "every MQL"
    return f"MQLs scoring {edge:g} or more"


def threshold_values(bands: pd.DataFrame, months: float) -> pd.DataFrame:
    """For each candidate threshold (each band's lower edge, lowest first): ``mqls_passed`` (MQLs
    at or above it, per month) and ``net_value_per_month`` = Σ over those bands of MQLs x net value
    per MQL / ``months``."""
    b = bands.sort_values("low").reset_index(drop=True)
    net = (b.mqls * b.net_value_per_mql)[::-1].cumsum()[::-1]
    return pd.DataFrame({"threshold": b.low, "band": b.band, "mqls_passed": b.mqls[::-1].cumsum()[::-1] / months,
                         "net_value_per_month": net / months})


def best_threshold(bands: pd.DataFrame, n_boot: int = 1000, seed: int = 0, confidence: float = 0.95) -> dict:
    """The threshold that maximises the net value of the MQLs passed, ``argmax_T Σ_{band >= T}
    MQLs_b x (value_b - cost_b)`` over the bands' lower edges (``"none"`` when no band pays), with
    an interval from a parametric bootstrap: per band the close rate ~ Beta(x + 1/2, n - x + 1/2)
    and the revenue per customer ~ Normal(mean, s.e.) (the pooled mean for bands with fewer than 2
    customers); costs held fixed. ``all_pay``: every band's net value is positive."""
    b = bands.sort_values("low").reset_index(drop=True)
    if not len(b):
        return {"threshold": None, "band": None, "ci": [None, None], "all_pay": False}
    why = net_value_unavailable(b)
    if why or not np.isfinite(b.net_value_per_mql.to_numpy(float)).all():
        return {"available": False, "reason": why or "a band's value or cost of working is unknown",
                "threshold": None, "band": None, "ci": [None, None], "ci_bands": [None, None], "all_pay": None}
    n, x = b.mqls.to_numpy(float), b.customers.to_numpy(float)
    rev, rev_sq = b.revenue.to_numpy(float), b.get("revenue_sq", pd.Series(0.0, index=b.index)).to_numpy(float)
    cost = b.work_cost_per_mql.to_numpy(float)
    mean = np.where(x > 0, rev / np.maximum(x, 1), 0.0)
    pooled = rev.sum() / x.sum() if x.sum() else 0.0
    with np.errstate(invalid="ignore", divide="ignore"):
        var = (rev_sq - x * mean ** 2) / (x - 1)
        se = np.where(x > 1, np.sqrt(np.maximum(var, 0) / x), np.nan)
    tot = x.sum()
    pooled_se = (np.sqrt(max((rev_sq.sum() - tot * pooled ** 2) / (tot - 1), 0) / tot) if tot > 1 else 0.0)
    mean = np.where(x > 1, mean, pooled)
    se = np.where(x > 1, se, pooled_se)

    def pick(value: np.ndarray) -> np.ndarray:
        net = n * (value - cost)
        tail = np.cumsum(net[..., ::-1], axis=-1)[..., ::-1]  # net value of passing bands >= each
        tail = np.concatenate([tail, np.zeros(tail.shape[:-1] + (1,))], axis=-1)  # last: pass none
        return np.argmax(tail, axis=-1)

    value = np.where(n > 0, x / np.maximum(n, 1), 0.0) * mean
    best = int(pick(value))
    rng = np.random.default_rng(seed)
    p = rng.beta(x + 0.5, n - x + 0.5, size=(n_boot, len(b)))
    r = np.maximum(rng.normal(mean, se, size=(n_boot, len(b))), 0)
    picks = pick(p * r)
    lo, hi = np.quantile(picks, [(1 - confidence) / 2, (1 + confidence) / 2], method="nearest")
    edges = [*b.low.tolist(), None]
    labels = [*b.band.tolist(), "none"]
    return {"threshold": edges[best], "band": labels[best], "ci": [edges[int(lo)], edges[int(hi)]],
            "ci_bands": [labels[int(lo)], labels[int(hi)]], "all_pay": bool((value - cost > 0).all()),
            "net_value_per_mql": (value - cost).tolist()}


# --------------------------------------------------------------------------- rejections

def rejection_by(crm: CRM, by: str, start: datetime, stop: datetime, as_of: datetime,
                 confidence: float = 0.95, min_n: int = 30) -> pd.DataFrame:
    """Per ``by`` group of the settled MQLs: ``mqls``, ``rejected`` (``rejected_at`` before
    ``as_of``), ``rejection_rate`` = rejected / MQLs (Wilson), ``median_days`` and ``p90_days`` from
    the MQL moment to the rejection, ``small_sample``. A first row ``all`` pools the groups."""
    t = mql_outcomes(crm, start, stop, as_of)
    rej = t.rejected_at.notnull() & (t.rejected_at < as_of)
    t = t.mutate(_rej=rej, _days=ibis.ifelse(rej, (t.rejected_at.epoch_seconds() - t.mql_at.epoch_seconds())
                                                   / 86400.0, ibis.null(dt.float64)))
    stats = dict(mqls=t.count(), rejected=t._rej.sum(), median_days=t._days.quantile(0.5),
                 p90_days=t._days.quantile(0.9))
    per = t.group_by(group=t[by].fill_null(NOT_RECORDED)).aggregate(**stats).order_by("group").to_pandas()
    allg = t.aggregate(**stats).to_pandas().assign(group="all")
    out = pd.concat([allg, per], ignore_index=True).rename(columns={"group": by})
    out = out.astype({"mqls": float, "rejected": float}).fillna({"rejected": 0.0})
    out = rate_table(out, "rejected", "mqls", confidence, min_n, prefix="rejection_rate")
    if not crm.profile.has("timeline"):  # days from MQL to rejection between dates the export does not order
        out[["median_days", "p90_days"]] = np.nan
        out.attrs["why_days"] = crm.profile.reason("timeline")
    return out[[by, "mqls", "rejected", "rejection_rate", "rejection_rate_low", "rejection_rate_high",
                "median_days", "p90_days", "small_sample"]]


def rejection_reasons(crm: CRM, start: datetime, stop: datetime, as_of: datetime,
                      confidence: float = 0.95) -> pd.DataFrame:
    """Per ``rejection_reason`` (empty: ``(not recorded)``) of the settled MQLs rejected before
    ``as_of``: ``rejected``, ``share`` of the rejections (Wilson) and ``rate`` = rejected for that
    reason / all settled MQLs (Wilson), most frequent first."""
    t = mql_outcomes(crm, start, stop, as_of)
    mqls = _count(t.count().execute())
    r = t.filter(t.rejected_at.notnull() & (t.rejected_at < as_of))
    out = r.group_by(reason=r.rejection_reason.fill_null(NOT_RECORDED)).aggregate(rejected=r.count()).to_pandas()
    out["rejected"] = out.rejected.astype(float)
    total = out.rejected.sum()
    out["all_rejected"], out["mqls"] = total, float(mqls)
    out = rate_table(out, "rejected", "all_rejected", confidence, 0, prefix="share")
    out = rate_table(out, "rejected", "mqls", confidence, 0, prefix="rate")
    return out.sort_values(["rejected", "reason"], ascending=[False, True]).drop(columns="small_sample") \
        .reset_index(drop=True)


def handoff_outcomes(crm: CRM, start: datetime, stop: datetime, as_of: datetime,
                     confidence: float = 0.95) -> pd.DataFrame:
    """Where the settled MQLs ended as of ``as_of``, each counted once, in this order: *became an
    SQL*; *rejected by sales*; *recycled to marketing*; *never contacted* (no attempt before
    ``as_of``); *contacted, no decision recorded* (the rest: neither accepted, rejected nor
    returned). Without contact attempts in the export the last two are one row, *no decision
    recorded*: "never contacted" cannot be told. ``share`` of the MQLs with a Wilson interval."""
    t = mql_outcomes(crm, start, stop, as_of)
    if "attempts" in crm.limits():  # whether a lead was contacted is unknown: one row for the rest
        rej = t.rejected_at.notnull() & (t.rejected_at < as_of)
        rec = t.recycled_at.notnull() & (t.recycled_at < as_of)
        names = ["became an SQL", "rejected by sales", "recycled to marketing",
                 "no decision recorded (contact attempts are not in the export)"]
        outcome = ibis.cases((t.became_sql, names[0]), (rej, names[1]), (rec, names[2]), else_=names[3])
        agg = t.group_by(outcome=outcome).aggregate(mqls=t.count()).to_pandas()
        out = pd.DataFrame({"outcome": names}).merge(agg, on="outcome", how="left").fillna({"mqls": 0})
        out["mqls"] = out.mqls.astype(float)
        out["all"] = out.mqls.sum()
        return _unrecorded_outcomes(crm, rate_table(out, "mqls", "all", confidence, 0, prefix="share")
                                    .drop(columns=["all", "small_sample"]))
    a = crm.activities
    touched = a.filter(a.occurred_at < as_of).select("lead_id").distinct()
    t = t.left_join(touched.mutate(_touched=ibis.literal(True)), "lead_id").drop("lead_id_right")
    rej = t.rejected_at.notnull() & (t.rejected_at < as_of)
    rec = t.recycled_at.notnull() & (t.recycled_at < as_of)
    names = ["became an SQL", "rejected by sales", "recycled to marketing", "never contacted",
             "contacted, no decision recorded"]
    outcome = ibis.cases((t.became_sql, names[0]), (rej, names[1]), (rec, names[2]),
                         (t._touched.isnull(), names[3]), else_=names[4])
    agg = t.group_by(outcome=outcome).aggregate(mqls=t.count()).to_pandas()
    out = pd.DataFrame({"outcome": names}).merge(agg, on="outcome", how="left").fillna({"mqls": 0})
    out["mqls"] = out.mqls.astype(float)
    out["all"] = out.mqls.sum()
    out = rate_table(out, "mqls", "all", confidence, 0, prefix="share")
    return _unrecorded_outcomes(crm, out.drop(columns=["all", "small_sample"]))


#: an outcome row, and the fact of the export's profile it needs
OUTCOME_NEEDS = {"rejected by sales": "rejected_dates", "recycled to marketing": "recycled_dates"}


def _unrecorded_outcomes(crm: CRM, out: pd.DataFrame) -> pd.DataFrame:
    """Outcomes the export does not record (no ``rejected_at``, no ``recycled_at``) are unknown, not
    0 MQLs: their counts and shares are NaN and ``attrs["unavailable"]`` maps each to the reason."""
    missing = {name: crm.profile.reason(fact) for name, fact in OUTCOME_NEEDS.items() if not crm.profile.has(fact)}
    sel = out.outcome.isin(list(missing))
    out.loc[sel, [c for c in out.columns if c != "outcome"]] = np.nan
    out.attrs["unavailable"] = missing
    return out


def unrecorded_outcomes_sentence(outcomes: pd.DataFrame) -> str:
    """Under :func:`handoff_outcomes`: why each outcome the export does not record has no count."""
    return " ".join(f"*{o[0].upper()}{o[1:]}*: not available: {why}." for o, why in outcomes.attrs["unavailable"].items())


# --------------------------------------------------------------------------- the return path

def return_window(as_of: datetime, follow_days: int, lookback_days: int) -> tuple[datetime, datetime]:
    """Leads returned in ``[as_of - follow - lookback, as_of - follow)``: each followed for
    ``follow_days`` before ``as_of``."""
    stop = as_of - timedelta(days=int(follow_days))
    return stop - timedelta(days=int(lookback_days)), stop


def return_path(crm: CRM, as_of: datetime, follow_days: int, lookback_days: int,
                confidence: float = 0.95, min_n: int = 30) -> pd.DataFrame:
    """Per kind of return (``rejected by sales``: ``rejected_at``; ``recycled to marketing``:
    ``recycled_at``; kinds the export lacks are left out), the leads returned in
    :func:`return_window` and, within ``follow_days`` of their return: ``requalified`` (back as
    MQLs; NaN without ``requalified_at``) and ``won`` (a deal created at or after the return and
    won before its end; ``won_revenue`` its amount), each as a share with a Wilson interval."""
    start, stop = return_window(as_of, follow_days, lookback_days)
    follow = ibis.interval(days=int(follow_days))
    leads, d = crm.leads, crm.deals
    closed = d.closed_at if has_values(crm, "closed_at", "deals") else ibis.null(dt.timestamp)
    amount = d.amount.fill_null(0.0) if has_values(crm, "amount", "deals") else ibis.literal(0.0)
    won = d.filter(d.stage == "won").select("lead_id", deal_at=d.created_at, closed=closed, amount=amount)
    has_requalified = has_values(crm, "requalified_at")
    rows = []
    for kind, col in (("rejected by sales", "rejected_at"), ("recycled to marketing", "recycled_at")):
        if not has_values(crm, col):
            continue
        c = leads.select("lead_id", returned_at=leads[col],
                         requalified_at=_col(crm, "requalified_at", dt.timestamp))
        c = c.filter(c.returned_at.notnull() & (c.returned_at >= start) & (c.returned_at < stop))
        end = c.returned_at + follow
        back = c.requalified_at.notnull() & (c.requalified_at >= c.returned_at) & (c.requalified_at < end)
        w = c.join(won, "lead_id")
        w_end = w.returned_at + follow
        w = w.filter((w.deal_at >= w.returned_at)
                     & ((w.closed.isnull() & (w.deal_at < w_end)) | (w.closed < w_end)))
        per = w.group_by("lead_id").aggregate(won_amount=w.amount.sum())
        row = c.aggregate(leads=c.count(), requalified=back.sum()).to_pandas().iloc[0]
        got = per.aggregate(won=per.count(), won_revenue=per.won_amount.sum()).to_pandas().iloc[0]
        rows.append({"kind": kind, "leads": _count(row.leads),
                     "requalified": _count(row.requalified) if has_requalified else np.nan,
                     "won": _count(got.won),
                     "won_revenue": (np.nan if not crm.profile.has("amounts") else
                                     _float(got.won_revenue) if _count(got.won) else 0.0)})
    out = pd.DataFrame(rows, columns=["kind", "leads", "requalified", "won", "won_revenue"])
    out = out.astype({"leads": float, "requalified": float, "won": float, "won_revenue": float})
    out = rate_table(out, "requalified", "leads", confidence, min_n, prefix="requalified_share")
    out = rate_table(out, "won", "leads", confidence, min_n, prefix="won_share")
    if not crm.profile.has("timeline"):  # whether a deal came after the return cannot be told
        out[[c for c in out.columns if c.startswith(("requalified", "won"))]] = np.nan
        out.attrs["why_unknown"] = crm.profile.reason("timeline")
    out.attrs.update(window=(start, stop), follow_days=int(follow_days))
    return out


# --------------------------------------------------------------------------- sourced vs influenced

def ratio_share_interval(sum_y, sum_xy, sum_yy, sum_xyy, n, confidence: float = 0.95):
    """Share ``R = Σ x·y / Σ y`` of a total (e.g. won revenue) held by the rows with ``x = 1``
    (e.g. marketing-sourced deals), with a linearisation (delta-method) standard error
    ``se(R)² = n / (n - 1) x [(1 - 2R) Σ x·y² + R² Σ y²] / (Σ y)²``, the interval taken on the logit
    scale (``logit R ± z se / (R (1 - R))``, which keeps it inside [0, 1] and covers better with
    skewed amounts); at R = 0 or 1 the plain interval, clipped. Returns ``(R, low, high)``; NaN
    without a positive total, no interval below 2 rows."""
    y, xy, yy, xyy, n = (np.asarray(v, dtype=float) for v in (sum_y, sum_xy, sum_yy, sum_xyy, n))
    z = st.norm.ppf(0.5 + confidence / 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.where(y > 0, xy / y, np.nan)
        var = n / (n - 1) * ((1 - 2 * r) * xyy + r ** 2 * yy) / y ** 2
        se = np.sqrt(np.maximum(var, 0))
        inner = (r > 0) & (r < 1)
        centre = np.log(np.where(inner, r, 0.5) / (1 - np.where(inner, r, 0.5)))
        half = z * se / np.where(inner, r * (1 - r), 1)
        low = np.where(inner, 1 / (1 + np.exp(-(centre - half))), np.clip(r - z * se, 0, 1))
        high = np.where(inner, 1 / (1 + np.exp(-(centre + half))), np.clip(r + z * se, 0, 1))
        ok = (y > 0) & (n > 1)
        return r, np.where(ok, low, np.nan), np.where(ok, high, np.nan)


def attribution(crm: CRM, start: datetime, stop: datetime, confidence: float = 0.95) -> pd.DataFrame:
    """Marketing-sourced and marketing-influenced shares (module docstring) over ``[start, stop)``:
    of the leads created (``leads_share``, Wilson), of the pipeline (amount of the deals created,
    ``pipeline_share``) and of won revenue (amount of the deals won, dated by ``closed_at``, else by
    ``created_at``: ``won_revenue_share``), the last two with :func:`ratio_share_interval`. One row
    per measure the export has (``marketing-sourced``, ``marketing-influenced``), with the counts
    and totals behind the shares."""
    leads = crm.leads
    flags = {}
    sourced = leads.marketing_sourced.fill_null(True) if has_values(crm, "marketing_sourced") else None
    if sourced is not None:
        flags["marketing-sourced"] = sourced
    if has_values(crm, "marketing_influenced"):
        infl = leads.marketing_influenced.fill_null(False)
        flags["marketing-influenced"] = infl | sourced if sourced is not None else infl
    if not flags:
        return pd.DataFrame()
    lf = leads.select("lead_id", "created_at", **{f"_f{i}": v.cast("int32").cast("int64") for i, v in enumerate(flags.values())})
    d = crm.deals
    amount = d.amount.fill_null(0.0) if has_values(crm, "amount", "deals") else ibis.literal(0.0)
    won_at = d.closed_at.fill_null(d.created_at) if has_values(crm, "closed_at", "deals") else d.created_at
    deals = d.select("lead_id", "created_at", "stage", y=amount, won_at=won_at).join(
        lf.drop("created_at"), "lead_id")
    new_leads = lf.filter((lf.created_at >= start) & (lf.created_at < stop))
    pipe = deals.filter((deals.created_at >= start) & (deals.created_at < stop))
    won = deals.filter((deals.stage == "won") & (deals.won_at >= start) & (deals.won_at < stop))

    def sums(t: ir.Table, i: int) -> dict:
        x = t[f"_f{i}"]
        return {f"n{i}": t.count(), f"y{i}": t.y.sum(), f"xy{i}": (x * t.y).sum(), f"yy{i}": (t.y * t.y).sum(),
                f"xyy{i}": (x * t.y * t.y).sum(), f"x{i}": x.sum()}
    idx = range(len(flags))
    lead_row = new_leads.aggregate(n=new_leads.count(), **{f"x{i}": new_leads[f"_f{i}"].sum() for i in idx}) \
        .to_pandas().iloc[0]
    pipe_row = pipe.aggregate(**{k: v for i in idx for k, v in sums(pipe, i).items()}).to_pandas().iloc[0]
    won_row = won.aggregate(**{k: v for i in idx for k, v in sums(won, i).items()}).to_pandas().iloc[0]
    rows = []
    for i, name in enumerate(flags):
        row = {"measure": name, "leads": _count(lead_row.n), "leads_flagged": _count(lead_row[f"x{i}"])}
        for key, r in (("pipeline", pipe_row), ("won_revenue", won_row)):
            n = _count(r[f"n{i}"])
            share, lo, hi = ratio_share_interval(*(_float(r[f"{k}{i}"]) if n else 0.0
                                                   for k in ("y", "xy", "yy", "xyy")), n, confidence)
            row.update({f"{key}_deals": n, f"{key}_deals_flagged": _count(r[f"x{i}"]),
                        f"{key}_total": _float(r[f"y{i}"]) if n else 0.0,
                        f"{key}_flagged": _float(r[f"xy{i}"]) if n else 0.0,
                        f"{key}_share": float(share), f"{key}_share_low": float(lo), f"{key}_share_high": float(hi)})
        rows.append(row)
    out = pd.DataFrame(rows)
    out["leads_share"] = np.where(out.leads > 0, out.leads_flagged / out.leads.where(out.leads > 0, 1), np.nan)
    out["leads_share_low"], out["leads_share_high"] = wilson_interval(out.leads_flagged, out.leads, confidence)
    return out


# --------------------------------------------------------------------------- summary.json

def group_summary(frame: pd.DataFrame, key: str) -> dict:
    """``{group: {mqls, sqls, sql_rate, sql_rate_ci, customers, close_rate, close_rate_ci, mql_value,
    mql_value_ci, small_sample}}`` from a :func:`conversion_table` frame, for ``summary.json``."""
    return {str(r[key]): {"mqls": r["mqls"], "sqls": r["sqls"], "sql_rate": r["sql_rate"],
                          "sql_rate_ci": [r["sql_rate_low"], r["sql_rate_high"]], "customers": r["customers"],
                          "close_rate": r["close_rate"], "close_rate_ci": [r["close_rate_low"], r["close_rate_high"]],
                          "mql_value": r["mql_value"], "mql_value_ci": [r["mql_value_low"], r["mql_value_high"]],
                          "small_sample": bool(r["small_sample"])}
            for r in frame.to_dict("records")}


def months_between(start: datetime, stop: datetime) -> float:
    """Length of ``[start, stop)`` in months of 365.25 / 12 days."""
    return max((stop - start).total_seconds() / 86400.0 / DAYS_PER_MONTH, 0.0)


def count_mqls(crm: CRM, start: datetime, stop: datetime, as_of: datetime) -> int:
    """MQLs whose MQL moment lies in ``[start, stop)`` (as of ``as_of``)."""
    return _count(mql_outcomes(crm, start, stop, as_of).count().execute())


def band_rates_long(bands: pd.DataFrame) -> pd.DataFrame:
    """The score bands' SQL and close rates in long form for a chart: ``band``, ``measure``
    (``became SQL`` / ``became customer``), ``rate``, ``low``, ``high``."""
    parts = [bands[["band", f"{p}", f"{p}_low", f"{p}_high"]].set_axis(["band", "rate", "low", "high"], axis=1)
             .assign(measure=name) for p, name in (("sql_rate", "became SQL"), ("close_rate", "became customer"))]
    return pd.concat(parts, ignore_index=True)


def _ci(row: dict, prefix: str) -> list:
    return [row[f"{prefix}_low"], row[f"{prefix}_high"]]


def score_summary(bands: pd.DataFrame, comparison: dict, best: dict, sides: pd.DataFrame | None = None) -> dict:
    """The ``handoff.score`` entry of ``summary.json`` (``sides``: :func:`split_at_threshold`)."""
    return {"available": True,
            "sides": {} if sides is None else {
                r["side"]: {"mqls": r["mqls"], "sql_rate": r["sql_rate"], "sql_rate_ci": _ci(r, "sql_rate"),
                            "close_rate": r["close_rate"], "close_rate_ci": _ci(r, "close_rate")}
                for r in sides.to_dict("records")}, "score_column": bands.attrs.get("score_column"),
            "threshold": bands.attrs.get("threshold"), "band_width": bands.attrs.get("width"),
            "unscored_mqls": bands.attrs.get("unscored"), "work_cost_source": bands.attrs.get("work_cost_source"),
            "bands": {r["band"]: {"low": r["low"], "high": r["high"], "mqls": r["mqls"], "sqls": r["sqls"],
                                  "sql_rate": r["sql_rate"], "sql_rate_ci": _ci(r, "sql_rate"),
                                  "customers": r["customers"], "close_rate": r["close_rate"],
                                  "close_rate_ci": _ci(r, "close_rate"), "mql_value": r["mql_value"],
                                  "mql_value_ci": _ci(r, "mql_value"), "work_cost_per_mql": r["work_cost_per_mql"],
                                  "net_value_per_mql": r["net_value_per_mql"], "small_sample": bool(r["small_sample"])}
                      for r in bands.to_dict("records")},
            "threshold_test": comparison,
            "best_threshold": {k: v for k, v in best.items() if k != "net_value_per_mql"}}


def rejection_summary(by_source: pd.DataFrame, reasons: pd.DataFrame | None, outcomes: pd.DataFrame) -> dict:
    """The ``handoff.rejection`` entry of ``summary.json`` (``by_source`` from :func:`rejection_by`,
    its ``all`` row as the totals)."""
    rows = by_source.to_dict("records")
    total = rows[0]
    return {"available": True, "mqls": total["mqls"], "rejected": total["rejected"],
            "rate": total["rejection_rate"], "rate_ci": _ci(total, "rejection_rate"),
            "median_days": total["median_days"], "p90_days": total["p90_days"],
            "by_source": {r["source"]: {"mqls": r["mqls"], "rejected": r["rejected"], "rate": r["rejection_rate"],
                                        "rate_ci": _ci(r, "rejection_rate"), "median_days": r["median_days"],
                                        "small_sample": bool(r["small_sample"])} for r in rows[1:]},
            "by_reason": None if reasons is None else {
                r["reason"]: {"rejected": r["rejected"], "share": r["share"], "share_ci": _ci(r, "share"),
                              "rate": r["rate"], "rate_ci": _ci(r, "rate")} for r in reasons.to_dict("records")},
            "outcomes": {r["outcome"]: {"mqls": r["mqls"], "share": r["share"], "share_ci": _ci(r, "share")}
                         for r in outcomes.to_dict("records")}}


def return_path_summary(paths: pd.DataFrame) -> dict:
    """The ``handoff.return_path`` entry of ``summary.json``."""
    start, stop = paths.attrs["window"]
    key = {"rejected by sales": "rejected", "recycled to marketing": "recycled"}
    return {"available": True, "window": [f"{start:%Y-%m-%d}", f"{stop:%Y-%m-%d}"],
            "follow_days": paths.attrs["follow_days"],
            **{key[r["kind"]]: {"leads": r["leads"], "requalified": r["requalified"],
                                "requalified_share": r["requalified_share"],
                                "requalified_share_ci": _ci(r, "requalified_share"), "won": r["won"],
                                "won_share": r["won_share"], "won_share_ci": _ci(r, "won_share"),
                                "won_revenue": r["won_revenue"]} for r in paths.to_dict("records")}}


def attribution_summary(shares: pd.DataFrame, start: datetime, stop: datetime, marketing_share: float) -> dict:
    """The ``handoff.attribution`` entry of ``summary.json``."""
    key = {"marketing-sourced": "sourced", "marketing-influenced": "influenced"}
    out = {"available": True, "window": [f"{start:%Y-%m-%d}", f"{stop:%Y-%m-%d}"],
           "marketing_share_assumed": marketing_share}
    for r in shares.to_dict("records"):
        out[key[r["measure"]]] = {
            "leads": r["leads"], "leads_share": r["leads_share"], "leads_share_ci": _ci(r, "leads_share"),
            "pipeline_deals": r["pipeline_deals"], "pipeline_share": r["pipeline_share"],
            "pipeline_share_ci": _ci(r, "pipeline_share"), "won_deals": r["won_revenue_deals"],
            "won_revenue_share": r["won_revenue_share"], "won_revenue_share_ci": _ci(r, "won_revenue_share")}
    return out


def shares_long(shares: pd.DataFrame) -> pd.DataFrame:
    """:func:`attribution` in long form for a chart: ``of`` (leads / pipeline / won revenue),
    ``measure``, ``share``."""
    names = {"leads_share": "leads", "pipeline_share": "pipeline", "won_revenue_share": "won revenue"}
    long = shares.melt(id_vars="measure", value_vars=list(names), var_name="of", value_name="share")
    return long.assign(of=long["of"].map(names))


# --------------------------------------------------------------------------- the page's sentences

def threshold_sentence(comparison: dict, sides: pd.DataFrame) -> str:
    """What the MQL score threshold does, at the line itself, in words (or why it cannot be checked)."""
    both = len(sides) == 2 and (sides.mqls > 0).all()
    text = (f"MQLs scoring **{sides.side[0]}** became customers at {pct(sides.close_rate[0])}, those **{sides.side[1]}** "
            f"at {pct(sides.close_rate[1])}. " if both else "")
    if not comparison["available"]:
        return text + f"The MQL threshold cannot be checked: {comparison['reason']}."
    lo, hi = comparison["sql_rate_difference_ci"]
    return text + (f"**At the threshold of {comparison['threshold']:g}**, MQLs just above it became SQLs at "
                   f"{pct(comparison['sql_rate_above'])} ({comparison['mqls_above']:,} MQLs), those just below at "
                   f"{pct(comparison['sql_rate_below'])} ({comparison['mqls_below']:,}): a difference of "
                   f"{100 * comparison['sql_rate_difference']:+.1f} points (interval {100 * lo:+.1f} to {100 * hi:+.1f}). "
                   + ("**The threshold separates better leads from worse ones.**" if comparison["separates"] else
                      "**The data cannot tell the bands either side of the line apart**: moving the line by a band makes "
                      "little difference, even where MQLs well above it convert more often than those well below."))


def best_threshold_sentence(best: dict, bands: pd.DataFrame, currency: str = "USD") -> str:
    """Which MQLs to pass on the net value a month, with what the data can tell apart."""
    avg_cost = bands.attrs.get("work_cost_per_mql")
    if avg_cost is None:                   # a table built without score_bands: its own average
        avg_cost = float((bands.work_cost_per_mql * bands.mqls).sum() / bands.mqls.sum())
    low, high = best["ci"]
    cost = money(avg_cost, currency)
    return (f"Each bar is what passing only the MQLs of that band and above would have been worth a month, net of the "
            f"cost of working them ({'set in the SLA' if bands.attrs.get('work_cost_source') == 'config' else 'their attempts'}: "
            f"{cost} an MQL on average, over all these MQLs). The highest bar says: **pass {threshold_words(best['threshold'])}**"
            + (f"; anything from {threshold_words(low)} to {threshold_words(high)} is within what the data can tell apart."
               if low != high else ".")
            + (" Every band is worth more than it costs to work: on these figures sales should take every MQL." if best["all_pay"] else "")
            + " This counts value only, as if the team had the time to work every MQL it is passed; when it has not, a "
              "higher threshold sends it the better MQLs first (the Proposed SLA page weighs the threshold against the "
              "team's hours).")


def ranked_sentence(table: pd.DataFrame, col: str, label: str, currency: str = "USD") -> str:
    """The most and least valuable groups, ranked on the shrunk value, never when values are absent."""
    ranked = table[~table.small_sample & table.mql_value.notna()]
    if len(ranked) < 2:
        return ""
    top, low = ranked.iloc[0], ranked.iloc[-1]
    return (f"The most valuable {label} was **{crm_text(top[col])}** at {money(top.mql_value, currency)} per MQL "
            f"({pct(top.close_rate)} became customers); the least, **{crm_text(low[col])}**, at {money(low.mql_value, currency)}.")


def rejection_sentence(rej: pd.DataFrame) -> str:
    """How often sales rejected MQLs, how fast, and the sources rejected most and least."""
    total, per = rej.iloc[0], rej.iloc[1:]
    ranked = per[~per.small_sample].sort_values("rejection_rate")
    when = (f"a median of {total.median_days:.1f} days after they became MQLs" if np.isfinite(total.median_days) else
            f"how long after they became MQLs is not available: {rej.attrs.get('why_days') or 'no rejection is dated'}")
    text = f"Sales rejected **{pct(total.rejection_rate)} of the MQLs** ({total.rejected:,.0f} of {total.mqls:,.0f}), {when}."
    if len(ranked) > 1 and total.rejected > 0:
        text += (f" Leads from **{crm_text(ranked.source.iloc[-1])}** were rejected most often ({pct(ranked.rejection_rate.iloc[-1])}), "
                 f"from **{crm_text(ranked.source.iloc[0])}** least ({pct(ranked.rejection_rate.iloc[0])}).")
    return text


def attribution_sentence(shares: pd.DataFrame, days: int) -> str:
    """Marketing's sourced and influenced shares of leads, pipeline and won revenue, in words."""
    s = shares.set_index("measure")
    parts = [f"{m} leads made {pct(s.loc[m, 'leads_share'])} of the leads, {pct(s.loc[m, 'pipeline_share'])} of the "
             f"pipeline and **{pct(s.loc[m, 'won_revenue_share'])} of the won revenue**" for m in s.index]
    return f"Over the last {days} days: " + "; ".join(parts) + "."


def settled_sentence(mqls: int, settled: tuple[datetime, datetime], as_of: datetime) -> str:
    """Over which MQLs the handoff is counted, and as of when."""
    return (f"Counted over the **{mqls:,} MQLs created from {settled[0]:%d %b %Y} to {settled[1]:%d %b %Y}**, with what had "
            f"happened to them by {as_of:%d %b %Y}.")
