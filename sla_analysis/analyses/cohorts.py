"""Stale-lead cohorts and the lead profiles the attempt-cap analysis needs, built in the engine.

Definitions (all as of a cut-off time ``as_of``, normally the end of the period, so a report for
a past period gives the same figures whatever was logged afterwards):

* a lead *enters* the pipeline at ``mql_at`` (``created_at`` when the export has no MQL dates;
  leads without an MQL date are not MQLs and are left out);
* its *outcome* is decided by its deals created before ``as_of``: it *converted* when it has a
  deal (an opportunity); a deal counts as won or lost only if it closed before ``as_of``
  (or has no ``closed_at``), otherwise it is still open. The lead is **won** if any of its deals
  is won, else **open** if any is open, else **lost**; ``revenue`` = the won deals' amounts;
* its *attempts* are its activities before ``as_of`` and, for a converted lead, up to and
  including the first deal's ``created_at``: attempts after conversion do not count (the SDR
  stops; later touches belong to the deal);
* a lead is *stale* when it entered at least ``stale_after_days`` before ``as_of``: its outcome
  has had time to settle (the seeds' cohorts use stale leads only);
* a lead is *censored* (still being worked, outcome unknown) when its deal is still open, or when
  it has no deal and is not stale yet.

Per-lead tables stay Ibis expressions; only cohort-level results reach pandas.
"""
from __future__ import annotations

from datetime import datetime, timedelta

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from sla_analysis.analyses import cost
from sla_analysis.analyses.lead_value import settled_window
from sla_analysis.analyses.stats import rate_table, shrunk_rates
from sla_analysis.config import SLAConfig
from sla_analysis.formats import crm_text, pct
from sla_analysis.io.engine import CRM

_GROUP_COLUMNS = ("source", "segment", "tier")


def cohort_window(as_of: datetime, stale_after_days: int, lookback_days: int) -> tuple[datetime, datetime]:
    """Stale leads: entered in ``[as_of - stale - lookback, as_of - stale)``, the same window as the
    settled MQLs of :func:`sla_analysis.analyses.lead_value.settled_window`."""
    return settled_window(as_of, stale_after_days, lookback_days)


def group_columns(crm: CRM) -> list[str]:
    """The lead attributes the export has, among source, segment and tier."""
    return [c for c in _GROUP_COLUMNS if crm.has("leads", c)]


def lead_outcomes(crm: CRM, as_of: datetime) -> ir.Table:
    """One row per lead with a deal created before ``as_of``: ``lead_id``, ``first_deal_at``,
    ``outcome`` (won / open / lost as of ``as_of``, see the module docstring) and ``revenue``
    (sum of won amounts; 0 when the export has no amounts)."""
    d = crm.deals.filter(crm.deals.created_at < as_of)
    closed = (d.closed_at.isnull() | (d.closed_at < as_of)) if crm.has("deals", "closed_at") else ibis.literal(True)
    stage = ibis.cases((closed & (d.stage == "won"), "won"), (closed & (d.stage == "lost"), "lost"), else_="open")
    amount = d.amount.fill_null(0.0) if crm.has("deals", "amount") else ibis.literal(0.0)
    d = d.mutate(stage_as_of=stage, amount_=amount)
    per = d.group_by("lead_id").aggregate(
        first_deal_at=d.created_at.min(),
        any_won=(d.stage_as_of == "won").any(),
        any_open=(d.stage_as_of == "open").any(),
        revenue=d.amount_.sum(where=d.stage_as_of == "won"),
    )
    outcome = ibis.cases((per.any_won, "won"), (per.any_open, "open"), else_="lost")
    return per.select("lead_id", "first_deal_at", outcome=outcome, revenue=per.revenue.fill_null(0.0))


def _entered_leads(crm: CRM, start: datetime, stop: datetime) -> ir.Table:
    leads = crm.leads
    entered = leads.mql_at if crm.has("leads", "mql_at") else leads.created_at
    cols = {c: leads[c].fill_null("(none)") for c in group_columns(crm)}
    if _has_owners(crm):  # who worked the lead: a covariate of the attempt cap
        cols["owner"] = leads.owner_id.cast("string").fill_null("(none)")
    t = leads.select("lead_id", entered_at=entered, **cols)
    return t.filter(t.entered_at.notnull() & (t.entered_at >= start) & (t.entered_at < stop))


