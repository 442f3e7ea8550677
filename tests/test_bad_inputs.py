"""Bad input corpus: malformed CRM exports, generated into a temporary folder from a small valid one.

Every case is run through the CLI exactly as a scheduler would (``python -m sla_analysis report``,
and ``validate`` for a few), and must end with exit status 2 and a message that names the file, the
column and the rule (and the example rows, where there are rows): never a traceback, a hang or a
published report. The cases are run once per session, in parallel, and each test reads its result.
The table of what was tried and what happened is in ``docs/reliability.md``.
"""
from __future__ import annotations

import csv
import gzip
import io
import os
import re
import subprocess
import sys
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest

from tests.cli_runner import run_cli
from tests.helpers import ACTIVITIES, DEALS, LEADS, write_csv

pytestmark = pytest.mark.slow  # about a minute of CLI runs
ROOT = Path(__file__).resolve().parents[1]
TIMEOUT_S = 300  # a hang guard, generous on purpose: a shared machine may be slow, a hang never answers
REPS = [{"rep_id": "R1", "team": "east", "role": "SDR", "hourly_cost": "50"},
        {"rep_id": "R2", "team": "west", "role": "SDR", "hourly_cost": "55"}]


def _fields(rows: list[dict], base: list[dict]) -> list[str]:
    return list(dict.fromkeys(k for r in (rows or base) for k in r))


def _write(d: Path, leads=LEADS, activities=ACTIVITIES, deals=DEALS, reps=None) -> None:
    write_csv(d / "leads.csv", leads, _fields(leads, LEADS))
    write_csv(d / "activities.csv", activities, _fields(activities, ACTIVITIES))
    write_csv(d / "deals.csv", deals, _fields(deals, DEALS + [{"closed_at": ""}]))
    if reps is not None:
        write_csv(d / "reps.csv", reps)


def _with(rows: list[dict], i: int, **changes) -> list[dict]:
    out = [dict(r) for r in rows]
    out[i].update(changes)
    return out


def _rename(rows: list[dict], old: str, new: str) -> list[dict]:
    return [{(new if k == old else k): v for k, v in r.items()} for r in rows]


def _drop(rows: list[dict], col: str) -> list[dict]:
    return [{k: v for k, v in r.items() if k != col} for r in rows]


def _raw(d: Path, name: str, data: bytes) -> None:
    (d / name).write_bytes(data)


def _csv_text(rows: list[dict]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]))
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


def _gzip_bomb(path: Path, size: int = 200 << 20) -> None:
    """``size`` bytes of zeros, gzipped (about 200 KB on disk for 200 MB inside)."""
    block = b"\0" * (1 << 20)
    with gzip.open(path, "wb", compresslevel=9) as fh:
        for _ in range(size >> 20):
            fh.write(block)


def _zip_bomb(path: Path, size: int = 200 << 20) -> None:
    block = b"0" * (1 << 20)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        with zf.open("leads.csv", "w") as fh:
            fh.write(b"lead_id,created_at,source\n")
            for _ in range(size >> 20):
                fh.write(block)


def _long_line(path: Path, size: int = 100 << 20) -> None:
    """A leads file whose second line is one 100 MB value (written in 1 MB blocks)."""
    with open(path, "wb") as fh:
        fh.write(b"lead_id,created_at,source\nL1,2024-01-02 09:00:00,")
        block = b"x" * (1 << 20)
        for _ in range(size >> 20):
            fh.write(block)
        fh.write(b"\n")


def _parquet(path: Path, frame) -> None:
    frame.to_parquet(path, index=False)


