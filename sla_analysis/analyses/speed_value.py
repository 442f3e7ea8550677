"""What answering faster is worth: conversion by the time from MQL to the first attempt.

Definitions (``as_of`` is the end of the period; the MQLs are the settled ones of
:func:`sla_analysis.analyses.lead_value.settled_window`, old enough for their outcome to be known):

* *time to first attempt* = ``max(0, first activity - mql_at)`` in hours, as on page 05
  (:func:`sla_analysis.analyses.compliance.first_touch_table`); its *band* is one of
  :data:`BANDS` (a band includes its lower edge), ``never`` when no attempt was logged;
* *converted* = the lead has a deal (an opportunity) created before ``as_of``; *value of a
  conversion* = the won revenue of the converted leads / their number.

Three estimates:

* **unadjusted**: the share converted per band (Wilson interval) and its ratio to the share of the
  leads answered within an hour (Katz log interval). Leads answered fast are also the better leads
  (high tier), so this mixes the effect of speed with the effect of who got the fast answer;
* **adjusted** (g-computation): per tier, a logistic GLM (statsmodels) of converted on the band plus
  everything the export knows about the lead before its first touch, chosen from its profile
  (:func:`covariates_for`: source, segment, score decile, owner, persona, MQL type, where the export
  holds them, and the hour band and weekday the lead arrived); only leads whose groups were answered
  both within the hour and later are compared (overlap: a group never answered within the hour, or
  always, says nothing about speed and is left out, named); every lead of the tier is predicted
  under each band and the predictions averaged (standardisation). Fitting each tier apart lets the
  effect of speed differ by tier. The relative conversion of band b is
  ``Σ_t Σ_i p̂_i(b) / Σ_t Σ_i p̂_i(within 1 h)`` over the tiers where both bands have at least
  ``min_n`` leads with a conversion (a tier that never got an answer within an hour says nothing about
  one); intervals from a Poisson bootstrap of the leads (each lead weighted ~ Poisson(1)), refit each
  time;
* **revenue gained a month** by moving the leads answered later than a band into it:
  ``Σ_t Σ_i (p̂_i(target) - p̂_i(own band)) x value of a conversion in tier t / months`` over those
  leads: priced at the value of the leads that would move (their tier's), not an average conversion;
* **how strong a hidden cause would have to be** to explain the gain away: the E-value
  (VanderWeele & Ding, 2017) of the ratio ``(Σ p̂(target)) / (Σ p̂(own))`` over the moved leads,
  ``RR + sqrt(RR (RR - 1))``, and of its interval's end nearest no gain.

It is **observational**: it assumes the covariates hold everything that drives both how fast a lead
was answered and whether it converted. A rep who calls the leads that look promising first, on
signals the export does not hold, makes speed look better than it is; only a test that randomises
the response time (or a change of the protocol, compared before and after) answers that.
"""
from __future__ import annotations

import contextlib
import ctypes
import glob
import os
import warnings
from dataclasses import dataclass, field
from datetime import datetime

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats as st
from scipy.special import expit

from sla_analysis.analyses.cohorts import lead_outcomes
from sla_analysis.analyses.compliance import first_touch_table
from sla_analysis.analyses.stats import logit_irls, wilson_interval
from sla_analysis.formats import money
from sla_analysis.io.engine import CRM

#: bands of the hours from MQL to the first attempt: (label, from, to); "never" = no attempt
BANDS: tuple[tuple[str, float, float], ...] = (
    ("< 5 min", 0.0, 5 / 60), ("5-60 min", 5 / 60, 1.0), ("1-4 h", 1.0, 4.0), ("4-24 h", 4.0, 24.0),
    ("1-3 days", 24.0, 72.0), ("later", 72.0, float("inf")))
NEVER = "never"
REFERENCE = "within 1 hour"
#: the bands the reference groups (the published "within an hour")
REFERENCE_BANDS = ("< 5 min", "5-60 min")
DAYPARTS = (("night (0-6 h)", 0, 6), ("morning (6-12 h)", 6, 12), ("afternoon (12-18 h)", 12, 18),
            ("evening (18-24 h)", 18, 24))
COVARIATES = ("source", "segment", "arrival_daypart", "arrival_weekday")
#: the response window keeps the slowest band that loses less than this share of a lead's value
MAX_LOSS_SHARE = 0.10


def band_of_hours(hours) -> np.ndarray:
    """The band label of each delay in hours (NaN: ``never``)."""
    h = np.asarray(hours, dtype=float)
    edges = np.array([b[2] for b in BANDS[:-1]])
    idx = np.searchsorted(edges, np.nan_to_num(h, nan=0.0), side="right")
    labels = np.array([b[0] for b in BANDS], dtype=object)[idx]
    return np.where(np.isnan(h), NEVER, labels)


def band_upper_hours(band: str) -> float:
    """The upper edge of a band in hours (``within 1 hour``: 1)."""
    if band == REFERENCE:
        return 1.0
    return {b[0]: b[2] for b in BANDS}[band]


#: what the export may know of a lead before its first touch: (covariate, leads column, in words)
#: (in this order: a crowded model drops them from the last, the least likely to drive who is answered first)
PRE_CONTACT = (("score_band", "score", "lead score"), ("owner", "owner_id", "owner"), ("segment", "segment", "segment"),
               ("persona", "persona", "persona"), ("mql_type", "mql_type", "MQL type"))
