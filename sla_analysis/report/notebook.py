"""What a report notebook needs besides the analyses: its context, escaped tables, prose, and the
figures it records for ``summary.json``.

A notebook's first code cell is ``ctx = notebook.start("02_cost_per_call", period, crm_dir,
config_path, fragments_dir, data_dir, profile)``. Run by the orchestrator, ``crm_dir`` points at the
validated cache; opened by an analyst in JupyterLab, ``data_dir`` and ``profile`` name an export as
the CLI's ``--data`` and ``--profile`` do (empty: ``data/raw`` when it holds an export, else the
bundled sample), validated through the same cache.
"""
from __future__ import annotations

import base64
import io
import itertools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib
import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from IPython.display import HTML, Markdown, display

from sla_analysis.analyses.compliance import in_tier_order
from sla_analysis.config import SLAConfig, load_config
from sla_analysis.figures import FIGURES_FILE, Figures
from sla_analysis.formats import attempts, crm_text, interval_text, money, number, pct, plural, to_json  # noqa: F401 (the pages' formatters)
from sla_analysis.io.engine import open_crm
from sla_analysis.periods import Period, parse_period
from sla_analysis.report.charts import TIER_ORDER
from sla_analysis.report.columns import column, readable, unsupported
from sla_analysis.report.marks import NOT_AVAILABLE_MARK, SAMPLE_BANNER  # noqa: F401 (nb.SAMPLE_BANNER)


@dataclass
class Context:
    """A page's context: its period and config, and the report's figures (``ctx.figures["name"]``)."""

    notebook: str
    period: Period
    cfg: SLAConfig
    figures: Figures
    fragments_dir: Path | None

    def __getitem__(self, name: str) -> Any:
        """The figure ``name`` (:mod:`sla_analysis.figures`): the report's stored value, or, in a
        notebook opened by hand, computed now through the same graph."""
        return self.figures[name]

    def shown(self, name: str, title: str, key: str | None = None) -> Any:
        """The value of the figure ``name`` (a ``Result``; with ``key``, the figure's ``Result``
        under that key) when available; otherwise the section ``title`` says "not available: <the
        reason>" and None is returned (nothing to draw)."""
        found = self.figures[name] if key is None else self.figures[name][key]
        if found:
            return found.get()
        not_available(title, found.reason)
        return None

    @property
    def limits(self) -> dict[str, str]:
        """What the export cannot support, with the reasons (the figure ``limits``)."""
        return self.figures["limits"]

    def record_table(self, name: str, frame: pd.DataFrame) -> None:
        """Add ``frame`` to the report's ``tables.xlsx`` as the sheet ``name`` (in recording order)."""
        if self.fragments_dir is None:
            return
        tables = self.fragments_dir / "tables"
        tables.mkdir(exist_ok=True)
        n = len(list(tables.glob(f"{self.notebook}__*.parquet")))
        frame = frame.reset_index(drop=True)
        frame.attrs = {}  # notes kept in attrs are for the page, not the workbook
        frame.to_parquet(tables / f"{self.notebook}__{n:02d}__{name}.parquet", index=False)


def start(notebook: str, period: str, crm_dir: str = "", config_path: str = "",
          fragments_dir: str = "", data_dir: str = "", profile: str = "") -> Context:
    """Build the notebook's context and set the chart style. Shows the sample-data banner.

    Run by the orchestrator, ``crm_dir`` is the validated cache. An analyst instead sets
    ``data_dir`` (an export folder, read through ``profile`` when given: ``salesforce``, ``hubspot``
    or a mapping file) or leaves both empty (``data/raw``, else the bundled sample); the export is
    validated through the same cache as ``make report``."""
    sns.set_theme(style="whitegrid", context="notebook")
    matplotlib.rcParams.update({"figure.figsize": (8, 4), "figure.dpi": 96, "svg.hashsalt": "sla-analysis"})
    cfg, the_period = load_config(config_path or None), parse_period(period)
    stored = Path(fragments_dir) / FIGURES_FILE if fragments_dir else None
    if stored is not None and stored.is_file():
        # a report's page: the orchestrator computed the figures once; the page only reads them
        figures = Figures.load(stored, cfg, the_period)
    else:
        if not crm_dir:
            # Only here is the validator needed: a report's kernels read the cache and never load it.
            from sla_analysis.io.inputs import resolve_inputs

            crm_dir = str(resolve_inputs(Path(data_dir) if data_dir else None, quiet=True, profile=profile or None))
        figures = Figures(open_crm(crm_dir), cfg, the_period)
    ctx = Context(notebook, the_period, cfg, figures, Path(fragments_dir) if fragments_dir else None)
    if figures["is_sample"]:
        display(HTML(SAMPLE_BANNER))
    _CURRENT["ctx"] = ctx
    return ctx


#: the page's context, set by :func:`start` (a notebook has one): its currency and confidence level
_CURRENT: dict[str, Context] = {}


