"""The partial-export corpus: the sample CRM with one thing taken away at a time, as real exports
come (a CRM that exports no lost deals, no amounts, dates only on one day, no activity log...).

Each entry names what it removes and the fact of the export's profile (``io/export_profile.py``)
that goes with it, so a test can check that every figure needing that fact is "not available" with
the reason the profile generates, and that nothing else changed. Pure functions over the sample's
canonical tables (``leads``, ``activities``, ``deals``, ``reps``): same input, same bytes.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pandas as pd
import yaml

Tables = dict[str, pd.DataFrame]


@dataclass(frozen=True)
class Partial:
    """One partial export: ``change`` applied to the sample's tables takes away ``fact``."""

    name: str
    fact: str | None
    change: Callable[[Tables], Tables]
    unavailable: dict[str, str] = field(default_factory=dict)   # what its unavailable.yml declares
    period: str = "2024Q1"
    config: dict = field(default_factory=dict)                   # config keys set for it


def _drop(table: str, *columns: str) -> Callable[[Tables], Tables]:
    def change(t: Tables) -> Tables:
        return {**t, table: t[table].drop(columns=list(columns))}
    return change


def _without_lost(t: Tables) -> Tables:
    return {**t, "deals": t["deals"][t["deals"].stage != "lost"]}


def _one_day(t: Tables) -> Tables:
    """Every date of the export is the day it was taken (a snapshot), times dropped."""
    day = pd.Timestamp("2024-06-30")
    out = {}
    for name, frame in t.items():
        frame = frame.copy()
        for c in frame.columns:
            if pd.api.types.is_datetime64_any_dtype(frame[c]):
                frame[c] = frame[c].where(frame[c].isna(), day)
        out[name] = frame
    return out


def _without_activities(t: Tables) -> Tables:
    return {k: v for k, v in t.items() if k != "activities"}


CORPUS: tuple[Partial, ...] = (
    Partial("no_lost_deals", "lost_deals", _without_lost),
    Partial("no_amounts", "amounts", _drop("deals", "amount")),
    Partial("no_timeline", "timeline", _one_day, period="2024Q2"),
    Partial("no_activities", "attempts", _without_activities,
            unavailable={"activities": "the export holds no activity log"}),
    Partial("no_call_outcomes", "call_outcomes", _drop("activities", "outcome")),
    Partial("no_tiers", "tiers", _drop("leads", "tier")),
    Partial("no_scores", "scores", _drop("leads", "score", "fit_score", "interest_score")),
    Partial("no_owners", "owners", lambda t: _drop("activities", "rep_id")(_drop("leads", "owner_id")(t))),
    Partial("no_recycled_dates", "recycled_dates", _drop("leads", "recycled_at", "requalified_at")),
    Partial("no_rejected_dates", "rejected_dates", _drop("leads", "rejected_at", "rejection_reason")),
    Partial("after_the_data", None, lambda t: t, period="2025Q4"),
    Partial("in_euros", None, lambda t: t, config={"currency": "EUR"}),
)


def write_partial(sample_dir: Path, partial: Partial, out: Path) -> Path:
    """The sample in ``sample_dir`` (Parquet tables) changed by ``partial``, written to ``out``."""
    out.mkdir(parents=True)
    tables = {p.stem: pd.read_parquet(p) for p in sorted(Path(sample_dir).glob("*.parquet"))}
    for name, frame in partial.change(tables).items():
        frame.to_parquet(out / f"{name}.parquet", index=False)
    if partial.unavailable:
        (out / "unavailable.yml").write_text(yaml.safe_dump(partial.unavailable))
    return out
