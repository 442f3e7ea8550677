"""Lead-value targets (seeds 000 and 003): what an MQL is worth and how many marketing must send.

* MQL value per source = average revenue per won customer x MQL-to-customer close rate
  (which is the same as won revenue / MQLs);
* marketing's monthly dollar target = quota x marketing share;
* MQLs needed per month = target / blended MQL value at the current source mix;
* funnel lead value = customers x average deal value (seed 003: 100 leads -> 30 -> 15 -> 5
  customers x $20,000 = $100K a month).

The settled-MQL funnel is aggregated in the engine; only one row per source reaches pandas.
"""
from __future__ import annotations

from datetime import datetime, timedelta

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from sla_analysis.analyses.stats import mean_interval, product_interval, rate_table
from sla_analysis.formats import money
from sla_analysis.io.engine import CRM


def mql_value(avg_revenue_per_customer, close_rate):
    """Seed 000: value per MQL = average revenue per customer x MQL-to-customer close rate."""
    return np.asarray(avg_revenue_per_customer, dtype=float) * np.asarray(close_rate, dtype=float)


def marketing_target(quota: float, marketing_share: float) -> float:
    """Marketing's monthly dollar target = monthly quota x share of the quota marketing owns."""
    return quota * marketing_share


def blended_mql_value(mql_values: pd.Series, mix: pd.Series) -> float:
    """Value of an average MQL at the source mix ``mix`` (shares, any scale):
    sum_s(mix_s x value_s) / sum_s(mix_s). NaN when the mix is empty or no source has a value
    (e.g. the deals have no amounts)."""
    mix = mix.reindex(mql_values.index).fillna(0)
    if mix.sum() <= 0 or not mql_values.notna().any():
        return float("nan")
    return float((mix / mix.sum() * mql_values.fillna(0)).sum())


def mqls_needed(target: float, mql_values: pd.Series, mix: pd.Series) -> float:
    """MQLs a month to reach ``target`` at the source mix ``mix``: target / blended MQL value.
    NaN when the blended value is not positive."""
    blended = blended_mql_value(mql_values, mix)
    return target / blended if blended > 0 else float("nan")


def funnel_lead_value(leads: int, opportunities: int, customers: int, avg_deal_value: float) -> dict:
    """Seed 003's funnel: conversion rates between stages and the lead value they deliver.

    lead value = customers x average deal value; value per lead = lead value / leads.
    """
    value = customers * avg_deal_value
    return {
        "leads": leads, "opportunities": opportunities, "customers": customers,
        "lead_to_opportunity": opportunities / leads if leads else float("nan"),
        "opportunity_to_customer": customers / opportunities if opportunities else float("nan"),
        "lead_to_customer": customers / leads if leads else float("nan"),
        "lead_value": value,
        "value_per_lead": value / leads if leads else float("nan"),
    }


def mql_table(crm: CRM, as_of: datetime | None = None) -> ir.Table:
    """One row per MQL: ``mql_at`` (``created_at`` when the export has no MQL dates), source,
    segment, whether it reached an opportunity or a won deal, and won revenue. With ``as_of``, only
    what had happened by then: deals created before it, won if closed before it (a won deal with no
    ``closed_at`` counts as recorded), so a report rebuilt later from a newer export does not look
    ahead."""
    leads = crm.leads
    mql_at = leads.mql_at if crm.has("leads", "mql_at") else leads.created_at
    mqls = leads.select("lead_id", "source", "segment", mql_at=mql_at).filter(ibis._.mql_at.notnull())
    deals = crm.deals
    if as_of is not None:
        deals = deals.filter(deals.created_at < as_of)
        if crm.has("deals", "closed_at"):
            deals = deals.mutate(stage=ibis.ifelse((deals.stage == "won") & deals.closed_at.notnull()
                                                   & (deals.closed_at >= as_of), "open", deals.stage))
    has_amount = crm.has("deals", "amount")
    # Without deal amounts revenue is unknown (NULL), not zero: the value figures then say so.
    amount = deals.amount.fill_null(0) if has_amount else deals.amount
    per_lead = deals.group_by("lead_id").aggregate(
        opportunity_at=deals.created_at.min(),
        won=(deals.stage == "won").any(),
        revenue=amount.sum(where=deals.stage == "won"),
    )
    joined = mqls.left_join(per_lead, mqls.lead_id == per_lead.lead_id).drop("lead_id_right")
    revenue = joined.revenue.fill_null(0.0) if has_amount else ibis.null("float64")
    return joined.mutate(won=joined.won.fill_null(False), revenue=revenue)