def _parquet_bomb(path: Path, rows: int = 30_000_000) -> None:
    """30 million copies of one lead in about 300 KB (dictionary and run-length encoding)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    idx = pa.array(np.zeros(rows, dtype=np.int8))
    col = lambda v: pa.DictionaryArray.from_arrays(idx, pa.array([v]))  # noqa: E731
    pq.write_table(pa.table({"lead_id": col("L1"), "created_at": col("2024-01-02 09:00:00"),
                             "source": col("webinar")}), path)


def _xlsx_bomb(path: Path, rows: int = 3_000_000) -> None:
    """A workbook whose sheet expands from about 2 MB to 450 MB (3 million rows, no dimension)."""
    from openpyxl import Workbook

    buf = io.BytesIO()
    Workbook().save(buf)
    cell = lambda v: f'<c t="inlineStr"><is><t>{v}</t></is></c>'.encode()  # noqa: E731
    header = b"<row>" + cell("lead_id") + cell("created_at") + cell("source") + b"</row>"
    block = (b"<row>" + cell("L1") + cell("2024-01-02 09:00:00") + cell("webinar") + b"</row>") * 10_000
    with zipfile.ZipFile(buf) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename != "xl/worksheets/sheet1.xml":
                dst.writestr(info.filename, data)
                continue
            head, _, tail = re.sub(rb"<dimension[^>]*/>", b"", data).partition(b"<sheetData")
            tail = tail.split(b">", 1)[1].replace(b"</sheetData>", b"")
            with dst.open(info.filename, "w") as fh:
                fh.write(head + b"<sheetData>" + header)
                for _ in range(rows // 10_000):
                    fh.write(block)
                fh.write(b"</sheetData>" + tail.replace(b"<sheetData/>", b""))


MAPPING = """mapping: 1
name: test
tables:
  leads:
    file: {leads}
    columns: {{lead_id: lead_id, created_at: created_at, source: source}}
  activities:
    file: {activities}
    columns: {{activity_id: activity_id, lead_id: lead_id, occurred_at: occurred_at, type: type}}
  deals:
    file: {deals}
    columns: {{deal_id: deal_id, lead_id: lead_id, created_at: created_at, stage: stage}}
"""


def _mapping(d: Path, leads="leads.csv", activities="activities.csv", deals="deals.csv") -> None:
    (d.parent / "mapping.yml").write_text(MAPPING.format(leads=leads, activities=activities, deals=deals))


def _outside(d: Path) -> None:
    """The export's files one folder up: a mapping that reads ../secret/leads.csv and an absolute path."""
    secret = d.parent / "secret"
    secret.mkdir()
    _write(secret)
    _write(d)
    _mapping(d, leads="../secret/leads.csv", activities=str(secret / "activities.csv"))


@dataclass
class Case:
    """A malformed export: how to make it, and what the error must name.

    ``expect`` holds (file, column, rule) fragments, each of which must appear on one line of the
    message (file and column as ``<file>: column '<column>': <rule>``); ``rows`` are example-row
    fragments that must be shown; ``patch`` names the finding a case needs (docs/reliability.md);
    a bomb gets a short ``timeout`` (past it, the case counts as a hang)."""

    name: str
    make: Callable[[Path], None]
    expect: list[tuple[str, str, str]]
    rows: list[str] = field(default_factory=list)
    what: str = ""
    patch: str = ""
    profile: str | None = None  # a mapping file written beside the export (``--profile``)
    absent: list[str] = field(default_factory=list)  # must not be in the message (cascading errors)
    timeout: float = TIMEOUT_S


def _future(d):
    _write(d, activities=_with(ACTIVITIES, 1, occurred_at="2099-01-01 00:00:00"))


