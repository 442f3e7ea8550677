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


@dataclass(frozen=True)
class Scenario:
    """Known truth of one simulated history. Per source ``g``:
    ``h_gk = min(0.95, h1_g decay^(k-1) m_k)`` with ``m_1 = first_attempt_mult``, else 1;
    deal value per conversion ``v_g = win_prob x mean_amount_g``; ``share_a`` = share of source A."""

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

    @property
    def weights(self) -> np.ndarray:
        return np.array([self.share_a, 1.0 - self.share_a])

    @property
    def values(self) -> np.ndarray:
        return self.win_prob * np.asarray(self.mean_amount, dtype=float)

    def hazards(self, max_k: int) -> np.ndarray:
        """``(2, max_k)`` array of ``h_gk``."""
        k = np.arange(1, max_k + 1)
        shape = self.decay ** (k - 1.0) * np.where(k == 1, self.first_attempt_mult, 1.0)
        return np.minimum(0.95, np.asarray(self.h1)[:, None] * shape)


def _curve_parts(s: Scenario, max_k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    h = s.hazards(max_k)
    S = np.hstack([np.ones((2, 1)), np.cumprod(1 - h, axis=1)[:, :-1]])
    w = s.weights
    return w @ S, w @ (S * h * s.values[:, None]), w @ (S * h)


def true_profit_curve(scenario: Scenario, cost: float | None = None, max_k: int = 200) -> pd.DataFrame:
    """Exact ``Pi(N) = sum_g w_g sum_{k<=N} S_gk (h_gk v_g - c)`` per contacted lead, N = 1..max_k.

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


def random_scenario(rng: np.random.Generator, n_range: tuple[int, int] = (3, 15)) -> Scenario:
    """Draw hazards, values and a cost so that the true optimum N* lands in ``n_range``.

    The population revenue per attempt among open leads ``rbar_k`` decreases in k from attempt 2
    on, so N* is the last k with ``rbar_k > c``; the cost is drawn between ``rbar_{N+1}`` and
    ``rbar_N`` for a target N drawn uniformly from ``n_range``. Draws whose best cap loses money
    (possible when the first attempt is weak) or whose optimum falls outside ``n_range`` are
    redrawn. Historical caps reach at least 7 attempts past the target.
    """
    while True:
        decay = rng.uniform(0.65, 0.92)
        h1a = rng.uniform(0.08, 0.35)
        h1 = (h1a, h1a * rng.uniform(0.35, 0.8))
        amount = rng.lognormal(np.log(10_000), 0.8)
        mean_amount = (amount, amount * rng.uniform(0.6, 1.5))
        target = int(rng.integers(n_range[0], n_range[1] + 1))
        base = Scenario(h1=h1, decay=decay, win_prob=rng.uniform(0.2, 0.5),
                        mean_amount=mean_amount, share_a=rng.uniform(0.3, 0.7), cost=0.0,
                        cap_max=(1, 1), first_attempt_mult=rng.uniform(0.6, 1.6))
        share, rev, _ = _curve_parts(base, target + 1)
        rbar = rev / share
        u = rng.uniform(0.2, 0.8)
        cost = float(rbar[target] + u * (rbar[target - 1] - rbar[target]))
        top = max(2 * target, target + 10)
        cap_max = (top + int(rng.integers(0, 6)), top - int(rng.integers(0, 4)))
        sc = replace(base, cost=cost, cap_max=cap_max)
        profit = true_profit_curve(sc, max_k=3 * n_range[1])["profit_per_lead"].to_numpy()
        n_star = int(profit.argmax()) + 1
        if profit.max() > 0 and n_range[0] <= n_star <= n_range[1]:
            return sc


def simulate_leads(rng: np.random.Generator, n_leads: int, scenario: Scenario) -> pd.DataFrame:
    """One row per lead: ``source, attempts, converted, revenue, censored`` (the raw history).

    Planned cap per lead: uniform on ``2..cap_max[source]``, or 1-2 for the early-abandoned share.
    A lead still open converts at attempt k with probability ``h_k``; the rep then stops. A share
    ``still_open`` is observed mid-way (after a uniform number of attempts up to its cap): if it
    has not converted by then it is censored. Converted leads win with ``win_prob`` for a gamma
    amount (mean ``mean_amount[source]``), else revenue 0.
    """
    s = scenario
    n = int(n_leads)
    g = (rng.random(n) >= s.share_a).astype(np.int64)          # 0 = A, 1 = B
    cap_hi = np.asarray(s.cap_max)[g]
    caps = rng.integers(2, cap_hi + 1)
    abandon = rng.random(n) < s.early_abandon
    caps[abandon] = rng.integers(1, 3, abandon.sum())
    K = int(cap_hi.max())
    h = s.hazards(K)
    hit = rng.random((n, K)) < h[g]
    conv_k = np.where(hit.any(axis=1), hit.argmax(axis=1) + 1, K + 1)
    open_now = rng.random(n) < s.still_open
    seen = np.where(open_now, rng.integers(1, caps + 1), caps)   # attempts made by the data end
    converted = conv_k <= seen
    attempts = np.where(converted, conv_k, seen)
    censored = ~converted & (seen < caps)
    won = converted & (rng.random(n) < s.win_prob)
    amount = rng.gamma(s.amount_shape, np.asarray(s.mean_amount)[g] / s.amount_shape)
    revenue = np.where(won, amount, 0.0)
    never = rng.random(n) < s.never_contacted
    attempts[never], converted[never], censored[never], revenue[never] = 0, False, False, 0.0
    return pd.DataFrame({"source": np.asarray(GROUPS)[g], "attempts": attempts,
                         "converted": converted, "revenue": revenue, "censored": censored})


def to_profiles(leads: pd.DataFrame, covariates: Sequence[str] = ("source",)) -> pd.DataFrame:
    """Lead rows -> lead profiles: converted leads one row each, the rest grouped with a weight."""
    cols = [*covariates, "attempts", "converted", "revenue", "censored"]
    conv = leads.loc[leads["converted"], cols].assign(weight=1)
    rest = (leads.loc[~leads["converted"], cols]
            .groupby([*covariates, "attempts", "converted", "revenue", "censored"], sort=True)
            .size().rename("weight").reset_index())
    out = pd.concat([conv, rest], ignore_index=True)
    out["weight"] = out["weight"].astype(np.int64)
    return out


def simulate_profiles(rng: np.random.Generator, n_leads: int, scenario: Scenario) -> pd.DataFrame:
    """Lead profiles (columns ``source, attempts, converted, revenue, censored, weight``) of a
    simulated history; see ``simulate_leads``."""
    return to_profiles(simulate_leads(rng, n_leads, scenario))


def run_study(n_scenarios: int = 40, n_leads: int = 20_000, seed: int = 0,
              n_boot: int = 100) -> pd.DataFrame:
    """Score both methods on ``n_scenarios`` random scenarios (one row each).

    ``sound_ok``: ``Pi_true(N_hat) >= 0.98 Pi_true(N*)``; ``ci_ok``: ``[ci_low, ci_high]`` holds an
    N within that 2% band; ``seeds_ok``: the same test for the seeds' cohort method (Kneedle);
    ``seeds_argmax_*``: its most charitable reading, the most profitable cohort (>= 30 leads).
    """
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_scenarios):
        t0 = time.perf_counter()
        sc = random_scenario(rng)
        profiles = simulate_profiles(rng, n_leads, sc)
        truth = true_profit_curve(sc)
        lo, hi, best = true_band(truth)
        n_star = int(truth["profit_per_lead"].to_numpy().argmax()) + 1
        pi = truth["profit_per_lead"].to_numpy()
        rec = recommend_cap(profiles, sc.cost, covariates=["source"], n_boot=n_boot, seed=seed + i)
        seeds = cohort_method(profiles, sc.cost)
        ns = seeds["cohort_method_attempts"]
        t = seeds["table"]
        t = t[t["leads"] >= 30]
        na = int(t["attempts"].to_numpy()[t["profit_per_lead"].to_numpy().argmax()])
        rows.append({
            "scenario": i + 1, "h1_A": sc.h1[0], "h1_B": sc.h1[1], "decay": sc.decay,
            "value_A": sc.values[0], "cost": sc.cost,
            "true_N": n_star, "band_low": lo, "band_high": hi, "true_profit": best,
            "support_max": rec.support_max_attempts,
            "sound_N": rec.recommended_attempts, "sound_profit_true": pi[rec.recommended_attempts - 1],
            "sound_ok": bool(pi[rec.recommended_attempts - 1] >= best - BAND_SHARE * abs(best)),
            "ci_low": rec.ci_low, "ci_high": rec.ci_high,
            "ci_ok": bool(rec.ci_low <= hi and rec.ci_high >= lo),
            "seeds_N": ns, "seeds_how": seeds["how"], "seeds_profit_true": pi[ns - 1],
            "seeds_ok": bool(pi[ns - 1] >= best - BAND_SHARE * abs(best)),
            "seeds_argmax_N": na, "seeds_argmax_ok": bool(pi[na - 1] >= best - BAND_SHARE * abs(best)),
            "seconds": time.perf_counter() - t0,
        })
    return pd.DataFrame(rows)


def summarise(study: pd.DataFrame) -> dict:
    """Shares of scenarios where each method is within 2% of the true optimum."""
    return {"scenarios": int(len(study)),
            "sound_within_2pct": float(study["sound_ok"].mean()),
            "sound_ci_covers_band": float(study["ci_ok"].mean()),
            "seeds_within_2pct": float(study["seeds_ok"].mean()),
            "seeds_knee_found": float((study["seeds_how"] == "kneedle").mean()),
            "seeds_argmax_within_2pct": float(study["seeds_argmax_ok"].mean()),
            "median_abs_error_sound": float((study["sound_N"] - study["true_N"]).abs().median()),
            "median_abs_error_seeds": float((study["seeds_N"] - study["true_N"]).abs().median())}


def to_markdown(study: pd.DataFrame) -> str:
    """The study as a markdown table (no third-party formatter needed)."""
    fmt = {"h1_A": "{:.3f}", "h1_B": "{:.3f}", "decay": "{:.2f}", "value_A": "{:,.0f}",
           "cost": "{:,.1f}", "true_profit": "{:,.1f}", "sound_profit_true": "{:,.1f}",
           "seeds_profit_true": "{:,.1f}", "seconds": "{:.1f}"}
    cols = [c for c in study.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for _, r in study.iterrows():
        cells = []
        for c in cols:
            v = r[c]
            if isinstance(v, (bool, np.bool_)):
                cells.append("yes" if v else "no")
            elif c in fmt:
                cells.append(fmt[c].format(v))
            else:
                cells.append(str(v))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scenarios", type=int, default=40)
    ap.add_argument("--leads", type=int, default=20_000)
    ap.add_argument("--boot", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=None, help="write the markdown report here too")
    ap.add_argument("--require", type=float, default=0.9,
                    help="fail (exit 1) when the sound method is within 2%% in fewer scenarios than this share")
    a = ap.parse_args(argv)
    t0 = time.perf_counter()
    study = run_study(a.scenarios, a.leads, a.seed, a.boot)
    elapsed = time.perf_counter() - t0
    s = summarise(study)
    text = "\n".join([
        f"# Method check: {a.scenarios} scenarios x {a.leads:,} leads, {a.boot} bootstrap "
        f"resamples, seed {a.seed}", "",
        to_markdown(study), "",
        f"* sound method within 2% of the true optimum: {s['sound_within_2pct']:.0%}",
        f"* its bootstrap interval holds an N within the 2% band: {s['sound_ci_covers_band']:.0%}",
        f"* seeds' cohort method within 2%: {s['seeds_within_2pct']:.0%} "
        f"(knee found in {s['seeds_knee_found']:.0%}); read as its most profitable cohort: "
        f"{s['seeds_argmax_within_2pct']:.0%}",
        f"* median |N_hat - N*|: sound {s['median_abs_error_sound']:g}, "
        f"seeds {s['median_abs_error_seeds']:g}",
        f"* run time: {elapsed:.0f} s", ""])
    print(text)
    if a.out is not None:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(text)
    if s["sound_within_2pct"] < a.require:
        print(f"FAILED: the sound method is within 2% in {s['sound_within_2pct']:.0%} of scenarios "
              f"(required: {a.require:.0%})")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
