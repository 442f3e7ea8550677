"""How many contact attempts before a rep gives up on a lead: a discrete-time hazard model.

Input is a *lead profile* frame, one row per group of identical leads:

========== ===================================================================================
attempts   int >= 0, attempts the lead received up to its outcome or up to the data end
converted  bool, the lead converted AT its last attempt (attempt number == ``attempts``)
revenue    float >= 0, revenue realised by that conversion (0 if not converted or deal lost)
censored   bool, still being worked when the data ends (not settled)
weight     int >= 1, number of identical leads in the row
...        optional covariate columns (e.g. ``source``, ``tier``)
========== ===================================================================================

Leads with ``attempts == 0`` were never at risk and are ignored by the hazard model.

The sound method (see ``docs/methods.md``):

* person-period table, for attempt ``k >= 1``: ``at_risk_k = sum w [attempts >= k]``,
  ``events_k = sum w [converted and attempts == k]``, ``revenue_k = sum w x revenue`` of those;
* hazard ``h_k = P(convert at attempt k | not converted before k)``, a binomial GLM on that table:
  ``logit h = f(k) + covariate effects``, ``f`` one level per well-supported attempt and a
  log-linear tail ``gamma_K + beta (k - K)`` beyond;
* ``S_k = prod_{j<k} (1 - h_j)``, ``r_k = h_k x v`` (``v`` mean revenue per conversion),
  ``Pi(N) = sum_{k<=N} S_k (r_k - c)`` per contacted lead, standardised over covariate groups;
* recommended cap ``argmax_{1<=N<=K_support} Pi(N)``, with a lead-level bootstrap interval.

The seeds' method (cohorts of settled leads by total attempts, knee of cohort profit) is here too,
labelled as such, because it is what the SLA's authors proposed; it is biased (see the docs).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd
import statsmodels.api as sm
from kneed import KneeLocator
from scipy.special import expit
from statsmodels.stats.proportion import proportion_confint
from statsmodels.tools.sm_exceptions import ConvergenceWarning, DomainWarning, PerfectSeparationWarning

REQUIRED_COLUMNS = ("attempts", "converted", "revenue", "censored", "weight")

#: An attempt number gets its own hazard level when it (and every earlier attempt) has at least
#: this many conversions; later attempts share a log-linear tail (see ``fit_hazard``).
MIN_EVENTS_PER_ATTEMPT = 50

#: A covariate group's own mean revenue per conversion is used when it has at least this many
#: settled conversions; otherwise the pooled mean.
MIN_CONVERSIONS_FOR_GROUP_VALUE = 30

_GLM_WARNINGS = (PerfectSeparationWarning, ConvergenceWarning, DomainWarning, RuntimeWarning)


# --------------------------------------------------------------------------------------------
# Lead profiles -> arrays
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Leads:
    """Contacted profile rows (``attempts >= 1``) as arrays, with covariate groups coded 0..G-1."""

    attempts: np.ndarray      # int64 >= 1
    converted: np.ndarray     # bool
    settled: np.ndarray       # bool (not censored)
    revenue: np.ndarray       # float64 >= 0, per lead
    weight: np.ndarray        # int64 >= 1
    group: np.ndarray         # int64 codes into ``groups``
    groups: pd.DataFrame      # one row per covariate combination (no columns without covariates)
    covariates: tuple[str, ...]

    @property
    def n_groups(self) -> int:
        return len(self.groups)

    @property
    def max_attempt(self) -> int:
        return int(self.attempts.max())


def _check_profiles(profiles: pd.DataFrame, covariates: Sequence[str]) -> None:
    missing = [c for c in (*REQUIRED_COLUMNS, *covariates) if c not in profiles.columns]
    if missing:
        raise ValueError(f"lead profiles lack column(s) {missing}; expected {list(REQUIRED_COLUMNS)}"
                         f" plus covariates {list(covariates)}")
    a = profiles["attempts"].to_numpy()
    w = profiles["weight"].to_numpy()
    r = profiles["revenue"].to_numpy(dtype=float)
    if len(profiles) and not np.issubdtype(a.dtype, np.integer):
        if not np.all(np.isfinite(a.astype(float))) or np.any(a != np.round(a)):
            raise ValueError("attempts must be whole numbers >= 0")
    if np.any(a < 0):
        raise ValueError("attempts must be >= 0")
    if np.any(~np.isfinite(w.astype(float))) or np.any(w < 1) or np.any(w != np.round(w)):
        raise ValueError("weight must be a whole number >= 1")
    if np.any(~np.isfinite(r)) or np.any(r < 0):
        raise ValueError("revenue must be finite and >= 0")
    for c in ("converted", "censored"):
        if profiles[c].isna().any():
            raise ValueError(f"{c} has missing values; it must be True or False for every row")
    conv = profiles["converted"].to_numpy(dtype=bool)
    if np.any(conv & (a < 1)):
        raise ValueError("a converted lead must have attempts >= 1 (it converted at its last attempt)")
    for c in covariates:
        if profiles[c].isna().any():
            raise ValueError(f"covariate {c!r} has missing values; fill them (e.g. 'unknown') first")


def _prepare(profiles: pd.DataFrame, covariates: Sequence[str] = ()) -> _Leads:
    covariates = tuple(covariates)
    _check_profiles(profiles, covariates)
    sub = profiles[profiles["attempts"].to_numpy() >= 1]
    if sub.empty:
        raise ValueError("no lead profile has attempts >= 1: nobody was ever at risk")
    if covariates:
        codes, uniques = pd.factorize(pd.MultiIndex.from_frame(sub[list(covariates)]), sort=True)
        groups = uniques.to_frame(index=False)
        groups.columns = list(covariates)
    else:
        codes = np.zeros(len(sub), dtype=np.int64)
        groups = pd.DataFrame(index=pd.RangeIndex(1))
    return _Leads(
        attempts=sub["attempts"].to_numpy().astype(np.int64),
        converted=sub["converted"].to_numpy(dtype=bool),
        settled=~sub["censored"].to_numpy(dtype=bool),
        revenue=sub["revenue"].to_numpy(dtype=float),
        weight=np.rint(sub["weight"].to_numpy(dtype=float)).astype(np.int64),
        group=np.asarray(codes, dtype=np.int64),
        groups=groups,
        covariates=covariates,
    )


def _counts(leads: _Leads, weight: np.ndarray | None = None,
            k_max: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(at_risk, events, revenue)``, each of shape ``(G, K)`` for attempts ``k = 1..K``.

    ``at_risk[g, k-1] = sum w [attempts >= k]``, ``events[g, k-1] = sum w [converted, attempts == k]``,
    ``revenue[g, k-1] = sum w x revenue [converted, attempts == k]`` (reverse cumulative sums of
    ``np.bincount`` over ``group x attempts``). ``K`` defaults to the largest attempt seen.
    """
    w = (leads.weight if weight is None else weight).astype(float)
    full_k = leads.max_attempt
    K = full_k if k_max is None else int(k_max)
    G = leads.n_groups
    idx = leads.group * (full_k + 1) + leads.attempts
    size = G * (full_k + 1)
    n = np.bincount(idx, weights=w, minlength=size).reshape(G, full_k + 1)
    at_risk = n[:, ::-1].cumsum(axis=1)[:, ::-1][:, 1:]
    c = leads.converted
    events = np.bincount(idx[c], weights=w[c], minlength=size).reshape(G, full_k + 1)[:, 1:]
    revenue = np.bincount(idx[c], weights=(w * leads.revenue)[c],
                          minlength=size).reshape(G, full_k + 1)[:, 1:]
    if K <= full_k:
        return at_risk[:, :K], events[:, :K], revenue[:, :K]
    pad = np.zeros((G, K - full_k))
    return (np.hstack([at_risk, pad]), np.hstack([events, pad]), np.hstack([revenue, pad]))


