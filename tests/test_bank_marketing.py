"""The UCI Bank Marketing adapter: a hand-written bank-style CSV with exact expected outputs, and
checks on the real file (skipped when ../shared is not there)."""
from __future__ import annotations

import csv
from collections import Counter
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sla_analysis.analyses import compliance as cp
from sla_analysis.analyses import kpis as kp
from sla_analysis.analyses import plateau
from sla_analysis.analyses import scorecard as sc
from sla_analysis.cli import main
from sla_analysis.errors import AdapterError, ContractError
from sla_analysis.io.adapters import bank_marketing as bm
from sla_analysis.io.engine import open_crm
from sla_analysis.io.ingest import prepare_inputs

REPO_ROOT = Path(__file__).resolve().parents[1]
REAL_CSV = REPO_ROOT.parent / "shared/datasets/bank_marketing/bank-full.csv"
real_file = pytest.mark.skipif(not REAL_CSV.exists(), reason=f"{REAL_CSV} not present (needs ../shared)")

HEADER = ["age", "job", "marital", "education", "default", "balance", "housing", "loan", "contact", "day",
          "month", "duration", "campaign", "pdays", "previous", "poutcome", "y"]
# (day, month, duration, campaign, y, contact, job, poutcome); rows in chronological order.
ROWS = [
    (5, "may", 261, 1, "no", "unknown", "management", "unknown"),      # 2008-05-05
    (5, "may", 151, 3, "yes", "cellular", "technician", "unknown"),    # 2008-05-05, 3 attempts, converted
    (20, "nov", 0, 2, "no", "telephone", "services", "failure"),       # 2008-11-20, duration 0
    (3, "dec", 300, 1, "yes", "cellular", "admin.", "unknown"),        # 2008-12-03
    (28, "jan", 120, 4, "no", "cellular", "", "unknown"),              # 2009-01-28: first roll-over; empty job
    (2, "feb", 500, 2, "yes", "telephone", "retired", "success"),      # 2009-02-02
    (15, "may", 90, 1, "no", "cellular", "student", "unknown"),        # 2009-05-15 (may again, no roll-over)
    (10, "jan", 200, 5, "yes", "unknown", "blue-collar", "failure"),   # 2010-01-10: second roll-over
]
LAST_CONTACT = [date(2008, 5, 5), date(2008, 5, 5), date(2008, 11, 20), date(2008, 12, 3),
                date(2009, 1, 28), date(2009, 2, 2), date(2009, 5, 15), date(2010, 1, 10)]


def write_bank_csv(path: Path, rows=ROWS, header=HEADER) -> Path:
    """A bank-full.csv look-alike: ';'-separated, text quoted, numbers bare."""
    lines = [";".join(f'"{h}"' for h in header)]
    for day, month, duration, campaign, y, contact, job, pout in rows:
        rec = {"age": "40", "job": f'"{job}"', "marital": '"married"', "education": '"secondary"',
               "default": '"no"', "balance": "100", "housing": '"yes"', "loan": '"no"', "contact": f'"{contact}"',
               "day": str(day), "month": f'"{month}"', "duration": str(duration), "campaign": str(campaign),
               "pdays": "-1", "previous": "0", "poutcome": f'"{pout}"', "y": f'"{y}"'}
        lines.append(";".join(rec[h] for h in header))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def bank_csv(tmp_path) -> Path:
    return write_bank_csv(tmp_path / "bank.csv")


@pytest.fixture
def adapted(bank_csv, tmp_path) -> dict[str, pd.DataFrame]:
    out = bm.to_contract(bank_csv, tmp_path / "adapted", deal_value=750.0)
    return {n: pd.read_parquet(out / f"{n}.parquet") for n in ("leads", "activities", "deals")}


def _at(d: date, hh: int, mm: int = 0) -> pd.Timestamp:
    return pd.Timestamp(datetime(d.year, d.month, d.day, hh, mm))


# --------------------------------------------------------------------------------------------
# Hand-written fixture: exact outputs
# --------------------------------------------------------------------------------------------

