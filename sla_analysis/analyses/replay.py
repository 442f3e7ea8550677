"""The last period replayed under a proposed SLA: the price of a promise before anyone signs it.

Two questions, each answered from the period's own MQLs and attempts:

1. **Would the period have kept the proposed promises?** The period's MQLs judged against the
   proposed windows and touches exactly as the next period's scorecard will judge them: the same
   functions (:func:`sla_analysis.analyses.compliance.speed_to_lead`,
   :func:`~sla_analysis.analyses.compliance.cadence_table`,
   :func:`sla_analysis.analyses.scorecard.sales_promises`) with the proposed config, so a window
   written in working hours is counted in working hours. Beside each, today's judgement.
2. **What staffing would the proposed windows take?** A stated model of first-touch capacity:
   every MQL gets its first touch (``hours_per_touch`` of an SDR's time, at the measured dialling
   pace) in the working hour it arrives in, or, arriving outside working hours, in the first working
   hour after. Then every MQL is touched within any window of at least one working hour. The SDR
   hours needed in each weekday and hour are ``MQLs served in that hour / weeks in the period x
   hours_per_touch``; the busiest hour says how many SDRs must be on first touches at once. Follow-up
   touches are not in it (the proposal's capacity section counts them); holidays are not either.
   Working time is read by half hour (business hours may start or end on one).
"""
from __future__ import annotations

from datetime import datetime

import ibis
import numpy as np
import pandas as pd

from sla_analysis.analyses import compliance as cp
from sla_analysis.config import WEEKDAYS, BusinessHours


def compared_promises(current: list[dict], proposed: list[dict]) -> pd.DataFrame:
    """Sales' promises of the period under today's SLA and under the proposed one, side by side
    (matched by promise): ``promise``, ``current_*`` and ``proposed_*`` (``text``, ``actual``,
    ``n``, ``status``, ``unit``, ``window``). Marketing's promise is not replayed: the proposal
    keeps its form."""
    now = {p["promise"]: p for p in current if p.get("side") == "sales"}
    rows = []
    for p in proposed:
        if p.get("side") != "sales":
            continue
        c = now.get(p["promise"], {})
        row = {"promise": p["promise"]}
        for prefix, q in (("current", c), ("proposed", p)):
            row.update({f"{prefix}_{k}": q.get(k) for k in ("text", "actual", "n", "status", "unit", "window")})
        rows.append(row)
    columns = ["promise", *(f"{p}_{k}" for p in ("current", "proposed")
                            for k in ("text", "actual", "n", "status", "unit", "window"))]
    return pd.DataFrame(rows, columns=columns)


def mql_arrivals(crm, start: datetime, stop: datetime, timezone: str = "UTC") -> pd.DataFrame:
    """The MQLs of ``[start, stop)`` by local weekday (0 = Monday), hour and half hour (``half`` 0:
    minutes 0-29, 1: 30-59) of their MQL moment in ``timezone``: the full 7 x 48 grid (``weekday``,
    ``weekday_name``, ``hour``, ``half``, ``mqls``). Half hours, because business hours often start
    or end on one (08:30, 17:30)."""
    m = cp.mql_leads(crm, start, stop)
    wall = cp.local_time(m.mql_at, timezone)
    m = m.mutate(weekday=wall.day_of_week.index(), hour=wall.hour(), half=ibis.ifelse(wall.minute() >= 30, 1, 0))
    agg = m.group_by(["weekday", "hour", "half"]).aggregate(mqls=m.count()).to_pandas()
    grid = pd.MultiIndex.from_product([range(7), range(24), range(2)], names=["weekday", "hour", "half"]).to_frame(index=False)
    out = grid.merge(agg, on=["weekday", "hour", "half"], how="left").fillna({"mqls": 0})
    out["mqls"] = out.mqls.astype(int)
    out.insert(1, "weekday_name", [WEEKDAYS[d] for d in out.weekday])
    return out


def is_working_slot(weekday: int, slot: int, bh: BusinessHours | None) -> bool:
    """Whether the half hour ``slot`` (0 = 00:00-00:30, ..., 47) of ``weekday`` is working time: it
    starts at or after the day's start and ends by its end (always, without business hours)."""
    return bh is None or (weekday in bh.days and bh.start_hour <= slot / 2 and slot / 2 + 0.5 <= bh.end_hour)