CASES = [
    # --- the file itself
    Case("empty_leads_file", lambda d: (_write(d), _raw(d, "leads.csv", b"")),
         [("leads.csv", "-", "is empty")], what="leads.csv of 0 bytes"),
    Case("header_only_leads", lambda d: (_write(d, activities=[], deals=[]),
                                         _raw(d, "leads.csv", b"lead_id,created_at,source,tier\n")),
         [("leads.csv", "-", "no data rows")], what="leads.csv with a header and no rows", patch="F1"),
    Case("header_only_activities", lambda d: (_write(d), _raw(d, "activities.csv",
                                                               b"activity_id,lead_id,occurred_at,type\n")),
         [("activities.csv", "-", "no data rows")], what="activities.csv with a header and no rows", patch="F1"),
    Case("missing_table", lambda d: (_write(d), (d / "deals.csv").unlink()),
         [("deals.csv", "-", "required table is missing")], what="no deals file"),
    Case("data_folder_missing", lambda d: None,
         [("nope", "-", "does not exist")], what="DATA names a folder that does not exist"),
    Case("both_csv_and_parquet", lambda d: (_write(d), _raw(d, "leads.parquet", b"PAR1")),
         [("", "-", "both leads.csv and leads.parquet")], what="leads.csv and leads.parquet side by side"),
    Case("binary_garbage_csv", lambda d: (_write(d), _raw(d, "leads.csv", os.urandom(1 << 16))),
         [("leads.csv", "-", "")], what="64 KB of random bytes named leads.csv"),
    Case("garbage_parquet", lambda d: (_write(d), (d / "leads.csv").unlink(),
                                       _raw(d, "leads.parquet", b"PAR1" + os.urandom(4096) + b"PAR1")),
         [("leads.parquet", "-", "cannot be read as Parquet")], what="random bytes named leads.parquet"),
    Case("latin1_encoding", lambda d: (_write(d), _raw(d, "leads.csv", _csv_text(
        _with(LEADS, 1, source="caf\u00e9 m\u00fcnchen")).encode("latin-1"))),
         [("leads.csv", "-", "UTF-8")], what="leads.csv in Latin-1 with accented sources"),
    Case("utf16_encoding", lambda d: (_write(d), _raw(d, "leads.csv", _csv_text(LEADS).encode("utf-16"))),
         [("leads.csv", "-", "UTF-8")], what="leads.csv in UTF-16 (with BOM)", patch="F2"),
    Case("line_of_100_mb", lambda d: (_write(d), _long_line(d / "leads.csv")),
         [("leads.csv", "-", "longer than")], what="a leads.csv line of 100 MB", patch="F8"),
    Case("gzip_bomb_named_csv_gz", lambda d: (_write(d), (d / "leads.csv").unlink(),
                                              _gzip_bomb(d / "leads.csv.gz")),
         [("leads.csv", "-", "required table is missing")],
         what="leads.csv.gz: 200 MB of zeros in 200 KB (compressed input is not accepted)"),
    Case("gzip_bomb_named_csv", lambda d: (_write(d), _gzip_bomb(d / "leads.csv")),
         [("leads.csv", "-", "")], what="the same gzip bomb renamed leads.csv (never decompressed)"),
    Case("zip_bomb", lambda d: (_write(d), (d / "leads.csv").unlink(), _zip_bomb(d / "leads.zip")),
         [("leads.csv", "-", "required table is missing")],
         what="leads.zip holding a 200 MB leads.csv (archives are not accepted)"),
    Case("xlsx_zip_bomb", lambda d: (_write(d), (d / "leads.csv").unlink(), _xlsx_bomb(d / "leads.xlsx"),
                                     _mapping(d, leads="leads.xlsx")),
         [("leads.xlsx", "-", "ZIP bomb")], profile="mapping.yml", patch="F13",
         what="through a mapping file: leads.xlsx whose sheet expands from 2 MB to 450 MB (3 million rows)"),
    Case("parquet_row_bomb", lambda d: (_write(d), (d / "leads.csv").unlink(), _parquet_bomb(d / "leads.parquet")),
         [("leads.parquet", "-", "decompression bomb")], patch="F14",
         what="leads.parquet: 30 million copies of one row in 300 KB"),
    Case("mapping_reads_outside_data", _outside, [("mapping.yml", "-", "outside the DATA folder")],
         profile="mapping.yml", patch="F9", what="a mapping file naming ../secret/leads.csv and an absolute path"),
    Case("unknown_profile", lambda d: _write(d), [("no-such-crm", "-", "no such profile")],
         profile="no-such-crm", what="--profile no-such-crm"),
    Case("ragged_rows", lambda d: (_write(d), _raw(d, "leads.csv", (
        _csv_text(LEADS) + "L9,2024-01-05 00:00:00,webinar,high,EXTRA,MORE\n").encode())),
         [("leads.csv", "-", "")], what="a row with more fields than the header"),
    Case("unbalanced_quote", lambda d: (_write(d), _raw(d, "leads.csv", (
        _csv_text(LEADS) + 'L9,2024-01-05 00:00:00,"webinar,high\n').encode())),
         [("leads.csv", "-", "")], what="an unterminated quoted field"),
    # --- columns
    Case("missing_required_column", lambda d: _write(d, leads=_drop(LEADS, "source")),
         [("leads.csv", "source", "required column is missing")], what="leads without source"),
    Case("renamed_required_column", lambda d: _write(d, activities=_rename(ACTIVITIES, "occurred_at", "Activity Date")),
         [("activities.csv", "occurred_at", "required column is missing")], what="occurred_at exported as 'Activity Date'"),
    Case("header_case_changed", lambda d: _write(d, deals=_rename(DEALS, "stage", "Stage")),
         [("deals.csv", "stage", "required column is missing")], what="'Stage' instead of 'stage'"),
    Case("duplicate_column_names", lambda d: (_write(d), _raw(d, "leads.csv", (
        "lead_id,created_at,source,source\nL1,2024-01-02 09:00:00,webinar,tradeshow\n"
        "L2,2024-01-03 10:00:00,white paper,x\nL3,2024-01-04 11:00:00,webinar,y\n").encode())),
         [("leads.csv", "source", "more than once")], what="two columns named source"),
    # --- values
    Case("required_value_missing", lambda d: _write(d, leads=_with(LEADS, 2, source="  ")),
         [("leads.csv", "source", "required value is missing")], rows=["row=3", "L3"], what="a blank source"),
    Case("number_not_a_number", lambda d: _write(d, leads=_with([dict(r, score="70") for r in LEADS], 0, score="high")),
         [("leads.csv", "score", "must be a valid float64")], rows=["row=1", "'high'"], what="score 'high'"),
    Case("boolean_not_boolean", lambda d: _write(d, leads=[dict(r, marketing_sourced="maybe") for r in LEADS]),
         [("leads.csv", "marketing_sourced", "must be a valid boolean")], rows=["row=1", "'maybe'"],
         what="marketing_sourced 'maybe'"),
    Case("unparseable_date", lambda d: _write(d, leads=_with(LEADS, 1, created_at="last tuesday")),
         [("leads.csv", "created_at", "must be a valid timestamp")], rows=["row=2", "'last tuesday'"],
         absent=["not in leads"], patch="F7",
         what="created_at 'last tuesday' (its activities must not be called orphans: the lead exists)"),
    Case("day_first_date", lambda d: _write(d, activities=_with(ACTIVITIES, 2, occurred_at="31/01/2024 10:00")),
         [("activities.csv", "occurred_at", "must be a valid timestamp")], rows=["row=3", "31/01/2024"],
         what="occurred_at '31/01/2024 10:00' (day first)"),
    Case("impossible_date", lambda d: _write(d, deals=_with(DEALS, 0, created_at="2024-02-30 00:00:00")),
         [("deals.csv", "created_at", "must be a valid timestamp")], rows=["row=1", "2024-02-30"],
         what="deal created_at 2024-02-30"),
    Case("future_date", _future, [("activities.csv", "occurred_at", "in the future")], rows=["row=2", "2099"],
         what="an activity in 2099"),
    Case("ancient_date", lambda d: _write(d, leads=_with(LEADS, 0, created_at="0024-01-02 09:00:00")),
         [("leads.csv", "created_at", "before 1990")], rows=["row=1", "0024-01-02"],
         what="created_at in the year 24 (a typo for 2024)", patch="F4"),
    Case("duplicate_lead_id", lambda d: _write(d, leads=LEADS + [dict(LEADS[0], source="tradeshow")]),
         [("leads.csv", "lead_id", "must be unique")], rows=["row=1", "row=4", "'L1'"], what="lead L1 twice"),
    Case("duplicate_activity_id", lambda d: _write(d, activities=_with(ACTIVITIES, 2, activity_id="A1")),
         [("activities.csv", "activity_id", "must be unique")], rows=["row=1", "row=3"], what="activity A1 twice"),
    Case("duplicate_rep_id", lambda d: _write(d, reps=REPS + [dict(REPS[0])]),
         [("reps.csv", "rep_id", "must be unique")], rows=["row=3"], what="rep R1 twice"),
    Case("orphan_activity", lambda d: _write(d, activities=ACTIVITIES + [dict(ACTIVITIES[0], activity_id="A9", lead_id="GHOST")]),
         [("activities.csv", "lead_id", "not in leads")], rows=["row=4", "'GHOST'"], what="an activity of an unknown lead"),
    Case("orphan_deal", lambda d: _write(d, deals=DEALS + [dict(DEALS[0], deal_id="D9", lead_id="NOBODY")]),
         [("deals.csv", "lead_id", "not in leads")], rows=["row=2", "'NOBODY'"], what="a deal of an unknown lead"),
    Case("negative_amount", lambda d: _write(d, deals=_with(DEALS, 0, amount="-250")),
         [("deals.csv", "amount", "must not be negative")], rows=["row=1", "-250"], what="amount -250"),
    Case("absurd_amount", lambda d: _write(d, deals=_with(DEALS, 0, amount="1e15")),
         [("deals.csv", "amount", "at most")], rows=["row=1"], what="amount 1e15", patch="F5"),
    Case("infinite_amount", lambda d: _write(d, deals=_with(DEALS, 0, amount="inf")),
         [("deals.csv", "amount", "finite")], rows=["row=1"], what="amount 'inf'", patch="F5"),
    Case("nan_amount", lambda d: _write(d, deals=_with(DEALS, 0, amount="NaN")),
         [("deals.csv", "amount", "finite")], rows=["row=1"], what="amount 'NaN'", patch="F5"),
    Case("negative_duration", lambda d: _write(d, activities=[dict(a, duration_s="-30") for a in ACTIVITIES]),
         [("activities.csv", "duration_s", "must not be negative")], rows=["row=1"], what="duration_s -30"),
    Case("negative_hourly_cost", lambda d: _write(d, reps=_with(REPS, 1, hourly_cost="-55")),
         [("reps.csv", "hourly_cost", "must not be negative")], rows=["row=2"], what="rep hourly_cost -55"),
    Case("bad_stage", lambda d: _write(d, deals=_with(DEALS, 0, stage="maybe")),
         [("deals.csv", "stage", "must be one of open, won, lost")], rows=["row=1", "'maybe'"], what="stage 'maybe'"),
    Case("bad_tier", lambda d: _write(d, leads=_with(LEADS, 1, tier="platinum")),
         [("leads.csv", "tier", "must be one of high, moderate, low")], rows=["row=2", "'platinum'"], what="tier 'platinum'"),
    Case("deal_before_lead", lambda d: _write(d, deals=_with(DEALS, 0, created_at="2023-06-01 00:00:00")),
         [("deals.csv", "created_at", "before its lead existed")], rows=["row=1", "2023-06-01"],
         what="a deal created before its lead"),
    Case("deal_won_before_lead", lambda d: _write(d, deals=_with(DEALS, 0, closed_at="2023-12-01 00:00:00")),
         [("deals.csv", "closed_at", "before")], rows=["row=1"],
         what="a deal won (closed_at) before its lead existed", patch="F6"),
    Case("parquet_wrong_types", lambda d: (_write(d), (d / "leads.csv").unlink(), _parquet(
        d / "leads.parquet", __import__("pandas").DataFrame(
            {"lead_id": ["L1", "L2", "L3"], "created_at": [1704186000, 1704272400, 1704358800],
             "source": ["webinar", "webinar", "tradeshow"]}))),
         [("leads.parquet", "created_at", "must be a valid timestamp")], rows=["row=1"],
         what="leads.parquet with created_at as epoch integers"),
    Case("many_rules_at_once", lambda d: _write(
        d, leads=_with(LEADS, 0, created_at="soon"), activities=_with(ACTIVITIES, 0, lead_id="X"),
        deals=_with(DEALS, 0, amount="-1", stage="pending")),
         [("leads.csv", "created_at", "valid timestamp"), ("activities.csv", "lead_id", "not in leads"),
          ("deals.csv", "amount", "negative"), ("deals.csv", "stage", "one of")],
         what="four rules broken in three files: all reported in one run"),
]
CASES_BY_NAME = {c.name: c for c in CASES}
#: cases whose expected outcome needs a patch to contract.py/ingest.py (see /tmp/reliability/findings.md)
NEEDS_PATCH = {c.name: c.patch for c in CASES if c.patch}


