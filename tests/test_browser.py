"""Every page of a published report opened in headless Chromium as a reader would: titled,
no sideways scrolling on a laptop, images with text alternatives, nothing fetched from the
network, a print of bounded length, and links between pages and periods that resolve.
Needs ``make install-browser`` (Debian's chromium and Playwright); ``make test`` installs it."""
from __future__ import annotations

from pathlib import Path

import pytest

from sla_analysis import paths
from sla_analysis.report.publish import page_title

browser_tools = pytest.importorskip("sla_analysis.tools.browser", reason="make install-browser")
pytestmark = [pytest.mark.browser, pytest.mark.slow]

#: the most A4 pages a page of the report may print to (the compliance page is the longest)
MAX_PRINTED_PAGES = 10


@pytest.fixture(scope="module")
def published(published_sample) -> Path:
    """The full reports for 2024Q1 and 2023Q1 (for the list of periods) the end-to-end tests read
    too, published once per session (conftest)."""
    return published_sample


@pytest.fixture(scope="module")
def seen(published) -> dict[str, "browser_tools.PageFacts"]:
    pages = [published / "index.html", *sorted((published / "2024Q1").glob("*.html")),
             published / "2023Q1" / "index.html"]
    with browser_tools.chromium() as browser:
        return {p.relative_to(published).as_posix(): browser_tools.inspect_page(browser, p) for p in pages}


def test_every_page_of_the_report_was_opened(seen):
    expected = {"index.html", "2024Q1/index.html", "2023Q1/index.html", "2024Q1/sla_proposal.html",
                *(f"2024Q1/{n}.html" for n in paths.REPORT_NOTEBOOKS)}
    assert set(seen) == expected


def test_titles_name_the_page(seen):
    assert seen["index.html"].title == "SLA reports: every period"
    assert seen["2024Q1/index.html"].title == "SLA report 2024Q1"
    for name in paths.REPORT_NOTEBOOKS:
        assert seen[f"2024Q1/{name}.html"].title == page_title(name) != "Notebook"
    assert seen["2024Q1/sla_proposal.html"].title.startswith("Sales & marketing service level agreement")


def test_no_sideways_scrolling_at_1280_px(seen):
    wide = {k: f.overflow_px["laptop"] for k, f in seen.items() if f.overflow_px["laptop"] > 0}
    assert not wide, wide


def test_index_pages_fit_a_phone(seen):
    wide = {k: f.overflow_px["phone"] for k, f in seen.items() if k.endswith("index.html") and f.overflow_px["phone"] > 0}
    assert not wide, wide


def test_every_chart_has_a_text_alternative(seen):
    charts = sum(f.images for f in seen.values())
    assert charts >= 10  # the pages do show charts
    missing = {k: f.images_without_alt for k, f in seen.items() if f.images_without_alt}
    assert not missing, missing


def test_nothing_is_fetched_from_the_network(seen):
    outside = {k: f.outside_requests for k, f in seen.items() if f.outside_requests}
    assert not outside, outside


def test_printed_pages_are_bounded(seen):
    printed = {k: f.pdf_pages for k, f in seen.items()}
    assert all(n >= 1 for n in printed.values()), printed
    too_long = {k: n for k, n in printed.items() if n > MAX_PRINTED_PAGES}
    assert not too_long, too_long


def test_links_between_pages_and_periods_resolve(seen, published):
    broken = {k: [link for link in f.links if not Path(link).exists()] for k, f in seen.items()}
    broken = {k: v for k, v in broken.items() if v}
    assert not broken, broken
    home = seen["index.html"].links
    assert str((published / "2024Q1" / "index.html").resolve()) in home
    assert str((published / "2023Q1" / "index.html").resolve()) in home
    page = seen["2024Q1/03_profitability_plateau.html"].links
    assert str((published / "2024Q1" / "02_cost_per_call.html").resolve()) in page  # previous
    assert str((published / "2024Q1" / "04_lead_value_targets.html").resolve()) in page  # next
    assert str((published / "2024Q1" / "tables.xlsx").resolve()) in page
    assert str((published / "2024Q1" / "sla_proposal.html").resolve()) in seen["2024Q1/index.html"].links


def test_pdf_page_count_counts_pages_not_the_page_tree():
    pdf = b"<< /Type /Pages /Kids [3 0 R 4 0 R] >> << /Type /Page >> << /Type/Page /Parent 2 0 R >>"
    assert browser_tools.pdf_page_count(pdf) == 2
