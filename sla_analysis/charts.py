"""Charts for the report, drawn with seaborn. Each returns its figure; the notebook shows it and
says in a sentence what it shows."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns


def interval_chart(frame: pd.DataFrame, label: str, value: str, low: str, high: str,
                   title: str, xlabel: str, reference: float | None = None,
                   reference_label: str = "") -> plt.Figure:
    """Horizontal point-and-interval chart, one row per group (e.g. MQL value per source)."""
    data = frame.sort_values(value, ascending=True, na_position="first")
    fig, ax = plt.subplots(figsize=(8, 0.5 * len(data) + 1.5))
    y = np.arange(len(data))
    err = np.vstack([data[value] - data[low], data[high] - data[value]])
    ax.errorbar(data[value], y, xerr=np.nan_to_num(err), fmt="o", color=sns.color_palette()[0],
                ecolor="grey", capsize=4)
    ax.set_yticks(y, [str(v) for v in data[label]])
    if reference is not None and np.isfinite(reference):
        ax.axvline(reference, color=sns.color_palette()[3], linestyle="--", label=reference_label)
        ax.legend(loc="lower right")
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    fig.tight_layout()
    return fig


def bar_chart(frame: pd.DataFrame, x: str, y: str, title: str, ylabel: str,
              reference: float | None = None, reference_label: str = "", hue: str | None = None) -> plt.Figure:
    """Bars with an optional horizontal reference line (a target or an assumption)."""
    fig, ax = plt.subplots()
    sns.barplot(data=frame, x=x, y=y, hue=hue, ax=ax, color=None if hue else sns.color_palette()[0])
    if reference is not None and np.isfinite(reference):
        ax.axhline(reference, color=sns.color_palette()[3], linestyle="--", label=reference_label)
        ax.legend()
    ax.set_xlabel("")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.tick_params(axis="x", rotation=30)
    fig.tight_layout()
    return fig


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
