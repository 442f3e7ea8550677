"""``sla_proposal.html``: the proposed SLA (``sla_proposal.md``) as a document to print and sign.

The same text as ``sla_proposal.md``, rendered once from it (so the two never differ), on one
self-contained page (inline CSS, no scripts, no fonts or styles fetched): A4 margins, sections and
tables kept whole across pages, and signature lines at the end. Markdown is rendered by mistune
(nbconvert's own Markdown renderer) with raw HTML escaped: text that came from the CRM (a source's
or a rep's name) is shown, never interpreted. CRM text reaches ``sla_proposal.md`` already escaped
(:func:`sla_analysis.formats.crm_text`: ``&amp;``, ``&#91;``...), so character references are kept
as they are, not escaped a second time; an image is shown as its description (nothing is fetched).
"""
from __future__ import annotations

import html
import re

import mistune
from mistune.util import safe_entity, striptags

_CSS = """
@page { size: A4; margin: 20mm 18mm 22mm; }
body { font: 11pt/1.5 Georgia, 'Times New Roman', serif; color: #111; max-width: 780px; margin: 24px auto;
       padding: 0 16px; }
h1 { font-size: 20pt; margin: 0 0 8px; } h2 { font-size: 13.5pt; margin: 22px 0 6px; page-break-after: avoid; }
p, li { orphans: 3; widows: 3; }
table { border-collapse: collapse; width: 100%; margin: 8px 0 12px; font-size: 10pt; page-break-inside: avoid; }
th, td { border: 1px solid #999; padding: 4px 6px; vertical-align: top; } th { background: #f2f2f2; text-align: left; }
td[style*="right"], th[style*="right"] { white-space: nowrap; }
.signatures { display: flex; gap: 48px; margin-top: 40px; page-break-inside: avoid; }
.signature { flex: 1; border-top: 1px solid #111; padding-top: 6px; font-size: 10pt; }
.note { color: #555; font-size: 9.5pt; border-top: 1px solid #ccc; margin-top: 28px; padding-top: 6px; }
@media print { body { margin: 0; max-width: none; } a { color: inherit; text-decoration: none; } }
"""

class _Renderer(mistune.HTMLRenderer):
    """mistune's HTML, raw HTML escaped, character references kept, images as their text."""

    def text(self, text: str) -> str:
        return safe_entity(text)

    def image(self, text: str, url: str, title: str | None = None) -> str:
        return safe_entity(striptags(text))


_RENDER = mistune.create_markdown(renderer=_Renderer(escape=True), plugins=["table"])
#: the last line of ``sla_proposal.md``: "Signed: ____ role (name)      ____ role (name)"
_SIGNED = re.compile(r"^Signed:\s*(.+)$", re.MULTILINE)
_PARTIES = re.compile(r"\s{2,}(?=_{3,})")


def _signatures(line: str) -> str:
    """The signature line as one block per party: a rule to sign on, the party under it, a date."""
    parties = [p.strip().lstrip("_").strip() for p in _PARTIES.split(line.strip())]
    parties = [p for p in parties if p]
    if not parties:
        return ""
    blocks = "".join(f'<div class="signature">{safe_entity(p)}<br>Date:</div>' for p in parties)
    return f'<div class="signatures">{blocks}</div>'


def contract_html(markdown_text: str, footer: str = "", banner: str = "") -> str:
    """The page for ``markdown_text`` (``sla_proposal.md``); ``footer``: a plain line under it
    (e.g. the report it was drafted from); ``banner``: HTML shown first (the sample-data banner)."""
    signed = _SIGNED.search(markdown_text)
    body_text = markdown_text[:signed.start()] if signed else markdown_text
    title = next((ln[2:].strip() for ln in markdown_text.splitlines() if ln.startswith("# ")), "Proposed SLA")
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>", banner,
             _RENDER(body_text), _signatures(signed.group(1)) if signed else ""]
    if footer:
        parts.append(f'<p class="note">{html.escape(footer)}</p>')
    parts.append("</body></html>\n")
    return "\n".join(parts)
