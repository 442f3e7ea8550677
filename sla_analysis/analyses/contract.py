"""The parts of the proposed SLA that make it a contract (``sla_proposal.md`` sections 8-14).

A signed SLA holds more than numbers: what each stage of the funnel means (the demand waterfall:
inquiry, MQL, SAL, SQL, opportunity, won), sales' obligation to accept or reject each MQL with a
reason, who owns a lead, when it goes back to marketing, what happens when a promise is missed,
who signs and reviews it, which CRM fields are the record, and how it starts, ends and changes.
Each part is filled from the data and the config's ``contract`` key where they can be (owners'
names and roles, the effective date, the term); a placeholder (``[to be agreed]``) otherwise.
"""
from __future__ import annotations

from datetime import date

from sla_analysis.analyses.review import add_months
from sla_analysis.config import BusinessHours, SLAConfig
from sla_analysis.formats import crm_text, money, pct

#: written where the config says nothing and the data cannot tell
PLACEHOLDER = "[to be agreed]"


def _clock(hour: float) -> str:
    """``8.5`` -> ``08:30``."""
    return f"{int(hour):02d}:{round((hour - int(hour)) * 60):02d}"


def _who(contract: dict, side: str) -> str:
    """``Jane Doe (VP of Sales)``, or the role with a placeholder for the name."""
    name, role = contract.get(f"{side}_owner"), contract.get(f"{side}_role")
    return f"{name} ({role})" if name else f"{role} ({PLACEHOLDER}: name)"


def effective_date(contract: dict, period_end: date) -> date:
    """The config's ``effective_date``, else the day after the period the proposal was drafted from."""
    raw = contract.get("effective_date")
    return date.fromisoformat(str(raw)) if raw else period_end