def _attempts_that_count(crm: CRM, start: datetime, stop: datetime, as_of: datetime) -> ir.Table:
    """Activities of leads entered in ``[start, stop)``, before ``as_of`` and not after the lead's
    first deal (no numbering: counting them needs no window)."""
    leads = _entered_leads(crm, start, stop).select("lead_id")
    out = lead_outcomes(crm, as_of).select("lead_id", "first_deal_at")
    a = crm.activities
    a = a.filter(a.occurred_at < as_of).semi_join(leads, "lead_id")
    a = a.left_join(out, "lead_id").drop("lead_id_right")
    return a.filter(a.first_deal_at.isnull() | (a.occurred_at <= a.first_deal_at))


def counted_attempts(crm: CRM, start: datetime, stop: datetime, as_of: datetime, numbered: bool = True) -> ir.Table:
    """The attempts that count, one row per activity of a lead entered in ``[start, stop)``:
    before ``as_of`` and not after the lead's first deal. Adds ``attempt_number`` (1, 2, … in
    time order) and ``hours_since_previous`` (null for the first), unless ``numbered`` is false
    (the numbering is a window over every attempt: on L, counting attempts by type took 2.1 s with it
    and 0.8 s without)."""
    a = _attempts_that_count(crm, start, stop, as_of)
    if not numbered:
        return a
    w = ibis.window(group_by="lead_id", order_by=["occurred_at", "activity_id"])
    prev = a.occurred_at.lag().over(w)
    return a.mutate(attempt_number=ibis.row_number().over(w) + 1,
                    # seconds as a double before dividing: Spark would make the quotient a decimal
                    hours_since_previous=(a.occurred_at.epoch_seconds() - prev.epoch_seconds()).cast("float64") / 3600.0)


def lead_table(crm: CRM, start: datetime, stop: datetime, as_of: datetime, stale_after_days: int) -> ir.Table:
    """One row per lead entered in ``[start, stop)``: its groups, ``attempts`` (counted as in
    :func:`counted_attempts`; by type see :func:`attempt_types`), ``converted`` (has a deal),
    ``outcome`` (won / open / lost / none), ``won``, ``revenue``, ``stale`` and ``censored``."""
    return crm.memo(("lead_table", start, stop, as_of, int(stale_after_days)),
                    lambda: _lead_table(crm, start, stop, as_of, stale_after_days))


def _lead_table(crm: CRM, start: datetime, stop: datetime, as_of: datetime, stale_after_days: int) -> ir.Table:
    leads = _entered_leads(crm, start, stop)
    acts = _attempts_that_count(crm, start, stop, as_of)
    n = acts.group_by("lead_id").aggregate(attempts=acts.count())
    out = lead_outcomes(crm, as_of)
    t = leads.left_join(n, "lead_id").drop("lead_id_right")
    t = t.left_join(out, "lead_id").drop("lead_id_right")
    stale = t.entered_at <= as_of - timedelta(days=int(stale_after_days))
    outcome = t.outcome.fill_null("none")
    return t.mutate(
        attempts=t.attempts.fill_null(0),
        converted=t.first_deal_at.notnull(),
        outcome=outcome,
        won=outcome == "won",
        revenue=t.revenue.fill_null(0.0),
        stale=stale,
        censored=(outcome == "open") | ((outcome == "none") & ~stale),
    )


def reached_recorded(crm: CRM) -> bool:
    """Whether the export says, call by call and in time order, which calls reached the lead (call
    outcomes and attempt times recorded, events not all dated one day)."""
    return crm.has("activities", "outcome") and not {"attempts", "outcomes", "attempt_time", "timeline"} & set(crm.limits())


