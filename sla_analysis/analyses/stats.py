"""Honest rates: every proportion with its sample size and interval; small groups flagged or shrunk.
And the light logistic fit the bootstraps refit with (:func:`logit_irls`).

All functions are vectorised over NumPy arrays or pandas Series and pure.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as st
from scipy.special import expit, gammaln
from statsmodels.stats.proportion import proportion_confint


def wilson_interval(successes, n, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for ``successes / n``; NaN where ``n == 0``."""
    successes = np.asarray(successes, dtype=float)
    n = np.asarray(n, dtype=float)
    safe_n = np.where(n > 0, n, 1)
    low, high = proportion_confint(successes, safe_n, alpha=1 - confidence, method="wilson")
    return np.where(n > 0, low, np.nan), np.where(n > 0, high, np.nan)


def jeffreys_interval(successes, n, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Jeffreys interval: Beta(x + 1/2, n - x + 1/2) quantiles, with the usual 0 / 1 end fixes."""
    x = np.asarray(successes, dtype=float)
    n = np.asarray(n, dtype=float)
    a = (1 - confidence) / 2
    low = np.where(x > 0, st.beta.ppf(a, x + 0.5, n - x + 0.5), 0.0)
    high = np.where(x < n, st.beta.ppf(1 - a, x + 0.5, n - x + 0.5), 1.0)
    return np.where(n > 0, low, np.nan), np.where(n > 0, high, np.nan)


def rate_table(frame: pd.DataFrame, successes: str, n: str, confidence: float = 0.95,
               min_n: int = 30, prefix: str = "rate") -> pd.DataFrame:
    """Add ``<prefix>``, ``<prefix>_low``, ``<prefix>_high`` (Wilson) and ``small_sample``
    (``n < min_n``: flagged, not ranked) to a frame of counts."""
    out = frame.copy()
    total = out[n].astype(float)
    out[prefix] = np.where(total > 0, out[successes] / total.where(total > 0, 1), np.nan)
    out[f"{prefix}_low"], out[f"{prefix}_high"] = wilson_interval(out[successes], total, confidence)
    out["small_sample"] = total < min_n
    return out


def shrunk_rates(successes, n) -> np.ndarray:
    """Empirical-Bayes (beta-binomial) shrinkage of group rates toward the overall rate.

    Prior Beta(a, b) fitted by the method of moments across groups; posterior mean
    ``(x + a) / (n + a + b)``. With too little between-group variation the prior is strong
    and every group is pulled to the pooled rate, which is the honest answer.
    """
    x = np.asarray(successes, dtype=float)
    n = np.asarray(n, dtype=float)
    keep = n > 0
    pooled = x[keep].sum() / max(n[keep].sum(), 1.0)
    if keep.sum() < 2 or pooled in (0.0, 1.0):
        return np.where(n > 0, pooled, np.nan)
    rates = x[keep] / n[keep]
    weights = n[keep] / n[keep].sum()
    var_obs = float(np.sum(weights * (rates - pooled) ** 2))
    var_binom = float(np.sum(weights * pooled * (1 - pooled) / n[keep]))
    var_between = max(var_obs - var_binom, 1e-12)
    strength = max(pooled * (1 - pooled) / var_between - 1, 1e-6)  # a + b
    a, b = pooled * strength, (1 - pooled) * strength
    return np.where(n > 0, (x + a) / (n + a + b), np.nan)


def mean_interval(total, sum_squares, n, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean and t-interval from sufficient statistics (sum, sum of squares, count).

    Returns ``(mean, low, high)``; the interval is NaN for fewer than 2 observations.
    """
    total, sum_squares, n = (np.asarray(v, dtype=float) for v in (total, sum_squares, n))
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n > 0, total / n, np.nan)
        var = np.where(n > 1, (sum_squares - n * mean ** 2) / (n - 1), np.nan)
        se = np.sqrt(np.maximum(var, 0) / n)
        t = st.t.ppf(0.5 + confidence / 2, np.maximum(n - 1, 1))
    return mean, np.where(n > 1, mean - t * se, np.nan), np.where(n > 1, mean + t * se, np.nan)


def product_interval(mean_value, se_value, rate, n, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Interval for ``value x rate`` (e.g. MQL value = revenue per customer x close rate) by the
    delta method on the log scale: ``se(log V)^2 = (se_R / R)^2 + (1 - p) / (n p)``."""
    r, se, p, n = (np.asarray(v, dtype=float) for v in (mean_value, se_value, rate, n))
    z = st.norm.ppf(0.5 + confidence / 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        se_log = np.sqrt((se / r) ** 2 + (1 - p) / (n * p))
        centre = r * p
        ok = (r > 0) & (p > 0) & np.isfinite(se_log)
        return (np.where(ok, centre * np.exp(-z * se_log), np.nan),
                np.where(ok, centre * np.exp(z * se_log), np.nan))


@dataclass(frozen=True)
class LogitFit:
    """What a bootstrap refit reads of a binomial GLM: its coefficients and log-likelihood."""

    params: np.ndarray
    llf: float
    converged: bool


_EPS = np.finfo(float).eps


def logit_irls(events: np.ndarray, at_risk: np.ndarray, X: np.ndarray, start: np.ndarray | None = None,
               maxiter: int = 100, tol: float = 1e-8) -> LogitFit:
    """A binomial GLM (logit link) of ``events`` out of ``at_risk``, fitted by statsmodels' own IRLS
    steps without its per-step bookkeeping (the bootstraps refit it thousands of times on tables of a few dozen rows,
    where that bookkeeping costs ten times the arithmetic).

    Same start (``mu = (y + 1/2) / 2``, or ``X start``), same step (weighted least squares of
    ``eta + (y - mu) / (mu (1 - mu))`` with weights ``n mu (1 - mu)``, by ``lstsq``), same stop
    (the deviance changes by less than ``tol``) and the same log-likelihood (with the binomial
    coefficients); ``tests/test_plateau.py`` checks it against statsmodels. Coefficients and AIC
    only: no standard errors (the refits need none)."""
    n = np.asarray(at_risk, dtype=float)
    k = np.asarray(events, dtype=float)
    y = k / n

    def deviance(mu: np.ndarray) -> float:
        a = np.clip(y / (mu + 1e-20), _EPS, np.inf)
        b = np.clip((1.0 - y) / (1.0 - mu + 1e-20), _EPS, np.inf)
        return float(np.sum(2 * n * (y * np.log(a) + (1 - y) * np.log(b))))

    if start is None:
        mu = (y + 0.5) / 2
        p = np.clip(mu, _EPS, 1 - _EPS)
        eta = np.log(p / (1 - p))
    else:
        eta = X @ start
        mu = expit(eta)
    dev = deviance(mu)
    beta = np.zeros(X.shape[1]) if start is None else np.asarray(start, float)
    converged = False
    for _ in range(maxiter):
        p = np.clip(mu, _EPS, 1 - _EPS)
        v = p * (1 - p)
        z = eta + (y - mu) / v
        sw = np.sqrt(n * v)
        beta = np.linalg.lstsq(sw[:, None] * X, sw * z, rcond=None)[0]
        eta = X @ beta
        mu = expit(eta)
        new = deviance(mu)
        converged = abs(new - dev) <= tol
        dev = new
        if converged:
            break
    p = np.clip(mu, _EPS, 1 - _EPS)
    llf = float(np.sum(gammaln(n + 1) - gammaln(k + 1) - gammaln(n - k + 1) + k * np.log(p) + (n - k) * np.log1p(-p)))
    return LogitFit(beta, llf, converged)
