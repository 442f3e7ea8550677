"""Page 07's figures: the value of answering faster and the proposed SLA, built from the figures
the other pages show (the same cap, MQL values, work cost, score bands and return path)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import yaml

from sla_analysis.analyses import compliance as cp
from sla_analysis.analyses import handoff as hd
from sla_analysis.analyses import proposal as pr
from sla_analysis.analyses import replay as rp
from sla_analysis.analyses import speed_value as sv
from sla_analysis.config import BusinessHours, SLAConfig, config_from_dict
from sla_analysis.figures.compliance import cadence, judged_promises, speed_table
from sla_analysis.figures.graph import figure
from sla_analysis.formats import to_json
from sla_analysis.results import Result

PAGE = ("07_proposed_sla",)


@figure(pages=PAGE)
def speed_resamples() -> int:
    """Bootstrap resamples of the value of answering faster (its intervals)."""
    return 200


@figure(pages=PAGE)
def speed_counts(crm, settled_window, as_of) -> pd.DataFrame:
    """Settled MQLs by time to first attempt, tier and what the export knows of them before the
    first attempt (source, score band, owner, segment, arrival time), converted or not."""
    return sv.speed_counts(crm, *settled_window, as_of)


@figure(pages=PAGE)
def conversion_by_first_touch(speed_counts, cfg) -> pd.DataFrame:
    """The share of settled MQLs that became opportunities, by time to first attempt (raw, not adjusted)."""
    return sv.conversion_by_band(speed_counts, cfg.confidence_level, cfg.min_group_size)


@figure(pages=PAGE)
def speed_effect(speed_counts, settled_window, cfg, limits, crm, speed_resamples) -> sv.SpeedEffect:
    """Conversion by time to first attempt relative to within the hour, adjusted for what the
    export knows before the first attempt, with overlap checked and priced per tier; the money is
    unknown without deal amounts."""
    months = hd.months_between(*settled_window)
    why = cp.speed_unavailable(limits)
    if why:
        return sv.SpeedEffect(pd.DataFrame(), pd.DataFrame(), pd.DataFrame(), float("nan"), months, 0, why)
    effect = sv.adjusted_effect(speed_counts, months, cfg.confidence_level, cfg.min_group_size, speed_resamples,
                                cfg.random_seed % 2**32)
    if not crm.profile.has("amounts") and not effect.reason:  # extra conversions stand; their money is unknown
        effect.gains[[c for c in effect.gains.columns if c.startswith("revenue")]] = np.nan
        effect.value_per_conversion = float("nan")
    return effect


@figure(pages=PAGE)
def proposal_inputs(crm, cfg, period, settled_window, mql_value_by_source, source_mix, attempt_cap,
                    mql_work_cost, mql_types, score_bands, best_threshold, return_path, speed_counts,
                    conversion_by_first_touch, speed_effect, limits) -> pr.Inputs:
    """Everything the proposal is built from (:func:`sla_analysis.analyses.proposal.inputs_from`)."""
    return pr.inputs_from(crm, cfg, period, settled_window, mql_value_by_source, source_mix[0],
                          attempt_cap, mql_work_cost, mql_types, score_bands, best_threshold, return_path,
                          speed_counts, conversion_by_first_touch, speed_effect, limits)


@figure(pages=PAGE, summary="proposal")
def proposal(proposal_inputs) -> dict:
    """``summary.json["proposal"]``: every component of the proposed SLA, with what it could not fill."""
    return to_json(pr.assemble(proposal_inputs))


@figure(pages=PAGE, summary="speed_to_lead_value")
def speed_to_lead_value(proposal_inputs) -> dict:
    """``summary.json["speed_to_lead_value"]``: what answering within the hour is worth a month."""
    return to_json(pr.speed_summary(proposal_inputs))


@figure(pages=PAGE)
def sla_proposal_text(cfg, proposal, speed_to_lead_value, rejections) -> str:
    """``sla_proposal.md``: the proposed agreement in words, with the sections that make it a
    contract (the rejection reason codes and the MQLs left without a decision from page 06)."""
    reasons, undecided = None, None
    if rejections:
        r = rejections.get()
        if r["reasons"] is not None:
            reasons = [x for x in r["reasons"].reason if x != "(not recorded)"]
        rows = r["outcomes"].set_index("outcome")
        if "contacted, no decision recorded" in rows.index:
            undecided = float(rows.loc["contacted, no decision recorded", "share"])
    return pr.proposal_markdown(cfg, proposal, speed_to_lead_value, reasons, undecided)


@figure(pages=PAGE)
def proposal_config(cfg, proposal) -> str:
    """``proposal.yml``: the config that adopts the proposal."""
    return pr.proposal_yaml(cfg, proposal)


@figure(pages=PAGE)
def proposed_config(proposal_config) -> SLAConfig:
    """The proposal as next period's config: ``proposal.yml`` read exactly as adopting it would."""
    return config_from_dict(yaml.safe_load(proposal_config))


