"""What the export can tell: its profile, worked out once from the validated tables.

Every figure of the report needs something of the export (deal amounts, lost deals, contact
attempts, a timeline...). Whether the export has it is decided here, once, from the data, and the
reason a figure is not available is generated from the same profile entry, never written page by
page. The profile has two layers:

* **columns**: for each table and column of the contract the export holds, how many rows have a
  value and the smallest and largest value. A column is *filled* when a row has a value and
  *informative* when it is filled and not constant (its smallest and largest values differ);
* **facts**: what the figures need (:data:`TELLS` lists them in words), each present or absent with the reason in words,
  e.g. ``lost_deals``: "the export records no lost deals (deals by stage: 812 won, 40 open)".
  A reason the mapping gives in ``unavailable.yml`` (an adapter that knows its export does not
  record a fact) comes first.

It is computed with one aggregate query per table (the non-empty count, smallest and largest value
of every column; the deals' counts by stage and of positive amounts) in the engine, never on events
in pandas, and kept as ``profile.json`` beside the validated tables.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime, timedelta
from pathlib import Path

import ibis
import ibis.expr.types as ir

from sla_analysis.io.contract import CONTRACT
from sla_analysis.io.kept import computed_once, write_atomically

PROFILE_FILE = "profile.json"
#: bump when what the profile holds changes: an older profile.json is computed again
PROFILE_VERSION = 4

#: what a row of each table is, in a sentence ("every lead has the same tier")
ROW_NOUN = {"leads": "lead", "activities": "attempt", "deals": "deal", "reps": "rep"}
#: the funnel's event columns: whether the export has a timeline (leads, MQLs, SQLs, attempts and
#: deals on more than one day)
FUNNEL_COLUMNS = {"leads": ("created_at", "mql_at", "sql_at"), "activities": ("occurred_at",),
                  "deals": ("created_at", "proposal_at", "closed_at")}
#: every event column of each table: the data's first and last day
EVENT_COLUMNS = {**FUNNEL_COLUMNS,
                 "leads": FUNNEL_COLUMNS["leads"] + ("rejected_at", "recycled_at", "requalified_at")}
#: the events outside the funnel, in words
OTHER_EVENTS = {"rejected_at": "rejections", "recycled_at": "recycling", "requalified_at": "requalifications"}


@dataclass(frozen=True)
class ColumnProfile:
    """One column of the export: rows with a value, the smallest and largest value (as text)."""

    filled: int
    smallest: str | None = None
    largest: str | None = None
    timed: bool | None = None     # a timestamp column with a time of day in some row (None: not a timestamp)

    @property
    def informative(self) -> bool:
        """Filled and not constant: the column can tell one row from another."""
        return self.filled > 0 and self.smallest != self.largest


@dataclass(frozen=True)
class Fact:
    """Something figures need: present, or absent with the reason in words."""

    present: bool
    reason: str | None = None
    detail: str = ""


@dataclass(frozen=True)
class ExportProfile:
    """What the export holds (``columns``), what it can tell (``facts``) and the days it covers."""

    rows: dict[str, int]
    columns: dict[str, dict[str, ColumnProfile]]
    facts: dict[str, Fact]
    first_day: date | None
    last_day: date | None
    stages: dict[str, int] = field(default_factory=dict)
    version: int = PROFILE_VERSION

    def has(self, fact: str) -> bool:
        return self.facts[fact].present

    def reason(self, fact: str) -> str | None:
        """Why ``fact`` is absent (``None`` when present)."""
        return self.facts[fact].reason

    def unmet(self, *needs: str) -> str | None:
        """The reason of the first of ``needs`` the export lacks, or ``None`` when it has them all:
        a figure declares what it needs and is unavailable with this reason."""
        for need in needs:
            if not self.facts[need].present:
                return self.facts[need].reason
        return None

    @property
    def data_end(self) -> datetime | None:
        """How far the data reaches: the latest end among its event columns, where a column holding
        dates only (every value at midnight) reaches the end of its last day (the next midnight: a
        deal dated D, whatever hour it closed, is inside the data) and a column with times reaches
        its last time exactly (an MQL that arrived an hour before the export was taken is still
        inside its window, not missed)."""
        ends = []
        for table, names in EVENT_COLUMNS.items():
            for c in names:
                p = self.column(table, c)
                if p is None or not p.filled:
                    continue
                last = datetime.fromisoformat(p.largest).replace(tzinfo=None)
                ends.append(last if p.timed else datetime.combine(last.date() + timedelta(days=1), datetime.min.time()))
        return max(ends) if ends else None

    def column(self, table: str, column: str) -> ColumnProfile | None:
        return self.columns.get(table, {}).get(column)

    def stream_start(self, table: str, column: str) -> datetime | None:
        """The first day ``table.column`` holds a date (its midnight)."""
        p = self.column(table, column)
        if p is None or not p.filled:
            return None
        return datetime.combine(datetime.fromisoformat(p.smallest).date(), datetime.min.time())

    def stream_end(self, table: str, column: str) -> datetime | None:
        """The end of the last day ``table.column`` holds a date (the next midnight): where that
        stream of events stops (an export's new leads may stop months before its attempts do)."""
        p = self.column(table, column)
        if p is None or not p.filled:
            return None
        return datetime.combine(datetime.fromisoformat(p.largest).date() + timedelta(days=1), datetime.min.time())

    def months_covered(self, table: str, column: str, start: datetime, end: datetime, months: int) -> float:
        """How many of the ``months`` of ``[start, end)`` lie between :meth:`stream_start` and
        :meth:`stream_end` (0 when the stream ends before the period, or has no dates): the months a count of those events
        covers, so a rate a month is not diluted by months the export does not reach."""
        stop, first = self.stream_end(table, column), self.stream_start(table, column)
        if stop is None or end <= start:
            return 0.0
        covered = (min(end, stop) - max(start, first)).total_seconds() / (end - start).total_seconds()
        return months * min(1.0, max(0.0, covered))

    def to_json(self) -> dict:
        out = asdict(self)
        out["first_day"] = self.first_day.isoformat() if self.first_day else None
        out["last_day"] = self.last_day.isoformat() if self.last_day else None
        return out

    @classmethod
    def from_json(cls, data: dict) -> "ExportProfile":
        return cls(rows=data["rows"],
                   columns={t: {c: ColumnProfile(**v) for c, v in cols.items()} for t, cols in data["columns"].items()},
                   facts={k: Fact(**v) for k, v in data["facts"].items()},
                   first_day=date.fromisoformat(data["first_day"]) if data["first_day"] else None,
                   last_day=date.fromisoformat(data["last_day"]) if data["last_day"] else None,
                   stages=data.get("stages", {}), version=data.get("version", 0))


def _text(value) -> str | None:
    if value is None or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    return str(value)


def _column_profiles(t: ir.Table, columns: list[str]) -> tuple[int, dict[str, ColumnProfile]]:
    """One query: the rows, and each of ``columns``' non-empty count, smallest and largest value."""
    columns = [c for c in columns if c in t.columns]
    aggs = {"__rows": t.count()}
    stamps = set()
    for i, c in enumerate(columns):
        col = t[c].cast("int8") if t[c].type().is_boolean() else t[c]
        aggs.update({f"n{i}": col.count(), f"lo{i}": col.min(), f"hi{i}": col.max()})
        if t[c].type().is_timestamp():
            stamps.add(c)
            aggs[f"timed{i}"] = ((col.hour() + col.minute() + col.second()) > 0).any()
    row = t.aggregate(**aggs).to_pyarrow().to_pylist()[0]
    return int(row["__rows"]), {c: ColumnProfile(int(row[f"n{i}"] or 0), _text(row[f"lo{i}"]), _text(row[f"hi{i}"]),
                                                 bool(row[f"timed{i}"]) if c in stamps else None)
                                 for i, c in enumerate(columns)}


def _stages(deals: ir.Table) -> tuple[dict[str, int], int]:
    """Deals by stage, and how many have an amount above zero."""
    won_value = deals.amount > 0 if "amount" in deals.columns else ibis.literal(False)
    row = deals.aggregate(won=(deals.stage == "won").sum(), lost=(deals.stage == "lost").sum(),
                          open=(deals.stage == "open").sum(), priced=won_value.sum()).to_pyarrow().to_pylist()[0]
    return {k: int(row[k] or 0) for k in ("won", "lost", "open")}, int(row["priced"] or 0)


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


class _Facts:
    """Builds the facts from the column profiles; each reason names what the export shows."""

    def __init__(self, rows: dict[str, int], columns: dict[str, dict[str, ColumnProfile]]):
        self.rows, self.columns = rows, columns

    def column(self, table: str, column: str, *, informative: bool = False, what: str = "") -> Fact:
        """Present when ``table.column`` is filled (``informative``: and not constant)."""
        what = what or f"{column.replace('_', ' ')}"
        plural = f"{ROW_NOUN[table]}s"
        if table not in self.rows:
            return Fact(False, f"the export has no {table} table, so it records no {what}")
        if not self.rows[table]:
            return Fact(False, f"the {table} table is empty, so the export records no {what}")
        p = self.columns[table].get(column)
        if p is None:
            return Fact(False, f"the {plural} have no {column} column, so the export records no {what}")
        if not p.filled:
            return Fact(False, f"the {plural}' {column} column is blank in every row, so the export records no {what}")
        if informative and not p.informative:
            return Fact(False, f"every {ROW_NOUN[table]} has the same {column} ({p.smallest}), so the {what} cannot "
                               "tell one lead from another")
        share = p.filled / self.rows[table]
        return Fact(True, None, f"{share:.0%} of {plural} have one" if share < 0.995 else f"every {ROW_NOUN[table]} has one")


def _days(columns: dict[str, dict[str, ColumnProfile]], which: dict[str, tuple[str, ...]]) -> dict[str, tuple[date, date]]:
    """The first and last day of each filled event column of ``which``, by ``table.column``."""
    out = {}
    for table, names in which.items():
        for c in names:
            p = columns.get(table, {}).get(c)
            if p is not None and p.filled:
                out[f"{table}.{c}"] = (datetime.fromisoformat(p.smallest).date(), datetime.fromisoformat(p.largest).date())
    return out


def _timeline(columns: dict[str, dict[str, ColumnProfile]]) -> Fact:
    """A timeline: the funnel's events (leads, MQLs, SQLs, attempts, deals) fall on more than one day."""
    funnel = _days(columns, FUNNEL_COLUMNS)
    days = {d for pair in funnel.values() for d in pair}
    if len(days) > 1:
        return Fact(True, None, f"{min(days):%d %b %Y} to {max(days):%d %b %Y}")
    if not days:
        return Fact(False, "the export has no dated leads, attempts or deals, so the time between events and rates "
                           "per month are unknown")
    day = next(iter(days))
    others = [OTHER_EVENTS[k.split(".")[1]] for k, pair in _days(columns, EVENT_COLUMNS).items()
              if k not in funnel and set(pair) != {day}]
    also = f"; only the {' and '.join(others)} are dated otherwise" if others else ""
    return Fact(False, f"every lead, attempt and deal in the export is dated the same day ({day:%d %b %Y}){also}, so "
                       "the time between events and rates per month are unknown")


def declared(profile: ExportProfile, unavailable: dict[str, str] | None) -> ExportProfile:
    """``profile`` with the facts a mapping's ``unavailable.yml`` says the export does not record made
    absent with the mapping's reason (the attempts, when it has none, take every fact on attempts with
    them)."""
    unavailable = dict(unavailable or {})
    if not unavailable:
        return profile
    facts = dict(profile.facts)
    for name, fact in DECLARABLE.items():
        if name in unavailable:
            facts[fact] = Fact(False, unavailable[name])
    if "activities" in unavailable:
        for fact in ON_ATTEMPTS:
            facts[fact] = Fact(False, unavailable["activities"])
    return replace(profile, facts=facts)


#: what an ``unavailable.yml`` may declare, and the fact it makes absent
DECLARABLE = {"activities": "attempts", "call_outcomes": "call_outcomes", "first_touch_times": "first_touch",
              "attempt_times": "attempt_times", "mql_times": "mql_dates"}
#: the facts that need contact attempts
ON_ATTEMPTS = ("attempts", "call_outcomes", "call_durations", "first_touch", "attempt_times")


def _measured(tables: dict[str, ir.Table], inputs: dict[str, list[str]]) -> ExportProfile:
    """The profile as the data shows it (``inputs``: the columns the export had in each table; the
    validated tables also hold the contract's other columns, empty)."""
    rows, columns = {}, {}
    for name in CONTRACT:
        if name in tables and name in inputs:
            rows[name], columns[name] = _column_profiles(tables[name], list(inputs[name]))
    stages, priced = _stages(tables["deals"]) if rows.get("deals") else ({}, 0)
    spans = _days(columns, EVENT_COLUMNS)
    first = min((a for a, _ in spans.values()), default=None)
    last = max((b for _, b in spans.values()), default=None)
    f = _Facts(rows, columns)
    facts: dict[str, Fact] = {}
    if not rows.get("activities"):
        facts["attempts"] = Fact(False, "the export has no contact attempts (the activities table is empty)")
    else:
        facts["attempts"] = Fact(True, None, _count(rows["activities"], "attempt"))
    no_attempts = facts["attempts"].reason
    facts["timeline"] = _timeline(columns)
    if not rows.get("deals"):
        none = "the export has no deals"
        facts["won_deals"] = Fact(False, none + ", so no lead is known to have been won")
        facts["lost_deals"] = Fact(False, none + ", so no deal is known to have been lost")
    else:
        by_stage = ", ".join(f"{n:,} {s}" for s, n in stages.items() if n)
        facts["won_deals"] = (Fact(True, None, _count(stages["won"], "won deal")) if stages["won"] else
                              Fact(False, f"the export records no won deals (deals by stage: {by_stage})"))
        facts["lost_deals"] = (Fact(True, None, _count(stages["lost"], "lost deal")) if stages["lost"] else
                               Fact(False, f"the export records no lost deals (deals by stage: {by_stage}), so a win "
                                           "rate cannot be told from a count of wins"))
    amount = columns.get("deals", {}).get("amount")
    unknown = "so revenue and the value of a lead are unknown"
    facts["amounts"] = (Fact(False, f"the export has no deals, {unknown}") if not rows.get("deals") else
                        Fact(False, f"the deals have no amounts, {unknown}") if amount is None else
                        Fact(False, f"the deals' amount column is blank in every row, {unknown}") if not amount.filled else
                        Fact(False, f"every deal's amount is 0, {unknown}") if not priced else
                        f.column("deals", "amount", what="deal amounts"))
    facts["call_outcomes"] = (Fact(False, no_attempts) if no_attempts else
                              f.column("activities", "outcome", what="call outcomes"))
    facts["call_durations"] = (Fact(False, no_attempts) if no_attempts else
                               f.column("activities", "duration_s", what="call durations"))
    # when a lead was first touched, and at what hour attempts were made, need attempts on a timeline
    no_times = no_attempts or facts["timeline"].reason
    facts["first_touch"] = Fact(False, no_times) if no_times else Fact(True)
    facts["attempt_times"] = Fact(False, no_times) if no_times else Fact(True)
    facts["tiers"] = f.column("leads", "tier", what="lead tiers")
    score = f.column("leads", "score", informative=True, what="lead scores")
    halves = [f.column("leads", c, informative=True, what="lead scores") for c in ("fit_score", "interest_score")]
    facts["scores"] = (score if score.present or not all(h.present for h in halves) else
                       Fact(True, None, "fit score and interest score, added up"))
    owners = f.column("leads", "owner_id", what="lead owners")
    reps = f.column("activities", "rep_id", what="reps on the attempts")
    facts["owners"] = owners if owners.present or not reps.present else reps
    facts["mql_dates"] = f.column("leads", "mql_at", what="MQL dates")
    facts["sql_dates"] = f.column("leads", "sql_at", what="SQL dates")
    facts["rejected_dates"] = f.column("leads", "rejected_at", what="rejections by sales")
    facts["recycled_dates"] = f.column("leads", "recycled_at", what="leads recycled to marketing")
    facts["sources"] = f.column("leads", "source", informative=True, what="lead sources")
    return ExportProfile(rows, columns, facts, first, last, stages)


def _read(path: Path) -> ExportProfile | None:
    try:
        data = json.loads(path.read_text())
        return ExportProfile.from_json(data) if data.get("version") == PROFILE_VERSION else None
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _keep(profile: ExportProfile, path: Path) -> None:
    text = json.dumps(profile.to_json(), indent=1, sort_keys=True).encode()
    try:
        write_atomically(path, lambda fh: fh.write(text))
    except OSError:  # a read-only cache: the profile is still returned
        pass


def export_profile(cache_dir: Path, tables: dict[str, ir.Table], inputs: dict[str, list[str]],
                   unavailable: dict[str, str] | None) -> ExportProfile:
    """The export's profile: what the data shows, kept as ``profile.json`` in its validated cache
    (computed the first time), with what the mapping declares unavailable."""
    path = Path(cache_dir) / PROFILE_FILE
    try:
        measured = computed_once(path, lambda: _measured(tables, inputs), _read, _keep)
    except OSError:  # no lock can be taken beside a read-only cache
        measured = _measured(tables, inputs)
    return declared(measured, unavailable)


#: the facts as the index lists them, in a sales leader's words: (fact, "what it tells")
TELLS = (("timeline", "rates per month and the time between events"),
         ("attempts", "contact attempts: cohorts by attempts, the attempt cap, cost per call, speed to lead, cadence"),
         ("won_deals", "won deals: conversions and revenue"),
         ("lost_deals", "lost deals: win rates"),
         ("amounts", "deal amounts: revenue, the value of a lead, marketing's money target"),
         ("call_outcomes", "call outcomes: contact rates"),
         ("call_durations", "call durations: calling time"),
         ("first_touch", "when each lead was first contacted: speed to lead"),
         ("tiers", "lead tiers: promises per tier"),
         ("scores", "lead scores: the score threshold, and comparing like with like"),
         ("owners", "owners: who worked each lead"),
         ("mql_dates", "MQL dates: the days from MQL to SQL"),
         ("rejected_dates", "rejections by sales"),
         ("recycled_dates", "leads recycled to marketing"))
