"""Charts for the report, drawn with seaborn. Each returns its figure; the notebook shows it and
says in a sentence what it shows.

Axes speak as the tables do: shares in per cent, money with its currency sign, counts with
thousands separators; ordered groups (attempts received, tiers) in their natural order."""
from __future__ import annotations

import re

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.ticker import FuncFormatter, MaxNLocator, PercentFormatter

from sla_analysis.formats import money

#: tiers in the order of the seeds' protocol; other groups follow in natural order
TIER_ORDER = ("high", "moderate", "low")


_MINUTES = {"min": 1, "mins": 1, "minutes": 1, "h": 60, "hour": 60, "hours": 60, "day": 1440, "days": 1440}
_QUANTITY = re.compile(r"^(below|under|<|within)?\s*(\d+(?:\.\d+)?)(?:\s*-\s*\d+(?:\.\d+)?)?\s*"
                       r"(\+|and above|or more)?\s*(min|mins|minutes|h|hours?|days?)?(?:\s|$)")


def natural_order(values) -> list[str]:
    """Labels in their natural order: ``1, 2, ..., 10, 20+`` (numbers by value, a ``+`` tail last),
    bands by their lower edge in their unit (``below 30, 30-39, ..., 90 and above``; ``< 5 min,
    5-60 min, within 1 hour, 1-4 h, 4-24 h, 1-3 days, later, never``), known tiers in protocol
    order, then the rest alphabetically."""
    return sorted(dict.fromkeys(str(v) for v in values), key=_natural_key)


def _natural_key(label: str) -> tuple:
    """(0, …) a quantity or band, (1, …) a known tier, (2, …) anything else (alphabetical)."""
    low = label.strip().lower()
    m = _QUANTITY.match(low)
    if m:
        value = float(m.group(2)) * _MINUTES.get(m.group(4) or "", 1)
        return (0, value, -1 if m.group(1) else (1 if m.group(3) else 0), low)
    if low in ("later", "never"):
        return (0, np.inf, ("later", "never").index(low), low)
    if label in TIER_ORDER:
        return (1, TIER_ORDER.index(label), 0, label)
    return (2, 0, 0, low)


def is_ordinal(values) -> bool:
    """Whether labels have an order of their own (attempts, bands, tiers), so a chart keeps it
    rather than ranking the groups by their value."""
    return all(_natural_key(str(v))[0] < 2 for v in values)


def format_axis(axis, kind: str, currency: str = "USD") -> None:
    """``kind``: ``share`` (0.25 -> 25%), ``money`` ($1,600 / 1,600 EUR), ``ratio`` (1.2×), ``count`` (1,600)."""
    if kind == "ratio":
        axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}×"))
    elif kind == "share":
        axis.set_major_formatter(PercentFormatter(1.0, decimals=None))
    elif kind == "money":
        axis.set_major_formatter(FuncFormatter(lambda v, _: money(v, currency)))
    else:
        axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}" if abs(v) >= 100 or v == int(v) else f"{v:.2g}"))


def interval_chart(frame: pd.DataFrame, label: str, value: str, low: str, high: str,
                   title: str, xlabel: str, reference: float | None = None,
                   reference_label: str = "", kind: str = "count", currency: str = "USD") -> plt.Figure:
    """Horizontal point-and-interval chart, one row per group (e.g. MQL value per source): groups
    ranked by their value, or, when they have an order of their own (response-time bands, tiers),
    in that order from the top."""
    if is_ordinal(frame[label]):
        data = frame.set_index(frame[label].astype(str)).loc[natural_order(frame[label])[::-1]].reset_index(drop=True)
    else:
        data = frame.sort_values(value, ascending=True, na_position="first")
    fig, ax = plt.subplots(figsize=(8, 0.5 * len(data) + 1.5))
    y = np.arange(len(data))
    err = np.vstack([data[value] - data[low], data[high] - data[value]])
    ax.errorbar(data[value], y, xerr=np.clip(np.nan_to_num(err), 0, None), fmt="o", color=sns.color_palette()[0],
                ecolor="grey", capsize=4)
    ax.set_yticks(y, [str(v) for v in data[label]])
    if reference is not None and np.isfinite(reference):
        ax.axvline(reference, color=sns.color_palette()[3], linestyle="--", label=reference_label)
        ax.legend(loc="lower right")
    format_axis(ax.xaxis, kind, currency)
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    fig.tight_layout()
    return fig