def _pp_frame(leads: _Leads, at_risk: np.ndarray, events: np.ndarray,
              revenue: np.ndarray) -> pd.DataFrame:
    G, K = at_risk.shape
    g = np.repeat(np.arange(G), K)
    k = np.tile(np.arange(1, K + 1), G)
    keep = at_risk.ravel() > 0
    out = pd.DataFrame({"attempt": k[keep]})
    for c in leads.covariates:
        out[c] = leads.groups[c].to_numpy()[g[keep]]
    out["at_risk"] = np.rint(at_risk.ravel()[keep]).astype(np.int64)
    out["events"] = np.rint(events.ravel()[keep]).astype(np.int64)
    out["revenue"] = revenue.ravel()[keep].astype(float)
    return out.sort_values(["attempt", *leads.covariates], kind="stable").reset_index(drop=True)


def person_period(profiles: pd.DataFrame, covariates: Sequence[str] = ()) -> pd.DataFrame:
    """The aggregated person-period (lead x attempt) table.

    For each attempt ``k >= 1`` (and covariate combination):

    * ``at_risk = sum of weight over leads with attempts >= k``;
    * ``events = sum of weight over converted leads with attempts == k``;
    * ``revenue = sum of weight x revenue over those converted leads``.

    Abandoned and censored (still worked) leads both simply stop contributing after their last
    attempt. Leads with ``attempts == 0`` are never at risk and do not appear. Rows with
    ``at_risk == 0`` are omitted. Columns: ``attempt, *covariates, at_risk, events, revenue``,
    sorted by attempt then covariates.
    """
    leads = _prepare(profiles, covariates)
    return _pp_frame(leads, *_counts(leads))


