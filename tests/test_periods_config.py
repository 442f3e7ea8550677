from datetime import date

import pytest

from sla_analysis.analyses import cost
from sla_analysis.analyses.lead_value import marketing_target
from sla_analysis.config import config_from_dict, load_config
from sla_analysis.errors import ConfigError, PeriodError
from sla_analysis.periods import parse_period


@pytest.mark.parametrize("text,start,end,months", [
    ("2024Q1", date(2024, 1, 1), date(2024, 4, 1), 3),
    ("2024Q4", date(2024, 10, 1), date(2025, 1, 1), 3),
    ("2024-02", date(2024, 2, 1), date(2024, 3, 1), 1),
    ("2024-12", date(2024, 12, 1), date(2025, 1, 1), 1),
    ("2024", date(2024, 1, 1), date(2025, 1, 1), 12),
])
def test_accepted_periods(text, start, end, months):
    p = parse_period(text)
    assert (p.start, p.end, p.n_months) == (start, end, months)


@pytest.mark.parametrize("text", ["24Q1", "2024Q5", "2024-13", "2024-1", "2024q1", "", "2024Q1; touch pwned",
                                  "../2024Q1", "2024Q1\n"])
def test_refused_periods_list_the_accepted_forms(text):
    with pytest.raises(PeriodError, match="Accepted forms: YYYY"):
        parse_period(text)


def test_default_config_has_the_seed_protocol():
    cfg = load_config()
    assert cost.assumed_cost_per_call(cfg) == pytest.approx(cfg.rep_hourly_cost / cfg.calls_per_hour)
    assert cost.cost_per_attempt(cfg, "email") == pytest.approx(cfg.rep_hourly_cost / cfg.attempts_per_hour["email"])
    assert cost.cost_per_attempt(cfg, "fax") is None  # no rate: unpriced, never 0
    assert {t: (p.response_hours, p.touches, p.timeframe_days) for t, p in cfg.tiers.items()} == {
        "high": (4, 15, 90), "moderate": (24, 8, 60), "low": (48, 3, 30)}
    assert marketing_target(cfg.quota, cfg.marketing_share) == cfg.quota * cfg.marketing_share


@pytest.mark.parametrize("raw,message", [
    ({"marketing_share": 1.3}, "marketing_share"),
    ({"rep_hourly_cost": -5}, "rep_hourly_cost"),
    ({"calls_per_hour": 0}, "calls_per_hour"),
    ({"stale_after_days": 10.5}, "whole number"),
    ({"quota": "lots"}, "must be a number"),
    ({"tiers": {"high": {"response_hours": 0}}}, "response_hours"),
    ({"default_tier": "vip"}, "default_tier"),
    ({"goals": {"mqls": 10}}, "goals"),
    ({"goals": {"sqls": -1}}, "sqls"),
    ({"sdr": {"sqls_per_month": "many"}}, "sqls_per_month"),
    ({"business_hours": {"timezone": "Mars/Olympus"}}, "unknown time zone"),
    ({"business_hours": {"hours": [18, 9]}}, "business_hours"),
    ({"review_tolerance": 0}, "review_tolerance"),
])
def test_out_of_range_config_is_refused(raw, message):
    with pytest.raises(ConfigError, match=message):
        config_from_dict(raw)


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yml")


def test_business_hours_goals_and_sdr_bands_are_read():
    cfg = config_from_dict({"business_hours": {"days": "mon-fri", "hours": ["09:00", "17:30"], "timezone": "Europe/Berlin"},
                            "goals": {"sqls": 60}, "sdr": {"sqls_per_month": 12}})
    assert cfg.business_hours["timezone"] == "Europe/Berlin" and cfg.goals == {"sqls": 60.0}
    assert cfg.sdr["sqls_per_month"] == 12 and cfg.sdr["active_mqls_high"] == 200
    assert cfg.tier_protocols["high"] == {"response_hours": 4, "touches": 15, "timeframe_days": 90}


def test_custom_tiers_replace_the_defaults():
    cfg = config_from_dict({"tiers": {"gold": {"response_hours": 2, "touches": 10, "timeframe_days": 60},
                                      "silver": {"response_hours": 24, "touches": 5, "timeframe_days": 30}},
                            "default_tier": "silver"})
    assert list(cfg.tiers) == ["gold", "silver"]
    from sla_analysis.analyses.review import top_tier
    assert top_tier(cfg) == "gold"
    # no default_tier and no "moderate" among the custom tiers: asked for, not guessed
    with pytest.raises(ConfigError, match="default_tier' is needed"):
        config_from_dict({"tiers": {"gold": {"response_hours": 2}}})
    # a tier named like a default keeps that default's figures for the keys it leaves out
    cfg = config_from_dict({"tiers": {"high": {"touches": 20}, "moderate": {}}})
    assert list(cfg.tiers) == ["high", "moderate"] and cfg.tiers["high"].response_hours == 4


def test_the_clones_config_is_its_own_file():
    """In a clone, config/sla.yml is a file of its own (editing it never edits the package's shipped
    defaults), and it is a valid config."""
    from sla_analysis import paths
    from sla_analysis.config import load_config

    path = paths.PROJECT_ROOT / "config" / "sla.yml"
    assert path.is_file() and not path.is_symlink()
    assert load_config(path).currency
