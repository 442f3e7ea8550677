"""The index page's "What to do" box: the two or three actions a period's figures support, in a
sales leader's words, each linked to the page that shows the evidence.

Read from ``summary.json`` only (never recomputed), so the box says exactly what the pages say:

1. a promise missed, the largest shortfall first (speed to lead and cadence grouped per promise);
2. assumptions of the SLA that the review found drifted (the SLA should be rewritten around them);
3. the attempt cap, when the history cannot judge it (the experiment that would) or it differs
   from the cap the SLA was written with by a gain a month worth a change (``min_gain_per_month``:
   the one materiality rule; a smaller gain is no action).
"""
from __future__ import annotations

from dataclasses import dataclass

from sla_analysis.formats import money, pct, weeks_in_words

COMPLIANCE_PAGE = "05_sla_compliance.html"
VALUE_PAGE = "04_lead_value_targets.html"
CAP_PAGE = "03_profitability_plateau.html"
#: the section of a page holding the evidence: its heading's id (nbconvert's, from the heading text)
SPEED_SECTION = f"{COMPLIANCE_PAGE}#Speed-to-lead"
CADENCE_SECTION = f"{COMPLIANCE_PAGE}#Cadence:-touches-against-the-protocol"
REVIEW_SECTION = f"{COMPLIANCE_PAGE}#SLA-review"
TARGET_SECTION = f"{VALUE_PAGE}#Marketing's-target-and-the-MQLs-it-takes"
CAP_SECTION = f"{CAP_PAGE}#The-recommended-cap"
MAX_ACTIONS = 3


@dataclass(frozen=True)
class Action:
    """One thing to do: the sentence, the page with the evidence, and how far off the figure is
    (a shortfall as a share of the target; actions are shown largest first)."""

    text: str
    href: str
    weight: float


#: MQLs arriving after hours, as a share, from which a missed speed to lead says so
AFTER_HOURS_SHARE = 0.25


def _missed_promises(promises: list[dict], working: dict | None = None) -> list[Action]:
    """Missed promises grouped by kind ("speed to lead", "follow-up cadence", "MQL value delivered").
    A missed speed to lead says so when many MQLs arrive outside the hours the team works
    (``working``: ``compliance.working_hours``) and the windows count clock hours."""
    groups: dict[str, list[dict]] = {}
    for p in promises:
        if p.get("status") == "missed" and p.get("target"):
            groups.setdefault(p["promise"].split(",")[0], []).append(p)
    actions = []
    for kind, missed in groups.items():
        worst = max(missed, key=lambda p: (p["target"] - p["actual"]) / p["target"])
        gap = (worst["target"] - worst["actual"]) / worst["target"]
        total = sum(1 for p in promises if p["promise"].split(",")[0] == kind)
        if kind == "MQL value delivered":
            text = f"Marketing is behind its promise: {worst['text']}."
            href = TARGET_SECTION
        else:
            where = "in every tier" if len(missed) == total > 1 else (
                "in " + ", ".join(p["promise"].split(", ", 1)[-1] for p in missed))
            furthest = "; furthest off, " if len(missed) > 1 else ": "
            text = f"{kind.capitalize()} missed {where}{furthest}{worst['text'][:1].lower() + worst['text'][1:]}."
            outside = (working or {}).get("mqls_outside_share")
            if kind == "speed to lead" and outside is not None and outside >= AFTER_HOURS_SHARE:
                text += (f" {outside:.0%} of the MQLs arrived outside the team's working hours, and the windows count clock "
                         "hours: the Proposed SLA counts them in working hours.")
            href = SPEED_SECTION if kind == "speed to lead" else CADENCE_SECTION
        actions.append(Action(text, href, gap))
    return actions


def _figure_words(name: str, value: float | None, currency: str) -> str:
    kind, _, group = name.partition(":")
    if value is None:
        return "–"
    if kind == "close_rate":
        return f"{group} MQLs close at {pct(value)}"
    if kind == "mql_value":
        return f"{group} MQLs are worth {money(value, currency)}"
    if kind == "cost_per_call":
        return f"a call costs {money(value, currency, 2)}"
    if kind == "attempt_cap":
        return f"the best attempt cap is {value:.0f}"
    return f"{name.replace('_', ' ')} is {value:,.4g}"