@dataclass
class Outcome:
    returncode: int | None
    stdout: str
    stderr: str
    seconds: float
    published: bool
    data: Path


def _run(command: str, data: Path, out: Path, case: Case | None = None) -> tuple[int | None, str, str, float]:
    """``sla-analysis <command>`` on the case's export, forked from a server that imported the CLI once
    (:mod:`tests.cli_runner`: the same ``main``, a process of its own, a hang guard)."""
    import time
    args = [command, "--data", str(data)]
    if command == "report":
        args += ["--period", "2024-01", "--out", str(out), "--quiet"]
    if case is not None and case.profile:
        mapping = data.parent / case.profile
        args += ["--profile", str(mapping) if mapping.is_file() else case.profile]
    timeout = case.timeout if case is not None else TIMEOUT_S
    t0 = time.monotonic()
    res = run_cli(args, cwd=ROOT, timeout=timeout)
    return res.returncode, res.stdout, res.stderr, time.monotonic() - t0


#: the cases also run through ``report`` (the rest: ``validate`` only, which is what ``report`` calls
#: first); a case that ``validate`` accepts is not run through ``report`` (it would build a report).
REPORT_TOO = ("empty_leads_file", "header_only_leads", "binary_garbage_csv", "xlsx_zip_bomb",
              "duplicate_lead_id", "deal_won_before_lead", "many_rules_at_once")