@figure(pages=PAGE)
def replayed_promises(crm, proposed_config, period, period_start, as_of, judged_until, limits, promises) -> Result:
    """Sales' promises of the period judged under the proposed SLA exactly as the next scorecard
    will (its windows in their own units, its touches), beside today's judgement."""
    speed = speed_table(crm, proposed_config, period_start, as_of, judged_until)
    cad = cadence(crm, proposed_config, period_start, as_of, judged_until)
    table = rp.compared_promises(promises, judged_promises(proposed_config, speed, cad, limits))
    if not len(table):
        return Result.absent(f"no lead became an MQL in {period.label} and no lead's follow-up time ended in it, so no "
                             "sales promise can be judged on it")
    return Result.of(table)


@figure(pages=PAGE)
def first_touch_staffing(crm, proposed_config, cfg, period_start, as_of, judged_until, dialling_pace, limits) -> Result:
    """SDR hours a week needed on first touches by weekday and hour for every MQL to be touched
    within the proposed windows (the staffing model of :mod:`sla_analysis.analyses.replay`)."""
    why = limits.get("first_touch")
    moment = "mql_at" if crm.has("leads", "mql_at") else "created_at"
    column = crm.profile.column("leads", moment)
    if not why and not (column and column.timed):
        why = f"the leads' {moment.replace('_', ' ')} holds dates without a time of day, so the hour an MQL arrived is unknown"
    if why:
        return Result.absent(why)
    bh = BusinessHours.from_config(proposed_config.business_hours)
    zone = bh.timezone if bh else (cfg.business_hours or {}).get("timezone", "UTC")
    pace = float(dialling_pace.iloc[-1].calls_per_hour_dialling) if len(dialling_pace) else float("nan")
    measured = np.isfinite(pace) and pace > 0 and not limits.get("attempt_time")
    per_hour, source = (pace, "measured") if measured else (float(cfg.calls_per_hour), "assumed")
    arrivals = rp.mql_arrivals(crm, period_start, judged_until, zone)
    weeks = (judged_until - period_start).total_seconds() / (7 * 86400)  # the weeks the data covers
    if weeks <= 0 or not arrivals.mqls.sum():  # nothing to staff for: no chart of zeros
        return Result.absent(f"no lead became an MQL from {period_start:%d %b %Y} to the end of the data "
                             f"({judged_until:%d %b %Y})")
    grid = rp.first_touch_staffing(arrivals, bh, 1 / per_hour, weeks)
    grid.attrs["summary"] = rp.staffing_summary(grid, 1 / per_hour, source, rp.after_hours_share(arrivals, bh))
    return Result.of(grid)


@figure(pages=PAGE, summary="replay")
def replay_section(replayed_promises, first_touch_staffing) -> dict:
    """``summary.json["replay"]``: the period under the proposed SLA, promise by promise, and the
    first-touch staffing its windows take."""
    staffing = (first_touch_staffing.get().attrs["summary"] if first_touch_staffing
                else {"available": False, "reason": first_touch_staffing.reason})
    promises = replayed_promises.get().to_dict("records") if replayed_promises else []
    return {"promises": promises, "staffing": staffing,
            **({} if replayed_promises else {"reason": replayed_promises.reason})}


#: the three ways the report counts the SDRs a volume needs, in words (what each one limits)
HEADCOUNT_WAYS = {"sql_output": "the SQLs each SDR can produce a month",
                  "workload": "the active MQLs each SDR can keep track of",
                  "hours": "the hours the proposed touches take at today's pace"}


@figure(pages=PAGE, summary="sdr_headcount")
def sdr_headcount(sdr_plan, proposal) -> dict:
    """The one SDR headcount the report states: the largest of the three counts (by SQL output,
    by workload, by the hours the proposed touches take), since the constraint that binds decides;
    a range where the binding count is one (the workload's per-SDR band)."""
    cap, _, _, headcount = sdr_plan
    counts = {"sql_output": (headcount.get("sdrs_by_sql_output"),) * 2}
    if len(cap):
        low, high = headcount.get("sdrs_by_active_mqls_low"), headcount.get("sdrs_by_active_mqls_high")
        finite = [v for v in (low, high) if v is not None and np.isfinite(v)]  # a band of 0 MQLs per SDR has no end
        if finite:
            counts["workload"] = (min(finite), max(finite))
    capacity = proposal.get("capacity") or {}
    if capacity.get("available") and capacity.get("sdrs_needed") is not None:
        counts["hours"] = (capacity["sdrs_needed"],) * 2
    known = {k: v for k, v in counts.items() if v[0] is not None and np.isfinite(v[0])}
    today = int((cap.owner_id != "(none)").sum()) if len(cap) else capacity.get("today_sdrs")
    if not known:
        return {"available": False, "reason": "the MQLs a month are unknown, so the headcount they need is too"}
    binding = max(known, key=lambda k: known[k][0])
    low, high = known[binding]
    return {"available": True, "sdrs_needed": [low, high], "binding": binding, "binding_words": HEADCOUNT_WAYS[binding],
            "by": {k: list(v) for k, v in known.items()}, "sdrs_today": today}
