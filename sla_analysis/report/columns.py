"""The column registry: every column a page shows, with the label a sales leader reads and how its
values are written. A page shows a table with one call (:func:`sla_analysis.report.notebook.table`)
and the workbook uses the same labels, so a figure is named the same everywhere.

Kinds: ``count`` (1,234), ``share`` (12.3%), ``money`` ($1,234 or 1,234 EUR), ``money2`` ($5.03),
``number1`` (4.5), ``number2`` (0.87), ``ratio`` (0.87×: so many times the reference), ``hours`` (3.5 h), ``days`` (2.1 days), ``signed_share``
(+7%), ``signed_count`` (+120), ``text``. An interval column is made from ``<col>_low`` and
``<col>_high`` in the kind of ``<col>``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sla_analysis.formats import money


@dataclass(frozen=True)
class Column:
    """A column's label, how its values are written, and what the export must hold for it to mean
    anything (``revenue``: deal amounts; ``attempts``: logged activities; see ``CRM.limits``)."""

    label: str
    kind: str = "text"
    needs: str | None = None


REVENUE_COLUMNS = ("revenue", "profit", "profit_per_lead", "revenue_per_lead", "mql_value", "net_value_per_mql", "won_revenue",
                   "avg_revenue_per_customer", "value", "revenue_per_attempt", "marginal_profit", "won_revenue_share")
ATTEMPT_COLUMNS = ("attempts", "attempts_cost", "attempts_per_lead", "cost_per_lead", "calls", "never_contacted",
                   "within", "within_bh", "share_within", "share_within_bh", "contact_rate", "late", "pending",
                   "first_touch_within_window", "share_to_protocol", "share_kept_protocol", "median_touches", "attempts_per_active_hour",
                   "calls_per_hour_dialling", "work_cost_per_mql")


C = Column
COLUMNS: dict[str, Column] = {
    # who and what
    "source": C("Source"), "segment": C("Segment"), "tier": C("Tier"), "persona": C("Persona"),
    "owner_id": C("SDR"), "rep_id": C("Rep"), "type": C("Attempt type"), "mql_type": C("MQL type"),
    "band": C("Score band"), "cohort": C("Attempts received"), "attempt": C("Attempt"), "month": C("Month"),
    "period": C("Period"), "kpi": C("KPI"), "goal": C("Goal key"), "goal_name": C("Measure"), "measure": C("Marketing's part"),
    "figure": C("Figure"), "outcome": C("Where the MQL ended"), "reason": C("Reason given"),
    "kind": C("Returned to marketing"), "basis": C("Counted over"), "value_text": C("Value"), "flag": C(""),
    "promise": C("Promise"), "current_text": C("Today's SLA, this period"), "current_status": C("Kept today?"),
    "proposed_text": C("The proposed SLA, on this period"), "proposed_status": C("Kept under the proposal?"),
    # counts
    "leads": C("Leads", "count"), "mqls": C("MQLs", "count"), "customers": C("Customers", "count"),
    "opportunities": C("Opportunities", "count"), "attempts": C("Attempts", "count"), "calls": C("Calls", "count"),
    "n": C("n", "count"), "won": C("Won", "count"), "closed": C("Closed", "count"), "lost": C("Lost", "count"), "late": C("Late", "count"), "within": C("Within window", "count"),
    "within_bh": C("Within", "count"), "pending": C("Window still open", "count"),
    "never_contacted": C("Never contacted", "count"), "gaps": C("Gaps", "count"), "rejected": C("Rejected", "count"),
    "requalified": C("Back as MQLs", "count"), "open_leads_flag": C("Open leads band"), "active_mqls_flag": C("Active MQLs band"), "sqls_flag": C("SQLs band"), "open_leads": C("Open leads", "count"),
    "active_mqls": C("Active MQLs", "count"), "at_risk": C("Leads reaching it", "count"),
    "decided_bh": C("MQLs decided", "count"), "pipeline_deals": C("Deals created", "count"),
    "won_revenue_deals": C("Deals won", "count"), "session_gaps": C("Gaps in sessions", "count"),
    "first_touch_n": C("n", "count"), "active_hours": C("Active hours", "count"),
    "target": C("Target", "count"), "target_value": C("Target", "money"), "actual": C("Actual", "count"), "gap": C("Gap", "signed_count"),
    "median_gap_s": C("Median gap (seconds)", "count"), "mean_gap_s": C("Mean gap (seconds)", "number1"),
    "calling_seconds": C("Calling time (seconds)", "count"), "protocol_touches": C("Protocol touches", "count"),
    "median_touches": C("Median touches", "count"), "timeframe_days": C("Over days", "count"),
    # shares (every one with its n in the table and, where it has one, its interval)
    "conversion_rate": C("Converted", "share"), "close_rate": C("Close rate", "share"),
    "win_rate": C("Win rate of deals closed in the period", "share"), "win_rate_shrunk": C("Adjusted for group size", "share"), "sql_rate": C("Became SQL", "share"), "contact_rate": C("Contact rate", "share"),
    "share": C("Share", "share"), "rate": C("Share of all MQLs", "share"), "leads_share": C("Share of leads", "share"),
    "share_within": C("Share within", "share"), "share_within_bh": C("Share within", "share"),
    "share_kept_protocol": C("Kept the protocol (worked to it, or converted first)", "share"),
    "share_to_protocol": C("Worked to protocol or beyond", "share"), "share_to_protocol_only": C("Worked to protocol", "share"), "share_converted_early": C("Converted before it was done", "share"),
    "share_abandoned_early": C("Abandoned early", "share"), "share_over_worked": C("Worked beyond it", "share"),
    "share_open": C("Still open", "share"), "share_of_goal": C("Share of goal", "share"),
    "share_of_target": C("Share of target", "share"), "rejection_rate": C("Rejection rate", "share"),
    "requalified_share": C("Share back", "share"), "pipeline_share": C("Share of pipeline", "share"),
    "won_share": C("Share won", "share"), "won_revenue_share": C("Share of won revenue", "share"),
    "mql_to_sql": C("MQL to SQL", "share"), "covered": C("Data covers", "share"),
    "first_touch_within_window": C("Within window", "share"), "drift": C("Drift", "signed_share"),
    "relative_conversion": C("Converts relative to within 1 hour", "ratio"),
    "relative_to_within_1h": C("Against within the hour", "ratio"), "conversion": C("Share", "share"),
    "conversions": C("Conversions", "count"),
    # money
    "revenue": C("Revenue", "money"), "attempts_cost": C("Attempts cost", "money"), "cost": C("Cost", "money"),
    "profit_per_lead": C("Profit per lead", "money"), "revenue_per_lead": C("Revenue per lead", "money"),
    "mql_value": C("Value per MQL", "money"), "net_value_per_mql": C("Net value per MQL", "money"),
    "work_cost_per_mql": C("Cost of working it", "money"), "won_revenue": C("Revenue won", "money"),
    "avg_revenue_per_customer": C("Revenue per customer", "money"), "value": C("Their value", "money"),
    "cost_per_attempt": C("Cost per attempt", "money2"), "cost_per_lead": C("Attempts cost per lead", "money2"),
    "marginal_profit": C("Profit it adds per lead", "money2"),
    "revenue_per_attempt": C("Expected revenue of the attempt", "money2"),
    # the attempt cap
    "contacted_leads": C("Contacted leads", "count"), "recommended_attempts": C("Cap (attempts)", "count"),
    "ci_low": C("Interval from", "count"), "ci_high": C("to", "count"), "cannot_judge_above": C("Cannot judge above", "count"),
    "expected_profit_per_lead": C("Profit per contacted lead", "money"), "note": C("Note"),
    # pace and time
    "attempts_per_lead": C("Attempts per lead", "number1"), "attempts_per_active_hour": C("Attempts per active hour", "number2"),
    "calls_per_hour_dialling": C("Calls per hour dialling", "number1"), "sqls_per_month": C("SQLs a month", "number1"),
    "conversions_per_100": C("Became opportunities per 100 still open", "number2"),
    "median_hours": C("Median", "hours"), "p25_hours": C("25% within", "hours"), "p75_hours": C("75% within", "hours"),
    "p90_hours": C("90% within", "hours"), "median_business_hours": C("Median business hours", "hours"),
    "p90_business_hours": C("90% within (business hours)", "hours"), "response_hours": C("Window", "hours"),
    "median_days": C("Median", "days"), "p25_days": C("25% within", "days"), "p75_days": C("75% within", "days"),
    "p90_days": C("90% within", "days"),
    # how strong a hidden cause would have to be (a ratio, not money)
    "e_value": C("E-value (times)", "number2"), "e_value_interval": C("E-value of the interval's end (times)", "number2"),
    # the proposed protocol beside the current one
    "window_hours_are": C("Window counts"), "current_response_hours": C("Current window", "hours"),
    "current_window_hours_are": C("Current window counts"), "current_touches": C("Current touches", "count"),
    "current_timeframe_days": C("Current timeframe", "days"),
}


COLUMNS = {name: Column(c.label, c.kind, "revenue" if name in REVENUE_COLUMNS else
                         "attempts" if name in ATTEMPT_COLUMNS else None) for name, c in COLUMNS.items()}


#: words written in capitals in a label made from a column's name
ACRONYMS = {"mql": "MQL", "mqls": "MQLs", "sql": "SQL", "sqls": "SQLs", "sdr": "SDR", "sdrs": "SDRs", "kpi": "KPI",
            "crm": "CRM", "ci": "interval", "bh": "(business hours)", "p90": "90%", "p25": "25%", "p75": "75%"}


def label_from_name(name: str) -> str:
    """A label for a column the registry does not name: words from its name, acronyms in capitals
    (``mql_value_low`` -> ``MQL value low``)."""
    words = [ACRONYMS.get(w, w) for w in name.split("_") if w]
    text = " ".join(words)
    return text[:1].upper() + text[1:] if text else name


def column(name: str) -> Column:
    """The registered column; else ``<col>_low`` / ``<col>_high`` as the low and high end of the
    registered column's interval (its kind); else a plain text column labelled from its name."""
    if name in COLUMNS:
        return COLUMNS[name]
    base, _, end = name.rpartition("_")
    if end in ("low", "high") and base in COLUMNS:
        c = COLUMNS[base]
        return Column(f"{c.label}, interval {'from' if end == 'low' else 'to'}", c.kind, c.needs)
    return Column(label_from_name(name))


