"""The data contract: each rule is broken once and must be reported with file, column, rule and rows."""
from datetime import datetime

import pytest

from sla_analysis.errors import ContractError
from sla_analysis.io.engine import open_crm
from sla_analysis.io.ingest import prepare_inputs
from tests.helpers import ACTIVITIES, DEALS, LEADS

AS_OF = datetime(2025, 1, 1)


def _violations(data_dir, tmp_path):
    with pytest.raises(ContractError) as err:
        prepare_inputs(data_dir, as_of=AS_OF, cache_root=tmp_path / "cache")
    assert not list((tmp_path / "cache").glob("crm-*")), "nothing may be cached for a bad export"
    return err.value


def _one(err, file, column, rule_part):
    found = [v for v in err.violations if v.file.endswith(file) and v.column == column and rule_part in v.rule]
    assert found, f"no violation {file}/{column}/{rule_part} in:\n{err}"
    return found[0]


def test_valid_export_is_cached_with_canonical_columns(crm_dir, tmp_path):
    cache = prepare_inputs(crm_dir(), as_of=AS_OF, cache_root=tmp_path / "cache")
    crm = open_crm(cache)
    assert crm.row_counts == {"leads": 3, "activities": 3, "deals": 1}
    assert "mql_at" in crm.leads.columns and not crm.has("leads", "mql_at")  # absent optional -> NULL
    assert crm.has("leads", "tier")
    assert crm.leads.mql_at.isnull().all().execute()
    # same inputs -> same cache folder, reused
    assert prepare_inputs(crm_dir(), as_of=AS_OF, cache_root=tmp_path / "cache") == cache


def test_cache_written_under_other_rules_is_not_reused(crm_dir, tmp_path, monkeypatch):
    """A cache is keyed by the inputs and by the validating code: new rules re-validate old inputs."""
    from sla_analysis.io import ingest

    cache = prepare_inputs(crm_dir(), as_of=AS_OF, cache_root=tmp_path / "cache")
    monkeypatch.setattr(ingest, "validator_fingerprint", lambda: "rules-of-another-version")
    again = prepare_inputs(crm_dir(), as_of=AS_OF, cache_root=tmp_path / "cache")
    assert again != cache and (again / "manifest.json").is_file()


def test_unknown_lead_ids_in_activities_and_deals(crm_dir, tmp_path):
    acts = ACTIVITIES + [{"activity_id": "A9", "lead_id": "GHOST", "occurred_at": "2024-02-01", "type": "call"}]
    deals = DEALS + [{"deal_id": "D9", "lead_id": "NOBODY", "created_at": "2024-02-01", "stage": "open", "amount": ""}]
    err = _violations(crm_dir(activities=acts, deals=deals), tmp_path)
    v = _one(err, "activities.csv", "lead_id", "not in leads")
    assert v.n_rows == 1 and v.examples[0]["row"] == 4 and v.examples[0]["lead_id"] == "GHOST"
    _one(err, "deals.csv", "lead_id", "not in leads")


def test_duplicate_ids(crm_dir, tmp_path):
    err = _violations(crm_dir(leads=LEADS + [dict(LEADS[0])]), tmp_path)
    v = _one(err, "leads.csv", "lead_id", "unique")
    assert v.n_rows == 2 and [e["row"] for e in v.examples] == [1, 4]


def test_unparseable_and_future_timestamps(crm_dir, tmp_path):
    leads = [dict(LEADS[0], created_at="last tuesday"), LEADS[1], dict(LEADS[2], created_at="2031-05-01 00:00:00")]
    err = _violations(crm_dir(leads=leads, activities=ACTIVITIES[2:], deals=[]), tmp_path)
    v = _one(err, "leads.csv", "created_at", "valid timestamp")
    assert v.examples[0]["created_at"] == "last tuesday"
    _one(err, "leads.csv", "created_at", "in the future")


def test_negative_amounts(crm_dir, tmp_path):
    err = _violations(crm_dir(deals=[dict(DEALS[0], amount="-250")]), tmp_path)
    v = _one(err, "deals.csv", "amount", "negative")
    assert v.examples[0]["amount"] == -250