#: the covariates' names in words, for the pages
COVARIATE_WORDS = {"source": "source", "segment": "segment", "score_band": "lead score (tenths)", "owner": "owner",
                   "persona": "persona", "mql_type": "MQL type", "arrival_daypart": "time of day the MQL arrived",
                   "arrival_weekday": "weekday the MQL arrived"}


def covariates_for(crm: CRM) -> list[str]:
    """What the comparison adjusts for, from the export's profile: source, and each of
    :data:`PRE_CONTACT` the export holds and that tells leads apart (informative), then the time of
    day and weekday the MQL arrived. Never a fixed list: an export with scores and owners is
    compared within score tenth and owner."""
    out = ["source"]
    for name, column, _ in PRE_CONTACT:
        p = crm.profile.column("leads", column)
        if p is not None and p.informative:
            out.append(name)
    return out + ["arrival_daypart", "arrival_weekday"]


def missing_pre_contact(covariates: list[str]) -> list[str]:
    """The pre-contact facts (in words) the comparison did not adjust for: what the export lacks (or
    holds in too many groups for the model: :func:`fitted_counts`)."""
    return [words for name, _, words in PRE_CONTACT if name not in covariates]


#: the score is compared within this many bands of equal size (deciles): fifths left enough of a
#: steep score-to-speed link inside each band to show a gain where speed had none (a simulation in
#: tests/test_speed_value.py)
SCORE_BANDS = 10


def _score_band(t: ir.Table) -> ir.Value:
    """The lead's score tenth (``tenth 1`` lowest ... ``tenth 10``), cut at the MQLs' deciles."""
    q = t.aggregate(**{f"q{i}": t.score.quantile(i / SCORE_BANDS) for i in range(1, SCORE_BANDS)}).to_pyarrow().to_pylist()[0]
    cuts = [q[f"q{i}"] for i in range(1, SCORE_BANDS)]
    s = t.score
    return ibis.cases((s.isnull(), "(none)"), *[(s < c, f"tenth {i + 1}") for i, c in enumerate(cuts) if c is not None],
                      else_=f"tenth {SCORE_BANDS}")


def speed_leads(crm: CRM, start: datetime, stop: datetime, as_of: datetime,
                covariates: list[str] | None = None) -> ir.Table:
    """One row per MQL in ``[start, stop)`` (Ibis): its band, tier, ``covariates`` (default
    :func:`covariates_for`), ``converted`` and ``revenue`` (won amounts) as of ``as_of``."""
    covariates = covariates_for(crm) if covariates is None else covariates
    t = first_touch_table(crm, start, stop, as_of)
    out = lead_outcomes(crm, as_of).select("lead_id", "first_deal_at", "revenue")
    t = t.left_join(out, "lead_id").drop("lead_id_right")
    extra = [c for name, c, _ in PRE_CONTACT if name in covariates and c not in t.columns]
    if extra:
        leads = crm.leads.select("lead_id", *extra)
        t = t.left_join(leads, "lead_id").drop("lead_id_right")
    h = t.hours_to_first_touch
    band = ibis.cases(*[(h < b[2], b[0]) for b in BANDS[:-1]], else_=BANDS[-1][0])
    band = ibis.cases((h.isnull(), NEVER), else_=band)
    hour = t.mql_at.hour()
    cols = {"source": t.source.fill_null("(none)"),
            "arrival_daypart": ibis.cases(*[(hour < d[2], d[0]) for d in DAYPARTS[:-1]], else_=DAYPARTS[-1][0]),
            "arrival_weekday": t.mql_at.day_of_week.full_name()}
    for name, column, _ in PRE_CONTACT:
        if name in covariates:
            cols[name] = _score_band(t) if name == "score_band" else t[column].cast("string").fill_null("(none)")
    return t.select(band=band, tier=t.tier.fill_null("(none)"), **{c: cols[c] for c in covariates},
                    converted=t.first_deal_at.notnull(), revenue=t.revenue.fill_null(0.0))


def speed_counts(crm: CRM, start: datetime, stop: datetime, as_of: datetime,
                 covariates: list[str] | None = None) -> pd.DataFrame:
    """:func:`speed_leads` aggregated in the engine: one row per band x tier x covariates x converted
    with ``leads`` and ``revenue``; ``attrs["covariates"]`` names the covariates."""
    covariates = covariates_for(crm) if covariates is None else covariates
    t = speed_leads(crm, start, stop, as_of, covariates)
    keys = ["band", "tier", *covariates, "converted"]
    agg = t.group_by(keys).aggregate(leads=t.count(), revenue=t.revenue.sum()).order_by(keys).to_pandas()
    agg["leads"] = agg["leads"].astype(np.int64)
    agg["converted"] = agg["converted"].astype(bool)
    agg["revenue"] = agg["revenue"].astype(float)
    agg.attrs["covariates"] = list(covariates)
    return agg


def _order(bands) -> list[str]:
    known = [b[0] for b in BANDS] + [NEVER]
    return [b for b in known if b in set(bands)]


