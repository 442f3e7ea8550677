"""Page 05's figures: the period's scorecard against the SLA, capacity, goals, KPIs and the SLA's review."""
from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd

from sla_analysis.analyses import compliance as cp
from sla_analysis.analyses import kpis as kp
from sla_analysis.analyses import review as rv
from sla_analysis.analyses import scorecard as sc
from sla_analysis.figures.graph import figure
from sla_analysis.results import Result

PAGE = ("05_sla_compliance",)


@figure(pages=PAGE)
def judged_until(as_of, data_end) -> datetime:
    """The period is judged up to its end or the data's end, whichever comes first."""
    return min(as_of, data_end)


@figure(pages=PAGE)
def period_progress(period_start, as_of, data_end, first_event_at) -> dict:
    """How much of the period the data covers (a period still running is judged pro rata)."""
    return sc.period_progress(period_start, as_of, data_end, first_event_at)


def speed_table(crm, cfg, period_start, as_of, judged_until) -> pd.DataFrame:
    """Speed to lead by tier under ``cfg``'s windows (today's SLA, or a proposed one)."""
    t = cp.speed_to_lead(crm, cfg.tier_protocols, period_start, as_of, judged_until, by="tier",
                         business_hours=cfg.business_hours, total=True, confidence=cfg.confidence_level,
                         min_n=cfg.min_group_size, default_tier=cfg.default_tier)
    return cp.in_tier_order(t, cfg.tier_protocols)


def cadence(crm, cfg, period_start, as_of, judged_until) -> pd.DataFrame:
    """Cadence by tier under ``cfg``'s protocols (today's SLA, or a proposed one)."""
    longest = max(p["timeframe_days"] for p in cfg.tier_protocols.values())
    t = cp.cadence_table(crm, cfg.tier_protocols, period_start - timedelta(days=longest), as_of, judged_until,
                         by="tier", breakup_touches=cfg.breakup_touches, confidence=cfg.confidence_level,
                         min_n=cfg.min_group_size, default_tier=cfg.default_tier, ended_from=period_start)
    return cp.in_tier_order(t, cfg.tier_protocols)


def judged_promises(cfg, speed: pd.DataFrame, cad: pd.DataFrame, limits) -> list[dict]:
    """Sales' promises judged as ``cfg`` writes them (working hours when it sets business hours)."""
    return sc.sales_promises(speed, cad, cfg.speed_to_lead_target, cfg.cadence_target, cfg.min_group_size, limits,
                             working_hours=cfg.business_hours is not None)


@figure(pages=PAGE)
def speed_to_lead_by_tier(crm, cfg, period_start, as_of, judged_until) -> pd.DataFrame:
    """Per tier and for all: the period's MQLs answered within the tier's response window (clock
    and, with business hours, working hours), pending, late, never contacted, with Wilson intervals."""
    return speed_table(crm, cfg, period_start, as_of, judged_until)


@figure(pages=PAGE)
def speed_unknown(speed_to_lead_by_tier, limits, period) -> str | None:
    """Why speed to lead cannot be told for the period (no first touches, or no MQL), or None."""
    mqls = int(speed_to_lead_by_tier.loc[speed_to_lead_by_tier.tier == "all", "mqls"].sum())
    return cp.speed_unavailable(limits) or (None if mqls else f"no lead became an MQL in {period.label}")


def _speed_by(crm, cfg, period_start, as_of, judged_until, speed_unknown, by: str) -> Result:
    if speed_unknown:
        return Result.absent(speed_unknown)
    return Result.of(cp.speed_to_lead(crm, cfg.tier_protocols, period_start, as_of, judged_until, by=by,
                                      confidence=cfg.confidence_level, min_n=cfg.min_group_size,
                                      default_tier=cfg.default_tier))


@figure(pages=PAGE)
def speed_to_lead_by_owner(crm, cfg, period_start, as_of, judged_until, speed_unknown) -> Result:
    """Speed to lead per SDR (the lead's owner)."""
    return _speed_by(crm, cfg, period_start, as_of, judged_until, speed_unknown, "owner")


@figure(pages=PAGE)
def speed_to_lead_by_source(crm, cfg, period_start, as_of, judged_until, speed_unknown) -> Result:
    """Speed to lead per lead source."""
    return _speed_by(crm, cfg, period_start, as_of, judged_until, speed_unknown, "source")


@figure(pages=PAGE)
def time_to_first_touch(crm, period_start, as_of, judged_until, speed_unknown) -> Result:
    """Per tier, the share of MQLs still waiting for a first attempt after each hour (up to 96)."""
    if speed_unknown:
        return Result.absent(speed_unknown)
    return Result.of(cp.time_to_first_touch_curve(crm, period_start, as_of, judged_until, by="tier", max_hours=96))


@figure(pages=PAGE)
def attempt_times(crm, cfg, period_start, as_of) -> cp.AttemptTimes:
    """When the period's attempts were made: attempts by weekday and hour in the team's time zone."""
    return cp.when_attempts_were_made(crm, period_start, as_of, cfg.business_hours, cfg.confidence_level)