def bar_chart(frame: pd.DataFrame, x: str, y: str, title: str, ylabel: str,
              reference: float | None = None, reference_label: str = "", hue: str | None = None,
              legend_outside: bool = False, kind: str = "count", currency: str = "USD") -> plt.Figure:
    """Bars with an optional horizontal reference line (a target or an assumption); the legend goes
    right of the axes with ``legend_outside`` (when it would hide bars)."""
    fig, ax = plt.subplots()
    order = natural_order(frame[x]) if frame[x].dtype == object else None
    hue_order = natural_order(frame[hue]) if hue else None
    sns.barplot(data=frame, x=x, y=y, hue=hue, ax=ax, color=None if hue else sns.color_palette()[0],
                order=order, hue_order=hue_order)
    if reference is not None and np.isfinite(reference):
        ax.axhline(reference, color=sns.color_palette()[3], linestyle="--", label=reference_label)
        ax.legend()
    if legend_outside and ax.get_legend() is not None:
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.set_xlabel("")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.tick_params(axis="x", rotation=30)
    ax.ticklabel_format(axis="y", style="plain", useOffset=False)
    format_axis(ax.yaxis, kind, currency)
    fig.tight_layout()
    return fig


#: above this many groups a chart of one bar each is a comb no reader can tell apart: the pages show
#: how the figure is spread across the groups instead (:func:`distribution_chart`), and the list goes
#: to tables.xlsx
MAX_BARS = 25


def distribution_chart(values: pd.Series, title: str, xlabel: str, count_label: str,
                       reference: float | None = None, reference_label: str = "") -> plt.Figure:
    """How one figure is spread across many groups (a histogram: how many groups fall in each band
    of the figure), with an optional vertical reference line (an assumption or a target)."""
    fig, ax = plt.subplots()
    data = pd.to_numeric(values, errors="coerce").dropna().to_numpy(dtype=float)
    sns.histplot(x=data, ax=ax, color=sns.color_palette()[0], bins="auto")
    if reference is not None and np.isfinite(reference):
        ax.axvline(reference, color=sns.color_palette()[3], linestyle="--", label=reference_label)
        ax.legend()
    ax.set_xlabel(xlabel)
    ax.set_ylabel(count_label)
    ax.set_title(title)
    ax.yaxis.get_major_locator().set_params(integer=True)
    fig.tight_layout()
    return fig


def rep_pace_chart(reps: pd.DataFrame, assumed: float) -> plt.Figure:
    """Each rep's dialling pace against the SLA's assumption: one bar per rep, or past
    :data:`MAX_BARS` reps, how the paces spread (:func:`distribution_chart`)."""
    if len(reps) > MAX_BARS:
        return distribution_chart(reps.calls_per_hour_dialling, "Dialling pace across reps", "calls per hour", "reps",
                                  reference=assumed, reference_label="assumed in the SLA")
    return bar_chart(reps, "rep_id", "calls_per_hour_dialling", "Dialling pace by rep", "calls per hour",
                     reference=assumed, reference_label="assumed in the SLA")


def funnel_chart(stages: list[str], counts: list[float], title: str) -> plt.Figure:
    """Horizontal funnel bars with the count and the conversion from the previous stage."""
    fig, ax = plt.subplots(figsize=(8, 0.6 * len(stages) + 1.2))
    y = np.arange(len(stages))[::-1]
    ax.barh(y, counts, color=sns.color_palette()[0])
    for yi, c, prev in zip(y, counts, [None, *counts[:-1]]):
        text = f"{c:,.0f}" + ("" if not prev else f"  ({c / prev:.0%} of previous)")
        ax.text(c, yi, "  " + text, va="center")
    ax.set_yticks(y, stages)
    ax.set_xlim(0, max(counts) * 1.6 if max(counts) > 0 else 1)
    ax.set_title(title)
    ax.set_xlabel("count")
    fig.tight_layout()
    return fig


