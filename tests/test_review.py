"""Trend over previous periods and the SLA review's drift flags."""
from datetime import datetime

import numpy as np
import pandas as pd
import pytest

from sla_analysis.analyses import compliance as cp
from sla_analysis.analyses import review as rv
from sla_analysis.config import config_from_dict, load_config
from sla_analysis.periods import parse_period


@pytest.mark.parametrize("label,prev", [("2024Q1", "2023Q4"), ("2024Q3", "2024Q2"), ("2024-01", "2023-12"),
                                        ("2024-07", "2024-06"), ("2024", "2023")])
def test_previous_period(label, prev):
    assert parse_period(label).previous().label == prev


def test_drift_row_tests_each_kind_of_figure():
    # a proportion: exact binomial test; 30 of 1,000 against 1% is far beyond chance
    row = rv.drift_row("close_rate:x", 0.01, rv.Measured(0.03, 0.021, 0.043, successes=30, n=1000), 0.2)
    assert row["drift"] == pytest.approx(2.0) and row["beyond_tolerance"] and row["p_value"] < 1e-6
    # 50% drift on 15 of 1,000 against 1%: inside chance
    row = rv.drift_row("close_rate:x", 0.01, rv.Measured(0.015, 0.009, 0.025, successes=15, n=1000), 0.2)
    assert row["beyond_tolerance"] and row["p_value"] > 0.05
    # bootstrap replicates: the share on the far side of the assumption, two-sided
    boot = np.array([8] * 95 + [6] * 5)
    assert rv.drift_row("attempt_cap", 6, rv.Measured(9, 8, 10, boot=boot), 0.2)["p_value"] == pytest.approx(0.1)
    # a log-symmetric interval (MQL value): value 2,000, interval 1,000-4,000 -> se(log) = log(4)/3.92
    row = rv.drift_row("mql_value:x", 1000, (2000.0, 1000.0, 4000.0), 0.2)
    from scipy.stats import norm
    assert row["p_value"] == pytest.approx(2 * norm.sf(np.log(2) / (np.log(4) / (2 * norm.ppf(0.975)))))
    # no interval: not tested; no baseline: not compared
    assert not rv.drift_row("cost_per_call", 5.0, (5.5, np.nan, np.nan), 0.2)["tested"]
    row = rv.drift_row("mql_value:new", np.nan, (100.0, 50.0, 150.0), 0.2)
    assert not row["tested"] and not row["beyond_tolerance"]


def test_sla_review_corrects_for_the_number_of_figures():
    cfg = config_from_dict({"review_baseline": {f"close_rate:s{i}": 0.01 for i in range(10)}, "review_tolerance": 0.2})
    # 24 of 1,500 against 1% (p about 0.02 alone): flagged by a figure-by-figure rule, not among ten figures
    measured = {f"close_rate:s{i}": rv.Measured(0.01, 0.006, 0.016, successes=15, n=1500) for i in range(10)}
    measured["close_rate:s0"] = rv.Measured(0.016, 0.0107, 0.0237, successes=24, n=1500)
    t = rv.sla_review(cfg, measured).set_index("figure")
    assert t.loc["close_rate:s0", "p_value"] < 0.05 and not t.loc["close_rate:s0", "flagged"]
    assert t.loc["close_rate:s0", "p_adjusted"] == pytest.approx(1 - (1 - t.loc["close_rate:s0", "p_value"]) ** 10)
    # alone, the same figure is flagged
    alone = rv.sla_review(cfg, {"close_rate:s0": measured["close_rate:s0"]}).set_index("figure")
    assert alone.loc["close_rate:s0", "flagged"]


def test_sla_review_uses_config_cost_and_baseline():
    cfg = config_from_dict({"rep_hourly_cost": 60, "calls_per_hour": 10, "review_baseline": {"attempt_cap": 6},
                            "review_tolerance": 0.25})
    t = rv.sla_review(cfg, {"cost_per_call": (9.0, np.nan, np.nan), "attempt_cap": (7.0, 6.0, 8.0)}).set_index("figure")
    # +50% but no interval: never "beyond chance", listed as changed, not tested
    assert t.loc["cost_per_call", "assumed"] == 6.0 and not t.loc["cost_per_call", "flagged"]
    assert t.loc["cost_per_call", "changed_not_tested"]
    assert rv.review_table(t.reset_index()).set_index("figure").loc["cost per call", "flag"] == "changed, not tested"
    with_interval = rv.sla_review(cfg, {"cost_per_call": (9.0, 8.0, 10.0)}).set_index("figure")
    assert with_interval.loc["cost_per_call", "flagged"] and not with_interval.loc["cost_per_call", "changed_not_tested"]
    assert not t.loc["attempt_cap", "flagged"] and not t.loc["attempt_cap", "changed_not_tested"]  # +17%, inside tolerance