@figure(pages=PAGE)
def cadence_by_tier(crm, cfg, period_start, as_of, judged_until) -> pd.DataFrame:
    """Per tier, MQLs whose follow-up time ended in the period: touches made against the protocol's."""
    return cadence(crm, cfg, period_start, as_of, judged_until)


@figure(pages=PAGE)
def marketing_judgement(marketing_delivered, marketing_target, period, period_progress, cfg, limits,
                        settled_window) -> dict:
    """Whether marketing delivered its monthly MQL value in the period (pro rata while it runs)."""
    return sc.marketing_judgement(marketing_delivered, marketing_target, len(period.months), period_progress,
                                  cfg.currency, limits, settled_window)


@figure(pages=PAGE)
def sdr_plan(crm, cfg, period_start, as_of, judged_until, period_progress) -> tuple:
    """SDR capacity: per SDR open leads, active MQLs and SQLs a month against the config's limits;
    the months' counts; MQLs a month; the headcount they need."""
    return kp.sdr_plan(crm, cfg.sdr, period_start, as_of, judged_until, period_progress)


@figure(pages=PAGE)
def period_kpis(crm, cfg, sdr_plan, period_start, as_of, judged_until, data_end, settled_window) -> pd.DataFrame:
    """The period's KPIs, each with its n, interval and basis (the settled rows over ``settled_window``)."""
    return kp.period_kpis(crm, cfg, sdr_plan[1], period_start, as_of, judged_until, data_end, settled_window)


@figure(pages=PAGE)
def win_rates(crm, cfg, period_start, as_of, judged_until) -> dict[str, Result]:
    """Win rate of the deals closed in the period, by rep and by source (shrunk, with intervals),
    each a ``Result`` (absent without closing dates, the group's column, or won and lost deals)."""
    return {k: kp.win_rate_by(crm, by, period_start, as_of, judged_until, cfg.confidence_level, cfg.min_group_size)
            for k, by in (("rep", "owner_id"), ("source", "source"))}


@figure(pages=PAGE)
def kpi_trend(crm, cfg, period, first_event_at, data_end) -> pd.DataFrame:
    """The period and the four before it: MQLs, top-tier speed to lead, MQL to SQL, contact rate, calls."""
    return rv.kpi_trend(crm, cfg, period, n_previous=4, data_start=first_event_at, data_end=data_end)


@figure(pages=PAGE)
def sla_review(cfg, mql_value_by_source, dialling_pace, attempt_cap, limits) -> pd.DataFrame:
    """The SLA's assumptions against what the data measures (close rate and MQL value per source,
    cost per call at the measured pace, the attempt cap), each with its drift and flag."""
    measured = rv.figures_to_review(cfg, mql_value_by_source, dialling_pace, rv.reviewed_cap(attempt_cap), limits)
    return rv.sla_review(cfg, measured)


@figure(pages=PAGE)
def review_due(sla_review, cfg, as_of) -> tuple[bool, str]:
    """Whether the SLA is due for review, and why (one rule: ``review.review_due``)."""
    written = datetime.fromisoformat(cfg.sla_written) if cfg.sla_written else None
    return rv.review_due(sla_review, as_of, written, cfg.review_every_months)


@figure(pages=PAGE)
def promises(marketing_judgement, speed_to_lead_by_tier, cadence_by_tier, cfg, limits) -> list[dict]:
    """Each promise of the SLA judged as written: marketing's, then sales' per tier."""
    return [marketing_judgement, *judged_promises(cfg, speed_to_lead_by_tier, cadence_by_tier, limits)]


@figure(pages=PAGE, summary="compliance")
def compliance_section(speed_to_lead_by_tier, cadence_by_tier, marketing_judgement, promises, judged_until,
                       period_progress, attempt_times) -> dict:
    """``summary.json["compliance"]``: the scorecard of the period."""
    return sc.compliance_summary(speed_to_lead_by_tier, cadence_by_tier, marketing_judgement, promises, judged_until,
                                 period_progress, attempt_times.summary())


@figure(pages=PAGE, summary="sla_review")
def sla_review_section(sla_review, review_due, cfg) -> dict:
    """``summary.json["sla_review"]``."""
    return rv.review_summary(sla_review, *review_due, cfg.review_tolerance)


@figure(pages=PAGE, summary="trend")
def trend_section(kpi_trend) -> dict:
    """``summary.json["trend"]``."""
    return rv.trend_summary(kpi_trend)


@figure(pages=PAGE, summary="kpis")
def kpis_section(period_kpis, win_rates) -> dict:
    """``summary.json["kpis"]``."""
    return kp.kpi_summary(period_kpis, win_rates)


@figure(pages=PAGE, summary="sdr_capacity")
def sdr_capacity_section(sdr_plan) -> dict:
    """``summary.json["sdr_capacity"]``: the headcount the MQLs a month need, per SDR their load."""
    cap, _, mqls_per_month, headcount = sdr_plan
    return kp.sdr_summary(headcount, cap, mqls_per_month)
