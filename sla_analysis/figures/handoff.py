"""Page 06's figures: lead qualification and the handoff from marketing to sales.

A section the export cannot support is ``Result.absent`` with the reason generated from the
export's profile (:func:`sla_analysis.analyses.handoff.unavailable`), or because the settled window
holds no MQL."""
from __future__ import annotations

from datetime import timedelta

from sla_analysis.analyses import handoff as hd
from sla_analysis.figures.graph import figure
from sla_analysis.results import Result

PAGE = ("06_lead_qualification",)
PAGES = ("06_lead_qualification", "07_proposed_sla")


@figure(pages=PAGES)
def handoff_mqls(crm, settled_window, as_of) -> int:
    """MQLs of the settled window (their outcome known by the period's end)."""
    return hd.count_mqls(crm, *settled_window, as_of)


@figure(pages=PAGES)
def no_settled_mqls(handoff_mqls, settled_window) -> str | None:
    """Why the settled window cannot be described (it holds no MQL), or None."""
    s = settled_window
    return None if handoff_mqls else f"no lead became an MQL between {s[0]:%d %b %Y} and {s[1]:%d %b %Y}"


def _section(crm, section: str, also: str | None = None) -> str | None:
    return hd.unavailable(crm, section) or also


@figure(pages=PAGES)
def mql_work_cost(crm, cfg, settled_window, as_of) -> float:
    """The cost of working an MQL: ``lead_work_cost`` when set, else the settled MQLs' counted
    attempts x the cost of their type, over those MQLs."""
    return hd.mql_work_cost(crm, cfg, *settled_window, as_of)


@figure(pages=PAGES)
def score_bands(crm, cfg, settled_window, as_of, no_settled_mqls, mql_work_cost) -> Result:
    """Conversion, value and cost of working the settled MQLs by lead-score band."""
    why = _section(crm, "score", no_settled_mqls)
    return Result.absent(why) if why else Result.of(hd.score_bands(crm, cfg, *settled_window, as_of, mql_work_cost))


@figure(pages=PAGES)
def best_threshold(score_bands, cfg) -> Result:
    """The MQL score threshold that maximises the net value of the MQLs passed, with its bootstrap interval."""
    if not score_bands:
        return score_bands
    return Result.of(hd.best_threshold(score_bands.get(), seed=cfg.random_seed, confidence=cfg.confidence_level))


@figure(pages=PAGES)
def mql_types(crm, cfg, settled_window, as_of, no_settled_mqls) -> Result:
    """Conversion and value of the settled MQLs by MQL type."""
    why = _section(crm, "mql_type", no_settled_mqls)
    return Result.absent(why) if why else Result.of(
        hd.conversion_by(crm, "mql_type", *settled_window, as_of, cfg.confidence_level, cfg.min_group_size))


@figure(pages=PAGES)
def rejections(crm, cfg, settled_window, as_of, no_settled_mqls) -> Result:
    """Rejected MQLs by source (share with interval, days to reject), the reasons, and where the
    MQLs ended: a dict of ``by_source``, ``reasons`` (None without reason codes) and ``outcomes``."""
    why = _section(crm, "rejection", no_settled_mqls)
    if why:
        return Result.absent(why)
    rej = hd.rejection_by(crm, "source", *settled_window, as_of, cfg.confidence_level, cfg.min_group_size)
    reasons = None
    if hd.has_values(crm, "rejection_reason") and rej.rejected.iloc[0] > 0:
        reasons = hd.rejection_reasons(crm, *settled_window, as_of, cfg.confidence_level)
    outcomes = hd.handoff_outcomes(crm, *settled_window, as_of, cfg.confidence_level)
    return Result.of({"by_source": rej, "reasons": reasons, "outcomes": outcomes})


@figure(pages=PAGES)
def return_path(crm, cfg, as_of) -> Result:
    """What became of rejected and recycled leads: requalified, won, and their revenue."""
    why = _section(crm, "recycling")
    return Result.absent(why) if why else Result.of(
        hd.return_path(crm, as_of, cfg.stale_after_days, cfg.lookback_days, cfg.confidence_level, cfg.min_group_size))


