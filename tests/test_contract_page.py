"""``sla_proposal.html``: the proposal's Markdown as a page to print, CRM text escaped."""
from __future__ import annotations

from sla_analysis.formats import crm_text
from sla_analysis.report.contract_page import contract_html

MD = """# Sales & marketing service level agreement: proposal after 2024Q1

Drafted from the CRM export. Marketing delivers **$2,400,000 of lead value a month**.

## 2. Marketing's promise

| MQL type | MQLs | Decision |
|---|---:|---|
| <script>alert(1)</script> | 1,364 | send to sales |
| demo & trial | 12 | keep |
| CRM_TYPE | 3 | keep |

## 14. Term, review and changes

- **Effective** 2024-04-01, for **12 months**.

![logo](http://example.invalid/logo.png)

Signed: ______________________ head of sales (ann_lee)      ______________________ head of marketing ([to be agreed]: name)
"""


def test_the_proposal_renders_whole_with_crm_text_escaped():
    # CRM text reaches the Markdown escaped by crm_text; it is shown as written, not escaped twice
    md = MD.replace("CRM_TYPE", crm_text("Events & Partner's [EU] | http://x.example"))
    page = contract_html(md, footer="Drafted by sla-analysis for 2024Q1.")
    assert page.startswith("<!DOCTYPE html>") and "<title>Sales &amp; marketing service level agreement" in page
    assert "<h1>Sales &amp; marketing service level agreement: proposal after 2024Q1</h1>" in page
    assert "<h2>2. Marketing&#x27;s promise</h2>" in page or "<h2>2. Marketing's promise</h2>" in page
    assert "<strong>$2,400,000 of lead value a month</strong>" in page
    assert page.count("<table>") == 1 and page.count("<tr>") == 4 and "<td style=\"text-align:right\">1,364</td>" in page
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page   # shown, not run
    assert "demo &amp; trial" in page
    # shown as the CRM wrote it (one level of escaping: what a browser shows is the name itself)
    assert "<td>Events &amp; Partner's [EU] | http://x.example</td>" in page
    assert "&amp;amp;" not in page and "&amp;#" not in page and "<a " not in page
    assert "<img" not in page and "<p>logo</p>" in page              # an image: its description, nothing fetched
    # one signature block per party, the parties as written, no underscores left
    assert page.count('class="signature"') == 2 and "head of sales (ann_lee)<br>Date:" in page
    assert "head of marketing ([to be agreed]: name)" in page and "____" not in page and "Signed:" not in page
    assert "<p class=\"note\">Drafted by sla-analysis for 2024Q1.</p>" in page
    assert "src=" not in page and "<link" not in page and "<script" not in page  # self-contained
    assert contract_html(md) == contract_html(md)   # same text, same bytes


def test_a_proposal_without_signature_line_still_renders():
    page = contract_html("# Proposed SLA\n\nText.\n")
    assert "<h1>Proposed SLA</h1>" in page and "signature" not in page.split("</style>")[1]


def test_a_proposal_drafted_from_sample_data_says_so_first():
    from sla_analysis.report.marks import SAMPLE_BANNER
    page = contract_html("# Proposed SLA\n\nText.\n", banner=SAMPLE_BANNER)
    body = page.split("<body>", 1)[1]
    assert body.lstrip().startswith(SAMPLE_BANNER) and "Sample data." in body
