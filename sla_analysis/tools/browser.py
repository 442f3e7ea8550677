"""A published report as a reader's browser shows it: Debian's Chromium, headless, driven by
Playwright (``make install-browser``; no browser is downloaded).

:func:`inspect_page` measures what the browser tests check on every page (``tests/test_browser.py``):
the title, horizontal overflow at a laptop and a phone width, images without a text alternative,
requests that would leave the machine, and the pages a print to A4 takes; :func:`take_screenshots`
(``make screenshots PERIOD=…``) writes what a reader sees to ``reports/<P>/_screens/``.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from playwright.sync_api import Browser, Page, sync_playwright

#: Debian's chromium; ``CHROMIUM`` points elsewhere
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
#: flags for a headless browser on a machine with no network: no background connections at all
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]
LAPTOP, PHONE = (1280, 800), (390, 844)


@dataclass
class PageFacts:
    """What a browser saw of one page."""

    url: str
    title: str
    overflow_px: dict[str, int]  # viewport name -> how far the page is wider than the viewport
    images: int
    images_without_alt: list[str]
    outside_requests: list[str]  # anything not file: or data: (it would leave the machine)
    pdf_pages: int
    links: list[str] = field(default_factory=list)  # local hrefs, resolved to files


@contextmanager
def chromium(executable: str = CHROMIUM) -> Iterator[Browser]:
    """A headless Chromium for the duration of the block."""
    if not Path(executable).exists() and not shutil.which(executable):
        raise FileNotFoundError(f"{executable} not found: run `make install-browser` (Debian's chromium)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def _guard_network(page: Page, outside: list[str]) -> None:
    def handle(route):
        url = route.request.url
        if url.startswith(("file:", "data:", "about:")):
            route.continue_()
        else:
            outside.append(url)
            route.abort()
    page.route("**/*", handle)


def _overflow(page: Page) -> int:
    return int(page.evaluate("Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)"
                             " - document.documentElement.clientWidth"))


def pdf_page_count(pdf: bytes) -> int:
    """Pages in a PDF written by Chromium (its page objects, not the /Pages tree)."""
    return len(re.findall(rb"/Type\s*/Page(?![s\w])", pdf))


def inspect_page(browser: Browser, path: Path) -> PageFacts:
    """Open ``path`` at laptop and phone widths and print it to A4; return what was seen."""
    outside: list[str] = []
    context = browser.new_context(viewport={"width": LAPTOP[0], "height": LAPTOP[1]})
    page = context.new_page()
    _guard_network(page, outside)
    page.goto(path.resolve().as_uri(), wait_until="load")
    overflow = {"laptop": _overflow(page)}
    title = page.title()
    images = page.eval_on_selector_all("img", "els => els.map(e => [e.getAttribute('alt') || '', "
                                              "(e.getAttribute('src') || '').slice(0, 40)])")
    hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))")
    page.set_viewport_size({"width": PHONE[0], "height": PHONE[1]})
    overflow["phone"] = _overflow(page)
    page.emulate_media(media="print")
    pdf = page.pdf(format="A4", print_background=False)
    context.close()
    local = [h for h in hrefs if not h.startswith(("#", "http:", "https:", "mailto:"))]
    return PageFacts(url=path.as_posix(), title=title, overflow_px=overflow, images=len(images),
                     images_without_alt=[src for alt, src in images if not alt.strip()],
                     outside_requests=outside, pdf_pages=pdf_page_count(pdf),
                     # a link to a section of a page resolves to that page's file
                     links=[str((path.parent / h.split("#", 1)[0]).resolve()) for h in local])


def take_screenshots(report_dir: Path, out_dir: Path | None = None) -> list[Path]:
    """Full-page screenshots of every page of a published report at laptop and phone widths, and
    its print as PDF, into ``report_dir/_screens`` (or ``out_dir``)."""
    out_dir = out_dir or report_dir / "_screens"
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    with chromium() as browser:
        for html in sorted(report_dir.glob("*.html")):
            for name, (w, h) in (("laptop", LAPTOP), ("phone", PHONE)):
                context = browser.new_context(viewport={"width": w, "height": h})
                page = context.new_page()
                _guard_network(page, [])
                page.goto(html.resolve().as_uri(), wait_until="load")
                target = out_dir / f"{html.stem}-{name}.png"
                page.screenshot(path=str(target), full_page=True)
                written.append(target)
                if name == "laptop":
                    page.emulate_media(media="print")
                    target = out_dir / f"{html.stem}-print.pdf"
                    target.write_bytes(page.pdf(format="A4"))
                    written.append(target)
                context.close()
    return written


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="screenshots of a published report's pages")
    parser.add_argument("--report", type=Path, required=True, help="reports/<PERIOD>")
    args = parser.parse_args()
    if not (args.report / "index.html").is_file():
        raise SystemExit(f"error: {args.report} holds no published report (no index.html)")
    for p in take_screenshots(args.report):
        print(p)