def _connected_at(crm: CRM, start: datetime, stop: datetime, as_of: datetime) -> ir.Table:
    """Per lead reached by a call: ``connected_at`` = the number of counted attempts up to and
    including its first call with outcome ``connected`` (the attempt at which it was first reached)."""
    a = _attempts_that_count(crm, start, stop, as_of)
    first = (a.filter(a.outcome == "connected").group_by("lead_id")
             .aggregate(first_connected=ibis._.occurred_at.min()))
    j = a.inner_join(first, "lead_id")
    j = j.filter(j.occurred_at <= j.first_connected)
    return j.group_by("lead_id").aggregate(connected_at=j.count())


def lead_profiles(crm: CRM, start: datetime, stop: datetime, as_of: datetime, stale_after_days: int,
                  covariates: list[str] | None = None, reached: bool = False) -> pd.DataFrame:
    """The attempt-cap analysis's input (see :mod:`sla_analysis.analyses.plateau`), aggregated in the engine:
    one row per distinct ``(attempts, converted, won, revenue, censored, stale, *covariates)`` with
    its ``weight`` (number of leads). ``converted`` means a deal was created after the lead's last
    counted attempt; ``won`` that a deal was won by ``as_of`` (a customer, as on the stale-cohort
    page); ``revenue`` is what it won (0 if lost). With ``reached``, also ``connected_at``
    (:func:`_connected_at`; 0 for a lead no call reached), a key of the rows."""
    covariates = list(covariates or [])
    t = lead_table(crm, start, stop, as_of, stale_after_days)
    keys = ["attempts", "converted", "won", "revenue", "censored", "stale", *covariates]
    if reached:
        c = _connected_at(crm, start, stop, as_of)
        t = t.left_join(c, "lead_id").drop("lead_id_right")
        t = t.mutate(connected_at=t.connected_at.fill_null(0))
        keys.append("connected_at")
    agg = t.group_by(keys).aggregate(weight=t.count()).order_by(keys).to_pandas()
    if reached:
        agg["connected_at"] = agg["connected_at"].astype(np.int64)
    agg["attempts"] = agg["attempts"].astype(np.int64)
    agg["weight"] = agg["weight"].astype(np.int64)
    for c in ("converted", "won", "censored", "stale"):
        agg[c] = agg[c].astype(bool)
    agg["revenue"] = agg["revenue"].astype(float)
    return agg


def tail_start(attempt_counts: pd.Series, min_group_size: int, max_cohort: int = 20) -> int:
    """The first attempt count pooled into the tail bucket: the smallest ``k >= 2`` from which
    every cohort ``k, k+1, …`` is smaller than ``min_group_size`` (or ``max_cohort + 1``).
    ``attempt_counts`` maps attempts -> leads."""
    counts = attempt_counts[attempt_counts.index >= 1].sort_index()
    big = counts[counts >= min_group_size].index
    last_big = int(big.max()) if len(big) else 1
    return int(min(max(last_big + 1, 2), max_cohort + 1))


def cohort_label(attempts: np.ndarray, tail_from: int) -> list[str]:
    """``"0"``, ``"1"``, …, ``"≥T"`` labels for attempt counts."""
    return [f"≥{tail_from}" if a >= tail_from else str(int(a)) for a in np.asarray(attempts)]


def never_contacted_sentence(cohorts: pd.DataFrame) -> str:
    """The sentence under the chart of stale leads by attempts received: how many were never
    contacted (cohort 0) and, when the long groups were pooled (a ``≥T`` cohort), that the last bar
    pools them."""
    leads = int(cohorts.leads.sum())
    never = int(cohorts.loc[cohorts.cohort_order == 0, "leads"].sum())
    pooled = cohorts.cohort.astype(str).str.startswith("≥")
    tail = (f"; the last bar ({cohorts.cohort[pooled].iloc[0]}) pools the rare long groups" if pooled.any() else "")
    return f"**{never:,} stale leads ({never / leads:.1%})** were never contacted{tail}." if leads else ""


