"""The SLA scorecard: one line per promise, each marked met, missed, or not judged.

A promise is *met* when the measured figure reaches its target; *not judged* when the sample is too
small (fewer than ``min_n`` leads) or the figure is missing; *not available* when the export lacks
what the figure needs (no attempts logged, no deal amounts). The lines are plain data (JSON in
``summary.json`` under ``compliance.promises``) that the index page renders.
"""
from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from sla_analysis.formats import money, pct, pct_against


def period_progress(start: datetime, end: datetime, data_end: datetime, data_start: datetime | None = None) -> float:
    """Share of the period the data covers:
    ``clip((min(end, data_end) - max(start, data_start)) / (end - start), 0, 1)``."""
    span = (end - start).total_seconds()
    lo = max(start, data_start) if data_start is not None else start
    covered = (min(end, data_end) - lo).total_seconds()
    return float(np.clip(covered / span, 0.0, 1.0)) if span > 0 else 1.0


def period_sentence(label: str, start: datetime, end: datetime, data_end: datetime, progress: float, mqls: int) -> str:
    """The line that opens page 05: the period, how much of it the data covers, its MQLs."""
    last_day = data_end - timedelta(microseconds=1)  # the data reaches the end of its last day
    covered = (f"The data covers **{progress:.0%} of it** (up to and including {last_day:%d %b %Y}): figures are as of then, targets "
               "pro rata. " if progress < 1 else "The data covers all of it. ")
    return f"{label} runs from {start:%d %b %Y} to {end:%d %b %Y}. {covered}**{mqls:,} leads became MQLs** in the period."


def not_available(side: str, promise: str, why: str) -> dict:
    """A promise the data cannot judge at all (e.g. no attempts logged, no deal amounts)."""
    return {"side": side, "promise": promise, "text": f"{promise[0].upper()}{promise[1:]}: not available ({why})",
            "actual": None, "target": None, "status": "not available", "reason": why}


def _status(actual: float, target: float, n: int | None, min_n: int) -> str:
    if actual is None or not np.isfinite(actual) or (n is not None and n < min_n):
        return "not judged"
    return "met" if actual >= target else "missed"


def marketing_promise(delivered_value: float, monthly_target: float, months: int, progress: float,
                      currency: str) -> dict:
    """Marketing's promise: the MQL value delivered in the period against ``monthly_target x months``,
    pro rata to the share of the period the data covers (``progress``) while it is in progress."""
    due = monthly_target * months * progress
    if progress <= 0:
        return {"side": "marketing", "promise": "MQL value delivered", "actual": None, "target": None,
                "text": "Marketing's MQL value cannot be judged: the data does not cover the period",
                "status": "not judged"}
    # the SLA writes marketing's promise as the value of the MQLs it delivers: their expected value
    # (each MQL at its source's value per MQL, from settled history), not revenue already won
    text = (f"Marketing delivered MQLs with an expected value of {money(delivered_value, currency)} against "
            f"{money(due, currency)} due" + ("" if progress >= 1 else f" so far ({progress:.0%} of the period)"))
    return {"side": "marketing", "promise": "MQL value delivered", "text": text, "actual": delivered_value,
            "target": due, "status": _status(delivered_value / due if due > 0 else np.nan, 1.0, None, 0)}


def marketing_judgement(delivered: pd.DataFrame, monthly_target: float, months: int, progress: float, currency: str,
                        limits: dict, settled: tuple[datetime, datetime]) -> dict:
    """Marketing's promise for page 05 and the index: not available when the export has no deal
    amounts (``limits.revenue``) or when no MQL of the settled window (``settled``) shows what an MQL
    is worth (every month's value NaN: the period comes before any settled MQL); otherwise
    :func:`marketing_promise` on the months' summed value. Never a $0 judged as a miss."""
    if "revenue" in limits:
        return not_available("marketing", "MQL value delivered", limits["revenue"])
    known = delivered.mqls.notna() if len(delivered) else pd.Series(dtype=bool)
    if len(delivered) and not known.any():
        return not_available("marketing", "MQL value delivered",
                             "the export's leads end before the period, so the MQLs it delivered are unknown")
    if len(delivered) and delivered.value[known].isna().all():
        return not_available("marketing", "MQL value delivered",
                             f"no MQL created from {settled[0]:%d %b %Y} to {settled[1]:%d %b %Y} is old enough to show "
                             "what an MQL is worth")
    if len(delivered) and not known.all():  # judged on the months the export's leads reach, due pro rata
        progress = min(progress, float(known.sum()) / len(delivered))
    return marketing_promise(float(delivered.value.sum()), monthly_target, months, progress, currency)


