"""Simulation study: does the hazard method find the profit-maximising attempt cap?

Each scenario has KNOWN per-attempt hazards for two lead sources ``A`` and ``B``
(``h_gk = h1_g x decay^(k-1)``), a known deal value (win probability x gamma-distributed amount,
per source) and a historical attempt policy that reaches well past the optimum (random caps per
lead, a quarter abandoned after 1-2 attempts, source A worked longer than B, some leads still being
worked when the data ends). The true profit curve ``Pi(N) = sum_g w_g sum_{k<=N} S_gk (h_gk v_g - c)``
is computed analytically; both the sound method (``plateau.recommend_cap``) and the seeds' cohort
method (``plateau.cohort_method``) are scored on it: an answer is *within 2%* when
``Pi_true(N_hat) >= 0.98 Pi_true(N*)``.

    python -m sla_analysis.tools.method_check --scenarios 40 --leads 20000 --boot 100 --out reports/method_check.md

(``make validate-methods``). Exits 1 when the sound method is within 2% in fewer than ``--require``
(default 90%) of the scenarios.
"""
from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from sla_analysis.analyses.plateau import cohort_method, recommend_cap

GROUPS = ("A", "B")
BAND_SHARE = 0.02


#: Scenario families: the first is the estimator's own model; the others break one of its
#: assumptions each (see ``random_scenario``).
FAMILIES = ("geometric", "rise_fall", "value_falls", "value_rises", "informative", "enforced",
            "enforced_engaged", "kept_if_reached")
#: Families where the history cannot judge caps above the one reps enforced.
ENFORCED_FAMILIES = ("enforced", "enforced_engaged")
#: Families where the optimum is identifiable from (attempts, outcome) alone.
IDENTIFIABLE_FAMILIES = ("geometric", "rise_fall", "value_falls", "value_rises", "kept_if_reached")


@dataclass(frozen=True)
class Scenario:
    """Known truth of one simulated history. Per source ``g`` and lead type ``t`` (``frailty``:
    ``(share, multiplier)`` pairs, one type by default):
    ``h_gtk = min(0.95, h1_g x mult_t x m_k x shape_k)``, ``m_1 = first_attempt_mult`` else 1,
    ``shape_k = rise^(k-1)`` up to ``peak`` then ``rise^(peak-1) decay^(k-peak)`` (``peak = 1``:
    geometric decay); deal value of a conversion at attempt k
    ``v_gk = win_prob x mean_amount_g x value_trend^(k-1)``; ``share_a`` = share of source A.

    Stopping policy (``policy``): ``random`` caps uniform on ``2..cap_max[g]``; ``enforced``: every
    lead capped at ``policy_cap`` (the last lead type, the engaged one, worked up to ``cap_max`` when
    ``engaged_longer``); ``informative``: caps uniform on ``2..policy_cap``, the engaged type's on
    ``2..cap_max[g]``; ``reached``: a lead's planned cap is uniform on ``2..policy_cap`` and, once
    a call has reached it, on ``2..cap_max[g]`` (the larger of the two): reps keep calling the leads
    that answered. A share ``early_abandon`` is dropped after 1-2 attempts in every policy.

    With ``reach_prob > 0`` each attempt on a lead not reached yet reaches it with that chance (its
    call is recorded ``connected``), and the hazard is ``h_gk x before_mult`` before the lead is
    reached and ``h_gk x reached_mult`` from the attempt after (capped at 0.95); lead types are then
    not used."""

    h1: tuple[float, float]
    decay: float
    win_prob: float
    mean_amount: tuple[float, float]
    share_a: float
    cost: float
    cap_max: tuple[int, int]          # historical caps uniform on 2..cap_max[g]
    early_abandon: float = 0.25       # share abandoned after 1 or 2 attempts
    still_open: float = 0.2           # share still being worked at the data end (censored)
    never_contacted: float = 0.03     # attempts == 0, ignored by the hazard model
    amount_shape: float = 2.0         # gamma shape of deal amounts
    first_attempt_mult: float = 1.0   # h_1 x this (first touch often unanswered, or hottest)
    peak: int = 1                     # attempt where the hazard peaks (rise-then-fall when > 1)
    rise: float = 1.0                 # hazard ratio k+1 / k before the peak
    value_trend: float = 1.0          # deal amount ratio k+1 / k
    frailty: tuple = ((1.0, 1.0),)    # lead types: (share, hazard multiplier); the last = engaged
    policy: str = "random"
    policy_cap: int = 0
    engaged_longer: bool = False
    reach_prob: float = 0.0           # chance an attempt first reaches a lead (two-state scenarios)
    before_mult: float = 1.0          # hazard multiplier before the lead is reached
    reached_mult: float = 1.0         # ... and after

    @property
    def weights(self) -> np.ndarray:
        return np.array([self.share_a, 1.0 - self.share_a])

    @property
    def values(self) -> np.ndarray:
        return self.win_prob * np.asarray(self.mean_amount, dtype=float)

    def value_by_attempt(self, max_k: int) -> np.ndarray:
        """``(2, max_k)`` array of ``v_gk``."""
        return self.values[:, None] * self.value_trend ** np.arange(max_k)[None, :]

    def shape(self, max_k: int) -> np.ndarray:
        k = np.arange(1, max_k + 1)
        up = self.rise ** (np.minimum(k, self.peak) - 1.0)
        down = self.decay ** np.maximum(0.0, k - self.peak)
        return up * down * np.where(k == 1, self.first_attempt_mult, 1.0)

    def hazards(self, max_k: int, mult: float = 1.0) -> np.ndarray:
        """``(2, max_k)`` array of ``h_gk`` (for lead-type multiplier ``mult``)."""
        return np.minimum(0.95, np.asarray(self.h1)[:, None] * mult * self.shape(max_k))


