"""Where each figure is shown: a ``data-figure`` attribute on the element holding it, and a map of
every such appearance written with the run (``appearances.json``), so that a test (or a reader)
can check each number shown against the stored result.

A renderer marks a figure's text with :func:`mark` while it builds plain text (a private-use
character frames the summary path and the text), escapes the whole, then turns the marks into
``<span data-figure="path">text</span>`` with :func:`marks_to_html`; :func:`plain` drops them.
A figure is named by its JSON Pointer into ``summary.json`` (RFC 6901: ``/plateau/recommended_attempts``,
``/mql_value_by_source/webinar``; :func:`pointer` builds one): the stored result the text must agree with.
"""
from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

_OPEN, _MID, _CLOSE = "\ue000", "\ue001", "\ue002"
_MARK = re.compile(f"{_OPEN}([^{_MID}]*){_MID}([^{_CLOSE}]*){_CLOSE}")
APPEARANCES_FILE = "appearances.json"


def mark(path: str, text: str) -> str:
    """``text`` marked as showing the figure at ``path`` of ``summary.json``."""
    return f"{_OPEN}{path}{_MID}{text}{_CLOSE}"


def plain(text: str) -> str:
    """``text`` without its marks (what a reader sees)."""
    return _MARK.sub(lambda m: m.group(2), text)


def marks_to_html(escaped: str) -> str:
    """Text escaped with its marks (:func:`html.escape` leaves their private-use characters, and
    escapes the paths with the rest) whose marks become ``<span data-figure="path">text</span>``."""
    return _MARK.sub(lambda m: f'<span data-figure="{m.group(1)}">{m.group(2)}</span>', escaped)


#: elements without an end tag
_VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"})
#: elements a start tag closes when they are the innermost open one (HTML's implied end tags)
_IMPLIED = {"td": ("td", "th"), "th": ("td", "th"), "tr": ("td", "th", "tr"), "li": ("li",), "p": ("p",),
            "option": ("option",)}


class _Tagged(HTMLParser):
    """The text of every element carrying ``data-figure``, in document order (of their start tags)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[dict] = []
        self._open: list[tuple[str, dict | None]] = []   # (tag, the figure's entry when it carries one)

    def handle_starttag(self, tag, attrs):
        if tag in _VOID:
            return
        while self._open and self._open[-1][0] in _IMPLIED.get(tag, ()):
            self._open.pop()
        figure = dict(attrs).get("data-figure")
        entry = {"figure": figure, "shown": ""} if figure else None
        if entry is not None:
            self.found.append(entry)
        self._open.append((tag, entry))

    def handle_startendtag(self, tag, attrs):
        return  # <br/>: no text, nothing to close

    def handle_endtag(self, tag):
        # close up to the matching open element (a stray end tag closes nothing)
        for i in range(len(self._open) - 1, -1, -1):
            if self._open[i][0] == tag:
                del self._open[i:]
                return

    def handle_data(self, data):
        for _, entry in self._open:
            if entry is not None:
                entry["shown"] += data


def tagged(page_html: str) -> list[dict]:
    """``[{"figure": path, "shown": text}]`` for each ``data-figure`` element of a page."""
    parser = _Tagged()
    parser.feed(page_html)
    parser.close()
    return [{"figure": f["figure"], "shown": f["shown"].strip()} for f in parser.found]


def write_appearance_map(folder: Path, files: list[str]) -> Path:
    """``appearances.json`` in ``folder``: every tagged figure of ``files`` (HTML files in it), as
    ``{"file", "figure", "shown"}``, in document order."""
    rows = [{"file": name, **found} for name in files if (folder / name).is_file()
            for found in tagged((folder / name).read_text(encoding="utf-8"))]
    out = folder / APPEARANCES_FILE
    out.write_text(json.dumps(rows, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return out


def pointer(*keys) -> str:
    """The JSON Pointer of ``keys`` (``pointer("mql_value_by_source", "a/b")`` is
    ``/mql_value_by_source/a~1b``)."""
    return "".join("/" + str(k).replace("~", "~0").replace("/", "~1") for k in keys)


def stored(summary: dict, path: str):
    """The value at the JSON Pointer ``path`` of ``summary``; KeyError, IndexError or ValueError when
    the summary has no such place."""
    here = summary
    for key in path.split("/")[1:]:
        key = key.replace("~1", "/").replace("~0", "~")
        here = here[key] if isinstance(here, dict) else here[int(key)]
    return here


_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")


def agrees(shown: str, value) -> bool:
    """Whether ``shown`` (as a page prints it: ``$2,400,000``, ``9``, ``61%``, ``3.31 EUR``) is
    ``value`` at the precision shown: its first number within half a unit of its last digit (a
    percentage compared with the value x 100). A tagged element holds one figure's number."""
    s = shown.replace("\u2212", "-")
    found = _NUMBER.search(s)
    if found is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    text = found.group(0).replace(",", "")
    number = float(text)
    if s[max(0, found.start() - 2):found.start()] == "-$":
        number = -abs(number)
    unit = 10.0 ** -len(text.split(".")[1]) if "." in text else 1.0
    target = float(value) * (100.0 if "%" in s[found.end():found.end() + 2] else 1.0)
    return abs(number - target) <= unit / 2 + 1e-9 * max(1.0, abs(target))