# --------------------------------------------------------------------------------------------
# Hazard model
# --------------------------------------------------------------------------------------------

def _choose_k_cat(events_by_k: np.ndarray, min_events: int) -> int:
    """Largest K such that every attempt 1..K has at least ``min_events`` conversions (>= 1)."""
    ok = np.asarray(events_by_k) >= min_events
    if not ok.size or not ok[0]:
        return 1
    return int(ok.size if ok.all() else np.argmin(ok))


def _attempt_design(k: np.ndarray, k_cat: int, has_tail: bool) -> tuple[np.ndarray, list[str]]:
    """One indicator per attempt ``1..k_cat-1``, ``[k >= k_cat]`` and, with a tail, ``max(0, k-k_cat)``.

    The indicators partition the rows (they replace the intercept), so
    ``logit h_k = a_k`` for ``k < k_cat`` and ``a_K + beta (k - k_cat)`` from ``k_cat`` on.
    """
    k = np.asarray(k, dtype=float)
    cols = [(k == j).astype(float) for j in range(1, k_cat)] + [(k >= k_cat).astype(float)]
    names = [f"attempt={j}" for j in range(1, k_cat)] + [f"attempt>={k_cat}"]
    if has_tail:
        cols.append(np.maximum(0.0, k - k_cat))
        names.append(f"slope(attempt-{k_cat})")
    return np.column_stack(cols), names


def _covariate_design(frame: pd.DataFrame | None, levels: dict[str, list],
                      n: int) -> tuple[np.ndarray, list[str]]:
    """Treatment (drop-first) indicators for each covariate's levels."""
    cols, names = [], []
    for c, lev in levels.items():
        if frame is None or c not in frame.columns:
            raise ValueError(f"covariate {c!r} is needed to predict")
        values = frame[c].to_numpy()
        unknown = set(pd.unique(values)) - set(lev)
        if unknown:
            raise ValueError(f"covariate {c!r} has level(s) {sorted(map(str, unknown))} unseen in the fit")
        for level in lev[1:]:
            cols.append((values == level).astype(float))
            names.append(f"{c}={level}")
    if not cols:
        return np.zeros((n, 0)), []
    return np.column_stack(cols), names


def _glm(events: np.ndarray, at_risk: np.ndarray, X: np.ndarray, start: np.ndarray | None = None):
    """Binomial GLM (logit link) of ``events`` out of ``at_risk``, fitted by IRLS in statsmodels."""
    endog = np.column_stack([events, at_risk - events]).astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", _GLM_WARNINGS)
        return sm.GLM(endog, X, family=sm.families.Binomial()).fit(start_params=start, maxiter=100)


