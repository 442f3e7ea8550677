"""``index.html``: the period's one-screen summary, linking each page. Self-contained (inline CSS,
no scripts), every value escaped."""
from __future__ import annotations

import html
from pathlib import Path

from sla_analysis.formats import money
from sla_analysis.io.export_profile import TELLS
from sla_analysis.report.actions import what_to_do
from sla_analysis.report.appearances import mark, marks_to_html, plain, pointer
from sla_analysis.report.marks import SAMPLE_BANNER

_CSS = """
body { font: 15px/1.45 -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif; max-width: 860px;
       margin: 24px auto; padding: 0 16px; color: #222; }
h1 { font-size: 24px; margin-bottom: 4px; } h2 { font-size: 18px; margin-top: 28px; }
.sub { color: #666; margin-top: 0; }
table { border-collapse: collapse; width: 100%; } td, th { padding: 5px 8px; border-bottom: 1px solid #eee; }
td.num, th.num { text-align: right; white-space: nowrap; } th { text-align: left; }
@media (max-width: 600px) { td.num { white-space: normal; } }
.met { color: #1a7f37; font-weight: 600; } .missed { color: #c62828; font-weight: 600; }
.notjudged { color: #777; }
.todo { background: #f3f7fc; border: 1px solid #b9cde6; border-radius: 6px; padding: 4px 16px 8px; margin-top: 24px; }
.todo li { margin: 6px 0; }
.sla-footer { font-size: 12px; color: #777; border-top: 1px solid #ddd; margin-top: 32px; padding-top: 8px; }
"""


def _e(value) -> str:
    return html.escape(str(value))


def headline_rows(summary: dict) -> list[tuple[str, str]]:
    """Plain-words lines for the figures the summary holds (absent figures are skipped)."""
    return [(k, plain(v)) for k, v in _headlines(summary)]


def _headlines(summary: dict) -> list[tuple[str, str]]:
    """:func:`headline_rows` with each stored figure's text marked with its place in ``summary.json``
    (:mod:`sla_analysis.report.appearances`)."""
    cur = summary.get("currency", "USD")
    rows = []
    if summary.get("lead_value_target") is not None:
        rows.append(("Marketing's monthly target (quota x marketing share)",
                     mark("/lead_value_target", money(summary["lead_value_target"], cur))))
    delivered = (summary.get("lead_value") or {}).get("delivered_by_month") or {}
    marketing = next((p for p in (summary.get("compliance") or {}).get("promises") or []
                      if p.get("side") == "marketing"), None)
    if marketing and marketing.get("status") in ("not judged", "not available"):
        # the scorecard could not judge it: a figure beside "cannot be judged" would read as a zero
        rows.append(("Expected value of the MQLs marketing delivered", f"not available: {marketing.get('reason') or marketing.get('text', '')}"))
    elif delivered and None in delivered.values():
        rows.append(("Expected value of the MQLs marketing delivered", "not available: no month of the period has a known MQL value"))
    elif delivered and summary.get("lead_value_target"):
        avg = sum(delivered.values()) / len(delivered)
        rows.append(("Expected value of the MQLs marketing delivered, per month of the period",
                     f"{money(avg, cur)} ({avg / summary['lead_value_target']:.0%} of target)"))
    funnel = (summary.get("lead_value") or {}).get("funnel_per_month") or {}
    settled = (summary.get("lead_value") or {}).get("settled_window") or []
    if funnel.get("lead_value") is not None and summary.get("lead_value_target") and len(settled) == 2:
        rows.append((f"Realised: won revenue a month of the MQLs created {settled[0]} to {settled[1]} (settled)",
                     f"{mark('/lead_value/funnel_per_month/lead_value', money(funnel['lead_value'], cur))} "
                     f"({funnel['lead_value'] / summary['lead_value_target']:.0%} of target)"))
    if summary.get("mqls_needed") is not None:
        rows.append(("MQLs needed per month at the current source mix", mark("/mqls_needed", f"{summary['mqls_needed']:,.0f}")))
    team = summary.get("sdr_headcount") or {}
    if team.get("available"):
        low, high = team["sdrs_needed"]
        need = (mark("/sdr_headcount/sdrs_needed/0", f"{low:.0f}") if round(low) == round(high) else
                f"{mark('/sdr_headcount/sdrs_needed/0', f'{low:.0f}')} to {mark('/sdr_headcount/sdrs_needed/1', f'{high:.0f}')}")
        today = (f"; today {mark('/sdr_headcount/sdrs_today', str(team['sdrs_today']))}"
                 if team.get("sdrs_today") is not None else "")
        rows.append(("SDRs the volume needs (the count that binds)", f"{need}: {team['binding_words']}{today}"))
    if summary.get("cost_per_call") is not None:
        rows.append(("Cost per call (assumed in the SLA)", mark("/cost_per_call", money(summary["cost_per_call"], cur, 2))))
    measured = summary.get("cost", {}).get("cost_per_call_measured")
    if measured is not None:
        rows.append(("Cost per call (at the dialling pace the activity log shows)",
                     mark("/cost/cost_per_call_measured", money(measured, cur, 2))))
    plateau = summary.get("plateau") or {}
    if plateau.get("recommended_attempts") is not None:
        n = plateau["recommended_attempts"]
        rows.append(("Attempt cap to write into the SLA (profit per lead is highest there)",
                     f"{mark('/plateau/recommended_attempts', str(n))} attempt{'' if n == 1 else 's'} (interval "
                     f"{mark('/plateau/ci_low', str(plateau['ci_low']))}-{mark('/plateau/ci_high', str(plateau['ci_high']))})"))
        change = plateau.get("change")
        if change and change["current_cap"] != change["recommended_cap"] and change.get("gain_per_month") is not None:
            verdict = "worth a change" if change["material"] else f"keep {change['current_cap']}: below the gain worth a change"
            rows.append((f"What moving from today's cap of {change['current_cap']} is worth",
                         f"{mark('/plateau/change/gain_per_lead', money(change['gain_per_lead'], cur))} a contacted lead, "
                         f"{mark('/plateau/change/gain_per_month', money(change['gain_per_month'], cur))} "
                         f"a month ({verdict}, {mark('/plateau/change/min_gain_per_month', money(change['min_gain_per_month'], cur))} a month)"))
        if plateau.get("plateau_attempts") and (change or {}).get("plateau_share_of_best"):
            rows.append(("Where one more attempt stops paying much (the plateau)",
                         f"{mark('/plateau/plateau_attempts', str(plateau['plateau_attempts']))} "
                         f"attempt{'' if plateau['plateau_attempts'] == 1 else 's'}: "
                         f"{mark('/plateau/change/plateau_share_of_best', format(change['plateau_share_of_best'], '.0%'))} of the best profit"))
    elif plateau.get("reason"):
        rows.append(("Attempt cap", f"not available: {plateau['reason']}"))
    return rows


