"""The proposed SLA: the seven components of seed 001 (and the steps of seed 004) filled from this
period's data, each number with its interval, the page it comes from and the current SLA's value.

Each component is one pure function over figures already computed by the analyses the pages use
(:func:`inputs_from` calls them, from the report's figures); :func:`assemble` puts them together as ``summary.json["proposal"]``,
:func:`proposal_markdown` writes ``sla_proposal.md`` and :func:`proposal_config` the
``proposal.yml`` that :func:`sla_analysis.config.config_from_dict` accepts (the agreed proposal
becomes next period's config). A component the export cannot support is ``available: false`` with
the reason, and the proposal keeps the current SLA's value for it.

Formulas:

* marketing's promise: lead value a month = quota x marketing share; MQLs a month = that / the value
  of an MQL at the current source mix (page 04); an MQL type is *sent* when its value per MQL is at
  least the cost of working one, *held back* when even its interval's upper end is below it;
* per tier: touches = the attempt cap that maximises expected profit per contacted lead of the tier
  (page 03's per-tier cap itself, ``plateau.by_tier`` from the period's one computation); response window = :func:`speed_value.response_window`;
  timeframe = the days from MQL within which 95% of the tier's conversions happened; the last touch
  is the break-up touch;
* capacity: attempts a month = Σ_tier forecast MQLs x share of the tier x contacted share x
  expected attempts per contacted lead under the cap (``Σ_{k<=N} S_k``); hours = attempts x hours
  per attempt (cost per attempt / hourly cost); against the hours the team logged a month in the
  period at the same rate; flagged when the need exceeds them by more than ``review_tolerance``;
* review: six months (``review_every_months``) after the end of the period; now when the current
  SLA's review is already due.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import ibis
import numpy as np
import pandas as pd
import yaml

from sla_analysis.analyses import attempt_cap as ac
from sla_analysis.analyses import cohorts as co
from sla_analysis.analyses import compliance as cp
from sla_analysis.analyses import contract as ct
from sla_analysis.analyses import handoff as hd
from sla_analysis.analyses import lead_value as lv
from sla_analysis.analyses import plateau as pl
from sla_analysis.analyses import review as rv
from sla_analysis.analyses import speed_value as sv
from sla_analysis.config import WEEKDAYS, BusinessHours, SLAConfig, config_to_dict
from sla_analysis.formats import crm_text, money
from sla_analysis.io.engine import CRM

PAGES = {"cost": "02 Cost per call", "cap": "03 Profitability plateau", "value": "04 Lead value targets",
         "speed": "05 SLA compliance / 07 Proposed SLA", "handoff": "06 Lead qualification", "proposal": "07 Proposed SLA"}
TIMEFRAME_SHARE = 0.95


def shared_goal(cfg: SLAConfig) -> dict:
    """Seed 001, component 1: the monthly revenue goal and marketing's share of it (from the config:
    the goal is set by the business, not by the data)."""
    return {"available": True, "quota_per_month": cfg.quota, "marketing_share": cfg.marketing_share,
            "current": {"quota_per_month": cfg.quota, "marketing_share": cfg.marketing_share}, "page": "config"}


def marketing_promise(cfg: SLAConfig, mql_values: pd.Series, mix: pd.Series, types: pd.DataFrame | None,
                      work_cost: float, why_types: str | None = None) -> dict:
    """Lead value a month = quota x marketing share; MQLs a month = that / the blended MQL value at
    ``mix``; per MQL type: send when value >= ``work_cost``, hold back when its upper bound is below."""
    target = lv.marketing_target(cfg.quota, cfg.marketing_share)
    known = mql_values.dropna()
    blended = lv.blended_mql_value(known, mix) if len(known) else float("nan")
    needed = lv.mqls_needed(target, known, mix) if len(known) and blended > 0 else float("nan")
    out = {"available": bool(np.isfinite(needed)), "lead_value_per_month": target, "blended_mql_value": blended,
           "mqls_per_month": needed, "page": PAGES["value"],
           "reason": None if np.isfinite(needed) else "the export has no deal amounts or no customers, so an MQL has no value"}
    if types is None or not len(types) or not np.isfinite(work_cost):
        out["mql_types"] = {"available": False, "reason": why_types or "no MQL types or no cost of working an MQL"}
        return out
    rows = {}
    for r in types.itertuples():
        if getattr(r, "small_sample", False) or not np.isfinite(r.mql_value):
            decision = "too few MQLs to tell"
        elif r.mql_value >= work_cost:
            decision = "send to sales"
        elif np.isfinite(r.mql_value_high) and r.mql_value_high < work_cost:
            decision = "hold back (nurture)"
        else:
            decision = "send, and review"
        rows[str(r.mql_type)] = {"mqls": int(r.mqls), "value_per_mql": r.mql_value,
                                 "value_ci": [r.mql_value_low, r.mql_value_high], "decision": decision}
    out["mql_types"] = {"available": True, "work_cost_per_mql": work_cost, "by_type": rows, "page": PAGES["handoff"]}
    return out


def tier_caps(cap: ac.PeriodCap, tiers) -> dict[str, pl.CapRecommendation | str]:
    """Each tier's attempt cap as page 03 computed it (``plateau.by_tier``, from the period's one
    computation, :func:`sla_analysis.analyses.attempt_cap.period_cap`), or why there is none."""
    if not cap.cap:
        return {t: cap.cap.reason for t in tiers}
    found = cap.cap.get().tiers
    if found is None:
        return {t: "the leads have no tier column" for t in tiers}
    return {t: found.get(t, "no contacted MQLs of this tier") for t in tiers}


def conversion_timeframes(crm: CRM, start: datetime, stop: datetime, as_of: datetime, stale_after_days: int,
                          share: float = TIMEFRAME_SHARE) -> pd.DataFrame:
    """Per tier: converted MQLs and the days from MQL within which ``share`` of their conversions
    (first deal created) happened (counted in whole days, aggregated in the engine)."""
    t = co.lead_table(crm, start, stop, as_of, stale_after_days)
    if "tier" not in t.columns:
        t = t.mutate(tier=ibis.literal("(none)"))
    t = t.filter(t.converted)
    days = ((t.first_deal_at.epoch_seconds() - t.entered_at.epoch_seconds()) / 86400.0).ceil()
    t = t.mutate(days=days)
    agg = t.group_by(["tier", "days"]).aggregate(n=t.count()).to_pandas()
    rows = []
    for tier, g in agg.groupby("tier"):
        g = g.sort_values("days")
        cum = g.n.cumsum() / g.n.sum()
        rows.append({"tier": tier, "conversions": int(g.n.sum()),
                     "days": int(max(1, g.days[cum >= share - 1e-12].iloc[0]))})
    return pd.DataFrame(rows, columns=["tier", "conversions", "days"])


def sales_promise(cfg: SLAConfig, caps: dict[str, pl.CapRecommendation | str], windows: dict[str, dict],
                  timeframes: pd.DataFrame, min_conversions: int = 30, why_no_timeframe: str | None = None) -> dict:
    """Per tier: response window, touches, timeframe and the break-up touch, each with its source
    and the current SLA's value (kept, with the reason, where the data cannot say: no timeframe
    from the data when ``why_no_timeframe``, e.g. no tiers or no timeline in the export)."""
    tf = timeframes.set_index("tier") if len(timeframes) and not why_no_timeframe else pd.DataFrame()
    tiers = {}
    for t, cur in cfg.tiers.items():
        cap = caps.get(t, "not computed")
        w = windows.get(t, {"hours": cur.response_hours, "source": "current", "reason": "not computed"})
        row = {"current": {"response_hours": cur.response_hours, "touches": cur.touches, "timeframe_days": cur.timeframe_days}}
        if isinstance(cap, str):
            row["touches"] = {"value": cur.touches, "source": "current", "reason": cap}
        else:
            row["touches"] = {"value": int(cap.recommended_attempts), "ci": [int(cap.ci_low), int(cap.ci_high)],
                              "plateau": int(cap.plateau_attempts), "profit_per_lead": cap.expected_profit_per_lead,
                              "source": "data", "page": PAGES["cap"], "note": cap.note}
        row["response_hours"] = {"value": w["hours"], "source": w["source"], "reason": w.get("reason"), "page": PAGES["speed"]}
        if w.get("working_hours"):
            row["response_hours"].update(working_hours=True, clock_hours=w["clock_hours"], working_day=w["working_day"])
        if t in tf.index and tf.loc[t, "conversions"] >= min_conversions:
            row["timeframe_days"] = {"value": int(tf.loc[t, "days"]), "source": "data", "conversions": int(tf.loc[t, "conversions"]),
                                     "page": PAGES["proposal"]}
        else:
            row["timeframe_days"] = {"value": cur.timeframe_days, "source": "current",
                                     "reason": why_no_timeframe or f"fewer than {min_conversions} conversions of this tier"}
        row["breakup_touch"] = row["touches"]["value"]
        tiers[t] = row
    return {"available": True, "tiers": tiers}


def handoff_and_return(cfg: SLAConfig, best: dict | None, why_score: str | None, back: pd.DataFrame | None,
                       why_back: str | None, touches: dict[str, int]) -> dict:
    """The score threshold (page 06's best threshold, with its interval) and the return rule: an MQL
    worked to its tier's touches without an opportunity goes back to marketing; what recycled leads
    were worth."""
    out = {"current_threshold": cfg.mql_score_threshold, "page": PAGES["handoff"]}
    if best is None or best.get("threshold") is None or not np.isfinite(best["threshold"]):
        out["threshold"] = {"value": cfg.mql_score_threshold, "source": "current",
                            "reason": why_score or (best or {}).get("reason") or "no score band pays"}
    elif best.get("all_pay"):
        out["threshold"] = {"value": cfg.mql_score_threshold, "source": "current",
                            "reason": "every score band is worth more than it costs to work, so the data gives no reason to "
                                      "hold any MQL back by score"}
    else:
        lo, hi = best["ci"]
        fin = lambda v: None if v is None or not np.isfinite(v) else float(v)  # noqa: E731
        out["threshold"] = {"value": float(best["threshold"]), "ci": [fin(lo), fin(hi)], "source": "data"}
    out["return_rule"] = {t: f"after {n} touches without an opportunity" for t, n in touches.items()}
    recycled = None if back is None or not len(back) else back[back.kind == "recycled to marketing"]
    if recycled is None or not len(recycled) or not recycled.leads.iloc[0] > 0:
        out["recycled"] = {"available": False, "reason": why_back or "no lead was recorded as recycled to marketing "
                                                                      "early enough to be followed up"}
    elif back.attrs.get("why_unknown"):  # what became of them cannot be told (no timeline)
        out["recycled"] = {"available": False, "reason": back.attrs["why_unknown"]}
    else:
        r = back.set_index("kind").loc["recycled to marketing"]
        out["recycled"] = {"available": True, "leads": int(r.leads), "won": int(r.won), "won_share": float(r.won_share),
                           "won_share_ci": [float(r.won_share_low), float(r.won_share_high)],
                           "requalified_share": float(r.requalified_share) if pd.notna(r.requalified_share) else None,
                           "won_revenue": float(r.won_revenue)}
    return out


def share_below(bands: pd.DataFrame | None, threshold: float | None) -> float | None:
    """The share of the settled MQLs (page 06's score bands) that scored below ``threshold``: how
    far the written threshold is from what decides today which leads reach sales."""
    if bands is None or threshold is None or not len(bands) or not bands.mqls.sum():
        return None
    return float(bands.mqls[bands.high.notna() & (bands.high <= float(threshold))].sum() / bands.mqls.sum())


#: a written threshold that this share of MQLs scores below is not the one applied
NOT_APPLIED_SHARE = 0.1


def within_capacity(hand: dict, cap: dict, current: float, below_current: float | None = None) -> dict:
    """Page 06's best threshold weighs value only. A threshold below the current one passes more
    MQLs when the current one is applied; when the team cannot work today's volume with the proposed
    touches (``cap["flag"]``) the current threshold is then kept and the reason said: value per MQL
    cannot be earned without the hours to work it. When at least :data:`NOT_APPLIED_SHARE` of the
    MQLs already score below the current threshold it is not what decides the volume, and the data's
    threshold stands."""
    th = hand["threshold"]
    if current is None:  # no threshold today: every lead already reaches sales, none passes more MQLs
        return hand
    applied = below_current is None or below_current < NOT_APPLIED_SHARE
    if (th["source"] == "data" and applied and cap.get("available") and cap.get("flag")
            and th["value"] < float(current)):
        hand = {**hand, "threshold": {"value": current, "source": "current", "data_value": th["value"],
                                      "reason": f"a lower threshold ({th['value']:g}) would pass more MQLs, and the team "
                                                "cannot work today's volume with the proposed touches (section 5 Capacity); "
                                                "lower it once the team can"}}
    return hand


def expected_attempts(cap: pl.CapRecommendation | str) -> float:
    """Expected attempts per contacted lead under the cap: ``Σ_{k<=N} S_k`` (share still open when
    attempt k is due); NaN without a cap."""
    if isinstance(cap, str):
        return float("nan")
    c = cap.curve
    return float(c.share_open[c.attempts <= cap.recommended_attempts].sum())


def capacity(cfg: SLAConfig, mqls_per_month: float, tier_share: dict[str, float], contacted_share: float,
             attempts_per_lead: dict[str, float], hours_per_attempt: float, logged_attempts_per_month: float,
             sdrs: int, why_volume: str = "the MQLs a month are unknown") -> dict:
    """SDR hours and headcount the proposed protocol needs at ``mqls_per_month`` against today's team
    (module docstring); ``flag`` when the need exceeds today's hours by more than ``review_tolerance``.
    Not available, with the input that is missing, when the MQLs a month (``why_volume``), a tier's
    attempt cap or the time an attempt takes are unknown; the headcount alone is unknown (NaN) when
    the export does not say who made the attempts (``sdrs`` = 0)."""
    if not np.isfinite(mqls_per_month):
        return {"available": False, "reason": why_volume}
    need = {t: mqls_per_month * tier_share.get(t, 0.0) * contacted_share * a for t, a in attempts_per_lead.items()}
    no_cap = [t for t, v in need.items() if not np.isfinite(v)]
    if not need or no_cap:
        return {"available": False, "reason": f"no attempt cap for the {', '.join(no_cap)} tier" + ("s" if len(no_cap) > 1 else "")
                if no_cap else "no lead tier has an attempt cap"}
    if not np.isfinite(hours_per_attempt):
        return {"available": False, "reason": "the time an attempt takes is unknown (no cost per attempt)"}
    attempts = float(sum(need.values()))
    hours = attempts * hours_per_attempt
    today = logged_attempts_per_month * hours_per_attempt
    per_sdr = today / sdrs if sdrs else float("nan")
    headcount = hours / per_sdr if per_sdr and np.isfinite(per_sdr) and per_sdr > 0 else float("nan")
    flag = bool(today > 0 and hours > today * (1 + cfg.review_tolerance))
    return {"available": True, "mqls_per_month": mqls_per_month, "attempts_per_month": attempts, "hours_per_month": hours,
            "attempts_by_tier": need, "today_hours_per_month": today, "today_sdrs": sdrs,
            "hours_per_sdr_today": per_sdr, "sdrs_needed": headcount, "flag": flag, "page": PAGES["proposal"]}


def review_dates(cfg: SLAConfig, period_end: date) -> dict:
    """Agreed the day after the period (``period_end`` is its last day); next review
    ``review_every_months`` after that; the current SLA's review is due by the one rule every page
    uses (:func:`sla_analysis.analyses.review.review_due_date` on or before the period's last day)."""
    due = rv.review_due_date(date.fromisoformat(cfg.sla_written), cfg.review_every_months) if cfg.sla_written else None
    due_now = bool(due is not None and due <= period_end)
    agreed = period_end + timedelta(days=1)
    return {"current_review_due": due.isoformat() if due else None, "due_now": due_now, "agreed_on": agreed.isoformat(),
            "next_review": rv.add_months(agreed, cfg.review_every_months).isoformat(),
            "every_months": cfg.review_every_months}


def kpis(mqls_per_month: float, blended_value: float, speed: pd.DataFrame | None, windows: dict[str, dict],
         attempts_per_lead: float, recycled: dict) -> list[dict]:
    """The figures to review monthly (seed 004), with their value in this period as the baseline."""
    out = [{"kpi": "MQLs delivered a month", "baseline": mqls_per_month, "owner": "marketing"},
           {"kpi": "Value of an MQL (current mix)", "baseline": blended_value, "owner": "marketing"}]
    if speed is not None and len(speed) and speed.mqls[speed.band != sv.REFERENCE].sum() > 0:
        s = speed.set_index("band")
        out.append({"kpi": "MQLs that became opportunities", "baseline": float(s.conversions.drop(index=sv.REFERENCE).sum()
                                                                               / s.mqls.drop(index=sv.REFERENCE).sum()),
                    "owner": "both"})
        out.append({"kpi": "MQLs answered within the hour", "baseline": float(s.loc[sv.REFERENCE, "mqls"] / s.mqls.drop(index=sv.REFERENCE).sum()),
                    "owner": "sales"})
        out.append({"kpi": "MQLs never contacted", "baseline": float(s.mqls.get(sv.NEVER, 0) / s.mqls.drop(index=sv.REFERENCE).sum()),
                    "owner": "sales"})
    if np.isfinite(attempts_per_lead):
        out.append({"kpi": "Attempts per contacted MQL", "baseline": attempts_per_lead, "owner": "sales"})
    if recycled.get("available"):
        out.append({"kpi": "Recycled leads won within the follow-up", "baseline": recycled["won_share"], "owner": "both"})
    return out[:7]


@dataclass
class Inputs:
    """Everything the proposal is built from (see :func:`inputs_from`)."""

    cfg: SLAConfig
    period_label: str
    period_end: date
    months: float
    mql_values: pd.Series
    mix: pd.Series
    types: pd.DataFrame | None
    why_types: str | None
    work_cost: float
    cost_per_attempt: float
    caps: dict
    timeframes: pd.DataFrame
    speed_counts: pd.DataFrame
    speed_crude: pd.DataFrame
    speed_effect: sv.SpeedEffect
    best_threshold: dict | None
    why_score: str | None
    return_path: pd.DataFrame | None
    why_return: str | None
    mqls_in_period: int
    tier_share: dict
    contacted_share: float
    logged_attempts: int
    sdrs: int
    settled_window: tuple = ()
    why_speed: str | None = None     # why speed to lead cannot be measured on this export
    why_timeline: str | None = None  # why MQLs a month are unknown (every event dated the same day)
    working_hours: dict | None = None  # when the team worked, read from attempts (no business_hours set)
    timezone: str = "UTC"
    below_threshold_share: float | None = None  # settled MQLs scoring below the current threshold
    lead_months: float | None = None   # months of the period the export's leads reach (None: all of them)
    attempt_months: float | None = None  # months of the period its attempts reach
    why_volume: str | None = None      # why the MQLs a month are unknown for this period
    why_no_timeframe: str | None = None  # why the data gives no timeframe per tier (no tiers, no timeline)
    baseline: dict = field(default_factory=dict)  # the figures the proposal is written with (the next review's baseline)


def response_windows(x: Inputs) -> dict[str, dict]:
    """The proposed response window per tier (:func:`sla_analysis.analyses.speed_value.response_window`),
    or the current one with the reason when the export cannot measure speed to lead. Everything here
    is in clock hours (the evidence is): an SLA whose windows count working hours has its current
    windows stated in clock hours first (:func:`clock_window`), so a window of 10 working hours is
    held against the evidence as the 24 clock hours it spans, not as 10."""
    def current(t: str) -> float:
        h = x.cfg.tiers[t].response_hours
        return clock_window(h, x.working_hours) if x.cfg.business_hours and x.working_hours else h

    if x.why_speed:
        return {t: {"hours": current(t), "source": "current", "reason": x.why_speed} for t in x.cfg.tiers}
    return {t: sv.response_window(x.speed_effect.by_tier, t, current(t)) for t in x.cfg.tiers}


def clock_window(working_hours: float, worked: dict) -> float:
    """The inverse of :func:`working_window`: a window of working hours as the clock hours of
    evidence it stands for (up to a working day, as many; longer, 24 clock hours per working day)."""
    day = float(worked["end"] - worked["start"])
    return float(working_hours) if working_hours <= day else 24.0 * float(working_hours) / day


def worked_from_config(business_hours: dict | None) -> dict | None:
    """The SLA's own business hours in the shape :func:`working_window` reads (days, start, end):
    the windows it writes count working hours."""
    if not business_hours:
        return None
    bh = BusinessHours.from_config(business_hours)
    return {"days": list(bh.days), "start": int(bh.start_hour), "end": int(np.ceil(bh.end_hour)), "share": None,
            "from_config": True}


def working_window(clock_hours: float, worked: dict) -> float:
    """A clock-hour window stated in working hours for a team working ``worked["start"]`` to
    ``worked["end"]`` (:func:`sla_analysis.analyses.compliance.working_hours`), length ``day``: a
    window up to ``day`` hours stays that many working hours (an MQL arriving in working hours is due
    as many hours later); a longer one counts one working day per 24 clock hours,
    ``max(day, day x clock_hours / 24)`` (an MQL due 24 clock hours after 10:00 on Tuesday is due at
    10:00 on Wednesday, one working day on). Monotone in ``clock_hours``."""
    day = float(worked["end"] - worked["start"])
    return float(clock_hours) if clock_hours <= day else max(day, day * float(clock_hours) / 24)


def in_working_hours(windows: dict[str, dict], worked: dict | None) -> dict[str, dict]:
    """The response windows (clock hours, from the evidence) in working hours (:func:`working_window`)
    when the team works office hours; unchanged when it works around the clock or the SLA already
    sets its business hours."""
    if not worked:
        return windows
    day = float(worked["end"] - worked["start"])
    return {t: {**w, "clock_hours": w["hours"], "hours": working_window(w["hours"], worked), "working_hours": True,
                "working_day": day} for t, w in windows.items()}


def business_hours_block(worked: dict | None, zone: str) -> dict | None:
    """The working hours read from the attempts, in the config's ``business_hours`` shape."""
    if not worked:
        return None
    config = bool(worked.get("from_config"))
    return {"days": [WEEKDAYS[d] for d in worked["days"]], "hours": [f"{worked['start']:02d}:00", f"{worked['end']:02d}:00"],
            "timezone": zone, "share_of_attempts": None if config else float(worked["share"]),
            "source": "the current SLA's business hours" if config else "when attempts were made"}


def inputs_from(crm: CRM, cfg: SLAConfig, period, settled: tuple, values: pd.DataFrame,
                mix: pd.Series, period_cap: ac.PeriodCap, work_cost: float, types, bands, best, back,
                counts: pd.DataFrame, crude: pd.DataFrame, effect: sv.SpeedEffect, limits: dict) -> Inputs:
    """Every input of the proposal, from the figures the pages show (the same windows and
    functions: ``values`` page 04's MQL value by source, ``period_cap`` page 03's cap, ``work_cost``,
    ``types``, ``bands``, ``best`` and ``back`` page 06's, each a ``Result`` where the export may not
    support it) and the few counts only the proposal needs (MQLs and attempts of the period, its
    SDRs, when the team works, the tiers' timeframes)."""
    end = period.end_ts()
    start_p = period.start_ts()
    s_from, s_to = settled
    cost = period_cap.cost_per_attempt
    why_types = None if types else types.reason
    caps = tier_caps(period_cap, cfg.tiers)
    timeframes = conversion_timeframes(crm, s_from, s_to, end, cfg.stale_after_days) if crm.has("leads", "tier") else pd.DataFrame()
    why_speed = cp.speed_unavailable(limits)
    why_score = None if bands else bands.reason
    why_return = None if back else back.reason
    mqls = hd.count_mqls(crm, start_p, end, end)
    by_tier = counts.groupby("tier").leads.sum()
    tier_share = (by_tier / by_tier.sum()).to_dict() if by_tier.sum() else {}
    never = counts.leads[counts.band == sv.NEVER].sum()
    contacted_share = float(1 - never / counts.leads.sum()) if counts.leads.sum() else float("nan")
    a = crm.activities
    a = a.filter((a.occurred_at >= start_p) & (a.occurred_at < end))
    logged = int(a.count().execute())
    sdrs = int(a.rep_id.nunique().execute()) if crm.has("activities", "rep_id") else 0
    zone = (cfg.business_hours or {}).get("timezone", "UTC")
    worked = (worked_from_config(cfg.business_hours) if cfg.business_hours
              else None if limits.get("attempt_time") or "attempts" in limits
              else cp.working_hours(cp.attempts_by_hour_weekday(crm, start_p, end, zone)))
    profile = crm.profile
    lead_months = profile.months_covered("leads", "created_at", start_p, end, len(period.months))
    attempt_months = profile.months_covered("activities", "occurred_at", start_p, end, len(period.months))
    why_volume = None
    if not lead_months:
        last = profile.stream_end("leads", "created_at")
        why_volume = (f"the export's last lead was created on {last - timedelta(days=1):%d %b %Y}, before {period.label} "
                      "began, so the MQLs a month of this period are unknown" if last else "the export has no dated leads")
    return Inputs(cfg, period.label, (end - timedelta(days=1)).date() if isinstance(end, datetime) else end, len(period.months),
                  values.set_index("source").mql_value if len(values) else pd.Series(dtype=float), mix,
                  types.get() if types else None, why_types, work_cost, cost, caps, timeframes, counts, crude, effect,
                  best.get() if best else None, why_score, back.get() if back else None, why_return, mqls,
                  tier_share, contacted_share, logged, sdrs, (s_from, s_to), why_speed, limits.get("timeline"),
                  worked, zone, share_below(bands.get() if bands else None, cfg.mql_score_threshold), lead_months,
                  attempt_months, why_volume, profile.unmet("tiers", "timeline"),
                  review_baseline(cfg, period_cap.summary(cfg), values))


def assemble(x: Inputs) -> dict:
    """``summary.json["proposal"]``: every component, with what it could not fill."""
    cfg = x.cfg
    windows = in_working_hours(response_windows(x), x.working_hours)
    sales = sales_promise(cfg, x.caps, windows, x.timeframes, why_no_timeframe=x.why_no_timeframe)
    touches = {t: r["touches"]["value"] for t, r in sales["tiers"].items()}
    mkt = marketing_promise(cfg, x.mql_values, x.mix, x.types, x.work_cost, x.why_types)
    per_lead = {t: expected_attempts(c) for t, c in x.caps.items()}
    hours_per_attempt = x.cost_per_attempt / cfg.rep_hourly_cost if np.isfinite(x.cost_per_attempt) else float("nan")
    lead_months = x.months if x.lead_months is None else x.lead_months
    attempt_months = x.months if x.attempt_months is None else x.attempt_months
    why_volume = x.why_timeline or x.why_volume
    mqls_month = x.mqls_in_period / lead_months if lead_months and not why_volume else float("nan")
    cap = capacity(cfg, mqls_month, x.tier_share, x.contacted_share, per_lead, hours_per_attempt,
                   x.logged_attempts / attempt_months if attempt_months else float("nan"), x.sdrs,
                   why_volume or "the MQLs a month are unknown")
    hand = within_capacity(handoff_and_return(cfg, x.best_threshold, x.why_score, x.return_path, x.why_return, touches),
                           cap, cfg.mql_score_threshold, x.below_threshold_share)
    hand["below_current_share"] = x.below_threshold_share
    weights = {t: x.tier_share.get(t, 0.0) for t in per_lead if np.isfinite(per_lead[t])}
    avg_attempts = (sum(per_lead[t] * w for t, w in weights.items()) / sum(weights.values())) if weights and sum(weights.values()) else float("nan")
    cannot = []
    for t, r in sales["tiers"].items():
        for k in ("touches", "response_hours", "timeframe_days"):
            if r[k]["source"] == "current":
                cannot.append(f"{t} tier, {k.replace('_', ' ')}: {r[k].get('reason')}")
    for name, comp in (("marketing's promise", mkt), ("capacity", cap)):
        if not comp.get("available"):
            cannot.append(f"{name}: {comp.get('reason')}")
    if mkt.get("mql_types", {}).get("available") is False:
        cannot.append(f"MQL types to send: {mkt['mql_types']['reason']}")
    if hand["threshold"]["source"] == "current" and "data_value" not in hand["threshold"]:
        cannot.append(f"score threshold: {hand['threshold']['reason']}")
    if x.speed_effect.reason:
        cannot.append(f"what answering faster is worth: {x.speed_effect.reason}")
    if x.settled_window and not x.speed_counts.leads.sum():
        a, b = x.settled_window
        cannot.insert(0, f"every figure drawn from settled MQLs: no lead became an MQL from {a:%d %b %Y} to {b:%d %b %Y} "
                         f"(at least {cfg.stale_after_days} days before the end of the period), so the reasons below "
                         "follow from that")
    return {"period": x.period_label, "shared_goal": shared_goal(cfg), "marketing": mkt, "sales": sales,
            "handoff": hand, "capacity": cap, "business_hours": business_hours_block(x.working_hours, x.timezone),
            "baseline_window": [f"{d:%Y-%m-%d}" for d in x.settled_window] if x.settled_window else None,
            "kpis": kpis(mqls_month, mkt["blended_mql_value"], None if x.why_speed else x.speed_crude, windows, avg_attempts, hand["recycled"]),
            "review": review_dates(cfg, x.period_end), "review_baseline": x.baseline, "not_filled": cannot}


def speed_summary(x: Inputs) -> dict:
    """``summary.json["speed_to_lead_value"]``."""
    e = x.speed_effect
    missing, crowded = sv.not_held_equal(e)
    rec = lambda f: [] if f is None or not len(f) else f.replace({np.nan: None}).to_dict(orient="records")  # noqa: E731
    return {"observational": True, "bands": [] if x.why_speed else rec(x.speed_crude.drop(columns=["relative_to_within_1h_low", "relative_to_within_1h_high"], errors="ignore")), "adjusted_available": e.reason is None,
            "reason": e.reason, "adjusted": rec(e.overall), "by_tier": rec(e.by_tier), "revenue_gained": rec(e.gains),
            "value_per_conversion": e.value_per_conversion,
            "bootstrap_resamples": e.n_boot if e.reason is None else None, "notes": e.notes,
            "adjusted_for": ["tier", *e.covariates], "not_held_equal": missing,
            "too_many_groups": crowded,
            "outside_overlap": e.outside_overlap, "max_loss_share": sv.MAX_LOSS_SHARE,
            "response_window": response_windows(x)}


def review_baseline(cfg: SLAConfig, plateau: dict, values: pd.DataFrame) -> dict:
    """The figures the proposed SLA is written with, for the next period's review (the config's
    ``review_baseline``): the attempt cap it adopts (the recommended one when moving to it is worth a
    change, by the materiality rule; else today's) and this period's close rate and value per MQL
    of each source the settled MQLs price (rounded: a close rate to 0.01%, a value to whole money)."""
    out = dict(cfg.review_baseline)
    change = plateau.get("change")
    if plateau.get("recommended_attempts") is not None and plateau.get("cannot_judge_above") is None:
        if change is None and "attempt_cap" not in out or (change or {}).get("material"):
            out["attempt_cap"] = int(plateau["recommended_attempts"])
    for r in values.itertuples() if len(values) else []:
        if np.isfinite(getattr(r, "close_rate", np.nan)):
            out[f"close_rate:{r.source}"] = round(float(r.close_rate), 4)
        if np.isfinite(getattr(r, "mql_value", np.nan)):
            out[f"mql_value:{r.source}"] = float(round(float(r.mql_value)))
    return out


def proposal_config(cfg: SLAConfig, proposal: dict) -> dict:
    """The proposal as a config in the shape of ``config/sla.yml`` (accepted by
    :func:`sla_analysis.config.config_from_dict`): every key of the current config
    (:func:`sla_analysis.config.config_to_dict`) with the proposed tiers, threshold, agreement date
    and review baseline (:func:`review_baseline`)."""
    raw = config_to_dict(cfg)
    raw["tiers"] = {t: {"response_hours": float(r["response_hours"]["value"]), "touches": int(r["touches"]["value"]),
                        "timeframe_days": int(r["timeframe_days"]["value"])} for t, r in proposal["sales"]["tiers"].items()}
    wh = proposal.get("business_hours")
    if wh and not cfg.business_hours:  # the windows above are in working hours: count them that way
        raw["business_hours"] = {k: wh[k] for k in ("days", "hours", "timezone")}
    if proposal.get("review_baseline"):  # the next review judges what this proposal adopts
        raw["review_baseline"] = dict(proposal["review_baseline"])
    thr = proposal["handoff"]["threshold"]["value"]
    raw["mql_score_threshold"] = None if thr is None else float(thr)
    # the agreement takes effect on its contract's date (else the day after the period), and the next
    # proposal is another agreement, effective after its own period: the date is not carried over
    raw["sla_written"] = cfg.contract.get("effective_date") or proposal["review"]["agreed_on"]
    raw["contract"] = {**cfg.contract, "effective_date": None}
    return raw


def proposal_yaml(cfg: SLAConfig, proposal: dict) -> str:
    """:func:`proposal_config` as YAML text with a header."""
    head = (f"# Proposed SLA for the period after {proposal['period']}, generated by sla-analysis from this period's data.\n"
            "# Once both department heads have agreed it, use it as next period's config: CONFIG=reports/<P>/proposal.yml\n")
    return head + yaml.safe_dump(proposal_config(cfg, proposal), sort_keys=False, allow_unicode=True)


def _money(v, cur: str) -> str:
    return "not available" if v is None or not np.isfinite(v) else money(v, cur)


def _window(r: dict) -> str:
    """A proposed response window: clock hours, or working hours when the team works office hours."""
    if not r.get("working_hours"):
        return _hours(r["value"])
    days = r["value"] / r["working_day"] if r.get("working_day") else 0.0
    if days >= 1 and float(days).is_integer():
        return f"{days:g} working day" + ("s" if days != 1 else "")
    return f"{round(r['value'], 1):g} working hours"


def _days(days: list[str]) -> str:
    return cp.day_span([WEEKDAYS.index(d) for d in days])


def _last_day(wh: dict) -> int:
    """The last working weekday of ``wh`` (config shape), as 0 = Monday."""
    return max(WEEKDAYS.index(d) for d in wh["days"])


def _due_example(wh: dict) -> str:
    """When an MQL arriving after hours on the last working day is due under a 4-working-hour window."""
    days = sorted(WEEKDAYS.index(d) for d in wh["days"])
    start = int(wh["hours"][0][:2])
    return f"on {cp.DAY_NAMES[days[0]]} at {start + 4:02d}:00 under a 4-working-hour window"


def _score(v) -> str:
    return "not set" if v is None else f"{float(v):g}"


def _hours(h: float) -> str:
    return f"{h * 60:.0f} minutes" if h < 1 else (f"{h:g} hour" + ("s" if h != 1 else "")) if h < 48 else f"{h / 24:g} days"


def proposal_markdown(cfg: SLAConfig, p: dict, speed: dict, reasons: list[str] | None = None,
                      undecided_share: float | None = None) -> str:
    """``sla_proposal.md``: the agreement, every number with its source page and the current value,
    and the sections that make it a contract (:mod:`sla_analysis.analyses.contract`; ``reasons`` and
    ``undecided_share`` from page 06)."""
    cur = cfg.currency
    m, s, h, c, r = p["marketing"], p["sales"], p["handoff"], p["capacity"], p["review"]
    L = [f"# Sales & marketing service level agreement: proposal after {p['period']}", "",
         "Drafted from the CRM export by sla-analysis. Every number names the report page it comes from and, in brackets, "
         "the current SLA's value. Parts the data cannot support keep the current value and are listed at the end.", "",
         "## 1. Shared goal", "",
         f"Sales' revenue goal is **{_money(p['shared_goal']['quota_per_month'], cur)} a month**; marketing is responsible for "
         f"**{p['shared_goal']['marketing_share']:.0%}** of it (as the SLA sets them today).", "",
         "## 2. Marketing's promise", ""]
    if m["available"]:
        L.append(f"Marketing delivers **{_money(m['lead_value_per_month'], cur)} of lead value a month**: at the current source "
                 f"mix an MQL is worth {_money(m['blended_mql_value'], cur)}, so about **{m['mqls_per_month']:,.0f} MQLs a "
                 f"month** (page {m['page']}).")
    else:
        L.append(f"Lead value ({cur}): not available ({m['reason']}).")
    mt = m.get("mql_types", {})
    if mt.get("available"):
        L += ["", f"MQL types, against the cost of working one ({_money(mt['work_cost_per_mql'], cur)}; page {mt['page']}):", "",
              "| MQL type | MQLs | Value per MQL | Interval | Decision |", "|---|---:|---:|---|---|"]
        for k, v in mt["by_type"].items():
            lo, hi = v["value_ci"]
            L.append(f"| {crm_text(k)} | {v['mqls']:,} | {_money(v['value_per_mql'], cur)} | {_money(lo, cur)} – {_money(hi, cur)} | {v['decision']} |")
    else:
        L.append(f"\nMQL types to send: not available ({mt.get('reason')}).")
    L += ["", "## 3. Sales' promise, per lead tier", "",
          "| Tier | First attempt within | Touches | Over | Break-up touch |", "|---|---|---|---|---|"]
    for t, v in s["tiers"].items():
        cu = v["current"]
        tc = v["touches"]
        ci = f", interval {tc['ci'][0]}–{tc['ci'][1]}" if "ci" in tc else ""
        L.append(f"| {t} | {_window(v['response_hours'])} ({_hours(cu['response_hours'])}) | {tc['value']}{ci} "
                 f"({cu['touches']}) | {v['timeframe_days']['value']} days ({cu['timeframe_days']} days) | touch {v['breakup_touch']} |")
    L += ["", "Where they come from: the touches are each tier's most profitable attempt cap (page "
          f"{PAGES['cap']}, the method on each tier's leads); the window is the last response band before the first one shown to "
          f"lose {speed['max_loss_share']:.0%} or more of a lead's value against the tier's fastest answer (page {PAGES['speed']}); the "
          f"timeframe holds {TIMEFRAME_SHARE:.0%} of the tier's conversions in this history. The last touch is the break-up "
          "message that tells the lead it goes back to marketing.", ""]
    wh = p.get("business_hours")
    if wh and wh.get("share_of_attempts") is None:  # the SLA already counts working hours
        L += [f"The windows count **working hours**, as the current SLA does: {_days(wh['days'])}, {wh['hours'][0]} to "
              f"{wh['hours'][1]} ({wh['timezone']} time). A window up to a working day is as many working hours; a longer "
              "one is a working day for each 24 hours of the clock-hour evidence.", ""]
    elif wh:
        L += [f"The windows count **working hours**: SDRs made {wh['share_of_attempts']:.0%} of their attempts "
              f"{_days(wh['days'])}, {wh['hours'][0]} to {wh['hours'][1]} ({wh['timezone']} time), and a clock window shorter "
              "than a night cannot be kept for an MQL that arrives after hours. A window up to a working day is as many "
              "working hours; a longer one is a working day for each 24 hours of the clock-hour evidence. Next period's "
              "settings count the windows this way. This changes today's windows for MQLs that arrive after hours: "
              f"one arriving on {cp.DAY_NAMES[_last_day(wh)]} at 19:00 is due {_due_example(wh)} instead of 4 clock hours later.", ""]
    for t, v in s["tiers"].items():
        for k in ("touches", "response_hours", "timeframe_days"):
            if v[k]["source"] == "current":
                L.append(f"- {t} tier, {k.replace('_', ' ')}: current value kept — {v[k].get('reason')}.")
    L += ["", "## 4. Handoff and return path", ""]
    th = h["threshold"]
    if th["source"] == "data":
        lo, hi = (("every MQL" if v is None else f"a score of {v:g}") for v in th["ci"])
        L.append(f"Marketing passes a lead to sales at a **lead score of {th['value']:g}** or more (the data cannot tell "
                 f"apart anything from {lo} to {hi}; current: {_score(h['current_threshold'])}; page {h['page']}).")
    elif h["current_threshold"] is None:
        L.append(f"Score threshold: none today, and none proposed — {th['reason']}.")
    else:
        L.append(f"Score threshold: current value kept (a lead score of {_score(h['current_threshold'])}) — {th['reason']}.")
    below = h.get("below_current_share")
    if below is not None and below >= NOT_APPLIED_SHARE and h["current_threshold"] is not None:
        L.append(f"{below:.0%} of the settled MQLs scored below today's threshold of {_score(h['current_threshold'])}: "
                 "the written threshold is not what decides today which leads reach sales.")
    L.append("An MQL worked to its tier's touches without an opportunity goes back to marketing for nurturing: "
             + "; ".join(f"{t}: {rule}" for t, rule in h["return_rule"].items()) + ".")
    if h["recycled"]["available"]:
        rc = h["recycled"]
        L.append(f"Of the {rc['leads']:,} leads recycled to marketing in this history, {rc['won_share']:.1%} were won within "
                 f"the follow-up (interval {rc['won_share_ci'][0]:.1%}–{rc['won_share_ci'][1]:.1%}), worth "
                 f"{_money(rc['won_revenue'], cur)} (page {h['page']}).")
    else:
        L.append(f"What recycled leads were worth: not available ({h['recycled']['reason']}).")
    L += ["", "## 5. Capacity", ""]
    if c["available"]:
        team = (f"this period the team of {c['today_sdrs']} logged {c['today_hours_per_month']:,.0f} hours of attempts a "
                f"month, so the protocol needs about **{c['sdrs_needed']:.1f} SDRs** at today's pace."
                if c.get("sdrs_needed") is not None else
                f"this period the team logged {c['today_hours_per_month']:,.0f} hours of attempts a month; how many SDRs "
                "that is is not available (the export does not say who made the attempts).")
        L.append(f"At this period's {c['mqls_per_month']:,.0f} MQLs a month (the MQLs that arrived, whatever marketing "
                 f"promises above) the protocol needs about **{c['attempts_per_month']:,.0f} "
                 f"attempts, {c['hours_per_month']:,.0f} SDR hours a month**; " + team
                 + (" **The promise cannot be kept with today's team**: add SDRs or lower the touches." if c["flag"] else "")
                 + " This counts the hours the proposed touches take; the SLA compliance page sizes the team two other "
                 "ways, by the SQLs it must produce and by the active MQLs each SDR can keep track of.")
    else:
        L.append(f"Capacity: not available ({c['reason']}).")
    L += ["", "## 6. What we review every month", "",
          "The promises of this agreement, each judged every month by the report's scorecard exactly as written here "
          "(but acceptance, which the report cannot judge until the CRM records when sales accepted an MQL):", "",
          *ct.promises_table(cfg, p), "", "Figures we watch beside them (a drift of more than "
          f"{cfg.review_tolerance:.0%} from its baseline brings the review forward):", "",
          "| Figure | Baseline | Owner |", "|---|---:|---|"]
    written = {"MQLs delivered a month": "{:,.0f}".format, "Value of an MQL (current mix)": lambda v: money(v, cfg.currency),
               "Attempts per contacted MQL": "{:,.1f}".format}  # the rest are shares
    for k in p["kpis"]:
        b = k["baseline"]
        txt = "not available" if b is None or not np.isfinite(b) else written.get(k["kpi"], "{:.1%}".format)(b)
        L.append(f"| {k['kpi']} | {txt} | {k['owner']} |")
    if p.get("baseline_window"):
        a, b = p["baseline_window"]
        L += ["", f"Baselines: MQLs a month and the value of an MQL from {p['period']}; the shares from the MQLs created "
                  f"{a} to {b}, whose outcome is known; attempts per contacted MQL is what the "
                  "proposed touches imply."]
    L += ["", "## 7. Review", ""]
    L.append((f"The current SLA's review was due on {r['current_review_due']}: this proposal is that review. " if r["due_now"] else "")
             + f"Next review: **{r['next_review']}** (every {r['every_months']} months, or sooner when a monthly figure drifts "
             f"more than {cfg.review_tolerance:.0%} from its baseline).")
    L += ["", *ct.contract_sections(cfg, p, reasons, undecided_share)]
    L += ["## What answering faster is worth", ""]
    if speed["adjusted_available"]:
        g = {x["target"]: x for x in speed["revenue_gained"]}
        if sv.REFERENCE in g:
            x = g[sv.REFERENCE]
            who = f"{x['tiers']}-tier " if speed.get("notes") and x.get("tiers") else ""
            if x["extra_conversions_low"] > 0:
                L.append(f"Answering every {who}MQL now answered later than an hour within the hour would bring about "
                         f"{x['extra_conversions_per_month']:.1f} more opportunities a month (interval "
                         f"{x['extra_conversions_low']:.1f}–{x['extra_conversions_high']:.1f}), worth "
                         f"{_money(x['revenue_per_month'], cur)} a month.")
            else:
                L.append(f"Answering every {who}MQL now answered later than an hour within the hour might bring about "
                         f"{x['extra_conversions_per_month']:.1f} more opportunities a month, but the interval "
                         f"({x['extra_conversions_low']:.1f} to {x['extra_conversions_high']:.1f}) includes no gain: this "
                         "history cannot show that answering faster pays.")
        L.append(sv.observational_note(speed.get("not_held_equal"), speed.get("too_many_groups")) + " "
                 + sv.comparison_with_published(pd.DataFrame(speed["adjusted"])))
    else:
        L.append(f"Not available: {speed['reason']}.")
    L += ["", "## Parts this data could not fill", ""]
    L += [f"- {x}" for x in p["not_filled"]] or ["- none"]
    L += ["", ct.signatures(cfg), ""]
    return "\n".join(L)


def agreement_for_page(text: str) -> str:
    """:func:`proposal_markdown` as page 07 shows it: without its title, and without the section on
    what answering faster is worth, which the page shows above it in full."""
    body = text.split("\n", 2)[2]
    head, sep, rest = body.partition("## What answering faster is worth")
    return head + rest[rest.index("## Parts this data could not fill"):] if sep else body


def protocol_table(proposal: dict, current_in_working_hours: bool = False) -> pd.DataFrame:
    """The proposed protocol per tier beside the current one (response window, touches, timeframe),
    each window with the hours it counts (``window_hours_are`` / ``current_window_hours_are``:
    working or clock hours)."""
    def unit(working: bool) -> str:
        return "working hours" if working else "clock hours"
    return pd.DataFrame([{"tier": t, "response_hours": r["response_hours"]["value"],
                          "window_hours_are": unit(bool(r["response_hours"].get("working_hours"))),
                          "touches": r["touches"]["value"], "timeframe_days": r["timeframe_days"]["value"],
                          "current_response_hours": r["current"]["response_hours"],
                          "current_window_hours_are": unit(current_in_working_hours),
                          "current_touches": r["current"]["touches"], "current_timeframe_days": r["current"]["timeframe_days"]}
                         for t, r in proposal["sales"]["tiers"].items()])