def rate_by_cohort_chart(frame: pd.DataFrame, x: str, rate: str, low: str, high: str, title: str,
                         ylabel: str, hue: str | None = None, xlabel: str = "attempts received",
                         max_panels: int = 6) -> plt.Figure:
    """A rate per ordered cohort (e.g. conversion by attempts received) as points with interval
    bars, cohorts in their natural order. With ``hue``, one small panel per group (tiers in
    protocol order, at most ``max_panels``, the largest groups) on a shared axis, rather than
    points dodged into one another."""
    labels = natural_order(frame[x])
    pos = {lab: i for i, lab in enumerate(labels)}
    if hue is None:
        panels = [(None, frame)]
    else:
        sizes = frame.groupby(hue)[x].size()
        keep = set(sizes.sort_values(ascending=False).index[:max_panels].astype(str))
        panels = [(g, frame[frame[hue].astype(str) == g]) for g in natural_order(frame[hue]) if g in keep]
    cols = min(3, len(panels))
    rows = -(-len(panels) // cols)
    fig, axes = plt.subplots(rows, cols, sharey=True, squeeze=False,
                             figsize=(8 if cols == 1 else 3.6 * cols, 4 if rows == 1 else 3.0 * rows))
    for i, (name, g) in enumerate(panels):
        ax = axes[i // cols][i % cols]
        xs = np.array([pos[str(v)] for v in g[x]])
        err = np.vstack([g[rate] - g[low], g[high] - g[rate]])
        ax.errorbar(xs, g[rate], yerr=np.clip(np.nan_to_num(err), 0, None), fmt="o", capsize=3,
                    color=sns.color_palette()[i % 10])
        step = max(1, len(labels) // (12 if cols == 1 else 6))
        ax.set_xticks(range(0, len(labels), step), labels[::step])
        if max(len(lab) for lab in labels[::step]) * len(labels[::step]) > (60 if cols == 1 else 24):
            ax.tick_params(axis="x", labelrotation=45)
        ax.set_xlabel(xlabel)
        if name is not None:
            ax.set_title(str(name), fontsize=11)
        format_axis(ax.yaxis, "share")
    for j in range(len(panels), rows * cols):
        axes[j // cols][j % cols].set_visible(False)
    axes[0][0].set_ylabel(ylabel)
    fig.suptitle(title) if hue is not None else axes[0][0].set_title(title)
    fig.tight_layout()
    return fig


def plateau_chart(cohorts: pd.DataFrame, curve: pd.DataFrame, cohort_answer: int, recommended: int,
                  ci: tuple[int, int], currency: str) -> plt.Figure:
    """The two answers side by side. Left, the seeds' method: profit per lead of each cohort of
    settled leads by attempts received, with the knee it picks. Right, the sound method: expected
    profit per contacted lead of capping at N attempts, with the recommended cap and its interval."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    left.plot(cohorts["attempts"], cohorts["profit_per_lead"], marker="o", color=sns.color_palette()[1])
    left.axvline(cohort_answer, color="grey", linestyle="--", label=f"levels off at: {cohort_answer}")
    for ax in (left, right):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    left.set_title("Rule of thumb: profit per lead by attempts received")
    left.set_xlabel("attempts received (cohort)")
    left.set_ylabel(f"{currency} per lead")
    left.legend()
    right.plot(curve["attempts"], curve["profit_per_lead"], marker="o", color=sns.color_palette()[0])
    right.axvspan(ci[0] - 0.4, ci[1] + 0.4, color=sns.color_palette()[0], alpha=0.12, label="interval")
    right.axvline(recommended, color=sns.color_palette()[3], linestyle="--", label=f"recommended: {recommended}")
    right.set_title("Recommended: profit per lead of a cap of N attempts")
    right.set_xlabel("attempt cap N")
    right.set_ylabel(f"{currency} per contacted lead")
    for ax in (left, right):
        format_axis(ax.yaxis, "money", currency)
    right.legend()
    fig.tight_layout()
    return fig


def hazard_chart(raw: pd.DataFrame, curve: pd.DataFrame) -> plt.Figure:
    """Per-attempt conversion (hazard): observed share with its interval per attempt, and the
    fitted model's value among leads reaching that attempt."""
    fig, ax = plt.subplots()
    err = np.vstack([raw["hazard"] - raw["hazard_low"], raw["hazard_high"] - raw["hazard"]])
    ax.errorbar(raw["attempt"], raw["hazard"], yerr=np.clip(np.nan_to_num(err), 0, None), fmt="o", capsize=3,
                color="grey", label="observed (with interval)")
    ax.plot(curve["attempts"], curve["hazard"], color=sns.color_palette()[0], label="fitted model")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("attempt number k")
    ax.set_ylabel("share of open leads converting at k")
    format_axis(ax.yaxis, "share")
    ax.set_title("Conversion per attempt among leads still open")
    ax.legend()
    fig.tight_layout()
    return fig


def survival_chart(curve: pd.DataFrame, windows: dict[str, float], hue: str = "tier",
                   max_hours: float = 72.0) -> plt.Figure:
    """Share of MQLs still untouched h hours after becoming MQLs (Kaplan-Meier), one step line per
    group, with each group's response window as a dotted vertical line in the same colour."""
    fig, ax = plt.subplots()
    shown = curve[curve.hours <= max_hours]
    for i, name in enumerate(natural_order(shown[hue])):
        g = shown[shown[hue].astype(str) == name]
        color = sns.color_palette()[i % 10]
        ax.step(g["hours"], g["untouched_share"], where="post", color=color, label=str(name))
        if str(name) in windows:
            ax.axvline(windows[str(name)], color=color, linestyle=":")
    ax.set_xlabel("hours since the lead became an MQL")
    ax.set_ylabel("share not yet contacted")
    ax.set_ylim(0, 1.02)
    format_axis(ax.yaxis, "share")
    ax.set_title("How fast MQLs get their first attempt")
    ax.legend(title=hue)
    fig.tight_layout()
    return fig


def weekday_hour_heatmap(grid: pd.DataFrame, value: str, title: str, fmt: str = "d") -> plt.Figure:
    """Weekday x hour-of-day heatmap of ``value`` from a 7 x 24 long frame (weekday_name, hour).
    Hours before the first and after the last with any ``value`` are left out (a team working
    08:00-18:00 gets ten columns, not 24 mostly empty); every weekday stays, empty or not."""
    order = list(dict.fromkeys(grid.sort_values("weekday")["weekday_name"]))
    table = grid.pivot(index="weekday_name", columns="hour", values=value).reindex(order)
    used = [h for h in table.columns if table[h].fillna(0).to_numpy().any()]
    if used:
        table = table.loc[:, min(used):max(used)]
    table.columns = [f"{int(h):02d}:00" for h in table.columns]
    fig, ax = plt.subplots(figsize=(10, 3.4))
    sns.heatmap(table, ax=ax, cmap="Blues", cbar_kws={"label": value.replace("_", " ")})
    ax.set_xlabel("hour of day")
    ax.set_ylabel("")
    ax.tick_params(axis="y", rotation=0)
    ax.set_title(title)
    fig.tight_layout()
    return fig


def trend_chart(trend: pd.DataFrame, columns: list[str], labels: list[str]) -> plt.Figure:
    """Shares across periods, one line per figure (e.g. speed to lead, MQL:SQL, contact rate)."""
    fig, ax = plt.subplots()
    for i, (col, label) in enumerate(zip(columns, labels)):
        ax.plot(trend["period"], trend[col], marker="o", label=label, color=sns.color_palette()[i % 10])
    ax.set_ylabel("share")
    ax.set_ylim(0, max(1e-9, float(np.nanmax(trend[columns].to_numpy(dtype=float))) * 1.15) if len(trend) else 1)
    format_axis(ax.yaxis, "share")
    ax.set_title("Direction over the last periods")
    ax.legend()
    fig.tight_layout()
    return fig