@dataclass
class HazardModel:
    """A fitted per-attempt hazard ``h_k = P(convert at k | open at k)``.

    ``logit h = a_k (k < k_cat) | a_K + beta (k - k_cat) (k >= k_cat) + sum covariate effects``.
    ``result`` is the statsmodels ``GLMResults``; ``levels`` the covariate levels seen in the fit
    (the first one is the reference).
    """

    result: Any
    covariates: tuple[str, ...]
    levels: dict[str, list]
    k_cat: int
    has_tail: bool
    max_fitted_attempt: int
    exog_names: list[str] = field(default_factory=list)

    @property
    def params(self) -> np.ndarray:
        return np.asarray(self.result.params)

    @property
    def converged(self) -> bool:
        return bool(getattr(self.result, "converged", True))

    def design(self, attempts: Sequence[int] | np.ndarray,
               covariate_frame: pd.DataFrame | None = None) -> np.ndarray:
        """Design rows for ``attempts`` (and the matching rows of ``covariate_frame``; a one-row
        frame is broadcast)."""
        k = np.atleast_1d(np.asarray(attempts))
        if np.any(k < 1):
            raise ValueError("attempt numbers start at 1")
        if covariate_frame is not None and len(covariate_frame) == 1 and len(k) > 1:
            covariate_frame = covariate_frame.loc[covariate_frame.index.repeat(len(k))]
        if covariate_frame is not None and self.covariates and len(covariate_frame) != len(k):
            raise ValueError("covariate_frame must have one row per attempt (or a single row)")
        Xa, _ = _attempt_design(k, self.k_cat, self.has_tail)
        Xc, _ = _covariate_design(covariate_frame, self.levels, len(k))
        return np.hstack([Xa, Xc])

    def predict(self, attempts: Sequence[int] | np.ndarray,
                covariate_frame: pd.DataFrame | None = None) -> np.ndarray:
        """``h = expit(X beta)`` for each attempt number (with its covariate row).

        Beyond ``max_fitted_attempt`` this extrapolates the log-linear tail; ``profit_curve``
        never asks for that.
        """
        return expit(self.design(attempts, covariate_frame) @ self.params)


def fit_hazard(pp: pd.DataFrame, covariates: Sequence[str] = (), max_attempt: int | None = None,
               *, min_events: int = MIN_EVENTS_PER_ATTEMPT,
               categorical_through: int | None = None) -> HazardModel:
    """Fit ``h_k`` on a person-period table (``person_period``'s columns) with a binomial GLM.

    ``events ~ Binomial(at_risk, h)``, ``logit h_k = f(k) + sum_c x_c' b_c`` where

    * ``f(k) = a_k`` (one free level per attempt) for ``k < K_cat`` and
      ``f(k) = a_K + beta (k - K_cat)`` for ``k >= K_cat`` (log-linear tail, continuous at K_cat);
    * ``K_cat`` = largest K with at least ``min_events`` conversions at every attempt ``1..K``
      (pooled over covariates), unless ``categorical_through`` fixes it;
    * covariates enter additively on the logit scale (drop-first indicators).

    Rows with ``attempt > max_attempt`` are left out (the fit only uses the supported range).
    """
    covariates = tuple(covariates)
    pp = pp[pp["at_risk"] > 0]
    if max_attempt is not None:
        pp = pp[pp["attempt"] <= max_attempt]
    if pp.empty:
        raise ValueError("empty person-period table")
    if pp["events"].sum() <= 0:
        raise ValueError("no conversions in the history: the hazard cannot be estimated")
    k = pp["attempt"].to_numpy()
    k_top = int(k.max())
    if categorical_through is None:
        ev = pp.groupby("attempt")["events"].sum().reindex(range(1, k_top + 1), fill_value=0)
        k_cat = _choose_k_cat(ev.to_numpy(), min_events)
    else:
        k_cat = int(min(max(1, categorical_through), k_top))
    has_tail = k_top > k_cat
    levels = {c: sorted(pd.unique(pp[c])) for c in covariates}
    Xa, na = _attempt_design(k, k_cat, has_tail)
    Xc, nc = _covariate_design(pp, levels, len(pp))
    X = np.hstack([Xa, Xc])
    res = _glm(pp["events"].to_numpy(float), pp["at_risk"].to_numpy(float), X)
    return HazardModel(result=res, covariates=covariates, levels=levels, k_cat=k_cat,
                       has_tail=has_tail, max_fitted_attempt=k_top, exog_names=na + nc)