def test_review_without_baseline_says_nothing_was_compared():
    cfg = config_from_dict({})
    t = rv.sla_review(cfg, {"close_rate:webinar": rv.Measured(0.02, 0.01, 0.03, successes=20, n=1000)})
    s = rv.review_summary(t, False, "", cfg.review_tolerance)
    assert s["compared"] == 0 and s["verdict"].startswith("Not judged")
    assert "within" not in s["verdict"]
    assert s["figures"]["close_rate:webinar"]["assumed"] is None


def test_review_note_speaks_without_file_names_or_method_names():
    note = rv.review_method_note(0.3, 0.95)
    assert "30%" in note and "5% of periods" in note
    assert not any(w in note for w in ("sla.yml", ".yml", "Holm", "tolerance"))


# Seed 000's table: close rate and revenue per customer by source; the sample's SLA baseline.
_SOURCES = {"white paper": (0.010, 160_000.0), "webinar": (0.015, 100_000.0), "online demo": (0.020, 150_000.0),
            "tradeshow": (0.010, 125_000.0), "contact sales": (0.100, 110_000.0)}


def _simulated_review(rng, cfg, mqls: int, drifted: str | None = None, drift: float = 0.0):
    """One review on simulated settled-MQL counts per source (what :func:`lead_value.source_funnel`
    returns): customers ~ Binomial(MQLs, close rate), revenue per customer log-normal with sigma 1
    (skewed: the t-interval behind the MQL value assumes otherwise) and the seeds' mean."""
    from sla_analysis.analyses import lead_value as lv
    rows = []
    for source, (close, revenue) in _SOURCES.items():
        p = close * (1 + drift) if source == drifted else close
        k = int(rng.binomial(mqls, p))
        amounts = rng.lognormal(np.log(revenue) - 0.5, 1.0, size=k)
        rows.append({"source": source, "mqls": mqls, "opportunities": k, "customers": k,
                     "revenue": amounts.sum(), "revenue_sq": (amounts ** 2).sum()})
    values = lv.mql_value_by_group(pd.DataFrame(rows), confidence=cfg.confidence_level, min_n=cfg.min_group_size)
    return rv.sla_review(cfg, rv.value_figures(values))


@pytest.mark.slow  # 600 simulated reviews, ~10 s
def test_review_false_alarms_and_power_on_simulated_counts():
    """Truth equal to the baseline on all ten close-rate and value figures: at most 5% of reviews
    flag anything (the figure-by-figure rule flagged about a third). A 30% rise of contact sales'
    close rate is flagged in at least 80% of reviews. Simulated at the level of the settled-MQL
    counts the review reads (2,400 MQLs per source, twice the sample's), which is all the review's
    statistics use, so 420 reviews take about 20 s of one core."""
    cfg = load_config(None)
    rng = np.random.default_rng(15)
    null = [_simulated_review(rng, cfg, 2400) for _ in range(300)]
    assert len(null[0]) == 10
    false_alarm = np.mean([t.flagged.any() for t in null])
    assert false_alarm <= 0.05
    drifted = [_simulated_review(rng, cfg, 2400, "contact sales", 0.30) for _ in range(120)]
    power = np.mean([t.set_index("figure").loc["close_rate:contact sales", "flagged"] for t in drifted])
    assert power >= 0.80
    wrong = np.mean([t[~t.figure.str.endswith("contact sales")].flagged.any() for t in drifted])
    assert wrong <= 0.05


def test_review_due_reasons():
    t = pd.DataFrame({"figure": ["attempt_cap"], "flagged": [True]})
    due, why = rv.review_due(t, datetime(2024, 4, 1), datetime(2024, 1, 1), 6)
    assert due and why == "1 figure drifted beyond the tolerance and beyond chance (attempt cap)"  # figures named in words
    both = pd.DataFrame({"figure": ["attempt_cap", "close_rate:tradeshow"], "flagged": [True, False],
                         "beyond_tolerance": [True, True]})
    assert rv.review_due(both, datetime(2024, 4, 1), datetime(2024, 1, 1), 6)[1] == (
        "1 figure drifted beyond the tolerance and beyond chance (attempt cap); 1 more moved as far but within chance "
        "(tradeshow close rate)")
    due, why = rv.review_due(t.assign(flagged=False), datetime(2024, 4, 1), datetime(2023, 7, 1), 6)
    assert due and why == "the SLA's review fell due on 01 Jan 2024 (written 01 Jul 2023, reviewed every 6 months)"
    assert rv.review_due(t.assign(flagged=False), datetime(2024, 4, 1), datetime(2024, 1, 1), 6) == (False, "")