def stale_cohorts(crm: CRM, cfg: SLAConfig, as_of: datetime, by: str | None = None,
                  tail_from: int | None = None) -> pd.DataFrame:
    """Stale leads (see :func:`cohort_window`) grouped by attempts received (and ``by``).

    Per cohort: ``leads``, ``opportunities``, ``customers`` (won), ``conversion_rate`` =
    customers / leads with its Wilson interval and ``small_sample`` flag, ``revenue``,
    ``attempts`` (total), ``attempts_cost`` = Σ_type attempts × cost per attempt of the type
    (types without a configured rate are priced as calls), ``revenue_per_lead``,
    ``profit`` = revenue − attempts cost. Open deals stay in the counts (their outcome is not
    known yet: ``open_deals``). Cohorts from ``tail_from`` attempts on are pooled (``≥T``).
    """
    start, stop = cohort_window(as_of, cfg.stale_after_days, cfg.lookback_days)
    t = lead_table(crm, start, stop, as_of, cfg.stale_after_days)
    keys = ["attempts"] + ([by] if by else [])
    agg = t.group_by(keys).aggregate(
        leads=t.count(), opportunities=t.converted.sum(), customers=t.won.sum(),
        open_deals=(t.outcome == "open").sum(), revenue=t.revenue.sum(),
    ).to_pandas()
    types = cohort_attempt_types(crm, cfg, as_of, by)
    cost = types.groupby(keys, as_index=False)["cost"].sum()
    agg = agg.merge(cost, on=keys, how="left").fillna({"cost": 0.0})
    if tail_from is None:
        tail_from = tail_start(agg.groupby("attempts").leads.sum(), cfg.min_group_size)
    agg["cohort_order"] = np.minimum(agg.attempts, tail_from)
    agg["cohort"] = cohort_label(agg.attempts, tail_from)
    agg["attempts_total"] = agg.attempts * agg.leads
    gkeys = ["cohort_order", "cohort"] + ([by] if by else [])
    out = agg.groupby(gkeys, as_index=False)[
        ["leads", "opportunities", "customers", "open_deals", "revenue", "attempts_total", "cost"]].sum()
    out = out.rename(columns={"attempts_total": "attempts", "cost": "attempts_cost"})
    out = rate_table(out, "customers", "leads", cfg.confidence_level, cfg.min_group_size, prefix="conversion_rate")
    out["revenue_per_lead"] = out.revenue / out.leads
    out["profit"] = out.revenue - out.attempts_cost
    out["profit_per_lead"] = out.profit / out.leads
    return _unknown_as_unknown(crm, out).sort_values(([by] if by else []) + ["cohort_order"]).reset_index(drop=True)


def _unknown_as_unknown(crm: CRM, out: pd.DataFrame) -> pd.DataFrame:
    """What the export does not record is NaN, never a 0 standing for it: revenue and profit
    without deal amounts; attempts, their cost and profit without contact attempts (every lead
    then falls in one cohort, named so)."""
    profile = crm.profile
    if not profile.has("amounts"):
        out[["revenue", "revenue_per_lead", "profit", "profit_per_lead"]] = np.nan
    if not profile.has("attempts"):
        out[["attempts", "attempts_cost", "profit", "profit_per_lead"]] = np.nan
        out["cohort"] = "attempts not recorded"
    return out


def attempt_types(crm: CRM, cfg: SLAConfig, start: datetime, stop: datetime, as_of: datetime,
                  by: str | None = None, stale_only: bool = False) -> pd.DataFrame:
    """Counted attempts of leads entered in ``[start, stop)`` by the lead's ``attempts`` (exact
    count), attempt ``type`` (and ``by``), with each type's ``cost_per_attempt`` (hourly cost /
    the type's attempts per hour; the call rate for types the config does not price) and ``cost``
    (= n x cost_per_attempt)."""
    t = lead_table(crm, start, stop, as_of, cfg.stale_after_days)
    if stale_only:
        t = t.filter(t.stale)
    t = t.select("lead_id", "attempts", *([by] if by else []))
    a = crm.memo(("attempts_by_lead_and_type", start, stop, as_of),
                 lambda: _attempts_by_lead_and_type(crm, start, stop, as_of))
    j = a.join(t, "lead_id")
    keys = ["attempts", "type"] + ([by] if by else [])
    out = j.group_by(keys).aggregate(n=j.n.sum()).to_pandas()
    out["n"] = out["n"].astype(np.int64)
    out["cost_per_attempt"] = [cost.cost_per_attempt(cfg, x) or cost.assumed_cost_per_call(cfg) for x in out["type"]]
    out["cost"] = out.n * out.cost_per_attempt
    return out.sort_values(keys).reset_index(drop=True)