def settled_window(period_end: datetime, stale_after_days: int, lookback_days: int) -> tuple[datetime, datetime]:
    """MQLs whose outcome has had ``stale_after_days`` to settle by ``period_end``, within the
    look-back window: ``[end - stale - lookback, end - stale)``."""
    stop = period_end - timedelta(days=stale_after_days)
    return stop - timedelta(days=lookback_days), stop


def source_funnel(crm: CRM, start: datetime, stop: datetime, as_of: datetime, by: str = "source") -> pd.DataFrame:
    """Per ``by`` group, among MQLs created in ``[start, stop)``: MQLs, opportunities, customers,
    won revenue and its sum of squares, with the outcomes known by ``as_of`` (the period's end, as
    on every page: no look-ahead)."""
    m = mql_table(crm, as_of)
    m = m.filter((m.mql_at >= start) & (m.mql_at < stop))
    rev = m.revenue
    agg = m.group_by(group=m[by].fill_null("(none)")).aggregate(
        mqls=m.count(),
        opportunities=m.opportunity_at.notnull().sum(),
        customers=m.won.sum(),
        revenue=rev.sum(),
        revenue_sq=(rev * rev).sum(where=m.won),
    )
    return agg.order_by("group").to_pandas().rename(columns={"group": by})


def mql_value_by_group(funnel: pd.DataFrame, by: str = "source", confidence: float = 0.95,
                       min_n: int = 30) -> pd.DataFrame:
    """Close rate (Wilson interval), average revenue per customer (t-interval) and MQL value
    (delta-method interval) per group, with the sample sizes behind them."""
    out = rate_table(funnel, "customers", "mqls", confidence, min_n, prefix="close_rate")
    avg, lo, hi = mean_interval(out.revenue, out.revenue_sq, out.customers, confidence)
    out["avg_revenue_per_customer"], out["avg_revenue_low"], out["avg_revenue_high"] = avg, lo, hi
    out["mql_value"] = mql_value(out.avg_revenue_per_customer, out.close_rate)
    se = (out.avg_revenue_high - out.avg_revenue_per_customer) / 1.959964
    out["mql_value_low"], out["mql_value_high"] = product_interval(
        out.avg_revenue_per_customer, se, out.close_rate, out.mqls, confidence)
    out["few_customers"] = out.customers < 5
    return out.drop(columns=["revenue_sq"])


def mqls_by_month(crm: CRM, start: datetime, stop: datetime, by: str = "source") -> pd.DataFrame:
    """MQLs delivered per calendar month and ``by`` group in ``[start, stop)``. ``attrs["months_with_data"]``:
    the months of ``[start, stop)`` the export's leads reach (from its first lead to the end of the
    day of its last new lead or MQL: an export whose attempts run on after its last new lead says
    nothing of MQLs after it); in the others a month without MQLs is unknown, not 0."""
    m = mql_table(crm)
    m = m.filter((m.mql_at >= start) & (m.mql_at < stop))
    agg = m.group_by(month=m.mql_at.strftime("%Y-%m"), group=m[by].fill_null("(none)")).aggregate(mqls=m.count())
    out = agg.order_by(["month", "group"]).to_pandas().rename(columns={"group": by})
    ends = [crm.profile.stream_end("leads", c) for c in ("created_at", "mql_at")]
    first, last = crm.first_event_at(), max((e for e in ends if e is not None), default=None)
    months = pd.period_range(pd.Timestamp(start), pd.Timestamp(stop) - pd.Timedelta(seconds=1), freq="M")
    out.attrs["months_with_data"] = [] if first is None or last is None else [
        str(p) for p in months if p.start_time < pd.Timestamp(last) and p.end_time >= pd.Timestamp(first)]
    return out


def source_mix(delivered: pd.DataFrame, settled: pd.DataFrame, by: str = "source") -> tuple[pd.Series, str]:
    """The source mix to price MQLs at: this period's deliveries, or, when the period has none,
    the settled window's (and which one was used, in words)."""
    if len(delivered) and delivered.mqls.sum() > 0:
        return delivered.groupby(by).mqls.sum(), "this period's MQLs"
    return settled.set_index(by).mqls, "the settled MQLs (the period delivered none)"