def test_counts_and_ids(adapted):
    leads, acts, deals = adapted["leads"], adapted["activities"], adapted["deals"]
    assert list(leads.lead_id) == [f"B{i:06d}" for i in range(1, 9)]
    assert len(acts) == sum(r[3] for r in ROWS) == 19
    assert acts.groupby("lead_id").size().tolist() == [r[3] for r in ROWS]
    assert set(acts.type) == {"call"}
    assert list(deals.lead_id) == ["B000002", "B000004", "B000006", "B000008"]
    assert list(deals.deal_id) == ["D000002", "D000004", "D000006", "D000008"]
    assert set(deals.stage) == {"won"} and deals.amount.tolist() == [750.0] * 4


def test_year_inferred_from_row_order(adapted):
    last = adapted["activities"].groupby("lead_id").occurred_at.max()
    assert list(last) == [_at(d, 10) for d in LAST_CONTACT]


def test_leads_created_at_first_attempt_date_source_and_segment(adapted):
    leads = adapted["leads"]
    first = [d - pd.Timedelta(days=r[3] - 1) for d, r in zip(LAST_CONTACT, ROWS)]
    assert list(leads.created_at) == [pd.Timestamp(d) for d in first]
    assert leads.created_at.iloc[1] == pd.Timestamp("2008-05-03")
    assert leads.created_at.iloc[7] == pd.Timestamp("2010-01-06")
    assert list(leads.source) == [r[5] for r in ROWS]
    assert list(leads.segment) == [r[6] or "unknown" for r in ROWS]
    assert "tier" not in leads.columns and "mql_at" not in leads.columns


def test_attempts_spaced_one_day_back_last_one_carries_outcome(adapted):
    acts = adapted["activities"].set_index("activity_id")
    b2 = acts[acts.lead_id == "B000002"]
    assert list(b2.index) == ["B000002-01", "B000002-02", "B000002-03"]
    assert list(b2.occurred_at) == [_at(date(2008, 5, d), 10) for d in (3, 4, 5)]
    assert b2.outcome.isna().tolist() == [True, True, False] and b2.outcome.iloc[-1] == "connected"
    assert b2.duration_s.isna().tolist() == [True, True, False] and b2.duration_s.iloc[-1] == 151.0
    b3_last = acts.loc["B000003-02"]
    assert b3_last.outcome == "no_answer" and b3_last.duration_s == 0.0
    assert acts.loc["B000001-01"].outcome == "connected"


def test_deals_after_last_call(adapted):
    deals = adapted["deals"]
    expected = [_at(LAST_CONTACT[i], 10, 30) for i in (1, 3, 5, 7)]
    assert list(deals.created_at) == expected and list(deals.closed_at) == expected


def test_output_passes_the_contract(bank_csv, tmp_path):
    out = bm.to_contract(bank_csv, tmp_path / "adapted")
    cache = prepare_inputs(out, cache_root=tmp_path / "cache")
    import json
    manifest = json.loads((cache / "manifest.json").read_text())
    assert {n: i["rows"] for n, i in manifest["inputs"].items()} == {"leads": 8, "activities": 19, "deals": 4}
    assert manifest["inputs"]["activities"]["columns"] == ["activity_id", "lead_id", "occurred_at", "type",
                                                           "outcome", "duration_s"]
    deals = pd.read_parquet(out / "deals.parquet")
    assert deals.amount.tolist() == [bm.DEFAULT_DEAL_VALUE] * 4


def test_same_input_same_bytes(bank_csv, tmp_path):
    a = bm.to_contract(bank_csv, tmp_path / "a", validate=False)
    b = bm.to_contract(bank_csv, tmp_path / "b", validate=False)
    for n in ("leads", "activities", "deals"):
        assert (a / f"{n}.parquet").read_bytes() == (b / f"{n}.parquet").read_bytes()


def test_spacing_is_a_parameter(bank_csv, tmp_path):
    out = bm.to_contract(bank_csv, tmp_path / "adapted", attempt_spacing_days=3)
    acts = pd.read_parquet(out / "activities.parquet")
    b8 = acts[acts.lead_id == "B000008"].occurred_at.tolist()
    assert b8 == [_at(date(2010, 1, 10), 10) - pd.Timedelta(days=3 * (5 - k)) for k in range(1, 6)]