def _rows(entry: dict) -> int:
    return int(entry.get("rows") or 0)


def data_quality_section(summary: dict) -> list[str]:
    """The inputs read (file, rows) and the rows left out, each with its rule, reason and count."""
    parts = ["<h2>Data quality</h2>"]
    inputs = summary.get("inputs") or {}
    if inputs:
        parts.append("<table><tr><th>Table</th><th>File</th><th class='num'>Rows used</th></tr>")
        parts += [f"<tr><td>{_e(n)}</td><td>{_e(i.get('file', ''))}</td>"
                  f"<td class='num'><span data-figure='{_e(pointer('inputs', n, 'rows'))}'>{_rows(i):,}</span></td></tr>"
                  for n, i in sorted(inputs.items())]
        parts.append("</table>")
    excluded = (summary.get("data_quality") or {}).get("excluded") or []
    if not excluded:
        parts.append("<p>No row was left out: every row of the export passed the data contract.</p>")
        return parts
    per_table: dict[str, int] = {}
    for e in excluded:
        per_table[str(e.get("table", ""))] = per_table.get(str(e.get("table", "")), 0) + _rows(e)
    counts = "; ".join(f"{n:,} of the {_e(t)} row{'s' if n != 1 else ''}" for t, n in sorted(per_table.items()))
    parts.append(f"<p>Left out of the figures: {counts}. A row left out of one table leaves the other tables as they "
                 "are (a lead stays in every figure when only its unlinked deals were dropped). Each row is counted "
                 "once, under the first rule that left it out (the rows themselves are not shown):</p>")
    parts.append("<table><tr><th>Table</th><th>Rule</th><th>Reason</th><th class='num'>Rows</th></tr>")
    parts += [f"<tr><td>{_e(e.get('table', ''))}</td><td>{_e(e.get('rule', ''))}</td>"
              f"<td>{_e(e.get('reason', ''))}</td><td class='num'>"
              f"<span data-figure='{_e(pointer('data_quality', 'excluded', i, 'rows'))}'>{_rows(e):,}</span></td></tr>"
              for i, e in enumerate(excluded)]
    parts.append("</table>")
    return parts


def export_profile_section(summary: dict) -> list[str]:
    """"What this export can and cannot tell": the days it covers, then each fact the figures need
    (:data:`sla_analysis.io.export_profile.TELLS`), with what shows it or why the figures needing it are
    not available: the same reason every page gives for them."""
    profile = summary.get("export_profile")
    if not profile:
        return []
    facts = profile.get("facts") or {}
    days = (f"It covers {_e(profile['first_day'])} to {_e(profile['last_day'])} (both days included)."
            if profile.get("first_day") else "It holds no dated event.")
    parts = ["<h2>What this export can and cannot tell</h2>", f"<p>{days}</p>",
             "<table><tr><th>The export records</th><th>So the report can show</th><th>Not available because</th></tr>"]
    for name, tells in TELLS:
        f = facts.get(name)
        if f is None:
            continue
        has = "✔ " + (f.get("detail") or "yes") if f["present"] else "✘ no"
        parts.append(f"<tr><td>{_e(has)}</td><td>{_e(tells)}</td><td>{_e(f.get('reason') or '')}</td></tr>")
    parts.append("</table>")
    return parts