def delivered_value(monthly: pd.DataFrame, values: pd.DataFrame, months: list[str], target: float,
                    by: str = "source") -> pd.DataFrame:
    """Per month of the period: MQLs delivered and their dollar value (MQLs x value per MQL of
    their source) against marketing's target. Months without MQLs show 0 when the data reaches them
    (``monthly.attrs["months_with_data"]``, from :func:`mqls_by_month`), NaN when it does not; the
    value is NaN when no source has an MQL value (the deals have no amounts)."""
    priced = monthly.merge(values[[by, "mql_value"]], on=by, how="left")
    priced["value"] = priced.mqls * priced.mql_value.fillna(0)
    out = priced.groupby("month", as_index=False)[["mqls", "value"]].sum()
    out = pd.DataFrame({"month": months}).merge(out, on="month", how="left").fillna({"mqls": 0, "value": 0.0})
    if not values.mql_value.notna().any():
        out["value"] = float("nan")
    if "months_with_data" in monthly.attrs:
        outside = ~out.month.isin(monthly.attrs["months_with_data"])
        out.loc[outside, ["mqls", "value"]] = float("nan")
    out["target_value"] = target
    out["share_of_target"] = out.value / target if target > 0 else float("nan")
    return out


def monthly_funnel(funnel: pd.DataFrame, window_days: int, why_no_timeline: str | None = None) -> dict:
    """Seed 003's funnel per month, from the settled window's totals: MQLs, opportunities and
    customers a month, average deal value, and the lead value they deliver a month. All NaN when
    the window holds no MQL (the data has nothing there: absent, not 0 a month) or the export has
    no timeline (``why_no_timeline``: every lead dated the same day is no rate a month), with the
    reason in ``why``; the money figures are NaN when no deal has an amount."""
    months = window_days / (365.25 / 12)
    total = funnel[["mqls", "opportunities", "customers"]].sum()
    revenue = funnel["revenue"].sum(min_count=1)  # no amounts at all: unknown, not 0
    if not total.mqls or why_no_timeline:
        months = float("nan")
    avg_deal = revenue / total.customers if total.customers else float("nan")
    out = funnel_lead_value(total.mqls / months, total.opportunities / months, total.customers / months, avg_deal)
    out["avg_deal_value"] = avg_deal
    out["why"] = why_no_timeline
    return out


def lead_value_summary(values: pd.DataFrame, delivered: pd.DataFrame, funnel_per_month: dict,
                       settled: tuple[datetime, datetime], mix_basis: str) -> dict:
    """``summary.json["lead_value"]``: the settled window, the source mix's basis, per source the
    MQLs, customers, close rate with its interval, revenue per customer and the value's interval;
    the value delivered each month; the funnel per month."""
    return {"settled_window": [f"{settled[0]:%Y-%m-%d}", f"{settled[1]:%Y-%m-%d}"], "mix_basis": mix_basis,
            "by_source": {r.source: {"mqls": r.mqls, "customers": r.customers, "close_rate": r.close_rate,
                                     "close_rate_ci": [r.close_rate_low, r.close_rate_high],
                                     "avg_revenue_per_customer": r.avg_revenue_per_customer,
                                     "mql_value_ci": [r.mql_value_low, r.mql_value_high]} for r in values.itertuples()},
            "delivered_by_month": dict(zip(delivered.month, delivered.value)), "funnel_per_month": funnel_per_month}


def funnel_sentence(f: dict, currency: str, limits: dict[str, str]) -> str:
    """Seed 003's arithmetic on this CRM: MQLs -> opportunities -> customers a month, and their value."""
    text = f"A month brings about **{f['leads']:,.0f} MQLs → {f['opportunities']:,.0f} opportunities → {f['customers']:,.1f} customers**"
    if "revenue" in limits:
        return text + f"; {limits['revenue']}, so the money value of those leads is not available."
    return (text + f" at an average deal of {money(f['avg_deal_value'], currency)}: **{money(f['lead_value'], currency)} of "
            f"lead value a month**, or {money(f['value_per_lead'], currency)} per MQL at those MQLs' own mix of sources "
            "(the value used for the target above weights the sources as the period's MQLs do).")


def counted_sentence(values: pd.DataFrame, settled: tuple[datetime, datetime]) -> str:
    """Over which MQLs the value per source is counted."""
    return (f"Counted over the **{values.mqls.sum():,.0f} MQLs created from {settled[0]:%d %b %Y} to {settled[1]:%d %b %Y}**, "
            "old enough for their outcome to be known. A wide interval means few customers: treat that source's value as rough.")


def target_sentence(quota: float, marketing_share: float, target: float, mix_basis: str, blended: float, needed: float,
                    currency: str = "USD") -> str:
    """Marketing's target in money and in MQLs a month."""
    return (f"Marketing owns {marketing_share:.0%} of the {money(quota, currency)} monthly quota: "
            f"**{money(target, currency)} of MQL value a month**. At {mix_basis} mix an MQL is worth "
            f"{money(blended, currency)}, so marketing must deliver **{needed:,.0f} MQLs a month**.")
