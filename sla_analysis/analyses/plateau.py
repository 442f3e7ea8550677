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
  ``logit h = f(k) + covariate effects``, ``f`` chosen by AIC among a straight line, restricted
  cubic splines and (when every attempt is well supported) one level per attempt;
* value of a conversion at attempt k, ``v_k`` (logistic x Gamma GLM in k, used when a Wald test
  finds a trend; else the mean per group);
* ``S_k = prod_{j<k} (1 - h_j)``, ``Pi(N) = sum_{k<=N} S_k (m h_k v_k - c)`` per contacted lead
  (``m`` gross margin), standardised over covariate groups;
* recommended cap ``argmax_{1<=N<=K} Pi(N)``, ``K`` the support lowered to a cap reps enforced,
  with a bootstrap interval that refits the whole procedure; per tier on request; when the best
  cap is ``K`` the history cannot judge higher caps and an experiment is sized.

The seeds' method (cohorts of settled leads by total attempts, knee of cohort profit) is here too,
labelled as such, because it is what the SLA's authors proposed; it is biased (see the docs).
"""
from __future__ import annotations

import dataclasses
import multiprocessing
import os
import sys
import warnings
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd
import statsmodels.api as sm
from kneed import KneeLocator
from scipy.special import expit
from scipy.stats import chi2
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import proportion_confint
from statsmodels.tools.sm_exceptions import ConvergenceWarning, DomainWarning, PerfectSeparationWarning

from sla_analysis import settings
from sla_analysis.analyses.stats import logit_irls
from sla_analysis.formats import money, plural, weeks_in_words
from sla_analysis.processes import die_with_parent
from sla_analysis.results import Result

REQUIRED_COLUMNS = ("attempts", "converted", "revenue", "censored", "weight")
#: optional: the attempt at which a call first reached the lead (0 = never), for the two-state model
CONNECTED_COLUMN = "connected_at"

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
    #: attempt number of the lead's first connected call (0: never reached), when the export has
    #: call outcomes; ``None`` otherwise
    connected_at: np.ndarray | None = None

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
    if CONNECTED_COLUMN in profiles.columns:
        c = profiles[CONNECTED_COLUMN].to_numpy(dtype=float)
        if np.any(~np.isfinite(c)) or np.any(c < 0) or np.any(c != np.round(c)) or np.any(c > a):
            raise ValueError(f"{CONNECTED_COLUMN} must be a whole number from 0 (never reached) to the lead's attempts")


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
        connected_at=(sub[CONNECTED_COLUMN].to_numpy().astype(np.int64) if CONNECTED_COLUMN in sub.columns else None),
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


def _state_counts(leads: _Leads, weight: np.ndarray | None, K: int) -> dict[str, np.ndarray]:
    """Counts of the two-state model, each ``(G, K)`` for attempts ``k = 1..K``. A lead is *reached*
    at attempt k when a call reached it at an earlier attempt (``0 < connected_at < k``):

    * ``at_risk_reached = sum w [connected_at < k <= attempts, connected_at > 0]``;
    * ``events_reached = sum w [converted, attempts == k, 0 < connected_at < k]``;
    * ``connects = sum w [connected_at == k, not converted at k]``: first reached at k, still open
      after it (its risk set: the not-yet-reached leads at risk at k that did not convert at k).
    """
    w = (leads.weight if weight is None else weight).astype(float)
    G, full_k = leads.n_groups, leads.max_attempt
    c, a = leads.connected_at, leads.attempts
    size = G * (full_k + 2)
    base = leads.group * (full_k + 2)
    on = (c > 0) & (c < a)                               # reached before its last attempt
    step = (np.bincount(base[on] + c[on] + 1, weights=w[on], minlength=size)
            - np.bincount(base[on] + a[on] + 1, weights=w[on], minlength=size))
    at_risk_r = step.reshape(G, full_k + 2).cumsum(axis=1)[:, 1:full_k + 1]
    ev = leads.converted & on
    events_r = np.bincount(base[ev] + a[ev], weights=w[ev], minlength=size).reshape(G, full_k + 2)[:, 1:full_k + 1]
    rev_r = np.bincount(base[ev] + a[ev], weights=(w * leads.revenue)[ev],
                        minlength=size).reshape(G, full_k + 2)[:, 1:full_k + 1]
    cn = (c > 0) & ~(leads.converted & (c == a))
    connects = np.bincount(base[cn] + c[cn], weights=w[cn], minlength=size).reshape(G, full_k + 2)[:, 1:full_k + 1]
    out = {"at_risk_reached": at_risk_r, "events_reached": events_r, "revenue_reached": rev_r, "connects": connects}
    if K <= full_k:
        return {k: v[:, :K] for k, v in out.items()}
    pad = np.zeros((G, K - full_k))
    return {k: np.hstack([v, pad]) for k, v in out.items()}


def _pp_frame(leads: _Leads, at_risk: np.ndarray, events: np.ndarray,
              revenue: np.ndarray, sort: bool = True) -> pd.DataFrame:
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
    if not sort:                       # the fit does not depend on the row order (bootstrap)
        return out
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
# Hazard model: the shape in the attempt number is chosen by AIC among a few smooth candidates
# --------------------------------------------------------------------------------------------

#: Knot positions (quantiles of the attempt numbers of the person-periods) of the restricted
#: cubic spline candidates, by number of knots (Harrell's defaults).
SPLINE_KNOT_QUANTILES = {3: (0.10, 0.50, 0.90), 4: (0.05, 0.35, 0.65, 0.95),
                         5: (0.05, 0.275, 0.50, 0.725, 0.95)}


def _rcs(k: np.ndarray, knots: Sequence[float]) -> np.ndarray:
    """Non-linear columns of a restricted (natural) cubic spline in ``k`` with ``knots``:
    ``(k - t_j)_+^3 - (k - t_{m-1})_+^3 (t_m - t_j)/(t_m - t_{m-1}) + (k - t_m)_+^3 (t_{m-1} - t_j)/(t_m - t_{m-1})``
    for ``j = 1..m-2``, divided by ``(t_m - t_1)^2``; linear beyond the outer knots."""
    t = np.asarray(knots, dtype=float)
    m = t.size
    k = np.asarray(k, dtype=float)[:, None]
    p3 = lambda x: np.maximum(x, 0.0) ** 3  # noqa: E731
    tj = t[None, : m - 2]
    cols = (p3(k - tj) - p3(k - t[m - 2]) * (t[m - 1] - tj) / (t[m - 1] - t[m - 2])
            + p3(k - t[m - 1]) * (t[m - 2] - tj) / (t[m - 1] - t[m - 2]))
    return cols / (t[m - 1] - t[0]) ** 2


@dataclass(frozen=True)
class Shape:
    """How ``logit h`` moves with the attempt number ``k`` (before covariate effects).

    * ``linear``: ``a + b k`` (a geometric-like decline or rise);
    * ``spline``: ``a + b k + restricted cubic spline terms`` at ``knots`` (rise-then-fall, levelling);
    * ``free``: one level per attempt ``1..k_free`` (only offered when every attempt is well supported);
    * ``first``: attempt 1 also gets its own level (a first touch that behaves differently).
    """

    name: str
    knots: tuple[float, ...] = ()
    first: bool = False
    k_free: int = 0

    @property
    def label(self) -> str:
        base = {"linear": "straight line on the logit scale",
                "spline": "smooth curve (spline, knots at attempts " + ", ".join(f"{t:g}" for t in self.knots) + ")",
                "free": "one level per attempt"}[self.name]
        return base + (", own level for attempt 1" if self.first and self.name != "free" else "")

    def design(self, k: np.ndarray) -> tuple[np.ndarray, list[str]]:
        k = np.asarray(k, dtype=float)
        if self.name == "free":
            if np.any(k > self.k_free):
                raise ValueError(f"the per-attempt model was fitted on attempts 1..{self.k_free} only")
            return (np.column_stack([(k == j).astype(float) for j in range(1, self.k_free + 1)]),
                    [f"attempt={j}" for j in range(1, self.k_free + 1)])
        cols, names = [np.ones_like(k), k], ["const", "attempt"]
        if self.name == "spline":
            s = _rcs(k, self.knots)
            cols += list(s.T)
            names += [f"spline{j}" for j in range(s.shape[1])]
        if self.first:
            cols.append((k == 1).astype(float))
            names.append("attempt=1")
        return np.column_stack(cols), names


def candidate_shapes(at_risk_by_k: np.ndarray, events_by_k: np.ndarray,
                     min_events: int = MIN_EVENTS_PER_ATTEMPT) -> list[Shape]:
    """The shapes :func:`fit_hazard` chooses among for attempts ``1..K`` (``K = len(at_risk_by_k)``):
    linear; restricted cubic splines with 3, 4 and 5 knots at quantiles of the attempt numbers
    weighted by leads at risk (distinct knots only); each with and without an own level for attempt
    1; and one level per attempt when every attempt ``1..K`` has ``>= min_events`` conversions."""
    at_risk_by_k = np.asarray(at_risk_by_k, dtype=float)
    K = at_risk_by_k.size
    out = [Shape("linear")]
    if K >= 3:
        out.append(Shape("linear", first=True))
    cum = np.cumsum(at_risk_by_k) / at_risk_by_k.sum()
    seen = set()
    for m, qs in SPLINE_KNOT_QUANTILES.items():
        knots = tuple(sorted({float(np.searchsorted(cum, q) + 1) for q in qs}))
        if len(knots) < 3 or knots in seen or K < len(knots) + 1:
            continue
        seen.add(knots)
        out.append(Shape("spline", knots))
        if knots[0] > 1 and K >= len(knots) + 2:
            out.append(Shape("spline", knots, first=True))
    if K >= 2 and np.all(np.asarray(events_by_k) >= min_events):
        out.append(Shape("free", k_free=K))
    return out


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


def _slope_design(frame: pd.DataFrame | None, levels: dict[str, list], sloped: Sequence[str],
                  k: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """``[level] x k`` columns for each non-reference level of the ``sloped`` covariates."""
    cols, names = [], []
    for c in sloped:
        values = frame[c].to_numpy()
        for level in levels[c][1:]:
            cols.append((values == level).astype(float) * k)
            names.append(f"{c}={level}:attempt")
    if not cols:
        return np.zeros((len(k), 0)), []
    return np.column_stack(cols), names


def _glm(events: np.ndarray, at_risk: np.ndarray, X: np.ndarray, start: np.ndarray | None = None):
    """Binomial GLM (logit link) of ``events`` out of ``at_risk``, fitted by IRLS in statsmodels."""
    endog = np.column_stack([events, at_risk - events]).astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", _GLM_WARNINGS)
        return sm.GLM(endog, X, family=sm.families.Binomial()).fit(start_params=start, maxiter=100)


@dataclass
class HazardModel:
    """A fitted per-attempt hazard ``h_k = P(convert at k | open at k)``:
    ``logit h = f(k) + sum covariate effects``, ``f`` of the chosen :class:`Shape`.
    ``result`` is the statsmodels ``GLMResults``; ``levels`` the covariate levels seen in the fit
    (the first one is the reference); ``candidates`` the AIC of every shape tried."""

    result: Any
    covariates: tuple[str, ...]
    levels: dict[str, list]
    shape: Shape
    max_fitted_attempt: int
    exog_names: list[str] = field(default_factory=list)
    candidates: pd.DataFrame | None = None
    fitted_params: dict = field(default_factory=dict)
    #: covariates whose levels also get their own slope in the attempt number (``level x k``)
    sloped: tuple[str, ...] = ()

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
        Xa, _ = self.shape.design(k)
        Xc, _ = _covariate_design(covariate_frame, self.levels, len(k))
        Xs, _ = _slope_design(covariate_frame, self.levels, self.sloped, k)
        return np.hstack([Xa, Xc, Xs])

    def predict(self, attempts: Sequence[int] | np.ndarray,
                covariate_frame: pd.DataFrame | None = None) -> np.ndarray:
        """``h = expit(X beta)`` for each attempt number (with its covariate row)."""
        return expit(self.design(attempts, covariate_frame) @ self.params)


def fit_hazard(pp: pd.DataFrame, covariates: Sequence[str] = (), max_attempt: int | None = None,
               *, shape: Shape | str = "auto", min_events: int = MIN_EVENTS_PER_ATTEMPT,
               starts: dict | None = None, sloped: Sequence[str] = (), light: bool = False) -> HazardModel:
    """Fit ``h_k`` on a person-period table (``person_period``'s columns) with a binomial GLM.

    ``events ~ Binomial(at_risk, h)``, ``logit h_k = f(k) + sum_c x_c' b_c``; covariates enter
    additively on the logit scale (drop-first indicators). ``f`` is the :func:`candidate_shapes`
    member with the smallest AIC (``-2 log L + 2 p``) unless ``shape`` fixes it (a :class:`Shape`,
    or ``"free"`` / ``"linear"``). The AIC's penalty keeps small histories on simple shapes; large
    ones can follow a rise-then-fall. Rows with ``attempt > max_attempt`` are left out.
    ``starts``: IRLS starting values per shape (``HazardModel.fitted_params`` of an earlier fit, as
    the bootstrap uses); only the speed depends on them. ``sloped``: covariates whose levels also
    get their own linear slope in k (``logit h = f(k) + b_c + s_c k``). ``light``: fitted by
    :func:`logit_irls` (the same estimates, no standard errors), as the bootstrap's refits are.
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
    by_k = pp.groupby("attempt")[["at_risk", "events"]].sum().reindex(range(1, k_top + 1), fill_value=0)
    if isinstance(shape, Shape):
        shapes = [shape]
    elif shape == "free":
        shapes = [Shape("free", k_free=k_top)]
    elif shape == "linear":
        shapes = [Shape("linear")]
    elif shape == "auto":
        shapes = candidate_shapes(by_k["at_risk"].to_numpy(), by_k["events"].to_numpy(), min_events)
    else:
        raise ValueError(f"unknown hazard shape {shape!r}")
    levels = {c: sorted(pd.unique(pp[c])) for c in covariates}
    Xc, nc = _covariate_design(pp, levels, len(pp))
    Xs, ns = _slope_design(pp, levels, tuple(sloped), k)
    Xc, nc = np.hstack([Xc, Xs]), nc + ns
    ev, ar = pp["events"].to_numpy(float), pp["at_risk"].to_numpy(float)
    best, rows, fitted = None, [], {}
    for s in shapes:
        Xa, na = s.design(k)
        X = np.hstack([Xa, Xc])
        key = (s.name, len(s.knots), s.first, s.k_free)
        start = (starts or {}).get(key)
        start = start if start is not None and len(start) == X.shape[1] else None
        res = logit_irls(ev, ar, X, start) if light else _glm(ev, ar, X, start=start)
        fitted[key] = np.asarray(res.params)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", _GLM_WARNINGS)
            aic = float(-2 * res.llf + 2 * X.shape[1]) if np.all(np.isfinite(res.params)) else np.inf
        if not np.isfinite(aic):
            aic = np.inf
        rows.append({"shape": s.label, "parameters": X.shape[1], "aic": aic})
        if best is None or aic < best[0]:
            best = (aic, s, res, na + nc)
    _, s, res, names = best
    return HazardModel(result=res, covariates=covariates, levels=levels, shape=s,
                       max_fitted_attempt=k_top, exog_names=names, candidates=pd.DataFrame(rows),
                       fitted_params=fitted, sloped=tuple(sloped))


# --------------------------------------------------------------------------------------------
# Value of a conversion by attempt
# --------------------------------------------------------------------------------------------

#: Below this many won deals the value of a conversion is not tested for a trend in the attempt.
MIN_WON_FOR_VALUE_TREND = 60

#: The value of a conversion follows the attempt number when the trend test's p-value is below this.
VALUE_TREND_ALPHA = 0.05
#: won deals an attempt number needs for the fitted value trend to be read there: past the last such
#: attempt the value of a conversion is held at that attempt's (never extrapolated)
MIN_WON_TO_READ_VALUE = 5


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


@dataclass
class ValueModel:
    """Expected revenue of a conversion at attempt ``k`` per covariate group, ``values`` (G, K).

    ``varies``: the trend test rejected a value that does not depend on the attempt (then
    ``values[g, k] = P(won | g, k) x E[amount | won, g, k]``: a logistic and a Gamma (log link) GLM,
    each linear in k); otherwise ``values[g, k] = v_g`` (mean revenue per settled conversion).
    ``p_value``: Wald chi-square test of the two attempt slopes (None when not testable: ``reason``).
    ``ratio_per_attempt``: fitted value at attempt k+1 / attempt k (the mean of the fitted ratios).
    ``held_after``: the last attempt number with at least :data:`MIN_WON_TO_READ_VALUE` won deals
    (when none has that many: the last with a won deal) when the trend is used and the grid goes
    beyond it: past it, the value is held at its level (the trend is not carried beyond the deals
    it was read from).
    """

    values: np.ndarray
    varies: bool
    p_value: float | None
    won_deals: int
    ratio_per_attempt: float | None = None
    reason: str = ""
    fitted_params: dict = field(default_factory=dict)   # IRLS starting values for a refit (speed only)
    held_after: int | None = None


def _value_model(leads: _Leads, K: int, weight: np.ndarray | None = None,
                 starts: dict | None = None) -> ValueModel:
    w = (leads.weight if weight is None else weight).astype(float)
    G = leads.n_groups
    const = np.repeat(_group_values(leads, w)[:, None], K, axis=1)
    m = leads.converted & leads.settled & (leads.attempts <= K) & (w > 0)
    won = m & (leads.revenue > 0)
    n_won = int(round(w[won].sum()))
    if n_won < MIN_WON_FOR_VALUE_TREND or len(np.unique(leads.attempts[won])) < 3:
        return ValueModel(const, False, None, n_won, reason=f"fewer than {MIN_WON_FOR_VALUE_TREND} won deals "
                          "over at least 3 attempt numbers: the value of a conversion is taken as the same at every attempt")
    # groups with enough settled conversions get their own level; the rest share one
    n_conv_g = np.bincount(leads.group[m], weights=w[m], minlength=G)
    big = n_conv_g >= MIN_CONVERSIONS_FOR_GROUP_VALUE
    code = np.where(big, np.arange(G), G)               # G = "small groups"
    present = sorted(set(code[np.unique(leads.group[m])].tolist()))
    lev = {c: i for i, c in enumerate(present)}
    cell = leads.group * (K + 1) + leads.attempts
    size = G * (K + 1)
    conv_n = np.bincount(cell[m], weights=w[m], minlength=size)
    won_n = np.bincount(cell[won], weights=w[won], minlength=size)
    won_sum = np.bincount(cell[won], weights=(w * leads.revenue)[won], minlength=size)
    gk = np.arange(size)
    g_of, k_of = gk // (K + 1), gk % (K + 1)

    def X_for(g: np.ndarray, k: np.ndarray, slope: bool) -> np.ndarray:
        cols = [np.ones(len(g))] + ([k.astype(float)] if slope else [])
        cl = np.array([lev.get(code[x], 0) for x in g])
        cols += [(cl == j).astype(float) for j in range(1, len(present))]
        return np.column_stack(cols)

    tests: list[float] = []
    fits = {}
    keep = conv_n > 0
    if np.all(won_n[keep] == conv_n[keep]) or won_n.sum() == 0:
        fits["win"] = None                                   # every conversion won: P(won) = 1
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", _GLM_WARNINGS)
            Xw = X_for(g_of[keep], k_of[keep], True)
            sw = (starts or {}).get("win")
            r = sm.GLM(np.column_stack([won_n[keep], conv_n[keep] - won_n[keep]]), Xw,
                       family=sm.families.Binomial()).fit(
                start_params=sw if sw is not None and len(sw) == Xw.shape[1] else None)
        fits["win"] = r
        if np.isfinite(r.bse[1]) and r.bse[1] > 0:
            tests.append((r.params[1] / r.bse[1]) ** 2)
    kw = won_n > 0
    y = won_sum[kw] / won_n[kw]
    Xa = X_for(g_of[kw], k_of[kw], True)
    if np.ptp(y) <= 1e-9 * max(1.0, float(np.abs(y).max())):
        # every cell has the same mean amount: the Gamma fit is exact (no scale), the slope 0
        fits["amount"] = None
    else:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", _GLM_WARNINGS)
                sa = (starts or {}).get("amount")
                r = sm.GLM(y, Xa, family=sm.families.Gamma(sm.families.links.Log()), var_weights=won_n[kw]).fit(
                    start_params=sa if sa is not None and len(sa) == Xa.shape[1] else None)
        except (ValueError, np.linalg.LinAlgError):
            return ValueModel(const, False, None, n_won, reason="the attempt trend of the value could not be estimated")
        fits["amount"] = r
        if np.isfinite(r.bse[1]) and r.bse[1] > 0:
            tests.append((r.params[1] / r.bse[1]) ** 2)
    if not tests:
        why = ("every conversion won and every attempt's deals have the same mean value: nothing varies with the attempt"
               if fits["win"] is None and fits["amount"] is None else "the attempt trend of the value could not be estimated")
        return ValueModel(const, False, None, n_won, ratio_per_attempt=1.0 if "nothing varies" in why else None,
                          reason=why)
    p = float(chi2.sf(sum(tests), len(tests)))
    gg, kk = np.repeat(np.arange(G), K), np.tile(np.arange(1, K + 1), G)
    Xg = X_for(gg, kk, True)
    amount = (np.exp(Xg @ np.asarray(fits["amount"].params)) if fits["amount"] is not None
              else np.full(len(gg), float(y[0])))
    if fits["win"] is None:
        pwin = np.ones_like(amount)
    else:
        pwin = expit(Xg @ np.asarray(fits["win"].params))
    fitted = (pwin * amount).reshape(G, K)
    ratio = float(np.mean(fitted[:, 1:] / fitted[:, :-1])) if K > 1 else None
    params = {k: (None if r is None else np.asarray(r.params)) for k, r in fits.items()}
    if p < VALUE_TREND_ALPHA:
        # read the trend only where deals were won: held at the last such attempt's value beyond it
        won_by_k = np.bincount(leads.attempts[won], weights=w[won], minlength=K + 1)[1:K + 1]
        read = np.flatnonzero(won_by_k >= MIN_WON_TO_READ_VALUE)
        if not len(read):  # won deals spread thin over many attempts: read up to the last one won
            read = np.flatnonzero(won_by_k > 0)
        last = int(read[-1]) + 1 if len(read) else K
        held = None
        if last < K:
            fitted[:, last:] = fitted[:, last - 1:last]
            held = last
        return ValueModel(fitted, True, p, n_won, ratio, fitted_params=params, held_after=held)
    return ValueModel(const, False, p, n_won, ratio, fitted_params=params)


# --------------------------------------------------------------------------------------------
# Profit of a cap
# --------------------------------------------------------------------------------------------

def _profit(h: np.ndarray, values: np.ndarray, sizes: np.ndarray,
            cost: float) -> dict[str, np.ndarray]:
    """Standardised curve from per-group hazards ``h`` (G, K), values ``v_gk`` (G, K, or G) and
    sizes ``n_g``.

    ``S_gk = prod_{j<k} (1 - h_gj)``, ``r_gk = h_gk v_gk``, weights ``w_g = n_g / sum n``;
    ``share_open_k = sum_g w_g S_gk``, ``marginal_k = sum_g w_g S_gk (r_gk - c)``,
    ``Pi(N) = sum_{k<=N} marginal_k``; hazard and revenue_per_attempt are the population values
    among leads reaching attempt k (``sum_g w_g S_gk h_gk / share_open_k`` etc.).
    """
    G, K = h.shape
    values = np.asarray(values, dtype=float)
    if values.ndim == 1:
        values = np.repeat(values[:, None], K, axis=1)
    S = np.hstack([np.ones((G, 1)), np.cumprod(1.0 - h, axis=1)[:, :-1]])
    w = sizes / sizes.sum()
    share_open = w @ S
    conv = w @ (S * h)
    exp_rev = w @ (S * h * values)
    marginal = exp_rev - cost * share_open
    pos = share_open > 0
    return {
        "hazard": np.divide(conv, share_open, out=np.zeros(K), where=pos),
        "share_open": share_open,
        "revenue_per_attempt": np.divide(exp_rev, share_open, out=np.zeros(K), where=pos),
        "marginal_profit": marginal,
        "profit_per_lead": np.cumsum(marginal),
    }


#: A cap is *enforced* in the history when at least this share of the settled, unconverted,
#: contacted leads stopped at exactly the same attempt number (>= 2).
ENFORCED_CAP_SHARE = 0.5
#: ... and fewer than this share of the leads that reached that N (settled, unconverted) went beyond it.
ENFORCED_CAP_BEYOND = 0.25


def enforced_cap(profiles: pd.DataFrame, share: float = ENFORCED_CAP_SHARE) -> int | None:
    """The attempt number ``N >= 2`` at which at least ``share`` of the settled, unconverted,
    contacted leads stopped, fewer than ``ENFORCED_CAP_BEYOND`` of those reaching N going further
    (reps enforced a cap of N), else ``None``. Above such an N the history
    holds only the leads reps chose to keep working, so it cannot judge higher caps."""
    d = profiles[(profiles["attempts"] >= 1) & ~profiles["converted"].astype(bool)
                 & ~profiles["censored"].astype(bool)]
    if d.empty:
        return None
    n = d.groupby("attempts")["weight"].sum()
    top = int(n.idxmax())
    beyond = n[n.index > top].sum()
    return top if top >= 2 and n.max() >= share * n.sum() and beyond < ENFORCED_CAP_BEYOND * (n.max() + beyond) else None


@dataclass
class _Analysis:
    leads: _Leads
    pp: pd.DataFrame
    model: HazardModel
    value: ValueModel
    k_support: int
    curve: pd.DataFrame
    hazards: np.ndarray       # (G, K) fitted per group (with the two-state model: the effective hazard)
    values: np.ndarray        # (G, K) value of a conversion x gross margin
    sizes: np.ndarray         # (G,) contacted leads per group
    reached: "ReachedModel | None" = None


#: The two-state model is used when at least this many leads were first reached before their last
#: attempt, leads converted both before and after being reached, conversion differs between the
#: two (``REACHED_ALPHA``), the difference predicts conversion out of sample and it changes the cap.
MIN_REACHED_LEADS = 30
REACHED = "reached"


@dataclass
class ReachedModel:
    """Conversion before and after a call first reached the lead, and the chance of reaching it.

    ``conversion`` is the hazard model with a time-varying indicator ``reached`` (a call reached
    the lead at an earlier attempt); ``reach`` the chance of being first reached at attempt k among
    leads not reached yet (and still open after k), counted per attempt. Under a cap N applied to every lead, with
    ``U_k``/``R_k`` the shares open at k and not reached / reached:
    ``U_1 = 1, R_1 = 0``, ``U_{k+1} = U_k (1 - h^U_k)(1 - g_k)``,
    ``R_{k+1} = U_k (1 - h^U_k) g_k + R_k (1 - h^R_k)``; the effective hazard at k is
    ``(U_k h^U_k + R_k h^R_k) / (U_k + R_k)``. This is the g-formula: it is unbiased when reps'
    decisions to keep calling depend on whether the lead has been reached (and the covariates),
    not on what they sensed beyond it.
    """

    conversion: HazardModel
    reach: np.ndarray          # (G, K) g_k per group (:func:`reach_rates`)
    share_reached: np.ndarray  # (K,) population share of open leads already reached at k, all caps at K
    history_share: np.ndarray  # (K,) the same share among the leads the history called a k-th time

    def odds_ratio(self, k: int) -> float:
        """Conversion odds at attempt k after a call first reached the lead, over before."""
        coef = dict(zip(self.conversion.exog_names, self.conversion.params))
        return float(np.exp(coef.get(f"{REACHED}=1", 0.0) + k * coef.get(f"{REACHED}=1:attempt", 0.0)))


#: The two-state model is used when a Wald test rejects "conversion is the same before and after a
#: call first reached the lead" (its level and slope, 2 degrees of freedom) at this level.
REACHED_ALPHA = 0.05


def reached_p_value(conversion: HazardModel) -> float:
    """Wald chi-square test that the ``reached`` level and slope of the conversion model are both 0
    (1.0 when it cannot be computed)."""
    names = list(conversion.exog_names)
    idx = [i for i, n in enumerate(names) if n.startswith(f"{REACHED}=")]
    if not idx:
        return 1.0
    try:
        b = np.asarray(conversion.params)[idx]
        v = np.asarray(conversion.result.cov_params())[np.ix_(idx, idx)]
        stat = float(b @ np.linalg.solve(v, b))
    except (np.linalg.LinAlgError, ValueError):
        return 1.0
    return float(chi2.sf(stat, len(idx))) if np.isfinite(stat) and stat >= 0 else 1.0


#: folds of the out-of-sample check that the two-state model predicts conversion better
REACHED_FOLDS = 5


def _two_state_frame(leads: _Leads, at_risk: np.ndarray, events: np.ndarray, revenue: np.ndarray,
                     st: dict[str, np.ndarray]) -> pd.DataFrame:
    """The person-period table split by reached-yet (``REACHED`` 0/1), from the counts of
    :func:`_counts` and :func:`_state_counts`."""
    ev_r = st["events_reached"]
    return pd.concat([_pp_frame(leads, at_risk - st["at_risk_reached"], events - ev_r,
                                revenue - st["revenue_reached"], sort=False).assign(**{REACHED: 0}),
                      _pp_frame(leads, st["at_risk_reached"], ev_r, st["revenue_reached"], sort=False)
                      .assign(**{REACHED: 1})], ignore_index=True)


def reached_predicts_better(leads: _Leads, weight: np.ndarray | None, k_support: int, shape: Shape,
                            folds: int = REACHED_FOLDS, seed: int = 0) -> bool:
    """Whether the two-state conversion model predicts conversion on leads it was not fitted on
    better than the one-state model: ``folds``-fold cross-validation by lead (each lead's weight
    split over the folds at random), both models with the same attempt shape; the held-out binomial
    log-likelihood of each attempt's conversions, ``sum e log h + (n - e) log(1 - h)`` over the
    reached and not-yet-reached cells, summed over the folds. Groups absent from a fold's
    training leads are left out of its score for both models."""
    w = (leads.weight if weight is None else weight).astype(np.int64)
    rng = np.random.default_rng(seed)
    split = rng.multinomial(w, np.full(folds, 1.0 / folds)) if len(w) else np.zeros((0, folds), np.int64)
    score = {"one": 0.0, "two": 0.0}
    for f in range(folds):
        test, train = split[:, f], w - split[:, f]
        tr, te = (_two_state_frame(leads, *_counts(leads, w_f, k_support), _state_counts(leads, w_f, k_support))
                  for w_f in (train, test))
        try:
            one = fit_hazard(tr.groupby(["attempt", *leads.covariates], as_index=False, sort=False)
                             [["at_risk", "events", "revenue"]].sum(),
                             leads.covariates, max_attempt=k_support, shape=shape, light=True)
            two = fit_hazard(tr, (*leads.covariates, REACHED), max_attempt=k_support, shape=shape,
                             sloped=(REACHED,), light=True)
        except ValueError:
            return False
        # scored only where both fits can predict: covariate groups and reached states they were fitted on
        fitted = tr[(tr["at_risk"] > 0) & (tr["attempt"] <= k_support)]
        seen = set(map(tuple, fitted[[*leads.covariates, REACHED]].drop_duplicates().to_numpy()))
        te = te[(te["at_risk"] > 0) & (te["attempt"] <= k_support)]
        te = te[[tuple(r) in seen for r in te[[*leads.covariates, REACHED]].to_numpy()]]
        if te.empty:
            continue
        k, n, e = te["attempt"].to_numpy(), te["at_risk"].to_numpy(float), te["events"].to_numpy(float)
        cov = te[list(leads.covariates)] if leads.covariates else None
        try:
            for name, model, frame in (("one", one, cov), ("two", two, te[[*leads.covariates, REACHED]])):
                h = np.clip(model.predict(k, frame), 1e-12, 1 - 1e-12)
                score[name] += float(np.sum(e * np.log(h) + (n - e) * np.log1p(-h)))
        except ValueError:  # a level the fold's fit lacks after all: the check cannot vouch for two states
            return False
    return score["two"] > score["one"]


#: a reach rate is a group's own at an attempt with at least this many leads not yet reached
MIN_REACH_RISK = 30


def reach_rates(open_unreached: np.ndarray, connects: np.ndarray, min_risk: int = MIN_REACH_RISK) -> np.ndarray:
    """``g_k``, the chance that attempt k first reaches a lead not reached before (and still open
    after k), per group ``(G, K)``: ``connects / open_unreached`` where the group has at least
    ``min_risk`` such leads at k; else all groups' rate at k; where even that is short of
    ``min_risk``, the rate pooled over that attempt and every later one (the thin tail shares one
    rate); past the last attempt with that many, the last rate seen. Empirical rates: the reach
    model is a plain count, not a fitted curve."""
    o, c = np.asarray(open_unreached, float), np.asarray(connects, float)
    o_all, c_all = o.sum(axis=0), c.sum(axis=0)
    tail_o, tail_c = o_all[::-1].cumsum()[::-1], c_all[::-1].cumsum()[::-1]
    pooled = np.where(o_all >= min_risk, np.divide(c_all, o_all, out=np.zeros_like(o_all), where=o_all > 0),
                      np.divide(tail_c, tail_o, out=np.full_like(tail_o, np.nan), where=tail_o >= min_risk))
    # past the last attempt with enough unreached leads, the rate stays at the last one seen
    pooled = pd.Series(pooled).ffill().fillna(c_all.sum() / max(o_all.sum(), 1.0)).to_numpy()
    own = np.divide(c, o, out=np.zeros_like(o), where=o > 0)
    return np.where(o >= min_risk, own, pooled[None, :])


def _grid(leads: _Leads, k_support: int) -> tuple[np.ndarray, pd.DataFrame]:
    """Attempts ``1..K`` for every covariate group, group-major, with the matching covariate rows:
    the points at which the fitted hazards are read (reshaped to ``(G, K)``)."""
    k = np.tile(np.arange(1, k_support + 1), leads.n_groups)
    return k, leads.groups.loc[leads.groups.index.repeat(k_support)].reset_index(drop=True)


def _two_state(leads: _Leads, at_risk: np.ndarray, events: np.ndarray, revenue: np.ndarray,
               weight: np.ndarray | None, k_support: int, shape: Shape | str,
               starts: dict | None, test: bool = True, light: bool = False) -> tuple[np.ndarray, ReachedModel] | None:
    """The effective hazards ``(G, K)`` of the two-state model (see :class:`ReachedModel`), or None
    when the export has no call outcomes, too few leads were reached to fit it, or (``test``)
    conversion does not differ once reached (:func:`reached_p_value`) or the difference does not
    predict conversion out of sample (:func:`reached_predicts_better`). :func:`_analyse` then also
    keeps the one-state model when the two give the same cap."""
    if leads.connected_at is None:
        return None
    K, G = at_risk.shape[1], leads.n_groups
    st = _state_counts(leads, weight, K)
    if st["at_risk_reached"][:, :k_support].sum() <= 0:
        return None
    w = (leads.weight if weight is None else weight).astype(float)
    if w[(leads.connected_at > 0) & (leads.connected_at < leads.attempts)].sum() < MIN_REACHED_LEADS:
        return None
    ev_r, ev_u = st["events_reached"], events - st["events_reached"]
    if ev_r[:, :k_support].sum() < 1 or ev_u[:, :k_support].sum() < 1:
        return None
    covs = (*leads.covariates, REACHED)
    pp = _two_state_frame(leads, at_risk, events, revenue, st)
    open_u = at_risk - st["at_risk_reached"] - ev_u
    if st["connects"][:, :k_support].sum() < 1:
        return None
    try:
        conversion = fit_hazard(pp, covs, max_attempt=k_support, shape=shape, starts=starts, sloped=(REACHED,),
                                light=light)
    except ValueError:
        return None
    if test and (reached_p_value(conversion) >= REACHED_ALPHA
                 or not reached_predicts_better(leads, weight, k_support, conversion.shape)):
        # conversion does not differ once a lead is reached (or the difference does not predict
        # conversion on leads the model was not fitted on): whatever reps did about reaching, the
        # one-state model is unbiased and has fewer parameters
        return None
    k, cov = _grid(leads, k_support)
    hu = conversion.predict(k, cov.assign(**{REACHED: 0})).reshape(G, k_support)
    hr = conversion.predict(k, cov.assign(**{REACHED: 1})).reshape(G, k_support)
    g = reach_rates(np.maximum(open_u, 0)[:, :k_support], st["connects"][:, :k_support])
    U, R = np.zeros((G, k_support)), np.zeros((G, k_support))
    U[:, 0] = 1.0
    for j in range(k_support - 1):
        U[:, j + 1] = U[:, j] * (1 - hu[:, j]) * (1 - g[:, j])
        R[:, j + 1] = U[:, j] * (1 - hu[:, j]) * g[:, j] + R[:, j] * (1 - hr[:, j])
    open_ = U + R
    h = np.divide(U * hu + R * hr, open_, out=hu.copy(), where=open_ > 0)
    sizes = at_risk[:, 0] / at_risk[:, 0].sum()
    share_reached = np.divide(sizes @ R, sizes @ open_, out=np.zeros(k_support), where=(sizes @ open_) > 0)
    total = at_risk[:, :k_support].sum(axis=0)
    history = np.divide(st["at_risk_reached"][:, :k_support].sum(axis=0), total, out=np.zeros(k_support),
                        where=total > 0)
    return h, ReachedModel(conversion, g, share_reached, history)


def _analyse(leads: _Leads, cost: float, min_at_risk: int, weight: np.ndarray | None = None,
             shape: Shape | str = "auto", gross_margin: float = 1.0,
             cap_limit: int | None = None, starts: dict | None = None, reached_test: bool = True,
             light: bool = False) -> _Analysis:
    at_risk, events, revenue = _counts(leads, weight)
    k_support = _support(at_risk.sum(axis=0), min_at_risk)
    if k_support < 1:
        raise ValueError(f"fewer than {min_at_risk} leads received a first attempt: "
                         "no cap is supported by the data")
    if cap_limit is not None:
        k_support = min(k_support, int(cap_limit))
    pp = _pp_frame(leads, at_risk, events, revenue, sort=weight is None)
    two = _two_state(leads, at_risk, events, revenue, weight, k_support, shape, (starts or {}).get("two_state"),
                     test=reached_test, light=light)
    if two is not None:
        h, reached = two
        model = reached.conversion
    else:
        reached = None
        model = fit_hazard(pp, leads.covariates, max_attempt=k_support, shape=shape, starts=starts, light=light)
        k, cov = _grid(leads, k_support)
        h = model.predict(k, cov if leads.covariates else None).reshape(leads.n_groups, k_support)
    value = _value_model(leads, k_support, weight, (starts or {}).get("value"))
    parts = _profit(h, gross_margin * value.values, at_risk[:, 0], cost)
    curve = pd.DataFrame({"attempts": np.arange(1, k_support + 1), **parts,
                          "at_risk": np.rint(at_risk.sum(axis=0)[:k_support]).astype(np.int64)})
    out = _Analysis(leads, pp, model, value, k_support, curve, h, gross_margin * value.values, at_risk[:, 0],
                    reached)
    if reached is not None and reached_test:
        # the two-state model is kept only when it changes the answer: where the one-state model's
        # cap is the same, its fewer parameters tell the same story without odds ratios of noise
        one = _analyse(dataclasses.replace(leads, connected_at=None), cost, min_at_risk, weight, shape,
                       gross_margin, cap_limit, starts, reached_test, light)
        if int(np.argmax(one.curve["profit_per_lead"].to_numpy())) == int(np.argmax(curve["profit_per_lead"].to_numpy())):
            return one
    return out


#: Stopping sensitivity: conversion after the median stopping attempt is divided by this, as if
#: the leads worked that long had been chosen for being that much more promising.
LATE_SELECTION_FACTOR = 2.0


def median_stop(profiles: pd.DataFrame) -> int | None:
    """The attempt by which half of the settled, unconverted, contacted leads had stopped."""
    d = profiles[(profiles["attempts"] >= 1) & ~profiles["converted"].astype(bool)
                 & ~profiles["censored"].astype(bool)]
    if d.empty:
        return None
    n = d.groupby("attempts")["weight"].sum().sort_index()
    return int(n.index[np.searchsorted(n.cumsum().to_numpy(), 0.5 * n.sum())])


def _reached_summary(an: _Analysis) -> dict | None:
    """What the two-state model saw (None without it), at the attempt ``k`` where the history's
    selection is strongest: the share of the leads called a k-th time that had already been reached
    (``history_share``) against the share that would have been had every lead been called that often
    (``all_leads_share``, the model's), the largest gap over the supported attempts; and the odds of
    converting at k once reached over before (``odds_ratio``)."""
    r = an.reached
    if r is None:
        return None
    k = int(np.argmax(r.history_share - r.share_reached)) + 1
    return {"at_attempt": k, "history_share": float(r.history_share[k - 1]),
            "all_leads_share": float(r.share_reached[k - 1]), "odds_ratio": r.odds_ratio(k)}


def _stopping_sensitivity(an: _Analysis, cost: float, from_attempt: int | None,
                          factor: float = LATE_SELECTION_FACTOR) -> dict | None:
    """Recommended N if the conversion fitted after ``from_attempt`` were ``factor`` times too high
    (reps kept working only leads that looked engaged): ``h_k / factor`` for ``k > from_attempt``."""
    if from_attempt is None or from_attempt >= an.k_support:
        return None
    k = np.arange(1, an.k_support + 1)
    h = an.hazards * np.where(k > from_attempt, 1.0 / factor, 1.0)[None, :]
    prof = _profit(h, an.values, an.sizes, cost)["profit_per_lead"]
    return {"from_attempt": int(from_attempt), "hazard_divided_by": float(factor),
            "recommended_attempts": int(np.argmax(prof)) + 1}


def profit_curve(profiles: pd.DataFrame, cost_per_attempt: float, covariates: Sequence[str] = (),
                 min_at_risk: int = 30, shape: Shape | str = "auto", gross_margin: float = 1.0) -> pd.DataFrame:
    """Expected profit per contacted lead of capping at N attempts, for N = 1..K_support.

    ``Pi(N) = sum_{k<=N} S_k (m r_k - c)`` with ``S_k = prod_{j<k} (1 - h_j)``, ``r_k = h_k x v_k``
    (``v_k`` revenue per settled conversion at attempt k, see :class:`ValueModel`), ``m`` the
    gross margin and ``c = cost_per_attempt``; with covariates the per-group curves are averaged
    with weights = group size at k = 1. ``K_support`` = largest k with ``>= min_at_risk`` leads at
    risk. Columns: ``attempts, hazard, share_open, revenue_per_attempt, marginal_profit,
    profit_per_lead, at_risk``.
    """
    return _analyse(_prepare(profiles, covariates), float(cost_per_attempt), min_at_risk,
                    shape=shape, gross_margin=gross_margin).curve

# --------------------------------------------------------------------------------------------
# Recommendation
# --------------------------------------------------------------------------------------------

def _plateau(profit: np.ndarray, share: float) -> int:
    """Smallest N with ``Pi(N) >= max Pi - share x |max Pi|`` (= ``(1 - share) max Pi`` when > 0)."""
    best = profit.max()
    return int(np.argmax(profit >= best - share * abs(best)) + 1)


#: Experiment defaults: share of new leads given the higher cap, power, two-sided level.
EXPERIMENT_SHARE = 0.5
EXPERIMENT_POWER = 0.8
EXPERIMENT_ALPHA = 0.05
#: a test that needs more weeks of new leads than this is not proposed (``feasible`` false)
MAX_EXPERIMENT_WEEKS = 52


def experiment_plan(curve: pd.DataFrame, cap: int, cost: float, profit_sd: float,
                    leads_per_week: float | None, share: float = EXPERIMENT_SHARE,
                    power: float = EXPERIMENT_POWER, alpha: float = EXPERIMENT_ALPHA) -> dict:
    """A randomised test of a higher cap when the history cannot judge caps above ``cap``.

    ``test_cap = cap + max(2, cap // 2)``; the gain to detect assumes conversion and deal value stay
    at attempt ``cap``'s fitted level for the extra attempts (``h``, ``v``):
    ``gain = S_{cap+1} sum_{j<k} (1-h)^j (h v - c)`` per contacted lead, ``S_{cap+1} = S_cap (1-h)``.
    Leads needed: two-sample z-test of mean profit per lead (``profit_sd`` per lead, both arms),
    ``share`` of the leads on the test cap, ``statsmodels`` ``NormalIndPower``;
    ``weeks_needed = leads_needed / leads_per_week`` (None without a rate). When that gain is not
    positive, more attempts would pay only if conversion rose after attempt ``cap``: no test sized.
    The test arm's price against today's cap: ``extra_cost_per_test_lead = S_{cap+1} sum_{j<k} (1-h)^j c``
    (the extra attempts' cost per lead on the test cap), times the test arm's leads for
    ``extra_cost_of_test_arm``.
    ``feasible`` is false when the test would run longer than ``MAX_EXPERIMENT_WEEKS`` at today's
    pace of new contacted leads (None without a rate): the gain is too small, or the flow of leads
    too thin, to tell from chance within a year.
    """
    k_extra = max(2, cap // 2)
    row = curve.iloc[cap - 1]
    h = float(row["hazard"])
    v = float(row["revenue_per_attempt"]) / h if h > 0 else 0.0
    s_next = float(row["share_open"]) * (1 - h)
    extra_attempts = s_next * float(np.sum((1 - h) ** np.arange(k_extra)))
    gain = extra_attempts * (h * v - cost)
    out = {"from_cap": int(cap), "test_cap": int(cap + k_extra), "share": float(share), "expected_gain_per_lead": float(gain),
           "extra_cost_per_test_lead": float(extra_attempts * cost), "extra_cost_of_test_arm": None,
           "leads_needed": None, "weeks_needed": None, "power": float(power), "feasible": None}
    if gain <= 0 or not np.isfinite(profit_sd) or profit_sd <= 0:
        out["reason"] = (f"even if conversion stayed at attempt {cap}'s level, attempts beyond {cap} would cost "
                         "more than they earn; a higher cap pays only if conversion rises again")
        return out
    n_control = NormalIndPower().solve_power(effect_size=gain / profit_sd, alpha=alpha, power=power,
                                             ratio=share / (1 - share), alternative="two-sided")
    leads = int(np.ceil(n_control) + np.ceil(n_control * share / (1 - share)))
    out["leads_needed"] = leads
    out["extra_cost_of_test_arm"] = float(np.ceil(n_control * share / (1 - share)) * extra_attempts * cost)
    if leads_per_week and leads_per_week > 0:
        out["weeks_needed"] = weeks = int(np.ceil(leads / leads_per_week))
        out["feasible"] = weeks <= MAX_EXPERIMENT_WEEKS
        if not out["feasible"]:
            out["reason"] = (f"at today's {leads_per_week:,.0f} contacted leads a week it would take "
                             f"{weeks_in_words(weeks)} to tell that gain from chance")
    return out


def _profit_sd(leads: _Leads, cost: float, gross_margin: float) -> float:
    """Standard deviation of realised profit per settled contacted lead: ``m x revenue - c x attempts``."""
    s = leads.settled
    w = leads.weight[s].astype(float)
    if w.sum() < 2:
        return float("nan")
    x = gross_margin * leads.revenue[s] - cost * leads.attempts[s]
    mu = np.average(x, weights=w)
    return float(np.sqrt(np.sum(w * (x - mu) ** 2) / (w.sum() - 1)))


@dataclass
class CapRecommendation:
    """The attempt cap that maximises expected profit per contacted lead, with its uncertainty.

    ``cannot_judge_above``: the history cannot tell whether caps above this N pay (reps enforced a
    cap there, or nobody was worked longer) and the best cap is at it; the recommendation is then
    not a confirmation of N, and ``experiment`` sizes a test of a higher cap.
    """

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
    gross_margin: float = 1.0
    hazard_model: str = ""
    value: ValueModel | None = None
    enforced_cap: int | None = None
    cannot_judge_above: int | None = None
    experiment: dict | None = None
    by_tier: dict | None = None
    hazard_candidates: pd.DataFrame | None = None
    stopping_sensitivity: dict | None = None
    #: the two-state model's account of leads kept because a call reached them (:func:`_reached_summary`)
    reached: dict | None = None
    #: each tier's full result (a CapRecommendation, or why there is none), what ``by_tier`` sums
    #: up: the proposed SLA's touches per tier read it, so the two pages show one computation
    tiers: dict | None = None

    def revenue_by_attempt(self) -> dict:
        """The check of whether a conversion is worth more or less at later attempts."""
        v = self.value
        if v is None:
            return {"varies": None, "p_value": None, "won_deals": None, "ratio_per_attempt": None}
        return {"varies": bool(v.varies), "p_value": None if v.p_value is None else float(v.p_value),
                "won_deals": int(v.won_deals),
                "ratio_per_attempt": None if v.ratio_per_attempt is None else float(v.ratio_per_attempt),
                "held_after_attempt": v.held_after, "note": v.reason}

    def to_summary(self) -> dict:
        """``summary.json["plateau"]``: the headline figures as plain JSON types."""
        return {
            "recommended_attempts": int(self.recommended_attempts),
            "ci_low": int(self.ci_low),
            "ci_high": int(self.ci_high),
            "expected_profit_per_lead": float(self.expected_profit_per_lead),
            "profit_definition": (f"expected revenue x gross margin ({self.gross_margin:g}) minus attempt "
                                  "costs, per contacted lead"),
            "gross_margin": float(self.gross_margin),
            "plateau_attempts": int(self.plateau_attempts),
            "support_max_attempts": int(self.support_max_attempts),
            "at_support_edge": bool(self.at_support_edge),
            "cost_per_attempt": float(self.cost_per_attempt),
            "hazard_model": self.hazard_model,
            "revenue_by_attempt": self.revenue_by_attempt(),
            "enforced_cap": None if self.enforced_cap is None else int(self.enforced_cap),
            "cannot_judge_above": None if self.cannot_judge_above is None else int(self.cannot_judge_above),
            "experiment": self.experiment,
            "by_tier": self.by_tier,
            "stopping_sensitivity": self.stopping_sensitivity,
            "reached": self.reached,
            "hazard_shape": hazard_shape(self.curve["hazard"].to_numpy()),
            # profit per contacted lead at each cap 1, 2, ... up to the attempts the history reaches
            "profit_per_lead_by_cap": [float(v) for v in self.curve["profit_per_lead"]],
        }


def cap_for_review(plateau: dict) -> tuple[float, float, float] | None:
    """The attempt cap as a reviewable figure ``(value, low, high)`` from ``summary.json["plateau"]``
    (a :meth:`CapRecommendation.to_summary` dict), or ``None`` when there is none or the history
    cannot judge caps above it (then "no drift" would be a claim the data cannot make)."""
    if not plateau or plateau.get("recommended_attempts") is None or plateau.get("cannot_judge_above") is not None:
        return None
    return (float(plateau["recommended_attempts"]), float(plateau["ci_low"]), float(plateau["ci_high"]))


#: resamples per task sent to a worker process
_BOOT_CHUNK = 10

_boot_context: tuple | None = None  # a worker's copy of the data every refit shares (set once per worker)


def bootstrap_workers() -> int:
    """Processes the bootstrap's refits are spread over: the settings' ``cap_workers``
    (``SLA_ANALYSIS_CAP_WORKERS``; 1: all in this process), else one per core, at most 4. The
    resamples are drawn here, in order, from one generator, so the interval is the same whatever the
    number of processes."""
    workers = settings.current().cap_workers
    if workers is not None:
        return workers
    return max(1, min(len(os.sched_getaffinity(0)), 4))


def _set_boot_context(parent: int, *context) -> None:
    """A worker's set-up: it dies with the process that forked it, prints nothing (in a notebook
    kernel, output would go through the kernel's own channels, which a forked process must not
    use), and keeps the data every refit shares."""
    global _boot_context
    die_with_parent(parent)  # a worker outliving its kernel would hold the cap's lock
    sys.stdout = sys.stderr = open(os.devnull, "w")  # noqa: SIM115 (for the worker's whole life)
    warnings.simplefilter("ignore")
    _boot_context = context


def _refit_caps(weights: np.ndarray, context: tuple | None = None) -> np.ndarray:
    """The recommended N of each resample (one row of ``weights`` each), NaN where no cap can be fitted."""
    leads, cost, min_at_risk, gross_margin, cap_limit, starts = context or _boot_context
    out = np.full(len(weights), np.nan)
    for i, wb in enumerate(weights):
        try:
            an = _analyse(leads, cost, min_at_risk, weight=wb, gross_margin=gross_margin, cap_limit=cap_limit,
                          starts=starts, reached_test=False, light=True)
        except ValueError:
            continue
        out[i] = int(np.argmax(an.curve["profit_per_lead"].to_numpy())) + 1
    return out


def _bootstrap(leads: _Leads, cost: float, n_boot: int, seed: int, min_at_risk: int,
               gross_margin: float, cap_limit: int | None, starts: dict | None = None,
               workers: int | None = None) -> np.ndarray:
    """Recommended N on ``n_boot`` lead-level resamples (multinomial counts over profile rows), each
    refitting the whole procedure: support, hazard shape choice (AIC), value trend test, argmax.
    Replicates where no cap can be fitted are left out (NaN). The hazards are refitted by
    :func:`logit_irls` (statsmodels' IRLS steps, without standard errors: none is read). The refits run in ``workers``
    processes (:func:`bootstrap_workers`); the resamples are drawn here in order, so the result does
    not depend on ``workers``."""
    rng = np.random.default_rng(seed)
    w = leads.weight.astype(float)
    p = w / w.sum()
    total = int(leads.weight.sum())
    context = (leads, cost, min_at_risk, gross_margin, cap_limit, starts)
    chunks = [np.arange(b, min(b + _BOOT_CHUNK, n_boot)) for b in range(0, n_boot, _BOOT_CHUNK)]

    def draw(idx: np.ndarray) -> np.ndarray:
        return np.stack([rng.multinomial(total, p) for _ in idx]).astype(np.int32)

    workers = min(bootstrap_workers() if workers is None else workers, len(chunks))
    if workers <= 1:
        return np.concatenate([_refit_caps(draw(idx), context) for idx in chunks]) if chunks else np.empty(0)
    out = np.full(n_boot, np.nan)
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"),
                             initializer=_set_boot_context, initargs=(os.getpid(), *context)) as pool:
        pending = {}
        for idx in chunks:  # at most two tasks per worker in flight: the draws are not all held at once
            if len(pending) >= 2 * workers:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for f in done:
                    out[pending.pop(f)] = f.result()
            pending[pool.submit(_refit_caps, draw(idx))] = idx
        for f in pending:
            out[pending[f]] = f.result()
    return out


def recommend_cap(profiles: pd.DataFrame, cost_per_attempt: float, covariates: Sequence[str] = (),
                  n_boot: int = 200, seed: int = 0, plateau_share: float = 0.02,
                  min_at_risk: int = 30, confidence: float = 0.95, *, gross_margin: float = 1.0,
                  shape: Shape | str = "auto", leads_per_week: float | None = None,
                  tier_column: str | None = None) -> CapRecommendation:
    """Recommend the attempt cap ``N = argmax_{1<=N<=K} Pi(N)`` (see ``profit_curve``).

    * ``K`` = the support (``>= min_at_risk`` leads reached it), lowered to an enforced cap
      (:func:`enforced_cap`): above it the history holds only the leads reps chose to keep working.
    * ``ci_low, ci_high``: percentile interval (``confidence``) of the recommended N over
      ``n_boot`` lead-level bootstrap resamples, each refitting the whole procedure (seeded
      ``numpy.random.default_rng(seed)``). With ``n_boot = 0`` the interval is the point.
    * ``plateau_attempts``: smallest N with ``Pi(N) >= (1 - plateau_share) max Pi``.
    * ``at_support_edge``: the maximum is at ``K``; then ``cannot_judge_above = K`` and
      ``experiment`` (:func:`experiment_plan`) sizes a randomised test of a higher cap.
    * ``by_tier``: when ``tier_column`` (e.g. ``"tier"``; default None: not computed) is among the
      covariates, the same recommendation per tier (the other covariates kept), or the reason a
      tier has none.
    """
    if not 0 < confidence < 1:
        raise ValueError("confidence must be in (0, 1)")
    if not 0 <= plateau_share < 1:
        raise ValueError("plateau_share must be in [0, 1)")
    if not 0 < gross_margin <= 1:
        raise ValueError("gross_margin must be in (0, 1]")
    cost = float(cost_per_attempt)
    leads = _prepare(profiles, covariates)
    enforced = enforced_cap(profiles)
    an = _analyse(leads, cost, min_at_risk, shape=shape, gross_margin=gross_margin, cap_limit=enforced)
    if leads.connected_at is not None and an.reached is None:
        # one state on the whole history (no call outcomes to use, or conversion the same once
        # reached): the profiles without the reach split, so the resamples are the one-state model's
        keys = [c for c in profiles.columns if c not in (CONNECTED_COLUMN, "weight")]
        profiles = profiles.groupby(keys, sort=True, as_index=False, observed=True)["weight"].sum()
        leads = _prepare(profiles, covariates)
    profit = an.curve["profit_per_lead"].to_numpy()
    best = int(np.argmax(profit)) + 1
    K = an.k_support
    starts = {**an.model.fitted_params, "value": an.value.fitted_params}
    if an.reached is not None:
        starts["two_state"] = an.reached.conversion.fitted_params
    boot = (_bootstrap(leads, cost, n_boot, seed, min_at_risk, gross_margin, enforced, starts)
            if n_boot > 0 else np.empty(0))
    ok = boot[np.isfinite(boot)]
    if ok.size:
        alpha = 1 - confidence
        lo, hi = np.quantile(ok, [alpha / 2, 1 - alpha / 2])
        ci_low, ci_high = int(np.floor(lo)), int(np.ceil(hi))
    else:
        ci_low = ci_high = best
    edge = best == K
    judge_above = K if edge else None
    experiment = None
    if enforced is not None and K == enforced:
        why = (f"reps stopped most leads at {enforced} attempts, so the few worked longer were chosen "
               "(often because they looked engaged) and say nothing fair about higher caps")
    else:
        why = f"fewer than {min_at_risk} leads reached attempt {K + 1}"
    if edge:
        note = (f"Profit per lead is highest at {K} attempts, the most the history can judge: {why}. "
                f"The data cannot judge caps above {K}; more attempts might pay, and only a test can show it.")
        experiment = experiment_plan(an.curve, K, cost, _profit_sd(leads, cost, gross_margin), leads_per_week)
    else:
        note = (f"Profit per lead peaks at {best} attempt{'s' if best > 1 else ''}; "
                f"the history supports caps up to {K}.")
    if profit[best - 1] <= 0:
        note += " Even the best cap loses money per lead at this cost per attempt."
    by_tier, tiers = None, None
    if tier_column and tier_column in covariates:
        by_tier, tiers = {}, {}
        rest = [c for c in covariates if c != tier_column]
        for tier in sorted(pd.unique(profiles[tier_column])):
            sub = profiles[profiles[tier_column] == tier]
            try:
                r = recommend_cap(sub, cost, rest, n_boot=n_boot, seed=seed, plateau_share=plateau_share,
                                  min_at_risk=min_at_risk, confidence=confidence, gross_margin=gross_margin,
                                  shape=shape, leads_per_week=None, tier_column=None)
            except ValueError as err:
                by_tier[str(tier)] = {"recommended_attempts": None, "reason": str(err)}
                tiers[str(tier)] = str(err)
                continue
            tiers[str(tier)] = r
            by_tier[str(tier)] = {"recommended_attempts": r.recommended_attempts, "ci_low": r.ci_low,
                                  "ci_high": r.ci_high, "at_support_edge": r.at_support_edge,
                                  "cannot_judge_above": r.cannot_judge_above,
                                  "expected_profit_per_lead": r.expected_profit_per_lead,
                                  "contacted_leads": int(sub.loc[sub["attempts"] >= 1, "weight"].sum())}
    return CapRecommendation(
        recommended_attempts=best, ci_low=ci_low, ci_high=ci_high,
        expected_profit_per_lead=float(profit[best - 1]),
        plateau_attempts=_plateau(profit, plateau_share), support_max_attempts=K,
        at_support_edge=bool(edge), cost_per_attempt=cost, curve=an.curve,
        boot_recommendations=boot, note=note, gross_margin=float(gross_margin),
        hazard_model=an.model.shape.label + (", before and after a call first reached the lead" if an.reached else ""),
        value=an.value, enforced_cap=enforced,
        cannot_judge_above=judge_above, experiment=experiment, by_tier=by_tier, tiers=tiers,
        hazard_candidates=an.model.candidates,
        stopping_sensitivity=_stopping_sensitivity(an, cost, median_stop(profiles)),
        reached=_reached_summary(an))


# --------------------------------------------------------------------------------------------
# The seeds' method (biased; kept to show how far it lands from the sound answer)
# --------------------------------------------------------------------------------------------

def cohort_table(profiles: pd.DataFrame, cost_per_attempt: float,
                 confidence: float = 0.95) -> pd.DataFrame:
    """Seeds' method: contacted leads in cohorts by total attempts n.

    The cohort is the stale-cohort page's: with a ``stale`` column, the stale leads (open deals stay
    in, counted as not won yet); without one, the settled (non-censored) leads. Per cohort:
    ``leads = sum w``, ``conversions = sum w [converted]`` (leads with a deal, opportunities),
    ``customers = sum w [won]`` (``won`` column, else ``revenue > 0``), ``conversion_rate`` =
    customers / leads (the stale-cohort page's definition) with a Wilson interval
    (``conversion_rate_low/high``), ``revenue_per_lead = sum w x revenue / leads``,
    ``cost_per_lead = n c``, ``profit_per_lead = revenue_per_lead - n c``.
    Biased: converted leads stop being called, so a cohort's outcome decided its attempt count.
    """
    _check_profiles(profiles, ())
    keep = profiles["stale"].astype(bool) if "stale" in profiles.columns else ~profiles["censored"].astype(bool)
    d = profiles[keep & (profiles["attempts"] >= 1)]
    w = d["weight"].to_numpy(float)
    conv = d["converted"].to_numpy(bool)
    won = d["won"].to_numpy(bool) if "won" in d.columns else d["revenue"].to_numpy(float) > 0
    t = pd.DataFrame({"attempts": d["attempts"].to_numpy().astype(np.int64), "leads": w,
                      "conversions": w * conv, "customers": w * won, "rev": w * d["revenue"].to_numpy(float)})
    t = t.groupby("attempts", sort=True).sum().reset_index()
    for c in ("leads", "conversions", "customers"):
        t[c] = np.rint(t[c]).astype(np.int64)
    t["conversion_rate"] = t["customers"] / t["leads"]
    lo, hi = proportion_confint(t["customers"].to_numpy(), t["leads"].to_numpy(),
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
    # a rise counts when it is at least 1% of the curve's height (smooth fits wiggle at the 1e-4 level)
    rises = [int(k) + 2 for k in np.flatnonzero(np.diff(h) > 0.01 * max(float(h.max()), 1e-12))]
    peak = int(np.argmax(h)) + 1
    if not rises:
        return "falls from attempt 1 onward"
    where = ", ".join(map(str, rises[:5])) + ("…" if len(rises) > 5 else "")
    if peak == 1:
        return f"is highest at attempt 1 and falls overall, but rises again at attempt {where}"
    return f"rises to its peak at attempt {peak}, then falls"


def recommend_cap_or_reason(profiles: pd.DataFrame, cost_per_attempt: float, covariates: Sequence[str] = (),
                            **kwargs) -> Result[CapRecommendation]:
    """:func:`recommend_cap` as a :class:`Result`: absent, with the reason in plain words, when the
    history cannot support any cap (nobody contacted, no conversions, too few leads)."""
    if not np.isfinite(cost_per_attempt):
        return Result.absent("the cost per attempt is unknown (no attempt in the history has a cost: no call or "
                             "priced attempt type was logged)")
    try:
        return Result.of(recommend_cap(profiles, cost_per_attempt, covariates, **kwargs))
    except ValueError as err:
        return Result.absent(str(err))


def cohort_method_or_reason(profiles: pd.DataFrame, cost_per_attempt: float, min_leads: int = 30) -> Result[dict]:
    """:func:`cohort_method` as a :class:`Result` (absent with the reason it has no answer)."""
    try:
        return Result.of(cohort_method(profiles, cost_per_attempt, min_leads))
    except ValueError as err:
        return Result.absent(str(err))


def history_counts(profiles: pd.DataFrame) -> dict[str, int]:
    """The history behind the cap: MQLs, contacted leads (at least one attempt), those still being
    worked (censored), and leads that got a deal with no logged attempt."""
    contacted = profiles[profiles.attempts >= 1]
    return {"mqls": int(profiles.weight.sum()), "contacted_leads": int(contacted.weight.sum()),
            "censored_leads": int(contacted.weight[contacted.censored].sum()),
            "deal_without_attempt": int(profiles.weight[(profiles.attempts == 0) & profiles.converted].sum())}


def history_sentence(h: dict[str, int], window_from, period_label: str, cost_per_attempt: float, currency: str,
                     no_attempts: str | None = None) -> str:
    """Page 03's opening line: the MQLs of the history, how many were contacted and are still worked,
    and what an attempt costs; without contact attempts in the export (``no_attempts``, its
    profile's reason) only the MQLs, and why the rest is not available."""
    head = f"**{h['mqls']:,} MQLs** from {window_from:%d %b %Y} to the end of {period_label}"
    if no_attempts:
        return f"{head}; who was contacted, and what an attempt costs, is not available: {no_attempts}."
    return (f"{head}; **{h['contacted_leads']:,}** received at least one attempt, of which **{h['censored_leads']:,}** are "
            f"still being worked (they count only for the attempts they had). An attempt costs "
            f"**{money(cost_per_attempt, currency, 2)}** on average at this history's mix.")


def plateau_summary(rec: Result[CapRecommendation], seeds: Result[dict], profiles: pd.DataFrame,
                    covariates: Sequence[str]) -> dict:
    """``summary.json["plateau"]``: :meth:`CapRecommendation.to_summary` with the rule of thumb's
    answer, the covariates, the history's counts and the per-attempt conversion; or
    ``{recommended_attempts: null, reason}`` when no cap can be estimated."""
    if not rec:
        return {"recommended_attempts": None, "reason": rec.reason}
    cap = rec.get()
    counts = history_counts(profiles)
    return {**cap.to_summary(), "cohort_method_attempts": seeds.value["cohort_method_attempts"] if seeds else None,
            "covariates": list(covariates), "contacted_leads": counts["contacted_leads"],
            "censored_leads": counts["censored_leads"], "hazard_shape": hazard_shape(cap.curve.hazard),
            "hazard_by_attempt": list(cap.curve.hazard)}


# --------------------------------------------------------------------------------------------
# For the page: the per-tier table and the sentences a sales leader reads
# --------------------------------------------------------------------------------------------

def tier_table(plateau: dict) -> pd.DataFrame:
    """``summary.json["plateau"]["by_tier"]`` (plus the pooled cap as the last row, tier ``"all
    tiers"``) as a table for the page and tables.xlsx: ``tier, contacted_leads,
    recommended_attempts, ci_low, ci_high, expected_profit_per_lead, cannot_judge_above, note``.
    A tier without a cap has blank figures and the reason in ``note`` (never 0)."""
    rows = []
    for tier, t in (plateau.get("by_tier") or {}).items():
        rows.append({"tier": tier, **{k: t.get(k) for k in ("contacted_leads", "recommended_attempts", "ci_low",
                                                         "ci_high", "expected_profit_per_lead", "cannot_judge_above")},
                     "note": t.get("reason") or (f"the history cannot judge caps above {t['cannot_judge_above']}"
                                                 if t.get("cannot_judge_above") is not None else "")})
    if plateau.get("recommended_attempts") is not None:
        rows.append({"tier": "all tiers", "contacted_leads": plateau.get("contacted_leads"),
                     **{k: plateau.get(k) for k in ("recommended_attempts", "ci_low", "ci_high",
                                                    "expected_profit_per_lead", "cannot_judge_above")},
                     "note": "pooled over tiers (the headline)"})
    cols = ["tier", "contacted_leads", "recommended_attempts", "ci_low", "ci_high", "expected_profit_per_lead",
            "cannot_judge_above", "note"]
    out = pd.DataFrame(rows, columns=cols)
    for c in cols[1:-1]:
        out[c] = out[c].astype("Float64" if c == "expected_profit_per_lead" else "Int64")
    return out


#: the page says reps kept calling the leads that answered when the share reached among the leads
#: still called at an attempt exceeds the all-leads share there by at least this much
REACHED_SELECTION_GAP = 0.10


def change_from_current(plateau: dict, current_cap: float | None, contacted_per_month: float | None,
                        min_gain_per_month: float) -> dict | None:
    """What moving from the SLA's ``current_cap`` to the recommended cap is worth: profit per
    contacted lead at each (``profit_per_lead_by_cap``), the gain a lead and a month (at
    ``contacted_per_month``), whether it reaches ``min_gain_per_month`` (the smallest gain a month
    worth changing the SLA for: one materiality rule), and the plateau's share of the best profit.
    ``None`` without a recommended cap, a current cap, or a curve reaching the current cap."""
    n, curve = plateau.get("recommended_attempts"), plateau.get("profit_per_lead_by_cap") or []
    if n is None or current_cap is None or not curve or not 1 <= int(current_cap) <= len(curve):
        return None
    now, best = curve[int(current_cap) - 1], curve[int(n) - 1]
    per_lead = best - now
    per_month = per_lead * contacted_per_month if contacted_per_month else float("nan")
    plateau_n = plateau.get("plateau_attempts")
    share = curve[int(plateau_n) - 1] / best if plateau_n and 1 <= plateau_n <= len(curve) and best > 0 else float("nan")
    return {"current_cap": int(current_cap), "recommended_cap": int(n), "profit_per_lead_now": now,
            "gain_per_lead": per_lead, "gain_share": per_lead / now if now > 0 else float("nan"),
            "contacted_per_month": contacted_per_month, "gain_per_month": per_month,
            "min_gain_per_month": float(min_gain_per_month),
            "material": bool(np.isfinite(per_month) and per_month >= min_gain_per_month and int(current_cap) != int(n)),
            "plateau_attempts": plateau_n, "plateau_share_of_best": share}


def change_sentence(change: dict | None, currency: str = "USD") -> str:
    """Page 03 and the index: the gain of moving from today's cap, a lead and a month, against the
    smallest gain worth a change, and the plateau."""
    if not change:
        return ""
    c = change
    plateau = (f" {c['plateau_attempts']} attempts already earn {c['plateau_share_of_best']:.0%} of the best."
               if c.get("plateau_attempts") and np.isfinite(c.get("plateau_share_of_best", float("nan"))) else "")
    if c["current_cap"] == c["recommended_cap"]:
        return f"Today's cap of {c['current_cap']} attempts is the most profitable one.{plateau}"
    month = (f", about {money(c['gain_per_month'], currency)} a month at {c['contacted_per_month']:,.0f} contacted "
             "leads a month" if np.isfinite(c["gain_per_month"]) else "")
    verdict = (f"worth changing the SLA for (at least {money(c['min_gain_per_month'], currency)} a month)" if c["material"]
               else f"less than the {money(c['min_gain_per_month'], currency)} a month worth changing the SLA for: keep "
                    f"{c['current_cap']}")
    return (f"Against today's cap of {c['current_cap']} attempts, {c['recommended_cap']} adds "
            f"{money(c['gain_per_lead'], currency)} of profit per contacted lead ({c['gain_share']:+.1%}){month}: "
            f"{verdict}.{plateau}")


def cap_sentences(plateau: dict, currency: str = "USD") -> dict[str, str]:
    """Plain-words sentences for page 03 from ``summary.json["plateau"]`` (keys: ``verdict``,
    ``value_by_attempt``, ``experiment``, ``reached``, ``stopping``; a key is absent when it has nothing
    to say)."""
    out: dict[str, str] = {}
    n = plateau.get("recommended_attempts")
    if n is None:
        out["verdict"] = f"Attempt cap: not available: {plateau.get('reason', 'no cap could be estimated')}."
        return out
    judge = plateau.get("cannot_judge_above")
    profit = money(plateau.get("expected_profit_per_lead"), currency)
    what = ("expected revenue minus attempt costs" if plateau.get("gross_margin", 1.0) == 1.0
            else f"expected gross margin ({plateau['gross_margin']:.0%} of revenue) minus attempt costs")
    if judge is None:
        out["verdict"] = (f"Cap follow-up at {n} attempts (interval {plateau['ci_low']}–{plateau['ci_high']}): "
                          f"{profit} of {what} per contacted lead.")
        change = change_sentence(plateau.get("change"), currency)
        if change:
            out["change"] = change
        elif plateau.get("plateau_attempts"):
            curve = plateau.get("profit_per_lead_by_cap") or []
            k = int(plateau["plateau_attempts"])
            if 1 <= k <= len(curve) and curve[int(n) - 1] > 0:
                out["change"] = f"{k} attempts already earn {curve[k - 1] / curve[int(n) - 1]:.0%} of the best."
    else:
        why = ("reps stopped most leads there" if plateau.get("enforced_cap") == judge
               else "too few leads were worked longer")
        out["verdict"] = (f"At least {judge} attempts pay ({profit} of {what} per contacted lead), but the history "
                          f"cannot judge caps above {judge}: {why}. This is not a confirmation of {judge}.")
    rba = plateau.get("revenue_by_attempt") or {}
    if rba.get("varies"):
        ratio = rba.get("ratio_per_attempt")
        out["value_by_attempt"] = (f"A deal won at a later attempt is worth {'less' if ratio < 1 else 'more'}: about "
                                   f"{abs(1 - ratio):.0%} {'less' if ratio < 1 else 'more'} per extra attempt "
                                   f"({rba['won_deals']:,} won deals); the cap accounts for it.")
        if rba.get("held_after_attempt"):
            n = rba["held_after_attempt"]
            out["value_by_attempt"] += (f" Past attempt {n}, the last at which enough deals were won to read "
                                        f"the trend, a deal is counted at attempt {n}'s value: the trend is not "
                                        "carried beyond the deals it was read from.")
    elif rba.get("p_value") is not None:
        out["value_by_attempt"] = (f"A deal is worth about the same whatever attempt won it ({rba['won_deals']:,} won "
                                   "deals show no trend).")
    elif rba.get("note"):
        out["value_by_attempt"] = f"Deal value by attempt: {rba['note']}."
    exp = plateau.get("experiment")
    if exp:
        if exp.get("leads_needed") and exp.get("feasible") is False:
            out["experiment"] = (f"A fair test of {exp['test_cap']} attempts is not worth running now: it would need "
                                 f"{exp['leads_needed']:,} leads to see a gain of "
                                 f"{money(exp['expected_gain_per_lead'], currency, 2)} per lead, and {exp['reason']}. "
                                 f"Look at the cap again when more of the contacted leads have closed.")
        elif exp.get("leads_needed"):
            weeks = f", {weeks_in_words(exp['weeks_needed'])} of new leads" if exp.get("weeks_needed") else ""
            out["experiment"] = (f"To find out, give {exp['share']:.0%} of new leads, chosen at random, up to "
                                 f"{exp['test_cap']} attempts and compare profit per lead: {exp['leads_needed']:,} "
                                 f"leads in all{weeks}, to see a gain of {money(exp['expected_gain_per_lead'], currency, 2)} "
                                 f"per lead 8 times in 10.")
            if exp.get("extra_cost_of_test_arm") is not None:
                out["experiment"] += (f" The test's extra calls, beyond attempt {exp['from_cap']}, cost about "
                                      f"{money(exp['extra_cost_per_test_lead'], currency, 2)} per lead on the test "
                                      f"({money(exp['extra_cost_of_test_arm'], currency)} in all), whether or not they pay.")
        else:
            out["experiment"] = f"No test is worth running: {exp.get('reason', '')}."
    reached = plateau.get("reached") or {}
    if reached.get("at_attempt") and reached["history_share"] - reached["all_leads_share"] >= REACHED_SELECTION_GAP:
        out["reached"] = (f"Reps kept calling the leads that answered: {reached['history_share']:.0%} of the leads "
                          f"still being called at attempt {reached['at_attempt']} had already been reached by a call, "
                          f"where {reached['all_leads_share']:.0%} would have been had every lead been called that long. "
                          "The cap counts conversion before and after a lead is first reached, so those leads do "
                          "not make later attempts look better than they are.")
    sens = plateau.get("stopping_sensitivity")
    if sens and sens.get("recommended_attempts") != n:
        beyond = " in ways a call's outcome does not show" if plateau.get("reached") else ""
        out["stopping"] = (f"If the leads worked past attempt {sens['from_attempt']} were kept because they looked "
                           f"engaged{beyond} (twice as likely to convert as the rest), the best cap would be "
                           f"{sens['recommended_attempts']}: read the answer as {min(n, sens['recommended_attempts'])}–"
                           f"{max(n, sens['recommended_attempts'])} attempts.")
    return out


def hazard_caption(hazard_shape: str) -> str:
    """What the conversion-per-attempt chart shows."""
    return (f"Grey dots: the share of open leads that converted at each attempt, with its interval; blue line: the "
            f"fitted curve. **Conversion per attempt {hazard_shape}**.")


def rule_of_thumb_sentence(rule_of_thumb_attempts: float, recommended_attempts: float) -> str:
    """The seeds' rule of thumb against the recommended cap."""
    return (f"The rule of thumb answers **{plural(rule_of_thumb_attempts, 'attempt')}**; the cap above answers "
            f"**{plural(recommended_attempts, 'attempt')}**.")


#: a covariate whose levels do not improve the hazard fit at this level is left out of the cap
COVARIATE_TEST_ALPHA = 0.05


def covariate_matters(profiles: pd.DataFrame, covariates: Sequence[str], name: str,
                      alpha: float = COVARIATE_TEST_ALPHA) -> bool:
    """Whether the covariate ``name`` (e.g. the lead's owner) changes the per-attempt conversion:
    a likelihood-ratio test of the hazard with ``covariates`` against the same model without
    ``name`` (the same shape of ``f(k)``), chi-square with ``levels - 1`` degrees of freedom, at
    ``alpha``. Reps who convert alike leave the cap's model (and its bootstrap) as it was; reps who
    differ are adjusted for."""
    covariates = tuple(covariates)
    others = tuple(c for c in covariates if c != name)
    pp = person_period(profiles, covariates)  # one table for both fits: their likelihoods compare
    full = fit_hazard(pp, covariates)
    reduced = fit_hazard(pp, others, shape=full.shape)
    df = len(full.levels.get(name, [])) - 1
    if df <= 0:
        return False
    lr = 2 * (float(full.result.llf) - float(reduced.result.llf))
    return bool(chi2.sf(max(lr, 0.0), df) < alpha)
