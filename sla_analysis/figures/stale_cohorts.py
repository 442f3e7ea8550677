"""Page 01's figures: stale leads by the attempts they received."""
from __future__ import annotations

import pandas as pd

from sla_analysis.analyses import cohorts as co
from sla_analysis.figures.graph import figure

PAGE = ("01_stale_lead_cohorts",)


@figure(pages=PAGE)
def stale_cohorts(crm, cfg, as_of) -> pd.DataFrame:
    """Stale MQLs of the settled window by attempts received: leads, opportunities, customers,
    conversion rate (Wilson interval), revenue, attempts' cost and profit per lead."""
    return co.stale_cohorts(crm, cfg, as_of)


@figure(pages=PAGE)
def stale_cohorts_by_group(crm, cfg, as_of, lead_group_columns) -> dict[str, pd.DataFrame]:
    """The stale cohorts split by each lead attribute the export has (source, segment, tier)."""
    return {by: co.stale_cohorts(crm, cfg, as_of, by=by) for by in lead_group_columns}


@figure(pages=PAGE)
def cohort_attempt_types(crm, cfg, as_of) -> pd.DataFrame:
    """The stale leads' attempts by type, with each type's assumed cost."""
    return co.cohort_attempt_types(crm, cfg, as_of)


@figure(pages=PAGE)
def attempt_gaps(crm, settled_window, as_of) -> pd.DataFrame:
    """Days between one attempt and the next, by attempt number, among the settled window's leads."""
    return co.attempt_gaps(crm, *settled_window, as_of)


@figure(pages=PAGE, summary="stale_cohorts")
def stale_cohorts_section(stale_cohorts, cohort_attempt_types, attempt_gaps, settled_window, limits) -> dict:
    """``summary.json["stale_cohorts"]``."""
    return co.stale_cohorts_summary(stale_cohorts, cohort_attempt_types, attempt_gaps, settled_window, limits)