def _drifted_assumptions(review: dict, currency: str) -> list[Action]:
    flagged = [(n, f) for n, f in (review.get("figures") or {}).items() if f.get("flagged") and n != "attempt_cap"]
    if not flagged:
        return []
    flagged.sort(key=lambda nf: -abs(nf[1].get("drift") or 0))
    parts = [f"{_figure_words(n, f.get('measured'), currency)} against {_assumed(n, f.get('assumed'), currency)} "
             "assumed" for n, f in flagged[:2]]
    more = f" (and {len(flagged) - 2} more)" if len(flagged) > 2 else ""
    text = "Rewrite the SLA's assumptions: " + "; ".join(parts) + more + "."
    return [Action(text, REVIEW_SECTION, max(abs(f.get("drift") or 0) for _, f in flagged))]


def _assumed(name: str, value: float | None, currency: str) -> str:
    kind = name.partition(":")[0]
    if value is None:
        return "–"
    if kind == "close_rate":
        return pct(value)
    if kind in ("mql_value",):
        return money(value, currency)
    if kind == "cost_per_call":
        return money(value, currency, 2)
    return f"{value:,.4g}"


def _attempt_cap(plateau: dict, review: dict, currency: str = "USD") -> list[Action]:
    experiment = plateau.get("experiment") or None
    judge = plateau.get("cannot_judge_above") or plateau.get("recommended_attempts")
    if experiment and experiment.get("test_cap") and experiment.get("feasible") is False:
        text = (f"Keep the attempt cap at {judge} for now: the history cannot judge a higher one, and a fair test "
                f"of {experiment['test_cap']} attempts would take {weeks_in_words(experiment.get('weeks_needed'))} "
                "of new leads. Look at it again next period.")
        return [Action(text, CAP_SECTION, 0.1)]
    if experiment and experiment.get("test_cap"):
        weeks = experiment.get("weeks_needed")
        text = (f"The history cannot judge an attempt cap above {judge}: "
                f"test {experiment['test_cap']} attempts on {pct(experiment.get('share'), 0)} of new leads"
                + (f" for {weeks_in_words(weeks)}" if weeks else "") + ".")
        return [Action(text, CAP_SECTION, 0.5)]
    cap = (review.get("figures") or {}).get("attempt_cap") or {}
    change = plateau.get("change") or {}
    if cap.get("flagged") and plateau.get("recommended_attempts") is not None:
        if change and not change.get("material"):  # one materiality rule: not worth rewriting the SLA for
            return []
        worth = (f": {money(change['gain_per_lead'], currency)} more profit per contacted lead, about "
                 f"{money(change['gain_per_month'], currency)} a month" if change.get("gain_per_month") is not None
                 else ": profit per lead is highest there")
        text = (f"Change the attempt cap in the SLA from {cap['assumed']:.0f} to {plateau['recommended_attempts']} "
                f"attempts (interval {plateau['ci_low']} to {plateau['ci_high']}){worth}.")
        return [Action(text, CAP_SECTION, abs(cap.get("drift") or 0))]
    return []


def what_to_do(summary: dict) -> list[Action]:
    """At most :data:`MAX_ACTIONS` actions: missed promises (largest shortfall first), then the
    assumptions to rewrite, then the attempt cap. Empty when the figures call for nothing."""
    currency = summary.get("currency", "USD")
    review = summary.get("sla_review") or {}
    promises = (summary.get("compliance") or {}).get("promises") or []
    missed = sorted(_missed_promises(promises, (summary.get("compliance") or {}).get("working_hours")),
                    key=lambda a: -a.weight)
    others = _drifted_assumptions(review, currency) + _attempt_cap(summary.get("plateau") or {}, review, currency)
    return (missed[:2] + others)[:MAX_ACTIONS] if others else missed[:MAX_ACTIONS]