def _curve_parts(s: Scenario, max_k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Population ``(share_open_k, expected revenue_k, conversions_k)`` per contacted lead when
    every lead is worked to ``max_k``."""
    share, rev, conv = np.zeros(max_k), np.zeros(max_k), np.zeros(max_k)
    v = s.value_by_attempt(max_k)
    if s.reach_prob > 0:                  # two states: not reached yet (U) and reached (R)
        hu, hr = s.hazards(max_k, s.before_mult), s.hazards(max_k, s.reached_mult)
        U, R = np.zeros((2, max_k)), np.zeros((2, max_k))
        U[:, 0] = 1.0
        for j in range(max_k - 1):
            U[:, j + 1] = U[:, j] * (1 - hu[:, j]) * (1 - s.reach_prob)
            R[:, j + 1] = U[:, j] * (1 - hu[:, j]) * s.reach_prob + R[:, j] * (1 - hr[:, j])
        c = U * hu + R * hr
        return s.weights @ (U + R), s.weights @ (c * v), s.weights @ c
    for q, mult in s.frailty:
        h = s.hazards(max_k, mult)
        S = np.hstack([np.ones((2, 1)), np.cumprod(1 - h, axis=1)[:, :-1]])
        w = s.weights * q
        share += w @ S
        rev += w @ (S * h * v)
        conv += w @ (S * h)
    return share, rev, conv


def true_profit_curve(scenario: Scenario, cost: float | None = None, max_k: int = 200) -> pd.DataFrame:
    """Exact ``Pi(N) = sum_{g,t} w_g q_t sum_{k<=N} S_gtk (h_gtk v_gk - c)`` per contacted lead.

    Columns: ``attempts, hazard`` (population, among leads reaching k), ``share_open`` (``S_k``),
    ``revenue_per_attempt``, ``marginal_profit``, ``profit_per_lead``.
    """
    c = scenario.cost if cost is None else float(cost)
    share, rev, conv = _curve_parts(scenario, max_k)
    marginal = rev - c * share
    return pd.DataFrame({"attempts": np.arange(1, max_k + 1), "hazard": conv / share,
                         "share_open": share, "revenue_per_attempt": rev / share,
                         "marginal_profit": marginal, "profit_per_lead": np.cumsum(marginal)})


def true_band(curve: pd.DataFrame, share: float = BAND_SHARE) -> tuple[int, int, float]:
    """``(N*, ...)``: first and last N with ``Pi(N) >= (1 - share) Pi(N*)`` and ``Pi(N*)``."""
    p = curve["profit_per_lead"].to_numpy()
    best = p.max()
    ok = np.flatnonzero(p >= best - share * abs(best)) + 1
    return int(ok.min()), int(ok.max()), float(best)


def _family_shape(rng: np.random.Generator, family: str) -> dict:
    """The family's departures from the geometric model."""
    if family == "geometric":
        return {"first_attempt_mult": rng.uniform(0.6, 1.6)}
    if family == "rise_fall":
        return {"peak": int(rng.integers(3, 6)), "rise": rng.uniform(1.2, 1.6)}
    if family == "value_falls":
        return {"value_trend": rng.uniform(0.72, 0.9)}
    if family == "value_rises":
        return {"value_trend": rng.uniform(1.04, 1.12)}
    if family == "kept_if_reached":
        return {"reach_prob": rng.uniform(0.1, 0.3), "before_mult": rng.uniform(0.3, 0.6),
                "reached_mult": rng.uniform(1.8, 3.0)}
    if family in ("informative", "enforced", "enforced_engaged"):
        q = rng.uniform(0.2, 0.4)
        hi = rng.uniform(1.8, 2.6)
        lo = (1 - q * hi) / (1 - q)
        return {"frailty": ((1 - q, max(lo, 0.1)), (q, hi))}
    raise ValueError(f"unknown scenario family {family!r}; one of {FAMILIES}")


def random_scenario(rng: np.random.Generator, n_range: tuple[int, int] = (3, 15),
                    family: str = "geometric") -> Scenario:
    """Draw hazards, values and a cost so that the true optimum N* lands in ``n_range``.

    The cost is drawn between the population revenue per attempt among open leads at a target
    N+1 and N (N uniform in ``n_range``); draws whose best cap loses money or whose optimum falls
    outside ``n_range`` are redrawn. ``family`` (one of ``FAMILIES``) adds what the estimator does
    not assume: a rise-then-fall hazard, a deal value that falls or rises with the attempt, lead
    types of different promise where reps work the engaged type longer (``informative``), a cap
    every rep enforced below the optimum (``enforced``), and that plus engaged leads worked past it
    (``enforced_engaged``). Historical caps of the random policy reach at least 7 attempts past N*.
    """
    while True:
        decay = rng.uniform(0.65, 0.92)
        h1a = rng.uniform(0.08, 0.35)
        if family == "rise_fall":
            h1a *= 0.4
        h1 = (h1a, h1a * rng.uniform(0.35, 0.8))
        amount = rng.lognormal(np.log(10_000), 0.8)
        mean_amount = (amount, amount * rng.uniform(0.6, 1.5))
        extra = _family_shape(rng, family)
        lo_n = max(n_range[0], extra.get("peak", 1) + 2)
        target = int(rng.integers(lo_n, n_range[1] + 1))
        base = Scenario(h1=h1, decay=decay, win_prob=rng.uniform(0.2, 0.5),
                        mean_amount=mean_amount, share_a=rng.uniform(0.3, 0.7), cost=0.0,
                        cap_max=(1, 1), **extra)
        share, rev, _ = _curve_parts(base, target + 1)
        rbar = rev / share
        if rbar[target - 1] <= rbar[target]:
            continue
        u = rng.uniform(0.2, 0.8)
        cost = float(rbar[target] + u * (rbar[target - 1] - rbar[target]))
        top = max(2 * target, target + 10)
        cap_max = (top + int(rng.integers(0, 6)), top - int(rng.integers(0, 4)))
        sc = replace(base, cost=cost, cap_max=cap_max)
        profit = true_profit_curve(sc, max_k=3 * n_range[1])["profit_per_lead"].to_numpy()
        n_star = int(profit.argmax()) + 1
        if not (profit.max() > 0 and n_range[0] <= n_star <= n_range[1]):
            continue
        if family in ("enforced", "enforced_engaged"):
            if n_star < 4:
                continue
            cap = int(rng.integers(max(2, n_star // 2), n_star - 1))
            return replace(sc, policy="enforced", policy_cap=cap, engaged_longer=family == "enforced_engaged")
        if family == "informative":
            return replace(sc, policy="informative", policy_cap=int(rng.integers(max(2, n_star - 3), n_star + 1)))
        if family == "kept_if_reached":
            return replace(sc, policy="reached", policy_cap=int(rng.integers(n_star, n_star + 4)))
        return sc


def simulate_leads(rng: np.random.Generator, n_leads: int, scenario: Scenario) -> pd.DataFrame:
    """One row per lead: ``source, attempts, converted, revenue, censored`` (the raw history).

    Planned cap per lead from the scenario's policy, or 1-2 for the early-abandoned share.
    A lead still open converts at attempt k with probability ``h_k`` (of its source and type); the
    rep then stops. A share ``still_open`` is observed mid-way (after a uniform number of attempts
    up to its cap): if it has not converted by then it is censored. A conversion at attempt k wins
    with ``win_prob`` for a gamma amount (mean ``mean_amount[source] x value_trend^(k-1)``),
    else revenue 0.
    """
    s = scenario
    n = int(n_leads)
    if s.reach_prob > 0:
        return _simulate_reached(rng, n, s)
    g = (rng.random(n) >= s.share_a).astype(np.int64)          # 0 = A, 1 = B
    q = np.array([f[0] for f in s.frailty], dtype=float)
    t = rng.choice(len(q), size=n, p=q / q.sum())
    engaged = t == len(q) - 1
    cap_hi = np.asarray(s.cap_max)[g]
    if s.policy == "random":
        caps = rng.integers(2, cap_hi + 1)
    elif s.policy == "enforced":
        caps = np.full(n, s.policy_cap, dtype=np.int64)
        if s.engaged_longer and len(q) > 1:
            caps[engaged] = rng.integers(s.policy_cap, cap_hi[engaged] + 1)
    elif s.policy == "informative":
        caps = rng.integers(2, s.policy_cap + 1, size=n)
        if len(q) > 1:
            caps[engaged] = rng.integers(2, cap_hi[engaged] + 1)
    else:
        raise ValueError(f"unknown policy {s.policy!r}")
    abandon = rng.random(n) < s.early_abandon
    caps[abandon] = rng.integers(1, 3, abandon.sum())
    K = int(max(cap_hi.max(), caps.max()))
    mult = np.array([f[1] for f in s.frailty], dtype=float)
    h = np.stack([s.hazards(K, m) for m in mult])               # (T, 2, K)
    hit = rng.random((n, K)) < h[t, g]
    conv_k = np.where(hit.any(axis=1), hit.argmax(axis=1) + 1, K + 1)
    open_now = rng.random(n) < s.still_open
    seen = np.where(open_now, rng.integers(1, caps + 1), caps)   # attempts made by the data end
    converted = conv_k <= seen
    attempts = np.where(converted, conv_k, seen)
    censored = ~converted & (seen < caps)
    won = converted & (rng.random(n) < s.win_prob)
    mean = np.asarray(s.mean_amount)[g] * s.value_trend ** (np.minimum(attempts, K) - 1.0)
    amount = rng.gamma(s.amount_shape, mean / s.amount_shape)
    revenue = np.where(won, amount, 0.0)
    never = rng.random(n) < s.never_contacted
    attempts[never], converted[never], censored[never], revenue[never] = 0, False, False, 0.0
    return pd.DataFrame({"source": np.asarray(GROUPS)[g], "attempts": attempts,
                         "converted": converted, "revenue": revenue, "censored": censored})


def _simulate_reached(rng: np.random.Generator, n: int, s: Scenario) -> pd.DataFrame:
    """``simulate_leads`` for a two-state scenario, attempt by attempt: adds ``connected_at`` (the
    attempt whose call first reached the lead, 0 = never). A lead not reached converts at attempt k
    with ``h_gk x before_mult`` (that call reached it), else the call reaches it with ``reach_prob``;
    a reached lead converts with ``h_gk x reached_mult``. Under ``policy == "reached"`` a lead is
    called up to its cap ``cap_u`` (uniform on ``2..policy_cap``) and, once reached, up to
    ``max(cap_u, cap_r)`` (``cap_r`` uniform on ``2..cap_max[g]``)."""
    g = (rng.random(n) >= s.share_a).astype(np.int64)
    cap_hi = np.asarray(s.cap_max)[g]
    top = s.policy_cap if s.policy == "reached" else cap_hi
    cap_u = rng.integers(2, np.asarray(top) + 1, size=n)
    cap_r = np.maximum(cap_u, rng.integers(2, cap_hi + 1)) if s.policy == "reached" else cap_u
    abandon = rng.random(n) < s.early_abandon
    cap_u[abandon] = rng.integers(1, 3, abandon.sum())
    cap_r = np.where(abandon, cap_u, cap_r)
    K = int(max(cap_r.max(), cap_u.max()))
    hu, hr = s.hazards(K, s.before_mult), s.hazards(K, s.reached_mult)
    open_now = rng.random(n) < s.still_open
    end = np.where(open_now, rng.integers(1, cap_r + 1), K + 1)    # attempts made by the data end
    attempts = np.zeros(n, dtype=np.int64)
    reached_at = np.zeros(n, dtype=np.int64)
    converted = np.zeros(n, dtype=bool)
    going = np.ones(n, dtype=bool)
    for k in range(1, K + 1):
        cap = np.where(reached_at > 0, cap_r, cap_u)
        going &= (k <= cap) & (k <= end) & ~converted
        if not going.any():
            break
        attempts[going] = k
        before = reached_at == 0
        h = np.where(before, hu[g, k - 1], hr[g, k - 1])
        conv = going & (rng.random(n) < h)
        converted |= conv
        reach = going & before & (conv | (rng.random(n) < s.reach_prob))
        reached_at[reach] = k
    cap_final = np.where(reached_at > 0, cap_r, cap_u)
    censored = ~converted & (attempts == end) & (end < cap_final)
    won = converted & (rng.random(n) < s.win_prob)
    mean = np.asarray(s.mean_amount)[g] * s.value_trend ** (np.maximum(attempts, 1) - 1.0)
    revenue = np.where(won, rng.gamma(s.amount_shape, mean / s.amount_shape), 0.0)
    never = rng.random(n) < s.never_contacted
    attempts[never], converted[never], censored[never], revenue[never], reached_at[never] = 0, False, False, 0.0, 0
    return pd.DataFrame({"source": np.asarray(GROUPS)[g], "attempts": attempts, "converted": converted,
                         "revenue": revenue, "censored": censored, "connected_at": reached_at})


def to_profiles(leads: pd.DataFrame, covariates: Sequence[str] = ("source",)) -> pd.DataFrame:
    """Lead rows -> lead profiles: converted leads one row each, the rest grouped with a weight
    (``connected_at`` kept when the leads have it)."""
    cols = [*covariates, "attempts", "converted", "revenue", "censored"]
    if "connected_at" in leads.columns:
        cols.append("connected_at")
    conv = leads.loc[leads["converted"], cols].assign(weight=1)
    rest = (leads.loc[~leads["converted"], cols]
            .groupby(cols, sort=True)
            .size().rename("weight").reset_index())
    out = pd.concat([conv, rest], ignore_index=True)
    out["weight"] = out["weight"].astype(np.int64)
    return out


def simulate_profiles(rng: np.random.Generator, n_leads: int, scenario: Scenario) -> pd.DataFrame:
    """Lead profiles (columns ``source, attempts, converted, revenue, censored, weight``) of a
    simulated history; see ``simulate_leads``."""
    return to_profiles(simulate_leads(rng, n_leads, scenario))


def _score(sc: Scenario, profiles: pd.DataFrame, n_boot: int, seed: int) -> dict:
    """One scenario scored against its truth (see ``run_study``)."""
    truth = true_profit_curve(sc)
    lo, hi, best = true_band(truth)
    pi = truth["profit_per_lead"].to_numpy()
    n_star = int(pi.argmax()) + 1
    rec = recommend_cap(profiles, sc.cost, covariates=["source"], n_boot=n_boot, seed=seed)
    one_state = None
    if "connected_at" in profiles.columns:        # the same history read without the call outcomes
        keys = [c for c in profiles.columns if c not in ("connected_at", "weight")]
        plain = profiles.groupby(keys, as_index=False)["weight"].sum()
        one_state = recommend_cap(plain, sc.cost, covariates=["source"], n_boot=0).recommended_attempts
    seeds = cohort_method(profiles, sc.cost)
    ns = seeds["cohort_method_attempts"]
    t = seeds["table"]
    t = t[t["leads"] >= 30]
    na = int(t["attempts"].to_numpy()[t["profit_per_lead"].to_numpy().argmax()])
    n_hat = rec.recommended_attempts
    contacted = int(profiles.loc[profiles["attempts"] >= 1, "weight"].sum())
    sens = rec.stopping_sensitivity or {}
    return {
        "h1_A": sc.h1[0], "decay": sc.decay, "peak": sc.peak, "value_trend": sc.value_trend,
        "cost": sc.cost, "policy_cap": sc.policy_cap or None, "contacted": contacted,
        "true_N": n_star, "band_low": lo, "band_high": hi, "true_profit": best,
        "support_max": rec.support_max_attempts, "shape": rec.hazard_model,
        "value_varies": bool(rec.value.varies) if rec.value is not None else False,
        "sound_N": n_hat, "sound_profit_true": pi[n_hat - 1],
        "sound_ok": bool(pi[n_hat - 1] >= best - BAND_SHARE * abs(best)),
        "sound_ok_5pct": bool(pi[n_hat - 1] >= best - 0.05 * abs(best)),
        "ci_low": rec.ci_low, "ci_high": rec.ci_high,
        "ci_covers_best": bool(rec.ci_low <= n_star <= rec.ci_high),
        "ci_ok": bool(rec.ci_low <= hi and rec.ci_high >= lo),
        "flagged": rec.cannot_judge_above is not None,
        "sensitivity_N": sens.get("recommended_attempts"),
        "one_state_N": one_state,
        "one_state_ok": None if one_state is None else bool(pi[one_state - 1] >= best - BAND_SHARE * abs(best)),
        "seeds_N": ns, "seeds_how": seeds["how"], "seeds_profit_true": pi[ns - 1],
        "seeds_ok": bool(pi[ns - 1] >= best - BAND_SHARE * abs(best)),
        "seeds_argmax_N": na, "seeds_argmax_ok": bool(pi[na - 1] >= best - BAND_SHARE * abs(best)),
    }


def run_study(n_scenarios: int = 40, n_leads: int | Sequence[int] = 20_000, seed: int = 0,
              n_boot: int = 100, families: Sequence[str] = ("geometric",)) -> pd.DataFrame:
    """Score both methods on ``n_scenarios`` random scenarios per family (one row each).

    Scenario ``i`` of a family has ``n_leads[i % len(n_leads)]`` leads. ``sound_ok``:
    ``Pi_true(N_hat) >= 0.98 Pi_true(N*)`` (``sound_ok_5pct``: 0.95); ``ci_covers_best``:
    ``ci_low <= N* <= ci_high``; ``ci_ok``: the interval touches the 2% band (the old, weaker
    check); ``flagged``: the method said the history cannot judge caps above its answer;
    ``seeds_ok``: the 2% test for the seeds' cohort method (Kneedle); ``seeds_argmax_*``: its most
    charitable reading, the most profitable cohort (>= 30 leads).
    """
    sizes = [int(n_leads)] if np.isscalar(n_leads) else [int(x) for x in n_leads]
    rows = []
    for f, family in enumerate(families):
        rng = np.random.default_rng([seed, f])
        for i in range(n_scenarios):
            t0 = time.perf_counter()
            sc = random_scenario(rng, family=family)
            profiles = simulate_profiles(rng, sizes[i % len(sizes)], sc)
            row = {"family": family, "scenario": i + 1, "leads": sizes[i % len(sizes)]}
            row.update(_score(sc, profiles, n_boot, seed + 1000 * f + i))
            row["seconds"] = time.perf_counter() - t0
            rows.append(row)
    return pd.DataFrame(rows)


def size_band(contacted: int) -> str:
    """The size bands the targets are stated for."""
    return "< 5,000" if contacted < 5_000 else ("5,000-20,000" if contacted < 20_000 else ">= 20,000")


#: Targets of issue #14, per family and size band (contacted leads).
TARGETS = {"within_2pct_at_20000": 0.90, "within_5pct_below_5000": 0.90, "coverage": 0.85, "flagged": 0.95}


def summarise_families(study: pd.DataFrame) -> pd.DataFrame:
    """Per family and size band: scenarios, share within 2% / 5% of the best profit, interval
    coverage of the best cap, share flagged "cannot judge above N", median |N_hat - N*|, and for
    histories with call outcomes the share within 2% when they are read without them."""
    d = study.assign(size=[size_band(c) for c in study["contacted"]],
                     abs_err=(study["sound_N"] - study["true_N"]).abs())
    g = d.groupby(["family", "size"], sort=False)
    out = g.agg(scenarios=("sound_ok", "size"), within_2pct=("sound_ok", "mean"),
                within_5pct=("sound_ok_5pct", "mean"), ci_covers_best=("ci_covers_best", "mean"),
                flagged=("flagged", "mean"), median_abs_error=("abs_err", "median"),
                seeds_within_2pct=("seeds_ok", "mean"),
                without_outcomes_within_2pct=("one_state_ok", lambda x: x.dropna().astype(float).mean()
                                              if x.notna().any() else np.nan)).reset_index()
    return out


def check_targets(study: pd.DataFrame) -> list[str]:
    """The targets missed, in words (empty when all are met). Identifiable families: within 2% in
    >= 90% of scenarios with 20,000+ contacted leads, within 5% in >= 90% below 5,000; every
    family that is not enforced: coverage >= 85%; enforced-cap families: flagged in >= 95%."""
    missed = []
    d = study.assign(size=[size_band(c) for c in study["contacted"]])
    for fam, x in d.groupby("family", sort=False):
        if fam in IDENTIFIABLE_FAMILIES:
            big, small = x[x["size"] == ">= 20,000"], x[x["size"] == "< 5,000"]
            if len(big) and big["sound_ok"].mean() < TARGETS["within_2pct_at_20000"]:
                missed.append(f"{fam}: within 2% in {big['sound_ok'].mean():.0%} at 20,000+ leads")
            if len(small) and small["sound_ok_5pct"].mean() < TARGETS["within_5pct_below_5000"]:
                missed.append(f"{fam}: within 5% in {small['sound_ok_5pct'].mean():.0%} below 5,000 leads")
            if x["ci_covers_best"].mean() < TARGETS["coverage"]:
                missed.append(f"{fam}: interval covers the best cap in {x['ci_covers_best'].mean():.0%}")
        if fam in ENFORCED_FAMILIES and x["flagged"].mean() < TARGETS["flagged"]:
            missed.append(f"{fam}: flagged 'cannot judge above N' in {x['flagged'].mean():.0%}")
    return missed


def summarise(study: pd.DataFrame) -> dict:
    """Shares of scenarios where each method is within 2% of the true optimum (all families)."""
    return {"scenarios": int(len(study)),
            "sound_within_2pct": float(study["sound_ok"].mean()),
            "sound_ci_covers_best": float(study["ci_covers_best"].mean()),
            "sound_ci_covers_band": float(study["ci_ok"].mean()),
            "seeds_within_2pct": float(study["seeds_ok"].mean()),
            "seeds_knee_found": float((study["seeds_how"] == "kneedle").mean()),
            "seeds_argmax_within_2pct": float(study["seeds_argmax_ok"].mean()),
            "median_abs_error_sound": float((study["sound_N"] - study["true_N"]).abs().median()),
            "median_abs_error_seeds": float((study["seeds_N"] - study["true_N"]).abs().median())}


def _table(frame: pd.DataFrame, fmt: dict) -> str:
    cols = list(frame.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for _, r in frame.iterrows():
        cells = []
        for c in cols:
            v = r[c]
            if isinstance(v, (bool, np.bool_)):
                cells.append("yes" if v else "no")
            elif v is None or (isinstance(v, float) and np.isnan(v)):
                cells.append("")
            elif c in fmt:
                cells.append(fmt[c].format(v))
            else:
                cells.append(str(v))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def to_markdown(study: pd.DataFrame) -> str:
    """The study as a markdown table (no third-party formatter needed)."""
    fmt = {"h1_A": "{:.3f}", "decay": "{:.2f}", "value_trend": "{:.2f}", "contacted": "{:,}",
           "cost": "{:,.1f}", "true_profit": "{:,.1f}", "sound_profit_true": "{:,.1f}",
           "seeds_profit_true": "{:,.1f}", "seconds": "{:.1f}"}
    return _table(study, fmt)


def families_markdown(study: pd.DataFrame) -> str:
    """The per-family summary as a markdown table."""
    pct = "{:.0%}"
    return _table(summarise_families(study), {"within_2pct": pct, "within_5pct": pct, "ci_covers_best": pct,
                                              "flagged": pct, "seeds_within_2pct": pct, "median_abs_error": "{:g}",
                                              "without_outcomes_within_2pct": pct})


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scenarios", type=int, default=40, help="scenarios per family")
    ap.add_argument("--leads", type=str, default="2000,5000,25000,50000",
                    help="leads per history, or a comma-separated list cycled over the scenarios")
    ap.add_argument("--boot", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--families", type=str, default=",".join(FAMILIES))
    ap.add_argument("--out", type=Path, default=None, help="write the markdown report here too")
    ap.add_argument("--no-targets", action="store_true", help="report the targets missed but exit 0")
    a = ap.parse_args(argv)
    sizes = [int(x) for x in a.leads.split(",") if x.strip()]
    families = [f.strip() for f in a.families.split(",") if f.strip()]
    unknown = set(families) - set(FAMILIES)
    if unknown or not sizes or min(sizes) < 100:
        ap.error(f"families must be among {FAMILIES} and leads >= 100")
    t0 = time.perf_counter()
    study = run_study(a.scenarios, sizes, a.seed, a.boot, families)
    elapsed = time.perf_counter() - t0
    s = summarise(study)
    missed = check_targets(study)
    text = "\n".join([
        f"# Method check: {a.scenarios} scenarios per family x {', '.join(f'{n:,}' for n in sizes)} leads, "
        f"{a.boot} bootstrap resamples, seed {a.seed}", "",
        "## Per family and size (contacted leads)", "", families_markdown(study), "",
        f"* all scenarios: sound method within 2% of the best profit in {s['sound_within_2pct']:.0%}; "
        f"its interval holds the best cap in {s['sound_ci_covers_best']:.0%} "
        f"(touches the 2% band in {s['sound_ci_covers_band']:.0%})",
        f"* seeds' cohort method within 2%: {s['seeds_within_2pct']:.0%} "
        f"(knee found in {s['seeds_knee_found']:.0%}); read as its most profitable cohort: "
        f"{s['seeds_argmax_within_2pct']:.0%}",
        f"* median |N_hat - N*|: sound {s['median_abs_error_sound']:g}, seeds {s['median_abs_error_seeds']:g}",
        "* targets missed: " + ("; ".join(missed) if missed else "none"),
        f"* run time: {elapsed:.0f} s", "",
        "## Every scenario", "", to_markdown(study), ""])
    print(text)
    if a.out is not None:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(text)
    if missed and not a.no_targets:
        print("FAILED: " + "; ".join(missed))
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