def test_one_review_due_rule_for_every_page():
    """Written 2024-01-01, reviewed every 6 months: due on 2024-07-01, so not in 2024Q2 (it ends on
    30 June) and due in 2024Q3, on page 05 and in the proposal alike (they counted months apart)."""
    from dataclasses import replace
    from datetime import date

    from sla_analysis.analyses import proposal as pr
    from sla_analysis.config import SLAConfig

    cfg = replace(SLAConfig(), sla_written="2024-01-01", review_every_months=6)
    none = pd.DataFrame({"figure": [], "flagged": []})
    for period_end, due in ((datetime(2024, 7, 1), False), (datetime(2024, 10, 1), True)):
        assert rv.review_due(none, period_end, datetime(2024, 1, 1), 6)[0] is due
        assert pr.review_dates(cfg, (period_end - pd.Timedelta(days=1)).date())["due_now"] is due
    assert rv.review_due_date(date(2024, 8, 31), 6) == date(2025, 2, 28) and rv.add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)


def test_trend_repeats_each_periods_own_figures(sample_crm):
    cfg = load_config(None)
    trend = rv.kpi_trend(sample_crm, cfg, parse_period("2024Q1"), 4, sample_crm.first_event_at(), sample_crm.last_event_at())
    assert list(trend.period) == ["2023Q1", "2023Q2", "2023Q3", "2023Q4", "2024Q1"]
    p = parse_period("2023Q3")
    stl = cp.speed_to_lead(sample_crm, cfg.tier_protocols, p.start_ts(), p.end_ts(), p.end_ts())
    row = trend.set_index("period").loc["2023Q3"]
    assert row.mqls == stl.mqls.sum()
    assert row.first_touch_within_window == pytest.approx(stl.set_index("tier").loc["high", "share_within"])
    # a period before the data is left out, not shown as zeros
    early = rv.kpi_trend(sample_crm, cfg, parse_period("2023Q2"), 4, sample_crm.first_event_at(), sample_crm.last_event_at())
    assert list(early.period) == ["2023Q1", "2023Q2"]


@pytest.mark.slow  # the period's attempt cap with its bootstrap, ~28 s
def test_review_on_the_sample_finds_the_drifted_cap(sample_crm, sample_truth):
    """The sample's SLA baseline writes a cap of 6; the data supports ~9 (truth: 9): flagged."""
    cfg = load_config(None)
    review = rv.sla_review(cfg, rv.measured_figures(sample_crm, cfg, parse_period("2024Q1"))).set_index("figure")
    assert review.loc["attempt_cap", "measured"] == sample_truth["plateau"]["optimal_attempts"]
    assert review.loc["attempt_cap", "flagged"]
    # the close rates and values are the baseline by construction: none flagged
    assert not review.filter(regex="^(close_rate|mql_value):", axis=0).flagged.any()
    assert review.loc["cost_per_call", "measured"] == pytest.approx(sample_truth["cost_per_call"], rel=0.05)
    assert not review.loc["cost_per_call", "flagged"]


@pytest.mark.slow  # a second full bootstrap (the fresh fit), ~30 s
def test_review_cap_is_the_attempt_cap_pages(sample_crm):
    """One computation per figure: the review's cap and interval are page 03's, read from the one
    computation of the report (not a second bootstrap), and equal to a fresh fit of the same history."""
    from sla_analysis.analyses import attempt_cap as ac
    cfg, period = load_config(None), parse_period("2024Q1")
    derived = sample_crm.cache_dir / "derived"
    shared = ac.period_cap(sample_crm, cfg, period.end_ts())
    kept = set(derived.glob("attempt-cap-*.pkl"))
    cap = rv.measured_figures(sample_crm, cfg, period)["attempt_cap"]
    assert set(derived.glob("attempt-cap-*.pkl")) == kept  # the review read it: nothing computed again
    fresh = ac.compute_period_cap(sample_crm, cfg, period.end_ts()).cap.get()
    assert (cap.value, cap.low, cap.high) == (fresh.recommended_attempts, fresh.ci_low, fresh.ci_high)
    assert shared.summary()["recommended_attempts"] == fresh.recommended_attempts

def test_the_kept_cap_is_not_read_after_its_code_or_libraries_change(sample_crm, monkeypatch):
    """The cap kept beside the validated tables is keyed by every analysis module (the cap reads
    cost.py's and stats.py's functions too), the engine's access and the numerical libraries'
    versions: a change to any of them computes it again instead of reading a stale one."""
    from pathlib import Path

    import statsmodels

    from sla_analysis.analyses import attempt_cap as ac
    cfg, as_of = load_config(None), parse_period("2024Q1").end_ts()
    key = ac._key(sample_crm, cfg, as_of, 200)
    assert ac._key(sample_crm, cfg, as_of, 200) == key
    read_bytes = Path.read_bytes
    for name in ("cost.py", "stats.py", "engine.py"):
        with monkeypatch.context() as m:
            m.setattr(Path, "read_bytes", lambda self, name=name: read_bytes(self) + (b"#" if self.name == name else b""))
            assert ac._key(sample_crm, cfg, as_of, 200) != key, name
    monkeypatch.setattr(statsmodels, "__version__", "0.0.1")
    assert ac._key(sample_crm, cfg, as_of, 200) != key