def _attempts_by_lead_and_type(crm: CRM, start: datetime, stop: datetime, as_of: datetime) -> ir.Table:
    """Counted attempts per lead and type (``lead_id``, ``type``, ``n``)."""
    a = _attempts_that_count(crm, start, stop, as_of)
    return a.group_by(["lead_id", "type"]).aggregate(n=a.count())


def cohort_attempt_types(crm: CRM, cfg: SLAConfig, as_of: datetime, by: str | None = None) -> pd.DataFrame:
    """:func:`attempt_types` for the stale leads of :func:`cohort_window`."""
    start, stop = cohort_window(as_of, cfg.stale_after_days, cfg.lookback_days)
    return attempt_types(crm, cfg, start, stop, as_of, by)


def types_summary(types: pd.DataFrame) -> pd.DataFrame:
    """Attempts, share, cost per attempt and cost per attempt type from an :func:`attempt_types` frame."""
    out = types.groupby("type", as_index=False).agg(attempts=("n", "sum"), cost_per_attempt=("cost_per_attempt", "first"),
                                                    cost=("cost", "sum"))
    out["share"] = out.attempts / out.attempts.sum() if len(out) else []
    return out.sort_values("attempts", ascending=False).reset_index(drop=True)


#: the columns page 01 shows per group (after the group's own column)
GROUP_COLUMNS = ["leads", "attempts_per_lead", "customers", "conversion_rate", "revenue_per_lead", "cost_per_lead",
                 "profit_per_lead"]


def group_summary(cohorts: pd.DataFrame, by: str, confidence: float = 0.95, min_n: int = 30) -> pd.DataFrame:
    """Per ``by`` group, totals over a :func:`stale_cohorts` ``by=`` table: leads, attempts per
    lead, customers, conversion rate (Wilson interval, ``small_sample`` flag), revenue per lead,
    attempts cost per lead and profit per lead."""
    g = cohorts.groupby(by, as_index=False)[["leads", "attempts", "customers", "revenue", "attempts_cost"]].sum(min_count=1)
    g = rate_table(g, "customers", "leads", confidence, min_n, prefix="conversion_rate")
    g["attempts_per_lead"] = g.attempts / g.leads
    g["revenue_per_lead"] = g.revenue / g.leads
    g["cost_per_lead"] = g.attempts_cost / g.leads
    g["profit_per_lead"] = g.revenue_per_lead - g.cost_per_lead
    return g


def group_sentence(summary: pd.DataFrame, by: str, label: str | None = None) -> str:
    """The sentence under a per-group chart (:func:`group_summary`): the groups that converted most
    and least often, ranked on rates shrunk toward the overall rate (small groups left out), and
    whether their intervals separate them (the lower bound of the first above the upper bound of the
    last). Empty when fewer than two groups are large enough to compare."""
    label = label or by
    ranked = summary[~summary.small_sample.astype(bool) & (summary.leads > 0)].copy()
    if len(ranked) < 2:
        return ""
    ranked["_shrunk"] = shrunk_rates(ranked.customers.to_numpy(), ranked.leads.to_numpy())
    ranked = ranked.sort_values(["_shrunk", by], ascending=[False, True])
    top, low = ranked.iloc[0], ranked.iloc[-1]
    apart = bool(top.conversion_rate_low > low.conversion_rate_high)
    say = lambda r: (f"{pct(r.conversion_rate)} of {int(r.leads):,} leads, "  # noqa: E731
                     f"interval {pct(r.conversion_rate_low)}–{pct(r.conversion_rate_high)}")
    panels = (f" Each panel of the chart is one {label}, by attempts received; like the chart above, it describes which "
              "leads got more calls, not what more calls did.")
    if not apart:
        return (f"The {label}s became customers alike, from {pct(ranked.conversion_rate.min())} to "
                f"{pct(ranked.conversion_rate.max())} of their leads: their intervals overlap, so the data does not tell "
                f"them apart." + panels)
    return (f"Of the {label}s, **{crm_text(top[by])}** leads became customers most often ({say(top)}) and "
            f"**{crm_text(low[by])}** least often ({say(low)}): the data separates the two." + panels)