def test_profiles_from_csv_exact(bank_csv):
    p = bm.profiles_from_csv(bank_csv, deal_value=500.0)
    assert list(p.columns) == ["attempts", "converted", "revenue", "censored", "weight"]
    got = {(r.attempts, r.converted): (r.weight, r.revenue) for r in p.itertuples()}
    assert got == {(1, False): (2, 0.0), (1, True): (1, 500.0), (2, False): (1, 0.0), (2, True): (1, 500.0),
                   (3, True): (1, 500.0), (4, False): (1, 0.0), (5, True): (1, 500.0)}
    assert not p.censored.any()


def test_profiles_with_covariates(bank_csv):
    p = bm.profiles_from_csv(bank_csv, covariates=["contact", "poutcome"])
    assert list(p.columns[-2:]) == ["contact", "poutcome"] and p.weight.sum() == 8
    row = p[(p.attempts == 5)].iloc[0]
    assert (row.contact, row.poutcome, bool(row.converted)) == ("unknown", "failure", True)
    with pytest.raises(AdapterError, match="'nope'"):
        bm.profiles_from_csv(bank_csv, covariates=["nope"])


def test_profiles_by_inferred_year(bank_csv):
    p = bm.profiles_from_csv(bank_csv, covariates=["year"])
    assert p.groupby("year").weight.sum().to_dict() == {2008: 4, 2009: 3, 2010: 1}
    assert p[p.year == 2010].attempts.tolist() == [5]


def _profiles_from_tables(out: Path, deal_value: float) -> pd.DataFrame:
    """Lead profiles rebuilt from the adapted tables: attempts = calls per lead, converted = has a
    won deal (whose creation follows the last call)."""
    acts = pd.read_parquet(out / "activities.parquet")
    deals = pd.read_parquet(out / "deals.parquet")
    leads = pd.read_parquet(out / "leads.parquet")[["lead_id"]]
    leads["attempts"] = leads.lead_id.map(acts.groupby("lead_id").size()).fillna(0).astype("int64")
    leads["converted"] = leads.lead_id.isin(deals.lead_id[deals.stage == "won"])
    g = leads.groupby(["attempts", "converted"]).size().rename("weight").reset_index()
    g["revenue"] = g.converted * float(deal_value)
    return g.sort_values(["attempts", "converted"]).reset_index(drop=True)


def test_profiles_from_csv_match_the_adapted_tables(bank_csv, tmp_path):
    out = bm.to_contract(bank_csv, tmp_path / "adapted", deal_value=900.0, validate=False)
    expected = _profiles_from_tables(out, 900.0)
    got = bm.profiles_from_csv(bank_csv, 900.0)
    pd.testing.assert_frame_equal(got[["attempts", "converted", "weight", "revenue"]],
                                  expected[["attempts", "converted", "weight", "revenue"]], check_dtype=False)


def test_hazard_from_csv_matches_person_period(bank_csv):
    pp = plateau.person_period(bm.profiles_from_csv(bank_csv))
    hz = bm.hazard_from_csv(bank_csv)
    assert hz.attempt.tolist() == pp.attempt.tolist() == [1, 2, 3, 4, 5]
    assert hz.at_risk.tolist() == pp.at_risk.tolist() == [8, 5, 3, 2, 1]
    assert hz.events.tolist() == pp.events.tolist() == [1, 1, 1, 0, 1]


# --------------------------------------------------------------------------------------------
# Refusals
# --------------------------------------------------------------------------------------------

def _row(day=5, month="may", duration=100, campaign=1, y="no"):
    return (day, month, duration, campaign, y, "cellular", "admin.", "unknown")