def conversion_by_band(counts: pd.DataFrame, confidence: float = 0.95, min_n: int = 30) -> pd.DataFrame:
    """Unadjusted: per band (and ``within 1 hour``), MQLs, conversions, the share converted with its
    Wilson interval, and its ratio to ``within 1 hour`` with a Katz log interval
    (``se(log RR) = sqrt(1/x1 - 1/n1 + 1/x0 - 1/n0)``); ``small_sample`` = fewer than ``min_n``."""
    g = counts.assign(conv=np.where(counts.converted, counts.leads, 0)).groupby("band")[["leads", "conv"]].sum()
    g = g.reindex(_order(g.index))
    ref = g.loc[[b for b in REFERENCE_BANDS if b in g.index]].sum()
    rows = [{"band": b, "mqls": int(r.leads), "conversions": int(r.conv)} for b, r in g.iterrows()]
    at = sum(b in REFERENCE_BANDS for b in g.index)  # "within 1 hour" follows the bands it pools
    rows.insert(at, {"band": REFERENCE, "mqls": int(ref.leads), "conversions": int(ref.conv)})
    out = pd.DataFrame(rows)
    out["conversion"] = np.where(out.mqls > 0, out.conversions / out.mqls.where(out.mqls > 0, 1), np.nan)
    out["conversion_low"], out["conversion_high"] = wilson_interval(out.conversions, out.mqls, confidence)
    x0, n0 = float(ref.conv), float(ref.leads)
    z = st.norm.ppf(0.5 + confidence / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        p0 = x0 / n0 if n0 else np.nan
        rr = out.conversion / p0
        ref_var = 1 / x0 - 1 / n0 if x0 > 0 else np.inf
        se = np.sqrt(1 / out.conversions - 1 / out.mqls + ref_var)
        ok = (out.conversions > 0) & (x0 > 0) & (out.mqls >= min_n) & (n0 >= min_n)
    out["relative_to_within_1h"] = np.where((out.mqls >= min_n) & (n0 >= min_n) & (x0 > 0), rr, np.nan)
    out["relative_low"] = np.where(ok, rr * np.exp(-z * se), np.nan)
    out["relative_high"] = np.where(ok, rr * np.exp(z * se), np.nan)
    out["relative_to_within_1h_low"], out["relative_to_within_1h_high"] = out.relative_low, out.relative_high
    out["small_sample"] = out.mqls < min_n
    return out


@dataclass
class SpeedEffect:
    """The adjusted effect of the time to first attempt (see the module docstring)."""

    overall: pd.DataFrame            # band, tiers, conversion (standardised), relative + interval
    by_tier: pd.DataFrame            # tier, band, leads, conversion, relative_to_fastest + interval, loss_share
    gains: pd.DataFrame              # target band, leads moved a month, extra conversions and revenue a month
    value_per_conversion: float
    months: float
    n_boot: int
    reason: str | None = None        # why the adjusted effect is not available
    notes: list[str] = field(default_factory=list)
    covariates: list[str] = field(default_factory=list)   # what the comparison adjusted for
    values_by_tier: dict = field(default_factory=dict)    # won revenue per conversion of each compared tier
    outside_overlap: list[str] = field(default_factory=list)  # groups left out: never (or always) answered within the hour
    too_many_groups: list[str] = field(default_factory=list)  # covariates not held equal: too many groups for the model


#: a band counts in a tier only with at least this many conversions (besides ``min_n`` MQLs)
MIN_CONVERSIONS = 10


def _design(frame: pd.DataFrame, bands: list[str], levels: dict[str, list]) -> np.ndarray:
    """Intercept, band dummies (the first of ``bands`` is the reference) and covariate dummies."""
    cols = [np.ones(len(frame))]
    cols += [(frame.band.to_numpy() == b).astype(float) for b in bands[1:]]
    for c, lv in levels.items():
        cols += [(frame[c].to_numpy() == v).astype(float) for v in lv[1:]]
    return np.column_stack(cols)


@contextlib.contextmanager
def one_blas_thread():
    """Run NumPy's OpenBLAS on one thread inside the block (restored after). The models here are
    small (thousands of rows, ~20 columns): on a busy machine OpenBLAS's threads made each fit ~40x
    slower. A no-op where NumPy's OpenBLAS cannot be found."""
    libs = glob.glob(os.path.join(os.path.dirname(np.__file__), os.pardir, "numpy.libs", "*openblas*"))
    try:
        lib = ctypes.CDLL(libs[0])
        get, set_ = lib.scipy_openblas_get_num_threads64_, lib.scipy_openblas_set_num_threads64_
    except (IndexError, OSError, AttributeError):
        yield
        return
    before = get()
    set_(1)
    try:
        yield
    finally:
        set_(before)


def _fit(y: np.ndarray, X: np.ndarray, w: np.ndarray, start: np.ndarray | None = None,
         light: bool = False) -> np.ndarray | None:
    """Logistic GLM (statsmodels) with frequency weights; ``None`` when it cannot be fitted.
    ``light`` (the resamples): the same fit by :func:`stats.logit_irls` (statsmodels' IRLS steps;
    ``w`` leads of a row, ``y w`` of them converted)."""
    keep = w > 0
    if light:
        try:
            params = logit_irls(y[keep] * w[keep], w[keep], X[keep], start, maxiter=50).params
        except (ValueError, np.linalg.LinAlgError):
            return None
        return params if np.all(np.isfinite(params)) else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            res = sm.GLM(y[keep], X[keep], family=sm.families.Binomial(), freq_weights=w[keep]).fit(
                start_params=start, maxiter=50)
        except Exception:  # noqa: BLE001 (singular design or no convergence in a resample: dropped)
            return None
    params = np.asarray(res.params)
    return params if np.all(np.isfinite(params)) else None


#: a covariate keeps its most frequent groups, the rest pooled as one (a model of 600 owners' dummies
#: refitted 200 times would not run in a report's time)
MAX_LEVELS = 12
#: the most rows (covariate patterns x band x converted) the model is fitted on; beyond it the
#: covariates last in the list (the least likely to drive both speed and conversion) are dropped
#: and named as not held equal
MAX_PATTERNS = 20_000
OTHER = "(other)"


#: the order a crowded model gives covariates up in: the lead's score, owner and arrival hour last
#: (what most often decides both who is answered first and who converts)
DROP_ORDER = ("mql_type", "persona", "segment", "arrival_weekday", "owner", "arrival_daypart", "score_band")


def fitted_counts(counts: pd.DataFrame, covariates: list[str]) -> tuple[pd.DataFrame, list[str], list[str]]:
    """``counts`` with each covariate's groups beyond its :data:`MAX_LEVELS` most frequent pooled, and
    covariates dropped in :data:`DROP_ORDER` while the patterns exceed :data:`MAX_PATTERNS` (the fit
    and its 200 refits stay within seconds): the counts re-aggregated, the covariates kept, and those
    dropped."""
    out = counts.copy()
    for c in covariates:
        sizes = out.groupby(c).leads.sum().sort_values(ascending=False)
        if len(sizes) > MAX_LEVELS:
            keep = set(sizes.index[: MAX_LEVELS - 1])
            out[c] = out[c].where(out[c].isin(keep), OTHER)
    kept, dropped = list(covariates), []
    droppable = [name for name in DROP_ORDER if name in kept]
    while len(droppable) and out.groupby(["band", "tier", *kept, "converted"]).ngroups > MAX_PATTERNS:
        name = droppable.pop(0)
        kept.remove(name)
        dropped.append(name)
    keys = ["band", "tier", *kept, "converted"]
    agg = out.groupby(keys, as_index=False)[["leads", "revenue"]].sum()
    agg.attrs["covariates"] = kept
    return agg, kept, dropped


def _outside_overlap(d: pd.DataFrame, covariates: list[str], reference: list[str]) -> dict[str, list]:
    """Per covariate, the groups of a tier whose leads were all answered within the hour, or none of
    them: nothing in the data compares speeds inside such a group (no overlap)."""
    if not reference:
        return {}
    fast = d.band.isin(reference)
    out = {}
    for c in covariates:
        share = d.assign(_fast=np.where(fast, d.leads, 0)).groupby(c)[["_fast", "leads"]].sum()
        bad = share.index[(share._fast == 0) | (share._fast == share.leads)].tolist()
        if bad:
            out[c] = bad
    return out


def _tier_model(d: pd.DataFrame, min_n: int, covariates: list[str] | None = None) -> dict | None:
    """One tier's rows (covariate pattern x band x converted, with ``leads``), its supported bands
    (at least ``min_n`` MQLs and :data:`MIN_CONVERSIONS` conversions), the groups outside the overlap
    (left out) and precomputed designs."""
    covariates = list(COVARIATES) if covariates is None else list(covariates)
    d = d[d.band != NEVER]
    n = d.groupby("band").leads.sum()
    x = d[d.converted].groupby("band").leads.sum().reindex(n.index, fill_value=0)
    bands = [b for b in _order(n.index) if n[b] >= min_n and x[b] >= MIN_CONVERSIONS]
    d = d[d.band.isin(bands)].reset_index(drop=True)
    outside = _outside_overlap(d, covariates, _reference_of(bands))
    for c, bad in outside.items():
        d = d[~d[c].isin(bad)]
    d = d.reset_index(drop=True)
    bands = [b for b in bands if d[d.band == b].leads.sum() >= min_n
             and d[(d.band == b) & d.converted].leads.sum() >= MIN_CONVERSIONS]
    d = d[d.band.isin(bands)].reset_index(drop=True)
    if len(bands) < 2:
        return None
    levels = {c: sorted(d[c].unique()) for c in covariates}
    pid = d.groupby(covariates, sort=True).ngroup().to_numpy()
    patterns = d.groupby(covariates, sort=True, as_index=False).leads.sum()
    conv = d[d.converted]
    value = float(conv.revenue.sum() / conv.leads.sum()) if conv.leads.sum() else np.nan
    return {"rows": d, "bands": bands, "levels": levels, "pid": pid, "outside": outside, "value": value,
            "band_code": np.array([bands.index(b) for b in d.band]),
            "X": _design(d, bands, levels), "y": d.converted.to_numpy().astype(float),
            "X_by_band": [_design(patterns.assign(band=b), bands, levels) for b in bands]}


def _one_pass(models: dict, weights: dict, starts: dict | None = None) -> dict:
    """Fit every tier's model with these lead weights (a resample's, started at ``starts``: the light
    fit); per tier the standardised totals per band
    (``Σ_i w_i p̂_i(b)``), the weight per band, and each row's predictions under every band."""
    out = {}
    for t, m in models.items():
        w = weights[t]
        beta = _fit(m["y"], m["X"], w, None if starts is None else starts.get(t), light=starts is not None)
        if beta is None:
            return {}
        p_pat = np.column_stack([expit(X @ beta) for X in m["X_by_band"]])  # pattern x band
        n_pat = np.bincount(m["pid"], weights=w, minlength=len(p_pat))
        out[t] = {"beta": beta, "totals": dict(zip(m["bands"], n_pat @ p_pat)), "n": float(w.sum()),
                  "band_n": dict(zip(m["bands"], np.bincount(m["band_code"], weights=w, minlength=len(m["bands"])))),
                  "p_rows": p_pat[m["pid"]], "w": w}
    return out


def _summaries(fit: dict, models: dict) -> dict[str, float]:
    """Flatten one pass into named figures (so point estimates and resamples line up).
    ``within 1 hour`` in a tier = its bands inside the hour, weighted by their leads."""
    vals: dict[str, float] = {}
    for t, f in fit.items():
        bands = models[t]["bands"]
        for b in bands:
            vals[f"p|{t}|{b}"] = f["totals"][b] / f["n"]
        ref_t = _reference_of(bands)
        w = np.array([f["band_n"][b] for b in ref_t])
        if ref_t and w.sum() > 0:
            vals[f"p|{t}|{REFERENCE}"] = float(np.sum(w * [vals[f"p|{t}|{b}"] for b in ref_t]) / w.sum())
        anchor = vals.get(f"p|{t}|{REFERENCE}", vals[f"p|{t}|{bands[0]}"])
        for b in _window_bands(bands):
            vals[f"ra|{t}|{b}"] = vals[f"p|{t}|{b}"] / anchor if anchor > 0 else np.nan
    all_bands = _order({b for m in models.values() for b in m["bands"]})
    for b in all_bands + [REFERENCE]:
        tiers = _compared_tiers(vals, models, b)
        if tiers:
            num = sum(vals[f"p|{t}|{b}"] * fit[t]["n"] for t in tiers)
            den = sum(vals[f"p|{t}|{REFERENCE}"] * fit[t]["n"] for t in tiers)
            vals[f"rr|{b}"] = num / den if den > 0 else np.nan
            vals[f"p|{b}"] = num / sum(fit[t]["n"] for t in tiers)
    for target in [REFERENCE] + all_bands:
        extra, moved, own, revenue = 0.0, 0.0, 0.0, 0.0
        for t, f in fit.items():
            m = models[t]
            bands = m["bands"]
            targets = _reference_of(bands) if target == REFERENCE else ([target] if target in bands else [])
            if not targets:
                continue
            slower = np.array([_rank(b) > _rank(targets[-1]) for b in bands])[m["band_code"]]
            if not slower.any():
                continue
            tw = np.array([f["band_n"][b] for b in targets])
            tw = tw / tw.sum() if tw.sum() > 0 else np.full(len(targets), 1 / len(targets))
            p_target = f["p_rows"][:, [bands.index(b) for b in targets]] @ tw
            p_own = f["p_rows"][np.arange(len(m["band_code"])), m["band_code"]]
            extra_t = float(np.sum((f["w"] * (p_target - p_own))[slower]))
            extra += extra_t
            revenue += extra_t * m.get("value", np.nan)  # priced at the value of this tier's conversions
            own += float(np.sum((f["w"] * p_own)[slower]))
            moved += float(f["w"][slower].sum())
        if moved > 0:
            vals[f"extra|{target}"], vals[f"moved|{target}"] = extra, moved
            vals[f"revenue|{target}"] = revenue
            vals[f"ratio|{target}"] = (own + extra) / own if own > 0 else np.nan
    return vals


def _compared_tiers(vals: dict, models: dict, band: str) -> list:
    """The tiers whose ``band`` is compared with their hour: both fitted, and, for a band inside the
    hour, the hour holding another band too (where it is the hour's only band, the ratio is 1 by
    construction, not a finding)."""
    return [t for t in models if f"p|{t}|{REFERENCE}" in vals and f"p|{t}|{band}" in vals
            and not (band in REFERENCE_BANDS and _reference_of(models[t]["bands"]) == [band])]


def _window_bands(bands: list[str]) -> list[str]:
    """The bands a response window can end at: ``within 1 hour`` (when the tier has a band inside the
    hour) and the slower ones; the first is the tier's anchor (its fastest)."""
    ref = _reference_of(bands)
    return ([REFERENCE] if ref else []) + [b for b in bands if b not in ref]


def _rank(band: str) -> int:
    """Order of a band, fastest first (``within 1 hour`` between ``5-60 min`` and ``1-4 h``)."""
    return 1 if band == REFERENCE else [b[0] for b in BANDS].index(band)


def _reference_of(bands: list[str]) -> list[str]:
    """The tier's supported bands inside the first hour (the reference), if any."""
    return [b for b in REFERENCE_BANDS if b in bands]


def adjusted_effect(counts: pd.DataFrame, months: float, confidence: float = 0.95, min_n: int = 30,
                    n_boot: int = 200, seed: int = 0) -> SpeedEffect:
    """The standardised (g-computation) effect of the band, per tier and over the tiers that
    support the comparison, with Poisson-bootstrap percentile intervals (see the module docstring).
    ``months``: the length of the MQL window, for the revenue a month."""
    covariates = list(counts.attrs.get("covariates") or [c for c in COVARIATES if c in counts.columns])
    counts, covariates, too_many = fitted_counts(counts, covariates)
    contacted = counts[counts.band != NEVER]
    conv = contacted[contacted.converted]
    value = float(conv.revenue.sum() / conv.leads.sum()) if conv.leads.sum() else np.nan
    models, dropped_tiers = {}, []
    for t, d in contacted.groupby("tier"):
        m = _tier_model(d, min_n, covariates)
        if m is not None:
            models[t] = m
        elif d.leads.sum() >= min_n:
            dropped_tiers.append(t)
    empty = SpeedEffect(pd.DataFrame(), pd.DataFrame(), pd.DataFrame(), value, months, n_boot, covariates=covariates,
                        too_many_groups=too_many)
    if not models:
        empty.reason = (f"no tier has two bands of response time with at least {min_n} contacted MQLs and "
                        f"{MIN_CONVERSIONS} conversions each")
        return empty
    with one_blas_thread():
        eff = _adjusted(models, value, months, confidence, n_boot, seed, min_n)
    eff.covariates = covariates
    eff.too_many_groups = too_many
    eff.values_by_tier = {t: m["value"] for t, m in models.items()}
    eff.outside_overlap = [f"{t} tier, {COVARIATE_WORDS.get(c, c)} {', '.join(map(str, bad))}"
                           for t, m in models.items() for c, bad in m["outside"].items()]
    eff.notes = list(eff.notes) + [f"{str(t).capitalize()} tier: too few of its leads were answered both within the hour "
                                   "and later, in groups the data can compare, so it is left out."
                                   for t in dropped_tiers]
    return eff


def _adjusted(models: dict, value: float, months: float, confidence: float, n_boot: int, seed: int,
              min_n: int) -> SpeedEffect:
    empty = SpeedEffect(pd.DataFrame(), pd.DataFrame(), pd.DataFrame(), value, months, n_boot)
    point = _one_pass(models, {t: m["rows"].leads.to_numpy().astype(float) for t, m in models.items()})
    if not point:
        empty.reason = "the conversion model could not be fitted"
        return empty
    est = _summaries(point, models)
    rng = np.random.default_rng(seed)
    boots = []
    for _ in range(n_boot):
        w = {t: rng.poisson(m["rows"].leads.to_numpy()).astype(float) for t, m in models.items()}
        f = _one_pass(models, w, {t: v["beta"] for t, v in point.items()})
        if f:
            boots.append(_summaries(f, models))
    a = (1 - confidence) / 2

    def ci(key: str) -> tuple[float, float]:
        v = np.array([b.get(key, np.nan) for b in boots], dtype=float)
        v = v[np.isfinite(v)]
        if len(v) < max(10, n_boot // 2):
            return np.nan, np.nan
        return float(np.quantile(v, a)), float(np.quantile(v, 1 - a))

    all_bands = _order({b for m in models.values() for b in m["bands"]})
    overall = []
    for b in all_bands + [REFERENCE]:
        if f"rr|{b}" not in est:
            continue
        tiers = _compared_tiers(est, models, b)
        lo, hi = ci(f"rr|{b}")
        overall.append({"band": b, "tiers": ", ".join(tiers), "conversion": est[f"p|{b}"],
                        "relative_to_within_1h": est[f"rr|{b}"], "relative_low": lo, "relative_high": hi})
    by_tier = []
    for t, m in models.items():
        per = m["rows"].groupby("band").leads.sum()
        per[REFERENCE] = per.reindex(list(REFERENCE_BANDS)).fillna(0).sum()
        wb = _window_bands(m["bands"])
        for b in wb:
            lo, hi = ci(f"ra|{t}|{b}")
            ra = est[f"ra|{t}|{b}"]
            by_tier.append({"tier": t, "band": b, "mqls": int(per[b]), "conversion": est[f"p|{t}|{b}"],
                            "relative_to_fastest": ra, "relative_low": lo, "relative_high": hi,
                            "fastest_band": wb[0], "loss_share": 1 - ra, "loss_share_high": 1 - lo})
    gains = []
    with_hour = [str(t) for t, m in models.items() if _reference_of(m["bands"])]  # the tiers moved into the hour
    for target in [REFERENCE] + all_bands:
        if est.get(f"moved|{target}", 0) <= 0:
            continue
        lo, hi = ci(f"extra|{target}")
        rlo, rhi = ci(f"revenue|{target}")
        qlo, qhi = ci(f"ratio|{target}")
        ratio = est.get(f"ratio|{target}", np.nan)
        gains.append({"target": target, "tiers": ", ".join(with_hour) if target == REFERENCE else "",
                      "mqls_moved_per_month": est[f"moved|{target}"] / months,
                      "extra_conversions_per_month": est[f"extra|{target}"] / months,
                      "extra_conversions_low": lo / months, "extra_conversions_high": hi / months,
                      "revenue_per_month": est[f"revenue|{target}"] / months,
                      "revenue_low": rlo / months, "revenue_high": rhi / months,
                      "relative_conversion": ratio, "relative_conversion_low": qlo, "relative_conversion_high": qhi,
                      "e_value": e_value(ratio), "e_value_interval": e_value_bound(qlo, qhi)})
    notes = [f"{str(t).capitalize()} tier: no band inside the first hour has {min_n} contacted MQLs and {MIN_CONVERSIONS} "
             "conversions, so this tier is left out of the comparison with answering within an hour."
             for t, m in models.items() if not _reference_of(m["bands"])]
    reason = None
    if not any(r["band"] != REFERENCE for r in overall):  # nothing to hold against the hour
        reason = (f"no tier has a band inside the first hour and a slower one with at least {min_n} contacted MQLs "
                  f"and {MIN_CONVERSIONS} conversions each, so answering faster cannot be compared with answering "
                  "within the hour")
    return SpeedEffect(pd.DataFrame(overall, columns=["band", "tiers", "conversion", "relative_to_within_1h",
                                                      "relative_low", "relative_high"]),
                       pd.DataFrame(by_tier), pd.DataFrame(gains), value, months, len(boots), reason, notes)


def e_value(rr: float) -> float:
    """How strong an unrecorded cause would have to be, on the risk-ratio scale, with both the
    response time and conversion, to explain away a ratio ``rr`` (VanderWeele & Ding, 2017):
    ``RR + sqrt(RR (RR - 1))`` with ``RR`` = ``rr`` or ``1 / rr`` below 1; 1 for no effect."""
    if rr is None or not np.isfinite(rr) or rr <= 0:
        return float("nan")
    r = rr if rr >= 1 else 1 / rr
    return float(r + np.sqrt(r * (r - 1)))


def e_value_bound(low: float, high: float) -> float:
    """The E-value of the interval's end nearest no effect: 1 when the interval holds 1 (nothing
    hidden is needed to explain the gain away)."""
    if not (np.isfinite(low) and np.isfinite(high)):
        return float("nan")
    if low <= 1 <= high:
        return 1.0
    return e_value(low if low > 1 else high)


def response_window(by_tier: pd.DataFrame, tier: str, current_hours: float,
                    max_loss_share: float = MAX_LOSS_SHARE) -> dict:
    """The tier's proposed response window, one rule for every tier. A band *loses* when its point
    loss against the tier's fastest band (``1 - relative``) is at least ``max_loss_share`` **and**
    its interval excludes no loss (``relative_high < 1``). The window is the upper edge of the band
    before the first losing one, never longer than the current window (a loss not shown is no reason
    to wait longer). When no band loses, the data cannot say and the current window is kept."""
    d = by_tier[by_tier.tier == tier] if len(by_tier) else by_tier
    if not len(d):
        return {"hours": current_hours, "source": "current", "reason": "too few contacted MQLs of this tier in "
                "two bands of response time to compare them"}
    d = d.sort_values("band", key=lambda s: s.map(_rank), kind="stable").reset_index(drop=True)
    loses = (d.loss_share >= max_loss_share) & (d.relative_high < 1)
    loses.iloc[0] = False  # the fastest band is the reference
    if not loses.any():
        return {"hours": current_hours, "source": "current",
                "reason": f"no slower band is shown to lose {max_loss_share:.0%} or more of a lead's value for this tier"}
    first = int(np.flatnonzero(loses.to_numpy())[0])
    band = d.band.iloc[first - 1]
    edge = band_upper_hours(band)
    if edge >= current_hours:
        return {"hours": current_hours, "source": "current",
                "reason": f"the first band shown to lose {max_loss_share:.0%} or more of a lead's value starts after "
                          f"{edge:g} h, beyond the current window"}
    return {"hours": edge, "source": "data", "band": band,
            "reason": f"answering after {edge:g} h loses {max_loss_share:.0%} or more of a lead's value"}


def not_held_equal(eff) -> tuple[list[str], list[str]]:
    """What the comparison did not hold equal, in words: what the export lacks, and what it holds in
    too many groups for the model (:func:`fitted_counts`)."""
    crowded = [COVARIATE_WORDS.get(c, c) for c in eff.too_many_groups]
    return [w for w in missing_pre_contact(eff.covariates + list(eff.too_many_groups))], crowded


def observational_note(missing: list[str] | None = None, crowded: list[str] | None = None) -> str:
    """The plain caveat every page showing these figures carries, naming what the export lacks of
    what is known before the first touch (``missing``, from :func:`missing_pre_contact`) and what it
    holds in too many groups to compare within (``crowded``)."""
    lacks = (f" The export has no {', '.join(missing)}, so the comparison cannot hold {'it' if len(missing) == 1 else 'them'} "
             "equal." if missing else "")
    if crowded:
        lacks += f" Its {', '.join(crowded)} come in too many combinations to be held equal as well."
    return ("These figures are observational: leads answered fast may differ from the others in ways the export "
            "does not record (a rep calling first the leads that look most promising), so part of the difference may "
            f"not be the speed itself.{lacks} Only a test that assigns response times at random would settle it.")


PUBLISHED = ("The HBR study of 2,241 firms (Oldroyd et al., 2011) found leads contacted within an hour about 7 times as "
             "likely to qualify as leads contacted an hour later, and over 60 times as likely as after 24 hours; the MIT "
             "study (2007) found 21 times for 5 minutes against 30.")


def comparison_with_published(overall: pd.DataFrame) -> str:
    """This history's like-for-like multiples (within the hour against later bands) beside the
    published ones (:data:`PUBLISHED`)."""
    if overall is None or not len(overall):
        return "Published studies: " + PUBLISHED
    o = overall.set_index("band")
    parts = [f"{1 / o.loc[b, 'relative_to_within_1h']:.1f} times as often as those answered after {b}"
             for b in ("1-4 h", "4-24 h", "1-3 days", "later") if b in o.index and o.loc[b, "relative_to_within_1h"] > 0]
    mine = ("Like for like, this history's MQLs answered within the hour became opportunities " + ", ".join(parts) + ". "
            if parts else "")
    return (mine + "Published studies: " + PUBLISHED + " Those compare raw groups (and qualification or contact, not "
            "opportunities), so they include the effect of who got the fast answer.")


#: what the raw table of conversion by time to first attempt shows, and what it mixes
RAW_BANDS_NOTE = ("Settled MQLs by how long they waited for the first call or e-mail, and the share that became opportunities. "
                  "These raw figures mix the effect of speed with *who* got the fast answer: the best leads are usually "
                  "answered first.")


def effect_text(eff, currency: str = "USD") -> str:
    """Under the like-for-like chart, as separate paragraphs: what answering faster would bring
    (:func:`gain_sentence`), what it is compared within and the groups the data cannot compare
    (:func:`adjustment_sentence`), the tiers left out (a list), how strong a hidden cause would have
    to be (:func:`hidden_cause_sentence`), the observational caveat naming what the export lacks and
    the comparison with the published studies."""
    notes = "\n".join(f"- {note}" for note in eff.notes)
    parts = [gain_sentence(eff, currency), adjustment_sentence(eff), notes, hidden_cause_sentence(eff),
             observational_note(*not_held_equal(eff)) if eff.covariates else observational_note(),
             comparison_with_published(eff.overall)]
    return "\n\n".join(p for p in parts if p)


def adjustment_sentence(eff) -> str:
    """What the like-for-like comparison holds equal, and which groups it leaves out (no overlap)."""
    if not eff.covariates:
        return ""
    held = ", ".join(COVARIATE_WORDS.get(c, c) for c in eff.covariates)
    text = f"Like for like means leads of the same tier, {held}."
    if eff.outside_overlap:
        shown = "; ".join(eff.outside_overlap[:4]) + (f"; and {len(eff.outside_overlap) - 4} more"
                                                       if len(eff.outside_overlap) > 4 else "")
        text += (" The data cannot compare speeds for leads that were all answered within the hour, or none of them, "
                 f"so these are left out: {shown}.")
    return text


def hidden_cause_sentence(eff) -> str:
    """How strong something the export does not record would have to be to explain the gain of
    answering within the hour away (the E-value), in words."""
    g = eff.gains.set_index("target") if len(eff.gains) else pd.DataFrame()
    if REFERENCE not in g.index or not np.isfinite(g.loc[REFERENCE].get("e_value", np.nan)):
        return ""
    h = g.loc[REFERENCE]
    if not np.isfinite(h.e_value_interval):
        return ""  # no interval (too few refits converged): nothing to say about its end
    if h.e_value_interval == 1.0:
        return ("Nothing hidden is needed to explain this away: the interval already includes no gain.")
    return (f"To explain this gain away, something the export does not record would have to make a lead about "
            f"{h.e_value:.1f} times as likely to be answered within the hour and {h.e_value:.1f} times as likely to "
            f"become an opportunity, beyond everything compared above (for the interval's end nearest no gain: "
            f"{h.e_value_interval:.1f} times).")


def gain_sentence(eff, currency: str = "USD") -> str:
    """What answering the late MQLs within the hour would bring a month, in words (empty without it)."""
    g = eff.gains.set_index("target")
    if REFERENCE not in g.index:
        return ""
    hour = g.loc[REFERENCE]
    who = f"{hour.tiers}-tier " if eff.notes and hour.get("tiers") else ""  # some tiers left out: say which are in
    moved = f"Answering within the hour the {hour.mqls_moved_per_month:,.0f} {who}MQLs a month now answered later"
    if not (np.isfinite(hour.extra_conversions_low) and np.isfinite(hour.extra_conversions_high)):
        return (f"{moved} might bring about {hour.extra_conversions_per_month:.1f} more opportunities a month, but its "
                "interval could not be computed (too few of the refits converged): this history cannot show that "
                "answering faster pays.")
    if not hour.extra_conversions_low > 0:  # the interval holds no gain (or a loss): no headline in bold
        return (f"{moved} might bring about {hour.extra_conversions_per_month:.1f} more opportunities a month, but the "
                f"interval ({hour.extra_conversions_low:.1f} to {hour.extra_conversions_high:.1f}) includes no gain: "
                "this history cannot show that answering faster pays.")
    worth = (f", worth {money(hour.revenue_per_month, currency)} a month (interval {money(hour.revenue_low, currency)} to "
             f"{money(hour.revenue_high, currency)}), each priced at the won revenue of an opportunity of its own tier"
             if np.isfinite(hour.revenue_per_month) else "; what they are worth is not available (no deal amounts)")
    return (f"**{moved} would bring about {hour.extra_conversions_per_month:.1f} more opportunities a month** (interval "
            f"{hour.extra_conversions_low:.1f} to {hour.extra_conversions_high:.1f}){worth}.")
