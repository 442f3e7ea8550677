"""Page 03's figures: the attempt cap where one more attempt stops paying."""
from __future__ import annotations

from sla_analysis.analyses import attempt_cap as ac
from sla_analysis.analyses import plateau as pl
from sla_analysis.figures.graph import figure
from sla_analysis.results import Result

PAGE = ("03_profitability_plateau",)


@figure(pages=PAGE)
def attempt_cap(crm, cfg, as_of) -> ac.PeriodCap:
    """The attempt cap as of the period's end, from the settled history: profit per lead by cap
    (conversion per attempt x value x margin - attempts' cost), its bootstrap interval, per tier."""
    return ac.period_cap(crm, cfg, as_of)


@figure(pages=PAGE, summary="plateau")
def plateau_section(attempt_cap, cfg) -> dict:
    """``summary.json["plateau"]``: the cap, its interval, the plateau and what changing the SLA's cap is worth."""
    return attempt_cap.summary(cfg)


@figure(pages=PAGE)
def attempt_history(attempt_cap) -> dict:
    """How many leads the history holds and how far their attempts reach."""
    return pl.history_counts(attempt_cap.profiles)


@figure(pages=PAGE)
def conversion_per_attempt(attempt_cap, cfg) -> Result:
    """The share of still-open contacted leads that converted at each attempt, with its interval
    (shown beside the cap: absent, with the cap's reason, when there is no cap)."""
    if not attempt_cap.cap:
        return Result.absent(attempt_cap.cap.reason)
    return Result.of(pl.observed_hazards(attempt_cap.contacted, cfg.confidence_level, cfg.min_group_size))
