"""Page 04's figures: the value of an MQL by source and marketing's target."""
from __future__ import annotations

import pandas as pd

from sla_analysis.analyses import lead_value as lv
from sla_analysis.figures.graph import figure
from sla_analysis.results import Result

PAGES = ("04_lead_value_targets", "05_sla_compliance")


@figure(pages=PAGES)
def source_funnel(crm, settled_window, as_of) -> pd.DataFrame:
    """Per source, the settled window's MQLs, opportunities, customers and won revenue, as of the period's end."""
    return lv.source_funnel(crm, *settled_window, as_of)


@figure(pages=PAGES)
def mql_value_by_source(source_funnel, cfg) -> pd.DataFrame:
    """Value of an MQL per source = close rate x average revenue per customer, with intervals."""
    return lv.mql_value_by_group(source_funnel, confidence=cfg.confidence_level, min_n=cfg.min_group_size)


@figure(pages=("04_lead_value_targets",))
def mql_value_by_segment(crm, cfg, settled_window, as_of) -> Result:
    """Value of an MQL per segment = close rate x average revenue per customer."""
    if not crm.has("leads", "segment"):
        return Result.absent("the leads have no segment column")
    funnel = lv.source_funnel(crm, *settled_window, as_of, by="segment")
    return Result.of(lv.mql_value_by_group(funnel, by="segment", confidence=cfg.confidence_level,
                                           min_n=cfg.min_group_size))


@figure(pages=PAGES)
def marketing_target(cfg) -> float:
    """Marketing's MQL value a month = monthly quota x marketing's share of it."""
    return lv.marketing_target(cfg.quota, cfg.marketing_share)


@figure(pages=PAGES)
def mqls_by_month(crm, period_start, as_of) -> pd.DataFrame:
    """MQLs delivered per month of the period and source."""
    return lv.mqls_by_month(crm, period_start, as_of)


@figure(pages=PAGES)
def source_mix(mqls_by_month, source_funnel) -> tuple[pd.Series, str]:
    """The source mix MQLs are priced at (the period's deliveries, else the settled window's) and its basis."""
    return lv.source_mix(mqls_by_month, source_funnel)


@figure(pages=PAGES)
def mqls_needed(marketing_target, mql_value_by_source, source_mix) -> float:
    """MQLs a month marketing must deliver = its target / the value of an MQL at the mix."""
    return lv.mqls_needed(marketing_target, mql_value_by_source.set_index("source").mql_value, source_mix[0])


@figure(pages=PAGES)
def blended_mql_value(mql_value_by_source, source_mix) -> float:
    """The value of an average MQL at the source mix."""
    return lv.blended_mql_value(mql_value_by_source.set_index("source").mql_value, source_mix[0])


@figure(pages=PAGES)
def marketing_delivered(mqls_by_month, mql_value_by_source, period, marketing_target) -> pd.DataFrame:
    """Per month: MQLs delivered and their expected value (MQLs x value per MQL of their source) against the target."""
    return lv.delivered_value(mqls_by_month, mql_value_by_source, period.months, marketing_target)


@figure(pages=PAGES)
def funnel_per_month(source_funnel, cfg, limits) -> dict:
    """The settled funnel a month: MQLs, opportunities, customers, average deal and lead value."""
    return lv.monthly_funnel(source_funnel, cfg.lookback_days, limits.get("timeline"))


@figure(pages=("04_lead_value_targets",), summary="lead_value")
def lead_value_section(mql_value_by_source, marketing_delivered, funnel_per_month, settled_window, source_mix) -> dict:
    """``summary.json["lead_value"]``."""
    return lv.lead_value_summary(mql_value_by_source, marketing_delivered, funnel_per_month, settled_window, source_mix[1])


@figure(pages=("04_lead_value_targets",), summary="")
def marketing_headline(mql_value_by_source, marketing_target, mqls_needed) -> dict:
    """``summary.json``'s ``mql_value_by_source``, ``lead_value_target`` and ``mqls_needed``."""
    values = mql_value_by_source
    return {"mql_value_by_source": dict(zip(values.source, values.mql_value)), "lead_value_target": marketing_target,
            "mqls_needed": mqls_needed}