def contract_sections(cfg: SLAConfig, p: dict, reasons: list[str] | None = None,
                      undecided_share: float | None = None) -> list[str]:
    """Markdown lines of sections 8 to 14. ``p``: ``summary.json["proposal"]``; ``reasons``: the
    rejection reasons the CRM records (page 06), most frequent first; ``undecided_share``: the share
    of settled MQLs contacted with no decision recorded (page 06's handoff outcomes)."""
    c = cfg.contract
    starts = effective_date(c, date.fromisoformat(p["review"]["agreed_on"]))
    ends = add_months(starts, int(c["term_months"]))
    days = int(c["accept_within_days"])
    threshold = (p.get("handoff") or {}).get("threshold") or {}
    score = (f"a lead score of {threshold['value']:g} or more" if threshold.get("value") is not None
             else "the MQL criteria marketing and sales agree")
    bh = p.get("business_hours")
    zone = bh["timezone"] if bh else (cfg.business_hours or {}).get("timezone", "UTC")
    hours = (bh["hours"][0], bh["hours"][1]) if bh else None
    own = BusinessHours.from_config(cfg.business_hours)
    if bh and own is not None:  # the SLA's own hours, as written (the proposal's are whole hours)
        hours = (_clock(own.start_hour), _clock(own.end_hour))
    holidays = (cfg.business_hours or {}).get("holidays") or []
    L = ["## 8. Definitions", "",
         "The stages follow the demand waterfall; each is a field of the CRM, and a lead's stage is what the CRM records.", "",
         "- **Inquiry**: a person who gave their details (a lead created in the CRM).",
         f"- **MQL** (marketing-qualified lead): an inquiry that fits the customer profile and has shown buying interest, "
         f"recorded as {score} (fit and behaviour added up where the CRM scores both) and an MQL date.",
         f"- **SAL** (sales-accepted lead): an MQL sales has accepted, within {days} working days of its MQL date, as worth "
         "working.",
         "- **SQL** (sales-qualified lead): an SAL sales has qualified (budget, authority, need, timing) and recorded with "
         "an SQL date.",
         "- **Opportunity**: a deal created for the lead. **Won**: the deal closed as won, at its amount.",
         "- **Touch**: one logged call, e-mail or meeting with the lead (an activity in the CRM); touches after the "
         "lead's first opportunity are the deal's, not the lead's.",
         f"- **Tier**: the lead's tier field; a lead without one follows the {cfg.default_tier} tier's protocol.", "",
         "## 9. Accepting and rejecting MQLs", "",
         f"Sales accepts or rejects every MQL within **{days} working days** of its MQL date, in the CRM. A rejection "
         "carries one reason code" + (": " + ", ".join(crm_text(r) for r in reasons[:8]) + " (the codes the CRM records today)."
                                      if reasons else f": {PLACEHOLDER} (the CRM records no reason codes today)."),
         ]
    if undecided_share is not None:
        L.append(f"Today {pct(undecided_share, 0)} of the settled MQLs were contacted and ended with no decision recorded: "
                 "under this agreement every MQL ends accepted, rejected with a reason, or recycled (page 06).")
    L += ["", "## 10. Routing and ownership", "",
          "Each MQL is assigned to one SDR, its owner in the CRM, when it becomes an MQL. The owner makes the first "
          "attempt within the tier's window (section 3); an MQL not touched within its window is reassigned by the sales "
          "manager the same working day. Ownership changes only in the CRM.", "",
          "## 11. Nurture and recycling", "",
          "A lead worked to its tier's touches without an opportunity, or rejected as not ready, goes back to marketing "
          "for nurturing (recycled, with the date in the CRM). A recycled lead that shows new buying interest becomes an "
          "MQL again and starts a new protocol.", "",
          "## 12. Escalation", "",
          f"A promise missed {int(c['escalate_after_misses'])} months in a row goes to {_who(c, 'sales')} and "
          f"{_who(c, 'marketing')}, who agree a remedy at the next monthly review (staffing, volume, or the promise "
          "itself, amended as in section 14).", "",
          "## 13. Records, time zone and holidays", "",
          "The CRM is the source of truth: leads (created, MQL, SQL, rejected and recycled dates, tier, score, owner), "
          "activities (when, type, rep, outcome) and deals (created, stage, closed, amount). The report computes every "
          "figure of this agreement from them.",
          f"Times are in {zone}" + (f", working hours {hours[0]} to {hours[1]} on the days of section 3"
                                    if hours else "; windows count clock hours")
          + (f"; holidays: {', '.join(str(h) for h in holidays)}." if holidays else f"; holidays: {PLACEHOLDER}."), "",
          "## 14. Term, review and changes", "",
          f"- **Effective** {starts.isoformat()}, for **{int(c['term_months'])} months** (to {ends.isoformat()}).",
          f"- **Monthly review**: {c['review_meeting']}, chaired by {c.get('revops_owner') or f'RevOps ({PLACEHOLDER}: name)'}, "
          "with both owners, on the report of the month before: the promises table of section 6, each met or missed.",
          "- **Changes**: in writing, signed by both owners, at a monthly review; a change takes effect on the first day "
          "of the next month.",
          "- **Disputes**: the figures of the report, computed from the CRM, decide. Data entered wrongly is corrected in "
          "the CRM and the month's report is run again; what remains is settled by the two owners at the review.", ""]
    return L


def signatures(cfg: SLAConfig) -> str:
    """The signature line: both owners, by name and role (placeholders where the config has none)."""
    c = cfg.contract
    return f"Signed: ______________________ {_who(c, 'sales')}      ______________________ {_who(c, 'marketing')}"


def promises_table(cfg: SLAConfig, p: dict) -> list[str]:
    """Markdown lines of the review table: exactly the promises this agreement makes, each with its
    target and unit, as the monthly scorecard judges them."""
    m, s = p["marketing"], p["sales"]
    bh = bool(p.get("business_hours"))
    L = ["| Promise | Target | Owner |", "|---|---|---|"]  # marketing's, then sales' per tier, then acceptance
    if m.get("available"):
        L.append(f"| Expected value of the MQLs delivered | {money(m['lead_value_per_month'], cfg.currency)} a month | marketing |")
    for t, v in s["tiers"].items():
        hours = v["response_hours"]["value"]
        unit = "working hours" if bh else "clock hours"
        L.append(f"| {t} tier: first attempt within {hours:g} {unit} | {cfg.speed_to_lead_target:.0%} of the tier's MQLs | sales |")
        L.append(f"| {t} tier: {v['touches']['value']} touches over {v['timeframe_days']['value']} days, or converted before | "
                 f"{cfg.cadence_target:.0%} of the tier's leads | sales |")
    L.append(f"| Every MQL accepted or rejected within {int(cfg.contract['accept_within_days'])} working days | all MQLs | sales |")
    return L