def test_missing_required_column_names_it(crm_dir, tmp_path):
    leads = [{k: v for k, v in r.items() if k != "lead_id"} for r in LEADS]
    err = _violations(crm_dir(leads=leads), tmp_path)
    v = _one(err, "leads.csv", "lead_id", "required column is missing")
    assert "created_at" in v.rule  # lists the columns it found


def test_missing_table(crm_dir, tmp_path):
    d = crm_dir()
    (d / "deals.csv").unlink()
    err = _violations(d, tmp_path)
    _one(err, "deals.csv", "-", "required table is missing")


def test_bad_enum_and_deal_before_lead(crm_dir, tmp_path):
    deals = [dict(DEALS[0], stage="maybe"), {"deal_id": "D2", "lead_id": "L2", "created_at": "2023-06-01",
                                             "stage": "won", "amount": "5"}]
    err = _violations(crm_dir(deals=deals), tmp_path)
    _one(err, "deals.csv", "stage", "one of open, won, lost")
    _one(err, "deals.csv", "created_at", "before its lead existed")


def test_error_message_is_one_screen(crm_dir, tmp_path):
    acts = [dict(ACTIVITIES[0], activity_id=f"X{i}", lead_id="GHOST") for i in range(50)]
    err = _violations(crm_dir(activities=acts), tmp_path)
    v = _one(err, "activities.csv", "lead_id", "not in leads")
    assert v.n_rows == 50 and len(v.examples) == 10
    assert len(str(err).splitlines()) < 25


def test_values_are_normalised(crm_dir, tmp_path):
    leads = [dict(LEADS[0], tier=" High "), dict(LEADS[1], created_at="2024-01-03T12:00:00+02:00"), LEADS[2]]
    deals = [dict(DEALS[0], stage="Won")]
    crm = open_crm(prepare_inputs(crm_dir(leads=leads, deals=deals), as_of=AS_OF, cache_root=tmp_path / "c"))
    df = crm.leads.order_by("lead_id").to_pandas()
    assert df.tier[0] == "high"
    assert str(df.created_at[1]) == "2024-01-03 10:00:00"  # offset converted to UTC
    assert crm.deals.stage.execute()[0] == "won"


def test_sample_is_recognised_by_its_data_not_its_route(sample_dir, crm_dir, tmp_path):
    """Whatever folder it is read from, the generated sample is flagged as sample data; an export is not."""
    assert open_crm(prepare_inputs(sample_dir, cache_root=tmp_path / "c")).is_sample
    assert not open_crm(prepare_inputs(crm_dir(), as_of=AS_OF, cache_root=tmp_path / "c")).is_sample


def test_second_run_on_the_same_export_does_not_reread_it(crm_dir, tmp_path, monkeypatch):
    """Another period on the same export: the files' hashes come from the memo (same size, time
    and inode), the validated cache is reused; an edited file is hashed and validated afresh."""
    import os

    from sla_analysis.io import ingest

    data = crm_dir()
    first = prepare_inputs(data, as_of=AS_OF, cache_root=tmp_path / "cache")
    read = []
    real = ingest.file_sha256
    monkeypatch.setattr(ingest, "file_sha256", lambda p, *a: read.append(p.name) or real(p, *a))
    assert prepare_inputs(data, as_of=AS_OF, cache_root=tmp_path / "cache") == first and read == []
    deals = data / "deals.csv"
    deals.write_text(deals.read_text().replace("1000", "2000"))
    os.utime(deals, ns=(deals.stat().st_atime_ns, deals.stat().st_mtime_ns + 1_000_000))
    second = prepare_inputs(data, as_of=AS_OF, cache_root=tmp_path / "cache")
    assert read == ["deals.csv"] and second != first
    assert open_crm(second).deals.amount.sum().execute() == 2000


def test_each_connection_spills_to_its_own_folder():
    """DuckDB names its spill files without a process id and empties the folder on close: two
    connections (two kernels, two runs) must never share one."""
    from sla_analysis import paths
    from sla_analysis.io.ingest import connect

    folders = [c.raw_sql("SELECT current_setting('temp_directory')").fetchone()[0] for c in (connect(), connect())]
    assert folders[0] != folders[1]
    assert all(f.startswith(str(paths.PROCESSED_DIR / ".duckdb-spill")) for f in folders)


