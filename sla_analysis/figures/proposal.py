"""Page 07's figures: the value of answering faster and the proposed SLA, built from the figures
the other pages show (the same cap, MQL values, work cost, score bands and return path)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from sla_analysis.analyses import compliance as cp
from sla_analysis.analyses import handoff as hd
from sla_analysis.analyses import proposal as pr
from sla_analysis.analyses import speed_value as sv
from sla_analysis.figures.graph import figure
from sla_analysis.formats import to_json

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
def proposal_inputs(crm, cfg, period, settled_window, source_funnel, mql_value_by_source, source_mix, attempt_cap,
                    mql_work_cost, mql_types, score_bands, best_threshold, return_path, speed_counts,
                    conversion_by_first_touch, speed_effect, limits) -> pr.Inputs:
    """Everything the proposal is built from (:func:`sla_analysis.analyses.proposal.inputs_from`)."""
    return pr.inputs_from(crm, cfg, period, settled_window, source_funnel, mql_value_by_source, source_mix[0],
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
def sla_proposal_text(cfg, proposal, speed_to_lead_value) -> str:
    """``sla_proposal.md``: the proposed agreement in words."""
    return pr.proposal_markdown(cfg, proposal, speed_to_lead_value)


@figure(pages=PAGE)
def proposal_config(cfg, proposal) -> str:
    """``proposal.yml``: the config that adopts the proposal."""
    return pr.proposal_yaml(cfg, proposal)