def inferred_kind(name: str, values: pd.Series) -> str | None:
    """The kind of a column the registry does not know, for a spreadsheet's number format: from its
    name (``*share*``, ``*rate*``: share; ``*hours*``: hours; ``*days*``: days; ``*revenue*``,
    ``*value*``, ``*cost*``, ``*profit*``, ``*amount*``: money), else from its values (whole numbers:
    count; other numbers: number2); ``None`` for text."""
    kind = column(name).kind
    if kind != "text" or not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return None if kind == "text" else kind
    words = set(name.lower().split("_"))
    if words & {"share", "rate", "conversion", "probability"} or name.endswith("_rate"):
        return "share"
    if words & {"hours"}:
        return "hours"
    if words & {"days"}:
        return "days"
    if words & {"revenue", "value", "cost", "profit", "amount", "gain"}:
        return "money"
    finite = values.dropna()
    return "count" if len(finite) and bool((finite == finite.round()).all()) else "number2"


def unsupported(columns: list[str], limits: dict[str, str]) -> dict[str, str]:
    """The columns the export cannot support: name -> why (from ``CRM.limits``)."""
    return {c: limits[column(c).needs] for c in columns if column(c).needs in limits}


def formatter(kind: str, currency: str = "USD"):
    """A function writing one value of ``kind``; an en dash for a missing value (never a zero)."""
    def missing(v) -> bool:
        return v is None or (isinstance(v, float) and not np.isfinite(v)) or (v is pd.NA) or (
            not isinstance(v, str) and pd.isna(v))

    fmt = {
        "count": lambda v: f"{v:,.0f}",
        "share": lambda v: f"{100 * v:.1f}%",
        "signed_share": lambda v: "0%" if round(100 * v) == 0 else f"{100 * v:+.0f}%",
        "signed_count": lambda v: f"{v:+,.0f}",
        "money": lambda v: money(v, currency),
        "money2": lambda v: money(v, currency, 2),
        "number1": lambda v: f"{v:,.1f}",
        "number2": lambda v: f"{v:,.2f}",
        "ratio": lambda v: f"{v:,.2f}×",
        "hours": lambda v: f"{v:,.1f} h",
        "days": lambda v: f"{v:,.1f} days",
    }.get(kind, str)
    return lambda v: "–" if missing(v) else fmt(v)