def serving_slot(weekday: int, slot: int, bh: BusinessHours | None) -> tuple[int, int]:
    """The working half hour in which an MQL arriving in ``weekday``'s half hour ``slot`` gets its
    first touch: that one when it is working time, else the first working half hour after."""
    for step in range(7 * 48):
        s = slot + step
        d, s = (weekday + s // 48) % 7, s % 48
        if is_working_slot(d, s, bh):
            return d, s
    raise ValueError("business hours without a working half hour")


def first_touch_staffing(arrivals: pd.DataFrame, bh: BusinessHours | None, hours_per_touch: float,
                         weeks: float) -> pd.DataFrame:
    """SDR hours a week needed on first touches in each weekday and hour (the module's staffing
    model), from a :func:`mql_arrivals` grid: ``mqls`` arrived in the hour, ``working`` (any of
    it is working time), ``served`` = MQLs whose first touch falls in that hour over the period,
    ``sdr_hours_per_week = served / weeks x hours_per_touch`` (also the SDRs needed on first
    touches during that hour, on average over the period's weeks)."""
    served: dict[tuple[int, int], int] = {}
    for r in arrivals[arrivals.mqls > 0].itertuples():
        d, slot = serving_slot(int(r.weekday), 2 * int(r.hour) + int(r.half), bh)
        served[(d, slot // 2)] = served.get((d, slot // 2), 0) + int(r.mqls)
    out = arrivals.groupby(["weekday", "weekday_name", "hour"], as_index=False).mqls.sum()
    out["working"] = [is_working_slot(int(d), 2 * int(h), bh) or is_working_slot(int(d), 2 * int(h) + 1, bh)
                      for d, h in zip(out.weekday, out.hour)]
    out["served"] = [served.get((int(d), int(h)), 0) for d, h in zip(out.weekday, out.hour)]
    out["sdr_hours_per_week"] = out.served / weeks * hours_per_touch if weeks > 0 else np.nan
    return out


def after_hours_share(arrivals: pd.DataFrame, bh: BusinessHours | None) -> float:
    """The share of MQLs that arrived outside working time (by half hour)."""
    outside = [not is_working_slot(int(d), 2 * int(h) + int(x), bh)
               for d, h, x in zip(arrivals.weekday, arrivals.hour, arrivals.half)]
    total = arrivals.mqls.sum()
    return float(arrivals.mqls[outside].sum() / total) if total else float("nan")


def staffing_summary(grid: pd.DataFrame, hours_per_touch: float, pace_source: str, outside_share: float) -> dict:
    """The busiest hour, the SDRs it needs on first touches at once, and the first-touch hours a week."""
    if not len(grid) or not grid.served.sum():
        return {"available": False, "reason": "no MQL arrived in the period"}
    busiest = grid.loc[grid.sdr_hours_per_week.idxmax()]
    return {"available": True, "hours_per_first_touch": hours_per_touch, "pace_source": pace_source,
            "first_touch_hours_per_week": float(grid.sdr_hours_per_week.sum()),
            "busiest_hour": {"weekday": str(busiest.weekday_name), "hour": int(busiest.hour),
                             "sdrs_on_first_touches": float(busiest.sdr_hours_per_week)},
            "after_hours_share": outside_share}


def replay_sentence(promises: pd.DataFrame | None, staffing: dict) -> str:
    """What the replay says, in a sales leader's words (``promises`` None: none could be judged)."""
    text = ""
    if promises is not None and len(promises):
        kept = int((promises.proposed_status == "met").sum())
        judged = int(promises.proposed_status.isin(["met", "missed"]).sum())
        today = int((promises.current_status == "met").sum())
        text = (f"Had the proposed SLA applied to this period, sales would have kept **{kept} of its {judged} judged "
                f"promises** (today's SLA: {today} kept)." if judged else
                "No sales promise of the proposal can be judged on this period (each row says why).")
    if staffing.get("available"):
        b = staffing["busiest_hour"]
        text += (f" Touching every MQL within its window takes about **{staffing['first_touch_hours_per_week']:,.1f} SDR hours "
                 f"a week of first touches**; the busiest hour ({b['weekday'].capitalize()} {b['hour']:02d}:00) needs "
                 f"{b['sdrs_on_first_touches']:.1f} SDRs on first touches at once.")
    return text.strip()