@pytest.mark.parametrize("row, column", [
    (_row(month="mai"), "month"),
    (_row(day=0), "day"),
    (_row(day=30, month="feb"), "day"),
    (_row(campaign=0), "campaign"),
    (_row(campaign="1.5"), "campaign"),
    (_row(duration=-1), "duration"),
    (_row(y="maybe"), "y"),
])
def test_bad_values_name_file_column_and_row(tmp_path, row, column):
    path = write_bank_csv(tmp_path / "bank.csv", [_row(), row])
    with pytest.raises(AdapterError) as err:
        bm.to_contract(path, tmp_path / "out")
    assert err.value.column == column and err.value.file == str(path)
    assert "row 2" in str(err.value) and "\n" not in str(err.value)
    assert not (tmp_path / "out").exists()


def test_missing_file_and_missing_column(tmp_path):
    with pytest.raises(AdapterError, match="file not found"):
        bm.to_contract(tmp_path / "nope.csv", tmp_path / "out")
    path = write_bank_csv(tmp_path / "bank.csv", header=[h for h in HEADER if h != "campaign"])
    with pytest.raises(AdapterError) as err:
        bm.to_contract(path, tmp_path / "out")
    assert err.value.column == "campaign" and "required column is missing" in str(err.value)


def test_refuses_a_folder_with_other_tables(bank_csv, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "leads.csv").write_text("lead_id\n")
    with pytest.raises(AdapterError, match="leads.csv"):
        bm.to_contract(bank_csv, out)


def test_refuses_a_negative_deal_value(bank_csv, tmp_path):
    with pytest.raises(ValueError, match="deal_value"):
        bm.to_contract(bank_csv, tmp_path / "out", deal_value=-1)


# --------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------