def esc(text: Any) -> str:
    """Escape a value that came from the CRM before it goes into prose (:func:`sla_analysis.formats.crm_text`)."""
    return crm_text(text)


def say(text: str) -> None:
    """Show a paragraph of prose (Markdown). Interpolate CRM strings with :func:`esc`.
    Dollar signs are escaped so that Markdown does not read ``$...$`` as mathematics. Nothing is
    shown for an empty text (a package sentence with nothing to say)."""
    if text:
        display(Markdown(text.replace("$", r"\$")))


def not_available(what: str, why: str) -> None:
    """The plain note a section shows when the export lacks what it needs (``why`` is a sentence:
    its first letter is capitalised and it ends with a full stop)."""
    why = why.strip()
    why = why[:1].upper() + why[1:] + ("" if why.endswith((".", "!", "?")) else ".")
    say(f"**{esc(what)}: {NOT_AVAILABLE_MARK}** {esc(why)}")


_TABLE_IDS = itertools.count(1)


def show_table(frame: pd.DataFrame, formats: dict[str, str] | None = None,
               labels: dict[str, str] | None = None) -> None:
    """Display a small frame as an HTML table: index hidden, values escaped, numbers formatted."""
    frame = frame.rename(columns=labels or {})
    formats = {(labels or {}).get(k, k): v for k, v in (formats or {}).items()}
    styler = frame.style.hide(axis="index").format(formats, na_rep="–", escape="html")
    styler = styler.set_uuid(f"t{next(_TABLE_IDS)}")  # not random: the same inputs give the same page
    styler = styler.format_index(escape="html", axis=1)
    left = [i for i, c in enumerate(frame.columns) if i == 0 or is_text_column(frame[c])]
    styler = styler.set_table_styles([{"selector": f"td.col{i}, th.col{i}", "props": "text-align: left;"} for i in left])
    display(HTML(styler.to_html()))


_NUMBER_LIKE = re.compile(r"^[-+]?[$€£]?\d")


def is_text_column(values: pd.Series) -> bool:
    """A column of words (tiers, sources, outcomes), read left-aligned; numbers, shares, money and
    intervals stay right-aligned. Text when any value neither starts like a number nor is empty."""
    return any(not (str(v) in ("", "–", "nan") or _NUMBER_LIKE.match(str(v))) for v in values)


def figure_description(fig: plt.Figure) -> str:
    """A chart's text alternative: its title (or its panels' titles) and axis labels."""
    titles = [fig._suptitle.get_text()] if getattr(fig, "_suptitle", None) is not None else []
    axes = [ax for ax in fig.axes if ax.get_visible()]
    titles += [ax.get_title() for ax in axes if ax.get_title()]
    first = axes[0] if axes else None
    labels = [lab for lab in ((first.get_xlabel(), first.get_ylabel()) if first else ()) if lab]
    text = "Chart: " + "; ".join(dict.fromkeys(titles)) if titles else "Chart"
    return text + (f" ({' by '.join(reversed(labels))})" if len(labels) == 2 else "")


def table(frame: pd.DataFrame, columns: list[str], labels: dict[str, str] | None = None,
          record: str | None = None, small: str = "few leads", inline: bool = False,
          rows: list[int] | None = None) -> None:
    """Show ``frame``'s ``columns`` the way the column registry writes them (labels, money with the
    currency, shares in per cent, intervals (``inline``: in brackets in the rate's cell), the
    small-group flag worded ``small``); ``record`` also puts the frame in tables.xlsx under that
    sheet name. ``rows``: the positions of the rows the page shows (default all); tables.xlsx
    gets every row."""
    ctx = _CURRENT.get("ctx")
    currency, confidence = (ctx.cfg.currency, ctx.cfg.confidence_level) if ctx else ("USD", 0.95)
    limits = ctx.limits if ctx else {}
    if columns and columns[0] == "tier" and "tier" in frame:  # tiers in the protocol's order, not the alphabet's
        frame = in_tier_order(frame, ctx.cfg.tier_protocols if ctx else dict.fromkeys(TIER_ORDER))
    if record and ctx:
        ctx.record_table(record, frame)
    if rows is not None:
        frame = frame.iloc[rows]
    show_table(readable(frame, columns, currency, confidence, labels, min_n_flag=small, limits=limits, inline=inline))
    missing = unsupported(columns, limits)
    for why in dict.fromkeys(missing.values()):
        names = ", ".join(column(c).label.lower() for c, w in missing.items() if w == why)
        say(f"*Not shown ({esc(names)}): not available: {esc(why)}.*")


def show_figure(fig: plt.Figure, alt: str | None = None) -> None:
    """Display a chart where the cell is (before the sentence that explains it) and free it. The
    PNG carries a text alternative (``alt``, by default :func:`figure_description`) for readers
    who cannot see it; no creation date or software version is written into it (same bytes)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight", metadata={"Software": None})
    display({"image/png": base64.b64encode(buf.getvalue()).decode("ascii")}, raw=True,
            metadata={"image/png": {"alt": alt or figure_description(fig)}})
    plt.close(fig)