def speed_to_lead_promises(table: pd.DataFrame, target_share: float, min_n: int,
                           working_hours: bool = False) -> list[dict]:
    """Sales' promise per tier: the share of decided MQLs first touched within the tier's window
    (a :func:`sla_analysis.analyses.compliance.speed_to_lead` frame by tier) against ``target_share``,
    judged exactly as the SLA writes it: in working hours when it sets business hours
    (``working_hours``: the frame's ``share_within_bh`` over ``decided_bh``), with the clock-hour
    share beside it; in clock hours otherwise. Each promise carries its ``unit``."""
    out = []
    for r in table[table.tier != "all"].itertuples():  # in the table's order (the config's tiers)
        if working_hours:
            share, n, unit = r.share_within_bh, int(r.decided_bh), "working hours"
            other = f"; {pct(r.share_within, 0)} counting clock hours"
        else:
            share, n, unit, other = r.share_within, int(r.decided), "clock hours", ""
        status = _status(share, target_share, n, min_n)
        out.append({"side": "sales", "promise": f"speed to lead, {r.tier} tier",
                    "text": (f"Sales contacted {pct_against(share, target_share)} of {r.tier}-tier MQLs within {r.response_hours:g} "
                             f"{unit} (target {target_share:.0%}; {n:,} MQLs{other})"),
                    "actual": share, "target": target_share, "n": n, "status": status, "unit": unit,
                    "window": float(r.response_hours),
                    **({"actual_clock_hours": r.share_within} if working_hours else {})})
    return out


def cadence_promises(table: pd.DataFrame, target_share: float, min_n: int) -> list[dict]:
    """Sales' promise per tier: the share of leads worked to protocol or converted before it (a
    :func:`sla_analysis.analyses.compliance.cadence_table` frame by tier) against ``target_share``."""
    out = []
    for r in table.itertuples():
        # kept the protocol (compliance's kept_protocol): worked to it, or converted before it was done
        share = (r.to_protocol + r.converted_early) / r.leads if r.leads else np.nan
        out.append({"side": "sales", "promise": f"follow-up cadence, {r.tier} tier",
                    "text": (f"{pct_against(share, target_share)} of {r.tier}-tier leads got the protocol's {r.protocol_touches:g} touches "
                             f"or converted before (target {target_share:.0%}; {int(r.leads):,} leads)"),
                    "actual": share, "target": target_share, "n": int(r.leads), "status": _status(share, target_share, int(r.leads), min_n)})
    return out


def sales_promises(stl: pd.DataFrame, cad: pd.DataFrame, speed_target: float, cadence_target: float, min_n: int,
                   limits: dict[str, str], working_hours: bool = False) -> list[dict]:
    """Sales' promises (speed to lead and cadence per tier), or "not available" for both when the
    export has no attempts (for speed to lead alone when it does not record first touches). Speed
    to lead in working hours when the SLA sets business hours (``working_hours``)."""
    if "attempts" in limits:
        return [not_available("sales", p, limits["attempts"]) for p in ("speed to lead", "follow-up cadence")]
    speed = ([not_available("sales", "speed to lead", limits["first_touch"])] if "first_touch" in limits
             else speed_to_lead_promises(stl[stl.mqls > 0], speed_target, min_n, working_hours))
    return [*speed, *cadence_promises(cad[cad.leads > 0], cadence_target, min_n)]


def compliance_summary(stl: pd.DataFrame, cad: pd.DataFrame, marketing: dict, promises: list[dict],
                       as_of: datetime, progress: float, working_hours: dict | None = None) -> dict:
    """``summary.json["compliance"]``: as of when, how much of the period the data covers, MQLs,
    the share first touched within the window per tier, speed to lead per tier (counts, interval,
    median and 90th percentile hours), cadence to protocol per tier, marketing's delivered value and
    what was due, every promise, and the working hours read from the attempts with the share of MQLs
    arriving outside them (``working_hours``, when the windows are clock hours)."""
    return {"as_of": f"{as_of:%Y-%m-%d %H:%M}", "period_progress": progress,
            "mqls": int(stl.loc[stl.tier == "all", "mqls"].sum()),
            "first_touch_within_window": {r.tier: r.share_within for r in stl[(stl.tier != "all") & (stl.decided > 0)].itertuples()},
            "speed_to_lead": {r.tier: {"mqls": r.mqls, "decided": r.decided, "within": r.within, "pending": r.pending,
                                       "never_contacted": r.never_contacted,
                                       "share_within_ci": [r.share_within_low, r.share_within_high],
                                       "median_hours": r.median_hours, "p90_hours": r.p90_hours} for r in stl.itertuples()},
            "cadence_to_protocol": {r.tier: r.share_to_protocol for r in cad[cad.leads > 0].itertuples()},
            "cadence_kept": {r.tier: {"share": r.share_kept_protocol, "n": int(r.leads),
                                      "interval": [r.share_kept_protocol_low, r.share_kept_protocol_high]}
                             for r in cad[cad.leads > 0].itertuples()},
            "marketing_delivered": marketing["actual"], "marketing_due": marketing["target"], "promises": promises,
            "working_hours": working_hours}