@figure(pages=PAGE)
def attribution(crm, cfg, as_of) -> Result:
    """Marketing's sourced and influenced shares of leads, pipeline and won revenue over the look-back."""
    why = _section(crm, "attribution")
    return Result.absent(why) if why else Result.of(
        hd.attribution(crm, as_of - timedelta(days=cfg.lookback_days), as_of, cfg.confidence_level))


def _conversion_by(crm, cfg, column, settled_window, as_of, no_settled_mqls) -> Result:
    why = _section(crm, column, no_settled_mqls)
    return Result.absent(why) if why else Result.of(
        hd.conversion_by(crm, column, *settled_window, as_of, cfg.confidence_level, cfg.min_group_size))


@figure(pages=PAGE)
def conversion_by_segment(crm, cfg, settled_window, as_of, no_settled_mqls) -> Result:
    """Conversion and value of the settled MQLs by segment."""
    return _conversion_by(crm, cfg, "segment", settled_window, as_of, no_settled_mqls)


@figure(pages=PAGE)
def conversion_by_persona(crm, cfg, settled_window, as_of, no_settled_mqls) -> Result:
    """Conversion and value of the settled MQLs by persona."""
    return _conversion_by(crm, cfg, "persona", settled_window, as_of, no_settled_mqls)



@figure(pages=PAGE)
def threshold_comparison(score_bands, cfg) -> Result:
    """The score band just below today's MQL threshold against the one just above: SQL and close
    rates and their differences (Newcombe's interval)."""
    return score_bands if not score_bands else Result.of(
        hd.threshold_comparison(score_bands.get(), cfg.mql_score_threshold, cfg.confidence_level))


@figure(pages=PAGE)
def threshold_split(score_bands, cfg) -> Result:
    """All scored MQLs at or above today's threshold against all below it (Wilson intervals)."""
    return score_bands if not score_bands else Result.of(
        hd.split_at_threshold(score_bands.get(), cfg.mql_score_threshold, cfg.confidence_level))


def _absent(result: Result) -> dict:
    return {"available": False, "reason": result.reason}


@figure(pages=PAGE, summary="handoff")
def handoff_section(settled_window, as_of, handoff_mqls, score_bands, threshold_comparison, best_threshold,
                    threshold_split, mql_types, rejections, return_path, attribution, conversion_by_segment,
                    conversion_by_persona, cfg) -> dict:
    """``summary.json["handoff"]``: each section's summary, or ``available: false`` with its reason."""
    out = {"settled_window": [f"{d:%Y-%m-%d}" for d in settled_window], "as_of": f"{as_of:%Y-%m-%d}",
           "mqls": handoff_mqls}
    out["score"] = (hd.score_summary(score_bands.get(), threshold_comparison.get(), best_threshold.get(),
                                     threshold_split.get()) if score_bands else _absent(score_bands))
    out["mql_types"] = ({"available": True, "by_type": hd.group_summary(mql_types.get(), "mql_type")}
                        if mql_types else _absent(mql_types))
    if rejections:
        r = rejections.get()
        out["rejection"] = hd.rejection_summary(r["by_source"], r["reasons"], r["outcomes"])
    else:
        out["rejection"] = _absent(rejections)
    out["return_path"] = hd.return_path_summary(return_path.get()) if return_path else _absent(return_path)
    trail_from = as_of - timedelta(days=cfg.lookback_days)
    out["attribution"] = (hd.attribution_summary(attribution.get(), trail_from, as_of, cfg.marketing_share)
                          if attribution else _absent(attribution))
    for col, key, found in (("segment", "segments", conversion_by_segment), ("persona", "personas", conversion_by_persona)):
        out[key] = {"available": True, f"by_{col}": hd.group_summary(found.get(), col)} if found else _absent(found)
    return out