def what_to_do_section(summary: dict) -> list[str]:
    """The "What to do" box: the actions the figures support, each linked to its evidence."""
    actions = what_to_do(summary)
    if not actions:
        return []
    items = "".join(f"<li>{_e(a.text)} <a href='{_e(a.href)}'>See why</a></li>" for a in actions)
    return [f"<div class='todo'><h2>What to do</h2><ol>{items}</ol></div>"]


def write_index(path: Path, summary: dict, pages: list[tuple[str, str]], footer: str) -> None:
    """Write the summary page."""
    period = summary["period"]
    cur = summary.get("currency", "USD")
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             f"<title>SLA report {_e(period['label'])}</title><style>{_CSS}</style></head><body>"]
    if summary.get("sample_data"):
        parts.append(SAMPLE_BANNER)
    proposal = (" · <a href='sla_proposal.html'>The proposed SLA, to print and sign</a>"
                if (path.parent / "sla_proposal.html").is_file() else "")
    parts.append("<p class='sub'><a href='../index.html'>&larr; All periods</a> · "
                 f"<a href='tables.xlsx'>The figures in Excel (tables.xlsx)</a>{proposal}</p>")
    parts.append(f"<h1>Sales &amp; marketing SLA report: {_e(period['label'])}</h1>")
    parts.append(f"<p class='sub'>{_e(period['start'])} to {_e(period['end_exclusive'])} (end excluded)</p>")
    promises = (summary.get("compliance") or {}).get("promises") or []
    if promises:
        met = sum(p["status"] == "met" for p in promises)
        missed = sum(p["status"] == "missed" for p in promises)
        parts.append(f"<h2>Scorecard: {met} promise{'s' if met != 1 else ''} met, {missed} missed</h2><table>")
        marks = {"met": ("met", "✔ met"), "missed": ("missed", "✘ missed"), "not judged": ("notjudged", "– too few leads")}
        for side in ("marketing", "sales"):
            for p in (p for p in promises if p["side"] == side):
                cls, label = marks.get(p["status"], ("notjudged", p["status"]))
                parts.append(f"<tr><td>{_e(side.capitalize())}</td><td>{_e(p['text'])}</td>"
                             f"<td class='num {cls}'>{_e(label)}</td></tr>")
        parts.append("</table>")
    review = summary.get("sla_review") or {}
    if review:
        text = review.get("verdict")
        if not text:  # a summary written before the verdict was recorded in it
            from sla_analysis.analyses.review import review_verdict  # (SciPy, statsmodels: only then)

            text = review_verdict(bool(review.get("due")), review.get("why", ""), review.get("tolerance", 0),
                                  review.get("compared", 0))
        parts.append(f"<p><strong>SLA review.</strong> {_e(text)}</p>")
    parts += what_to_do_section(summary)  # on the first screen, under the scorecard
    rows = _headlines(summary)
    if rows:
        parts.append("<h2>Headline figures</h2><table>")
        parts += [f"<tr><td>{_e(k)}</td><td class='num'>{marks_to_html(_e(v))}</td></tr>" for k, v in rows]
        parts.append("</table>")
    values = summary.get("mql_value_by_source") or {}
    limits = summary.get("limits") or {}
    if values and limits.get("revenue"):
        parts.append(f"<h2>What an MQL is worth, by source</h2><p>Not available: {_e(limits['revenue'])}.</p>")
    elif values:
        parts.append("<h2>What an MQL is worth, by source</h2><table><tr><th>Source</th><th class='num'>Value per MQL</th></tr>")
        parts += [f"<tr><td>{_e(s)}</td><td class='num'>"
                  + (f"<span data-figure='{_e(pointer('mql_value_by_source', s))}'>{_e(money(v, cur))}</span>"
                     if v is not None else "not enough data") + "</td></tr>"
                  for s, v in sorted(values.items())]
        parts.append("</table>")
    parts.append("<h2>Pages</h2><ul>")
    parts += [f"<li><a href='{_e(href)}'>{_e(title)}</a></li>" for href, title in pages]
    parts.append("</ul>")
    parts += export_profile_section(summary)
    parts += data_quality_section(summary)
    parts.append(f"<div class='sla-footer'>{_e(footer)}</div></body></html>")
    path.write_text("\n".join(parts) + "\n", encoding="utf-8")