# --------------------------------------------------------------------------------------------
# Profit of a cap
# --------------------------------------------------------------------------------------------

def _support(at_risk_total: np.ndarray, min_at_risk: int) -> int:
    """K_support = largest k with at least ``min_at_risk`` leads at risk (at_risk is non-increasing)."""
    return int(np.sum(np.asarray(at_risk_total) >= min_at_risk))


def _group_values(leads: _Leads, weight: np.ndarray | None = None) -> np.ndarray:
    """Mean revenue per conversion ``v_g`` over settled conversions of each covariate group
    (the pooled mean when a group has fewer than ``MIN_CONVERSIONS_FOR_GROUP_VALUE``)."""
    w = (leads.weight if weight is None else weight).astype(float)
    m = leads.converted & leads.settled
    G = leads.n_groups
    n = np.bincount(leads.group[m], weights=w[m], minlength=G)
    r = np.bincount(leads.group[m], weights=(w * leads.revenue)[m], minlength=G)
    pooled = r.sum() / n.sum() if n.sum() > 0 else 0.0
    own = np.divide(r, n, out=np.zeros(G), where=n > 0)
    return np.where(n >= MIN_CONVERSIONS_FOR_GROUP_VALUE, own, pooled)


def _profit(h: np.ndarray, values: np.ndarray, sizes: np.ndarray,
            cost: float) -> dict[str, np.ndarray]:
    """Standardised curve from per-group hazards ``h`` (G, K), values ``v_g`` and sizes ``n_g``.

    ``S_gk = prod_{j<k} (1 - h_gj)``, ``r_gk = h_gk v_g``, weights ``w_g = n_g / sum n``;
    ``share_open_k = sum_g w_g S_gk``, ``marginal_k = sum_g w_g S_gk (r_gk - c)``,
    ``Pi(N) = sum_{k<=N} marginal_k``; hazard and revenue_per_attempt are the population values
    among leads reaching attempt k (``sum_g w_g S_gk h_gk / share_open_k`` etc.).
    """
    G, K = h.shape
    S = np.hstack([np.ones((G, 1)), np.cumprod(1.0 - h, axis=1)[:, :-1]])
    w = sizes / sizes.sum()
    share_open = w @ S
    conv = w @ (S * h)
    exp_rev = w @ (S * h * values[:, None])
    marginal = exp_rev - cost * share_open
    pos = share_open > 0
    return {
        "hazard": np.divide(conv, share_open, out=np.zeros(K), where=pos),
        "share_open": share_open,
        "revenue_per_attempt": np.divide(exp_rev, share_open, out=np.zeros(K), where=pos),
        "marginal_profit": marginal,
        "profit_per_lead": np.cumsum(marginal),
    }


@dataclass
class _Analysis:
    leads: _Leads
    pp: pd.DataFrame
    model: HazardModel
    k_support: int
    curve: pd.DataFrame
    grid_X: np.ndarray        # design rows for (g, k), g-major, k = 1..k_support


def _analyse(leads: _Leads, cost: float, min_at_risk: int,
             min_events: int = MIN_EVENTS_PER_ATTEMPT) -> _Analysis:
    at_risk, events, revenue = _counts(leads)
    k_support = _support(at_risk.sum(axis=0), min_at_risk)
    if k_support < 1:
        raise ValueError(f"fewer than {min_at_risk} leads received a first attempt: "
                         "no cap is supported by the data")
    pp = _pp_frame(leads, at_risk, events, revenue)
    model = fit_hazard(pp, leads.covariates, max_attempt=k_support, min_events=min_events)
    G = leads.n_groups
    k = np.tile(np.arange(1, k_support + 1), G)
    cov = leads.groups.loc[leads.groups.index.repeat(k_support)].reset_index(drop=True)
    grid_X = model.design(k, cov if leads.covariates else None)
    h = expit(grid_X @ model.params).reshape(G, k_support)
    parts = _profit(h, _group_values(leads), at_risk[:, 0], cost)
    curve = pd.DataFrame({"attempts": np.arange(1, k_support + 1), **parts,
                          "at_risk": np.rint(at_risk.sum(axis=0)[:k_support]).astype(np.int64)})
    return _Analysis(leads, pp, model, k_support, curve, grid_X)


