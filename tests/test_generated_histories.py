"""Issue #14's table rerun on generated histories the estimator does not assume: a conversion that
peaks at attempts 3-4 (large and small histories), a deal value that falls ~23% per later attempt,
a cap every rep enforced at 6, and that cap with engaged leads worked on to 16; and reps who keep
calling the leads a call reached (stopping that the call outcomes explain).

Modest sizes (4 replicates, 30 bootstrap resamples) so the file runs in about a minute on 2 cores;
the full study with its targets is ``make validate-methods`` (``docs/methods.md``). The targets
asserted here are the issue's, applied to 4 replicates: within 2% of the best profit in all four
at 20,000 leads (within 5% at about 2,700 contacted leads), the interval holding the best cap in at
least 3 of 4, every enforced cap flagged "cannot judge caps above 6".
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from sla_analysis.analyses.plateau import (
    _analyse,
    _prepare,
    cap_for_review,
    cap_sentences,
    hazard_shape,
    recommend_cap,
)
from sla_analysis.tools import method_check as mc

pytestmark = pytest.mark.slow  # each history is simulated and bootstrapped: ~25 s in all

REPLICATES = 4
BOOT = 30


def _with_optimum(sc: mc.Scenario, target: int) -> mc.Scenario:
    """The scenario with the cost per attempt that puts its true optimum at ``target``: half-way
    between the population revenue of attempts ``target`` and ``target + 1``."""
    share, rev, _ = mc._curve_parts(sc, target + 1)
    rbar = rev / share
    out = replace(sc, cost=float((rbar[target - 1] + rbar[target]) / 2))
    assert int(mc.true_profit_curve(out)["profit_per_lead"].idxmax()) + 1 == target
    return out


BASE = mc.Scenario(h1=(0.05, 0.035), decay=0.85, win_prob=0.35, mean_amount=(8000.0, 6000.0), share_a=0.5,
                   cost=0.0, cap_max=(26, 24))
PEAKED = _with_optimum(replace(BASE, h1=(0.025, 0.018), peak=4, rise=1.5), 13)
VALUE_FALLS = _with_optimum(replace(BASE, h1=(0.12, 0.08), decay=0.95, value_trend=0.77), 9)
FRAIL = ((0.7, 0.6), (0.3, 1.0 / 0.3 - 0.7 * 0.6 / 0.3))
ENFORCED = _with_optimum(replace(BASE, policy="enforced", policy_cap=6), 11)
KEPT_IF_REACHED = _with_optimum(replace(BASE, h1=(0.12, 0.09), reach_prob=0.17, before_mult=0.45, reached_mult=2.0,
                                        policy="reached", policy_cap=10, cap_max=(24, 22)), 8)
ENGAGED = _with_optimum(replace(BASE, frailty=FRAIL, policy="enforced", policy_cap=6, engaged_longer=True,
                                cap_max=(16, 16)), 10)


def _runs(sc: mc.Scenario, n_leads: int, seed: int):
    truth = mc.true_profit_curve(sc)
    pi = truth["profit_per_lead"].to_numpy()
    best_n, best = int(pi.argmax()) + 1, pi.max()
    out = []
    for r in range(REPLICATES):
        prof = mc.simulate_profiles(np.random.default_rng([seed, r]), n_leads, sc)
        rec = recommend_cap(prof, sc.cost, ["source"], n_boot=BOOT, seed=r)
        out.append((rec, pi[rec.recommended_attempts - 1] / best, best_n, prof))
    return out


@pytest.mark.parametrize("n_leads, min_share", [(20_000, 0.98), (2_800, 0.95)], ids=["20000", "2800"])
def test_conversion_peaking_at_attempts_3_to_4(n_leads, min_share):
    runs = _runs(PEAKED, n_leads, 1)
    for rec, share, best_n, prof in runs:
        assert share >= min_share, (rec.recommended_attempts, best_n, rec.curve.hazard.round(4).tolist())
        # the fitted shape follows the rise (no straight-line fallback), and the page's words agree
        h = rec.curve.hazard.to_numpy()
        assert h[2] > h[0] and int(h.argmax()) + 1 in (3, 4, 5)
        assert hazard_shape(h).startswith("rises to its peak at attempt")
        assert rec.to_summary()["hazard_shape"] == hazard_shape(h)
        assert rec.value is not None and rec.cannot_judge_above is None
    assert sum(rec.ci_low <= best_n <= rec.ci_high for rec, *_ in runs) >= REPLICATES - 1


def test_deal_value_falling_with_the_attempt():
    runs = _runs(VALUE_FALLS, 20_000, 2)
    for rec, share, best_n, prof in runs:
        assert share >= 0.98, (rec.recommended_attempts, best_n)
        rba = rec.revenue_by_attempt()
        assert rba["varies"] and rba["p_value"] < 0.05
        assert 0.7 < rba["ratio_per_attempt"] < 0.85          # truth: 0.77
    assert sum(rec.ci_low <= best_n <= rec.ci_high for rec, *_ in runs) >= REPLICATES - 1


def test_deal_value_that_does_not_vary_is_not_called_varying():
    # control: the same history with a constant deal value; the test must not see a trend
    sc = _with_optimum(replace(VALUE_FALLS, value_trend=1.0), 14)
    flagged = [recommend_cap(mc.simulate_profiles(np.random.default_rng([3, r]), 20_000, sc), sc.cost, ["source"],
                             n_boot=0).revenue_by_attempt()["varies"] for r in range(REPLICATES)]
    assert sum(flagged) <= 1


@pytest.mark.parametrize("sc", [ENFORCED, ENGAGED], ids=["enforced_at_6", "engaged_worked_to_16"])
def test_enforced_cap_is_never_confirmed(sc):
    for rec, share, best_n, prof in _runs(sc, 20_000, 4):
        assert best_n > 6
        assert rec.enforced_cap == 6 and rec.cannot_judge_above == 6
        assert rec.recommended_attempts <= 6 and rec.ci_high <= 6   # nothing above 6 is claimed
        assert "cannot judge caps above 6" in rec.note
        s = rec.to_summary()
        assert cap_for_review(s) is None                            # the SLA review must not see "no drift"
        words = cap_sentences(s)
        assert "cannot judge caps above 6" in words["verdict"] and "up to 9 attempts" in words["experiment"]
        exp = s["experiment"]
        assert exp["test_cap"] == 9 and exp["share"] == 0.5
        assert exp["expected_gain_per_lead"] > 0 and exp["leads_needed"] > 100
    # control: the same history read without the enforced-cap check fits the hazard above 6 on
    # the engaged leads alone and overshoots the best cap, as in the table
    if sc is ENGAGED:
        naive = _analyse(_prepare(prof, ["source"]), sc.cost, 30)
        assert naive.k_support > 6
        assert int(naive.curve["profit_per_lead"].to_numpy().argmax()) + 1 > best_n + 1


def test_leads_kept_because_a_call_reached_them():
    """Reps call a lead up to 2-10 times, and up to 24 once a call has reached it; conversion is
    about four times as likely once reached. The two-state model reads the call outcomes; the same
    histories without them make later attempts look better than they are."""
    runs = _runs(KEPT_IF_REACHED, 20_000, 5)
    for rec, share, best_n, prof in runs:
        assert share >= 0.98, (rec.recommended_attempts, best_n)
        assert rec.hazard_model.endswith("before and after a call first reached the lead")
        r = rec.to_summary()["reached"]
        assert r["history_share"] - r["all_leads_share"] > 0.1 and r["odds_ratio"] > 2
        assert "Reps kept calling the leads that answered" in cap_sentences(rec.to_summary())["reached"]
        keys = [c for c in prof.columns if c not in ("connected_at", "weight")]
        plain = recommend_cap(prof.groupby(keys, as_index=False)["weight"].sum(), KEPT_IF_REACHED.cost, ["source"],
                              n_boot=0)
        assert plain.recommended_attempts > best_n and plain.reached is None     # the control overshoots
    assert sum(rec.ci_low <= best_n <= rec.ci_high for rec, *_ in runs) >= REPLICATES - 1