def test_rule_failures_are_counted_in_one_aggregate(monkeypatch):
    """Every rule's failing rows (NULL flags fail) from one query over the flags table; an empty
    table fails no rule."""
    import ibis
    import pandas as pd

    from sla_analysis.io import validate
    from sla_analysis.io.contract import Rule

    con = ibis.duckdb.connect()
    flags = con.create_table("flags", pd.DataFrame({"_ok_0": [True, False, None, False],
                                                    "_ok_1": [True, True, True, True],
                                                    "_ok_2": [False, False, False, None]}))
    rules = [Rule("c", f"rule {i}", lambda t: t) for i in range(3)]
    queries = []
    real = ibis.expr.types.Table.to_pyarrow
    monkeypatch.setattr(ibis.expr.types.Table, "to_pyarrow",
                        lambda self, *a, **k: queries.append(1) or real(self, *a, **k))
    assert validate.failing_rows(flags, rules) == [3, 0, 4]
    assert len(queries) == 1
    assert validate.failing_rows(flags.limit(0), rules) == [0, 0, 0]
    assert validate.failing_rows(flags, []) == []


def test_given_text_trims_only_where_needed_and_matches_a_full_trim():
    """``given_text`` trims only values with a space-like first or last character; on every kind of
    value it gives what trimming every value gives (NULL for nothing left)."""
    import ibis

    from sla_analysis.io.contract import given_text

    values = ["L1", " L1", "L1 ", "\tL1\n", "\r\nL1\r\n", "\x0bL1\x0c", "L 1", "  ", "\t\n", "", None,
              "é", " é ", "\x01L1", "L1\x01", "a", " a", "日本 ", "x" * 300 + " "]
    t = ibis.memtable({"v": values}, schema={"v": "string"})
    con = ibis.duckdb.connect()
    got = con.execute(t.select(g=given_text(t.v), full=t.v.strip().nullif("")))
    expected = [None if v is None or not v.strip(" \t\n\r\x0b\x0c") else v.strip(" \t\n\r\x0b\x0c") for v in values]
    assert got.g.tolist() == got.full.tolist()
    assert [None if g is None or g != g else g for g in got.g.tolist()] == expected


def test_plain_timestamps_take_the_fast_parse_and_give_what_the_zone_aware_parse_gives():
    """``parse_timestamp`` reads ``YYYY-MM-DD HH:MM:SS`` as a plain timestamp and everything else
    through the time-zone-aware parse; on every kind of value it gives what the zone-aware parse
    alone gives (offsets converted to UTC, NULL for what does not parse)."""
    import ibis
    import ibis.expr.datatypes as dt

    from sla_analysis.io.connection import connect
    from sla_analysis.io.contract import parse_timestamp

    values = ["2024-01-02 10:00:00", "2024-01-02T10:00:00", "2024-01-02 10:00:00Z", "2024-01-02T10:00:00+02:00",
              "2024-01-02 10:00:00-0500", "2024-01-02 10:00+02", "2024-01-02 1:00:00Z", "2024-01-02", "2024-1-2 3:04:05",
              "2024-01-02 10:00:00.250", "2024-01-02 25:00:00", "2024-02-30 10:00:00", "2024-01-02_10:00:00",
              "2024/01/02 10:00:00", "0024-01-02 10:00:00", "hello", "2024-01-02 10:00:00 UTC", None]
    t = ibis.memtable({"v": values}, schema={"v": "string"})
    got = connect().execute(t.select(fast=parse_timestamp(t.v),
                                     zone=t.v.try_cast(dt.Timestamp(timezone="UTC")).cast(dt.Timestamp())))
    same = [(a == b) or (a != a and b != b) or (a is None and b is None) for a, b in zip(got.fast, got.zone)]
    assert all(same), [(v, a, b) for v, a, b, s in zip(values, got.fast, got.zone, same) if not s]
    assert str(got.fast[3]) == "2024-01-02 08:00:00" and str(got.fast[0]) == "2024-01-02 10:00:00"
    # an hour 25, 30 February, an underscore and "hello" do not parse; slashes and year 0024 do (the
    # latter is then refused by its own rule)
    assert got.fast.isna().tolist()[10:16] == [True, True, True, False, False, True]