def profit_curve(profiles: pd.DataFrame, cost_per_attempt: float, covariates: Sequence[str] = (),
                 min_at_risk: int = 30) -> pd.DataFrame:
    """Expected profit per contacted lead of capping at N attempts, for N = 1..K_support.

    ``Pi(N) = sum_{k<=N} S_k (r_k - c)`` with ``S_k = prod_{j<k} (1 - h_j)``, ``r_k = h_k x v``
    (``v`` mean revenue per settled conversion, per covariate group when it has enough
    conversions) and ``c = cost_per_attempt``; with covariates the per-group curves are averaged
    with weights = group size at k = 1. ``K_support`` = largest k with ``>= min_at_risk`` leads at
    risk. Columns: ``attempts, hazard, share_open, revenue_per_attempt, marginal_profit,
    profit_per_lead, at_risk``.
    """
    return _analyse(_prepare(profiles, covariates), float(cost_per_attempt), min_at_risk).curve


# --------------------------------------------------------------------------------------------
# Recommendation
# --------------------------------------------------------------------------------------------

def _plateau(profit: np.ndarray, share: float) -> int:
    """Smallest N with ``Pi(N) >= max Pi - share x |max Pi|`` (= ``(1 - share) max Pi`` when > 0)."""
    best = profit.max()
    return int(np.argmax(profit >= best - share * abs(best)) + 1)


@dataclass
class CapRecommendation:
    """The attempt cap that maximises expected profit per contacted lead, with its uncertainty."""

    recommended_attempts: int
    ci_low: int
    ci_high: int
    expected_profit_per_lead: float
    plateau_attempts: int
    support_max_attempts: int
    at_support_edge: bool
    cost_per_attempt: float
    curve: pd.DataFrame
    boot_recommendations: np.ndarray
    note: str = ""

    def to_summary(self) -> dict:
        """The headline figures as plain JSON types."""
        return {
            "recommended_attempts": int(self.recommended_attempts),
            "ci_low": int(self.ci_low),
            "ci_high": int(self.ci_high),
            "expected_profit_per_lead": float(self.expected_profit_per_lead),
            "plateau_attempts": int(self.plateau_attempts),
            "support_max_attempts": int(self.support_max_attempts),
            "at_support_edge": bool(self.at_support_edge),
            "cost_per_attempt": float(self.cost_per_attempt),
        }


def _bootstrap(an: _Analysis, cost: float, n_boot: int, seed: int) -> np.ndarray:
    """Recommended N on ``n_boot`` lead-level resamples (multinomial counts over profile rows).

    The model structure (``K_cat``, support) is held at the full-data fit; each replicate refits
    the GLM (started at the full-data estimates) and re-estimates the group values and sizes.
    """
    leads, K = an.leads, an.k_support
    rng = np.random.default_rng(seed)
    w = leads.weight.astype(float)
    p = w / w.sum()
    total = int(leads.weight.sum())
    G = leads.n_groups
    start = an.model.params
    out = np.empty(n_boot, dtype=np.int64)
    for b in range(n_boot):
        wb = rng.multinomial(total, p)
        at_risk, events, _ = _counts(leads, wb, k_max=K)
        ar, ev = at_risk.ravel(), events.ravel()
        keep = ar > 0
        res = _glm(ev[keep], ar[keep], an.grid_X[keep], start=start)
        params = np.asarray(res.params)
        if not np.all(np.isfinite(params)):
            params = start
        h = expit(an.grid_X @ params).reshape(G, K)
        prof = _profit(h, _group_values(leads, wb), at_risk[:, 0], cost)["profit_per_lead"]
        out[b] = int(np.argmax(prof)) + 1
    return out


