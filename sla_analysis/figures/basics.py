"""What many figures are computed from: the period's bounds, how far the data reaches, the windows."""
from __future__ import annotations

from datetime import datetime

from sla_analysis.analyses import cohorts as co
from sla_analysis.analyses import lead_value as lv
from sla_analysis.figures.graph import figure

ALL_PAGES = ("01_stale_lead_cohorts", "02_cost_per_call", "03_profitability_plateau", "04_lead_value_targets",
             "05_sla_compliance", "06_lead_qualification", "07_proposed_sla")


@figure(pages=ALL_PAGES)
def as_of(period) -> datetime:
    """The period's end (its first instant after): every outcome is counted as known by then."""
    return period.end_ts()


@figure(pages=ALL_PAGES)
def period_start(period) -> datetime:
    """The period's first instant."""
    return period.start_ts()


@figure(pages=ALL_PAGES, summary="limits")
def limits(crm) -> dict[str, str]:
    """What the export cannot support, each with its reason (the export profile's facts by short name)."""
    return crm.limits()


@figure(pages=ALL_PAGES)
def is_sample(crm) -> bool:
    """Whether the report reads the bundled sample data (every page then says so)."""
    return crm.is_sample


@figure()
def data_end(crm, period_start) -> datetime:
    """How far the data reaches: the latest event of any kind (a column of dates to the end of its
    day); the period's start when the export has no dated event."""
    return crm.last_event_at() or period_start


@figure()
def first_event_at(crm) -> datetime | None:
    """The export's earliest lead creation."""
    return crm.first_event_at()


@figure(pages=("01_stale_lead_cohorts", "04_lead_value_targets", "06_lead_qualification"))
def settled_window(cfg, as_of) -> tuple[datetime, datetime]:
    """MQLs old enough for their outcome to be known: created in ``[end - stale - lookback, end - stale)``."""
    return lv.settled_window(as_of, cfg.stale_after_days, cfg.lookback_days)


@figure(pages=("01_stale_lead_cohorts",))
def lead_group_columns(crm) -> list[str]:
    """The lead attributes the export has, among source, segment and tier."""
    return co.group_columns(crm)
