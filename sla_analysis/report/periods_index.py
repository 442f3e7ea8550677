"""``reports/index.html``: every published period on one page, newest first, each with its
scorecard in one line and the main promises side by side, so their trend reads down a column.
Rebuilt from the periods' ``summary.json`` files after each publish; written atomically."""
from __future__ import annotations

import html
import json
import os
import tempfile
from pathlib import Path

from sla_analysis.errors import PeriodError
from sla_analysis.formats import money, pct
from sla_analysis.periods import parse_period

_CSS = """
body { font: 15px/1.45 -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif; max-width: 1100px;
       margin: 24px auto; padding: 0 16px; color: #222; }
h1 { font-size: 24px; } .sub { color: #666; }
table { border-collapse: collapse; } td, th { padding: 5px 8px; border-bottom: 1px solid #eee; vertical-align: top; }
td.num, th.num { text-align: right; white-space: nowrap; } th { text-align: left; }
.met { color: #1a7f37; } .missed { color: #c62828; } .notjudged { color: #777; }
.wrap { overflow-x: auto; }
@media print { .wrap { overflow: visible; } table { font-size: 8.5pt; } }
"""
MARKS = {"met": ("met", "✔"), "missed": ("missed", "✘"), "not judged": ("notjudged", "–")}


def _e(value) -> str:
    return html.escape(str(value))


def published_periods(out_root: Path) -> list[tuple[str, dict]]:
    """(label, summary) for every published period under ``out_root``, newest first (by the end of
    the period, then its start: a month before the quarter that ends with it)."""
    found = []
    for d in out_root.iterdir() if out_root.is_dir() else []:
        summary = d / "summary.json"
        if d.name.startswith(".") or not summary.is_file():
            continue
        try:
            period = parse_period(d.name)
            found.append((period.end, period.start, d.name, json.loads(summary.read_text())))
        except (PeriodError, ValueError):
            continue
    found.sort(key=lambda f: (f[0], f[1]), reverse=True)
    return [(label, s) for _, _, label, s in found]


def _promise_value(p: dict, currency: str) -> str:
    if p.get("actual") is None:
        return "not available"
    if "value" in p.get("promise", ""):
        return money(p["actual"], currency)
    return pct(p["actual"], 0)


def periods_table(periods: list[tuple[str, dict]]) -> list[str]:
    """The table: one row per period; a column per promise (in the order they first appear)."""
    columns: list[str] = []
    for _, s in periods:
        for p in (s.get("compliance") or {}).get("promises") or []:
            if p["promise"] not in columns:
                columns.append(p["promise"])
    head = "".join(f"<th class='num'>{_e(c.capitalize())}</th>" for c in columns)
    rows = [f"<div class='wrap'><table><tr><th>Period</th><th>Scorecard</th>{head}</tr>"]
    for label, s in periods:
        currency = s.get("currency", "USD")
        promises = {p["promise"]: p for p in (s.get("compliance") or {}).get("promises") or []}
        met = sum(p["status"] == "met" for p in promises.values())
        missed = sum(p["status"] == "missed" for p in promises.values())
        other = len(promises) - met - missed
        score = f"{met} met, {missed} missed" + (f", {other} not judged" if other else "")
        sample = " <span class='notjudged'>(sample data)</span>" if s.get("sample_data") else ""
        cells = []
        for c in columns:
            p = promises.get(c)
            if p is None:
                cells.append("<td class='num notjudged'>–</td>")
                continue
            cls, mark = MARKS.get(p["status"], ("notjudged", "–"))
            cells.append(f"<td class='num {cls}' title='{_e(p.get('text', ''))}'>{_e(_promise_value(p, currency))} {mark}</td>")
        rows.append(f"<tr><td><a href='{_e(label)}/index.html'>{_e(label)}</a>{sample}</td><td>{_e(score)}</td>"
                    + "".join(cells) + "</tr>")
    rows.append("</table></div>")
    return rows


def write_periods_index(out_root: Path) -> Path | None:
    """Write ``out_root/index.html`` listing every published period (None when there is none)."""
    periods = published_periods(out_root)
    if not periods:
        return None
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             f"<title>SLA reports: every period</title><style>{_CSS}</style></head><body>",
             "<h1>Sales &amp; marketing SLA reports</h1>",
             f"<p class='sub'>{len(periods)} period{'s' if len(periods) != 1 else ''} published, newest first. "
             "Each promise shows the period's figure and whether it was kept (✔ kept, ✘ missed, – not judged).</p>"]
    parts += periods_table(periods)
    parts.append("</body></html>")
    target = out_root / "index.html"
    fd, tmp = tempfile.mkstemp(prefix=".index-", suffix=".html", dir=out_root)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write("\n".join(parts) + "\n")
    os.chmod(tmp, 0o644)
    os.replace(tmp, target)
    return target