def _lower(label: str) -> str:
    """A label in lower case inside a sentence, acronyms kept (``Became SQL`` -> ``became SQL``)."""
    return " ".join(w if sum(ch.isupper() for ch in w) > 1 else w.lower() for w in label.split(" "))


def readable(frame: pd.DataFrame, columns: list[str], currency: str = "USD", confidence: float = 0.95,
             labels: dict[str, str] | None = None, intervals: bool = True, min_n_flag: str = "few leads",
             limits: dict[str, str] | None = None, inline: bool = False) -> pd.DataFrame:
    """``frame``'s ``columns`` as text, each labelled from the registry (``labels`` override), with
    an interval column after every column that has ``<col>_low`` and ``<col>_high`` (``inline``: the
    interval in brackets in the same cell, for a table of several rates side by side), and, where
    the frame marks ``small_sample``, a last column saying the group is too small to compare.
    Columns the export cannot support (``limits``) are left out: never shown as zeros."""
    labels = labels or {}
    columns = [c for c in columns if c not in unsupported(columns, limits or {})]
    with_interval = [c for c in columns if intervals and f"{c}_low" in frame and f"{c}_high" in frame]
    out: dict[str, list[str]] = {}
    for c in columns:
        col = column(c)
        label = labels.get(c, col.label)
        write = formatter(col.kind, currency)
        out[label] = [write(v) for v in frame[c]]
        if c in with_interval and inline:
            out[label] = [v if write(lo) == "–" or write(hi) == "–" else f"{v} ({write(lo)} – {write(hi)})"
                          for v, lo, hi in zip(out[label], frame[f"{c}_low"], frame[f"{c}_high"])]
        elif c in with_interval:
            name = f"{confidence:.0%} interval" + (f" ({_lower(label)})" if len(with_interval) > 1 else "")
            out[name] = ["–" if write(lo) == "–" or write(hi) == "–" else f"{write(lo)} – {write(hi)}"
                         for lo, hi in zip(frame[f"{c}_low"], frame[f"{c}_high"])]
    if "small_sample" in frame and frame["small_sample"].any():
        out[""] = [min_n_flag if bool(s) else "" for s in frame["small_sample"]]
    return pd.DataFrame(out)