def plateau_history(crm: CRM, cfg: SLAConfig, as_of: datetime) -> tuple[pd.DataFrame, list[str], float, datetime]:
    """What the attempt-cap analysis learns from, as of ``as_of``: the lead profiles of MQLs that
    entered from the stale window's start up to ``as_of`` (with :func:`plateau_covariates`), the
    covariates, the average cost of their counted attempts, and the window's start."""
    window_from, _ = cohort_window(as_of, cfg.stale_after_days, cfg.lookback_days)
    covariates = plateau_covariates(crm)
    profiles = lead_profiles(crm, window_from, as_of, as_of, cfg.stale_after_days, covariates,
                             reached=reached_recorded(crm))
    if "owner" in covariates:
        profiles = lumped_owners(profiles, cfg.min_group_size)
        if profiles.owner.nunique() < 2:  # one owner (or every lead with a small one): nothing to adjust for
            covariates = [c for c in covariates if c != "owner"]
            profiles = regrouped(profiles.drop(columns="owner"))
    cost = attempt_mix_cost(attempt_types(crm, cfg, window_from, as_of, as_of))
    return profiles, covariates, cost, window_from


def _has_owners(crm: CRM) -> bool:
    return crm.has("leads", "owner_id") and crm.profile.has("owners")


def plateau_covariates(crm: CRM) -> list[str]:
    """Covariates for the hazard model: the lead's tier, source and owner where the export has them.
    Tiers get different follow-up protocols, so leaving the tier out would confound the hazard with
    the protocol; reps differ in skill and in how long they keep calling, so leaving the owner out
    would credit the skilled reps' longer calling with their skill (the cap would come out too high)."""
    return [c for c in ("tier", "source") if crm.has("leads", c)] + (["owner"] if _has_owners(crm) else [])


#: owners the attempt cap tells apart (the largest; the others are one group, OTHER_OWNERS)
MAX_OWNERS = 12
OTHER_OWNERS = "(other owners)"


def lumped_owners(profiles: pd.DataFrame, min_leads: int) -> pd.DataFrame:
    """The profiles with small owners lumped: an owner keeps its own level when it has at least
    ``min_leads`` contacted leads and is among the :data:`MAX_OWNERS` largest; the others are one
    group (a level per small rep would be noise the model fits). Rows are re-aggregated (weights summed)."""
    contacted = profiles[profiles.attempts >= 1].groupby("owner").weight.sum().sort_values(ascending=False, kind="stable")
    keep = set(contacted[contacted >= min_leads].index[:MAX_OWNERS])
    out = profiles.assign(owner=profiles.owner.where(profiles.owner.isin(keep), OTHER_OWNERS))
    return regrouped(out)


def regrouped(profiles: pd.DataFrame) -> pd.DataFrame:
    keys = [c for c in profiles.columns if c != "weight"]
    return profiles.groupby(keys, as_index=False, sort=True, dropna=False).weight.sum()


def attempt_mix_cost(types: pd.DataFrame) -> float:
    """Average cost of a counted attempt: Σ cost / Σ attempts over a :func:`cohort_attempt_types`
    frame (NaN without attempts)."""
    n = types.n.sum()
    return float(types.cost.sum() / n) if n else float("nan")


