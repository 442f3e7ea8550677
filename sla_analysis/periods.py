"""Reporting periods: ``2024Q1`` (quarter), ``2024-03`` (month) or ``2024`` (year).

A period is parsed before anything reaches a shell or a notebook; anything else is refused with
the accepted forms listed.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

from sla_analysis.errors import PeriodError

ACCEPTED_FORMS = "YYYY (e.g. 2024), YYYYQn (e.g. 2024Q1) or YYYY-MM (e.g. 2024-03)"

_PATTERNS = (
    (re.compile(r"^(\d{4})$"), "year"),
    (re.compile(r"^(\d{4})Q([1-4])$"), "quarter"),
    (re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$"), "month"),
)


@dataclass(frozen=True)
class Period:
    """A half-open calendar interval ``[start, end)`` with its label."""

    label: str
    kind: str  # "year" | "quarter" | "month"
    start: date
    end: date  # exclusive

    @property
    def months(self) -> list[str]:
        """The calendar months (``YYYY-MM``) the period covers."""
        out, y, m = [], self.start.year, self.start.month
        while date(y, m, 1) < self.end:
            out.append(f"{y:04d}-{m:02d}")
            y, m = (y + 1, 1) if m == 12 else (y, m + 1)
        return out

    @property
    def n_months(self) -> int:
        return len(self.months)

    def start_ts(self) -> datetime:
        return datetime(self.start.year, self.start.month, self.start.day)

    def end_ts(self) -> datetime:
        return datetime(self.end.year, self.end.month, self.end.day)

    def previous(self) -> "Period":
        """The period of the same kind just before this one (2024Q1 -> 2023Q4, 2024-01 -> 2023-12)."""
        start = _add_months(self.start, -{"year": 12, "quarter": 3, "month": 1}[self.kind])
        label = {"year": f"{start.year}", "quarter": f"{start.year}Q{(start.month - 1) // 3 + 1}",
                 "month": f"{start.year}-{start.month:02d}"}[self.kind]
        return parse_period(label)


def _add_months(d: date, n: int) -> date:
    total = d.year * 12 + (d.month - 1) + n
    return date(total // 12, total % 12 + 1, 1)


def parse_period(text: str) -> Period:
    """Parse a PERIOD string; raise :class:`PeriodError` listing the accepted forms otherwise."""
    if not isinstance(text, str):
        raise PeriodError(f"PERIOD must be text in one of the forms {ACCEPTED_FORMS}")
    for pattern, kind in _PATTERNS:
        match = pattern.fullmatch(text)
        if not match:
            continue
        year = int(match.group(1))
        if not 1900 <= year <= 2999:
            break
        if kind == "year":
            start = date(year, 1, 1)
            return Period(text, kind, start, _add_months(start, 12))
        if kind == "quarter":
            start = date(year, 3 * (int(match.group(2)) - 1) + 1, 1)
            return Period(text, kind, start, _add_months(start, 3))
        start = date(year, int(match.group(2)), 1)
        return Period(text, kind, start, _add_months(start, 1))
    shown = text if len(text) <= 40 else text[:40] + "..."
    raise PeriodError(f"PERIOD {shown!r} is not a period. Accepted forms: {ACCEPTED_FORMS}.")
