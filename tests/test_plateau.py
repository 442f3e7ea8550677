"""Known-answer tests of the attempt-cap hazard model and of the seeds' cohort method."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from sla_analysis import settings
from sla_analysis.analyses import plateau as pl
from sla_analysis.analyses.plateau import (
    cap_for_review,
    cap_sentences,
    cohort_method,
    cohort_table,
    enforced_cap,
    experiment_plan,
    fit_hazard,
    hazard_shape,
    person_period,
    profit_curve,
    recommend_cap,
    tier_table,
)
from sla_analysis.analyses.stats import logit_irls
from sla_analysis.tools import method_check as mc


def _profiles(rows, covariate=None):
    cols = ["attempts", "converted", "revenue", "censored", "weight"]
    if covariate:
        cols = [covariate, *cols]
    return pd.DataFrame(rows, columns=cols)


# ------------------------------------------------------------------ person-period table

HAND_ROWS = [  # source, attempts, converted, revenue, censored, weight
    ("x", 1, True, 100.0, False, 1),   # converts at attempt 1
    ("x", 1, False, 0.0, False, 2),    # abandoned after 1
    ("x", 2, True, 0.0, False, 1),     # converts at 2, deal lost
    ("y", 3, False, 0.0, True, 3),     # still being worked after 3 (censored)
    ("y", 3, True, 50.0, False, 2),    # two leads convert at 3, 50 each
    ("y", 0, False, 0.0, False, 5),    # never contacted: ignored
    ("y", 2, False, 0.0, False, 4),    # abandoned after 2
]


def test_person_period_by_hand():
    pp = person_period(_profiles(HAND_ROWS, "source"))
    # k=1: all 13 contacted leads; k=2: 1+3+2+4 = 10; k=3: 3+2 = 5
    expected = pd.DataFrame({"attempt": [1, 2, 3], "at_risk": [13, 10, 5],
                             "events": [1, 1, 2], "revenue": [100.0, 0.0, 100.0]})
    pd.testing.assert_frame_equal(pp, expected, check_dtype=False)


def test_person_period_by_hand_with_covariate():
    pp = person_period(_profiles(HAND_ROWS, "source"), covariates=["source"])
    expected = pd.DataFrame({
        "attempt": [1, 1, 2, 2, 3],
        "source": ["x", "y", "x", "y", "y"],
        "at_risk": [4, 9, 1, 9, 5],
        "events": [1, 0, 1, 0, 2],
        "revenue": [100.0, 0.0, 0.0, 0.0, 100.0],
    })
    pd.testing.assert_frame_equal(pp, expected, check_dtype=False)


def test_bad_profiles_are_refused():
    bad = _profiles([(0, True, 10.0, False, 1)])
    with pytest.raises(ValueError, match="converted lead must have attempts >= 1"):
        person_period(bad)
    with pytest.raises(ValueError, match="weight"):
        person_period(_profiles([(2, False, 0.0, False, 0)]))
    with pytest.raises(ValueError, match="column"):
        person_period(_profiles([(2, False, 0.0, False, 1)]), covariates=["source"])


# ------------------------------------------------------------------ hazard recovery

def _geometric(h1=0.2, decay=0.8, still_open=0.0, cap_max=20, **kw) -> mc.Scenario:
    return mc.Scenario(h1=(h1, h1), decay=decay, win_prob=0.4, mean_amount=(5000.0, 5000.0),
                       share_a=1.0, cost=50.0, cap_max=(cap_max, cap_max), still_open=still_open,
                       **kw)


def _hazard_hat(profiles, k):
    """Estimated h_k and the standard error of its logit (from the GLM's covariance)."""
    model = fit_hazard(person_period(profiles))
    X = model.design(k)
    se = np.sqrt(np.einsum("ij,jk,ik->i", X, np.asarray(model.result.cov_params()), X))
    return model.predict(k), se


def _logit(p):
    return np.log(p / (1 - p))


def test_hazard_recovers_known_hazards():
    sc = _geometric()
    prof = mc.simulate_profiles(np.random.default_rng(1), 200_000, sc)
    k = np.arange(1, 13)
    truth = sc.hazards(12)[0]
    got, se = _hazard_hat(prof, k)
    assert np.all(np.abs(got[:6] / truth[:6] - 1) < 0.03), np.c_[k, truth, got]
    assert np.all(np.abs(_logit(got) - _logit(truth)) < 3 * se), np.c_[k, truth, got, se]
    assert np.all(se < 0.15)            # and those standard errors are small


def test_censored_leads_do_not_bias_the_hazard():
    k = np.arange(1, 11)
    truth = _geometric().hazards(10)[0]
    clean = mc.simulate_profiles(np.random.default_rng(2), 150_000, _geometric(still_open=0.0))
    heavy = mc.simulate_profiles(np.random.default_rng(3), 150_000, _geometric(still_open=0.6))
    assert heavy.loc[heavy.censored, "weight"].sum() > 30_000     # heavily censored indeed
    (h_clean, se_clean), (h_heavy, se_heavy) = _hazard_hat(clean, k), _hazard_hat(heavy, k)
    assert np.all(np.abs(_logit(h_clean) - _logit(truth)) < 3 * se_clean)
    assert np.all(np.abs(_logit(h_heavy) - _logit(truth)) < 3 * se_heavy)
    assert np.all(np.abs(h_heavy[:6] / h_clean[:6] - 1) < 0.05)
    # Control (shows this test can fail): dropping the still-open leads, as the cohort method
    # does, removes leads that have not converted yet and inflates the hazard.
    dropped, se_dropped = _hazard_hat(heavy[~heavy.censored], k)
    assert np.all(dropped / truth > 1.15)
    assert np.all(np.abs(_logit(dropped) - _logit(truth)) > 3 * se_dropped)


def test_hazard_with_covariate_recovers_group_hazards():
    sc = mc.Scenario(h1=(0.25, 0.10), decay=0.8, win_prob=0.4, mean_amount=(5000.0, 5000.0),
                     share_a=0.5, cost=50.0, cap_max=(18, 12))
    prof = mc.simulate_profiles(np.random.default_rng(4), 200_000, sc)
    model = fit_hazard(person_period(prof, ["source"]), ["source"])
    assert model.levels == {"source": ["A", "B"]}
    k = np.arange(1, 9)
    truth = sc.hazards(8)
    cov = np.asarray(model.result.cov_params())
    for g, name in enumerate(mc.GROUPS):
        X = model.design(k, pd.DataFrame({"source": [name]}))
        se = np.sqrt(np.einsum("ij,jk,ik->i", X, cov, X))
        got = model.predict(k, pd.DataFrame({"source": [name]}))
        # additive on the logit scale is a slight approximation of h1_g x decay^(k-1)
        assert np.all(np.abs(_logit(got) - _logit(truth[g])) < 3 * se + 0.03), (name, truth[g], got)
        assert np.all(np.abs(got[:4] / truth[g][:4] - 1) < 0.06)
    with pytest.raises(ValueError, match="unseen"):
        model.predict([1], pd.DataFrame({"source": ["C"]}))


# ------------------------------------------------------------------ Pi(N) by hand

def _hand_curve_profiles():
    # 1000 contacted leads. Attempt 1: 200 convert (h1 = 0.2), 100 abandoned.
    # Attempt 2: 700 at risk, 70 convert (h2 = 0.1), 130 abandoned.
    # Attempt 3: 500 at risk, 25 convert (h3 = 0.05), 400 abandoned, 75 still being worked.
    # Mean revenue per conversion = (100*600 + 100*400 + 70*500 + 25*500) / 295 = 500.
    return _profiles([
        (1, True, 600.0, False, 100), (1, True, 400.0, False, 100), (1, False, 0.0, False, 100),
        (2, True, 500.0, False, 70), (2, False, 0.0, False, 130),
        (3, True, 500.0, False, 25), (3, False, 0.0, False, 400), (3, False, 0.0, True, 75),
    ])


def test_profit_curve_by_hand():
    # S = [1, .8, .72]; r = h x 500 = [100, 50, 25]; c = 30:
    # marginal = [70, .8 x 20, .72 x (-5)] = [70, 16, -3.6]; Pi = [70, 86, 82.4]
    curve = profit_curve(_hand_curve_profiles(), cost_per_attempt=30.0, shape="free")
    assert curve["attempts"].tolist() == [1, 2, 3]
    np.testing.assert_allclose(curve["hazard"], [0.2, 0.1, 0.05], rtol=1e-6)
    np.testing.assert_allclose(curve["share_open"], [1.0, 0.8, 0.72], rtol=1e-6)
    np.testing.assert_allclose(curve["revenue_per_attempt"], [100.0, 50.0, 25.0], rtol=1e-6)
    np.testing.assert_allclose(curve["marginal_profit"], [70.0, 16.0, -3.6], rtol=1e-5)
    np.testing.assert_allclose(curve["profit_per_lead"], [70.0, 86.0, 82.4], rtol=1e-6)
    assert curve["at_risk"].tolist() == [1000, 700, 500]

    rec = recommend_cap(_hand_curve_profiles(), 30.0, n_boot=0, shape="free")
    assert rec.recommended_attempts == 2
    assert rec.expected_profit_per_lead == pytest.approx(86.0, rel=1e-6)
    assert rec.plateau_attempts == 2                  # 82.4 < 0.98 x 86 but 86 itself is the max
    assert not rec.at_support_edge and rec.support_max_attempts == 3
    # 20% plateau: 70 >= 0.8 x 86 = 68.8, so one attempt already earns 80% of the maximum
    assert recommend_cap(_hand_curve_profiles(), 30.0, n_boot=0, shape="free",
                         plateau_share=0.2).plateau_attempts == 1
    # cheaper attempts: marginal at 3 = .72 x (25 - 20) > 0, the maximum is at the support edge
    cheap = recommend_cap(_hand_curve_profiles(), 20.0, n_boot=0, shape="free")
    assert cheap.recommended_attempts == 3 and cheap.at_support_edge
    assert cheap.expected_profit_per_lead == pytest.approx(80 + 24 + 3.6, rel=1e-6)


def test_profit_curve_by_hand_with_groups():
    # Three sources with the SAME hazards [0.2, 0.1, 0.05] (so the additive model fits exactly)
    # but different deal values: x = 500 (1000 leads), y = 1000 (2000 leads, doubled counts),
    # z = 10,000 per conversion but only 12 conversions (< 30): z gets the pooled mean.
    x = _hand_curve_profiles().assign(source="x")
    y = _hand_curve_profiles().assign(source="y", weight=lambda d: 2 * d.weight,
                                      revenue=lambda d: np.where(d.converted, 1000.0, 0.0))
    z = _profiles([(1, True, 10_000.0, False, 8), (1, False, 0.0, False, 2),
                   (2, True, 10_000.0, False, 3), (2, False, 0.0, False, 7),
                   (3, True, 10_000.0, False, 1), (3, False, 0.0, False, 19)]).assign(source="z")
    prof = pd.concat([x, y, z], ignore_index=True)
    pooled = (147_500 + 590 * 1000 + 12 * 10_000) / (295 + 590 + 12)
    w = np.array([1000, 2000, 40]) / 3040
    v = w @ np.array([500.0, 1000.0, pooled])
    h, S = np.array([0.2, 0.1, 0.05]), np.array([1.0, 0.8, 0.72])
    expected = np.cumsum(S * (h * v - 30.0))
    curve = profit_curve(prof, 30.0, covariates=["source"], shape="free")
    np.testing.assert_allclose(curve["hazard"], h, rtol=1e-6)
    np.testing.assert_allclose(curve["revenue_per_attempt"], h * v, rtol=1e-6)
    np.testing.assert_allclose(curve["profit_per_lead"], expected, rtol=1e-6)
    assert curve["at_risk"].tolist() == [3040, 2130, 1520]


# ------------------------------------------------------------------ support

def _short_history(rng_seed=5):
    # nobody was ever given more than 3 attempts
    sc = mc.Scenario(h1=(0.3, 0.3), decay=0.85, win_prob=0.5, mean_amount=(2000.0, 2000.0),
                     share_a=1.0, cost=0.0, cap_max=(3, 3))
    return sc, mc.simulate_profiles(np.random.default_rng(rng_seed), 20_000, sc)


def test_history_of_three_attempts_caps_the_recommendation():
    sc, prof = _short_history()
    assert prof["attempts"].max() == 3
    cheap = 20.0    # truly worth calling ~20 times: r_k = 1000 x .3 x .85^(k-1) > 20 for k <= 25
    assert mc.true_band(mc.true_profit_curve(sc, cheap))[0] > 3
    rec = recommend_cap(prof, cheap, n_boot=20, seed=1)
    assert rec.support_max_attempts == 3
    assert rec.recommended_attempts == 3 and rec.at_support_edge
    assert rec.ci_high <= 3 and rec.curve["attempts"].max() == 3
    assert "cannot judge caps above 3" in rec.note
    assert rec.cannot_judge_above == 3 and rec.enforced_cap is None
    exp = rec.experiment
    assert exp["test_cap"] == 5 and exp["share"] == 0.5
    assert exp["expected_gain_per_lead"] > 0 and exp["leads_needed"] > 0
    assert exp["weeks_needed"] is None                  # no weekly lead rate given

    dear = 280.0    # r_1 = 300 > 280 > r_2 = 255: one attempt is the true optimum
    assert int(mc.true_profit_curve(sc, dear)["profit_per_lead"].idxmax()) + 1 == 1
    rec = recommend_cap(prof, dear, n_boot=20, seed=1)
    assert rec.recommended_attempts == 1 and not rec.at_support_edge
    assert rec.cannot_judge_above is None and rec.experiment is None


def test_support_needs_min_at_risk_leads():
    _, prof = _short_history()
    extra = _profiles([(5, False, 0.0, False, 10), (4, True, 1000.0, False, 1)])
    prof = pd.concat([prof, extra.assign(source="A")], ignore_index=True)
    # 11 leads reached attempt 4: below min_at_risk = 30, so still only 3 attempts are supported
    assert recommend_cap(prof, 20.0, n_boot=0).support_max_attempts == 3
    # 11 reached attempt 4 and 10 reached attempt 5
    assert recommend_cap(prof, 20.0, n_boot=0, min_at_risk=11).support_max_attempts == 4
    assert recommend_cap(prof, 20.0, n_boot=0, min_at_risk=10).support_max_attempts == 5


# ------------------------------------------------------------------ bootstrap

def test_bootstrap_is_deterministic_and_brackets_the_estimate():
    sc = mc.Scenario(h1=(0.2, 0.1), decay=0.8, win_prob=0.4, mean_amount=(4000.0, 5000.0),
                     share_a=0.5, cost=60.0, cap_max=(20, 16))
    prof = mc.simulate_profiles(np.random.default_rng(6), 8_000, sc)
    a = recommend_cap(prof, sc.cost, covariates=["source"], n_boot=40, seed=7)
    b = recommend_cap(prof, sc.cost, covariates=["source"], n_boot=40, seed=7)
    np.testing.assert_array_equal(a.boot_recommendations, b.boot_recommendations)
    assert a.to_summary() == b.to_summary()
    assert len(a.boot_recommendations) == 40
    assert a.ci_low <= a.recommended_attempts <= a.ci_high
    assert a.ci_high > a.ci_low          # 8,000 leads do leave some uncertainty
    s = a.to_summary()
    assert set(s) == {"recommended_attempts", "ci_low", "ci_high", "expected_profit_per_lead",
                      "plateau_attempts", "support_max_attempts", "at_support_edge",
                      "cost_per_attempt", "gross_margin", "profit_definition", "hazard_model",
                      "revenue_by_attempt", "enforced_cap", "cannot_judge_above", "experiment", "by_tier",
                      "stopping_sensitivity", "reached", "hazard_shape", "profit_per_lead_by_cap"}
    assert len(s["profit_per_lead_by_cap"]) == s["support_max_attempts"]
    assert max(s["profit_per_lead_by_cap"]) == s["profit_per_lead_by_cap"][s["recommended_attempts"] - 1]
    assert s["reached"] is None                          # no call outcomes: one state
    assert json.loads(json.dumps(s)) == s                # plain JSON types only
    assert s["enforced_cap"] is None and s["cannot_judge_above"] is None and s["experiment"] is None



def test_bootstrap_gives_the_same_interval_in_one_process_or_several(monkeypatch):
    """The resamples are drawn in the calling process, in order: spreading the refits over worker
    processes (forked) changes nothing, replicate by replicate."""
    sc = mc.Scenario(h1=(0.2, 0.1), decay=0.8, win_prob=0.4, mean_amount=(4000.0, 5000.0),
                     share_a=0.5, cost=60.0, cap_max=(20, 16))
    prof = mc.simulate_profiles(np.random.default_rng(3), 4_000, sc)
    monkeypatch.setenv("SLA_ANALYSIS_CAP_WORKERS", "1")  # read from the environment without a run's settings
    assert pl.bootstrap_workers() == 1
    one = recommend_cap(prof, sc.cost, covariates=["source"], n_boot=25, seed=5)
    with settings.using(settings.Settings(cap_workers=2)):
        assert pl.bootstrap_workers() == 2
        two = recommend_cap(prof, sc.cost, covariates=["source"], n_boot=25, seed=5)
    assert len(one.boot_recommendations) == 25 and np.isfinite(one.boot_recommendations).sum() > 20
    np.testing.assert_array_equal(one.boot_recommendations, two.boot_recommendations)
    assert one.to_summary() == two.to_summary()

# ------------------------------------------------------------------ the seeds' method

def test_cohort_table_by_hand():
    t = cohort_table(_profiles(HAND_ROWS, "source"), cost_per_attempt=10.0)
    # settled, contacted leads only: the 3 censored leads and the 5 never contacted are out
    assert t["attempts"].tolist() == [1, 2, 3]
    assert t["leads"].tolist() == [3, 5, 2]
    assert t["conversions"].tolist() == [1, 1, 2]
    assert t["customers"].tolist() == [1, 0, 2]        # the deal at attempt 2 was lost
    np.testing.assert_allclose(t["conversion_rate"], [1 / 3, 0.0, 1.0])   # customers / leads
    np.testing.assert_allclose(t["revenue_per_lead"], [100 / 3, 0.0, 50.0])
    np.testing.assert_allclose(t["profit_per_lead"], [100 / 3 - 10, -20.0, 50.0 - 30])
    assert t.loc[2, "conversion_rate_low"] < 1.0 == t.loc[2, "conversion_rate_high"]


def test_seeds_method_is_biased_where_the_hazard_model_is_right():
    sc = mc.Scenario(h1=(0.18, 0.09), decay=0.85, win_prob=0.35, mean_amount=(6000.0, 6000.0),
                     share_a=0.5, cost=70.0, cap_max=(24, 20))
    prof = mc.simulate_profiles(np.random.default_rng(8), 20_000, sc)
    truth = mc.true_profit_curve(sc)
    lo, hi, best = mc.true_band(truth)
    pi = truth["profit_per_lead"].to_numpy()
    assert 5 <= lo                      # truly worth several attempts

    sound = recommend_cap(prof, sc.cost, covariates=["source"], n_boot=0)
    assert lo <= sound.recommended_attempts <= hi
    seeds = cohort_method(prof, sc.cost)
    n_seeds = seeds["cohort_method_attempts"]
    assert not lo <= n_seeds <= hi
    assert pi[n_seeds - 1] < 0.8 * best       # it gives away more than a fifth of the profit
    # Why: the first cohort is full of leads that stopped BECAUSE they converted, so its
    # "conversion rate" is far above the true first-attempt hazard, and the cohort curve falls.
    table = seeds["table"]
    assert table.loc[0, "conversions"] / table.loc[0, "leads"] > 2 * truth.loc[0, "hazard"]
    assert table["profit_per_lead"].iloc[0] > table["profit_per_lead"].iloc[8]


# ------------------------------------------------------------------ issue #14: margin, enforced caps, experiment

def test_gross_margin_scales_the_revenue_side_only():
    # hand curve at half margin: r = [50, 25, 12.5], c = 30 -> marginal [20, .8 x -5, .72 x -17.5]
    curve = profit_curve(_hand_curve_profiles(), 30.0, shape="free", gross_margin=0.5)
    np.testing.assert_allclose(curve["revenue_per_attempt"], [50.0, 25.0, 12.5], rtol=1e-6)
    np.testing.assert_allclose(curve["profit_per_lead"], [20.0, 16.0, 3.4], rtol=1e-5)
    rec = recommend_cap(_hand_curve_profiles(), 30.0, n_boot=0, shape="free", gross_margin=0.5)
    assert rec.recommended_attempts == 1 and rec.to_summary()["gross_margin"] == 0.5
    assert "gross margin (0.5)" in rec.to_summary()["profit_definition"]
    with pytest.raises(ValueError, match="gross_margin"):
        recommend_cap(_hand_curve_profiles(), 30.0, n_boot=0, gross_margin=0.0)
    from sla_analysis.config import ConfigError, config_from_dict
    assert config_from_dict({}).gross_margin == 1.0
    assert config_from_dict({"gross_margin": 0.35}).gross_margin == 0.35
    with pytest.raises(ConfigError):
        config_from_dict({"gross_margin": 1.5})


def test_enforced_cap_by_hand():
    lost = lambda n, w: (n, False, 0.0, False, w)  # noqa: E731
    prof = _profiles([lost(6, 100), lost(3, 10), lost(8, 5), (2, True, 500.0, False, 20), (4, False, 0.0, True, 50)])
    assert enforced_cap(prof) == 6                      # 100 of 115 settled unconverted stopped at 6
    # many leads worked on past 6 (40 of 145 reaching it): a habit, not an enforced cap
    assert enforced_cap(pd.concat([prof, _profiles([lost(9, 40)])])) is None
    assert enforced_cap(_profiles([lost(1, 100), lost(3, 10)])) is None    # stopping after 1 is no cap
    assert enforced_cap(_profiles([lost(6, 50), lost(2, 60)])) is None      # no majority


def test_experiment_plan_by_hand():
    from scipy.stats import norm
    curve = pd.DataFrame({"attempts": [1, 2, 3, 4], "hazard": [0.1, 0.06, 0.03, 0.02],
                          "share_open": [1.0, 0.9, 0.85, 0.8], "revenue_per_attempt": [100.0, 60.0, 30.0, 20.0]})
    plan = experiment_plan(curve, cap=4, cost=5.0, profit_sd=500.0, leads_per_week=1000.0)
    # k = max(2, 4 // 2) = 2 more attempts; S_5 = .8 x .98; gain = S_5 x (1 + .98) x (.02 x 1000 - 5)
    gain = 0.8 * 0.98 * 1.98 * 15.0
    assert plan["test_cap"] == 6 and plan["expected_gain_per_lead"] == pytest.approx(gain)
    per_arm = 2 * (norm.ppf(0.975) + norm.ppf(0.8)) ** 2 / (gain / 500.0) ** 2     # (z + z)^2 (2 sd^2) / gain^2
    assert plan["leads_needed"] == pytest.approx(2 * per_arm, rel=1e-3)
    assert plan["weeks_needed"] == int(np.ceil(plan["leads_needed"] / 1000))
    # the test arm's price against today's cap: its extra attempts' cost, per lead and in all
    assert plan["from_cap"] == 4 and plan["extra_cost_per_test_lead"] == pytest.approx(0.8 * 0.98 * 1.98 * 5.0)
    assert plan["extra_cost_of_test_arm"] == pytest.approx(np.ceil(per_arm) * 0.8 * 0.98 * 1.98 * 5.0, rel=1e-3)
    # a smaller share on the test cap needs more leads in all
    assert experiment_plan(curve, 4, 5.0, 500.0, 1000.0, share=0.2)["leads_needed"] > plan["leads_needed"]
    # if conversion held at attempt 4 would not pay for the extra attempts, no test is sized
    dear = experiment_plan(curve, 4, 25.0, 500.0, 1000.0)
    assert dear["leads_needed"] is None and "rises again" in dear["reason"]
    assert plan["feasible"] is True and "reason" not in plan
    # the same test on a thin flow of leads would run for years: sized, but not proposed
    thin = experiment_plan(curve, 4, 5.0, 500.0, leads_per_week=plan["leads_needed"] / 60)
    assert thin["weeks_needed"] == 60 and thin["feasible"] is False
    assert thin["reason"].endswith("would take more than a year to tell that gain from chance")
    assert experiment_plan(curve, 4, 5.0, 500.0, None)["feasible"] is None      # no rate: unknown


def test_weeks_in_words():
    from sla_analysis.formats import weeks_in_words
    assert weeks_in_words(21) == "about 21 weeks" and weeks_in_words(52) == "about 52 weeks"
    assert weeks_in_words(60) == "more than a year" and weeks_in_words(160) == "about 3 years"
    assert weeks_in_words(63958934) == "more than ten years"
    assert weeks_in_words(None) == ""


def test_cap_for_review_refuses_what_the_history_cannot_judge():
    ok = {"recommended_attempts": 9, "ci_low": 7, "ci_high": 10, "cannot_judge_above": None}
    assert cap_for_review(ok) == (9.0, 7.0, 10.0)
    assert cap_for_review({**ok, "cannot_judge_above": 9}) is None
    assert cap_for_review({"recommended_attempts": None, "reason": "x"}) is None


def test_hazard_shape_words_follow_the_curve():
    assert hazard_shape([0.05, 0.03, 0.01]) == "falls from attempt 1 onward"
    assert hazard_shape([0.02, 0.03, 0.04, 0.02]) == "rises to its peak at attempt 3, then falls"
    # a fitted curve's 1e-6 wiggle is not a rise
    assert hazard_shape([0.05, 0.03, 0.010001, 0.010002, 0.005]) == "falls from attempt 1 onward"


def test_by_tier_recommends_a_cap_per_tier():
    sc = mc.Scenario(h1=(0.2, 0.1), decay=0.8, win_prob=0.4, mean_amount=(4000.0, 5000.0),
                     share_a=0.5, cost=60.0, cap_max=(20, 16))
    prof = mc.simulate_profiles(np.random.default_rng(9), 8_000, sc).rename(columns={"source": "tier"})
    rec = recommend_cap(prof, sc.cost, ["tier"], n_boot=10, seed=1, tier_column="tier")
    assert set(rec.by_tier) == {"A", "B"}
    for tier, t in rec.by_tier.items():
        alone = recommend_cap(prof[prof.tier == tier], sc.cost, [], n_boot=10, seed=1)
        assert (t["recommended_attempts"], t["ci_low"], t["ci_high"]) == (alone.recommended_attempts, alone.ci_low, alone.ci_high)
        assert t["contacted_leads"] == int(prof.loc[(prof.tier == tier) & (prof.attempts >= 1), "weight"].sum())
    # tier A converts twice as often: its own best cap is higher than tier B's
    assert rec.by_tier["A"]["recommended_attempts"] > rec.by_tier["B"]["recommended_attempts"]
    assert recommend_cap(prof, sc.cost, ["tier"], n_boot=0).by_tier is None        # not asked for


def test_tier_table_and_sentences_from_the_summary():
    s = {"recommended_attempts": 9, "ci_low": 7, "ci_high": 11, "expected_profit_per_lead": 3274.7,
         "contacted_leads": 11030, "gross_margin": 1.0, "cannot_judge_above": None, "enforced_cap": None,
         "revenue_by_attempt": {"varies": True, "p_value": 0.001, "won_deals": 1200, "ratio_per_attempt": 0.77},
         "experiment": None, "stopping_sensitivity": {"from_attempt": 6, "recommended_attempts": 8},
         "by_tier": {"high": {"recommended_attempts": 12, "ci_low": 9, "ci_high": 14, "cannot_judge_above": None,
                              "expected_profit_per_lead": 5000.0, "contacted_leads": 2600},
                     "low": {"recommended_attempts": None, "reason": "no conversions in the history"}}}
    t = tier_table(s).set_index("tier")
    assert list(t.index) == ["high", "low", "all tiers"]
    assert t.loc["high", "recommended_attempts"] == 12 and t.loc["all tiers", "ci_high"] == 11
    assert pd.isna(t.loc["low", "recommended_attempts"]) and "no conversions" in t.loc["low", "note"]  # blank, not 0
    words = cap_sentences(s)
    assert words["verdict"].startswith("Cap follow-up at 9 attempts (interval 7–11): $3,275")
    assert "23% less per extra attempt" in words["value_by_attempt"]
    assert "read the answer as 8–9 attempts" in words["stopping"]
    assert "experiment" not in words
    cannot = {**s, "cannot_judge_above": 6, "enforced_cap": 6, "recommended_attempts": 6,
              "experiment": {"test_cap": 9, "share": 0.5, "leads_needed": 5200, "weeks_needed": 21,
                             "expected_gain_per_lead": 41.5}}
    words = cap_sentences(cannot, "EUR")
    assert "cannot judge caps above 6: reps stopped most leads there" in words["verdict"]
    assert "not a confirmation of 6" in words["verdict"]
    assert "50% of new leads" in words["experiment"] and "5,200 leads" in words["experiment"]
    assert "21 weeks" in words["experiment"] and "41.50 EUR" in words["experiment"]
    assert "extra calls" not in words["experiment"]  # not priced: not said
    priced = {**cannot, "experiment": {**cannot["experiment"], "from_cap": 6, "extra_cost_per_test_lead": 12.5,
                                       "extra_cost_of_test_arm": 32_500.0}}
    assert ("extra calls, beyond attempt 6, cost about 12.50 EUR per lead on the test (32,500 EUR in all)"
            in cap_sentences(priced, "EUR")["experiment"])
    too_long = {**cannot, "experiment": {**cannot["experiment"], "leads_needed": 1765925926, "weeks_needed": 63958934,
                                         "feasible": False, "reason": "at today's 28 contacted leads a week it "
                                         "would take more than ten years to tell that gain from chance"}}
    words = cap_sentences(too_long)
    assert words["experiment"].startswith("A fair test of 9 attempts is not worth running now")
    assert "more than ten years" in words["experiment"] and "63958934" not in words["experiment"]
    assert cap_sentences({"recommended_attempts": None, "reason": "nobody was contacted"})["verdict"] == (
        "Attempt cap: not available: nobody was contacted.")


# ------------------------------------------------------------------ two states: before and after a call reached the lead

def test_state_counts_by_hand():
    from sla_analysis.analyses.plateau import _prepare, _state_counts
    prof = pd.DataFrame({"attempts": [4, 3, 2, 5], "converted": [True, False, True, False],
                         "revenue": [100.0, 0.0, 50.0, 0.0], "censored": False, "weight": [1, 2, 1, 1],
                         "connected_at": [2, 0, 2, 5]})
    st = _state_counts(_prepare(prof), None, 5)
    # lead 1 (reached at 2, converted at 4): reached at attempts 3 and 4; lead 3 (reached at its
    # converting attempt 2) and lead 4 (reached at its last attempt 5) are never "reached before"
    np.testing.assert_array_equal(st["at_risk_reached"][0], [0, 0, 1, 1, 0])
    np.testing.assert_array_equal(st["events_reached"][0], [0, 0, 0, 1, 0])
    np.testing.assert_array_equal(st["revenue_reached"][0], [0, 0, 0, 100, 0])
    # first reached and still open after: lead 1 at 2, lead 4 at 5 (lead 3 converted at 2)
    np.testing.assert_array_equal(st["connects"][0], [0, 1, 0, 0, 1])


def test_reach_rates_pool_thin_cells():
    from sla_analysis.analyses.plateau import reach_rates
    o = np.array([[100.0, 50.0, 10.0, 25.0, 0.0], [100.0, 20.0, 10.0, 0.0, 0.0]])
    c = np.array([[20.0, 5.0, 1.0, 5.0, 0.0], [10.0, 4.0, 3.0, 0.0, 0.0]])
    g = reach_rates(o, c, min_risk=30)
    np.testing.assert_allclose(g[:, 0], [0.2, 0.1])                     # own rates
    np.testing.assert_allclose(g[:, 1], [0.1, 9 / 70])                   # group 2 too thin: both groups' rate
    np.testing.assert_allclose(g[:, 2], [0.2, 0.2])                      # 20 at risk in all: pooled with the tail (9 / 45)
    np.testing.assert_allclose(g[:, 3:], 0.2)                            # the tail too thin, then nobody: the last rate


def test_two_states_change_nothing_when_reaching_does_not_matter():
    # reaching a lead neither changes its conversion nor whether it is called again: the two-state
    # model must land where the plain one does
    sc = mc.Scenario(h1=(0.1, 0.07), decay=0.85, win_prob=0.4, mean_amount=(5000.0, 4000.0), share_a=0.5,
                     cost=60.0, cap_max=(20, 18), reach_prob=0.2)
    prof = mc.simulate_profiles(np.random.default_rng(11), 20_000, sc)
    two = recommend_cap(prof, sc.cost, ["source"], n_boot=0)
    keys = [c for c in prof.columns if c not in ("connected_at", "weight")]
    one = recommend_cap(prof.groupby(keys, as_index=False)["weight"].sum(), sc.cost, ["source"], n_boot=0)
    # the Wald test finds no difference once reached: the one-state model, the same answer
    assert two.reached is None and one.reached is None
    assert two.recommended_attempts == one.recommended_attempts
    np.testing.assert_allclose(two.curve.profit_per_lead, one.curve.profit_per_lead)
    assert "reached" not in cap_sentences(two.to_summary())
    # forced to two states, it lands within an attempt of the one-state answer
    from sla_analysis.analyses import plateau as pl
    forced = pl._analyse(pl._prepare(prof, ["source"]), sc.cost, 30, reached_test=False)
    forced_cap = int(np.argmax(forced.curve.profit_per_lead.to_numpy())) + 1
    assert forced.reached is not None and abs(forced_cap - one.recommended_attempts) <= 1
    np.testing.assert_allclose(forced.curve.profit_per_lead, one.curve.profit_per_lead,
                               atol=0.03 * one.curve.profit_per_lead.max())


@pytest.mark.parametrize(("before", "after", "at_most", "at_least"), [(1.0, 1.0, 1, 0), (0.5, 2.0, 20, 18)])
def test_two_states_are_chosen_when_reaching_matters_not_on_noise(before, after, at_most, at_least):
    """Reps keep calling the leads that answered. With call outcomes that say nothing about
    conversion, the two-state model (and its odds ratios) is chosen in at most 1 of 20 histories
    (it needs the Wald test, a better out-of-sample prediction and a different cap); when reached
    leads convert 4 times as often, in at least 18 of 20."""
    sc = mc.Scenario(h1=(0.1, 0.07), decay=0.85, win_prob=0.4, mean_amount=(5000.0, 4000.0), share_a=0.5,
                     cost=60.0, cap_max=(20, 18), reach_prob=0.2, policy="reached", policy_cap=6,
                     before_mult=before, reached_mult=after)
    chosen = sum(recommend_cap(mc.simulate_profiles(np.random.default_rng(500 + s), 20_000, sc), sc.cost,
                               ["source"], n_boot=0).reached is not None for s in range(20))
    assert at_least <= chosen <= at_most


def test_the_out_of_sample_check_prefers_the_model_that_predicts():
    from sla_analysis.analyses import plateau as pl
    base = dict(h1=(0.1, 0.07), decay=0.85, win_prob=0.4, mean_amount=(5000.0, 4000.0), share_a=0.5, cost=60.0,
                cap_max=(20, 18), reach_prob=0.2, policy="reached", policy_cap=6)
    real = mc.simulate_profiles(np.random.default_rng(1), 20_000, mc.Scenario(**base, before_mult=0.5, reached_mult=2.0))
    leads = pl._prepare(real, ["source"])
    assert pl.reached_predicts_better(leads, None, 15, pl.Shape("linear"))
    noise = mc.simulate_profiles(np.random.default_rng(2), 20_000, mc.Scenario(**base))
    assert not pl.reached_predicts_better(pl._prepare(noise, ["source"]), None, 15, pl.Shape("linear"))


def test_reached_sentence_only_when_reps_kept_the_reached_leads():
    s = {"recommended_attempts": 8, "ci_low": 7, "ci_high": 9, "expected_profit_per_lead": 900.0,
         "gross_margin": 1.0, "cannot_judge_above": None,
         "reached": {"at_attempt": 11, "history_share": 1.0, "all_leads_share": 0.79, "odds_ratio": 5.5},
         "stopping_sensitivity": {"from_attempt": 3, "recommended_attempts": 6}}
    words = cap_sentences(s)
    assert words["reached"].startswith("Reps kept calling the leads that answered: 100% of the leads still being "
                                       "called at attempt 11 had already been reached by a call, where 79% would")
    assert "in ways a call's outcome does not show" in words["stopping"]
    alike = {**s, "reached": {**s["reached"], "history_share": 0.82}}
    assert "reached" not in cap_sentences(alike)
    assert "call's outcome" not in cap_sentences({**s, "reached": None})["stopping"]


@pytest.mark.parametrize("shape", ["linear", "free"])
def test_light_irls_gives_statsmodels_estimates(shape):
    """The bootstrap's light fit: statsmodels' IRLS steps and stopping rule, so the same coefficients
    and log-likelihood, including a free shape with attempts that converted nobody (no finite MLE:
    both stop at the same place), a rank-deficient design and a warm start."""
    sc = mc.Scenario(h1=(0.2, 0.1), decay=0.8, win_prob=0.4, mean_amount=(4000.0, 5000.0),
                     share_a=0.5, cost=60.0, cap_max=(20, 16))
    pp = pl.person_period(mc.simulate_profiles(np.random.default_rng(3), 4_000, sc), ["source"])
    pp = pp[pp.at_risk > 0]
    k, ev, ar = pp.attempt.to_numpy(), pp.events.to_numpy(float), pp.at_risk.to_numpy(float)
    Xa, _ = (pl.Shape("linear") if shape == "linear" else pl.Shape("free", k_free=int(k.max()))).design(k)
    b = (pp.source.to_numpy() == pp.source.unique()[1]).astype(float)
    designs = [np.column_stack([Xa, b]), np.column_stack([Xa, b, 2 * b])]  # the second is rank-deficient
    if shape == "free":
        assert (pp.groupby("attempt").events.sum() == 0).any()  # a level with no conversion
    for X in designs:
        for start in (None, np.full(X.shape[1], 0.01)):
            ref, light = pl._glm(ev, ar, X, start), logit_irls(ev, ar, X, start)
            # the same fitted hazards; where an attempt converted nobody the coefficient runs off
            # towards -inf and both stop near -25 (a hazard below 1e-10): compared as hazards
            np.testing.assert_allclose(expit(X @ light.params), expit(X @ ref.params), rtol=1e-6, atol=1e-9)
            finite = np.abs(ref.params) < 15
            np.testing.assert_allclose(light.params[finite], ref.params[finite], atol=1e-6)
            assert light.llf == pytest.approx(ref.llf, abs=1e-8)
            assert light.converged == ref.converged


@pytest.mark.process
def test_a_bootstrap_worker_dies_with_the_kernel_that_forked_it(tmp_path):
    """A worker forked by a kernel that is then killed must not live on: it would hold the kernel's
    open files, the attempt cap's lock among them, and the next report would wait on it for ever."""
    import os
    import signal
    import subprocess
    import sys
    import time

    import psutil

    script = tmp_path / "parent.py"
    script.write_text(
        "import os, sys, time\n"
        "from sla_analysis.analyses import plateau as pl\n"
        "parent = os.getpid()\n"
        "lock = open(sys.argv[1], 'a')\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    pl._set_boot_context(parent)\n"
        "    open(sys.argv[1] + '.ready', 'w').close()\n"
        "    time.sleep(120)\n"
        "    os._exit(0)\n"
        "print(pid, flush=True)\n"
        "time.sleep(120)\n")
    proc = subprocess.Popen([sys.executable, str(script), str(tmp_path / "lock")], stdout=subprocess.PIPE, text=True)
    worker = int(proc.stdout.readline())
    try:
        deadline = time.monotonic() + 60  # hang guards, not timing assertions
        while not (tmp_path / "lock.ready").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert (tmp_path / "lock.ready").exists() and psutil.Process(worker).status() != psutil.STATUS_ZOMBIE
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and psutil.pid_exists(worker) and \
                psutil.Process(worker).status() != psutil.STATUS_ZOMBIE:
            time.sleep(0.1)
        gone = not psutil.pid_exists(worker) or psutil.Process(worker).status() == psutil.STATUS_ZOMBIE
        assert gone
    finally:
        if psutil.pid_exists(worker):
            os.kill(worker, signal.SIGKILL)


def test_the_value_trend_is_held_where_no_deals_were_won():
    """Deals won at later attempts are bigger, but none was won past attempt 8 while leads were
    still called to 14: the fitted value is read up to attempt 8 and held there, never carried on
    to a value no deal showed."""
    rng = np.random.default_rng(11)
    n = 8_000
    attempts = rng.integers(1, 15, n)
    converted = (attempts <= 8) & (rng.random(n) < 0.35)
    revenue = np.where(converted, 1_000.0 * 1.15 ** attempts * rng.gamma(20.0, 1 / 20.0, n), 0.0)
    profiles = pd.DataFrame({"attempts": attempts, "converted": converted, "censored": False,
                             "revenue": revenue, "weight": 1})
    value = pl._value_model(pl._prepare(profiles), K=14)
    assert value.varies and value.held_after == 8
    row = value.values[0]
    assert row[7] > row[0] * 2                          # the trend is read where deals were won
    np.testing.assert_allclose(row[8:], row[7])         # and held past the last attempt with deals
    assert row.max() <= revenue[converted].max()        # no value beyond what a won deal showed
    # with deals won at every attempt, nothing is held
    everywhere = profiles.assign(converted=rng.random(n) < 0.35)
    everywhere["revenue"] = np.where(everywhere.converted, 1_000.0 * 1.15 ** attempts, 0.0)
    assert pl._value_model(pl._prepare(everywhere), K=14).held_after is None
