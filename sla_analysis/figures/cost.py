"""Page 02's figures: what an attempt costs, assumed and measured."""
from __future__ import annotations

import pandas as pd

from sla_analysis.analyses import cost
from sla_analysis.figures.graph import figure

PAGE = ("02_cost_per_call",)


@figure(pages=PAGE)
def attempts_by_type(crm, cfg, period_start, as_of) -> pd.DataFrame:
    """The period's attempts per type, each type's assumed cost (hourly cost / attempts an hour) and total."""
    return cost.attempts_by_type(crm, cfg, period_start, as_of)


@figure(pages=PAGE)
def dialling_pace(crm, cfg, period_start, as_of) -> pd.DataFrame:
    """Per rep and for all reps (last row): attempts, active hours and the dialling pace (calls an
    hour of dialling, from the mean gap inside sessions) with its rep-clustered interval."""
    return cost.measured_pace(crm, period_start, as_of, confidence=cfg.confidence_level)


@figure(pages=PAGE, summary="cost")
def cost_section(cfg, attempts_by_type, dialling_pace, limits) -> dict:
    """``summary.json["cost"]``: cost per call assumed (hourly cost / calls an hour) and measured."""
    return cost.cost_summary(cfg, attempts_by_type, dialling_pace, limits)


@figure(pages=PAGE, summary="cost_per_call")
def cost_per_call(cost_section) -> float:
    """The cost of one call the SLA assumes = a rep's hourly cost / calls an hour."""
    return cost_section["cost_per_call_assumed"]
