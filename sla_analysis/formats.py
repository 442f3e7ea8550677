"""How a figure is written for a reader: money with its currency, shares as percentages, intervals
with an en dash, and an en dash alone for a figure that is not there (never a zero)."""
from __future__ import annotations

import html
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd


def interval_text(low, high, fmt="{:,.0f}") -> list[str]:
    """``"1,944 – 4,913"`` per row, an en dash alone where the interval is unknown. ``fmt`` is a
    format string or a function of one number."""
    f = fmt.format if isinstance(fmt, str) else fmt
    return ["–" if not (np.isfinite(lo) and np.isfinite(hi)) else f"{f(lo)} – {f(hi)}"
            for lo, hi in zip(np.asarray(low, dtype=float), np.asarray(high, dtype=float))]


def number(value: float) -> str:
    """A figure of any size readably: ``11,000`` for 100 and more, ``0.0867`` (4 significant
    digits) below."""
    if value is None or not np.isfinite(value):
        return "–"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.4g}"


def money(value: float, currency: str = "USD", digits: int = 0) -> str:
    """``$1,600`` for USD, ``1,600 EUR`` otherwise; a loss as ``-$31`` (the sign before the currency
    sign); an en dash for a missing value."""
    if value is None or not np.isfinite(value):
        return "–"
    text = f"{abs(value):,.{digits}f}"
    sign = "-" if value < 0 and float(text.replace(",", "")) != 0 else ""
    return f"{sign}${text}" if currency == "USD" else f"{sign}{text} {currency}"


def pct(value: float, digits: int = 1) -> str:
    if value is None or not np.isfinite(value):
        return "–"
    return f"{100 * value:.{digits}f}%"


def pct_against(value: float, target: float) -> str:
    """``value`` as a whole percentage, or with one decimal when a whole one would read as the
    ``target`` while it is not (89.5% against 90% is not "90%", a miss shown as the target)."""
    whole = pct(value, 0)
    if whole != pct(target, 0) or value is None or not np.isfinite(value) or value == target:
        return whole
    # one decimal, rounded away from the target (89.96% is "89.9%", never "90.0%" beside a 90% target)
    tenths = np.floor(value * 1000) if value < target else np.ceil(value * 1000)
    return f"{tenths / 10:.1f}%"


def plural(n: float | None, one: str, many: str | None = None) -> str:
    """``1 attempt``, ``9 attempts``, ``1,200 leads``; an en dash for a missing count."""
    if n is None or (isinstance(n, float) and not np.isfinite(n)):
        return "–"
    return f"{n:,.0f} {one if n == 1 else (many or one + 's')}"


def attempts(n: float | None) -> str:
    """``1 attempt`` or ``9 attempts``."""
    return plural(n, "attempt")


def crm_text(text: object) -> str:
    """A value that came from the CRM (a source, segment, type or rep name), made safe for a
    Markdown sentence or table: HTML shows as text, and so does Markdown that would make a link or
    an image (``[..](..)``, ``![..](http://..)``, a bare ``http://`` address), which would
    otherwise be clickable or fetched from the network; ``|`` cannot split a table cell."""
    return (html.escape(str(text)).replace("[", "&#91;").replace("]", "&#93;").replace("://", "&#58;//")
            .replace("|", "&#124;"))


def weeks_in_words(weeks: int | None) -> str:
    """A length of time in weeks, in words: "about 21 weeks" up to a year, "more than a year", "about 3 years",
    then "more than ten years" (a test that long is not worth quoting to the week)."""
    if weeks is None:
        return ""
    if weeks <= 52:
        return f"about {weeks} weeks"
    years = round(weeks / 52.0)
    if years < 2:
        return "more than a year"
    return f"about {years} years" if years <= 10 else "more than ten years"


def to_json(value: Any) -> Any:
    """Plain JSON types, NaN as null, floats rounded for stable output: to 6 significant digits, but
    never coarser than a hundredth (7,875,516.32 stays so: six digits made it 7,875,520, another
    figure than the page's $7,875,516)."""
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray, pd.Series)):
        return [to_json(v) for v in list(value)]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        if not np.isfinite(value):
            return None
        return round(float(value), 2) if abs(value) >= 1e4 else float(f"{float(value):.6g}")
    if isinstance(value, (datetime, date, pd.Timestamp)):
        return value.isoformat()
    return value