def recommend_cap(profiles: pd.DataFrame, cost_per_attempt: float, covariates: Sequence[str] = (),
                  n_boot: int = 200, seed: int = 0, plateau_share: float = 0.02,
                  min_at_risk: int = 30, confidence: float = 0.95) -> CapRecommendation:
    """Recommend the attempt cap ``N = argmax_{1<=N<=K_support} Pi(N)`` (see ``profit_curve``).

    * ``ci_low, ci_high``: percentile interval (``confidence``) of the recommended N over
      ``n_boot`` lead-level bootstrap resamples (seeded ``numpy.random.default_rng(seed)``;
      floor/ceil of the interpolated percentiles). With ``n_boot = 0`` the interval is the point.
    * ``plateau_attempts``: smallest N with ``Pi(N) >= (1 - plateau_share) max Pi``.
    * ``at_support_edge``: the maximum is at ``K_support``; the data cannot support a higher cap.
    """
    if not 0 < confidence < 1:
        raise ValueError("confidence must be in (0, 1)")
    if not 0 <= plateau_share < 1:
        raise ValueError("plateau_share must be in [0, 1)")
    cost = float(cost_per_attempt)
    an = _analyse(_prepare(profiles, covariates), cost, min_at_risk)
    profit = an.curve["profit_per_lead"].to_numpy()
    best = int(np.argmax(profit)) + 1
    K = an.k_support
    boot = _bootstrap(an, cost, n_boot, seed) if n_boot > 0 else np.empty(0, dtype=np.int64)
    if boot.size:
        alpha = 1 - confidence
        lo, hi = np.quantile(boot, [alpha / 2, 1 - alpha / 2])
        ci_low, ci_high = int(np.floor(lo)), int(np.ceil(hi))
    else:
        ci_low = ci_high = best
    edge = best == K
    if edge:
        note = (f"Profit per lead is highest at the support edge: the data cannot support a cap above "
                f"{K} (fewer than {min_at_risk} leads reached attempt {K + 1}); more attempts "
                "might pay, but the history cannot show it.")
    else:
        note = (f"Profit per lead peaks at {best} attempt{'s' if best > 1 else ''}; "
                f"the history supports caps up to {K}.")
    if profit[best - 1] <= 0:
        note += " Even the best cap loses money per lead at this cost per attempt."
    return CapRecommendation(
        recommended_attempts=best, ci_low=ci_low, ci_high=ci_high,
        expected_profit_per_lead=float(profit[best - 1]),
        plateau_attempts=_plateau(profit, plateau_share), support_max_attempts=K,
        at_support_edge=bool(edge), cost_per_attempt=cost, curve=an.curve,
        boot_recommendations=boot, note=note)


# --------------------------------------------------------------------------------------------
# The seeds' method (biased; kept to show how far it lands from the sound answer)
# --------------------------------------------------------------------------------------------

def cohort_table(profiles: pd.DataFrame, cost_per_attempt: float,
                 confidence: float = 0.95) -> pd.DataFrame:
    """Seeds' method: settled (non-censored) contacted leads in cohorts by total attempts n.

    Per cohort: ``leads = sum w``, ``conversions = sum w [converted]``, ``conversion_rate`` with a
    Wilson interval (``conversion_rate_low/high``), ``revenue_per_lead = sum w x revenue / leads``,
    ``cost_per_lead = n c``, ``profit_per_lead = revenue_per_lead - n c``.
    Biased: converted leads stop being called, so a cohort's outcome decided its attempt count.
    """
    _check_profiles(profiles, ())
    d = profiles[(~profiles["censored"].astype(bool)) & (profiles["attempts"] >= 1)]
    w = d["weight"].to_numpy(float)
    conv = d["converted"].to_numpy(bool)
    t = pd.DataFrame({"attempts": d["attempts"].to_numpy().astype(np.int64), "leads": w,
                      "conversions": w * conv, "rev": w * d["revenue"].to_numpy(float)})
    t = t.groupby("attempts", sort=True).sum().reset_index()
    t["leads"] = np.rint(t["leads"]).astype(np.int64)
    t["conversions"] = np.rint(t["conversions"]).astype(np.int64)
    t["conversion_rate"] = t["conversions"] / t["leads"]
    lo, hi = proportion_confint(t["conversions"].to_numpy(), t["leads"].to_numpy(),
                                alpha=1 - confidence, method="wilson")
    t["conversion_rate_low"], t["conversion_rate_high"] = np.asarray(lo), np.asarray(hi)
    t["revenue_per_lead"] = t["rev"] / t["leads"]
    t["cost_per_lead"] = t["attempts"] * float(cost_per_attempt)
    t["profit_per_lead"] = t["revenue_per_lead"] - t["cost_per_lead"]
    return t.drop(columns="rev")