@pytest.fixture(scope="session")
def outcomes(tmp_path_factory) -> dict[tuple[str, str], Outcome]:
    """Every case through ``validate``, then the REPORT_TOO ones that it refused through ``report``,
    two at a time."""
    root = tmp_path_factory.mktemp("bad_inputs")
    jobs = []
    for case in CASES:
        d = root / case.name / "export"
        d.mkdir(parents=True)
        case.make(d)
        data = d if case.name != "data_folder_missing" else root / case.name / "nope"
        jobs.append((case.name, data, root / case.name / "reports"))

    def one(job):
        name, data, out = job
        found = {}
        for command in ("validate", "report"):
            if command == "report" and (name not in REPORT_TOO or found[(name, "validate")].returncode != 2):
                continue
            rc, so, se, secs = _run(command, data, out, CASES_BY_NAME[name])
            published = out.exists() and any(p.name == "2024-01" for p in out.iterdir())
            found[(name, command)] = Outcome(rc, so, se, secs, published, data)
        for big in ("leads.csv", "leads.csv.gz", "leads.zip", "leads.xlsx", "leads.parquet"):  # not kept
            p = data / big
            if p.is_file() and p.stat().st_size > (10 << 20):
                p.unlink()
        return found

    results: dict = {}
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        for found in pool.map(one, jobs):
            results.update(found)
    return results