def test_cli_adapt(bank_csv, tmp_path, capsys):
    out = tmp_path / "adapted"
    assert main(["adapt", "bank-marketing", "--source", str(bank_csv), "--out", str(out), "--deal-value", "250"]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    assert pd.read_parquet(out / "deals.parquet").amount.tolist() == [250.0] * 4


def test_cli_adapt_errors_exit_2_with_one_line(tmp_path, capsys):
    missing = tmp_path / "nope.csv"
    assert main(["adapt", "bank-marketing", "--source", str(missing), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"error: {missing}: file not found"
    bad = write_bank_csv(tmp_path / "bank.csv", header=[h for h in HEADER if h != "y"])
    assert main(["adapt", "bank-marketing", "--source", str(bad), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(bad) in err and "column 'y'" in err


# --------------------------------------------------------------------------------------------
# The real file
# --------------------------------------------------------------------------------------------

MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


@pytest.fixture(scope="module")
def real_rows() -> list[dict]:
    with open(REAL_CSV, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh, delimiter=";"))


@pytest.fixture(scope="module")
def real_adapted(tmp_path_factory) -> dict[str, pd.DataFrame]:
    out = bm.to_contract(REAL_CSV, tmp_path_factory.mktemp("bank") / "adapted")  # validates too
    return {n: pd.read_parquet(out / f"{n}.parquet") for n in ("leads", "activities", "deals")}


def _python_dates(rows: list[dict]) -> list[date]:
    """Year inference done independently in Python: roll over when the month number falls."""
    year, prev, out = 2008, None, []
    for r in rows:
        m = MONTHS.index(r["month"]) + 1
        if prev is not None and m < prev:
            year += 1
        prev = m
        out.append(date(year, m, int(r["day"])))
    return out


@real_file
def test_real_counts(real_rows, real_adapted):
    assert len(real_rows) == 45_211 == len(real_adapted["leads"])
    assert len(real_adapted["activities"]) == sum(int(r["campaign"]) for r in real_rows) == 124_956
    conversions = sum(r["y"] == "yes" for r in real_rows)
    assert conversions == 5_289 == len(real_adapted["deals"])


@real_file
def test_real_rows_in_file_order(real_rows, real_adapted):
    """Row i of the file is lead B{i}: contact, job, attempts, outcome and date all match."""
    leads = real_adapted["leads"]
    acts = real_adapted["activities"]
    assert list(leads.lead_id) == [f"B{i:06d}" for i in range(1, len(real_rows) + 1)]
    assert list(leads.source) == [r["contact"] for r in real_rows]
    assert list(leads.segment) == [r["job"] for r in real_rows]
    per_lead = acts.groupby("lead_id").agg(n=("activity_id", "size"), last=("occurred_at", "max"),
                                           duration=("duration_s", "max"))
    assert per_lead.n.tolist() == [int(r["campaign"]) for r in real_rows]
    assert per_lead.duration.tolist() == [float(r["duration"]) for r in real_rows]
    assert per_lead["last"].dt.date.tolist() == _python_dates(real_rows)
    won = set(real_adapted["deals"].lead_id)
    assert [f"B{i:06d}" in won for i in range(1, len(real_rows) + 1)] == [r["y"] == "yes" for r in real_rows]


@real_file
def test_real_dates_within_the_campaigns(real_adapted):
    last = real_adapted["activities"].groupby("lead_id").occurred_at.max()
    assert last.min() == pd.Timestamp("2008-05-05 10:00") and last.max() == pd.Timestamp("2010-11-17 10:00")
    assert Counter(last.dt.year) == {2008: 27_729, 2009: 14_862, 2010: 2_620}
    deals = real_adapted["deals"]
    assert deals.created_at.min() >= pd.Timestamp("2008-05-01") and deals.created_at.max() < pd.Timestamp("2010-12-01")
    created = real_adapted["leads"].created_at
    assert created.min() >= pd.Timestamp("2008-03-01") and created.max() < pd.Timestamp("2010-12-01")


@real_file
def test_real_hazard_falls_from_the_first_attempt(real_rows):
    profiles = bm.profiles_from_csv(REAL_CSV, deal_value=1000.0)
    assert profiles.weight.sum() == 45_211 and (profiles.revenue[profiles.converted] == 1000.0).all()
    pp = plateau.person_period(profiles).set_index("attempt")
    h = pp.events / pp.at_risk
    assert h[1] > h[2] and h[1] > h[3] and h[1] > h[5]
    # the same table computed three ways: plateau.person_period, DuckDB expansion, the csv module
    hz = bm.hazard_from_csv(REAL_CSV, max_attempt=10).set_index("attempt")
    n = Counter(int(r["campaign"]) for r in real_rows)
    e = Counter(int(r["campaign"]) for r in real_rows if r["y"] == "yes")
    for k in range(1, 11):
        at_risk = sum(v for c, v in n.items() if c >= k)
        assert pp.at_risk[k] == hz.at_risk[k] == at_risk
        assert pp.events[k] == hz.events[k] == e[k]
    assert (pp.at_risk[1], pp.events[1]) == (45_211, 2_561)


# bank-additional-full.csv: day_of_week (mon..fri) instead of day; rows chronological.
ADDITIONAL_HEADER = ["age", "job", "marital", "education", "default", "housing", "loan", "contact", "month",
                     "day_of_week", "duration", "campaign", "pdays", "previous", "poutcome", "emp.var.rate", "y"]
# (weekday, month, duration, campaign, y) -> the inferred date (May 2008 starts on a Thursday)
ADDITIONAL_ROWS = [
    ("thu", "may", 100, 1, "no", date(2008, 5, 1)),    # first week: Thursday 1 May
    ("fri", "may", 100, 2, "yes", date(2008, 5, 2)),
    ("mon", "may", 100, 1, "no", date(2008, 5, 5)),    # weekday fell: next week, Monday 5 May
    ("wed", "may", 100, 1, "no", date(2008, 5, 7)),
    ("tue", "may", 100, 1, "no", date(2008, 5, 13)),   # fell again: third week
    ("mon", "jun", 100, 1, "yes", date(2008, 6, 2)),   # new month: its first Monday
    ("fri", "mar", 100, 3, "no", date(2009, 3, 6)),    # month fell: 2009, first Friday of March
]


def test_bank_additional_variant_with_weekdays(tmp_path):
    lines = [";".join(f'"{h}"' for h in ADDITIONAL_HEADER)]
    for wd, month, duration, campaign, y, _ in ADDITIONAL_ROWS:
        rec = {h: '"x"' for h in ADDITIONAL_HEADER}
        rec.update({"age": "40", "job": '"admin."', "contact": '"cellular"', "month": f'"{month}"',
                    "day_of_week": f'"{wd}"', "duration": str(duration), "campaign": str(campaign),
                    "pdays": "999", "previous": "0", "emp.var.rate": "1.1", "y": f'"{y}"'})
        lines.append(";".join(rec[h] for h in ADDITIONAL_HEADER))
    path = tmp_path / "bank-additional-full.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = bm.to_contract(path, tmp_path / "adapted")
    acts = pd.read_parquet(out / "activities.parquet")
    last = acts.groupby("lead_id").occurred_at.max()
    assert list(last) == [_at(r[5], 10) for r in ADDITIONAL_ROWS]
    deals = pd.read_parquet(out / "deals.parquet")
    assert list(deals.lead_id) == ["B000002", "B000006"]
    # a weekday that is not one is refused, naming the column
    path.write_text(path.read_text().replace('"thu"', '"thursday"', 1), encoding="utf-8")
    with pytest.raises(AdapterError, match="day_of_week"):
        bm.to_contract(path, tmp_path / "again")


# --------------------------------------------------------------------------------------------
# What the call history does not record is said, not judged (issue #15, item 6)
# --------------------------------------------------------------------------------------------

def test_invented_first_touches_and_outcomes_are_not_judged(bank_csv, tmp_path):
    """The adapter places every first call at 10:00 and knows only the last call's outcome: its
    ``unavailable.yml`` says so, and speed to lead and contact rates are "not available" with the
    reason, never "100% within 24 h" or "reached a person 100% of the time"."""
    out = bm.to_contract(bank_csv, tmp_path / "adapted")
    crm = open_crm(prepare_inputs(out, cache_root=tmp_path / "cache"))
    limits = crm.limits()
    assert limits["first_touch"] == bm.NOT_RECORDED["first_touch_times"]
    assert limits["outcomes"] == bm.NOT_RECORDED["call_outcomes"]
    assert limits["mql_time"] == bm.NOT_RECORDED["mql_times"]
    assert limits["attempt_time"] == bm.NOT_RECORDED["attempt_times"]
    grid = cp.attempts_by_hour_weekday(crm, datetime(2008, 1, 1), datetime(2011, 1, 1))
    assert cp.best_hour_sentence(grid, 1, limits) == (f"How often calls reached a person is not available: "
                                                       f"{limits['outcomes']}.")
    assert cp.best_hour_sentence(grid, 1).startswith("Of the calls among these attempts")  # what it said before
    tiers = {"moderate": {"response_hours": 24, "touches": 8, "timeframe_days": 60}}
    start, stop, as_of = datetime(2008, 1, 1), datetime(2011, 1, 1), datetime(2011, 1, 1)
    stl = cp.speed_to_lead(crm, tiers, start, stop, as_of, by="tier", total=True)
    assert stl.attrs["unavailable"] == limits["first_touch"]
    assert stl.share_within.isna().all() and stl.median_hours.isna().all()
    assert int(stl.loc[stl.tier == "all", "mqls"].iloc[0]) == len(ROWS)  # the MQLs are still counted
    promises = sc.sales_promises(stl, pd.DataFrame(columns=["tier", "leads"]), 0.9, 0.8, 30, limits)
    assert [(p["promise"], p["status"]) for p in promises] == [("speed to lead", "not available")]
    rates = kp.contact_rates(crm, start, stop)
    assert rates.rate.isna().all() and rates.note.str.contains("last call only").all()
    assert int(rates.calls.iloc[0]) == sum(r[3] for r in ROWS)  # the calls themselves are known
    days = kp.mql_to_sql_time(crm, start, stop, as_of)
    assert np.isnan(days["km_median_days"]) and days["note"] == f"not available: {limits['mql_time']}"
    assert days["n"] == sum(r[4] == "yes" for r in ROWS)  # the SQLs are still counted


def test_unavailable_notes_are_checked(tmp_path, bank_csv):
    out = bm.to_contract(bank_csv, tmp_path / "adapted")
    (out / "unavailable.yml").write_text("first_touch_time: typo\ncall_outcomes: ''\n")
    with pytest.raises(ContractError) as err:
        prepare_inputs(out, cache_root=tmp_path / "cache")
    assert [v.column for v in err.value.violations] == ["first_touch_time", "call_outcomes"]
