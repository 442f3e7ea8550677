"""PostgreSQL as a target and a source (``make test-postgres``, after ``make install-postgres``):
a throwaway server (tests/postgres_server.py) is started on loopback for this module and stopped
after it. Checked: the loaded tables equal the validated ones; the whole report run in the
database gives the same summary.json as DuckDB (every figure); a CRM read from a schema is
validated (a broken one is refused with the rule) and reported; the password appears in no page,
log, error message or provenance.json."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from sla_analysis.errors import EngineError
from sla_analysis.io import warehouse
from sla_analysis.io.engine import open_crm, redact_url
from sla_analysis.io.ingest import prepare_inputs
from sla_analysis.io.sample import SampleParams, write_sample

sys.path.insert(0, str(Path(__file__).parent))
from postgres_server import running_postgres  # noqa: E402
from test_spark import _differences  # noqa: E402

pytestmark = pytest.mark.postgres

PROJECT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def server():
    with running_postgres() as (url, password):
        yield url, password


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    root = tmp_path_factory.mktemp("pg")
    data = write_sample(root / "crm", replace(SampleParams(), n_leads=3000))
    return root, data


def _schema_url(url: str, schema: str) -> str:
    return f"{url}/{schema}"


def _create_schema(url: str, schema: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as con:
        con.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        con.execute(f'CREATE SCHEMA "{schema}"')


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sla_analysis", "--project", str(PROJECT), *args],
                          capture_output=True, text=True, cwd=cwd)


def test_redact_url_drops_user_and_password():
    assert redact_url("postgresql://ann:s3cr%40t@db.example:5432/crm/sales?sslmode=require") == \
        "postgresql://db.example:5432/crm/sales"
    assert redact_url("postgres://db/crm") == "postgres://db/crm"


def test_loaded_tables_equal_the_validated_ones_with_indexes(server, sample):
    url, _ = server
    root, data = sample
    cache = prepare_inputs(data, cache_root=root / "cache")
    _create_schema(url, "loaded")
    target = _schema_url(url, "loaded")
    rows = warehouse.load_tables(cache, target)
    manifest = json.loads((cache / "manifest.json").read_text())
    assert rows == {n: i["rows"] for n, i in manifest["inputs"].items()}
    pg, duck = open_crm(cache, engine=target), open_crm(cache, engine="duckdb")
    assert set(pg.tables) == set(rows)  # the contract's tables (the cached facts are not loaded)
    for name in rows:
        table = duck.tables[name]
        cols = list(table.columns)
        a = pg.tables[name].to_pandas().sort_values(cols).reset_index(drop=True)
        b = table.to_pandas().sort_values(cols).reset_index(drop=True)
        pd.testing.assert_frame_equal(a, b, check_dtype=False)
    import psycopg

    with psycopg.connect(url) as con:
        indexed = {r[0] for r in con.execute(
            "SELECT indexname FROM pg_indexes WHERE schemaname = 'loaded'").fetchall()}
    assert {"leads_lead_id_idx", "leads_created_at_idx", "activities_lead_id_idx",
            "activities_occurred_at_idx", "activities_activity_id_idx", "deals_lead_id_idx",
            "deals_created_at_idx", "reps_rep_id_idx"} <= indexed


def test_a_warehouse_holding_another_export_is_refused(server, sample):
    url, password = server
    root, data = sample
    other = write_sample(root / "other", replace(SampleParams(), n_leads=500))
    cache = prepare_inputs(data, cache_root=root / "cache")
    other_cache = prepare_inputs(other, cache_root=root / "cache")
    _create_schema(url, "other")
    warehouse.load_tables(other_cache, _schema_url(url, "other"))
    with pytest.raises(EngineError, match="tables of another export") as err:
        open_crm(cache, engine=_schema_url(url, "other"))
    assert password not in str(err.value) and "sla_test" not in str(err.value)
    _create_schema(url, "empty")
    with pytest.raises(EngineError, match="holds no validated tables"):
        open_crm(cache, engine=_schema_url(url, "empty"))


def test_a_bad_password_is_reported_without_credentials(server):
    url, password = server
    wrong = url.replace(password, "not-the-password-xyz")
    with pytest.raises(EngineError) as err:
        warehouse.export_tables(wrong)
    assert "not-the-password-xyz" not in str(err.value) and "sla_test" not in str(err.value)


@pytest.mark.slow
def test_report_in_postgres_equals_duckdb_and_keeps_credentials_out(server, sample, tmp_path):
    url, password = server
    root, data = sample
    _create_schema(url, "report")
    engine = _schema_url(url, "report")
    loaded = _cli("load-warehouse", "--engine", engine, "--data", str(data), cwd=tmp_path)
    assert loaded.returncode == 0, loaded.stderr
    assert "loaded into postgresql://127.0.0.1:" in loaded.stdout
    runs = {}
    for name, eng in (("duckdb", "duckdb"), ("postgres", engine)):
        done = _cli("report", "--period", "2024Q1", "--data", str(data), "--engine", eng,
                    "--out", str(tmp_path / name), cwd=tmp_path)
        assert done.returncode == 0, done.stderr[-3000:]
        runs[name] = json.loads((tmp_path / name / "2024Q1" / "summary.json").read_text())
        for out in (loaded, done):
            assert password not in out.stdout + out.stderr and "sla_test" not in out.stdout + out.stderr
    provenance = json.loads((tmp_path / "postgres" / "2024Q1" / "provenance.json").read_text())
    assert provenance["engine"] == "postgresql"
    for page in (tmp_path / "postgres" / "2024Q1").rglob("*"):
        if page.is_file() and page.suffix in (".html", ".json", ".xlsx"):
            text = page.read_bytes()
            assert password.encode() not in text and b"sla_test" not in text, page.name
    diffs = _differences(runs["duckdb"], runs["postgres"])
    assert not diffs, "\n".join(diffs[:40])
    assert runs["postgres"]["plateau"]["recommended_attempts"] is not None
    assert runs["postgres"]["compliance"]["mqls"] > 0


@pytest.mark.slow
def test_report_from_a_crm_in_a_schema_equals_the_files(server, sample, tmp_path):
    """--data postgres://…/schema: the CRM's tables written by another tool, read, validated and
    reported; the same figures as from the files."""
    url, password = server
    root, data = sample
    cache = prepare_inputs(data, cache_root=root / "cache")
    _create_schema(url, "crm_sync")
    warehouse.load_tables(cache, _schema_url(url, "crm_sync"))  # stands in for the CRM's sync job
    plain = tmp_path / "export"  # the same tables without the sample's truth.json: not flagged as sample
    shutil.copytree(data, plain, ignore=shutil.ignore_patterns("truth.json"))
    runs = {}
    for name, source in (("files", str(plain)), ("schema", _schema_url(url, "crm_sync"))):
        done = _cli("report", "--period", "2024Q1", "--data", source, "--out", str(tmp_path / name),
                    "--jobs", "2", cwd=tmp_path)
        assert done.returncode == 0, done.stderr[-3000:]
        assert password not in done.stdout + done.stderr
        runs[name] = json.loads((tmp_path / name / "2024Q1" / "summary.json").read_text())
    provenance = (tmp_path / "schema" / "2024Q1" / "provenance.json").read_text()
    assert password not in provenance and "sla_test" not in provenance
    # the inputs' file hashes describe the files read (CSV here, Parquet read from the database)
    diffs = [d for d in _differences(runs["files"], runs["schema"])
             if not (d.startswith("/inputs/") and d.split(":")[0].endswith("/sha256"))]
    assert set(runs["files"]["inputs"]) == set(runs["schema"]["inputs"])
    assert not diffs, "\n".join(diffs[:40])


def test_a_broken_crm_in_a_schema_is_refused_with_the_rule(server, tmp_path):
    import psycopg

    url, password = server
    _create_schema(url, "broken")
    with psycopg.connect(_schema_url(url, "x").rsplit("/", 1)[0], autocommit=True) as con:
        con.execute("SET search_path = broken")
        con.execute("CREATE TABLE leads (lead_id text, created_at timestamptz, source text)")
        con.execute("INSERT INTO leads VALUES ('L1', '2024-01-02 10:00+00', 'web'), ('L1', '2024-01-03 10:00+00', 'web'),"
                    " ('L2', NULL, 'web')")
        con.execute("CREATE TABLE activities (activity_id text, lead_id text, occurred_at timestamp, type text)")
        con.execute("INSERT INTO activities VALUES ('A1', 'L9', '2024-01-02 11:00', 'call')")
        con.execute("CREATE TABLE deals (deal_id text, lead_id text, created_at timestamp, stage text)")
    done = _cli("validate", "--data", _schema_url(url, "broken"), cwd=tmp_path)
    assert done.returncode == 2
    assert "column 'lead_id': must be unique (duplicate id) (2 rows)" in done.stderr
    assert "column 'created_at': required value is missing (1 row)" in done.stderr
    assert "refers to a lead_id that is not in leads" in done.stderr
    assert password not in done.stderr and "sla_test" not in done.stderr
    _create_schema(url, "nothing")
    done = _cli("validate", "--data", _schema_url(url, "nothing"), cwd=tmp_path)
    assert done.returncode == 2 and "required table is missing" in done.stderr
    assert password not in done.stderr and "sla_test" not in done.stderr


def test_engine_built_ins_agree_with_duckdb_to_the_microsecond(server, tmp_path):
    """Epoch microseconds, back to a timestamp, and wall-clock time in a zone (across a DST change),
    on PostgreSQL and on DuckDB."""
    import ibis

    from sla_analysis.analyses.compliance import _epoch_us, _make_timestamp, local_time
    from sla_analysis.io.connection import connect

    url, _ = server
    times = pd.DataFrame({"ts": pd.to_datetime(["1990-01-01 00:00:00", "2024-03-10 06:59:59.999999",
                                                "2024-03-10 07:00:00.000001", "2024-11-03 05:30:00.123456",
                                                "2029-12-31 23:59:59.999999", "2024-02-29 12:00:00.5"], format="ISO8601")})
    out = {}
    for name, con in (("duckdb", connect()), ("postgres", ibis.connect(url))):
        t = con.create_table("times_check", times, temp=True, overwrite=True)
        us = _epoch_us(t.ts)
        out[name] = t.select(us=us, back=_make_timestamp(us), wall=local_time(t.ts, "America/New_York"),
                             berlin=local_time(t.ts, "Europe/Berlin")).order_by("us").to_pandas()
    pd.testing.assert_frame_equal(out["postgres"], out["duckdb"], check_dtype=False)
    assert out["postgres"]["us"].iloc[0] == 631_152_000_000_000
    assert (out["postgres"]["back"].values == times.ts.sort_values().values).all()