def check(outcome: Outcome, case: Case, command: str) -> None:
    err = outcome.stderr
    assert outcome.returncode is not None, f"{case.name}: hang (no answer in {case.timeout} s)"
    assert "Traceback" not in err, f"{case.name}: traceback\n{err[-3000:]}"
    assert outcome.returncode == 2, f"{case.name}: exit {outcome.returncode}\n{err[-3000:]}"
    assert not outcome.published, f"{case.name}: a report was published"
    assert err.startswith("error: "), err[:500]
    assert len(err.splitlines()) <= 30 and len(err) < 8000, f"{case.name}: message too long ({len(err)} chars)"
    lines = err.splitlines()
    for file, column, rule in case.expect:  # file, column and rule on one line
        named = f"column '{column}'" if column != "-" else ""
        hits = [ln for ln in lines if file in ln and named in ln and rule in ln]
        assert hits, f"{case.name}: no line naming {file!r}, {column!r}, {rule!r} in:\n{err}"
    for fragment in case.rows:
        assert fragment in err, f"{case.name}: example row {fragment!r} not shown in:\n{err}"
    for fragment in case.absent:
        assert fragment not in err, f"{case.name}: {fragment!r} should not be reported:\n{err}"


@pytest.mark.parametrize("name", [c.name for c in CASES])
def test_bad_export_is_refused_clearly(name, outcomes):
    check(outcomes[(name, "validate")], CASES_BY_NAME[name], "validate")


@pytest.mark.parametrize("name", REPORT_TOO)
def test_report_refuses_the_same_and_publishes_nothing(name, outcomes):
    assert (name, "report") in outcomes, f"{name}: validate did not refuse it (so report is not run: it could publish)"
    check(outcomes[(name, "report")], CASES_BY_NAME[name], "report")


def test_corpus_is_large_enough():
    assert len(CASES) >= 30
    assert len({c.name for c in CASES}) == len(CASES)


def test_valid_base_export_passes(tmp_path):
    """The corpus' starting point is itself valid: each case breaks exactly what it says."""
    d = tmp_path / "export"
    d.mkdir()
    _write(d, reps=REPS)
    res = subprocess.run([sys.executable, "-m", "sla_analysis", "validate", "--data", str(d)], cwd=ROOT,
                         capture_output=True, text=True, timeout=TIMEOUT_S)
    assert res.returncode == 0, res.stderr