def cohort_method(profiles: pd.DataFrame, cost_per_attempt: float, min_leads: int = 30) -> dict:
    """Seeds' answer: where the cohort profit-per-lead curve levels off.

    Kneedle (``kneed.KneeLocator(curve='concave', direction='increasing')``) on cohorts with at
    least ``min_leads`` leads; the argmax of the curve when no knee is found (or fewer than 3
    cohorts). Returns ``{"cohort_method_attempts", "how": "kneedle"|"argmax", "table"}``.
    """
    table = cohort_table(profiles, cost_per_attempt)
    big = table[table["leads"] >= min_leads]
    if big.empty:
        raise ValueError(f"no attempt cohort has {min_leads} settled leads")
    x = big["attempts"].to_numpy(float)
    y = big["profit_per_lead"].to_numpy(float)
    knee = None
    if len(big) >= 3 and np.ptp(y) > 0:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            knee = KneeLocator(x, y, curve="concave", direction="increasing").knee
    if knee is not None:
        return {"cohort_method_attempts": int(round(float(knee))), "how": "kneedle", "table": table}
    return {"cohort_method_attempts": int(x[int(np.argmax(y))]), "how": "argmax", "table": table}


# --------------------------------------------------------------------------------------------
# Reading the results
# --------------------------------------------------------------------------------------------

def observed_hazards(profiles: pd.DataFrame, confidence: float = 0.95, min_at_risk: int = 30) -> pd.DataFrame:
    """Raw per-attempt conversion, pooled over covariates: ``hazard_k = events_k / at_risk_k``
    with its Wilson interval, ``small_sample = at_risk_k < min_at_risk``."""
    pp = person_period(profiles).groupby("attempt", as_index=False)[["at_risk", "events", "revenue"]].sum()
    pp["hazard"] = pp.events / pp.at_risk
    lo, hi = proportion_confint(pp.events.to_numpy(), pp.at_risk.to_numpy(), alpha=1 - confidence, method="wilson")
    pp["hazard_low"], pp["hazard_high"] = np.asarray(lo), np.asarray(hi)
    pp["small_sample"] = pp.at_risk < min_at_risk
    return pp


def hazard_shape(hazard: Sequence[float]) -> str:
    """How a per-attempt conversion curve moves, in words: ``"falls from attempt 1 onward"`` when
    it never rises, else where it peaks (or that it rises at some attempts after falling)."""
    h = np.asarray(hazard, dtype=float)
    if h.size < 2:
        return "cannot be traced: the history has a single attempt"
    rises = [int(k) + 2 for k in np.flatnonzero(np.diff(h) > 1e-12)]
    peak = int(np.argmax(h)) + 1
    if not rises:
        return "falls from attempt 1 onward"
    where = ", ".join(map(str, rises[:5])) + ("…" if len(rises) > 5 else "")
    if peak == 1:
        return f"is highest at attempt 1 and falls overall, but rises again at attempt {where}"
    return f"rises to its peak at attempt {peak}, then falls"


def recommend_cap_or_reason(profiles: pd.DataFrame, cost_per_attempt: float, covariates: Sequence[str] = (),
                            **kwargs) -> CapRecommendation | str:
    """:func:`recommend_cap`, or, when the history cannot support any cap (nobody contacted, no
    conversions, too few leads), the reason in plain words."""
    if not np.isfinite(cost_per_attempt):
        return "the cost per attempt is unknown (no attempts were logged)"
    try:
        return recommend_cap(profiles, cost_per_attempt, covariates, **kwargs)
    except ValueError as err:
        return str(err)


def cohort_method_or_reason(profiles: pd.DataFrame, cost_per_attempt: float, min_leads: int = 30) -> dict | str:
    """:func:`cohort_method`, or the reason it has no answer."""
    try:
        return cohort_method(profiles, cost_per_attempt, min_leads)
    except ValueError as err:
        return str(err)