def attempt_gaps(crm: CRM, start: datetime, stop: datetime, as_of: datetime, tail_from: int = 10) -> pd.DataFrame:
    """How long leads waited between attempts: per attempt number ``k >= 2`` (pooled from
    ``tail_from``), the number of gaps and the median, quartiles and 90th percentile of the hours
    from attempt ``k-1`` to ``k``. The first row (``k = "all"``) pools every gap."""
    a = counted_attempts(crm, start, stop, as_of)
    a = a.filter(a.hours_since_previous.notnull())
    # the gaps (a window over every attempt) computed once, for the two aggregates below
    a = a.select(k=ibis.least(a.attempt_number, tail_from), hours_since_previous=a.hours_since_previous).cache()
    h = ibis._.hours_since_previous
    stats = dict(gaps=ibis._.count(), p25_hours=h.quantile(0.25), median_hours=h.quantile(0.5),
                 p75_hours=h.quantile(0.75), p90_hours=h.quantile(0.9))
    per = a.group_by("k").aggregate(**stats).order_by("k").to_pandas()
    allg = a.aggregate(**stats).to_pandas()
    per["attempt"] = [f"≥{tail_from}" if v >= tail_from else str(int(v)) for v in per.k]
    allg["attempt"] = "all"
    return pd.concat([allg, per.drop(columns="k")], ignore_index=True)[
        ["attempt", "gaps", "p25_hours", "median_hours", "p75_hours", "p90_hours"]]


def stale_cohorts_summary(cohorts: pd.DataFrame, types: pd.DataFrame, gaps: pd.DataFrame,
                          window: tuple[datetime, datetime], limits: dict[str, str] | None = None) -> dict:
    """``summary.json["stale_cohorts"]``: the window, totals, the average attempt's cost, the median
    days between attempts and, per cohort, leads, customers, conversion (customers / leads) with its
    interval, revenue and attempts cost. Attempts are null when the export records none (``limits``)."""
    return {"window": [f"{window[0]:%Y-%m-%d}", f"{window[1]:%Y-%m-%d}"], "leads": int(cohorts.leads.sum()),
            "customers": int(cohorts.customers.sum()),
            "attempts": None if "attempts" in (limits or {}) else int(cohorts.attempts.sum()),
            "cost_per_attempt": attempt_mix_cost(types),
            "median_days_between_attempts": (gaps.median_hours.iloc[0] / 24 if len(gaps) and not
                                             {"attempts", "attempt_time"} & set(limits or {}) else None),
            "by_attempts": {r.cohort: {"leads": r.leads, "customers": r.customers, "conversion_rate": r.conversion_rate,
                                       "conversion_rate_ci": [r.conversion_rate_low, r.conversion_rate_high],
                                       "revenue": r.revenue, "attempts_cost": r.attempts_cost}
                            for r in cohorts.itertuples()}}


def gaps_in_days(gaps: pd.DataFrame) -> pd.DataFrame:
    """:func:`attempt_gaps` with its hours as days (``p25_days``, ``median_days``, ...)."""
    hours = [c for c in gaps.columns if c.endswith("_hours")]
    return gaps.assign(**{c.replace("_hours", "_days"): gaps[c] / 24 for c in hours}).drop(columns=hours)


def contacted_per_week(profiles: pd.DataFrame, window_from: datetime, as_of: datetime) -> float | None:
    """New contacted leads a week in the history of :func:`plateau_history`: contacted leads
    (``attempts >= 1``) / weeks from ``window_from`` to ``as_of`` (None for an empty window)."""
    weeks = (as_of - window_from).total_seconds() / (7 * 86400)
    n = float(profiles.loc[profiles["attempts"] >= 1, "weight"].sum())
    return n / weeks if weeks > 0 and n > 0 else None


def stale_leads_sentence(leads: int, window: tuple[datetime, datetime], min_group_size: int) -> str:
    """How many stale leads the cohorts hold, from when, and what *converted* means."""
    return (f"**{leads:,} stale leads** became MQLs from {window[0]:%d %b %Y} to {window[1]:%d %b %Y}. *Converted* is the "
            f"share that became customers; groups of fewer than {min_group_size} leads are marked *few leads*.")
